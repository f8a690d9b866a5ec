//! Unit tests of the whole parser: one group per construct.

use super::*;
use crate::ir::*;

fn names() -> FileNames {
    FileNames {
        hosts: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n\
                192.0.2.10 gw-a\n192.0.2.20 gw-b\n2001:db8::10 gw-a6\n\
                192.0.2.30 dual.example\n2001:db8::30 dual.example\n"
            .into(),
        services: "isakmp 500/udp\nssh 22/tcp\n".into(),
        protocols: "icmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\ngre 47 GRE\nipv6-icmp 58 IPv6-ICMP\n\
                    mobility-header 135 Mobility-Header\n"
            .into(),
    }
}

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
        Some(Operation::Add(sa) | Operation::Get(sa) | Operation::Delete(sa) | Operation::GetSpi(sa)) => sa.clone(),
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
    let Operation::Add(ah) = &v[2].operations[0] else { panic!() };
    assert_eq!(ah.satype, SaType::Ah);
    assert_eq!(ah.spi, 15700);
    assert_eq!(ah.flags, 0x40);
    assert_eq!(ah.src, "202.141.176.2:0".parse().unwrap());
    let (alg, key) = ah.transforms.auth.clone().unwrap();
    assert_eq!(alg, AuthAlgorithm::HmacMd5);
    assert_eq!(key.unwrap().as_bytes(), b"1234567890123456");
    let Operation::Add(esp) = &v[3].operations[0] else { panic!() };
    assert_eq!(esp.transforms.encrypt.as_ref().map(|e| e.0), Some(EncryptAlgorithm::TripleDesCbc));
    assert_eq!(v[4].location.line, 8);
    assert_eq!(v[4].operations.len(), 1);
    let Operation::SpdAdd(p) = &v[4].operations[0] else { panic!() };
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
    let Operation::SpdAdd(fwd) = &v[5].operations[1] else { panic!() };
    assert_eq!(fwd.policy.direction, Direction::Fwd);
}
