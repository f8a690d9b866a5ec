//! PF_KEY ↔ XFRM, the way `af_key` converts: requests into the kernel
//! objects it would build (`pfkey_msg2xfrm_state`, `pfkey_spdadd`,
//! `pfkey_getspi`, ...) and kernel objects back into the extensions it
//! would send (`__pfkey_xfrm_state2msg`, `pfkey_xfrm_policy2msg`).
//!
//! Every function is pure; errors are the positive errno af_key would
//! answer with, checked in af_key's order.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use zeroize::Zeroizing;

use super::algorithms;
use super::netlink::{Attr, align4, find};
use super::wire::{
    AF_INET6, ALG_NAME_LEN, Algo, EncapTmpl, LifetimeCfg, LifetimeCur, POLICY_ALLOW, POLICY_BLOCK,
    Selector, UserSecCtx, UserTmpl, UserpolicyId, UserpolicyInfo, UsersaId, UsersaInfo,
    UserspiInfo, XFRM_INF, XfrmAddress, XfrmId, attr, esn_replay_window, family_of, mode,
    state_flag,
};
use crate::codec::{NLA_HDRLEN, Writer};
use crate::ir::{PolicyRequest, SmallList};
use crate::pfkey::request;
use crate::pfkey::wire::{
    AddressExt, AddressKind, Extension, IpsecRequestExt, KeyExt, KeyKind, LifetimeExt,
    LifetimeKind, Message, NatTPortKind, PolicyExt, Sa2Ext, SaExt, SecCtxExt, aalg, ealg, ipsec,
    sa_state,
};

/// IPPROTO_ESP.
pub const IPPROTO_ESP: u8 = 50;
/// IPPROTO_AH.
pub const IPPROTO_AH: u8 = 51;
/// IPPROTO_COMP.
pub const IPPROTO_COMP: u8 = 108;
/// IPSEC_PROTO_ANY: AH, ESP and IPComp.
pub const IPSEC_PROTO_ANY: u8 = 255;

/// `XFRM_MAX_DEPTH`: templates per policy.
const MAX_DEPTH: usize = 6;

/// `-f esn` (FreeBSD's `SADB_X_SAFLAGS_ESN`; af_key has no such flag):
/// only rsetkey sends it, and the XFRM kernel reports ESN SAs with it.
const SADB_X_SAFLAGS_ESN: u32 = crate::ir::sa_flags::FLAG_ESN;

/// sadb_sa flags Linux understands.
const SADB_SAFLAGS_NOPMTUDISC: u32 = 0x2000_0000;
const SADB_SAFLAGS_DECAP_DSCP: u32 = 0x4000_0000;
const SADB_SAFLAGS_NOECN: u32 = 0x8000_0000;

/// Highest ids af_key accepts in `sadb_sa` (SADB_AALG_MAX, SADB_EALG_MAX,
/// SADB_X_CALG_MAX).
const AALG_MAX: u8 = 251;
const EALG_MAX: u8 = 253;
const CALG_MAX: u8 = 4;

/// af_key's `pfkey_satype2proto`: 0 for an SA type it does not know.
pub fn satype_to_proto(satype: u8) -> u8 {
    match satype {
        0 => IPSEC_PROTO_ANY,
        2 => IPPROTO_AH,
        3 => IPPROTO_ESP,
        9 => IPPROTO_COMP,
        _ => 0,
    }
}

/// af_key's `pfkey_proto2satype`.
pub fn proto_to_satype(proto: u8) -> u8 {
    match proto {
        IPPROTO_AH => 2,
        IPPROTO_ESP => 3,
        IPPROTO_COMP => 9,
        _ => 0,
    }
}

/// Whether a state of `proto` is part of a dump or flush of `wanted`
/// (the kernel's `xfrm_id_proto_match` for IPSEC_PROTO_ANY).
pub fn proto_matches(proto: u8, wanted: u8) -> bool {
    proto == wanted
        || (wanted == IPSEC_PROTO_ANY && matches!(proto, IPPROTO_AH | IPPROTO_ESP | IPPROTO_COMP))
}

/// `pfkey_mode_to_xfrm`: any and transport → transport.
pub fn mode_to_xfrm(m: u8) -> Option<u8> {
    match m {
        ipsec::MODE_ANY | ipsec::MODE_TRANSPORT => Some(mode::TRANSPORT),
        ipsec::MODE_TUNNEL => Some(mode::TUNNEL),
        ipsec::MODE_BEET => Some(mode::BEET),
        _ => None,
    }
}

/// `pfkey_mode_from_xfrm`: modes PF_KEY cannot express give `None`.
pub fn mode_from_xfrm(m: u8) -> Option<u8> {
    match m {
        mode::TRANSPORT => Some(ipsec::MODE_TRANSPORT),
        mode::TUNNEL => Some(ipsec::MODE_TUNNEL),
        mode::BEET => Some(ipsec::MODE_BEET),
        _ => None,
    }
}

/// `_KEY2X`: 0 means "no limit".
fn key2x(v: u64) -> u64 {
    if v == 0 { XFRM_INF } else { v }
}

/// `_X2KEY`.
fn x2key(v: u64) -> u64 {
    if v == XFRM_INF { 0 } else { v }
}

fn full_prefix(family: u16) -> u8 {
    if family == AF_INET6 { 128 } else { 32 }
}

/// Both addresses present and of one family (`present_and_same_family`).
fn src_dst(msg: &Message) -> Result<(&AddressExt, &AddressExt), i32> {
    match (msg.address(AddressKind::Src), msg.address(AddressKind::Dst)) {
        (Some(s), Some(d)) => same_family(s, d).map(|()| (s, d)),
        _ => Err(libc::EINVAL),
    }
}

/// af_key refuses addresses of two families.
fn same_family(src: &AddressExt, dst: &AddressExt) -> Result<(), i32> {
    if src.addr.is_ipv4() == dst.addr.is_ipv4() {
        Ok(())
    } else {
        Err(libc::EINVAL)
    }
}

/// A sockaddr as af_key fills it from kernel state: flowinfo and scope 0.
fn sockaddr(ip: IpAddr, port: u16) -> SocketAddr {
    match ip {
        IpAddr::V4(_) => SocketAddr::new(ip, port),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, 0)),
    }
}

fn ip_of(a: XfrmAddress, family: u16) -> Result<IpAddr, i32> {
    a.to_ip(family).ok_or(libc::EINVAL)
}

