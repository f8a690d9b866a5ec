//! The setkey lexer: flex's rules, reproduced rule by rule.
//!
//! setkey's scanner is a flex scanner, so its behaviour is "longest match
//! wins; on a tie the earlier rule wins", with start conditions (policy
//! text after `-P`, algorithm names after `-E`/`-A`) that add rules without
//! removing the general ones. [`Lexer`] reproduces that exactly
//! (including oddities such as `0x1g` being a STRING and `#` ending a
//! multi-line policy), but instead of trying every rule at every position
//! it dispatches on the first byte and looks the STRING run up in the word
//! tables (see [`best_match`] for why that gives the same answers; the
//! unit tests compare it with the rules tried one by one).

use crate::algorithms::{self, Form, Kind, Setkey};
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
/// token type per behaviour); the algorithm table says it per spelling.
pub(crate) use crate::algorithms::Form as EncKind;

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
/// A token holds no text, only byte ranges into the source: key material
/// is never copied out of the script before it goes into a
/// [`crate::ir::Key`], and `Debug` cannot show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokKind,
    /// Byte range in the source.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
    /// The lexer's line counter once this token was read (setkey's LINE).
    pub line: u32,
    /// Start of the text setkey prints for it in `at `TOK'` (its
    /// `yytext`): after the opening quote of a quoted string, at the policy
    /// text for the `;` that ends one, else `start`.
    pub text_start: usize,
    /// End of that text (exclusive): before the closing quote of a quoted
    /// string, else `end`.
    pub text_end: usize,
}

impl Token {
    /// The token's text as setkey prints it (its `yytext`).
    pub fn text<'s>(&self, source: &'s str) -> &'s str {
        source.get(self.text_start..self.text_end).unwrap_or("")
    }
}

/// Lexer start conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
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

// Rule 6 as setkey's scanner lists it, for the tests: the dispatch
// matches the same words in `named_word`, and a test checks both agree.
#[cfg(test)]
const PROTOS: &[(&str, ProtoKw)] = &[
    ("ah", ProtoKw::Ah),
    ("esp", ProtoKw::Esp),
    ("ah-old", ProtoKw::AhOld),
    ("esp-old", ProtoKw::EspOld),
    ("esp-udp", ProtoKw::EspUdp),
    ("ipcomp", ProtoKw::IpComp),
    ("tcp", ProtoKw::Tcp),
];

/// Simple fixed-text rules of groups 7-13, in rule order (the compression
/// names of rule 8, between `-C` and `-R`, come from the algorithm table).
/// The dispatch matches the same words in [`flag`] and `named_word`, and
/// tests check they agree.
#[cfg(test)]
const FIXED: &[(&str, TokKind)] = &[
    ("-A", TokKind::FAuth),
    ("-E", TokKind::FEnc),
    ("-C", TokKind::FComp),
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

/// Byte classes of the lexical rules, one bit each (see [`CLASSES`]).
const WORD_FIRST: u8 = 1 << 0;
const WORD: u8 = 1 << 1;
const POLICY_FIRST: u8 = 1 << 2;
const POLICY: u8 = 1 << 3;
const DIGIT_COMMA: u8 = 1 << 4;
const AI_FLAG: u8 = 1 << 5;

/// The classes of every byte. Only ASCII bytes belong to any class, so a
/// run of one class always ends on a character boundary.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 128 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mut k = 0;
        // Rule 17: STRING.
        if alnum || c == b':' {
            k |= WORD_FIRST;
        }
        if alnum || matches!(c, b':' | b'%' | b'.' | b'-') {
            k |= WORD;
        }
        // Rule 3: the policy text.
        let policy_first =
            alnum || matches!(c, b':' | b'.' | b'-' | b'_' | b'/' | b' ' | b'\t' | b'\n');
        if policy_first {
            k |= POLICY_FIRST;
        }
        if policy_first || matches!(c, b'%' | b'+' | b'[' | b']') {
            k |= POLICY;
        }
        // Rule 18.
        if c.is_ascii_digit() || c == b',' {
            k |= DIGIT_COMMA;
        }
        // Rule 5.
        if matches!(c, b'n' | b'4' | b'6') {
            k |= AI_FLAG;
        }
        t[b] = k;
        b += 1;
    }
    t
};

/// The value of every hex digit, [`NOT_HEX`] for any other byte.
static HEX_VALUES: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => NOT_HEX,
        };
        b += 1;
    }
    t
};

/// [`HEX_VALUES`] of a byte that is no hex digit.
const NOT_HEX: u8 = 0xff;

/// The value of a hex digit (keys are decoded a byte at a time, from a
/// table rather than through `char::to_digit`'s range tests).
pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match HEX_VALUES[usize::from(b)] {
        NOT_HEX => None,
        v => Some(v),
    }
}

/// The four bytes eight hex digits stand for, decoded side by side in a
/// word rather than a digit at a time. Only for hex digits (a Hex token's):
/// a digit's value is its low four bits, plus 9 for a letter (the bit
/// 0x40 tells letters from digits).
pub(crate) fn hex_block(digits: [u8; 8]) -> [u8; 4] {
    const LOW_NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const EVEN_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    let v = u64::from_le_bytes(digits);
    let values = (v & LOW_NIBBLES) + ((v >> 6) & ONES) * 9;
    // The first digit of each pair (the even bytes) is the high nibble.
    let pairs = ((values & EVEN_BYTES) << 4) | ((values >> 8) & EVEN_BYTES);
    let [a, _, b, _, c, _, d, _] = pairs.to_le_bytes();
    [a, b, c, d]
}

fn is(b: u8, class: u8) -> bool {
    CLASSES[usize::from(b)] & class != 0
}

