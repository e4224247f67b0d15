//! The hardware abstraction drivers are written against.
//!
//! Drivers never touch a port or a physical address directly: they go through
//! [`Regs`] for device registers, [`DmaRegion`] for memory shared with a device
//! and [`Delay`] for the few busy-waits a bring-up sequence needs. The kernel
//! implements these over port I/O and identity-mapped memory; host tests
//! implement them over device models.

use core::ptr::NonNull;

/// A block of device registers (an MMIO BAR or an I/O port range).
///
/// Offsets are relative to the start of the block. Accesses are performed in
/// program order with the width given by the method name.
pub trait Regs {
    /// Reads an 8-bit register.
    fn read8(&self, offset: usize) -> u8;
    /// Reads a 16-bit register.
    fn read16(&self, offset: usize) -> u16;
    /// Reads a 32-bit register.
    fn read32(&self, offset: usize) -> u32;
    /// Writes an 8-bit register.
    fn write8(&self, offset: usize, value: u8);
    /// Writes a 16-bit register.
    fn write16(&self, offset: usize, value: u16);
    /// Writes a 32-bit register.
    fn write32(&self, offset: usize, value: u32);
}

/// Busy-wait delays for bring-up sequences (never used on the data path).
pub trait Delay {
    /// Spins for at least `us` microseconds.
    fn delay_us(&self, us: u32);
}

/// A physically contiguous block of memory that a device may read and write.
///
/// `virt` is where the CPU sees it, `phys` is the bus address handed to the
/// device. In the kernel both are equal (identity mapping); in host tests the
/// physical address is a guest address of a device model.
#[derive(Debug, Clone, Copy)]
pub struct DmaRegion {
    /// CPU-visible start of the region.
    pub virt: NonNull<u8>,
    /// Device-visible (bus) address of the start of the region.
    pub phys: u64,
    /// Length in bytes.
    pub len: usize,
}

// Safety: a DmaRegion is a plain description of memory owned by whoever
// allocated it; moving the description between threads moves no data.
unsafe impl Send for DmaRegion {}

impl DmaRegion {
    /// Splits off the first `len` bytes, aligned up to `align` (a power of two),
    /// and returns them; `self` keeps the rest. `None` when too small.
    pub fn take(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        let align = align.max(1);
        let pad = (align - (self.phys as usize & (align - 1))) & (align - 1);
        let need = pad.checked_add(len)?;
        if need > self.len {
            return None;
        }
        // Safety: pad + len <= self.len, so both pointers stay inside the region.
        let virt = unsafe { NonNull::new_unchecked(self.virt.as_ptr().add(pad)) };
        let taken = DmaRegion {
            virt,
            phys: self.phys + pad as u64,
            len,
        };
        // Safety: as above, `need` is within the region.
        self.virt = unsafe { NonNull::new_unchecked(self.virt.as_ptr().add(need)) };
        self.phys += need as u64;
        self.len -= need;
        Some(taken)
    }

    /// Fills the region with zeroes.
    pub fn zero(&self) {
        // Safety: the region is valid for `len` bytes of writes by construction.
        unsafe { core::ptr::write_bytes(self.virt.as_ptr(), 0, self.len) }
    }
}

/// Hands out DMA memory to drivers at bring-up.
pub trait DmaAlloc {
    /// Allocates `len` zeroed bytes aligned to `align` (a power of two).
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion>;
}

impl DmaAlloc for DmaRegion {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        let r = self.take(len, align)?;
        r.zero();
        Some(r)
    }
}
