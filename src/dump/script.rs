//! `--as-script`: the SAD or SPD as setkey statements that rebuild it.
//!
//! Made from the PF_KEY messages of a dump (never from the parser or the
//! IR): `add` lines with every option an SA has, keys included (the point
//! is to reload them), `getspi` for larval SAs, and `spdadd` lines with
//! priority, level, unique ids and tunnel end points. `rsetkey -f` of the
//! output on an empty kernel gives the same `-D` / `-DP` again, apart from
//! what the kernel assigns (time stamps, counters, policy indexes,
//! automatic request ids).
//!
//! The kernel lists entries newest first; the script adds them oldest
//! first, so the entries are kept (SAs as finished statements in wiped
//! buffers) until the last one has arrived.
//!
//! Scripts are read in RFC mode by default, where `spdadd ... -P in` also
//! adds a `fwd` twin. An `in` policy whose `fwd` twin is in the dump is
//! therefore written once; one without it is followed by an `spddelete` of
//! the twin; and when a `fwd` policy of the same selector already exists,
//! the `in` policy goes in with `spdupdate` and the `fwd` policy is put
//! back after it (the dump then lists that pair the other way round).
//!
//! What the dialect cannot say (a dying SA, flags no option sets, a
//! per-socket policy, policy lifetimes, ...) is said in a `#` comment
//! line, never dropped silently.

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;

/// `-f esn`: FreeBSD's `SADB_X_SAFLAGS_ESN`, the flag rsetkey's XFRM
/// kernel reports extended sequence numbers with (the script dialect's
/// option, so the dump reads the wire value, not the parser's constant).
const SAFLAGS_ESN: u32 = 0x400;

use zeroize::Zeroizing;

use super::addr::ip_string;
use super::json::{LEVELS, template_protocol};
// ICMP, ICMPv6 and MH: type and code in the port fields; GRE: the key.
use super::policy::{PROTO_GRE, PROTO_ICMP, PROTO_ICMPV6, PROTO_MH};
use super::sa::MODES;
use crate::algorithms::{self, Kind};
use crate::pfkey::wire::{
    AddressExt, AddressKind, IpsecRequestExt, KeyExt, KeyKind, LifetimeKind, Message, MessageType,
    NatTPortKind, PolicyExt, SATYPE_AH, SATYPE_ESP, SATYPE_IPCOMP, SecCtxExt, aalg, ealg, ipsec,
    sa_state,
};

/// How a script prints.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptOptions {
    /// `--no-keys`: keys as `0x` and one `*` per hex digit; the script then
    /// shows what would be loaded, but does not load.
    pub hide_keys: bool,
    /// `-a`: dead SAs too (as comments: they cannot be re-created).
    pub show_dead: bool,
}

/// Collects a dump's entries and writes them as a script, oldest first.
#[derive(Default)]
pub struct ScriptWriter {
    opts: ScriptOptions,
    /// SA statements (with their comment lines), newest first.
    sas: Vec<Zeroizing<String>>,
    /// Policies, newest first.
    policies: Vec<PolicyEntry>,
    /// What was said about the dump itself (an empty table, an error).
    notes: Vec<String>,
}

/// A policy as the script needs it.
struct PolicyEntry {
    /// Comment lines before the statement.
    comments: Vec<String>,
    /// The statement's form, or `None` when the dialect cannot say it.
    body: Option<PolicyText>,
    /// What the dump said, for a policy that cannot be said.
    unsaid: String,
}

struct PolicyText {
    /// `src dst upper [misc] [-ctx ...]`.
    selector: String,
    /// `in`, `out`, `fwd`.
    dir: u8,
    /// What follows the direction: `prio ... ipsec esp/...`.
    rest: String,
    /// For an `in` policy: the `rest` of the `fwd` twin RFC mode adds.
    twin_rest: String,
}

impl ScriptWriter {
    /// An empty script.
    pub fn new(opts: ScriptOptions) -> ScriptWriter {
        ScriptWriter {
            opts,
            ..ScriptWriter::default()
        }
    }

