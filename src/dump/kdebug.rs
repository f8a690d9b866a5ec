//! The kdebug decoder of `setkey -x` / `-v` (`kdebug_sadb` in libipsec),
//! plus the `-H` hex dump.
//!
//! It works on raw bytes rather than [`crate::pfkey::wire::Message`]: it
//! prints lengths, reserved fields and extensions exactly as they are on
//! the wire, including malformed ones. Reads past the end of a short
//! extension give zeros instead of the original's out-of-bounds reads.

use std::io::Write;

use super::sa::push_hex;
use crate::codec::Reader;
use crate::ir::Keys;
use crate::pfkey::wire::{AF_INET, AF_INET6, HEADER_LEN, ext_type, ipsec};

/// `-H`: offsets every 16 bytes, each byte as `xx␣`, a final newline when
/// the length is not a multiple of 16.
pub fn write_hexdump(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let mut s = Vec::with_capacity(bytes.len() * 4);
    for (i, b) in bytes.iter().enumerate() {
        if i % 16 == 0 {
            let _ = write!(s, "{i:08x}: ");
        }
        let _ = write!(s, "{b:02x} ");
        if i % 16 == 15 {
            s.push(b'\n');
        }
    }
    if !bytes.len().is_multiple_of(16) {
        s.push(b'\n');
    }
    out.write_all(&s)
}

/// Decodes one message (`buf` starts with its `sadb_msg`) as kdebug does.
/// The caller prints the empty line that follows it in `-x` / `-v`.
pub fn write_kdebug(out: &mut impl Write, buf: &[u8], keys: Keys) -> std::io::Result<()> {
    let mut s = zeroize::Zeroizing::new(Vec::with_capacity(1024));
    render(&mut s, buf, keys);
    out.write_all(&s)
}

fn render(s: &mut Vec<u8>, buf: &[u8], keys: Keys) {
    let r = Reader::new(buf);
    let words = r.ne_u16(4);
    let _ = write!(
        s,
        "sadb_msg{{ version={} type={} errno={} satype={}\n  len={} reserved={} seq={} pid={}\n",
        r.u8(0),
        r.u8(1),
        r.u8(2),
        r.u8(3),
        words,
        r.ne_u16(6),
        r.ne_u32(8),
        r.ne_u32(12)
    );
    let end = (usize::from(words) * 8).min(buf.len());
    let mut off = HEADER_LEN;
    while off < end {
        let ext = Reader::new(buf.get(off..end).unwrap_or_default());
        let len = ext.ne_u16(0);
        let t = ext.ne_u16(2);
        let _ = writeln!(s, "sadb_ext{{ len={len} type={t} }}");
        let bytes = usize::from(len) * 8;
        if len == 0 {
            s.extend_from_slice(b"kdebug_sadb: invalid ext_len=0 was passed.\n");
            return;
        }
        let Some(body) = ext.slice(0, bytes) else {
            s.extend_from_slice(b"kdebug_sadb: ext_len exceeds end of buffer.\n");
            return;
        };
        let e = Reader::new(body);
        if !ext_body(s, t, &e, keys) {
            let _ = writeln!(s, "kdebug_sadb: invalid ext_type {t} was passed.");
            return;
        }
        off += bytes;
    }
}

