//! Unit tests of the whole parser: one group per construct.

use super::*;
use crate::ir::*;

fn names() -> FileNames {
    FileNames::new(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n\
         192.0.2.10 gw-a\n192.0.2.20 gw-b\n2001:db8::10 gw-a6\n\
         192.0.2.30 dual.example\n2001:db8::30 dual.example\n",
        "isakmp 500/udp\nssh 22/tcp\n",
        "icmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\ngre 47 GRE\nipv6-icmp 58 IPv6-ICMP\n\
         mobility-header 135 Mobility-Header\n",
    )
}

#[allow(clippy::result_large_err)]
fn parse(s: &str) -> Result<Vec<Statement>, ParseError> {
    parse_script_with(s, &Options::default(), &names())
}

fn err(s: &str) -> ParseError {
    match parse(s) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn msg(s: &str) -> (u32, Option<String>) {
    let e = err(s);
    (e.line, e.message)
}

fn only_sa(s: &str) -> SecurityAssociation {
    let v = parse(s).expect("parses");
    match v.first().and_then(|st| st.operations.first()) {
        Some(
            Operation::Add(sa) | Operation::Get(sa) | Operation::Delete(sa) | Operation::GetSpi(sa),
        ) => sa.as_ref().clone(),
        other => panic!("not an SA: {other:?}"),
    }
}

fn only_policy(s: &str) -> Vec<PolicyRequest> {
    let v = parse(s).expect("parses");
    v.into_iter()
        .flat_map(|st| st.operations)
        .map(|o| match o {
            Operation::SpdAdd(p) | Operation::SpdUpdate(p) | Operation::SpdDelete(p) => p,
            other => panic!("not a policy: {other:?}"),
        })
        .collect()
}

#[test]
fn tutorial() {
    let src = "#!/sbin/setkey -f\nflush;\nspdflush;\n\
        add 202.141.176.2 202.141.176.3 ah 15700 -A hmac-md5 \"1234567890123456\";\n\
        add 202.141.176.2 202.141.176.3 esp 15701 -E 3des-cbc \"123456789012123456789012\";\n\
        spdadd 202.141.176.2 202.141.176.3 any -P out ipsec\n   esp/transport//require\n   ah/transport//require;\n\
        spdadd 202.141.176.3 202.141.176.2 any -P in ipsec\n   esp/transport//require\n   ah/transport//require;\n";
    let v = parse(src).expect("tutorial parses");
    assert_eq!(v.len(), 6);
    assert_eq!(v[0].operations, vec![Operation::Flush(SaType::Unspec)]);
    assert_eq!(v[0].location.line, 2);
    assert_eq!(v[1].operations, vec![Operation::SpdFlush]);
    let Operation::Add(ah) = &v[2].operations[0] else {
        panic!()
    };
    assert_eq!(ah.satype, SaType::Ah);
    assert_eq!(ah.spi, 15700);
    assert_eq!(ah.flags, 0x40);
    assert_eq!(ah.src, "202.141.176.2:0".parse().unwrap());
    let (alg, key) = ah.transforms.auth.clone().unwrap();
    assert_eq!(alg, AuthAlgorithm::HmacMd5);
    assert_eq!(key.unwrap().as_bytes(), b"1234567890123456");
    let Operation::Add(esp) = &v[3].operations[0] else {
        panic!()
    };
    assert_eq!(
        esp.transforms.encrypt.as_ref().map(|e| e.0),
        Some(EncryptAlgorithm::TripleDesCbc)
    );
    assert_eq!(v[4].location.line, 8);
    assert_eq!(v[4].operations.len(), 1);
    let Operation::SpdAdd(p) = &v[4].operations[0] else {
        panic!()
    };
    assert_eq!(p.upper, 255);
    assert_eq!(p.src.prefixlen, 32);
    assert_eq!(p.policy.direction, Direction::Out);
    assert_eq!(p.policy.priority, PRIORITY_DEFAULT);
    assert_eq!(p.policy.requests.len(), 2);
    assert_eq!(p.policy.requests[0].protocol, IpsecProtocol::Esp);
    assert_eq!(p.policy.requests[1].protocol, IpsecProtocol::Ah);
    assert_eq!(p.policy.requests[1].level, Level::Require);
    // in + fwd twin
    assert_eq!(v[5].operations.len(), 2);
    assert_eq!(v[5].location.line, 11);
    let Operation::SpdAdd(fwd) = &v[5].operations[1] else {
        panic!()
    };
    assert_eq!(fwd.policy.direction, Direction::Fwd);
}

#[test]
fn sa_options_and_flags() {
    let sa = only_sa(
        "add 10.0.0.1 10.0.0.2 esp 0x1000 -m tunnel -u 7 -r 44 -f random-pad -f nocyclic-seq -lh 3600 -ls 3000 -bh 10 -bs 5 -E aes-cbc 0x00112233445566778899aabbccddeeff;",
    );
    assert_eq!(sa.mode, IpsecMode::Tunnel);
    assert_eq!(sa.reqid, 7);
    assert_eq!(sa.replay, 44);
    assert_eq!(sa.flags, 0x100);
    assert_eq!(
        sa.hard,
        Lifetime {
            seconds: 3600,
            bytes: 10
        }
    );
    assert_eq!(
        sa.soft,
        Lifetime {
            seconds: 3000,
            bytes: 5
        }
    );
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp-old 1 -E des-32iv \"12345678\";");
    assert_eq!(sa.flags, 0x40 | 0x01 | 0x10);
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp 1 -E des-deriv \"12345678\";");
    assert_eq!(sa.flags, 0x40 | 0x20);
    let sa = only_sa("add 10.0.0.1 10.0.0.2 ipcomp 1 -C deflate -R;");
    assert_eq!(
        (sa.flags, sa.transforms.compression),
        (0xc0, Some(CompressionAlgorithm::Deflate))
    );
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp 1 -f zero-pad -f seq-pad -E null;");
    assert_eq!(sa.flags, 0x240);
    assert_eq!(sa.transforms.encrypt.map(|e| e.1.bits()), Some(0));
    let sa = only_sa("add 10.0.0.1 10.0.0.2 1 -A null;");
    assert_eq!(sa.satype, SaType::Unspec);
    assert_eq!(sa.transforms.auth, Some((AuthAlgorithm::Null, None)));
    let sa = only_sa("add 10.0.0.1 10.0.0.2 tcp 1 -A hmac-md5 \"0123456789abcdef\";");
    assert_eq!(sa.satype, SaType::Unspec);
}

