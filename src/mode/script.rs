//! `-f FILE` (the whole script parsed and checked before anything is
//! sent), `-c` (each statement run as soon as it is read) and `-n` (parse
//! and check only).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

use super::context::{Context, Interface, Target};
use super::lock::{self, Hold};
use zeroize::Zeroizing;

use crate::ir::{Keys, Operation, Statement};
use crate::lint::Linter;
use crate::output::{self, SharedOutput};
use crate::parse::input::InputError;
use crate::parse::interactive::StatementSplitter;
use crate::parse::{self, ParseError, ScriptError};
use crate::pfkey::{Kernel, request};
use crate::run::{Executor, Flow, Reporter};

/// `-f FILE`: parse and check everything, then execute.
///
/// The script is read and parsed a statement at a time. Checking needs no
/// statement twice (see [`Checks`]), so `-n` holds none of them; with a
/// kernel the statements are collected, since nothing is sent before the
/// whole script is known to be good.
pub fn run_file(ctx: &Context, file: &OsString) -> i32 {
    let name = file.to_string_lossy().into_owned();
    let opened = if name == "-" {
        None
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Some(f),
            Err(e) => {
                ctx.error(&InputError::Io(e).message(&name));
                return 1;
            }
        }
    };
    // A file to apply that names no algorithm spares XFRM's probes.
    let names_algorithms = ctx.flags.no_action
        || opened
            .as_ref()
            .is_none_or(|f| parse::names_algorithms(f).unwrap_or(true));
    let Some(target) = ctx.script_target(names_algorithms) else {
        return 1;
    };
    let options = ctx.parse_options(target.supported());
    let names = parse::SystemNames::default();
    let keep = matches!(target, Target::Kernel(..));
    let mut checks = Checks::new(ctx, !keep);
    let mut statements = Vec::new();
    // The script (keys and all) is held a window at a time, in a buffer
    // wiped when dropped. A large file is read in two halves at once
    // (`parse::split`), each checked where it is read.
    let read = match opened {
        Some(f) => {
            let mut split = parse::split::SplitStatements::new(
                f,
                &options,
                &names,
                parse::split::SPLIT_MIN,
                checks.fresh(),
                keep,
            );
            let read = take_in(split.by_ref(), &mut checks, keep.then_some(&mut statements));
            if let Some(half) = split.second_half() {
                checks.append(half.observer);
                statements.extend(half.statements);
            }
            read
        }
        None => {
            let feed = parse::input::ScriptReader::new(io::stdin().lock());
            let parsed = parse::Statements::new(feed, &options, &names);
            take_in(parsed, &mut checks, keep.then_some(&mut statements))
        }
    };
    match read {
        Ok(()) => {}
        Err(ScriptError::Input(e)) => {
            ctx.error(&e.message(&name));
            return 1;
        }
        Err(ScriptError::Parse(e)) => {
            parse_error(ctx, &name, *e);
            return 1;
        }
    }
    let lints = match checks.linter.take() {
        Some(linter) => linter.finish(),
        // The statements are all here: linted in place, nothing copied.
        None if checks.lint => crate::lint::lint(&statements),
        None => Vec::new(),
    };
    if let Err(status) = advise(ctx, file, &name, checks.holds_keys, lints) {
        return status;
    }
    let target = match ctx.fit_target_to(target, &name, checks.needs_xfrm) {
        Ok(target) => target,
        Err(status) => return status,
    };
    if let Some(lines) = &checks.lines {
        // What the script would do, one kernel operation per line.
        if let Err(e) = output::print(lines) {
            return ctx.run_error(e.into());
        }
    }
    let Target::Kernel(mut socket, ..) = target else {
        return 0;
    };
    let hold = if ctx.flags.atomic {
        Hold::Exclusive
    } else {
        Hold::Shared
    };
    let _lock = match lock::take(ctx, hold) {
        Ok(held) => held,
        Err(status) => return status,
    };
    let socket = socket.as_mut();
    if let Err(status) = preflight(ctx, socket, &name, &statements) {
        return status;
    }
    let reporter = Reporter {
        program: ctx.program.clone(),
        file: name,
        interactive: false,
        quiet: false,
    };
    if ctx.flags.atomic {
        return super::atomic::execute(ctx, socket, reporter, &statements);
    }
    execute(ctx, socket, reporter, &statements)
}

