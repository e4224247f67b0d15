//! The receiving side: `decapsulate` (the tunnel → LAN data path) and the
//! three handshake messages.
//!
//! Order of checks, so unauthenticated input never changes state: a
//! transport message is looked up by receiver index, pre-checked against
//! the replay window, opened, and only then moves the window, the endpoint
//! and the timers. A handshake message must carry a valid MAC1; under load
//! it must also carry a valid MAC2 (else it earns a cookie reply and
//! nothing else) and fit its source's token bucket. State moves only after
//! the whole message has been decrypted and accepted.

use super::aead::TAG_LEN;
use super::allowed_ips::IpKey;
use super::burst::DecapPacket;
use super::device::{Decap, Engine};
use super::handshake::{consume_initiation, consume_response, create_response};
use super::messages::{
    classify, CookieReply, Initiation, MessageKind, Response, Transport, RESPONSE_LEN,
    TRANSPORT_HEADER_LEN, TRANSPORT_MIN_LEN,
};
use super::peer::Slot;
use super::session::Keypair;
use super::{Aead, Error, PeerId, Rng, Time, INITIATION_MIN_INTERVAL};
use alloc::boxed::Box;
use core::net::SocketAddr;
use zeroize::Zeroizing;

/// Source address and true length of a decrypted inner packet.
#[inline]
fn inner_source_and_len(p: &[u8]) -> Option<(IpKey, usize)> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let len = u16::from_be_bytes([p[2], p[3]]) as usize;
            let mut a = [0u8; 4];
            a.copy_from_slice(&p[12..16]);
            (20..=p.len())
                .contains(&len)
                .then_some((IpKey::V4(u32::from_be_bytes(a)), len))
        }
        6 if p.len() >= 40 => {
            let len = 40 + u16::from_be_bytes([p[4], p[5]]) as usize;
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[8..24]);
            (len <= p.len()).then_some((IpKey::V6(u128::from_be_bytes(a)), len))
        }
        _ => None,
    }
}

/// What the shared tail of transport receive needs to know about an
/// opened message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accepted {
    /// The peer the message's receiver index names.
    pub(super) peer: PeerId,
    /// The keypair slot it was opened with (after any rotation).
    pub(super) slot: Slot,
    /// The keypair is old enough for the one "last minute" rekey.
    pub(super) lastminute: bool,
    /// The whole message's length (for the byte counter).
    pub(super) wire_len: usize,
    /// Where the message starts in the caller's buffer.
    pub(super) start: usize,
}

impl<R: Rng, A: Aead> Engine<R, A> {
    /// Processes the datagram at `buf[start..start + len]` received from
    /// `src`. Transport data is opened in place; handshake replies are
    /// written into `out` (at least 92 bytes).
    #[inline]
    pub fn decapsulate(
        &mut self,
        now: Time,
        src: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
        out: &mut [u8],
    ) -> Result<Decap, Error> {
        let mut r = Err(Error::Malformed);
        let mut p = DecapPacket {
            buf,
            start,
            len,
            src,
        };
        self.decapsulate_into(now, &mut p, out, &mut r);
        r
    }

    /// [`Engine::decapsulate`] with the answer written into `r`, field by
    /// field. Built in a temporary and copied out instead (48 bytes, read
    /// in other pieces than they were written in), the copy waits for the
    /// stores: about 20 cycles per packet in the burst paths, which write
    /// one answer per packet into the caller's array. Returns true for a
    /// handshake or cookie message (which may have written into `out`).
    #[inline(always)]
    pub(super) fn decapsulate_into(
        &mut self,
        now: Time,
        p: &mut DecapPacket<'_>,
        out: &mut [u8],
        r: &mut Result<Decap, Error>,
    ) -> bool {
        let (src, start) = (p.src, p.start);
        let Some(msg) = start
            .checked_add(p.len)
            .and_then(|end| p.buf.get_mut(start..end))
        else {
            *r = Err(Error::Malformed);
            return false;
        };
        let kind = classify(msg);
        match kind {
            Ok(MessageKind::Transport) => match self.open_transport(now.mono_ns, msg, start) {
                Ok(a) => {
                    let plain = &msg[TRANSPORT_HEADER_LEN..a.wire_len - TAG_LEN];
                    self.transport_accepted(now, src, a, plain, &mut None, r)
                }
                Err(e) => *r = Err(e),
            },
            Ok(MessageKind::Initiation) => *r = self.receive_initiation(now, src, msg, out),
            Ok(MessageKind::Response) => *r = self.receive_response(now, src, msg, out),
            Ok(MessageKind::CookieReply) => *r = self.receive_cookie_reply(now, msg),
            Err(e) => *r = Err(e.into()),
        }
        matches!(kind, Ok(k) if k != MessageKind::Transport)
    }

