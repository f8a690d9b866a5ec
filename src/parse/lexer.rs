//! The setkey lexer: flex's rules, reproduced rule by rule.
//!
//! setkey's scanner is a flex scanner, so its behaviour is "longest match
//! wins; on a tie the earlier rule wins", with start conditions (policy
//! text after `-P`, algorithm names after `-E`/`-A`) that add rules without
//! removing the general ones. Every rule below is a small nom recognizer;
//! [`tokenize`] runs all rules active in the current state at the current
//! position and keeps the longest match, which reproduces flex exactly
//! (including oddities such as `0x1g` being a STRING and `#` ending a
//! multi-line policy).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{anychar, char, satisfy};
use nom::combinator::{recognize, value};
use nom::sequence::{delimited, pair};
use nom::{IResult, Parser};
use zeroize::Zeroizing;

use crate::ir::{AuthAlgorithm, CompressionAlgorithm, EncryptAlgorithm, IpsecMode};

/// Statement keywords (rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Add,
    Delete,
    DeleteAll,
    Get,
    GetSpi,
    Flush,
    Dump,
    Exit,
    SpdAdd,
    SpdUpdate,
    SpdDelete,
    SpdDump,
    SpdFlush,
    Tagged,
}

/// Protocol keywords (rule 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtoKw {
    Esp,
    EspOld,
    EspUdp,
    Ah,
    AhOld,
    IpComp,
    Tcp,
}

/// How an encryption algorithm name behaves in the grammar (setkey has one
/// token type per behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncKind {
    /// Takes a key.
    Keyed,
    /// `null`: no key.
    NoKey,
    /// `simple`: no key, obsolete warning.
    Old,
    /// `des-deriv`: key, flag 0x20, not with the old protocols.
    Deriv,
    /// `des-32iv`: key, flag 0x10, only with the old protocols.
    Iv32,
}

/// `-f` argument keywords (rule 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtFlag {
    RandomPad,
    SeqPad,
    ZeroPad,
    NoCyclicSeq,
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    Keyword(Keyword),
    /// `-P`.
    FPolicy,
    /// The whole policy text after `-P`.
    PolicyText,
    /// `;`.
    Eot,
    /// `-4`, `-6`, `-n`, combined.
    AiFlags,
    Proto(ProtoKw),
    /// `-A`.
    FAuth,
    /// `-E`.
    FEnc,
    /// `-C`.
    FComp,
    /// `-R`.
    FRawCpi,
    CompAlg(CompressionAlgorithm),
    EncAlg(EncryptAlgorithm, EncKind),
    /// An auth algorithm; `true` = takes no key (`null`).
    AuthAlg(AuthAlgorithm, bool),
    /// `-m`.
    FMode,
    /// `transport`, `tunnel`.
    Mode(IpsecMode),
    /// `-u`.
    FReqid,
    /// `-f`.
    FExt,
    Ext(ExtFlag),
    /// `-r`.
    FReplay,
    /// `-lh`.
    FLifeHard,
    /// `-ls`.
    FLifeSoft,
    /// `-bh`.
    FByteHard,
    /// `-bs`.
    FByteSoft,
    /// `-ctx`.
    FCtx,
    Any,
    Slash,
    /// `[`.
    BLcl,
    /// `]`.
    ELcl,
    /// Decimal digits.
    Dec,
    /// `0x` + hex digits.
    Hex,
    /// `"..."`.
    Quoted,
    /// Anything word-like: addresses, names, `135,0`.
    Str,
    /// A character no rule accepts: fatal.
    Fatal,
    /// End of input.
    Eof,
}

/// One token with everything diagnostics need.
///
/// `text` may be key material (a quoted or hex key), so it is wiped when the
/// token is dropped and `Debug` shows only its length for the kinds a key
/// can take.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokKind,
    /// Byte range in the source.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
    /// The lexer's line counter once this token was read (setkey's LINE).
    pub line: u32,
    /// The text setkey prints for it in `at `TOK'` (its `yytext`).
    pub text: Zeroizing<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Token");
        d.field("kind", &self.kind)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("line", &self.line);
        // Any word-like token may be a key (in a key position, or a key
        // written without quotes); fixed words and punctuation never are.
        match self.kind {
            TokKind::Quoted | TokKind::Hex | TokKind::Str | TokKind::Dec | TokKind::Fatal => {
                d.field("text", &format_args!("<{} bytes>", self.text.len()))
            }
            _ => d.field("text", &self.text.as_str()),
        };
        d.finish()
    }
}

