//! The SA statements: `add`, `get`, `delete`, `getspi`, `deleteall`,
//! `flush` and `dump`, with their SPI, extensions, algorithms and keys.

use super::*;
use crate::algorithms::{AEAD_SALT_BITS, Aead};
use crate::ir::MAX_REPLAY_WINDOW;

/// `-f esn`: FreeBSD setkey's word for extended sequence numbers.
const ESN: &str = "esn";

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl Grammar<'_> {
    /// `DEC | HEX`: 32 bits. setkey's strtoul into a u_int32 keeps the low
    /// bits of a bigger number (its `SPI too big.` check never fires);
    /// rsetkey refuses it with that message.
    pub(super) fn spi<'i>(&self, i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| matches!(k, TokKind::Dec | TokKind::Hex)))?;
        let v = if t.kind == TokKind::Dec {
            dec_value(self.text(t))
        } else {
            hex_value(self.text(t))
        };
        match v.and_then(|v| u32::try_from(v).ok()) {
            Some(v) => p.spi = v,
            None => {
                return cut_tok(
                    at,
                    FailKind::Range("SPI too big.".into()),
                    Some(out_of_range("SPI", u32::MAX.into())),
                );
            }
        }
        Ok((i, ()))
    }

    /// `{ extension }`.
    pub(super) fn extensions<'i>(&self, mut i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        loop {
            let Some(t) = i.peek() else {
                return Ok((i, ()));
            };
            let rest = i.take_from(1);
            i = match t.kind {
                TokKind::FExt if self.esn_word(rest) => {
                    p.flags |= FLAG_ESN;
                    rest.take_from(1)
                }
                TokKind::FExt => {
                    let (r, e) = commit(tok_if(rest, |k| matches!(k, TokKind::Ext(_))))?;
                    match e.kind {
                        TokKind::Ext(ExtFlag::RandomPad) => p.flags |= FLAG_PRAND,
                        TokKind::Ext(ExtFlag::ZeroPad) => p.flags |= FLAG_PZERO,
                        TokKind::Ext(ExtFlag::NoCyclicSeq) => p.flags &= !FLAG_CYCSEQ,
                        _ => {}
                    }
                    r
                }
                TokKind::FMode => {
                    let (r, m) = commit(tok_if(rest, |k| {
                        matches!(k, TokKind::Mode(_) | TokKind::Any)
                    }))?;
                    p.mode = match m.kind {
                        TokKind::Mode(mode) => mode,
                        _ => IpsecMode::Any,
                    };
                    p.mode_given = true;
                    r
                }
                TokKind::FReqid => {
                    let (r, (v, _)) = self.dec(rest, "reqid", u32::MAX.into())?;
                    p.reqid = v as u32;
                    r
                }
                TokKind::FReplay => {
                    // sadb_sa_replay is 8 bits wide; rsetkey's dialect
                    // sends larger windows through XFRM, up to what the
                    // kernel takes.
                    let max = if self.options.extensions {
                        u64::from(MAX_REPLAY_WINDOW)
                    } else {
                        u8::MAX.into()
                    };
                    let (r, (v, at)) = self.dec(rest, "replay window", max)?;
                    if p.flags & FLAG_OLD != 0 {
                        return cut_tok(
                            at,
                            FailKind::Msg(
                                "replay prevention cannot be used with ah/esp-old".into(),
                            ),
                            Some("the old protocols have no replay protection".into()),
                        );
                    }
                    p.replay = v;
                    r
                }
                TokKind::FLifeHard => {
                    // setkey keeps lifetimes in seconds in 32 bits.
                    let (r, (v, _)) = self.dec(rest, "lifetime", u32::MAX.into())?;
                    p.hard.seconds = v;
                    r
                }
                TokKind::FLifeSoft => {
                    let (r, (v, _)) = self.dec(rest, "lifetime", u32::MAX.into())?;
                    p.soft.seconds = v;
                    r
                }
                TokKind::FByteHard => {
                    let (r, (v, _)) = self.dec(rest, "byte lifetime", u64::MAX)?;
                    p.hard.bytes = v;
                    r
                }
                TokKind::FByteSoft => {
                    let (r, (v, _)) = self.dec(rest, "byte lifetime", u64::MAX)?;
                    p.soft.bytes = v;
                    r
                }
                TokKind::FCtx => {
                    let (r, c) = self.ctx(rest)?;
                    p.context = c;
                    r
                }
                _ => return Ok((i, ())),
            };
        }
    }

    /// `esn` after `-f`: rsetkey's dialect only (setkey's scanner has no
    /// such word, so it stays an ordinary word there).
    fn esn_word(&self, i: Toks<'_>) -> bool {
        self.options.extensions
            && i.peek()
                .is_some_and(|t| t.kind == TokKind::Str && self.text(t) == ESN)
    }

    /// Checks the key of a combined-mode cipher: the cipher key and the
    /// 32-bit salt, in one of the sizes the kernel takes. The kernel's
    /// SADB_REGISTER cannot list these ciphers, so the sizes come from the
    /// algorithm table.
    fn check_aead_key(
        &self,
        aead: Aead,
        bits: usize,
        at: usize,
        name: &str,
    ) -> Result<(), nom::Err<Fail>> {
        if aead.key_bits.iter().any(|&b| usize::from(b) == bits) {
            return Ok(());
        }
        let min = aead.key_bits.iter().copied().min().unwrap_or(0);
        let max = aead.key_bits.iter().copied().max().unwrap_or(0);
        let sizes: Vec<String> = aead.key_bits.iter().map(u16::to_string).collect();
        let cipher: Vec<String> = aead
            .key_bits
            .iter()
            .map(|b| (b - AEAD_SALT_BITS).to_string())
            .collect();
        let (sizes, cipher) = (or_list(&sizes), or_list(&cipher));
        cut_tok(
            at,
            FailKind::KeyLength(bits, min, max),
            Some(format!(
                "{name} needs a key of {sizes} bits (a {cipher}-bit key and a \
                 {AEAD_SALT_BITS}-bit salt); this one has {bits} bits"
            )),
        )
    }

    /// Checks a key length against the kernel's list.
    pub(super) fn check_key(
        &self,
        range: Option<(u16, u16)>,
        bits: usize,
        at: usize,
        name: &str,
    ) -> Result<(), nom::Err<Fail>> {
        let Some((min, max)) = range else {
            return cut_tok(
                at,
                FailKind::Msg("Not supported".into()),
                Some(format!("the kernel does not offer {name}")),
            );
        };
        if bits < usize::from(min) || bits > usize::from(max) {
            let need = if min == max {
                format!("a {min}-bit key")
            } else {
                format!("a key of {min} to {max} bits")
            };
            return cut_tok(
                at,
                FailKind::KeyLength(bits, min, max),
                Some(format!("{name} needs {need}; this one has {bits} bits")),
            );
        }
        Ok(())
    }

    /// A key token after an algorithm name; an unknown name before it is a
    /// syntax error at that name (with a suggestion).
    pub(super) fn key<'i>(&self, i: Toks<'i>) -> Res<'i, (Key, usize)> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| matches!(k, TokKind::Quoted | TokKind::Hex)))?;
        Ok((i, (key_bytes(self.source, t), at)))
    }

    /// The algorithm name after `-E`/`-A`, or a syntax error with a hint.
    pub(super) fn alg_name<'i>(
        &self,
        i: Toks<'i>,
        pred: impl Fn(TokKind) -> bool,
        kind: Kind,
        what: &str,
    ) -> Res<'i, &'i Token> {
        match tok_if(i, pred) {
            Ok(r) => Ok(r),
            Err(_) => {
                let mut f = fail_at(i, FailKind::Syntax);
                if let Some(t) = i.peek()
                    && matches!(t.kind, TokKind::Str)
                {
                    let names = algorithms::scanner_names(kind);
                    f.help = Some(match suggest(self.text(t), names.iter().copied()) {
                        Some(n) => format!("unknown {what} algorithm; did you mean {n}?"),
                        None => format!("unknown {what} algorithm; known: {}", names.join(", ")),
                    });
                }
                Err(nom::Err::Failure(f))
            }
        }
    }

    /// `ealg`: the name and its key, with setkey's checks.
    pub(super) fn enc_alg<'i>(
        &self,
        i: Toks<'i>,
        p: &mut SaParams,
        warnings: &mut Vec<String>,
    ) -> Res<'i, ()> {
        let name_at = i.pos();
        let (i, t) = self.alg_name(
            i,
            |k| matches!(k, TokKind::EncAlg(..)),
            Kind::Encryption,
            "encryption",
        )?;
        let TokKind::EncAlg(alg, kind) = t.kind else {
            return cut_at(i, FailKind::Syntax);
        };
        let row = alg.row();
        if row.rsetkey_only() && !self.options.extensions {
            // setkey has no such name: its syntax error, word for word.
            return cut_tok(
                name_at,
                FailKind::Syntax,
                Some(format!(
                    "{} is an rsetkey extension that setkey does not know; run the script \
                     with rsetkey (not under the name setkey) to use it",
                    self.text(t)
                )),
            );
        }
        if let Some(aead) = row.aead {
            if p.satype != SaType::Esp {
                return cut_tok(
                    name_at,
                    FailKind::Msg("algorithm mismatched".into()),
                    Some(format!(
                        "{} is an ESP cipher: use it with esp",
                        self.text(t)
                    )),
                );
            }
            let (i, (key, at)) = self.key(i)?;
            self.check_aead_key(aead, key.bits(), at, self.text(t))?;
            p.transforms.encrypt = Some((alg, key));
            return Ok((i, ()));
        }
        let range = self.options.supported.encrypt_bits(alg);
        match kind {
            EncKind::NoKey | EncKind::Old => {
                if kind == EncKind::Old {
                    warnings.push(format!("WARNING: obsolete algorithm at `{}'", self.text(t)));
                }
                self.check_key(range, 0, name_at, self.text(t))?;
                p.transforms.encrypt = Some((alg, Key::default()));
                Ok((i, ()))
            }
            EncKind::Keyed | EncKind::Deriv | EncKind::Iv32 => {
                let (i, (key, at)) = self.key(i)?;
                let old = p.flags & FLAG_OLD != 0;
                match kind {
                    EncKind::Deriv if old => {
                        return cut_tok(
                            at,
                            FailKind::Msg("algorithm mismatched".into()),
                            Some("des-deriv cannot be used with esp-old".into()),
                        );
                    }
                    EncKind::Iv32 if !old => {
                        return cut_tok(
                            at,
                            FailKind::Msg("algorithm mismatched".into()),
                            Some("des-32iv needs esp-old".into()),
                        );
                    }
                    EncKind::Deriv => p.flags |= FLAG_DERIV,
                    EncKind::Iv32 => p.flags |= FLAG_IV4B,
                    _ => {}
                }
                self.check_key(range, key.bits(), at, self.text(t))?;
                p.transforms.encrypt = Some((alg, key));
                Ok((i, ()))
            }
        }
    }

    /// `aalg`: the name and its key (none for `null`).
    pub(super) fn auth_alg<'i>(&self, i: Toks<'i>, p: &mut SaParams) -> Res<'i, ()> {
        let (i, t) = match self.alg_name(
            i,
            |k| matches!(k, TokKind::AuthAlg(..)),
            Kind::Authentication,
            "authentication",
        ) {
            Ok(r) => r,
            Err(nom::Err::Failure(mut f)) => {
                // `-A tcp-md5 KEY`: the name vanished in the scanner.
                if self
                    .source
                    .get(..i.peek().map_or(0, |t| t.start))
                    .is_some_and(|s| s.trim_end().ends_with(algorithms::TCP_MD5))
                {
                    f.help = Some(format!(
                        "{} (RFC 2385) is not available on Linux",
                        algorithms::TCP_MD5
                    ));
                }
                return Err(nom::Err::Failure(f));
            }
            Err(e) => return Err(e),
        };
        let TokKind::AuthAlg(alg, nokey) = t.kind else {
            return cut_at(i, FailKind::Syntax);
        };
        if nokey {
            p.transforms.auth = Some((alg, None));
            return Ok((i, ()));
        }
        let (i, (key, at)) = self.key(i)?;
        self.check_key(
            self.options.supported.auth_bits(alg),
            key.bits(),
            at,
            self.text(t),
        )?;
        p.transforms.auth = Some((alg, Some(key)));
        Ok((i, ()))
    }

    /// `algorithm` of `add`.
    pub(super) fn algorithm_spec<'i>(
        &self,
        i: Toks<'i>,
        p: &mut SaParams,
        warnings: &mut Vec<String>,
    ) -> Res<'i, ()> {
        if let Some((i, _)) = next_if(i, TokKind::FEnc) {
            let (i, _) = self.enc_alg(i, p, warnings)?;
            let combined = p
                .transforms
                .encrypt
                .as_ref()
                .is_some_and(|(alg, _)| alg.row().aead.is_some());
            if combined && next_if(i, TokKind::FAuth).is_some() {
                let mut f = fail_at(i, FailKind::Syntax);
                f.help =
                    Some("a combined-mode cipher authenticates by itself: no -A with it".into());
                return Err(nom::Err::Failure(f));
            }
            if let Some((i, _)) = next_if(i, TokKind::FAuth) {
                return self.auth_alg(i, p);
            }
            return Ok((i, ()));
        }
        if let Some((i, _)) = next_if(i, TokKind::FAuth) {
            return self.auth_alg(i, p);
        }
        if let Some((i, _)) = next_if(i, TokKind::FComp) {
            let (i, c) = commit(tok_if(i, |k| matches!(k, TokKind::CompAlg(_))))?;
            if let TokKind::CompAlg(alg) = c.kind {
                p.transforms.compression = Some(alg);
            }
            if let Some((i, _)) = next_if(i, TokKind::FRawCpi) {
                p.flags |= FLAG_RAWCPI;
                return Ok((i, ()));
            }
            return Ok((i, ()));
        }
        let mut f = fail_at(i, FailKind::Syntax);
        f.help = Some("`add` needs -E, -A or -C with the algorithms and keys".into());
        Err(nom::Err::Failure(f))
    }

    /// `add`, `get`, `delete`, `getspi`.
    pub(super) fn sa_statement<'i>(
        &self,
        i: Toks<'i>,
        cmd: SaCmd,
    ) -> Res<'i, (Operations, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let mut warnings = Vec::new();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, srcs) = self.ipandport(i, &p)?;
        let (i, dsts) = self.ipandport(i, &p)?;
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let (i, _) = self.spi(i, &mut p)?;
        let (i, _) = self.extensions(i, &mut p)?;
        let i = if cmd == SaCmd::Add {
            self.algorithm_spec(i, &mut p, &mut warnings)?.0
        } else {
            i
        };
        let eot_at = i.pos();
        let (i, eot) = self.eot(i)?;
        if p.flags & FLAG_ESN != 0 && p.replay == 0 && cmd == SaCmd::Add {
            return cut_tok(
                eot_at,
                FailKind::Msg("extended sequence numbers need a replay window".into()),
                Some("add -r N (the window, 1 to 4096 packets) to use -f esn".into()),
            );
        }
        if cmd == SaCmd::Delete && (srcs.len() > 1 || dsts.len() > 1) {
            return cut_tok(
                eot_at,
                FailKind::Msg("multiple address specified".into()),
                Some("a name resolves to several addresses; use a numeric address or -4/-6".into()),
            );
        }
        if matches!(cmd, SaCmd::Get | SaCmd::Delete) && p.mode != IpsecMode::Any {
            warnings.push(format!("WARNING: mode is obsolete at `{}'", self.text(eot)));
        }
        let ops = sa_operations(cmd, &mut p, &srcs, &dsts);
        if ops.is_empty() {
            return cut_tok(
                eot_at,
                FailKind::NoPair,
                Some("no source/destination pair has the same address family".into()),
            );
        }
        Ok((i, (ops, warnings, eot_at)))
    }

    /// `deleteall`.
    pub(super) fn deleteall<'i>(&self, i: Toks<'i>) -> Res<'i, (Operations, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, srcs) = self.ipaddr(i, &p)?;
        let (i, dsts) = self.ipaddr(i, &p)?;
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        let op = Operation::DeleteAll(DeleteAll {
            satype: p.satype,
            src: srcs.iter().map(|a| a.ip()).collect(),
            dst: dsts.iter().map(|a| a.ip()).collect(),
        });
        Ok((i, (vec![op], Vec::new(), eot_at)))
    }

    /// `flush [proto];` / `dump [proto];`.
    pub(super) fn flush_dump<'i>(
        &self,
        i: Toks<'i>,
        dump: bool,
    ) -> Res<'i, (Operations, Vec<String>, usize)> {
        let mut p = SaParams::default();
        let (i, _) = self.protocol_spec(i, &mut p)?;
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        let op = if dump {
            Operation::Dump(p.satype)
        } else {
            Operation::Flush(p.satype)
        };
        Ok((i, (vec![op], Vec::new(), eot_at)))
    }
}

