//! PF_KEY v2 messages: typed views over bytes and plain representations.
//!
//! Two layers, in the style of smoltcp's `wire` module:
//!
//! * [`Packet`] is a checked, borrowed view of one message: the header has
//!   been bounds-checked and [`Packet::extensions`] walks the extension
//!   headers, each already checked to lie inside the message.
//! * [`Message`] / [`Header`] / [`Extension`] are plain owned values with
//!   symmetric [`Message::parse`] and [`Message::emit`]. `emit` computes every
//!   length field itself, so a caller never fills in a `len`.
//!
//! Byte order follows Linux `af_key`: every integer is in host order except
//! the SPI, sockaddr ports and addresses, and the NAT-T port, which are in
//! network order on the wire. The representations always hold host-order
//! numbers, so `SaExt::spi == 0x1000` is the SPI written `0x1000` in a script.
//!
//! Nothing in this module panics on any input: short, oversized or malformed
//! buffers give a [`WireError`], and extension types this module does not
//! model are kept verbatim as [`Extension::Unknown`].

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::{Bytes, BytesMut};
use zeroize::Zeroizing;

use crate::codec::{self, PFKEY_ALIGN, Reader, Sink, Writer};

#[cfg(test)]
mod tests;

/// `PF_KEY_V2`: the protocol number of the socket and `sadb_msg_version`.
pub const PF_KEY_V2: u8 = 2;

/// Size of `struct sadb_msg`, the header of every message.
pub const HEADER_LEN: usize = 16;
/// Size of `struct sadb_ext`, the header of every extension.
pub const EXT_HEADER_LEN: usize = 4;
/// PF_KEY lengths count 8-byte words.
pub const WORD: usize = PFKEY_ALIGN;

/// `AF_INET` as Linux numbers it (sockaddr family field, host order).
pub const AF_INET: u16 = 2;
/// `AF_INET6` as Linux numbers it.
pub const AF_INET6: u16 = 10;
/// Size of `struct sockaddr_in`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// Size of `struct sockaddr_in6` (unpadded, as in an `sadb_x_ipsecrequest`).
pub const SOCKADDR_IN6_LEN: usize = 28;

/// `sadb_msg_type` values understood by Linux (1..=24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// SADB_GETSPI
    GetSpi = 1,
    /// SADB_UPDATE
    Update = 2,
    /// SADB_ADD
    Add = 3,
    /// SADB_DELETE
    Delete = 4,
    /// SADB_GET
    Get = 5,
    /// SADB_ACQUIRE
    Acquire = 6,
    /// SADB_REGISTER
    Register = 7,
    /// SADB_EXPIRE
    Expire = 8,
    /// SADB_FLUSH
    Flush = 9,
    /// SADB_DUMP
    Dump = 10,
    /// SADB_X_PROMISC
    Promisc = 11,
    /// SADB_X_PCHANGE
    PolicyChange = 12,
    /// SADB_X_SPDUPDATE
    SpdUpdate = 13,
    /// SADB_X_SPDADD
    SpdAdd = 14,
    /// SADB_X_SPDDELETE
    SpdDelete = 15,
    /// SADB_X_SPDGET
    SpdGet = 16,
    /// SADB_X_SPDACQUIRE
    SpdAcquire = 17,
    /// SADB_X_SPDDUMP
    SpdDump = 18,
    /// SADB_X_SPDFLUSH
    SpdFlush = 19,
    /// SADB_X_SPDSETIDX
    SpdSetIdx = 20,
    /// SADB_X_SPDEXPIRE
    SpdExpire = 21,
    /// SADB_X_SPDDELETE2
    SpdDelete2 = 22,
    /// SADB_X_NAT_T_NEW_MAPPING
    NatTNewMapping = 23,
    /// SADB_X_MIGRATE
    Migrate = 24,
}

impl MessageType {
    /// All types in numeric order (index = value − 1).
    pub const ALL: [MessageType; 24] = [
        MessageType::GetSpi,
        MessageType::Update,
        MessageType::Add,
        MessageType::Delete,
        MessageType::Get,
        MessageType::Acquire,
        MessageType::Register,
        MessageType::Expire,
        MessageType::Flush,
        MessageType::Dump,
        MessageType::Promisc,
        MessageType::PolicyChange,
        MessageType::SpdUpdate,
        MessageType::SpdAdd,
        MessageType::SpdDelete,
        MessageType::SpdGet,
        MessageType::SpdAcquire,
        MessageType::SpdDump,
        MessageType::SpdFlush,
        MessageType::SpdSetIdx,
        MessageType::SpdExpire,
        MessageType::SpdDelete2,
        MessageType::NatTNewMapping,
        MessageType::Migrate,
    ];

    /// The type for a `sadb_msg_type` value, `None` outside 1..=24.
    pub fn from_u8(value: u8) -> Option<MessageType> {
        let index = usize::from(value).checked_sub(1)?;
        Self::ALL.get(index).copied()
    }
}

impl From<MessageType> for u8 {
    fn from(t: MessageType) -> u8 {
        t as u8
    }
}

impl TryFrom<u8> for MessageType {
    type Error = WireError;
    fn try_from(value: u8) -> Result<Self, WireError> {
        MessageType::from_u8(value).ok_or(WireError::UnknownMessageType(value))
    }
}

/// `SADB_SATYPE_UNSPEC`: all SA types (dump, flush, register).
pub const SATYPE_UNSPEC: u8 = 0;
/// `SADB_SATYPE_AH`.
pub const SATYPE_AH: u8 = 2;
/// `SADB_SATYPE_ESP`.
pub const SATYPE_ESP: u8 = 3;
/// `SADB_SATYPE_RSVP`.
pub const SATYPE_RSVP: u8 = 5;
/// `SADB_SATYPE_OSPFV2`.
pub const SATYPE_OSPFV2: u8 = 6;
/// `SADB_SATYPE_RIPV2`.
pub const SATYPE_RIPV2: u8 = 7;
/// `SADB_SATYPE_MIP`.
pub const SATYPE_MIP: u8 = 8;
/// `SADB_X_SATYPE_IPCOMP`.
pub const SATYPE_IPCOMP: u8 = 9;

