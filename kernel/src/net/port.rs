//! One network port: a NIC driver, the appliance's host stack on it, and the
//! port's software counters.
//!
//! This is the glue between `drivers` (buffers and rings) and `netfn` (what
//! the bytes mean). It is generic over [`PortDevice`] (a [`NetDevice`]), so host tests drive it
//! with a fake NIC and the kernel with its enum over virtio-net and the Intel
//! NICs: one concrete type per port list, no per-packet dynamic dispatch.
//!
//! Until the gateway forwards traffic, a port serves only the appliance's own
//! host stack: [`classify_lan`] (the gateway's classifier, so there is one
//! opinion about what a frame is) sends ARP and IPv4 for the port's address to
//! smoltcp; everything else is counted under its [`DropReason`] and its buffer
//! goes straight back to the pool. Nothing here allocates after bring-up: the
//! host stack's replies are copied into pool buffers.

use core::net::Ipv4Addr;

use drivers::buf::{Burst, PacketPool};
use drivers::netdev::NetDevice;
use drivers::pci::Bdf;
use netfn::gateway::classify::{classify_lan, LanFrame, LanIdentity};
use netfn::gateway::counters::{DropCounters, DropReason};
use netfn::hoststack::{HostStack, FRAME_MAX};

use super::PortDevice;

/// Software counters of a port, beside the driver's own [`drivers::netdev::NicStats`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames handed to the host stack.
    pub to_host: u64,
    /// Frames the host stack sent.
    pub from_host: u64,
    /// Every frame not delivered, by reason.
    pub drops: DropCounters,
}

/// Something [`Port::maintain`] noticed that the kernel should log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEvent {
    /// The link came up.
    LinkUp,
    /// The link went down.
    LinkDown,
    /// The driver re-initialised the device after a failure.
    DeviceReset,
}

impl core::fmt::Display for PortEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PortEvent::LinkUp => "link up",
            PortEvent::LinkDown => "link down",
            PortEvent::DeviceReset => "device failed; its driver reset it",
        })
    }
}

/// How a port gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// No address: the port counts what arrives and answers nothing.
    None,
    /// A fixed address and prefix length.
    Static(Ipv4Addr, u8),
    /// Learnt from a DHCPv4 server.
    Dhcp,
}

/// A port: device, host stack, counters.
pub struct Port<D: PortDevice> {
    /// "lan" or "wan" (or "ethN" beyond the first two).
    pub name: &'static str,
    /// Where the NIC sits on the PCI bus (none for fakes).
    pub bdf: Option<Bdf>,
    /// The driver.
    pub dev: D,
    /// How the address was configured (for `ip addr`).
    pub addressing: Addressing,
    /// The appliance's own stack on this port (none without an address).
    pub host: Option<HostStack>,
    /// Software counters.
    pub counters: PortCounters,
    mac: [u8; 6],
    link: bool,
    resets: u64,
    rx: Burst,
    tx: Burst,
}

impl<D: PortDevice> Port<D> {
    /// A port around a started device.
    pub fn new(
        name: &'static str,
        bdf: Option<Bdf>,
        mut dev: D,
        addressing: Addressing,
        host: Option<HostStack>,
    ) -> Port<D> {
        let link = dev.link_up();
        let resets = dev.stats().resets;
        Port {
            name,
            bdf,
            mac: dev.mac(),
            dev,
            addressing,
            host,
            counters: PortCounters::default(),
            link,
            resets,
            rx: Burst::new(),
            tx: Burst::new(),
        }
    }

    /// The station MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The link state as last seen by [`Port::maintain`].
    pub fn link(&self) -> bool {
        self.link
    }

    /// The port's current IPv4 address (static or leased).
    pub fn ipv4(&self) -> Option<(Ipv4Addr, u8)> {
        self.host.as_ref().and_then(HostStack::ipv4)
    }

