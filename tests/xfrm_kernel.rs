//! Kernel tests of the XFRM backend, on the User-Mode-Linux test kernel of
//! `tests/harness/uml`:
//!
//! * in a guest **without `af_key`** (XFRM netlink only, like most
//!   distribution kernels), rsetkey's default `--backend auto` must fall back
//!   to XFRM: the tutorial on the wire works as it does through PF_KEY
//!   (`tests/kernel.rs`), and every recorded case replays with the results
//!   setkey had through PF_KEY;
//! * in a guest with both interfaces, what one backend installs the other
//!   dumps identically: every case replayed with scripts through PF_KEY and
//!   dumps (`-D...`) through XFRM, and the other way round;
//! * in a guest without `af_key` and without ESP, policies still go in, and
//!   a script with an ESP SA is refused whole, naming the missing module.
//!
//! All runs are compared with the recordings of `fixtures/cases` by
//! `common` (the same normalisation and comparison as `tests/kernel.rs`;
//! stderr is only reported: the XFRM backend adds the kernel's own
//! explanation of a refusal after setkey's line).  Monitor cases (`-x`) are
//! left out: monitoring is PF_KEY-only.
//!
//! The independent runs go to separate guests booted in parallel.  If the
//! test kernel cannot be installed or booted, a test prints a loud notice and
//! passes, unless `CI=true`: then it fails.

mod common;

use common::{
    Guest, Kernel, Work, assert_runs, check_tutorial_wire, give_up, normalize, read_text, rsetkey,
    run_cases_guests, run_guests, selected_cases, sh_quote, shards, tutorial_wire_command,
};
use std::fs;
use std::path::{Path, PathBuf};

