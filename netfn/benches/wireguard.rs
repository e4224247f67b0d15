//! Data-path benchmark: Ringwall's zero-copy `encapsulate`/`decapsulate`
//! and its burst API (`encapsulate_burst`/`decapsulate_burst`, one AEAD
//! burst per 32 packets, on `ring` and on the SIMD back end) against
//! boringtun and against the raw AEADs (`ring`, the crypto floor, and
//! RustCrypto), on 64, 512 and 1420-byte inner packets in bursts of 32,
//! then the burst AEAD table (`netfn::simd`, see `common/burst.rs`).
//!
//! Own harness (no criterion) so the whole run stays short and the table is
//! printed in one piece. Every variant is timed in bursts of 32 packets with
//! the TSC; variants are interleaved round by round so that noise from other
//! work on the machine spreads evenly over them, and the median burst is
//! reported. Work that is not part of the measured operation (restoring the
//! plaintext before a seal, producing fresh ciphertext before an open) is
//! done outside the timed region for every variant alike. "cycles" are TSC
//! cycles (the nominal clock), converted to ns with a TSC frequency
//! calibrated against `Instant` at start-up.

use core::net::SocketAddr;
use netfn::simd::SimdAead;
use netfn::wireguard::aead::nonce;
use netfn::wireguard::{
    Aead, Decap, DecapPacket, Encap, EncapPacket, Engine, Error, PeerConfig, RingAead, Rng,
    RustCryptoAead, Time,
};
use std::time::Instant;

#[path = "common/burst.rs"]
mod burst;

const BURST: usize = 32;
const HEADROOM: usize = 128;
const ROUNDS: usize = 150;
const BURSTS_PER_ROUND: usize = 40;
const SIZES: [usize; 3] = [64, 512, 1420];

/// Non-cryptographic generator for the benchmark's keys and indices.
struct SplitMix(u64);

impl Rng for SplitMix {
    fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let v = (z ^ (z >> 31)).to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

fn rdtsc() -> u64 {
    // Safety: RDTSC has no memory effects; every x86_64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn tsc_ghz() -> f64 {
    let t0 = Instant::now();
    let c0 = rdtsc();
    while t0.elapsed().as_millis() < 200 {}
    let c1 = rdtsc();
    (c1 - c0) as f64 / t0.elapsed().as_nanos() as f64
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn ipv4_packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 1, 0, 5]);
    p[16..20].copy_from_slice(&[10, 2, 0, 9]);
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

const NOW: Time = Time {
    mono_ns: 1_000_000_000,
    unix_ns: 1_780_000_000_000_000_000,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Two Ringwall engines with an established session, A → B.
fn ringwall_pair<A: Aead>() -> (Engine<SplitMix, A>, Engine<SplitMix, A>) {
    let mut a: Engine<SplitMix, A> = Engine::new([1; 32], 51820, SplitMix(1));
    let mut b: Engine<SplitMix, A> = Engine::new([2; 32], 51820, SplitMix(2));
    let cfg = |pk, ips: &str, ep: Option<&str>| PeerConfig {
        public_key: pk,
        preshared_key: None,
        endpoint: ep.map(addr),
        allowed_ips: vec![ips.parse().unwrap()],
        persistent_keepalive: None,
    };
    a.add_peer(&cfg(
        b.public_key(),
        "10.2.0.0/16",
        Some("198.51.100.2:51820"),
    ))
    .unwrap();
    b.add_peer(&cfg(a.public_key(), "10.1.0.0/16", None))
        .unwrap();
    let p = ipv4_packet(64);
    let mut buf = vec![0u8; 2048];
    buf[HEADROOM..HEADROOM + 64].copy_from_slice(&p);
    let mut out = [0u8; 256];
    let Ok(Encap::NoSession {
        initiation: Some((n, _)),
        ..
    }) = a.encapsulate(NOW, &mut buf, HEADROOM, 64, &mut out)
    else {
        panic!("no initiation")
    };
    let mut m = out[..n].to_vec();
    let mut reply = [0u8; 256];
    let Ok(Decap::Reply { len, .. }) =
        b.decapsulate(NOW, addr("192.0.2.1:51820"), &mut m, 0, n, &mut reply)
    else {
        panic!("no response")
    };
    let mut r = reply[..len].to_vec();
    let Ok(Decap::HandshakeComplete { len, .. }) =
        a.decapsulate(NOW, addr("198.51.100.2:51820"), &mut r, 0, len, &mut out)
    else {
        panic!("no completion")
    };
    let mut k = out[..len].to_vec();
    b.decapsulate(NOW, addr("192.0.2.1:51820"), &mut k, 0, len, &mut reply)
        .unwrap();
    (a, b)
}

fn boringtun_pair() -> (boringtun::noise::Tunn, boringtun::noise::Tunn) {
    use boringtun::noise::{Tunn, TunnResult};
    use boringtun::x25519::{PublicKey, StaticSecret};
    let sa = StaticSecret::from([1u8; 32]);
    let sb = StaticSecret::from([2u8; 32]);
    let (pa, pb) = (PublicKey::from(&sa), PublicKey::from(&sb));
    let mut a = Tunn::new(sa, pb, None, None, 1, None);
    let mut b = Tunn::new(sb, pa, None, None, 2, None);
    let mut d1 = vec![0u8; 2048];
    let mut d2 = vec![0u8; 2048];
    let TunnResult::WriteToNetwork(init) = a.format_handshake_initiation(&mut d1, false) else {
        panic!()
    };
    let TunnResult::WriteToNetwork(resp) = b.decapsulate(None, init, &mut d2) else {
        panic!()
    };
    let TunnResult::WriteToNetwork(ka) = a.decapsulate(None, resp, &mut d1) else {
        panic!()
    };
    let ka = ka.to_vec();
    let _ = b.decapsulate(None, &ka, &mut d2);
    (a, b)
}

/// Medians of per-burst TSC cycles, one list per variant.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn median_per_packet(&mut self) -> f64 {
        self.0.sort_unstable();
        // WG_BENCH_PERCENTILE=5 reports a low percentile instead of the
        // median: on a busy machine it shows what the code can do unhindered.
        let pct = std::env::var("WG_BENCH_PERCENTILE")
            .ok()
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(50)
            .min(100);
        let i = (self.0.len() * pct / 100).min(self.0.len() - 1);
        self.0[i] as f64 / BURST as f64
    }
}

