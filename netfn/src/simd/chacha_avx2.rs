//! ChaCha20 (RFC 8439 section 2.3) for eight blocks at once: each 32-bit lane
//! of the sixteen AVX2 state registers holds one word of a different block.
//!
//! A burst is flattened into a stream of (job, counter) blocks and packed
//! eight at a time, so any mix of packets and lengths fills the lanes: a
//! 64-byte packet contributes its key block (counter 0, which becomes its
//! Poly1305 key) and one data block, a 1420-byte one its key block and 23
//! data blocks. Lengths and counters are public, so the packing may depend
//! on them; key and data bytes only ever pass through lane arithmetic.
//!
//! A batch builds its sixteen input rows in registers (the eight keys
//! loaded and transposed, the counter-and-nonce rows likewise), runs the
//! rounds, transposes back and delivers each block (a Poly1305 key, or
//! keystream XORed into its buffer).
//! An open first needs only the key blocks (the tags are checked before
//! anything is decrypted), so it fills the last, partial batch of those
//! with data blocks that wait in [`Held`] until the verdict.

use core::arch::x86_64::*;

use super::{wipe, Lane, MAX_BURST};

/// RFC 8439 section 2.3: the four constant words "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Which blocks of each selected job to produce.
#[derive(Clone, Copy)]
pub(super) enum Blocks {
    /// Counter 0 into the Poly1305 key, then the keystream over the buffer (seal).
    All,
    /// Counter 0 only: the Poly1305 key (first half of an open).
    KeyOnly,
    /// Counters 1.. only: the keystream (second half of an open).
    DataOnly,
}

/// One 64-byte block per lane, 32-byte aligned for whole-register stores.
#[repr(C, align(32))]
struct Keystream([[u8; 64]; 8]);

/// Data blocks an open computed early, to fill the last batch of its key
/// blocks (eight lanes cost the same as four): the keystream waits here
/// until the tags are checked, and only verified jobs get it.
pub(super) struct Held {
    ks: Keystream,
    task: [(usize, u32); 8],
    /// Lanes `first..8` of `ks` are held blocks.
    first: usize,
    /// Per job, the last data block counter held (0: none).
    upto: [u32; MAX_BURST],
}

impl Held {
    /// Nothing held yet.
    pub(super) fn new() -> Held {
        Held {
            ks: Keystream([[0; 64]; 8]),
            task: [(0, 0); 8],
            first: 8,
            upto: [0; MAX_BURST],
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.first < 8 {
            wipe(&mut self.ks.0);
        }
    }
}

/// Produces the chosen blocks for every job whose bit is set in `select`:
/// counter-0 blocks go to `poly_keys[job]` (first 32 bytes), the others are
/// XORed into the job's buffer. With `held`, a `KeyOnly` call fills its
/// last batch with data blocks kept in `held`, and a `DataOnly` call skips
/// those and applies them from `held` to the selected jobs.
#[target_feature(enable = "avx2")]
pub(super) fn apply<L: Lane>(
    jobs: &mut [L],
    select: u32,
    blocks: Blocks,
    poly_keys: &mut [[u8; 32]; MAX_BURST],
    held: Option<&mut Held>,
) {
    // Each job's last state row as bytes: counter 0, then the nonce.
    let mut tail = [[0u8; 16]; MAX_BURST];
    let mut task = [(0usize, 0u32); 8];
    // One keystream buffer for the whole call, wiped once at the end.
    let mut ks = Keystream([[0; 64]; 8]);
    let mut n = 0;
    for i in 0..jobs.len() {
        if (select >> i) & 1 == 0 {
            continue;
        }
        // A buffer longer than MAX_LEN was refused up front, so this fits.
        let nblocks = jobs[i].data().len().div_ceil(64) as u32;
        let skip = held.as_ref().map_or(0, |h| h.upto[i]);
        let (first, end) = match blocks {
            Blocks::All => (0, nblocks + 1),
            Blocks::KeyOnly => (0, 1),
            Blocks::DataOnly => (1 + skip, nblocks + 1),
        };
        tail[i][4..].copy_from_slice(&jobs[i].nonce());
        for ctr in first..end {
            task[n] = (i, ctr);
            n += 1;
            if n == 8 {
                batch(&task, 8, 8, &tail, jobs, poly_keys, &mut ks);
                n = 0;
            }
        }
    }
    match (blocks, held) {
        (Blocks::KeyOnly, Some(h)) if n > 0 => {
            // Fill the last batch with the first data blocks, held back.
            h.first = n;
            'fill: for (i, j) in jobs.iter().enumerate() {
                if (select >> i) & 1 == 0 {
                    continue;
                }
                for ctr in 1..=j.data().len().div_ceil(64) as u32 {
                    if n == 8 {
                        break 'fill;
                    }
                    task[n] = (i, ctr);
                    h.upto[i] = ctr;
                    n += 1;
                }
            }
            h.task = task;
            batch(&task, n, h.first, &tail, jobs, poly_keys, &mut h.ks);
            n = 0;
        }
        (Blocks::DataOnly, Some(h)) => {
            for l in h.first..8 {
                let (job, ctr) = h.task[l];
                if ctr > 0 && (select >> job) & 1 == 1 {
                    deliver(jobs, job, ctr, &h.ks.0[l], poly_keys);
                }
            }
        }
        _ => {}
    }
    if n > 0 {
        batch(&task, n, 8, &tail, jobs, poly_keys, &mut ks);
    }
    wipe(&mut ks.0);
}

