//! The gateway's random generator: a fast-key-erasure ChaCha20 generator
//! seeded from the hardware source and reseeded from it on every draw.
//!
//! The WireGuard engine's `Rng` cannot fail, and the hardware source (RDSEED/
//! RDRAND or virtio-rng) can, transiently or for good. Entropy is checked
//! before the gateway starts; after that a draw should never weaken. So the
//! engine reads from this generator: its key comes from the hardware at
//! start, every draw first mixes 32 fresh hardware bytes into the key when
//! the source answers (HMAC-BLAKE2s, the engine's own primitive), and every
//! output is ChaCha20 keystream whose first 32 bytes replace the key, so an
//! attacker who later reads the state learns nothing of earlier outputs.
//! When the source stops answering, output stays as strong as the seed and
//! the console says so once, instead of anything guessable being used.
//! [`GatewayRng`] is that arrangement as the engine's `Rng`, owned by the
//! gateway it serves.

use log::{error, info};
use netfn::wireguard::aead::Aead;
use netfn::wireguard::crypto::hmac;
use netfn::wireguard::{Rng, RustCryptoAead};
use zeroize::Zeroize;

/// A hardware entropy source: fills the slice and returns true, or false
/// when it could not (the kernel's RDSEED/RDRAND or virtio-rng).
pub type Source = fn(&mut [u8]) -> bool;

/// The gateway's `Rng`: a [`Drbg`] seeded when the gateway starts and
/// reseeded from `source` before every draw.
pub struct GatewayRng {
    source: Source,
    drbg: Drbg,
    /// The source failed at the last draw (said once on the console).
    lost: bool,
}

impl GatewayRng {
    /// A generator keyed from `seed` (fresh bytes from `source`).
    pub fn new(seed: &[u8; 32], source: Source) -> GatewayRng {
        GatewayRng {
            source,
            drbg: Drbg::new(seed),
            lost: false,
        }
    }

    /// True while the source is failing.
    pub fn source_lost(&self) -> bool {
        self.lost
    }
}

impl Rng for GatewayRng {
    fn fill(&mut self, buf: &mut [u8]) {
        let mut fresh = [0u8; 32];
        if (self.source)(&mut fresh) {
            if self.lost {
                info!("entropy: source answers again; generator reseeded");
            }
            self.lost = false;
            self.drbg.reseed(&fresh);
        } else if !self.lost {
            error!(
                "entropy: source failed after start; continuing from the generator seeded at start"
            );
            self.lost = true;
        }
        fresh.zeroize();
        self.drbg.fill(buf);
    }
}

/// Keystream produced per ChaCha20 call: the next key plus this much output.
const CHUNK: usize = 256;

/// A fast-key-erasure generator over ChaCha20; the key is wiped on drop.
pub struct Drbg {
    key: [u8; 32],
}

impl Drop for Drbg {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl Drbg {
    /// A generator keyed from `seed` (32 bytes of hardware entropy).
    pub fn new(seed: &[u8; 32]) -> Drbg {
        Drbg {
            key: hmac(seed, &[b"ringwall gateway generator"]),
        }
    }

    /// Mixes fresh entropy into the key.
    pub fn reseed(&mut self, fresh: &[u8; 32]) {
        let mut next = hmac(&self.key, &[fresh]);
        self.key.copy_from_slice(&next);
        next.zeroize();
    }

    /// Fills `out` with keystream, replacing the key before any byte of
    /// `out` is returned.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut block = [0u8; 32 + CHUNK];
        for chunk in out.chunks_mut(CHUNK) {
            let stream = &mut block[..32 + chunk.len()];
            stream.fill(0);
            // The AEAD's ciphertext of zeros is the ChaCha20 keystream; its
            // tag is not used. The key changes every call, so nonce 0 is
            // never reused under one key. The seal refuses only inputs past
            // ChaCha20's 256 GiB counter range, never these 288 bytes.
            let _ = RustCryptoAead::seal_in_place(&self.key, 0, &[], stream);
            let (next, bytes) = stream.split_at(32);
            chunk.copy_from_slice(bytes);
            self.key.copy_from_slice(next);
        }
        block.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicBool, Ordering};
    use std::vec;

