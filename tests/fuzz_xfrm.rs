//! XFRM decoder fuzzing: nothing the kernel can send on NETLINK_XFRM may
//! make rsetkey panic.
//!
//! Every input is one datagram as the XFRM backend receives it. It goes
//! through the netlink framing ([`NlMessage::parse_all`], and the lenient
//! walk of `NetlinkSocket::dump_part`), and every message payload — whatever
//! its type says — through every decoder of the XFRM path: `state_of` /
//! `policy_of`, the fixed structures ([`UsersaInfo`], [`UserpolicyInfo`],
//! [`UsersaId`], [`UserspiInfo`], [`UserpolicyId`], [`UsersaFlush`]), every
//! attribute as each attribute structure ([`Algo`] in both forms,
//! [`EncapTmpl`], [`UserSecCtx`], template arrays, the ESN replay state,
//! the policy type), acknowledgements ([`NlError`], [`WindowAnswers`]);
//! then the conversions into PF_KEY messages: the backend's
//! ([`translate::state_to_pfkey`], [`translate::policy_to_pfkey`], the
//! reference count, template reqids) and the monitor's ([`Converter`], the
//! payload as every event type it converts, with one converter per
//! generator kept across inputs, as across the events of a `-x` run); and
//! the converted messages through the dump printers (`write_sa`,
//! `write_policy`, `write_reply`, a [`Printer`], `write_short`, the `-v`
//! decoder on their wire bytes) and back into XFRM requests
//! ([`translate::sa_request`], [`translate::policy_request`]). What parses
//! must also emit and parse back to itself (netlink messages, the fixed
//! structures, acknowledgements).
//!
//! Generators, each in its own thread with its own input stream:
//!
//! * **random bytes** — random buffers, half of them behind a plausible
//!   `nlmsghdr` (an XFRM or netlink control type, a matching length);
//! * **mutated seeds** — valid datagrams, mutated 1–4 times: bit flips,
//!   interesting bytes, 16/32/64-bit fields of the fixed structures and of
//!   attribute values (families, modes, key lengths, context lengths, ESN
//!   window, lifetimes) set to extreme values, `nlmsg_len` and `nla_len` set
//!   to extreme values, attribute types changed, attributes inserted (new
//!   or from other seeds), duplicated and removed, truncation, messages
//!   concatenated. The seeds are encoded with the crate's own emitters: the
//!   SAs and policies that `translate` builds from every ADD / UPDATE and
//!   SPDADD / SPDUPDATE request the corpus recorded
//!   (`fixtures/cases/*/F.send.raw`), and hand-built ones carrying every
//!   attribute the decoders know (authentication in both forms,
//!   encryption, AEAD, compression, NAT-T, security context, ESN replay
//!   state, policy type, tunnel templates), acknowledgements with extended
//!   ACK text, multi-part dumps ending in `NLMSG_DONE`, and the monitor's
//!   events (an SA added, expiring soft and hard, deleted; policy deletions
//!   by selector and by index; flushes; acquires; a policy expiry). Every
//!   seed converts. (The corpus holds no recorded XFRM bytes: its kernel
//!   traffic is PF_KEY.)
//! * **generated messages** — structure-aware: one to four netlink messages
//!   (SAs, policies, acknowledgements, ends of dumps) with random fixed
//!   structures (fields biased to extreme values) and random attribute
//!   lists, every attribute a well-formed value of its kind (including the
//!   deleted SA / policy of deletion events) or random bytes.
//!
//! Budget: `RSETKEY_FUZZ_SECONDS=S` runs every generator for S seconds (the
//! generators run concurrently, so the test takes about S seconds);
//! otherwise `RSETKEY_FUZZ_CASES` inputs per generator (default 5 000, for
//! CI). `RSETKEY_FUZZ_SEED` picks another deterministic input stream. With
//! `--nocapture` the test prints the inputs run per generator and in total.
//! A panic (or a broken round trip) stops the run and is reported with the
//! generator, the seed, the case number, the clock and the input in hex.
//!
//! The driver (streams, budget, threads, panic capture, report) is
//! `tests/fuzzing/mod.rs`, shared with the other fuzz targets; what is here
//! is the XFRM path's own: the seeds, the generators and what every input
//! goes through.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzzing;

use std::cell::RefCell;
use std::fs;
use std::io;
use std::path::Path;

use rsetkey::dump::kdebug;
use rsetkey::dump::{self, DumpOptions, Printer};
use rsetkey::ir::Keys;
use rsetkey::pfkey::wire::{
    self as pfkey, Extension, Header, Message, MessageType, PF_KEY_V2, sa_state,
};
use rsetkey::xfrm::algorithms;
use rsetkey::xfrm::kernel::{policy_of, state_of};
use rsetkey::xfrm::monitor::{Available, Converter, event};
use rsetkey::xfrm::netlink::{
    Attr, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN,
    NlError, NlHeader, NlMessage, align4,
};
use rsetkey::xfrm::socket::WindowAnswers;
use rsetkey::xfrm::translate;
use rsetkey::xfrm::wire::{
    AF_INET, AF_INET6, ALG_NAME_LEN, Algo, EncapTmpl, LifetimeCfg, LifetimeCur, Selector,
    UserSecCtx, UserTmpl, UserpolicyId, UserpolicyInfo, UsersaFlush, UsersaId, UsersaInfo,
    UserspiInfo, XfrmAddress, XfrmId, attr, esn_replay_window, mode, msg, policy_type, state_flag,
};
use zeroize::Zeroizing;

use fuzzing::{Budget, Datagram, Generator, Rng, campaign, hex};

// ---------------------------------------------------------------------------
// The campaign.

thread_local! {
    /// The monitor's conversion of events, kept across the inputs of a
    /// generator thread as across the events of a monitor run (an expiry
    /// takes the algorithms of an SA seen before).
    static MONITOR: RefCell<Converter> = RefCell::new(Converter::new());
}

/// Clocks: mostly the corpus' 2024-01-01, sometimes the epoch, the far
/// future or anything.
fn clock(rng: &mut Rng) -> u64 {
    match rng.below(16) {
        0 => 0,
        1 => u64::MAX,
        2 => rng.next(),
        _ => 1_704_067_200 + rng.below(100_000) as u64,
    }
}

#[test]
fn xfrm_decoders_never_panic() {
    let seed = fuzzing::seed(0x5e7_4e76);
    let budget = Budget::from_env();
    let seeds = Seeds::build();
    // The seeds themselves first: they decode and print ...
    for s in &seeds.datagrams {
        if let Err(p) = exercise(s, 1_704_067_200) {
            panic!("seed {}: {p}", hex(s));
        }
    }
    // ... and are valid: they convert to PF_KEY, so that their mutations
    // start deep inside the conversions.
    for s in &seeds.datagrams {
        assert!(converts(s), "seed does not convert: {}", hex(s));
    }
    // Each input's clock is drawn after its bytes.
    let generators: [Generator<Datagram, Seeds>; 3] = [
        Generator {
            name: "random bytes",
            make: |rng, seeds| Datagram {
                bytes: random_datagram(rng, seeds),
                now: clock(rng),
            },
        },
        Generator {
            name: "mutated seeds",
            make: |rng, seeds| Datagram {
                bytes: mutated_seed(rng, seeds),
                now: clock(rng),
            },
        },
        Generator {
            name: "generated messages",
            make: |rng, seeds| Datagram {
                bytes: generated_datagram(rng, seeds),
                now: clock(rng),
            },
        },
    ];
    // The tally: inputs with an SA or policy that converted to PF_KEY (and
    // so went through the printers): how deep the generator reaches.
    let result = campaign(
        &generators,
        &seeds,
        seed,
        budget,
        |input, _, printed: &mut u64| {
            *printed += u64::from(exercise(&input.bytes, input.now)?);
            Ok(())
        },
    );
    for (g, run) in generators.iter().zip(&result.runs) {
        eprintln!(
            "fuzz_xfrm: {}: {} inputs, {} of them converted to PF_KEY and printed",
            g.name, run.inputs, run.tally
        );
    }
    let note = format!(", {} seeds", seeds.datagrams.len());
    result.conclude("fuzz_xfrm", seed, &note, "broken round trip");
}

// ---------------------------------------------------------------------------
// What every input goes through.

