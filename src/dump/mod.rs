//! setkey's dump formats, byte for byte.
//!
//! Formatters from [`crate::pfkey::wire`] messages to the text ipsec-tools
//! `setkey` prints for `-D`, `-DP` (with `-a`, `-p`, `-N`), the `get`,
//! `dump` and `spddump` statements and `setkey FILE`. They stream: each call
//! renders one message, so dumps of any size never sit in memory.
//!
//! Inputs that setkey takes from its environment are explicit: `now` (the
//! `time(NULL)` of `current:`/`diff:`), the time zone ([`Zone`]) and the
//! protocols database ([`Protocols`]). The free functions use the system
//! defaults (C library local time, `/etc/protocols`); [`Printer`] lets a
//! caller or test inject them and keeps the `-N` counter across messages.

pub mod addr;
pub mod json;
pub mod kdebug;
pub mod policy;
pub mod protocols;
pub mod sa;
pub mod script;
pub mod short;
pub mod text;
pub mod time;

use std::cell::{Cell, RefCell};
use std::io::Write;

use crate::pfkey::wire::{Message, MessageType, sa_state};
use time::TimeText;

/// Capacity of the reused entry buffer beyond which it is given back.
const SCRATCH_KEPT: usize = 64 * 1024;

pub use protocols::Protocols;
pub use time::Zone;

/// The command-line switches that change dump text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpOptions {
    /// `-a`: also show SAs in state dead.
    pub show_dead: bool,
    /// `-p`: show ports on SA addresses and policy request end points.
    pub show_ports: bool,
    /// `-N`: hide per-socket policies (with a count line at the end).
    pub hide_socket_policies: bool,
    /// `--no-keys`: key bytes printed as `*`, in setkey's layout, so that
    /// a dump can be pasted where others read it.
    pub hide_keys: bool,
}

/// `ENOENT`, which setkey words specially per request type.
const ENOENT: u8 = 2;

/// A dump printer with its environment and the `-N` hidden-entry counter.
///
/// It keeps what a long dump would otherwise redo for every entry: one
/// text buffer, reused, and the last time stamps it rendered (the entries
/// of a table loaded at once share their creation second, and every SA of
/// a dump prints the same `current:` time).
#[derive(Debug, Clone)]
pub struct Printer<'p> {
    /// Dump switches.
    pub opts: DumpOptions,
    /// Protocol names for selector lines.
    pub protocols: &'p Protocols,
    /// Time zone of time stamps.
    pub zone: Zone,
    hidden: u64,
    /// The text of one entry, reused from entry to entry.
    scratch: RefCell<Vec<u8>>,
    /// The last time stamps rendered, most recent first.
    times: Cell<[Option<(u64, TimeText)>; 2]>,
}

impl Printer<'static> {
    /// A printer using the system protocols database and local time.
    pub fn new(opts: DumpOptions) -> Printer<'static> {
        Printer::with_env(opts, Protocols::system(), Zone::Local)
    }
}

impl<'p> Printer<'p> {
    /// A printer with an explicit protocols database and time zone.
    pub fn with_env(opts: DumpOptions, protocols: &'p Protocols, zone: Zone) -> Printer<'p> {
        Printer {
            opts,
            protocols,
            zone,
            hidden: 0,
            scratch: RefCell::new(Vec::with_capacity(1024)),
            times: Cell::new([None, None]),
        }
    }

    /// setkey's `str_time` of `t` in this printer's zone, appended to `buf`.
    pub(crate) fn push_time(&self, buf: &mut Vec<u8>, t: u64) {
        let [first, second] = self.times.get();
        let text = match (first, second) {
            (Some((k, text)), _) if k == t => text,
            (_, Some((k, text))) if k == t => {
                self.times.set([second, first]);
                text
            }
            _ => {
                let text = TimeText::new(t, self.zone);
                self.times.set([Some((t, text)), first]);
                text
            }
        };
        buf.extend_from_slice(text.as_bytes());
    }

    /// Renders with the reused buffer, then writes the text out at once.
    fn emit(&self, out: &mut impl Write, render: impl FnOnce(&mut Vec<u8>)) -> std::io::Result<()> {
        // A printer is not re-entered; should it be, a fresh buffer serves.
        let mut fresh = Vec::new();
        let mut guard = self.scratch.try_borrow_mut();
        let buf = match guard.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut fresh,
        };
        buf.clear();
        render(buf);
        let written = out.write_all(buf);
        if buf.capacity() > SCRATCH_KEPT {
            // one huge entry (a long security context) is not kept around
            *buf = Vec::with_capacity(1024);
        }
        written
    }

    /// One SA block (SADB_DUMP entry or SADB_GET reply). Dead SAs are
    /// printed too; the `-a` filter belongs to [`Printer::reply`].
    pub fn sa(&self, out: &mut impl Write, msg: &Message, now: u64) -> std::io::Result<()> {
        self.emit(out, |buf| sa::render(buf, msg, now, self))
    }