/// Checks each statement read, keeping it in `kept` if given, up to the
/// first error.
fn take_in(
    parsed: impl Iterator<Item = Result<Statement, ScriptError>>,
    checks: &mut Checks,
    mut kept: Option<&mut Vec<Statement>>,
) -> Result<(), ScriptError> {
    for statement in parsed {
        let statement = statement?;
        checks.observe(&statement);
        if let Some(kept) = kept.as_deref_mut() {
            kept.push(statement);
        }
    }
    Ok(())
}

/// What `-f` checks of a script, taken in a statement at a time: whether
/// it holds keys (for the permissions warning), its lints, the first
/// statement PF_KEY cannot express, and with `-n -v` the lines printed.
struct Checks {
    holds_keys: bool,
    /// Whether lints are wanted at all.
    lint: bool,
    /// The lints as statements come, when they are not kept.
    linter: Option<Linter>,
    needs_xfrm: Option<(u32, String)>,
    /// `-n -v`: printed once the whole script is known to be good; it may
    /// show keys (`--show-keys`).
    lines: Option<Zeroizing<String>>,
    keys: Keys,
    /// Whether the permissions are checked at all.
    permissions: bool,
}

impl Checks {
    fn new(ctx: &Context, streamed: bool) -> Self {
        // `--strict` refuses counter modes even with `--no-lint`.
        let lint = !ctx.flags.no_lint || ctx.flags.strict;
        Checks {
            holds_keys: false,
            lint,
            linter: (lint && streamed).then(Linter::default),
            needs_xfrm: None,
            lines: (ctx.flags.no_action && ctx.flags.verbose).then(Zeroizing::default),
            keys: ctx.key_display(),
            permissions: !ctx.flags.no_warn_permissions,
        }
    }

    /// The same checks, with nothing seen yet: for a part of the script
    /// read on another thread.
    fn fresh(&self) -> Checks {
        Checks {
            holds_keys: false,
            lint: self.lint,
            linter: self.linter.as_ref().map(|_| Linter::default()),
            needs_xfrm: None,
            lines: self.lines.as_ref().map(|_| Zeroizing::default()),
            keys: self.keys,
            permissions: self.permissions,
        }
    }

    /// Takes in what `later` saw of the statements after the ones these
    /// checks saw.
    fn append(&mut self, later: Checks) {
        self.holds_keys |= later.holds_keys;
        if let (Some(linter), Some(later)) = (&mut self.linter, later.linter) {
            linter.append(later);
        }
        if self.needs_xfrm.is_none() {
            self.needs_xfrm = later.needs_xfrm;
        }
        if let (Some(lines), Some(later)) = (&mut self.lines, &later.lines) {
            lines.push_str(later);
        }
    }

    fn observe(&mut self, statement: &Statement) {
        let one = std::slice::from_ref(statement);
        if self.permissions && !self.holds_keys {
            self.holds_keys = crate::permissions::holds_keys(one);
        }
        if let Some(linter) = &mut self.linter {
            linter.observe(statement);
        }
        if self.needs_xfrm.is_none() {
            self.needs_xfrm = super::context::needs_xfrm(one);
        }
        if let Some(lines) = &mut self.lines {
            let printed = Zeroizing::new(crate::ir::print::statement_lines(one, self.keys));
            lines.push_str(&printed);
        }
    }
}

impl parse::split::Observer for Checks {
    fn observe(&mut self, statement: &Statement) {
        Checks::observe(self, statement);
    }
}