/// One size's worth of state for every variant.
struct Bench {
    size: usize,
    padded: usize,
    pristine: Vec<u8>,
    bufs: Vec<Vec<u8>>,
    ring_a: Engine<SplitMix, RingAead>,
    ring_b: Engine<SplitMix, RingAead>,
    rc_a: Engine<SplitMix, RustCryptoAead>,
    rc_b: Engine<SplitMix, RustCryptoAead>,
    simd_a: Engine<SplitMix, SimdAead>,
    simd_b: Engine<SplitMix, SimdAead>,
    enc_results: Vec<Result<Encap, Error>>,
    dec_results: Vec<Result<Decap, Error>>,
    bt_a: boringtun::noise::Tunn,
    bt_b: boringtun::noise::Tunn,
    bt_dst: Vec<Vec<u8>>,
    bt_lens: Vec<usize>,
    raw_key: [u8; 32],
    ring_key: ring::aead::LessSafeKey,
    rc_key: chacha20poly1305::ChaCha20Poly1305,
    raw_counter: u64,
    raw_tags: Vec<[u8; 16]>,
    spans: Vec<(usize, usize)>,
    out: Vec<u8>,
}

const VARIANTS: [&str; 14] = [
    "ring seal (floor)",
    "Ringwall encapsulate (ring)",
    "Ringwall encapsulate (RustCrypto)",
    "boringtun encapsulate",
    "RustCrypto seal",
    "ring open (floor)",
    "Ringwall decapsulate (ring)",
    "Ringwall decapsulate (RustCrypto)",
    "boringtun decapsulate",
    "RustCrypto open",
    "Ringwall encapsulate burst (ring)",
    "Ringwall encapsulate burst (simd)",
    "Ringwall decapsulate burst (ring)",
    "Ringwall decapsulate burst (simd)",
];

/// The order the table prints the variants in: the sealing side, then the
/// opening side, each next to its floor and boringtun.
const TABLE: [usize; 14] = [0, 1, 10, 11, 2, 3, 4, 5, 6, 12, 13, 7, 8, 9];

/// True for the variants compared with the seal floor and boringtun's
/// encapsulate (the others with the open floor and boringtun's decapsulate).
fn sealing(v: usize) -> bool {
    v < 5 || v == 10 || v == 11
}

