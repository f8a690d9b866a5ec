//! `--atomic -f`: the orchestration of snapshot, trial run in a scratch
//! network namespace, real run and restore. The machinery itself is
//! [`crate::atomic`].

use std::io::{self, Write};

use super::context::Context;
use crate::atomic::{self, Snapshot};
use crate::ir::Statement;
use crate::output::{self, SharedOutput};
use crate::pfkey::{Kernel, SocketError};
use crate::run::{Executor, Refusal, Reporter, RunError};

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

/// `--atomic -f`: snapshot, trial in a scratch namespace, real run
/// stopped at the first refusal or signal, restore (see
/// [`crate::atomic`]).
pub fn execute(
    ctx: &Context,
    kernel: &mut dyn Kernel,
    reporter: Reporter,
    statements: &[Statement],
) -> i32 {
    let say = |text: &str| ctx.error(&format!("--atomic: {text}"));
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
    match trial(ctx, &snapshot, &reporter, statements) {
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
    let mut traced = ctx.traced(kernel, &out);
    let mut exec = Executor::new(&mut traced, out.clone(), reporter);
    exec.read_time_from(out.clock());
    exec.stop_when(|refusals| !refusals.is_empty() || atomic::interrupted().is_some());
    let result = exec.execute_all(statements);
    let flushed = exec.output().flush();
    // Whether the reader of the output went away, mid-run or at the end.
    let reader_gone = matches!(&result, Err(RunError::Output(e)) if output::is_broken_pipe(e))
        || flushed.as_ref().is_err_and(output::is_broken_pipe);
    let refusals = exec.refusals().to_vec();
    drop(exec);
    let why = if let Some(signal) = atomic::interrupted() {
        format!("interrupted by {signal}")
    } else if !refusals.is_empty() {
        format!("the kernel refused {}", lines_text(&refusals))
    } else {
        match result {
            // A reader that went away is no error to report (as in every
            // other mode), but the run did not finish as asked: restored.
            _ if reader_gone => "the reader of the output went away".to_string(),
            Err(e) => {
                let _ = ctx.run_error(e);
                "the run failed".to_string()
            }
            Ok(_) => match &flushed {
                Err(_) => {
                    ctx.error("write: output failed");
                    "the output failed".to_string()
                }
                Ok(()) => return 0,
            },
        }
    };
    // The status a signal gives (SIGPIPE's for a closed pipe, as
    // everywhere else), 1 for every other failure.
    let status = match atomic::interrupted() {
        Some(signal) => 128 + signal as i32,
        None if reader_gone => output::BROKEN_PIPE_STATUS,
        None => 1,
    };
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
    ctx: &Context,
    snapshot: &Snapshot,
    reporter: &Reporter,
    statements: &[Statement],
) -> Result<(), Trial> {
    let opened = atomic::in_scratch_namespace(|| {
        let mut netlink = atomic::open_snapshot_socket()
            .map_err(|e| Trial::Unavailable(format!("scratch namespace: {}", e.setkey_text())))?;
        snapshot.seed(&mut netlink).map_err(|e| {
            Trial::Unavailable(format!(
                "cannot copy the SAD and SPD into a scratch namespace: {e}"
            ))
        })?;
        ctx.kernel().map_err(|errors| {
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