/// Puts block `blk` of `job` where it goes: counter 0 to its Poly1305 key,
/// others XORed into its buffer at `(ctr - 1) * 64`.
#[target_feature(enable = "avx2")]
fn deliver<L: Lane>(
    jobs: &mut [L],
    job: usize,
    ctr: u32,
    blk: &[u8; 64],
    poly_keys: &mut [[u8; 32]; MAX_BURST],
) {
    if ctr == 0 {
        poly_keys[job].copy_from_slice(&blk[..32]);
        return;
    }
    let buf = jobs[job].data_mut();
    let off = (ctr as usize - 1) * 64;
    let end = buf.len().min(off + 64);
    let chunk = &mut buf[off..end];
    if chunk.len() == 64 {
        let p = chunk.as_mut_ptr();
        // SAFETY: `chunk` is exactly 64 writable bytes and `blk` 64 readable
        // ones (unaligned loads and stores).
        unsafe {
            let k0 = _mm256_loadu_si256(blk.as_ptr().cast());
            let k1 = _mm256_loadu_si256(blk.as_ptr().add(32).cast());
            let d0 = _mm256_loadu_si256(p.cast());
            let d1 = _mm256_loadu_si256(p.add(32).cast());
            _mm256_storeu_si256(p.cast(), _mm256_xor_si256(d0, k0));
            _mm256_storeu_si256(p.add(32).cast(), _mm256_xor_si256(d1, k1));
        }
    } else {
        for (d, k) in chunk.iter_mut().zip(blk.iter()) {
            *d ^= k;
        }
    }
}

/// Rotates each 32-bit lane left by 16 or 8 with one byte shuffle.
#[target_feature(enable = "avx2")]
fn rot_bytes(x: __m256i, mask: __m256i) -> __m256i {
    _mm256_shuffle_epi8(x, mask)
}

/// Rotates each 32-bit lane left by `N` (12 or 7) with two shifts.
#[target_feature(enable = "avx2")]
fn rot<const L: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32::<L>(x), _mm256_srli_epi32::<R>(x))
}

/// Twenty rounds (RFC 8439 2.3) on the eight blocks in `x`.
#[target_feature(enable = "avx2")]
fn rounds(x: &mut [__m256i; 16]) {
    // Byte shuffles within each 32-bit word: rotate left by 16 and by 8.
    // `black_box` hides the rotate-by-16 pattern, which LLVM would otherwise
    // split into two word shuffles (`vpshuflw` + `vpshufhw`): one
    // `vpshufb` is half the shuffle-port work.
    let r16 = core::hint::black_box(_mm256_set_epi8(
        13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
        7, 6, 1, 0, 3, 2,
    ));
    let r8 = _mm256_set_epi8(
        14, 13, 12, 15, 10, 9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10, 9, 8, 11, 6, 5,
        4, 7, 2, 1, 0, 3,
    );
    // Four quarter rounds side by side (RFC 8439 2.1), so each step is
    // four independent instructions for the out-of-order core.
    macro_rules! quarter4 {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {{
            let (a, b, c, d) = ($a, $b, $c, $d);
            for k in 0..4 {
                x[a[k]] = _mm256_add_epi32(x[a[k]], x[b[k]]);
                x[d[k]] = rot_bytes(_mm256_xor_si256(x[d[k]], x[a[k]]), r16);
            }
            for k in 0..4 {
                x[c[k]] = _mm256_add_epi32(x[c[k]], x[d[k]]);
                x[b[k]] = rot::<12, 20>(_mm256_xor_si256(x[b[k]], x[c[k]]));
            }
            for k in 0..4 {
                x[a[k]] = _mm256_add_epi32(x[a[k]], x[b[k]]);
                x[d[k]] = rot_bytes(_mm256_xor_si256(x[d[k]], x[a[k]]), r8);
            }
            for k in 0..4 {
                x[c[k]] = _mm256_add_epi32(x[c[k]], x[d[k]]);
                x[b[k]] = rot::<7, 25>(_mm256_xor_si256(x[b[k]], x[c[k]]));
            }
        }};
    }
    for _ in 0..10 {
        // Column round, then diagonal round (RFC 8439 2.3).
        quarter4!([0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]);
        quarter4!([0, 1, 2, 3], [5, 6, 7, 4], [10, 11, 8, 9], [15, 12, 13, 14]);
    }
}

