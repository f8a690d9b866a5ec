//! Building af_key's answers and reading xfrm_user's: PF_KEY replies and
//! notifications, algorithm probes, the hints that explain refusals.

use super::*;

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
pub(super) fn probe_payload(proto: u8, kind: u16, a: &Algorithm) -> Vec<u8> {
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

pub(super) fn desc(a: &Algorithm) -> AlgorithmDesc {
    AlgorithmDesc {
        id: a.id,
        ivlen: a.ivlen,
        min_bits: a.min_bits,
        max_bits: a.max_bits,
    }
}

/// A unicast answer (GET, GETSPI): version and type of the request.
pub(super) fn answer(h: Header, satype: u8, reserved: u16, ext: Vec<Extension>) -> Message {
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
pub(super) fn notification(h: Header, satype: u8, ext: Vec<Extension>) -> Message {
    Message {
        header: Header::notification(h.msg_type, satype, 0, h.seq, h.pid),
        extensions: ext,
    }
}

/// A policy notification: `key_notify_policy`'s header.
pub(super) fn policy_notification(
    h: Header,
    t: MessageType,
    reserved: u16,
    ext: Vec<Extension>,
) -> Message {
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

pub(super) fn first_state(data: &[NlMessage]) -> Option<(UsersaInfo, Vec<Attr>)> {
    data.iter()
        .filter(|m| m.header.msg_type == msg::NEWSA)
        .find_map(|m| state_of(&m.payload))
}

pub(super) fn first_policy(data: &[NlMessage]) -> Option<(UserpolicyInfo, Vec<Attr>)> {
    data.iter()
        .filter(|m| m.header.msg_type == msg::NEWPOLICY)
        .find_map(|m| policy_of(&m.payload))
}

/// The kernel's explanation, completed with what a refusal usually means
/// about the running kernel.
/// What a probe's errno says the kernel lacks (see `XfrmKernel::probe_sa`).
pub(super) fn lacking(proto: u8, family: u16, errno: i32) -> Option<String> {
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

pub(super) fn hint(msg_type: u16, errno: i32, message: Option<String>) -> Option<String> {
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
pub(super) fn now() -> u64 {
    crate::os::now()
}
