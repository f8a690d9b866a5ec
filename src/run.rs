//! Executes lowered statements against the kernel and reports the way setkey
//! reports: kernel errors are printed with the statement's line and the
//! script goes on; `get`, `dump` and `spddump` print on stdout.

use std::cell::RefCell;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dump::{self, DumpOptions};
use crate::ir::Keys;
use crate::ir::{Operation, Statement};
use crate::pfkey::Kernel;
use crate::pfkey::request;
use crate::pfkey::socket::SocketError;
use crate::pfkey::wire::{Message, MessageType};

/// Where and how messages about statements are printed.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// The program name messages start with (`setkey`, `rsetkey`).
    pub program: String,
    /// The script's name as given on the command line (`-` for stdin).
    pub file: String,
    /// `-c`: errors go to stdout, as `TEXT.` lines, without a prefix.
    pub interactive: bool,
}

impl Reporter {
    /// A kernel error (or a warning) about the statement on `line`.
    fn statement_error(&self, out: &mut dyn Write, line: u32, text: &str) -> io::Result<()> {
        if self.interactive {
            writeln!(out, "{text}.")
        } else {
            eprintln!("{}: {},{}: {}", self.program, self.file, line, text);
            Ok(())
        }
    }

    /// A warning found while reading the statement on `line`.
    fn warning(&self, out: &mut dyn Write, line: u32, text: &str) -> io::Result<()> {
        if self.interactive {
            write!(out, "{text}")
        } else {
            eprintln!("{}: {},{}: {}", self.program, self.file, line, text);
            Ok(())
        }
    }

    /// More about a kernel error, on stderr only (in `-c` mode too: stdout
    /// keeps setkey's text).
    fn detail(&self, line: u32, text: &str) {
        eprintln!("{}: {},{}: {}", self.program, self.file, line, text);
    }

    /// A message without a statement (`error encountered`).
    fn plain(&self, text: &str) {
        eprintln!("{}: {}", self.program, text);
    }
}

/// Whether to go on after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Next statement.
    Continue,
    /// `exit;` was executed.
    Exit,
}

/// Runs statements against a kernel.
pub struct Executor<'a, W: Write> {
    kernel: &'a mut dyn Kernel,
    out: W,
    reporter: Reporter,
    dump_options: DumpOptions,
    kernel_errors: usize,
}

impl<'a, W: Write> Executor<'a, W> {
    /// An executor printing to `out`.
    pub fn new(kernel: &'a mut dyn Kernel, out: W, reporter: Reporter) -> Self {
        Executor {
            kernel,
            out,
            reporter,
            dump_options: DumpOptions::default(),
            kernel_errors: 0,
        }
    }

    /// How many requests the kernel refused so far.
    pub fn kernel_errors(&self) -> usize {
        self.kernel_errors
    }

    /// The output, for flushing.
    pub fn output(&mut self) -> &mut W {
        &mut self.out
    }

    /// Executes one statement: its warnings, then its operations in order.
    pub fn execute(&mut self, statement: &Statement) -> Result<Flow, RunError> {
        let line = statement.location.line;
        for w in &statement.warnings {
            self.reporter.warning(&mut self.out, line, w)?;
        }
        for op in &statement.operations {
            if self.operation(op, line)? == Flow::Exit {
                return Ok(Flow::Exit);
            }
        }
        Ok(Flow::Continue)
    }

    fn operation(&mut self, op: &Operation, line: u32) -> Result<Flow, RunError> {
        let h = self.kernel.header(0, 0);
        let Some(message) = request::for_operation(h, op) else {
            return Ok(Flow::Exit);
        };
        match op {
            Operation::Dump(_) | Operation::SpdDump => {
                return self.dump(&message, line).map(|_| Flow::Continue);
            }
            Operation::DeleteAll(d) => {
                return self
                    .delete_all(&message, &d.src, &d.dst, line)
                    .map(|_| Flow::Continue);
            }
            _ => {}
        }
        let reply = self.kernel.request(&message)?;
        if reply.header.errno != 0 {
            self.kernel_error(&reply, line)?;
        } else if matches!(op, Operation::Get(_)) {
            dump::write_sa(&mut self.out, &reply, now(), &self.dump_options)?;
        }
        Ok(Flow::Continue)
    }

    /// Reports a kernel error reply with setkey's texts.
    fn kernel_error(&mut self, reply: &Message, line: u32) -> Result<(), RunError> {
        self.kernel_errors += 1;
        let text = dump::error_text(&reply.header);
        self.reporter.statement_error(&mut self.out, line, &text)?;
        if let Some(detail) = self.kernel.detail() {
            // rsetkey's addition: what the errno alone cannot say.
            self.reporter.detail(line, detail);
        }
        Ok(())
    }