/// Extension type numbers (`sadb_ext_type`).
pub mod ext_type {
    /// SADB_EXT_SA
    pub const SA: u16 = 1;
    /// SADB_EXT_LIFETIME_CURRENT
    pub const LIFETIME_CURRENT: u16 = 2;
    /// SADB_EXT_LIFETIME_HARD
    pub const LIFETIME_HARD: u16 = 3;
    /// SADB_EXT_LIFETIME_SOFT
    pub const LIFETIME_SOFT: u16 = 4;
    /// SADB_EXT_ADDRESS_SRC
    pub const ADDRESS_SRC: u16 = 5;
    /// SADB_EXT_ADDRESS_DST
    pub const ADDRESS_DST: u16 = 6;
    /// SADB_EXT_ADDRESS_PROXY
    pub const ADDRESS_PROXY: u16 = 7;
    /// SADB_EXT_KEY_AUTH
    pub const KEY_AUTH: u16 = 8;
    /// SADB_EXT_KEY_ENCRYPT
    pub const KEY_ENCRYPT: u16 = 9;
    /// SADB_EXT_IDENTITY_SRC
    pub const IDENTITY_SRC: u16 = 10;
    /// SADB_EXT_IDENTITY_DST
    pub const IDENTITY_DST: u16 = 11;
    /// SADB_EXT_SENSITIVITY
    pub const SENSITIVITY: u16 = 12;
    /// SADB_EXT_PROPOSAL
    pub const PROPOSAL: u16 = 13;
    /// SADB_EXT_SUPPORTED_AUTH
    pub const SUPPORTED_AUTH: u16 = 14;
    /// SADB_EXT_SUPPORTED_ENCRYPT
    pub const SUPPORTED_ENCRYPT: u16 = 15;
    /// SADB_EXT_SPIRANGE
    pub const SPIRANGE: u16 = 16;
    /// SADB_X_EXT_KMPRIVATE
    pub const X_KMPRIVATE: u16 = 17;
    /// SADB_X_EXT_POLICY
    pub const X_POLICY: u16 = 18;
    /// SADB_X_EXT_SA2
    pub const X_SA2: u16 = 19;
    /// SADB_X_EXT_NAT_T_TYPE
    pub const X_NAT_T_TYPE: u16 = 20;
    /// SADB_X_EXT_NAT_T_SPORT
    pub const X_NAT_T_SPORT: u16 = 21;
    /// SADB_X_EXT_NAT_T_DPORT
    pub const X_NAT_T_DPORT: u16 = 22;
    /// SADB_X_EXT_NAT_T_OA
    pub const X_NAT_T_OA: u16 = 23;
    /// SADB_X_EXT_SEC_CTX
    pub const X_SEC_CTX: u16 = 24;
    /// SADB_X_EXT_KMADDRESS
    pub const X_KMADDRESS: u16 = 25;
    /// SADB_X_EXT_FILTER
    pub const X_FILTER: u16 = 26;
}

/// SA states (`sadb_sa_state`).
pub mod sa_state {
    /// SADB_SASTATE_LARVAL
    pub const LARVAL: u8 = 0;
    /// SADB_SASTATE_MATURE
    pub const MATURE: u8 = 1;
    /// SADB_SASTATE_DYING
    pub const DYING: u8 = 2;
    /// SADB_SASTATE_DEAD
    pub const DEAD: u8 = 3;
}

/// Authentication algorithm ids (`sadb_sa_auth`, `sadb_alg_id`).
pub mod aalg {
    /// SADB_AALG_NONE
    pub const NONE: u8 = 0;
    /// SADB_AALG_MD5HMAC
    pub const MD5_HMAC: u8 = 2;
    /// SADB_AALG_SHA1HMAC
    pub const SHA1_HMAC: u8 = 3;
    /// SADB_X_AALG_SHA2_256HMAC
    pub const SHA2_256_HMAC: u8 = 5;
    /// SADB_X_AALG_SHA2_384HMAC
    pub const SHA2_384_HMAC: u8 = 6;
    /// SADB_X_AALG_SHA2_512HMAC
    pub const SHA2_512_HMAC: u8 = 7;
    /// SADB_X_AALG_RIPEMD160HMAC
    pub const RIPEMD160_HMAC: u8 = 8;
    /// SADB_X_AALG_AES_XCBC_MAC
    pub const AES_XCBC_MAC: u8 = 9;
    /// SADB_X_AALG_SM3_256HMAC
    pub const SM3_256_HMAC: u8 = 10;
    /// ipsec-tools keyed-MD5 (unknown to Linux)
    pub const KEYED_MD5: u8 = 249;
    /// ipsec-tools keyed-SHA1 (unknown to Linux)
    pub const KEYED_SHA1: u8 = 250;
    /// SADB_X_AALG_NULL
    pub const NULL: u8 = 251;
}

/// Encryption algorithm ids (`sadb_sa_encrypt`, `sadb_alg_id`).
pub mod ealg {
    /// SADB_EALG_NONE
    pub const NONE: u8 = 0;
    /// SADB_EALG_DESCBC
    pub const DES_CBC: u8 = 2;
    /// SADB_EALG_3DESCBC
    pub const DES3_CBC: u8 = 3;
    /// SADB_X_EALG_CASTCBC
    pub const CAST_CBC: u8 = 6;
    /// SADB_X_EALG_BLOWFISHCBC
    pub const BLOWFISH_CBC: u8 = 7;
    /// SADB_EALG_NULL
    pub const NULL: u8 = 11;
    /// SADB_X_EALG_AESCBC
    pub const AES_CBC: u8 = 12;
    /// SADB_X_EALG_AESCTR
    pub const AES_CTR: u8 = 13;
    /// SADB_X_EALG_AES_CCM_ICV8
    pub const AES_CCM_ICV8: u8 = 14;
    /// SADB_X_EALG_AES_CCM_ICV12
    pub const AES_CCM_ICV12: u8 = 15;
    /// SADB_X_EALG_AES_CCM_ICV16
    pub const AES_CCM_ICV16: u8 = 16;
    /// SADB_X_EALG_AES_GCM_ICV8
    pub const AES_GCM_ICV8: u8 = 18;
    /// SADB_X_EALG_AES_GCM_ICV12
    pub const AES_GCM_ICV12: u8 = 19;
    /// SADB_X_EALG_AES_GCM_ICV16
    pub const AES_GCM_ICV16: u8 = 20;
    /// SADB_X_EALG_CAMELLIACBC
    pub const CAMELLIA_CBC: u8 = 22;
    /// SADB_X_EALG_NULL_AES_GMAC
    pub const NULL_AES_GMAC: u8 = 23;
    /// SADB_X_EALG_SM4CBC
    pub const SM4_CBC: u8 = 24;
    /// SADB_X_EALG_SERPENTCBC
    pub const SERPENT_CBC: u8 = 252;
    /// SADB_X_EALG_TWOFISHCBC
    pub const TWOFISH_CBC: u8 = 253;
}

