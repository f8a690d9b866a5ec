//! The inventory `rsetkey generate` reads: hosts, and the links between
//! them (TOML).
//!
//! ```toml
//! [defaults]                       # optional; every link inherits these
//! protocols = ["esp", "ah"]        # "esp", "ah" or both (AH+ESP)
//! mode = "transport"               # or "tunnel"
//! encryption = "aes-cbc"           # setkey's -E names
//! key_bits = 256                   # optional: the cipher's key size
//! authentication = "hmac-sha256"   # setkey's -A names
//!
//! [[host]]
//! name = "gw"
//! addresses = ["192.0.2.1"]
//! networks = ["10.0.0.0/24"]       # optional: tunnel mode protects these
//!
//! [[link]]
//! hub = "gw"
//! spokes = ["web1", "web2"]
//!
//! [[link]]
//! pair = ["web1", "web2"]
//! mode = "tunnel"                  # any default can be overridden per link
//! ```
//!
//! [`Inventory::resolve`] checks everything that can be wrong before a key
//! is drawn and turns the links into [`Pair`]s: two hosts, the addresses
//! they talk over and the settings of their link.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Deserialize;

use crate::algorithms::{self, Kind, Setkey};
use crate::ir::{AuthAlgorithm, EncryptAlgorithm, IpsecProtocol};

/// An inventory as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// What every link inherits.
    #[serde(default)]
    pub defaults: Settings,
    /// The hosts (`[[host]]`).
    #[serde(rename = "host", default)]
    pub hosts: Vec<Host>,
    /// The links (`[[link]]`).
    #[serde(rename = "link", default)]
    pub links: Vec<Link>,
}

/// One host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Its name: the name of its script (`NAME.conf`).
    pub name: String,
    /// Its addresses; a link uses the first one of a family both ends have.
    pub addresses: Vec<IpAddr>,
    /// Networks behind it (`"10.0.0.0/24"`), protected by tunnel-mode
    /// links; without any, a tunnel protects the host's own address.
    #[serde(default)]
    pub networks: Vec<String>,
}

/// Settings of a link (all optional: the defaults fill them in).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `esp`, `ah` or both.
    pub protocols: Option<Vec<Protocol>>,
    /// `transport` or `tunnel`.
    pub mode: Option<Mode>,
    /// The cipher of ESP, a setkey `-E` name.
    pub encryption: Option<String>,
    /// The cipher's key size in bits (default: the largest it takes).
    pub key_bits: Option<u16>,
    /// The integrity algorithm, a setkey `-A` name.
    pub authentication: Option<String>,
}

/// One `[[link]]`: a pair of hosts, or a hub and its spokes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Two hosts.
    pub pair: Option<Vec<String>>,
    /// The hub of a hub-and-spoke link.
    pub hub: Option<String>,
    /// The spokes: each talks to the hub (not to one another).
    pub spokes: Option<Vec<String>>,
    /// Overrides the defaults for this link.
    pub protocols: Option<Vec<Protocol>>,
    /// Overrides the defaults for this link.
    pub mode: Option<Mode>,
    /// Overrides the defaults for this link.
    pub encryption: Option<String>,
    /// Overrides the defaults for this link.
    pub key_bits: Option<u16>,
    /// Overrides the defaults for this link.
    pub authentication: Option<String>,
}

/// An IPsec protocol of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// ESP.
    Esp,
    /// AH.
    Ah,
}

impl Protocol {
    /// The policy language's protocol.
    pub fn ipsec(self) -> IpsecProtocol {
        match self {
            Protocol::Esp => IpsecProtocol::Esp,
            Protocol::Ah => IpsecProtocol::Ah,
        }
    }
}

/// Transport or tunnel mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Host to host.
    Transport,
    /// Network to network, between the hosts' addresses.
    Tunnel,
}

/// A network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefixlen: u8,
}

