//! `-x` / `-xx`: print every PF_KEY message of the network namespace, or
//! the kernel's XFRM events as the PF_KEY messages af_key would send.

use std::io::{self, BufWriter, Write};

use nix::errno::Errno;
use zeroize::Zeroizing;

use super::context::{Backend, Context};
use crate::dump;
use crate::ir::Keys;
use crate::pfkey::socket::PfKeySocket;
use crate::pfkey::wire::{self, MessageType};
use crate::pfkey::{Kernel, SocketError, request};
use crate::run::RunError;

/// `-x` / `-xx`: print every PF_KEY message of the network namespace, for
/// ever, in libipsec's debug format. `--backend pfkey` monitors PF_KEY,
/// `--backend xfrm` the XFRM events as the PF_KEY messages af_key would
/// send for them (`xfrm::monitor`), `auto` PF_KEY when the kernel has it.
pub fn run(ctx: &Context) -> i32 {
    let pfkey = match ctx.flags.backend {
        Backend::Xfrm => None,
        Backend::Pfkey | Backend::Auto => Some(PfKeySocket::open()),
    };
    let open_xfrm = crate::xfrm::monitor::XfrmMonitor::open;
    let result = match pfkey {
        Some(Ok(socket)) => monitor_pfkey(ctx, socket),
        Some(Err(e @ SocketError::Open(Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT)))
            if ctx.flags.backend == Backend::Auto =>
        {
            match open_xfrm() {
                Ok(m) => monitor_xfrm(ctx, m),
                Err(xfrm) => {
                    // both interfaces are missing: say so for both
                    ctx.error(&e.setkey_text());
                    Err(xfrm.into())
                }
            }
        }
        Some(Err(e)) => Err(e.into()),
        None => open_xfrm()
            .map_err(RunError::from)
            .and_then(|m| monitor_xfrm(ctx, m)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => ctx.run_error(e),
    }
}

/// The PF_KEY monitor: a promiscuous socket, every message it receives.
fn monitor_pfkey(ctx: &Context, mut socket: PfKeySocket) -> Result<(), RunError> {
    let mut promisc = request::bare(socket.header(0, 0), MessageType::Promisc, 1);
    promisc.header.satype = 1;
    let mut out = MonitorOutput::new(ctx.flags.monitor >= 2, ctx.flags.hex);
    out.json = json_options(ctx);
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
fn monitor_xfrm(
    ctx: &Context,
    mut monitor: crate::xfrm::monitor::XfrmMonitor,
) -> Result<(), RunError> {
    use crate::xfrm::monitor::Event;
    let mut out = MonitorOutput::new(ctx.flags.monitor >= 2, ctx.flags.hex);
    out.json = json_options(ctx);
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
                    ctx.error("the kernel dropped XFRM events: this monitor fell behind");
                }
            }
        }
    })();
    out.finish();
    result
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
    /// `--json`: one JSON line per message instead of all of the above.
    json: Option<dump::json::JsonOptions>,
}

/// `--json`'s options (keys only with `--show-keys`), or `None`.
fn json_options(ctx: &Context) -> Option<dump::json::JsonOptions> {
    ctx.flags.json.then_some(dump::json::JsonOptions {
        show_keys: ctx.flags.show_keys && !ctx.flags.no_keys,
    })
}

impl MonitorOutput {
    fn new(epoch_stamps: bool, hex: bool) -> MonitorOutput {
        MonitorOutput {
            out: BufWriter::new(io::stdout().lock()),
            epoch_stamps,
            hex,
            offset: dump::time::local_offset(crate::os::now() as i64),
            json: None,
        }
    }

    /// The time stamp line, taken now.
    fn stamp(&mut self) -> io::Result<()> {
        if self.json.is_some() {
            return Ok(());
        }
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
        if self.hex && self.json.is_none() {
            dump::kdebug::write_hexdump(&mut self.out, bytes)?;
        }
        Ok(())
    }

    /// The decoded message (keys shown, as setkey shows them) and the
    /// empty line after it.
    fn decode(&mut self, body: &[u8]) -> io::Result<()> {
        if let Some(opts) = self.json {
            let protocols = dump::Protocols::system();
            let now = crate::os::now();
            return dump::json::write_event(&mut self.out, body, now, opts, protocols);
        }
        dump::kdebug::write_kdebug(&mut self.out, body, Keys::Show)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Writes out what is buffered (a bare stamp, before an error).
    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}