/// One extension body; false for types kdebug does not know.
fn ext_body(s: &mut Vec<u8>, t: u16, e: &Reader<'_>, keys: Keys) -> bool {
    match t {
        ext_type::SA => {
            let _ = write!(
                s,
                "sadb_sa{{ spi={} replay={} state={}\n  auth={} encrypt={} flags=0x{:08x} }}\n",
                e.be_u32(4),
                e.u8(8),
                e.u8(9),
                e.u8(10),
                e.u8(11),
                e.ne_u32(12)
            );
        }
        ext_type::LIFETIME_CURRENT | ext_type::LIFETIME_HARD | ext_type::LIFETIME_SOFT => {
            // kdebug prints the 64-bit fields with %u: only the low half.
            let _ = write!(
                s,
                "sadb_lifetime{{ alloc={}, bytes={}\n  addtime={}, usetime={} }}\n",
                e.ne_u32(4),
                e.ne_u32(8),
                e.ne_u32(16),
                e.ne_u32(24)
            );
        }
        ext_type::ADDRESS_SRC
        | ext_type::ADDRESS_DST
        | ext_type::ADDRESS_PROXY
        | ext_type::X_NAT_T_OA => {
            let _ = writeln!(
                s,
                "sadb_address{{ proto={} prefixlen={} reserved=0x{:02x}{:02x} }}",
                e.u8(4),
                e.u8(5),
                e.u8(6),
                e.u8(7)
            );
            sockaddr(s, &e.skip(8));
        }
        ext_type::KEY_AUTH | ext_type::KEY_ENCRYPT => {
            let bits = e.ne_u16(4);
            let _ = write!(s, "sadb_key{{ bits={bits} reserved={}\n  key=", e.ne_u16(6));
            let key = zeroize::Zeroizing::new(e.bytes_zero_extended(8, usize::from(bits) / 8));
            let start = s.len();
            push_hex(s, &key);
            if keys == Keys::Mask {
                for c in s.iter_mut().skip(start).filter(|c| c.is_ascii_hexdigit()) {
                    *c = b'*';
                }
            }
            s.extend_from_slice(b" }\n");
        }
        ext_type::IDENTITY_SRC | ext_type::IDENTITY_DST => {
            let side = if t == ext_type::IDENTITY_SRC {
                "src"
            } else {
                "dst"
            };
            let _ = write!(
                s,
                "sadb_ident_{side}{{ type={} id={}",
                e.ne_u16(4),
                e.ne_u64(8)
            );
            let data = e.tail(16);
            if !data.is_empty() {
                s.extend_from_slice(b"\n  str=\"");
                for &c in data.iter().take_while(|&&c| c != 0) {
                    if c.is_ascii_graphic() || c == b' ' {
                        s.push(c);
                    } else {
                        let _ = write!(s, "\\{c:03o}");
                    }
                }
                s.push(b'"');
            }
            s.extend_from_slice(b" }\n");
        }
        ext_type::SENSITIVITY | ext_type::SPIRANGE | ext_type::X_KMPRIVATE => {}
        ext_type::PROPOSAL => {
            let _ = writeln!(s, "sadb_prop{{ replay={}", e.u8(4));
            let combs = e.bytes().len().saturating_sub(8) / 72;
            for i in 0..combs {
                let c = e.skip(8 + i * 72);
                let _ = write!(
                    s,
                    "sadb_comb{{ auth={} encrypt={} flags=0x{:04x} reserved=0x{:08x}\n  auth_minbits={} auth_maxbits={} encrypt_minbits={} encrypt_maxbits={}\n  soft_alloc={} hard_alloc={} soft_bytes={} hard_bytes={}\n  soft_alloc={} hard_alloc={} soft_bytes={} hard_bytes={} }}\n",
                    c.u8(0),
                    c.u8(1),
                    c.ne_u16(2),
                    c.ne_u32(12),
                    c.ne_u16(4),
                    c.ne_u16(6),
                    c.ne_u16(8),
                    c.ne_u16(10),
                    c.ne_u32(16),
                    c.ne_u32(20),
                    c.ne_u64(24),
                    c.ne_u64(32),
                    c.ne_u64(40),
                    c.ne_u64(48),
                    c.ne_u64(56),
                    c.ne_u64(64)
                );
            }
            s.extend_from_slice(b"}\n");
        }
        ext_type::SUPPORTED_AUTH | ext_type::SUPPORTED_ENCRYPT => {
            s.extend_from_slice(b"sadb_sup{\n");
            for a in e.tail(8).chunks_exact(8) {
                let a = Reader::new(a);
                let _ = writeln!(
                    s,
                    "  {{ id={} ivlen={} min={} max={} }}",
                    a.u8(0),
                    a.u8(1),
                    a.ne_u16(2),
                    a.ne_u16(4)
                );
            }
            s.extend_from_slice(b"}\n");
        }
        ext_type::X_POLICY => {
            let ptype = e.ne_u16(4);
            let _ = writeln!(
                s,
                "sadb_x_policy{{ type={ptype} dir={} id={:x} priority={} }}",
                e.u8(6),
                e.ne_u32(8),
                e.ne_u32(12)
            );
            if ptype == ipsec::POLICY_IPSEC {
                let mut off = 16;
                while off + 16 <= e.bytes().len() {
                    let q = e.skip(off);
                    let len = usize::from(q.ne_u16(0));
                    let _ = writeln!(
                        s,
                        " {{ len={len} proto={} mode={} level={} reqid={}",
                        q.ne_u16(2),
                        q.u8(4),
                        q.u8(5),
                        q.ne_u32(8)
                    );
                    if len > 16 {
                        let first = q.skip(16);
                        let first_len = sockaddr(s, &first);
                        sockaddr(s, &q.skip(16 + first_len));
                    }
                    s.extend_from_slice(b" }\n");
                    if len < 16 {
                        // The original would loop or abort; stop instead.
                        break;
                    }
                    off += len;
                }
            }
        }
        ext_type::X_SA2 => {
            let _ = write!(
                s,
                "sadb_x_sa2{{ mode={} reqid={}\n  reserved1={} reserved2={} sequence={} }}\n",
                e.u8(4),
                e.ne_u32(12),
                e.u8(5),
                e.ne_u16(6),
                e.ne_u32(8)
            );
        }
        ext_type::X_NAT_T_TYPE => {
            let _ = writeln!(s, "sadb_x_nat_t_type{{ type={} }}", e.u8(4));
        }
        ext_type::X_NAT_T_SPORT | ext_type::X_NAT_T_DPORT => {
            let _ = writeln!(s, "sadb_x_nat_t_port{{ port={} }}", e.be_u16(4));
        }
        ext_type::X_KMADDRESS => {
            let _ = writeln!(s, "sadb_x_kmaddress{{ reserved=0x{:08x} }}", e.ne_u32(4));
            let first = e.skip(8);
            let n = sockaddr(s, &first);
            sockaddr(s, &e.skip(8 + n));
        }
        _ => return false,
    }
    true
}

