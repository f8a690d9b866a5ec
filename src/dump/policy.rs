//! The SP block (`pfkey_spdump` in setkey, `ipsec_dump_policy` in libipsec).

use super::Printer;
use super::addr::push_ip;
use super::sa::push_sec_ctx;
use super::text::push_u64;
use crate::pfkey::wire::{
    AddressExt, AddressKind, IpsecRequestExt, LifetimeKind, Message, PolicyExt, ipsec,
};

/// IPPROTO_ICMP
pub(super) const PROTO_ICMP: u8 = 1;
/// IPPROTO_GRE
pub(super) const PROTO_GRE: u8 = 47;
/// IPPROTO_ICMPV6
pub(super) const PROTO_ICMPV6: u8 = 58;
/// IPPROTO_MH
pub(super) const PROTO_MH: u8 = 135;

/// Whether setkey on Linux treats the entry as a per-socket policy: the
/// kernel index says socket direction (`id % 8 >= 3`) or a selector is
/// missing.
pub fn is_per_socket(msg: &Message) -> bool {
    msg.policy().is_some_and(|p| p.id % 8 >= 3)
        || msg.address(AddressKind::Src).is_none()
        || msg.address(AddressKind::Dst).is_none()
}

/// `/prefix` unless full length, then `[port]`/`[any]` unless the
/// protocol carries no ports (ICMP, ICMPv6, MH, GRE).
fn push_prefport(s: &mut Vec<u8>, a: &AddressExt, ulp: u8) {
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefixlen != full {
        s.push(b'/');
        push_u64(s, u64::from(a.prefixlen));
    }
    match ulp {
        PROTO_ICMP | PROTO_ICMPV6 | PROTO_MH | PROTO_GRE => {}
        _ if a.addr.port() == 0 => s.extend_from_slice(b"[any]"),
        _ => push_bracketed(s, a.addr.port()),
    }
}

/// `[port]`.
fn push_bracketed(s: &mut Vec<u8>, port: u16) {
    s.push(b'[');
    push_u64(s, u64::from(port));
    s.push(b']');
}

/// The selector line (without its newline).
fn push_selectors(s: &mut Vec<u8>, src: &AddressExt, dst: &AddressExt, p: &Printer<'_>) -> bool {
    let ulp = src.proto;
    push_ip(s, &src.addr);
    push_prefport(s, src, ulp);
    s.push(b' ');
    push_ip(s, &dst.addr);
    push_prefport(s, dst, ulp);
    s.push(b' ');
    if src.proto != dst.proto {
        s.extend_from_slice(b"upper layer protocol mismatched.\n");
        return false;
    }
    match p.protocols.name(ulp) {
        Some(name) => s.extend_from_slice(name.as_bytes()),
        None => push_u64(s, u64::from(ulp)),
    }
    let (sport, dport) = (src.addr.port(), dst.addr.port());
    if sport != 0 || dport != 0 {
        match ulp {
            PROTO_ICMP | PROTO_ICMPV6 | PROTO_MH => {
                s.push(b' ');
                push_u64(s, u64::from(sport));
                s.push(b',');
                push_u64(s, u64::from(dport));
            }
            PROTO_GRE => {
                s.push(b' ');
                push_u64(s, u64::from((u32::from(sport) << 16) | u32::from(dport)));
            }
            _ => {}
        }
    }
    true
}

/// libipsec's policy text, or its error text (`Invalid direction`, ...).
pub fn policy_string(pol: &PolicyExt, show_ports: bool) -> Result<String, &'static str> {
    let mut s = Vec::new();
    push_policy(&mut s, pol, show_ports)?;
    Ok(s.into_iter().map(char::from).collect())
}

/// [`policy_string`] appended to `s`; on an error nothing is appended.
fn push_policy(s: &mut Vec<u8>, pol: &PolicyExt, show_ports: bool) -> Result<(), &'static str> {
    let start = s.len();
    let result = push_policy_parts(s, pol, show_ports);
    if result.is_err() {
        s.truncate(start);
    }
    result
}