/// A link's settings with the defaults filled in and the algorithms
/// looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The protocols, ESP first (the order of the `-P` requests: ESP
    /// inside AH, as in the tutorial).
    pub protocols: Vec<Protocol>,
    /// The mode.
    pub mode: Mode,
    /// The cipher and its key size in bits.
    pub encryption: (EncryptAlgorithm, usize),
    /// The integrity algorithm and its key size in bits.
    pub authentication: (AuthAlgorithm, usize),
}

/// Two hosts that talk, as the generator needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Index of the first host (the hub, or the first of a pair).
    pub a: usize,
    /// Index of the second host.
    pub b: usize,
    /// The address of `a` they talk over.
    pub addr_a: IpAddr,
    /// The address of `b`, of the same family.
    pub addr_b: IpAddr,
    /// The networks behind `a` a tunnel protects (of that family).
    pub nets_a: Vec<Network>,
    /// The networks behind `b`.
    pub nets_b: Vec<Network>,
    /// The link's settings.
    pub settings: Resolved,
}

/// What is wrong with an inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InventoryError(pub String);

fn err<T>(text: impl Into<String>) -> Result<T, InventoryError> {
    Err(InventoryError(text.into()))
}

impl Inventory {
    /// Reads an inventory from TOML text.
    pub fn from_toml(text: &str) -> Result<Inventory, InventoryError> {
        toml::from_str(text).map_err(|e| InventoryError(e.to_string().trim_end().to_string()))
    }

    /// Checks the inventory and lists the pairs of hosts that talk, in
    /// the order of the links (a hub's spokes in their order).
    pub fn resolve(&self) -> Result<Vec<Pair>, InventoryError> {
        let mut names = BTreeSet::new();
        for host in &self.hosts {
            check_name(&host.name)?;
            if !names.insert(host.name.as_str()) {
                return err(format!("host {:?} is named twice", host.name));
            }
            if host.addresses.is_empty() {
                return err(format!("host {:?} has no addresses", host.name));
            }
            for net in &host.networks {
                network(net).map_err(|why| {
                    InventoryError(format!("host {:?}: network {net:?}: {why}", host.name))
                })?;
            }
        }
        if self.hosts.is_empty() {
            return err("the inventory names no [[host]]");
        }
        let index = |name: &str| {
            self.hosts
                .iter()
                .position(|h| h.name == name)
                .ok_or_else(|| InventoryError(format!("a link names {name:?}, which is no host")))
        };
        let mut pairs: Vec<Pair> = Vec::new();
        let mut seen = BTreeSet::new();
        for (n, link) in self.links.iter().enumerate() {
            let which = format!("link {} (the {} [[link]])", n + 1, ordinal(n + 1));
            let settings = self
                .settings(link)
                .map_err(|InventoryError(why)| InventoryError(format!("{which}: {why}")))?;
            let ends: Vec<(usize, usize)> = match (&link.pair, &link.hub, &link.spokes) {
                (Some(pair), None, None) => match pair.as_slice() {
                    [a, b] => vec![(index(a)?, index(b)?)],
                    _ => return err(format!("{which}: pair names two hosts")),
                },
                (None, Some(hub), Some(spokes)) if !spokes.is_empty() => {
                    let hub = index(hub)?;
                    spokes
                        .iter()
                        .map(|s| Ok((hub, index(s)?)))
                        .collect::<Result<_, InventoryError>>()?
                }
                _ => {
                    return err(format!(
                        "{which}: give either pair = [A, B] or hub = H and spokes = [...]"
                    ));
                }
            };
            for (a, b) in ends {
                let (host_a, host_b) = (&self.hosts[a], &self.hosts[b]);
                if a == b {
                    return err(format!("{which}: {:?} cannot link to itself", host_a.name));
                }
                if !seen.insert((a.min(b), a.max(b))) {
                    return err(format!(
                        "{which}: {:?} and {:?} are linked twice",
                        host_a.name, host_b.name
                    ));
                }
                let Some((addr_a, addr_b)) = common_family(&host_a.addresses, &host_b.addresses)
                else {
                    return err(format!(
                        "{which}: {:?} and {:?} have no address of one family",
                        host_a.name, host_b.name
                    ));
                };
                let nets = |h: &Host, addr: IpAddr| -> Vec<Network> {
                    let nets: Vec<Network> = h
                        .networks
                        .iter()
                        .filter_map(|n| network(n).ok())
                        .filter(|n| n.addr.is_ipv4() == addr.is_ipv4())
                        .collect();
                    if nets.is_empty() {
                        vec![Network {
                            addr,
                            prefixlen: if addr.is_ipv4() { 32 } else { 128 },
                        }]
                    } else {
                        nets
                    }
                };
                pairs.push(Pair {
                    a,
                    b,
                    addr_a,
                    addr_b,
                    nets_a: nets(host_a, addr_a),
                    nets_b: nets(host_b, addr_b),
                    settings: settings.clone(),
                });
            }
        }
        Ok(pairs)
    }

