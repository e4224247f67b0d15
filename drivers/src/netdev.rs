//! The interface every NIC driver offers the poll loop.
//!
//! Deliberately small and burst-shaped: the poll loop asks for up to
//! [`BURST`](crate::buf::BURST) received frames, hands over up to as many frames
//! to send, and reads counters. Drivers own their rings; buffers come from and go
//! back to the shared [`PacketPool`], which is passed in on every call so there is
//! no shared mutable state between drivers.

use crate::buf::{Burst, PacketPool};

/// Per-port counters kept by a driver. Every drop has its own field.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NicStats {
    /// Frames received and handed to the caller.
    pub rx_packets: u64,
    /// Bytes of those frames (Ethernet header and payload, no CRC).
    pub rx_bytes: u64,
    /// Frames handed to the device for transmission.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Rx ring slots left empty because the pool was exhausted.
    pub rx_no_buffer: u64,
    /// Frames the caller offered that did not fit in the tx ring.
    pub tx_ring_full: u64,
    /// Frames the device reported as bad (CRC, symbol, sequence, carrier errors).
    pub rx_errors: u64,
    /// Frames longer than the receive buffer (truncated or split by the device).
    pub rx_too_long: u64,
    /// Frames shorter than an Ethernet header.
    pub rx_runts: u64,
    /// Frames the caller offered that the device cannot send (too long, empty).
    pub tx_bad_frame: u64,
    /// Frames the device reported it could not send.
    pub tx_errors: u64,
    /// Frames the hardware dropped for lack of descriptors (from device counters).
    pub rx_missed: u64,
    /// Times the driver re-initialised the device after a reported failure.
    pub resets: u64,
    /// Link up → down transitions seen.
    pub link_downs: u64,
}

/// A poll-mode network device.
pub trait NetDevice {
    /// Short driver name for `ip link` ("virtio-net", "e1000", "e1000e").
    fn driver_name(&self) -> &'static str;
    /// The station MAC address.
    fn mac(&self) -> [u8; 6];
    /// Current link state (may read a device register).
    fn link_up(&mut self) -> bool;
    /// Largest Ethernet payload the port carries.
    fn mtu(&self) -> usize {
        1500
    }
    /// Moves up to `out`'s free capacity of received frames into `out`
    /// (each buffer's window is the Ethernet frame) and refills the rx ring
    /// from `pool`. Returns how many were added.
    fn rx_burst(&mut self, pool: &mut PacketPool, out: &mut Burst) -> usize;
    /// Queues frames from the front of `bufs` for transmission, one doorbell for
    /// the lot, and removes the queued ones from `bufs`. Frames that did not fit
    /// stay in `bufs` (the caller frees them and they are counted as
    /// `tx_ring_full`). Completed earlier transmissions go back to `pool`.
    /// Returns how many were queued.
    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize;
    /// Housekeeping outside the fast path: reclaim tx buffers, notice link
    /// changes and device failures (re-initialising when needed), refresh
    /// hardware counters. Called from the poll loop a few times per second.
    fn maintain(&mut self, pool: &mut PacketPool);
    /// Counters.
    fn stats(&self) -> &NicStats;
    /// Zeroes the counters.
    fn reset_stats(&mut self);
}
