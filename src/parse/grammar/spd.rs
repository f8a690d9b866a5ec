//! The policy statements: `spdadd`, `spdupdate`, `spddelete`, with their
//! selectors (prefixes, ports, upper layer) and tagged policies.

use super::*;

impl Grammar<'_> {
    /// `upper` of a selector: number, `any`, `tcp` or a protocol name.
    pub(super) fn upper_spec<'i>(&self, i: Toks<'i>) -> Res<'i, u64> {
        let at = i.pos();
        let (i, t) = commit(tok_if(i, |k| {
            matches!(
                k,
                TokKind::Dec | TokKind::Any | TokKind::Proto(ProtoKw::Tcp) | TokKind::Str
            )
        }))?;
        let v = match t.kind {
            TokKind::Dec => match dec_value(self.text(t)).filter(|&v| v <= u64::from(u8::MAX)) {
                Some(v) => v,
                None => return range_fail(at, "upper layer protocol", u8::MAX.into()),
            },
            TokKind::Any => u64::from(UPPER_ANY),
            TokKind::Proto(_) => 6,
            _ => match self.names.protocol(self.text(t)) {
                Some(n) => u64::from(n),
                None if self.text(t) == "icmp6" => 58,
                None if self.text(t) == "ip4" => 4,
                None => {
                    return cut_tok(
                        at,
                        FailKind::Msg("invalid upper layer protocol".into()),
                        Some(format!(
                            "`{}` is not in the protocols database",
                            self.text(t)
                        )),
                    );
                }
            },
        };
        Ok((i, v))
    }

    /// `[ "/" DEC ]`: the prefix length, 8 bits as PF_KEY carries it.
    /// setkey stores an int and sends its low 8 bits (`/256` is `/0`, a
    /// number that is negative as an int means the full length); rsetkey
    /// refuses what does not fit. A length that fits but exceeds the
    /// address (`/33` for IPv4) is sent, and the kernel refuses it.
    pub(super) fn prefix<'i>(&self, i: Toks<'i>) -> Res<'i, Option<u8>> {
        let Some((i, _)) = next_if(i, TokKind::Slash) else {
            return Ok((i, None));
        };
        let (i, (v, _)) = self.dec(i, "prefix length", u8::MAX.into())?;
        Ok((i, Some(v as u8)))
    }

    /// `spdadd`, `spdupdate`, `spddelete`.
    pub(super) fn spd_statement<'i>(
        &self,
        i: Toks<'i>,
        cmd: SpdCmd,
    ) -> Res<'i, (Operations, Vec<String>, usize)> {
        if cmd != SpdCmd::Delete
            && let Some((i, _)) = next_if(i, TokKind::Keyword(Keyword::Tagged))
        {
            let (i, tag) = commit(tok(i, TokKind::Quoted))?;
            let (i, _) = commit(tok(i, TokKind::FPolicy))?;
            let pol_at = i.pos();
            let (i, pol) = commit(tok(i, TokKind::PolicyText))?;
            let policy = match parse_policy_at(self.text(pol), self.names) {
                Ok(p) => p,
                Err(f) => return policy_fail(pol_at, pol, f, None),
            };
            let eot_at = i.pos();
            let (i, _) = self.eot(i)?;
            // setkey sends it (the policy alone: Linux has no tag
            // extension) and the kernel refuses it; never an RFC twin.
            let tagged = ir::TaggedPolicy {
                tag: self.text(tag).to_string(),
                policy,
            };
            let op = match cmd {
                SpdCmd::Update => Operation::SpdUpdateTagged(tagged),
                _ => Operation::SpdAddTagged(tagged),
            };
            return Ok((i, (vec![op], Vec::new(), eot_at)));
        }
        let mut p = SaParams::default();
        let (i, _) = self.ipaddropts(i, &mut p)?;
        let (i, src) = commit(tok(i, TokKind::Str))?;
        let (i, sprefix) = self.prefix(i)?;
        let (i, sport) = self.portstr(i)?;
        let (i, dst) = commit(tok(i, TokKind::Str))?;
        let (i, dprefix) = self.prefix(i)?;
        let (i, dport) = self.portstr(i)?;
        let (i, upper) = self.upper_spec(i)?;
        let misc_at = i.pos();
        let (i, misc) = match next_if(i, TokKind::Str) {
            Some((r, t)) => (r, Some(t)),
            None => (i, None),
        };
        let (i, context) = match next_if(i, TokKind::FCtx) {
            Some((r, _)) => self.ctx(r)?,
            None => (i, None),
        };
        let (i, _) = commit(tok(i, TokKind::FPolicy))?;
        let pol_at = i.pos();
        let (i, pol) = commit(tok(i, TokKind::PolicyText))?;
        let policy = match parse_policy_at(self.text(pol), self.names) {
            Ok(p) => p,
            Err(f) => {
                let help = (f.text == super::super::policy::TOO_FEW).then(|| {
                    "a request is PROTO/MODE/[SRC-DST]/[LEVEL], e.g. esp/transport//require".into()
                });
                return policy_fail(pol_at, pol, f, help);
            }
        };
        let eot_at = i.pos();
        let (i, _) = self.eot(i)?;
        // Everything below happens in setkey's action at the `;`.
        let (sport, dport) = match misc {
            Some(m) => match fix_portstr(upper, self.text(m)) {
                Ok((s, d)) => (Some(s.to_string()), Some(d.to_string())),
                Err(PortSpecError::Range(what, max)) => {
                    return range_fail(misc_at, what, max.into());
                }
                Err(PortSpecError::Invalid) => {
                    return cut_tok(
                        eot_at,
                        FailKind::Msg("invalid an upper layer protocol spec".into()),
                        Some("ICMP/ICMPv6/MH take TYPE,CODE; GRE takes a.b.c.d or N,".into()),
                    );
                }
            },
            None => (sport, dport),
        };
        // No port is the service "0" (any).
        let sport = sport.as_deref().unwrap_or("0");
        let dport = dport.as_deref().unwrap_or("0");
        let srcs = self.resolve(src, Some(sport), &p, Err(eot_at))?;
        let dsts = self.resolve(dst, Some(dport), &p, Err(eot_at))?;
        if srcs.len() > 1 || dsts.len() > 1 {
            return cut_tok(
                eot_at,
                FailKind::Msg("multiple address specified".into()),
                Some(
                    "a policy selector needs exactly one address; use a numeric address or -4/-6"
                        .into(),
                ),
            );
        }
        let selector = Selector {
            srcs: &srcs,
            dsts: &dsts,
            prefixes: (sprefix, dprefix),
            upper: upper as u8,
        };
        let ops = policy_operations(self.options, cmd, selector, policy, context);
        if ops.is_empty() {
            return cut_tok(
                eot_at,
                FailKind::NoPair,
                Some("source and destination are of different address families".into()),
            );
        }
        Ok((i, (ops, Vec::new(), eot_at)))
    }
}

