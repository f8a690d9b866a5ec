//! Printing IR back as setkey statements.
//!
//! Every [`Operation`] becomes one canonical setkey statement on one line,
//! ending in `;`: numeric addresses (IPv6 with `%scope` when the scope is
//! not zero), ports in brackets, the upper layer as a number or `any`, SPIs
//! and keys in hex, and only the options that differ from setkey's
//! defaults. `rsetkey -n -v` prints these lines ([`statement_lines`]) so a
//! user sees what a script would send, one line per kernel message.
//!
//! # Round trip
//!
//! For every operation that [`check`] accepts, parsing the printed line
//! with [`Keys::Show`] and `rfc_mode: false` gives back exactly that
//! operation (`rfc_mode` must be off because an `in` policy and its `fwd`
//! twin are printed as two separate statements). Some IR has no setkey
//! spelling at all — a NAT-T SA that is not ESP, a flags word with bits no
//! option sets, an IPv6 flow label, a key the kernel's algorithm table
//! would refuse — and [`check`] says which part is the problem. Such
//! operations are still printed as closely as possible, for display, but
//! the line does not parse back to the same operation.
//!
//! # Keys
//!
//! Keys are secrets. [`Keys::Show`] prints them as `0x` hex (the only form
//! that re-parses); [`Keys::Mask`] prints `0x` followed by one `*` per hex
//! digit, which shows the key length but not the key. Masked lines do not
//! parse (`*` is not a character of the setkey language), which is
//! intended: they are for reading, not for feeding back.

use crate::ir::TaggedPolicy;
use std::fmt::{self, Write};
use std::net::{IpAddr, SocketAddr};

use super::sa_flags::*;
use super::{
    AuthAlgorithm, CompressionAlgorithm, DeleteAll, Direction, EncryptAlgorithm, IpsecMode,
    IpsecProtocol, IpsecRequest, Key, Keys, Level, NAT_T_PORT, Operation, PRIORITY_DEFAULT, Policy,
    PolicyAction, PolicyRequest, SaType, SecurityAssociation, SecurityContext, SelectorAddress,
    Statement, SupportedAlgorithms, UPPER_ANY,
};
use crate::algorithms::Form;

// The IR keeps the raw `sadb_sa_flags` word, so the printer has to map each
// bit back to the option or protocol spelling that produces it.
/// Every bit some spelling can set.
const FLAGS_KNOWN: u32 = FLAG_OLD
    | FLAG_IV4B
    | FLAG_DERIV
    | FLAG_CYCSEQ
    | FLAG_RAWCPI
    | FLAG_PRAND
    | FLAG_PZERO
    | FLAG_ESN;

/// Why an operation has no setkey spelling that parses back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unprintable(pub &'static str);

impl fmt::Display for Unprintable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Unprintable {}

/// An operation with a key policy, printable with `{}`.
///
/// `format!("{}", display(op, Keys::Mask))` is the line [`operation`]
/// appends, without the newline.
#[derive(Debug, Clone, Copy)]
pub struct Printed<'a> {
    op: &'a Operation,
    keys: Keys,
}

impl fmt::Display for Printed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_operation(f, self.op, self.keys)
    }
}

/// Wraps an operation for `{}` formatting as one setkey statement.
pub fn display(op: &Operation, keys: Keys) -> Printed<'_> {
    Printed { op, keys }
}

/// Appends one operation as one canonical setkey statement (one line,
/// ending in `;`, no newline).
pub fn operation(op: &Operation, keys: Keys, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = write_operation(out, op, keys);
}

/// A whole script: every operation on its own line, each line ending in a
/// newline.
///
/// Parsing stops after `exit;`, so operations after an
/// [`Operation::Exit`] are printed but would not be read back.
pub fn script(ops: &[Operation], keys: Keys) -> String {
    let mut out = String::new();
    for op in ops {
        operation(op, keys, &mut out);
        out.push('\n');
    }
    out
}

/// What `rsetkey -n -v` shows for a parsed script: one line per kernel
/// operation (an `in` policy in RFC mode gives two lines, its own and its
/// `fwd` twin's), in the order they would be sent.
pub fn statement_lines(statements: &[Statement], keys: Keys) -> String {
    let mut out = String::new();
    for op in statements.iter().flat_map(|s| &s.operations) {
        operation(op, keys, &mut out);
        out.push('\n');
    }
    out
}

/// Whether `op` prints as a statement that parses back to exactly `op`
/// (see [`check`]).
pub fn printable(op: &Operation, supported: &SupportedAlgorithms) -> bool {
    check(op, supported).is_ok()
}

