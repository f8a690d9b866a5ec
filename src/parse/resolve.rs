//! Name resolution for scripts: host names, service names and protocol
//! names, the way setkey looks them up.
//!
//! setkey resolves every address with `getaddrinfo` (datagram socket type,
//! UDP, `AI_NUMERICHOST` for `-n`) and keeps glibc's result order,
//! duplicates included, and upper-layer protocols with `getprotobyname`.
//! [`SystemNames`] does exactly that on the running system (this file holds
//! the parser's only `unsafe`: the `getaddrinfo` FFI). [`FileNames`] answers
//! from the texts of a `hosts`, `services` and `protocols` file, behaving like
//! glibc with `hosts: files` in nsswitch.conf: tests use it so results do
//! not depend on the machine.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::OnceLock;

use crate::ir::SmallList;

/// Which address family `-4`/`-6` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// No flag: both families.
    #[default]
    Any,
    /// `-4`.
    V4,
    /// `-6`.
    V6,
}

/// The answer of one lookup, in the resolver's order (duplicates kept).
///
/// Nearly every address of a script is numeric and resolves to itself
/// alone: that answer is held inline, so resolving it allocates nothing.
pub type Addresses = SmallList<SocketAddr>;

/// The lookups the parser needs. Errors are `gai_strerror` texts, which
/// setkey prints verbatim.
pub trait NameService {
    /// `getaddrinfo(host, service)` with setkey's hints; `service` is a port
    /// number or a UDP service name (`None` = no service, port 0).
    fn resolve(
        &self,
        host: &str,
        service: Option<&str>,
        family: Family,
        numeric: bool,
    ) -> Result<Addresses, String>;

    /// `getprotobyname(name)`: the protocol number of a name or alias.
    fn protocol(&self, name: &str) -> Option<u8>;
}

/// glibc's texts for the `getaddrinfo` errors the files emulation produces.
const EAI_NONAME_TEXT: &str = "Name or service not known";
const EAI_ADDRFAMILY_TEXT: &str = "Address family for hostname not supported";
const EAI_SERVICE_TEXT: &str = "Servname not supported for ai_socktype";

/// The name → number table of a `protocols` file: official names and
/// aliases, case-sensitive like glibc; the first line naming a protocol
/// wins, as in glibc's sequential scan.
#[derive(Debug, Clone, Default)]
struct ProtocolTable(HashMap<String, u8>);

impl ProtocolTable {
    fn parse(text: &str) -> ProtocolTable {
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(official) = fields.next() else {
                continue;
            };
            // A line without a valid number names nothing.
            let Some(number) = fields.next().and_then(|n| n.parse::<u8>().ok()) else {
                continue;
            };
            for name in std::iter::once(official).chain(fields) {
                map.entry(name.to_string()).or_insert(number);
            }
        }
        ProtocolTable(map)
    }

    fn get(&self, name: &str) -> Option<u8> {
        self.0.get(name).copied()
    }
}

/// Resolution through the C library of the running system.
#[derive(Debug, Clone, Default)]
pub struct SystemNames {
    /// Path of the protocols database; `None` = `/etc/protocols`.
    pub protocols_file: Option<std::path::PathBuf>,
    /// The protocols database, read at the first lookup (a script names
    /// upper-layer protocols in many statements; setkey's getprotobyname
    /// would rescan the file each time, with the same answers). `None`
    /// inside = the file could not be read.
    protocols: OnceLock<Option<ProtocolTable>>,
}

impl SystemNames {
    /// Resolution through the C library, with upper-layer protocol names
    /// read from `path` instead of `/etc/protocols`.
    pub fn with_protocols_file(path: impl Into<std::path::PathBuf>) -> SystemNames {
        SystemNames {
            protocols_file: Some(path.into()),
            protocols: OnceLock::new(),
        }
    }
}

