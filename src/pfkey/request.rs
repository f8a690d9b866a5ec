//! IR operations as the PF_KEY messages setkey sends for them.
//!
//! The extension order of every message is setkey's (see the fact sheet of
//! the messages it sends), so that a capture of rsetkey's requests reads
//! like a capture of setkey's.

use crate::ir::{Policy, TaggedPolicy};
use std::net::{IpAddr, SocketAddr};

use zeroize::Zeroizing;

use super::wire::{
    AddressExt, AddressKind, Extension, Header, IpsecRequestExt, KeyExt, KeyKind, LifetimeExt,
    LifetimeKind, Message, MessageType, NatTPortKind, PolicyExt, SATYPE_AH, SATYPE_ESP,
    SATYPE_IPCOMP, SATYPE_UNSPEC, Sa2Ext, SaExt, SecCtxExt, SupportedKind, ipsec,
};
use crate::algorithms::{self, Kind, Setkey};
use crate::ir::{
    AuthAlgorithm, CompressionAlgorithm, Direction, EncryptAlgorithm, IpsecMode, IpsecProtocol,
    IpsecRequest, Level, Lifetime, Operation, PolicyAction, PolicyRequest, SaType,
    SecurityAssociation, SecurityContext, SupportedAlgorithms,
};

/// `sadb_msg_satype` of an SA type.
pub fn satype(t: SaType) -> u8 {
    match t {
        SaType::Unspec => SATYPE_UNSPEC,
        SaType::Ah => SATYPE_AH,
        SaType::Esp => SATYPE_ESP,
        SaType::IpComp => SATYPE_IPCOMP,
    }
}

/// PF_KEY id of an encryption algorithm.
pub fn encrypt_id(alg: EncryptAlgorithm) -> u8 {
    alg.row().id
}

/// PF_KEY id of an authentication algorithm.
pub fn auth_id(alg: AuthAlgorithm) -> u8 {
    alg.row().id
}

/// PF_KEY id of a compression algorithm.
pub fn compression_id(alg: CompressionAlgorithm) -> u8 {
    alg.row().id
}

fn mode(m: IpsecMode) -> u8 {
    match m {
        IpsecMode::Any => ipsec::MODE_ANY,
        IpsecMode::Transport => ipsec::MODE_TRANSPORT,
        IpsecMode::Tunnel => ipsec::MODE_TUNNEL,
    }
}

/// The SADB_REGISTER request (satype 0: the kernel lists every algorithm).
pub fn register(header: Header) -> Message {
    bare(header, MessageType::Register, 0)
}

/// A message with no extensions: flush, dump, spdflush, spddump.
pub fn bare(mut header: Header, msg_type: MessageType, satype: u8) -> Message {
    header.msg_type = msg_type as u8;
    header.satype = satype;
    Message {
        header,
        extensions: Vec::new(),
    }
}

/// What a SADB_REGISTER reply says the kernel supports, in setkey's terms.
/// Algorithms setkey cannot name are left out.
pub fn supported_algorithms(reply: &Message) -> SupportedAlgorithms {
    let mut supported = SupportedAlgorithms::default();
    for ext in &reply.extensions {
        let Extension::Supported(kind, algs) = ext else {
            continue;
        };
        let kind = match kind {
            SupportedKind::Auth => Kind::Authentication,
            SupportedKind::Encrypt => Kind::Encryption,
        };
        for alg in algs {
            match algorithms::by_id(kind, alg.id).map(|row| row.setkey) {
                Some(Setkey::Auth(a)) => supported.auth.push((a, alg.min_bits, alg.max_bits)),
                Some(Setkey::Encrypt(e)) => supported.encrypt.push((e, alg.min_bits, alg.max_bits)),
                _ => {}
            }
        }
    }
    supported
}

fn sa_address(kind: AddressKind, addr: SocketAddr) -> Extension {
    Extension::Address(
        kind,
        AddressExt {
            proto: ipsec::PROTO_ANY,
            prefixlen: full_prefix(addr.ip()),
            addr,
        },
    )
}

fn full_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn lifetime(kind: LifetimeKind, l: &Lifetime) -> Option<Extension> {
    l.is_set().then(|| {
        Extension::Lifetime(
            kind,
            LifetimeExt {
                allocations: 0,
                bytes: l.bytes,
                addtime: l.seconds,
                usetime: 0,
            },
        )
    })
}

fn context(ctx: &Option<SecurityContext>) -> Option<Extension> {
    context_extension(ctx).map(Extension::SecCtx)
}

