//! The `-P` policy text: libipsec's little language (the POLICY token
//! of grammar/setkey.ebnf).
//!
//! setkey hands the whole policy text to libipsec's `ipsec_set_policy`,
//! whose own scanner splits it into words; this module does the same with
//! nom: [`word`] reproduces that scanner's longest-match (a run of address
//! characters, classified afterwards, so `in` is a direction but `inx` an
//! address), and the grammar functions follow libipsec's productions,
//! performing its checks at the same points so the same error wins.

use std::net::SocketAddr;

use nom::branch::alt;
use nom::combinator::{opt, verify};
use nom::sequence::{pair, preceded};
use nom::{IResult, Parser};

use super::resolve::{Family, NameService};
use crate::ir::{
    Direction, IpsecMode, IpsecProtocol, IpsecRequest, Level, PRIORITY_DEFAULT, Policy,
    PolicyAction, SmallList,
};

/// libipsec's error texts.
pub(crate) const TOO_FEW: &str = "Too few arguments";
const INVALID_ARGUMENT: &str = "Invalid argument";
const INVALID_ADDRESS: &str = "Invalid address specification";
const FAMILY_MISMATCH: &str = "Family mismatch";
const INVALID_DIRECTION: &str = "Invalid direction";
const PRIO_RANGE: &str = "Priority offset not in valid range [-2147483647, 2147483648]";
const PRIO_BASE_RANGE: &str = "Priority offset from base not in valid range [0, 1073741823] \
     for negative offsets and [0, 1073741824] for positive offsets";

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PolErr {
    /// A libipsec grammar error: reported as `Invalid argument`.
    Syntax,
    /// A libipsec check failed with this text.
    Msg(String),
    /// A number too big for its field (libipsec would wrap it): the
    /// message, and the number's text (a slice of the policy text, so its
    /// place can be found).
    Range(String, usize, usize),
}

/// Why a policy text was refused: libipsec's text, and for a number too
/// big for its field, where the number is in the text (offset, length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyFail {
    pub text: String,
    pub span: Option<(usize, usize)>,
}

/// A number (the slice `num` of the policy text) bigger than `max`.
fn range<T>(num: &str, what: &str, max: u64) -> Result<T, nom::Err<PolErr>> {
    Err(nom::Err::Failure(PolErr::Range(
        super::grammar::out_of_range(what, max),
        num.as_ptr() as usize,
        num.len(),
    )))
}

impl<'a> nom::error::ParseError<&'a str> for PolErr {
    fn from_error_kind(_: &'a str, _: nom::error::ErrorKind) -> Self {
        PolErr::Syntax
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type PRes<'a, T> = IResult<&'a str, T, PolErr>;

/// A check failure: stops the whole parse with its text.
fn fail<T>(msg: &str) -> Result<T, nom::Err<PolErr>> {
    Err(nom::Err::Failure(PolErr::Msg(msg.to_string())))
}

/// The bytes of libipsec's address words, as a table: a policy's words
/// are read a byte at a time.
static ADDR_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b':' | b'.' | b'_');
        b += 1;
    }
    t
};

fn is_addr_byte(c: u8) -> bool {
    ADDR_BYTES[usize::from(c)]
}

/// Length of the run at the start of `bytes` whose bytes pass `ok`.
fn run_of(bytes: &[u8], ok: impl Fn(u8) -> bool) -> usize {
    bytes.iter().position(|&c| !ok(c)).unwrap_or(bytes.len())
}

/// `i` after its leading white space (nom's `multispace0` set), read
/// byte by byte: a policy is parsed word by word, and the white space
/// before each word is skipped many times per policy.
fn skip_blanks(i: &str) -> &str {
    let n = i
        .bytes()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(i.len());
    i.get(n..).unwrap_or("")
}

/// Only white space is left.
fn at_end(i: &str) -> bool {
    skip_blanks(i).is_empty()
}

