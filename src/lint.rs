//! Lints: advice about scripts that setkey accepts but that probably do not
//! protect what their author meant to protect.
//!
//! Lints are rsetkey additions. They are printed on stderr, never change
//! stdout or the exit status, and `--no-lint` silences them. Every rule is
//! meant to fire only when it is right about the script as written:
//!
//! * weak or obsolete algorithms, with RFC 8221's advice (DES, 3DES,
//!   Blowfish, CAST-128, HMAC-MD5, keyed MD5/SHA-1, null encryption,
//!   no authentication);
//! * counter modes with manual keys: AES-CTR (the counter restarts with
//!   every re-add) and the AEAD ciphers AES-GCM, AES-GMAC and
//!   ChaCha20-Poly1305 (nonces repeat, RFC 4106 §8, RFC 4543 §8, RFC 7634
//!   §5); `--strict` makes these errors ([`Lint::static_key_counter`]);
//! * replay windows above 32 (Linux keeps at most 32 for PF_KEY SAs), and
//!   above 255, which PF_KEY's 8-bit field cannot carry (setkey sends the
//!   window modulo 256; the parser refuses such a script, so only an IR
//!   built otherwise gets this far);
//! * `spdadd tagged`: Linux has no policy tags and refuses such a policy;
//! * `unique:N` while the script adds SAs but none with `-u N`;
//! * an outbound `ipsec` policy request that no SA of the script can
//!   satisfy, judged the way Linux matches SAs to policy templates (same
//!   protocol, mode, reqid and addresses). Scripts that add no SA at all
//!   are left alone: their SAs come from a key daemon.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::algorithms::{Advice, Algorithm, Kind, RECOMMENDED_CIPHER, RECOMMENDED_INTEGRITY};
use crate::ir::{
    AuthAlgorithm, Direction, EncryptAlgorithm, IpsecMode, IpsecProtocol, Level, Operation,
    PolicyAction, PolicyRequest, SaType, SecurityAssociation, SmallList, Statement,
};

/// The largest replay window Linux gives an SA added through PF_KEY (the
/// size of its legacy replay bitmap in bits).
const LINUX_PFKEY_MAX_REPLAY: u8 = 32;

/// The largest replay window PF_KEY can carry (`sadb_sa_replay` is 8
/// bits wide; setkey sends larger windows modulo 256).
const PFKEY_MAX_REPLAY: u64 = 255;

/// The largest `unique:N` Linux takes as written; above it the kernel
/// picks a reqid of its own (`IPSEC_MANUAL_REQID_MAX`).
const MANUAL_REQID_MAX: u32 = 0x3fff;

/// One piece of advice about a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// The statement's line (the line of its `;`, as setkey's messages).
    pub line: u32,
    /// What is wrong.
    pub text: String,
    /// How to fix it, when there is a clear way.
    pub help: Option<String>,
    /// A counter mode under a static key: with `--strict` an error that
    /// stops the script before anything is sent.
    pub static_key_counter: bool,
}

impl Lint {
    fn new(line: u32, text: impl Into<String>, help: Option<String>) -> Lint {
        Lint {
            line,
            text: text.into(),
            help,
            static_key_counter: false,
        }
    }

    /// A lint that `--strict` turns into an error (see
    /// [`Lint::static_key_counter`]).
    fn counter(line: u32, text: String, help: String) -> Lint {
        Lint {
            static_key_counter: true,
            ..Lint::new(line, text, Some(help))
        }
    }

    /// The lint as an error (`--strict`): `PROGRAM: FILE,LINE: error:
    /// TEXT`, then the help.
    pub fn render_as_error(&self, program: &str, file: &str) -> String {
        let mut s = format!("{program}: {file},{}: error: {}\n", self.line, self.text);
        if let Some(help) = &self.help {
            let _ = writeln!(s, "    help: {help}");
        }
        s
    }

    /// The lint as printed on stderr: `PROGRAM: FILE,LINE: lint: TEXT`,
    /// then an indented `help:` line when there is help.
    pub fn render(&self, program: &str, file: &str) -> String {
        let mut s = format!("{program}: {file},{}: lint: {}\n", self.line, self.text);
        if let Some(help) = &self.help {
            let _ = writeln!(s, "    help: {help}");
        }
        s
    }
}

/// Every lint of a parsed script, in statement order (a statement that
/// expands to several operations is reported once per finding).
pub fn lint(statements: &[Statement]) -> Vec<Lint> {
    // Every SA first: then nothing needs to be held back.
    let mut linter = Linter::default();
    for statement in statements {
        for op in statement.operations.iter() {
            if let Operation::Add(sa) = op {
                linter.add_sa(sa);
            }
        }
    }
    linter.all_sas_known = true;
    for statement in statements {
        linter.observe(statement);
    }
    linter.finish()
}

/// The lints of a script whose statements are seen one at a time, as they
/// are read ([`Linter::observe`]); [`Linter::finish`] reports them all,
/// exactly as [`lint`] would have for the whole script.
///
/// Some advice depends on the whole script (a policy that a later SA
/// satisfies, an ESP SA whose AH partner comes later), so the linter
/// keeps what it needs of each SA in small fixed-size rows, and holds a
/// statement's finding back only when the SAs still to come may change
/// it.
#[derive(Debug, Default)]
pub struct Linter {
    /// The SAs of the linters joined in front of this one
    /// ([`Linter::append`]), in script order and none empty: kept apart
    /// rather than merged, since merging costs a hash insert per SA while
    /// after a join most scripts look up few SAs or none.
    earlier: Vec<SaIndex>,
    /// The SAs after those, up to now: where [`Linter::observe`] adds.
    sas: SaIndex,
    /// Findings in statement order, some still to be decided.
    pending: Vec<Pending>,
    /// Whether every SA of the script was added before the statements
    /// were observed ([`lint`]): nothing is held back then.
    all_sas_known: bool,
}

/// What the lints need of a run of consecutive SAs of the script.
#[derive(Debug, Default)]
struct SaIndex {
    /// The SAs, in script order.
    sas: Vec<SaFacts>,
    /// The newest SA of a type to a destination; the older ones follow
    /// through [`SaFacts::next`].
    by_destination: FastMap<(SaType, IpAddr), u32>,
    /// Every reqid of an SA.
    reqids: FastSet<u32>,
    /// Source and destination of every AH SA that authenticates.
    ah_pairs: FastSet<(IpAddr, IpAddr)>,
}

/// What the lints need of one SA.
#[derive(Debug, Clone, Copy)]
struct SaFacts {
    src: IpAddr,
    dst: IpAddr,
    reqid: u32,
    /// The SA before it (in its [`SaIndex`]) of the same type to the same
    /// destination ([`u32::MAX`] for none).
    next: u32,
    satype: SaType,
    mode: IpsecMode,
}