/// Transposes eight rows of eight words: output `j` is word 0..8 of block `j`.
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // uK holds words 0..4 (or 4..8) of blocks K and K+4, one per 128-bit half.
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

/// Runs the block function on the first `n` tasks (job, counter) and
/// delivers each lane's block to its task. The input rows are built in
/// registers: the eight keys transposed into rows 4..12, the eight
/// counter-and-nonce rows into rows 12..16 (lanes past `n` repeat lane 0).
#[target_feature(enable = "avx2")]
fn batch<L: Lane>(
    task: &[(usize, u32); 8],
    n: usize,
    keep_from: usize,
    tail: &[[u8; 16]; MAX_BURST],
    jobs: &mut [L],
    poly_keys: &mut [[u8; 32]; MAX_BURST],
    ks: &mut Keystream,
) {
    let job = |l: usize| if l < n { task[l].0 } else { task[0].0 };
    let key = |l: usize| {
        // SAFETY: a key is 32 readable bytes (unaligned load).
        unsafe { _mm256_loadu_si256(jobs[job(l)].key().as_ptr().cast()) }
    };
    let krows = transpose([
        key(0),
        key(1),
        key(2),
        key(3),
        key(4),
        key(5),
        key(6),
        key(7),
    ]);
    let row = |l: usize| {
        let ctr = if l < n { task[l].1 } else { task[0].1 };
        // SAFETY: `tail[job]` is 16 readable bytes (unaligned load).
        let t = unsafe { _mm_loadu_si128(tail[job(l)].as_ptr().cast()) };
        _mm_insert_epi32::<0>(t, ctr as i32)
    };
    // Lanes l and l + 4 share a register (one per 128-bit half), then a
    // 4x4 transpose within each half gives rows in lane order 0..8.
    let v0 = _mm256_set_m128i(row(4), row(0));
    let v1 = _mm256_set_m128i(row(5), row(1));
    let v2 = _mm256_set_m128i(row(6), row(2));
    let v3 = _mm256_set_m128i(row(7), row(3));
    let t0 = _mm256_unpacklo_epi32(v0, v1);
    let t1 = _mm256_unpackhi_epi32(v0, v1);
    let t2 = _mm256_unpacklo_epi32(v2, v3);
    let t3 = _mm256_unpackhi_epi32(v2, v3);
    let c = |w: u32| _mm256_set1_epi32(w as i32);
    let mut x = [
        c(SIGMA[0]),
        c(SIGMA[1]),
        c(SIGMA[2]),
        c(SIGMA[3]),
        krows[0],
        krows[1],
        krows[2],
        krows[3],
        krows[4],
        krows[5],
        krows[6],
        krows[7],
        _mm256_unpacklo_epi64(t0, t2),
        _mm256_unpackhi_epi64(t0, t2),
        _mm256_unpacklo_epi64(t1, t3),
        _mm256_unpackhi_epi64(t1, t3),
    ];
    let orig = x;
    rounds(&mut x);
    for (v, o) in x.iter_mut().zip(orig) {
        *v = _mm256_add_epi32(*v, o);
    }
    let lo = transpose([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
    let hi = transpose([x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]]);
    for (blk, (l, h)) in ks.0.iter_mut().zip(lo.iter().zip(hi.iter())) {
        // SAFETY: each block is 64 bytes at a 64-byte stride from a 32-byte
        // aligned base, so both halves are aligned, in-bounds 32-byte stores.
        unsafe {
            _mm256_store_si256(blk.as_mut_ptr().cast(), *l);
            _mm256_store_si256(blk.as_mut_ptr().add(32).cast(), *h);
        }
    }
    for (l, (&(job, ctr), blk)) in task.iter().zip(ks.0.iter()).take(n).enumerate() {
        if l < keep_from || ctr == 0 {
            deliver(jobs, job, ctr, blk, poly_keys);
        }
    }
}
