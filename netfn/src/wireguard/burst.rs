//! Whole bursts through the engine: [`Engine::encapsulate_burst`] and
//! [`Engine::decapsulate_burst`] seal or open up to [`MAX_BURST`] packets
//! with one [`Aead::seal_burst`]/[`Aead::open_burst`] call.
//!
//! Each call runs in three phases. *Prepare* walks the packets in order and
//! does everything that needs the engine mutably but no cryptography: parse,
//! route (with a last-destination cache), peer and session checks, reserve
//! the send counter and write header and padding (encap), or find the
//! keypair by receiver index and pre-check the replay window (decap).
//! *Crypt* hands every prepared packet to the AEAD at once; the jobs borrow
//! the keypairs' prepared keys immutably and the packets' buffers mutably,
//! so the engine cannot change underneath them. *Finish* walks the packets
//! in order again: decap re-checks the replay window and marks it (two
//! copies of one counter in a burst: exactly one is accepted), then the
//! same tail as the single-packet path (session confirmation, roaming,
//! timers, allowed IPs); encap updates timers and byte counters once per
//! run of packets to the same peer.
//!
//! A burst the AEAD would not seal or open side by side anyway
//! ([`Aead::burst_pays`]: say, 32 full-size packets, none of which fits the
//! SIMD lanes) goes through the single-packet path packet by packet instead:
//! the three passes only add work then, and 32 packets of 1420 bytes
//! outgrow the L1 cache between them.
//!
//! Results are exactly what `encapsulate`/`decapsulate` would return for
//! the same packets one by one. Whatever writes into `out` (an initiation
//! for a packet with no session; any handshake or cookie message on the
//! receive side) ends the call: the packets before it are finished, that one
//! goes through the single-packet path, and the call returns how many
//! packets it consumed, so the caller reads `out` and calls again with the
//! rest. Nothing here allocates: the per-packet state lives in fixed arrays
//! on the stack.

use super::aead::{Aead, BurstJob, MAX_BURST, TAG_LEN};
use super::allowed_ips::IpKey;
use super::device::{Decap, Encap, Engine};
use super::messages::{classify, MessageKind, Transport, TRANSPORT_HEADER_LEN};
use super::peer::Slot;
use super::receive::Accepted;
use super::send::{inner_destination, padded_len};
use super::{Error, PeerId, Rng, Time};
use core::net::SocketAddr;

/// One inner packet of an encapsulate burst: `buf[start..start + len]`,
/// with room for the header before it and padding and tag after it.
#[derive(Debug)]
pub struct EncapPacket<'a> {
    /// The buffer the packet is in (the whole slot).
    pub buf: &'a mut [u8],
    /// Where the inner packet starts.
    pub start: usize,
    /// Its length.
    pub len: usize,
}

/// One datagram of a decapsulate burst: `buf[start..start + len]` from `src`.
#[derive(Debug)]
pub struct DecapPacket<'a> {
    /// The buffer the datagram is in (the whole slot).
    pub buf: &'a mut [u8],
    /// Where the WireGuard message starts.
    pub start: usize,
    /// Its length.
    pub len: usize,
    /// The outer source address and port.
    pub src: SocketAddr,
}

/// A sealed packet waiting for the AEAD: where its payload is and for whom.
#[derive(Clone, Copy)]
struct SealPrep {
    peer: PeerId,
    counter: u64,
    start: usize,
    padded: usize,
}

/// A transport message waiting for the AEAD.
#[derive(Clone, Copy)]
struct OpenPrep {
    peer: PeerId,
    idx: u32,
    slot: Slot,
    counter: u64,
    /// Plaintext length (message minus header and tag).
    n: usize,
}

/// The last allowed-IPs answer of a burst: consecutive packets mostly share
/// a destination (or source), and the table does not change within a call.
type RouteCache = Option<(IpKey, Option<PeerId>)>;

/// [`Aead::burst_pays`] for up to [`MAX_BURST`] packets whose AEAD
/// payload lengths `payload` reads off their descriptors.
#[inline(always)]
fn burst_pays<A: Aead, P>(pkts: &[P], payload: impl Fn(&P) -> usize) -> bool {
    let mut lens = [0usize; MAX_BURST];
    let n = pkts.len().min(MAX_BURST);
    for (l, p) in lens.iter_mut().zip(pkts) {
        *l = payload(p);
    }
    A::burst_pays(&lens[..n])
}