fn push_policy_parts(
    s: &mut Vec<u8>,
    pol: &PolicyExt,
    show_ports: bool,
) -> Result<(), &'static str> {
    let dir = match pol.dir {
        0 => "any",
        1 => "in",
        2 => "out",
        3 => "fwd",
        4 => "in(socket)",
        5 => "out(socket)",
        _ => return Err("Invalid direction"),
    };
    let kind = match pol.policy_type {
        0 => "discard",
        1 => "none",
        2 => "ipsec",
        3 => "entrust",
        4 => "bypass",
        _ => return Err("Invalid security policy"),
    };
    s.extend_from_slice(dir.as_bytes());
    let p = pol.priority;
    if p != 0 {
        let (base, name) = if p < (ipsec::PRIORITY_DEFAULT / 4) * 3 {
            (ipsec::PRIORITY_HIGH, "high")
        } else if p < (ipsec::PRIORITY_DEFAULT / 4) * 5 {
            (ipsec::PRIORITY_DEFAULT, "def")
        } else {
            (ipsec::PRIORITY_LOW, "low")
        };
        // A numerically smaller priority is a stronger one, hence the sign
        // flip: p = def − 10 prints as `def + 10`.
        let off = p.wrapping_sub(base) as i32;
        let v = -i64::from(off);
        s.extend_from_slice(b" prio ");
        s.extend_from_slice(name.as_bytes());
        if v != 0 {
            s.extend_from_slice(if v > 0 { b" + " } else { b" - " });
            push_u64(s, v.unsigned_abs());
        }
    }
    s.push(b' ');
    s.extend_from_slice(kind.as_bytes());
    if pol.policy_type != ipsec::POLICY_IPSEC {
        return Ok(());
    }
    for req in &pol.requests {
        s.extend_from_slice(b"\n\t");
        push_request(s, req, show_ports)?;
    }
    Ok(())
}

/// One `proto/mode/addrs/level[:reqid]` request.
fn push_request(
    s: &mut Vec<u8>,
    r: &IpsecRequestExt,
    show_ports: bool,
) -> Result<(), &'static str> {
    let proto = match r.proto {
        50 => "esp",
        51 => "ah",
        108 => "ipcomp",
        _ => return Err("Invalid ipsec protocol"),
    };
    let mode = match r.mode {
        0 => "any",
        1 => "transport",
        2 => "tunnel",
        _ => return Err("Invalid ipsec mode"),
    };
    let level = match r.level {
        0 => "default",
        1 => "use",
        2 => "require",
        3 => "unique",
        _ => return Err("Invalid ipsec level"),
    };
    s.extend_from_slice(proto.as_bytes());
    s.push(b'/');
    s.extend_from_slice(mode.as_bytes());
    s.push(b'/');
    if let Some((a, b)) = &r.endpoints {
        push_ip(s, a);
        if show_ports {
            push_bracketed(s, a.port());
        }
        s.push(b'-');
        push_ip(s, b);
        if show_ports {
            push_bracketed(s, b.port());
        }
    }
    s.push(b'/');
    s.extend_from_slice(level.as_bytes());
    if r.reqid != 0 {
        s.push(if r.reqid > ipsec::MANUAL_REQID_MAX {
            b'#'
        } else {
            b':'
        });
        push_u64(s, u64::from(r.reqid));
    }
    Ok(())
}

