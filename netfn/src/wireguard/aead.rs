//! ChaCha20-Poly1305 (RFC 8439) behind one small trait, with two back ends.
//!
//! WireGuard's AEAD nonce is 4 zero bytes followed by a 64-bit little-endian
//! counter (paper section 5.4.6), so the trait takes the counter, not a nonce.
//! A session prepares its two keys once ([`Aead::prepare`]) and keeps the
//! raw 32-byte form too (zeroable, and ready for a later burst/SIMD back end
//! that wants many keys side by side). Preparing per packet would cost: a
//! `ring` key is an enum sized for AES-GCM's expanded tables, so building
//! one moves several hundred bytes, a measurable share of a 64-byte seal.
//!
//! - [`RingAead`]: BoringSSL's assembly through `ring`; the data path uses it
//!   because it is several times faster than the portable code.
//! - [`RustCryptoAead`]: RustCrypto `chacha20poly1305`, the reference; tests
//!   check that both produce identical bytes.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};

/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// Why an AEAD operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The tag did not verify: the message was forged or corrupted.
    BadTag,
    /// The back end refused the input (longer than the AEAD allows).
    TooLong,
    /// The back end refused the key.
    BadKey,
    /// A burst of more than [`MAX_BURST`] jobs.
    TooManyJobs,
}

/// Most jobs one [`Aead::seal_burst`]/[`Aead::open_burst`] call takes.
pub const MAX_BURST: usize = 32;

/// One packet of a burst: its own prepared key, counter, AAD and in-place
/// buffer, and the tag (written by a seal, checked by an open).
pub struct BurstJob<'a, K> {
    /// The session's prepared key.
    pub key: &'a K,
    /// WireGuard's message counter (the nonce).
    pub counter: u64,
    /// Associated data (WireGuard's is empty).
    pub aad: &'a [u8],
    /// Plaintext to seal or ciphertext to open, transformed in place.
    pub buf: &'a mut [u8],
    /// Output of a seal, input of an open.
    pub tag: [u8; TAG_LEN],
}

/// An in-place ChaCha20-Poly1305 with WireGuard's counter nonce.
pub trait Aead {
    /// A key prepared for repeated use; wiped when dropped.
    type Key;

    /// Prepares a raw key.
    fn prepare(key: &[u8; 32]) -> Result<Self::Key, AeadError>;