impl<R: Rng, A: Aead> Engine<R, A> {
    /// Seals up to [`MAX_BURST`] inner packets, in order, with one AEAD
    /// burst. `results[i]` becomes what `encapsulate` would have returned
    /// for `pkts[i]`; returns how many packets were consumed (less than
    /// `pkts.len()` when an initiation was written into `out`: it belongs
    /// to the last consumed packet; call again with the rest).
    pub fn encapsulate_burst(
        &mut self,
        now: Time,
        pkts: &mut [EncapPacket<'_>],
        results: &mut [Result<Encap, Error>],
        out: &mut [u8],
    ) -> usize {
        let max = pkts.len().min(results.len()).min(MAX_BURST);
        let mtu = self.mtu;
        if !burst_pays::<A, _>(&pkts[..max], |p| padded_len(p.len, mtu)) {
            return self.each(&mut pkts[..max], results, |e, p, r| {
                e.encapsulate_into(now, p, out, r);
                matches!(r, Ok(Encap::NoSession { .. }))
            });
        }
        let t = now.mono_ns;
        let mut prep: [Option<SealPrep>; MAX_BURST] = [None; MAX_BURST];
        let mut cache: RouteCache = None;
        let mut n = 0;
        let mut single = false;
        while n < max {
            let p = &mut pkts[n];
            match self.seal_prepare(t, p, &mut cache) {
                Ok(Some(sp)) => prep[n] = Some(sp),
                Ok(None) => single = true,
                Err(e) => results[n] = Err(e),
            }
            n += 1;
            if single {
                break;
            }
        }
        let sealed = self.seal_prepared(&mut pkts[..n], &prep[..n]);
        // Finish, once per run of packets to one peer: timers and counters
        // (idempotent at one instant, so this is what one-by-one leaves),
        // and the run's first result, which later ones copy and patch
        // (building each from the endpoint staged in a local costs a
        // store-forwarding stall per packet).
        let mut run: Option<(PeerId, u64, usize)> = None;
        for (i, sp) in prep[..n].iter().enumerate() {
            let Some(sp) = sp else { continue };
            if sealed & (1 << i) == 0 {
                results[i] = Err(Error::NoRoom);
                continue;
            }
            let total = TRANSPORT_HEADER_LEN + sp.padded + TAG_LEN;
            let at = sp.start - TRANSPORT_HEADER_LEN;
            match &mut run {
                Some((id, bytes, first)) if *id == sp.peer => {
                    *bytes += total as u64;
                    results[i] = results[*first];
                    if let Ok(Encap::Sealed { start, len, .. }) = &mut results[i] {
                        *start = at;
                        *len = total;
                    }
                }
                _ => {
                    if let Some((id, bytes, _)) = run.take() {
                        self.sealed_run(t, id, bytes);
                    }
                    run = Some((sp.peer, total as u64, i));
                    let endpoint = self.peer(sp.peer).and_then(|p| p.endpoint);
                    results[i] = match endpoint {
                        Some(endpoint) => Ok(Encap::Sealed {
                            peer: sp.peer,
                            start: at,
                            len: total,
                            endpoint,
                        }),
                        None => Err(Error::NoEndpoint),
                    };
                }
            }
        }
        if let Some((id, bytes, _)) = run {
            self.sealed_run(t, id, bytes);
        }
        if single {
            // No session: the single-packet path, after the packets before
            // it (an initiation it writes may depend on their timers).
            let p = &mut pkts[n - 1];
            results[n - 1] = self.encapsulate(now, p.buf, p.start, p.len, out);
        }
        n
    }

    /// Opens up to [`MAX_BURST`] datagrams, in order, with one AEAD burst.
    /// `results[i]` becomes what `decapsulate` would have returned for
    /// `pkts[i]`; returns how many were consumed (less than `pkts.len()`
    /// when a handshake message went through the single-packet path and may
    /// have written into `out`: it is the last consumed; call again with
    /// the rest).
    pub fn decapsulate_burst(
        &mut self,
        now: Time,
        pkts: &mut [DecapPacket<'_>],
        results: &mut [Result<Decap, Error>],
        out: &mut [u8],
    ) -> usize {
        let max = pkts.len().min(results.len()).min(MAX_BURST);
        if !burst_pays::<A, _>(&pkts[..max], |p| {
            p.len.saturating_sub(TRANSPORT_HEADER_LEN + TAG_LEN)
        }) {
            return self.each(&mut pkts[..max], results, |e, p, r| {
                e.decapsulate_into(now, p, out, r)
            });
        }
        let t = now.mono_ns;
        let mut prep: [Option<OpenPrep>; MAX_BURST] = [None; MAX_BURST];
        let mut n = 0;
        let mut single = false;
        let mut last: Option<(u32, PeerId, Slot)> = None;
        while n < max {
            let p = &pkts[n];
            match self.open_prepare(t, p, &mut last) {
                Ok(Some(op)) => prep[n] = Some(op),
                Ok(None) => single = true,
                Err(e) => results[n] = Err(e),
            }
            n += 1;
            if single {
                break;
            }
        }
        let opened = self.open_prepared(&mut pkts[..n], &prep[..n]);
        let mut cache: RouteCache = None;
        for (i, op) in prep[..n].iter().enumerate() {
            let Some(op) = op else { continue };
            let p = &pkts[i];
            let ok = opened & (1 << i) != 0;
            self.open_finish(now, p, op, ok, &mut cache, &mut results[i]);
        }
        if single {
            let p = &mut pkts[n - 1];
            results[n - 1] = self.decapsulate(now, p.src, p.buf, p.start, p.len, out);
        }
        n
    }

    /// A burst one packet at a time, for bursts the AEAD would not seal or
    /// open side by side: `step` handles a packet into its result slot and
    /// says whether to stop after it (it may have written into `out`: an
    /// initiation for a packet with no session, any handshake or cookie
    /// message). Returns how many packets were consumed.
    #[inline(always)]
    fn each<P, T>(
        &mut self,
        pkts: &mut [P],
        results: &mut [T],
        mut step: impl FnMut(&mut Self, &mut P, &mut T) -> bool,
    ) -> usize {
        for (i, (p, r)) in pkts.iter_mut().zip(results.iter_mut()).enumerate() {
            if step(self, p, r) {
                return i + 1;
            }
        }
        pkts.len().min(results.len())
    }

    /// Prepare for one packet to seal: the same checks, in the same order,
    /// as `encapsulate`. `Ok(None)`: the peer has no session (the caller
    /// sends it down the single-packet path).
    #[inline]
    fn seal_prepare(
        &mut self,
        t: u64,
        p: &mut EncapPacket<'_>,
        cache: &mut RouteCache,
    ) -> Result<Option<SealPrep>, Error> {
        let (start, len) = (p.start, p.len);
        let end = start.checked_add(len).ok_or(Error::Malformed)?;
        let inner = p.buf.get(start..end).ok_or(Error::Malformed)?;
        let dst = inner_destination(inner).ok_or(Error::BadInnerPacket)?;
        let id = match *cache {
            Some((k, owner)) if k == dst => owner,
            _ => {
                let owner = self.allowed.lookup_key(dst);
                *cache = Some((dst, owner));
                owner
            }
        }
        .ok_or(Error::NoPeerForDestination)?;
        let mtu = self.mtu;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::NoSuchPeer)?;
        let has_endpoint = peer.endpoint.is_some();
        let Some(kp) = peer.current.as_deref_mut().filter(|k| k.can_send(t)) else {
            return Ok(None);
        };
        if !has_endpoint {
            return Err(Error::NoEndpoint);
        }
        let padded = padded_len(len, mtu);
        if start < TRANSPORT_HEADER_LEN || start + padded + TAG_LEN > p.buf.len() {
            return Err(Error::NoRoom);
        }
        if padded > len {
            p.buf[end..start + padded].fill(0);
        }
        let counter = kp.reserve(&mut p.buf[start - TRANSPORT_HEADER_LEN..start])?;
        Ok(Some(SealPrep {
            peer: id,
            counter,
            start,
            padded,
        }))
    }

    /// Seals every prepared packet with one AEAD burst and writes the tags;
    /// returns a bit per packet index that was sealed.
    fn seal_prepared(&self, pkts: &mut [EncapPacket<'_>], prep: &[Option<SealPrep>]) -> u32 {
        let key_of = |sp: &SealPrep| {
            self.peer(sp.peer)
                .and_then(|p| p.current.as_deref())
                .map(|k| k.send_prepared())
        };
        let Some(filler) = prep.iter().flatten().find_map(key_of) else {
            return 0;
        };
        let mut tails: [&mut [u8]; MAX_BURST] = Default::default();
        let mut index = [0u8; MAX_BURST];
        let mut m = 0;
        let mut todo = pkts.iter_mut().zip(prep).enumerate();
        let mut jobs: [BurstJob<'_, A::Key>; MAX_BURST] = core::array::from_fn(|_| {
            for (i, (p, sp)) in todo.by_ref() {
                let Some(sp) = sp else { continue };
                let (Some(key), Some(region)) = (
                    key_of(sp),
                    p.buf.get_mut(sp.start..sp.start + sp.padded + TAG_LEN),
                ) else {
                    continue;
                };
                let (payload, tag) = region.split_at_mut(sp.padded);
                tails[m] = tag;
                index[m] = i as u8;
                m += 1;
                return BurstJob {
                    key,
                    counter: sp.counter,
                    aad: &[],
                    buf: payload,
                    tag: [0; TAG_LEN],
                };
            }
            BurstJob {
                key: filler,
                counter: 0,
                aad: &[],
                buf: &mut [],
                tag: [0; TAG_LEN],
            }
        });
        if A::seal_burst(&mut jobs[..m]).is_err() {
            return 0;
        }
        let mut sealed = 0u32;
        for ((job, tail), &i) in jobs[..m].iter().zip(tails.iter_mut()).zip(&index[..m]) {
            tail.copy_from_slice(&job.tag);
            sealed |= 1 << i;
        }
        sealed
    }

    /// Timers and counters after a run of `bytes` sealed for `id`, as
    /// `encapsulate` does per packet.
    fn sealed_run(&mut self, t: u64, id: PeerId, bytes: u64) {
        let rekey_msgs = self.rekey_after_messages;
        let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) else {
            return;
        };
        if let Some(kp) = peer.current.as_deref() {
            if kp.initiator && (kp.age(t) >= super::REKEY_AFTER_TIME || kp.sent() >= rekey_msgs) {
                peer.timers.handshake_wanted = true;
            }
        }
        peer.tx_bytes += bytes;
        let pk = peer.persistent_keepalive;
        peer.timers.auth_sent(t, pk);
        let rng = &mut self.rng;
        peer.timers.data_sent(t, || Self::jitter(rng));
    }

