//! The intermediate representation: what a script asks the kernel to do.
//!
//! The parser lowers every statement to a [`Statement`]: its place in the
//! script plus the list of kernel [`Operation`]s it stands for, with host
//! names resolved, `in` policies doubled into their `fwd` twins (RFC mode)
//! and keys checked. Backends execute operations one by one; nothing here
//! knows about nom or about PF_KEY's byte layout, so a second backend (XFRM
//! netlink) can execute the same IR.

pub mod print;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use zeroize::Zeroizing;

pub use crate::algorithms::{AuthAlgorithm, CompressionAlgorithm, EncryptAlgorithm};

/// One statement of a script, lowered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Where the statement sits in its script.
    pub location: Location,
    /// Warnings setkey prints while it reads this statement (for example
    /// `WARNING: mode is obsolete at `;'`), printed when it executes.
    pub warnings: Vec<String>,
    /// What the statement does, in the order the messages go to the kernel.
    pub operations: Operations,
}

/// The operations of one statement, in order: nearly always one (an
/// address list or an `in` policy's `fwd` twin makes more). A `Vec`, not
/// a [`SmallList`]: a statement is moved several times on its way from the
/// grammar to the executor, and with its operation inline (an SA is 256
/// bytes) the moves cost more than the allocation saves (measured: `-n -f`
/// on 200 000 statements 1 363 M instructions inline, 1 313 M in a `Vec`;
/// an apply of 50 000 policies 395 M and 390 M).
pub type Operations = Vec<Operation>;

/// A list that keeps a single element inline and allocates only for more:
/// for small elements of which a list holds one nearly always (a policy's
/// requests, its templates, the addresses a name resolves to), and of
/// which a large script holds hundreds of thousands.
#[derive(Clone)]
pub struct SmallList<T>(Stored<T>);

// The single element inline is the point: boxing it would bring back the
// allocation this type exists to avoid.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Stored<T> {
    One(T),
    /// None, or more than one.
    Many(Vec<T>),
}

impl<T> SmallList<T> {
    /// An empty list with room for `n` (a `Vec` is allocated only for more
    /// than one).
    pub fn with_capacity(n: usize) -> Self {
        SmallList(Stored::Many(if n > 1 {
            Vec::with_capacity(n)
        } else {
            Vec::new()
        }))
    }

    /// The list of `item` alone.
    pub fn one(item: T) -> Self {
        SmallList(Stored::One(item))
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        match &mut self.0 {
            Stored::Many(v) if v.capacity() == 0 => self.0 = Stored::One(item),
            Stored::Many(v) => v.push(item),
            Stored::One(_) => {
                let Stored::One(first) = std::mem::replace(&mut self.0, Stored::Many(Vec::new()))
                else {
                    return;
                };
                self.0 = Stored::Many(vec![first, item]);
            }
        }
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        match &self.0 {
            Stored::One(item) => std::slice::from_ref(item),
            Stored::Many(v) => v,
        }
    }
}

impl<T> Default for SmallList<T> {
    fn default() -> Self {
        SmallList(Stored::Many(Vec::new()))
    }
}

impl<T> std::ops::Deref for SmallList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> std::ops::DerefMut for SmallList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Stored::One(item) => std::slice::from_mut(item),
            Stored::Many(v) => v,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SmallList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    fn from(mut v: Vec<T>) -> Self {
        match v.len() {
            1 => v.pop().map_or_else(SmallList::default, SmallList::one),
            _ => SmallList(Stored::Many(v)),
        }
    }
}

impl<T> From<SmallList<T>> for Vec<T> {
    fn from(list: SmallList<T>) -> Self {
        match list.0 {
            Stored::One(item) => vec![item],
            Stored::Many(v) => v,
        }
    }
}

impl<T> FromIterator<T> for SmallList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = SmallList::default();
        for item in iter {
            list.push(item);
        }
        list
    }
}

