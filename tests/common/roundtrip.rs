//! The `--as-script` round trip of a corpus run (`run-cases
//! --as-script-roundtrip`): after a case's dumps, the SAD and SPD are
//! dumped as JSON and as scripts, flushed, and loaded again from the
//! scripts; the dumps after must be the dumps before, apart from what the
//! kernel assigns, and the JSON must hold one object per entry.

use std::path::Path;

use super::{Text, exit_of, normalize, read_text, short_diff};

/// Replaces the number after each `prefix` (up to a non-digit) in `line`.
fn blank_number(line: &str, prefix: &str, hex: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        let after = &rest[i + prefix.len()..];
        let n = after
            .bytes()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit() || *b == b'x'
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if n > 0 {
            out.push_str("<N>");
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// A dump without what the kernel assigns when entries are loaded again:
/// the corpus normalisation (time stamps in the first hour, `diff:`,
/// `refcnt=`, `unique#`), plus byte and packet counters (`current:`
/// and `allocated:` before the first tab), sequence numbers, pids and
/// policy indexes.
pub fn kernel_assigned_removed(dump: &str) -> String {
    normalize(dump, Text::Plain)
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            if l.starts_with("\tcurrent: ") && l.contains("(bytes)") {
                l = blank_number(&l, "\tcurrent: ", false);
            }
            // the kernel stamps first use: blank before traffic, set after
            if let Some(rest) = l.strip_prefix("\tlast: ") {
                let tail = rest.find('\t').map_or("", |i| &rest[i..]);
                l = format!("\tlast: <T>{tail}");
            }
            if let Some(i) = l.find("  lastused: ") {
                l = format!("{}  lastused: <T>", &l[..i]);
            }
            if l.starts_with("\tallocated: ") {
                l = blank_number(&l, "\tallocated: ", false);
            }
            for p in ["pid=", "spid=", "refcnt="] {
                l = blank_number(&l, p, false);
            }
            l = blank_number(&l, "\tseq=", true);
            l + "\n"
        })
        .collect()
}

/// Entries of a text dump: SA blocks end in `sadb_seq=`, policy blocks in
/// `spid=`.
pub fn entries(dump: &str) -> usize {
    dump.lines()
        .filter(|l| l.starts_with("\tsadb_seq=") || l.starts_with("\tspid="))
        .count()
}

/// The problems of one case's round trip.
pub fn check_case(out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |f: &str| read_text(&out.join(f)).unwrap_or_default();
    if !out.join("rt-DP2.exit").exists() {
        return vec![format!("not run (no rt-DP2.exit) {}", text("runner.log"))];
    }
    for step in [
        "rt-D.json",
        "rt-DP.json",
        "rt-D",
        "rt-DP",
        "rt-F",
        "rt-FP",
        "rt-load-D",
        "rt-load-DP",
        "rt-D2",
        "rt-DP2",
    ] {
        let exit = exit_of(&out.join(format!("{step}.exit")));
        if exit != Some(0) {
            problems.push(format!(
                "{step} exited {exit:?}: {}",
                text(&format!("{step}.stderr"))
            ));
        }
    }
    for load in ["rt-load-D.stdout", "rt-load-DP.stdout"] {
        if !text(load).is_empty() {
            problems.push(format!("{load}: {}", text(load)));
        }
    }
    for (before, after, script) in [
        ("D.txt", "rt-D2.txt", "rt-D.conf"),
        ("DP.txt", "rt-DP2.txt", "rt-DP.conf"),
    ] {
        let want = kernel_assigned_removed(&text(before));
        let got = kernel_assigned_removed(&text(after));
        if want != got {
            problems.push(format!(
                "{after} differs from {before} after the round trip through\n{}{}",
                text(script),
                short_diff(&want, &got, 20)
            ));
        }
    }
    for (json, dump) in [("rt-D.json", "D.txt"), ("rt-DP.json", "DP.txt")] {
        match serde_json::from_str::<serde_json::Value>(&text(json)) {
            Ok(serde_json::Value::Array(a)) => {
                let n = entries(&text(dump));
                if a.len() != n {
                    problems.push(format!(
                        "{json}: {} objects, {dump} has {n} entries",
                        a.len()
                    ));
                }
                if a.iter().any(|o| o["version"] != 1) {
                    problems.push(format!("{json}: an object without version 1"));
                }
            }
            Ok(_) => problems.push(format!("{json} is not an array")),
            Err(e) => problems.push(format!("{json} does not parse: {e}\n{}", text(json))),
        }
    }
    problems
}