/// Lexer start conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    Policy,
    Enc,
    Auth,
}

/// What a rule produced: a token, something to skip, or a swallowed word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    Tok(TokKind),
    Skip,
    Newline,
    /// `tcp-md5` after `-A`: eaten without a token (this Linux build has no
    /// such algorithm, so the following key is what the grammar sees).
    Swallow,
}

type Res<'a> = IResult<&'a str, Lexeme>;

const KEYWORDS: &[(&str, Keyword)] = &[
    ("add", Keyword::Add),
    ("delete", Keyword::Delete),
    ("deleteall", Keyword::DeleteAll),
    ("get", Keyword::Get),
    ("getspi", Keyword::GetSpi),
    ("flush", Keyword::Flush),
    ("dump", Keyword::Dump),
    ("exit", Keyword::Exit),
    ("quit", Keyword::Exit),
    ("bye", Keyword::Exit),
    ("spdadd", Keyword::SpdAdd),
    ("spdupdate", Keyword::SpdUpdate),
    ("spddelete", Keyword::SpdDelete),
    ("spddump", Keyword::SpdDump),
    ("spdflush", Keyword::SpdFlush),
    ("tagged", Keyword::Tagged),
];

const PROTOS: &[(&str, ProtoKw)] = &[
    ("ah", ProtoKw::Ah),
    ("esp", ProtoKw::Esp),
    ("ah-old", ProtoKw::AhOld),
    ("esp-old", ProtoKw::EspOld),
    ("esp-udp", ProtoKw::EspUdp),
    ("ipcomp", ProtoKw::IpComp),
    ("tcp", ProtoKw::Tcp),
];

/// Encryption names of the `-E` state (dialect.md §10.1).
pub(crate) const ENC_NAMES: &[(&str, EncryptAlgorithm, EncKind)] = &[
    ("des-cbc", EncryptAlgorithm::DesCbc, EncKind::Keyed),
    ("3des-cbc", EncryptAlgorithm::TripleDesCbc, EncKind::Keyed),
    ("null", EncryptAlgorithm::Null, EncKind::NoKey),
    ("simple", EncryptAlgorithm::Null, EncKind::Old),
    (
        "blowfish-cbc",
        EncryptAlgorithm::BlowfishCbc,
        EncKind::Keyed,
    ),
    ("cast128-cbc", EncryptAlgorithm::Cast128Cbc, EncKind::Keyed),
    ("des-deriv", EncryptAlgorithm::DesCbc, EncKind::Deriv),
    ("des-32iv", EncryptAlgorithm::DesCbc, EncKind::Iv32),
    ("twofish-cbc", EncryptAlgorithm::TwofishCbc, EncKind::Keyed),
    ("aes-cbc", EncryptAlgorithm::AesCbc, EncKind::Keyed),
    ("rijndael-cbc", EncryptAlgorithm::AesCbc, EncKind::Keyed),
    ("aes-ctr", EncryptAlgorithm::AesCtr, EncKind::Keyed),
    (
        "camellia-cbc",
        EncryptAlgorithm::CamelliaCbc,
        EncKind::Keyed,
    ),
];

