//! PF_KEY v2 (RFC 2367) as Linux speaks it.
//!
//! PF_KEY messages are rsetkey's lingua franca: statements become PF_KEY
//! requests ([`request`]), dumps are printed from PF_KEY replies, and a
//! [`Kernel`] answers requests the way Linux's `af_key` does — the PF_KEY
//! socket itself ([`socket::PfKeySocket`]), or a translation onto another
//! kernel interface.

pub mod request;
pub mod socket;
pub mod wire;

use socket::SocketError;
use wire::{Header, Message, PF_KEY_V2};

/// Something that answers PF_KEY requests as Linux's `af_key` would.
pub trait Kernel {
    /// The pid requests carry in `sadb_msg_pid` (replies echo it; dumps
    /// print it).
    fn pid(&self) -> u32;

    /// Sends a request and returns its first reply (an error reply has
    /// `sadb_msg_errno` set). Replies to earlier requests and messages meant
    /// for others are never returned.
    fn request(&mut self, message: &Message) -> Result<Message, SocketError>;

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
