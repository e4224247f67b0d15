//! Checks across fields and sections: subnets, gateways, peers against each
//! other. Shared by the file parser and by run-time changes on the console, so
//! `peer add` is held to exactly the rules the file is.

use alloc::vec::Vec;
use core::net::IpAddr;

use super::error::{ConfigError, ErrorKind};
use super::{Config, PeerConfig, PortConfig};
use crate::keys::encode_key;
use crate::prefix::IpPrefix;

/// Where a port section's fields were given, for error lines.
pub(super) struct PortLines {
    /// Section name.
    pub name: &'static str,
    /// The Address line.
    pub address: usize,
    /// The Gateway line.
    pub gateway: usize,
    /// The Device or MAC line.
    pub device: usize,
}

/// True when two prefixes share at least one address.
fn overlap(a: &IpPrefix, b: &IpPrefix) -> bool {
    a.contains(b.addr) || b.contains(a.addr)
}

/// True when `p`'s address is the network or broadcast address of a subnet
/// that has those (/31 and /32 have neither, RFC 3021).
fn not_host(p: &IpPrefix) -> bool {
    let IpAddr::V4(a) = p.addr else { return false };
    if p.len >= 31 {
        return false;
    }
    let host_bits = u32::MAX >> p.len;
    let h = u32::from(a) & host_bits;
    h == 0 || h == host_bits
}

/// Checks the two ports and the tunnel addresses against each other.
pub(super) fn check_ports(
    lan: &PortConfig,
    lan_lines: &PortLines,
    wan: &PortConfig,
    wan_lines: &PortLines,
    tunnel: &[(IpPrefix, usize)],
    out: &mut Vec<ConfigError>,
) {
    let mut err = |line, kind| out.push(ConfigError { line, kind });
    for (port, lines) in [(lan, lan_lines), (wan, wan_lines)] {
        match (port.address.prefix(), port.gateway) {
            (None, Some(_)) => err(lines.gateway, ErrorKind::GatewayWithDhcp),
            (Some(p), Some(g)) if !p.contains(IpAddr::V4(g)) => err(
                lines.gateway,
                ErrorKind::GatewayOutsideSubnet {
                    section: lines.name,
                    gateway: g,
                },
            ),
            _ => {}
        }
        if let Some(p) = port.address.prefix().filter(not_host) {
            err(lines.address, ErrorKind::AddressNotHost(p));
        }
    }
    let lan_p = lan.address.prefix();
    let wan_p = wan.address.prefix();
    if let (Some(l), Some(w)) = (&lan_p, &wan_p) {
        if overlap(l, w) {
            err(
                wan_lines.address,
                ErrorKind::SubnetsOverlap { a: "LAN", b: "WAN" },
            );
        }
    }
    for (t, line) in tunnel {
        if not_host(t) {
            err(*line, ErrorKind::AddressNotHost(*t));
        }
        for (name, port) in [("LAN", &lan_p), ("WAN", &wan_p)] {
            if port.as_ref().is_some_and(|p| overlap(p, t)) {
                err(
                    *line,
                    ErrorKind::SubnetsOverlap {
                        a: "tunnel",
                        b: name,
                    },
                );
            }
        }
    }
    if lan.device.is_some() && lan.device == wan.device {
        err(wan_lines.device, ErrorKind::SameDevice);
    }
}

/// Checks one peer against the appliance's own key and the peers before it.
/// `earlier_lines[i]` is where `earlier[i]` was given (empty: the running
/// configuration, reported as line 0); `ip_lines[j]` is where the peer's
/// `j`-th AllowedIPs entry was given (missing entries use `line`).
pub(super) fn check_peer(
    own: Option<[u8; 32]>,
    earlier: &[PeerConfig],
    earlier_lines: &[usize],
    peer: &PeerConfig,
    line: usize,
    ip_lines: &[usize],
    out: &mut Vec<ConfigError>,
) {
    if own == Some(peer.public_key) {
        out.push(ConfigError {
            line,
            kind: ErrorKind::PeerIsSelf,
        });
    }
    if let Some(i) = earlier.iter().position(|p| p.public_key == peer.public_key) {
        let first_line = earlier_lines.get(i).copied().unwrap_or(0);
        out.push(ConfigError {
            line,
            kind: ErrorKind::DuplicatePeer { first_line },
        });
        // Its AllowedIPs would all clash with itself: one error is enough.
        return;
    }
    for (j, prefix) in peer.allowed_ips.iter().enumerate() {
        if let Some(other) = earlier.iter().find(|p| p.allowed_ips.contains(prefix)) {
            out.push(ConfigError {
                line: ip_lines.get(j).copied().unwrap_or(line),
                kind: ErrorKind::AllowedIpTaken {
                    prefix: *prefix,
                    other_peer: encode_key(&other.public_key),
                },
            });
        }
    }
}

/// Validates a peer about to be added to the running configuration (the
/// console's `peer add`) by the same rules as a `[Peer]` in the file.
pub fn validate_new_peer(config: &Config, peer: &PeerConfig) -> Result<(), Vec<ErrorKind>> {
    let mut found = Vec::new();
    let own = Some(config.interface.public_key());
    check_peer(own, &config.peers, &[], peer, 0, &[], &mut found);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.into_iter().map(|e| e.kind).collect())
    }
}
