//! The client's address behind a reverse proxy (issue 12). The socket's
//! peer is the client, unless the peer is one of `[proxy] trusted`: then
//! `X-Forwarded-For` is read from the right, skipping trusted proxies, and
//! the first address that is not one is the client. An untrusted peer
//! cannot choose its address with the header: it is ignored.

use std::net::IpAddr;

/// One network, e.g. `10.0.0.0/8` or `::1/128` (a bare address is /32 or
/// /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Network {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = address
            .parse::<IpAddr>()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?
            .to_canonical();
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        // Trusting every address lets any client forge its address and
        // scheme in `X-Forwarded-*` (review E16): name the proxies.
        if prefix == 0 {
            return Err(format!(
                "{text:?} trusts every address; list the proxies themselves"
            ));
        }
        Ok(Self { base, prefix })
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, an IPv4 client of a
    /// dual-stack listener) counts as the IPv4 address it is.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.base, address.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }

    /// Wider than a site's own network (an IPv4 /8, an IPv6 /32): worth a
    /// warning, since every address in it may name any client.
    pub fn is_broad(&self) -> bool {
        match self.base {
            IpAddr::V4(_) => self.prefix < 8,
            IpAddr::V6(_) => self.prefix < 32,
        }
    }
}

/// `[proxy] trusted`: comma-separated networks.
/// The client as per-address limits count it (review E2): an IPv4
/// address, or the IPv6 network of `ipv6_prefix` bits around an IPv6
/// address. One subscriber or host gets a whole /64 (and picks new
/// addresses in it at will, privacy addresses among them): counted per
/// address, each would buy fresh limits, and a known device would never
/// stay known.
pub fn limit_address(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(ipv6_prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

/// `limit_address` as the text keys are made of: `203.0.113.9`, or
/// `2001:db8:1:2::/64`.
pub fn limit_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match limit_address(ip, ipv6_prefix) {
        IpAddr::V6(network) => format!("{network}/{}", ipv6_prefix.min(128)),
        v4 => v4.to_string(),
    }
}

pub fn parse_trusted(list: &str) -> Result<Vec<Network>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(Network::parse)
        .collect()
}

/// The client's address: `peer`, or, when `peer` is a trusted proxy, the
/// rightmost address of `forwarded_for` (all `X-Forwarded-For` values in
/// order) that is not a trusted proxy.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[Network],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |address: IpAddr| trusted.iter().any(|n| n.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>().map(|a| a.to_canonical()) else {
            // Garbage in the chain: the last hop we could trust stands.
            return client;
        };
        client = address;
        if !is_trusted(address) {
            return address;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let ten = Network::parse("10.0.0.0/8").expect("valid");
        assert!(ten.contains(ip("10.1.2.3")));
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(!ten.contains(ip("::1")));
        assert!(Network::parse("127.0.0.1")
            .expect("valid")
            .contains(ip("127.0.0.1")));
        assert!(Network::parse("::1").expect("valid").contains(ip("::1")));
        assert!(Network::parse("0.0.0.0/0").is_err(), "every address");
        assert!(Network::parse("::/0").is_err(), "every address");
        assert!(Network::parse("0.0.0.0/1").expect("valid").is_broad());
        assert!(!Network::parse("10.0.0.0/8").expect("valid").is_broad());
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("example.com").is_err());
        assert!(parse_trusted(" 10.0.0.0/8, ::1 ,").expect("valid").len() == 2);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let a = limit_key(ip("2001:db8:1:2:aaaa::1"), 64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64), a);
        assert_ne!(limit_key(ip("2001:db8:1:3::1"), 64), a);
        assert_eq!(limit_key(ip("2001:db8:1:2::1"), 128), "2001:db8:1:2::1/128");
        assert_eq!(limit_key(ip("203.0.113.9"), 64), "203.0.113.9");
        assert_eq!(limit_key(ip("::ffff:203.0.113.9"), 64), "203.0.113.9");
        assert_eq!(limit_address(ip("::1"), 64), ip("::"));
    }

    /// A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d` (review
    /// E16): they match IPv4 entries, and come out as IPv4 addresses.
    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_addresses_they_carry() {
        let trusted = parse_trusted("10.0.0.0/8").expect("valid");
        assert!(trusted[0].contains(ip("::ffff:10.1.2.3")));
        assert!(!trusted[0].contains(ip("::ffff:11.1.2.3")));
        let header = ["::ffff:203.0.113.9"];
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), header.iter().copied(), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("::ffff:198.51.100.7"), [].into_iter(), &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = parse_trusted("10.0.0.0/8").expect("valid");
        let header = ["203.0.113.9, 10.0.0.5"];
        // From a trusted proxy: the rightmost untrusted hop.
        assert_eq!(
            client_address(ip("10.0.0.1"), header.iter().copied(), &trusted),
            ip("203.0.113.9")
        );
        // From anyone else: the header is ignored.
        assert_eq!(
            client_address(ip("198.51.100.7"), header.iter().copied(), &trusted),
            ip("198.51.100.7")
        );
        // A client cannot hide behind an address it prepends itself.
        let spoofed = ["1.2.3.4, 203.0.113.9"];
        assert_eq!(
            client_address(ip("10.0.0.1"), spoofed.iter().copied(), &trusted),
            ip("203.0.113.9")
        );
        // Garbage: the last trusted hop.
        assert_eq!(
            client_address(ip("10.0.0.1"), ["nonsense"].iter().copied(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), std::iter::empty(), &trusted),
            ip("10.0.0.1")
        );
    }
}
