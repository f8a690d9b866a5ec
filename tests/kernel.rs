//! Kernel tests: rsetkey against a real Linux kernel with PF_KEY, ESP and AH.
//!
//! The host kernel usually has none of these, so every test boots the test
//! kernel of `tests/harness/kernel` (Debian's Linux 6.1 as User-Mode-Linux,
//! or under QEMU where UML cannot start; installed on first use), with the
//! recordings' modules (`af_key` included, so rsetkey's default `--backend auto` takes
//! PF_KEY), and runs the guest-side scripts of `tests/harness/` in it:
//!
//! * `run-cases` replays recorded cases of `fixtures/cases` with rsetkey in
//!   setkey's place, under the conditions of the recordings (fresh network
//!   namespace, clock at T0, libfaketime, pid 2, pinned `/etc`, ...);
//! * `tutorial-wire` applies the setkey tutorial on two hosts joined by a veth
//!   pair, from executable `#!rsetkey -f` scripts, and pings through it.
//!
//! The results are compared with the recordings by `common`, after
//! normalising exactly the fields the fixtures README lists under "Fields
//! that vary".  `tests/xfrm_kernel.rs` does the same without `af_key` (XFRM
//! netlink) and across the two interfaces.  See `tests/harness/README.md`
//! for the environment variables.
//!
//! If no test kernel can be installed or booted, the tests fail and say
//! what is missing; `RSETKEY_SKIP_KERNEL_TESTS=1` at build time skips them
//! on purpose (cargo counts them as ignored).

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Guest, Kernel, TUTORIAL_CASE, Text, Work, assert_runs, cases_dir, check_tutorial_wire,
    check_wire, check_wire_chain, compare_case, give_up, normalize, read_text, roundtrip, rsetkey,
    run_cases_command, run_cases_guests, run_guests, selected_cases, sh_words, shards,
    tutorial_wire_command,
};

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// The setkey tutorial's two host configurations, as recorded (exit status,
/// stdout, -D, -DP, and -Da for host A).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn tutorial_cases_match_setkey() {
    let test = "tutorial_cases_match_setkey";
    let work = Work::new("tutorial");
    let cases = vec![
        "001-tutorial-host-a".to_string(),
        "002-tutorial-host-b".to_string(),
    ];
    let out = work.dir.join("out");
    let guests = run_cases_guests("tutorial", Kernel::WithAfKey, &rsetkey(), &out, &cases, 1);
    match run_guests(&guests) {
        Ok(()) => assert_runs(test, &[("", &out)], &cases),
        Err(e) => give_up(test, e),
    }
}

