//! The Noise_IKpsk2 handshake (paper section 5.4.2 and 5.4.3) as pure
//! functions over the two messages.
//!
//! No peer table, no clock, no randomness in here: callers pass the
//! ephemeral private key bytes, the index and the timestamp, and get the
//! derived keys back. That keeps the construction checkable step by step and
//! leaves every policy decision (which peer, is the timestamp newer, rate
//! limits) to the peer/engine code. MAC1/MAC2 are added by `cookie.rs` after
//! these functions fill the rest of the message.

use super::aead::{Aead, RustCryptoAead};
use super::crypto::{dh, hash, initial_chain, kdf1, kdf2, kdf3, public_of};
use super::messages::{Initiation, Response, TYPE_INITIATION, TYPE_RESPONSE};
use super::tai64::Tai64n;
use super::Error;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Our long-term identity: private key, its public key, and the values
/// derived from it once.
pub struct StaticIdentity {
    /// The interface private key.
    pub private: StaticSecret,
    /// Its public key.
    pub public: [u8; 32],
}

impl StaticIdentity {
    /// The identity of a private key (clamped by X25519 itself).
    pub fn new(private: [u8; 32]) -> StaticIdentity {
        let private = StaticSecret::from(private);
        let public = public_of(&private);
        StaticIdentity { private, public }
    }
}

/// What an initiator keeps between sending an initiation and its response.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct InitiatorState {
    ephemeral: [u8; 32],
    ck: [u8; 32],
    h: [u8; 32],
    /// The index we put in the initiation; the response comes back to it.
    #[zeroize(skip)]
    pub local_index: u32,
}

/// The keys a finished handshake yields (paper section 5.4.5).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// Key for messages we send.
    pub send: [u8; 32],
    /// Key for messages we receive.
    pub recv: [u8; 32],
    /// Our index: the peer puts it in messages to us.
    #[zeroize(skip)]
    pub local_index: u32,
    /// The peer's index: we put it in messages to the peer.
    #[zeroize(skip)]
    pub remote_index: u32,
    /// True on the side that sent the initiation.
    #[zeroize(skip)]
    pub initiator: bool,
}

/// An initiation whose static key and timestamp decrypted: who sent it,
/// and the state the response continues from.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ConsumedInitiation {
    /// The initiator's static public key.
    #[zeroize(skip)]
    pub peer_public: [u8; 32],
    /// The initiator's index.
    #[zeroize(skip)]
    pub remote_index: u32,
    /// The initiator's timestamp (checked by the caller against the last one).
    #[zeroize(skip)]
    pub timestamp: Tai64n,
    remote_ephemeral: [u8; 32],
    ck: [u8; 32],
    h: [u8; 32],
}

fn seal(key: &[u8; 32], h: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
    let n = buf.len() - 16;
    let (pt, tag) = buf.split_at_mut(n);
    let t = RustCryptoAead::seal_in_place(key, 0, h, pt).map_err(|_| Error::NoRoom)?;
    tag.copy_from_slice(&t);
    Ok(())
}

fn open(key: &[u8; 32], h: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
    let n = buf.len() - 16;
    let (ct, tag) = buf.split_at_mut(n);
    let mut t = [0u8; 16];
    t.copy_from_slice(tag);
    RustCryptoAead::open_in_place(key, 0, h, ct, &t).map_err(|_| Error::BadHandshake)
}

/// Fills an initiation (all but MAC1/MAC2) into `msg` for the peer with
/// public key `peer_public`; `static_static` is DH(our private, peer public).
pub fn create_initiation(
    us: &StaticIdentity,
    peer_public: &[u8; 32],
    static_static: &[u8; 32],
    ephemeral: [u8; 32],
    local_index: u32,
    timestamp: Tai64n,
    msg: &mut Initiation<&mut [u8]>,
) -> Result<InitiatorState, Error> {
    let eph = StaticSecret::from(ephemeral);
    let eph_pub = public_of(&eph);
    let (ck, h) = initial_chain();
    let mut h = hash(&[&h, peer_public]);
    let mut ck = kdf1(&ck, &eph_pub);
    h = hash(&[&h, &eph_pub]);
    let es = dh(&eph, peer_public).map_err(|_| Error::LowOrderKey)?;
    let (c, k) = kdf2(&ck, &es[..]);
    let k = Zeroizing::new(k);
    ck = c;
    msg.set_msg_type(TYPE_INITIATION);
    msg.set_sender(local_index);
    msg.ephemeral_mut().copy_from_slice(&eph_pub);
    let st = msg.encrypted_static_mut();
    st[..32].copy_from_slice(&us.public);
    seal(&k, &h, st)?;
    h = hash(&[&h, &msg.encrypted_static()]);
    let (c, k) = kdf2(&ck, static_static);
    let k = Zeroizing::new(k);
    ck = c;
    let ts = msg.encrypted_timestamp_mut();
    ts[..12].copy_from_slice(&timestamp.0);
    seal(&k, &h, ts)?;
    h = hash(&[&h, &msg.encrypted_timestamp()]);
    let state = InitiatorState {
        ephemeral: eph.to_bytes(),
        ck,
        h,
        local_index,
    };
    ck.zeroize();
    Ok(state)
}

