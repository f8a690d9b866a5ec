//! The Ansible rollout of `deploy/ansible`, checked without running it:
//! `ansible-playbook --syntax-check` on the playbook with the example
//! inventory, `ansible-lint` (production profile) on the folder, and `sh -n`
//! on the role's verification script.  `tests/ansible_kernel.rs` runs the
//! playbook for real, in the test kernel.
//!
//! The tools come from Debian's packages `ansible` and `ansible-lint`
//! (`.ci/run` installs them).  Where they are missing these tests fail and
//! say so; `RSETKEY_SKIP_ANSIBLE_TESTS=1` at build time skips them on
//! purpose (cargo counts them as ignored).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn ansible_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join("ansible")
}

/// Runs `program args` in `deploy/ansible`, failing the test with a clear
/// message when the program is not installed.
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(ansible_dir())
        // no colours in the messages a failure shows; Ansible refuses to
        // start without a UTF-8 locale
        .env("NO_COLOR", "1")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): the tests of deploy/ansible need Debian's \
                 packages ansible and ansible-lint (apt-get install ansible ansible-lint; \
                 .ci/run installs them). To skip these tests on purpose, build the tests \
                 with RSETKEY_SKIP_ANSIBLE_TESTS=1: cargo then counts them as ignored."
            )
        });
    let text = format!(
        "{program} {}: exit status {:?}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
    out
}

#[test]
#[cfg_attr(
    skip_ansible_tests,
    ignore = "RSETKEY_SKIP_ANSIBLE_TESTS=1: no Ansible on purpose"
)]
fn playbook_syntax_check() {
    run(
        "ansible-playbook",
        &["--syntax-check", "-i", "inventory.example.yml", "site.yml"],
    );
}

#[test]
#[cfg_attr(
    skip_ansible_tests,
    ignore = "RSETKEY_SKIP_ANSIBLE_TESTS=1: no Ansible on purpose"
)]
fn ansible_lint_passes() {
    // --offline: nothing is fetched (no collections are required)
    let out = run(
        "ansible-lint",
        &["--offline", "--profile", "production", "-p", "."],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    // a lint that found no file to lint would pass too
    assert!(
        text.contains("Passed with production profile") && !text.contains(" on 0 files"),
        "ansible-lint did not report a pass of the production profile:\n{text}"
    );
}

#[test]
fn verification_script_is_posix_sh() {
    let script = ansible_dir().join("roles/rsetkey/files/rsetkey-verify");
    let out = Command::new("sh")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run sh -n");
    assert!(
        out.status.success(),
        "sh -n {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
