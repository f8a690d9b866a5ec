//! A NETLINK_XFRM socket: requests one at a time ([`NetlinkSocket::transact`])
//! or many per `sendmsg` ([`NetlinkSocket::batch`]), answers matched by
//! sequence number.
//!
//! Unlike PF_KEY, netlink answers only the requester (no broadcasts on this
//! socket: it joins no multicast group), so matching is by `nlmsg_seq`
//! alone.
//!
//! # Batches
//!
//! The kernel handles the messages of one datagram in order, inside the
//! `sendmsg` call, and acknowledges each one that fails — whether or not it
//! asked for an acknowledgement — and each one with NLM_F_ACK. A batch is
//! therefore sent in windows: every request of a window without NLM_F_ACK
//! except the last, so that a window costs one `sendmsg` and one
//! `recvmmsg`, which takes every queued acknowledgement at once (more only
//! when over 32 requests are refused). When the last request's answer arrives,
//! the answers of all earlier ones are in (the receive queue is in order);
//! a request without an answer succeeded.
//!
//! All acknowledgements of a window are queued before `sendmsg` returns, so
//! a window holds no more requests than the receive buffer has room for if
//! every one of them is refused (an overflowing queue would drop
//! acknowledgements; the kernel then reports ENOBUFS, which ends the batch
//! with a transport error rather than a silent success). Its size in bytes
//! stays well below the send buffer (the kernel refuses a datagram larger
//! than that with EMSGSIZE).

use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, NetlinkAddr, sockopt};
use nix::sys::time::TimeVal;

use super::netlink::{
    NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NlError,
    NlHeader, NlMessage, align4,
};
use crate::codec::Reader;
use crate::pfkey::SocketError;

/// `NETLINK_XFRM`, the netlink protocol of the XFRM interface.
const NETLINK_XFRM: libc::c_int = 6;
/// `SOL_NETLINK`.
const SOL_NETLINK: libc::c_int = 270;
/// `NETLINK_CAP_ACK`: acknowledgements do not echo the request (which may
/// hold keys).
const NETLINK_CAP_ACK: libc::c_int = 10;
/// `NETLINK_EXT_ACK`: errors carry the kernel's explanation.
const NETLINK_EXT_ACK: libc::c_int = 11;

/// Large enough for any single dump datagram the kernel builds.
const RECEIVE_BUFFER: usize = 256 * 1024;

/// Datagrams one receive of a batch takes at most: the receive buffer is
/// split into this many slots (8 KiB each, far more than an
/// acknowledgement needs).
const RECEIVE_SLOTS: usize = 32;

/// The socket buffer sizes asked for (the kernel doubles them for its
/// bookkeeping). With CAP_NET_ADMIN they are forced past the system's
/// `rmem_max` / `wmem_max`; otherwise they are capped there.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Receive-buffer room one refusal's acknowledgement may take: a small
/// datagram (capped request header, error, extended-ACK text) costs well
/// under 1 KiB of socket memory; twice that leaves a margin.
const ACK_ROOM: usize = 2048;

/// The most bytes one window sends, whatever the send buffer: a datagram is
/// one kernel allocation, so it stays moderate.
const WINDOW_BYTES: usize = 256 * 1024;

/// How long to wait for an answer before giving up; the kernel answers
/// inside `sendmsg`, so this only matters when something is badly wrong.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the kernel answered to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Success: the data messages (none for a bare acknowledgement).
    Done(Vec<NlMessage>),
    /// A refusal: positive errno and the extended-ACK text, if any.
    Refused {
        /// positive errno
        errno: i32,
        /// `NLMSGERR_ATTR_MSG`
        message: Option<String>,
    },
}

/// How many requests, and how many bytes of them, one window of a batch may
/// hold (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// Bytes of netlink messages per `sendmsg` (a single larger request is
    /// sent alone).
    pub max_bytes: usize,
    /// Requests per window: as many refusals as the receive buffer holds.
    pub max_count: usize,
}

impl WindowLimits {
    /// The limits for a socket whose buffers are `send` and `receive` bytes
    /// (as `getsockopt` reports them).
    pub fn for_buffers(send: usize, receive: usize) -> WindowLimits {
        WindowLimits {
            max_bytes: (send / 2).clamp(4096, WINDOW_BYTES),
            max_count: (receive / 2 / ACK_ROOM).max(1),
        }
    }
}

