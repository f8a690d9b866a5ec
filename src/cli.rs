//! The command line, setkey's way: the same flags, the same modes, the same
//! messages and exit statuses.
//!
//! Deliberate differences (each listed in the README): `-f` validates the
//! whole script before it sends anything, replies are matched to their
//! requests, `deleteall` deletes every match, and `--strict` turns kernel
//! errors into a non-zero exit status.

use std::ffi::OsString;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use nix::errno::Errno;
use zeroize::Zeroizing;

use crate::atomic::{self, Snapshot};
use crate::dump::{self, DumpOptions, Printer};
use crate::ir::Keys;
use crate::ir::{Statement, SupportedAlgorithms};
use crate::parse::interactive::StatementSplitter;
use crate::parse::{self, Options, ParseError};
use crate::pfkey::SocketError;
use crate::pfkey::request;
use crate::pfkey::socket::PfKeySocket;
use crate::pfkey::wire::{self, MessageType};
use crate::pfkey::{DumpNumbering, Kernel};
use crate::run::{Executor, Flow, Refusal, Reporter, RunError, SharedOutput, Tracer};
use crate::xfrm::XfrmKernel;

/// rsetkey's command line (setkey's flags, plus long options of its own).
#[derive(Debug, Parser)]
#[command(
    name = "rsetkey",
    disable_help_flag = true,
    disable_version_flag = true,
    about = "Manually keyed IPsec: load and dump the kernel's SAD and SPD"
)]
struct Args {
    /// With -D: also show dead SAs.
    #[arg(short = 'a')]
    all: bool,
    /// Read statements from standard input and run each as soon as it is read.
    #[arg(short = 'c')]
    commands: bool,
    /// Accepted and ignored, like setkey.
    #[arg(short = 'd')]
    debug: bool,
    /// Run the statements of FILE (`-` for standard input).
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<OsString>,
    /// Hex-dump messages.
    #[arg(short = 'H')]
    hex: bool,
    /// With -D: repeat every second.
    #[arg(short = 'l')]
    repeat: bool,
    /// Parse and check only; send nothing.
    #[arg(short = 'n')]
    no_action: bool,
    /// Decode every message sent and received.
    #[arg(short = 'v')]
    verbose: bool,
    /// Monitor every PF_KEY message (twice: raw timestamps).
    #[arg(short = 'x', action = ArgAction::Count)]
    monitor: u8,
    /// Dump the SAD (with -P: the SPD).
    #[arg(short = 'D')]
    dump: bool,
    /// Flush the SAD (with -P: the SPD).
    #[arg(short = 'F')]
    flush: bool,
    /// With -D / -F: the SPD instead of the SAD.
    #[arg(short = 'P')]
    policy: bool,
    /// Show ports in dumps.
    #[arg(short = 'p')]
    ports: bool,
    /// With -DP: hide per-socket policies.
    #[arg(short = 'N')]
    hide_socket_policies: bool,
    /// Print usage.
    #[arg(short = 'h', short_alias = '?')]
    help: bool,
    /// Print the version.
    #[arg(short = 'V')]
    version: bool,
    /// RFC semantics (default): an `in` policy also installs its `fwd` twin.
    #[arg(short = 'r')]
    rfc: bool,
    /// Kernel semantics: no automatic `fwd` policy.
    #[arg(short = 'k')]
    kernel: bool,
    /// Exit with status 1 when the kernel refuses any statement (setkey
    /// reports the error and exits 0).
    #[arg(long)]
    strict: bool,
    /// With -f: apply the whole script or nothing. The script is tried in
    /// a scratch network namespace holding a copy of the SAD and SPD
    /// first; a refusal, or SIGINT/SIGTERM/SIGHUP during the real run,
    /// restores the databases as they were, and the exit status is not 0.
    #[arg(long)]
    atomic: bool,
    /// Show key material in -v output (masked by default).
    #[arg(long)]
    show_keys: bool,
    /// Do not warn (on stderr) when the -f script holds keys and group or
    /// others may read or write it, or when anyone may change it.
    #[arg(long)]
    no_warn_permissions: bool,
    /// Do not print lints (on stderr): advice about weak algorithms,
    /// replay windows and policies no SA of the script can satisfy.
    #[arg(long)]
    no_lint: bool,
    /// Which kernel interface to use: PF_KEY when the kernel has it, else
    /// XFRM netlink (auto); or one of them.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Files of raw PF_KEY messages to print as dumps would.
    #[arg(value_name = "FILE")]
    files: Vec<OsString>,
}

