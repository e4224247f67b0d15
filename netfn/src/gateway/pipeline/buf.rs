//! What the pipeline needs from a packet buffer, a buffer pool and the
//! transmit side, as traits and one small type, so `netfn` never depends on
//! `drivers`.
//!
//! The pipeline moves buffers by value: a buffer either ends up in a
//! [`TxLists`] list, waits in a queue owned by the gateway, or goes back to
//! the pool, so ownership alone proves that no buffer is lost or sent twice.
//!
//! The kernel adapts `drivers::buf` (a 2 KiB DMA slot with a `start`/`len`
//! window). Neither the traits nor `PacketBuf`/`PacketPool` are the
//! kernel's own, so Rust's orphan rule asks for local newtypes, which cost
//! nothing (a move in, a move out):
//! ```text
//! struct Buf(PacketBuf);
//! impl PacketBuffer for Buf {
//!     fn start(&self) -> usize { self.0.start() }
//!     fn len(&self) -> usize { self.0.len() }
//!     fn slot(&self) -> &[u8] { self.0.slot() }
//!     fn slot_mut(&mut self) -> &mut [u8] { self.0.slot_mut() }
//!     fn set_window(&mut self, s: usize, l: usize) -> bool { self.0.set_window(s, l) }
//! }
//! struct Pool<'a>(&'a mut PacketPool);
//! impl BufPool<Buf> for Pool<'_> {
//!     fn alloc(&mut self) -> Option<Buf> { self.0.alloc().map(Buf) }
//!     fn free(&mut self, b: Buf) { self.0.free(b.0) }
//! }
//! ```

use alloc::vec::Vec;

/// Headroom the pipeline leaves in front of frames it builds in fresh
/// buffers (ARP, ICMP errors, handshake messages): the drivers' layout.
pub const HEADROOM: usize = 128;

/// A packet buffer: a fixed slot with a window (`start`, `len`) on the frame.
pub trait PacketBuffer {
    /// Offset of the frame's first byte in the slot.
    fn start(&self) -> usize;
    /// Length of the frame.
    fn len(&self) -> usize;
    /// The whole slot, headroom and tailroom included.
    fn slot(&self) -> &[u8];
    /// The whole slot, writable.
    fn slot_mut(&mut self) -> &mut [u8];
    /// Moves the window; false (and unchanged) when it would leave the slot.
    fn set_window(&mut self, start: usize, len: usize) -> bool;

    /// True when the window is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame: the bytes inside the window (empty if the window is bad).
    fn data(&self) -> &[u8] {
        let s = self.start();
        self.slot()
            .get(s..s.saturating_add(self.len()))
            .unwrap_or(&[])
    }
}

/// A pool of packet buffers.
pub trait BufPool<B> {
    /// A free buffer, or `None` when the pool is exhausted.
    fn alloc(&mut self) -> Option<B>;
    /// Returns a buffer to the pool.
    fn free(&mut self, buf: B);
}

/// One of the appliance's two ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The LAN port.
    Lan,
    /// The WAN port.
    Wan,
}

/// The frames to transmit on each port, filled by the pipeline and drained
/// by the poll loop with one `tx_burst` per port.
///
/// Both lists are allocated once with a fixed capacity and never grow: a
/// push onto a full list hands the buffer back, and the pipeline frees it
/// and counts `ring-full`.
#[derive(Debug)]
pub struct TxLists<B> {
    lan: Vec<B>,
    wan: Vec<B>,
}

impl<B> TxLists<B> {
    /// Lists holding up to `capacity` frames each (e.g. a few bursts).
    pub fn with_capacity(capacity: usize) -> TxLists<B> {
        TxLists {
            lan: Vec::with_capacity(capacity),
            wan: Vec::with_capacity(capacity),
        }
    }

    fn list(&mut self, port: Port) -> &mut Vec<B> {
        match port {
            Port::Lan => &mut self.lan,
            Port::Wan => &mut self.wan,
        }
    }

    /// Queues `buf` for `port`; gives it back when the list is full.
    pub fn push(&mut self, port: Port, buf: B) -> Result<(), B> {
        let l = self.list(port);
        if l.len() == l.capacity() {
            return Err(buf);
        }
        l.push(buf);
        Ok(())
    }

    /// Number of frames waiting for `port`.
    pub fn len(&self, port: Port) -> usize {
        match port {
            Port::Lan => self.lan.len(),
            Port::Wan => self.wan.len(),
        }
    }

    /// True when nothing waits on either port.
    pub fn is_empty(&self) -> bool {
        self.lan.is_empty() && self.wan.is_empty()
    }

    /// Takes the frames for `port` in order (the capacity stays allocated).
    pub fn drain(&mut self, port: Port) -> alloc::vec::Drain<'_, B> {
        self.list(port).drain(..)
    }
}
