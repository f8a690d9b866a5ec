//! `--json`: dumps and monitor events as JSON, built from the wire.
//!
//! Each SA and each policy becomes one object of typed fields, made from
//! the PF_KEY extensions of its message (never from the parser or the IR):
//! numbers stay numbers, addresses, ports and prefixes are separate
//! fields, times carry both RFC 3339 UTC text and epoch seconds, algorithms
//! go by setkey's names, the templates of a policy form an array. Key
//! bytes are left out unless asked for ([`JsonOptions::show_keys`]); the
//! algorithm and key length always show.
//!
//! The schema is versioned ([`SCHEMA_VERSION`], the `version` field of
//! every object) and documented field by field in the README; changes to
//! it are additive. `-D --json` prints one array, streamed entry by entry
//! ([`ArrayWriter`]), so memory stays flat however large the table; `-x
//! --json` prints one object per line ([`write_event`]).

use std::io::Write;
use std::net::SocketAddr;

use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

use super::Protocols;
use super::addr::ip_string;
use super::policy::is_per_socket;
use super::sa::{MODES, SATYPES, STATES};
use crate::algorithms::{self, Kind};
use crate::pfkey::wire::{
    AddressExt, AddressKind, IpsecRequestExt, KeyExt, KeyKind, LifetimeExt, LifetimeKind, Message,
    MessageType, NatTPortKind, SATYPE_AH, SATYPE_ESP, SATYPE_IPCOMP, SecCtxExt, ipsec,
};

/// The schema's version, the `version` field of every object. Raised only
/// when a field is added (changes are additive: a reader of version 1
/// reads every later version).
pub const SCHEMA_VERSION: u32 = 1;

/// What the JSON shows beyond the wire's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOptions {
    /// `--show-keys`: key bytes as hex strings (left out by default).
    pub show_keys: bool,
}

/// A point in time: epoch seconds and RFC 3339 UTC text.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Time {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub epoch: u64,
    /// The same second as `YYYY-MM-DDThh:mm:ssZ`.
    pub utc: String,
}