impl NameService for SystemNames {
    fn resolve(
        &self,
        host: &str,
        service: Option<&str>,
        family: Family,
        numeric: bool,
    ) -> Result<Addresses, String> {
        // A dotted quad in its plain form (no leading zeros, which the C
        // library would read as octal) is what getaddrinfo answers first
        // and alone, before any lookup: one address, with the port of a
        // service written in decimal (0 without one). Scripts are mostly
        // such addresses (a policy's come with the service "0"); the C
        // call per address was a tenth of parsing them.
        if matches!(family, Family::Any | Family::V4)
            && let Some(port) = service.map_or(Some(0), numeric_port)
            && let Some(ip) = dotted_quad(host)
        {
            return Ok(Addresses::one(SocketAddr::from((ip, port))));
        }
        getaddrinfo(host, service, family, numeric)
    }

    fn protocol(&self, name: &str) -> Option<u8> {
        self.protocols
            .get_or_init(|| {
                let path = self
                    .protocols_file
                    .as_deref()
                    .unwrap_or(std::path::Path::new("/etc/protocols"));
                let text = std::fs::read_to_string(path).ok()?;
                Some(ProtocolTable::parse(&text))
            })
            .as_ref()?
            .get(name)
    }
}

/// A service written as plain decimal digits that fit a port, which
/// getaddrinfo takes as that port without a lookup; `None` for anything
/// else (names, signs, blanks, more digits than a port has), which is left
/// to the C library.
fn numeric_port(service: &str) -> Option<u16> {
    if service.is_empty() || service.len() > 5 || !service.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    service.parse().ok()
}

/// A dotted quad as [`Ipv4Addr`]'s parser reads it (four decimal numbers
/// of at most three digits, no leading zero, each up to 255), an octet at
/// a time: most of a script's words are addresses.
fn dotted_quad(host: &str) -> Option<Ipv4Addr> {
    let (a, rest) = octet(host.as_bytes())?;
    let (b, rest) = octet(after_dot(rest)?)?;
    let (c, rest) = octet(after_dot(rest)?)?;
    let (d, rest) = octet(after_dot(rest)?)?;
    rest.is_empty().then(|| Ipv4Addr::new(a, b, c, d))
}

/// What follows a `.` at the start of `bytes`.
#[inline(always)]
fn after_dot(bytes: &[u8]) -> Option<&[u8]> {
    match bytes.split_first() {
        Some((b'.', rest)) => Some(rest),
        _ => None,
    }
}

/// The octet at the start of `bytes` (one to three digits, no leading
/// zero, at most 255) and what follows it. A fourth digit is left in
/// what follows, where a `.` or the end is expected: the quad is refused
/// as [`Ipv4Addr`]'s parser refuses it.
#[inline(always)]
fn octet(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let digit = |n: usize| {
        bytes
            .get(n)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|&d| d < 10)
    };
    let rest = |n: usize| bytes.get(n..).unwrap_or_default();
    let first = digit(0)?;
    let Some(second) = digit(1) else {
        return Some((first, rest(1)));
    };
    if first == 0 {
        return None;
    }
    let Some(third) = digit(2) else {
        return Some((first * 10 + second, rest(2)));
    };
    let value = u16::from(first) * 100 + u16::from(second) * 10 + u16::from(third);
    Some((u8::try_from(value).ok()?, rest(3)))
}

