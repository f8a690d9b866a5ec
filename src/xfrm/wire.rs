//! XFRM netlink structures (`include/uapi/linux/xfrm.h`) as plain values
//! with symmetric `parse` / `emit`.
//!
//! Layouts are those of 64-bit Linux (`xfrm_usersa_info` is 224 bytes,
//! `xfrm_userpolicy_info` 168: the structures end padded to 8 because they
//! hold `u64` lifetimes). Addresses, SPIs and ports are network order on the
//! wire and held here as numbers / byte arrays in their natural reading;
//! everything else is host order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zeroize::Zeroizing;

use super::netlink::NetlinkError;
use crate::codec::{Reader, Writer};

/// `XFRM_INF`: "no limit" in byte and packet limits.
pub const XFRM_INF: u64 = u64::MAX;

/// XFRM netlink message types.
pub mod msg {
    /// XFRM_MSG_NEWSA
    pub const NEWSA: u16 = 0x10;
    /// XFRM_MSG_DELSA
    pub const DELSA: u16 = 0x11;
    /// XFRM_MSG_GETSA
    pub const GETSA: u16 = 0x12;
    /// XFRM_MSG_NEWPOLICY
    pub const NEWPOLICY: u16 = 0x13;
    /// XFRM_MSG_DELPOLICY
    pub const DELPOLICY: u16 = 0x14;
    /// XFRM_MSG_GETPOLICY
    pub const GETPOLICY: u16 = 0x15;
    /// XFRM_MSG_ALLOCSPI
    pub const ALLOCSPI: u16 = 0x16;
    /// XFRM_MSG_UPDPOLICY
    pub const UPDPOLICY: u16 = 0x19;
    /// XFRM_MSG_UPDSA
    pub const UPDSA: u16 = 0x1a;
    /// XFRM_MSG_FLUSHSA
    pub const FLUSHSA: u16 = 0x1c;
    /// XFRM_MSG_FLUSHPOLICY
    pub const FLUSHPOLICY: u16 = 0x1d;
}

/// XFRM attribute types (`XFRMA_*`).
pub mod attr {
    /// XFRMA_ALG_AUTH (`xfrm_algo`, no truncation length)
    pub const ALG_AUTH: u16 = 1;
    /// XFRMA_ALG_CRYPT (`xfrm_algo`)
    pub const ALG_CRYPT: u16 = 2;
    /// XFRMA_ALG_COMP (`xfrm_algo`)
    pub const ALG_COMP: u16 = 3;
    /// XFRMA_ENCAP (`xfrm_encap_tmpl`)
    pub const ENCAP: u16 = 4;
    /// XFRMA_TMPL (array of `xfrm_user_tmpl`)
    pub const TMPL: u16 = 5;
    /// XFRMA_SA: a deleted SA's `xfrm_usersa_info` (DELSA events)
    pub const SA: u16 = 6;
    /// XFRMA_POLICY: a deleted policy's `xfrm_userpolicy_info` (DELPOLICY
    /// events)
    pub const POLICY: u16 = 7;
    /// XFRMA_SEC_CTX (`xfrm_user_sec_ctx`)
    pub const SEC_CTX: u16 = 8;
    /// XFRMA_LTIME_VAL: an SA's current lifetime (`xfrm_lifetime_cur`)
    pub const LTIME_VAL: u16 = 9;
    /// XFRMA_REPLAY_VAL: replay state (changes with traffic)
    pub const REPLAY_VAL: u16 = 10;
    /// XFRMA_LASTUSED: last use time (changes with traffic)
    pub const LASTUSED: u16 = 15;
    /// XFRMA_POLICY_TYPE (`xfrm_userpolicy_type`)
    pub const POLICY_TYPE: u16 = 16;
    /// XFRMA_ALG_AEAD (`xfrm_algo_aead`)
    pub const ALG_AEAD: u16 = 18;
    /// XFRMA_ALG_AUTH_TRUNC (`xfrm_algo_auth`)
    pub const ALG_AUTH_TRUNC: u16 = 20;
    /// XFRMA_MARK: part of an SA's and a policy's identity
    pub const MARK: u16 = 21;
    /// XFRMA_REPLAY_ESN_VAL (`xfrm_replay_state_esn`)
    pub const REPLAY_ESN_VAL: u16 = 23;
    /// XFRMA_PAD: alignment filler
    pub const PAD: u16 = 27;
    /// XFRMA_IF_ID: part of a policy's identity
    pub const IF_ID: u16 = 31;
}

