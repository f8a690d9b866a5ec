//! What a parse error shows of the script: one line around the error, cut
//! to a window, with key material masked and control characters escaped.
//!
//! A script is untrusted text. Handing it whole to the diagnostic renderer
//! printed a 70 000-column line in full for one error, and sent its escape
//! sequences and NULs raw to the terminal. [`Excerpt`] is the source code a
//! diagnostic gets instead: the error's line only, at most
//! [`WINDOW_COLUMNS`] characters either side of the error, `…` where it
//! was cut, every control character written as `\xNN` (or `\u{NN}`), every
//! character of key material as `*`. It reports the error's real line and
//! column, so the header still reads `file:LINE:COLUMN`.
//!
//! [`render`] draws the diagnostic (headline, snippet, label, hint) in the
//! graphical style rsetkey always used, itself: the snippet is one short
//! line, so a general report renderer (and the text-wrapping and Unicode
//! tables it brings) is not needed.

use std::io::IsTerminal as _;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use std::fmt::Write as _;

/// How many characters of the script a snippet shows on each side of the
/// error (and of the error's own text, at most).
pub const WINDOW_COLUMNS: usize = 100;

/// Marks where a snippet was cut.
const CUT: &str = "…";

/// Whether `c` is printed escaped: C0 controls but the tab, DEL, C1
/// controls. They would move the cursor, change colours or clear the
/// terminal of whoever reads the diagnostic.
pub fn is_escaped(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{7f}'
}

/// `c` as a diagnostic prints it.
fn push_shown(out: &mut String, c: char) {
    if !is_escaped(c) {
        out.push(c);
    } else if u32::from(c) < 0x80 {
        let _ = write!(out, "\\x{:02x}", u32::from(c));
    } else {
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    }
}

/// Text from the script as any line rsetkey prints shows it: control
/// characters escaped, a newline as a space (a message is one line).
pub fn escape_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' {
            out.push(' ');
        } else {
            push_shown(&mut out, c);
        }
    }
    out
}

/// The most characters of the script's text a message line or a hint
/// repeats (a token, a host name); longer text is cut with `…`.
pub const SHOWN_TOKEN_CHARS: usize = 2 * WINDOW_COLUMNS;

/// Text that may quote the script (a message, a hint), as printed:
/// control characters escaped (a newline kept when `keep_newlines`), cut
/// after [`SHOWN_TOKEN_CHARS`] characters of any one line.
pub fn clip(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len().min(4 * SHOWN_TOKEN_CHARS));
    let mut run = 0;
    for c in text.chars() {
        if c == '\n' {
            out.push(if keep_newlines { '\n' } else { ' ' });
            run = 0;
            continue;
        }
        run += 1;
        if run == SHOWN_TOKEN_CHARS + 1 {
            out.push_str(CUT);
        }
        if run > SHOWN_TOKEN_CHARS {
            continue;
        }
        push_shown(&mut out, c);
    }
    out
}

/// The part of a script a diagnostic shows (see the module).
#[derive(Debug, Clone)]
pub struct Excerpt {
    /// The script's name as the header shows it.
    name: String,
    /// The shown text: one line, windowed, masked and escaped.
    text: String,
    /// The error's 0-based line in the script.
    line: usize,
    /// The error's 0-based column (in characters) in the script.
    column: usize,
    /// The error in `text` (what the label underlines).
    span: SourceSpan,
}

impl Excerpt {
    /// An excerpt with no script (before the CLI attaches it).
    pub fn empty(name: &str) -> Self {
        Excerpt {
            name: name.to_string(),
            text: String::new(),
            line: 0,
            column: 0,
            span: (0, 0).into(),
        }
    }

    /// The excerpt of `source` around the byte range `(offset, len)`, with
    /// the byte ranges in `secrets` masked. Offsets past the end, or inside
    /// a character, are clamped: nothing here can panic on any input.
    pub fn new(name: &str, source: &str, span: (usize, usize), secrets: &[(usize, usize)]) -> Self {
        Self::in_window(name, source, span, secrets, (0, 0))
    }