/// Splits requests of the given sizes into consecutive windows within
/// `limits`; every window holds at least one request.
pub fn windows(sizes: &[usize], limits: WindowLimits) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, size) in sizes.iter().enumerate() {
        let count = i - start;
        if count > 0 && (count >= limits.max_count || bytes + size > limits.max_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// The answers of one window: requests with sequence numbers `first`,
/// `first + 1`, …, of which only the last asked for an acknowledgement.
///
/// Only the answers received are kept (the refusals and the last
/// request's acknowledgement, by index): a window of a thousand
/// successful requests has one.
#[derive(Debug)]
pub struct WindowAnswers {
    first: u32,
    count: usize,
    /// Answers received, by index in the window, in index order.
    received: Vec<(usize, Answer)>,
}

impl WindowAnswers {
    /// Waits for `count` requests starting at sequence number `first`.
    pub fn new(first: u32, count: usize) -> WindowAnswers {
        WindowAnswers {
            first,
            count,
            received: Vec::new(),
        }
    }

    /// Takes one received message. Messages of other sequence numbers
    /// (late answers to an earlier request that timed out) and anything but
    /// acknowledgements are ignored. Returns whether the window is complete:
    /// the last request has its answer.
    pub fn accept(&mut self, m: &NlMessage) -> Result<bool, SocketError> {
        let index = m.header.seq.wrapping_sub(self.first) as usize;
        if m.header.msg_type != NLMSG_ERROR {
            return Ok(self.complete());
        }
        if index >= self.count {
            return Ok(self.complete());
        }
        let e = NlError::parse(m.header.flags, &m.payload)
            .map_err(|_| SocketError::Receive(Errno::EBADMSG))?;
        let answer = if e.error == 0 {
            Answer::Done(Vec::new())
        } else {
            Answer::Refused {
                errno: e.error.saturating_neg(),
                message: e.message,
            }
        };
        // Answers come in order: the search ends at the last one. A second
        // answer to the same request replaces the first.
        match self.received.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => {
                if let Some(slot) = self.received.get_mut(at) {
                    slot.1 = answer;
                }
            }
            Err(at) => self.received.insert(at, (index, answer)),
        }
        Ok(self.complete())
    }

    /// Whether the last request has its answer.
    pub fn complete(&self) -> bool {
        self.count == 0
            || self
                .received
                .last()
                .is_some_and(|(i, _)| *i + 1 == self.count)
    }

    /// The answers in request order: a request the kernel did not refuse
    /// succeeded.
    pub fn finish(self) -> impl Iterator<Item = Answer> {
        let mut received = self.received.into_iter().peekable();
        (0..self.count).map(move |i| match received.next_if(|(at, _)| *at == i) {
            Some((_, answer)) => answer,
            None => Answer::Done(Vec::new()),
        })
    }

    /// The refusals, by index in the window, in order.
    fn refusals(self) -> impl Iterator<Item = (usize, i32, Option<String>)> {
        self.received.into_iter().filter_map(|(i, a)| match a {
            Answer::Refused { errno, message } => Some((i, errno, message)),
            Answer::Done(_) => None,
        })
    }
}

/// A request of a batch the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its index in the batch.
    pub index: usize,
    /// positive errno
    pub errno: i32,
    /// `NLMSGERR_ATTR_MSG`
    pub message: Option<String>,
}

/// What the kernel answered to a batch, told by its refusals: every
/// request before `answered` that is not among `refusals` succeeded.
#[derive(Debug, Default)]
pub struct BatchRefusals {
    /// How many requests have their answer (all of them, unless the
    /// transport failed).
    pub answered: usize,
    /// The refused requests, in order.
    pub refusals: Vec<Refusal>,
    /// The transport failure that ended the batch, if any.
    pub failure: Option<SocketError>,
}

/// The datagram side of a netlink socket, as batches use it (a trait so
/// that the window logic can be tested against a simulated kernel).
pub trait Datagrams {
    /// Sends one datagram.
    fn send_datagram(&mut self, bytes: &[u8]) -> Result<(), SocketError>;
    /// Receives the messages of one datagram, or of several already queued
    /// (blocking for the first, with a timeout).
    fn receive_datagram(&mut self) -> Result<Vec<NlMessage>, SocketError>;
}

