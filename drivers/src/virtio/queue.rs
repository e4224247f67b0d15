//! The driver side of a split virtqueue (spec 2.7) in DMA memory.
//!
//! One block of memory holds the descriptor table, the available ring and,
//! on the next 4 KiB boundary, the used ring: the layout the legacy interface
//! dictates (2.7.2), which is also valid for modern devices, so both
//! transports share it. The queue does not know what its descriptors point
//! at: drivers keep their own per-chain bookkeeping indexed by the head id
//! returned from [`SplitQueue::push`]. Free descriptor ids live on a stack, so
//! finding one never scans the table, and the links of each chain are kept
//! in driver memory too, so releasing a chain never trusts what the device
//! could have scribbled over in the shared table.
//!
//! Ordering (2.7.13, 2.7.14): descriptors and ring entries are written
//! before a release fence publishes `avail.idx`; a full fence separates that
//! store from reading `used.flags` to decide on a doorbell; an acquire fence
//! follows reading `used.idx` before the used entries are read.

use crate::hal::{DmaAlloc, DmaRegion};
use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

/// Descriptor flag: the buffer continues in `next` (2.7.5).
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer (2.7.5).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Available ring flag: the driver does not want used-buffer interrupts (2.7.7).
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used ring flag: the device does not want doorbells (2.7.7).
pub const VIRTQ_USED_F_NO_NOTIFY: u16 = 1;

/// Longest chain [`SplitQueue::push`] builds.
pub const MAX_CHAIN: usize = 2;
/// Marks the end of a chain in the shadow links.
const NO_NEXT: u16 = u16::MAX;

/// Alignment of the used ring in the shared layout (legacy page size).
const USED_ALIGN: usize = 4096;

/// Byte offsets of the three parts of a queue of `size` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Available ring (`struct virtq_avail`, 2.7.6): flags, idx, ring[size], used_event.
    pub avail: usize,
    /// Used ring (`struct virtq_used`, 2.7.8): flags, idx, ring[size] of (id, len), avail_event.
    pub used: usize,
    /// Total bytes.
    pub total: usize,
}

impl Layout {
    /// The layout for `size` entries. The descriptor table
    /// (`struct virtq_desc`, 16 bytes each, 2.7.5) is at offset 0.
    pub fn new(size: u16) -> Layout {
        let n = size as usize;
        let avail = 16 * n;
        let used = (avail + 6 + 2 * n).next_multiple_of(USED_ALIGN);
        Layout {
            avail,
            used,
            total: used + 6 + 8 * n,
        }
    }
}

/// One entry of the used ring as the device wrote it (2.7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used {
    /// Head descriptor id of the completed chain (unchecked: device data).
    pub id: u32,
    /// Bytes the device wrote into the chain (unchecked: device data).
    pub len: u32,
}

/// A split virtqueue, driver side.
pub struct SplitQueue {
    mem: DmaRegion,
    capacity: u16,
    size: u16,
    layout: Layout,
    free: Vec<u16>,
    /// `next[id]`: the descriptor chained after `id`, or `NO_NEXT`.
    next: Vec<u16>,
    avail_idx: u16,
    last_used: u16,
}

impl SplitQueue {
    /// Allocates memory for a queue of up to `capacity` entries (a power of two).
    pub fn alloc(dma: &mut impl DmaAlloc, capacity: u16) -> Option<SplitQueue> {
        if capacity == 0 || !capacity.is_power_of_two() {
            return None;
        }
        let layout = Layout::new(capacity);
        let mem = dma.alloc_dma(layout.total, USED_ALIGN)?;
        let mut q = SplitQueue {
            mem,
            capacity,
            size: capacity,
            layout,
            free: Vec::with_capacity(capacity as usize),
            next: alloc::vec![NO_NEXT; capacity as usize],
            avail_idx: 0,
            last_used: 0,
        };
        q.reset(capacity);
        Some(q)
    }

