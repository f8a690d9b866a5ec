//! A large script file parsed on two processors: the first half here, the
//! second on a thread of its own, joined only when they provably meet.
//!
//! Statements cannot be found without lexing everything before them (a
//! `;` may sit in a comment, a quoted string or a policy's text, and the
//! lexer's line counter skips the newlines of quoted strings), so the
//! second half is a guess checked afterwards. The guess is the first `;`
//! that ends a line after the middle of the file. The thread counts the
//! newlines before it (the lexer's line, if no quoted string spans lines),
//! checks that those bytes are UTF-8 (so that the script's text offsets
//! are its file offsets), then parses from there with the lexer in its
//! first state. The reader of the first half is the ordinary one; when
//! its next statement starts exactly at the guess, with the lexer in the
//! state and on the line the thread assumed, the thread parsed the very
//! statements a single reader would have parsed from there: a statement's
//! parse depends on nothing else. Then its statements follow. Anything
//! else (the first half passes the guess, stops before it at an error or
//! `exit`, the thread meets an error or a byte that is not UTF-8) and the
//! thread's work is thrown away and its statements wiped: the first
//! reader goes on alone, with the messages and lines it always gives.
//!
//! Only for files large enough that a second thread pays (see
//! [`SPLIT_MIN`]) and for callers that keep the statements anyway (an
//! apply holds the parsed script before it sends it): the thread's half
//! is held until the first one is done.

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

/// How far past the middle the guess is looked for.
const SEARCH: usize = 64 * 1024;

/// A file's script statements, read as [`Statements`] reads them, its
/// second half parsed on a second thread when that is sure to give the
/// same statements (see the module documentation).
///
/// It yields exactly what [`Statements`] over the whole file yields: the
/// same statements in the same order, the same error where one is.
pub struct SplitStatements<'o> {
    first: Statements<'o, ScriptReader<File>>,
    second: Option<SecondHalf>,
    /// The second half's statements, once the first half met them.
    rest: Option<std::vec::IntoIter<Statement>>,
}

/// The thread parsing from the guessed statement start.
struct SecondHalf {
    start: usize,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Option<Half>>,
}

/// What the thread parsed: the lexer it assumed at the start, and every
/// statement from there to the end (or to an `exit`).
struct Half {
    at: Checkpoint,
    statements: Vec<Statement>,
}

impl<'o> SplitStatements<'o> {
    /// The statements of `file`, read from its current offset (its
    /// start); a second thread takes the second half when the file is at
    /// least `min_len` bytes long.
    pub fn new(file: File, options: &'o Options, names: &'o SystemNames, min_len: u64) -> Self {
        let second = second_half(&file, options, names, min_len);
        SplitStatements {
            first: Statements::new(ScriptReader::new(file), options, names),
            second,
            rest: None,
        }
    }

    /// Whether the second thread's statements were used (for tests).
    #[cfg(test)]
    fn joined(&self) -> bool {
        self.rest.is_some()
    }

    /// At the guessed start: the thread's statements if it assumed what
    /// the first reader has, else nothing (and the thread is let go).
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
        if start > second.start {
            second.abandon();
            return;
        }
        if let Some(half) = second.join()
            && half.at == lexer
        {
            self.rest = Some(half.statements.into_iter());
        }
    }
}

impl Iterator for SplitStatements<'_> {
    type Item = Result<Statement, ScriptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(rest) = &mut self.rest {
            return rest.next().map(Ok);
        }
        self.meet();
        if let Some(rest) = &mut self.rest {
            return rest.next().map(Ok);
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

impl Drop for SplitStatements<'_> {
    fn drop(&mut self) {
        if let Some(second) = self.second.take() {
            second.abandon();
        }
    }
}

impl SecondHalf {
    fn join(self) -> Option<Half> {
        self.thread.join().ok().flatten()
    }

    /// Stops the thread and waits for it: what it parsed (keys included)
    /// is wiped before this returns.
    fn abandon(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.join());
    }
}

