//! `-D --json` / `-D --as-script` (and `-DP`): the SAD or SPD in a form
//! for programs (`dump::json`) or for `rsetkey -f` (`dump::script`),
//! instead of setkey's text.

use std::io::Write;

use super::context::Context;
use crate::dump::json::{ArrayWriter, JsonOptions};
use crate::dump::script::{ScriptOptions, ScriptWriter};
use crate::dump::{Protocols, policy};
use crate::output::{self, SharedOutput};
use crate::pfkey::wire::{Message, MessageType, sa_state};
use crate::pfkey::{DumpNumbering, Kernel, request};
use crate::run::RunError;

/// Where the entries of a dump go.
enum Sink {
    Json(ArrayWriter, JsonOptions),
    Script(Box<ScriptWriter>),
}

/// Whether the command line asks for one of these formats.
pub fn wanted(ctx: &Context) -> bool {
    ctx.flags.json || ctx.flags.as_script
}

/// Dumps the SAD (SPD with `-P`) as JSON or as a script.
pub fn run(ctx: &Context) -> i32 {
    if ctx.flags.json && ctx.flags.as_script {
        ctx.error("--json and --as-script are two formats of one dump: give one");
        return 1;
    }
    if ctx.flags.repeat {
        ctx.error("-l repeats the text dump only; --json and --as-script print one dump");
        return 1;
    }
    if ctx.flags.no_action {
        return 0;
    }
    // A script holds keys (it is made to reload them), JSON with
    // --show-keys too: warn when others can read the file they go to.
    let keys_printed = if ctx.flags.policy {
        false
    } else if ctx.flags.as_script {
        !ctx.flags.no_keys
    } else {
        ctx.flags.show_keys && !ctx.flags.no_keys
    };
    if keys_printed && !ctx.flags.no_warn_permissions {
        for w in crate::permissions::check_stdout() {
            ctx.error(&w);
        }
    }
    let Some(mut socket) = ctx.open() else {
        return 1;
    };
    let msg_type = if ctx.flags.policy {
        MessageType::SpdDump
    } else {
        MessageType::Dump
    };
    let mut out = SharedOutput::stdout();
    let clock = out.clock();
    let mut socket = ctx.traced(socket.as_mut(), &out);
    let mut sink = if ctx.flags.json {
        Sink::Json(
            ArrayWriter::new(),
            JsonOptions {
                show_keys: ctx.flags.show_keys && !ctx.flags.no_keys,
            },
        )
    } else {
        Sink::Script(Box::new(ScriptWriter::new(ScriptOptions {
            hide_keys: ctx.flags.no_keys,
            show_dead: ctx.flags.all,
        })))
    };
    let protocols = Protocols::system();
    let mut status = 0;
    let result: Result<(), RunError> = (|| {
        let message = request::bare(socket.header(0, 0), msg_type, 0);
        let mut reply = socket.request(&message)?;
        let mut numbering = DumpNumbering::default();
        clock.tick();
        loop {
            if reply.header.errno == 0 {
                numbering.check(reply.header.seq)?;
            }
            match &mut sink {
                Sink::Json(array, opts) => {
                    if reply.header.errno == 0 {
                        if shown(ctx, &reply) {
                            array.entry(&mut out, &reply, clock.now(), *opts, protocols)?;
                        }
                    } else if reply.header.errno != ENOENT {
                        // stdout stays one JSON document; the error goes
                        // to stderr and into the exit status
                        ctx.error(crate::dump::error_line(&reply.header).trim_end());
                        status = 1;
                    }
                }
                Sink::Script(script) => {
                    if reply.header.errno != 0 || shown(ctx, &reply) {
                        script.reply(&reply);
                    }
                }
            }
            if reply.header.seq == 0 || reply.header.errno != 0 {
                break;
            }
            reply = socket.next_reply(msg_type as u8)?;
        }
        match &mut sink {
            Sink::Json(array, _) => array.finish(&mut out)?,
            Sink::Script(script) => script.finish(&mut out)?,
        }
        Ok(())
    })();
    let status = match result {
        Ok(()) => status,
        Err(e) => ctx.run_error(e),
    };
    output::after_flush(status, out.flush())
}

/// `ENOENT`: an empty table, an empty array.
const ENOENT: u8 = 2;

/// The entries the text dump would show: dead SAs only with `-a`,
/// per-socket policies not with `-N`.
fn shown(ctx: &Context, msg: &Message) -> bool {
    match msg.message_type() {
        Some(MessageType::Dump) => {
            ctx.flags.all || msg.sa().is_none_or(|s| s.state != sa_state::DEAD)
        }
        Some(MessageType::SpdDump) => {
            !(ctx.flags.hide_socket_policies && policy::is_per_socket(msg))
        }
        _ => true,
    }
}
