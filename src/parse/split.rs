//! A large script file parsed on two processors: the first half here, the
//! second on a thread of its own, joined only when they provably meet.
//!
//! Statements cannot be found without lexing everything before them (a
//! `;` may sit in a comment, a quoted string or a policy's text, and the
//! lexer's line counter skips the newlines of quoted strings), so the
//! second half is a guess checked afterwards. The guess is the first `;`
//! that ends a line a little after the middle of the file. The thread counts the
//! newlines before it (the lexer's line, if no quoted string spans
//! lines), then parses from there with the lexer in its first state,
//! handing each statement to the caller's checks (an [`Observer`] of its
//! own) and keeping it if asked.
//!
//! The reader of the first half is the ordinary one. When its next
//! statement starts exactly at the guess, with the lexer in the state and
//! on the line the thread assumed, and no byte before it had to be
//! replaced (so that the text's offsets are the file's), the thread read
//! the very statements a single reader would have read from there: a
//! statement's parse depends on nothing else. The first reader then stops
//! and the caller takes the thread's half in ([`Linter::append`] joins
//! the lints). Anything else (the first reader passes the guess, or stops
//! before it at an error or `exit`; the thread meets an error) and the
//! thread's work is thrown away, its statements wiped: the first reader
//! goes on alone, with the messages and lines it always gives.
//!
//! Only for files large enough that a second thread pays (see
//! [`SPLIT_MIN`]).
//!
//! [`Linter::append`]: crate::lint::Linter::append

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use zeroize::Zeroizing;

use super::input::ScriptReader;
use super::lexer::{Checkpoint, State};
use super::{Options, ScriptError, Statements, SystemNames};
use crate::ir::Statement;

/// The smallest script worth a second thread: 1 MiB, some 15 000
/// statements. Below it the thread's start and the second read of the
/// first half cost more than they can save.
pub const SPLIT_MIN: u64 = 1 << 20;

/// How much of the first half the thread reads at a time to count its
/// newlines: small enough that its buffer costs a few page faults (each
/// first touch of a page is one), large enough for few reads.
const COUNT_CHUNK: usize = 64 * 1024;

/// How far past the middle the guess is looked for.
const SEARCH: usize = 64 * 1024;

/// What the second thread does with each statement it reads, in place of
/// the caller: the caller's own checks, on a copy of its own (they are
/// joined afterwards, in order, by the caller).
pub trait Observer: Send + 'static {
    /// Takes in one statement.
    fn observe(&mut self, statement: &Statement);
}

/// A file's script statements, read as [`Statements`] reads them, its
/// second half read on a second thread when that is sure to give the
/// same statements (see the module documentation).
///
/// It yields what [`Statements`] over the whole file yields, the same
/// statements in the same order and the same error where one is, except
/// that where the second half is used it ends where that half begins:
/// [`SplitStatements::second_half`] then holds the rest.
pub struct SplitStatements<'o, O> {
    first: Statements<'o, ScriptReader<File>>,
    second: Option<SecondHalf<O>>,
    /// The second half, once the first reader met it.
    met: Option<Half<O>>,
}

/// The thread reading from the guessed statement start.
struct SecondHalf<O> {
    start: usize,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Option<Half<O>>>,
}

/// What the second thread read, from its start to the end (or to an
/// `exit`).
pub struct Half<O> {
    /// The lexer it assumed at its start.
    at: Checkpoint,
    /// What observed every statement of it, in order.
    pub observer: O,
    /// Its statements, if they were to be kept (else each was dropped,
    /// its keys wiped, once observed).
    pub statements: Vec<Statement>,
}

impl<'o, O: Observer> SplitStatements<'o, O> {
    /// The statements of `file`, just opened (both readers take its
    /// offsets from its start); a second thread takes the second half, with `observer`
    /// observing it, when the file is at least `min_len` bytes long. With
    /// `keep` the second half's statements are kept for the caller.
    pub fn new(
        file: File,
        options: &'o Options,
        names: &'o SystemNames,
        min_len: u64,
        observer: O,
        keep: bool,
    ) -> Self {
        let second = start_second_half(&file, options, names, min_len, observer, keep);
        SplitStatements {
            first: Statements::new(ScriptReader::new(file), options, names),
            second,
            met: None,
        }
    }

    /// Once the statements ended: the second half, if the first reader
    /// met it (else the first reader read everything itself).
    pub fn second_half(&mut self) -> Option<Half<O>> {
        self.met.take()
    }

