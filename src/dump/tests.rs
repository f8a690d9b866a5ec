//! Tests of the reply printer on hand-made messages: the worked examples of
//! the dump format notes and each formatting trap.

use super::*;
use crate::pfkey::wire::{
    AddressExt, AddressKind, Extension, Header, IpsecRequestExt, KeyExt, KeyKind, LifetimeExt,
    LifetimeKind, NatTPortKind, PolicyExt, Sa2Ext, SaExt, SecCtxExt,
};

/// Turns `cat -A` notation (`^I`, `$`) into the real text.
fn cat_a(s: &str) -> String {
    s.lines()
        .map(|l| l.replace("^I", "\t").trim_end_matches('$').to_string() + "\n")
        .collect()
}

fn printer(opts: DumpOptions) -> Printer<'static> {
    static EMPTY: std::sync::OnceLock<Protocols> = std::sync::OnceLock::new();
    let db = EMPTY.get_or_init(|| {
        Protocols::parse("ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\ngre 47 GRE\nipv6-icmp 58 IPv6-ICMP\n")
    });
    Printer::with_env(opts, db, Zone::Utc)
}

fn reply(p: &mut Printer<'_>, msg: &Message, now: u64) -> String {
    let mut out = Vec::new();
    p.reply(&mut out, msg, now).unwrap();
    String::from_utf8(out).unwrap()
}

fn addr(kind: AddressKind, s: &str, prefixlen: u8, proto: u8) -> Extension {
    Extension::Address(
        kind,
        AddressExt {
            proto,
            prefixlen,
            addr: s.parse().unwrap(),
        },
    )
}

fn lifetime(
    kind: LifetimeKind,
    allocations: u32,
    bytes: u64,
    addtime: u64,
    usetime: u64,
) -> Extension {
    Extension::Lifetime(
        kind,
        LifetimeExt {
            allocations,
            bytes,
            addtime,
            usetime,
        },
    )
}

fn header(t: MessageType, satype: u8, seq: u32, pid: u32, reserved: u16) -> Header {
    Header {
        version: 2,
        msg_type: t.into(),
        satype,
        seq,
        pid,
        reserved,
        ..Header::default()
    }
}

fn tutorial_sa() -> Message {
    Message {
        header: header(MessageType::Dump, 3, 1, 30211, 0),
        extensions: vec![
            Extension::Sa(SaExt {
                spi: 24501,
                state: 1,
                encrypt: 3,
                ..SaExt::default()
            }),
            lifetime(LifetimeKind::Hard, 0, 0, 0, 0),
            lifetime(LifetimeKind::Soft, 0, 0, 0, 0),
            lifetime(
                LifetimeKind::Current,
                1413,
                1_123_603,
                1_511_244_917,
                1_511_244_934,
            ),
            addr(AddressKind::Src, "202.141.176.3:0", 32, 0),
            addr(AddressKind::Dst, "202.141.176.2:0", 32, 0),
            Extension::Key(
                KeyKind::Encrypt,
                KeyExt::new(b"123456789012123456789012".to_vec()),
            ),
            Extension::Sa2(Sa2Ext {
                mode: 1,
                ..Sa2Ext::default()
            }),
        ],
    }
}

#[test]
fn tutorial_sa_example() {
    let got = reply(
        &mut printer(DumpOptions::default()),
        &tutorial_sa(),
        1_511_248_030,
    );
    let want = cat_a(
        "202.141.176.3 202.141.176.2 $
^Iesp mode=transport spi=24501(0x00005fb5) reqid=0(0x00000000)$
^IE: 3des-cbc  31323334 35363738 39303132 31323334 35363738 39303132$
^Iseq=0x00000000 replay=0 flags=0x00000000 state=mature $
^Icreated: Nov 21 06:15:17 2017^Icurrent: Nov 21 07:07:10 2017$
^Idiff: 3113(s)^Ihard: 0(s)^Isoft: 0(s)$
^Ilast: Nov 21 06:15:34 2017^Ihard: 0(s)^Isoft: 0(s)$
^Icurrent: 1123603(bytes)^Ihard: 0(bytes)^Isoft: 0(bytes)$
^Iallocated: 1413^Ihard: 0^Isoft: 0$
^Isadb_seq=1 pid=30211 refcnt=0$",
    );
    assert_eq!(got, want);
}