#[test]
fn spi_forms_and_32_bit_limit() {
    let spi = |s: &str| only_sa(&format!("get 10.0.0.1 10.0.0.2 esp {s};")).spi;
    assert_eq!(spi("256"), 256);
    assert_eq!(spi("0XABCDEF"), 0xabcdef);
    assert_eq!(spi("4294967295"), 0xffff_ffff);
    assert_eq!(spi("0xffffffff"), 0xffff_ffff);
    assert_eq!(spi("0x0000000000000000000001"), 1);
    // setkey keeps the low 32 bits; rsetkey refuses, with setkey's text.
    for big in [
        "4294967296",
        "0x100000000",
        "0x1ffffffff",
        "99999999999999999999999",
    ] {
        assert_eq!(
            msg(&format!("get 10.0.0.1 10.0.0.2 esp {big};")),
            (1, Some(format!("SPI too big. at `{big}'")))
        );
    }
}

/// The (offset, length) a diagnostic points at, and its message.
fn pointed(s: &str) -> (usize, usize, String) {
    let e = err(s);
    (e.span.offset(), e.span.len(), e.message.unwrap_or_default())
}

#[test]
fn numbers_beyond_their_field_are_refused_where_they_are() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "spdadd ::1/256 ::2 any -P out none;",
            "256",
            "prefix length not in valid range [0, 255]",
        ),
        (
            "spdadd ::1[65536] ::2 any -P out none;",
            "65536",
            "port not in valid range [0, 65535]",
        ),
        (
            "spdadd ::1 ::2 256 -P out none;",
            "256",
            "upper layer protocol not in valid range [0, 255]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -u 4294967296 -E null;",
            "4294967296",
            "reqid not in valid range [0, 4294967295]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -r 256 -E null;",
            "256",
            "replay window not in valid range [0, 255]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -lh 4294967296 -E null;",
            "4294967296",
            "lifetime not in valid range [0, 4294967295]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -ls 4294967296 -E null;",
            "4294967296",
            "lifetime not in valid range [0, 4294967295]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -bh 18446744073709551616 -E null;",
            "18446744073709551616",
            "byte lifetime not in valid range [0, 18446744073709551615]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -bs 18446744073709551616 -E null;",
            "18446744073709551616",
            "byte lifetime not in valid range [0, 18446744073709551615]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -ctx 256 2 \"x\" -E null;",
            "256",
            "context DOI not in valid range [0, 255]",
        ),
        (
            "add 10.0.0.1 10.0.0.2 esp 1 -ctx 1 256 \"x\" -E null;",
            "256",
            "context algorithm not in valid range [0, 255]",
        ),
        (
            "spdadd 10.0.0.1 10.0.0.2 icmp 65536,0 -P out none;",
            "65536,0",
            "ICMP type not in valid range [0, 65535]",
        ),
        (
            "spdadd 10.0.0.1 10.0.0.2 gre 1.256.3.4 -P out none;",
            "1.256.3.4",
            "GRE key part not in valid range [0, 255]",
        ),
        (
            "spdadd 10.0.0.1 10.0.0.2 gre 4294967296, -P out none;",
            "4294967296,",
            "GRE key not in valid range [0, 4294967295]",
        ),
    ];
    for (script, token, text) in cases {
        let (off, len, message) = pointed(script);
        assert_eq!(&script[off..off + len], *token, "{script}");
        assert_eq!(message, format!("{text} at `{token}'"), "{script}");
    }
    // Inside the policy text: the message names the policy (as libipsec's
    // errors do), the diagnostic points at the number.
    for (script, number, text) in [
        (
            "spdadd ::1 ::2 any -P out ipsec esp/transport//unique:4294967296;",
            "4294967296",
            "reqid not in valid range [0, 4294967295]",
        ),
        (
            "spdadd ::1 ::2 any -P out ipsec esp/tunnel/::1[65536]-::2[1]/require;",
            "65536",
            "port not in valid range [0, 65535]",
        ),
    ] {
        let (off, len, message) = pointed(script);
        assert_eq!(&script[off..off + len], number, "{script}");
        assert!(
            message.starts_with(&format!("{text} at ` out ipsec")),
            "{message}"
        );
    }
    // The largest value of every field still parses.
    let sa = only_sa(
        "add 10.0.0.1 10.0.0.2 esp 1 -u 4294967295 -r 255 -lh 4294967295 -ls 4294967295 \
         -bh 18446744073709551615 -bs 18446744073709551615 -ctx 255 255 \"x\" -E null;",
    );
    assert_eq!(
        (sa.reqid, sa.replay, sa.hard.seconds),
        (u32::MAX, 255, u64::from(u32::MAX))
    );
    assert_eq!(sa.hard.bytes, u64::MAX);
    let p = only_policy(
        "spdadd ::1/255[65535] ::2/0[0] 255 -P out ipsec esp/tunnel/::1[65535]-::2[0]/unique:4294967295;",
    );
    assert_eq!(
        (p[0].src.prefixlen, p[0].src.addr.port(), p[0].upper),
        (255, 65535, 255)
    );
    assert_eq!(p[0].policy.requests[0].reqid, u32::MAX);
    let p = only_policy("spdadd 10.0.0.1 10.0.0.2 gre 255.255.255.255 -P out none;");
    assert_eq!((p[0].src.addr.port(), p[0].dst.addr.port()), (65535, 65535));
}