impl Time {
    /// `t`, or `None` for 0 (the kernel's "never", blank in the text dump).
    pub fn from_epoch(t: u64) -> Option<Time> {
        (t != 0).then(|| Time {
            epoch: t,
            utc: rfc3339(t),
        })
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` of epoch seconds (proleptic Gregorian calendar;
/// years past 9999 print with more digits).
pub fn rfc3339(t: u64) -> String {
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One end of an SA or a selector.
#[derive(Debug, Serialize)]
pub struct Endpoint {
    /// The address as setkey prints it (IPv6 with `%scope` when not 0).
    pub address: String,
    /// The port (0 = any). In a selector of ICMP, ICMPv6 or MH the source
    /// port holds the type and the destination port the code; of GRE,
    /// the high and low 16 bits of the key.
    pub port: u16,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Endpoint {
    fn of(a: &AddressExt) -> Endpoint {
        Endpoint {
            address: ip_string(&a.addr),
            port: a.addr.port(),
            prefix: a.prefixlen,
        }
    }
}

/// A tunnel end point of a policy template (no prefix).
#[derive(Debug, Serialize)]
pub struct Host {
    /// The address.
    pub address: String,
    /// The port (0 = any).
    pub port: u16,
}

impl Host {
    fn of(a: &SocketAddr) -> Host {
        Host {
            address: ip_string(a),
            port: a.port(),
        }
    }
}

/// Key bytes as lowercase hex, wiped when dropped.
#[derive(Debug)]
pub struct HexKey(Zeroizing<String>);

impl Serialize for HexKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An algorithm of an SA: encryption, authentication or compression.
#[derive(Debug, Serialize)]
pub struct Algorithm {
    /// setkey's name for it (as the text dump prints it), or `null` when
    /// setkey has none (then only `id` says which).
    pub name: Option<&'static str>,
    /// The PF_KEY algorithm id.
    pub id: u8,
    /// Key length in bits (`sadb_key_bits`); 0 without a key.
    pub key_bits: u16,
    /// The key as hex, only with `--show-keys` and when there is a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<HexKey>,
}

impl Algorithm {
    fn of(kind: Kind, id: u8, key: Option<&KeyExt>, opts: JsonOptions) -> Algorithm {
        let key_hex = key.filter(|_| opts.show_keys).map(|k| {
            // the text dump's bytes: bits / 8 of them
            let n = (usize::from(k.bits) / 8).min(k.key.len());
            let mut hex = Zeroizing::new(String::with_capacity(2 * n));
            for b in &k.key[..n] {
                hex.push(char::from(HEX[usize::from(b >> 4)]));
                hex.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            HexKey(hex)
        });
        Algorithm {
            name: algorithms::dump_name(kind, id),
            id,
            key_bits: key.map_or(0, |k| k.bits),
            key: key_hex,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// NAT traversal (UDP encapsulation) of an SA.
#[derive(Debug, Serialize)]
pub struct NatT {
    /// The encapsulation type (2 = ESP in UDP).
    #[serde(rename = "type")]
    pub encap_type: u8,
    /// The source port of the UDP encapsulation.
    pub src_port: Option<u16>,
    /// The destination port.
    pub dst_port: Option<u16>,
    /// The original address (NAT-OA), when the kernel reports one.
    pub original_address: Option<String>,
}

/// A lifetime limit or use (`sadb_lifetime`): seconds are durations here.
#[derive(Debug, Serialize)]
pub struct Limit {
    /// Packets (`allocations`).
    pub allocations: u32,
    /// Bytes.
    pub bytes: u64,
    /// Seconds after creation.
    pub add_seconds: u64,
    /// Seconds after first use.
    pub use_seconds: u64,
}

impl Limit {
    fn of(l: &LifetimeExt) -> Limit {
        Limit {
            allocations: l.allocations,
            bytes: l.bytes,
            add_seconds: l.addtime,
            use_seconds: l.usetime,
        }
    }
}

/// What an SA has used so far.
#[derive(Debug, Serialize)]
pub struct Current {
    /// Packets processed.
    pub allocations: u32,
    /// Bytes processed.
    pub bytes: u64,
    /// When the SA was created (`null`: never set).
    pub created: Option<Time>,
    /// When it was last used (`null`: never).
    pub last_used: Option<Time>,
    /// Seconds from creation to `now` (the text dump's `diff:`).
    pub age_seconds: u64,
}

/// The lifetimes of an SA.
#[derive(Debug, Serialize)]
pub struct SaLifetime {
    /// What it has used (`null` when the kernel sent no current lifetime).
    pub current: Option<Current>,
    /// Hard limits (all 0 = none).
    pub hard: Limit,
    /// Soft limits.
    pub soft: Limit,
}

/// A security context (`-ctx`).
#[derive(Debug, Serialize)]
pub struct SecurityContext {
    /// Its DOI.
    pub doi: u8,
    /// Its algorithm.
    pub algorithm: u8,
    /// Its length on the wire, in bytes (NUL included).
    pub length: usize,
    /// The context string, up to its first NUL (lossy UTF-8).
    pub context: String,
}

impl SecurityContext {
    fn of(c: &SecCtxExt) -> SecurityContext {
        let end = c
            .context
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(c.context.len());
        SecurityContext {
            doi: c.doi,
            algorithm: c.alg,
            length: c.context.len(),
            context: String::from_utf8_lossy(&c.context[..end]).into_owned(),
        }
    }
}

/// One SA (an SADB_DUMP or SADB_GET reply, or an SA event).
#[derive(Debug, Serialize)]
pub struct Sa {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// Always `"sa"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Source.
    pub src: Option<Endpoint>,
    /// Destination.
    pub dst: Option<Endpoint>,
    /// `esp`, `ah`, `ipcomp`, or setkey's name of another SA type.
    pub protocol: String,
    /// UDP encapsulation, `null` without.
    pub nat_t: Option<NatT>,
    /// `transport`, `tunnel`, `any` (or the number).
    pub mode: String,
    /// The SPI.
    pub spi: u32,
    /// The request id.
    pub reqid: u32,
    /// Encryption (ESP), `null` when none.
    pub encryption: Option<Algorithm>,
    /// Authentication, `null` when none.
    pub authentication: Option<Algorithm>,
    /// Compression (IPComp), `null` otherwise.
    pub compression: Option<Algorithm>,
    /// The sequence number (`seq=`).
    pub sequence: u32,
    /// The replay window (`replay=`); past 255 through XFRM only.
    pub replay: u32,
    /// `sadb_sa_flags`.
    pub flags: u32,
    /// `larval`, `mature`, `dying`, `dead` (or the number).
    pub state: String,
    /// Lifetimes, `null` when the kernel sent none.
    pub lifetime: Option<SaLifetime>,
    /// The security context, `null` without.
    pub security_context: Option<SecurityContext>,
    /// The message's `sadb_msg_seq` (`sadb_seq=`).
    pub sadb_seq: u32,
    /// The message's `sadb_msg_pid`.
    pub pid: u32,
    /// `sadb_msg_reserved` (`refcnt=`).
    pub refcnt: u16,
}

/// One template of a policy (`proto/mode/src-dst/level`).
#[derive(Debug, Serialize)]
pub struct Template {
    /// `esp`, `ah`, `ipcomp` (or the number).
    pub protocol: String,
    /// `transport`, `tunnel`, `any` (or the number).
    pub mode: String,
    /// Tunnel source, `null` without end points.
    pub src: Option<Host>,
    /// Tunnel destination.
    pub dst: Option<Host>,
    /// `default`, `use`, `require`, `unique` (or the number).
    pub level: String,
    /// The request id (0 = none; above 16383 the kernel chose it).
    pub reqid: u32,
}

/// The lifetimes of a policy.
#[derive(Debug, Serialize)]
pub struct PolicyLifetime {
    /// When it was created.
    pub created: Option<Time>,
    /// When it was last used.
    pub last_used: Option<Time>,
    /// `lifetime:` seconds (hard add time; 0 = none).
    pub lifetime_seconds: u64,
    /// `validtime:` seconds (hard use time; 0 = none).
    pub validtime_seconds: u64,
}

/// One policy (an SADB_X_SPDDUMP or SPDGET reply, or a policy event).
#[derive(Debug, Serialize)]
pub struct Policy {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// Always `"policy"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bound to a socket (then the selector may be missing).
    pub per_socket: bool,
    /// Source selector.
    pub src: Option<Endpoint>,
    /// Destination selector.
    pub dst: Option<Endpoint>,
    /// Upper-layer protocol number (255 = any).
    pub upper_protocol: Option<u8>,
    /// Its name in the protocols database, `null` when it has none.
    pub upper_protocol_name: Option<String>,
    /// `in`, `out`, `fwd`, `any`, `in(socket)`, `out(socket)` (or the number).
    pub direction: String,
    /// `discard`, `none`, `ipsec`, `entrust`, `bypass` (or the number).
    pub action: String,
    /// The priority (0 = unset; smaller is stronger).
    pub priority: u32,
    /// The kernel's index (`spid=`).
    pub id: u32,
    /// The templates, in order (empty unless `ipsec`).
    pub templates: Vec<Template>,
    /// Lifetimes, `null` when the kernel sent none.
    pub lifetime: Option<PolicyLifetime>,
    /// The security context, `null` without.
    pub security_context: Option<SecurityContext>,
    /// The message's `sadb_msg_seq` (`seq=`).
    pub seq: u32,
    /// The message's `sadb_msg_pid`.
    pub pid: u32,
    /// `sadb_msg_reserved` (`refcnt=`).
    pub refcnt: u16,
}

/// A name from a table indexed by value, or the number.
fn named(names: &[&str], v: usize) -> String {
    names
        .get(v)
        .map_or_else(|| v.to_string(), |n| (*n).to_string())
}

/// Policy directions as libipsec prints them.
const DIRECTIONS: [&str; 6] = ["any", "in", "out", "fwd", "in(socket)", "out(socket)"];
/// Policy actions.
const ACTIONS: [&str; 5] = ["discard", "none", "ipsec", "entrust", "bypass"];
/// Template levels.
pub(crate) const LEVELS: [&str; 4] = ["default", "use", "require", "unique"];

/// The IPsec protocol of a template.
pub(crate) fn template_protocol(proto: u16) -> String {
    match proto {
        50 => "esp".to_string(),
        51 => "ah".to_string(),
        108 => "ipcomp".to_string(),
        n => n.to_string(),
    }
}

/// The SA object of a message with an SA extension.
pub fn sa(msg: &Message, now: u64, opts: JsonOptions) -> Sa {
    let satype = msg.header.satype;
    let sa = msg.sa().copied().unwrap_or_default();
    let sa2 = msg.sa2().copied().unwrap_or_default();
    let nat_type = msg.nat_t_type().filter(|&t| t != 0);
    let nat_t = nat_type.map(|t| NatT {
        encap_type: t,
        src_port: msg.nat_t_port(NatTPortKind::Src),
        dst_port: msg.nat_t_port(NatTPortKind::Dst),
        original_address: msg.address(AddressKind::NatTOa).map(|a| ip_string(&a.addr)),
    });
    let (encryption, compression) = match satype {
        SATYPE_IPCOMP => (
            None,
            Some(Algorithm::of(Kind::Compression, sa.encrypt, None, opts)),
        ),
        SATYPE_ESP => {
            let key = msg.key(KeyKind::Encrypt);
            let enc = (key.is_some() || sa.encrypt != 0)
                .then(|| Algorithm::of(Kind::Encryption, sa.encrypt, key, opts));
            (enc, None)
        }
        _ => (None, None),
    };
    let auth_key = msg.key(KeyKind::Auth);
    let authentication = (auth_key.is_some()
        || (sa.auth != 0 && matches!(satype, SATYPE_ESP | SATYPE_AH)))
    .then(|| Algorithm::of(Kind::Authentication, sa.auth, auth_key, opts));
    let zero = LifetimeExt::default();
    let lifetime = {
        let cur = msg.lifetime(LifetimeKind::Current);
        let hard = msg.lifetime(LifetimeKind::Hard);
        let soft = msg.lifetime(LifetimeKind::Soft);
        (cur.is_some() || hard.is_some() || soft.is_some()).then(|| SaLifetime {
            current: cur.map(|c| Current {
                allocations: c.allocations,
                bytes: c.bytes,
                created: Time::from_epoch(c.addtime),
                last_used: Time::from_epoch(c.usetime),
                age_seconds: if c.addtime == 0 {
                    0
                } else {
                    now.saturating_sub(c.addtime)
                },
            }),
            hard: Limit::of(hard.unwrap_or(&zero)),
            soft: Limit::of(soft.unwrap_or(&zero)),
        })
    };
    Sa {
        version: SCHEMA_VERSION,
        kind: "sa",
        src: msg.address(AddressKind::Src).map(Endpoint::of),
        dst: msg.address(AddressKind::Dst).map(Endpoint::of),
        protocol: named(&SATYPES, usize::from(satype)),
        nat_t,
        mode: named(&MODES, usize::from(sa2.mode)),
        spi: sa.spi,
        reqid: sa2.reqid,
        encryption,
        authentication,
        compression,
        sequence: sa2.sequence,
        replay: msg.wide_replay().unwrap_or(u32::from(sa.replay)),
        flags: sa.flags,
        state: named(&STATES, usize::from(sa.state)),
        lifetime,
        security_context: msg.sec_ctx().map(SecurityContext::of),
        sadb_seq: msg.header.seq,
        pid: msg.header.pid,
        refcnt: msg.header.reserved,
    }
}

fn template(r: &IpsecRequestExt) -> Template {
    Template {
        protocol: template_protocol(r.proto),
        mode: named(&MODES, usize::from(r.mode)),
        src: r.endpoints.as_ref().map(|(a, _)| Host::of(a)),
        dst: r.endpoints.as_ref().map(|(_, b)| Host::of(b)),
        level: named(&LEVELS, usize::from(r.level)),
        reqid: r.reqid,
    }
}

/// The policy object of a message with a policy extension.
pub fn policy(msg: &Message, protocols: &Protocols) -> Policy {
    let pol = msg.policy().cloned().unwrap_or_default();
    let src = msg.address(AddressKind::Src);
    let dst = msg.address(AddressKind::Dst);
    let upper = src.or(dst).map(|a| a.proto);
    let templates = if pol.policy_type == ipsec::POLICY_IPSEC {
        pol.requests.iter().map(template).collect()
    } else {
        Vec::new()
    };
    let lifetime = {
        let cur = msg.lifetime(LifetimeKind::Current);
        let hard = msg.lifetime(LifetimeKind::Hard);
        (cur.is_some() || hard.is_some()).then(|| PolicyLifetime {
            created: cur.and_then(|c| Time::from_epoch(c.addtime)),
            last_used: cur.and_then(|c| Time::from_epoch(c.usetime)),
            lifetime_seconds: hard.map_or(0, |h| h.addtime),
            validtime_seconds: hard.map_or(0, |h| h.usetime),
        })
    };
    Policy {
        version: SCHEMA_VERSION,
        kind: "policy",
        per_socket: is_per_socket(msg),
        src: src.map(Endpoint::of),
        dst: dst.map(Endpoint::of),
        upper_protocol: upper,
        upper_protocol_name: upper.and_then(|u| protocols.name(u)).map(str::to_string),
        direction: named(&DIRECTIONS, usize::from(pol.dir)),
        action: named(&ACTIONS, usize::from(pol.policy_type)),
        priority: pol.priority,
        id: pol.id,
        templates,
        lifetime,
        security_context: msg.sec_ctx().map(SecurityContext::of),
        seq: msg.header.seq,
        pid: msg.header.pid,
        refcnt: msg.header.reserved,
    }
}

/// The object of a dump entry: a policy for SPD messages, else an SA.
fn entry(
    out: &mut impl Write,
    msg: &Message,
    now: u64,
    opts: JsonOptions,
    protocols: &Protocols,
) -> std::io::Result<()> {
    match msg.message_type() {
        Some(MessageType::SpdGet | MessageType::SpdDump) => {
            serde_json::to_writer(out, &policy(msg, protocols))
        }
        _ => serde_json::to_writer(out, &sa(msg, now, opts)),
    }
    .map_err(std::io::Error::from)
}

/// Streams a JSON array of dump entries: `[`, then each entry on a line
/// of its own as it arrives, `,`-separated, then `]`. Memory stays flat.
#[derive(Debug, Default)]
pub struct ArrayWriter {
    entries: u64,
}

impl ArrayWriter {
    /// An array with no entry written yet.
    pub fn new() -> ArrayWriter {
        ArrayWriter::default()
    }