/// The X_SEC_CTX extension of a `-ctx`: none when its DOI is 0.
pub fn context_extension(ctx: &Option<SecurityContext>) -> Option<SecCtxExt> {
    let ctx = ctx.as_ref().filter(|c| c.doi != 0)?;
    // setkey sends the string with its terminating NUL and counts it.
    let mut context = ctx.context.clone();
    context.push(0);
    Some(SecCtxExt {
        alg: ctx.alg,
        doi: ctx.doi,
        context,
    })
}

fn key(kind: KeyKind, bytes: &[u8]) -> Extension {
    Extension::Key(
        kind,
        KeyExt {
            bits: (bytes.len() * 8) as u16,
            key: Zeroizing::new(bytes.to_vec()),
        },
    )
}

/// Which SA message to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaMessage {
    /// SADB_ADD: everything.
    Add,
    /// SADB_GETSPI: lifetimes, context, SPI range, SA, SA2, addresses.
    GetSpi,
    /// SADB_GET: SA, SA2, addresses.
    Get,
    /// SADB_DELETE: SA, SA2, addresses.
    Delete,
}

/// The message setkey sends for an SA statement.
pub fn security_association(header: Header, kind: SaMessage, sa: &SecurityAssociation) -> Message {
    let msg_type = match kind {
        SaMessage::Add => MessageType::Add,
        SaMessage::GetSpi => MessageType::GetSpi,
        SaMessage::Get => MessageType::Get,
        SaMessage::Delete => MessageType::Delete,
    };
    let mut m = bare(header, msg_type, satype(sa.satype));
    let ext = &mut m.extensions;
    let full = matches!(kind, SaMessage::Add | SaMessage::GetSpi);
    let (mut auth, mut encrypt) = (0, 0);
    if kind == SaMessage::Add {
        if let Some((alg, k)) = &sa.transforms.encrypt {
            encrypt = encrypt_id(*alg);
            if sa.satype != SaType::IpComp {
                ext.push(key(KeyKind::Encrypt, k.as_bytes()));
            }
        }
        if let Some((alg, k)) = &sa.transforms.auth {
            auth = auth_id(*alg);
            if let Some(k) = k {
                ext.push(key(KeyKind::Auth, k.as_bytes()));
            }
        }
        if let Some(c) = sa.transforms.compression {
            encrypt = compression_id(c);
        }
    }
    if full {
        ext.extend(lifetime(LifetimeKind::Hard, &sa.hard));
        ext.extend(lifetime(LifetimeKind::Soft, &sa.soft));
        ext.extend(context(&sa.context));
    }
    if kind == SaMessage::GetSpi && sa.spi != 0 {
        ext.push(Extension::SpiRange {
            min: sa.spi,
            max: sa.spi,
        });
    }
    ext.push(Extension::Sa(SaExt {
        spi: sa.spi,
        replay: sa.replay,
        state: 0,
        auth,
        encrypt,
        flags: sa.flags,
    }));
    if let Some(window) = sa.wide_replay.filter(|_| kind == SaMessage::Add) {
        ext.push(Extension::wide_replay(window));
    }
    ext.push(Extension::Sa2(Sa2Ext {
        mode: mode(sa.mode),
        sequence: 0,
        reqid: sa.reqid,
    }));
    let nat = sa.nat.filter(|_| full);
    if let Some(nat) = nat {
        ext.push(Extension::NatTType(ipsec::NAT_T_TYPE_ESPINUDP));
        if let Some(oa) = nat.original {
            ext.push(sa_address(AddressKind::NatTOa, SocketAddr::new(oa, 0)));
        }
    }
    ext.push(sa_address(AddressKind::Src, sa.src));
    ext.push(sa_address(AddressKind::Dst, sa.dst));
    if let Some(nat) = nat {
        ext.push(Extension::NatTPort(NatTPortKind::Src, nat.sport));
        ext.push(Extension::NatTPort(NatTPortKind::Dst, nat.dport));
    }
    m
}

/// Why an operation needs the kernel's XFRM interface, if it does: what
/// Linux's PF_KEY cannot express (af_key knows no AEAD cipher, no
/// extended sequence numbers and no replay window past 8 bits). The one
/// place that decides it: `--backend auto` takes XFRM for a script with
/// such an operation, `--backend pfkey` refuses the script before anything
/// is sent.
pub fn needs_xfrm(op: &Operation) -> Option<String> {
    let Operation::Add(sa) = op else {
        return None;
    };
    if let Some((alg, _)) = &sa.transforms.encrypt
        && alg.row().aead.is_some()
    {
        let name = alg.row().printed_name().unwrap_or_default();
        return Some(format!(
            "{name} is a combined-mode (AEAD) cipher, which Linux's PF_KEY cannot express"
        ));
    }
    if sa.flags & crate::ir::sa_flags::FLAG_ESN != 0 {
        return Some("-f esn: Linux's PF_KEY cannot express extended sequence numbers".to_string());
    }
    if let Some(window) = sa.wide_replay {
        return Some(format!(
            "-r {window}: PF_KEY's replay window field has 8 bits (at most 255)"
        ));
    }
    None
}