    /// At the guessed start: the thread's half if it assumed what the
    /// first reader has, else nothing (and the thread is let go).
    fn meet(&mut self) {
        if self.first.finished() {
            // After an `exit` right before the guess nothing more is read.
            return;
        }
        let (start, lexer) = self.first.next_start();
        let Some(second) = self.second.as_ref() else {
            return;
        };
        if start < second.start {
            return;
        }
        let Some(second) = self.second.take() else {
            return;
        };
        // A replaced byte before the guess moved the text's offsets away
        // from the file's, which the thread started from.
        if start > second.start || self.first.feed().replaced_any() {
            second.abandon();
            return;
        }
        self.met = second.join().filter(|half| half.at == lexer);
    }
}

impl<O: Observer> Iterator for SplitStatements<'_, O> {
    type Item = Result<Statement, ScriptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.met.is_some() {
            return None;
        }
        self.meet();
        if self.met.is_some() {
            return None;
        }
        let next = self.first.next();
        if !matches!(next, Some(Ok(_))) {
            // The first reader ended (an error, `exit`, the end) before
            // the guess: the thread's work is not wanted.
            if let Some(second) = self.second.take() {
                second.abandon();
            }
        }
        next
    }
}

impl<O> Drop for SplitStatements<'_, O> {
    fn drop(&mut self) {
        if let Some(second) = self.second.take() {
            second.abandon();
        }
    }
}

impl<O> SecondHalf<O> {
    fn join(self) -> Option<Half<O>> {
        self.thread.join().ok().flatten()
    }

    /// Stops the thread and waits for it: what it read (keys included)
    /// is wiped before this returns.
    fn abandon(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.join());
    }
}

/// Starts the thread on the second half of `file`, if it is large enough
/// and a statement visibly ends on a line of its own soon after the
/// middle.
fn start_second_half<O: Observer>(
    file: &File,
    options: &Options,
    names: &SystemNames,
    min_len: u64,
    observer: O,
    keep: bool,
) -> Option<SecondHalf<O>> {
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() || metadata.len() < min_len.max(2) {
        return None;
    }
    let len = metadata.len();
    // A little past the middle: the thread counts the newlines before
    // its start (some fifteen times faster than parsing) before it parses,
    // so the halves end together when the first one is a little longer.
    let start = guess(file, len / 100 * 52)?;
    let file = file.try_clone().ok()?;
    let (options, names) = (options.clone(), names.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("second-half".into())
        .spawn(move || {
            let reading = Reading {
                options: &options,
                names: &names,
                stop: &stopped,
                keep,
            };
            reading.from(file, start, observer)
        })
        .ok()?;
    Some(SecondHalf {
        start,
        stop,
        thread,
    })
}

/// The offset right after the first `;` at the end of a line from
/// `middle` on: where a statement most likely starts.
fn guess(file: &File, middle: u64) -> Option<usize> {
    let mut window = Zeroizing::new(vec![0; SEARCH]);
    let n = read_at_most(file, &mut window, middle).ok()?;
    let seen = window.get(..n)?;
    let semicolon = memchr::memmem::find(seen, b";\n")?;
    usize::try_from(middle).ok()?.checked_add(semicolon + 1)
}

/// Fills as much of `buf` as the file has from `offset`.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// How the second thread reads.
struct Reading<'a> {
    options: &'a Options,
    names: &'a SystemNames,
    /// Set when its work is no longer wanted.
    stop: &'a AtomicBool,
    keep: bool,
}

impl Reading<'_> {
    /// The thread: the lexer's line at `start` (the newlines before it:
    /// right unless a quoted string spans lines, which the meeting
    /// catches), then the statements from there, each observed and kept
    /// if asked. `None` at an error, or when told to stop.
    fn from<O: Observer>(&self, file: File, start: usize, mut observer: O) -> Option<Half<O>> {
        let newlines = newlines_before(&file, start)?;
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let at = Checkpoint {
            line: u32::try_from(newlines).ok()?.checked_add(1)?,
            state: State::Initial,
        };
        let reader = ScriptReader::starting_at(
            Positioned {
                file,
                offset: start as u64,
            },
            start,
        );
        let mut statements = Vec::new();
        for statement in Statements::resume(reader, self.options, self.names, at) {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            let statement = statement.ok()?;
            observer.observe(&statement);
            if self.keep {
                statements.push(statement);
            }
        }
        Some(Half {
            at,
            observer,
            statements,
        })
    }
}

