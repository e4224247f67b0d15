//! The e1000/e1000e driver core: the rx/tx data path and housekeeping
//! (bring-up and re-initialisation live in `init`).
//!
//! One core serves all three chips ([`Model`] carries the differences). Shaped
//! after a DPDK poll-mode driver: no interrupts, one tail-register write per
//! burst, and rings of buffer handles that mirror the descriptor tables so
//! neither path ever scans a table for a free slot.
//!
//! Ring ownership, both directions, follows the head/tail rule of SDM 3.2.6
//! and 3.4: the NIC owns the descriptors from its head up to (not including)
//! the tail register, software owns the rest. Head equal to tail means "the
//! NIC owns nothing", so at most `len - 1` descriptors are ever handed over.
//! - rx: the NIC owns `[rx_next, rx_tail)`; software harvests DD-marked
//!   descriptors from `rx_next`, and re-arms slots from `rx_tail`.
//! - tx: the NIC owns `[tx_clean, tx_tail)`; software fills from `tx_tail` and
//!   reclaims DD-marked descriptors from `tx_clean`.

use super::desc::{rx_err, rx_status, tx_cmd, tx_status, DescRing, RxDesc, TxDesc, RING_ALIGN};
use super::regs::{self, ctrl, rctl, status, tctl};
use super::stats::HwStats;
use super::Model;
use crate::buf::{Burst, PacketBuf, PacketPool, BUF_SIZE, HEADROOM};
use crate::hal::{Delay, DmaAlloc, Regs};
use crate::netdev::{NetDevice, NicStats};
use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

mod init;

/// Descriptors per ring, both directions (the issue asks for at least 256).
pub const RING_SIZE: usize = 256;

/// Largest frame accepted for transmit: 1514 bytes plus an 802.1Q tag. The NIC
/// appends the CRC (IFCS).
const MAX_TX_FRAME: usize = 1518;
/// Shortest frame handed to the caller: an Ethernet header.
const MIN_RX_FRAME: usize = 14;
/// Bytes of a pool slot behind the address given to the NIC (the headroom stays in front).
const RX_BUF_SPACE: usize = BUF_SIZE - HEADROOM;

/// What STATUS says about the link, for `ip link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    /// STATUS.LU.
    pub up: bool,
    /// Resolved speed in Mb/s (10, 100 or 1000); meaningful only when up.
    pub speed_mbps: u32,
    /// STATUS.FD.
    pub full_duplex: bool,
}

/// Why bring-up failed. One variant per cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// Registers read as all ones: the device is absent or BAR0 is not mapped.
    DeviceAbsent,
    /// CTRL.RST did not self-clear.
    ResetTimeout,
    /// An EEPROM read through EERD never reported done.
    EepromTimeout,
    /// Neither RAL0/RAH0 nor the EEPROM held a valid unicast MAC address.
    NoMacAddress,
    /// The DMA allocator had no room for a descriptor ring.
    NoDmaMemory,
}

/// What the driver is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Rings armed, data path live.
    Running,
    /// A re-initialisation failed; `maintain` retries it.
    Failed,
    /// `shutdown` ran: the device is reset and holds no buffers.
    Stopped,
}

/// A poll-mode driver instance for one e1000/e1000e port.
pub struct IntelNic<R: Regs, D: Delay> {
    model: Model,
    regs: R,
    delay: D,
    mac: [u8; 6],
    state: State,
    link: bool,
    rx: DescRing<RxDesc>,
    /// Buffer behind each rx descriptor (`None`: slot not armed).
    rx_bufs: Vec<Option<PacketBuf>>,
    rx_next: usize,
    rx_tail: usize,
    /// Slots left unarmed for lack of buffers at the last refill (already counted).
    rx_deficit: usize,
    /// Dropping the remaining descriptors of a frame that did not fit one buffer.
    rx_discarding: bool,
    tx: DescRing<TxDesc>,
    /// Buffer behind each in-flight tx descriptor.
    tx_bufs: Vec<Option<PacketBuf>>,
    tx_clean: usize,
    tx_tail: usize,
    stats: NicStats,
    hw: HwStats,
}

