//! The protocols database (`/etc/protocols`), for selector names.
//!
//! setkey names upper-layer protocols with `getprotobynumber`, which on a
//! files-only system returns the first line of `/etc/protocols` with that
//! number. The table is injectable so tests can use a pinned file.

use std::sync::OnceLock;

/// Protocol number → official name.
#[derive(Debug, Clone)]
pub struct Protocols {
    names: Vec<Option<String>>,
}

impl Default for Protocols {
    fn default() -> Self {
        Protocols {
            names: vec![None; 256],
        }
    }
}

impl Protocols {
    /// An empty database (every protocol prints as its number).
    pub fn empty() -> Protocols {
        Protocols::default()
    }

    /// Parses `/etc/protocols` text: `name number [aliases] [# comment]`;
    /// the first entry for a number wins, malformed lines are skipped.
    pub fn parse(text: &str) -> Protocols {
        let mut db = Protocols::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let (Some(name), Some(number)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(n) = number.parse::<u8>() else {
                continue;
            };
            let slot = &mut db.names[usize::from(n)];
            if slot.is_none() {
                *slot = Some(name.to_string());
            }
        }
        db
    }

    /// The system database, read once from `/etc/protocols` (empty if it
    /// cannot be read, like a failing `getprotobynumber`).
    pub fn system() -> &'static Protocols {
        static SYSTEM: OnceLock<Protocols> = OnceLock::new();
        SYSTEM.get_or_init(|| {
            std::fs::read_to_string("/etc/protocols")
                .map(|t| Protocols::parse(&t))
                .unwrap_or_default()
        })
    }

    /// The official name of protocol `n`, if listed.
    pub fn name(&self, n: u8) -> Option<&str> {
        self.names.get(usize::from(n)).and_then(|s| s.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_wins_and_comments_are_ignored() {
        let db = Protocols::parse(
            "# c\nip\t0\tIP\t# x\nhopopt\t0\tHOPOPT\nipv6-icmp 58 IPv6-ICMP\nbad\nx 300\n#y 6\n",
        );
        assert_eq!(db.name(0), Some("ip"));
        assert_eq!(db.name(58), Some("ipv6-icmp"));
        assert_eq!(db.name(6), None);
        assert_eq!(db.name(255), None);
    }
}
