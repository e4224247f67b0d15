//! The kernel's final page tables: an identity map with permissions.
//!
//! Everything is mapped virtual = physical (drivers hand physical addresses to
//! devices, so identity mapping makes DMA addresses free). The low 4 GiB use
//! 2 MiB pages (SDM vol. 3A, 4.5), except the 2 MiB blocks holding the kernel
//! image, which use 4 KiB pages so that code is read-only and executable,
//! everything else is non-executable (NX) and page 0 stays unmapped to catch
//! null pointers. Blocks that hold no RAM according to the firmware's memory
//! map are device memory (the PCI hole starts at 2 GiB under OVMF with little
//! RAM, at 3 GiB under SeaBIOS) and are mapped uncached (PCD|PWT).
//! RAM above 4 GiB and 64-bit BARs are added with [`map`] / [`map_mmio`].
//! Table pages come from a fixed pool in .bss, so mapping needs no allocator.

use ringwall_kernel::mem::{MemoryMap, RegionKind};
use spin::Mutex;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

/// Entry bits (SDM vol. 3A, tables 4-14 to 4-20).
mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITABLE: u64 = 1 << 1;
    pub const WRITE_THROUGH: u64 = 1 << 3;
    pub const NO_CACHE: u64 = 1 << 4;
    pub const HUGE: u64 = 1 << 7;
    pub const NO_EXECUTE: u64 = 1 << 63;
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

const PAGE: u64 = 4096;
const HUGE: u64 = 2 << 20;
const FOUR_GIB: u64 = 1 << 32;
/// Table pages available (PML4, PDPTs, PDs, PTs).
const POOL: usize = 48;

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The static pool of table pages is used up.
    OutOfTables,
    /// The range is not canonical or wraps (beyond 48-bit physical addresses).
    BadRange,
}

/// How a range is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ordinary memory: writable, not executable, cached.
    Data,
    /// Device registers: writable, not executable, uncached.
    Mmio,
}

#[repr(C, align(4096))]
struct Table([u64; 512]);

static mut POOL_PAGES: [Table; POOL] = [const { Table([0; 512]) }; POOL];

struct Tables {
    used: usize,
    nx: u64,
}

static TABLES: Mutex<Tables> = Mutex::new(Tables { used: 0, nx: 0 });

impl Tables {
    fn table(&self, i: usize) -> *mut [u64; 512] {
        // Safety: only the address is computed; `i < POOL` is checked by callers.
        unsafe { &raw mut POOL_PAGES[i].0 }
    }

    fn new_table(&mut self) -> Result<u64, MapError> {
        if self.used == POOL {
            return Err(MapError::OutOfTables);
        }
        let t = self.table(self.used);
        self.used += 1;
        Ok(t as u64)
    }

    /// The next-level table under `entry`, created when absent.
    fn descend(&mut self, table: u64, index: usize) -> Result<u64, MapError> {
        let slot = (table as *mut u64).wrapping_add(index);
        // Safety: `table` is a pool page (identity mapped, 4 KiB) and index < 512.
        let e = unsafe { slot.read_volatile() };
        if e & pte::PRESENT != 0 && e & pte::HUGE == 0 {
            return Ok(e & pte::ADDR);
        }
        let next = self.new_table()?;
        // Safety: as above; the new table is zeroed .bss.
        unsafe { slot.write_volatile(next | pte::PRESENT | pte::WRITABLE) };
        Ok(next)
    }

    fn pml4(&self) -> u64 {
        self.table(0) as u64
    }

    /// Maps one 2 MiB page at `phys` (identity) with `flags`.
    fn map_huge(&mut self, phys: u64, flags: u64) -> Result<(), MapError> {
        let pdpt = self.descend(self.pml4(), (phys >> 39) as usize & 511)?;
        let pd = self.descend(pdpt, (phys >> 30) as usize & 511)?;
        let slot = (pd as *mut u64).wrapping_add((phys >> 21) as usize & 511);
        // Safety: `pd` is a pool page and the index is < 512.
        unsafe { slot.write_volatile(phys | flags | pte::HUGE | pte::PRESENT) };
        Ok(())
    }