/// The lifetime configuration of a request's HARD / SOFT extensions,
/// starting from "no limits".
fn lifetimes(msg: &Message) -> LifetimeCfg {
    let mut lft = LifetimeCfg::default();
    if let Some(h) = msg.lifetime(LifetimeKind::Hard) {
        lft.hard_packet_limit = key2x(u64::from(h.allocations));
        lft.hard_byte_limit = key2x(h.bytes);
        lft.hard_add_expires_seconds = h.addtime;
        lft.hard_use_expires_seconds = h.usetime;
    }
    if let Some(s) = msg.lifetime(LifetimeKind::Soft) {
        lft.soft_packet_limit = key2x(u64::from(s.allocations));
        lft.soft_byte_limit = key2x(s.bytes);
        lft.soft_add_expires_seconds = s.addtime;
        lft.soft_use_expires_seconds = s.usetime;
    }
    lft
}

/// A request's security context in XFRM form.
fn sec_ctx(msg: &Message) -> Option<UserSecCtx> {
    msg.sec_ctx().map(user_sec_ctx)
}

fn user_sec_ctx(c: &SecCtxExt) -> UserSecCtx {
    UserSecCtx {
        alg: c.alg,
        doi: c.doi,
        context: c.context.clone(),
    }
}

fn key_bytes(k: Option<&KeyExt>) -> (u32, Zeroizing<Vec<u8>>) {
    match k {
        Some(k) => {
            let n = usize::from(k.bits).div_ceil(8).min(k.key.len());
            (u32::from(k.bits), Zeroizing::new(k.key[..n].to_vec()))
        }
        None => (0, Zeroizing::new(Vec::new())),
    }
}

/// An algorithm attribute. Its value holds the key: written into a buffer
/// of its final size (no reallocation leaves a copy behind) that the
/// attribute wipes when dropped.
fn algo_attr(kind: u16, algo: &Algo, with_trunc: bool) -> Attr {
    let fixed = ALG_NAME_LEN + if with_trunc { 8 } else { 4 };
    let mut v = Vec::with_capacity(fixed + algo.key.len());
    algo.emit(with_trunc, &mut v);
    Attr::new(kind, v)
}

/// `XFRMA_REPLAY_ESN_VAL` for a new SA: no packets seen yet, and a bitmap
/// just large enough for the window (`bmp_len` counts 32-bit words).
fn replay_state(window: u32) -> Attr {
    let words = window.div_ceil(32);
    let mut v = Vec::with_capacity(24 + 4 * words as usize);
    let mut w = Writer::new(&mut v);
    // bmp_len, oseq, seq, oseq_hi, seq_hi, replay_window, then the bitmap
    for field in [words, 0, 0, 0, 0, window] {
        w.ne_u32(field);
    }
    for _ in 0..words {
        w.ne_u32(0);
    }
    Attr::new(attr::REPLAY_ESN_VAL, v)
}

/// An SA to create: the fixed part and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSa {
    /// `xfrm_usersa_info`
    pub info: UsersaInfo,
    /// algorithms, encapsulation, security context
    pub attrs: Vec<Attr>,
}

impl NewSa {
    /// The payload of an XFRM_MSG_NEWSA / UPDSA message.
    pub fn payload(&self) -> Vec<u8> {
        // Allocated at its final size: the attributes carry keys, and a
        // reallocation would leave a copy of them behind. The socket wipes
        // the payload once sent.
        let mut out = Vec::with_capacity(self.payload_len());
        self.emit_payload(&mut out);
        out
    }

    /// The length of [`NewSa::payload`].
    pub fn payload_len(&self) -> usize {
        UsersaInfo::LEN + self.attrs.iter().map(Attr::wire_len).sum::<usize>()
    }

    /// Appends [`NewSa::payload`] to `out` (which should have room for
    /// [`NewSa::payload_len`] more bytes: the keys must not be left behind
    /// by a reallocation).
    pub fn emit_payload(&self, out: &mut Vec<u8>) {
        self.info.emit(out);
        super::netlink::emit_attrs(&self.attrs, out);
    }
}

