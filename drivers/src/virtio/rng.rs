//! virtio-rng (spec 5.4): an entropy source for the kernel.
//!
//! One queue; the driver offers a small device-writable DMA buffer and polls
//! the used ring until the device fills it. A request that the device has not
//! answered within the poll budget stays outstanding and is collected by the
//! next call, so a slow host never blocks boot for long and no descriptor is
//! ever posted twice.

use super::queue::SplitQueue;
use super::{driver_ok, init_device, status, InitError, Transport};
use crate::hal::{DmaAlloc, DmaRegion};

/// The only queue of an entropy device (5.4.2).
pub const REQUEST_QUEUE: u16 = 0;
/// Bytes asked for per request.
pub const REQUEST_LEN: usize = 64;
/// Used-ring polls per `fill` before giving up for now. Each poll carries a
/// PAUSE, which QEMU's TCG turns into an exit to its CPU loop (about half a
/// microsecond on the build host), so this bounds a silent device to well
/// under a second there and to a few milliseconds under KVM.
pub const DEFAULT_POLLS: u32 = 1_000_000;
/// The ring size asked of a modern device: one request is ever outstanding.
const RING: u16 = 4;

/// Something that produces random bytes.
pub trait EntropySource {
    /// Fills the front of `out` with random bytes and returns how many.
    /// Zero means none are available right now.
    fn fill(&mut self, out: &mut [u8]) -> usize;
}

/// A virtio entropy device driven in poll mode.
pub struct VirtioRng<T: Transport> {
    t: T,
    q: SplitQueue,
    buf: DmaRegion,
    /// Descriptor id and length of the request the device still holds.
    pending: Option<(u16, usize)>,
    polls: u32,
    resets: u64,
}

impl<T: Transport> VirtioRng<T> {
    /// Brings the device up (3.1.1) with no device features: there are none (5.4.3).
    pub fn new(mut t: T, dma: &mut impl DmaAlloc) -> Result<VirtioRng<T>, InitError> {
        init_device(&mut t, 0, 0)?;
        let max = t.queue_max_size(REQUEST_QUEUE);
        if max == 0 {
            return Err(InitError::QueueUnavailable(REQUEST_QUEUE));
        }
        let size = if t.fixed_queue_size() {
            max
        } else {
            max.min(RING)
        };
        let q = SplitQueue::alloc(dma, size).ok_or(InitError::OutOfDmaMemory)?;
        let buf = dma
            .alloc_dma(REQUEST_LEN, 64)
            .ok_or(InitError::OutOfDmaMemory)?;
        let mut rng = VirtioRng {
            t,
            q,
            buf,
            pending: None,
            polls: DEFAULT_POLLS,
            resets: 0,
        };
        rng.start()?;
        Ok(rng)
    }

    /// Step 7 and 8 of 3.1.1 on the existing ring: set up the queue, DRIVER_OK.
    fn start(&mut self) -> Result<(), InitError> {
        let size = self.q.capacity();
        if self.t.queue_max_size(REQUEST_QUEUE) < size || !self.q.reset(size) {
            return Err(InitError::QueueSizeChanged(REQUEST_QUEUE));
        }
        let (d, a, u) = self.q.addresses();
        self.t.activate_queue(REQUEST_QUEUE, size, d, a, u)?;
        self.pending = None;
        driver_ok(&mut self.t);
        Ok(())
    }

    /// Re-initialises a device that reported DEVICE_NEEDS_RESET.
    fn recover(&mut self) -> Result<(), InitError> {
        self.resets += 1;
        init_device(&mut self.t, 0, 0)?;
        self.start()
    }

    /// Times the device was re-initialised after reporting a failure.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Changes how many used-ring polls one `fill` may spend.
    pub fn set_poll_limit(&mut self, polls: u32) {
        self.polls = polls;
    }

    /// Resets the device so it stops writing into the request buffer.
    pub fn shutdown(&mut self) {
        let _ = self.t.reset();
        self.pending = None;
    }
}

