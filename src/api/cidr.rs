//! Address ranges for `serve --trusted-proxy CIDR`: `10.0.0.0/8`, `127.0.0.1/32`, `fd00::/8`, or a
//! bare address (the one address).
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    BadAddress(String),
    BadPrefix(String),
    /// Bits set past the prefix (`10.0.0.1/8`): most likely a typo for another range.
    HostBits,
}

impl std::fmt::Display for CidrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CidrError::BadAddress(a) => write!(f, "{a:?} is not an IPv4 or IPv6 address"),
            CidrError::BadPrefix(p) => write!(
                f,
                "{p:?} is not a prefix length (0 to 32 for IPv4, 0 to 128 for IPv6)"
            ),
            CidrError::HostBits => write!(
                f,
                "the address has bits set past the prefix length (write the network's first address)"
            ),
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::BadAddress(addr.to_string()))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max && !p.starts_with('+'))
                .ok_or_else(|| CidrError::BadPrefix(p.to_string()))?,
        };
        let cidr = Cidr { network, prefix };
        if bits(network) & !mask(prefix, max) != 0 {
            return Err(CidrError::HostBits);
        }
        Ok(cidr)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in the range. An IPv4 peer seen as IPv6 (`::ffff:127.0.0.1`, on a dual-stack
    /// listener) is taken as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let max = match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) => 32,
            (IpAddr::V6(_), IpAddr::V6(_)) => 128,
            _ => return false,
        };
        let m = mask(self.prefix, max);
        bits(ip) & m == bits(self.network) & m
    }
}

/// The address as a number, IPv4 in the low 32 bits.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The first `prefix` of `max` bits set (in the low `max` bits).
fn mask(prefix: u8, max: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().expect("a valid range")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn ipv4_ranges() {
        let r = cidr("10.1.0.0/16");
        assert!(r.contains(ip("10.1.0.0")));
        assert!(r.contains(ip("10.1.255.255")));
        assert!(!r.contains(ip("10.2.0.1")));
        assert!(cidr("127.0.0.1/32").contains(ip("127.0.0.1")));
        assert!(!cidr("127.0.0.1/32").contains(ip("127.0.0.2")));
        assert!(cidr("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
    }

    #[test]
    fn ipv6_ranges_and_mapped_ipv4_peers() {
        let r = cidr("fd00::/8");
        assert!(r.contains(ip("fd12:3456::1")));
        assert!(!r.contains(ip("fe80::1")));
        assert!(cidr("::1/128").contains(ip("::1")));
        assert!(!cidr("::1/128").contains(ip("::2")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(cidr("127.0.0.0/8").contains(ip("::ffff:127.0.0.1")));
        assert!(!cidr("::1/128").contains(ip("127.0.0.1")));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        assert!(matches!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/+8".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert_eq!("10.0.0.1/8".parse::<Cidr>(), Err(CidrError::HostBits));
        assert!(matches!(
            "example.org/8".parse::<Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }
}