/// setkey's `fix_portstr`: ICMP/ICMPv6/MH `type,code`, GRE `a.b.c.d` or
/// `N,` → the port numbers that go into the selector. Anything else (other
/// protocols, or a lone ICMP type whose code setkey leaves uninitialised)
/// is refused.
fn fix_portstr(upper: u64, spec: &str) -> Result<(u32, u32), PortSpecError> {
    use PortSpecError::{Invalid, Range};
    // A number of at most `max`: setkey's atoi/strtoul would wrap a
    // bigger one into the neighbouring field.
    let num = |s: &str, what: &'static str, max: u32| -> Result<u32, PortSpecError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid);
        }
        dec_value(s)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v <= max)
            .ok_or(Range(what, max))
    };
    match upper {
        1 | 58 | 135 => {
            let (t, c) = spec.split_once(',').ok_or(Invalid)?;
            // Type and code travel in the 16-bit port fields.
            let max = u32::from(u16::MAX);
            Ok((num(t, "ICMP type", max)?, num(c, "ICMP code", max)?))
        }
        47 => {
            let parts: Vec<&str> = spec.split('.').collect();
            if let [a, b, c, d] = parts.as_slice() {
                let byte = |s: &str| num(s, "GRE key part", 255);
                let (a, b, c, d) = (byte(a)?, byte(b)?, byte(c)?, byte(d)?);
                return Ok(((a << 8) | b, (c << 8) | d));
            }
            let n = num(spec.strip_suffix(',').ok_or(Invalid)?, "GRE key", u32::MAX)?;
            Ok((n >> 16, n & 0xffff))
        }
        _ => Err(Invalid),
    }
}

