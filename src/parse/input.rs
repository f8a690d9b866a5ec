//! Reading a script with bounds: a script is text of a sane size.
//!
//! `rsetkey -f /dev/zero` used to read until memory ran out and then
//! report a misleading I/O error, and `rsetkey -c < /dev/zero` aborted on
//! memory while looking for the end of the first line. Both readers here
//! refuse a NUL byte where they meet it (a script is text; setkey's
//! scanner would stop at it), with its line and column, and refuse input
//! beyond limits far above any real script: [`MAX_STATEMENT`] bytes
//! between two `;` (or on one `-c` line), [`MAX_SCRIPT`] bytes in all.
//!
//! Scripts hold keys: everything read goes into buffers that are wiped
//! when dropped, and a buffer that must grow is copied into a bigger
//! wiped one rather than reallocated in place (which would leave the old
//! allocation unwiped).

use std::fmt;
use std::io::{self, BufRead, Read};

use zeroize::Zeroizing;

/// The most bytes one statement may span (from after one `;` to the next
/// `;`, comments included), and the longest `-c` line: 1 MiB.
pub const MAX_STATEMENT: usize = 1 << 20;

/// The most bytes a script may have: 1 GiB.
pub const MAX_SCRIPT: usize = 1 << 30;

/// Why a script could not be read.
#[derive(Debug)]
pub enum InputError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// A NUL byte at this 1-based line and column (in bytes).
    Nul {
        /// Its line.
        line: u64,
        /// Its column.
        column: u64,
    },
    /// A statement (or `-c` line) longer than [`MAX_STATEMENT`] bytes,
    /// starting on this line.
    StatementTooLong {
        /// The line it starts on.
        line: u64,
    },
    /// More than [`MAX_SCRIPT`] bytes.
    ScriptTooBig,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(
                f,
                "{}",
                crate::os::strerror(e.raw_os_error().unwrap_or(libc::EIO))
            ),
            InputError::Nul { line, column } => write!(
                f,
                "NUL byte at line {line}, column {column}: a script is text"
            ),
            InputError::StatementTooLong { line } => write!(
                f,
                "the statement starting on line {line} is longer than {} MiB",
                MAX_STATEMENT >> 20
            ),
            InputError::ScriptTooBig => {
                write!(f, "the script is larger than {} GiB", MAX_SCRIPT >> 30)
            }
        }
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// The line rsetkey prints (after its program name): setkey's
    /// ``Can't open `NAME': ERROR`` for a file that cannot be read, the
    /// limit or the NUL byte otherwise.
    pub fn message(&self, name: &str) -> String {
        match self {
            InputError::Io(_) => format!("Can't open `{name}': {self}"),
            _ => format!("{name}: {self}"),
        }
    }
}

/// Where the reader is in the script, for the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    line: u64,
    column: u64,
    /// Bytes since the last `;` (or the start).
    statement: usize,
    /// The line the current statement starts on.
    statement_line: u64,
    /// Whether the current statement's first non-blank byte was seen.
    started: bool,
}

impl Position {
    fn new() -> Self {
        Position {
            line: 1,
            column: 0,
            statement: 0,
            statement_line: 1,
            started: false,
        }
    }

    /// Accounts for `bytes`, refusing a NUL or an over-long statement.
    fn advance(&mut self, bytes: &[u8]) -> Result<(), InputError> {
        for &b in bytes {
            self.column += 1;
            if !self.started && !b.is_ascii_whitespace() {
                self.statement_line = self.line;
                self.started = true;
            }
            self.statement += 1;
            match b {
                0 => {
                    return Err(InputError::Nul {
                        line: self.line,
                        column: self.column,
                    });
                }
                b'\n' => {
                    self.line += 1;
                    self.column = 0;
                }
                b';' => {
                    self.statement = 0;
                    self.started = false;
                }
                _ => {}
            }
            if self.statement > MAX_STATEMENT {
                return Err(InputError::StatementTooLong {
                    line: self.statement_line,
                });
            }
        }
        Ok(())
    }
}