/// Netlink messages as `dump_part` walks a datagram: one after the other
/// until the first bad length (what came before is still used).
fn lenient_messages(buf: &[u8]) -> Vec<(NlHeader, &[u8])> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= NLMSG_HDRLEN {
        let Ok(header) = NlHeader::parse(rest) else {
            break;
        };
        let len = header.len as usize;
        let Some(payload) = rest.get(NLMSG_HDRLEN..len) else {
            break;
        };
        out.push((header, payload));
        rest = rest.get(align4(len)..).unwrap_or_default();
    }
    out
}

/// Runs every decoder on one datagram. Errors are fine; panics and broken
/// round trips are not.
fn exercise(buf: &[u8], now: u64) -> Result<bool, String> {
    let mut printed = false;
    if let Ok(messages) = NlMessage::parse_all(buf) {
        for m in &messages {
            let mut again = Vec::new();
            m.emit(&mut again);
            match NlMessage::parse_all(&again) {
                Ok(back) if back.len() == 1 && back[0] == *m => {}
                other => {
                    return Err(format!(
                        "a netlink message does not round-trip: {m:?} → {other:?}"
                    ));
                }
            }
            // The batch window reads acknowledgements of requests
            // `first..first + 4`.
            let mut window = WindowAnswers::new(m.header.seq.wrapping_sub(2), 4);
            let _ = window.accept(m);
            let _ = window.complete();
            let _ = window.finish().count();
        }
    }
    for (header, payload) in lenient_messages(buf) {
        printed |= decode_payload(header, payload, now)?;
    }
    Ok(printed)
}

/// Every decoder on one payload, whatever its type says (a mutated type
/// must not protect a decoder from bytes meant for another).
fn decode_payload(header: NlHeader, payload: &[u8], now: u64) -> Result<bool, String> {
    let mut printed = false;
    if let Ok(e) = NlError::parse(header.flags, payload) {
        let mut again = Vec::new();
        e.emit(&mut again);
        let back = NlError::parse(NLM_F_CAPPED | NLM_F_ACK_TLVS, &again);
        if back.as_ref() != Ok(&e) {
            return Err(format!(
                "an acknowledgement does not round-trip: {e:?} → {back:?}"
            ));
        }
    }
    if let Ok(v) = UsersaId::parse(payload) {
        round_trip(&v, UsersaId::emit, UsersaId::parse)?;
    }
    if let Ok(v) = UserspiInfo::parse(payload) {
        round_trip(&v, UserspiInfo::emit, UserspiInfo::parse)?;
    }
    if let Ok(v) = UserpolicyId::parse(payload) {
        round_trip(&v, UserpolicyId::emit, UserpolicyId::parse)?;
    }
    if let Ok(v) = UsersaFlush::parse(payload) {
        round_trip(&v, UsersaFlush::emit, UsersaFlush::parse)?;
    }
    if let Ok(v) = UsersaInfo::parse(payload) {
        round_trip(&v, UsersaInfo::emit, UsersaInfo::parse)?;
    }
    if let Ok(v) = UserpolicyInfo::parse(payload) {
        round_trip(&v, UserpolicyInfo::emit, UserpolicyInfo::parse)?;
    }
    if let Some((info, attrs)) = state_of(payload) {
        attributes(&attrs)?;
        printed |= state(&info, &attrs, now);
    }
    if let Some((info, attrs)) = policy_of(payload) {
        attributes(&attrs)?;
        printed |= policy(&info, &attrs, now);
    }
    printed |= notifications(header, payload, now);
    Ok(printed)
}

/// `parse(emit(v)) == v` for a structure that parsed.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    v: &T,
    emit: fn(&T, &mut Vec<u8>),
    parse: fn(&[u8]) -> Result<T, rsetkey::xfrm::netlink::NetlinkError>,
) -> Result<(), String> {
    let mut b = Vec::new();
    emit(v, &mut b);
    match parse(&b) {
        Ok(back) if back == *v => Ok(()),
        other => Err(format!("{v:?} does not round-trip: {other:?}")),
    }
}

/// Every attribute as every attribute structure.
fn attributes(attrs: &[Attr]) -> Result<(), String> {
    for a in attrs {
        let v = a.value.as_slice();
        for with_trunc in [false, true] {
            if let Ok(algo) = Algo::parse(v, with_trunc) {
                let _ = algorithms::auth_id(&algo.name);
                let _ = algorithms::encrypt_id(&algo.name);
                let _ = algorithms::compress_id(&algo.name);
                let mut b = Vec::new();
                algo.emit(with_trunc, &mut b);
                let _ = Algo::parse(&b, with_trunc);
            }
        }
        if let Ok(e) = EncapTmpl::parse(v) {
            round_trip(&e, EncapTmpl::emit, EncapTmpl::parse)?;
        }
        if let Ok(c) = UserSecCtx::parse(v) {
            let mut b = Vec::new();
            c.emit(&mut b);
            let _ = UserSecCtx::parse(&b);
        }
        if let Ok(ts) = UserTmpl::parse_array(v) {
            for t in &ts {
                round_trip(t, UserTmpl::emit, UserTmpl::parse)?;
            }
        }
        let _ = esn_replay_window(v);
        let _ = policy_type(v);
    }
    let _ = translate::template_reqids(attrs);
    Ok(())
}

const DUMP_OPTIONS: [DumpOptions; 2] = [
    DumpOptions {
        show_dead: false,
        show_ports: false,
        hide_socket_policies: false,
        hide_keys: false,
    },
    DumpOptions {
        show_dead: true,
        show_ports: true,
        hide_socket_policies: true,
        hide_keys: true,
    },
];

/// A converted message through every printer, its wire form through the
/// PF_KEY parser and the `-v` decoder.
fn print(message: &Message, now: u64) {
    let mut sink = io::sink();
    for o in &DUMP_OPTIONS {
        let _ = dump::write_reply(&mut sink, message, now, o);
        let _ = dump::write_sa(&mut sink, message, now, o);
        let _ = dump::write_policy(&mut sink, message, now, o);
        let _ = dump::short::write_short(&mut sink, message, now, o);
        let _ = Printer::new(*o).reply(&mut sink, message, now);
    }
    let bytes = message.to_bytes();
    let _ = kdebug::write_kdebug(&mut sink, &bytes, Keys::Mask);
    let _ = kdebug::write_kdebug(&mut sink, &bytes, Keys::Show);
    if let Ok(parsed) = Message::parse(&bytes) {
        let _ = dump::write_reply(&mut sink, &parsed, now, &DUMP_OPTIONS[1]);
    }
}

fn message(msg_type: MessageType, satype: u8, reserved: u16, ext: Vec<Extension>) -> Message {
    Message {
        header: Header {
            version: PF_KEY_V2,
            msg_type: msg_type as u8,
            errno: 0,
            satype,
            len: 0,
            reserved,
            seq: 0,
            pid: 4242,
        },
        extensions: ext,
    }
}

/// An SA as the XFRM backend converts it: a dump entry, a GET answer, an
/// ADD notification, a DELETE notification (dead); and back into the
/// request it would make.
fn state(info: &UsersaInfo, attrs: &[Attr], now: u64) -> bool {
    let _ = translate::proto_matches(info.id.proto, translate::IPSEC_PROTO_ANY);
    let Ok((satype, ext)) = translate::state_to_pfkey(info, attrs, now) else {
        return false;
    };
    let dump_entry = message(MessageType::Dump, satype, 0, ext.clone());
    print(&dump_entry, now);
    print(&message(MessageType::Get, satype, 0, ext.clone()), now);
    let mut dead = ext.clone();
    for e in &mut dead {
        if let Extension::Sa(sa) = e {
            sa.state = sa_state::DEAD;
        }
    }
    print(&message(MessageType::Delete, satype, 0, dead), now);
    let add = message(MessageType::Add, satype, 0, ext);
    let _ = dump::write_reply(&mut io::sink(), &add, now, &DUMP_OPTIONS[0]);
    let _ = translate::sa_request(&add);
    let _ = translate::sa_id(&add);
    let _ = translate::spi_request(&add);
    true
}

/// A policy as the XFRM backend converts it: a dump entry (with its derived
/// reference count), an SPDGET answer; and back into the request.
fn policy(info: &UserpolicyInfo, attrs: &[Attr], now: u64) -> bool {
    let Ok(ext) = translate::policy_to_pfkey(info, attrs) else {
        return false;
    };
    let refcnt = translate::policy_refcnt(info, now);
    print(&message(MessageType::SpdDump, 0, refcnt, ext.clone()), now);
    print(&message(MessageType::SpdGet, 0, refcnt, ext.clone()), now);
    let add = message(MessageType::SpdAdd, 0, refcnt, ext);
    let mut next = 0x4000u32;
    let mut gen_reqid = || {
        next = next.wrapping_add(1);
        Ok(next)
    };
    let _ = translate::policy_request(&add, &mut gen_reqid);
    let _ = translate::policy_key(&add);
    true
}

