//! `--atomic`: a script is applied in full or not at all.
//!
//! The pieces, used in this order by the command line:
//!
//! 1. [`Snapshot::take`] reads the SAD and SPD through XFRM netlink. An
//!    SA's dump entry is the very `XFRM_MSG_NEWSA` request that re-creates
//!    it — keys, lifetimes, replay state, encapsulation, marks — and a
//!    policy's entry the `XFRM_MSG_NEWPOLICY` request, index included, so
//!    the snapshot is kept as the kernel sent it. PF_KEY cannot do this: it
//!    can set neither an SA's creation time nor a policy's index.
//! 2. [`in_scratch_namespace`] runs the script first in a new, empty
//!    network namespace seeded with the snapshot ([`Snapshot::seed`]).
//!    Every refusal the real run would meet — a duplicate SA, a missing
//!    one, a policy conflict — shows there, and the real databases are
//!    never touched.
//! 3. The real run stops at the first refusal or at SIGINT, SIGTERM or
//!    SIGHUP ([`catch_interrupts`], [`interrupted`]), and then
//!    [`Snapshot::restore`] puts the databases back.
//!
//! # Restoring
//!
//! The kernel lists SAs and policies newest first, and a dump shows them in
//! that order, so restoring must keep the order too. The oldest entries the
//! script left alone (the longest common tail of the snapshot and the
//! present lists) stay where they are; every newer entry of the present
//! lists is deleted, and every newer entry of the snapshot is added again,
//! oldest first. SAs come back exactly: XFRM takes their current lifetime
//! (creation time, bytes, packets, first use) and replay state with the
//! request. Policies come back with their index (`spid`), selector,
//! templates, priority and lifetimes, but the kernel stamps a re-added
//! policy's creation time itself: its `created:` shows the time of the
//! restore, and its `lastused:` is empty. Larval SAs (left by `getspi`)
//! come back with their SPI through ALLOCSPI and a new creation time.
//! Per-socket policies and the kernel's own states (the IPIP states of
//! IPComp tunnels, acquire states without an SPI) are not the script's to
//! change and are left out.

use std::fs::File;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use zeroize::{Zeroize, Zeroizing};

use crate::codec::{self, NETLINK_ALIGN, Reader, Writer};
use crate::pfkey::SocketError;
use crate::xfrm::netlink::{NLA_HDRLEN, NLM_F_DUMP, align4};
use crate::xfrm::socket::{Answer, NetlinkSocket};
use crate::xfrm::wire::{
    UserpolicyId, UserpolicyInfo, UsersaId, UsersaInfo, UserspiInfo, attr, msg,
};

/// `XFRM_POLICY_MAX`: directions from here on are per-socket policies.
const POLICY_DIRECTIONS: u8 = 3;

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    /// The XFRM netlink socket failed.
    #[error("{}", .0.setkey_text())]
    Socket(#[from] SocketError),
    /// The kernel refused to list its SAs or policies.
    #[error("the kernel refused to list its {what}: {}", crate::os::strerror(*.errno))]
    Dump {
        /// `SAs` or `policies`
        what: &'static str,
        /// positive errno
        errno: i32,
    },
    /// The kernel refused a request of the restore.
    #[error("{what}: {}", crate::os::strerror(*.errno))]
    Refused {
        /// what was asked, e.g. `re-adding an SA (spi 0x1000)`
        what: String,
        /// positive errno
        errno: i32,
    },
    /// After the restore, the databases still differ from the snapshot.
    #[error("after restoring, the {0} still differ from the snapshot")]
    Differs(&'static str),
}

/// One SA or policy as the kernel dumped it: the payload of an
/// `XFRM_MSG_NEWSA` / `XFRM_MSG_NEWPOLICY` message (keys included, hence
/// wiped when dropped).
struct Entry(Zeroizing<Vec<u8>>);

/// The SAD and SPD at one moment, newest entry first (the kernel's order).
pub struct Snapshot {
    states: Vec<Entry>,
    policies: Vec<Entry>,
}

/// What [`Snapshot::restore`] had to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// SAs deleted (added by the script, or newer than what it changed).
    pub states_deleted: usize,
    /// SAs added again, exactly as they were.
    pub states_added: usize,
    /// Policies deleted.
    pub policies_deleted: usize,
    /// Policies added again (with a new creation time).
    pub policies_added: usize,
}

