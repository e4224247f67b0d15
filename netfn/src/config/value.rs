//! Parsers for single configuration values, shared by the file parser and the
//! console (`peer add PUBKEY allowed-ips ... endpoint ... keepalive N`).
//!
//! Each takes the trimmed text of one value and returns the typed value or the
//! [`ErrorKind`] that says why not; the caller attaches the line number.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::error::ErrorKind;
use super::{DeviceSelector, MssClamp, PciAddress, PortAddress, Secret, MIN_MSS, MTU_RANGE};
use crate::keys::decode_key;
use crate::prefix::IpPrefix;

/// Parses a base64 key; `which` names the key in the error.
pub fn parse_key(which: &'static str, text: &str) -> Result<[u8; 32], ErrorKind> {
    decode_key(text).map_err(|cause| ErrorKind::BadKey { key: which, cause })
}

/// Parses a secret base64 key (PrivateKey, PresharedKey).
pub fn parse_secret(which: &'static str, text: &str) -> Result<Secret, ErrorKind> {
    parse_key(which, text).map(Secret::new)
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a UDP port, 1..=65535 (port 0, "pick one at random", is refused:
/// peers must be able to reach the appliance at a known port).
pub fn parse_port(text: &str) -> Result<u16, ErrorKind> {
    match text.parse::<u16>() {
        Ok(p) if p != 0 && all_digits(text) => Ok(p),
        _ => Err(ErrorKind::BadPort(text.to_string())),
    }
}

/// Parses a comma-separated list of prefixes and appends them, normalised
/// (host bits cleared) and without duplicates, to `out`.
pub fn parse_allowed_ips(text: &str, out: &mut Vec<IpPrefix>) -> Result<(), ErrorKind> {
    for item in text.split(',') {
        let item = item.trim();
        let p: IpPrefix = item.parse().map_err(|cause| ErrorKind::BadPrefix {
            text: item.to_string(),
            cause,
        })?;
        let p = p.network();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses an Endpoint: `a.b.c.d:port` or `[v6]:port`. Host names are refused
/// with their own error, since the appliance has no resolver.
pub fn parse_endpoint(text: &str) -> Result<SocketAddr, ErrorKind> {
    let bad = || ErrorKind::BadEndpoint(text.to_string());
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        let ip: core::net::Ipv6Addr = h.parse().map_err(|_| bad())?;
        (IpAddr::V6(ip), p)
    } else {
        let (h, p) = text.rsplit_once(':').ok_or_else(bad)?;
        match h.parse::<Ipv4Addr>() {
            Ok(ip) => (IpAddr::V4(ip), p),
            Err(_) if looks_like_host_name(h) => {
                return Err(ErrorKind::EndpointIsDnsName(text.to_string()))
            }
            Err(_) => return Err(bad()),
        }
    };
    let port = parse_port(port).map_err(|_| bad())?;
    Ok(SocketAddr::new(host, port))
}

/// True for something shaped like a DNS name with at least one letter in it.
fn looks_like_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.bytes().any(|b| b.is_ascii_alphabetic())
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Parses PersistentKeepalive: `off` or seconds; 0 also means off.
pub fn parse_keepalive(text: &str) -> Result<Option<u16>, ErrorKind> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match text.parse::<u16>() {
        Ok(0) if all_digits(text) => Ok(None),
        Ok(n) if all_digits(text) => Ok(Some(n)),
        _ => Err(ErrorKind::BadKeepalive(text.to_string())),
    }
}

/// Parses the tunnel MTU.
pub fn parse_mtu(text: &str) -> Result<u16, ErrorKind> {
    match text.parse::<u16>() {
        Ok(m) if all_digits(text) && MTU_RANGE.contains(&m) => Ok(m),
        _ => Err(ErrorKind::MtuOutOfRange(text.to_string())),
    }
}

/// Parses MssClamp (`off`, `auto` or a number); the upper bound depends on
/// the MTU and is checked once the whole section is known.
pub fn parse_mss_clamp(text: &str) -> Result<MssClamp, ErrorKind> {
    if text.eq_ignore_ascii_case("off") {
        Ok(MssClamp::Off)
    } else if text.eq_ignore_ascii_case("auto") {
        Ok(MssClamp::Auto)
    } else {
        match text.parse::<u16>() {
            Ok(n) if all_digits(text) && n >= MIN_MSS => Ok(MssClamp::Fixed(n)),
            _ => Err(ErrorKind::BadMssClamp(text.to_string())),
        }
    }
}

/// Parses one IPv4 prefix with the host part kept (a port or tunnel address).
pub fn parse_ipv4_prefix(text: &str) -> Result<(Ipv4Addr, u8), ErrorKind> {
    let p: IpPrefix = text.parse().map_err(|cause| ErrorKind::BadPrefix {
        text: text.to_string(),
        cause,
    })?;
    match p.addr {
        IpAddr::V4(a) => Ok((a, p.len)),
        IpAddr::V6(_) => Err(ErrorKind::NotIpv4(text.to_string())),
    }
}

/// Parses a port's Address: `dhcp` or an IPv4 prefix.
pub fn parse_port_address(text: &str) -> Result<PortAddress, ErrorKind> {
    if text.eq_ignore_ascii_case("dhcp") {
        return Ok(PortAddress::Dhcp);
    }
    let (addr, len) = parse_ipv4_prefix(text)?;
    Ok(PortAddress::Static { addr, len })
}

/// Parses a bare IPv4 address (a Gateway).
pub fn parse_ipv4(text: &str) -> Result<Ipv4Addr, ErrorKind> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Ok(a),
        Ok(IpAddr::V6(_)) => Err(ErrorKind::NotIpv4(text.to_string())),
        Err(_) => Err(ErrorKind::BadAddress(text.to_string())),
    }
}