/// The newlines in the file's first `end` bytes (the first reader checks
/// that they are UTF-8: see [`SplitStatements::meet`]).
fn newlines_before(file: &File, end: usize) -> Option<usize> {
    let mut chunk = Zeroizing::new(vec![0; COUNT_CHUNK]);
    let (mut offset, mut newlines) = (0usize, 0usize);
    while offset < end {
        let want = (end - offset).min(chunk.len());
        let buf = chunk.get_mut(..want)?;
        let n = read_at_most(file, buf, offset as u64).ok()?;
        if n == 0 {
            return None;
        }
        offset += n;
        // memchr's count is vectorised (a byte-at-a-time filter took
        // several times as long).
        newlines += memchr::memchr_iter(b'\n', buf.get(..n)?).count();
    }
    Some(newlines)
}

/// A file read from an offset of its own (`pread`), leaving the offset
/// the first reader moves alone.
struct Positioned {
    file: File,
    offset: u64,
}

impl Read for Positioned {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// What a reader of a script gives: its statements, or the message of
    /// the error it ends with.
    type Outcome = Vec<Result<Statement, String>>;

    fn outcome(items: impl Iterator<Item = Result<Statement, ScriptError>>) -> Outcome {
        items
            .map(|r| {
                r.map_err(|e| match e {
                    ScriptError::Input(e) => format!("input: {e}"),
                    ScriptError::Parse(e) => format!("parse: line {}: {}", e.line, e),
                })
            })
            .collect()
    }

    /// A file holding `text`, removed when the test is done with it.
    struct Script(std::path::PathBuf);

