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

pub mod addr;
pub mod port;
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
}

impl<D: PortDevice> Net<D> {
    /// A data plane over `ports` sharing `pool`.
    pub fn new(ports: Vec<Port<D>>, pool: PacketPool) -> Net<D> {
        Net {
            ports,
            pool,
            pool_base: PoolStats::default(),
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
        for p in &mut self.ports {
            work += p.poll(&mut self.pool, now);
        }
        work
    }

    fn maintain(&mut self, now_ns: u64) {
        let now = ms(now_ns);
        for p in &mut self.ports {
            let name = p.name;
            p.maintain(&mut self.pool, now, &mut |e| match e {
                PortEvent::LinkUp => info!("{name}: {e}"),
                PortEvent::LinkDown | PortEvent::DeviceReset => warn!("{name}: {e}"),
            });
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
}

impl<D: PortDevice> NetConsole for Net<D> {
    fn ip_link(&mut self, out: &mut dyn Write) -> fmt::Result {
        show::ip_link(&mut self.ports, out)
    }
    fn ip_addr(&mut self, out: &mut dyn Write) -> fmt::Result {
        show::ip_addr(&self.ports, out)
    }
    fn stats(&mut self, out: &mut dyn Write) -> fmt::Result {
        show::stats(&self.ports, out)?;
        show::pool(&self.pool, self.pool_stats(), out)
    }
    fn reset_stats(&mut self) {
        for p in &mut self.ports {
            p.reset_stats();
        }
        self.pool_base = self.pool.stats();
    }
}
