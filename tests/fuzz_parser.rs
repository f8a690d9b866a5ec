//! Fuzzing the script parser: it must never panic, whatever it reads.
//!
//! Inputs: random bytes, random text over setkey's alphabet, token soup
//! from the corpus' own words, and mutations of every corpus script
//! (`fixtures/cases/*/script.conf`, `grammar/examples/*.conf`) — bit flips,
//! inserted, deleted, duplicated and spliced bytes, deleted, repeated,
//! swapped and replaced tokens, extreme numbers, truncation.
//!
//! For every input, `parse_script_with` returns without panicking; every
//! error renders to a buffer as the CLI renders it (with and without the
//! source attached, plain and in colour), with no raw control character
//! and at a bounded size;
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
//!
//! The driver (streams, budget, threads, panic capture, report) is
//! `tests/fuzzing/mod.rs`, shared with the other fuzz targets; what is here
//! is the parser's own: its inputs and what every input must satisfy.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzzing;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rsetkey::ir::Keys;
use rsetkey::ir::print;
use rsetkey::ir::{Operation, SupportedAlgorithms};
use rsetkey::parse::diagnostic::render;
use rsetkey::parse::{FileNames, Options, parse_script_with};

use fuzzing::{Budget, Generator, Rng, campaign};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn names() -> &'static FileNames {
    static NAMES: OnceLock<FileNames> = OnceLock::new();
    NAMES.get_or_init(|| {
        FileNames::from_dir(&root().join("fixtures/etc")).expect("fixtures/etc is readable")
    })
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
                *rng.pick(INTERESTING).unwrap_or(&b';')
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
            if let Some(other) = rng.pick(corpus()).map(String::as_bytes)
                && !other.is_empty()
            {
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
                let big = *rng
                    .pick(&[
                        "0",
                        "255",
                        "256",
                        "65536",
                        "4294967295",
                        "4294967296",
                        "18446744073709551615",
                        "18446744073709551616",
                        "999999999999999999999999999999",
                    ])
                    .unwrap_or(&"0");
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
            words[i] = rng.pick(dictionary()).cloned().unwrap_or_default();
        }
        _ => {
            let w = rng.pick(dictionary()).cloned().unwrap_or_default();
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
            // Rendered as the CLI renders it (to a buffer), before and after
            // the script is attached under a name, plain and in colour:
            // this is where panics hid.
            let bare = render(&e, false);
            let e = e.with_source_name("fuzz.conf", text.to_string());
            let plain = render(&e, false);
            let coloured = render(&e, true);
            let full = format!("{:?}", miette::Report::new(e));
            if headline.is_empty() || full.is_empty() || plain.is_empty() || bare.is_empty() {
                return Err("an error rendered as nothing".into());
            }
            for shown in [&headline, &plain, &bare] {
                if let Some(c) = shown
                    .chars()
                    .find(|&c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{7f}')
                {
                    return Err(format!("raw control character {c:?} in:\n{shown}"));
                }
            }
            // A window of the script, never the script: bounded whatever
            // the input's size.
            if plain.len() > 16 * 1024 || coloured.len() > 32 * 1024 {
                return Err(format!("a diagnostic of {} bytes", plain.len()));
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

fn random_bytes(rng: &mut Rng) -> String {
    let len = rng.below(300);
    String::from_utf8_lossy(&rng.bytes(len)).into_owned()
}

fn random_setkey_alphabet(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"adeglnpstuxP-ARECmfru46 \n\t;\"#[]/0123456789x.:%,+_abcdefhimoqvwyz";
    let len = rng.below(400);
    (0..len)
        .map(|_| char::from(*rng.pick(ALPHABET).unwrap_or(&b' ')))
        .collect()
}

fn token_soup(rng: &mut Rng) -> String {
    const SEPS: &[&str] = &[" ", " ", "\n", "\t", ";", " # c\n", ""];
    let n = rng.below(60);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(dictionary()).map_or("", String::as_str));
        s.push_str(rng.pick(SEPS).copied().unwrap_or(" "));
    }
    s
}

fn mutated_corpus(rng: &mut Rng) -> String {
    let mut b = rng
        .pick(corpus())
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_default();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes(rng, &mut b);
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// What one generator did: inputs per [`Outcome`].
type Tally = [u64; 3];

#[test]
fn parser_never_panics() {
    let generators: [Generator<String, ()>; 4] = [
        Generator {
            name: "random bytes",
            make: |rng, _| random_bytes(rng),
        },
        Generator {
            name: "setkey alphabet",
            make: |rng, _| random_setkey_alphabet(rng),
        },
        Generator {
            name: "token soup",
            make: |rng, _| token_soup(rng),
        },
        Generator {
            name: "mutated corpus",
            make: |rng, _| mutated_corpus(rng),
        },
    ];
    // Built before the clock starts.
    let _ = (corpus(), dictionary(), names());
    let seed = fuzzing::seed(0x5e7_4e7);
    // Even cases in setkey's default RFC mode, odd ones in kernel mode.
    let result = campaign(
        &generators,
        &(),
        seed,
        Budget::from_env(),
        |text, case, tally: &mut Tally| {
            tally[check(text, case.is_multiple_of(2))? as usize] += 1;
            Ok(())
        },
    );
    for (g, run) in generators.iter().zip(&result.runs) {
        let t = run.tally;
        eprintln!(
            "fuzz_parser: {}: {} inputs: {} rejected, {} accepted, {} of them printed and \
             read back",
            g.name,
            run.inputs,
            t[0],
            t[1] + t[2],
            t[2],
        );
    }
    result.conclude("fuzz_parser", seed, "", "broken property");
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

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// A statement that fails somewhere on a long line, with control
    /// characters and a key around it: the diagnostic is a bounded window,
    /// free of raw controls and of the key, and names the real column.
    #[test]
    fn diagnostics_window_hostile_lines(
        before in 0usize..3000,
        after in 0usize..3000,
        controls in proptest::collection::vec(
            proptest::prop_oneof![0x01u32..0x20, 0x7fu32..0xa0],
            0..8,
        ),
        key_first in proptest::prelude::any::<bool>(),
    ) {
        let noise: String = controls.iter().filter_map(|&c| char::from_u32(c)).filter(|&c| c != '\n').collect();
        let key = "\"K3YK3YK3YK3YK3YK3Y\"";
        let (k1, k2) = if key_first { (key, "") } else { ("", key) };
        let text = format!(
            "add 10.0.0.1 10.0.0.2 esp 1 {k1} {}{noise} @bad {}{k2};",
            "x".repeat(before),
            "y".repeat(after)
        );
        if let Err(e) = parse_script_with(&text, &Options::default(), names()) {
            let e = e.with_source_name("p.conf", text.clone());
            let shown = render(&e, false);
            proptest::prop_assert!(!shown.contains("K3YK3Y"), "{}", shown);
            proptest::prop_assert!(shown.len() < 4096, "{} bytes", shown.len());
            proptest::prop_assert!(
                !shown.chars().any(|c| (c.is_control() && c != '\n') || c == '\u{7f}'),
                "{}",
                shown
            );
        }
    }
}