/// `XFRM_MODE_*`.
pub mod mode {
    /// XFRM_MODE_TRANSPORT
    pub const TRANSPORT: u8 = 0;
    /// XFRM_MODE_TUNNEL
    pub const TUNNEL: u8 = 1;
    /// XFRM_MODE_BEET
    pub const BEET: u8 = 4;
}

/// `XFRM_STATE_*` SA flags.
pub mod state_flag {
    /// XFRM_STATE_NOECN
    pub const NOECN: u8 = 1;
    /// XFRM_STATE_DECAP_DSCP
    pub const DECAP_DSCP: u8 = 2;
    /// XFRM_STATE_NOPMTUDISC
    pub const NOPMTUDISC: u8 = 4;
    /// XFRM_STATE_ESN
    pub const ESN: u8 = 128;
}

/// `XFRM_POLICY_ALLOW`.
pub const POLICY_ALLOW: u8 = 0;
/// `XFRM_POLICY_BLOCK`.
pub const POLICY_BLOCK: u8 = 1;
/// `XFRM_POLICY_TYPE_MAIN`.
pub const POLICY_TYPE_MAIN: u8 = 0;

/// `AF_INET` as XFRM numbers families.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// A reader over `b` once it holds `n` bytes, or what was short.
fn need<'a>(b: &'a [u8], n: usize, what: &'static str) -> Result<Reader<'a>, NetlinkError> {
    Reader::new_checked(b, n).map_err(|short| NetlinkError::Truncated {
        what,
        have: short.have,
        need: short.need,
    })
}

/// A fixed-size structure as it goes on the wire, its fields written at
/// their offsets into an array on the stack and appended with one copy:
/// field-by-field appends to the output cost a capacity check each, and
/// an apply of many policies writes hundreds of thousands of structures.
struct Image<const N: usize>([u8; N]);

impl<const N: usize> Image<N> {
    fn new() -> Self {
        Image([0; N])
    }

    /// Puts `v` at `at` (the offsets are the structure's, constants that
    /// fit: out of range would be a layout bug, written nowhere).
    fn put<const M: usize>(&mut self, at: usize, v: [u8; M]) -> &mut Self {
        if let Some(s) = self.0.get_mut(at..at + M) {
            s.copy_from_slice(&v);
        }
        self
    }
}

/// `xfrm_address_t`: 16 bytes, an IPv4 address in the first four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct XfrmAddress(pub [u8; 16]);

impl XfrmAddress {
    /// The address of an IP.
    pub fn from_ip(ip: IpAddr) -> XfrmAddress {
        let mut a = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => a[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => a = v6.octets(),
        }
        XfrmAddress(a)
    }

    /// The IP, read in `family` (`None` for other families).
    pub fn to_ip(self, family: u16) -> Option<IpAddr> {
        match family {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                self.0[0], self.0[1], self.0[2], self.0[3],
            ))),
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(self.0))),
            _ => None,
        }
    }

    /// Equality as the kernel's `xfrm_addr_equal` sees it in `family`.
    pub fn equal_in(&self, other: &XfrmAddress, family: u16) -> bool {
        match family {
            AF_INET => self.0[..4] == other.0[..4],
            _ => self.0 == other.0,
        }
    }
}

/// Family of an IP as XFRM numbers it.
pub fn family_of(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// `struct xfrm_selector` (56 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selector {
    /// destination address
    pub daddr: XfrmAddress,
    /// source address
    pub saddr: XfrmAddress,
    /// destination port
    pub dport: u16,
    /// destination port mask
    pub dport_mask: u16,
    /// source port
    pub sport: u16,
    /// source port mask
    pub sport_mask: u16,
    /// address family
    pub family: u16,
    /// destination prefix length
    pub prefixlen_d: u8,
    /// source prefix length
    pub prefixlen_s: u8,
    /// upper-layer protocol (0 = any)
    pub proto: u8,
    /// interface index
    pub ifindex: i32,
    /// user id
    pub user: u32,
}