impl<R: Regs, D: Delay> IntelNic<R, D> {
    /// Brings the port up: resets the chip, reads the MAC, programs both rings
    /// (taken from `dma`) and arms the rx ring with buffers from `pool`.
    pub fn new(
        model: Model,
        regs: R,
        delay: D,
        dma: &mut dyn DmaAlloc,
        pool: &mut PacketPool,
    ) -> Result<Self, InitError> {
        let bytes = RING_SIZE * super::desc::DESC_SIZE;
        let rx_mem = dma
            .alloc_dma(bytes, RING_ALIGN)
            .ok_or(InitError::NoDmaMemory)?;
        let tx_mem = dma
            .alloc_dma(bytes, RING_ALIGN)
            .ok_or(InitError::NoDmaMemory)?;
        let rx = DescRing::new(rx_mem, RING_SIZE).ok_or(InitError::NoDmaMemory)?;
        let tx = DescRing::new(tx_mem, RING_SIZE).ok_or(InitError::NoDmaMemory)?;
        let mut rx_bufs = Vec::with_capacity(RING_SIZE);
        rx_bufs.resize_with(RING_SIZE, || None);
        let mut tx_bufs = Vec::with_capacity(RING_SIZE);
        tx_bufs.resize_with(RING_SIZE, || None);
        let mut nic = IntelNic {
            model,
            regs,
            delay,
            mac: [0; 6],
            state: State::Failed,
            link: false,
            rx,
            rx_bufs,
            rx_next: 0,
            rx_tail: 0,
            rx_deficit: 0,
            rx_discarding: false,
            tx,
            tx_bufs,
            tx_clean: 0,
            tx_tail: 0,
            stats: NicStats::default(),
            hw: HwStats::default(),
        };
        nic.reset_chip()?;
        nic.mac = nic.read_mac()?;
        nic.program(pool);
        // Counters from before our reset belong to nobody: read and discard.
        let _ = HwStats::read(&nic.regs);
        nic.link = nic.read_link();
        Ok(nic)
    }

    /// The chip this instance drives.
    pub fn model(&self) -> Model {
        self.model
    }

    /// Running totals of the MAC's own statistics registers.
    pub fn hw_stats(&self) -> &HwStats {
        &self.hw
    }

    /// Buffers the driver currently holds (armed rx slots plus in-flight tx).
    pub fn held_buffers(&self) -> usize {
        self.rx_bufs.iter().flatten().count() + self.tx_bufs.iter().flatten().count()
    }

    /// Link state, speed and duplex from STATUS (SDM 13.4.2), without
    /// touching the link-change counters.
    pub fn link_info(&self) -> LinkInfo {
        let s = self.regs.read32(regs::STATUS);
        let speed_mbps = match (s >> status::SPEED_SHIFT) & 0b11 {
            0b00 => 10,
            0b01 => 100,
            _ => 1000,
        };
        LinkInfo {
            up: s != u32::MAX && s & status::LU != 0,
            speed_mbps,
            full_duplex: s & status::FD != 0,
        }
    }