impl Position {
    /// [`Position::advance`] over bytes already known to keep within the
    /// limits ([`Guard::pass`]): the same result, counted a chunk at a
    /// time rather than byte by byte. The newlines are counted once over
    /// the chunk (vectorised); everything else looks only at the chunk's
    /// end: the statement after its last `;` and the line after its last
    /// newline.
    fn skip(&mut self, bytes: &[u8]) {
        let end_line = self.line + newlines(bytes);
        // The line of the byte at `i`.
        let line_at = |i: usize| end_line - newlines(bytes.get(i..).unwrap_or_default());
        let blank = u8::is_ascii_whitespace;
        // The statement after the last `;`, or the one going on.
        let (tail, from) = match memchr::memrchr(b';', bytes) {
            Some(k) => {
                // The statement the last `;` ends starts after the `;`
                // before it, or in an earlier chunk. Where it had not
                // started yet (blanks only), the byte-by-byte count takes
                // its first non-blank byte, or else the `;` itself, for its
                // start.
                let before = bytes.get(..k).unwrap_or_default();
                let from = match memchr::memrchr(b';', before) {
                    Some(p) => {
                        self.started = false;
                        p + 1
                    }
                    None => 0,
                };
                if !self.started {
                    let words = before.get(from..).unwrap_or_default();
                    let j = words.iter().position(|b| !blank(b)).map_or(k, |j| from + j);
                    self.statement_line = line_at(j);
                }
                self.started = false;
                self.statement = 0;
                (bytes.get(k + 1..).unwrap_or_default(), k + 1)
            }
            None => (bytes, 0),
        };
        self.statement += tail.len();
        if !self.started
            && let Some(j) = tail.iter().position(|b| !blank(b))
        {
            self.started = true;
            self.statement_line = line_at(from + j);
        }
        match memchr::memrchr(b'\n', bytes) {
            Some(m) => self.column = (bytes.len() - m - 1) as u64,
            None => self.column += bytes.len() as u64,
        }
        self.line = end_line;
    }
}

/// The newlines in `bytes`.
fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// The limits of [`Position::advance`] checked on the hot path: bytes
/// since the last `;` only. Line and column are counted only when a limit
/// is met, by [`Position`] over the text read so far (the error path).
#[derive(Debug, Clone, Copy, Default)]
struct Guard {
    /// Bytes since the last `;` (or the start).
    statement: usize,
}

impl Guard {
    /// Whether `bytes` keep within the limits (no NUL, no statement longer
    /// than [`MAX_STATEMENT`]); then accounts for them.
    fn pass(&mut self, bytes: &[u8]) -> bool {
        if memchr::memchr(0, bytes).is_some() {
            return false;
        }
        let (Some(first), Some(last)) = (memchr::memchr(b';', bytes), memchr::memrchr(b';', bytes))
        else {
            let statement = self.statement + bytes.len();
            if statement > MAX_STATEMENT {
                return false;
            }
            self.statement = statement;
            return true;
        };
        // The statements between the first and the last `;` are shorter
        // than the chunk: they can break the limit only in a chunk longer
        // than it.
        let inner_fit = bytes.len() <= MAX_STATEMENT
            || bytes
                .get(first + 1..last)
                .unwrap_or_default()
                .split(|&b| b == b';')
                .all(|part| part.len() <= MAX_STATEMENT);
        let tail = bytes.len() - last - 1;
        if self.statement + first > MAX_STATEMENT || !inner_fit || tail > MAX_STATEMENT {
            return false;
        }
        self.statement = tail;
        true
    }
}

