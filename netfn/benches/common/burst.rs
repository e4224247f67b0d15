//! The burst AEAD part of the engine benchmark: `netfn::simd` sealing and
//! opening whole bursts (8, 16, 32 packets, one per SIMD lane) on every path
//! this CPU has, beside `ring` one packet at a time, boringtun's
//! encapsulate/decapsulate and Ringwall's own (ring) encapsulate/decapsulate
//! on the same packets in the same rounds, so the ratios share their noise.
//!
//! The burst rows go through the engine's AEAD trait (`SimdAead` with keys
//! prepared per session, as the data path would call it), each path forced
//! in turn. Each job has its own key (a burst mixes peers) and a WireGuard
//! counter nonce; buffers are the padded payload the engine seals (`SIZES` and an
//! IMIX of 7:4:1 64/576/1420-byte packets, interleaved). Timing as in the
//! main table: TSC cycles of the timed region only, median burst over
//! interleaved rounds, divided by the packets in the burst.

use super::{boringtun_pair, ipv4_packet, rdtsc, ringwall_pair, Samples, HEADROOM, NOW};
use netfn::simd::{self, Path, SimdAead, SimdKey};
use netfn::wireguard::aead::{nonce, BurstJob};
use netfn::wireguard::{Aead, Decap, Encap, Engine, RingAead};

const ROUNDS: usize = 40;
const BURSTS_PER_ROUND: usize = 25;
const BURST_SIZES: [usize; 3] = [8, 16, 32];
/// IMIX 7:4:1, interleaved so every burst of 8 or more holds a mix.
const IMIX: [usize; 12] = [64, 576, 64, 64, 576, 64, 1420, 64, 576, 64, 64, 576];

/// A row of the burst table.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    RingSeal,
    BurstSeal(Path),
    BoringtunEncap,
    RingwallEncap,
    RingOpen,
    BurstOpen(Path),
    BoringtunDecap,
    RingwallDecap,
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::RingSeal => "ring seal, one at a time".into(),
            Variant::BurstSeal(p) => format!("burst seal ({})", p.name()),
            Variant::BoringtunEncap => "boringtun encapsulate".into(),
            Variant::RingwallEncap => "Ringwall encapsulate (ring)".into(),
            Variant::RingOpen => "ring open, one at a time".into(),
            Variant::BurstOpen(p) => format!("burst open ({})", p.name()),
            Variant::BoringtunDecap => "boringtun decapsulate".into(),
            Variant::RingwallDecap => "Ringwall decapsulate (ring)".into(),
        }
    }

    fn is_seal(self) -> bool {
        matches!(
            self,
            Variant::RingSeal
                | Variant::BurstSeal(_)
                | Variant::BoringtunEncap
                | Variant::RingwallEncap
        )
    }
}

/// State for one packet mix and burst size.
struct BurstBench {
    lens: Vec<usize>,
    pristine: Vec<Vec<u8>>,
    bufs: Vec<Vec<u8>>,
    simd_keys: Vec<SimdKey>,
    ring_keys: Vec<ring::aead::LessSafeKey>,
    tags: Vec<[u8; 16]>,
    counter: u64,
    bt_a: boringtun::noise::Tunn,
    bt_b: boringtun::noise::Tunn,
    bt_dst: Vec<Vec<u8>>,
    bt_lens: Vec<usize>,
    rw_a: Engine<super::SplitMix, RingAead>,
    rw_b: Engine<super::SplitMix, RingAead>,
    spans: Vec<(usize, usize)>,
    out: Vec<u8>,
}

/// The payload length the engine seals for an inner packet (padded to 16,
/// not beyond the 1420-byte MTU).
fn padded(size: usize) -> usize {
    ((size + 15) & !15).min(1420.max(size))
}

