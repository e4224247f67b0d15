//! Poll-mode virtio-net driver (spec 5.1) over either PCI transport.
//!
//! Queue 0 receives, queue 1 transmits; no control queue, no offloads, no
//! mergeable buffers: the driver negotiates MAC and STATUS (plus VERSION_1 on
//! the modern transport) and nothing else, so every frame is exactly one
//! descriptor preceded by a `virtio_net_hdr` (5.1.6).
//!
//! Zero copy: the header lives in the packet buffer's headroom right in front
//! of the frame. For receive the device is given the slot from
//! `HEADROOM - hdr_len` to its end, so the frame lands at `HEADROOM`; for
//! transmit a zeroed header is written in front of the frame and one
//! descriptor covers both. The header is 12 bytes with VERSION_1 and 10 bytes
//! on a legacy device without MRG_RXBUF (5.1.6, "Legacy Interface").
//!
//! A legacy device that does not offer ANY_LAYOUT expects the header in a
//! descriptor of its own (2.6.4.1, "Legacy Interface: Message Framing"): then
//! each frame is a two-descriptor chain over the same bytes (header, frame),
//! still without a copy, at the price of half as many frames per ring.
//!
//! The rx ring is kept full from the pool; tx buffers are reclaimed on the
//! next `tx_burst` or `maintain`. Interrupts are suppressed on both rings and
//! a burst costs at most one doorbell, skipped when the device says it is
//! already polling (`VIRTQ_USED_F_NO_NOTIFY`). A device that sets
//! DEVICE_NEEDS_RESET is reset and brought up again by `maintain`.

use super::queue::SplitQueue;
use super::{driver_ok, feature, init_device, status, InitError, Transport, TransportKind};
use crate::buf::{Burst, PacketBuf, PacketPool, BUF_SIZE, HEADROOM};
use crate::hal::DmaAlloc;
use crate::netdev::{NetDevice, NicStats};
use alloc::vec::Vec;

/// Receive queue index (5.1.2).
pub const RX_QUEUE: u16 = 0;
/// Transmit queue index (5.1.2).
pub const TX_QUEUE: u16 = 1;
/// Largest ring the driver asks a modern device for.
pub const MAX_QUEUE_SIZE: u16 = 256;
/// Largest ring accepted from a legacy device, which imposes its size
/// (QEMU's default is 256; `rx_queue_size` can raise it to 1024).
pub const LEGACY_MAX_QUEUE_SIZE: u16 = 1024;
/// `virtio_net_hdr` length with VERSION_1 (includes `num_buffers`, 5.1.6).
pub const HDR_LEN_V1: usize = 12;
/// `virtio_net_hdr` length on a legacy device without MRG_RXBUF (5.1.6.1).
pub const HDR_LEN_LEGACY: usize = 10;
/// Shortest frame handed to the caller: an Ethernet header.
const MIN_FRAME: usize = 14;
/// Longest frame the driver sends: MTU plus Ethernet header.
pub const MAX_TX_FRAME: usize = 1514;

/// `virtio_net_config` offsets (5.1.4).
mod config {
    pub const MAC: usize = 0;
    pub const STATUS: usize = 6;
    /// `status` bit: link is up.
    pub const S_LINK_UP: u16 = 1;
}

/// Something `check` noticed that the kernel should log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The device reported DEVICE_NEEDS_RESET (or was down) and is running again.
    Recovered,
    /// Re-initialisation failed; the port stays down and is retried next time.
    RecoveryFailed(InitError),
    /// The link came up.
    LinkUp,
    /// The link went down.
    LinkDown,
}

impl core::fmt::Display for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Event::Recovered => f.write_str("device needed a reset; re-initialised"),
            Event::RecoveryFailed(e) => {
                write!(f, "device needed a reset; re-initialisation failed: {e}")
            }
            Event::LinkUp => f.write_str("link up"),
            Event::LinkDown => f.write_str("link down"),
        }
    }
}

/// A virtio-net device driven in poll mode.
pub struct VirtioNet<T: Transport> {
    t: T,
    rxq: SplitQueue,
    txq: SplitQueue,
    /// Buffer owned by the device behind each rx descriptor id.
    rx_bufs: Vec<Option<PacketBuf>>,
    /// Buffer owned by the device behind each tx descriptor id.
    tx_bufs: Vec<Option<PacketBuf>>,
    hdr_len: usize,
    /// Descriptors per frame: 1, or 2 when the header needs its own.
    descs: usize,
    features: u64,
    mac: [u8; 6],
    link: bool,
    /// The device is initialised and the rings are live.
    running: bool,
    /// `release_all` was called: `maintain` must not bring the device back.
    stopped: bool,
    /// Rx slots the last refill could not fill (already counted as drops).
    empty_slots: usize,
    stats: NicStats,
}