/// One word of libipsec's scanner: an address-character run with an
/// optional `%scope`, after optional white space (nom's `multispace0`
/// set). All these characters are ASCII, so byte offsets are character
/// boundaries.
fn word(i: &str) -> PRes<'_, &str> {
    let rest = skip_blanks(i);
    let b = rest.as_bytes();
    let addr = run_of(b, is_addr_byte);
    if addr == 0 {
        return Err(nom::Err::Error(PolErr::Syntax));
    }
    let scope = match b.get(addr) {
        Some(b'%') => run_of(b.get(addr + 1..).unwrap_or_default(), |c| {
            c.is_ascii_alphanumeric()
        }),
        _ => 0,
    };
    let end = if scope > 0 { addr + 1 + scope } else { addr };
    match (rest.get(..end), rest.get(end..)) {
        (Some(w), Some(after)) => Ok((after, w)),
        _ => Err(nom::Err::Error(PolErr::Syntax)),
    }
}

/// A word that is one of the keywords of `table` (the word is read once,
/// then looked up).
fn one_of<'a, T: Copy>(i: &'a str, table: &[(&str, T)]) -> PRes<'a, T> {
    let (rest, w) = word(i)?;
    match table.iter().find(|(k, _)| *k == w) {
        Some(&(_, v)) => Ok((rest, v)),
        None => Err(nom::Err::Error(PolErr::Syntax)),
    }
}

/// A punctuation character of the policy language, after optional white
/// space.
fn sym<'a>(c: char) -> impl Parser<&'a str, Output = char, Error = PolErr> {
    move |i: &'a str| match skip_blanks(i).strip_prefix(c) {
        Some(rest) => Ok((rest, c)),
        None => Err(nom::Err::Error(PolErr::Syntax)),
    }
}

/// An exact keyword (a whole word).
fn kw<'a>(k: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = PolErr> {
    verify(word, move |w: &str| w == k)
}

/// Words that are keywords of the policy scanner, not addresses.
const RESERVED: &[&str] = &[
    "in",
    "out",
    "fwd",
    "priority",
    "prio",
    "low",
    "def",
    "high",
    "discard",
    "none",
    "ipsec",
    "bypass",
    "entrust",
    "esp",
    "ah",
    "ipcomp",
    "transport",
    "tunnel",
    "me",
    "any",
    "default",
    "use",
    "require",
    "unique",
];

/// A number word's value, saturating like strtoul (a caller that needs
/// to refuse a wrapped value compares against its field's maximum).
fn number(i: &str) -> PRes<'_, u64> {
    number_word(i).map(|(rest, (n, _))| (rest, n))
}

/// A number word: its value (saturating) and its text.
fn number_word(i: &str) -> PRes<'_, (u64, &str)> {
    verify(word, |w: &str| w.bytes().all(|b| b.is_ascii_digit()))
        .map(|w: &str| (digits_value(w), w))
        .parse(i)
}

/// The value of a run of ASCII digits, saturating at `u64::MAX`.
fn digits_value(w: &str) -> u64 {
    w.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10)
            .saturating_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// An address word (anything the scanner does not classify otherwise).
fn ip_word(i: &str) -> PRes<'_, &str> {
    verify(word, |w: &str| {
        !RESERVED.contains(&w)
            && !w.bytes().all(|b| b.is_ascii_digit())
            && !w
                .strip_prefix("unique:")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
    .parse(i)
}

fn direction(i: &str) -> PRes<'_, Direction> {
    one_of(
        i,
        &[
            ("in", Direction::In),
            ("out", Direction::Out),
            ("fwd", Direction::Fwd),
        ],
    )
}

fn action(i: &str) -> PRes<'_, PolicyAction> {
    one_of(
        i,
        &[
            ("discard", PolicyAction::Discard),
            ("none", PolicyAction::None),
            ("ipsec", PolicyAction::Ipsec),
            ("bypass", PolicyAction::Bypass),
            ("entrust", PolicyAction::Entrust),
        ],
    )
}

fn protocol(i: &str) -> PRes<'_, IpsecProtocol> {
    one_of(
        i,
        &[
            ("esp", IpsecProtocol::Esp),
            ("ah", IpsecProtocol::Ah),
            ("ipcomp", IpsecProtocol::IpComp),
        ],
    )
}

fn mode(i: &str) -> PRes<'_, IpsecMode> {
    one_of(
        i,
        &[
            ("transport", IpsecMode::Transport),
            ("tunnel", IpsecMode::Tunnel),
        ],
    )
}

