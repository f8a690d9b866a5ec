//! A NETLINK_XFRM socket: one request at a time, answers matched by
//! sequence number.
//!
//! Unlike PF_KEY, netlink answers only the requester (no broadcasts on this
//! socket: it joins no multicast group), so matching is by `nlmsg_seq`
//! alone. Requests are framed so that several could share one `sendmsg`
//! later (each carries its own sequence number and NLM_F_ACK), which is what
//! a future batch interface needs; today every call sends one message.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, NetlinkAddr, sockopt};
use nix::sys::time::TimeVal;

use super::netlink::{
    NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NlError, NlHeader, NlMessage,
};
use crate::pfkey::socket::SocketError;

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

/// An open NETLINK_XFRM socket.
pub struct NetlinkSocket {
    fd: OwnedFd,
    seq: u32,
    receive: Vec<u8>,
}

impl NetlinkSocket {
    /// Opens the socket (needs CAP_NET_ADMIN for anything but reading, and
    /// the `xfrm_user` module: without it socket() fails with
    /// EPROTONOSUPPORT).
    pub fn open() -> Result<NetlinkSocket, SocketError> {
        // SAFETY: plain socket(2) call; the descriptor is checked and owned
        // by the OwnedFd from here on. nix 0.32 has no NETLINK_XFRM variant.
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
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
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
        // Dumps of large tables arrive in many datagrams; a roomy receive
        // buffer keeps the kernel from pausing them.
        let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &(1024 * 1024));
        let tv = TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0);
        socket::setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(SocketError::SetOption)?;
        Ok(NetlinkSocket {
            fd,
            seq: 0,
            receive: vec![0; RECEIVE_BUFFER],
        })
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
            payload,
        }
    }

    /// Sends framed requests in one datagram.
    pub fn send(&mut self, requests: &[NlMessage]) -> Result<(), SocketError> {
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        for r in requests {
            r.emit(&mut buf);
        }
        let to = NetlinkAddr::new(0, 0);
        loop {
            match socket::sendto(self.fd.as_raw_fd(), &buf, &to, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(SocketError::Send(e)),
                Ok(_) => return Ok(()),
            }
        }
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
                        let status = m
                            .payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
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