/// SADB_ADD / SADB_UPDATE → the SA `pfkey_msg2xfrm_state` would build.
pub fn sa_request(msg: &Message) -> Result<NewSa, i32> {
    let satype = msg.header.satype;
    let sa = msg.sa().ok_or(libc::EINVAL)?;
    let (src, dst) = src_dst(msg)?;
    let key_a = msg.key(KeyKind::Auth);
    let key_e = msg.key(KeyKind::Encrypt);
    if satype == 3 && key_e.is_none() {
        return Err(libc::EINVAL);
    }
    if satype == 2 && key_a.is_none() {
        return Err(libc::EINVAL);
    }
    if msg.lifetime(LifetimeKind::Hard).is_some() != msg.lifetime(LifetimeKind::Soft).is_some() {
        return Err(libc::EINVAL);
    }
    let proto = satype_to_proto(satype);
    if proto == 0 {
        return Err(libc::EINVAL);
    }
    if sa.auth > AALG_MAX || (satype == 9 && sa.encrypt > CALG_MAX) || sa.encrypt > EALG_MAX {
        return Err(libc::EINVAL);
    }
    if key_a.is_some_and(|k| k.bits == 0) && sa.auth != aalg::NULL {
        return Err(libc::EINVAL);
    }
    if key_e.is_some_and(|k| k.bits == 0) && sa.encrypt != ealg::NULL {
        return Err(libc::EINVAL);
    }

    let mut attrs = Vec::new();
    let ctx = sec_ctx(msg);
    if sa.auth != 0 {
        let a = algorithms::auth_by_id(sa.auth).ok_or(libc::ENOSYS)?;
        let (key_bits, key) = key_bytes(key_a);
        let algo = Algo {
            name: a.name.to_string(),
            key_bits,
            trunc_bits: a.icv_trunc_bits,
            key,
        };
        attrs.push(algo_attr(attr::ALG_AUTH_TRUNC, &algo, true));
    }
    if satype == 9 {
        if sa.encrypt != 0 {
            let a = algorithms::compress_by_id(sa.encrypt).ok_or(libc::ENOSYS)?;
            let algo = Algo {
                name: a.name.to_string(),
                ..Algo::default()
            };
            attrs.push(algo_attr(attr::ALG_COMP, &algo, false));
        }
    } else if let Some(aead) = algorithms::aead_by_id(sa.encrypt) {
        // rsetkey's own request (af_key has no AEAD): XFRMA_ALG_AEAD, the
        // key with its salt, and the ICV length the name implies.
        let (key_bits, key) = key_bytes(key_e);
        let algo = Algo {
            name: aead.name.to_string(),
            key_bits,
            trunc_bits: aead.icv_bits,
            key,
        };
        attrs.push(algo_attr(attr::ALG_AEAD, &algo, true));
    } else if sa.encrypt != 0 {
        let a = algorithms::encrypt_by_id(sa.encrypt).ok_or(libc::ENOSYS)?;
        let (key_bits, key) = key_bytes(key_e);
        let algo = Algo {
            name: a.name.to_string(),
            key_bits,
            trunc_bits: 0,
            key,
        };
        attrs.push(algo_attr(attr::ALG_CRYPT, &algo, false));
    }

    let family = family_of(src.addr.ip());
    let (mut xmode, mut reqid) = (mode::TRANSPORT, 0);
    if let Some(sa2) = msg.sa2() {
        xmode = mode_to_xfrm(sa2.mode).ok_or(libc::EINVAL)?;
        reqid = sa2.reqid;
    }
    let mut sel = Selector::default();
    if let Some(proxy) = msg.address(AddressKind::Proxy) {
        sel.family = family_of(proxy.addr.ip());
        sel.saddr = XfrmAddress::from_ip(proxy.addr.ip());
        sel.prefixlen_s = proxy.prefixlen;
    }
    if sel.family == 0 {
        sel.family = family;
    }
    if let Some(t) = msg.nat_t_type() {
        let encap = EncapTmpl {
            encap_type: u16::from(t),
            sport: msg.nat_t_port(NatTPortKind::Src).unwrap_or(0),
            dport: msg.nat_t_port(NatTPortKind::Dst).unwrap_or(0),
            oa: XfrmAddress::default(),
        };
        let mut v = Vec::new();
        encap.emit(&mut v);
        attrs.push(Attr::new(attr::ENCAP, v));
    }
    if let Some(c) = ctx {
        let mut v = Vec::new();
        c.emit(&mut v);
        attrs.push(Attr::new(attr::SEC_CTX, v));
    }
    // satype 0 passes af_key's checks as IPSEC_PROTO_ANY and then fails in
    // xfrm_init_state, which finds no transform for that protocol.
    if proto == IPSEC_PROTO_ANY {
        return Err(libc::EPROTONOSUPPORT);
    }
    let mut flags = 0;
    if sa.flags & SADB_SAFLAGS_NOECN != 0 {
        flags |= state_flag::NOECN;
    }
    if sa.flags & SADB_SAFLAGS_DECAP_DSCP != 0 {
        flags |= state_flag::DECAP_DSCP;
    }
    if sa.flags & SADB_SAFLAGS_NOPMTUDISC != 0 {
        flags |= state_flag::NOPMTUDISC;
    }
    // rsetkey's own requests: extended sequence numbers, and windows past
    // 8 bits. Both need the kernel's replay state with a bitmap
    // (XFRMA_REPLAY_ESN_VAL), whose window replaces the classic one.
    let esn = sa.flags & SADB_X_SAFLAGS_ESN != 0;
    let wide = msg.wide_replay();
    let mut replay_window = sa.replay.min(32);
    if esn || wide.is_some() {
        let window = wide.unwrap_or(u32::from(sa.replay));
        attrs.push(replay_state(window));
        replay_window = 0;
        if esn {
            flags |= state_flag::ESN;
        }
    }
    let info = UsersaInfo {
        sel,
        id: XfrmId {
            daddr: XfrmAddress::from_ip(dst.addr.ip()),
            spi: sa.spi,
            proto,
        },
        saddr: XfrmAddress::from_ip(src.addr.ip()),
        lft: lifetimes(msg),
        curlft: LifetimeCur::default(),
        stats: [0; 3],
        seq: msg.header.seq,
        reqid,
        family,
        mode: xmode,
        replay_window,
        flags,
    };
    Ok(NewSa { info, attrs })
}

/// SADB_GET / SADB_DELETE → the SA identity af_key looks up (`ESRCH` for SA
/// types it cannot look up, as its lookup then finds nothing).
pub fn sa_id(msg: &Message) -> Result<UsersaId, i32> {
    let sa = msg.sa().ok_or(libc::EINVAL)?;
    let (_, dst) = src_dst(msg)?;
    let proto = satype_to_proto(msg.header.satype);
    if !matches!(proto, IPPROTO_AH | IPPROTO_ESP | IPPROTO_COMP) {
        return Err(libc::ESRCH);
    }
    Ok(UsersaId {
        daddr: XfrmAddress::from_ip(dst.addr.ip()),
        spi: sa.spi,
        family: family_of(dst.addr.ip()),
        proto,
    })
}

/// SADB_GETSPI → XFRM_MSG_ALLOCSPI (`pfkey_getspi`).
pub fn spi_request(msg: &Message) -> Result<UserspiInfo, i32> {
    let (src, dst) = src_dst(msg)?;
    let proto = satype_to_proto(msg.header.satype);
    if proto == 0 {
        return Err(libc::EINVAL);
    }
    let (mut xmode, mut reqid) = (mode::TRANSPORT, 0);
    if let Some(sa2) = msg.sa2() {
        xmode = mode_to_xfrm(sa2.mode).ok_or(libc::EINVAL)?;
        reqid = sa2.reqid;
    }
    let (min, max) = msg.spi_range().unwrap_or((0x100, 0x0fff_ffff));
    // af_key verifies the range after finding the larval SA; xfrm_user
    // before. Both refuse the same ranges with EINVAL.
    let range_ok = match proto {
        IPPROTO_AH | IPPROTO_ESP => true,
        IPPROTO_COMP => max < 0x10000,
        _ => false,
    };
    if !range_ok || min > max {
        return Err(libc::EINVAL);
    }
    let family = family_of(src.addr.ip());
    let info = UsersaInfo {
        id: XfrmId {
            daddr: XfrmAddress::from_ip(dst.addr.ip()),
            spi: 0,
            proto,
        },
        saddr: XfrmAddress::from_ip(src.addr.ip()),
        seq: msg.header.seq,
        reqid,
        family,
        mode: xmode,
        ..UsersaInfo::default()
    };
    Ok(UserspiInfo { info, min, max })
}

/// A policy to create: fixed part, templates, security context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    /// `xfrm_userpolicy_info`
    pub info: UserpolicyInfo,
    /// the templates
    pub templates: SmallList<UserTmpl>,
    /// the security context
    pub ctx: Option<UserSecCtx>,
}