/// `default`, `use`, `require`, `unique`, `unique:N`.
fn level(i: &str) -> PRes<'_, (Level, u32)> {
    let (rest, w) = word(i)?;
    let lv = match w {
        "default" => (Level::Default, 0),
        "use" => (Level::Use, 0),
        "require" => (Level::Require, 0),
        "unique" => (Level::Unique, 0),
        _ => match w.strip_prefix("unique:") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                // libipsec's atol, stored in 32 bits: refuse what would wrap.
                match u32::try_from(digits_value(n)) {
                    Ok(v) => (Level::Unique, v),
                    Err(_) => return range(n, "reqid", u32::MAX.into()),
                }
            }
            _ => return Err(nom::Err::Error(PolErr::Syntax)),
        },
    };
    Ok((rest, lv))
}

/// The priority part after `prio`/`priority`, unchecked: (value computer).
#[derive(Debug, Clone, Copy)]
enum Prio {
    Offset(u64),
    Negative(u64),
    Base(u32),
    BasePlus(u32, u64),
    BaseMinus(u32, u64),
}

fn base(i: &str) -> PRes<'_, u32> {
    one_of(
        i,
        &[
            ("low", 0xC000_0000u32),
            ("def", PRIORITY_DEFAULT),
            ("high", 0x4000_0000u32),
        ],
    )
}

fn prio_spec(i: &str) -> PRes<'_, Prio> {
    preceded(
        |i| one_of(i, &[("priority", ()), ("prio", ())]),
        alt((
            number.map(Prio::Offset),
            preceded(sym('-'), number).map(Prio::Negative),
            pair(base, opt(pair(alt((sym('+'), sym('-'))), number))).map(|(b, off)| match off {
                None => Prio::Base(b),
                Some(('+', n)) => Prio::BasePlus(b, n),
                Some((_, n)) => Prio::BaseMinus(b, n),
            }),
        )),
    )
    .parse(i)
}

/// Computes a priority with libipsec's range checks.
fn priority_value(p: Prio) -> Result<u32, &'static str> {
    const MID: u64 = 0x8000_0000;
    match p {
        Prio::Offset(n) if n <= MID => Ok((MID - n) as u32),
        Prio::Negative(n) if n < MID => Ok((MID + n) as u32),
        Prio::Offset(_) | Prio::Negative(_) => Err(PRIO_RANGE),
        Prio::Base(b) => Ok(b),
        Prio::BasePlus(b, n) if n <= 0x4000_0000 => Ok(b.wrapping_sub(n as u32)),
        Prio::BaseMinus(b, n) if n < 0x4000_0000 => Ok(b.wrapping_add(n as u32)),
        Prio::BasePlus(..) | Prio::BaseMinus(..) => Err(PRIO_BASE_RANGE),
    }
}

/// Policy parser with what the checks need.
struct PolicyParser<'n> {
    dir: Direction,
    action: PolicyAction,
    names: &'n dyn NameService,
}

/// Request end points as parsed: `None` = none written, `me-any`/`any-me`
/// also give none (libipsec sends no addresses for them).
type Endpoints = Option<(SocketAddr, SocketAddr)>;