/// Checks that `op` has a setkey spelling that parses back to it when the
/// kernel offers `supported` (key lengths are checked against that table
/// while parsing, so the answer depends on it).
///
/// The restrictions, all consequences of what setkey's grammar can say:
///
/// * addresses: source and destination of one family; no IPv6 flow label;
///   `deleteall` with exactly one source and one destination address (the
///   IR holds the resolved lists, a numeric address gives one);
/// * SA type and flags: only the bits some spelling sets (0x01 `-old`
///   protocols, only for ESP/AH, without NAT-T and without `-r`; 0x10
///   `des-32iv` with an old protocol; 0x20 `des-deriv` without; 0x40 unless
///   `nocyclic-seq`; 0x80 `-R` with `-C`; 0x100, 0x200 padding);
/// * NAT-T only for ESP, with its ports equal to the address ports (4500
///   for port 0);
/// * the replay window sent is the one written modulo 256 (`-r` is
///   printed as written, `replay` follows from it);
/// * lifetimes in seconds below 2^32 (setkey reads them into 32 bits);
/// * algorithms: `add` takes `-E` (with or without `-A`), `-A` alone, or
///   `-C`, and the other SA statements none; `-E null` has an empty key, `-A null` none,
///   every other key is present and of a length `supported` accepts;
/// * security contexts: DOI not 0 (0 means "no context"), text without `"`
///   or control characters;
/// * policy requests: mode transport or tunnel; a reqid only with level
///   `unique`; in an `ipsec` policy, tunnel requests have end points and end
///   points are of one family.
///
/// Priorities, prefixes, ports, upper layers, SPIs, reqids and the replay
/// windows written have no restrictions.
pub fn check(op: &Operation, supported: &SupportedAlgorithms) -> Result<(), Unprintable> {
    match op {
        Operation::Flush(_)
        | Operation::Dump(_)
        | Operation::SpdFlush
        | Operation::SpdDump
        | Operation::Exit => Ok(()),
        Operation::Add(sa) => check_sa(sa, true, supported),
        Operation::Get(sa) | Operation::Delete(sa) | Operation::GetSpi(sa) => {
            check_sa(sa, false, supported)
        }
        Operation::DeleteAll(d) => {
            if d.src.len() != 1 || d.dst.len() != 1 {
                return Err(Unprintable(
                    "deleteall needs exactly one source and one destination address",
                ));
            }
            Ok(())
        }
        Operation::SpdAdd(p) | Operation::SpdUpdate(p) | Operation::SpdDelete(p) => {
            check_policy_request(p)
        }
        Operation::SpdAddTagged(t) | Operation::SpdUpdateTagged(t) => require(
            !t.tag.contains('"') && !t.tag.contains('\n'),
            "a tag with a quote or a newline cannot be written as one quoted string",
        ),
    }
}

/// Fails unless `ok`.
fn require(ok: bool, why: &'static str) -> Result<(), Unprintable> {
    if ok { Ok(()) } else { Err(Unprintable(why)) }
}

/// Both addresses of one family, no flow labels.
fn check_pair(a: &SocketAddr, b: &SocketAddr) -> Result<(), Unprintable> {
    require(
        a.is_ipv4() == b.is_ipv4(),
        "source and destination are of different address families",
    )?;
    require(
        flowinfo(a) == 0 && flowinfo(b) == 0,
        "an IPv6 flow label cannot be written",
    )
}

fn flowinfo(a: &SocketAddr) -> u32 {
    match a {
        SocketAddr::V4(_) => 0,
        SocketAddr::V6(v6) => v6.flowinfo(),
    }
}

fn check_context(c: &Option<SecurityContext>) -> Result<(), Unprintable> {
    let Some(c) = c else { return Ok(()) };
    require(c.doi != 0, "a security context with DOI 0 is read as none")?;
    let text = std::str::from_utf8(&c.context)
        .map_err(|_| Unprintable("a security context that is not UTF-8"))?;
    require(
        !text.chars().any(|ch| ch == '"' || ch.is_control()),
        "a security context containing `\"` or a control character",
    )
}

/// Whether a key of `key` bits passes the parser's check for `range`.
fn key_fits(range: Option<(u16, u16)>, key: &Key) -> bool {
    range.is_some_and(|(min, max)| (usize::from(min)..=usize::from(max)).contains(&key.bits()))
}

