//! What the kernel tests (`tests/kernel.rs`, `tests/xfrm_kernel.rs`) share:
//! booting the test kernel of `tests/harness/kernel` (UML or QEMU, with or
//! without `af_key`), replaying recorded cases in it with `run-cases`, the
//! tutorial on the wire with `tutorial-wire`, the normalisation of what
//! varies between runs, the comparison with the recordings of
//! `fixtures/cases`, and the rule for a test kernel that cannot run (the
//! test fails, saying what is missing; skipping on purpose is
//! `RSETKEY_SKIP_KERNEL_TESTS=1` at build time, which cargo counts as
//! ignored).
//!
//! See `tests/harness/README.md` for the environment variables.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod roundtrip;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

// ---------------------------------------------------------------------------
// Paths, switches
// ---------------------------------------------------------------------------

/// The repository (the crate's folder).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A script of `tests/harness/`.
pub fn harness(script: &str) -> PathBuf {
    repo().join("tests").join("harness").join(script)
}

/// The recorded cases, `fixtures/cases`.
pub fn cases_dir() -> PathBuf {
    repo().join("fixtures").join("cases")
}

/// The binary under test: the crate's rsetkey, or `RSETKEY_KERNEL_TOOL` (to
/// check the harness itself with another setkey-compatible program).
pub fn rsetkey() -> PathBuf {
    match std::env::var_os("RSETKEY_KERNEL_TOOL") {
        Some(tool) => PathBuf::from(tool),
        None => PathBuf::from(env!("CARGO_BIN_EXE_rsetkey")),
    }
}

