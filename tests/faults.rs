//! Fault injection on the test kernel ("nothing lost,
//! nothing leaked"): scripts that the kernel refuses part of, a signal in
//! the middle of a long apply, and dumps through a full receive buffer.
//! Every row asserts the exact `-D` / `-DP` before and after.
//!
//! Each row runs in its own fresh network namespace (`unshare --net`),
//! seeded with the same few SAs (with time and byte lifetimes) and policies
//! (an `out` policy, an `in` policy with its `fwd` twin, and a `fwd` policy
//! installed in kernel mode, `-k`), so that "nothing changed" has something
//! to compare.  The matrix, through PF_KEY (a guest with `af_key`) and
//! through XFRM netlink (a guest without it, where rsetkey's `auto` backend
//! falls back to XFRM), each row with and without `--atomic`:
//!
//! | row | fault | without `--atomic` (setkey's behaviour) | with `--atomic` |
//! | --- | --- | --- | --- |
//! | 1 | duplicate SA, line 3 of 6 adds | `FILE,3: File exists`; the other 5 SAs added; exit 0 | refused line reported, `nothing was changed`, exit 1, dumps unchanged |
//! | 2 | delete of a missing SA, line 3 of 6 statements | `FILE,3: No such process`; the rest done; exit 0 | as row 1 |
//! | 3 | `twofish-cbc`, which the kernel lacks (its module removed in the guest; `-n` accepts the script before) | `FILE,2: Not supported at ...`, `parse failed`; nothing applied; exit 1 | the same |
//! | 4 | policy conflict: spdadd of a seeded policy, line 3 of 5 | `FILE,3: File exists`; the other policies added; exit 0 | as row 1 |
//! | 5 | half-done `in`/`fwd`: `spdadd -P in` whose `fwd` twin exists (seeded with `-k`) | `File exists` once; the `in` removed again, `-DP` unchanged; exit 0 | as row 1 |
//! | 6 | SIGTERM mid-apply of 2 500 `add` + 2 500 `spdadd` of new entries | killed (143); applied: a prefix of the script, 0 < k < 5 000 statements, exactly the first k | exit 143, a line saying the snapshot was `restored`, dumps unchanged |
//! | 7 | 10 000 SAs and 10 000 policies dumped with `rmem_max` at 4 KiB, stdout read 2 s late | every entry exactly once, in the order of a dump with normal buffers, the last one included, exit 0 | (a dump changes nothing: one run) |
//!
//! Rows 1, 4 and 5 run a third time, with `--atomic` where no network
//! namespace can be made (`user.max_net_namespaces` set to 0 around the
//! run): rsetkey says it cannot try the script first, the real run stops at
//! the refusal and restores the snapshot, exit 1, dumps unchanged.
//!
//! "Dumps unchanged": `-D` and `-DP` after identical to before.  Without
//! `--atomic`, the expected dumps after rows 1, 2 and 4 are those of a
//! reference run in another namespace: the seed, then the script with the
//! refused line replaced by a comment (the refused statement has no effect,
//! every other one applies); besides, every seeded entry the script leaves
//! alone is still there exactly (creation time included).  For every row
//! the report lines `rsetkey: FILE,LINE: ...` are checked: setkey's texts
//! once each on the faulty line, nothing on any other line (rsetkey's own
//! explanation lines after them are allowed), no key material.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Two dumps by different processes at different times differ in the
//! dumping process's pid, the `current:` time and `diff:`; only those are
//! masked (plus [`common::normalize`]'s fields), `created:` stays exact.
//! Comparisons with the reference run also mask `created:`.
//!
//! Row 6 polls `ip xfrm state count` until the SAD has grown, then sends
//! SIGTERM.  When the apply finished before the signal landed (exit 0, or
//! everything applied), the row is tried again with a script twice as long
//! (up to 4 times the size; through XFRM, 5 000 statements often finish
//! within a poll or two); if it still finishes first, the row fails saying
//! so: it never passes without having interrupted anything.
//!
//! Row 7: `net.core.rmem_max` is not per network namespace, so it is set
//! for the whole guest around the slow dumps only.  A PF_KEY socket's
//! receive buffer is capped by it (rsetkey asks for 2 MiB, gets 8 KiB), so
//! the kernel's dump has to wait for room again and again; the test checks
//! that the socket's queue was indeed non-empty while the reader stalled.
//! An XFRM netlink socket is sized with `SO_RCVBUFFORCE` (root), which
//! ignores `rmem_max`: there the row checks the stalled, flow-controlled
//! netlink dump.
//!
//! Sizes: the default run (and CI) uses the numbers, 5 000
//! statements for the signal and 10 000 entries per table for the dump.
//! `RSETKEY_FAULTS_FULL=1` doubles the signal script and dumps 30 000
//! entries per table.
//!
//! If the test kernel cannot be installed or booted, a test prints a loud
//! notice and passes, unless `CI=true`: then it fails.

mod common;

use common::{
    Guest, Kernel, Text, Work, env_flag, give_up, normalize, read_text, rsetkey, run_guests,
    sh_quote, short_diff, write_private,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

// ---------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------

/// 128-bit AES and 256-bit HMAC-SHA256 keys (no lint about weak choices).
const AES: &str = "0x000102030405060708090a0b0c0d0e0f";
const SHA: &str = "0x101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";

/// An ESP SA between 10.1.0.1 and 10.1.0.2 with SPI `spi` and `extra`
/// options.
fn esp(spi: u32, extra: &str) -> String {
    format!("add 10.1.0.1 10.1.0.2 esp {spi:#x}{extra} -E aes-cbc {AES} -A hmac-sha256 {SHA};\n")
}

/// The state every row starts from (applied with plain `rsetkey -f`).
fn seed() -> String {
    let mut s = String::new();
    s += &esp(0x1001, " -lh 3600 -ls 3000");
    s += &esp(0x1002, " -bh 1000000 -bs 900000");
    s += &esp(
        0x1003,
        " -m tunnel -u 7 -lh 86400 -ls 80000 -bh 4000000 -bs 3000000",
    );
    s += &format!("add 10.1.0.2 10.1.0.1 ah 0x1004 -A hmac-sha256 {SHA};\n");
    s += &format!(
        "add fd00::1 fd00::2 esp 0x1005 -lh 600 -ls 500 -E aes-cbc {AES} -A hmac-sha256 {SHA};\n"
    );
    s += "spdadd 10.1.0.1 10.1.0.2 any -P out ipsec esp/transport//require;\n";
    s += "spdadd 10.1.0.2 10.1.0.1 any -P in ipsec esp/transport//require;\n";
    s += "spdadd 10.1.1.0/24[any] 10.1.2.0/24[443] tcp -P out ipsec \
          esp/tunnel/10.1.0.1-10.1.0.2/unique:7;\n";
    s
}

/// Seed policy installed with `-k` (kernel mode: no twin): a `fwd` policy
/// without its `in`, for row 5.
const SEED_K: &str = "spdadd 10.5.0.2 10.5.0.1 any -P fwd ipsec esp/transport//require;\n";

/// One row of the small fault rows (1-5).
struct Row {
    /// Short id, used in file names.
    id: &'static str,
    /// What it tests, for messages.
    what: &'static str,
    /// The script's file name (as rsetkey names it in messages).
    file: &'static str,
    script: String,
    /// Line of the statement the kernel (or the parser) refuses.
    bad_line: u32,
    /// The texts rsetkey reports on that line (setkey's lines, in order).
    reports: &'static [&'static str],
    /// Without `--atomic`: the exit status, and whether the expected dumps
    /// come from a reference run (else: identical to before).
    plain_exit: i32,
    reference: bool,
    /// A parse failure: nothing is sent, with or without `--atomic`.
    parse_error: bool,
    /// Also run with `--atomic` where no scratch namespace can be made.
    without_scratch: bool,
}