/// Calls the C library's `getaddrinfo` with setkey's hints and converts the
/// result list, in order.
fn getaddrinfo(
    host: &str,
    service: Option<&str>,
    family: Family,
    numeric: bool,
) -> Result<Addresses, String> {
    // A NUL inside a name cannot reach C; glibc would never find such a name.
    let c_host = CString::new(host).map_err(|_| EAI_NONAME_TEXT.to_string())?;
    let c_service = match service {
        Some(s) => Some(CString::new(s).map_err(|_| EAI_SERVICE_TEXT.to_string())?),
        None => None,
    };
    // SAFETY: `addrinfo` is a plain C struct for which all-zero bytes are a
    // valid value (null pointers, zero integers), as getaddrinfo(3) expects
    // for unused hint fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = match family {
        Family::Any => libc::AF_UNSPEC,
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    hints.ai_socktype = libc::SOCK_DGRAM;
    hints.ai_protocol = libc::IPPROTO_UDP;
    hints.ai_flags = if numeric { libc::AI_NUMERICHOST } else { 0 };
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: every pointer passed is valid for the call: the strings are
    // NUL-terminated and outlive it, `hints` is initialised, `res` is a
    // valid out pointer.
    let rc = unsafe {
        libc::getaddrinfo(
            c_host.as_ptr(),
            c_service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if rc != 0 {
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated
        // string for any error code.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(text.to_string_lossy().into_owned());
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned and that
        // we have not freed yet.
        let ai = unsafe { &*cur };
        if !ai.ai_addr.is_null() {
            if ai.ai_family == libc::AF_INET
                && usize::try_from(ai.ai_addrlen).unwrap_or(0)
                    >= std::mem::size_of::<libc::sockaddr_in>()
            {
                // SAFETY: family and length say this is a sockaddr_in.
                let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                out.push(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )));
            } else if ai.ai_family == libc::AF_INET6
                && usize::try_from(ai.ai_addrlen).unwrap_or(0)
                    >= std::mem::size_of::<libc::sockaddr_in6>()
            {
                // SAFETY: family and length say this is a sockaddr_in6.
                let sin6 = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                out.push(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    0,
                    sin6.sin6_scope_id,
                )));
            }
        }
        cur = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out.into())
}

/// Resolution from the texts of name-service files, emulating glibc with
/// `hosts: files`, `services: files`, `protocols: files` and an empty
/// `gai.conf` (the corpus' recording conditions).
///
/// The files are parsed once, when the value is made: lookups are map
/// look-ups, with the answers (order and duplicates included) a scan of
/// the texts would give.
#[derive(Debug, Clone, Default)]
pub struct FileNames {
    /// Host name (official or alias) → the valid addresses of the lines
    /// naming it, in file order.
    hosts: HashMap<String, Vec<(IpAddr, u32)>>,
    /// UDP service name or alias → port; the first line naming it wins.
    services: HashMap<String, u16>,
    /// Protocol name or alias → number.
    protocols: ProtocolTable,
}

/// glibc's default RFC 3484 precedence table (`::1` 50, `::/0` 40, 2002::/16
/// 30, `::/96` 20, IPv4 10), which decides the order of AF_UNSPEC results.
fn precedence(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 10,
        IpAddr::V6(a) => {
            let s = a.segments();
            if a.is_loopback() {
                50
            } else if s[0] == 0x2002 {
                30
            } else if s[..6].iter().all(|&x| x == 0) {
                20
            } else {
                40
            }
        }
    }
}

/// Parses a numeric host the way `getaddrinfo` does (IPv4 dotted quad,
/// IPv6 with an optional numeric `%scope`, or `%lo`).
fn numeric_host(host: &str) -> Option<(IpAddr, u32)> {
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Some((IpAddr::V4(v4), 0));
    }
    let (addr, scope) = match host.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (host, None),
    };
    let v6 = addr.parse::<Ipv6Addr>().ok()?;
    let scope_id = match scope {
        None => 0,
        Some("lo") => 1,
        Some(s) => s.parse().ok()?,
    };
    Some((IpAddr::V6(v6), scope_id))
}

impl FileNames {
    /// Name service answering from the texts of a `hosts`, `services` and
    /// `protocols` file.
    pub fn new(hosts: &str, services: &str, protocols: &str) -> FileNames {
        FileNames {
            hosts: parse_hosts(hosts),
            services: parse_services(services),
            protocols: ProtocolTable::parse(protocols),
        }
    }

    /// Reads `hosts`, `services` and `protocols` from a directory laid out
    /// like `/etc`.
    pub fn from_dir(dir: &std::path::Path) -> std::io::Result<FileNames> {
        Ok(FileNames::new(
            &std::fs::read_to_string(dir.join("hosts"))?,
            &std::fs::read_to_string(dir.join("services"))?,
            &std::fs::read_to_string(dir.join("protocols"))?,
        ))
    }

    /// The UDP port of a service (numeric, or a name/alias with `/udp`).
    fn port(&self, service: Option<&str>) -> Result<u16, String> {
        let Some(service) = service else { return Ok(0) };
        if !service.is_empty() && service.bytes().all(|b| b.is_ascii_digit()) {
            // glibc converts with strtoul and keeps the low 16 bits.
            let n = service.bytes().fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            return Ok((n & 0xffff) as u16);
        }
        self.services
            .get(service)
            .copied()
            .ok_or_else(|| EAI_SERVICE_TEXT.to_string())
    }