impl PolicyParser<'_> {
    /// libipsec's `parse_sockaddr`: numeric host, optional port.
    fn sockaddr(&self, host: &str, port: Option<u64>) -> Result<SocketAddr, nom::Err<PolErr>> {
        let port = port.map(|p| p.to_string());
        match self.names.resolve(host, port.as_deref(), Family::Any, true) {
            Ok(list) => match list.first() {
                Some(a) => Ok(*a),
                None => fail("Name or service not known"),
            },
            Err(text) => fail(&text),
        }
    }

    /// `IP - IP`, `IP[N] - IP[N]`, `me - any`, `any - me`.
    fn addresses<'a>(&self, i: &'a str) -> PRes<'a, Endpoints> {
        if let Ok((rest, _)) = (kw("me"), sym('-'), kw("any")).parse(i) {
            if self.dir != Direction::Out {
                return fail(INVALID_DIRECTION);
            }
            return Ok((rest, None));
        }
        if let Ok((rest, _)) = (kw("any"), sym('-'), kw("me")).parse(i) {
            if self.dir != Direction::In {
                return fail(INVALID_DIRECTION);
            }
            return Ok((rest, None));
        }
        let port = |i| -> PRes<'_, u64> {
            let (i, (n, text)) = preceded(sym('['), number_word).parse(i)?;
            if n > u64::from(u16::MAX) {
                return range(text, "port", u16::MAX.into());
            }
            Ok((i, n))
        };
        let (i, src) = ip_word(i)?;
        let (i, sport) = opt(port).parse(i)?;
        let (i, sport) = match sport {
            Some(p) => (sym(']').parse(i)?.0, Some(p)),
            None => (i, None),
        };
        let src = self.sockaddr(src, sport)?;
        let (i, _) = sym('-').parse(i)?;
        let (i, dst) = ip_word(i)?;
        let (i, dport) = if sport.is_some() {
            let (i, p) = port(i)?;
            (sym(']').parse(i)?.0, Some(p))
        } else {
            (i, None)
        };
        let dst = self.sockaddr(dst, dport)?;
        Ok((i, Some((src, dst))))
    }

    /// One request, with libipsec's `Too few arguments` shortcuts and its
    /// `rule_check` (only for `ipsec` policies).
    fn request<'a>(&self, i: &'a str) -> PRes<'a, IpsecRequest> {
        let (i, proto) = protocol(i)?;
        let Ok((i, _)) = sym('/').parse(i) else {
            return fail(TOO_FEW);
        };
        let Ok((i, mode)) = mode(i) else {
            return fail(TOO_FEW);
        };
        let mut endpoints = None;
        let mut lv = (Level::Default, 0);
        let mut i = i;
        if let Ok((r, _)) = sym::<'a>('/').parse(i) {
            i = r;
            if let Ok((r, _)) = sym::<'a>('/').parse(i) {
                // PROTO/MODE//level: the level is required here.
                let (r, l) = level(r)?;
                lv = l;
                i = r;
            } else {
                match self.addresses(i) {
                    Ok((r, eps)) => {
                        endpoints = eps;
                        i = r;
                        if let Ok((r, _)) = sym::<'a>('/').parse(i) {
                            i = r;
                            if let Ok((r, l)) = level(i) {
                                lv = l;
                                i = r;
                            }
                        }
                    }
                    // A failed check (bad address, wrong direction) stops here.
                    Err(e @ nom::Err::Failure(_)) => return Err(e),
                    // No addresses: `PROTO/MODE/` alone.
                    Err(_) => {}
                }
            }
        }
        if self.action == PolicyAction::Ipsec {
            match endpoints {
                None if mode != IpsecMode::Transport => return fail(INVALID_ADDRESS),
                Some((s, d)) if s.is_ipv4() != d.is_ipv4() => return fail(FAMILY_MISMATCH),
                _ => {}
            }
        }
        Ok((
            i,
            IpsecRequest {
                protocol: proto,
                mode,
                level: lv.0,
                reqid: lv.1,
                endpoints: endpoints.map(Box::new),
            },
        ))
    }
}

/// Parses a whole policy text (the part after `-P`) into a [`Policy`], or
/// returns libipsec's error text.
#[cfg(test)]
pub(crate) fn parse_policy(text: &str, names: &dyn NameService) -> Result<Policy, String> {
    parse_policy_at(text, names).map_err(|f| f.text)
}

/// [`parse_policy`], also telling where in `text` a number too big for its
/// field is.
pub(crate) fn parse_policy_at(text: &str, names: &dyn NameService) -> Result<Policy, PolicyFail> {
    match usual_policy(text) {
        Some(policy) => Ok(policy),
        None => policy_by_the_grammar(text, names),
    }
}