impl<T> IntoIterator for SmallList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        Vec::from(self).into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SmallList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The same elements in the same order, however they are held (one
/// element may be inline or in a `Vec` with room for more).
impl<T: PartialEq> PartialEq for SmallList<T> {
    fn eq(&self, other: &SmallList<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for SmallList<T> {}

impl<T: PartialEq> PartialEq<Vec<T>> for SmallList<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A statement's place in its script, as setkey reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// The line setkey names in messages about this statement: the line of
    /// its terminating `;` (1-based).
    pub line: u32,
    /// Byte offset of the statement's first token in the script.
    pub offset: usize,
    /// Length in bytes of the statement's text, up to and including `;`.
    pub len: usize,
}

/// One request to the kernel (one message on PF_KEY), or the end of the
/// script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `flush [proto];`: remove every SA of that type (all with `None`).
    Flush(SaType),
    /// `dump [proto];`: print the SAs of that type.
    Dump(SaType),
    /// `spdflush;`
    SpdFlush,
    /// `spddump;`
    SpdDump,
    /// `add`: install a security association.
    Add(Box<SecurityAssociation>),
    /// `get`: print one security association.
    Get(Box<SecurityAssociation>),
    /// `delete`: remove one security association.
    Delete(Box<SecurityAssociation>),
    /// `getspi`: reserve an SPI (a larval SA).
    GetSpi(Box<SecurityAssociation>),
    /// `deleteall`: remove every SA of a type between two sets of addresses.
    DeleteAll(DeleteAll),
    /// `spdadd`: install a policy.
    SpdAdd(PolicyRequest),
    /// `spdupdate`: replace a policy, or install it.
    SpdUpdate(PolicyRequest),
    /// `spddelete`: remove a policy.
    SpdDelete(PolicyRequest),
    /// `spdadd tagged "NAME" -P …;`: a policy for packets with a PF tag
    /// (BSD). setkey sends it; Linux has no tags and refuses it.
    SpdAddTagged(TaggedPolicy),
    /// `spdupdate tagged "NAME" -P …;`.
    SpdUpdateTagged(TaggedPolicy),
    /// `exit;`, `quit;`, `bye;`: stop reading the script.
    Exit,
}

/// The SA type of a statement (`sadb_msg_satype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SaType {
    /// No protocol given (or `tcp`, which Linux has no SA type for).
    #[default]
    Unspec,
    /// `ah`, `ah-old`.
    Ah,
    /// `esp`, `esp-old`, `esp-udp`.
    Esp,
    /// `ipcomp`.
    IpComp,
}

/// IPsec mode of an SA or of a policy request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IpsecMode {
    /// `-m any` (the default for SAs; Linux stores it as transport).
    #[default]
    Any,
    /// `transport`.
    Transport,
    /// `tunnel`.
    Tunnel,
}

/// Key material. The bytes are wiped from memory when dropped, and `Debug`
/// never shows them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Key(Zeroizing<Vec<u8>>);

impl Key {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key length in bits, as `sadb_key_bits` carries it.
    pub fn bits(&self) -> usize {
        self.0.len() * 8
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bits)", self.bits())
    }
}

/// Whether key material is shown where keys could be printed: IR printed
/// back as statements (`-n -v`), decoded messages (`-v`, `-x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// The key bytes, in hex: printed statements parse back to the same
    /// keys. Use only where the output is as protected as the script itself.
    Show,
    /// One `*` per hex digit: the length stays visible, the key does not.
    Mask,
}

/// The algorithm part of an SA: which transforms and which keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transforms {
    /// `-E ALGO [KEY]`. The key is `Some` whenever `-E` was given, also for
    /// `null` (an empty key: setkey sends a zero-bit key extension).
    pub encrypt: Option<(EncryptAlgorithm, Key)>,
    /// `-A ALGO [KEY]`. No key for `-A null`.
    pub auth: Option<(AuthAlgorithm, Option<Key>)>,
    /// `-C ALGO` (IPComp).
    pub compression: Option<CompressionAlgorithm>,
}