/// IPComp algorithm ids (carried in `sadb_sa_encrypt` for IPComp SAs).
pub mod calg {
    /// SADB_X_CALG_NONE
    pub const NONE: u8 = 0;
    /// SADB_X_CALG_OUI
    pub const OUI: u8 = 1;
    /// SADB_X_CALG_DEFLATE
    pub const DEFLATE: u8 = 2;
    /// SADB_X_CALG_LZS
    pub const LZS: u8 = 3;
    /// SADB_X_CALG_LZJH
    pub const LZJH: u8 = 4;
}

/// `ipsec.h` constants used in SA2 and policy extensions.
pub mod ipsec {
    /// IPSEC_MODE_ANY
    pub const MODE_ANY: u8 = 0;
    /// IPSEC_MODE_TRANSPORT
    pub const MODE_TRANSPORT: u8 = 1;
    /// IPSEC_MODE_TUNNEL
    pub const MODE_TUNNEL: u8 = 2;
    /// IPSEC_MODE_BEET
    pub const MODE_BEET: u8 = 3;
    /// IPSEC_DIR_ANY
    pub const DIR_ANY: u8 = 0;
    /// IPSEC_DIR_INBOUND
    pub const DIR_INBOUND: u8 = 1;
    /// IPSEC_DIR_OUTBOUND
    pub const DIR_OUTBOUND: u8 = 2;
    /// IPSEC_DIR_FWD
    pub const DIR_FWD: u8 = 3;
    /// IPSEC_POLICY_DISCARD
    pub const POLICY_DISCARD: u16 = 0;
    /// IPSEC_POLICY_NONE
    pub const POLICY_NONE: u16 = 1;
    /// IPSEC_POLICY_IPSEC
    pub const POLICY_IPSEC: u16 = 2;
    /// IPSEC_POLICY_ENTRUST
    pub const POLICY_ENTRUST: u16 = 3;
    /// IPSEC_POLICY_BYPASS
    pub const POLICY_BYPASS: u16 = 4;
    /// IPSEC_LEVEL_DEFAULT
    pub const LEVEL_DEFAULT: u8 = 0;
    /// IPSEC_LEVEL_USE
    pub const LEVEL_USE: u8 = 1;
    /// IPSEC_LEVEL_REQUIRE
    pub const LEVEL_REQUIRE: u8 = 2;
    /// IPSEC_LEVEL_UNIQUE
    pub const LEVEL_UNIQUE: u8 = 3;
    /// IPSEC_ULPROTO_ANY / IPSEC_PROTO_ANY
    pub const PROTO_ANY: u8 = 255;
    /// IPSEC_MANUAL_REQID_MAX
    pub const MANUAL_REQID_MAX: u32 = 0x3fff;
    /// libipsec PRIORITY_HIGH
    pub const PRIORITY_HIGH: u32 = 0x4000_0000;
    /// libipsec PRIORITY_DEFAULT
    pub const PRIORITY_DEFAULT: u32 = 0x8000_0000;
    /// libipsec PRIORITY_LOW
    pub const PRIORITY_LOW: u32 = 0xC000_0000;
    /// UDP_ENCAP_ESPINUDP, the NAT-T type setkey sends
    pub const NAT_T_TYPE_ESPINUDP: u8 = 2;
}

