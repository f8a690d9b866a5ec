//! Bad input on the command line (issue 12): flags that must not change the
//! kernel, combinations setkey gets wrong, and output that goes away.
//!
//! Tests that need a kernel's SPD run in a new network namespace of the
//! machine's own kernel (XFRM netlink is there even without PF_KEY). Like
//! the kernel tests they fail where no namespace can be made (no root),
//! and are ignored when built with `RSETKEY_SKIP_KERNEL_TESTS=1`.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

const RSETKEY: &str = env!("CARGO_BIN_EXE_rsetkey");

fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsetkey-bad-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path
}

/// Runs the shell command `sh` in a new network namespace, with `$R` the
/// rsetkey binary; its stdout. Panics, saying how to skip on purpose, where
/// no namespace can be made: a test of what reaches the kernel never passes
/// without one.
fn in_new_netns(sh: &str) -> String {
    let probe = Command::new("unshare").args(["-n", "true"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "no network namespace (`unshare -n` failed: run as root); \
         build with RSETKEY_SKIP_KERNEL_TESTS=1 to skip on purpose"
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", sh])
        .env("R", RSETKEY)
        .env("TZ", "UTC")
        .output()
        .expect("unshare");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Held by the tests of this file that take `/run/rsetkey.lock` (the
/// file is the host's, a network namespace does not separate it): the
/// test that holds the lock for 10 s would otherwise make the others wait
/// and fail.
static RUN_LOCK_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_lock_user_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    RUN_LOCK_USERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const POLICY: &str = "spdadd 1.1.1.1 2.2.2.2 any -P out none;\n";

/// `-n` sends nothing, with `-c` as with `-f`: the namespace's SPD stays
/// empty.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn dry_runs_leave_the_spd_empty() {
    let conf = script("policy.conf", POLICY);
    for how in [
        format!("printf '{}' | \"$R\" -n -c", POLICY.trim_end()),
        format!("\"$R\" -n -f {}", conf.display()),
        format!("printf '{}' | \"$R\" -n -v -c", POLICY.trim_end()),
    ] {
        let out = in_new_netns(&format!(
            "{how} >/dev/null 2>&1; echo status=$?; \"$R\" --backend xfrm -DP"
        ));
        assert_eq!(out, "status=0\nNo SPD entries.\n", "{how}");
    }
}

/// `-n -c` still reads and checks every statement: errors are reported as
/// `-c` reports them, and `-v` shows what would be done. (In a namespace
/// of its own, should it send after all.)
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn a_dry_run_of_commands_checks_and_shows_statements() {
    let out = in_new_netns(
        "printf 'spdadd 1.1.1.1 2.2.2.2 any -P out none;\\nspdadd 1.1.1.1 2.2.2.2 bogus -P out none;\\n' \\
         | \"$R\" -n -v -c; echo status=$?",
    );
    assert!(out.ends_with("status=0\n"), "{out}");
    assert!(out.contains("1.1.1.1"), "{out}");
    assert!(out.contains("at `bogus'"), "{out}");
}

/// Runs rsetkey with `args`: (status, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(RSETKEY)
        .args(args)
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .output()
        .expect("run rsetkey");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `-f a.conf b.conf`: setkey ignores -f and prints b.conf as raw PF_KEY
/// messages, exit status 0. rsetkey refuses the command line.
#[test]
fn a_script_with_file_arguments_is_a_usage_error() {
    let a = script("a.conf", POLICY);
    let b = script("b.conf", POLICY);
    let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
    let (status, stdout, stderr) = run(&["-f", &a, &b]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stderr.contains("raw PF_KEY messages"), "{stderr}");
    assert!(stderr.contains("nothing was applied"), "{stderr}");
    assert!(stdout.contains("usage:"), "{stdout}");
}

/// Flags repeated and combined as getopt allows them (`-vv`, `-n -n`,
/// `-nvf FILE`) mean what they mean once.
#[test]
fn repeated_and_combined_flags_work_as_in_setkey() {
    let conf = script("repeat.conf", POLICY);
    let conf = conf.to_string_lossy();
    for args in [
        &["-vv", "-n", "-f", &conf][..],
        &["-n", "-n", "-v", "-f", &conf],
        &["-nvf", &conf],
        &["-k", "-r", "-nvf", &conf],
    ] {
        let (status, stdout, stderr) = run(args);
        assert_eq!(status, 0, "{args:?}: {stderr}");
        assert_eq!(stdout, POLICY, "{args:?}");
    }
}

/// Runs rsetkey with `args`, reads one line of its output and closes the
/// pipe, as `| head -1` does: (status, stderr).
fn first_line_only(args: &[&str]) -> (i32, String) {
    use std::io::BufRead;
    let mut child = Command::new(RSETKEY)
        .args(args)
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rsetkey");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    assert!(!line.is_empty(), "no output");
    // the reader is dropped here: the pipe is closed
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `n` distinct `spdadd` statements, one per line: a script whose dumps
/// and `-n -v` output are large enough to overrun a pipe.
fn many_policies(n: u32) -> String {
    (0..n)
        .map(|i| {
            format!(
                "spdadd 10.0.{}.{}/32 10.9.0.1 any -P out none;\n",
                i / 256,
                i % 256
            )
        })
        .collect()
}

/// A closed pipe stops rsetkey quietly with SIGPIPE's status, 141: no
/// panic (`-n -v`), no `write: Broken pipe` (dumps).
#[test]
fn a_closed_pipe_ends_the_run_quietly_with_status_141() {
    let big = many_policies(20_000);
    let big = script("big.conf", &big);
    let (status, stderr) = first_line_only(&["-n", "-v", "-f", &big.to_string_lossy()]);
    assert_eq!((status, stderr.as_str()), (141, ""));

    // raw messages printed as -DP prints them, many times over
    let recorded = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cases/001-tutorial-host-a/DP.raw"),
    )
    .expect("recorded dump");
    let raw = script("big.raw", "");
    std::fs::write(&raw, recorded.repeat(2000)).expect("write");
    let (status, stderr) = first_line_only(&[&raw.to_string_lossy()]);
    assert_eq!((status, stderr.as_str()), (141, ""));
}

/// `--atomic` runs hold /run/rsetkey.lock alone, other runs that change
/// the kernel share it: while it is held alone a plain run waits, says
/// so, and gives up after 10 s (exit status 1, nothing changed); beside a
/// shared holder it runs at once. A dry run never waits.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn runs_that_change_the_kernel_wait_for_an_atomic_run() {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open("/run/rsetkey.lock")
    };
    in_new_netns("true");
    let _alone = one_lock_user_at_a_time();
    let file = open().expect("/run/rsetkey.lock (run as root)");
    let flush = || {
        let started = std::time::Instant::now();
        let out = Command::new("unshare")
            .args(["-n", RSETKEY, "-FP"])
            .output()
            .expect("unshare");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            started.elapsed(),
        )
    };

    let alone = Flock::lock(file, FlockArg::LockExclusive).expect("lock alone");
    let (status, stderr, took) = flush();
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("waiting for another rsetkey run"),
        "{stderr}"
    );
    assert!(stderr.contains("still holds /run/rsetkey.lock"), "{stderr}");
    assert!(took >= std::time::Duration::from_secs(10), "{took:?}");
    // a dry run does not wait
    let conf = script("dry.conf", POLICY);
    let (status, _, stderr) = run(&["-n", "-f", &conf.to_string_lossy()]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    drop(alone);

    let shared = Flock::lock(open().expect("reopen"), FlockArg::LockShared).expect("lock shared");
    let (status, stderr, took) = flush();
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    drop(shared);
}