    /// Takes one reply of a dump (`SADB_DUMP` / `SADB_X_SPDDUMP`).
    pub fn reply(&mut self, msg: &Message) {
        if msg.header.errno != 0 {
            self.notes
                .push(format!("# {}", super::error_line(&msg.header).trim_end()));
            return;
        }
        match msg.message_type() {
            Some(MessageType::SpdDump | MessageType::SpdGet) => self.policies.push(policy(msg)),
            Some(MessageType::Dump | MessageType::Get) => {
                let dead = msg.sa().is_some_and(|s| s.state == sa_state::DEAD);
                if !dead || self.opts.show_dead {
                    self.sas.push(sa_statement(msg, self.opts));
                }
            }
            _ => {}
        }
    }

    /// Writes the script: notes, then the statements oldest first.
    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        for n in &self.notes {
            writeln!(out, "{n}")?;
        }
        for s in self.sas.iter().rev() {
            out.write_all(s.as_bytes())?;
        }
        let lines = policy_script(&self.policies);
        out.write_all(lines.as_bytes())
    }
}

/// `ADDR` (IPv6 with `%scope`), then `[port]` unless 0.
fn host_port(a: &SocketAddr, port: u16) -> String {
    let mut s = ip_string(a);
    if port != 0 {
        let _ = write!(s, "[{port}]");
    }
    s
}

/// ` -ctx DOI ALG "TEXT"`, or why the context cannot be written.
fn context(c: &SecCtxExt) -> Result<String, String> {
    let end = c
        .context
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(c.context.len());
    let text = &c.context[..end];
    if text
        .iter()
        .any(|&b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b))
    {
        return Err("its security context has characters a quoted string cannot hold".into());
    }
    Ok(format!(
        " -ctx {} {} \"{}\"",
        c.doi,
        c.alg,
        String::from_utf8_lossy(text)
    ))
}