    /// Empties the queue for `size` entries (at most the capacity, a power of
    /// two): zeroed rings, every descriptor free, interrupts suppressed.
    /// Only call while the device does not use the queue (after a reset).
    pub fn reset(&mut self, size: u16) -> bool {
        if size == 0 || size > self.capacity || !size.is_power_of_two() {
            return false;
        }
        self.size = size;
        self.layout = Layout::new(size);
        self.mem.zero();
        self.free.clear();
        // Hand out low ids first; the order carries no meaning.
        self.free.extend((0..size).rev());
        self.next.fill(NO_NEXT);
        self.avail_idx = 0;
        self.last_used = 0;
        // Poll mode: ask the device not to interrupt (2.7.7).
        self.write16(self.layout.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
        true
    }

    /// Entries in the queue.
    pub fn size(&self) -> u16 {
        self.size
    }
    /// Largest size `reset` accepts.
    pub fn capacity(&self) -> u16 {
        self.capacity
    }
    /// Descriptors not currently owned by the device.
    pub fn num_free(&self) -> usize {
        self.free.len()
    }
    /// Bus addresses of the descriptor table, available ring and used ring.
    pub fn addresses(&self) -> (u64, u64, u64) {
        let p = self.mem.phys;
        (p, p + self.layout.avail as u64, p + self.layout.used as u64)
    }

    /// Places a chain of up to [`MAX_CHAIN`] buffers, each `(bus address,
    /// length)`, in the available ring (not yet visible to the device: see
    /// [`publish`]). Returns the head id, or `None` (changing nothing) when
    /// not enough descriptors are free.
    ///
    /// [`publish`]: SplitQueue::publish
    pub fn push(&mut self, segs: &[(u64, u32)], device_writes: bool) -> Option<u16> {
        if segs.is_empty() || segs.len() > MAX_CHAIN || self.free.len() < segs.len() {
            return None;
        }
        let mut ids = [0u16; MAX_CHAIN];
        for id in ids.iter_mut().take(segs.len()) {
            *id = self.free.pop()?;
        }
        let flags = if device_writes { VIRTQ_DESC_F_WRITE } else { 0 };
        for (i, &(addr, len)) in segs.iter().enumerate() {
            let id = ids[i];
            let last = i + 1 == segs.len();
            let next = if last { NO_NEXT } else { ids[i + 1] };
            let d = 16 * id as usize;
            self.write64(d, addr);
            self.write32(d + 8, len);
            self.write16(d + 12, flags | if last { 0 } else { VIRTQ_DESC_F_NEXT });
            self.write16(d + 14, if last { 0 } else { next });
            self.next[id as usize] = next;
        }
        let slot = (self.avail_idx % self.size) as usize;
        self.write16(self.layout.avail + 4 + 2 * slot, ids[0]);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Some(ids[0])
    }

    /// Makes every pushed chain visible to the device by storing `avail.idx`.
    pub fn publish(&mut self) {
        // The descriptor and ring writes must be seen before the index (2.7.13).
        fence(Ordering::Release);
        self.write16(self.layout.avail + 2, self.avail_idx);
    }

    /// Whether the device wants a doorbell for what was just published
    /// (it did not set `VIRTQ_USED_F_NO_NOTIFY`).
    pub fn device_wants_notify(&self) -> bool {
        // The index store must be visible before the flags are read, or a
        // device going to sleep could be missed (2.7.13.4).
        fence(Ordering::SeqCst);
        self.read16(self.layout.used) & VIRTQ_USED_F_NO_NOTIFY == 0
    }

    /// Takes the next used entry, if the device has produced one. The id is
    /// not released: the caller checks it and calls [`release`].
    ///
    /// [`release`]: SplitQueue::release
    pub fn pop_used(&mut self) -> Option<Used> {
        let idx = self.read16(self.layout.used + 2);
        if idx == self.last_used {
            return None;
        }
        // The entry must not be read before the index that announced it.
        fence(Ordering::Acquire);
        let e = self.layout.used + 4 + 8 * (self.last_used % self.size) as usize;
        self.last_used = self.last_used.wrapping_add(1);
        Some(Used {
            id: self.read32(e),
            len: self.read32(e + 4),
        })
    }

    /// Returns the chain headed by `id` to the free stack. The caller
    /// guarantees the device gave it back and it is not already free.
    pub fn release(&mut self, id: u16) {
        let mut id = id;
        for _ in 0..MAX_CHAIN {
            if id >= self.size || self.free.len() >= self.size as usize {
                return;
            }
            self.free.push(id);
            id = core::mem::replace(&mut self.next[id as usize], NO_NEXT);
        }
    }

    fn ptr(&self, off: usize) -> *mut u8 {
        debug_assert!(off < self.mem.len);
        // Safety: every caller passes an offset inside `layout.total`, which
        // is no more than the region's length.
        unsafe { self.mem.virt.as_ptr().add(off) }
    }
    fn write16(&self, off: usize, v: u16) {
        // Safety: inside the region (see `ptr`) and 2-aligned: the region is
        // page-aligned and every ring field sits at an even offset.
        unsafe { core::ptr::write_volatile(self.ptr(off).cast::<u16>(), v.to_le()) }
    }
    fn write32(&self, off: usize, v: u32) {
        // Safety: inside the region, 4-aligned (descriptor fields).
        unsafe { core::ptr::write_volatile(self.ptr(off).cast::<u32>(), v.to_le()) }
    }
    fn write64(&self, off: usize, v: u64) {
        // Safety: inside the region, 8-aligned (descriptor address field).
        unsafe { core::ptr::write_volatile(self.ptr(off).cast::<u64>(), v.to_le()) }
    }
    fn read16(&self, off: usize) -> u16 {
        // Safety: inside the region and 2-aligned, as for `write16`.
        u16::from_le(unsafe { core::ptr::read_volatile(self.ptr(off).cast::<u16>()) })
    }
    fn read32(&self, off: usize) -> u32 {
        // Safety: inside the region, 4-aligned (used ring elements).
        u32::from_le(unsafe { core::ptr::read_volatile(self.ptr(off).cast::<u32>()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr::NonNull;

    #[test]
    fn layout_matches_the_legacy_formula() {
        // 2.7.2 legacy: used ring at ALIGN(16*n + 6 + 2*n, 4096).
        assert_eq!(
            Layout::new(256),
            Layout {
                avail: 4096,
                used: 8192,
                total: 8192 + 6 + 8 * 256
            }
        );
        assert_eq!(Layout::new(8).used, 4096);
    }

    #[test]
    fn push_publish_and_used_round_trip() {
        let mut backing = vec![0u64; 2048];
        let mut region = DmaRegion {
            virt: NonNull::new(backing.as_mut_ptr().cast()).unwrap(),
            phys: 0x4000_0000,
            len: backing.len() * 8,
        };
        let mut q = SplitQueue::alloc(&mut region, 4).unwrap();
        assert!(SplitQueue::alloc(&mut region, 6).is_none());
        let (desc, avail, used) = q.addresses();
        assert_eq!((avail - desc, used - desc), (64, 4096));
        let ids: Vec<u16> = (0..4)
            .map(|i| q.push(&[(0x1000 * i, 100)], i % 2 == 0).unwrap())
            .collect();
        assert_eq!(q.push(&[(0, 0)], false), None);
        q.publish();
        let base = q.mem.virt.as_ptr();
        // Safety (test): reading the rings we just wrote, inside the region.
        let rd16 = |off: usize| unsafe { u16::from_le(base.add(off).cast::<u16>().read()) };
        assert_eq!(rd16(64), VIRTQ_AVAIL_F_NO_INTERRUPT);
        assert_eq!(rd16(66), 4);
        assert_eq!(rd16(16 * ids[0] as usize + 12), VIRTQ_DESC_F_WRITE);
        assert!(q.device_wants_notify());
        assert_eq!(q.pop_used(), None);
        // Play the device: complete the third chain with 42 bytes.
        // Safety (test): writing the used ring inside the region.
        unsafe {
            base.add(4096 + 4).cast::<u32>().write(ids[2] as u32);
            base.add(4096 + 8).cast::<u32>().write(42);
            base.add(4096 + 2).cast::<u16>().write(1);
            base.add(4096).cast::<u16>().write(VIRTQ_USED_F_NO_NOTIFY);
        }
        assert_eq!(
            q.pop_used(),
            Some(Used {
                id: ids[2] as u32,
                len: 42
            })
        );
        assert_eq!(q.pop_used(), None);
        q.release(ids[2]);
        assert_eq!(q.num_free(), 1);
        assert!(!q.device_wants_notify());
        assert!(q.reset(2));
        assert_eq!(q.num_free(), 2);
        assert!(!q.reset(8));
    }

    #[test]
    fn chains_link_their_descriptors_and_release_as_a_whole() {
        let mut backing = vec![0u64; 2048];
        let mut region = DmaRegion {
            virt: NonNull::new(backing.as_mut_ptr().cast()).unwrap(),
            phys: 0x4000_0000,
            len: backing.len() * 8,
        };
        let mut q = SplitQueue::alloc(&mut region, 4).unwrap();
        let a = q.push(&[(0x1000, 10), (0x100a, 50)], true).unwrap();
        let b = q.push(&[(0x2000, 10), (0x200a, 50)], true).unwrap();
        assert_eq!(q.num_free(), 0);
        assert_eq!(q.push(&[(0x3000, 1)], true), None);
        let base = q.mem.virt.as_ptr();
        // Safety (test): reading the descriptor table inside the region.
        let rd16 = |off: usize| unsafe { u16::from_le(base.add(off).cast::<u16>().read()) };
        let second = rd16(16 * a as usize + 14);
        assert_eq!(
            rd16(16 * a as usize + 12),
            VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT
        );
        assert_eq!(rd16(16 * second as usize + 12), VIRTQ_DESC_F_WRITE);
        // Even if the device rewrote the link, release follows the driver's copy.
        // Safety (test): writing the descriptor table inside the region.
        unsafe { base.add(16 * a as usize + 14).cast::<u16>().write(b) };
        q.release(a);
        assert_eq!(q.num_free(), 2);
        q.release(b);
        assert_eq!(q.num_free(), 4);
        let mut ids: Vec<u16> = (0..4).map(|_| q.push(&[(0, 1)], false).unwrap()).collect();
        ids.sort();
        assert_eq!(ids, [0, 1, 2, 3]);
    }
}