/// How a row's script is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `-f`, setkey's behaviour.
    Plain,
    /// `--atomic -f`.
    Atomic,
    /// `--atomic -f` with `user.max_net_namespaces` at 0: no trial run,
    /// the real run stops at the refusal and restores the snapshot.
    NoScratch,
}

impl Variant {
    /// The row's output folder is `ROW-ID-{dir}`.
    fn dir(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Atomic => "atomic",
            Variant::NoScratch => "noscratch",
        }
    }

    fn atomic(self) -> bool {
        self != Variant::Plain
    }
}

fn rows() -> Vec<Row> {
    let add = |spi: u32| esp(spi, "");
    vec![
        Row {
            id: "r1-dup",
            what: "duplicate SA in the middle",
            file: "dup.conf",
            script: [
                add(0x2001),
                add(0x2002),
                esp(0x1001, " -lh 3600 -ls 3000"),
                add(0x2004),
                add(0x2005),
                add(0x2006),
            ]
            .concat(),
            bad_line: 3,
            reports: &["File exists"],
            plain_exit: 0,
            reference: true,
            parse_error: false,
            without_scratch: true,
        },
        Row {
            id: "r2-del",
            what: "delete of a missing SA in the middle",
            file: "del.conf",
            script: [
                add(0x2101),
                "delete 10.1.0.1 10.1.0.2 esp 0x1002;\n".to_string(),
                "delete 10.1.0.1 10.1.0.2 esp 0x2999;\n".to_string(),
                add(0x2102),
                "delete 10.1.0.1 10.1.0.2 esp 0x2101;\n".to_string(),
                add(0x2103),
            ]
            .concat(),
            bad_line: 3,
            reports: &["No such process"],
            plain_exit: 0,
            reference: true,
            parse_error: false,
            without_scratch: false,
        },
        Row {
            id: "r3-alg",
            what: "an algorithm the kernel lacks",
            file: "alg.conf",
            script: [
                add(0x2201),
                format!(
                    "add 10.1.0.1 10.1.0.2 esp 0x2202 -E twofish-cbc {AES} -A hmac-sha256 {SHA};\n"
                ),
                add(0x2203),
            ]
            .concat(),
            bad_line: 2,
            reports: &["Not supported at `", "parse failed"],
            plain_exit: 1,
            reference: false,
            parse_error: true,
            without_scratch: false,
        },
        Row {
            id: "r4-pol",
            what: "policy conflict",
            file: "pol.conf",
            script: "spdadd 10.4.0.1 10.4.0.2 any -P out ipsec esp/transport//require;\n\
                     spdadd 10.4.0.1 10.4.0.3 any -P out ipsec esp/transport//require;\n\
                     spdadd 10.1.0.1 10.1.0.2 any -P out ipsec esp/transport//require;\n\
                     spdadd 10.4.0.2 10.4.0.1 any -P in ipsec esp/transport//require;\n\
                     spdadd 10.4.0.1[any] 10.4.0.4[80] tcp -P out none;\n"
                .to_string(),
            bad_line: 3,
            reports: &["File exists"],
            plain_exit: 0,
            reference: true,
            parse_error: false,
            without_scratch: true,
        },
        Row {
            id: "r5-half",
            what: "half-done in/fwd",
            file: "half.conf",
            script: "# the in policy goes in, its fwd twin is refused (the seed has it)\n\
                     spdadd 10.5.0.2 10.5.0.1 any -P in ipsec esp/transport//require;\n"
                .to_string(),
            bad_line: 2,
            reports: &["File exists"],
            plain_exit: 0,
            reference: false,
            parse_error: false,
            without_scratch: true,
        },
    ]
}

