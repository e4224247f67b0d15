//! The engine: our identity, the peer table and its indices, and the
//! outcomes the data-path calls return.
//!
//! Peers live in a slot vector (a [`PeerId`] is the slot), found by public
//! key (handshakes) and by receiver index (everything after). The
//! allowed-IPs table routes by inner address. Configuration calls (add,
//! remove, update, new private key) may allocate; `encapsulate`,
//! `decapsulate` and `tick` (in `send.rs`, `receive.rs`) do not allocate per
//! data packet. The AEAD back end is a type parameter so benchmarks and
//! tests can run the same engine on either one; `ring` is the default.

use super::aead::{Aead, RingAead};
use super::allowed_ips::AllowedIps;
use super::cookie::CookieChecker;
use super::crypto::dh;
use super::handshake::StaticIdentity;
use super::peer::{Peer, PeerConfig, PeerStatus};
use super::ratelimit::{LoadMeter, RateLimiter};
use super::tai64::{Stamper, Tai64n};
use super::{PeerId, Rng, DEFAULT_MTU, REKEY_AFTER_MESSAGES};
use crate::prefix::IpPrefix;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::net::SocketAddr;
use zeroize::Zeroizing;

/// What `encapsulate` did with an inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    /// Sealed in place: send `buf[start..start + len]` to `endpoint`.
    Sealed {
        /// The peer it goes to.
        peer: PeerId,
        /// Where the WireGuard message starts (16 bytes before the inner packet).
        start: usize,
        /// Its length (header, padded payload, tag).
        len: usize,
        /// The peer's endpoint.
        endpoint: SocketAddr,
    },
    /// The peer has no usable session: the caller keeps the packet (in its
    /// own bounded queue) and resubmits it after the handshake completes.
    /// When an initiation was due it is in `out[..len]`, for `endpoint`.
    NoSession {
        /// The peer the packet is for.
        peer: PeerId,
        /// An initiation written to `out`: its length and destination.
        initiation: Option<(usize, SocketAddr)>,
    },
}

/// What `decapsulate` did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decap {
    /// An inner IP packet, opened in place at `buf[start..start + len]`
    /// (padding trimmed), from `peer`; its source passed the allowed-IPs
    /// check. `new_session` is true when this packet confirmed a new session
    /// (the caller may flush its queue for the peer).
    Data {
        /// The peer it came from.
        peer: PeerId,
        /// Where the inner packet starts.
        start: usize,
        /// Its length.
        len: usize,
        /// A session was confirmed by this packet.
        new_session: bool,
    },
    /// An authenticated keepalive: nothing to deliver.
    Keepalive {
        /// The peer it came from.
        peer: PeerId,
        /// A session was confirmed by this packet.
        new_session: bool,
    },
    /// A handshake reply (response) is in `out[..len]`: send it to `endpoint`.
    Reply {
        /// The peer it answers.
        peer: PeerId,
        /// Where to send it.
        endpoint: SocketAddr,
        /// Its length.
        len: usize,
    },
    /// We are under load: a cookie reply is in `out[..len]` for `endpoint`.
    CookieReply {
        /// Where to send it (the message's source).
        endpoint: SocketAddr,
        /// Its length.
        len: usize,
    },
    /// Our handshake completed: send the keepalive in `out[..len]` to
    /// `endpoint`, then resubmit the packets queued for `peer`.
    HandshakeComplete {
        /// The peer with a new session.
        peer: PeerId,
        /// Where to send the keepalive.
        endpoint: SocketAddr,
        /// The keepalive's length.
        len: usize,
    },
    /// A cookie from `peer` was stored; the next initiation will carry MAC2.
    CookieStored {
        /// The peer that sent it.
        peer: PeerId,
    },
}

/// What a timer wants done; `tick` is called until it returns `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickAction {
    /// Send `out[..len]` (an initiation or a keepalive) to `endpoint`.
    Send {
        /// The peer concerned.
        peer: PeerId,
        /// Where to send.
        endpoint: SocketAddr,
        /// Length of the message in `out`.
        len: usize,
    },
    /// The handshake was abandoned after REKEY_ATTEMPT_TIME: drop the
    /// packets queued for `peer`.
    FlushQueue {
        /// The peer concerned.
        peer: PeerId,
    },
}

/// Why a peer could not be added or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerError {
    /// Another peer already has this public key.
    DuplicateKey,
    /// The key is our own public key.
    OwnKey,
    /// The key is a low-order point: no handshake could ever be secure.
    LowOrderKey,
    /// The peer handle names no peer.
    NoSuchPeer,
}

/// What `wg show` prints about the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceStatus {
    /// Our public key.
    pub public_key: [u8; 32],
    /// The UDP port we listen on.
    pub listen_port: u16,
    /// Number of peers.
    pub peers: usize,
}

