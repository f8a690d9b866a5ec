//! PF_KEY v2 (RFC 2367) as Linux speaks it.

pub mod request;
pub mod socket;
pub mod wire;
