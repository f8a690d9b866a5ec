//! `-x` / `-xx` without PF_KEY: the kernel's XFRM netlink events, as the
//! PF_KEY messages `af_key` would broadcast for the same events.
//!
//! A PF_KEY monitor is a promiscuous PF_KEY socket: it receives every
//! message of the network namespace. Without PF_KEY, [`XfrmMonitor`] joins
//! the XFRM multicast groups of SAs, policies, expiries and acquires and
//! converts each event the way af_key's key-manager callbacks
//! (`pfkey_send_notify`, `pfkey_send_policy_notify`, `pfkey_send_acquire`)
//! build their messages from the same kernel event; [`Converter`] is that
//! conversion, free of I/O.
//!
//! | XFRM event | PF_KEY message | header | copies |
//! | --- | --- | --- | --- |
//! | NEWSA, UPDSA | ADD, UPDATE: the SA with keys and both lifetimes | seq, pid of the event | 2 |
//! | DELSA | DELETE: the same, state dead | seq, pid | 2 |
//! | FLUSHSA | FLUSH, bare | satype of the protocol, seq, pid | 2 |
//! | NEWPOLICY, UPDPOLICY | X_SPDADD, X_SPDUPDATE | reserved 3, seq, pid | 2 |
//! | DELPOLICY | X_SPDDELETE (X_SPDDELETE2 when deleted by index) | reserved 1, seq, pid | 2 |
//! | FLUSHPOLICY | X_SPDFLUSH, bare | seq, pid | 2 |
//! | EXPIRE | EXPIRE: the SA without keys, the lifetime that expired and the current one | seq 0, pid 0 | 1 |
//! | ACQUIRE | ACQUIRE: addresses, policy, proposal, context | the acquire's seq, pid 0 | 1 |
//! | POLEXPIRE | nothing (af_key's handler sends nothing) | | |
//!
//! "seq, pid" are those of the event, which are those of the request that
//! caused it, exactly what af_key puts in its message for that request.
//! Only main-type policies are reported, as by af_key.
//!
//! **Copies.** af_key hands a message meant for every socket
//! (BROADCAST_ALL: SA and policy changes, flushes) to a promiscuous socket
//! twice — once for being promiscuous, once as one of "every socket" — and
//! a message meant for registered sockets (expiries, acquires) once, since
//! a monitor does not register. [`Notification::copies`] says how often a
//! PF_KEY monitor would print the message, so that both monitors print the
//! same for the same kernel events.
//!
//! **What XFRM does not say** is derived as for the XFRM backend (module
//! documentation of [`super`]), plus:
//!
//! * **Expiries** carry no algorithms, NAT-T or security context in XFRM
//!   (only the SA's fixed part). They are taken from the SAs the monitor
//!   knows: those present when it started (one dump) and those added or
//!   updated since. An SA it does not know is reported without algorithms
//!   (ids 0) and, for a soft expiry, as larval. A soft expiry reports the
//!   SA dying (larval when it is), a hard one dead, as af_key does.
//! * **UPDATE** notifications show the SA mature. af_key builds them from
//!   the SA it was handed, which the kernel marks dead when it updated a
//!   mature SA in place (mature when it replaced a larval one); XFRM does
//!   not say which happened.
//! * **Acquire proposals** (`sadb_prop`): af_key lists the algorithms the
//!   template allows and the kernel's table marks available. Availability
//!   is probed as for REGISTER (see [`super`]), once, at the first acquire;
//!   if the probe fails every row counts as available.
//! * **Lost events**: a full receive queue makes the kernel drop events
//!   (PF_KEY drops silently); XFRM says so ([`Event::Lost`]).
//!
//! One side effect has no PF_KEY counterpart: a socket in the acquire
//! group counts, for the kernel, as a key manager listening
//! (`xfrm_is_alive`). While the monitor runs, traffic that needs an SA that
//! does not exist makes the kernel create a larval SA and send an acquire,
//! where with no key manager it would fail at once. A PF_KEY monitor does
//! not register, and af_key sends acquires only while some socket is
//! registered, so it changes nothing.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

use bytes::Bytes;
use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, NetlinkAddr, sockopt};
use zeroize::Zeroizing;

use super::algorithms::{self, Algorithm};
use super::kernel::{REFCNT_ADDED, REFCNT_DELETED, XfrmKernel, policy_of, state_of};
use super::netlink::{Attr, NLM_F_DUMP, NlHeader, NlMessage, find};
use super::socket::NetlinkSocket;
use super::translate::{self, IPPROTO_AH, IPPROTO_ESP, proto_matches, proto_to_satype};
use super::wire::{
    AF_INET, AF_INET6, Algo, POLICY_TYPE_MAIN, Selector, UserSecCtx, UserTmpl, UserpolicyId,
    UserpolicyInfo, UsersaId, UsersaInfo, XfrmAddress, attr, mode, msg, policy_type,
};
use crate::codec::{Reader, Writer};
use crate::pfkey::Kernel;
use crate::pfkey::SocketError;
use crate::pfkey::wire::{
    AddressExt, AddressKind, Extension, Header, LifetimeKind, Message, MessageType, PolicyExt,
    SecCtxExt, SupportedKind, ext_type, ipsec, sa_state,
};

/// XFRM message types that only events use.
pub mod event {
    /// XFRM_MSG_ACQUIRE (`xfrm_user_acquire`)
    pub const ACQUIRE: u16 = 0x17;
    /// XFRM_MSG_EXPIRE (`xfrm_user_expire`)
    pub const EXPIRE: u16 = 0x18;
    /// XFRM_MSG_POLEXPIRE (`xfrm_user_polexpire`)
    pub const POLEXPIRE: u16 = 0x1b;
}