    /// True while the rings are live (not failed, not shut down).
    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }

    /// Stops the port: disables rx and tx, resets the chip so it no longer
    /// touches memory, and returns every buffer the driver holds to `pool`.
    /// The instance is inert afterwards (bursts move nothing, `maintain`
    /// does not revive it). Call it before dropping the driver, or the
    /// buffers it holds are lost to the pool.
    pub fn shutdown(&mut self, pool: &mut PacketPool) {
        self.quiesce();
        self.release_buffers(pool);
        self.state = State::Stopped;
    }

    /// Same as [`shutdown`](Self::shutdown), under the name the virtio-net
    /// driver uses, so the poll loop can treat every port alike.
    pub fn release_all(&mut self, pool: &mut PacketPool) {
        self.shutdown(pool);
    }

    // ---- data path helpers ----

    /// Arms software-owned rx slots from `rx_tail` (reusing a buffer still in
    /// the slot, else taking one from `pool`), keeping one slot back so head
    /// never meets tail, and writes RDT once if anything was armed.
    fn refill_rx(&mut self, pool: &mut PacketPool) {
        let n = self.rx.len();
        let before = self.rx_tail;
        while (self.rx_tail + 1) % n != self.rx_next {
            let i = self.rx_tail;
            let addr = match &self.rx_bufs[i] {
                Some(b) => b.data_phys(),
                None => match pool.alloc() {
                    Some(b) => {
                        let a = b.data_phys();
                        self.rx_bufs[i] = Some(b);
                        a
                    }
                    None => break,
                },
            };
            self.rx.write(
                i,
                RxDesc {
                    addr,
                    ..RxDesc::default()
                },
            );
            self.rx_tail = (i + 1) % n;
        }
        // Count each slot once when it is first left unarmed for lack of a buffer.
        let owned = (self.rx_tail + n - self.rx_next) % n;
        let deficit = n - 1 - owned;
        if deficit > self.rx_deficit {
            self.stats.rx_no_buffer += (deficit - self.rx_deficit) as u64;
        }
        self.rx_deficit = deficit;
        if self.rx_tail != before {
            // The descriptors must be in memory before the NIC learns of them.
            // x86 keeps stores in order; the fence stops the compiler moving
            // them past the MMIO write.
            fence(Ordering::Release);
            self.regs.write32(regs::RDT, self.rx_tail as u32);
        }
    }

    /// Judges a written-back rx descriptor: `Some(len)` to deliver, `None` to
    /// drop (counted by cause).
    fn classify_rx(&mut self, d: &RxDesc) -> Option<usize> {
        let eop = d.status & rx_status::EOP != 0;
        if self.rx_discarding {
            // Tail of a frame already counted as too long.
            self.rx_discarding = !eop;
            return None;
        }
        if !eop {
            self.rx_discarding = true;
            self.stats.rx_too_long += 1;
            return None;
        }
        let len = usize::from(d.length);
        if d.errors & rx_err::FRAME != 0 {
            self.stats.rx_errors += 1;
            None
        } else if len > RX_BUF_SPACE {
            self.stats.rx_too_long += 1;
            None
        } else if len < MIN_RX_FRAME {
            self.stats.rx_runts += 1;
            None
        } else {
            Some(len)
        }
    }

    /// Returns the buffers of DD-completed tx descriptors to `pool`, oldest first.
    fn reclaim_tx(&mut self, pool: &mut PacketPool) {
        let n = self.tx.len();
        while self.tx_clean != self.tx_tail {
            let st = self.tx.status(self.tx_clean);
            if st & tx_status::DD == 0 {
                break;
            }
            // The NIC is done with the buffer; order our later use after the read.
            fence(Ordering::Acquire);
            if st & tx_status::FAILED != 0 {
                self.stats.tx_errors += 1;
            }
            if let Some(b) = self.tx_bufs[self.tx_clean].take() {
                pool.free(b);
            }
            self.tx_clean = (self.tx_clean + 1) % n;
        }
    }

    /// Link state from STATUS.LU (an all-ones read means the device is gone).
    fn read_link(&self) -> bool {
        let s = self.regs.read32(regs::STATUS);
        s != u32::MAX && s & status::LU != 0
    }

    /// Reads the statistics registers and folds them into the counters.
    fn collect_hw_stats(&mut self) {
        let d = HwStats::read(&self.regs);
        self.hw.add(&d);
        HwStats::fold_into(&d, &mut self.stats);
    }

    /// True when the chip still holds the configuration `program` wrote.
    fn configured(&self) -> bool {
        let rctl = self.regs.read32(regs::RCTL);
        let tctl = self.regs.read32(regs::TCTL);
        let ctl = self.regs.read32(regs::CTRL);
        rctl & rctl::EN != 0 && tctl & tctl::EN != 0 && ctl & ctrl::SLU != 0
    }
}

