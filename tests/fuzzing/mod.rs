//! The driver the fuzz targets (`tests/fuzz_parser.rs`,
//! `tests/fuzz_decoder.rs`, `tests/fuzz_xfrm.rs`) share: the random
//! streams, the budget, the generator threads, the capture of their panics
//! and the report. A target brings its generators, what it runs every
//! input through, and how it counts and prints what its generators did.
//!
//! Environment:
//!
//! * `RSETKEY_FUZZ_SECONDS=S` runs every generator for S seconds; the
//!   generators run concurrently, one thread each, so a target takes about
//!   S seconds;
//! * otherwise `RSETKEY_FUZZ_CASES=N` inputs per generator (default 5 000,
//!   for CI);
//! * `RSETKEY_FUZZ_SEED=N` picks another deterministic input stream (each
//!   target has its own fixed default, so a CI failure reproduces).
//!
//! The first panic (or broken property) stops every generator and fails
//! the test with the generator, the seed, the case number, the panic's
//! message and location, and the input: as text for the parser, in hex
//! (with the clock) for the decoders. See `benches/README.md` for a long
//! run.

// Each fuzz target compiles this module and uses only part of it (the
// parser's inputs are text, not datagrams).
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Random streams, environment, budget.

/// splitmix64: small, fast and good enough to drive mutations; no
/// dependency needed.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; 0 when `n` is 0, without drawing (a seed's
    /// input stream depends on what is drawn).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// One of `items`; `None` when there are none.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Flips one to eight random bits of `m` (draws the count even when
    /// `m` is empty, so a seed replays the same campaign).
    pub fn flip_bits(&mut self, m: &mut [u8]) {
        for _ in 0..=self.below(8) {
            if !m.is_empty() {
                let i = self.below(m.len());
                m[i] ^= 1 << self.below(8);
            }
        }
    }
}

pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// `RSETKEY_FUZZ_SEED`, or the target's own `default`.
pub fn seed(default: u64) -> u64 {
    env_number("RSETKEY_FUZZ_SEED").unwrap_or(default)
}

/// How long each generator runs.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// This many inputs (`RSETKEY_FUZZ_CASES`, default 5 000).
    Cases(u64),
    /// Until this much time has passed (`RSETKEY_FUZZ_SECONDS`).
    Time(Duration),
}

