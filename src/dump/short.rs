//! `setkey -D -l`: the one-line-per-SA loop format (setkey's `shortdump`).
//!
//! Unverified by recordings (the spec's single example is tested); the
//! caller prints [`SHORT_HEADER`] once, then per dump one line per SA from
//! [`write_short`] (or `No SAD entries.` on ENOENT), and flushes.

use std::io::Write;

use super::DumpOptions;
use super::addr::push_ip;
use crate::pfkey::wire::{AddressExt, AddressKind, LifetimeKind, Message, sa_state};

/// The header line printed once when `-l` starts.
pub const SHORT_HEADER: &str = "time p   s spi      ltime   src -> dst\n";

/// setkey's built-in protocol names for the short format.
fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "ip",
        1 => "icmp",
        2 => "igmp",
        3 => "ggp",
        4 => "ip4",
        6 => "tcp",
        8 => "egp",
        17 => "udp",
        22 => "idp",
        29 => "tp",
        41 => "ip6",
        43 => "rt6",
        44 => "frag6",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "icmp6",
        59 => "none",
        60 => "dst6",
        _ => return None,
    })
}

fn push_endpoint(s: &mut String, a: Option<&AddressExt>) {
    let Some(a) = a else {
        return;
    };
    if a.proto != 0 {
        match proto_name(a.proto) {
            Some(n) => s.push_str(n),
            None => s.push_str(&format!("#{}", a.proto)),
        }
        s.push(' ');
    }
    push_ip(s, &a.addr);
    if a.addr.port() != 0 {
        s.push_str(&format!("[{}]", a.addr.port()));
    }
}

/// One `-l` line for an SA message (nothing for a dead SA without `-a`).
pub fn write_short(
    out: &mut impl Write,
    msg: &Message,
    now: u64,
    opts: &DumpOptions,
) -> std::io::Result<()> {
    let sa = msg.sa();
    if sa.is_some_and(|s| s.state == sa_state::DEAD) && !opts.show_dead {
        return Ok(());
    }
    let mut s = format!("{:02}{:02}", now % 3600 / 60, now % 60);
    let satype = match msg.header.satype {
        2 => "ah".to_string(),
        3 => "esp".to_string(),
        n => format!("#{n}"),
    };
    s.push_str(&format!(" {satype:<3}"));
    match sa {
        Some(sa) => {
            let state = match sa.state {
                0 => "L".to_string(),
                1 => "M".to_string(),
                2 => "D".to_string(),
                3 => "d".to_string(),
                n => format!("#{n}"),
            };
            s.push_str(&format!(" {state:<1} {:08x}", sa.spi));
        }
        // setkey's literal for a missing SA extension (no leading space).
        None => s.push_str("? ?       "),
    }
    match (
        msg.lifetime(LifetimeKind::Current),
        msg.lifetime(LifetimeKind::Hard),
        msg.lifetime(LifetimeKind::Soft),
    ) {
        (Some(cur), Some(hard), Some(_)) => {
            let age = if cur.addtime == 0 {
                0
            } else {
                now.wrapping_sub(cur.addtime) as u32
            };
            if age >= 1000 {
                s.push_str(" big/");
            } else {
                s.push_str(&format!(" {age:>3}/"));
            }
            if hard.addtime >= 1000 {
                s.push_str("big");
            } else {
                s.push_str(&format!("{:<3}", hard.addtime));
            }
        }
        _ => s.push_str(" ???/???"),
    }
    s.push(' ');
    push_endpoint(&mut s, msg.address(AddressKind::Src));
    s.push_str(" -> ");
    push_endpoint(&mut s, msg.address(AddressKind::Dst));
    s.push('\n');
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pfkey::wire::{AddressExt, Extension, Header, LifetimeExt, SaExt};

    fn sa_msg(extra: Vec<Extension>) -> Message {
        let mut extensions = vec![
            Extension::Address(
                AddressKind::Src,
                AddressExt {
                    proto: 0,
                    prefixlen: 32,
                    addr: "10.0.0.1:0".parse().unwrap(),
                },
            ),
            Extension::Address(
                AddressKind::Dst,
                AddressExt {
                    proto: 0,
                    prefixlen: 32,
                    addr: "10.0.0.2:0".parse().unwrap(),
                },
            ),
        ];
        extensions.extend(extra);
        Message {
            header: Header {
                version: 2,
                msg_type: 10,
                satype: 3,
                ..Header::default()
            },
            extensions,
        }
    }

    fn line(msg: &Message, now: u64) -> String {
        let mut out = Vec::new();
        write_short(&mut out, msg, now, &DumpOptions::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spec_example() {
        let now = 1_704_067_200 + 20 * 60 + 39;
        let lt = |addtime| LifetimeExt {
            addtime,
            ..LifetimeExt::default()
        };
        let m = sa_msg(vec![
            Extension::Sa(SaExt {
                spi: 0x2000,
                state: 1,
                ..SaExt::default()
            }),
            Extension::Lifetime(LifetimeKind::Current, lt(now - 7)),
            Extension::Lifetime(LifetimeKind::Hard, lt(0)),
            Extension::Lifetime(LifetimeKind::Soft, lt(0)),
        ]);
        assert_eq!(
            line(&m, now),
            "2039 esp M 00002000   7/0   10.0.0.1 -> 10.0.0.2\n"
        );
    }

    #[test]
    fn missing_parts_and_big_values() {
        let m = sa_msg(vec![]);
        assert_eq!(
            line(&m, 0),
            "0000 esp? ?        ???/??? 10.0.0.1 -> 10.0.0.2\n"
        );
        let lt = |addtime| LifetimeExt {
            addtime,
            ..LifetimeExt::default()
        };
        let mut m = sa_msg(vec![
            Extension::Sa(SaExt::default()),
            Extension::Lifetime(LifetimeKind::Current, lt(1)),
            Extension::Lifetime(LifetimeKind::Hard, lt(3600)),
            Extension::Lifetime(LifetimeKind::Soft, lt(0)),
        ]);
        m.header.satype = 9;
        assert_eq!(
            line(&m, 5000),
            "2320 #9  L 00000000 big/big 10.0.0.1 -> 10.0.0.2\n"
        );
    }
}