/// Seals the burst in `bufs` with one `encapsulate_burst` call (timed, the
/// burst descriptors included: a caller builds them too) and records each
/// message's span.
fn encap_burst<A: Aead>(
    e: &mut Engine<SplitMix, A>,
    bufs: &mut [Vec<u8>],
    size: usize,
    results: &mut [Result<Encap, Error>],
    spans: &mut [(usize, usize)],
    out: &mut [u8],
) -> u64 {
    let t0 = rdtsc();
    let mut it = bufs.iter_mut();
    let mut pkts: [EncapPacket<'_>; BURST] = core::array::from_fn(|_| EncapPacket {
        buf: it.next().map_or(&mut [][..], |b| &mut b[..]),
        start: HEADROOM,
        len: size,
    });
    let n = e.encapsulate_burst(NOW, &mut pkts, results, out);
    let t = rdtsc() - t0;
    assert_eq!(n, BURST);
    for (r, span) in results.iter().zip(spans.iter_mut()) {
        let Ok(Encap::Sealed { start, len, .. }) = *r else {
            panic!("encapsulate_burst: {r:?}")
        };
        *span = (start, len);
    }
    t
}

/// Opens the burst in `bufs` (messages at `spans`) with one
/// `decapsulate_burst` call, timed like `encap_burst`.
fn decap_burst<A: Aead>(
    e: &mut Engine<SplitMix, A>,
    bufs: &mut [Vec<u8>],
    spans: &[(usize, usize)],
    results: &mut [Result<Decap, Error>],
    out: &mut [u8],
) -> u64 {
    let src = addr("192.0.2.1:51820");
    let t0 = rdtsc();
    let mut it = bufs.iter_mut().zip(spans);
    let mut pkts: [DecapPacket<'_>; BURST] = core::array::from_fn(|_| {
        let (buf, &(start, len)) = it
            .next()
            .map_or((&mut [][..], &(0, 0)), |(b, s)| (&mut b[..], s));
        DecapPacket {
            buf,
            start,
            len,
            src,
        }
    });
    let n = e.decapsulate_burst(NOW, &mut pkts, results, out);
    let t = rdtsc() - t0;
    assert_eq!(n, BURST);
    for r in results.iter() {
        if !matches!(r, Ok(Decap::Data { .. })) {
            panic!("decapsulate_burst: {r:?}");
        }
    }
    t
}