#[test]
fn prefix_lengths_that_fit_are_sent_as_written() {
    // /33 fits the 8-bit field: the kernel, not the parser, refuses it.
    let p = only_policy("spdadd 10.0.0.1/33 10.0.0.2/255 any -P out none;");
    assert_eq!((p[0].src.prefixlen, p[0].dst.prefixlen), (33, 255));
}

#[test]
fn keys_quoted_and_hex() {
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp 1 -E des-cbc 0x123456789abcdef;");
    let key = sa.transforms.encrypt.unwrap().1;
    assert_eq!(
        key.as_bytes(),
        &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
    );
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp 1 -E blowfish-cbc \"a\nb#c;d\";");
    assert_eq!(sa.transforms.encrypt.unwrap().1.as_bytes(), b"a\nb#c;d");
}

#[test]
fn key_errors_and_masking() {
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc 0x0102030405;");
    assert_eq!(
        e.message.as_deref(),
        Some("Invalid key length at `0x**********'")
    );
    assert_eq!(e.key_bits, Some((40, 192, 192)));
    assert!(
        !e.to_string().contains("0102030405"),
        "headline masks the key"
    );
    assert!(e.help_text().is_some_and(|h| h.contains("192-bit")));
    let e = e.with_source_name(
        "x.conf",
        "add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc 0x0102030405;".into(),
    );
    let rendered = diagnostic::render(&e, false);
    assert!(!rendered.contains("0102030405"), "{rendered}");
    let e = err("add 10.0.0.1 10.0.0.2 ah 1 -A keyed-md5 \"secret-key-here!\";");
    assert_eq!(
        e.message.as_deref(),
        Some("Not supported at `****************'")
    );
    assert!(!e.to_string().contains("secret"));
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E null \"k\";");
    assert_eq!(e.message.as_deref(), Some("syntax error at `*'"));
    let mut sup = SupportedAlgorithms::linux_default();
    sup.encrypt.retain(|e| e.0 != EncryptAlgorithm::Null);
    let opts = Options {
        supported: sup,
        rfc_mode: true,
        extensions: false,
    };
    let e = parse_script_with("add 10.0.0.1 10.0.0.2 esp 1 -E null;", &opts, &names()).unwrap_err();
    assert_eq!(e.message.as_deref(), Some("Not supported at `null'"));
}

#[test]
fn algorithm_checks() {
    assert_eq!(
        msg("add 10.0.0.1 10.0.0.2 esp-old 1 -E des-deriv \"12345678\";")
            .1
            .as_deref(),
        Some("algorithm mismatched at `********'")
    );
    assert_eq!(
        msg("add 10.0.0.1 10.0.0.2 esp 1 -E des-32iv \"12345678\";")
            .1
            .as_deref(),
        Some("algorithm mismatched at `********'")
    );
    assert_eq!(
        msg("add 10.0.0.1 10.0.0.2 ah-old 1 -r 4 -A hmac-md5 \"0123456789abcdef\";")
            .1
            .as_deref(),
        Some("replay prevention cannot be used with ah/esp-old at `4'")
    );
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbs \"0123456789abcdef\";");
    assert_eq!(e.message.as_deref(), Some("syntax error at `aes-cbs'"));
    assert!(e.help_text().is_some_and(|h| h.contains("aes-cbc")));
    let e = err("add 10.0.0.1 10.0.0.2 tcp 1 -A tcp-md5 \"secret\";");
    assert_eq!(e.message.as_deref(), Some("syntax error at `******'"));
    assert!(e.help_text().is_some_and(|h| h.contains("tcp-md5")));
    let v = parse("add 10.0.0.1 10.0.0.2 esp 1 -E simple;").unwrap();
    assert_eq!(
        v[0].warnings,
        vec!["WARNING: obsolete algorithm at `simple'".to_string()]
    );
}

#[test]
fn syntax_errors_name_setkey_tokens_and_lines() {
    assert_eq!(
        msg("flush;\nupdate 1 2;"),
        (2, Some("syntax error at `update'".into()))
    );
    assert_eq!(
        msg("flush;\nflush\n"),
        (3, Some("syntax error at `'".into()))
    );
    let e = err("flush;\nadd \\\n");
    assert!(e.lexer_fatal);
    assert_eq!(
        (e.line, e.message.as_deref()),
        (2, Some("Syntax error at `\\'"))
    );
    assert_eq!(
        msg("spdadd 1.2.3.4 5.6.7.8 icmp 8 -P out none;")
            .1
            .as_deref(),
        Some("syntax error at `8'")
    );
    assert_eq!(
        msg("add 1.2.3.4 5.6.7.8 esp 1;").1.as_deref(),
        Some("syntax error at `;'")
    );
    assert_eq!(
        msg("spdadd 1.2.3.4 5.6.7.8 esp -P out none;").1.as_deref(),
        Some("syntax error at `esp'")
    );
}