    /// Maps the 2 MiB block at `block` with 4 KiB pages, `flags_of` per page.
    fn map_small(&mut self, block: u64, flags_of: impl Fn(u64) -> u64) -> Result<(), MapError> {
        let pdpt = self.descend(self.pml4(), (block >> 39) as usize & 511)?;
        let pd = self.descend(pdpt, (block >> 30) as usize & 511)?;
        let pt = self.new_table()?;
        for i in 0..512u64 {
            let phys = block + i * PAGE;
            let f = flags_of(phys);
            let v = if f & pte::PRESENT != 0 { phys | f } else { 0 };
            // Safety: `pt` is a fresh pool page and i < 512.
            unsafe { (pt as *mut u64).add(i as usize).write_volatile(v) };
        }
        let slot = (pd as *mut u64).wrapping_add((block >> 21) as usize & 511);
        // Safety: `pd` is a pool page and the index is < 512.
        unsafe { slot.write_volatile(pt | pte::PRESENT | pte::WRITABLE) };
        Ok(())
    }

    fn flags(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Data => pte::WRITABLE | self.nx,
            Kind::Mmio => pte::WRITABLE | self.nx | pte::NO_CACHE | pte::WRITE_THROUGH,
        }
    }
}

/// Builds the final tables and switches CR3 to them. `text` is the
/// executable range of the image, `image_end` one past the kernel image,
/// `nx` whether the CPU (and EFER.NXE) supports no-execute; `map` says where
/// RAM is.
pub fn init(text: (u64, u64), image_end: u64, nx: bool, map: &MemoryMap) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    t.nx = if nx { pte::NO_EXECUTE } else { 0 };
    t.new_table()?; // the PML4 is pool page 0
    let data = t.flags(Kind::Data);
    let small_end = image_end.div_ceil(HUGE) * HUGE;
    let mut block = 0;
    while block < FOUR_GIB {
        if block < small_end {
            t.map_small(block, |p| match p {
                0 => 0,
                p if p >= text.0 && p < text.1 => pte::PRESENT,
                _ => pte::PRESENT | data,
            })?;
        } else if !holds_ram(map, block) {
            let f = t.flags(Kind::Mmio);
            t.map_huge(block, f)?;
        } else {
            t.map_huge(block, data)?;
        }
        block += HUGE;
    }
    let root = PhysFrame::containing_address(PhysAddr::new(t.pml4()));
    // Safety: the new tables map the running code (read-only, executable),
    // the stacks, .data/.bss and all low memory exactly as before, so every
    // address in use stays valid across the switch.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
    Ok(())
}

/// True when any part of the 2 MiB block at `block` is RAM (usable or
/// ACPI-owned), which must stay cacheable.
fn holds_ram(map: &MemoryMap, block: u64) -> bool {
    map.regions().iter().any(|r| {
        r.kind != RegionKind::Reserved
            && r.kind != RegionKind::Bad
            && r.start < block + HUGE
            && r.end() > block
    })
}

/// Identity-maps `[phys, phys + len)` with 2 MiB pages of `kind`.
pub fn map(phys: u64, len: u64, kind: Kind) -> Result<(), MapError> {
    let end = phys
        .checked_add(len)
        .filter(|&e| e <= 1 << 46)
        .ok_or(MapError::BadRange)?;
    let mut t = TABLES.lock();
    let flags = t.flags(kind);
    let mut block = phys & !(HUGE - 1);
    while block < end {
        // The low 4 GiB are mapped at boot with the right attributes already.
        if block >= FOUR_GIB {
            t.map_huge(block, flags)?;
        }
        block += HUGE;
    }
    x86_64::instructions::tlb::flush_all();
    Ok(())
}

#[allow(dead_code)] // for the NIC drivers' 64-bit BARs
/// Makes a device's registers at `phys` reachable (uncached) and returns the
/// pointer to them (identity mapped).
pub fn map_mmio(phys: u64, len: u64) -> Result<*mut u8, MapError> {
    map(phys, len.max(1), Kind::Mmio)?;
    Ok(phys as *mut u8)
}

/// Table pages used so far (for `mem`-style reports and tests).
pub fn tables_used() -> usize {
    TABLES.lock().used
}
