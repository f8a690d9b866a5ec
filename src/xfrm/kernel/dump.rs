//! Dumps through XFRM: the walk of the SAD or SPD as PF_KEY DUMP /
//! SPDDUMP answers, numbered the way af_key numbers them.

use super::*;

/// Which table a dump walks.
#[derive(Debug, Clone, Copy)]
pub(super) enum DumpKind {
    /// SAs of this protocol (IPPROTO_*; see `proto_matches`).
    Sa(u8),
    /// Main-type policies.
    Policy,
}

/// A dump being read (see `XfrmKernel::next_entry`).
pub(super) struct DumpStream {
    /// Netlink sequence number of the dump request.
    pub(super) seq: u32,
    /// Its netlink type (for error hints).
    pub(super) nl_type: u16,
    /// The PF_KEY request.
    pub(super) header: Header,
    pub(super) kind: DumpKind,
    /// Converted entries not given yet (at most a datagram's worth).
    pub(super) ready: VecDeque<Result<Message, i32>>,
    /// The kernel has sent everything.
    pub(super) ended: bool,
    /// An entry PF_KEY cannot express was met: nothing after it counts.
    pub(super) failed: bool,
    /// Entries given so far.
    pub(super) given: u32,
    /// The time of the request (lifetimes, reference counts).
    pub(super) now: u64,
}

impl DumpStream {
    /// The kernel ended the walk with `errno`. False when no entry was
    /// given or is waiting: the dump as a whole is refused. Otherwise, as
    /// af_key does, the last entry given carries the error, so the dump is
    /// never taken for complete.
    pub(super) fn walk_failed(&mut self, errno: i32) -> bool {
        if self.given == 0 && self.ready.is_empty() {
            return false;
        }
        if !self.failed {
            self.failed = true;
            self.ready.push_back(Err(errno));
        }
        true
    }

    /// The next entry, once two are read ahead or the walk is over,
    /// numbered as af_key numbers them (1, 2, …, N−1, then 0 for the last;
    /// the last one carries the error of an entry PF_KEY cannot express or
    /// of a failed walk), and whether it is the last. `Err(errno)` when
    /// there is no entry to give: nothing at all (ENOENT), or an entry
    /// PF_KEY cannot express first.
    pub(super) fn give(&mut self) -> Result<(Message, bool), i32> {
        let entry = self.ready.pop_front();
        let Some(Ok(mut m)) = entry else {
            return Err(match entry {
                Some(Err(errno)) => errno,
                _ => libc::ENOENT,
            });
        };
        self.given += 1;
        let last = match self.ready.front() {
            Some(Ok(_)) => {
                m.header.seq = self.given;
                false
            }
            Some(Err(errno)) => {
                m.header.seq = 0;
                // the negative error code truncated to sadb_msg_errno's 8 bits
                m.header.errno = (errno.wrapping_neg()) as u8;
                true
            }
            None => {
                m.header.seq = 0;
                true
            }
        };
        Ok((m, last))
    }

    /// One entry of the dump as af_key would send it; `None` for what the
    /// PF_KEY dump leaves out (other protocols, kernel-internal states,
    /// non-main policies).
    pub(super) fn convert(&self, nl_type: u16, payload: &[u8]) -> Option<Result<Message, i32>> {
        let h = self.header;
        match self.kind {
            DumpKind::Sa(proto) => {
                if nl_type != msg::NEWSA {
                    return None;
                }
                let (info, attrs) = state_of(payload)?;
                if !proto_matches(info.id.proto, proto) {
                    return None;
                }
                Some(
                    translate::state_to_pfkey(&info, &attrs, self.now).map(|(satype, ext)| {
                        Message {
                            header: Header {
                                version: h.version,
                                msg_type: MessageType::Dump as u8,
                                errno: 0,
                                satype,
                                len: 0,
                                reserved: 0,
                                seq: 0,
                                pid: h.pid,
                            },
                            extensions: ext,
                        }
                    }),
                )
            }
            DumpKind::Policy => {
                if nl_type != msg::NEWPOLICY {
                    return None;
                }
                let (info, attrs) = policy_of(payload)?;
                let main = find(&attrs, attr::POLICY_TYPE)
                    .and_then(policy_type)
                    .is_none_or(|t| t == POLICY_TYPE_MAIN);
                if !main {
                    return None;
                }
                Some(
                    translate::policy_to_pfkey(&info, &attrs).map(|ext| Message {
                        header: Header {
                            version: h.version,
                            msg_type: MessageType::SpdDump as u8,
                            errno: 0,
                            satype: 0,
                            len: 0,
                            reserved: translate::policy_refcnt(&info, self.now),
                            seq: 0,
                            pid: h.pid,
                        },
                        extensions: ext,
                    }),
                )
            }
        }
    }
}

/// Reads the rest of a dump, discarding it.
pub(super) fn drain(socket: &mut NetlinkSocket, d: &mut DumpStream) -> Result<(), SocketError> {
    while !d.ended {
        if socket.dump_part(d.seq, |_, _| {})?.is_some() {
            d.ended = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod dump_stream_tests {
    use super::*;

    fn stream(entries: usize) -> DumpStream {
        DumpStream {
            seq: 1,
            nl_type: msg::GETSA,
            header: Header::default(),
            kind: DumpKind::Sa(IPPROTO_ESP),
            ready: (0..entries)
                .map(|_| Ok(Message::new(Header::default())))
                .collect(),
            ended: true,
            failed: false,
            given: 0,
            now: 0,
        }
    }

    /// Gives every entry as `next_entry` does: (seq, errno) of each.
    fn numbering(d: &mut DumpStream) -> Vec<(u32, u8)> {
        let mut out = Vec::new();
        while let Ok((m, last)) = d.give() {
            out.push((m.header.seq, m.header.errno));
            if last {
                break;
            }
        }
        out
    }

    #[test]
    fn entries_are_numbered_as_af_key_numbers_them() {
        assert_eq!(numbering(&mut stream(3)), [(1, 0), (2, 0), (0, 0)]);
        assert_eq!(stream(0).give().err(), Some(libc::ENOENT));
    }

    #[test]
    fn a_walk_that_fails_after_entries_ends_in_an_error_not_in_silence() {
        let mut d = stream(2);
        assert!(d.walk_failed(libc::EINVAL));
        // the last entry carries the error, as af_key's last message
        let einval = (libc::EINVAL.wrapping_neg()) as u8;
        assert_eq!(numbering(&mut d), [(1, 0), (0, einval)]);
        // a second failure does not add a second error entry
        let mut d = stream(1);
        assert!(d.walk_failed(libc::EINVAL));
        assert!(d.walk_failed(libc::EIO));
        assert_eq!(numbering(&mut d), [(0, einval)]);
    }

    #[test]
    fn a_walk_that_fails_before_any_entry_refuses_the_dump() {
        let mut d = stream(0);
        assert!(!d.walk_failed(libc::EINVAL));
    }
}
