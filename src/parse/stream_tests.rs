//! A script read in chunks parses exactly as the whole text does: the
//! same statements, and the same error (message, line, diagnostic),
//! wherever the chunks end.

use super::input::{InputError, ScriptReader};
use super::*;

fn names() -> FileNames {
    FileNames::new(
        "127.0.0.1\tlocalhost\n192.0.2.10 gw-a\n192.0.2.20 gw-b\n",
        "isakmp 500/udp\nssh 22/tcp\n",
        "icmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\n",
    )
}

/// What a parse gave, comparable: the statements, or everything an error
/// shows (with the diagnostic of the error as read, and as shown over the
/// whole text).
fn outcome(result: Result<Vec<Statement>, ParseError>, whole: &str) -> String {
    match result {
        Ok(statements) => format!("{statements:?}"),
        Err(e) => {
            let read = diagnostic::render(&e.clone_named("x.conf"), false);
            let shown = format!(
                "{} {:?} {} {:?} {:?} {:?} {:?}\n{read}",
                e.line,
                e.message,
                e,
                e.help_text(),
                e.key_bits,
                e.lexer_fatal,
                (e.span.offset(), e.span.len()),
            );
            let e = e.with_source_name("x.conf", whole.to_string());
            format!("{shown}\n{}", diagnostic::render(&e, false))
        }
    }
}

fn whole(text: &str) -> String {
    outcome(parse_script_with(text, &Options::default(), &names()), text)
}

fn streamed_bytes(bytes: &[u8], chunk: usize) -> Result<Vec<Statement>, ScriptError> {
    let feed = ScriptReader::with_chunk(bytes, chunk);
    let options = Options::default();
    let names = names();
    Statements::new(feed, &options, &names).collect()
}

fn streamed(text: &str, chunk: usize) -> String {
    let result = match streamed_bytes(text.as_bytes(), chunk) {
        Ok(v) => Ok(v),
        Err(ScriptError::Parse(e)) => Err(*e),
        Err(ScriptError::Input(e)) => panic!("{e}"),
    };
    outcome(result, text)
}

impl ParseError {
    /// The error named as the CLI names it, keeping the original.
    fn clone_named(&self, name: &str) -> ParseError {
        ParseError {
            message: self.message.clone(),
            display: self.display.clone(),
            src: self.src.clone(),
            label: self.label.clone(),
            help: self.help.clone(),
            secrets: self.secrets.clone(),
            ..*self
        }
        .with_name(name)
    }
}

fn same_at_every_cut(text: &str, chunks: impl IntoIterator<Item = usize>) {
    let expected = whole(text);
    for chunk in chunks {
        assert_eq!(streamed(text, chunk), expected, "chunk {chunk} of {text:?}");
    }
}

const KEY3DES: &str = "\"12345678;012123456789012\"";

#[test]
fn statements_keys_comments_and_characters_across_chunks() {
    let text = format!(
        "# a comment; with a semicolon and ü€ in it\nflush;\nadd 10.0.0.1 10.0.0.2 \
         esp 0x100 -E 3des-cbc {KEY3DES};  spdadd 10.0.0.1 10.0.0.2 any\n -P out ipsec\n \
         esp/transport//require; # ünïcødé;;\n\nspdflush;\n"
    );
    same_at_every_cut(&text, 4..=40);
    same_at_every_cut(&text, [64, 1000, 1 << 16]);
}