/// Opens an initiation sent to us. `static_static` maps the sender's
/// decrypted public key to DH(our private, that key), or `None` for a key
/// we do not know.
pub fn consume_initiation(
    us: &StaticIdentity,
    msg: &Initiation<&[u8]>,
    static_static: impl FnOnce(&[u8; 32]) -> Option<Zeroizing<[u8; 32]>>,
) -> Result<ConsumedInitiation, Error> {
    let (ck, h) = initial_chain();
    let mut h = hash(&[&h, &us.public]);
    let e = msg.ephemeral();
    let mut ck = kdf1(&ck, &e);
    h = hash(&[&h, &e]);
    let es = dh(&us.private, &e).map_err(|_| Error::LowOrderKey)?;
    let (c, k) = kdf2(&ck, &es[..]);
    let k = Zeroizing::new(k);
    ck = c;
    let mut st = msg.encrypted_static();
    open(&k, &h, &mut st)?;
    let mut peer_public = [0u8; 32];
    peer_public.copy_from_slice(&st[..32]);
    h = hash(&[&h, &msg.encrypted_static()]);
    let ss = static_static(&peer_public).ok_or(Error::UnknownPeer)?;
    let (c, k) = kdf2(&ck, &ss[..]);
    let k = Zeroizing::new(k);
    ck = c;
    let mut ts = msg.encrypted_timestamp();
    open(&k, &h, &mut ts)?;
    let mut timestamp = Tai64n::default();
    timestamp.0.copy_from_slice(&ts[..12]);
    h = hash(&[&h, &msg.encrypted_timestamp()]);
    let out = ConsumedInitiation {
        peer_public,
        remote_index: msg.sender(),
        timestamp,
        remote_ephemeral: e,
        ck,
        h,
    };
    ck.zeroize();
    Ok(out)
}

/// Fills a response (all but MAC1/MAC2) to a consumed initiation and
/// returns the responder's session keys.
pub fn create_response(
    init: &ConsumedInitiation,
    psk: &[u8; 32],
    ephemeral: [u8; 32],
    local_index: u32,
    msg: &mut Response<&mut [u8]>,
) -> Result<SessionKeys, Error> {
    let eph = StaticSecret::from(ephemeral);
    let eph_pub = public_of(&eph);
    let mut ck = Zeroizing::new(kdf1(&init.ck, &eph_pub));
    let mut h = hash(&[&init.h, &eph_pub]);
    let ee = dh(&eph, &init.remote_ephemeral).map_err(|_| Error::LowOrderKey)?;
    *ck = kdf1(&ck, &ee[..]);
    let se = dh(&eph, &init.peer_public).map_err(|_| Error::LowOrderKey)?;
    *ck = kdf1(&ck, &se[..]);
    let (c, t, k) = kdf3(&ck, psk);
    let k = Zeroizing::new(k);
    *ck = c;
    h = hash(&[&h, &t]);
    msg.set_msg_type(TYPE_RESPONSE);
    msg.set_sender(local_index);
    msg.set_receiver(init.remote_index);
    msg.ephemeral_mut().copy_from_slice(&eph_pub);
    seal(&k, &h, msg.encrypted_nothing_mut())?;
    // The final hash is not needed: transport keys come from the chaining key.
    let (recv, send) = kdf2(&ck, &[]);
    Ok(SessionKeys {
        send,
        recv,
        local_index,
        remote_index: init.remote_index,
        initiator: false,
    })
}

