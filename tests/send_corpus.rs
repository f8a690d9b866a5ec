//! Every script of the reference corpus that setkey accepted lowers to the
//! very messages setkey sent (`F.send.raw`), in the same order — no kernel
//! needed. Messages that depend on the kernel's replies (the DELETEs of a
//! `deleteall`) are left out of the comparison.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use rsetkey::ir::Operation;
use rsetkey::parse::{self, FileNames, Options};
use rsetkey::pfkey::request;
use rsetkey::pfkey::wire::{self, Header, Message, MessageType, PF_KEY_V2};

/// The pid setkey ran as when the corpus was recorded.
const RECORDED_PID: u32 = 2;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn header() -> Header {
    Header {
        version: PF_KEY_V2,
        pid: RECORDED_PID,
        ..Header::default()
    }
}

fn bytes(m: &Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    m.emit(&mut out);
    out.to_vec()
}

fn read(case: &Path, name: &str) -> Option<String> {
    fs::read_to_string(case.join(name)).ok()
}

#[test]
fn accepted_scripts_send_what_setkey_sent() {
    let register = fs::read(fixtures().join("kernel-register.raw")).expect("kernel-register.raw");
    let register = Message::parse(&register).expect("a REGISTER reply");
    let supported = request::supported_algorithms(&register);
    let names = FileNames::from_dir(&fixtures().join("etc")).expect("fixtures/etc");
    let mut compared = 0;
    let mut cases: Vec<_> = fs::read_dir(fixtures().join("cases"))
        .expect("fixtures/cases")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    cases.sort();
    for case in cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if case.join("rsetkey.differs").exists() {
            // refused on purpose (tests/parse_corpus.rs checks the error)
            continue;
        }
        let Ok(sent) = fs::read(case.join("F.send.raw")) else {
            continue; // traffic and raw-file cases have no capture
        };
        let mode = read(&case, "mode").unwrap_or_else(|| "f".into());
        let mode = mode.trim();
        let exit = read(&case, "setkey.exit").unwrap_or_default();
        if exit.trim() != "0" && mode != "c" {
            continue; // did not parse: nothing is sent (the parse corpus test covers it)
        }
        let source = read(&case, "script.conf").expect("script.conf");
        // -k: kernel semantics, an `in` policy gets no `fwd` twin
        let options = Options {
            supported: supported.clone(),
            rfc_mode: mode != "k",
            extensions: false,
        };
        let statements = if mode == "c" {
            parse::interactive::split(&source)
                .iter()
                .filter_map(|p| parse::parse_script_with(p, &options, &names).ok())
                .flatten()
                .collect()
        } else {
            parse::parse_script_with(&source, &options, &names)
                .unwrap_or_else(|e| panic!("{name}: setkey accepted it, rsetkey says {e:?}"))
        };

        let expected: Vec<Message> = wire::messages(&sent)
            .map(|m| m.unwrap_or_else(|e| panic!("{name}: F.send.raw: {e}")))
            .collect();
        let mut expected = expected.into_iter();
        let first = expected.next().expect("REGISTER");
        assert_eq!(first.header.msg_type, MessageType::Register as u8, "{name}");
        if mode == "n" {
            assert_eq!(expected.next(), None, "{name}: -n sends only REGISTER");
            continue;
        }
        let mut expected = expected.peekable();
        'statements: for statement in &statements {
            for op in &statement.operations {
                let Some(ours) = request::for_operation(header(), op) else {
                    break 'statements;
                };
                let theirs = expected.next().unwrap_or_else(|| {
                    panic!(
                        "{name}: line {}: setkey sent nothing more",
                        statement.location.line
                    )
                });
                let mut theirs_norm = theirs.clone();
                theirs_norm.header.seq = 0;
                assert_eq!(
                    bytes(&ours),
                    bytes(&theirs_norm),
                    "{name}: line {}: {op:?}\nours:   {ours:?}\ntheirs: {theirs:?}",
                    statement.location.line
                );
                compared += 1;
                if matches!(op, Operation::DeleteAll(_)) {
                    while expected
                        .peek()
                        .is_some_and(|m| m.header.msg_type == MessageType::Delete as u8)
                    {
                        expected.next();
                    }
                }
            }
        }
        let rest: Vec<_> = expected.collect();
        assert!(rest.is_empty(), "{name}: setkey sent more: {rest:?}");
    }
    assert!(compared > 300, "only {compared} messages compared");
}
