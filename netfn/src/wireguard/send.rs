//! The sending side: `encapsulate` (the LAN → tunnel data path), handshake
//! initiation, keepalives, and `tick`, which turns passed deadlines into
//! messages.
//!
//! `encapsulate` seals in place: the inner packet stays where the NIC put
//! it, the transport header goes into the 16 bytes before it, zero padding
//! and the tag into the tailroom. It never allocates and never draws
//! randomness except when a deadline has to be armed. A rekey that is due is
//! only flagged here and sent by the next `tick`, so the data path stays one
//! shape.

use super::aead::TAG_LEN;
use super::allowed_ips::IpKey;
use super::burst::EncapPacket;
use super::device::{Encap, Engine, TickAction};
use super::handshake::create_initiation;
use super::messages::{Initiation, INITIATION_LEN, TRANSPORT_HEADER_LEN, TRANSPORT_MIN_LEN};
use super::peer::Peer;
use super::{Aead, Error, PeerId, Rng, Time, REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME};
use alloc::boxed::Box;
use core::net::SocketAddr;

/// The destination address of an inner IPv4/IPv6 packet.
#[inline]
pub(super) fn inner_destination(p: &[u8]) -> Option<IpKey> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let mut a = [0u8; 4];
            a.copy_from_slice(&p[16..20]);
            Some(IpKey::V4(u32::from_be_bytes(a)))
        }
        6 if p.len() >= 40 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[24..40]);
            Some(IpKey::V6(u128::from_be_bytes(a)))
        }
        _ => None,
    }
}

/// Payload length after padding to 16, never beyond the MTU (but never
/// shorter than the packet itself).
#[inline]
pub(super) fn padded_len(len: usize, mtu: usize) -> usize {
    let p = (len + 15) & !15;
    p.min(mtu.max(len))
}

impl<R: Rng, A: Aead> Engine<R, A> {
    /// Seals the inner IP packet at `buf[start..start + len]` in place for
    /// the peer whose allowed IPs hold its destination. Needs 16 bytes of
    /// headroom before `start` and padding + 16 bytes of tailroom after the
    /// packet. Without a session, writes an initiation into `out` when one
    /// is due.
    #[inline(always)]
    pub fn encapsulate(
        &mut self,
        now: Time,
        buf: &mut [u8],
        start: usize,
        len: usize,
        out: &mut [u8],
    ) -> Result<Encap, Error> {
        let mut r = Err(Error::Malformed);
        self.encapsulate_into(now, &mut EncapPacket { buf, start, len }, out, &mut r);
        r
    }

