//! Kernel tests of the XFRM backend, on the test kernel of
//! `tests/harness/kernel`:
//!
//! * in a guest **without `af_key`** (XFRM netlink only, like most
//!   distribution kernels), rsetkey's default `--backend auto` must fall back
//!   to XFRM: the tutorial on the wire works as it does through PF_KEY
//!   (`tests/kernel.rs`), and every recorded case replays with the results
//!   setkey had through PF_KEY;
//! * in a guest with both interfaces, what one backend installs the other
//!   dumps identically: every case replayed with scripts through PF_KEY and
//!   dumps (`-D...`) through XFRM, and the other way round;
//! * in a guest without `af_key` and without ESP, policies still go in, and
//!   a script with an ESP SA is refused whole, naming the missing module.
//!
//! All runs are compared with the recordings of `fixtures/cases` by
//! `common` (the same normalisation and comparison as `tests/kernel.rs`;
//! stderr is only reported: the XFRM backend adds the kernel's own
//! explanation of a refusal after setkey's line).  The recorded monitor
//! cases (`-x`) are left out: they show other processes' PF_KEY requests,
//! which an XFRM monitor cannot see; the XFRM monitor is compared with the
//! PF_KEY monitor on the same kernel events instead
//! (`xfrm_monitor_prints_what_the_pf_key_monitor_prints`).
//!
//! The independent runs go to separate guests booted in parallel.  If the
//! test kernel cannot be installed or booted, a test prints a loud notice and
//! passes, unless `CI=true`: then it fails.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Guest, Kernel, Text, Work, assert_runs, check_tutorial_wire, give_up, normalize, read_text,
    rsetkey, run_cases_guests, run_guests, selected_cases, sh_quote, shards, tutorial_wire_command,
    write_file, write_private,
};
use std::fs;
use std::path::{Path, PathBuf};

/// The setkey tutorial on two hosts, in a guest without PF_KEY: plain
/// `#!rsetkey -f` scripts (no `--backend`), so `auto` must take XFRM; then
/// the same checks as through PF_KEY (`tests/kernel.rs` `tutorial_traffic`):
/// pings both ways, AH over ESP with the tutorial's SPIs on the wire, no
/// plaintext ICMP, byte counters in `-D`.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn tutorial_on_the_wire_without_af_key() {
    let test = "tutorial_on_the_wire_without_af_key";
    let work = Work::new("xfrm-wire");
    let wire = work.dir.join("wire");
    let guest = Guest {
        cpus: 1,
        what: "tutorial wire, no af_key".into(),
        kernel: Kernel::WithoutAfKey,
        command: tutorial_wire_command(&rsetkey(), &wire),
        timeout: 300,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let problems = check_tutorial_wire(&wire, &rsetkey());
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every (non-monitor) case replayed by plain rsetkey (`--backend auto`) in
/// a guest without PF_KEY gives what setkey gave through PF_KEY.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn corpus_without_af_key_matches_setkey() {
    let test = "corpus_without_af_key_matches_setkey";
    let work = Work::new("xfrm-auto");
    let cases = selected_cases(false);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    let out = work.dir.join("out-auto");
    let guests = run_cases_guests(
        "auto, no af_key",
        Kernel::WithoutAfKey,
        &rsetkey(),
        &out,
        &cases,
        shards(),
    );
    match run_guests(&guests) {
        Ok(()) => assert_runs(test, &[("auto, no af_key", &out)], &cases),
        Err(e) => give_up(test, e),
    }
}

/// The two runs across interfaces: (name, backend of scripts and other
/// invocations, backend of dumps).
const ACROSS: [(&str, &str, &str); 2] = [
    ("pfkey-then-xfrm", "pfkey", "xfrm"),
    ("xfrm-then-pfkey", "xfrm", "pfkey"),
];