/// How the trial run of `--atomic` ended, when not well.
enum Trial {
    /// The kernel refused these statements.
    Refused(Vec<Refusal>),
    /// A signal came.
    Interrupted(nix::sys::signal::Signal),
    /// There could be no trial (no scratch namespace, no copy of the
    /// databases in it).
    Unavailable(String),
    /// Something failed that makes going on unsafe.
    Failed(String),
}

/// `line 3`, `lines 3, 5`: the lines of refused statements.
fn lines_text(refusals: &[Refusal]) -> String {
    let mut lines: Vec<u32> = refusals.iter().map(|r| r.line).collect();
    lines.dedup();
    let list: Vec<String> = lines.iter().map(u32::to_string).collect();
    match list.len() {
        1 => format!("the statement on line {}", list[0]),
        _ => format!("the statements on lines {}", list.join(", ")),
    }
}

/// The kernel interfaces rsetkey can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// PF_KEY when the kernel has it, XFRM netlink otherwise.
    Auto,
    /// PF_KEY v2 (what setkey uses).
    Pfkey,
    /// XFRM netlink (what `ip xfrm` uses).
    Xfrm,
}

const USAGE: &str = "usage: setkey [-vrk] file ...
       setkey [-nvrk] -c
       setkey [-nvrk] -f filename
       setkey [-PalpvNrk] -D
       setkey [-Pv] -F
       setkey [-H] -x
       setkey [-V] [-h]
";

/// Runs rsetkey with the given arguments; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let program = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map_or_else(
            || "rsetkey".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    let parsed = Args::command()
        .try_get_matches_from(&argv)
        .and_then(|m| Args::from_arg_matches(&m).map(|args| (last_mode(&m), args)));
    let (mode, args) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{program}: {}", option_error(&e));
            usage(&program);
            return 1;
        }
    };
    let cli = Cli {
        program,
        args,
        mode,
    };
    cli.run()
}

/// setkey's modes of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `-f FILE`.
    Script,
    /// `-c`.
    Commands,
    /// `-D`.
    Dump,
    /// `-F`.
    Flush,
    /// `-x`.
    Monitor,
}

/// The mode whose flag came last on the command line: setkey keeps
/// overwriting its mode while it reads options (`-f a.conf -D` dumps).
fn last_mode(m: &clap::ArgMatches) -> Option<Mode> {
    use clap::parser::ValueSource;
    [
        ("file", Mode::Script),
        ("commands", Mode::Commands),
        ("dump", Mode::Dump),
        ("flush", Mode::Flush),
        ("monitor", Mode::Monitor),
    ]
    .into_iter()
    .filter(|(id, _)| m.value_source(id) == Some(ValueSource::CommandLine))
    .filter_map(|(id, mode)| Some((m.indices_of(id)?.max()?, mode)))
    .max_by_key(|(index, _)| *index)
    .map(|(_, mode)| mode)
}

/// What is wrong with the command line, in getopt's words where setkey's
/// getopt would have complained (`invalid option -- 'z'`), else clap's.
fn option_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let letter = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg
            .strip_prefix('-')
            .and_then(|a| a.chars().next())
            .filter(|c| *c != '-'),
        _ => None,
    };
    let missing_value = matches!(
        e.get(ContextKind::InvalidValue),
        Some(ContextValue::String(v)) if v.is_empty()
    );
    match (e.kind(), letter) {
        (ErrorKind::UnknownArgument, Some(c)) => format!("invalid option -- '{c}'"),
        (ErrorKind::InvalidValue, Some(c)) if missing_value => {
            format!("option requires an argument -- '{c}'")
        }
        _ => e.kind().to_string(),
    }
}

fn usage(program: &str) {
    println!("{}", version_line(program));
    print!("{}", USAGE.replace("setkey", program));
}

fn version_line(program: &str) -> String {
    format!(
        "{program} @(#) rsetkey {} (setkey compatible)",
        env!("CARGO_PKG_VERSION")
    )
}

struct Cli {
    program: String,
    args: Args,
    mode: Option<Mode>,
}

