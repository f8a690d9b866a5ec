//! PF_KEY v2 (RFC 2367) as Linux speaks it.

pub mod wire;
