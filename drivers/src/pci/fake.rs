//! A configuration space made of plain memory, for host tests of anything
//! that reads PCI (this module, virtio, the Intel drivers). BAR size probing
//! works because each dword carries a mask of its writable bits.

use super::{reg, Bdf, ConfigSpace};
use alloc::collections::BTreeMap;
use core::cell::RefCell;

/// One function's 256 bytes and which bits of each dword are writable.
#[derive(Clone)]
pub struct FakeFunction {
    /// Register contents.
    pub regs: [u32; 64],
    /// Writable bits per dword; the rest are read-only.
    pub write_mask: [u32; 64],
}

impl FakeFunction {
    /// A type 0 function with the given IDs and class, command register writable.
    pub fn new(vendor: u16, device: u16, class: u8, subclass: u8) -> FakeFunction {
        let mut f = FakeFunction {
            regs: [0; 64],
            write_mask: [0; 64],
        };
        f.regs[0] = (device as u32) << 16 | vendor as u32;
        f.regs[2] = (class as u32) << 24 | (subclass as u32) << 16 | 0x01;
        f.write_mask[1] = 0xffff;
        f
    }
    /// Sets the header type byte (bit 7 = multi-function).
    pub fn header_type(mut self, t: u8) -> Self {
        self.regs[3] = (t as u32) << 16;
        self
    }
    /// Installs an I/O BAR of `size` ports at `port`.
    pub fn io_bar(mut self, i: usize, port: u32, size: u32) -> Self {
        self.regs[4 + i] = port | 1;
        self.write_mask[4 + i] = !(size - 1) & !3;
        self
    }
    /// Installs a 32-bit memory BAR.
    pub fn mem32_bar(mut self, i: usize, addr: u32, size: u32, pf: bool) -> Self {
        self.regs[4 + i] = addr | if pf { 8 } else { 0 };
        self.write_mask[4 + i] = !(size - 1) & !0xf;
        self
    }
    /// Installs a 64-bit memory BAR in slots `i` and `i + 1`.
    pub fn mem64_bar(mut self, i: usize, addr: u64, size: u64, pf: bool) -> Self {
        let mask = !(size - 1);
        self.regs[4 + i] = addr as u32 | 4 | if pf { 8 } else { 0 };
        self.regs[5 + i] = (addr >> 32) as u32;
        self.write_mask[4 + i] = mask as u32 & !0xf;
        self.write_mask[5 + i] = (mask >> 32) as u32;
        self
    }
    /// Appends a capability with `id` and `body` bytes (after the id/next
    /// pair) at `offset`, linking it at the end of the list.
    pub fn cap(mut self, offset: u8, id: u8, body: &[u8]) -> Self {
        self.regs[1] |= 1 << 20;
        let mut bytes = self.bytes();
        // Find the end of the current list and link the new entry there.
        let mut link = reg::CAP_PTR as usize;
        while bytes[link] != 0 {
            link = bytes[link] as usize + 1;
        }
        bytes[link] = offset;
        bytes[offset as usize] = id;
        bytes[offset as usize + 1] = 0;
        bytes[offset as usize + 2..offset as usize + 2 + body.len()].copy_from_slice(body);
        self.set_bytes(&bytes);
        self
    }
    fn bytes(&self) -> [u8; 256] {
        let mut b = [0u8; 256];
        for (i, d) in self.regs.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&d.to_le_bytes());
        }
        b
    }
    fn set_bytes(&mut self, b: &[u8; 256]) {
        for (i, d) in self.regs.iter_mut().enumerate() {
            *d = u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        }
    }
}

/// A bus of fake functions; absent functions read all-ones.
#[derive(Default)]
pub struct FakeConfig {
    /// The functions present.
    pub funcs: RefCell<BTreeMap<Bdf, FakeFunction>>,
    /// Every write, in order: (function, offset, value).
    pub writes: RefCell<alloc::vec::Vec<(Bdf, u8, u32)>>,
}

impl FakeConfig {
    /// Adds a function.
    pub fn add(&self, bdf: Bdf, f: FakeFunction) {
        self.funcs.borrow_mut().insert(bdf, f);
    }
    /// Current value of a dword.
    pub fn get(&self, bdf: Bdf, offset: u8) -> u32 {
        self.read32(bdf, offset)
    }
}

impl ConfigSpace for FakeConfig {
    fn read32(&self, bdf: Bdf, offset: u8) -> u32 {
        match self.funcs.borrow().get(&bdf) {
            Some(f) => f.regs[offset as usize / 4],
            None => 0xffff_ffff,
        }
    }
    fn write32(&self, bdf: Bdf, offset: u8, value: u32) {
        self.writes.borrow_mut().push((bdf, offset, value));
        if let Some(f) = self.funcs.borrow_mut().get_mut(&bdf) {
            let i = offset as usize / 4;
            f.regs[i] = (f.regs[i] & !f.write_mask[i]) | (value & f.write_mask[i]);
        }
    }
}
