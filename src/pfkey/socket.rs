//! A PF_KEY v2 socket: one message per datagram, replies matched to their
//! requests.
//!
//! Linux answers a request inside `send()`: when `send` returns, every reply
//! to it is already queued. setkey nevertheless takes whatever message comes
//! next as the reply, so after a flush that removed entries (two identical
//! FLUSH messages arrive, unicast and broadcast) every later statement reads
//! its predecessor's reply. rsetkey drains what is queued before each request
//! and accepts only replies of the request's type addressed to its own pid.
//!
//! One datagram per message need not mean one system call per message:
//! queued datagrams are taken up to 32 per `recvmmsg` (a dump is one
//! datagram per entry), and a batch of requests goes out in windows, one
//! `sendmmsg` each, its answers read afterwards
//! ([`Kernel::request_batch`]).

use std::collections::VecDeque;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use bytes::BytesMut;
use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, sockopt};
use nix::sys::time::TimeVal;
use zeroize::Zeroize;

use super::wire::{Message, MessageType};
use super::{BatchOutcome, BatchReply, Kernel, ReplyNeed, SocketError};
use crate::os::{Datagram, receive_batch, send_batch};

/// `PF_KEY_V2`, the protocol argument of `socket(PF_KEY, SOCK_RAW, ...)`.
const PF_KEY_PROTOCOL: libc::c_int = 2;

/// The largest datagram Linux sends on PF_KEY is far below this.
const DATAGRAM_MAX: usize = 64 * 1024;

/// Datagrams one receive takes at most. A dump is one datagram per entry,
/// queued by the kernel as fast as they are read: taking up to 32 per
/// `recvmmsg` saves 31 system calls in 32.
const RECEIVE_SLOTS: usize = 32;

/// Receive-buffer room one reply to a batched request may take: an SA
/// notification with keys, lifetimes and addresses is a few hundred bytes,
/// its socket buffer about 1 KiB; twice that, and again as much for other
/// processes' broadcasts arriving meanwhile.
const REPLY_ROOM: usize = 4096;

/// Requests one window of a batch sends at most, however large the
/// receive buffer.
const WINDOW_MAX: usize = 256;

/// How long to wait for a reply, as setkey does (SO_RCVTIMEO of 1 s).
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// An open PF_KEY v2 socket.
pub struct PfKeySocket {
    fd: OwnedFd,
    pid: u32,
    /// [`RECEIVE_SLOTS`] slots of [`DATAGRAM_MAX`] bytes. Allocated zeroed,
    /// so the pages no datagram reaches are never touched.
    receive: Vec<u8>,
    /// Datagrams received but not yet taken, oldest first.
    queued: VecDeque<Datagram>,
    /// The datagram [`PfKeySocket::receive_raw`] handed out last, wiped at
    /// the next receive (dumps and notifications carry keys).
    handed_out: Option<Range<usize>>,
    send: BytesMut,
    /// Requests a batch sends before it reads their replies: as many as
    /// the receive buffer holds replies for.
    window: usize,
}

impl PfKeySocket {
    /// Opens a PF_KEY socket with setkey's buffer sizes and reply timeout.
    pub fn open() -> Result<PfKeySocket, SocketError> {
        // SAFETY: plain socket(2) call; the returned descriptor is checked
        // and owned by the OwnedFd from here on. nix has no variant for the
        // PF_KEY_V2 protocol number, hence the direct call.
        let raw = unsafe {
            libc::socket(
                libc::PF_KEY,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                PF_KEY_PROTOCOL,
            )
        };
        if raw < 0 {
            return Err(SocketError::Open(Errno::last()));
        }
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // setkey raises the send buffer to 128 KiB and asks for a 2 MiB
        // receive buffer, halving until the kernel accepts, so that large
        // dumps are not cut short by a full queue.
        socket::setsockopt(&fd, sockopt::SndBuf, &(128 * 1024)).map_err(SocketError::SetOption)?;
        let mut rcvbuf = 2 * 1024 * 1024;
        while rcvbuf >= 32 * 1024 && socket::setsockopt(&fd, sockopt::RcvBuf, &rcvbuf).is_err() {
            rcvbuf /= 2;
        }
        let mut socket = PfKeySocket {
            fd,
            pid: std::process::id(),
            receive: vec![0; RECEIVE_SLOTS * DATAGRAM_MAX],
            queued: VecDeque::new(),
            handed_out: None,
            send: BytesMut::with_capacity(1024),
            window: 1,
        };
        if let Ok(room) = socket::getsockopt(&socket.fd, sockopt::RcvBuf) {
            socket.window = (room / REPLY_ROOM).clamp(1, WINDOW_MAX);
        }
        socket.set_timeout(Some(REPLY_TIMEOUT))?;
        Ok(socket)
    }

