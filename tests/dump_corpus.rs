//! Renders every recorded `D.raw` / `DP.raw` of the fixture corpus with the
//! dump printer and compares with the text real setkey printed, byte for
//! byte (clock from the case's `meta`, UTC, the pinned protocols file).

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use rsetkey::dump::{DumpOptions, Printer, Protocols, Zone};
use rsetkey::pfkey::wire::messages;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `key=value` lines of a `meta` file.
fn meta(case: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(case.join("meta"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The switches a text file name implies (`Da.txt` → `-a`, `Dp.txt` → `-p`).
fn options_for(text_name: &str) -> DumpOptions {
    let stem = text_name.trim_end_matches(".txt");
    let flags = stem.trim_start_matches("DP").trim_start_matches('D');
    DumpOptions {
        show_dead: flags.contains('a'),
        show_ports: flags.contains('p'),
        hide_socket_policies: flags.contains('N'),
        ..DumpOptions::default()
    }
}

/// Renders a raw file the way `setkey -D`/`-DP` prints its replies: stop at
/// the first message with seq 0 or errno ≠ 0.
fn render(raw: &[u8], now: u64, opts: DumpOptions, protocols: &Protocols, stop: bool) -> Vec<u8> {
    let mut printer = Printer::with_env(opts, protocols, Zone::Utc);
    let mut out = Vec::new();
    for msg in messages(raw) {
        let msg = msg.expect("recorded message parses");
        printer.reply(&mut out, &msg, now).expect("write to Vec");
        if stop && (msg.header.seq == 0 || msg.header.errno != 0) {
            break;
        }
    }
    out
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_recorded_dump_renders_identically() {
    let protocols_text =
        std::fs::read_to_string(fixtures().join("etc/protocols")).expect("fixtures/etc/protocols");
    let protocols = Protocols::parse(&protocols_text);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("cases"))
        .expect("fixtures/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();

    let (mut total, mut failed) = (0, Vec::new());
    for case in &cases {
        let meta = meta(case);
        let Some(now) = meta
            .iter()
            .find(|(k, _)| k == "now")
            .and_then(|(_, v)| v.parse::<u64>().ok())
        else {
            continue;
        };
        for raw_name in ["D.raw", "DP.raw"] {
            let Ok(raw) = std::fs::read(case.join(raw_name)) else {
                continue;
            };
            let key = format!("{raw_name}.text");
            let text_name = meta
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| raw_name.replace(".raw", ".txt"));
            let Ok(expected) = std::fs::read(case.join(&text_name)) else {
                continue;
            };
            total += 1;
            let got = render(&raw, now, options_for(&text_name), &protocols, true);
            if got != expected {
                failed.push(format!(
                    "{}/{raw_name}:\n--- expected\n{}--- got\n{}",
                    case.display(),
                    show(&expected),
                    show(&got)
                ));
            }
        }
    }
    eprintln!("dump corpus: {}/{} passed", total - failed.len(), total);
    assert!(total >= 162, "only {total} recorded dumps found");
    assert!(
        failed.is_empty(),
        "{} mismatches:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The other dump switches recorded as extra invocations (`Da.txt`,
/// `Dp.txt`): the -D raw capture rendered with those switches. Dumps are
/// deterministic here because the script ran under the same frozen clock.
#[test]
fn extra_dump_switches_render_identically() {
    let protocols =
        Protocols::parse(&std::fs::read_to_string(fixtures().join("etc/protocols")).unwrap());
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures().join("cases")).unwrap() {
        let case = entry.unwrap().path();
        let now: u64 = meta(&case)
            .iter()
            .find(|(k, _)| k == "now")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        for (text, raw) in [
            ("Da.txt", "D.raw"),
            ("Dp.txt", "D.raw"),
            ("DPp.txt", "DP.raw"),
        ] {
            let (Ok(expected), Ok(raw)) = (
                std::fs::read(case.join(text)),
                std::fs::read(case.join(raw)),
            ) else {
                continue;
            };
            let got = render(&raw, now, options_for(text), &protocols, true);
            // the extra dump ran apart from the captured one: a policy's
            // refcnt may differ between them (a field that varies, see the
            // fixtures README)
            let (got, expected) = (show(&got), show(&expected));
            assert_eq!(
                without_refcnt(&got),
                without_refcnt(&expected),
                "{}/{text}",
                case.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} extra dumps");
}

/// `text` with every policy's `\trefcnt=N` line masked.
fn without_refcnt(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("\trefcnt=") {
                "\trefcnt=<N>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Case 081: `setkey FILE` prints a file of raw messages (D.raw then DP.raw
/// of case 001) as -D/-DP would; every message is printed.
#[test]
fn file_mode_case_renders_identically() {
    let case = fixtures().join("cases/081-file-mode-raw-messages");
    let protocols =
        Protocols::parse(&std::fs::read_to_string(fixtures().join("etc/protocols")).unwrap());
    let raw = std::fs::read(case.join("script.conf")).unwrap();
    let expected = std::fs::read(case.join("setkey.stdout")).unwrap();
    let got = render(
        &raw,
        1_704_067_200,
        DumpOptions::default(),
        &protocols,
        false,
    );
    assert_eq!(show(&got), show(&expected));
}

/// Script runs (`-f`, `-c`): what setkey printed on stdout is the reply
/// printer applied to every message it received (`get`, `dump`, `spddump`
/// replies; in `-c` mode also kernel errors, which `-f` reports on stderr
/// with file and line instead).
#[test]
fn script_run_stdout_matches_received_replies() {
    let protocols =
        Protocols::parse(&std::fs::read_to_string(fixtures().join("etc/protocols")).unwrap());
    let (mut total, mut failed) = (0, Vec::new());
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    for case in cases {
        let mode = std::fs::read_to_string(case.join("mode")).unwrap_or_else(|_| "f".into());
        let mode = mode.trim();
        if mode != "f" && mode != "c" {
            continue;
        }
        // `deleteall` reads SADB_DUMP replies itself and prints none of them:
        // that is statement logic, not the reply printer.
        let script = std::fs::read_to_string(case.join("script.conf")).unwrap_or_default();
        if script.contains("deleteall") {
            continue;
        }
        let (Ok(raw), Ok(expected)) = (
            std::fs::read(case.join("F.recv.raw")),
            std::fs::read(case.join("setkey.stdout")),
        ) else {
            continue;
        };
        if mode == "c" && !expected.is_empty() && !expected.ends_with(b"\n") {
            // Parse errors without newline interleave with replies (072).
            continue;
        }
        let now: u64 = meta(&case)
            .iter()
            .find(|(k, _)| k == "now")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut printer = Printer::with_env(DumpOptions::default(), &protocols, Zone::Utc);
        let mut got = Vec::new();
        for msg in messages(&raw) {
            let msg = msg.expect("recorded message parses");
            if mode == "f" && msg.header.errno != 0 {
                continue;
            }
            printer.reply(&mut got, &msg, now).unwrap();
        }
        total += 1;
        if got != expected {
            failed.push(format!(
                "{}:\n--- expected\n{}--- got\n{}",
                case.display(),
                show(&expected),
                show(&got)
            ));
        }
    }
    eprintln!("script stdout: {}/{} passed", total - failed.len(), total);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Monitor cases (079, 080): the kdebug text of every message the script
/// run sent or received appears in the monitor output as a whole block
/// (timestamp line, decoded message, empty line).
#[test]
fn monitor_output_contains_every_decoded_message() {
    use rsetkey::dump::kdebug::write_kdebug;
    let mut checked = 0;
    for case in ["079-monitor-x", "080-monitor-xx"] {
        let dir = fixtures().join("cases").join(case);
        let x = std::fs::read_to_string(dir.join("x.txt")).unwrap();
        for raw_name in ["F.send.raw", "F.recv.raw"] {
            let raw = std::fs::read(dir.join(raw_name)).unwrap();
            let mut it = messages(&raw);
            while let Some(bytes) = it.next_raw() {
                let bytes = bytes.unwrap();
                let mut text = Vec::new();
                write_kdebug(&mut text, bytes, rsetkey::ir::Keys::Show).unwrap();
                let block = format!(" \n{}\n", show(&text));
                assert!(
                    x.contains(&block),
                    "{case} {raw_name}: not in x.txt:\n{block}"
                );
                checked += 1;
            }
        }
    }
    eprintln!("monitor blocks: {checked} found");
    assert!(checked > 20);
}