    /// A link's settings: its own, else the defaults, else rsetkey's.
    fn settings(&self, link: &Link) -> Result<Resolved, InventoryError> {
        let d = &self.defaults;
        let mut protocols = link
            .protocols
            .clone()
            .or_else(|| d.protocols.clone())
            .unwrap_or_else(|| vec![Protocol::Esp]);
        protocols.sort();
        protocols.dedup();
        if protocols.is_empty() {
            return err("protocols is empty: give \"esp\", \"ah\" or both");
        }
        let mode = link.mode.or(d.mode).unwrap_or(Mode::Transport);
        let enc_name = link
            .encryption
            .as_deref()
            .or(d.encryption.as_deref())
            .unwrap_or(algorithms::RECOMMENDED_CIPHER);
        let auth_name = link
            .authentication
            .as_deref()
            .or(d.authentication.as_deref())
            .unwrap_or(algorithms::RECOMMENDED_INTEGRITY);
        let key_bits = link.key_bits.or(d.key_bits);
        Ok(Resolved {
            protocols,
            mode,
            encryption: encryption(enc_name, key_bits)?,
            authentication: authentication(auth_name)?,
        })
    }
}

/// A host name must make a file name (`NAME.conf`) and nothing else.
fn check_name(name: &str) -> Result<(), InventoryError> {
    let fine = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(())
    } else {
        err(format!(
            "host name {name:?}: use letters, digits, '.', '_' and '-' (it names a file)"
        ))
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The first address of `a` whose family `b` has, and `b`'s first one of it.
fn common_family(a: &[IpAddr], b: &[IpAddr]) -> Option<(IpAddr, IpAddr)> {
    a.iter().find_map(|x| {
        b.iter()
            .find(|y| y.is_ipv4() == x.is_ipv4())
            .map(|y| (*x, *y))
    })
}

/// `ADDR/PREFIX` (or a bare address: one host).
pub fn network(text: &str) -> Result<Network, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| "not an address".to_string())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefixlen = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("the prefix length must be 0 to {max}"))?,
    };
    Ok(Network { addr, prefixlen })
}

/// A cipher by setkey's name, with its key size.
fn encryption(name: &str, bits: Option<u16>) -> Result<(EncryptAlgorithm, usize), InventoryError> {
    let row = algorithms::by_name(Kind::Encryption, name.as_bytes()).map(|(row, _)| row);
    let (Some(row), Some(Setkey::Encrypt(alg))) = (row, row.map(|r| r.setkey)) else {
        return err(format!(
            "encryption {name:?}: not a setkey -E name (e.g. {})",
            algorithms::RECOMMENDED_CIPHER
        ));
    };
    let Some(x) = row.xfrm else {
        return err(format!("encryption {name:?}: Linux does not offer it"));
    };
    let bits = bits.unwrap_or(x.max_bits);
    if bits < x.min_bits || bits > x.max_bits || !bits.is_multiple_of(8) {
        return err(format!(
            "encryption {name:?}: key_bits {bits}: it takes {} to {} bits, in bytes",
            x.min_bits, x.max_bits
        ));
    }
    Ok((alg, usize::from(bits)))
}