/// Why bytes could not be read as PF_KEY.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WireError {
    /// Fewer bytes than a `sadb_msg` header.
    #[error("truncated message: {have} bytes, a header needs {HEADER_LEN}")]
    TruncatedHeader {
        /// bytes available
        have: usize,
    },
    /// `sadb_msg_len` × 8 disagrees with the buffer (or is below the header).
    #[error("sadb_msg_len says {declared} bytes, the buffer has {have}")]
    BadMessageLength {
        /// bytes claimed by `sadb_msg_len`
        declared: usize,
        /// bytes available
        have: usize,
    },
    /// Bytes after the last extension that do not form an extension header.
    #[error("truncated extension header at offset {offset}")]
    TruncatedExtension {
        /// offset of the extension inside the message
        offset: usize,
    },
    /// `sadb_ext_len` is 0 (would never advance).
    #[error("extension type {ext_type} at offset {offset} has length 0")]
    ZeroExtensionLength {
        /// extension type
        ext_type: u16,
        /// offset inside the message
        offset: usize,
    },
    /// `sadb_ext_len` reaches past the end of the message.
    #[error("extension type {ext_type} at offset {offset} ({len} bytes) overruns the message")]
    ExtensionOverrun {
        /// extension type
        ext_type: u16,
        /// offset inside the message
        offset: usize,
        /// bytes claimed by the extension
        len: usize,
    },
    /// An extension shorter than its fixed part.
    #[error("extension type {ext_type} is {len} bytes, needs at least {min}")]
    ExtensionTooShort {
        /// extension type
        ext_type: u16,
        /// its length in bytes
        len: usize,
        /// the minimum for that type
        min: usize,
    },
    /// A sockaddr family other than AF_INET / AF_INET6.
    #[error("unsupported address family {family}")]
    UnsupportedFamily {
        /// the family field
        family: u16,
    },
    /// A sockaddr shorter than its family needs.
    #[error("truncated sockaddr (family {family}, {have} bytes)")]
    TruncatedSockaddr {
        /// the family field (0 if not even that was there)
        family: u16,
        /// bytes available
        have: usize,
    },
    /// A key extension with fewer key bytes than `sadb_key_bits` says.
    #[error("key extension has {have} bytes for {bits} bits")]
    KeyTooShort {
        /// `sadb_key_bits`
        bits: u16,
        /// bytes available after the key header
        have: usize,
    },
    /// A security context longer than its extension.
    #[error("security context length {ctx_len} exceeds its extension ({have} bytes)")]
    SecCtxTooLong {
        /// `sadb_x_ctx_len`
        ctx_len: u16,
        /// bytes available
        have: usize,
    },
    /// An `sadb_x_ipsecrequest` whose length is not 16 + two sockaddrs, or
    /// that overruns the policy extension.
    #[error("malformed ipsec request at policy offset {offset} (len {len})")]
    BadIpsecRequest {
        /// offset inside the policy extension
        offset: usize,
        /// its `sadb_x_ipsecrequest_len`
        len: usize,
    },
    /// The two end points of an ipsec request have different families.
    #[error("ipsec request end points of different families")]
    MixedRequestFamilies,
    /// A `sadb_msg_type` outside 1..=24 (only from `MessageType::try_from`).
    #[error("unknown message type {0}")]
    UnknownMessageType(u8),
}

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

    fn write<S: Sink + ?Sized>(&self, w: &mut Writer<'_, S>) {
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

/// `struct sadb_sa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaExt {
    /// SPI in host order (network order on the wire).
    pub spi: u32,
    /// Replay window size.
    pub replay: u8,
    /// `sadb_sa_state` (see [`sa_state`]).
    pub state: u8,
    /// Authentication algorithm id (see [`aalg`]).
    pub auth: u8,
    /// Encryption (or IPComp) algorithm id (see [`ealg`], [`calg`]).
    pub encrypt: u8,
    /// `sadb_sa_flags`.
    pub flags: u32,
}

/// Which lifetime a lifetime extension describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifetimeKind {
    /// SADB_EXT_LIFETIME_CURRENT
    Current,
    /// SADB_EXT_LIFETIME_HARD
    Hard,
    /// SADB_EXT_LIFETIME_SOFT
    Soft,
}

impl LifetimeKind {
    /// The extension type number.
    pub fn ext_type(self) -> u16 {
        match self {
            LifetimeKind::Current => ext_type::LIFETIME_CURRENT,
            LifetimeKind::Hard => ext_type::LIFETIME_HARD,
            LifetimeKind::Soft => ext_type::LIFETIME_SOFT,
        }
    }
}

/// `struct sadb_lifetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifetimeExt {
    /// `sadb_lifetime_allocations` (Linux: packets).
    pub allocations: u32,
    /// `sadb_lifetime_bytes`.
    pub bytes: u64,
    /// `sadb_lifetime_addtime` (seconds; epoch time in CURRENT).
    pub addtime: u64,
    /// `sadb_lifetime_usetime`.
    pub usetime: u64,
}

/// Which address an address extension carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// SADB_EXT_ADDRESS_SRC
    Src,
    /// SADB_EXT_ADDRESS_DST
    Dst,
    /// SADB_EXT_ADDRESS_PROXY
    Proxy,
    /// SADB_X_EXT_NAT_T_OA
    NatTOa,
}

impl AddressKind {
    /// The extension type number.
    pub fn ext_type(self) -> u16 {
        match self {
            AddressKind::Src => ext_type::ADDRESS_SRC,
            AddressKind::Dst => ext_type::ADDRESS_DST,
            AddressKind::Proxy => ext_type::ADDRESS_PROXY,
            AddressKind::NatTOa => ext_type::X_NAT_T_OA,
        }
    }
}

/// `struct sadb_address` with its sockaddr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressExt {
    /// Upper-layer protocol (255 = any).
    pub proto: u8,
    /// Prefix length in bits.
    pub prefixlen: u8,
    /// The address; for IPv6 the flowinfo and scope id are kept as read.
    pub addr: SocketAddr,
}

/// Which key a key extension carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// SADB_EXT_KEY_AUTH
    Auth,
    /// SADB_EXT_KEY_ENCRYPT
    Encrypt,
}

impl KeyKind {
    /// The extension type number.
    pub fn ext_type(self) -> u16 {
        match self {
            KeyKind::Auth => ext_type::KEY_AUTH,
            KeyKind::Encrypt => ext_type::KEY_ENCRYPT,
        }
    }
}

/// `struct sadb_key` with its key material.
///
/// `key` holds exactly `ceil(bits / 8)` bytes (the wire's zero padding to
/// 8 bytes is dropped on parse and added on emit). The bytes are wiped when
/// dropped, and `Debug` does not print them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct KeyExt {
    /// `sadb_key_bits`.
    pub bits: u16,
    /// The key bytes.
    pub key: Zeroizing<Vec<u8>>,
}

impl KeyExt {
    /// A key of `key.len() * 8` bits.
    pub fn new(key: Vec<u8>) -> KeyExt {
        // Keys longer than 8191 bytes cannot be described; saturating keeps
        // emit panic-free and the kernel rejects the message.
        let bits = u16::try_from(key.len().saturating_mul(8)).unwrap_or(u16::MAX);
        KeyExt {
            bits,
            key: Zeroizing::new(key),
        }
    }
}

impl std::fmt::Debug for KeyExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never leak key material into logs.
        f.debug_struct("KeyExt")
            .field("bits", &self.bits)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

/// Which algorithm list a supported extension carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SupportedKind {
    /// SADB_EXT_SUPPORTED_AUTH
    Auth,
    /// SADB_EXT_SUPPORTED_ENCRYPT
    Encrypt,
}

impl SupportedKind {
    /// The extension type number.
    pub fn ext_type(self) -> u16 {
        match self {
            SupportedKind::Auth => ext_type::SUPPORTED_AUTH,
            SupportedKind::Encrypt => ext_type::SUPPORTED_ENCRYPT,
        }
    }
}

