//! Keys never reach a diagnostic, and rsetkey's own warnings (file
//! permissions, lints) go to stderr only, can be silenced, and never change
//! stdout or the exit status.
//!
//! Runs the built binary with `-n -f FILE`, which needs no PF_KEY socket
//! (without one, `-n` checks against the algorithms Linux usually offers).
//! `-c` needs a socket, so its messages are checked at the parser level.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rsetkey::parse::{self, FileNames, Options};

/// A quoted key: printable, with no common words in it.
const QUOTED: &str = "ZqWvXkJpQmYbTrGh";
/// A hex key (192 bits, digits unlikely anywhere else).
const HEX: &str = "0x9f3e7d1c5b2a4f6e8d0c1b3a5f7e9d2c4b6a8f0e1d3c5b7a";

/// Everything that would give a key away: its text (and any 6 characters
/// of it), the hex of its bytes (and any 12 digits of that).
fn leaks() -> Vec<String> {
    let mut out = Vec::new();
    let quoted_hex: String = QUOTED.bytes().map(|b| format!("{b:02x}")).collect();
    let hex_digits = HEX.trim_start_matches("0x").to_string();
    for text in [QUOTED.to_string(), quoted_hex, hex_digits] {
        let window = if text.len() == QUOTED.len() { 6 } else { 12 };
        let chars: Vec<char> = text.chars().collect();
        for w in chars.windows(window) {
            let s: String = w.iter().collect();
            out.push(s.to_lowercase());
        }
    }
    out
}

