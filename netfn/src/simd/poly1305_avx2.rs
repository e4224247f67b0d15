//! Poly1305 (RFC 8439 section 2.5) for four messages at once: each 64-bit
//! lane of an AVX2 register holds one packet's accumulator limb, in radix
//! 2^26 (five limbs), so `vpmuludq` forms every 26x26-bit partial product
//! of four packets in one instruction and sums of five stay below 2^64.
//!
//! The AEAD message (RFC 8439 2.8: AAD, zero pad, ciphertext, zero pad,
//! both lengths) is a whole number of 16-byte blocks, all with the 2^128
//! bit, so a packet is just `n` blocks. Jobs are sorted by `n` (public) and
//! taken four at a time; a lane that is done before the others has its
//! accumulator copied out after its last block (per-lane finish) while the
//! vector keeps stepping with zero blocks. Where all four lanes are inside
//! whole ciphertext blocks the blocks load straight from the buffers;
//! elsewhere (AAD, partial blocks, the length block) they are assembled in
//! a small padded scratch block.

use core::arch::x86_64::*;

use super::{wipe, Lane, MAX_BURST, TAG_LEN};

const MASK26: u64 = (1 << 26) - 1;

/// Per-lane view of one AEAD message as 16-byte blocks.
struct Msg<'a> {
    aad: &'a [u8],
    ct: &'a [u8],
    /// Blocks of padded AAD.
    na: usize,
    /// Blocks of padded ciphertext.
    nc: usize,
    /// All blocks: AAD, ciphertext, the length block.
    n: usize,
}

impl<'a> Msg<'a> {
    fn new(aad: &'a [u8], ct: &'a [u8]) -> Msg<'a> {
        let na = aad.len().div_ceil(16);
        let nc = ct.len().div_ceil(16);
        Msg {
            aad,
            ct,
            na,
            nc,
            n: na + nc + 1,
        }
    }

    /// Block `s` with zero padding; the length block after the ciphertext;
    /// zeros past the end.
    fn block(&self, s: usize) -> [u8; 16] {
        let mut b = [0u8; 16];
        let part = if s < self.na {
            &self.aad[s * 16..self.aad.len().min(s * 16 + 16)]
        } else if s < self.na + self.nc {
            let o = (s - self.na) * 16;
            &self.ct[o..self.ct.len().min(o + 16)]
        } else {
            if s == self.na + self.nc {
                b[..8].copy_from_slice(&(self.aad.len() as u64).to_le_bytes());
                b[8..].copy_from_slice(&(self.ct.len() as u64).to_le_bytes());
            }
            &[]
        };
        b[..part.len()].copy_from_slice(part);
        b
    }
}

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
    let mut count = 0;
    let mut order = [0usize; MAX_BURST];
    let mut blocks = [0usize; MAX_BURST];
    for (i, j) in jobs.iter().enumerate().take(MAX_BURST) {
        if (select >> i) & 1 == 1 {
            order[count] = i;
            count += 1;
        }
        blocks[i] = j.aad().len().div_ceil(16) + j.data().len().div_ceil(16) + 1;
    }
    // Insertion sort by block count (public lengths) so each group of four
    // has similar lengths and few lanes idle.
    for i in 1..count {
        let mut k = i;
        while k > 0 && blocks[order[k - 1]] > blocks[order[k]] {
            order.swap(k - 1, k);
            k -= 1;
        }
    }
    for group in order[..count].chunks(4) {
        group4(jobs, group, keys, tags);
    }
}

/// Five limbs of four lanes.
type Limbs = [__m256i; 5];

