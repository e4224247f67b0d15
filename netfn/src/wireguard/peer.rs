//! One peer: its identity, endpoint, keypairs, pending handshake, timers
//! and counters.
//!
//! Keypairs follow the paper's three slots. `current` sends; `previous`
//! still receives what was in flight when we rotated; `next` is a
//! responder's fresh keypair, unused for sending until the initiator proves
//! it has it by sending data with it (key confirmation). The engine keeps an
//! index map from our receiver indices to peers; every place that drops a
//! keypair here hands its index back so the engine can forget it.

use super::aead::Aead;
use super::cookie::CookieState;
use super::handshake::InitiatorState;
use super::session::Keypair;
use super::tai64::Tai64n;
use super::timers::Timers;
use crate::prefix::IpPrefix;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::SocketAddr;
use zeroize::Zeroizing;

/// What the configuration says about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's static public key.
    pub public_key: [u8; 32],
    /// Optional preshared key (mixed into the handshake; zeros when absent).
    pub preshared_key: Option<[u8; 32]>,
    /// Where to send until the peer tells us otherwise by roaming.
    pub endpoint: Option<SocketAddr>,
    /// Inner addresses routed to, and accepted from, this peer.
    pub allowed_ips: Vec<IpPrefix>,
    /// Seconds between keepalives sent regardless of traffic (`None` or 0: off).
    pub persistent_keepalive: Option<u16>,
}

/// What `wg show` prints about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's public key.
    pub public_key: [u8; 32],
    /// Whether a preshared key is set.
    pub has_preshared_key: bool,
    /// The current endpoint.
    pub endpoint: Option<SocketAddr>,
    /// The allowed IPs.
    pub allowed_ips: Vec<IpPrefix>,
    /// Monotonic time (ns) of the latest completed handshake.
    pub latest_handshake_mono: Option<u64>,
    /// Wall-clock time (Unix ns) of the latest completed handshake.
    pub latest_handshake_unix: Option<u64>,
    /// Bytes of WireGuard messages received (whole UDP payloads).
    pub rx_bytes: u64,
    /// Bytes of WireGuard messages sent (whole UDP payloads).
    pub tx_bytes: u64,
    /// The persistent keepalive interval in seconds.
    pub persistent_keepalive: Option<u16>,
}

/// Which keypair slot a receiver index belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The sending keypair.
    Current,
    /// The keypair before the current one.
    Previous,
    /// A responder keypair awaiting confirmation.
    Next,
}

/// A peer and everything the engine keeps about it.
pub struct Peer<A: Aead> {
    pub(crate) public: [u8; 32],
    pub(crate) psk: Zeroizing<[u8; 32]>,
    pub(crate) has_psk: bool,
    /// DH(our private key, the peer's public key), computed once.
    pub(crate) static_static: Zeroizing<[u8; 32]>,
    pub(crate) endpoint: Option<SocketAddr>,
    pub(crate) allowed: Vec<IpPrefix>,
    pub(crate) persistent_keepalive: Option<u16>,
    pub(crate) cookie: CookieState,
    pub(crate) handshake: Option<Box<InitiatorState>>,
    /// The newest TAI64N accepted from this peer.
    pub(crate) last_timestamp: Option<Tai64n>,
    /// When we last consumed an initiation from this peer.
    pub(crate) last_initiation_consumed: Option<u64>,
    pub(crate) current: Option<Box<Keypair<A>>>,
    pub(crate) previous: Option<Box<Keypair<A>>>,
    pub(crate) next: Option<Box<Keypair<A>>>,
    pub(crate) timers: Timers,
    pub(crate) rx_bytes: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) last_handshake: Option<(u64, u64)>,
}

impl<A: Aead> Peer<A> {
    /// A peer with no session yet.
    pub(crate) fn new(cfg: &PeerConfig, static_static: Zeroizing<[u8; 32]>) -> Peer<A> {
        Peer {
            public: cfg.public_key,
            psk: Zeroizing::new(cfg.preshared_key.unwrap_or([0; 32])),
            has_psk: cfg.preshared_key.is_some(),
            static_static,
            endpoint: cfg.endpoint,
            allowed: cfg.allowed_ips.clone(),
            persistent_keepalive: cfg.persistent_keepalive.filter(|&s| s > 0),
            cookie: CookieState::new(&cfg.public_key),
            handshake: None,
            last_timestamp: None,
            last_initiation_consumed: None,
            current: None,
            previous: None,
            next: None,
            timers: Timers::default(),
            rx_bytes: 0,
            tx_bytes: 0,
            last_handshake: None,
        }
    }

