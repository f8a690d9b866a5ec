//! What the command line does, one file per mode: `-f`/`-c`/`-n`
//! ([`script`]), `--atomic` ([`atomic`]), `-D`/`-DP`/`-l` ([`dump`]),
//! `-F`/`-FP` ([`flush`]), `-x` ([`monitor`]), `FILE...` ([`raw`]); what
//! they share is in [`context`], the lock runs that change the kernel
//! take in [`lock`]; `check`, `mirror` and `generate` (the commands for
//! many hosts) are in [`fleet`].

pub mod atomic;
pub mod context;
pub mod dump;
pub mod fleet;
pub mod flush;
pub mod lock;
pub mod monitor;
pub mod raw;
pub mod script;
