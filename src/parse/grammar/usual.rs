//! The statements large scripts are made of, read straight from their
//! bytes, on one line and with numeric addresses:
//! `spdadd SRC[/N] DST[/N] UPPER -P POLICY;` (and `spdupdate`,
//! `spddelete`), and `add SRC DST esp|ah SPI -E ALG 0xKEY -A ALG 0xKEY;`
//! (either algorithm alone too).
//!
//! A script of tens of thousands of statements spends most of its parse
//! building tokens and walking them with the grammar; this reads such a
//! statement in one pass and lowers it with the grammar's own steps (the
//! same name service, policy reader, algorithm table, key checks and
//! operations). It takes a statement only where the lexer would cut
//! exactly the tokens it reads and the grammar would accept them: anything
//! else (ports, `-4`, a protocol name, extensions, a quoted key, a
//! comment, a line break inside, an error) gives `None`, and the lexer and
//! the grammar read the statement as always, with their messages. It is a
//! shortcut, never a second opinion: a unit test compares the two on many
//! texts.

use super::sa::{hex_key, sa_operations};
use super::spd::{Selector, policy_operations};
use super::{Grammar, SaCmd, SaParams, SpdCmd, decimal, hexadecimal, set_old};
use crate::algorithms::Form;
use crate::ir::{self, Key, Operations, Policy, SaType, Statement, UPPER_ANY};
use crate::parse::lexer::{self, Checkpoint, State, TokKind};
use crate::parse::policy::parse_policy_at;
use crate::parse::resolve::{Family, NameService};

/// A statement read by [`Grammar::usual_statement`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Usual {
    pub statement: Statement,
    /// Where the text after its `;` starts.
    pub end: usize,
    /// The lexer after the `;`.
    pub after: Checkpoint,
}

/// The policy texts read last and what they read as: a script's policies
/// repeat a handful of texts (`out ipsec esp/transport//require` and its
/// `in` twin) statement after statement, and a text is compared in a
/// fraction of the time it takes to read it.
#[derive(Default)]
pub(crate) struct PolicyMemo {
    entries: [Option<(Box<str>, Policy)>; POLICY_MEMO],
    /// The entry the next new text replaces.
    next: usize,
}

/// How many texts [`PolicyMemo`] remembers.
const POLICY_MEMO: usize = 4;

impl PolicyMemo {
    /// The policy `text` reads as ([`parse_policy_at`]); `None` for a text
    /// it refuses.
    fn parse(&mut self, text: &str, names: &dyn NameService) -> Option<Policy> {
        if let Some((_, policy)) = self.entries.iter().flatten().find(|(t, _)| **t == *text) {
            return Some(policy.clone());
        }
        let policy = parse_policy_at(text, names).ok()?;
        if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = Some((text.into(), policy.clone()));
        }
        self.next = (self.next + 1) % POLICY_MEMO;
        Some(policy)
    }
}