/// Renders one SP block into `buf`.
pub fn render(buf: &mut Vec<u8>, msg: &Message, _now: u64, p: &Printer<'_>) {
    let src = msg.address(AddressKind::Src);
    let dst = msg.address(AddressKind::Dst);
    match (src, dst) {
        (Some(src), Some(dst)) if !is_per_socket(msg) => {
            if !push_selectors(buf, src, dst, p) {
                return;
            }
        }
        _ => buf.extend_from_slice(b"(per-socket policy) "),
    }
    let Some(pol) = msg.policy() else {
        buf.extend_from_slice(b"no X_POLICY extension.\n");
        return;
    };
    buf.extend_from_slice(b"\n\t");
    if let Err(e) = push_policy(buf, pol, p.opts.show_ports) {
        buf.extend_from_slice(b"Policy:[");
        buf.extend_from_slice(e.as_bytes());
        buf.push(b']');
    }
    buf.push(b'\n');
    if let Some(cur) = msg.lifetime(LifetimeKind::Current) {
        buf.extend_from_slice(b"\tcreated: ");
        p.push_time(buf, cur.addtime);
        buf.extend_from_slice(b"  lastused: ");
        p.push_time(buf, cur.usetime);
        buf.push(b'\n');
    }
    if let Some(hard) = msg.lifetime(LifetimeKind::Hard) {
        buf.extend_from_slice(b"\tlifetime: ");
        push_u64(buf, hard.addtime);
        buf.extend_from_slice(b"(s) validtime: ");
        push_u64(buf, hard.usetime);
        buf.extend_from_slice(b"(s)\n");
    }
    if let Some(ctx) = msg.sec_ctx() {
        push_sec_ctx(buf, ctx);
    }
    buf.extend_from_slice(b"\tspid=");
    push_u64(buf, u64::from(pol.id));
    buf.extend_from_slice(b" seq=");
    push_u64(buf, u64::from(msg.header.seq));
    buf.extend_from_slice(b" pid=");
    push_u64(buf, u64::from(msg.header.pid));
    buf.extend_from_slice(b"\n\trefcnt=");
    push_u64(buf, u64::from(msg.header.reserved));
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prio(p: u32) -> String {
        let pol = PolicyExt {
            policy_type: 1,
            dir: 2,
            priority: p,
            ..PolicyExt::default()
        };
        policy_string(&pol, false).unwrap()
    }

    #[test]
    fn priorities() {
        assert_eq!(prio(0), "out none");
        assert_eq!(prio(0x8000_0000), "out prio def none");
        assert_eq!(prio(0x7FFF_FFF6), "out prio def + 10 none");
        assert_eq!(prio(0x4000_0005), "out prio high - 5 none");
        assert_eq!(prio(0xBFFF_FFFD), "out prio low + 3 none");
        assert_eq!(prio(1), "out prio high + 1073741823 none");
        assert_eq!(prio(0xC000_0000), "out prio low none");
        assert_eq!(prio(0xFFFF_FFFF), "out prio low - 1073741823 none");
        assert_eq!(prio(0x6000_0000), "out prio def + 536870912 none");
        assert_eq!(prio(0x5FFF_FFFF), "out prio high - 536870911 none");
    }

    #[test]
    fn requests_and_errors() {
        let a = "[2001:db8::1]:0".parse().unwrap();
        let b = "[2001:db8::2]:0".parse().unwrap();
        let pol = PolicyExt {
            policy_type: 2,
            dir: 2,
            id: 1025,
            priority: 0x4000_0005,
            requests: vec![
                IpsecRequestExt {
                    proto: 108,
                    mode: 2,
                    level: 1,
                    reqid: 0,
                    endpoints: Some((a, b)),
                },
                IpsecRequestExt {
                    proto: 50,
                    mode: 2,
                    level: 3,
                    reqid: 7,
                    endpoints: Some((a, b)),
                },
                IpsecRequestExt {
                    proto: 51,
                    mode: 1,
                    level: 3,
                    reqid: 16384,
                    endpoints: None,
                },
            ],
        };
        assert_eq!(
            policy_string(&pol, false).unwrap(),
            "out prio high - 5 ipsec\n\tipcomp/tunnel/2001:db8::1-2001:db8::2/use\n\tesp/tunnel/2001:db8::1-2001:db8::2/unique:7\n\tah/transport//unique#16384"
        );
        assert!(
            policy_string(&pol, true)
                .unwrap()
                .contains("ipcomp/tunnel/2001:db8::1[0]-2001:db8::2[0]/use")
        );
        let mut beet = pol.clone();
        beet.requests[0].mode = 3;
        assert_eq!(policy_string(&beet, false), Err("Invalid ipsec mode"));
        let mut bad_dir = pol.clone();
        bad_dir.dir = 6;
        bad_dir.policy_type = 9;
        assert_eq!(policy_string(&bad_dir, false), Err("Invalid direction"));
        let mut bad_type = pol;
        bad_type.policy_type = 9;
        assert_eq!(
            policy_string(&bad_type, false),
            Err("Invalid security policy")
        );
    }
}
