//! Tests for the wire layer: corpus round trips, hand-made edge cases and
//! property tests.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;

use super::*;

/// Every raw capture in the fixture corpus, as (name, bytes).
fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    if let Ok(data) = std::fs::read(root.join("kernel-register.raw")) {
        files.push(("kernel-register.raw".to_string(), data));
    }
    let mut cases: Vec<_> = std::fs::read_dir(root.join("cases"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    cases.sort();
    for case in cases {
        for name in ["F.send.raw", "F.recv.raw", "D.raw", "DP.raw"] {
            if let Ok(data) = std::fs::read(case.join(name)) {
                files.push((format!("{}/{name}", case.display()), data));
            }
        }
    }
    files
}

/// `parse(emit(msg)) == msg`, up to the header `len` that emit computes.
fn assert_round_trip(msg: &Message) {
    let bytes = msg.to_bytes();
    let mut back = Message::parse(&bytes).expect("emitted message parses");
    assert_eq!(back.header.byte_len(), bytes.len());
    back.header.len = msg.header.len;
    assert_eq!(&back, msg);
}

#[test]
fn corpus_round_trip_is_byte_exact() {
    let files = corpus_files();
    assert!(files.len() > 300, "fixture corpus not found");
    let mut count = 0;
    for (name, data) in &files {
        let mut it = messages(data);
        let mut index = 0;
        while let Some(raw) = it.next_raw() {
            let raw = raw.unwrap_or_else(|e| panic!("{name}: message {index}: {e}"));
            let msg =
                Message::parse(raw).unwrap_or_else(|e| panic!("{name}: message {index}: {e}"));
            let out = msg.to_bytes();
            assert_eq!(&out[..], raw, "{name}: message {index} ({msg:?})");
            assert_eq!(msg.wire_len(), raw.len());
            index += 1;
            count += 1;
        }
    }
    assert!(count > 1000, "only {count} messages");
}

#[test]
fn spec_example_add_message_layout() {
    // The observed `add ... esp 0x1000 -m tunnel -u 5 -E aes-cbc -A hmac-sha1`
    // request from the PF_KEY fact sheet (pid 0x13 here).
    let msg = Message {
        header: Header::request(MessageType::Add, SATYPE_ESP, 0x13),
        extensions: vec![
            Extension::Key(
                KeyKind::Encrypt,
                KeyExt::new((0..16u8).map(|i| i * 0x11).collect::<Vec<_>>()),
            ),
            Extension::Key(KeyKind::Auth, KeyExt::new(b"12345678901234567890".to_vec())),
            Extension::Sa(SaExt {
                spi: 0x1000,
                auth: aalg::SHA1_HMAC,
                encrypt: ealg::AES_CBC,
                flags: 0x40,
                ..SaExt::default()
            }),
            Extension::Sa2(Sa2Ext {
                mode: ipsec::MODE_TUNNEL,
                sequence: 0,
                reqid: 5,
            }),
            Extension::Address(
                AddressKind::Src,
                AddressExt {
                    proto: 255,
                    prefixlen: 32,
                    addr: "10.0.0.1:0".parse().unwrap(),
                },
            ),
            Extension::Address(
                AddressKind::Dst,
                AddressExt {
                    proto: 255,
                    prefixlen: 32,
                    addr: "10.0.0.2:0".parse().unwrap(),
                },
            ),
        ],
    };
    let bytes = msg.to_bytes();
    assert_eq!(bytes.len(), 152);
    assert_eq!(&bytes[..8], &[2, 3, 0, 3, 19, 0, 0, 0]);
    // KEY_ENCRYPT: len 3 words, type 9, 128 bits.
    assert_eq!(&bytes[16..24], &[3, 0, 9, 0, 0x80, 0, 0, 0]);
    // KEY_AUTH: 20 bytes padded to 24, len 4 words.
    assert_eq!(&bytes[40..48], &[4, 0, 8, 0, 0xa0, 0, 0, 0]);
    assert_eq!(&bytes[68..72], &[0, 0, 0, 0]);
    // SA: spi in network order.
    assert_eq!(
        &bytes[72..88],
        &[2, 0, 1, 0, 0, 0, 0x10, 0, 0, 0, 3, 12, 0x40, 0, 0, 0]
    );
    assert_round_trip(&msg);
}

#[test]
fn ipv6_address_and_request_lengths() {
    let v6: SocketAddr = "[2001:db8::1]:500".parse().unwrap();
    let ext = Extension::Address(
        AddressKind::Src,
        AddressExt {
            proto: 6,
            prefixlen: 64,
            addr: v6,
        },
    );
    assert_eq!(ext.wire_len(), 40);
    let mut out = BytesMut::new();
    ext.emit(&mut out);
    assert_eq!(&out[..4], &[5, 0, 5, 0]);
    assert_eq!(&out[10..12], &[0x01, 0xf4]);
    let req = IpsecRequestExt {
        proto: 50,
        mode: ipsec::MODE_TUNNEL,
        level: ipsec::LEVEL_REQUIRE,
        reqid: 0,
        endpoints: Some((v6, "[2001:db8::2]:0".parse().unwrap())),
    };
    assert_eq!(req.wire_len(), 72);
    let pol = Extension::Policy(PolicyExt {
        policy_type: ipsec::POLICY_IPSEC,
        dir: ipsec::DIR_OUTBOUND,
        requests: vec![req, IpsecRequestExt::default()],
        ..PolicyExt::default()
    });
    // 16 + 72 + 16 = 104, already a multiple of 8.
    assert_eq!(pol.wire_len(), 104);
    let msg = Message {
        header: Header::request(MessageType::SpdAdd, 0, 1),
        extensions: vec![pol, ext],
    };
    assert_round_trip(&msg);
}

#[test]
fn scope_id_and_flowinfo_survive() {
    let addr = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 0, 7, 3));
    let msg = Message {
        header: Header::request(MessageType::Get, SATYPE_AH, 1),
        extensions: vec![Extension::Address(
            AddressKind::Dst,
            AddressExt {
                proto: 255,
                prefixlen: 128,
                addr,
            },
        )],
    };
    assert_round_trip(&msg);
}

