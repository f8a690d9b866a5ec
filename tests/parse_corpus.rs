//! The parser against the recorded corpus (`fixtures/cases`).
//!
//! For every script the real setkey read (modes `f`, `n`, `x`, `xx`, and `c`
//! split the way `setkey -c` splits its input), `parse_script` must succeed
//! exactly when setkey did, and fail with setkey's message, line and
//! key-bits line when it did not. Names resolve through `fixtures/etc`
//! (hosts/services/protocols, as glibc with `nsswitch: files` would), so no
//! case depends on the machine running the test.
//!
//! For accepted scripts the lowered IR is also compared with the messages
//! setkey sent (`F.send.raw`), decoded here by hand so this test depends on
//! nothing but the parser and the IR.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rsetkey::ir::*;
use rsetkey::parse::{FileNames, Options, ParseError, parse_script_with};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn names() -> FileNames {
    FileNames::from_dir(&fixtures().join("etc")).expect("fixtures/etc is readable")
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(fixtures().join("cases"))
        .expect("fixtures/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("script.conf").is_file())
        .collect();
    v.sort();
    v
}

fn mode(case: &Path) -> String {
    fs::read_to_string(case.join("mode"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "f".into())
}

/// The error setkey printed: (bits line, LINE, message or None, lexer fatal).
fn expected_error(stderr: &str) -> Option<(Option<String>, u32, Option<String>, bool)> {
    let lines: Vec<&str> = stderr.lines().collect();
    let parse_line = |l: &str| -> Option<(u32, String)> {
        let rest = l.strip_prefix("setkey: script.conf,")?;
        let (n, msg) = rest.split_once(": ")?;
        Some((n.parse().ok()?, msg.to_string()))
    };
    if let Some(l) = lines.iter().find(|l| l.contains(": Syntax error at `")) {
        let (n, m) = parse_line(l)?;
        return Some((None, n, Some(m), true));
    }
    let pf = lines.iter().position(|l| l.ends_with(": parse failed"))?;
    let (line, _) = parse_line(lines.get(pf)?)?;
    let prev = pf
        .checked_sub(1)
        .and_then(|i| lines.get(i))
        .and_then(|l| parse_line(l));
    let message = prev
        .filter(|(n, m)| *n == line && !m.starts_with("WARNING"))
        .map(|(_, m)| m);
    let bits = lines
        .iter()
        .find(|l| !l.starts_with("setkey:"))
        .map(|s| s.to_string());
    Some((bits, line, message, false))
}

fn check_error(case: &Path, e: &ParseError, want: &(Option<String>, u32, Option<String>, bool)) {
    let (bits, line, message, fatal) = want;
    assert_eq!(e.line, *line, "{}: line", case.display());
    assert_eq!(&e.message, message, "{}: message", case.display());
    assert_eq!(e.lexer_fatal, *fatal, "{}: lexer_fatal", case.display());
    let got_bits = e.key_bits.map(|(b, mi, ma)| format!("{b} {mi} {ma}"));
    assert_eq!(&got_bits, bits, "{}: key bits line", case.display());
}

/// Splits stdin the way `setkey -c` does: `#` to end of line removed, empty
/// lines skipped, lines joined by a space, cut after every `;`.
fn split_c_mode(input: &str) -> Vec<String> {
    let mut buf = String::new();
    let mut out = Vec::new();
    for line in input.lines() {
        let line = line.split('#').next().unwrap_or("");
        if line.is_empty() {
            continue;
        }
        if !buf.is_empty() {
            buf.push(' ');
        }
        buf.push_str(line);
        while let Some(p) = buf.find(';') {
            out.push(buf[..=p].to_string());
            buf = buf[p + 1..].to_string();
        }
    }
    out
}

#[test]
fn corpus_accepts_and_refuses_like_setkey() {
    let names = names();
    let options = Options::default();
    let mut checked = 0;
    for case in cases() {
        let m = mode(&case);
        if m == "file" {
            // script.conf holds raw PF_KEY messages there, not a script.
            continue;
        }
        let script = fs::read_to_string(case.join("script.conf")).expect("script");
        let stderr = fs::read_to_string(case.join("setkey.stderr")).unwrap_or_default();
        match m.as_str() {
            "f" | "n" | "x" | "xx" => {
                let result = parse_script_with(&script, &options, &names);
                match (expected_error(&stderr), result) {
                    (None, Ok(stmts)) => {
                        check_warnings(&case, &stderr, &stmts);
                        if m != "n" {
                            compare_with_sent(&case, &stmts);
                        }
                    }
                    (Some(want), Err(e)) => check_error(&case, &e, &want),
                    (None, Err(e)) => panic!("{}: refused: {e:?}", case.display()),
                    (Some(want), Ok(_)) => {
                        panic!("{}: accepted, setkey said {want:?}", case.display())
                    }
                }
            }
            "c" => {
                let stdout = fs::read_to_string(case.join("setkey.stdout")).unwrap_or_default();
                let mut errors = String::new();
                for piece in split_c_mode(&script) {
                    if let Err(e) = parse_script_with(&piece, &options, &names) {
                        errors.push_str(&e.message.unwrap_or_default());
                    }
                }
                // Kernel errors are whole lines ending in a period.
                let parse_part: String = stdout
                    .split_inclusive('\n')
                    .filter(|l| !l.trim_end().ends_with('.'))
                    .collect();
                assert_eq!(errors, parse_part, "{}: -c errors", case.display());
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 75, "only {checked} cases checked");
}

/// Warnings setkey printed for accepted scripts, in order.
fn check_warnings(case: &Path, stderr: &str, stmts: &[Statement]) {
    let want: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("setkey: script.conf,"))
        .filter_map(|r| r.split_once(": "))
        .filter(|(_, m)| m.starts_with("WARNING"))
        .map(|(n, m)| format!("{n}: {m}"))
        .collect();
    let got: Vec<String> = stmts
        .iter()
        .flat_map(|s| {
            s.warnings
                .iter()
                .map(move |w| format!("{}: {w}", s.location.line))
        })
        .collect();
    assert_eq!(got, want, "{}: warnings", case.display());
}

/// Kernel errors name the statement's line: every `setkey: script.conf,L:`
/// error line of an accepted script must be the line of some statement.
fn check_error_lines(case: &Path, stmts: &[Statement]) {
    let stderr = fs::read_to_string(case.join("setkey.stderr")).unwrap_or_default();
    for l in stderr.lines() {
        let Some((n, _)) = l
            .strip_prefix("setkey: script.conf,")
            .and_then(|r| r.split_once(": "))
        else {
            continue;
        };
        let n: u32 = n.parse().expect("line number");
        assert!(
            stmts.iter().any(|s| s.location.line == n),
            "{}: no statement ends on line {n}",
            case.display()
        );
    }
}

// ---- decoding F.send.raw -------------------------------------------------

struct Msg<'a> {
    typ: u8,
    satype: u8,
    exts: Vec<(u16, &'a [u8])>,
}

fn messages(raw: &[u8]) -> Vec<Msg<'_>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= raw.len() {
        let len = usize::from(u16::from_le_bytes([raw[off + 4], raw[off + 5]])) * 8;
        let msg = &raw[off..off + len];
        let mut exts = Vec::new();
        let mut e = 16;
        while e + 4 <= msg.len() {
            let elen = usize::from(u16::from_le_bytes([msg[e], msg[e + 1]])) * 8;
            let etype = u16::from_le_bytes([msg[e + 2], msg[e + 3]]);
            exts.push((etype, &msg[e..e + elen]));
            e += elen.max(8);
        }
        out.push(Msg {
            typ: msg[1],
            satype: msg[3],
            exts,
        });
        off += len.max(16);
    }
    out
}

fn ext<'a>(m: &Msg<'a>, t: u16) -> Option<&'a [u8]> {
    m.exts.iter().find(|(ty, _)| *ty == t).map(|(_, b)| *b)
}

