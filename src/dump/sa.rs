//! The SA block (`pfkey_sadump` in setkey).

use super::Printer;
use super::addr::push_ip;
use super::text::{push_hex_byte, push_hex_padded, push_u64, push_u64_as_f64};
use crate::algorithms::{self, Kind};
use crate::pfkey::wire::{
    AddressKind, KeyKind, LifetimeExt, LifetimeKind, Message, NatTPortKind, SATYPE_ESP,
    SATYPE_IPCOMP, SecCtxExt,
};

/// satype names, index = satype (setkey's `str_satype`).
pub(super) const SATYPES: [&str; 12] = [
    "unspec", "unknown", "ah", "esp", "unknown", "rsvp", "ospfv2", "ripv2", "mip", "ipcomp",
    "policy", "tcp",
];
/// IPsec modes (`str_mode`).
pub(super) const MODES: [&str; 3] = ["any", "transport", "tunnel"];
/// SA states (`str_state`).
pub(super) const STATES: [&str; 4] = ["larval", "mature", "dying", "dead"];

/// Encryption algorithm names as setkey's dump table has them.
fn ealg_name(id: u8) -> Option<&'static str> {
    algorithms::dump_name(Kind::Encryption, id)
}

/// Authentication algorithm names of the dump table.
fn aalg_name(id: u8) -> Option<&'static str> {
    algorithms::dump_name(Kind::Authentication, id)
}

/// IPComp algorithm names of the dump table.
fn calg_name(id: u8) -> Option<&'static str> {
    algorithms::dump_name(Kind::Compression, id)
}

/// setkey's `GETMSGSTR`: table name or number, always followed by a space.
fn table(buf: &mut Vec<u8>, names: &[&str], v: u8) {
    named(buf, names.get(usize::from(v)).copied(), v);
}

/// setkey's `GETMSGV2S`: value lookup, name or number, then a space.
fn named(buf: &mut Vec<u8>, name: Option<&str>, v: u8) {
    match name {
        Some(name) => buf.extend_from_slice(name.as_bytes()),
        None => push_u64(buf, u64::from(v)),
    }
    buf.push(b' ');
}

/// `ipsec_hexdump`: bytes in groups of 4 each led by a space, a newline
/// before every 32nd byte. No trailing newline.
pub fn push_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    push_hex_of(buf, bytes.iter().copied());
}

/// [`push_hex`] of bytes as they come.
fn push_hex_of(buf: &mut Vec<u8>, bytes: impl Iterator<Item = u8>) {
    for (i, b) in bytes.enumerate() {
        if i > 0 && i % 32 == 0 {
            buf.push(b'\n');
        }
        if i % 4 == 0 {
            buf.push(b' ');
        }
        push_hex_byte(buf, b);
    }
}

/// The security context lines shared by SA and SP blocks.
pub fn push_sec_ctx(buf: &mut Vec<u8>, ctx: &SecCtxExt) {
    buf.extend_from_slice(b"\tsecurity context doi: ");
    push_u64(buf, u64::from(ctx.doi));
    buf.extend_from_slice(b"\n\tsecurity context algorithm: ");
    push_u64(buf, u64::from(ctx.alg));
    buf.extend_from_slice(b"\n\tsecurity context length: ");
    push_u64(buf, ctx.context.len() as u64);
    buf.extend_from_slice(b"\n\tsecurity context: ");
    // Printed with %s: the string stops at its first NUL.
    let end = ctx
        .context
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(ctx.context.len());
    buf.extend_from_slice(&ctx.context[..end]);
    buf.push(b'\n');
}