/// The bytes of libipsec's scanner that [`word`] skips before a word
/// ([`skip_blanks`]'s set).
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A reader of the policy texts nearly every script writes, without nom:
/// `DIR`, or `DIR ACTION` and requests `PROTO/MODE` or `PROTO/MODE//LEVEL`
/// (the level a plain keyword). Each step reads what [`word`] and `sym`
/// read (blanks, then an address-character run or a punctuation byte);
/// only the words the grammar would take at that step are taken. A text
/// of any other shape (priorities, end points, `unique:N`, a `%scope`, an
/// error) gives `None`, and the grammar reads it: this
/// is a shortcut through the grammar's own steps, never a second opinion
/// (a unit test compares the two on many texts).
fn usual_policy(text: &str) -> Option<Policy> {
    let mut r = UsualReader {
        bytes: text.as_bytes(),
        at: 0,
    };
    let direction = match r.word()? {
        b"in" => Direction::In,
        b"out" => Direction::Out,
        b"fwd" => Direction::Fwd,
        _ => return None,
    };
    if r.at_end() {
        return Some(Policy {
            direction,
            action: PolicyAction::Discard,
            priority: 0,
            requests: SmallList::default(),
        });
    }
    // `prio`/`priority` would come here: not taken.
    let action = match r.word()? {
        b"discard" => PolicyAction::Discard,
        b"none" => PolicyAction::None,
        b"ipsec" => PolicyAction::Ipsec,
        b"bypass" => PolicyAction::Bypass,
        b"entrust" => PolicyAction::Entrust,
        _ => return None,
    };
    let mut requests = SmallList::default();
    while !r.at_end() {
        let protocol = match r.word()? {
            b"esp" => IpsecProtocol::Esp,
            b"ah" => IpsecProtocol::Ah,
            b"ipcomp" => IpsecProtocol::IpComp,
            _ => return None,
        };
        r.sym(b'/')?;
        let mode = match r.word()? {
            b"transport" => IpsecMode::Transport,
            // Without end points the grammar refuses a tunnel in an
            // `ipsec` policy.
            b"tunnel" if action != PolicyAction::Ipsec => IpsecMode::Tunnel,
            _ => return None,
        };
        let mut level = Level::Default;
        if r.sym(b'/').is_some() {
            // `PROTO/MODE/` with or without end points: not taken.
            r.sym(b'/')?;
            level = match r.word()? {
                b"default" => Level::Default,
                b"use" => Level::Use,
                b"require" => Level::Require,
                b"unique" => Level::Unique,
                _ => return None,
            };
        }
        requests.push(IpsecRequest {
            protocol,
            mode,
            level,
            reqid: 0,
            endpoints: None,
        });
    }
    Some(Policy {
        direction,
        action,
        priority: PRIORITY_DEFAULT,
        requests,
    })
}

/// [`usual_policy`]'s position in the text.
struct UsualReader<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl<'t> UsualReader<'t> {
    fn skip_blanks(&mut self) {
        while self.bytes.get(self.at).is_some_and(|&b| is_blank(b)) {
            self.at += 1;
        }
    }

    /// Only blanks are left ([`at_end`]).
    fn at_end(&mut self) -> bool {
        self.skip_blanks();
        self.at >= self.bytes.len()
    }

    /// The next word as [`word`] reads it, without its `%scope` if it has
    /// one: no step takes a `%`, so such a text is never taken (the grammar
    /// reads the scope as part of the word, and takes it for an address).
    fn word(&mut self) -> Option<&'t [u8]> {
        self.skip_blanks();
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|&b| is_addr_byte(b)) {
            self.at += 1;
        }
        if self.at == start {
            return None;
        }
        self.bytes.get(start..self.at)
    }

    /// The punctuation byte `c` after blanks (`sym`); `None`, having read
    /// the blanks only, if another byte comes.
    fn sym(&mut self, c: u8) -> Option<()> {
        self.skip_blanks();
        if self.bytes.get(self.at) == Some(&c) {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }
}