    /// The slot holding the keypair with local index `idx`.
    #[inline]
    pub(crate) fn slot_of(&self, idx: u32) -> Option<Slot> {
        let is = |k: &Option<Box<Keypair<A>>>| k.as_ref().is_some_and(|k| k.local_index == idx);
        if is(&self.current) {
            Some(Slot::Current)
        } else if is(&self.next) {
            Some(Slot::Next)
        } else if is(&self.previous) {
            Some(Slot::Previous)
        } else {
            None
        }
    }

    /// The keypair in `slot`.
    #[inline]
    pub(crate) fn keypair_mut(&mut self, slot: Slot) -> Option<&mut Keypair<A>> {
        match slot {
            Slot::Current => self.current.as_deref_mut(),
            Slot::Previous => self.previous.as_deref_mut(),
            Slot::Next => self.next.as_deref_mut(),
        }
    }

    /// The keypair in `slot`, read-only (burst jobs borrow its key).
    #[inline]
    pub(crate) fn keypair(&self, slot: Slot) -> Option<&Keypair<A>> {
        match slot {
            Slot::Current => self.current.as_deref(),
            Slot::Previous => self.previous.as_deref(),
            Slot::Next => self.next.as_deref(),
        }
    }

    /// The current keypair if it may still send at `now`.
    #[inline]
    pub(crate) fn sending_keypair(&mut self, now: u64) -> Option<&mut Keypair<A>> {
        self.current.as_deref_mut().filter(|k| k.can_send(now))
    }

    /// Installs a keypair we derived as initiator: it becomes current at once.
    /// Returns the local indices of the keypairs it pushes out.
    pub(crate) fn install_initiator(&mut self, kp: Box<Keypair<A>>) -> [Option<u32>; 2] {
        let dropped_prev = self.previous.take().map(|k| k.local_index);
        let dropped_next = self.next.take().map(|k| k.local_index);
        self.previous = self.current.take();
        self.current = Some(kp);
        [dropped_prev, dropped_next]
    }

    /// Installs a keypair we derived as responder: it waits in `next`.
    /// Returns the local index of the keypair it replaces.
    pub(crate) fn install_responder(&mut self, kp: Box<Keypair<A>>) -> Option<u32> {
        let dropped = self.next.take().map(|k| k.local_index);
        self.next = Some(kp);
        dropped
    }

    /// Data arrived on `next`: it becomes current. Returns the index dropped.
    pub(crate) fn confirm_next(&mut self) -> Option<u32> {
        let dropped = self.previous.take().map(|k| k.local_index);
        self.previous = self.current.take();
        self.current = self.next.take();
        dropped
    }

    /// Drops every keypair and the pending handshake (keys are zeroed on
    /// drop); returns all the local indices that were in use.
    pub(crate) fn clear_keys(&mut self) -> [Option<u32>; 4] {
        let out = [
            self.current.take().map(|k| k.local_index),
            self.previous.take().map(|k| k.local_index),
            self.next.take().map(|k| k.local_index),
            self.handshake.take().map(|h| h.local_index),
        ];
        self.timers.zero_keys_at = None;
        self.timers.retransmit_at = None;
        self.timers.attempt_started = None;
        self.timers.handshake_wanted = false;
        out
    }

    /// Does a keypair exist that can send now?
    pub fn has_session(&self, now: u64) -> bool {
        self.current.as_ref().is_some_and(|k| k.can_send(now))
    }

    /// The status line of this peer.
    pub(crate) fn status(&self) -> PeerStatus {
        PeerStatus {
            public_key: self.public,
            has_preshared_key: self.has_psk,
            endpoint: self.endpoint,
            allowed_ips: self.allowed.clone(),
            latest_handshake_mono: self.last_handshake.map(|t| t.0),
            latest_handshake_unix: self.last_handshake.map(|t| t.1),
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
            persistent_keepalive: self.persistent_keepalive,
        }
    }
}
