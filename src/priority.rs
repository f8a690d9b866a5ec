//! Policy priorities as the policy language spells them: libipsec's three
//! bases and `prio BASE ± N` around the nearest one. Both writers of
//! statements use it: the IR printer (`-n -v`, round-trip tests) and the
//! `--as-script` dump, so what one writes the parser reads back the same.

/// libipsec's `PRIORITY_HIGH`, `PRIORITY_DEFAULT` and `PRIORITY_LOW`, with
/// their names in the policy language.
pub const BASES: [(&str, u32); 3] = [
    ("def", 0x8000_0000),
    ("high", 0x4000_0000),
    ("low", 0xC000_0000),
];

/// The default priority (`prio def`, and what a policy without `prio`
/// gets).
pub const DEFAULT: u32 = BASES[0].1;

/// `prio BASE [± N]` relative to the nearest base. A smaller number is
/// stronger, so `BASE + N` means base − N. The three bases' ranges
/// (base − 2^30 ..= base + 2^30 − 1) cover every u32, so the plain-number
/// fallback is only a safety net.
pub fn spelling(p: u32) -> String {
    let best = BASES
        .iter()
        .filter_map(|&(name, base)| {
            if p <= base {
                let n = base - p;
                (n <= 0x4000_0000).then_some((n, name, '+'))
            } else {
                let n = p - base;
                (n < 0x4000_0000).then_some((n, name, '-'))
            }
        })
        .min_by_key(|&(n, _, _)| n);
    match best {
        Some((0, name, _)) => format!("prio {name}"),
        Some((n, name, sign)) => format!("prio {name} {sign} {n}"),
        None if p < DEFAULT => format!("prio {}", DEFAULT - p),
        None => format!("prio -{}", p - DEFAULT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pfkey::wire::ipsec;

    #[test]
    fn the_bases_are_libipsecs() {
        assert_eq!(DEFAULT, crate::ir::PRIORITY_DEFAULT);
        assert_eq!(DEFAULT, ipsec::PRIORITY_DEFAULT);
        assert_eq!(BASES[1].1, ipsec::PRIORITY_HIGH);
        assert_eq!(BASES[2].1, ipsec::PRIORITY_LOW);
    }

    #[test]
    fn priorities_read_as_libipsec_writes_them() {
        assert_eq!(spelling(DEFAULT), "prio def");
        assert_eq!(spelling(0x7FFF_FFF6), "prio def + 10");
        assert_eq!(spelling(0x4000_0005), "prio high - 5");
        assert_eq!(spelling(0xC000_0000), "prio low");
        assert_eq!(spelling(0), "prio high + 1073741824");
        assert_eq!(spelling(u32::MAX), "prio low - 1073741823");
    }
}