impl Cli {
    fn run(&self) -> i32 {
        let a = &self.args;
        if a.help {
            usage(&self.program);
            return 1;
        }
        if a.version {
            println!("{}", version_line(&self.program));
            return 1;
        }
        if !a.files.is_empty() {
            return self.print_files();
        }
        match (self.mode, &a.file) {
            (Some(Mode::Script), Some(file)) => return self.script_file(file),
            (Some(Mode::Commands), _) => return self.commands(),
            (Some(Mode::Dump), _) => return self.dump_mode(),
            (Some(Mode::Monitor), _) => return self.monitor(),
            (Some(Mode::Flush), _) => return self.flush_mode(),
            _ => {}
        }
        usage(&self.program);
        1
    }

    fn error(&self, text: &str) {
        eprintln!("{}: {}", self.program, text);
    }

    fn dump_options(&self) -> DumpOptions {
        DumpOptions {
            show_dead: self.args.all,
            show_ports: self.args.ports,
            hide_socket_policies: self.args.hide_socket_policies,
        }
    }

    fn parse_options(&self, supported: SupportedAlgorithms) -> Options {
        Options {
            supported,
            rfc_mode: !self.args.kernel,
        }
    }

    /// The kernel interface `--backend` asks for. `auto` takes PF_KEY when
    /// the kernel has it (setkey's interface, so the messages are the same),
    /// XFRM netlink otherwise.
    fn kernel(&self) -> Result<Box<dyn Kernel>, Vec<SocketError>> {
        match self.args.backend {
            Backend::Pfkey => Ok(Box::new(PfKeySocket::open().map_err(|e| vec![e])?)),
            Backend::Xfrm => Ok(Box::new(XfrmKernel::open().map_err(|e| vec![e])?)),
            Backend::Auto => match PfKeySocket::open() {
                Ok(s) => Ok(Box::new(s)),
                Err(pfkey @ SocketError::Open(Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT)) => {
                    match XfrmKernel::open() {
                        Ok(x) => Ok(Box::new(x)),
                        Err(xfrm) => Err(vec![pfkey, xfrm]),
                    }
                }
                Err(e) => Err(vec![e]),
            },
        }
    }

    /// [`Cli::kernel`], reporting why it could not be opened.
    fn open(&self) -> Option<Box<dyn Kernel>> {
        match self.kernel() {
            Ok(k) => Some(k),
            Err(errors) => {
                for e in errors {
                    self.error(&e.setkey_text());
                }
                None
            }
        }
    }

    /// Asks the kernel which algorithms it offers (setkey's key-length checks
    /// depend on them).
    fn register(&self, socket: &mut dyn Kernel) -> Option<SupportedAlgorithms> {
        let message = request::register(socket.header(0, 0));
        match socket.request(&message) {
            Ok(reply) if reply.header.errno == 0 => Some(request::supported_algorithms(&reply)),
            Ok(reply) => {
                self.error(&crate::os::strerror(i32::from(reply.header.errno)));
                None
            }
            Err(e) => {
                self.error(&e.setkey_text());
                None
            }
        }
    }

    /// `-f FILE`: parse and check everything, then execute.
    fn script_file(&self, file: &OsString) -> i32 {
        let name = file.to_string_lossy().into_owned();
        // The script holds keys: keep it in a buffer wiped when dropped.
        let source = if name == "-" {
            parse::input::read_script(io::stdin())
        } else {
            parse::input::read_script_file(std::path::Path::new(file))
        };
        let source = match source {
            Ok(s) => s,
            Err(e) => {
                self.error(&e.message(&name));
                return 1;
            }
        };
        let mut socket = if self.args.no_action {
            // -n changes nothing. Like setkey it asks PF_KEY which algorithms
            // the kernel offers, when there is PF_KEY; otherwise (no PF_KEY,
            // or --backend xfrm, whose answer means probing the kernel) it
            // checks against what Linux usually offers.
            match self.args.backend {
                Backend::Xfrm => None,
                Backend::Auto | Backend::Pfkey => PfKeySocket::open()
                    .ok()
                    .map(|s| Box::new(s) as Box<dyn Kernel>),
            }
        } else {
            match self.kernel() {
                Ok(s) => Some(s),
                Err(errors) => {
                    for e in errors {
                        self.error(&e.setkey_text());
                    }
                    return 1;
                }
            }
        };
        let supported = match socket.as_mut() {
            Some(s) => match self.register(s.as_mut()) {
                Some(sup) => sup,
                None => return 1,
            },
            None => SupportedAlgorithms::linux_default(),
        };
        let statements = match parse::parse_script(&source, &self.parse_options(supported)) {
            Ok(s) => s,
            Err(e) => {
                self.parse_error(&name, &source, e);
                return 1;
            }
        };
        self.advise(file, &name, &statements);
        if self.args.no_action && self.args.verbose {
            // What the script would do, one kernel operation per line.
            print!(
                "{}",
                crate::ir::print::statement_lines(&statements, self.key_display())
            );
        }
        let Some(socket) = socket.as_mut().filter(|_| !self.args.no_action) else {
            return 0;
        };
        let socket = socket.as_mut();
        if let Err(status) = self.preflight(socket, &name, &statements) {
            return status;
        }
        let reporter = Reporter {
            program: self.program.clone(),
            file: name,
            interactive: false,
            quiet: false,
        };
        if self.args.atomic {
            return self.execute_atomically(socket, reporter, &statements);
        }
        self.execute(socket, reporter, &statements)
    }

