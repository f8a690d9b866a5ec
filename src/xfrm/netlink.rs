//! Netlink framing: message headers, attributes and error acknowledgements,
//! as typed values with symmetric `parse` / `emit` (smoltcp `wire` style).
//!
//! Every length is checked once while parsing; nothing here panics on any
//! input. Netlink integers are in host order.

use std::fmt;

use zeroize::Zeroizing;

use crate::codec::{self, NETLINK_ALIGN, Reader, Sink, Writer, attributes};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
pub use crate::codec::NLA_HDRLEN;

/// `NLMSG_ERROR`: an error or (error 0) an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multi-part (dump) answer.
pub const NLMSG_DONE: u16 = 3;

/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_CAPPED` in an error message: the request's payload is not echoed.
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` in an error message: extended-ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLMSGERR_ATTR_MSG`: the extended ACK's human-readable text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

/// Netlink messages and attributes are aligned to 4 bytes.
pub fn align4(n: usize) -> usize {
    codec::align(n, NETLINK_ALIGN)
}

/// Why bytes could not be read as netlink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetlinkError {
    /// Fewer bytes than a structure needs.
    #[error("truncated {what}: {have} bytes, needs {need}")]
    Truncated {
        /// the structure
        what: &'static str,
        /// bytes available
        have: usize,
        /// bytes needed
        need: usize,
    },
    /// A length field below its header or past the buffer.
    #[error("bad {what} length {len} (buffer {have})")]
    BadLength {
        /// the structure
        what: &'static str,
        /// the declared length
        len: usize,
        /// bytes available
        have: usize,
    },
}

/// `struct nlmsghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NlHeader {
    /// `nlmsg_len` (whole message, header included).
    pub len: u32,
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid` (port id).
    pub pid: u32,
}

impl NlHeader {
    /// Parses the first 16 bytes.
    pub fn parse(b: &[u8]) -> Result<NlHeader, NetlinkError> {
        let r = Reader::new_checked(b, NLMSG_HDRLEN).map_err(|short| NetlinkError::Truncated {
            what: "nlmsghdr",
            have: short.have,
            need: short.need,
        })?;
        Ok(NlHeader {
            len: r.ne_u32(0),
            msg_type: r.ne_u16(4),
            flags: r.ne_u16(6),
            seq: r.ne_u32(8),
            pid: r.ne_u32(12),
        })
    }

    /// Appends the 16 bytes as they are (`len` included).
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.write(&mut Writer::new(out));
    }

    fn write<S: Sink + ?Sized>(&self, w: &mut Writer<'_, S>) {
        w.ne_u32(self.len)
            .ne_u16(self.msg_type)
            .ne_u16(self.flags)
            .ne_u32(self.seq)
            .ne_u32(self.pid);
    }
}

/// One netlink message: header and payload (the bytes after the header,
/// without trailing alignment padding).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NlMessage {
    /// The header (`len` is recomputed by [`NlMessage::emit`]).
    pub header: NlHeader,
    /// Everything after the header. Requests and replies about SAs carry
    /// keys, so the bytes are wiped when dropped.
    pub payload: Zeroizing<Vec<u8>>,
}

impl NlMessage {
    /// The message's length on the wire, padding included.
    pub fn wire_len(&self) -> usize {
        NLMSG_HDRLEN + align4(self.payload.len())
    }

    /// Appends the message with a correct `nlmsg_len`, padded to 4 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut h = self.header;
        h.len = u32::try_from(NLMSG_HDRLEN + self.payload.len()).unwrap_or(u32::MAX);
        let mut w = Writer::new(out);
        let start = w.position();
        h.write(&mut w);
        w.bytes(&self.payload).align_from(start, NETLINK_ALIGN);
    }

    /// Splits a received datagram into its messages.
    pub fn parse_all(buf: &[u8]) -> Result<Vec<NlMessage>, NetlinkError> {
        let mut out = Vec::new();
        let mut off = 0;
        while buf.len().saturating_sub(off) >= NLMSG_HDRLEN {
            let rest = Reader::new(buf).skip(off);
            let header = NlHeader::parse(rest.bytes())?;
            let len = header.len as usize;
            let payload = len
                .checked_sub(NLMSG_HDRLEN)
                .and_then(|n| rest.slice(NLMSG_HDRLEN, n))
                .ok_or(NetlinkError::BadLength {
                    what: "nlmsghdr",
                    len,
                    have: rest.len(),
                })?;
            out.push(NlMessage {
                header,
                payload: Zeroizing::new(payload.to_vec()),
            });
            off += align4(len);
        }
        Ok(out)
    }
}

/// One netlink attribute (`struct nlattr` and its value).
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    /// `nla_type` without the NESTED / NET_BYTEORDER flag bits.
    pub kind: u16,
    /// The value. Algorithm attributes carry keys, so the bytes are wiped
    /// when dropped.
    pub value: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may hold key material: print only their size.
        write!(f, "Attr({}, <{} bytes>)", self.kind, self.value.len())
    }
}

impl Attr {
    /// An attribute from a value (taken over, not copied, so that a key in
    /// it is wiped with the attribute).
    pub fn new(kind: u16, value: Vec<u8>) -> Attr {
        Attr {
            kind,
            value: Zeroizing::new(value),
        }
    }

    /// The attribute's length on the wire, padding included.
    pub fn wire_len(&self) -> usize {
        NLA_HDRLEN + align4(self.value.len())
    }

    /// Appends the attribute, padded to 4 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out).attribute(self.kind, |w| {
            w.bytes(&self.value);
        });
    }

    /// Parses a run of attributes filling `buf`.
    pub fn parse_all(buf: &[u8]) -> Result<Vec<Attr>, NetlinkError> {
        attributes(buf)
            .map(|a| match a {
                Ok(a) => Ok(Attr {
                    kind: a.kind,
                    value: Zeroizing::new(a.value.to_vec()),
                }),
                Err(bad) => Err(NetlinkError::BadLength {
                    what: "nlattr",
                    len: bad.len,
                    have: bad.have,
                }),
            })
            .collect()
    }
}

/// Emits a run of attributes.
pub fn emit_attrs(attrs: &[Attr], out: &mut Vec<u8>) {
    for a in attrs {
        a.emit(out);
    }
}

/// The first attribute of a kind.
pub fn find(attrs: &[Attr], kind: u16) -> Option<&[u8]> {
    attrs
        .iter()
        .find(|a| a.kind == kind)
        .map(|a| a.value.as_slice())
}

/// The payload of an `NLMSG_ERROR` message (`struct nlmsgerr` and any
/// extended-ACK attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NlError {
    /// `error`: 0 for an acknowledgement, otherwise a negative errno.
    pub error: i32,
    /// The header of the request it answers.
    pub request: NlHeader,
    /// `NLMSGERR_ATTR_MSG`, when the kernel explained itself.
    pub message: Option<String>,
}

impl NlError {
    /// Parses an error message (`flags` are the error message's own).
    pub fn parse(flags: u16, payload: &[u8]) -> Result<NlError, NetlinkError> {
        let r = Reader::new_checked(payload, 4).map_err(|short| NetlinkError::Truncated {
            what: "nlmsgerr",
            have: short.have,
            need: short.need,
        })?;
        let request = NlHeader::parse(r.tail(4))?;
        let mut message = None;
        if flags & NLM_F_ACK_TLVS != 0 {
            // Without NLM_F_CAPPED the whole request follows its header.
            let echoed = if flags & NLM_F_CAPPED != 0 {
                NLMSG_HDRLEN
            } else {
                align4(request.len as usize).max(NLMSG_HDRLEN)
            };
            let tlvs = r.tail(4 + echoed);
            if let Ok(attrs) = Attr::parse_all(tlvs)
                && let Some(text) = find(&attrs, NLMSGERR_ATTR_MSG)
            {
                let text = text.split(|b| *b == 0).next().unwrap_or_default();
                message = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
        Ok(NlError {
            error: r.ne_i32(0),
            request,
            message,
        })
    }

    /// Appends the payload as the kernel sends it (capped, with TLVs).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.ne_i32(self.error);
        self.request.write(&mut w);
        if let Some(m) = &self.message {
            w.attribute(NLMSGERR_ATTR_MSG, |w| {
                w.bytes(m.as_bytes()).u8(0);
            });
        }
    }
}
