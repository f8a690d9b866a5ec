//! Numeric address text exactly as glibc's `getnameinfo(NI_NUMERICHOST)`
//! (that is, `inet_ntop`) prints it.
//!
//! Rust's `Ipv6Addr` `Display` is close to RFC 5952 but differs from glibc
//! for IPv4-compatible addresses (`::1.2.3.4` vs `::102:304`), so IPv6 text
//! is produced here by glibc's algorithm.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Appends the address of `addr` as glibc prints it (no port).
pub fn push_ip(out: &mut String, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            let _ = write!(out, "{}", a.ip());
        }
        SocketAddr::V6(a) => {
            push_ipv6(out, a.ip());
            // getnameinfo appends the scope; Linux always reports 0 there.
            // The numeric form is used since interface names are host state.
            if a.scope_id() != 0 {
                let _ = write!(out, "%{}", a.scope_id());
            }
        }
    }
}

/// The address of `addr` as a new string.
pub fn ip_string(addr: &SocketAddr) -> String {
    let mut s = String::new();
    push_ip(&mut s, addr);
    s
}

/// Text of any IP address in glibc form.
pub fn ip_text(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => {
            let mut s = String::new();
            push_ipv6(&mut s, a);
            s
        }
    }
}

/// glibc `inet_ntop6`: the longest run (≥ 2) of zero groups becomes `::`
/// (the first on ties); a `::`-prefixed address whose zero run covers exactly
/// the first six groups, or `::ffff:` followed by 32 bits, ends in a dotted
/// quad.
pub fn push_ipv6(out: &mut String, ip: &Ipv6Addr) {
    let words = ip.segments();
    // Longest run of zero words, first one on ties.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_base = Some(start);
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let in_run = |i: usize| best_base.is_some_and(|b| i >= b && i < b + best_len);
    for (i, w) in words.iter().enumerate() {
        if in_run(i) {
            if Some(i) == best_base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        let embedded_v4 = i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
        if embedded_v4 {
            let o = ip.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return;
        }
        let _ = write!(out, "{w:x}");
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        ip_text(&IpAddr::V6(s.parse().unwrap()))
    }

    #[test]
    fn glibc_ipv6_forms() {
        assert_eq!(v6("2001:db8:0:0:0:0:0:a"), "2001:db8::a");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("::2"), "::2");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("fec0::1"), "fec0::1");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(v6("::1:2"), "::0.1.0.2");
        assert_eq!(v6("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
        assert_eq!(v6("::102"), "::102");
        // single zero group is not compressed
        assert_eq!(v6("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        // first of two equal runs
        assert_eq!(v6("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
        // longer later run wins
        assert_eq!(v6("1:0:0:2:0:0:0:4"), "1:0:0:2::4");
        assert_eq!(v6("fe80::"), "fe80::");
        assert_eq!(v6("2001:DB8::FFFF"), "2001:db8::ffff");
    }

    #[test]
    fn ipv4_and_scope() {
        assert_eq!(ip_string(&"10.0.0.1:0".parse().unwrap()), "10.0.0.1");
        assert_eq!(ip_string(&"[fe80::1%4]:0".parse().unwrap()), "fe80::1%4");
    }
}