#[test]
fn nat_t_long_key_and_ipcomp_example() {
    let add = 1_709_629_687; // 2024-03-05 09:08:07
    let natt = Message {
        header: header(MessageType::Dump, 3, 2, 1234, 0),
        extensions: vec![
            Extension::Sa(SaExt {
                spi: 0xc0ff_ee01,
                replay: 32,
                state: 1,
                auth: 7,
                encrypt: 12,
                flags: 0,
            }),
            lifetime(LifetimeKind::Hard, 0, 0, 3600, 0),
            lifetime(LifetimeKind::Soft, 0, 0, 2880, 0),
            lifetime(LifetimeKind::Current, 789, 123_456, add, add + 53),
            addr(AddressKind::Src, "192.0.2.1:0", 32, 0),
            addr(AddressKind::Dst, "198.51.100.7:0", 32, 0),
            Extension::Key(KeyKind::Auth, KeyExt::new((0u8..64).collect())),
            Extension::Key(KeyKind::Encrypt, KeyExt::new((0x20u8..0x40).collect())),
            Extension::Sa2(Sa2Ext {
                mode: 2,
                sequence: 0,
                reqid: 16385,
            }),
            Extension::NatTType(2),
            Extension::NatTPort(NatTPortKind::Src, 4500),
            Extension::NatTPort(NatTPortKind::Dst, 4500),
        ],
    };
    let ipcomp = Message {
        header: header(MessageType::Dump, 9, 0, 1234, 0),
        extensions: vec![
            Extension::Sa(SaExt {
                spi: 1000,
                state: 1,
                encrypt: 2,
                ..SaExt::default()
            }),
            lifetime(LifetimeKind::Current, 0, 0, add, 0),
            addr(AddressKind::Src, "10.1.1.1:0", 32, 0),
            addr(AddressKind::Dst, "10.2.2.2:0", 32, 0),
            Extension::Sa2(Sa2Ext {
                mode: 1,
                ..Sa2Ext::default()
            }),
        ],
    };
    let mut p = printer(DumpOptions::default());
    let now = add + 113;
    let got = reply(&mut p, &natt, now) + &reply(&mut p, &ipcomp, now);
    let want = cat_a(
        "192.0.2.1[4500] 198.51.100.7[4500] $
^Iesp-udp mode=tunnel spi=3237998081(0xc0ffee01) reqid=16385(0x00004001)$
^IE: aes-cbc  20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637 38393a3b 3c3d3e3f$
^IA: hmac-sha512  00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f$
 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637 38393a3b 3c3d3e3f$
^Iseq=0x00000000 replay=32 flags=0x00000000 state=mature $
^Icreated: Mar  5 09:08:07 2024^Icurrent: Mar  5 09:10:00 2024$
^Idiff: 113(s)^Ihard: 3600(s)^Isoft: 2880(s)$
^Ilast: Mar  5 09:09:00 2024^Ihard: 0(s)^Isoft: 0(s)$
^Icurrent: 123456(bytes)^Ihard: 0(bytes)^Isoft: 0(bytes)$
^Iallocated: 789^Ihard: 0^Isoft: 0$
^Isadb_seq=2 pid=1234 refcnt=0$
10.1.1.1 10.2.2.2 $
^Iipcomp mode=transport spi=1000(0x000003e8) reqid=0(0x00000000)$
^IC: deflate ^Iseq=0x00000000 replay=0 flags=0x00000000 state=mature $
^Icreated: Mar  5 09:08:07 2024^Icurrent: Mar  5 09:10:00 2024$
^Idiff: 113(s)^Ihard: 0(s)^Isoft: 0(s)$
^Ilast:                     ^Ihard: 0(s)^Isoft: 0(s)$
^Icurrent: 0(bytes)^Ihard: 0(bytes)^Isoft: 0(bytes)$
^Iallocated: 0^Ihard: 0^Isoft: 0$
^Isadb_seq=0 pid=1234 refcnt=0$",
    );
    assert_eq!(got, want);

    // -p: SA ports, then the NAT-T ports.
    let mut p = printer(DumpOptions {
        show_ports: true,
        ..DumpOptions::default()
    });
    assert!(reply(&mut p, &natt, now).starts_with("192.0.2.1[0][4500] 198.51.100.7[0][4500] \n"));
}

#[test]
fn diff_wraps_and_bytes_go_through_double() {
    let mut m = tutorial_sa();
    for e in &mut m.extensions {
        if let Extension::Lifetime(LifetimeKind::Current, l) = e {
            l.addtime = 1_704_067_201;
            l.bytes = (1u64 << 63) + 12345;
        }
    }
    let got = reply(&mut printer(DumpOptions::default()), &m, 1_704_067_200);
    assert!(got.contains("\tdiff: 18446744073709551615(s)\t"), "{got}");
    assert!(
        got.contains("\tcurrent: 9223372036854788096(bytes)\t"),
        "{got}"
    );
}