impl NewPolicy {
    /// The payload of an XFRM_MSG_NEWPOLICY / UPDPOLICY message.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload_len());
        self.emit_payload(&mut out);
        out
    }

    /// The length of [`NewPolicy::payload`].
    pub fn payload_len(&self) -> usize {
        let tmpl = match self.templates.len() {
            0 => 0,
            n => NLA_HDRLEN + UserTmpl::LEN * n,
        };
        let ctx = self
            .ctx
            .as_ref()
            .map_or(0, |c| NLA_HDRLEN + align4(8 + c.context.len()));
        UserpolicyInfo::LEN + tmpl + ctx
    }

    /// Appends [`NewPolicy::payload`] to `out`, the attributes written in
    /// place: building each attribute's value in a Vec of its own grew
    /// that Vec template by template and cost more than the rest of the
    /// translation.
    pub fn emit_payload(&self, out: &mut Vec<u8>) {
        self.info.emit(out);
        if !self.templates.is_empty() {
            attribute(out, attr::TMPL, |out| {
                for t in &self.templates {
                    t.emit(out);
                }
            });
        }
        if let Some(c) = &self.ctx {
            attribute(out, attr::SEC_CTX, |out| c.emit(out));
        }
    }

    /// The identity to look the policy up with afterwards.
    pub fn id(&self) -> PolicyKey {
        PolicyKey {
            id: UserpolicyId {
                sel: self.info.sel,
                index: 0,
                dir: self.info.dir,
            },
            ctx: self.ctx.clone(),
        }
    }
}

/// Appends a netlink attribute whose value `body` writes in place.
fn attribute(out: &mut Vec<u8>, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    Writer::new(&mut *out).ne_u16(0).ne_u16(kind);
    body(out);
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    Writer::new(out)
        .patch_ne_u16(start, len)
        .align_from(start, crate::codec::NETLINK_ALIGN);
}

/// A policy's identity: selector + direction (+ context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyKey {
    /// selector, index 0, direction
    pub id: UserpolicyId,
    /// security context
    pub ctx: Option<UserSecCtx>,
}

impl PolicyKey {
    /// The payload of XFRM_MSG_GETPOLICY / DELPOLICY.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload_len());
        self.emit_payload(&mut out);
        out
    }

    /// The length of [`PolicyKey::payload`].
    pub fn payload_len(&self) -> usize {
        let ctx = self
            .ctx
            .as_ref()
            .map_or(0, |c| NLA_HDRLEN + align4(8 + c.context.len()));
        UserpolicyId::LEN + ctx
    }

    /// Appends [`PolicyKey::payload`] to `out`.
    pub fn emit_payload(&self, out: &mut Vec<u8>) {
        self.id.emit(out);
        if let Some(c) = &self.ctx {
            attribute(out, attr::SEC_CTX, |out| c.emit(out));
        }
    }
}

/// The selector af_key builds from a policy message's addresses.
fn policy_selector(src: &AddressExt, dst: &AddressExt) -> Selector {
    let proto = |p: u8| if p == ipsec::PROTO_ANY { 0 } else { p };
    let sport = src.addr.port();
    let dport = dst.addr.port();
    Selector {
        daddr: XfrmAddress::from_ip(dst.addr.ip()),
        saddr: XfrmAddress::from_ip(src.addr.ip()),
        dport,
        dport_mask: if dport != 0 { 0xffff } else { 0 },
        sport,
        sport_mask: if sport != 0 { 0xffff } else { 0 },
        family: family_of(src.addr.ip()),
        prefixlen_d: dst.prefixlen,
        prefixlen_s: src.prefixlen,
        // af_key sets it from the source, then again from the destination
        proto: proto(dst.proto),
        ifindex: 0,
        user: 0,
    }
}

/// Whether `proto` may be a template's protocol (`xfrm_id_proto_valid`).
fn template_proto_valid(proto: u16) -> bool {
    // ESP, AH, IPComp, and the IPv6 routing / destination options headers
    matches!(proto, 50 | 51 | 108 | 43 | 60)
}

/// SADB_X_SPDADD / SPDUPDATE → the policy `pfkey_spdadd` would build.
/// `gen_reqid` supplies a reqid for `unique` requests without one (af_key's
/// `gen_reqid`).
pub fn policy_request(
    msg: &Message,
    gen_reqid: &mut dyn FnMut() -> Result<u32, i32>,
) -> Result<NewPolicy, i32> {
    let (src, dst) = src_dst(msg)?;
    let pol = msg.policy().ok_or(libc::EINVAL)?;
    let fields = PolicyFields {
        src,
        dst,
        policy_type: pol.policy_type,
        dir: pol.dir,
        priority: pol.priority,
        requests: pol.requests.iter().copied(),
        lifetimes: lifetimes(msg),
        ctx: sec_ctx(msg),
    };
    fields.new_policy(gen_reqid)
}

/// [`policy_request`] of the message [`request::policy`] builds for `p`,
/// without building it: the same conversions give the same fields (an
/// apply of many policies skips a message, its lists and a look-up of
/// each extension per policy).
pub fn policy_request_of(
    p: &PolicyRequest,
    gen_reqid: &mut dyn FnMut() -> Result<u32, i32>,
) -> Result<NewPolicy, i32> {
    let [src, dst] = request::selector_addresses(p);
    same_family(&src, &dst)?;
    let (policy_type, dir) = request::policy_kind(&p.policy);
    let fields = PolicyFields {
        src: &src,
        dst: &dst,
        policy_type,
        dir,
        priority: p.policy.priority,
        requests: p.policy.requests.iter().map(request::request_extension),
        // A policy message has no lifetime extensions.
        lifetimes: LifetimeCfg::default(),
        ctx: request::context_extension(&p.context).map(|c| user_sec_ctx(&c)),
    };
    fields.new_policy(gen_reqid)
}

/// The length of the payload [`emit_policy_of`] writes for `p` when it
/// succeeds, and at least what it writes before a refusal.
pub fn policy_payload_len_of(p: &PolicyRequest) -> usize {
    let (policy_type, _) = request::policy_kind(&p.policy);
    let templates = match p.policy.requests.len().min(MAX_DEPTH) {
        n @ 1.. if policy_type == ipsec::POLICY_IPSEC => NLA_HDRLEN + UserTmpl::LEN * n,
        _ => 0,
    };
    // The context as `request::context_extension` gives it: with its
    // terminating NUL.
    let ctx = p
        .context
        .as_ref()
        .filter(|c| c.doi != 0)
        .map_or(0, |c| NLA_HDRLEN + align4(8 + c.context.len() + 1));
    UserpolicyInfo::LEN + templates + ctx
}