/// The tutorial on the wire through PF_KEY: case 069 as recorded, and the
/// tutorial scripts run as executable `#!rsetkey -f` files on two hosts
/// joined by a veth pair: both directions of ping go through AH over ESP
/// with the tutorial's SPIs, no plaintext ICMP shows on the link, the SAs
/// count bytes (see `common::check_tutorial_wire`).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn tutorial_traffic() {
    let test = "tutorial_traffic";
    let work = Work::new("traffic");
    let case = TUTORIAL_CASE.to_string();
    let out = work.dir.join("out");
    let wire = work.dir.join("wire");
    // one boot for both parts; both run even when the first fails
    let script = format!(
        "{}; a=$?; {}; b=$?; [ $a = 0 ] && [ $b = 0 ]",
        sh_words(&run_cases_command(
            &rsetkey(),
            &out,
            std::slice::from_ref(&case)
        )),
        sh_words(&tutorial_wire_command(&rsetkey(), &wire)),
    );
    let guest = Guest {
        cpus: 1,
        what: "tutorial traffic".into(),
        kernel: Kernel::WithAfKey,
        command: vec!["bash".into(), "-c".into(), script],
        timeout: 300,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }

    let mut problems = Vec::new();
    // case 069 as recorded (pings included)
    let verdict = compare_case("", &cases_dir().join(&case), &out.join(&case));
    eprintln!("{}", verdict.report());
    if !verdict.passed() {
        problems.push(verdict.report());
    }
    problems.extend(check_tutorial_wire(&wire, &rsetkey()));
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every case of fixtures/cases (monitor cases included), in `shards()`
/// guests booted in parallel; after each case's dumps, the `--as-script`
/// round trip (`common::roundtrip`): the dumps rebuilt from the scripts
/// equal the dumps before, and the JSON dumps parse.  `RSETKEY_CASES="001 057 ..."` limits it to
/// cases whose names start so.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn corpus_cases() {
    let test = "corpus_cases";
    let work = Work::new("corpus");
    // without the deliberate differences from setkey (selected_cases)
    let cases = selected_cases(true);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    let out = work.dir.join("out");
    let mut guests = run_cases_guests(
        "corpus",
        Kernel::WithAfKey,
        &rsetkey(),
        &out,
        &cases,
        shards(),
    );
    // The `--as-script` round trip runs after each case's recorded dumps,
    // in the same boots: a second pass over the corpus would cost as much
    // again under software emulation. It adds ten runs to a case's four.
    for g in &mut guests {
        let at = g.command.iter().position(|w| w == "--").unwrap();
        g.command.insert(at, "--as-script-roundtrip".to_string());
        g.timeout *= 3;
    }
    if let Err(e) = run_guests(&guests) {
        return give_up(test, e);
    }
    let mut round_trip_failed = Vec::new();
    for c in &cases {
        let problems = roundtrip::check_case(&out.join(c));
        if !problems.is_empty() {
            eprintln!(
                "ROUND TRIP FAIL {c}:\n    {}",
                problems.join("\n").replace('\n', "\n    ")
            );
            round_trip_failed.push(c.clone());
        }
    }
    assert_runs(test, &[("", &out)], &cases);
    eprintln!(
        "{test}: {}/{} cases rebuilt from their --as-script dumps (and their JSON parsed)",
        cases.len() - round_trip_failed.len(),
        cases.len()
    );
    assert!(
        round_trip_failed.is_empty(),
        "{test}: {} case(s) not rebuilt from their --as-script dumps: {round_trip_failed:?}",
        round_trip_failed.len()
    );
}

// ---------------------------------------------------------------------------
// The comparison machinery itself (no kernel needed)
// ---------------------------------------------------------------------------

#[test]
fn normalisation_covers_exactly_the_varying_fields() {
    let dump = "\tcreated: Jan  1 00:00:01 2024\tcurrent: Jan  1 00:59:59 2024\n\
                \tdiff: 12(s)\thard: 0(s)\tsoft: 0(s)\n\
                \tlast: Jan  1 00:00:00 2024\thard: 0(s)\tsoft: 0(s)\n\
                \tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n\
                \tlastused: Jan  1 00:00:02 2024\n\
                \tcreated: Jan  1 01:00:00 2024\tlast: Jan  2 00:00:00 2024\n\
                \trefcnt=2\n\
                \tesp/transport//unique#16385\n\
                \tspid=1 seq=0 pid=2\n";
    let want = "\tcreated: <T>\tcurrent: <T>\n\
                \tdiff: <N>(s)\thard: 0(s)\tsoft: 0(s)\n\
                \tlast: <T>\thard: 0(s)\tsoft: 0(s)\n\
                \tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n\
                \tlastused: <T>\n\
                \tcreated: Jan  1 01:00:00 2024\tlast: Jan  2 00:00:00 2024\n\
                \trefcnt=<N>\n\
                \tesp/transport//unique#<N>\n\
                \tspid=1 seq=0 pid=2\n";
    assert_eq!(normalize(dump, Text::Plain), want);
    let x = "00:00:01.000123 \nsadb_lifetime{ alloc=0, bytes=0\n  addtime=1704067201, usetime=0 }\n\
             1704067200.000000 \n1704070800.000000 \n  addtime=1704070800 }\n";
    let xwant = "<T> \nsadb_lifetime{ alloc=0, bytes=0\n  addtime=<T>, usetime=0 }\n\
                 <T> \n1704070800.000000 \n  addtime=1704070800 }\n";
    assert_eq!(normalize(x, Text::Monitor), xwant);
    // outside monitor output the epoch fields stay
    assert_eq!(normalize(x, Text::Plain), x);
    // -v output: the monitor's fields, and the key bytes rsetkey masks
    let v = "sadb_key{ bits=128 reserved=0\n  key= 31323334 35363738 39303132 33343536 }\n\
             \x20 addtime=1704067201, usetime=0 }\n";
    let vmasked = v.replace(
        "31323334 35363738 39303132 33343536",
        "******** ******** ******** ********",
    );
    let vwant = "sadb_key{ bits=128 reserved=0\n  key= <K> }\n  addtime=<T>, usetime=0 }\n";
    assert_eq!(normalize(v, Text::Verbose), vwant);
    assert_eq!(normalize(&vmasked, Text::Verbose), vwant);
    assert_eq!(normalize(v, Text::Monitor).lines().nth(1), v.lines().nth(1));
}

