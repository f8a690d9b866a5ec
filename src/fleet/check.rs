//! `rsetkey check`: do two hosts' scripts agree?
//!
//! Three rules, each checked both ways:
//!
//! * **SAs**: every SA one script adds, the other adds too, identical:
//!   addresses, SPI, protocol, mode, reqid, algorithms and keys. SAs are
//!   paired by (source, destination, protocol, SPI); an SA without a twin
//!   is paired, for the message, with a near miss (the same addresses and
//!   protocol with another SPI, or the same SPI and protocol between other
//!   addresses).
//! * **Policies**: the traffic one host sends under an `out` policy, the
//!   other receives under an `in` (or `fwd`) policy with the same selector
//!   (source, destination, ports, upper layer), the same action and the
//!   same requests (tunnel end points included); the traffic one receives
//!   under `in` or `fwd`, the other sends under `out`. Scripts are read as
//!   written (kernel semantics): the `fwd` twin setkey's RFC mode adds to
//!   an `in` policy exists on both sides or on neither, and an explicit
//!   `fwd` policy next to an `in` policy for the same traffic is that twin.
//! * **Required requests**: every `require` (or `unique`) request of a
//!   policy has an SA in the same script: for transport mode between the
//!   selector's addresses (when they are single hosts), for tunnel mode
//!   between the tunnel's end points, of the request's protocol and mode.
//!
//! Keys are compared in constant time and never printed: a message says
//! that they differ, and their lengths when those differ.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;

use miette::SourceSpan;
use serde::Serialize;

use super::mirror::direction_name;
use super::{Flow, Script, single_host};
use crate::ir::{
    Direction, IpsecMode, IpsecProtocol, IpsecRequest, Key, Level, Location, Operation,
    PolicyAction, PolicyRequest, SaType, SecurityAssociation, SelectorAddress, UPPER_ANY,
};
use crate::parse::diagnostic::Excerpt;

/// What kind of disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An SA of one script has no twin in the other.
    SaMissing,
    /// An SA and its twin differ (SPI, addresses, mode, algorithms, keys).
    SaDiffers,
    /// A policy of one script has no mirror in the other.
    PolicyMissing,
    /// A policy and its mirror differ (action, requests).
    PolicyDiffers,
    /// A required request has no SA in its script.
    RequireUnsatisfied,
    /// The scripts have nothing between their hosts to compare.
    NothingShared,
}

/// A place in one of the two scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The script's name.
    pub file: String,
    /// 1-based line of the statement's first token.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is there.
    pub label: String,
    /// Which script: 0 for the first, 1 for the second.
    #[serde(skip)]
    pub script: usize,
    /// The statement's byte range in its script.
    #[serde(skip)]
    pub span: (usize, usize),
}

/// One disagreement between the scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Its kind.
    pub kind: Kind,
    /// What differs (never key material).
    pub message: String,
    /// Where: the statement it is about, then its twin or near miss in the
    /// other script, when there is one.
    pub places: Vec<Place>,
    /// What the near miss suggests, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The two scripts' names.
    pub files: [String; 2],
    /// The hosts' addresses, as their policies tell.
    pub hosts: [BTreeSet<IpAddr>; 2],
    /// Whether they agree.
    pub agree: bool,
    /// SAs between the two hosts (not those with other peers) each script
    /// adds.
    pub sas: [usize; 2],
    /// Policies for traffic between the two hosts each script adds.
    pub policies: [usize; 2],
    /// The disagreements, in the first script's order.
    pub mismatches: Vec<Mismatch>,
}

/// An SA or policy statement of a script.
struct Entry<'a, T> {
    item: &'a T,
    location: Location,
}

fn sas(script: &Script) -> Vec<Entry<'_, SecurityAssociation>> {
    script
        .operations()
        .filter_map(|(op, location)| match op {
            Operation::Add(sa) => Some(Entry {
                item: sa.as_ref(),
                location,
            }),
            _ => None,
        })
        .collect()
}