fn check_sa(
    sa: &SecurityAssociation,
    add: bool,
    supported: &SupportedAlgorithms,
) -> Result<(), Unprintable> {
    check_pair(&sa.src, &sa.dst)?;
    let f = sa.flags;
    let old = f & FLAG_OLD != 0;
    require(f & !FLAGS_KNOWN == 0, "flag bits no option sets")?;
    if old {
        require(
            matches!(sa.satype, SaType::Esp | SaType::Ah) && sa.nat.is_none(),
            "the old-protocol flag (0x01) exists only as esp-old / ah-old",
        )?;
        require(
            sa.replay_requested == 0,
            "esp-old / ah-old cannot have a replay window",
        )?;
    }
    require(
        u64::from(sa.replay) == sa.replay_requested % 256,
        "the replay window sent is the one written modulo 256",
    )?;
    if let Some(nat) = &sa.nat {
        require(sa.satype == SaType::Esp, "NAT-T (esp-udp) is always ESP")?;
        let nz = |p: u16| if p == 0 { NAT_T_PORT } else { p };
        require(
            nat.sport == nz(sa.src.port()) && nat.dport == nz(sa.dst.port()),
            "NAT-T ports are the address ports (4500 for none)",
        )?;
    }
    require(
        sa.hard.seconds <= u64::from(u32::MAX) && sa.soft.seconds <= u64::from(u32::MAX),
        "lifetimes in seconds are read into 32 bits",
    )?;
    check_context(&sa.context)?;
    let t = &sa.transforms;
    if !add {
        require(
            t.encrypt.is_none() && t.auth.is_none() && t.compression.is_none(),
            "only add takes algorithms",
        )?;
        return require(
            f & (FLAG_IV4B | FLAG_DERIV | FLAG_RAWCPI) == 0,
            "algorithm flags (0x10, 0x20, 0x80) need an add",
        );
    }
    match (&t.encrypt, &t.auth, &t.compression) {
        (Some(_), _, None) | (None, Some(_), None) | (None, None, Some(_)) => {}
        (None, None, None) => return Err(Unprintable("add needs -E, -A or -C")),
        _ => return Err(Unprintable("-C cannot be combined with -E or -A")),
    }
    require(
        f & FLAG_RAWCPI == 0 || t.compression.is_some(),
        "the raw-CPI flag (0x80) exists only as -R after -C",
    )?;
    if f & (FLAG_IV4B | FLAG_DERIV) != 0 {
        require(
            matches!(t.encrypt, Some((EncryptAlgorithm::DesCbc, _))),
            "flags 0x10 / 0x20 exist only as des-32iv / des-deriv",
        )?;
        require(
            (f & FLAG_IV4B == 0 || old) && (f & FLAG_DERIV == 0 || !old),
            "des-32iv needs esp-old / ah-old, des-deriv must not have it",
        )?;
    }
    if let Some((alg, key)) = &t.encrypt {
        require(
            *alg != EncryptAlgorithm::Null || key.as_bytes().is_empty(),
            "-E null has no key",
        )?;
        require(
            key_fits(supported.encrypt_bits(*alg), key),
            "the kernel's table refuses this encryption key length",
        )?;
    }
    match &t.auth {
        Some((AuthAlgorithm::Null, key)) => require(key.is_none(), "-A null has no key"),
        Some((alg, Some(key))) => require(
            key_fits(supported.auth_bits(*alg), key),
            "the kernel's table refuses this authentication key length",
        ),
        Some((_, None)) => Err(Unprintable("an authentication algorithm without key")),
        None => Ok(()),
    }
}

fn check_policy_request(p: &PolicyRequest) -> Result<(), Unprintable> {
    check_pair(&p.src.addr, &p.dst.addr)?;
    check_context(&p.context)?;
    let ipsec = p.policy.action == PolicyAction::Ipsec;
    for r in &p.policy.requests {
        require(
            r.mode != IpsecMode::Any,
            "a request's mode is transport or tunnel",
        )?;
        require(
            r.reqid == 0 || r.level == Level::Unique,
            "a request reqid exists only as unique:N",
        )?;
        match r.endpoints.as_deref() {
            Some((s, d)) => {
                require(
                    flowinfo(s) == 0 && flowinfo(d) == 0,
                    "an IPv6 flow label cannot be written",
                )?;
                require(
                    !ipsec || s.is_ipv4() == d.is_ipv4(),
                    "an ipsec request's end points are of one family",
                )?;
            }
            None => require(
                !ipsec || r.mode == IpsecMode::Transport,
                "an ipsec tunnel request needs end points",
            )?,
        }
    }
    Ok(())
}