impl BurstBench {
    fn new(n: usize, sizes: &[usize]) -> BurstBench {
        let lens: Vec<usize> = (0..n).map(|i| sizes[i % sizes.len()]).collect();
        let keys: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 ^ 0x5a; 32]).collect();
        let (bt_a, bt_b) = boringtun_pair();
        let (rw_a, rw_b) = ringwall_pair::<RingAead>();
        BurstBench {
            pristine: lens.iter().map(|&l| ipv4_packet(l)).collect(),
            lens,
            bufs: vec![vec![0u8; 2048]; n],
            ring_keys: keys
                .iter()
                .map(|k| {
                    ring::aead::LessSafeKey::new(
                        ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, k).unwrap(),
                    )
                })
                .collect(),
            simd_keys: keys.iter().map(|k| SimdAead::prepare(k).unwrap()).collect(),
            tags: vec![[0; 16]; n],
            counter: 0,
            bt_a,
            bt_b,
            bt_dst: vec![vec![0u8; 2048]; n],
            bt_lens: vec![0; n],
            rw_a,
            rw_b,
            spans: vec![(0, 0); n],
            out: vec![0u8; 256],
        }
    }

    fn restore(&mut self) {
        for ((b, p), &l) in self.bufs.iter_mut().zip(&self.pristine).zip(&self.lens) {
            b[HEADROOM..HEADROOM + l].copy_from_slice(p);
            b[HEADROOM + l..HEADROOM + padded(l)].fill(0);
        }
    }

    /// Seals or opens the padded payloads as one burst through the engine's
    /// AEAD trait (`SimdAead`, prepared per-session keys, as the data path
    /// would) on path `p`; returns TSC cycles.
    fn burst(&mut self, p: Path, seal: bool) -> u64 {
        simd::set_path(p).unwrap();
        let counter = self.counter;
        let mut jobs: Vec<BurstJob<SimdKey>> = self
            .bufs
            .iter_mut()
            .zip(&self.simd_keys)
            .zip(&self.lens)
            .zip(&self.tags)
            .map(|(((b, k), &l), t)| BurstJob {
                key: k,
                counter,
                aad: &[],
                buf: &mut b[HEADROOM..HEADROOM + padded(l)],
                tag: *t,
            })
            .collect();
        let t0 = rdtsc();
        if seal {
            SimdAead::seal_burst(&mut jobs).unwrap();
        } else {
            let ok = SimdAead::open_burst(&mut jobs).unwrap();
            assert_eq!(ok.count_ones() as usize, jobs.len());
        }
        let dt = rdtsc() - t0;
        if seal {
            for (t, j) in self.tags.iter_mut().zip(&jobs) {
                *t = j.tag;
            }
        }
        dt
    }

    fn ring_each(&mut self, seal: bool) -> u64 {
        let n = nonce(self.counter);
        let t0 = rdtsc();
        for (((b, k), &l), t) in self
            .bufs
            .iter_mut()
            .zip(&self.ring_keys)
            .zip(&self.lens)
            .zip(self.tags.iter_mut())
        {
            let p = &mut b[HEADROOM..HEADROOM + padded(l)];
            let nn = ring::aead::Nonce::assume_unique_for_key(n);
            if seal {
                let tag = k
                    .seal_in_place_separate_tag(nn, ring::aead::Aad::empty(), p)
                    .unwrap();
                t.copy_from_slice(tag.as_ref());
            } else {
                k.open_in_place_separate_tag(
                    nn,
                    ring::aead::Aad::empty(),
                    ring::aead::Tag::from(*t),
                    p,
                    0..,
                )
                .unwrap();
            }
        }
        rdtsc() - t0
    }

    /// Runs one variant on one burst; returns the TSC cycles of the timed part.
    fn run(&mut self, v: Variant) -> u64 {
        match v {
            Variant::RingSeal => {
                self.restore();
                self.counter += 1;
                self.ring_each(true)
            }
            Variant::BurstSeal(p) => {
                self.restore();
                self.counter += 1;
                self.burst(p, true)
            }
            Variant::RingOpen | Variant::BurstOpen(_) => {
                self.restore();
                self.counter += 1;
                self.ring_each(true);
                match v {
                    Variant::BurstOpen(p) => self.burst(p, false),
                    _ => self.ring_each(false),
                }
            }
            Variant::BoringtunEncap => {
                let t0 = rdtsc();
                for ((d, n), p) in self
                    .bt_dst
                    .iter_mut()
                    .zip(self.bt_lens.iter_mut())
                    .zip(&self.pristine)
                {
                    match self.bt_a.encapsulate(p, d) {
                        boringtun::noise::TunnResult::WriteToNetwork(w) => *n = w.len(),
                        _ => panic!("boringtun encapsulate"),
                    }
                }
                rdtsc() - t0
            }
            Variant::BoringtunDecap => {
                self.run(Variant::BoringtunEncap);
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
            Variant::RingwallEncap => {
                self.restore();
                let t0 = rdtsc();
                for ((b, span), &l) in self
                    .bufs
                    .iter_mut()
                    .zip(self.spans.iter_mut())
                    .zip(&self.lens)
                {
                    match self.rw_a.encapsulate(NOW, b, HEADROOM, l, &mut self.out) {
                        Ok(Encap::Sealed { start, len, .. }) => *span = (start, len),
                        r => panic!("encapsulate: {r:?}"),
                    }
                }
                rdtsc() - t0
            }
            Variant::RingwallDecap => {
                self.run(Variant::RingwallEncap);
                let src = super::addr("192.0.2.1:51820");
                let t0 = rdtsc();
                for (b, &(start, len)) in self.bufs.iter_mut().zip(self.spans.iter()) {
                    let r = self
                        .rw_b
                        .decapsulate(NOW, src, b, start, len, &mut self.out);
                    if !matches!(r, Ok(Decap::Data { .. })) {
                        panic!("decapsulate: {r:?}");
                    }
                }
                rdtsc() - t0
            }
        }
    }
}