/// Authentication names of the `-A` state (dialect.md §10.2).
pub(crate) const AUTH_NAMES: &[(&str, AuthAlgorithm, bool)] = &[
    ("hmac-md5", AuthAlgorithm::HmacMd5, false),
    ("hmac-sha1", AuthAlgorithm::HmacSha1, false),
    ("keyed-md5", AuthAlgorithm::KeyedMd5, false),
    ("keyed-sha1", AuthAlgorithm::KeyedSha1, false),
    ("hmac-sha2-256", AuthAlgorithm::HmacSha256, false),
    ("hmac-sha256", AuthAlgorithm::HmacSha256, false),
    ("hmac-sha2-384", AuthAlgorithm::HmacSha384, false),
    ("hmac-sha384", AuthAlgorithm::HmacSha384, false),
    ("hmac-sha2-512", AuthAlgorithm::HmacSha512, false),
    ("hmac-sha512", AuthAlgorithm::HmacSha512, false),
    ("hmac-ripemd160", AuthAlgorithm::HmacRipemd160, false),
    ("aes-xcbc-mac", AuthAlgorithm::AesXcbcMac, false),
    ("null", AuthAlgorithm::Null, true),
];

/// Simple fixed-text rules of groups 7-13, in rule order.
const FIXED: &[(&str, TokKind)] = &[
    ("-A", TokKind::FAuth),
    ("-E", TokKind::FEnc),
    ("-C", TokKind::FComp),
    ("oui", TokKind::CompAlg(CompressionAlgorithm::Oui)),
    ("deflate", TokKind::CompAlg(CompressionAlgorithm::Deflate)),
    ("lzs", TokKind::CompAlg(CompressionAlgorithm::Lzs)),
    ("-R", TokKind::FRawCpi),
    ("-m", TokKind::FMode),
    ("transport", TokKind::Mode(IpsecMode::Transport)),
    ("tunnel", TokKind::Mode(IpsecMode::Tunnel)),
    ("-u", TokKind::FReqid),
    ("-f", TokKind::FExt),
    ("random-pad", TokKind::Ext(ExtFlag::RandomPad)),
    ("seq-pad", TokKind::Ext(ExtFlag::SeqPad)),
    ("zero-pad", TokKind::Ext(ExtFlag::ZeroPad)),
    ("nocyclic-seq", TokKind::Ext(ExtFlag::NoCyclicSeq)),
    ("-r", TokKind::FReplay),
    ("-lh", TokKind::FLifeHard),
    ("-ls", TokKind::FLifeSoft),
    ("-bh", TokKind::FByteHard),
    ("-bs", TokKind::FByteSoft),
    ("-ctx", TokKind::FCtx),
    ("any", TokKind::Any),
];

/// The longest of a set of fixed words that prefixes the input (flex gives
/// each word its own rule; among one group the longest one wins anyway).
fn longest_word<T: Copy>(input: &str, words: &[(&str, T)]) -> Option<(usize, T)> {
    words
        .iter()
        .filter(|(w, _)| input.starts_with(w))
        .max_by_key(|(w, _)| w.len())
        .map(|(w, t)| (w.len(), *t))
}

fn is_word_first(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '%' | '.' | '-')
}

fn is_policy_first(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_' | '/' | ' ' | '\t' | '\n')
}

fn is_policy_char(c: char) -> bool {
    is_policy_first(c) || matches!(c, '%' | '+' | '[' | ']')
}

/// Rule 3: the policy text.
fn policy_text(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::PolicyText),
        recognize(pair(satisfy(is_policy_first), take_while(is_policy_char))),
    )
    .parse(i)
}

/// Rule 5: `-` followed by address flags.
fn ai_flags(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::AiFlags),
        recognize(pair(
            char('-'),
            take_while1(|c| matches!(c, 'n' | '4' | '6')),
        )),
    )
    .parse(i)
}

/// Rule 12: blanks, newlines and comments.
fn layout(i: &str) -> Res<'_> {
    alt((
        value(Lexeme::Skip, take_while1(|c| c == ' ' || c == '\t')),
        value(Lexeme::Newline, char('\n')),
        value(
            Lexeme::Skip,
            recognize(pair(char('#'), take_while(|c| c != '\n'))),
        ),
        value(Lexeme::Tok(TokKind::Eot), char(';')),
    ))
    .parse(i)
}

/// Rule 13: punctuation.
fn punct(i: &str) -> Res<'_> {
    alt((
        value(Lexeme::Tok(TokKind::Slash), char('/')),
        value(Lexeme::Tok(TokKind::BLcl), char('[')),
        value(Lexeme::Tok(TokKind::ELcl), char(']')),
    ))
    .parse(i)
}