/// The length of the STRING run (rule 17) at the start of `bytes`, 0 if
/// its first byte cannot start one.
pub(crate) fn word_len(bytes: &[u8]) -> usize {
    match bytes.split_first() {
        Some((&first, after)) if is(first, WORD_FIRST) => 1 + run(after, WORD),
        _ => 0,
    }
}

/// Whether `b` continues a STRING run (rule 17).
pub(crate) fn is_word_byte(b: u8) -> bool {
    is(b, WORD)
}

/// The length of the run of hex digits at the start of `bytes`.
pub(crate) fn hex_len(bytes: &[u8]) -> usize {
    hex_run(bytes)
}

/// The length of the policy text (rule 3) at the start of `bytes`, 0 if
/// its first byte cannot start one.
pub(crate) fn policy_text_len(bytes: &[u8]) -> usize {
    match bytes.split_first() {
        Some((&first, after)) if is(first, POLICY_FIRST) => 1 + long_run(after, POLICY),
        _ => 0,
    }
}

/// Length of the run of `class` bytes at the start of `bytes`.
fn run(bytes: &[u8], class: u8) -> usize {
    bytes
        .iter()
        .position(|&b| !is(b, class))
        .unwrap_or(bytes.len())
}

/// [`run`] eight bytes at a time while all eight are of `class`, for the
/// long runs (policy texts, tens of bytes): one branch per eight bytes
/// rather than one per byte. A byte outside `class` clears the class bit
/// of the block's AND, so a block passes only if all its bytes are in it.
fn long_run(bytes: &[u8], class: u8) -> usize {
    let mut n = 0;
    for block in bytes.chunks_exact(8) {
        let shared = block
            .iter()
            .fold(class, |acc, &b| acc & CLASSES[usize::from(b)]);
        if shared == 0 {
            break;
        }
        n += 8;
    }
    n + run(bytes.get(n..).unwrap_or_default(), class)
}

/// Length of the run of hex digits at the start of `bytes`: eight bytes
/// at a time while all are digits (a key is tens of digits: one branch per
/// eight of them rather than one per digit).
fn hex_run(bytes: &[u8]) -> usize {
    let mut n = 0;
    for block in bytes.chunks_exact(8) {
        // NOT_HEX has the high bit set, a digit's value does not.
        let values = block
            .iter()
            .fold(0, |acc, &b| acc | HEX_VALUES[usize::from(b)]);
        if values & 0x80 != 0 {
            break;
        }
        n += 8;
    }
    let rest = bytes.get(n..).unwrap_or_default();
    n + rest
        .iter()
        .position(|&b| hex_digit(b).is_none())
        .unwrap_or(rest.len())
}

/// The entry of a table whose word is exactly `word`.
fn exact<T: Copy>(word: &[u8], table: &[(&str, T)]) -> Option<T> {
    table
        .iter()
        .find(|(w, _)| same_word(w, word))
        .map(|&(_, t)| t)
}

/// `bytes.starts_with(w)` for the `-` flags ([`flag`] is checked
/// against it).
#[cfg(test)]
fn starts_with_word(bytes: &[u8], w: &str) -> bool {
    let w = w.as_bytes();
    bytes
        .get(..w.len())
        .is_some_and(|head| head.last() == w.last() && head == w)
}

/// `w == word`, comparing length and first byte before calling memcmp:
/// most table words differ in one of them.
fn same_word(w: &str, word: &[u8]) -> bool {
    let w = w.as_bytes();
    w.len() == word.len() && w.first() == word.first() && w == word
}

/// An encryption name: a token only right after `-E` (the state is left
/// when a name matches); the names are the encryption rows of
/// [`algorithms`], aliases such as `rijndael-cbc` included.
pub(crate) fn enc_name(word: &[u8]) -> Option<TokKind> {
    let (row, spelling) = algorithms::by_name(Kind::Encryption, word)?;
    match row.setkey {
        Setkey::Encrypt(a) => Some(TokKind::EncAlg(a, spelling.form)),
        _ => None,
    }
}

/// An authentication name: a token only right after `-A` (the state is
/// left when a name matches); the names are the authentication rows of
/// [`algorithms`]. A name that takes no key (`null`) says so.
pub(crate) fn auth_name(word: &[u8]) -> Option<TokKind> {
    let (row, spelling) = algorithms::by_name(Kind::Authentication, word)?;
    match row.setkey {
        Setkey::Auth(a) => Some(TokKind::AuthAlg(a, spelling.form == Form::NoKey)),
        _ => None,
    }
}

/// A compression name (rule 8).
fn comp_name(word: &[u8]) -> Option<TokKind> {
    match algorithms::by_name(Kind::Compression, word)?.0.setkey {
        Setkey::Compress(c) => Some(TokKind::CompAlg(c)),
        _ => None,
    }
}

