//! The setkey `-f` / `-c` script dialect: lexer, parser and lowering to IR.
//!
//! * `lexer` splits the script the way setkey's flex scanner does;
//! * `grammar` is the statement grammar (nom over the tokens), lowering
//!   each statement to [`crate::ir::Statement`] as it goes;
//! * `policy` is libipsec's `-P` policy language (nom over the text);
//! * [`resolve`] looks up host, service and protocol names.
//!
//! Messages are setkey's, byte for byte, because the CLI
//! prints them where setkey would; diagnostics add a labelled source
//! snippet and a hint. The one deliberate difference: key material is
//! masked everywhere, also where setkey's message names a key
//! (``Invalid key length at `****'``, one `*` per character, after the
//! `0x` of a hex key).
//!
//! Key hygiene: tokens are byte ranges into the script, so key text is
//! never copied on the way; the hex-decoding buffer, `-c` statements and
//! the unmasked script handed to [`ParseError::with_source_name`] are
//! wiped when dropped ([`zeroize::Zeroizing`]); keys end up in
//! [`crate::ir::Key`]. The caller's script text itself necessarily holds the
//! keys: read it with [`script_text`] to get a wiped buffer.

pub mod diagnostic;
mod grammar;
pub mod input;
pub mod interactive;
mod lexer;
mod policy;
pub mod resolve;
mod scan;
pub mod split;

use miette::SourceSpan;
use zeroize::Zeroizing;

use crate::ir::{Statement, SupportedAlgorithms};
use grammar::{Fail, FailKind, Grammar, Toks};
use lexer::{TokKind, Token};
pub use resolve::{Family, FileNames, NameService, SystemNames};
pub use scan::names_algorithms;

/// How scripts are read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The algorithms and key sizes the kernel offers (its SADB_REGISTER
    /// reply); key lengths are checked against them.
    pub supported: SupportedAlgorithms,
    /// `true` = setkey `-r` (the default): an `in` policy also gets a `fwd`
    /// twin; `false` = `-k`.
    pub rfc_mode: bool,
    /// rsetkey's additions to setkey's dialect, which need the kernel's
    /// XFRM interface: the AEAD ciphers (`-E aes-gcm-16`, ...), `-f esn`
    /// and replay windows past PF_KEY's 8 bits. Off when rsetkey runs as
    /// `setkey`: a script then parses exactly as setkey parses it.
    pub extensions: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            supported: SupportedAlgorithms::linux_default(),
            rfc_mode: true,
            extensions: false,
        }
    }
}

/// A script that setkey would refuse, with setkey's exact message and a
/// diagnostic for humans.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{display}")]
pub struct ParseError {
    /// setkey's LINE for the message: the lexer's line counter when the
    /// error was found, as setkey's yacc parser reports it.
    pub line: u32,
    /// setkey's exact text including the token part, e.g.
    /// ``syntax error at `update'``; `None` for the failure setkey reports
    /// with `parse failed` only (no source/destination pair of one family).
    pub message: Option<String>,
    /// A character the lexer rejects: setkey prints ``Syntax error at `C'``
    /// and no `parse failed` line.
    pub lexer_fatal: bool,
    /// A key of the wrong length: setkey first prints the bare line
    /// `KEYBITS MINBITS MAXBITS`.
    pub key_bits: Option<(usize, u16, u16)>,
    /// The headline of the diagnostic: `message` with any key material
    /// masked.
    display: String,
    /// What the diagnostic shows of the script: the error's line, cut to
    /// a window, key material masked, control characters escaped.
    #[source_code]
    src: diagnostic::Excerpt,
    /// Where the problem is in the script.
    span: SourceSpan,
    /// Where the problem is in `src`.
    #[label("{label}")]
    label_span: SourceSpan,
    /// Text of the label.
    label: String,
    /// A hint on how to fix it.
    #[help]
    help: Option<String>,
    /// Byte ranges of key material in the script, masked in every source
    /// handed to miette.
    secrets: Vec<(usize, usize)>,
}