/// Every event type the monitor converts.
const EVENTS: [u16; 11] = [
    msg::NEWSA,
    msg::UPDSA,
    msg::DELSA,
    msg::FLUSHSA,
    msg::NEWPOLICY,
    msg::UPDPOLICY,
    msg::DELPOLICY,
    msg::FLUSHPOLICY,
    event::EXPIRE,
    event::ACQUIRE,
    event::POLEXPIRE,
];

/// The payload as every event the monitor converts (`-x` without PF_KEY),
/// and the notifications through the printers.
fn notifications(header: NlHeader, payload: &[u8], now: u64) -> bool {
    MONITOR.with(|c| {
        let mut c = c.borrow_mut();
        // A long run must not remember SAs without bound.
        if c.known_sas() > 4096 {
            *c = Converter::new();
        }
        // Which algorithms acquire proposals may list: all, some, or as
        // set before.
        match now % 8 {
            0 => c.set_available(Available::all()),
            1 => c.set_available(Available {
                auth: vec![2, 3, 5],
                encrypt: vec![3, 12],
            }),
            _ => {}
        }
        let mut printed = false;
        for t in EVENTS {
            let _ = c.wants_available(t);
            let h = NlHeader {
                msg_type: t,
                ..header
            };
            if let Some(n) = c.convert(&h, payload) {
                print(&n.message, now);
                // Bare flushes say nothing about the payload.
                printed |= n
                    .message
                    .extensions
                    .iter()
                    .any(|e| matches!(e, Extension::Sa(_) | Extension::Policy(_)));
            }
        }
        printed
    })
}

/// Whether every message of a datagram converts to PF_KEY, as the XFRM
/// backend and the monitor convert them (what `af_key` would send nothing
/// for aside).
fn converts(buf: &[u8]) -> bool {
    let now = 1_704_067_200;
    let mut monitor = Converter::new();
    lenient_messages(buf).iter().all(|(h, p)| {
        let backend = match h.msg_type {
            msg::NEWSA => {
                state_of(p).is_some_and(|(i, a)| translate::state_to_pfkey(&i, &a, now).is_ok())
            }
            msg::NEWPOLICY => {
                policy_of(p).is_some_and(|(i, a)| translate::policy_to_pfkey(&i, &a).is_ok())
            }
            _ => true,
        };
        let event = match h.msg_type {
            NLMSG_ERROR | NLMSG_DONE | event::POLEXPIRE => true,
            _ => monitor.convert(h, p).is_some(),
        };
        backend && event
    })
}

// ---------------------------------------------------------------------------
// Seeds: valid datagrams, encoded with the crate's own emitters.

/// Valid datagrams, and single attributes to splice into others.
struct Seeds {
    datagrams: Vec<Vec<u8>>,
    attrs: Vec<Attr>,
}

fn frame(msg_type: u16, flags: u16, seq: u32, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    NlMessage {
        header: NlHeader {
            len: 0,
            msg_type,
            flags,
            seq,
            pid: 0,
        },
        payload: payload.into(),
    }
    .emit(&mut out);
    out
}

fn done(seq: u32) -> Vec<u8> {
    frame(NLMSG_DONE, NLM_F_MULTI, seq, 0i32.to_ne_bytes().to_vec())
}

fn address(s: &str) -> XfrmAddress {
    XfrmAddress::from_ip(s.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])))
}

fn algo_attr(kind: u16, name: &str, key_bits: u32, trunc_bits: u32) -> Attr {
    let algo = Algo {
        name: name.into(),
        key_bits,
        trunc_bits,
        key: Zeroizing::new(vec![0x5a; (key_bits as usize).div_ceil(8)]),
    };
    let mut v = Vec::new();
    algo.emit(
        matches!(kind, attr::ALG_AUTH_TRUNC | attr::ALG_AEAD),
        &mut v,
    );
    Attr::new(kind, v)
}

fn sec_ctx_attr(text: &[u8]) -> Attr {
    let mut v = Vec::new();
    UserSecCtx {
        alg: 1,
        doi: 1,
        context: text.to_vec(),
    }
    .emit(&mut v);
    Attr::new(attr::SEC_CTX, v)
}

fn encap_attr(encap_type: u16) -> Attr {
    let mut v = Vec::new();
    EncapTmpl {
        encap_type,
        sport: 4500,
        dport: 4501,
        oa: address("192.0.2.9"),
    }
    .emit(&mut v);
    Attr::new(attr::ENCAP, v)
}

/// `xfrm_replay_state_esn` with a bitmap of `words` 32-bit words.
fn esn_attr(window: u32, words: u32) -> Attr {
    let mut v = Vec::new();
    for field in [words, 1, 2, 0, 0, window] {
        v.extend_from_slice(&field.to_ne_bytes());
    }
    v.resize(v.len() + 4 * words as usize, 0xff);
    Attr::new(attr::REPLAY_ESN_VAL, v)
}

fn policy_type_attr(t: u8) -> Attr {
    Attr::new(attr::POLICY_TYPE, vec![t, 0, 0, 0, 0, 0])
}

fn tmpl_attr(templates: &[UserTmpl]) -> Attr {
    let mut v = Vec::new();
    for t in templates {
        t.emit(&mut v);
    }
    Attr::new(attr::TMPL, v)
}

fn sa_payload(info: &UsersaInfo, attrs: &[Attr]) -> Vec<u8> {
    let mut p = Vec::new();
    info.emit(&mut p);
    for a in attrs {
        a.emit(&mut p);
    }
    p
}

fn policy_payload(info: &UserpolicyInfo, attrs: &[Attr]) -> Vec<u8> {
    let mut p = Vec::new();
    info.emit(&mut p);
    for a in attrs {
        a.emit(&mut p);
    }
    p
}

/// A kernel-side SA as a dump reports it: counters and times filled in.
fn as_kernel_reports(mut info: UsersaInfo, n: u64) -> UsersaInfo {
    info.curlft = LifetimeCur {
        bytes: n * 1000,
        packets: n,
        add_time: 1_704_067_200,
        use_time: if n.is_multiple_of(2) {
            0
        } else {
            1_704_067_260
        },
    };
    info.stats = [0, n as u32, 0];
    info
}

