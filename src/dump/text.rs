//! Numbers and addresses as ASCII text without `core::fmt`.
//!
//! A dump of a large table prints a dozen numbers and a few addresses per
//! entry; through `core::fmt` (dynamic dispatch, padding logic, a
//! `String` per `format!`) that was most of the time a dump took. These
//! write the same digits straight into the caller's buffer; the tests
//! check them against `std`'s `Display` / `LowerHex`.

use std::net::Ipv4Addr;

/// Where dump text goes: a byte buffer, or a `String` for the callers that
/// build text. Everything written is ASCII.
pub trait Sink {
    /// Appends ASCII bytes.
    fn put(&mut self, s: &[u8]);
    /// Appends one ASCII byte.
    fn put_byte(&mut self, b: u8);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
    #[inline]
    fn put_byte(&mut self, b: u8) {
        self.push(b);
    }
}

impl Sink for String {
    #[inline]
    fn put(&mut self, s: &[u8]) {
        // Only ASCII is ever written; anything else would be a bug here,
        // and is dropped rather than turned into invalid UTF-8.
        self.push_str(std::str::from_utf8(s).unwrap_or_default());
    }
    #[inline]
    fn put_byte(&mut self, b: u8) {
        self.push(char::from(b));
    }
}

/// Text in a fixed buffer on the stack; what does not fit is dropped
/// (callers size it for the longest text they write).
#[derive(Debug, Clone, Copy)]
pub struct ArrayText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for ArrayText<N> {
    fn default() -> Self {
        ArrayText {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> ArrayText<N> {
    /// The text written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl<const N: usize> Sink for ArrayText<N> {
    fn put(&mut self, s: &[u8]) {
        for &b in s {
            self.put_byte(b);
        }
    }
    fn put_byte(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `{v}` of an unsigned number.
#[inline]
pub fn push_u64(out: &mut (impl Sink + ?Sized), v: u64) {
    push_u128(out, u128::from(v));
}

/// `{v}` of an unsigned number up to 128 bits (the `%.0f` of a byte count
/// can round up to 2^64).
pub fn push_u128(out: &mut (impl Sink + ?Sized), mut v: u128) {
    let mut digits = [0u8; 39];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put(&digits[i..]);
}

/// `{v}` of a signed number.
pub fn push_i64(out: &mut (impl Sink + ?Sized), v: i64) {
    if v < 0 {
        out.put_byte(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// `{v:.0}` of `v as f64`: C's `%.0f` of an unsigned long long converted to
/// double, as setkey prints byte counts. Every double of that range is an
/// integer, so its exact decimal digits are what `%.0f` prints.
pub fn push_u64_as_f64(out: &mut (impl Sink + ?Sized), v: u64) {
    // `as` rounds to the nearest double (at most 2^64, which u128 holds),
    // and back it is exact: the value is an integer.
    push_u128(out, (v as f64) as u128);
}

/// `{v:0width$x}`: lower-case hex, zero-padded to at least `width` digits
/// (at most 16: a u64 has no more).
pub fn push_hex_padded(out: &mut (impl Sink + ?Sized), v: u64, width: usize) {
    let mut digits = [b'0'; 16];
    let mut i = digits.len();
    let mut rest = v;
    loop {
        i -= 1;
        digits[i] = HEX[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(width));
    out.put(&digits[start..]);
}

/// `{v:x}`: lower-case hex without padding.
#[inline]
pub fn push_hex(out: &mut (impl Sink + ?Sized), v: u64) {
    push_hex_padded(out, v, 1);
}

/// `{b:02x}`: one byte as two hex digits.
#[inline]
pub fn push_hex_byte(out: &mut (impl Sink + ?Sized), b: u8) {
    out.put(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
}

/// `{ip}` of an IPv4 address (dotted quad, no leading zeros).
pub fn push_ipv4(out: &mut (impl Sink + ?Sized), ip: &Ipv4Addr) {
    let mut text = [0u8; 15];
    let mut n = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            text[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            text[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        text[n] = b'0' + octet % 10;
        n += 1;
    }
    out.put(&text[..n]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;

    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn edges_match_std() {
        for v in [0, 1, 9, 10, 99, 100, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(text(|b| push_u64(b, v)), v.to_string());
            assert_eq!(text(|b| push_hex(b, v)), format!("{v:x}"));
            assert_eq!(text(|b| push_hex_padded(b, v, 8)), format!("{v:08x}"));
            assert_eq!(text(|b| push_u64_as_f64(b, v)), format!("{:.0}", v as f64));
        }
        for v in [0, -1, i64::MIN, i64::MAX] {
            assert_eq!(text(|b| push_i64(b, v)), v.to_string());
        }
        assert_eq!(text(|b| push_u128(b, u128::MAX)), u128::MAX.to_string());
        for ip in ["0.0.0.0", "255.255.255.255", "10.0.99.100", "1.22.103.9"] {
            let ip: Ipv4Addr = ip.parse().unwrap();
            assert_eq!(text(|b| push_ipv4(b, &ip)), ip.to_string());
        }
        let mut s = String::from("x=");
        push_u64(&mut s, 42);
        push_hex_byte(&mut s, 0xa);
        assert_eq!(s, "x=420a");
    }

    proptest! {
        #[test]
        fn numbers_match_std(v: u64, i: i64, w in 0usize..=16) {
            prop_assert_eq!(text(|b| push_u64(b, v)), v.to_string());
            prop_assert_eq!(text(|b| push_i64(b, i)), i.to_string());
            prop_assert_eq!(text(|b| push_hex(b, v)), format!("{v:x}"));
            prop_assert_eq!(text(|b| push_hex_padded(b, v, w)), format!("{v:0w$x}"));
            prop_assert_eq!(text(|b| push_hex_byte(b, v as u8)), format!("{:02x}", v as u8));
            prop_assert_eq!(text(|b| push_u64_as_f64(b, v)), format!("{:.0}", v as f64));
        }

        #[test]
        fn ipv4_matches_std(o: [u8; 4]) {
            let ip = Ipv4Addr::from(o);
            prop_assert_eq!(text(|b| push_ipv4(b, &ip)), ip.to_string());
        }
    }
}