    /// One SP block, or nothing for a per-socket policy under `-N` (which
    /// is counted for the line printed after the last entry).
    pub fn policy(&mut self, out: &mut impl Write, msg: &Message, now: u64) -> std::io::Result<()> {
        // setkey restarts the count at the first entry of a dump.
        if msg.header.seq == 1 {
            self.hidden = 0;
        }
        let hide = self.opts.hide_socket_policies && policy::is_per_socket(msg);
        if hide {
            self.hidden += 1;
        }
        let hidden = if msg.header.seq == 0 {
            std::mem::take(&mut self.hidden)
        } else {
            0
        };
        self.emit(out, |buf| {
            if !hide {
                policy::render(buf, msg, now, self);
            }
            if hidden > 0 {
                text::push_u64(buf, hidden);
                buf.extend_from_slice(if hidden == 1 {
                    b" per-socket policy not shown (filtered by -N)\n"
                } else {
                    b" per-socket policies not shown (filtered by -N)\n"
                });
            }
        })
    }

    /// What setkey's reply printer shows for `msg`: an error line for
    /// errno ≠ 0, an SA block for SADB_GET / SADB_DUMP (dead ones only with
    /// `-a`), an SP block for SADB_X_SPDGET / SADB_X_SPDDUMP, else nothing.
    pub fn reply(&mut self, out: &mut impl Write, msg: &Message, now: u64) -> std::io::Result<()> {
        if msg.header.errno != 0 {
            return out.write_all(error_line(&msg.header).as_bytes());
        }
        match msg.message_type() {
            Some(MessageType::Get) => self.sa(out, msg, now),
            Some(MessageType::Dump) => {
                let dead = msg.sa().is_some_and(|s| s.state == sa_state::DEAD);
                if dead && !self.opts.show_dead {
                    Ok(())
                } else {
                    self.sa(out, msg, now)
                }
            }
            Some(MessageType::SpdGet | MessageType::SpdDump) => self.policy(out, msg, now),
            _ => Ok(()),
        }
    }
}

/// The text setkey prints for a reply with `sadb_msg_errno` set, newline
/// included: `No SAD entries.` / `No SPD entries.` / `No entry.` for ENOENT
/// on dump / spddump / get, delete, spddelete, `(null).` for ENOENT on any
/// other request (setkey has no text then), else `<strerror>.`.
pub fn error_line(header: &crate::pfkey::wire::Header) -> String {
    format!("{}.\n", error_text(header))
}

/// [`error_line`] without the period and newline (what `-f` mode reports
/// on stderr after `file,line: `).
pub fn error_text(header: &crate::pfkey::wire::Header) -> String {
    if header.errno == ENOENT {
        return match header.message_type() {
            Some(MessageType::Delete | MessageType::Get | MessageType::SpdDelete) => "No entry",
            Some(MessageType::Dump) => "No SAD entries",
            Some(MessageType::SpdDump) => "No SPD entries",
            _ => "(null)",
        }
        .to_string();
    }
    crate::os::strerror(i32::from(header.errno))
}

/// One SA block with system defaults (see [`Printer::sa`]); nothing for a
/// dead SA without `-a`.
pub fn write_sa(
    out: &mut impl Write,
    msg: &Message,
    now: u64,
    opts: &DumpOptions,
) -> std::io::Result<()> {
    let dead = msg.sa().is_some_and(|s| s.state == sa_state::DEAD);
    if dead && !opts.show_dead {
        return Ok(());
    }
    Printer::new(*opts).sa(out, msg, now)
}

/// One SP block with system defaults; under `-N` a per-socket policy
/// prints nothing. The `-N` count line needs state across messages: use
/// [`Printer::policy`] for that.
pub fn write_policy(
    out: &mut impl Write,
    msg: &Message,
    now: u64,
    opts: &DumpOptions,
) -> std::io::Result<()> {
    if opts.hide_socket_policies && policy::is_per_socket(msg) {
        return Ok(());
    }
    let printer = Printer::new(*opts);
    printer.emit(out, |buf| policy::render(buf, msg, now, &printer))
}

/// setkey's reply printer with system defaults (see [`Printer::reply`];
/// stateless, so without the `-N` count line — use a [`Printer`] for a
/// whole dump).
pub fn write_reply(
    out: &mut impl Write,
    msg: &Message,
    now: u64,
    opts: &DumpOptions,
) -> std::io::Result<()> {
    let mut opts = *opts;
    let hide = opts.hide_socket_policies;
    opts.hide_socket_policies = false;
    if hide
        && msg.header.errno == 0
        && matches!(
            msg.message_type(),
            Some(MessageType::SpdGet | MessageType::SpdDump)
        )
        && policy::is_per_socket(msg)
    {
        return Ok(());
    }
    Printer::new(opts).reply(out, msg, now)
}

#[cfg(test)]
mod tests;
