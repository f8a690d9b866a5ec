//! Decoder fuzzing: random and mutated PF_KEY messages must never make the
//! wire parser or any dump printer panic.
//!
//! Every input goes through [`wire::messages`] (and, for each framed
//! message, [`Message::parse`] and a re-emit), [`dump::write_reply`],
//! [`dump::short::write_short`], a [`Printer`] and
//! [`dump::kdebug::write_kdebug`] with keys shown and masked. The inputs
//! are the recorded kernel messages of `fixtures/cases/*` (dumps, and what
//! setkey sent and received), mutated: bit flips, interesting byte values,
//! header and extension length changes, truncation, extension splicing,
//! duplication and removal, concatenation, plus purely random buffers.
//!
//! Two generators run concurrently, each in its own thread with its own
//! input stream: **random messages** (random buffers, half of them behind
//! a plausible header) and **mutated corpus**. Budget:
//! `RSETKEY_FUZZ_SECONDS=S` runs each generator for S seconds (so the test
//! takes about S seconds); otherwise `RSETKEY_FUZZ_CASES` inputs per
//! generator (default 5 000, for CI). Seed: `RSETKEY_FUZZ_SEED` (default
//! fixed, so a CI failure reproduces). With `--nocapture` the test prints
//! the inputs run per generator and in total. A panic stops the run and is
//! reported with the generator, the seed, the case number, the clock, the
//! panic's message and location, and the input in hex.
//!
//! The driver (streams, budget, threads, panic capture, report) is
//! `tests/fuzzing/mod.rs`, shared with the other fuzz targets; what is here
//! is the decoders' own: the corpus, the mutations and what every input
//! goes through.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzzing;

use std::fs;
use std::io;
use std::path::Path;

use rsetkey::dump::kdebug;
use rsetkey::dump::{self, DumpOptions, Printer};
use rsetkey::ir::Keys;
use rsetkey::pfkey::wire::{self, HEADER_LEN, Message};

use fuzzing::{Budget, Datagram, Generator, Rng, campaign, hex};

/// Every raw message file of the corpus, split into single messages.
fn corpus() -> Vec<Vec<u8>> {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases");
    let mut messages = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(&cases)
        .expect("fixtures/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    for dir in dirs {
        for name in ["D.raw", "DP.raw", "F.recv.raw", "F.send.raw"] {
            let Ok(bytes) = fs::read(dir.join(name)) else {
                continue;
            };
            let mut it = wire::messages(&bytes);
            while let Some(Ok(raw)) = it.next_raw() {
                messages.push(raw.to_vec());
            }
        }
    }
    messages
}

/// Offsets of the extension headers of a (possibly damaged) message, as
/// far as they can be walked.
fn extension_offsets(m: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = HEADER_LEN;
    while off + 4 <= m.len() {
        let len = usize::from(u16::from_ne_bytes([m[off], m[off + 1]])) * 8;
        if len == 0 || off + len > m.len() {
            break;
        }
        out.push((off, len));
        off += len;
    }
    out
}

/// Sets `sadb_msg_len` to the buffer's length (when it fits), so that a
/// mutation deeper inside gets past the framing check.
fn fix_length(m: &mut [u8]) {
    if m.len() >= HEADER_LEN {
        let words = u16::try_from(m.len() / 8).unwrap_or(u16::MAX);
        m[4..6].copy_from_slice(&words.to_ne_bytes());
    }
}

const INTERESTING_U8: &[u8] = &[0, 1, 2, 3, 4, 7, 8, 16, 24, 31, 32, 33, 64, 127, 128, 255];
const INTERESTING_U16: &[u16] = &[0, 1, 2, 3, 4, 8, 16, 255, 256, 0x7fff, 0x8000, 0xffff];