/// Which policy message to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyMessage {
    /// SADB_X_SPDADD.
    Add,
    /// SADB_X_SPDUPDATE.
    Update,
    /// SADB_X_SPDDELETE.
    Delete,
}

/// The message setkey sends for a policy statement.
pub fn policy(header: Header, kind: PolicyMessage, p: &PolicyRequest) -> Message {
    let mut m = Message::new(policy_header(header, kind));
    // The policy, two addresses and maybe a context: allocated once.
    m.extensions
        .reserve_exact(3 + usize::from(p.context.as_ref().is_some_and(|c| c.doi != 0)));
    m.extensions.push(policy_extension(&p.policy));
    let [src, dst] = selector_addresses(p);
    m.extensions.push(Extension::Address(AddressKind::Src, src));
    m.extensions.push(Extension::Address(AddressKind::Dst, dst));
    m.extensions.extend(context(&p.context));
    m
}

/// The header of a policy message.
pub fn policy_header(header: Header, kind: PolicyMessage) -> Header {
    let msg_type = match kind {
        PolicyMessage::Add => MessageType::SpdAdd,
        PolicyMessage::Update => MessageType::SpdUpdate,
        PolicyMessage::Delete => MessageType::SpdDelete,
    };
    bare(header, msg_type, 0).header
}

/// The source and destination address extensions of a policy message.
pub fn selector_addresses(p: &PolicyRequest) -> [AddressExt; 2] {
    [&p.src, &p.dst].map(|sel| AddressExt {
        proto: p.upper,
        prefixlen: sel.prefixlen,
        addr: sel.addr,
    })
}

/// The message setkey sends for `spdadd tagged` / `spdupdate tagged`:
/// the policy alone (setkey adds a tag extension only where PF_KEY has
/// one, which Linux's does not), so Linux refuses it with `EINVAL`.
pub fn tagged_policy(header: Header, update: bool, t: &TaggedPolicy) -> Message {
    let msg_type = if update {
        MessageType::SpdUpdate
    } else {
        MessageType::SpdAdd
    };
    let mut m = bare(header, msg_type, 0);
    m.extensions.push(policy_extension(&t.policy));
    m
}

/// The X_POLICY extension of a policy.
fn policy_extension(p: &Policy) -> Extension {
    let (policy_type, dir) = policy_kind(p);
    Extension::Policy(PolicyExt {
        policy_type,
        dir,
        id: 0,
        priority: p.priority,
        requests: p.requests.iter().map(request_extension).collect(),
    })
}

/// The `sadb_x_policy_type` and `sadb_x_policy_dir` of a policy.
pub fn policy_kind(p: &Policy) -> (u16, u8) {
    let policy_type = match p.action {
        PolicyAction::Discard => ipsec::POLICY_DISCARD,
        PolicyAction::None => ipsec::POLICY_NONE,
        PolicyAction::Ipsec => ipsec::POLICY_IPSEC,
        PolicyAction::Entrust => ipsec::POLICY_ENTRUST,
        PolicyAction::Bypass => ipsec::POLICY_BYPASS,
    };
    let dir = match p.direction {
        Direction::In => ipsec::DIR_INBOUND,
        Direction::Out => ipsec::DIR_OUTBOUND,
        Direction::Fwd => ipsec::DIR_FWD,
    };
    (policy_type, dir)
}

/// One request of a policy as its `sadb_x_ipsecrequest`.
pub fn request_extension(r: &IpsecRequest) -> IpsecRequestExt {
    IpsecRequestExt {
        proto: match r.protocol {
            IpsecProtocol::Esp => libc::IPPROTO_ESP as u16,
            IpsecProtocol::Ah => libc::IPPROTO_AH as u16,
            IpsecProtocol::IpComp => libc::IPPROTO_COMP as u16,
        },
        mode: mode(r.mode),
        level: match r.level {
            Level::Default => ipsec::LEVEL_DEFAULT,
            Level::Use => ipsec::LEVEL_USE,
            Level::Require => ipsec::LEVEL_REQUIRE,
            Level::Unique => ipsec::LEVEL_UNIQUE,
        },
        reqid: r.reqid,
        endpoints: r.endpoints.as_deref().copied(),
    }
}

