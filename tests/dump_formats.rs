//! `--json` and `--as-script` against a real kernel: for every recorded
//! case, in one boot of the test kernel, the case is loaded as recorded,
//! then dumped with `-D` / `-DP` as JSON and as scripts; the kernel is
//! flushed, the scripts are loaded with `-f`, and the dumps must be what
//! they were, apart from what the kernel assigns (time stamps, counters,
//! policy indexes, sequence numbers, pids, reference counts). The JSON
//! must parse and hold one object per entry of the text dump.
//!
//! Like the other kernel tests it fails when no test kernel can run;
//! `RSETKEY_SKIP_KERNEL_TESTS=1` at build time skips it on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    Guest, Kernel, Text, Work, exit_of, give_up, normalize, read_text, rsetkey, run_cases_command,
    run_guests, selected_cases, short_diff,
};

/// Replaces the number after each `prefix` (up to a non-digit) in `line`.
fn blank_number(line: &str, prefix: &str, hex: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        let after = &rest[i + prefix.len()..];
        let n = after
            .bytes()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit() || *b == b'x'
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if n > 0 {
            out.push_str("<N>");
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// A dump without what the kernel assigns when entries are loaded again:
/// the corpus normalisation (time stamps in the first hour, `diff:`,
/// `refcnt=`, `unique#`), plus byte and packet counters (`current:`
/// and `allocated:` before the first tab), sequence numbers, pids and
/// policy indexes.
pub fn kernel_assigned_removed(dump: &str) -> String {
    normalize(dump, Text::Plain)
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            if l.starts_with("\tcurrent: ") && l.contains("(bytes)") {
                l = blank_number(&l, "\tcurrent: ", false);
            }
            // the kernel stamps first use: blank before traffic, set after
            if let Some(rest) = l.strip_prefix("\tlast: ") {
                let tail = rest.find('\t').map_or("", |i| &rest[i..]);
                l = format!("\tlast: <T>{tail}");
            }
            if let Some(i) = l.find("  lastused: ") {
                l = format!("{}  lastused: <T>", &l[..i]);
            }
            if l.starts_with("\tallocated: ") {
                l = blank_number(&l, "\tallocated: ", false);
            }
            for p in ["pid=", "spid=", "refcnt="] {
                l = blank_number(&l, p, false);
            }
            l = blank_number(&l, "\tseq=", true);
            l + "\n"
        })
        .collect()
}

/// Entries of a text dump: SA blocks end in `sadb_seq=`, policy blocks in
/// `spid=`.
fn entries(dump: &str) -> usize {
    dump.lines()
        .filter(|l| l.starts_with("\tsadb_seq=") || l.starts_with("\tspid="))
        .count()
}

/// The problems of one case's round trip.
fn check_case(out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |f: &str| read_text(&out.join(f)).unwrap_or_default();
    if !out.join("rt-DP2.exit").exists() {
        return vec![format!("not run (no rt-DP2.exit) {}", text("runner.log"))];
    }
    for step in [
        "rt-D.json",
        "rt-DP.json",
        "rt-D",
        "rt-DP",
        "rt-F",
        "rt-FP",
        "rt-load-D",
        "rt-load-DP",
        "rt-D2",
        "rt-DP2",
    ] {
        let exit = exit_of(&out.join(format!("{step}.exit")));
        if exit != Some(0) {
            problems.push(format!(
                "{step} exited {exit:?}: {}",
                text(&format!("{step}.stderr"))
            ));
        }
    }
    for load in ["rt-load-D.stdout", "rt-load-DP.stdout"] {
        if !text(load).is_empty() {
            problems.push(format!("{load}: {}", text(load)));
        }
    }
    for (before, after, script) in [
        ("D.txt", "rt-D2.txt", "rt-D.conf"),
        ("DP.txt", "rt-DP2.txt", "rt-DP.conf"),
    ] {
        let want = kernel_assigned_removed(&text(before));
        let got = kernel_assigned_removed(&text(after));
        if want != got {
            problems.push(format!(
                "{after} differs from {before} after the round trip through\n{}{}",
                text(script),
                short_diff(&want, &got, 20)
            ));
        }
    }
    for (json, dump) in [("rt-D.json", "D.txt"), ("rt-DP.json", "DP.txt")] {
        match serde_json::from_str::<serde_json::Value>(&text(json)) {
            Ok(serde_json::Value::Array(a)) => {
                let n = entries(&text(dump));
                if a.len() != n {
                    problems.push(format!(
                        "{json}: {} objects, {dump} has {n} entries",
                        a.len()
                    ));
                }
                if a.iter().any(|o| o["version"] != 1) {
                    problems.push(format!("{json}: an object without version 1"));
                }
            }
            Ok(_) => problems.push(format!("{json} is not an array")),
            Err(e) => problems.push(format!("{json} does not parse: {e}\n{}", text(json))),
        }
    }
    problems
}

