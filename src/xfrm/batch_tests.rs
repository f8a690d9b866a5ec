//! Unit tests of batches over netlink: window planning, answers matched by
//! sequence number, refusals in the middle, batches far larger than the
//! socket buffers (against a simulated kernel that drops what overflows its
//! receive queue, as netlink does), and the XFRM batch of PF_KEY requests.

use std::collections::VecDeque;

use nix::errno::Errno;

use super::netlink::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_REQUEST, NLMSG_ERROR, NlError, NlHeader,
    NlMessage,
};
use super::socket::{
    Answer, Datagrams, Frames, Refusal, WindowAnswers, WindowLimits, batch, batch_frames,
    batch_frames_refusals, windows,
};
use crate::pfkey::SocketError;

/// Socket memory one queued acknowledgement takes in the simulation (the
/// size class of a small netlink datagram on 64-bit Linux).
const ACK_TRUESIZE: usize = 768;

/// A netlink kernel as batches see it: handles every message of a
/// datagram in order, acknowledges refusals and NLM_F_ACK requests, drops
/// acknowledgements that do not fit its receive buffer and then fails the
/// next receive with ENOBUFS, and refuses datagrams larger than its send
/// buffer with EMSGSIZE.
struct SimulatedKernel {
    send_buffer: usize,
    receive_buffer: usize,
    queue: VecDeque<NlMessage>,
    queued_bytes: usize,
    overrun: bool,
    /// Which requests (by their position over the whole test) are refused.
    refuse: Box<dyn Fn(usize) -> bool>,
    handled: usize,
    datagrams: usize,
    receives: usize,
    /// The most acknowledgements queued at once.
    high_water: usize,
}

impl SimulatedKernel {
    fn new(
        send_buffer: usize,
        receive_buffer: usize,
        refuse: impl Fn(usize) -> bool + 'static,
    ) -> Self {
        SimulatedKernel {
            send_buffer,
            receive_buffer,
            queue: VecDeque::new(),
            queued_bytes: 0,
            overrun: false,
            refuse: Box::new(refuse),
            handled: 0,
            datagrams: 0,
            receives: 0,
            high_water: 0,
        }
    }
}

impl Datagrams for SimulatedKernel {
    fn send_datagram(&mut self, bytes: &[u8]) -> Result<(), SocketError> {
        if bytes.len() > self.send_buffer.saturating_sub(32) {
            return Err(SocketError::Send(Errno::EMSGSIZE));
        }
        self.datagrams += 1;
        let messages = NlMessage::parse_all(bytes).map_err(|_| SocketError::Send(Errno::EINVAL))?;
        for m in messages {
            let index = self.handled;
            self.handled += 1;
            let refused = (self.refuse)(index);
            if !refused && m.header.flags & NLM_F_ACK == 0 {
                continue;
            }
            let error = NlError {
                error: if refused { -libc::EEXIST } else { 0 },
                request: m.header,
                message: refused.then(|| format!("request {index} refused")),
            };
            let mut payload = Vec::new();
            error.emit(&mut payload);
            if self.queued_bytes + ACK_TRUESIZE > self.receive_buffer {
                // netlink_overrun: the acknowledgement is lost.
                self.overrun = true;
                continue;
            }
            self.queued_bytes += ACK_TRUESIZE;
            self.queue.push_back(NlMessage {
                header: NlHeader {
                    msg_type: NLMSG_ERROR,
                    flags: NLM_F_CAPPED | if refused { NLM_F_ACK_TLVS } else { 0 },
                    seq: m.header.seq,
                    ..NlHeader::default()
                },
                payload: payload.into(),
            });
            self.high_water = self.high_water.max(self.queue.len());
        }
        Ok(())
    }

    fn receive_datagram(&mut self) -> Result<Vec<NlMessage>, SocketError> {
        self.receives += 1;
        if self.overrun {
            self.overrun = false;
            return Err(SocketError::Receive(Errno::ENOBUFS));
        }
        match self.queue.pop_front() {
            Some(m) => {
                self.queued_bytes -= ACK_TRUESIZE;
                Ok(vec![m])
            }
            None => Err(SocketError::Receive(Errno::EAGAIN)),
        }
    }
}

/// `n` requests of about `size` bytes each.
fn requests(n: usize, size: usize) -> Vec<(u16, Vec<u8>)> {
    (0..n).map(|i| (16, vec![(i % 251) as u8; size])).collect()
}