/// Checks once that every path seals to the same bytes as `ring`, so the
/// table never times a wrong answer.
fn cross_check(b: &mut BurstBench, paths: &[Path]) {
    b.restore();
    b.counter += 1;
    b.ring_each(true);
    let want: Vec<Vec<u8>> = b.bufs.clone();
    let want_tags = b.tags.clone();
    for &p in paths {
        b.restore();
        b.burst(p, true);
        assert!(
            b.bufs == want && b.tags == want_tags,
            "{} differs from ring",
            p.name()
        );
    }
}

/// Runs and prints the burst table; `full` is false for a one-round smoke run.
pub fn run(full: bool, ghz: f64) {
    let rounds = if full { ROUNDS } else { 1 };
    let mut paths = vec![Path::Scalar];
    if Path::Avx2.is_available() {
        paths.push(Path::Avx2);
    } else {
        println!("burst AEAD: AVX2 path SKIPPED (CPU or OS lacks AVX2 state)");
    }
    println!();
    println!(
        "burst AEAD (netfn::simd), path in use: {}; {rounds} rounds x {BURSTS_PER_ROUND} bursts per variant, median burst / packets",
        simd::path().name()
    );
    println!("  'projected encapsulate' = Ringwall encapsulate (ring) - ring seal + burst seal, all from this table");
    let mixes: [(&str, &[usize]); 4] = [
        ("64 B", &[64]),
        ("512 B", &[512]),
        ("1420 B", &[1420]),
        ("IMIX 7:4:1 64/576/1420", &IMIX),
    ];
    let mut variants = vec![Variant::RingSeal];
    variants.extend(paths.iter().map(|&p| Variant::BurstSeal(p)));
    variants.extend([
        Variant::BoringtunEncap,
        Variant::RingwallEncap,
        Variant::RingOpen,
    ]);
    variants.extend(paths.iter().map(|&p| Variant::BurstOpen(p)));
    variants.extend([Variant::BoringtunDecap, Variant::RingwallDecap]);
    // WG_BENCH_BURST_N=<n> limits the table to one burst size (quicker runs).
    let only_n = std::env::var("WG_BENCH_BURST_N")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    // WG_BENCH_BURST_MIX=<label prefix> limits it to one packet mix.
    let only_mix = std::env::var("WG_BENCH_BURST_MIX").ok();
    for (label, sizes) in mixes
        .into_iter()
        .filter(|(l, _)| only_mix.as_deref().is_none_or(|m| l.starts_with(m)))
    {
        for n in BURST_SIZES
            .into_iter()
            .filter(|&n| only_n.is_none_or(|o| o == n))
        {
            let mut b = BurstBench::new(n, sizes);
            cross_check(&mut b, &paths);
            // WG_BENCH_BURST_SPIN=seal|open loops that AVX2 burst alone (for `perf`).
            if let Ok(what) = std::env::var("WG_BENCH_BURST_SPIN") {
                let p = *paths.last().unwrap_or(&Path::Scalar);
                let v = if what == "open" {
                    Variant::BurstOpen(p)
                } else {
                    Variant::BurstSeal(p)
                };
                let mut s = Samples::default();
                for _ in 0..200_000 {
                    s.0.push(b.run(v));
                }
                let c = s.median_per_packet() * 32.0 / n as f64;
                let probe = 0u8;
                println!(
                    "{label}, burst of {n}: {} {c:.0} cycles/packet (buf % 4096 = {}, stack % 4096 = {})",
                    v.name(),
                    (b.bufs[0].as_ptr() as usize + HEADROOM) % 4096,
                    core::ptr::addr_of!(probe) as usize % 4096
                );
                continue;
            }
            let mut samples: Vec<Samples> = variants.iter().map(|_| Samples::default()).collect();
            for &v in &variants {
                for _ in 0..10 {
                    b.run(v); // warm-up
                }
            }
            for _ in 0..rounds {
                for (&v, s) in variants.iter().zip(samples.iter_mut()) {
                    for _ in 0..BURSTS_PER_ROUND {
                        s.0.push(b.run(v));
                    }
                }
            }
            // Samples reports per 32 packets; rescale to this burst's size.
            let cyc: Vec<f64> = samples
                .iter_mut()
                .map(|s| s.median_per_packet() * 32.0 / n as f64)
                .collect();
            let at = |w: Variant| variants.iter().position(|&x| x == w).map(|i| cyc[i]);
            println!();
            println!("{label}, burst of {n}");
            println!(
                "  {:<40} {:>8} {:>8} {:>8} {:>9} {:>12}",
                "variant", "ns/pkt", "cyc/pkt", "Mpps", "vs ring", "vs boringtun"
            );
            let row = |name: &str, c: f64, seal: bool| {
                let (ring, bt) = if seal {
                    (at(Variant::RingSeal), at(Variant::BoringtunEncap))
                } else {
                    (at(Variant::RingOpen), at(Variant::BoringtunDecap))
                };
                let ns = c / ghz;
                println!(
                    "  {:<40} {:>8.1} {:>8.0} {:>8.3} {:>8.2}x {:>11.2}x",
                    name,
                    ns,
                    c,
                    1e3 / ns,
                    ring.unwrap_or(c) / c,
                    bt.unwrap_or(c) / c,
                );
            };
            for (&v, &c) in variants.iter().zip(&cyc) {
                row(&v.name(), c, v.is_seal());
            }
            for &p in &paths {
                let (Some(rw_e), Some(rs), Some(bs)) = (
                    at(Variant::RingwallEncap),
                    at(Variant::RingSeal),
                    at(Variant::BurstSeal(p)),
                ) else {
                    continue;
                };
                row(
                    &format!("projected encapsulate ({})", p.name()),
                    rw_e - rs + bs,
                    true,
                );
                let (Some(rw_d), Some(ro), Some(bo)) = (
                    at(Variant::RingwallDecap),
                    at(Variant::RingOpen),
                    at(Variant::BurstOpen(p)),
                ) else {
                    continue;
                };
                row(
                    &format!("projected decapsulate ({})", p.name()),
                    rw_d - ro + bo,
                    false,
                );
            }
        }
    }
    // The rows above forced each path in turn; back to the detected one.
    let _ = simd::set_path(simd::detect());
}