/// The multicast groups joined (`XFRMNLGRP_ACQUIRE`, `_EXPIRE`, `_SA`,
/// `_POLICY`), as the bit mask `bind` takes (group N is bit N−1).
const GROUPS: u32 = 0b1111;

/// `sizeof(struct xfrm_user_acquire)`.
const ACQUIRE_LEN: usize = 280;

/// af_key's `sadb_prop_replay` in acquires.
const PROPOSAL_REPLAY: u8 = 32;
/// `sizeof(struct sadb_comb)`.
const COMB_LEN: usize = 72;

/// The receive buffer asked for: events of a large flush-and-reload must
/// not overflow it.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;
/// Large enough for any event datagram.
const DATAGRAM_BUFFER: usize = 256 * 1024;

/// A PF_KEY message a promiscuous PF_KEY socket would receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The message as af_key builds it.
    pub message: Message,
    /// How many times a PF_KEY monitor receives it: 2 for messages to every
    /// socket, 1 for messages to registered sockets.
    pub copies: u8,
}

/// What the monitor reports.
#[derive(Debug)]
pub enum Event {
    /// One kernel event, converted.
    Message(Notification),
    /// The kernel dropped events: its queue for this socket was full.
    Lost,
}

/// The PF_KEY ids of the algorithms the kernel offers (acquire proposals).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Available {
    /// Authentication algorithm ids.
    pub auth: Vec<u8>,
    /// Encryption algorithm ids.
    pub encrypt: Vec<u8>,
}

impl Available {
    /// Every row of af_key's table.
    pub fn all() -> Available {
        Available {
            auth: algorithms::auth().map(|a| a.id).collect(),
            encrypt: algorithms::encrypt().map(|a| a.id).collect(),
        }
    }

    /// What a REGISTER reply lists.
    pub fn from_register(reply: &Message) -> Available {
        let ids = |kind| {
            reply
                .supported(kind)
                .map(|algs| algs.iter().map(|a| a.id).collect())
                .unwrap_or_default()
        };
        Available {
            auth: ids(SupportedKind::Auth),
            encrypt: ids(SupportedKind::Encrypt),
        }
    }
}

/// An SA's identity: destination, SPI, protocol, family.
type SaKey = (XfrmAddress, u32, u8, u16);

fn sa_key(daddr: XfrmAddress, spi: u32, proto: u8, family: u16) -> SaKey {
    let mut a = daddr;
    if family == AF_INET {
        // only the first four bytes are an IPv4 address
        a.0[4..].fill(0);
    }
    (a, spi, proto, family)
}

/// XFRM events → PF_KEY messages, as af_key builds them (see the module
/// documentation). Keeps, per SA it has seen, the attributes an expiry
/// lacks (algorithm names without keys, NAT-T, context, ESN state).
#[derive(Debug, Default)]
pub struct Converter {
    sas: HashMap<SaKey, Vec<Attr>>,
    available: Option<Available>,
}

impl Converter {
    /// A converter that knows no SA yet.
    pub fn new() -> Converter {
        Converter::default()
    }

    /// Sets which algorithms acquire proposals may list.
    pub fn set_available(&mut self, available: Available) {
        self.available = Some(available);
    }

    /// Whether converting an event of this type needs
    /// [`Converter::set_available`] first.
    pub fn wants_available(&self, nl_type: u16) -> bool {
        nl_type == event::ACQUIRE && self.available.is_none()
    }

    /// Remembers an SA (from a dump) for its expiry.
    pub fn remember(&mut self, info: &UsersaInfo, attrs: &[Attr]) {
        self.sas.insert(
            sa_key(info.id.daddr, info.id.spi, info.id.proto, info.family),
            lasting_attrs(attrs),
        );
    }

    /// How many SAs are remembered.
    pub fn known_sas(&self) -> usize {
        self.sas.len()
    }

    /// One event (netlink header and payload) as af_key would broadcast it;
    /// `None` for events af_key sends nothing for, and for malformed ones.
    ///
    /// The SA state shown depends on the event alone, never on when it is
    /// read: af_key builds its message while the kernel handles the change.
    pub fn convert(&mut self, h: &NlHeader, payload: &[u8]) -> Option<Notification> {
        match h.msg_type {
            msg::NEWSA | msg::UPDSA => {
                let (info, attrs) = state_of(payload)?;
                self.remember(&info, &attrs);
                let t = if h.msg_type == msg::UPDSA {
                    MessageType::Update
                } else {
                    MessageType::Add
                };
                sa_notification(t, h, &info, &attrs, Shown::New)
            }
            msg::DELSA => {
                let id = UsersaId::parse(payload).ok()?;
                let attrs = Attr::parse_all(payload.get(UsersaId::LEN..)?).ok()?;
                self.sas
                    .remove(&sa_key(id.daddr, id.spi, id.proto, id.family));
                let info = UsersaInfo::parse(find(&attrs, attr::SA)?).ok()?;
                sa_notification(MessageType::Delete, h, &info, &attrs, Shown::Dead)
            }
            msg::FLUSHSA => {
                let proto = *payload.first()?;
                self.sas.retain(|k, _| !proto_matches(k.2, proto));
                Some(bare(MessageType::Flush, proto_to_satype(proto), h))
            }
            msg::NEWPOLICY | msg::UPDPOLICY => {
                let (info, attrs) = policy_of(payload)?;
                if !main_type(&attrs) {
                    return None;
                }
                let t = if h.msg_type == msg::UPDPOLICY {
                    MessageType::SpdUpdate
                } else {
                    MessageType::SpdAdd
                };
                policy_notification(t, REFCNT_ADDED, h, &info, &attrs)
            }
            msg::DELPOLICY => {
                let id = UserpolicyId::parse(payload).ok()?;
                let attrs = Attr::parse_all(payload.get(UserpolicyId::LEN..)?).ok()?;
                if !main_type(&attrs) {
                    return None;
                }
                let info = UserpolicyInfo::parse(find(&attrs, attr::POLICY)?).ok()?;
                // The kernel names the policy by index only when it was
                // deleted by index (af_key's SPDDELETE2, `c->data.byid`).
                let t = if id.index != 0 {
                    MessageType::SpdDelete2
                } else {
                    MessageType::SpdDelete
                };
                policy_notification(t, REFCNT_DELETED, h, &info, &attrs)
            }
            msg::FLUSHPOLICY => {
                let attrs = Attr::parse_all(payload).ok()?;
                if !main_type(&attrs) {
                    return None;
                }
                Some(bare(MessageType::SpdFlush, 0, h))
            }
            event::EXPIRE => self.expire(payload),
            event::ACQUIRE => self.acquire(payload),
            // POLEXPIRE: af_key's key_notify_policy_expire sends nothing.
            _ => None,
        }
    }