fn assert_no_key(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for leak in leaks() {
        assert!(!lower.contains(&leak), "{what}: `{leak}` leaks in:\n{text}");
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private directory for one test's scripts, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rsetkey-hygiene-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).expect("scratch dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod dir");
        Scratch(dir)
    }

    fn script(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).expect("write script");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn rsetkey(args: &[&str], script: &PathBuf) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rsetkey"))
        .args(args)
        .arg("-f")
        .arg(script)
        .output()
        .expect("run rsetkey");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const GOOD_AUTH: &str =
    "-A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Scripts that fail to parse, one per diagnostic class, each with keys.
fn failing_scripts() -> Vec<(&'static str, String)> {
    let q = format!("\"{QUOTED}\"");
    let good = format!("add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc {q} {GOOD_AUTH};\n");
    vec![
        (
            "syntax error in a statement with keys",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc {q} -A hmac-sha1 {HEX} garbage;\n"),
        ),
        (
            "invalid key length, quoted",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc {q};\n"),
        ),
        (
            "invalid key length, hex",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E des-cbc {HEX};\n"),
        ),
        (
            "unknown algorithm",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 {HEX};\n"),
        ),
        (
            "not supported",
            format!("add 10.0.0.1 10.0.0.2 ah 1 -A keyed-md5 {q};\n"),
        ),
        (
            "key without quotes",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc {QUOTED};\n"),
        ),
        (
            "tcp-md5",
            format!("add 10.0.0.1 10.0.0.2 tcp 1 -A tcp-md5 {q};\n"),
        ),
        (
            "lexer-fatal character in a key",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc '{QUOTED}';\n"),
        ),
        (
            "lexer-fatal character after keys",
            format!("{good}add \\\n{good}"),
        ),
        (
            "unterminated key",
            format!("add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"{QUOTED};\n"),
        ),
        (
            "address error",
            format!("{good}add -n 10.0.0.300 10.0.0.2 esp 1 -E aes-cbc {q};\n{good}"),
        ),
        (
            "policy error",
            format!("{good}spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/bogus//require;\n{good}"),
        ),
        (
            "missing semicolon",
            format!("{good}add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc {q} {GOOD_AUTH}\n"),
        ),
    ]
}

#[test]
fn parse_errors_never_show_keys() {
    let scratch = Scratch::new();
    for (i, (what, text)) in failing_scripts().iter().enumerate() {
        let path = scratch.script(&format!("s{i}.conf"), text, 0o600);
        for args in [&["-n"][..], &["-n", "-v"][..]] {
            let run = rsetkey(args, &path);
            assert_eq!(run.status, 1, "{what}: exit status\n{}", run.stderr);
            assert!(!run.stderr.is_empty(), "{what}: no message");
            assert_no_key(what, &run.stdout);
            assert_no_key(what, &run.stderr);
        }
    }
}

#[test]
fn setkey_style_lines_mask_the_key_with_its_shape() {
    let scratch = Scratch::new();
    let path = scratch.script(
        "k.conf",
        &format!("add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc \"{QUOTED}\";\n"),
        0o600,
    );
    let run = rsetkey(&["-n"], &path);
    assert!(
        run.stderr
            .contains("Invalid key length at `****************'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.lines().any(|l| l == "128 192 192"),
        "{}",
        run.stderr
    );
    let path = scratch.script(
        "h.conf",
        &format!("add 10.0.0.1 10.0.0.2 esp 1 -E des-cbc {HEX};\n"),
        0o600,
    );
    let run = rsetkey(&["-n"], &path);
    let stars = "*".repeat(HEX.len() - 2);
    assert!(
        run.stderr
            .contains(&format!("Invalid key length at `0x{stars}'")),
        "{}",
        run.stderr
    );
}

/// `-c` prints parse messages on stdout; they come from the same parser.
#[test]
fn interactive_messages_never_show_keys() {
    let names = FileNames::default();
    for (what, text) in failing_scripts() {
        for piece in parse::interactive::split(&text) {
            if let Err(e) = parse::parse_script_with(&piece, &Options::default(), &names) {
                assert_no_key(what, &e.message.clone().unwrap_or_default());
                assert_no_key(what, &format!("{e} {e:?}"));
            }
        }
    }
}

#[test]
fn verbose_dry_run_shows_no_keys() {
    let scratch = Scratch::new();
    let text = format!(
        "flush;\nadd 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n\
         add 10.0.0.2 10.0.0.1 esp 0x101 -E 3des-cbc {HEX} {GOOD_AUTH};\n\
         spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n"
    );
    let path = scratch.script("v.conf", &text, 0o600);
    let run = rsetkey(&["-n", "-v"], &path);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_no_key("-n -v", &run.stdout);
    assert_no_key("-n -v", &run.stderr);
}

fn keyed_script() -> String {
    format!(
        "add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n\
         add 10.0.0.2 10.0.0.1 esp 0x101 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n"
    )
}

#[test]
fn permission_warning() {
    let scratch = Scratch::new();
    let open = scratch.script("open.conf", &keyed_script(), 0o644);
    let run = rsetkey(&["-n"], &open);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("WARNING") && run.stderr.contains("(mode 0644)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("open.conf holds keys"),
        "{}",
        run.stderr
    );
    assert_no_key("permission warning", &run.stderr);

    let quiet = rsetkey(&["-n", "--no-warn-permissions"], &open);
    assert_eq!(quiet.status, 0);
    assert_eq!(quiet.stdout, "");
    assert!(!quiet.stderr.contains("WARNING"), "{}", quiet.stderr);

    let private = scratch.script("private.conf", &keyed_script(), 0o600);
    let run = rsetkey(&["-n"], &private);
    assert_eq!(
        (run.status, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );

    // No keys: readable is fine, world-writable is not.
    let no_keys = "flush;\nspdflush;\n";
    let readable = scratch.script("readable.conf", no_keys, 0o644);
    let run = rsetkey(&["-n"], &readable);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""));
    let writable = scratch.script("writable.conf", no_keys, 0o666);
    let run = rsetkey(&["-n"], &writable);
    assert_eq!(run.status, 0);
    assert!(run.stderr.contains("world-writable"), "{}", run.stderr);
}

#[test]
fn lints_go_to_stderr_and_can_be_silenced() {
    let scratch = Scratch::new();
    let text = format!(
        "add 10.0.0.1 10.0.0.2 esp 0x100 -E des-cbc 0x0011223344556677 {GOOD_AUTH};\n\
         add 10.0.0.1 10.0.0.2 esp 0x101 -r 64 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n\
         spdadd 10.0.0.1 10.0.0.9 any -P out ipsec esp/transport//require;\n"
    );
    let path = scratch.script("lint.conf", &text, 0o600);
    let run = rsetkey(&["-n"], &path);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("lint.conf,1: lint: des-cbc"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("replay window 64"), "{}", run.stderr);
    assert!(
        run.stderr.contains("lint.conf,3: lint: no SA"),
        "{}",
        run.stderr
    );
    assert_no_key("lints", &run.stderr);
    let quiet = rsetkey(&["-n", "--no-lint"], &path);
    assert_eq!(
        (quiet.status, quiet.stdout.as_str(), quiet.stderr.as_str()),
        (0, "", "")
    );
    // A script that fails to parse gets no lints, and its status stays 1.
    let broken = scratch.script("broken.conf", &format!("{text}add;\n"), 0o600);
    let run = rsetkey(&["-n"], &broken);
    assert_eq!(run.status, 1);
    assert!(!run.stderr.contains("lint:"), "{}", run.stderr);
}

#[test]
fn replay_windows_pf_key_cannot_carry_are_refused() {
    // `-r 5000`: setkey sends it modulo 256 (sadb_sa_replay is 8 bits);
    // rsetkey sends windows past 255 through XFRM, up to the kernel's
    // 4096, and refuses larger ones, naming the range, showing no key.
    let scratch = Scratch::new();
    let text = format!(
        "add 10.0.0.1 10.0.0.2 esp 0x101 -r 32 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n\
         add 10.0.0.1 10.0.0.2 esp 0x100 -r 5000 -E aes-cbc \"{QUOTED}\" {GOOD_AUTH};\n"
    );
    let path = scratch.script("replay.conf", &text, 0o600);
    let run = rsetkey(&["-n"], &path);
    assert_eq!((run.status, run.stdout.as_str()), (1, ""), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("replay.conf,2: replay window not in valid range [0, 4096] at `5000'"),
        "{}",
        run.stderr
    );
    assert_no_key("replay refusal", &run.stderr);
}
