//! Per-peer timer state (paper section 6), as deadlines instead of timers.
//!
//! The engine has no clock, so each timer is an optional deadline in
//! monotonic nanoseconds, set and cleared by the same events the Linux
//! implementation uses (`timers.c`), and `Engine::tick` compares them with
//! the time it is given. The event methods here only move deadlines; what
//! to send when one passes is decided in `device.rs`, which owns the keys.

use super::{KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_TIMEOUT};

/// Upper bound of the random jitter added to REKEY_TIMEOUT (333 ms).
pub const JITTER_MAX_NS: u64 = 333_000_000;

/// The deadlines and flags of one peer.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    /// When we last sent an initiation (rate limit: one per REKEY_TIMEOUT).
    pub last_initiation_sent: Option<u64>,
    /// When the current series of initiations began (give up after REKEY_ATTEMPT_TIME).
    pub attempt_started: Option<u64>,
    /// Retransmit the initiation at this time if no response came.
    pub retransmit_at: Option<u64>,
    /// Send a keepalive at this time (data received, nothing sent since).
    pub keepalive_at: Option<u64>,
    /// Start a new handshake at this time (data sent, nothing received since).
    pub new_handshake_at: Option<u64>,
    /// Send a persistent keepalive at this time.
    pub persistent_at: Option<u64>,
    /// Zero all key material at this time (3 × REJECT_AFTER_TIME after the last session).
    pub zero_keys_at: Option<u64>,
    /// The data path asked for a new handshake (rekey on send or receive).
    pub handshake_wanted: bool,
    /// The one "last minute" initiation on receive was already sent.
    pub sent_lastminute: bool,
}

impl Timers {
    /// Any authenticated packet was sent: no keepalive needed now.
    #[inline]
    pub fn auth_sent(&mut self, now: u64, persistent: Option<u16>) {
        self.keepalive_at = None;
        self.traversal(now, persistent);
    }

    /// Any authenticated packet was received: the peer is alive.
    #[inline]
    pub fn auth_received(&mut self, now: u64, persistent: Option<u16>) {
        self.new_handshake_at = None;
        self.traversal(now, persistent);
    }

    #[inline]
    fn traversal(&mut self, now: u64, persistent: Option<u16>) {
        self.persistent_at = persistent
            .filter(|&s| s > 0)
            .map(|s| now.saturating_add(s as u64 * super::NANOS_PER_SEC));
    }

    /// A data packet (not a keepalive) was sent: expect an answer within
    /// KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, or start a new handshake. Only
    /// the first packet after an answer arms the deadline (and draws the
    /// jitter), so the check stays in the data path and the rest does not.
    #[inline(always)]
    pub fn data_sent(&mut self, now: u64, jitter: impl FnOnce() -> u64) {
        if self.new_handshake_at.is_none() {
            self.arm_new_handshake(now, jitter);
        }
    }

    #[cold]
    #[inline(never)]
    fn arm_new_handshake(&mut self, now: u64, jitter: impl FnOnce() -> u64) {
        self.new_handshake_at = Some(now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter());
    }

    /// A data packet was received: answer within KEEPALIVE_TIMEOUT.
    #[inline]
    pub fn data_received(&mut self, now: u64) {
        if self.keepalive_at.is_none() {
            self.keepalive_at = Some(now + KEEPALIVE_TIMEOUT);
        }
    }

    /// An initiation went out; `retry` when it is a retransmission.
    pub fn initiation_sent(&mut self, now: u64, retry: bool, jitter: u64) {
        self.last_initiation_sent = Some(now);
        if !retry || self.attempt_started.is_none() {
            self.attempt_started = Some(now);
        }
        self.retransmit_at = Some(now + REKEY_TIMEOUT + jitter);
        self.handshake_wanted = false;
    }

    /// May a new (non-retransmit) initiation be sent now?
    pub fn initiation_allowed(&self, now: u64) -> bool {
        self.last_initiation_sent
            .is_none_or(|t| now.saturating_sub(t) >= REKEY_TIMEOUT)
    }

    /// A handshake finished (response received, or first data on a new
    /// responder keypair).
    pub fn handshake_complete(&mut self) {
        self.handshake_wanted = false;
        self.retransmit_at = None;
        self.attempt_started = None;
        self.sent_lastminute = false;
    }

    /// New keys were derived: they, and all others, die in 3 × REJECT_AFTER_TIME.
    pub fn session_derived(&mut self, now: u64) {
        self.zero_keys_at = Some(now + 3 * REJECT_AFTER_TIME);
    }

    /// The handshake was abandoned after REKEY_ATTEMPT_TIME.
    pub fn gave_up(&mut self, now: u64) {
        self.retransmit_at = None;
        self.attempt_started = None;
        self.new_handshake_at = None;
        self.handshake_wanted = false;
        if self.zero_keys_at.is_none() {
            self.zero_keys_at = Some(now + 3 * REJECT_AFTER_TIME);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wireguard::NANOS_PER_SEC as S;

    #[test]
    fn keepalive_and_new_handshake_deadlines() {
        let mut t = Timers::default();
        t.data_received(S);
        assert_eq!(t.keepalive_at, Some(11 * S));
        t.data_received(2 * S); // already pending: unchanged
        assert_eq!(t.keepalive_at, Some(11 * S));
        t.auth_sent(3 * S, None);
        assert_eq!(t.keepalive_at, None);
        t.data_sent(4 * S, || 7);
        assert_eq!(t.new_handshake_at, Some(19 * S + 7));
        t.auth_received(5 * S, Some(25));
        assert_eq!(t.new_handshake_at, None);
        assert_eq!(t.persistent_at, Some(30 * S));
    }

    #[test]
    fn initiation_rate_and_attempts() {
        let mut t = Timers::default();
        assert!(t.initiation_allowed(0));
        t.initiation_sent(S, false, 100);
        assert!(!t.initiation_allowed(S + REKEY_TIMEOUT - 1));
        assert!(t.initiation_allowed(S + REKEY_TIMEOUT));
        assert_eq!(t.retransmit_at, Some(S + REKEY_TIMEOUT + 100));
        t.initiation_sent(7 * S, true, 0);
        assert_eq!(t.attempt_started, Some(S)); // a retry keeps the series
        t.handshake_complete();
        assert_eq!(t.retransmit_at, None);
        t.gave_up(100 * S);
        assert_eq!(t.zero_keys_at, Some(100 * S + 3 * REJECT_AFTER_TIME));
    }
}