    /// [`Excerpt::new`] of a window of the script that starts at the
    /// 0-based line and column (in characters) `first`: the lines and
    /// columns reported are the script's. Text of the error's line before
    /// the window is not there to show; a cut marks it.
    pub fn in_window(
        name: &str,
        source: &str,
        (offset, len): (usize, usize),
        secrets: &[(usize, usize)],
        first: (usize, usize),
    ) -> Self {
        let floor = |mut i: usize| {
            i = i.min(source.len());
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(offset);
        let line_start = source
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |n| n + 1);
        let line_end = source
            .get(start..)
            .and_then(|s| s.find('\n'))
            .map_or(source.len(), |n| start + n);
        // The underlined part stays on the error's line.
        let end = floor(offset.saturating_add(len)).clamp(start, line_end);
        let line = first.0
            + source
                .get(..line_start)
                .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count());
        // Characters of the error's line before the window.
        let hidden = if line_start == 0 { first.1 } else { 0 };
        let before = source.get(line_start..start).unwrap_or("");
        let column = hidden + before.chars().count();
        let secret = |at: usize| secrets.iter().any(|&(s, e)| (s..e).contains(&at));

        // The window, in characters: WINDOW_COLUMNS before the error, the
        // error itself (at most WINDOW_COLUMNS of it), WINDOW_COLUMNS after.
        let skip = column.saturating_sub(WINDOW_COLUMNS);
        let error_chars = source.get(start..end).map_or(0, |s| s.chars().count());
        let shown_error = error_chars.min(WINDOW_COLUMNS);
        let take = column - skip + shown_error + WINDOW_COLUMNS;
        // What is shown starts `skip` characters into the line, of which
        // `hidden` are not in `source`.
        let (skip, take) = if hidden > skip {
            (0, take - (hidden - skip))
        } else {
            (skip - hidden, take)
        };
        // Where the underline ends, counted in characters from the first
        // one shown.
        let error_end = (column - hidden - skip) + shown_error;

        let mut text = String::new();
        if skip > 0 || hidden > 0 {
            text.push_str(CUT);
        }
        let (mut span_start, mut span_end) = (None, None);
        let rest = source.get(line_start..line_end).unwrap_or("");
        for (taken, (i, c)) in rest.char_indices().skip(skip).enumerate() {
            let at = line_start + i;
            if taken == take {
                text.push_str(CUT);
                break;
            }
            if at >= start && span_start.is_none() {
                span_start = Some(text.len());
            }
            if taken == error_end && span_end.is_none() {
                span_end = Some(text.len());
            }
            if secret(at) {
                text.push('*');
            } else {
                push_shown(&mut text, c);
            }
        }
        let span_start = span_start.unwrap_or(text.len());
        let span_end = span_end
            .unwrap_or(text.len())
            .max(span_start)
            .min(text.len());
        // A cut at the end sits after the error: the label never covers it.
        let span_end = if text.ends_with(CUT) && span_end == text.len() {
            text.len() - CUT.len()
        } else {
            span_end
        };
        Excerpt {
            name: name.to_string(),
            text,
            line,
            column,
            span: (span_start, span_end.saturating_sub(span_start)).into(),
        }
    }

    /// The script's name as the header shows it.
    pub fn rename(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// What the label underlines, in the excerpt.
    pub fn span(&self) -> SourceSpan {
        self.span
    }

    /// The shown line (for tests and for plain output).
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.as_str().read_span(span, before, after)?;
        // The excerpt is one line: its line is the error's, and a span that
        // starts at the error starts at the error's real column.
        let column = if inner.span().offset() == self.span.offset() {
            self.column
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            self.line,
            column,
            inner.line_count(),
        )))
    }
}

/// The width diagnostics are wrapped to.
const WIDTH: usize = 80;

/// How a tab of the snippet is shown (and counted for the caret).
const TAB: &str = "    ";