    /// `--atomic -f`: snapshot, trial in a scratch namespace, real run
    /// stopped at the first refusal or signal, restore (see
    /// [`crate::atomic`]).
    fn execute_atomically(
        &self,
        kernel: &mut dyn Kernel,
        reporter: Reporter,
        statements: &[Statement],
    ) -> i32 {
        let say = |text: &str| self.error(&format!("--atomic: {text}"));
        let mut netlink = match atomic::open_snapshot_socket() {
            Ok(s) => s,
            Err(e) => {
                say(&format!(
                    "{}; it is needed to take and restore a snapshot; nothing was changed",
                    e.setkey_text()
                ));
                return 1;
            }
        };
        if let Err(e) = atomic::catch_interrupts() {
            say(&format!(
                "cannot catch signals: {}; nothing was changed",
                crate::os::strerror(e as i32)
            ));
            return 1;
        }
        let snapshot = match Snapshot::take(&mut netlink) {
            Ok(s) => s,
            Err(e) => {
                say(&format!("cannot take a snapshot: {e}; nothing was changed"));
                return 1;
            }
        };
        match self.trial(&snapshot, &reporter, statements) {
            Ok(()) => {}
            Err(Trial::Refused(refusals)) => {
                for r in &refusals {
                    reporter.refusal(r);
                }
                say(&format!(
                    "the kernel would refuse {} (tried in a scratch network namespace); nothing was changed",
                    lines_text(&refusals)
                ));
                return 1;
            }
            Err(Trial::Interrupted(signal)) => {
                say(&format!(
                    "interrupted by {signal} before anything was applied; nothing was changed"
                ));
                return 128 + signal as i32;
            }
            Err(Trial::Unavailable(why)) => {
                // Without a trial the real run still stops at the first
                // refusal and restores the snapshot.
                say(&format!("{why}; applying with restore on failure only"));
            }
            Err(Trial::Failed(why)) => {
                say(&format!("{why}; nothing was changed"));
                return 1;
            }
        }
        // A signal from here on stops the real run before its next
        // statement (the first included) and restores the snapshot.
        let out = SharedOutput::stdout();
        let mut traced = self.traced(kernel, &out);
        let mut exec = Executor::new(&mut traced, out.clone(), reporter);
        exec.read_time_from(out.clock());
        exec.stop_when(|refusals| !refusals.is_empty() || atomic::interrupted().is_some());
        let result = exec.execute_all(statements);
        let output_failed = exec.output().flush().is_err();
        let refusals = exec.refusals().to_vec();
        drop(exec);
        let why = if let Some(signal) = atomic::interrupted() {
            format!("interrupted by {signal}")
        } else if !refusals.is_empty() {
            format!("the kernel refused {}", lines_text(&refusals))
        } else {
            match result {
                Err(e) => {
                    let _ = self.run_error(e);
                    "the run failed".to_string()
                }
                Ok(_) if output_failed => {
                    self.error("write: output failed");
                    "the output failed".to_string()
                }
                Ok(_) => return 0,
            }
        };
        let status = atomic::interrupted().map_or(1, |s| 128 + s as i32);
        match snapshot.restore(&mut netlink) {
            Ok(restored) => {
                say(&format!(
                    "{why}; restored the SAD and SPD as they were; nothing was changed"
                ));
                if restored.policies_added > 0 {
                    say(&format!(
                        "{} re-added policies show the time of the restore as their creation time",
                        restored.policies_added
                    ));
                }
            }
            Err(e) => say(&format!(
                "{why}; restoring the SAD and SPD FAILED: {e}; they are left changed"
            )),
        }
        status
    }

