//! The SP block (`pfkey_spdump` in setkey, `ipsec_dump_policy` in libipsec).

use std::fmt::Write as _;
use std::io::Write as _;

use super::Printer;
use super::addr::push_ip;
use super::sa::push_sec_ctx;
use super::time::str_time;
use crate::pfkey::wire::{
    AddressExt, AddressKind, IpsecRequestExt, LifetimeKind, Message, PolicyExt, ipsec,
};

/// IPPROTO_ICMP
const PROTO_ICMP: u8 = 1;
/// IPPROTO_GRE
const PROTO_GRE: u8 = 47;
/// IPPROTO_ICMPV6
const PROTO_ICMPV6: u8 = 58;
/// IPPROTO_MH
const PROTO_MH: u8 = 135;

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
fn push_prefport(s: &mut String, a: &AddressExt, ulp: u8) {
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefixlen != full {
        let _ = write!(s, "/{}", a.prefixlen);
    }
    match ulp {
        PROTO_ICMP | PROTO_ICMPV6 | PROTO_MH | PROTO_GRE => {}
        _ if a.addr.port() == 0 => s.push_str("[any]"),
        _ => {
            let _ = write!(s, "[{}]", a.addr.port());
        }
    }
}

/// The selector line (without its newline).
fn push_selectors(s: &mut String, src: &AddressExt, dst: &AddressExt, p: &Printer<'_>) -> bool {
    let ulp = src.proto;
    push_ip(s, &src.addr);
    push_prefport(s, src, ulp);
    s.push(' ');
    push_ip(s, &dst.addr);
    push_prefport(s, dst, ulp);
    s.push(' ');
    if src.proto != dst.proto {
        s.push_str("upper layer protocol mismatched.\n");
        return false;
    }
    match p.protocols.name(ulp) {
        Some(name) => s.push_str(name),
        None => {
            let _ = write!(s, "{ulp}");
        }
    }
    let (sport, dport) = (src.addr.port(), dst.addr.port());
    if sport != 0 || dport != 0 {
        match ulp {
            PROTO_ICMP | PROTO_ICMPV6 | PROTO_MH => {
                let _ = write!(s, " {sport},{dport}");
            }
            PROTO_GRE => {
                let _ = write!(s, " {}", (u32::from(sport) << 16) | u32::from(dport));
            }
            _ => {}
        }
    }
    true
}

/// libipsec's policy text, or its error text (`Invalid direction`, ...).
pub fn policy_string(pol: &PolicyExt, show_ports: bool) -> Result<String, &'static str> {
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
    let mut s = String::from(dir);
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
        let _ = write!(s, " prio {name}");
        if v != 0 {
            let sign = if v > 0 { '+' } else { '-' };
            let _ = write!(s, " {sign} {}", v.unsigned_abs());
        }
    }
    s.push(' ');
    s.push_str(kind);
    if pol.policy_type != ipsec::POLICY_IPSEC {
        return Ok(s);
    }
    for req in &pol.requests {
        s.push_str("\n\t");
        push_request(&mut s, req, show_ports)?;
    }
    Ok(s)
}

/// One `proto/mode/addrs/level[:reqid]` request.
fn push_request(s: &mut String, r: &IpsecRequestExt, show_ports: bool) -> Result<(), &'static str> {
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
    let mut addrs = String::new();
    if let Some((a, b)) = &r.endpoints {
        push_ip(&mut addrs, a);
        if show_ports {
            let _ = write!(addrs, "[{}]", a.port());
        }
        addrs.push('-');
        push_ip(&mut addrs, b);
        if show_ports {
            let _ = write!(addrs, "[{}]", b.port());
        }
    }
    let level = match r.level {
        0 => "default",
        1 => "use",
        2 => "require",
        3 => "unique",
        _ => return Err("Invalid ipsec level"),
    };
    let _ = write!(s, "{proto}/{mode}/{addrs}/{level}");
    if r.reqid != 0 {
        let ch = if r.reqid > ipsec::MANUAL_REQID_MAX {
            '#'
        } else {
            ':'
        };
        let _ = write!(s, "{ch}{}", r.reqid);
    }
    Ok(())
}

/// Renders one SP block into `buf`.
pub fn render(buf: &mut Vec<u8>, msg: &Message, _now: u64, p: &Printer<'_>) {
    let mut s = String::new();
    let src = msg.address(AddressKind::Src);
    let dst = msg.address(AddressKind::Dst);
    match (src, dst) {
        (Some(src), Some(dst)) if !is_per_socket(msg) => {
            if !push_selectors(&mut s, src, dst, p) {
                buf.extend_from_slice(s.as_bytes());
                return;
            }
        }
        _ => s.push_str("(per-socket policy) "),
    }
    let Some(pol) = msg.policy() else {
        s.push_str("no X_POLICY extension.\n");
        buf.extend_from_slice(s.as_bytes());
        return;
    };
    match policy_string(pol, p.opts.show_ports) {
        Ok(text) => {
            let _ = writeln!(s, "\n\t{text}");
        }
        Err(e) => {
            let _ = writeln!(s, "\n\tPolicy:[{e}]");
        }
    }
    let zone = p.zone;
    if let Some(cur) = msg.lifetime(LifetimeKind::Current) {
        let _ = writeln!(
            s,
            "\tcreated: {}  lastused: {}",
            str_time(cur.addtime, zone),
            str_time(cur.usetime, zone)
        );
    }
    if let Some(hard) = msg.lifetime(LifetimeKind::Hard) {
        let _ = writeln!(
            s,
            "\tlifetime: {}(s) validtime: {}(s)",
            hard.addtime, hard.usetime
        );
    }
    buf.extend_from_slice(s.as_bytes());
    if let Some(ctx) = msg.sec_ctx() {
        push_sec_ctx(buf, ctx);
    }
    let _ = write!(
        buf,
        "\tspid={} seq={} pid={}\n\trefcnt={}\n",
        pol.id, msg.header.seq, msg.header.pid, msg.header.reserved
    );
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
