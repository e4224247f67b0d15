//! Packet buffers: a pool of fixed 2 KiB slots in DMA memory.
//!
//! The pool is carved once at boot and never grows. A [`PacketBuf`] is a handle
//! to one slot: it knows the slot's CPU and bus addresses and the window
//! (`start`, `len`) that holds the frame. Handles move between the pool, the
//! NIC rings and the data path without copying the bytes; headroom in front of
//! the frame lets the data path prepend headers (virtio-net header, outer
//! Ethernet/IPv4/UDP/WireGuard) in place, tailroom behind it takes padding and
//! the AEAD tag.
//!
//! Running out of buffers is a counted event, never a panic or an allocation.

use crate::hal::DmaRegion;
use alloc::vec::Vec;
use core::ptr::NonNull;

/// Size of one buffer slot.
pub const BUF_SIZE: usize = 2048;
/// Bytes kept free in front of a received frame.
pub const HEADROOM: usize = 128;
/// Largest burst any `rx_burst`/`tx_burst` call moves.
pub const BURST: usize = 32;

/// A handle to one packet buffer slot. Not `Clone`: exactly one owner at a time.
#[derive(Debug)]
pub struct PacketBuf {
    ptr: NonNull<u8>,
    phys: u64,
    index: u32,
    start: u16,
    len: u16,
}

// Safety: a PacketBuf is the unique handle to its slot; the slot's memory is
// owned by the pool for the life of the system.
unsafe impl Send for PacketBuf {}

impl PacketBuf {
    /// Index of the slot in its pool.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// Offset of the first frame byte inside the slot.
    pub fn start(&self) -> usize {
        self.start as usize
    }
    /// Length of the frame.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// True when the window holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Free bytes in front of the frame.
    pub fn headroom(&self) -> usize {
        self.start as usize
    }
    /// Free bytes behind the frame.
    pub fn tailroom(&self) -> usize {
        BUF_SIZE - self.start as usize - self.len as usize
    }
    /// Bus address of the first byte of the slot.
    pub fn slot_phys(&self) -> u64 {
        self.phys
    }
    /// Bus address of the first frame byte.
    pub fn data_phys(&self) -> u64 {
        self.phys + self.start as u64
    }
    /// The frame bytes.
    pub fn data(&self) -> &[u8] {
        &self.slot()[self.start as usize..self.start as usize + self.len as usize]
    }
    /// The frame bytes, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (s, l) = (self.start as usize, self.len as usize);
        &mut self.slot_mut()[s..s + l]
    }
    /// The whole slot, headroom and tailroom included.
    pub fn slot(&self) -> &[u8] {
        // Safety: the pool guarantees `ptr` points at BUF_SIZE bytes that only
        // this handle refers to.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), BUF_SIZE) }
    }
    /// The whole slot, writable.
    pub fn slot_mut(&mut self) -> &mut [u8] {
        // Safety: as in `slot`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), BUF_SIZE) }
    }
    /// Sets the frame window. Returns false (and changes nothing) when the
    /// window does not fit in the slot.
    pub fn set_window(&mut self, start: usize, len: usize) -> bool {
        if start.checked_add(len).is_none_or(|end| end > BUF_SIZE) {
            return false;
        }
        self.start = start as u16;
        self.len = len as u16;
        true
    }
    /// Sets the frame length, keeping the start. False when it does not fit.
    pub fn set_len(&mut self, len: usize) -> bool {
        self.set_window(self.start as usize, len)
    }
    /// Grows the window `n` bytes to the front (prepending a header).
    pub fn push_front(&mut self, n: usize) -> bool {
        n <= self.start as usize && self.set_window(self.start as usize - n, self.len as usize + n)
    }
    /// Shrinks the window by `n` bytes at the front (stripping a header).
    pub fn pull_front(&mut self, n: usize) -> bool {
        n <= self.len as usize && self.set_window(self.start as usize + n, self.len as usize - n)
    }
    /// Resets the window to empty at the standard headroom.
    pub fn reset(&mut self) {
        self.start = HEADROOM as u16;
        self.len = 0;
    }
}

