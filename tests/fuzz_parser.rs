//! Fuzzing the script parser: it must never panic, whatever it reads.
//!
//! Inputs: random bytes, random text over setkey's alphabet, token soup
//! from the corpus' own words, and mutations of every corpus script
//! (`fixtures/cases/*/script.conf`, `grammar/examples/*.conf`) — bit flips,
//! inserted, deleted, duplicated and spliced bytes, deleted, repeated,
//! swapped and replaced tokens, extreme numbers, truncation.
//!
//! For every input, `parse_script_with` returns without panicking; every
//! error renders through miette (with and without the source attached);
//! every successful parse prints through [`print`], and when all its
//! operations are printable, the printed script parses back to them.
//!
//! The four generators run concurrently, each in its own thread with its
//! own input stream. Budget: `RSETKEY_FUZZ_SECONDS=S` runs every generator
//! for S seconds (so the test takes about S seconds); otherwise
//! `RSETKEY_FUZZ_CASES` inputs per generator (default 5 000, for CI).
//! `RSETKEY_FUZZ_SEED` sets the seed (default fixed, so a failure
//! reproduces). With `--nocapture` the test prints the inputs run per
//! generator and in total. A failure (a panic or a broken property) stops
//! the run and prints the generator, the seed, the case number and the
//! input. See `benches/README.md` for a long run.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use rsetkey::ir::Keys;
use rsetkey::ir::print;
use rsetkey::ir::{Operation, SupportedAlgorithms};
use rsetkey::parse::{FileNames, Options, parse_script_with};

/// splitmix64: a tiny deterministic generator, enough to drive mutations
/// without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn names() -> &'static FileNames {
    static NAMES: OnceLock<FileNames> = OnceLock::new();
    NAMES.get_or_init(|| {
        FileNames::from_dir(&root().join("fixtures/etc")).expect("fixtures/etc is readable")
    })
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn seed() -> u64 {
    env_number("RSETKEY_FUZZ_SEED").unwrap_or(0x5e7_4e7)
}

/// How long each generator runs.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// This many inputs (`RSETKEY_FUZZ_CASES`, default 5 000).
    Cases(u64),
    /// Until this much time has passed (`RSETKEY_FUZZ_SECONDS`).
    Time(Duration),
}

impl Budget {
    fn from_env() -> Budget {
        match env_number("RSETKEY_FUZZ_SECONDS") {
            Some(s) => Budget::Time(Duration::from_secs(s)),
            None => Budget::Cases(env_number("RSETKEY_FUZZ_CASES").unwrap_or(5_000)),
        }
    }

    fn allows(self, done: u64, started: Instant) -> bool {
        match self {
            Budget::Cases(n) => done < n,
            Budget::Time(d) => started.elapsed() < d,
        }
    }
}

/// Every corpus script and grammar example.
fn corpus() -> &'static [String] {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files: Vec<PathBuf> = Vec::new();
        if let Ok(dir) = std::fs::read_dir(root().join("fixtures/cases")) {
            files.extend(
                dir.filter_map(|e| e.ok())
                    .map(|e| e.path().join("script.conf"))
                    .filter(|p| p.is_file()),
            );
        }
        if let Ok(dir) = std::fs::read_dir(root().join("grammar/examples")) {
            files.extend(
                dir.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "conf")),
            );
        }
        files.sort();
        let texts: Vec<String> = files
            .iter()
            .filter_map(|p: &PathBuf| std::fs::read(Path::new(p)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
        assert!(texts.len() > 10, "corpus scripts not found");
        texts
    })
}

/// Words of the corpus plus edge cases, for token-level mutations.
fn dictionary() -> &'static [String] {
    static DICT: OnceLock<Vec<String>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut words: Vec<String> = corpus()
            .iter()
            .flat_map(|t| t.split_whitespace().map(str::to_string))
            .collect();
        words.extend(
            [
                ";",
                "\"",
                "#",
                "\n",
                "-P",
                "-E",
                "-A",
                "-C",
                "-R",
                "-ctx",
                "tagged",
                "esp-udp",
                "tcp-md5",
                "0x",
                "0x1g",
                "4294967296",
                "18446744073709551616",
                "99999999999999999999999999",
                "-2147483648",
                "unique:99999999999",
                "prio",
                "low",
                "+",
                "-",
                "[",
                "]",
                "/",
                "//",
                "%",
                "fe80::1%999999999999",
                "::ffff:1.2.3.4",
                "1.2.3.4-::1",
                "me-any",
                "any-me",
                "\\",
                "\u{0}",
                "é",
                "\u{202e}",
            ]
            .map(str::to_string),
        );
        words.sort();
        words.dedup();
        words
    })
}

/// Bytes that matter to the lexer, favoured when inserting.
const INTERESTING: &[u8] = b";\"#\n\t []/-0x%,:.+_9aZ\\*@\xff\x00";

