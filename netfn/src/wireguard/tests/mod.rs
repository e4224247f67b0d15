//! Engine-level tests: Ringwall against itself, against boringtun, negative
//! cases and property tests. Shared helpers live here.

mod burst;
mod engine;
mod fuzz;
mod interop;
mod timing;

use super::Rng;

/// A seeded, deterministic generator (SplitMix64) for tests: not
/// cryptographic, which is fine for reproducible keys and nonces here.
pub(crate) struct TestRng(u64);

impl TestRng {
    pub(crate) fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Rng for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

use super::{Engine, PeerConfig, Time, NANOS_PER_SEC};
use std::vec;
use std::vec::Vec;

/// Headroom the tests leave before inner packets, like the driver's 128.
pub(crate) const HEADROOM: usize = 128;

/// An IPv4 packet of `len` bytes (at least 20) from `src` to `dst` with a
/// correct total length; the payload is a pattern of `seed`.
pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], len: usize, seed: u8) -> Vec<u8> {
    let mut p = vec![0u8; len.max(20)];
    p[0] = 0x45;
    let n = p.len() as u16;
    p[2..4].copy_from_slice(&n.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8).wrapping_mul(31);
    }
    p
}

/// An IPv6 packet of `len` bytes (at least 40) from `src` to `dst`.
pub(crate) fn ipv6(src: [u8; 16], dst: [u8; 16], len: usize, seed: u8) -> Vec<u8> {
    let mut p = vec![0u8; len.max(40)];
    p[0] = 0x60;
    let n = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&n.to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    for (i, b) in p[40..].iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8).wrapping_mul(17);
    }
    p
}

/// A 2 KiB buffer holding `pkt` after the headroom, like a driver buffer.
pub(crate) fn in_buffer(pkt: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 2048];
    b[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    b
}

/// Time `s` seconds (plus `ns`) after an arbitrary origin; the wall clock
/// runs alongside from 2026.
pub(crate) fn at(s: u64, ns: u64) -> Time {
    let mono = s * NANOS_PER_SEC + ns;
    Time {
        mono_ns: mono,
        unix_ns: 1_780_000_000 * NANOS_PER_SEC + mono,
    }
}

/// A Ringwall engine with a key derived from `seed`.
pub(crate) fn engine(seed: u8) -> Engine<TestRng> {
    Engine::new([seed; 32], 51820, TestRng::new(seed as u64 * 1000 + 7))
}

/// The peer config of `e` as seen from the other side.
pub(crate) fn config_of(
    e: &Engine<TestRng>,
    allowed: &[&str],
    endpoint: Option<&str>,
    psk: Option<[u8; 32]>,
) -> PeerConfig {
    PeerConfig {
        public_key: e.public_key(),
        preshared_key: psk,
        endpoint: endpoint.map(|s| s.parse().unwrap()),
        allowed_ips: allowed.iter().map(|s| s.parse().unwrap()).collect(),
        persistent_keepalive: None,
    }
}
