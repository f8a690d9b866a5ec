//! [`XfrmKernel`]: PF_KEY requests answered through NETLINK_XFRM, the way
//! `af_key` answers them (see the module documentation of [`super`] for the
//! rules).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use nix::errno::Errno;

use super::algorithms::{self, Algorithm};
use super::netlink::{Attr, NLM_F_ACK, NLM_F_DUMP, NlMessage, find};
use super::socket::{Answer, Frames, NetlinkSocket};
use super::translate::{
    self, IPPROTO_AH, IPPROTO_COMP, IPPROTO_ESP, PolicyKey, proto_matches, proto_to_satype,
    satype_to_proto,
};
use super::wire::{
    AF_INET, AF_INET6, Algo, POLICY_TYPE_MAIN, Selector, UserpolicyId, UserpolicyInfo, UsersaFlush,
    UsersaId, UsersaInfo, UserspiInfo, XfrmAddress, XfrmId, attr, mode, msg, policy_type,
};
use crate::codec::Writer;
use crate::ir::{Operation, PolicyRequest};
use crate::pfkey::SocketError;
use crate::pfkey::request::{self, PolicyMessage};
use crate::pfkey::wire::{
    AlgorithmDesc, Extension, Header, IpsecRequestExt, Message, MessageType, SupportedKind, ipsec,
    sa_state,
};
use crate::pfkey::{BatchOutcome, BatchReply, Kernel, ReplyNeed, request_each};

mod dump;
mod reply;
#[cfg(test)]
mod tests;

