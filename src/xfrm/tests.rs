//! Unit tests of the XFRM backend: wire round trips, and the conversions
//! checked against the corpus (the kernel's recorded PF_KEY answers to
//! setkey's recorded requests).

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::algorithms;
use super::kernel::error_reply;
use super::netlink::{
    Attr, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI, NlError, NlHeader, NlMessage, find,
};
use super::translate::{self, NewPolicy};
use super::wire::*;
use crate::pfkey::wire::{
    Extension, Header, LifetimeKind, Message, MessageType, SupportedKind, messages,
};

fn addr(s: &str) -> XfrmAddress {
    XfrmAddress::from_ip(s.parse::<IpAddr>().expect("test address"))
}

fn selector() -> Selector {
    Selector {
        daddr: addr("10.0.1.0"),
        saddr: addr("2001:db8::1"),
        dport: 80,
        dport_mask: 0xffff,
        sport: 0x1234,
        sport_mask: 0xffff,
        family: AF_INET,
        prefixlen_d: 24,
        prefixlen_s: 128,
        proto: 6,
        ifindex: -3,
        user: 77,
    }
}

fn usersa() -> UsersaInfo {
    UsersaInfo {
        sel: selector(),
        id: XfrmId {
            daddr: addr("10.0.0.2"),
            spi: 0x1000,
            proto: 50,
        },
        saddr: addr("10.0.0.1"),
        lft: LifetimeCfg {
            hard_add_expires_seconds: 9,
            ..LifetimeCfg::default()
        },
        curlft: LifetimeCur {
            bytes: 1,
            packets: 2,
            add_time: 3,
            use_time: 4,
        },
        stats: [5, 6, 7],
        seq: 8,
        reqid: 9,
        family: AF_INET,
        mode: mode::TUNNEL,
        replay_window: 32,
        flags: 1,
    }
}

/// Emits `value`, checks the kernel's size for `Type`, parses it back to
/// the same value; evaluates to the bytes (for checks of the layout).
macro_rules! round_trip {
    ($value:expr, $ty:ident) => {{
        let mut b = Vec::new();
        $value.emit(&mut b);
        assert_eq!(b.len(), $ty::LEN, stringify!($ty));
        assert_eq!($ty::parse(&b), Ok($value), stringify!($ty));
        b
    }};
}

#[test]
fn structures_have_their_kernel_sizes_and_round_trip() {
    let b = round_trip!(selector(), Selector);
    // ports are network order on the wire
    assert_eq!(&b[32..34], &[0, 80]);

    let sa = usersa();
    let b = round_trip!(sa, UsersaInfo);
    assert_eq!(&b[72..76], &0x1000u32.to_be_bytes(), "SPI in network order");
    assert!(UsersaInfo::parse(&b[..223]).is_err());

    let spi = UserspiInfo {
        info: sa,
        min: 0x100,
        max: 0x200,
    };
    round_trip!(spi, UserspiInfo);

    let id = UsersaId {
        daddr: addr("fe80::1"),
        spi: 0xdead_beef,
        family: AF_INET6,
        proto: 51,
    };
    round_trip!(id, UsersaId);

    let pol = UserpolicyInfo {
        sel: selector(),
        lft: LifetimeCfg::default(),
        curlft: LifetimeCur::default(),
        priority: 0x8000_0000,
        index: 9,
        dir: 1,
        action: POLICY_BLOCK,
        flags: 2,
        share: 3,
    };
    round_trip!(pol, UserpolicyInfo);

    let pid = UserpolicyId {
        sel: selector(),
        index: 17,
        dir: 2,
    };
    round_trip!(pid, UserpolicyId);

    let t = UserTmpl {
        id: XfrmId {
            daddr: addr("10.0.0.2"),
            spi: 0,
            proto: 50,
        },
        family: AF_INET,
        saddr: addr("10.0.0.1"),
        reqid: 16384,
        mode: mode::TUNNEL,
        share: 1,
        optional: 1,
        aalgos: u32::MAX,
        ealgos: 1,
        calgos: 2,
    };
    let mut b = Vec::new();
    t.emit(&mut b);
    t.emit(&mut b);
    assert_eq!(b.len(), 2 * UserTmpl::LEN);
    assert_eq!(UserTmpl::parse_array(&b), Ok(vec![t, t]));

    let e = EncapTmpl {
        encap_type: 2,
        sport: 4500,
        dport: 4501,
        oa: addr("192.0.2.1"),
    };
    round_trip!(e, EncapTmpl);

    let c = UserSecCtx {
        alg: 1,
        doi: 1,
        context: b"system_u:object_r:ipsec_spd_t:s0\0".to_vec(),
    };
    let mut b = Vec::new();
    c.emit(&mut b);
    assert_eq!(u16::from_ne_bytes([b[0], b[1]]) as usize, b.len());
    assert_eq!(UserSecCtx::parse(&b), Ok(c));

    let f = UsersaFlush { proto: 255 };
    let mut b = Vec::new();
    f.emit(&mut b);
    assert_eq!(UsersaFlush::parse(&b), Ok(f));
}