/// `-n -F`, `-n -FP` flush nothing and `-n -D` asks for no dump, as in
/// setkey (its `-n` returns before anything is sent).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn dry_flushes_and_dumps_send_nothing() {
    let _alone = one_lock_user_at_a_time();
    let conf = script("keep.conf", POLICY);
    let out = in_new_netns(&format!(
        "\"$R\" -f {} && \"$R\" -n -FP && \"$R\" -n -F && \"$R\" -n -DP; echo status=$?; \
         \"$R\" --backend xfrm -DP | head -1",
        conf.display()
    ));
    assert_eq!(out, "status=0\n1.1.1.1[any] 2.2.2.2[any] 255\n");
}

/// `--atomic` whose reader goes away mid-run: the databases are restored
/// (the run did not finish as asked) and the status is SIGPIPE's, 141, as
/// for every other run whose reader goes away.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn an_atomic_run_whose_reader_goes_away_restores_and_exits_141() {
    let _alone = one_lock_user_at_a_time();
    // enough dump text to overrun the pipe after the reader left
    let mut text = many_policies(3000);
    text.push_str("spddump;\n");
    let conf = script("atomic-pipe.conf", &text);
    let out = std::process::Command::new("unshare")
        .args([
            "-n",
            "bash",
            "-c",
            "\"$R\" --backend xfrm --atomic -f \"$1\" 2>err | head -c 100 >/dev/null; \
             echo status=${PIPESTATUS[0]}; \"$R\" --backend xfrm -DP; cat err",
            "bash",
        ])
        .arg(&conf)
        .current_dir(conf.parent().expect("a directory"))
        .env("R", RSETKEY)
        .output()
        .expect("unshare");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.starts_with("status=141\nNo SPD entries.\n"), "{out}");
    assert!(
        out.contains(
            "--atomic: the reader of the output went away; restored the SAD and SPD as they were"
        ),
        "{out}"
    );
}

/// A standard error nobody reads (its pipe closed) loses the messages but
/// is no panic: the exit status is still the run's (1 for a script that
/// does not parse), not a panic's 101.
#[test]
fn a_closed_stderr_is_not_a_panic() {
    let conf = script(
        "closed-stderr.conf",
        "spdadd 10.0.0.1 10.0.0.2 any -P out none;\nfrobnicate;\n",
    );
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let status = Command::new(RSETKEY)
        .args(["-n", "-f"])
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .expect("run rsetkey");
    assert_eq!(status.code(), Some(1));
}