#[test]
fn exit_stops_reading() {
    let v = parse("flush;\nexit;\nthis is \\ never read").unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].operations, vec![Operation::Exit]);
    assert_eq!(parse("quit;").unwrap()[0].operations, vec![Operation::Exit]);
    assert_eq!(parse("bye ;").unwrap()[0].operations, vec![Operation::Exit]);
}

#[test]
fn statements_and_protocols() {
    let ops = |s: &str| {
        parse(s)
            .unwrap()
            .into_iter()
            .flat_map(|s| s.operations)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ops("flush esp; flush ah-old; dump ipcomp; dump; spddump; spdflush;"),
        vec![
            Operation::Flush(SaType::Esp),
            Operation::Flush(SaType::Ah),
            Operation::Dump(SaType::IpComp),
            Operation::Dump(SaType::Unspec),
            Operation::SpdDump,
            Operation::SpdFlush
        ]
    );
    let v = ops("deleteall localhost 10.0.0.2 esp;");
    let Operation::DeleteAll(d) = &v[0] else {
        panic!()
    };
    assert_eq!(d.src.len(), 2);
    let v = ops("getspi 10.0.0.1 10.0.0.2 esp 0xc00;");
    assert!(matches!(&v[0], Operation::GetSpi(sa) if sa.spi == 0xc00));
    let v = parse("get 10.0.0.1 10.0.0.2 esp 1 -m tunnel;").unwrap();
    assert_eq!(
        v[0].warnings,
        vec!["WARNING: mode is obsolete at `;'".to_string()]
    );
    let v = parse("delete 10.0.0.1 10.0.0.2 esp 1 -m any;").unwrap();
    assert!(v[0].warnings.is_empty());
    assert_eq!(
        msg("delete localhost 10.0.0.2 esp 1;").1.as_deref(),
        Some("multiple address specified at `;'")
    );
}

#[test]
fn addresses_flags_and_pairs() {
    let count = |s: &str| parse(s).unwrap()[0].operations.len();
    assert_eq!(count("add -4 localhost localhost esp 1 -E null;"), 4);
    assert_eq!(count("add -6 localhost localhost esp 1 -E null;"), 1);
    assert_eq!(count("add localhost localhost esp 1 -E null;"), 2);
    assert_eq!(count("add dual.example gw-b esp 1 -E null;"), 1);
    let v = parse("add localhost localhost esp 1 -E null;").unwrap();
    let Operation::Add(first) = &v[0].operations[0] else {
        panic!()
    };
    assert!(first.src.is_ipv6(), "glibc puts ::1 first");
    assert_eq!(
        msg("add -n gw-a 10.0.0.2 esp 1 -E null;").1.as_deref(),
        Some("Name or service not known at `10.0.0.2'")
    );
    assert_eq!(
        msg("add -4 ::1 10.0.0.2 esp 1 -E null;").1.as_deref(),
        Some("Address family for hostname not supported at `10.0.0.2'")
    );
    let e = err("add 10.0.0.1 ::1 esp 1 -E null;");
    assert_eq!((e.message, e.line), (None, 1));
    assert_eq!(
        msg("add 1.2.3.4[ssh] 1.2.3.5 esp 1 -E null;").1.as_deref(),
        Some("Servname not supported for ai_socktype at `1.2.3.5'")
    );
    let sa = only_sa("add 1.2.3.4[isakmp] 1.2.3.5[any] esp 1 -E null;");
    assert_eq!((sa.src.port(), sa.dst.port()), (500, 0));
}

#[test]
fn nat_traversal() {
    let sa = only_sa("add 10.0.0.1 10.0.0.2[4501] esp-udp 1 -E null;");
    assert_eq!(
        sa.nat,
        Some(NatTraversal {
            sport: 4500,
            dport: 4501,
            original: None
        })
    );
    assert_eq!(sa.satype, SaType::Esp);
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp-udp 192.0.2.9 1 -E null;");
    assert_eq!(
        sa.nat.and_then(|n| n.original),
        Some("192.0.2.9".parse().unwrap())
    );
}

#[test]
fn security_context() {
    let sa = only_sa("add 10.0.0.1 10.0.0.2 esp 1 -ctx 1 2 \"u:r:t:s0\" -E null;");
    assert_eq!(
        sa.context,
        Some(SecurityContext {
            doi: 1,
            alg: 2,
            context: b"u:r:t:s0".to_vec()
        })
    );
    assert_eq!(
        only_sa("add 10.0.0.1 10.0.0.2 esp 1 -ctx 0 2 \"x\" -E null;").context,
        None
    );
    let p = only_policy("spdadd 10.0.0.1 10.0.0.2 any -ctx 1 1 \"c\" -P out none;");
    assert!(p[0].context.is_some());
}