/// Every (non-monitor) case, in guests with both interfaces, installed
/// through one backend and dumped through the other, gives what setkey gave
/// through PF_KEY alone.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn corpus_across_backends_matches_setkey() {
    let test = "corpus_across_backends_matches_setkey";
    let work = Work::new("xfrm-across");
    let cases = selected_cases(false);
    assert!(!cases.is_empty(), "{test}: no cases selected");
    fs::create_dir_all(work.dir.join("bin")).expect("work dir");
    // the wrappers exec this symlink, so that rsetkey's messages start
    // "setkey: " as in the recordings
    std::os::unix::fs::symlink(rsetkey(), work.dir.join("bin").join("setkey"))
        .expect("symlink to rsetkey");
    let mut guests = Vec::new();
    let mut runs = Vec::new();
    for (name, script, dump) in ACROSS {
        let tool = wrapper(&work.dir, name, script, dump);
        let out = work.dir.join(format!("out-{name}"));
        guests.extend(run_cases_guests(
            name,
            Kernel::WithAfKey,
            &tool,
            &out,
            &cases,
            shards(),
        ));
        runs.push((name, out));
    }
    match run_guests(&guests) {
        Ok(()) => {
            let runs: Vec<(&str, &Path)> = runs.iter().map(|(n, o)| (*n, o.as_path())).collect();
            assert_runs(test, &runs, &cases)
        }
        Err(e) => give_up(test, e),
    }
}

/// A `/bin/sh` wrapper running rsetkey, as `setkey`, with `--backend
/// DUMP` for dumps (`-D...` arguments) and `--backend SCRIPT` for everything
/// else.  dash, not bash: a wrapper that starts slowly on the test kernel
/// would shift creation times.
fn wrapper(dir: &Path, name: &str, script: &str, dump: &str) -> PathBuf {
    let text = format!(
        "#!/bin/sh\nb={script}\ncase \" $* \" in *\" -D\"*) b={dump};; esac\n\
         exec {} --backend \"$b\" \"$@\"\n",
        sh_quote(dir.join("bin").join("setkey"))
    );
    write_file(dir, name, &text, 0o755)
}