/// A hard or soft lifetime (`-lh`/`-bh`, `-ls`/`-bs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    /// Seconds after creation (`-lh`, `-ls`).
    pub seconds: u64,
    /// Bytes processed (`-bh`, `-bs`).
    pub bytes: u64,
}

impl Lifetime {
    /// Whether the lifetime is set at all (setkey sends it only then).
    pub fn is_set(&self) -> bool {
        self.seconds != 0 || self.bytes != 0
    }
}

/// A security context (`-ctx DOI ALG "string"`), for SELinux labelled IPsec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityContext {
    /// Domain of interpretation (8 bits; 0 means "none" and is not sent).
    pub doi: u8,
    /// Algorithm (8 bits).
    pub alg: u8,
    /// The context string, without a terminating NUL.
    pub context: Vec<u8>,
}

/// NAT traversal (`esp-udp`): ESP in UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatTraversal {
    /// UDP source port (the source address' port, 4500 when none).
    pub sport: u16,
    /// UDP destination port (the destination address' port, 4500 when none).
    pub dport: u16,
    /// The NAT original address, when written after `esp-udp`.
    pub original: Option<IpAddr>,
}

/// One security association as a statement describes it: everything an
/// `add`, `get`, `delete` or `getspi` message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAssociation {
    /// AH, ESP or IPComp.
    pub satype: SaType,
    /// Source address; the port is sent as written (`[port]`).
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// SPI (or CPI for IPComp), host order.
    pub spi: u32,
    /// `-m`.
    pub mode: IpsecMode,
    /// `-u`.
    pub reqid: u32,
    /// `-r`, already reduced to 8 bits as setkey does: what goes into
    /// `sadb_sa_replay` (8 bits wide).
    pub replay: u8,
    /// `-r` as written (0 without `-r`; numbers past `u64::MAX` saturate,
    /// as setkey's `strtoul` does). `replay` is this modulo 256; kept so
    /// that the printer can write the statement as it was and the lints
    /// can tell when a window did not fit.
    pub replay_requested: u64,
    /// A replay window past PF_KEY's 8 bits (`-r` above 255, rsetkey's
    /// dialect): the kernel gets all of it, through XFRM. `replay` and
    /// `replay_requested` still say what `-r` said.
    pub wide_replay: Option<u32>,
    /// `sadb_sa_flags`: setkey's KAME flags (0x40 cyclic sequence numbers by
    /// default, padding options, old-protocol bits, raw CPI), and
    /// rsetkey's `-f esn`.
    pub flags: u32,
    /// Algorithms and keys.
    pub transforms: Transforms,
    /// `-lh`, `-bh`.
    pub hard: Lifetime,
    /// `-ls`, `-bs`.
    pub soft: Lifetime,
    /// `-ctx`.
    pub context: Option<SecurityContext>,
    /// `esp-udp`.
    pub nat: Option<NatTraversal>,
}

/// `deleteall SRC DST PROTO;`: delete every SA of the type from any source
/// address to any destination address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAll {
    /// The SA type to delete.
    pub satype: SaType,
    /// Every address the source resolved to.
    pub src: Vec<IpAddr>,
    /// Every address the destination resolved to.
    pub dst: Vec<IpAddr>,
}

/// Direction of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `in`.
    In,
    /// `out`.
    Out,
    /// `fwd`.
    Fwd,
}

/// What a policy does with matching packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyAction {
    /// `discard`.
    Discard,
    /// `none`: no IPsec.
    None,
    /// `ipsec`: apply the requests.
    Ipsec,
    /// `entrust` (refused by Linux).
    Entrust,
    /// `bypass` (refused by Linux).
    Bypass,
}

/// IPsec protocol of a policy request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpsecProtocol {
    /// `esp` (IP protocol 50).
    Esp,
    /// `ah` (51).
    Ah,
    /// `ipcomp` (108).
    IpComp,
}

/// How strictly a policy request must be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// `default` (or no level).
    #[default]
    Default,
    /// `use`.
    Use,
    /// `require`.
    Require,
    /// `unique` / `unique:N`.
    Unique,
}

