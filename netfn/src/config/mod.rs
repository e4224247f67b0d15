//! The appliance configuration file (wg-quick dialect plus [LAN]/[WAN]).
//!
//! One text file, delivered as a multiboot module, says everything: the
//! appliance's WireGuard identity (`[Interface]`), its two ports (`[LAN]`,
//! `[WAN]`) and its peers (`[Peer]`, any number). The dialect follows
//! `wg-quick`: case-insensitive section and key names, `#` comments, blank
//! lines, whitespace around `=`, comma-separated lists, repeated `AllowedIPs`
//! (and `[Interface] Address`) lines adding up.
//!
//! Parsing never stops at the first problem: [`parse`] returns every error it
//! can find, each naming its line, because the operator fixes the file off-box
//! and wants one round trip, not ten.
//!
//! Choices that differ from `wg`:
//! - `ListenPort` defaults to [`DEFAULT_LISTEN_PORT`] (51820) instead of a
//!   random port: peers are configured with the gateway's Endpoint, so the
//!   port must be known. Port 0 is refused.
//! - Endpoints must be IP literals (`a.b.c.d:port`; `[v6]:port` parses but
//!   is refused while the WAN port is IPv4-only): the appliance has no DNS
//!   resolver, and a name is reported as such.
//! - The same AllowedIPs prefix on two peers is an error (wg silently moves it
//!   to the last peer); nested prefixes are fine, longest match wins.
//! - LAN, WAN and tunnel addresses are IPv4 (the first version forwards IPv4
//!   only); AllowedIPs may still list IPv6 prefixes so a file shared with wg
//!   peers keeps working.
//!
//! `Display` prints the running configuration in the same dialect with the
//! private and preshared keys replaced by `(hidden)`; [`Config::unredacted`]
//! prints everything, and parsing that text gives the same [`Config`] back.

mod error;
mod parse;
mod peer;
mod setting;
mod validate;
pub mod value;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::ops::RangeInclusive;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

pub use error::{ConfigError, ErrorKind};
pub use parse::{parse, parse_bytes};
pub use peer::PeerFields;
pub use validate::validate_new_peer;

use crate::keys::{encode_key, public_key};
use crate::prefix::IpPrefix;

/// The listen port when the file gives none (see the module doc for why not random).
pub const DEFAULT_LISTEN_PORT: u16 = 51820;
/// The tunnel MTU when the file gives none: 1500 − 80, as wg-quick picks for IPv6 underlay safety.
pub const DEFAULT_MTU: u16 = 1420;
/// Accepted tunnel MTUs: IPv4's minimum datagram up to 1500-byte ports minus
/// the 60 bytes of outer IPv4 + UDP + WireGuard overhead.
pub const MTU_RANGE: RangeInclusive<u16> = 576..=1440;
/// The smallest MSS a fixed MssClamp may give (RFC 879's default MSS).
pub const MIN_MSS: u16 = 536;

/// A 32-byte secret key: wiped on drop, compared in constant time, never printed.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl Secret {
    /// Wraps key bytes.
    pub fn new(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    /// The key bytes, for the WireGuard engine.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// TCP MSS clamping for SYN segments crossing the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssClamp {
    /// Leave MSS options alone.
    Off,
    /// Clamp to tunnel MTU − 40 (IPv4 + TCP headers).
    Auto,
    /// Clamp to this MSS.
    Fixed(u16),
}

/// A PCI function address as written in `Device = 00:03.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciAddress {
    /// Bus number.
    pub bus: u8,
    /// Device number, 0..=31.
    pub device: u8,
    /// Function number, 0..=7.
    pub function: u8,
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// How a port section picks its NIC (default: PCI order, LAN first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSelector {
    /// By PCI address.
    Pci(PciAddress),
    /// By MAC address.
    Mac([u8; 6]),
}

/// A port's own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortAddress {
    /// A fixed address and the length of its subnet.
    Static {
        /// The appliance's address on the port.
        addr: Ipv4Addr,
        /// The subnet prefix length.
        len: u8,
    },
    /// Learnt from a DHCPv4 server (WAN only).
    Dhcp,
}

impl PortAddress {
    /// The address as a prefix (host bits kept), for a static address.
    pub fn prefix(&self) -> Option<IpPrefix> {
        match *self {
            PortAddress::Static { addr, len } => Some(IpPrefix {
                addr: IpAddr::V4(addr),
                len,
            }),
            PortAddress::Dhcp => None,
        }
    }
}

impl fmt::Display for PortAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortAddress::Static { addr, len } => write!(f, "{addr}/{len}"),
            PortAddress::Dhcp => f.write_str("dhcp"),
        }
    }
}