    /// Writes one entry (the opening `[` before the first).
    pub fn entry(
        &mut self,
        out: &mut impl Write,
        msg: &Message,
        now: u64,
        opts: JsonOptions,
        protocols: &Protocols,
    ) -> std::io::Result<()> {
        out.write_all(if self.entries == 0 { b"[\n" } else { b",\n" })?;
        self.entries += 1;
        entry(out, msg, now, opts, protocols)
    }

    /// Closes the array (`[]` when it had no entry).
    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.entries == 0 {
            out.write_all(b"[]\n")
        } else {
            out.write_all(b"\n]\n")
        }
    }
}

/// One monitor event (a line of `-x --json`).
#[derive(Debug, Serialize)]
pub struct Event {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// The message type in lower case without `SADB_`/`SADB_X_`
    /// (`add`, `delete`, `expire`, `spdadd`, ...), or its number.
    pub event: String,
    /// When the monitor received it.
    pub time: Time,
    /// The message's SA type (`esp`, `ah`, `unspec`, ...).
    pub satype: String,
    /// `sadb_msg_errno` (0 = none).
    pub errno: u8,
    /// `sadb_msg_seq`.
    pub seq: u32,
    /// `sadb_msg_pid`.
    pub pid: u32,
    /// The SA the message carries, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sa: Option<Sa>,
    /// The policy the message carries, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// The event name of a message type.
fn event_name(t: u8) -> String {
    let name = match MessageType::from_u8(t) {
        Some(MessageType::GetSpi) => "getspi",
        Some(MessageType::Update) => "update",
        Some(MessageType::Add) => "add",
        Some(MessageType::Delete) => "delete",
        Some(MessageType::Get) => "get",
        Some(MessageType::Acquire) => "acquire",
        Some(MessageType::Register) => "register",
        Some(MessageType::Expire) => "expire",
        Some(MessageType::Flush) => "flush",
        Some(MessageType::Dump) => "dump",
        Some(MessageType::Promisc) => "promisc",
        Some(MessageType::PolicyChange) => "pchange",
        Some(MessageType::SpdUpdate) => "spdupdate",
        Some(MessageType::SpdAdd) => "spdadd",
        Some(MessageType::SpdDelete) => "spddelete",
        Some(MessageType::SpdGet) => "spdget",
        Some(MessageType::SpdAcquire) => "spdacquire",
        Some(MessageType::SpdDump) => "spddump",
        Some(MessageType::SpdFlush) => "spdflush",
        Some(MessageType::SpdSetIdx) => "spdsetidx",
        Some(MessageType::SpdExpire) => "spdexpire",
        Some(MessageType::SpdDelete2) => "spddelete2",
        Some(MessageType::NatTNewMapping) => "nat_t_new_mapping",
        Some(MessageType::Migrate) => "migrate",
        None => return t.to_string(),
    };
    name.to_string()
}

/// Writes one monitor event as one line of JSON and flushes it, so that a
/// reader (`rsetkey -x --json | jq`) sees it at once. Bytes that are no
/// PF_KEY message give an event `"unparsed"` with their length.
pub fn write_event(
    out: &mut impl Write,
    bytes: &[u8],
    now: u64,
    opts: JsonOptions,
    protocols: &Protocols,
) -> std::io::Result<()> {
    let line = match Message::parse(bytes) {
        Ok(msg) => {
            let sa = msg.sa().is_some().then(|| sa(&msg, now, opts));
            let policy = msg.policy().is_some().then(|| policy(&msg, protocols));
            serde_json::to_vec(&Event {
                version: SCHEMA_VERSION,
                event: event_name(msg.header.msg_type),
                time: Time {
                    epoch: now,
                    utc: rfc3339(now),
                },
                satype: named(&SATYPES, usize::from(msg.header.satype)),
                errno: msg.header.errno,
                seq: msg.header.seq,
                pid: msg.header.pid,
                sa,
                policy,
            })
        }
        Err(e) => serde_json::to_vec(&serde_json::json!({
            "version": SCHEMA_VERSION,
            "event": "unparsed",
            "time": Time { epoch: now, utc: rfc3339(now) },
            "length": bytes.len(),
            "error": e.to_string(),
        })),
    }
    .map_err(std::io::Error::from)?;
    // the line may hold keys (--show-keys): wiped once written
    let line = Zeroizing::new(line);
    out.write_all(&line)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pfkey::wire::{Extension, Header, PolicyExt, SaExt};

    #[test]
    fn rfc3339_of_known_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(Time::from_epoch(0), None);
    }