#[test]
fn selectors_upper_layer_and_misc() {
    let p = only_policy("spdadd 10.0.0.0/24[any] 10.0.1.0/44[80] tcp -P out none;");
    assert_eq!(
        (p[0].src.prefixlen, p[0].dst.prefixlen, p[0].dst.addr.port()),
        (24, 44, 80)
    );
    assert_eq!(p[0].upper, 6);
    let p = only_policy("spdadd 10.0.0.1 10.0.0.2 icmp 8,0 -P out none;");
    assert_eq!(
        (p[0].upper, p[0].src.addr.port(), p[0].dst.addr.port()),
        (1, 8, 0)
    );
    let p = only_policy("spdadd fe80::/64 ::/0 icmp6 135,0 -P out none;");
    assert_eq!(
        (p[0].upper, p[0].src.addr.port(), p[0].src.prefixlen),
        (58, 135, 64)
    );
    let p = only_policy("spdadd 10.0.0.1 10.0.0.2 gre 1.2.3.4 -P out none;");
    assert_eq!((p[0].src.addr.port(), p[0].dst.addr.port()), (258, 772));
    let p = only_policy("spdadd 10.0.0.1 10.0.0.2 gre 65537, -P out none;");
    assert_eq!((p[0].src.addr.port(), p[0].dst.addr.port()), (1, 1));
    let p = only_policy(
        "spdadd 10.0.0.1 10.0.0.2 ip4 -P out none; spdadd 10.0.0.1 10.0.0.2 UDP -P out none;",
    );
    assert_eq!((p[0].upper, p[1].upper), (4, 17));
    assert_eq!(
        msg("spdadd 10.0.0.1 10.0.0.2 bogus -P out none;")
            .1
            .as_deref(),
        Some("invalid upper layer protocol at `bogus'")
    );
    assert_eq!(
        msg("spdadd 10.0.0.1 10.0.0.2 udp 1,2 -P out none;")
            .1
            .as_deref(),
        Some("invalid an upper layer protocol spec at ` out none;'")
    );
}

#[test]
fn policy_statements() {
    let p = only_policy(
        "spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport//unique:5 ah/transport//unique:6;",
    );
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[1].policy.requests[0].level, p[1].policy.requests[0].reqid),
        (Level::Require, 0)
    );
    assert_eq!(
        (p[1].policy.requests[1].level, p[1].policy.requests[1].reqid),
        (Level::Unique, 6)
    );
    let v = parse_script_with(
        "spdadd 10.0.0.1 10.0.0.2 any -P in none;",
        &Options {
            rfc_mode: false,
            ..Options::default()
        },
        &names(),
    )
    .unwrap();
    assert_eq!(v[0].operations.len(), 1);
    let v = parse(
        "spddelete 10.0.0.1 10.0.0.2 any -P in;\nspdupdate 10.0.0.1 10.0.0.2 any -P fwd none;",
    )
    .unwrap();
    assert!(
        matches!(&v[0].operations[1], Operation::SpdDelete(p) if p.policy.direction == Direction::Fwd)
    );
    assert!(matches!(&v[1].operations[..], [Operation::SpdUpdate(_)]));
    assert_eq!(
        msg("spdadd 10.0.0.1 10.0.0.2 any -P out ipsec\n esp/bogus//require;"),
        (
            2,
            Some("Too few arguments at ` out ipsec\n esp/bogus//require'".into())
        )
    );
    assert_eq!(
        msg("spdadd localhost 10.0.0.2 any -P out none;")
            .1
            .as_deref(),
        Some("multiple address specified at ` out none;'")
    );
    assert_eq!(
        msg("spdadd 10.0.0.300 10.0.0.2 any -P out none;")
            .1
            .as_deref(),
        Some("Name or service not known at ` out none;'")
    );
    let e = err("spdadd 10.0.0.1 ::1 any -P out none;");
    assert_eq!(e.message, None);
    // Tagged policies parse and are sent as setkey sends them (the kernel
    // refuses them); never an RFC-mode twin.
    let v = parse("spdadd tagged \"t\" -P in none; spdupdate tagged \"u\" -P out discard;")
        .expect("parses");
    let ops: Vec<&Operation> = v.iter().flat_map(|s| &s.operations).collect();
    assert_eq!(ops.len(), 2);
    let Operation::SpdAddTagged(t) = ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!((t.tag.as_str(), t.policy.direction), ("t", Direction::In));
    assert!(matches!(ops[1], Operation::SpdUpdateTagged(u) if u.tag == "u"));
    assert_eq!(
        msg("spdadd tagged \"t\" -P out ipsec esp/bogus//require;")
            .1
            .as_deref(),
        Some("Too few arguments at ` out ipsec esp/bogus//require'")
    );
    assert!(err("spddelete tagged \"t\" -P out none;").message.is_some());
    assert_eq!(
        msg("spdadd 1.2.3.4 5.6.7.8 any -P out # x\n none;")
            .1
            .as_deref(),
        Some("syntax error at `\n none'")
    );
}

#[test]
fn statement_locations() {
    let src = "flush;\tspdflush;\n\nadd 10.0.0.1\n 10.0.0.2 esp 1\n -E null;";
    let v = parse(src).unwrap();
    assert_eq!(
        v[1].location,
        Location {
            line: 1,
            offset: 7,
            len: 9
        }
    );
    assert_eq!(v[2].location.line, 5);
    assert_eq!(v[2].location.offset, 18);
    assert_eq!(
        &src[v[2].location.offset..v[2].location.offset + v[2].location.len],
        "add 10.0.0.1\n 10.0.0.2 esp 1\n -E null;"
    );
}