    /// Throws away everything queued: replies that arrived after the one a
    /// previous request was answered with, and other processes' broadcasts.
    pub fn drain(&mut self) {
        self.forget_received();
        let slot = 0..DATAGRAM_MAX;
        while let Ok(n) = socket::recv(
            self.fd.as_raw_fd(),
            self.receive.get_mut(slot.clone()).unwrap_or_default(),
            MsgFlags::MSG_DONTWAIT,
        ) {
            self.wipe(0..n);
        }
    }

    fn wipe(&mut self, range: Range<usize>) {
        if let Some(bytes) = self.receive.get_mut(range) {
            bytes.zeroize();
        }
    }

    /// Wipes and forgets the datagrams received and not yet taken, and the
    /// one last handed out.
    fn forget_received(&mut self) {
        self.wipe_handed_out();
        while let Some(d) = self.queued.pop_front() {
            self.wipe(d.range);
        }
    }

    fn wipe_handed_out(&mut self) {
        if let Some(range) = self.handed_out.take() {
            self.wipe(range);
        }
    }

    /// The next datagram: a queued one, or the first of a new batch
    /// (waiting for it as long as the receive timeout allows).
    fn next_datagram(&mut self) -> Result<Range<usize>, SocketError> {
        self.wipe_handed_out();
        if self.queued.is_empty() {
            self.queued = receive_batch(self.fd.as_fd(), &mut self.receive, RECEIVE_SLOTS)
                .map_err(SocketError::Receive)?
                .into();
        }
        let d = self
            .queued
            .pop_front()
            .ok_or(SocketError::Receive(Errno::EAGAIN))?;
        if d.truncated {
            self.wipe(d.range);
            return Err(SocketError::Receive(Errno::EMSGSIZE));
        }
        Ok(d.range)
    }

    /// Sends one message as it is.
    pub fn send(&mut self, message: &Message) -> Result<(), SocketError> {
        self.send.clear();
        message.emit(&mut self.send);
        let sent = socket::send(self.fd.as_raw_fd(), &self.send, MsgFlags::empty());
        // The request may carry keys: do not leave them in the buffer.
        self.send.as_mut().zeroize();
        sent.map_err(SocketError::Send)?;
        Ok(())
    }