impl<T: Transport> VirtioNet<T> {
    /// Brings the device up (3.1.1), allocating both rings from `dma` and
    /// filling the rx ring from `pool`.
    pub fn new(
        mut t: T,
        dma: &mut impl DmaAlloc,
        pool: &mut PacketPool,
    ) -> Result<VirtioNet<T>, InitError> {
        let features = negotiate(&mut t)?;
        let cap = match t.kind() {
            TransportKind::Modern => MAX_QUEUE_SIZE,
            TransportKind::Legacy => LEGACY_MAX_QUEUE_SIZE,
        };
        let mut sizes = [0u16; 2];
        for (q, size) in sizes.iter_mut().enumerate() {
            *size = queue_size(&mut t, q as u16, cap).inspect_err(|_| fail(&mut t))?;
        }
        let (Some(rxq), Some(txq)) = (
            SplitQueue::alloc(dma, sizes[0]),
            SplitQueue::alloc(dma, sizes[1]),
        ) else {
            fail(&mut t);
            return Err(InitError::OutOfDmaMemory);
        };
        let mut dev = VirtioNet {
            rx_bufs: (0..sizes[0]).map(|_| None).collect(),
            tx_bufs: (0..sizes[1]).map(|_| None).collect(),
            hdr_len: hdr_len(t.kind()),
            descs: descs_per_frame(t.kind(), features),
            t,
            rxq,
            txq,
            features,
            mac: [0; 6],
            link: false,
            running: false,
            stopped: false,
            empty_slots: 0,
            stats: NicStats::default(),
        };
        if let Err(e) = dev.start(pool) {
            dev.teardown(pool);
            fail(&mut dev.t);
            return Err(e);
        }
        Ok(dev)
    }

    /// The negotiated feature bits.
    pub fn features(&self) -> u64 {
        self.features
    }
    /// Length of the `virtio_net_hdr` in front of every frame.
    pub fn header_len(&self) -> usize {
        self.hdr_len
    }
    /// Transport in use.
    pub fn transport_kind(&self) -> TransportKind {
        self.t.kind()
    }
    /// Entries in the (rx, tx) rings.
    pub fn ring_sizes(&self) -> (u16, u16) {
        (self.rxq.size(), self.txq.size())
    }
    /// True while the device is initialised and usable.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Steps 7 and 8 of 3.1.1 on rings that already exist: queue set-up, MAC,
    /// rx ring filled, DRIVER_OK.
    fn start(&mut self, pool: &mut PacketPool) -> Result<(), InitError> {
        for (q, ring) in [(RX_QUEUE, &mut self.rxq), (TX_QUEUE, &mut self.txq)] {
            let size = queue_size(&mut self.t, q, ring.capacity())?;
            if !ring.reset(size) {
                return Err(InitError::QueueSizeChanged(q));
            }
            let (d, a, u) = ring.addresses();
            self.t.activate_queue(q, size, d, a, u)?;
        }
        self.mac = read_mac(&self.t);
        self.running = true;
        // The driver MUST NOT send buffer notifications before DRIVER_OK
        // (3.1.1), so the ring is filled silently and kicked afterwards.
        self.refill(pool, false);
        driver_ok(&mut self.t);
        if self.rxq.device_wants_notify() {
            self.t.notify(RX_QUEUE);
        }
        self.link = self.read_link();
        Ok(())
    }

    /// Resets the device (so it stops touching memory) and returns every
    /// buffer the driver holds to `pool`: the shutdown path, after which the
    /// driver stays down (`maintain` does not revive it). Call it before
    /// dropping the driver, or the buffers it holds are lost to the pool.
    pub fn release_all(&mut self, pool: &mut PacketPool) {
        self.stopped = true;
        self.teardown(pool);
    }

    /// Reset, then every buffer back to the pool and empty rings.
    fn teardown(&mut self, pool: &mut PacketPool) {
        // A failed reset leaves nothing better to do than reclaim anyway.
        let _ = self.t.reset();
        self.running = false;
        self.empty_slots = 0;
        for b in self.rx_bufs.iter_mut().chain(self.tx_bufs.iter_mut()) {
            if let Some(b) = b.take() {
                pool.free(b);
            }
        }
        let (rs, ts) = (self.rxq.size(), self.txq.size());
        self.rxq.reset(rs);
        self.txq.reset(ts);
    }