fn mutate_bytes(rng: &mut Rng, b: &mut Vec<u8>) {
    let len = b.len();
    match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            b[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = rng.below(len + 1);
            let c = if rng.chance(3) {
                rng.next() as u8
            } else {
                *rng.pick(INTERESTING)
            };
            b.insert(i, c);
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(8.min(len - i));
            b.drain(i..i + n);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(32.min(len - i));
            let chunk: Vec<u8> = b[i..i + n].to_vec();
            let at = rng.below(len + 1);
            b.splice(at..at, chunk);
        }
        4 => {
            // Splice in a piece of another script.
            let other = rng.pick(corpus()).as_bytes();
            if !other.is_empty() {
                let i = rng.below(other.len());
                let n = 1 + rng.below(64.min(other.len() - i));
                let at = rng.below(len + 1);
                b.splice(at..at, other[i..i + n].iter().copied());
            }
        }
        5 if len > 0 => b.truncate(rng.below(len)),
        6 => {
            // Replace a digit run with an extreme number.
            let from = rng.below(len.max(1));
            let start = (0..len)
                .map(|k| (from + k) % len)
                .find(|&i| b[i].is_ascii_digit());
            if let Some(start) = start {
                let end = (start..len)
                    .find(|&i| !b[i].is_ascii_digit())
                    .unwrap_or(len);
                let big = *rng.pick(&[
                    "0",
                    "255",
                    "256",
                    "65536",
                    "4294967295",
                    "4294967296",
                    "18446744073709551615",
                    "18446744073709551616",
                    "999999999999999999999999999999",
                ]);
                b.splice(start..end, big.bytes());
            }
        }
        _ => mutate_tokens(rng, b),
    }
}

/// Token-level edits on whitespace-separated words.
fn mutate_tokens(rng: &mut Rng, b: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(b).into_owned();
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    let n = words.len();
    match rng.below(5) {
        0 if n > 1 => {
            words.remove(rng.below(n));
        }
        1 => {
            let w = words[rng.below(n)].clone();
            words.insert(rng.below(n + 1), w);
        }
        2 if n > 1 => {
            let (i, j) = (rng.below(n), rng.below(n));
            words.swap(i, j);
        }
        3 => {
            let i = rng.below(n);
            words[i] = rng.pick(dictionary()).clone();
        }
        _ => {
            let w = rng.pick(dictionary()).clone();
            words.insert(rng.below(n + 1), w);
        }
    }
    *b = words.join(" ").into_bytes();
}

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Refused with an error (which rendered).
    Rejected,
    /// Accepted; some operation has no setkey spelling (e.g. a name that
    /// resolved to several addresses in `deleteall`).
    Accepted,
    /// Accepted, printed and read back to the same operations.
    RoundTripped,
}

/// One input's checks; returns a description of a broken property.
fn check(text: &str, rfc_mode: bool) -> Result<Outcome, String> {
    let options = Options {
        rfc_mode,
        ..Options::default()
    };
    match parse_script_with(text, &options, names()) {
        Err(e) => {
            let headline = e.to_string();
            let _ = e.help_text();
            // The error already carries the (masked) script; attaching it
            // again under a name is what the CLI does before rendering.
            let full = format!(
                "{:?}",
                miette::Report::new(e.with_source_name("fuzz.conf", text.to_string()))
            );
            if headline.is_empty() || full.is_empty() {
                return Err("an error rendered as nothing".into());
            }
            Ok(Outcome::Rejected)
        }
        Ok(statements) => {
            let ops: Vec<Operation> = statements
                .iter()
                .flat_map(|s| s.operations.iter().cloned())
                .collect();
            let _ = print::statement_lines(&statements, Keys::Mask);
            let supported = SupportedAlgorithms::linux_default();
            if !ops.iter().all(|op| print::printable(op, &supported)) {
                return Ok(Outcome::Accepted);
            }
            let printed = print::script(&ops, Keys::Show);
            let kernel = Options {
                rfc_mode: false,
                ..Options::default()
            };
            match parse_script_with(&printed, &kernel, names()) {
                Ok(back) => {
                    let back: Vec<Operation> =
                        back.into_iter().flat_map(|s| s.operations).collect();
                    if back == ops {
                        Ok(Outcome::RoundTripped)
                    } else {
                        Err(format!(
                            "printed operations parse back differently:\n{printed}"
                        ))
                    }
                }
                Err(e) => Err(format!("printed operations do not parse: {e}\n{printed}")),
            }
        }
    }
}