fn sockaddr(b: &[u8]) -> SocketAddr {
    let family = u16::from_le_bytes([b[0], b[1]]);
    let port = u16::from_be_bytes([b[2], b[3]]);
    if family == 2 {
        SocketAddr::from(([b[4], b[5], b[6], b[7]], port))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[8..24]);
        SocketAddr::from((a, port))
    }
}

fn satype_num(t: SaType) -> u8 {
    match t {
        SaType::Unspec => 0,
        SaType::Ah => 2,
        SaType::Esp => 3,
        SaType::IpComp => 9,
    }
}

fn auth_num(a: AuthAlgorithm) -> u8 {
    use AuthAlgorithm::*;
    match a {
        HmacMd5 => 2,
        HmacSha1 => 3,
        KeyedMd5 => 249,
        KeyedSha1 => 250,
        HmacSha256 => 5,
        HmacSha384 => 6,
        HmacSha512 => 7,
        HmacRipemd160 => 8,
        AesXcbcMac => 9,
        Null => 251,
    }
}

fn enc_num(e: EncryptAlgorithm) -> u8 {
    use EncryptAlgorithm::*;
    match e {
        DesCbc => 2,
        TripleDesCbc => 3,
        Null => 11,
        BlowfishCbc => 7,
        Cast128Cbc => 6,
        TwofishCbc => 253,
        AesCbc => 12,
        AesCtr => 13,
        CamelliaCbc => 22,
    }
}

