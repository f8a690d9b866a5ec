//! The command line end to end, where no kernel is needed: `-n`, raw
//! message files, usage and version, and what a bad script looks like.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rsetkey() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rsetkey"));
    c.env("TZ", "UTC").env("LC_ALL", "C").env("NO_COLOR", "1");
    c
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run rsetkey");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsetkey-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path
}

/// The `current:` and `diff:` fields of an SA depend on the clock of the
/// run; everything else must be the recorded text.
fn without_clock(text: &str) -> String {
    text.lines()
        .map(|l| {
            if let Some((created, _)) = l.split_once("\tcurrent: ")
                && created.starts_with("\tcreated: ")
            {
                return created.to_string();
            }
            if let Some(rest) = l.strip_prefix("\tdiff: ") {
                return format!("\tdiff: N{}", &rest[rest.find('(').unwrap_or(0)..]);
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn syntax_error_shows_line_column_and_exits_1() {
    let path = script(
        "bad.conf",
        "flush;\nadd 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc \"0123456789abcdef\";\nupdate 10.0.0.1 10.0.0.2 esp 0x100;\n",
    );
    let (status, stdout, stderr) = run(rsetkey().arg("-n").arg("-f").arg(&path));
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(stdout, "");
    let name = path.display();
    assert!(
        stderr.contains(&format!("{name},3: syntax error at `update'")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name},3: parse failed")),
        "{stderr}"
    );
    // the diagnostic points at line 3, column 1
    assert!(stderr.contains(&format!("{name}:3:1")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn valid_script_checks_without_a_kernel() {
    let path = script(
        "good.conf",
        "#!/usr/sbin/rsetkey -f\nflush;\nspdflush;\nadd 10.0.0.2 10.0.0.3 esp 15701 -E 3des-cbc \"123456789012123456789012\";\nspdadd 10.0.0.2 10.0.0.3 any -P out ipsec esp/transport//require;\n",
    );
    let (status, stdout, stderr) = run(rsetkey().arg("-n").arg("-f").arg(&path));
    assert_eq!((status, stdout.as_str()), (0, ""), "{stderr}");
    assert!(!stderr.contains("pfkey_open"), "{stderr}");
}

#[test]
fn missing_script_is_reported_like_setkey() {
    let (status, _, stderr) = run(rsetkey().args(["-f", "/nonexistent/script.conf"]));
    assert_eq!(status, 1);
    assert!(
        stderr.contains("Can't open `/nonexistent/script.conf': No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn raw_message_files_print_as_dumps() {
    for case in [
        "001-tutorial-host-a",
        "054-esp-udp-natt",
        "055-security-context",
    ] {
        let dir = fixtures().join("cases").join(case);
        for (raw, text) in [("D.raw", "D.txt"), ("DP.raw", "DP.txt")] {
            let (status, stdout, stderr) = run(rsetkey().arg(dir.join(raw)));
            assert_eq!(status, 0, "{case}: {stderr}");
            let expected = std::fs::read_to_string(dir.join(text)).expect("recorded text");
            assert_eq!(
                without_clock(&stdout),
                without_clock(&expected),
                "{case} {raw}"
            );
        }
    }
}

#[test]
fn no_keys_masks_every_key_digit_and_keeps_setkey_layout() {
    for case in [
        "001-tutorial-host-a",
        "005-ah-hmac-md5-sha1",
        "017-esp-enc-and-auth",
    ] {
        let dir = fixtures().join("cases").join(case);
        let (status, stdout, stderr) = run(rsetkey().arg("--no-keys").arg(dir.join("D.raw")));
        assert_eq!(status, 0, "{case}: {stderr}");
        let recorded = std::fs::read_to_string(dir.join("D.txt")).expect("recorded text");
        // the recording with the hex digits of its key lines (`E:`/`A:`
        // and their continuation lines) replaced by `*`
        let mut in_key = false;
        let masked: Vec<String> = recorded
            .lines()
            .map(|l| {
                if l.starts_with("\tE: ") || l.starts_with("\tA: ") {
                    in_key = true;
                    let (head, key) = l.split_at(l.find("  ").map_or(l.len(), |i| i + 2));
                    return format!("{head}{}", star_hex(key));
                }
                if in_key && l.starts_with(' ') {
                    return star_hex(l);
                }
                in_key = false;
                l.to_string()
            })
            .collect();
        assert_eq!(
            without_clock(&stdout),
            without_clock(&masked.join("\n")),
            "{case}"
        );
        assert!(stdout.contains("********"), "{case}: no key line at all");
    }
}

fn star_hex(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_hexdigit() { '*' } else { c })
        .collect()
}

#[test]
fn usage_and_version_exit_1() {
    let (status, stdout, _) = run(rsetkey().arg("-h"));
    assert_eq!(status, 1);
    assert!(
        stdout.contains("usage: rsetkey [-vrk] file ..."),
        "{stdout}"
    );
    let (status, stdout, _) = run(rsetkey().arg("-V"));
    assert_eq!(status, 1);
    assert!(stdout.contains("rsetkey"), "{stdout}");
    let (status, stdout, _) = run(&mut rsetkey());
    assert_eq!(status, 1);
    assert!(stdout.contains("usage:"), "{stdout}");
    let (status, stdout, stderr) = run(rsetkey().arg("-Dz"));
    assert_eq!(status, 1);
    assert_eq!(stderr, "rsetkey: invalid option -- 'z'\n");
    let (status, _, stderr) = run(rsetkey().arg("-f"));
    assert_eq!(status, 1);
    assert_eq!(stderr, "rsetkey: option requires an argument -- 'f'\n");
    assert!(stdout.contains("usage:"), "{stdout}");
}

#[test]
fn random_bytes_as_a_script_never_panic() {
    // A cheap end-to-end complement of the parser's property tests.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..50 {
        let bytes: Vec<u8> = (0..200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        let path = script(&format!("random{i}.conf"), "");
        std::fs::write(&path, &bytes).expect("write");
        let (status, _, stderr) = run(rsetkey().arg("-n").arg("-f").arg(&path));
        assert!(status == 0 || status == 1, "status {status}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn no_action_verbose_prints_one_line_per_kernel_operation() {
    let tutorial =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples/tutorial-host-a.conf");
    let (status, stdout, stderr) = run(rsetkey()
        .args(["-n", "-v", "--no-lint", "--no-warn-permissions", "-f"])
        .arg(&tutorial));
    assert_eq!(status, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // flush, spdflush, 4 SAs, out, in and its fwd twin
    assert_eq!(lines.len(), 9, "{stdout}");
    assert_eq!(lines[0], "flush;");
    assert!(lines[2].starts_with("add 202.141.176.2 202.141.176.3 ah 0x00003d54 -A hmac-md5 0x*"));
    assert!(lines[8].contains("-P fwd ipsec esp/transport//require ah/transport//require;"));
    // keys masked: neither the quoted key nor its hex
    assert!(
        !stdout.contains("1234567890123456") && !stdout.contains("31323334"),
        "{stdout}"
    );
    let (_, shown, _) = run(rsetkey()
        .args([
            "-n",
            "-v",
            "--show-keys",
            "--no-lint",
            "--no-warn-permissions",
            "-f",
        ])
        .arg(&tutorial));
    assert!(
        shown.contains("0x31323334353637383930313233343536"),
        "{shown}"
    );
}

#[test]
fn the_mode_flag_given_last_wins() {
    // setkey keeps the last mode: `-f FILE -D` dumps, the file is not read.
    let (_, _, stderr) = run(rsetkey().args(["-f", "/nonexistent/script.conf", "-D"]));
    assert!(!stderr.contains("Can't open"), "{stderr}");
    let (status, _, stderr) = run(rsetkey().args(["-D", "-f", "/nonexistent/script.conf"]));
    assert_eq!(status, 1);
    assert!(stderr.contains("Can't open"), "{stderr}");
}

#[test]
fn atomic_needs_a_whole_script() {
    // -c runs each statement as it is read: nothing to try first or undo.
    let mut child = rsetkey()
        .args(["--atomic", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rsetkey runs");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("rsetkey ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--atomic needs a whole script: use it with -f"),
        "{stderr}"
    );
    // -n changes nothing: --atomic has nothing to guard and is no error.
    let checked = script("atomic-n.conf", "spdflush;\n");
    let (status, _, stderr) = run(rsetkey().args(["--atomic", "-n", "-f"]).arg(&checked));
    assert_eq!(status, 0, "{stderr}");
}

/// rsetkey's AEAD names with `-n`: key lengths checked without a kernel,
/// `--backend pfkey` refuses what PF_KEY cannot express, `--strict`
/// refuses a counter mode under a static key; under the name setkey the
/// names are setkey's syntax error.
#[test]
fn aead_scripts_are_checked_and_refused_where_they_cannot_run() {
    let key = format!("0x{}", "61".repeat(20));
    let path = script(
        "aead.conf",
        &format!("add 10.0.0.1 10.0.0.2 esp 0x3d56 -E aes-gcm-16 {key};\n"),
    );
    let (status, stdout, stderr) = run(rsetkey()
        .args(["-n", "--no-warn-permissions", "-f"])
        .arg(&path));
    assert_eq!((status, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        stderr.contains("aead.conf,1: lint: aes-gcm-16 with a static key"),
        "{stderr}"
    );
    let (status, _, stderr) = run(rsetkey()
        .args(["-n", "--no-warn-permissions", "--backend", "pfkey", "-f"])
        .arg(&path));
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(
            "aead.conf,1: aes-gcm-16 is a combined-mode (AEAD) cipher, which Linux's PF_KEY \
             cannot express; --backend pfkey cannot carry out this script"
        ),
        "{stderr}"
    );
    let (status, _, stderr) = run(rsetkey()
        .args(["-n", "--no-warn-permissions", "--strict", "--no-lint", "-f"])
        .arg(&path));
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("aead.conf,1: error: aes-gcm-16 with a static key"),
        "{stderr}"
    );
    assert!(!stderr.contains(&key[2..]), "no key in diagnostics");
    let short = script(
        "short.conf",
        "add 10.0.0.1 10.0.0.2 esp 1 -E chacha20-poly1305 0x00112233445566778899aabbccddeeff;\n",
    );
    let (status, _, stderr) = run(rsetkey()
        .args(["-n", "--no-warn-permissions", "-f"])
        .arg(&short));
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.starts_with("128 288 288\n"), "{stderr}");
    // the setkey name: setkey's dialect
    let dir = path.parent().unwrap().join("as-setkey");
    std::fs::create_dir_all(&dir).unwrap();
    let setkey = dir.join("setkey");
    let _ = std::fs::remove_file(&setkey);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rsetkey"), &setkey).unwrap();
    let (status, _, stderr) = run(Command::new(&setkey)
        .args(["-n", "--no-warn-permissions", "-f"])
        .arg(&path));
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("aead.conf,1: syntax error at `aes-gcm-16'"),
        "{stderr}"
    );
}

/// The script is read a window at a time, but checked whole: an error
/// near the end of a long script leaves nothing on stdout (not even the
/// `-n -v` lines of the statements before it) and no lint or permission
/// warning on stderr, only the error, on its line.
#[test]
fn an_error_near_the_end_of_a_long_script_is_all_that_is_printed() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!(
            "add 10.0.{}.{} 10.1.{}.{} esp {} -E 3des-cbc \"123456789012123456789012\";\n",
            i / 256,
            i % 256,
            i / 256,
            i % 256,
            256 + i
        ));
    }
    text.push_str("spdadd 10.0.0.1 10.1.0.1 any -P out ipsec esp/transport//require;\nbogus;\n");
    let path = script("late-error.conf", &text);
    let name = path.display();
    for args in [&["-n", "-f"][..], &["-n", "-v", "-f"]] {
        let (status, stdout, stderr) = run(rsetkey().args(args).arg(&path));
        assert_eq!((status, stdout.as_str()), (1, ""), "{stderr}");
        assert!(
            stderr.starts_with(&format!("rsetkey: {name},5002: syntax error at `bogus'\n")),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("{name}:5002:1")), "{stderr}");
        assert!(!stderr.contains("lint:"), "{stderr}");
        assert!(!stderr.contains("readable"), "{stderr}");
    }
    // Without the error: the lints and the -v lines, as for a whole read.
    let good = script("late-good.conf", text.trim_end_matches("bogus;\n"));
    let (status, stdout, stderr) = run(rsetkey().args(["-n", "-v", "-f"]).arg(&good));
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 5001, "{stdout}");
    assert!(stderr.contains("lint:"), "{stderr}");
}

/// A script file of more than a MiB is read in two halves at once; what
/// `-n -f` says of it must be what it says of the same script on stdin,
/// which is read by one reader. The second half holds the only keys
/// (the permissions warning must come from its checks), the SAs that
/// satisfy some policies of the first half, and the AH partner of an
/// ESP SA of the first half, so the lints cross the halves.
#[test]
fn a_large_file_read_in_two_halves_is_checked_as_one_reader_checks_it() {
    let mut text = String::new();
    text.push_str("add 10.9.0.1 10.9.0.2 esp 0x900 -E null;\n");
    for i in 0..24_000u32 {
        let (a, b) = (i >> 8, i & 0xff);
        let policy = if i % 7 == 0 {
            "ipsec esp/transport//require"
        } else {
            "none"
        };
        text.push_str(&format!(
            "spdadd 10.0.{a}.{b} 10.1.{a}.{b} any -P out {policy};\n"
        ));
    }
    for i in (0..24_000u32).step_by(14) {
        let (a, b) = (i >> 8, i & 0xff);
        text.push_str(&format!(
            "add 10.0.{a}.{b} 10.1.{a}.{b} esp {} -E aes-cbc 0x{:032x} -A hmac-sha256 0x{:064x};\n",
            0x1000 + i,
            i,
            i
        ));
    }
    text.push_str("add 10.9.0.1 10.9.0.2 ah 0x901 -A hmac-sha1 \"01234567890123456789\";\n");
    assert!(text.len() > (1 << 20) + (1 << 18), "{}", text.len());
    let path = script("two-halves.conf", &text);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let name = path.to_string_lossy().into_owned();
    for flags in [&["-n", "-f"][..], &["-n", "-v", "-f"][..]] {
        let (code, out, err) = run(rsetkey().args(flags).arg(&path));
        let mut one = rsetkey();
        one.args(flags)
            .arg("-")
            .stdin(std::fs::File::open(&path).unwrap());
        let (one_code, one_out, one_err) = run(&mut one);
        assert_eq!((code, &out), (one_code, &one_out), "{flags:?}");
        // The same lints, named by file; the file's permissions are
        // checked too (stdin has none).
        let (warning, lints) = err.split_once('\n').unwrap();
        assert!(
            warning.contains("holds keys and is accessible"),
            "{warning}"
        );
        assert_eq!(
            lints,
            one_err.replace("-,", &format!("{name},")),
            "{flags:?}"
        );
        assert!(lints.matches(": lint: ").count() > 500, "{lints}");
    }
}
