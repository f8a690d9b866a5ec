//! Numeric address text exactly as glibc's `getnameinfo(NI_NUMERICHOST)`
//! (that is, `inet_ntop`) prints it.
//!
//! Rust's `Ipv6Addr` `Display` is close to RFC 5952 but differs from glibc
//! for IPv4-compatible addresses (`::1.2.3.4` vs `::102:304`), so IPv6 text
//! is produced here by glibc's algorithm.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::text::{Sink, push_hex, push_ipv4, push_u64};

/// Appends the address of `addr` as glibc prints it (no port).
pub fn push_ip(out: &mut (impl Sink + ?Sized), addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => push_ipv4(out, a.ip()),
        SocketAddr::V6(a) => {
            push_ipv6(out, a.ip());
            // getnameinfo appends the scope; Linux always reports 0 there.
            // The numeric form is used since interface names are host state.
            if a.scope_id() != 0 {
                out.put_byte(b'%');
                push_u64(out, u64::from(a.scope_id()));
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
pub fn push_ipv6(out: &mut (impl Sink + ?Sized), ip: &Ipv6Addr) {
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
                out.put_byte(b':');
            }
            continue;
        }
        if i != 0 {
            out.put_byte(b':');
        }
        let embedded_v4 = i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
        if embedded_v4 {
            let o = ip.octets();
            push_ipv4(out, &std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            return;
        }
        push_hex(out, u64::from(*w));
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.put_byte(b':');
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

    unsafe extern "C" {
        /// POSIX `inet_ntop` (the libc crate does not declare it).
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    /// The C library's own text of an IPv6 address.
    fn inet_ntop6(ip: &Ipv6Addr) -> String {
        let octets = ip.octets();
        let mut text = [0 as libc::c_char; 64];
        // SAFETY: inet_ntop reads the 16 bytes of `octets` and writes at most
        // `text.len()` bytes, NUL included, into `text`; both outlive the call.
        let p = unsafe {
            inet_ntop(
                libc::AF_INET6,
                octets.as_ptr().cast(),
                text.as_mut_ptr(),
                text.len() as libc::socklen_t,
            )
        };
        assert!(!p.is_null());
        // SAFETY: on success inet_ntop wrote a NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(text.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    proptest::proptest! {
        /// Addresses with long zero runs are the interesting ones: groups
        /// are drawn from a few values, zero most often.
        #[test]
        fn ipv6_text_is_the_c_librarys(words in proptest::array::uniform8(
            proptest::prop_oneof![
                4 => proptest::strategy::Just(0u16),
                1 => proptest::strategy::Just(0xffff),
                2 => proptest::num::u16::ANY,
            ]
        )) {
            let ip = Ipv6Addr::from(words);
            let mut ours = Vec::new();
            push_ipv6(&mut ours, &ip);
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), inet_ntop6(&ip));
        }
    }

    #[test]
    fn ipv4_and_scope() {
        assert_eq!(ip_string(&"10.0.0.1:0".parse().unwrap()), "10.0.0.1");
        assert_eq!(ip_string(&"[fe80::1%4]:0".parse().unwrap()), "fe80::1%4");
    }
}