impl Budget {
    pub fn from_env() -> Budget {
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

// ---------------------------------------------------------------------------
// Panic capture.

thread_local! {
    /// Set on generator threads: their panics are recorded, not printed.
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    /// The message and location of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps the panic of a generator thread
/// for the report (with its location) instead of printing it for every
/// caught case; other threads' panics go to the previous hook.
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

// ---------------------------------------------------------------------------
// Inputs, and how a failure report shows them.

/// What a generator makes, as a failure report shows it.
pub trait Input: Send {
    /// The report of a failure on this input: `head` (the target, what
    /// failed and in which generator), where to find the input again
    /// (`seed`, `case`), the `problem`, then the input itself.
    fn report(&self, head: &str, seed: u64, case: u64, problem: &str) -> String;
}

/// A script: reported as quoted text (escapes show what is not printable).
impl Input for String {
    fn report(&self, head: &str, seed: u64, case: u64, problem: &str) -> String {
        format!("{head}: case {case} (RSETKEY_FUZZ_SEED={seed}): {problem}\ninput: {self:?}")
    }
}

/// A decoder's input: the bytes of one message or datagram, and the clock
/// the decoders run with (drawn after the bytes, from the same stream).
pub struct Datagram {
    pub bytes: Vec<u8>,
    pub now: u64,
}

/// Reported with its clock, the bytes in hex.
impl Input for Datagram {
    fn report(&self, head: &str, seed: u64, case: u64, problem: &str) -> String {
        format!(
            "{head} (RSETKEY_FUZZ_SEED={seed}, case {case}, now {}): {problem}\ninput: {}",
            self.now,
            hex(&self.bytes)
        )
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Campaign: generator threads, report.

/// An input generator: its name in the summary and reports, and how it
/// makes an input from its stream and the target's material `M` (a corpus,
/// seeds, or nothing).
pub struct Generator<I, M: ?Sized> {
    pub name: &'static str,
    pub make: fn(&mut Rng, &M) -> I,
}

/// What one generator did: the inputs it ran, and what the target counted
/// of them.
#[derive(Debug, Default)]
pub struct Run<T> {
    pub inputs: u64,
    pub tally: T,
}

/// The first failure of a campaign.
pub struct Failure<I> {
    pub generator: &'static str,
    pub case: u64,
    pub input: I,
    /// A panic, not a broken property.
    pub panicked: bool,
    pub problem: String,
}

/// What a campaign did: one [`Run`] per generator, in their order, the
/// first failure, and the seconds it took.
pub struct Campaign<I, T> {
    pub runs: Vec<Run<T>>,
    pub failure: Option<Failure<I>>,
    pub secs: f64,
}

impl<I: Input, T> Campaign<I, T> {
    /// Prints the total (`{target}: N inputs in S s, P panics (seed X)`,
    /// `note` added inside the parentheses), then fails the test with the
    /// report of the first failure, if any (a broken property called
    /// `broken`).
    #[track_caller]
    pub fn conclude(self, target: &str, seed: u64, note: &str, broken: &str) {
        let total: u64 = self.runs.iter().map(|r| r.inputs).sum();
        let panics = u32::from(self.failure.as_ref().is_some_and(|f| f.panicked));
        eprintln!(
            "{target}: {total} inputs in {:.1} s, {panics} panics (seed {seed}{note})",
            self.secs
        );
        if let Some(f) = self.failure {
            let what = if f.panicked { "panic" } else { broken };
            let head = format!("{target}: {what} in {}", f.generator);
            panic!("{}", f.input.report(&head, seed, f.case, &f.problem));
        }
    }
}

/// Runs every generator in its own thread within `budget`, each with its
/// own stream derived from `seed`; returns what each did and the first
/// failure.
///
/// `exercise` runs one input (with its case number: the inputs its
/// generator ran before it) and counts what became of it in the
/// generator's tally; `Err` is a broken property. A panic or a broken
/// property stops every generator.
pub fn campaign<I, M, T, E>(
    generators: &[Generator<I, M>],
    material: &M,
    seed: u64,
    budget: Budget,
    exercise: E,
) -> Campaign<I, T>
where
    I: Input,
    M: Sync + ?Sized,
    T: Default + Send,
    E: Fn(&I, u64, &mut T) -> Result<(), String> + Sync,
{
    let started = Instant::now();
    quiet_panics_of_generators();
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<Failure<I>>> = Mutex::new(None);
    let runs = std::thread::scope(|s| {
        let handles: Vec<_> = generators
            .iter()
            .enumerate()
            .map(|(stream, g)| {
                let (stop, failure, exercise) = (&stop, &failure, &exercise);
                s.spawn(move || {
                    FUZZING.with(|f| f.set(true));
                    let stream = stream as u64 + 1;
                    let mut rng = Rng(seed ^ stream.wrapping_mul(0xa24b_aed4_963e_e407));
                    let started = Instant::now();
                    let mut run = Run::<T>::default();
                    while budget.allows(run.inputs, started) && !stop.load(Ordering::Relaxed) {
                        let input = (g.make)(&mut rng, material);
                        let case = run.inputs;
                        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                            exercise(&input, case, &mut run.tally)
                        }));
                        let (panicked, problem) = match outcome {
                            Ok(Ok(())) => {
                                run.inputs += 1;
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
                                case,
                                input,
                                panicked,
                                problem,
                            });
                        }
                        break;
                    }
                    run
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect::<Vec<Run<T>>>()
    });
    Campaign {
        runs,
        failure: failure.into_inner().unwrap_or_else(|e| e.into_inner()),
        secs: started.elapsed().as_secs_f64(),
    }
}