/// The whole printer.
fn write_operation<W: Write + ?Sized>(w: &mut W, op: &Operation, keys: Keys) -> fmt::Result {
    match op {
        Operation::Flush(t) => write!(w, "flush{};", satype_suffix(*t)),
        Operation::Dump(t) => write!(w, "dump{};", satype_suffix(*t)),
        Operation::SpdFlush => w.write_str("spdflush;"),
        Operation::SpdDump => w.write_str("spddump;"),
        Operation::Exit => w.write_str("exit;"),
        Operation::Add(sa) => write_sa(w, "add", sa, keys),
        Operation::Get(sa) => write_sa(w, "get", sa, keys),
        Operation::Delete(sa) => write_sa(w, "delete", sa, keys),
        Operation::GetSpi(sa) => write_sa(w, "getspi", sa, keys),
        Operation::DeleteAll(d) => write_deleteall(w, d),
        Operation::SpdAdd(p) => write_policy_request(w, "spdadd", p),
        Operation::SpdUpdate(p) => write_policy_request(w, "spdupdate", p),
        Operation::SpdDelete(p) => write_policy_request(w, "spddelete", p),
        Operation::SpdAddTagged(t) => write_tagged(w, "spdadd", t),
        Operation::SpdUpdateTagged(t) => write_tagged(w, "spdupdate", t),
    }
}

/// ` esp`, ` ah`, ` ipcomp` or nothing (no protocol = SA type 0).
fn satype_suffix(t: SaType) -> &'static str {
    match t {
        SaType::Unspec => "",
        SaType::Ah => " ah",
        SaType::Esp => " esp",
        SaType::IpComp => " ipcomp",
    }
}

/// A numeric host: the address, plus `%scope` for a scoped IPv6 address.
struct Host<'a>(&'a SocketAddr);

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SocketAddr::V4(a) => write!(f, "{}", a.ip()),
            SocketAddr::V6(a) if a.scope_id() != 0 => write!(f, "{}%{}", a.ip(), a.scope_id()),
            SocketAddr::V6(a) => write!(f, "{}", a.ip()),
        }
    }
}

/// `[port]` when the port is not 0 (no brackets = port 0 = `[any]`).
struct Port(u16);

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            Ok(())
        } else {
            write!(f, "[{}]", self.0)
        }
    }
}

/// A key as the parser reads it back, or masked.
struct KeyText<'a>(&'a Key, Keys);

impl fmt::Display for KeyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.as_bytes();
        if bytes.is_empty() {
            // `0x` alone is not a hex token; an empty quoted string is the
            // one spelling of an empty key.
            return f.write_str("\"\"");
        }
        f.write_str("0x")?;
        match self.1 {
            Keys::Show => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
            Keys::Mask => bytes.iter().try_for_each(|_| f.write_str("**")),
        }
    }
}

/// ` -ctx DOI ALG "text"`.
fn write_context<W: Write + ?Sized>(w: &mut W, c: &Option<SecurityContext>) -> fmt::Result {
    match c {
        Some(c) => write!(
            w,
            " -ctx {} {} \"{}\"",
            c.doi,
            c.alg,
            String::from_utf8_lossy(&c.context)
        ),
        None => Ok(()),
    }
}

/// The name an `-E` algorithm is printed under: des-cbc with the KAME
/// flags of `des-32iv` / `des-deriv` is printed as that spelling.
fn enc_name(alg: EncryptAlgorithm, flags: u32) -> &'static str {
    let row = alg.row();
    let flagged = if flags & FLAG_IV4B != 0 {
        Some(Form::Iv32)
    } else if flags & FLAG_DERIV != 0 {
        Some(Form::Deriv)
    } else {
        None
    };
    flagged
        .and_then(|form| row.spelling(form))
        .map(|s| s.text)
        .or(row.printed_name())
        .unwrap_or_default()
}

fn auth_name(alg: AuthAlgorithm) -> &'static str {
    alg.row().printed_name().unwrap_or_default()
}

fn comp_name(alg: CompressionAlgorithm) -> &'static str {
    alg.row().printed_name().unwrap_or_default()
}

