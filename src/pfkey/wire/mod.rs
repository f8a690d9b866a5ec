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

use bytes::BytesMut;

use crate::codec::{PFKEY_ALIGN, Writer};

mod extension;
mod header;
mod sockaddr;
#[cfg(test)]
mod tests;

pub use extension::*;
pub use header::*;
pub use sockaddr::*;

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
    /// rsetkey's own: a replay window past `sadb_sa_replay`'s 8 bits, in
    /// FreeBSD's layout (`struct sadb_x_sa_replay`: the window in packets,
    /// 32 bits). FreeBSD numbers it `SADB_X_EXT_SA_REPLAY` = 26, which
    /// Linux gives `SADB_X_EXT_FILTER`; rsetkey uses 27, past Linux's
    /// `SADB_EXT_MAX`, so that the number means nothing else to Linux. It
    /// lives only between rsetkey and its XFRM kernel: the PF_KEY socket
    /// never sends it (`pfkey::request::needs_xfrm`), and the XFRM kernel
    /// reports a window past 255 with it.
    pub const X_SA_REPLAY: u16 = 27;
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

/// A whole PF_KEY message: header plus extensions in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The header (`len` is recomputed by [`Message::emit`]).
    pub header: Header,
    /// The extensions, in the order they appear on the wire.
    pub extensions: Vec<Extension>,
}

impl Message {
    /// The replay window of the [`ext_type::X_SA_REPLAY`] extension, for
    /// a window too wide for `sadb_sa_replay`.
    pub fn wide_replay(&self) -> Option<u32> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Unknown { ext_type, body } if *ext_type == ext_type::X_SA_REPLAY => body
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes),
            _ => None,
        })
    }

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