    /// One poll-loop step: receive a burst, serve the host stack, send its
    /// replies. Returns the number of frames received.
    pub fn poll(&mut self, pool: &mut PacketPool, now_ms: i64) -> usize {
        let n = self.dev.rx_burst(pool, &mut self.rx);
        if n == 0 && self.rx.is_empty() {
            return 0;
        }
        let (ip, prefix_len) = self.ipv4().unwrap_or((Ipv4Addr::UNSPECIFIED, 32));
        let us = LanIdentity {
            mac: self.mac,
            ip,
            prefix_len,
            other_ips: &[],
        };
        let mut served = false;
        for i in 0..self.rx.len() {
            let Some(buf) = self.rx.get(i) else { continue };
            let frame = buf.data();
            // Longer than Ethernet allows (the device took it anyway): not a
            // frame the host stack could hold, whatever its headers say.
            if frame.len() > FRAME_MAX {
                self.counters.drops.count(DropReason::BadFrame);
                continue;
            }
            let reason = match classify_lan(frame, &us) {
                LanFrame::Arp | LanFrame::Local => match self.host.as_mut() {
                    Some(h) => {
                        let mut taken = h.push_rx(frame);
                        if !taken {
                            // The slow-path queue is short: let the stack
                            // consume it, ship its replies, then retry.
                            serve(
                                h,
                                &mut self.dev,
                                &mut self.tx,
                                &mut self.counters,
                                pool,
                                now_ms,
                            );
                            taken = h.push_rx(frame);
                        }
                        if taken {
                            self.counters.to_host += 1;
                            served = true;
                            continue;
                        }
                        DropReason::HostQueueFull
                    }
                    None => DropReason::NotForUs,
                },
                // No forwarding yet: the gateway takes these over.
                LanFrame::Forward(_) => DropReason::NoRoute,
                LanFrame::Ipv6 => DropReason::Unsupported,
                LanFrame::NotForUs => DropReason::NotForUs,
                LanFrame::Refused(e) => e.drop_reason(),
            };
            self.counters.drops.count(reason);
        }
        self.rx.free_all(pool);
        if served {
            if let Some(h) = self.host.as_mut() {
                serve(
                    h,
                    &mut self.dev,
                    &mut self.tx,
                    &mut self.counters,
                    pool,
                    now_ms,
                );
            }
        }
        n
    }

    /// Housekeeping at a few hertz: the driver's own `maintain` (tx reclaim,
    /// link and failure checks), the host stack's timers (ARP, DHCP), and
    /// what changed since last time.
    pub fn maintain(
        &mut self,
        pool: &mut PacketPool,
        now_ms: i64,
        events: &mut dyn FnMut(PortEvent),
    ) {
        self.dev.maintain(pool);
        let resets = self.dev.stats().resets;
        if resets != self.resets {
            self.resets = resets;
            events(PortEvent::DeviceReset);
        }
        let link = self.dev.link_up();
        if link != self.link {
            self.link = link;
            events(if link {
                PortEvent::LinkUp
            } else {
                PortEvent::LinkDown
            });
        }
        if let Some(h) = self.host.as_mut() {
            serve(
                h,
                &mut self.dev,
                &mut self.tx,
                &mut self.counters,
                pool,
                now_ms,
            );
        }
    }

    /// Zeroes the driver's and the port's counters.
    pub fn reset_stats(&mut self) {
        self.dev.reset_stats();
        self.counters = PortCounters::default();
        self.resets = self.dev.stats().resets;
    }
}

/// Runs the host stack, copies what it wants to send into pool buffers and
/// hands them to the device, a burst at a time.
fn serve<D: NetDevice>(
    host: &mut HostStack,
    dev: &mut D,
    tx: &mut Burst,
    counters: &mut PortCounters,
    pool: &mut PacketPool,
    now_ms: i64,
) {
    // DHCP lease changes are visible through `ipv4()`; nothing else to do.
    let _ = host.poll(now_ms);
    while host.has_tx() {
        if tx.is_full() {
            flush(dev, tx, counters, pool);
        }
        let Some(mut buf) = pool.alloc() else {
            // Drop the frame we cannot carry so the queue keeps moving.
            counters.drops.count(DropReason::NoBuffer);
            let mut scratch = [0u8; FRAME_MAX];
            let _ = host.pop_tx(&mut scratch);
            continue;
        };
        let start = buf.start();
        let end = (start + FRAME_MAX).min(buf.slot().len());
        match host.pop_tx(&mut buf.slot_mut()[start..end]) {
            Some(len) if buf.set_len(len) => match tx.push(buf) {
                Ok(()) => counters.from_host += 1,
                Err(b) => {
                    counters.drops.count(DropReason::RingFull);
                    pool.free(b);
                }
            },
            _ => {
                counters.drops.count(DropReason::BadFrame);
                pool.free(buf);
            }
        }
    }
    flush(dev, tx, counters, pool);
}

/// Sends what `tx` holds; what the ring cannot take is counted and freed.
fn flush<D: NetDevice>(
    dev: &mut D,
    tx: &mut Burst,
    counters: &mut PortCounters,
    pool: &mut PacketPool,
) {
    if tx.is_empty() {
        return;
    }
    dev.tx_burst(pool, tx);
    if !tx.is_empty() {
        counters.drops.add(DropReason::RingFull, tx.len() as u64);
        tx.free_all(pool);
    }
}