    /// The addresses of a host name in the hosts file, as glibc's files
    /// backend returns them for `family` (for AF_INET it maps `::1` to
    /// 127.0.0.1 and v4-mapped addresses to IPv4, so `localhost` can come
    /// back twice).
    fn lookup(&self, host: &str, family: Family) -> Vec<(IpAddr, u32)> {
        let Some(lines) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut found: Vec<(IpAddr, u32)> = lines
            .iter()
            .filter_map(|&(ip, scope)| {
                let ip = match (family, ip) {
                    (Family::V6, IpAddr::V4(_)) => return None,
                    (Family::V4, IpAddr::V6(v6)) => {
                        if let Some(v4) = v6.to_ipv4_mapped() {
                            IpAddr::V4(v4)
                        } else if v6.is_loopback() {
                            IpAddr::V4(Ipv4Addr::LOCALHOST)
                        } else {
                            return None;
                        }
                    }
                    (_, ip) => ip,
                };
                Some((ip, scope))
            })
            .collect();
        if family == Family::Any {
            // Stable sort: equal precedence keeps the file order.
            found.sort_by_key(|(ip, _)| std::cmp::Reverse(precedence(ip)));
        }
        found
    }
}

/// The host table of a `hosts` file: every name of a line with a valid
/// address gets that address once (however often the line repeats the
/// name), in file order.
fn parse_hosts(text: &str) -> HashMap<String, Vec<(IpAddr, u32)>> {
    let mut map: HashMap<String, Vec<(IpAddr, u32)>> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(addr) = fields.next().and_then(numeric_host) else {
            continue;
        };
        let names: Vec<&str> = fields.collect();
        for (n, name) in names.iter().enumerate() {
            if names.get(..n).is_some_and(|seen| seen.contains(name)) {
                continue;
            }
            map.entry((*name).to_string()).or_default().push(addr);
        }
    }
    map
}

/// The UDP services of a `services` file: name or alias → port of the
/// first `PORT/udp` line naming it (lines with a bad port name nothing).
fn parse_services(text: &str) -> HashMap<String, u16> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((port, "udp")) = port_proto.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        for name in std::iter::once(name).chain(fields) {
            map.entry(name.to_string()).or_insert(port);
        }
    }
    map
}

