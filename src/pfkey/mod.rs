//! PF_KEY v2 (RFC 2367) as Linux speaks it.
//!
//! PF_KEY messages are rsetkey's lingua franca: statements become PF_KEY
//! requests ([`request`]), dumps are printed from PF_KEY replies, and a
//! [`Kernel`] answers requests the way Linux's `af_key` does — the PF_KEY
//! socket itself ([`socket::PfKeySocket`]), or a translation onto another
//! kernel interface.

pub mod request;
pub mod socket;
#[cfg(test)]
mod tests;
pub mod wire;

use nix::errno::Errno;
use wire::{Header, Message, PF_KEY_V2, WireError};

use crate::ir::Operation;

/// What the caller of [`Kernel::request_batch`] needs of each reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyNeed {
    /// The whole first reply, exactly as [`Kernel::request`] returns it
    /// (for example the SA notification af_key sends after an ADD).
    Full,
    /// Only the outcome: an error reply as [`Kernel::request`] would give
    /// it, and on success any reply with errno 0 — possibly just the
    /// request's header. Lets an interface skip what it would do only to
    /// build the full reply (XFRM: a GET after every ADD).
    Status,
}

/// One request's answer in a batch.
#[derive(Debug, Clone)]
pub struct BatchReply {
    /// The first reply (see [`ReplyNeed`] for what it holds).
    pub reply: Message,
    /// [`Kernel::detail`] as it stood right after this request, when the
    /// reply is an error.
    pub detail: Option<String>,
}

/// The answers to a batch of requests.
#[derive(Debug)]
pub struct BatchOutcome {
    /// One answer per request, in request order; fewer than the requests
    /// when `failure` is set (the requests after the answered ones may or
    /// may not have reached the kernel).
    pub replies: Vec<BatchReply>,
    /// The transport failure that ended the batch, if any.
    pub failure: Option<SocketError>,
}

/// [`Kernel::apply_batch`] through the operations' PF_KEY messages.
pub fn request_operations<K: Kernel + ?Sized>(
    kernel: &mut K,
    operations: &[&Operation],
) -> BatchOutcome {
    let header = kernel.header(0, 0);
    let requests: Vec<Message> = operations
        .iter()
        .filter_map(|op| request::for_operation(header, op))
        .collect();
    kernel.request_batch(&requests, ReplyNeed::Status)
}

/// [`Kernel::request_batch`] the plain way: each request with
/// [`Kernel::request`], in order, until the transport fails.
pub fn request_each<K: Kernel + ?Sized>(kernel: &mut K, requests: &[Message]) -> BatchOutcome {
    let mut replies = Vec::with_capacity(requests.len());
    for message in requests {
        match kernel.request(message) {
            Ok(reply) => {
                let detail = if reply.header.errno != 0 {
                    kernel.detail().map(str::to_string)
                } else {
                    None
                };
                replies.push(BatchReply { reply, detail });
            }
            Err(e) => {
                return BatchOutcome {
                    replies,
                    failure: Some(e),
                };
            }
        }
    }
    BatchOutcome {
        replies,
        failure: None,
    }
}

/// Follows the numbering of a dump's entries: af_key numbers them 1, 2,
/// …, N−1 and the last one 0. A number out of turn means the kernel
/// dropped entries (its queue to the socket was full while other messages
/// arrived), which must not pass for a complete dump.
#[derive(Debug, Clone, Copy, Default)]
pub struct DumpNumbering {
    seen: u32,
}

impl DumpNumbering {
    /// Checks the next entry's `sadb_msg_seq`.
    pub fn check(&mut self, seq: u32) -> Result<(), SocketError> {
        let expected = self.seen.wrapping_add(1);
        if seq != 0 && seq != expected {
            return Err(SocketError::Incomplete { expected, got: seq });
        }
        self.seen = expected;
        Ok(())
    }
}

/// Something that answers PF_KEY requests as Linux's `af_key` would.
pub trait Kernel {
    /// The pid requests carry in `sadb_msg_pid` (replies echo it; dumps
    /// print it).
    fn pid(&self) -> u32;

    /// Sends a request and returns its first reply (an error reply has
    /// `sadb_msg_errno` set). Replies to earlier requests and messages meant
    /// for others are never returned.
    fn request(&mut self, message: &Message) -> Result<Message, SocketError>;

