//! [`SimdAead`]: the WireGuard engine's AEAD trait with bursts in SIMD lanes.
//!
//! A single packet gains nothing from lanes (a whole 8-block ChaCha batch
//! for one key block and a few data blocks), so single `seal`/`open` go to
//! `ring` as before; `seal_burst`/`open_burst` go to the multi-buffer code
//! on the path chosen at start-up. The prepared key therefore holds both the
//! `ring` key and the raw 32 bytes that the lanes load; both are wiped on drop.

use super::{BurstError, Lane, TAG_LEN};
use crate::wireguard::aead::{nonce, Aead, AeadError, BurstJob, RingAead, RingKey};
use zeroize::Zeroize;

/// ChaCha20-Poly1305 with bursts sealed and opened across SIMD lanes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimdAead;

/// A prepared key: `ring`'s for single packets, the raw bytes for lanes.
pub struct SimdKey {
    ring: RingKey,
    raw: [u8; 32],
}

impl Drop for SimdKey {
    fn drop(&mut self) {
        self.raw.zeroize();
    }
}

impl Lane for BurstJob<'_, SimdKey> {
    fn key(&self) -> &[u8; 32] {
        &self.key.raw
    }
    fn nonce(&self) -> [u8; 12] {
        nonce(self.counter)
    }
    fn aad(&self) -> &[u8] {
        self.aad
    }
    fn data(&self) -> &[u8] {
        self.buf
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.buf
    }
    fn parts(&mut self) -> (&[u8], &mut [u8]) {
        (self.aad, self.buf)
    }
    fn tag(&mut self) -> &mut [u8; TAG_LEN] {
        &mut self.tag
    }
    fn ring_parts(&mut self) -> (Option<&ring::aead::LessSafeKey>, &[u8], &mut [u8]) {
        (Some(&self.key.ring.0), self.aad, self.buf)
    }
}

fn map(e: BurstError) -> AeadError {
    match e {
        BurstError::TooManyJobs => AeadError::TooManyJobs,
        BurstError::TooLong => AeadError::TooLong,
        // `path()` only ever holds an available path; mapped all the same.
        BurstError::Unsupported => AeadError::BadKey,
    }
}

impl Aead for SimdAead {
    type Key = SimdKey;

    fn prepare(key: &[u8; 32]) -> Result<SimdKey, AeadError> {
        Ok(SimdKey {
            ring: RingAead::prepare(key)?,
            raw: *key,
        })
    }

    #[inline(always)]
    fn seal(
        key: &SimdKey,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        RingAead::seal(&key.ring, counter, aad, buf, tag)
    }

    #[inline(always)]
    fn open(
        key: &SimdKey,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        RingAead::open(&key.ring, counter, aad, buf, tag)
    }

    fn burst_pays(lens: &[usize]) -> bool {
        super::lanes_pay(lens)
    }

    fn seal_burst(jobs: &mut [BurstJob<'_, SimdKey>]) -> Result<(), AeadError> {
        super::seal_burst(jobs).map_err(map)
    }

    fn open_burst(jobs: &mut [BurstJob<'_, SimdKey>]) -> Result<u32, AeadError> {
        super::open_burst(jobs).map_err(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wireguard::aead::RustCryptoAead;
    use std::vec::Vec;

    /// The trait's burst methods on SimdAead give the same bytes as the
    /// default one-at-a-time methods on the reference back end, and a
    /// forged job fails alone.
    #[test]
    fn trait_bursts_match_reference() {
        let keys: Vec<[u8; 32]> = (0..32u8).map(|i| [i.wrapping_mul(37); 32]).collect();
        let simd_keys: Vec<SimdKey> = keys.iter().map(|k| SimdAead::prepare(k).unwrap()).collect();
        let rc_keys: Vec<_> = keys
            .iter()
            .map(|k| RustCryptoAead::prepare(k).unwrap())
            .collect();
        let pts: Vec<Vec<u8>> = (0..32usize)
            .map(|i| (0..(i * 47) % 1421).map(|b| (b ^ i) as u8).collect())
            .collect();
        let mut a = pts.clone();
        let mut b = pts.clone();
        let mut ja: Vec<BurstJob<SimdKey>> = a
            .iter_mut()
            .enumerate()
            .map(|(i, buf)| BurstJob {
                key: &simd_keys[i],
                counter: i as u64 * 1000,
                aad: &[],
                buf,
                tag: [0; TAG_LEN],
            })
            .collect();
        let mut jb: Vec<BurstJob<_>> = b
            .iter_mut()
            .enumerate()
            .map(|(i, buf)| BurstJob {
                key: &rc_keys[i],
                counter: i as u64 * 1000,
                aad: &[],
                buf,
                tag: [0; TAG_LEN],
            })
            .collect();
        SimdAead::seal_burst(&mut ja).unwrap();
        RustCryptoAead::seal_burst(&mut jb).unwrap();
        for (x, y) in ja.iter().zip(&jb) {
            assert_eq!(x.buf, y.buf);
            assert_eq!(x.tag, y.tag);
        }
        ja[5].tag[3] ^= 4;
        assert_eq!(SimdAead::open_burst(&mut ja), Ok(!(1u32 << 5)));
        jb[5].tag[3] ^= 4;
        assert_eq!(RustCryptoAead::open_burst(&mut jb), Ok(!(1u32 << 5)));
        drop(ja);
        drop(jb);
        for i in (0..32).filter(|&i| i != 5) {
            assert_eq!(a[i], pts[i]);
            assert_eq!(b[i], pts[i]);
        }
    }

    #[test]
    fn too_many_jobs_refused_by_both() {
        let k = SimdAead::prepare(&[1; 32]).unwrap();
        let mut bufs = std::vec![[0u8; 4]; 33];
        let mut jobs: Vec<BurstJob<SimdKey>> = bufs
            .iter_mut()
            .map(|buf| BurstJob {
                key: &k,
                counter: 0,
                aad: &[],
                buf,
                tag: [0; TAG_LEN],
            })
            .collect();
        assert_eq!(SimdAead::seal_burst(&mut jobs), Err(AeadError::TooManyJobs));
        assert_eq!(SimdAead::open_burst(&mut jobs), Err(AeadError::TooManyJobs));
    }
}
