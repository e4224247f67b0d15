//! The kernel heap: `linked_list_allocator` behind a spin lock.
//!
//! The heap is carved from physical RAM at boot (`memory.rs`) and serves
//! control-plane allocations (smoltcp's tables, `ring`'s needs, the config).
//! The data path never allocates: packet buffers live in the DMA region.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};

use linked_list_allocator::Heap;
use spin::Mutex;

/// The global allocator type.
pub struct KernelHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap::empty()));

// Safety: all access goes through the mutex, and `Heap` returns blocks that
// satisfy the requested layout or null.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // Safety: `ptr` came from `alloc` with this layout (GlobalAlloc contract).
            unsafe { self.0.lock().deallocate(p, layout) };
        }
    }
}

/// Hands `[start, start + size)` to the heap (once, at boot).
///
/// # Safety
/// The range must be unused RAM, identity mapped and writable, and never be
/// handed out by anything else.
pub unsafe fn init(start: *mut u8, size: usize) {
    // Safety: forwarded to the caller.
    unsafe { HEAP.0.lock().init(start, size) };
}

/// (used, total) bytes.
pub fn usage() -> (usize, usize) {
    let h = HEAP.0.lock();
    (h.used(), h.size())
}