/// A finding of a statement, in the order of the script.
#[derive(Debug)]
enum Pending {
    Lint(Lint),
    /// An ESP SA without authentication: a lint unless the script has an
    /// AH SA between the same addresses.
    EspNoAuth {
        line: u32,
        src: IpAddr,
        dst: IpAddr,
    },
    /// A policy that the SAs seen before it do not satisfy (or that came
    /// before any SA): linted at the end, against them all.
    Policy {
        line: u32,
        policy: PolicyFacts,
    },
}

/// What the lints read of a policy, compact: a script of policies alone
/// keeps every one of them until its end (a later SA may satisfy it), so
/// their size is what `-n -f` holds of such a script (a whole
/// `PolicyRequest` was about 230 bytes with its box, this about 100).
#[derive(Debug, Clone)]
struct PolicyFacts {
    /// The selector's source and destination: address and prefix length.
    src: (IpAddr, u8),
    dst: (IpAddr, u8),
    direction: Direction,
    requests: SmallList<RequestFacts>,
}

/// What the lints read of one request of a policy.
#[derive(Debug, Clone, Copy)]
struct RequestFacts {
    protocol: IpsecProtocol,
    mode: IpsecMode,
    level: Level,
    reqid: u32,
    /// The tunnel's end points.
    endpoints: Option<(IpAddr, IpAddr)>,
}

impl PolicyFacts {
    fn of(p: &PolicyRequest) -> PolicyFacts {
        PolicyFacts {
            src: (p.src.addr.ip(), p.src.prefixlen),
            dst: (p.dst.addr.ip(), p.dst.prefixlen),
            direction: p.policy.direction,
            requests: p
                .policy
                .requests
                .iter()
                .map(|r| RequestFacts {
                    protocol: r.protocol,
                    mode: r.mode,
                    level: r.level,
                    reqid: r.reqid,
                    endpoints: r.endpoints.as_deref().map(|&(s, d)| (s.ip(), d.ip())),
                })
                .collect(),
        }
    }
}

impl Linter {
    /// Takes in one statement.
    pub fn observe(&mut self, statement: &Statement) {
        let line = statement.location.line;
        for op in statement.operations.iter() {
            match op {
                Operation::Add(sa) => {
                    if !self.all_sas_known {
                        self.add_sa(sa);
                    }
                    sa_lints(line, sa, &mut self.pending);
                }
                Operation::SpdAdd(p) | Operation::SpdUpdate(p) => self.policy(line, p),
                Operation::SpdAddTagged(t) | Operation::SpdUpdateTagged(t) => {
                    self.pending.push(Pending::Lint(Lint::new(
                        line,
                        format!(
                            "Linux does not support policy tags: the kernel refuses the policy tagged \"{}\"",
                            crate::parse::diagnostic::clip(&t.tag, false)
                        ),
                        Some("select the traffic by addresses, ports and protocol instead".into()),
                    )))
                }
                _ => {}
            }
        }
    }

    /// Takes in what `later` observed of the statements that follow the
    /// ones this linter observed (a script read in two parts at once):
    /// [`Linter::finish`] then reports what one linter observing all of
    /// them in order would.
    ///
    /// Everything held is either per statement (kept in order) or a
    /// union over the SAs; `later`'s policies were decided against its
    /// own SAs alone, and more SAs only satisfy more requests, so a policy
    /// it let go is one this linter would have let go too, and the ones it
    /// holds are decided at the end against them all.
    ///
    /// Nothing is copied but the held findings: `later`'s SAs stay in
    /// their own index (merging cost a hash insert per SA, on one thread
    /// after both halves are read), and every question about the SAs asks
    /// each index in turn: a hash lookup per index instead of one, for
    /// the policies held to the end or observed after the join (two for
    /// the two halves of a script).
    pub fn append(&mut self, mut later: Linter) {
        let ours = std::mem::take(&mut self.sas);
        if !ours.sas.is_empty() {
            self.earlier.push(ours);
        }
        self.earlier.append(&mut later.earlier);
        self.sas = later.sas;
        self.pending.append(&mut later.pending);
    }

    /// Every lint of the script, in statement order, each once.
    pub fn finish(mut self) -> Vec<Lint> {
        let pending = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        for p in pending {
            match p {
                Pending::Lint(l) => out.push(l),
                Pending::EspNoAuth { line, src, dst } => {
                    if !self.indexes().any(|i| i.ah_pairs.contains(&(src, dst))) {
                        out.push(esp_without_authentication(line));
                    }
                }
                Pending::Policy { line, policy } => policy_lints(line, &policy, &self, &mut out),
            }
        }
        let mut seen = FastSet::default();
        out.retain(|l| seen.insert((l.line, l.text.clone())));
        out
    }

    fn add_sa(&mut self, sa: &SecurityAssociation) {
        self.sas.add(sa);
    }

    /// A policy is decided at once when the SAs so far satisfy it: more
    /// SAs can only satisfy more requests (and once there is an SA, no
    /// finding depends on whether there are SAs).
    fn policy(&mut self, line: u32, policy: &PolicyRequest) {
        if policy.policy.action != PolicyAction::Ipsec {
            return;
        }
        if self.all_sas_known && !self.has_sas() {
            // Every finding about a policy is about the SAs for it: a
            // script without SAs (its keys come from a key daemon) has
            // none, and thousands of policies are passed over at once.
            return;
        }
        let policy = PolicyFacts::of(policy);
        if self.all_sas_known {
            let mut now = Vec::new();
            policy_lints(line, &policy, self, &mut now);
            self.pending.extend(now.into_iter().map(Pending::Lint));
            return;
        }
        if self.has_sas() {
            let mut now = Vec::new();
            policy_lints(line, &policy, self, &mut now);
            if now.is_empty() {
                return;
            }
        }
        self.pending.push(Pending::Policy { line, policy });
    }

    /// The indexes of the SAs so far, in script order.
    fn indexes(&self) -> impl Iterator<Item = &SaIndex> {
        self.earlier.iter().chain(std::iter::once(&self.sas))
    }

    fn has_sas(&self) -> bool {
        // No earlier index is empty.
        !self.sas.sas.is_empty() || !self.earlier.is_empty()
    }

    fn has_reqid(&self, reqid: u32) -> bool {
        self.indexes().any(|i| i.reqids.contains(&reqid))
    }

    /// Every SA so far, in script order.
    fn all_sas(&self) -> impl Iterator<Item = &SaFacts> {
        self.indexes().flat_map(|i| i.sas.iter())
    }

    /// Whether an SA of a type whose destination is exactly `dst` passes
    /// `test`: the question [`policy_lints`] asks for every policy, asked
    /// of one index after the other (through [`Linter::to`]'s chained
    /// iterator it made linting a policy a sixth slower).
    fn any_to(&self, satype: SaType, dst: IpAddr, mut test: impl FnMut(&SaFacts) -> bool) -> bool {
        self.sas.to(satype, dst).any(&mut test)
            || self
                .earlier
                .iter()
                .any(|i| i.to(satype, dst).any(&mut test))
    }