impl Selector {
    /// Wire size.
    pub const LEN: usize = 56;

    /// Parses the first 56 bytes.
    pub fn parse(b: &[u8]) -> Result<Selector, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_selector")?;
        Ok(Selector {
            daddr: XfrmAddress(r.array(0)),
            saddr: XfrmAddress(r.array(16)),
            dport: r.be_u16(32),
            dport_mask: r.be_u16(34),
            sport: r.be_u16(36),
            sport_mask: r.be_u16(38),
            family: r.ne_u16(40),
            prefixlen_d: r.u8(42),
            prefixlen_s: r.u8(43),
            proto: r.u8(44),
            ifindex: r.ne_i32(48),
            user: r.ne_u32(52),
        })
    }

    /// Appends 56 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.image());
    }

    /// The 56 bytes.
    #[inline]
    pub fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.daddr.0)
            .put(16, self.saddr.0)
            .put(32, self.dport.to_be_bytes())
            .put(34, self.dport_mask.to_be_bytes())
            .put(36, self.sport.to_be_bytes())
            .put(38, self.sport_mask.to_be_bytes())
            .put(40, self.family.to_ne_bytes())
            .put(42, [self.prefixlen_d, self.prefixlen_s, self.proto])
            .put(48, self.ifindex.to_ne_bytes())
            .put(52, self.user.to_ne_bytes());
        b.0
    }
}

/// `struct xfrm_id` (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XfrmId {
    /// destination address
    pub daddr: XfrmAddress,
    /// SPI (as written in scripts; network order on the wire)
    pub spi: u32,
    /// IPsec protocol (50, 51, 108)
    pub proto: u8,
}

impl XfrmId {
    /// Wire size.
    pub const LEN: usize = 24;

    fn parse(b: &[u8]) -> XfrmId {
        let r = Reader::new(b);
        XfrmId {
            daddr: XfrmAddress(r.array(0)),
            spi: r.be_u32(16),
            proto: r.u8(20),
        }
    }

    #[inline]
    fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.daddr.0)
            .put(16, self.spi.to_be_bytes())
            .put(20, [self.proto]);
        b.0
    }
}

/// `struct xfrm_lifetime_cfg` (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeCfg {
    /// soft byte limit
    pub soft_byte_limit: u64,
    /// hard byte limit
    pub hard_byte_limit: u64,
    /// soft packet limit
    pub soft_packet_limit: u64,
    /// hard packet limit
    pub hard_packet_limit: u64,
    /// soft expiry, seconds after creation
    pub soft_add_expires_seconds: u64,
    /// hard expiry, seconds after creation
    pub hard_add_expires_seconds: u64,
    /// soft expiry, seconds after first use
    pub soft_use_expires_seconds: u64,
    /// hard expiry, seconds after first use
    pub hard_use_expires_seconds: u64,
}

impl Default for LifetimeCfg {
    /// No limits: what `xfrm_state_alloc` / `xfrm_policy_alloc` start with.
    fn default() -> Self {
        LifetimeCfg {
            soft_byte_limit: XFRM_INF,
            hard_byte_limit: XFRM_INF,
            soft_packet_limit: XFRM_INF,
            hard_packet_limit: XFRM_INF,
            soft_add_expires_seconds: 0,
            hard_add_expires_seconds: 0,
            soft_use_expires_seconds: 0,
            hard_use_expires_seconds: 0,
        }
    }
}

impl LifetimeCfg {
    /// Wire size.
    pub const LEN: usize = 64;

    fn parse(b: &[u8]) -> LifetimeCfg {
        let r = Reader::new(b);
        LifetimeCfg {
            soft_byte_limit: r.ne_u64(0),
            hard_byte_limit: r.ne_u64(8),
            soft_packet_limit: r.ne_u64(16),
            hard_packet_limit: r.ne_u64(24),
            soft_add_expires_seconds: r.ne_u64(32),
            hard_add_expires_seconds: r.ne_u64(40),
            soft_use_expires_seconds: r.ne_u64(48),
            hard_use_expires_seconds: r.ne_u64(56),
        }
    }