/// `add`/`get`/`delete`/`getspi`.
fn write_sa<W: Write + ?Sized>(
    w: &mut W,
    cmd: &str,
    sa: &SecurityAssociation,
    keys: Keys,
) -> fmt::Result {
    write!(
        w,
        "{cmd} {}{} {}{}",
        Host(&sa.src),
        Port(sa.src.port()),
        Host(&sa.dst),
        Port(sa.dst.port())
    )?;
    let old = sa.flags & FLAG_OLD != 0;
    match (sa.satype, &sa.nat) {
        (SaType::Esp, Some(nat)) => {
            w.write_str(" esp-udp")?;
            if let Some(oa) = nat.original {
                write!(w, " {oa}")?;
            }
        }
        (SaType::Esp, None) if old => w.write_str(" esp-old")?,
        (SaType::Ah, _) if old => w.write_str(" ah-old")?,
        (t, _) => w.write_str(satype_suffix(t))?,
    }
    write!(w, " 0x{:08x}", sa.spi)?;
    match sa.mode {
        IpsecMode::Any => {}
        IpsecMode::Transport => w.write_str(" -m transport")?,
        IpsecMode::Tunnel => w.write_str(" -m tunnel")?,
    }
    if sa.reqid != 0 {
        write!(w, " -u {}", sa.reqid)?;
    }
    // As written: `-r 300` and `-r 44` send the same window, but only the
    // first reads back with the same requested value.
    if sa.replay_requested != 0 {
        write!(w, " -r {}", sa.replay_requested)?;
    }
    if sa.flags & FLAG_PRAND != 0 {
        w.write_str(" -f random-pad")?;
    }
    if sa.flags & FLAG_PZERO != 0 {
        w.write_str(" -f zero-pad")?;
    }
    if sa.flags & FLAG_CYCSEQ == 0 {
        w.write_str(" -f nocyclic-seq")?;
    }
    if sa.flags & FLAG_ESN != 0 {
        w.write_str(" -f esn")?;
    }
    for (flag, v) in [
        ("-lh", sa.hard.seconds),
        ("-ls", sa.soft.seconds),
        ("-bh", sa.hard.bytes),
        ("-bs", sa.soft.bytes),
    ] {
        if v != 0 {
            write!(w, " {flag} {v}")?;
        }
    }
    write_context(w, &sa.context)?;
    let t = &sa.transforms;
    if let Some((alg, key)) = &t.encrypt {
        write!(w, " -E {}", enc_name(*alg, sa.flags))?;
        // `null` takes no key; a non-empty one (unprintable IR) is still
        // shown rather than hidden.
        if *alg != EncryptAlgorithm::Null || !key.as_bytes().is_empty() {
            write!(w, " {}", KeyText(key, keys))?;
        }
    }
    if let Some((alg, key)) = &t.auth {
        write!(w, " -A {}", auth_name(*alg))?;
        if let Some(key) = key {
            write!(w, " {}", KeyText(key, keys))?;
        }
    }
    if let Some(alg) = t.compression {
        write!(w, " -C {}", comp_name(alg))?;
    }
    if sa.flags & FLAG_RAWCPI != 0 {
        w.write_str(" -R")?;
    }
    w.write_str(";")
}

fn write_deleteall<W: Write + ?Sized>(w: &mut W, d: &DeleteAll) -> fmt::Result {
    w.write_str("deleteall")?;
    // One address per side is the printable case; more are listed (for
    // display) although setkey reads one word per side.
    for side in [&d.src, &d.dst] {
        let words: Vec<String> = side.iter().map(IpAddr::to_string).collect();
        write!(w, " {}", words.join(","))?;
    }
    write!(w, "{};", satype_suffix(d.satype))
}

/// Whether ports of this upper-layer protocol are written as a setkey
/// "misc" spec (ICMP, ICMPv6 and MH `type,code`; GRE key), which is how
/// users write them and what `spddump` shows.
fn misc_spec(upper: u8, sport: u16, dport: u16) -> Option<String> {
    if sport == 0 && dport == 0 {
        return None;
    }
    match upper {
        1 | 58 | 135 => Some(format!("{sport},{dport}")),
        // The `N,` form: N >> 16 is the source half, N & 0xffff the other.
        47 => Some(format!("{},", (u32::from(sport) << 16) | u32::from(dport))),
        _ => None,
    }
}

/// One selector side: `addr[/prefix][[port]]`.
fn write_selector<W: Write + ?Sized>(w: &mut W, s: &SelectorAddress, port: bool) -> fmt::Result {
    write!(w, "{}", Host(&s.addr))?;
    let full = if s.addr.is_ipv4() { 32 } else { 128 };
    if s.prefixlen != full {
        write!(w, "/{}", s.prefixlen)?;
    }
    if port {
        write!(w, "{}", Port(s.addr.port()))?;
    }
    Ok(())
}

/// `spdadd`/`spdupdate`/`spddelete`.
fn write_policy_request<W: Write + ?Sized>(w: &mut W, cmd: &str, p: &PolicyRequest) -> fmt::Result {
    let misc = misc_spec(p.upper, p.src.addr.port(), p.dst.addr.port());
    write!(w, "{cmd} ")?;
    write_selector(w, &p.src, misc.is_none())?;
    w.write_char(' ')?;
    write_selector(w, &p.dst, misc.is_none())?;
    if p.upper == UPPER_ANY {
        w.write_str(" any")?;
    } else {
        write!(w, " {}", p.upper)?;
    }
    if let Some(m) = misc {
        write!(w, " {m}")?;
    }
    write_context(w, &p.context)?;
    w.write_str(" -P ")?;
    write_policy(w, &p.policy)?;
    w.write_str(";")
}

