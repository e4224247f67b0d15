//! A keypair: the two transport keys of one finished handshake, the send
//! counter and the receive replay window (paper section 5.4.6).
//!
//! Keys stay raw 32-byte arrays (zeroed on drop) so any AEAD back end, and a
//! later burst back end that seals many packets per call, can take them.
//! Sealing and opening work in place on the caller's buffer: the transport
//! header goes into the 16 bytes before the payload, padding and tag after
//! it, so a packet never moves.

use super::aead::{Aead, TAG_LEN};
use super::handshake::SessionKeys;
use super::messages::{Transport, TRANSPORT_HEADER_LEN, TYPE_TRANSPORT};
use super::replay::{ReplayError, ReplayWindow};
use super::{Error, KEEPALIVE_TIMEOUT, REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME, REKEY_TIMEOUT};
use zeroize::Zeroize;

/// One session's keys and counters; keys are wiped when it is dropped.
pub struct Keypair<A: Aead> {
    send_key: [u8; 32],
    recv_key: [u8; 32],
    send: A::Key,
    recv: A::Key,
    /// Our index for this session (the peer's messages carry it).
    pub local_index: u32,
    /// The peer's index for this session (our messages carry it).
    pub remote_index: u32,
    send_counter: u64,
    replay: ReplayWindow,
    /// When the handshake finished (monotonic ns).
    pub created: u64,
    /// True when we sent the initiation of this session.
    pub initiator: bool,
}

impl<A: Aead> Drop for Keypair<A> {
    fn drop(&mut self) {
        // The prepared keys wipe themselves (`A::Key`'s own drop).
        self.send_key.zeroize();
        self.recv_key.zeroize();
    }
}

impl<A: Aead> Keypair<A> {
    /// The keypair of a finished handshake.
    pub fn new(k: &SessionKeys, now: u64) -> Result<Keypair<A>, Error> {
        Ok(Keypair {
            send: A::prepare(&k.send).map_err(|_| Error::BadKey)?,
            recv: A::prepare(&k.recv).map_err(|_| Error::BadKey)?,
            send_key: k.send,
            recv_key: k.recv,
            local_index: k.local_index,
            remote_index: k.remote_index,
            send_counter: 0,
            replay: ReplayWindow::default(),
            created: now,
            initiator: k.initiator,
        })
    }

    /// The raw transport keys (send, receive), for burst back ends.
    pub fn keys(&self) -> (&[u8; 32], &[u8; 32]) {
        (&self.send_key, &self.recv_key)
    }

    /// Messages sent so far (the next counter).
    pub fn sent(&self) -> u64 {
        self.send_counter
    }

