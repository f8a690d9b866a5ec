//! The floor of an apply through XFRM: the kernel's own work, measured by
//! sending requests that cost user space (almost) nothing.
//!
//!     cargo run --release --example xfrm-floor -- encode N > batch
//!     cargo run --release --example xfrm-floor -- send batch
//!
//! `encode` writes the netlink requests for `N` policies — the ones
//! `benches/native` applies, `spdadd 10.a.b.c 11.a.b.c any -P out ipsec
//! esp/transport//require;`, encoded by rsetkey's own translation — one
//! after the other. `send` reads such a file and sends it the way rsetkey
//! sends a script's requests (batches of 2 048, windows of the socket's
//! size, acknowledgements only for refusals and each window's last
//! request): no script to read, nothing to parse, resolve or check.
//! Timed as a process and set against `ip -batch`, it is the ratio no
//! `rsetkey -f` can go below on that kernel. Needs CAP_NET_ADMIN.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use rsetkey::ir::{
    Direction, IpsecMode, IpsecProtocol, IpsecRequest, Level, PRIORITY_DEFAULT, Policy,
    PolicyAction, PolicyRequest, SelectorAddress, SmallList, UPPER_ANY,
};
use rsetkey::pfkey::request::{self, PolicyMessage};
use rsetkey::pfkey::wire::{Header, MessageType};
use rsetkey::xfrm::netlink::{NLMSG_HDRLEN, NlHeader, NlMessage};
use rsetkey::xfrm::socket::{Answer, Frames, NetlinkSocket};
use rsetkey::xfrm::translate;
use rsetkey::xfrm::wire::msg;

/// Requests per batch, as rsetkey's executor gathers them.
const BATCH: usize = 2048;

/// The `i`-th policy of the benchmark's script.
fn policy(i: u32) -> PolicyRequest {
    let host = |net: u32| SelectorAddress {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::from((net << 24) | i)), 0),
        prefixlen: 32,
    };
    PolicyRequest {
        src: host(10),
        dst: host(11),
        upper: UPPER_ANY,
        policy: Policy {
            direction: Direction::Out,
            action: PolicyAction::Ipsec,
            priority: PRIORITY_DEFAULT,
            requests: SmallList::one(IpsecRequest {
                protocol: IpsecProtocol::Esp,
                mode: IpsecMode::Transport,
                level: Level::Require,
                reqid: 0,
                endpoints: None,
            }),
        },
        context: None,
    }
}

fn encode(n: u32) -> Result<(), String> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for i in 0..n {
        let header = Header::request(MessageType::SpdAdd, 0, 0);
        let m = request::policy(header, PolicyMessage::Add, &policy(i));
        let p = translate::policy_request(&m, &mut || Err(libc::ENOBUFS))
            .map_err(|e| format!("policy {i}: errno {e}"))?;
        let framed = NlMessage {
            header: NlHeader {
                len: 0,
                msg_type: msg::NEWPOLICY,
                flags: 0,
                seq: 0,
                pid: 0,
            },
            payload: p.payload().into(),
        };
        let mut bytes = Vec::new();
        framed.emit(&mut bytes);
        out.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn send(path: &str) -> Result<(), String> {
    // Read a window at a time, as rsetkey reads a script: the floor holds
    // one batch, not the whole file.
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    let mut socket = NetlinkSocket::open().map_err(|e| e.to_string())?;
    let mut frames = Frames::default();
    let mut payload = Vec::new();
    let mut refused = 0usize;
    loop {
        let mut head = [0u8; NLMSG_HDRLEN];
        let more = match reader.read_exact(&mut head) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => false,
            Err(e) => return Err(format!("{path}: {e}")),
        };
        if more {
            let header = NlHeader::parse(&head).map_err(|e| e.to_string())?;
            let len = (header.len as usize).max(NLMSG_HDRLEN);
            payload.resize(len.next_multiple_of(4) - NLMSG_HDRLEN, 0);
            reader
                .read_exact(&mut payload)
                .map_err(|e| format!("{path}: {e}"))?;
            // Policies hold no keys: framed as rsetkey frames them.
            let body = &payload[..len - NLMSG_HDRLEN];
            frames.push_keyless(header.msg_type, body.len(), |out| {
                out.extend_from_slice(body)
            });
        }
        if frames.len() == BATCH || (!more && !frames.is_empty()) {
            let (answers, failure) = socket.batch_frames(&mut frames);
            if let Some(e) = failure {
                return Err(e.to_string());
            }
            refused += answers
                .iter()
                .filter(|a| matches!(a, Answer::Refused { .. }))
                .count();
            frames.clear();
        }
        if !more {
            break;
        }
    }
    if refused > 0 {
        return Err(format!("{refused} requests refused"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let done = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["encode", n] => n
            .parse()
            .map_err(|_| format!("not a count: {n}"))
            .and_then(encode),
        ["send", path] => send(path),
        _ => Err("usage: xfrm-floor encode N > FILE | xfrm-floor send FILE".into()),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "xfrm-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