    #[inline]
    fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.soft_byte_limit.to_ne_bytes())
            .put(8, self.hard_byte_limit.to_ne_bytes())
            .put(16, self.soft_packet_limit.to_ne_bytes())
            .put(24, self.hard_packet_limit.to_ne_bytes())
            .put(32, self.soft_add_expires_seconds.to_ne_bytes())
            .put(40, self.hard_add_expires_seconds.to_ne_bytes())
            .put(48, self.soft_use_expires_seconds.to_ne_bytes())
            .put(56, self.hard_use_expires_seconds.to_ne_bytes());
        b.0
    }
}

/// `struct xfrm_lifetime_cur` (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifetimeCur {
    /// bytes processed
    pub bytes: u64,
    /// packets processed
    pub packets: u64,
    /// creation time (epoch seconds)
    pub add_time: u64,
    /// first (SA) / last (policy) use time, 0 = never
    pub use_time: u64,
}

impl LifetimeCur {
    /// Wire size.
    pub const LEN: usize = 32;

    fn parse(b: &[u8]) -> LifetimeCur {
        let r = Reader::new(b);
        LifetimeCur {
            bytes: r.ne_u64(0),
            packets: r.ne_u64(8),
            add_time: r.ne_u64(16),
            use_time: r.ne_u64(24),
        }
    }

    #[inline]
    fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.bytes.to_ne_bytes())
            .put(8, self.packets.to_ne_bytes())
            .put(16, self.add_time.to_ne_bytes())
            .put(24, self.use_time.to_ne_bytes());
        b.0
    }
}

/// `struct xfrm_usersa_info` (224 bytes): an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsersaInfo {
    /// the SA's selector
    pub sel: Selector,
    /// destination, SPI, protocol
    pub id: XfrmId,
    /// source address
    pub saddr: XfrmAddress,
    /// configured lifetimes
    pub lft: LifetimeCfg,
    /// current lifetime counters
    pub curlft: LifetimeCur,
    /// `xfrm_stats`: replay_window, replay, integrity_failed
    pub stats: [u32; 3],
    /// `km.seq`
    pub seq: u32,
    /// request id
    pub reqid: u32,
    /// address family
    pub family: u16,
    /// `XFRM_MODE_*`
    pub mode: u8,
    /// replay window (legacy, up to 32)
    pub replay_window: u8,
    /// `XFRM_STATE_*`
    pub flags: u8,
}

impl UsersaInfo {
    /// Wire size (64-bit layout).
    pub const LEN: usize = 224;

    /// Parses the first 224 bytes.
    pub fn parse(b: &[u8]) -> Result<UsersaInfo, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_usersa_info")?;
        Ok(UsersaInfo {
            sel: Selector::parse(b)?,
            id: XfrmId::parse(r.tail(56)),
            saddr: XfrmAddress(r.array(80)),
            lft: LifetimeCfg::parse(r.tail(96)),
            curlft: LifetimeCur::parse(r.tail(160)),
            stats: [r.ne_u32(192), r.ne_u32(196), r.ne_u32(200)],
            seq: r.ne_u32(204),
            reqid: r.ne_u32(208),
            family: r.ne_u16(212),
            mode: r.u8(214),
            replay_window: r.u8(215),
            flags: r.u8(216),
        })
    }

    /// Appends 224 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.image());
    }

    /// The 224 bytes.
    #[inline]
    pub fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        let [s0, s1, s2] = self.stats;
        b.put(0, self.sel.image())
            .put(56, self.id.image())
            .put(80, self.saddr.0)
            .put(96, self.lft.image())
            .put(160, self.curlft.image())
            .put(192, s0.to_ne_bytes())
            .put(196, s1.to_ne_bytes())
            .put(200, s2.to_ne_bytes())
            .put(204, self.seq.to_ne_bytes())
            .put(208, self.reqid.to_ne_bytes())
            .put(212, self.family.to_ne_bytes())
            .put(214, [self.mode, self.replay_window, self.flags]);
        b.0
    }
}

/// `struct xfrm_usersa_id` (24 bytes): an SA's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsersaId {
    /// destination address
    pub daddr: XfrmAddress,
    /// SPI
    pub spi: u32,
    /// address family
    pub family: u16,
    /// IPsec protocol
    pub proto: u8,
}

impl UsersaId {
    /// Wire size.
    pub const LEN: usize = 24;