    /// Prepare for one datagram: the checks `decapsulate` makes before it
    /// opens a transport message. `Ok(None)`: not a transport message (the
    /// caller sends it down the single-packet path). `last` caches the last
    /// receiver index's peer and slot (keypairs do not move before finish).
    #[inline]
    fn open_prepare(
        &self,
        t: u64,
        p: &DecapPacket<'_>,
        last: &mut Option<(u32, PeerId, Slot)>,
    ) -> Result<Option<OpenPrep>, Error> {
        let end = p.start.checked_add(p.len).ok_or(Error::Malformed)?;
        let msg = p.buf.get(p.start..end).ok_or(Error::Malformed)?;
        if classify(msg)? != MessageKind::Transport {
            return Ok(None);
        }
        let (idx, counter) = {
            let h = Transport::new_checked(msg)?;
            (h.receiver(), h.counter())
        };
        let (id, slot) = match *last {
            Some((i, id, slot)) if i == idx => (id, slot),
            _ => {
                let id = *self.by_index.get(&idx).ok_or(Error::UnknownReceiver)?;
                let peer = self.peer(id).ok_or(Error::UnknownReceiver)?;
                let slot = peer.slot_of(idx).ok_or(Error::UnknownReceiver)?;
                *last = Some((idx, id, slot));
                (id, slot)
            }
        };
        let kp = self
            .peer(id)
            .and_then(|p| p.keypair(slot))
            .ok_or(Error::UnknownReceiver)?;
        if !kp.can_receive(t) {
            return Err(Error::SessionExpired);
        }
        kp.replay_check(counter)?;
        let n = msg
            .len()
            .checked_sub(TRANSPORT_HEADER_LEN + TAG_LEN)
            .ok_or(Error::Malformed)?;
        Ok(Some(OpenPrep {
            peer: id,
            idx,
            slot,
            counter,
            n,
        }))
    }

