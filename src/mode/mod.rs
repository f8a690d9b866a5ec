//! What the command line does, one file per mode: `-f`/`-c`/`-n`
//! ([`script`]), `--atomic` ([`atomic`]), `-D`/`-DP`/`-l` ([`dump`]),
//! `-F`/`-FP` ([`flush`]), `-x` ([`monitor`]), `FILE...` ([`raw`]); what
//! they share is in [`context`].

pub mod atomic;
pub mod context;
pub mod dump;
pub mod flush;
pub mod monitor;
pub mod raw;
pub mod script;