fn policies(script: &Script) -> Vec<Entry<'_, PolicyRequest>> {
    script
        .operations()
        .filter_map(|(op, location)| match op {
            Operation::SpdAdd(p) | Operation::SpdUpdate(p) => Some(Entry { item: p, location }),
            _ => None,
        })
        .collect()
}

fn place(scripts: [&Script; 2], which: usize, location: Location, label: String) -> Place {
    let (line, column) = scripts[which].position(location.offset);
    Place {
        file: scripts[which].name.clone(),
        line,
        column,
        label,
        script: which,
        span: (location.offset, location.len),
    }
}

/// The addresses of the host whose script this is, as its policies tell:
/// the source of traffic it sends (`out`), the destination of traffic it
/// receives (`in`, `fwd`), its ends of tunnels.
pub fn local_addresses(script: &Script) -> BTreeSet<IpAddr> {
    let mut local = BTreeSet::new();
    for e in policies(script) {
        let p = e.item;
        let out = p.policy.direction == Direction::Out;
        local.extend(single_host(if out { &p.src } else { &p.dst }));
        for r in &p.policy.requests {
            local.extend(
                r.endpoints
                    .as_deref()
                    .map(|&(s, d)| if out { s.ip() } else { d.ip() }),
            );
        }
    }
    local
}

/// Whether an SA runs between the two hosts (every SA does when a host's
/// addresses are unknown).
fn sa_between(sa: &SecurityAssociation, locals: &[BTreeSet<IpAddr>; 2]) -> bool {
    if locals.iter().any(BTreeSet::is_empty) {
        return true;
    }
    let (s, d) = (sa.src.ip(), sa.dst.ip());
    (locals[0].contains(&s) && locals[1].contains(&d))
        || (locals[1].contains(&s) && locals[0].contains(&d))
}

/// Whether a policy of host `x` is about traffic with the other host: its
/// far end (the destination of what it sends, the source of what it
/// receives, or the far end of its tunnel) is one of the other host's
/// addresses.
fn policy_towards(p: &PolicyRequest, peer: &BTreeSet<IpAddr>) -> bool {
    if peer.is_empty() {
        return true;
    }
    let out = p.policy.direction == Direction::Out;
    let far = if out { &p.dst } else { &p.src };
    peer.iter().any(|a| super::covers(far, *a))
        || p.policy.requests.iter().any(|r| {
            r.endpoints
                .as_deref()
                .is_some_and(|&(s, d)| peer.contains(&if out { d.ip() } else { s.ip() }))
        })
}

/// Checks that `a` and `b`, two hosts' scripts, agree about what is
/// between the two hosts: a host's script may hold SAs and policies for
/// other peers too (a gateway's does), and those are not compared. The
/// hosts' addresses are read from their policies ([`local_addresses`]);
/// when a script has none, or both claim one address, everything is
/// compared.
pub fn check(a: &Script, b: &Script) -> Report {
    let scripts = [a, b];
    let mut locals = [local_addresses(a), local_addresses(b)];
    // Two scripts that claim the same address are not two hosts' (a copy
    // that was not mirrored, say): compare everything, so that the
    // message says what is wrong with them.
    if !locals[0].is_disjoint(&locals[1]) {
        locals = Default::default();
    }
    let mut sa_lists = [sas(a), sas(b)];
    for list in &mut sa_lists {
        list.retain(|e| sa_between(e.item, &locals));
    }
    let mut policy_lists = [policies(a), policies(b)];
    for (x, list) in policy_lists.iter_mut().enumerate() {
        list.retain(|e| policy_towards(e.item, &locals[1 - x]));
    }
    let mut mismatches = Vec::new();
    let shared = [&sa_lists[0], &sa_lists[1]].iter().any(|l| !l.is_empty())
        || policy_lists.iter().any(|l| !l.is_empty());
    if !shared {
        mismatches.push(Mismatch {
            kind: Kind::NothingShared,
            message: format!(
                "{} and {} have no SA and no policy between their hosts: are they peers?",
                a.name, b.name
            ),
            places: Vec::new(),
            hint: None,
        });
    }
    check_sas(scripts, &sa_lists, &mut mismatches);
    check_policies(scripts, &policy_lists, &mut mismatches);
    for (x, list) in policy_lists.iter().enumerate() {
        check_requires(scripts, x, list, &sa_lists, &mut mismatches);
    }
    // the first script's order, then the second's
    mismatches.sort_by_key(|m| {
        m.places
            .first()
            .map(|p| (p.script, p.span.0))
            .unwrap_or_default()
    });
    Report {
        files: [a.name.clone(), b.name.clone()],
        hosts: locals,
        agree: mismatches.is_empty(),
        sas: [sa_lists[0].len(), sa_lists[1].len()],
        policies: [policy_lists[0].len(), policy_lists[1].len()],
        mismatches,
    }
}