/// `spdadd tagged "NAME" -P POLICY;`.
fn write_tagged<W: Write + ?Sized>(w: &mut W, cmd: &str, t: &TaggedPolicy) -> fmt::Result {
    write!(w, "{cmd} tagged \"{}\" -P ", t.tag)?;
    write_policy(w, &t.policy)?;
    w.write_str(";")
}

/// The `-P` text.
fn write_policy<W: Write + ?Sized>(w: &mut W, p: &Policy) -> fmt::Result {
    w.write_str(match p.direction {
        Direction::In => "in",
        Direction::Out => "out",
        Direction::Fwd => "fwd",
    })?;
    // A bare direction is exactly "discard, priority 0, no requests".
    if p.action == PolicyAction::Discard && p.priority == 0 && p.requests.is_empty() {
        return Ok(());
    }
    if p.priority != PRIORITY_DEFAULT {
        write!(w, " {}", crate::priority::spelling(p.priority))?;
    }
    w.write_str(match p.action {
        PolicyAction::Discard => " discard",
        PolicyAction::None => " none",
        PolicyAction::Ipsec => " ipsec",
        PolicyAction::Entrust => " entrust",
        PolicyAction::Bypass => " bypass",
    })?;
    for r in &p.requests {
        w.write_char(' ')?;
        write_request(w, r)?;
    }
    Ok(())
}

