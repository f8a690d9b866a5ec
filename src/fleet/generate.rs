//! `rsetkey generate`: every host's script from an inventory.
//!
//! Per pair of linked hosts A and B and per protocol, two SAs (A to B and
//! B to A), each with its own fresh keys and an SPI no other SA of the
//! inventory has; both hosts' scripts carry both SAs. Then the policies:
//! on A an `out` policy for A's traffic to B and an `in` policy for B's
//! traffic to A, on B the same traffic the other way round (tunnel mode:
//! between the networks behind them, through a tunnel between their
//! addresses). Every script starts with `flush;` and `spdflush;`, so that
//! loading it replaces the host's state.
//!
//! Keys come from the operating system (`getrandom(2)`) into buffers that
//! are wiped when dropped. With a seed they come from ChaCha20 seeded with
//! it instead: the same inventory and seed give the same scripts, which
//! tests need and nothing else should use. SPIs are drawn from the same
//! source; [`kept_spis`] reads the SPIs of existing scripts so that a
//! rekey keeps them.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use zeroize::Zeroizing;

use super::inventory::{Inventory, InventoryError, Mode, Network, Pair, Protocol};
use super::{SHEBANG, Script};
use crate::ir::{
    Direction, IpsecMode, IpsecRequest, Key, Keys, Level, Lifetime, Operation, PRIORITY_DEFAULT,
    Policy, PolicyAction, PolicyRequest, SaType, SecurityAssociation, SelectorAddress, Transforms,
    UPPER_ANY, sa_flags,
};

/// The smallest SPI drawn: 0 to 255 are reserved (RFC 4303).
const SPI_MIN: u32 = 0x100;

/// Where keys and SPIs come from.
#[allow(missing_debug_implementations)] // a generator's state is a secret
pub enum Randomness {
    /// `getrandom(2)`.
    Os,
    /// ChaCha20 with a fixed seed: reproducible, for tests only.
    Seeded(Box<ChaCha20Rng>),
}

