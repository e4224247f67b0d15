//! Bring-up and re-initialisation of an e1000/e1000e port.
//!
//! Follows the initialisation chapters step by step (8254x SDM chapter 14
//! "General Initialization and Reset Operation"; 82574 datasheet 4.6), with
//! the step numbers in the comments. The same sequence re-programs a chip
//! that lost its configuration, reusing the rings and the rx buffers.

use super::{InitError, IntelNic, State};
use crate::buf::PacketPool;
use crate::hal::{Delay, Regs};
use crate::intel::desc::RxDesc;
use crate::intel::regs::{self, ctrl, rctl, status, tctl, txdctl};

/// Time allowed for CTRL.RST to clear (SDM 13.4.1 asks for at least 1 µs before
/// touching the device again; the 82574 reloads its NVM, which takes ms).
const RESET_SETTLE_US: u32 = 10_000;
/// Polls of CTRL.RST after the settle time, `RESET_POLL_US` apart.
const RESET_POLLS: u32 = 100;
const RESET_POLL_US: u32 = 100;
/// Polls of STATUS.GIO_MASTER_ENABLE (82574), `GIO_POLL_US` apart: 10 ms in all.
const GIO_POLLS: u32 = 100;
const GIO_POLL_US: u32 = 100;
/// Polls of EERD.DONE, `EERD_POLL_US` apart.
const EERD_POLLS: u32 = 1000;
const EERD_POLL_US: u32 = 5;

impl<R: Regs, D: Delay> IntelNic<R, D> {
    /// Steps 1-3: mask interrupts, global reset, mask again.
    pub(super) fn reset_chip(&mut self) -> Result<(), InitError> {
        if self.regs.read32(regs::STATUS) == u32::MAX {
            return Err(InitError::DeviceAbsent);
        }
        // 1. Mask every interrupt cause (SDM 14.3: before a global reset);
        //    the driver polls and never unmasks them.
        self.regs.write32(regs::IMC, regs::IMC_ALL);
        if self.model.is_e1000e() {
            // 1a. 82574 (datasheet 4.6): stop new PCIe master requests and let the
            //     pending ones drain before resetting, so no DMA lands in a
            //     buffer after we have taken it back. Not fatal if the bit
            //     never clears: the reset stops the DMA engines anyway.
            let c = self.regs.read32(regs::CTRL);
            self.regs.write32(regs::CTRL, c | ctrl::GIO_MASTER_DISABLE);
            for _ in 0..GIO_POLLS {
                if self.regs.read32(regs::STATUS) & status::GIO_MASTER_ENABLE == 0 {
                    break;
                }
                self.delay.delay_us(GIO_POLL_US);
            }
        }
        // 2. Global reset (CTRL.RST, SDM 13.4.1; 82574 datasheet 4.6), then wait for
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
        //    it (82574 datasheet 4.6), and a read of ICR clears any latched cause.
        self.regs.write32(regs::IMC, regs::IMC_ALL);
        let _ = self.regs.read32(regs::ICR);
        Ok(())
    }

    /// Step 4: the station address, from RAL0/RAH0 when the reset loaded it,
    /// else from EEPROM words 0-2 (SDM 5.6.1, Table 5-2) via EERD.
    pub(super) fn read_mac(&mut self) -> Result<[u8; 6], InitError> {
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

    /// Steps 5-10 on a freshly reset chip: address, link, filters, rx ring, tx ring.
    pub(super) fn program(&mut self, pool: &mut PacketPool) {
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
        //    (SDM 14.3: SLU, ASDE; FRCSPD/FRCDPLX, ILOS, LRST, PHY_RST and VME
        //    clear). GIO_MASTER_DISABLE (set before the reset, step 1a) too.
        let c = r.read32(regs::CTRL);
        let clear = ctrl::LRST
            | ctrl::ILOS
            | ctrl::FRCSPD
            | ctrl::FRCDPLX
            | ctrl::PHY_RST
            | ctrl::GIO_MASTER_DISABLE;
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
    pub(super) fn quiesce(&mut self) {
        self.regs.write32(regs::RCTL, 0);
        self.regs.write32(regs::TCTL, 0);
        // A failed reset leaves nothing better to do; the buffers are still
        // released by the caller because the rings are disabled.
        let _ = self.reset_chip();
    }

    /// Returns every buffer held in either ring to `pool` and empties the rings.
    pub(super) fn release_buffers(&mut self, pool: &mut PacketPool) {
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
    pub(super) fn restart(&mut self, pool: &mut PacketPool) {
        self.reclaim_tx(pool);
        // The reset clears the statistics registers: collect them first.
        self.collect_hw_stats();
        self.regs.write32(regs::RCTL, 0);
        self.regs.write32(regs::TCTL, 0);
        self.stats.resets += 1;
        let reset = self.reset_chip();
        // Only now is the NIC done reading the frames it had not sent.
        let lost = self.tx_bufs.iter().flatten().count() as u64;
        for b in self.tx_bufs.iter_mut() {
            if let Some(b) = b.take() {
                pool.free(b);
            }
        }
        self.stats.tx_errors += lost;
        if reset.is_err() {
            self.state = State::Failed;
            return;
        }
        self.program(pool);
    }
}

/// A usable station address: not all zeroes, not all ones, not multicast.
fn valid_unicast(mac: &[u8; 6]) -> bool {
    mac != &[0; 6] && mac != &[0xFF; 6] && mac[0] & 1 == 0
}