/// Appends `more` to `buf`, moving to a wiped buffer of twice the size
/// when it is full.
fn append(buf: &mut Zeroizing<Vec<u8>>, more: &[u8]) {
    if buf.capacity() - buf.len() < more.len() {
        let want = (buf.len() + more.len()).max(buf.capacity() * 2);
        let mut bigger = Zeroizing::new(Vec::with_capacity(want));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
    buf.extend_from_slice(more);
}

/// Reads a whole script (a file, or standard input for `-f -`) within
/// the limits. Invalid UTF-8 becomes U+FFFD, as [`super::script_text`]
/// does.
pub fn read_script(reader: impl Read) -> Result<Zeroizing<String>, InputError> {
    read_bounded(reader, MAX_SCRIPT)
}

/// [`read_script`] with a script limit of `max_script` bytes.
fn read_bounded(reader: impl Read, max_script: usize) -> Result<Zeroizing<String>, InputError> {
    read_sized(reader, max_script, 64 * 1024)
}

/// [`read_bounded`] into a buffer of `capacity` bytes to start with: a
/// file's size, so that the text is read into its final place and never
/// copied to a bigger one (which would hold it twice while it moves).
fn read_sized(
    mut reader: impl Read,
    max_script: usize,
    capacity: usize,
) -> Result<Zeroizing<String>, InputError> {
    let mut buf = Zeroizing::new(Vec::with_capacity(capacity.min(max_script)));
    let mut chunk = Zeroizing::new([0u8; 64 * 1024]);
    let mut guard = Guard::default();
    loop {
        let n = match reader.read(chunk.as_mut_slice()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(InputError::Io(e)),
        };
        let got = chunk.get(..n).unwrap_or_default();
        if buf.len() + got.len() > max_script {
            return Err(InputError::ScriptTooBig);
        }
        if !guard.pass(got) {
            // A limit is met: find where, line and column, as the reader
            // counting every byte does.
            let mut at = Position::new();
            at.advance(&buf)?;
            at.advance(got)?;
        }
        append(&mut buf, got);
    }
    let bytes = std::mem::take(&mut *buf);
    Ok(super::script_text(bytes))
}

/// [`read_script`] of the file at `path`.
pub fn read_script_file(path: &std::path::Path) -> Result<Zeroizing<String>, InputError> {
    let file = std::fs::File::open(path).map_err(InputError::Io)?;
    // One byte more than the file has: reaching its end needs no growth.
    let size = file.metadata().map_or(0, |m| m.len());
    let capacity = usize::try_from(size)
        .unwrap_or(MAX_SCRIPT)
        .saturating_add(1);
    read_sized(file, MAX_SCRIPT, capacity.max(64 * 1024))
}

/// Appends `bytes` to `text` as a lossy read does (invalid sequences
/// become U+FFFD); an incomplete sequence at the end is left for the next
/// read (returned as its length) unless `last`.
fn push_lossy(text: &mut String, bytes: &[u8], last: bool, replaced: &mut bool) -> usize {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                text.push_str(s);
                return 0;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        text.push(char::REPLACEMENT_CHARACTER);
                        *replaced = true;
                        rest = after.get(n..).unwrap_or_default();
                    }
                    None if last => {
                        text.push(char::REPLACEMENT_CHARACTER);
                        *replaced = true;
                        return 0;
                    }
                    None => return after.len(),
                }
            }
        }
    }
}

/// How many bytes a [`ScriptReader`] asks its reader for at a time.
pub const CHUNK: usize = 64 * 1024;

/// Where a script's text comes from, a window at a time: the statements
/// of a script are read from it in order, and the text before the
/// statement being read can be let go of.
pub trait Feed {
    /// The text in hand: the script from [`Feed::base`] on.
    fn text(&self) -> &str;

    /// The byte offset of the window in the whole script's text.
    fn base(&self) -> usize;

    /// The 0-based line and column (in characters) the window starts at.
    fn first(&self) -> (usize, usize);

    /// Lets go of the text before `keep` (an offset into the window) and
    /// reads more after it. `Ok(false)` at the end of the script.
    fn more(&mut self, keep: usize) -> Result<bool, InputError>;

    /// Whether the whole rest of the script is in the window.
    fn at_end(&self) -> bool;
}

/// A whole script in memory is one window.
impl Feed for &str {
    fn text(&self) -> &str {
        self
    }

    fn base(&self) -> usize {
        0
    }

    fn first(&self) -> (usize, usize) {
        (0, 0)
    }

    fn more(&mut self, _keep: usize) -> Result<bool, InputError> {
        Ok(false)
    }

    fn at_end(&self) -> bool {
        true
    }
}

/// A script read from a file or a pipe in chunks, within the limits of
/// [`read_script`]: a NUL byte, a statement over [`MAX_STATEMENT`] or a
/// script over [`MAX_SCRIPT`] is an error where it is met. The text is
/// decoded as [`super::script_text`] decodes a whole script, a character
/// split between two reads included.
///
/// The window holds keys: it is a buffer wiped when dropped, moved to a
/// bigger wiped one when a statement does not fit (never reallocated in
/// place).
pub struct ScriptReader<R> {
    reader: R,
    /// The text from `base` on.
    text: Zeroizing<String>,
    base: usize,
    /// Line and column of the window's start.
    first: (usize, usize),
    /// The read buffer; its first `carry` bytes are an incomplete UTF-8
    /// sequence left from the last read.
    chunk: Zeroizing<Vec<u8>>,
    carry: usize,
    /// Where the bytes read so far end, for the messages of the limits.
    at: Position,
    guard: Guard,
    /// Bytes read so far.
    total: usize,
    max_script: usize,
    /// Whether a byte sequence that is not UTF-8 was replaced (the text's
    /// offsets are then no longer the input's).
    replaced: bool,
    done: bool,
}