    fn sa_message(key: &[u8]) -> Message {
        let mut m = Message::new(Header {
            version: 2,
            msg_type: MessageType::Dump as u8,
            satype: SATYPE_ESP,
            seq: 3,
            pid: 2,
            ..Header::default()
        });
        m.extensions.push(Extension::Sa(SaExt {
            spi: 0x1000,
            replay: 4,
            state: 1,
            auth: 0,
            encrypt: 12,
            flags: 0,
        }));
        for (kind, ip) in [
            (AddressKind::Src, "10.0.0.1:0"),
            (AddressKind::Dst, "10.0.0.2:0"),
        ] {
            m.extensions.push(Extension::Address(
                kind,
                AddressExt {
                    proto: 255,
                    prefixlen: 32,
                    addr: ip.parse().unwrap(),
                },
            ));
        }
        m.extensions
            .push(Extension::Key(KeyKind::Encrypt, KeyExt::new(key.to_vec())));
        m.extensions.push(Extension::Lifetime(
            LifetimeKind::Current,
            LifetimeExt {
                addtime: 1_704_067_200,
                ..LifetimeExt::default()
            },
        ));
        m
    }

    #[test]
    fn an_sa_has_typed_fields_and_no_key_unless_asked() {
        let m = sa_message(&[0xab; 16]);
        let hidden = serde_json::to_value(sa(&m, 1_704_067_210, JsonOptions::default())).unwrap();
        assert_eq!(hidden["version"], 1);
        assert_eq!(hidden["type"], "sa");
        assert_eq!(hidden["src"]["address"], "10.0.0.1");
        assert_eq!(hidden["src"]["prefix"], 32);
        assert_eq!(hidden["spi"], 4096);
        assert_eq!(hidden["protocol"], "esp");
        assert_eq!(hidden["encryption"]["name"], "aes-cbc");
        assert_eq!(hidden["encryption"]["key_bits"], 128);
        assert!(hidden["encryption"].get("key").is_none());
        assert_eq!(hidden["authentication"], serde_json::Value::Null);
        let cur = &hidden["lifetime"]["current"];
        assert_eq!(cur["created"]["utc"], "2024-01-01T00:00:00Z");
        assert_eq!(cur["created"]["epoch"], 1_704_067_200u64);
        assert_eq!(cur["age_seconds"], 10);
        assert_eq!(cur["last_used"], serde_json::Value::Null);
        let text = serde_json::to_string(&hidden).unwrap();
        assert!(!text.contains("abab"), "{text}");
        let shown = serde_json::to_value(sa(&m, 0, JsonOptions { show_keys: true })).unwrap();
        assert_eq!(shown["encryption"]["key"], "ab".repeat(16));
    }