impl ParseError {
    /// Attaches the script's name (as the CLI shows it) and text; key
    /// material in it is masked like in the original.
    ///
    /// The unmasked `source` is wiped before this returns.
    pub fn with_source_name(mut self, name: &str, source: String) -> Self {
        let source = Zeroizing::new(source);
        self.src = diagnostic::Excerpt::new(
            name,
            &source,
            (self.span.offset(), self.span.len()),
            &self.secrets,
        );
        self.label_span = self.src.span();
        self
    }

    /// Names the script in the diagnostic, whose excerpt was taken from
    /// the script as it was read.
    pub fn with_name(mut self, name: &str) -> Self {
        self.src.rename(name);
        self
    }

    /// The hint, if there is one.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

/// Quoted strings and hex numbers: the two ways setkey writes a key.
fn quoted_or_hex(k: TokKind) -> bool {
    matches!(k, TokKind::Quoted | TokKind::Hex)
}

/// Whether the token at `idx` sits where key material goes, judged from
/// the tokens before it:
///
/// * a quoted or hex token right after `-E`/`-A` or after an algorithm
///   name (known or not: `-E aes-gcm-16 0x…` still carries a key);
/// * any word-like token (also an unquoted word, a number or a character
///   the lexer refuses) right after an algorithm that takes a key, after
///   an unknown algorithm name, or after `-A tcp-md5` (which the scanner
///   swallows).
fn in_key_position(tokens: &[Token], idx: usize, source: &str) -> bool {
    let Some(t) = tokens.get(idx) else {
        return false;
    };
    let qh = quoted_or_hex(t.kind);
    let word_like = qh || matches!(t.kind, TokKind::Str | TokKind::Dec | TokKind::Fatal);
    if !word_like {
        return false;
    }
    let before = |n: usize| idx.checked_sub(n).and_then(|p| tokens.get(p));
    let Some(prev) = before(1) else {
        return false;
    };
    match prev.kind {
        TokKind::EncAlg(_, kind) => {
            qh || !matches!(kind, lexer::EncKind::NoKey | lexer::EncKind::Old)
        }
        TokKind::AuthAlg(_, nokey) => qh || !nokey,
        // `-E "key"` (no algorithm), or `-A tcp-md5 key`.
        TokKind::FEnc | TokKind::FAuth => {
            qh || t.kind == TokKind::Dec
                || source
                    .get(prev.end..t.start)
                    .is_some_and(|gap| gap.contains(crate::algorithms::TCP_MD5))
        }
        // An unknown algorithm name: what follows is its key.
        TokKind::Str => before(2).is_some_and(|p| matches!(p.kind, TokKind::FEnc | TokKind::FAuth)),
        _ => false,
    }
}

/// Whether the token at `idx` is key material, so that it is masked
/// wherever it would be shown: a token in a key position, or a quoted or
/// hex token right after key material (`"part1" "part2"` is most likely
/// one key in two pieces). Iterative, so a long run of strings costs no
/// stack.
fn is_secret(tokens: &[Token], idx: usize, source: &str) -> bool {
    let mut i = idx;
    loop {
        if in_key_position(tokens, i, source) {
            return true;
        }
        let chained = tokens.get(i).is_some_and(|t| quoted_or_hex(t.kind));
        match i.checked_sub(1) {
            Some(p) if chained => i = p,
            _ => return false,
        }
    }
}

/// The byte ranges of key material in `source` that a diagnostic must not
/// show. Quotes and the `0x` prefix stay visible (they tell the shape of
/// the key, not the key); a key the lexer choked on (a refused character
/// in a key position, or an unterminated quote) is masked to the end of its
/// line, because the rest of it was never tokenized as a key.
fn secret_ranges(source: &str) -> Vec<(usize, usize)> {
    let tokens = lexer::tokenize_for_masking(source);
    let line_end = |from: usize| {
        source
            .get(from..)
            .and_then(|rest| rest.find('\n'))
            .map_or(source.len(), |n| from + n)
    };
    let mut ranges = Vec::new();
    // Whether the previous token was key material (the chain rule of
    // `is_secret`, computed in one pass).
    let mut prev_secret = false;
    for (i, t) in tokens.iter().enumerate() {
        let secret = in_key_position(&tokens, i, source) || (prev_secret && quoted_or_hex(t.kind));
        prev_secret = secret;
        let unterminated = t.kind == TokKind::Fatal && t.text(source) == "\"";
        if unterminated {
            ranges.push((t.start, line_end(t.start)));
            continue;
        }
        if !secret {
            continue;
        }
        ranges.push(match t.kind {
            TokKind::Quoted => (t.start + 1, t.end.saturating_sub(1)),
            TokKind::Hex => (t.start + 2, t.end),
            TokKind::Fatal => (t.start, line_end(t.start)),
            _ => (t.start, t.end),
        });
    }
    ranges
}

/// The byte ranges of key material in a script that parsed, for
/// diagnostics about its statements that show the script (`rsetkey
/// check`): quotes and the `0x` prefix stay visible.
pub fn key_ranges(source: &str) -> Vec<(usize, usize)> {
    secret_ranges(source)
}

/// The longest `0x` literal a diagnostic shows: longer ones are masked
/// in a statement that failed to parse, because they may be keys (the
/// shortest key setkey takes in hex, 64-bit DES, is 16 digits; SPIs and
/// other numbers that need more than 16 hex digits do not fit their field
/// anyway).
pub const SHOWN_HEX_DIGITS: usize = 16;

/// Whether a token of a statement that failed to parse may hold key
/// material whatever its position: a quoted string, or a hex literal of
/// more than [`SHOWN_HEX_DIGITS`] digits. A statement that is malformed
/// before its key is reached (`-e` for `-E`, a missing `-E`) never
/// recognised the key as a key.
fn may_be_key(t: &Token, source: &str) -> bool {
    match t.kind {
        TokKind::Quoted => true,
        TokKind::Hex => t.text(source).len().saturating_sub(2) > SHOWN_HEX_DIGITS,
        _ => false,
    }
}

/// The byte ranges [`may_be_key`] masks in the failed statement that
/// starts at byte `from` (quotes and `0x` stay visible, as for keys). The
/// statement is re-read with the masking scanner up to its `;`, because the
/// parser's tokens end where the lexer gave up (a `-e` for `-E` stops them
/// before the key).
fn literal_ranges(source: &str, from: usize) -> Vec<(usize, usize)> {
    lexer::tokenize_for_masking(source)
        .into_iter()
        .skip_while(|t| t.start < from)
        .take_while(|t| !matches!(t.kind, TokKind::Eot | TokKind::Eof))
        .filter(|t| may_be_key(t, source))
        .map(|t| match t.kind {
            TokKind::Quoted => (t.start + 1, t.end.saturating_sub(1)),
            _ => (t.start + 2, t.end),
        })
        .collect()
}

/// A key token's text as messages show it: one `*` per character, after
/// the `0x` of a hex key (setkey shows a quoted key without its quotes).
fn masked_text(t: &Token, source: &str) -> String {
    let text = t.text(source);
    let (prefix, rest) = match t.kind {
        TokKind::Hex => text.split_at(2.min(text.len())),
        _ => ("", text),
    };
    format!("{prefix}{}", "*".repeat(rest.chars().count()))
}

/// A script's bytes as text in a buffer that is wiped when dropped (a
/// script holds keys). Valid UTF-8 is taken over without a copy; otherwise
/// invalid sequences become U+FFFD, like a lossy read, and the original
/// bytes are wiped.
pub fn script_text(bytes: Vec<u8>) -> Zeroizing<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Zeroizing::new(s),
        Err(e) => {
            let bytes = Zeroizing::new(e.into_bytes());
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// Parses and lowers a whole script with the system's name resolution.
///
/// Stops after an `exit`/`quit`/`bye` statement (its statement, with
/// [`crate::ir::Operation::Exit`], is included; nothing after it is read,
/// even if it would not parse). On the first error returns it: nothing is
/// half-returned.
// The error is big (it carries the whole diagnostic) but is returned once
// per script; the CLI is written against this exact signature.
#[allow(clippy::result_large_err)]
pub fn parse_script(source: &str, options: &Options) -> Result<Vec<Statement>, ParseError> {
    parse_script_with(source, options, &SystemNames::default())
}

/// [`parse_script`] with an explicit name service (tests resolve through a
/// fixed hosts file with [`FileNames`]).
#[allow(clippy::result_large_err)]
pub fn parse_script_with(
    source: &str,
    options: &Options,
    names: &dyn NameService,
) -> Result<Vec<Statement>, ParseError> {
    let mut out = Vec::new();
    for statement in Statements::new(source, options, names) {
        match statement {
            Ok(statement) => out.push(statement),
            Err(ScriptError::Parse(e)) => return Err(*e),
            // A script in memory has been read already.
            Err(ScriptError::Input(_)) => break,
        }
    }
    Ok(out)
}

/// Why a script read by [`Statements`] stops early.
#[derive(Debug)]
pub enum ScriptError {
    /// Its text could not be read, or breaks a limit of [`input`].
    Input(input::InputError),
    /// A statement setkey would refuse.
    Parse(Box<ParseError>),
}

/// How far before a statement the window keeps the text of the line the
/// statement starts on (and the statements on it), for a diagnostic's
/// excerpt: a line longer than this is shown from the statement on.
const KEEP_BEFORE: usize = 64 * 1024;

/// Bytes the lexer may need to see from a `-` on before it can tell a
/// flag from a refused character (`-ctx`, the longest flag).
const LONGEST_FLAG: usize = 4;

/// A script's statements, parsed and lowered one at a time as its text
/// is read (see [`input::Feed`]): a script from a file is never held
/// whole, only the statement being read and the line it starts on.
///
/// Ends after an `exit` statement (included), at the end of the script,
/// or after the first error, with the same messages, lines and
/// diagnostics as a parse of the whole text.
pub struct Statements<'o, F> {
    feed: F,
    options: &'o Options,
    names: &'o dyn NameService,
    /// Where the next statement's text starts in the window (right after
    /// the `;` before it).
    start: usize,
    /// The start of the statement in which the next statement's line
    /// starts: the window keeps the text from there.
    anchor: usize,
    /// The lexer between statements.
    lex: lexer::Checkpoint,
    /// The tokens of one statement, up to its `;`.
    tokens: Vec<Token>,
    /// The policy texts of the usual statements read last.
    policies: grammar::PolicyMemo,
    done: bool,
}

/// What parsing one statement's tokens gave, holding nothing of the window.
enum Outcome {
    Statement(Statement),
    End,
    Fail(Fail),
}

impl<'o, F: input::Feed> Statements<'o, F> {
    /// The statements of the script `feed` reads.
    pub fn new(feed: F, options: &'o Options, names: &'o dyn NameService) -> Self {
        Statements {
            feed,
            options,
            names,
            start: 0,
            anchor: 0,
            lex: lexer::Checkpoint::default(),
            tokens: Vec::with_capacity(64),
            policies: grammar::PolicyMemo::default(),
            done: false,
        }
    }