/// The recorded requests of the corpus, converted as the XFRM backend
/// converts them for the kernel (and so as the kernel reports them back).
fn corpus_seeds(datagrams: &mut Vec<Vec<u8>>) {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases");
    let mut dirs: Vec<_> = fs::read_dir(&cases)
        .expect("fixtures/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    let mut n = 0u64;
    for dir in dirs {
        let Ok(bytes) = fs::read(dir.join("F.send.raw")) else {
            continue;
        };
        for m in pfkey::messages(&bytes).flatten() {
            n += 1;
            let seq = n as u32;
            let t = m.message_type();
            if matches!(t, Some(MessageType::Add | MessageType::Update)) {
                if let Ok(sa) = translate::sa_request(&m) {
                    let info = as_kernel_reports(sa.info, n);
                    datagrams.push(frame(msg::NEWSA, 0, seq, sa_payload(&info, &sa.attrs)));
                }
            } else if matches!(t, Some(MessageType::SpdAdd | MessageType::SpdUpdate)) {
                let mut next = 0x4000u32;
                let mut gen_reqid = || {
                    next += 1;
                    Ok(next)
                };
                if let Ok(p) = translate::policy_request(&m, &mut gen_reqid) {
                    let mut info = p.info;
                    info.index = 8 * seq + u32::from(info.dir);
                    info.curlft.add_time = 1_704_067_200;
                    let mut payload = p.payload();
                    if n.is_multiple_of(3) {
                        policy_type_attr(0).emit(&mut payload);
                    }
                    payload[..UserpolicyInfo::LEN].copy_from_slice(&{
                        let mut b = Vec::new();
                        info.emit(&mut b);
                        b
                    });
                    datagrams.push(frame(msg::NEWPOLICY, 0, seq, payload));
                }
            }
        }
    }
}

fn base_sa(family: u16, src: &str, dst: &str) -> UsersaInfo {
    UsersaInfo {
        sel: Selector {
            family,
            ..Selector::default()
        },
        id: XfrmId {
            daddr: address(dst),
            spi: 0x1234,
            proto: translate::IPPROTO_ESP,
        },
        saddr: address(src),
        lft: LifetimeCfg {
            soft_add_expires_seconds: 3000,
            hard_add_expires_seconds: 3600,
            soft_byte_limit: 1 << 20,
            ..LifetimeCfg::default()
        },
        curlft: LifetimeCur::default(),
        stats: [0; 3],
        seq: 7,
        reqid: 9,
        family,
        mode: mode::TUNNEL,
        replay_window: 32,
        flags: state_flag::NOECN,
    }
}

fn template(proto: u8, tunnel: Option<(&str, &str)>, family: u16, reqid: u32) -> UserTmpl {
    UserTmpl {
        id: XfrmId {
            daddr: tunnel.map_or_else(XfrmAddress::default, |(_, d)| address(d)),
            spi: 0,
            proto,
        },
        family,
        saddr: tunnel.map_or_else(XfrmAddress::default, |(s, _)| address(s)),
        reqid,
        mode: if tunnel.is_some() {
            mode::TUNNEL
        } else {
            mode::TRANSPORT
        },
        share: 0,
        optional: u8::from(reqid == 1),
        aalgos: u32::MAX,
        ealgos: u32::MAX,
        calgos: u32::MAX,
    }
}

/// SAs and policies with every attribute the decoders know, and the
/// netlink control messages around them.
fn hand_built_seeds(datagrams: &mut Vec<Vec<u8>>, attrs: &mut Vec<Attr>) {
    let v4 = base_sa(AF_INET, "10.0.0.1", "10.0.0.2");
    let v6 = base_sa(AF_INET6, "2001:db8::1", "2001:db8::2");
    let full = vec![
        algo_attr(attr::ALG_AUTH, "hmac(sha1)", 160, 0),
        algo_attr(attr::ALG_AUTH_TRUNC, "hmac(sha256)", 256, 128),
        algo_attr(attr::ALG_CRYPT, "cbc(aes)", 128, 0),
        encap_attr(2),
        sec_ctx_attr(b"system_u:object_r:ipsec_spd_t:s0"),
        esn_attr(300, 10),
    ];
    let mut esn = v4;
    esn.flags |= state_flag::ESN | state_flag::DECAP_DSCP | state_flag::NOPMTUDISC;
    datagrams.push(frame(msg::NEWSA, NLM_F_MULTI, 1, sa_payload(&esn, &full)));
    // A proxy selector (the address differs from the SA's source).
    let mut proxy = v6;
    proxy.sel.saddr = address("2001:db8:1::");
    proxy.sel.prefixlen_s = 48;
    proxy.sel.proto = 58;
    proxy.sel.sport = 0x8000;
    datagrams.push(frame(msg::NEWSA, 0, 2, sa_payload(&proxy, &full[1..])));
    // AEAD; IPComp; a larval SA (no algorithm) as ALLOCSPI answers.
    let aead = vec![algo_attr(attr::ALG_AEAD, "rfc4106(gcm(aes))", 160, 128)];
    datagrams.push(frame(msg::NEWSA, 0, 3, sa_payload(&v4, &aead)));
    let mut comp = v4;
    comp.id.proto = translate::IPPROTO_COMP;
    comp.id.spi = 0x4001;
    let deflate = vec![algo_attr(attr::ALG_COMP, "deflate", 0, 0)];
    datagrams.push(frame(msg::NEWSA, 0, 4, sa_payload(&comp, &deflate)));
    let mut larval = v4;
    larval.mode = mode::TRANSPORT;
    larval.sel.daddr = larval.id.daddr;
    larval.sel.saddr = larval.saddr;
    datagrams.push(frame(msg::NEWSA, 0, 5, sa_payload(&larval, &[])));
    // An expired SA: past its soft byte limit.
    let mut dying = as_kernel_reports(v4, 3);
    dying.curlft.bytes = 2 << 20;
    datagrams.push(frame(
        msg::NEWSA,
        0,
        6,
        sa_payload(
            &dying,
            &[algo_attr(attr::ALG_CRYPT, "cbc(des3_ede)", 192, 0)],
        ),
    ));
    // A dump: several SAs, then DONE.
    let mut dump = Vec::new();
    for (i, (info, a)) in [(v4, &full[2..3]), (v6, &full[..3]), (comp, &deflate[..])]
        .into_iter()
        .enumerate()
    {
        dump.extend(frame(
            msg::NEWSA,
            NLM_F_MULTI,
            9,
            sa_payload(&as_kernel_reports(info, i as u64), a),
        ));
    }
    dump.extend(done(9));
    datagrams.push(dump);

    // Policies: tunnel templates, a context, the policy type; block; none.
    let pol = UserpolicyInfo {
        sel: Selector {
            daddr: address("10.2.0.0"),
            saddr: address("10.1.0.0"),
            dport: 443,
            dport_mask: 0xffff,
            sport: 0,
            sport_mask: 0,
            family: AF_INET,
            prefixlen_d: 16,
            prefixlen_s: 16,
            proto: 6,
            ifindex: 0,
            user: 0,
        },
        lft: LifetimeCfg::default(),
        curlft: LifetimeCur {
            add_time: 1_704_067_200,
            ..LifetimeCur::default()
        },
        priority: 0x8000_0000,
        index: 0x41,
        dir: 1,
        action: 0,
        flags: 0,
        share: 0,
    };
    let templates = tmpl_attr(&[
        template(
            translate::IPPROTO_ESP,
            Some(("192.0.2.1", "192.0.2.2")),
            AF_INET,
            0,
        ),
        template(translate::IPPROTO_AH, None, AF_INET, 0x4005),
        template(translate::IPPROTO_COMP, None, AF_INET, 1),
    ]);
    let pol_attrs = vec![
        templates.clone(),
        sec_ctx_attr(b"system_u:object_r:ipsec_spd_t:s0\0"),
        policy_type_attr(0),
    ];
    datagrams.push(frame(
        msg::NEWPOLICY,
        NLM_F_MULTI,
        10,
        policy_payload(&pol, &pol_attrs),
    ));
    let mut v6pol = pol;
    v6pol.sel.family = AF_INET6;
    v6pol.sel.daddr = address("2001:db8:2::");
    v6pol.sel.saddr = address("2001:db8:1::");
    v6pol.sel.prefixlen_d = 48;
    v6pol.sel.prefixlen_s = 64;
    v6pol.dir = 0;
    v6pol.lft.hard_add_expires_seconds = 100;
    let v6tmpl = tmpl_attr(&[template(
        translate::IPPROTO_ESP,
        Some(("2001:db8::1", "2001:db8::2")),
        AF_INET6,
        3,
    )]);
    datagrams.push(frame(
        msg::NEWPOLICY,
        0,
        11,
        policy_payload(&v6pol, std::slice::from_ref(&v6tmpl)),
    ));
    let mut block = pol;
    block.action = 1;
    block.dir = 2;
    datagrams.push(frame(msg::NEWPOLICY, 0, 12, policy_payload(&block, &[])));
    let mut socket = pol;
    socket.dir = 3;
    let mut dump = frame(
        msg::NEWPOLICY,
        NLM_F_MULTI,
        13,
        policy_payload(&socket, &[policy_type_attr(0)]),
    );
    dump.extend(frame(
        msg::NEWPOLICY,
        NLM_F_MULTI,
        13,
        policy_payload(&pol, &pol_attrs[..1]),
    ));
    dump.extend(done(13));
    datagrams.push(dump);

    // Acknowledgements: plain, refused with extended-ACK text, uncapped
    // (the whole request echoed); a failed dump.
    let request = NlHeader {
        len: 16 + 64,
        msg_type: msg::GETPOLICY,
        flags: 1,
        seq: 14,
        pid: 0,
    };
    let mut ack = Vec::new();
    NlError {
        error: 0,
        request,
        message: None,
    }
    .emit(&mut ack);
    datagrams.push(frame(NLMSG_ERROR, NLM_F_CAPPED, 14, ack));
    let mut refused = Vec::new();
    NlError {
        error: -libc::ENOENT,
        request,
        message: Some("Policy not found".into()),
    }
    .emit(&mut refused);
    datagrams.push(frame(
        NLMSG_ERROR,
        NLM_F_CAPPED | NLM_F_ACK_TLVS,
        14,
        refused,
    ));
    let mut echoed = (-libc::EINVAL).to_ne_bytes().to_vec();
    request.emit(&mut echoed);
    let mut id = Vec::new();
    UserpolicyId {
        sel: pol.sel,
        index: 0,
        dir: 1,
    }
    .emit(&mut id);
    echoed.extend_from_slice(&id);
    Attr::new(1, b"Invalid selector\0".to_vec()).emit(&mut echoed);
    datagrams.push(frame(NLMSG_ERROR, NLM_F_ACK_TLVS, 14, echoed));
    datagrams.push(frame(
        NLMSG_DONE,
        NLM_F_MULTI,
        15,
        (-libc::EINTR).to_ne_bytes().to_vec(),
    ));

    event_seeds(datagrams, &esn, &full, &pol, &pol_attrs);

    attrs.extend(full);
    attrs.extend(aead);
    attrs.extend(deflate);
    attrs.extend([templates, v6tmpl, policy_type_attr(0), esn_attr(0, 0)]);
}

/// `xfrm_user_expire`: the SA, `hard`, padding.
fn expire_payload(info: &UsersaInfo, hard: u8) -> Vec<u8> {
    let mut p = Vec::new();
    info.emit(&mut p);
    p.push(hard);
    p.resize(EXPIRE_LEN, 0);
    p
}

/// `xfrm_user_polexpire`: the policy, `hard`, padding.
fn polexpire_payload(info: &UserpolicyInfo, hard: u8) -> Vec<u8> {
    let mut p = Vec::new();
    info.emit(&mut p);
    p.push(hard);
    p.resize(POLEXPIRE_LEN, 0);
    p
}

/// `xfrm_user_acquire` and its attributes.
#[allow(clippy::too_many_arguments)]
fn acquire_payload(
    id: XfrmId,
    saddr: XfrmAddress,
    sel: &Selector,
    policy: &UserpolicyInfo,
    algos: [u32; 3],
    seq: u32,
    attrs: &[Attr],
) -> Vec<u8> {
    let mut p = Vec::new();
    UserTmpl {
        id,
        ..UserTmpl::default()
    }
    .emit(&mut p);
    p.truncate(XfrmId::LEN);
    p.extend_from_slice(&saddr.0);
    sel.emit(&mut p);
    policy.emit(&mut p);
    for a in algos {
        p.extend_from_slice(&a.to_ne_bytes());
    }
    p.extend_from_slice(&seq.to_ne_bytes());
    debug_assert_eq!(p.len(), ACQUIRE_LEN);
    for a in attrs {
        a.emit(&mut p);
    }
    p
}

/// The monitor's events: an SA added then expiring (soft, hard) and
/// deleted, a policy deleted and expiring, flushes, acquires.
fn event_seeds(
    datagrams: &mut Vec<Vec<u8>>,
    sa: &UsersaInfo,
    sa_attrs: &[Attr],
    pol: &UserpolicyInfo,
    pol_attrs: &[Attr],
) {
    let mut info = Vec::new();
    sa.emit(&mut info);
    let id = UsersaId {
        daddr: sa.id.daddr,
        spi: sa.id.spi,
        family: sa.family,
        proto: sa.id.proto,
    };
    let mut deleted = Vec::new();
    id.emit(&mut deleted);
    Attr::new(attr::SA, info).emit(&mut deleted);
    for a in sa_attrs {
        a.emit(&mut deleted);
    }
    let mut run = frame(msg::NEWSA, 0, 20, sa_payload(sa, sa_attrs));
    run.extend(frame(event::EXPIRE, 0, 0, expire_payload(sa, 0)));
    run.extend(frame(event::EXPIRE, 0, 0, expire_payload(sa, 1)));
    run.extend(frame(msg::DELSA, 0, 21, deleted));
    datagrams.push(run);
    datagrams.push(frame(msg::UPDSA, 0, 22, sa_payload(sa, sa_attrs)));
    datagrams.push(frame(event::EXPIRE, 0, 0, expire_payload(sa, 1)));

    let mut info = Vec::new();
    pol.emit(&mut info);
    for index in [0, pol.index] {
        let mut deleted = Vec::new();
        UserpolicyId {
            sel: pol.sel,
            index,
            dir: pol.dir,
        }
        .emit(&mut deleted);
        Attr::new(attr::POLICY, info.clone()).emit(&mut deleted);
        for a in pol_attrs {
            a.emit(&mut deleted);
        }
        datagrams.push(frame(msg::DELPOLICY, 0, 23, deleted));
    }
    datagrams.push(frame(msg::UPDPOLICY, 0, 24, policy_payload(pol, pol_attrs)));
    datagrams.push(frame(event::POLEXPIRE, 0, 0, polexpire_payload(pol, 1)));
    let mut flushes = frame(msg::FLUSHSA, 0, 25, vec![translate::IPSEC_PROTO_ANY]);
    flushes.extend(frame(msg::FLUSHSA, 0, 26, vec![translate::IPPROTO_ESP]));
    let mut main = Vec::new();
    policy_type_attr(0).emit(&mut main);
    flushes.extend(frame(msg::FLUSHPOLICY, 0, 27, main));
    datagrams.push(flushes);
    let templates = tmpl_attr(&[
        template(translate::IPPROTO_ESP, None, AF_INET, 0),
        template(
            translate::IPPROTO_AH,
            Some(("192.0.2.1", "10.0.0.2")),
            AF_INET,
            7,
        ),
    ]);
    for (proto, algos) in [
        (translate::IPPROTO_ESP, [u32::MAX; 3]),
        (translate::IPPROTO_AH, [0x0000_0f0f, 0, 0]),
    ] {
        datagrams.push(frame(
            event::ACQUIRE,
            0,
            0,
            acquire_payload(
                XfrmId {
                    daddr: sa.id.daddr,
                    spi: 0,
                    proto,
                },
                sa.saddr,
                &pol.sel,
                pol,
                algos,
                0x100,
                &[
                    templates.clone(),
                    sec_ctx_attr(b"system_u:object_r:ipsec_spd_t:s0"),
                ],
            ),
        ));
    }
}

impl Seeds {
    fn build() -> Seeds {
        let mut datagrams = Vec::new();
        let mut attrs = Vec::new();
        hand_built_seeds(&mut datagrams, &mut attrs);
        corpus_seeds(&mut datagrams);
        assert!(datagrams.len() > 50, "only {} seeds", datagrams.len());
        // Attributes of the corpus SAs too (their keys and algorithms).
        for d in &datagrams {
            for (h, p) in lenient_messages(d) {
                if h.msg_type == msg::NEWSA
                    && let Some((_, a)) = state_of(p)
                {
                    attrs.extend(a);
                }
            }
        }
        Seeds { datagrams, attrs }
    }
}

// ---------------------------------------------------------------------------
// Generators.

/// A random buffer, half of the time behind a plausible header.
fn random_datagram(rng: &mut Rng, _: &Seeds) -> Vec<u8> {
    let most = if rng.chance(4) { 1024 } else { 320 };
    let n = rng.below(most);
    let mut b = rng.bytes(n);
    if rng.chance(2) && b.len() >= NLMSG_HDRLEN {
        let t = *rng
            .pick(&[
                msg::NEWSA,
                msg::NEWPOLICY,
                NLMSG_ERROR,
                NLMSG_DONE,
                msg::UPDSA,
                msg::DELSA,
                msg::DELPOLICY,
                msg::FLUSHSA,
                msg::FLUSHPOLICY,
                event::EXPIRE,
                event::ACQUIRE,
            ])
            .unwrap_or(&msg::NEWSA);
        b[4..6].copy_from_slice(&t.to_ne_bytes());
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        b[0..4].copy_from_slice(&len.to_ne_bytes());
    }
    b
}

/// A message of a datagram, with the attribute runs inside it, as far as
/// they can be walked.
struct Span {
    off: usize,
    len: usize,
    /// Where the fixed structure of the payload starts and ends.
    fixed: (usize, usize),
    attrs: Vec<(usize, usize)>,
}

/// The size of the fixed part of a payload of this type: attributes
/// follow it.
fn fixed_len(msg_type: u16, flags: u16, payload: &[u8]) -> usize {
    match msg_type {
        msg::NEWSA | msg::UPDSA => UsersaInfo::LEN,
        msg::NEWPOLICY | msg::UPDPOLICY => UserpolicyInfo::LEN,
        msg::ALLOCSPI => UserspiInfo::LEN,
        msg::GETPOLICY | msg::DELPOLICY => UserpolicyId::LEN,
        msg::GETSA | msg::DELSA => UsersaId::LEN,
        msg::FLUSHSA => 1,
        msg::FLUSHPOLICY => 0,
        event::EXPIRE => EXPIRE_LEN,
        event::POLEXPIRE => POLEXPIRE_LEN,
        event::ACQUIRE => ACQUIRE_LEN,
        NLMSG_ERROR if flags & NLM_F_CAPPED != 0 => 4 + NLMSG_HDRLEN,
        NLMSG_ERROR => {
            let echoed = payload
                .get(4..8)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
            4 + align4(echoed.max(NLMSG_HDRLEN))
        }
        _ => payload.len(),
    }
}

fn layout(buf: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let Ok(h) = NlHeader::parse(&buf[off..]) else {
            break;
        };
        let len = h.len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - off {
            break;
        }
        let payload = &buf[off + NLMSG_HDRLEN..off + len];
        let start = off + NLMSG_HDRLEN;
        let fixed_end = start + fixed_len(h.msg_type, h.flags, payload).min(payload.len());
        let mut attrs = Vec::new();
        let mut a = fixed_end;
        while a + 4 <= off + len {
            let alen = usize::from(u16::from_ne_bytes([buf[a], buf[a + 1]]));
            if alen < 4 || a + alen > off + len {
                break;
            }
            attrs.push((a, alen));
            a += align4(alen);
        }
        out.push(Span {
            off,
            len,
            fixed: (start, fixed_end),
            attrs,
        });
        off += align4(len);
    }
    out
}

