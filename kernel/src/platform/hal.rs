//! The driver HAL over real hardware: port I/O and MMIO register blocks,
//! PCI configuration mechanism #1 and identity-mapped physical memory.

use drivers::hal::Regs;
use drivers::pci::{Bdf, ConfigSpace};
use ringwall_kernel::boot::PhysMem;

use crate::arch::x86_64::pio::{inb, inl, inw, outb, outl, outw};

#[allow(dead_code)] // built by the NIC drivers' bring-up
/// A device's I/O port range (an I/O BAR).
#[derive(Debug, Clone, Copy)]
pub struct PortRegs {
    /// First port of the range.
    pub base: u16,
}

// Safety note for every method below: a `PortRegs` is only built from a BAR
// the PCI enumeration found, so `base + offset` is a port of that device,
// which the driver owning the `PortRegs` drives exclusively.
impl Regs for PortRegs {
    fn read8(&self, offset: usize) -> u8 {
        // Safety: see the note above.
        unsafe { inb(self.base.wrapping_add(offset as u16)) }
    }
    fn read16(&self, offset: usize) -> u16 {
        // Safety: see the note above.
        unsafe { inw(self.base.wrapping_add(offset as u16)) }
    }
    fn read32(&self, offset: usize) -> u32 {
        // Safety: see the note above.
        unsafe { inl(self.base.wrapping_add(offset as u16)) }
    }
    fn write8(&self, offset: usize, value: u8) {
        // Safety: see the note above.
        unsafe { outb(self.base.wrapping_add(offset as u16), value) }
    }
    fn write16(&self, offset: usize, value: u16) {
        // Safety: see the note above.
        unsafe { outw(self.base.wrapping_add(offset as u16), value) }
    }
    fn write32(&self, offset: usize, value: u32) {
        // Safety: see the note above.
        unsafe { outl(self.base.wrapping_add(offset as u16), value) }
    }
}

#[allow(dead_code)] // built by the NIC drivers' bring-up
/// A device's memory-mapped register block (an MMIO BAR), identity mapped
/// uncached (`paging::map_mmio`).
#[derive(Debug, Clone, Copy)]
pub struct MmioRegs {
    /// Start of the block.
    pub base: *mut u8,
    /// Its length; accesses beyond it are dropped (reads return all ones).
    pub len: usize,
}

#[allow(dead_code)]
impl MmioRegs {
    fn at<T>(&self, offset: usize) -> Option<*mut T> {
        (offset.checked_add(size_of::<T>())? <= self.len)
            .then(|| self.base.wrapping_add(offset) as *mut T)
    }
}

// Safety note for every method below: `base..base+len` is a mapped BAR of the
// device this block belongs to (checked by `at`), accessed with volatile
// operations of the register's width, naturally aligned by the driver.
impl Regs for MmioRegs {
    fn read8(&self, offset: usize) -> u8 {
        // Safety: see the note above.
        self.at::<u8>(offset)
            .map_or(!0, |p| unsafe { p.read_volatile() })
    }
    fn read16(&self, offset: usize) -> u16 {
        // Safety: see the note above.
        self.at::<u16>(offset)
            .map_or(!0, |p| unsafe { p.read_volatile() })
    }
    fn read32(&self, offset: usize) -> u32 {
        // Safety: see the note above.
        self.at::<u32>(offset)
            .map_or(!0, |p| unsafe { p.read_volatile() })
    }
    fn write8(&self, offset: usize, value: u8) {
        if let Some(p) = self.at::<u8>(offset) {
            // Safety: see the note above.
            unsafe { p.write_volatile(value) }
        }
    }
    fn write16(&self, offset: usize, value: u16) {
        if let Some(p) = self.at::<u16>(offset) {
            // Safety: see the note above.
            unsafe { p.write_volatile(value) }
        }
    }
    fn write32(&self, offset: usize, value: u32) {
        if let Some(p) = self.at::<u32>(offset) {
            // Safety: see the note above.
            unsafe { p.write_volatile(value) }
        }
    }
}

/// PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2):
/// write the address to 0xCF8, move the dword through 0xCFC.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mechanism1;

impl Mechanism1 {
    fn address(bdf: Bdf, offset: u8) -> u32 {
        0x8000_0000
            | u32::from(bdf.bus) << 16
            | u32::from(bdf.dev & 31) << 11
            | u32::from(bdf.func & 7) << 8
            | u32::from(offset & 0xfc)
    }
}

impl ConfigSpace for Mechanism1 {
    fn read32(&self, bdf: Bdf, offset: u8) -> u32 {
        // Safety: 0xCF8/0xCFC are the host bridge's configuration ports; the
        // kernel is single-threaded, so the address/data pair is not raced.
        unsafe {
            outl(0xcf8, Self::address(bdf, offset));
            inl(0xcfc)
        }
    }
    fn write32(&self, bdf: Bdf, offset: u8, value: u32) {
        // Safety: as for `read32`.
        unsafe {
            outl(0xcf8, Self::address(bdf, offset));
            outl(0xcfc, value);
        }
    }
}

/// Physical memory through the boot identity map (the low 4 GiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityMem;

impl PhysMem for IdentityMem {
    fn read(&self, phys: u64, len: usize) -> Option<&[u8]> {
        let end = phys.checked_add(len as u64)?;
        // Page 0 is left unmapped to catch null pointers; 4 GiB is where the
        // boot-time map ends.
        if phys < 4096 || end > 1 << 32 {
            return None;
        }
        // Safety: the range is inside the identity map and only read; what
        // lives there (boot info, firmware tables, modules) is not freed.
        Some(unsafe { core::slice::from_raw_parts(phys as *const u8, len) })
    }
}
