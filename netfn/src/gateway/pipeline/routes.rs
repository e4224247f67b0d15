//! The routing table as the console's `ip route` shows it: what the
//! pipeline actually decides with, gathered into one list.
//!
//! The pipeline has no routing table of its own: LAN packets go into the
//! tunnel by the engine's allowed-IPs match (or get ICMP host unreachable;
//! nothing is forwarded to the WAN in the clear), decrypted packets go to
//! the LAN subnet or the LAN gateway, and outer datagrams go to an on-link
//! endpoint or the WAN gateway. This file only describes those rules, so it
//! may allocate: it runs for the console, never per packet.

use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use super::{Gateway, PacketBuffer, Port};
use crate::prefix::IpPrefix;
use crate::wireguard::{Aead, PeerId, Rng};

/// Where a route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteDev {
    /// Out of a port.
    Port(Port),
    /// Into the tunnel, to this peer.
    Peer(PeerId),
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destinations it covers.
    pub dest: IpPrefix,
    /// The next hop, when not on-link.
    pub via: Option<Ipv4Addr>,
    /// Where it leads.
    pub dev: RouteDev,
    /// The source address the appliance uses on it, when it has one.
    pub src: Option<Ipv4Addr>,
    /// True for the WAN default, which only carries the tunnel's own
    /// datagrams (the appliance forwards nothing to the WAN in the clear).
    pub tunnel_only: bool,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dest.len == 0 {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.dest)?;
        }
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        match self.dev {
            RouteDev::Port(Port::Lan) => f.write_str(" dev lan")?,
            RouteDev::Port(Port::Wan) => f.write_str(" dev wan")?,
            RouteDev::Peer(p) => write!(f, " dev wg peer {}", p.0)?,
        }
        if let Some(s) = self.src {
            write!(f, " src {s}")?;
        }
        if self.tunnel_only {
            f.write_str(" (tunnel datagrams only)")?;
        }
        Ok(())
    }
}

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// The routes the pipeline follows, most specific rules first: tunnel
    /// (per peer, by AllowedIPs), connected subnets, then the defaults.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        let tunnel_src = self.tunnel_addr.map(|(a, _)| a);
        for id in self.engine.peer_ids() {
            if let Some(st) = self.engine.peer_status(id) {
                for p in st.allowed_ips {
                    routes.push(Route {
                        dest: p,
                        via: None,
                        dev: RouteDev::Peer(id),
                        src: tunnel_src.filter(|_| p.addr.is_ipv4()),
                        tunnel_only: false,
                    });
                }
            }
        }
        for port in [Port::Lan, Port::Wan] {
            let st = self.port(port);
            if let Some((a, len)) = st.addr {
                if let Some(p) = IpPrefix::new(IpAddr::V4(a), len) {
                    routes.push(Route {
                        dest: p.network(),
                        via: None,
                        dev: RouteDev::Port(port),
                        src: Some(a),
                        tunnel_only: false,
                    });
                }
            }
        }
        for port in [Port::Lan, Port::Wan] {
            let st = self.port(port);
            if let Some(gw) = st.gateway {
                routes.push(Route {
                    dest: IpPrefix {
                        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        len: 0,
                    },
                    via: Some(gw),
                    dev: RouteDev::Port(port),
                    src: st.ip(),
                    tunnel_only: port == Port::Wan,
                });
            }
        }
        routes
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::World;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn routes_read_like_ip_route() {
        let w = World::new();
        let shown: Vec<_> = w.gw.routes().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                "10.20.0.0/16 dev wg peer 0 src 10.99.0.1",
                "10.99.0.2/32 dev wg peer 0 src 10.99.0.1",
                "192.168.10.0/24 dev lan src 192.168.10.1",
                "198.51.100.0/24 dev wan src 198.51.100.1",
                "default via 198.51.100.254 dev wan src 198.51.100.1 (tunnel datagrams only)",
            ]
        );
        w.finish();
    }
}