impl NameService for FileNames {
    fn resolve(
        &self,
        host: &str,
        service: Option<&str>,
        family: Family,
        numeric: bool,
    ) -> Result<Addresses, String> {
        let port = self.port(service)?;
        let socket = |(ip, scope): (IpAddr, u32)| match ip {
            IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, port)),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope)),
        };
        match numeric_host(host) {
            Some((ip, scope)) => {
                let ok = matches!(
                    (family, ip),
                    (Family::Any, _) | (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
                );
                if !ok {
                    return Err(EAI_ADDRFAMILY_TEXT.to_string());
                }
                Ok(Addresses::one(socket((ip, scope))))
            }
            None if numeric => Err(EAI_NONAME_TEXT.to_string()),
            None => {
                let addrs = self.lookup(host, family);
                if addrs.is_empty() {
                    return Err(EAI_NONAME_TEXT.to_string());
                }
                Ok(addrs.into_iter().map(socket).collect::<Vec<_>>().into())
            }
        }
    }

    fn protocol(&self, name: &str) -> Option<u8> {
        self.protocols.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass reader of dotted quads reads what the standard
    /// library's parser reads.
    #[test]
    fn dotted_quads_are_read_as_the_standard_parser_reads_them() {
        const PIECES: &[&str] = &[
            "0", "1", "9", "10", "01", "00", "25", "255", "256", "999", "1000", "300", ".", ".",
            ".", "", "a", "+1", "-", " ", "x", "\u{e9}", "0x1",
        ];
        let mut next = crate::parse::test_walk(0x0DDB_1A5E_5BAD_5EEDu64);
        for _ in 0..100_000 {
            let host: String = (0..next(9)).map(|_| PIECES[next(PIECES.len())]).collect();
            assert_eq!(
                dotted_quad(&host),
                host.parse::<Ipv4Addr>().ok(),
                "{host:?}"
            );
        }
        for host in [
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "192.0.2.010",
            "1.2.3",
            "1.2.3.4.5",
        ] {
            assert_eq!(dotted_quad(host), host.parse::<Ipv4Addr>().ok(), "{host:?}");
        }
    }

    /// The shortcut for plain dotted quads answers what the C library
    /// answers; forms it leaves to the C library still get there.
    #[test]
    fn dotted_quads_resolve_as_the_c_library_resolves_them() {
        let names = SystemNames::default();
        let services = [
            None,
            Some("0"),
            Some("500"),
            Some("00080"),
            Some("65535"),
            Some("65536"),
            Some("+80"),
            Some(" 80"),
            Some("000080"),
            Some(""),
        ];
        for host in ["10.0.0.1", "0.0.0.0", "255.255.255.255", "192.0.2.30"] {
            for family in [Family::Any, Family::V4] {
                for numeric in [true, false] {
                    for service in services {
                        assert_eq!(
                            names.resolve(host, service, family, numeric),
                            getaddrinfo(host, service, family, numeric),
                            "{host} {service:?}"
                        );
                    }
                }
            }
        }
        // octal, short and IPv6-only requests are the C library's
        let octal = names.resolve("010.0.0.1", None, Family::Any, true);
        assert_eq!(
            octal,
            Ok(Addresses::from(vec!["8.0.0.1:0".parse().unwrap()]))
        );
        let short = names.resolve("10.1", None, Family::Any, true);
        assert_eq!(
            short,
            Ok(Addresses::from(vec!["10.0.0.1:0".parse().unwrap()]))
        );
        assert_eq!(
            names.resolve("10.0.0.1", None, Family::V6, true),
            getaddrinfo("10.0.0.1", None, Family::V6, true)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_dotted_quad_resolves_as_the_c_library_resolves_it(o: [u8; 4]) {
            let host = std::net::Ipv4Addr::from(o).to_string();
            proptest::prop_assert_eq!(
                SystemNames::default().resolve(&host, None, Family::Any, true),
                getaddrinfo(&host, None, Family::Any, true)
            );
        }

        #[test]
        fn any_dotted_quad_and_port_resolve_as_the_c_library_resolves_them(
            o: [u8; 4],
            port: u16,
        ) {
            let host = std::net::Ipv4Addr::from(o).to_string();
            let service = port.to_string();
            proptest::prop_assert_eq!(
                SystemNames::default().resolve(&host, Some(&service), Family::Any, true),
                getaddrinfo(&host, Some(&service), Family::Any, true)
            );
        }
    }

    fn files() -> FileNames {
        FileNames::new(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
             192.0.2.30 dual.example\n2001:db8::30 dual.example\n",
            "ssh 22/tcp\ndomain 53/tcp\ndomain 53/udp\nisakmp 500/udp\n",
            "tcp 6 TCP\nudp 17 UDP # c\nipv6-icmp 58 IPv6-ICMP\n",
        )
    }

    #[test]
    fn localhost_orders_like_glibc() {
        let f = files();
        let any = f.resolve("localhost", None, Family::Any, false);
        assert_eq!(
            any,
            Ok(Addresses::from(vec![
                "[::1]:0".parse().unwrap(),
                "127.0.0.1:0".parse().unwrap()
            ]))
        );
        let v4 = f.resolve("localhost", None, Family::V4, false);
        assert_eq!(v4.map(|v| v.len()), Ok(2));
        let v6 = f.resolve("localhost", None, Family::V6, false);
        assert_eq!(v6, Ok(Addresses::from(vec!["[::1]:0".parse().unwrap()])));
    }

    #[test]
    fn numeric_and_errors() {
        let f = files();
        assert_eq!(
            f.resolve("10.0.0.1", Some("500"), Family::Any, true),
            Ok(Addresses::from(vec!["10.0.0.1:500".parse().unwrap()]))
        );
        assert_eq!(
            f.resolve("localhost", None, Family::Any, true),
            Err(EAI_NONAME_TEXT.into())
        );
        assert_eq!(
            f.resolve("::1", None, Family::V4, false),
            Err(EAI_ADDRFAMILY_TEXT.into())
        );
        assert_eq!(
            f.resolve("10.0.0.300", None, Family::Any, false),
            Err(EAI_NONAME_TEXT.into())
        );
        assert_eq!(
            f.resolve("1.2.3.4", Some("ssh"), Family::Any, false),
            Err(EAI_SERVICE_TEXT.into())
        );
        assert_eq!(
            f.resolve("1.2.3.4", Some("isakmp"), Family::Any, false),
            Ok(Addresses::from(vec!["1.2.3.4:500".parse().unwrap()]))
        );
    }

    #[test]
    fn protocols_by_name_and_alias() {
        let f = files();
        assert_eq!(f.protocol("udp"), Some(17));
        assert_eq!(f.protocol("TCP"), Some(6));
        assert_eq!(f.protocol("IPv6-ICMP"), Some(58));
        assert_eq!(f.protocol("icmp6"), None);
    }

    #[test]
    fn tables_keep_the_answers_of_a_file_scan() {
        let f = FileNames::new(
            "10.0.0.1 a a b # a comment naming c\nbogus a\n10.0.0.2 b a\n::ffff:10.0.0.3 a\n",
            "x 7/tcp\nx 70000/udp\nx 9/udp y\ny 10/udp\nnoslash 11\n",
            "p 300 P\nq 5 P p\n",
        );
        // One entry per line naming the host, invalid addresses skipped,
        // file order (IPv4-mapped kept as IPv6 for AF_UNSPEC).
        assert_eq!(
            f.resolve("a", None, Family::Any, false),
            Ok(Addresses::from(vec![
                "[::ffff:10.0.0.3]:0".parse().unwrap(),
                "10.0.0.1:0".parse().unwrap(),
                "10.0.0.2:0".parse().unwrap(),
            ]))
        );
        assert_eq!(
            f.resolve("a", None, Family::V4, false).map(|v| v.len()),
            Ok(3)
        );
        assert!(f.resolve("c", None, Family::Any, false).is_err());
        // The first valid UDP line wins; aliases count.
        assert_eq!(
            f.resolve("10.0.0.9", Some("x"), Family::Any, true),
            Ok(Addresses::from(vec!["10.0.0.9:9".parse().unwrap()]))
        );
        assert_eq!(
            f.resolve("10.0.0.9", Some("y"), Family::Any, true),
            Ok(Addresses::from(vec!["10.0.0.9:9".parse().unwrap()]))
        );
        assert_eq!(
            f.resolve("10.0.0.9", Some("noslash"), Family::Any, true),
            Err(EAI_SERVICE_TEXT.into())
        );
        // A number that is no u8 makes the line invisible.
        assert_eq!(f.protocol("P"), Some(5));
        assert_eq!(f.protocol("p"), Some(5));
    }

    #[test]
    fn system_protocols_are_read_once_per_instance() {
        let dir = std::env::temp_dir().join(format!("rsetkey-protocols-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("protocols");
        std::fs::write(&path, "udp 17 UDP\n").expect("write");
        let s = SystemNames::with_protocols_file(&path);
        assert_eq!(s.protocol("UDP"), Some(17));
        std::fs::write(&path, "udp 99 UDP\n").expect("write");
        assert_eq!(s.protocol("udp"), Some(17));
        let _ = std::fs::remove_dir_all(&dir);
        let missing = SystemNames::with_protocols_file(dir.join("none"));
        assert_eq!(missing.protocol("udp"), None);
    }

    #[test]
    fn system_resolver_handles_numeric_addresses() {
        let s = SystemNames::default();
        assert_eq!(
            s.resolve("192.0.2.1", Some("0"), Family::Any, true),
            Ok(Addresses::from(vec!["192.0.2.1:0".parse().unwrap()]))
        );
        assert!(s.resolve("no such host", None, Family::Any, true).is_err());
        assert!(s.resolve("a\0b", None, Family::Any, true).is_err());
    }
}