impl<R: Read> ScriptReader<R> {
    /// A reader of `reader`'s script.
    pub fn new(reader: R) -> Self {
        Self::with_chunk(reader, CHUNK)
    }

    /// A reader asking for `chunk` bytes at a time (tests cut statements
    /// with tiny chunks).
    pub fn with_chunk(reader: R, chunk: usize) -> Self {
        let chunk = chunk.max(4);
        ScriptReader {
            reader,
            text: Zeroizing::new(String::with_capacity(2 * chunk)),
            base: 0,
            first: (0, 0),
            chunk: Zeroizing::new(vec![0; chunk + 4]),
            carry: 0,
            at: Position::new(),
            guard: Guard::default(),
            total: 0,
            max_script: MAX_SCRIPT,
            replaced: false,
            done: false,
        }
    }

    /// A reader of the rest of a script whose first `base` bytes were
    /// read elsewhere: `reader` starts at byte `base`, which starts a
    /// line. The limits count the whole script (a statement starts at
    /// `base`); the lines and columns of its messages count from `base`.
    pub fn starting_at(reader: R, base: usize) -> Self {
        ScriptReader {
            base,
            max_script: MAX_SCRIPT.saturating_sub(base),
            ..Self::new(reader)
        }
    }

    /// Whether the text read so far differs from the input's bytes:
    /// sequences that are not UTF-8 were replaced.
    pub fn replaced_any(&self) -> bool {
        self.replaced
    }

    /// Room for `more` bytes after the window, in a wiped buffer.
    fn reserve(&mut self, more: usize) {
        if self.text.capacity() - self.text.len() >= more {
            return;
        }
        let want = (self.text.len() + more).max(self.text.capacity() * 2);
        let mut bigger = Zeroizing::new(String::with_capacity(want));
        bigger.push_str(&self.text);
        self.text = bigger;
    }

    /// Lets go of the window's first `keep` bytes.
    fn drop_front(&mut self, keep: usize) {
        let keep = keep.min(self.text.len());
        if keep == 0 {
            return;
        }
        let gone = self.text.get(..keep).unwrap_or_default();
        match memchr::memrchr(b'\n', gone.as_bytes()) {
            Some(n) => {
                self.first.0 += newlines(gone.as_bytes()) as usize;
                self.first.1 = gone.get(n + 1..).unwrap_or_default().chars().count();
            }
            None => self.first.1 += gone.chars().count(),
        }
        // The text moves to the front of the same buffer: what it leaves
        // behind is wiped with the buffer.
        self.text.drain(..keep);
        self.base += keep;
    }
}

impl<R: Read> Feed for ScriptReader<R> {
    fn text(&self) -> &str {
        &self.text
    }

    fn base(&self) -> usize {
        self.base
    }

    fn first(&self) -> (usize, usize) {
        self.first
    }

    fn at_end(&self) -> bool {
        self.done
    }

    fn more(&mut self, keep: usize) -> Result<bool, InputError> {
        if self.done {
            return Ok(false);
        }
        self.drop_front(keep);
        let room = self.chunk.len() - 4;
        let n = loop {
            let buf = self
                .chunk
                .get_mut(self.carry..self.carry + room)
                .unwrap_or_default();
            match self.reader.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Err(InputError::Io(e));
                }
            }
        };
        let got = self
            .chunk
            .get(self.carry..self.carry + n)
            .unwrap_or_default();
        if self.total + n > self.max_script {
            self.done = true;
            return Err(InputError::ScriptTooBig);
        }
        self.total += n;
        if self.guard.pass(got) {
            self.at.skip(got);
        } else {
            // A limit is met: find where, line and column, counting every
            // byte.
            self.done = true;
            let mut at = self.at;
            at.advance(got)?;
        }
        let last = n == 0;
        let bytes = self.carry + n;
        self.reserve(bytes + 3);
        let pending = self.chunk.get(..bytes).unwrap_or_default();
        let carry = push_lossy(&mut self.text, pending, last, &mut self.replaced);
        self.chunk.copy_within(bytes - carry..bytes, 0);
        self.carry = carry;
        if last {
            self.done = true;
        }
        Ok(!last || bytes > 0)
    }
}