#[test]
fn algorithm_structures_round_trip_and_reject_short_keys() {
    let a = Algo {
        name: "hmac(sha256)".into(),
        key_bits: 256,
        trunc_bits: 96,
        key: Zeroizing::new(vec![7; 32]),
    };
    for trunc in [false, true] {
        let mut b = Vec::new();
        a.emit(trunc, &mut b);
        assert_eq!(b.len(), 64 + if trunc { 8 } else { 4 } + 32);
        let back = Algo::parse(&b, trunc).expect("round trip");
        assert_eq!(back.name, a.name);
        assert_eq!(back.key_bits, 256);
        assert_eq!(back.trunc_bits, if trunc { 96 } else { 0 });
        assert_eq!(back.key, a.key);
        assert!(Algo::parse(&b[..b.len() - 1], trunc).is_err());
    }
    // a debug print never shows key bytes
    assert!(!format!("{a:?}").contains("7, 7"));
}

#[test]
fn netlink_framing_round_trips() {
    let attrs = vec![Attr::new(1, vec![1, 2, 3]), Attr::new(20, vec![0; 8])];
    let mut payload = Vec::new();
    super::netlink::emit_attrs(&attrs, &mut payload);
    assert_eq!(payload.len(), 8 + 12);
    assert_eq!(Attr::parse_all(&payload), Ok(attrs.clone()));
    assert_eq!(find(&attrs, 20), Some(&[0u8; 8][..]));

    let m = NlMessage {
        header: NlHeader {
            len: 0,
            msg_type: msg::NEWSA,
            flags: NLM_F_MULTI,
            seq: 5,
            pid: 6,
        },
        payload: vec![9; 5].into(),
    };
    let mut b = Vec::new();
    m.emit(&mut b);
    m.emit(&mut b);
    assert_eq!(b.len(), 2 * 24);
    let back = NlMessage::parse_all(&b).expect("two messages");
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].header.len, 21);
    assert_eq!(back[1].payload, m.payload);
    // a length past the buffer is an error, not a panic
    assert!(NlMessage::parse_all(&b[..20]).is_err());
    assert!(Attr::parse_all(&[200, 0, 1, 0, 0]).is_err());
}

#[test]
fn extended_ack_text_is_read() {
    let e = NlError {
        error: -libc::EINVAL,
        request: NlHeader {
            len: 300,
            msg_type: msg::NEWSA,
            flags: 5,
            seq: 1,
            pid: 0,
        },
        message: Some("Only tunnel modes can accommodate a change of family".into()),
    };
    let mut b = Vec::new();
    e.emit(&mut b);
    assert_eq!(
        NlError::parse(NLM_F_CAPPED | NLM_F_ACK_TLVS, &b),
        Ok(e.clone())
    );
    let plain = NlError::parse(NLM_F_CAPPED, &b).expect("no TLVs");
    assert_eq!(plain.message, None);
    assert_eq!(plain.error, -libc::EINVAL);
}