#[test]
fn errors_across_chunks() {
    let cases = [
        // a key of the wrong length, named masked
        "flush;\nadd 10.0.0.1 10.0.0.2 esp 0x100 -E 3des-cbc \"short;key\";\nflush;\n".to_string(),
        // a syntax error on a later line of a statement
        format!("flush; add 10.0.0.1\n 10.0.0.2 esp 0x100\n -E 3des-cbc {KEY3DES} bogus;\n"),
        // a character no rule accepts, after a multi-byte one
        "spdflush;\nflush; # é\n  flush ü;\nflush;\n".to_string(),
        // an unterminated quote at the end
        "flush;\nadd 10.0.0.1 10.0.0.2 esp 0x100 -E 3des-cbc \"1234;5678\n".to_string(),
        // no `;` at the end
        "flush;\nspdflush".to_string(),
        // an unknown command on a line with statements before it
        format!("flush; add 10.0.0.1 10.0.0.2 esp 0x100 -E 3des-cbc {KEY3DES}; updat x;\n"),
    ];
    for text in &cases {
        assert!(whole(text).contains("x.conf"), "{text}: no error");
        same_at_every_cut(text, (4..=30).chain([1 << 16]));
    }
}

#[test]
fn exit_stops_reading_in_the_middle_of_a_chunk() {
    let text = "flush;\nexit;\n\u{1}garbage\n";
    same_at_every_cut(text, 4..=20);
    let statements = streamed_bytes(text.as_bytes(), 4).unwrap();
    assert_eq!(statements.len(), 2);
}

#[test]
fn invalid_utf8_reads_as_a_lossy_read() {
    let texts: [&[u8]; 4] = [
        b"flush; # \xff\xfe;\nspdflush;\n",
        b"flush; # \xe2\x82\nspdflush;\n",
        b"flush;\n# cut at the end \xe2\x82",
        b"flush;\nadd \xf0\x9f\x98 x;\n",
    ];
    for bytes in texts {
        let lossy = script_text(bytes.to_vec());
        let expected = whole(&lossy);
        for chunk in 4..=16 {
            let got = match streamed_bytes(bytes, chunk) {
                Ok(v) => outcome(Ok(v), &lossy),
                Err(ScriptError::Parse(e)) => outcome(Err(*e), &lossy),
                Err(ScriptError::Input(e)) => panic!("{e}"),
            };
            assert_eq!(got, expected, "chunk {chunk} of {bytes:?}");
        }
    }
}

#[test]
fn a_statement_longer_than_a_chunk_grows_the_window() {
    let long = format!(
        "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec{};\n",
        " ".repeat(5000)
    ) + "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;\n";
    same_at_every_cut(&long, [4, 100, 4096]);
}

#[test]
fn read_limits_are_met_where_they_are() {
    let mut text = "flush;\n".repeat(3000).into_bytes();
    text.extend_from_slice(b"ab\0;");
    match streamed_bytes(&text, 16) {
        Err(ScriptError::Input(InputError::Nul { line, column })) => {
            assert_eq!((line, column), (3001, 3))
        }
        other => panic!("{other:?}"),
    }
    let mut text = b"flush;\n\n  ".to_vec();
    text.extend(std::iter::repeat_n(b'x', input::MAX_STATEMENT + 1));
    match streamed_bytes(&text, 1 << 16) {
        Err(ScriptError::Input(InputError::StatementTooLong { line })) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
}

/// Every script of the corpus, and pieces of them (cut anywhere: most
/// pieces end in an error), read in chunks of many sizes.
#[test]
fn the_corpus_streams_as_it_parses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = Vec::new();
    for dir in ["grammar", "fixtures"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "conf") {
                    scripts.push(path);
                }
            }
        }
    }
    assert!(scripts.len() > 50, "{}", scripts.len());
    for path in scripts {
        let text = script_text(std::fs::read(&path).unwrap());
        if text.contains('\0') {
            continue; // a script file with one is refused before parsing
        }
        same_at_every_cut(&text, [5, 17, 64, 1 << 16]);
        let cuts: Vec<usize> = (1..8)
            .map(|k| text.len() * k / 8)
            .filter(|&n| text.is_char_boundary(n))
            .collect();
        for n in cuts {
            let piece = format!("{} bogus;\n", &text[..n]);
            same_at_every_cut(&piece, [7, 64]);
        }
    }
}