    /// [`Engine::encapsulate`] with the answer written into `r`, in place
    /// (see `decapsulate_into` for why): every failure breaks out of the
    /// `'fail` block with its error, the two answers are written where
    /// they are known.
    #[inline(always)]
    pub(super) fn encapsulate_into(
        &mut self,
        now: Time,
        p: &mut EncapPacket<'_>,
        out: &mut [u8],
        r: &mut Result<Encap, Error>,
    ) {
        let (start, len) = (p.start, p.len);
        let e = 'fail: {
            let Some(inner) = start.checked_add(len).and_then(|end| p.buf.get(start..end)) else {
                break 'fail Error::Malformed;
            };
            let Some(dst) = inner_destination(inner) else {
                break 'fail Error::BadInnerPacket;
            };
            let Some(id) = self.allowed.lookup_key(dst) else {
                break 'fail Error::NoPeerForDestination;
            };
            let mtu = self.mtu;
            let rekey_msgs = self.rekey_after_messages;
            let t = now.mono_ns;
            let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) else {
                break 'fail Error::NoSuchPeer;
            };
            // Field borrows (not `Peer` methods) so timers and counters stay reachable.
            let Some(kp) = peer.current.as_deref_mut().filter(|k| k.can_send(t)) else {
                *r = self
                    .initiate(now, id, out, false)
                    .map(|initiation| Encap::NoSession {
                        peer: id,
                        initiation,
                    });
                return;
            };
            let Some(endpoint) = peer.endpoint else {
                break 'fail Error::NoEndpoint;
            };
            let padded = padded_len(len, mtu);
            let Some(msg) = start
                .checked_sub(TRANSPORT_HEADER_LEN)
                .and_then(|at| p.buf.get_mut(at..start + padded + TAG_LEN))
            else {
                break 'fail Error::NoRoom;
            };
            if padded > len {
                msg[TRANSPORT_HEADER_LEN + len..TRANSPORT_HEADER_LEN + padded].fill(0);
            }
            if let Err(e) = kp.seal(msg) {
                break 'fail e;
            }
            if kp.initiator && (kp.age(t) >= REKEY_AFTER_TIME || kp.sent() >= rekey_msgs) {
                peer.timers.handshake_wanted = true;
            }
            let total = TRANSPORT_HEADER_LEN + padded + TAG_LEN;
            peer.tx_bytes += total as u64;
            let pk = peer.persistent_keepalive;
            peer.timers.auth_sent(t, pk);
            let rng = &mut self.rng;
            peer.timers.data_sent(t, || Self::jitter(rng));
            *r = Ok(Encap::Sealed {
                peer: id,
                start: start - TRANSPORT_HEADER_LEN,
                len: total,
                endpoint,
            });
            return;
        };
        *r = Err(e);
    }

    /// Starts a handshake with `peer` now if the rate limit allows (one
    /// initiation per REKEY_TIMEOUT): writes the initiation into `out` and
    /// returns its length and destination, or `None` when not allowed yet.
    pub fn initiate_handshake(
        &mut self,
        now: Time,
        peer: PeerId,
        out: &mut [u8],
    ) -> Result<Option<(usize, SocketAddr)>, Error> {
        self.initiate(now, peer, out, false)
    }

    /// Writes a keepalive for `peer` into `out` (at least 32 bytes) when it
    /// has a session; returns its length and destination.
    pub fn keepalive(
        &mut self,
        now: Time,
        peer: PeerId,
        out: &mut [u8],
    ) -> Result<Option<(usize, SocketAddr)>, Error> {
        let p = self
            .peers
            .get_mut(peer.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::NoSuchPeer)?;
        Self::seal_keepalive(p, now.mono_ns, out)
    }

    pub(crate) fn seal_keepalive(
        p: &mut Peer<A>,
        t: u64,
        out: &mut [u8],
    ) -> Result<Option<(usize, SocketAddr)>, Error> {
        let Some(ep) = p.endpoint else {
            return Ok(None);
        };
        let Some(kp) = p.sending_keypair(t) else {
            return Ok(None);
        };
        if out.len() < TRANSPORT_MIN_LEN {
            return Err(Error::NoRoom);
        }
        kp.seal(&mut out[..TRANSPORT_MIN_LEN])?;
        p.tx_bytes += TRANSPORT_MIN_LEN as u64;
        p.timers.auth_sent(t, p.persistent_keepalive);
        Ok(Some((TRANSPORT_MIN_LEN, ep)))
    }

    /// Builds an initiation for `id` into `out`. `retry` marks a
    /// retransmission, which is exempt from the REKEY_TIMEOUT rate limit.
    #[cold]
    #[inline(never)]
    pub(crate) fn initiate(
        &mut self,
        now: Time,
        id: PeerId,
        out: &mut [u8],
        retry: bool,
    ) -> Result<Option<(usize, SocketAddr)>, Error> {
        let t = now.mono_ns;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::NoSuchPeer)?;
        if !retry && !peer.timers.initiation_allowed(t) {
            return Ok(None);
        }
        let Some(endpoint) = peer.endpoint else {
            return Err(Error::NoEndpoint);
        };
        let msg = out.get_mut(..INITIATION_LEN).ok_or(Error::NoRoom)?;
        let mut eph = zeroize::Zeroizing::new([0u8; 32]);
        self.rng.fill(&mut eph[..]);
        let index = Self::new_index(&mut self.rng, &self.by_index);
        let jitter = Self::jitter(&mut self.rng);
        let ts = self.stamper.stamp(now.unix_ns);
        let state = create_initiation(
            &self.identity,
            &peer.public,
            &peer.static_static,
            *eph,
            index,
            ts,
            &mut Initiation::new_unchecked(&mut *msg),
        )?;
        peer.cookie.add_macs(t, msg);
        if let Some(old) = peer.handshake.replace(Box::new(state)) {
            self.by_index.remove(&old.local_index);
        }
        self.by_index.insert(index, id);
        peer.timers.initiation_sent(t, retry, jitter);
        peer.timers.auth_sent(t, peer.persistent_keepalive);
        peer.tx_bytes += INITIATION_LEN as u64;
        Ok(Some((INITIATION_LEN, endpoint)))
    }

    /// Runs the timers: returns the next thing to do, or `None` when nothing
    /// is due. Call repeatedly until `None` (each call makes progress), e.g.
    /// every few milliseconds from the poll loop. `out` receives messages
    /// (at least 148 bytes).
    pub fn tick(&mut self, now: Time, out: &mut [u8]) -> Option<TickAction> {
        let n = self.peers.len();
        while self.tick_cursor < n {
            let id = PeerId(self.tick_cursor as u32);
            if let Some(action) = self.tick_peer(now, id, out) {
                return Some(action);
            }
            self.tick_cursor += 1;
        }
        self.tick_cursor = 0;
        None
    }

    fn tick_peer(&mut self, now: Time, id: PeerId, out: &mut [u8]) -> Option<TickAction> {
        let t = now.mono_ns;
        let peer = self.peers.get_mut(id.0 as usize)?.as_mut()?;
        let tm = &mut peer.timers;
        if tm.zero_keys_at.is_some_and(|d| t >= d) {
            for idx in peer.clear_keys().into_iter().flatten() {
                self.by_index.remove(&idx);
            }
            return self.tick_peer(now, id, out);
        }
        if peer.handshake.is_some() && tm.retransmit_at.is_some_and(|d| t >= d) {
            if tm
                .attempt_started
                .is_some_and(|s| t.saturating_sub(s) >= REKEY_ATTEMPT_TIME)
            {
                tm.gave_up(t);
                if let Some(h) = peer.handshake.take() {
                    self.by_index.remove(&h.local_index);
                }
                return Some(TickAction::FlushQueue { peer: id });
            }
            return self.send_initiation(now, id, out, true);
        }
        let mut want = false;
        if tm.new_handshake_at.is_some_and(|d| t >= d) {
            tm.new_handshake_at = None;
            want = true;
        }
        if tm.handshake_wanted {
            want = true;
        }
        if want {
            tm.handshake_wanted = false;
            if let Some(a) = self.send_initiation(now, id, out, false) {
                return Some(a);
            }
        }
        let peer = self.peers.get_mut(id.0 as usize)?.as_mut()?;
        let tm = &mut peer.timers;
        let keepalive = tm.keepalive_at.is_some_and(|d| t >= d);
        let persistent = tm.persistent_at.is_some_and(|d| t >= d);
        if keepalive || persistent {
            tm.keepalive_at = None;
            tm.persistent_at = None;
            if peer.has_session(t) {
                if let Ok(Some((len, endpoint))) = Self::seal_keepalive(peer, t, out) {
                    return Some(TickAction::Send {
                        peer: id,
                        endpoint,
                        len,
                    });
                }
            } else if persistent {
                // A persistent keepalive with no session needs one first.
                return self.send_initiation(now, id, out, false);
            }
        }
        None
    }

    fn send_initiation(
        &mut self,
        now: Time,
        id: PeerId,
        out: &mut [u8],
        retry: bool,
    ) -> Option<TickAction> {
        let result = self.initiate(now, id, out, retry);
        if let Ok(Some((len, endpoint))) = result {
            return Some(TickAction::Send {
                peer: id,
                endpoint,
                len,
            });
        }
        let p = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut())?;
        if retry {
            // No endpoint any more: make sure the deadline does not fire
            // again at once (the attempt still gives up in time).
            p.timers.retransmit_at = Some(now.mono_ns + super::REKEY_TIMEOUT);
        } else if matches!(result, Ok(None)) {
            // Rate limited (one initiation per REKEY_TIMEOUT): keep the
            // request so it goes out once allowed.
            p.timers.handshake_wanted = true;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rule() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(1, 1420), 16);
        assert_eq!(padded_len(84, 1420), 96);
        assert_eq!(padded_len(1419, 1420), 1420); // capped at the MTU
        assert_eq!(padded_len(1420, 1420), 1420);
        assert_eq!(padded_len(1500, 1420), 1500); // oversize: no padding
    }

    #[test]
    fn destination_of_inner_packets() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[10, 0, 0, 9]);
        assert_eq!(inner_destination(&v4), Some(IpKey::V4(0x0a00_0009)));
        assert_eq!(inner_destination(&v4[..19]), None);
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[39] = 1;
        assert_eq!(inner_destination(&v6), Some(IpKey::V6(1)));
        assert_eq!(inner_destination(&[0x50; 40]), None);
        assert_eq!(inner_destination(&[]), None);
    }
}