    /// Sends requests in order and returns the first reply of each, in
    /// order, as if each had been sent with [`Kernel::request`] after the
    /// previous one was answered: every request sees the kernel state the
    /// earlier ones left, and a refused request does not stop the others.
    ///
    /// The default sends them one by one (PF_KEY's nature: one datagram
    /// per message, one answer each). An interface that can carry many
    /// requests per system call (XFRM netlink) overrides it.
    fn request_batch(&mut self, requests: &[Message], need: ReplyNeed) -> BatchOutcome {
        let _ = need;
        request_each(self, requests)
    }

    /// Carries out operations whose outcome alone is wanted (the batchable
    /// ones: adds, deletes, flushes, policy changes; each has a request),
    /// in order: [`Kernel::request_batch`] of their requests with
    /// [`ReplyNeed::Status`], which is what the default does. A backend
    /// that speaks another interface (XFRM) may translate some operations
    /// straight from the IR instead of from their PF_KEY messages: the
    /// same requests, without building the messages first.
    fn apply_batch(&mut self, operations: &[&Operation]) -> BatchOutcome {
        request_operations(self, operations)
    }

    /// The next reply of a multi-message answer (a dump) to the last
    /// request of type `msg_type`.
    fn next_reply(&mut self, msg_type: u8) -> Result<Message, SocketError>;

    /// What the kernel said about the last refused request beyond its
    /// errno (an interface with room for it, such as XFRM's extended
    /// acknowledgements), or a hint about what the kernel lacks.
    fn detail(&self) -> Option<&str> {
        None
    }

    /// Whether the kernel can carry out `request` at all — for an SA: has
    /// it the transform (ESP, AH) and the algorithms? — asked without
    /// changing anything. `Some(reason)` when it cannot. The default knows
    /// nothing and lets the request itself find out.
    fn preflight(&mut self, request: &Message) -> Result<Option<String>, SocketError> {
        let _ = request;
        Ok(None)
    }

    /// A request header with setkey's conventions: version 2, sequence
    /// number 0, this process' pid.
    fn header(&self, msg_type: u8, satype: u8) -> Header {
        Header {
            version: PF_KEY_V2,
            msg_type,
            satype,
            pid: self.pid(),
            ..Header::default()
        }
    }
}

/// Errors of the transport to the kernel, PF_KEY's or XFRM netlink's
/// (not kernel error replies, which are messages with `sadb_msg_errno`
/// set). It lives beside [`Kernel`] because both backends report it.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `socket(PF_KEY, ...)` failed: no PF_KEY in this kernel, or no
    /// CAP_NET_ADMIN.
    #[error("pfkey_open: {0}")]
    Open(Errno),
    /// The XFRM netlink socket could not be opened: no `xfrm_user` in this
    /// kernel, or no CAP_NET_ADMIN.
    #[error("xfrm_open: {0}")]
    XfrmOpen(Errno),
    /// A socket option could not be set.
    #[error("setsockopt: {0}")]
    SetOption(Errno),
    /// `send` failed.
    #[error("send: {0}")]
    Send(Errno),
    /// `recv` failed or timed out.
    #[error("recv: {0}")]
    Receive(Errno),
    /// The kernel sent something that is not a PF_KEY message.
    #[error("invalid keymsg length")]
    Malformed(#[from] WireError),
    /// A dump skipped entries: the kernel numbers them 1, 2, …, and
    /// dropped the ones between `expected` and `got` (its queue to the
    /// socket was full).
    #[error("dump incomplete: entries {expected} to {} missing", .got - 1)]
    Incomplete {
        /// the number the next entry should have had
        expected: u32,
        /// the number it had
        got: u32,
    },
}

impl SocketError {
    /// The text setkey prints after its program name, e.g.
    /// `recv: Resource temporarily unavailable`.
    pub fn setkey_text(&self) -> String {
        match self {
            SocketError::Open(e) => format!("pfkey_open: {}", crate::os::strerror(*e as i32)),
            SocketError::XfrmOpen(e) => format!(
                "xfrm_open: {} (the kernel's XFRM netlink interface is module xfrm_user)",
                crate::os::strerror(*e as i32)
            ),
            SocketError::SetOption(e) => format!("setsockopt: {}", crate::os::strerror(*e as i32)),
            SocketError::Send(e) => format!("send: {}", crate::os::strerror(*e as i32)),
            SocketError::Receive(e) => format!("recv: {}", crate::os::strerror(*e as i32)),
            SocketError::Malformed(_) => "invalid keymsg length".to_string(),
            SocketError::Incomplete { .. } => format!(
                "{self}: the kernel dropped them (its queue to this socket was full); \
                 nothing after them was printed, try again"
            ),
        }
    }
}