    /// Parses the first 24 bytes.
    pub fn parse(b: &[u8]) -> Result<UsersaId, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_usersa_id")?;
        Ok(UsersaId {
            daddr: XfrmAddress(r.array(0)),
            spi: r.be_u32(16),
            family: r.ne_u16(20),
            proto: r.u8(22),
        })
    }

    /// Appends 24 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut b = Image::<{ Self::LEN }>::new();
        b.put(0, self.daddr.0)
            .put(16, self.spi.to_be_bytes())
            .put(20, self.family.to_ne_bytes())
            .put(22, [self.proto]);
        out.extend_from_slice(&b.0);
    }
}

/// `struct xfrm_userspi_info` (232 bytes): ALLOCSPI's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserspiInfo {
    /// the larval SA's addresses, protocol, mode, reqid, seq
    pub info: UsersaInfo,
    /// lowest SPI (host order)
    pub min: u32,
    /// highest SPI (host order)
    pub max: u32,
}

impl UserspiInfo {
    /// Wire size.
    pub const LEN: usize = 232;

    /// Parses the first 232 bytes.
    pub fn parse(b: &[u8]) -> Result<UserspiInfo, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_userspi_info")?;
        Ok(UserspiInfo {
            info: UsersaInfo::parse(b)?,
            min: r.ne_u32(224),
            max: r.ne_u32(228),
        })
    }

    /// Appends 232 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut b = Image::<{ Self::LEN }>::new();
        b.put(0, self.info.image())
            .put(224, self.min.to_ne_bytes())
            .put(228, self.max.to_ne_bytes());
        out.extend_from_slice(&b.0);
    }
}

/// `struct xfrm_usersa_flush` (1 byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsersaFlush {
    /// protocol to flush (255 = AH, ESP and IPComp)
    pub proto: u8,
}

impl UsersaFlush {
    /// Parses the first byte.
    pub fn parse(b: &[u8]) -> Result<UsersaFlush, NetlinkError> {
        let r = need(b, 1, "xfrm_usersa_flush")?;
        Ok(UsersaFlush { proto: r.u8(0) })
    }

    /// Appends 1 byte.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.proto);
    }
}

/// `struct xfrm_userpolicy_info` (168 bytes): a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserpolicyInfo {
    /// the selector
    pub sel: Selector,
    /// configured lifetimes
    pub lft: LifetimeCfg,
    /// current lifetime counters
    pub curlft: LifetimeCur,
    /// priority
    pub priority: u32,
    /// index (`sadb_x_policy_id`)
    pub index: u32,
    /// direction: 0 in, 1 out, 2 fwd, 3/4 socket in/out
    pub dir: u8,
    /// `XFRM_POLICY_ALLOW` / `XFRM_POLICY_BLOCK`
    pub action: u8,
    /// `XFRM_POLICY_LOCALOK` / `XFRM_POLICY_ICMP`
    pub flags: u8,
    /// `XFRM_SHARE_*`
    pub share: u8,
}

impl UserpolicyInfo {
    /// Wire size (64-bit layout).
    pub const LEN: usize = 168;

    /// Parses the first 168 bytes.
    pub fn parse(b: &[u8]) -> Result<UserpolicyInfo, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_userpolicy_info")?;
        Ok(UserpolicyInfo {
            sel: Selector::parse(b)?,
            lft: LifetimeCfg::parse(r.tail(56)),
            curlft: LifetimeCur::parse(r.tail(120)),
            priority: r.ne_u32(152),
            index: r.ne_u32(156),
            dir: r.u8(160),
            action: r.u8(161),
            flags: r.u8(162),
            share: r.u8(163),
        })
    }

    /// Appends 168 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.image());
    }

    /// The 168 bytes.
    #[inline]
    pub fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.sel.image())
            .put(56, self.lft.image())
            .put(120, self.curlft.image())
            .put(152, self.priority.to_ne_bytes())
            .put(156, self.index.to_ne_bytes())
            .put(160, [self.dir, self.action, self.flags, self.share]);
        b.0
    }
}

/// `struct xfrm_userpolicy_id` (64 bytes): a policy's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserpolicyId {
    /// the selector (used when `index` is 0)
    pub sel: Selector,
    /// the index, 0 = look up by selector
    pub index: u32,
    /// direction
    pub dir: u8,
}