/// The script of a row without its refused line (a comment instead, so
/// that line numbers stay): what setkey's behaviour leaves applied.
fn reference_script(row: &Row) -> String {
    row.script
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == row.bad_line as usize {
                "# (refused)\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The `i`-th SA / policy of the generated scripts: its source and
/// destination addresses, and the SA's SPI.
fn big_entry(i: usize) -> (String, String, u32) {
    let (a, b) = (i / 250, i % 250 + 1);
    (
        format!("10.20.{a}.{b}"),
        format!("10.21.{a}.{b}"),
        0x10000 + i as u32,
    )
}

/// `n` new SAs, then `n` new `out` policies for the same pairs.
fn big_script(n: usize) -> String {
    let mut s = String::with_capacity(n * 160);
    for i in 0..n {
        let (src, dst, spi) = big_entry(i);
        let _ = writeln!(
            s,
            "add {src} {dst} esp {spi} -E aes-cbc {AES} -A hmac-sha256 {SHA};"
        );
    }
    for i in 0..n {
        let (src, dst, _) = big_entry(i);
        let _ = writeln!(
            s,
            "spdadd {src} {dst} any -P out ipsec esp/transport//require;"
        );
    }
    s
}

// ---------------------------------------------------------------------------
// The guest run
// ---------------------------------------------------------------------------

/// Sizes of the big rows.
struct Sizes {
    /// Statements of the signal row's scripts, tried in order until an
    /// apply is still running when the signal lands (the row polls the
    /// SAD with `ip` a few times a second: the apply must outlast a poll,
    /// and a faster rsetkey needs a larger script for that).
    signal: Vec<usize>,
    /// Entries per table of the dump row.
    dump: usize,
}

fn sizes() -> Sizes {
    if env_flag("RSETKEY_FAULTS_FULL") {
        Sizes {
            signal: vec![10_000, 20_000, 40_000, 80_000, 160_000],
            dump: 30_000,
        }
    } else {
        Sizes {
            signal: vec![5_000, 10_000, 20_000, 40_000, 80_000],
            dump: 10_000,
        }
    }
}

/// Everything the guest runs: the scripts, `row.sh` (one row in the
/// current namespace), `sig.sh` (one signal attempt), `run.sh` (the
/// matrix).
fn prepare(dir: &Path, sizes: &Sizes) -> Vec<Row> {
    let rows = rows();
    write_private(dir, "seed.conf", &seed());
    write_private(dir, "seed-k.conf", SEED_K);
    for row in &rows {
        write_private(dir, row.file, &row.script);
        if row.reference {
            write_private(dir, &format!("ref-{}", row.file), &reference_script(row));
        }
    }
    for &n in &sizes.signal {
        write_private(dir, &format!("sig-{n}.conf"), &big_script(n / 2));
    }
    write_private(dir, "dump.conf", &big_script(sizes.dump));

    let common = format!(
        "set -u\ncd {d}\nB={b}\n\
         seed() {{ \"$B\" -f seed.conf >\"$1/seed.out\" 2>&1; echo $? >\"$1/seed.exit\"; \
         \"$B\" -k -f seed-k.conf >>\"$1/seed.out\" 2>&1; echo $? >>\"$1/seed.exit\"; }}\n\
         dumps() {{ for d in D DP; do \"$B\" -$d >\"$1/$2-$d.txt\" 2>\"$1/$2-$d.err\"; \
         echo $? >\"$1/$2-$d.exit\"; done; }}\n",
        d = sh_quote(dir),
        b = sh_quote(rsetkey()),
    );
    // row.sh ID ARGS...: seed, dumps, rsetkey ARGS, dumps
    let row_sh = format!(
        "{common}id=$1; shift\no=out/$id; mkdir -p \"$o\"\n\
         ip link set lo up\nseed \"$o\"\ndumps \"$o\" before\n\
         \"$B\" \"$@\" >\"$o/stdout\" 2>\"$o/stderr\"; echo $? >\"$o/exit\"\n\
         dumps \"$o\" after\n"
    );
    fs::write(dir.join("row.sh"), row_sh).expect("row.sh");
    // sig.sh ID N ATOMIC: seed, dumps, rsetkey in the background, SIGTERM
    // as soon as the SAD has grown, dumps
    let sig_sh = format!(
        "{common}id=$1 n=$2 atomic=$3\no=out/$id; mkdir -p \"$o\"; echo \"$n\" >\"$o/n\"\n\
         ip link set lo up\nseed \"$o\"\ndumps \"$o\" before\n\
         count() {{ local c; c=$(ip xfrm state count); echo \"${{c##* }}\"; }}\n\
         spd() {{ local w s=0; for w in $(ip xfrm policy count | head -n 1); do \
         case $w in *[!0-9]*) ;; *) s=$((s + w)) ;; esac; done; echo \"$s\"; }}\n\
         base=$(count); echo \"$base\" >\"$o/count-before\"; spbase=$(spd)\n\
         if [ \"$atomic\" = 1 ]; then flags=--atomic; else flags=; fi\n\
         start=$EPOCHREALTIME\n\
         \"$B\" $flags --no-lint -f \"sig-$n.conf\" >\"$o/stdout\" 2>\"$o/stderr\" &\n\
         pid=$!\npolls=0\n\
         while :; do\n\
         \x20 c=$(count); polls=$((polls + 1))\n\
         \x20 [ \"$c\" -gt \"$base\" ] && break\n\
         \x20 kill -0 \"$pid\" 2>/dev/null || break\n\
         done\n\
         kill -TERM \"$pid\" 2>/dev/null; echo $? >\"$o/kill.exit\"\n\
         killed=$EPOCHREALTIME\n\
         wait \"$pid\"; rc=$?; echo \"$rc\" >\"$o/exit\"\n\
         echo \"$c\" >\"$o/count-at-kill\"; echo \"$polls\" >\"$o/polls\"\n\
         echo \"$start $killed $EPOCHREALTIME\" >\"$o/times\"\n\
         sad=$(count) sp=$(spd); echo \"$sad $sp\" >\"$o/counts-after\"\n\
         # finished before the signal: exit 0, or killed with everything applied\n\
         if [ \"$rc\" = 0 ] || {{ [ \"$sad\" = $((base + n / 2)) ] && [ \"$sp\" = $((spbase + n / 2)) ]; }}; then\n\
         \x20 : >\"$o/finished-early\"\n\
         fi\n\
         dumps \"$o\" after\n"
    );
    fs::write(dir.join("sig.sh"), sig_sh).expect("sig.sh");

    let mut run = format!(
        "{common}mkdir -p out\n\
         t0=$EPOCHREALTIME\n\
         mark() {{ echo \"$1 $EPOCHREALTIME\" >>out/times; }}\n\
         row() {{ unshare --net bash row.sh \"$@\"; mark \"$1\"; }}\n\
         # no new network namespace while row.sh runs (ENOSPC): --atomic has no trial\n\
         noscratch() {{ unshare --net bash -c 'm=/proc/sys/user/max_net_namespaces; old=$(cat $m); \
         echo 0 >$m; bash row.sh \"$@\"; echo \"$old\" >$m' noscratch \"$@\"; mark \"$1\"; }}\n\
         # row 3: twofish-cbc is offered until its module is removed\n\
         \"$B\" -n -f alg.conf >out/alg-offered.out 2>&1; echo $? >out/alg-offered.exit\n\
         rmmod twofish_generic >out/rmmod.out 2>&1; echo $? >out/rmmod.exit\n"
    );
    for row in &rows {
        let _ = writeln!(run, "row {id}-plain -f {f}", id = row.id, f = row.file);
        let _ = writeln!(
            run,
            "row {id}-atomic --atomic -f {f}",
            id = row.id,
            f = row.file
        );
        if row.without_scratch {
            let _ = writeln!(
                run,
                "noscratch {id}-noscratch --atomic -f {f}",
                id = row.id,
                f = row.file
            );
        }
        if row.reference {
            let _ = writeln!(run, "row {id}-ref -f ref-{f}", id = row.id, f = row.file);
        }
    }
    let tries = sizes
        .signal
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let _ = write!(
        run,
        "for v in plain:0 atomic:1; do\n\
         \x20 id=r6-sig-${{v%:*}}\n\
         \x20 for n in {tries}; do\n\
         \x20   rm -rf \"out/$id\"; unshare --net bash sig.sh \"$id\" \"$n\" \"${{v#*:}}\"\n\
         \x20   [ -e \"out/$id/finished-early\" ] || break\n\
         \x20   echo \"$id: the apply of $n statements finished before SIGTERM (exit $(cat \"out/$id/exit\"), \
         SAD and SPD counts $(cat \"out/$id/counts-after\"))\" >>out/sig-retries\n\
         \x20 done\n\
         \x20 mark \"$id\"\n\
         done\n"
    );
    // row 7 in a named namespace: rmem_max is global, so it is lowered
    // only around the slow dumps
    let _ = write!(
        run,
        "o=out/r7-dump; mkdir -p \"$o\"\n\
         ip netns add faults-dump\n\
         ns() {{ ip netns exec faults-dump \"$@\"; }}\n\
         ns ip link set lo up\n\
         ns \"$B\" --backend xfrm --no-lint -f dump.conf >\"$o/apply.out\" 2>&1; echo $? >\"$o/apply.exit\"\n\
         mark r7-apply\n\
         for d in D DP; do ns \"$B\" -$d >\"$o/normal-$d.txt\" 2>\"$o/normal-$d.err\"; \
         echo $? >\"$o/normal-$d.exit\"; done\n\
         mark r7-normal-dumps\n\
         old_max=$(cat /proc/sys/net/core/rmem_max) old_def=$(cat /proc/sys/net/core/rmem_default)\n\
         sysctl -q -w net.core.rmem_max=4096 net.core.rmem_default=4096\n\
         cat /proc/sys/net/core/rmem_max >\"$o/rmem_max\"\n\
         for d in D DP; do\n\
         \x20 ns bash -c '\"$1\" -$2 2>\"$3/slow-$2.err\" | (for i in 1 2 3 4; do sleep 0.5; \
         cat /proc/net/pfkey /proc/net/netlink >>\"$3/sockets-$2.txt\" 2>/dev/null; done; cat) \
         >\"$3/slow-$2.txt\"; echo \"${{PIPESTATUS[0]}}\" >\"$3/slow-$2.exit\"' slow \"$B\" $d \"$o\"\n\
         done\n\
         sysctl -q -w net.core.rmem_max=\"$old_max\" net.core.rmem_default=\"$old_def\"\n\
         mark r7-slow-dumps\n\
         ip netns del faults-dump\n\
         echo \"total $t0 $EPOCHREALTIME\" >>out/times\n"
    );
    fs::write(dir.join("run.sh"), run).expect("run.sh");
    rows
}

// ---------------------------------------------------------------------------
// Dumps
// ---------------------------------------------------------------------------

/// Masks, after `prefix`, a ctime-style stamp (`Jan  1 00:00:00 2024`, 20
/// characters, starting with a letter) by `replacement`.
fn mask_stamp(line: &str, prefix: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        out.push_str(&rest[..i + prefix.len()]);
        let stamp = after.get(..20);
        if stamp.is_some_and(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.ends_with(|c: char| c.is_ascii_digit())
        }) {
            out.push_str(replacement);
            rest = &after[20..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Replaces the digits after each ` NAME=` by `<N>`.
fn mask_number(line: &str, name: &str) -> String {
    let key = format!(" {name}=");
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(&key) {
        let after = &rest[i + key.len()..];
        out.push_str(&rest[..i + key.len()]);
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            out.push_str("<N>");
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// What may differ between two dumps of the same tables by two processes
/// at two moments: [`normalize`]'s fields (`diff:`, `refcnt=`, ...), the
/// dumping process's pid and the `current:` time.  `created:` stays.
fn same_tables(text: &str) -> String {
    normalize(text, Text::Plain)
        .lines()
        .map(|l| mask_stamp(&mask_number(l, "pid"), "current: ", "<now>") + "\n")
        .collect()
}

/// [`same_tables`], and the creation times: for a comparison with a
/// reference run in another namespace.
fn same_content(text: &str) -> String {
    mask_stamp_lines(&same_tables(text))
}

/// The entries of a dump (a line without leading tab starts one).
fn entries(dump: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in dump.split_inclusive('\n') {
        if line.starts_with('\t')
            && let Some(last) = out.last_mut()
        {
            last.push_str(line);
            continue;
        }
        out.push(line.to_string());
    }
    out.retain(|e| !e.starts_with("No S"));
    out
}

/// An entry as it must stay while others come and go: [`same_tables`],
/// and its position in the dump masked (`sadb_seq=N` of SAs, `seq=N` of
/// policies).
fn entry_identity(entry: &str) -> String {
    same_tables(entry)
        .lines()
        .map(|l| {
            let l = if l.starts_with("\tsadb_seq=") {
                let rest = l.split_once(' ').map_or("", |(_, r)| r);
                format!("\tsadb_seq=<N> {rest}")
            } else if l.starts_with("\tspid=") {
                mask_number(l, "seq")
            } else {
                l.to_string()
            };
            l + "\n"
        })
        .collect()
}

/// SAs of a `-D` dump: (source, destination, SPI), in dump order.
fn sa_ids(dump: &str) -> Vec<(String, String, u32)> {
    entries(dump)
        .iter()
        .filter_map(|e| {
            let mut lines = e.lines();
            let mut addrs = lines.next()?.split_whitespace();
            let (src, dst) = (addrs.next()?.to_string(), addrs.next()?.to_string());
            let spi = lines
                .next()?
                .split_once(" spi=")?
                .1
                .split('(')
                .next()?
                .parse()
                .ok()?;
            Some((src, dst, spi))
        })
        .collect()
}

/// Policies of a `-DP` dump: (selector line, direction), in dump order.
fn policy_ids(dump: &str) -> Vec<(String, String)> {
    entries(dump)
        .iter()
        .filter_map(|e| {
            let mut lines = e.lines();
            let selector = lines.next()?.trim().to_string();
            let dir = lines.next()?.split_whitespace().next()?.to_string();
            Some((selector, dir))
        })
        .collect()
}

/// The entries of `before` that are also in `reference` (a dump of
/// another namespace: compared without creation times), concatenated.
fn kept_entries(before: &str, reference: &str) -> String {
    let content = |e: &str| mask_stamp_lines(&entry_identity(e));
    let there: BTreeSet<String> = entries(reference).iter().map(|e| content(e)).collect();
    entries(before)
        .into_iter()
        .filter(|e| there.contains(&content(e)))
        .collect()
}

/// [`mask_stamp`] of `created: ` on every line.
fn mask_stamp_lines(text: &str) -> String {
    text.lines()
        .map(|l| mask_stamp(l, "created: ", "<created>") + "\n")
        .collect()
}

/// The entries of `before` missing from `after` (compared by
/// [`entry_identity`]), as problems.
fn lost_entries(before: &str, after: &str) -> Vec<String> {
    let mut have: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries(after) {
        *have.entry(entry_identity(&e)).or_default() += 1;
    }
    let mut lost = Vec::new();
    for e in entries(before) {
        match have.get_mut(&entry_identity(&e)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => lost.push(e),
        }
    }
    lost
}

// ---------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------

/// The results of one guest run.
struct Results<'a> {
    out: &'a Path,
    backend: &'a str,
    report: String,
    failed: Vec<String>,
}

impl Results<'_> {
    fn text(&self, path: &str) -> String {
        read_text(&self.out.join(path)).unwrap_or_default()
    }

    fn exit(&self, path: &str) -> Option<i32> {
        self.text(path).trim().parse().ok()
    }

    /// Records one row's verdict.
    fn verdict(&mut self, label: &str, problems: Vec<String>) {
        let label = format!("{label} [{}]", self.backend);
        if problems.is_empty() {
            let _ = writeln!(self.report, "PASS {label}");
        } else {
            let _ = writeln!(self.report, "FAIL {label}:");
            for p in &problems {
                for l in p.lines() {
                    let _ = writeln!(self.report, "    {l}");
                }
            }
            self.failed.push(label);
        }
    }
}

/// A short diff of two dump texts after `how`, or `None` when equal.
fn dump_diff(before: &str, after: &str, how: fn(&str) -> String) -> Option<String> {
    let (b, a) = (how(before), how(after));
    (b != a).then(|| short_diff(&b, &a, 16))
}

/// The seed went in: two runs, exit 0 each.
fn check_seed(r: &Results, dir: &str, problems: &mut Vec<String>) {
    let exits = r.text(&format!("{dir}/seed.exit"));
    if exits.split_whitespace().collect::<Vec<_>>() != ["0", "0"] {
        problems.push(format!(
            "seeding failed (exit statuses {:?}):\n{}",
            exits.trim(),
            r.text(&format!("{dir}/seed.out"))
        ));
    }
    for d in ["D", "DP"] {
        for when in ["before", "after"] {
            let exit = r.exit(&format!("{dir}/{when}-{d}.exit"));
            if exit != Some(0) {
                problems.push(format!(
                    "rsetkey -{d} ({when}) exited {exit:?}: {}",
                    r.text(&format!("{dir}/{when}-{d}.err"))
                ));
            }
        }
    }
    let before = r.text(&format!("{dir}/before-D.txt"));
    if sa_ids(&before).len() != 5 {
        problems.push(format!("the seed should give 5 SAs, -D before:\n{before}"));
    }
    let before = r.text(&format!("{dir}/before-DP.txt"));
    if policy_ids(&before).len() != 5 {
        problems.push(format!(
            "the seed should give 5 policies, -DP before:\n{before}"
        ));
    }
}

/// The stderr lines `rsetkey: FILE,LINE: ...` (setkey's report lines), in
/// order.
fn report_lines(stderr: &str, file: &str) -> Vec<String> {
    let prefix = format!("rsetkey: {file},");
    stderr
        .lines()
        .filter(|l| l.starts_with(&prefix) && !l.contains(": lint: "))
        .map(String::from)
        .collect()
}

/// Rows 1-5, one variant.
fn check_row(r: &mut Results, row: &Row, variant: Variant) {
    let atomic = variant.atomic();
    let how = match variant {
        Variant::Plain => "no --atomic",
        Variant::Atomic => "--atomic",
        Variant::NoScratch => "--atomic, no scratch namespace",
    };
    let label = format!("row {} ({}), {how}", row.id, row.what);
    let dir = format!("{}-{}", row.id, variant.dir());
    let mut problems = Vec::new();
    check_seed(r, &dir, &mut problems);
    let exit = r.exit(&format!("{dir}/exit"));
    let stderr = r.text(&format!("{dir}/stderr"));
    let lines = report_lines(&stderr, row.file);
    let want_exit = if atomic { 1 } else { row.plain_exit };
    if exit != Some(want_exit) {
        problems.push(format!(
            "exit status {exit:?}, expected {want_exit}; stderr:\n{stderr}"
        ));
    }
    // setkey's report lines: each expected text once, on the refused line,
    // in order (rsetkey may add its own explanation lines after them), and
    // nothing reported for any other line
    let want_prefix = format!("rsetkey: {},{}: ", row.file, row.bad_line);
    let texts: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(&want_prefix))
        .collect();
    let positions: Vec<Vec<usize>> = row
        .reports
        .iter()
        .map(|want| {
            (0..texts.len())
                .filter(|&i| texts[i].starts_with(want))
                .collect()
        })
        .collect();
    let once_in_order =
        positions.iter().all(|p| p.len() == 1) && positions.windows(2).all(|w| w[0][0] < w[1][0]);
    if !once_in_order || lines.len() != texts.len() {
        problems.push(format!(
            "expected {:?} reported once each for line {}, in that order, and nothing for \
             other lines; got:\n{}\n(stderr:\n{stderr})",
            row.reports,
            row.bad_line,
            lines.join("\n")
        ));
    }
    if stderr.contains("0001020304") || stderr.contains("1011121314") {
        problems.push(format!("a key on stderr:\n{stderr}"));
    }
    if atomic && !row.parse_error && !stderr.contains("nothing was changed") {
        problems.push(format!(
            "no line saying \"nothing was changed\"; stderr:\n{stderr}"
        ));
    }
    if variant == Variant::NoScratch {
        // the trial could not happen, the real run was undone
        for want in [
            "--atomic: cannot create a scratch network namespace: No space left on device; \
             applying with restore on failure only",
            "restored the SAD and SPD as they were",
        ] {
            if !stderr.contains(want) {
                problems.push(format!("stderr lacks {want:?}:\n{stderr}"));
            }
        }
    }
    for d in ["D", "DP"] {
        let before = r.text(&format!("{dir}/before-{d}.txt"));
        let after = r.text(&format!("{dir}/after-{d}.txt"));
        if atomic || !row.reference {
            if let Some(diff) = dump_diff(&before, &after, same_tables) {
                problems.push(format!(
                    "-{d} after differs from -{d} before (- before, + after):\n{diff}"
                ));
            }
        } else {
            let reference = r.text(&format!("{}-ref/after-{d}.txt", row.id));
            let ref_exit = r.exit(&format!("{}-ref/exit", row.id));
            if ref_exit != Some(0) || reference.is_empty() {
                problems.push(format!(
                    "the reference run failed (exit {ref_exit:?}):\n{}",
                    r.text(&format!("{}-ref/stderr", row.id))
                ));
            }
            if let Some(diff) = dump_diff(&reference, &after, same_content) {
                problems.push(format!(
                    "-{d} after differs from the reference run's (the script without line {}) \
                     (- reference, + after):\n{diff}",
                    row.bad_line
                ));
            }
            // the seeded entries the script leaves alone stay exactly
            let kept = kept_entries(&before, &reference);
            let lost = lost_entries(&kept, &after);
            if !lost.is_empty() {
                problems.push(format!(
                    "-{d}: {} seeded entr(y/ies) changed or lost:\n{}",
                    lost.len(),
                    lost.concat()
                ));
            }
        }
    }
    r.verdict(&label, problems);
}

/// Row 3's premise: the kernel offered twofish-cbc until its module went.
fn check_alg_premise(r: &mut Results) {
    let mut problems = Vec::new();
    if r.exit("alg-offered.exit") != Some(0) {
        problems.push(format!(
            "before its module was removed, `rsetkey -n -f alg.conf` should pass (the kernel \
             offered twofish-cbc):\n{}",
            r.text("alg-offered.out")
        ));
    }
    if r.exit("rmmod.exit") != Some(0) {
        problems.push(format!(
            "rmmod twofish_generic failed: {}",
            r.text("rmmod.out")
        ));
    }
    r.verdict(
        "row r3-alg premise (twofish-cbc offered, then removed)",
        problems,
    );
}

/// Row 6, one variant.
fn check_signal(r: &mut Results, atomic: bool) {
    let variant = if atomic { "--atomic" } else { "no --atomic" };
    let label = format!("row r6-sig (SIGTERM mid-apply), {variant}");
    let dir = format!("r6-sig-{}", if atomic { "atomic" } else { "plain" });
    let mut problems = Vec::new();
    check_seed(r, &dir, &mut problems);
    let n: usize = r.text(&format!("{dir}/n")).trim().parse().unwrap_or(0);
    let exit = r.exit(&format!("{dir}/exit"));
    let stderr = r.text(&format!("{dir}/stderr"));
    let at_kill = r.text(&format!("{dir}/count-at-kill"));
    let base = r.text(&format!("{dir}/count-before"));
    let times = r.text(&format!("{dir}/times"));
    let retries: Vec<String> = r
        .text("sig-retries")
        .lines()
        .filter(|l| l.starts_with(&format!("{dir}:")))
        .map(String::from)
        .collect();
    let _ = writeln!(
        r.report,
        "note: row r6-sig, {variant} [{}]: {n} statements, SAD count {} before, {} when \
         signalled, {} polls, exit {exit:?}, times (start, kill, end) {}{}",
        r.backend,
        base.trim(),
        at_kill.trim(),
        r.text(&format!("{dir}/polls")).trim(),
        times.trim(),
        if retries.is_empty() {
            String::new()
        } else {
            format!("; retried: {}", retries.join("; "))
        }
    );
    if r.out.join(&dir).join("finished-early").exists() {
        problems.push(format!(
            "the apply finished before SIGTERM landed, even with {n} statements (exit \
             {exit:?}, SAD and SPD counts after: {}): the row interrupted nothing (stderr:\n\
             {stderr})",
            r.text(&format!("{dir}/counts-after")).trim()
        ));
    } else if at_kill.trim().parse::<u64>().ok() <= base.trim().parse::<u64>().ok() {
        problems.push(format!(
            "SIGTERM was not sent mid-apply: the SAD had not grown ({} -> {}); exit {exit:?}, \
             stderr:\n{stderr}",
            base.trim(),
            at_kill.trim()
        ));
    }
    if exit != Some(128 + 15) {
        problems.push(format!(
            "exit status {exit:?}, expected 143 (128 + SIGTERM); stderr:\n{stderr}"
        ));
    }
    let before_d = r.text(&format!("{dir}/before-D.txt"));
    let after_d = r.text(&format!("{dir}/after-D.txt"));
    let before_dp = r.text(&format!("{dir}/before-DP.txt"));
    let after_dp = r.text(&format!("{dir}/after-DP.txt"));
    if atomic {
        if !stderr.lines().any(|l| l.contains("restored")) {
            problems.push(format!(
                "no line saying the snapshot was restored; stderr:\n{stderr}"
            ));
        }
        for (d, before, after) in [("D", &before_d, &after_d), ("DP", &before_dp, &after_dp)] {
            if let Some(diff) = dump_diff(before, after, same_tables) {
                problems.push(format!(
                    "-{d} after differs from -{d} before (- before, + after):\n{diff}"
                ));
            }
        }
    } else {
        for (d, before, after) in [("D", &before_d, &after_d), ("DP", &before_dp, &after_dp)] {
            let lost = lost_entries(before, after);
            if !lost.is_empty() {
                problems.push(format!(
                    "-{d}: {} seeded entr(y/ies) changed or lost:\n{}",
                    lost.len(),
                    lost.concat()
                ));
            }
        }
        problems.extend(check_prefix(
            n / 2,
            &before_d,
            &after_d,
            &before_dp,
            &after_dp,
        ));
    }
    r.verdict(&label, problems);
}

/// What is new after an interrupted apply of `big_script(half)` is a prefix
/// of it: the first k SAs (k < half and no policy), or all SAs and the
/// first k policies (k < half); at least one statement applied.
fn check_prefix(
    half: usize,
    before_d: &str,
    after_d: &str,
    before_dp: &str,
    after_dp: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let old_sas: BTreeSet<_> = sa_ids(before_d).into_iter().collect();
    let new_sas: Vec<_> = sa_ids(after_d)
        .into_iter()
        .filter(|s| !old_sas.contains(s))
        .collect();
    let old_policies: BTreeSet<_> = policy_ids(before_dp).into_iter().collect();
    let new_policies: Vec<_> = policy_ids(after_dp)
        .into_iter()
        .filter(|p| !old_policies.contains(p))
        .collect();
    let (k_sa, k_sp) = (new_sas.len(), new_policies.len());
    let applied = k_sa + k_sp;
    if applied == 0 || applied >= 2 * half {
        problems.push(format!(
            "expected 0 < applied < {} statements after SIGTERM, found {k_sa} new SAs and \
             {k_sp} new policies",
            2 * half
        ));
    }
    if k_sp > 0 && k_sa != half {
        problems.push(format!(
            "{k_sp} policies applied, but only {k_sa} of the {half} SAs before them: not a \
             prefix of the script"
        ));
    }
    let want_sas: BTreeSet<_> = (0..k_sa.min(half))
        .map(|i| {
            let (src, dst, spi) = big_entry(i);
            (src, dst, spi)
        })
        .collect();
    let got_sas: BTreeSet<_> = new_sas.iter().cloned().collect();
    if got_sas != want_sas || got_sas.len() != k_sa {
        let extra: Vec<_> = got_sas.difference(&want_sas).take(5).collect();
        let missing: Vec<_> = want_sas.difference(&got_sas).take(5).collect();
        problems.push(format!(
            "the {k_sa} new SAs are not the script's first {k_sa} (or one is there twice): \
             not in the first k: {extra:?}; missing: {missing:?}"
        ));
    }
    let want_policies: BTreeSet<_> = (0..k_sp.min(half))
        .map(|i| {
            let (src, dst, _) = big_entry(i);
            (format!("{src}[any] {dst}[any] 255"), "out".to_string())
        })
        .collect();
    let got_policies: BTreeSet<_> = new_policies.iter().cloned().collect();
    if got_policies != want_policies || got_policies.len() != k_sp {
        let extra: Vec<_> = got_policies.difference(&want_policies).take(5).collect();
        let missing: Vec<_> = want_policies.difference(&got_policies).take(5).collect();
        problems.push(format!(
            "the {k_sp} new policies are not the script's first {k_sp} (or one is there \
             twice): not in the first k: {extra:?}; missing: {missing:?}"
        ));
    }
    problems
}

/// Row 7.
fn check_dump(r: &mut Results, n: usize, pfkey: bool) {
    let dir = "r7-dump";
    let mut problems = Vec::new();
    if r.exit(&format!("{dir}/apply.exit")) != Some(0) {
        problems.push(format!(
            "installing {n} SAs and {n} policies failed:\n{}",
            r.text(&format!("{dir}/apply.out"))
        ));
    }
    if r.text(&format!("{dir}/rmem_max")).trim() != "4096" {
        problems.push(format!(
            "net.core.rmem_max was not lowered to 4096: {:?}",
            r.text(&format!("{dir}/rmem_max"))
        ));
    }
    let want_sas: Vec<_> = (0..n).map(big_entry).collect();
    let want_sa_set: BTreeSet<_> = want_sas.iter().cloned().collect();
    let want_policies: BTreeSet<_> = (0..n)
        .map(|i| {
            let (src, dst, _) = big_entry(i);
            (format!("{src}[any] {dst}[any] 255"), "out".to_string())
        })
        .collect();
    for d in ["D", "DP"] {
        let normal = r.text(&format!("{dir}/normal-{d}.txt"));
        let slow = r.text(&format!("{dir}/slow-{d}.txt"));
        for (which, text) in [("normal", &normal), ("slow", &slow)] {
            let exit = r.exit(&format!("{dir}/{which}-{d}.exit"));
            if exit != Some(0) {
                problems.push(format!(
                    "-{d} ({which}) exited {exit:?}: {}",
                    r.text(&format!("{dir}/{which}-{d}.err"))
                ));
            }
            // every entry exactly once
            let (count, distinct, complete) = if d == "D" {
                let ids = sa_ids(text);
                let set: BTreeSet<_> = ids.iter().cloned().collect();
                (ids.len(), set.len(), set == want_sa_set)
            } else {
                let ids = policy_ids(text);
                let set: BTreeSet<_> = ids.iter().cloned().collect();
                (ids.len(), set.len(), set == want_policies)
            };
            if count != n || distinct != n || !complete {
                problems.push(format!(
                    "-{d} ({which}): {count} entries ({distinct} distinct), expected each of the \
                     {n} installed exactly once (complete: {complete}); last lines:\n{}",
                    tail(text, 12)
                ));
            }
        }
        let last = entries(&normal).last().cloned().unwrap_or_default();
        let slow_last = entries(&slow).last().map(|e| same_tables(e));
        if !last.is_empty() && slow_last != Some(same_tables(&last)) {
            problems.push(format!(
                "-{d}: the slow dump does not end with the normal dump's last entry:\n{last}"
            ));
        }
        if let Some(diff) = dump_diff(&normal, &slow, same_tables) {
            problems.push(format!(
                "-{d} through a full receive buffer differs from a dump with normal buffers \
                 (- normal, + slow):\n{diff}"
            ));
        }
        let sockets = r.text(&format!("{dir}/sockets-{d}.txt"));
        if queued_while_stalled(&sockets, pfkey) == 0 {
            problems.push(format!(
                "-{d}: while the reader stalled, no dump socket had anything queued: the row \
                 did not test a full buffer; samples of /proc/net/pfkey and /proc/net/netlink:\n\
                 {sockets}"
            ));
        }
    }
    let label = format!("row r7-dump ({n} SAs and {n} policies through a full receive buffer)");
    r.verdict(&label, problems);
}

/// The most bytes queued on the dumping socket in samples of
/// `/proc/net/pfkey` (`sk RefCnt Rmem ...`: any PF_KEY socket, when
/// `pfkey`) and `/proc/net/netlink` (`sk Eth Pid Groups Rmem Wmem Dump
/// ...`: an XFRM socket, protocol 6, with a dump running).
fn queued_while_stalled(samples: &str, pfkey: bool) -> u64 {
    let mut table = "";
    let mut most = 0;
    for line in samples.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"sk") {
            table = if f.get(1) == Some(&"RefCnt") {
                "pfkey"
            } else {
                "netlink"
            };
            continue;
        }
        let number = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        let queued = match table {
            "pfkey" if pfkey => number(2),
            "netlink" if !pfkey && number(1) == Some(6) && number(6) == Some(1) => number(4),
            _ => None,
        };
        most = most.max(queued.unwrap_or(0));
    }
    most
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The whole matrix through one backend, in one guest.
fn matrix(test: &str, kernel: Kernel, backend: &str) {
    let work = Work::new(&format!("faults-{backend}"));
    let dir = &work.dir;
    let sizes = sizes();
    let rows = prepare(dir, &sizes);
    let guest = Guest {
        cpus: 1,
        what: format!("fault matrix, {backend}"),
        kernel,
        command: vec!["bash".into(), dir.join("run.sh").display().to_string()],
        timeout: if env_flag("RSETKEY_FAULTS_FULL") {
            900
        } else {
            400
        },
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let out = dir.join("out");
    let mut r = Results {
        out: &out,
        backend,
        report: String::new(),
        failed: Vec::new(),
    };
    check_alg_premise(&mut r);
    for row in &rows {
        for variant in [Variant::Plain, Variant::Atomic] {
            check_row(&mut r, row, variant);
        }
        if row.without_scratch {
            check_row(&mut r, row, Variant::NoScratch);
        }
    }
    for atomic in [false, true] {
        check_signal(&mut r, atomic);
    }
    check_dump(&mut r, sizes.dump, kernel == Kernel::WithAfKey);
    let _ = writeln!(
        r.report,
        "times (row, epoch seconds at its end):\n{}",
        r.text("times").trim_end()
    );
    eprint!("{}", r.report);
    assert!(
        r.failed.is_empty(),
        "{test}: {} row(s) failed (report above): {}",
        r.failed.len(),
        r.failed.join("; ")
    );
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// The fault matrix through PF_KEY (a guest with `af_key`).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn fault_matrix_through_pfkey() {
    matrix("fault_matrix_through_pfkey", Kernel::WithAfKey, "pfkey");
}

/// The fault matrix through XFRM netlink (a guest without `af_key`).
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn fault_matrix_through_xfrm() {
    matrix("fault_matrix_through_xfrm", Kernel::WithoutAfKey, "xfrm");
}

// ---------------------------------------------------------------------------
// The checking code itself (no kernel needed)
// ---------------------------------------------------------------------------

#[test]
fn masks_only_what_differs_between_two_dumps() {
    let a = "10.1.0.1 10.1.0.2 \n\
             \tesp mode=transport spi=4097(0x00001001) reqid=0(0x00000000)\n\
             \tcreated: Mar  3 10:00:00 2026\tcurrent: Mar  3 10:00:05 2026\n\
             \tdiff: 5(s)\thard: 3600(s)\tsoft: 3000(s)\n\
             \tcurrent: 0(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n\
             \tsadb_seq=0 pid=77 refcnt=0\n";
    let b = a
        .replace("10:00:05", "10:00:09")
        .replace("5(s)", "9(s)")
        .replace("pid=77", "pid=78");
    assert_eq!(same_tables(a), same_tables(&b));
    // created stays, and byte counters stay
    assert_ne!(
        same_tables(a),
        same_tables(&a.replace("10:00:00", "10:00:01"))
    );
    assert_ne!(
        same_tables(a),
        same_tables(&a.replace("0(bytes)\thard", "1(bytes)\thard"))
    );
    assert_eq!(
        same_content(a),
        same_content(&a.replace("10:00:00", "10:00:01"))
    );
    assert_eq!(sa_ids(a), [("10.1.0.1".into(), "10.1.0.2".into(), 4097)]);
    // an entry keeps its identity when its position changes
    assert_eq!(
        entry_identity(a),
        entry_identity(&a.replace("sadb_seq=0", "sadb_seq=3"))
    );
    assert!(lost_entries(a, &format!("{b}{b}")).is_empty());
    assert_eq!(lost_entries(a, "No SAD entries.\n").len(), 1);
    let p = "10.1.0.1[any] 10.1.0.2[any] 255\n\tout prio def ipsec\n\
             \tesp/transport//require\n\tcreated: Mar  3 10:00:00 2026  lastused:                     \n\
             \tlifetime: 0(s) validtime: 0(s)\n\tspid=1 seq=0 pid=77\n\trefcnt=1\n";
    assert_eq!(
        policy_ids(p),
        [("10.1.0.1[any] 10.1.0.2[any] 255".into(), "out".into())]
    );
    assert_eq!(
        entry_identity(p),
        entry_identity(&p.replace("seq=0", "seq=4"))
    );
    assert_ne!(
        entry_identity(p),
        entry_identity(&p.replace("spid=1", "spid=9"))
    );
}

#[test]
fn prefix_check_accepts_prefixes_only() {
    let sa = |i: usize| {
        let (s, d, spi) = big_entry(i);
        format!("{s} {d} \n\tesp mode=transport spi={spi}(0x{spi:08x}) reqid=0(0x00000000)\n")
    };
    let sp = |i: usize| {
        let (s, d, _) = big_entry(i);
        format!("{s}[any] {d}[any] 255\n\tout prio def ipsec\n")
    };
    let sas = |r: std::ops::Range<usize>| r.map(sa).collect::<String>();
    let sps = |r: std::ops::Range<usize>| r.map(sp).collect::<String>();
    assert!(check_prefix(10, "", &sas(0..4), "", "").is_empty());
    assert!(check_prefix(10, "", &sas(0..10), "", &sps(0..3)).is_empty());
    // nothing, everything, a gap, policies before all SAs
    assert!(!check_prefix(10, "", "", "", "").is_empty());
    assert!(!check_prefix(10, "", &sas(0..10), "", &sps(0..10)).is_empty());
    assert!(!check_prefix(10, "", &(sas(0..3) + &sa(5)), "", "").is_empty());
    assert!(!check_prefix(10, "", &sas(0..4), "", &sps(0..1)).is_empty());
}

#[test]
fn kept_entries_and_queue_samples() {
    let sa = |spi: u32, created: &str| {
        format!(
            "10.1.0.1 10.1.0.2 \n\tesp mode=transport spi={spi}(0x{spi:08x}) reqid=0(0x00000000)\n\
             \tcreated: Mar  3 10:00:{created} 2026\tcurrent: Mar  3 10:00:30 2026\n\
             \tsadb_seq=1 pid=7 refcnt=0\n"
        )
    };
    let before = sa(1, "00") + &sa(2, "00");
    // the reference (another namespace, other times) deleted SPI 2
    let reference = sa(1, "05") + &sa(3, "05");
    assert_eq!(kept_entries(&before, &reference), sa(1, "00"));
    // kept exactly: a changed creation time counts as lost
    let kept = kept_entries(&before, &reference);
    assert!(lost_entries(&kept, &(sa(3, "01") + &sa(1, "00"))).is_empty());
    assert_eq!(lost_entries(&kept, &sa(1, "01")).len(), 1);

    let samples = "sk       RefCnt Rmem   Wmem   User   Inode\n\
                   00000000f9bc914c 2      2560   0      0      834   \n\
                   sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
                   000000009ec47b98 0   0          00000000 0        0        0     2        0        783\n\
                   00000000c97a7170 6   1211       00000000 33024    0        1     2        0        1121\n\
                   000000000478edf4 6   0          00000000 768      0        0     2        0        1074\n";
    assert_eq!(queued_while_stalled(samples, true), 2560);
    assert_eq!(queued_while_stalled(samples, false), 33024);
    assert_eq!(queued_while_stalled("", true), 0);
}
