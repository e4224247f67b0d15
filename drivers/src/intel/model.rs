//! A register-level model of the 82540EM / 82545EM / 82574L for host tests.
//!
//! It implements [`Regs`] over a register file with the behaviours the driver
//! relies on, written from the datasheets rather than from the driver: CTRL.RST
//! self-clears after a few reads and reloads RAL0/RAH0, EERD answers with the
//! chip's own field layout, ICR and the statistics registers clear on read,
//! STATUS.LU follows the cable and CTRL.SLU, and the MTA comes out of reset
//! holding garbage (SDM: not reset) so the driver must clear it. The rings are
//! real: the model reads descriptors from the shared memory, honours
//! head/tail ownership, writes frames into the buffers, writes DD/EOP/length
//! back, and wraps. Physical addresses are translated back to host memory; an
//! address outside the shared block fails the test.

use super::regs::{self, stat};
use super::Model;
use crate::hal::{Delay, Regs};
use core::cell::RefCell;
use std::vec::Vec;

/// Size of BAR0 in dwords (128 KiB).
const BAR_DWORDS: usize = 0x20000 / 4;
/// CTRL reads before a requested reset completes.
const RESET_READS: u32 = 3;

/// A delay that returns at once and remembers how long it was asked to wait.
#[derive(Default)]
pub struct NoDelay(pub core::cell::Cell<u64>);

impl Delay for NoDelay {
    fn delay_us(&self, us: u32) {
        self.0.set(self.0.get() + u64::from(us));
    }
}

/// Knobs a test turns to make the model misbehave.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    /// Reset leaves RAL0/RAH0 empty (MAC only in the EEPROM).
    pub ral_empty: bool,
    /// EERD never reports done.
    pub eeprom_stuck: bool,
    /// CTRL.RST never clears.
    pub reset_stuck: bool,
    /// Every register reads all ones (device gone).
    pub absent: bool,
}

/// What the model remembers about one transmitted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The frame bytes (no CRC: the model checks IFCS instead).
    pub bytes: Vec<u8>,
    /// The command byte of its last descriptor.
    pub cmd: u8,
}

struct Inner {
    chip: Model,
    regs: Vec<u32>,
    mac: [u8; 6],
    eeprom: [u16; 64],
    faults: Faults,
    cable: bool,
    rst_reads: u32,
    tx_paused: bool,
    tx_fail_next: u32,
    pending: Vec<u8>,
    sent: Vec<Sent>,
    resets: u32,
    quiet_resets: u32,
    rx_wraps: u32,
    tx_wraps: u32,
    mem_virt: *mut u8,
    mem_phys: u64,
    mem_len: usize,
}

/// The device model. Shared with the driver as `&DeviceModel`.
pub struct DeviceModel(RefCell<Inner>);

impl DeviceModel {
    /// A powered-up chip whose DMA sees `len` bytes at host `virt` as bus address `phys`.
    pub fn new(chip: Model, mac: [u8; 6], virt: *mut u8, phys: u64, len: usize) -> Self {
        let mut eeprom = [0xFFFFu16; 64];
        for i in 0..3 {
            eeprom[i] = u16::from_le_bytes([mac[2 * i], mac[2 * i + 1]]);
        }
        let m = DeviceModel(RefCell::new(Inner {
            chip,
            regs: vec![0; BAR_DWORDS],
            mac,
            eeprom,
            faults: Faults::default(),
            cable: true,
            rst_reads: 0,
            tx_paused: false,
            tx_fail_next: 0,
            pending: Vec::new(),
            sent: Vec::new(),
            resets: 0,
            quiet_resets: 0,
            rx_wraps: 0,
            tx_wraps: 0,
            mem_virt: virt,
            mem_phys: phys,
            mem_len: len,
        }));
        m.0.borrow_mut().reset();
        m.0.borrow_mut().resets = 0;
        m
    }