fn hex_field(text: &str, max: u8) -> Option<u8> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16)
        .ok()
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| *v <= max)
}

/// Parses a PCI address `bb:dd.f`, optionally with the `0000:` domain.
pub fn parse_pci(text: &str) -> Result<PciAddress, ErrorKind> {
    let bad = || ErrorKind::BadDevice(text.to_string());
    let rest = match text.split_once(':') {
        Some((dom, rest)) if rest.contains(':') => {
            if dom.len() != 4 || u16::from_str_radix(dom, 16) != Ok(0) {
                return Err(bad());
            }
            rest
        }
        _ => text,
    };
    let (bus, df) = rest.split_once(':').ok_or_else(bad)?;
    let (dev, func) = df.split_once('.').ok_or_else(bad)?;
    let bus = hex_field(bus, 0xff)
        .filter(|_| bus.len() <= 2)
        .ok_or_else(bad)?;
    let device = hex_field(dev, 31)
        .filter(|_| dev.len() <= 2)
        .ok_or_else(bad)?;
    let function = hex_field(func, 7)
        .filter(|_| func.len() == 1)
        .ok_or_else(bad)?;
    Ok(PciAddress {
        bus,
        device,
        function,
    })
}

/// Parses a MAC address `52:54:00:12:34:56` (or with `-`).
pub fn parse_mac(text: &str) -> Result<[u8; 6], ErrorKind> {
    let bad = || ErrorKind::BadMac(text.to_string());
    let mut mac = [0u8; 6];
    let mut n = 0;
    for part in text.split([':', '-']) {
        if n == 6 || part.len() != 2 {
            return Err(bad());
        }
        mac[n] = hex_field(part, 0xff).ok_or_else(bad)?;
        n += 1;
    }
    if n != 6 {
        return Err(bad());
    }
    Ok(mac)
}

/// Parses a port section's Device or MAC selector value.
pub fn parse_selector(is_mac: bool, text: &str) -> Result<DeviceSelector, ErrorKind> {
    if is_mac {
        parse_mac(text).map(DeviceSelector::Mac)
    } else {
        parse_pci(text).map(DeviceSelector::Pci)
    }
}