/// Pool counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Successful allocations.
    pub allocs: u64,
    /// Allocation attempts that found the pool empty.
    pub exhausted: u64,
}

/// A fixed pool of packet buffers.
pub struct PacketPool {
    base: NonNull<u8>,
    phys: u64,
    count: u32,
    free: Vec<u32>,
    stats: PoolStats,
}

// Safety: the pool owns its region; handles are unique.
unsafe impl Send for PacketPool {}

impl PacketPool {
    /// Carves `region` into as many `BUF_SIZE` slots as fit (slots are
    /// `BUF_SIZE`-aligned in bus address space). Allocates the free list once.
    pub fn new(mut region: DmaRegion) -> PacketPool {
        // Align the start so every slot is BUF_SIZE-aligned and never straddles a page.
        let count = match region.take(0, BUF_SIZE) {
            Some(_) => (region.len / BUF_SIZE) as u32,
            None => 0,
        };
        let aligned = region;
        let mut free = Vec::with_capacity(count as usize);
        free.extend((0..count).rev());
        PacketPool {
            base: aligned.virt,
            phys: aligned.phys,
            count,
            free,
            stats: PoolStats::default(),
        }
    }

    /// Total number of slots.
    pub fn capacity(&self) -> usize {
        self.count as usize
    }
    /// Slots currently free.
    pub fn available(&self) -> usize {
        self.free.len()
    }
    /// Counters.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Takes a free buffer with an empty window at `HEADROOM`, or `None` (counted).
    pub fn alloc(&mut self) -> Option<PacketBuf> {
        match self.free.pop() {
            Some(index) => {
                self.stats.allocs += 1;
                let off = index as usize * BUF_SIZE;
                // Safety: index < count, so the slot lies inside the pool's region.
                let ptr = unsafe { NonNull::new_unchecked(self.base.as_ptr().add(off)) };
                Some(PacketBuf {
                    ptr,
                    phys: self.phys + off as u64,
                    index,
                    start: HEADROOM as u16,
                    len: 0,
                })
            }
            None => {
                self.stats.exhausted += 1;
                None
            }
        }
    }

    /// Returns a buffer to the pool.
    pub fn free(&mut self, buf: PacketBuf) {
        debug_assert!(buf.index < self.count);
        debug_assert!(self.free.len() < self.count as usize);
        // The free list was allocated with capacity `count`, so this never reallocates.
        if self.free.len() < self.count as usize {
            self.free.push(buf.index);
        }
    }

    /// Bus address → slot lookup for drivers whose device reports addresses.
    pub fn index_of_phys(&self, phys: u64) -> Option<u32> {
        let off = phys.checked_sub(self.phys)?;
        let idx = off / BUF_SIZE as u64;
        (idx < self.count as u64).then_some(idx as u32)
    }
}