    /// The statements of a script's text from a statement's start on:
    /// `feed` begins there (its [`input::Feed::base`] is that offset) and
    /// `at` is what the lexer carries into it.
    pub(crate) fn resume(
        feed: F,
        options: &'o Options,
        names: &'o dyn NameService,
        at: lexer::Checkpoint,
    ) -> Self {
        Statements {
            lex: at,
            ..Statements::new(feed, options, names)
        }
    }

    /// What the text is read from.
    pub(crate) fn feed(&self) -> &F {
        &self.feed
    }

    /// Whether the statements ended (the end, an error, or `exit`).
    pub(crate) fn finished(&self) -> bool {
        self.done
    }

    /// Where the next statement starts (its offset in the script) and what
    /// the lexer carries into it.
    pub(crate) fn next_start(&self) -> (usize, lexer::Checkpoint) {
        (self.feed.base() + self.start, self.lex)
    }

    /// Lexes the next statement's tokens (up to its `;`, the end, or a
    /// character no rule accepts); `false` when the window ends before
    /// the statement does, so that its tokens may not be final (a word or a
    /// quoted string cut by the end of what was read).
    fn lex_statement(&mut self) -> (bool, lexer::Checkpoint) {
        self.tokens.clear();
        let text = self.feed.text();
        let mut lexer = lexer::Lexer::resume(text, self.start, self.lex);
        lexer.statement(&mut self.tokens);
        let checkpoint = lexer.checkpoint();
        let complete = match self.tokens.last() {
            Some(t) if t.kind == TokKind::Eot => true,
            _ if self.feed.at_end() => true,
            // A refused character is one only if more text cannot
            // change it: a quote whose closing quote was not read yet, or
            // a `-` whose flag (`-ctx` at most) was not read in full, may
            // be the start of a token.
            Some(t) if t.kind == TokKind::Fatal => {
                let quote = text.get(t.start..t.end) == Some("\"")
                    && !text.get(t.end..).unwrap_or_default().contains('"');
                !quote && text.len() - t.start >= LONGEST_FLAG
            }
            _ => false,
        };
        (complete, checkpoint)
    }