#[test]
fn sec_ctx_and_null_key_padding() {
    let msg = Message {
        header: Header::request(MessageType::Add, SATYPE_ESP, 1),
        extensions: vec![
            Extension::Key(KeyKind::Encrypt, KeyExt::default()),
            Extension::SecCtx(SecCtxExt {
                alg: 1,
                doi: 1,
                context: b"abc\0".to_vec(),
            }),
        ],
    };
    let bytes = msg.to_bytes();
    // null key: header only (len 1); context: 8 + 4 padded to 16.
    assert_eq!(bytes.len(), 16 + 8 + 16);
    assert_eq!(&bytes[16..20], &[1, 0, 9, 0]);
    assert_eq!(&bytes[24..32], &[2, 0, 24, 0, 1, 1, 4, 0]);
    assert_round_trip(&msg);
}

#[test]
fn unknown_extension_is_kept_raw() {
    let mut bytes = vec![2, 10, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&[2, 0, 99, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(
        msg.extensions,
        vec![Extension::Unknown {
            ext_type: 99,
            body: Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        }]
    );
    assert_eq!(&msg.to_bytes()[..], &bytes[..]);
}

#[test]
fn framing_errors() {
    assert_eq!(
        Message::parse(&[2, 1]),
        Err(WireError::TruncatedHeader { have: 2 })
    );
    // len says 3 words, buffer has 2.
    let hdr = [2, 10, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        Message::parse(&hdr),
        Err(WireError::BadMessageLength {
            declared: 24,
            have: 16
        })
    ));
    // zero-length extension must not loop.
    let mut z = hdr.to_vec();
    z.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0]);
    assert!(matches!(
        Message::parse(&z),
        Err(WireError::ZeroExtensionLength { .. })
    ));
    // a stream with a zero header len stops with one error.
    let items: Vec<_> = messages(&[0u8; 32]).collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
    // key shorter than its bits
    let mut k = vec![2, 3, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    k.extend_from_slice(&[2, 0, 9, 0, 0x80, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(matches!(
        Message::parse(&k),
        Err(WireError::KeyTooShort { bits: 128, have: 8 })
    ));
}

#[test]
fn message_type_conversions() {
    for v in 0..=255u8 {
        match MessageType::try_from(v) {
            Ok(t) => assert_eq!(u8::from(t), v),
            Err(e) => {
                assert!(v == 0 || v > 24);
                assert_eq!(e, WireError::UnknownMessageType(v));
            }
        }
    }
    assert_eq!(MessageType::Migrate as u8, 24);
}

#[test]
fn key_debug_hides_material() {
    let k = KeyExt::new(vec![0xde, 0xad]);
    let s = format!("{k:?}");
    assert!(!s.contains("222") && !s.contains("de"), "{s}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn sockaddr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(a, p)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), p))),
            (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
                |(a, p, f, s)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a), p, f, s))
            ),
        ]
    }

    fn request() -> impl Strategy<Value = IpsecRequestExt> {
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            proptest::option::of(prop_oneof![
                (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| (
                    SocketAddr::from((Ipv4Addr::from(a), 0)),
                    SocketAddr::from((Ipv4Addr::from(b), 0))
                )),
                (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(a, b)| (
                    SocketAddr::from((Ipv6Addr::from(a), 0)),
                    SocketAddr::from((Ipv6Addr::from(b), 0))
                )),
            ]),
        )
            .prop_map(|(proto, mode, level, reqid, endpoints)| IpsecRequestExt {
                proto,
                mode,
                level,
                reqid,
                endpoints,
            })
    }

    fn extension() -> impl Strategy<Value = Extension> {
        let lifetime_kind = prop_oneof![
            Just(LifetimeKind::Current),
            Just(LifetimeKind::Hard),
            Just(LifetimeKind::Soft)
        ];
        let addr_kind = prop_oneof![
            Just(AddressKind::Src),
            Just(AddressKind::Dst),
            Just(AddressKind::Proxy),
            Just(AddressKind::NatTOa)
        ];
        prop_oneof![
            (
                any::<u32>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u32>()
            )
                .prop_map(|(spi, replay, state, auth, encrypt, flags)| Extension::Sa(
                    SaExt {
                        spi,
                        replay,
                        state,
                        auth,
                        encrypt,
                        flags
                    }
                )),
            (lifetime_kind, any::<(u32, u64, u64, u64)>()).prop_map(|(k, (a, b, c, d))| {
                Extension::Lifetime(
                    k,
                    LifetimeExt {
                        allocations: a,
                        bytes: b,
                        addtime: c,
                        usetime: d,
                    },
                )
            }),
            (addr_kind, any::<u8>(), any::<u8>(), sockaddr()).prop_map(
                |(k, proto, prefixlen, addr)| {
                    Extension::Address(
                        k,
                        AddressExt {
                            proto,
                            prefixlen,
                            addr,
                        },
                    )
                }
            ),
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80)).prop_map(
                |(auth, key)| {
                    let kind = if auth {
                        KeyKind::Auth
                    } else {
                        KeyKind::Encrypt
                    };
                    Extension::Key(kind, KeyExt::new(key))
                }
            ),
            (
                any::<bool>(),
                proptest::collection::vec(any::<(u8, u8, u16, u16)>(), 0..12)
            )
                .prop_map(|(auth, algs)| {
                    let kind = if auth {
                        SupportedKind::Auth
                    } else {
                        SupportedKind::Encrypt
                    };
                    Extension::Supported(
                        kind,
                        algs.into_iter()
                            .map(|(id, ivlen, min_bits, max_bits)| AlgorithmDesc {
                                id,
                                ivlen,
                                min_bits,
                                max_bits,
                            })
                            .collect(),
                    )
                }),
            any::<(u32, u32)>().prop_map(|(min, max)| Extension::SpiRange { min, max }),
            any::<(u8, u32, u32)>().prop_map(|(mode, sequence, reqid)| Extension::Sa2(Sa2Ext {
                mode,
                sequence,
                reqid
            })),
            (
                any::<(u16, u8, u32, u32)>(),
                proptest::collection::vec(request(), 0..6)
            )
                .prop_map(|((policy_type, dir, id, priority), requests)| {
                    Extension::Policy(PolicyExt {
                        policy_type,
                        dir,
                        id,
                        priority,
                        requests,
                    })
                }),
            any::<u8>().prop_map(Extension::NatTType),
            (any::<bool>(), any::<u16>()).prop_map(|(s, p)| Extension::NatTPort(
                if s {
                    NatTPortKind::Src
                } else {
                    NatTPortKind::Dst
                },
                p
            )),
            (
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..70)
            )
                .prop_map(|(alg, doi, context)| Extension::SecCtx(SecCtxExt {
                    alg,
                    doi,
                    context
                })),
            (27u16..400, proptest::collection::vec(any::<u8>(), 1..6)).prop_map(|(t, words)| {
                // Unknown bodies round-trip only when they fill whole words.
                let body: Vec<u8> = words.iter().flat_map(|w| [*w; 8]).skip(4).collect();
                Extension::Unknown {
                    ext_type: t,
                    body: Bytes::from(body),
                }
            }),
        ]
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            any::<(u8, u8, u8, u8, u16, u32, u32)>(),
            proptest::collection::vec(extension(), 0..10),
        )
            .prop_map(
                |((version, msg_type, errno, satype, reserved, seq, pid), extensions)| Message {
                    header: Header {
                        version,
                        msg_type,
                        errno,
                        satype,
                        len: 0,
                        reserved,
                        seq,
                        pid,
                    },
                    extensions,
                },
            )
    }

    proptest! {
        #[test]
        fn emit_then_parse_is_identity(msg in message()) {
            let bytes = msg.to_bytes();
            prop_assert_eq!(bytes.len(), msg.wire_len());
            prop_assert_eq!(bytes.len() % 8, 0);
            let mut back = Message::parse(&bytes).unwrap();
            prop_assert_eq!(usize::from(back.header.len) * 8, bytes.len());
            back.header.len = 0;
            prop_assert_eq!(back, msg);
        }

        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::parse(&buf);
            for m in messages(&buf) {
                let _ = m;
            }
        }

        #[test]
        fn mutated_messages_never_panic(
            msg in message(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = msg.to_bytes().to_vec();
            for (at, v) in flips {
                let n = bytes.len();
                bytes[at % n] = v;
            }
            let _ = Message::parse(&bytes);
            let _ = messages(&bytes).count();
            let cut = cut % (bytes.len() + 1);
            let _ = Message::parse(&bytes[..cut]);
            let _ = messages(&bytes[..cut]).count();
        }
    }

    #[test]
    fn mutated_corpus_never_panics() {
        // Deterministic single-byte mutations of real messages (cheap fuzzing
        // over realistic shapes).
        for (_, data) in corpus_files().iter().take(40) {
            for i in 0..data.len().min(400) {
                let mut m = data.clone();
                m[i] = m[i].wrapping_add(0x55);
                let _ = messages(&m).count();
            }
        }
    }
}