    /// Finds the keypair of the transport message `msg` (at `start` in the
    /// caller's buffer) and opens it in place: tag, then replay window.
    #[inline(always)]
    fn open_transport(&mut self, t: u64, msg: &mut [u8], start: usize) -> Result<Accepted, Error> {
        let (idx, counter) = {
            let h = Transport::new_checked(&*msg)?;
            (h.receiver(), h.counter())
        };
        let id = *self.by_index.get(&idx).ok_or(Error::UnknownReceiver)?;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::UnknownReceiver)?;
        let slot = peer.slot_of(idx).ok_or(Error::UnknownReceiver)?;
        let kp = peer.keypair_mut(slot).ok_or(Error::UnknownReceiver)?;
        if !kp.can_receive(t) {
            return Err(Error::SessionExpired);
        }
        kp.open(counter, msg)?;
        // Authenticated from here on.
        Ok(Accepted {
            peer: id,
            slot,
            lastminute: kp.lastminute(t),
            wire_len: msg.len(),
            start,
        })
    }

    /// Everything after a transport message's tag verified and the replay
    /// window took its counter: session confirmation, roaming, counters and
    /// timers, then the inner packet's allowed-IPs check; the answer goes
    /// into `r` (built in place, see `decapsulate_into`). Shared by the
    /// single-packet and the burst path so both answer the same. `cache`
    /// holds the last allowed-IPs answer of a burst (sources repeat).
    #[inline(always)]
    pub(super) fn transport_accepted(
        &mut self,
        now: Time,
        src: SocketAddr,
        a: Accepted,
        plain: &[u8],
        cache: &mut Option<(IpKey, Option<PeerId>)>,
        r: &mut Result<Decap, Error>,
    ) {
        let t = now.mono_ns;
        let id = a.peer;
        let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) else {
            *r = Err(Error::UnknownReceiver);
            return;
        };
        let mut new_session = false;
        if a.slot == Slot::Next {
            if let Some(old) = peer.confirm_next() {
                self.by_index.remove(&old);
            }
            peer.timers.handshake_complete();
            peer.last_handshake = Some((t, now.unix_ns));
            new_session = true;
        }
        if a.lastminute && a.slot == Slot::Current && !peer.timers.sent_lastminute {
            peer.timers.sent_lastminute = true;
            peer.timers.handshake_wanted = true;
        }
        peer.endpoint = Some(src);
        peer.rx_bytes += a.wire_len as u64;
        peer.timers.auth_received(t, peer.persistent_keepalive);
        if plain.is_empty() {
            *r = Ok(Decap::Keepalive {
                peer: id,
                new_session,
            });
            return;
        }
        peer.timers.data_received(t);
        let Some((src_ip, ip_len)) = inner_source_and_len(plain) else {
            *r = Err(Error::BadInnerPacket);
            return;
        };
        let owner = match *cache {
            Some((k, owner)) if k == src_ip => owner,
            _ => {
                let owner = self.allowed.lookup_key(src_ip);
                *cache = Some((src_ip, owner));
                owner
            }
        };
        *r = if owner == Some(id) {
            Ok(Decap::Data {
                peer: id,
                start: a.start + TRANSPORT_HEADER_LEN,
                len: ip_len,
                new_session,
            })
        } else {
            Err(Error::AllowedIpsMismatch)
        };
    }

    /// MAC checks and load policy shared by both handshake messages.
    /// `Ok(Some(_))` is a cookie reply to send instead of processing.
    fn check_handshake_macs(
        &mut self,
        now: Time,
        src: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Decap>, Error> {
        if !self.checker.mac1_ok(msg) {
            return Err(Error::BadMac1);
        }
        let t = now.mono_ns;
        if self.load.record(t) {
            if !self.checker.mac2_ok(t, &mut self.rng, msg, src) {
                let len = self.checker.make_reply(t, &mut self.rng, msg, src, out)?;
                return Ok(Some(Decap::CookieReply { endpoint: src, len }));
            }
            if !self.limiter.allow(t, src.ip()) {
                return Err(Error::RateLimited);
            }
        }
        Ok(None)
    }

    // Kept out of line: inlined, its large locals would bloat the
    // transport path's stack frame.
    #[cold]
    #[inline(never)]
    fn receive_initiation(
        &mut self,
        now: Time,
        src: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Decap, Error> {
        if out.len() < RESPONSE_LEN {
            return Err(Error::NoRoom);
        }
        if let Some(cookie) = self.check_handshake_macs(now, src, msg, out)? {
            return Ok(cookie);
        }
        let t = now.mono_ns;
        let view = Initiation::new_checked(msg)?;
        let peers = &self.peers;
        let by_key = &self.by_key;
        let consumed = consume_initiation(&self.identity, &view, |pk| {
            let id = by_key.get(pk)?;
            let p = peers.get(id.0 as usize)?.as_ref()?;
            Some(Zeroizing::new(*p.static_static))
        })?;
        let id = *self
            .by_key
            .get(&consumed.peer_public)
            .ok_or(Error::UnknownPeer)?;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::UnknownPeer)?;
        if peer
            .last_timestamp
            .is_some_and(|last| consumed.timestamp <= last)
        {
            return Err(Error::StaleTimestamp);
        }
        if peer
            .last_initiation_consumed
            .is_some_and(|l| t.saturating_sub(l) < INITIATION_MIN_INTERVAL)
        {
            return Err(Error::InitiationFlood);
        }
        let mut eph = Zeroizing::new([0u8; 32]);
        self.rng.fill(&mut eph[..]);
        let index = Self::new_index(&mut self.rng, &self.by_index);
        let resp = &mut out[..RESPONSE_LEN];
        let keys = create_response(
            &consumed,
            &peer.psk,
            *eph,
            index,
            &mut Response::new_unchecked(&mut *resp),
        )?;
        peer.cookie.add_macs(t, resp);
        // Accepted: commit.
        peer.last_timestamp = Some(consumed.timestamp);
        peer.last_initiation_consumed = Some(t);
        if let Some(old) = peer.install_responder(Box::new(Keypair::new(&keys, t)?)) {
            self.by_index.remove(&old);
        }
        self.by_index.insert(index, id);
        peer.endpoint = Some(src);
        peer.rx_bytes += msg.len() as u64;
        peer.tx_bytes += RESPONSE_LEN as u64;
        let pk = peer.persistent_keepalive;
        peer.timers.auth_received(t, pk);
        peer.timers.auth_sent(t, pk);
        peer.timers.session_derived(t);
        Ok(Decap::Reply {
            peer: id,
            endpoint: src,
            len: RESPONSE_LEN,
        })
    }

    // Kept out of line: inlined, its large locals would bloat the
    // transport path's stack frame.
    #[cold]
    #[inline(never)]
    fn receive_response(
        &mut self,
        now: Time,
        src: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Decap, Error> {
        if out.len() < TRANSPORT_MIN_LEN {
            return Err(Error::NoRoom);
        }
        if let Some(cookie) = self.check_handshake_macs(now, src, msg, out)? {
            return Ok(cookie);
        }
        let t = now.mono_ns;
        let view = Response::new_checked(msg)?;
        let idx = view.receiver();
        let id = *self.by_index.get(&idx).ok_or(Error::UnknownReceiver)?;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::UnknownReceiver)?;
        let state = match &peer.handshake {
            Some(h) if h.local_index == idx => h,
            _ => return Err(Error::UnexpectedResponse),
        };
        let keys = consume_response(&self.identity, state, &peer.psk, &view)?;
        // Accepted: the handshake's index now names the new keypair.
        peer.handshake = None;
        for old in peer
            .install_initiator(Box::new(Keypair::new(&keys, t)?))
            .into_iter()
            .flatten()
        {
            self.by_index.remove(&old);
        }
        peer.endpoint = Some(src);
        peer.rx_bytes += msg.len() as u64;
        peer.last_handshake = Some((t, now.unix_ns));
        let pk = peer.persistent_keepalive;
        peer.timers.auth_received(t, pk);
        peer.timers.handshake_complete();
        peer.timers.session_derived(t);
        // Key confirmation for the responder: a keepalive right away.
        let (len, endpoint) = match Self::seal_keepalive(peer, t, out)? {
            Some(x) => x,
            None => return Err(Error::NoEndpoint),
        };
        Ok(Decap::HandshakeComplete {
            peer: id,
            endpoint,
            len,
        })
    }

    // Kept out of line: inlined, its large locals would bloat the
    // transport path's stack frame.
    #[cold]
    #[inline(never)]
    fn receive_cookie_reply(&mut self, now: Time, msg: &[u8]) -> Result<Decap, Error> {
        let view = CookieReply::new_checked(msg)?;
        let idx = view.receiver();
        let id: PeerId = *self.by_index.get(&idx).ok_or(Error::UnknownReceiver)?;
        let peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(Error::UnknownReceiver)?;
        // The index must be our pending initiation or a keypair we answered with.
        let pending = peer
            .handshake
            .as_ref()
            .is_some_and(|h| h.local_index == idx);
        if !pending && peer.slot_of(idx).is_none() {
            return Err(Error::UnknownReceiver);
        }
        peer.cookie.consume_reply(now.mono_ns, &view)?;
        Ok(Decap::CookieStored { peer: id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_length_and_source() {
        // An IPv4 header written out by hand in the shape `ping -c1` sends
        // (84-byte ICMP echo from 10.0.0.2), padded to 96 as on the wire.
        let mut p = [0u8; 96];
        p[..20].copy_from_slice(&[
            0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ]);
        assert_eq!(inner_source_and_len(&p), Some((IpKey::V4(0x0a00_0002), 84)));
        p[3] = 97; // claims more than is there
        assert_eq!(inner_source_and_len(&p), None);
        p[3] = 19; // shorter than its own header
        assert_eq!(inner_source_and_len(&p), None);
        let mut v6 = [0u8; 48];
        v6[0] = 0x60;
        v6[5] = 8;
        v6[23] = 2;
        assert_eq!(inner_source_and_len(&v6), Some((IpKey::V6(2), 48)));
        assert_eq!(inner_source_and_len(&[0x70; 48]), None);
    }
}
