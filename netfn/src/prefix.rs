//! IP prefixes (`10.20.0.0/16`, `fd00::/64`): the unit of allowed IPs and routes.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// An IPv4 or IPv6 prefix. The address is kept as written; [`IpPrefix::network`]
/// gives it with the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address part.
    pub addr: IpAddr,
    /// The prefix length in bits (0..=32 for IPv4, 0..=128 for IPv6).
    pub len: u8,
}

/// Why a prefix string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// The address part is not an IPv4 or IPv6 address.
    BadAddress,
    /// The length after `/` is not a number in range for the address family.
    BadLength,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrefixError::BadAddress => f.write_str("not an IPv4 or IPv6 address"),
            PrefixError::BadLength => f.write_str("prefix length out of range"),
        }
    }
}

impl IpPrefix {
    /// A prefix; `None` when `len` is too long for the family.
    pub fn new(addr: IpAddr, len: u8) -> Option<IpPrefix> {
        (len <= max_len(&addr)).then_some(IpPrefix { addr, len })
    }

    /// A host route (/32 or /128) for `addr`.
    pub fn host(addr: IpAddr) -> IpPrefix {
        IpPrefix {
            addr,
            len: max_len(&addr),
        }
    }

    /// The prefix with host bits cleared.
    pub fn network(&self) -> IpPrefix {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(self.len))),
        };
        IpPrefix {
            addr,
            len: self.len,
        }
    }

    /// True when `ip` lies inside the prefix (never across families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => (u32::from(p) ^ u32::from(a)) & mask32(self.len) == 0,
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                (u128::from(p) ^ u128::from(a)) & mask128(self.len) == 0
            }
            _ => false,
        }
    }
}

fn max_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

impl FromStr for IpPrefix {
    type Err = PrefixError;

    /// Parses `ADDR/LEN` or a bare `ADDR` (a host prefix).
    fn from_str(s: &str) -> Result<IpPrefix, PrefixError> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| PrefixError::BadAddress)?;
        let len = match l {
            Some(l) => {
                let l = l.trim();
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PrefixError::BadLength);
                }
                l.parse::<u8>().map_err(|_| PrefixError::BadLength)?
            }
            None => max_len(&addr),
        };
        IpPrefix::new(addr, len).ok_or(PrefixError::BadLength)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_families() {
        let p: IpPrefix = "10.20.0.0/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.20.0.0/16");
        let p: IpPrefix = "fd00::1/64".parse().unwrap();
        assert_eq!(p.network().to_string(), "fd00::/64");
        let p: IpPrefix = "10.99.0.2".parse().unwrap();
        assert_eq!(p.len, 32);
    }

    #[test]
    fn refuses_bad_prefixes() {
        assert_eq!(
            "10.0.0.0/33".parse::<IpPrefix>(),
            Err(PrefixError::BadLength)
        );
        assert_eq!("10.0.0.0/".parse::<IpPrefix>(), Err(PrefixError::BadLength));
        assert_eq!(
            "10.0.0.0/+8".parse::<IpPrefix>(),
            Err(PrefixError::BadLength)
        );
        assert_eq!("10.0.0/8".parse::<IpPrefix>(), Err(PrefixError::BadAddress));
        assert_eq!("::/129".parse::<IpPrefix>(), Err(PrefixError::BadLength));
    }

    #[test]
    fn contains_respects_length_and_family() {
        let p: IpPrefix = "192.168.10.0/24".parse().unwrap();
        assert!(p.contains("192.168.10.77".parse().unwrap()));
        assert!(!p.contains("192.168.11.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let all: IpPrefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
    }
}