/// `PROTO/MODE/[ENDPOINTS]/LEVEL`.
fn write_request<W: Write + ?Sized>(w: &mut W, r: &IpsecRequest) -> fmt::Result {
    w.write_str(match r.protocol {
        IpsecProtocol::Esp => "esp/",
        IpsecProtocol::Ah => "ah/",
        IpsecProtocol::IpComp => "ipcomp/",
    })?;
    // `any` has no spelling in a request; printed for display only.
    w.write_str(match r.mode {
        IpsecMode::Transport => "transport/",
        IpsecMode::Tunnel => "tunnel/",
        IpsecMode::Any => "any/",
    })?;
    if let Some((s, d)) = r.endpoints.as_deref() {
        if s.port() == 0 && d.port() == 0 {
            write!(w, "{}-{}", Host(s), Host(d))?;
        } else {
            // Ports come in pairs: `IP[N]-IP[N]`.
            write!(w, "{}[{}]-{}[{}]", Host(s), s.port(), Host(d), d.port())?;
        }
    }
    match (r.level, r.reqid) {
        (Level::Default, _) => w.write_str("/default"),
        (Level::Use, _) => w.write_str("/use"),
        (Level::Require, _) => w.write_str("/require"),
        (Level::Unique, 0) => w.write_str("/unique"),
        (Level::Unique, n) => write!(w, "/unique:{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Lifetime, NatTraversal, Transforms};
    use crate::parse::{FileNames, Options, parse_script_with};

    fn opts() -> Options {
        Options {
            rfc_mode: false,
            ..Options::default()
        }
    }

    fn parse_ops(text: &str) -> Vec<Operation> {
        parse_script_with(text, &opts(), &FileNames::default())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .into_iter()
            .flat_map(|s| s.operations)
            .collect()
    }

    fn line(op: &Operation) -> String {
        display(op, Keys::Show).to_string()
    }

    /// Parses `text`, prints every operation, and checks the printed text
    /// parses back to the same operations; returns the printed lines.
    fn round(text: &str) -> Vec<String> {
        let ops = parse_ops(text);
        for op in &ops {
            assert_eq!(
                check(op, &opts().supported),
                Ok(()),
                "{}",
                display(op, Keys::Show)
            );
        }
        let printed = script(&ops, Keys::Show);
        assert_eq!(parse_ops(&printed), ops, "{printed}");
        ops.iter().map(line).collect()
    }

    fn sa() -> SecurityAssociation {
        SecurityAssociation {
            satype: SaType::Esp,
            src: "10.0.0.1:0".parse().unwrap(),
            dst: "10.0.0.2:0".parse().unwrap(),
            spi: 0x1000,
            mode: IpsecMode::Any,
            reqid: 0,
            replay: 0,
            replay_requested: 0,
            wide_replay: None,
            flags: FLAG_CYCSEQ,
            transforms: Transforms {
                encrypt: Some((EncryptAlgorithm::AesCbc, Key::new(vec![0x11; 16]))),
                auth: None,
                compression: None,
            },
            hard: Lifetime::default(),
            soft: Lifetime::default(),
            context: None,
            nat: None,
        }
    }

    #[test]
    fn sa_lines() {
        assert_eq!(
            round(
                "add 10.0.0.1 10.0.0.2 esp 4096 -m tunnel -u 5 \
                 -E aes-cbc 0x00112233445566778899aabbccddeeff -A hmac-sha1 \"12345678901234567890\";"
            ),
            ["add 10.0.0.1 10.0.0.2 esp 0x00001000 -m tunnel -u 5 \
              -E aes-cbc 0x00112233445566778899aabbccddeeff \
              -A hmac-sha1 0x3132333435363738393031323334353637383930;"]
        );
        assert_eq!(
            round(
                "add ::1[500] fe80::1%3 esp-udp 192.0.2.9 7 -r 40 -f random-pad -f nocyclic-seq -lh 10 -bs 99 -E null -A null;"
            ),
            [
                "add ::1[500] fe80::1%3 esp-udp 192.0.2.9 0x00000007 -r 40 -f random-pad \
              -f nocyclic-seq -lh 10 -bs 99 -E null -A null;"
            ]
        );
        assert_eq!(
            round(
                "add 1.1.1.1 2.2.2.2 esp-old 1 -E des-32iv \"8bytekey\"; add 1.1.1.1 2.2.2.2 ah 2 -E des-deriv 0x0102030405060708; add 1.1.1.1 2.2.2.2 ipcomp 3 -C deflate -R;"
            ),
            [
                "add 1.1.1.1 2.2.2.2 esp-old 0x00000001 -E des-32iv 0x38627974656b6579;",
                "add 1.1.1.1 2.2.2.2 ah 0x00000002 -E des-deriv 0x0102030405060708;",
                "add 1.1.1.1 2.2.2.2 ipcomp 0x00000003 -C deflate -R;",
            ]
        );
        assert_eq!(
            round(
                "get 1.1.1.1 2.2.2.2 ah-old 5 -m tunnel -ctx 1 2 \"a b\"; delete 1.1.1.1 2.2.2.2 0x0 -f zero-pad; getspi 1.1.1.1 2.2.2.2 esp 9 -u 3;"
            ),
            [
                "get 1.1.1.1 2.2.2.2 ah-old 0x00000005 -m tunnel -ctx 1 2 \"a b\";",
                "delete 1.1.1.1 2.2.2.2 0x00000000 -f zero-pad;",
                "getspi 1.1.1.1 2.2.2.2 esp 0x00000009 -u 3;",
            ]
        );
    }

    #[test]
    fn masked_keys_keep_their_length() {
        let mut s = sa();
        s.transforms.auth = Some((AuthAlgorithm::HmacMd5, Some(Key::new(vec![7; 16]))));
        let text = display(&Operation::Add(Box::new(s)), Keys::Mask).to_string();
        assert_eq!(
            text,
            format!(
                "add 10.0.0.1 10.0.0.2 esp 0x00001000 -E aes-cbc 0x{} -A hmac-md5 0x{};",
                "*".repeat(32),
                "*".repeat(32)
            )
        );
        assert!(!text.contains("11"));
    }

    #[test]
    fn other_statements() {
        assert_eq!(
            round(
                "flush; flush esp; dump ah; dump ipcomp; spdflush; spddump; deleteall 1.1.1.1 ::2 tcp; deleteall 1.1.1.1 1.1.1.2 esp; exit;"
            ),
            [
                "flush;",
                "flush esp;",
                "dump ah;",
                "dump ipcomp;",
                "spdflush;",
                "spddump;",
                "deleteall 1.1.1.1 ::2;",
                "deleteall 1.1.1.1 1.1.1.2 esp;",
                "exit;"
            ]
        );
    }

    #[test]
    fn policy_lines() {
        assert_eq!(
            round(
                "spdadd 10.0.0.0/24[any] 10.0.1.0/24[80] 6 -P out prio def + 10 ipsec \
                 esp/tunnel/10.0.0.1-10.0.0.2/require;"
            ),
            [
                "spdadd 10.0.0.0/24 10.0.1.0/24[80] 6 -P out prio def + 10 ipsec \
              esp/tunnel/10.0.0.1-10.0.0.2/require;"
            ]
        );
        assert_eq!(
            round(
                "spdupdate fe80::1%2/64 ::/0 58 135,0 -ctx 3 4 \"c\" -P in prio 2147483648 none \
                 esp/tunnel//use ah/transport/1.2.3.4[1]-::5[0]/unique:9 ipcomp/transport/any-me;"
            ),
            [
                "spdupdate fe80::1%2/64 ::/0 58 135,0 -ctx 3 4 \"c\" -P in prio high + 1073741824 none \
              esp/tunnel//use ah/transport/1.2.3.4[1]-::5[0]/unique:9 ipcomp/transport//default;"
            ]
        );
        assert_eq!(
            round(
                "spddelete 1.1.1.1 2.2.2.2 47 65537, -P fwd; spdadd 1.1.1.1 2.2.2.2 47 1.2.3.4 -P out prio low - 7 entrust; spdadd 1.1.1.1[9] 2.2.2.2 1 -P out prio -2147483647 bypass esp/transport//unique;"
            ),
            [
                "spddelete 1.1.1.1 2.2.2.2 47 65537, -P fwd;",
                "spdadd 1.1.1.1 2.2.2.2 47 16909060, -P out prio low - 7 entrust;",
                "spdadd 1.1.1.1 2.2.2.2 1 9,0 -P out prio low - 1073741823 bypass esp/transport//unique;",
            ]
        );
    }

    #[test]
    fn every_priority_is_reachable() {
        for p in [
            0,
            1,
            0x3FFF_FFFF,
            0x4000_0000,
            0x5FFF_FFFF,
            0x6000_0000,
            0x7FFF_FFFF,
            0x8000_0000,
            0x8000_0001,
            0xBFFF_FFFF,
            0xC000_0000,
            0xFFFF_FFFE,
            u32::MAX,
        ] {
            let op = Operation::SpdAdd(PolicyRequest {
                src: SelectorAddress {
                    addr: "1.1.1.1:0".parse().unwrap(),
                    prefixlen: 32,
                },
                dst: SelectorAddress {
                    addr: "1.1.1.2:0".parse().unwrap(),
                    prefixlen: 32,
                },
                upper: UPPER_ANY,
                policy: Policy {
                    direction: Direction::Out,
                    action: PolicyAction::None,
                    priority: p,
                    requests: Default::default(),
                },
                context: None,
            });
            assert!(
                !crate::priority::spelling(p).starts_with("prio -"),
                "{p:#x}"
            );
            assert_eq!(parse_ops(&line(&op)), [op], "{p:#x}");
        }
    }

    #[test]
    fn unprintable_ir_is_named() {
        let sup = SupportedAlgorithms::linux_default();
        let mut s = sa();
        s.satype = SaType::Unspec;
        s.nat = Some(NatTraversal {
            sport: NAT_T_PORT,
            dport: NAT_T_PORT,
            original: None,
        });
        assert!(!printable(&Operation::Add(Box::new(s.clone())), &sup));
        s.satype = SaType::Esp;
        assert!(printable(&Operation::Add(Box::new(s.clone())), &sup));
        s.nat = Some(NatTraversal {
            sport: 1,
            dport: NAT_T_PORT,
            original: None,
        });
        assert!(!printable(&Operation::Add(Box::new(s.clone())), &sup));
        let mut s = sa();
        s.flags |= 0x1000;
        assert!(!printable(&Operation::Add(Box::new(s)), &sup));
        let mut s = sa();
        s.transforms.encrypt = Some((EncryptAlgorithm::AesCbc, Key::new(vec![1; 3])));
        assert!(!printable(&Operation::Add(Box::new(s.clone())), &sup));
        assert!(!printable(&Operation::Get(Box::new(sa())), &sup));
        s.src = "[::1]:0".parse().unwrap();
        assert!(check(&Operation::Add(Box::new(s)), &sup).is_err());
        let d = Operation::DeleteAll(DeleteAll {
            satype: SaType::Esp,
            src: vec![],
            dst: vec!["1.1.1.1".parse().unwrap()],
        });
        assert!(!printable(&d, &sup));
        // The window sent must follow from the one written.
        let mut s = sa();
        s.replay = 44;
        assert!(!printable(&Operation::Add(Box::new(s.clone())), &sup));
        s.replay_requested = 300;
        assert!(printable(&Operation::Add(Box::new(s)), &sup));
    }

    #[test]
    fn replay_windows_print_as_written() {
        for (written, sent) in [(44u64, 44u8), (255, 255), (0, 0)] {
            let printed = round(&format!(
                "add 10.0.0.1 10.0.0.2 esp 1 -r {written} -E aes-cbc \"0123456789abcdef\";"
            ));
            assert!(
                printed[0].contains(&format!(" -r {written} ")) || written == 0,
                "{printed:?}"
            );
            let ops = parse_ops(&printed[0]);
            let Operation::Add(sa) = &ops[0] else {
                panic!("{ops:?}")
            };
            assert_eq!((sa.replay, sa.replay_requested), (sent, written));
        }
    }

    #[test]
    fn statement_lines_follow_operations() {
        let st = parse_script_with(
            "spdadd 1.1.1.1 2.2.2.2 any -P in ipsec esp/transport//unique:4; flush;",
            &Options::default(),
            &FileNames::default(),
        )
        .unwrap();
        assert_eq!(
            statement_lines(&st, Keys::Mask),
            "spdadd 1.1.1.1 2.2.2.2 any -P in ipsec esp/transport//unique:4;\n\
             spdadd 1.1.1.1 2.2.2.2 any -P fwd ipsec esp/transport//require;\n\
             flush;\n"
        );
    }
}
