//! Kernel tests of rsetkey's AEAD ciphers, `-f esn` and wide replay
//! windows, on the test kernel of `tests/harness/kernel`:
//!
//! * every new algorithm and option added through XFRM (plain rsetkey:
//!   `--backend auto` must switch to XFRM although PF_KEY is there), read
//!   back by the kernel (`ip xfrm state`) and by `rsetkey -D` through XFRM
//!   in setkey's layout; `--backend pfkey` refuses the same script before
//!   sending anything;
//! * the tutorial's two hosts with `aes-gcm-16` ESP on the wire: pings both
//!   ways, ESP with the script's SPIs on the link and no plaintext ICMP,
//!   byte counters in `-D` — with PF_KEY loaded (auto takes XFRM for the
//!   script) and without it (where `-D` itself goes through XFRM and shows
//!   the cipher).
//!
//! The guests load the ChaCha20-Poly1305 modules besides the recorded
//! list (module auto-loading is off in the guest).

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Guest, Kernel, Work, check_wire_chain, check_wire_run, exit_of, give_up, read_text, rsetkey,
    run_guests, sh_quote, wire_command, write_file, write_private,
};
use std::path::Path;

/// Loads the modules ChaCha20-Poly1305 needs (not in the recorded list),
/// with the guest's own modprobe settings.
const LOAD_CHACHA: &str = ". \"$RSK_JOB/env\" && \"$RSK_MODPROBE\" -d \"$RSK_MODS\" -a \
     chacha_generic poly1305_generic chacha20poly1305";

/// A key of `bytes` bytes in hex, each byte `b`.
fn key(b: u8, bytes: usize) -> String {
    format!("0x{}", format!("{b:02x}").repeat(bytes))
}