    /// Housekeeping that reports what it saw: device failure and recovery,
    /// link changes. [`NetDevice::maintain`] calls this and drops the event.
    pub fn check(&mut self, pool: &mut PacketPool) -> Option<Event> {
        if self.stopped {
            return None;
        }
        let st = self.t.status();
        if !self.running || st & (status::DEVICE_NEEDS_RESET | status::FAILED) != 0 {
            // 2.1.2: the driver SHOULD reset the device on DEVICE_NEEDS_RESET.
            self.teardown(pool);
            self.stats.resets += 1;
            return Some(
                match negotiate(&mut self.t).and_then(|f| {
                    self.features = f;
                    self.start(pool)
                }) {
                    Ok(()) => Event::Recovered,
                    Err(e) => {
                        self.teardown(pool);
                        fail(&mut self.t);
                        Event::RecoveryFailed(e)
                    }
                },
            );
        }
        self.reclaim_tx(pool);
        self.refill(pool, true);
        let was = self.link;
        let now = self.link_up();
        match (was, now) {
            (false, true) => Some(Event::LinkUp),
            (true, false) => Some(Event::LinkDown),
            _ => None,
        }
    }

    fn read_link(&self) -> bool {
        if self.features & feature::NET_STATUS == 0 {
            // Without STATUS the link is assumed up (5.1.4.2).
            return true;
        }
        self.t.config_read16(config::STATUS) & config::S_LINK_UP != 0
    }

    /// Keeps the rx ring full from the pool. A slot the pool cannot fill is
    /// counted once in `rx_no_buffer` when it becomes empty, not on every
    /// retry. `kick`: ring the doorbell if buffers were added and the device
    /// wants it.
    fn refill(&mut self, pool: &mut PacketPool, kick: bool) {
        if !self.running {
            return;
        }
        let mut added = 0;
        let off = HEADROOM - self.hdr_len;
        while self.rxq.num_free() >= self.descs {
            let Some(b) = pool.alloc() else {
                break;
            };
            let addr = b.slot_phys() + off as u64;
            let whole = [(addr, (BUF_SIZE - off) as u32)];
            let split = [
                (addr, self.hdr_len as u32),
                (addr + self.hdr_len as u64, (BUF_SIZE - HEADROOM) as u32),
            ];
            let segs: &[(u64, u32)] = if self.descs == 1 { &whole } else { &split };
            match self.rxq.push(segs, true) {
                Some(id) => {
                    self.rx_bufs[id as usize] = Some(b);
                    added += 1;
                }
                None => {
                    pool.free(b);
                    break;
                }
            }
        }
        let empty = self.rxq.num_free() / self.descs;
        self.stats.rx_no_buffer += empty.saturating_sub(self.empty_slots) as u64;
        self.empty_slots = empty;
        if added > 0 {
            self.rxq.publish();
            if kick && self.rxq.device_wants_notify() {
                self.t.notify(RX_QUEUE);
            }
        }
    }

    /// Returns completed tx buffers to the pool.
    fn reclaim_tx(&mut self, pool: &mut PacketPool) {
        while let Some(u) = self.txq.pop_used() {
            match take_slot(&mut self.tx_bufs, u.id) {
                Some(b) => {
                    self.txq.release(u.id as u16);
                    pool.free(b);
                }
                // An id the device does not own: a device bug, counted.
                None => self.stats.tx_errors += 1,
            }
        }
    }
}

/// Steps 1 to 6 of 3.1.1 with the features this driver implements.
fn negotiate<T: Transport>(t: &mut T) -> Result<u64, InitError> {
    let mut wanted = feature::NET_MAC | feature::NET_STATUS;
    if t.kind() == TransportKind::Legacy {
        wanted |= feature::ANY_LAYOUT;
    }
    init_device(t, wanted, feature::NET_MAC)
}

/// One descriptor per frame unless a legacy device wants the header apart.
fn descs_per_frame(kind: TransportKind, features: u64) -> usize {
    if kind == TransportKind::Legacy && features & feature::ANY_LAYOUT == 0 {
        2
    } else {
        1
    }
}

/// Tells the device the driver gave up (3.1.1: set FAILED).
fn fail<T: Transport>(t: &mut T) {
    let s = t.status();
    t.set_status(s | status::FAILED);
}

/// The header length for a transport: with VERSION_1 `num_buffers` is always
/// present (5.1.6); legacy without MRG_RXBUF omits it.
fn hdr_len(kind: TransportKind) -> usize {
    match kind {
        TransportKind::Modern => HDR_LEN_V1,
        TransportKind::Legacy => HDR_LEN_LEGACY,
    }
}

