//! The Ansible rollout of `deploy/ansible`, for real: in one boot of the
//! test kernel, three hosts of a hub-and-spoke (gw with web1 and web2, the
//! addresses of the example inventory) as network namespaces, their scripts
//! rolled out by `ansible-playbook site.yml`, twice (the second run after a
//! flush by hand on one spoke: it repairs that host and changes nothing on
//! the others), then every host's live SAD and SPD compared with its script,
//! pings over every link and only AH over ESP on the wire.  The guest's side
//! is `tests/harness/ansible-rollout`.
//!
//! The scripts come from `rsetkey generate` (and `rsetkey check` must find
//! the ends of every link in agreement) where the binary has that command,
//! else they are written here in the form generate writes (one
//! `#!/usr/sbin/rsetkey -f` script per host, AH+ESP transport mode between
//! the hub and each spoke), so that the test can check the harness with
//! another setkey-compatible binary (`RSETKEY_KERNEL_TOOL`).
//!
//! Needs the test kernel and Ansible: skipped on purpose with
//! `RSETKEY_SKIP_KERNEL_TESTS=1` or `RSETKEY_SKIP_ANSIBLE_TESTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Guest, Kernel, Work, exit_of, give_up, harness, read_text, repo, rsetkey, run_guests,
    test_kernel, write_private,
};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The hub and its spokes: the names and addresses of the example
/// inventory (TEST-NET-1, only ever inside the guest's namespaces).
const HUB: (&str, &str) = ("gw", "192.0.2.1");
const SPOKES: [(&str, &str); 2] = [("web1", "192.0.2.11"), ("web2", "192.0.2.12")];

/// The inventory `rsetkey generate` reads for this topology.
fn generate_inventory() -> String {
    let mut t = String::from(
        "[defaults]\nprotocols = [\"esp\", \"ah\"]\nmode = \"transport\"\n\
         encryption = \"aes-cbc\"\nauthentication = \"hmac-sha256\"\n",
    );
    for (name, addr) in std::iter::once(HUB).chain(SPOKES) {
        writeln!(t, "[[host]]\nname = \"{name}\"\naddresses = [\"{addr}\"]").unwrap();
    }
    let spokes: Vec<String> = SPOKES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    writeln!(
        t,
        "[[link]]\nhub = \"{}\"\nspokes = [{}]",
        HUB.0,
        spokes.join(", ")
    )
    .unwrap();
    t
}

/// A test key of `bytes` bytes, different for every SA: hex digits from a
/// counter, never all alike.
fn test_key(sa: u32, bytes: usize) -> String {
    let mut k = String::from("0x");
    for i in 0..bytes {
        write!(k, "{:02x}", (sa as usize * 37 + i * 11 + 5) % 256).unwrap();
    }
    k
}

/// The scripts `rsetkey generate` would write, by hand: per link AH
/// (hmac-sha256) and ESP (aes-cbc) SAs both ways and the policies
/// requiring ESP inside AH in transport mode, the spoke's mirrored.
fn hand_written_scripts(dir: &Path) {
    const HEAD: &str = "#!/usr/sbin/rsetkey -f\nflush;\nspdflush;\n";
    let (hub, hub_addr) = HUB;
    let mut hub_script = String::from(HEAD);
    for (n, (spoke, addr)) in (1u32..).zip(SPOKES) {
        let spi = |k: u32| 0x1000 * n + k;
        let sas = format!(
            "add {hub_addr} {addr} ah {} -A hmac-sha256 {};\n\
             add {addr} {hub_addr} ah {} -A hmac-sha256 {};\n\
             add {hub_addr} {addr} esp {} -E aes-cbc {};\n\
             add {addr} {hub_addr} esp {} -E aes-cbc {};\n",
            spi(1),
            test_key(spi(1), 32),
            spi(2),
            test_key(spi(2), 32),
            spi(3),
            test_key(spi(3), 16),
            spi(4),
            test_key(spi(4), 16),
        );
        let policies = |from: &str, to: &str| {
            format!(
                "spdadd {from} {to} any -P out ipsec esp/transport//require ah/transport//require;\n\
                 spdadd {to} {from} any -P in ipsec esp/transport//require ah/transport//require;\n"
            )
        };
        write!(
            hub_script,
            "# {hub} <-> {spoke}\n{sas}{}",
            policies(hub_addr, addr)
        )
        .unwrap();
        write_private(
            dir,
            &format!("{spoke}.conf"),
            &format!(
                "{HEAD}# {spoke} <-> {hub}\n{sas}{}",
                policies(addr, hub_addr)
            ),
        );
    }
    write_private(dir, &format!("{hub}.conf"), &hub_script);
}