impl Grammar<'_> {
    /// The statement at byte `start` of the source, with the lexer at
    /// `at`, if it is a usual `spdadd` or `add` (see the module
    /// documentation) that ends in the source.
    pub(crate) fn usual_statement(
        &self,
        start: usize,
        at: Checkpoint,
        policies: &mut PolicyMemo,
    ) -> Option<Usual> {
        if at.state != State::Initial {
            return None;
        }
        let mut r = Bytes {
            text: self.source,
            at: start,
        };
        // Blanks and line ends may come before the statement (counted as
        // the lexer counts them); a comment is left to the lexer.
        let mut line = at.line;
        loop {
            match r.bytes().get(r.at)? {
                b' ' | b'\t' => {}
                b'\n' => line = line.saturating_add(1),
                _ => break,
            }
            r.at += 1;
        }
        let first = r.at;
        let command = r.word()?;
        r.blanks()?;
        let operations = match command {
            b"spdadd" => self.usual_policy(&mut r, SpdCmd::Add, policies)?,
            b"spdupdate" => self.usual_policy(&mut r, SpdCmd::Update, policies)?,
            b"spddelete" => self.usual_policy(&mut r, SpdCmd::Delete, policies)?,
            b"add" => self.usual_add(&mut r)?,
            _ => return None,
        };
        Some(Usual {
            statement: Statement {
                location: ir::Location {
                    line,
                    offset: first,
                    len: r.at - first,
                },
                warnings: Vec::new(),
                operations,
            },
            end: r.at,
            after: Checkpoint {
                line,
                state: State::Initial,
            },
        })
    }

    /// The rest of a policy statement after its blanks, up to and
    /// including its `;`: numeric addresses with their prefixes, `any` or
    /// a number for the upper layer, and the policy text on this line.
    fn usual_policy(
        &self,
        r: &mut Bytes<'_>,
        cmd: SpdCmd,
        policies: &mut PolicyMemo,
    ) -> Option<Operations> {
        let (src, sprefix) = r.selector_address()?;
        r.blanks()?;
        let (dst, dprefix) = r.selector_address()?;
        r.blanks()?;
        let upper = match r.word()? {
            b"any" => UPPER_ANY,
            digits => u8::try_from(decimal(digits)?).ok()?,
        };
        r.blanks()?;
        if r.bytes().get(r.at..r.at + 2)? != b"-P" {
            return None;
        }
        r.at += 2;
        // The policy text runs from the blank after `-P` (a blank starts
        // it, so no other rule can) to the `;`, on this line.
        if !matches!(r.bytes().get(r.at)?, b' ' | b'\t') {
            return None;
        }
        let text_start = r.at;
        r.at += lexer::policy_text_len(r.bytes().get(r.at..)?);
        let text = r.text.get(text_start..r.at)?;
        if memchr::memchr(b'\n', text.as_bytes()).is_some() || !r.semicolon() {
            return None;
        }
        let policy = policies.parse(text, self.names)?;
        // No port is the service "0" (any), as the grammar resolves it.
        let srcs = self
            .names
            .resolve(src, Some("0"), Family::Any, false)
            .ok()?;
        let dsts = self
            .names
            .resolve(dst, Some("0"), Family::Any, false)
            .ok()?;
        if srcs.len() != 1 || dsts.len() != 1 {
            return None;
        }
        let selector = Selector {
            srcs: &srcs,
            dsts: &dsts,
            prefixes: (sprefix, dprefix),
            upper,
        };
        let operations = policy_operations(self.options, cmd, selector, policy, None);
        (!operations.is_empty()).then_some(operations)
    }

    /// The rest of an `add` after its blanks, up to and including its `;`:
    /// numeric addresses, `esp` or `ah`, the SPI, then `-E` with a keyed
    /// cipher, `-A` with a keyed integrity algorithm, or both, keys in hex.
    fn usual_add(&self, r: &mut Bytes<'_>) -> Option<Operations> {
        let src = r.sa_address()?;
        r.blanks()?;
        let dst = r.sa_address()?;
        r.blanks()?;
        let satype = match r.word()? {
            b"esp" => SaType::Esp,
            b"ah" => SaType::Ah,
            _ => return None,
        };
        let mut p = SaParams {
            satype,
            ..SaParams::default()
        };
        set_old(&mut p, false);
        r.blanks()?;
        p.spi = u32::try_from(r.spi()?).ok()?;
        r.blanks()?;
        let mut flag = r.flag()?;
        if flag == b'E' {
            let TokKind::EncAlg(alg, Form::Keyed) = lexer::enc_name(r.word()?)? else {
                return None;
            };
            let row = alg.row();
            if row.aead.is_some() || row.rsetkey_only() && !self.options.extensions {
                return None;
            }
            r.blanks()?;
            let key = self.usual_key(r, self.options.supported.encrypt_bits(alg))?;
            p.transforms.encrypt = Some((alg, key));
            r.skip_blanks();
            if r.semicolon() {
                return self.usual_sa_operations(p, src, dst);
            }
            flag = r.flag()?;
        }
        if flag != b'A' {
            return None;
        }
        let TokKind::AuthAlg(alg, false) = lexer::auth_name(r.word()?)? else {
            return None;
        };
        r.blanks()?;
        let key = self.usual_key(r, self.options.supported.auth_bits(alg))?;
        p.transforms.auth = Some((alg, Some(key)));
        r.skip_blanks();
        if !r.semicolon() {
            return None;
        }
        self.usual_sa_operations(p, src, dst)
    }

    /// A hex key (the lexer's hex number: `0x`, digits, and no word
    /// character after them) of a length the kernel takes for `range`.
    fn usual_key(&self, r: &mut Bytes<'_>, range: Option<(u16, u16)>) -> Option<Key> {
        let digits = match r.bytes().get(r.at..)? {
            [b'0', b'x' | b'X', digits @ ..] => digits,
            _ => return None,
        };
        let len = lexer::hex_len(digits);
        if len == 0 || digits.get(len).is_some_and(|&b| lexer::is_word_byte(b)) {
            return None;
        }
        let key = hex_key(digits.get(..len)?);
        r.at += 2 + len;
        let bits = key.bits();
        range
            .is_some_and(|(min, max)| (usize::from(min)..=usize::from(max)).contains(&bits))
            .then_some(key)
    }

    /// The SA of an `add` read by [`Grammar::usual_add`], its addresses
    /// resolved as the grammar resolves them (no port).
    fn usual_sa_operations(&self, mut p: SaParams, src: &str, dst: &str) -> Option<Operations> {
        let srcs = self.names.resolve(src, None, Family::Any, false).ok()?;
        let dsts = self.names.resolve(dst, None, Family::Any, false).ok()?;
        let operations = sa_operations(SaCmd::Add, &mut p, &srcs, &dsts);
        (!operations.is_empty()).then_some(operations)
    }
}