/// Renders one SA block into `buf`.
pub fn render(buf: &mut Vec<u8>, msg: &Message, now: u64, p: &Printer<'_>) {
    let nat_t = msg.nat_t_type().is_some_and(|t| t != 0);

    // Line 1: addresses, with -p ports and NAT-T ports.
    let address = |buf: &mut Vec<u8>, kind: AddressKind, port_kind: NatTPortKind| -> bool {
        let Some(a) = msg.address(kind) else {
            return false;
        };
        push_ip(buf, &a.addr);
        if p.opts.show_ports {
            push_bracketed(buf, u64::from(a.addr.port()));
        }
        if nat_t && let Some(port) = msg.nat_t_port(port_kind) {
            push_bracketed(buf, u64::from(port));
        }
        true
    };
    if !address(buf, AddressKind::Src, NatTPortKind::Src) {
        buf.extend_from_slice(b"no ADDRESS_SRC extension.\n");
        return;
    }
    buf.push(b' ');
    if !address(buf, AddressKind::Dst, NatTPortKind::Dst) {
        buf.extend_from_slice(b" no ADDRESS_DST extension.\n");
        return;
    }
    buf.push(b' ');
    let Some(sa) = msg.sa() else {
        buf.extend_from_slice(b"no SA extension.\n");
        return;
    };
    let Some(sa2) = msg.sa2() else {
        buf.extend_from_slice(b"no SA2 extension.\n");
        return;
    };
    let satype = msg.header.satype;

    // Line 2: protocol, mode, SPI, reqid.
    buf.extend_from_slice(b"\n\t");
    if nat_t && satype == SATYPE_ESP {
        buf.extend_from_slice(b"esp-udp ");
    } else {
        if nat_t {
            buf.extend_from_slice(b"natt+");
        }
        table(buf, &SATYPES, satype);
    }
    buf.extend_from_slice(b"mode=");
    table(buf, &MODES, sa2.mode);
    buf.extend_from_slice(b"spi=");
    push_dec_hex(buf, sa.spi);
    buf.extend_from_slice(b" reqid=");
    push_dec_hex(buf, sa2.reqid);
    buf.push(b'\n');

    // Keys. The IPComp line deliberately has no newline (setkey's quirk).
    if satype == SATYPE_IPCOMP {
        buf.extend_from_slice(b"\tC: ");
        named(buf, calg_name(sa.encrypt), sa.encrypt);
    } else if satype == SATYPE_ESP
        && let Some(key) = msg.key(KeyKind::Encrypt)
    {
        buf.extend_from_slice(b"\tE: ");
        named(buf, ealg_name(sa.encrypt), sa.encrypt);
        push_key(buf, key.bits, &key.key, p.opts.hide_keys);
        buf.push(b'\n');
    }
    if let Some(key) = msg.key(KeyKind::Auth) {
        buf.extend_from_slice(b"\tA: ");
        named(buf, aalg_name(sa.auth), sa.auth);
        push_key(buf, key.bits, &key.key, p.opts.hide_keys);
        buf.push(b'\n');
    }

    // Line 5. A window past 8 bits (XFRM only) comes in rsetkey's own
    // extension.
    let replay = msg.wide_replay().unwrap_or(u32::from(sa.replay));
    buf.extend_from_slice(b"\tseq=0x");
    push_hex_padded(buf, u64::from(sa2.sequence), 8);
    buf.extend_from_slice(b" replay=");
    push_u64(buf, u64::from(replay));
    buf.extend_from_slice(b" flags=0x");
    push_hex_padded(buf, u64::from(sa.flags), 8);
    buf.extend_from_slice(b" state=");
    table(buf, &STATES, sa.state);
    buf.push(b'\n');

    // Lifetimes.
    if let Some(cur) = msg.lifetime(LifetimeKind::Current) {
        let zero = LifetimeExt::default();
        let hard = msg.lifetime(LifetimeKind::Hard).unwrap_or(&zero);
        let soft = msg.lifetime(LifetimeKind::Soft).unwrap_or(&zero);
        // setkey computes the age in unsigned long: a future add time wraps.
        let diff = if cur.addtime == 0 {
            0
        } else {
            now.wrapping_sub(cur.addtime)
        };
        buf.extend_from_slice(b"\tcreated: ");
        p.push_time(buf, cur.addtime);
        buf.extend_from_slice(b"\tcurrent: ");
        p.push_time(buf, now);
        buf.extend_from_slice(b"\n\tdiff: ");
        push_u64(buf, diff);
        buf.extend_from_slice(b"(s)\thard: ");
        push_u64(buf, hard.addtime);
        buf.extend_from_slice(b"(s)\tsoft: ");
        push_u64(buf, soft.addtime);
        buf.extend_from_slice(b"(s)\n\tlast: ");
        p.push_time(buf, cur.usetime);
        buf.extend_from_slice(b"\thard: ");
        push_u64(buf, hard.usetime);
        buf.extend_from_slice(b"(s)\tsoft: ");
        push_u64(buf, soft.usetime);
        // Byte counts go through a double printed with %.0f.
        buf.extend_from_slice(b"(s)\n\tcurrent: ");
        push_u64_as_f64(buf, cur.bytes);
        buf.extend_from_slice(b"(bytes)\thard: ");
        push_u64_as_f64(buf, hard.bytes);
        buf.extend_from_slice(b"(bytes)\tsoft: ");
        push_u64_as_f64(buf, soft.bytes);
        buf.extend_from_slice(b"(bytes)\n\tallocated: ");
        push_u64(buf, u64::from(cur.allocations));
        buf.extend_from_slice(b"\thard: ");
        push_u64(buf, u64::from(hard.allocations));
        buf.extend_from_slice(b"\tsoft: ");
        push_u64(buf, u64::from(soft.allocations));
        buf.push(b'\n');
    }

    if let Some(ctx) = msg.sec_ctx() {
        push_sec_ctx(buf, ctx);
    }

    buf.extend_from_slice(b"\tsadb_seq=");
    push_u64(buf, u64::from(msg.header.seq));
    buf.extend_from_slice(b" pid=");
    push_u64(buf, u64::from(msg.header.pid));
    buf.extend_from_slice(b" refcnt=");
    push_u64(buf, u64::from(msg.header.reserved));
    buf.push(b'\n');
}