/// The setkey tutorial on two hosts, in a guest without PF_KEY: plain
/// `#!rsetkey -f` scripts (no `--backend`), so `auto` must take XFRM; then
/// the same checks as through PF_KEY (`tests/kernel.rs` `tutorial_traffic`):
/// pings both ways, AH over ESP with the tutorial's SPIs on the wire, no
/// plaintext ICMP, byte counters in `-D`.
#[test]
fn tutorial_on_the_wire_without_af_key() {
    let test = "tutorial_on_the_wire_without_af_key";
    let work = Work::new("xfrm-wire");
    let wire = work.dir.join("wire");
    let guest = Guest {
        what: "tutorial wire, no af_key".into(),
        kernel: Kernel::WithoutAfKey,
        command: tutorial_wire_command(&rsetkey(), &wire),
        timeout: 300,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let problems = check_tutorial_wire(&wire, &rsetkey());
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every (non-monitor) case replayed by plain rsetkey (`--backend auto`) in
/// a guest without PF_KEY gives what setkey gave through PF_KEY.
#[test]
fn corpus_without_af_key_matches_setkey() {
    let test = "corpus_without_af_key_matches_setkey";
    let work = Work::new("xfrm-auto");
    let cases = selected_cases(false);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    let out = work.dir.join("out-auto");
    let guests = run_cases_guests(
        "auto, no af_key",
        Kernel::WithoutAfKey,
        &rsetkey(),
        &out,
        &cases,
        shards(),
    );
    match run_guests(&guests) {
        Ok(()) => assert_runs(test, &[("auto, no af_key", &out)], &cases),
        Err(e) => give_up(test, e),
    }
}

/// The two runs across interfaces: (name, backend of scripts and other
/// invocations, backend of dumps).
const ACROSS: [(&str, &str, &str); 2] = [
    ("pfkey-then-xfrm", "pfkey", "xfrm"),
    ("xfrm-then-pfkey", "xfrm", "pfkey"),
];

/// Every (non-monitor) case, in guests with both interfaces, installed
/// through one backend and dumped through the other, gives what setkey gave
/// through PF_KEY alone.
#[test]
fn corpus_across_backends_matches_setkey() {
    let test = "corpus_across_backends_matches_setkey";
    let work = Work::new("xfrm-across");
    let cases = selected_cases(false);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    fs::create_dir_all(work.dir.join("bin")).expect("work dir");
    // the wrappers exec this symlink, so that rsetkey's messages start
    // "setkey: " as in the recordings
    std::os::unix::fs::symlink(rsetkey(), work.dir.join("bin").join("setkey"))
        .expect("symlink to rsetkey");
    let mut guests = Vec::new();
    let mut runs = Vec::new();
    for (name, script, dump) in ACROSS {
        let tool = wrapper(&work.dir, name, script, dump);
        let out = work.dir.join(format!("out-{name}"));
        guests.extend(run_cases_guests(
            name,
            Kernel::WithAfKey,
            &tool,
            &out,
            &cases,
            shards(),
        ));
        runs.push((name, out));
    }
    match run_guests(&guests) {
        Ok(()) => {
            let runs: Vec<(&str, &Path)> = runs.iter().map(|(n, o)| (*n, o.as_path())).collect();
            assert_runs(test, &runs, &cases)
        }
        Err(e) => give_up(test, e),
    }
}

/// A `/bin/sh` wrapper running rsetkey, as `setkey`, with `--backend
/// DUMP` for dumps (`-D...` arguments) and `--backend SCRIPT` for everything
/// else.  dash, not bash: a wrapper that starts slowly on the test kernel
/// would shift creation times.
fn wrapper(dir: &Path, name: &str, script: &str, dump: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "#!/bin/sh\nb={script}\ncase \" $* \" in *\" -D\"*) b={dump};; esac\n\
         exec {} --backend \"$b\" \"$@\"\n",
        sh_quote(dir.join("bin").join("setkey"))
    );
    fs::write(&path, text).expect("write wrapper");
    let mut perm = fs::metadata(&path).expect("wrapper").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(&path, perm).expect("chmod wrapper");
    path
}

/// A kernel without PF_KEY and without ESP (like many hosts today): a
/// policy-only script installs its policies through XFRM and `-DP` shows
/// them (applied twice, the kernel's refusals are reported and exit 0, or
/// 1 with `--strict`); a script with an ESP SA is refused as a whole before anything is
/// sent — the missing module named, exit status 1, both databases as they
/// were.
#[test]
fn kernel_without_esp_refuses_esp_scripts_whole() {
    let test = "kernel_without_esp_refuses_esp_scripts_whole";
    let work = Work::new("no-esp");
    let dir = &work.dir;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        fs::write(&path, text).expect("write script");
        let mut perm = fs::metadata(&path).expect("script").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
        fs::set_permissions(&path, perm).expect("chmod script");
    };
    write(
        "policies.conf",
        "spdadd 10.7.0.1 10.7.0.2 any -P out ipsec esp/transport//require;\n\
         spdadd 10.7.0.2 10.7.0.1 any -P in ipsec esp/transport//require;\n",
    );
    write(
        "esp.conf",
        "spdadd 10.7.1.1 10.7.1.2 any -P out ipsec esp/transport//require;\n\
         add 10.7.1.1 10.7.1.2 esp 0x701 -E aes-cbc 0x000102030405060708090a0b0c0d0e0f\n\
         \t-A hmac-sha256 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f;\n",
    );
    let b = sh_quote(rsetkey());
    let d = sh_quote(dir);
    let script = format!(
        "cd {d} && unshare --net bash -c '\n\
         ip link set lo up\n\
         {b} -f policies.conf >policies.out 2>policies.err; echo $? >policies.exit\n\
         {b} -DP >before-DP.txt; {b} -D >before-D.txt\n\
         {b} -f policies.conf >again.out 2>again.err; echo $? >again.exit\n\
         {b} --strict -f policies.conf >strict.out 2>strict.err; echo $? >strict.exit\n\
         {b} -f esp.conf >esp.out 2>esp.err; echo $? >esp.exit\n\
         {b} -DP >after-DP.txt; {b} -D >after-D.txt\n'\n"
    );
    let runner = dir.join("run.sh");
    fs::write(&runner, script).expect("runner");
    let guest = Guest {
        what: "no af_key, no esp".into(),
        kernel: Kernel::WithoutAfKeyOrEsp,
        command: vec!["bash".into(), runner.display().to_string()],
        timeout: 120,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let text = |name: &str| read_text(&dir.join(name)).unwrap_or_default();
    assert_eq!(
        text("policies.exit").trim(),
        "0",
        "{}",
        text("policies.err")
    );
    let before = text("before-DP.txt");
    for policy in [
        "\tout prio def ipsec",
        "\tin prio def ipsec",
        "\tfwd prio def ipsec",
    ] {
        assert!(before.contains(policy), "-DP lacks {policy:?}:\n{before}");
    }
    assert_eq!(text("before-D.txt"), "No SAD entries.\n");
    // The same policies again: the kernel refuses each (File exists, the
    // `in` one and its `fwd` twin on the same line); setkey reports and
    // exits 0, --strict exits 1.
    assert_eq!(text("again.exit").trim(), "0");
    let again = text("again.err");
    assert_eq!(again.matches(": File exists").count(), 3, "{again}");
    assert!(again.contains("policies.conf,2: File exists"), "{again}");
    assert_eq!(text("strict.exit").trim(), "1", "{}", text("strict.err"));
    assert_eq!(text("esp.exit").trim(), "1", "{}", text("esp.err"));
    let err = text("esp.err");
    assert!(
        err.contains("esp.conf,3: this kernel has no ESP support (module esp4 not loaded); nothing was applied"),
        "{err}"
    );
    assert!(!err.contains("0001020304"), "a key on stderr: {err}");
    // Two dumps by two processes: only their pids may differ.
    let same = |t: &str| {
        normalize(t, false)
            .lines()
            .map(|l| match l.split_once(" pid=") {
                Some((head, _)) => head.to_string(),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        same(&text("after-DP.txt")),
        same(&before),
        "the refused script changed the SPD"
    );
    assert_eq!(text("after-D.txt"), "No SAD entries.\n");
}