    static SOURCE_UP: AtomicBool = AtomicBool::new(true);

    fn switchable(buf: &mut [u8]) -> bool {
        buf.fill(0x5a);
        SOURCE_UP.load(Ordering::Relaxed)
    }

    #[test]
    fn gateway_rng_keeps_drawing_when_the_source_fails_and_reseeds_when_it_returns() {
        let mut r = GatewayRng::new(&[6; 32], switchable);
        let mut same_seed = Drbg::new(&[6; 32]);
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SOURCE_UP.store(false, Ordering::Relaxed);
        r.fill(&mut a);
        same_seed.fill(&mut b);
        // Without the source: the generator's own stream, not the source's
        // bytes and not zeros.
        assert!(r.source_lost());
        assert_eq!(a, b);
        assert_ne!(a, [0x5a; 32]);
        SOURCE_UP.store(true, Ordering::Relaxed);
        r.fill(&mut a);
        same_seed.fill(&mut b);
        assert!(!r.source_lost());
        assert_ne!(a, b, "the answering source was not mixed in");
    }

    #[test]
    fn same_seed_same_stream_and_the_stream_moves_on() {
        let (mut a, mut b) = (Drbg::new(&[7; 32]), Drbg::new(&[7; 32]));
        let (mut x, mut y) = ([0u8; 64], [0u8; 64]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(x, [0u8; 64]);
        let mut z = [0u8; 64];
        a.fill(&mut z);
        assert_ne!(x, z, "a second draw repeats the first");
    }

    #[test]
    fn different_seeds_and_reseeds_diverge() {
        let (mut a, mut b) = (Drbg::new(&[1; 32]), Drbg::new(&[2; 32]));
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_ne!(x, y);
        let (mut c, mut d) = (Drbg::new(&[3; 32]), Drbg::new(&[3; 32]));
        c.reseed(&[9; 32]);
        c.fill(&mut x);
        d.fill(&mut y);
        assert_ne!(x, y, "reseeding changed nothing");
    }

    #[test]
    fn the_key_is_erased_by_each_draw() {
        let mut a = Drbg::new(&[5; 32]);
        let before = a.key;
        let mut x = [0u8; 16];
        a.fill(&mut x);
        assert_ne!(a.key, before);
        // The output is not the old key, nor the new one.
        assert_ne!(&x[..], &before[..16]);
        assert_ne!(&x[..], &a.key[..16]);
    }

    #[test]
    fn every_length_is_filled_and_long_draws_are_not_periodic() {
        let mut a = Drbg::new(&[8; 32]);
        for n in [0, 1, 31, 32, 255, 256, 257, 1000] {
            let mut v = vec![0u8; n];
            a.fill(&mut v);
            if n >= 32 {
                assert!(v.iter().any(|&b| b != 0), "{n} bytes all zero");
            }
            if n > CHUNK + 32 {
                // Consecutive chunks come from different keys.
                assert_ne!(v[..32], v[CHUNK..CHUNK + 32]);
            }
        }
    }

    #[test]
    fn output_is_chacha20_keystream_under_the_derived_key() {
        // Independent check of the construction: the first draw is the
        // keystream of hmac(seed, label) after skipping 32 bytes.
        let seed = [4u8; 32];
        let key = hmac(&seed, &[b"ringwall gateway generator"]);
        let mut expect = [0u8; 32 + 48];
        RustCryptoAead::seal_in_place(&key, 0, &[], &mut expect).unwrap();
        let mut got = [0u8; 48];
        Drbg::new(&seed).fill(&mut got);
        assert_eq!(got, expect[32..]);
    }
}