/// `struct sadb_alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlgorithmDesc {
    /// Algorithm id.
    pub id: u8,
    /// IV length in bytes.
    pub ivlen: u8,
    /// Minimum key size in bits.
    pub min_bits: u16,
    /// Maximum key size in bits.
    pub max_bits: u16,
}

/// `struct sadb_x_sa2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sa2Ext {
    /// IPsec mode (see [`ipsec`]).
    pub mode: u8,
    /// `sadb_x_sa2_sequence`.
    pub sequence: u32,
    /// `sadb_x_sa2_reqid`.
    pub reqid: u32,
}

/// `struct sadb_x_policy` with its requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyExt {
    /// IPSEC_POLICY_* (see [`ipsec`]).
    pub policy_type: u16,
    /// IPSEC_DIR_* (Linux dumps also use 4/5 for socket policies).
    pub dir: u8,
    /// `sadb_x_policy_id` (kernel index).
    pub id: u32,
    /// `sadb_x_policy_priority`.
    pub priority: u32,
    /// The `sadb_x_ipsecrequest`s following the fixed part.
    pub requests: Vec<IpsecRequestExt>,
}

/// `struct sadb_x_ipsecrequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpsecRequestExt {
    /// IPPROTO_ESP / AH / COMP.
    pub proto: u16,
    /// IPsec mode.
    pub mode: u8,
    /// IPSEC_LEVEL_*.
    pub level: u8,
    /// Request id.
    pub reqid: u32,
    /// Tunnel end points (unpadded sockaddrs on the wire), if any.
    pub endpoints: Option<(SocketAddr, SocketAddr)>,
}

impl IpsecRequestExt {
    /// Size of this request on the wire (`sadb_x_ipsecrequest_len`, bytes).
    pub fn wire_len(&self) -> usize {
        16 + self
            .endpoints
            .map_or(0, |(a, b)| sockaddr_len(&a) + sockaddr_len(&b))
    }
}

/// Which NAT-T port a port extension carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatTPortKind {
    /// SADB_X_EXT_NAT_T_SPORT
    Src,
    /// SADB_X_EXT_NAT_T_DPORT
    Dst,
}

impl NatTPortKind {
    /// The extension type number.
    pub fn ext_type(self) -> u16 {
        match self {
            NatTPortKind::Src => ext_type::X_NAT_T_SPORT,
            NatTPortKind::Dst => ext_type::X_NAT_T_DPORT,
        }
    }
}

/// `struct sadb_x_sec_ctx` with its context string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecCtxExt {
    /// `sadb_x_ctx_alg`.
    pub alg: u8,
    /// `sadb_x_ctx_doi`.
    pub doi: u8,
    /// Exactly `sadb_x_ctx_len` bytes as on the wire (setkey includes the
    /// terminating NUL; Linux echoes one byte more).
    pub context: Vec<u8>,
}

/// One extension of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// SADB_EXT_SA
    Sa(SaExt),
    /// SADB_EXT_LIFETIME_*
    Lifetime(LifetimeKind, LifetimeExt),
    /// SADB_EXT_ADDRESS_* and SADB_X_EXT_NAT_T_OA
    Address(AddressKind, AddressExt),
    /// SADB_EXT_KEY_*
    Key(KeyKind, KeyExt),
    /// SADB_EXT_SUPPORTED_*
    Supported(SupportedKind, Vec<AlgorithmDesc>),
    /// SADB_EXT_SPIRANGE (host-order bounds)
    SpiRange {
        /// lowest SPI
        min: u32,
        /// highest SPI
        max: u32,
    },
    /// SADB_X_EXT_SA2
    Sa2(Sa2Ext),
    /// SADB_X_EXT_POLICY
    Policy(PolicyExt),
    /// SADB_X_EXT_NAT_T_TYPE
    NatTType(u8),
    /// SADB_X_EXT_NAT_T_SPORT / DPORT (host-order port)
    NatTPort(NatTPortKind, u16),
    /// SADB_X_EXT_SEC_CTX
    SecCtx(SecCtxExt),
    /// Any other extension type, kept raw.
    Unknown {
        /// `sadb_ext_type`
        ext_type: u16,
        /// everything after the 4-byte extension header (padding included)
        body: Bytes,
    },
}

/// Rounds up to PF_KEY's 8-byte words.
fn pad8(n: usize) -> usize {
    codec::align(n, WORD)
}

/// Bytes of an unpadded sockaddr for this address.
fn sockaddr_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => SOCKADDR_IN_LEN,
        SocketAddr::V6(_) => SOCKADDR_IN6_LEN,
    }
}

/// Reads a sockaddr_in / sockaddr_in6 from the start of `b`; returns the
/// address and the unpadded sockaddr size.
pub fn parse_sockaddr(b: &[u8]) -> Result<(SocketAddr, usize), WireError> {
    let r = Reader::new_checked(b, 2).map_err(|_| WireError::TruncatedSockaddr {
        family: 0,
        have: b.len(),
    })?;
    let family = r.ne_u16(0);
    let need = match family {
        AF_INET => SOCKADDR_IN_LEN,
        AF_INET6 => SOCKADDR_IN6_LEN,
        _ => return Err(WireError::UnsupportedFamily { family }),
    };
    let r = Reader::new_checked(b, need).map_err(|_| WireError::TruncatedSockaddr {
        family,
        have: b.len(),
    })?;
    let port = r.be_u16(2);
    let addr = if family == AF_INET {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(r.array::<4>(4)), port))
    } else {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(r.array::<16>(8)),
            port,
            r.ne_u32(4),
            r.ne_u32(24),
        ))
    };
    Ok((addr, need))
}

/// Appends an unpadded sockaddr_in (16 bytes) / sockaddr_in6 (28 bytes).
pub fn emit_sockaddr(addr: &SocketAddr, out: &mut BytesMut) {
    write_sockaddr(&mut Writer::new(out), addr);
}