fn protocol_name(t: SaType) -> &'static str {
    match t {
        SaType::Esp => "esp",
        SaType::Ah => "ah",
        SaType::IpComp => "ipcomp",
        SaType::Unspec => "unspec",
    }
}

fn describe_sa(sa: &SecurityAssociation) -> String {
    format!(
        "{} SA {} -> {} SPI {} (0x{:x})",
        protocol_name(sa.satype),
        sa.src.ip(),
        sa.dst.ip(),
        sa.spi,
        sa.spi
    )
}

/// Compares two keys without an early exit on the first differing byte.
fn same_key(x: &Key, y: &Key) -> bool {
    let (x, y) = (x.as_bytes(), y.as_bytes());
    if x.len() != y.len() {
        return false;
    }
    let diff = x.iter().zip(y).fold(0u8, |acc, (p, q)| acc | (p ^ q));
    std::hint::black_box(diff) == 0
}

fn key_difference(what: &str, x: &Key, y: &Key) -> Option<String> {
    if same_key(x, y) {
        None
    } else if x.bits() != y.bits() {
        Some(format!(
            "the {what} keys differ ({} vs {} bits)",
            x.bits(),
            y.bits()
        ))
    } else {
        Some(format!("the {what} keys differ"))
    }
}

fn mode_name(m: IpsecMode) -> &'static str {
    match m {
        IpsecMode::Any => "any",
        IpsecMode::Transport => "transport",
        IpsecMode::Tunnel => "tunnel",
    }
}

/// What differs between two SAs with the same addresses, protocol and SPI.
fn sa_differences(x: &SecurityAssociation, y: &SecurityAssociation) -> Vec<String> {
    let mut d = Vec::new();
    if x.mode != y.mode {
        d.push(format!(
            "mode {} vs {}",
            mode_name(x.mode),
            mode_name(y.mode)
        ));
    }
    if x.reqid != y.reqid {
        d.push(format!("reqid {} vs {}", x.reqid, y.reqid));
    }
    let enc_name = |t: &crate::ir::Transforms| {
        t.encrypt
            .as_ref()
            .map_or("none", |(a, _)| a.row().printed_name().unwrap_or("?"))
    };
    let auth_name = |t: &crate::ir::Transforms| {
        t.auth
            .as_ref()
            .map_or("none", |(a, _)| a.row().printed_name().unwrap_or("?"))
    };
    let (tx, ty) = (&x.transforms, &y.transforms);
    match (&tx.encrypt, &ty.encrypt) {
        (Some((ax, kx)), Some((ay, ky))) if ax == ay => {
            d.extend(key_difference("encryption", kx, ky));
        }
        (None, None) => {}
        _ => d.push(format!("encryption {} vs {}", enc_name(tx), enc_name(ty))),
    }
    match (&tx.auth, &ty.auth) {
        (Some((ax, kx)), Some((ay, ky))) if ax == ay => match (kx, ky) {
            (Some(kx), Some(ky)) => d.extend(key_difference("authentication", kx, ky)),
            (None, None) => {}
            _ => d.push("one authentication key is missing".to_string()),
        },
        (None, None) => {}
        _ => d.push(format!(
            "authentication {} vs {}",
            auth_name(tx),
            auth_name(ty)
        )),
    }
    if tx.compression != ty.compression {
        d.push("the compression algorithms differ".to_string());
    }
    if x.nat != y.nat {
        d.push("NAT traversal differs".to_string());
    }
    if x.context != y.context {
        d.push("the security contexts differ".to_string());
    }
    d
}