/// Opens the response to our initiation and returns the initiator's keys.
pub fn consume_response(
    us: &StaticIdentity,
    state: &InitiatorState,
    psk: &[u8; 32],
    msg: &Response<&[u8]>,
) -> Result<SessionKeys, Error> {
    let e = msg.ephemeral();
    let eph = StaticSecret::from(state.ephemeral);
    let mut ck = Zeroizing::new(kdf1(&state.ck, &e));
    let mut h = hash(&[&state.h, &e]);
    let ee = dh(&eph, &e).map_err(|_| Error::LowOrderKey)?;
    *ck = kdf1(&ck, &ee[..]);
    let se = dh(&us.private, &e).map_err(|_| Error::LowOrderKey)?;
    *ck = kdf1(&ck, &se[..]);
    let (c, t, k) = kdf3(&ck, psk);
    let k = Zeroizing::new(k);
    *ck = c;
    h = hash(&[&h, &t]);
    let mut empty = msg.encrypted_nothing();
    open(&k, &h, &mut empty)?;
    let (send, recv) = kdf2(&ck, &[]);
    Ok(SessionKeys {
        send,
        recv,
        local_index: state.local_index,
        remote_index: msg.sender(),
        initiator: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wireguard::messages::{INITIATION_LEN, RESPONSE_LEN};

    fn pair(seed_a: u8, seed_b: u8) -> (StaticIdentity, StaticIdentity) {
        (
            StaticIdentity::new([seed_a; 32]),
            StaticIdentity::new([seed_b; 32]),
        )
    }

    fn full(psk: [u8; 32]) -> (SessionKeys, SessionKeys) {
        let (a, b) = pair(1, 2);
        let ss_a = dh(&a.private, &b.public).unwrap();
        let mut m1 = [0u8; INITIATION_LEN];
        let st = create_initiation(
            &a,
            &b.public,
            &ss_a,
            [5; 32],
            0xa1,
            Tai64n::from_unix_nanos(1),
            &mut Initiation::new_unchecked(&mut m1[..]),
        )
        .unwrap();
        let c = consume_initiation(&b, &Initiation::new_unchecked(&m1[..]), |p| {
            assert_eq!(p, &a.public);
            Some(dh(&b.private, p).unwrap())
        })
        .unwrap();
        assert_eq!(c.remote_index, 0xa1);
        assert_eq!(c.timestamp, Tai64n::from_unix_nanos(1));
        let mut m2 = [0u8; RESPONSE_LEN];
        let kb = create_response(
            &c,
            &psk,
            [6; 32],
            0xb2,
            &mut Response::new_unchecked(&mut m2[..]),
        )
        .unwrap();
        let ka = consume_response(&a, &st, &psk, &Response::new_unchecked(&m2[..])).unwrap();
        (ka, kb)
    }

    #[test]
    fn both_sides_derive_matching_keys() {
        for psk in [[0u8; 32], [7u8; 32]] {
            let (ka, kb) = full(psk);
            assert_eq!(ka.send, kb.recv);
            assert_eq!(ka.recv, kb.send);
            assert_ne!(ka.send, ka.recv);
            assert_eq!((ka.local_index, ka.remote_index), (0xa1, 0xb2));
            assert_eq!((kb.local_index, kb.remote_index), (0xb2, 0xa1));
            assert!(ka.initiator && !kb.initiator);
        }
        assert_ne!(full([0; 32]).0.send, full([7; 32]).0.send);
    }

    #[test]
    fn unknown_peer_wrong_responder_and_psk_mismatch() {
        let (a, b) = pair(1, 2);
        let ss = dh(&a.private, &b.public).unwrap();
        let mut m1 = [0u8; INITIATION_LEN];
        let st = create_initiation(
            &a,
            &b.public,
            &ss,
            [5; 32],
            1,
            Tai64n::default(),
            &mut Initiation::new_unchecked(&mut m1[..]),
        )
        .unwrap();
        let r = consume_initiation(&b, &Initiation::new_unchecked(&m1[..]), |_| None);
        assert!(matches!(r, Err(Error::UnknownPeer)));
        // Sent to b, opened by c: the static key does not decrypt.
        let c = StaticIdentity::new([3; 32]);
        let r = consume_initiation(&c, &Initiation::new_unchecked(&m1[..]), |_| {
            Some(Zeroizing::new([0; 32]))
        });
        assert!(matches!(r, Err(Error::BadHandshake)));
        // Responder uses another PSK: the initiator refuses the response.
        let ci = consume_initiation(&b, &Initiation::new_unchecked(&m1[..]), |p| {
            Some(dh(&b.private, p).unwrap())
        })
        .unwrap();
        let mut m2 = [0u8; RESPONSE_LEN];
        create_response(
            &ci,
            &[9; 32],
            [6; 32],
            2,
            &mut Response::new_unchecked(&mut m2[..]),
        )
        .unwrap();
        let r = consume_response(&a, &st, &[0; 32], &Response::new_unchecked(&m2[..]));
        assert!(matches!(r, Err(Error::BadHandshake)));
    }

    #[test]
    fn low_order_ephemeral_is_refused() {
        let (a, b) = pair(1, 2);
        let ss = dh(&a.private, &b.public).unwrap();
        let mut m1 = [0u8; INITIATION_LEN];
        create_initiation(
            &a,
            &b.public,
            &ss,
            [5; 32],
            1,
            Tai64n::default(),
            &mut Initiation::new_unchecked(&mut m1[..]),
        )
        .unwrap();
        m1[8..40].fill(0);
        let r = consume_initiation(&b, &Initiation::new_unchecked(&m1[..]), |_| None);
        assert!(matches!(r, Err(Error::LowOrderKey)));
    }
}
