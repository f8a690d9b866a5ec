//! Kernel tests: rsetkey against a real Linux kernel with PF_KEY, ESP and AH.
//!
//! The host kernel usually has none of these, so every test boots the
//! User-Mode-Linux test kernel of `tests/harness/uml` (Debian's
//! `user-mode-linux` package, installed on first use) and runs the guest-side
//! scripts of `tests/harness/` in it:
//!
//! * `run-cases` replays recorded cases of `fixtures/cases` with rsetkey in
//!   setkey's place, under the conditions of the recordings (fresh network
//!   namespace, clock at T0, libfaketime, pid 2, pinned `/etc`, ...);
//! * `tutorial-wire` applies the setkey tutorial on two hosts joined by a veth
//!   pair, from executable `#!rsetkey -f` scripts, and pings through it.
//!
//! The results are compared here with the recordings, after normalising
//! exactly the fields the corpus README lists under "Fields that vary" (see
//! [`normalize`]).  See `tests/harness/README.md` for the environment
//! variables.
//!
//! If the test kernel cannot be installed or booted, a test prints a loud
//! notice and passes, unless `CI=true`: then it fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

// ---------------------------------------------------------------------------
// Paths and the guest
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn harness(script: &str) -> PathBuf {
    repo().join("tests").join("harness").join(script)
}

fn cases_dir() -> PathBuf {
    repo().join("fixtures").join("cases")
}

/// The binary under test: the crate's rsetkey, or `RSETKEY_KERNEL_TOOL` (to
/// check the harness itself with another setkey-compatible program).
fn rsetkey() -> PathBuf {
    match std::env::var_os("RSETKEY_KERNEL_TOOL") {
        Some(tool) => PathBuf::from(tool),
        None => PathBuf::from(env!("CARGO_BIN_EXE_rsetkey")),
    }
}

fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Why a guest run gave no usable result.
#[derive(Debug)]
enum GuestError {
    /// The test kernel could not be installed or booted (harness exit 125).
    Unavailable(String),
    /// The kernel ran, but the command failed, hung or crashed the guest.
    Failed(String),
}

/// A scratch directory for one test, removed when the test passes (kept
/// when it fails, or always with `RSETKEY_KEEP_WORK=1`).
struct Work {
    dir: PathBuf,
}