    /// The SAs of a type whose destination is exactly `dst`, newest
    /// first.
    fn to(&self, satype: SaType, dst: IpAddr) -> impl Iterator<Item = &SaFacts> {
        let earlier = self
            .earlier
            .iter()
            .rev()
            .flat_map(move |i| i.to(satype, dst));
        self.sas.to(satype, dst).chain(earlier)
    }
}

impl SaIndex {
    fn add(&mut self, sa: &SecurityAssociation) {
        let index = u32::try_from(self.sas.len()).unwrap_or(u32::MAX);
        let mut facts = SaFacts {
            src: sa.src.ip(),
            dst: sa.dst.ip(),
            reqid: sa.reqid,
            next: u32::MAX,
            satype: sa.satype,
            mode: sa.mode,
        };
        match self.by_destination.entry((sa.satype, facts.dst)) {
            std::collections::hash_map::Entry::Occupied(mut first) => {
                facts.next = *first.get();
                *first.get_mut() = index;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
            }
        }
        self.sas.push(facts);
        self.reqids.insert(sa.reqid);
        if sa.satype == SaType::Ah
            && !matches!(sa.transforms.auth, None | Some((AuthAlgorithm::Null, _)))
        {
            self.ah_pairs.insert((facts.src, facts.dst));
        }
    }

    /// The SAs of a type whose destination is exactly `dst`, newest
    /// first.
    fn to(&self, satype: SaType, dst: IpAddr) -> impl Iterator<Item = &SaFacts> {
        let mut at = self.by_destination.get(&(satype, dst)).copied();
        std::iter::from_fn(move || {
            let sa = self.sas.get(usize::try_from(at?).ok()?)?;
            at = Some(sa.next);
            Some(sa)
        })
    }
}

/// The tables' hash: the standard one (SipHash) resists flooding by chosen
/// keys, which costs a fifth of linting a large script; these keys are
/// the script's own small addresses and numbers, and a script that
/// collides on purpose only slows its own check.
#[derive(Debug, Clone, Copy, Default)]
struct FastHash(u64);

impl std::hash::Hasher for FastHash {
    fn finish(&self) -> u64 {
        // The multiplications carry the keys' differences into the high
        // bits only; the table picks buckets by the low ones, so fold the
        // high bits down (MurmurHash3's finalizer, first half).
        let h = self.0 ^ (self.0 >> 33);
        let h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // FxHash's step: rotate, mix in, multiply by an odd constant.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type FastBuild = std::hash::BuildHasherDefault<FastHash>;
type FastMap<K, V> = HashMap<K, V, FastBuild>;
type FastSet<K> = HashSet<K, FastBuild>;

/// The advice for weak ciphers and unprotected ESP.
fn use_aes() -> String {
    format!("use {RECOMMENDED_CIPHER} with a 128- or 256-bit key, with {RECOMMENDED_INTEGRITY}")
}

/// The lint the algorithm table's advice for one algorithm gives, if any.
fn algorithm_lint(line: u32, row: &Algorithm) -> Option<Lint> {
    let name = row.printed_name().unwrap_or_default();
    let instead = || match row.kind {
        Kind::Authentication => format!("use {RECOMMENDED_INTEGRITY}"),
        Kind::Encryption | Kind::Compression => use_aes(),
    };
    let (text, help) = match row.advice {
        Advice::None => return None,
        Advice::MustNot(why) => {
            let use_ = match row.kind {
                Kind::Authentication => " for integrity",
                Kind::Encryption | Kind::Compression => "",
            };
            let why = why.map(|w| format!(": {w}")).unwrap_or_default();
            (
                format!("{name} must not be used{use_} (RFC 8221: MUST NOT){why}"),
                instead(),
            )
        }
        Advice::ShouldNot(why) => (
            format!("{name} should not be used (RFC 8221: SHOULD NOT): {why}"),
            instead(),
        ),
        Advice::NotRecommended(why) => (format!("{name} is not recommended: {why}"), instead()),
        Advice::PreHmac => (
            format!(
                "{name} is an obsolete pre-HMAC construction (RFC 8221: MUST NOT for keyed MD5)"
            ),
            instead(),
        ),
        Advice::CounterMode => {
            return Some(Lint::counter(
                line,
                format!(
                    "{name} with a manual key: the counter starts again whenever this SA is \
                     added again (after a reboot, a flush, a new run of the script), which \
                     reuses key stream; RFC 3686 calls counter mode with static keys \
                     inappropriate"
                ),
                format!(
                    "with manual keys use {RECOMMENDED_CIPHER} and an HMAC, or let IKE \
                     negotiate keys"
                ),
            ));
        }
        Advice::CounterAead(rfc) => {
            return Some(Lint::counter(
                line,
                format!(
                    "{name} with a static key: the sequence number starts at 1 again after \
                     every reboot or re-add under the same key, so nonces repeat, which breaks \
                     its confidentiality and integrity ({rfc}: the key must change)"
                ),
                "generate new keys every time the script is loaded, or let an IKE daemon \
                 negotiate them"
                    .into(),
            ));
        }
    };
    Some(Lint::new(line, text, Some(help)))
}

/// Lints about one SA's algorithms and parameters.
fn sa_lints(line: u32, sa: &SecurityAssociation, out: &mut Vec<Pending>) {
    let t = &sa.transforms;
    if let Some((alg, _)) = &t.encrypt {
        out.extend(algorithm_lint(line, alg.row()).map(Pending::Lint));
    }
    let auth = t.auth.as_ref().map(|(a, _)| *a);
    if let Some(a) = auth {
        out.extend(algorithm_lint(line, a.row()).map(Pending::Lint));
    }
    let enc = t.encrypt.as_ref().map(|(a, _)| *a);
    // A combined-mode cipher authenticates by itself.
    let combined = enc.is_some_and(|e| e.row().aead.is_some());
    let no_auth = matches!(auth, None | Some(AuthAlgorithm::Null)) && !combined;
    match sa.satype {
        SaType::Esp => {
            // AES-GMAC is ESP's null encryption with a GMAC ICV (RFC 4543).
            let null_enc = matches!(
                enc,
                None | Some(EncryptAlgorithm::Null | EncryptAlgorithm::AesGmac)
            );
            if null_enc && no_auth {
                out.push(Pending::Lint(Lint::new(
                    line,
                    "esp with null encryption and no authentication: packets are neither hidden \
                     nor protected",
                    Some(use_aes()),
                )));
            } else if null_enc {
                out.push(Pending::Lint(Lint::new(
                    line,
                    "esp with null encryption: packets are authenticated but travel in clear",
                    Some(format!(
                        "fine when only integrity is wanted; otherwise use {RECOMMENDED_CIPHER}"
                    )),
                )));
            } else if no_auth {
                out.push(Pending::EspNoAuth {
                    line,
                    src: sa.src.ip(),
                    dst: sa.dst.ip(),
                });
            }
        }
        SaType::Ah if matches!(auth, Some(AuthAlgorithm::Null)) => {
            out.push(Pending::Lint(Lint::new(
                line,
                "ah with null authentication protects nothing",
                Some(format!("use -A {RECOMMENDED_INTEGRITY} with a 256-bit key")),
            )))
        }
        _ => {}
    }
    if sa.wide_replay.is_some() || sa.flags & crate::ir::sa_flags::FLAG_ESN != 0 {
        // Through XFRM the kernel keeps the whole window.
    } else if sa.replay_requested > PFKEY_MAX_REPLAY {
        out.push(Pending::Lint(replay_wrap_lint(line, sa)));
    } else if sa.replay > LINUX_PFKEY_MAX_REPLAY {
        out.push(Pending::Lint(Lint::new(
            line,
            format!(
                "replay window {}: Linux keeps at most {LINUX_PFKEY_MAX_REPLAY} packets for SAs \
                 added through PF_KEY, so this SA gets {LINUX_PFKEY_MAX_REPLAY}",
                sa.replay
            ),
            Some(
                "for a larger window use -f esn, or -r above 255 (both through XFRM; not under \
                 the name setkey)"
                    .into(),
            ),
        )));
    }
}

/// `-r N` with N above 255: the 8-bit field gets N modulo 256, which may
/// even be 0 (no replay protection at all), and Linux then keeps at most
/// 32 of it.
fn replay_wrap_lint(line: u32, sa: &SecurityAssociation) -> Lint {
    let (written, sent) = (sa.replay_requested, sa.replay);
    let consequence = if sent == 0 {
        ", which turns replay protection off".to_string()
    } else if sent > LINUX_PFKEY_MAX_REPLAY {
        format!(", of which Linux keeps {LINUX_PFKEY_MAX_REPLAY}")
    } else {
        String::new()
    };
    Lint::new(
        line,
        format!(
            "replay window {written} is more than PF_KEY can carry ({PFKEY_MAX_REPLAY}); the \
             kernel gets {sent}{consequence}"
        ),
        Some(format!(
            "use at most {LINUX_PFKEY_MAX_REPLAY} (all Linux keeps for SAs added through \
             PF_KEY); for a larger window add the SA with `ip xfrm state` (replay-window)"
        )),
    )
}

/// ESP without authentication and no AH SA between the same addresses
/// (the classic ESP-for-privacy plus AH-for-integrity bundle).
fn esp_without_authentication(line: u32) -> Lint {
    Lint::new(
        line,
        "esp without authentication: encryption alone does not stop forged or altered packets \
         (RFC 8221 allows no authentication only with combined-mode ciphers)",
        Some(format!("add -A {RECOMMENDED_INTEGRITY} with a 256-bit key")),
    )
}

/// The reqid Linux puts in a policy template for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TemplateReqid {
    /// This exact reqid (0 for every level but `unique`).
    Fixed(u32),
    /// Bare `unique`, or `unique:N` above the manual range: the kernel
    /// picks one, which no manually added SA can know.
    Automatic,
}

fn template_reqid(r: &RequestFacts) -> TemplateReqid {
    match r.level {
        Level::Unique if r.reqid == 0 || r.reqid > MANUAL_REQID_MAX => TemplateReqid::Automatic,
        Level::Unique => TemplateReqid::Fixed(r.reqid),
        _ => TemplateReqid::Fixed(0),
    }
}

fn proto_name(p: IpsecProtocol) -> &'static str {
    match p {
        IpsecProtocol::Esp => "esp",
        IpsecProtocol::Ah => "ah",
        IpsecProtocol::IpComp => "ipcomp",
    }
}

