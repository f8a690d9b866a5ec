//! setkey's statement grammar over the token stream, with the lowering to
//! IR done at the same points where setkey performs its semantic actions.
//!
//! setkey is a bison parser whose actions resolve addresses, check keys and
//! build messages while it reads. Which error a faulty statement reports,
//! and which token that message names (`at `TOK'`), depend on that order
//! and on whether bison had already read a lookahead token. The parsers
//! below are nom parsers over a token slice ([`Toks`]); every semantic
//! check sits where setkey's action sits and names the same token.

use std::net::{IpAddr, SocketAddr};

use nom::{IResult, Input, Needed};

use super::Options;
use super::lexer::{EncKind, ExtFlag, Keyword, ProtoKw, TokKind, Token};
use super::policy::{PolicyFail, parse_policy_at};
use super::resolve::{Addresses, Family, NameService};
use crate::algorithms::{self, Kind};
use crate::ir::{
    self, DeleteAll, Direction, IpsecMode, Key, Level, Lifetime, NAT_T_PORT, NatTraversal,
    Operation, Operations, PolicyRequest, SaType, SecurityAssociation, SecurityContext,
    SelectorAddress, Statement, Transforms, UPPER_ANY,
};

mod sa;
mod spd;
pub(crate) mod usual;

pub(crate) use usual::{PolicyMemo, Usual};

/// The token stream as nom input: the whole slice plus a position, so
/// errors can name the token index they happened at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Toks<'a> {
    all: &'a [Token],
    pos: usize,
}

impl<'a> Toks<'a> {
    /// Input starting at the first token.
    pub(crate) fn new(all: &'a [Token]) -> Self {
        Toks { all, pos: 0 }
    }

    /// Index of the current token in the whole stream.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The current token (the lookahead), `None` past the end.
    pub(crate) fn peek(&self) -> Option<&'a Token> {
        self.all.get(self.pos)
    }

    fn rest(&self) -> &'a [Token] {
        self.all.get(self.pos..).unwrap_or(&[])
    }
}

impl<'a> Input for Toks<'a> {
    type Item = &'a Token;
    type Iter = std::slice::Iter<'a, Token>;
    type IterIndices = std::iter::Enumerate<std::slice::Iter<'a, Token>>;

    fn input_len(&self) -> usize {
        self.rest().len()
    }
    fn take(&self, index: usize) -> Self {
        // Only the position matters to this grammar; a prefix view keeps it.
        let end = (self.pos + index).min(self.all.len());
        Toks {
            all: self.all.get(..end).unwrap_or(self.all),
            pos: self.pos,
        }
    }
    fn take_from(&self, index: usize) -> Self {
        Toks {
            all: self.all,
            pos: (self.pos + index).min(self.all.len()),
        }
    }
    fn take_split(&self, index: usize) -> (Self, Self) {
        (self.take_from(index), self.take(index))
    }
    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.rest().iter().position(predicate)
    }
    fn iter_elements(&self) -> Self::Iter {
        self.rest().iter()
    }
    fn iter_indices(&self) -> Self::IterIndices {
        self.rest().iter().enumerate()
    }
    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if self.rest().len() >= count {
            Ok(count)
        } else {
            Err(Needed::new(count - self.rest().len()))
        }
    }
}

/// What went wrong, before it is turned into a [`super::ParseError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailKind {
    /// bison's `syntax error`.
    Syntax,
    /// A semantic error with setkey's text (the ` at `TOK'` part is added
    /// from the token).
    Msg(String),
    /// A key of the wrong length: text plus (bits, min, max).
    KeyLength(usize, u16, u16),
    /// No source/destination pair of one family: only `parse failed`.
    NoPair,
    /// A character the lexer rejects.
    Fatal,
    /// A number too big for its field (setkey would wrap it), with the
    /// message that names the field and its range.
    Range(String),
}

/// A failure at a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    /// Index of the token setkey names (`yytext`) and whose line it prints.
    pub at: usize,
    /// What happened.
    pub kind: FailKind,
    /// A hint for the diagnostic.
    pub help: Option<String>,
    /// Where the diagnostic points, as (byte offset, length) in the
    /// script, when that is a part of the token (a number inside the `-P`
    /// policy text) rather than the whole token.
    pub span: Option<(usize, usize)>,
}