impl Snapshot {
    /// Reads every SA and policy of the current network namespace.
    pub fn take(socket: &mut NetlinkSocket) -> Result<Snapshot, AtomicError> {
        Ok(Snapshot {
            states: dump(socket, msg::GETSA, msg::NEWSA, "SAs")?
                .into_iter()
                .filter(|e| tracked_state(&e.0))
                .collect(),
            policies: dump(socket, msg::GETPOLICY, msg::NEWPOLICY, "policies")?
                .into_iter()
                .filter(|e| tracked_policy(&e.0))
                .collect(),
        })
    }

    /// Adds every SA and policy of the snapshot, oldest first, through
    /// `socket` — meant for an empty (scratch) namespace.
    pub fn seed(&self, socket: &mut NetlinkSocket) -> Result<(), AtomicError> {
        add_states(socket, self.states.iter().rev())?;
        add_policies(socket, self.policies.iter().rev())?;
        Ok(())
    }

    /// Puts the databases of `socket`'s namespace back as the snapshot
    /// has them (see the module documentation), then checks the result.
    pub fn restore(&self, socket: &mut NetlinkSocket) -> Result<Restored, AtomicError> {
        let now = Snapshot::take(socket)?;
        let keep_states = common_tail(&self.states, &now.states, |e| state_fingerprint(e, false));
        let keep_policies = common_tail(&self.policies, &now.policies, |e| {
            policy_fingerprint(e, false)
        });
        let doomed_states = &now.states[..now.states.len() - keep_states];
        let doomed_policies = &now.policies[..now.policies.len() - keep_policies];
        let lost_states = &self.states[..self.states.len() - keep_states];
        let lost_policies = &self.policies[..self.policies.len() - keep_policies];

        delete_policies(socket, doomed_policies)?;
        delete_states(socket, doomed_states)?;
        add_states(socket, lost_states.iter().rev())?;
        add_policies(socket, lost_policies.iter().rev())?;

        let after = Snapshot::take(socket)?;
        if !same_lists(&self.states, &after.states, |e| state_fingerprint(e, true)) {
            return Err(AtomicError::Differs("SAs"));
        }
        if !same_lists(&self.policies, &after.policies, |e| {
            policy_fingerprint(e, true)
        }) {
            return Err(AtomicError::Differs("policies"));
        }
        Ok(Restored {
            states_deleted: doomed_states.len(),
            states_added: lost_states.len(),
            policies_deleted: doomed_policies.len(),
            policies_added: lost_policies.len(),
        })
    }
}

/// Reads a whole XFRM dump: the payloads of its `entry_type` messages.
fn dump(
    socket: &mut NetlinkSocket,
    request: u16,
    entry_type: u16,
    what: &'static str,
) -> Result<Vec<Entry>, AtomicError> {
    let seq = socket.start(request, NLM_F_DUMP, Vec::new())?;
    let mut entries = Vec::new();
    loop {
        let end = socket.dump_part(seq, |t, payload| {
            if t == entry_type {
                entries.push(Entry(Zeroizing::new(payload.to_vec())));
            }
        })?;
        match end {
            None => continue,
            Some(Answer::Done(_)) => return Ok(entries),
            Some(Answer::Refused { errno, .. }) => return Err(AtomicError::Dump { what, errno }),
        }
    }
}

/// Whether an SA is the script's to change: AH, ESP or IPComp with an SPI
/// (not the kernel's IPIP states of IPComp tunnels, nor acquire states).
fn tracked_state(payload: &[u8]) -> bool {
    UsersaInfo::parse(payload)
        .is_ok_and(|info| matches!(info.id.proto, 50 | 51 | 108) && info.id.spi != 0)
}