    /// Opens every prepared message with one AEAD burst; returns a bit per
    /// packet index whose tag verified.
    fn open_prepared(&self, pkts: &mut [DecapPacket<'_>], prep: &[Option<OpenPrep>]) -> u32 {
        let key_of = |op: &OpenPrep| {
            self.peer(op.peer)
                .and_then(|p| p.keypair(op.slot))
                .map(|k| k.recv_prepared())
        };
        let Some(filler) = prep.iter().flatten().find_map(key_of) else {
            return 0;
        };
        let mut index = [0u8; MAX_BURST];
        let mut m = 0;
        let mut todo = pkts.iter_mut().zip(prep).enumerate();
        let mut jobs: [BurstJob<'_, A::Key>; MAX_BURST] = core::array::from_fn(|_| {
            for (i, (p, op)) in todo.by_ref() {
                let Some(op) = op else { continue };
                let s = p.start + TRANSPORT_HEADER_LEN;
                let (Some(key), Some(region)) = (key_of(op), p.buf.get_mut(s..s + op.n + TAG_LEN))
                else {
                    continue;
                };
                let (ct, t) = region.split_at_mut(op.n);
                let mut tag = [0; TAG_LEN];
                tag.copy_from_slice(t);
                index[m] = i as u8;
                m += 1;
                return BurstJob {
                    key,
                    counter: op.counter,
                    aad: &[],
                    buf: ct,
                    tag,
                };
            }
            BurstJob {
                key: filler,
                counter: 0,
                aad: &[],
                buf: &mut [],
                tag: [0; TAG_LEN],
            }
        });
        let Ok(ok) = A::open_burst(&mut jobs[..m]) else {
            return 0;
        };
        let mut opened = 0u32;
        for (j, &i) in index[..m].iter().enumerate() {
            if ok & (1 << j) != 0 {
                opened |= 1 << i;
            }
        }
        opened
    }

