//! The e1000/e1000e driver core: bring-up, the rx/tx data path, housekeeping.
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
use super::regs::{self, ctrl, rctl, status, tctl, txdctl};
use super::stats::HwStats;
use super::Model;
use crate::buf::{Burst, PacketBuf, PacketPool, BUF_SIZE, HEADROOM};
use crate::hal::{Delay, DmaAlloc, Regs};
use crate::netdev::{NetDevice, NicStats};
use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

/// Descriptors per ring, both directions (the issue asks for at least 256).
pub const RING_SIZE: usize = 256;

/// Largest frame accepted for transmit: 1514 bytes plus an 802.1Q tag. The NIC
/// appends the CRC (IFCS).
const MAX_TX_FRAME: usize = 1518;
/// Shortest frame handed to the caller: an Ethernet header.
const MIN_RX_FRAME: usize = 14;
/// Bytes of a pool slot behind the address given to the NIC (the headroom stays in front).
const RX_BUF_SPACE: usize = BUF_SIZE - HEADROOM;

/// Time allowed for CTRL.RST to clear (SDM 14.1 asks for at least 1 µs before
/// touching the device again; the 82574 reloads its NVM, which takes ms).
const RESET_SETTLE_US: u32 = 10_000;
/// Polls of CTRL.RST after the settle time, `RESET_POLL_US` apart.
const RESET_POLLS: u32 = 100;
const RESET_POLL_US: u32 = 100;
/// Polls of EERD.DONE, `EERD_POLL_US` apart.
const EERD_POLLS: u32 = 1000;
const EERD_POLL_US: u32 = 5;

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

    /// Stops the port: disables rx and tx, resets the chip so it no longer
    /// touches memory, and returns every buffer the driver holds to `pool`.
    /// The instance is inert afterwards (bursts move nothing).
    pub fn shutdown(&mut self, pool: &mut PacketPool) {
        self.quiesce();
        self.release_all(pool);
        self.state = State::Stopped;
    }

    // ---- bring-up (8254x SDM chapter 14; 82574 datasheet 4.6) ----

    /// Steps 1-3: mask interrupts, global reset, mask again.
    fn reset_chip(&mut self) -> Result<(), InitError> {
        if self.regs.read32(regs::STATUS) == u32::MAX {
            return Err(InitError::DeviceAbsent);
        }
        // 1. Mask every interrupt cause (SDM 14.1: before a global reset);
        //    the driver polls and never unmasks them.
        self.regs.write32(regs::IMC, regs::IMC_ALL);
        // 2. Global reset (CTRL.RST, SDM 14.9 / 82574 4.6.1), then wait for
        //    the self-clearing bit; the EEPROM/NVM reload reloads RAL0/RAH0.
        let c = self.regs.read32(regs::CTRL);
        self.regs.write32(regs::CTRL, c | ctrl::RST);
        self.delay.delay_us(RESET_SETTLE_US);
        let mut polls = 0;
        while self.regs.read32(regs::CTRL) & ctrl::RST != 0 {
            if polls == RESET_POLLS {
                return Err(InitError::ResetTimeout);
            }
            polls += 1;
            self.delay.delay_us(RESET_POLL_US);
        }
        // 3. Reset unmasks nothing, but the datasheets ask for IMC again after
        //    it (82574 4.6.1), and a read of ICR clears any latched cause.
        self.regs.write32(regs::IMC, regs::IMC_ALL);
        let _ = self.regs.read32(regs::ICR);
        Ok(())
    }

    /// Step 4: the station address, from RAL0/RAH0 when the reset loaded it,
    /// else from EEPROM words 0-2 (SDM 5.6.1, Table 5-2) via EERD.
    fn read_mac(&mut self) -> Result<[u8; 6], InitError> {
        let ral = self.regs.read32(regs::RAL0).to_le_bytes();
        let rah = self.regs.read32(regs::RAH0);
        let rah_b = rah.to_le_bytes();
        let from_ral = [ral[0], ral[1], ral[2], ral[3], rah_b[0], rah_b[1]];
        if rah & regs::RAH_AV != 0 && valid_unicast(&from_ral) {
            return Ok(from_ral);
        }
        let mut mac = [0u8; 6];
        for word in 0..3u32 {
            let w = self.eeprom_read(word)?.to_le_bytes();
            mac[word as usize * 2] = w[0];
            mac[word as usize * 2 + 1] = w[1];
        }
        if !valid_unicast(&mac) {
            return Err(InitError::NoMacAddress);
        }
        Ok(mac)
    }

    /// Reads one 16-bit EEPROM word through EERD (SDM 13.4.4 / 82574 EERD).
    fn eeprom_read(&mut self, word: u32) -> Result<u16, InitError> {
        let layout = self.model.eerd_layout();
        self.regs
            .write32(regs::EERD, (word << layout.addr_shift) | regs::EERD_START);
        for _ in 0..EERD_POLLS {
            let v = self.regs.read32(regs::EERD);
            if v & layout.done != 0 {
                return Ok((v >> regs::EERD_DATA_SHIFT) as u16);
            }
            self.delay.delay_us(EERD_POLL_US);
        }
        Err(InitError::EepromTimeout)
    }

    /// Steps 5-9 on a freshly reset chip: link, filters, rx ring, tx ring.
    fn program(&mut self, pool: &mut PacketPool) {
        let r = &self.regs;
        // 5. Our address in receive-address entry 0, marked valid, so the
        //    unicast filter passes frames for us even when it came from EEPROM.
        let m = self.mac;
        r.write32(regs::RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        r.write32(
            regs::RAH0,
            u32::from(m[4]) | u32::from(m[5]) << 8 | regs::RAH_AV,
        );
        // 6. Link: set link up and let the MAC follow the PHY's resolved speed
        //    (SDM 14.3: SLU, ASDE; FRCSPD/FRCDPLX, ILOS, LRST, PHY_RST and VME clear).
        let c = r.read32(regs::CTRL);
        let clear = ctrl::LRST | ctrl::ILOS | ctrl::FRCSPD | ctrl::FRCDPLX | ctrl::PHY_RST;
        r.write32(
            regs::CTRL,
            (c & !(clear | ctrl::VME)) | ctrl::SLU | ctrl::ASDE,
        );
        // 7. No flow control: FCAL/FCAH/FCT/FCTTV zero (SDM 14.3).
        for reg in [regs::FCAL, regs::FCAH, regs::FCT, regs::FCTTV] {
            r.write32(reg, 0);
        }
        // 8. Clear the multicast table (SDM 14.4): broadcast and our unicast only.
        for i in 0..regs::MTA_LEN {
            r.write32(regs::MTA + 4 * i, 0);
        }
        // 9. Receive (SDM 14.4): ring base and length, head and tail zero, no
        //    receive delay, then arm the ring and write RDT once.
        r.write32(regs::RDBAL, self.rx.phys() as u32);
        r.write32(regs::RDBAH, (self.rx.phys() >> 32) as u32);
        r.write32(regs::RDLEN, self.rx.bytes() as u32);
        r.write32(regs::RDH, 0);
        r.write32(regs::RDT, 0);
        r.write32(regs::RDTR, 0);
        self.rx_next = 0;
        self.rx_tail = 0;
        self.rx_deficit = 0;
        self.rx_discarding = false;
        for i in 0..self.rx.len() {
            self.rx.write(i, RxDesc::default());
        }
        self.refill_rx(pool);
        // RCTL: receiver on, broadcast accepted, CRC stripped, 2048-byte buffers.
        // Invariant: LPE stays clear, so the MAC never stores more than a
        // 1522-byte frame (1518 once SECRC strips the CRC) per buffer, even
        // though BSIZE says 2048. Only 1920 bytes of a pool slot lie behind the
        // address we hand out (the 128-byte headroom is in front), so setting
        // LPE would let a long frame overrun the slot. Never set LPE.
        let rctl = rctl::EN | rctl::BAM | rctl::SECRC | rctl::BSIZE_2048;
        debug_assert!(rctl & (rctl::LPE | rctl::BSEX) == 0);
        self.regs.write32(regs::RCTL, rctl);
        // 10. Transmit (SDM 14.5): ring, head and tail zero, no write-back delay.
        let r = &self.regs;
        r.write32(regs::TDBAL, self.tx.phys() as u32);
        r.write32(regs::TDBAH, (self.tx.phys() >> 32) as u32);
        r.write32(regs::TDLEN, self.tx.bytes() as u32);
        r.write32(regs::TDH, 0);
        r.write32(regs::TDT, 0);
        r.write32(regs::TIDV, 0);
        self.tx_clean = 0;
        self.tx_tail = 0;
        if self.model.is_e1000e() {
            // 82574: TXDCTL bit 22 must be written as 1 and thresholds count
            // descriptors (82574 datasheet, TXDCTL).
            let t = r.read32(regs::TXDCTL);
            r.write32(regs::TXDCTL, t | txdctl::BIT22 | txdctl::GRAN);
        }
        // TCTL: enable, pad short frames, collision threshold 0x0F, collision
        // distance 0x40 (full duplex), per SDM Table 13-76.
        let tctl = tctl::EN | tctl::PSP | (0x0F << tctl::CT_SHIFT) | (0x40 << tctl::COLD_SHIFT);
        r.write32(regs::TCTL, tctl);
        r.write32(regs::TIPG, self.model.tipg());
        self.state = State::Running;
    }

    /// Stops DMA: receiver and transmitter off, then a global reset.
    fn quiesce(&mut self) {
        self.regs.write32(regs::RCTL, 0);
        self.regs.write32(regs::TCTL, 0);
        // A failed reset leaves nothing better to do; the buffers are still
        // released by the caller because the rings are disabled.
        let _ = self.reset_chip();
    }

    /// Returns every buffer held in either ring to `pool` and empties the rings.
    fn release_all(&mut self, pool: &mut PacketPool) {
        for b in self.rx_bufs.iter_mut().chain(self.tx_bufs.iter_mut()) {
            if let Some(b) = b.take() {
                pool.free(b);
            }
        }
        self.rx_next = 0;
        self.rx_tail = 0;
        self.tx_clean = 0;
        self.tx_tail = 0;
    }

    /// Re-initialises a chip that lost its configuration (reset behind our back,
    /// receiver or transmitter disabled). Armed rx buffers are reused; frames
    /// still queued for transmit are dropped and counted as `tx_errors`.
    fn restart(&mut self, pool: &mut PacketPool) {
        self.reclaim_tx(pool);
        let lost = self.tx_bufs.iter().flatten().count() as u64;
        for b in self.tx_bufs.iter_mut() {
            if let Some(b) = b.take() {
                pool.free(b);
            }
        }
        self.stats.tx_errors += lost;
        // The reset clears the statistics registers: collect them first.
        self.collect_hw_stats();
        self.regs.write32(regs::RCTL, 0);
        self.regs.write32(regs::TCTL, 0);
        self.stats.resets += 1;
        if self.reset_chip().is_err() {
            self.state = State::Failed;
            return;
        }
        self.program(pool);
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

/// A usable station address: not all zeroes, not all ones, not multicast.
fn valid_unicast(mac: &[u8; 6]) -> bool {
    mac != &[0; 6] && mac != &[0xFF; 6] && mac[0] & 1 == 0
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
