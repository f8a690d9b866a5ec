//! Parser throughput: `parse_script_with` over generated scripts.
//!
//! The scripts look like what a large manually keyed deployment feeds
//! setkey: ESP SAs with AES-CBC + HMAC-SHA256 keys in tunnel mode, AH SAs,
//! policies with tunnel requests (some written over several lines, some
//! `in` policies that also get their `fwd` twin), port and upper-layer
//! selectors, and comments. Names resolve through `fixtures/etc`, so no
//! system lookup is timed. See `benches/README.md`.

// Tests stop at the first surprise: unwrap and expect are their asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rsetkey::parse::{FileNames, Options, parse_script_with};
use std::hint::black_box;
use std::path::Path;

/// Deterministic pseudo-random hex digits for keys (xorshift64).
struct Digits(u64);

impl Digits {
    fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                char::from(HEX[(self.0 & 15) as usize])
            })
            .collect()
    }
}

/// A script of `statements` statements (comments not counted).
fn script(statements: usize) -> String {
    let mut d = Digits(0x2545_F491_4F6C_DD1D);
    let mut out = String::with_capacity(statements * 170);
    out.push_str("#!/sbin/setkey -f\n# generated for benches/parse.rs\nflush;\nspdflush;\n");
    for i in 2..statements {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        let spi = 0x1000 + i;
        if i % 10 == 0 {
            out.push_str(&format!("\n# tunnel {i}: site {a}.{b}\n"));
        }
        match i % 10 {
            0..=3 => out.push_str(&format!(
                "add 192.0.{a}.{b} 198.51.{a}.{b} esp 0x{spi:x} -m tunnel -u {i}\n\
                 \t-E aes-cbc 0x{}\n\t-A hmac-sha256 0x{};\n",
                d.hex(32),
                d.hex(64)
            )),
            4 => out.push_str(&format!(
                "add 192.0.{a}.{b} 198.51.{a}.{b} ah {spi} -A hmac-sha1 \"{}\";\n",
                d.hex(20)
            )),
            5..=6 => out.push_str(&format!(
                "spdadd 10.{a}.{b}.0/24[any] 10.200.{b}.0/24[any] any -P out prio def + 10 ipsec\n\
                 \tesp/tunnel/192.0.{a}.{b}-198.51.{a}.{b}/unique:{i};\n"
            )),
            7 => out.push_str(&format!(
                "spdadd 10.200.{b}.0/24 10.{a}.{b}.0/24 any -P in ipsec \
                 esp/tunnel/198.51.{a}.{b}-192.0.{a}.{b}/require;\n"
            )),
            8 => out.push_str(&format!(
                "spdadd -4n 10.{a}.{b}.1[500] 10.{a}.{b}.2[isakmp] udp -P out prio high none;\n"
            )),
            _ => out.push_str(&format!(
                "spdadd 2001:db8:{a:x}::{b:x} 2001:db8:ffff::/64 icmp6 135,0 -P out discard;\n"
            )),
        }
    }
    out
}

fn names() -> FileNames {
    FileNames::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/etc"))
        .expect("fixtures/etc is readable")
}

fn bench_parse(c: &mut Criterion) {
    let names = names();
    let options = Options::default();
    let mut group = c.benchmark_group("parse_script");
    // Flat sampling (the same iteration count in every sample) keeps the
    // 100 000-statement run near the requested measurement time; linear
    // sampling would need 55 parses for 10 samples.
    group.sampling_mode(SamplingMode::Flat);
    for (statements, samples) in [(4_000usize, 30usize), (100_000, 10)] {
        let text = script(statements);
        // The script must parse: timing error paths would be meaningless.
        let parsed = parse_script_with(&text, &options, &names).expect("generated script parses");
        assert_eq!(parsed.len(), statements);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(samples);
        group.bench_function(format!("{statements}_statements"), |b| {
            // The statements are dropped inside the timed loop, as the CLI
            // drops them after running; only the count leaves it.
            b.iter(|| {
                parse_script_with(black_box(&text), &options, &names)
                    .map(|st| st.len())
                    .ok()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