/// The rules active in `state` at the start of `input`: the winner's
/// length and lexeme under flex's longest-match, earlier-rule-wins
/// semantics.
///
/// Rather than trying every rule, this dispatches on the first byte and
/// compares only the rules that can match there. What makes that exact
/// is that the rule patterns nest: every fixed word and every decimal or
/// hex number consists of STRING characters (and the fixed words that do
/// not start with `-` start with a STRING first character), and STRING
/// characters are policy characters. A fixed word or number that matches
/// is therefore never longer than the STRING run at the same place, which
/// is never longer than the policy text; each can only win with exactly
/// the length of the run that contains it, if its rule comes first. The
/// unit tests check this function against the rules tried one by one.
///
/// Inlined into the scanner: its result then stays in registers (returned
/// through memory it was read back before the stores had landed).
#[inline(always)]
fn best_match(input: &str, state: State) -> (usize, Lexeme) {
    let bytes = input.as_bytes();
    let Some((&first, after)) = bytes.split_first() else {
        return (0, Lexeme::Tok(TokKind::Eof));
    };
    let tok = |len: usize, kind: TokKind| (len, Lexeme::Tok(kind));
    // A hex number (rule 15; keys are most of a script's bytes): its
    // digits are looked at once. It wins where the STRING run ends with
    // it (rule 18 stops at the `x`); else the run goes on as a STRING.
    if state != State::Policy
        && first == b'0'
        && let Some((b'x' | b'X', digits)) = after.split_first()
    {
        let hex = hex_run(digits);
        let rest = digits.get(hex..).unwrap_or_default();
        if hex > 0 && !rest.first().is_some_and(|&b| is(b, WORD)) {
            return tok(2 + hex, TokKind::Hex);
        }
        let len = 2 + hex + run(rest, WORD);
        let word = bytes.get(..len).unwrap_or_default();
        return (len, word_lexeme(word, state));
    }
    // The STRING run (rule 17), empty if the first byte cannot start one.
    let word = if is(first, WORD_FIRST) {
        bytes.get(..1 + run(after, WORD)).unwrap_or_default()
    } else {
        &[]
    };
    if state == State::Policy && is(first, POLICY_FIRST) {
        let policy = 1 + long_run(after, POLICY);
        // Rules 1 and 2 come before the policy text and win a tie with it;
        // rule 18 comes after it and wins only by being longer (`,` is no
        // policy character).
        if policy == 2 && first == b'-' && after.first() == Some(&b'P') {
            return tok(2, TokKind::FPolicy);
        }
        if word.len() == policy
            && let Some(k) = keyword(word)
        {
            return tok(policy, TokKind::Keyword(k));
        }
        let numbers = run(bytes, DIGIT_COMMA);
        if numbers > policy {
            return tok(numbers, TokKind::Str);
        }
        return tok(policy, TokKind::PolicyText);
    }
    if !word.is_empty() {
        // Rule 18 is the only one that can reach past the STRING run; its
        // run is empty unless the first byte is a digit (a `,` starts no
        // STRING run), as it is for addresses and numbers, not for names.
        let numbers = if first.is_ascii_digit() {
            run(bytes, DIGIT_COMMA)
        } else {
            0
        };
        if numbers > word.len() {
            return tok(numbers, TokKind::Str);
        }
        // Outside the algorithm states no named word starts with a digit
        // (addresses, SPIs): a number if the digits make the whole word
        // (`,` is no STRING character), else a STRING; `0x` was taken above.
        if state == State::Initial && first.is_ascii_digit() {
            let kind = if numbers == word.len() {
                TokKind::Dec
            } else {
                TokKind::Str
            };
            return tok(word.len(), kind);
        }
        return (word.len(), word_lexeme(word, state));
    }
    match first {
        b'-' => {
            // Rules 2, 5 and 7-10 have different second characters, so at
            // most one of them matches (the flags among themselves: the
            // longest).
            let ai_flags = run(after, AI_FLAG);
            if after.first() == Some(&b'P') {
                tok(2, TokKind::FPolicy)
            } else if ai_flags > 0 {
                tok(1 + ai_flags, TokKind::AiFlags)
            } else if let Some((len, k)) = flag(after) {
                tok(len, k)
            } else {
                tok(1, TokKind::Fatal)
            }
        }
        // Rule 12.
        b' ' | b'\t' => {
            let blanks = after
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(after.len());
            (1 + blanks, Lexeme::Skip)
        }
        b'\n' => (1, Lexeme::Newline),
        b'#' => (
            1 + after
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(after.len()),
            Lexeme::Skip,
        ),
        b';' => tok(1, TokKind::Eot),
        // Rule 13.
        b'/' => tok(1, TokKind::Slash),
        b'[' => tok(1, TokKind::BLcl),
        b']' => tok(1, TokKind::ELcl),
        // Rule 16: no escapes; an unterminated quote is left to rule 19.
        b'"' => match after.iter().position(|&b| b == b'"') {
            Some(n) => tok(n + 2, TokKind::Quoted),
            None => tok(1, TokKind::Fatal),
        },
        // Rule 18 (a digit starts a STRING run, handled above).
        b',' => tok(run(bytes, DIGIT_COMMA), TokKind::Str),
        // Rule 19: any other character (a whole UTF-8 character).
        _ => tok(
            input.chars().next().map_or(1, char::len_utf8),
            TokKind::Fatal,
        ),
    }
}

/// The `-` flags of [`FIXED`] by what follows the `-` (`after`): the
/// longest that matches, with its length. A `match` on the next bytes
/// rather than a scan of the table (a unit test checks the two agree).
fn flag(after: &[u8]) -> Option<(usize, TokKind)> {
    use TokKind as T;
    let (&second, more) = after.split_first()?;
    let third = more.first().copied();
    Some(match (second, third) {
        (b'A', _) => (2, T::FAuth),
        (b'E', _) => (2, T::FEnc),
        (b'C', _) => (2, T::FComp),
        (b'R', _) => (2, T::FRawCpi),
        (b'm', _) => (2, T::FMode),
        (b'u', _) => (2, T::FReqid),
        (b'f', _) => (2, T::FExt),
        (b'r', _) => (2, T::FReplay),
        (b'l', Some(b'h')) => (3, T::FLifeHard),
        (b'l', Some(b's')) => (3, T::FLifeSoft),
        (b'b', Some(b'h')) => (3, T::FByteHard),
        (b'b', Some(b's')) => (3, T::FByteSoft),
        (b'c', Some(b't')) if more.get(1) == Some(&b'x') => (4, T::FCtx),
        _ => return None,
    })
}