fn refused_at(answers: &[Answer]) -> Vec<usize> {
    answers
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Answer::Refused { .. }))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn windows_respect_count_and_bytes_and_hold_at_least_one_request() {
    let limits = WindowLimits {
        max_bytes: 100,
        max_count: 3,
    };
    assert_eq!(windows(&[], limits), vec![]);
    assert_eq!(windows(&[10; 7], limits), vec![0..3, 3..6, 6..7]);
    assert_eq!(windows(&[40, 40, 40, 40], limits), vec![0..2, 2..4]);
    // a request larger than the bound goes alone
    assert_eq!(windows(&[10, 500, 10], limits), vec![0..1, 1..2, 2..3]);
    // exactly at the bound fits
    assert_eq!(windows(&[50, 50, 1], limits), vec![0..2, 2..3]);
}

#[test]
fn limits_follow_the_socket_buffers() {
    let l = WindowLimits::for_buffers(425_984, 425_984);
    assert_eq!(l.max_bytes, 212_992);
    assert_eq!(l.max_count, 104);
    // never below one request per window, never above the byte cap
    assert_eq!(WindowLimits::for_buffers(0, 0).max_count, 1);
    assert_eq!(
        WindowLimits::for_buffers(1 << 30, 1 << 20).max_bytes,
        256 * 1024
    );
}

/// The acknowledgement the kernel queues for request `seq`: `error` 0
/// for an ACK, a negative errno for a refusal (capped: no request echoed).
fn ack(seq: u32, error: i32) -> NlMessage {
    let mut payload = Vec::new();
    NlError {
        error,
        request: NlHeader {
            seq,
            ..NlHeader::default()
        },
        message: None,
    }
    .emit(&mut payload);
    NlMessage {
        header: NlHeader {
            msg_type: NLMSG_ERROR,
            flags: NLM_F_CAPPED,
            seq,
            ..NlHeader::default()
        },
        payload: payload.into(),
    }
}

#[test]
fn answers_are_matched_by_sequence_number() {
    // sequence numbers that wrap inside the window
    let first = u32::MAX - 1;
    let mut w = WindowAnswers::new(first, 4);
    // a late answer to an earlier request, and a non-acknowledgement
    assert!(
        !w.accept(&ack(first.wrapping_sub(1), -libc::EPERM))
            .expect("ack")
    );
    let mut data = ack(first, 0);
    data.header.msg_type = 16;
    assert!(!w.accept(&data).expect("data"));
    assert!(!w.accept(&ack(u32::MAX, -libc::ENOENT)).expect("ack"));
    assert!(
        !w.accept(&ack(first.wrapping_add(5), -libc::EPERM))
            .expect("ack")
    );
    assert!(w.accept(&ack(1, 0)).expect("last ack"));
    let answers: Vec<Answer> = w.finish().collect();
    assert_eq!(refused_at(&answers), vec![1]);
    assert!(matches!(
        answers[1],
        Answer::Refused {
            errno: libc::ENOENT,
            ..
        }
    ));
}