impl Bench {
    fn new(size: usize) -> Bench {
        let (ring_a, ring_b) = ringwall_pair::<RingAead>();
        let (rc_a, rc_b) = ringwall_pair::<RustCryptoAead>();
        let (simd_a, simd_b) = ringwall_pair::<SimdAead>();
        let (bt_a, bt_b) = boringtun_pair();
        Bench {
            size,
            // Padded as the engine pads: to 16, but not beyond the 1420 MTU.
            padded: ((size + 15) & !15).min(1420.max(size)),
            pristine: ipv4_packet(size),
            bufs: vec![vec![0u8; 2048]; BURST],
            ring_a,
            ring_b,
            rc_a,
            rc_b,
            simd_a,
            simd_b,
            enc_results: vec![Err(Error::Malformed); BURST],
            dec_results: vec![Err(Error::Malformed); BURST],
            bt_a,
            bt_b,
            bt_dst: vec![vec![0u8; 2048]; BURST],
            bt_lens: vec![0; BURST],
            raw_key: [7; 32],
            ring_key: ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &[7; 32]).unwrap(),
            ),
            rc_key: {
                use chacha20poly1305::KeyInit;
                chacha20poly1305::ChaCha20Poly1305::new(&[7u8; 32].into())
            },
            raw_counter: 0,
            raw_tags: vec![[0; 16]; BURST],
            spans: vec![(0, 0); BURST],
            out: vec![0u8; 256],
        }
    }

    fn restore(&mut self) {
        for b in self.bufs.iter_mut() {
            b[HEADROOM..HEADROOM + self.size].copy_from_slice(&self.pristine);
        }
    }

    /// Runs variant `v` once on a burst; returns the TSC cycles of the timed part.
    fn run(&mut self, v: usize) -> u64 {
        let (size, padded) = (self.size, self.padded);
        match v {
            0 | 4 => {
                self.restore();
                let t0 = rdtsc();
                for (b, tag) in self.bufs.iter_mut().zip(self.raw_tags.iter_mut()) {
                    let p = &mut b[HEADROOM..HEADROOM + padded];
                    let n = nonce(self.raw_counter);
                    if v == 0 {
                        let t = self
                            .ring_key
                            .seal_in_place_separate_tag(
                                ring::aead::Nonce::assume_unique_for_key(n),
                                ring::aead::Aad::empty(),
                                p,
                            )
                            .unwrap();
                        tag.copy_from_slice(t.as_ref());
                    } else {
                        use chacha20poly1305::aead::AeadInPlace;
                        let t = self
                            .rc_key
                            .encrypt_in_place_detached(&n.into(), &[], p)
                            .unwrap();
                        tag.copy_from_slice(&t);
                    }
                }
                rdtsc() - t0
            }
            5 | 9 => {
                self.restore();
                self.raw_counter += 1;
                for (b, tag) in self.bufs.iter_mut().zip(self.raw_tags.iter_mut()) {
                    *tag = RingAead::seal_in_place(
                        &self.raw_key,
                        self.raw_counter,
                        &[],
                        &mut b[HEADROOM..HEADROOM + padded],
                    )
                    .unwrap();
                }
                let t0 = rdtsc();
                for (b, tag) in self.bufs.iter_mut().zip(self.raw_tags.iter()) {
                    let p = &mut b[HEADROOM..HEADROOM + padded];
                    let n = nonce(self.raw_counter);
                    if v == 5 {
                        self.ring_key
                            .open_in_place_separate_tag(
                                ring::aead::Nonce::assume_unique_for_key(n),
                                ring::aead::Aad::empty(),
                                ring::aead::Tag::from(*tag),
                                p,
                                0..,
                            )
                            .unwrap();
                    } else {
                        use chacha20poly1305::aead::AeadInPlace;
                        self.rc_key
                            .decrypt_in_place_detached(&n.into(), &[], p, tag.into())
                            .unwrap();
                    }
                }
                rdtsc() - t0
            }
            1 | 2 => {
                self.restore();
                let t0 = rdtsc();
                for (b, span) in self.bufs.iter_mut().zip(self.spans.iter_mut()) {
                    let r = if v == 1 {
                        self.ring_a
                            .encapsulate(NOW, b, HEADROOM, size, &mut self.out)
                    } else {
                        self.rc_a.encapsulate(NOW, b, HEADROOM, size, &mut self.out)
                    };
                    if let Ok(Encap::Sealed { start, len, .. }) = r {
                        *span = (start, len);
                    } else {
                        panic!("encapsulate: {r:?}");
                    }
                }
                rdtsc() - t0
            }
            6 | 7 => {
                // Fresh ciphertext from the partner engine, then time the opens.
                self.run(if v == 6 { 1 } else { 2 });
                let src = addr("192.0.2.1:51820");
                let t0 = rdtsc();
                for (b, &(start, len)) in self.bufs.iter_mut().zip(self.spans.iter()) {
                    let r = if v == 6 {
                        self.ring_b
                            .decapsulate(NOW, src, b, start, len, &mut self.out)
                    } else {
                        self.rc_b
                            .decapsulate(NOW, src, b, start, len, &mut self.out)
                    };
                    if !matches!(r, Ok(Decap::Data { .. })) {
                        panic!("decapsulate: {r:?}");
                    }
                }
                rdtsc() - t0
            }
            3 => {
                let t0 = rdtsc();
                for (d, n) in self.bt_dst.iter_mut().zip(self.bt_lens.iter_mut()) {
                    match self.bt_a.encapsulate(&self.pristine, d) {
                        boringtun::noise::TunnResult::WriteToNetwork(p) => *n = p.len(),
                        _ => panic!("boringtun encapsulate"),
                    }
                }
                rdtsc() - t0
            }
            8 => {
                self.run(3);
                let t0 = rdtsc();
                for (d, &n) in self.bt_dst.iter().zip(self.bt_lens.iter()) {
                    let b = &mut self.bufs[0];
                    match self.bt_b.decapsulate(None, &d[..n], b) {
                        boringtun::noise::TunnResult::WriteToTunnelV4(..) => {}
                        _ => panic!("boringtun decapsulate"),
                    }
                }
                rdtsc() - t0
            }
            10 => {
                self.restore();
                encap_burst(
                    &mut self.ring_a,
                    &mut self.bufs,
                    size,
                    &mut self.enc_results,
                    &mut self.spans,
                    &mut self.out,
                )
            }
            11 => {
                self.restore();
                encap_burst(
                    &mut self.simd_a,
                    &mut self.bufs,
                    size,
                    &mut self.enc_results,
                    &mut self.spans,
                    &mut self.out,
                )
            }
            12 => {
                self.run(10);
                decap_burst(
                    &mut self.ring_b,
                    &mut self.bufs,
                    &self.spans,
                    &mut self.dec_results,
                    &mut self.out,
                )
            }
            13 => {
                self.run(11);
                decap_burst(
                    &mut self.simd_b,
                    &mut self.bufs,
                    &self.spans,
                    &mut self.dec_results,
                    &mut self.out,
                )
            }
            _ => 0,
        }
    }
}