fn mode_num(m: IpsecMode) -> u8 {
    match m {
        IpsecMode::Any => 0,
        IpsecMode::Transport => 1,
        IpsecMode::Tunnel => 2,
    }
}

fn check_sa(case: &str, m: &Msg<'_>, sa: &SecurityAssociation) {
    assert_eq!(m.satype, satype_num(sa.satype), "{case}: satype");
    let s = ext(m, 1).expect("SA ext");
    assert_eq!(
        u32::from_be_bytes([s[4], s[5], s[6], s[7]]),
        sa.spi,
        "{case}: spi"
    );
    assert_eq!(s[8], sa.replay, "{case}: replay");
    assert_eq!(
        u32::from_le_bytes([s[12], s[13], s[14], s[15]]),
        sa.flags,
        "{case}: flags"
    );
    if m.typ == 3 {
        let auth = sa.transforms.auth.as_ref().map_or(0, |a| auth_num(a.0));
        let enc = match (&sa.transforms.encrypt, sa.transforms.compression) {
            (_, Some(c)) => c as u8 + 1,
            (Some(e), None) => enc_num(e.0),
            (None, None) => 0,
        };
        assert_eq!((s[10], s[11]), (auth, enc), "{case}: algorithms");
        if let Some((_, Some(key))) = &sa.transforms.auth {
            let k = ext(m, 8).expect("auth key");
            let bits = usize::from(u16::from_le_bytes([k[4], k[5]]));
            assert_eq!(bits, key.bits(), "{case}: auth key bits");
            assert_eq!(
                &k[8..8 + key.as_bytes().len()],
                key.as_bytes(),
                "{case}: auth key"
            );
        }
        if let (Some((_, key)), None) = (&sa.transforms.encrypt, sa.transforms.compression) {
            let k = ext(m, 9).expect("enc key");
            let bits = usize::from(u16::from_le_bytes([k[4], k[5]]));
            assert_eq!(bits, key.bits(), "{case}: enc key bits");
            assert_eq!(
                &k[8..8 + key.as_bytes().len()],
                key.as_bytes(),
                "{case}: enc key"
            );
        }
        for (t, lt) in [(3u16, sa.hard), (4, sa.soft)] {
            match ext(m, t) {
                Some(l) => {
                    let bytes = u64::from_le_bytes(l[8..16].try_into().unwrap());
                    let add = u64::from_le_bytes(l[16..24].try_into().unwrap());
                    assert_eq!((bytes, add), (lt.bytes, lt.seconds), "{case}: lifetime");
                }
                None => assert!(!lt.is_set(), "{case}: lifetime missing"),
            }
        }
        assert_eq!(
            ext(m, 24).is_some(),
            sa.context.is_some(),
            "{case}: sec ctx"
        );
    }
    let s2 = ext(m, 19).expect("SA2 ext");
    assert_eq!(s2[4], mode_num(sa.mode), "{case}: mode");
    assert_eq!(
        u32::from_le_bytes([s2[12], s2[13], s2[14], s2[15]]),
        sa.reqid,
        "{case}: reqid"
    );
    assert_eq!(
        sockaddr(&ext(m, 5).expect("src")[8..]),
        sa.src,
        "{case}: src"
    );
    assert_eq!(
        sockaddr(&ext(m, 6).expect("dst")[8..]),
        sa.dst,
        "{case}: dst"
    );
    match sa.nat {
        Some(n) => {
            let sp = ext(m, 21).expect("nat sport");
            let dp = ext(m, 22).expect("nat dport");
            assert_eq!(
                u16::from_be_bytes([sp[4], sp[5]]),
                n.sport,
                "{case}: nat sport"
            );
            assert_eq!(
                u16::from_be_bytes([dp[4], dp[5]]),
                n.dport,
                "{case}: nat dport"
            );
        }
        None => assert!(ext(m, 20).is_none(), "{case}: unexpected NAT-T"),
    }
}