/// `[Interface]`: the appliance's WireGuard identity and tunnel settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// The static private key.
    pub private_key: Secret,
    /// UDP port on the WAN address.
    pub listen_port: u16,
    /// The appliance's tunnel addresses (IPv4, host bits kept).
    pub addresses: Vec<IpPrefix>,
    /// Tunnel MTU (inner packet size limit).
    pub mtu: u16,
    /// MSS clamping policy.
    pub mss_clamp: MssClamp,
}

impl InterfaceConfig {
    /// The public key peers know the appliance by.
    pub fn public_key(&self) -> [u8; 32] {
        public_key(self.private_key.expose())
    }

    /// The MSS that SYN segments are clamped to, if clamping is on.
    pub fn mss_limit(&self) -> Option<u16> {
        match self.mss_clamp {
            MssClamp::Off => None,
            MssClamp::Auto => Some(self.mtu - 40),
            MssClamp::Fixed(n) => Some(n),
        }
    }
}

/// `[LAN]` or `[WAN]`: one port's addressing and NIC selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// The appliance's address on this port.
    pub address: PortAddress,
    /// Next hop for destinations outside the port's subnet.
    pub gateway: Option<Ipv4Addr>,
    /// Which NIC; `None` means PCI order.
    pub device: Option<DeviceSelector>,
}

/// `[Peer]`: one remote WireGuard peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's static public key.
    pub public_key: [u8; 32],
    /// Optional preshared key (post-quantum padding).
    pub preshared_key: Option<Secret>,
    /// Inner prefixes routed to and accepted from this peer (normalised).
    pub allowed_ips: Vec<IpPrefix>,
    /// Where to send; learnt from the peer's packets when absent.
    pub endpoint: Option<SocketAddr>,
    /// Keepalive interval in seconds; `None` is off.
    pub persistent_keepalive: Option<u16>,
}

/// The whole appliance configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[Interface]`.
    pub interface: InterfaceConfig,
    /// `[LAN]`.
    pub lan: PortConfig,
    /// `[WAN]`.
    pub wan: PortConfig,
    /// Every `[Peer]`, in file order.
    pub peers: Vec<PeerConfig>,
}

impl Config {
    /// The configuration with secrets printed, in a form [`parse`] reads back.
    pub fn unredacted(&self) -> Unredacted<'_> {
        Unredacted(self)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, secrets: bool) -> fmt::Result {
        let hidden = |s: &Secret| {
            if secrets {
                Shown::Key(encode_key(s.expose()))
            } else {
                Shown::Hidden
            }
        };
        let i = &self.interface;
        writeln!(f, "[Interface]")?;
        writeln!(f, "# PublicKey = {}", encode_key(&i.public_key()))?;
        writeln!(f, "PrivateKey = {}", hidden(&i.private_key))?;
        writeln!(f, "ListenPort = {}", i.listen_port)?;
        if !i.addresses.is_empty() {
            writeln!(f, "Address = {}", List(&i.addresses))?;
        }
        writeln!(f, "MTU = {}", i.mtu)?;
        match i.mss_clamp {
            MssClamp::Off => writeln!(f, "MssClamp = off")?,
            MssClamp::Auto => writeln!(f, "MssClamp = auto")?,
            MssClamp::Fixed(n) => writeln!(f, "MssClamp = {n}")?,
        }
        for (name, port) in [("LAN", &self.lan), ("WAN", &self.wan)] {
            writeln!(f, "\n[{name}]")?;
            writeln!(f, "Address = {}", port.address)?;
            if let Some(g) = port.gateway {
                writeln!(f, "Gateway = {g}")?;
            }
            match port.device {
                Some(DeviceSelector::Pci(p)) => writeln!(f, "Device = {p}")?,
                Some(DeviceSelector::Mac(m)) => writeln!(
                    f,
                    "MAC = {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    m[0], m[1], m[2], m[3], m[4], m[5]
                )?,
                None => {}
            }
        }
        for p in &self.peers {
            writeln!(f, "\n[Peer]")?;
            writeln!(f, "PublicKey = {}", encode_key(&p.public_key))?;
            if let Some(psk) = &p.preshared_key {
                writeln!(f, "PresharedKey = {}", hidden(psk))?;
            }
            if !p.allowed_ips.is_empty() {
                writeln!(f, "AllowedIPs = {}", List(&p.allowed_ips))?;
            }
            if let Some(e) = p.endpoint {
                writeln!(f, "Endpoint = {e}")?;
            }
            if let Some(k) = p.persistent_keepalive {
                writeln!(f, "PersistentKeepalive = {k}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

/// [`Config`] printed with its secret keys (see [`Config::unredacted`]).
pub struct Unredacted<'a>(&'a Config);

impl fmt::Display for Unredacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write(f, true)
    }
}

enum Shown {
    Key(crate::keys::KeyText),
    Hidden,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Key(k) => f.write_str(k.as_str()),
            Shown::Hidden => f.write_str("(hidden)"),
        }
    }
}

struct List<'a>(&'a [IpPrefix]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