/// One `proto/mode/src-dst/level` element of an `ipsec` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsecRequest {
    /// `esp`, `ah`, `ipcomp`.
    pub protocol: IpsecProtocol,
    /// `transport` or `tunnel`.
    pub mode: IpsecMode,
    /// The level.
    pub level: Level,
    /// The N of `unique:N`, else 0.
    pub reqid: u32,
    /// The end points (`src-dst`), when written.
    pub endpoints: Option<Box<(SocketAddr, SocketAddr)>>,
}

/// A policy: direction, priority, action and requests (the `-P` text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `in`, `out`, `fwd`.
    pub direction: Direction,
    /// The action.
    pub action: PolicyAction,
    /// `sadb_x_policy_priority`: 0x80000000 by default, 0 for a
    /// direction-only policy.
    pub priority: u32,
    /// The requests, in order.
    pub requests: SmallList<IpsecRequest>,
}

/// One side of a policy selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectorAddress {
    /// Address and port (the port also carries ICMP type/code or GRE key
    /// halves).
    pub addr: SocketAddr,
    /// Prefix length, as written (8 bits, unchecked like setkey).
    pub prefixlen: u8,
}

/// A tagged policy: `spdadd tagged "NAME" -P POLICY;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedPolicy {
    /// The tag's name (the quoted string, without its quotes).
    pub tag: String,
    /// The policy.
    pub policy: Policy,
}

/// One policy message: `spdadd`, `spdupdate` or `spddelete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRequest {
    /// Source selector.
    pub src: SelectorAddress,
    /// Destination selector.
    pub dst: SelectorAddress,
    /// Upper-layer protocol number; 255 = any.
    pub upper: u8,
    /// The policy.
    pub policy: Policy,
    /// `-ctx`.
    pub context: Option<SecurityContext>,
}

/// The bits setkey puts in `sadb_sa_flags` (KAME's; Linux ignores them all
/// and dumps show 0), and the spelling that sets each.
pub mod sa_flags {
    /// `esp-old` / `ah-old`.
    pub const FLAG_OLD: u32 = 0x01;
    /// `des-32iv`.
    pub const FLAG_IV4B: u32 = 0x10;
    /// `des-deriv`.
    pub const FLAG_DERIV: u32 = 0x20;
    /// Cyclic sequence numbers: on unless `-f nocyclic-seq`.
    pub const FLAG_CYCSEQ: u32 = 0x40;
    /// `-R` after `-C`.
    pub const FLAG_RAWCPI: u32 = 0x80;
    /// `-f random-pad`.
    pub const FLAG_PRAND: u32 = 0x100;
    /// `-f zero-pad`.
    pub const FLAG_PZERO: u32 = 0x200;
    /// `-f esn`: extended (64-bit) sequence numbers, rsetkey's dialect.
    /// FreeBSD's `SADB_X_SAFLAGS_ESN`, a bit no KAME flag uses; Linux's
    /// af_key has no such flag, so only the XFRM kernel reads it
    /// (`XFRM_STATE_ESN`).
    pub const FLAG_ESN: u32 = 0x400;
}

/// The largest replay window Linux takes (`XFRMA_REPLAY_ESN_MAX`: a
/// bitmap of 4096 bits).
pub const MAX_REPLAY_WINDOW: u32 = 4096;

/// Upper-layer protocol number meaning "any".
pub const UPPER_ANY: u8 = 255;

/// Default policy priority (`prio def`).
pub const PRIORITY_DEFAULT: u32 = 0x8000_0000;

/// Default NAT-T port.
pub const NAT_T_PORT: u16 = 4500;

/// The algorithms the running kernel offers, with their key sizes in bits
/// (from its SADB_REGISTER reply); setkey checks key lengths against them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupportedAlgorithms {
    /// Authentication algorithms: (algorithm, min bits, max bits).
    pub auth: Vec<(AuthAlgorithm, u16, u16)>,
    /// Encryption algorithms: (algorithm, min bits, max bits).
    pub encrypt: Vec<(EncryptAlgorithm, u16, u16)>,
}