impl<'a> nom::error::ParseError<Toks<'a>> for Fail {
    fn from_error_kind(input: Toks<'a>, _: nom::error::ErrorKind) -> Self {
        fail_at(input, FailKind::Syntax)
    }
    fn append(_: Toks<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// A failure at the current token; a fatal character there wins, because
/// setkey's scanner dies on it as soon as it is read.
fn fail_at(input: Toks<'_>, kind: FailKind) -> Fail {
    let kind = match input.peek() {
        Some(t) if t.kind == TokKind::Fatal => FailKind::Fatal,
        _ => kind,
    };
    Fail {
        at: input.pos(),
        kind,
        help: None,
        span: None,
    }
}

type Res<'a, T> = IResult<Toks<'a>, T, Fail>;

/// A semantic failure (no backtracking) naming the current lookahead.
fn cut_at<T>(input: Toks<'_>, kind: FailKind) -> Result<T, nom::Err<Fail>> {
    Err(nom::Err::Failure(fail_at(input, kind)))
}

/// A semantic failure naming an already consumed token (bison reduced
/// without reading a lookahead).
fn cut_tok<T>(at: usize, kind: FailKind, help: Option<String>) -> Result<T, nom::Err<Fail>> {
    Err(nom::Err::Failure(Fail {
        at,
        kind,
        help,
        span: None,
    }))
}

/// The message of a number that does not fit its field: rsetkey refuses
/// it where setkey would silently wrap or truncate it.
pub(crate) fn out_of_range(what: &str, max: u64) -> String {
    format!("{what} not in valid range [0, {max}]")
}

/// A policy text refused: the message names the policy token (as setkey's
/// does); a number too big for its field is pointed at inside it.
fn policy_fail<T>(
    at: usize,
    pol: &Token,
    f: PolicyFail,
    help: Option<String>,
) -> Result<T, nom::Err<Fail>> {
    let help = match f.span {
        Some(_) => Some("libipsec would silently wrap this number".to_string()),
        None => help,
    };
    let kind = match f.span {
        Some(_) => FailKind::Range(f.text),
        None => FailKind::Msg(f.text),
    };
    Err(nom::Err::Failure(Fail {
        at,
        kind,
        help,
        span: f.span.map(|(off, len)| (pol.start + off, len)),
    }))
}

/// A number too big for its field, naming the number's token.
fn range_fail<T>(at: usize, what: &str, max: u64) -> Result<T, nom::Err<Fail>> {
    cut_tok(
        at,
        FailKind::Range(out_of_range(what, max)),
        Some(format!(
            "setkey would silently wrap this number; {what} is at most {max}"
        )),
    )
}

/// Accepts one token matching `pred`.
fn tok_if<'a>(input: Toks<'a>, pred: impl Fn(TokKind) -> bool) -> Res<'a, &'a Token> {
    match input.peek() {
        Some(t) if pred(t.kind) => Ok((input.take_from(1), t)),
        _ => Err(nom::Err::Error(fail_at(input, FailKind::Syntax))),
    }
}

/// Accepts one token of exactly this kind.
fn tok(input: Toks<'_>, kind: TokKind) -> Res<'_, &Token> {
    tok_if(input, |k| k == kind)
}

/// [`tok`] for an optional token, where a mismatch is no error: the input
/// after it, and the token, or `None` without building a failure that
/// would be thrown away (statements probe for many optional tokens).
fn next_if(input: Toks<'_>, kind: TokKind) -> Option<(Toks<'_>, &Token)> {
    match input.peek() {
        Some(t) if t.kind == kind => Some((input.take_from(1), t)),
        _ => None,
    }
}

/// After a statement keyword nothing backtracks: a mismatch is the error.
fn commit<T>(r: Res<'_, T>) -> Res<'_, T> {
    r.map_err(|e| match e {
        nom::Err::Error(f) => nom::Err::Failure(f),
        other => other,
    })
}

/// A decimal token's value; `None` beyond 64 bits (no field is wider).
fn dec_value(text: &str) -> Option<u64> {
    decimal(text.as_bytes())
}

/// The value of decimal digits; `None` beyond 64 bits or for a byte that
/// is no digit.
fn decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        let d = d.is_ascii_digit().then(|| d - b'0')?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A hex token's value; `None` beyond 64 bits.
fn hex_value(text: &str) -> Option<u64> {
    hexadecimal(text.as_bytes().get(2..)?)
}

/// The value of hex digits (after the `0x`); `None` beyond 64 bits or for
/// a byte that is no hex digit.
fn hexadecimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(16)?
            .checked_add(u64::from(super::lexer::hex_digit(d)?))
    })
}

