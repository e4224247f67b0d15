//! Into the tunnel: encapsulation in place, the per-peer queues that hold
//! packets while a handshake runs, and the outer headers towards the peer's
//! endpoint through the WAN next hop.
//!
//! A packet with no session yet waits in its peer's queue (64 deep; when
//! full the oldest is dropped, as Linux's staged-packet queue does, because
//! the newest packets are the ones a retrying application still cares
//! about). The queue is resubmitted when the engine reports a new session
//! (`HandshakeComplete`, or `new_session` on received data) and from `tick`
//! whenever a peer with queued packets has a session, and freed on the
//! engine's `FlushQueue` (handshake given up).

use core::net::{SocketAddr, SocketAddrV4};

use super::{BufPool, Gateway, PacketBuffer, Port, TxLists, HEADROOM};
use crate::gateway::counters::{Direction, DropReason};
use crate::gateway::outer::{write_outer, OuterPath};
use crate::wireguard::{self, Aead, Encap, PeerId, Rng, Time};

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Sends the IPv4 packet in `buf`'s window into the tunnel: sealed in
    /// place and sent, or queued for its peer while a handshake runs.
    pub(crate) fn send_into_tunnel<P: BufPool<B>>(
        &mut self,
        now: Time,
        mut buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let (s, l) = (buf.start(), buf.len());
        let r = self
            .engine
            .encapsulate(now, buf.slot_mut(), s, l, &mut self.scratch);
        self.tunnel_result(now, buf, l, r, out, pool)
    }

    /// Acts on what the engine said about the `l`-byte inner packet in
    /// `buf`: send the sealed datagram, or queue the packet for its peer
    /// (and send the initiation in `scratch`), or drop it.
    pub(super) fn tunnel_result<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        l: usize,
        r: Result<Encap, wireguard::Error>,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        match r {
            Ok(Encap::Sealed {
                start,
                len,
                endpoint,
                ..
            }) => {
                self.counters.delivered(Direction::LanToTunnel, l);
                self.send_datagram(now, buf, start, len, endpoint, out, pool);
            }
            Ok(Encap::NoSession { peer, initiation }) => {
                match self.queues.get_mut(peer.0 as usize) {
                    Some(q) => {
                        if let Some(old) = q.push_evicting(buf) {
                            self.drop_buf(old, DropReason::HandshakeQueueFull, pool);
                        }
                    }
                    None => self.drop_buf(buf, DropReason::NoSession, pool),
                }
                if let Some((len, endpoint)) = initiation {
                    self.send_message(now, len, endpoint, None, out, pool);
                }
            }
            Err(e) => self.drop_buf(buf, super::engine_drop_reason(e), pool),
        }
    }

    /// Resubmits everything queued for `peer` (called once it has a session).
    pub(crate) fn flush_peer<P: BufPool<B>>(
        &mut self,
        now: Time,
        peer: PeerId,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        // Bounded by the length now: a packet that meets no session again
        // goes back into the queue and waits for the next chance.
        let n = self.queued(peer);
        for _ in 0..n {
            let Some(buf) = self.queues.get_mut(peer.0 as usize).and_then(|q| q.pop()) else {
                break;
            };
            self.send_into_tunnel(now, buf, out, pool);
        }
    }

    /// Frees everything queued for `peer` (its handshake was given up).
    pub(crate) fn drop_queue<P: BufPool<B>>(&mut self, peer: PeerId, pool: &mut P) {
        while let Some(buf) = self.queues.get_mut(peer.0 as usize).and_then(|q| q.pop()) {
            self.drop_buf(buf, DropReason::NoSession, pool);
        }
    }

    /// Sends the engine's message in `scratch[..len]` to `endpoint`, in
    /// `reuse` (a received buffer that is no longer needed) or a fresh one.
    pub(crate) fn send_message<P: BufPool<B>>(
        &mut self,
        now: Time,
        len: usize,
        endpoint: SocketAddr,
        reuse: Option<B>,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let Some(mut buf) = reuse.or_else(|| pool.alloc()) else {
            return self.counters.drop(DropReason::NoBuffer);
        };
        let Some(msg) = self.scratch.get(..len) else {
            return self.drop_buf(buf, DropReason::NoBuffer, pool);
        };
        match buf.slot_mut().get_mut(HEADROOM..HEADROOM + len) {
            Some(d) => d.copy_from_slice(msg),
            None => return self.drop_buf(buf, DropReason::NoBuffer, pool),
        }
        self.send_datagram(now, buf, HEADROOM, len, endpoint, out, pool);
    }

    /// Writes outer Ethernet/IPv4/UDP headers in front of the WireGuard
    /// message at `buf.slot()[start..start + len]` and sends it towards
    /// `endpoint` (directly when on-link, else through the WAN gateway).
    #[allow(clippy::too_many_arguments)] // one datagram's whole context
    pub(crate) fn send_datagram<P: BufPool<B>>(
        &mut self,
        now: Time,
        mut buf: B,
        start: usize,
        len: usize,
        endpoint: SocketAddr,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let SocketAddr::V4(dst) = endpoint else {
            // The WAN port is IPv4-only; the config refuses IPv6 endpoints
            // but a roaming peer could still arrive from one in the future.
            return self.drop_buf(buf, DropReason::NoEndpoint, pool);
        };
        let (Some(wan_ip), Some(hop)) = (self.wan.ip(), self.wan.next_hop(*dst.ip())) else {
            return self.drop_buf(buf, DropReason::NoRoute, pool);
        };
        let path = OuterPath {
            src_mac: self.wan.mac,
            dst_mac: [0; 6], // filled by the neighbour table
            src: SocketAddrV4::new(wan_ip, self.listen_port),
            dst,
        };
        let id = self.ip_id.next_id();
        match write_outer(buf.slot_mut(), start, len, &path, id) {
            Ok((s, l)) if buf.set_window(s, l) => self.emit(Port::Wan, hop, buf, now, out, pool),
            _ => self.drop_buf(buf, DropReason::NoBuffer, pool),
        }
    }
}