/// [`parse_policy_at`] by the grammar: every shape, every error.
fn policy_by_the_grammar(text: &str, names: &dyn NameService) -> Result<Policy, PolicyFail> {
    let base = text.as_ptr() as usize;
    let to_text = |e: nom::Err<PolErr>| match e {
        nom::Err::Failure(PolErr::Msg(m)) | nom::Err::Error(PolErr::Msg(m)) => PolicyFail {
            text: m,
            span: None,
        },
        nom::Err::Failure(PolErr::Range(m, at, len))
        | nom::Err::Error(PolErr::Range(m, at, len)) => PolicyFail {
            text: m,
            span: at.checked_sub(base).map(|off| (off, len)),
        },
        _ => PolicyFail {
            text: INVALID_ARGUMENT.to_string(),
            span: None,
        },
    };
    let (i, dir) = direction(text).map_err(to_text)?;
    if at_end(i) {
        return Ok(Policy {
            direction: dir,
            action: PolicyAction::Discard,
            priority: 0,
            requests: SmallList::default(),
        });
    }
    let (i, prio) = opt(prio_spec).parse(i).map_err(to_text)?;
    let (mut i, act) = action(i).map_err(to_text)?;
    let priority = match prio {
        Some(p) => priority_value(p).map_err(|m| PolicyFail {
            text: m.to_string(),
            span: None,
        })?,
        None => PRIORITY_DEFAULT,
    };
    let parser = PolicyParser {
        dir,
        action: act,
        names,
    };
    // The usual single request is kept inline: a script holds thousands
    // of policies.
    let mut requests = SmallList::default();
    loop {
        if at_end(i) {
            break;
        }
        let (r, req) = parser.request(i).map_err(to_text)?;
        requests.push(req);
        i = r;
    }
    Ok(Policy {
        direction: dir,
        action: act,
        priority,
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::super::resolve::FileNames;
    use super::*;

    fn p(text: &str) -> Result<Policy, String> {
        parse_policy(text, &FileNames::default())
    }

    #[test]
    fn words_with_and_without_scope() {
        assert_eq!(word(" \t\r\nfe80::1%eth0-x"), Ok(("-x", "fe80::1%eth0")));
        assert_eq!(word("a_b.c%-"), Ok(("%-", "a_b.c")));
        assert_eq!(word("unique:3/"), Ok(("/", "unique:3")));
        assert_eq!(word("  "), Err(nom::Err::Error(PolErr::Syntax)));
        assert_eq!(word("\u{e9}a"), Err(nom::Err::Error(PolErr::Syntax)));
        assert_eq!(direction(" inx"), Err(nom::Err::Error(PolErr::Syntax)));
        assert_eq!(direction(" fwd ipsec"), Ok((" ipsec", Direction::Fwd)));
    }

    #[test]
    fn direction_only_and_actions() {
        let pol = p(" in").unwrap();
        assert_eq!((pol.action, pol.priority), (PolicyAction::Discard, 0));
        let pol = p(" out none").unwrap();
        assert_eq!(
            (pol.action, pol.priority),
            (PolicyAction::None, PRIORITY_DEFAULT)
        );
        assert_eq!(p(" out entrust").unwrap().action, PolicyAction::Entrust);
        assert_eq!(p(" sideways none"), Err(INVALID_ARGUMENT.into()));
        assert_eq!(p(" out none garbage"), Err(INVALID_ARGUMENT.into()));
    }

    #[test]
    fn priorities() {
        let prio = |t: &str| p(t).map(|pol| pol.priority);
        assert_eq!(prio(" out prio def none"), Ok(0x8000_0000));
        assert_eq!(prio(" out prio low none"), Ok(0xC000_0000));
        assert_eq!(prio(" out prio high none"), Ok(0x4000_0000));
        assert_eq!(prio(" out prio 100 none"), Ok(0x8000_0000 - 100));
        assert_eq!(prio(" out prio -7 none"), Ok(0x8000_0007));
        assert_eq!(prio(" out prio low + 5 none"), Ok(0xC000_0000 - 5));
        assert_eq!(prio(" out prio high - 5 none"), Ok(0x4000_0005));
        assert_eq!(prio(" out priority def + 3 none"), Ok(0x8000_0000 - 3));
        assert_eq!(prio(" out prio 2147483648 none"), Ok(0));
        assert_eq!(prio(" out prio 2147483649 none"), Err(PRIO_RANGE.into()));
        assert_eq!(prio(" out prio -2147483648 none"), Err(PRIO_RANGE.into()));
        assert_eq!(
            prio(" out prio def + 1073741825 none"),
            Err(PRIO_BASE_RANGE.into())
        );
        assert_eq!(
            prio(" out prio def - 1073741824 none"),
            Err(PRIO_BASE_RANGE.into())
        );
        assert_eq!(prio(" out prio +5 none"), Err(INVALID_ARGUMENT.into()));
    }

    #[test]
    fn requests_and_levels() {
        let pol =
            p(" out ipsec\n esp/transport//require ah/transport//unique:42 ipcomp/transport/")
                .unwrap();
        assert_eq!(pol.requests.len(), 3);
        assert_eq!(pol.requests[0].level, Level::Require);
        assert_eq!(
            (pol.requests[1].level, pol.requests[1].reqid),
            (Level::Unique, 42)
        );
        assert_eq!(pol.requests[2].level, Level::Default);
        let pol = p(" out ipsec esp / transport // use").unwrap();
        assert_eq!(pol.requests[0].level, Level::Use);
        assert_eq!(
            p(" out ipsec esp/transport//"),
            Err(INVALID_ARGUMENT.into())
        );
    }

    #[test]
    fn request_errors() {
        assert_eq!(p(" out ipsec esp/bogus//require"), Err(TOO_FEW.into()));
        assert_eq!(p(" out ipsec esp"), Err(TOO_FEW.into()));
        assert_eq!(p(" out ipsec esp/"), Err(TOO_FEW.into()));
        assert_eq!(
            p(" out ipsec esp/tunnel//require"),
            Err(INVALID_ADDRESS.into())
        );
        assert_eq!(
            p(" out ipsec esp/tunnel/10.0.0.1-::1/require"),
            Err(FAMILY_MISMATCH.into())
        );
        assert_eq!(
            p(" in ipsec esp/transport/me-any/require"),
            Err(INVALID_DIRECTION.into())
        );
        assert_eq!(
            p(" out ipsec esp/transport/any-me/require"),
            Err(INVALID_DIRECTION.into())
        );
        assert!(p(" out ipsec esp/transport/me-any/require").is_ok());
        assert!(p(" in ipsec esp/transport/any-me").is_ok());
        assert_eq!(
            p(" out ipsec esp/tunnel/me-any/require"),
            Err(INVALID_ADDRESS.into())
        );
        assert_eq!(
            p(" out ipsec esp/tunnel/10.0.0.300-10.0.0.1/require"),
            Err("Name or service not known".into())
        );
        // Checks are for ipsec policies only.
        assert!(p(" out none esp/tunnel//require").is_ok());
    }

    #[test]
    fn tunnel_endpoints_with_ports() {
        let pol = p(" out ipsec esp/tunnel/10.0.0.1[500]-10.0.0.2[4500]/require").unwrap();
        assert_eq!(
            pol.requests[0].endpoints.as_deref(),
            Some(&(
                "10.0.0.1:500".parse().unwrap(),
                "10.0.0.2:4500".parse().unwrap()
            ))
        );
        let pol = p(" out ipsec esp/tunnel/2001:db8::1-2001:db8::2/require").unwrap();
        assert!(pol.requests[0].endpoints.is_some());
    }

    #[test]
    fn usual_policies_read_as_the_grammar_reads_them() {
        const PIECES: &[&str] = &[
            " out",
            " in",
            "fwd",
            " ipsec",
            " none",
            "discard",
            " bypass",
            "entrust",
            " esp/transport//require",
            " ah/tunnel",
            "ipcomp/transport/",
            " esp",
            "ah",
            "/",
            "//",
            " / ",
            "transport",
            "tunnel",
            " require",
            "use",
            "default",
            "unique",
            "unique:2",
            "%x",
            "%",
            " ",
            "\t",
            "\n",
            "\r",
            "prio 3",
            "priority",
            "10.0.0.1-10.0.0.2",
            "me-any",
            "x",
            "\u{e9}",
            "[",
            "]",
            "-",
            "outx",
            "1",
        ];
        let names = FileNames::default();
        let mut next = crate::parse::test_walk(0x2545_F491_4F6C_DD1D);
        let mut taken = 0;
        for _ in 0..40_000 {
            // Mostly a direction and an action first, then anything.
            let mut text = String::new();
            for (from, to) in [(0, 3), (3, 8)] {
                if next(10) < 8 {
                    text.push_str(PIECES[from + next(to - from)]);
                }
            }
            for _ in 0..next(6) {
                text.push_str(PIECES[next(PIECES.len())]);
            }
            if let Some(fast) = usual_policy(&text) {
                taken += 1;
                assert_eq!(Ok(fast), policy_by_the_grammar(&text, &names), "{text:?}");
            }
        }
        // The walk meets the usual shapes often enough to mean something.
        assert!(taken > 2_000, "{taken}");
        for text in [
            " out ipsec esp/transport//require",
            "in none",
            " fwd ipsec esp/transport//use ah / transport / / unique ipcomp/transport",
            "out\n\tbypass",
            " out discard esp/tunnel",
        ] {
            let fast = usual_policy(text);
            assert!(fast.is_some(), "{text:?}");
            assert_eq!(
                Ok(fast.unwrap()),
                policy_by_the_grammar(text, &names),
                "{text:?}"
            );
        }
        for text in [
            " out ipsec esp/tunnel//require",
            " out prio 3 ipsec esp/transport//require",
            " out ipsec esp/transport/10.0.0.1-10.0.0.2/require",
            " out ipsec esp/transport//unique:3",
            " out%x ipsec",
            " out ipsec esp/transport/",
        ] {
            assert_eq!(usual_policy(text), None, "{text:?}");
        }
    }
}
