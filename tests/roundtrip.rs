//! Property tests of the IR printer and of the parser's tolerance of layout.
//!
//! * `printed_operations_parse_back`: random printable IR (SAs of every type,
//!   option and algorithm with key lengths the default Linux table accepts;
//!   policies with every action, level, priority, request and end point
//!   form; flush, dump, deleteall, exit) → [`print::script`] → parse →
//!   the same IR, one statement per printed line.
//! * `grammar_scripts_parse`: scripts generated from the grammar (every
//!   statement, aliases, names from `fixtures/etc`, random blanks, newlines
//!   and comments between tokens, policies over several lines) parse, give
//!   the same IR as the same tokens separated by single spaces, and print
//!   to lines that parse back to that IR.
//!
//! Names resolve through `fixtures/etc` ([`FileNames`]), so nothing here
//! touches DNS. Case counts default to a few hundred per property (the file
//! runs in seconds in release); `PROPTEST_CASES` overrides them.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::sync::OnceLock;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use rsetkey::ir::Keys;
use rsetkey::ir::print;
use rsetkey::ir::*;
use rsetkey::parse::{FileNames, Options, parse_script_with};

use rsetkey::ir::sa_flags::*;

fn names() -> &'static FileNames {
    static NAMES: OnceLock<FileNames> = OnceLock::new();
    NAMES.get_or_init(|| {
        FileNames::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/etc"))
            .expect("fixtures/etc is readable")
    })
}

/// `-k`: every printed policy is its own operation (no `fwd` twins).
fn kernel_mode() -> Options {
    Options {
        rfc_mode: false,
        ..Options::default()
    }
}

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
        // Integration tests have no source file proptest could find to
        // store regressions next to; failures print the minimal case.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn operations(text: &str, options: &Options) -> Result<Vec<Operation>, TestCaseError> {
    parse_script_with(text, options, names())
        .map(|sts| sts.into_iter().flat_map(|s| s.operations).collect())
        .map_err(|e| TestCaseError::fail(format!("{e} (line {})\n{text}", e.line)))
}

// ---------------------------------------------------------------------------
// Strategies for printable IR.

/// Mostly 0 (the default, which the printer leaves out), sometimes anything.
fn mostly_zero_u32() -> impl Strategy<Value = u32> {
    prop_oneof![2 => Just(0u32), 1 => any::<u32>(), 1 => 1u32..100]
}

fn mostly_zero_u64() -> impl Strategy<Value = u64> {
    prop_oneof![2 => Just(0u64), 1 => any::<u64>(), 1 => Just(u64::MAX)]
}

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        3 => any::<[u16; 8]>().prop_map(Ipv6Addr::from),
        1 => v4().prop_map(|a| a.to_ipv6_mapped()),
        1 => any::<u16>().prop_map(|x| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, x)),
        1 => any::<u16>().prop_map(|x| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, x, 0)),
        1 => Just(Ipv6Addr::UNSPECIFIED),
        1 => Just(Ipv6Addr::LOCALHOST),
    ]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![v4().prop_map(IpAddr::V4), v6().prop_map(IpAddr::V6)]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(0u16), 1 => Just(500u16), 1 => Just(4500u16), 2 => any::<u16>()]
}

fn scope() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0u32), 1 => 1u32..16, 1 => any::<u32>()]
}

fn sock_v4() -> impl Strategy<Value = SocketAddr> {
    (v4(), port()).prop_map(|(a, p)| SocketAddr::V4(SocketAddrV4::new(a, p)))
}

fn sock_v6() -> impl Strategy<Value = SocketAddr> {
    (v6(), port(), scope()).prop_map(|(a, p, s)| SocketAddr::V6(SocketAddrV6::new(a, p, 0, s)))
}

/// Two socket addresses of one family.
fn same_family_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![(sock_v4(), sock_v4()), (sock_v6(), sock_v6())]
}

/// Two socket addresses of different families (end points of a non-ipsec
/// policy's request, which libipsec leaves unchecked).
fn mixed_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![(sock_v4(), sock_v6()), (sock_v6(), sock_v4())]
}

