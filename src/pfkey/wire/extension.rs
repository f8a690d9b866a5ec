//! The extensions of a PF_KEY message as plain values, with their
//! `parse` and `emit`.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use zeroize::Zeroizing;

use super::sockaddr::write_sockaddr;
use super::{
    EXT_HEADER_LEN, RawExtension, SOCKADDR_IN_LEN, SOCKADDR_IN6_LEN, WORD, WireError, ext_type,
    parse_sockaddr,
};
use crate::codec::{self, Reader, Sink, Writer};

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

/// A reader over `bytes` once it has at least `min` bytes.
fn need(ext_type: u16, bytes: &[u8], min: usize) -> Result<Reader<'_>, WireError> {
    Reader::new_checked(bytes, min).map_err(|short| WireError::ExtensionTooShort {
        ext_type,
        len: short.have,
        min,
    })
}

impl Extension {
    /// The [`ext_type::X_SA_REPLAY`] extension for a replay window too
    /// wide for `sadb_sa_replay`.
    pub fn wide_replay(window: u32) -> Extension {
        Extension::Unknown {
            ext_type: ext_type::X_SA_REPLAY,
            body: bytes::Bytes::copy_from_slice(&window.to_ne_bytes()),
        }
    }

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

    pub(super) fn write<S: Sink + ?Sized>(&self, w: &mut Writer<'_, S>) {
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