/// Appends the XFRM_MSG_NEWPOLICY / UPDPOLICY payload of `p` to `out`,
/// written straight from the IR: the bytes of
/// [`NewPolicy::emit_payload`] of [`policy_request_of`], and its errno
/// for a policy af_key refuses, with nothing appended then.
///
/// An apply of many policies frames each one this way: no `NewPolicy`
/// (a structure of a few hundred bytes and its templates) is built and
/// copied around on the way to the wire, each fixed-size structure is
/// written with one copy.
pub fn emit_policy_of(
    p: &PolicyRequest,
    gen_reqid: &mut dyn FnMut() -> Result<u32, i32>,
    out: &mut Vec<u8>,
) -> Result<(), i32> {
    let start = out.len();
    let written = write_policy_of(p, gen_reqid, out);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// [`emit_policy_of`], leaving what it wrote before a refusal. The checks
/// are those of [`PolicyFields::new_policy`], in its order.
fn write_policy_of(
    p: &PolicyRequest,
    gen_reqid: &mut dyn FnMut() -> Result<u32, i32>,
    out: &mut Vec<u8>,
) -> Result<(), i32> {
    let [src, dst] = request::selector_addresses(p);
    same_family(&src, &dst)?;
    let (policy_type, dir) = request::policy_kind(&p.policy);
    if policy_type > ipsec::POLICY_IPSEC || dir == 0 || dir >= 4 {
        return Err(libc::EINVAL);
    }
    let sel = policy_selector(&src, &dst);
    let info = UserpolicyInfo {
        sel,
        // A policy message has no lifetime extensions.
        lft: LifetimeCfg::default(),
        curlft: LifetimeCur::default(),
        priority: p.policy.priority,
        index: 0,
        dir: dir - 1,
        action: if policy_type == ipsec::POLICY_DISCARD {
            POLICY_BLOCK
        } else {
            POLICY_ALLOW
        },
        flags: 0,
        share: 0,
    };
    out.extend_from_slice(&info.image());
    let requests = &p.policy.requests;
    if policy_type == ipsec::POLICY_IPSEC && !requests.is_empty() {
        // The attribute's length counts every template: one that cannot
        // be written refuses the whole policy.
        let len = u16::try_from(NLA_HDRLEN + UserTmpl::LEN * requests.len()).unwrap_or(u16::MAX);
        let mut header = [0u8; NLA_HDRLEN];
        header[..2].copy_from_slice(&len.to_ne_bytes());
        header[2..].copy_from_slice(&attr::TMPL.to_ne_bytes());
        out.extend_from_slice(&header);
        for (i, rq) in requests.iter().enumerate() {
            let rq = request::request_extension(rq);
            out.extend_from_slice(&template(&rq, dir, sel.family, gen_reqid, i)?.image());
        }
    }
    // Most policies have no context: no call to find out.
    if let Some(c) = p
        .context
        .as_ref()
        .and_then(|_| request::context_extension(&p.context))
    {
        let c = UserSecCtx {
            alg: c.alg,
            doi: c.doi,
            context: c.context,
        };
        attribute(out, attr::SEC_CTX, |out| c.emit(out));
    }
    Ok(())
}

/// What `pfkey_spdadd` reads of a request: its addresses (of one family),
/// the X_POLICY extension and its requests, lifetimes and context.
struct PolicyFields<'a, R> {
    src: &'a AddressExt,
    dst: &'a AddressExt,
    policy_type: u16,
    dir: u8,
    priority: u32,
    requests: R,
    lifetimes: LifetimeCfg,
    ctx: Option<UserSecCtx>,
}

impl<R: ExactSizeIterator<Item = IpsecRequestExt>> PolicyFields<'_, R> {
    /// The policy `pfkey_spdadd` builds, or its errno.
    fn new_policy(self, gen_reqid: &mut dyn FnMut() -> Result<u32, i32>) -> Result<NewPolicy, i32> {
        if self.policy_type > ipsec::POLICY_IPSEC {
            return Err(libc::EINVAL);
        }
        if self.dir == 0 || self.dir >= 4 {
            return Err(libc::EINVAL);
        }
        let sel = policy_selector(self.src, self.dst);
        let mut templates = SmallList::with_capacity(self.requests.len());
        if self.policy_type == ipsec::POLICY_IPSEC {
            for rq in self.requests {
                templates.push(template(
                    &rq,
                    self.dir,
                    sel.family,
                    gen_reqid,
                    templates.len(),
                )?);
            }
        }
        let info = UserpolicyInfo {
            sel,
            lft: self.lifetimes,
            curlft: LifetimeCur::default(),
            priority: self.priority,
            index: 0,
            dir: self.dir - 1,
            action: if self.policy_type == ipsec::POLICY_DISCARD {
                POLICY_BLOCK
            } else {
                POLICY_ALLOW
            },
            flags: 0,
            share: 0,
        };
        Ok(NewPolicy {
            info,
            templates,
            ctx: self.ctx,
        })
    }
}

/// One `sadb_x_ipsecrequest` → template (`parse_ipsecrequest`).
fn template(
    rq: &IpsecRequestExt,
    dir: u8,
    family: u16,
    gen_reqid: &mut dyn FnMut() -> Result<u32, i32>,
    already: usize,
) -> Result<UserTmpl, i32> {
    if already >= MAX_DEPTH {
        return Err(libc::ELOOP);
    }
    if rq.mode == 0 || !template_proto_valid(rq.proto) {
        return Err(libc::EINVAL);
    }
    let m = mode_to_xfrm(rq.mode).ok_or(libc::EINVAL)?;
    let mut t = UserTmpl {
        id: XfrmId {
            proto: rq.proto as u8,
            ..XfrmId::default()
        },
        mode: m,
        // allalgs: PF_KEY cannot restrict algorithms
        aalgos: u32::MAX,
        ealgos: u32::MAX,
        calgos: u32::MAX,
        ..UserTmpl::default()
    };
    if rq.level == ipsec::LEVEL_USE {
        if matches!(m, mode::TUNNEL | mode::BEET) && dir == ipsec::DIR_OUTBOUND {
            return Err(libc::EINVAL);
        }
        t.optional = 1;
    } else if rq.level == ipsec::LEVEL_UNIQUE {
        t.reqid = rq.reqid;
        if t.reqid > ipsec::MANUAL_REQID_MAX {
            t.reqid = 0;
        }
        if t.reqid == 0 {
            t.reqid = gen_reqid()?;
        }
    }
    if m == mode::TUNNEL {
        let (s, d) = rq.endpoints.ok_or(libc::EINVAL)?;
        t.saddr = XfrmAddress::from_ip(s.ip());
        t.id.daddr = XfrmAddress::from_ip(d.ip());
        t.family = family_of(s.ip());
    } else {
        t.family = family;
    }
    Ok(t)
}

/// SADB_X_SPDDELETE → the identity `pfkey_spddelete` looks up.
pub fn policy_key(msg: &Message) -> Result<PolicyKey, i32> {
    let (src, dst) = src_dst(msg)?;
    let pol = msg.policy().ok_or(libc::EINVAL)?;
    key_of(src, dst, pol.dir, sec_ctx(msg))
}