    /// Age in ns at `now`.
    pub fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.created)
    }

    /// May this keypair still send (REJECT_AFTER_TIME, REJECT_AFTER_MESSAGES)?
    pub fn can_send(&self, now: u64) -> bool {
        self.age(now) < REJECT_AFTER_TIME && self.send_counter < REJECT_AFTER_MESSAGES
    }

    /// May this keypair still receive (REJECT_AFTER_TIME)?
    pub fn can_receive(&self, now: u64) -> bool {
        self.age(now) < REJECT_AFTER_TIME
    }

    /// Is this our keypair (as initiator) and old enough that a received
    /// packet asks for the one "last minute" rekey?
    #[inline]
    pub(crate) fn lastminute(&self, now: u64) -> bool {
        self.initiator && self.age(now) >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT
    }

    /// Seals the transport message `msg` in place: 16 bytes for the
    /// header, then the payload (already padded with zeros), then 16 for
    /// the tag. Writes header and tag; returns the counter used.
    #[inline(always)]
    pub fn seal(&mut self, msg: &mut [u8]) -> Result<u64, Error> {
        let counter = self.send_counter;
        if counter >= REJECT_AFTER_MESSAGES {
            return Err(Error::SessionExpired);
        }
        let (head, rest) = msg
            .split_first_chunk_mut::<TRANSPORT_HEADER_LEN>()
            .ok_or(Error::NoRoom)?;
        let (payload, tag) = rest
            .split_last_chunk_mut::<TAG_LEN>()
            .ok_or(Error::NoRoom)?;
        let mut h = Transport::new_unchecked(&mut head[..]);
        h.set_msg_type(TYPE_TRANSPORT);
        h.set_receiver(self.remote_index);
        h.set_counter(counter);
        A::seal(&self.send, counter, &[], payload, tag).map_err(|_| Error::NoRoom)?;
        self.send_counter = counter + 1;
        Ok(counter)
    }

    /// The prepared sending key, for a burst job.
    #[inline]
    pub(crate) fn send_prepared(&self) -> &A::Key {
        &self.send
    }

    /// The prepared receiving key, for a burst job.
    #[inline]
    pub(crate) fn recv_prepared(&self) -> &A::Key {
        &self.recv
    }

    /// Reserves the next send counter for a packet sealed later in a burst
    /// and writes the transport header into `head` (its 16 bytes).
    #[inline]
    pub(crate) fn reserve(&mut self, head: &mut [u8]) -> Result<u64, Error> {
        let counter = self.send_counter;
        if counter >= REJECT_AFTER_MESSAGES {
            return Err(Error::SessionExpired);
        }
        let head = head.get_mut(..TRANSPORT_HEADER_LEN).ok_or(Error::NoRoom)?;
        let mut h = Transport::new_unchecked(head);
        h.set_msg_type(TYPE_TRANSPORT);
        h.set_receiver(self.remote_index);
        h.set_counter(counter);
        self.send_counter = counter + 1;
        Ok(counter)
    }

    /// Would the replay window accept `counter`? Changes nothing.
    #[inline]
    pub(crate) fn replay_check(&self, counter: u64) -> Result<(), Error> {
        self.replay.check(counter).map_err(replay_error)
    }

    /// Records `counter` after its tag verified and `replay_check` passed.
    #[inline]
    pub(crate) fn replay_mark(&mut self, counter: u64) {
        self.replay.mark(counter);
    }

    /// Opens a transport message `msg` (header, ciphertext, tag) in place:
    /// tag first, then the replay window. Returns the plaintext length
    /// (starting 16 bytes into `msg`).
    #[inline(always)]
    pub fn open(&mut self, counter: u64, msg: &mut [u8]) -> Result<usize, Error> {
        self.replay.check(counter).map_err(replay_error)?;
        let n = msg
            .len()
            .checked_sub(TRANSPORT_HEADER_LEN + TAG_LEN)
            .ok_or(Error::Malformed)?;
        let (ct, tag) = msg[TRANSPORT_HEADER_LEN..].split_at_mut(n);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        A::open(&self.recv, counter, &[], ct, &t).map_err(|_| Error::BadTag)?;
        // Checked above, and nothing ran in between that could move the window.
        self.replay.mark(counter);
        Ok(n)
    }
}

fn replay_error(e: ReplayError) -> Error {
    match e {
        ReplayError::Duplicate => Error::Replay,
        ReplayError::TooOld => Error::TooOld,
        ReplayError::Exhausted => Error::SessionExpired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wireguard::aead::{RingAead, RustCryptoAead};

    fn pair<A: Aead>() -> (Keypair<A>, Keypair<A>) {
        let a = SessionKeys {
            send: [1; 32],
            recv: [2; 32],
            local_index: 10,
            remote_index: 20,
            initiator: true,
        };
        let b = SessionKeys {
            send: [2; 32],
            recv: [1; 32],
            local_index: 20,
            remote_index: 10,
            initiator: false,
        };
        (Keypair::new(&a, 0).unwrap(), Keypair::new(&b, 0).unwrap())
    }

    #[test]
    fn seal_open_in_place_with_both_back_ends() {
        let (mut a, _) = pair::<RingAead>();
        let (_, mut b) = pair::<RustCryptoAead>();
        let mut buf = [0u8; 128];
        buf[32..48].copy_from_slice(b"0123456789abcdef");
        let c = a.seal(&mut buf[16..64]).unwrap();
        assert_eq!(c, 0);
        assert_eq!(&buf[16..20], &[4, 0, 0, 0]);
        assert_eq!(&buf[20..24], &20u32.to_le_bytes());
        let mut copy = buf;
        let n = b.open(0, &mut buf[16..64]).unwrap();
        assert_eq!(n, 16);
        assert_eq!(&buf[32..48], b"0123456789abcdef");
        // Same message again: replay.
        assert_eq!(b.open(0, &mut copy[16..64]), Err(Error::Replay));
    }

    #[test]
    fn no_room_is_an_error() {
        let (mut a, _) = pair::<RingAead>();
        let mut buf = [0u8; 40];
        assert_eq!(a.seal(&mut buf[..31]), Err(Error::NoRoom));
        assert_eq!(a.seal(&mut buf[..8]), Err(Error::NoRoom));
        assert_eq!(a.seal(&mut buf[..0]), Err(Error::NoRoom));
        assert_eq!(a.sent(), 0);
    }

    #[test]
    fn expiry_by_time() {
        let (a, _) = pair::<RingAead>();
        assert!(a.can_send(REJECT_AFTER_TIME - 1));
        assert!(!a.can_send(REJECT_AFTER_TIME));
        assert!(!a.can_receive(REJECT_AFTER_TIME));
    }
}