fn satype_of(p: IpsecProtocol) -> SaType {
    match p {
        IpsecProtocol::Esp => SaType::Esp,
        IpsecProtocol::Ah => SaType::Ah,
        IpsecProtocol::IpComp => SaType::IpComp,
    }
}

/// Whether `addr` lies in `net/prefix` (an unspecified `net` with prefix 0
/// is "any"; a prefix longer than the family's is taken as the full one).
fn in_prefix(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let p = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let p = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Linux's address check of an SA against a template: the destination
/// must be equal, the source equal unless either side is unspecified.
fn addresses_match(sa: &SaFacts, src: IpAddr, dst: IpAddr) -> bool {
    sa.dst == dst && (sa.src == src || sa.src.is_unspecified() || src.is_unspecified())
}

/// Why one SA cannot serve a request (the first reason found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mismatch {
    Addresses,
    Mode(IpsecMode),
    Reqid(u32),
}

fn mismatch(
    sa: &SaFacts,
    policy: &PolicyFacts,
    r: &RequestFacts,
    outer: Option<(IpAddr, IpAddr)>,
    reqid: u32,
) -> Option<Mismatch> {
    let addresses = match (r.mode, outer) {
        (IpsecMode::Tunnel, _) => match r.endpoints {
            Some((s, d)) => addresses_match(sa, s, d),
            None => true,
        },
        // Transport after a tunnel request of the same bundle: it applies
        // to the encapsulated packet, between the tunnel's end points.
        (_, Some((s, d))) => addresses_match(sa, s, d),
        // Transport: the packet's own addresses, anywhere in the selector.
        _ => {
            (sa.src.is_unspecified() || in_prefix(sa.src, policy.src.0, policy.src.1))
                && in_prefix(sa.dst, policy.dst.0, policy.dst.1)
        }
    };
    if !addresses {
        return Some(Mismatch::Addresses);
    }
    // Linux stores an SA of mode `any` as transport.
    let sa_tunnel = sa.mode == IpsecMode::Tunnel;
    if sa_tunnel != (r.mode == IpsecMode::Tunnel) {
        return Some(Mismatch::Mode(sa.mode));
    }
    if sa.reqid != reqid {
        return Some(Mismatch::Reqid(sa.reqid));
    }
    None
}