impl UserpolicyId {
    /// Wire size.
    pub const LEN: usize = 64;

    /// Parses the first 64 bytes.
    pub fn parse(b: &[u8]) -> Result<UserpolicyId, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_userpolicy_id")?;
        Ok(UserpolicyId {
            sel: Selector::parse(b)?,
            index: r.ne_u32(56),
            dir: r.u8(60),
        })
    }

    /// Appends 64 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut b = Image::<{ Self::LEN }>::new();
        b.put(0, self.sel.image())
            .put(56, self.index.to_ne_bytes())
            .put(60, [self.dir]);
        out.extend_from_slice(&b.0);
    }
}

/// `struct xfrm_user_tmpl` (64 bytes): one template of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserTmpl {
    /// tunnel destination, SPI (0), protocol
    pub id: XfrmId,
    /// family of the tunnel end points
    pub family: u16,
    /// tunnel source
    pub saddr: XfrmAddress,
    /// request id (0 = any)
    pub reqid: u32,
    /// `XFRM_MODE_*`
    pub mode: u8,
    /// `XFRM_SHARE_*`
    pub share: u8,
    /// 1 = optional (level `use`)
    pub optional: u8,
    /// allowed authentication algorithms (bit mask)
    pub aalgos: u32,
    /// allowed encryption algorithms
    pub ealgos: u32,
    /// allowed compression algorithms
    pub calgos: u32,
}

impl UserTmpl {
    /// Wire size.
    pub const LEN: usize = 64;

    /// Parses the first 64 bytes.
    pub fn parse(b: &[u8]) -> Result<UserTmpl, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_user_tmpl")?;
        Ok(UserTmpl {
            id: XfrmId::parse(b),
            family: r.ne_u16(24),
            saddr: XfrmAddress(r.array(28)),
            reqid: r.ne_u32(44),
            mode: r.u8(48),
            share: r.u8(49),
            optional: r.u8(50),
            aalgos: r.ne_u32(52),
            ealgos: r.ne_u32(56),
            calgos: r.ne_u32(60),
        })
    }

    /// Appends 64 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.image());
    }

    /// The 64 bytes.
    #[inline]
    pub fn image(&self) -> [u8; Self::LEN] {
        let mut b = Image::new();
        b.put(0, self.id.image())
            .put(24, self.family.to_ne_bytes())
            .put(28, self.saddr.0)
            .put(44, self.reqid.to_ne_bytes())
            .put(48, [self.mode, self.share, self.optional])
            .put(52, self.aalgos.to_ne_bytes())
            .put(56, self.ealgos.to_ne_bytes())
            .put(60, self.calgos.to_ne_bytes());
        b.0
    }

    /// Parses an `XFRMA_TMPL` value (an array of templates).
    pub fn parse_array(b: &[u8]) -> Result<Vec<UserTmpl>, NetlinkError> {
        b.chunks(Self::LEN).map(UserTmpl::parse).collect()
    }
}

/// Length of the name field of `xfrm_algo*`.
pub const ALG_NAME_LEN: usize = 64;

/// `struct xfrm_algo` / `xfrm_algo_auth` / `xfrm_algo_aead`: a named
/// algorithm with its key; `trunc_bits` is the extra field of the `_auth`
/// (truncation) and `_aead` (ICV length) forms.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Algo {
    /// kernel crypto name, e.g. `cbc(aes)`
    pub name: String,
    /// key length in bits
    pub key_bits: u32,
    /// ICV truncation / length in bits (only in the auth and AEAD forms)
    pub trunc_bits: u32,
    /// key bytes (`(key_bits + 7) / 8` of them)
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Algo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Algo")
            .field("name", &self.name)
            .field("key_bits", &self.key_bits)
            .field("trunc_bits", &self.trunc_bits)
            .finish()
    }
}