fn write_sockaddr<S: Sink + ?Sized>(w: &mut Writer<'_, S>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            w.ne_u16(AF_INET)
                .be_u16(a.port())
                .bytes(&a.ip().octets())
                .zeros(8);
        }
        SocketAddr::V6(a) => {
            w.ne_u16(AF_INET6)
                .be_u16(a.port())
                .ne_u32(a.flowinfo())
                .bytes(&a.ip().octets())
                .ne_u32(a.scope_id());
        }
    }
}

/// A reader over `bytes` once it has at least `min` bytes.
fn need(ext_type: u16, bytes: &[u8], min: usize) -> Result<Reader<'_>, WireError> {
    Reader::new_checked(bytes, min).map_err(|short| WireError::ExtensionTooShort {
        ext_type,
        len: short.have,
        min,
    })
}

impl Extension {
    /// The `sadb_ext_type` this extension is written with.
    pub fn ext_type(&self) -> u16 {
        match self {
            Extension::Sa(_) => ext_type::SA,
            Extension::Lifetime(k, _) => k.ext_type(),
            Extension::Address(k, _) => k.ext_type(),
            Extension::Key(k, _) => k.ext_type(),
            Extension::Supported(k, _) => k.ext_type(),
            Extension::SpiRange { .. } => ext_type::SPIRANGE,
            Extension::Sa2(_) => ext_type::X_SA2,
            Extension::Policy(_) => ext_type::X_POLICY,
            Extension::NatTType(_) => ext_type::X_NAT_T_TYPE,
            Extension::NatTPort(k, _) => k.ext_type(),
            Extension::SecCtx(_) => ext_type::X_SEC_CTX,
            Extension::Unknown { ext_type, .. } => *ext_type,
        }
    }

    /// Decodes one extension from its bytes (header included).
    ///
    /// Fixed-size extensions longer than their structure are accepted and
    /// the excess ignored, as Linux does.
    pub fn parse(raw: &RawExtension<'_>) -> Result<Extension, WireError> {
        let t = raw.ext_type;
        let b = raw.bytes;
        Ok(match t {
            ext_type::SA => {
                let r = need(t, b, 16)?;
                Extension::Sa(SaExt {
                    spi: r.be_u32(4),
                    replay: r.u8(8),
                    state: r.u8(9),
                    auth: r.u8(10),
                    encrypt: r.u8(11),
                    flags: r.ne_u32(12),
                })
            }
            ext_type::LIFETIME_CURRENT | ext_type::LIFETIME_HARD | ext_type::LIFETIME_SOFT => {
                let r = need(t, b, 32)?;
                let kind = match t {
                    ext_type::LIFETIME_CURRENT => LifetimeKind::Current,
                    ext_type::LIFETIME_HARD => LifetimeKind::Hard,
                    _ => LifetimeKind::Soft,
                };
                Extension::Lifetime(
                    kind,
                    LifetimeExt {
                        allocations: r.ne_u32(4),
                        bytes: r.ne_u64(8),
                        addtime: r.ne_u64(16),
                        usetime: r.ne_u64(24),
                    },
                )
            }
            ext_type::ADDRESS_SRC
            | ext_type::ADDRESS_DST
            | ext_type::ADDRESS_PROXY
            | ext_type::X_NAT_T_OA => {
                let r = need(t, b, 8)?;
                let kind = match t {
                    ext_type::ADDRESS_SRC => AddressKind::Src,
                    ext_type::ADDRESS_DST => AddressKind::Dst,
                    ext_type::ADDRESS_PROXY => AddressKind::Proxy,
                    _ => AddressKind::NatTOa,
                };
                let (addr, _) = parse_sockaddr(r.tail(8))?;
                Extension::Address(
                    kind,
                    AddressExt {
                        proto: r.u8(4),
                        prefixlen: r.u8(5),
                        addr,
                    },
                )
            }
            ext_type::KEY_AUTH | ext_type::KEY_ENCRYPT => {
                let r = need(t, b, 8)?;
                let bits = r.ne_u16(4);
                let n = usize::from(bits).div_ceil(8);
                let key = r.slice(8, n).ok_or(WireError::KeyTooShort {
                    bits,
                    have: r.len() - 8,
                })?;
                let kind = if t == ext_type::KEY_AUTH {
                    KeyKind::Auth
                } else {
                    KeyKind::Encrypt
                };
                Extension::Key(
                    kind,
                    KeyExt {
                        bits,
                        key: Zeroizing::new(key.to_vec()),
                    },
                )
            }
            ext_type::SUPPORTED_AUTH | ext_type::SUPPORTED_ENCRYPT => {
                let r = need(t, b, 8)?;
                let kind = if t == ext_type::SUPPORTED_AUTH {
                    SupportedKind::Auth
                } else {
                    SupportedKind::Encrypt
                };
                let algs = r
                    .tail(8)
                    .chunks_exact(8)
                    .map(Reader::new)
                    .map(|a| AlgorithmDesc {
                        id: a.u8(0),
                        ivlen: a.u8(1),
                        min_bits: a.ne_u16(2),
                        max_bits: a.ne_u16(4),
                    })
                    .collect();
                Extension::Supported(kind, algs)
            }
            ext_type::SPIRANGE => {
                let r = need(t, b, 16)?;
                Extension::SpiRange {
                    min: r.ne_u32(4),
                    max: r.ne_u32(8),
                }
            }
            ext_type::X_SA2 => {
                let r = need(t, b, 16)?;
                Extension::Sa2(Sa2Ext {
                    mode: r.u8(4),
                    sequence: r.ne_u32(8),
                    reqid: r.ne_u32(12),
                })
            }
            ext_type::X_POLICY => Extension::Policy(parse_policy(b)?),
            ext_type::X_NAT_T_TYPE => Extension::NatTType(need(t, b, 8)?.u8(4)),
            ext_type::X_NAT_T_SPORT | ext_type::X_NAT_T_DPORT => {
                let r = need(t, b, 8)?;
                let kind = if t == ext_type::X_NAT_T_SPORT {
                    NatTPortKind::Src
                } else {
                    NatTPortKind::Dst
                };
                Extension::NatTPort(kind, r.be_u16(4))
            }
            ext_type::X_SEC_CTX => {
                let r = need(t, b, 8)?;
                let ctx_len = r.ne_u16(6);
                let context = r
                    .slice(8, usize::from(ctx_len))
                    .ok_or(WireError::SecCtxTooLong {
                        ctx_len,
                        have: r.len() - 8,
                    })?;
                Extension::SecCtx(SecCtxExt {
                    alg: r.u8(4),
                    doi: r.u8(5),
                    context: context.to_vec(),
                })
            }
            _ => Extension::Unknown {
                ext_type: t,
                body: Bytes::copy_from_slice(raw.body()),
            },
        })
    }