    /// Changes how long a receive waits (`None`: for ever, as the monitor
    /// needs).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), SocketError> {
        let t = timeout.unwrap_or(Duration::ZERO);
        let tv = TimeVal::new(t.as_secs() as _, t.subsec_micros() as _);
        socket::setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(SocketError::SetOption)
    }

    /// Receives the next datagram as raw bytes, whatever it holds.
    pub fn receive_raw(&mut self) -> Result<&[u8], SocketError> {
        let range = self.next_datagram()?;
        self.handed_out = Some(range.clone());
        Ok(self.receive.get(range).unwrap_or_default())
    }

    /// Receives the next message, whatever it is.
    pub fn receive(&mut self) -> Result<Message, SocketError> {
        let range = self.next_datagram()?;
        let parsed = Message::parse(self.receive.get(range.clone()).unwrap_or_default());
        // Linux echoes keys in ADD/UPDATE/DELETE notifications and dumps:
        // once parsed (into zeroizing key buffers), wipe the raw copy.
        self.wipe(range);
        Ok(parsed?)
    }

    /// Receives the next message that answers a request of `msg_type` sent
    /// by this process; anything else is skipped.
    pub fn receive_reply(&mut self, msg_type: u8) -> Result<Message, SocketError> {
        loop {
            let message = self.receive()?;
            if message.header.msg_type == msg_type && message.header.pid == self.pid {
                return Ok(message);
            }
        }
    }

    /// Receives the reply to `request`, one of a window sent together: the
    /// next message of its type and SA type addressed to this process.
    fn receive_reply_to(&mut self, request: &Message) -> Result<Message, SocketError> {
        loop {
            let message = self.receive_reply(request.header.msg_type)?;
            if message.header.satype == request.header.satype {
                return Ok(message);
            }
        }
    }

    /// Sends a window of requests with as few system calls as possible;
    /// how many were sent, and what stopped the rest.
    fn send_window(&mut self, requests: &[Message]) -> (usize, Option<SocketError>) {
        self.send.clear();
        let mut ranges = Vec::with_capacity(requests.len());
        for m in requests {
            let start = self.send.len();
            m.emit(&mut self.send);
            ranges.push(start..self.send.len());
        }
        let (sent, failure) = send_batch(self.fd.as_fd(), &self.send, &ranges);
        // The requests may carry keys: do not leave them in the buffer.
        self.send.as_mut().zeroize();
        (sent, failure.map(SocketError::Send))
    }
}

/// Whether a request's answer comes twice (a flush that removed entries is
/// answered to the sender and broadcast to every socket, the sender's
/// too): a window ends after it, and the copy is drained before the next.
fn answered_twice(request: &Message) -> bool {
    request.header.msg_type == MessageType::Flush as u8
        || request.header.msg_type == MessageType::SpdFlush as u8
}

impl Drop for PfKeySocket {
    fn drop(&mut self) {
        self.forget_received();
    }
}

impl Kernel for PfKeySocket {
    fn pid(&self) -> u32 {
        self.pid
    }

    /// Drains stale messages first, then sends and waits for the reply.
    fn request(&mut self, message: &Message) -> Result<Message, SocketError> {
        self.drain();
        self.send(message)?;
        self.receive_reply(message.header.msg_type)
    }

    /// Pipelined: af_key handles each datagram completely inside the
    /// `sendmsg` that carries it, answers included, so a window of
    /// requests goes out in one `sendmmsg` and their answers queue up in
    /// request order, each a message of the request's type, SA type and
    /// this process' pid (a refusal included). The window is as large as
    /// the receive buffer has room for answers, so none is dropped. Kernel
    /// effects and answers are those of one request at a time.
    fn request_batch(&mut self, requests: &[Message], need: ReplyNeed) -> BatchOutcome {
        // af_key's answers are whole messages either way
        let _ = need;
        let mut replies = Vec::with_capacity(requests.len());
        let mut rest = requests;
        while !rest.is_empty() {
            let mut n = rest.len().min(self.window);
            if let Some(i) = rest.iter().take(n).position(answered_twice) {
                n = i + 1;
            }
            let (window, later) = rest.split_at(n);
            self.drain();
            let (sent, failure) = self.send_window(window);
            for request in window.iter().take(sent) {
                match self.receive_reply_to(request) {
                    Ok(reply) => replies.push(BatchReply {
                        reply,
                        detail: None,
                    }),
                    Err(e) => {
                        return BatchOutcome {
                            replies,
                            failure: Some(e),
                        };
                    }
                }
            }
            if failure.is_some() {
                return BatchOutcome { replies, failure };
            }
            rest = later;
        }
        BatchOutcome {
            replies,
            failure: None,
        }
    }

    fn next_reply(&mut self, msg_type: u8) -> Result<Message, SocketError> {
        self.receive_reply(msg_type)
    }
}
