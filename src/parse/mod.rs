//! The setkey `-f` / `-c` script dialect: lexer, parser and lowering to IR.
//!
//! * [`lexer`] splits the script the way setkey's flex scanner does;
//! * [`grammar`] is the statement grammar (nom over the tokens), lowering
//!   each statement to [`crate::ir::Statement`] as it goes;
//! * [`policy`] is libipsec's `-P` policy language (nom over the text);
//! * [`resolve`] looks up host, service and protocol names.
//!
//! Messages are setkey's, byte for byte (dialect.md §11), because the CLI
//! prints them where setkey would; diagnostics add a labelled source
//! snippet and a hint, with key material masked.

mod grammar;
pub mod interactive;
mod lexer;
mod policy;
pub mod resolve;

use miette::{NamedSource, SourceSpan};

use crate::ir::{Statement, SupportedAlgorithms};
use grammar::{Fail, FailKind, Grammar, Toks};
use lexer::{TokKind, Token};
pub use resolve::{Family, FileNames, NameService, SystemNames};

/// How scripts are read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The algorithms and key sizes the kernel offers (its SADB_REGISTER
    /// reply); key lengths are checked against them.
    pub supported: SupportedAlgorithms,
    /// `true` = setkey `-r` (the default): an `in` policy also gets a `fwd`
    /// twin; `false` = `-k`.
    pub rfc_mode: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            supported: SupportedAlgorithms::linux_default(),
            rfc_mode: true,
        }
    }
}

/// A script that setkey would refuse, with setkey's exact message and a
/// diagnostic for humans.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{display}")]
pub struct ParseError {
    /// setkey's LINE for the message: the lexer's line counter when the
    /// error was found (dialect.md §11).
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
    /// The script, with key material masked.
    #[source_code]
    src: NamedSource<String>,
    /// Where the problem is.
    #[label("{label}")]
    span: SourceSpan,
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
    pub fn with_source_name(mut self, name: &str, source: String) -> Self {
        self.src = NamedSource::new(name, mask(&source, &self.secrets));
        self
    }

    /// The hint, if there is one.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

/// Replaces the bytes of each range by `*` (byte for byte, so spans stay
/// valid; the result is ASCII where it was masked, hence valid UTF-8).
fn mask(source: &str, secrets: &[(usize, usize)]) -> String {
    let mut bytes = source.as_bytes().to_vec();
    for &(start, end) in secrets {
        for b in bytes.iter_mut().take(end).skip(start) {
            *b = b'*';
        }
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        // A range that cut a multi-byte character: mask conservatively.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Whether the token at `idx` is key material: a quoted or hex token right
/// after `-E`/`-A` or an algorithm name (also where setkey swallowed
/// `tcp-md5`).
fn is_secret(tokens: &[Token], idx: usize) -> bool {
    let Some(t) = tokens.get(idx) else {
        return false;
    };
    if !matches!(t.kind, TokKind::Quoted | TokKind::Hex) {
        return false;
    }
    idx.checked_sub(1)
        .and_then(|p| tokens.get(p))
        .is_some_and(|prev| {
            matches!(
                prev.kind,
                TokKind::FEnc | TokKind::FAuth | TokKind::EncAlg(..) | TokKind::AuthAlg(..)
            )
        })
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
    let tokens = lexer::tokenize(source);
    let grammar = Grammar {
        options,
        names,
        source,
    };
    let mut input = Toks::new(&tokens);
    let mut out = Vec::new();
    loop {
        match grammar.statement(input) {
            Ok((_, None)) => return Ok(out),
            Ok((rest, Some(stmt))) => {
                let exit = stmt
                    .operations
                    .iter()
                    .any(|o| matches!(o, crate::ir::Operation::Exit));
                out.push(stmt);
                if exit {
                    return Ok(out);
                }
                input = rest;
            }
            Err(nom::Err::Error(f) | nom::Err::Failure(f)) => {
                return Err(build_error(source, &tokens, f));
            }
            Err(nom::Err::Incomplete(_)) => {
                let at = input.pos();
                return Err(build_error(
                    source,
                    &tokens,
                    Fail {
                        at,
                        kind: FailKind::Syntax,
                        help: None,
                    },
                ));
            }
        }
    }
}

/// Turns a grammar failure into setkey's message plus a diagnostic.
fn build_error(source: &str, tokens: &[Token], f: Fail) -> ParseError {
    let secrets: Vec<(usize, usize)> = (0..tokens.len())
        .filter(|&i| is_secret(tokens, i))
        .filter_map(|i| tokens.get(i).map(|t| (t.start, t.end)))
        .collect();
    let tok = tokens.get(f.at);
    let (line, text, span) = match tok {
        Some(t) => (
            t.line,
            t.text.clone(),
            (t.start, t.end.saturating_sub(t.start)),
        ),
        None => (1, String::new(), (source.len(), 0)),
    };
    let secret_tok = is_secret(tokens, f.at);
    // In the headline the token of a key error is masked too.
    let shown = if secret_tok {
        "*".repeat(text.chars().count().min(8))
    } else {
        text.replace('\n', " ")
    };
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
        FailKind::Unsupported(m) => (
            Some(at(m, &text)),
            at(m, &shown),
            false,
            None,
            "statement ends here".to_string(),
        ),
    };
    let help = f.help.or_else(|| match &f.kind {
        FailKind::Fatal if text == "\\" => {
            Some("setkey has no line continuation; statements may simply span lines".into())
        }
        FailKind::Fatal => Some("this character is not part of the setkey language".into()),
        _ => None,
    });
    ParseError {
        line,
        message,
        lexer_fatal,
        key_bits,
        display,
        src: NamedSource::new("<script>", mask(source, &secrets)),
        span: span.into(),
        label,
        help,
        secrets,
    }
}

#[cfg(test)]
mod tests;