/// Splits four 16-byte blocks into radix-2^26 limbs with the 2^128 bit.
#[target_feature(enable = "avx2")]
fn to_limbs(b0: __m128i, b1: __m128i, b2: __m128i, b3: __m128i) -> Limbs {
    // a = [lo0 hi0 | lo2 hi2], b = [lo1 hi1 | lo3 hi3]: unpacking 64-bit
    // halves then gives the lanes in order 0, 1, 2, 3.
    let a = _mm256_set_m128i(b2, b0);
    let b = _mm256_set_m128i(b3, b1);
    let lo = _mm256_unpacklo_epi64(a, b);
    let hi = _mm256_unpackhi_epi64(a, b);
    let m = _mm256_set1_epi64x(MASK26 as i64);
    [
        _mm256_and_si256(lo, m),
        _mm256_and_si256(_mm256_srli_epi64::<26>(lo), m),
        _mm256_and_si256(
            _mm256_or_si256(_mm256_srli_epi64::<52>(lo), _mm256_slli_epi64::<12>(hi)),
            m,
        ),
        _mm256_and_si256(_mm256_srli_epi64::<14>(hi), m),
        _mm256_or_si256(_mm256_srli_epi64::<40>(hi), _mm256_set1_epi64x(1 << 24)),
    ]
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
        let mul = |x, y| _mm256_mul_epu32(x, y);
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

/// Loads one lane-set from four scratch blocks.
#[target_feature(enable = "avx2")]
fn load_scratch(b: &[[u8; 16]; 4]) -> Limbs {
    // SAFETY: each `b[l]` is 16 readable bytes (unaligned load).
    let v = |l: usize| unsafe { _mm_loadu_si128(b[l].as_ptr().cast()) };
    to_limbs(v(0), v(1), v(2), v(3))
}

/// Runs up to four jobs (indices `group`) through Poly1305 in the lanes.
#[target_feature(enable = "avx2")]
fn group4<L: Lane>(
    jobs: &[L],
    group: &[usize],
    keys: &[[u8; 32]; MAX_BURST],
    tags: &mut [[u8; TAG_LEN]; MAX_BURST],
) {
    let empty = Msg::new(&[], &[]);
    let mut msgs = [
        Msg::new(&[], &[]),
        Msg::new(&[], &[]),
        Msg::new(&[], &[]),
        Msg::new(&[], &[]),
    ];
    let mut rl = [[0u64; 4]; 5];
    for (l, &j) in group.iter().enumerate() {
        msgs[l] = Msg::new(jobs[j].aad(), jobs[j].data());
        // RFC 8439 2.5: r is the key's first 16 bytes, clamped.
        let mut rb = [0u8; 16];
        rb.copy_from_slice(&keys[j][..16]);
        let r = u128::from_le_bytes(rb) & 0x0fff_fffc_0fff_fffc_0fff_fffc_0fff_ffff;
        wipe(&mut rb);
        for (k, limb) in rl.iter_mut().enumerate() {
            limb[l] = ((r >> (26 * k)) as u64) & MASK26;
        }
    }
    // Lanes without a job keep r = 0 and an empty message; never read out.
    let lanes = group.len();
    for m in msgs.iter_mut().skip(lanes) {
        *m = Msg { n: 0, ..empty };
    }
    let load = |v: &[u64; 4]| {
        // SAFETY: `v` is 4 u64 = 32 readable bytes (unaligned load).
        unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
    };
    let r: Limbs = [
        load(&rl[0]),
        load(&rl[1]),
        load(&rl[2]),
        load(&rl[3]),
        load(&rl[4]),
    ];
    wipe(&mut rl);
    let five = |x| _mm256_add_epi64(x, _mm256_slli_epi64::<2>(x));
    let s: Limbs = [r[0], five(r[1]), five(r[2]), five(r[3]), five(r[4])];
    let mut h: Limbs = [_mm256_setzero_si256(); 5];

    let total = msgs.iter().map(|m| m.n).max().unwrap_or(0);
    // Steps where every live lane is inside whole ciphertext blocks.
    let live = &msgs[..lanes];
    let fast_lo = live.iter().map(|m| m.na).max().unwrap_or(0);
    let fast_hi = live
        .iter()
        .map(|m| m.na + m.ct.len() / 16)
        .min()
        .unwrap_or(0)
        .max(fast_lo);

    let mut out = [[0u64; 4]; 5];
    let mut scratch = [[0u8; 16]; 4];
    let mut st = 0;
    while st < total {
        if st == fast_lo && fast_hi > fast_lo {
            // Lane pointers into whole ciphertext blocks; absent lanes read
            // lane 0's block (their result is never used).
            let p = |l: usize| {
                let m = if l < lanes { &msgs[l] } else { &msgs[0] };
                m.ct[(st - m.na) * 16..].as_ptr()
            };
            let mut ptr = [p(0), p(1), p(2), p(3)];
            for _ in fast_lo..fast_hi {
                // SAFETY: for st in fast_lo..fast_hi every live lane has a
                // whole 16-byte block at `ptr[l]` (st - na < ct.len() / 16).
                let m = unsafe {
                    to_limbs(
                        _mm_loadu_si128(ptr[0].cast()),
                        _mm_loadu_si128(ptr[1].cast()),
                        _mm_loadu_si128(ptr[2].cast()),
                        _mm_loadu_si128(ptr[3].cast()),
                    )
                };
                step!(h, m, r, s);
                for q in ptr.iter_mut() {
                    *q = q.wrapping_add(16);
                }
            }
            st = fast_hi;
            continue;
        }
        for (b, m) in scratch.iter_mut().zip(msgs.iter()) {
            *b = m.block(st);
        }
        let m = load_scratch(&scratch);
        step!(h, m, r, s);
        // Per-lane finish: copy out the lanes whose last block this was.
        if msgs[..lanes].iter().any(|m| m.n == st + 1) {
            let mut v = [[0u64; 4]; 5];
            for (dst, src) in v.iter_mut().zip(h.iter()) {
                // SAFETY: `dst` is 32 writable bytes (unaligned store).
                unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), *src) };
            }
            for (l, m) in msgs[..lanes].iter().enumerate() {
                if m.n == st + 1 {
                    for k in 0..5 {
                        out[k][l] = v[k][l];
                    }
                }
            }
            wipe(&mut v);
        }
        st += 1;
    }
    wipe(&mut scratch);
    for (l, &j) in group.iter().enumerate() {
        let limbs = [out[0][l], out[1][l], out[2][l], out[3][l], out[4][l]];
        tags[j] = finish(limbs, &keys[j]);
    }
    wipe(&mut out);
}