    /// `dump;` / `spddump;`: every entry on stdout.
    fn dump(&mut self, request: &Message, line: u32) -> Result<(), RunError> {
        let msg_type = request.header.msg_type;
        let mut reply = self.kernel.request(request)?;
        loop {
            if reply.header.errno != 0 {
                return self.kernel_error(&reply, line);
            }
            let now = now();
            if msg_type == MessageType::Dump as u8 {
                dump::write_sa(&mut self.out, &reply, now, &self.dump_options)?;
            } else {
                dump::write_policy(&mut self.out, &reply, now, &self.dump_options)?;
            }
            if reply.header.seq == 0 {
                return Ok(());
            }
            reply = self.kernel.next_reply(msg_type)?;
        }
    }

    /// `deleteall`: dump the SAs of the type, then delete every one between
    /// the two address sets (setkey on Linux stops after the first match).
    fn delete_all(
        &mut self,
        dump: &Message,
        src: &[std::net::IpAddr],
        dst: &[std::net::IpAddr],
        line: u32,
    ) -> Result<(), RunError> {
        let h = dump.header;
        let mut reply = self.kernel.request(dump)?;
        let mut doomed = Vec::new();
        loop {
            if reply.header.errno != 0 {
                self.reporter.plain("error encountered");
                return Ok(());
            }
            if request::sa_between(&reply, src, dst) {
                doomed.extend(request::delete_dumped(h, &reply));
            }
            if reply.header.seq == 0 {
                break;
            }
            reply = self.kernel.next_reply(MessageType::Dump as u8)?;
        }
        for delete in doomed {
            let reply = self.kernel.request(&delete)?;
            if reply.header.errno != 0 {
                self.kernel_error(&reply, line)?;
            }
        }
        Ok(())
    }
}

/// Seconds since the epoch, as setkey's `time(NULL)`.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why execution had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The PF_KEY socket failed.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("write: {0}")]
    Output(#[from] io::Error),
}

/// Standard output shared by everything that prints during a run (the
/// executor, the dump printer, the message tracer), so that their output
/// stays in the order it was produced.
#[derive(Clone)]
pub struct SharedOutput(Rc<RefCell<BufWriter<io::Stdout>>>);

impl SharedOutput {
    /// Buffered standard output.
    pub fn stdout() -> SharedOutput {
        SharedOutput(Rc::new(RefCell::new(BufWriter::new(io::stdout()))))
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// `-v` / `-H`: prints every message sent (`-H`: also as hex) and, with
/// `-v`, every message received, in libipsec's debug format.
pub struct Tracer<'k> {
    inner: &'k mut dyn Kernel,
    out: SharedOutput,
    verbose: bool,
    hex: bool,
    keys: Keys,
}

impl<'k> Tracer<'k> {
    /// Traces `inner`'s traffic onto `out`: decoded with `verbose`, sent
    /// messages in hex with `hex`; `keys` says whether key bytes show.
    pub fn new(
        inner: &'k mut dyn Kernel,
        out: SharedOutput,
        verbose: bool,
        hex: bool,
        keys: Keys,
    ) -> Self {
        Tracer {
            inner,
            out,
            verbose,
            hex,
            keys,
        }
    }

    fn print(&mut self, message: &Message, sent: bool) -> io::Result<()> {
        let bytes = zeroize::Zeroizing::new(message.to_bytes().to_vec());
        // -H asks for the raw bytes, keys included; -v decodes and masks
        // keys unless --show-keys.
        if sent && self.hex {
            dump::kdebug::write_hexdump(&mut self.out, &bytes)?;
        }
        if self.verbose {
            dump::kdebug::write_kdebug(&mut self.out, &bytes, self.keys)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl Kernel for Tracer<'_> {
    fn pid(&self) -> u32 {
        self.inner.pid()
    }

    fn detail(&self) -> Option<&str> {
        self.inner.detail()
    }

    fn request(&mut self, message: &Message) -> Result<Message, SocketError> {
        // Tracing is best effort: a failed write shows up at the final flush.
        let _ = self.print(message, true);
        let reply = self.inner.request(message)?;
        let _ = self.print(&reply, false);
        Ok(reply)
    }

    fn next_reply(&mut self, msg_type: u8) -> Result<Message, SocketError> {
        let reply = self.inner.next_reply(msg_type)?;
        let _ = self.print(&reply, false);
        Ok(reply)
    }
}
