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
#[derive(Debug, Clone, Copy)]
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
        if bytes.contains(&0) {
            return false;
        }
        let mut statement = self.statement;
        for (i, part) in bytes.split(|&b| b == b';').enumerate() {
            statement = if i == 0 {
                statement + part.len()
            } else {
                part.len()
            };
            if statement > MAX_STATEMENT {
                return false;
            }
        }
        self.statement = statement;
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
