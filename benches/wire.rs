//! Byte codec throughput: encoding and decoding PF_KEY messages, XFRM
//! netlink structures and attributes, and the kdebug decoder of `-x`.
//!
//! Each benchmark works on a batch of 1 000 messages of the kind a dump of
//! a large SAD carries (an ESP SA in tunnel mode with both keys, its
//! lifetimes and addresses). See `benches/README.md`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rsetkey::dump::kdebug::write_kdebug;
use rsetkey::ir::Keys;
use rsetkey::pfkey::wire::{
    AddressExt, AddressKind, Extension, Header, KeyExt, KeyKind, LifetimeExt, LifetimeKind,
    Message, MessageType, SATYPE_ESP, Sa2Ext, SaExt, messages,
};
use rsetkey::xfrm::netlink::{Attr, NlHeader, NlMessage, emit_attrs};
use rsetkey::xfrm::wire::{Algo, UsersaInfo, XfrmAddress, attr};

const BATCH: u32 = 1000;

fn sa_message(i: u32) -> Message {
    let mut m = Message::new(Header::request(MessageType::Dump, SATYPE_ESP, 4242));
    m.header.seq = i;
    let addr =
        |last: u32| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 8) | last)), 0);
    m.extensions = vec![
        Extension::Sa(SaExt {
            spi: 0x1000 + i,
            replay: 4,
            state: 1,
            auth: 5,
            encrypt: 12,
            flags: 0,
        }),
        Extension::Sa2(Sa2Ext {
            mode: 2,
            sequence: 0,
            reqid: i,
        }),
        Extension::Lifetime(
            LifetimeKind::Current,
            LifetimeExt {
                allocations: 0,
                bytes: 1 << 20,
                addtime: 1_700_000_000,
                usetime: 0,
            },
        ),
        Extension::Lifetime(LifetimeKind::Hard, LifetimeExt::default()),
        Extension::Address(
            AddressKind::Src,
            AddressExt {
                proto: 255,
                prefixlen: 32,
                addr: addr(1),
            },
        ),
        Extension::Address(
            AddressKind::Dst,
            AddressExt {
                proto: 255,
                prefixlen: 32,
                addr: addr(2),
            },
        ),
        Extension::Key(KeyKind::Auth, KeyExt::new(vec![0xaa; 32])),
        Extension::Key(KeyKind::Encrypt, KeyExt::new(vec![0x55; 16])),
    ];
    m
}

/// `xfrm_usersa_info` with an auth and a crypt attribute, as one netlink
/// message of a dump.
fn xfrm_message(i: u32) -> NlMessage {
    let mut info = UsersaInfo::default();
    info.id.spi = 0x1000 + i;
    info.id.proto = 50;
    info.id.daddr = XfrmAddress::from_ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0002 | (i << 8))));
    info.saddr = XfrmAddress::from_ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0001 | (i << 8))));
    info.family = 2;
    info.reqid = i;
    let mut payload = Vec::with_capacity(400);
    info.emit(&mut payload);
    let algo = |name: &str, key: Vec<u8>, trunc: bool| {
        let a = Algo {
            name: name.into(),
            key_bits: u32::try_from(key.len() * 8).unwrap_or(0),
            trunc_bits: 128,
            key: key.into(),
        };
        let mut v = Vec::new();
        a.emit(trunc, &mut v);
        v
    };
    let attrs = [
        Attr::new(
            attr::ALG_AUTH_TRUNC,
            algo("hmac(sha256)", vec![0xaa; 32], true),
        ),
        Attr::new(attr::ALG_CRYPT, algo("cbc(aes)", vec![0x55; 16], false)),
    ];
    emit_attrs(&attrs, &mut payload);
    NlMessage {
        header: NlHeader {
            msg_type: 0x10,
            seq: i,
            ..NlHeader::default()
        },
        payload: payload.into(),
    }
}

fn bench_pfkey(c: &mut Criterion) {
    let batch: Vec<Message> = (0..BATCH).map(sa_message).collect();
    let mut wire = BytesMut::new();
    for m in &batch {
        m.emit(&mut wire);
    }
    let mut group = c.benchmark_group("pfkey");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("emit_1000_sa", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(wire.len());
            for m in &batch {
                m.emit(&mut out);
            }
            black_box(out)
        })
    });
    group.bench_function("parse_1000_sa", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in messages(black_box(&wire)) {
                n += m.map_or(0, |m| m.extensions.len());
            }
            black_box(n)
        })
    });
    group.bench_function("kdebug_1000_sa", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            let mut ms = messages(&wire);
            while let Some(Ok(raw)) = ms.next_raw() {
                let _ = write_kdebug(&mut out, raw, Keys::Show);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_xfrm(c: &mut Criterion) {
    let batch: Vec<NlMessage> = (0..BATCH).map(xfrm_message).collect();
    let mut wire = Vec::new();
    for m in &batch {
        m.emit(&mut wire);
    }
    let mut group = c.benchmark_group("xfrm");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("emit_1000_sa", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(wire.len());
            for m in &batch {
                m.emit(&mut out);
            }
            black_box(out)
        })
    });
    group.bench_function("parse_1000_sa", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in NlMessage::parse_all(black_box(&wire)).unwrap_or_default() {
                let Ok(info) = UsersaInfo::parse(&m.payload) else {
                    continue;
                };
                let attrs = Attr::parse_all(m.payload.get(UsersaInfo::LEN..).unwrap_or_default())
                    .unwrap_or_default();
                for a in &attrs {
                    if let Ok(algo) = Algo::parse(&a.value, a.kind == attr::ALG_AUTH_TRUNC) {
                        n += algo.key.len();
                    }
                }
                n += info.reqid as usize;
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_pfkey, bench_xfrm);
criterion_main!(benches);
