//! The commands for many hosts, end to end: `rsetkey check`, `rsetkey
//! mirror` and `rsetkey generate` as a user runs them; on the test kernel,
//! the mirror of the tutorial's host A and two generated scripts carrying
//! traffic.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    Guest, Kernel, Work, cases_dir, check_tutorial_wire, give_up, repo, run_guests, wire_command,
    write_private,
};
use rsetkey::fleet::Script;
use rsetkey::ir::{Keys, Operation};
use zeroize::Zeroizing;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsetkey"))
}

fn tutorial_a() -> PathBuf {
    repo().join("grammar/examples/tutorial-host-a.conf")
}

fn tutorial_b() -> PathBuf {
    cases_dir().join("002-tutorial-host-b/script.conf")
}

/// Runs rsetkey; (exit status, stdout, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(a: &Path, b: &Path, json: bool) -> (i32, String, String) {
    let mut args = vec!["check".as_ref(), a.as_os_str(), b.as_os_str()];
    if json {
        args.push("--json".as_ref());
    }
    run(&args)
}

/// A script's operations as canonical lines (keys shown), sorted: equal
/// sets mean the same script up to statement order.
fn canonical(name: &str, text: &str) -> Vec<String> {
    let script = Script::parse(name, Zeroizing::new(text.to_string())).unwrap();
    let ops: Vec<Operation> = script.operations().map(|(op, _)| op.clone()).collect();
    let mut lines: Vec<String> = rsetkey::ir::print::script(&ops, Keys::Show)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn check_accepts_the_tutorials_two_scripts() {
    let (status, out, err) = check(&tutorial_a(), &tutorial_b(), false);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("agree: 4 SAs, 2 and 2 policies"), "{out}");
    // and the traffic case's two hosts, either way round
    let case = cases_dir().join("069-traffic-tutorial");
    for (a, b) in [("script.conf", "peer.conf"), ("peer.conf", "script.conf")] {
        let (status, out, err) = check(&case.join(a), &case.join(b), false);
        assert_eq!(status, 0, "{a} {b}: {out}{err}");
    }
}