    #[test]
    fn a_policy_lists_its_templates() {
        let mut m = Message::new(Header {
            msg_type: MessageType::SpdDump as u8,
            ..Header::default()
        });
        for (kind, ip) in [
            (AddressKind::Src, "10.0.0.0:0"),
            (AddressKind::Dst, "10.1.0.0:80"),
        ] {
            m.extensions.push(Extension::Address(
                kind,
                AddressExt {
                    proto: 6,
                    prefixlen: 16,
                    addr: ip.parse().unwrap(),
                },
            ));
        }
        m.extensions.push(Extension::Policy(PolicyExt {
            policy_type: 2,
            dir: 2,
            id: 9,
            priority: 0x8000_0000,
            requests: vec![IpsecRequestExt {
                proto: 50,
                mode: 2,
                level: 3,
                reqid: 7,
                endpoints: Some((
                    "192.0.2.1:0".parse().unwrap(),
                    "192.0.2.2:0".parse().unwrap(),
                )),
            }],
        }));
        let v = serde_json::to_value(policy(&m, &Protocols::parse("tcp 6 TCP\n"))).unwrap();
        assert_eq!(v["type"], "policy");
        assert_eq!(v["direction"], "out");
        assert_eq!(v["action"], "ipsec");
        assert_eq!(v["dst"]["port"], 80);
        assert_eq!(v["upper_protocol"], 6);
        assert_eq!(v["upper_protocol_name"], "tcp");
        assert_eq!(v["templates"][0]["protocol"], "esp");
        assert_eq!(v["templates"][0]["mode"], "tunnel");
        assert_eq!(v["templates"][0]["src"]["address"], "192.0.2.1");
        assert_eq!(v["templates"][0]["level"], "unique");
        assert_eq!(v["templates"][0]["reqid"], 7);
        assert_eq!(v["per_socket"], false);
    }

    #[test]
    fn an_array_streams_and_parses() {
        let mut out = Vec::new();
        let mut a = ArrayWriter::new();
        a.finish(&mut out).unwrap();
        assert_eq!(out, b"[]\n");
        let mut out = Vec::new();
        let mut a = ArrayWriter::new();
        let m = sa_message(&[1; 16]);
        for _ in 0..2 {
            a.entry(&mut out, &m, 0, JsonOptions::default(), &Protocols::empty())
                .unwrap();
        }
        a.finish(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn an_event_is_one_line() {
        let m = sa_message(&[1; 16]);
        let bytes = m.to_bytes();
        let mut out = Vec::new();
        write_event(
            &mut out,
            &bytes,
            5,
            JsonOptions::default(),
            &Protocols::empty(),
        )
        .unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event"], "dump");
        assert_eq!(v["sa"]["spi"], 4096);
        let mut out = Vec::new();
        write_event(
            &mut out,
            b"\x02",
            5,
            JsonOptions::default(),
            &Protocols::empty(),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event"], "unparsed");
    }
}