/// A kernel without PF_KEY and without ESP (like many hosts today): a
/// policy-only script installs its policies through XFRM and `-DP` shows
/// them (applied twice, the kernel's refusals are reported and exit 0, or
/// 1 with `--strict`); a script with an ESP SA is refused as a whole before anything is
/// sent — the missing module named, exit status 1, both databases as they
/// were.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn kernel_without_esp_refuses_esp_scripts_whole() {
    let test = "kernel_without_esp_refuses_esp_scripts_whole";
    let work = Work::new("no-esp");
    let dir = &work.dir;
    let write = |name: &str, text: &str| write_private(dir, name, text);
    write(
        "policies.conf",
        "spdadd 10.7.0.1 10.7.0.2 any -P out ipsec esp/transport//require;\n\
         spdadd 10.7.0.2 10.7.0.1 any -P in ipsec esp/transport//require;\n",
    );
    write(
        "esp.conf",
        "spdadd 10.7.1.1 10.7.1.2 any -P out ipsec esp/transport//require;\n\
         add 10.7.1.1 10.7.1.2 esp 0x701 -E aes-cbc 0x000102030405060708090a0b0c0d0e0f\n\
         \t-A hmac-sha256 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f;\n",
    );
    let b = sh_quote(rsetkey());
    let d = sh_quote(dir);
    let script = format!(
        "cd {d} && unshare --net bash -c '\n\
         ip link set lo up\n\
         {b} -f policies.conf >policies.out 2>policies.err; echo $? >policies.exit\n\
         {b} -DP >before-DP.txt; {b} -D >before-D.txt\n\
         {b} -f policies.conf >again.out 2>again.err; echo $? >again.exit\n\
         {b} --strict -f policies.conf >strict.out 2>strict.err; echo $? >strict.exit\n\
         {b} -f esp.conf >esp.out 2>esp.err; echo $? >esp.exit\n\
         {b} -DP >after-DP.txt; {b} -D >after-D.txt\n'\n"
    );
    let runner = dir.join("run.sh");
    fs::write(&runner, script).expect("runner");
    let guest = Guest {
        cpus: 1,
        what: "no af_key, no esp".into(),
        kernel: Kernel::WithoutAfKeyOrEsp,
        command: vec!["bash".into(), runner.display().to_string()],
        timeout: 120,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let text = |name: &str| read_text(&dir.join(name)).unwrap_or_default();
    assert_eq!(
        text("policies.exit").trim(),
        "0",
        "{}",
        text("policies.err")
    );
    let before = text("before-DP.txt");
    for policy in [
        "\tout prio def ipsec",
        "\tin prio def ipsec",
        "\tfwd prio def ipsec",
    ] {
        assert!(before.contains(policy), "-DP lacks {policy:?}:\n{before}");
    }
    assert_eq!(text("before-D.txt"), "No SAD entries.\n");
    // The same policies again: the kernel refuses each (File exists, the
    // `in` one and its `fwd` twin on the same line); setkey reports and
    // exits 0, --strict exits 1.
    assert_eq!(text("again.exit").trim(), "0");
    let again = text("again.err");
    assert_eq!(again.matches(": File exists").count(), 3, "{again}");
    assert!(again.contains("policies.conf,2: File exists"), "{again}");
    assert_eq!(text("strict.exit").trim(), "1", "{}", text("strict.err"));
    assert_eq!(text("esp.exit").trim(), "1", "{}", text("esp.err"));
    let err = text("esp.err");
    assert!(
        err.contains("esp.conf,3: this kernel has no ESP support (module esp4 not loaded); nothing was applied"),
        "{err}"
    );
    assert!(!err.contains("0001020304"), "a key on stderr: {err}");
    // Two dumps by two processes: only their pids may differ.
    let same = |t: &str| {
        normalize(t, Text::Plain)
            .lines()
            .map(|l| match l.split_once(" pid=") {
                Some((head, _)) => head.to_string(),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        same(&text("after-DP.txt")),
        same(&before),
        "the refused script changed the SPD"
    );
    assert_eq!(text("after-D.txt"), "No SAD entries.\n");
}

/// `-x` without PF_KEY: in a guest without `af_key`, `rsetkey -x` (backend
/// `auto`, so XFRM) watches a script add an ESP SA, add a policy, delete the
/// SA and flush the SPD, then an SA expire (soft, then hard) and an
/// outgoing packet ask for an SA (acquire). It must print each kernel event
/// as af_key's message for it, as many times as a PF_KEY monitor receives
/// it: the same run in a guest with `af_key` (a PF_KEY monitor, and a
/// registered PF_KEY socket so that af_key sends acquires) must show every
/// block the XFRM monitor printed, in the same order, after normalising
/// time stamps, sequence numbers and pids (the PF_KEY monitor shows more:
/// every process's requests and the replies to them).
///
/// The same guests also check GETSPI with a range af_key refuses (min >
/// max): both interfaces answer EINVAL and leave the same larval SA.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn xfrm_monitor_prints_what_the_pf_key_monitor_prints() {
    let test = "xfrm_monitor_prints_what_the_pf_key_monitor_prints";
    let work = Work::new("monitor");
    let dir = &work.dir;
    let write = |name: &str, text: &str| write_private(dir, name, text);
    write(
        "script.conf",
        "add 10.91.0.1 10.91.0.2 esp 0x9101 -E aes-cbc 0x000102030405060708090a0b0c0d0e0f\n\
         \t-A hmac-sha256 0x101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f;\n\
         spdadd 10.91.0.1 10.91.0.2 any -P out ipsec esp/transport//require;\n\
         delete 10.91.0.1 10.91.0.2 esp 0x9101;\n\
         spdflush;\n",
    );
    write(
        "expire.conf",
        "add 10.91.0.1 10.91.0.2 esp 0x9102 -lh 3 -ls 1\n\
         \t-E aes-cbc 0x303132333435363738393a3b3c3d3e3f\n\
         \t-A hmac-sha256 0x404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f;\n",
    );
    // Run until the monitor shows something. An SA, not a policy: policy
    // indexes come from a kernel-wide counter, so each probe policy would
    // shift the ids of the policies compared below by a number of tries
    // that depends on timing.
    write(
        "probe.conf",
        "add 10.99.0.1 10.99.0.2 esp 0x9901 -E aes-cbc 0x505152535455565758595a5b5c5d5e5f;\n\
         delete 10.99.0.1 10.99.0.2 esp 0x9901;\n",
    );
    let this_test = std::env::current_exe().expect("the test binary");
    // Run by bash in each guest: $1 is the guest's result folder.
    let script = format!(
        r#"set -u
export b={b} t={t} probe={probe} script={script} expire={expire} out=$1
mkdir -p "$out" && cd "$out" || exit 1
count() {{ grep -c "^sadb_msg{{ version=2 type=$1 " x.raw; }}
# until the monitor's file stops growing (3 checks 50 ms apart in a row)
quiet() {{
	local n p=-1 c=0 i
	for ((i = 0; i < 100 && c < 3; i++)); do
		n=$(stat -c %s x.raw); if [ "$n" = "$p" ]; then c=$((c + 1)); else c=0; fi
		p=$n; sleep 0.05
	done
}}
# until there are N messages of type T (at most ~20 s)
await() {{
	local i
	for ((i = 0; i < 200; i++)); do [ "$(count "$2")" -ge "$1" ] && return; sleep 0.1; done
	echo "no $1 x type $2" >>runner.log
}}
export -f count quiet await
unshare --net bash -c '
set -u
ip link set lo up
# IPsec for traffic between local addresses (lo has it off by default)
echo 0 >/proc/sys/net/ipv4/conf/lo/disable_xfrm
ip addr add 10.91.0.1/32 dev lo
ip addr add 10.91.0.2/32 dev lo
if [ -e /proc/net/pfkey ]; then
	# af_key sends acquires only while a PF_KEY socket is registered
	perl -e "socket(my \$s, 15, 3, 2) or die; send(\$s, pack(q(CCCCSSLL), 2, 7, 0, 3, 2, 0, 0, 0), 0) or die; sleep 100" &
	reg=$!
fi
"$b" -x >x.raw 2>x.err &
mon=$!
# until the monitor listens
for ((i = 0; i < 100; i++)); do
	"$b" -f "$probe" >/dev/null 2>&1
	sleep 0.05
	[ -s x.raw ] && break
done
quiet
"$b" -f "$script" >script.out 2>script.err; echo $? >script.exit
"$b" -f "$expire" >expire.out 2>expire.err; echo $? >expire.exit
ip xfrm policy add src 10.91.0.1/32 dst 10.91.0.2/32 proto icmp dir out \
	tmpl proto esp mode transport
await 2 8
ping -c 1 -W 1 -I 10.91.0.1 10.91.0.2 >ping.txt 2>&1
await 1 6
quiet
kill $mon; wait $mon 2>/dev/null
[ -n "${{reg:-}}" ] && kill $reg
'
# GETSPI with a refused range, in a namespace of its own
unshare --net bash -c '
RSETKEY_GUEST_OUT=$out/getspi.txt "$t" --ignored --exact guest_getspi_with_refused_range \
	>getspi.log 2>&1
"$b" -D >getspi-D.txt 2>&1
'
exit 0
"#,
        b = sh_quote(rsetkey()),
        t = sh_quote(&this_test),
        probe = sh_quote(dir.join("probe.conf")),
        script = sh_quote(dir.join("script.conf")),
        expire = sh_quote(dir.join("expire.conf")),
    );
    let runner = dir.join("run.sh");
    fs::write(&runner, script).expect("runner");
    let guest = |what: &str, kernel: Kernel, out: &str| Guest {
        cpus: 1,
        what: what.into(),
        kernel,
        command: vec![
            "bash".into(),
            runner.display().to_string(),
            dir.join(out).display().to_string(),
        ],
        timeout: 120,
    };
    let guests = [
        guest("monitor, af_key", Kernel::WithAfKey, "pfkey"),
        guest("monitor, no af_key", Kernel::WithoutAfKey, "xfrm"),
    ];
    if let Err(e) = run_guests(&guests) {
        return give_up(test, e);
    }
    let text = |name: &str| read_text(&dir.join(name)).unwrap_or_default();
    for side in ["pfkey", "xfrm"] {
        assert_eq!(
            text(&format!("{side}/runner.log")),
            "",
            "{side}: the guest script waited in vain"
        );
        for run in ["script", "expire"] {
            assert_eq!(
                text(&format!("{side}/{run}.exit")).trim(),
                "0",
                "{side}: {run}.conf failed: {}",
                text(&format!("{side}/{run}.err"))
            );
        }
    }
    assert_eq!(text("xfrm/x.err"), "", "the XFRM monitor complained");
    // The XFRM monitor: only kernel events (the probe SA left out).
    let xfrm: Vec<String> = monitor_blocks(&text("xfrm/x.raw"))
        .into_iter()
        .filter(|b| !b.contains(" 0a630001  }"))
        .collect();
    let kinds: Vec<(u8, Option<u8>)> = xfrm.iter().map(|b| block_kind(b)).collect();
    let (mature, dead, dying) = (Some(1), Some(3), Some(2));
    let want = vec![
        (3, mature), // SADB_ADD, twice: a promiscuous socket gets it twice
        (3, mature),
        (14, None), // SADB_X_SPDADD
        (14, None),
        (4, dead), // SADB_DELETE
        (4, dead),
        (19, None), // SADB_X_SPDFLUSH
        (19, None),
        (3, mature), // the SA that expires
        (3, mature),
        (14, None), // the policy `ip xfrm` adds
        (14, None),
        (8, dying), // SADB_EXPIRE soft, once: sent to registered sockets
        (8, dead),  // SADB_EXPIRE hard
        (6, None),  // SADB_ACQUIRE
    ];
    assert_eq!(kinds, want, "XFRM monitor:\n{}", xfrm.join("\n\n"));
    assert!(
        xfrm[0].contains("key= 10111213 14151617"),
        "-x shows keys, as setkey does:\n{}",
        xfrm[0]
    );
    assert!(
        xfrm[14].contains("sadb_comb{ auth=5 encrypt=12 "),
        "the acquire proposes hmac-sha256 with aes-cbc:\n{}",
        xfrm[14]
    );
    // Every block, in order, among what the PF_KEY monitor printed.
    let pfkey = monitor_blocks(&text("pfkey/x.raw"));
    let mut rest = pfkey.iter();
    for (i, block) in xfrm.iter().enumerate() {
        assert!(
            rest.any(|p| p == block),
            "XFRM monitor block {} is not among the PF_KEY monitor's (in order):\n{block}\n\
             --- PF_KEY monitor:\n{}",
            i + 1,
            pfkey.join("\n\n")
        );
    }
    // GETSPI, range 0x2000..0x1000: EINVAL, and the same larval SA.
    let larval = |side: &str| {
        let dump = text(&format!("{side}/getspi-D.txt"));
        assert!(
            dump.contains("\tesp mode=transport spi=0(0x00000000) reqid=0(0x00000000)\n")
                && dump.contains(" state=larval "),
            "{side}: no larval SA after the refused GETSPI:\n{dump}\n{}",
            text(&format!("{side}/getspi.log"))
        );
        dump.lines()
            .filter(|l| !l.starts_with("\tcreated: ") && !l.starts_with("\tsadb_seq="))
            .map(|l| l.split("\tdiff: ").next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    for side in ["pfkey", "xfrm"] {
        assert_eq!(
            text(&format!("{side}/getspi.txt")),
            "errno=22\n",
            "{side}: {}",
            text(&format!("{side}/getspi.log"))
        );
    }
    assert_eq!(larval("xfrm"), larval("pfkey"));
}

/// Guest side of `xfrm_monitor_prints_what_the_pf_key_monitor_prints`, run
/// in the test kernel by that test (it does nothing elsewhere): a GETSPI
/// whose SPI range is refused (min > max), through PF_KEY when the kernel
/// has it, else through XFRM; the reply's errno goes to
/// `$RSETKEY_GUEST_OUT`.
#[test]
#[ignore = "run inside the test kernel by xfrm_monitor_prints_what_the_pf_key_monitor_prints"]
fn guest_getspi_with_refused_range() {
    use rsetkey::pfkey::wire::{
        AddressExt, AddressKind, Extension, Header, Message, MessageType, Sa2Ext, ipsec,
    };
    let Some(out) = std::env::var_os("RSETKEY_GUEST_OUT") else {
        return;
    };
    let mut kernel: Box<dyn rsetkey::pfkey::Kernel> = if Path::new("/proc/net/pfkey").exists() {
        Box::new(rsetkey::pfkey::socket::PfKeySocket::open().expect("PF_KEY socket"))
    } else {
        Box::new(rsetkey::xfrm::XfrmKernel::open().expect("XFRM socket"))
    };
    let address = |kind, a: &str| {
        Extension::Address(
            kind,
            AddressExt {
                proto: ipsec::PROTO_ANY,
                prefixlen: 32,
                addr: a.parse().expect("address"),
            },
        )
    };
    let request = Message {
        header: Header::request(MessageType::GetSpi, 3, kernel.pid()),
        extensions: vec![
            Extension::SpiRange {
                min: 0x2000,
                max: 0x1000,
            },
            Extension::Sa2(Sa2Ext {
                mode: ipsec::MODE_TRANSPORT,
                sequence: 0,
                reqid: 0,
            }),
            address(AddressKind::Src, "10.93.0.1:0"),
            address(AddressKind::Dst, "10.93.0.2:0"),
        ],
    };
    let reply = kernel.request(&request).expect("GETSPI");
    fs::write(out, format!("errno={}\n", reply.header.errno)).expect("write result");
}

/// The messages of monitor output, one string each: time stamp lines
/// dropped, `seq=`/`pid=` and epoch seconds (`addtime=`) masked.
fn monitor_blocks(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.is_empty() && !is_stamp(l))
                .map(mask_line)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|b| !b.is_empty())
        .collect()
}

/// `HH:MM:SS.UUUUUU ` (`-x`) or `SECONDS.UUUUUU ` (`-xx`).
fn is_stamp(line: &str) -> bool {
    line.strip_suffix(' ')
        .and_then(|s| s.split_once('.'))
        .is_some_and(|(whole, micros)| {
            micros.len() == 6
                && micros.bytes().all(|b| b.is_ascii_digit())
                && whole.bytes().all(|b| b.is_ascii_digit() || b == b':')
        })
}

fn mask_line(line: &str) -> String {
    if let Some((head, _)) = line.split_once(" seq=")
        && line.trim_start().starts_with("len=")
    {
        return format!("{head} seq=<S> pid=<P>");
    }
    match line.split_once("addtime=") {
        Some((head, rest)) if rest.len() > 6 && rest.starts_with('1') => {
            let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}addtime=<T>{tail}")
        }
        _ => line.to_string(),
    }
}

/// A block's `sadb_msg_type`, and its SA's state when it has one.
fn block_kind(block: &str) -> (u8, Option<u8>) {
    let field = |name: &str| {
        block
            .split(name)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
    };
    (field(" type=").unwrap_or(0), field(" state="))
}
