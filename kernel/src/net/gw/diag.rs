//! The console's diagnostics over the running gateway: `ip route`, `ip
//! neigh`, `peer add`/`remove`, and what the `ping` and `capture` jobs need
//! ([`NetJob`]: the echo path chosen by routing, and the capture tap).
//!
//! A child of `gw` so it can reach the transmit lists a tunnel ping is
//! queued on and the capture slot the poll path taps; everything here runs
//! on the console, between poll-loop turns.

use alloc::boxed::Box;
use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use netfn::config::PeerConfig;
use netfn::gateway::pipeline::console::PeerChangeError;
use netfn::gateway::pipeline::Port as GwPort;

use super::{Pool, PortDevice};
use crate::console::capture::CaptureRing;
use crate::console::gateway::GatewayConsole;
use crate::console::iproute::{ip_route, IpNeigh};
use crate::console::job::JobNet;
use crate::console::ping::{EchoIo, Reply};
use crate::net::Net;

impl<D: PortDevice> GatewayConsole for Net<D> {
    fn ip_route(&mut self, out: &mut dyn Write) -> fmt::Result {
        match &self.gateway {
            Some(g) => ip_route(&mut g.gw.routes(), out),
            None => writeln!(out, "gateway not running"),
        }
    }

    fn ip_neigh(&mut self, out: &mut dyn Write) -> fmt::Result {
        let Some(g) = &self.gateway else {
            return writeln!(out, "gateway not running");
        };
        for port in [GwPort::Lan, GwPort::Wan] {
            for n in g.gw.neighbours(port) {
                writeln!(out, "{}", IpNeigh(port, n))?;
            }
        }
        Ok(())
    }

    fn peer_add(&mut self, peer: PeerConfig) -> Result<(), PeerChangeError> {
        let g = self.gateway.as_mut().ok_or(PeerChangeError::NoSuchPeer)?;
        g.gw.add_peer(peer).map(|_| ())
    }

    fn peer_remove(&mut self, public_key: &[u8; 32]) -> Result<(), PeerChangeError> {
        let g = self.gateway.as_mut().ok_or(PeerChangeError::NoSuchPeer)?;
        g.gw.remove_peer(public_key, &mut Pool(&mut self.pool))
    }
}

/// The data plane lent to a console job for one poll.
pub struct NetJob<'a, D: PortDevice> {
    /// The data plane.
    pub net: &'a mut Net<D>,
    /// The time of this poll.
    pub now_ns: u64,
}

fn in_subnet(net: Option<(Ipv4Addr, u8)>, ip: Ipv4Addr) -> bool {
    net.is_some_and(|(a, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        u32::from(a) & mask == u32::from(ip) & mask
    })
}

impl<D: PortDevice> EchoIo for NetJob<'_, D> {
    /// Routes like the gateway: the LAN subnet through the LAN host stack,
    /// a peer's allowed IPs through the tunnel, the rest out of the WAN.
    fn send(&mut self, dest: Ipv4Addr, seq: u16, size: usize) -> bool {
        let Some(g) = self.net.gateway.as_mut() else {
            return false;
        };
        if in_subnet(g.gw.address(GwPort::Lan), dest) {
            return g.gw.host_stack_mut(GwPort::Lan).send_echo(dest, seq, size);
        }
        if g.gw.routes_to_tunnel(dest) {
            let now = g.time(self.now_ns);
            let mut pool = Pool(&mut self.net.pool);
            return g
                .gw
                .send_tunnel_echo(now, dest, seq, size, &mut g.out, &mut pool);
        }
        g.gw.host_stack_mut(GwPort::Wan).send_echo(dest, seq, size)
    }

    fn recv(&mut self) -> Option<Reply> {
        let g = self.net.gateway.as_mut()?;
        let r =
            g.gw.recv_tunnel_echo()
                .or_else(|| g.gw.host_stack_mut(GwPort::Lan).recv_echo())
                .or_else(|| g.gw.host_stack_mut(GwPort::Wan).recv_echo())?;
        Some(Reply {
            from: r.from,
            seq: r.seq,
            len: r.len,
            ttl: None,
        })
    }
}

impl<D: PortDevice> JobNet for NetJob<'_, D> {
    fn set_capture(&mut self, ring: Option<Box<CaptureRing>>) -> Option<Box<CaptureRing>> {
        match self.net.gateway.as_mut() {
            Some(g) => core::mem::replace(&mut g.capture, ring),
            None => None,
        }
    }

    fn capture(&mut self) -> Option<&mut CaptureRing> {
        self.net.gateway.as_mut()?.capture.as_deref_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_match_by_prefix() {
        let lan = Some((Ipv4Addr::new(192, 168, 10, 1), 24));
        assert!(in_subnet(lan, Ipv4Addr::new(192, 168, 10, 2)));
        assert!(!in_subnet(lan, Ipv4Addr::new(192, 168, 11, 2)));
        assert!(!in_subnet(None, Ipv4Addr::new(192, 168, 10, 2)));
        assert!(in_subnet(
            Some((Ipv4Addr::new(1, 2, 3, 4), 0)),
            Ipv4Addr::new(9, 9, 9, 9)
        ));
        let host = Some((Ipv4Addr::new(10, 0, 0, 1), 32));
        assert!(in_subnet(host, Ipv4Addr::new(10, 0, 0, 1)));
        assert!(!in_subnet(host, Ipv4Addr::new(10, 0, 0, 2)));
    }
}