#[test]
fn a_refusal_in_the_middle_is_answered_at_its_place() {
    let mut kernel = SimulatedKernel::new(64 * 1024, 64 * 1024, |i| i == 5);
    let mut seq = 100;
    let (answers, failure) = batch(
        &mut kernel,
        &mut seq,
        &requests(12, 40),
        WindowLimits::for_buffers(64 * 1024, 64 * 1024),
    );
    assert!(failure.is_none());
    assert_eq!(answers.len(), 12);
    assert_eq!(refused_at(&answers), vec![5]);
    match &answers[5] {
        Answer::Refused { errno, message } => {
            assert_eq!(*errno, libc::EEXIST);
            assert_eq!(message.as_deref(), Some("request 5 refused"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seq, 112, "one sequence number per request");
    // one datagram; one receive for the refusal, one for the final ACK
    assert_eq!((kernel.datagrams, kernel.receives), (1, 2));
}

#[test]
fn a_batch_far_larger_than_the_socket_buffers_never_overflows_them() {
    // 20 000 requests of ~400 bytes (8 MB) through 64 KiB buffers, every
    // one refused: the worst case for the receive queue.
    for refuse_every in [1, 7, usize::MAX] {
        let (send, receive) = (64 * 1024, 64 * 1024);
        let mut kernel = SimulatedKernel::new(send, receive, move |i| i % refuse_every == 0);
        let mut seq = 0;
        let n = 20_000;
        let (answers, failure) = batch(
            &mut kernel,
            &mut seq,
            &requests(n, 400),
            WindowLimits::for_buffers(send, receive),
        );
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(answers.len(), n);
        let expected: Vec<usize> = (0..n).filter(|i| i % refuse_every == 0).collect();
        assert_eq!(refused_at(&answers), expected);
        assert!(kernel.datagrams > 1 && kernel.datagrams < n / 10);
        assert!(kernel.high_water * ACK_TRUESIZE <= receive);
    }
}

#[test]
fn an_overflowing_window_is_a_transport_error_not_a_silent_success() {
    // Limits that ignore the receive buffer: refusals get lost, and the
    // kernel's ENOBUFS ends the batch.
    let mut kernel = SimulatedKernel::new(1 << 20, 16 * 1024, |_| true);
    let mut seq = 0;
    let limits = WindowLimits {
        max_bytes: 1 << 19,
        max_count: 1000,
    };
    let (answers, failure) = batch(&mut kernel, &mut seq, &requests(100, 40), limits);
    assert!(matches!(
        failure,
        Some(SocketError::Receive(Errno::ENOBUFS))
    ));
    assert!(answers.is_empty());
}

#[test]
fn a_transport_failure_keeps_the_answers_of_earlier_windows() {
    // The third window's datagram is refused by the send buffer.
    let mut kernel = SimulatedKernel::new(2048, 64 * 1024, |i| i == 1);
    let mut seq = 0;
    let mut reqs = requests(9, 100);
    reqs[6].1 = vec![0; 4000];
    let limits = WindowLimits {
        max_bytes: 1024,
        max_count: 3,
    };
    let (answers, failure) = batch(&mut kernel, &mut seq, &reqs, limits);
    assert!(matches!(failure, Some(SocketError::Send(Errno::EMSGSIZE))));
    assert_eq!(answers.len(), 6);
    assert_eq!(refused_at(&answers), vec![1]);
}

#[test]
fn refusals_are_told_by_their_index_in_the_batch() {
    // Windows of three; refusals in the first and second windows; the
    // third window's datagram is refused by the send buffer.
    let mut kernel = SimulatedKernel::new(2048, 64 * 1024, |i| i == 1 || i == 4 || i == 5);
    let mut seq = 0;
    let mut frames = Frames::default();
    for (i, (msg_type, payload)) in requests(9, 100).iter().enumerate() {
        let payload = if i == 6 { &[0; 4000][..] } else { payload };
        frames.push_keyless(*msg_type, payload.len(), |out| {
            out.extend_from_slice(payload)
        });
    }
    let limits = WindowLimits {
        max_bytes: 1024,
        max_count: 3,
    };
    let outcome = batch_frames_refusals(&mut kernel, &mut seq, &mut frames, limits);
    assert!(matches!(
        outcome.failure,
        Some(SocketError::Send(Errno::EMSGSIZE))
    ));
    assert_eq!(outcome.answered, 6);
    let refusal = |index: usize| Refusal {
        index,
        errno: libc::EEXIST,
        message: Some(format!("request {index} refused")),
    };
    assert_eq!(outcome.refusals, vec![refusal(1), refusal(4), refusal(5)]);
}

#[test]
fn window_answers_keep_what_came_in_request_order() {
    let mut w = WindowAnswers::new(10, 5);
    // out of order, a repeat that replaces, one of another window
    for (seq, error) in [(13, -1), (11, -2), (11, -3), (9, -4)] {
        assert!(!w.accept(&ack(seq, error)).unwrap());
    }
    assert!(w.accept(&ack(14, 0)).unwrap());
    let refused = |errno| Answer::Refused {
        errno,
        message: None,
    };
    let done = Answer::Done(Vec::new());
    assert_eq!(
        w.finish().collect::<Vec<_>>(),
        vec![done.clone(), refused(3), done.clone(), refused(1), done]
    );
    assert!(WindowAnswers::new(0, 0).complete());
}

/// The real socket, when this host has XFRM netlink and lets us use it:
/// thousands of lookups of SAs that do not exist (nothing changes), each
/// refused, in far fewer system calls than requests.
///
/// A test of the kernel: it fails where there is none to ask (run as root
/// on a kernel with XFRM netlink), unless built with
/// `RSETKEY_SKIP_KERNEL_TESTS=1`.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no kernel on purpose"
)]
fn the_kernel_answers_a_large_batch_in_order() {
    let skip = "(build with RSETKEY_SKIP_KERNEL_TESTS=1 to skip the kernel tests on purpose)";
    let mut socket = match super::socket::NetlinkSocket::open() {
        Ok(s) => s,
        Err(e) => panic!("no XFRM netlink here ({e}): run as root {skip}"),
    };
    let n = 5000;
    let reqs: Vec<(u16, Vec<u8>)> = (0..n)
        .map(|i: u32| {
            let mut p = Vec::new();
            super::wire::UsersaId {
                daddr: super::wire::XfrmAddress([192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                spi: (0x7f00_0000 + i).to_be(),
                family: super::wire::AF_INET,
                proto: super::translate::IPPROTO_ESP,
            }
            .emit(&mut p);
            (super::wire::msg::GETSA, p)
        })
        .collect();
    let (answers, failure) = socket.batch(&reqs);
    if let Some(SocketError::Send(Errno::EPERM) | SocketError::Receive(Errno::EPERM)) = failure {
        panic!("XFRM netlink refused us (EPERM): run as root {skip}");
    }
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(answers.len(), n as usize);
    for a in &answers {
        assert!(
            matches!(a, Answer::Refused { errno, .. } if *errno == libc::ESRCH || *errno == libc::EPERM),
            "{a:?}"
        );
    }
}

#[test]
fn frames_are_the_requests_as_they_go_on_the_wire() {
    let mut frames = Frames::default();
    frames.push(16, 5, |out| out.extend_from_slice(b"hello"));
    frames.push_payload(19, b"");
    frames.push_payload(20, &[9; 8]);
    assert_eq!(frames.len(), 3);
    assert_eq!(
        (frames.msg_type(0), frames.msg_type(1), frames.msg_type(2)),
        (16, 19, 20)
    );
    // Sent as one window: sequence numbers on from 41, NLM_F_ACK on the
    // last only; lengths without the padding, payloads padded to 4.
    struct Recorder(Vec<Vec<u8>>);
    impl Datagrams for Recorder {
        fn send_datagram(&mut self, bytes: &[u8]) -> Result<(), SocketError> {
            self.0.push(bytes.to_vec());
            Ok(())
        }
        fn receive_datagram(&mut self) -> Result<Vec<NlMessage>, SocketError> {
            let ack = NlError {
                error: 0,
                request: NlHeader {
                    len: 16,
                    msg_type: 20,
                    flags: 0,
                    seq: 43,
                    pid: 0,
                },
                message: None,
            };
            let mut payload = Vec::new();
            ack.emit(&mut payload);
            Ok(vec![NlMessage {
                header: NlHeader {
                    len: 0,
                    msg_type: NLMSG_ERROR,
                    flags: NLM_F_CAPPED,
                    seq: 43,
                    pid: 0,
                },
                payload: payload.into(),
            }])
        }
    }
    let mut socket = Recorder(Vec::new());
    let mut seq = 40;
    let limits = WindowLimits {
        max_bytes: 1 << 20,
        max_count: 10,
    };
    let (answers, failure) = batch_frames(&mut socket, &mut seq, &mut frames, limits);
    assert!(failure.is_none());
    assert_eq!(answers, vec![Answer::Done(Vec::new()); 3]);
    assert_eq!(seq, 43);
    let sent = NlMessage::parse_all(&socket.0[0]).unwrap();
    let seen: Vec<_> = sent
        .iter()
        .map(|m| {
            (
                m.header.msg_type,
                m.header.seq,
                m.header.flags,
                m.payload.to_vec(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (16, 41, NLM_F_REQUEST, b"hello".to_vec()),
            (19, 42, NLM_F_REQUEST, Vec::new()),
            (20, 43, NLM_F_REQUEST | NLM_F_ACK, vec![9; 8]),
        ]
    );
    assert_eq!(socket.0[0].len(), 16 + 8 + 16 + 16 + 8);
    frames.clear();
    assert!(frames.is_empty());
}