    /// Reads more of the script, keeping the window from the anchor.
    fn read_more(&mut self) -> Result<(), input::InputError> {
        if self.start - self.anchor > KEEP_BEFORE {
            self.anchor = self.start;
        }
        let keep = self.anchor;
        self.feed.more(keep)?;
        self.start -= keep;
        self.anchor -= keep;
        Ok(())
    }

    /// Parses the lexed statement.
    fn parse(&self) -> Outcome {
        let grammar = Grammar {
            options: self.options,
            names: self.names,
            source: self.feed.text(),
        };
        let input = Toks::new(&self.tokens);
        match grammar.statement(input) {
            Ok((_, None)) => Outcome::End,
            Ok((_, Some(stmt))) => Outcome::Statement(stmt),
            Err(nom::Err::Error(f) | nom::Err::Failure(f)) => Outcome::Fail(f),
            Err(nom::Err::Incomplete(_)) => Outcome::Fail(Fail {
                at: input.pos(),
                kind: FailKind::Syntax,
                help: None,
                span: None,
            }),
        }
    }

    /// The error for `f`, once the window holds what its diagnostic
    /// shows: the rest of the error's line and of its statement (the
    /// masking reads the statement to its `;`).
    fn fail(&mut self, f: Fail) -> ScriptError {
        while !self.feed.at_end() && self.feed.text().len() - self.start < input::MAX_STATEMENT {
            // Nothing is let go of: the tokens point into the window.
            if let Err(e) = self.feed.more(0) {
                return ScriptError::Input(e);
            }
        }
        let window = Window {
            text: self.feed.text(),
            base: self.feed.base(),
            first: self.feed.first(),
        };
        ScriptError::Parse(Box::new(build_error(window, &self.tokens, f)))
    }
}

impl<F: input::Feed> Iterator for Statements<'_, F> {
    type Item = Result<Statement, ScriptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(usual) = self.usual() {
            return Some(Ok(self.taken(usual.statement, usual.end, usual.after)));
        }
        let checkpoint = loop {
            if self.start < self.feed.text().len() || self.feed.at_end() {
                let (complete, checkpoint) = self.lex_statement();
                if complete {
                    break checkpoint;
                }
            }
            if let Err(e) = self.read_more() {
                self.done = true;
                return Some(Err(ScriptError::Input(e)));
            }
        };
        match self.parse() {
            Outcome::End => {
                self.done = true;
                None
            }
            Outcome::Fail(f) => {
                self.done = true;
                Some(Err(self.fail(f)))
            }
            Outcome::Statement(stmt) => {
                let end = self.tokens.last().map_or(self.start, |t| t.end);
                Some(Ok(self.taken(stmt, end, checkpoint)))
            }
        }
    }
}

