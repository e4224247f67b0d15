//! The physical frame allocator.
//!
//! A sorted list of free ranges, 4 KiB granular, built from the usable parts of
//! the memory map minus what is already in use (the first MiB, the kernel
//! image, the boot information and modules). Allocation is first fit with an
//! alignment and an upper address bound, which is all the kernel needs: page
//! tables, the heap and the DMA region are each taken once at boot, and drivers
//! take ring memory from the DMA region, not from here.

use super::{MemoryMap, RegionKind};

/// The frame size.
pub const FRAME: u64 = 4096;
/// Most disjoint free ranges tracked.
pub const MAX_RANGES: usize = 64;

/// Why an allocation or a free failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// No free range is large enough under the bound.
    OutOfMemory,
    /// Length zero or alignment not a power of two.
    BadRequest,
    /// Freeing would need more ranges than the allocator keeps.
    TooFragmented,
}

/// A free physical range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

/// First-fit allocator over free physical ranges.
#[derive(Debug, Clone)]
pub struct FrameAllocator {
    ranges: [Range; MAX_RANGES],
    len: usize,
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

impl FrameAllocator {
    /// The usable regions of `map`, shrunk to whole frames.
    pub fn from_map(map: &MemoryMap) -> Self {
        let mut fa = FrameAllocator {
            ranges: [Range { start: 0, end: 0 }; MAX_RANGES],
            len: 0,
        };
        for r in map.regions() {
            if r.kind != RegionKind::Usable {
                continue;
            }
            let Some(start) = align_up(r.start, FRAME) else {
                continue;
            };
            let end = r.end() & !(FRAME - 1);
            if end > start {
                // Overlapping or excess entries are simply not added.
                let _ = fa.free(start, end - start);
            }
        }
        // Anything the firmware also calls reserved wins over "usable".
        for r in map.regions() {
            if r.kind != RegionKind::Usable {
                fa.reserve(r.start, r.end());
            }
        }
        fa
    }

    /// Removes `[start, end)` from the free ranges (e.g. the kernel image).
    pub fn reserve(&mut self, start: u64, end: u64) {
        let start = start & !(FRAME - 1);
        let end = align_up(end, FRAME).unwrap_or(!(FRAME - 1));
        let mut i = 0;
        while i < self.len {
            let r = self.ranges[i];
            if r.end <= start || r.start >= end {
                i += 1;
                continue;
            }
            let left = Range {
                start: r.start,
                end: start,
            };
            let right = Range {
                start: end,
                end: r.end,
            };
            match (left.start < left.end, right.start < right.end) {
                (true, true) => {
                    self.ranges[i] = left;
                    // A split needs one more slot; without one the right part is
                    // lost (leaked, never double-allocated).
                    if self.insert_at(i + 1, right).is_err() {
                        i += 1;
                    } else {
                        i += 2;
                    }
                }
                (true, false) => {
                    self.ranges[i] = left;
                    i += 1;
                }
                (false, true) => {
                    self.ranges[i] = right;
                    i += 1;
                }
                (false, false) => self.remove_at(i),
            }
        }
    }

    /// Allocates `len` bytes (rounded up to frames) aligned to `align` and
    /// ending at or below `limit`. Returns the physical start.
    pub fn alloc(&mut self, len: u64, align: u64, limit: u64) -> Result<u64, FrameError> {
        if len == 0 || !align.is_power_of_two() {
            return Err(FrameError::BadRequest);
        }
        let len = align_up(len, FRAME).ok_or(FrameError::BadRequest)?;
        let align = align.max(FRAME);
        for i in 0..self.len {
            let r = self.ranges[i];
            let Some(start) = align_up(r.start, align) else {
                continue;
            };
            let Some(end) = start.checked_add(len) else {
                continue;
            };
            if end <= r.end && end <= limit {
                self.reserve(start, end);
                return Ok(start);
            }
        }
        Err(FrameError::OutOfMemory)
    }