/// Up to [`BURST`] buffers moving together through a poll-loop step.
pub struct Burst {
    bufs: [Option<PacketBuf>; BURST],
    len: usize,
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    /// An empty burst.
    pub const fn new() -> Burst {
        Burst {
            bufs: [const { None }; BURST],
            len: 0,
        }
    }
    /// Number of buffers held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when no more buffers fit.
    pub fn is_full(&self) -> bool {
        self.len == BURST
    }
    /// Appends a buffer; gives it back when the burst is full.
    pub fn push(&mut self, buf: PacketBuf) -> Result<(), PacketBuf> {
        if self.len == BURST {
            return Err(buf);
        }
        self.bufs[self.len] = Some(buf);
        self.len += 1;
        Ok(())
    }
    /// Removes the last buffer.
    pub fn pop(&mut self) -> Option<PacketBuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.bufs[self.len].take()
    }
    /// The buffer at `i`.
    pub fn get(&self, i: usize) -> Option<&PacketBuf> {
        self.bufs[..self.len].get(i).and_then(Option::as_ref)
    }
    /// The buffer at `i`, writable.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut PacketBuf> {
        self.bufs[..self.len].get_mut(i).and_then(Option::as_mut)
    }
    /// Removes the first `n` buffers in order, keeping the rest (in order) at the front.
    /// Used by drivers after sending a prefix of the burst.
    pub fn drain_front(&mut self, n: usize, mut f: impl FnMut(PacketBuf)) {
        let n = n.min(self.len);
        for slot in &mut self.bufs[..n] {
            if let Some(b) = slot.take() {
                f(b);
            }
        }
        self.bufs[..self.len].rotate_left(n);
        self.len -= n;
    }
    /// Iterates over the buffers.
    pub fn iter(&self) -> impl Iterator<Item = &PacketBuf> {
        self.bufs[..self.len].iter().filter_map(Option::as_ref)
    }
    /// Iterates over the buffers, writable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut PacketBuf> {
        self.bufs[..self.len].iter_mut().filter_map(Option::as_mut)
    }
    /// Returns every buffer to `pool`.
    pub fn free_all(&mut self, pool: &mut PacketPool) {
        while let Some(b) = self.pop() {
            pool.free(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(bytes: &mut Vec<u8>) -> DmaRegion {
        DmaRegion {
            virt: NonNull::new(bytes.as_mut_ptr()).unwrap(),
            phys: 0x10_0000,
            len: bytes.len(),
        }
    }

    #[test]
    fn pool_hands_out_every_slot_once_and_counts_exhaustion() {
        let mut mem = vec![0u8; BUF_SIZE * 8];
        let mut pool = PacketPool::new(region(&mut mem));
        assert_eq!(pool.capacity(), 8);
        let mut held = Vec::new();
        while let Some(b) = pool.alloc() {
            assert_eq!(b.start(), HEADROOM);
            assert_eq!(b.slot_phys() % BUF_SIZE as u64, 0);
            held.push(b);
        }
        assert_eq!(held.len(), 8);
        assert_eq!(pool.stats().exhausted, 1);
        let mut idx: Vec<u32> = held.iter().map(|b| b.index()).collect();
        idx.sort();
        idx.dedup();
        assert_eq!(idx.len(), 8);
        for b in held {
            pool.free(b);
        }
        assert_eq!(pool.available(), 8);
    }

    #[test]
    fn window_edits_stay_inside_the_slot() {
        let mut mem = vec![0u8; BUF_SIZE * 2];
        let mut pool = PacketPool::new(region(&mut mem));
        let mut b = pool.alloc().unwrap();
        assert!(b.set_len(100));
        b.data_mut().copy_from_slice(&[7u8; 100]);
        assert!(b.push_front(14));
        assert_eq!(b.len(), 114);
        assert_eq!(b.headroom(), HEADROOM - 14);
        assert!(b.pull_front(14));
        assert_eq!(b.data(), &[7u8; 100][..]);
        assert!(!b.push_front(HEADROOM + 1));
        assert!(!b.set_len(BUF_SIZE));
        assert_eq!(b.tailroom(), BUF_SIZE - HEADROOM - 100);
        pool.free(b);
    }

    #[test]
    fn burst_drain_front_keeps_the_rest_in_order() {
        let mut mem = vec![0u8; BUF_SIZE * 8];
        let mut pool = PacketPool::new(region(&mut mem));
        let mut burst = Burst::new();
        for _ in 0..5 {
            burst.push(pool.alloc().unwrap()).unwrap();
        }
        let order: Vec<u32> = burst.iter().map(|b| b.index()).collect();
        let mut sent = Vec::new();
        burst.drain_front(2, |b| sent.push(b));
        assert_eq!(
            sent.iter().map(|b| b.index()).collect::<Vec<_>>(),
            order[..2]
        );
        assert_eq!(
            burst.iter().map(|b| b.index()).collect::<Vec<_>>(),
            order[2..]
        );
        for b in sent {
            pool.free(b);
        }
        burst.free_all(&mut pool);
        assert_eq!(pool.available(), 8);
    }
}