/// Writes the hosts' scripts into `dir`: with `rsetkey generate` where the
/// binary has that command, by hand otherwise.  Returns which.
fn host_scripts(work: &Path, dir: &Path) -> &'static str {
    let help = Command::new(rsetkey()).arg("--help").output().unwrap();
    if !String::from_utf8_lossy(&help.stdout).contains("generate") {
        hand_written_scripts(dir);
        return "hand-written (this rsetkey has no generate)";
    }
    let inventory = write_private(work, "inventory.toml", &generate_inventory());
    let out = Command::new(rsetkey())
        .arg("generate")
        .arg(&inventory)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rsetkey generate failed: {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // the two ends of every link agree before anything is rolled out
    for (spoke, _) in SPOKES {
        let out = Command::new(rsetkey())
            .arg("check")
            .arg(dir.join(format!("{}.conf", HUB.0)))
            .arg(dir.join(format!("{spoke}.conf")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rsetkey check {} {spoke}: {:?}\n{}{}",
            HUB.0,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    "rsetkey generate (rsetkey check: the ends of every link agree)"
}

/// What differs between two loads of the same script: the lines of times,
/// sequence numbers, policy ids and reference counts go, counters become
/// `*` (the rules of the role's `rsetkey-verify`).
fn normalise(dump: &str) -> String {
    let mut out = String::new();
    for line in dump.lines() {
        if ["\tcreated: ", "\tsadb_seq=", "\tspid=", "\trefcnt="]
            .iter()
            .any(|p| line.starts_with(p))
        {
            continue;
        }
        let line = if let Some(rest) = line.strip_prefix("\tseq=0x") {
            format!("\tseq=*{}", &rest[rest.find(' ').unwrap_or(rest.len())..])
        } else if let Some(rest) = line.strip_prefix("\tdiff: ") {
            format!("\tdiff: *{}", &rest[rest.find('(').unwrap_or(0)..])
        } else if let Some(rest) = line.strip_prefix("\tlast: ") {
            format!(
                "\tlast: *{}",
                &rest[rest.find('\t').unwrap_or(rest.len())..]
            )
        } else if let Some(rest) = line.strip_prefix("\tcurrent: ") {
            format!("\tcurrent: *{}", &rest[rest.find('(').unwrap_or(0)..])
        } else if let Some(rest) = line.strip_prefix("\tallocated: ") {
            format!(
                "\tallocated: *{}",
                &rest[rest.find('\t').unwrap_or(rest.len())..]
            )
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The entries of a dump: the lines that start in column 1.
fn entries(dump: &str) -> usize {
    dump.lines()
        .filter(|l| !l.starts_with(char::is_whitespace) && !l.starts_with("No S"))
        .count()
}

/// The PLAY RECAP counter `what` (`changed`, `failed`, ...) of `host`.
fn recap(play: &str, host: &str, what: &str) -> Option<u32> {
    let recap = &play[play.rfind("PLAY RECAP")?..];
    let line = recap
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{what}=")))
        .and_then(|n| n.parse().ok())
}

/// The key bytes of the scripts as a dump prints them (groups of 8 hex
/// digits): none may appear in what the plays and the checks print.
fn key_groups(scripts: &Path) -> Vec<String> {
    let mut groups = Vec::new();
    for e in std::fs::read_dir(scripts).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || c == ';' || c == '"') {
            if let Some(hex) = word.strip_prefix("0x").filter(|h| h.len() >= 32) {
                groups.push(hex[..8].to_string());
            }
        }
    }
    groups
}

/// Every IP packet on the hub's link to `spoke` is AH over ESP, both
/// directions occur (3 pings each way: at least 6 packets), no plaintext
/// ICMP.
fn check_link_wire(tcpdump: &str, hub: &str, spoke: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (mut out, mut back) = (0, 0);
    for line in tcpdump.lines().filter(|l| l.starts_with("IP ")) {
        if line.starts_with(&format!("IP {hub} > {spoke}: ")) {
            out += 1;
        } else if line.starts_with(&format!("IP {spoke} > {hub}: ")) {
            back += 1;
        } else {
            problems.push(format!("unexpected packet on the link: {line}"));
            continue;
        }
        let body = &line[line.find(": ").unwrap() + 2..];
        if !body.starts_with("AH(spi=") || !body.contains("): ESP(spi=") {
            problems.push(format!("packet is not AH over ESP: {line}"));
        }
        if line.contains("ICMP") {
            problems.push(format!("plaintext ICMP on the link: {line}"));
        }
    }
    if out < 6 || back < 6 {
        problems.push(format!(
            "expected at least 6 packets each way between {hub} and {spoke}, saw {out} and {back}:\n{tcpdump}"
        ));
    }
    problems
}

#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
#[cfg_attr(
    skip_ansible_tests,
    ignore = "RSETKEY_SKIP_ANSIBLE_TESTS=1: no Ansible on purpose"
)]
fn ansible_rolls_out_hub_and_spokes() {
    let test = "ansible_rolls_out_hub_and_spokes";
    let work = Work::new("ansible");
    let scripts = work.dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let source = host_scripts(&work.dir, &scripts);
    let out = work.dir.join("out");
    let slowdown = test_kernel().map_or(1, |k| k.slowdown());

    let mut command = vec![
        "bash".to_string(),
        harness("ansible-rollout").display().to_string(),
        "--tool".into(),
        rsetkey().display().to_string(),
        "--scripts".into(),
        scripts.display().to_string(),
        "--playbook".into(),
        repo().join("deploy").join("ansible").display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--play-timeout".into(),
        (600 * slowdown).to_string(),
        "--hub".into(),
        format!("{}={}", HUB.0, HUB.1),
    ];
    for (name, addr) in SPOKES {
        command.extend(["--spoke".to_string(), format!("{name}={addr}")]);
    }
    let start = Instant::now();
    let guest = Guest {
        // it runs alone, and Ansible forks a Python per host and task: under
        // QEMU it gets every core
        cpus: 2,
        what: "ansible-rollout".into(),
        kernel: Kernel::WithAfKey,
        command,
        timeout: 1500,
    };
    if let Err(e) = run_guests(&[guest]) {
        give_up(test, e);
    }
    let text = |f: &str| read_text(&out.join(f)).unwrap_or_default();
    let timings: Vec<String> = ["play1", "play2"]
        .iter()
        .map(|p| {
            let t = text(&format!("{p}.time"));
            format!("{p} {}s", t.trim())
        })
        .collect();

    let mut problems = Vec::new();
    // the plays: both pass; the second changes only the drifted spoke
    let drifted = SPOKES[SPOKES.len() - 1].0;
    for play in ["play1", "play2"] {
        let log = text(&format!("{play}.txt"));
        if exit_of(&out.join(format!("{play}.exit"))) != Some(0) {
            problems.push(format!("{play}: ansible-playbook failed:\n{log}"));
            continue;
        }
        for (host, _) in std::iter::once(HUB).chain(SPOKES) {
            let changed = recap(&log, host, "changed");
            let want_change = play == "play1" || host == drifted;
            if changed.is_none() || (changed > Some(0)) != want_change {
                problems.push(format!(
                    "{play}: {host} changed={changed:?}, expected {}:\n{log}",
                    if want_change { "> 0" } else { "0" }
                ));
            }
        }
    }
    // the role's check saw the drift, and showed it without keys
    let drift = text("drift.txt");
    if exit_of(&out.join("drift.exit")) != Some(1) || !drift.contains("+No SPD entries.") {
        problems.push(format!(
            "rsetkey-verify after a flush of {drifted}'s SPD should exit 1 and show the \
             missing policies, exit {:?}:\n{drift}",
            exit_of(&out.join("drift.exit"))
        ));
    }
    let printed = text("play1.txt") + &text("play2.txt") + &drift;
    for group in key_groups(&scripts) {
        if printed.contains(&group) {
            problems.push(format!("key bytes {group} printed by a play or the check"));
        }
    }
    // every host: its own /etc/ipsec-tools.conf, and the kernel holds what
    // its script loads (into an empty namespace)
    for (host, _) in std::iter::once(HUB).chain(SPOKES) {
        let conf = text(&format!("{host}-conf.txt"));
        let mut lines = conf.lines();
        let (mode, sum, script_sum) = (lines.next(), lines.next(), lines.next());
        if mode != Some("600 root root")
            || sum.is_none()
            || script_sum.and_then(|s| s.strip_prefix("script: ")) != sum
        {
            problems.push(format!(
                "{host}: /etc/ipsec-tools.conf should be its script, mode 600, root:\n{conf}"
            ));
        }
        let spokes = if host == HUB.0 { SPOKES.len() } else { 1 };
        for (d, per_link) in [("D", 4), ("DP", 3)] {
            let live = text(&format!("{host}-{d}.txt"));
            let expected = text(&format!("{host}-expected-{d}.txt"));
            if entries(&expected) != per_link * spokes {
                problems.push(format!(
                    "{host}: the script loads {} {d} entries into an empty namespace, \
                     expected {}:\n{expected}",
                    entries(&expected),
                    per_link * spokes
                ));
            }
            if normalise(&live) != normalise(&expected) {
                problems.push(format!(
                    "{host}: rsetkey -{d} differs from what its script loads:\n--- live\n{live}\n\
                     --- the script in an empty namespace\n{expected}"
                ));
            }
        }
    }
    // every link: pings both ways, AH over ESP on the wire
    for (spoke, addr) in SPOKES {
        for ping in [
            format!("ping-{}-to-{spoke}", HUB.0),
            format!("ping-{spoke}-to-{}", HUB.0),
        ] {
            if exit_of(&out.join(format!("{ping}.exit"))) != Some(0) {
                problems.push(format!("{ping} failed:\n{}", text(&format!("{ping}.txt"))));
            }
        }
        problems.extend(check_link_wire(
            &text(&format!("tcpdump-{spoke}.txt")),
            HUB.1,
            addr,
        ));
    }
    if out.join("etc-leak.txt").exists() {
        problems.push("the hub's script reached the machine's /etc/ipsec-tools.conf".into());
    }
    // past cargo's capture: what ran and how long it took
    let _ = writeln!(
        std::io::stderr(),
        "{test}: scripts by {source}; {}; whole guest run {:.0}s",
        timings.join(", "),
        start.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{test}:\n{}", problems.join("\n"));
}

#[test]
fn normalisation_keeps_what_a_script_sets() {
    let a = "192.0.2.1 192.0.2.11 \n\tesp mode=transport spi=4099(0x00001003) reqid=0(0x00000000)\n\
             \tE: aes-cbc  00010203\n\tseq=0x00000005 replay=0 flags=0x00000000 state=mature \n\
             \tcreated: Jan  1 00:00:01 2024\tcurrent: Jan  1 00:00:09 2024\n\
             \tdiff: 8(s)\thard: 30(s)\tsoft: 20(s)\n\
             \tlast: Jan  1 00:00:05 2024\thard: 0(s)\tsoft: 0(s)\n\
             \tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n\
             \tallocated: 6\thard: 0\tsoft: 0\n\tsadb_seq=1 pid=7 refcnt=0\n";
    let b = a
        .replace("0x00000005", "0x00000000")
        .replace("00:00:09", "00:00:01")
        .replace("diff: 8", "diff: 0")
        .replace("last: Jan  1 00:00:05 2024", "last:                     ")
        .replace("528(bytes)", "0(bytes)")
        .replace("allocated: 6", "allocated: 0")
        .replace("pid=7", "pid=9");
    assert_eq!(normalise(a), normalise(&b));
    // lifetimes and keys are what the script set: they count
    assert_ne!(
        normalise(a),
        normalise(&a.replace("hard: 30(s)", "hard: 31(s)"))
    );
    assert_ne!(normalise(a), normalise(&a.replace("00010203", "00010204")));
    assert_eq!(entries(a), 1);
    assert_eq!(entries("No SAD entries.\n"), 0);
}

#[test]
fn recap_reads_the_counters() {
    let play = "PLAY RECAP ****\n\
                gw                         : ok=5    changed=2    unreachable=0    failed=0\n\
                web1                       : ok=5    changed=0    unreachable=0    failed=0\n";
    assert_eq!(recap(play, "gw", "changed"), Some(2));
    assert_eq!(recap(play, "web1", "changed"), Some(0));
    assert_eq!(recap(play, "web2", "changed"), None);
}

#[test]
fn hand_written_scripts_parse() {
    let work = Work::new("ansible-scripts");
    hand_written_scripts(&work.dir);
    for host in ["gw", "web1", "web2"] {
        let out = Command::new(rsetkey())
            .args(["-n", "-f"])
            .arg(work.dir.join(format!("{host}.conf")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{host}.conf: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