impl<F: input::Feed> Statements<'_, F> {
    /// The next statement if it is a usual policy statement, read without
    /// tokens (see [`grammar::usual`]); `None` leaves it to the lexer.
    fn usual(&mut self) -> Option<grammar::Usual> {
        let grammar = Grammar {
            options: self.options,
            names: self.names,
            source: self.feed.text(),
        };
        grammar.usual_statement(self.start, self.lex, &mut self.policies)
    }

    /// Moves past `stmt`, whose text ends at `end` in the window, with the
    /// lexer `after` it.
    fn taken(&mut self, mut stmt: Statement, end: usize, after: lexer::Checkpoint) -> Statement {
        let text = self.feed.text().as_bytes().get(self.start..end);
        if memchr::memchr(b'\n', text.unwrap_or_default()).is_some() {
            self.anchor = self.start;
        }
        self.start = end;
        self.lex = after;
        stmt.location.offset += self.feed.base();
        if stmt
            .operations
            .iter()
            .any(|o| matches!(o, crate::ir::Operation::Exit))
        {
            self.done = true;
        }
        stmt
    }
}

/// The part of a script a statement was parsed from.
#[derive(Clone, Copy)]
struct Window<'s> {
    text: &'s str,
    /// Its offset in the script.
    base: usize,
    /// The 0-based line and column it starts at.
    first: (usize, usize),
}

