//! `sockaddr_in` / `sockaddr_in6` as PF_KEY carries them.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::BytesMut;

use super::{AF_INET, AF_INET6, SOCKADDR_IN_LEN, SOCKADDR_IN6_LEN, WireError};
use crate::codec::{Reader, Sink, Writer};

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

pub(super) fn write_sockaddr<S: Sink + ?Sized>(w: &mut Writer<'_, S>, addr: &SocketAddr) {
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
