//! Poly1305 (RFC 8439 section 2.5) for four messages at once: each 64-bit
//! lane of an AVX2 register holds one packet's accumulator limb, in radix
//! 2^26 (five limbs), so `vpmuludq` forms every 26x26-bit partial product
//! of four packets in one instruction and sums of five stay below 2^64.
//!
//! The AEAD message (RFC 8439 2.8: AAD, zero pad, ciphertext, zero pad,
//! both lengths) is a whole number of 16-byte blocks, all with the 2^128
//! bit. Each lane reads it as four runs of whole blocks: the AAD's whole
//! blocks and the ciphertext's straight from the buffers, the padded AAD
//! tail and the padded ciphertext tail plus the length block from a small
//! per-lane scratch. The loop runs as many steps as every lane can take
//! without changing run (only pointer increments between steps), so the
//! bookkeeping is per run, not per block. Jobs are sorted by length
//! (public) and taken four at a time; a lane that is done before the others
//! reads a zero block from then on and has its accumulator kept aside by a
//! blend (per-lane finish). Four messages of the same lengths, the usual
//! group in a burst of equal packets, skip that bookkeeping and walk their
//! runs in step. The final reduction and the addition of `s` run for the
//! four lanes in vector form too.

use core::arch::x86_64::*;

use super::{Lane, MAX_BURST, TAG_LEN};

const MASK26: u64 = (1 << 26) - 1;

/// Computes the tag of every job whose bit is set in `select` from its
/// Poly1305 key; the message is the job's AAD and current buffer
/// (ciphertext in both seal and open).
#[target_feature(enable = "avx2")]
pub(super) fn tags<L: Lane>(
    jobs: &[L],
    select: u32,
    keys: &[[u8; 32]; MAX_BURST],
    tags: &mut [[u8; TAG_LEN]; MAX_BURST],
) {
    // Sorted by (block count, index), packed in one word (index in the low
    // five bits), so each group of four has similar lengths and few lanes
    // idle; `lane_mask` chose the lanes for exactly these groups.
    let mut key = [0usize; MAX_BURST];
    let mut count = 0;
    for (i, j) in jobs.iter().enumerate().take(MAX_BURST) {
        if (select >> i) & 1 == 1 {
            let blocks = j.aad().len().div_ceil(16) + j.data().len().div_ceil(16) + 1;
            key[count] = (blocks << 5) | i;
            count += 1;
        }
    }
    key[..count].sort_unstable();
    let mut order = [0usize; MAX_BURST];
    for (o, &k) in order.iter_mut().zip(&key[..count]) {
        *o = k & 31;
    }
    for group in order[..count].chunks(4) {
        group4(jobs, group, keys, tags);
    }
}

/// Five limbs of four lanes.
type Limbs = [__m256i; 5];

/// `vpmuludq`: the 64-bit products of the low 32 bits of each lane.
///
/// Inline assembly, not `_mm256_mul_epu32`: that intrinsic is a 64-bit
/// multiply of two masked operands, and once LLVM has proven the limbs
/// narrow it drops the masks, then (not seeing the bound across the loop's
/// back edge) emits a full 64x64-bit multiply, three multiplies and two
/// shifts where one instruction does; that tripled the cost of a step.
macro_rules! mul32 {
    ($x:expr, $y:expr) => {{
        let (x, y): (__m256i, __m256i) = ($x, $y);
        let p: __m256i;
        // SAFETY: AVX2 is enabled in every function that uses this macro
        // (all are `#[target_feature(enable = "avx2")]`); the instruction
        // only reads and writes the named registers.
        unsafe {
            core::arch::asm!(
                "vpmuludq {p}, {x}, {y}",
                p = lateout(ymm_reg) p,
                x = in(ymm_reg) x,
                y = in(ymm_reg) y,
                options(pure, nomem, nostack, preserves_flags),
            )
        };
        p
    }};
}

