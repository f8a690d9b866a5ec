//! `struct sadb_msg` and the checked view of a message's extensions.

use bytes::BytesMut;

use super::{EXT_HEADER_LEN, HEADER_LEN, MessageType, PF_KEY_V2, WORD, WireError};
use crate::codec::{Reader, Sink, Writer};

/// `struct sadb_msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// `sadb_msg_version` (always [`PF_KEY_V2`] from Linux).
    pub version: u8,
    /// `sadb_msg_type` (see [`MessageType`]).
    pub msg_type: u8,
    /// `sadb_msg_errno`.
    pub errno: u8,
    /// `sadb_msg_satype`.
    pub satype: u8,
    /// `sadb_msg_len` in 8-byte words; [`Message::emit`] overwrites it.
    pub len: u16,
    /// `sadb_msg_reserved` (Linux: the policy refcount in SPD messages).
    pub reserved: u16,
    /// `sadb_msg_seq`.
    pub seq: u32,
    /// `sadb_msg_pid`.
    pub pid: u32,
}

impl Header {
    /// A version-2 request header of `msg_type` for `satype` with `pid`.
    pub fn request(msg_type: MessageType, satype: u8, pid: u32) -> Header {
        Header {
            version: PF_KEY_V2,
            msg_type: msg_type.into(),
            satype,
            pid,
            ..Header::default()
        }
    }

    /// The header of a message af_key sends of its own accord (a
    /// notification, an expiry, an acquire): version 2, no errno, the
    /// length left for [`Message::emit`] to fill in.
    pub fn notification(msg_type: u8, satype: u8, reserved: u16, seq: u32, pid: u32) -> Header {
        Header {
            version: PF_KEY_V2,
            msg_type,
            errno: 0,
            satype,
            len: 0,
            reserved,
            seq,
            pid,
        }
    }

    /// Reads a header from the first 16 bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Header, WireError> {
        let r = Reader::new_checked(buf, HEADER_LEN)
            .map_err(|_| WireError::TruncatedHeader { have: buf.len() })?;
        Ok(Header {
            version: r.u8(0),
            msg_type: r.u8(1),
            errno: r.u8(2),
            satype: r.u8(3),
            len: r.ne_u16(4),
            reserved: r.ne_u16(6),
            seq: r.ne_u32(8),
            pid: r.ne_u32(12),
        })
    }

    /// Appends the 16 header bytes exactly as they are (including `len`).
    pub fn emit(&self, out: &mut BytesMut) {
        self.write(&mut Writer::new(out));
    }

    pub(super) fn write<S: Sink + ?Sized>(&self, w: &mut Writer<'_, S>) {
        w.u8(self.version)
            .u8(self.msg_type)
            .u8(self.errno)
            .u8(self.satype)
            .ne_u16(self.len)
            .ne_u16(self.reserved)
            .ne_u32(self.seq)
            .ne_u32(self.pid);
    }

    /// The message type, if it is one Linux knows.
    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::from_u8(self.msg_type)
    }

    /// Total message size in bytes as `len` declares it.
    pub fn byte_len(&self) -> usize {
        usize::from(self.len) * WORD
    }
}

/// A checked view of one message: header present and `len` × 8 equal to
/// the buffer size. Cheap to build; extensions are checked as they are
/// walked.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
    header: Header,
}

impl<'a> Packet<'a> {
    /// Checks the header and the total length of `buf` (exactly one message).
    pub fn new_checked(buf: &'a [u8]) -> Result<Packet<'a>, WireError> {
        let header = Header::parse(buf)?;
        let declared = header.byte_len();
        if declared != buf.len() || declared < HEADER_LEN {
            return Err(WireError::BadMessageLength {
                declared,
                have: buf.len(),
            });
        }
        Ok(Packet { buf, header })
    }

    /// The decoded header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Walks the extensions; yields one error and stops on bad framing.
    pub fn extensions(&self) -> RawExtensions<'a> {
        RawExtensions {
            buf: self.buf,
            offset: HEADER_LEN,
            failed: false,
        }
    }
}

/// One extension as bytes: its type and its full bytes (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawExtension<'a> {
    /// `sadb_ext_type`.
    pub ext_type: u16,
    /// Offset of the extension inside the message.
    pub offset: usize,
    /// The extension's bytes, from its `sadb_ext` header to its end.
    pub bytes: &'a [u8],
}

impl<'a> RawExtension<'a> {
    /// The bytes after the 4-byte extension header.
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(EXT_HEADER_LEN..).unwrap_or_default()
    }
}

/// Iterator over the extensions of a [`Packet`].
#[derive(Debug, Clone)]
pub struct RawExtensions<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for RawExtensions<'a> {
    type Item = Result<RawExtension<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.buf.len() {
            return None;
        }
        let offset = self.offset;
        let rest = self.buf.get(offset..).unwrap_or_default();
        let result = (|| {
            let hdr = Reader::new_checked(rest, EXT_HEADER_LEN)
                .map_err(|_| WireError::TruncatedExtension { offset })?;
            let len = usize::from(hdr.ne_u16(0)) * WORD;
            let ext_type = hdr.ne_u16(2);
            if len == 0 {
                return Err(WireError::ZeroExtensionLength { ext_type, offset });
            }
            let bytes = hdr.slice(0, len).ok_or(WireError::ExtensionOverrun {
                ext_type,
                offset,
                len,
            })?;
            Ok(RawExtension {
                ext_type,
                offset,
                bytes,
            })
        })();
        match &result {
            Ok(ext) => self.offset += ext.bytes.len(),
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}