/// Why [`fix_portstr`] refused a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSpecError {
    /// Not a spec setkey understands for this protocol.
    Invalid,
    /// A number too big for its field: (what, maximum).
    Range(&'static str, u32),
}

/// A policy statement's selector as read: the addresses its source and
/// destination resolved to, their prefix lengths if written, and the
/// upper-layer protocol.
pub(super) struct Selector<'a> {
    pub srcs: &'a Addresses,
    pub dsts: &'a Addresses,
    pub prefixes: (Option<u8>, Option<u8>),
    pub upper: u8,
}

/// The operations of a policy statement (setkey's action at its `;`): one
/// request per pair of same-family addresses, each followed by its `fwd`
/// twin for an `in` policy under `--rfc`. None when no pair is of one
/// family (the caller's error).
pub(super) fn policy_operations(
    options: &Options,
    cmd: SpdCmd,
    selector: Selector<'_>,
    policy: ir::Policy,
    context: Option<SecurityContext>,
) -> Operations {
    let Selector {
        srcs,
        dsts,
        prefixes: (sprefix, dprefix),
        upper,
    } = selector;
    let twins = options.rfc_mode && policy.direction == Direction::In;
    let request = |s: SocketAddr, d: SocketAddr, policy, context| {
        let full = if s.is_ipv4() { 32 } else { 128 };
        PolicyRequest {
            src: SelectorAddress {
                addr: s,
                prefixlen: sprefix.unwrap_or(full),
            },
            dst: SelectorAddress {
                addr: d,
                prefixlen: dprefix.unwrap_or(full),
            },
            upper,
            policy,
            context,
        }
    };
    let wrap = |r: PolicyRequest| match cmd {
        SpdCmd::Add => Operation::SpdAdd(r),
        SpdCmd::Update => Operation::SpdUpdate(r),
        SpdCmd::Delete => Operation::SpdDelete(r),
    };
    // The usual single pair, its policy moved in, without the pairing.
    if let ([s], [d]) = (srcs.as_slice(), dsts.as_slice())
        && !twins
    {
        if s.is_ipv4() != d.is_ipv4() {
            return Vec::new();
        }
        return vec![wrap(request(*s, *d, policy, context))];
    }
    let mut ops = Vec::with_capacity(srcs.len() * dsts.len() * if twins { 2 } else { 1 });
    // The last request takes the policy; only more pairs need copies.
    let mut parts = Some((policy, context));
    for (s, d, last) in same_family_pairs(srcs, dsts) {
        let Some((policy, context)) = (if last { parts.take() } else { parts.clone() }) else {
            continue;
        };
        let req = request(s, d, policy, context);
        let twin = twins.then(|| {
            let mut fwd = req.clone();
            fwd.policy.direction = Direction::Fwd;
            if let Some(first) = fwd.policy.requests.first_mut()
                && first.level == Level::Unique
            {
                first.level = Level::Require;
                first.reqid = 0;
            }
            fwd
        });
        ops.push(wrap(req));
        if let Some(fwd) = twin {
            ops.push(wrap(fwd));
        }
    }
    ops
}