/// h = (h + m) * r mod 2^130 - 5, partially reduced (limbs just over 2^26).
/// `s` holds 5·r, which folds the limbs past 2^130 back in.
/// A macro, not a function: `#[inline(always)]` is refused beside
/// `#[target_feature]`, and left to itself LLVM kept this out of line, with
/// every limb passed through memory.
macro_rules! step {
    ($h:expr, $m:expr, $r:expr, $s:expr) => {{
        let (h, m, r, s): (&mut Limbs, &Limbs, &Limbs, &Limbs) = (&mut $h, &$m, &$r, &$s);
        let a = [
            _mm256_add_epi64(h[0], m[0]),
            _mm256_add_epi64(h[1], m[1]),
            _mm256_add_epi64(h[2], m[2]),
            _mm256_add_epi64(h[3], m[3]),
            _mm256_add_epi64(h[4], m[4]),
        ];
        let mul = |x, y| mul32!(x, y);
        let add = |x, y| _mm256_add_epi64(x, y);
        let mut d0 = add(
            add(mul(a[0], r[0]), mul(a[1], s[4])),
            add(add(mul(a[2], s[3]), mul(a[3], s[2])), mul(a[4], s[1])),
        );
        let mut d1 = add(
            add(mul(a[0], r[1]), mul(a[1], r[0])),
            add(add(mul(a[2], s[4]), mul(a[3], s[3])), mul(a[4], s[2])),
        );
        let mut d2 = add(
            add(mul(a[0], r[2]), mul(a[1], r[1])),
            add(add(mul(a[2], r[0]), mul(a[3], s[4])), mul(a[4], s[3])),
        );
        let mut d3 = add(
            add(mul(a[0], r[3]), mul(a[1], r[2])),
            add(add(mul(a[2], r[1]), mul(a[3], r[0])), mul(a[4], s[4])),
        );
        let mut d4 = add(
            add(mul(a[0], r[4]), mul(a[1], r[3])),
            add(add(mul(a[2], r[2]), mul(a[3], r[1])), mul(a[4], r[0])),
        );
        // Two interleaved carry chains (0→1→2→3, 3→4→0→1) halve the latency.
        let m26 = _mm256_set1_epi64x(MASK26 as i64);
        let c0 = _mm256_srli_epi64::<26>(d0);
        let c3 = _mm256_srli_epi64::<26>(d3);
        d0 = _mm256_and_si256(d0, m26);
        d3 = _mm256_and_si256(d3, m26);
        d1 = add(d1, c0);
        d4 = add(d4, c3);
        let c1 = _mm256_srli_epi64::<26>(d1);
        let c4 = _mm256_srli_epi64::<26>(d4);
        d1 = _mm256_and_si256(d1, m26);
        d4 = _mm256_and_si256(d4, m26);
        d2 = add(d2, c1);
        d0 = add(d0, add(c4, _mm256_slli_epi64::<2>(c4)));
        let c2 = _mm256_srli_epi64::<26>(d2);
        let c0 = _mm256_srli_epi64::<26>(d0);
        d2 = _mm256_and_si256(d2, m26);
        d0 = _mm256_and_si256(d0, m26);
        d3 = add(d3, c2);
        d1 = add(d1, c0);
        let c3 = _mm256_srli_epi64::<26>(d3);
        d3 = _mm256_and_si256(d3, m26);
        d4 = add(d4, c3);
        *h = [d0, d1, d2, d3, d4];
    }};
}

/// Splits four 16-byte values (two 64-bit halves per lane) into radix-2^26
/// limbs; `top` is ORed into the fifth limb (the 2^128 bit of a block).
#[target_feature(enable = "avx2")]
fn split(lo: __m256i, hi: __m256i, top: __m256i) -> Limbs {
    let m = _mm256_set1_epi64x(MASK26 as i64);
    [
        _mm256_and_si256(lo, m),
        _mm256_and_si256(_mm256_srli_epi64::<26>(lo), m),
        _mm256_and_si256(
            _mm256_or_si256(_mm256_srli_epi64::<52>(lo), _mm256_slli_epi64::<12>(hi)),
            m,
        ),
        _mm256_and_si256(_mm256_srli_epi64::<14>(hi), m),
        _mm256_or_si256(_mm256_srli_epi64::<40>(hi), top),
    ]
}

/// Gathers four 16-byte values into their low and high 64-bit halves, lanes
/// in order 0, 1, 2, 3.
#[target_feature(enable = "avx2")]
fn halves(b0: __m128i, b1: __m128i, b2: __m128i, b3: __m128i) -> (__m256i, __m256i) {
    // a = [lo0 hi0 | lo2 hi2], b = [lo1 hi1 | lo3 hi3].
    let a = _mm256_set_m128i(b2, b0);
    let b = _mm256_set_m128i(b3, b1);
    (_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b))
}