/// Per-statement parameters (setkey's `p_*` globals, reset per statement).
#[derive(Debug, Clone)]
struct SaParams {
    family: Family,
    numeric: bool,
    satype: SaType,
    spi: u32,
    mode: IpsecMode,
    mode_given: bool,
    reqid: u32,
    /// `-r` as written (the SA gets it modulo 256).
    replay: u64,
    flags: u32,
    transforms: Transforms,
    hard: Lifetime,
    soft: Lifetime,
    context: Option<SecurityContext>,
    nat: bool,
    nat_oa: Option<IpAddr>,
}

use crate::ir::sa_flags::*;

impl Default for SaParams {
    fn default() -> Self {
        SaParams {
            family: Family::Any,
            numeric: false,
            satype: SaType::Unspec,
            spi: 0,
            mode: IpsecMode::Any,
            mode_given: false,
            reqid: 0,
            replay: 0,
            flags: FLAG_CYCSEQ,
            transforms: Transforms::default(),
            hard: Lifetime::default(),
            soft: Lifetime::default(),
            context: None,
            nat: false,
            nat_oa: None,
        }
    }
}

/// Which SA statement is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaCmd {
    Add,
    Get,
    Delete,
    GetSpi,
}

/// Which policy statement is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpdCmd {
    Add,
    Update,
    Delete,
}