/// Turns a grammar failure into setkey's message plus a diagnostic.
///
/// When setkey would name a key (``Invalid key length at `KEY'``), the key
/// is masked in `message` too: rsetkey's messages never carry key material,
/// even where that makes them differ from setkey's.
fn build_error(window: Window<'_>, tokens: &[Token], f: Fail) -> ParseError {
    let source = window.text;
    let mut secrets = secret_ranges(source);
    if let Some(first) = tokens.first() {
        secrets.extend(literal_ranges(source, first.start));
    }
    let tok = tokens.get(f.at);
    let secret_tok = is_secret(tokens, f.at, source) || tok.is_some_and(|t| may_be_key(t, source));
    // The token as messages name it (a key masked), and on one line for
    // the headline.
    let (line, text, span) = match tok {
        Some(t) => (
            t.line,
            if secret_tok {
                masked_text(t, source)
            } else {
                t.text(source).to_string()
            },
            f.span.unwrap_or((t.start, t.end.saturating_sub(t.start))),
        ),
        None => (1, String::new(), (source.len(), 0)),
    };
    // Control characters never reach the terminal raw, not even in
    // setkey's own line (which keeps a policy text's newlines).
    let text = diagnostic::clip(&text, true);
    let shown = text.replace('\n', " ");
    let at = |msg: &str, t: &str| format!("{msg} at `{t}'");
    let (message, display, lexer_fatal, key_bits, label) = match &f.kind {
        FailKind::Syntax => (
            Some(at("syntax error", &text)),
            at("syntax error", &shown),
            false,
            None,
            if tok.is_some_and(|t| t.kind == TokKind::Eof) {
                "the script ends here".to_string()
            } else {
                "unexpected here".to_string()
            },
        ),
        FailKind::Msg(m) => (
            Some(at(m, &text)),
            at(m, &shown),
            false,
            None,
            "setkey names this token".to_string(),
        ),
        FailKind::Range(m) => (
            Some(at(m, &text)),
            at(m, &shown),
            false,
            None,
            "too big for its field".to_string(),
        ),
        FailKind::KeyLength(bits, min, max) => (
            Some(at("Invalid key length", &text)),
            at("Invalid key length", &shown),
            false,
            Some((*bits, *min, *max)),
            format!("{bits}-bit key"),
        ),
        FailKind::NoPair => (
            None,
            "parse failed".to_string(),
            false,
            None,
            "statement ends here".to_string(),
        ),
        FailKind::Fatal => (
            Some(at("Syntax error", &text)),
            at("Syntax error", &shown),
            true,
            None,
            "no token starts with this character".to_string(),
        ),
    };
    let help = f.help.or_else(|| match &f.kind {
        FailKind::Fatal if secret_tok => {
            Some("a key is a \"quoted string\" or 0x followed by hex digits".into())
        }
        FailKind::Fatal if text == "\\" => {
            Some("setkey has no line continuation; statements may simply span lines".into())
        }
        FailKind::Fatal => Some("this character is not part of the setkey language".into()),
        _ => None,
    });
    // A hint may quote the script (a host name): shown like the rest.
    let help = help.map(|h| diagnostic::clip(&h, false));
    let src = diagnostic::Excerpt::in_window("<script>", source, span, &secrets, window.first);
    // Offsets in the whole script, for a caller that has it.
    for r in &mut secrets {
        *r = (r.0 + window.base, r.1 + window.base);
    }
    ParseError {
        line,
        message,
        lexer_fatal,
        key_bits,
        display,
        label_span: src.span(),
        src,
        span: (span.0 + window.base, span.1).into(),
        label,
        help,
        secrets,
    }
}

#[cfg(test)]
mod stream_tests;

/// A deterministic pseudo-random walk for the tests that compare two ways
/// of doing the same thing over many generated inputs: `next(n)` is a
/// number below `n` (xorshift64 from `seed`).
#[cfg(test)]
pub(crate) fn test_walk(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}
#[cfg(test)]
mod tests;