/// A key as the parser reads it back (`0x…`), or masked.
fn key_text(out: &mut Zeroizing<String>, key: &KeyExt, hide: bool) {
    let n = (usize::from(key.bits) / 8).min(key.key.len());
    if n == 0 {
        out.push_str(" \"\"");
        return;
    }
    out.push_str(" 0x");
    for b in &key.key[..n] {
        if hide {
            out.push_str("**");
        } else {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// One SA as statement lines (comments first), each ending in a newline.
fn sa_statement(msg: &Message, opts: ScriptOptions) -> Zeroizing<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut s = Zeroizing::new(String::with_capacity(256));
    let (Some(src), Some(dst), Some(sa)) = (
        msg.address(AddressKind::Src),
        msg.address(AddressKind::Dst),
        msg.sa(),
    ) else {
        return Zeroizing::new("# an SA without addresses or SA extension was left out\n".into());
    };
    let sa2 = msg.sa2().copied().unwrap_or_default();
    let satype = msg.header.satype;
    let nat = msg.nat_t_type().filter(|&t| t != 0);
    let (sport, dport) = match nat {
        Some(_) => (
            msg.nat_t_port(NatTPortKind::Src).unwrap_or(0),
            msg.nat_t_port(NatTPortKind::Dst).unwrap_or(0),
        ),
        None => (src.addr.port(), dst.addr.port()),
    };
    let larval = sa.state == sa_state::LARVAL;
    let verb = if larval { "getspi" } else { "add" };
    let _ = write!(
        s,
        "{verb} {} {} ",
        host_port(&src.addr, sport),
        host_port(&dst.addr, dport)
    );
    match (satype, nat) {
        (SATYPE_ESP, Some(ipsec::NAT_T_TYPE_ESPINUDP)) => {
            s.push_str("esp-udp");
            if let Some(oa) = msg.address(AddressKind::NatTOa) {
                let _ = write!(s, " {}", ip_string(&oa.addr));
            }
        }
        (_, Some(t)) => {
            problems.push(format!("NAT-T encapsulation type {t} has no spelling"));
            s.push_str(satype_word(satype));
        }
        _ => s.push_str(satype_word(satype)),
    }
    if !matches!(satype, SATYPE_ESP | SATYPE_AH | SATYPE_IPCOMP) {
        problems.push(format!("SA type {satype} has no spelling"));
    }
    let _ = write!(s, " 0x{:08x}", sa.spi);
    match sa2.mode {
        ipsec::MODE_ANY => {}
        ipsec::MODE_TRANSPORT => s.push_str(" -m transport"),
        ipsec::MODE_TUNNEL => s.push_str(" -m tunnel"),
        m => problems.push(format!(
            "mode {} has no spelling",
            MODES.get(usize::from(m)).copied().unwrap_or("beet")
        )),
    }
    if sa2.reqid != 0 {
        let _ = write!(s, " -u {}", sa2.reqid);
    }
    if larval {
        // getspi takes the SPI and addresses; the kernel gives a larval SA
        // its own hard lifetime, and nothing else can be set.
        s.push_str(";\n");
        return with_comments(s, &problems, "");
    }
    // A window past 8 bits (XFRM only) comes in rsetkey's own extension.
    let replay = msg.wide_replay().unwrap_or(u32::from(sa.replay));
    if replay != 0 {
        let _ = write!(s, " -r {replay}");
    }
    if sa.flags & SAFLAGS_ESN != 0 {
        s.push_str(" -f esn");
    }
    let flags = sa.flags & !SAFLAGS_ESN;
    if flags != 0 {
        problems.push(format!(
            "flags 0x{flags:08x} are the kernel's; no option sets them"
        ));
    }
    if sa2.sequence != 0 {
        problems.push(format!(
            "sequence number {} cannot be set (a loaded SA starts at 0)",
            sa2.sequence
        ));
    }
    let hard = msg
        .lifetime(LifetimeKind::Hard)
        .copied()
        .unwrap_or_default();
    let soft = msg
        .lifetime(LifetimeKind::Soft)
        .copied()
        .unwrap_or_default();
    for (flag, v) in [
        ("-lh", hard.addtime),
        ("-ls", soft.addtime),
        ("-bh", hard.bytes),
        ("-bs", soft.bytes),
    ] {
        if v != 0 {
            let _ = write!(s, " {flag} {v}");
        }
    }
    for (what, v) in [
        ("hard use-time limit", hard.usetime),
        ("soft use-time limit", soft.usetime),
        ("hard packet limit", u64::from(hard.allocations)),
        ("soft packet limit", u64::from(soft.allocations)),
    ] {
        if v != 0 {
            problems.push(format!("its {what} ({v}) has no option"));
        }
    }
    if let Some(c) = msg.sec_ctx() {
        match context(c) {
            Ok(text) => s.push_str(&text),
            Err(e) => problems.push(e),
        }
    }
    let mut algorithm = |s: &mut Zeroizing<String>, flag: &str, kind: Kind, id: u8, key| {
        match algorithms::by_id(kind, id).and_then(|a| a.printed_name()) {
            Some(name) => {
                let _ = write!(s, " {flag} {name}");
            }
            None => {
                problems.push(format!("{flag} algorithm {id} has no setkey name"));
                let _ = write!(s, " {flag} {id}");
            }
        }
        if let Some(key) = key {
            key_text(s, key, opts.hide_keys);
        }
    };
    match satype {
        SATYPE_IPCOMP => algorithm(&mut s, "-C", Kind::Compression, sa.encrypt, None),
        SATYPE_ESP => {
            let key = msg.key(KeyKind::Encrypt);
            if key.is_some() || sa.encrypt != ealg::NONE {
                algorithm(&mut s, "-E", Kind::Encryption, sa.encrypt, key);
            }
        }
        _ => {}
    }
    let auth_key = msg.key(KeyKind::Auth);
    if auth_key.is_some() || sa.auth != aalg::NONE {
        algorithm(&mut s, "-A", Kind::Authentication, sa.auth, auth_key);
    }
    for key in [KeyKind::Encrypt, KeyKind::Auth] {
        if msg.key(key).is_some_and(|k| k.bits % 8 != 0) {
            problems.push("a key length that is not whole bytes".into());
        }
    }
    s.push_str(";\n");
    let state = match sa.state {
        sa_state::MATURE => "",
        sa_state::DYING => "it is dying (past its soft lifetime); loaded again it is mature",
        sa_state::DEAD => "it is dead; loaded again it is mature",
        _ => "its state is unknown",
    };
    with_comments(s, &problems, state)
}

/// Prefixes a statement with `#` lines for what it cannot say.
fn with_comments(
    statement: Zeroizing<String>,
    problems: &[String],
    state: &str,
) -> Zeroizing<String> {
    if problems.is_empty() && state.is_empty() {
        return statement;
    }
    let mut s = Zeroizing::new(String::with_capacity(statement.len() + 128));
    for p in problems {
        let _ = writeln!(s, "# not expressible in the script dialect: {p}");
    }
    if !state.is_empty() {
        let _ = writeln!(s, "# {state}");
    }
    s.push_str(&statement);
    s
}

fn satype_word(satype: u8) -> &'static str {
    match satype {
        SATYPE_AH => "ah",
        SATYPE_IPCOMP => "ipcomp",
        _ => "esp",
    }
}

/// One side of a selector: `addr[/prefix][[port]]`.
fn selector_side(a: &AddressExt, ports: bool) -> String {
    let mut s = ip_string(&a.addr);
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefixlen != full {
        let _ = write!(s, "/{}", a.prefixlen);
    }
    if ports && a.addr.port() != 0 {
        let _ = write!(s, "[{}]", a.addr.port());
    }
    s
}

/// `src dst upper [misc] [-ctx ...]`.
fn selector(msg: &Message) -> Result<String, String> {
    let (Some(src), Some(dst)) = (msg.address(AddressKind::Src), msg.address(AddressKind::Dst))
    else {
        return Err("a policy without a selector (bound to a socket)".into());
    };
    if src.proto != dst.proto {
        return Err("the selector's upper-layer protocols differ".into());
    }
    let ulp = src.proto;
    let (sport, dport) = (src.addr.port(), dst.addr.port());
    let misc = match ulp {
        _ if sport == 0 && dport == 0 => None,
        PROTO_ICMP | PROTO_ICMPV6 | PROTO_MH => Some(format!("{sport},{dport}")),
        PROTO_GRE => Some(format!("{},", (u32::from(sport) << 16) | u32::from(dport))),
        _ => None,
    };
    let mut s = format!(
        "{} {} ",
        selector_side(src, misc.is_none()),
        selector_side(dst, misc.is_none())
    );
    if ulp == ipsec::PROTO_ANY {
        s.push_str("any");
    } else {
        let _ = write!(s, "{ulp}");
    }
    if let Some(m) = misc {
        let _ = write!(s, " {m}");
    }
    if let Some(c) = msg.sec_ctx() {
        s.push_str(&context(c)?);
    }
    Ok(s)
}

/// `proto/mode/[src-dst]/level[:reqid]`.
fn template(r: &IpsecRequestExt) -> Result<String, String> {
    let proto = template_protocol(r.proto);
    if !matches!(r.proto, 50 | 51 | 108) {
        return Err(format!("template protocol {proto} has no spelling"));
    }
    let mode = match r.mode {
        ipsec::MODE_TRANSPORT => "transport",
        ipsec::MODE_TUNNEL => "tunnel",
        m => {
            return Err(format!(
                "template mode {} has no spelling",
                MODES.get(usize::from(m)).copied().unwrap_or("beet")
            ));
        }
    };
    let ends = match &r.endpoints {
        None => String::new(),
        Some((a, b)) if a.port() == 0 && b.port() == 0 => {
            format!("{}-{}", ip_string(a), ip_string(b))
        }
        Some((a, b)) => format!(
            "{}[{}]-{}[{}]",
            ip_string(a),
            a.port(),
            ip_string(b),
            b.port()
        ),
    };
    let Some(level) = LEVELS.get(usize::from(r.level)) else {
        return Err(format!("template level {} has no spelling", r.level));
    };
    let reqid = match (r.level, r.reqid) {
        (_, 0) => String::new(),
        // the kernel chose it (`unique` without a number): it chooses again
        (ipsec::LEVEL_UNIQUE, n) if n > ipsec::MANUAL_REQID_MAX => String::new(),
        (ipsec::LEVEL_UNIQUE, n) => format!(":{n}"),
        (_, n) => return Err(format!("request id {n} on a {level} template")),
    };
    Ok(format!("{proto}/{mode}/{ends}/{level}{reqid}"))
}

/// What follows the direction in `-P`: `[prio ...] ACTION [templates]`.
fn policy_rest(pol: &PolicyExt) -> Result<String, String> {
    let action = match pol.policy_type {
        ipsec::POLICY_DISCARD => "discard",
        ipsec::POLICY_NONE => "none",
        ipsec::POLICY_IPSEC => "ipsec",
        ipsec::POLICY_ENTRUST => "entrust",
        ipsec::POLICY_BYPASS => "bypass",
        t => return Err(format!("policy action {t} has no spelling")),
    };
    let mut s = String::new();
    if pol.priority != ipsec::PRIORITY_DEFAULT {
        s.push_str(&crate::priority::spelling(pol.priority));
        s.push(' ');
    }
    s.push_str(action);
    if pol.policy_type == ipsec::POLICY_IPSEC {
        for r in &pol.requests {
            s.push(' ');
            s.push_str(&template(r)?);
        }
    }
    Ok(s)
}

/// The `fwd` twin RFC mode adds for an `in` policy: the same, except that
/// a first `unique` template becomes `require` without a request id.
fn twin(pol: &PolicyExt) -> PolicyExt {
    let mut fwd = pol.clone();
    if let Some(first) = fwd.requests.first_mut()
        && first.level == ipsec::LEVEL_UNIQUE
    {
        first.level = ipsec::LEVEL_REQUIRE;
        first.reqid = 0;
    }
    fwd
}

fn policy(msg: &Message) -> PolicyEntry {
    // the text dump's block, shown as comments when the dialect cannot say it
    let unsaid = || {
        let mut buf = Vec::new();
        let printer = super::Printer::new(super::DumpOptions::default());
        super::policy::render(&mut buf, msg, 0, &printer);
        String::from_utf8_lossy(&buf).into_owned()
    };
    let mut comments = Vec::new();
    let Some(pol) = msg.policy() else {
        return PolicyEntry {
            comments: vec!["a policy without its X_POLICY extension".into()],
            body: None,
            unsaid: unsaid(),
        };
    };
    let text = (|| -> Result<PolicyText, String> {
        if super::policy::is_per_socket(msg) {
            return Err("a per-socket policy (only its socket can add it)".into());
        }
        if !matches!(
            pol.dir,
            ipsec::DIR_INBOUND | ipsec::DIR_OUTBOUND | ipsec::DIR_FWD
        ) {
            return Err(format!("direction {} has no spelling", pol.dir));
        }
        Ok(PolicyText {
            selector: selector(msg)?,
            dir: pol.dir,
            rest: policy_rest(pol)?,
            twin_rest: policy_rest(&twin(pol)).unwrap_or_default(),
        })
    })();
    if let Some(hard) = msg.lifetime(LifetimeKind::Hard)
        && (hard.addtime != 0 || hard.usetime != 0)
    {
        comments.push(format!(
            "its lifetime {} s and validtime {} s have no option",
            hard.addtime, hard.usetime
        ));
    }
    match text {
        Ok(body) => PolicyEntry {
            comments,
            body: Some(body),
            unsaid: String::new(),
        },
        Err(e) => {
            comments.push(e);
            PolicyEntry {
                comments,
                body: None,
                unsaid: unsaid(),
            }
        }
    }
}

fn dir_word(dir: u8) -> &'static str {
    match dir {
        ipsec::DIR_INBOUND => "in",
        ipsec::DIR_OUTBOUND => "out",
        _ => "fwd",
    }
}

