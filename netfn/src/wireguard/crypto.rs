//! The symmetric primitives of the WireGuard paper, section 5.4: HASH, MAC,
//! HMAC, KDF1..3 and DH, named as the paper names them.
//!
//! HASH is BLAKE2s-256; MAC is keyed BLAKE2s with a 16-byte output (true
//! keyed BLAKE2s, not HMAC); HMAC is RFC 2104 over BLAKE2s (64-byte block);
//! KDF is HKDF with that HMAC. Every secret intermediate is zeroed when it goes
//! out of scope, because chaining keys and the KDF's `t0` are session secrets.

use blake2::digest::{Digest, FixedOutput, KeyInit, Update};
use blake2::{Blake2s256, Blake2sMac};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s": the Noise construction name.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// "WireGuard v1 zx2c4 Jason@zx2c4.com": the protocol identifier mixed into the hash.
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// Label for the MAC1 key.
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Label for the cookie encryption key.
pub const LABEL_COOKIE: &[u8] = b"cookie--";

/// BLAKE2s block size, the HMAC pad length.
const BLOCK: usize = 64;

/// HASH(a ‖ b ‖ ...): BLAKE2s-256 over the concatenation of the parts.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        Digest::update(&mut h, p);
    }
    h.finalize().into()
}

/// MAC(key, a ‖ b ‖ ...): keyed BLAKE2s with a 128-bit output.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // Keys here are 16 or 32 bytes, always within BLAKE2s' 1..=32 range;
    // an out-of-range key would be a programming error, answered with zeros
    // (which never verify) instead of a panic.
    let Ok(mut m) = <Blake2sMac<blake2::digest::consts::U16> as KeyInit>::new_from_slice(key)
    else {
        return [0; 16];
    };
    for p in parts {
        Update::update(&mut m, p);
    }
    m.finalize_fixed().into()
}

/// HMAC(key, a ‖ b ‖ ...) with BLAKE2s-256, RFC 2104.
pub fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut pad = Zeroizing::new([0u8; BLOCK]);
    pad[..32].copy_from_slice(key);
    for b in pad.iter_mut() {
        *b ^= 0x36;
    }
    let mut inner = Blake2s256::new();
    Digest::update(&mut inner, &pad[..]);
    for p in parts {
        Digest::update(&mut inner, p);
    }
    let mut ih: [u8; 32] = inner.finalize().into();
    // Turn the inner pad into the outer pad: 0x36 ^ 0x5c.
    for b in pad.iter_mut() {
        *b ^= 0x36 ^ 0x5c;
    }
    let mut outer = Blake2s256::new();
    Digest::update(&mut outer, &pad[..]);
    Digest::update(&mut outer, ih);
    ih.zeroize();
    outer.finalize().into()
}

/// KDF1(key, input): the first HKDF output.
pub fn kdf1(key: &[u8; 32], input: &[u8]) -> [u8; 32] {
    let t0 = Zeroizing::new(hmac(key, &[input]));
    hmac(&t0, &[&[1]])
}

/// KDF2(key, input): the first two HKDF outputs.
pub fn kdf2(key: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let t0 = Zeroizing::new(hmac(key, &[input]));
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    (t1, t2)
}

/// KDF3(key, input): the first three HKDF outputs.
pub fn kdf3(key: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let t0 = Zeroizing::new(hmac(key, &[input]));
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    let t3 = hmac(&t0, &[&t2, &[3]]);
    (t1, t2, t3)
}

/// Why a Diffie-Hellman step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowOrderPoint;

/// DH(private, public): X25519, refusing an all-zero result (a low-order
/// public key), because such a result would make every later key public.
pub fn dh(private: &StaticSecret, public: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, LowOrderPoint> {
    let shared = private.diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(LowOrderPoint);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// The public key of a private key.
pub fn public_of(private: &StaticSecret) -> [u8; 32] {
    PublicKey::from(private).to_bytes()
}

/// The initial chaining key and hash every handshake starts from:
/// C = HASH(CONSTRUCTION), H = HASH(C ‖ IDENTIFIER).
pub fn initial_chain() -> ([u8; 32], [u8; 32]) {
    let ck = hash(&[CONSTRUCTION]);
    let h = hash(&[&ck, IDENTIFIER]);
    (ck, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn hex32(s: &str) -> [u8; 32] {
        unhex(s).try_into().unwrap()
    }

    fn unhex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn construction_and_identifier_hashes() {
        // Values from /work/shared/WIREGUARD-CONFORMANCE.md (computed by the
        // Linux and Go implementations' constants).
        let (ck, h) = initial_chain();
        assert_eq!(
            ck,
            hex32("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
        );
        assert_eq!(
            h,
            hex32("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
        );
    }

    #[test]
    fn blake2s_known_answers() {
        // RFC 7693 appendix B: BLAKE2s-256("abc").
        assert_eq!(
            hash(&[b"abc"]),
            hex32("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
        );
        // Split input gives the same hash as the whole.
        assert_eq!(hash(&[b"a", b"bc"]), hash(&[b"abc"]));
        // The BLAKE2 reference keyed KAT (blake2s-kat.txt: key 00..1f,
        // empty input) checks keyed BLAKE2s with a 32-byte output. `mac`
        // is the same keyed construction with a 16-byte output (the length
        // is part of the parameter block, so it is not a truncation); the
        // boringtun interop tests check it on every handshake message.
        let key: std::vec::Vec<u8> = (0u8..32).collect();
        let mut m =
            <Blake2sMac<blake2::digest::consts::U32> as KeyInit>::new_from_slice(&key).unwrap();
        Update::update(&mut m, b"");
        let out: [u8; 32] = m.finalize_fixed().into();
        assert_eq!(
            out,
            hex32("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49")
        );
    }

    #[test]
    fn hmac_blake2s_matches_independent_construction() {
        // HMAC computed with the generic `hmac` crate algorithm written out
        // by hand over BLAKE2s would be circular; instead check RFC 2104's
        // defining property on a key shorter than the block: HMAC(k, m) ==
        // H((k^opad) ‖ H((k^ipad) ‖ m)) using the plain hash function.
        let key = [0x0bu8; 32];
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for i in 0..32 {
            ipad[i] ^= key[i];
            opad[i] ^= key[i];
        }
        let inner = hash(&[&ipad, b"Hi There"]);
        let expect = hash(&[&opad, &inner]);
        assert_eq!(hmac(&key, &[b"Hi ", b"There"]), expect);
    }

    #[test]
    fn kdf_outputs_chain() {
        let key = [7u8; 32];
        let (a1, a2, a3) = kdf3(&key, b"input");
        let (b1, b2) = kdf2(&key, b"input");
        assert_eq!(a1, b1);
        assert_eq!(a2, b2);
        assert_eq!(kdf1(&key, b"input"), a1);
        assert_ne!(a2, a3);
    }

    #[test]
    fn x25519_rfc7748_vector_and_low_order() {
        // RFC 7748 section 6.1.
        let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let a_pub = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let b = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let b_pub = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let k = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let sa = StaticSecret::from(a);
        let sb = StaticSecret::from(b);
        assert_eq!(public_of(&sa), a_pub);
        assert_eq!(public_of(&sb), b_pub);
        assert_eq!(&dh(&sa, &b_pub).unwrap()[..], &k[..]);
        assert_eq!(&dh(&sb, &a_pub).unwrap()[..], &k[..]);
        // The identity point (all zeros) is low order: refused.
        assert_eq!(dh(&sa, &[0u8; 32]), Err(LowOrderPoint));
    }
}