/// The key as setkey's dump prints it: groups of 4 bytes, a newline
/// before every 32nd byte.
fn dumped(b: u8, bytes: usize) -> String {
    let mut s = String::new();
    for i in 0..bytes {
        if i > 0 && i % 32 == 0 {
            s.push('\n');
        }
        if i % 4 == 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One SA of the options script: SPI, the statement's options, the dump
/// lines it must give.
struct Sa {
    spi: u32,
    options: String,
    dump: Vec<String>,
    kernel: Vec<&'static str>,
}

fn options_sas() -> Vec<Sa> {
    let sa = |spi, options: String, e: &str, b: u8, n: usize, line5: &str, kernel| Sa {
        spi,
        options,
        dump: vec![
            format!("\tE: {e} {}", dumped(b, n)),
            format!("\tseq=0x00000000 {line5} state=mature "),
        ],
        kernel,
    };
    vec![
        sa(
            0x1001,
            format!("-E aes-gcm-8 {}", key(0x11, 20)),
            "aes-gcm-8",
            0x11,
            20,
            "replay=0 flags=0x00000000",
            vec!["aead rfc4106(gcm(aes)) 0x1111", " 64\n"],
        ),
        sa(
            0x1002,
            format!("-E aes-gcm-12 {}", key(0x22, 28)),
            "aes-gcm-12",
            0x22,
            28,
            "replay=0 flags=0x00000000",
            vec!["aead rfc4106(gcm(aes)) 0x2222", " 96\n"],
        ),
        sa(
            0x1003,
            format!("-f esn -r 128 -E aes-gcm-16 {}", key(0x33, 36)),
            "aes-gcm-16",
            0x33,
            36,
            "replay=128 flags=0x00000400",
            vec![
                "flag esn",
                "aead rfc4106(gcm(aes)) 0x3333",
                "replay_window 128",
            ],
        ),
        sa(
            0x1004,
            format!("-r 2048 -E chacha20-poly1305 {}", key(0x44, 36)),
            "chacha20-poly1305",
            0x44,
            36,
            "replay=2048 flags=0x00000000",
            vec![
                "aead rfc7539esp(chacha20,poly1305) 0x4444",
                "replay_window 2048",
            ],
        ),
        sa(
            0x1005,
            format!("-E aes-gmac {}", key(0x55, 20)),
            "aes-gmac",
            0x55,
            20,
            "replay=0 flags=0x00000000",
            vec!["aead rfc4543(gcm(aes)) 0x5555", " 128\n"],
        ),
    ]
}

/// Every new algorithm and option, added by plain rsetkey where PF_KEY
/// exists: `auto` switches to XFRM (and `-v` says so), the kernel holds
/// what was asked, `-D` through XFRM prints it in setkey's layout, and
/// `--backend pfkey` refuses the script before anything is sent.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn aead_esn_and_wide_windows_through_xfrm() {
    let test = "aead_esn_and_wide_windows_through_xfrm";
    let work = Work::new("aead");
    let sas = options_sas();
    let script: String = sas
        .iter()
        .map(|sa| format!("add 10.9.0.1 10.9.0.2 esp {:#x} {};\n", sa.spi, sa.options))
        .collect();
    let conf = write_private(&work.dir, "aead.conf", &format!("flush;\n{script}"));
    let out = work.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let r = sh_quote(rsetkey());
    let o = |name: &str| sh_quote(out.join(name));
    let c = sh_quote(&conf);
    let commands = format!(
        "{LOAD_CHACHA} || exit 9\n\
         {r} -v -f {c} >{} 2>{}; echo $? >{}\n\
         {r} -D --backend xfrm >{}\n\
         {r} -D --backend pfkey >{}\n\
         ip xfrm state >{}\n\
         {r} -F\n\
         {r} --backend pfkey -f {c} >{} 2>{}; echo $? >{}\n\
         {r} -D --backend xfrm >{}\n",
        o("auto.stdout"),
        o("auto.stderr"),
        o("auto.exit"),
        o("D-xfrm.txt"),
        o("D-pfkey.txt"),
        o("ip-xfrm.txt"),
        o("pfkey.stdout"),
        o("pfkey.stderr"),
        o("pfkey.exit"),
        o("after-pfkey.txt"),
    );
    let cmd = write_file(&work.dir, "guest.sh", &commands, 0o755);
    let guest = Guest {
        cpus: 1,
        what: "aead options".into(),
        kernel: Kernel::WithAfKey,
        command: vec!["bash".into(), cmd.display().to_string()],
        timeout: 120,
    };
    if let Err(e) = run_guests(&[guest]) {
        return give_up(test, e);
    }
    let text = |f: &str| read_text(&out.join(f)).unwrap_or_default();
    let mut problems = Vec::new();
    if exit_of(&out.join("auto.exit")) != Some(0) {
        problems.push(format!("the script failed:\n{}", text("auto.stderr")));
    }
    if !text("auto.stderr").contains(
        "aead.conf,2: aes-gcm-8 is a combined-mode (AEAD) cipher, which Linux's PF_KEY \
         cannot express: using XFRM netlink instead of PF_KEY",
    ) {
        problems.push(format!(
            "-v does not say XFRM was taken:\n{}",
            text("auto.stderr")
        ));
    }
    let dump = text("D-xfrm.txt");
    let kernel = text("ip-xfrm.txt");
    for sa in &sas {
        let head = format!("spi={}(0x{:08x})", sa.spi, sa.spi);
        let Some(block) = dump
            .split("10.9.0.1 10.9.0.2 \n")
            .find(|b| b.contains(&head))
        else {
            problems.push(format!("-D through XFRM lacks {head}:\n{dump}"));
            continue;
        };
        for line in &sa.dump {
            if !block.contains(&format!("{line}\n")) {
                problems.push(format!("{head}: -D lacks {line:?}:\n{block}"));
            }
        }
        let Some(state) = kernel
            .split("src 10.9.0.1 dst 10.9.0.2")
            .find(|b| b.contains(&format!("spi 0x{:08x}", sa.spi)))
        else {
            problems.push(format!("the kernel lacks SPI {:#x}:\n{kernel}", sa.spi));
            continue;
        };
        for want in &sa.kernel {
            if !state.contains(want) {
                problems.push(format!("{head}: ip xfrm state lacks {want:?}:\n{state}"));
            }
        }
    }
    // PF_KEY cannot report them: af_key shows the SAs without a cipher
    let pfkey = text("D-pfkey.txt");
    if pfkey.matches("esp mode=").count() != sas.len() || pfkey.contains("\tE: ") {
        problems.push(format!("-D through PF_KEY:\n{pfkey}"));
    }
    if exit_of(&out.join("pfkey.exit")) != Some(1)
        || !text("pfkey.stderr").contains(
            "aead.conf,2: aes-gcm-8 is a combined-mode (AEAD) cipher, which Linux's PF_KEY \
             cannot express; --backend pfkey cannot carry out this script",
        )
        || !text("pfkey.stdout").is_empty()
    {
        problems.push(format!(
            "--backend pfkey should refuse the script: exit {:?}\n{}{}",
            exit_of(&out.join("pfkey.exit")),
            text("pfkey.stdout"),
            text("pfkey.stderr")
        ));
    }
    if text("after-pfkey.txt") != "No SAD entries.\n" {
        problems.push(format!(
            "--backend pfkey sent something:\n{}",
            text("after-pfkey.txt")
        ));
    }
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The tutorial's host configuration with `aes-gcm-16` ESP in transport
/// mode, for host `.2` (`a`) or `.3`.
fn gcm_tutorial(host_a: bool) -> String {
    let (me, peer) = if host_a {
        ("10.141.176.2", "10.141.176.3")
    } else {
        ("10.141.176.3", "10.141.176.2")
    };
    format!(
        "# the tutorial's two hosts with AES-GCM (RFC 4106, 16-byte ICV) ESP\n\
         flush;\n\
         spdflush;\n\
         add 10.141.176.2 10.141.176.3 esp 0x3d56 -E aes-gcm-16 {};\n\
         add 10.141.176.3 10.141.176.2 esp 0x5fb6 -E aes-gcm-16 {};\n\
         spdadd {me} {peer} any -P out ipsec esp/transport//require;\n\
         spdadd {peer} {me} any -P in ipsec esp/transport//require;\n",
        key(0x61, 20),
        key(0x62, 36),
    )
}

/// Every packet between the hosts is ESP alone with the GCM tutorial's
/// SPIs (0x3d56 from .2 to .3, 0x5fb6 back).
fn check_esp_wire(tcpdump: &str) -> Vec<String> {
    check_wire_chain(tcpdump, &["ESP(spi=0x00003d56,"], &["ESP(spi=0x00005fb6,"])
}

/// What `tutorial-wire` left in `wire`, for the GCM tutorial.
fn check_gcm_wire(wire: &Path, cipher_in_dump: bool) -> Vec<String> {
    let text = |f: &str| read_text(&wire.join(f)).unwrap_or_default();
    eprintln!(
        "{}",
        ["host-a.stderr", "tcpdump.txt", "a-D.txt"]
            .map(|f| format!("--- {f}\n{}", text(f)))
            .join("\n")
    );
    let mut problems = check_wire_run(wire, 2, check_esp_wire);
    if cipher_in_dump {
        for h in ["a", "b"] {
            let dump = text(&format!("{h}-D.txt"));
            if dump.matches("\tE: aes-gcm-16  ").count() != 2 {
                problems.push(format!(
                    "host {h}: -D should name aes-gcm-16 twice:\n{dump}"
                ));
            }
        }
    }
    problems
}

/// The tutorial's two hosts with `aes-gcm-16` ESP: plain `#!rsetkey -f`
/// scripts; with PF_KEY loaded `auto` takes XFRM for them, without it
/// XFRM is all there is (and `-D` names the cipher). Pings go both ways,
/// only ESP is on the wire.
#[test]
#[cfg_attr(
    skip_kernel_tests,
    ignore = "RSETKEY_SKIP_KERNEL_TESTS=1: no test kernel on purpose"
)]
fn gcm_tutorial_on_the_wire() {
    let test = "gcm_tutorial_on_the_wire";
    let work = Work::new("aead-wire");
    let case = work.dir.join("case");
    std::fs::create_dir_all(&case).unwrap();
    write_private(&case, "script.conf", &gcm_tutorial(true));
    write_private(&case, "peer.conf", &gcm_tutorial(false));
    write_file(
        &case,
        "traffic",
        "local=10.141.176.2/24\npeer=10.141.176.3/24\ncount=3\n",
        0o644,
    );
    let wire = |kernel: &str| work.dir.join(format!("wire-{kernel}"));
    let guest = |what: &str, kernel, dir: &Path| Guest {
        cpus: 1,
        what: what.into(),
        kernel,
        command: wire_command(&rsetkey(), dir, &case),
        timeout: 300,
    };
    let guests = [
        guest("gcm wire, af_key", Kernel::WithAfKey, &wire("pfkey")),
        guest("gcm wire, no af_key", Kernel::WithoutAfKey, &wire("xfrm")),
    ];
    if let Err(e) = run_guests(&guests) {
        return give_up(test, e);
    }
    let mut problems = check_gcm_wire(&wire("pfkey"), false);
    problems.extend(check_gcm_wire(&wire("xfrm"), true));
    assert!(
        problems.is_empty(),
        "{test}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