use dump::{DumpKind, DumpStream, drain};
use reply::*;
pub use reply::{error_reply, policy_of, state_of};

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
    /// The requests of a batch being gathered; kept from batch to batch so
    /// that its buffer is allocated (and grown) once.
    run: PendingRun,
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
            run: PendingRun::default(),
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
                attr::ALG_AUTH_TRUNC | attr::ALG_AEAD => Algo::parse(&a.value, true).ok(),
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
        // The replay state is checked only with a zero classic window; the
        // probe's replay state replaces any the SA has (-f esn, -r > 255).
        sa.info.replay_window = 0;
        sa.attrs.retain(|a| a.kind != attr::REPLAY_ESN_VAL);
        let mut esn = Vec::with_capacity(24);
        let mut w = Writer::new(&mut esn);
        for field in [0u32, 0, 0, 0, 0, 1] {
            // bmp_len 0, oseq, seq, oseq_hi, seq_hi, replay_window 1
            w.ne_u32(field);
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

    /// [`Kernel::request_batch`] with [`ReplyNeed::Status`]: runs of
    /// requests that are one XFRM request each go through
    /// [`NetlinkSocket::batch`]; any other request is answered on its own
    /// with [`Kernel::request`], after everything before it.
    fn status_batch(&mut self, requests: &[Message]) -> BatchOutcome {
        let items: Vec<Item<'_>> = requests
            .iter()
            .map(|m| Item::Message(Cow::Borrowed(m)))
            .collect();
        self.status_items(&items)
    }

    /// [`XfrmKernel::status_batch`] of messages or operations.
    ///
    /// `replies` holds one reply per item, in order: a request framed in
    /// the pending run gets its success reply when framed (what the
    /// kernel's silence means), replaced if the kernel refuses it. After a
    /// transport failure the replies end at the first unanswered request.
    fn status_items(&mut self, items: &[Item<'_>]) -> BatchOutcome {
        let mut replies: Vec<BatchReply> = Vec::with_capacity(items.len());
        let mut run = std::mem::take(&mut self.run);
        let mut failure = None;
        for (i, item) in items.iter().enumerate() {
            let framed = match item {
                Item::Message(m) => frame(m, &mut run.frames),
                Item::Policy(_, kind, p) => frame_policy(*kind, p, &mut run.frames),
            };
            match framed {
                Ok(true) => {
                    run.index.push(i);
                    replies.push(BatchReply {
                        reply: Message::new(Header {
                            errno: 0,
                            ..item.header()
                        }),
                        detail: None,
                    });
                }
                Ok(false) => {
                    if let Err(e) = self.send_run(&mut run, items, &mut replies) {
                        failure = Some(e);
                        break;
                    }
                    match self.request(&item.message()) {
                        Ok(reply) => {
                            let detail = if reply.header.errno != 0 {
                                self.detail.clone()
                            } else {
                                None
                            };
                            replies.push(BatchReply { reply, detail });
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
                    replies.push(BatchReply {
                        reply: error_reply(item.header(), errno),
                        detail: None,
                    });
                }
                Err(Fail::Socket(e)) => {
                    // The pending run is not sent: its requests have no
                    // answer.
                    replies.truncate(run.index.first().copied().unwrap_or(i));
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none()
            && let Err(e) = self.send_run(&mut run, items, &mut replies)
        {
            failure = Some(e);
        }
        run.clear();
        self.run = run;
        BatchOutcome { replies, failure }
    }

    /// Sends the pending run and puts its refusals in their requests'
    /// replies (the others succeeded: their replies say so already). After
    /// a transport failure, `replies` ends before the first request of the
    /// run without an answer.
    fn send_run(
        &mut self,
        run: &mut PendingRun,
        items: &[Item<'_>],
        replies: &mut Vec<BatchReply>,
    ) -> Result<(), SocketError> {
        if run.frames.is_empty() {
            return Ok(());
        }
        let outcome = self.socket.batch_frames_refusals(&mut run.frames);
        for refusal in outcome.refusals {
            let Some(&i) = run.index.get(refusal.index) else {
                continue;
            };
            let (Some(header), Some(slot)) = (items.get(i).map(Item::header), replies.get_mut(i))
            else {
                continue;
            };
            let detail = hint(
                run.frames.msg_type(refusal.index),
                refusal.errno,
                refusal.message,
            );
            self.detail.clone_from(&detail);
            *slot = BatchReply {
                reply: error_reply(header, refusal.errno),
                detail,
            };
        }
        let result = match outcome.failure {
            Some(e) => {
                if let Some(&i) = run.index.get(outcome.answered) {
                    replies.truncate(i);
                }
                Err(e)
            }
            None => Ok(()),
        };
        run.clear();
        result
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

    /// Policy operations are translated from the IR; the others go through
    /// their messages as [`Kernel::request_batch`] sends them.
    fn apply_batch(&mut self, operations: &[&Operation]) -> BatchOutcome {
        self.abandon_dump();
        self.detail = None;
        let header = self.header(0, 0);
        let policy = |kind, p| Item::Policy(request::policy_header(header, kind), kind, p);
        let items: Vec<Item<'_>> = operations
            .iter()
            .filter_map(|op| match op {
                Operation::SpdAdd(p) => Some(policy(PolicyMessage::Add, p)),
                Operation::SpdUpdate(p) => Some(policy(PolicyMessage::Update, p)),
                Operation::SpdDelete(p) => Some(policy(PolicyMessage::Delete, p)),
                // An operation without a request (exit) has no item, as
                // it has no message in `request_operations`.
                op => request::for_operation(header, op).map(|m| Item::Message(Cow::Owned(m))),
            })
            .collect();
        self.status_items(&items)
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

/// Frames the single XFRM request that carries out `m` when only its
/// outcome is wanted ([`ReplyNeed::Status`]): ADD / UPDATE, DELETE,
/// SPDADD / SPDUPDATE / SPDSETIDX without a generated reqid, SPDDELETE.
/// `false` (nothing framed) for requests that need more than one exchange
/// (GETs, dumps, flushes, generated reqids, which depend on the
/// installed policies). A request af_key would refuse before touching
/// the kernel is refused the same way here.
///
/// The full answers of these requests differ only in what follows the
/// kernel's verdict: the SA or policy read back for the notification
/// (for DELETE / SPDDELETE, read before the deletion; its absence gives
/// the same errno as the deletion's).
fn frame(m: &Message, frames: &mut Frames) -> Res<bool> {
    let h = m.header;
    let Some(t) = MessageType::from_u8(h.msg_type) else {
        return Ok(false);
    };
    match t {
        MessageType::Add | MessageType::Update => {
            let sa = translate::sa_request(m)?;
            let t = if t == MessageType::Update {
                msg::UPDSA
            } else {
                msg::NEWSA
            };
            frames.push(t, sa.payload_len(), |out| sa.emit_payload(out));
        }
        MessageType::Delete => {
            let id = translate::sa_id(m)?;
            frames.push_keyless(msg::DELSA, UsersaId::LEN, |out| id.emit(out));
        }
        MessageType::SpdAdd | MessageType::SpdUpdate | MessageType::SpdSetIdx => {
            if needs_generated_reqid(m) {
                return Ok(false);
            }
            let policy = translate::policy_request(m, &mut no_generated_reqid)?;
            push_policy(t == MessageType::SpdUpdate, &policy, frames);
        }
        MessageType::SpdDelete => push_policy_key(&translate::policy_key(m)?, frames),
        _ => return Ok(false),
    }
    Ok(true)
}

/// [`frame`] of a policy operation, written straight from the IR
/// ([`translate::emit_policy_of`]): what `frame` does with the message
/// [`request::policy`] builds for it, without building it.
fn frame_policy(kind: PolicyMessage, p: &PolicyRequest, frames: &mut Frames) -> Res<bool> {
    match kind {
        PolicyMessage::Add | PolicyMessage::Update => {
            if generates_reqid(p.policy.requests.iter().map(request::request_extension)) {
                return Ok(false);
            }
            let t = if kind == PolicyMessage::Update {
                msg::UPDPOLICY
            } else {
                msg::NEWPOLICY
            };
            frames.try_push_keyless(t, translate::policy_payload_len_of(p), |out| {
                translate::emit_policy_of(p, &mut no_generated_reqid, out)
            })?;
        }
        PolicyMessage::Delete => push_policy_key(&translate::policy_key_of(p)?, frames),
    }
    Ok(true)
}

/// Frames XFRM_MSG_NEWPOLICY (or UPDPOLICY) of a translated policy.
fn push_policy(update: bool, policy: &translate::NewPolicy, frames: &mut Frames) {
    let t = if update {
        msg::UPDPOLICY
    } else {
        msg::NEWPOLICY
    };
    frames.push_keyless(t, policy.payload_len(), |out| policy.emit_payload(out));
}

/// Frames XFRM_MSG_DELPOLICY.
fn push_policy_key(key: &translate::PolicyKey, frames: &mut Frames) {
    frames.push_keyless(msg::DELPOLICY, key.payload_len(), |out| {
        key.emit_payload(out)
    });
}

/// The reqid source of a policy framed in a batch: never asked, since a
/// policy whose template needs a generated reqid goes on its own.
fn no_generated_reqid() -> Result<u32, i32> {
    Err(libc::ENOBUFS)
}

/// One request of a batch: a PF_KEY message, or a policy operation whose
/// message is built only if it must go on its own.
enum Item<'a> {
    Message(Cow<'a, Message>),
    /// The header of its message, which kind of message, the policy.
    Policy(Header, PolicyMessage, &'a PolicyRequest),
}

impl Item<'_> {
    /// The header of its PF_KEY message (replies are made from it).
    fn header(&self) -> Header {
        match self {
            Item::Message(m) => m.header,
            Item::Policy(header, ..) => *header,
        }
    }

    /// Its PF_KEY message.
    fn message(&self) -> Cow<'_, Message> {
        match self {
            Item::Message(m) => Cow::Borrowed(m.as_ref()),
            Item::Policy(header, kind, p) => Cow::Owned(request::policy(*header, *kind, p)),
        }
    }
}

/// Whether a policy request has a `unique` template whose reqid af_key
/// generates (none, or one outside the manual range).
fn needs_generated_reqid(m: &Message) -> bool {
    m.policy()
        .is_some_and(|p| generates_reqid(p.requests.iter().copied()))
}

/// Whether a `unique` request without a reqid of its own is among
/// `requests`: af_key then generates one, from the policies installed.
fn generates_reqid(mut requests: impl Iterator<Item = IpsecRequestExt>) -> bool {
    requests.any(|r| {
        r.level == ipsec::LEVEL_UNIQUE && (r.reqid == 0 || r.reqid > ipsec::MANUAL_REQID_MAX)
    })
}

/// Requests of a batch waiting to be sent together: their index in the
/// batch, and their frames (SA additions hold keys: wiped when cleared, and
/// when dropped with requests left unsent).
#[derive(Default)]
struct PendingRun {
    index: Vec<usize>,
    frames: Frames,
}

impl PendingRun {
    fn clear(&mut self) {
        self.index.clear();
        self.frames.clear();
    }
}