    /// Runs the script quietly in a scratch network namespace seeded with
    /// the snapshot, through the same kind of kernel interface.
    fn trial(
        &self,
        snapshot: &Snapshot,
        reporter: &Reporter,
        statements: &[Statement],
    ) -> Result<(), Trial> {
        let opened = atomic::in_scratch_namespace(|| {
            let mut netlink = atomic::open_snapshot_socket().map_err(|e| {
                Trial::Unavailable(format!("scratch namespace: {}", e.setkey_text()))
            })?;
            snapshot.seed(&mut netlink).map_err(|e| {
                Trial::Unavailable(format!(
                    "cannot copy the SAD and SPD into a scratch namespace: {e}"
                ))
            })?;
            self.kernel().map_err(|errors| {
                let text: Vec<String> = errors.iter().map(SocketError::setkey_text).collect();
                Trial::Unavailable(format!("scratch namespace: {}", text.join(", ")))
            })
        });
        let mut kernel = match opened {
            Ok(Ok(kernel)) => kernel,
            Ok(Err(e)) => return Err(e),
            Err(e @ atomic::ScratchError::Enter(_)) => {
                return Err(Trial::Unavailable(e.to_string()));
            }
            Err(e @ atomic::ScratchError::Return(_)) => return Err(Trial::Failed(e.to_string())),
        };
        let quiet = Reporter {
            quiet: true,
            ..reporter.clone()
        };
        let mut exec = Executor::new(kernel.as_mut(), io::sink(), quiet);
        exec.stop_when(|_| atomic::interrupted().is_some());
        let result = exec.execute_all(statements);
        if let Some(signal) = atomic::interrupted() {
            return Err(Trial::Interrupted(signal));
        }
        match result {
            Err(e) => Err(Trial::Failed(format!("the trial run failed: {e}"))),
            Ok(_) if !exec.refusals().is_empty() => Err(Trial::Refused(exec.refusals().to_vec())),
            Ok(_) => Ok(()),
        }
    }

    /// rsetkey's own warnings about a parsed `-f` script, on stderr:
    /// permissions of the file, then lints. They never change stdout or
    /// the exit status.
    fn advise(&self, file: &OsString, name: &str, statements: &[Statement]) {
        if !self.args.no_warn_permissions && name != "-" {
            let holds_keys = crate::permissions::holds_keys(statements);
            for w in crate::permissions::check_path(Path::new(file), holds_keys) {
                self.error(&w);
            }
        }
        if !self.args.no_lint {
            for l in crate::lint::lint(statements) {
                eprint!("{}", l.render(&self.program, name));
            }
        }
    }

    /// Asks the kernel, before anything is sent, whether it can carry out
    /// every statement at all (a missing ESP module, a missing cipher): a
    /// script it cannot apply in full is not applied in part.
    fn preflight(
        &self,
        kernel: &mut dyn Kernel,
        name: &str,
        statements: &[Statement],
    ) -> Result<(), i32> {
        for statement in statements {
            for op in &statement.operations {
                let Some(message) = request::for_operation(kernel.header(0, 0), op) else {
                    return Ok(()); // exit: nothing after it runs
                };
                match kernel.preflight(&message) {
                    Ok(None) => {}
                    Ok(Some(reason)) => {
                        let line = statement.location.line;
                        self.error(&format!("{name},{line}: {reason}; nothing was applied"));
                        return Err(1);
                    }
                    Err(e) => {
                        self.error(&e.setkey_text());
                        return Err(1);
                    }
                }
            }
        }
        Ok(())
    }