/// Starts the thread on the second half of `file`, if it is large enough
/// and a statement visibly ends on a line of its own soon after the
/// middle.
fn second_half(
    file: &File,
    options: &Options,
    names: &SystemNames,
    min_len: u64,
) -> Option<SecondHalf> {
    let len = file.metadata().ok()?.len();
    if !file.metadata().ok()?.is_file() || len < min_len.max(2) {
        return None;
    }
    let start = guess(file, len / 2)?;
    let file = file.try_clone().ok()?;
    let (options, names) = (options.clone(), names.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("second-half".into())
        .spawn(move || parse_from(file, start, &options, &names, &stopped))
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

/// The thread: the lexer's line at `start` if the text before it is UTF-8
/// with no quoted string across lines, then the statements from there.
/// `None` when anything is not as assumed, or when told to stop.
fn parse_from(
    file: File,
    start: usize,
    options: &Options,
    names: &SystemNames,
    stop: &AtomicBool,
) -> Option<Half> {
    let newlines = newlines_before(&file, start)?;
    if stop.load(Ordering::Relaxed) {
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
    for statement in Statements::resume(reader, options, names, at) {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        statements.push(statement.ok()?);
    }
    Some(Half { at, statements })
}

/// The newlines in the file's first `end` bytes, or `None` if those bytes
/// are not UTF-8 (a reader would replace some, moving the text offsets
/// away from the file offsets).
fn newlines_before(file: &File, end: usize) -> Option<usize> {
    let mut chunk = Zeroizing::new(vec![0; super::input::CHUNK]);
    let (mut offset, mut newlines, mut carry) = (0usize, 0usize, 0usize);
    while offset < end {
        let want = (end - offset).min(chunk.len() - carry);
        let buf = chunk.get_mut(carry..carry + want)?;
        let n = read_at_most(file, buf, offset as u64).ok()?;
        if n == 0 {
            return None;
        }
        offset += n;
        let filled = carry + n;
        let bytes = chunk.get(..filled)?;
        newlines += bytes.iter().filter(|&&b| b == b'\n').count();
        // A character cut by the chunk's end is checked with the next
        // one. Its bytes are counted twice, but they are no newlines: every
        // byte of a multi-byte character has its high bit set.
        carry = match std::str::from_utf8(bytes) {
            Ok(_) => 0,
            Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
            Err(_) => return None,
        };
        chunk.copy_within(filled - carry..filled, 0);
    }
    (carry == 0).then_some(newlines)
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

    /// The script read by one reader, and read in two halves (with
    /// whether the second half's statements were used).
    fn both(text: &[u8]) -> (Outcome, Outcome, bool) {
        let script = Script::new(text);
        let (options, names) = (Options::default(), SystemNames::default());
        let one = Statements::new(
            ScriptReader::new(File::open(&script.0).unwrap()),
            &options,
            &names,
        );
        let sequential = outcome(one);
        let mut split = SplitStatements::new(File::open(&script.0).unwrap(), &options, &names, 0);
        let mut items = Vec::new();
        let mut joined = false;
        while let Some(item) = split.next() {
            joined |= split.joined();
            items.push(item);
        }
        (sequential, outcome(items.into_iter()), joined)
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
    fn small_files_and_files_without_a_guess_are_read_alone() {
        for text in [
            policies(0, 1),
            "spdflush;".to_string(),
            "# nothing\n".repeat(100),
        ] {
            let (sequential, split, joined) = both(text.as_bytes());
            assert!(!joined);
            assert_eq!(split, sequential);
        }
    }

    #[test]
    fn the_newlines_before_a_cut_character_are_counted_once() {
        // "é" is two bytes; put one across every chunk boundary.
        let mut text = Vec::new();
        while text.len() < 3 * super::super::input::CHUNK {
            text.extend_from_slice("é\n".as_bytes());
        }
        let script = Script::new(&text);
        let f = File::open(&script.0).unwrap();
        let lines = text.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(newlines_before(&f, text.len()), Some(lines));
        // Cut inside the last character: not UTF-8 up to there.
        assert_eq!(newlines_before(&f, text.len() - 2), None);
    }
}