/// One message block per lane as limbs with the 2^128 bit.
#[target_feature(enable = "avx2")]
fn to_limbs(b0: __m128i, b1: __m128i, b2: __m128i, b3: __m128i) -> Limbs {
    let (lo, hi) = halves(b0, b1, b2, b3);
    split(lo, hi, _mm256_set1_epi64x(1 << 24))
}

/// One 16-byte message block from each of four pointers, as limbs.
///
/// # Safety
/// Each pointer must have 16 readable bytes (unaligned loads).
#[target_feature(enable = "avx2")]
unsafe fn load4(p: &[*const u8; 4]) -> Limbs {
    // SAFETY: the caller vouches for 16 readable bytes behind each pointer.
    unsafe {
        to_limbs(
            _mm_loadu_si128(p[0].cast()),
            _mm_loadu_si128(p[1].cast()),
            _mm_loadu_si128(p[2].cast()),
            _mm_loadu_si128(p[3].cast()),
        )
    }
}

/// All ones in 64-bit lane `l` of a mask, zeros elsewhere.
const LANE_MASKS: [[i64; 4]; 4] = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0], [0, 0, 0, -1]];

/// A zero block that finished (and absent) lanes read.
static ZERO_BLOCK: [u8; 16] = [0; 16];

/// Runs up to four jobs (indices `group`) through Poly1305 in the lanes.
#[target_feature(enable = "avx2")]
fn group4<L: Lane>(
    jobs: &[L],
    group: &[usize],
    keys: &[[u8; 32]; MAX_BURST],
    tags: &mut [[u8; TAG_LEN]; MAX_BURST],
) {
    let lanes = group.len();
    let zero = ZERO_BLOCK.as_ptr();
    // Per lane: the padded AAD tail (bytes 0..16), then the padded
    // ciphertext tail if any and the length block (16..48).
    let mut pad = [[0u8; 48]; 4];
    // Per lane, four runs (start, whole blocks): AAD, AAD tail, ciphertext,
    // ciphertext tail with the length block.
    let mut runs = [[(zero, 0usize); 4]; 4];
    for (l, &j) in group.iter().enumerate() {
        let (aad, ct) = (jobs[j].aad(), jobs[j].data());
        let (af, at) = (aad.len() / 16, aad.len() % 16);
        let (cf, ctl) = (ct.len() / 16, ct.len() % 16);
        // Byte loops, not `copy_from_slice`: these are 0 to 15 bytes, and
        // a `memmove` call each cost more than the copying.
        for (d, &b) in pad[l][..at].iter_mut().zip(&aad[af * 16..]) {
            *d = b;
        }
        for (d, &b) in pad[l][16..16 + ctl].iter_mut().zip(&ct[cf * 16..]) {
            *d = b;
        }
        let lb = if ctl > 0 { 32 } else { 16 };
        let lens = (aad.len() as u128) | ((ct.len() as u128) << 64);
        pad[l][lb..lb + 16].copy_from_slice(&lens.to_le_bytes());
        runs[l] = [
            (aad.as_ptr(), af),
            (pad[l].as_ptr(), usize::from(at > 0)),
            (ct.as_ptr(), cf),
            (pad[l][16..].as_ptr(), 1 + usize::from(ctl > 0)),
        ];
    }

    // r (RFC 8439 2.5): each key's first 16 bytes, clamped; absent lanes
    // keep r = 0 and only ever read zero blocks.
    let key_half = |l: usize, off: usize| {
        if l < lanes {
            // SAFETY: `keys[group[l]]` is 32 readable bytes and `off` is 0
            // or 16 (unaligned 16-byte load).
            unsafe { _mm_loadu_si128(keys[group[l]].as_ptr().add(off).cast()) }
        } else {
            _mm_setzero_si128()
        }
    };
    let clamp = _mm_set_epi32(0x0fff_fffc, 0x0fff_fffc, 0x0fff_fffc, 0x0fff_ffff);
    let rk = |l| _mm_and_si128(key_half(l, 0), clamp);
    let (rlo, rhi) = halves(rk(0), rk(1), rk(2), rk(3));
    let r = split(rlo, rhi, _mm256_setzero_si256());
    let five = |x| _mm256_add_epi64(x, _mm256_slli_epi64::<2>(x));
    let s: Limbs = [r[0], five(r[1]), five(r[2]), five(r[3]), five(r[4])];
    let mut h: Limbs = [_mm256_setzero_si256(); 5];
    // Reduces the four accumulators, adds each key's `s` and stores the tags.
    let finish = |acc: Limbs, tags: &mut [[u8; TAG_LEN]; MAX_BURST]| {
        let k = [
            key_half(0, 16),
            key_half(1, 16),
            key_half(2, 16),
            key_half(3, 16),
        ];
        let t = finish4(acc, k[0], k[1], k[2], k[3]);
        for (l, &j) in group.iter().enumerate() {
            tags[j] = t[l];
        }
    };
    // Four messages of one shape (the same AAD and ciphertext lengths: a
    // burst of equal packets, or a sorted group of them) walk their runs
    // in step, so no lane needs its own bookkeeping or finish.
    let shape = |l: usize| (jobs[group[l]].aad().len(), jobs[group[l]].data().len());
    if lanes == 4 && (1..4).all(|l| shape(l) == shape(0)) {
        let [r0, r1, r2, r3] = &runs;
        for (((a, b), c), d) in r0.iter().zip(r1).zip(r2).zip(r3) {
            let mut q = [a.0, b.0, c.0, d.0];
            for _ in 0..a.1 {
                // SAFETY: the four lanes' runs at this position have the
                // same number of whole 16-byte blocks (same lengths), and
                // `q[l]` stays inside lane `l`'s run for that many steps.
                let m = unsafe { load4(&q) };
                step!(h, m, r, s);
                for x in q.iter_mut() {
                    *x = x.wrapping_add(16);
                }
            }
        }
        finish(h, tags);
        return;
    }
    let mut done: Limbs = [_mm256_setzero_si256(); 5];

    // Per lane: the block pointer, blocks left in the run (usize::MAX once
    // finished), the pointer step (0 once finished), the next run.
    let mut p = [zero; 4];
    let mut rem = [usize::MAX; 4];
    let mut stride = [0usize; 4];
    let mut next = [0usize; 4];
    // Moves lane `l` to its next non-empty run; false when none is left.
    let advance = |l: usize,
                   p: &mut [*const u8; 4],
                   rem: &mut [usize; 4],
                   stride: &mut [usize; 4],
                   next: &mut [usize; 4]| {
        while next[l] < 4 && runs[l][next[l]].1 == 0 {
            next[l] += 1;
        }
        if next[l] < 4 {
            (p[l], rem[l]) = runs[l][next[l]];
            stride[l] = 16;
            next[l] += 1;
            true
        } else {
            (p[l], rem[l], stride[l]) = (zero, usize::MAX, 0);
            false
        }
    };
    let mut live = 0;
    for l in 0..lanes {
        // Every message has at least its length block.
        live += usize::from(advance(l, &mut p, &mut rem, &mut stride, &mut next));
    }
    while live > 0 {
        let k = rem.iter().copied().min().unwrap_or(0);
        for _ in 0..k {
            // SAFETY: each `p[l]` is inside a run with at least one whole
            // 16-byte block left (AAD, ciphertext, `pad` or the zero block).
            let m = unsafe { load4(&p) };
            step!(h, m, r, s);
            for (q, &d) in p.iter_mut().zip(&stride) {
                *q = q.wrapping_add(d);
            }
        }
        for l in 0..lanes {
            if rem[l] == usize::MAX {
                continue;
            }
            rem[l] -= k;
            if rem[l] == 0 && !advance(l, &mut p, &mut rem, &mut stride, &mut next) {
                // Per-lane finish: keep this lane's accumulator aside.
                // SAFETY: `LANE_MASKS[l]` is 32 readable bytes.
                let m = unsafe { _mm256_loadu_si256(LANE_MASKS[l].as_ptr().cast()) };
                for (d, x) in done.iter_mut().zip(h) {
                    *d = _mm256_blendv_epi8(*d, x, m);
                }
                live -= 1;
            }
        }
    }

    finish(done, tags);
}

