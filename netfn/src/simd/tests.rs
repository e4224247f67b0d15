//! Byte-identical checks of every path this machine has against `ring` and
//! RustCrypto: the RFC 8439 vector, 100,000 random jobs in random bursts,
//! forgery isolation between lanes, and property tests.

use super::*;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use proptest::prelude::*;
use std::vec::Vec;

/// A way through the code under test: a public path, or the AVX2 lanes
/// forced for every length (in use only up to `LANE_MAX_LEN`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    Public(Path),
    AllLanes,
}

/// Every way the machine runs; says loudly which it had to skip.
fn paths() -> Vec<Way> {
    let mut v = std::vec![Way::Public(Path::Scalar)];
    if Path::Avx2.is_available() {
        v.push(Way::Public(Path::Avx2));
        v.push(Way::AllLanes);
    } else {
        std::eprintln!("SKIPPED: AVX2 path not available on this CPU; only the scalar path tested");
    }
    v
}

fn seal_way(w: Way, jobs: &mut [Job]) {
    match w {
        Way::Public(p) => seal_burst_with(p, jobs).unwrap(),
        // SAFETY: `paths` offers AllLanes only where AVX2 is available.
        Way::AllLanes => unsafe { avx2_seal(jobs, usize::MAX).unwrap() },
    }
}

fn open_way(w: Way, jobs: &mut [Job]) -> u32 {
    match w {
        Way::Public(p) => open_burst_with(p, jobs).unwrap(),
        // SAFETY: `paths` offers AllLanes only where AVX2 is available.
        Way::AllLanes => unsafe { avx2_open(jobs, usize::MAX) },
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s: std::string::String = s.split_whitespace().collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Non-cryptographic generator for reproducible random jobs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = self.next() as u8;
        }
    }
}

/// An owned job for tests.
#[derive(Clone, Debug)]
struct Spec {
    key: [u8; 32],
    nonce: [u8; 12],
    aad: Vec<u8>,
    pt: Vec<u8>,
}

fn reference(s: &Spec) -> (Vec<u8>, [u8; 16]) {
    let mut a = s.pt.clone();
    let c = ChaCha20Poly1305::new((&s.key).into());
    let t = c
        .encrypt_in_place_detached((&s.nonce).into(), &s.aad, &mut a)
        .unwrap();
    let mut b = s.pt.clone();
    let k = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &s.key).unwrap(),
    );
    let t2 = k
        .seal_in_place_separate_tag(
            ring::aead::Nonce::assume_unique_for_key(s.nonce),
            ring::aead::Aad::from(&s.aad),
            &mut b,
        )
        .unwrap();
    assert_eq!(a, b, "ring and RustCrypto disagree");
    assert_eq!(t.as_slice(), t2.as_ref());
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&t);
    (a, tag)
}

/// Seals `specs` as one burst on `p`; returns ciphertexts and tags.
fn seal(p: Way, specs: &[Spec]) -> (Vec<Vec<u8>>, Vec<[u8; 16]>) {
    let mut bufs: Vec<Vec<u8>> = specs.iter().map(|s| s.pt.clone()).collect();
    let mut jobs: Vec<Job> = specs
        .iter()
        .zip(bufs.iter_mut())
        .map(|(s, b)| Job {
            key: &s.key,
            nonce: s.nonce,
            aad: &s.aad,
            buf: b,
            tag: [0; 16],
        })
        .collect();
    seal_way(p, &mut jobs);
    let tags = jobs.iter().map(|j| j.tag).collect();
    drop(jobs);
    (bufs, tags)
}

/// Opens a burst on `p`; returns the buffers and the verified mask.
fn open(p: Way, specs: &[Spec], cts: &[Vec<u8>], tags: &[[u8; 16]]) -> (Vec<Vec<u8>>, u32) {
    let mut bufs: Vec<Vec<u8>> = cts.to_vec();
    let mut jobs: Vec<Job> = specs
        .iter()
        .zip(bufs.iter_mut())
        .zip(tags)
        .map(|((s, b), t)| Job {
            key: &s.key,
            nonce: s.nonce,
            aad: &s.aad,
            buf: b,
            tag: *t,
        })
        .collect();
    let ok = open_way(p, &mut jobs);
    drop(jobs);
    (bufs, ok)
}

fn random_spec(rng: &mut SplitMix, max_len: u64) -> Spec {
    let mut s = Spec {
        key: [0; 32],
        nonce: [0; 12],
        aad: std::vec![0; if rng.below(4) == 0 { rng.below(40) as usize } else { 0 }],
        pt: std::vec![0; rng.below(max_len + 1) as usize],
    };
    rng.bytes(&mut s.key);
    rng.bytes(&mut s.nonce);
    rng.bytes(&mut s.aad);
    rng.bytes(&mut s.pt);
    s
}