/// Terminal colours of the parts of a diagnostic.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// `text` wrapped at word boundaries to [`WIDTH`] columns, the first line
/// after `first`, the others after `rest`.
/// `first_width` is what `first` takes on screen (it may hold colour
/// codes).
fn wrapped(out: &mut String, text: &str, (first, first_width): (&str, usize), rest: &str) {
    let mut line = String::from(first);
    let mut width = first_width;
    let mut empty = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        if !empty && width + 1 + w > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(rest);
            width = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            width += 1;
        }
        line.push_str(word);
        width += w;
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// Renders a diagnostic to a string the way rsetkey prints it: the
/// headline, the snippet (the one line of the [`Excerpt`]) with the label
/// underlined, and the hint; with colours on a terminal, plain otherwise.
///
/// ```text
///   × syntax error at `update'
///    ╭─[bad.conf:3:1]
///  3 │ update 10.0.0.1 10.0.0.2 esp 0x100;
///    · ───┬──
///    ·    ╰── unexpected here
///    ╰────
///   help: setkey has no `update` command
/// ```
pub fn render(diagnostic: &dyn miette::Diagnostic, colour: bool) -> String {
    let style = Style { on: colour };
    let mut out = String::new();
    let cross = style.paint("31", "×");
    wrapped(
        &mut out,
        &clip(&diagnostic.to_string(), false),
        (&format!("  {cross} "), 4),
        "  │ ",
    );
    let label = diagnostic.labels().and_then(|mut l| l.next());
    if let (Some(source), Some(label)) = (diagnostic.source_code(), label)
        && let Ok(contents) = source.read_span(label.inner(), 0, 0)
    {
        let name = contents.name().unwrap_or("<script>").to_string();
        let line_no = (contents.line() + 1).to_string();
        let pad = " ".repeat(line_no.len() + 2);
        // The whole line holding the label (read with context: the
        // excerpt is that one line), and where the label is in it.
        let (line_text, line_start) = source
            .read_span(label.inner(), 1, 1)
            .map(|c| {
                (
                    String::from_utf8_lossy(c.data()).into_owned(),
                    c.span().offset(),
                )
            })
            .unwrap_or_default();
        let line_text = line_text.trim_end_matches('\n').to_string();
        let start = label
            .offset()
            .saturating_sub(line_start)
            .min(line_text.len());
        let before = line_text.get(..start).unwrap_or_default();
        let under = line_text
            .get(start..start + label.len().min(line_text.len() - start))
            .unwrap_or_default();
        let cols = |s: &str| {
            s.chars()
                .map(|c| if c == '\t' { TAB.len() } else { 1 })
                .sum::<usize>()
        };
        let (lead, len) = (cols(before), cols(under));
        let _ = writeln!(
            out,
            "{pad}╭─[{}]",
            style.paint(
                "36;1;4",
                &format!("{name}:{}:{}", contents.line() + 1, contents.column() + 1)
            )
        );
        let _ = writeln!(
            out,
            " {} │ {}",
            style.paint("2", &line_no),
            line_text.replace('\t', TAB)
        );
        let mark = len / 2;
        let underline: String = if len == 0 {
            "▲".to_string()
        } else {
            (0..len)
                .map(|i| if i == mark { '┬' } else { '─' })
                .collect()
        };
        let _ = writeln!(
            out,
            "{pad}· {}{}",
            " ".repeat(lead),
            style.paint("35;1", &underline)
        );
        if let Some(text) = label.label() {
            let _ = writeln!(
                out,
                "{pad}· {}{}",
                " ".repeat(lead + mark),
                style.paint("35;1", &format!("╰── {text}"))
            );
        }
        let _ = writeln!(out, "{pad}╰────");
    }
    if let Some(help) = diagnostic.help() {
        let head = style.paint("36", "  help: ");
        wrapped(
            &mut out,
            &clip(&help.to_string(), false),
            (&head, 8),
            "        ",
        );
    }
    out
}

