//! `rsetkey mirror`: the peer's script for one host's script.
//!
//! Both hosts carry the same SAs, so every SA statement is copied as it
//! is. Every policy is mirrored: the traffic host A sends under its `out`
//! policy arrives at host B, whose policy for it is `in`, with the same
//! selector (source, destination, ports, upper layer) and the same
//! requests (tunnel end points included: the tunnel of that traffic runs
//! from A to B seen from either end). A's `in` policy becomes B's `out`.
//! An explicit `fwd` policy (a gateway forwarding the traffic) becomes
//! B's `out` too, unless A has an `in` policy for the same traffic that
//! B's `out` mirrors already (the `fwd` twin RFC mode adds to an `in`).
//!
//! `--local ADDR` names host A: every policy must concern it (an `out`
//! policy's traffic leaves it, an `in` policy's arrives at it), which
//! catches the mirror of the wrong script.

use std::net::IpAddr;

use super::{Flow, Script, covers};
use crate::ir::{Direction, Operation, PolicyRequest, TaggedPolicy};

/// Why a script has no mirror.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MirrorError(pub String);

/// The direction of the same traffic on the peer.
fn mirrored(direction: Direction) -> Direction {
    match direction {
        Direction::Out => Direction::In,
        Direction::In | Direction::Fwd => Direction::Out,
    }
}

/// Whether a policy concerns host `local`: the traffic of an `out` policy
/// leaves it, the traffic of an `in` or `fwd` policy arrives at it
/// (directly, or at its end of a tunnel).
pub fn concerns(p: &PolicyRequest, local: IpAddr) -> bool {
    let tunnel_end = |out: bool| {
        p.policy.requests.iter().any(|r| {
            r.endpoints.as_deref().is_some_and(|&(s, d)| {
                if out {
                    s.ip() == local
                } else {
                    d.ip() == local
                }
            })
        })
    };
    match p.policy.direction {
        Direction::Out => covers(&p.src, local) || tunnel_end(true),
        Direction::In => covers(&p.dst, local) || tunnel_end(false),
        // a gateway forwards traffic that is for neither of its addresses
        Direction::Fwd => true,
    }
}

/// The peer's operations for `script`, host `local`'s script, in the
/// script's order.
pub fn mirror(script: &Script, local: IpAddr) -> Result<Vec<Operation>, MirrorError> {
    let ins: Vec<Flow> = script
        .operations()
        .filter_map(|(op, _)| match op {
            Operation::SpdAdd(p) | Operation::SpdUpdate(p)
                if p.policy.direction == Direction::In =>
            {
                Some(Flow::of(p))
            }
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (op, location) in script.operations() {
        let policy = |p: &PolicyRequest| -> Result<Option<PolicyRequest>, MirrorError> {
            if !concerns(p, local) {
                let (line, column) = script.position(location.offset);
                return Err(MirrorError(format!(
                    "{}:{line}:{column}: this {} policy's traffic does not {} {local}: \
                     is {local} the address of the host whose script this is?",
                    script.name,
                    direction_name(p.policy.direction),
                    if p.policy.direction == Direction::Out {
                        "leave"
                    } else {
                        "arrive at"
                    }
                )));
            }
            if p.policy.direction == Direction::Fwd && ins.contains(&Flow::of(p)) {
                return Ok(None);
            }
            let mut m = p.clone();
            m.policy.direction = mirrored(p.policy.direction);
            Ok(Some(m))
        };
        match op {
            Operation::SpdAdd(p) => out.extend(policy(p)?.map(Operation::SpdAdd)),
            Operation::SpdUpdate(p) => out.extend(policy(p)?.map(Operation::SpdUpdate)),
            Operation::SpdDelete(p) => out.extend(policy(p)?.map(Operation::SpdDelete)),
            Operation::SpdAddTagged(t) | Operation::SpdUpdateTagged(t) => {
                let mut m: TaggedPolicy = t.clone();
                m.policy.direction = mirrored(t.policy.direction);
                out.push(match op {
                    Operation::SpdAddTagged(_) => Operation::SpdAddTagged(m),
                    _ => Operation::SpdUpdateTagged(m),
                });
            }
            // the SAs, and what is not about one host's side
            other => out.push(other.clone()),
        }
    }
    Ok(out)
}

/// `in`, `out`, `fwd`.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::In => "in",
        Direction::Out => "out",
        Direction::Fwd => "fwd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn script(text: &str) -> Script {
        Script::parse("a.conf", Zeroizing::new(text.to_string())).expect("parses")
    }

    const A: &str = "add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc \"1234567890123456\";\n\
        spdadd 10.0.0.1[any] 10.0.0.2[80] tcp -P out ipsec esp/transport//require;\n\
        spdadd 10.0.0.2[80] 10.0.0.1[any] tcp -P in ipsec esp/transport//require;\n";

    #[test]
    fn policies_change_direction_and_keep_their_selector() {
        let ops = mirror(&script(A), "10.0.0.1".parse().expect("address")).expect("mirrors");
        let text = crate::ir::print::script(&ops, crate::ir::Keys::Mask);
        assert_eq!(
            text,
            "add 10.0.0.1 10.0.0.2 esp 0x00001001 -E aes-cbc 0x********************************;\n\
             spdadd 10.0.0.1 10.0.0.2[80] 6 -P in ipsec esp/transport//require;\n\
             spdadd 10.0.0.2[80] 10.0.0.1 6 -P out ipsec esp/transport//require;\n"
        );
    }

    #[test]
    fn the_wrong_local_address_is_refused() {
        let e = mirror(&script(A), "10.0.0.2".parse().expect("address")).expect_err("refused");
        assert!(e.0.starts_with("a.conf:2:1: this out policy"), "{e}");
    }

    #[test]
    fn a_fwd_twin_of_an_in_policy_is_not_mirrored_twice() {
        let text = "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec \
                    esp/tunnel/192.0.2.2-192.0.2.1/require;\n\
                    spdadd 10.2.0.0/16 10.1.0.0/16 any -P fwd ipsec \
                    esp/tunnel/192.0.2.2-192.0.2.1/require;\n\
                    spdadd 10.3.0.0/16 10.1.0.0/16 any -P fwd ipsec \
                    esp/tunnel/192.0.2.3-192.0.2.1/require;\n";
        let ops = mirror(&script(text), "192.0.2.1".parse().expect("address")).expect("mirrors");
        let dirs: Vec<_> = ops
            .iter()
            .filter_map(|o| match o {
                Operation::SpdAdd(p) => Some(p.policy.direction),
                _ => None,
            })
            .collect();
        assert_eq!(dirs, [Direction::Out, Direction::Out]);
    }
}