impl<T: Transport> EntropySource for VirtioRng<T> {
    fn fill(&mut self, out: &mut [u8]) -> usize {
        if out.is_empty() {
            return 0;
        }
        if self.t.status() & (status::DEVICE_NEEDS_RESET | status::FAILED) != 0
            && self.recover().is_err()
        {
            return 0;
        }
        if self.pending.is_none() {
            let want = out.len().min(REQUEST_LEN);
            let Some(id) = self.q.push(&[(self.buf.phys, want as u32)], true) else {
                return 0;
            };
            self.q.publish();
            if self.q.device_wants_notify() {
                self.t.notify(REQUEST_QUEUE);
            }
            self.pending = Some((id, want));
        }
        for _ in 0..self.polls {
            let Some(u) = self.q.pop_used() else {
                core::hint::spin_loop();
                continue;
            };
            let Some((id, want)) = self.pending else {
                return 0;
            };
            if u.id != id as u32 {
                // Not our request: a confused device. Keep waiting for ours.
                continue;
            }
            self.q.release(id);
            self.pending = None;
            let n = (u.len as usize).min(want).min(out.len());
            // Safety: the device has returned the buffer (used ring), so
            // nothing writes it now; `n` <= REQUEST_LEN = its length.
            let got = unsafe { core::slice::from_raw_parts(self.buf.virt.as_ptr(), n) };
            out[..n].copy_from_slice(got);
            return n;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{modern_rng, Guest};
    use super::*;

    #[test]
    fn fill_returns_the_bytes_the_device_wrote() {
        let mut g = Guest::new(0x10_0000);
        let (dev, t) = modern_rng(&g);
        let mut rng = VirtioRng::new(t, &mut g.dma).unwrap();
        let mut out = [0u8; 100];
        let n = rng.fill(&mut out);
        assert_eq!(n, REQUEST_LEN);
        let expect: Vec<u8> = (0..REQUEST_LEN as u8).map(|i| i ^ 0xa5).collect();
        assert_eq!(&out[..n], &expect[..]);
        assert_eq!(rng.fill(&mut out[..5]), 5);
        assert_eq!(dev.borrow().notifies[0], 2);
    }

    #[test]
    fn a_silent_device_times_out_and_the_request_is_collected_later() {
        let mut g = Guest::new(0x10_0000);
        let (dev, t) = modern_rng(&g);
        let mut rng = VirtioRng::new(t, &mut g.dma).unwrap();
        rng.set_poll_limit(1000);
        dev.borrow_mut().rng_silent = true;
        let mut out = [0u8; 16];
        assert_eq!(rng.fill(&mut out), 0);
        assert_eq!(rng.fill(&mut out), 0);
        // Only one request was ever posted.
        assert_eq!(dev.borrow().notifies[0], 1);
        dev.borrow_mut().serve_rng();
        assert_eq!(rng.fill(&mut out), 16);
        assert_eq!(out[1], 1 ^ 0xa5);
    }

    #[test]
    fn a_device_needing_reset_is_reinitialised_on_the_next_fill() {
        let mut g = Guest::new(0x10_0000);
        let (dev, t) = modern_rng(&g);
        let mut rng = VirtioRng::new(t, &mut g.dma).unwrap();
        rng.set_poll_limit(1000);
        dev.borrow_mut().rng_silent = true;
        let mut out = [0u8; 8];
        assert_eq!(rng.fill(&mut out), 0);
        // The device gives up on the outstanding request and asks for a reset.
        dev.borrow_mut().status |= status::DEVICE_NEEDS_RESET;
        dev.borrow_mut().rng_silent = false;
        assert_eq!(rng.fill(&mut out), 8);
        assert_eq!(rng.resets(), 1);
        assert_eq!(out[7], 7 ^ 0xa5);
        assert_eq!(dev.borrow().status & status::DEVICE_NEEDS_RESET, 0);
    }
}