    /// Encrypts `buf` in place under a prepared key and writes the tag to
    /// `tag` (an out parameter: returning a `Result` of an array makes the
    /// compiler shuffle it through the stack unaligned, which costs a
    /// store-forwarding stall per packet).
    fn seal(
        key: &Self::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError>;

    /// Checks `tag` and decrypts `buf` in place; `buf` is unspecified on error.
    fn open(
        key: &Self::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError>;

    /// Seals up to [`MAX_BURST`] independent jobs in place, writing each tag.
    /// By default one at a time through [`Aead::seal`]; a burst-capable back
    /// end (`simd::SimdAead`) seals them side by side in SIMD lanes.
    fn seal_burst(jobs: &mut [BurstJob<'_, Self::Key>]) -> Result<(), AeadError> {
        if jobs.len() > MAX_BURST {
            return Err(AeadError::TooManyJobs);
        }
        for j in jobs.iter_mut() {
            Self::seal(j.key, j.counter, j.aad, j.buf, &mut j.tag)?;
        }
        Ok(())
    }

    /// Opens up to [`MAX_BURST`] independent jobs in place; bit `i` of the
    /// result is set when job `i`'s tag verified (its buffer is plaintext).
    /// A job that fails has an unspecified buffer and never affects another.
    fn open_burst(jobs: &mut [BurstJob<'_, Self::Key>]) -> Result<u32, AeadError> {
        if jobs.len() > MAX_BURST {
            return Err(AeadError::TooManyJobs);
        }
        let mut ok = 0u32;
        for (i, j) in jobs.iter_mut().enumerate() {
            ok |= u32::from(Self::open(j.key, j.counter, j.aad, j.buf, &j.tag).is_ok()) << i;
        }
        Ok(ok)
    }

    /// Whether [`Aead::seal_burst`]/[`Aead::open_burst`] on buffers of these
    /// lengths beat [`Aead::seal`]/[`Aead::open`] one at a time. For the
    /// default bursts (that very loop) never; a back end with SIMD lanes
    /// says yes when enough of them fit its lanes. When not, the engine's
    /// burst calls go packet by packet: their separate passes (prepare,
    /// crypt, finish) only add work then, and a burst of long packets no
    /// longer fits the L1 cache between the passes. No default: a wrapper
    /// around another back end must pass its answer on, or it silently
    /// turns the lanes off.
    fn burst_pays(lens: &[usize]) -> bool;

    /// Encrypts `buf` in place under a raw key (one-off uses) and returns the tag.
    fn seal_in_place(
        key: &[u8; 32],
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        let mut tag = [0u8; TAG_LEN];
        Self::seal(&Self::prepare(key)?, counter, aad, buf, &mut tag)?;
        Ok(tag)
    }

    /// Checks `tag` and decrypts `buf` in place under a raw key.
    fn open_in_place(
        key: &[u8; 32],
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        Self::open(&Self::prepare(key)?, counter, aad, buf, tag)
    }
}

/// The 96-bit nonce for a counter: 4 zero bytes, then the counter in little
/// endian. Written as the 8 + 4 bytes `ring` reads it as: written as 4 + 8,
/// ring's first 8-byte load spans two stores and waits for both to reach
/// the cache (perf put 39 % of ring's seal wrapper samples on it, about 20
/// cycles a packet).
#[inline(always)]
pub fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&(counter << 32).to_le_bytes());
    n[8..].copy_from_slice(&((counter >> 32) as u32).to_le_bytes());
    n
}

/// Copies the tag out of `ring`'s result without a store-forwarding stall.
///
/// `ring` 0.17 returns its `Result<Tag>` through memory and writes the 16
/// tag bytes as four stores: bytes 3..7, then 0..4 (overwriting byte 3),
/// 7..15 and 15. A load that spans two of those stores cannot take its
/// bytes from them and waits until they reach the cache; the plain 16-byte
/// copy did that on every packet (7-9 cycles of a 64-byte packet's ~500,
/// measured). Loading pieces that each lie inside the one store that wrote
/// them last (bytes 0..4, 4..6, 6, 7..15 and 15) lets every load forward.
/// The loads are written in assembly because the compiler merges adjacent
/// loads back into one wide load. Should `ring` write its result another
/// way, the copy stays correct and only the stall comes back.
#[inline(always)]
pub(crate) fn copy_ring_tag(t: &ring::aead::Tag, out: &mut [u8; TAG_LEN]) -> Result<(), AeadError> {
    let t: &[u8; TAG_LEN] = t.as_ref().try_into().map_err(|_| AeadError::TooLong)?;
    #[cfg(target_arch = "x86_64")]
    {
        let (a, b, c, d, e): (u64, u64, u64, u64, u64);
        // SAFETY: the five loads read bytes 0..4, 4..6, 6, 7..15 and 15 of
        // `t`, a live 16-byte array; x86 loads need no alignment. Nothing
        // is written and no flags matter to the caller.
        unsafe {
            core::arch::asm!(
                "mov {a:e}, dword ptr [{p}]",
                "movzx {b:e}, word ptr [{p} + 4]",
                "movzx {c:e}, byte ptr [{p} + 6]",
                "mov {d}, qword ptr [{p} + 7]",
                "movzx {e:e}, byte ptr [{p} + 15]",
                p = in(reg) t.as_ptr(),
                a = out(reg) a,
                b = out(reg) b,
                c = out(reg) c,
                d = out(reg) d,
                e = out(reg) e,
                options(nostack, preserves_flags, readonly, pure),
            );
        }
        let lo = a | b << 32 | c << 48 | d << 56;
        let hi = d >> 8 | e << 56;
        out[..8].copy_from_slice(&lo.to_le_bytes());
        out[8..].copy_from_slice(&hi.to_le_bytes());
    }
    #[cfg(not(target_arch = "x86_64"))]
    out.copy_from_slice(t);
    Ok(())
}

/// `ring`'s ChaCha20-Poly1305 (BoringSSL assembly): the data path back end.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingAead;

/// A prepared `ring` key. `ring` does not wipe its keys, so dropping one
/// overwrites it in place with a key of zeros first.
pub struct RingKey(pub(crate) ring::aead::LessSafeKey);

/// Builds a `ring` ChaCha20-Poly1305 key (also used by the burst back end).
pub(crate) fn ring_key(key: &[u8; 32]) -> Result<ring::aead::LessSafeKey, AeadError> {
    // A 32-byte key is the only length ChaCha20 takes, so this cannot
    // fail; the error is mapped instead of unwrapped all the same.
    ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key)
        .map(ring::aead::LessSafeKey::new)
        .map_err(|_| AeadError::BadKey)
}

impl Drop for RingKey {
    fn drop(&mut self) {
        if let Ok(zero) = ring_key(&[0; 32]) {
            // A plain assignment right before the memory is freed may be
            // removed as a dead store; a volatile write may not.
            // Safety: `self.0` is a valid, aligned, exclusively borrowed
            // `LessSafeKey`; overwriting it without running its drop glue
            // leaks nothing because it owns no heap memory or other resource.
            unsafe { core::ptr::write_volatile(&mut self.0, zero) };
            core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl Aead for RingAead {
    type Key = RingKey;

    fn burst_pays(_: &[usize]) -> bool {
        false
    }

    fn prepare(key: &[u8; 32]) -> Result<RingKey, AeadError> {
        ring_key(key).map(RingKey)
    }

    #[inline(always)]
    fn seal(
        key: &RingKey,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        let r = key.0.seal_in_place_separate_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce(counter)),
            ring::aead::Aad::from(aad),
            buf,
        );
        // By reference: moving the tag out of `r` first would copy it with
        // the very load `copy_ring_tag` avoids.
        match &r {
            Ok(t) => copy_ring_tag(t, tag),
            Err(_) => Err(AeadError::TooLong),
        }
    }

    #[inline(always)]
    fn open(
        key: &RingKey,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        key.0
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce(counter)),
                ring::aead::Aad::from(aad),
                ring::aead::Tag::from(*tag),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| AeadError::BadTag)
    }
}

