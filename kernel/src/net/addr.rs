//! Where each port's address comes from, and the port names.
//!
//! Until the gateway brings the whole configuration file into use, a port's
//! address is taken from the configuration module's `[LAN]`/`[WAN]` section
//! when one parsed, else from the boot command line (`lan=192.168.10.1/24`,
//! `wan=198.51.100.1/24`), else the port has none. Ports are named in PCI
//! order: the first NIC is the LAN, the second the WAN, the rest `ethN`,
//! unless `[LAN]`/`[WAN]` pick their NIC with `Device =` (PCI address) or
//! `MAC =` ([`assign_roles`]).

use core::net::Ipv4Addr;

use alloc::vec::Vec;

use drivers::pci::Bdf;
use netfn::config::{Config, DeviceSelector, PortAddress};

use super::port::Addressing;

/// Names by port index.
const NAMES: [&str; 8] = ["lan", "wan", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7"];

/// The most ports the appliance names and drives.
pub const MAX_PORTS: usize = NAMES.len();

/// The name of port `index` (PCI order), `None` beyond [`MAX_PORTS`].
pub fn port_name(index: usize) -> Option<&'static str> {
    NAMES.get(index).copied()
}

/// A `[LAN]`/`[WAN]` NIC selector that matched no NIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchNic {
    /// The role (0: LAN, 1: WAN) whose selector matched nothing.
    pub role: usize,
    /// The selector.
    pub selector: DeviceSelector,
}

impl core::fmt::Display for NoSuchNic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = port_name(self.role).unwrap_or("port");
        match self.selector {
            DeviceSelector::Pci(a) => write!(f, "{name}: no NIC at PCI address {a}"),
            DeviceSelector::Mac(m) => write!(
                f,
                "{name}: no NIC with MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
        }
    }
}

fn matches(sel: DeviceSelector, bdf: Bdf, mac: [u8; 6]) -> bool {
    match sel {
        DeviceSelector::Pci(a) => a.bus == bdf.bus && a.device == bdf.dev && a.function == bdf.func,
        DeviceSelector::Mac(m) => m == mac,
    }
}

/// The role (index into the port names) of each NIC in `nics` (PCI order):
/// NICs the configuration selects for LAN and WAN get those roles, the rest
/// fill the free roles in PCI order. Selectors that match nothing are
/// reported through `unmatched` and their role is filled in PCI order too.
pub fn assign_roles(
    nics: &[(Bdf, [u8; 6])],
    config: Option<&Config>,
    unmatched: &mut dyn FnMut(NoSuchNic),
) -> Vec<usize> {
    let mut roles: Vec<Option<usize>> = alloc::vec![None; nics.len()];
    let selectors = config.map_or([None, None], |c| [c.lan.device, c.wan.device]);
    for (role, sel) in selectors.iter().enumerate() {
        let Some(sel) = *sel else { continue };
        let found = nics
            .iter()
            .enumerate()
            .find(|(i, (bdf, mac))| roles[*i].is_none() && matches(sel, *bdf, *mac));
        match found {
            Some((i, _)) => roles[i] = Some(role),
            None => unmatched(NoSuchNic {
                role,
                selector: sel,
            }),
        }
    }
    let mut next = 0;
    roles
        .iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                while roles.contains(&Some(next)) {
                    next += 1;
                }
                next += 1;
                next - 1
            })
        })
        .collect()
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

/// The next hop `[LAN]`/`[WAN]` names for port `index`, if any.
pub fn gateway(index: usize, config: Option<&Config>) -> Option<Ipv4Addr> {
    let c = config?;
    match index {
        0 => c.lan.gateway,
        1 => c.wan.gateway,
        _ => None,
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

    fn bdf(dev: u8) -> Bdf {
        Bdf {
            bus: 0,
            dev,
            func: 0,
        }
    }

    #[test]
    fn roles_follow_pci_order_unless_the_config_selects_a_nic() {
        let nics = [
            (bdf(2), [0x52, 0x54, 0, 0, 0, 2]),
            (bdf(3), [0x52, 0x54, 0, 0, 0, 3]),
            (bdf(4), [0x52, 0x54, 0, 0, 0, 4]),
        ];
        let mut missing = Vec::new();
        assert_eq!(
            assign_roles(&nics, None, &mut |e| missing.push(e)),
            [0, 1, 2]
        );
        let key = "PrivateKey = 2Cj63wEYLV88FyzIf5+4IDm4qiwmfgvelFVcuChk0V4=";
        let text = alloc::format!(
            "[Interface]\n{key}\n[LAN]\nAddress = 10.1.0.1/16\nDevice = 00:04.0\n\
             [WAN]\nAddress = dhcp\nMAC = 52:54:00:00:00:02\n"
        );
        let cfg = netfn::config::parse(&text).unwrap();
        assert_eq!(
            assign_roles(&nics, Some(&cfg), &mut |e| missing.push(e)),
            [1, 2, 0]
        );
        assert!(missing.is_empty());
        let text = alloc::format!(
            "[Interface]\n{key}\n[LAN]\nAddress = 10.1.0.1/16\nDevice = 00:09.0\n\
             [WAN]\nAddress = dhcp\n"
        );
        let cfg = netfn::config::parse(&text).unwrap();
        assert_eq!(
            assign_roles(&nics, Some(&cfg), &mut |e| missing.push(e)),
            [0, 1, 2]
        );
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].to_string(), "lan: no NIC at PCI address 00:09.0");
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
        assert_eq!(gateway(0, Some(&cfg)), None);
        assert_eq!(gateway(0, None), None);
    }
}
