//! `-D` / `-DP`: dump the SAD or the SPD; with `-l`, every second.

use std::io::Write;

use super::context::Context;
use crate::dump::{self, Printer};
use crate::output::{self, SharedOutput};
use crate::pfkey::wire::MessageType;
use crate::pfkey::{DumpNumbering, Kernel, request};
use crate::run::RunError;

/// `-D` / `-DP`: dump the SAD or SPD (with `-l`: every second, for
/// ever; the SAD in the one-line format).
pub fn run(ctx: &Context) -> i32 {
    if super::export::wanted(ctx) {
        return super::export::run(ctx);
    }
    if ctx.flags.no_action {
        // -n sends nothing, in every mode: setkey asks for no dump either.
        return 0;
    }
    let Some(mut socket) = ctx.open() else {
        return 1;
    };
    let msg_type = if ctx.flags.policy {
        MessageType::SpdDump
    } else {
        MessageType::Dump
    };
    let short = ctx.flags.repeat && !ctx.flags.policy;
    let mut out = SharedOutput::stdout();
    let clock = out.clock();
    let mut socket = ctx.traced(socket.as_mut(), &out);
    let mut printer = Printer::new(ctx.dump_options());
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
                    dump::short::write_short(&mut out, &reply, now, &ctx.dump_options())?;
                } else {
                    printer.reply(&mut out, &reply, now)?;
                }
                if reply.header.seq == 0 || reply.header.errno != 0 {
                    break;
                }
                reply = socket.next_reply(msg_type as u8)?;
            }
            if !ctx.flags.repeat {
                return Ok(());
            }
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    })();
    let status = match result {
        Ok(()) => 0,
        Err(e) => ctx.run_error(e),
    };
    output::after_flush(status, out.flush())
}