/// The operations of an SA statement (setkey's action at its `;`): one SA
/// per pair of same-family addresses, the last taking `p`'s keys. None
/// when no pair is of one family (the caller's error).
pub(super) fn sa_operations(
    cmd: SaCmd,
    p: &mut SaParams,
    srcs: &Addresses,
    dsts: &Addresses,
) -> Operations {
    // Exact for the usual single pair: a script holds thousands of
    // these, and Vec's first growth would reserve four operations.
    let mut ops = Vec::with_capacity(srcs.len() * dsts.len());
    for (s, d, last) in same_family_pairs(srcs, dsts) {
        // The last SA takes the keys; only more pairs need copies.
        let (transforms, context) = if last {
            (std::mem::take(&mut p.transforms), p.context.take())
        } else {
            (p.transforms.clone(), p.context.clone())
        };
        let sa = SecurityAssociation {
            satype: p.satype,
            src: s,
            dst: d,
            spi: p.spi,
            mode: p.mode,
            reqid: p.reqid,
            // sadb_sa_replay is 8 bits: setkey's value wraps
            replay: p.replay as u8,
            replay_requested: p.replay,
            wide_replay: (p.replay > u64::from(u8::MAX))
                .then(|| u32::try_from(p.replay).unwrap_or(MAX_REPLAY_WINDOW)),
            flags: p.flags,
            transforms,
            hard: p.hard,
            soft: p.soft,
            context,
            nat: p.nat.then(|| NatTraversal {
                sport: nz_port(s.port()),
                dport: nz_port(d.port()),
                original: p.nat_oa,
            }),
        };
        let sa = Box::new(sa);
        ops.push(match cmd {
            SaCmd::Add => Operation::Add(sa),
            SaCmd::Get => Operation::Get(sa),
            SaCmd::Delete => Operation::Delete(sa),
            SaCmd::GetSpi => Operation::GetSpi(sa),
        });
    }
    ops
}

