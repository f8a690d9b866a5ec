//! [`XfrmKernel`]: PF_KEY requests answered through NETLINK_XFRM, the way
//! `af_key` answers them (see the module documentation of [`super`] for the
//! rules).

use std::collections::{HashMap, VecDeque};

use nix::errno::Errno;

use super::algorithms::{self, Algorithm};
use super::netlink::{Attr, NLM_F_ACK, NLM_F_DUMP, NlMessage, find};
use super::socket::{Answer, NetlinkSocket};
use super::translate::{
    self, IPPROTO_AH, IPPROTO_COMP, IPPROTO_ESP, PolicyKey, proto_matches, proto_to_satype,
    satype_to_proto,
};
use super::wire::{
    AF_INET, AF_INET6, Algo, POLICY_TYPE_MAIN, Selector, UserpolicyId, UserpolicyInfo, UsersaFlush,
    UsersaId, UsersaInfo, UserspiInfo, XfrmAddress, XfrmId, attr, mode, msg, policy_type,
};
use crate::pfkey::SocketError;
use crate::pfkey::wire::{
    AlgorithmDesc, Extension, Header, Message, MessageType, SupportedKind, ipsec, sa_state,
};
use crate::pfkey::{BatchOutcome, BatchReply, Kernel, ReplyNeed, request_each};

/// Why a request got no PF_KEY answer of its own: an errno for an error
/// reply, or a transport failure.
enum Fail {
    Errno(i32),
    Socket(SocketError),
}

impl From<SocketError> for Fail {
    fn from(e: SocketError) -> Fail {
        Fail::Socket(e)
    }
}

impl From<i32> for Fail {
    fn from(e: i32) -> Fail {
        Fail::Errno(e)
    }
}

type Res<T> = Result<T, Fail>;

/// `sadb_msg_reserved` of SPDADD / SPDUPDATE notifications: list, timer and
/// the request's own reference.
pub(crate) const REFCNT_ADDED: u16 = 3;
/// `sadb_msg_reserved` of SPDDELETE notifications (only the request's
/// reference is left).
pub(crate) const REFCNT_DELETED: u16 = 1;