    /// Sets fault knobs (before the driver's bring-up, usually).
    pub fn set_faults(&self, f: Faults) {
        let mut s = self.0.borrow_mut();
        s.faults = f;
        if f.ral_empty {
            s.regs[regs::RAL0 / 4] = 0;
            s.regs[regs::RAH0 / 4] = 0;
        }
    }
    /// Overwrites the EEPROM's MAC words.
    pub fn set_eeprom_mac(&self, mac: [u8; 6]) {
        let mut s = self.0.borrow_mut();
        for i in 0..3 {
            s.eeprom[i] = u16::from_le_bytes([mac[2 * i], mac[2 * i + 1]]);
        }
    }
    /// Plugs or pulls the cable; plugging in resumes a stalled transmitter.
    pub fn set_cable(&self, up: bool) {
        let mut s = self.0.borrow_mut();
        s.cable = up;
        s.process_tx();
    }
    /// Stops or resumes the transmitter's descriptor processing.
    pub fn pause_tx(&self, paused: bool) {
        let mut s = self.0.borrow_mut();
        s.tx_paused = paused;
        s.process_tx();
    }
    /// Makes the next `n` transmitted frames fail with excess collisions.
    pub fn fail_next_tx(&self, n: u32) {
        self.0.borrow_mut().tx_fail_next = n;
    }
    /// A reset nobody asked for (what a real chip does after some faults).
    pub fn spontaneous_reset(&self) {
        self.0.borrow_mut().reset();
    }
    /// Adds to a statistics register, as the MAC does when it drops a frame itself.
    pub fn bump_stat(&self, offset: usize, n: u32) {
        let mut s = self.0.borrow_mut();
        s.regs[offset / 4] = s.regs[offset / 4].wrapping_add(n);
    }
    /// A register's value, bypassing read side effects.
    pub fn peek(&self, offset: usize) -> u32 {
        self.0.borrow().regs[offset / 4]
    }
    /// Frames transmitted so far, taken out of the model.
    pub fn take_sent(&self) -> Vec<Sent> {
        core::mem::take(&mut self.0.borrow_mut().sent)
    }
    /// Resets performed (driver-requested or spontaneous) since creation.
    pub fn resets(&self) -> u32 {
        self.0.borrow().resets
    }
    /// Driver-requested resets issued with PCIe mastering already disabled (82574 only).
    pub fn quiet_resets(&self) -> u32 {
        self.0.borrow().quiet_resets
    }
    /// Times RDH and TDH wrapped from the last descriptor to the first.
    pub fn wraps(&self) -> (u32, u32) {
        let s = self.0.borrow();
        (s.rx_wraps, s.tx_wraps)
    }
    /// Receives `frame` from the wire (no CRC), with `errors` in its last
    /// descriptor. Returns false when the model dropped it.
    pub fn inject(&self, frame: &[u8], errors: u8) -> bool {
        self.0.borrow_mut().receive(frame, errors, None)
    }
    /// Receives `frame` split into descriptors of `chunk` bytes regardless of
    /// RCTL, as a chip with long-packet reception would.
    pub fn inject_split(&self, frame: &[u8], chunk: usize) -> bool {
        self.0.borrow_mut().receive(frame, 0, Some(chunk))
    }
}

impl Inner {
    fn r(&self, off: usize) -> u32 {
        self.regs[off / 4]
    }

    fn reset(&mut self) {
        self.resets += 1;
        self.regs.iter_mut().for_each(|r| *r = 0);
        // SDM 13.4.46: the MTA is not cleared by reset; make it visibly dirty.
        for i in 0..regs::MTA_LEN {
            self.regs[regs::MTA / 4 + i] = 0xDEAD_BEEF;
        }
        // The EEPROM/NVM auto-load fills receive address 0 (SDM 5.6.1).
        if !self.faults.ral_empty {
            let m = self.mac;
            self.regs[regs::RAL0 / 4] = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
            self.regs[regs::RAH0 / 4] = u32::from(m[4]) | u32::from(m[5]) << 8 | regs::RAH_AV;
        }
        // All interrupt causes start masked; the driver must still write IMC.
        self.regs[regs::IMS / 4] = 0;
        self.pending.clear();
    }

    fn host(&self, phys: u64, len: usize) -> *mut u8 {
        let off = phys
            .checked_sub(self.mem_phys)
            .expect("DMA address below shared memory") as usize;
        assert!(
            off + len <= self.mem_len,
            "DMA beyond shared memory: {phys:#x}+{len}"
        );
        // Safety: (test model) off + len is inside the shared block.
        unsafe { self.mem_virt.add(off) }
    }

    fn read_mem(&self, phys: u64, out: &mut [u8]) {
        let p = self.host(phys, out.len());
        // Safety: (test model) `host` checked the range; the driver does not
        // touch bytes it has handed to the device.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) }
    }

    fn write_mem(&self, phys: u64, data: &[u8]) {
        let p = self.host(phys, data.len());
        // Safety: (test model) as in `read_mem`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) }
    }

    fn ring(&self, bal: usize, bah: usize, len: usize) -> (u64, u32) {
        let base = u64::from(self.r(bal)) | u64::from(self.r(bah)) << 32;
        (base, self.r(len) / 16)
    }

    /// Buffer size from RCTL.BSIZE/BSEX (SDM Table 13-67).
    fn rx_buf_size(&self) -> usize {
        let rctl = self.r(regs::RCTL);
        let base = [2048, 1024, 512, 256][((rctl >> 16) & 3) as usize];
        if rctl & regs::rctl::BSEX != 0 {
            base * 16
        } else {
            base
        }
    }