impl SupportedAlgorithms {
    /// Key size range of an authentication algorithm, if offered.
    pub fn auth_bits(&self, alg: AuthAlgorithm) -> Option<(u16, u16)> {
        self.auth
            .iter()
            .find(|(a, _, _)| *a == alg)
            .map(|&(_, min, max)| (min, max))
    }

    /// Key size range of an encryption algorithm, if offered.
    pub fn encrypt_bits(&self, alg: EncryptAlgorithm) -> Option<(u16, u16)> {
        self.encrypt
            .iter()
            .find(|(a, _, _)| *a == alg)
            .map(|&(_, min, max)| (min, max))
    }

    /// What a Linux 6.1 kernel with the usual crypto modules offers: used
    /// where no kernel can be asked (`-n` on a kernel without PF_KEY).
    /// These are the kernel's rows setkey can name, in its table order.
    pub fn linux_default() -> SupportedAlgorithms {
        use crate::algorithms::{Setkey, TABLE};
        let mut supported = SupportedAlgorithms::default();
        for row in &TABLE {
            let Some(x) = row.xfrm else { continue };
            match row.setkey {
                Setkey::Auth(a) => supported.auth.push((a, x.min_bits, x.max_bits)),
                Setkey::Encrypt(e) => supported.encrypt.push((e, x.min_bits, x.max_bits)),
                Setkey::Compress(_) | Setkey::Unnamed => {}
            }
        }
        supported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_list_holds_one_element_inline_and_more_in_a_vec() {
        let mut list = SmallList::with_capacity(1);
        assert!(list.is_empty());
        list.push(1);
        assert!(matches!(list.0, Stored::One(1)));
        list.push(2);
        list.push(3);
        assert_eq!(list, vec![1, 2, 3]);
        assert_eq!(format!("{list:?}"), "[1, 2, 3]");
        assert_eq!(Vec::from(list.clone()), vec![1, 2, 3]);
        assert_eq!(list.into_iter().rev().collect::<Vec<_>>(), vec![3, 2, 1]);
        // Room asked for several: a Vec from the start, no element moves.
        let mut list = SmallList::with_capacity(2);
        list.push('a');
        assert!(matches!(&list.0, Stored::Many(v) if v.len() == 1));
        list[0] = 'b';
        assert_eq!(list.as_slice(), ['b']);
        for (v, want) in [(vec![], 0), (vec![7], 1), (vec![7, 8], 2)] {
            let list = SmallList::from(v.clone());
            assert_eq!(list.len(), want);
            assert_eq!(Vec::from(list), v);
        }
        let collected: SmallList<u8> = (0..1).collect();
        assert!(matches!(collected.0, Stored::One(0)));
        // One element inline or in a Vec with room for more: equal.
        let mut roomy = SmallList::with_capacity(4);
        roomy.push(0u8);
        assert!(matches!(roomy.0, Stored::Many(_)));
        assert_eq!(roomy, collected);
    }

    #[test]
    fn the_default_table_is_linux_6_1s() {
        use AuthAlgorithm as A;
        use EncryptAlgorithm as E;
        let expected = SupportedAlgorithms {
            auth: vec![
                (A::Null, 0, 0),
                (A::HmacMd5, 128, 128),
                (A::HmacSha1, 160, 160),
                (A::HmacSha256, 256, 256),
                (A::HmacSha384, 384, 384),
                (A::HmacSha512, 512, 512),
                (A::HmacRipemd160, 160, 160),
                (A::AesXcbcMac, 128, 128),
            ],
            encrypt: vec![
                (E::Null, 0, 0),
                (E::DesCbc, 64, 64),
                (E::TripleDesCbc, 192, 192),
                (E::Cast128Cbc, 40, 128),
                (E::BlowfishCbc, 40, 448),
                (E::AesCbc, 128, 256),
                (E::CamelliaCbc, 128, 256),
                (E::TwofishCbc, 128, 256),
                (E::AesCtr, 160, 288),
            ],
        };
        assert_eq!(SupportedAlgorithms::linux_default(), expected);
    }
}