/// Requests framed for a batch as they go on the wire, one after the
/// other in one buffer: a batch's payloads are written once, in place,
/// and sent from there. Sequence numbers and the acknowledgement flag are
/// filled in when the window a request falls in is sent.
///
/// The buffer may hold keys: the bytes of requests pushed with
/// [`Frames::push`] are wiped when cleared, the whole buffer when dropped,
/// and it is moved to a bigger wiped one when it must grow (never
/// reallocated in place, which would leave a copy behind). Requests that
/// cannot hold keys ([`Frames::push_keyless`]: policies, deletions) are
/// not wiped when cleared: wiping every batch's bytes cost as much as
/// framing them.
#[derive(Default)]
pub struct Frames {
    buf: zeroize::Zeroizing<Vec<u8>>,
    /// Where each request starts in `buf`.
    starts: Vec<usize>,
    /// The bytes of `buf` that may hold keys: from the start of the first
    /// request pushed with [`Frames::push`] to the end of the last one.
    keyed: Range<usize>,
}

impl Frames {
    /// Appends a request of type `msg_type` whose payload `emit` writes:
    /// `payload_len` bytes (room is made for that many; the header gets the
    /// length actually written). The request may hold keys: its bytes are
    /// wiped when the frames are cleared.
    pub fn push(&mut self, msg_type: u16, payload_len: usize, emit: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.len();
        self.push_keyless(msg_type, payload_len, emit);
        if self.keyed.is_empty() {
            self.keyed.start = start;
        }
        self.keyed.end = self.buf.len();
    }

    /// [`Frames::push`] of a request without key material (a policy, an
    /// SA's identity): not wiped when the frames are cleared.
    pub fn push_keyless(
        &mut self,
        msg_type: u16,
        payload_len: usize,
        emit: impl FnOnce(&mut Vec<u8>),
    ) {
        let written: Result<(), std::convert::Infallible> =
            self.try_push_keyless(msg_type, payload_len, |out| {
                emit(out);
                Ok(())
            });
        let Ok(()) = written;
    }