/// Whether a policy is the script's to change (not a per-socket policy).
fn tracked_policy(payload: &[u8]) -> bool {
    UserpolicyInfo::parse(payload).is_ok_and(|info| info.dir < POLICY_DIRECTIONS)
}

/// The attributes after a fixed header of `fixed` bytes: (type, the whole
/// attribute with its header and padding). Stops at the first malformed
/// one.
fn attributes(payload: &[u8], fixed: usize) -> impl Iterator<Item = (u16, &[u8])> {
    codec::attributes(Reader::new(payload).tail(align4(fixed)))
        .map_while(Result::ok)
        .map(|a| (a.kind, a.whole))
}

/// The value of the first attribute of a kind, with its header.
fn attribute(payload: &[u8], fixed: usize, kind: u16) -> Option<&[u8]> {
    attributes(payload, fixed)
        .find(|(k, _)| *k == kind)
        .map(|(_, a)| a)
}

/// Whether an SA has no algorithm: a larval SA (from GETSPI).
fn larval(payload: &[u8]) -> bool {
    !attributes(payload, UsersaInfo::LEN).any(|(k, _)| {
        matches!(
            k,
            attr::ALG_AUTH
                | attr::ALG_CRYPT
                | attr::ALG_COMP
                | attr::ALG_AEAD
                | attr::ALG_AUTH_TRUNC
        )
    })
}

/// What must be equal for two SA entries to be the same SA in the same
/// state: everything but what traffic changes (counters, replay state,
/// last use). With `loose`, also the creation time of larval SAs, which a
/// restore cannot keep.
fn state_fingerprint(e: &Entry, loose: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(e.0.len()));
    let Ok(mut info) = UsersaInfo::parse(&e.0) else {
        out.extend_from_slice(&e.0);
        return out;
    };
    let add_time = if loose && larval(&e.0) {
        0
    } else {
        info.curlft.add_time
    };
    info.curlft = Default::default();
    info.curlft.add_time = add_time;
    info.stats = [0; 3];
    info.emit(&mut out);
    for (kind, a) in attributes(&e.0, UsersaInfo::LEN) {
        if !matches!(
            kind,
            attr::REPLAY_VAL | attr::REPLAY_ESN_VAL | attr::LASTUSED | attr::PAD
        ) {
            out.extend_from_slice(a);
        }
    }
    out
}

/// What must be equal for two policy entries to be the same policy: all
/// but its use time, and with `loose` its creation time, which a restore
/// cannot keep.
fn policy_fingerprint(e: &Entry, loose: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(e.0.len()));
    let Ok(mut info) = UserpolicyInfo::parse(&e.0) else {
        out.extend_from_slice(&e.0);
        return out;
    };
    info.curlft.use_time = 0;
    if loose {
        info.curlft.add_time = 0;
    }
    info.emit(&mut out);
    for (kind, a) in attributes(&e.0, UserpolicyInfo::LEN) {
        if kind != attr::PAD {
            out.extend_from_slice(a);
        }
    }
    out
}

/// How many entries at the end (the oldest) of `before` and `now` are the
/// same.
fn common_tail<F>(before: &[Entry], now: &[Entry], fingerprint: F) -> usize
where
    F: Fn(&Entry) -> Zeroizing<Vec<u8>>,
{
    before
        .iter()
        .rev()
        .zip(now.iter().rev())
        .take_while(|(a, b)| fingerprint(a) == fingerprint(b))
        .count()
}

/// Whether two lists hold the same entries in the same order.
fn same_lists<F>(a: &[Entry], b: &[Entry], fingerprint: F) -> bool
where
    F: Fn(&Entry) -> Zeroizing<Vec<u8>>,
{
    a.len() == b.len() && common_tail(a, b, fingerprint) == a.len()
}