fn check_sas(
    scripts: [&Script; 2],
    lists: &[Vec<Entry<'_, SecurityAssociation>>; 2],
    out: &mut Vec<Mismatch>,
) {
    let (la, lb) = (&lists[0], &lists[1]);
    let mut matched_a = vec![false; la.len()];
    let mut matched_b = vec![false; lb.len()];
    let label_a = |e: &Entry<'_, SecurityAssociation>, text: &str| {
        place(scripts, 0, e.location, text.to_string())
    };
    let label_b = |e: &Entry<'_, SecurityAssociation>, text: &str| {
        place(scripts, 1, e.location, text.to_string())
    };
    // twins: the same addresses, protocol and SPI
    for (i, x) in la.iter().enumerate() {
        let Some(j) = lb.iter().enumerate().position(|(j, y)| {
            !matched_b[j]
                && y.item.satype == x.item.satype
                && y.item.spi == x.item.spi
                && y.item.src == x.item.src
                && y.item.dst == x.item.dst
        }) else {
            continue;
        };
        matched_a[i] = true;
        matched_b[j] = true;
        let differences = sa_differences(x.item, lb[j].item);
        if !differences.is_empty() {
            out.push(Mismatch {
                kind: Kind::SaDiffers,
                message: format!("{}: {}", describe_sa(x.item), differences.join(", ")),
                places: vec![
                    label_a(x, "this SA"),
                    label_b(&lb[j], "differs from this one"),
                ],
                hint: None,
            });
        }
    }
    // near misses: another SPI, or other addresses
    for (i, x) in la.iter().enumerate() {
        if matched_a[i] {
            continue;
        }
        let near = |same_spi: bool| {
            lb.iter().enumerate().position(|(j, y)| {
                !matched_b[j]
                    && y.item.satype == x.item.satype
                    && if same_spi {
                        y.item.spi == x.item.spi
                    } else {
                        y.item.src == x.item.src && y.item.dst == x.item.dst
                    }
            })
        };
        let (j, what) = if let Some(j) = near(false) {
            let y = lb[j].item;
            (
                j,
                format!(
                    "its SPI is {} (0x{:x}) in {}",
                    y.spi, y.spi, scripts[1].name
                ),
            )
        } else if let Some(j) = near(true) {
            let y = lb[j].item;
            let swapped = y.src == x.item.dst && y.dst == x.item.src;
            (
                j,
                format!(
                    "{} has it from {} to {}{}",
                    scripts[1].name,
                    y.src.ip(),
                    y.dst.ip(),
                    if swapped {
                        " (the addresses swapped)"
                    } else {
                        ""
                    }
                ),
            )
        } else {
            continue;
        };
        matched_a[i] = true;
        matched_b[j] = true;
        out.push(Mismatch {
            kind: Kind::SaDiffers,
            message: format!("{}: {what}", describe_sa(x.item)),
            places: vec![label_a(x, "this SA"), label_b(&lb[j], "its twin")],
            hint: None,
        });
    }
    for (which, (list, matched)) in [(la, &matched_a), (lb, &matched_b)].into_iter().enumerate() {
        for (e, _) in list.iter().zip(matched.iter()).filter(|(_, m)| !**m) {
            out.push(Mismatch {
                kind: Kind::SaMissing,
                message: format!(
                    "{} is missing in {}",
                    describe_sa(e.item),
                    scripts[1 - which].name
                ),
                places: vec![place(
                    scripts,
                    which,
                    e.location,
                    format!("no twin in {}", scripts[1 - which].name),
                )],
                hint: None,
            });
        }
    }
}