    /// `key_notify_sa_expire`: the SA without keys, with the lifetime that
    /// expired (hard or soft) and the current one.
    fn expire(&mut self, payload: &[u8]) -> Option<Notification> {
        // struct xfrm_user_expire: the SA, then the `hard` byte
        let info = UsersaInfo::parse(payload).ok()?;
        let hard = *payload.get(UsersaInfo::LEN)? != 0;
        let key = sa_key(info.id.daddr, info.id.spi, info.id.proto, info.family);
        let known = if hard {
            self.sas.remove(&key)
        } else {
            self.sas.get(&key).cloned()
        };
        let attrs = known.unwrap_or_default();
        let (satype, ext) = translate::state_to_pfkey(&info, &attrs, 0).ok()?;
        let gone = if hard {
            LifetimeKind::Soft
        } else {
            LifetimeKind::Hard
        };
        let extensions = ext
            .into_iter()
            .filter(|e| !matches!(e, Extension::Key(..)))
            .filter(|e| !matches!(e, Extension::Lifetime(k, _) if *k == gone))
            .map(|mut e| {
                if let Extension::Sa(sa) = &mut e {
                    // A hard expiry deletes the SA first; a soft one marks a
                    // valid SA dying (a larval one stays larval).
                    sa.state = if hard {
                        sa_state::DEAD
                    } else if sa.state == sa_state::LARVAL {
                        sa_state::LARVAL
                    } else {
                        sa_state::DYING
                    };
                }
                e
            })
            .collect();
        Some(Notification {
            message: Message {
                header: Header::notification(MessageType::Expire as u8, satype, 0, 0, 0),
                extensions,
            },
            copies: 1,
        })
    }

    /// `pfkey_send_acquire`: the larval SA's addresses, the policy, the
    /// proposal (AH, ESP) and the security context.
    fn acquire(&self, payload: &[u8]) -> Option<Notification> {
        let r = Reader::new_checked(payload, ACQUIRE_LEN).ok()?;
        let daddr = XfrmAddress(r.array(0));
        let proto = r.u8(20);
        let saddr = XfrmAddress(r.array(24));
        let sel = Selector::parse(r.tail(40)).ok()?;
        let policy = UserpolicyInfo::parse(r.tail(96)).ok()?;
        let (aalgos, ealgos, seq) = (r.ne_u32(264), r.ne_u32(268), r.ne_u32(276));
        let attrs = Attr::parse_all(r.tail(ACQUIRE_LEN)).ok()?;
        // The larval SA's family is its template's (`encap_family`).
        let templates = find(&attrs, attr::TMPL)
            .and_then(|v| UserTmpl::parse_array(v).ok())
            .unwrap_or_default();
        let family = templates
            .iter()
            .find(|t| {
                t.id.proto == proto
                    && (!matches!(t.mode, mode::TUNNEL | mode::BEET)
                        || t.id.daddr.equal_in(&daddr, t.family))
            })
            .map_or(sel.family, |t| t.family);
        let prefixlen = match family {
            AF_INET => 32,
            AF_INET6 => 128,
            _ => return None,
        };
        let address = |kind, a: XfrmAddress| {
            Some(Extension::Address(
                kind,
                AddressExt {
                    proto: 0,
                    prefixlen,
                    addr: sockaddr(a.to_ip(family)?),
                },
            ))
        };
        let mut extensions = vec![
            address(AddressKind::Src, saddr)?,
            address(AddressKind::Dst, daddr)?,
            Extension::Policy(PolicyExt {
                policy_type: ipsec::POLICY_IPSEC,
                dir: ipsec::DIR_OUTBOUND,
                id: policy.index,
                priority: policy.priority,
                requests: Vec::new(),
            }),
        ];
        let all;
        let available = match &self.available {
            Some(a) => a,
            None => {
                all = Available::all();
                &all
            }
        };
        extensions.extend(proposal(proto, aalgos, ealgos, available));
        if let Some(c) = find(&attrs, attr::SEC_CTX).and_then(|v| UserSecCtx::parse(v).ok()) {
            extensions.push(Extension::SecCtx(SecCtxExt {
                alg: c.alg,
                doi: c.doi,
                context: c.context,
            }));
        }
        Some(Notification {
            message: Message {
                header: Header::notification(
                    MessageType::Acquire as u8,
                    proto_to_satype(proto),
                    0,
                    seq,
                    0,
                ),
                extensions,
            },
            copies: 1,
        })
    }
}