/// A statement keyword (rule 1).
fn keyword(word: &[u8]) -> Option<Keyword> {
    // Every keyword starts with a lowercase letter: addresses and numbers
    // are rejected without a look at the table.
    if !word.first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    exact(word, KEYWORDS)
}

/// The statement keywords, protocols and fixed words ([`KEYWORDS`],
/// [`PROTOS`], the words of [`FIXED`] that do not start with `-`) as one
/// `match`, which compiles to a branch on the length and a comparison or
/// two, rather than scans of the three tables; no word is in two of them,
/// so their order does not matter (a unit test checks the two agree).
fn named_word(word: &[u8]) -> Option<TokKind> {
    use TokKind as T;
    Some(match word {
        b"add" => T::Keyword(Keyword::Add),
        b"delete" => T::Keyword(Keyword::Delete),
        b"deleteall" => T::Keyword(Keyword::DeleteAll),
        b"get" => T::Keyword(Keyword::Get),
        b"getspi" => T::Keyword(Keyword::GetSpi),
        b"flush" => T::Keyword(Keyword::Flush),
        b"dump" => T::Keyword(Keyword::Dump),
        b"exit" | b"quit" | b"bye" => T::Keyword(Keyword::Exit),
        b"spdadd" => T::Keyword(Keyword::SpdAdd),
        b"spdupdate" => T::Keyword(Keyword::SpdUpdate),
        b"spddelete" => T::Keyword(Keyword::SpdDelete),
        b"spddump" => T::Keyword(Keyword::SpdDump),
        b"spdflush" => T::Keyword(Keyword::SpdFlush),
        b"tagged" => T::Keyword(Keyword::Tagged),
        b"ah" => T::Proto(ProtoKw::Ah),
        b"esp" => T::Proto(ProtoKw::Esp),
        b"ah-old" => T::Proto(ProtoKw::AhOld),
        b"esp-old" => T::Proto(ProtoKw::EspOld),
        b"esp-udp" => T::Proto(ProtoKw::EspUdp),
        b"ipcomp" => T::Proto(ProtoKw::IpComp),
        b"tcp" => T::Proto(ProtoKw::Tcp),
        b"transport" => T::Mode(IpsecMode::Transport),
        b"tunnel" => T::Mode(IpsecMode::Tunnel),
        b"random-pad" => T::Ext(ExtFlag::RandomPad),
        b"seq-pad" => T::Ext(ExtFlag::SeqPad),
        b"zero-pad" => T::Ext(ExtFlag::ZeroPad),
        b"nocyclic-seq" => T::Ext(ExtFlag::NoCyclicSeq),
        b"any" => T::Any,
        _ => return None,
    })
}

/// What a whole STRING run (rule 17) is: among the rules that match
/// exactly this far, the earliest.
fn word_lexeme(word: &[u8], state: State) -> Lexeme {
    let alg = match state {
        State::Enc => enc_name(word),
        State::Auth if word == algorithms::TCP_MD5.as_bytes() => return Lexeme::Swallow,
        State::Auth => auth_name(word),
        State::Initial | State::Policy => None,
    };
    if let Some(k) = alg {
        return Lexeme::Tok(k);
    }
    // Protocols and the fixed words of rules 7-11 start with a lowercase
    // letter too.
    if word.first().is_some_and(u8::is_ascii_lowercase) {
        if let Some(k) = named_word(word) {
            return Lexeme::Tok(k);
        }
        if let Some(k) = comp_name(word) {
            return Lexeme::Tok(k);
        }
    }
    // Rules 14 and 15.
    if word.iter().all(u8::is_ascii_digit) {
        return Lexeme::Tok(TokKind::Dec);
    }
    if let Some(digits) = word
        .strip_prefix(b"0x")
        .or_else(|| word.strip_prefix(b"0X"))
        && !digits.is_empty()
        && digits.iter().all(|&b| hex_digit(b).is_some())
    {
        return Lexeme::Tok(TokKind::Hex);
    }
    Lexeme::Tok(TokKind::Str)
}

/// All tokens of a script, as the parser sees them.
#[cfg(test)]
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    Lexer::new(source).collect()
}

/// All tokens of a script, going on after a character no rule accepts
/// (each one becomes a [`TokKind::Fatal`] token). Only for finding key
/// material to mask: a diagnostic shows the text around an error, and keys
/// after a fatal character must be recognised too.
pub(crate) fn tokenize_for_masking(source: &str) -> Vec<Token> {
    Lexer {
        stop_at_fatal: false,
        ..Lexer::new(source)
    }
    .collect()
}

/// The scanner, as an iterator of tokens, so that the parser can read a
/// script statement by statement without holding all its tokens.
///
/// It ends after the [`TokKind::Eof`] token, or after the first
/// [`TokKind::Fatal`] one: the parser reports a fatal character only when
/// it reaches it, so text after `exit;` never matters.
///
/// No `Debug`: it holds the script, keys included.
pub(crate) struct Lexer<'s> {
    source: &'s str,
    /// Where the next token starts looking.
    pos: usize,
    /// setkey's LINE.
    line: u32,
    /// The start condition.
    state: State,
    /// The start of the last token if it was policy text: a `;` right after
    /// it shows that text too.
    policy_text: Option<usize>,
    /// `false` goes on after a fatal character (for masking).
    stop_at_fatal: bool,
    /// The last token was returned.
    done: bool,
}

impl<'s> Lexer<'s> {
    /// A lexer at the start of `source`.
    pub(crate) fn new(source: &'s str) -> Self {
        Lexer {
            source,
            pos: 0,
            line: 1,
            state: State::Initial,
            policy_text: None,
            stop_at_fatal: true,
            done: false,
        }
    }