/// Whether an SA in a dump reply lies between one of `src` and one of `dst`
/// (for `deleteall`).
pub fn sa_between(message: &Message, src: &[IpAddr], dst: &[IpAddr]) -> bool {
    let addr = |kind| {
        message.extensions.iter().find_map(|e| match e {
            Extension::Address(k, a) if *k == kind => Some(a.addr.ip()),
            _ => None,
        })
    };
    let same = |a: IpAddr, list: &[IpAddr]| list.iter().any(|b| canonical(*b) == canonical(a));
    match (addr(AddressKind::Src), addr(AddressKind::Dst)) {
        (Some(s), Some(d)) => same(s, src) && same(d, dst),
        _ => false,
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The DELETE request for an SA found in a dump (deleteall): SA (SPI only),
/// SA2 and the two addresses, as setkey builds it.
pub fn delete_dumped(header: Header, dumped: &Message) -> Option<Message> {
    let spi = dumped.extensions.iter().find_map(|e| match e {
        Extension::Sa(sa) => Some(sa.spi),
        _ => None,
    })?;
    let addr = |kind| {
        dumped.extensions.iter().find_map(|e| match e {
            Extension::Address(k, a) if *k == kind => Some(a.addr),
            _ => None,
        })
    };
    let (src, dst) = (addr(AddressKind::Src)?, addr(AddressKind::Dst)?);
    let mut m = bare(header, MessageType::Delete, dumped.header.satype);
    m.extensions.push(Extension::Sa(SaExt {
        spi,
        replay: 0,
        state: 0,
        auth: 0,
        encrypt: 0,
        flags: crate::ir::sa_flags::FLAG_CYCSEQ,
    }));
    m.extensions.push(Extension::Sa2(Sa2Ext {
        mode: 0,
        sequence: 0,
        reqid: 0,
    }));
    m.extensions
        .push(sa_address(AddressKind::Src, SocketAddr::new(src.ip(), 0)));
    m.extensions
        .push(sa_address(AddressKind::Dst, SocketAddr::new(dst.ip(), 0)));
    Some(m)
}

/// The request setkey sends first for an operation: the only one, except for
/// `deleteall`, whose DUMP is followed by one DELETE per SA found (built
/// with [`delete_dumped`]). `None` for `exit`.
pub fn for_operation(header: Header, op: &Operation) -> Option<Message> {
    Some(match op {
        Operation::Exit => return None,
        Operation::Flush(t) => bare(header, MessageType::Flush, satype(*t)),
        Operation::Dump(t) => bare(header, MessageType::Dump, satype(*t)),
        Operation::SpdFlush => bare(header, MessageType::SpdFlush, 0),
        Operation::SpdDump => bare(header, MessageType::SpdDump, 0),
        Operation::Add(sa) => security_association(header, SaMessage::Add, sa),
        Operation::Get(sa) => security_association(header, SaMessage::Get, sa),
        Operation::Delete(sa) => security_association(header, SaMessage::Delete, sa),
        Operation::GetSpi(sa) => security_association(header, SaMessage::GetSpi, sa),
        Operation::DeleteAll(d) => bare(header, MessageType::Dump, satype(d.satype)),
        Operation::SpdAdd(p) => policy(header, PolicyMessage::Add, p),
        Operation::SpdUpdate(p) => policy(header, PolicyMessage::Update, p),
        Operation::SpdDelete(p) => policy(header, PolicyMessage::Delete, p),
        Operation::SpdAddTagged(t) => tagged_policy(header, false, t),
        Operation::SpdUpdateTagged(t) => tagged_policy(header, true, t),
    })
}

#[cfg(test)]
mod tagged_tests {
    use super::*;
    use crate::ir::{Direction, PRIORITY_DEFAULT, Policy, PolicyAction};

    #[test]
    fn a_tagged_policy_is_sent_as_its_policy_alone() {
        let t = TaggedPolicy {
            tag: "web".into(),
            policy: Policy {
                direction: Direction::Out,
                action: PolicyAction::None,
                priority: PRIORITY_DEFAULT,
                requests: Default::default(),
            },
        };
        for (op, want) in [
            (Operation::SpdAddTagged(t.clone()), MessageType::SpdAdd),
            (Operation::SpdUpdateTagged(t), MessageType::SpdUpdate),
        ] {
            let m = for_operation(Header::default(), &op).expect("a message");
            assert_eq!(m.header.msg_type, want as u8);
            assert_eq!(m.extensions.len(), 1, "{:?}", m.extensions);
            assert!(matches!(m.extensions[0], Extension::Policy(_)));
        }
    }
}