/// The parser: options, name service and the source (for key bytes).
pub(crate) struct Grammar<'a> {
    pub options: &'a Options,
    pub names: &'a dyn NameService,
    pub source: &'a str,
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// "did you mean X?" among `names`, when one is close.
fn suggest<'n>(word: &str, names: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    names
        .map(|n| (distance(word, n), n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

impl<'a> Grammar<'a> {
    /// A token's text as setkey prints it.
    fn text(&self, t: &Token) -> &'a str {
        t.text(self.source)
    }

    /// Resolves an address the way setkey's `parse_addr` does; a failure
    /// names the token at `at_input` (the lookahead, or `at_tok`).
    fn resolve(
        &self,
        host: &Token,
        service: Option<&str>,
        p: &SaParams,
        err_at: Result<Toks<'_>, usize>,
    ) -> Result<Addresses, nom::Err<Fail>> {
        match self
            .names
            .resolve(self.text(host), service, p.family, p.numeric)
        {
            Ok(list) if !list.is_empty() => Ok(list),
            Ok(_) => self.resolve_fail("Name or service not known".to_string(), host, err_at),
            Err(text) => self.resolve_fail(text, host, err_at),
        }
    }

    fn resolve_fail<T>(
        &self,
        text: String,
        host: &Token,
        err_at: Result<Toks<'_>, usize>,
    ) -> Result<T, nom::Err<Fail>> {
        let help = Some(format!(
            "`{}` is neither a numeric address nor a host name the resolver knows",
            self.text(host)
        ));
        match err_at {
            Ok(input) => Err(nom::Err::Failure(Fail {
                help,
                ..fail_at(input, FailKind::Msg(text))
            })),
            Err(at) => cut_tok(at, FailKind::Msg(text), help),
        }
    }

    /// `{ -4 | -6 | -n }`.
    fn ipaddropts<'i>(&self, mut i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        while let Some((rest, t)) = next_if(i, TokKind::AiFlags) {
            for c in self.text(t).chars().skip(1) {
                match c {
                    '4' => p.family = Family::V4,
                    '6' => p.family = Family::V6,
                    _ => p.numeric = true,
                }
            }
            i = rest;
        }
        Ok((i, ()))
    }

    /// `[ "[" (any | DEC | STRING) "]" ]`: the service string for getaddrinfo.
    fn portstr<'i>(&self, i: Toks<'i>) -> Res<'i, Option<String>> {
        let Some((i, _)) = next_if(i, TokKind::BLcl) else {
            return Ok((i, None));
        };
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| {
            matches!(k, TokKind::Any | TokKind::Dec | TokKind::Str)
        }))?;
        let service = match t.kind {
            TokKind::Any => "0".to_string(),
            TokKind::Dec => match dec_value(self.text(t)).filter(|&v| v <= u64::from(u16::MAX)) {
                Some(v) => v.to_string(),
                None => return range_fail(at, "port", u16::MAX.into()),
            },
            _ => self.text(t).to_string(),
        };
        let (i, _) = commit(tok(i, TokKind::ELcl))?;
        Ok((i, Some(service)))
    }

    /// `STRING [port]`, resolved at once (setkey's `ipandport`): an error
    /// names the token after the address (bison's lookahead).
    fn ipandport<'i>(&self, i: Toks<'i>, p: &SaParams) -> Res<'i, Addresses> {
        let (i, host) = commit(tok(i, TokKind::Str))?;
        let (i, service) = self.portstr(i)?;
        let addrs = self.resolve(host, service.as_deref(), p, Ok(i))?;
        Ok((i, addrs))
    }

    /// `STRING` resolved at once (`ipaddr`); errors name the address itself.
    fn ipaddr<'i>(&self, i: Toks<'i>, p: &SaParams) -> Res<'i, Addresses> {
        let at = i.pos();
        let (i, host) = commit(tok(i, TokKind::Str))?;
        let addrs = self.resolve(host, None, p, Err(at))?;
        Ok((i, addrs))
    }

    /// `[ protocol ]`.
    fn protocol_spec<'i>(&self, i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        let Ok((i, t)) = tok_if(i, |k| matches!(k, TokKind::Proto(_))) else {
            return Ok((i, ()));
        };
        let TokKind::Proto(proto) = t.kind else {
            return Ok((i, ()));
        };
        match proto {
            ProtoKw::Esp | ProtoKw::EspOld => {
                p.satype = SaType::Esp;
                set_old(p, proto == ProtoKw::EspOld);
            }
            ProtoKw::Ah | ProtoKw::AhOld => {
                p.satype = SaType::Ah;
                set_old(p, proto == ProtoKw::AhOld);
            }
            ProtoKw::IpComp => p.satype = SaType::IpComp,
            ProtoKw::Tcp => p.satype = SaType::Unspec,
            ProtoKw::EspUdp => {
                p.satype = SaType::Esp;
                set_old(p, false);
                p.nat = true;
                if i.peek().is_some_and(|t| t.kind == TokKind::Str) {
                    let (rest, oa) = self.ipaddr(i, p)?;
                    p.nat_oa = oa.first().map(|a| a.ip());
                    return Ok((rest, ()));
                }
            }
        }
        Ok((i, ()))
    }

    /// A decimal argument of at most `max` (what = the field, for the
    /// message when it does not fit).
    fn dec<'i>(&self, i: Toks<'i>, what: &str, max: u64) -> Res<'i, (u64, usize)> {
        let at = i.pos();
        let (i, t) = commit(tok(i, TokKind::Dec))?;
        match dec_value(self.text(t)).filter(|&v| v <= max) {
            Some(v) => Ok((i, (v, at))),
            None => range_fail(at, what, max),
        }
    }

    /// `-ctx DOI ALG "string"`; DOI 0 means no context.
    fn ctx<'i>(&self, i: Toks<'i>) -> Res<'i, Option<SecurityContext>> {
        let (i, (doi, _)) = self.dec(i, "context DOI", u8::MAX.into())?;
        let (i, (alg, _)) = self.dec(i, "context algorithm", u8::MAX.into())?;
        let (i, s) = commit(tok(i, TokKind::Quoted))?;
        let ctx = (doi != 0).then(|| SecurityContext {
            doi: doi as u8,
            alg: alg as u8,
            context: self.text(s).as_bytes().to_vec(),
        });
        Ok((i, ctx))
    }

    /// The terminating `;`.
    fn eot<'i>(&self, i: Toks<'i>) -> Res<'i, &'i Token> {
        match tok(i, TokKind::Eot) {
            Ok(r) => Ok(r),
            Err(_) => {
                let mut f = fail_at(i, FailKind::Syntax);
                if i.peek().is_some_and(|t| t.kind == TokKind::Eof) {
                    f.help = Some("every statement ends with `;`".into());
                }
                Err(nom::Err::Failure(f))
            }
        }
    }

    /// One statement; `None` at the end of the script.
    pub(crate) fn statement<'i>(&self, i: Toks<'i>) -> Res<'i, Option<Statement>> {
        let Some(first) = i.peek() else {
            return Ok((i, None));
        };
        let start = first.start;
        let rest = i.take_from(1);
        let (i, (operations, warnings, eot_at)) = match first.kind {
            TokKind::Eof => return Ok((i, None)),
            TokKind::Keyword(Keyword::Add) => self.sa_statement(rest, SaCmd::Add)?,
            TokKind::Keyword(Keyword::Get) => self.sa_statement(rest, SaCmd::Get)?,
            TokKind::Keyword(Keyword::Delete) => self.sa_statement(rest, SaCmd::Delete)?,
            TokKind::Keyword(Keyword::GetSpi) => self.sa_statement(rest, SaCmd::GetSpi)?,
            TokKind::Keyword(Keyword::DeleteAll) => self.deleteall(rest)?,
            TokKind::Keyword(Keyword::Flush) => self.flush_dump(rest, false)?,
            TokKind::Keyword(Keyword::Dump) => self.flush_dump(rest, true)?,
            TokKind::Keyword(Keyword::SpdAdd) => self.spd_statement(rest, SpdCmd::Add)?,
            TokKind::Keyword(Keyword::SpdUpdate) => self.spd_statement(rest, SpdCmd::Update)?,
            TokKind::Keyword(Keyword::SpdDelete) => self.spd_statement(rest, SpdCmd::Delete)?,
            TokKind::Keyword(kw @ (Keyword::SpdFlush | Keyword::SpdDump | Keyword::Exit)) => {
                let eot_at = rest.pos();
                let (i, _) = self.eot(rest)?;
                let op = match kw {
                    Keyword::SpdFlush => Operation::SpdFlush,
                    Keyword::SpdDump => Operation::SpdDump,
                    _ => Operation::Exit,
                };
                (i, (vec![op], Vec::new(), eot_at))
            }
            _ => {
                let mut f = fail_at(i, FailKind::Syntax);
                if first.kind == TokKind::Str {
                    f.help = Some(if self.text(first) == "update" {
                        "setkey has no `update` command; `delete` the SA and `add` it again".into()
                    } else {
                        let cmds = [
                            "add",
                            "get",
                            "delete",
                            "deleteall",
                            "getspi",
                            "flush",
                            "dump",
                            "spdadd",
                            "spdupdate",
                            "spddelete",
                            "spdflush",
                            "spddump",
                            "exit",
                        ];
                        match suggest(self.text(first), cmds.into_iter()) {
                            Some(c) => format!("not a statement; did you mean `{c}`?"),
                            None => {
                                "a statement starts with a command such as add or spdadd".into()
                            }
                        }
                    });
                }
                return Err(nom::Err::Failure(f));
            }
        };
        let (line, end) = i.all.get(eot_at).map_or((0, start), |t| (t.line, t.end));
        Ok((
            i,
            Some(Statement {
                location: ir::Location {
                    line,
                    offset: start,
                    len: end.saturating_sub(start),
                },
                warnings,
                operations,
            }),
        ))
    }
}

/// The (source, destination) pairs of one address family, in setkey's
/// order (every source with every destination), each with whether it is
/// the last: the last one can take the statement's parts (keys, policy)
/// instead of a copy.
fn same_family_pairs<'l>(
    srcs: &'l Addresses,
    dsts: &'l Addresses,
) -> impl Iterator<Item = (SocketAddr, SocketAddr, bool)> + 'l {
    let pairs = move || {
        srcs.iter()
            .flat_map(move |s| dsts.iter().map(move |d| (*s, *d)))
            .filter(|(s, d)| s.is_ipv4() == d.is_ipv4())
    };
    let count = pairs().count();
    pairs()
        .enumerate()
        .map(move |(n, (s, d))| (s, d, n + 1 == count))
}

/// The NAT-T port of an address: its port, 4500 when none was given.
fn nz_port(p: u16) -> u16 {
    if p == 0 { NAT_T_PORT } else { p }
}

fn set_old(p: &mut SaParams, old: bool) {
    if old {
        p.flags |= FLAG_OLD;
    } else {
        p.flags &= !FLAG_OLD;
    }
}