#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn as_script_rebuilds_every_case_and_json_parses() {
    let test = "as_script_rebuilds_every_case_and_json_parses";
    let work = Work::new("dump-formats");
    let cases = selected_cases(true);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    let out = work.dir.join("out");
    let mut command = run_cases_command(&rsetkey(), &out, &cases);
    // before `--`: run-cases' option for the round trip after the dumps
    let at = command.iter().position(|w| w == "--").unwrap();
    command.insert(at, "--as-script-roundtrip".to_string());
    let guest = Guest {
        what: "as-script round trip".into(),
        kernel: Kernel::WithAfKey,
        // one boot for all cases; a case takes a few seconds here
        timeout: 120 + 20 * cases.len() as u64,
        command,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let mut failed = Vec::new();
    for c in &cases {
        let problems = check_case(&out.join(c));
        if problems.is_empty() {
            eprintln!("PASS {c}");
        } else {
            eprintln!(
                "FAIL {c}:\n    {}",
                problems.join("\n").replace('\n', "\n    ")
            );
            failed.push(c.clone());
        }
    }
    eprintln!(
        "{test}: {}/{} cases rebuilt from their --as-script dumps",
        cases.len() - failed.len(),
        cases.len()
    );
    assert!(
        failed.is_empty(),
        "{test}: {} case(s) failed: {failed:?}",
        failed.len()
    );
}

#[test]
fn the_comparison_ignores_only_what_the_kernel_assigns() {
    let before = "10.0.0.1 10.0.0.2 \n\tesp mode=transport spi=1(0x00000001) reqid=0(0x00000000)\n\
                  \tseq=0x00000007 replay=0 flags=0x00000000 state=mature \n\
                  \tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n\
                  \tlast: Jan  1 00:00:03 2024\thard: 0(s)\tsoft: 0(s)\n\
                  \tallocated: 6\thard: 0\tsoft: 0\n\tsadb_seq=0 pid=2 refcnt=0\n\
                  \tcreated: Jan  1 00:00:00 2024  lastused: Jan  1 00:00:03 2024\n\
                  \tspid=18 seq=1 pid=2\n";
    let after = before
        .replace("0x00000007", "0x00000000")
        .replace("528(", "0(")
        .replace("allocated: 6", "allocated: 0")
        .replace(
            "\tlast: Jan  1 00:00:03 2024\t",
            "\tlast:                     \t",
        )
        .replace(
            "lastused: Jan  1 00:00:03 2024",
            "lastused:                     ",
        )
        .replace("spid=18", "spid=42")
        .replace("pid=2", "pid=3");
    assert_eq!(
        kernel_assigned_removed(before),
        kernel_assigned_removed(&after)
    );
    for changed in [
        before.replace("spi=1(", "spi=2("),
        before.replace("hard: 0(bytes)", "hard: 5(bytes)"),
        before.replace("replay=0", "replay=4"),
        before.replace("sadb_seq=0", "sadb_seq=1"),
        before.replace("hard: 0(s)\tsoft: 0(s)", "hard: 9(s)\tsoft: 0(s)"),
    ] {
        assert_ne!(
            kernel_assigned_removed(before),
            kernel_assigned_removed(&changed)
        );
    }
}