/// rsetkey's own warnings about a parsed `-f` script, on stderr:
/// permissions of the file, then lints. They never change stdout or
/// the exit status, except that with `--strict` a counter mode under a
/// static key is an error (even with `--no-lint`): the script is refused
/// before anything is sent, `Err` holding the exit status.
fn advise(
    ctx: &Context,
    file: &OsString,
    name: &str,
    holds_keys: bool,
    lints: Vec<crate::lint::Lint>,
) -> Result<(), i32> {
    if !ctx.flags.no_warn_permissions && name != "-" {
        for w in crate::permissions::check_path(Path::new(file), holds_keys) {
            ctx.error(&w);
        }
    }
    let mut refused = false;
    for l in lints {
        if ctx.flags.strict && l.static_key_counter {
            crate::stderr!("{}", l.render_as_error(&ctx.program, name));
            refused = true;
        } else if !ctx.flags.no_lint {
            crate::stderr!("{}", l.render(&ctx.program, name));
        }
    }
    if refused {
        ctx.error("--strict: counter modes with static keys are refused; nothing was applied");
        return Err(1);
    }
    Ok(())
}

/// Asks the kernel, before anything is sent, whether it can carry out
/// every statement at all (a missing ESP module, a missing cipher): a
/// script it cannot apply in full is not applied in part.
fn preflight(
    ctx: &Context,
    kernel: &mut dyn Kernel,
    name: &str,
    statements: &[Statement],
) -> Result<(), i32> {
    for statement in statements {
        for op in &statement.operations {
            match op {
                Operation::Exit => return Ok(()), // nothing after it runs
                // Only an SA asks for a transform and algorithms: building
                // the message of anything else would be wasted.
                Operation::Add(_) => {}
                _ => continue,
            }
            let Some(message) = request::for_operation(kernel.header(0, 0), op) else {
                continue;
            };
            match kernel.preflight(&message) {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    let line = statement.location.line;
                    ctx.error(&format!("{name},{line}: {reason}; nothing was applied"));
                    return Err(1);
                }
                Err(e) => {
                    ctx.error(&e.setkey_text());
                    return Err(1);
                }
            }
        }
    }
    Ok(())
}

fn execute(
    ctx: &Context,
    kernel: &mut dyn Kernel,
    reporter: Reporter,
    statements: &[Statement],
) -> i32 {
    let out = SharedOutput::stdout();
    let mut traced = ctx.traced(kernel, &out);
    let mut exec = Executor::new(&mut traced, out.clone(), reporter);
    exec.read_time_from(out.clock());
    let mut status = 0;
    if let Err(e) = exec.execute_all(statements) {
        status = ctx.run_error(e);
    }
    status = output::after_flush(status, exec.output().flush());
    if ctx.flags.strict && exec.kernel_errors() > 0 && status == 0 {
        status = 1;
    }
    status
}

/// Prints a parse error the way setkey does, then as a diagnostic (its
/// excerpt taken from the script as it was read).
fn parse_error(ctx: &Context, name: &str, e: ParseError) {
    if let Some((bits, min, max)) = e.key_bits {
        crate::stderrln!("{bits} {min} {max}");
    }
    if let Some(message) = &e.message {
        crate::stderrln!("{}: {},{}: {}", ctx.program, name, e.line, message);
    }
    if !e.lexer_fatal {
        crate::stderrln!("{}: {},{}: parse failed", ctx.program, name, e.line);
    }
    let e = e.with_name(name);
    crate::stderrln!("{}", parse::diagnostic::render_for_stderr(&e));
}