/// Renders everything a parse error can show: the setkey message, the
/// headline, the help and the full miette report over the script.
fn everything_shown(script: &str) -> String {
    let e = err(script);
    let mut all = format!(
        "{}\n{}\n{}\n{:?}\n",
        e.message.clone().unwrap_or_default(),
        e,
        e.help_text().unwrap_or_default(),
        e.key_bits
    );
    let e = e.with_source_name("x.conf", script.to_string());
    all.push_str(&diagnostic::render(&e, false));
    all
}

#[test]
fn no_diagnostic_shows_a_key() {
    let secret = "S3cr3tK3y-abcdef";
    let hex = "0x5ec7e75ec7e75ec7e75ec7e75ec7e7";
    let scripts = [
        // Key length, quoted and hex, encryption and authentication.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc {hex};"),
        format!("add 10.0.0.1 10.0.0.2 ah 1 -A hmac-sha1 \"{secret}\";"),
        // Not supported, with the key named.
        format!("add 10.0.0.1 10.0.0.2 ah 1 -A keyed-md5 \"{secret}\";"),
        // Unknown algorithm: the key after it shows in the snippet.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 {hex};"),
        // A key without quotes, a decimal key, tcp-md5's swallowed name.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc {secret};"),
        "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 1234567890123456;".to_string(),
        format!("add 10.0.0.1 10.0.0.2 tcp 1 -A tcp-md5 {secret};"),
        // A character the lexer refuses, inside and before a key.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc '{secret}';"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\";\nadd \\ x;"),
        format!(
            "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\";\nadd 1 2 esp 1 -E aes-cbc $x;"
        ),
        // Errors elsewhere in statements that hold keys.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\" -A hmac-sha1;"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\" garbage;"),
        format!("add nowhere.invalid 10.0.0.2 esp 1 -E aes-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\"\n"),
        format!(
            "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\";\n\
             spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/bogus//require;"
        ),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc {hex};\nupdate;"),
        // A key in two parts.
        format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{secret}\" \"{secret}\";"),
        // Malformed before the key is recognised as one: no -E, a typo
        // for -E, a key where the SPI goes, garbage before the algorithm.
        format!("add 10.0.0.1 10.0.0.2 esp 1 3des-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 3des-cbc {hex};"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -e 3des-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -e 3des-cbc {hex};"),
        format!("add 10.0.0.1 10.0.0.2 esp {hex} -E aes-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 -m -E aes-cbc \"{secret}\";"),
        format!("add 10.0.0.1 10.0.0.2 esp 1 bogus \"{secret}\" {hex};"),
        format!("add \"{secret}\" 10.0.0.2 esp 1;"),
        format!("spdadd \"{secret}\" 10.0.0.2 any -P out none;"),
    ];
    for script in &scripts {
        let shown = everything_shown(script);
        assert!(!shown.contains(secret), "{script}\n{shown}");
        assert!(!shown.contains(&hex[2..]), "{script}\n{shown}");
        assert!(!shown.contains("5ec7e7"), "{script}\n{shown}");
    }
}

#[test]
fn literals_of_a_failed_statement_are_masked_with_their_width() {
    // Up to 16 hex digits show (SPIs and the like); longer ones may be
    // keys and are masked, keeping their width so the caret stays put.
    let e = err("add 10.0.0.1 10.0.0.2 esp 0x0123456789abcdef;");
    assert_eq!(
        e.message.as_deref(),
        Some("SPI too big. at `0x0123456789abcdef'")
    );
    let script = "add 10.0.0.1 10.0.0.2 esp 1 x \"abc\" 0x0123456789abcdef0;";
    let e = err(script);
    assert_eq!(e.message.as_deref(), Some("syntax error at `x'"));
    let shown = everything_shown(script);
    assert!(
        shown.contains("esp 1 x \"***\" 0x*****************;"),
        "{shown}"
    );
    // A statement that parsed keeps its literals: only the failed one is
    // masked (keys excepted, which are masked everywhere).
    let shown = everything_shown("spdadd ::1 ::2 any -ctx 1 1 \"ctx\" -P out none; bogus \"x\";");
    assert!(shown.contains("\"ctx\""), "{shown}");
    assert!(shown.contains("bogus \"*\""), "{shown}");
}

#[test]
fn masked_tokens_keep_their_shape() {
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc \"short\";");
    assert_eq!(e.message.as_deref(), Some("Invalid key length at `*****'"));
    assert_eq!(e.key_bits, Some((40, 192, 192)));
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc 0xabc;");
    assert_eq!(e.message.as_deref(), Some("Invalid key length at `0x***'"));
    // A refused character in a key position is masked, with a hint.
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 'k';");
    assert_eq!(e.message.as_deref(), Some("Syntax error at `*'"));
    assert!(e.lexer_fatal);
    assert!(e.help_text().is_some_and(|h| h.contains("quoted")));
    // Tokens that are not keys are named as setkey names them.
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 \"k\";");
    assert_eq!(e.message.as_deref(), Some("syntax error at `aes-gcm-16'"));
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E null \"k\" x;");
    assert_eq!(e.message.as_deref(), Some("syntax error at `*'"));
    let e = err("add 10.0.0.1 10.0.0.2 esp 1 -E null x;");
    assert_eq!(e.message.as_deref(), Some("syntax error at `x'"));
    // The snippet (the error's line) keeps the quotes and the 0x.
    let script = "flush;\n\
                  add 10.0.0.1 10.0.0.2 esp 2 -A hmac-md5 \"0123456789abcdef\" -E 3des-cbc 0x0102;";
    let e = err(script).with_source_name("x.conf", script.to_string());
    let report = diagnostic::render(&e, false);
    assert!(report.contains("\"****************\""), "{report}");
    assert!(report.contains("0x****"), "{report}");
}