/// One mutation of `m`; `others` provides material for splicing.
fn mutate(rng: &mut Rng, m: &mut Vec<u8>, others: &[Vec<u8>]) {
    match rng.below(12) {
        // Bit flips.
        0 => rng.flip_bits(m),
        // An interesting byte.
        1 => {
            if !m.is_empty() {
                let i = rng.below(m.len());
                m[i] = *rng.pick(INTERESTING_U8).unwrap_or(&0);
            }
        }
        // sadb_msg_len: interesting, off by one, or random.
        2 => {
            if m.len() >= HEADER_LEN {
                let cur = u16::from_ne_bytes([m[4], m[5]]);
                let v = match rng.below(3) {
                    0 => *rng.pick(INTERESTING_U16).unwrap_or(&0),
                    1 => cur.wrapping_add(1),
                    _ => cur.wrapping_sub(1),
                };
                m[4..6].copy_from_slice(&v.to_ne_bytes());
            }
        }
        // An extension's length.
        3 => {
            let exts = extension_offsets(m);
            if let Some(&(off, _)) = rng.pick(&exts) {
                let cur = u16::from_ne_bytes([m[off], m[off + 1]]);
                let v = match rng.below(4) {
                    0 => *rng.pick(INTERESTING_U16).unwrap_or(&0),
                    1 => cur.wrapping_add(1),
                    2 => cur.wrapping_sub(1),
                    _ => rng.next() as u16,
                };
                m[off..off + 2].copy_from_slice(&v.to_ne_bytes());
            }
        }
        // An extension's type.
        4 => {
            let exts = extension_offsets(m);
            if let Some(&(off, _)) = rng.pick(&exts) {
                let v = rng.below(32) as u16;
                m[off + 2..off + 4].copy_from_slice(&v.to_ne_bytes());
            }
        }
        // Truncation, with or without a matching header length.
        5 => {
            let n = rng.below(m.len() + 1);
            m.truncate(n);
            if rng.chance(2) {
                fix_length(m);
            }
        }
        // Splice an extension of another message in.
        6 => {
            if let Some(other) = rng.pick(others) {
                let exts = extension_offsets(other);
                if let Some(&(off, len)) = rng.pick(&exts) {
                    let mine = extension_offsets(m);
                    let at = rng.pick(&mine).map_or(m.len().min(HEADER_LEN), |&(o, _)| o);
                    let piece = other[off..off + len].to_vec();
                    m.splice(at..at, piece);
                    fix_length(m);
                }
            }
        }
        // Duplicate or remove an extension.
        7 => {
            let exts = extension_offsets(m);
            if let Some(&(off, len)) = rng.pick(&exts) {
                if rng.chance(2) {
                    let piece = m[off..off + len].to_vec();
                    m.splice(off..off, piece);
                } else {
                    m.drain(off..off + len);
                }
                fix_length(m);
            }
        }
        // Random bytes over a stretch.
        8 => {
            if !m.is_empty() {
                let start = rng.below(m.len());
                let n = rng.below(16) + 1;
                for b in m.iter_mut().skip(start).take(n) {
                    *b = rng.next() as u8;
                }
            }
        }
        // Append a whole other message (the multi-message framing).
        9 => {
            if let Some(other) = rng.pick(others) {
                m.extend_from_slice(other);
            }
        }
        // Grow by a few bytes (garbage after the last extension).
        10 => {
            for _ in 0..=rng.below(12) {
                m.push(rng.next() as u8);
            }
            if rng.chance(2) {
                fix_length(m);
            }
        }
        // Header fields: type, errno, satype.
        _ => {
            if m.len() >= 4 {
                let i = 1 + rng.below(3);
                m[i] = if rng.chance(2) {
                    *rng.pick(INTERESTING_U8).unwrap_or(&0)
                } else {
                    rng.next() as u8
                };
            }
        }
    }
}

/// A buffer of random bytes, often with a plausible header.
fn random_message(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(256);
    let mut m = rng.bytes(n);
    if rng.chance(2) && m.len() >= HEADER_LEN {
        m[0] = 2;
        m[1] = 1 + rng.below(24) as u8;
        fix_length(&mut m);
    }
    m
}

/// Runs every decoder on one input. Errors are fine; panics are not.
fn exercise(input: &[u8], now: u64) {
    let mut sink = io::sink();
    let opts = [
        DumpOptions::default(),
        DumpOptions {
            show_dead: true,
            show_ports: true,
            hide_socket_policies: true,
            hide_keys: true,
        },
    ];
    let _ = Message::parse(input);
    let _ = kdebug::write_kdebug(&mut sink, input, Keys::Show);
    let _ = kdebug::write_kdebug(&mut sink, input, Keys::Mask);
    let _ = kdebug::write_hexdump(&mut sink, input);
    let mut printer = Printer::new(opts[1]);
    let mut framed = wire::messages(input);
    while let Some(raw) = framed.next_raw() {
        let Ok(raw) = raw else { break };
        let _ = kdebug::write_kdebug(&mut sink, raw, Keys::Mask);
        let Ok(message) = Message::parse(raw) else {
            continue;
        };
        for o in &opts {
            let _ = dump::write_reply(&mut sink, &message, now, o);
            let _ = dump::write_sa(&mut sink, &message, now, o);
            let _ = dump::write_policy(&mut sink, &message, now, o);
            let _ = dump::short::write_short(&mut sink, &message, now, o);
        }
        let _ = printer.reply(&mut sink, &message, now);
        // What parses must emit, and the emitted bytes must parse again.
        let again = message.to_bytes();
        let _ = Message::parse(&again);
    }
    for message in wire::messages(input).flatten() {
        let _ = dump::write_reply(&mut sink, &message, now, &opts[0]);
    }
}

/// Mostly a realistic clock; sometimes the epoch.
fn clock(rng: &mut Rng) -> u64 {
    if rng.chance(8) { 0 } else { 1_700_000_000 }
}

fn mutated_corpus(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut m = rng.pick(corpus).cloned().unwrap_or_default();
    for _ in 0..=rng.below(4) {
        mutate(rng, &mut m, corpus);
    }
    m
}

#[test]
fn decoders_never_panic() {
    let seed = fuzzing::seed(0x5e7_4e75);
    let corpus = corpus();
    assert!(corpus.len() > 100, "corpus has {} messages", corpus.len());
    // The unmodified corpus first: it must decode, and without panics.
    for m in &corpus {
        assert!(Message::parse(m).is_ok(), "corpus message: {}", hex(m));
        exercise(m, 1_700_000_000);
    }
    // Each input's clock is drawn after its bytes.
    let generators: [Generator<Datagram, [Vec<u8>]>; 2] = [
        Generator {
            name: "random messages",
            make: |rng, _| Datagram {
                bytes: random_message(rng),
                now: clock(rng),
            },
        },
        Generator {
            name: "mutated corpus",
            make: |rng, corpus| Datagram {
                bytes: mutated_corpus(rng, corpus),
                now: clock(rng),
            },
        },
    ];
    let result = campaign(
        &generators,
        corpus.as_slice(),
        seed,
        Budget::from_env(),
        |input, _, _: &mut ()| {
            exercise(&input.bytes, input.now);
            Ok(())
        },
    );
    for (g, run) in generators.iter().zip(&result.runs) {
        eprintln!("fuzz_decoder: {}: {} inputs", g.name, run.inputs);
    }
    // Only panics fail here: `exercise` has no property to break.
    result.conclude("fuzz_decoder", seed, "", "broken property");
}