    /// Finish for one opened (or refused) transport message, in order:
    /// the replay window again (an earlier copy in this burst may have
    /// taken the counter), the tag verdict, then the single path's tail,
    /// which writes the answer into `r`.
    #[inline]
    fn open_finish(
        &mut self,
        now: Time,
        p: &DecapPacket<'_>,
        op: &OpenPrep,
        tag_ok: bool,
        cache: &mut RouteCache,
        r: &mut Result<Decap, Error>,
    ) {
        match self.open_verdict(now.mono_ns, p, op, tag_ok) {
            Ok((accepted, plain)) => self.transport_accepted(now, p.src, accepted, plain, cache, r),
            Err(e) => *r = Err(e),
        }
    }

    /// The replay window and the tag verdict of `open_finish`; marks the
    /// counter when both pass.
    #[inline(always)]
    fn open_verdict<'p>(
        &mut self,
        t: u64,
        p: &'p DecapPacket<'_>,
        op: &OpenPrep,
        tag_ok: bool,
    ) -> Result<(Accepted, &'p [u8]), Error> {
        let peer = self
            .peers
            .get_mut(op.peer.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::UnknownReceiver)?;
        // An earlier packet of the burst may have confirmed a session,
        // which moves keypairs between slots and drops the oldest.
        let slot = peer.slot_of(op.idx).ok_or(Error::UnknownReceiver)?;
        let kp = peer.keypair_mut(slot).ok_or(Error::UnknownReceiver)?;
        kp.replay_check(op.counter)?;
        if !tag_ok {
            return Err(Error::BadTag);
        }
        kp.replay_mark(op.counter);
        let s = p.start + TRANSPORT_HEADER_LEN;
        let plain = p.buf.get(s..s + op.n).ok_or(Error::Malformed)?;
        let accepted = Accepted {
            peer: op.peer,
            slot,
            lastminute: kp.lastminute(t),
            wire_len: op.n + TRANSPORT_HEADER_LEN + TAG_LEN,
            start: p.start,
        };
        Ok((accepted, plain))
    }
}