/// Rule 14: a decimal number.
fn decimal(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::Dec),
        take_while1(|c: char| c.is_ascii_digit()),
    )
    .parse(i)
}

/// Rule 15: `0x` hex digits.
fn hex(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::Hex),
        recognize(pair(
            alt((tag("0x"), tag("0X"))),
            take_while1(|c: char| c.is_ascii_hexdigit()),
        )),
    )
    .parse(i)
}

/// Rule 16: a quoted string (no escapes; may span lines).
fn quoted(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::Quoted),
        recognize(delimited(char('"'), take_while(|c| c != '"'), char('"'))),
    )
    .parse(i)
}

/// Rule 17: a word.
fn word(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::Str),
        recognize(pair(satisfy(is_word_first), take_while(is_word_char))),
    )
    .parse(i)
}

/// Rule 18: digits and commas (`135,0`).
fn digits_commas(i: &str) -> Res<'_> {
    value(
        Lexeme::Tok(TokKind::Str),
        take_while1(|c: char| c.is_ascii_digit() || c == ','),
    )
    .parse(i)
}

/// Rule 19: any other character.
fn fatal(i: &str) -> Res<'_> {
    value(Lexeme::Tok(TokKind::Fatal), anychar).parse(i)
}

/// Runs one nom rule and reports the matched length.
fn run(rule: fn(&str) -> Res<'_>, input: &str) -> Option<(usize, Lexeme)> {
    match rule(input) {
        Ok((rest, lx)) => Some((input.len() - rest.len(), lx)),
        Err(_) => None,
    }
}

/// All rules active in `state`, tried at the start of `input`, in flex's
/// rule order; returns the winner's length and lexeme.
fn best_match(input: &str, state: State) -> (usize, Lexeme) {
    let mut best: Option<(usize, Lexeme)> = None;
    let mut offer = |cand: Option<(usize, Lexeme)>| {
        if let Some((len, lx)) = cand {
            // Strictly longer only: on a tie the earlier rule stays.
            if len > 0 && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, lx));
            }
        }
    };
    // Algorithm names of the -E/-A states come first: they must beat the
    // STRING rule on equal length, which is how setkey's scanner is built.
    match state {
        State::Enc => offer(
            longest_word(
                input,
                &ENC_NAMES
                    .iter()
                    .map(|&(w, a, k)| (w, TokKind::EncAlg(a, k)))
                    .collect::<Vec<_>>(),
            )
            .map(|(l, k)| (l, Lexeme::Tok(k))),
        ),
        State::Auth => {
            offer(
                longest_word(
                    input,
                    &AUTH_NAMES
                        .iter()
                        .map(|&(w, a, nk)| (w, TokKind::AuthAlg(a, nk)))
                        .collect::<Vec<_>>(),
                )
                .map(|(l, k)| (l, Lexeme::Tok(k))),
            );
            if input.starts_with("tcp-md5") {
                offer(Some((7, Lexeme::Swallow)));
            }
        }
        _ => {}
    }
    offer(longest_word(input, KEYWORDS).map(|(l, k)| (l, Lexeme::Tok(TokKind::Keyword(k)))));
    if input.starts_with("-P") {
        offer(Some((2, Lexeme::Tok(TokKind::FPolicy))));
    }
    if state == State::Policy {
        offer(run(policy_text, input));
        if input.starts_with(';') {
            offer(Some((1, Lexeme::Tok(TokKind::Eot))));
        }
    }
    offer(run(ai_flags, input));
    offer(longest_word(input, PROTOS).map(|(l, k)| (l, Lexeme::Tok(TokKind::Proto(k)))));
    offer(longest_word(input, FIXED).map(|(l, k)| (l, Lexeme::Tok(k))));
    offer(run(layout, input));
    offer(run(punct, input));
    offer(run(decimal, input));
    offer(run(hex, input));
    offer(run(quoted, input));
    offer(run(word, input));
    offer(run(digits_commas, input));
    offer(run(fatal, input));
    // `fatal` matches any character, so only empty input gets here.
    best.unwrap_or((0, Lexeme::Tok(TokKind::Eof)))
}