/// Fully reduces four accumulators mod 2^130 - 5 and adds each key's second
/// half `s` (RFC 8439 2.5.1), without branches on their values: the vector
/// form of the usual radix-2^26 finish (poly1305-donna's).
#[target_feature(enable = "avx2")]
fn finish4(h: Limbs, s0: __m128i, s1: __m128i, s2: __m128i, s3: __m128i) -> [[u8; TAG_LEN]; 4] {
    let m26 = _mm256_set1_epi64x(MASK26 as i64);
    let shr = |x| _mm256_srli_epi64::<26>(x);
    let and = |x| _mm256_and_si256(x, m26);
    let add = |x, y| _mm256_add_epi64(x, y);
    let [mut h0, mut h1, mut h2, mut h3, mut h4] = h;
    let mut c = shr(h1);
    h1 = and(h1);
    h2 = add(h2, c);
    c = shr(h2);
    h2 = and(h2);
    h3 = add(h3, c);
    c = shr(h3);
    h3 = and(h3);
    h4 = add(h4, c);
    c = shr(h4);
    h4 = and(h4);
    h0 = add(h0, add(c, _mm256_slli_epi64::<2>(c)));
    c = shr(h0);
    h0 = and(h0);
    h1 = add(h1, c);
    // g = h + 5 - 2^130; keep g unless that borrowed (h < p).
    let mut g0 = add(h0, _mm256_set1_epi64x(5));
    c = shr(g0);
    g0 = and(g0);
    let mut g1 = add(h1, c);
    c = shr(g1);
    g1 = and(g1);
    let mut g2 = add(h2, c);
    c = shr(g2);
    g2 = and(g2);
    let mut g3 = add(h3, c);
    c = shr(g3);
    g3 = and(g3);
    let g4 = _mm256_sub_epi64(add(h4, c), _mm256_set1_epi64x(1 << 26));
    // All ones where g4 did not borrow (h >= p), else zero.
    let keep_g = _mm256_sub_epi64(_mm256_srli_epi64::<63>(g4), _mm256_set1_epi64x(1));
    let pick = |g, h| _mm256_blendv_epi8(h, g, keep_g);
    h0 = pick(g0, h0);
    h1 = pick(g1, h1);
    h2 = pick(g2, h2);
    h3 = pick(g3, h3);
    h4 = pick(and(g4), h4);
    // The 130-bit value as two 64-bit halves (bits past 128 drop out).
    let lo = _mm256_or_si256(
        _mm256_or_si256(h0, _mm256_slli_epi64::<26>(h1)),
        _mm256_slli_epi64::<52>(h2),
    );
    let hi = _mm256_or_si256(
        _mm256_or_si256(_mm256_srli_epi64::<12>(h2), _mm256_slli_epi64::<14>(h3)),
        _mm256_slli_epi64::<40>(h4),
    );
    // Add s mod 2^128: the low halves' carry is an unsigned compare, done
    // as a signed one with the sign bits flipped.
    let (slo, shi) = halves(s0, s1, s2, s3);
    let sum_lo = _mm256_add_epi64(lo, slo);
    let flip = _mm256_set1_epi64x(i64::MIN);
    let carry = _mm256_cmpgt_epi64(_mm256_xor_si256(lo, flip), _mm256_xor_si256(sum_lo, flip));
    let sum_hi = _mm256_sub_epi64(_mm256_add_epi64(hi, shi), carry);
    // Back to one 16-byte tag per lane: [lo0 hi0 | lo2 hi2], [lo1 hi1 | lo3 hi3].
    let a = _mm256_unpacklo_epi64(sum_lo, sum_hi);
    let b = _mm256_unpackhi_epi64(sum_lo, sum_hi);
    let mut out = [[0u8; TAG_LEN]; 4];
    let parts = [
        _mm256_castsi256_si128(a),
        _mm256_castsi256_si128(b),
        _mm256_extracti128_si256::<1>(a),
        _mm256_extracti128_si256::<1>(b),
    ];
    for (o, v) in out.iter_mut().zip(parts) {
        // SAFETY: `o` is 16 writable bytes (unaligned store).
        unsafe { _mm_storeu_si128(o.as_mut_ptr().cast(), v) };
    }
    out
}