impl Randomness {
    /// A reproducible source from `seed`.
    pub fn seeded(seed: u64) -> Randomness {
        Randomness::Seeded(Box::new(ChaCha20Rng::seed_from_u64(seed)))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<(), GenerateError> {
        match self {
            Randomness::Os => getrandom::fill(buf)
                .map_err(|e| GenerateError(format!("no random bytes from the system: {e}"))),
            Randomness::Seeded(rng) => {
                rng.fill_bytes(buf);
                Ok(())
            }
        }
    }

    fn key(&mut self, bits: usize) -> Result<Key, GenerateError> {
        let mut bytes = Zeroizing::new(vec![0u8; bits / 8]);
        self.fill(&mut bytes)?;
        // moved into the key, not copied; the key wipes it when dropped
        Ok(Key::new(std::mem::take(&mut *bytes)))
    }

    fn u32(&mut self) -> Result<u32, GenerateError> {
        let mut b = [0u8; 4];
        self.fill(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
}

/// Why no scripts were generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GenerateError(pub String);

impl From<InventoryError> for GenerateError {
    fn from(e: InventoryError) -> Self {
        GenerateError(e.0)
    }
}

/// The SPIs to keep: (source, destination, protocol) to SPI.
pub type KeptSpis = HashMap<(IpAddr, IpAddr, SaType), u32>;

/// The SPIs of the SAs a script adds.
pub fn kept_spis(script: &Script, into: &mut KeptSpis) {
    for (op, _) in script.operations() {
        if let Operation::Add(sa) = op {
            into.insert((sa.src.ip(), sa.dst.ip(), sa.satype), sa.spi);
        }
    }
}

/// One host's script.
#[derive(Debug)]
pub struct HostScript {
    /// The host's name (the file is `NAME.conf`).
    pub name: String,
    /// The script (keys in it: wiped when dropped).
    pub text: Zeroizing<String>,
    /// How many SAs it adds.
    pub sas: usize,
    /// How many policies it adds.
    pub policies: usize,
}

/// Every host's script for `inventory` (`source` names it in the
/// scripts' comment). SPIs in `kept` are reused for the same source,
/// destination and protocol; every other SPI and every key is drawn.
pub fn generate(
    inventory: &Inventory,
    source: &str,
    kept: &KeptSpis,
    random: &mut Randomness,
) -> Result<Vec<HostScript>, GenerateError> {
    let pairs = inventory.resolve()?;
    let mut used: BTreeSet<u32> = kept.values().copied().collect();
    let mut per_host: Vec<Vec<Operation>> = vec![Vec::new(); inventory.hosts.len()];
    let mut comments: Vec<Vec<(usize, String)>> = vec![Vec::new(); inventory.hosts.len()];
    for pair in &pairs {
        let (name_a, name_b) = (&inventory.hosts[pair.a].name, &inventory.hosts[pair.b].name);
        let sas = pair_sas(pair, kept, &mut used, random)?;
        for (host, peer) in [(pair.a, name_b), (pair.b, name_a)] {
            let ops = &mut per_host[host];
            comments[host].push((ops.len(), format!("# with {peer}")));
            ops.extend(sas.iter().map(|sa| Operation::Add(Box::new(sa.clone()))));
        }
        let (on_a, on_b) = pair_policies(pair);
        per_host[pair.a].extend(on_a.into_iter().map(Operation::SpdAdd));
        per_host[pair.b].extend(on_b.into_iter().map(Operation::SpdAdd));
    }
    let mut scripts = Vec::new();
    for ((host, ops), comments) in inventory.hosts.iter().zip(&per_host).zip(&comments) {
        // Room for every line at once: growing the buffer would leave
        // copies of keys in freed memory.
        let mut text = Zeroizing::new(String::with_capacity(256 + ops.len() * 512));
        text.push_str(SHEBANG);
        text.push_str("\nflush;\nspdflush;\n");
        text.push_str(&format!(
            "# {}: written by `rsetkey generate` from {source}; generate again rather than edit\n",
            host.name
        ));
        let mut comments = comments.iter().peekable();
        for (i, op) in ops.iter().enumerate() {
            while let Some((_, c)) = comments.next_if(|(at, _)| *at == i) {
                text.push_str(c);
                text.push('\n');
            }
            crate::ir::print::operation(op, Keys::Show, &mut text);
            text.push('\n');
        }
        scripts.push(HostScript {
            name: host.name.clone(),
            text,
            sas: ops
                .iter()
                .filter(|o| matches!(o, Operation::Add(_)))
                .count(),
            policies: ops
                .iter()
                .filter(|o| matches!(o, Operation::SpdAdd(_)))
                .count(),
        });
    }
    Ok(scripts)
}

fn satype(p: Protocol) -> SaType {
    match p {
        Protocol::Esp => SaType::Esp,
        Protocol::Ah => SaType::Ah,
    }
}

/// The mode of the `i`th protocol of a link: in tunnel mode the first
/// one (ESP, the inner request) makes the tunnel, the others protect it.
fn mode_of(pair: &Pair, i: usize) -> IpsecMode {
    match pair.settings.mode {
        Mode::Tunnel if i == 0 => IpsecMode::Tunnel,
        _ => IpsecMode::Transport,
    }
}

/// The SAs of a pair: per protocol, A to B then B to A.
fn pair_sas(
    pair: &Pair,
    kept: &KeptSpis,
    used: &mut BTreeSet<u32>,
    random: &mut Randomness,
) -> Result<Vec<SecurityAssociation>, GenerateError> {
    let s = &pair.settings;
    let with_ah = s.protocols.contains(&Protocol::Ah);
    let mut sas = Vec::new();
    for (i, &p) in s.protocols.iter().enumerate() {
        for (src, dst) in [(pair.addr_a, pair.addr_b), (pair.addr_b, pair.addr_a)] {
            let spi = match kept.get(&(src, dst, satype(p))) {
                Some(&spi) => spi,
                None => loop {
                    let spi = random.u32()?;
                    if spi >= SPI_MIN && used.insert(spi) {
                        break spi;
                    }
                },
            };
            let (enc, enc_bits) = s.encryption;
            let (auth, auth_bits) = s.authentication;
            let auth_key = |random: &mut Randomness| -> Result<_, GenerateError> {
                Ok((
                    auth,
                    (auth_bits > 0).then(|| random.key(auth_bits)).transpose()?,
                ))
            };
            let transforms = match p {
                Protocol::Esp => Transforms {
                    encrypt: Some((enc, random.key(enc_bits)?)),
                    // with AH beside it, AH authenticates (the tutorial's way)
                    auth: if with_ah {
                        None
                    } else {
                        Some(auth_key(random)?)
                    },
                    compression: None,
                },
                Protocol::Ah => Transforms {
                    encrypt: None,
                    auth: Some(auth_key(random)?),
                    compression: None,
                },
            };
            sas.push(SecurityAssociation {
                satype: satype(p),
                src: SocketAddr::new(src, 0),
                dst: SocketAddr::new(dst, 0),
                spi,
                mode: mode_of(pair, i),
                reqid: 0,
                replay: 0,
                replay_requested: 0,
                wide_replay: None,
                flags: sa_flags::FLAG_CYCSEQ,
                transforms,
                hard: Lifetime::default(),
                soft: Lifetime::default(),
                context: None,
                nat: None,
            });
        }
    }
    Ok(sas)
}

fn selector(n: &Network) -> SelectorAddress {
    SelectorAddress {
        addr: SocketAddr::new(n.addr, 0),
        prefixlen: n.prefixlen,
    }
}

/// One policy: traffic from `src` to `dst`, sent from `from` to `to`.
fn policy(
    pair: &Pair,
    direction: Direction,
    (src, dst): (&Network, &Network),
    (from, to): (IpAddr, IpAddr),
) -> PolicyRequest {
    let requests = pair
        .settings
        .protocols
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mode = mode_of(pair, i);
            IpsecRequest {
                protocol: p.ipsec(),
                mode,
                level: Level::Require,
                reqid: 0,
                endpoints: (mode == IpsecMode::Tunnel)
                    .then(|| Box::new((SocketAddr::new(from, 0), SocketAddr::new(to, 0)))),
            }
        })
        .collect();
    PolicyRequest {
        src: selector(src),
        dst: selector(dst),
        upper: UPPER_ANY,
        policy: Policy {
            direction,
            action: PolicyAction::Ipsec,
            priority: PRIORITY_DEFAULT,
            requests,
        },
        context: None,
    }
}

/// The policies of a pair: A's and B's.
fn pair_policies(pair: &Pair) -> (Vec<PolicyRequest>, Vec<PolicyRequest>) {
    let (a, b) = (pair.addr_a, pair.addr_b);
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    for na in &pair.nets_a {
        for nb in &pair.nets_b {
            on_a.push(policy(pair, Direction::Out, (na, nb), (a, b)));
            on_a.push(policy(pair, Direction::In, (nb, na), (b, a)));
            on_b.push(policy(pair, Direction::Out, (nb, na), (b, a)));
            on_b.push(policy(pair, Direction::In, (na, nb), (a, b)));
        }
    }
    (on_a, on_b)
}

/// The path of a host's script in `dir`.
pub fn script_path(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("{host}.conf"))
}