/// Sends acknowledged-only requests in a batch; refusals with an errno in
/// `tolerated` count as done.
fn send_all(
    socket: &mut NetlinkSocket,
    mut requests: Vec<(u16, Vec<u8>)>,
    what: impl Fn(usize) -> String,
    tolerated: &[i32],
) -> Result<(), AtomicError> {
    if requests.is_empty() {
        return Ok(());
    }
    let (answers, failure) = socket.batch(&requests);
    // The requests re-creating SAs hold their keys.
    for (_, payload) in &mut requests {
        payload.zeroize();
    }
    for (i, answer) in answers.iter().enumerate() {
        if let Answer::Refused { errno, .. } = answer
            && !tolerated.contains(errno)
        {
            return Err(AtomicError::Refused {
                what: what(i),
                errno: *errno,
            });
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The SPI of an SA entry, for messages.
fn spi_of(e: &Entry) -> u32 {
    UsersaInfo::parse(&e.0).map_or(0, |info| info.id.spi)
}

/// Adds SAs, in the order given: larval ones through ALLOCSPI, the others
/// through NEWSA with their current lifetime.
fn add_states<'a>(
    socket: &mut NetlinkSocket,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), AtomicError> {
    let mut batch: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut spis = Vec::new();
    for e in entries {
        let Ok(info) = UsersaInfo::parse(&e.0) else {
            continue;
        };
        if larval(&e.0) {
            // ALLOCSPI answers with the new SA, not an acknowledgement: it
            // cannot go into a batch. Keep the order: send what came before.
            send_all(
                socket,
                std::mem::take(&mut batch),
                |i| re_adding(spis[i]),
                &[],
            )?;
            spis.clear();
            allocate_spi(socket, info)?;
            continue;
        }
        let mut payload = Vec::with_capacity(e.0.len() + NLA_HDRLEN + 32);
        Writer::new(&mut payload)
            .bytes(&e.0)
            .align_from(0, NETLINK_ALIGN);
        push_attr(
            &mut payload,
            attr::LTIME_VAL,
            &[
                info.curlft.bytes,
                info.curlft.packets,
                info.curlft.add_time,
                info.curlft.use_time,
            ],
        );
        batch.push((msg::NEWSA, payload));
        spis.push(info.id.spi);
    }
    send_all(socket, batch, |i| re_adding(spis[i]), &[])
}

fn re_adding(spi: u32) -> String {
    format!("re-adding the SA with spi {spi} ({spi:#x})")
}

/// Re-creates a larval SA with its SPI.
fn allocate_spi(socket: &mut NetlinkSocket, info: UsersaInfo) -> Result<(), AtomicError> {
    let spi = info.id.spi;
    let mut payload = Vec::with_capacity(UserspiInfo::LEN);
    UserspiInfo {
        info,
        min: spi,
        max: spi,
    }
    .emit(&mut payload);
    match socket.transact(msg::ALLOCSPI, 0, payload)? {
        Answer::Done(_) => Ok(()),
        Answer::Refused { errno, .. } => Err(AtomicError::Refused {
            what: format!("re-creating the larval SA with spi {spi} ({spi:#x})"),
            errno,
        }),
    }
}

/// Appends an attribute holding native-endian u64 values.
fn push_attr(out: &mut Vec<u8>, kind: u16, values: &[u64]) {
    Writer::new(out).attribute(kind, |w| {
        for v in values {
            w.ne_u64(*v);
        }
    });
}

/// Adds policies, in the order given, with their indexes.
fn add_policies<'a>(
    socket: &mut NetlinkSocket,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), AtomicError> {
    let requests: Vec<(u16, Vec<u8>)> = entries.map(|e| (msg::NEWPOLICY, e.0.to_vec())).collect();
    let ids: Vec<u32> = requests
        .iter()
        .map(|(_, p)| UserpolicyInfo::parse(p).map_or(0, |i| i.index))
        .collect();
    send_all(
        socket,
        requests,
        |i| format!("re-adding the policy with spid {}", ids[i]),
        &[],
    )
}

/// Deletes SAs (already gone is fine).
fn delete_states(socket: &mut NetlinkSocket, entries: &[Entry]) -> Result<(), AtomicError> {
    let mut requests = Vec::with_capacity(entries.len());
    for e in entries {
        let Ok(info) = UsersaInfo::parse(&e.0) else {
            continue;
        };
        let mut payload = Vec::with_capacity(UsersaId::LEN + 16);
        UsersaId {
            daddr: info.id.daddr,
            spi: info.id.spi,
            family: info.family,
            proto: info.id.proto,
        }
        .emit(&mut payload);
        if let Some(mark) = attribute(&e.0, UsersaInfo::LEN, attr::MARK) {
            payload.extend_from_slice(mark);
        }
        requests.push((msg::DELSA, payload));
    }
    let spis: Vec<u32> = entries.iter().map(spi_of).collect();
    send_all(
        socket,
        requests,
        |i| {
            format!(
                "deleting the SA with spi {}",
                spis.get(i).copied().unwrap_or(0)
            )
        },
        &[libc::ESRCH, libc::ENOENT],
    )
}

/// Deletes policies by index (already gone is fine).
fn delete_policies(socket: &mut NetlinkSocket, entries: &[Entry]) -> Result<(), AtomicError> {
    let mut requests = Vec::with_capacity(entries.len());
    let mut ids = Vec::with_capacity(entries.len());
    for e in entries {
        let Ok(info) = UserpolicyInfo::parse(&e.0) else {
            continue;
        };
        let mut payload = Vec::with_capacity(UserpolicyId::LEN + 32);
        UserpolicyId {
            sel: info.sel,
            index: info.index,
            dir: info.dir,
        }
        .emit(&mut payload);
        for kind in [attr::POLICY_TYPE, attr::MARK, attr::IF_ID] {
            if let Some(a) = attribute(&e.0, UserpolicyInfo::LEN, kind) {
                payload.extend_from_slice(a);
            }
        }
        requests.push((msg::DELPOLICY, payload));
        ids.push(info.index);
    }
    send_all(
        socket,
        requests,
        |i| format!("deleting the policy with spid {}", ids[i]),
        &[libc::ENOENT, libc::ESRCH],
    )
}

/// Opens the XFRM netlink socket [`Snapshot`] works through.
pub fn open_snapshot_socket() -> Result<NetlinkSocket, SocketError> {
    NetlinkSocket::open()
}

/// Why a run in a scratch namespace did not happen, or did not end well.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    /// No scratch namespace could be made (no CAP_SYS_ADMIN, no network
    /// namespaces in the kernel, no /proc): nothing happened.
    #[error("cannot create a scratch network namespace: {}", crate::os::strerror(*.0 as i32))]
    Enter(Errno),
    /// The process could not return to its own namespace: anything it does
    /// from now on would act on the scratch one. Stop.
    #[error("cannot return to the original network namespace: {}", crate::os::strerror(*.0 as i32))]
    Return(Errno),
}