    fn link_up(&self) -> bool {
        self.cable && self.r(regs::CTRL) & regs::ctrl::SLU != 0
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let rctl = self.r(regs::RCTL);
        let dst = &frame[..6];
        let ral = self.r(regs::RAL0).to_le_bytes();
        let rah = self.r(regs::RAH0);
        let ours = rah & regs::RAH_AV != 0 && dst[..4] == ral && dst[4..] == rah.to_le_bytes()[..2];
        let bcast = dst == [0xFF; 6] && rctl & regs::rctl::BAM != 0;
        ours || bcast || rctl & regs::rctl::UPE != 0
    }

    fn receive(&mut self, frame: &[u8], errors: u8, split: Option<usize>) -> bool {
        let rctl = self.r(regs::RCTL);
        if rctl & regs::rctl::EN == 0 || !self.link_up() || frame.len() < 6 {
            return false;
        }
        if !self.accepts(frame) {
            return false;
        }
        let with_crc = frame.len() + 4;
        if split.is_none() && with_crc > 1522 && rctl & regs::rctl::LPE == 0 {
            self.bump(stat::ROC);
            return false;
        }
        let chunk = split.unwrap_or_else(|| self.rx_buf_size());
        let need = frame.len().div_ceil(chunk).max(1) as u32;
        let (base, n) = self.ring(regs::RDBAL, regs::RDBAH, regs::RDLEN);
        let (head, tail) = (self.r(regs::RDH), self.r(regs::RDT));
        assert!(
            n >= 8 && head < n && tail < n,
            "rx ring registers out of range"
        );
        let free = (tail + n - head) % n;
        if free < need {
            self.bump(stat::MPC);
            self.bump(stat::RNBC);
            return false;
        }
        let mut h = head;
        let pieces: Vec<&[u8]> = frame.chunks(chunk).collect();
        for (k, piece) in pieces.iter().enumerate() {
            let dphys = base + u64::from(h) * 16;
            let mut d = [0u8; 16];
            self.read_mem(dphys, &mut d);
            let addr = u64::from_le_bytes(d[..8].try_into().unwrap());
            // SECRC off would add the CRC; this model only supports the stripped form.
            assert!(rctl & regs::rctl::SECRC != 0, "driver must strip the CRC");
            self.write_mem(addr, piece);
            let last = k + 1 == pieces.len();
            d[8..10].copy_from_slice(&(piece.len() as u16).to_le_bytes());
            d[12] = 0x01 | if last { 0x02 } else { 0 };
            d[13] = if last { errors } else { 0 };
            self.write_mem(dphys, &d);
            h = (h + 1) % n;
            if h == 0 {
                self.rx_wraps += 1;
            }
        }
        self.regs[regs::RDH / 4] = h;
        self.bump(stat::TPR);
        if errors & 0x97 == 0 {
            self.bump(stat::GPRC);
            self.add64(stat::GORCL, with_crc as u64);
        }
        true
    }

    /// Walks the tx ring from TDH to TDT (SDM 3.4), sending completed frames.
    fn process_tx(&mut self) {
        if self.r(regs::TCTL) & regs::tctl::EN == 0 || self.tx_paused || !self.link_up() {
            return;
        }
        let (base, n) = self.ring(regs::TDBAL, regs::TDBAH, regs::TDLEN);
        let tail = self.r(regs::TDT);
        assert!(n >= 8 && tail < n, "TDT {tail} outside a ring of {n}");
        let mut h = self.r(regs::TDH);
        while h != tail {
            let dphys = base + u64::from(h) * 16;
            let mut d = [0u8; 16];
            self.read_mem(dphys, &mut d);
            let addr = u64::from_le_bytes(d[..8].try_into().unwrap());
            let len = u16::from_le_bytes([d[8], d[9]]) as usize;
            let cmd = d[11];
            assert!(cmd & 0x20 == 0, "model speaks legacy descriptors only");
            let mut bytes = vec![0u8; len];
            self.read_mem(addr, &mut bytes);
            self.pending.extend_from_slice(&bytes);
            let mut sta = 0x01;
            if cmd & 0x01 != 0 {
                let frame = core::mem::take(&mut self.pending);
                if self.tx_fail_next > 0 {
                    self.tx_fail_next -= 1;
                    sta |= 0x02;
                    self.bump(stat::ECOL);
                } else {
                    self.bump(stat::GPTC);
                    self.bump(stat::TPT);
                    self.add64(stat::GOTCL, frame.len() as u64 + 4);
                    self.sent.push(Sent { bytes: frame, cmd });
                }
            }
            if cmd & 0x08 != 0 {
                self.write_mem(dphys + 12, &[sta]);
            }
            h = (h + 1) % n;
            if h == 0 {
                self.tx_wraps += 1;
            }
        }
        self.regs[regs::TDH / 4] = h;
    }