impl Work {
    fn new(tag: &str) -> Work {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "rsetkey-kernel-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).expect("cannot create the test's work directory");
        Work { dir }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if std::thread::panicking() || env_flag("RSETKEY_KEEP_WORK") {
            eprintln!("kernel test: work directory kept: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `tests/harness/uml -- COMMAND...` (cwd = the repository).
fn spawn_guest(command: &[String]) -> std::process::Child {
    Command::new("bash")
        .arg(harness("uml"))
        .arg("--")
        .args(command)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run bash tests/harness/uml")
}

/// Interprets what `tests/harness/uml` returned.
fn guest_result(what: &str, out: Output) -> Result<Output, GuestError> {
    let text = || {
        format!(
            "{what}: exit status {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    match out.status.code() {
        Some(0) => Ok(out),
        Some(125) => Err(GuestError::Unavailable(text())),
        _ => Err(GuestError::Failed(text())),
    }
}

/// Runs several guests at once (one boot each) and waits for all of them.
fn run_guests(commands: Vec<Vec<String>>) -> Result<Vec<Output>, GuestError> {
    let children: Vec<_> = commands.iter().map(|c| spawn_guest(c)).collect();
    let mut outs = Vec::new();
    let mut err = None;
    for (i, child) in children.into_iter().enumerate() {
        let out = child
            .wait_with_output()
            .expect("waiting for the guest failed");
        match guest_result(&format!("guest {i}"), out) {
            Ok(o) => outs.push(o),
            // an environment problem wins over a command failure: skip/fail once
            Err(e @ GuestError::Unavailable(_)) => err = Some(e),
            Err(e) => {
                if err.is_none() {
                    err = Some(e)
                }
            }
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(outs),
    }
}

/// What a test does when the guest failed: an unavailable test kernel skips
/// the test (loudly) unless `CI=true`; anything else fails it.
fn give_up(test: &str, err: GuestError) {
    match err {
        GuestError::Unavailable(why) => {
            if env_flag("CI") {
                panic!(
                    "{test}: the test kernel is not available, and under CI=true a kernel test \
                     must not be skipped:\n{why}"
                );
            }
            eprintln!();
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            eprintln!("!!! SKIPPED {test}: the User-Mode-Linux test kernel is not available.");
            eprintln!("!!! (set CI=true to make this a failure; see tests/harness/README.md)");
            for line in why.lines() {
                eprintln!("!!!   {line}");
            }
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            eprintln!();
        }
        GuestError::Failed(why) => panic!("{test}: the guest run failed:\n{why}"),
    }
}

/// `run-cases` for these cases in `shards` guests booted in parallel.
/// Returns the output folder (OUT/CASE/...).
fn run_cases(work: &Work, cases: &[String], shards: usize) -> Result<PathBuf, GuestError> {
    let out = work.dir.join("out");
    let shards = shards.clamp(1, cases.len().max(1));
    let commands = (0..shards)
        .map(|s| {
            let mut c = vec![
                "bash".to_string(),
                harness("run-cases").display().to_string(),
                "--tool".to_string(),
                rsetkey().display().to_string(),
                "--cases".to_string(),
                cases_dir().display().to_string(),
                "--out".to_string(),
                out.display().to_string(),
                "--".to_string(),
            ];
            c.extend(cases.iter().skip(s).step_by(shards).cloned());
            c
        })
        .collect();
    let start = Instant::now();
    run_guests(commands)?;
    eprintln!(
        "kernel test: {} case(s) in {shards} guest(s): {:.1}s",
        cases.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(out)
}

// ---------------------------------------------------------------------------
// Normalisation: exactly the "Fields that vary" of fixtures (reference README)
// ---------------------------------------------------------------------------

/// T0 = 2024-01-01 00:00:00 UTC, the clock of every recording.
const T0: u64 = 1_704_067_200;

/// Replaces, in `line`, what follows each occurrence of `prefix` when
/// `field` recognises it: `field(rest)` gives the length of the field and its
/// replacement.
fn rewrite_after(
    line: &str,
    prefix: &str,
    field: impl Fn(&str) -> Option<(usize, &'static str)>,
) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        out.push_str(&rest[..i + prefix.len()]);
        match field(after) {
            Some((len, replacement)) => {
                out.push_str(replacement);
                rest = &after[len..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

fn digits_at(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// `MM:SS` with both in 00..=59 at the start of `s`.
fn is_min_sec(s: &[u8]) -> bool {
    s.len() >= 5
        && (b'0'..=b'5').contains(&s[0])
        && s[1].is_ascii_digit()
        && s[2] == b':'
        && (b'0'..=b'5').contains(&s[3])
        && s[4].is_ascii_digit()
}

/// A ctime-style stamp in the first hour after T0: `Jan  1 00:MM:SS 2024`.
fn t0_hour_stamp(s: &str) -> Option<(usize, &'static str)> {
    let b = s.as_bytes();
    (b.len() >= 20
        && b.starts_with(b"Jan  1 00:")
        && is_min_sec(&b[10..15])
        && &b[15..20] == b" 2024")
        .then_some((20, "<T>"))
}

/// An epoch second in the first hour after T0.
fn t0_hour_epoch(digits: &str) -> bool {
    digits
        .parse::<u64>()
        .is_ok_and(|t| (T0..T0 + 3600).contains(&t))
}

/// Normalises a dump / stdout text (README "Fields that vary" 1-4) and, for
/// monitor output, also item 5:
///
/// 1. `created: `, `current: `, `last: `, `lastused: ` followed by a stamp in
///    the first hour after T0 (`Jan  1 00:MM:SS 2024`) -> `<T>`;
/// 2. `diff: N(s)` -> `diff: <N>(s)`;
/// 3. a line `\trefcnt=N` -> `\trefcnt=<N>`;
/// 4. `unique#N` -> `unique#<N>`;
/// 5. (monitor) `addtime=` / `usetime=` with an epoch second in the first
///    hour after T0 -> `<T>`; a message's leading timestamp line
///    (`00:MM:SS.UUUUUU ` for -x, `17040NNNNN.UUUUUU ` for -xx) in that
///    hour -> `<T> `.
///
/// Everything else is compared byte for byte.
fn normalize(text: &str, monitor: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, piece) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line = piece.to_string();
        for prefix in ["created: ", "current: ", "last: ", "lastused: "] {
            line = rewrite_after(&line, prefix, t0_hour_stamp);
        }
        line = rewrite_after(&line, "diff: ", |s| {
            let n = digits_at(s);
            (n > 0 && s[n..].starts_with("(s)")).then_some((n, "<N>"))
        });
        if let Some(n) = line.strip_prefix("\trefcnt=")
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            line = "\trefcnt=<N>".to_string();
        }
        line = rewrite_after(&line, "unique#", |s| {
            let n = digits_at(s);
            (n > 0).then_some((n, "<N>"))
        });
        if monitor {
            for prefix in ["addtime=", "usetime="] {
                line = rewrite_after(&line, prefix, |s| {
                    let n = digits_at(s);
                    t0_hour_epoch(&s[..n]).then_some((n, "<T>"))
                });
            }
            if is_monitor_stamp(&line) {
                line = "<T> ".to_string();
            }
        }
        out.push_str(&line);
    }
    out
}

/// The timestamp line that starts a monitor message, in the first hour after
/// T0: `00:MM:SS.UUUUUU ` (-x) or `SSSSSSSSSS.UUUUUU ` (-xx).
fn is_monitor_stamp(line: &str) -> bool {
    let Some(stamp) = line.strip_suffix(' ') else {
        return false;
    };
    let Some((whole, micros)) = stamp.split_once('.') else {
        return false;
    };
    if micros.len() != 6 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let w = whole.as_bytes();
    (w.len() == 8 && w.starts_with(b"00:") && is_min_sec(&w[3..]))
        || (w.len() == 10 && digits_at(whole) == 10 && t0_hour_epoch(whole))
}

// ---------------------------------------------------------------------------
// Comparing a case's results with its recording
// ---------------------------------------------------------------------------

fn read_text(path: &Path) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// An exit status file's number; an absent file means 0 (the recordings keep
/// D.exit etc. only when not 0).
fn exit_of(path: &Path) -> Option<i32> {
    match read_text(path) {
        None => Some(0),
        Some(t) => t.trim().parse().ok(),
    }
}

fn lines_of(dir: &Path, file: &str) -> Vec<String> {
    read_text(&dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// A short line diff (longest common subsequence), at most `max` lines:
/// `-N| text` for expected line N missing, `+N| text` for actual line N extra.
fn short_diff(expected: &str, actual: &str, max: usize) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let a: Vec<&str> = actual.split_inclusive('\n').collect();
    let (n, m) = (e.len(), a.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if e[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let show = |l: &str| {
        l.strip_suffix('\n')
            .map_or(format!("{l}⏎(no newline)"), String::from)
    };
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while (i < n || j < m) && lines.len() < max {
        if i < n && j < m && e[i] == a[j] {
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(format!("-{:>4}| {}", i + 1, show(e[i])));
            i += 1;
        } else {
            lines.push(format!("+{:>4}| {}", j + 1, show(a[j])));
            j += 1;
        }
    }
    if i < n || j < m {
        lines.push("...".to_string());
    }
    lines.join("\n")
}

/// The verdict on one case.
struct Verdict {
    case: String,
    failures: Vec<String>,
    notes: Vec<String>,
    diffs: String,
}

impl Verdict {
    fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    fn report(&self) -> String {
        let mut s = if self.passed() {
            format!("PASS {}", self.case)
        } else {
            format!("FAIL {}: {}", self.case, self.failures.join("; "))
        };
        if !self.notes.is_empty() {
            s += &format!(" (note: {})", self.notes.join("; "));
        }
        if !self.diffs.is_empty() {
            for l in self.diffs.lines() {
                s += &format!("\n    {l}");
            }
        }
        s
    }
}

/// Compares the results in `actual` with the recording in `expected`: exit
/// statuses, stdout, `after` runs, dumps (and extra dumps), monitor output,
/// the peer side of traffic cases.  stderr differences are notes only,
/// unless `RSETKEY_STRICT_STDERR=1`.
///
/// Deliberate difference from setkey: when setkey's script run exited 1 in
/// mode f/n/x/xx (the script did not parse), setkey had applied the
/// statements before the error, rsetkey applies nothing; so the expected
/// dumps are the empty databases.
fn compare_case(expected: &Path, actual: &Path) -> Verdict {
    let case = expected.file_name().unwrap().to_string_lossy().into_owned();
    let mut v = Verdict {
        case,
        failures: Vec::new(),
        notes: Vec::new(),
        diffs: String::new(),
    };
    if !actual.join("setkey.exit").exists() {
        v.failures.push("not run (no setkey.exit)".into());
        if let Some(log) = read_text(&actual.join("runner.log")) {
            v.diffs = log;
        }
        return v;
    }
    if let Some(log) = read_text(&actual.join("runner.log")) {
        v.notes
            .push(format!("runner: {}", log.trim().replace('\n', " / ")));
    }
    let mode = lines_of(expected, "mode")
        .first()
        .cloned()
        .unwrap_or_else(|| "f".into());
    let monitor = mode == "x" || mode == "xx";
    let traffic = expected.join("traffic").exists();
    let nothing_applied = exit_of(&expected.join("setkey.exit")) == Some(1)
        && matches!(mode.as_str(), "f" | "n" | "x" | "xx");

    // (text file, its exit file, its stderr file)
    let mut items: Vec<(String, Option<String>, Option<String>)> = vec![(
        "setkey.stdout".into(),
        Some("setkey.exit".into()),
        Some("setkey.stderr".into()),
    )];
    for (k, _) in lines_of(expected, "after").iter().enumerate() {
        let n = k + 1;
        items.push((
            format!("after{n}.stdout"),
            Some(format!("after{n}.exit")),
            Some(format!("after{n}.stderr")),
        ));
    }
    let mut dumps = vec!["D".to_string(), "DP".to_string()];
    dumps.extend(lines_of(expected, "dumps").iter().map(|l| {
        l.replace(char::is_whitespace, "")
            .trim_start_matches('-')
            .to_string()
    }));
    for d in &dumps {
        items.push((
            format!("{d}.txt"),
            Some(format!("{d}.exit")),
            Some(format!("{d}.stderr")),
        ));
    }
    if monitor {
        items.push(("x.txt".into(), None, None));
    }
    if traffic {
        items.push((
            "peer.stdout".into(),
            Some("peer.exit".into()),
            Some("peer.stderr".into()),
        ));
        for d in ["peer-D", "peer-DP"] {
            items.push((
                format!("{d}.txt"),
                Some(format!("{d}.exit")),
                Some(format!("{d}.stderr")),
            ));
        }
    }

    let strict_stderr = env_flag("RSETKEY_STRICT_STDERR");
    for (text, exit, stderr) in items {
        if let Some(exit) = exit {
            let (e, a) = (exit_of(&expected.join(&exit)), exit_of(&actual.join(&exit)));
            if e != a {
                v.failures.push(format!("{exit}: {a:?} != expected {e:?}"));
            }
        }
        let want = if nothing_applied && text.starts_with("DP") && text.ends_with(".txt") {
            Some("No SPD entries.\n".to_string())
        } else if nothing_applied && text.starts_with('D') && text.ends_with(".txt") {
            Some("No SAD entries.\n".to_string())
        } else {
            read_text(&expected.join(&text))
        };
        let want = normalize(&want.unwrap_or_default(), text == "x.txt");
        match read_text(&actual.join(&text)) {
            None => v.failures.push(format!("{text} missing")),
            Some(got) => {
                let got = normalize(&got, text == "x.txt");
                if got != want {
                    v.failures.push(format!("{text} differs"));
                    v.diffs += &format!("--- {text} (- expected, + rsetkey)\n");
                    v.diffs += &short_diff(&want, &got, 14);
                    v.diffs.push('\n');
                }
            }
        }
        if let Some(stderr) = stderr {
            let want = read_text(&expected.join(&stderr)).unwrap_or_default();
            let got = read_text(&actual.join(&stderr)).unwrap_or_default();
            if want != got {
                if strict_stderr {
                    v.failures.push(format!("{stderr} differs"));
                    v.diffs += &format!("--- {stderr} (- expected, + rsetkey)\n");
                    v.diffs += &short_diff(&want, &got, 8);
                    v.diffs.push('\n');
                } else {
                    v.notes.push(format!("{stderr} differs"));
                }
            }
        }
    }
    v
}

/// Compares every case and panics with the report when one failed.
fn assert_cases(test: &str, out: &Path, cases: &[String]) {
    let verdicts: Vec<Verdict> = cases
        .iter()
        .map(|c| compare_case(&cases_dir().join(c), &out.join(c)))
        .collect();
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    let mut report = String::new();
    for v in &verdicts {
        report += &v.report();
        report.push('\n');
    }
    report += &format!("{test}: {passed}/{} cases identical\n", verdicts.len());
    eprint!("{report}");
    assert_eq!(
        passed,
        verdicts.len(),
        "{test}: {} case(s) differ from the recordings (report above)",
        verdicts.len() - passed
    );
}

fn corpus_case_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cases_dir())
        .expect("fixtures/cases")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("script.conf").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// The setkey tutorial's two host configurations, as recorded (exit status,
/// stdout, -D, -DP, and -Da for host A).
#[test]
fn tutorial_cases_match_setkey() {
    let test = "tutorial_cases_match_setkey";
    let work = Work::new("tutorial");
    let cases = vec![
        "001-tutorial-host-a".to_string(),
        "002-tutorial-host-b".to_string(),
    ];
    match run_cases(&work, &cases, 1) {
        Ok(out) => assert_cases(test, &out, &cases),
        Err(e) => give_up(test, e),
    }
}

/// The tutorial on the wire: case 069 as recorded, and the tutorial scripts
/// run as executable `#!rsetkey -f` files on two hosts joined by a veth pair:
/// both directions of ping go through AH over ESP with the tutorial's SPIs,
/// no plaintext ICMP shows on the link, the SAs count bytes.
#[test]
fn tutorial_traffic() {
    let test = "tutorial_traffic";
    let work = Work::new("traffic");
    let case = "069-traffic-tutorial".to_string();
    let out = work.dir.join("out");
    let wire = work.dir.join("wire");
    // one boot for both parts
    let script = format!(
        "bash {run_cases} --tool {tool} --cases {cases} --out {out} -- {case}; a=$?; \
         bash {wire_script} --tool {tool} --out {wire} --case {cases}/{case}; b=$?; \
         [ $a = 0 ] && [ $b = 0 ]",
        run_cases = sh_quote(&harness("run-cases")),
        wire_script = sh_quote(&harness("tutorial-wire")),
        tool = sh_quote(&rsetkey()),
        cases = sh_quote(&cases_dir()),
        out = sh_quote(&out),
        wire = sh_quote(&wire),
    );
    let result = run_guests(vec![vec!["bash".into(), "-c".into(), script]]);
    if let Err(e) = result {
        return give_up(test, e);
    }

    let mut problems = Vec::new();

    // --- case 069 as recorded
    let verdict = compare_case(&cases_dir().join(&case), &out.join(&case));
    eprintln!("{}", verdict.report());
    if !verdict.passed() {
        problems.push(verdict.report());
    }
    if exit_of(&out.join(&case).join("ping.exit")) != Some(0) {
        problems.push(format!(
            "069: ping failed:\n{}",
            read_text(&out.join(&case).join("ping.txt")).unwrap_or_default()
        ));
    }

    // --- the tutorial on the wire
    let text = |f: &str| read_text(&wire.join(f)).unwrap_or_default();
    let show = |f: &str| format!("--- {f}\n{}", text(f));
    eprintln!(
        "{}",
        ["host-a.stdout", "host-a.stderr", "tcpdump.txt", "a-D.txt"]
            .map(show)
            .join("\n")
    );
    // the executables carry the real binary on their #! line
    let shebang = format!("#!{} -f", rsetkey().display());
    for h in ["host-a", "host-b"] {
        let first = text(&format!("{h}.setkey"));
        if first.lines().next() != Some(shebang.as_str()) {
            problems.push(format!("{h}.setkey does not start with {shebang}"));
        }
        if exit_of(&wire.join(format!("{h}.exit"))) != Some(0) {
            problems.push(format!(
                "{h}.setkey failed: exit {:?}\n{}{}",
                exit_of(&wire.join(format!("{h}.exit"))),
                text(&format!("{h}.stdout")),
                text(&format!("{h}.stderr"))
            ));
        }
    }
    for p in ["ping-a-to-b", "ping-b-to-a"] {
        if exit_of(&wire.join(format!("{p}.exit"))) != Some(0) {
            problems.push(format!("{p} failed:\n{}", text(&format!("{p}.txt"))));
        }
    }
    problems.extend(check_wire(&text("tcpdump.txt")));
    for h in ["a", "b"] {
        let dump = text(&format!("{h}-D.txt"));
        // "\tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)"
        let counters: Vec<u64> = dump
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("current: "))
            .filter_map(|r| r.split_once("(bytes)"))
            .filter_map(|(n, _)| n.parse().ok())
            .collect();
        if counters.len() != 4 || counters.contains(&0) {
            problems.push(format!(
                "host {h}: rsetkey -D should show 4 SAs with non-zero byte counters, \
                 found {counters:?}:\n{dump}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every IP packet on the link is AH over ESP with the tutorial's SPIs
/// (0x3d54/0x3d55 from .2 to .3, 0x5fb4/0x5fb5 back), both directions occur,
/// no plaintext ICMP.
fn check_wire(tcpdump: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in tcpdump.lines().filter(|l| l.starts_with("IP ")) {
        let dir = if line.starts_with("IP 10.141.176.2 > 10.141.176.3: ") {
            "a->b"
        } else if line.starts_with("IP 10.141.176.3 > 10.141.176.2: ") {
            "b->a"
        } else {
            problems.push(format!("unexpected packet on the link: {line}"));
            continue;
        };
        let (ah, esp) = if dir == "a->b" {
            ("AH(spi=0x00003d54,", "ESP(spi=0x00003d55,")
        } else {
            ("AH(spi=0x00005fb4,", "ESP(spi=0x00005fb5,")
        };
        let body = &line[line.find(": ").unwrap() + 2..];
        if !body.starts_with(ah) || !body.contains(&format!("): {esp}")) {
            problems.push(format!("{dir} packet is not {ah}..): {esp}..: {line}"));
        }
        if line.contains("ICMP") {
            problems.push(format!("plaintext ICMP on the link: {line}"));
        }
        *seen.entry(dir).or_default() += 1;
    }
    // 3 pings each way: 6 requests + 6 replies, 6 packets per direction
    for dir in ["a->b", "b->a"] {
        if seen.get(dir).copied().unwrap_or(0) < 6 {
            problems.push(format!(
                "expected at least 6 {dir} packets on the link, saw {:?}:\n{tcpdump}",
                seen.get(dir)
            ));
        }
    }
    problems
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Every case of fixtures/cases, in two guests booted in parallel.
/// `RSETKEY_CASES="001 057 ..."` limits it to cases whose names start so.
#[test]
fn corpus_cases() {
    let test = "corpus_cases";
    let work = Work::new("corpus");
    let mut cases = corpus_case_names();
    if let Ok(only) = std::env::var("RSETKEY_CASES") {
        let wanted: Vec<&str> = only.split_whitespace().collect();
        cases.retain(|c| wanted.iter().any(|w| c.starts_with(w)));
    }
    assert!(!cases.is_empty(), "{test}: no cases selected");
    let shards = std::env::var("RSETKEY_SHARDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    match run_cases(&work, &cases, shards) {
        Ok(out) => assert_cases(test, &out, &cases),
        Err(e) => give_up(test, e),
    }
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
    assert_eq!(normalize(dump, false), want);
    let x = "00:00:01.000123 \nsadb_lifetime{ alloc=0, bytes=0\n  addtime=1704067201, usetime=0 }\n\
             1704067200.000000 \n1704070800.000000 \n  addtime=1704070800 }\n";
    let xwant = "<T> \nsadb_lifetime{ alloc=0, bytes=0\n  addtime=<T>, usetime=0 }\n\
                 <T> \n1704070800.000000 \n  addtime=1704070800 }\n";
    assert_eq!(normalize(x, true), xwant);
    // outside monitor output the epoch fields stay
    assert_eq!(normalize(x, false), x);
}

#[test]
fn wire_check_recognises_the_recorded_tutorial_traffic() {
    // the recording has 3 pings one way: 3 packets per direction
    let recorded =
        fs::read_to_string(cases_dir().join("069-traffic-tutorial/tcpdump.txt")).unwrap();
    let doubled = format!("{recorded}{recorded}");
    assert_eq!(check_wire(&doubled), Vec::<String>::new());
    let plain = "IP 10.141.176.2 > 10.141.176.3: ICMP echo request, id 1, seq 1, length 64\n";
    assert!(!check_wire(plain).is_empty());
}
