//! `setkey FILE...`: print files of raw PF_KEY messages as the dumps would.

use std::ffi::OsString;
use std::io::Write;

use super::context::Context;
use crate::dump;
use crate::output::{self, SharedOutput};
use crate::pfkey::wire;

/// `setkey FILE...`: print files of raw PF_KEY messages as dumps would.
pub fn run(ctx: &Context, files: &[OsString]) -> i32 {
    let mut out = SharedOutput::stdout();
    let clock = out.clock();
    let options = ctx.dump_options();
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                let _ = out.flush();
                ctx.error(&format!(
                    "{}: {}",
                    file.to_string_lossy(),
                    crate::os::strerror(errno)
                ));
                return 1;
            }
        };
        for message in wire::messages(&bytes) {
            let Ok(message) = message else { break };
            if let Err(e) = dump::write_reply(&mut out, &message, clock.now(), &options) {
                return output::failure_status(&e);
            }
        }
    }
    output::after_flush(0, out.flush())
}