    /// A lexer at byte `pos` of `source`, going on from `at` (taken from
    /// another window of the same script at a statement's start).
    pub(crate) fn resume(source: &'s str, pos: usize, at: Checkpoint) -> Self {
        Lexer {
            pos,
            line: at.line,
            state: at.state,
            ..Lexer::new(source)
        }
    }

    /// What the lexer carries from one statement to the next (right after
    /// a `;`, where no policy text is pending).
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            line: self.line,
            state: self.state,
        }
    }
}

/// The lexer's line counter and start condition between two statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// setkey's LINE.
    pub line: u32,
    /// The start condition.
    pub state: State,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            line: 1,
            state: State::Initial,
        }
    }
}

impl Lexer<'_> {
    /// Appends the tokens up to the end of the statement (its `;`, the end
    /// of the text, or a character no rule accepts) to `out`, the last one
    /// included. One loop around the scanner, so that each token is
    /// written straight into `out`.
    pub(crate) fn statement(&mut self, out: &mut Vec<Token>) {
        while let Some(t) = self.scan() {
            let last = matches!(t.kind, TokKind::Eot | TokKind::Eof | TokKind::Fatal);
            out.push(t);
            if last {
                break;
            }
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.scan()
    }
}

impl Lexer<'_> {
    /// The next token ([`Iterator::next`]).
    #[inline(always)]
    fn scan(&mut self) -> Option<Token> {
        if self.done {
            return None;
        }
        loop {
            if self.state != State::Policy {
                // Rule 12 inline: the blanks between the words of a
                // statement are most of a script's lexemes, and skipping
                // them here spares a dispatch each (in the policy state
                // blanks belong to the policy text).
                let bytes = self.source.as_bytes();
                while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
                    self.pos += 1;
                }
            }
            let rest = self.source.get(self.pos..).unwrap_or("");
            let start = self.pos;
            if rest.is_empty() {
                self.done = true;
                return Some(Token {
                    kind: TokKind::Eof,
                    start,
                    end: start,
                    line: self.line,
                    text_start: start,
                    text_end: start,
                });
            }
            let (len, lexeme) = best_match(rest, self.state);
            self.pos += len;
            let kind = match lexeme {
                Lexeme::Skip | Lexeme::Swallow => continue,
                Lexeme::Newline => {
                    self.line = self.line.saturating_add(1);
                    continue;
                }
                Lexeme::Tok(kind) => kind,
            };
            let end = self.pos;
            let (mut text_start, mut text_end) = (start, end);
            let policy_text = self.policy_text.take();
            match kind {
                TokKind::FPolicy => self.state = State::Policy,
                TokKind::FEnc => self.state = State::Enc,
                TokKind::FAuth => self.state = State::Auth,
                TokKind::EncAlg(..) | TokKind::AuthAlg(..) => self.state = State::Initial,
                TokKind::PolicyText => {
                    // Newlines inside the policy are counted (flex's rule
                    // counts them).
                    let text = rest.as_bytes().get(..len).unwrap_or_default();
                    // Most policies are on one line: looked for first.
                    let lfs = match memchr::memchr(b'\n', text) {
                        Some(_) => text.iter().filter(|&&b| b == b'\n').count(),
                        None => 0,
                    };
                    self.line = self
                        .line
                        .saturating_add(u32::try_from(lfs).unwrap_or(u32::MAX));
                    self.policy_text = Some(start);
                }
                TokKind::Eot if self.state == State::Policy => {
                    self.state = State::Initial;
                    // setkey's scanner keeps the policy text in yytext
                    // (yymore), so messages at this `;` show the policy
                    // followed by `;`. Only a comment can come between the
                    // two, and a comment ends at a newline, which starts
                    // policy text again: the policy text ends at the `;`.
                    if let Some(p) = policy_text {
                        text_start = p;
                    }
                }
                TokKind::Quoted => {
                    // yytext loses its quotes; embedded newlines are not
                    // counted.
                    text_start = start + 1;
                    text_end = end - 1;
                }
                TokKind::Fatal if self.stop_at_fatal => self.done = true,
                _ => {}
            }
            return Some(Token {
                kind,
                start,
                end,
                line: self.line,
                text_start,
                text_end,
            });
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
            .map(|t| t.text(s).to_string())
            .collect()
    }

    #[test]
    fn hex_blocks_decode_as_digit_by_digit() {
        let digits = b"0123456789abcdefABCDEF";
        let mut next = crate::parse::test_walk(0x1234_5678_9ABC_DEF1);
        for _ in 0..20_000 {
            let mut block = [0u8; 8];
            for d in &mut block {
                *d = digits[next(digits.len())];
            }
            let nibble = |c: u8| hex_digit(c).unwrap();
            let expected: Vec<u8> = block
                .chunks(2)
                .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
                .collect();
            assert_eq!(hex_block(block).to_vec(), expected, "{block:?}");
        }
        assert_eq!(hex_block(*b"fFfF0000"), [0xff, 0xff, 0, 0]);
    }

    #[test]
    fn flags_are_the_flags_of_the_table() {
        let by_table = |bytes: &[u8]| {
            FIXED
                .iter()
                .filter(|(w, _)| w.starts_with('-') && starts_with_word(bytes, w))
                .max_by_key(|(w, _)| w.len())
                .map(|&(w, k)| (w.len(), k))
        };
        let mut count = 0;
        for (w, _) in FIXED.iter().filter(|(w, _)| w.starts_with('-')) {
            count += 1;
            for more in ["", "x", "h", "tx", " "] {
                let text = format!("{w}{more}");
                let bytes = text.as_bytes();
                assert_eq!(flag(&bytes[1..]), by_table(bytes), "{text}");
                for cut in 1..bytes.len() {
                    let bytes = &bytes[..cut];
                    assert_eq!(flag(&bytes[1..]), by_table(bytes), "{text} cut at {cut}");
                }
            }
        }
        assert_eq!(count, 13);
        for text in [
            "-", "-x", "-l", "-lx", "-b", "-c", "-ct", "-ctX", "-a", "-e",
        ] {
            let bytes = text.as_bytes();
            assert_eq!(flag(&bytes[1..]), by_table(bytes), "{text}");
        }
    }

    #[test]
    fn named_words_are_the_words_of_the_tables() {
        let tables = KEYWORDS
            .iter()
            .map(|&(w, k)| (w, TokKind::Keyword(k)))
            .chain(PROTOS.iter().map(|&(w, k)| (w, TokKind::Proto(k))))
            .chain(FIXED.iter().copied().filter(|(w, _)| !w.starts_with('-')));
        let mut count = 0;
        for (w, k) in tables {
            assert_eq!(named_word(w.as_bytes()), Some(k), "{w}");
            count += 1;
        }
        assert_eq!(count, 30);
        for w in [
            "", "-P", "-A", "Add", "addx", "anyx", "esp-", "deflate", "10.0.0.1",
        ] {
            assert_eq!(named_word(w.as_bytes()), None, "{w}");
        }
    }

    #[test]
    fn long_runs_are_runs() {
        let bytes = b"az09:.-_/ \t\n%+[],;#\"x\x80";
        let mut next = crate::parse::test_walk(0x0123_4567_89AB_CDEF);
        for _ in 0..20_000 {
            let text: Vec<u8> = (0..next(40)).map(|_| bytes[next(bytes.len())]).collect();
            for class in [WORD_FIRST, WORD, POLICY_FIRST, POLICY, DIGIT_COMMA, AI_FLAG] {
                assert_eq!(long_run(&text, class), run(&text, class), "{text:?}");
            }
        }
        let policy = b" out ipsec esp/transport//require;";
        assert_eq!(long_run(policy, POLICY), policy.len() - 1);
    }

    #[test]
    fn hex_digits_have_the_values_of_to_digit() {
        for b in 0..=u8::MAX {
            let expected = char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok());
            assert_eq!(hex_digit(b), expected, "{b:#04x}");
        }
    }

    #[test]
    fn blanks_are_skipped_in_every_state_but_the_policy() {
        let s = "add \t 1  2 esp\t3 -E  aes-cbc \t 0x00 -A\thmac-md5 \t\"k\" ;\n\
                 spdadd 1 2 any -P  out  ipsec \t esp/transport//require ;";
        let toks = tokenize(s);
        let texts: Vec<&str> = toks.iter().map(|t| t.text(s)).collect();
        assert_eq!(
            texts,
            [
                "add",
                "1",
                "2",
                "esp",
                "3",
                "-E",
                "aes-cbc",
                "0x00",
                "-A",
                "hmac-md5",
                "k",
                ";",
                "spdadd",
                "1",
                "2",
                "any",
                "-P",
                "  out  ipsec \t esp/transport//require ",
                "  out  ipsec \t esp/transport//require ;",
                ""
            ]
        );
        assert_eq!(toks.last().map(|t| (t.line, t.start)), Some((2, s.len())));
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
        assert_eq!(kinds("-E aes-gcm-24")[1], TokKind::Str);
        // rsetkey's AEAD names are tokens; the grammar refuses them under
        // the name setkey.
        assert_eq!(
            kinds("-E aes-gcm-16")[1],
            TokKind::EncAlg(EncryptAlgorithm::AesGcm16, EncKind::Keyed)
        );
        // tcp-md5 is swallowed.
        assert_eq!(kinds("-A tcp-md5 \"k\"")[1], TokKind::Quoted);
    }

    #[test]
    fn policy_text_is_one_token_with_counted_lines() {
        let src = "spdadd a b any -P out ipsec\n  esp/transport//require;\nflush;";
        let toks = tokenize(src);
        let pol = toks.iter().find(|t| t.kind == TokKind::PolicyText);
        assert_eq!(
            pol.map(|t| t.text(src)),
            Some(" out ipsec\n  esp/transport//require")
        );
        assert_eq!(pol.map(|t| t.line), Some(2));
        let eot = toks.iter().find(|t| t.kind == TokKind::Eot);
        assert_eq!(
            eot.map(|t| t.text(src)),
            Some(" out ipsec\n  esp/transport//require;")
        );
        assert_eq!(toks.last().map(|t| t.line), Some(3));
    }

    #[test]
    fn hash_ends_a_policy() {
        let src = "-P out # c\n ipsec;";
        let k = kinds(src);
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
        // The `;` shows the last piece of policy text only.
        assert_eq!(texts(src)[3], "\n ipsec;");
    }

    #[test]
    fn quoted_strings_do_not_count_lines() {
        let src = "\"a\nb\" x\ny";
        let toks = tokenize(src);
        assert_eq!(toks[0].text(src), "a\nb");
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
    fn dispatch_edges() {
        use TokKind::*;
        // Address flags, and flags that are prefixes of each other.
        assert_eq!(
            kinds("-4n -n6x -lhx"),
            vec![AiFlags, AiFlags, Str, FLifeHard, Str, Eof]
        );
        assert_eq!(texts("-4n")[0], "-4n");
        // A lone `-` or an unknown flag is fatal.
        assert_eq!(kinds("-x")[0], Fatal);
        // `3des-cbc` is a name only in the enc state; elsewhere a number
        // and a STRING compete and the STRING is longer.
        assert_eq!(
            kinds("-E 3des-cbc 3des-cbc 3 3des"),
            vec![
                FEnc,
                EncAlg(EncryptAlgorithm::TripleDesCbc, EncKind::Keyed),
                Str,
                Dec,
                Str,
                Eof
            ]
        );
        assert_eq!(kinds("-E 3des 0x1")[1], Str);
        // Hex needs a digit after the prefix, and loses to a longer STRING.
        assert_eq!(kinds("0x 0X1F 0x1f: 0x1g"), vec![Str, Hex, Str, Str, Eof]);
        assert_eq!(kinds("135,0 1,2x ,"), vec![Str, Str, Str, Str, Eof]);
        // Keywords as prefixes of STRINGs.
        assert_eq!(
            kinds("addx esp-udpx transports anyx tcp-md5"),
            vec![Str, Str, Str, Str, Str, Eof]
        );
        assert_eq!(kinds("-A tcp-md5x")[1], Str);
        assert_eq!(kinds("-A tcp-md5 0x12")[1], Hex);
        // The algorithm states keep the global words.
        assert_eq!(kinds("-E esp")[1], Proto(ProtoKw::Esp));
        assert_eq!(kinds("-A add")[1], Keyword(super::Keyword::Add));
        // Non-ASCII: a fatal character, whole.
        let t = tokenize("a\u{e9}b");
        assert_eq!((t[1].kind, t[1].end - t[1].start), (Fatal, 2));
    }

    #[test]
    fn policy_state_ties() {
        use TokKind::*;
        // A keyword beats the policy text on equal length (rule 1 < 3),
        // the policy text beats protocols, flags and numbers (3 < 5, 6, 14).
        assert_eq!(
            kinds("-Padd;"),
            vec![FPolicy, Keyword(super::Keyword::Add), Eot, Eof]
        );
        assert_eq!(kinds("-Pesp;"), vec![FPolicy, PolicyText, Eot, Eof]);
        assert_eq!(kinds("-P-4;"), vec![FPolicy, PolicyText, Eot, Eof]);
        assert_eq!(kinds("-P12;"), vec![FPolicy, PolicyText, Eot, Eof]);
        // `-P` again: rule 2 against the policy text of the same length.
        assert_eq!(kinds("-P-P;"), vec![FPolicy, FPolicy, Eot, Eof]);
        // Rule 18 is longer than the policy text here.
        assert_eq!(kinds("-P1,2;"), vec![FPolicy, Str, Eot, Eof]);
        // `#` inside the policy, and a comment right before the `;`.
        assert_eq!(
            kinds("-P out #c\n;"),
            vec![FPolicy, PolicyText, PolicyText, Eot, Eof]
        );
    }

    /// flex's rules written out naively: every rule active in `state`
    /// tried in rule order, the longest match kept. The dispatching
    /// [`best_match`] must agree with it everywhere.
    fn reference_match(input: &str, state: State) -> (usize, Lexeme) {
        fn run_of(s: &str, from: usize, ok: impl Fn(char) -> bool) -> usize {
            s.get(from..)
                .map_or(0, |r| r.find(|c| !ok(c)).unwrap_or(r.len()))
        }
        fn longest(input: &str, words: &[&str]) -> Option<usize> {
            words
                .iter()
                .filter(|w| input.starts_with(**w))
                .map(|w| w.len())
                .max()
        }
        let word_first = |c: char| c.is_ascii_alphanumeric() || c == ':';
        let word_char = |c: char| c.is_ascii_alphanumeric() || ":%.-".contains(c);
        let pol_first = |c: char| c.is_ascii_alphanumeric() || ":.-_/ \t\n".contains(c);
        let pol_char = |c: char| pol_first(c) || "%+[]".contains(c);
        let first = input.chars().next();
        let starts = |ok: &dyn Fn(char) -> bool| first.is_some_and(ok);
        let mut rules: Vec<(Option<usize>, Lexeme)> = Vec::new();
        let tok = Lexeme::Tok;
        for row in &algorithms::TABLE {
            for s in row.names {
                if !input.starts_with(s.text) {
                    continue;
                }
                let kind = match (row.setkey, state) {
                    (Setkey::Encrypt(a), State::Enc) => TokKind::EncAlg(a, s.form),
                    (Setkey::Auth(a), State::Auth) => TokKind::AuthAlg(a, s.form == Form::NoKey),
                    _ => continue,
                };
                rules.push((Some(s.text.len()), tok(kind)));
            }
        }
        if state == State::Auth {
            rules.push((longest(input, &[algorithms::TCP_MD5]), Lexeme::Swallow));
        }
        for (w, k) in KEYWORDS {
            rules.push((longest(input, &[w]), tok(TokKind::Keyword(*k))));
        }
        rules.push((longest(input, &["-P"]), tok(TokKind::FPolicy)));
        if state == State::Policy {
            let n = starts(&pol_first).then(|| 1 + run_of(input, 1, pol_char));
            rules.push((n, tok(TokKind::PolicyText)));
            rules.push((longest(input, &[";"]), tok(TokKind::Eot)));
        }
        let flags = run_of(input, 1, |c| "n46".contains(c));
        rules.push((
            (input.starts_with('-') && flags > 0).then_some(1 + flags),
            tok(TokKind::AiFlags),
        ));
        for (w, k) in PROTOS {
            rules.push((longest(input, &[w]), tok(TokKind::Proto(*k))));
        }
        for (w, k) in FIXED {
            rules.push((longest(input, &[w]), tok(*k)));
        }
        for row in algorithms::of_kind(Kind::Compression) {
            if let (Setkey::Compress(c), Some(s)) = (row.setkey, row.names.first()) {
                rules.push((longest(input, &[s.text]), tok(TokKind::CompAlg(c))));
            }
        }
        let blanks = run_of(input, 0, |c| c == ' ' || c == '\t');
        rules.push(((blanks > 0).then_some(blanks), Lexeme::Skip));
        rules.push((longest(input, &["\n"]), Lexeme::Newline));
        let comment = input
            .starts_with('#')
            .then(|| input.find('\n').unwrap_or(input.len()));
        rules.push((comment, Lexeme::Skip));
        rules.push((longest(input, &[";"]), tok(TokKind::Eot)));
        rules.push((longest(input, &["/"]), tok(TokKind::Slash)));
        rules.push((longest(input, &["["]), tok(TokKind::BLcl)));
        rules.push((longest(input, &["]"]), tok(TokKind::ELcl)));
        let digits = run_of(input, 0, |c| c.is_ascii_digit());
        rules.push(((digits > 0).then_some(digits), tok(TokKind::Dec)));
        let hex = run_of(input, 2, |c| c.is_ascii_hexdigit());
        let hex_prefix = input.starts_with("0x") || input.starts_with("0X");
        rules.push((
            (hex_prefix && hex > 0).then_some(2 + hex),
            tok(TokKind::Hex),
        ));
        let quoted = input
            .strip_prefix('"')
            .and_then(|r| r.find('"'))
            .map(|n| n + 2);
        rules.push((quoted, tok(TokKind::Quoted)));
        let word = starts(&word_first).then(|| 1 + run_of(input, 1, word_char));
        rules.push((word, tok(TokKind::Str)));
        let dc = run_of(input, 0, |c| c.is_ascii_digit() || c == ',');
        rules.push(((dc > 0).then_some(dc), tok(TokKind::Str)));
        rules.push((first.map(char::len_utf8), tok(TokKind::Fatal)));
        let mut best = (0, Lexeme::Tok(TokKind::Eof));
        for (len, lexeme) in rules {
            if let Some(len) = len
                && len > best.0
            {
                best = (len, lexeme);
            }
        }
        best
    }

    /// Words, fragments and characters that make the rules compete.
    const PIECES: &[&str] = &[
        "add",
        "addx",
        "deleteall",
        "spd",
        "spdadd",
        "-P",
        "-",
        "-4",
        "n",
        "6",
        "-n6",
        "-E",
        "-A",
        "-C",
        "-R",
        "-m",
        "-u",
        "-f",
        "-r",
        "-l",
        "-lh",
        "-ls",
        "-bh",
        "-bs",
        "-ctx",
        "-c",
        "esp",
        "esp-",
        "esp-udp",
        "esp-old",
        "ah-old",
        "tcp",
        "tcp-md5",
        "any",
        "oui",
        "tunnel",
        "transport",
        "s",
        "random-pad",
        "3des-cbc",
        "des",
        "-cbc",
        "aes-cbc",
        "null",
        "simple",
        "hmac-sha2-256",
        "hmac-sha256",
        "hmac-md5",
        "0",
        "0x",
        "0X",
        // long hex runs, read eight digits at a time
        "0x0123456789abcdef",
        "ABCDEF01",
        "deadbeef9",
        "1f",
        "g",
        "9",
        "135",
        ",",
        ":",
        "%",
        ".",
        "_",
        "/",
        "+",
        "[",
        "]",
        " ",
        "\t",
        "\n",
        "#",
        ";",
        "\"",
        "@",
        "\\",
        "\u{e9}",
        "\r",
    ];

    #[test]
    fn dispatch_agrees_with_the_rule_by_rule_reference() {
        // A deterministic walk over many concatenations of the pieces.
        let mut next = crate::parse::test_walk(0x9E37_79B9_7F4A_7C15u64);
        for _ in 0..20_000 {
            let len = 1 + next(6);
            let text: String = (0..len)
                .filter_map(|_| PIECES.get(next(PIECES.len())).copied())
                .collect();
            for state in [State::Initial, State::Policy, State::Enc, State::Auth] {
                for (at, _) in text.char_indices() {
                    let rest = text.get(at..).unwrap_or("");
                    assert_eq!(
                        best_match(rest, state),
                        reference_match(rest, state),
                        "{rest:?} in {state:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn fixed_words_are_strings_as_the_dispatch_assumes() {
        let is_string = |w: &str| {
            let b = w.as_bytes();
            b.first().is_some_and(|&c| is(c, WORD_FIRST)) && b.iter().all(|&c| is(c, WORD))
        };
        let global = KEYWORDS
            .iter()
            .map(|(w, _)| *w)
            .chain(PROTOS.iter().map(|(w, _)| *w))
            .chain(
                FIXED
                    .iter()
                    .map(|(w, _)| *w)
                    .filter(|w| !w.starts_with('-')),
            );
        for w in global {
            assert!(is_string(w), "{w}");
            assert!(w.starts_with(|c: char| c.is_ascii_lowercase()), "{w}");
        }
        let algs = algorithms::TABLE
            .iter()
            .flat_map(|row| row.names)
            .map(|s| s.text);
        for w in algs.chain([algorithms::TCP_MD5]) {
            assert!(is_string(w), "{w}");
            // the dispatch takes `0x` for a hex number in every state
            assert!(!w.starts_with("0x") && !w.starts_with("0X"), "{w}");
        }
        for (w, _) in FIXED.iter().filter(|(w, _)| w.starts_with('-')) {
            assert!(!w[1..].starts_with(['n', '4', '6', 'P']), "{w}");
        }
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