    /// [`Frames::push_keyless`] of a request whose payload `emit` may
    /// refuse to write: nothing is appended then. `emit` writes at most
    /// `payload_len` bytes (more would grow the buffer in place, leaving
    /// a copy of earlier requests behind).
    pub fn try_push_keyless<E>(
        &mut self,
        msg_type: u16,
        payload_len: usize,
        emit: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.reserve(NLMSG_HDRLEN + align4(payload_len));
        let start = self.buf.len();
        // struct nlmsghdr: len (patched below), type, flags, seq and pid
        // (stamped when sent).
        let mut header = [0u8; NLMSG_HDRLEN];
        header[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        header[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        self.buf.extend_from_slice(&header);
        if let Err(e) = emit(&mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        let len = self.buf.len() - start;
        debug_assert!(len <= NLMSG_HDRLEN + payload_len, "payload length");
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        crate::codec::Writer::new(&mut *self.buf)
            .patch_ne_u32(start, len32)
            .align_from(start, crate::codec::NETLINK_ALIGN);
        self.starts.push(start);
        Ok(())
    }

    /// Appends a request with a payload already built.
    pub fn push_payload(&mut self, msg_type: u16, payload: &[u8]) {
        self.push(msg_type, payload.len(), |out| {
            out.extend_from_slice(payload)
        });
    }

    /// The requests as framed so far (sequence numbers and flags are
    /// stamped when sent).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// How many requests there are.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Forgets every request, wiping those that may hold keys, and keeps
    /// the buffer (its spare room holds no keys: only what was written
    /// could).
    pub fn clear(&mut self) {
        if let Some(keyed) = self.buf.get_mut(self.keyed.clone()) {
            zeroize::Zeroize::zeroize(keyed);
        }
        self.keyed = 0..0;
        self.buf.clear();
        self.starts.clear();
    }

    /// Room for `more` bytes, in a wiped buffer.
    #[inline]
    fn reserve(&mut self, more: usize) {
        if self.buf.capacity() - self.buf.len() < more {
            self.grow(more);
        }
    }

    /// [`Frames::reserve`] when the buffer is too small: rare (the buffer
    /// is kept from batch to batch), so kept out of the framing path.
    #[cold]
    fn grow(&mut self, more: usize) {
        let want = (self.buf.len() + more)
            .max(self.buf.capacity() * 2)
            .max(4096);
        let mut bigger = zeroize::Zeroizing::new(Vec::with_capacity(want));
        bigger.extend_from_slice(&self.buf);
        self.buf = bigger;
    }

    /// The byte range of request `i`.
    fn span(&self, i: usize) -> Range<usize> {
        let start = self.starts.get(i).copied().unwrap_or(self.buf.len());
        let end = self.starts.get(i + 1).copied().unwrap_or(self.buf.len());
        start..end
    }

    /// Request `i`'s message type.
    pub fn msg_type(&self, i: usize) -> u16 {
        // struct nlmsghdr: len (4 bytes), type (2), flags (2), seq (4), pid (4).
        let at = self.span(i).start + 4;
        self.buf
            .get(at..at + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, u16::from_ne_bytes)
    }

    /// Sets request `i`'s sequence number and flags (at their offsets in
    /// `struct nlmsghdr`, see [`Frames::msg_type`]).
    fn stamp(&mut self, i: usize, seq: u32, flags: u16) {
        let start = self.span(i).start;
        crate::codec::Writer::new(&mut *self.buf)
            .patch_ne_u16(start + 6, flags)
            .patch_ne_u32(start + 8, seq);
    }
}

/// Sends `requests` (netlink type and payload, each acknowledged only when
/// refused) in windows within `limits`, with sequence numbers counted on
/// from `seq`. Returns the answers in request order — fewer when the
/// transport failed, with the failure.
pub fn batch<D: Datagrams>(
    socket: &mut D,
    seq: &mut u32,
    requests: &[(u16, Vec<u8>)],
    limits: WindowLimits,
) -> (Vec<Answer>, Option<SocketError>) {
    let mut frames = Frames::default();
    for (msg_type, payload) in requests {
        frames.push_payload(*msg_type, payload);
    }
    batch_frames(socket, seq, &mut frames, limits)
}

/// [`batch`] of requests framed already.
pub fn batch_frames<D: Datagrams>(
    socket: &mut D,
    seq: &mut u32,
    frames: &mut Frames,
    limits: WindowLimits,
) -> (Vec<Answer>, Option<SocketError>) {
    let outcome = batch_frames_refusals(socket, seq, frames, limits);
    let mut answers = vec![Answer::Done(Vec::new()); outcome.answered];
    for r in outcome.refusals {
        if let Some(a) = answers.get_mut(r.index) {
            *a = Answer::Refused {
                errno: r.errno,
                message: r.message,
            };
        }
    }
    (answers, outcome.failure)
}

/// [`batch_frames`] told by its refusals: what an apply of many requests
/// needs, without an answer to build, keep and look at for each request
/// that succeeded.
pub fn batch_frames_refusals<D: Datagrams>(
    socket: &mut D,
    seq: &mut u32,
    frames: &mut Frames,
    limits: WindowLimits,
) -> BatchRefusals {
    let mut out = BatchRefusals::default();
    let sizes: Vec<usize> = (0..frames.len()).map(|i| frames.span(i).len()).collect();
    for window in windows(&sizes, limits) {
        let first = seq.wrapping_add(1);
        let last = window.end - 1;
        for i in window.clone() {
            *seq = seq.wrapping_add(1);
            let ack = if i == last { NLM_F_ACK } else { 0 };
            frames.stamp(i, *seq, NLM_F_REQUEST | ack);
        }
        let bytes = frames.span(window.start).start..frames.span(last).end;
        if let Err(e) = socket.send_datagram(frames.buf.get(bytes).unwrap_or_default()) {
            out.failure = Some(e);
            return out;
        }
        let mut pending = WindowAnswers::new(first, window.len());
        while !pending.complete() {
            let received = match socket.receive_datagram() {
                Ok(r) => r,
                Err(e) => {
                    out.failure = Some(e);
                    return out;
                }
            };
            for m in &received {
                if let Err(e) = pending.accept(m) {
                    out.failure = Some(e);
                    return out;
                }
            }
        }
        out.refusals
            .extend(pending.refusals().map(|(i, errno, message)| Refusal {
                index: window.start + i,
                errno,
                message,
            }));
        out.answered = window.end;
    }
    out
}

/// A new NETLINK_XFRM socket descriptor, nothing set on it yet. Fails
/// with `SocketError::XfrmOpen` without the `xfrm_user` module
/// (EPROTONOSUPPORT).
pub fn open_descriptor() -> Result<OwnedFd, SocketError> {
    // SAFETY: plain socket(2) call; the descriptor is checked and owned by
    // the OwnedFd from here on. nix 0.32 has no NETLINK_XFRM variant.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_XFRM,
        )
    };
    if raw < 0 {
        return Err(SocketError::XfrmOpen(Errno::last()));
    }
    // SAFETY: `raw` is a fresh, valid descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// An open NETLINK_XFRM socket.
pub struct NetlinkSocket {
    fd: OwnedFd,
    seq: u32,
    /// Dumps bring keys: wiped when the socket goes.
    receive: zeroize::Zeroizing<Vec<u8>>,
    limits: WindowLimits,
}

impl NetlinkSocket {
    /// Opens the socket (needs CAP_NET_ADMIN for anything but reading, and
    /// the `xfrm_user` module: without it socket() fails with
    /// EPROTONOSUPPORT).
    pub fn open() -> Result<NetlinkSocket, SocketError> {
        let fd = open_descriptor()?;
        for option in [NETLINK_CAP_ACK, NETLINK_EXT_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt with a pointer to a live c_int and its
            // size. Failure only costs the explanations, so it is ignored.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_NETLINK,
                    option,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        // Batches send large datagrams and may have many refusals queued;
        // dumps of large tables arrive in many datagrams. Roomy buffers
        // keep windows large; failures only make them smaller.
        if socket::setsockopt(&fd, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
            let _ = socket::setsockopt(&fd, sockopt::SndBuf, &SOCKET_BUFFER);
        }
        if socket::setsockopt(&fd, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
            let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
        }
        let limits = WindowLimits::for_buffers(
            socket::getsockopt(&fd, sockopt::SndBuf).unwrap_or(0),
            socket::getsockopt(&fd, sockopt::RcvBuf).unwrap_or(0),
        );
        let tv = TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0);
        socket::setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(SocketError::SetOption)?;
        Ok(NetlinkSocket {
            fd,
            seq: 0,
            receive: zeroize::Zeroizing::new(vec![0; RECEIVE_BUFFER]),
            limits,
        })
    }

    /// The window limits of [`NetlinkSocket::batch`] for this socket's
    /// buffers.
    pub fn limits(&self) -> WindowLimits {
        self.limits
    }

    /// Sends requests (netlink type and payload) that are answered by an
    /// acknowledgement only, many per `sendmsg` (see the module
    /// documentation), and returns their answers in order — fewer when the
    /// transport failed, with the failure.
    pub fn batch(&mut self, requests: &[(u16, Vec<u8>)]) -> (Vec<Answer>, Option<SocketError>) {
        let limits = self.limits;
        let mut seq = self.seq;
        let out = batch(self, &mut seq, requests, limits);
        self.seq = seq;
        out
    }

    /// [`NetlinkSocket::batch`] of requests framed already.
    pub fn batch_frames(&mut self, frames: &mut Frames) -> (Vec<Answer>, Option<SocketError>) {
        let limits = self.limits;
        let mut seq = self.seq;
        let out = batch_frames(self, &mut seq, frames, limits);
        self.seq = seq;
        out
    }

    /// [`NetlinkSocket::batch_frames`] told by its refusals
    /// ([`batch_frames_refusals`]).
    pub fn batch_frames_refusals(&mut self, frames: &mut Frames) -> BatchRefusals {
        let limits = self.limits;
        let mut seq = self.seq;
        let out = batch_frames_refusals(self, &mut seq, frames, limits);
        self.seq = seq;
        out
    }

    /// Frames one request with the next sequence number (not sent).
    pub fn frame(&mut self, msg_type: u16, flags: u16, payload: Vec<u8>) -> NlMessage {
        self.seq = self.seq.wrapping_add(1);
        NlMessage {
            header: NlHeader {
                len: 0,
                msg_type,
                flags: flags | NLM_F_REQUEST,
                seq: self.seq,
                pid: 0,
            },
            payload: zeroize::Zeroizing::new(payload),
        }
    }

    /// Sends framed requests in one datagram.
    pub fn send(&mut self, requests: &[NlMessage]) -> Result<(), SocketError> {
        // Holds keys: wiped when dropped, and allocated at its final size
        // so that no reallocation leaves a copy behind unwiped.
        let len = requests.iter().map(NlMessage::wire_len).sum();
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(len));
        for r in requests {
            r.emit(&mut buf);
        }
        self.send_datagram(&buf)
    }

    /// Receives one datagram's messages.
    fn receive(&mut self) -> Result<Vec<NlMessage>, SocketError> {
        let n = loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.receive, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                other => break other.map_err(SocketError::Receive)?,
            }
        };
        let bytes = self.receive.get(..n).unwrap_or_default();
        NlMessage::parse_all(bytes).map_err(|_| SocketError::Receive(Errno::EBADMSG))
    }

    /// Frames and sends one request; returns its sequence number (for
    /// reading its answer with [`NetlinkSocket::dump_part`]).
    pub fn start(
        &mut self,
        msg_type: u16,
        flags: u16,
        payload: Vec<u8>,
    ) -> Result<u32, SocketError> {
        let request = self.frame(msg_type, flags, payload);
        self.send(std::slice::from_ref(&request))?;
        Ok(request.header.seq)
    }

    /// Reads one datagram of the answer to dump request `seq`, handing each
    /// data message (type and payload) to `each` straight from the receive
    /// buffer (no copy per entry: a dump of any size needs the memory of one
    /// datagram). Returns how the dump ended, when this datagram ended it.
    pub fn dump_part(
        &mut self,
        seq: u32,
        mut each: impl FnMut(u16, &[u8]),
    ) -> Result<Option<Answer>, SocketError> {
        let n = loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.receive, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                other => break other.map_err(SocketError::Receive)?,
            }
        };
        let mut rest = self.receive.get(..n).unwrap_or_default();
        let bad = || SocketError::Receive(Errno::EBADMSG);
        while rest.len() >= NLMSG_HDRLEN {
            let header = NlHeader::parse(rest).map_err(|_| bad())?;
            let len = header.len as usize;
            let (Some(payload), true) = (rest.get(NLMSG_HDRLEN..len), len >= NLMSG_HDRLEN) else {
                return Err(bad());
            };
            rest = rest.get(align4(len)..).unwrap_or_default();
            if header.seq != seq {
                continue;
            }
            match header.msg_type {
                NLMSG_ERROR => {
                    let e = NlError::parse(header.flags, payload).map_err(|_| bad())?;
                    return Ok(Some(if e.error == 0 {
                        Answer::Done(Vec::new())
                    } else {
                        Answer::Refused {
                            errno: e.error.saturating_neg(),
                            message: e.message,
                        }
                    }));
                }
                NLMSG_DONE => {
                    // A short NLMSG_DONE reads as status 0 (zero-extended).
                    let status = Reader::new(payload).ne_i32(0);
                    return Ok(Some(if status < 0 {
                        Answer::Refused {
                            errno: status.saturating_neg(),
                            message: None,
                        }
                    } else {
                        Answer::Done(Vec::new())
                    }));
                }
                t => each(t, payload),
            }
        }
        Ok(None)
    }

    /// Collects the answer to the request with sequence number `seq`;
    /// `acked` says whether it asked for an acknowledgement (a request
    /// without NLM_F_ACK that is answered by one data message ends there).
    pub fn answer(&mut self, seq: u32, acked: bool) -> Result<Answer, SocketError> {
        let mut data = Vec::new();
        loop {
            for m in self.receive()? {
                if m.header.seq != seq {
                    continue;
                }
                match m.header.msg_type {
                    NLMSG_ERROR => {
                        let e = NlError::parse(m.header.flags, &m.payload)
                            .map_err(|_| SocketError::Receive(Errno::EBADMSG))?;
                        if e.error == 0 {
                            return Ok(Answer::Done(data));
                        }
                        return Ok(Answer::Refused {
                            errno: e.error.saturating_neg(),
                            message: e.message,
                        });
                    }
                    NLMSG_DONE => {
                        let status = Reader::new(&m.payload).ne_i32(0);
                        if status < 0 {
                            return Ok(Answer::Refused {
                                errno: status.saturating_neg(),
                                message: None,
                            });
                        }
                        return Ok(Answer::Done(data));
                    }
                    _ => {
                        let multi = m.header.flags & NLM_F_MULTI != 0;
                        data.push(m);
                        if !multi && !acked {
                            return Ok(Answer::Done(data));
                        }
                    }
                }
            }
        }
    }

    /// Sends one request and waits for its answer.
    pub fn transact(
        &mut self,
        msg_type: u16,
        flags: u16,
        payload: Vec<u8>,
    ) -> Result<Answer, SocketError> {
        let request = self.frame(msg_type, flags, payload);
        let seq = request.header.seq;
        self.send(std::slice::from_ref(&request))?;
        self.answer(seq, flags & NLM_F_ACK != 0)
    }
}