/// An integrity algorithm by setkey's name, with its key size.
fn authentication(name: &str) -> Result<(AuthAlgorithm, usize), InventoryError> {
    let row = algorithms::by_name(Kind::Authentication, name.as_bytes()).map(|(row, _)| row);
    let (Some(row), Some(Setkey::Auth(alg))) = (row, row.map(|r| r.setkey)) else {
        return err(format!(
            "authentication {name:?}: not a setkey -A name (e.g. {})",
            algorithms::RECOMMENDED_INTEGRITY
        ));
    };
    let Some(x) = row.xfrm else {
        return err(format!("authentication {name:?}: Linux does not offer it"));
    };
    Ok((alg, usize::from(x.max_bits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Vec<Pair>, InventoryError> {
        Inventory::from_toml(text)?.resolve()
    }

    const HOSTS: &str = r#"
[[host]]
name = "gw"
addresses = ["192.0.2.1", "2001:db8::1"]
[[host]]
name = "web1"
addresses = ["192.0.2.11"]
[[host]]
name = "web2"
addresses = ["2001:db8::12", "192.0.2.12"]
"#;

    #[test]
    fn hubs_and_pairs_become_pairs_in_order() {
        let pairs = resolve(&format!(
            "{HOSTS}\n[[link]]\nhub = \"gw\"\nspokes = [\"web1\", \"web2\"]\n\
             [[link]]\npair = [\"web1\", \"web2\"]\nprotocols = [\"ah\", \"esp\"]\n"
        ))
        .expect("resolves");
        let ends: Vec<_> = pairs.iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(ends, [(0, 1), (0, 2), (1, 2)]);
        // the first address of a family both have
        assert_eq!(pairs[1].addr_a.to_string(), "192.0.2.1");
        assert_eq!(pairs[1].addr_b.to_string(), "192.0.2.12");
        // rsetkey's defaults; protocols ESP first
        assert_eq!(pairs[0].settings.protocols, [Protocol::Esp]);
        assert_eq!(pairs[2].settings.protocols, [Protocol::Esp, Protocol::Ah]);
        assert_eq!(
            pairs[0].settings.encryption,
            (EncryptAlgorithm::AesCbc, 256)
        );
        assert_eq!(
            pairs[0].settings.authentication,
            (AuthAlgorithm::HmacSha256, 256)
        );
        assert_eq!(pairs[0].nets_a[0].prefixlen, 32);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[[host]]\nname = \"a\"\naddresses = []\n", "no addresses"),
            (
                "[[host]]\nname = \"../a\"\naddresses = [\"192.0.2.1\"]\n",
                "names a file",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\", \"db\"]\n"),
                "\"db\", which is no host",
            ),
            (
                &format!(
                    "{HOSTS}[[link]]\npair = [\"gw\", \"web1\"]\n[[link]]\npair = [\"web1\", \"gw\"]\n"
                ),
                "linked twice",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\"]\n"),
                "pair names two hosts",
            ),
            (
                &format!("{HOSTS}[[link]]\nhub = \"gw\"\n"),
                "give either pair",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\", \"web1\"]\nencryption = \"rot13\"\n"),
                "not a setkey -E name",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\", \"web1\"]\nkey_bits = 100\n"),
                "128 to 256 bits",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\", \"web1\"]\nprotocols = []\n"),
                "protocols is empty",
            ),
            (
                &format!("{HOSTS}[[link]]\npair = [\"gw\", \"web1\"]\nprotocols = [\"gre\"]\n"),
                "unknown variant",
            ),
            (
                &format!("{HOSTS}[[link]]\npairs = [\"gw\"]\n"),
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let e = resolve(text).expect_err(text);
            assert!(e.0.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn networks_parse_with_or_without_a_prefix() {
        assert_eq!(
            network("10.0.0.0/24"),
            Ok(Network {
                addr: "10.0.0.0".parse().expect("address"),
                prefixlen: 24
            })
        );
        assert_eq!(network("2001:db8::1").map(|n| n.prefixlen), Ok(128));
        assert!(network("10.0.0.0/33").is_err());
        assert!(network("ten").is_err());
    }
}