    fn bump(&mut self, off: usize) {
        self.regs[off / 4] = self.regs[off / 4].wrapping_add(1);
    }

    fn add64(&mut self, lo: usize, v: u64) {
        let cur = u64::from(self.r(lo)) | u64::from(self.r(lo + 4)) << 32;
        let new = cur.wrapping_add(v);
        self.regs[lo / 4] = new as u32;
        self.regs[lo / 4 + 1] = (new >> 32) as u32;
    }

    fn read32(&mut self, off: usize) -> u32 {
        if self.faults.absent {
            return u32::MAX;
        }
        match off {
            regs::CTRL => {
                if self.r(regs::CTRL) & regs::ctrl::RST != 0 && !self.faults.reset_stuck {
                    if self.rst_reads == 0 {
                        self.regs[0] &= !regs::ctrl::RST;
                    } else {
                        self.rst_reads -= 1;
                    }
                }
                self.r(regs::CTRL)
            }
            regs::STATUS => {
                let lu = if self.link_up() { regs::status::LU } else { 0 };
                // 82574: master requests flow until CTRL.GIO_MASTER_DISABLE.
                let gio = self.chip == Model::I82574L
                    && self.r(regs::CTRL) & regs::ctrl::GIO_MASTER_DISABLE == 0;
                let gio = if gio {
                    regs::status::GIO_MASTER_ENABLE
                } else {
                    0
                };
                // Speed 1000 Mb/s (STATUS bits 7:6 = 10b) while the link is up.
                let speed = if lu != 0 {
                    0b10 << regs::status::SPEED_SHIFT
                } else {
                    0
                };
                regs::status::FD | lu | gio | speed
            }
            regs::ICR => core::mem::take(&mut self.regs[regs::ICR / 4]),
            0x4000..=0x40FF => {
                let v = core::mem::take(&mut self.regs[off / 4]);
                // The high octet dwords clear the pair (SDM 13.7).
                if matches!(off, stat::GORCH | stat::GOTCH) {
                    self.regs[off / 4 - 1] = 0;
                }
                v
            }
            _ => self.r(off),
        }
    }

    fn write32(&mut self, off: usize, v: u32) {
        if self.faults.absent {
            return;
        }
        match off {
            regs::CTRL if v & regs::ctrl::RST != 0 => {
                if self.r(regs::CTRL) & regs::ctrl::GIO_MASTER_DISABLE != 0 {
                    self.quiet_resets += 1;
                }
                self.reset();
                self.regs[0] = regs::ctrl::RST;
                self.rst_reads = RESET_READS;
            }
            regs::IMC => self.regs[regs::IMS / 4] &= !v,
            regs::IMS => self.regs[regs::IMS / 4] |= v,
            regs::EERD => {
                // 8254x SDM 13.4.4: START bit 0, DONE bit 4, address 15:8;
                // 82574: DONE bit 1, address 15:2.
                let (shift, mask, done) = match self.chip {
                    Model::I82574L => (2, 0x3FFF, 1 << 1),
                    _ => (8, 0xFF, 1 << 4),
                };
                if v & 1 != 0 && !self.faults.eeprom_stuck {
                    let addr = ((v >> shift) & mask) as usize;
                    let data = self.eeprom.get(addr).copied().unwrap_or(0xFFFF);
                    self.regs[regs::EERD / 4] = (v & 0xFFFF) | done | u32::from(data) << 16;
                } else {
                    self.regs[regs::EERD / 4] = v & !done;
                }
            }
            regs::TDT | regs::TCTL => {
                self.regs[off / 4] = v;
                self.process_tx();
            }
            _ => self.regs[off / 4] = v,
        }
    }
}

impl Regs for &DeviceModel {
    fn read8(&self, offset: usize) -> u8 {
        (self.read32(offset & !3) >> (8 * (offset & 3))) as u8
    }
    fn read16(&self, offset: usize) -> u16 {
        (self.read32(offset & !3) >> (8 * (offset & 2))) as u16
    }
    fn read32(&self, offset: usize) -> u32 {
        assert!(
            offset.is_multiple_of(4) && offset / 4 < BAR_DWORDS,
            "bad register {offset:#x}"
        );
        self.0.borrow_mut().read32(offset)
    }
    fn write8(&self, offset: usize, _: u8) {
        panic!("the Intel MAC registers are 32-bit only (write8 at {offset:#x})");
    }
    fn write16(&self, offset: usize, _: u16) {
        panic!("the Intel MAC registers are 32-bit only (write16 at {offset:#x})");
    }
    fn write32(&self, offset: usize, value: u32) {
        assert!(
            offset.is_multiple_of(4) && offset / 4 < BAR_DWORDS,
            "bad register {offset:#x}"
        );
        self.0.borrow_mut().write32(offset, value);
    }
}