/// Whether the environment variable `name` is `1`, `true` or `yes`.
pub fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// `p` quoted for a POSIX shell.
pub fn sh_quote(p: impl AsRef<std::ffi::OsStr>) -> String {
    let s = p.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command line for a POSIX shell: every word quoted.
pub fn sh_words(words: &[String]) -> String {
    words.iter().map(sh_quote).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// Every case folder of `fixtures/cases` (those with a `script.conf`), sorted.
pub fn corpus_case_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cases_dir())
        .expect("fixtures/cases")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("script.conf").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Whether the case runs under a `setkey -x`/`-xx` monitor: those watch
/// PF_KEY messages, so they exist only with PF_KEY.
pub fn is_monitor_case(case: &str) -> bool {
    let mode = read_text(&cases_dir().join(case).join("mode")).unwrap_or_default();
    matches!(mode.split_whitespace().next(), Some("x" | "xx"))
}

/// The corpus, limited by `RSETKEY_CASES="001 057 ..."` to the cases whose
/// names start so; without the monitor cases when `monitors` is false.
pub fn selected_cases(monitors: bool) -> Vec<String> {
    let mut cases = corpus_case_names();
    // setkey behaviour rsetkey deliberately does not reproduce (README,
    // "Differences from setkey"); tests/parse_corpus.rs checks rsetkey's
    // error for them instead
    cases.retain(|c| !cases_dir().join(c).join("rsetkey.differs").exists());
    if let Ok(only) = std::env::var("RSETKEY_CASES") {
        let wanted: Vec<&str> = only.split_whitespace().collect();
        cases.retain(|c| wanted.iter().any(|w| c.starts_with(w)));
    }
    if !monitors {
        cases.retain(|c| !is_monitor_case(c));
    }
    cases
}

/// The number of guests a corpus run is spread over: `RSETKEY_SHARDS`,
/// default 2 (the CI machine has 2 cores; a guest keeps about one busy).
pub fn shards() -> usize {
    std::env::var("RSETKEY_SHARDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

// ---------------------------------------------------------------------------
// The guest
// ---------------------------------------------------------------------------

/// Why a guest run gave no usable result.
#[derive(Debug)]
pub enum GuestError {
    /// The test kernel could not be installed or booted (harness exit 125).
    Unavailable(String),
    /// The kernel ran, but the command failed, hung or crashed the guest.
    Failed(String),
}

/// Which kernel interfaces the guest offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The recordings' module list: PF_KEY (`af_key`) and XFRM netlink.
    WithAfKey,
    /// The same without `af_key`: XFRM netlink only, as on most distribution
    /// kernels today, where rsetkey's `--backend auto` must fall back to XFRM.
    WithoutAfKey,
    /// Neither `af_key` nor the ESP transforms (`esp4`, `esp6`): a kernel
    /// that can hold policies but no ESP SA.
    WithoutAfKeyOrEsp,
}

impl Kernel {
    /// A shell test that holds in such a guest (checked before the command,
    /// so that a module list set from outside cannot silently change what a
    /// test tests).
    fn guard(self) -> &'static str {
        match self {
            Kernel::WithAfKey => {
                "[ -e /proc/net/pfkey ] || { echo 'kernel test: this guest should have \
                 PF_KEY (af_key), but /proc/net/pfkey is missing' >&2; exit 3; }; exec \"$@\""
            }
            Kernel::WithoutAfKey | Kernel::WithoutAfKeyOrEsp => {
                "[ ! -e /proc/net/pfkey ] || { echo 'kernel test: this guest should have \
                 no PF_KEY, but af_key is loaded' >&2; exit 3; }; exec \"$@\""
            }
        }
    }
}

/// The test kernel of this host, as `tests/harness/kernel --which` chose it
/// (installing it on first use): `uml`, or `qemu` with its accelerator.
#[derive(Clone, Debug)]
pub struct TestKernel {
    /// `uml` or `qemu`.
    pub kind: String,
    /// `kvm` or `tcg` under QEMU, empty under UML.
    pub accel: String,
    /// The line the harness printed: `test kernel: qemu/tcg, Linux ...`.
    pub line: String,
}

impl TestKernel {
    /// How many times slower than UML a guest's work runs: timeouts are
    /// stretched by it.  Software emulation (TCG) is several times slower.
    pub fn slowdown(&self) -> u64 {
        if self.accel == "tcg" { 5 } else { 1 }
    }
}

/// The message of a run that finds no test kernel: what is missing, and how
/// to skip the kernel tests on purpose.
fn no_test_kernel(why: &str) -> String {
    format!(
        "no test kernel can run on this host, so the kernel tests cannot run.\n\
         tests/harness/kernel said:\n{why}\n\
         The kernel tests need root (or password-less sudo) for apt-get, and either \
         Debian's user-mode-linux or qemu-system-x86 with Debian's stock kernel \
         (see tests/harness/README.md).\n\
         To skip them on purpose, build the tests with RSETKEY_SKIP_KERNEL_TESTS=1: \
         cargo then counts them as ignored."
    )
}

/// The test kernel, chosen once per test binary; the choice is printed once,
/// past cargo's output capture, so that every run shows which kernel its
/// kernel tests used.
pub fn test_kernel() -> Result<&'static TestKernel, GuestError> {
    static CHOICE: OnceLock<Result<TestKernel, String>> = OnceLock::new();
    let choice = CHOICE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(harness("kernel"))
            .arg("--which")
            .current_dir(repo())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run bash tests/harness/kernel: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().unwrap_or("").to_string();
        let spec = line.strip_prefix("test kernel: ").unwrap_or("");
        let spec = spec.split(',').next().unwrap_or("");
        let (kind, accel) = spec.split_once('/').unwrap_or((spec, ""));
        if !out.status.success() || !matches!(kind, "uml" | "qemu") {
            return Err(format!(
                "exit status {:?}\n{stdout}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // straight to the file descriptor: libtest captures only print!/eprint!
        let _ = writeln!(std::io::stderr(), "{line}");
        Ok(TestKernel {
            kind: kind.to_string(),
            accel: accel.to_string(),
            line,
        })
    });
    choice
        .as_ref()
        .map_err(|why| GuestError::Unavailable(no_test_kernel(why)))
}

/// One boot of the test kernel running one command.
pub struct Guest {
    /// Named in messages.
    pub what: String,
    pub kernel: Kernel,
    pub command: Vec<String>,
    /// Seconds before the harness kills the guest (unless
    /// `RSETKEY_GUEST_TIMEOUT` says otherwise), as UML needs them; other
    /// kernels stretch it by [`TestKernel::slowdown`].
    pub timeout: u64,
    /// Virtual CPUs under QEMU (UML has one). 1 for guests that run beside
    /// others (corpus shards); a guest that runs alone and forks much (the
    /// Ansible rollout) takes every core of the host.
    pub cpus: u32,
}

impl Guest {
    /// Starts `tests/harness/kernel -- COMMAND...` (cwd = the repository) on
    /// the chosen kernel.
    fn spawn(&self, chosen: &TestKernel) -> std::process::Child {
        let mut cmd = Command::new("bash");
        cmd.arg(harness("kernel"));
        if std::env::var_os("RSETKEY_GUEST_TIMEOUT").is_none() {
            let timeout = self.timeout * chosen.slowdown();
            cmd.args(["--timeout", &timeout.to_string()]);
        }
        cmd.args(["--", "bash", "-c", self.kernel.guard(), "guard"])
            .args(&self.command);
        cmd.env("RSETKEY_TEST_KERNEL", &chosen.kind);
        if !chosen.accel.is_empty() {
            cmd.env("RSETKEY_QEMU_ACCEL", &chosen.accel);
        }
        cmd.env("RSETKEY_GUEST_CPUS", self.cpus.to_string());
        match self.kernel {
            Kernel::WithAfKey => cmd.env_remove("RSETKEY_GUEST_SKIP_MODULES"),
            Kernel::WithoutAfKey => cmd.env("RSETKEY_GUEST_SKIP_MODULES", "af_key"),
            Kernel::WithoutAfKeyOrEsp => cmd.env("RSETKEY_GUEST_SKIP_MODULES", "af_key esp4 esp6"),
        };
        cmd.current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run bash tests/harness/kernel")
    }
}

/// Boots all guests at once and waits for all of them.  An unavailable test
/// kernel wins over a failed command, so that the test fails once for the
/// right reason.
pub fn run_guests(guests: &[Guest]) -> Result<(), GuestError> {
    let chosen = test_kernel()?;
    let start = Instant::now();
    let children: Vec<_> = guests.iter().map(|g| g.spawn(chosen)).collect();
    let mut err = None;
    for (guest, child) in guests.iter().zip(children) {
        let out = child
            .wait_with_output()
            .expect("waiting for the guest failed");
        let text = || {
            format!(
                "{} ({:?}): exit status {:?}\n--- stdout\n{}--- stderr\n{}",
                guest.what,
                guest.kernel,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        match out.status.code() {
            Some(0) => {}
            Some(125) => err = Some(GuestError::Unavailable(no_test_kernel(&text()))),
            _ => {
                if err.is_none() {
                    err = Some(GuestError::Failed(text()))
                }
            }
        }
    }
    eprintln!(
        "kernel test: {} guest(s) [{}] on {}: {:.1}s",
        guests.len(),
        guests
            .iter()
            .map(|g| g.what.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        chosen.line.trim_start_matches("test kernel: "),
        start.elapsed().as_secs_f64()
    );
    err.map_or(Ok(()), Err)
}

/// What a test does when the guest failed: it fails, whether the test
/// kernel could not run at all or the command in it failed.  (Skipping on
/// purpose is `RSETKEY_SKIP_KERNEL_TESTS=1` at build time: the tests are then
/// `#[ignore]`d, and cargo's summary counts them.)
pub fn give_up(test: &str, err: GuestError) {
    match err {
        GuestError::Unavailable(why) => panic!("{test}: {why}"),
        GuestError::Failed(why) => panic!("{test}: the guest run failed:\n{why}"),
    }
}

/// Writes `text` to `dir/name` with the permission bits `mode`.
pub fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write a test file");
    let mut perm = fs::metadata(&path).expect("test file").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, mode);
    fs::set_permissions(&path, perm).expect("chmod a test file");
    path
}

/// Writes a script readable by its owner only (rsetkey warns about keys
/// others can read).
pub fn write_private(dir: &Path, name: &str, text: &str) -> PathBuf {
    write_file(dir, name, text, 0o600)
}

/// A scratch directory for one test, removed when the test passes (kept
/// when it fails, or always with `RSETKEY_KEEP_WORK=1`).
pub struct Work {
    pub dir: PathBuf,
}

impl Work {
    pub fn new(tag: &str) -> Work {
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

/// The `run-cases` command line replaying `cases` with `tool` into `out`.
pub fn run_cases_command(tool: &Path, out: &Path, cases: &[String]) -> Vec<String> {
    let mut c = vec![
        "bash".to_string(),
        harness("run-cases").display().to_string(),
        "--tool".to_string(),
        tool.display().to_string(),
        "--cases".to_string(),
        cases_dir().display().to_string(),
        "--out".to_string(),
        out.display().to_string(),
        "--".to_string(),
    ];
    c.extend(cases.iter().cloned());
    c
}

/// Guests replaying `cases` with `tool` into `out` (OUT/CASE/...), the cases
/// dealt round-robin over `shards` guests (neighbouring cases are often
/// alike, so every guest gets a similar share of the work).
pub fn run_cases_guests(
    what: &str,
    kernel: Kernel,
    tool: &Path,
    out: &Path,
    cases: &[String],
    shards: usize,
) -> Vec<Guest> {
    let shards = shards.clamp(1, cases.len().max(1));
    (0..shards)
        .map(|s| {
            let mine: Vec<String> = cases.iter().skip(s).step_by(shards).cloned().collect();
            Guest {
                cpus: 1,
                what: format!("{what} {}/{shards}", s + 1),
                kernel,
                // ~1 s per case on an idle core; room for a loaded machine
                timeout: 120 + 10 * mine.len() as u64,
                command: run_cases_command(tool, out, &mine),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Normalisation: exactly the "Fields that vary" of fixtures/README.md
// ---------------------------------------------------------------------------

/// T0 = 2024-01-01 00:00:00 UTC, the clock of every recording.
pub const T0: u64 = 1_704_067_200;

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

/// What a text to normalise is: the fields that vary differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// A dump or the stdout of a script run.
    Plain,
    /// What a `-x` / `-xx` monitor printed.
    Monitor,
    /// The stdout of a `-v` script run: the PF_KEY messages sent and
    /// received, printed as the monitor prints them.
    Verbose,
}

/// Normalises a dump / stdout text (README "Fields that vary") and, for
/// monitor and verbose output, also the fields only those print:
///
/// 1. `created: `, `current: `, `last: `, `lastused: ` followed by a stamp in
///    the first hour after T0 (`Jan  1 00:MM:SS 2024`) -> `<T>`;
/// 2. `diff: N(s)` -> `diff: <N>(s)`;
/// 3. a line `\trefcnt=N` -> `\trefcnt=<N>`;
/// 4. `unique#N` -> `unique#<N>`;
/// 5. (monitor) `addtime=` / `usetime=` with an epoch second in the first
///    hour after T0 -> `<T>`; a message's leading timestamp line
///    (`00:MM:SS.UUUUUU ` for -x, `17040NNNNN.UUUUUU ` for -xx) in that
///    hour -> `<T> `;
/// 6. (verbose) the key bytes of a `  key= ... }` line -> `<K>`: rsetkey
///    masks keys in `-v` unless `--show-keys` (a documented difference;
///    the `bits=` line before it still counts).
///
/// Everything else is compared byte for byte.
pub fn normalize(text: &str, kind: Text) -> String {
    let monitor = kind != Text::Plain;
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
        if kind == Text::Verbose && line.starts_with("  key= ") && line.ends_with(" }") {
            line = "  key= <K> }".to_string();
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

/// A file's text (lossy UTF-8), `None` when it cannot be read.
pub fn read_text(path: &Path) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// An exit status file's number; an absent file means 0 (the recordings keep
/// D.exit etc. only when not 0).
pub fn exit_of(path: &Path) -> Option<i32> {
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
pub fn short_diff(expected: &str, actual: &str, max: usize) -> String {
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
pub struct Verdict {
    /// The case, with the run's name when there are several.
    pub case: String,
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    pub diffs: String,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// `PASS case` or `FAIL case: what`, notes, then the short diffs indented.
    pub fn report(&self) -> String {
        let mut s = if self.passed() {
            format!("PASS {}", self.case)
        } else {
            format!("FAIL {}: {}", self.case, self.failures.join("; "))
        };
        if !self.notes.is_empty() {
            s += &format!(" (note: {})", self.notes.join("; "));
        }
        if !self.diffs.is_empty() {
            for line in self.diffs.lines() {
                s += "\n    ";
                s += line;
            }
        }
        s
    }
}

/// One thing a case produced: an output text, an exit status file, a stderr
/// file (each may be absent).
struct Item {
    text: Option<String>,
    exit: Option<String>,
    stderr: Option<String>,
}

impl Item {
    /// `NAME.{txt_ext,exit,stderr}`.
    fn run(name: &str, text_ext: &str) -> Item {
        Item {
            text: Some(format!("{name}.{text_ext}")),
            exit: Some(format!("{name}.exit")),
            stderr: Some(format!("{name}.stderr")),
        }
    }
}

/// Compares a replayed case (`actual` = OUT/CASE) with its recording
/// (`expected` = fixtures/cases/CASE): exit statuses, stdout, the dumps,
/// monitor output, the peer's side and the pings of a traffic case, after
/// [`normalize`].  stderr differences are only noted: rsetkey adds its own
/// diagnostics after setkey's lines on purpose.
///
/// Deliberate difference from setkey: when setkey's script run exited 1 in
/// a mode that reads the script with `-f` (f, n, k, r, v, x, xx: the script
/// did not parse), setkey had applied the
/// statements before the error, rsetkey applies nothing; so the expected
/// dumps are the empty databases.
pub fn compare_case(label: &str, expected: &Path, actual: &Path) -> Verdict {
    let case = expected.file_name().unwrap().to_string_lossy().into_owned();
    let mut v = Verdict {
        case: if label.is_empty() {
            case
        } else {
            format!("{case} [{label}]")
        },
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
        && matches!(mode.as_str(), "f" | "n" | "k" | "r" | "v" | "x" | "xx");

    let mut items = vec![Item::run("setkey", "stdout")];
    for k in 1..=lines_of(expected, "after").len() {
        items.push(Item::run(&format!("after{k}"), "stdout"));
    }
    let mut dumps = vec!["D".to_string(), "DP".to_string()];
    dumps.extend(lines_of(expected, "dumps").iter().map(|l| {
        l.replace(char::is_whitespace, "")
            .trim_start_matches('-')
            .to_string()
    }));
    items.extend(dumps.iter().map(|d| Item::run(d, "txt")));
    if monitor {
        items.push(Item {
            text: Some("x.txt".into()),
            exit: None,
            stderr: None,
        });
    }
    if traffic {
        items.push(Item::run("peer", "stdout"));
        items.push(Item::run("peer-D", "txt"));
        items.push(Item::run("peer-DP", "txt"));
        // the recording has no ping.exit: the pings went through
        items.push(Item {
            text: None,
            exit: Some("ping.exit".into()),
            stderr: None,
        });
    }

    for item in items {
        if let Some(exit) = &item.exit {
            let (e, a) = (exit_of(&expected.join(exit)), exit_of(&actual.join(exit)));
            if e != a {
                v.failures.push(format!("{exit}: {a:?} != expected {e:?}"));
                if exit == "ping.exit" {
                    v.diffs += &read_text(&actual.join("ping.txt")).unwrap_or_default();
                }
            }
        }
        if let Some(text) = &item.text {
            let is_dump = text.ends_with(".txt") && text != "x.txt";
            let want = if nothing_applied && is_dump && text.starts_with("DP") {
                Some("No SPD entries.\n".to_string())
            } else if nothing_applied && is_dump && text.starts_with('D') {
                Some("No SAD entries.\n".to_string())
            } else {
                read_text(&expected.join(text))
            };
            let kind = if text == "x.txt" {
                Text::Monitor
            } else if text == "setkey.stdout" && mode == "v" {
                Text::Verbose
            } else {
                Text::Plain
            };
            let want = normalize(&want.unwrap_or_default(), kind);
            match read_text(&actual.join(text)) {
                None => v.failures.push(format!("{text} missing")),
                Some(got) => {
                    let got = normalize(&got, kind);
                    if got != want {
                        v.failures.push(format!("{text} differs"));
                        v.diffs += &format!("--- {text} (- expected, + rsetkey)\n");
                        v.diffs += &short_diff(&want, &got, 14);
                        v.diffs.push('\n');
                    }
                }
            }
        }
        if let Some(stderr) = &item.stderr {
            let want = read_text(&expected.join(stderr)).unwrap_or_default();
            let got = read_text(&actual.join(stderr)).unwrap_or_default();
            if want != got {
                v.notes.push(format!("{stderr} differs"));
            }
        }
    }
    v
}

/// Compares every case of every run (`(label, OUT)`) with the recordings,
/// prints one line per case and run, and panics when one differs.
pub fn assert_runs(test: &str, runs: &[(&str, &Path)], cases: &[String]) {
    let mut report = String::new();
    let (mut passed, mut total) = (0, 0);
    for (label, out) in runs {
        for c in cases {
            let v = compare_case(label, &cases_dir().join(c), &out.join(c));
            total += 1;
            passed += usize::from(v.passed());
            report += &v.report();
            report.push('\n');
        }
    }
    eprint!("{report}");
    // the count goes past cargo's capture: a passing run shows what it ran
    let chosen = test_kernel().map_or("?", |k| k.line.trim_start_matches("test kernel: "));
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {passed}/{total} case runs identical to the recordings ({} run(s): {}; {chosen})",
        runs.len(),
        runs.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
    );
    assert_eq!(
        passed,
        total,
        "{test}: {} case run(s) differ from the recordings (report above)",
        total - passed
    );
}

// ---------------------------------------------------------------------------
// The tutorial on the wire
// ---------------------------------------------------------------------------

/// The case whose `script.conf` / `peer.conf` are the tutorial's two hosts.
pub const TUTORIAL_CASE: &str = "069-traffic-tutorial";

/// The `tutorial-wire` command line: the tutorial with `tool` on two hosts,
/// results in `out`.
pub fn tutorial_wire_command(tool: &Path, out: &Path) -> Vec<String> {
    wire_command(tool, out, &cases_dir().join(TUTORIAL_CASE))
}

/// The `tutorial-wire` command line for the case folder `case` (its
/// `script.conf`, `peer.conf` and `traffic`) with `tool`, results in `out`.
pub fn wire_command(tool: &Path, out: &Path, case: &Path) -> Vec<String> {
    vec![
        "bash".to_string(),
        harness("tutorial-wire").display().to_string(),
        "--tool".to_string(),
        tool.display().to_string(),
        "--out".to_string(),
        out.display().to_string(),
        "--case".to_string(),
        case.display().to_string(),
    ]
}

/// Checks what `tutorial-wire` left in `wire`: both `#!tool -f` executables
/// ran, pings went both ways, every packet on the link is AH over ESP with
/// the tutorial's SPIs and none is plaintext ICMP, and `tool -D` shows
/// non-zero byte counters for the 4 SAs on both hosts.  Returns the problems.
pub fn check_tutorial_wire(wire: &Path, tool: &Path) -> Vec<String> {
    let text = |f: &str| read_text(&wire.join(f)).unwrap_or_default();
    let show = |f: &str| format!("--- {f}\n{}", text(f));
    eprintln!(
        "{}",
        ["host-a.stdout", "host-a.stderr", "tcpdump.txt", "a-D.txt"]
            .map(show)
            .join("\n")
    );
    let mut problems = Vec::new();
    // the executables carry the real binary on their #! line
    let shebang = format!("#!{} -f", tool.display());
    for h in ["host-a", "host-b"] {
        let first = text(&format!("{h}.setkey"));
        if first.lines().next() != Some(shebang.as_str()) {
            problems.push(format!("{h}.setkey does not start with {shebang}"));
        }
    }
    problems.extend(check_wire_run(wire, 4, check_wire));
    problems
}

/// What every run of `tutorial-wire` must leave in `wire`: both hosts'
/// scripts applied, pings both ways, `wire_check` content with the
/// capture, and `sas` SAs with non-zero byte counters in each host's `-D`.
pub fn check_wire_run(
    wire: &Path,
    sas: usize,
    wire_check: impl Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let text = |f: &str| read_text(&wire.join(f)).unwrap_or_default();
    let mut problems = Vec::new();
    for h in ["host-a", "host-b"] {
        let exit = exit_of(&wire.join(format!("{h}.exit")));
        if exit != Some(0) {
            problems.push(format!(
                "{h}.setkey failed: exit {exit:?}\n{}{}",
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
    problems.extend(wire_check(&text("tcpdump.txt")));
    for h in ["a", "b"] {
        let dump = text(&format!("{h}-D.txt"));
        // "\tcurrent: 528(bytes)\thard: 0(bytes)\tsoft: 0(bytes)"
        let counters: Vec<u64> = dump
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("current: "))
            .filter_map(|r| r.split_once("(bytes)"))
            .filter_map(|(n, _)| n.parse().ok())
            .collect();
        if counters.len() != sas || counters.contains(&0) {
            problems.push(format!(
                "host {h}: -D should show {sas} SAs with non-zero byte counters, \
                 found {counters:?}:\n{dump}"
            ));
        }
    }
    problems
}

/// Every IP packet on the link is AH over ESP with the tutorial's SPIs
/// (0x3d54/0x3d55 from .2 to .3, 0x5fb4/0x5fb5 back), both directions occur,
/// no plaintext ICMP.
pub fn check_wire(tcpdump: &str) -> Vec<String> {
    check_wire_chain(
        tcpdump,
        &["AH(spi=0x00003d54,", "ESP(spi=0x00003d55,"],
        &["AH(spi=0x00005fb4,", "ESP(spi=0x00005fb5,"],
    )
}

/// Every IP packet between the tutorial's hosts (.2 and .3) carries
/// exactly the given chain of IPsec headers, as tcpdump prints them
/// (`AH(spi=0x…,…): ESP(spi=0x…,…)`): `a_to_b` from .2 to .3, `b_to_a`
/// back. Both directions occur at least 6 times (3 pings each way), and
/// no ICMP is on the link in plaintext.
pub fn check_wire_chain(tcpdump: &str, a_to_b: &[&str], b_to_a: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in tcpdump.lines().filter(|l| l.starts_with("IP ")) {
        let (dir, chain) = if line.starts_with("IP 10.141.176.2 > 10.141.176.3: ") {
            ("a->b", a_to_b)
        } else if line.starts_with("IP 10.141.176.3 > 10.141.176.2: ") {
            ("b->a", b_to_a)
        } else {
            problems.push(format!("unexpected packet on the link: {line}"));
            continue;
        };
        // Each header after the first follows the `): ` that closes the
        // one before it.
        let mut body = line.split_once(": ").map_or("", |(_, b)| b);
        let mut carries_chain = true;
        for (i, header) in chain.iter().enumerate() {
            if i > 0 {
                match body.split_once("): ") {
                    Some((_, rest)) => body = rest,
                    None => carries_chain = false,
                }
            }
            carries_chain &= body.starts_with(header);
        }
        if !carries_chain {
            problems.push(format!(
                "{dir} packet is not {}..: {line}",
                chain.join("..): ")
            ));
        }
        if line.contains("ICMP") {
            problems.push(format!("plaintext ICMP on the link: {line}"));
        }
        *seen.entry(dir).or_default() += 1;
    }
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