fn satype() -> impl Strategy<Value = SaType> {
    select(vec![
        SaType::Unspec,
        SaType::Ah,
        SaType::Esp,
        SaType::IpComp,
    ])
}

/// A security context: DOI 0 would mean "none", quotes and control
/// characters have no spelling inside setkey's quoted strings.
fn context() -> impl Strategy<Value = Option<SecurityContext>> {
    option::weighted(
        0.2,
        (1u8..=255, any::<u8>(), "[^\"\\p{Cc}]{0,24}").prop_map(|(doi, alg, s)| SecurityContext {
            doi,
            alg,
            context: s.into_bytes(),
        }),
    )
}

fn key(bytes: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Key> {
    vec(any::<u8>(), bytes).prop_map(Key::new)
}

/// An encryption algorithm of the default table with a key it accepts.
fn encrypt() -> impl Strategy<Value = (EncryptAlgorithm, Key)> {
    select(SupportedAlgorithms::linux_default().encrypt).prop_flat_map(|(alg, min, max)| {
        let lo = usize::from(min).div_ceil(8);
        let hi = usize::from(max) / 8;
        key(lo..=hi).prop_map(move |k| (alg, k))
    })
}

/// An authentication algorithm of the default table with its key (`null`
/// has none).
fn auth() -> impl Strategy<Value = (AuthAlgorithm, Option<Key>)> {
    select(SupportedAlgorithms::linux_default().auth).prop_flat_map(|(alg, min, max)| {
        let lo = usize::from(min).div_ceil(8);
        let hi = usize::from(max) / 8;
        key(lo..=hi).prop_map(move |k| (alg, (alg != AuthAlgorithm::Null).then_some(k)))
    })
}

/// The algorithm part of an `add`, with the flag bits its spelling sets
/// (`des-32iv`, `des-deriv`, `-R`).
fn transforms() -> impl Strategy<Value = (Transforms, u32)> {
    let t = |encrypt, auth, compression| Transforms {
        encrypt,
        auth,
        compression,
    };
    prop_oneof![
        encrypt().prop_map(move |e| (t(Some(e), None, None), 0)),
        (encrypt(), auth()).prop_map(move |(e, a)| (t(Some(e), Some(a), None), 0)),
        auth().prop_map(move |a| (t(None, Some(a), None), 0)),
        (
            select(vec![
                CompressionAlgorithm::Oui,
                CompressionAlgorithm::Deflate,
                CompressionAlgorithm::Lzs
            ]),
            any::<bool>()
        )
            .prop_map(move |(c, raw)| (t(None, None, Some(c)), if raw { FLAG_RAWCPI } else { 0 })),
        (
            key(8..=8),
            select(vec![FLAG_IV4B, FLAG_DERIV]),
            option::of(auth())
        )
            .prop_map(move |(k, flag, a)| (t(Some((EncryptAlgorithm::DesCbc, k)), a, None), flag)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaCmd {
    Add,
    Get,
    Delete,
    GetSpi,
}

/// Which protocol spelling: plain, `-old`, or `esp-udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Old,
    Nat,
}

fn security_association(cmd: SaCmd) -> impl Strategy<Value = Operation> {
    let algs = if cmd == SaCmd::Add {
        transforms().boxed()
    } else {
        Just((Transforms::default(), 0)).boxed()
    };
    (
        satype(),
        select(vec![Variant::Plain, Variant::Old, Variant::Nat]),
        same_family_pair(),
        option::of(ip()),
        prop_oneof![any::<u32>(), 0u32..0x10000],
        select(vec![
            IpsecMode::Any,
            IpsecMode::Transport,
            IpsecMode::Tunnel,
        ]),
        mostly_zero_u32(),
        // -r as written: 8 bits (a larger window is refused, not wrapped)
        prop_oneof![Just(0u64), 0u64..=255],
        any::<(bool, bool, bool)>(),
        (
            mostly_zero_u32(),
            mostly_zero_u32(),
            mostly_zero_u64(),
            mostly_zero_u64(),
        ),
        context(),
        algs,
    )
        .prop_map(
            move |(
                satype,
                variant,
                (src, dst),
                oa,
                spi,
                mode,
                reqid,
                replay,
                (random_pad, zero_pad, nocyclic),
                (hs, ss, hb, sb),
                context,
                (transforms, alg_flags),
            )| {
                let old = variant == Variant::Old && matches!(satype, SaType::Esp | SaType::Ah);
                let nat = variant == Variant::Nat && satype == SaType::Esp;
                let mut flags = FLAG_CYCSEQ;
                if nocyclic {
                    flags &= !FLAG_CYCSEQ;
                }
                if random_pad {
                    flags |= FLAG_PRAND;
                }
                if zero_pad {
                    flags |= FLAG_PZERO;
                }
                if old {
                    flags |= FLAG_OLD;
                }
                // des-32iv exists only with the old protocols, des-deriv only
                // without them; otherwise the key is plain des-cbc.
                let alg_flags = match alg_flags {
                    FLAG_IV4B if !old => 0,
                    FLAG_DERIV if old => 0,
                    f => f,
                };
                let nz = |p: u16| if p == 0 { NAT_T_PORT } else { p };
                let sa = SecurityAssociation {
                    satype,
                    src,
                    dst,
                    spi,
                    mode,
                    reqid,
                    replay: if old { 0 } else { replay as u8 },
                    replay_requested: if old { 0 } else { replay },
                    wide_replay: None,
                    flags: flags | alg_flags,
                    transforms,
                    hard: Lifetime {
                        seconds: u64::from(hs),
                        bytes: hb,
                    },
                    soft: Lifetime {
                        seconds: u64::from(ss),
                        bytes: sb,
                    },
                    context,
                    nat: nat.then(|| NatTraversal {
                        sport: nz(src.port()),
                        dport: nz(dst.port()),
                        original: oa,
                    }),
                };
                let sa = Box::new(sa);
                match cmd {
                    SaCmd::Add => Operation::Add(sa),
                    SaCmd::Get => Operation::Get(sa),
                    SaCmd::Delete => Operation::Delete(sa),
                    SaCmd::GetSpi => Operation::GetSpi(sa),
                }
            },
        )
}

fn level() -> impl Strategy<Value = (Level, u32)> {
    prop_oneof![
        Just((Level::Default, 0)),
        Just((Level::Use, 0)),
        Just((Level::Require, 0)),
        Just((Level::Unique, 0)),
        prop_oneof![1u32..16384, any::<u32>()].prop_map(|n| (Level::Unique, n)),
    ]
}

/// A request as libipsec accepts it for a policy with this action.
fn request(ipsec: bool) -> impl Strategy<Value = IpsecRequest> {
    let endpoints = if ipsec {
        option::weighted(0.7, same_family_pair()).boxed()
    } else {
        option::weighted(0.6, prop_oneof![3 => same_family_pair(), 1 => mixed_pair()]).boxed()
    };
    (
        select(vec![
            IpsecProtocol::Esp,
            IpsecProtocol::Ah,
            IpsecProtocol::IpComp,
        ]),
        select(vec![IpsecMode::Transport, IpsecMode::Tunnel]),
        level(),
        endpoints,
    )
        .prop_map(move |(protocol, mode, (level, reqid), endpoints)| {
            // An ipsec tunnel request needs end points.
            let mode = if ipsec && endpoints.is_none() {
                IpsecMode::Transport
            } else {
                mode
            };
            IpsecRequest {
                protocol,
                mode,
                level,
                reqid,
                endpoints: endpoints.map(Box::new),
            }
        })
}

fn priority() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => Just(PRIORITY_DEFAULT),
        1 => Just(0u32),
        1 => Just(u32::MAX),
        2 => any::<u32>(),
        2 => (select(vec![0x4000_0000u32, 0x8000_0000, 0xC000_0000]), -100i64..100)
            .prop_map(|(b, d)| (i64::from(b) + d) as u32),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    let direction = select(vec![Direction::In, Direction::Out, Direction::Fwd]);
    prop_oneof![
        // The bare direction (`-P in`).
        1 => direction.clone().prop_map(|direction| Policy {
            direction,
            action: PolicyAction::Discard,
            priority: 0,
            requests: Default::default(),
        }),
        6 => (
            direction,
            select(vec![
                PolicyAction::Discard,
                PolicyAction::None,
                PolicyAction::Ipsec,
                PolicyAction::Ipsec,
                PolicyAction::Bypass,
                PolicyAction::Entrust,
            ]),
            priority(),
        )
            .prop_flat_map(|(direction, action, priority)| {
                vec(request(action == PolicyAction::Ipsec), 0..4).prop_map(move |requests| Policy {
                    direction,
                    action,
                    priority,
                    requests: requests.into(),
                })
            }),
    ]
}

fn upper() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => Just(UPPER_ANY),
        2 => select(vec![1u8, 58, 135, 47]),
        1 => select(vec![6u8, 17, 0, 4, 41]),
        2 => any::<u8>(),
    ]
}