#[test]
fn dead_sas_need_show_dead_but_get_always_prints() {
    let mut m = tutorial_sa();
    for e in &mut m.extensions {
        if let Extension::Sa(sa) = e {
            sa.state = 3;
        }
    }
    assert_eq!(reply(&mut printer(DumpOptions::default()), &m, 0), "");
    let all = DumpOptions {
        show_dead: true,
        ..DumpOptions::default()
    };
    assert!(reply(&mut printer(all), &m, 0).contains("state=dead \n"));
    let mut out = Vec::new();
    write_sa(&mut out, &m, 0, &DumpOptions::default()).unwrap();
    assert!(out.is_empty());
    m.header.msg_type = MessageType::Get.into();
    assert!(reply(&mut printer(DumpOptions::default()), &m, 0).contains("state=dead \n"));
}

#[test]
fn missing_extensions() {
    let mut m = tutorial_sa();
    m.extensions.retain(|e| !matches!(e, Extension::Sa2(_)));
    assert_eq!(
        reply(&mut printer(DumpOptions::default()), &m, 0),
        "202.141.176.3 202.141.176.2 no SA2 extension.\n"
    );
    m.extensions
        .retain(|e| !matches!(e, Extension::Address(AddressKind::Dst, _)));
    assert_eq!(
        reply(&mut printer(DumpOptions::default()), &m, 0),
        "202.141.176.3  no ADDRESS_DST extension.\n"
    );
}

#[test]
fn error_replies() {
    let mut p = printer(DumpOptions::default());
    let err = |t: MessageType, errno: u8| Message {
        header: Header {
            errno,
            ..header(t, 0, 0, 2, 0)
        },
        extensions: vec![],
    };
    assert_eq!(
        reply(&mut p, &err(MessageType::Dump, 2), 0),
        "No SAD entries.\n"
    );
    assert_eq!(
        reply(&mut p, &err(MessageType::SpdDump, 2), 0),
        "No SPD entries.\n"
    );
    assert_eq!(reply(&mut p, &err(MessageType::Get, 2), 0), "No entry.\n");
    assert_eq!(
        reply(&mut p, &err(MessageType::SpdDelete, 2), 0),
        "No entry.\n"
    );
    assert_eq!(reply(&mut p, &err(MessageType::GetSpi, 2), 0), "(null).\n");
    assert_eq!(
        reply(&mut p, &err(MessageType::Add, 17), 0),
        "File exists.\n"
    );
    assert_eq!(
        reply(&mut p, &err(MessageType::Delete, 3), 0),
        "No such process.\n"
    );
    assert_eq!(
        reply(&mut p, &err(MessageType::Dump, 234), 0),
        "Unknown error 234.\n"
    );
    // Replies setkey does not print.
    assert_eq!(reply(&mut p, &err(MessageType::Add, 0), 0), "");
    assert_eq!(reply(&mut p, &err(MessageType::Flush, 0), 0), "");
}

fn v6_policy() -> Message {
    let a = "[2001:db8::1]:0".parse().unwrap();
    let b = "[2001:db8::2]:0".parse().unwrap();
    let add = 1_709_629_687;
    Message {
        header: header(MessageType::SpdDump, 0, 1, 1234, 2),
        extensions: vec![
            addr(AddressKind::Src, "[2001:db8:1::]:0", 48, 6),
            addr(AddressKind::Dst, "[2001:db8:2::]:443", 48, 6),
            lifetime(LifetimeKind::Hard, 0, 0, 0, 0),
            lifetime(LifetimeKind::Soft, 0, 0, 0, 0),
            lifetime(LifetimeKind::Current, 0, 0, add, add + 112),
            Extension::Policy(PolicyExt {
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
                ],
            }),
        ],
    }
}

fn socket_policy(seq: u32) -> Message {
    Message {
        header: header(MessageType::SpdDump, 0, seq, 1234, 2),
        extensions: vec![
            addr(AddressKind::Src, "0.0.0.0:0", 0, 255),
            addr(AddressKind::Dst, "0.0.0.0:0", 0, 255),
            lifetime(LifetimeKind::Hard, 0, 0, 0, 0),
            lifetime(LifetimeKind::Soft, 0, 0, 0, 0),
            lifetime(LifetimeKind::Current, 0, 0, 1_709_629_200, 0),
            Extension::Policy(PolicyExt {
                policy_type: 1,
                dir: 5,
                id: 164,
                priority: 0,
                requests: vec![],
            }),
        ],
    }
}