/// [`render`] for standard error: colours when it is a terminal, unless
/// `NO_COLOR` is set (to anything but the empty string) or `TERM` is
/// `dumb`.
pub fn render_for_stderr(diagnostic: &dyn miette::Diagnostic) -> String {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    render(
        diagnostic,
        std::io::stderr().is_terminal() && !no_color && !dumb,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headline_snippet_label_and_help() {
        use crate::parse::{FileNames, Options, parse_script_with};
        let script = "flush;\nupdate 10.0.0.1 10.0.0.2 esp 0x100;\n";
        let e = parse_script_with(script, &Options::default(), &FileNames::default())
            .expect_err("no update command")
            .with_source_name("bad.conf", script.to_string());
        assert_eq!(
            render(&e, false),
            "  × syntax error at `update'\n   ╭─[bad.conf:2:1]\n 2 │ update 10.0.0.1 10.0.0.2 esp \
             0x100;\n   · ───┬──\n   ·    ╰── unexpected here\n   ╰────\n  help: setkey has no \
             `update` command; `delete` the SA and `add` it again\n"
        );
        let coloured = render(&e, true);
        assert!(coloured.contains("\x1b[31m×\x1b[0m"), "{coloured}");
    }

    #[test]
    fn messages_and_hints_are_clipped() {
        let long = "h".repeat(70_000);
        let c = clip(&format!("`{long}` is unknown\n\u{1b}x"), true);
        assert_eq!(
            c.chars().count(),
            SHOWN_TOKEN_CHARS + 1 + 1 + "\\x1bx".len()
        );
        assert!(c.ends_with("…\n\\x1bx"));
        assert_eq!(clip("a\nb", false), "a b");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_line("a\u{1b}[2Jb\0c\rd\u{7f}e\u{85}f\tg\nh"),
            "a\\x1b[2Jb\\x00c\\x0dd\\x7fe\\u{85}f\tg h"
        );
    }

    #[test]
    fn the_caret_stays_on_the_error_after_escapes() {
        let src = "a\u{1b}\u{1b} bad;";
        let e = Excerpt::new("x", src, (4, 3), &[]);
        assert_eq!(e.text(), "a\\x1b\\x1b bad;");
        let s = e.span();
        assert_eq!(&e.text()[s.offset()..s.offset() + s.len()], "bad");
        assert_eq!((e.line, e.column), (0, 4));
    }

    #[test]
    fn long_lines_are_cut_around_the_error() {
        let src = format!("{}ERR{}\nnext", "x".repeat(70_000), "y".repeat(70_000));
        let e = Excerpt::new("x", &src, (70_000, 3), &[]);
        assert!(e.text().starts_with(CUT) && e.text().ends_with(CUT));
        assert_eq!(e.text().chars().count(), 2 + 2 * WINDOW_COLUMNS + 3);
        let s = e.span();
        assert_eq!(&e.text()[s.offset()..s.offset() + s.len()], "ERR");
        assert_eq!(e.column, 70_000);
        // A huge error token shows only its first WINDOW_COLUMNS.
        let src = "z".repeat(100_000);
        let e = Excerpt::new("x", &src, (0, 100_000), &[]);
        assert_eq!(e.span().len(), WINDOW_COLUMNS);
    }

    #[test]
    fn any_offset_is_safe() {
        let src = "é\n\u{1b}x";
        for offset in [0, 1, 2, 3, 4, 5, 99, usize::MAX] {
            for len in [0, 1, 7, usize::MAX] {
                let e = Excerpt::new("x", src, (offset, len), &[(0, usize::MAX)]);
                let s = e.span();
                assert!(e.text().get(s.offset()..s.offset() + s.len()).is_some());
            }
        }
    }

    #[test]
    fn secrets_are_masked_one_star_per_character() {
        let src = "k \"sécret\";";
        let e = Excerpt::new("x", src, (0, 1), &[(3, 10)]);
        assert_eq!(e.text(), "k \"******\";");
    }
}