/// Writes `text` to `path` with mode 0600, atomically: into a new file
/// beside it, flushed to disk, then renamed over it. A reader sees the
/// old script or the new one, never half of one, and never a moment
/// when others could read the keys.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // the umask may have taken bits away, never added any: set exactly
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[defaults]
protocols = ["esp", "ah"]
[[host]]
name = "gw"
addresses = ["192.0.2.1"]
[[host]]
name = "web1"
addresses = ["192.0.2.11"]
[[host]]
name = "web2"
addresses = ["192.0.2.12"]
[[link]]
hub = "gw"
spokes = ["web1", "web2"]
"#;

    fn run(text: &str, kept: &KeptSpis, seed: u64) -> Vec<HostScript> {
        let inventory = Inventory::from_toml(text).expect("inventory");
        generate(&inventory, "x.toml", kept, &mut Randomness::seeded(seed)).expect("generates")
    }

    #[test]
    fn every_host_gets_a_flushing_script_that_parses() {
        let scripts = run(EXAMPLE, &KeptSpis::new(), 1);
        let names: Vec<_> = scripts.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["gw", "web1", "web2"]);
        for s in &scripts {
            assert!(
                s.text
                    .starts_with("#!/usr/sbin/rsetkey -f\nflush;\nspdflush;\n"),
                "{}",
                s.name
            );
            let parsed = Script::parse(&s.name, s.text.clone()).expect("parses");
            assert_eq!(
                parsed.operations().count(),
                2 + s.sas + s.policies,
                "{}",
                s.name
            );
        }
        // the hub: 2 spokes x 2 protocols x 2 directions; a spoke: 4
        assert_eq!((scripts[0].sas, scripts[0].policies), (8, 4));
        assert_eq!((scripts[1].sas, scripts[1].policies), (4, 2));
    }

    #[test]
    fn seeds_reproduce_and_spis_are_unique() {
        let a = run(EXAMPLE, &KeptSpis::new(), 7);
        let b = run(EXAMPLE, &KeptSpis::new(), 7);
        let c = run(EXAMPLE, &KeptSpis::new(), 8);
        assert_eq!(*a[0].text, *b[0].text);
        assert_ne!(*a[0].text, *c[0].text);
        let gw = Script::parse("gw", a[0].text.clone()).expect("parses");
        let mut spis = KeptSpis::new();
        kept_spis(&gw, &mut spis);
        let unique: BTreeSet<u32> = spis.values().copied().collect();
        assert_eq!(unique.len(), 8);
        assert!(unique.iter().all(|&s| s >= SPI_MIN));
    }

    #[test]
    fn kept_spis_are_kept_and_keys_are_new() {
        let first = run(EXAMPLE, &KeptSpis::new(), 1);
        let mut kept = KeptSpis::new();
        for s in &first {
            kept_spis(
                &Script::parse(&s.name, s.text.clone()).expect("parses"),
                &mut kept,
            );
        }
        let second = run(EXAMPLE, &kept, 2);
        let mut again = KeptSpis::new();
        for s in &second {
            kept_spis(
                &Script::parse(&s.name, s.text.clone()).expect("parses"),
                &mut again,
            );
        }
        assert_eq!(kept, again);
        assert_ne!(*first[0].text, *second[0].text);
    }

    #[test]
    fn tunnel_links_protect_the_networks_behind() {
        let text = r#"
[[host]]
name = "east"
addresses = ["192.0.2.1"]
networks = ["10.1.0.0/16"]
[[host]]
name = "west"
addresses = ["192.0.2.2"]
networks = ["10.2.0.0/16"]
[[link]]
pair = ["east", "west"]
mode = "tunnel"
"#;
        let scripts = run(text, &KeptSpis::new(), 1);
        let east = &scripts[0].text;
        assert!(
            east.contains(
                "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec \
                 esp/tunnel/192.0.2.1-192.0.2.2/require;"
            ),
            "{}",
            **east
        );
        assert!(east.contains("-m tunnel"), "{}", **east);
    }

    #[test]
    fn scripts_are_written_private() {
        let dir = std::env::temp_dir().join(format!("rsetkey-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = script_path(&dir, "gw");
        write_private(&path, "flush;\n").expect("writes");
        write_private(&path, "spdflush;\n").expect("writes again");
        let meta = std::fs::metadata(&path).expect("metadata");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).expect("reads"),
            "spdflush;\n"
        );
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