#[test]
fn long_runs_of_strings_stay_cheap() {
    // Masking looks back over runs of strings: it must stay linear.
    let mut script = String::from("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"0123456789abcdef\"");
    for _ in 0..50_000 {
        script.push_str(" \"k\"");
    }
    script.push(';');
    let started = std::time::Instant::now();
    let e = err(&script);
    assert_eq!(e.message.as_deref(), Some("syntax error at `*'"));
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn tokens_do_not_debug_print_keys() {
    let tokens = lexer::tokenize("add 1 2 esp 1 -E aes-cbc \"my-secret-key!!!\" 0xfeedface;");
    let debug = format!("{tokens:?}");
    assert!(!debug.contains("my-secret"), "{debug}");
    assert!(!debug.contains("feedface"), "{debug}");
    assert!(debug.contains("Keyword(Add)"), "{debug}");
    let mut splitter = interactive::StatementSplitter::default();
    let _ = splitter.push_line("add 1 2 esp 1 -E aes-cbc \"my-secret-key!!!\"");
    assert!(!format!("{splitter:?}").contains("my-secret"));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    // 2 000 cases by default; set PROPTEST_CASES for a longer run.
    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000),
            ..ProptestConfig::default()
        }
    }

    const WORDS: &[&str] = &[
        "add",
        "get",
        "delete",
        "deleteall",
        "getspi",
        "flush",
        "dump",
        "spdadd",
        "spdupdate",
        "spddelete",
        "spdflush",
        "spddump",
        "exit",
        "tagged",
        "esp",
        "ah",
        "esp-udp",
        "ipcomp",
        "tcp",
        "-E",
        "-A",
        "-C",
        "-R",
        "-m",
        "-u",
        "-r",
        "-f",
        "-lh",
        "-ls",
        "-bh",
        "-bs",
        "-ctx",
        "-P",
        "-4",
        "-6n",
        "aes-cbc",
        "null",
        "hmac-sha1",
        "tcp-md5",
        "deflate",
        "transport",
        "tunnel",
        "any",
        "in",
        "out",
        "ipsec",
        "esp/transport//require",
        "prio",
        "-",
        "+",
        "5",
        "0x1f",
        "\"k\"",
        "10.0.0.1",
        "::1",
        "localhost",
        "/",
        "[",
        "]",
        "500",
        "icmp",
        "8,0",
        ";",
        "\n",
        "#c\n",
        "me-any",
        "unique:3",
        "\\",
    ];

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_text(s in "\\PC{0,200}") {
            let _ = parse_script_with(&s, &Options::default(), &names());
        }

        #[test]
        fn never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = String::from_utf8_lossy(&b);
            let _ = parse_script_with(&s, &Options::default(), &names());
        }

        #[test]
        fn never_panics_on_token_soup(idx in proptest::collection::vec(0..WORDS.len(), 0..40)) {
            let s: Vec<&str> = idx.iter().filter_map(|&i| WORDS.get(i).copied()).collect();
            let text = s.join(" ");
            if let Err(e) = parse_script_with(&text, &Options::default(), &names()) {
                // Errors render without panicking either.
                let _ = diagnostic::render(&e.with_source_name("t", text.clone()), false);
            }
        }
    }
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let script = "flush;\nadd 1.1.1.1 2.2.2.2 esp 1 \u{1b}[2J\u{0}\r\u{7f}\u{9b} -E null;";
    let shown = everything_shown(script);
    for raw in ['\u{1b}', '\u{0}', '\r', '\u{7f}', '\u{9b}'] {
        assert!(!shown.contains(raw), "{raw:?} in {shown}");
    }
    assert!(shown.contains("\\x1b"), "{shown}");
    let e = err(script);
    assert_eq!(e.message.as_deref(), Some("Syntax error at `\\x1b'"));
    // The caret sits under the escaped character, column 27 of line 2.
    assert!(shown.contains("x.conf:2:27"), "{shown}");
    let line = shown
        .lines()
        .find(|l| l.contains("esp 1 "))
        .unwrap_or_default();
    let caret = shown.lines().find(|l| l.contains('┬')).unwrap_or_default();
    // The underline starts where the escaped character starts.
    assert_eq!(
        line.chars().position(|c| c == '\\'),
        caret.chars().position(|c| c == '─' || c == '┬')
    );
}

#[test]
fn long_lines_show_a_window_around_the_error() {
    let script = format!("add {} bogus {};", "x".repeat(70_000), "y".repeat(70_000));
    let shown = everything_shown(&script);
    assert!(shown.len() < 4_000, "{} bytes", shown.len());
    assert!(shown.contains("x.conf:1:70006"), "{shown}");
    assert!(shown.contains('…'));
    // Line and column numbers of any size.
    let script = format!("{}add 1 2 esp 1 \u{1b};", "\n".repeat(100_000));
    let shown = everything_shown(&script);
    assert!(shown.contains("x.conf:100001:5"), "{shown}");
    assert!(shown.contains("add 1 2 esp 1 \\x1b;"), "{shown}");
}