/// A sockaddr block; returns the size it occupies (16 / 28).
fn sockaddr(s: &mut Vec<u8>, a: &Reader<'_>) -> usize {
    let family = a.ne_u16(0);
    let len = if family == AF_INET6 { 28 } else { 16 };
    let _ = write!(s, "sockaddr{{ len={len} family={family}");
    match family {
        AF_INET => {
            let _ = writeln!(s, " port={}", a.be_u16(2));
            push_hex(s, &a.bytes_zero_extended(4, 4));
        }
        AF_INET6 => {
            let _ = write!(
                s,
                " port={}\n  flowinfo=0x{:08x}, scope_id=0x{:08x}\n",
                a.be_u16(2),
                a.ne_u32(4),
                a.ne_u32(24)
            );
            push_hex(s, &a.bytes_zero_extended(8, 16));
        }
        _ => {}
    }
    s.extend_from_slice(b"  }\n");
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_layout() {
        let mut out = Vec::new();
        write_hexdump(&mut out, &(0u8..18).collect::<Vec<_>>()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00000000: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f \n00000010: 10 11 \n"
        );
    }

    #[test]
    fn identity_ids_are_host_order_u64() {
        let id: u64 = 0x0000_0001_0000_0002;
        let mut m = vec![2, 10, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&ext_type::IDENTITY_SRC.to_ne_bytes());
        m.extend_from_slice(&[1, 0, 0, 0]);
        m.extend_from_slice(&id.to_ne_bytes());
        let mut out = Vec::new();
        write_kdebug(&mut out, &m, Keys::Show).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("id={id}")), "{text}");
    }

    #[test]
    fn guards_never_panic() {
        let mut out = Vec::new();
        // zero-length extension
        let mut m = vec![2, 10, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0]);
        write_kdebug(&mut out, &m, Keys::Show).unwrap();
        assert!(String::from_utf8_lossy(&out).ends_with("invalid ext_len=0 was passed.\n"));
        // sec ctx is unknown to kdebug
        out.clear();
        m[16..20].copy_from_slice(&[1, 0, 24, 0]);
        write_kdebug(&mut out, &m, Keys::Show).unwrap();
        assert!(String::from_utf8_lossy(&out).ends_with("invalid ext_type 24 was passed.\n"));
        for n in 0..m.len() {
            write_kdebug(&mut out, &m[..n], Keys::Show).unwrap();
        }
    }
}
