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
use super::resolve::{Family, NameService};
use crate::algorithms::{self, Kind};
use crate::ir::{
    self, DeleteAll, Direction, IpsecMode, Key, Level, Lifetime, NAT_T_PORT, NatTraversal,
    Operation, PolicyRequest, SaType, SecurityAssociation, SecurityContext, SelectorAddress,
    Statement, Transforms, UPPER_ANY,
};

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

/// After a statement keyword nothing backtracks: a mismatch is the error.
fn commit<T>(r: Res<'_, T>) -> Res<'_, T> {
    r.map_err(|e| match e {
        nom::Err::Error(f) => nom::Err::Failure(f),
        other => other,
    })
}

/// A decimal token's value; `None` beyond 64 bits (no field is wider).
fn dec_value(text: &str) -> Option<u64> {
    text.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// A hex token's value; `None` beyond 64 bits.
fn hex_value(text: &str) -> Option<u64> {
    text.get(2..).unwrap_or("").chars().try_fold(0u64, |n, c| {
        n.checked_mul(16)?
            .checked_add(u64::from(c.to_digit(16).unwrap_or(0)))
    })
}

/// Key bytes of a key token: raw bytes of a quoted string, or hex digits
/// (an odd count gets a leading zero nibble).
///
/// The output buffer is allocated at its final size (no reallocation
/// leaves a stray copy behind), the digits are decoded straight into it,
/// and it goes into a zeroizing [`Key`].
fn key_bytes(source: &str, t: &Token) -> Key {
    match t.kind {
        TokKind::Quoted => Key::new(
            source
                .as_bytes()
                .get(t.start + 1..t.end.saturating_sub(1))
                .unwrap_or(&[])
                .to_vec(),
        ),
        _ => {
            let hex = t.text(source).as_bytes().get(2..).unwrap_or(&[]);
            let nibble = |c: u8| char::from(c).to_digit(16).unwrap_or(0) as u8;
            let mut out = Vec::with_capacity(hex.len().div_ceil(2));
            // An odd digit count: the first digit is a byte of its own.
            let (odd, pairs) = hex.split_at(hex.len() % 2);
            out.extend(odd.iter().map(|&c| nibble(c)));
            out.extend(
                pairs
                    .chunks_exact(2)
                    .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1])),
            );
            Key::new(out)
        }
    }
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
    ) -> Result<Vec<SocketAddr>, nom::Err<Fail>> {
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
        while let Ok((rest, t)) = tok(i, TokKind::AiFlags) {
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
        let Ok((i, _)) = tok(i, TokKind::BLcl) else {
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
    fn ipandport<'i>(&self, i: Toks<'i>, p: &SaParams) -> Res<'i, Vec<SocketAddr>> {
        let (i, host) = commit(tok(i, TokKind::Str))?;
        let (i, service) = self.portstr(i)?;
        let addrs = self.resolve(host, service.as_deref(), p, Ok(i))?;
        Ok((i, addrs))
    }

    /// `STRING` resolved at once (`ipaddr`); errors name the address itself.
    fn ipaddr<'i>(&self, i: Toks<'i>, p: &SaParams) -> Res<'i, Vec<SocketAddr>> {
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

    /// `DEC | HEX`: 32 bits. setkey's strtoul into a u_int32 keeps the low
    /// bits of a bigger number (its `SPI too big.` check never fires);
    /// rsetkey refuses it with that message.
    fn spi<'i>(&self, i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| matches!(k, TokKind::Dec | TokKind::Hex)))?;
        let v = if t.kind == TokKind::Dec {
            dec_value(self.text(t))
        } else {
            hex_value(self.text(t))
        };
        match v.and_then(|v| u32::try_from(v).ok()) {
            Some(v) => p.spi = v,
            None => {
                return cut_tok(
                    at,
                    FailKind::Range("SPI too big.".into()),
                    Some(out_of_range("SPI", u32::MAX.into())),
                );
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

    /// `{ extension }`.
    fn extensions<'i>(&self, mut i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        loop {
            let Some(t) = i.peek() else {
                return Ok((i, ()));
            };
            let rest = i.take_from(1);
            i = match t.kind {
                TokKind::FExt => {
                    let (r, e) = commit(tok_if(rest, |k| matches!(k, TokKind::Ext(_))))?;
                    match e.kind {
                        TokKind::Ext(ExtFlag::RandomPad) => p.flags |= FLAG_PRAND,
                        TokKind::Ext(ExtFlag::ZeroPad) => p.flags |= FLAG_PZERO,
                        TokKind::Ext(ExtFlag::NoCyclicSeq) => p.flags &= !FLAG_CYCSEQ,
                        _ => {}
                    }
                    r
                }
                TokKind::FMode => {
                    let (r, m) = commit(tok_if(rest, |k| {
                        matches!(k, TokKind::Mode(_) | TokKind::Any)
                    }))?;
                    p.mode = match m.kind {
                        TokKind::Mode(mode) => mode,
                        _ => IpsecMode::Any,
                    };
                    p.mode_given = true;
                    r
                }
                TokKind::FReqid => {
                    let (r, (v, _)) = self.dec(rest, "reqid", u32::MAX.into())?;
                    p.reqid = v as u32;
                    r
                }
                TokKind::FReplay => {
                    // sadb_sa_replay is 8 bits wide.
                    let (r, (v, at)) = self.dec(rest, "replay window", u8::MAX.into())?;
                    if p.flags & FLAG_OLD != 0 {
                        return cut_tok(
                            at,
                            FailKind::Msg(
                                "replay prevention cannot be used with ah/esp-old".into(),
                            ),
                            Some("the old protocols have no replay protection".into()),
                        );
                    }
                    p.replay = v;
                    r
                }
                TokKind::FLifeHard => {
                    // setkey keeps lifetimes in seconds in 32 bits.
                    let (r, (v, _)) = self.dec(rest, "lifetime", u32::MAX.into())?;
                    p.hard.seconds = v;
                    r
                }
                TokKind::FLifeSoft => {
                    let (r, (v, _)) = self.dec(rest, "lifetime", u32::MAX.into())?;
                    p.soft.seconds = v;
                    r
                }
                TokKind::FByteHard => {
                    let (r, (v, _)) = self.dec(rest, "byte lifetime", u64::MAX)?;
                    p.hard.bytes = v;
                    r
                }
                TokKind::FByteSoft => {
                    let (r, (v, _)) = self.dec(rest, "byte lifetime", u64::MAX)?;
                    p.soft.bytes = v;
                    r
                }
                TokKind::FCtx => {
                    let (r, c) = self.ctx(rest)?;
                    p.context = c;
                    r
                }
                _ => return Ok((i, ())),
            };
        }
    }

    /// Checks a key length against the kernel's list.
    fn check_key(
        &self,
        range: Option<(u16, u16)>,
        bits: usize,
        at: usize,
        name: &str,
    ) -> Result<(), nom::Err<Fail>> {
        let Some((min, max)) = range else {
            return cut_tok(
                at,
                FailKind::Msg("Not supported".into()),
                Some(format!("the kernel does not offer {name}")),
            );
        };
        if bits < usize::from(min) || bits > usize::from(max) {
            let need = if min == max {
                format!("a {min}-bit key")
            } else {
                format!("a key of {min} to {max} bits")
            };
            return cut_tok(
                at,
                FailKind::KeyLength(bits, min, max),
                Some(format!("{name} needs {need}; this one has {bits} bits")),
            );
        }
        Ok(())
    }

    /// A key token after an algorithm name; an unknown name before it is a
    /// syntax error at that name (with a suggestion).
    fn key<'i>(&self, i: Toks<'i>) -> Res<'i, (Key, usize)> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| matches!(k, TokKind::Quoted | TokKind::Hex)))?;
        Ok((i, (key_bytes(self.source, t), at)))
    }

    /// The algorithm name after `-E`/`-A`, or a syntax error with a hint.
    fn alg_name<'i>(
        &self,
        i: Toks<'i>,
        pred: impl Fn(TokKind) -> bool,
        kind: Kind,
        what: &str,
    ) -> Res<'i, &'i Token> {
        match tok_if(i, pred) {
            Ok(r) => Ok(r),
            Err(_) => {
                let mut f = fail_at(i, FailKind::Syntax);
                if let Some(t) = i.peek()
                    && matches!(t.kind, TokKind::Str)
                {
                    let names = algorithms::scanner_names(kind);
                    f.help = Some(match suggest(self.text(t), names.iter().copied()) {
                        Some(n) => format!("unknown {what} algorithm; did you mean {n}?"),
                        None => format!("unknown {what} algorithm; known: {}", names.join(", ")),
                    });
                }
                Err(nom::Err::Failure(f))
            }
        }
    }

    /// `ealg`: the name and its key, with setkey's checks.
    fn enc_alg<'i>(
        &self,
        i: Toks<'i>,
        p: &mut SaParams,
        warnings: &mut Vec<String>,
    ) -> Res<'i, ()> {
        let name_at = i.pos();
        let (i, t) = self.alg_name(
            i,
            |k| matches!(k, TokKind::EncAlg(..)),
            Kind::Encryption,
            "encryption",
        )?;
        let TokKind::EncAlg(alg, kind) = t.kind else {
            return cut_at(i, FailKind::Syntax);
        };
        let range = self.options.supported.encrypt_bits(alg);
        match kind {
            EncKind::NoKey | EncKind::Old => {
                if kind == EncKind::Old {
                    warnings.push(format!("WARNING: obsolete algorithm at `{}'", self.text(t)));
                }
                self.check_key(range, 0, name_at, self.text(t))?;
                p.transforms.encrypt = Some((alg, Key::default()));
                Ok((i, ()))
            }
            EncKind::Keyed | EncKind::Deriv | EncKind::Iv32 => {
                let (i, (key, at)) = self.key(i)?;
                let old = p.flags & FLAG_OLD != 0;
                match kind {
                    EncKind::Deriv if old => {
                        return cut_tok(
                            at,
                            FailKind::Msg("algorithm mismatched".into()),
                            Some("des-deriv cannot be used with esp-old".into()),
                        );
                    }
                    EncKind::Iv32 if !old => {
                        return cut_tok(
                            at,
                            FailKind::Msg("algorithm mismatched".into()),
                            Some("des-32iv needs esp-old".into()),
                        );
                    }
                    EncKind::Deriv => p.flags |= FLAG_DERIV,
                    EncKind::Iv32 => p.flags |= FLAG_IV4B,
                    _ => {}
                }
                self.check_key(range, key.bits(), at, self.text(t))?;
                p.transforms.encrypt = Some((alg, key));
                Ok((i, ()))
            }
        }
    }

    /// `aalg`: the name and its key (none for `null`).
    fn auth_alg<'i>(&self, i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        let (i, t) = match self.alg_name(
            i,
            |k| matches!(k, TokKind::AuthAlg(..)),
            Kind::Authentication,
            "authentication",
        ) {
            Ok(r) => r,
            Err(nom::Err::Failure(mut f)) => {
                // `-A tcp-md5 KEY`: the name vanished in the scanner.
                if self
                    .source
                    .get(..i.peek().map_or(0, |t| t.start))
                    .is_some_and(|s| s.trim_end().ends_with(algorithms::TCP_MD5))
                {
                    f.help = Some(format!(
                        "{} (RFC 2385) is not available on Linux",
                        algorithms::TCP_MD5
                    ));
                }
                return Err(nom::Err::Failure(f));
            }
            Err(e) => return Err(e),
        };
        let TokKind::AuthAlg(alg, nokey) = t.kind else {
            return cut_at(i, FailKind::Syntax);
        };
        if nokey {
            p.transforms.auth = Some((alg, None));
            return Ok((i, ()));
        }
        let (i, (key, at)) = self.key(i)?;
        self.check_key(
            self.options.supported.auth_bits(alg),
            key.bits(),
            at,
            self.text(t),
        )?;
        p.transforms.auth = Some((alg, Some(key)));
        Ok((i, ()))
    }

    /// `algorithm` of `add`.
    fn algorithm_spec<'i>(
        &self,
        i: Toks<'i>,
        p: &mut SaParams,
        warnings: &mut Vec<String>,
    ) -> Res<'i, ()> {
        if let Ok((i, _)) = tok(i, TokKind::FEnc) {
            let (i, _) = self.enc_alg(i, p, warnings)?;
            if let Ok((i, _)) = tok(i, TokKind::FAuth) {
                return self.auth_alg(i, p);
            }
            return Ok((i, ()));
        }
        if let Ok((i, _)) = tok(i, TokKind::FAuth) {
            return self.auth_alg(i, p);
        }
        if let Ok((i, _)) = tok(i, TokKind::FComp) {
            let (i, c) = commit(tok_if(i, |k| matches!(k, TokKind::CompAlg(_))))?;
            if let TokKind::CompAlg(alg) = c.kind {
                p.transforms.compression = Some(alg);
            }
            if let Ok((i, _)) = tok(i, TokKind::FRawCpi) {
                p.flags |= FLAG_RAWCPI;
                return Ok((i, ()));
            }
            return Ok((i, ()));
        }
        let mut f = fail_at(i, FailKind::Syntax);
        f.help = Some("`add` needs -E, -A or -C with the algorithms and keys".into());
        Err(nom::Err::Failure(f))
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

    /// `add`, `get`, `delete`, `getspi`.
    fn sa_statement<'i>(
        &self,
        i: Toks<'i>,
        cmd: SaCmd,
    ) -> Res<'i, (Vec<Operation>, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let mut warnings = Vec::new();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, srcs) = self.ipandport(i, &p)?;
        let (i, dsts) = self.ipandport(i, &p)?;
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let (i, _) = self.spi(i, &mut p)?;
        let (i, _) = self.extensions(i, &mut p)?;
        let i = if cmd == SaCmd::Add {
            self.algorithm_spec(i, &mut p, &mut warnings)?.0
        } else {
            i
        };
        let eot_at = i.pos();
        let (i, eot) = self.eot(i)?;
        if cmd == SaCmd::Delete && (srcs.len() > 1 || dsts.len() > 1) {
            return cut_tok(
                eot_at,
                FailKind::Msg("multiple address specified".into()),
                Some("a name resolves to several addresses; use a numeric address or -4/-6".into()),
            );
        }
        if matches!(cmd, SaCmd::Get | SaCmd::Delete) && p.mode != IpsecMode::Any {
            warnings.push(format!("WARNING: mode is obsolete at `{}'", self.text(eot)));
        }
        // Exact for the usual single pair: a script holds thousands of
        // these, and Vec's first growth would reserve four operations.
        let mut ops = Vec::with_capacity(srcs.len() * dsts.len());
        for s in &srcs {
            for d in &dsts {
                if s.is_ipv4() != d.is_ipv4() {
                    continue;
                }
                let sa = SecurityAssociation {
                    satype: p.satype,
                    src: *s,
                    dst: *d,
                    spi: p.spi,
                    mode: p.mode,
                    reqid: p.reqid,
                    // sadb_sa_replay is 8 bits: setkey's value wraps
                    replay: p.replay as u8,
                    replay_requested: p.replay,
                    flags: p.flags,
                    transforms: p.transforms.clone(),
                    hard: p.hard,
                    soft: p.soft,
                    context: p.context.clone(),
                    nat: p.nat.then(|| NatTraversal {
                        sport: nz_port(s.port()),
                        dport: nz_port(d.port()),
                        original: p.nat_oa,
                    }),
                };
                ops.push(match cmd {
                    SaCmd::Add => Operation::Add(sa),
                    SaCmd::Get => Operation::Get(sa),
                    SaCmd::Delete => Operation::Delete(sa),
                    SaCmd::GetSpi => Operation::GetSpi(sa),
                });
            }
        }
        if ops.is_empty() {
            return cut_tok(
                eot_at,
                FailKind::NoPair,
                Some("no source/destination pair has the same address family".into()),
            );
        }
        Ok((i, (ops, warnings, eot_at)))
    }

    /// `deleteall`.
    fn deleteall<'i>(&self, i: Toks<'i>) -> Res<'i, (Vec<Operation>, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, srcs) = self.ipaddr(i, &p)?;
        let (i, dsts) = self.ipaddr(i, &p)?;
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        let op = Operation::DeleteAll(DeleteAll {
            satype: p.satype,
            src: srcs.iter().map(|a| a.ip()).collect(),
            dst: dsts.iter().map(|a| a.ip()).collect(),
        });
        Ok((i, (vec![op], Vec::new(), eot_at)))
    }

    /// `flush [proto];` / `dump [proto];`.
    fn flush_dump<'i>(
        &self,
        i: Toks<'i>,
        dump: bool,
    ) -> Res<'i, (Vec<Operation>, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        let op = if dump {
            Operation::Dump(p.satype)
        } else {
            Operation::Flush(p.satype)
        };
        Ok((i, (vec![op], Vec::new(), eot_at)))
    }

    /// `upper` of a selector: number, `any`, `tcp` or a protocol name.
    fn upper_spec<'i>(&self, i: Toks<'i>) -> Res<'i, u64> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| {
            matches!(
                k,
                TokKind::Dec | TokKind::Any | TokKind::Proto(ProtoKw::Tcp) | TokKind::Str
            )
        }))?;
        let v = match t.kind {
            TokKind::Dec => match dec_value(self.text(t)).filter(|&v| v <= u64::from(u8::MAX)) {
                Some(v) => v,
                None => return range_fail(at, "upper layer protocol", u8::MAX.into()),
            },
            TokKind::Any => u64::from(UPPER_ANY),
            TokKind::Proto(_) => 6,
            _ => match self.names.protocol(self.text(t)) {
                Some(n) => u64::from(n),
                None if self.text(t) == "icmp6" => 58,
                None if self.text(t) == "ip4" => 4,
                None => {
                    return cut_tok(
                        at,
                        FailKind::Msg("invalid upper layer protocol".into()),
                        Some(format!(
                            "`{}` is not in the protocols database",
                            self.text(t)
                        )),
                    );
                }
            },
        };
        Ok((i, v))
    }

    /// `[ "/" DEC ]`: the prefix length, 8 bits as PF_KEY carries it.
    /// setkey stores an int and sends its low 8 bits (`/256` is `/0`, a
    /// number that is negative as an int means the full length); rsetkey
    /// refuses what does not fit. A length that fits but exceeds the
    /// address (`/33` for IPv4) is sent, and the kernel refuses it.
    fn prefix<'i>(&self, i: Toks<'i>) -> Res<'i, Option<u8>> {
        let Ok((i, _)) = tok(i, TokKind::Slash) else {
            return Ok((i, None));
        };
        let (i, (v, _)) = self.dec(i, "prefix length", u8::MAX.into())?;
        Ok((i, Some(v as u8)))
    }

    /// `spdadd`, `spdupdate`, `spddelete`.
    fn spd_statement<'i>(
        &self,
        i: Toks<'i>,
        cmd: SpdCmd,
    ) -> Res<'i, (Vec<Operation>, Vec<String>, usize)> {
        if cmd != SpdCmd::Delete
            && let Ok((i, _)) = tok(i, TokKind::Keyword(Keyword::Tagged))
        {
            let (i, tag) = commit(tok(i, TokKind::Quoted))?;
            let (i, _) = commit(tok(i, TokKind::FPolicy))?;
            let pol_at = i.pos();
            let (i, pol) = commit(tok(i, TokKind::PolicyText))?;
            let policy = match parse_policy_at(self.text(pol), self.names) {
                Ok(p) => p,
                Err(f) => return policy_fail(pol_at, pol, f, None),
            };
            let eot_at = i.pos();
            let (i, _) = self.eot(i)?;
            // setkey sends it (the policy alone: Linux has no tag
            // extension) and the kernel refuses it; never an RFC twin.
            let tagged = ir::TaggedPolicy {
                tag: self.text(tag).to_string(),
                policy,
            };
            let op = match cmd {
                SpdCmd::Update => Operation::SpdUpdateTagged(tagged),
                _ => Operation::SpdAddTagged(tagged),
            };
            return Ok((i, (vec![op], Vec::new(), eot_at)));
        }
        let mut p = SaParams::default();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, src) = commit(tok(i, TokKind::Str))?;
        let (i, sprefix) = self.prefix(i)?;
        let (i, sport) = self.portstr(i)?;
        let (i, dst) = commit(tok(i, TokKind::Str))?;
        let (i, dprefix) = self.prefix(i)?;
        let (i, dport) = self.portstr(i)?;
        let (i, upper) = self.upper_spec(i)?;
        let misc_at = i.pos();
        let (i, misc) = match tok(i, TokKind::Str) {
            Ok((r, t)) => (r, Some(t)),
            Err(_) => (i, None),
        };
        let (i, context) = match tok(i, TokKind::FCtx) {
            Ok((r, _)) => self.ctx(r)?,
            Err(_) => (i, None),
        };
        let (i, _) = commit(tok(i, TokKind::FPolicy))?;
        let pol_at = i.pos();
        let (i, pol) = commit(tok(i, TokKind::PolicyText))?;
        let policy = match parse_policy_at(self.text(pol), self.names) {
            Ok(p) => p,
            Err(f) => {
                let help = (f.text == super::policy::TOO_FEW).then(|| {
                    "a request is PROTO/MODE/[SRC-DST]/[LEVEL], e.g. esp/transport//require".into()
                });
                return policy_fail(pol_at, pol, f, help);
            }
        };
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        // Everything below happens in setkey's action at the `;`.
        let (sport, dport) = match misc {
            Some(m) => match fix_portstr(upper, self.text(m)) {
                Ok((s, d)) => (Some(s.to_string()), Some(d.to_string())),
                Err(PortSpecError::Range(what, max)) => {
                    return range_fail(misc_at, what, max.into());
                }
                Err(PortSpecError::Invalid) => {
                    return cut_tok(
                        eot_at,
                        FailKind::Msg("invalid an upper layer protocol spec".into()),
                        Some("ICMP/ICMPv6/MH take TYPE,CODE; GRE takes a.b.c.d or N,".into()),
                    );
                }
            },
            None => (sport, dport),
        };
        let service = |s: Option<String>| s.unwrap_or_else(|| "0".to_string());
        let srcs = self.resolve(src, Some(&service(sport)), &p, Err(eot_at))?;
        let dsts = self.resolve(dst, Some(&service(dport)), &p, Err(eot_at))?;
        if srcs.len() > 1 || dsts.len() > 1 {
            return cut_tok(
                eot_at,
                FailKind::Msg("multiple address specified".into()),
                Some(
                    "a policy selector needs exactly one address; use a numeric address or -4/-6"
                        .into(),
                ),
            );
        }
        // Exact for the usual single pair (see `sa_statement`).
        let twins = self.options.rfc_mode && policy.direction == Direction::In;
        let mut ops = Vec::with_capacity(srcs.len() * dsts.len() * if twins { 2 } else { 1 });
        for s in &srcs {
            for d in &dsts {
                if s.is_ipv4() != d.is_ipv4() {
                    continue;
                }
                let full = if s.is_ipv4() { 32 } else { 128 };
                let req = PolicyRequest {
                    src: SelectorAddress {
                        addr: *s,
                        prefixlen: sprefix.unwrap_or(full),
                    },
                    dst: SelectorAddress {
                        addr: *d,
                        prefixlen: dprefix.unwrap_or(full),
                    },
                    upper: upper as u8,
                    policy: policy.clone(),
                    context: context.clone(),
                };
                let twin = twins.then(|| {
                    let mut fwd = req.clone();
                    fwd.policy.direction = Direction::Fwd;
                    if let Some(first) = fwd.policy.requests.first_mut()
                        && first.level == Level::Unique
                    {
                        first.level = Level::Require;
                        first.reqid = 0;
                    }
                    fwd
                });
                let wrap = |r: PolicyRequest| match cmd {
                    SpdCmd::Add => Operation::SpdAdd(r),
                    SpdCmd::Update => Operation::SpdUpdate(r),
                    SpdCmd::Delete => Operation::SpdDelete(r),
                };
                ops.push(wrap(req));
                if let Some(fwd) = twin {
                    ops.push(wrap(fwd));
                }
            }
        }
        if ops.is_empty() {
            return cut_tok(
                eot_at,
                FailKind::NoPair,
                Some("source and destination are of different address families".into()),
            );
        }
        Ok((i, (ops, Vec::new(), eot_at)))
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