fn check_policy(case: &str, m: &Msg<'_>, p: &PolicyRequest) {
    let x = ext(m, 18).expect("X_POLICY");
    let dir = match p.policy.direction {
        Direction::In => 1,
        Direction::Out => 2,
        Direction::Fwd => 3,
    };
    let typ = match p.policy.action {
        PolicyAction::Discard => 0,
        PolicyAction::None => 1,
        PolicyAction::Ipsec => 2,
        PolicyAction::Entrust => 3,
        PolicyAction::Bypass => 4,
    };
    assert_eq!(u16::from_le_bytes([x[4], x[5]]), typ, "{case}: policy type");
    assert_eq!(x[6], dir, "{case}: dir");
    assert_eq!(
        u32::from_le_bytes([x[12], x[13], x[14], x[15]]),
        p.policy.priority,
        "{case}: priority"
    );
    let mut off = 16;
    for r in &p.policy.requests {
        let q = &x[off..];
        let len = usize::from(u16::from_le_bytes([q[0], q[1]]));
        let proto = match r.protocol {
            IpsecProtocol::Esp => 50,
            IpsecProtocol::Ah => 51,
            IpsecProtocol::IpComp => 108,
        };
        let level = match r.level {
            Level::Default => 0,
            Level::Use => 1,
            Level::Require => 2,
            Level::Unique => 3,
        };
        assert_eq!(u16::from_le_bytes([q[2], q[3]]), proto, "{case}: req proto");
        assert_eq!(
            (q[4], q[5]),
            (mode_num(r.mode), level),
            "{case}: req mode/level"
        );
        assert_eq!(
            u32::from_le_bytes([q[8], q[9], q[10], q[11]]),
            r.reqid,
            "{case}: reqid"
        );
        if let Some((s, d)) = r.endpoints {
            assert_eq!(sockaddr(&q[16..]), s, "{case}: tunnel src");
            let slen = if s.is_ipv4() { 16 } else { 28 };
            assert_eq!(sockaddr(&q[16 + slen..]), d, "{case}: tunnel dst");
        } else {
            assert_eq!(len, 16, "{case}: request without addresses");
        }
        off += len;
    }
    assert_eq!(off, x.len(), "{case}: request count");
    for (t, sel) in [(5u16, &p.src), (6, &p.dst)] {
        let a = ext(m, t).expect("address");
        assert_eq!(
            (a[4], a[5]),
            (p.upper, sel.prefixlen),
            "{case}: proto/prefix"
        );
        assert_eq!(sockaddr(&a[8..]), sel.addr, "{case}: selector");
    }
    assert_eq!(ext(m, 24).is_some(), p.context.is_some(), "{case}: sec ctx");
}

fn compare_with_sent(case: &Path, stmts: &[Statement]) {
    check_error_lines(case, stmts);
    let Ok(raw) = fs::read(case.join("F.send.raw")) else {
        return;
    };
    let ops: Vec<&Operation> = stmts
        .iter()
        .flat_map(|s| s.operations.iter())
        .filter(|o| !matches!(o, Operation::Exit))
        .collect();
    // deleteall's messages depend on what the kernel's dump returned.
    if ops.iter().any(|o| matches!(o, Operation::DeleteAll(_))) {
        return;
    }
    let msgs = messages(&raw);
    let name = case.display().to_string();
    assert_eq!(
        msgs.first().map(|m| m.typ),
        Some(7),
        "{name}: REGISTER first"
    );
    assert_eq!(msgs.len() - 1, ops.len(), "{name}: message count");
    for (m, op) in msgs.iter().skip(1).zip(&ops) {
        let (typ, satype) = match op {
            Operation::Flush(t) => (9, satype_num(*t)),
            Operation::Dump(t) => (10, satype_num(*t)),
            Operation::SpdFlush => (19, 0),
            Operation::SpdDump => (18, 0),
            Operation::Add(sa) => (3, satype_num(sa.satype)),
            Operation::Get(sa) => (5, satype_num(sa.satype)),
            Operation::Delete(sa) => (4, satype_num(sa.satype)),
            Operation::GetSpi(sa) => (1, satype_num(sa.satype)),
            Operation::SpdAdd(_) => (14, 0),
            Operation::SpdUpdate(_) => (13, 0),
            Operation::SpdDelete(_) => (15, 0),
            Operation::DeleteAll(_) | Operation::Exit => continue,
        };
        assert_eq!(
            (m.typ, m.satype),
            (typ, satype),
            "{name}: type/satype of {op:?}"
        );
        match op {
            Operation::Add(sa)
            | Operation::Get(sa)
            | Operation::Delete(sa)
            | Operation::GetSpi(sa) => check_sa(&name, m, sa),
            Operation::SpdAdd(p) | Operation::SpdUpdate(p) | Operation::SpdDelete(p) => {
                check_policy(&name, m, p)
            }
            _ => {}
        }
    }
}