/// Runs `f` in a new, empty network namespace and returns to the current
/// one. Sockets `f` opens stay in the scratch namespace (which lives as long
/// as they do); everything else is back in the original one.
pub fn in_scratch_namespace<T>(f: impl FnOnce() -> T) -> Result<T, ScratchError> {
    let home = File::open("/proc/self/ns/net")
        .map_err(|e| ScratchError::Enter(Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(ScratchError::Enter)?;
    let result = f();
    setns(&home, CloneFlags::CLONE_NEWNET).map_err(ScratchError::Return)?;
    Ok(result)
}

/// The signal that interrupted the run (0: none yet).
static INTERRUPT: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_interrupt(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPT.store(signal, Ordering::SeqCst);
}

/// From now on SIGINT, SIGTERM and SIGHUP do not end the process; they are
/// noted for [`interrupted`], so that a run can stop between statements
/// and restore the snapshot. System calls they interrupt are restarted.
/// A signal ignored when rsetkey started (`nohup`, `trap '' HUP`) stays
/// ignored: whoever started us asked for it not to stop the run.
pub fn catch_interrupts() -> Result<(), Errno> {
    catch(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP])
}

/// [`catch_interrupts`] for `signals`.
fn catch(signals: &[Signal]) -> Result<(), Errno> {
    let action = SigAction::new(
        SigHandler::Handler(note_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for &signal in signals {
        // Asked before the handler goes in: replacing SIG_IGN even for a
        // moment would let a signal in that moment undo the run.
        if ignored(signal)? {
            continue;
        }
        // SAFETY: the handler only stores into an atomic, which is
        // async-signal-safe, and it replaces no handler Rust relies on.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Whether `signal` is ignored (SIG_IGN) now.
fn ignored(signal: Signal) -> Result<bool, Errno> {
    // SAFETY: all-zero bytes are a valid `sigaction` (no handler, no
    // flags, an empty mask); it is only written to below.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action changes nothing; the kernel only writes
    // the current disposition into `current`, which lives to the end.
    let r = unsafe { libc::sigaction(signal as libc::c_int, std::ptr::null(), &mut current) };
    Errno::result(r)?;
    Ok(current.sa_sigaction == libc::SIG_IGN)
}

/// The signal noted since [`catch_interrupts`], if any.
pub fn interrupted() -> Option<Signal> {
    match INTERRUPT.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

#[cfg(test)]
mod signal_tests {
    use super::*;

    /// A signal ignored at start stays ignored; one with its default
    /// action is caught. (SIGUSR2: nothing else in the tests uses it.)
    #[test]
    fn an_ignored_signal_stays_ignored() {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN installs no code to run.
        unsafe { sigaction(Signal::SIGUSR2, &ignore) }.expect("ignore");
        catch(&[Signal::SIGUSR2]).expect("catch");
        assert!(ignored(Signal::SIGUSR2).expect("ask"), "still ignored");

        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_DFL installs no code to run.
        unsafe { sigaction(Signal::SIGUSR2, &default) }.expect("default");
        catch(&[Signal::SIGUSR2]).expect("catch");
        // SAFETY: as above; the old action is only read.
        let caught = unsafe { sigaction(Signal::SIGUSR2, &default) }.expect("reset");
        assert!(matches!(caught.handler(), SigHandler::Handler(_)), "caught");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xfrm::netlink::Attr;
    use crate::xfrm::wire::{Selector, XfrmAddress};

    fn state(spi: u32, add_time: u64, bytes: u64, key: u8) -> Entry {
        let mut info = UsersaInfo {
            id: crate::xfrm::wire::XfrmId {
                daddr: XfrmAddress::from_ip("10.0.0.2".parse().unwrap()),
                spi,
                proto: 50,
            },
            family: 2,
            ..Default::default()
        };
        info.curlft.add_time = add_time;
        info.curlft.bytes = bytes;
        let mut payload = Vec::new();
        info.emit(&mut payload);
        Attr::new(attr::ALG_CRYPT, vec![key; 8]).emit(&mut payload);
        Attr::new(attr::REPLAY_VAL, vec![bytes as u8; 12]).emit(&mut payload);
        Entry(Zeroizing::new(payload))
    }

    fn policy(index: u32, add_time: u64, use_time: u64) -> Entry {
        let mut info = UserpolicyInfo {
            sel: Selector {
                family: 2,
                ..Default::default()
            },
            index,
            dir: (index & 7) as u8,
            ..Default::default()
        };
        info.curlft.add_time = add_time;
        info.curlft.use_time = use_time;
        let mut payload = Vec::new();
        info.emit(&mut payload);
        Entry(Zeroizing::new(payload))
    }

    #[test]
    fn traffic_does_not_make_an_sa_another() {
        let a = state(0x100, 1000, 0, 1);
        let used = state(0x100, 1000, 4096, 1);
        assert_eq!(
            state_fingerprint(&a, false),
            state_fingerprint(&used, false)
        );
        let rekeyed = state(0x100, 1000, 0, 2);
        assert_ne!(
            state_fingerprint(&a, false),
            state_fingerprint(&rekeyed, false)
        );
        let recreated = state(0x100, 1001, 0, 1);
        assert_ne!(
            state_fingerprint(&a, false),
            state_fingerprint(&recreated, false)
        );
    }

    #[test]
    fn a_policy_is_itself_whatever_its_use_but_not_when_recreated() {
        let p = policy(9, 1000, 0);
        assert_eq!(
            policy_fingerprint(&p, false),
            policy_fingerprint(&policy(9, 1000, 1234), false)
        );
        assert_ne!(
            policy_fingerprint(&p, false),
            policy_fingerprint(&policy(9, 1005, 0), false)
        );
        assert_eq!(
            policy_fingerprint(&p, true),
            policy_fingerprint(&policy(9, 1005, 0), true)
        );
    }

    #[test]
    fn the_common_tail_is_what_the_script_left_alone() {
        // Snapshot (newest first): C B A. The script deleted B and added D,
        // E: now E D C A. C is newer than the deleted B, so it goes and
        // comes back too; A stays.
        let before = [state(3, 30, 0, 3), state(2, 20, 0, 2), state(1, 10, 0, 1)];
        let now = [
            state(5, 50, 0, 5),
            state(4, 40, 0, 4),
            state(3, 30, 7, 3),
            state(1, 10, 9, 1),
        ];
        assert_eq!(
            common_tail(&before, &now, |e| state_fingerprint(e, false)),
            1
        );
        assert_eq!(
            common_tail(&before, &before, |e| state_fingerprint(e, false)),
            3
        );
        assert!(same_lists(&before, &before, |e| state_fingerprint(
            e, false
        )));
        assert!(!same_lists(&before, &now, |e| state_fingerprint(e, false)));
    }

    #[test]
    fn larval_sas_are_those_without_algorithms() {
        let mut info = UsersaInfo::default();
        info.id.spi = 0x200;
        info.id.proto = 50;
        let mut payload = Vec::new();
        info.emit(&mut payload);
        assert!(larval(&payload));
        assert!(!larval(&state(1, 1, 0, 1).0));
    }

    #[test]
    fn only_the_scripts_entries_are_tracked() {
        assert!(tracked_state(&state(0x100, 1, 0, 1).0));
        assert!(!tracked_state(&state(0, 1, 0, 1).0), "acquire state");
        assert!(tracked_policy(&policy(8 | 1, 1, 0).0));
        assert!(!tracked_policy(&policy(8 | 3, 1, 0).0), "per-socket policy");
        assert!(!tracked_state(&[0; 10]), "truncated");
    }

    #[test]
    fn attributes_stop_at_malformed_ones() {
        let mut payload = vec![0; UsersaInfo::LEN];
        Attr::new(attr::MARK, vec![1; 8]).emit(&mut payload);
        payload.extend_from_slice(&[0xff, 0xff, 1, 0]);
        let found: Vec<u16> = attributes(&payload, UsersaInfo::LEN)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(found, [attr::MARK]);
        assert_eq!(
            attribute(&payload, UsersaInfo::LEN, attr::MARK).map(<[u8]>::len),
            Some(12)
        );
    }

    #[test]
    fn the_lifetime_attribute_is_four_native_u64() {
        let mut out = Vec::new();
        push_attr(&mut out, attr::LTIME_VAL, &[1, 2, 3, 4]);
        assert_eq!(out.len(), 36);
        assert_eq!(u16::from_ne_bytes([out[0], out[1]]), 36);
        assert_eq!(u16::from_ne_bytes([out[2], out[3]]), attr::LTIME_VAL);
        assert_eq!(u64::from_ne_bytes(out[20..28].try_into().unwrap()), 3);
    }
}