impl Algo {
    /// Parses `xfrm_algo` (`with_trunc` false) or the `_auth` / `_aead`
    /// form (true).
    pub fn parse(b: &[u8], with_trunc: bool) -> Result<Algo, NetlinkError> {
        let fixed = ALG_NAME_LEN + if with_trunc { 8 } else { 4 };
        let r = need(b, fixed, "xfrm_algo")?;
        let name = r
            .slice(0, ALG_NAME_LEN)
            .unwrap_or_default()
            .split(|c| *c == 0)
            .next()
            .unwrap_or_default();
        let key_bits = r.ne_u32(ALG_NAME_LEN);
        let key_len = (key_bits as usize).div_ceil(8);
        let key = r.slice(fixed, key_len).ok_or(NetlinkError::Truncated {
            what: "xfrm_algo key",
            have: b.len(),
            need: fixed + key_len,
        })?;
        Ok(Algo {
            name: String::from_utf8_lossy(name).into_owned(),
            key_bits,
            trunc_bits: if with_trunc {
                r.ne_u32(ALG_NAME_LEN + 4)
            } else {
                0
            },
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// Appends the structure (name truncated to 63 bytes plus NUL).
    pub fn emit(&self, with_trunc: bool, out: &mut Vec<u8>) {
        let mut name = [0u8; ALG_NAME_LEN];
        let n = self.name.len().min(ALG_NAME_LEN - 1);
        name[..n].copy_from_slice(&self.name.as_bytes()[..n]);
        let mut w = Writer::new(out);
        w.bytes(&name);
        w.ne_u32(self.key_bits);
        if with_trunc {
            w.ne_u32(self.trunc_bits);
        }
        w.bytes(&self.key);
    }
}

/// `struct xfrm_encap_tmpl` (24 bytes): NAT traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncapTmpl {
    /// `UDP_ENCAP_*`
    pub encap_type: u16,
    /// source port
    pub sport: u16,
    /// destination port
    pub dport: u16,
    /// original address
    pub oa: XfrmAddress,
}

impl EncapTmpl {
    /// Wire size.
    pub const LEN: usize = 24;

    /// Parses the first 24 bytes.
    pub fn parse(b: &[u8]) -> Result<EncapTmpl, NetlinkError> {
        let r = need(b, Self::LEN, "xfrm_encap_tmpl")?;
        Ok(EncapTmpl {
            encap_type: r.ne_u16(0),
            sport: r.be_u16(2),
            dport: r.be_u16(4),
            oa: XfrmAddress(r.array(8)),
        })
    }

    /// Appends 24 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.ne_u16(self.encap_type);
        w.be_u16(self.sport);
        w.be_u16(self.dport);
        w.zeros(2);
        w.bytes(&self.oa.0);
    }
}

/// `struct xfrm_user_sec_ctx` and its string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserSecCtx {
    /// `ctx_alg`
    pub alg: u8,
    /// `ctx_doi`
    pub doi: u8,
    /// the context bytes (`ctx_len` of them)
    pub context: Vec<u8>,
}

impl UserSecCtx {
    /// Parses the header and `ctx_len` bytes.
    pub fn parse(b: &[u8]) -> Result<UserSecCtx, NetlinkError> {
        let r = need(b, 8, "xfrm_user_sec_ctx")?;
        let n = usize::from(r.ne_u16(6));
        let context = r.slice(8, n).ok_or(NetlinkError::Truncated {
            what: "xfrm_user_sec_ctx string",
            have: b.len(),
            need: 8 + n,
        })?;
        Ok(UserSecCtx {
            alg: r.u8(4),
            doi: r.u8(5),
            context: context.to_vec(),
        })
    }

    /// Appends the structure; `len` = 8 + `ctx_len` as xfrm_user checks.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let ctx_len = u16::try_from(self.context.len()).unwrap_or(u16::MAX);
        let mut w = Writer::new(out);
        w.ne_u16(ctx_len.saturating_add(8));
        w.ne_u16(attr::SEC_CTX);
        w.u8(self.alg);
        w.u8(self.doi);
        w.ne_u16(ctx_len);
        w.bytes(self.context.get(..usize::from(ctx_len)).unwrap_or_default());
    }
}

/// The `replay_window` field of an `XFRMA_REPLAY_ESN_VAL` value.
pub fn esn_replay_window(b: &[u8]) -> Option<u32> {
    Reader::new(b).get_ne_u32(20)
}

/// The policy type of an `XFRMA_POLICY_TYPE` value.
pub fn policy_type(b: &[u8]) -> Option<u8> {
    b.first().copied()
}
