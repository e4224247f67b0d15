//! Where each port's address comes from, and the port names.
//!
//! Until the gateway brings the whole configuration file into use, a port's
//! address is taken from the configuration module's `[LAN]`/`[WAN]` section
//! when one parsed, else from the boot command line (`lan=192.168.10.1/24`,
//! `wan=198.51.100.1/24`), else the port has none. Ports are named in PCI
//! order: the first NIC is the LAN, the second the WAN, the rest `ethN`.

use core::net::Ipv4Addr;

use netfn::config::{Config, PortAddress};

use super::port::Addressing;

/// Names by port index.
const NAMES: [&str; 8] = ["lan", "wan", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7"];

/// The most ports the appliance names and drives.
pub const MAX_PORTS: usize = NAMES.len();

/// The name of port `index` (PCI order), `None` beyond [`MAX_PORTS`].
pub fn port_name(index: usize) -> Option<&'static str> {
    NAMES.get(index).copied()
}

/// Why an address option was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrError {
    /// No `/` between address and prefix length.
    MissingPrefix,
    /// The address part is not a dotted IPv4 address.
    BadAddress,
    /// The prefix length is not a number from 1 to 32.
    BadPrefix,
    /// The address is the unspecified, broadcast or a multicast address.
    NotAHost,
}

impl core::fmt::Display for AddrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AddrError::MissingPrefix => "expected ADDRESS/PREFIX, e.g. 192.168.10.1/24",
            AddrError::BadAddress => "not an IPv4 address",
            AddrError::BadPrefix => "prefix length must be 1..32",
            AddrError::NotAHost => "not a host address",
        })
    }
}

/// Parses `192.168.10.1/24` (or `dhcp`).
pub fn parse(text: &str) -> Result<Addressing, AddrError> {
    if text == "dhcp" {
        return Ok(Addressing::Dhcp);
    }
    let (a, l) = text.split_once('/').ok_or(AddrError::MissingPrefix)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| AddrError::BadAddress)?;
    let len: u8 = l.parse().map_err(|_| AddrError::BadPrefix)?;
    if !(1..=32).contains(&len) {
        return Err(AddrError::BadPrefix);
    }
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
        return Err(AddrError::NotAHost);
    }
    Ok(Addressing::Static(addr, len))
}

/// The addressing of port `index`: from `config` when present, else from
/// the command-line option named after the port (`lookup("lan")`).
pub fn choose<'a>(
    index: usize,
    config: Option<&Config>,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> Result<Addressing, AddrError> {
    let from_config = config.and_then(|c| match index {
        0 => Some(&c.lan),
        1 => Some(&c.wan),
        _ => None,
    });
    if let Some(p) = from_config {
        return Ok(match p.address {
            PortAddress::Static { addr, len } => Addressing::Static(addr, len),
            PortAddress::Dhcp => Addressing::Dhcp,
        });
    }
    match port_name(index).and_then(lookup) {
        Some(text) => parse(text),
        None => Ok(Addressing::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_refuses_each_kind_of_mistake() {
        assert_eq!(
            parse("192.168.10.1/24"),
            Ok(Addressing::Static(Ipv4Addr::new(192, 168, 10, 1), 24))
        );
        assert_eq!(parse("dhcp"), Ok(Addressing::Dhcp));
        assert_eq!(parse("192.168.10.1"), Err(AddrError::MissingPrefix));
        assert_eq!(parse("192.168.10/24"), Err(AddrError::BadAddress));
        assert_eq!(parse("192.168.10.1/33"), Err(AddrError::BadPrefix));
        assert_eq!(parse("192.168.10.1/0"), Err(AddrError::BadPrefix));
        assert_eq!(parse("192.168.10.1/x"), Err(AddrError::BadPrefix));
        assert_eq!(parse("0.0.0.0/8"), Err(AddrError::NotAHost));
        assert_eq!(parse("224.0.0.1/4"), Err(AddrError::NotAHost));
    }

    #[test]
    fn names_follow_pci_order() {
        assert_eq!(port_name(0), Some("lan"));
        assert_eq!(port_name(1), Some("wan"));
        assert_eq!(port_name(2), Some("eth2"));
        assert_eq!(port_name(MAX_PORTS), None);
    }

    #[test]
    fn command_line_names_the_port_and_config_wins() {
        let opts = |k: &str| match k {
            "lan" => Some("192.168.10.1/24"),
            "wan" => Some("bogus"),
            _ => None,
        };
        assert_eq!(
            choose(0, None, opts),
            Ok(Addressing::Static(Ipv4Addr::new(192, 168, 10, 1), 24))
        );
        assert_eq!(choose(1, None, opts), Err(AddrError::MissingPrefix));
        assert_eq!(choose(2, None, opts), Ok(Addressing::None));
        let text = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = 10.99.0.1/24\n\n[LAN]\nAddress = 10.1.0.1/16\n\n[WAN]\nAddress = dhcp\n";
        let cfg = netfn::config::parse(text).unwrap();
        assert_eq!(
            choose(0, Some(&cfg), opts),
            Ok(Addressing::Static(Ipv4Addr::new(10, 1, 0, 1), 16))
        );
        assert_eq!(choose(1, Some(&cfg), opts), Ok(Addressing::Dhcp));
    }
}