fn main() {
    // `cargo bench` passes "--bench"; `cargo test --benches` does not, and
    // then a smoke run of one round is enough.
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { ROUNDS } else { 1 };
    let ghz = tsc_ghz();
    println!("CPU: {}", cpu_model());
    println!("TSC: {ghz:.3} GHz (cycles below are TSC cycles; ns = cycles / TSC GHz)");
    println!(
        "bursts of {BURST}, {rounds} rounds x {BURSTS_PER_ROUND} bursts per variant, median burst; Gbit/s counts inner packet bytes"
    );
    println!("burst AEAD path: {}", netfn::simd::path().name());
    // WG_BENCH_BURST_ONLY=1 runs only the burst AEAD table.
    if std::env::var("WG_BENCH_BURST_ONLY").is_ok() {
        burst::run(full, ghz);
        return;
    }
    // WG_BENCH_PAIR=<a>,<b>:<size> alternates two variants burst by burst
    // and reports the median of their paired differences: the host's slow
    // and fast spells (docs/engine-bench.md) hit both alike, so the gap
    // between two code paths shows to a few cycles where their separate
    // medians swing by tens.
    if let Some((a, b, size)) = std::env::var("WG_BENCH_PAIR").ok().and_then(|s| {
        let (ab, n) = s.split_once(':')?;
        let (a, b) = ab.split_once(',')?;
        Some((
            a.parse::<usize>().ok()?,
            b.parse::<usize>().ok()?,
            n.parse::<usize>().ok()?,
        ))
    }) {
        let mut bench = Bench::new(size);
        let (mut sa, mut sb) = (Samples::default(), Samples::default());
        let mut diff: Vec<i64> = Vec::new();
        for _ in 0..100_000 {
            let ta = bench.run(a);
            let tb = bench.run(b);
            sa.0.push(ta);
            sb.0.push(tb);
            diff.push(tb as i64 - ta as i64);
        }
        diff.sort_unstable();
        let per = |q: usize| diff[diff.len() * q / 100] as f64 / BURST as f64;
        println!(
            "{} {:.0}, {} {:.0} cycles/packet; paired difference b - a: median {:+.1}, quartiles {:+.1} .. {:+.1}",
            VARIANTS[a],
            sa.median_per_packet(),
            VARIANTS[b],
            sb.median_per_packet(),
            per(50),
            per(25),
            per(75)
        );
        return;
    }
    // WG_BENCH_ONLY=<variant index>:<size> loops one variant (for `perf`).
    if let Some((v, size)) = std::env::var("WG_BENCH_ONLY").ok().and_then(|s| {
        let (v, n) = s.split_once(':')?;
        Some((v.parse::<usize>().ok()?, n.parse::<usize>().ok()?))
    }) {
        let mut b = Bench::new(size);
        let mut s = Samples::default();
        for _ in 0..200_000 {
            s.0.push(b.run(v));
        }
        println!(
            "{}: {:.0} cycles/packet",
            VARIANTS[v],
            s.median_per_packet()
        );
        return;
    }
    for size in SIZES {
        let mut b = Bench::new(size);
        let mut samples: Vec<Samples> = (0..VARIANTS.len()).map(|_| Samples::default()).collect();
        for v in 0..VARIANTS.len() {
            for _ in 0..20 {
                b.run(v); // warm-up
            }
        }
        for _ in 0..rounds {
            for (v, s) in samples.iter_mut().enumerate() {
                for _ in 0..BURSTS_PER_ROUND {
                    s.0.push(b.run(v));
                }
            }
        }
        let cyc: Vec<f64> = samples.iter_mut().map(|s| s.median_per_packet()).collect();
        println!();
        println!("inner packet {size} B (sealed payload {} B)", b.padded);
        println!(
            "  {:<36} {:>9} {:>9} {:>8} {:>8} {:>9} {:>10}",
            "variant", "ns/pkt", "cyc/pkt", "Mpps", "Gbit/s", "vs floor", "vs boringtun"
        );
        for v in TABLE {
            let name = VARIANTS[v];
            let ns = cyc[v] / ghz;
            let floor = if sealing(v) { cyc[0] } else { cyc[5] };
            let bt = if sealing(v) { cyc[3] } else { cyc[8] };
            println!(
                "  {:<36} {:>9.1} {:>9.0} {:>8.3} {:>8.2} {:>8.1}% {:>9.2}x",
                name,
                ns,
                cyc[v],
                1e3 / ns,
                size as f64 * 8.0 / ns,
                100.0 * floor / cyc[v],
                bt / cyc[v],
            );
        }
    }
    burst::run(full, ghz);
}