    /// Size of this extension on the wire, padding included.
    pub fn wire_len(&self) -> usize {
        match self {
            Extension::Sa(_) | Extension::SpiRange { .. } | Extension::Sa2(_) => 16,
            Extension::Lifetime(..) => 32,
            Extension::Address(_, a) => match a.addr {
                SocketAddr::V4(_) => 8 + SOCKADDR_IN_LEN,
                SocketAddr::V6(_) => 8 + pad8(SOCKADDR_IN6_LEN),
            },
            Extension::Key(_, k) => 8 + pad8(k.key.len()),
            Extension::Supported(_, algs) => 8 + 8 * algs.len(),
            Extension::Policy(p) => {
                pad8(16 + p.requests.iter().map(|r| r.wire_len()).sum::<usize>())
            }
            Extension::NatTType(_) | Extension::NatTPort(..) => 8,
            Extension::SecCtx(c) => 8 + pad8(c.context.len()),
            Extension::Unknown { body, .. } => pad8(EXT_HEADER_LEN + body.len()),
        }
    }

    /// Appends the extension, computing its `sadb_ext_len` and zero padding.
    ///
    /// Values too large for their length fields (a > 64 KiB extension, a
    /// context over 64 KiB) are written with saturated lengths rather than
    /// panicking; the kernel rejects such messages.
    pub fn emit(&self, out: &mut BytesMut) {
        self.write(&mut Writer::new(out));
    }

    fn write<S: Sink + ?Sized>(&self, w: &mut Writer<'_, S>) {
        let start = w.position();
        let total = self.wire_len();
        let words = u16::try_from(total / WORD).unwrap_or(u16::MAX);
        w.ne_u16(words).ne_u16(self.ext_type());
        match self {
            Extension::Sa(sa) => {
                w.be_u32(sa.spi)
                    .u8(sa.replay)
                    .u8(sa.state)
                    .u8(sa.auth)
                    .u8(sa.encrypt)
                    .ne_u32(sa.flags);
            }
            Extension::Lifetime(_, l) => {
                w.ne_u32(l.allocations)
                    .ne_u64(l.bytes)
                    .ne_u64(l.addtime)
                    .ne_u64(l.usetime);
            }
            Extension::Address(_, a) => {
                w.u8(a.proto).u8(a.prefixlen).zeros(2);
                write_sockaddr(w, &a.addr);
            }
            Extension::Key(_, k) => {
                w.ne_u16(k.bits).zeros(2).bytes(&k.key);
            }
            Extension::Supported(_, algs) => {
                w.zeros(4);
                for a in algs {
                    w.u8(a.id)
                        .u8(a.ivlen)
                        .ne_u16(a.min_bits)
                        .ne_u16(a.max_bits)
                        .zeros(2);
                }
            }
            Extension::SpiRange { min, max } => {
                w.ne_u32(*min).ne_u32(*max).zeros(4);
            }
            Extension::Sa2(s) => {
                w.u8(s.mode).zeros(3).ne_u32(s.sequence).ne_u32(s.reqid);
            }
            Extension::Policy(p) => {
                w.ne_u16(p.policy_type)
                    .u8(p.dir)
                    .zeros(1)
                    .ne_u32(p.id)
                    .ne_u32(p.priority);
                for r in &p.requests {
                    let len = u16::try_from(r.wire_len()).unwrap_or(u16::MAX);
                    w.ne_u16(len)
                        .ne_u16(r.proto)
                        .u8(r.mode)
                        .u8(r.level)
                        .zeros(2)
                        .ne_u32(r.reqid)
                        .zeros(4);
                    if let Some((a, b)) = &r.endpoints {
                        write_sockaddr(w, a);
                        write_sockaddr(w, b);
                    }
                }
            }
            Extension::NatTType(t) => {
                w.u8(*t).zeros(3);
            }
            Extension::NatTPort(_, port) => {
                w.be_u16(*port).zeros(2);
            }
            Extension::SecCtx(c) => {
                let len = u16::try_from(c.context.len()).unwrap_or(u16::MAX);
                w.u8(c.alg).u8(c.doi).ne_u16(len).bytes(&c.context);
            }
            Extension::Unknown { body, .. } => {
                w.bytes(body);
            }
        }
        // Zero padding up to the computed size (addresses, keys, requests,
        // contexts and raw bodies are not multiples of 8 by themselves).
        w.pad_to(start, total);
    }
}

/// Decodes an `sadb_x_policy` extension and its requests.
fn parse_policy(b: &[u8]) -> Result<PolicyExt, WireError> {
    let ext = need(ext_type::X_POLICY, b, 16)?;
    let mut p = PolicyExt {
        policy_type: ext.ne_u16(4),
        dir: ext.u8(6),
        id: ext.ne_u32(8),
        priority: ext.ne_u32(12),
        requests: Vec::new(),
    };
    let mut off = 16;
    // The extension is padded to 8 bytes while requests are not, so up to 7
    // trailing zero bytes may follow the last request; anything shorter than
    // a request header is treated as that padding.
    while ext.len().saturating_sub(off) >= 16 {
        let rest = ext.skip(off);
        let len = usize::from(rest.ne_u16(0));
        let bad = WireError::BadIpsecRequest { offset: off, len };
        let Some(request) = rest.slice(0, len).filter(|_| len >= 16).map(Reader::new) else {
            return Err(bad);
        };
        let endpoints = if len > 16 {
            let (a, alen) = parse_sockaddr(request.tail(16))?;
            let (b2, blen) = parse_sockaddr(request.tail(16 + alen))?;
            if 16 + alen + blen != len {
                return Err(bad);
            }
            if a.is_ipv4() != b2.is_ipv4() {
                return Err(WireError::MixedRequestFamilies);
            }
            Some((a, b2))
        } else {
            None
        };
        p.requests.push(IpsecRequestExt {
            proto: request.ne_u16(2),
            mode: request.u8(4),
            level: request.u8(5),
            reqid: request.ne_u32(8),
            endpoints,
        });
        off += len;
    }
    Ok(p)
}