/// The lines of `-c` input, each without its newline, within the limits:
/// a NUL byte or a line longer than [`MAX_STATEMENT`] ends the input with
/// an error (nothing of that line runs). Invalid UTF-8 becomes U+FFFD.
pub struct Lines<R> {
    reader: R,
    line: u64,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        Lines {
            reader,
            line: 0,
            done: false,
        }
    }

    fn next_line(&mut self) -> Result<Option<Zeroizing<String>>, InputError> {
        self.line += 1;
        let mut line = Zeroizing::new(Vec::with_capacity(256));
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(InputError::Io(e)),
            };
            if available.is_empty() {
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            let (part, newline) = match available.iter().position(|&b| b == b'\n') {
                Some(n) => (available.get(..n).unwrap_or_default(), true),
                None => (available, false),
            };
            if let Some(column) = part.iter().position(|&b| b == 0) {
                return Err(InputError::Nul {
                    line: self.line,
                    column: (line.len() + column + 1) as u64,
                });
            }
            if line.len() + part.len() > MAX_STATEMENT {
                return Err(InputError::StatementTooLong { line: self.line });
            }
            append(&mut line, part);
            let used = part.len() + usize::from(newline);
            self.reader.consume(used);
            if newline {
                break;
            }
        }
        let bytes = std::mem::take(&mut *line);
        Ok(Some(super::script_text(bytes)))
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Zeroizing<String>, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_line() {
            Ok(Some(line)) => Some(Ok(line)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_where_it_is() {
        let e = read_script(&b"flush;\nadd 1\0;"[..]).unwrap_err();
        assert!(matches!(e, InputError::Nul { line: 2, column: 6 }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "NUL byte at line 2, column 6: a script is text"
        );
        let e = read_script(io::repeat(0)).unwrap_err();
        assert!(matches!(e, InputError::Nul { line: 1, column: 1 }), "{e:?}");
        let mut lines = Lines::new(&b"flush;\nab\0"[..]);
        assert_eq!(lines.next().unwrap().unwrap().as_str(), "flush;");
        assert!(matches!(
            lines.next(),
            Some(Err(InputError::Nul { line: 2, column: 3 }))
        ));
        assert!(lines.next().is_none());
    }

    #[test]
    fn statements_and_scripts_are_bounded() {
        // Endless input without a `;`: refused after 1 MiB, not at OOM.
        let e = read_script(io::repeat(b'x')).unwrap_err();
        assert!(
            matches!(e, InputError::StatementTooLong { line: 1 }),
            "{e:?}"
        );
        // Many short statements are fine up to the script limit.
        let exact = "flush;\n".repeat(MAX_STATEMENT / 7);
        assert_eq!(read_script(exact.as_bytes()).unwrap().len(), exact.len());
        let e = read_bounded(io::repeat(b';'), 3 * MAX_STATEMENT).unwrap_err();
        assert!(matches!(e, InputError::ScriptTooBig), "{e:?}");
        // A -c line without end.
        let mut lines = Lines::new(io::BufReader::new(io::repeat(b'x')));
        assert!(matches!(
            lines.next(),
            Some(Err(InputError::StatementTooLong { line: 1 }))
        ));
    }

    /// The fast check of each chunk and the byte-by-byte count agree on
    /// where a limit is met, across chunk boundaries.
    #[test]
    fn limits_met_across_chunks_are_found_where_they_are() {
        // a statement just over the limit, its first part in an earlier
        // chunk
        let mut text = "flush;\n".repeat(20_000).into_bytes();
        text.extend_from_slice(b"flush;");
        text.extend(std::iter::repeat_n(b'x', MAX_STATEMENT + 1));
        let e = read_script(&text[..]).unwrap_err();
        assert!(
            matches!(e, InputError::StatementTooLong { line: 20_001 }),
            "{e:?}"
        );
        // exactly at the limit is fine
        text.pop();
        text.push(b';');
        assert!(read_script(&text[..]).is_ok());
        // a NUL far into the script
        let mut text = "flush;\n".repeat(30_000).into_bytes();
        text.extend_from_slice(b"ab\0");
        let e = read_script(&text[..]).unwrap_err();
        assert!(
            matches!(
                e,
                InputError::Nul {
                    line: 30_001,
                    column: 3
                }
            ),
            "{e:?}"
        );
    }

    /// The line named is the one the statement's text starts on, past the
    /// blanks and newlines after the `;` before it.
    #[test]
    fn a_statement_too_long_is_named_by_the_line_it_starts_on() {
        let mut text = b"flush;\n\n  ".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_STATEMENT));
        let e = read_script(&text[..]).unwrap_err();
        assert!(
            matches!(e, InputError::StatementTooLong { line: 3 }),
            "{e:?}"
        );
    }

    /// Counting a chunk at a time ends where counting byte by byte does,
    /// wherever the chunks end.
    #[test]
    fn skip_agrees_with_advance() {
        const PIECES: &[&[u8]] = &[
            b"x", b";", b"\n", b" ", b"\t", b"ab;\n", b"\xff", b";;", b"\n\n",
        ];
        let mut next = crate::parse::test_walk(0x2545_F491_4F6C_DD1Du64);
        for _ in 0..2_000 {
            let text: Vec<u8> = (0..1 + next(40))
                .flat_map(|_| PIECES[next(PIECES.len())].iter().copied())
                .collect();
            let mut each = Position::new();
            each.advance(&text).unwrap();
            for chunk in [1, 2, 3, 7, 64] {
                let mut skipped = Position::new();
                let mut guard = Guard::default();
                for part in text.chunks(chunk) {
                    assert!(guard.pass(part));
                    skipped.skip(part);
                }
                assert_eq!(skipped, each, "{text:?} in chunks of {chunk}");
                assert_eq!(guard.statement, each.statement);
            }
        }
    }

    /// The streaming reader names the place of a limit met in a later
    /// chunk as the byte-by-byte count does: a NUL on a line begun in an
    /// earlier chunk, a statement begun chunks before.
    #[test]
    fn the_script_reader_finds_limits_in_later_chunks() {
        let read_all = |bytes: &[u8], chunk: usize| {
            let mut reader = ScriptReader::with_chunk(bytes, chunk);
            loop {
                match reader.more(reader.text().len()) {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(e),
                }
            }
        };
        let mut text = "flush;\n".repeat(1000).into_bytes();
        text.extend_from_slice(b"spdflush; # a long comment before the NUL \xff\xfe x");
        text.push(0);
        for chunk in [4, 5, 16, 64, 1000, CHUNK] {
            let e = read_all(&text, chunk);
            assert!(
                matches!(
                    e,
                    Some(InputError::Nul {
                        line: 1001,
                        column: 47
                    })
                ),
                "{chunk}: {e:?}"
            );
        }
        let mut text = "flush;\n".repeat(1000).into_bytes();
        text.extend_from_slice(b"flush;\n \n\t x");
        text.extend(std::iter::repeat_n(b'y', MAX_STATEMENT));
        text.push(b';');
        for chunk in [7, 4096, CHUNK] {
            let e = read_all(&text, chunk);
            assert!(
                matches!(e, Some(InputError::StatementTooLong { line: 1003 })),
                "{chunk}: {e:?}"
            );
        }
        // exactly at the limit (the statement counts from the `;` before
        // it: six bytes before the `y`s) is fine
        text.truncate(text.len() - 7);
        text.push(b';');
        assert!(read_all(&text, CHUNK).is_none());
    }

    #[test]
    fn a_file_is_read_into_a_buffer_of_its_size() {
        let dir = std::env::temp_dir().join(format!("rsetkey-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.conf");
        let text = "spdflush;\n".repeat(100_000);
        std::fs::write(&path, &text).unwrap();
        let read = read_script_file(&path).unwrap();
        assert_eq!(read.as_str(), text);
        assert_eq!(read.capacity(), text.len() + 1, "read in place, not grown");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_are_split_like_bufread_split() {
        let lines: Vec<String> = Lines::new(&b"a;\n\nb \xff;\nlast"[..])
            .map(|l| l.unwrap().to_string())
            .collect();
        assert_eq!(lines, ["a;", "", "b \u{fffd};", "last"]);
    }

    #[test]
    fn messages_name_the_script() {
        let e = read_script_file(std::path::Path::new("/nonexistent/x.conf")).unwrap_err();
        assert_eq!(
            e.message("x.conf"),
            "Can't open `x.conf': No such file or directory"
        );
        assert_eq!(
            InputError::ScriptTooBig.message("x.conf"),
            "x.conf: the script is larger than 1 GiB"
        );
    }
}