/// The NAT-T port of an address: its port, 4500 when none was given.
fn nz_port(p: u16) -> u16 {
    if p == 0 { NAT_T_PORT } else { p }
}

/// setkey's `fix_portstr`: ICMP/ICMPv6/MH `type,code`, GRE `a.b.c.d` or
/// `N,` → the port numbers that go into the selector. Anything else (other
/// protocols, or a lone ICMP type whose code setkey leaves uninitialised)
/// is refused.
fn fix_portstr(upper: u64, spec: &str) -> Result<(u32, u32), PortSpecError> {
    use PortSpecError::{Invalid, Range};
    // A number of at most `max`: setkey's atoi/strtoul would wrap a
    // bigger one into the neighbouring field.
    let num = |s: &str, what: &'static str, max: u32| -> Result<u32, PortSpecError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid);
        }
        dec_value(s)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v <= max)
            .ok_or(Range(what, max))
    };
    match upper {
        1 | 58 | 135 => {
            let (t, c) = spec.split_once(',').ok_or(Invalid)?;
            // Type and code travel in the 16-bit port fields.
            let max = u32::from(u16::MAX);
            Ok((num(t, "ICMP type", max)?, num(c, "ICMP code", max)?))
        }
        47 => {
            let parts: Vec<&str> = spec.split('.').collect();
            if let [a, b, c, d] = parts.as_slice() {
                let byte = |s: &str| num(s, "GRE key part", 255);
                let (a, b, c, d) = (byte(a)?, byte(b)?, byte(c)?, byte(d)?);
                return Ok(((a << 8) | b, (c << 8) | d));
            }
            let n = num(spec.strip_suffix(',').ok_or(Invalid)?, "GRE key", u32::MAX)?;
            Ok((n >> 16, n & 0xffff))
        }
        _ => Err(Invalid),
    }
}

/// Why [`fix_portstr`] refused a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSpecError {
    /// Not a spec setkey understands for this protocol.
    Invalid,
    /// A number too big for its field: (what, maximum).
    Range(&'static str, u32),
}

fn set_old(p: &mut SaParams, old: bool) {
    if old {
        p.flags |= FLAG_OLD;
    } else {
        p.flags &= !FLAG_OLD;
    }
}