#[test]
fn wire_check_recognises_the_recorded_tutorial_traffic() {
    // the recording has 3 pings one way: 3 packets per direction
    let recorded = read_text(&cases_dir().join(TUTORIAL_CASE).join("tcpdump.txt")).unwrap();
    let doubled = format!("{recorded}{recorded}");
    assert_eq!(check_wire(&doubled), Vec::<String>::new());
    let plain = "IP 10.141.176.2 > 10.141.176.3: ICMP echo request, id 1, seq 1, length 64\n";
    assert!(!check_wire(plain).is_empty());
    // a chain is checked header by header: ESP alone is not AH over ESP,
    // and AH over ESP is not ESP alone
    let esp = "IP 10.141.176.2 > 10.141.176.3: ESP(spi=0x00003d55,seq=0x1), length 116\n\
               IP 10.141.176.3 > 10.141.176.2: ESP(spi=0x00005fb5,seq=0x1), length 116\n"
        .repeat(6);
    let esp_only = [&["ESP(spi=0x00003d55,"][..], &["ESP(spi=0x00005fb5,"][..]];
    assert_eq!(
        check_wire_chain(&esp, esp_only[0], esp_only[1]),
        Vec::<String>::new()
    );
    assert_eq!(check_wire(&esp).len(), 12);
    assert_eq!(
        check_wire_chain(&doubled, esp_only[0], esp_only[1]).len(),
        12
    );
}

#[test]
fn comparison_passes_a_recording_and_catches_a_changed_dump() {
    let work = Work::new("compare");
    let case = "001-tutorial-host-a";
    let recorded = cases_dir().join(case);
    let copy = work.dir.join(case);
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&recorded).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let v = compare_case("", &recorded, &copy);
    assert!(v.passed(), "{}", v.report());

    // one SPI changed in -D: a failure naming the file, with a short diff
    let d = read_text(&copy.join("D.txt")).unwrap();
    std::fs::write(copy.join("D.txt"), d.replacen("spi=", "spi=1", 1)).unwrap();
    // stderr is only noted
    std::fs::write(copy.join("setkey.stderr"), "setkey: extra diagnostics\n").unwrap();
    let v = compare_case("run", &recorded, &copy);
    assert_eq!(v.failures, ["D.txt differs"], "{}", v.report());
    assert_eq!(v.notes, ["setkey.stderr differs"]);
    assert!(
        v.report()
            .starts_with("FAIL 001-tutorial-host-a [run]: D.txt differs")
    );
    // the header, then the recorded line out and the changed one in
    let diff: Vec<&str> = v.diffs.lines().collect();
    assert_eq!(diff.len(), 3, "{}", v.diffs);
    assert!(diff[0].starts_with("--- D.txt"), "{}", v.diffs);
    assert!(
        diff[1].starts_with('-') && diff[2].starts_with('+'),
        "{}",
        v.diffs
    );
}

/// The harness refuses a kernel it does not know at once, as a setup
/// failure (exit 125, which the tests report as "no test kernel"), and
/// boots nothing: a typo in `RSETKEY_TEST_KERNEL` must never pass as a run.
#[test]
fn harness_refuses_an_unknown_test_kernel() {
    let out = std::process::Command::new("bash")
        .arg(common::harness("kernel"))
        .args(["--", "true"])
        .env("RSETKEY_TEST_KERNEL", "vmware")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash tests/harness/kernel");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("RSETKEY_TEST_KERNEL must be uml, qemu or auto, not 'vmware'"),
        "{stderr}"
    );
}