/// Sets the `nlmsg_len` of the message at `off`.
fn set_len(buf: &mut [u8], off: usize, len: usize) {
    if let Some(field) = buf.get_mut(off..off + 4) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        field.copy_from_slice(&len.to_ne_bytes());
    }
}

const INTERESTING_U8: &[u8] = &[0, 1, 2, 3, 4, 7, 8, 10, 31, 32, 33, 64, 127, 128, 254, 255];
const INTERESTING_U16: &[u16] = &[
    0, 1, 2, 3, 4, 5, 7, 8, 10, 16, 63, 64, 255, 256, 4500, 0x3fff, 0x7fff, 0x8000, 0xfffe, 0xffff,
];
const INTERESTING_U32: &[u32] = &[
    0,
    1,
    7,
    8,
    9,
    64,
    65,
    0x3fff,
    0x4000,
    0xffff,
    0x1_0000,
    0x1_0008,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fff8,
    0xffff_ffff,
];
const INTERESTING_U64: &[u64] = &[
    0,
    1,
    1_704_067_200,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

/// Writes an interesting value of a random width at `at`.
fn poke(rng: &mut Rng, buf: &mut [u8], at: usize) {
    let v: Vec<u8> = match rng.below(4) {
        0 => vec![*rng.pick(INTERESTING_U8).unwrap_or(&0)],
        1 => rng
            .pick(INTERESTING_U16)
            .unwrap_or(&0)
            .to_ne_bytes()
            .to_vec(),
        2 => rng
            .pick(INTERESTING_U32)
            .unwrap_or(&0)
            .to_ne_bytes()
            .to_vec(),
        _ => rng
            .pick(INTERESTING_U64)
            .unwrap_or(&0)
            .to_ne_bytes()
            .to_vec(),
    };
    for (i, b) in v.into_iter().enumerate() {
        if let Some(slot) = buf.get_mut(at + i) {
            *slot = b;
        }
    }
}

/// Offsets of the fields that matter in the fixed structures (relative to
/// the payload): families, modes, prefixes, protocols, flags, lifetimes.
const SA_FIELDS: &[usize] = &[
    32, 36, 40, 42, 43, 44, 48, 72, 76, 96, 104, 128, 136, 160, 168, 176, 184, 192, 208, 212, 214,
    215, 216,
];
const POLICY_FIELDS: &[usize] = &[
    32, 36, 40, 42, 43, 44, 56, 64, 88, 96, 120, 128, 136, 144, 152, 156, 160, 161, 162, 163,
];
/// Offsets inside attribute values (after the 4-byte attribute header):
/// `xfrm_algo` key and truncation lengths, the context header and length,
/// the ESN bitmap length and window, template family and mode.
const VALUE_FIELDS: &[usize] = &[0, 2, 4, 6, 20, 24, 48, 50, 63, 64, 68, 72, 112];

/// One mutation of `m`; `seeds` provides material for splicing.
fn mutate(rng: &mut Rng, m: &mut Vec<u8>, seeds: &Seeds) {
    let spans = layout(m);
    let span = rng.pick(&spans);
    match rng.below(14) {
        // Bit flips.
        0 => rng.flip_bits(m),
        // An interesting value anywhere.
        1 => {
            let at = rng.below(m.len());
            poke(rng, m, at);
        }
        // nlmsg_len: extreme, off by a little, or random.
        2 => {
            if let Some(s) = span {
                let v = match rng.below(4) {
                    0 => u64::from(*rng.pick(INTERESTING_U32).unwrap_or(&0)),
                    1 => (s.len + rng.below(9)) as u64,
                    2 => s.len.saturating_sub(rng.below(9)) as u64,
                    _ => rng.next() & 0xffff_ffff,
                };
                set_len(m, s.off, v as usize);
            }
        }
        // nla_len of an attribute.
        3 => {
            if let Some(&(a, alen)) = span.and_then(|s| rng.pick(&s.attrs)) {
                let v = match rng.below(4) {
                    0 => *rng.pick(INTERESTING_U16).unwrap_or(&0),
                    1 => (alen + rng.below(9)) as u16,
                    2 => alen.saturating_sub(rng.below(9)) as u16,
                    _ => rng.next() as u16,
                };
                m[a..a + 2].copy_from_slice(&v.to_ne_bytes());
            }
        }
        // nla_type of an attribute: another known kind, flag bits, random.
        4 => {
            if let Some(&(a, _)) = span.and_then(|s| rng.pick(&s.attrs)) {
                let v = match rng.below(3) {
                    0 => *rng.pick(KINDS).unwrap_or(&0),
                    1 => u16::from_ne_bytes([m[a + 2], m[a + 3]]) | 0x8000,
                    _ => rng.next() as u16,
                };
                m[a + 2..a + 4].copy_from_slice(&v.to_ne_bytes());
            }
        }
        // Insert an attribute (from the seeds or generated), with or
        // without fixing nlmsg_len.
        5 | 6 => {
            if let Some(s) = span {
                let a = if rng.chance(2) {
                    seeds.attrs[rng.below(seeds.attrs.len())].clone()
                } else {
                    generated_attr(rng)
                };
                let mut bytes = Vec::new();
                a.emit(&mut bytes);
                let at = rng
                    .pick(&s.attrs)
                    .map_or(s.off + s.len, |&(o, _)| o)
                    .min(m.len());
                let len = s.len + bytes.len();
                m.splice(at..at, bytes);
                if !rng.chance(8) {
                    set_len(m, s.off, len);
                }
            }
        }
        // Duplicate or remove an attribute.
        7 => {
            if let Some(s) = span
                && let Some(&(a, alen)) = rng.pick(&s.attrs)
            {
                let end = (a + align4(alen)).min(m.len());
                if rng.chance(2) {
                    let piece = m[a..end].to_vec();
                    let len = s.len + piece.len();
                    m.splice(a..a, piece);
                    set_len(m, s.off, len);
                } else {
                    let len = s.len - (end - a);
                    m.drain(a..end);
                    set_len(m, s.off, len);
                }
            }
        }
        // A field of the fixed structure.
        8 => {
            if let Some(s) = span {
                let fields = if s.fixed.1 - s.fixed.0 == UserpolicyInfo::LEN {
                    POLICY_FIELDS
                } else {
                    SA_FIELDS
                };
                let at = s.fixed.0 + *rng.pick(fields).unwrap_or(&0);
                if at < s.fixed.1 {
                    poke(rng, m, at);
                }
            }
        }
        // A field inside an attribute value (lengths, families, modes).
        9 => {
            if let Some(&(a, alen)) = span.and_then(|s| rng.pick(&s.attrs)) {
                let at = a + 4 + *rng.pick(VALUE_FIELDS).unwrap_or(&0);
                if at < a + alen {
                    poke(rng, m, at);
                }
            }
        }
        // Truncation, with or without a matching nlmsg_len.
        10 => {
            let n = rng.below(m.len() + 1);
            m.truncate(n);
            if rng.chance(2)
                && let Some(s) = layout_prefix(m)
            {
                let len = m.len() - s;
                set_len(m, s, len);
            }
        }
        // Another seed's messages after these (a dump continues), or a
        // message of this one repeated.
        11 => {
            if rng.chance(2) {
                let other = &seeds.datagrams[rng.below(seeds.datagrams.len())];
                m.resize(align4(m.len()), 0);
                m.extend_from_slice(other);
            } else if let Some(s) = span {
                let end = (s.off + align4(s.len)).min(m.len());
                let piece = m[s.off..end].to_vec();
                m.extend(piece);
            }
        }
        // Random bytes over a stretch.
        12 => {
            if !m.is_empty() {
                let start = rng.below(m.len());
                for b in m.iter_mut().skip(start).take(rng.below(16) + 1) {
                    *b = rng.next() as u8;
                }
            }
        }
        // Header fields: type, flags.
        _ => {
            if let Some(s) = span {
                let at = s.off + 4 + 2 * rng.below(2);
                let v = match rng.below(3) {
                    0 => *rng
                        .pick(&[
                            msg::NEWSA,
                            msg::NEWPOLICY,
                            NLMSG_ERROR,
                            NLMSG_DONE,
                            msg::ALLOCSPI,
                            msg::GETSA,
                            msg::DELSA,
                            msg::DELPOLICY,
                            event::EXPIRE,
                            event::ACQUIRE,
                        ])
                        .unwrap_or(&0),
                    1 => *rng
                        .pick(&[NLM_F_CAPPED, NLM_F_ACK_TLVS, NLM_F_MULTI, 0x0300, 0])
                        .unwrap_or(&0),
                    _ => rng.next() as u16,
                };
                m[at..at + 2].copy_from_slice(&v.to_ne_bytes());
            }
        }
    }
}

/// The offset of the message a truncated buffer ends in.
fn layout_prefix(m: &[u8]) -> Option<usize> {
    let mut off = 0;
    let mut last = None;
    while off + NLMSG_HDRLEN <= m.len() {
        last = Some(off);
        let len = u32::from_ne_bytes([m[off], m[off + 1], m[off + 2], m[off + 3]]) as usize;
        if len < NLMSG_HDRLEN {
            break;
        }
        off += align4(len);
    }
    last
}

fn mutated_seed(rng: &mut Rng, seeds: &Seeds) -> Vec<u8> {
    let mut m = seeds.datagrams[rng.below(seeds.datagrams.len())].clone();
    for _ in 0..=rng.below(4) {
        mutate(rng, &mut m, seeds);
    }
    m
}

/// `sizeof(struct xfrm_user_expire)`.
const EXPIRE_LEN: usize = 232;
/// `sizeof(struct xfrm_user_polexpire)`.
const POLEXPIRE_LEN: usize = 176;
/// `sizeof(struct xfrm_user_acquire)`.
const ACQUIRE_LEN: usize = 280;

/// A deletion event's attributes after its identity: generated ones, and
/// mostly (3 in 4) the deleted object's (`kind`, `info`) among them.
fn deleted_attrs(rng: &mut Rng, kind: u16, info: Vec<u8>, p: &mut Vec<u8>) {
    let mut attrs = generated_attrs(rng);
    if !rng.chance(4) {
        let at = rng.below(attrs.len() + 1);
        attrs.insert(at, Attr::new(kind, info));
    }
    for a in &attrs {
        a.emit(p);
    }
}

/// Attribute kinds: every one the decoders know, some they do not.
const KINDS: &[u16] = &[
    attr::ALG_AUTH,
    attr::ALG_CRYPT,
    attr::ALG_COMP,
    attr::ENCAP,
    attr::TMPL,
    attr::SEC_CTX,
    attr::POLICY_TYPE,
    attr::ALG_AEAD,
    attr::ALG_AUTH_TRUNC,
    attr::REPLAY_ESN_VAL,
    attr::SA,
    attr::POLICY,
    0,
    9,
    15,
    31,
    0x7fff,
];

fn random_u8(rng: &mut Rng) -> u8 {
    if rng.chance(2) {
        *rng.pick(INTERESTING_U8).unwrap_or(&0)
    } else {
        rng.next() as u8
    }
}

fn random_u16(rng: &mut Rng) -> u16 {
    if rng.chance(2) {
        *rng.pick(INTERESTING_U16).unwrap_or(&0)
    } else {
        rng.next() as u16
    }
}

fn random_u32(rng: &mut Rng) -> u32 {
    if rng.chance(2) {
        *rng.pick(INTERESTING_U32).unwrap_or(&0)
    } else {
        rng.next() as u32
    }
}

fn random_u64(rng: &mut Rng) -> u64 {
    if rng.chance(2) {
        *rng.pick(INTERESTING_U64).unwrap_or(&0)
    } else {
        rng.next()
    }
}

fn random_family(rng: &mut Rng) -> u16 {
    match rng.below(8) {
        0..=3 => AF_INET,
        4..=6 => AF_INET6,
        _ => random_u16(rng),
    }
}

fn random_mode(rng: &mut Rng) -> u8 {
    if rng.chance(4) {
        random_u8(rng)
    } else {
        rng.below(6) as u8
    }
}

fn random_address(rng: &mut Rng) -> XfrmAddress {
    let mut a = [0u8; 16];
    match rng.below(4) {
        0 => {}
        1 => a[..4].copy_from_slice(&rng.bytes(4)),
        _ => a.copy_from_slice(&rng.bytes(16)),
    }
    XfrmAddress(a)
}

fn random_selector(rng: &mut Rng) -> Selector {
    Selector {
        daddr: random_address(rng),
        saddr: random_address(rng),
        dport: random_u16(rng),
        dport_mask: random_u16(rng),
        sport: random_u16(rng),
        sport_mask: random_u16(rng),
        family: random_family(rng),
        prefixlen_d: random_u8(rng),
        prefixlen_s: random_u8(rng),
        proto: random_u8(rng),
        ifindex: random_u32(rng) as i32,
        user: random_u32(rng),
    }
}

fn random_lifetimes(rng: &mut Rng) -> (LifetimeCfg, LifetimeCur) {
    let mut lft = LifetimeCfg::default();
    if !rng.chance(3) {
        lft = LifetimeCfg {
            soft_byte_limit: random_u64(rng),
            hard_byte_limit: random_u64(rng),
            soft_packet_limit: random_u64(rng),
            hard_packet_limit: random_u64(rng),
            soft_add_expires_seconds: random_u64(rng),
            hard_add_expires_seconds: random_u64(rng),
            soft_use_expires_seconds: random_u64(rng),
            hard_use_expires_seconds: random_u64(rng),
        };
    }
    let cur = LifetimeCur {
        bytes: random_u64(rng),
        packets: random_u64(rng),
        add_time: random_u64(rng),
        use_time: random_u64(rng),
    };
    (lft, cur)
}

fn random_usersa(rng: &mut Rng) -> UsersaInfo {
    let (lft, curlft) = random_lifetimes(rng);
    UsersaInfo {
        sel: random_selector(rng),
        id: XfrmId {
            daddr: random_address(rng),
            spi: random_u32(rng),
            proto: *rng.pick(&[50, 51, 108, 255, 0, 4]).unwrap_or(&50),
        },
        saddr: random_address(rng),
        lft,
        curlft,
        stats: [random_u32(rng), random_u32(rng), random_u32(rng)],
        seq: random_u32(rng),
        reqid: random_u32(rng),
        family: random_family(rng),
        mode: random_mode(rng),
        replay_window: random_u8(rng),
        flags: random_u8(rng),
    }
}

fn random_userpolicy(rng: &mut Rng) -> UserpolicyInfo {
    let (lft, curlft) = random_lifetimes(rng);
    UserpolicyInfo {
        sel: random_selector(rng),
        lft,
        curlft,
        priority: random_u32(rng),
        index: random_u32(rng),
        dir: random_u8(rng) % 8,
        action: random_u8(rng) % 4,
        flags: random_u8(rng),
        share: random_u8(rng),
    }
}

/// The crypto API name of one of the kernel's rows.
fn random_kernel_name(rng: &mut Rng, rows: impl Iterator<Item = algorithms::Algorithm>) -> String {
    let rows: Vec<_> = rows.collect();
    rows[rng.below(rows.len())].name.into()
}

fn random_name(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => random_kernel_name(rng, algorithms::auth()),
        1 => random_kernel_name(rng, algorithms::encrypt()),
        2 => random_kernel_name(rng, algorithms::compress()),
        3 => "x".repeat(rng.below(ALG_NAME_LEN + 8)),
        _ => {
            let n = rng.below(ALG_NAME_LEN);
            String::from_utf8_lossy(&rng.bytes(n)).into_owned()
        }
    }
}

