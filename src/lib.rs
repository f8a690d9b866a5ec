//! rsetkey: manually keyed IPsec for Linux, a drop-in for `setkey(8)`.
//!
//! The layers, and the one direction their dependencies point (the map is
//! `ARCHITECTURE.md`):
//!
//! * [`algorithms`] is the one table of every algorithm: setkey's names,
//!   PF_KEY ids, dump names, the kernel's crypto API names and sizes;
//! * [`codec`] reads and writes bytes for every wire format below: fields
//!   at offsets in a named byte order, padding, netlink attributes;
//! * [`parse`] reads the setkey script dialect and lowers it to [`ir`];
//! * [`ir`] is the plain description of what a script asks for;
//! * [`pfkey`] speaks PF_KEY v2: typed wire messages, the socket, the
//!   translation of IR operations into messages, and the [`pfkey::Kernel`]
//!   trait every kernel interface implements;
//! * [`xfrm`] answers the same PF_KEY requests through XFRM netlink, for
//!   kernels without PF_KEY;
//! * [`dump`] prints kernel messages exactly as setkey does (it reads wire
//!   types only, never the parser);
//! * [`run`] executes IR statements against a kernel and reports like
//!   setkey; [`output`] is the standard output they all share, [`trace`]
//!   the `-v` / `-H` tracer;
//! * [`cli`] is the command line, setkey's flags, and dispatches to a
//!   [`mode`]: one per thing the command line does (`-f`/`-c`/`-n`,
//!   `--atomic`, `-D`, `-F`, `-x`, `FILE...`), on top of everything else;
//! * [`atomic`] gives `--atomic` its snapshot, scratch namespace and
//!   restore;
//! * [`permissions`] and [`lint`] warn about scripts others can read and
//!   about weak or unsatisfiable configurations (rsetkey additions, on
//!   stderr only).

// Standard error through `stderr!`/`stderrln!` only (clippy.toml says why).
#![warn(clippy::disallowed_macros)]

pub mod algorithms;
pub mod atomic;
pub mod cli;
pub mod codec;
pub mod dump;
pub mod fleet;
pub mod ir;
pub mod lint;
pub mod mode;
pub mod os;
pub mod output;
pub mod parse;
pub mod permissions;
pub mod pfkey;
pub mod priority;
pub mod run;
pub mod trace;
pub mod xfrm;
