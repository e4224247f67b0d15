//! Memory bring-up: frames, heap and the DMA region from the memory map.
//!
//! Sizes: the heap gets a quarter of RAM (1..64 MiB), the DMA region
//! min(16 MiB, RAM / 4) for packet buffers and rings; with `-m 32M` that is
//! 8 + 8 MiB and the kernel still reaches the prompt with room to spare.
//! Both are taken below 4 GiB so 32-bit DMA engines can reach them.

use core::ptr::NonNull;

use drivers::hal::DmaRegion;
use ringwall_kernel::boot::BootInfo;
use ringwall_kernel::mem::frames::{FrameAllocator, FrameError};
use ringwall_kernel::mem::MemoryMap;
use spin::Mutex;

use super::heap;
use crate::arch::x86_64::{boot, paging};

const MIB: u64 = 1 << 20;
const FOUR_GIB: u64 = 1 << 32;

/// The frame allocator, after boot reservations.
pub static FRAMES: Mutex<Option<FrameAllocator>> = Mutex::new(None);

/// What memory set-up produced.
pub struct Memory {
    /// The firmware map.
    pub map: MemoryMap,
    /// The DMA region (start, length) as reserved.
    pub dma: (u64, usize),
    /// The DMA region, not yet handed out to drivers.
    pub dma_region: Option<DmaRegion>,
}

/// Why memory could not be set up.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // the payloads are read through Debug in the boot panic
pub enum MemError {
    /// No room for the heap.
    Heap(FrameError),
    /// No room for the DMA region.
    Dma(FrameError),
    /// RAM above 4 GiB could not be mapped.
    Map(paging::MapError),
}

/// Reserves what is in use and carves out the heap and DMA region.
pub fn init(bi: &BootInfo<'_>) -> Result<Memory, MemError> {
    let mut fa = FrameAllocator::from_map(&bi.memory);
    // Real-mode area, BIOS data and the EBDA: never hand those out.
    fa.reserve(0, MIB);
    let (ks, ke) = boot::kernel_range();
    fa.reserve(ks, ke);
    let (is, il) = bi.info_range;
    fa.reserve(is, is + il);
    for m in bi.modules() {
        fa.reserve(m.start, m.start + m.bytes.len() as u64);
    }
    // RAM above 4 GiB is usable only once mapped.
    for r in bi.memory.regions() {
        if r.end() > FOUR_GIB && r.kind == ringwall_kernel::mem::RegionKind::Usable {
            let start = r.start.max(FOUR_GIB);
            paging::map(start, r.end() - start, paging::Kind::Data).map_err(MemError::Map)?;
        }
    }
    let ram = bi.memory.usable_bytes();
    let heap_size = (ram / 4).clamp(MIB, 64 * MIB);
    let heap_at = fa
        .alloc(heap_size, 2 * MIB, FOUR_GIB)
        .map_err(MemError::Heap)?;
    // Safety: the range was just taken from the frame allocator (so it is
    // usable RAM nobody else owns) and lies in the identity map.
    unsafe { heap::init(heap_at as *mut u8, heap_size as usize) };

    let dma_size = (ram / 4).min(16 * MIB);
    let dma_at = fa
        .alloc(dma_size, 2 * MIB, FOUR_GIB)
        .map_err(MemError::Dma)?;
    let dma_region = NonNull::new(dma_at as *mut u8).map(|virt| DmaRegion {
        virt,
        phys: dma_at,
        len: dma_size as usize,
    });
    *FRAMES.lock() = Some(fa);
    Ok(Memory {
        map: bi.memory,
        dma: (dma_at, dma_size as usize),
        dma_region,
    })
}

/// Bytes still free in the frame allocator.
pub fn free_bytes() -> u64 {
    FRAMES.lock().as_ref().map_or(0, |f| f.free_bytes())
}