/// A whole PF_KEY message: header plus extensions in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The header (`len` is recomputed by [`Message::emit`]).
    pub header: Header,
    /// The extensions, in the order they appear on the wire.
    pub extensions: Vec<Extension>,
}

impl Message {
    /// A message with this header and no extensions.
    pub fn new(header: Header) -> Message {
        Message {
            header,
            extensions: Vec::new(),
        }
    }

    /// Parses exactly one message (`buf.len()` must equal `sadb_msg_len` × 8).
    pub fn parse(buf: &[u8]) -> Result<Message, WireError> {
        let packet = Packet::new_checked(buf)?;
        let extensions = packet
            .extensions()
            .map(|raw| raw.and_then(|r| Extension::parse(&r)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Message {
            header: packet.header(),
            extensions,
        })
    }

    /// Size of the emitted message in bytes.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN
            + self
                .extensions
                .iter()
                .map(Extension::wire_len)
                .sum::<usize>()
    }

    /// Appends the message, setting `sadb_msg_len` and every extension length.
    ///
    /// A message over 512 KiB gets a saturated `sadb_msg_len` (Linux rejects
    /// it anyway) instead of a panic.
    pub fn emit(&self, out: &mut BytesMut) {
        out.reserve(self.wire_len());
        let mut header = self.header;
        header.len = u16::try_from(self.wire_len() / WORD).unwrap_or(u16::MAX);
        let mut w = Writer::new(out);
        header.write(&mut w);
        for ext in &self.extensions {
            ext.write(&mut w);
        }
    }

    /// Emits into a fresh buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.wire_len());
        self.emit(&mut out);
        out
    }

    /// The message type, if Linux knows it.
    pub fn message_type(&self) -> Option<MessageType> {
        self.header.message_type()
    }

    /// First extension with this `sadb_ext_type`.
    pub fn find(&self, ext_type: u16) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.ext_type() == ext_type)
    }

    /// The SA extension.
    pub fn sa(&self) -> Option<&SaExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Sa(s) => Some(s),
            _ => None,
        })
    }

    /// The SA2 extension.
    pub fn sa2(&self) -> Option<&Sa2Ext> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Sa2(s) => Some(s),
            _ => None,
        })
    }

    /// The lifetime extension of that kind.
    pub fn lifetime(&self, kind: LifetimeKind) -> Option<&LifetimeExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Lifetime(k, l) if *k == kind => Some(l),
            _ => None,
        })
    }

    /// The address extension of that kind.
    pub fn address(&self, kind: AddressKind) -> Option<&AddressExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Address(k, a) if *k == kind => Some(a),
            _ => None,
        })
    }

    /// The key extension of that kind.
    pub fn key(&self, kind: KeyKind) -> Option<&KeyExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Key(k, key) if *k == kind => Some(key),
            _ => None,
        })
    }

    /// The supported-algorithms list of that kind.
    pub fn supported(&self, kind: SupportedKind) -> Option<&[AlgorithmDesc]> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Supported(k, algs) if *k == kind => Some(algs.as_slice()),
            _ => None,
        })
    }

    /// The policy extension.
    pub fn policy(&self) -> Option<&PolicyExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Policy(p) => Some(p),
            _ => None,
        })
    }

    /// The NAT-T type, if the extension is present.
    pub fn nat_t_type(&self) -> Option<u8> {
        self.extensions.iter().find_map(|e| match e {
            Extension::NatTType(t) => Some(*t),
            _ => None,
        })
    }

    /// The NAT-T port of that kind (host order).
    pub fn nat_t_port(&self, kind: NatTPortKind) -> Option<u16> {
        self.extensions.iter().find_map(|e| match e {
            Extension::NatTPort(k, p) if *k == kind => Some(*p),
            _ => None,
        })
    }

    /// The security context extension.
    pub fn sec_ctx(&self) -> Option<&SecCtxExt> {
        self.extensions.iter().find_map(|e| match e {
            Extension::SecCtx(c) => Some(c),
            _ => None,
        })
    }

    /// The SPI range extension as `(min, max)`.
    pub fn spi_range(&self) -> Option<(u32, u32)> {
        self.extensions.iter().find_map(|e| match e {
            Extension::SpiRange { min, max } => Some((*min, *max)),
            _ => None,
        })
    }
}

/// Splits concatenated messages (a `D.raw` file, a received datagram).
///
/// Each item is one parsed message. A header whose length is 0, shorter
/// than a header or past the end of `buf` ends the stream with one error
/// item, since nothing after it can be framed. A message that frames but
/// does not parse yields an error item and the walk goes on.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages {
        buf,
        offset: 0,
        failed: false,
    }
}

/// Iterator returned by [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Messages<'a> {
    /// The next framed message as raw bytes, without parsing it.
    pub fn next_raw(&mut self) -> Option<Result<&'a [u8], WireError>> {
        if self.failed || self.offset >= self.buf.len() {
            return None;
        }
        let rest = self.buf.get(self.offset..).unwrap_or_default();
        let framed = Header::parse(rest).and_then(|h| {
            let declared = h.byte_len();
            if declared < HEADER_LEN || declared > rest.len() {
                Err(WireError::BadMessageLength {
                    declared,
                    have: rest.len(),
                })
            } else {
                rest.get(..declared).ok_or(WireError::BadMessageLength {
                    declared,
                    have: rest.len(),
                })
            }
        });
        match &framed {
            Ok(m) => self.offset += m.len(),
            Err(_) => self.failed = true,
        }
        Some(framed)
    }
}

impl Iterator for Messages<'_> {
    type Item = Result<Message, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_raw().map(|r| r.and_then(Message::parse))
    }
}