thread_local! {
    /// Set on generator threads: their panics are recorded, not printed.
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    /// The message and location of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps the panic of a generator thread
/// for the report (with its location); other threads' panics go to the
/// previous hook.
fn quiet_panics_of_generators() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// An input generator.
struct Generator {
    name: &'static str,
    make: fn(&mut Rng) -> String,
}

/// What one generator did: inputs per [`Outcome`].
type Tally = [u64; 3];

/// The first failure of a campaign.
struct Failure {
    generator: &'static str,
    case: u64,
    input: String,
    /// A panic, not a broken property.
    panicked: bool,
    problem: String,
}

/// Runs every generator in its own thread within `budget`; returns what
/// each did and the first panic or broken property.
fn campaign(generators: &[Generator], seed: u64, budget: Budget) -> (Vec<Tally>, Option<Failure>) {
    quiet_panics_of_generators();
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<Failure>> = Mutex::new(None);
    let tallies = std::thread::scope(|s| {
        let handles: Vec<_> = generators
            .iter()
            .enumerate()
            .map(|(stream, g)| {
                let (stop, failure) = (&stop, &failure);
                s.spawn(move || {
                    FUZZING.with(|f| f.set(true));
                    let stream = stream as u64 + 1;
                    let mut rng = Rng(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
                    let started = Instant::now();
                    let mut tally: Tally = [0; 3];
                    let mut i = 0u64;
                    while budget.allows(i, started) && !stop.load(Ordering::Relaxed) {
                        let text = (g.make)(&mut rng);
                        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                            check(&text, i.is_multiple_of(2))
                        }));
                        let (panicked, problem) = match outcome {
                            Ok(Ok(o)) => {
                                tally[o as usize] += 1;
                                i += 1;
                                continue;
                            }
                            Ok(Err(p)) => (false, p),
                            Err(_) => (
                                true,
                                LAST_PANIC
                                    .with(|p| p.borrow_mut().take())
                                    .unwrap_or_else(|| "panicked".into()),
                            ),
                        };
                        stop.store(true, Ordering::Relaxed);
                        let mut f = failure.lock().unwrap_or_else(|e| e.into_inner());
                        if f.is_none() {
                            *f = Some(Failure {
                                generator: g.name,
                                case: i,
                                input: text,
                                panicked,
                                problem,
                            });
                        }
                        break;
                    }
                    tally
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect::<Vec<Tally>>()
    });
    (
        tallies,
        failure.into_inner().unwrap_or_else(|e| e.into_inner()),
    )
}

fn random_bytes(rng: &mut Rng) -> String {
    let len = rng.below(300);
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_setkey_alphabet(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"adeglnpstuxP-ARECmfru46 \n\t;\"#[]/0123456789x.:%,+_abcdefhimoqvwyz";
    let len = rng.below(400);
    (0..len).map(|_| char::from(*rng.pick(ALPHABET))).collect()
}

fn token_soup(rng: &mut Rng) -> String {
    const SEPS: &[&str] = &[" ", " ", "\n", "\t", ";", " # c\n", ""];
    let n = rng.below(60);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick::<String>(dictionary()));
        s.push_str(rng.pick::<&str>(SEPS));
    }
    s
}

fn mutated_corpus(rng: &mut Rng) -> String {
    let mut b = rng.pick(corpus()).as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes(rng, &mut b);
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn parser_never_panics() {
    let generators = [
        Generator {
            name: "random bytes",
            make: random_bytes,
        },
        Generator {
            name: "setkey alphabet",
            make: random_setkey_alphabet,
        },
        Generator {
            name: "token soup",
            make: token_soup,
        },
        Generator {
            name: "mutated corpus",
            make: mutated_corpus,
        },
    ];
    // Built before the clock starts.
    let _ = (corpus(), dictionary(), names());
    let seed = seed();
    let started = Instant::now();
    let (tallies, failure) = campaign(&generators, seed, Budget::from_env());
    let secs = started.elapsed().as_secs_f64();
    for (g, t) in generators.iter().zip(&tallies) {
        eprintln!(
            "fuzz_parser: {}: {} inputs: {} rejected, {} accepted, {} of them printed and \
             read back",
            g.name,
            t.iter().sum::<u64>(),
            t[0],
            t[1] + t[2],
            t[2],
        );
    }
    let total: u64 = tallies.iter().flatten().sum();
    let panics = u32::from(failure.as_ref().is_some_and(|f| f.panicked));
    eprintln!("fuzz_parser: {total} inputs in {secs:.1} s, {panics} panics (seed {seed})");
    if let Some(f) = failure {
        let what = if f.panicked {
            "panic"
        } else {
            "broken property"
        };
        panic!(
            "fuzz_parser: {what} in {}: case {} (RSETKEY_FUZZ_SEED={seed}): {}\ninput: {:?}",
            f.generator, f.case, f.problem, f.input
        );
    }
}

#[test]
fn corpus_scripts_themselves() {
    // The unmutated scripts: every accepted one prints and reads back.
    for (i, text) in corpus().iter().enumerate() {
        for rfc in [true, false] {
            if let Err(p) = check(text, rfc) {
                panic!("corpus script {i}: {p}");
            }
        }
    }
}