#[test]
fn error_replies_copy_the_header() {
    let h = Header {
        version: 2,
        msg_type: MessageType::Add as u8,
        satype: 3,
        reserved: 4,
        seq: 5,
        pid: 6,
        ..Header::default()
    };
    let r = error_reply(h, libc::EEXIST);
    assert_eq!(r.header.errno as i32, libc::EEXIST);
    assert_eq!(r.to_bytes().len(), 16);
    assert_eq!(
        Header {
            errno: 0,
            ..r.header
        },
        Header { len: 0, ..h },
        "everything else as in the request"
    );
    assert_eq!(error_reply(h, 512).header.errno as i32, libc::EINVAL);
}

// ---------------------------------------------------------------------------
// The corpus: simulate the kernel with the conversions and compare with what
// the kernel answered through PF_KEY.
// ---------------------------------------------------------------------------

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn raw(case: &Path, name: &str) -> Vec<Message> {
    fs::read(case.join(name))
        .map(|b| messages(&b).filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn of_type(ms: &[Message], t: MessageType) -> Vec<Message> {
    ms.iter()
        .filter(|m| m.header.msg_type == t as u8)
        .cloned()
        .collect()
}

fn current(m: &Message) -> LifetimeCur {
    let c = m
        .lifetime(LifetimeKind::Current)
        .copied()
        .unwrap_or_default();
    LifetimeCur {
        bytes: c.bytes,
        packets: u64::from(c.allocations),
        add_time: c.addtime,
        use_time: c.usetime,
    }
}

/// The kernel's view of a new SA: what the request converts to, with the
/// kernel's own counters; XFRM reports algorithm attributes by name.
fn simulate_sa(request: &Message, reply: &Message) -> Option<Vec<Extension>> {
    let sa = translate::sa_request(request).ok()?;
    let mut info = sa.info;
    info.curlft = current(reply);
    // xfrm_user stores the canonical name; the kernel reports the auth
    // algorithm in both forms
    let (_, mut ext) = translate::state_to_pfkey(&info, &sa.attrs, info.curlft.add_time).ok()?;
    // The security module stores the context its own way (the recording
    // kernel added a NUL); both interfaces read back what it stored.
    if let Some(stored) = reply.sec_ctx() {
        for e in &mut ext {
            if let Extension::SecCtx(c) = e {
                c.context = stored.context.clone();
            }
        }
    }
    Some(ext)
}

#[test]
fn added_sas_read_back_as_the_kernel_reported_them() {
    let mut compared = 0;
    for case in cases() {
        let sent = of_type(&raw(&case, "F.send.raw"), MessageType::Add);
        let got = of_type(&raw(&case, "F.recv.raw"), MessageType::Add);
        for (request, reply) in sent.iter().zip(&got) {
            if reply.header.errno != 0 {
                continue;
            }
            let ext = simulate_sa(request, reply).unwrap_or_else(|| {
                panic!(
                    "{}: a request the kernel accepted is refused",
                    case.display()
                )
            });
            assert_eq!(ext, reply.extensions, "{}", case.display());
            compared += 1;
        }
    }
    assert!(compared > 20, "only {compared} SAs compared");
}

/// Keys go from the PF_KEY request to the socket in buffers that are
/// wiped when dropped, each allocated at its final size: a reallocation
/// would leave an unwiped copy of the key behind.
#[test]
fn key_buffers_are_never_reallocated() {
    let mut keyed = 0;
    for case in cases() {
        for request in of_type(&raw(&case, "F.send.raw"), MessageType::Add) {
            let Ok(sa) = translate::sa_request(&request) else {
                continue;
            };
            let algorithms = sa.attrs.iter().filter(|a| {
                matches!(
                    a.kind,
                    attr::ALG_AUTH_TRUNC | attr::ALG_CRYPT | attr::ALG_COMP
                )
            });
            for a in algorithms {
                assert_eq!(a.value.capacity(), a.value.len(), "{}", case.display());
                keyed += 1;
            }
            let payload = sa.payload();
            assert_eq!(payload.capacity(), payload.len(), "{}", case.display());
        }
    }
    assert!(keyed > 20, "only {keyed} keyed attributes");
    // An attribute takes its value over rather than copying it.
    let value = vec![7u8; 32];
    let at = value.as_ptr();
    assert_eq!(Attr::new(attr::ALG_CRYPT, value).value.as_ptr(), at);
}

#[test]
fn refused_sas_are_refused_with_af_keys_errno_where_af_key_decides() {
    for case in cases() {
        let sent = of_type(&raw(&case, "F.send.raw"), MessageType::Add);
        let got = of_type(&raw(&case, "F.recv.raw"), MessageType::Add);
        for (request, reply) in sent.iter().zip(&got) {
            let errno = i32::from(reply.header.errno);
            // EEXIST and crypto refusals come from the kernel itself
            if matches!(errno, libc::EINVAL | libc::ENOSYS)
                && let Err(e) = translate::sa_request(request)
            {
                assert_eq!(e, errno, "{}", case.display());
            }
        }
    }
}

#[test]
fn added_policies_read_back_as_the_kernel_reported_them() {
    let mut compared = 0;
    for case in cases() {
        let sent: Vec<Message> = raw(&case, "F.send.raw")
            .into_iter()
            .filter(|m| {
                [MessageType::SpdAdd, MessageType::SpdUpdate]
                    .iter()
                    .any(|t| m.header.msg_type == *t as u8)
            })
            .collect();
        let got: Vec<Message> = raw(&case, "F.recv.raw")
            .into_iter()
            .filter(|m| {
                [MessageType::SpdAdd, MessageType::SpdUpdate]
                    .iter()
                    .any(|t| m.header.msg_type == *t as u8)
            })
            .collect();
        for (request, reply) in sent.iter().zip(&got) {
            if reply.header.errno != 0 {
                continue;
            }
            // generated reqids come from a counter of the recording kernel's
            // lifetime: take the one it reported
            let mut recorded = reply
                .policy()
                .map(|p| p.requests.iter().map(|r| r.reqid).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|r| *r > 0x3fff);
            let mut generate = || recorded.next().ok_or(libc::ENOBUFS);
            let Ok(NewPolicy {
                mut info,
                templates,
                ctx,
            }) = translate::policy_request(request, &mut generate)
            else {
                panic!("{}: an accepted policy is refused", case.display());
            };
            let p = reply.policy().expect("policy extension");
            info.index = p.id;
            info.curlft = current(reply);
            let mut attrs = Vec::new();
            if !templates.is_empty() {
                let mut v = Vec::new();
                for t in &templates {
                    t.emit(&mut v);
                }
                attrs.push(Attr::new(attr::TMPL, v));
            }
            if let Some(mut c) = ctx {
                // stored by the security module its own way (see above)
                if let Some(stored) = reply.sec_ctx() {
                    c.context = stored.context.clone();
                }
                let mut v = Vec::new();
                c.emit(&mut v);
                attrs.push(Attr::new(attr::SEC_CTX, v));
            }
            let ext = translate::policy_to_pfkey(&info, &attrs).expect("expressible");
            assert_eq!(ext, reply.extensions, "{}", case.display());
            compared += 1;
        }
    }
    assert!(compared > 20, "only {compared} policies compared");
}

#[test]
fn dumped_sas_survive_the_xfrm_form() {
    // Every SA of every recorded dump, turned into what XFRM would report
    // (by inverting af_key's conversion by hand) and back.
    let mut compared = 0;
    for case in cases() {
        for m in raw(&case, "D.raw") {
            let Some(sa) = m.sa().copied() else { continue };
            let Some(sa2) = m.sa2().copied() else {
                continue;
            };
            let addr_of = |k| {
                m.address(k)
                    .map(|a| XfrmAddress::from_ip(a.addr.ip()))
                    .unwrap_or_default()
            };
            let src = m
                .address(crate::pfkey::wire::AddressKind::Src)
                .expect("src");
            let family = family_of(src.addr.ip());
            let mut info = UsersaInfo {
                id: XfrmId {
                    daddr: addr_of(crate::pfkey::wire::AddressKind::Dst),
                    spi: sa.spi,
                    proto: translate::satype_to_proto(m.header.satype),
                },
                saddr: addr_of(crate::pfkey::wire::AddressKind::Src),
                family,
                mode: translate::mode_to_xfrm(sa2.mode).expect("mode"),
                reqid: sa2.reqid,
                replay_window: sa.replay,
                curlft: current(&m),
                ..UsersaInfo::default()
            };
            info.sel.family = family;
            if let Some(p) = m.address(crate::pfkey::wire::AddressKind::Proxy) {
                info.sel.saddr = XfrmAddress::from_ip(p.addr.ip());
                info.sel.prefixlen_s = p.prefixlen;
            } else {
                info.sel.saddr = info.saddr;
            }
            for (k, l) in [(LifetimeKind::Hard, true), (LifetimeKind::Soft, false)] {
                let x = m.lifetime(k).copied().unwrap_or_default();
                let inf = |v: u64| if v == 0 { XFRM_INF } else { v };
                if l {
                    info.lft.hard_add_expires_seconds = x.addtime;
                    info.lft.hard_use_expires_seconds = x.usetime;
                    info.lft.hard_byte_limit = inf(x.bytes);
                    info.lft.hard_packet_limit = inf(u64::from(x.allocations));
                } else {
                    info.lft.soft_add_expires_seconds = x.addtime;
                    info.lft.soft_use_expires_seconds = x.usetime;
                    info.lft.soft_byte_limit = inf(x.bytes);
                    info.lft.soft_packet_limit = inf(u64::from(x.allocations));
                }
            }
            let mut attrs = Vec::new();
            let key = |k| m.key(k).map(|k| (u32::from(k.bits), k.key.clone()));
            if let Some(a) = algorithms::auth_by_id(sa.auth) {
                let (bits, k) = key(crate::pfkey::wire::KeyKind::Auth).unwrap_or_default();
                let mut v = Vec::new();
                Algo {
                    name: a.name.into(),
                    key_bits: bits,
                    trunc_bits: a.icv_trunc_bits,
                    key: k,
                }
                .emit(true, &mut v);
                attrs.push(Attr::new(attr::ALG_AUTH_TRUNC, v));
            }
            let enc = if m.header.satype == 9 {
                algorithms::compress_by_id(sa.encrypt).map(|a| (a, attr::ALG_COMP))
            } else {
                algorithms::encrypt_by_id(sa.encrypt).map(|a| (a, attr::ALG_CRYPT))
            };
            if let Some((a, kind)) = enc {
                let (bits, k) = key(crate::pfkey::wire::KeyKind::Encrypt).unwrap_or_default();
                let mut v = Vec::new();
                Algo {
                    name: a.name.into(),
                    key_bits: bits,
                    trunc_bits: 0,
                    key: k,
                }
                .emit(false, &mut v);
                attrs.push(Attr::new(kind, v));
            }
            if let Some(t) = m.nat_t_type() {
                let mut v = Vec::new();
                EncapTmpl {
                    encap_type: u16::from(t),
                    sport: m
                        .nat_t_port(crate::pfkey::wire::NatTPortKind::Src)
                        .unwrap_or(0),
                    dport: m
                        .nat_t_port(crate::pfkey::wire::NatTPortKind::Dst)
                        .unwrap_or(0),
                    oa: XfrmAddress::default(),
                }
                .emit(&mut v);
                attrs.push(Attr::new(attr::ENCAP, v));
            }
            if let Some(c) = m.sec_ctx() {
                let mut v = Vec::new();
                UserSecCtx {
                    alg: c.alg,
                    doi: c.doi,
                    context: c.context.clone(),
                }
                .emit(&mut v);
                attrs.push(Attr::new(attr::SEC_CTX, v));
            }
            let (satype, ext) =
                translate::state_to_pfkey(&info, &attrs, info.curlft.add_time).expect("convert");
            assert_eq!(satype, m.header.satype, "{}", case.display());
            assert_eq!(ext, m.extensions, "{}", case.display());
            compared += 1;
        }
    }
    assert!(compared > 30, "only {compared} dumped SAs compared");
}

#[test]
fn the_algorithm_table_is_the_recorded_register_reply() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kernel-register.raw");
    let bytes = fs::read(path).expect("kernel-register.raw");
    let reply = Message::parse(&bytes).expect("REGISTER reply");
    let table = |t: &mut dyn Iterator<Item = algorithms::Algorithm>| {
        t.map(|a| crate::pfkey::wire::AlgorithmDesc {
            id: a.id,
            ivlen: a.ivlen,
            min_bits: a.min_bits,
            max_bits: a.max_bits,
        })
        .collect::<Vec<_>>()
    };
    // the recording kernel (6.1) predates SM3 and SM4
    let auth = reply.supported(SupportedKind::Auth).expect("auth");
    let auth_table = table(&mut algorithms::auth());
    assert_eq!(auth, &auth_table[..auth_table.len() - 1]);
    let enc = reply.supported(SupportedKind::Encrypt).expect("encrypt");
    let enc_table = table(&mut algorithms::encrypt());
    assert_eq!(enc, &enc_table[..enc_table.len() - 1]);
}

#[test]
fn requests_af_key_refuses_itself() {
    let h = Header {
        version: 2,
        msg_type: MessageType::SpdAdd as u8,
        ..Header::default()
    };
    let mut m = Message::new(h);
    assert_eq!(
        translate::policy_request(&m, &mut || Ok(1)).err(),
        Some(libc::EINVAL)
    );
    m.header.msg_type = MessageType::Get as u8;
    assert_eq!(translate::sa_id(&m).err(), Some(libc::EINVAL));
    // more than six templates: ELOOP, as af_key counts them
    for case in cases() {
        for m in raw(&case, "F.send.raw") {
            if let Some(p) = m.policy()
                && p.policy_type == 2
                && !p.requests.is_empty()
            {
                let mut big = m.clone();
                for e in &mut big.extensions {
                    if let Extension::Policy(p) = e {
                        let r = p.requests[0];
                        p.requests = vec![r; 7];
                    }
                }
                let r = translate::policy_request(&big, &mut || Ok(16384));
                assert!(matches!(r, Err(libc::ELOOP) | Err(libc::EINVAL)));
                return;
            }
        }
    }
}

/// A recorded GETSPI request (case 056) with its SPI range replaced.
fn getspi_with_range(satype: u8, min: u32, max: u32) -> Message {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases/056-getspi-larval");
    let mut m = of_type(&raw(&case, "F.send.raw"), MessageType::GetSpi)
        .into_iter()
        .next()
        .expect("a recorded GETSPI");
    m.header.satype = satype;
    for e in &mut m.extensions {
        if let Extension::SpiRange { min: lo, max: hi } = e {
            (*lo, *hi) = (min, max);
        }
    }
    assert_eq!(m.spi_range(), Some((min, max)));
    m
}

#[test]
fn getspi_with_a_refused_range_leaves_the_larval_sa_as_af_key_does() {
    use super::kernel::larval_only_request;
    // min > max: ALLOCSPI for the same larval SA, with the range 0..=0
    // that xfrm_user accepts and cannot allocate from
    let refused = getspi_with_range(3, 0x2000, 0x1000);
    let spi = larval_only_request(&refused)
        .expect("well formed")
        .expect("a range af_key refuses");
    assert_eq!((spi.min, spi.max), (0, 0));
    let fine = translate::spi_request(&getspi_with_range(3, 0x1000, 0x2000)).expect("fine");
    assert_eq!(
        spi.info, fine.info,
        "the same lookup: seq, mode, reqid, addresses"
    );
    assert_eq!(spi.info.id.proto, 50);
    // ranges af_key accepts go the usual way
    for (satype, min, max) in [(3, 0x1000, 0x1000), (2, 0x100, 0x0fff_ffff), (9, 1, 0xffff)] {
        let m = getspi_with_range(satype, min, max);
        assert_eq!(
            larval_only_request(&m),
            Ok(None),
            "{satype} {min:#x}..{max:#x}"
        );
    }
    // IPComp SPIs are 16 bits: a larger maximum is refused after the lookup
    let spi = larval_only_request(&getspi_with_range(9, 0x100, 0x10000))
        .expect("well formed")
        .expect("refused");
    assert_eq!((spi.info.id.proto, spi.min, spi.max), (108, 0, 0));
    // SA type 0 (any): xfrm_user cannot create that larval SA (see the
    // module documentation); the request is refused without one
    let any = getspi_with_range(0, 0x2000, 0x1000);
    assert_eq!(larval_only_request(&any), Ok(None));
    assert_eq!(translate::spi_request(&any), Err(libc::EINVAL));
    // other fields are checked first, in af_key's order
    let mut no_dst = refused.clone();
    no_dst.extensions.retain(|e| {
        !matches!(
            e,
            Extension::Address(crate::pfkey::wire::AddressKind::Dst, _)
        )
    });
    assert_eq!(larval_only_request(&no_dst), Err(libc::EINVAL));
}

/// A policy's payload written in place is the one its attributes give,
/// with and without templates and a context (the context's length left
/// unaligned to check the padding).
#[test]
fn policy_payload_is_the_info_and_its_attributes() {
    let tmpl = |proto: u8| UserTmpl {
        id: XfrmId {
            proto,
            ..XfrmId::default()
        },
        reqid: 7,
        ..UserTmpl::default()
    };
    let ctxs = [
        None,
        Some(UserSecCtx {
            alg: 1,
            doi: 1,
            context: b"system_u:object_r:x".to_vec(),
        }),
    ];
    for templates in [vec![], vec![tmpl(50)], vec![tmpl(50), tmpl(51)]] {
        for ctx in ctxs.clone() {
            let p = NewPolicy {
                info: UserpolicyInfo {
                    priority: 9,
                    ..UserpolicyInfo::default()
                },
                templates: templates.clone().into(),
                ctx,
            };
            let mut expected = Vec::new();
            p.info.emit(&mut expected);
            if !p.templates.is_empty() {
                let mut v = Vec::new();
                for t in &p.templates {
                    t.emit(&mut v);
                }
                Attr::new(attr::TMPL, v).emit(&mut expected);
            }
            if let Some(c) = &p.ctx {
                let mut v = Vec::new();
                c.emit(&mut v);
                Attr::new(attr::SEC_CTX, v).emit(&mut expected);
            }
            let payload = p.payload();
            assert_eq!(payload, expected);
            assert_eq!(payload.capacity(), payload.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Policies translated from the IR and from their PF_KEY messages.
// ---------------------------------------------------------------------------

/// Every policy operation of the corpus scripts and the grammar's
/// examples, and policies the parser would not build (two families, seven
/// requests, tunnels without endpoints, every action and level).
pub(crate) fn policy_requests() -> Vec<crate::ir::PolicyRequest> {
    use crate::ir::*;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts: Vec<PathBuf> = cases().iter().map(|c| c.join("script.conf")).collect();
    if let Ok(d) = fs::read_dir(root.join("grammar/examples")) {
        scripts.extend(d.filter_map(Result::ok).map(|e| e.path()));
    }
    let options = crate::parse::Options {
        supported: SupportedAlgorithms::linux_default(),
        rfc_mode: true,
        extensions: true,
    };
    let mut out = Vec::new();
    for script in scripts {
        let Ok(text) = fs::read_to_string(&script) else {
            continue;
        };
        // A script that does not parse still has statements before the
        // failure; statement by statement keeps them.
        let names = crate::parse::SystemNames::default();
        for statement in crate::parse::Statements::new(text.as_str(), &options, &names) {
            let Ok(statement) = statement else { break };
            for op in statement.operations {
                if let Operation::SpdAdd(p) | Operation::SpdUpdate(p) | Operation::SpdDelete(p) = op
                {
                    out.push(p);
                }
            }
        }
    }
    assert!(out.len() > 50, "the corpus has policies: {}", out.len());
    let sel = |a: &str, prefixlen| SelectorAddress {
        addr: std::net::SocketAddr::new(a.parse().unwrap(), 7),
        prefixlen,
    };
    let request = |protocol, mode, level, reqid, endpoints: Option<_>| IpsecRequest {
        protocol,
        mode,
        level,
        reqid,
        endpoints: endpoints.map(Box::new),
    };
    let tunnel = Some((
        "10.1.1.1:0".parse().unwrap(),
        "[2001:db8::2]:0".parse().unwrap(),
    ));
    let requests: Vec<Vec<IpsecRequest>> = vec![
        vec![],
        vec![request(
            IpsecProtocol::Esp,
            IpsecMode::Tunnel,
            Level::Use,
            0,
            None,
        )],
        vec![request(
            IpsecProtocol::Ah,
            IpsecMode::Tunnel,
            Level::Use,
            0,
            tunnel,
        )],
        vec![request(
            IpsecProtocol::IpComp,
            IpsecMode::Any,
            Level::Unique,
            7,
            None,
        )],
        vec![request(
            IpsecProtocol::Esp,
            IpsecMode::Transport,
            Level::Unique,
            0,
            None,
        )],
        vec![request(
            IpsecProtocol::Esp,
            IpsecMode::Transport,
            Level::Unique,
            70_000,
            None,
        )],
        vec![
            request(
                IpsecProtocol::Esp,
                IpsecMode::Transport,
                Level::Default,
                3,
                None
            );
            7
        ],
    ];
    let contexts = [
        None,
        Some(SecurityContext {
            doi: 0,
            alg: 1,
            context: b"ignored".to_vec(),
        }),
        Some(SecurityContext {
            doi: 1,
            alg: 1,
            context: b"system_u:object_r:ipsec_spd_t:s0".to_vec(),
        }),
    ];
    for (src, dst) in [
        (sel("10.0.0.1", 32), sel("2001:db8::1", 128)),
        (sel("::", 0), sel("::1", 200)),
    ] {
        for direction in [Direction::In, Direction::Out, Direction::Fwd] {
            for action in [
                PolicyAction::Discard,
                PolicyAction::None,
                PolicyAction::Ipsec,
                PolicyAction::Entrust,
                PolicyAction::Bypass,
            ] {
                for requests in &requests {
                    for context in &contexts {
                        out.push(PolicyRequest {
                            src,
                            dst,
                            upper: 6,
                            policy: Policy {
                                direction,
                                action,
                                priority: 42,
                                requests: requests.clone().into(),
                            },
                            context: context.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

#[test]
fn a_policy_translated_from_the_ir_is_the_one_its_message_gives() {
    use crate::pfkey::request::{self, PolicyMessage};
    let header = Header {
        pid: 4242,
        ..Header::default()
    };
    // Generated reqids count on from the same place on both paths.
    let counter = || {
        let mut next = 0x4000;
        move || {
            next += 1;
            Ok(next)
        }
    };
    for p in policy_requests() {
        for kind in [
            PolicyMessage::Add,
            PolicyMessage::Update,
            PolicyMessage::Delete,
        ] {
            let m = request::policy(header, kind, &p);
            assert_eq!(m.header, request::policy_header(header, kind));
            let (via_message, direct) = if kind == PolicyMessage::Delete {
                (
                    translate::policy_key(&m).map(|k| k.payload()),
                    translate::policy_key_of(&p).map(|k| k.payload()),
                )
            } else {
                // Written straight from the IR, after what is there: the
                // same bytes, or the same errno with nothing appended.
                let mut out = b"before".to_vec();
                let written = translate::emit_policy_of(&p, &mut counter(), &mut out);
                let via_ir = translate::policy_request_of(&p, &mut counter()).map(|n| n.payload());
                match (&written, &via_ir) {
                    (Ok(()), Ok(payload)) => {
                        assert_eq!(&out[6..], &payload[..], "{p:?}");
                        assert_eq!(payload.len(), translate::policy_payload_len_of(&p));
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a, b, "{p:?}");
                        assert_eq!(out, b"before");
                    }
                    _ => panic!("{written:?} / {via_ir:?}: {p:?}"),
                }
                (
                    translate::policy_request(&m, &mut counter()).map(|n| n.payload()),
                    via_ir,
                )
            };
            assert_eq!(direct, via_message, "{kind:?} {p:?}");
        }
    }
}