/// The SPD script from the dump's policies (newest first), for RFC mode.
fn policy_script(newest_first: &[PolicyEntry]) -> String {
    let entries: Vec<&PolicyEntry> = newest_first.iter().rev().collect();
    let mut s = String::new();
    // selectors whose fwd policy is in the kernel while the script runs
    let mut live_fwd: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let e = entries[i];
        i += 1;
        for c in &e.comments {
            let _ = writeln!(s, "# not expressible in the script dialect: {c}");
        }
        let Some(p) = &e.body else {
            for line in e.unsaid.lines() {
                let _ = writeln!(s, "#\t{}", line.trim_start());
            }
            continue;
        };
        let sel = p.selector.as_str();
        if p.dir != ipsec::DIR_INBOUND {
            if p.dir == ipsec::DIR_FWD {
                live_fwd.push(sel);
            }
            let _ = writeln!(s, "spdadd {sel} -P {} {};", dir_word(p.dir), p.rest);
            continue;
        }
        // the next entry is this policy's twin when RFC mode would add it
        let twin_follows = entries
            .get(i)
            .and_then(|n| n.body.as_ref())
            .is_some_and(|n| {
                n.dir == ipsec::DIR_FWD && n.selector == p.selector && n.rest == p.twin_rest
            });
        let fwd_exists = live_fwd.contains(&sel);
        if fwd_exists {
            // spdadd would fail on the existing fwd policy; spdupdate
            // replaces it with the twin, and the fwd policy is put back
            let _ = writeln!(
                s,
                "# the fwd policy of this selector goes back in after the in policy"
            );
            let _ = writeln!(s, "spdupdate {sel} -P in {};", p.rest);
        } else {
            let _ = writeln!(s, "spdadd {sel} -P in {};", p.rest);
        }
        if twin_follows {
            i += 1;
            live_fwd.push(sel);
        } else if fwd_exists {
            let fwd = entries[..i - 1]
                .iter()
                .rev()
                .filter_map(|e| e.body.as_ref())
                .find(|b| b.dir == ipsec::DIR_FWD && b.selector == p.selector);
            if let Some(f) = fwd {
                let _ = writeln!(s, "spdupdate {sel} -P fwd {};", f.rest);
            }
        } else {
            // RFC mode added a fwd twin the dump does not have
            let _ = writeln!(s, "spddelete {sel} -P fwd;");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: u8, sel: &str, rest: &str, twin_rest: &str) -> PolicyEntry {
        PolicyEntry {
            comments: Vec::new(),
            body: Some(PolicyText {
                selector: sel.into(),
                dir,
                rest: rest.into(),
                twin_rest: twin_rest.into(),
            }),
            unsaid: String::new(),
        }
    }

    #[test]
    fn in_policies_and_their_fwd_twins() {
        let twin = "ipsec esp/transport//require";
        let uniq = "ipsec esp/transport//unique:5";
        // newest first, as the kernel dumps: twin, in, out
        let dump = vec![
            entry(3, "a b any", twin, twin),
            entry(1, "a b any", uniq, twin),
            entry(2, "b a any", twin, twin),
        ];
        assert_eq!(
            policy_script(&dump),
            "spdadd b a any -P out ipsec esp/transport//require;\n\
             spdadd a b any -P in ipsec esp/transport//unique:5;\n"
        );
        // an in policy without its twin (loaded in kernel mode)
        let dump = vec![entry(1, "a b any", uniq, twin)];
        assert_eq!(
            policy_script(&dump),
            "spdadd a b any -P in ipsec esp/transport//unique:5;\nspddelete a b any -P fwd;\n"
        );
        // a fwd policy of its own before the in policy
        let dump = vec![
            entry(1, "a b any", uniq, twin),
            entry(3, "a b any", "none", "none"),
        ];
        assert_eq!(
            policy_script(&dump),
            "spdadd a b any -P fwd none;\n\
             # the fwd policy of this selector goes back in after the in policy\n\
             spdupdate a b any -P in ipsec esp/transport//unique:5;\n\
             spdupdate a b any -P fwd none;\n"
        );
    }
}
