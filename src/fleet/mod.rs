//! Many hosts: the scripts of hosts that talk to one another must agree.
//!
//! Two hosts that protect their traffic with manual keys carry the same
//! SAs (same addresses, SPIs, algorithms and keys) and mirrored policies:
//! the traffic one host sends under an `out` policy arrives at the other
//! under an `in` policy with the same selector and the same requests. One
//! typo and traffic silently drops, or leaves unprotected under a `use`
//! level. This module keeps such scripts in step:
//!
//! * [`check`] proves that two scripts agree, or says where they differ;
//! * [`mirror`] writes the peer's script from one host's script;
//! * [`generate`] writes every host's script from an [`inventory`] of
//!   hosts and links, with fresh keys and unique SPIs.
//!
//! It sits above [`crate::parse`] and [`crate::ir`], like the application
//! layer: it reads IR, never wire types, and talks to no kernel.

pub mod check;
pub mod generate;
pub mod inventory;
pub mod mirror;

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::ir::{Location, Operation, PolicyRequest, SelectorAddress, Statement};
use crate::parse::{self, ParseError};

/// The first line of every script `generate` and `mirror` write.
pub const SHEBANG: &str = "#!/usr/sbin/rsetkey -f";

/// One host's script, parsed.
#[derive(Debug)]
pub struct Script {
    /// Its name as messages show it (the path given).
    pub name: String,
    /// Its text (it holds keys: wiped when dropped).
    pub text: Zeroizing<String>,
    /// Its statements as written: parsed with kernel semantics (`-k`), so
    /// that an `in` policy is one operation and no `fwd` twin is made up.
    pub statements: Vec<Statement>,
}

impl Script {
    /// Parses `text` (named `name` in messages). Host names resolve
    /// through the system; key lengths are checked against what Linux
    /// usually offers.
    // The error carries the whole diagnostic, once per script.
    #[allow(clippy::result_large_err)]
    pub fn parse(name: &str, text: Zeroizing<String>) -> Result<Script, ParseError> {
        let statements = parse::parse_script(&text, &options())?;
        Ok(Script {
            name: name.to_string(),
            text,
            statements,
        })
    }

    /// Every operation with the location of its statement, in order.
    pub fn operations(&self) -> impl Iterator<Item = (&Operation, Location)> {
        self.statements
            .iter()
            .flat_map(|s| s.operations.iter().map(move |op| (op, s.location)))
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        position(&self.text, offset)
    }
}

/// How fleet scripts are parsed: as written (`-k`: no `fwd` twins), key
/// lengths checked against Linux's usual algorithm table.
pub fn options() -> parse::Options {
    parse::Options {
        supported: crate::ir::SupportedAlgorithms::linux_default(),
        rfc_mode: false,
        // rsetkey's own dialect: the fleet's scripts run under its name
        extensions: true,
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Whether a policy selector address covers `addr`.
pub fn covers(selector: &SelectorAddress, addr: IpAddr) -> bool {
    let bits = u32::from(selector.prefixlen);
    match (selector.addr.ip(), addr) {
        (IpAddr::V4(net), IpAddr::V4(a)) => {
            let bits = bits.min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(net) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(a)) => {
            let bits = bits.min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(net) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The one address a selector names, when its prefix is a single host.
pub fn single_host(selector: &SelectorAddress) -> Option<IpAddr> {
    let host = match selector.addr.ip() {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (selector.prefixlen == host).then_some(selector.addr.ip())
}

/// The traffic a policy matches: its selector without the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source selector.
    pub src: SelectorAddress,
    /// Destination selector.
    pub dst: SelectorAddress,
    /// Upper-layer protocol (255 = any).
    pub upper: u8,
}

impl Flow {
    /// The traffic `p` matches.
    pub fn of(p: &PolicyRequest) -> Flow {
        Flow {
            src: p.src,
            dst: p.dst,
            upper: p.upper,
        }
    }

    /// The same traffic the other way round (answers to it).
    pub fn reversed(&self) -> Flow {
        Flow {
            src: self.dst,
            dst: self.src,
            upper: self.upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn sel(text: &str, prefixlen: u8) -> SelectorAddress {
        let ip: IpAddr = text.parse().expect("address");
        SelectorAddress {
            addr: SocketAddr::new(ip, 0),
            prefixlen,
        }
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "flush;\n# é\nadd x;";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 7), (2, 1));
        let add = text.find("add").expect("add");
        assert_eq!(position(text, add), (3, 1));
        assert_eq!(position(text, add + 4), (3, 5));
        // past the end: clamped
        assert_eq!(position(text, 1000), (3, 7));
    }

    #[test]
    fn selectors_cover_their_networks_only() {
        let a: IpAddr = "10.1.2.3".parse().expect("address");
        assert!(covers(&sel("10.1.0.0", 16), a));
        assert!(!covers(&sel("10.2.0.0", 16), a));
        assert!(covers(&sel("0.0.0.0", 0), a));
        assert!(covers(&sel("10.1.2.3", 32), a));
        assert!(!covers(&sel("::", 0), a));
        let b: IpAddr = "2001:db8::1".parse().expect("address");
        assert!(covers(&sel("2001:db8::", 32), b));
        assert_eq!(single_host(&sel("10.1.2.3", 32)), Some(a));
        assert_eq!(single_host(&sel("10.1.0.0", 16)), None);
    }
}