/// Fully reduces an accumulator mod 2^130 - 5 and adds the key's second
/// half (RFC 8439 2.5.1), without branches on its value.
fn finish(h: [u64; 5], key: &[u8; 32]) -> [u8; TAG_LEN] {
    let [mut h0, mut h1, mut h2, mut h3, mut h4] = h;
    let mut c = h1 >> 26;
    h1 &= MASK26;
    h2 += c;
    c = h2 >> 26;
    h2 &= MASK26;
    h3 += c;
    c = h3 >> 26;
    h3 &= MASK26;
    h4 += c;
    c = h4 >> 26;
    h4 &= MASK26;
    h0 += c * 5;
    c = h0 >> 26;
    h0 &= MASK26;
    h1 += c;
    // g = h + 5 - 2^130; keep g unless that borrowed (h < p).
    let mut g0 = h0 + 5;
    c = g0 >> 26;
    g0 &= MASK26;
    let mut g1 = h1 + c;
    c = g1 >> 26;
    g1 &= MASK26;
    let mut g2 = h2 + c;
    c = g2 >> 26;
    g2 &= MASK26;
    let mut g3 = h3 + c;
    c = g3 >> 26;
    g3 &= MASK26;
    let g4 = (h4 + c).wrapping_sub(1 << 26);
    // All ones when g4 did not borrow (h >= p), else zero.
    let keep_g = (g4 >> 63).wrapping_sub(1);
    let pick = |g: u64, h: u64| (g & keep_g) | (h & !keep_g);
    h0 = pick(g0, h0);
    h1 = pick(g1, h1);
    h2 = pick(g2, h2);
    h3 = pick(g3, h3);
    h4 = pick(g4 & MASK26, h4);
    let acc = u128::from(h0)
        | (u128::from(h1) << 26)
        | (u128::from(h2) << 52)
        | (u128::from(h3) << 78)
        | (u128::from(h4) << 104);
    let mut sb = [0u8; 16];
    sb.copy_from_slice(&key[16..]);
    let tag = acc.wrapping_add(u128::from_le_bytes(sb)).to_le_bytes();
    wipe(&mut sb);
    tag
}
