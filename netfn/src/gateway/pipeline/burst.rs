//! Whole bursts through the pipeline: [`Gateway::process_lan_burst`] and
//! [`Gateway::process_wan_burst`] take a received burst, classify and
//! forward each frame as the per-frame entry points do, but stage the
//! packets bound for the tunnel (LAN side) and the WireGuard datagrams (WAN
//! side) and hand them to the engine together (`encapsulate_burst`,
//! `decapsulate_burst`: one AEAD burst call for the lot), then finish each
//! in order (outer headers and emit; deliver onto the LAN).
//!
//! The stages are fixed vectors allocated with the gateway and empty
//! between calls; nothing here allocates. A stage is flushed when it is
//! full, at the end of the burst, and before any frame that the appliance
//! answers itself (ARP, its own addresses), so the frames out are the ones
//! per-frame processing sends, in the same order on each port.

use core::net::{SocketAddr, SocketAddrV4};

use super::{BufPool, Gateway, PacketBuffer, TxLists};
use crate::wireguard::aead::MAX_BURST;
use crate::wireguard::{Aead, DecapPacket, EncapPacket, Error, Rng, Time};

/// A WireGuard datagram waiting for the burst's engine call: the buffer,
/// its outer source, and where the message is in the slot.
pub(crate) type WanStaged<B> = (B, SocketAddrV4, usize, usize);

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Processes a burst received on the LAN port, in order. Every buffer
    /// ends up where [`Gateway::process_lan`] would put it.
    pub fn process_lan_burst<P: BufPool<B>, I: IntoIterator<Item = B>>(
        &mut self,
        now: Time,
        bufs: I,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        for b in bufs {
            self.lan_in(now, b, out, pool, true);
        }
        self.flush_lan_stage(now, out, pool);
    }

    /// Processes a burst received on the WAN port, in order. Every buffer
    /// ends up where [`Gateway::process_wan`] would put it.
    pub fn process_wan_burst<P: BufPool<B>, I: IntoIterator<Item = B>>(
        &mut self,
        now: Time,
        bufs: I,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        for b in bufs {
            self.wan_in(now, b, out, pool, true);
        }
        self.flush_wan_stage(now, out, pool);
    }

    /// Stages an inner packet (window on it) for the tunnel.
    pub(super) fn stage_lan<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        if self.lan_stage.len() >= MAX_BURST {
            self.flush_lan_stage(now, out, pool);
        }
        if self.lan_stage.len() < self.lan_stage.capacity() {
            self.lan_stage.push(buf);
        } else {
            // No stage (cannot happen: it is allocated with the gateway).
            self.send_into_tunnel(now, buf, out, pool);
        }
    }

    /// Stages a WireGuard datagram at `offset` of the frame, `len` bytes.
    #[allow(clippy::too_many_arguments)] // one datagram's whole context
    pub(super) fn stage_wan<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        from: SocketAddrV4,
        offset: usize,
        len: usize,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        if self.wan_stage.len() >= MAX_BURST {
            self.flush_wan_stage(now, out, pool);
        }
        let start = buf.start() + offset;
        if self.wan_stage.len() < self.wan_stage.capacity() {
            self.wan_stage.push((buf, from, start, len));
        } else {
            self.wireguard_in(now, buf, from, offset, len, out, pool);
        }
    }

    /// Seals everything staged for the tunnel with engine bursts and sends
    /// (or queues, or drops) each packet in order.
    pub(super) fn flush_lan_stage<P: BufPool<B>>(
        &mut self,
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        if self.lan_stage.is_empty() {
            return;
        }
        // Taken out (an empty `Vec` allocates nothing) so the finish can
        // use the whole gateway; put back with its capacity at the end.
        let mut stage = core::mem::take(&mut self.lan_stage);
        let mut results = [Err(Error::Malformed); MAX_BURST];
        while !stage.is_empty() {
            let m = stage.len().min(MAX_BURST);
            let n = {
                let mut bufs = stage.iter_mut();
                let mut pkts: [EncapPacket<'_>; MAX_BURST] =
                    core::array::from_fn(|_| match bufs.next() {
                        Some(b) => {
                            let (start, len) = (b.start(), b.len());
                            EncapPacket {
                                buf: b.slot_mut(),
                                start,
                                len,
                            }
                        }
                        None => EncapPacket {
                            buf: &mut [],
                            start: 0,
                            len: 0,
                        },
                    });
                self.engine.encapsulate_burst(
                    now,
                    &mut pkts[..m],
                    &mut results[..m],
                    &mut self.scratch,
                )
            };
            if n == 0 {
                break;
            }
            // In order: an initiation in `scratch` belongs to the last one.
            for (buf, r) in stage.drain(..n).zip(results) {
                let l = buf.len();
                self.tunnel_result(now, buf, l, r, out, pool);
            }
        }
        for buf in stage.drain(..) {
            self.send_into_tunnel(now, buf, out, pool);
        }
        self.lan_stage = stage;
    }

    /// Opens every staged datagram with engine bursts and acts on each in
    /// order.
    pub(super) fn flush_wan_stage<P: BufPool<B>>(
        &mut self,
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        if self.wan_stage.is_empty() {
            return;
        }
        let mut stage = core::mem::take(&mut self.wan_stage);
        let mut results = [Err(Error::Malformed); MAX_BURST];
        while !stage.is_empty() {
            let m = stage.len().min(MAX_BURST);
            let n = {
                let mut staged = stage.iter_mut();
                let mut pkts: [DecapPacket<'_>; MAX_BURST] =
                    core::array::from_fn(|_| match staged.next() {
                        Some((b, from, start, len)) => DecapPacket {
                            buf: b.slot_mut(),
                            start: *start,
                            len: *len,
                            src: SocketAddr::V4(*from),
                        },
                        None => DecapPacket {
                            buf: &mut [],
                            start: 0,
                            len: 0,
                            src: SocketAddr::V4(SocketAddrV4::new(0.into(), 0)),
                        },
                    });
                self.engine.decapsulate_burst(
                    now,
                    &mut pkts[..m],
                    &mut results[..m],
                    &mut self.scratch,
                )
            };
            if n == 0 {
                break;
            }
            // In order: a handshake answer in `scratch` belongs to the last one.
            for ((buf, ..), r) in stage.drain(..n).zip(results) {
                self.wireguard_result(now, buf, r, out, pool);
            }
        }
        for (buf, from, start, len) in stage.drain(..) {
            let offset = start.saturating_sub(buf.start());
            self.wireguard_in(now, buf, from, offset, len, out, pool);
        }
        self.wan_stage = stage;
    }
}