/// The attributes of an SA an expiry needs, without key material.
fn lasting_attrs(attrs: &[Attr]) -> Vec<Attr> {
    let keyless = |a: &Attr, with_trunc: bool| {
        let mut algo = Algo::parse(&a.value, with_trunc).ok()?;
        algo.key_bits = 0;
        algo.key = Zeroizing::new(Vec::new());
        let mut v = Vec::new();
        algo.emit(with_trunc, &mut v);
        Some(Attr::new(a.kind, v))
    };
    attrs
        .iter()
        .filter_map(|a| match a.kind {
            attr::ALG_AUTH | attr::ALG_CRYPT | attr::ALG_COMP => keyless(a, false),
            attr::ALG_AUTH_TRUNC | attr::ALG_AEAD => keyless(a, true),
            attr::ENCAP | attr::SEC_CTX | attr::REPLAY_ESN_VAL => Some(a.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a policy event concerns a main-type policy (af_key ignores the
/// others; without sub-policy support the kernel sends no type).
fn main_type(attrs: &[Attr]) -> bool {
    find(attrs, attr::POLICY_TYPE)
        .and_then(policy_type)
        .is_none_or(|t| t == POLICY_TYPE_MAIN)
}

/// The state af_key's `key_notify_sa` shows for an SA change.
#[derive(Debug, Clone, Copy)]
enum Shown {
    /// An added or updated SA: af_key describes the SA object it was just
    /// handed, which is never dying (the kernel marks an SA dying only when
    /// it sends a soft expiry, later). Larval when it has no algorithm.
    New,
    /// A deleted SA, which af_key reports after the deletion.
    Dead,
}

/// `key_notify_sa`: the SA with keys and both lifetimes, the event's seq
/// and pid, the state as [`Shown`].
fn sa_notification(
    t: MessageType,
    h: &NlHeader,
    info: &UsersaInfo,
    attrs: &[Attr],
    shown: Shown,
) -> Option<Notification> {
    let (satype, mut extensions) = translate::state_to_pfkey(info, attrs, 0).ok()?;
    for e in &mut extensions {
        if let Extension::Sa(sa) = e {
            sa.state = match shown {
                Shown::New if sa.state == sa_state::LARVAL => sa_state::LARVAL,
                Shown::New => sa_state::MATURE,
                Shown::Dead => sa_state::DEAD,
            };
        }
    }
    Some(Notification {
        message: Message {
            header: Header::notification(t as u8, satype, 0, h.seq, h.pid),
            extensions,
        },
        copies: 2,
    })
}

/// `key_notify_policy`: the policy, its reference count in
/// `sadb_msg_reserved`, the event's seq and pid.
fn policy_notification(
    t: MessageType,
    refcnt: u16,
    h: &NlHeader,
    info: &UserpolicyInfo,
    attrs: &[Attr],
) -> Option<Notification> {
    let extensions = translate::policy_to_pfkey(info, attrs).ok()?;
    Some(Notification {
        message: Message {
            header: Header::notification(t as u8, 0, refcnt, h.seq, h.pid),
            extensions,
        },
        copies: 2,
    })
}

/// `key_notify_sa_flush` / `key_notify_policy_flush`: a bare header.
fn bare(t: MessageType, satype: u8, h: &NlHeader) -> Notification {
    Notification {
        message: Message::new(Header::notification(t as u8, satype, 0, h.seq, h.pid)),
        copies: 2,
    }
}

/// A sockaddr as af_key fills it: port, flowinfo and scope 0.
fn sockaddr(ip: IpAddr) -> SocketAddr {
    match ip {
        IpAddr::V4(_) => SocketAddr::new(ip, 0),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, 0)),
    }
}

/// af_key's acquire proposal (`dump_ah_combs`, `dump_esp_combs`): one
/// combination per algorithm (AH) or per encryption and authentication
/// algorithm pair (ESP) that the template allows — its bit masks have room
/// for ids below 32 only — and the kernel offers, in the kernel's table
/// order, with af_key's fixed lifetimes. `None` for other protocols.
fn proposal(proto: u8, aalgos: u32, ealgos: u32, available: &Available) -> Option<Extension> {
    let allowed = |mask: u32, id: u8| id < 32 && (mask >> id) & 1 == 1;
    let auth: Vec<Algorithm> = algorithms::auth()
        .filter(|a| allowed(aalgos, a.id) && available.auth.contains(&a.id))
        .collect();
    // sadb_prop_replay and three reserved bytes, then the combinations
    let mut body = vec![PROPOSAL_REPLAY, 0, 0, 0];
    match proto {
        IPPROTO_AH => {
            for a in &auth {
                comb(&mut body, Some(a), None);
            }
        }
        IPPROTO_ESP => {
            let encrypt = algorithms::encrypt()
                .filter(|e| allowed(ealgos, e.id) && available.encrypt.contains(&e.id));
            for e in encrypt {
                for a in &auth {
                    comb(&mut body, Some(a), Some(&e));
                }
            }
        }
        _ => return None,
    }
    Some(Extension::Unknown {
        ext_type: ext_type::PROPOSAL,
        body: Bytes::from(body),
    })
}

/// Appends one `struct sadb_comb`: the algorithms and their key sizes,
/// af_key's add and use times (hard 24 h / 8 h, soft 20 h / 7 h), the
/// rest zero.
fn comb(body: &mut Vec<u8>, auth: Option<&Algorithm>, encrypt: Option<&Algorithm>) {
    let start = body.len();
    let (auth_id, auth_min, auth_max) = auth.map_or((0, 0, 0), |a| (a.id, a.min_bits, a.max_bits));
    let (enc_id, enc_min, enc_max) = encrypt.map_or((0, 0, 0), |e| (e.id, e.min_bits, e.max_bits));
    Writer::new(body)
        .u8(auth_id)
        .u8(enc_id)
        .ne_u16(0) // sadb_comb_flags
        .ne_u16(auth_min)
        .ne_u16(auth_max)
        .ne_u16(enc_min)
        .ne_u16(enc_max)
        .zeros(4 + 4 + 4 + 8 + 8) // reserved, allocations, bytes
        .ne_u64(20 * 3600) // soft add time
        .ne_u64(24 * 3600) // hard add time
        .ne_u64(7 * 3600) // soft use time
        .ne_u64(8 * 3600); // hard use time
    debug_assert_eq!(body.len() - start, COMB_LEN);
}

/// A NETLINK_XFRM socket in the SA, policy, expire and acquire multicast
/// groups, converting what arrives.
pub struct XfrmMonitor {
    fd: OwnedFd,
    receive: Vec<u8>,
    /// Messages of the last datagram not converted yet.
    pending: VecDeque<NlMessage>,
    converter: Converter,
}

impl XfrmMonitor {
    /// Joins the groups (needs CAP_NET_ADMIN and the `xfrm_user` module),
    /// then reads the SAs already installed (for their expiries; a failure
    /// there only costs that).
    pub fn open() -> Result<XfrmMonitor, SocketError> {
        let fd = super::socket::open_descriptor()?;
        if socket::setsockopt(&fd, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
            let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
        }
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, GROUPS))
            .map_err(SocketError::XfrmOpen)?;
        let mut converter = Converter::new();
        if let Ok(mut s) = NetlinkSocket::open() {
            // Joined first, dumped second: an SA added in between is in
            // the dump or arrives as an event (or both; the same either way).
            let _ = remember_installed(&mut s, &mut converter);
        }
        Ok(XfrmMonitor {
            fd,
            receive: vec![0; DATAGRAM_BUFFER],
            pending: VecDeque::new(),
            converter,
        })
    }

    /// Waits for the next event af_key would send a message for.
    pub fn next_event(&mut self) -> Result<Event, SocketError> {
        loop {
            while let Some(mut m) = self.pending.pop_front() {
                if self.converter.wants_available(m.header.msg_type) {
                    self.converter.set_available(probe_available());
                }
                let converted = self.converter.convert(&m.header, &m.payload);
                // SA events hold keys
                zeroize::Zeroize::zeroize(&mut m.payload);
                if let Some(n) = converted {
                    return Ok(Event::Message(n));
                }
            }
            let n = match socket::recv(self.fd.as_raw_fd(), &mut self.receive, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::ENOBUFS) => return Ok(Event::Lost),
                Err(e) => return Err(SocketError::Receive(e)),
            };
            let datagram = self.receive.get_mut(..n).unwrap_or_default();
            // A datagram that is not netlink is skipped, not fatal.
            if let Ok(messages) = NlMessage::parse_all(datagram) {
                self.pending.extend(messages);
            }
            zeroize::Zeroize::zeroize(datagram);
        }
    }
}