    /// Returns `[start, start + len)` to the free ranges, merging neighbours.
    pub fn free(&mut self, start: u64, len: u64) -> Result<(), FrameError> {
        let end = start.checked_add(len).ok_or(FrameError::BadRequest)?;
        if len == 0 || !start.is_multiple_of(FRAME) || !end.is_multiple_of(FRAME) {
            return Err(FrameError::BadRequest);
        }
        let at = self.ranges[..self.len]
            .iter()
            .position(|r| r.start >= end)
            .unwrap_or(self.len);
        let merge_prev = at > 0 && self.ranges[at - 1].end == start;
        let merge_next = at < self.len && self.ranges[at].start == end;
        match (merge_prev, merge_next) {
            (true, true) => {
                self.ranges[at - 1].end = self.ranges[at].end;
                self.remove_at(at);
            }
            (true, false) => self.ranges[at - 1].end = end,
            (false, true) => self.ranges[at].start = start,
            (false, false) => self.insert_at(at, Range { start, end })?,
        }
        Ok(())
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        self.ranges[..self.len]
            .iter()
            .map(|r| r.end - r.start)
            .sum()
    }

    fn insert_at(&mut self, i: usize, r: Range) -> Result<(), FrameError> {
        if self.len == MAX_RANGES {
            return Err(FrameError::TooFragmented);
        }
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = r;
        self.len += 1;
        Ok(())
    }

    fn remove_at(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::seabios_32m;
    use super::*;

    #[test]
    fn usable_ram_minus_reservations_is_free() {
        let mut fa = FrameAllocator::from_map(&seabios_32m());
        // 0x9fc00 rounds down to 0x9f000 frames below 1 MiB.
        assert_eq!(fa.free_bytes(), 0x9f000 + 0x1ee0000);
        fa.reserve(0, 0x100000);
        fa.reserve(0x100000, 0x340123);
        assert_eq!(fa.free_bytes(), 0x1fe0000 - 0x341000);
    }

    #[test]
    fn allocation_is_aligned_bounded_and_never_overlaps() {
        let mut fa = FrameAllocator::from_map(&seabios_32m());
        fa.reserve(0, 0x180000);
        let a = fa.alloc(0x800000, 0x200000, u64::MAX).unwrap();
        assert_eq!(a, 0x200000, "first 2 MiB boundary after the reservation");
        let b = fa.alloc(100, 1, u64::MAX).unwrap();
        assert_eq!(b, 0x180000, "the gap before the aligned block is reused");
        let c = fa.alloc(4096, 4096, u64::MAX).unwrap();
        assert!(c >= 0xa00000 || c == 0x181000);
        assert_eq!(
            fa.alloc(64 << 20, 4096, u64::MAX),
            Err(FrameError::OutOfMemory)
        );
        assert_eq!(fa.alloc(4096, 4096, 0x100000), Err(FrameError::OutOfMemory));
        assert_eq!(fa.alloc(0, 4096, u64::MAX), Err(FrameError::BadRequest));
        assert_eq!(fa.alloc(4096, 3, u64::MAX), Err(FrameError::BadRequest));
    }

    #[test]
    fn free_merges_neighbours_back_into_one_range() {
        let mut fa = FrameAllocator::from_map(&seabios_32m());
        let before = fa.free_bytes();
        let a = fa.alloc(0x3000, 4096, u64::MAX).unwrap();
        let b = fa.alloc(0x1000, 4096, u64::MAX).unwrap();
        fa.free(a, 0x3000).unwrap();
        fa.free(b, 0x1000).unwrap();
        assert_eq!(fa.free_bytes(), before);
        assert_eq!(fa.len, 2, "the two RAM regions of the map, nothing more");
        assert_eq!(fa.free(1, 4096), Err(FrameError::BadRequest));
    }

    #[test]
    fn reserved_entries_override_overlapping_usable_ones() {
        let mut m = MemoryMap::new();
        m.push(super::super::MemoryRegion {
            start: 0,
            len: 0x10_0000,
            kind: RegionKind::Usable,
        });
        m.push(super::super::MemoryRegion {
            start: 0x8_0000,
            len: 0x1000,
            kind: RegionKind::Reserved,
        });
        let fa = FrameAllocator::from_map(&m);
        assert_eq!(fa.free_bytes(), 0x10_0000 - 0x1000);
    }
}
