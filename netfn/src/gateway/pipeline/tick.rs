//! Once per poll-loop turn: the engine's timers (handshake retries,
//! keepalives, rekeys), resubmission of peer queues, ARP retries and
//! neighbour expiry, the host stacks; and teardown, which hands every held
//! buffer back to the pool.

use core::cell::RefCell;

use super::{push_tx, BufPool, Gateway, PacketBuffer, Port, TxLists, HEADROOM, TICK_INTERVAL_NS};
use crate::gateway::arp::arp_request;
use crate::gateway::counters::DropReason;
use crate::gateway::ether;
use crate::gateway::icmp::IcmpError;
use crate::wireguard::{Aead, PeerId, Rng, TickAction, Time};

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Services every timer; call once per poll-loop turn: it does its work
    /// at most every [`TICK_INTERVAL_NS`] (or at once when a host stack has
    /// something to do) and returns straight away otherwise. Frames it
    /// produces go to `out`.
    pub fn tick<P: BufPool<B>>(&mut self, now: Time, out: &mut TxLists<B>, pool: &mut P) {
        if now.mono_ns < self.next_tick_ns && !self.host_pending {
            return;
        }
        self.next_tick_ns = now.mono_ns.saturating_add(TICK_INTERVAL_NS);
        self.host_pending = false;
        // The engine returns one action per call; a bound keeps one turn
        // short even if many peers are due at once (the rest wait a turn).
        let mut budget = 2 * self.queues.len() + 8;
        while budget > 0 {
            budget -= 1;
            match self.engine.tick(now, &mut self.scratch) {
                None => break,
                Some(TickAction::Send { endpoint, len, .. }) => {
                    self.send_message(now, len, endpoint, None, out, pool)
                }
                Some(TickAction::FlushQueue { peer }) => self.drop_queue(peer, pool),
            }
        }
        for i in 0..self.queues.len() {
            let peer = PeerId(i as u32);
            if self.ready_to_flush(peer, now) {
                self.flush_peer(now, peer, out, pool);
            }
        }
        self.poll_neighbours(Port::Lan, now, out, pool);
        self.poll_neighbours(Port::Wan, now, out, pool);
        self.poll_hosts(now, out, pool);
    }

    /// ARP retries and expiry on `port`. Frames whose next hop never
    /// answered are freed and counted; on the LAN (decrypted packets) the
    /// sender also gets ICMP host unreachable through the tunnel, as a
    /// router answers a failed neighbour resolution (RFC 1812 section 4.3.3.1).
    fn poll_neighbours<P: BufPool<B>>(
        &mut self,
        port: Port,
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let Gateway {
            lan,
            wan,
            counters,
            unreachable,
            ..
        } = self;
        let st = match port {
            Port::Lan => lan,
            Port::Wan => wan,
        };
        let (mac, ip) = (st.mac, st.ip());
        // Both callbacks need the pool and the counters; they never run at
        // the same time, which the RefCell checks.
        let io = RefCell::new((out, pool, counters, unreachable));
        st.neigh.poll(
            now.mono_ns,
            |target| {
                let (out, pool, counters, _) = &mut *io.borrow_mut();
                let Some(ip) = ip else { return };
                let Some(mut b) = pool.alloc() else {
                    return counters.drop(DropReason::NoBuffer);
                };
                let n = b
                    .slot_mut()
                    .get_mut(HEADROOM..)
                    .and_then(|o| arp_request(o, mac, ip, target));
                match n {
                    Some(n) if b.set_window(HEADROOM, n) => push_tx(out, port, b, *pool, counters),
                    _ => pool.free(b),
                }
            },
            |item| {
                let (_, pool, counters, stash) = &mut *io.borrow_mut();
                counters.drop(DropReason::ArpFailed);
                if port == Port::Lan && stash.len() < stash.capacity() {
                    stash.push(item);
                } else {
                    pool.free(item);
                }
            },
        );
        let (out, pool, _, _) = io.into_inner();
        while let Some(item) = self.unreachable.pop() {
            let ip = item.data().get(ether::HEADER_LEN..).unwrap_or(&[]);
            self.icmp_to_tunnel(IcmpError::HostUnreachable, ip, now, out, pool);
            pool.free(item);
        }
    }

    /// Hands every buffer the gateway holds (peer queues, neighbour pending
    /// queues) back to `pool`, uncounted: for shutdown, or before the
    /// gateway is rebuilt from a new configuration.
    pub fn release_all<P: BufPool<B>>(&mut self, pool: &mut P) {
        for q in &mut self.queues {
            while let Some(b) = q.pop() {
                pool.free(b);
            }
        }
        for st in [&mut self.lan, &mut self.wan] {
            // Polling at the end of time retires every entry: incomplete
            // ones after their remaining requests, the rest as stale.
            for _ in 0..=u8::MAX {
                if st.neigh.is_empty() {
                    break;
                }
                st.neigh.poll(u64::MAX, |_| {}, |b| pool.free(b));
            }
        }
    }
}