fn prefix(full: u8) -> impl Strategy<Value = u8> {
    prop_oneof![2 => Just(full), 1 => 0..=full, 1 => any::<u8>()]
}

fn policy_request() -> impl Strategy<Value = PolicyRequest> {
    same_family_pair().prop_flat_map(|(s, d)| {
        let full = if s.is_ipv4() { 32 } else { 128 };
        (prefix(full), prefix(full), upper(), context(), policy()).prop_map(
            move |(sp, dp, upper, context, policy)| PolicyRequest {
                src: SelectorAddress {
                    addr: s,
                    prefixlen: sp,
                },
                dst: SelectorAddress {
                    addr: d,
                    prefixlen: dp,
                },
                upper,
                policy,
                context,
            },
        )
    })
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        1 => satype().prop_map(Operation::Flush),
        1 => satype().prop_map(Operation::Dump),
        1 => Just(Operation::SpdFlush),
        1 => Just(Operation::SpdDump),
        6 => security_association(SaCmd::Add),
        1 => security_association(SaCmd::Get),
        1 => security_association(SaCmd::Delete),
        1 => security_association(SaCmd::GetSpi),
        1 => (satype(), ip(), ip()).prop_map(|(satype, s, d)| Operation::DeleteAll(DeleteAll {
            satype,
            src: vec![s],
            dst: vec![d],
        })),
        3 => policy_request().prop_map(Operation::SpdAdd),
        1 => policy_request().prop_map(Operation::SpdUpdate),
        1 => policy_request().prop_map(Operation::SpdDelete),
    ]
}