/// Seals and opens `specs` on every path, checks against the references.
fn check_burst(specs: &[Spec]) {
    let want: Vec<_> = specs.iter().map(reference).collect();
    for p in paths() {
        let (cts, tags) = seal(p, specs);
        for (i, (ct, tag)) in cts.iter().zip(&tags).enumerate() {
            assert_eq!(
                ct,
                &want[i].0,
                "{p:?} job {i} ciphertext, len {}",
                specs[i].pt.len()
            );
            assert_eq!(
                tag,
                &want[i].1,
                "{p:?} job {i} tag, len {}",
                specs[i].pt.len()
            );
        }
        let (pts, ok) = open(p, specs, &cts, &tags);
        let all = if specs.len() == 32 {
            u32::MAX
        } else {
            (1u32 << specs.len()) - 1
        };
        assert_eq!(ok, all, "{p:?} open");
        for (i, pt) in pts.iter().enumerate() {
            assert_eq!(pt, &specs[i].pt, "{p:?} job {i} plaintext");
        }
    }
}

/// RFC 8439 section 2.8.2: the AEAD test vector, alone and in a full burst.
#[test]
fn rfc8439_aead_vector_on_every_path() {
    let spec = Spec {
        key: unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap(),
        nonce: unhex("070000004041424344454647").try_into().unwrap(),
        aad: unhex("50515253c0c1c2c3c4c5c6c7"),
        pt: b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec(),
    };
    let ct = unhex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b6116",
    );
    let tag = unhex("1ae10b594f09e26a7e902ecbd0600691");
    for p in paths() {
        for n in [1usize, 3, 32] {
            let specs = std::vec![spec.clone(); n];
            let (cts, tags) = seal(p, &specs);
            for (c, t) in cts.iter().zip(&tags) {
                assert_eq!(c, &ct, "{p:?} burst of {n}");
                assert_eq!(&t[..], &tag[..], "{p:?} burst of {n}");
            }
            let (pts, ok) = open(p, &specs, &cts, &tags);
            assert_eq!(ok.count_ones() as usize, n);
            assert!(pts.iter().all(|x| x == &spec.pt));
        }
    }
}

/// Every length around the block edges (ChaCha 64, Poly1305 16), in one burst.
#[test]
fn lengths_around_block_edges() {
    let mut rng = SplitMix(1);
    for base in [0usize, 16, 64, 128, 1408] {
        let specs: Vec<Spec> = (0..32)
            .map(|i| {
                let mut s = random_spec(&mut rng, 0);
                s.pt = std::vec![0; (base + i).saturating_sub(8)];
                rng.bytes(&mut s.pt);
                s
            })
            .collect();
        check_burst(&specs);
    }
}

/// Groups of four jobs with the same lengths (their own keys, nonces and
/// bytes) take the lanes' lockstep walk; bursts that mix such groups with
/// uneven ones take both walks in one call.
#[test]
fn groups_of_equal_lengths() {
    let mut rng = SplitMix(0xe9a1);
    let spec = |rng: &mut SplitMix, aad: usize, len: usize| {
        let mut s = random_spec(rng, 0);
        s.aad = std::vec![0; aad];
        s.pt = std::vec![0; len];
        rng.bytes(&mut s.aad);
        rng.bytes(&mut s.pt);
        s
    };
    for len in (0..=160).chain([511, 512, 513, 576, 767, 768, 1420, 1500]) {
        for aad in [0, 5, 16, 33] {
            let specs: Vec<Spec> = (0..8).map(|_| spec(&mut rng, aad, len)).collect();
            check_burst(&specs);
        }
    }
    for _ in 0..200 {
        // A few lengths, each repeated a few times: some sorted groups of
        // four are even, others straddle two lengths.
        let lens: Vec<usize> = (0..3).map(|_| rng.below(800) as usize).collect();
        let specs: Vec<Spec> = (0..4 + rng.below(29) as usize)
            .map(|_| {
                let len = lens[rng.below(3) as usize];
                spec(&mut rng, 0, len)
            })
            .collect();
        check_burst(&specs);
    }
}

/// 100,000 random jobs: random keys, nonces, lengths 0..1500, bursts of
/// 1..32 with mixed lengths, sometimes with AAD.
#[test]
fn hundred_thousand_random_jobs() {
    let mut rng = SplitMix(0x5eed);
    let mut done = 0;
    while done < 100_000 {
        let n = 1 + rng.below(32) as usize;
        let specs: Vec<Spec> = (0..n).map(|_| random_spec(&mut rng, 1500)).collect();
        check_burst(&specs);
        done += n;
    }
}