/// The WireGuard engine of one interface.
pub struct Engine<R: Rng, A: Aead = RingAead> {
    pub(crate) identity: StaticIdentity,
    pub(crate) checker: CookieChecker,
    pub(crate) listen_port: u16,
    pub(crate) mtu: usize,
    pub(crate) rng: R,
    pub(crate) peers: Vec<Option<Peer<A>>>,
    pub(crate) by_key: BTreeMap<[u8; 32], PeerId>,
    pub(crate) by_index: BTreeMap<u32, PeerId>,
    pub(crate) allowed: AllowedIps,
    pub(crate) limiter: RateLimiter,
    pub(crate) load: LoadMeter,
    pub(crate) stamper: Stamper,
    pub(crate) tick_cursor: usize,
    pub(crate) rekey_after_messages: u64,
    _aead: PhantomData<A>,
}

impl<R: Rng, A: Aead> Engine<R, A> {
    /// An engine with our private key, listen port and randomness source.
    pub fn new(private_key: [u8; 32], listen_port: u16, rng: R) -> Self {
        let identity = StaticIdentity::new(private_key);
        Engine {
            checker: CookieChecker::new(&identity.public),
            identity,
            listen_port,
            mtu: DEFAULT_MTU,
            rng,
            peers: Vec::new(),
            by_key: BTreeMap::new(),
            by_index: BTreeMap::new(),
            allowed: AllowedIps::new(),
            limiter: RateLimiter::default(),
            load: LoadMeter::default(),
            stamper: Stamper::default(),
            tick_cursor: 0,
            rekey_after_messages: REKEY_AFTER_MESSAGES,
            _aead: PhantomData,
        }
    }