/// Lints about one policy's requests (of an `ipsec` policy: the others
/// have none).
fn policy_lints(line: u32, policy: &PolicyFacts, index: &Linter, out: &mut Vec<Lint>) {
    let any_sa = index.has_sas();
    // The addresses of the packet a request applies to, once a tunnel
    // request earlier in the bundle has encapsulated it (Linux resolves
    // templates in order, each after a tunnel one between its end points).
    let mut outer: Option<(IpAddr, IpAddr)> = None;
    for r in &policy.requests {
        let outer_here = outer;
        if let (IpsecMode::Tunnel, Some((s, d))) = (r.mode, r.endpoints) {
            outer = Some((s, d));
        }
        // unique:N without a matching -u N, whatever the direction.
        if r.level == Level::Unique
            && (1..=MANUAL_REQID_MAX).contains(&r.reqid)
            && any_sa
            && !index.has_reqid(r.reqid)
        {
            out.push(Lint::new(
                line,
                format!(
                    "unique:{n} but no SA in this script has reqid {n}",
                    n = r.reqid
                ),
                Some(format!(
                    "add `-u {}` to the SAs meant for this policy (or ignore this if a key daemon \
                     adds them)",
                    r.reqid
                )),
            ));
            continue;
        }
        if policy.direction != Direction::Out || r.level == Level::Use || !any_sa {
            continue;
        }
        if r.mode == IpsecMode::Tunnel && r.endpoints.is_none() {
            continue;
        }
        let proto = proto_name(r.protocol);
        let mode = if r.mode == IpsecMode::Tunnel {
            "tunnel"
        } else {
            "transport"
        };
        let reqid = match template_reqid(r) {
            TemplateReqid::Fixed(n) => n,
            TemplateReqid::Automatic => {
                out.push(Lint::new(
                    line,
                    format!(
                        "{proto}/{mode} request at level unique{}: Linux gives it a reqid of its \
                         own, which no SA of this script carries",
                        if r.reqid == 0 {
                            String::new()
                        } else {
                            format!(":{}", r.reqid)
                        }
                    ),
                    Some(format!(
                        "use unique:N with N from 1 to {MANUAL_REQID_MAX} and `-u N` on the SAs, \
                         or `require`"
                    )),
                ));
                continue;
            }
        };
        // The usual case first: an SA to exactly the request's destination
        // fits. Only when none does are all SAs looked at, for the help text.
        let exact_destination = match (r.mode, r.endpoints, outer_here) {
            (IpsecMode::Tunnel, Some((_, d)), _) => Some(d),
            (IpsecMode::Tunnel, None, _) => None,
            (_, _, Some((_, d))) => Some(d),
            _ => (u32::from(policy.dst.1) >= full_prefix(policy.dst.0)).then_some(policy.dst.0),
        };
        if let Some(dst) = exact_destination
            && index.any_to(satype_of(r.protocol), dst, |sa| {
                mismatch(sa, policy, r, outer_here, reqid).is_none()
            })
        {
            continue;
        }
        let candidates: Vec<Option<Mismatch>> = match exact_destination {
            // Only an SA to exactly that destination can have the right
            // addresses, so the others tell nothing (and looking at every
            // SA for every policy would make a script of many unrelated
            // SAs and policies quadratic). In script order, like the scan.
            Some(dst) => {
                let mut to_dst: Vec<Option<Mismatch>> = index
                    .to(satype_of(r.protocol), dst)
                    .map(|sa| mismatch(sa, policy, r, outer_here, reqid))
                    .collect();
                to_dst.reverse();
                to_dst
            }
            None => index
                .all_sas()
                .filter(|sa| sa.satype == satype_of(r.protocol))
                .map(|sa| mismatch(sa, policy, r, outer_here, reqid))
                .collect(),
        };
        if candidates.iter().any(Option::is_none) {
            continue;
        }
        let (from, to) = match (r.mode, r.endpoints, outer_here) {
            (IpsecMode::Tunnel, Some((s, d)), _) => (s.to_string(), d.to_string()),
            (_, _, Some((s, d))) => (s.to_string(), d.to_string()),
            _ => (
                format!("{}/{}", policy.src.0, policy.src.1),
                format!("{}/{}", policy.dst.0, policy.dst.1),
            ),
        };
        let help = if let Some(Mismatch::Reqid(have)) = candidates
            .iter()
            .flatten()
            .find(|m| matches!(m, Mismatch::Reqid(_)))
        {
            Some(if reqid == 0 {
                format!(
                    "an {proto} SA fits but has reqid {have}; a `{}` request matches only SAs \
                     without -u: use unique:{have} in the policy",
                    level_name(r.level)
                )
            } else {
                format!("an {proto} SA fits but has reqid {have}, not {reqid}")
            })
        } else if candidates
            .iter()
            .flatten()
            .any(|m| matches!(m, Mismatch::Mode(_)))
        {
            Some(format!(
                "an {proto} SA between these addresses exists, but not in {mode} mode (`-m {mode}`)"
            ))
        } else {
            Some(format!(
                "add an {proto} SA from {from} to {to}{}",
                if r.mode == IpsecMode::Tunnel {
                    " with -m tunnel"
                } else {
                    ""
                }
            ))
        };
        out.push(Lint::new(
            line,
            format!(
                "no SA in this script can carry this policy's {proto}/{mode} request ({from} -> \
                 {to}): its packets will be dropped"
            ),
            help,
        ));
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Default => "default",
        Level::Use => "use",
        Level::Require => "require",
        Level::Unique => "unique",
    }
}