/// The SPI and addresses used to probe algorithms (see [`XfrmKernel`]):
/// never installed, since the probe SA is refused before insertion.
const PROBE_SPI: u32 = 0xffff_fffe;
/// 127.0.0.1, both ends of the probe SA.
const PROBE_ADDRESS: XfrmAddress = XfrmAddress([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/// PF_KEY over XFRM: implements [`Kernel`] with af_key's answers.
pub struct XfrmKernel {
    socket: NetlinkSocket,
    pid: u32,
    /// The dump being read, if any.
    dump: Option<DumpStream>,
    registered: u16,
    reqid_counter: u32,
    detail: Option<String>,
    /// Answers of `probe_sa`, by transform, family and algorithm names.
    probed: HashMap<(u8, u16, Vec<String>), Option<String>>,
}

impl XfrmKernel {
    /// Opens a NETLINK_XFRM socket. Fails with `SocketError::Open` when the
    /// kernel has no XFRM netlink interface (module `xfrm_user`), like
    /// `PfKeySocket::open` without PF_KEY.
    pub fn open() -> Result<XfrmKernel, SocketError> {
        Ok(XfrmKernel {
            socket: NetlinkSocket::open()?,
            pid: std::process::id(),
            dump: None,
            registered: 0,
            reqid_counter: ipsec::MANUAL_REQID_MAX,
            detail: None,
            probed: HashMap::new(),
        })
    }

    /// One XFRM request; a refusal becomes `Fail::Errno` (and `detail`).
    fn call(&mut self, msg_type: u16, flags: u16, payload: Vec<u8>) -> Res<Vec<NlMessage>> {
        match self.socket.transact(msg_type, flags, payload)? {
            Answer::Done(data) => Ok(data),
            Answer::Refused { errno, message } => {
                self.detail = hint(msg_type, errno, message);
                Err(Fail::Errno(errno))
            }
        }
    }

    /// The SA with this identity, as XFRM reports it.
    fn get_state(&mut self, id: &UsersaId) -> Res<(UsersaInfo, Vec<Attr>)> {
        let mut p = Vec::new();
        id.emit(&mut p);
        let data = self.call(msg::GETSA, 0, p)?;
        first_state(&data).ok_or(Fail::Errno(libc::ESRCH))
    }

    /// The policy with this identity, as XFRM reports it.
    fn get_policy(&mut self, key: &PolicyKey) -> Res<(UserpolicyInfo, Vec<Attr>)> {
        let data = self.call(msg::GETPOLICY, 0, key.payload())?;
        first_policy(&data).ok_or(Fail::Errno(libc::ENOENT))
    }

    /// Which rows of af_key's algorithm table the kernel's crypto API
    /// offers: authentication and encryption rows, in table order.
    ///
    /// Each row is probed the way xfrm_user looks names up: an SA naming
    /// the algorithm is sent with a selector family that transport mode
    /// cannot accommodate, so the kernel looks the algorithm up (ENOSYS
    /// when it has none) and then refuses the SA before inserting it. The
    /// probes are independent of each other, so they go out as one batch
    /// (one `sendmsg`, then the refusals are read): start-up costs a few
    /// system calls instead of two per row.
    fn probe_algorithms(&mut self) -> Res<(Vec<AlgorithmDesc>, Vec<AlgorithmDesc>)> {
        let rows: Vec<(u8, u16, Algorithm)> = algorithms::auth()
            .map(|a| (IPPROTO_AH, attr::ALG_AUTH, a))
            .chain(algorithms::encrypt().map(|a| (IPPROTO_ESP, attr::ALG_CRYPT, a)))
            .collect();
        let requests: Vec<(u16, Vec<u8>)> = rows
            .iter()
            .map(|(proto, kind, a)| (msg::NEWSA, probe_payload(*proto, *kind, a)))
            .collect();
        let (answers, failure) = self.socket.batch(&requests);
        if let Some(e) = failure {
            return Err(e.into());
        }
        let (mut auth, mut encrypt) = (Vec::new(), Vec::new());
        for (&(proto, _, a), answer) in rows.iter().zip(answers) {
            let offered = match answer {
                Answer::Refused { errno, .. } => errno != libc::ENOSYS,
                Answer::Done(_) => {
                    // A kernel that accepted the probe: take the SA away again.
                    let mut id = Vec::new();
                    UsersaId {
                        daddr: PROBE_ADDRESS,
                        spi: PROBE_SPI,
                        family: AF_INET,
                        proto,
                    }
                    .emit(&mut id);
                    let _ = self.socket.transact(msg::DELSA, NLM_F_ACK, id)?;
                    true
                }
            };
            if offered {
                if proto == IPPROTO_AH {
                    auth.push(desc(&a));
                } else {
                    encrypt.push(desc(&a));
                }
            }
        }
        Ok((auth, encrypt))
    }

    /// What the kernel lacks for an ADD / UPDATE request, if anything.
    ///
    /// The probe is the SA itself with an extended-sequence-number replay
    /// state whose window does not fit its (empty) bitmap: the kernel looks
    /// up the transform (EPROTONOSUPPORT when none is loaded for the
    /// protocol and family) and the algorithms (ENOSYS when its crypto API
    /// has none), initialises the transform, and only then refuses the
    /// replay state (EINVAL) — before the SA is inserted, so nothing
    /// changes. IPComp has no extended sequence numbers, so it is not
    /// probed. Answers are remembered per transform, family and
    /// algorithms.
    fn probe_sa(&mut self, m: &Message) -> Res<Option<String>> {
        if !matches!(
            MessageType::from_u8(m.header.msg_type),
            Some(MessageType::Add | MessageType::Update)
        ) {
            return Ok(None);
        }
        let mut sa = translate::sa_request(m)?;
        let proto = sa.info.id.proto;
        if proto != IPPROTO_ESP && proto != IPPROTO_AH {
            return Ok(None);
        }
        let algorithms: Vec<String> = sa
            .attrs
            .iter()
            .filter_map(|a| match a.kind {
                attr::ALG_AUTH_TRUNC => Algo::parse(&a.value, true).ok(),
                attr::ALG_AUTH | attr::ALG_CRYPT | attr::ALG_COMP => {
                    Algo::parse(&a.value, false).ok()
                }
                _ => None,
            })
            .map(|a| a.name.clone())
            .collect();
        let key = (proto, sa.info.family, algorithms);
        if let Some(known) = self.probed.get(&key) {
            return Ok(known.clone());
        }
        // The replay state is checked only with a zero classic window.
        sa.info.replay_window = 0;
        let mut esn = Vec::with_capacity(24);
        for field in [0u32, 0, 0, 0, 0, 1] {
            // bmp_len 0, oseq, seq, oseq_hi, seq_hi, replay_window 1
            esn.extend_from_slice(&field.to_ne_bytes());
        }
        sa.attrs.push(Attr::new(attr::REPLAY_ESN_VAL, esn));
        let verdict = match self.socket.transact(msg::NEWSA, NLM_F_ACK, sa.payload())? {
            Answer::Refused { errno, .. } => lacking(proto, sa.info.family, errno),
            Answer::Done(_) => {
                // A kernel that accepted the probe: take the SA away again.
                let mut id = Vec::new();
                UsersaId {
                    daddr: sa.info.id.daddr,
                    spi: sa.info.id.spi,
                    family: sa.info.family,
                    proto,
                }
                .emit(&mut id);
                let _ = self.socket.transact(msg::DELSA, NLM_F_ACK, id)?;
                None
            }
        };
        self.probed.insert(key.clone(), verdict.clone());
        Ok(verdict)
    }

    fn register(&mut self, h: Header) -> Res<Message> {
        if h.satype > 9 {
            return Err(libc::EINVAL.into());
        }
        if h.satype != 0 {
            let bit = 1u16 << h.satype;
            if self.registered & bit != 0 {
                return Err(libc::EEXIST.into());
            }
            self.registered |= bit;
        }
        let (auth, encrypt) = self.probe_algorithms()?;
        let mut reply = Message::new(Header { errno: 0, ..h });
        if !auth.is_empty() {
            reply
                .extensions
                .push(Extension::Supported(SupportedKind::Auth, auth));
        }
        if !encrypt.is_empty() {
            reply
                .extensions
                .push(Extension::Supported(SupportedKind::Encrypt, encrypt));
        }
        Ok(reply)
    }

    fn add(&mut self, h: Header, m: &Message) -> Res<Message> {
        let sa = translate::sa_request(m)?;
        let t = if h.msg_type == MessageType::Update as u8 {
            msg::UPDSA
        } else {
            msg::NEWSA
        };
        self.call(t, NLM_F_ACK, sa.payload())?;
        let id = UsersaId {
            daddr: sa.info.id.daddr,
            spi: sa.info.id.spi,
            family: sa.info.family,
            proto: sa.info.id.proto,
        };
        let (info, attrs) = self.get_state(&id)?;
        let (satype, ext) = translate::state_to_pfkey(&info, &attrs, now())?;
        Ok(notification(h, satype, ext))
    }

    fn get(&mut self, h: Header, m: &Message) -> Res<Message> {
        let id = translate::sa_id(m)?;
        let (info, attrs) = self.get_state(&id)?;
        let (_, ext) = translate::state_to_pfkey(&info, &attrs, now())?;
        Ok(answer(h, proto_to_satype(id.proto), 0, ext))
    }

    fn delete(&mut self, h: Header, m: &Message) -> Res<Message> {
        let id = translate::sa_id(m)?;
        let (info, attrs) = self.get_state(&id)?;
        let mut p = Vec::new();
        id.emit(&mut p);
        self.call(msg::DELSA, NLM_F_ACK, p)?;
        let (satype, mut ext) = translate::state_to_pfkey(&info, &attrs, now())?;
        // af_key builds the notification after the deletion: a dead SA.
        for e in &mut ext {
            if let Extension::Sa(sa) = e {
                sa.state = sa_state::DEAD;
            }
        }
        Ok(notification(h, satype, ext))
    }

    /// GETSPI. For a range af_key refuses, the kernel state is left as
    /// af_key leaves it (see [`larval_only_request`]): the larval SA is
    /// looked up or created, then the request is refused with EINVAL.
    fn getspi(&mut self, h: Header, m: &Message) -> Res<Message> {
        if let Some(larval) = larval_only_request(m)? {
            let mut p = Vec::new();
            larval.emit(&mut p);
            match self.socket.transact(msg::ALLOCSPI, 0, p)? {
                // ENOENT: the larval SA is there, without an SPI. Done: the
                // SA found by sequence number already had one (unchanged).
                Answer::Refused {
                    errno: libc::ENOENT,
                    ..
                }
                | Answer::Done(_) => {}
                Answer::Refused { errno, message } => {
                    self.detail = hint(msg::ALLOCSPI, errno, message);
                    return Err(Fail::Errno(errno));
                }
            }
            return Err(libc::EINVAL.into());
        }
        let spi = translate::spi_request(m)?;
        let mut p = Vec::new();
        spi.emit(&mut p);
        let data = self.call(msg::ALLOCSPI, 0, p)?;
        let (info, attrs) = first_state(&data).ok_or(Fail::Errno(libc::EINVAL))?;
        let (_, ext) = translate::state_to_pfkey(&info, &attrs, now())?;
        Ok(answer(h, proto_to_satype(spi.info.id.proto), 0, ext))
    }

    /// FLUSH and SPDFLUSH: af_key sends the header copy before it looks at
    /// the flush's result, so that copy is the requester's first answer
    /// whatever happens; a refusal is kept in `detail` only.
    fn flush(&mut self, h: Header, msg_type: u16, payload: Vec<u8>) -> Res<Message> {
        match self.call(msg_type, NLM_F_ACK, payload) {
            Ok(_) | Err(Fail::Errno(_)) => Ok(Message::new(Header { errno: 0, ..h })),
            Err(e) => Err(e),
        }
    }

    fn dump(&mut self, h: Header) -> Res<Message> {
        let proto = satype_to_proto(h.satype);
        if proto == 0 {
            return Err(libc::EINVAL.into());
        }
        self.start_dump(h, DumpKind::Sa(proto))
    }

    fn spddump(&mut self, h: Header) -> Res<Message> {
        self.start_dump(h, DumpKind::Policy)
    }

    /// Sends a dump request and answers with its first entry; the others
    /// follow through [`Kernel::next_reply`], converted as their datagrams
    /// arrive.
    fn start_dump(&mut self, h: Header, kind: DumpKind) -> Res<Message> {
        let nl_type = match kind {
            DumpKind::Sa(_) => msg::GETSA,
            DumpKind::Policy => msg::GETPOLICY,
        };
        let seq = self.socket.start(nl_type, NLM_F_DUMP, Vec::new())?;
        self.dump = Some(DumpStream {
            seq,
            nl_type,
            header: h,
            kind,
            ready: VecDeque::new(),
            ended: false,
            failed: false,
            given: 0,
            now: now(),
        });
        self.next_entry()
    }

    /// The next dump entry, numbered as af_key sends them (1, 2, …, N−1,
    /// then 0 for the last). One entry is read ahead, to know whether the
    /// one given is the last. An entry PF_KEY cannot express ends the walk:
    /// the entry before it is given with seq 0 and the error's low byte as
    /// errno, or, with none before it, an error reply.
    fn next_entry(&mut self) -> Res<Message> {
        let XfrmKernel { socket, dump, .. } = self;
        let Some(d) = dump.as_mut() else {
            return Err(SocketError::Receive(Errno::EAGAIN).into());
        };
        while d.ready.len() < 2 && !d.ended {
            let seq = d.seq;
            let end = socket.dump_part(seq, |t, payload| {
                if !d.failed
                    && let Some(entry) = d.convert(t, payload)
                {
                    d.failed = entry.is_err();
                    d.ready.push_back(entry);
                }
            })?;
            if let Some(end) = end {
                d.ended = true;
                if let Answer::Refused { errno, message } = end {
                    self.detail = hint(d.nl_type, errno, message);
                    if !d.walk_failed(errno) {
                        *dump = None;
                        return Err(Fail::Errno(errno));
                    }
                }
            }
        }
        match d.give() {
            Ok((m, false)) => Ok(m),
            Ok((m, true)) => {
                drain(socket, d)?;
                *dump = None;
                Ok(m)
            }
            Err(errno) => {
                drain(socket, d)?;
                *dump = None;
                Err(Fail::Errno(errno))
            }
        }
    }

    /// Reqids used by installed policies' templates.
    fn used_reqids(&mut self) -> Res<Vec<u32>> {
        let data = match self.call(msg::GETPOLICY, NLM_F_DUMP, Vec::new()) {
            Ok(d) => d,
            Err(Fail::Errno(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(data
            .iter()
            .filter_map(|m| policy_of(&m.payload))
            .flat_map(|(_, attrs)| translate::template_reqids(&attrs))
            .collect())
    }

    fn spdadd(&mut self, h: Header, m: &Message) -> Res<Message> {
        let used = if needs_generated_reqid(m) {
            self.used_reqids()?
        } else {
            Vec::new()
        };
        let mut counter = self.reqid_counter;
        let mut gen_reqid = || -> Result<u32, i32> {
            // af_key's gen_reqid: a counter above the manual range, skipping
            // values in use by installed policies.
            let start = counter;
            loop {
                counter = counter.wrapping_add(1);
                if counter == 0 {
                    counter = ipsec::MANUAL_REQID_MAX + 1;
                }
                if !used.contains(&counter) {
                    return Ok(counter);
                }
                if counter == start {
                    return Err(libc::ENOBUFS);
                }
            }
        };
        let policy = translate::policy_request(m, &mut gen_reqid)?;
        self.reqid_counter = counter;
        let t = if h.msg_type == MessageType::SpdUpdate as u8 {
            msg::UPDPOLICY
        } else {
            msg::NEWPOLICY
        };
        self.call(t, NLM_F_ACK, policy.payload())?;
        let (info, attrs) = self.get_policy(&policy.id())?;
        let ext = translate::policy_to_pfkey(&info, &attrs)?;
        let msg_type = if h.msg_type == MessageType::SpdUpdate as u8 {
            MessageType::SpdUpdate
        } else {
            MessageType::SpdAdd
        };
        Ok(policy_notification(h, msg_type, REFCNT_ADDED, ext))
    }

    fn spddelete(&mut self, h: Header, m: &Message) -> Res<Message> {
        let key = translate::policy_key(m)?;
        let (info, attrs) = self.get_policy(&key)?;
        self.call(msg::DELPOLICY, NLM_F_ACK, key.payload())?;
        let ext = translate::policy_to_pfkey(&info, &attrs)?;
        Ok(policy_notification(
            h,
            MessageType::SpdDelete,
            REFCNT_DELETED,
            ext,
        ))
    }

    /// SPDGET / SPDDELETE2: a policy by its id (`sadb_x_policy_id`), whose
    /// low three bits are the kernel direction.
    fn spd_by_id(&mut self, h: Header, m: &Message, delete: bool) -> Res<Message> {
        let pol = m.policy().ok_or(Fail::Errno(libc::EINVAL))?;
        let dir = (pol.id & 7) as u8;
        if dir >= 3 {
            return Err(libc::EINVAL.into());
        }
        let key = PolicyKey {
            id: UserpolicyId {
                sel: Selector::default(),
                index: pol.id,
                dir,
            },
            ctx: None,
        };
        let (info, attrs) = self.get_policy(&key)?;
        let ext = translate::policy_to_pfkey(&info, &attrs)?;
        if delete {
            self.call(msg::DELPOLICY, NLM_F_ACK, key.payload())?;
            return Ok(policy_notification(
                h,
                MessageType::SpdDelete2,
                REFCNT_DELETED,
                ext,
            ));
        }
        let mut reply = Message {
            header: h,
            extensions: ext,
        };
        reply.header.errno = 0;
        reply.header.satype = 0;
        reply.header.reserved = translate::policy_refcnt(&info, now());
        Ok(reply)
    }

    /// The single XFRM request (type and payload) that carries out `m` when
    /// only its outcome is wanted ([`ReplyNeed::Status`]): ADD / UPDATE,
    /// DELETE, SPDADD / SPDUPDATE / SPDSETIDX without a generated reqid,
    /// SPDDELETE. `None` for requests that need more than one exchange
    /// (GETs, dumps, flushes, generated reqids, which depend on the
    /// installed policies). A request af_key would refuse before touching
    /// the kernel is refused the same way here.
    ///
    /// The full answers of these requests differ only in what follows the
    /// kernel's verdict: the SA or policy read back for the notification
    /// (for DELETE / SPDDELETE, read before the deletion; its absence gives
    /// the same errno as the deletion's).
    fn single(&mut self, m: &Message) -> Res<Option<(u16, Vec<u8>)>> {
        let h = m.header;
        let Some(t) = MessageType::from_u8(h.msg_type) else {
            return Ok(None);
        };
        Ok(Some(match t {
            MessageType::Add | MessageType::Update => {
                let sa = translate::sa_request(m)?;
                let t = if t == MessageType::Update {
                    msg::UPDSA
                } else {
                    msg::NEWSA
                };
                (t, sa.payload())
            }
            MessageType::Delete => {
                let id = translate::sa_id(m)?;
                let mut p = Vec::new();
                id.emit(&mut p);
                (msg::DELSA, p)
            }
            MessageType::SpdAdd | MessageType::SpdUpdate | MessageType::SpdSetIdx => {
                if needs_generated_reqid(m) {
                    return Ok(None);
                }
                // Never called: no template asks for a generated reqid.
                let policy = translate::policy_request(m, &mut || Err(libc::ENOBUFS))?;
                let t = if t == MessageType::SpdUpdate {
                    msg::UPDPOLICY
                } else {
                    msg::NEWPOLICY
                };
                (t, policy.payload())
            }
            MessageType::SpdDelete => (msg::DELPOLICY, translate::policy_key(m)?.payload()),
            _ => return Ok(None),
        }))
    }

    /// [`Kernel::request_batch`] with [`ReplyNeed::Status`]: runs of
    /// requests that are one XFRM request each go through
    /// [`NetlinkSocket::batch`]; any other request is answered on its own
    /// with [`Kernel::request`], after everything before it.
    fn status_batch(&mut self, requests: &[Message]) -> BatchOutcome {
        let mut slots: Vec<Option<BatchReply>> = vec![None; requests.len()];
        let mut run = PendingRun::default();
        let mut failure = None;
        for (i, m) in requests.iter().enumerate() {
            match self.single(m) {
                Ok(Some((t, payload))) => run.push(i, t, payload),
                Ok(None) => {
                    if let Err(e) = self.send_run(&mut run, requests, &mut slots) {
                        failure = Some(e);
                        break;
                    }
                    match self.request(m) {
                        Ok(reply) => {
                            let detail = if reply.header.errno != 0 {
                                self.detail.clone()
                            } else {
                                None
                            };
                            slots[i] = Some(BatchReply { reply, detail });
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                // Refused before anything reaches the kernel, as af_key
                // refuses it: nothing to wait for.
                Err(Fail::Errno(errno)) => {
                    slots[i] = Some(BatchReply {
                        reply: error_reply(m.header, errno),
                        detail: None,
                    });
                }
                Err(Fail::Socket(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none()
            && let Err(e) = self.send_run(&mut run, requests, &mut slots)
        {
            failure = Some(e);
        }
        run.clear();
        // Answers up to the first unanswered request: after a transport
        // failure nothing later counts.
        let replies = slots.into_iter().map_while(|s| s).collect();
        BatchOutcome { replies, failure }
    }

    /// Sends the pending run and fills its requests' slots.
    fn send_run(
        &mut self,
        run: &mut PendingRun,
        requests: &[Message],
        slots: &mut [Option<BatchReply>],
    ) -> Result<(), SocketError> {
        if run.requests.is_empty() {
            return Ok(());
        }
        let (answers, failure) = self.socket.batch(&run.requests);
        for ((&i, (t, _)), answer) in run.index.iter().zip(&run.requests).zip(answers) {
            let (Some(m), Some(slot)) = (requests.get(i), slots.get_mut(i)) else {
                continue;
            };
            *slot = Some(match answer {
                Answer::Done(_) => BatchReply {
                    reply: Message::new(Header {
                        errno: 0,
                        ..m.header
                    }),
                    detail: None,
                },
                Answer::Refused { errno, message } => {
                    let detail = hint(*t, errno, message);
                    self.detail.clone_from(&detail);
                    BatchReply {
                        reply: error_reply(m.header, errno),
                        detail,
                    }
                }
            });
        }
        run.clear();
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Forgets a dump whose remaining entries nobody asked for, reading the
    /// rest of it (the kernel runs one dump per socket at a time).
    fn abandon_dump(&mut self) {
        if let Some(mut d) = self.dump.take() {
            // A failure here shows up on the next request.
            let _ = drain(&mut self.socket, &mut d);
        }
    }

    fn dispatch(&mut self, m: &Message) -> Res<Message> {
        let h = m.header;
        let Some(t) = MessageType::from_u8(h.msg_type) else {
            return Err(libc::EINVAL.into());
        };
        match t {
            MessageType::Register => self.register(h),
            MessageType::Add | MessageType::Update => self.add(h, m),
            MessageType::Get => self.get(h, m),
            MessageType::Delete => self.delete(h, m),
            MessageType::GetSpi => self.getspi(h, m),
            MessageType::Flush => {
                let proto = satype_to_proto(h.satype);
                if proto == 0 {
                    return Err(libc::EINVAL.into());
                }
                let mut p = Vec::new();
                UsersaFlush { proto }.emit(&mut p);
                self.flush(h, msg::FLUSHSA, p)
            }
            MessageType::Dump => self.dump(h),
            MessageType::SpdAdd | MessageType::SpdUpdate | MessageType::SpdSetIdx => {
                self.spdadd(h, m)
            }
            MessageType::SpdDelete => self.spddelete(h, m),
            MessageType::SpdGet => self.spd_by_id(h, m, false),
            MessageType::SpdDelete2 => self.spd_by_id(h, m, true),
            MessageType::SpdFlush => self.flush(h, msg::FLUSHPOLICY, Vec::new()),
            MessageType::SpdDump => self.spddump(h),
            // Key-manager messages (ACQUIRE, EXPIRE, PROMISC, SPDACQUIRE,
            // MIGRATE) and those af_key has no handler for.
            _ => Err(libc::EOPNOTSUPP.into()),
        }
    }
}

impl Kernel for XfrmKernel {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn request(&mut self, message: &Message) -> Result<Message, SocketError> {
        self.abandon_dump();
        self.detail = None;
        match self.dispatch(message) {
            Ok(reply) => Ok(reply),
            Err(Fail::Errno(errno)) => Ok(error_reply(message.header, errno)),
            Err(Fail::Socket(e)) => Err(e),
        }
    }

    /// With [`ReplyNeed::Status`], successful requests that are a single
    /// XFRM request (see `XfrmKernel::single`) are answered with a copy of
    /// their header, errno 0, without the SA or policy read back for
    /// af_key's notification; many of them share each `sendmsg`. With
    /// [`ReplyNeed::Full`], each request goes through
    /// [`Kernel::request`].
    fn request_batch(&mut self, requests: &[Message], need: ReplyNeed) -> BatchOutcome {
        self.abandon_dump();
        self.detail = None;
        match need {
            ReplyNeed::Full => request_each(self, requests),
            ReplyNeed::Status => self.status_batch(requests),
        }
    }

    fn next_reply(&mut self, msg_type: u8) -> Result<Message, SocketError> {
        if self.dump.as_ref().map(|d| d.header.msg_type) != Some(msg_type) {
            // nothing more to say: what a PF_KEY socket's timeout reports
            return Err(SocketError::Receive(Errno::EAGAIN));
        }
        match self.next_entry() {
            Ok(m) => Ok(m),
            Err(Fail::Socket(e)) => Err(e),
            // The walk ended without a last entry (cannot happen after a
            // first one was given): as if nothing more came.
            Err(Fail::Errno(_)) => Err(SocketError::Receive(Errno::EAGAIN)),
        }
    }

    /// The extended ACK text of the last refused request, or a hint about
    /// what the kernel lacks.
    fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    fn preflight(&mut self, request: &Message) -> Result<Option<String>, SocketError> {
        match self.probe_sa(request) {
            Ok(lacks) => Ok(lacks),
            Err(Fail::Socket(e)) => Err(e),
            // A request XFRM cannot even express fails the same way later.
            Err(Fail::Errno(_)) => Ok(None),
        }
    }
}

/// Which table a dump walks.
#[derive(Debug, Clone, Copy)]
enum DumpKind {
    /// SAs of this protocol (IPPROTO_*; see `proto_matches`).
    Sa(u8),
    /// Main-type policies.
    Policy,
}

/// A dump being read (see `XfrmKernel::next_entry`).
struct DumpStream {
    /// Netlink sequence number of the dump request.
    seq: u32,
    /// Its netlink type (for error hints).
    nl_type: u16,
    /// The PF_KEY request.
    header: Header,
    kind: DumpKind,
    /// Converted entries not given yet (at most a datagram's worth).
    ready: VecDeque<Result<Message, i32>>,
    /// The kernel has sent everything.
    ended: bool,
    /// An entry PF_KEY cannot express was met: nothing after it counts.
    failed: bool,
    /// Entries given so far.
    given: u32,
    /// The time of the request (lifetimes, reference counts).
    now: u64,
}

impl DumpStream {
    /// The kernel ended the walk with `errno`. False when no entry was
    /// given or is waiting: the dump as a whole is refused. Otherwise, as
    /// af_key does, the last entry given carries the error, so the dump is
    /// never taken for complete.
    fn walk_failed(&mut self, errno: i32) -> bool {
        if self.given == 0 && self.ready.is_empty() {
            return false;
        }
        if !self.failed {
            self.failed = true;
            self.ready.push_back(Err(errno));
        }
        true
    }

    /// The next entry, once two are read ahead or the walk is over,
    /// numbered as af_key numbers them (1, 2, …, N−1, then 0 for the last;
    /// the last one carries the error of an entry PF_KEY cannot express or
    /// of a failed walk), and whether it is the last. `Err(errno)` when
    /// there is no entry to give: nothing at all (ENOENT), or an entry
    /// PF_KEY cannot express first.
    fn give(&mut self) -> Result<(Message, bool), i32> {
        let entry = self.ready.pop_front();
        let Some(Ok(mut m)) = entry else {
            return Err(match entry {
                Some(Err(errno)) => errno,
                _ => libc::ENOENT,
            });
        };
        self.given += 1;
        let last = match self.ready.front() {
            Some(Ok(_)) => {
                m.header.seq = self.given;
                false
            }
            Some(Err(errno)) => {
                m.header.seq = 0;
                // the negative error code truncated to sadb_msg_errno's 8 bits
                m.header.errno = (errno.wrapping_neg()) as u8;
                true
            }
            None => {
                m.header.seq = 0;
                true
            }
        };
        Ok((m, last))
    }

    /// One entry of the dump as af_key would send it; `None` for what the
    /// PF_KEY dump leaves out (other protocols, kernel-internal states,
    /// non-main policies).
    fn convert(&self, nl_type: u16, payload: &[u8]) -> Option<Result<Message, i32>> {
        let h = self.header;
        match self.kind {
            DumpKind::Sa(proto) => {
                if nl_type != msg::NEWSA {
                    return None;
                }
                let (info, attrs) = state_of(payload)?;
                if !proto_matches(info.id.proto, proto) {
                    return None;
                }
                Some(
                    translate::state_to_pfkey(&info, &attrs, self.now).map(|(satype, ext)| {
                        Message {
                            header: Header {
                                version: h.version,
                                msg_type: MessageType::Dump as u8,
                                errno: 0,
                                satype,
                                len: 0,
                                reserved: 0,
                                seq: 0,
                                pid: h.pid,
                            },
                            extensions: ext,
                        }
                    }),
                )
            }
            DumpKind::Policy => {
                if nl_type != msg::NEWPOLICY {
                    return None;
                }
                let (info, attrs) = policy_of(payload)?;
                let main = find(&attrs, attr::POLICY_TYPE)
                    .and_then(policy_type)
                    .is_none_or(|t| t == POLICY_TYPE_MAIN);
                if !main {
                    return None;
                }
                Some(
                    translate::policy_to_pfkey(&info, &attrs).map(|ext| Message {
                        header: Header {
                            version: h.version,
                            msg_type: MessageType::SpdDump as u8,
                            errno: 0,
                            satype: 0,
                            len: 0,
                            reserved: translate::policy_refcnt(&info, self.now),
                            seq: 0,
                            pid: h.pid,
                        },
                        extensions: ext,
                    }),
                )
            }
        }
    }
}

/// The ALLOCSPI request that leaves the kernel as af_key leaves it after a
/// GETSPI with an SPI range it refuses, or `None` when the range is fine
/// (or absent: af_key's default range is).
///
/// af_key (`pfkey_getspi`) looks up — by the request's sequence number,
/// then by mode, reqid, protocol and addresses — or creates the larval SA
/// first, and checks the range (`verify_spi_info`: min ≤ max, and
/// max < 0x10000 for IPComp) only then: a refused range leaves the larval
/// SA behind. xfrm_user's ALLOCSPI checks the range before the lookup, so
/// the request is sent with the range 0..=0 instead, which passes that
/// check: the kernel finds or creates the same larval SA (the same
/// lookups, by the same function) and cannot give it an SPI (SPI 0 is never
/// allocated), so it keeps it as af_key does. Errors of the other fields
/// come first, in af_key's order, as [`translate::spi_request`] reports
/// them.
pub fn larval_only_request(m: &Message) -> Result<Option<UserspiInfo>, i32> {
    let Some((min, max)) = m.spi_range() else {
        return Ok(None);
    };
    let refused = match satype_to_proto(m.header.satype) {
        IPPROTO_AH | IPPROTO_ESP => min > max,
        IPPROTO_COMP => min > max || max >= 0x10000,
        // Unknown SA types are refused before any lookup; SA type 0
        // (IPSEC_PROTO_ANY) see the module documentation.
        _ => false,
    };
    if !refused {
        return Ok(None);
    }
    let mut zero = m.clone();
    for e in &mut zero.extensions {
        if let Extension::SpiRange { min, max } = e {
            (*min, *max) = (0, 0);
        }
    }
    translate::spi_request(&zero).map(Some)
}

/// Reads the rest of a dump, discarding it.
fn drain(socket: &mut NetlinkSocket, d: &mut DumpStream) -> Result<(), SocketError> {
    while !d.ended {
        if socket.dump_part(d.seq, |_, _| {})?.is_some() {
            d.ended = true;
        }
    }
    Ok(())
}

/// Whether a policy request has a `unique` template whose reqid af_key
/// generates (none, or one outside the manual range).
fn needs_generated_reqid(m: &Message) -> bool {
    m.policy().is_some_and(|p| {
        p.requests.iter().any(|r| {
            r.level == ipsec::LEVEL_UNIQUE && (r.reqid == 0 || r.reqid > ipsec::MANUAL_REQID_MAX)
        })
    })
}

/// Requests of a batch waiting to be sent together: their index in the
/// batch, and their XFRM type and payload (which may hold keys: wiped when
/// cleared, and when dropped with requests left unsent).
#[derive(Default)]
struct PendingRun {
    index: Vec<usize>,
    requests: Vec<(u16, Vec<u8>)>,
}

impl PendingRun {
    fn push(&mut self, index: usize, msg_type: u16, payload: Vec<u8>) {
        self.index.push(index);
        self.requests.push((msg_type, payload));
    }

    fn clear(&mut self) {
        for (_, p) in &mut self.requests {
            zeroize::Zeroize::zeroize(p);
        }
        self.index.clear();
        self.requests.clear();
    }
}

impl Drop for PendingRun {
    fn drop(&mut self) {
        self.clear();
    }
}

/// af_key's `pfkey_error`: the request's header with the errno (values of
/// 512 and above, kernel-internal codes, become EINVAL).
pub fn error_reply(request: Header, errno: i32) -> Message {
    let errno = if (1..512).contains(&errno) {
        errno
    } else {
        libc::EINVAL
    };
    Message::new(Header {
        errno: errno as u8,
        ..request
    })
}

/// The XFRM_MSG_NEWSA payload probing one algorithm (see
/// `XfrmKernel::probe_algorithms`): a transport-mode IPv4 SA whose selector
/// is IPv6, which the kernel refuses only after looking the algorithm up.
fn probe_payload(proto: u8, kind: u16, a: &Algorithm) -> Vec<u8> {
    let info = UsersaInfo {
        sel: Selector {
            family: AF_INET6,
            ..Selector::default()
        },
        id: XfrmId {
            daddr: PROBE_ADDRESS,
            spi: PROBE_SPI,
            proto,
        },
        saddr: PROBE_ADDRESS,
        family: AF_INET,
        mode: mode::TRANSPORT,
        ..UsersaInfo::default()
    };
    let mut p = Vec::with_capacity(UsersaInfo::LEN + 80);
    info.emit(&mut p);
    let mut v = Vec::new();
    Algo {
        name: a.name.to_string(),
        ..Algo::default()
    }
    .emit(false, &mut v);
    Attr::new(kind, v).emit(&mut p);
    p
}

fn desc(a: &Algorithm) -> AlgorithmDesc {
    AlgorithmDesc {
        id: a.id,
        ivlen: a.ivlen,
        min_bits: a.min_bits,
        max_bits: a.max_bits,
    }
}

/// A unicast answer (GET, GETSPI): version and type of the request.
fn answer(h: Header, satype: u8, reserved: u16, ext: Vec<Extension>) -> Message {
    Message {
        header: Header {
            errno: 0,
            satype,
            reserved,
            len: 0,
            ..h
        },
        extensions: ext,
    }
}

/// An SA notification (ADD, UPDATE, DELETE): `key_notify_sa`'s header.
fn notification(h: Header, satype: u8, ext: Vec<Extension>) -> Message {
    Message {
        header: Header::notification(h.msg_type, satype, 0, h.seq, h.pid),
        extensions: ext,
    }
}

/// A policy notification: `key_notify_policy`'s header.
fn policy_notification(h: Header, t: MessageType, reserved: u16, ext: Vec<Extension>) -> Message {
    Message {
        header: Header::notification(t as u8, 0, reserved, h.seq, h.pid),
        extensions: ext,
    }
}

/// An XFRM_MSG_NEWSA body: the SA and its attributes.
pub fn state_of(payload: &[u8]) -> Option<(UsersaInfo, Vec<Attr>)> {
    let info = UsersaInfo::parse(payload).ok()?;
    let attrs = Attr::parse_all(payload.get(UsersaInfo::LEN..).unwrap_or_default()).ok()?;
    Some((info, attrs))
}

/// An XFRM_MSG_NEWPOLICY body: the policy and its attributes.
pub fn policy_of(payload: &[u8]) -> Option<(UserpolicyInfo, Vec<Attr>)> {
    let info = UserpolicyInfo::parse(payload).ok()?;
    let attrs = Attr::parse_all(payload.get(UserpolicyInfo::LEN..).unwrap_or_default()).ok()?;
    Some((info, attrs))
}

fn first_state(data: &[NlMessage]) -> Option<(UsersaInfo, Vec<Attr>)> {
    data.iter()
        .filter(|m| m.header.msg_type == msg::NEWSA)
        .find_map(|m| state_of(&m.payload))
}

fn first_policy(data: &[NlMessage]) -> Option<(UserpolicyInfo, Vec<Attr>)> {
    data.iter()
        .filter(|m| m.header.msg_type == msg::NEWPOLICY)
        .find_map(|m| policy_of(&m.payload))
}

/// The kernel's explanation, completed with what a refusal usually means
/// about the running kernel.
/// What a probe's errno says the kernel lacks (see `XfrmKernel::probe_sa`).
fn lacking(proto: u8, family: u16, errno: i32) -> Option<String> {
    let (name, module) = match (proto, family == AF_INET6) {
        (IPPROTO_ESP, false) => ("ESP", "esp4"),
        (IPPROTO_ESP, true) => ("ESP over IPv6", "esp6"),
        (_, false) => ("AH", "ah4"),
        (_, true) => ("AH over IPv6", "ah6"),
    };
    match errno {
        libc::EPROTONOSUPPORT => Some(format!(
            "this kernel has no {name} support (module {module} not loaded)"
        )),
        libc::EAFNOSUPPORT => {
            Some("this kernel has no IPv6 IPsec support (module ipv6 not loaded)".to_string())
        }
        libc::ENOSYS => Some(format!(
            "this kernel's crypto API lacks an algorithm of this {name} SA"
        )),
        _ => None,
    }
}

fn hint(msg_type: u16, errno: i32, message: Option<String>) -> Option<String> {
    let lacking = match (msg_type, errno) {
        (msg::NEWSA | msg::UPDSA | msg::ALLOCSPI, libc::EPROTONOSUPPORT) => Some(
            "this kernel has no transform for this protocol \
             (modules esp4/esp6, ah4/ah6 or ipcomp/ipcomp6 not loaded)",
        ),
        (msg::NEWSA | msg::UPDSA, libc::ENOSYS) => {
            Some("this kernel's crypto API has no implementation of the algorithm")
        }
        (msg::NEWSA | msg::UPDSA, libc::EAFNOSUPPORT) => {
            Some("this kernel has no IPv6 IPsec support (module ipv6 not loaded)")
        }
        _ => None,
    };
    match (message, lacking) {
        (Some(m), Some(l)) => Some(format!("{m}: {l}")),
        (Some(m), None) => Some(m),
        (None, Some(l)) => Some(l.to_string()),
        (None, None) => None,
    }
}

/// Seconds since the epoch.
fn now() -> u64 {
    crate::os::now()
}

#[cfg(test)]
mod dump_stream_tests {
    use super::*;

    fn stream(entries: usize) -> DumpStream {
        DumpStream {
            seq: 1,
            nl_type: msg::GETSA,
            header: Header::default(),
            kind: DumpKind::Sa(IPPROTO_ESP),
            ready: (0..entries)
                .map(|_| Ok(Message::new(Header::default())))
                .collect(),
            ended: true,
            failed: false,
            given: 0,
            now: 0,
        }
    }

    /// Gives every entry as `next_entry` does: (seq, errno) of each.
    fn numbering(d: &mut DumpStream) -> Vec<(u32, u8)> {
        let mut out = Vec::new();
        while let Ok((m, last)) = d.give() {
            out.push((m.header.seq, m.header.errno));
            if last {
                break;
            }
        }
        out
    }

    #[test]
    fn entries_are_numbered_as_af_key_numbers_them() {
        assert_eq!(numbering(&mut stream(3)), [(1, 0), (2, 0), (0, 0)]);
        assert_eq!(stream(0).give().err(), Some(libc::ENOENT));
    }

    #[test]
    fn a_walk_that_fails_after_entries_ends_in_an_error_not_in_silence() {
        let mut d = stream(2);
        assert!(d.walk_failed(libc::EINVAL));
        // the last entry carries the error, as af_key's last message
        let einval = (libc::EINVAL.wrapping_neg()) as u8;
        assert_eq!(numbering(&mut d), [(1, 0), (0, einval)]);
        // a second failure does not add a second error entry
        let mut d = stream(1);
        assert!(d.walk_failed(libc::EINVAL));
        assert!(d.walk_failed(libc::EIO));
        assert_eq!(numbering(&mut d), [(0, einval)]);
    }

    #[test]
    fn a_walk_that_fails_before_any_entry_refuses_the_dump() {
        let mut d = stream(0);
        assert!(!d.walk_failed(libc::EINVAL));
    }
}
