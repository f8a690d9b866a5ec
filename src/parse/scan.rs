//! What can be told of a script file before it is parsed.

use zeroize::Zeroizing;

/// Whether the script in `file` may name an algorithm: `false` only when
/// its bytes hold neither `-E` nor `-A`, the flags every algorithm of a
/// statement follows (the only place a statement consults the kernel's
/// list of algorithms, for key lengths). A `-E` in a comment counts too:
/// the answer may say yes for nothing, never no for something. Reads the
/// file from its start without moving its offset (the parser reads it
/// next), through a wiped buffer.
pub fn names_algorithms(file: &std::fs::File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut chunk = Zeroizing::new(vec![0u8; super::input::CHUNK + 1]);
    // One byte of the last chunk is kept: a flag may straddle two reads.
    let (mut offset, mut kept) = (0u64, 0usize);
    loop {
        let Some(room) = chunk.get_mut(kept..) else {
            return Ok(true);
        };
        let n = match file.read_at(room, offset) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(false);
        }
        offset += n as u64;
        let seen = chunk.get(..kept + n).unwrap_or_default();
        if memchr::memmem::find(seen, b"-E").is_some()
            || memchr::memmem::find(seen, b"-A").is_some()
        {
            return Ok(true);
        }
        let last = seen.last().copied().unwrap_or_default();
        if let Some(first) = chunk.first_mut() {
            *first = last;
        }
        kept = 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use super::*;
    use crate::ir::SupportedAlgorithms;
    use crate::parse::{Options, parse_script};

    fn scan(text: &[u8]) -> bool {
        let path = std::env::temp_dir().join(format!(
            "rsetkey-scan-{}-{}.conf",
            std::process::id(),
            text.len()
        ));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text)
            .unwrap();
        let answer = names_algorithms(&std::fs::File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        answer
    }

    #[test]
    fn flags_are_found_anywhere_even_across_reads() {
        let chunk = super::super::input::CHUNK;
        assert!(!scan(b"spdadd 10.0.0.1 10.0.0.2 any -P out none;\n"));
        assert!(!scan(b""));
        assert!(scan(b"add 1.1.1.1 2.2.2.2 esp 1 -E null;"));
        assert!(scan(b"# -A in a comment counts\n"));
        for at in [chunk - 3, chunk - 2, chunk - 1, chunk, 2 * chunk - 1] {
            for flag in [b"-E", b"-A"] {
                let mut text = vec![b' '; at];
                text.extend_from_slice(flag);
                text.extend_from_slice(b" x;\n");
                assert!(scan(&text), "{} at {at}", flag[1] as char);
            }
        }
        // A dash at a read's end and a letter that is no flag after it.
        let mut text = vec![b' '; chunk - 1];
        text.extend_from_slice(b"-P out none;");
        assert!(!scan(&text));
    }

    /// The claim the skipped probes rest on: without `-E` and `-A` a
    /// script parses the same whatever the kernel offers.
    #[test]
    fn scripts_without_the_flags_do_not_depend_on_the_kernels_algorithms() {
        let offers_all = Options::default();
        let offers_nothing = Options {
            supported: SupportedAlgorithms::default(),
            ..Options::default()
        };
        let mut checked = 0;
        let mut named = 0;
        let dirs = ["fixtures/cases", "grammar/examples"];
        for dir in dirs
            .iter()
            .map(|d| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(d))
        {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let path = if path.is_dir() {
                    path.join("script.conf")
                } else {
                    path
                };
                let Ok(text) = std::fs::read(&path) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&text);
                let all = parse_script(&text, &offers_all).map_err(|e| e.to_string());
                let nothing = parse_script(&text, &offers_nothing).map_err(|e| e.to_string());
                if names_algorithms(&std::fs::File::open(&path).unwrap()).unwrap() {
                    named += usize::from(all != nothing);
                } else {
                    assert_eq!(all, nothing, "{}", path.display());
                    checked += 1;
                }
            }
        }
        // Both kinds are there: the claim is tested, and the list matters
        // to scripts that name algorithms.
        assert!(checked >= 10, "{checked}");
        assert!(named >= 10, "{named}");
    }
}