/// One attribute of a random kind: a well-formed value of that kind (with
/// random fields) or random bytes.
fn generated_attr(rng: &mut Rng) -> Attr {
    let kind = *rng.pick(KINDS).unwrap_or(&0);
    if rng.chance(5) {
        let n = rng.below(300);
        return Attr::new(kind, rng.bytes(n));
    }
    let mut v = Vec::new();
    match kind {
        attr::ALG_AUTH
        | attr::ALG_CRYPT
        | attr::ALG_COMP
        | attr::ALG_AEAD
        | attr::ALG_AUTH_TRUNC => {
            let key_bits = match rng.below(64) {
                // more bits than PF_KEY's 16-bit sadb_key_bits holds, with
                // all their bytes (up to what a 16-bit nla_len allows)
                0 => 65_536 + rng.below(60_000 * 8 - 65_536) as u32,
                1..=32 => 8 * rng.below(80) as u32,
                _ => random_u32(rng),
            };
            // The key is as long as the bits say, up to what fits in an
            // attribute (its length field is 16 bits).
            let key_len = (key_bits as usize).div_ceil(8).min(60_000);
            let algo = Algo {
                name: random_name(rng),
                key_bits,
                trunc_bits: random_u32(rng),
                key: Zeroizing::new(rng.bytes(key_len)),
            };
            let with_trunc = match kind {
                attr::ALG_AUTH_TRUNC | attr::ALG_AEAD => !rng.chance(8),
                _ => rng.chance(8),
            };
            algo.emit(with_trunc, &mut v);
        }
        attr::ENCAP => EncapTmpl {
            encap_type: random_u16(rng),
            sport: random_u16(rng),
            dport: random_u16(rng),
            oa: random_address(rng),
        }
        .emit(&mut v),
        attr::TMPL => {
            for _ in 0..rng.below(9) {
                UserTmpl {
                    id: XfrmId {
                        daddr: random_address(rng),
                        spi: random_u32(rng),
                        proto: *rng.pick(&[50, 51, 108, 43, 60, 0, 255]).unwrap_or(&50),
                    },
                    family: random_family(rng),
                    saddr: random_address(rng),
                    reqid: random_u32(rng),
                    mode: random_mode(rng),
                    share: random_u8(rng),
                    optional: random_u8(rng),
                    aalgos: random_u32(rng),
                    ealgos: random_u32(rng),
                    calgos: random_u32(rng),
                }
                .emit(&mut v);
            }
            if rng.chance(8) {
                let n = rng.below(64);
                v.extend(rng.bytes(n));
            }
        }
        attr::SEC_CTX => {
            let n = rng.below(300);
            UserSecCtx {
                alg: random_u8(rng),
                doi: random_u8(rng),
                context: rng.bytes(n),
            }
            .emit(&mut v);
        }
        attr::REPLAY_ESN_VAL => {
            let a = esn_attr(random_u32(rng), rng.below(8) as u32);
            v = a.value.to_vec();
            if rng.chance(4) {
                v[..4].copy_from_slice(&random_u32(rng).to_ne_bytes());
            }
        }
        attr::POLICY_TYPE => v = vec![random_u8(rng); 1 + rng.below(8)],
        attr::SA => random_usersa(rng).emit(&mut v),
        attr::POLICY => random_userpolicy(rng).emit(&mut v),
        _ => {
            let n = rng.below(64);
            v = rng.bytes(n);
        }
    }
    Attr::new(kind, v)
}

