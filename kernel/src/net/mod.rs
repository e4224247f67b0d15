//! The data plane as the poll loop sees it: every NIC port, the packet pool
//! they share, and what the console shows about them.
//!
//! [`Net`] owns the ports and the pool and implements [`Dataplane`]: each
//! iteration every port moves one burst; at 4 Hz every port runs its
//! housekeeping. It also implements [`NetConsole`], the object-safe view the
//! shell's `ip` and `stats` commands use, so the shell needs no knowledge of
//! driver types. Generic over the device type so host tests run it with a
//! fake NIC; the kernel binary instantiates it with its enum over the real
//! drivers.
//!
//! With a valid configuration the kernel starts a [`gw::GatewayPlane`] over
//! the first two ports (LAN, WAN): from then on the gateway owns their
//! traffic and the ports' own host stacks are retired (the gateway runs its
//! own), while the drivers' housekeeping stays here.
//!
//! `stats` ends with the gateway's stage profile ([`profile`]): where the
//! loop's cycles went since `stats reset`, per direction and stage.

pub mod addr;
pub mod gw;
pub mod load;
pub mod port;
pub mod profile;
pub mod show;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt::{self, Write};

use drivers::buf::{PacketPool, PoolStats};
use drivers::netdev::NetDevice;
use log::{info, warn};

pub use port::{Addressing, Port, PortCounters, PortEvent};

use crate::poll::Dataplane;
use profile::Meter;

/// A NIC as the ports use it: the driver interface plus what `ip link`
/// shows beyond up/down, which not every driver knows.
pub trait PortDevice: NetDevice {
    /// Link speed in Mb/s and full duplex, when the device reports them.
    fn link_speed(&self) -> Option<(u32, bool)> {
        None
    }
}

/// Every port and the pool their buffers come from.
pub struct Net<D: PortDevice> {
    /// The ports, in PCI order (lan first, then wan).
    pub ports: Vec<Port<D>>,
    /// The shared packet pool.
    pub pool: PacketPool,
    /// Pool counters at the last `stats reset`.
    pool_base: PoolStats,
    /// The poll loop's busy fraction and packet rate (fed by the loop).
    pub load: load::LoadMeter,
    /// The WireGuard gateway over ports 0 (LAN) and 1 (WAN), once started.
    pub gateway: Option<gw::GatewayPlane>,
}

impl<D: PortDevice> Net<D> {
    /// A data plane over `ports` sharing `pool`.
    pub fn new(ports: Vec<Port<D>>, pool: PacketPool) -> Net<D> {
        Net {
            ports,
            pool,
            pool_base: PoolStats::default(),
            load: load::LoadMeter::new(),
            gateway: None,
        }
    }

    /// Hands the LAN and WAN ports to `gateway`: their host stacks retire,
    /// and both ports announce the gateway's addresses. False (and the
    /// gateway dropped) when there are fewer than two ports.
    pub fn start_gateway(&mut self, mut gateway: gw::GatewayPlane) -> bool {
        let [lan, wan, ..] = self.ports.as_mut_slice() else {
            return false;
        };
        lan.host = None;
        wan.host = None;
        gateway.announce(lan, wan, &mut self.pool);
        self.gateway = Some(gateway);
        true
    }

    /// Adds a console poll of `cycles` to the gateway's stage profile.
    pub fn record_console(&mut self, cycles: u64) {
        if let Some(g) = self.gateway.as_mut() {
            g.profile.console(cycles);
        }
    }

    /// Pool counters since the last reset.
    pub fn pool_stats(&self) -> PoolStats {
        let s = self.pool.stats();
        PoolStats {
            allocs: s.allocs.wrapping_sub(self.pool_base.allocs),
            exhausted: s.exhausted.wrapping_sub(self.pool_base.exhausted),
        }
    }
}

fn ms(now_ns: u64) -> i64 {
    (now_ns / 1_000_000) as i64
}

impl<D: PortDevice> Dataplane for Net<D> {
    fn poll(&mut self, now_ns: u64) -> usize {
        let now = ms(now_ns);
        let mut work = 0;
        let rest = match (self.gateway.as_mut(), self.ports.as_mut_slice()) {
            (Some(g), [lan, wan, others @ ..]) => {
                work += g.poll(lan, wan, &mut self.pool, now_ns);
                // Ports beyond LAN and WAN keep serving their own host stacks.
                others
            }
            (_, all) => all,
        };
        for p in rest {
            work += p.poll(&mut self.pool, now);
        }
        work
    }

    fn maintain(&mut self, now_ns: u64) {
        let now = ms(now_ns);
        let mut link_up = false;
        for p in &mut self.ports {
            let name = p.name;
            p.maintain(&mut self.pool, now, &mut |e| match e {
                PortEvent::LinkUp => {
                    link_up = true;
                    info!("{name}: {e}")
                }
                PortEvent::LinkDown | PortEvent::DeviceReset => warn!("{name}: {e}"),
            });
        }
        if let (true, Some(g), [lan, wan, ..]) =
            (link_up, self.gateway.as_mut(), self.ports.as_mut_slice())
        {
            g.announce(lan, wan, &mut self.pool);
        }
    }
}

/// What the console's `ip` and `stats` commands ask of the data plane.
pub trait NetConsole {
    /// `ip link`: one line per NIC.
    fn ip_link(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// `ip addr`: each port's address.
    fn ip_addr(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// `stats`: driver, port and pool counters.
    fn stats(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// `stats reset`: zero every counter.
    fn reset_stats(&mut self);
    /// `config`: the running configuration, keys redacted.
    fn config(&mut self, out: &mut dyn Write) -> fmt::Result {
        writeln!(out, "no configuration in use")
    }
    /// `wg`: the WireGuard interface and its peers.
    fn wg(&mut self, _now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        writeln!(out, "gateway not running")
    }
}

impl<D: PortDevice> NetConsole for Net<D> {
    fn ip_link(&mut self, out: &mut dyn Write) -> fmt::Result {
        show::ip_link(&mut self.ports, out)
    }
    fn ip_addr(&mut self, out: &mut dyn Write) -> fmt::Result {
        if let Some(g) = &self.gateway {
            return g.ip_addr(out);
        }
        show::ip_addr(&self.ports, out)
    }
    fn stats(&mut self, out: &mut dyn Write) -> fmt::Result {
        show::stats(&self.ports, out)?;
        if let Some(g) = &self.gateway {
            g.stats(out)?;
        }
        show::pool(&self.pool, self.pool_stats(), out)?;
        write!(out, "{}", self.load)?;
        match &self.gateway {
            Some(g) => g
                .profile
                .report(profile::Tsc::now(), profile::tsc_hz(), out),
            None => Ok(()),
        }
    }
    fn reset_stats(&mut self) {
        for p in &mut self.ports {
            p.reset_stats();
        }
        if let Some(g) = self.gateway.as_mut() {
            g.reset_stats();
            g.profile.reset(profile::Tsc::now());
        }
        self.pool_base = self.pool.stats();
    }
    fn config(&mut self, out: &mut dyn Write) -> fmt::Result {
        match &self.gateway {
            Some(g) => write!(out, "{}", g.gw.config()),
            None => writeln!(out, "no configuration in use"),
        }
    }
    fn wg(&mut self, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        match &self.gateway {
            Some(g) => g.wg(now_ns, out),
            None => writeln!(out, "gateway not running"),
        }
    }
}