/// rsetkey's dialect: what a script parses to when run as `rsetkey`.
#[allow(clippy::result_large_err)]
fn parse_rsetkey(s: &str) -> Result<Vec<Statement>, ParseError> {
    let opts = Options {
        extensions: true,
        ..Options::default()
    };
    parse_script_with(s, &opts, &names())
}

fn rsetkey_sa(s: &str) -> SecurityAssociation {
    match parse_rsetkey(s)
        .expect("parses")
        .first()
        .map(|st| &st.operations[0])
    {
        Some(Operation::Add(sa)) => sa.as_ref().clone(),
        other => panic!("not an add: {other:?}"),
    }
}

/// A key of `bits` bits in hex.
fn hex_key(bits: usize) -> String {
    format!("0x{}", "ab".repeat(bits / 8))
}

#[test]
fn aead_ciphers_in_rsetkey_s_dialect() {
    use crate::algorithms::AEAD_SALT_BITS;
    for (name, alg, sizes) in [
        ("aes-gcm-8", EncryptAlgorithm::AesGcm8, &[160, 224, 288][..]),
        ("aes-gcm-12", EncryptAlgorithm::AesGcm12, &[160, 224, 288]),
        ("aes-gcm-16", EncryptAlgorithm::AesGcm16, &[160, 224, 288]),
        ("aes-gmac", EncryptAlgorithm::AesGmac, &[160, 224, 288]),
        (
            "chacha20-poly1305",
            EncryptAlgorithm::Chacha20Poly1305,
            &[288],
        ),
    ] {
        for &bits in sizes {
            let sa = rsetkey_sa(&format!(
                "add 10.0.0.1 10.0.0.2 esp 1 -E {name} {};",
                hex_key(bits)
            ));
            let (got, key) = sa.transforms.encrypt.expect("a cipher");
            assert_eq!((got, key.bits()), (alg, bits), "{name}");
        }
        // the key without its salt, or a size between two: refused, and
        // the key lengths are checked with -n as well (no kernel asked)
        for bits in [sizes[0] - usize::from(AEAD_SALT_BITS), sizes[0] + 8] {
            let e = parse_rsetkey(&format!(
                "add 10.0.0.1 10.0.0.2 esp 1 -E {name} {};",
                hex_key(bits)
            ))
            .expect_err("a wrong key length");
            assert_eq!(
                e.message.as_deref(),
                Some(format!("Invalid key length at `0x{}'", "*".repeat(bits / 4)).as_str()),
                "{name} {bits}"
            );
            assert!(e.key_bits.is_some_and(|(b, _, _)| b == bits));
        }
        // run as setkey: setkey's syntax error at the name
        let e = err(&format!(
            "add 10.0.0.1 10.0.0.2 esp 1 -E {name} {};",
            hex_key(sizes[0])
        ));
        assert_eq!(e.message, Some(format!("syntax error at `{name}'")));
    }
    // an ESP cipher
    let e = parse_rsetkey(&format!(
        "add 10.0.0.1 10.0.0.2 ah 1 -E aes-gcm-16 {};",
        hex_key(160)
    ))
    .expect_err("AEAD with ah");
    assert_eq!(
        e.message.as_deref(),
        Some("algorithm mismatched at `aes-gcm-16'")
    );
    // a combined-mode cipher authenticates by itself
    let e = parse_rsetkey(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 {} -A hmac-sha256 {};",
        hex_key(160),
        hex_key(256)
    ))
    .expect_err("-A with an AEAD cipher");
    assert_eq!(e.message.as_deref(), Some("syntax error at `-A'"));
}

#[test]
fn esn_and_wide_replay_windows_in_rsetkey_s_dialect() {
    let key = hex_key(160);
    let sa = rsetkey_sa(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -f esn -r 64 -E aes-gcm-16 {key};"
    ));
    assert_eq!(sa.flags & sa_flags::FLAG_ESN, sa_flags::FLAG_ESN);
    assert_eq!((sa.replay, sa.wide_replay), (64, None));
    let sa = rsetkey_sa(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -r 4096 -E aes-gcm-16 {key};"
    ));
    assert_eq!((sa.replay_requested, sa.wide_replay), (4096, Some(4096)));
    assert_eq!(sa.flags & sa_flags::FLAG_ESN, 0);
    let sa = rsetkey_sa(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -r 255 -E aes-gcm-16 {key};"
    ));
    assert_eq!((sa.replay, sa.wide_replay), (255, None));
    // beyond the kernel's bitmap
    let e = parse_rsetkey(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -r 4097 -E aes-gcm-16 {key};"
    ))
    .expect_err("too wide");
    assert_eq!(
        e.message.as_deref(),
        Some("replay window not in valid range [0, 4096] at `4097'")
    );
    // ESN without a window: the kernel would refuse it
    let e = parse_rsetkey(&format!(
        "add 10.0.0.1 10.0.0.2 esp 1 -f esn -E aes-gcm-16 {key};"
    ))
    .expect_err("esn without -r");
    assert_eq!(
        e.message.as_deref(),
        Some("extended sequence numbers need a replay window at `;'")
    );
    // run as setkey: `esn` is no word of its scanner, 256 does not fit
    assert_eq!(
        err(&format!(
            "add 10.0.0.1 10.0.0.2 esp 1 -f esn -r 64 -E aes-gcm-16 {key};"
        ))
        .message,
        Some("syntax error at `esn'".into())
    );
    assert_eq!(
        err("add 10.0.0.1 10.0.0.2 esp 1 -r 256 -E null;").message,
        Some("replay window not in valid range [0, 255] at `256'".into())
    );
}