fn selector_text(s: &SelectorAddress) -> String {
    let mut text = s.addr.ip().to_string();
    if single_host(s).is_none() {
        let _ = write!(text, "/{}", s.prefixlen);
    }
    if s.addr.port() != 0 {
        let _ = write!(text, "[{}]", s.addr.port());
    }
    text
}

fn describe_policy(p: &PolicyRequest) -> String {
    let upper = if p.upper == UPPER_ANY {
        String::new()
    } else {
        format!(" (protocol {})", p.upper)
    };
    format!(
        "{} policy {} -> {}{upper}",
        direction_name(p.policy.direction),
        selector_text(&p.src),
        selector_text(&p.dst)
    )
}

fn request_text(r: &IpsecRequest) -> String {
    let proto = match r.protocol {
        IpsecProtocol::Esp => "esp",
        IpsecProtocol::Ah => "ah",
        IpsecProtocol::IpComp => "ipcomp",
    };
    let ends = r
        .endpoints
        .as_deref()
        .map(|(s, d)| format!("{}-{}", s.ip(), d.ip()))
        .unwrap_or_default();
    let level = match r.level {
        Level::Default => "default".to_string(),
        Level::Use => "use".to_string(),
        Level::Require => "require".to_string(),
        Level::Unique if r.reqid != 0 => format!("unique:{}", r.reqid),
        Level::Unique => "unique".to_string(),
    };
    format!("{proto}/{}/{ends}/{level}", mode_name(r.mode))
}

fn action_text(p: &PolicyRequest) -> String {
    match p.policy.action {
        PolicyAction::Discard => "discard".into(),
        PolicyAction::None => "none".into(),
        PolicyAction::Entrust => "entrust".into(),
        PolicyAction::Bypass => "bypass".into(),
        PolicyAction::Ipsec => {
            let requests: Vec<String> = p.policy.requests.iter().map(request_text).collect();
            format!("ipsec {}", requests.join(" "))
        }
    }
}

/// The directions the other host's policy for the same traffic may have.
fn mirror_directions(d: Direction) -> &'static [Direction] {
    match d {
        Direction::Out => &[Direction::In, Direction::Fwd],
        Direction::In | Direction::Fwd => &[Direction::Out],
    }
}