/// RustCrypto's portable ChaCha20-Poly1305: the reference back end.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoAead;

impl Aead for RustCryptoAead {
    type Key = ChaCha20Poly1305;

    fn burst_pays(_: &[usize]) -> bool {
        false
    }

    fn prepare(key: &[u8; 32]) -> Result<ChaCha20Poly1305, AeadError> {
        Ok(ChaCha20Poly1305::new(key.into()))
    }

    fn seal(
        c: &ChaCha20Poly1305,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        let t = c
            .encrypt_in_place_detached(&nonce(counter).into(), aad, buf)
            .map_err(|_| AeadError::TooLong)?;
        tag.copy_from_slice(&t);
        Ok(())
    }

    fn open(
        c: &ChaCha20Poly1305,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        c.decrypt_in_place_detached(&nonce(counter).into(), aad, buf, tag.into())
            .map_err(|_| AeadError::BadTag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn unhex(s: &str) -> Vec<u8> {
        let s: std::string::String = s.split_whitespace().collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8439 section 2.8.2, through both libraries directly: that
    /// vector's nonce (07000000 4041424344454647) does not start with four
    /// zero bytes, so it cannot be expressed as a WireGuard counter; the
    /// counter form is covered by cross-checking the back ends below.
    #[test]
    fn rfc8439_aead_vector() {
        let key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = unhex("070000004041424344454647");
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ct = unhex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
             3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
             92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
             3ff4def08e4b7a9de576d26586cec64b6116",
        );
        let tag = unhex("1ae10b594f09e26a7e902ecbd0600691");

        let mut buf = pt.to_vec();
        let c = ChaCha20Poly1305::new(key.as_slice().into());
        let t = c
            .encrypt_in_place_detached(nonce.as_slice().into(), &aad, &mut buf)
            .unwrap();
        assert_eq!(buf, ct);
        assert_eq!(t.as_slice(), &tag[..]);

        let mut buf = pt.to_vec();
        let k = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key).unwrap(),
        );
        let t = k
            .seal_in_place_separate_tag(
                ring::aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
                ring::aead::Aad::from(&aad),
                &mut buf,
            )
            .unwrap();
        assert_eq!(buf, ct);
        assert_eq!(t.as_ref(), &tag[..]);
    }

    #[test]
    fn counter_nonce_layout() {
        assert_eq!(
            nonce(0x0102030405060708),
            [0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn both_back_ends_round_trip_and_reject_forgery() {
        let key = [0x42u8; 32];
        let mut a = b"some inner packet".to_vec();
        let tag = RingAead::seal_in_place(&key, 9, b"", &mut a).unwrap();
        let mut b = a.clone();
        RustCryptoAead::open_in_place(&key, 9, b"", &mut b, &tag).unwrap();
        assert_eq!(b, b"some inner packet");
        let mut c = a.clone();
        assert_eq!(
            RingAead::open_in_place(&key, 10, b"", &mut c, &tag),
            Err(AeadError::BadTag)
        );
        a[0] ^= 1;
        assert_eq!(
            RustCryptoAead::open_in_place(&key, 9, b"", &mut a, &tag),
            Err(AeadError::BadTag)
        );
    }

    proptest! {
        #[test]
        fn back_ends_give_identical_bytes(
            key in any::<[u8; 32]>(),
            counter in any::<u64>(),
            aad in proptest::collection::vec(any::<u8>(), 0..48),
            pt in proptest::collection::vec(any::<u8>(), 0..1500),
        ) {
            let mut a = pt.clone();
            let mut b = pt.clone();
            let ta = RingAead::seal_in_place(&key, counter, &aad, &mut a).unwrap();
            let tb = RustCryptoAead::seal_in_place(&key, counter, &aad, &mut b).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(ta, tb);
            RingAead::open_in_place(&key, counter, &aad, &mut a, &ta).unwrap();
            prop_assert_eq!(a, pt);
        }
    }
}