impl Datagrams for NetlinkSocket {
    fn send_datagram(&mut self, bytes: &[u8]) -> Result<(), SocketError> {
        let to = NetlinkAddr::new(0, 0);
        loop {
            match socket::sendto(self.fd.as_raw_fd(), bytes, &to, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(SocketError::Send(e)),
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Waits for one datagram and takes every further one already queued,
    /// in one `recvmmsg`: the acknowledgements of a window's refusals are
    /// all queued before its `sendmsg` returns, so a window of refusals
    /// costs two system calls instead of one receive per refusal.
    fn receive_datagram(&mut self) -> Result<Vec<NlMessage>, SocketError> {
        let datagrams = crate::os::receive_batch(self.fd.as_fd(), &mut self.receive, RECEIVE_SLOTS)
            .map_err(SocketError::Receive)?;
        let mut messages = Vec::new();
        for d in datagrams {
            // Only small acknowledgements answer a batch. A datagram cut
            // short could have been a refusal: never take it for success.
            if d.truncated {
                return Err(SocketError::Receive(Errno::EMSGSIZE));
            }
            let bytes = self.receive.get(d.range).unwrap_or_default();
            messages.extend(
                NlMessage::parse_all(bytes).map_err(|_| SocketError::Receive(Errno::EBADMSG))?,
            );
        }
        Ok(messages)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The first `n` bytes of the buffer's allocation, written or not.
    fn allocation(frames: &Frames, n: usize) -> Vec<u8> {
        assert!(n <= frames.buf.capacity());
        // SAFETY: every byte up to `n` was written by an earlier push (the
        // test pushes at least that much), the allocation is `capacity`
        // bytes, and nothing else has it borrowed.
        unsafe { std::slice::from_raw_parts(frames.buf.as_ptr(), n) }.to_vec()
    }

    #[test]
    fn clearing_wipes_the_requests_that_may_hold_keys() {
        let mut frames = Frames::default();
        frames.push_keyless(19, 8, |out| out.extend_from_slice(&[1; 8]));
        frames.push(16, 8, |out| out.extend_from_slice(&[2; 8]));
        frames.push_keyless(20, 4, |out| out.extend_from_slice(&[3; 4]));
        frames.push(16, 8, |out| out.extend_from_slice(&[4; 8]));
        frames.push_keyless(20, 4, |out| out.extend_from_slice(&[5; 4]));
        let ends = [24, 48, 68, 92, 112];
        assert_eq!(frames.buf.len(), ends[4]);
        let at = frames.buf.as_ptr();
        frames.clear();
        assert!(frames.is_empty());
        // Same allocation, keyed span (from the first keyed request to the
        // end of the last) wiped, the rest as written.
        assert_eq!(frames.buf.as_ptr(), at);
        let bytes = allocation(&frames, ends[4]);
        assert!(bytes[ends[0]..ends[3]].iter().all(|&b| b == 0));
        assert_eq!(&bytes[16..24], &[1; 8]);
        assert_eq!(&bytes[ends[3] + 16..], &[5; 4]);
        // A batch of keyless requests only wipes nothing.
        frames.push_keyless(19, 8, |out| out.extend_from_slice(&[6; 8]));
        frames.clear();
        assert_eq!(&allocation(&frames, ends[0])[16..], &[6; 8]);
    }
}