    fn execute(
        &self,
        kernel: &mut dyn Kernel,
        reporter: Reporter,
        statements: &[Statement],
    ) -> i32 {
        let out = SharedOutput::stdout();
        let mut traced = self.traced(kernel, &out);
        let mut exec = Executor::new(&mut traced, out.clone(), reporter);
        exec.read_time_from(out.clock());
        let mut status = 0;
        if let Err(e) = exec.execute_all(statements) {
            status = self.run_error(e);
        }
        if exec.output().flush().is_err() {
            status = 1;
        }
        if self.args.strict && exec.kernel_errors() > 0 {
            status = 1;
        }
        status
    }

    /// Whether `-v` output shows keys (`--show-keys`).
    fn key_display(&self) -> Keys {
        if self.args.show_keys {
            Keys::Show
        } else {
            Keys::Mask
        }
    }

    /// The kernel, with `-v` / `-H` tracing of its messages onto `out`.
    fn traced<'k>(&self, kernel: &'k mut dyn Kernel, out: &SharedOutput) -> Tracer<'k> {
        Tracer::new(
            kernel,
            out.clone(),
            self.args.verbose,
            self.args.hex,
            self.key_display(),
        )
    }

    fn run_error(&self, e: RunError) -> i32 {
        match e {
            RunError::Socket(e) => self.error(&e.setkey_text()),
            RunError::Output(e) => self.error(&format!("write: {e}")),
        }
        1
    }

    /// Prints a parse error the way setkey does, then as a diagnostic.
    fn parse_error(&self, name: &str, source: &str, e: ParseError) {
        if let Some((bits, min, max)) = e.key_bits {
            eprintln!("{bits} {min} {max}");
        }
        if let Some(message) = &e.message {
            eprintln!("{}: {},{}: {}", self.program, name, e.line, message);
        }
        if !e.lexer_fatal {
            eprintln!("{}: {},{}: parse failed", self.program, name, e.line);
        }
        let e = e.with_source_name(name, source.to_string());
        eprintln!("{}", parse::diagnostic::render_for_stderr(&e));
    }

    /// `-c`: statements from stdin, each run as soon as its `;` is read.
    fn commands(&self) -> i32 {
        if self.args.atomic {
            // Each statement runs as soon as it is read: there is no
            // whole script to try first or to undo.
            self.error("--atomic needs a whole script: use it with -f");
            return 1;
        }
        let Some(mut socket) = self.open() else {
            return 1;
        };
        let Some(supported) = self.register(socket.as_mut()) else {
            return 1;
        };
        let options = self.parse_options(supported);
        let reporter = Reporter {
            program: self.program.clone(),
            file: "-".to_string(),
            interactive: true,
            quiet: false,
        };
        let out = SharedOutput::stdout();
        let mut traced = self.traced(socket.as_mut(), &out);
        let mut exec = Executor::new(&mut traced, out.clone(), reporter);
        exec.read_time_from(out.clock());
        let mut splitter = StatementSplitter::default();
        let mut status = 0;
        'lines: for line in parse::input::Lines::new(io::stdin().lock()) {
            let line = match line {
                Ok(line) => line,
                Err(parse::input::InputError::Io(_)) => break,
                Err(e) => {
                    self.error(&e.message("-"));
                    status = 1;
                    break;
                }
            };
            for piece in splitter.push_line(&line) {
                match parse::parse_script(&piece, &options) {
                    Ok(statements) => {
                        for statement in &statements {
                            match exec.execute(statement) {
                                Ok(Flow::Continue) => {}
                                Ok(Flow::Exit | Flow::Stopped) => break 'lines,
                                Err(e) => {
                                    status = self.run_error(e);
                                    break 'lines;
                                }
                            }
                        }
                    }
                    Err(e) if e.lexer_fatal => {
                        let _ = write!(exec.output(), "{}", e.message.unwrap_or_default());
                        status = 1;
                        break 'lines;
                    }
                    Err(e) => {
                        if let Some(bits) = e.key_bits {
                            eprintln!("{} {} {}", bits.0, bits.1, bits.2);
                        }
                        let _ = write!(exec.output(), "{}", e.message.unwrap_or_default());
                    }
                }
                let _ = exec.output().flush();
            }
        }
        if exec.output().flush().is_err() {
            status = 1;
        }
        if self.args.strict && exec.kernel_errors() > 0 {
            status = 1;
        }
        status
    }

    /// `-D` / `-DP`: dump the SAD or SPD (with `-l`: every second, for
    /// ever; the SAD in the one-line format).
    fn dump_mode(&self) -> i32 {
        let Some(mut socket) = self.open() else {
            return 1;
        };
        let msg_type = if self.args.policy {
            MessageType::SpdDump
        } else {
            MessageType::Dump
        };
        let short = self.args.repeat && !self.args.policy;
        let mut out = SharedOutput::stdout();
        let clock = out.clock();
        let mut socket = self.traced(socket.as_mut(), &out);
        let mut printer = Printer::new(self.dump_options());
        let result: Result<(), RunError> = (|| {
            if short {
                out.write_all(dump::short::SHORT_HEADER.as_bytes())?;
            }
            loop {
                let message = request::bare(socket.header(0, 0), msg_type, 0);
                let mut reply = socket.request(&message)?;
                let mut numbering = DumpNumbering::default();
                clock.tick();
                loop {
                    if reply.header.errno == 0 {
                        numbering.check(reply.header.seq)?;
                    }
                    let now = clock.now();
                    if short && reply.header.errno == 0 {
                        dump::short::write_short(&mut out, &reply, now, &self.dump_options())?;
                    } else {
                        printer.reply(&mut out, &reply, now)?;
                    }
                    if reply.header.seq == 0 || reply.header.errno != 0 {
                        break;
                    }
                    reply = socket.next_reply(msg_type as u8)?;
                }
                if !self.args.repeat {
                    return Ok(());
                }
                out.flush()?;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })();
        let status = match result {
            Ok(()) => 0,
            Err(e) => self.run_error(e),
        };
        if out.flush().is_err() {
            return 1;
        }
        status
    }

    /// `-x` / `-xx`: print every PF_KEY message of the network namespace, for
    /// ever, in libipsec's debug format. `--backend pfkey` monitors PF_KEY,
    /// `--backend xfrm` the XFRM events as the PF_KEY messages af_key would
    /// send for them (`xfrm::monitor`), `auto` PF_KEY when the kernel has it.
    fn monitor(&self) -> i32 {
        let pfkey = match self.args.backend {
            Backend::Xfrm => None,
            Backend::Pfkey | Backend::Auto => Some(PfKeySocket::open()),
        };
        let open_xfrm = crate::xfrm::monitor::XfrmMonitor::open;
        let result = match pfkey {
            Some(Ok(socket)) => self.monitor_pfkey(socket),
            Some(Err(e @ SocketError::Open(Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT)))
                if self.args.backend == Backend::Auto =>
            {
                match open_xfrm() {
                    Ok(m) => self.monitor_xfrm(m),
                    Err(xfrm) => {
                        // both interfaces are missing: say so for both
                        self.error(&e.setkey_text());
                        Err(xfrm.into())
                    }
                }
            }
            Some(Err(e)) => Err(e.into()),
            None => open_xfrm()
                .map_err(RunError::from)
                .and_then(|m| self.monitor_xfrm(m)),
        };
        match result {
            Ok(()) => 0,
            Err(e) => self.run_error(e),
        }
    }

    /// The PF_KEY monitor: a promiscuous socket, every message it receives.
    fn monitor_pfkey(&self, mut socket: PfKeySocket) -> Result<(), RunError> {
        let mut promisc = request::bare(socket.header(0, 0), MessageType::Promisc, 1);
        promisc.header.satype = 1;
        let mut out = MonitorOutput::new(self.args.monitor >= 2, self.args.hex);
        let result: Result<(), RunError> = (|| {
            socket.set_timeout(None)?;
            socket.send(&promisc)?;
            loop {
                let bytes = socket.receive_raw()?;
                out.stamp()?;
                out.hexdump(bytes)?;
                let body = if bytes.get(1) == Some(&(MessageType::Promisc as u8)) {
                    // The kernel's echo of a PROMISC request carries nothing
                    // more: setkey prints the bare time stamp and leaves it
                    // in its buffer until the next full message.
                    match bytes.get(wire::HEADER_LEN..) {
                        Some(inner) if !inner.is_empty() => inner,
                        _ => continue,
                    }
                } else {
                    bytes
                };
                out.decode(body)?;
            }
        })();
        out.finish();
        result
    }

    /// The XFRM monitor: each kernel event printed as the PF_KEY monitor
    /// prints af_key's message for it, as many times as a promiscuous
    /// PF_KEY socket receives that message.
    fn monitor_xfrm(&self, mut monitor: crate::xfrm::monitor::XfrmMonitor) -> Result<(), RunError> {
        use crate::xfrm::monitor::Event;
        let mut out = MonitorOutput::new(self.args.monitor >= 2, self.args.hex);
        let result: Result<(), RunError> = (|| {
            loop {
                match monitor.next_event()? {
                    Event::Message(n) => {
                        // holds keys: wiped when dropped
                        let bytes = Zeroizing::new(Vec::<u8>::from(n.message.to_bytes()));
                        for _ in 0..n.copies {
                            out.stamp()?;
                            out.hexdump(&bytes)?;
                            out.decode(&bytes)?;
                        }
                    }
                    Event::Lost => {
                        out.finish();
                        self.error("the kernel dropped XFRM events: this monitor fell behind");
                    }
                }
            }
        })();
        out.finish();
        result
    }

    /// `-F` / `-FP`: flush the SAD or SPD, silently.
    fn flush_mode(&self) -> i32 {
        let Some(mut socket) = self.open() else {
            return 1;
        };
        let msg_type = if self.args.policy {
            MessageType::SpdFlush
        } else {
            MessageType::Flush
        };
        let mut out = SharedOutput::stdout();
        let mut socket = self.traced(socket.as_mut(), &out);
        let message = request::bare(socket.header(0, 0), msg_type, 0);
        let status = match socket.request(&message) {
            Ok(reply) if reply.header.errno != 0 => {
                match out.write_all(dump::error_line(&reply.header).as_bytes()) {
                    Ok(()) => 0,
                    Err(e) => self.run_error(e.into()),
                }
            }
            Ok(_) => 0,
            Err(e) => self.run_error(e.into()),
        };
        if out.flush().is_err() {
            return 1;
        }
        status
    }

    /// `setkey FILE...`: print files of raw PF_KEY messages as dumps would.
    fn print_files(&self) -> i32 {
        let mut out = SharedOutput::stdout();
        let clock = out.clock();
        let options = self.dump_options();
        for file in &self.args.files {
            let bytes = match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    let _ = out.flush();
                    self.error(&format!(
                        "{}: {}",
                        file.to_string_lossy(),
                        crate::os::strerror(errno)
                    ));
                    return 1;
                }
            };
            for message in wire::messages(&bytes) {
                let Ok(message) = message else { break };
                if dump::write_reply(&mut out, &message, clock.now(), &options).is_err() {
                    return 1;
                }
            }
        }
        if out.flush().is_err() {
            return 1;
        }
        0
    }
}