/// A position in the statement's text.
struct Bytes<'s> {
    text: &'s str,
    at: usize,
}

impl<'s> Bytes<'s> {
    fn bytes(&self) -> &'s [u8] {
        self.text.as_bytes()
    }

    /// The STRING run here, as the lexer cuts it; `None` if none starts.
    fn word(&mut self) -> Option<&'s [u8]> {
        let start = self.at;
        self.at += lexer::word_len(self.bytes().get(start..)?);
        self.bytes().get(start..self.at).filter(|w| !w.is_empty())
    }

    /// One blank or more (a word must end at one).
    fn blanks(&mut self) -> Option<()> {
        let start = self.at;
        self.skip_blanks();
        (self.at > start).then_some(())
    }

    /// Blanks, if any.
    fn skip_blanks(&mut self) {
        while matches!(self.bytes().get(self.at), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// A numeric address (a dotted quad, or an IPv6 address of hex
    /// digits and colons), then `/N` if written. Only such words are
    /// strings to the lexer whatever their letters (no keyword or number
    /// has a `.` or a `:`), and resolving them asks no name service.
    fn selector_address(&mut self) -> Option<(&'s str, Option<u8>)> {
        // One pass over the word: the lexer's STRING run, which must hold
        // only these bytes (classes looked up, one branch per byte).
        let start = self.at;
        let mut seen = 0;
        while let Some(&b) = self.bytes().get(self.at) {
            let class = ADDRESS_BYTES[usize::from(b)];
            if class & END != 0 {
                break;
            }
            seen |= class;
            self.at += 1;
        }
        let numeric = match seen & !DIGIT {
            _ if seen & OTHER != 0 => false,
            DOT => true,
            s => s & COLON != 0,
        };
        // A `.` cannot start a STRING run.
        if !numeric || self.bytes().get(start) == Some(&b'.') {
            return None;
        }
        let address = self.text.get(start..self.at)?;
        if self.bytes().get(self.at) != Some(&b'/') {
            return Some((address, None));
        }
        self.at += 1;
        // A blank must follow (checked by the caller): `24,` is a string.
        let prefix = u8::try_from(decimal(self.word()?)?).ok()?;
        Some((address, Some(prefix)))
    }

    /// A numeric address without a prefix (an SA's).
    fn sa_address(&mut self) -> Option<&'s str> {
        match self.selector_address()? {
            (address, None) => Some(address),
            _ => None,
        }
    }

    /// An SPI: a decimal number, or `0x` and hex digits, as the grammar
    /// reads either (`None` past 64 bits). The whole word: its run ends at
    /// a blank, so no `,` makes it a string.
    fn spi(&mut self) -> Option<u64> {
        match self.word()? {
            [b'0', b'x' | b'X', digits @ ..] if !digits.is_empty() => hexadecimal(digits),
            digits => decimal(digits),
        }
    }

    /// `-E` or `-A` and one blank or more: the flag's letter.
    fn flag(&mut self) -> Option<u8> {
        let (b'-', letter @ (b'E' | b'A')) =
            (*self.bytes().get(self.at)?, *self.bytes().get(self.at + 1)?)
        else {
            return None;
        };
        self.at += 2;
        self.blanks()?;
        Some(letter)
    }

    /// The `;` that ends the statement, taken if it is here.
    fn semicolon(&mut self) -> bool {
        let here = self.bytes().get(self.at) == Some(&b';');
        if here {
            self.at += 1;
        }
        here
    }
}