/// The ring size to use for queue `q`: the device's on legacy, else the
/// largest power of two not above `cap` and the device's maximum.
fn queue_size<T: Transport>(t: &mut T, q: u16, cap: u16) -> Result<u16, InitError> {
    let max = t.queue_max_size(q);
    if max == 0 {
        return Err(InitError::QueueUnavailable(q));
    }
    if t.fixed_queue_size() {
        if !max.is_power_of_two() || max > cap {
            return Err(InitError::QueueTooLarge(q));
        }
        return Ok(max);
    }
    let m = max.min(cap);
    Ok(1 << (15 - m.leading_zeros()))
}

/// Reads the MAC, retrying while the config generation changes (4.1.4.3.1).
fn read_mac<T: Transport>(t: &T) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for _ in 0..8 {
        let g = t.config_generation();
        for (i, m) in mac.iter_mut().enumerate() {
            *m = t.config_read8(config::MAC + i);
        }
        if t.config_generation() == g {
            break;
        }
    }
    mac
}

/// Takes the buffer behind a used id, `None` if the id is out of range or idle.
fn take_slot(slots: &mut [Option<PacketBuf>], id: u32) -> Option<PacketBuf> {
    slots.get_mut(id as usize).and_then(Option::take)
}

impl<T: Transport> NetDevice for VirtioNet<T> {
    fn driver_name(&self) -> &'static str {
        "virtio-net"
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_up(&mut self) -> bool {
        let now = self.running && self.read_link();
        if self.link && !now {
            self.stats.link_downs += 1;
        }
        self.link = now;
        now
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, out: &mut Burst) -> usize {
        if !self.running {
            return 0;
        }
        let posted = BUF_SIZE - (HEADROOM - self.hdr_len);
        let mut n = 0;
        while !out.is_full() {
            let Some(u) = self.rxq.pop_used() else { break };
            let Some(mut b) = take_slot(&mut self.rx_bufs, u.id) else {
                self.stats.rx_errors += 1;
                continue;
            };
            self.rxq.release(u.id as u16);
            let len = u.len as usize;
            if len > posted {
                self.stats.rx_too_long += 1;
                pool.free(b);
                continue;
            }
            if len < self.hdr_len + MIN_FRAME {
                self.stats.rx_runts += 1;
                pool.free(b);
                continue;
            }
            let frame = len - self.hdr_len;
            // Cannot fail: HEADROOM + frame <= BUF_SIZE since len <= posted.
            b.set_window(HEADROOM, frame);
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += frame as u64;
            if let Err(b) = out.push(b) {
                pool.free(b);
                continue;
            }
            n += 1;
        }
        self.refill(pool, true);
        n
    }

    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize {
        if !self.running {
            self.stats.tx_ring_full += bufs.len() as u64;
            return 0;
        }
        self.reclaim_tx(pool);
        let take = bufs.len().min(self.txq.num_free() / self.descs);
        self.stats.tx_ring_full += (bufs.len() - take) as u64;
        let (hdr, descs) = (self.hdr_len, self.descs);
        let (txq, slots, stats) = (&mut self.txq, &mut self.tx_bufs, &mut self.stats);
        let mut queued = 0;
        bufs.drain_front(take, |mut b| {
            let frame = b.len();
            if frame == 0 || frame > MAX_TX_FRAME || !b.push_front(hdr) {
                stats.tx_bad_frame += 1;
                pool.free(b);
                return;
            }
            // A zero header: no checksum offload, no GSO (5.1.6.2).
            b.data_mut()[..hdr].fill(0);
            let addr = b.data_phys();
            let whole = [(addr, b.len() as u32)];
            let split = [(addr, hdr as u32), (addr + hdr as u64, frame as u32)];
            let segs: &[(u64, u32)] = if descs == 1 { &whole } else { &split };
            match txq.push(segs, false) {
                Some(id) => {
                    stats.tx_packets += 1;
                    stats.tx_bytes += frame as u64;
                    slots[id as usize] = Some(b);
                    queued += 1;
                }
                None => {
                    stats.tx_ring_full += 1;
                    pool.free(b);
                }
            }
        });
        if queued > 0 {
            self.txq.publish();
            if self.txq.device_wants_notify() {
                self.t.notify(TX_QUEUE);
            }
        }
        queued
    }

    fn maintain(&mut self, pool: &mut PacketPool) {
        let _ = self.check(pool);
    }

    fn stats(&self) -> &NicStats {
        &self.stats
    }

    fn reset_stats(&mut self) {
        self.stats = NicStats::default();
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