/// What `-x` prints for each message: a time stamp line (local time of
/// day, or epoch seconds with `-xx`), the `-H` hex dump, the kdebug text
/// and an empty line, flushed.
struct MonitorOutput {
    out: BufWriter<io::StdoutLock<'static>>,
    epoch_stamps: bool,
    hex: bool,
    /// Seconds east of UTC: setkey computes the offset once, at start-up.
    offset: i64,
}

impl MonitorOutput {
    fn new(epoch_stamps: bool, hex: bool) -> MonitorOutput {
        MonitorOutput {
            out: BufWriter::new(io::stdout().lock()),
            epoch_stamps,
            hex,
            offset: dump::time::local_offset(crate::os::now() as i64),
        }
    }

    /// The time stamp line, taken now.
    fn stamp(&mut self) -> io::Result<()> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let micros = since.subsec_micros();
        if self.epoch_stamps {
            writeln!(self.out, "{}.{micros:06} ", since.as_secs())
        } else {
            let t = (since.as_secs() as i64 + self.offset).rem_euclid(86_400);
            writeln!(
                self.out,
                "{:02}:{:02}:{:02}.{micros:06} ",
                t / 3600,
                t / 60 % 60,
                t % 60
            )
        }
    }

    /// The whole message in hex, with `-H`.
    fn hexdump(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.hex {
            dump::kdebug::write_hexdump(&mut self.out, bytes)?;
        }
        Ok(())
    }

    /// The decoded message (keys shown, as setkey shows them) and the
    /// empty line after it.
    fn decode(&mut self, body: &[u8]) -> io::Result<()> {
        dump::kdebug::write_kdebug(&mut self.out, body, Keys::Show)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Writes out what is buffered (a bare stamp, before an error).
    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}
