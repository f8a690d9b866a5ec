//! The installed face of rsetkey: `--help` and `--version`, the man page and
//! the completions generated from the flag table (and committed under
//! `deploy/`, checked here for drift), the Debian package's file list, and
//! the service's start, reload and stop commands run in the test kernel
//! against the tutorial's host A.
//!
//! The package check reads the .deb that `cargo deb` left in
//! `target/debian/` (CI builds it before the tests); the man page check
//! needs `man` (man-db). Without them these checks say so and pass, except
//! under CI (`CI=true`), where they fail.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../examples/gen-docs.rs"]
mod gen_docs;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Guest, Kernel, Work, give_up, repo, rsetkey, run_guests, sh_quote};

/// Every option of the flag table, as a user types it (`-f`, `--atomic`).
fn options() -> Vec<String> {
    let command = rsetkey::cli::command();
    let mut options = Vec::new();
    for arg in command.get_arguments() {
        if let Some(short) = arg.get_short() {
            options.push(format!("-{short}"));
        }
        if let Some(long) = arg.get_long() {
            options.push(format!("--{long}"));
        }
    }
    assert!(options.len() > 20, "{options:?}");
    options
}

/// Whether `text` holds `option` as a word of its own (not `-D` inside
/// `-DP`, not `--help` inside `--helpful`).
fn mentions(text: &str, option: &str) -> bool {
    text.match_indices(option).any(|(at, _)| {
        let after = text[at + option.len()..].chars().next();
        let before = text[..at].chars().next_back();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// Whether a check that needs a tool may be left out here: yes, saying
/// so, outside CI; no under CI.
fn may_skip(what: &str) -> bool {
    if common::env_flag("CI") {
        panic!("{what} (CI must run this check)");
    }
    eprintln!("packaging test: {what}: check left out");
    true
}

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("run a command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_option_and_exits_0() {
    let (status, help, stderr) = run(Command::new(rsetkey()).arg("--help"));
    assert_eq!((status, stderr.as_str()), (0, ""), "{help}");
    for option in options() {
        assert!(mentions(&help, &option), "--help lacks {option}:\n{help}");
    }
    for heading in [
        "Modes:",
        "Dump options:",
        "Script options:",
        "Tracing:",
        "Warnings:",
    ] {
        assert!(help.contains(heading), "--help lacks {heading}\n{help}");
    }
}

#[test]
fn version_says_name_and_version_and_exits_0() {
    let (status, stdout, _) = run(Command::new(rsetkey()).arg("--version"));
    assert_eq!(status, 0);
    assert_eq!(stdout, format!("rsetkey {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn short_usage_lists_every_long_option() {
    let (status, usage, _) = run(Command::new(rsetkey()).arg("-h"));
    assert_eq!(status, 1);
    for option in options().iter().filter(|o| o.starts_with("--")) {
        assert!(mentions(&usage, option), "-h lacks {option}:\n{usage}");
    }
}

/// Started as `setkey` (a symbolic link), it prints `setkey` where setkey
/// prints its name.
#[test]
fn the_setkey_name_is_the_name_printed() {
    let work = Work::new("setkey-name");
    let link = work.dir.join("setkey");
    std::os::unix::fs::symlink(rsetkey(), &link).unwrap();
    let (status, usage, _) = run(Command::new(&link).arg("-h"));
    assert_eq!(status, 1);
    assert!(usage.contains("usage: setkey [-vrk] file ..."), "{usage}");
    // setkey's usage exactly: its seven lines, none of rsetkey's long options
    assert!(usage.ends_with("       setkey [-V] [-h]\n"), "{usage}");
    assert!(!usage.contains("--"), "{usage}");
    let (status, _, stderr) = run(Command::new(&link).arg("-Dz"));
    assert_eq!(
        (status, stderr.as_str()),
        (1, "setkey: invalid option -- 'z'\n")
    );
}

/// The committed man page and completions are what the flag table makes
/// today (`cargo run --example gen-docs` refreshes them).
#[test]
fn generated_files_have_not_drifted() {
    let work = Work::new("gen-docs");
    gen_docs::generate(&work.dir).unwrap();
    let deploy = repo().join("deploy");
    let mut drifted = Vec::new();
    for file in gen_docs::GENERATED {
        let fresh = fs::read(work.dir.join(file)).unwrap();
        if fs::read(deploy.join(file)).ok().as_ref() != Some(&fresh) {
            drifted.push(file);
        }
    }
    assert!(
        drifted.is_empty(),
        "deploy/{drifted:?} differ from what the flag table makes: run `cargo run --example gen-docs`"
    );
}

#[test]
fn man_page_and_completions_name_every_option() {
    let page = fs::read_to_string(repo().join("deploy/man/rsetkey.8")).unwrap();
    // roff writes a minus as `\-` and fonts as `\fB` ... `\fR`
    let page = ["\\fB", "\\fI", "\\fR"]
        .iter()
        .fold(page.replace("\\-", "-"), |page, font| {
            page.replace(font, " ")
        });
    let bash = fs::read_to_string(repo().join("deploy/completions/rsetkey.bash")).unwrap();
    let zsh = fs::read_to_string(repo().join("deploy/completions/_rsetkey")).unwrap();
    let fish = fs::read_to_string(repo().join("deploy/completions/rsetkey.fish")).unwrap();
    for option in options() {
        assert!(mentions(&page, &option), "the man page lacks {option}");
        assert!(
            mentions(&bash, &option),
            "the bash completion lacks {option}"
        );
        assert!(mentions(&zsh, &option), "the zsh completion lacks {option}");
        // fish spells them `-s f` / `-l atomic`
        let fish_form = match option.strip_prefix("--") {
            Some(long) => format!("-l {long}"),
            None => format!("-s {}", &option[1..]),
        };
        assert!(
            fish.contains(&fish_form),
            "the fish completion lacks {option}"
        );
    }
}

#[test]
fn man_page_renders_without_warnings() {
    let page = repo().join("deploy/man/rsetkey.8");
    if Command::new("man").arg("--version").output().is_err() {
        may_skip("no `man` (apt-get install man-db groff-base)");
        return;
    }
    let (status, text, warnings) = run(Command::new("man")
        .args(["-l", "--warnings", "-P", "cat"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8"));
    assert_eq!((status, warnings.as_str()), (0, ""), "man -l rsetkey.8");
    for section in [
        "NAME",
        "SYNOPSIS",
        "SCRIPT DIALECT",
        "BACKENDS",
        "ALL OR NOTHING",
        "DIFFERENCES FROM SETKEY",
        "THE SETKEY NAME",
        "FILES",
        "EXIT STATUS",
    ] {
        assert!(
            text.contains(&format!("\n{section}\n")),
            "no {section}:\n{text}"
        );
    }
}

/// The .deb `cargo deb` built: what it installs, where.
fn deb() -> Option<PathBuf> {
    let name = format!("rsetkey_{}-1_amd64.deb", env!("CARGO_PKG_VERSION"));
    let path = repo().join("target/debian").join(name);
    path.exists().then_some(path)
}

#[test]
fn deb_installs_the_expected_files() {
    let Some(deb) = deb() else {
        may_skip("no target/debian/*.deb (run `cargo deb`)");
        return;
    };
    let (status, listing, stderr) = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    assert_eq!(status, 0, "{stderr}");
    let mut files: Vec<(String, String)> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| {
            let mode = l.split_whitespace().next()?.to_string();
            let path = l
                .split_whitespace()
                .last()?
                .trim_start_matches('.')
                .to_string();
            Some((path, mode))
        })
        .collect();
    files.sort();
    let expected = [
        ("/etc/default/rsetkey", "-rw-r--r--"),
        ("/etc/ipsec-tools.conf", "-rw-------"),
        ("/usr/lib/systemd/system/rsetkey.service", "-rw-r--r--"),
        ("/usr/libexec/rsetkey/rsetkey-apply", "-rwxr-xr-x"),
        ("/usr/sbin/rsetkey", "-rwxr-xr-x"),
        (
            "/usr/share/bash-completion/completions/rsetkey",
            "-rw-r--r--",
        ),
        ("/usr/share/doc/rsetkey/README.md", "-rw-r--r--"),
        ("/usr/share/doc/rsetkey/changelog.Debian.gz", "-rw-r--r--"),
        ("/usr/share/doc/rsetkey/copyright", "-rw-r--r--"),
        (
            "/usr/share/fish/vendor_completions.d/rsetkey.fish",
            "-rw-r--r--",
        ),
        ("/usr/share/man/man8/rsetkey.8.gz", "-rw-r--r--"),
        ("/usr/share/zsh/vendor-completions/_rsetkey", "-rw-r--r--"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(files, expected, "dpkg-deb -c {}", deb.display());
    // the package takes no setkey name; the conffiles are declared
    assert!(!listing.contains("setkey "), "{listing}");
    let (_, conffiles, _) = run(Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles"));
    assert_eq!(conffiles, "/etc/ipsec-tools.conf\n/etc/default/rsetkey\n");
}

#[test]
fn example_configuration_checks() {
    let conf = fs::read_to_string(repo().join("deploy/ipsec-tools.conf")).unwrap();
    assert!(conf.starts_with("#!/usr/sbin/rsetkey -f\n"));
    // the commented statements, uncommented, make a valid script
    let statements: String = conf
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter(|l| !l.starts_with('#') && !l.starts_with('!') && !l.starts_with(' '))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(statements.contains("spdadd"), "{statements}");
    let work = Work::new("example-conf");
    let script = common::write_private(&work.dir, "ipsec-tools.conf", &statements);
    let (status, _, stderr) = run(Command::new(rsetkey()).arg("-n").arg("-f").arg(&script));
    assert_eq!((status, stderr.as_str()), (0, ""), "{statements}");
}

/// The unit's Exec lines of `kind` (`ExecStart`, ...), the commands the
/// package installs replaced by this checkout's.
fn unit_commands(kind: &str) -> Vec<String> {
    let unit = fs::read_to_string(repo().join("deploy/debian/rsetkey.service")).unwrap();
    let commands: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix(kind)?.strip_prefix('='))
        .map(|c| {
            c.replace("/usr/sbin/rsetkey", &sh_quote(rsetkey()))
                .replace(
                    "/usr/libexec/rsetkey/rsetkey-apply",
                    &sh_quote(repo().join("deploy/rsetkey-apply")),
                )
        })
        .collect();
    assert!(!commands.is_empty(), "the unit has no {kind}");
    commands
}

/// A dump without what differs between runs: times, pids, counters.
fn stable_lines(dump: &str) -> String {
    dump.lines()
        .filter(|l| {
            !["created:", "lastused:", "pid=", "refcnt=", "diff:"]
                .iter()
                .any(|v| l.contains(v))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The service's ExecStart, ExecReload and ExecStop lines, with the options
/// of /etc/default/rsetkey, against the tutorial's host A as
/// /etc/ipsec-tools.conf: after start (and after a reload) `-D` and `-DP`
/// show the tutorial's SAs and policies as recorded, after stop nothing.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn service_start_reload_stop_in_the_test_kernel() {
    let test = "service_start_reload_stop_in_the_test_kernel";
    let work = Work::new("service");
    let host_a = fs::read_to_string(repo().join("grammar/examples/tutorial-host-a.conf")).unwrap();
    let conf = common::write_private(&work.dir, "ipsec-tools.conf", &host_a);
    let conf_dir = work.dir.join("ipsec-tools.d");
    fs::create_dir(&conf_dir).unwrap();
    let out = work.dir.join("out");
    fs::create_dir(&out).unwrap();
    let dump = |name: &str| {
        format!(
            "{r} -D >{d}/{name}.D; {r} -DP >{d}/{name}.DP",
            r = sh_quote(rsetkey()),
            d = sh_quote(&out)
        )
    };
    // each Exec line must succeed, like systemd requires
    let lines = |kind: &str| {
        unit_commands(kind)
            .iter()
            .map(|c| format!("{c} || {{ echo '{kind} failed: {c}' >&2; exit 1; }}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let script = format!(
        "set -e\n\
         set -a; . {default}; set +a\n\
         export RSETKEY={tool} RSETKEY_CONF={conf} RSETKEY_CONF_DIR={conf_dir}\n\
         {start}\n{dump_start}\n\
         {reload}\n{dump_reload}\n\
         {stop}\n{dump_stop}\n",
        default = sh_quote(repo().join("deploy/default")),
        tool = sh_quote(rsetkey()),
        conf = sh_quote(&conf),
        conf_dir = sh_quote(&conf_dir),
        start = lines("ExecStart"),
        reload = lines("ExecReload"),
        stop = lines("ExecStop"),
        dump_start = dump("start"),
        dump_reload = dump("reload"),
        dump_stop = dump("stop"),
    );
    let guest = Guest {
        cpus: 1,
        what: "service commands".into(),
        kernel: Kernel::WithAfKey,
        command: vec!["bash".into(), "-c".into(), script],
        timeout: 120,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let recorded = repo().join("fixtures/cases/001-tutorial-host-a");
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    for after in ["start", "reload"] {
        for (dump, recording) in [("D", "D.txt"), ("DP", "DP.txt")] {
            let got = read(&out.join(format!("{after}.{dump}")));
            let want = read(&recorded.join(recording));
            assert!(!want.is_empty(), "no recording {recording}");
            assert_eq!(
                stable_lines(&got),
                stable_lines(&want),
                "-{dump} after {after}: {got}"
            );
        }
    }
    assert_eq!(read(&out.join("stop.D")), "No SAD entries.\n");
    assert_eq!(read(&out.join("stop.DP")), "No SPD entries.\n");
}