/// The length of a full prefix of the address' family.
fn full_prefix(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{FileNames, Options, parse_script_with};

    fn lints(script: &str) -> Vec<Lint> {
        let statements = parse_script_with(script, &Options::default(), &FileNames::default())
            .unwrap_or_else(|e| panic!("{script}: {e:?}"));
        let whole = lint(&statements);
        // Statement by statement, as `-n -f` lints a script it streams,
        // also with the statements in the reverse order (policies before
        // the SAs that satisfy them, ESP before its AH partner).
        for order in [false, true] {
            let mut linter = Linter::default();
            let mut seen = statements.clone();
            if order {
                seen.reverse();
            }
            for s in &seen {
                linter.observe(s);
            }
            assert_eq!(linter.finish(), lint(&seen), "{script}");
        }
        // Read in two parts at once, cut at every statement.
        for cut in 0..=statements.len() {
            let (first, later) = statements.split_at(cut);
            let (mut a, mut b) = (Linter::default(), Linter::default());
            first.iter().for_each(|s| a.observe(s));
            later.iter().for_each(|s| b.observe(s));
            a.append(b);
            assert_eq!(a.finish(), whole, "{script} cut at {cut}");
        }
        // Three parts, cut at every pair of statements: joined in either
        // grouping, and observing on after a join.
        for cut in 0..=statements.len() {
            for second in cut..=statements.len() {
                let parts = [
                    &statements[..cut],
                    &statements[cut..second],
                    &statements[second..],
                ];
                let [mut a, mut b, mut c] = parts.map(|part| {
                    let mut linter = Linter::default();
                    part.iter().for_each(|s| linter.observe(s));
                    linter
                });
                b.append(c);
                a.append(b);
                assert_eq!(a.finish(), whole, "{script} cut at {cut}, {second}");
                [a, b, c] = parts.map(|_| Linter::default());
                parts[0].iter().for_each(|s| a.observe(s));
                parts[1].iter().for_each(|s| b.observe(s));
                a.append(b);
                parts[2].iter().for_each(|s| a.observe(s));
                a.append(c);
                assert_eq!(a.finish(), whole, "{script} observed on after {second}");
            }
        }
        whole
    }

    fn texts(script: &str) -> Vec<String> {
        lints(script).into_iter().map(|l| l.text).collect()
    }

    /// Policies before any SA are held until the end as `PolicyFacts`:
    /// every shape of request keeps the verdict and help text it has with
    /// all SAs known (`lints` compares both orders as well).
    #[test]
    fn policies_held_until_the_end_keep_their_verdicts() {
        let k16 = "0x00112233445566778899aabbccddeeff";
        let k32 = "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let script = format!(
            "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n\
             spdadd 10.0.0.0/24 10.0.1.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n\
             spdadd 10.0.0.3 10.0.0.4 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.9/require ah/transport//require;\n\
             spdadd 10.0.0.7 10.0.0.8 any -P out ipsec esp/transport//unique;\n\
             spdadd 2001:db8::/64 2001:db8:1::/64 any -P out ipsec esp/tunnel/2001:db8::1-2001:db8:1::1/require;\n\
             spdadd 10.0.0.13 10.0.0.14 any -P out ipsec esp/transport//unique:9;\n\
             add 10.0.0.1 10.0.0.2 esp 0x100 -m tunnel -E aes-cbc {k16} -A hmac-sha256 {k32};\n\
             add 192.0.2.1 192.0.2.2 esp 0x101 -m tunnel -u 3 -E aes-cbc {k16} -A hmac-sha256 {k32};\n\
             add 10.0.0.13 10.0.0.14 esp 0x104 -u 8 -E aes-cbc {k16} -A hmac-sha256 {k32};\n"
        );
        let found: Vec<(u32, String, Option<String>)> = lints(&script)
            .into_iter()
            .map(|l| (l.line, l.text, l.help))
            .collect();
        let no_sa = |what: &str| {
            format!(
                "no SA in this script can carry this policy's {what}: its packets will be dropped"
            )
        };
        let expected = [
            (
                1,
                no_sa("esp/transport request (10.0.0.1/32 -> 10.0.0.2/32)"),
                "an esp SA between these addresses exists, but not in transport mode (`-m transport`)",
            ),
            (
                2,
                no_sa("esp/tunnel request (192.0.2.1 -> 192.0.2.2)"),
                "an esp SA fits but has reqid 3; a `require` request matches only SAs without -u: use unique:3 in the policy",
            ),
            (
                3,
                no_sa("esp/tunnel request (192.0.2.1 -> 192.0.2.9)"),
                "add an esp SA from 192.0.2.1 to 192.0.2.9 with -m tunnel",
            ),
            (
                3,
                no_sa("ah/transport request (192.0.2.1 -> 192.0.2.9)"),
                "add an ah SA from 192.0.2.1 to 192.0.2.9",
            ),
            (
                5,
                no_sa("esp/tunnel request (2001:db8::1 -> 2001:db8:1::1)"),
                "add an esp SA from 2001:db8::1 to 2001:db8:1::1 with -m tunnel",
            ),
            (
                6,
                "unique:9 but no SA in this script has reqid 9".to_string(),
                "add `-u 9` to the SAs meant for this policy (or ignore this if a key daemon adds them)",
            ),
        ];
        for (line, text, help) in expected {
            assert!(
                found.contains(&(line, text.clone(), Some(help.to_string()))),
                "line {line}: {text}\nfound: {found:#?}"
            );
        }
        assert!(found.iter().any(|(line, text, _)| *line == 4
            && text.starts_with("esp/transport request at level unique: Linux gives it")));
    }

    /// Each half of a script read in two holds findings that only the
    /// other half's SAs settle: policies before their SAs, and ESP without
    /// authentication whose AH partner is in the other half.
    #[test]
    fn findings_settled_by_the_other_part() {
        let k32 = "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let ah = |src: &str, dst: &str| format!("add {src} {dst} ah 0x300 -A hmac-sha256 {k32};\n");
        let esp_alone = |src: &str, dst: &str| {
            format!("add {src} {dst} esp 0x400 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n")
        };
        let first = format!(
            "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n\
             add 10.0.0.3 10.0.0.4 esp 0x101 {AES};\n{}{}",
            ah("10.0.0.5", "10.0.0.6"),
            esp_alone("10.0.0.7", "10.0.0.8"),
        );
        let later = format!(
            "add 10.0.0.1 10.0.0.2 esp 0x100 {AES};\n\
             spdadd 10.0.0.3 10.0.0.4 any -P out ipsec esp/transport//require;\n{}{}",
            ah("10.0.0.7", "10.0.0.8"),
            esp_alone("10.0.0.5", "10.0.0.6"),
        );
        let parse = |script: &str| {
            parse_script_with(script, &Options::default(), &FileNames::default()).expect("parses")
        };
        let observed = |statements: &[Statement]| {
            let mut linter = Linter::default();
            statements.iter().for_each(|s| linter.observe(s));
            linter
        };
        // Apart, each part finds its policy unserved and its ESP SA
        // unauthenticated.
        for part in [&first, &later] {
            let alone = observed(&parse(part)).finish();
            assert_eq!(alone.len(), 2, "{alone:#?}");
        }
        let whole = format!("{first}{later}");
        assert_eq!(lints(&whole), vec![], "every cut, in two and three parts");
        let statements = parse(&whole);
        let (a, b) = statements.split_at(4);
        let mut joined = observed(a);
        joined.append(observed(b));
        assert_eq!(joined.finish(), vec![]);
    }

    /// The table's advice reads word for word as the lints always said it.
    #[test]
    fn algorithm_lints_read_as_before() {
        let aes = "use aes-cbc with a 128- or 256-bit key, with hmac-sha2-256";
        let sha2 = "use hmac-sha2-256";
        let cases: [(&Algorithm, &str, &str); 7] = [
            (
                EncryptAlgorithm::DesCbc.row(),
                "des-cbc must not be used (RFC 8221: MUST NOT): its 56-bit key falls to brute \
                 force",
                aes,
            ),
            (
                EncryptAlgorithm::TripleDesCbc.row(),
                "3des-cbc should not be used (RFC 8221: SHOULD NOT): its 64-bit blocks wear out \
                 after a few gigabytes under one key",
                aes,
            ),
            (
                EncryptAlgorithm::BlowfishCbc.row(),
                "blowfish-cbc must not be used (RFC 8221: MUST NOT): 64-bit blocks and weak keys",
                aes,
            ),
            (
                EncryptAlgorithm::Cast128Cbc.row(),
                "cast128-cbc is not recommended: 64-bit blocks, and RFC 8221 no longer lists it",
                aes,
            ),
            (
                EncryptAlgorithm::AesCtr.row(),
                "aes-ctr with a manual key: the counter starts again whenever this SA is added \
                 again (after a reboot, a flush, a new run of the script), which reuses key \
                 stream; RFC 3686 calls counter mode with static keys inappropriate",
                "with manual keys use aes-cbc and an HMAC, or let IKE negotiate keys",
            ),
            (
                AuthAlgorithm::HmacMd5.row(),
                "hmac-md5 must not be used for integrity (RFC 8221: MUST NOT)",
                sha2,
            ),
            (
                AuthAlgorithm::KeyedSha1.row(),
                "keyed-sha1 is an obsolete pre-HMAC construction (RFC 8221: MUST NOT for keyed \
                 MD5)",
                sha2,
            ),
        ];
        for (row, text, help) in cases {
            let l = algorithm_lint(7, row).expect(text);
            assert_eq!((l.text.as_str(), l.help.as_deref()), (text, Some(help)));
        }
        let quiet = crate::algorithms::TABLE
            .iter()
            .filter(|row| algorithm_lint(7, row).is_none())
            .count();
        // and the five AEAD rows: counter modes too
        assert_eq!(quiet, crate::algorithms::TABLE.len() - 8 - 5);
        assert_eq!(
            use_aes(),
            aes,
            "the advice for unprotected ESP as well as weak ciphers"
        );
    }

    fn fires(script: &str, needle: &str) -> bool {
        texts(script).iter().any(|t| t.contains(needle))
    }

    const AES: &str = "-E aes-cbc 0x00112233445566778899aabbccddeeff \
                       -A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn sa(extra: &str) -> String {
        format!("add 10.0.0.1 10.0.0.2 esp 0x100 {extra};\n")
    }

    /// Policies whose SAs a key daemon adds (no SA in the script): no
    /// finding, whatever their requests, read whole or in parts.
    #[test]
    fn policies_without_sas_are_passed_over() {
        let script = "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n\
             spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//unique:7;\n\
             spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//unique;\n\
             spdadd 10.0.0.0/24 10.0.1.0/24 any -P out ipsec \
             esp/tunnel/192.0.2.1-192.0.2.2/require ah/transport//use;\n\
             spdadd 10.0.0.2 10.0.0.1 any -P in ipsec esp/transport//require;\n";
        assert_eq!(lints(script), vec![]);
    }

    #[test]
    fn a_good_script_is_quiet() {
        let script = format!(
            "flush;\nspdflush;\n{}add 10.0.0.2 10.0.0.1 esp 0x101 {AES};\n\
             spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n\
             spdadd 10.0.0.2 10.0.0.1 any -P in ipsec esp/transport//require;\n",
            sa(AES)
        );
        assert_eq!(lints(&script), vec![]);
    }

    #[test]
    fn weak_ciphers() {
        let auth =
            "-A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(fires(
            &sa(&format!("-E des-cbc 0x0011223344556677 {auth}")),
            "des-cbc"
        ));
        assert!(fires(
            &sa(&format!("-E 3des-cbc \"123456789012345678901234\" {auth}")),
            "3des-cbc"
        ));
        assert!(fires(
            &sa(&format!("-E blowfish-cbc \"0123456789abcdef\" {auth}")),
            "blowfish"
        ));
        assert!(fires(
            &sa(&format!("-E cast128-cbc \"0123456789abcdef\" {auth}")),
            "cast128"
        ));
        assert!(!fires(
            &sa(&format!("-E camellia-cbc \"0123456789abcdef\" {auth}")),
            "camellia"
        ));
        let l = lints(&sa(&format!("-E des-cbc 0x0011223344556677 {auth}")));
        assert_eq!(l[0].line, 1);
        assert!(l[0].help.as_deref().is_some_and(|h| h.contains("aes-cbc")));
    }

    #[test]
    fn aes_ctr_with_manual_keys() {
        let auth =
            "-A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(fires(
            &sa(&format!("-E aes-ctr \"0123456789abcdef0123\" {auth}")),
            "aes-ctr"
        ));
    }

    #[test]
    fn weak_or_missing_authentication() {
        assert!(fires(
            "add 10.0.0.1 10.0.0.2 ah 0x100 -A hmac-md5 \"0123456789abcdef\";",
            "hmac-md5"
        ));
        assert!(fires(
            "add 10.0.0.1 10.0.0.2 ah 0x100 -A null;",
            "ah with null"
        ));
        assert!(fires(
            &sa("-E null -A null"),
            "neither hidden nor protected"
        ));
        assert!(fires(&sa("-E null"), "neither hidden nor protected"));
        assert!(fires(
            &sa("-E null -A hmac-sha1 \"01234567890123456789\""),
            "travel in clear"
        ));
        assert!(fires(
            &sa("-E aes-cbc \"0123456789abcdef\""),
            "esp without authentication"
        ));
        assert!(fires(
            &sa("-E aes-cbc \"0123456789abcdef\" -A null"),
            "esp without authentication"
        ));
        // ESP for privacy plus AH for integrity (setkey's tutorial) is fine.
        let bundle = format!(
            "{}add 10.0.0.1 10.0.0.2 ah 0x200 -A hmac-sha1 \"01234567890123456789\";",
            sa("-E aes-cbc \"0123456789abcdef\"")
        );
        assert!(!fires(&bundle, "esp without authentication"));
        // Keyed MD5/SHA-1 exist only where a kernel offers them.
        let mut supported = crate::ir::SupportedAlgorithms::linux_default();
        supported.auth.push((AuthAlgorithm::KeyedMd5, 128, 128));
        let options = Options {
            supported,
            rfc_mode: true,
            extensions: false,
        };
        let statements = parse_script_with(
            "add 10.0.0.1 10.0.0.2 ah 0x100 -A keyed-md5 \"0123456789abcdef\";",
            &options,
            &FileNames::default(),
        )
        .expect("parses");
        assert!(
            lint(&statements)
                .iter()
                .any(|l| l.text.contains("keyed-md5"))
        );
    }

    #[test]
    fn replay_windows_above_32() {
        assert!(fires(&sa(&format!("-r 64 {AES}")), "replay window 64"));
        assert!(!fires(&sa(&format!("-r 32 {AES}")), "replay window"));
        assert!(fires(&sa(&format!("-r 255 {AES}")), "replay window 255:"));
    }

    #[test]
    fn replay_windows_pf_key_cannot_carry() {
        // The parser refuses a window beyond 8 bits; an IR built otherwise
        // (a library user's) can still hold one, and the lint says so.
        let err = parse_script_with(
            &sa(&format!("-r 300 {AES}")),
            &Options::default(),
            &FileNames::default(),
        )
        .expect_err("a window beyond 8 bits is refused");
        assert_eq!(err.line, 1);
        let one = |r: u64| {
            let mut statements = parse_script_with(
                &sa(&format!("-r 1 {AES}")),
                &Options::default(),
                &FileNames::default(),
            )
            .expect("parses");
            if let Operation::Add(added) = &mut statements[0].operations[0] {
                added.replay_requested = r;
                added.replay = (r % 256) as u8;
            }
            let l: Vec<Lint> = lint(&statements)
                .into_iter()
                .filter(|l| l.text.contains("replay"))
                .collect();
            assert_eq!(l.len(), 1, "{l:?}");
            l[0].clone()
        };
        let l = one(300);
        assert_eq!(
            l.text,
            "replay window 300 is more than PF_KEY can carry (255); the kernel gets 44, of \
             which Linux keeps 32"
        );
        assert!(
            l.help
                .as_deref()
                .is_some_and(|h| h.contains("ip xfrm state"))
        );
        assert_eq!(
            one(260).text,
            "replay window 260 is more than PF_KEY can carry (255); the kernel gets 4"
        );
        assert!(
            one(512)
                .text
                .ends_with("the kernel gets 0, which turns replay protection off")
        );
    }

    #[test]
    fn transport_after_tunnel_is_checked_against_the_tunnel_end_points() {
        // ESP tunnel between the gateways, AH transport on the tunnelled
        // packets: the AH SA runs between the gateways, not between the
        // policy's hosts.
        let script = format!(
            "add 192.0.2.1 192.0.2.2 esp 0x200 -m tunnel {AES};\n\
             add 192.0.2.1 192.0.2.2 ah 0x201 -A hmac-sha256 \
             0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff;\n\
             spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec \
             esp/tunnel/192.0.2.1-192.0.2.2/require ah/transport//require;\n"
        );
        assert_eq!(texts(&script), Vec::<String>::new());
        // An AH SA between the policy's hosts does not serve it.
        let wrong = script.replace("add 192.0.2.1 192.0.2.2 ah", "add 10.1.0.1 10.2.0.1 ah");
        let l = texts(&wrong);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(
            l[0].contains("ah/transport request (192.0.2.1 -> 192.0.2.2)"),
            "{l:?}"
        );
    }

    #[test]
    fn unique_without_matching_reqid() {
        let pol = "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//unique:7;\n";
        let script = format!("{}{pol}", sa(AES));
        let l = lints(&script);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(l[0].text.contains("unique:7"));
        assert_eq!(l[0].line, 2);
        let ok = format!("{}{pol}", sa(&format!("-u 7 {AES}")));
        assert_eq!(lints(&ok), vec![]);
        // Policies only: a key daemon adds the SAs.
        assert_eq!(lints(pol), vec![]);
        // Inbound too (no SA here is a sign of a typo either way).
        let inbound = format!(
            "{}spdadd 10.0.0.2 10.0.0.1 any -P in ipsec esp/transport//unique:9;\n",
            sa(AES)
        );
        assert!(fires(&inbound, "unique:9"));
    }

    #[test]
    fn bare_unique_never_matches_manual_sas() {
        let script = format!(
            "{}spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//unique;\n",
            sa(AES)
        );
        assert!(fires(&script, "reqid of its own"));
    }

    #[test]
    fn unsatisfiable_requests() {
        // Transport: the SA must go between addresses of the selector.
        let wrong_dst = format!(
            "{}spdadd 10.0.0.1 10.0.0.3 any -P out ipsec esp/transport//require;\n",
            sa(AES)
        );
        assert!(fires(&wrong_dst, "no SA in this script can carry"));
        let subnet = format!(
            "{}spdadd 10.0.0.0/24 10.0.0.0/24 any -P out ipsec esp/transport//require;\n",
            sa(AES)
        );
        assert_eq!(lints(&subnet), vec![]);
        // Wrong protocol.
        let ah = format!(
            "{}spdadd 10.0.0.1 10.0.0.2 any -P out ipsec ah/transport//require;\n",
            sa(AES)
        );
        assert!(fires(&ah, "ah/transport"));
        // Tunnel: the end points must be the SA's; the mode must match.
        let tunnel = format!(
            "add 192.0.2.1 192.0.2.2 esp 0x100 -m tunnel {AES};\n\
             spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n"
        );
        assert_eq!(lints(&tunnel), vec![]);
        let wrong_end = tunnel.replace("192.0.2.2/require", "192.0.2.9/require");
        assert!(fires(&wrong_end, "no SA in this script can carry"));
        let transport_sa = tunnel.replace(" -m tunnel", "");
        let l = lints(&transport_sa);
        assert!(
            l.iter()
                .any(|l| l.help.as_deref().is_some_and(|h| h.contains("tunnel mode"))),
            "{l:?}"
        );
        // `require` matches only SAs without a reqid.
        let reqid = format!(
            "{}spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n",
            sa(&format!("-u 5 {AES}"))
        );
        let l = lints(&reqid);
        assert!(
            l.iter()
                .any(|l| l.help.as_deref().is_some_and(|h| h.contains("unique:5"))),
            "{l:?}"
        );
        // `use` is optional; inbound policies are not checked.
        let optional = wrong_dst.replace("require", "use");
        assert_eq!(lints(&optional), vec![]);
        let inbound = wrong_dst.replace("-P out", "-P in");
        assert_eq!(lints(&inbound), vec![]);
    }

    #[test]
    fn repeated_operations_report_once() {
        let script = format!(
            "add -4 10.0.0.1 10.0.0.2 esp 0x100 -E des-cbc 0x0011223344556677 {};",
            "-A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        );
        assert_eq!(lints(&script).len(), 1);
    }

    #[test]
    fn rendering() {
        let l = Lint::new(4, "text", Some("help".into()));
        assert_eq!(
            l.render("rsetkey", "a.conf"),
            "rsetkey: a.conf,4: lint: text\n    help: help\n"
        );
        assert_eq!(
            Lint::new(1, "t", None).render("p", "f"),
            "p: f,1: lint: t\n"
        );
    }

    #[test]
    fn counter_modes_under_static_keys_are_flagged_for_strict() {
        let opts = Options {
            extensions: true,
            ..Options::default()
        };
        let text = format!(
            "add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 0x{k20};\n\
             add 10.0.0.1 10.0.0.2 esp 2 -E chacha20-poly1305 0x{k36};\n\
             add 10.0.0.1 10.0.0.2 esp 3 -E aes-gmac 0x{k20};\n\
             add 10.0.0.1 10.0.0.2 esp 4 -E aes-ctr 0x{k20} -A hmac-sha256 0x{k32};\n\
             add 10.0.0.1 10.0.0.2 esp 5 -E aes-cbc 0x{k16} -A hmac-sha256 0x{k32};\n",
            k16 = "11".repeat(16),
            k20 = "11".repeat(20),
            k32 = "22".repeat(32),
            k36 = "33".repeat(36),
        );
        let statements = parse_script_with(&text, &opts, &FileNames::default()).expect("parses");
        let lints = lint(&statements);
        let counters: Vec<u32> = lints
            .iter()
            .filter(|l| l.static_key_counter)
            .map(|l| l.line)
            .collect();
        assert_eq!(counters, [1, 2, 3, 4], "{lints:#?}");
        let gcm = &lints[0];
        assert_eq!(
            gcm.text,
            "aes-gcm-16 with a static key: the sequence number starts at 1 again after every \
             reboot or re-add under the same key, so nonces repeat, which breaks its \
             confidentiality and integrity (RFC 4106 §8: the key must change)"
        );
        assert!(!gcm.text.contains('\n'), "one line");
        assert_eq!(
            gcm.help.as_deref(),
            Some(
                "generate new keys every time the script is loaded, or let an IKE daemon \
                 negotiate them"
            )
        );
        assert!(
            lints
                .iter()
                .any(|l| l.line == 2 && l.text.contains("RFC 7634 §5"))
        );
        // a combined-mode cipher needs no -A; AES-GMAC encrypts nothing
        assert!(
            !lints
                .iter()
                .any(|l| l.line <= 2 && l.text.contains("without authentication")),
            "{lints:#?}"
        );
        assert!(
            lints
                .iter()
                .any(|l| l.line == 3 && l.text.contains("travel in clear"))
        );
        assert!(
            gcm.render_as_error("rsetkey", "x.conf")
                .starts_with("rsetkey: x.conf,1: error: aes-gcm-16 with a static key")
        );
    }
}