/// `rsetkey ARGS`: exit status, stdout, stderr.
fn run_rsetkey(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rsetkey"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn one_format_per_dump_and_no_repeat() {
    let (status, stdout, stderr) = run_rsetkey(&["-D", "--json", "--as-script"]);
    assert_eq!(status, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--json and --as-script"), "{stderr}");
    let (status, stdout, stderr) = run_rsetkey(&["-D", "-l", "--json"]);
    assert_eq!(status, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("-l repeats the text dump only"), "{stderr}");
    // -n sends nothing, in these formats too
    let (status, stdout, _) = run_rsetkey(&["-n", "-DP", "--as-script"]);
    assert_eq!((status, stdout.as_str()), (Some(0), ""));
}

/// `-x --json` through PF_KEY and through XFRM: one JSON object per line
/// and event, keys only with `--show-keys`.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn monitor_json_prints_one_object_per_event_and_line() {
    let test = "monitor_json_prints_one_object_per_event_and_line";
    let work = Work::new("monitor-json");
    let dir = work.dir.display().to_string();
    common::write_private(
        &work.dir,
        "s.conf",
        "add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc \"0123456789abcdef\";\n\
         spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n",
    );
    // four monitors: PF_KEY and XFRM, without and with keys; then a
    // script, a flush, and the monitors stopped
    let script = format!(
        "ip link set lo up; t={tool}; d={dir}; \
         $t -x --json >$d/pfkey.json 2>$d/pfkey.err & a=$!; \
         $t -x --json --show-keys >$d/pfkey-keys.json 2>>$d/pfkey.err & b=$!; \
         $t --backend xfrm -x --json >$d/xfrm.json 2>$d/xfrm.err & c=$!; \
         $t --backend xfrm -x --json --show-keys >$d/xfrm-keys.json 2>>$d/xfrm.err & e=$!; \
         sleep 1; $t -f $d/s.conf >/dev/null 2>&1; $t -F; $t -FP; sleep 1; \
         kill $a $b $c $e; wait; true",
        tool = common::sh_quote(rsetkey()),
    );
    let guest = Guest {
        what: "monitor json".into(),
        kernel: Kernel::WithAfKey,
        command: vec![
            "unshare".into(),
            "--net".into(),
            "bash".into(),
            "-c".into(),
            script,
        ],
        timeout: 120,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let key_hex = "30313233343536373839616263646566";
    for (file, keys) in [
        ("pfkey.json", false),
        ("pfkey-keys.json", true),
        ("xfrm.json", false),
        ("xfrm-keys.json", true),
    ] {
        let text = read_text(&work.dir.join(file)).unwrap_or_default();
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}: {e}: {l}")))
            .collect();
        let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        for want in ["add", "spdadd", "flush", "spdflush"] {
            assert!(
                names.contains(&want),
                "{file}: no {want} event in {names:?}"
            );
        }
        let add = events.iter().find(|e| e["event"] == "add").unwrap();
        assert_eq!(add["version"], 1, "{file}");
        assert_eq!(add["sa"]["spi"], 256, "{file}");
        assert_eq!(add["sa"]["encryption"]["name"], "aes-cbc", "{file}");
        assert_eq!(add["sa"]["encryption"]["key_bits"], 128, "{file}");
        assert_eq!(
            text.contains(key_hex),
            keys,
            "{file}: keys shown = {keys}?\n{text}"
        );
        let spdadd = events.iter().find(|e| e["event"] == "spdadd").unwrap();
        assert_eq!(
            spdadd["policy"]["templates"][0]["protocol"], "esp",
            "{file}"
        );
    }
}