/// Splits a whole script into tokens. Stops at the first character no rule
/// accepts (a [`TokKind::Fatal`] token) or at the end (a [`TokKind::Eof`]
/// token); the parser reports the fatal one only when it reaches it, so
/// text after `exit;` never matters.
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    tokenize_impl(source, true)
}

/// Like [`tokenize`], but goes on after a character no rule accepts (each
/// one becomes a [`TokKind::Fatal`] token). Only for finding key material
/// to mask: a diagnostic shows the text around an error, and keys after a
/// fatal character must be recognised too.
pub(crate) fn tokenize_for_masking(source: &str) -> Vec<Token> {
    tokenize_impl(source, false)
}

fn tokenize_impl(source: &str, stop_at_fatal: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut pos = 0usize;
    let mut line = 1u32;
    let mut state = State::Initial;
    let mut last_policy_text: Option<String> = None;
    loop {
        let rest = source.get(pos..).unwrap_or("");
        if rest.is_empty() {
            tokens.push(Token {
                kind: TokKind::Eof,
                start: pos,
                end: pos,
                line,
                text: Zeroizing::new(String::new()),
            });
            return tokens;
        }
        let (len, lexeme) = best_match(rest, state);
        let lexeme_text = rest.get(..len).unwrap_or("");
        let start = pos;
        pos += len;
        let kind = match lexeme {
            Lexeme::Skip | Lexeme::Swallow => continue,
            Lexeme::Newline => {
                line = line.saturating_add(1);
                continue;
            }
            Lexeme::Tok(kind) => kind,
        };
        let mut text = Zeroizing::new(lexeme_text.to_string());
        match kind {
            TokKind::FPolicy => state = State::Policy,
            TokKind::FEnc => state = State::Enc,
            TokKind::FAuth => state = State::Auth,
            TokKind::EncAlg(..) | TokKind::AuthAlg(..) => state = State::Initial,
            TokKind::PolicyText => {
                // Newlines inside the policy are counted (flex's rule counts them).
                let lfs = lexeme_text.bytes().filter(|&b| b == b'\n').count();
                line = line.saturating_add(u32::try_from(lfs).unwrap_or(u32::MAX));
                last_policy_text = Some(text.to_string());
            }
            TokKind::Eot if state == State::Policy => {
                state = State::Initial;
                // setkey's scanner keeps the policy text in yytext (yymore),
                // so messages at this `;` show the policy followed by `;`.
                if let Some(prev) = last_policy_text.take()
                    && tokens
                        .last()
                        .is_some_and(|t: &Token| t.kind == TokKind::PolicyText)
                {
                    text = Zeroizing::new(format!("{prev};"));
                }
            }
            TokKind::Quoted => {
                // yytext loses its quotes; embedded newlines are not counted.
                text = Zeroizing::new(
                    lexeme_text
                        .get(1..lexeme_text.len().saturating_sub(1))
                        .unwrap_or("")
                        .to_string(),
                );
            }
            _ => {}
        }
        if kind != TokKind::PolicyText {
            last_policy_text = None;
        }
        let fatal = kind == TokKind::Fatal;
        tokens.push(Token {
            kind,
            start,
            end: pos,
            line,
            text,
        });
        if fatal && stop_at_fatal {
            return tokens;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokKind> {
        tokenize(s).into_iter().map(|t| t.kind).collect()
    }

    fn texts(s: &str) -> Vec<String> {
        tokenize(s)
            .into_iter()
            .map(|t| t.text.to_string())
            .collect()
    }

    #[test]
    fn keywords_beat_strings_on_equal_length_only() {
        assert_eq!(
            kinds("add addx delete deleteall"),
            vec![
                TokKind::Keyword(Keyword::Add),
                TokKind::Str,
                TokKind::Keyword(Keyword::Delete),
                TokKind::Keyword(Keyword::DeleteAll),
                TokKind::Eof
            ]
        );
        assert_eq!(kinds("update")[0], TokKind::Str);
        assert_eq!(kinds("quit bye")[1], TokKind::Keyword(Keyword::Exit));
    }

    #[test]
    fn numbers_hex_and_words() {
        assert_eq!(
            kinds("123 0x1f 0X1F 0x1g 10.0.0.1 135,0 fe80::1%eth0"),
            vec![
                TokKind::Dec,
                TokKind::Hex,
                TokKind::Hex,
                TokKind::Str,
                TokKind::Str,
                TokKind::Str,
                TokKind::Str,
                TokKind::Eof
            ]
        );
    }

    #[test]
    fn protocols_and_flags() {
        assert_eq!(
            kinds("esp esp-udp esp-foo -4n -6 -m tunnel -lh -ctx"),
            vec![
                TokKind::Proto(ProtoKw::Esp),
                TokKind::Proto(ProtoKw::EspUdp),
                TokKind::Str,
                TokKind::AiFlags,
                TokKind::AiFlags,
                TokKind::FMode,
                TokKind::Mode(IpsecMode::Tunnel),
                TokKind::FLifeHard,
                TokKind::FCtx,
                TokKind::Eof
            ]
        );
    }

    #[test]
    fn algorithm_names_only_after_their_flag() {
        let k = kinds("-E aes-cbc null -A null");
        assert_eq!(
            k[1],
            TokKind::EncAlg(EncryptAlgorithm::AesCbc, EncKind::Keyed)
        );
        assert_eq!(k[2], TokKind::Str);
        assert_eq!(k[4], TokKind::AuthAlg(AuthAlgorithm::Null, true));
        // Unknown names stay STRINGs.
        assert_eq!(kinds("-E aes-gcm-16")[1], TokKind::Str);
        // tcp-md5 is swallowed.
        assert_eq!(kinds("-A tcp-md5 \"k\"")[1], TokKind::Quoted);
    }

    #[test]
    fn policy_text_is_one_token_with_counted_lines() {
        let toks = tokenize("spdadd a b any -P out ipsec\n  esp/transport//require;\nflush;");
        let pol = toks.iter().find(|t| t.kind == TokKind::PolicyText);
        assert_eq!(
            pol.map(|t| t.text.as_str()),
            Some(" out ipsec\n  esp/transport//require")
        );
        assert_eq!(pol.map(|t| t.line), Some(2));
        let eot = toks.iter().find(|t| t.kind == TokKind::Eot);
        assert_eq!(
            eot.map(|t| t.text.as_str()),
            Some(" out ipsec\n  esp/transport//require;")
        );
        assert_eq!(toks.last().map(|t| t.line), Some(3));
    }

    #[test]
    fn hash_ends_a_policy() {
        let k = kinds("-P out # c\n ipsec;");
        assert_eq!(
            k,
            vec![
                TokKind::FPolicy,
                TokKind::PolicyText,
                TokKind::PolicyText,
                TokKind::Eot,
                TokKind::Eof
            ]
        );
    }

    #[test]
    fn quoted_strings_do_not_count_lines() {
        let toks = tokenize("\"a\nb\" x\ny");
        assert_eq!(toks[0].text.as_str(), "a\nb");
        assert_eq!(toks[1].line, 1);
        assert_eq!(toks[2].line, 2);
    }

    #[test]
    fn fatal_characters_stop_the_lexer() {
        let t = texts("add \\ more");
        assert_eq!(t, vec!["add".to_string(), "\\".to_string()]);
        assert_eq!(kinds("-")[0], TokKind::Fatal);
        assert_eq!(kinds("\"open")[0], TokKind::Fatal);
        assert_eq!(kinds("a\r\n")[1], TokKind::Fatal);
    }

    #[test]
    fn comments_and_layout() {
        assert_eq!(
            kinds("# c\n\tflush;   # x\n"),
            vec![TokKind::Keyword(Keyword::Flush), TokKind::Eot, TokKind::Eof]
        );
        assert_eq!(tokenize("flush\n").last().map(|t| t.line), Some(2));
    }
}