/// A flipped bit in one lane (ciphertext, tag or AAD) fails that lane alone;
/// every other lane still opens to its plaintext.
#[test]
fn forgery_fails_only_its_lane() {
    let mut rng = SplitMix(7);
    for round in 0..300 {
        let n = 1 + rng.below(32) as usize;
        let mut specs: Vec<Spec> = (0..n).map(|_| random_spec(&mut rng, 300)).collect();
        for p in paths() {
            let (mut cts, mut tags) = seal(p, &specs);
            let bad = rng.below(n as u64) as usize;
            let mut open_specs = specs.clone();
            match round % 3 {
                0 if !cts[bad].is_empty() => {
                    let bit = rng.below(cts[bad].len() as u64 * 8) as usize;
                    cts[bad][bit / 8] ^= 1 << (bit % 8);
                }
                1 if !open_specs[bad].aad.is_empty() => open_specs[bad].aad[0] ^= 0x80,
                _ => {
                    let bit = rng.below(128) as usize;
                    tags[bad][bit / 8] ^= 1 << (bit % 8);
                }
            }
            let (pts, ok) = open(p, &open_specs, &cts, &tags);
            for i in 0..n {
                if i == bad {
                    assert_eq!(ok & (1 << i), 0, "{p:?} forged lane {i} verified");
                } else {
                    assert_ne!(ok & (1 << i), 0, "{p:?} lane {i} hurt by lane {bad}");
                    assert_eq!(pts[i], specs[i].pt, "{p:?} lane {i} buffer");
                }
            }
            if p == Way::AllLanes {
                assert_eq!(pts[bad], cts[bad], "forged lane keeps its ciphertext");
            }
        }
        specs.clear();
    }
}

#[test]
fn empty_and_oversized_bursts() {
    for p in [Path::Scalar, Path::Avx2]
        .into_iter()
        .filter(|p| p.is_available())
    {
        let mut none: [Job; 0] = [];
        seal_burst_with(p, &mut none).unwrap();
        assert_eq!(open_burst_with(p, &mut none), Ok(0));
        let specs: Vec<Spec> = (0..33).map(|_| random_spec(&mut SplitMix(3), 10)).collect();
        let mut bufs: Vec<Vec<u8>> = specs.iter().map(|s| s.pt.clone()).collect();
        let mut jobs: Vec<Job> = specs
            .iter()
            .zip(bufs.iter_mut())
            .map(|(s, b)| Job {
                key: &s.key,
                nonce: s.nonce,
                aad: &s.aad,
                buf: b,
                tag: [0; 16],
            })
            .collect();
        assert_eq!(seal_burst_with(p, &mut jobs), Err(BurstError::TooManyJobs));
        assert_eq!(open_burst_with(p, &mut jobs), Err(BurstError::TooManyJobs));
        drop(jobs);
        assert!(
            bufs.iter().zip(&specs).all(|(b, s)| b == &s.pt),
            "refused burst untouched"
        );
    }
}

#[test]
fn detection_matches_std() {
    let std_says = std::is_x86_feature_detected!("avx2");
    assert_eq!(detect() == Path::Avx2, std_says);
    assert_eq!(set_path(Path::Scalar), Ok(()));
    assert_eq!(path(), Path::Scalar);
    if std_says {
        assert_eq!(set_path(Path::Avx2), Ok(()));
        assert_eq!(path(), Path::Avx2);
    } else {
        assert_eq!(set_path(Path::Avx2), Err(BurstError::Unsupported));
    }
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        any::<[u8; 32]>(),
        any::<[u8; 12]>(),
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::collection::vec(any::<u8>(), 0..1500),
    )
        .prop_map(|(key, nonce, aad, pt)| Spec {
            key,
            nonce,
            aad,
            pt,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bursts_match_references(specs in proptest::collection::vec(spec_strategy(), 1..=32)) {
        check_burst(&specs);
    }

    #[test]
    fn one_forged_lane_alone_fails(
        specs in proptest::collection::vec(spec_strategy(), 1..=32),
        pick in any::<usize>(),
        bit in 0usize..128,
    ) {
        for p in paths() {
            let (cts, mut tags) = seal(p, &specs);
            let bad = pick % specs.len();
            tags[bad][bit / 8] ^= 1 << (bit % 8);
            let (pts, ok) = open(p, &specs, &cts, &tags);
            for i in 0..specs.len() {
                prop_assert_eq!(ok & (1 << i) != 0, i != bad);
                if i != bad {
                    prop_assert_eq!(&pts[i], &specs[i].pt);
                }
            }
        }
    }
}