/// A script's operations; `exit` can only come last (nothing after it is
/// read).
fn operations_strategy() -> impl Strategy<Value = Vec<Operation>> {
    (vec(operation(), 1..8), any::<bool>()).prop_map(|(mut ops, exit)| {
        if exit {
            ops.push(Operation::Exit);
        }
        ops
    })
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn printed_operations_parse_back(ops in operations_strategy()) {
        let supported = SupportedAlgorithms::linux_default();
        for op in &ops {
            prop_assert_eq!(print::check(op, &supported), Ok(()), "{:?}", op);
        }
        let text = print::script(&ops, Keys::Show);
        let statements = parse_script_with(&text, &kernel_mode(), names())
            .map_err(|e| TestCaseError::fail(format!("{e} (line {})\n{text}", e.line)))?;
        // One statement per line, one operation per statement.
        prop_assert_eq!(statements.len(), ops.len(), "{}", text);
        for (i, st) in statements.iter().enumerate() {
            prop_assert_eq!(st.location.line as usize, i + 1, "{}", text);
            prop_assert_eq!(st.operations.len(), 1, "{}", text);
        }
        let back: Vec<Operation> = statements.into_iter().flat_map(|s| s.operations).collect();
        prop_assert_eq!(&back, &ops, "{}", text);
        // Masking keeps every line's shape: same length, one `*` per digit.
        let masked = print::script(&ops, Keys::Mask);
        for (m, s) in masked.lines().zip(text.lines()) {
            prop_assert_eq!(m.len(), s.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Scripts generated from the grammar.

/// One statement as the atoms a writer would separate with blanks. From
/// `policy_from` on (the `-P` atom) the separators must be blanks and
/// newlines only: a `#` would end the policy text.
#[derive(Debug, Clone)]
struct Stmt {
    atoms: Vec<String>,
    policy_from: usize,
}

impl Stmt {
    fn plain(atoms: Vec<String>) -> Stmt {
        let policy_from = atoms.len();
        Stmt { atoms, policy_from }
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Address family of a generated statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fam {
    V4,
    V6,
}

/// Hosts of a family: numeric addresses and names of `fixtures/etc/hosts`
/// that resolve to exactly one address of that family.
fn host(f: Fam) -> impl Strategy<Value = String> {
    let v = match f {
        Fam::V4 => vec![
            "10.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "0.0.0.0",
            "gw-a",
            "gw-b.example",
        ],
        Fam::V6 => vec![
            "::1",
            "2001:db8::1",
            "fe80::1%2",
            "::ffff:10.0.0.1",
            "gw-a6",
            "gw-b6.example",
        ],
    };
    select(v).prop_map(s)
}

fn fam() -> impl Strategy<Value = Fam> {
    select(vec![Fam::V4, Fam::V6])
}

/// `-4`/`-6` matching the family, or nothing.
fn aiflags(f: Fam) -> impl Strategy<Value = Vec<String>> {
    let flag = match f {
        Fam::V4 => "-4",
        Fam::V6 => "-6",
    };
    select(vec![vec![], vec![s(flag)]])
}

fn sa_port() -> impl Strategy<Value = &'static str> {
    select(vec!["", "", "[any]", "[500]", "[isakmp]", "[4500]", "[0]"])
}

/// Key text of `n` bytes: hex (either case prefix) or a quoted string.
fn key_text(n: usize) -> impl Strategy<Value = String> {
    (vec(any::<u8>(), n..=n), 0u8..3).prop_map(|(b, form)| match form {
        0 => format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        1 => format!(
            "0X{}",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
        _ => format!(
            "\"{}\"",
            b.iter()
                .map(|x| char::from(b'a' + x % 26))
                .collect::<String>()
        ),
    })
}

fn enc_atoms() -> impl Strategy<Value = Vec<String>> {
    select(vec![
        ("aes-cbc", 16),
        ("aes-cbc", 32),
        ("rijndael-cbc", 24),
        ("3des-cbc", 24),
        ("des-cbc", 8),
        ("blowfish-cbc", 5),
        ("cast128-cbc", 16),
        ("twofish-cbc", 32),
        ("aes-ctr", 20),
        ("camellia-cbc", 16),
        ("null", 0),
        ("simple", 0),
    ])
    .prop_flat_map(|(name, n)| {
        key_text(n).prop_map(move |k| {
            if n == 0 {
                vec![s("-E"), s(name)]
            } else {
                vec![s("-E"), s(name), k]
            }
        })
    })
}

fn auth_atoms() -> impl Strategy<Value = Vec<String>> {
    select(vec![
        ("hmac-md5", 16),
        ("hmac-sha1", 20),
        ("hmac-sha256", 32),
        ("hmac-sha2-256", 32),
        ("hmac-sha384", 48),
        ("hmac-sha2-384", 48),
        ("hmac-sha512", 64),
        ("hmac-sha2-512", 64),
        ("hmac-ripemd160", 20),
        ("aes-xcbc-mac", 16),
        ("null", 0),
    ])
    .prop_flat_map(|(name, n)| {
        key_text(n).prop_map(move |k| {
            if n == 0 {
                vec![s("-A"), s(name)]
            } else {
                vec![s("-A"), s(name), k]
            }
        })
    })
}

fn alg_atoms() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        enc_atoms(),
        (enc_atoms(), auth_atoms()).prop_map(|(mut e, a)| {
            e.extend(a);
            e
        }),
        auth_atoms(),
        (select(vec!["oui", "deflate", "lzs"]), any::<bool>()).prop_map(|(c, raw)| {
            let mut v = vec![s("-C"), s(c)];
            if raw {
                v.push(s("-R"));
            }
            v
        }),
    ]
}

/// SA extensions in random order; `-r` only when the protocol allows it.
fn extensions(replay_ok: bool) -> impl Strategy<Value = Vec<String>> {
    let mut all: Vec<Vec<String>> = vec![
        vec![s("-m"), s("transport")],
        vec![s("-m"), s("tunnel")],
        vec![s("-m"), s("any")],
        vec![s("-u"), s("7")],
        vec![s("-f"), s("random-pad")],
        vec![s("-f"), s("zero-pad")],
        vec![s("-f"), s("seq-pad")],
        vec![s("-f"), s("nocyclic-seq")],
        vec![s("-lh"), s("3600")],
        vec![s("-ls"), s("3000")],
        vec![s("-bh"), s("100000")],
        vec![s("-bs"), s("90000")],
        vec![
            s("-ctx"),
            s("1"),
            s("1"),
            s("\"system_u:object_r:ipsec_spd_t:s0\""),
        ],
    ];
    if replay_ok {
        all.push(vec![s("-r"), s("32")]);
    }
    let n = all.len();
    proptest::sample::subsequence(all, 0..=n)
        .prop_shuffle()
        .prop_map(|v| v.into_iter().flatten().collect())
}

fn sa_statement() -> impl Strategy<Value = Stmt> {
    (
        select(vec!["add", "add", "add", "get", "delete", "getspi"]),
        fam(),
        select(vec![
            "", "esp", "ah", "ipcomp", "esp-old", "ah-old", "esp-udp", "tcp",
        ]),
        select(vec![
            "0x1000",
            "4097",
            "0X2a",
            "0",
            "4294967295",
            "0xffffffff",
        ]),
        any::<bool>(),
    )
        .prop_flat_map(|(cmd, f, proto, spi, with_oa)| {
            let replay_ok = !proto.ends_with("-old");
            (
                Just((cmd, proto, spi, with_oa)),
                aiflags(f),
                (host(f), sa_port()),
                (host(f), sa_port()),
                host(f),
                extensions(replay_ok),
                alg_atoms(),
            )
        })
        .prop_map(
            |((cmd, proto, spi, with_oa), flags, (src, sp), (dst, dp), oa, exts, algs)| {
                let mut a = vec![s(cmd)];
                a.extend(flags);
                a.push(format!("{src}{sp}"));
                a.push(format!("{dst}{dp}"));
                if !proto.is_empty() {
                    a.push(s(proto));
                    if proto == "esp-udp" && with_oa {
                        a.push(oa);
                    }
                }
                a.push(s(spi));
                a.extend(exts);
                if cmd == "add" {
                    a.extend(algs);
                }
                a.push(s(";"));
                Stmt::plain(a)
            },
        )
}

fn other_statement() -> impl Strategy<Value = Stmt> {
    let proto = select(vec!["", "esp", "ah", "ipcomp", "esp-old", "tcp", "esp-udp"]);
    prop_oneof![
        (select(vec!["flush", "dump"]), proto.clone()).prop_map(|(k, p)| {
            let mut a = vec![s(k)];
            if !p.is_empty() {
                a.push(s(p));
            }
            a.push(s(";"));
            Stmt::plain(a)
        }),
        select(vec!["spdflush", "spddump"]).prop_map(|k| Stmt::plain(vec![s(k), s(";")])),
        fam()
            .prop_flat_map(move |f| (aiflags(f), host(f), host(f), proto.clone()))
            .prop_map(|(flags, src, dst, p)| {
                let mut a = vec![s("deleteall")];
                a.extend(flags);
                a.push(src);
                a.push(dst);
                if !p.is_empty() {
                    a.push(s(p));
                }
                a.push(s(";"));
                Stmt::plain(a)
            }),
    ]
}

/// A selector address with optional prefix and port, as one atom.
fn selector(f: Fam) -> impl Strategy<Value = String> {
    let prefix = match f {
        Fam::V4 => select(vec!["", "", "/32", "/24", "/0", "/16"]),
        Fam::V6 => select(vec!["", "", "/128", "/64", "/0"]),
    };
    let addr = match f {
        Fam::V4 => select(vec!["10.0.0.0", "192.0.2.1", "gw-a", "0.0.0.0"]),
        Fam::V6 => select(vec!["2001:db8::", "fe80::%3", "::", "gw-a6"]),
    };
    (addr, prefix, select(vec!["", "", "[any]", "[80]", "[ntp]"]))
        .prop_map(|(a, p, port)| format!("{a}{p}{port}"))
}

/// Upper-layer spec and its optional misc spec.
fn upper_atoms() -> impl Strategy<Value = Vec<String>> {
    select(vec![
        vec!["any"],
        vec!["tcp"],
        vec!["udp"],
        vec!["6"],
        vec!["17"],
        vec!["ospf"],
        vec!["ip4"],
        vec!["47"],
        vec!["icmp"],
        vec!["icmp", "8,0"],
        vec!["1", "3,1"],
        vec!["icmp6", "135,0"],
        vec!["ipv6-icmp", "128,0"],
        vec!["58"],
        vec!["gre", "1.2.3.4"],
        vec!["gre", "65537,"],
        vec!["mobility-header", "5,0"],
    ])
    .prop_map(|v| v.into_iter().map(s).collect())
}

/// Tunnel end points of a family, as one policy word (`a-b`, with ports).
fn endpoints(f: Fam) -> impl Strategy<Value = String> {
    match f {
        Fam::V4 => select(vec![
            "192.0.2.1-198.51.100.7",
            "10.0.0.1[500]-10.0.0.2[4500]",
        ]),
        Fam::V6 => select(vec!["2001:db8::1-2001:db8::2", "fe80::1%2[1]-fe80::2[2]"]),
    }
    .prop_map(s)
}

/// One request of an `ipsec` policy with direction `dir`, as words that
/// may be separated by blanks.
fn request_atoms(dir: &'static str) -> impl Strategy<Value = Vec<String>> {
    let proto = select(vec!["esp", "ah", "ipcomp"]);
    let level = select(vec!["default", "use", "require", "unique", "unique:7"]);
    let me = match dir {
        "out" => "me-any",
        "in" => "any-me",
        _ => "",
    };
    (proto, level, fam(), 0u8..8, any::<bool>()).prop_flat_map(move |(p, l, f, form, split)| {
        endpoints(f).prop_map(move |e| {
            let words: Vec<&str> = match form {
                0 => vec![p, "/", "transport"],
                1 => vec![p, "/", "transport", "/"],
                2 => vec![p, "/", "transport", "/", "/", l],
                3 => vec![p, "/", "tunnel", "/", &e],
                4 => vec![p, "/", "tunnel", "/", &e, "/"],
                5 => vec![p, "/", "tunnel", "/", &e, "/", l],
                6 if !me.is_empty() => vec![p, "/", "transport", "/", me, "/", l],
                _ => vec![p, "/", "transport", "/", &e, "/", l],
            };
            if split {
                words.into_iter().map(s).collect()
            } else {
                vec![words.concat()]
            }
        })
    })
}

fn priority_atoms() -> impl Strategy<Value = Vec<String>> {
    select(vec![
        vec![],
        vec![],
        vec!["prio", "def"],
        vec!["priority", "low"],
        vec!["prio", "high", "+", "5"],
        vec!["prio", "def", "-", "1073741823"],
        vec!["prio", "low", "+", "1073741824"],
        vec!["prio", "100"],
        vec!["prio", "-", "7"],
        vec!["prio", "-7"],
        vec!["prio", "2147483648"],
        vec!["prio", "-2147483647"],
    ])
    .prop_map(|v| v.into_iter().map(s).collect())
}

fn policy_atoms() -> impl Strategy<Value = Vec<String>> {
    select(vec!["in", "out", "fwd"]).prop_flat_map(|dir| {
        prop_oneof![
            1 => Just(vec![s(dir)]),
            2 => (priority_atoms(), select(vec!["discard", "none", "bypass", "entrust"]))
                .prop_map(move |(p, act)| {
                    let mut v = vec![s(dir)];
                    v.extend(p);
                    v.push(s(act));
                    v
                }),
            5 => (priority_atoms(), vec(request_atoms(dir), 0..4)).prop_map(move |(p, reqs)| {
                let mut v = vec![s(dir)];
                v.extend(p);
                v.push(s("ipsec"));
                v.extend(reqs.into_iter().flatten());
                v
            }),
        ]
    })
}

fn spd_statement() -> impl Strategy<Value = Stmt> {
    (
        select(vec!["spdadd", "spdadd", "spdupdate", "spddelete"]),
        fam(),
    )
        .prop_flat_map(|(cmd, f)| {
            (
                Just(cmd),
                aiflags(f),
                selector(f),
                selector(f),
                upper_atoms(),
                any::<bool>(),
                policy_atoms(),
            )
        })
        .prop_map(|(cmd, flags, src, dst, upper, ctx, policy)| {
            let mut a = vec![s(cmd)];
            a.extend(flags);
            a.push(src);
            a.push(dst);
            a.extend(upper);
            if ctx {
                a.extend([s("-ctx"), s("1"), s("2"), s("\"ctx text\"")]);
            }
            let policy_from = a.len();
            a.push(s("-P"));
            a.extend(policy);
            a.push(s(";"));
            Stmt {
                atoms: a,
                policy_from,
            }
        })
}

/// Separators outside policy text: blanks, newlines, comments.
const SEPARATORS: &[&str] = &[
    " ",
    " ",
    "\t",
    "\n",
    "  \n\t",
    " # a comment; with -P in it\n",
    "\n# whole-line comment\n\n",
    "\t#\n",
];

/// Separators inside policy text: no `#`, which would end it.
const POLICY_SEPARATORS: &[&str] = &[" ", "\t", "\n", " \n    ", "\n\t"];

/// Joins the statements; `pick` chooses each separator (cycled).
fn layout(stmts: &[Stmt], pick: &[u8]) -> String {
    let mut out = String::new();
    let mut k = 0usize;
    let mut next = |table: &[&'static str]| -> &'static str {
        let b = pick.get(k % pick.len().max(1)).copied().unwrap_or(0);
        k += 1;
        table[usize::from(b) % table.len()]
    };
    for st in stmts {
        for (i, atom) in st.atoms.iter().enumerate() {
            out.push_str(atom);
            if i + 1 < st.atoms.len() {
                let table = if i >= st.policy_from {
                    POLICY_SEPARATORS
                } else {
                    SEPARATORS
                };
                out.push_str(next(table));
            }
        }
        // Between statements no separator is needed after `;`.
        let between = next(SEPARATORS);
        // A blank is left out: `;add ...` must work as well.
        if between != " " {
            out.push_str(between);
        }
    }
    out
}

fn script_strategy() -> impl Strategy<Value = (Vec<Stmt>, Vec<u8>)> {
    (
        vec(
            prop_oneof![
                3 => sa_statement(),
                2 => spd_statement(),
                1 => other_statement(),
            ],
            1..10,
        ),
        prop_oneof![
            4 => Just(None),
            1 => select(vec!["exit", "quit", "bye"]).prop_map(Some),
        ],
        vec(any::<u8>(), 1..64),
    )
        .prop_map(|(mut stmts, exit, pick)| {
            if let Some(e) = exit {
                stmts.push(Stmt::plain(vec![s(e), s(";")]));
            }
            (stmts, pick)
        })
}

proptest! {
    #![proptest_config(config(800))]

    #[test]
    fn grammar_scripts_parse((stmts, pick) in script_strategy()) {
        let text = layout(&stmts, &pick);
        let flat: Vec<String> = stmts.iter().map(|st| st.atoms.join(" ")).collect();
        let flat = flat.join("\n");
        let options = Options::default();
        let ops = operations(&text, &options)?;
        // Layout never changes what a script means.
        prop_assert_eq!(&ops, &operations(&flat, &options)?, "{}", text);
        // Whatever the parser produces can be printed and read back
        // (without RFC doubling: the fwd twins are printed lines of their own).
        let supported = SupportedAlgorithms::linux_default();
        for op in &ops {
            prop_assert_eq!(print::check(op, &supported), Ok(()), "{:?}", op);
        }
        let printed = print::script(&ops, Keys::Show);
        prop_assert_eq!(&operations(&printed, &kernel_mode())?, &ops, "{}", printed);
    }
}