/// `-c`: statements from stdin, each run as soon as its `;` is read.
pub fn commands(ctx: &Context) -> i32 {
    if ctx.flags.atomic {
        // Each statement runs as soon as it is read: there is no
        // whole script to try first or to undo.
        ctx.error("--atomic needs a whole script: use it with -f");
        return 1;
    }
    let Some(target) = ctx.script_target(true) else {
        return 1;
    };
    let options = ctx.parse_options(target.supported());
    let (mut kernel, pfkey) = match target {
        Target::Kernel(kernel, _, interface) => (Some(kernel), interface == Interface::Pfkey),
        Target::DryRun(_) => (None, false),
    };
    // A dry run changes nothing: no lock.
    let _lock = match kernel.as_ref().map(|_| lock::take(ctx, Hold::Shared)) {
        Some(Err(status)) => return status,
        held => held,
    };
    let reporter = Reporter {
        program: ctx.program.clone(),
        file: "-".to_string(),
        interactive: true,
        quiet: false,
    };
    let mut out = SharedOutput::stdout();
    let mut traced = kernel.as_mut().map(|k| ctx.traced(k.as_mut(), &out));
    // No executor on a dry run: the statements are only parsed.
    let mut exec = traced.as_mut().map(|traced| {
        let mut exec = Executor::new(traced, out.clone(), reporter);
        exec.read_time_from(out.clock());
        exec
    });
    let mut splitter = StatementSplitter::default();
    let mut status = 0;
    'lines: for line in parse::input::Lines::new(io::stdin().lock()) {
        let line = match line {
            Ok(line) => line,
            Err(parse::input::InputError::Io(_)) => break,
            Err(e) => {
                ctx.error(&e.message("-"));
                status = 1;
                break;
            }
        };
        for piece in splitter.push_line(&line) {
            match parse::parse_script(&piece, &options) {
                Ok(statements) => {
                    let Some(exec) = exec.as_mut() else {
                        if dry_run(ctx, &mut out, &statements) == Flow::Exit {
                            break 'lines;
                        }
                        continue;
                    };
                    for statement in &statements {
                        // Statements run as they are read: the interface
                        // was chosen before this one (see
                        // `Context::fit_target` for `-f`).
                        if pfkey
                            && let Some((line, reason)) =
                                super::context::needs_xfrm(std::slice::from_ref(statement))
                        {
                            ctx.error(&format!(
                                "-,{line}: {reason}; not sent (with -c only --backend xfrm can \
                                 run it)"
                            ));
                            continue;
                        }
                        match exec.execute(statement) {
                            Ok(Flow::Continue) => {}
                            Ok(Flow::Exit | Flow::Stopped) => break 'lines,
                            Err(e) => {
                                status = ctx.run_error(e);
                                break 'lines;
                            }
                        }
                    }
                }
                Err(e) if e.lexer_fatal => {
                    let _ = write!(out, "{}", e.message.unwrap_or_default());
                    status = 1;
                    break 'lines;
                }
                Err(e) => {
                    if let Some(bits) = e.key_bits {
                        crate::stderrln!("{} {} {}", bits.0, bits.1, bits.2);
                    }
                    let _ = write!(out, "{}", e.message.unwrap_or_default());
                }
            }
            if let Err(e) = out.flush()
                && output::is_broken_pipe(&e)
            {
                // setkey would have died of SIGPIPE here
                status = output::BROKEN_PIPE_STATUS;
                break 'lines;
            }
        }
    }
    status = output::after_flush(status, out.flush());
    if ctx.flags.strict && exec.is_some_and(|exec| exec.kernel_errors() > 0) && status == 0 {
        status = 1;
    }
    status
}

/// `-n -c`: what statements would do, with `-v` (as `-n -v -f` shows it);
/// [`Flow::Exit`] at an `exit`.
fn dry_run(ctx: &Context, out: &mut SharedOutput, statements: &[Statement]) -> Flow {
    if ctx.flags.verbose {
        let lines = crate::ir::print::statement_lines(statements, ctx.key_display());
        let _ = out.write_all(lines.as_bytes());
    }
    let exit = statements
        .iter()
        .flat_map(|s| &s.operations)
        .any(|op| matches!(op, Operation::Exit));
    if exit { Flow::Exit } else { Flow::Continue }
}