    impl Script {
        fn new(text: &[u8]) -> Script {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "rsetkey-split-{}-{}.conf",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let mut f = File::create(&path).unwrap();
            f.write_all(text).unwrap();
            Script(path)
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Records the statements it observes, by their offsets.
    #[derive(Default)]
    struct Offsets(Vec<usize>);

    impl Observer for Offsets {
        fn observe(&mut self, statement: &Statement) {
            self.0.push(statement.location.offset);
        }
    }

    /// The script read by one reader, and read in two halves (with
    /// whether the second half was used). Both ways of handing the second
    /// half over are checked: its statements kept, and observed on the
    /// thread (the observer must have seen exactly the kept ones).
    fn both(text: &[u8]) -> (Outcome, Outcome, bool) {
        let script = Script::new(text);
        let (options, names) = (Options::default(), SystemNames::default());
        let one = Statements::new(
            ScriptReader::new(File::open(&script.0).unwrap()),
            &options,
            &names,
        );
        let sequential = outcome(one);
        let mut results = Vec::new();
        for keep in [true, false] {
            let file = File::open(&script.0).unwrap();
            let mut split =
                SplitStatements::new(file, &options, &names, 0, Offsets::default(), keep);
            let mut items: Vec<_> = split.by_ref().collect();
            let joined = match split.second_half() {
                Some(half) if keep => {
                    let offsets: Vec<usize> =
                        half.statements.iter().map(|s| s.location.offset).collect();
                    assert_eq!(half.observer.0, offsets);
                    items.extend(half.statements.into_iter().map(Ok));
                    true
                }
                Some(half) => {
                    assert!(half.statements.is_empty());
                    // What the thread observed is what a single reader
                    // gives from there on.
                    let rest: Vec<usize> = sequential
                        .get(items.len()..)
                        .unwrap_or_default()
                        .iter()
                        .map(|r| r.as_ref().map(|s| s.location.offset).unwrap())
                        .collect();
                    assert_eq!(half.observer.0, rest);
                    true
                }
                None => false,
            };
            results.push((keep, outcome(items.into_iter()), joined));
        }
        let [(true, kept, joined), (false, _, observed)] = <[_; 2]>::try_from(results).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(joined, observed);
        (sequential, kept, joined)
    }

    fn policies(from: u32, to: u32) -> String {
        (from..to)
            .map(|i| {
                format!(
                    "spdadd 10.0.{}.{} 11.0.{}.{} any -P out ipsec esp/transport//require;\n",
                    i >> 8,
                    i & 0xff,
                    i >> 8,
                    i & 0xff
                )
            })
            .collect()
    }

    fn sas(from: u32, to: u32) -> String {
        (from..to)
            .map(|i| {
                format!(
                    "add 10.1.0.1 10.1.0.2 esp {} -E aes-cbc 0x{:032x} -A hmac-sha256 0x{:064x};\n",
                    0x1000 + i,
                    i,
                    i
                )
            })
            .collect()
    }

    #[test]
    fn a_plain_script_is_parsed_in_two_halves_with_the_same_statements() {
        let text = format!(
            "spdflush;\n{}{}{}",
            sas(0, 300),
            policies(0, 600),
            sas(300, 600)
        );
        let (sequential, split, joined) = both(text.as_bytes());
        assert!(joined, "the second half was not used");
        assert_eq!(sequential.len(), 1201);
        assert_eq!(split, sequential);
    }

    #[test]
    fn an_exit_in_the_second_half_ends_both_there() {
        let text = format!("{}exit;\n{}", policies(0, 700), policies(700, 800));
        let (sequential, split, joined) = both(text.as_bytes());
        assert!(joined);
        assert_eq!(sequential.len(), 701);
        assert_eq!(split, sequential);
    }

    #[test]
    fn an_exit_right_before_the_guess_ends_the_script_there() {
        // The middle falls in the comments: the first `;` to end a line
        // after it is the exit's.
        let text = format!("{}exit;\n{}", "# filler\n".repeat(3000), policies(0, 300));
        let (sequential, split, joined) = both(text.as_bytes());
        assert_eq!(sequential.len(), 1);
        assert_eq!(split, sequential);
        assert!(!joined);
    }

    #[test]
    fn a_guess_in_the_middle_of_a_comment_is_thrown_away() {
        // Every `;` at a line's end near the middle is a comment's.
        let comments: String = (0..2000).map(|i| format!("# step {i};\n")).collect();
        let text = format!("{}{comments}{}", policies(0, 10), policies(10, 20));
        let (sequential, split, joined) = both(text.as_bytes());
        assert!(!joined);
        assert_eq!(split, sequential);
    }

    #[test]
    fn a_quoted_string_across_lines_moves_the_line_and_is_caught() {
        // The lexer does not count the newline inside the quotes: the
        // thread's newline count is one too many.
        let text = format!(
            "{}spdadd tagged \"a\nb\" -P out ipsec esp/transport//require;\n{}",
            policies(0, 10),
            policies(10, 1000)
        );
        let (sequential, split, joined) = both(text.as_bytes());
        assert!(sequential.iter().all(Result::is_ok));
        assert_eq!(split, sequential);
        assert!(!joined);
    }

    #[test]
    fn a_first_half_that_is_not_utf8_is_read_alone() {
        let mut text = b"# \xff\xfe not text\n".to_vec();
        text.extend_from_slice(policies(0, 1000).as_bytes());
        let (sequential, split, joined) = both(&text);
        assert!(!joined);
        assert_eq!(split, sequential);
    }

    #[test]
    fn errors_are_the_single_readers_wherever_they_are() {
        let bad = "spdadd 10.0.0.1 11.0.0.1 any -P sideways;\n";
        for text in [
            format!("{}{bad}{}", policies(0, 900), policies(900, 1000)),
            format!("{}{bad}{}", policies(0, 100), policies(100, 1000)),
            format!(
                "{}add 1.1.1.1 2.2.2.2 esp 0x100000000 -E null;\n",
                policies(0, 1000)
            ),
            format!("{}\0{}", policies(0, 900), policies(900, 1000)),
        ] {
            let (sequential, split, joined) = both(text.as_bytes());
            assert!(!joined);
            assert!(matches!(sequential.last(), Some(Err(_))));
            assert_eq!(split, sequential);
        }
    }

    #[test]
    fn files_without_a_guess_are_read_alone() {
        for text in ["spdflush;".to_string(), "# nothing\n".repeat(100)] {
            let (sequential, split, joined) = both(text.as_bytes());
            assert!(!joined);
            assert_eq!(split, sequential);
        }
        // The guess is the end: the second half is empty.
        let (sequential, split, _) = both(policies(0, 1).as_bytes());
        assert_eq!(split, sequential);
    }

    #[test]
    fn small_files_are_read_alone() {
        let script = Script::new(policies(0, 100).as_bytes());
        let (options, names) = (Options::default(), SystemNames::default());
        let file = File::open(&script.0).unwrap();
        let len = file.metadata().unwrap().len();
        let mut split =
            SplitStatements::new(file, &options, &names, len + 1, Offsets::default(), true);
        assert_eq!(split.by_ref().count(), 100);
        assert!(split.second_half().is_none());
    }

    #[test]
    fn newlines_are_counted_across_reads() {
        let mut text = Vec::new();
        while text.len() < 3 * COUNT_CHUNK {
            text.extend_from_slice("é\n".as_bytes());
        }
        let script = Script::new(&text);
        let f = File::open(&script.0).unwrap();
        let lines = text.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(newlines_before(&f, text.len()), Some(lines));
        assert_eq!(newlines_before(&f, 3), Some(1));
        // Past the end of the file: no count.
        assert_eq!(newlines_before(&f, text.len() + 1), None);
    }
}
