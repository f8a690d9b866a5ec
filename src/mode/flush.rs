//! `-F` / `-FP`: flush the SAD or the SPD.

use std::io::Write;

use super::context::Context;
use super::lock::{self, Hold};
use crate::dump;
use crate::output::{self, SharedOutput};
use crate::pfkey::wire::MessageType;
use crate::pfkey::{Kernel, request};

/// `-F` / `-FP`: flush the SAD or SPD, silently.
pub fn run(ctx: &Context) -> i32 {
    if ctx.flags.no_action {
        // -n sends nothing, in every mode (setkey's sendkeymsg returns
        // before it sends).
        return 0;
    }
    let Some(mut socket) = ctx.open() else {
        return 1;
    };
    let _lock = match lock::take(ctx, Hold::Shared) {
        Ok(held) => held,
        Err(status) => return status,
    };
    let msg_type = if ctx.flags.policy {
        MessageType::SpdFlush
    } else {
        MessageType::Flush
    };
    let mut out = SharedOutput::stdout();
    let mut socket = ctx.traced(socket.as_mut(), &out);
    let message = request::bare(socket.header(0, 0), msg_type, 0);
    let status = match socket.request(&message) {
        Ok(reply) if reply.header.errno != 0 => {
            match out.write_all(dump::error_line(&reply.header).as_bytes()) {
                Ok(()) => 0,
                Err(e) => ctx.run_error(e.into()),
            }
        }
        Ok(_) => 0,
        Err(e) => ctx.run_error(e.into()),
    };
    output::after_flush(status, out.flush())
}
