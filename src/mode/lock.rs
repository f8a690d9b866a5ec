//! Runs that change the kernel coordinate through one lock file: an
//! `--atomic` run holds it exclusively from its snapshot to its last
//! change (a restore would otherwise undo what a run beside it did, and
//! two atomic runs would undo each other); plain `-f`, `-c`, `-F` and `-FP`
//! runs hold it shared, so they wait for an atomic run but not for one
//! another. Dry runs (`-n`) change nothing and take no lock.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::context::Context;

/// The lock file: root's, under `/run` (gone at reboot, like the SAD and
/// SPD it guards).
pub const LOCK_PATH: &str = "/run/rsetkey.lock";

/// How long a run waits for the lock before it gives up.
const WAIT: Duration = Duration::from_secs(10);

/// How often a waiting run tries again.
const RETRY: Duration = Duration::from_millis(100);

/// How a run holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// `--atomic`: alone.
    Exclusive,
    /// A plain run: beside other plain runs.
    Shared,
}

/// The lock, held until dropped (or none, where there is no `/run` to
/// hold it in).
#[derive(Debug)]
pub struct RunLock {
    _held: Option<Flock<File>>,
}

/// Takes the lock, waiting up to [`WAIT`] (saying so on stderr) while
/// another run holds it. `Err` is the exit status, the reason reported.
pub fn take(ctx: &Context, hold: Hold) -> Result<RunLock, i32> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(LOCK_PATH);
    let Ok(mut file) = opened else {
        // No /run, or not ours to write: whoever cannot write there cannot
        // change the kernel's databases either, so there is no run to
        // coordinate with.
        return Ok(RunLock { _held: None });
    };
    let arg = match hold {
        Hold::Exclusive => FlockArg::LockExclusiveNonblock,
        Hold::Shared => FlockArg::LockSharedNonblock,
    };
    let deadline = Instant::now() + WAIT;
    let mut told = false;
    loop {
        match Flock::lock(file, arg) {
            Ok(held) => return Ok(RunLock { _held: Some(held) }),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => file = back,
            Err((_, e)) => {
                ctx.error(&format!(
                    "cannot lock {LOCK_PATH}: {}; nothing was changed",
                    crate::os::strerror(e as i32)
                ));
                return Err(1);
            }
        }
        if Instant::now() >= deadline {
            ctx.error(&format!(
                "another rsetkey run still holds {LOCK_PATH} after {} s; nothing was changed",
                WAIT.as_secs()
            ));
            return Err(1);
        }
        if !told {
            ctx.error(&format!(
                "waiting for another rsetkey run to finish (it holds {LOCK_PATH})"
            ));
            told = true;
        }
        std::thread::sleep(RETRY);
    }
}
