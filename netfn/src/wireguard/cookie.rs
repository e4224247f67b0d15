//! MAC1, MAC2 and the cookie reply (paper section 5.4.4 and 5.4.7).
//!
//! Two sides, two types. [`CookieChecker`] belongs to our interface: it
//! verifies MAC1 (keyed with our public key) on every handshake message and,
//! when we are under load, MAC2 (keyed with a cookie only the real source
//! address can have learnt), and builds cookie replies. [`CookieState`]
//! belongs to each peer: it writes MAC1/MAC2 on messages we send to that peer
//! and keeps the cookie the peer gave us. A cookie is bound to the exact MAC1
//! it answers, so a reply we did not ask for is refused.

use super::crypto::{hash, mac, LABEL_COOKIE, LABEL_MAC1};
use super::messages::{CookieReply, COOKIE_REPLY_LEN, TYPE_COOKIE_REPLY};
use super::{Error, Rng, COOKIE_LATENCY, COOKIE_SECRET_MAX_AGE};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use core::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Where MAC1 and MAC2 sit in a handshake message: its last 32 bytes.
fn split(msg: &[u8]) -> Option<usize> {
    msg.len().checked_sub(32)
}

/// Our side: verifies incoming MACs and makes cookie replies.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieChecker {
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    secret: [u8; 32],
    /// When `secret` was drawn (monotonic ns); `None` before the first use.
    #[zeroize(skip)]
    secret_born: Option<u64>,
}

impl CookieChecker {
    /// The checker for an interface whose public key is `our_public`.
    pub fn new(our_public: &[u8; 32]) -> CookieChecker {
        CookieChecker {
            mac1_key: hash(&[LABEL_MAC1, our_public]),
            cookie_key: hash(&[LABEL_COOKIE, our_public]),
            secret: [0; 32],
            secret_born: None,
        }
    }

    /// True when MAC1 of `msg` is right (constant-time comparison).
    pub fn mac1_ok(&self, msg: &[u8]) -> bool {
        let Some(m) = split(msg) else { return false };
        let expect = mac(&self.mac1_key, &[&msg[..m]]);
        expect.ct_eq(&msg[m..m + 16]).into()
    }

    /// The cookie for `src` under the current secret, drawing a new secret
    /// every two minutes.
    fn cookie(&mut self, now: u64, rng: &mut dyn Rng, src: SocketAddr) -> [u8; 16] {
        let fresh = self
            .secret_born
            .is_some_and(|b| now.saturating_sub(b) < COOKIE_SECRET_MAX_AGE);
        if !fresh {
            rng.fill(&mut self.secret);
            self.secret_born = Some(now);
        }
        let port = src.port().to_be_bytes();
        match src.ip() {
            IpAddr::V4(a) => mac(&self.secret, &[&a.octets(), &port]),
            IpAddr::V6(a) => mac(&self.secret, &[&a.octets(), &port]),
        }
    }

    /// True when MAC2 of `msg` is the cookie `src` should have used.
    pub fn mac2_ok(&mut self, now: u64, rng: &mut dyn Rng, msg: &[u8], src: SocketAddr) -> bool {
        let Some(m) = split(msg) else { return false };
        let cookie = self.cookie(now, rng, src);
        let expect = mac(&cookie, &[&msg[..m + 16]]);
        expect.ct_eq(&msg[m + 16..]).into()
    }

    /// Writes a cookie reply to `msg` (a handshake message from `src` whose
    /// MAC1 verified) into `out`; returns its length.
    pub fn make_reply(
        &mut self,
        now: u64,
        rng: &mut dyn Rng,
        msg: &[u8],
        src: SocketAddr,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let m = split(msg).ok_or(Error::Malformed)?;
        let out = out.get_mut(..COOKIE_REPLY_LEN).ok_or(Error::NoRoom)?;
        let cookie = self.cookie(now, rng, src);
        // The sender index is at 4..8 in both handshake messages.
        let sender = u32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let mut nonce = [0u8; 24];
        rng.fill(&mut nonce);
        let mut reply = CookieReply::new_unchecked(&mut *out);
        reply.set_msg_type(TYPE_COOKIE_REPLY);
        reply.set_receiver(sender);
        reply.nonce_mut().copy_from_slice(&nonce);
        let sealed = reply.encrypted_cookie_mut();
        sealed[..16].copy_from_slice(&cookie);
        let aead = XChaCha20Poly1305::new((&self.cookie_key).into());
        let tag = aead
            .encrypt_in_place_detached((&nonce).into(), &msg[m..m + 16], &mut sealed[..16])
            .map_err(|_| Error::NoRoom)?;
        sealed[16..].copy_from_slice(&tag);
        Ok(COOKIE_REPLY_LEN)
    }
}

/// A peer's side: MACs on what we send it, and the cookie it gave us.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieState {
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    cookie: [u8; 16],
    #[zeroize(skip)]
    cookie_born: Option<u64>,
    /// MAC1 of the last handshake message we sent, until a reply uses it.
    last_mac1: Option<[u8; 16]>,
}

impl CookieState {
    /// The state for a peer whose public key is `peer_public`.
    pub fn new(peer_public: &[u8; 32]) -> CookieState {
        CookieState {
            mac1_key: hash(&[LABEL_MAC1, peer_public]),
            cookie_key: hash(&[LABEL_COOKIE, peer_public]),
            cookie: [0; 16],
            cookie_born: None,
            last_mac1: None,
        }
    }

