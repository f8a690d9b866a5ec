//! Standard output as every mode writes it: one buffer shared by whoever
//! prints during a run (the executor, the dump printer, the `-v` tracer),
//! and the clock of dump text, read again only when the output reached its
//! file descriptor. Also where a closed pipe ends a run: quietly, with the
//! status SIGPIPE would have given (Rust ignores SIGPIPE, so a write to a
//! pipe whose reader went away fails with EPIPE instead of killing us).

use std::cell::{Cell, RefCell};
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

use crate::os::now;

/// The clock of dump text (`current:`, `diff:`): setkey's `time(NULL)`,
/// read again only when time may have moved on.
///
/// setkey reads the clock for every entry it prints. Where the kernel
/// offers no vDSO (user-mode Linux, some sandboxes) each reading is a
/// system call, and a dump of 10 000 SAs through XFRM made more of them
/// than of all others together. A reading is kept until the output reaches
/// its file descriptor ([`Ticking`]: the only place a dump can wait, for a
/// full pipe or a slow disk) or the next request starts ([`tick`]). Entries
/// printed in between are microseconds apart: they show the second a
/// reading per entry would show, unless one of those microseconds ends a
/// second (then the later entries show the second before, one second off,
/// as if setkey had printed them a moment sooner).
///
/// [`tick`]: DumpClock::tick
#[derive(Debug, Clone)]
pub struct DumpClock {
    reading: Rc<Cell<Option<u64>>>,
    keeps: bool,
}

impl DumpClock {
    /// A clock that keeps its reading until [`DumpClock::tick`].
    pub fn new() -> DumpClock {
        DumpClock {
            reading: Rc::new(Cell::new(None)),
            keeps: true,
        }
    }

    /// A clock read for every entry, as setkey reads it (for output that
    /// cannot tell when it was written).
    pub fn every_entry() -> DumpClock {
        DumpClock {
            keeps: false,
            ..DumpClock::new()
        }
    }

    /// Seconds since the epoch: the kept reading, or a new one.
    pub fn now(&self) -> u64 {
        match self.reading.get() {
            Some(t) if self.keeps => t,
            _ => {
                let t = now();
                self.reading.set(Some(t));
                t
            }
        }
    }

    /// Forgets the reading: the next [`DumpClock::now`] reads the clock.
    pub fn tick(&self) {
        self.reading.set(None);
    }
}

impl Default for DumpClock {
    fn default() -> DumpClock {
        DumpClock::new()
    }
}

/// A writer that ticks a [`DumpClock`] whenever it writes: time may have
/// passed while it waited. Sits below the output buffer, so it ticks once
/// per buffer written, not once per line.
#[derive(Debug)]
pub struct Ticking<W> {
    inner: W,
    clock: DumpClock,
}

impl<W: Write> Ticking<W> {
    /// `inner`, ticking `clock`.
    pub fn new(inner: W, clock: DumpClock) -> Ticking<W> {
        Ticking { inner, clock }
    }
}

impl<W: Write> Write for Ticking<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf);
        self.clock.tick();
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.inner.flush();
        self.clock.tick();
        flushed
    }
}

/// The exit status of a process that SIGPIPE's default action ended
/// (128 + 13): what a shell reports for `setkey -D | head -1`, and what
/// rsetkey exits with when its reader goes away.
pub const BROKEN_PIPE_STATUS: i32 = 128 + libc::SIGPIPE;

/// Whether a write failed because the reader went away (EPIPE).
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// The exit status after output failed: [`BROKEN_PIPE_STATUS`] when the
/// reader went away, 1 otherwise.
pub fn failure_status(e: &io::Error) -> i32 {
    if is_broken_pipe(e) {
        BROKEN_PIPE_STATUS
    } else {
        1
    }
}

/// The exit status of a run that ended with `status`, given how its final
/// flush went: a failed flush fails a run that had not failed already.
pub fn after_flush(status: i32, flushed: io::Result<()>) -> i32 {
    match flushed {
        Ok(()) => status,
        Err(_) if status != 0 => status,
        Err(e) => failure_status(&e),
    }
}

/// Writes `text` to standard output at once (usage, version, `-n -v`).
/// Unlike `print!`, a closed standard output is an error, not a panic.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes to standard error, as `eprint!` does, except that a standard
/// error that cannot be written (its reader gone: `rsetkey -f x 2>&1 |
/// head -1`) loses the text instead of panicking: the run goes on, and its
/// exit status still tells. Used through [`stderr!`](crate::stderr) and
/// [`stderrln!`](crate::stderrln); the crate's lints refuse `eprint!`.
pub fn to_stderr(text: std::fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(text);
}

/// `eprint!` that never panics: see [`to_stderr`].
#[macro_export]
macro_rules! stderr {
    ($($arg:tt)*) => {
        $crate::output::to_stderr(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics: see [`to_stderr`].
#[macro_export]
macro_rules! stderrln {
    ($($arg:tt)*) => {
        $crate::output::to_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Bytes of standard output buffered before a write.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Standard output shared by everything that prints during a run (the
/// executor, the dump printer, the message tracer), so that their output
/// stays in the order it was produced.
///
/// It comes with the [`DumpClock`] its writes tick.
#[derive(Clone)]
pub struct SharedOutput {
    out: Rc<RefCell<dyn Write>>,
    clock: DumpClock,
}

impl SharedOutput {
    /// Buffered standard output.
    pub fn stdout() -> SharedOutput {
        // Dumps of large tables are megabytes of text: a large buffer keeps
        // the number of write calls down (they are costly where system
        // calls are, as under virtualisation).
        let clock = DumpClock::new();
        let stdout = Ticking::new(io::stdout(), clock.clone());
        SharedOutput {
            out: Rc::new(RefCell::new(BufWriter::with_capacity(
                OUTPUT_BUFFER,
                stdout,
            ))),
            clock,
        }
    }

    /// Any writer, shared; every write ticks the clock.
    pub fn new(out: impl Write + 'static) -> SharedOutput {
        let clock = DumpClock::new();
        SharedOutput {
            out: Rc::new(RefCell::new(Ticking::new(out, clock.clone()))),
            clock,
        }
    }

    /// The clock for dump text written here.
    pub fn clock(&self) -> DumpClock {
        self.clock.clone()
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.borrow_mut().flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_dump_clock_keeps_its_reading_until_output_is_written_or_ticked() {
        let clock = DumpClock::new();
        assert_eq!(clock.reading.get(), None);
        let t = clock.now();
        assert_eq!(clock.reading.get(), Some(t), "kept");
        clock.tick();
        assert_eq!(clock.reading.get(), None, "forgotten at a tick");

        // below a buffer: ticks only when the buffer is written out
        let mut out = BufWriter::with_capacity(16, Ticking::new(Vec::new(), clock.clone()));
        clock.now();
        out.write_all(b"one line\n").expect("buffered");
        assert!(clock.reading.get().is_some(), "nothing written yet");
        out.write_all(b"a longer second line\n").expect("written");
        assert_eq!(clock.reading.get(), None, "written: time may have passed");
        clock.now();
        out.flush().expect("flushed");
        assert_eq!(clock.reading.get(), None);

        // unbuffered shared output: every write ticks
        let mut shared = SharedOutput::new(Vec::new());
        let clock = shared.clock();
        clock.now();
        shared.write_all(b"x").expect("written");
        assert_eq!(clock.reading.get(), None);
    }

    #[test]
    fn a_clock_for_every_entry_reads_every_time() {
        let clock = DumpClock::every_entry();
        clock.reading.set(Some(1));
        assert!(clock.now() > 1, "read again, not kept");
    }
}
