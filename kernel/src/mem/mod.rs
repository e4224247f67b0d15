//! Physical memory bookkeeping: the firmware's memory map and the allocator
//! that carves frames, the heap and the DMA region out of it.
//!
//! Both are fixed-size (no heap exists yet when they are needed) and pure data,
//! so they are tested on the host; the kernel fills them from the boot
//! information and maps what they hand out.

pub mod frames;

use core::fmt;

use crate::fmt::Size;

/// Most regions a memory map may hold; later entries are dropped and counted.
pub const MAX_REGIONS: usize = 64;

/// What a memory map region is (Multiboot spec 3.3 / Multiboot2 3.6.8 type values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// Type 1: RAM free for use.
    Usable,
    /// Type 2 or unknown: do not touch.
    Reserved,
    /// Type 3: ACPI tables, reclaimable after they were read.
    AcpiReclaimable,
    /// Type 4: must be preserved across hibernation.
    AcpiNvs,
    /// Type 5: defective RAM.
    Bad,
}

impl RegionKind {
    /// Maps a Multiboot memory type to a kind.
    pub fn from_multiboot(t: u32) -> Self {
        match t {
            1 => RegionKind::Usable,
            3 => RegionKind::AcpiReclaimable,
            4 => RegionKind::AcpiNvs,
            5 => RegionKind::Bad,
            _ => RegionKind::Reserved,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RegionKind::Usable => "usable",
            RegionKind::Reserved => "reserved",
            RegionKind::AcpiReclaimable => "ACPI data",
            RegionKind::AcpiNvs => "ACPI NVS",
            RegionKind::Bad => "bad",
        }
    }
}

/// One memory map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Its kind.
    pub kind: RegionKind,
}

impl MemoryRegion {
    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

impl fmt::Display for MemoryRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#014x}-{:#014x} {:<10} {}",
            self.start,
            self.end().saturating_sub(1),
            self.kind.name(),
            Size(self.len)
        )
    }
}

/// The firmware memory map, in the order the boot loader gave it.
#[derive(Debug, Clone, Copy)]
pub struct MemoryMap {
    regions: [MemoryRegion; MAX_REGIONS],
    len: usize,
    /// Entries dropped because the map was full.
    pub dropped: usize,
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryMap {
    /// An empty map.
    pub const fn new() -> Self {
        MemoryMap {
            regions: [MemoryRegion {
                start: 0,
                len: 0,
                kind: RegionKind::Reserved,
            }; MAX_REGIONS],
            len: 0,
            dropped: 0,
        }
    }

    /// Appends a region (zero-length ones are skipped).
    pub fn push(&mut self, region: MemoryRegion) {
        if region.len == 0 {
            return;
        }
        if self.len == MAX_REGIONS {
            self.dropped += 1;
            return;
        }
        self.regions[self.len] = region;
        self.len += 1;
    }

    /// The regions.
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.len]
    }

    /// Total bytes of usable RAM.
    pub fn usable_bytes(&self) -> u64 {
        self.regions()
            .iter()
            .filter(|r| r.kind == RegionKind::Usable)
            .map(|r| r.len)
            .sum()
    }
}

/// What the `mem` command shows, gathered by the kernel.
#[derive(Debug, Clone, Copy)]
pub struct MemInfo<'a> {
    /// The firmware map.
    pub map: &'a MemoryMap,
    /// The kernel image (start, end) in physical memory.
    pub kernel: (u64, u64),
    /// Heap bytes in use.
    pub heap_used: usize,
    /// Heap size.
    pub heap_size: usize,
    /// The DMA region (start, length).
    pub dma: (u64, usize),
    /// Physical memory still free in the frame allocator.
    pub free: u64,
}

impl fmt::Display for MemInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usable = self.map.usable_bytes();
        writeln!(
            f,
            "ram:    {} usable, {} free",
            Size(usable),
            Size(self.free)
        )?;
        let (ks, ke) = self.kernel;
        writeln!(
            f,
            "kernel: {ks:#x}-{:#x} ({})",
            ke.saturating_sub(1),
            Size(ke.saturating_sub(ks))
        )?;
        writeln!(
            f,
            "heap:   {} used of {}",
            Size(self.heap_used as u64),
            Size(self.heap_size as u64)
        )?;
        let (ds, dl) = self.dma;
        writeln!(
            f,
            "dma:    {ds:#x}-{:#x} ({})",
            (ds + dl as u64).saturating_sub(1),
            Size(dl as u64)
        )?;
        writeln!(f, "memory map ({} entries):", self.map.regions().len())?;
        for r in self.map.regions() {
            writeln!(f, "  {r}")?;
        }
        if self.map.dropped > 0 {
            writeln!(f, "  ({} more entries not kept)", self.map.dropped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first six entries of the map SeaBIOS hands over for `-m 32M`, as
    /// this kernel's `mem` printed them under QEMU 7.2.
    pub(crate) fn seabios_32m() -> MemoryMap {
        let mut m = MemoryMap::new();
        for (start, len, t) in [
            (0x0, 0x9fc00, 1),
            (0x9fc00, 0x400, 2),
            (0xf0000, 0x10000, 2),
            (0x100000, 0x1ee0000, 1),
            (0x1fe0000, 0x20000, 2),
            (0xfffc0000, 0x40000, 2),
        ] {
            m.push(MemoryRegion {
                start,
                len,
                kind: RegionKind::from_multiboot(t),
            });
        }
        m
    }

    #[test]
    fn map_totals_and_display() {
        let m = seabios_32m();
        assert_eq!(m.usable_bytes(), 0x9fc00 + 0x1ee0000);
        let line = m.regions()[3].to_string();
        assert_eq!(line, "0x000000100000-0x000001fdffff usable     30.8 MiB");
        assert_eq!(RegionKind::from_multiboot(9), RegionKind::Reserved);
    }

    #[test]
    fn map_keeps_a_bounded_number_of_entries() {
        let mut m = MemoryMap::new();
        for i in 0..MAX_REGIONS as u64 + 3 {
            m.push(MemoryRegion {
                start: i << 20,
                len: 4096,
                kind: RegionKind::Usable,
            });
        }
        m.push(MemoryRegion {
            start: 0,
            len: 0,
            kind: RegionKind::Usable,
        });
        assert_eq!(m.regions().len(), MAX_REGIONS);
        assert_eq!(m.dropped, 3);
    }
}