/// One mistake each, in host B's script; `check` names its kind, points at
/// both scripts where there is a counterpart, and never prints a key.
#[test]
fn check_catches_each_kind_of_mismatch() {
    let b = fs::read_to_string(tutorial_b()).unwrap();
    let work = Work::new("fleet-check");
    type Edit = fn(&str) -> String;
    let cases: [(&str, Edit, &str, usize); 6] = [
        (
            "swapped-addresses",
            |b| {
                b.replacen(
                    "add 202.141.176.2 202.141.176.3 esp 15701",
                    "add 202.141.176.3 202.141.176.2 esp 15701",
                    1,
                )
            },
            "sa_differs",
            2,
        ),
        (
            "wrong-spi",
            |b| b.replacen("ah 24500", "ah 24509", 1),
            "sa_differs",
            2,
        ),
        (
            "wrong-key",
            |b| {
                b.replacen(
                    "\"123456789012123456789012\"",
                    "\"123456789012123456789013\"",
                    1,
                )
            },
            "sa_differs",
            2,
        ),
        (
            "missing-mirror-policy",
            |b| {
                let cut = b.find("spdadd 202.141.176.2 202.141.176.3").unwrap();
                b[..cut].to_string()
            },
            "policy_missing",
            1,
        ),
        (
            "copied-not-mirrored",
            |b| {
                b.replace("-P out", "-P tmp")
                    .replace("-P in", "-P out")
                    .replace("-P tmp", "-P in")
            },
            "policy_missing",
            2,
        ),
        (
            "unsatisfied-require",
            |b| {
                b.lines()
                    .filter(|l| !l.contains("esp 24501"))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
            "require_unsatisfied",
            2,
        ),
    ];
    for (name, edit, kind, places) in cases {
        let path = write_private(&work.dir, &format!("{name}.conf"), &edit(&b));
        let (status, out, err) = check(&tutorial_a(), &path, true);
        assert_eq!(status, 1, "{name}: {out}{err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["agree"], false, "{name}");
        let mismatches = report["mismatches"].as_array().unwrap();
        let found = mismatches
            .iter()
            .find(|m| m["kind"] == kind)
            .unwrap_or_else(|| panic!("{name}: no {kind} in {out}"));
        let at = found["places"].as_array().unwrap();
        assert_eq!(at.len(), places, "{name}: {found}");
        let files: BTreeSet<&str> = at.iter().map(|p| p["file"].as_str().unwrap()).collect();
        if places == 2 {
            assert_eq!(files.len(), 2, "{name}: both scripts: {found}");
        }
        for p in at {
            assert!(p["line"].as_u64().unwrap() >= 1, "{name}: {p}");
            assert!(p["column"].as_u64().unwrap() >= 1, "{name}: {p}");
        }
        // the human form: a diagnostic per mismatch, file:line:col on each
        // side, keys masked
        let (status, out, err) = check(&tutorial_a(), &path, false);
        assert_eq!(status, 1, "{name}");
        assert!(out.is_empty(), "{name}: {out}");
        assert!(err.contains("disagree"), "{name}: {err}");
        for p in at {
            let place = format!(
                "{}:{}:{}",
                p["file"].as_str().unwrap(),
                p["line"],
                p["column"]
            );
            assert!(err.contains(&place), "{name}: {place} missing in:\n{err}");
        }
        for secret in ["1234567890123456", "123456789012123456789013"] {
            assert!(!err.contains(secret), "{name}: a key in:\n{err}");
            assert!(!out.contains(secret), "{name}: a key in:\n{out}");
        }
    }
}

#[test]
fn check_refuses_scripts_with_nothing_in_common() {
    let (status, _, err) = check(
        &tutorial_a(),
        &cases_dir().join("069-traffic-tutorial/script.conf"),
        false,
    );
    assert_eq!(status, 1);
    assert!(err.contains("are they peers?"), "{err}");
}

#[test]
fn mirror_of_host_a_is_host_b_up_to_order() {
    let a = tutorial_a();
    let (status, out, err) = run(&[
        "mirror".as_ref(),
        a.as_os_str(),
        "--local".as_ref(),
        "202.141.176.2".as_ref(),
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(out.starts_with("#!/usr/sbin/rsetkey -f\n"), "{out}");
    let b = fs::read_to_string(tutorial_b()).unwrap();
    assert_eq!(canonical("mirror", &out), canonical("b", &b));
    // check accepts the mirror against its input
    let work = Work::new("fleet-mirror");
    let peer = write_private(&work.dir, "peer.conf", &out);
    let (status, out, err) = check(&a, &peer, false);
    assert_eq!(status, 0, "{out}{err}");
    // the wrong host's address is refused
    let (status, _, err) = run(&[
        "mirror".as_ref(),
        a.as_os_str(),
        "--local".as_ref(),
        "202.141.176.3".as_ref(),
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("is 202.141.176.3 the address"), "{err}");
}

/// The SPIs of the SAs in `dir/host.conf`, by (source, destination, protocol).
fn spis(dir: &Path, host: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(dir.join(format!("{host}.conf"))).unwrap();
    text.lines()
        .filter(|l| l.starts_with("add "))
        .map(|l| l.split(' ').take(5).collect::<Vec<_>>().join(" "))
        .collect()
}

fn generate(inventory: &Path, dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "generate".as_ref(),
        inventory.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run(&args)
}

#[test]
fn generate_writes_private_scripts_that_pass_check_pairwise() {
    let inventory = repo().join("deploy/inventory.example.toml");
    let work = Work::new("fleet-generate");
    let dir = work.dir.join("scripts");
    let (status, out, err) = generate(&inventory, &dir, &[]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(err.is_empty(), "{err}");
    for host in ["gw", "web1", "web2"] {
        let path = dir.join(format!("{host}.conf"));
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "{host}");
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("#!/usr/sbin/rsetkey -f\nflush;\nspdflush;\n"),
            "{host}: {text}"
        );
        // it loads: rsetkey -n checks it as -f would
        let (status, out, err) = run(&["-n".as_ref(), "-f".as_ref(), path.as_os_str()]);
        assert_eq!(status, 0, "{host}: {out}{err}");
    }
    for (a, b) in [("gw", "web1"), ("gw", "web2"), ("web1", "web2")] {
        let (status, out, err) = check(
            &dir.join(format!("{a}.conf")),
            &dir.join(format!("{b}.conf")),
            false,
        );
        assert_eq!(status, 0, "{a} {b}: {out}{err}");
        assert!(out.contains("agree: 4 SAs, 2 and 2 policies"), "{out}");
    }
    // SPIs unique across the inventory
    let all: Vec<String> = ["gw", "web1", "web2"]
        .iter()
        .flat_map(|h| spis(&dir, h))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(all.len(), 12, "{all:?}");
}

#[test]
fn generate_is_deterministic_with_a_seed_and_says_so() {
    let inventory = repo().join("deploy/inventory.example.toml");
    let work = Work::new("fleet-seed");
    let (one, two) = (work.dir.join("one"), work.dir.join("two"));
    for dir in [&one, &two] {
        let (status, _, err) = generate(&inventory, dir, &["--seed", "42"]);
        assert_eq!(status, 0, "{err}");
        assert!(err.contains("WARNING: --seed 42"), "{err}");
        assert!(err.contains("for tests only"), "{err}");
    }
    for host in ["gw", "web1", "web2"] {
        let file = format!("{host}.conf");
        assert_eq!(
            fs::read(one.join(&file)).unwrap(),
            fs::read(two.join(&file)).unwrap(),
            "{host}"
        );
    }
}

#[test]
fn rekey_keeps_the_spis_and_draws_new_keys() {
    let inventory = repo().join("deploy/inventory.example.toml");
    let work = Work::new("fleet-rekey");
    let dir = work.dir.join("scripts");
    let (status, _, err) = generate(&inventory, &dir, &["--seed", "1"]);
    assert_eq!(status, 0, "{err}");
    let before = fs::read_to_string(dir.join("gw.conf")).unwrap();
    let spis_before = spis(&dir, "gw");
    let (status, _, err) = generate(&inventory, &dir, &["--rekey"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(spis(&dir, "gw"), spis_before);
    assert_ne!(fs::read_to_string(dir.join("gw.conf")).unwrap(), before);
    let (status, out, err) = check(&dir.join("gw.conf"), &dir.join("web2.conf"), false);
    assert_eq!(status, 0, "{out}{err}");
    // unless asked
    let (status, _, err) = generate(&inventory, &dir, &["--rekey", "--new-spis"]);
    assert_eq!(status, 0, "{err}");
    assert!(spis(&dir, "gw").is_disjoint(&spis_before));
}

#[test]
fn generate_names_what_is_wrong_with_an_inventory() {
    let work = Work::new("fleet-bad-inventory");
    let inventory = write_private(
        &work.dir,
        "bad.toml",
        "[[host]]\nname = \"gw\"\naddresses = [\"192.0.2.1\"]\n\
         [[link]]\npair = [\"gw\", \"db\"]\n",
    );
    let (status, _, err) = generate(&inventory, &work.dir.join("out"), &[]);
    assert_eq!(status, 1);
    assert!(err.contains("\"db\", which is no host"), "{err}");
    assert!(!work.dir.join("out").exists());
}

/// Started as `setkey`, `check` is a FILE of raw PF_KEY messages, as in
/// setkey; and under rsetkey only the first argument can be a command.
#[test]
fn commands_are_first_arguments_of_rsetkey_only() {
    let work = Work::new("fleet-names");
    let setkey = work.dir.join("setkey");
    std::os::unix::fs::symlink(bin(), &setkey).unwrap();
    let out = Command::new(&setkey)
        .current_dir(&work.dir)
        .args(["check", "a", "b"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.starts_with("setkey: check: "), "{err}");
    let (status, _, err) = run(&["-D".as_ref(), "check".as_ref()]);
    assert_eq!(status, 1);
    assert!(err.contains("check: "), "{err}");
    assert!(!err.contains("agree"), "{err}");
}

/// The mirror of the tutorial's host A, loaded on host B while host A runs
/// A's script, in two network namespaces of the test kernel: pings both
/// ways go through AH over ESP, as the tutorial's own host B script does
/// (`tests/kernel.rs`, `tutorial_traffic`).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn mirror_of_the_tutorial_carries_traffic() {
    let test = "mirror_of_the_tutorial_carries_traffic";
    let work = Work::new("fleet-wire");
    let recorded = cases_dir().join("069-traffic-tutorial");
    let case = work.dir.join("case");
    fs::create_dir_all(&case).unwrap();
    fs::copy(recorded.join("traffic"), case.join("traffic")).unwrap();
    let a = fs::read_to_string(recorded.join("script.conf")).unwrap();
    write_private(&case, "script.conf", &a);
    let (status, peer, err) = run(&[
        "mirror".as_ref(),
        case.join("script.conf").as_os_str(),
        "--local".as_ref(),
        "10.141.176.2".as_ref(),
    ]);
    assert_eq!(status, 0, "{err}");
    write_private(&case, "peer.conf", &peer);
    let wire = work.dir.join("wire");
    let guest = Guest {
        cpus: 1,
        what: "mirror on the wire".into(),
        kernel: Kernel::WithAfKey,
        command: wire_command(&bin(), &wire, &case),
        timeout: 300,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let problems = check_tutorial_wire(&wire, &bin());
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The SPI of the SA from `src` to `dst` of protocol `proto` in a script.
fn spi_of(script: &str, src: &str, dst: &str, proto: &str) -> String {
    let head = format!("add {src} {dst} {proto} 0x");
    let line = script
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no {head} in:\n{script}"));
    line[head.len()..head.len() + 8].to_string()
}

/// Two hosts' scripts made by `generate` (ESP inside AH, AES-CBC and
/// HMAC-SHA-256, keys from a seed), loaded as `#!rsetkey -f` executables
/// in two network namespaces of the test kernel: pings both ways succeed,
/// and every packet on the link is AH over ESP with the generated SPIs.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn generated_scripts_carry_traffic() {
    let test = "generated_scripts_carry_traffic";
    let work = Work::new("fleet-generated-wire");
    let inventory = write_private(
        &work.dir,
        "inventory.toml",
        "[defaults]\nprotocols = [\"esp\", \"ah\"]\n\
         [[host]]\nname = \"a\"\naddresses = [\"10.141.176.2\"]\n\
         [[host]]\nname = \"b\"\naddresses = [\"10.141.176.3\"]\n\
         [[link]]\npair = [\"a\", \"b\"]\n",
    );
    let scripts = work.dir.join("scripts");
    let (status, _, err) = generate(&inventory, &scripts, &["--seed", "3"]);
    assert_eq!(status, 0, "{err}");
    let case = work.dir.join("case");
    fs::create_dir_all(&case).unwrap();
    fs::copy(
        cases_dir().join("069-traffic-tutorial/traffic"),
        case.join("traffic"),
    )
    .unwrap();
    let a = fs::read_to_string(scripts.join("a.conf")).unwrap();
    write_private(&case, "script.conf", &a);
    let b = fs::read_to_string(scripts.join("b.conf")).unwrap();
    write_private(&case, "peer.conf", &b);
    let wire = work.dir.join("wire");
    let guest = Guest {
        cpus: 1,
        what: "generated scripts on the wire".into(),
        kernel: Kernel::WithAfKey,
        command: wire_command(&bin(), &wire, &case),
        timeout: 300,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let text = |f: &str| fs::read_to_string(wire.join(f)).unwrap_or_default();
    let mut problems = Vec::new();
    for f in [
        "host-a.exit",
        "host-b.exit",
        "ping-a-to-b.exit",
        "ping-b-to-a.exit",
    ] {
        if text(f).trim() != "0" {
            problems.push(format!(
                "{f}: {}\n{}{}",
                text(f),
                text("host-a.stderr"),
                text("host-b.stderr")
            ));
        }
    }
    let (x, y) = ("10.141.176.2", "10.141.176.3");
    let mut seen = [0usize; 2];
    for line in text("tcpdump.txt").lines().filter(|l| l.starts_with("IP ")) {
        let (n, src, dst) = if line.starts_with(&format!("IP {x} > {y}: ")) {
            (0, x, y)
        } else if line.starts_with(&format!("IP {y} > {x}: ")) {
            (1, y, x)
        } else {
            problems.push(format!("unexpected packet on the link: {line}"));
            continue;
        };
        let ah = format!("AH(spi=0x{},", spi_of(&a, src, dst, "ah"));
        let esp = format!("): ESP(spi=0x{},", spi_of(&a, src, dst, "esp"));
        let body = &line[line.find(": ").unwrap() + 2..];
        if !body.starts_with(&ah) || !body.contains(&esp) || line.contains("ICMP") {
            problems.push(format!("not {ah}..{esp}..: {line}"));
        }
        seen[n] += 1;
    }
    if seen.iter().any(|&n| n < 6) {
        problems.push(format!(
            "expected at least 6 packets each way, saw {seen:?}:\n{}",
            text("tcpdump.txt")
        ));
    }
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The inventory the README shows is one `generate` takes.
#[test]
fn the_readmes_inventory_generates() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let section = &readme[readme.find("## Many hosts").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let work = Work::new("fleet-readme");
    let inventory = write_private(&work.dir, "inventory.toml", block);
    let dir = work.dir.join("scripts");
    let (status, out, err) = generate(&inventory, &dir, &["--seed", "5"]);
    assert_eq!(status, 0, "{out}{err}");
    let (status, out, err) = check(&dir.join("gw.conf"), &dir.join("web2.conf"), false);
    assert_eq!(status, 0, "{out}{err}");
}