/// Key bytes of a key token: raw bytes of a quoted string, or hex digits
/// (an odd count gets a leading zero nibble).
///
/// The output buffer is allocated at its final size (no reallocation
/// leaves a stray copy behind), the digits are decoded straight into it,
/// and it goes into a zeroizing [`Key`].
pub(super) fn key_bytes(source: &str, t: &Token) -> Key {
    match t.kind {
        TokKind::Quoted => Key::new(
            source
                .as_bytes()
                .get(t.start + 1..t.end.saturating_sub(1))
                .unwrap_or(&[])
                .to_vec(),
        ),
        _ => hex_key(t.text(source).as_bytes().get(2..).unwrap_or(&[])),
    }
}

/// The key written as the hex digits `hex` (after the `0x`; the lexer
/// lets only hex digits into a hex number).
pub(super) fn hex_key(hex: &[u8]) -> Key {
    let nibble = |c: u8| super::super::lexer::hex_digit(c).unwrap_or(0);
    // Built at its final capacity (never reallocated, so no copy of the
    // key is left behind) and written once, without the zeroing a
    // `vec![0; len]` would cost.
    let mut out = Vec::with_capacity(hex.len().div_ceil(2));
    // An odd digit count: the first digit is a byte of its own.
    let (odd, pairs) = hex.split_at(hex.len() % 2);
    out.extend(odd.iter().map(|&c| nibble(c)));
    // Eight digits into four bytes at a time, then the pairs left.
    let (blocks, left) = pairs.as_chunks::<8>();
    for &block in blocks {
        out.extend_from_slice(&super::super::lexer::hex_block(block));
    }
    out.extend(
        left.as_chunks::<2>()
            .0
            .iter()
            .map(|&[high, low]| nibble(high) << 4 | nibble(low)),
    );
    Key::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hex keys of every length up to several blocks decode as digit
    /// pairs read one by one would (an odd count: a first digit alone).
    #[test]
    fn hex_keys_decode_digit_by_digit() {
        let digits = b"0123456789abcdefABCDEF";
        let mut next = crate::parse::test_walk(0x005E_ED0F_4E75);
        for len in 1..=70 {
            for _ in 0..20 {
                let hex: String = (0..len)
                    .map(|_| char::from(digits[next(digits.len())]))
                    .collect();
                let source = format!("add 0x{hex} ;");
                let t = Token {
                    kind: TokKind::Hex,
                    start: 4,
                    end: 6 + len,
                    line: 1,
                    text_start: 4,
                    text_end: 6 + len,
                };
                let value = |c: char| c.to_digit(16).unwrap() as u8;
                let chars: Vec<char> = hex.chars().collect();
                let (odd, pairs) = chars.split_at(len % 2);
                let expected: Vec<u8> = odd
                    .iter()
                    .map(|&c| value(c))
                    .chain(pairs.chunks(2).map(|p| value(p[0]) << 4 | value(p[1])))
                    .collect();
                assert_eq!(key_bytes(&source, &t).as_bytes(), expected, "{hex}");
            }
        }
    }
}