/// [`policy_key`] of the message [`request::policy`] builds for `p`,
/// without building it.
pub fn policy_key_of(p: &PolicyRequest) -> Result<PolicyKey, i32> {
    let [src, dst] = request::selector_addresses(p);
    same_family(&src, &dst)?;
    let (_, dir) = request::policy_kind(&p.policy);
    let ctx = request::context_extension(&p.context).map(|c| user_sec_ctx(&c));
    key_of(&src, &dst, dir, ctx)
}

/// The identity `pfkey_spddelete` looks up.
fn key_of(
    src: &AddressExt,
    dst: &AddressExt,
    dir: u8,
    ctx: Option<UserSecCtx>,
) -> Result<PolicyKey, i32> {
    if dir == 0 || dir >= 4 {
        return Err(libc::EINVAL);
    }
    Ok(PolicyKey {
        id: UserpolicyId {
            sel: policy_selector(src, dst),
            index: 0,
            dir: dir - 1,
        },
        ctx,
    })
}

fn lifetime_ext(
    kind: LifetimeKind,
    allocations: u64,
    bytes: u64,
    add: u64,
    usetime: u64,
) -> Extension {
    Extension::Lifetime(
        kind,
        LifetimeExt {
            // sadb_lifetime_allocations is 32 bits: af_key truncates
            allocations: allocations as u32,
            bytes,
            addtime: add,
            usetime,
        },
    )
}

fn cfg_lifetimes(lft: &LifetimeCfg, cur: &LifetimeCur) -> [Extension; 3] {
    [
        lifetime_ext(
            LifetimeKind::Hard,
            x2key(lft.hard_packet_limit),
            x2key(lft.hard_byte_limit),
            lft.hard_add_expires_seconds,
            lft.hard_use_expires_seconds,
        ),
        lifetime_ext(
            LifetimeKind::Soft,
            x2key(lft.soft_packet_limit),
            x2key(lft.soft_byte_limit),
            lft.soft_add_expires_seconds,
            lft.soft_use_expires_seconds,
        ),
        lifetime_ext(
            LifetimeKind::Current,
            cur.packets,
            cur.bytes,
            cur.add_time,
            cur.use_time,
        ),
    ]
}

fn ctx_ext(attrs: &[Attr]) -> Result<Option<Extension>, i32> {
    match find(attrs, attr::SEC_CTX) {
        None => Ok(None),
        Some(v) => {
            let c = UserSecCtx::parse(v).map_err(|_| libc::EINVAL)?;
            Ok(Some(Extension::SecCtx(SecCtxExt {
                alg: c.alg,
                doi: c.doi,
                context: c.context,
            })))
        }
    }
}

/// Whether an SA has passed a soft limit (af_key reports such SAs as
/// DYING; XFRM does not say, so it is recomputed from the lifetimes).
fn soft_expired(lft: &LifetimeCfg, cur: &LifetimeCur, now: u64) -> bool {
    let after = |base: u64, secs: u64| secs != 0 && base != 0 && now >= base.saturating_add(secs);
    cur.bytes >= lft.soft_byte_limit
        || cur.packets >= lft.soft_packet_limit
        || after(cur.add_time, lft.soft_add_expires_seconds)
        || after(cur.use_time, lft.soft_use_expires_seconds)
}

/// A kernel SA (XFRM_MSG_NEWSA body) → what `__pfkey_xfrm_state2msg`
/// sends with keys and both lifetimes: `(satype, extensions)`. `EINVAL` for
/// an SA PF_KEY cannot express (a mode other than transport/tunnel/BEET).
pub fn state_to_pfkey(
    info: &UsersaInfo,
    attrs: &[Attr],
    now: u64,
) -> Result<(u8, Vec<Extension>), i32> {
    let bad = |_| libc::EINVAL;
    let auth = match find(attrs, attr::ALG_AUTH_TRUNC) {
        Some(v) => Some(Algo::parse(v, true).map_err(bad)?),
        None => find(attrs, attr::ALG_AUTH)
            .map(|v| Algo::parse(v, false))
            .transpose()
            .map_err(bad)?,
    };
    let crypt = find(attrs, attr::ALG_CRYPT)
        .map(|v| Algo::parse(v, false))
        .transpose()
        .map_err(bad)?;
    let comp = find(attrs, attr::ALG_COMP)
        .map(|v| Algo::parse(v, false))
        .transpose()
        .map_err(bad)?;
    let aead = find(attrs, attr::ALG_AEAD)
        .map(|v| Algo::parse(v, true))
        .transpose()
        .map_err(bad)?;
    let family = info.family;

    let state = if auth.is_none() && crypt.is_none() && comp.is_none() && aead.is_none() {
        sa_state::LARVAL
    } else if soft_expired(&info.lft, &info.curlft, now) {
        sa_state::DYING
    } else {
        sa_state::MATURE
    };
    let mut replay = info.replay_window;
    // A window past 8 bits travels in rsetkey's own extension.
    let mut wide_replay = None;
    if let Some(w) = find(attrs, attr::REPLAY_ESN_VAL).and_then(esn_replay_window) {
        if info.flags & state_flag::ESN != 0 || w > u32::from(replay) {
            replay = u8::try_from(w).unwrap_or(u8::MAX);
        }
        if w > u32::from(u8::MAX) {
            wide_replay = Some(w);
        }
    }
    let mut encrypt = crypt
        .as_ref()
        .map_or(0, |a| algorithms::encrypt_id(&a.name));
    // af_key reports an AEAD SA with algorithm 0 and no key; rsetkey names
    // the ciphers it knows, with their keys, so that `-D` shows them.
    let aead_key = aead.as_ref().and_then(|a| {
        let id = algorithms::aead_id(&a.name, a.trunc_bits)?;
        encrypt = id;
        Some(a)
    });
    if let Some(c) = &comp {
        encrypt = algorithms::compress_id(&c.name);
    }
    let mut flags = 0;
    if info.flags & state_flag::NOECN != 0 {
        flags |= SADB_SAFLAGS_NOECN;
    }
    if info.flags & state_flag::DECAP_DSCP != 0 {
        flags |= SADB_SAFLAGS_DECAP_DSCP;
    }
    if info.flags & state_flag::NOPMTUDISC != 0 {
        flags |= SADB_SAFLAGS_NOPMTUDISC;
    }
    if info.flags & state_flag::ESN != 0 {
        flags |= SADB_X_SAFLAGS_ESN;
    }
    let mut ext = vec![Extension::Sa(SaExt {
        spi: info.id.spi,
        replay,
        state,
        auth: auth.as_ref().map_or(0, |a| algorithms::auth_id(&a.name)),
        encrypt,
        flags,
    })];
    ext.extend(wide_replay.map(Extension::wide_replay));
    ext.extend(cfg_lifetimes(&info.lft, &info.curlft));
    let prefix = full_prefix(family);
    for (kind, a) in [
        (AddressKind::Src, info.saddr),
        (AddressKind::Dst, info.id.daddr),
    ] {
        ext.push(Extension::Address(
            kind,
            AddressExt {
                proto: 0,
                prefixlen: prefix,
                addr: sockaddr(ip_of(a, family)?, 0),
            },
        ));
    }
    if !info.sel.saddr.equal_in(&info.saddr, family) {
        ext.push(Extension::Address(
            AddressKind::Proxy,
            AddressExt {
                proto: if info.sel.proto == 0 {
                    ipsec::PROTO_ANY
                } else {
                    info.sel.proto
                },
                prefixlen: info.sel.prefixlen_s,
                addr: sockaddr(ip_of(info.sel.saddr, family)?, info.sel.sport),
            },
        ));
    }
    let crypt = crypt.as_ref().or(aead_key);
    for (kind, a) in [(KeyKind::Auth, auth.as_ref()), (KeyKind::Encrypt, crypt)] {
        if let Some(a) = a
            && a.key_bits.div_ceil(8) > 0
        {
            ext.push(Extension::Key(
                kind,
                KeyExt {
                    bits: a.key_bits as u16,
                    key: a.key.clone(),
                },
            ));
        }
    }
    ext.push(Extension::Sa2(Sa2Ext {
        mode: mode_from_xfrm(info.mode).ok_or(libc::EINVAL)?,
        sequence: 0,
        reqid: info.reqid,
    }));
    if let Some(v) = find(attrs, attr::ENCAP) {
        let e = EncapTmpl::parse(v).map_err(bad)?;
        if e.encap_type != 0 {
            ext.push(Extension::NatTType(e.encap_type as u8));
            ext.push(Extension::NatTPort(NatTPortKind::Src, e.sport));
            ext.push(Extension::NatTPort(NatTPortKind::Dst, e.dport));
        }
    }
    ext.extend(ctx_ext(attrs)?);
    Ok((proto_to_satype(info.id.proto), ext))
}

