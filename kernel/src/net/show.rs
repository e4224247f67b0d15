//! The text of `ip link`, `ip addr` and `stats`.
//!
//! Counters are printed as `name value` pairs with the stable names scripts
//! and tests grep for: the driver's [`NicStats`] fields with `_` written as
//! `-`, the port's `to-host`/`from-host`, and one line per non-zero
//! [`DropReason`](netfn::gateway::counters::DropReason) under its own name.

use core::fmt::{self, Write};

use drivers::buf::{PacketPool, PoolStats};
use drivers::netdev::NicStats;

use super::port::{Addressing, Port};
use super::PortDevice;

/// Formats a MAC address as `52:54:00:12:34:56`.
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// `ip link`: name, driver, PCI address, MAC, link state, MTU.
pub fn ip_link<D: PortDevice>(ports: &mut [Port<D>], out: &mut dyn Write) -> fmt::Result {
    if ports.is_empty() {
        return writeln!(out, "no network ports");
    }
    for p in ports {
        let up = p.dev.link_up();
        write!(out, "{:<5} {:<11} ", p.name, p.dev.driver_name())?;
        match p.bdf {
            Some(b) => write!(out, "{b}")?,
            None => write!(out, "{:<7}", "-")?,
        }
        write!(
            out,
            "  {}  {:<4}  mtu {}",
            MacAddr(p.mac()),
            if up { "up" } else { "down" },
            p.dev.mtu()
        )?;
        match p.dev.link_speed() {
            Some((mbps, full)) if up => {
                writeln!(out, "  {mbps}Mb/s {}", if full { "full" } else { "half" })?
            }
            _ => writeln!(out)?,
        }
    }
    Ok(())
}

/// `ip addr`: each port's address and where it came from.
pub fn ip_addr<D: PortDevice>(ports: &[Port<D>], out: &mut dyn Write) -> fmt::Result {
    if ports.is_empty() {
        return writeln!(out, "no network ports");
    }
    for p in ports {
        write!(out, "{:<5} ", p.name)?;
        match (p.addressing, p.ipv4()) {
            (Addressing::None, _) => writeln!(out, "no address")?,
            (Addressing::Static(..), Some((a, l))) => writeln!(out, "{a}/{l}")?,
            (Addressing::Dhcp, Some((a, l))) => writeln!(out, "{a}/{l} (dhcp)")?,
            (Addressing::Dhcp, None) => writeln!(out, "dhcp (no lease yet)")?,
            (Addressing::Static(a, l), None) => writeln!(out, "{a}/{l} (not applied)")?,
        }
    }
    Ok(())
}

fn nic_stats(s: &NicStats, out: &mut dyn Write) -> fmt::Result {
    writeln!(
        out,
        "  rx-packets {}  rx-bytes {}  tx-packets {}  tx-bytes {}",
        s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_bytes
    )?;
    writeln!(
        out,
        "  rx-no-buffer {}  rx-errors {}  rx-too-long {}  rx-runts {}  rx-missed {}",
        s.rx_no_buffer, s.rx_errors, s.rx_too_long, s.rx_runts, s.rx_missed
    )?;
    writeln!(
        out,
        "  tx-ring-full {}  tx-bad-frame {}  tx-errors {}  resets {}  link-downs {}",
        s.tx_ring_full, s.tx_bad_frame, s.tx_errors, s.resets, s.link_downs
    )
}

/// `stats`: per port, the driver's counters, the host stack's share and the drops.
pub fn stats<D: PortDevice>(ports: &[Port<D>], out: &mut dyn Write) -> fmt::Result {
    for p in ports {
        write!(out, "{} ({}", p.name, p.dev.driver_name())?;
        if let Some(b) = p.bdf {
            write!(out, " {b}")?;
        }
        writeln!(out, ")")?;
        nic_stats(p.dev.stats(), out)?;
        let c = &p.counters;
        writeln!(
            out,
            "  to-host {}  from-host {}  dropped {}",
            c.to_host,
            c.from_host,
            c.drops.total()
        )?;
        for (reason, n) in c.drops.nonzero() {
            writeln!(out, "  drop {reason} {n}")?;
        }
    }
    Ok(())
}

/// The pool line of `stats`.
pub fn pool(pool: &PacketPool, s: PoolStats, out: &mut dyn Write) -> fmt::Result {
    writeln!(
        out,
        "pool: buffers {}  free {}  allocs {}  exhausted {}",
        pool.capacity(),
        pool.available(),
        s.allocs,
        s.exhausted
    )
}