    /// Writes MAC1, and MAC2 when we hold a cookie younger than 115 s, into
    /// the last 32 bytes of `msg`.
    pub fn add_macs(&mut self, now: u64, msg: &mut [u8]) {
        let Some(m) = split(msg) else { return };
        let mac1 = mac(&self.mac1_key, &[&msg[..m]]);
        msg[m..m + 16].copy_from_slice(&mac1);
        self.last_mac1 = Some(mac1);
        let usable = self
            .cookie_born
            .is_some_and(|b| now.saturating_sub(b) < COOKIE_SECRET_MAX_AGE - COOKIE_LATENCY);
        let mac2 = if usable {
            mac(&self.cookie, &[&msg[..m + 16]])
        } else {
            [0; 16]
        };
        msg[m + 16..].copy_from_slice(&mac2);
    }

    /// Takes the cookie out of a reply to the last message we sent.
    pub fn consume_reply(&mut self, now: u64, reply: &CookieReply<&[u8]>) -> Result<(), Error> {
        let Some(mac1) = self.last_mac1 else {
            return Err(Error::UnexpectedCookie);
        };
        let mut sealed = reply.encrypted_cookie();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&sealed[16..]);
        let aead = XChaCha20Poly1305::new((&self.cookie_key).into());
        aead.decrypt_in_place_detached(
            (&reply.nonce()).into(),
            &mac1,
            &mut sealed[..16],
            (&tag).into(),
        )
        .map_err(|_| Error::BadCookieReply)?;
        self.cookie.copy_from_slice(&sealed[..16]);
        sealed.zeroize();
        self.cookie_born = Some(now);
        // One reply per message: a second one for the same MAC1 is refused.
        self.last_mac1 = None;
        Ok(())
    }

    /// True when a cookie is held (for tests and status).
    pub fn has_cookie(&self) -> bool {
        self.cookie_born.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::TestRng;
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mac1_round_trip_and_bit_flips() {
        let responder_pub = [9u8; 32];
        let checker = CookieChecker::new(&responder_pub);
        let mut state = CookieState::new(&responder_pub);
        let mut msg = [0x55u8; 148];
        state.add_macs(0, &mut msg);
        assert!(checker.mac1_ok(&msg));
        assert_eq!(&msg[132..], &[0u8; 16]); // no cookie yet: MAC2 zero
        for i in 0..132 {
            let mut m = msg;
            m[i] ^= 0x80;
            assert!(!checker.mac1_ok(&m), "byte {i}");
        }
        assert!(!checker.mac1_ok(&msg[..20]));
    }

    #[test]
    fn cookie_reply_then_mac2_verifies_only_from_the_same_source() {
        let mut rng = TestRng::new(1);
        let responder_pub = [3u8; 32];
        let mut checker = CookieChecker::new(&responder_pub);
        let mut state = CookieState::new(&responder_pub);
        let src = addr("192.0.2.7:51820");
        let mut msg = [0x11u8; 148];
        state.add_macs(0, &mut msg);
        assert!(!checker.mac2_ok(0, &mut rng, &msg, src));
        let mut out = [0u8; 64];
        let n = checker
            .make_reply(0, &mut rng, &msg, src, &mut out)
            .unwrap();
        assert_eq!(n, 64);
        let reply = CookieReply::new_checked(&out[..]).unwrap();
        assert_eq!(reply.receiver(), 0x11111111);
        state.consume_reply(1, &reply).unwrap();
        // Replaying the same reply is refused: it answered a MAC1 already used.
        assert_eq!(state.consume_reply(1, &reply), Err(Error::UnexpectedCookie));
        state.add_macs(2, &mut msg);
        assert!(checker.mac2_ok(2, &mut rng, &msg, src));
        assert!(!checker.mac2_ok(2, &mut rng, &msg, addr("192.0.2.7:51821")));
        assert!(!checker.mac2_ok(2, &mut rng, &msg, addr("[2001:db8::7]:51820")));
        // After the secret rotates (120 s) the old cookie no longer works.
        assert!(!checker.mac2_ok(121_000_000_000, &mut rng, &msg, src));
        // A cookie older than 115 s is not used for MAC2.
        state.add_macs(116_000_000_000, &mut msg);
        assert_eq!(&msg[132..], &[0u8; 16]);
    }

    #[test]
    fn forged_or_misdirected_cookie_reply_is_refused() {
        let mut rng = TestRng::new(2);
        let mut checker = CookieChecker::new(&[3u8; 32]);
        let mut state = CookieState::new(&[3u8; 32]);
        let mut msg = [0x22u8; 92];
        state.add_macs(0, &mut msg);
        let mut out = [0u8; 64];
        checker
            .make_reply(0, &mut rng, &msg, addr("10.0.0.1:1"), &mut out)
            .unwrap();
        let mut bad = out;
        bad[40] ^= 1;
        let r = CookieReply::new_checked(&bad[..]).unwrap();
        assert_eq!(state.consume_reply(0, &r), Err(Error::BadCookieReply));
        // A reply from someone with another public key fails too.
        let mut other = CookieState::new(&[4u8; 32]);
        other.add_macs(0, &mut msg);
        let r = CookieReply::new_checked(&out[..]).unwrap();
        assert_eq!(other.consume_reply(0, &r), Err(Error::BadCookieReply));
        assert!(!other.has_cookie());
        // The right one still works after the failures.
        assert_eq!(state.consume_reply(0, &r), Ok(()));
        assert!(state.has_cookie());
    }
}