/// A kernel policy (XFRM_MSG_NEWPOLICY body) → the extensions of
/// `pfkey_xfrm_policy2msg`. `EINVAL` for a template mode PF_KEY cannot
/// express.
pub fn policy_to_pfkey(info: &UserpolicyInfo, attrs: &[Attr]) -> Result<Vec<Extension>, i32> {
    let sel = &info.sel;
    let family = sel.family;
    let proto = if sel.proto == 0 {
        ipsec::PROTO_ANY
    } else {
        sel.proto
    };
    let mut ext = vec![
        Extension::Address(
            AddressKind::Src,
            AddressExt {
                proto,
                prefixlen: sel.prefixlen_s,
                addr: sockaddr(ip_of(sel.saddr, family)?, sel.sport),
            },
        ),
        Extension::Address(
            AddressKind::Dst,
            AddressExt {
                proto,
                prefixlen: sel.prefixlen_d,
                addr: sockaddr(ip_of(sel.daddr, family)?, sel.dport),
            },
        ),
    ];
    ext.extend(cfg_lifetimes(&info.lft, &info.curlft));
    let templates = match find(attrs, attr::TMPL) {
        Some(v) => UserTmpl::parse_array(v).map_err(|_| libc::EINVAL)?,
        None => Vec::new(),
    };
    let policy_type = match info.action {
        POLICY_ALLOW if templates.is_empty() => ipsec::POLICY_NONE,
        POLICY_ALLOW => ipsec::POLICY_IPSEC,
        _ => ipsec::POLICY_DISCARD,
    };
    let mut requests = Vec::with_capacity(templates.len());
    for t in &templates {
        let m = mode_from_xfrm(t.mode).ok_or(libc::EINVAL)?;
        let level = if t.optional != 0 {
            ipsec::LEVEL_USE
        } else if t.reqid != 0 {
            ipsec::LEVEL_UNIQUE
        } else {
            ipsec::LEVEL_REQUIRE
        };
        let endpoints = if t.mode == mode::TUNNEL {
            Some((
                sockaddr(ip_of(t.saddr, t.family)?, 0),
                sockaddr(ip_of(t.id.daddr, t.family)?, 0),
            ))
        } else {
            None
        };
        requests.push(IpsecRequestExt {
            proto: u16::from(t.id.proto),
            mode: m,
            level,
            reqid: t.reqid,
            endpoints,
        });
    }
    ext.push(Extension::Policy(PolicyExt {
        policy_type,
        dir: info.dir.wrapping_add(1),
        id: info.index,
        priority: info.priority,
        requests,
    }));
    ext.extend(ctx_ext(attrs)?);
    Ok(ext)
}

/// The templates' reqids of a kernel policy (for generating unique ones).
pub fn template_reqids(attrs: &[Attr]) -> Vec<u32> {
    find(attrs, attr::TMPL)
        .and_then(|v| UserTmpl::parse_array(v).ok())
        .map(|ts| ts.iter().map(|t| t.reqid).collect())
        .unwrap_or_default()
}

/// `sadb_msg_reserved` of a policy message: the kernel puts the policy's
/// reference count there, which XFRM does not report. Derived as af_key
/// would see it: the policy list holds one reference; the policy timer holds
/// another while armed — for about a second after insertion, and for as long
/// as any expiry time is configured; the request being answered holds one
/// more for ADD/UPDATE notifications.
pub fn policy_refcnt(info: &UserpolicyInfo, now: u64) -> u16 {
    let lft = &info.lft;
    let timer = now.saturating_sub(info.curlft.add_time) < 1
        || lft.hard_add_expires_seconds != 0
        || lft.soft_add_expires_seconds != 0
        || lft.hard_use_expires_seconds != 0
        || lft.soft_use_expires_seconds != 0;
    if timer { 2 } else { 1 }
}

#[cfg(test)]
mod tagged_tests {
    use super::*;
    use crate::ir::{Direction, Operation, Policy, PolicyAction, TaggedPolicy};
    use crate::pfkey::request;
    use crate::pfkey::wire::Header;

    /// `spdadd tagged` carries the policy alone; af_key's `pfkey_spdadd`
    /// finds no addresses and answers EINVAL, and so does the XFRM backend.
    #[test]
    fn a_tagged_policy_is_refused_like_af_key_refuses_it() {
        let tagged = TaggedPolicy {
            tag: "web".into(),
            policy: Policy {
                direction: Direction::Out,
                action: PolicyAction::Discard,
                priority: 0,
                requests: Default::default(),
            },
        };
        for op in [
            Operation::SpdAddTagged(tagged.clone()),
            Operation::SpdUpdateTagged(tagged),
        ] {
            let msg = request::for_operation(Header::default(), &op).expect("a message");
            let refused = policy_request(&msg, &mut || Ok(1)).map(|_| ());
            assert_eq!(refused, Err(libc::EINVAL));
        }
    }
}