/// Reads the installed SAs into `converter`.
fn remember_installed(s: &mut NetlinkSocket, converter: &mut Converter) -> Result<(), SocketError> {
    let seq = s.start(msg::GETSA, NLM_F_DUMP, Vec::new())?;
    loop {
        let end = s.dump_part(seq, |t, payload| {
            if t == msg::NEWSA
                && let Some((info, attrs)) = state_of(payload)
            {
                converter.remember(&info, &attrs);
            }
        })?;
        if end.is_some() {
            return Ok(());
        }
    }
}

/// The algorithms the kernel offers, asked as the XFRM backend answers
/// REGISTER; every row when that fails.
fn probe_available() -> Available {
    let reply = XfrmKernel::open().ok().and_then(|mut k| {
        let h = Header::request(MessageType::Register, 0, k.pid());
        k.request(&Message::new(h)).ok()
    });
    match reply {
        Some(r) if r.header.errno == 0 => Available::from_register(&r),
        _ => Available::all(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::dump::kdebug::write_kdebug;
    use crate::ir::Keys;
    use crate::pfkey::wire::{PF_KEY_V2, SaExt, messages};
    use crate::xfrm::netlink::emit_attrs;
    use crate::xfrm::wire::{LifetimeCfg, XfrmId};

    /// The recordings' clock, T0.
    const T0: u64 = 1_704_067_200;

    /// An event header as the kernel sends it for a request with this
    /// sequence number and port id (the recordings' setkey: seq 0, pid 2).
    fn event(msg_type: u16) -> NlHeader {
        NlHeader {
            msg_type,
            seq: 0,
            pid: 2,
            ..NlHeader::default()
        }
    }

    fn case(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cases")
            .join(name)
    }

    /// The messages setkey sent in a recorded case.
    fn sent(name: &str, t: MessageType) -> Vec<Message> {
        let bytes = std::fs::read(case(name).join("F.send.raw")).expect("recording");
        messages(&bytes)
            .filter_map(Result::ok)
            .filter(|m| m.header.msg_type == t as u8)
            .collect()
    }

    /// The blocks a recorded PF_KEY monitor printed (time stamps dropped).
    fn recorded_blocks(name: &str) -> Vec<String> {
        let text = std::fs::read_to_string(case(name).join("x.txt")).expect("recording");
        text.split("\n\n")
            .map(|b| {
                b.lines()
                    .filter(|l| !l.ends_with(' ') || l.starts_with("sadb"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .filter(|b| !b.is_empty())
            .collect()
    }

    /// What `-x` prints for a notification, without the time stamp.
    fn kdebug(n: &Notification) -> String {
        let mut out = Vec::new();
        write_kdebug(&mut out, &n.message.to_bytes(), Keys::Show).expect("kdebug");
        String::from_utf8(out)
            .expect("text")
            .trim_end_matches('\n')
            .to_string()
    }

    /// Asserts that the recorded monitor printed this notification exactly
    /// `copies` times in a row.
    fn assert_recorded(name: &str, n: &Notification) {
        let ours = kdebug(n);
        let blocks = recorded_blocks(name);
        let first = blocks
            .iter()
            .position(|b| *b == ours)
            .unwrap_or_else(|| panic!("{name}: not recorded:\n{ours}"));
        let run = blocks[first..].iter().take_while(|b| **b == ours).count();
        assert_eq!(run, usize::from(n.copies), "{name}: copies of\n{ours}");
    }

    /// The kernel's SA for an ADD request, created at T0.
    fn kernel_sa(request: &Message) -> (UsersaInfo, Vec<Attr>) {
        let sa = translate::sa_request(request).expect("accepted SA");
        let mut info = sa.info;
        info.curlft.add_time = T0;
        (info, sa.attrs)
    }

    fn newsa_payload(info: &UsersaInfo, attrs: &[Attr]) -> Vec<u8> {
        let mut p = Vec::new();
        info.emit(&mut p);
        emit_attrs(attrs, &mut p);
        p
    }

    /// XFRM_MSG_DELSA as the kernel sends it: the identity, then the SA in
    /// XFRMA_SA, then its other attributes.
    fn delsa_payload(info: &UsersaInfo, attrs: &[Attr]) -> Vec<u8> {
        let mut p = Vec::new();
        UsersaId {
            daddr: info.id.daddr,
            spi: info.id.spi,
            family: info.family,
            proto: info.id.proto,
        }
        .emit(&mut p);
        let mut sa = Vec::new();
        info.emit(&mut sa);
        Attr::new(attr::SA, sa).emit(&mut p);
        emit_attrs(attrs, &mut p);
        p
    }

    /// The kernel's policy for an SPDADD request: index 1, created at T0.
    fn kernel_policy(request: &Message) -> (UserpolicyInfo, Vec<Attr>) {
        let policy = translate::policy_request(request, &mut || Ok(0x4000)).expect("policy");
        let mut info = policy.info;
        info.index = 1;
        info.curlft.add_time = T0;
        let mut v = Vec::new();
        for t in &policy.templates {
            t.emit(&mut v);
        }
        (info, vec![Attr::new(attr::TMPL, v)])
    }

    fn policy_payload(info: &UserpolicyInfo, attrs: &[Attr]) -> Vec<u8> {
        let mut p = Vec::new();
        info.emit(&mut p);
        emit_attrs(attrs, &mut p);
        p
    }

    /// An SA already past its soft limits when the event is read (the
    /// monitor fell behind, or a byte limit of 0) was not dying when af_key
    /// built its ADD message: only a soft expiry, sent later, marks it.
    #[test]
    fn added_sas_show_mature_however_late_the_event_is_read() {
        let mut c = Converter::new();
        let add = &sent("079-monitor-x", MessageType::Add)[0];
        let (mut info, attrs) = kernel_sa(add);
        info.lft.soft_add_expires_seconds = 1;
        info.lft.soft_byte_limit = 0;
        for t in [msg::NEWSA, msg::UPDSA] {
            let n = c
                .convert(&event(t), &newsa_payload(&info, &attrs))
                .expect("ADD / UPDATE");
            assert_eq!(n.message.sa().map(|sa| sa.state), Some(sa_state::MATURE));
        }
    }

    #[test]
    fn sa_events_print_as_the_recorded_pf_key_monitor() {
        let mut c = Converter::new();
        // 079: add (ESP, aes-cbc + hmac-sha1), then delete
        let add = &sent("079-monitor-x", MessageType::Add)[0];
        let (info, attrs) = kernel_sa(add);
        let n = c
            .convert(&event(msg::NEWSA), &newsa_payload(&info, &attrs))
            .expect("ADD");
        assert_eq!(n.message.header.msg_type, MessageType::Add as u8);
        assert_recorded("079-monitor-x", &n);
        assert_eq!(c.known_sas(), 1);
        let n = c
            .convert(&event(msg::DELSA), &delsa_payload(&info, &attrs))
            .expect("DELETE");
        assert_eq!(n.message.sa().map(|sa| sa.state), Some(sa_state::DEAD));
        assert_recorded("079-monitor-x", &n);
        assert_eq!(c.known_sas(), 0);
        // 080: an AH SA
        let add = &sent("080-monitor-xx", MessageType::Add)[0];
        let (info, attrs) = kernel_sa(add);
        let n = c
            .convert(&event(msg::NEWSA), &newsa_payload(&info, &attrs))
            .expect("ADD");
        assert_recorded("080-monitor-xx", &n);
        // UPDSA: the same SA as an UPDATE
        let n = c
            .convert(&event(msg::UPDSA), &newsa_payload(&info, &attrs))
            .expect("UPDATE");
        assert_eq!(n.message.header.msg_type, MessageType::Update as u8);
        assert_eq!(n.copies, 2);
    }

    #[test]
    fn policy_events_print_as_the_recorded_pf_key_monitor() {
        let mut c = Converter::new();
        for name in ["079-monitor-x", "080-monitor-xx"] {
            let (info, attrs) = kernel_policy(&sent(name, MessageType::SpdAdd)[0]);
            let n = c
                .convert(&event(msg::NEWPOLICY), &policy_payload(&info, &attrs))
                .expect("SPDADD");
            assert_eq!(n.message.header.reserved, 3);
            assert_recorded(name, &n);
        }
        // 080 deletes its tunnel policy by selector
        let (info, attrs) = kernel_policy(&sent("080-monitor-xx", MessageType::SpdAdd)[0]);
        let mut p = Vec::new();
        UserpolicyId {
            sel: info.sel,
            index: 0,
            dir: info.dir,
        }
        .emit(&mut p);
        let mut v = Vec::new();
        info.emit(&mut v);
        Attr::new(attr::POLICY, v).emit(&mut p);
        emit_attrs(&attrs, &mut p);
        let n = c.convert(&event(msg::DELPOLICY), &p).expect("SPDDELETE");
        assert_recorded("080-monitor-xx", &n);
        // deleted by index: SPDDELETE2
        let mut by_index = Vec::new();
        UserpolicyId {
            sel: Selector::default(),
            index: 1,
            dir: info.dir,
        }
        .emit(&mut by_index);
        by_index.extend_from_slice(&p[UserpolicyId::LEN..]);
        let n = c.convert(&event(msg::DELPOLICY), &by_index).expect("2");
        assert_eq!(n.message.header.msg_type, MessageType::SpdDelete2 as u8);
        assert_eq!(n.message.header.reserved, 1);
        assert_eq!(n.copies, 2);
        // UPDPOLICY: SPDUPDATE
        let n = c
            .convert(&event(msg::UPDPOLICY), &policy_payload(&info, &attrs))
            .expect("SPDUPDATE");
        assert_eq!(n.message.header.msg_type, MessageType::SpdUpdate as u8);
    }

    #[test]
    fn flushes_are_bare_headers_with_the_event_seq_and_pid() {
        let mut c = Converter::new();
        let (info, attrs) = kernel_sa(&sent("079-monitor-x", MessageType::Add)[0]);
        c.remember(&info, &attrs);
        let h = NlHeader {
            msg_type: msg::FLUSHSA,
            seq: 7,
            pid: 4242,
            ..NlHeader::default()
        };
        let n = c.convert(&h, &[IPPROTO_AH]).expect("FLUSH");
        assert_eq!(c.known_sas(), 1, "an AH flush keeps ESP SAs");
        assert_eq!(
            n.message,
            Message::new(Header {
                version: PF_KEY_V2,
                msg_type: MessageType::Flush as u8,
                satype: 2,
                seq: 7,
                pid: 4242,
                ..Header::default()
            })
        );
        assert_eq!(n.copies, 2);
        let n = c.convert(&h, &[255]).expect("FLUSH");
        assert_eq!(n.message.header.satype, 0);
        assert_eq!(c.known_sas(), 0);
        let h = NlHeader {
            msg_type: msg::FLUSHPOLICY,
            ..h
        };
        let n = c.convert(&h, &[]).expect("SPDFLUSH");
        assert_eq!(n.message.header.msg_type, MessageType::SpdFlush as u8);
        assert_eq!((n.message.header.seq, n.message.header.pid), (7, 4242));
        assert!(n.message.extensions.is_empty());
        // a sub-policy flush: af_key says nothing
        let mut sub = Vec::new();
        Attr::new(attr::POLICY_TYPE, vec![1, 0, 0, 0]).emit(&mut sub);
        assert_eq!(c.convert(&h, &sub), None);
    }

    fn sa_ext(n: &Notification) -> SaExt {
        n.message.sa().copied().expect("SA extension")
    }

    fn kinds(n: &Notification) -> Vec<u16> {
        n.message.extensions.iter().map(|e| e.ext_type()).collect()
    }

    /// `struct xfrm_user_expire`: the SA and the `hard` byte, padded to 8.
    fn expire_payload(info: &UsersaInfo, hard: bool) -> Vec<u8> {
        let mut p = Vec::new();
        info.emit(&mut p);
        p.push(u8::from(hard));
        p.resize(232, 0);
        p
    }

    #[test]
    fn expiries_carry_the_known_algorithms_without_keys() {
        let mut c = Converter::new();
        let (mut info, attrs) = kernel_sa(&sent("079-monitor-x", MessageType::Add)[0]);
        info.lft = LifetimeCfg {
            soft_add_expires_seconds: 1,
            hard_add_expires_seconds: 3,
            ..LifetimeCfg::default()
        };
        c.convert(&event(msg::NEWSA), &newsa_payload(&info, &attrs))
            .expect("ADD");
        // soft: dying, soft lifetime and current, no keys
        let n = c
            .convert(&event(event::EXPIRE), &expire_payload(&info, false))
            .expect("soft EXPIRE");
        assert_eq!(n.copies, 1);
        let h = n.message.header;
        assert_eq!((h.msg_type, h.satype, h.seq, h.pid), (8, 3, 0, 0));
        let sa = sa_ext(&n);
        assert_eq!((sa.state, sa.auth, sa.encrypt), (sa_state::DYING, 3, 12));
        assert_eq!(kinds(&n), [1, 4, 2, 5, 6, 7, 19]);
        // hard: dead, hard lifetime; the SA is forgotten
        let n = c
            .convert(&event(event::EXPIRE), &expire_payload(&info, true))
            .expect("hard EXPIRE");
        let sa = sa_ext(&n);
        assert_eq!((sa.state, sa.auth, sa.encrypt), (sa_state::DEAD, 3, 12));
        assert_eq!(kinds(&n), [1, 3, 2, 5, 6, 7, 19]);
        assert_eq!(c.known_sas(), 0);
        // an SA the monitor never saw: no algorithm to name
        let n = c
            .convert(&event(event::EXPIRE), &expire_payload(&info, false))
            .expect("EXPIRE");
        let sa = sa_ext(&n);
        assert_eq!((sa.state, sa.auth, sa.encrypt), (sa_state::LARVAL, 0, 0));
    }

    #[test]
    fn remembered_sas_hold_no_keys() {
        let mut c = Converter::new();
        let (info, attrs) = kernel_sa(&sent("079-monitor-x", MessageType::Add)[0]);
        c.remember(&info, &attrs);
        let kept: Vec<&Attr> = c.sas.values().flatten().collect();
        assert_eq!(kept.len(), 2);
        for a in kept {
            let algo = Algo::parse(&a.value, a.kind == attr::ALG_AUTH_TRUNC).expect("algo");
            assert_eq!((algo.key_bits, algo.key.len()), (0, 0), "{}", algo.name);
        }
    }

    /// XFRM_MSG_ACQUIRE for an outbound transport template of policy 9
    /// whose algorithm masks are all `masks`.
    fn acquire_payload(proto: u8, masks: u32) -> Vec<u8> {
        let a = |s: &str| XfrmAddress::from_ip(s.parse().expect("address"));
        let mut p = Vec::new();
        // struct xfrm_id: destination, SPI 0, protocol
        p.extend_from_slice(&a("10.91.0.2").0);
        p.extend_from_slice(&[0, 0, 0, 0, proto, 0, 0, 0]);
        p.extend_from_slice(&a("10.91.0.1").0);
        Selector {
            family: AF_INET,
            ..Selector::default()
        }
        .emit(&mut p);
        UserpolicyInfo {
            priority: 0x8000_0000,
            index: 9,
            dir: 1,
            ..UserpolicyInfo::default()
        }
        .emit(&mut p);
        for w in [masks, masks, masks, 77] {
            p.extend_from_slice(&w.to_ne_bytes());
        }
        assert_eq!(p.len(), ACQUIRE_LEN);
        let mut t = Vec::new();
        UserTmpl {
            id: XfrmId {
                proto,
                ..XfrmId::default()
            },
            family: AF_INET,
            mode: mode::TRANSPORT,
            aalgos: masks,
            ealgos: masks,
            calgos: masks,
            ..UserTmpl::default()
        }
        .emit(&mut t);
        Attr::new(attr::TMPL, t).emit(&mut p);
        p
    }

    /// The combinations of a proposal: (auth id, encrypt id) pairs.
    fn combs(n: &Notification) -> Vec<(u8, u8)> {
        let body = n
            .message
            .extensions
            .iter()
            .find_map(|e| match e {
                Extension::Unknown { ext_type: 13, body } => Some(body.clone()),
                _ => None,
            })
            .expect("proposal");
        assert_eq!(body[0], 32, "sadb_prop_replay");
        body[4..].chunks(COMB_LEN).map(|c| (c[0], c[1])).collect()
    }

    #[test]
    fn acquires_propose_what_the_template_allows_and_the_kernel_offers() {
        let mut c = Converter::new();
        assert!(c.wants_available(event::ACQUIRE));
        assert!(!c.wants_available(msg::NEWSA));
        c.set_available(Available {
            auth: vec![251, 2, 5],
            encrypt: vec![11, 12],
        });
        assert!(!c.wants_available(event::ACQUIRE));
        let n = c
            .convert(&event(event::ACQUIRE), &acquire_payload(IPPROTO_ESP, !0))
            .expect("ACQUIRE");
        assert_eq!(n.copies, 1);
        let h = n.message.header;
        assert_eq!((h.msg_type, h.satype, h.seq, h.pid), (6, 3, 77, 0));
        // digest_null (id 251) has no bit in the template's mask
        assert_eq!(combs(&n), [(2, 11), (5, 11), (2, 12), (5, 12)]);
        assert_eq!(kinds(&n), [5, 6, 18, 13]);
        let p = n.message.policy().expect("policy");
        assert_eq!((p.policy_type, p.dir, p.id), (2, 2, 9));
        assert_eq!(
            n.message.address(AddressKind::Src).map(|a| a.addr),
            Some("10.91.0.1:0".parse().expect("address"))
        );
        // a comb as af_key fills it: the first, md5 with null encryption
        let bytes = n.message.to_bytes();
        let comb = &bytes[16 + 24 + 24 + 16 + 8..][..COMB_LEN];
        assert_eq!(&comb[4..8], &[128, 0, 128, 0][..], "md5 key bits");
        assert_eq!(&comb[48..56], &86_400u64.to_ne_bytes()[..], "hard addtime");
        let n = c
            .convert(&event(event::ACQUIRE), &acquire_payload(IPPROTO_AH, !0))
            .expect("ACQUIRE");
        assert_eq!(combs(&n), [(2, 0), (5, 0)]);
        // templates made through PF_KEY allow no algorithm by mask
        let n = c
            .convert(&event(event::ACQUIRE), &acquire_payload(IPPROTO_ESP, 0))
            .expect("ACQUIRE");
        assert_eq!(combs(&n), []);
    }

    #[test]
    fn events_af_key_ignores_and_malformed_events_give_nothing() {
        let mut c = Converter::new();
        c.set_available(Available::all());
        assert_eq!(c.convert(&event(event::POLEXPIRE), &[0; 256]), None);
        assert_eq!(c.convert(&event(0x1e), &[0; 256]), None);
        // a sub-policy
        let (info, mut attrs) = kernel_policy(&sent("079-monitor-x", MessageType::SpdAdd)[0]);
        attrs.push(Attr::new(attr::POLICY_TYPE, vec![1, 0, 0, 0]));
        let policy = policy_payload(&info, &attrs);
        assert_eq!(c.convert(&event(msg::NEWPOLICY), &policy), None);
        // every truncation of every event, and garbage: no panic
        let (sa, sa_attrs) = kernel_sa(&sent("079-monitor-x", MessageType::Add)[0]);
        let payloads = [
            (msg::NEWSA, newsa_payload(&sa, &sa_attrs)),
            (msg::DELSA, delsa_payload(&sa, &sa_attrs)),
            (event::EXPIRE, expire_payload(&sa, true)),
            (event::ACQUIRE, acquire_payload(IPPROTO_ESP, !0)),
            (msg::NEWPOLICY, policy),
        ];
        for (t, payload) in &payloads {
            for n in 0..payload.len() {
                let _ = c.convert(&event(*t), &payload[..n]);
            }
            let mut garbage = payload.clone();
            for b in garbage.iter_mut().step_by(7) {
                *b = 0xff;
            }
            let _ = c.convert(&event(*t), &garbage);
        }
    }
}