#[test]
fn ipv6_and_socket_policy_example() {
    let mut p = printer(DumpOptions::default());
    let got = reply(&mut p, &v6_policy(), 0) + &reply(&mut p, &socket_policy(0), 0);
    let want = cat_a(
        "2001:db8:1::/48[any] 2001:db8:2::/48[443] tcp$
^Iout prio high - 5 ipsec$
^Iipcomp/tunnel/2001:db8::1-2001:db8::2/use$
^Iesp/tunnel/2001:db8::1-2001:db8::2/unique:7$
^Icreated: Mar  5 09:08:07 2024  lastused: Mar  5 09:09:59 2024$
^Ilifetime: 0(s) validtime: 0(s)$
^Ispid=1025 seq=1 pid=1234$
^Irefcnt=2$
(per-socket policy) $
^Iout(socket) none$
^Icreated: Mar  5 09:00:00 2024  lastused:                     $
^Ilifetime: 0(s) validtime: 0(s)$
^Ispid=164 seq=0 pid=1234$
^Irefcnt=2$",
    );
    assert_eq!(got, want);

    let mut p = printer(DumpOptions {
        show_ports: true,
        ..DumpOptions::default()
    });
    let got = reply(&mut p, &v6_policy(), 0);
    assert!(got.contains("\n\tipcomp/tunnel/2001:db8::1[0]-2001:db8::2[0]/use\n"));
    assert!(got.contains("\n\tesp/tunnel/2001:db8::1[0]-2001:db8::2[0]/unique:7\n"));
}

#[test]
fn hide_socket_policies_counts() {
    let opts = DumpOptions {
        hide_socket_policies: true,
        ..DumpOptions::default()
    };
    let mut p = printer(opts);
    let got = reply(&mut p, &v6_policy(), 0) + &reply(&mut p, &socket_policy(0), 0);
    assert!(got.ends_with("\trefcnt=2\n1 per-socket policy not shown (filtered by -N)\n"));
    assert!(!got.contains("per-socket policy) "));
    // Three hidden in a dump of four: the counter restarts at seq 1.
    let mut shown = v6_policy();
    shown.header.seq = 3;
    let got = reply(&mut p, &socket_policy(1), 0)
        + &reply(&mut p, &socket_policy(2), 0)
        + &reply(&mut p, &shown, 0)
        + &reply(&mut p, &socket_policy(0), 0);
    assert!(got.starts_with("2001:db8:1::/48[any]"), "{got}");
    assert!(got.ends_with("\tspid=1025 seq=3 pid=1234\n\trefcnt=2\n3 per-socket policies not shown (filtered by -N)\n"), "{got}");
    // Stateless: nothing for the hidden entry, no count line.
    let mut out = Vec::new();
    write_reply(&mut out, &socket_policy(0), 0, &opts).unwrap();
    assert!(out.is_empty());
}

#[test]
fn selector_upper_layer_forms() {
    let sel = |proto: u8, sport: u16, dport: u16| {
        let m = Message {
            header: header(MessageType::SpdDump, 0, 0, 1, 1),
            extensions: vec![
                addr(AddressKind::Src, &format!("10.0.0.1:{sport}"), 32, proto),
                addr(AddressKind::Dst, &format!("10.0.0.2:{dport}"), 32, proto),
                Extension::Policy(PolicyExt {
                    policy_type: 1,
                    dir: 2,
                    id: 1,
                    ..PolicyExt::default()
                }),
            ],
        };
        let s = reply(&mut printer(DumpOptions::default()), &m, 0);
        s.lines().next().unwrap().to_string()
    };
    assert_eq!(sel(47, 0x1234, 0x5678), "10.0.0.1 10.0.0.2 gre 305419896");
    assert_eq!(sel(1, 0, 0), "10.0.0.1 10.0.0.2 icmp");
    assert_eq!(sel(1, 8, 0), "10.0.0.1 10.0.0.2 icmp 8,0");
    assert_eq!(sel(6, 0, 22), "10.0.0.1[any] 10.0.0.2[22] tcp");
    assert_eq!(sel(255, 0, 0), "10.0.0.1[any] 10.0.0.2[any] 255");
    assert_eq!(sel(200, 0, 0), "10.0.0.1[any] 10.0.0.2[any] 200");
}

#[test]
fn security_context_lines() {
    let mut m = tutorial_sa();
    m.extensions.push(Extension::SecCtx(SecCtxExt {
        alg: 1,
        doi: 1,
        context: b"system_u:object_r:ipsec_spd_t:s0\0\0".to_vec(),
    }));
    let got = reply(&mut printer(DumpOptions::default()), &m, 1_511_248_030);
    assert!(got.ends_with(
        "\tallocated: 1413\thard: 0\tsoft: 0\n\tsecurity context doi: 1\n\tsecurity context algorithm: 1\n\tsecurity context length: 34\n\tsecurity context: system_u:object_r:ipsec_spd_t:s0\n\tsadb_seq=1 pid=30211 refcnt=0\n"
    ));
}