#[cfg(test)]
mod aead_tests {
    use super::*;
    use crate::ir::Operation;
    use crate::parse::{FileNames, Options, parse_script_with};
    use crate::pfkey::request;
    use crate::pfkey::wire::Header;

    /// The request rsetkey builds for one `add` in its own dialect.
    fn request_for(options: &str) -> Message {
        let opts = Options {
            extensions: true,
            ..Options::default()
        };
        let text = format!("add 10.0.0.1 10.0.0.2 esp 0x100 {options};");
        let statements = parse_script_with(&text, &opts, &FileNames::default()).expect("parses");
        let op: &Operation = &statements[0].operations[0];
        request::for_operation(Header::default(), op).expect("a message")
    }

    /// What the kernel would report for the SA built from `request`
    /// (its replay state as sent: no packets yet).
    fn read_back(sa: &NewSa) -> (u8, Vec<Extension>) {
        state_to_pfkey(&sa.info, &sa.attrs, 0).expect("reads back")
    }

    fn sa_ext(ext: &[Extension]) -> SaExt {
        ext.iter()
            .find_map(|e| match e {
                Extension::Sa(sa) => Some(*sa),
                _ => None,
            })
            .expect("an SA extension")
    }

    #[test]
    fn aead_ciphers_become_xfrma_alg_aead_and_come_back_by_name() {
        let key = |n: usize| format!("0x{}", "5a".repeat(n));
        for (spelling, bytes, name, icv) in [
            ("aes-gcm-8", 20, "rfc4106(gcm(aes))", 64),
            ("aes-gcm-12", 28, "rfc4106(gcm(aes))", 96),
            ("aes-gcm-16", 36, "rfc4106(gcm(aes))", 128),
            (
                "chacha20-poly1305",
                36,
                "rfc7539esp(chacha20,poly1305)",
                128,
            ),
            ("aes-gmac", 20, "rfc4543(gcm(aes))", 128),
        ] {
            let m = request_for(&format!("-E {spelling} {}", key(bytes)));
            let sa = sa_request(&m).expect(spelling);
            assert!(find(&sa.attrs, attr::ALG_CRYPT).is_none(), "{spelling}");
            let aead = Algo::parse(find(&sa.attrs, attr::ALG_AEAD).expect(spelling), true)
                .expect(spelling);
            assert_eq!(
                (aead.name.as_str(), aead.trunc_bits, aead.key_bits),
                (name, icv, bytes as u32 * 8),
                "{spelling}"
            );
            assert_eq!(aead.key.as_slice(), vec![0x5a; bytes].as_slice());
            let (satype, ext) = read_back(&sa);
            assert_eq!(satype, 3);
            let back = sa_ext(&ext);
            assert_eq!(
                crate::algorithms::dump_name(crate::algorithms::Kind::Encryption, back.encrypt),
                Some(spelling)
            );
            assert_eq!(back.state, sa_state::MATURE);
            let k = ext
                .iter()
                .find_map(|e| match e {
                    Extension::Key(KeyKind::Encrypt, k) => Some(k),
                    _ => None,
                })
                .expect("the key comes back");
            assert_eq!(usize::from(k.bits), bytes * 8);
        }
    }

    #[test]
    fn esn_and_wide_windows_use_the_bitmap_replay_state() {
        let cbc = "-E aes-cbc 0x00112233445566778899aabbccddeeff";
        // classic: the window PF_KEY would give, no ESN state
        let sa = sa_request(&request_for(&format!("-r 64 {cbc}"))).expect("classic");
        assert_eq!(
            (sa.info.replay_window, sa.info.flags & state_flag::ESN),
            (32, 0)
        );
        assert!(find(&sa.attrs, attr::REPLAY_ESN_VAL).is_none());
        let back = read_back(&sa).1;
        assert_eq!(sa_ext(&back).flags, 0);
        // -f esn: the flag, and the whole window in the bitmap state
        let sa = sa_request(&request_for(&format!("-f esn -r 64 {cbc}"))).expect("esn");
        assert_eq!(
            (sa.info.replay_window, sa.info.flags & state_flag::ESN),
            (0, state_flag::ESN)
        );
        let esn = find(&sa.attrs, attr::REPLAY_ESN_VAL).expect("replay state");
        assert_eq!(esn_replay_window(esn), Some(64));
        assert_eq!(esn.len(), 24 + 2 * 4, "two 32-bit words of bitmap");
        let back = read_back(&sa).1;
        let s = sa_ext(&back);
        assert_eq!((s.replay, s.flags), (64, SADB_X_SAFLAGS_ESN));
        // -r 1024: past 8 bits, without ESN; back in rsetkey's extension
        let m = request_for(&format!("-r 1024 {cbc}"));
        assert_eq!(m.wide_replay(), Some(1024));
        let sa = sa_request(&m).expect("wide");
        assert_eq!(
            (sa.info.replay_window, sa.info.flags & state_flag::ESN),
            (0, 0)
        );
        let esn = find(&sa.attrs, attr::REPLAY_ESN_VAL).expect("replay state");
        assert_eq!(esn_replay_window(esn), Some(1024));
        assert_eq!(esn.len(), 24 + 32 * 4);
        let mut back = Message::new(Header::default());
        back.extensions = read_back(&sa).1;
        assert_eq!(back.wide_replay(), Some(1024));
        assert_eq!(sa_ext(&back.extensions).replay, u8::MAX);
    }

    #[test]
    fn the_script_dump_rebuilds_aead_esn_and_wide_windows() {
        // What `-D --as-script` prints for such an SA read back through
        // XFRM must load again as the same SA.
        let key = "0x6161616161616161616161616161616161616161";
        let sa =
            sa_request(&request_for(&format!("-f esn -r 1024 -E aes-gcm-16 {key}"))).expect("aead");
        let (satype, extensions) = read_back(&sa);
        let mut msg = Message::new(Header {
            msg_type: crate::pfkey::wire::MessageType::Dump as u8,
            satype,
            ..Header::default()
        });
        msg.extensions = extensions;
        let mut writer = crate::dump::script::ScriptWriter::new(Default::default());
        writer.reply(&msg);
        let mut out = Vec::new();
        writer.finish(&mut out).expect("writes");
        let text = String::from_utf8(out).expect("text");
        assert!(text.contains(" -r 1024 -f esn "), "{text}");
        assert!(text.contains(&format!("-E aes-gcm-16 {key}")), "{text}");
        assert!(!text.contains('#'), "nothing left unsaid: {text}");
    }
}