fn generated_attrs(rng: &mut Rng) -> Vec<Attr> {
    (0..rng.below(9)).map(|_| generated_attr(rng)).collect()
}

/// An SA of the datagram so far (for events about it), or a new one.
fn some_sa(rng: &mut Rng, known: &[UsersaInfo]) -> UsersaInfo {
    match rng.pick(known) {
        Some(sa) if rng.chance(2) => *sa,
        _ => random_usersa(rng),
    }
}

/// One to four netlink messages — SAs, policies, acknowledgements, ends of
/// dumps, and the monitor's events (deletions, expiries, acquires,
/// flushes), often about an SA added earlier in the same datagram — with
/// random fixed structures and attribute lists.
fn generated_datagram(rng: &mut Rng, _: &Seeds) -> Vec<u8> {
    let mut out = Vec::new();
    let mut sas = Vec::new();
    for _ in 0..=rng.below(4) {
        out.resize(align4(out.len()), 0);
        let seq = random_u32(rng);
        let flags = if rng.chance(2) {
            NLM_F_MULTI
        } else {
            random_u16(rng)
        };
        let (t, p) = match rng.below(16) {
            0..=5 => {
                let info = random_usersa(rng);
                sas.push(info);
                let t = if rng.chance(4) {
                    msg::UPDSA
                } else {
                    msg::NEWSA
                };
                (t, sa_payload(&info, &generated_attrs(rng)))
            }
            6..=8 => {
                let info = random_userpolicy(rng);
                let t = if rng.chance(4) {
                    msg::UPDPOLICY
                } else {
                    msg::NEWPOLICY
                };
                (t, policy_payload(&info, &generated_attrs(rng)))
            }
            9 => {
                let mut p = Vec::new();
                NlError {
                    error: -(rng.below(200) as i32),
                    request: NlHeader {
                        len: random_u32(rng),
                        msg_type: random_u16(rng),
                        flags: random_u16(rng),
                        seq: random_u32(rng),
                        pid: random_u32(rng),
                    },
                    message: rng.chance(2).then(|| {
                        let n = rng.below(80);
                        String::from_utf8_lossy(&rng.bytes(n)).into_owned()
                    }),
                }
                .emit(&mut p);
                if rng.chance(2) {
                    let n = rng.below(300);
                    p.extend(rng.bytes(n));
                }
                let f = *rng
                    .pick(&[
                        0,
                        NLM_F_CAPPED,
                        NLM_F_ACK_TLVS,
                        NLM_F_CAPPED | NLM_F_ACK_TLVS,
                    ])
                    .unwrap_or(&0);
                out.extend(frame(NLMSG_ERROR, f, seq, p));
                continue;
            }
            10 => (NLMSG_DONE, random_u32(rng).to_ne_bytes().to_vec()),
            11 => {
                let sa = some_sa(rng, &sas);
                let mut p = Vec::new();
                UsersaId {
                    daddr: sa.id.daddr,
                    spi: sa.id.spi,
                    family: sa.family,
                    proto: sa.id.proto,
                }
                .emit(&mut p);
                let mut info = Vec::new();
                sa.emit(&mut info);
                deleted_attrs(rng, attr::SA, info, &mut p);
                (msg::DELSA, p)
            }
            12 => {
                let pol = random_userpolicy(rng);
                let mut p = Vec::new();
                UserpolicyId {
                    sel: pol.sel,
                    index: if rng.chance(2) { 0 } else { pol.index },
                    dir: pol.dir,
                }
                .emit(&mut p);
                let mut info = Vec::new();
                pol.emit(&mut info);
                deleted_attrs(rng, attr::POLICY, info, &mut p);
                (msg::DELPOLICY, p)
            }
            13 => {
                let sa = some_sa(rng, &sas);
                let mut p = expire_payload(&sa, random_u8(rng));
                if rng.chance(8) {
                    let n = rng.below(EXPIRE_LEN);
                    p.truncate(n);
                }
                (event::EXPIRE, p)
            }
            14 => {
                let sa = some_sa(rng, &sas);
                let mut id = sa.id;
                id.proto = *rng.pick(&[50, 51, 108, 0, 255]).unwrap_or(&50);
                let algos = [random_u32(rng), random_u32(rng), random_u32(rng)];
                let p = acquire_payload(
                    id,
                    sa.saddr,
                    &random_selector(rng),
                    &random_userpolicy(rng),
                    algos,
                    random_u32(rng),
                    &generated_attrs(rng),
                );
                (event::ACQUIRE, p)
            }
            _ => match rng.below(3) {
                0 => (msg::FLUSHSA, vec![random_u8(rng)]),
                1 => {
                    let mut p = Vec::new();
                    for a in generated_attrs(rng) {
                        a.emit(&mut p);
                    }
                    (msg::FLUSHPOLICY, p)
                }
                _ => (
                    event::POLEXPIRE,
                    polexpire_payload(&random_userpolicy(rng), random_u8(rng)),
                ),
            },
        };
        out.extend(frame(t, flags, seq, p));
    }
    out
}