    /// Sets the tunnel MTU (padding never goes beyond it).
    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = mtu;
    }

    /// Makes sure initiations never carry a timestamp at or below `floor`
    /// (the last one sent before a reboot, if the appliance kept it).
    pub fn set_timestamp_floor(&mut self, floor: Tai64n) {
        if floor > self.stamper.last() {
            self.stamper = Stamper::with_floor(floor);
        }
    }

    /// The last TAI64N timestamp sent (worth persisting across reboots).
    pub fn last_timestamp(&self) -> Tai64n {
        self.stamper.last()
    }

    /// Forces the under-load state (cookies required) on, or back to automatic.
    pub fn force_under_load(&mut self, on: bool) {
        self.load.force(on);
    }

    /// Our public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.identity.public
    }

    /// Interface status for `wg show`.
    pub fn status(&self) -> InterfaceStatus {
        InterfaceStatus {
            public_key: self.identity.public,
            listen_port: self.listen_port,
            peers: self.by_key.len(),
        }
    }

    /// Changes the listen port (the caller rebinds; nothing else changes).
    pub fn set_listen_port(&mut self, port: u16) {
        self.listen_port = port;
    }

    /// Replaces our private key: every peer's precomputation is redone and
    /// all sessions and handshakes are dropped, since they were bound to
    /// the old identity. A peer whose key now equals ours is removed.
    pub fn set_private_key(&mut self, private_key: [u8; 32]) {
        self.identity = StaticIdentity::new(private_key);
        self.checker = CookieChecker::new(&self.identity.public);
        let ids: Vec<PeerId> = self.by_key.values().copied().collect();
        for id in ids {
            let Some(peer) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) else {
                continue;
            };
            for idx in peer.clear_keys().into_iter().flatten() {
                self.by_index.remove(&idx);
            }
            // Old handshakes were with the old identity: none of their
            // rate limits apply to the new one.
            peer.timers = super::timers::Timers::default();
            match dh(&self.identity.private, &peer.public) {
                Ok(ss) if peer.public != self.identity.public => peer.static_static = ss,
                _ => {
                    let _ = self.remove_peer(id);
                }
            }
        }
    }

    /// Adds a peer; its allowed IPs take over those prefixes from other peers.
    pub fn add_peer(&mut self, cfg: &PeerConfig) -> Result<PeerId, PeerError> {
        if self.by_key.contains_key(&cfg.public_key) {
            return Err(PeerError::DuplicateKey);
        }
        if cfg.public_key == self.identity.public {
            return Err(PeerError::OwnKey);
        }
        let ss = dh(&self.identity.private, &cfg.public_key).map_err(|_| PeerError::LowOrderKey)?;
        let peer = Peer::new(cfg, ss);
        let slot = match self.peers.iter().position(|p| p.is_none()) {
            Some(s) => s,
            None => {
                self.peers.push(None);
                self.peers.len() - 1
            }
        };
        let id = PeerId(slot as u32);
        self.peers[slot] = Some(peer);
        self.by_key.insert(cfg.public_key, id);
        self.set_allowed_ips(id, &cfg.allowed_ips)?;
        Ok(id)
    }

    /// Removes a peer, zeroing its keys and dropping its routes.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<(), PeerError> {
        let mut peer = self
            .peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.take())
            .ok_or(PeerError::NoSuchPeer)?;
        for idx in peer.clear_keys().into_iter().flatten() {
            self.by_index.remove(&idx);
        }
        self.by_key.remove(&peer.public);
        self.allowed.remove_peer(id);
        Ok(())
    }

    /// Replaces a peer's allowed IPs.
    pub fn set_allowed_ips(&mut self, id: PeerId, ips: &[IpPrefix]) -> Result<(), PeerError> {
        self.peer_mut(id)?;
        self.allowed.remove_peer(id);
        for p in ips {
            if let Some(old) = self.allowed.insert(*p, id) {
                if old != id {
                    if let Some(o) = self.peers.get_mut(old.0 as usize).and_then(|p| p.as_mut()) {
                        o.allowed.retain(|q| q.network() != p.network());
                    }
                }
            }
        }
        let peer = self.peer_mut(id)?;
        peer.allowed = ips.to_vec();
        Ok(())
    }

    /// Sets a peer's endpoint.
    pub fn set_endpoint(&mut self, id: PeerId, ep: Option<SocketAddr>) -> Result<(), PeerError> {
        self.peer_mut(id)?.endpoint = ep;
        Ok(())
    }

    /// Sets or clears a peer's preshared key (used from the next handshake).
    pub fn set_preshared_key(
        &mut self,
        id: PeerId,
        psk: Option<[u8; 32]>,
    ) -> Result<(), PeerError> {
        let peer = self.peer_mut(id)?;
        peer.psk = Zeroizing::new(psk.unwrap_or([0; 32]));
        peer.has_psk = psk.is_some();
        Ok(())
    }

    /// Sets a peer's persistent keepalive interval in seconds (0 or `None`: off).
    pub fn set_persistent_keepalive(
        &mut self,
        id: PeerId,
        secs: Option<u16>,
    ) -> Result<(), PeerError> {
        let peer = self.peer_mut(id)?;
        peer.persistent_keepalive = secs.filter(|&s| s > 0);
        if peer.persistent_keepalive.is_none() {
            peer.timers.persistent_at = None;
        }
        Ok(())
    }

    /// The peer with public key `key`.
    pub fn peer_by_key(&self, key: &[u8; 32]) -> Option<PeerId> {
        self.by_key.get(key).copied()
    }

    /// The peer whose allowed IPs route `addr`.
    pub fn route(&self, addr: core::net::IpAddr) -> Option<PeerId> {
        self.allowed.lookup(addr)
    }

    /// All peers, in slot order.
    pub fn peer_ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| PeerId(i as u32))
    }

    /// A peer's status for `wg show`.
    pub fn peer_status(&self, id: PeerId) -> Option<PeerStatus> {
        self.peer(id).map(|p| p.status())
    }

    /// Does the peer have a session that can send at `now` (monotonic ns)?
    pub fn has_session(&self, id: PeerId, now: u64) -> bool {
        self.peer(id).is_some_and(|p| p.has_session(now))
    }

    /// The raw transport keys (send, receive) of a peer's current session,
    /// for a burst back end that seals many packets per call.
    pub fn session_keys(&self, id: PeerId) -> Option<(&[u8; 32], &[u8; 32])> {
        self.peer(id)?.current.as_ref().map(|k| k.keys())
    }

    #[cfg(test)]
    pub(crate) fn set_rekey_after_messages(&mut self, n: u64) {
        self.rekey_after_messages = n;
    }

    #[inline]
    pub(crate) fn peer(&self, id: PeerId) -> Option<&Peer<A>> {
        self.peers.get(id.0 as usize).and_then(|p| p.as_ref())
    }

    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Result<&mut Peer<A>, PeerError> {
        self.peers
            .get_mut(id.0 as usize)
            .and_then(|p| p.as_mut())
            .ok_or(PeerError::NoSuchPeer)
    }

    /// A fresh random receiver index not in use (and not zero).
    pub(crate) fn new_index(rng: &mut R, by_index: &BTreeMap<u32, PeerId>) -> u32 {
        loop {
            let mut b = [0u8; 4];
            rng.fill(&mut b);
            let i = u32::from_le_bytes(b);
            if i != 0 && !by_index.contains_key(&i) {
                return i;
            }
        }
    }

    /// Random jitter in 0..=333 ms.
    pub(crate) fn jitter(rng: &mut R) -> u64 {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        u64::from_le_bytes(b) % (super::timers::JITTER_MAX_NS + 1)
    }
}