fn check_policies(
    scripts: [&Script; 2],
    lists: &[Vec<Entry<'_, PolicyRequest>>; 2],
    out: &mut Vec<Mismatch>,
) {
    // pairs already reported or found equal, as ((script, index), (script, index))
    let mut done: BTreeSet<((usize, usize), (usize, usize))> = BTreeSet::new();
    for x in 0..2 {
        let y = 1 - x;
        let has_in = |flow: &Flow| {
            lists[x]
                .iter()
                .any(|e| e.item.policy.direction == Direction::In && Flow::of(e.item) == *flow)
        };
        for (i, e) in lists[x].iter().enumerate() {
            let p = e.item;
            let flow = Flow::of(p);
            // an explicit fwd twin of an in policy: the in policy speaks for it
            if p.policy.direction == Direction::Fwd && has_in(&flow) {
                continue;
            }
            let wanted = mirror_directions(p.policy.direction);
            let twin = lists[y].iter().enumerate().find(|(_, q)| {
                wanted.contains(&q.item.policy.direction) && Flow::of(q.item) == flow
            });
            if let Some((j, q)) = twin {
                let key = ((x, i), (y, j));
                let rev = ((y, j), (x, i));
                if done.contains(&rev) || !done.insert(key) {
                    continue;
                }
                let mut differences = Vec::new();
                if p.policy.action != q.item.policy.action
                    || p.policy.requests != q.item.policy.requests
                {
                    differences.push(format!(
                        "`{}` in {}, `{}` in {}",
                        action_text(p),
                        scripts[x].name,
                        action_text(q.item),
                        scripts[y].name
                    ));
                }
                if p.context != q.item.context {
                    differences.push("the security contexts differ".to_string());
                }
                if !differences.is_empty() {
                    out.push(Mismatch {
                        kind: Kind::PolicyDiffers,
                        message: format!(
                            "{} and its mirror differ: {}",
                            describe_policy(p),
                            differences.join("; ")
                        ),
                        places: vec![
                            place(scripts, x, e.location, "this policy".into()),
                            place(scripts, y, q.location, "its mirror".into()),
                        ],
                        hint: None,
                    });
                }
                continue;
            }
            // no mirror: a near miss makes the message precise
            let wanted_text = wanted
                .iter()
                .map(|d| direction_name(*d))
                .collect::<Vec<_>>()
                .join(" or ");
            let same_direction = lists[y].iter().enumerate().find(|(_, q)| {
                q.item.policy.direction == p.policy.direction && Flow::of(q.item) == flow
            });
            let swapped = lists[y].iter().enumerate().find(|(_, q)| {
                wanted.contains(&q.item.policy.direction) && Flow::of(q.item) == flow.reversed()
            });
            let (near, why) = match (same_direction, swapped) {
                (Some(n), _) => (
                    Some(n),
                    Some(format!(
                        "{} has an {} policy for the same traffic: both hosts would {} it",
                        scripts[y].name,
                        direction_name(p.policy.direction),
                        if p.policy.direction == Direction::Out {
                            "send"
                        } else {
                            "receive"
                        }
                    )),
                ),
                (None, Some(n)) => (
                    Some(n),
                    Some(format!(
                        "the {} policy in {} has source and destination swapped",
                        direction_name(n.1.item.policy.direction),
                        scripts[y].name,
                    )),
                ),
                (None, None) => (None, None),
            };
            if let Some((j, _)) = near {
                let key = ((x, i), (y, j));
                if done.contains(&((y, j), (x, i))) || !done.insert(key) {
                    continue;
                }
            }
            let mut places = vec![place(
                scripts,
                x,
                e.location,
                format!("no mirror in {}", scripts[y].name),
            )];
            if let Some((_, q)) = near {
                places.push(place(scripts, y, q.location, "the nearest policy".into()));
            }
            out.push(Mismatch {
                kind: Kind::PolicyMissing,
                message: format!(
                    "{} of {} has no mirror in {}: an {wanted_text} policy for the same traffic",
                    describe_policy(p),
                    scripts[x].name,
                    scripts[y].name
                ),
                places,
                hint: why,
            });
        }
    }
}

/// Whether `sa` can carry out request `r` between `src` and `dst`.
fn satisfies(sa: &SecurityAssociation, r: &IpsecRequest, (src, dst): (IpAddr, IpAddr)) -> bool {
    let satype = match r.protocol {
        IpsecProtocol::Esp => SaType::Esp,
        IpsecProtocol::Ah => SaType::Ah,
        IpsecProtocol::IpComp => SaType::IpComp,
    };
    let mode_fits = match r.mode {
        IpsecMode::Tunnel => sa.mode == IpsecMode::Tunnel,
        _ => sa.mode != IpsecMode::Tunnel,
    };
    let reqid_fits = r.level != Level::Unique || r.reqid == 0 || sa.reqid == r.reqid;
    sa.satype == satype && sa.src.ip() == src && sa.dst.ip() == dst && mode_fits && reqid_fits
}

fn check_requires(
    scripts: [&Script; 2],
    x: usize,
    policies: &[Entry<'_, PolicyRequest>],
    sas: &[Vec<Entry<'_, SecurityAssociation>>; 2],
    out: &mut Vec<Mismatch>,
) {
    for e in policies {
        let p = e.item;
        if p.policy.action != PolicyAction::Ipsec {
            continue;
        }
        // the packet's addresses as each request sees them: the selector's
        // (when it names single hosts), then a tunnel's end points
        let mut ends = single_host(&p.src).zip(single_host(&p.dst));
        for r in &p.policy.requests {
            if r.mode == IpsecMode::Tunnel {
                ends = r.endpoints.as_deref().map(|&(s, d)| (s.ip(), d.ip()));
            }
            if !matches!(r.level, Level::Require | Level::Unique) {
                continue;
            }
            let Some(between) = ends else { continue };
            if sas[x].iter().any(|s| satisfies(s.item, r, between)) {
                continue;
            }
            let elsewhere = sas[1 - x].iter().find(|s| satisfies(s.item, r, between));
            let mut places = vec![place(
                scripts,
                x,
                e.location,
                format!("no SA for `{}`", request_text(r)),
            )];
            let hint = elsewhere.map(|s| {
                places.push(place(scripts, 1 - x, s.location, "has one".into()));
                format!("{} has one", scripts[1 - x].name)
            });
            out.push(Mismatch {
                kind: Kind::RequireUnsatisfied,
                message: format!(
                    "{} of {} requires a {} {} SA {} -> {}, which {} lacks",
                    describe_policy(p),
                    scripts[x].name,
                    mode_name(r.mode),
                    match r.protocol {
                        IpsecProtocol::Esp => "esp",
                        IpsecProtocol::Ah => "ah",
                        IpsecProtocol::IpComp => "ipcomp",
                    },
                    between.0,
                    between.1,
                    scripts[x].name
                ),
                places,
                hint,
            });
        }
    }
}

/// A mismatch as a diagnostic: the first place with its snippet, the
/// others as related diagnostics. Key material in the snippets is masked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct MismatchDiagnostic {
    message: String,
    #[source_code]
    src: Excerpt,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    hint: Option<String>,
    #[related]
    others: Vec<PlaceDiagnostic>,
}

/// The other side of a mismatch.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{title}")]
pub struct PlaceDiagnostic {
    title: String,
    #[source_code]
    src: Excerpt,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
}

fn excerpt(scripts: [&Script; 2], secrets: &[Vec<(usize, usize)>; 2], p: &Place) -> Excerpt {
    let s = scripts[p.script];
    // the statement's first line: its keyword and what follows
    let line_len = s
        .text
        .get(p.span.0..)
        .and_then(|rest| rest.find('\n'))
        .unwrap_or(p.span.1)
        .min(p.span.1);
    Excerpt::new(&s.name, &s.text, (p.span.0, line_len), &secrets[p.script])
}

/// The diagnostic of one mismatch; `secrets` are the key ranges of each
/// script ([`crate::parse::key_ranges`]).
pub fn diagnostic(
    m: &Mismatch,
    scripts: [&Script; 2],
    secrets: &[Vec<(usize, usize)>; 2],
) -> Option<MismatchDiagnostic> {
    let (first, rest) = m.places.split_first()?;
    let src = excerpt(scripts, secrets, first);
    let others = rest
        .iter()
        .map(|p| {
            let src = excerpt(scripts, secrets, p);
            PlaceDiagnostic {
                title: format!("{}, in {}", p.label, p.file),
                span: src.span(),
                src,
                label: p.label.clone(),
            }
        })
        .collect();
    Some(MismatchDiagnostic {
        message: m.message.clone(),
        span: src.span(),
        src,
        label: first.label.clone(),
        hint: m.hint.clone(),
        others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn script(name: &str, text: &str) -> Script {
        Script::parse(name, Zeroizing::new(text.to_string())).expect("parses")
    }

    #[test]
    fn keys_compare_in_full() {
        let k = |b: &[u8]| Key::new(b.to_vec());
        assert!(same_key(&k(b"abcd"), &k(b"abcd")));
        assert!(!same_key(&k(b"abcd"), &k(b"abce")));
        assert!(!same_key(&k(b"abcd"), &k(b"abc")));
    }

    const EAST: &str = "add 192.0.2.1 192.0.2.2 esp 0x1001 -m tunnel -E null;\n\
        add 192.0.2.2 192.0.2.1 esp 0x1002 -m tunnel -E null;\n\
        spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n\
        spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/192.0.2.2-192.0.2.1/require;\n\
        spdadd 10.2.0.0/16 10.1.0.0/16 any -P fwd ipsec esp/tunnel/192.0.2.2-192.0.2.1/require;\n";

    const WEST: &str = "add 192.0.2.1 192.0.2.2 esp 0x1001 -m tunnel -E null;\n\
        add 192.0.2.2 192.0.2.1 esp 0x1002 -m tunnel -E null;\n\
        spdadd 10.2.0.0/16 10.1.0.0/16 any -P out ipsec esp/tunnel/192.0.2.2-192.0.2.1/require;\n\
        spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n";

    /// Tunnels between gateways: the hosts are their tunnel ends, an
    /// explicit fwd twin of an in policy needs no mirror of its own.
    #[test]
    fn tunnels_and_fwd_twins_agree() {
        let (east, west) = (script("east.conf", EAST), script("west.conf", WEST));
        let r = check(&east, &west);
        assert!(r.agree, "{:#?}", r.mismatches);
        assert_eq!(r.sas, [2, 2]);
        assert_eq!(r.policies, [3, 2]);
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(r.hosts[0], BTreeSet::from([ip("192.0.2.1")]));
        // a tunnel end that differs is a policy that differs
        let wrong = WEST.replacen(
            "esp/tunnel/192.0.2.1-192.0.2.2",
            "esp/tunnel/192.0.2.1-192.0.2.3",
            1,
        );
        let r = check(&east, &script("west.conf", &wrong));
        let kinds: Vec<Kind> = r.mismatches.iter().map(|m| m.kind).collect();
        assert!(
            kinds.contains(&Kind::PolicyMissing) || kinds.contains(&Kind::PolicyDiffers),
            "{kinds:?}"
        );
        // the mirror of a tunnel gateway's script agrees with it
        let ops = super::super::mirror::mirror(&east, ip("192.0.2.1")).expect("mirrors");
        let text = crate::ir::print::script(&ops, crate::ir::Keys::Show);
        let r = check(&east, &script("mirror.conf", &text));
        assert!(r.agree, "{text}\n{:#?}", r.mismatches);
    }

    /// Only what is between the two hosts is compared: a hub's SAs and
    /// policies with its other spokes are not.
    #[test]
    fn a_hubs_other_peers_are_left_out() {
        let extra = "add 192.0.2.1 192.0.2.9 esp 0x2001 -m tunnel -E null;\n\
            spdadd 10.1.0.0/16 10.9.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.9/require;\n";
        let east = script("east.conf", &format!("{EAST}{extra}"));
        let r = check(&east, &script("west.conf", WEST));
        assert!(r.agree, "{:#?}", r.mismatches);
        // but a policy for the peer's traffic with no SA is still caught
        let r = check(
            &east,
            &script(
                "west.conf",
                &WEST.replacen(
                    "add 192.0.2.2 192.0.2.1 esp 0x1002 -m tunnel -E null;",
                    "",
                    1,
                ),
            ),
        );
        let kinds: Vec<Kind> = r.mismatches.iter().map(|m| m.kind).collect();
        assert!(kinds.contains(&Kind::RequireUnsatisfied), "{kinds:?}");
    }

    #[test]
    fn places_point_at_the_statement() {
        let a = script(
            "a.conf",
            "flush;\n  add 10.0.0.1 10.0.0.2 esp 0x1001 -E null;\n",
        );
        let b = script("b.conf", "flush;\n");
        let r = check(&a, &b);
        assert_eq!(r.mismatches.len(), 1);
        let p = &r.mismatches[0].places[0];
        assert_eq!((p.file.as_str(), p.line, p.column), ("a.conf", 2, 3));
    }
}