/// `[n]`.
fn push_bracketed(buf: &mut Vec<u8>, n: u64) {
    buf.push(b'[');
    push_u64(buf, n);
    buf.push(b']');
}

/// `n(0x%08x)`: a number in decimal, then in hex.
fn push_dec_hex(buf: &mut Vec<u8>, n: u32) {
    push_u64(buf, u64::from(n));
    buf.extend_from_slice(b"(0x");
    push_hex_padded(buf, u64::from(n), 8);
    buf.push(b')');
}

/// Key bytes as setkey dumps them: `bits / 8` bytes (integer division).
/// The key as setkey prints it; with `hide` every hex digit is a `*`, so
/// the layout (groups of 8, line breaks) stays and nothing of the key does.
fn push_key(buf: &mut Vec<u8>, bits: u16, key: &[u8], hide: bool) {
    let n = (usize::from(bits) / 8).min(key.len());
    if hide {
        let start = buf.len();
        // zeros in the layout of the key: the key's bytes never get here
        push_hex_of(buf, std::iter::repeat_n(0, n));
        for b in &mut buf[start..] {
            if b.is_ascii_hexdigit() {
                *b = b'*';
            }
        }
    } else {
        push_hex(buf, key.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_keys_keep_the_layout_and_nothing_of_the_key() {
        let key: Vec<u8> = (0xa0u8..0xa0 + 36).collect();
        let (mut shown, mut hidden) = (Vec::new(), Vec::new());
        push_key(&mut shown, 36 * 8, &key, false);
        push_key(&mut hidden, 36 * 8, &key, true);
        assert_eq!(shown.len(), hidden.len());
        for (s, h) in shown.iter().zip(&hidden) {
            if s.is_ascii_hexdigit() {
                assert_eq!(*h, b'*');
            } else {
                assert_eq!(s, h);
            }
        }
        assert_eq!(&hidden[..18], b" ******** ********");
    }

    #[test]
    fn hex_grouping_and_wrapping() {
        let mut b = Vec::new();
        push_hex(&mut b, &(0u8..36).collect::<Vec<_>>());
        assert_eq!(
            String::from_utf8(b).unwrap(),
            " 00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f\n 20212223"
        );
        let mut b = Vec::new();
        push_hex(&mut b, &[0xab, 0xcd, 0xef, 0x01, 0x02]);
        assert_eq!(b, b" abcdef01 02");
        let mut b = Vec::new();
        push_hex(&mut b, &[]);
        assert!(b.is_empty());
    }

    #[test]
    fn key_uses_integer_division_of_bits() {
        let mut b = Vec::new();
        push_key(&mut b, 12, &[1, 2], false);
        assert_eq!(b, b" 01");
    }

    #[test]
    fn lookups_always_add_a_space() {
        let mut b = Vec::new();
        table(&mut b, &MODES, 3);
        named(&mut b, ealg_name(252), 252);
        named(&mut b, calg_name(2), 2);
        assert_eq!(b, b"3 252 deflate ");
    }
}