/// What [`Bytes::selector_address`] sees in a byte, one bit each: a
/// numeric address is digits and dots, or hex digits, colons and dots.
const DIGIT: u8 = 1 << 0;
const DOT: u8 = 1 << 1;
const COLON: u8 = 1 << 2;
const HEX_LETTER: u8 = 1 << 3;
/// Any other byte of a STRING run: not a numeric address.
const OTHER: u8 = 1 << 4;
/// A byte that ends the STRING run.
const END: u8 = 1 << 5;

/// The class of every byte for [`Bytes::selector_address`].
static ADDRESS_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => DIGIT,
            b'.' => DOT,
            b':' => COLON,
            b'a'..=b'f' | b'A'..=b'F' => HEX_LETTER,
            _ if c.is_ascii_alphanumeric() || c == b'%' || c == b'-' => OTHER,
            _ => END,
        };
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::parse::Options;
    use crate::parse::grammar::Toks;
    use crate::parse::lexer::{Lexer, TokKind};
    use crate::parse::resolve::FileNames;

    /// What the lexer and the grammar make of the statement at the start
    /// of `text`: the statement, where its text ends and the lexer after
    /// it (`None` for anything but a statement).
    fn by_the_grammar(text: &str, options: &Options, names: &dyn NameService) -> Option<Usual> {
        let mut tokens = Vec::new();
        let mut lexer = Lexer::resume(text, 0, Checkpoint::default());
        lexer.statement(&mut tokens);
        let after = lexer.checkpoint();
        if tokens.last()?.kind != TokKind::Eot {
            return None;
        }
        let grammar = Grammar {
            options,
            names,
            source: text,
        };
        let (_, statement) = grammar.statement(Toks::new(&tokens)).ok()?;
        Some(Usual {
            statement: statement?,
            end: tokens.last()?.end,
            after,
        })
    }

    fn usual(text: &str, options: &Options, names: &dyn NameService) -> Option<Usual> {
        usual_remembering(text, options, names, &mut PolicyMemo::default())
    }

    /// [`usual`] with the policy texts of earlier statements remembered.
    fn usual_remembering(
        text: &str,
        options: &Options,
        names: &dyn NameService,
        memo: &mut PolicyMemo,
    ) -> Option<Usual> {
        let grammar = Grammar {
            options,
            names,
            source: text,
        };
        grammar.usual_statement(0, Checkpoint::default(), memo)
    }

    /// Whether the shortcut took the statement at the start of `text`
    /// (1) or left it (0); if it took it, the grammar must read the same.
    fn compare(
        text: &str,
        options: &Options,
        names: &dyn NameService,
        memo: &mut PolicyMemo,
    ) -> usize {
        let Some(fast) = usual_remembering(text, options, names, memo) else {
            return 0;
        };
        assert_eq!(
            Some(&fast),
            by_the_grammar(text, options, names).as_ref(),
            "{text:?}"
        );
        1
    }

    /// A small deterministic generator (xorshift).
    struct Pick(u64);

    impl Pick {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 as usize
        }

        /// One of the forms the shortcut takes nine times in ten, else
        /// one of the others.
        fn one<'a, const A: usize, const B: usize>(
            &mut self,
            (taken, others): &([&'a str; A], [&'a str; B]),
        ) -> &'a str {
            let from: &[&str] = if self.next().is_multiple_of(10) {
                others
            } else {
                taken
            };
            from[self.next() % from.len()]
        }
    }

    #[test]
    fn the_shortcut_reads_what_the_grammar_reads_or_nothing() {
        let names = FileNames::default();
        // Each part: the forms the shortcut takes, then others.
        let lead = (["", "\n", "\n\n  ", " \t"], ["#c\n", ";"]);
        let cmd = (
            ["spdadd", "spdupdate", "spddelete"],
            [
                "spdadd -4",
                "spdadd tagged \"t\"",
                "add",
                "spdaddx",
                "spd add",
            ],
        );
        let addr = (
            [
                "10.0.0.1",
                "10.0.0.0/24",
                "10.0.0.0/0",
                "10.0.0.0/33",
                "10.0.0.0/255",
                "10.0.0.0/024",
                "010.0.0.1",
                "::1",
                "fe80::1/64",
                "2001:db8::1/128",
                "::ffff:1.2.3.4",
            ],
            [
                "10.0.0.0/256",
                "10.0.0.0/",
                "1.2.3",
                "1.2.3.4.5",
                "256.1.1.1",
                "ab::cd::1",
                "10.0.0.1[80]",
                "10.0.0.1/8[any]",
                "10.0.0.1,2",
                "10.0.0.0/24,5",
                "any",
                "12",
                "1.2.3.4%lo",
                ".1.2.3.4",
                ".",
                ":",
                "1.2.3.4_",
            ],
        );
        let gap = ([" ", "\t", "  "], [" \n ", "", "#\n"]);
        let upper = (
            ["any", "6", "255", "0", "058"],
            ["256", "tcp", "icmp", "1,2", "0x6", "any,"],
        );
        let policy = (
            [
                "out ipsec esp/transport//require",
                "in ipsec esp/transport//require",
                "in ipsec esp/transport//unique",
                "out ipsec ah/transport//require esp/transport//require",
                "out discard",
                "fwd none",
                "out",
                "out bypass ",
                "in prio 5 ipsec esp/transport//require",
                "out ipsec esp/tunnel/1.2.3.4-5.6.7.8/require",
                "out ipsec esp/transport//unique:5",
            ],
            [
                "out ipsec esp/transport/1.2.3.4-5.6.7.8/require",
                "out ipsec esp/tunnel//require",
                "out\n ipsec esp/transport//require",
                "bogus",
                "",
                "-P out",
            ],
        );
        let after_p = ([" ", "\t", "  "], ["", "\n"]);
        let end = ([";", " ;", ";\n"], ["#x\n;", "", ",;"]);
        let mut pick = Pick(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut checked) = (0, 0);
        // Remembered from statement to statement, as a reader does: texts
        // recur, some read, some remembered.
        let mut memo = PolicyMemo::default();
        for rfc_mode in [false, true] {
            let options = Options {
                rfc_mode,
                ..Options::default()
            };
            for _ in 0..50_000 {
                let text = format!(
                    "{}{}{}{}{}{}{}{}{}-P{}{}{}",
                    pick.one(&lead),
                    pick.one(&cmd),
                    pick.one(&gap),
                    pick.one(&addr),
                    pick.one(&gap),
                    pick.one(&addr),
                    pick.one(&gap),
                    pick.one(&upper),
                    pick.one(&gap),
                    pick.one(&after_p),
                    pick.one(&policy),
                    pick.one(&end),
                ) + "\nspdflush;";
                checked += 1;
                taken += compare(&text, &options, &names, &mut memo);
            }
        }
        // The usual shapes are taken: the comparison above is not empty.
        assert!(taken > checked / 10, "{taken} of {checked}");
    }

    /// `0x` and hex digits for a key of `bits` bits.
    fn hex_key(bits: usize, seed: usize) -> String {
        let digits: String = (0..bits / 4)
            .map(|i| char::from(b"0123456789abcdefABCDEF"[(i * 7 + seed) % 22]))
            .collect();
        format!("0x{digits}")
    }

    #[test]
    fn the_shortcut_reads_adds_as_the_grammar_reads_them_or_nothing() {
        let names = FileNames::default();
        let lead = (["", "\n", " \t"], ["#c\n", "; "]);
        let cmd = (["add"], ["add -4", "get", "delete", "addx", "getspi"]);
        let addr = (
            [
                "10.0.0.1",
                "192.168.1.20",
                "10.1.2.3",
                "172.16.0.9",
                "010.0.0.1",
                "::1",
            ],
            [
                "10.0.0.0/24",
                "10.0.0.1[500]",
                "1.2.3",
                "any",
                "10.0.0.1,2",
                "ab::cd::1",
            ],
        );
        let gap = ([" ", "\t", "  "], ["", " \n ", "#\n"]);
        let proto = (
            ["esp", "ah"],
            ["esp-old", "ah-old", "esp-udp", "ipcomp", "tcp", "", "esp1"],
        );
        let spi = (
            ["256", "0x100", "0X1ff", "4294967295", "00256", "0xFFFFFFFF"],
            [
                "4294967296",
                "0x",
                "0x1g",
                "18446744073709551616",
                "0x10000000000000000",
                "1,2",
            ],
        );
        let ext = (
            ["", "", ""],
            ["-m transport ", "-u 5 ", "-r 4 ", "-f random-pad "],
        );
        let enc = (
            [
                "aes-cbc 128",
                "aes-cbc 256",
                "3des-cbc 192",
                "des-cbc 64",
                "rijndael-cbc 192",
                "blowfish-cbc 128",
                "twofish-cbc 256",
                "aes-ctr 160",
                "camellia-cbc 128",
                "cast128-cbc 128",
            ],
            [
                "aes-cbc 100",
                "aes-cbc 0",
                "null 0",
                "simple 0",
                "des-deriv 64",
                "des-32iv 64",
                "aes-gcm-16 160",
                "chacha20-poly1305 288",
                "bogus 128",
                "AES-CBC 128",
            ],
        );
        let auth = (
            [
                "hmac-sha256 256",
                "hmac-sha1 160",
                "hmac-md5 128",
                "hmac-sha512 512",
                "hmac-sha384 384",
                "aes-xcbc-mac 128",
                "hmac-ripemd160 160",
                "keyed-md5 128",
            ],
            [
                "hmac-sha256 100",
                "null 0",
                "tcp-md5 128",
                "bogus 160",
                "hmac-sha256 0",
            ],
        );
        let key_form = (["", "", ""], ["0X", "odd", "quoted", "comma"]);
        let algs = (["E", "A", "EA"], ["AE", "", "EE"]);
        let end = ([";", " ;", ";\n"], ["#x\n;", "", ",;", " -A"]);
        let mut pick = Pick(0x2545_f491_4f6c_dd1d);
        let key = |pick: &mut Pick, spec: &str| -> String {
            let (name, bits) = spec.split_once(' ').unwrap();
            let bits: usize = bits.parse().unwrap();
            let k = match pick.one(&key_form) {
                "0X" => hex_key(bits, pick.next()).replacen("0x", "0X", 1),
                "odd" => hex_key(bits + 4, pick.next()),
                "quoted" => "\"0123456789abcdef\"".to_string(),
                "comma" => hex_key(bits, pick.next()) + ",",
                _ => hex_key(bits, pick.next()),
            };
            if bits == 0 {
                name.to_string()
            } else {
                format!("{name} {k}")
            }
        };
        let mut restricted = crate::ir::SupportedAlgorithms::linux_default();
        restricted
            .encrypt
            .retain(|e| e.0 != crate::ir::EncryptAlgorithm::AesCbc);
        restricted
            .auth
            .retain(|a| a.0 != crate::ir::AuthAlgorithm::HmacSha1);
        let (mut taken, mut checked) = (0, 0);
        for options in [
            Options::default(),
            Options {
                extensions: true,
                ..Options::default()
            },
            Options {
                supported: restricted,
                ..Options::default()
            },
        ] {
            for _ in 0..50_000 {
                let mut text = [
                    pick.one(&lead),
                    pick.one(&cmd),
                    pick.one(&gap),
                    pick.one(&addr),
                    pick.one(&gap),
                    pick.one(&addr),
                    pick.one(&gap),
                    pick.one(&proto),
                    pick.one(&gap),
                    pick.one(&spi),
                    pick.one(&gap),
                    pick.one(&ext),
                ]
                .concat();
                for flag in pick.one(&algs).chars() {
                    let spec = if flag == 'E' {
                        pick.one(&enc)
                    } else {
                        pick.one(&auth)
                    };
                    text += &format!(
                        "-{flag}{}{}{}",
                        pick.one(&gap),
                        key(&mut pick, spec),
                        pick.one(&gap)
                    );
                }
                text += pick.one(&end);
                text += "\nspdflush;";
                checked += 1;
                taken += compare(&text, &options, &names, &mut PolicyMemo::default());
            }
        }
        assert!(taken > checked / 40, "{taken} of {checked}");
    }

    /// A STRING run ends where the address reader's does.
    #[test]
    fn address_bytes_end_where_the_lexer_ends_a_word() {
        for b in 0..=255u8 {
            let ends = ADDRESS_BYTES[usize::from(b)] & END != 0;
            assert_eq!(ends, !lexer::is_word_byte(b), "{b:#04x}");
        }
    }

    /// The numbers of both readers: digits only, `None` past 64 bits.
    #[test]
    fn numbers_are_digits_within_64_bits() {
        assert_eq!(decimal(b"00024"), Some(24));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal(b"18446744073709551616"), None);
        assert_eq!(decimal(b"1a"), None);
        assert_eq!(hexadecimal(b"00fF"), Some(255));
        assert_eq!(hexadecimal(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(hexadecimal(b"10000000000000000"), None);
        assert_eq!(hexadecimal(b"1g"), None);
    }

    #[test]
    fn a_script_of_usual_policies_is_taken_whole() {
        let names = FileNames::default();
        let options = Options::default();
        for text in [
            "spdadd 10.0.0.1 11.0.0.1 any -P out ipsec esp/transport//require;",
            "\n\nspdadd 10.0.0.0/24 11.0.0.0/16 6 -P in ipsec ah/transport//require esp/transport//use ;",
            "spdupdate fe80::1/64 ::1 any -P out discard;",
            "  spddelete 10.0.0.1 11.0.0.1 255 -P\tfwd none;",
        ] {
            let fast = usual(text, &options, &names).expect(text);
            assert_eq!(Some(fast), by_the_grammar(text, &options, &names), "{text}");
        }
    }

    #[test]
    fn line_ends_before_the_statement_move_its_line() {
        let names = FileNames::default();
        let options = Options::default();
        let text = "\n\n\nspdadd 10.0.0.1 11.0.0.1 any -P out discard;\n";
        let fast = usual(text, &options, &names).unwrap();
        assert_eq!(fast.statement.location.line, 4);
        assert_eq!(fast.statement.location.offset, 3);
        assert_eq!(fast.end, text.len() - 1);
    }
}