impl<R: Regs, D: Delay> NetDevice for IntelNic<R, D> {
    fn driver_name(&self) -> &'static str {
        self.model.driver_name()
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_up(&mut self) -> bool {
        let up = self.read_link();
        if self.link && !up {
            self.stats.link_downs += 1;
        }
        self.link = up;
        up
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, out: &mut Burst) -> usize {
        if self.state != State::Running {
            return 0;
        }
        let n = self.rx.len();
        let mut got = 0;
        while !out.is_full() && self.rx_next != self.rx_tail {
            let i = self.rx_next;
            if self.rx.status(i) & rx_status::DD == 0 {
                break;
            }
            // Read the rest of the descriptor (and later the frame) only after DD.
            fence(Ordering::Acquire);
            let d = self.rx.read(i);
            self.rx_next = (i + 1) % n;
            // A dropped frame's buffer stays in its slot and is re-armed as is.
            let Some(len) = self.classify_rx(&d) else {
                continue;
            };
            let Some(mut buf) = self.rx_bufs[i].take() else {
                continue;
            };
            if !buf.set_len(len) {
                // Cannot happen: len <= RX_BUF_SPACE was checked. Keep the buffer armed.
                self.stats.rx_too_long += 1;
                self.rx_bufs[i] = Some(buf);
                continue;
            }
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += len as u64;
            if let Err(buf) = out.push(buf) {
                // Cannot happen: `out` had room. Put it back rather than lose it.
                self.rx_bufs[i] = Some(buf);
                break;
            }
            got += 1;
        }
        self.refill_rx(pool);
        got
    }

    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize {
        if self.state != State::Running {
            return 0;
        }
        self.reclaim_tx(pool);
        let n = self.tx.len();
        let in_flight = (self.tx_tail + n - self.tx_clean) % n;
        let mut room = n - 1 - in_flight;
        // How long a prefix of `bufs` to take: every bad frame (dropped) and
        // as many good ones as the ring has room for.
        let mut take = 0;
        for b in bufs.iter() {
            if tx_frame_ok(b) {
                if room == 0 {
                    break;
                }
                room -= 1;
            }
            take += 1;
        }
        let mut queued = 0;
        let (ring, slots, tail, stats) = (
            &mut self.tx,
            &mut self.tx_bufs,
            &mut self.tx_tail,
            &mut self.stats,
        );
        bufs.drain_front(take, |b| {
            if !tx_frame_ok(&b) {
                stats.tx_bad_frame += 1;
                pool.free(b);
                return;
            }
            let i = *tail;
            ring.write(
                i,
                TxDesc {
                    addr: b.data_phys(),
                    length: b.len() as u16,
                    cmd: tx_cmd::EOP | tx_cmd::IFCS | tx_cmd::RS,
                    ..TxDesc::default()
                },
            );
            stats.tx_packets += 1;
            stats.tx_bytes += b.len() as u64;
            slots[i] = Some(b);
            *tail = (i + 1) % n;
            queued += 1;
        });
        self.stats.tx_ring_full += bufs.len() as u64;
        if queued > 0 {
            // Descriptors before doorbell; see refill_rx.
            fence(Ordering::Release);
            self.regs.write32(regs::TDT, self.tx_tail as u32);
        }
        queued
    }

    fn maintain(&mut self, pool: &mut PacketPool) {
        match self.state {
            State::Stopped => return,
            State::Failed => {
                self.stats.resets += 1;
                if self.reset_chip().is_ok() {
                    self.program(pool);
                }
                return;
            }
            State::Running => {}
        }
        self.reclaim_tx(pool);
        self.collect_hw_stats();
        let was_up = self.link;
        let up = self.link_up();
        // A chip that reads all ones is gone; re-initialising it would only
        // spin. Otherwise, if it lost its configuration (reset behind our
        // back, or enables dropped across a link flap), program it again.
        let present = self.regs.read32(regs::STATUS) != u32::MAX;
        if present && !self.configured() {
            self.restart(pool);
        } else if up && !was_up {
            // Link back: re-arm anything a dry pool left unarmed.
            self.refill_rx(pool);
        }
    }

    fn stats(&self) -> &NicStats {
        &self.stats
    }

    fn reset_stats(&mut self) {
        self.stats = NicStats::default();
        self.hw = HwStats::default();
    }
}

/// A frame the NIC can send in one legacy descriptor.
fn tx_frame_ok(b: &PacketBuf) -> bool {
    !b.is_empty() && b.len() <= MAX_TX_FRAME
}
