//! `--json` and `--as-script`: the comparison the corpus round trip uses
//! (the round trip itself runs with every corpus case in
//! `tests/kernel.rs`, in the same boots, see `common::roundtrip`), the
//! flags that do not combine, and `-x --json` against a real kernel.
//!
//! Like the other kernel tests the kernel one fails when no test kernel
//! can run; `RSETKEY_SKIP_KERNEL_TESTS=1` at build time skips it on
//! purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::roundtrip::kernel_assigned_removed;
use common::{Guest, Kernel, Work, give_up, read_text, rsetkey, run_guests};

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
        cpus: 1,
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
