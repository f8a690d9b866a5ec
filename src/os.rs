//! What rsetkey needs from the operating system beyond nix: the clock,
//! the texts setkey users see, and batch sends and receives.
//!
//! nix 0.32 does wrap `sendmmsg` and `recvmmsg`, but wants a preallocated
//! `MultiHeaders`, one address slot per message, and rebuilds every header
//! on each call; the batches here retry partial sends and interrupted
//! calls over one header array, so they call the C library directly.
//!
//! setkey prints `strerror` texts ("No such process", "Unknown error 234").
//! Rust's `io::Error` takes its text from the C library too, but appends
//! " (os error N)", which is cut off here.

use std::ops::Range;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;

/// Seconds since the epoch, as setkey's `time(NULL)`.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The C library's message for `errno`, as `strerror(3)` gives it.
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    match text.strip_suffix(&suffix) {
        Some(t) => t.to_string(),
        None => text,
    }
}

/// One `mmsghdr` per iovec, one datagram each (no address, no control
/// data); they point into `iovecs`, which must outlive their use.
fn message_headers(iovecs: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain data; all-zero is a valid value (no
            // name, no control data).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect()
}

/// One datagram of a [`receive_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where its bytes are in the buffer.
    pub range: Range<usize>,
    /// The kernel cut it short: it was longer than its slot.
    pub truncated: bool,
}

/// Waits for one datagram on `fd` (as long as the socket's receive timeout
/// allows) and takes every further one already queued, in one `recvmmsg`.
/// `buffer` is split into `slots` equal slots, one datagram each; the
/// datagrams are returned in the order they arrived. Retries when a signal
/// interrupts the wait.
///
/// Reading a queue of small datagrams one `recv` at a time costs a system
/// call each: a PF_KEY dump of 10 000 SAs is 10 000 datagrams.
pub fn receive_batch(
    fd: BorrowedFd<'_>,
    buffer: &mut [u8],
    slots: usize,
) -> Result<Vec<Datagram>, Errno> {
    let slot = buffer.len() / slots.max(1);
    if slot == 0 {
        return Err(Errno::EINVAL);
    }
    let mut iovecs: Vec<libc::iovec> = buffer
        .chunks_exact_mut(slot)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: c.len(),
        })
        .collect();
    let mut headers = message_headers(&mut iovecs);
    let count = loop {
        // SAFETY: `headers` and the iovecs they point to live across the
        // call, and each iovec covers its own slot of `buffer`, which
        // nothing else touches meanwhile (it is borrowed mutably here).
        // MSG_WAITFORONE: wait for the first datagram only.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len() as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        match Errno::result(n) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => break n as usize,
        }
    };
    Ok(headers
        .iter()
        .take(count)
        .enumerate()
        .map(|(i, h)| Datagram {
            range: i * slot..i * slot + (h.msg_len as usize).min(slot),
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        })
        .collect())
}

/// Sends `datagrams` (ranges of `buffer`) on `fd` in order, as few
/// `sendmmsg` calls as the kernel allows. Returns how many were sent, and
/// the error that stopped the rest, if any. Retries when a signal
/// interrupts a call.
pub fn send_batch(
    fd: BorrowedFd<'_>,
    buffer: &[u8],
    datagrams: &[Range<usize>],
) -> (usize, Option<Errno>) {
    let mut iovecs: Vec<libc::iovec> = datagrams
        .iter()
        .map(|r| {
            let bytes = buffer.get(r.clone()).unwrap_or_default();
            libc::iovec {
                // sendmmsg only reads through it
                iov_base: bytes.as_ptr().cast_mut().cast(),
                iov_len: bytes.len(),
            }
        })
        .collect();
    let mut headers = message_headers(&mut iovecs);
    let mut sent = 0;
    while sent < headers.len() {
        let rest = headers.get_mut(sent..).unwrap_or_default();
        // SAFETY: `rest` and the iovecs it points to live across the call;
        // the iovecs cover ranges of `buffer`, which is borrowed for the
        // whole function and only read by the kernel.
        let n = unsafe {
            libc::sendmmsg(
                fd.as_raw_fd(),
                rest.as_mut_ptr(),
                rest.len() as libc::c_uint,
                0,
            )
        };
        match Errno::result(n) {
            Err(Errno::EINTR) => continue,
            Err(e) => return (sent, Some(e)),
            // a partial batch: the call stopped at a datagram that failed;
            // sending it again reports why (or sends it)
            Ok(n) => sent += n as usize,
        }
    }
    (sent, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
    use std::os::fd::{AsFd, OwnedFd};

    /// Two connected local datagram sockets: datagrams keep their
    /// boundaries, as PF_KEY's and netlink's do.
    fn datagram_pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::Datagram,
            None,
            SockFlag::empty(),
        )
        .expect("socketpair")
    }

    #[test]
    fn a_batch_receive_takes_every_queued_datagram_in_order() {
        let (a, b) = datagram_pair();
        for d in [&b"one"[..], b"two!", &[7; 40]] {
            send(a.as_raw_fd(), d, MsgFlags::empty()).expect("send");
        }
        let mut buffer = vec![0; 4 * 16];
        let got = receive_batch(b.as_fd(), &mut buffer, 4).expect("received");
        let texts: Vec<&[u8]> = got.iter().map(|d| &buffer[d.range.clone()]).collect();
        assert_eq!(texts, [&b"one"[..], b"two!", &[7; 16]]);
        assert_eq!(
            got.iter().map(|d| d.truncated).collect::<Vec<_>>(),
            [false, false, true],
            "a datagram longer than its slot is marked"
        );
        // nothing queued: the next batch waits (here: would block)
        nix::fcntl::fcntl(
            &b,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("non-blocking");
        assert_eq!(receive_batch(b.as_fd(), &mut buffer, 4), Err(Errno::EAGAIN));
    }

    #[test]
    fn a_batch_send_sends_every_datagram_in_order() {
        let (a, b) = datagram_pair();
        let buffer = b"onetwo!three";
        assert_eq!(
            send_batch(a.as_fd(), buffer, &[0..3, 3..7, 7..12]),
            (3, None)
        );
        let mut got = Vec::new();
        let mut slot = [0; 16];
        for _ in 0..3 {
            let n = recv(b.as_raw_fd(), &mut slot, MsgFlags::MSG_DONTWAIT).expect("queued");
            got.push(String::from_utf8_lossy(&slot[..n]).into_owned());
        }
        assert_eq!(got, ["one", "two!", "three"]);
        drop(b);
        let (sent, failure) = send_batch(a.as_fd(), buffer, &[0..3, 3..7]);
        assert_eq!((sent, failure.is_some()), (0, true), "no peer: refused");
    }

    #[test]
    fn glibc_texts() {
        assert_eq!(strerror(libc::EEXIST), "File exists");
        assert_eq!(strerror(libc::ESRCH), "No such process");
        assert_eq!(strerror(234), "Unknown error 234");
    }
}
