//! Multi-buffer ChaCha20-Poly1305 (RFC 8439): a whole burst of independent
//! packets sealed or opened together, one packet per SIMD lane.
//!
//! For small packets almost all of an AEAD's cost is fixed per-packet work
//! (a ChaCha block just for the Poly1305 key, the length block, the final
//! reduction), and every library does it one packet at a time. The poll loop
//! already holds bursts of up to 32 packets, so here the packets go side by
//! side: ChaCha20 runs eight blocks in the eight 32-bit lanes of an AVX2
//! register (any mix of packets and counters), Poly1305 runs four packets in
//! the four 64-bit lanes (radix 2^26, five limbs).
//!
//! Shape:
//! - [`Job`] is one packet: its own key, 96-bit nonce, associated data and
//!   in-place buffer, and the tag (written by a seal, checked by an open).
//!   The burst functions are generic over [`Lane`] so a caller with its own
//!   job type (the AEAD trait's burst job) passes it without copying.
//! - [`seal_burst`] / [`open_burst`] pick the path chosen at start-up
//!   ([`path`]); `*_with` force one, for tests and the benchmark.
//! - [`SimdAead`] is the WireGuard engine's `Aead` back end whose
//!   `seal_burst`/`open_burst` come here (single packets go to `ring`).
//! - [`Path::Avx2`] is the fast path; [`Path::Scalar`] is `ring`, one packet
//!   at a time, for CPUs (or kernels) without AVX2 state.
//! - Within the AVX2 path, lanes take the packets of up to [`LANE_MAX_LEN`]
//!   bytes in whole groups of four; longer packets (and the one to three
//!   left over, picked so the Poly1305 groups stay even) go to `ring`, whose
//!   fused AVX2 code (scalar Poly1305 interleaved with vector ChaCha) is
//!   ahead per byte. On the Zen 3 machine here the lanes seal 64-byte
//!   packets about twice as fast as `ring` (1.4-1.6x while the host is
//!   busy) and break even between 512 and 768 bytes; see
//!   `WG_BENCH_BURST_ONLY=1 cargo bench -p netfn` and docs/engine-bench.md.
//!
//! Nothing branches on or indexes by a key, nonce or data byte: lengths and
//! the per-packet verdict of an open are public, everything else is
//! straight-line lane arithmetic. All `unsafe` SIMD code lives in this module
//! (`chacha_avx2`, `poly1305_avx2`); key material copied into stack arrays
//! is zeroed before returning. CPU detection is CPUID plus XGETBV, which work
//! the same in the kernel (once it has enabled AVX state in XCR0 at boot)
//! and on a host.
#![deny(unsafe_op_in_unsafe_fn)]

mod backend;
mod chacha_avx2;
mod poly1305_avx2;
#[cfg(test)]
mod tests;

pub use backend::{SimdAead, SimdKey};

use crate::wireguard::aead::{copy_ring_tag, ring_key, RingKey};
use core::sync::atomic::{AtomicU8, Ordering};
use subtle::ConstantTimeEq;

/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// Most jobs one burst call takes (the poll loop's burst size).
pub const MAX_BURST: usize = 32;

/// Longest buffer sealed in SIMD lanes; longer ones go to `ring` one at a
/// time. Lanes win on the fixed per-packet work; per byte `ring`'s fused
/// AVX2 code (scalar Poly1305 interleaved with vector ChaCha) is ahead.
/// Measured on Zen 3 with every length forced through the lanes, bursts of
/// 32 of one size, lanes against `ring` (seal / open): 2.03x / 1.98x at 64
/// bytes, 1.31x / 1.28x at 256, 1.03x / 1.06x at 512, 1.06x / 0.93x at 576,
/// 0.95x / 1.04x at 768, 0.89x / 0.81x at 1420. With 768 here, the 576-byte
/// packets of an IMIX went to the lanes for no gain and made uneven groups
/// with the 64-byte ones: the IMIX burst sealed at 0.96-1.00x and opened at
/// 0.91-0.93x `ring`; at 512 it seals at 1.03-1.12x and opens at 1.01-1.11x.
pub const LANE_MAX_LEN: usize = 512;

/// Longest buffer ChaCha20's 32-bit block counter allows (RFC 8439 2.8).
pub const MAX_LEN: u64 = (u32::MAX as u64) * 64;

/// Why a burst call refused its input (nothing was changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstError {
    /// More than [`MAX_BURST`] jobs.
    TooManyJobs,
    /// A buffer longer than [`MAX_LEN`].
    TooLong,
    /// The forced path needs CPU features this machine (or kernel) lacks.
    Unsupported,
}

/// An instruction-set path for the burst AEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `ring` (BoringSSL assembly), one packet at a time.
    Scalar,
    /// Packets in AVX2 lanes: 8 ChaCha blocks, 4 Poly1305 messages at once.
    Avx2,
}

impl Path {
    /// Short name for the console and benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            Path::Scalar => "ring (scalar)",
            Path::Avx2 => "avx2",
        }
    }

    /// Whether this CPU, with the extended state the OS enabled, runs the path.
    pub fn is_available(self) -> bool {
        match self {
            Path::Scalar => true,
            Path::Avx2 => detect() == Path::Avx2,
        }
    }
}

/// One packet of a burst, with its own key and nonce.
pub struct Job<'a> {
    /// The 32-byte ChaCha20-Poly1305 key.
    pub key: &'a [u8; 32],
    /// The 96-bit nonce (WireGuard: 4 zero bytes, then the LE counter).
    pub nonce: [u8; 12],
    /// Associated data (WireGuard's is empty).
    pub aad: &'a [u8],
    /// Plaintext to seal or ciphertext to open, transformed in place.
    pub buf: &'a mut [u8],
    /// Written by a seal; the tag to check for an open.
    pub tag: [u8; TAG_LEN],
}

/// What the burst code needs from a job; implemented by [`Job`] and by
/// callers' own job types so they need no copying into [`Job`]s.
pub trait Lane {
    /// The raw 32-byte key.
    fn key(&self) -> &[u8; 32];
    /// The 96-bit nonce.
    fn nonce(&self) -> [u8; 12];
    /// The associated data.
    fn aad(&self) -> &[u8];
    /// The in-place buffer, to read.
    fn data(&self) -> &[u8];
    /// The in-place buffer, to transform.
    fn data_mut(&mut self) -> &mut [u8];
    /// The associated data and the buffer together (distinct fields).
    fn parts(&mut self) -> (&[u8], &mut [u8]);
    /// The tag slot: output of a seal, input of an open.
    fn tag(&mut self) -> &mut [u8; TAG_LEN];
    /// A prepared `ring` key if the job carries one (long packets go to
    /// `ring`), with the associated data and the buffer; by default none,
    /// and a `ring` key is built from [`Lane::key`] when needed.
    fn ring_parts(&mut self) -> (Option<&ring::aead::LessSafeKey>, &[u8], &mut [u8]) {
        let (aad, buf) = self.parts();
        (None, aad, buf)
    }
}

impl Lane for Job<'_> {
    fn key(&self) -> &[u8; 32] {
        self.key
    }
    fn nonce(&self) -> [u8; 12] {
        self.nonce
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
}

const UNKNOWN: u8 = 0;
const SCALAR: u8 = 1;
const AVX2: u8 = 2;

/// What the CPU offers (cached CPUID/XGETBV result).
static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);
/// The path [`seal_burst`]/[`open_burst`] use; set by [`set_path`] or on first use.
static SELECTED: AtomicU8 = AtomicU8::new(UNKNOWN);

fn encode(p: Path) -> u8 {
    match p {
        Path::Scalar => SCALAR,
        Path::Avx2 => AVX2,
    }
}

/// XCR0, the extended state components the OS has enabled.
///
/// # Safety
/// CPUID must report OSXSAVE (CR4.OSXSAVE set), or XGETBV faults.
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller checked OSXSAVE, so XGETBV with ECX=0 is allowed.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

fn probe() -> Path {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    let max_leaf = __cpuid(0).eax;
    if max_leaf < 7 {
        return Path::Scalar;
    }
    let l1 = __cpuid(1);
    let osxsave = l1.ecx & (1 << 27) != 0;
    let avx = l1.ecx & (1 << 28) != 0;
    let avx2 = __cpuid_count(7, 0).ebx & (1 << 5) != 0;
    if !(osxsave && avx && avx2) {
        return Path::Scalar;
    }
    // SAFETY: OSXSAVE is reported, so the OS has set CR4.OSXSAVE.
    let xcr0 = unsafe { xcr0() };
    // XCR0 bit 1 (SSE state) and bit 2 (AVX upper halves): SDM vol. 1, 13.3.
    if xcr0 & 0b110 == 0b110 {
        Path::Avx2
    } else {
        Path::Scalar
    }
}

/// The best path this CPU offers, from CPUID and XCR0 (cached).
pub fn detect() -> Path {
    match DETECTED.load(Ordering::Relaxed) {
        SCALAR => Path::Scalar,
        AVX2 => Path::Avx2,
        _ => {
            let p = probe();
            DETECTED.store(encode(p), Ordering::Relaxed);
            p
        }
    }
}

/// Chooses the path [`seal_burst`]/[`open_burst`] use (the kernel calls this
/// after enabling AVX state); refuses one the CPU cannot run.
pub fn set_path(p: Path) -> Result<(), BurstError> {
    if !p.is_available() {
        return Err(BurstError::Unsupported);
    }
    SELECTED.store(encode(p), Ordering::Relaxed);
    Ok(())
}

/// The path in use: the one set, else the best detected.
pub fn path() -> Path {
    match SELECTED.load(Ordering::Relaxed) {
        SCALAR => Path::Scalar,
        AVX2 => Path::Avx2,
        _ => {
            let p = detect();
            SELECTED.store(encode(p), Ordering::Relaxed);
            p
        }
    }
}

fn check<L: Lane>(p: Path, jobs: &[L]) -> Result<(), BurstError> {
    if jobs.len() > MAX_BURST {
        return Err(BurstError::TooManyJobs);
    }
    if jobs
        .iter()
        .any(|j| j.data().len() as u64 > MAX_LEN || j.aad().len() as u64 > MAX_LEN)
    {
        return Err(BurstError::TooLong);
    }
    if !p.is_available() {
        return Err(BurstError::Unsupported);
    }
    Ok(())
}

/// Seals every job in place and writes its tag, on the path in use.
pub fn seal_burst<L: Lane>(jobs: &mut [L]) -> Result<(), BurstError> {
    seal_burst_with(path(), jobs)
}

/// Opens every job; bit `i` of the result is set when job `i`'s tag verified
/// (its buffer is then plaintext). A job that fails has an unspecified
/// buffer (the AVX2 path leaves its ciphertext; `ring` does not promise to);
/// other jobs are never affected by it.
pub fn open_burst<L: Lane>(jobs: &mut [L]) -> Result<u32, BurstError> {
    open_burst_with(path(), jobs)
}

/// Whether a burst of buffers with these lengths gains from the lanes: on
/// the AVX2 path, at least one whole Poly1305 group of four fits them.
/// With fewer, every job goes to `ring` anyway.
pub fn lanes_pay(lens: &[usize]) -> bool {
    path() == Path::Avx2 && lens.iter().filter(|&&l| l <= LANE_MAX_LEN).count() >= 4
}

/// [`seal_burst`] on a chosen path.
pub fn seal_burst_with<L: Lane>(p: Path, jobs: &mut [L]) -> Result<(), BurstError> {
    check(p, jobs)?;
    match p {
        Path::Scalar => {
            for j in jobs.iter_mut() {
                scalar_seal(j)?;
            }
        }
        // SAFETY: `check` confirmed AVX2 and its register state are enabled.
        Path::Avx2 => unsafe { avx2_seal(jobs, LANE_MAX_LEN)? },
    }
    Ok(())
}

/// [`open_burst`] on a chosen path.
pub fn open_burst_with<L: Lane>(p: Path, jobs: &mut [L]) -> Result<u32, BurstError> {
    check(p, jobs)?;
    let mut ok = 0u32;
    match p {
        Path::Scalar => {
            for (i, j) in jobs.iter_mut().enumerate() {
                ok |= u32::from(scalar_open(j)) << i;
            }
        }
        // SAFETY: `check` confirmed AVX2 and its register state are enabled.
        Path::Avx2 => ok = unsafe { avx2_open(jobs, LANE_MAX_LEN) },
    }
    Ok(ok)
}

/// A `ring` key built from the job's raw key, for a job that carries no
/// prepared one. Only then is the raw key copied out (and wiped after):
/// the data path's jobs all carry one, and its long packets come here.
fn owned_ring_key<L: Lane>(j: &mut L) -> Result<Option<RingKey>, BurstError> {
    if j.ring_parts().0.is_some() {
        return Ok(None);
    }
    let mut raw = *j.key();
    let key = ring_key(&raw).map(RingKey);
    wipe(&mut raw);
    key.map(Some).map_err(|_| BurstError::TooLong)
}

/// Seals one job with `ring`, through its prepared key if it has one.
fn scalar_seal<L: Lane>(j: &mut L) -> Result<(), BurstError> {
    let nonce = ring::aead::Nonce::assume_unique_for_key(j.nonce());
    let owned = owned_ring_key(j)?;
    let (prepared, aad, buf) = j.ring_parts();
    let key = owned
        .as_ref()
        .map(|k| &k.0)
        .or(prepared)
        .ok_or(BurstError::TooLong)?;
    let r = key.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), buf);
    match &r {
        Ok(t) => copy_ring_tag(t, j.tag()).map_err(|_| BurstError::TooLong),
        Err(_) => Err(BurstError::TooLong),
    }
}

/// Opens one job with `ring`; true when the tag verified.
fn scalar_open<L: Lane>(j: &mut L) -> bool {
    let nonce = ring::aead::Nonce::assume_unique_for_key(j.nonce());
    let tag = ring::aead::Tag::from(*j.tag());
    let Ok(owned) = owned_ring_key(j) else {
        return false;
    };
    let (prepared, aad, buf) = j.ring_parts();
    let Some(key) = owned.as_ref().map(|k| &k.0).or(prepared) else {
        return false;
    };
    key.open_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), tag, buf, 0..)
        .is_ok()
}

/// Constant-time tag equality: the XOR of the tags folded to one word,
/// compared with `subtle` (a byte-by-byte `subtle` compare of 16 bytes cost
/// about a tenth of a 64-byte packet's whole open).
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> u32 {
    let d = u128::from_le_bytes(*a) ^ u128::from_le_bytes(*b);
    let folded = (d as u64) | ((d >> 64) as u64);
    u32::from(folded.ct_eq(&0).unwrap_u8())
}

/// Poly1305 blocks of a job: AAD and buffer, each padded, and the lengths.
fn poly_blocks<L: Lane>(j: &L) -> usize {
    j.aad().len().div_ceil(16) + j.data().len().div_ceil(16) + 1
}

/// Bit `i` set for each job that goes to the lanes: no longer than
/// `max_len`, and in whole groups of four (a Poly1305 group, and a full
/// ChaCha batch for two-block packets), because a lane group costs the same
/// with one packet as with four. Which one to three go to `ring` instead
/// matters with mixed lengths: Poly1305 groups are the lanes sorted by
/// length, four at a time, and a group runs as many steps as its longest
/// message, so dropping the wrong ones leaves uneven groups (a 576-byte
/// packet beside three 64-byte ones costs them 32 idle steps each). The
/// dropped ones are a run of the sorted jobs, the run chosen by a cost model
/// of this machine's measured figures (cycles): a Poly1305 group step 27, a
/// ChaCha block in lanes 48, a packet through `ring` 420 + 1.2 per byte.
/// Lengths are public, so choosing by them leaks nothing.
fn lane_mask<L: Lane>(jobs: &[L], max_len: usize) -> u32 {
    let mut m = 0u32;
    for (i, j) in jobs.iter().enumerate() {
        m |= u32::from(j.data().len() <= max_len && j.aad().len() <= max_len) << i;
    }
    let drop = m.count_ones() as usize % 4;
    if max_len == usize::MAX || drop == 0 {
        // Forced lanes (tests) take every job, however few.
        return m;
    }
    // The eligible jobs sorted by Poly1305 length, as `poly1305_avx2::tags`
    // sorts them: by (length, index), packed in one word (index in the low
    // five bits), a total order, so any sort gives the same groups.
    let mut key = [0usize; MAX_BURST];
    let mut count = 0;
    for (i, j) in jobs.iter().enumerate().take(MAX_BURST) {
        if (m >> i) & 1 == 1 {
            key[count] = (poly_blocks(j) << 5) | i;
            count += 1;
        }
    }
    key[..count].sort_unstable();
    let mut order = [0usize; MAX_BURST];
    let mut steps = [0usize; MAX_BURST];
    for (t, &k) in key[..count].iter().enumerate() {
        (order[t], steps[t]) = (k & 31, k >> 5);
    }
    // Dropping sorted positions start..start + drop costs their extra in
    // `ring`, plus 27 per step of every group's last (longest) member:
    // before the run a group ends where (t + 1) % 4 == 0, after it where
    // (t + 1 - drop) % 4 == 0. Prefix and suffix sums make each start O(1).
    let mut before = [0usize; MAX_BURST + 1];
    let mut after = [0usize; MAX_BURST + 1];
    let mut extra = [0usize; MAX_BURST + 1];
    for t in 0..count {
        let j = &jobs[order[t]];
        let len = j.data().len() + j.aad().len();
        let ring = 420 + len + len / 5;
        let lanes = 48 * (j.data().len().div_ceil(64) + 1);
        extra[t + 1] = extra[t] + ring.saturating_sub(lanes);
        let ends = usize::from((t + 1).is_multiple_of(4));
        before[t + 1] = before[t] + ends * 27 * steps[t];
    }
    for t in (0..count).rev() {
        let ends = usize::from((t + 1 + 4 - drop).is_multiple_of(4));
        after[t] = after[t + 1] + ends * 27 * steps[t];
    }
    let (mut best, mut best_cost) = (0, usize::MAX);
    for start in 0..=count - drop {
        let cost = before[start] + (extra[start + drop] - extra[start]) + after[start + drop];
        if cost < best_cost {
            (best, best_cost) = (start, cost);
        }
    }
    for &i in &order[best..best + drop] {
        m &= !(1u32 << i);
    }
    m
}

/// Plain integers and arrays of them: all-zero bytes are a valid value.
trait Plain {}
impl Plain for u8 {}
impl Plain for u32 {}
impl Plain for u64 {}
impl<T: Plain, const N: usize> Plain for [T; N] {}

/// Zeroes key material so it does not outlive its use. Volatile stores may
/// not be removed as dead; they are 8 bytes wide because zeroing a 512-byte
/// keystream byte by byte (as `zeroize` does for `[u8]`) costs as much as
/// the ChaCha rounds that produced it.
fn wipe<T: Plain>(x: &mut T) {
    let p = (x as *mut T).cast::<u8>();
    let n = core::mem::size_of::<T>();
    let head = p.align_offset(8).min(n);
    let words = (n - head) / 8;
    for i in 0..head {
        // SAFETY: `i < n`, inside the exclusively borrowed `*x`; a zero byte
        // keeps a `Plain` value valid.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
    }
    for w in 0..words {
        // SAFETY: `head` made the address 8-aligned and `head + 8 * (w + 1)
        // <= n`, so the u64 lies inside `*x`; zero bytes are valid (`Plain`).
        unsafe { core::ptr::write_volatile(p.add(head + 8 * w).cast::<u64>(), 0) };
    }
    for i in head + 8 * words..n {
        // SAFETY: `i < n`, inside `*x`, as above.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
    }
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Scratch for one AVX2 burst: each job's Poly1305 one-time key and tag.
struct Scratch {
    poly_keys: [[u8; 32]; MAX_BURST],
    tags: [[u8; TAG_LEN]; MAX_BURST],
    /// Entries the burst used (only those are wiped: a burst of 8 spent
    /// a tenth of its time wiping all 32).
    used: usize,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for (k, t) in self
            .poly_keys
            .iter_mut()
            .zip(self.tags.iter_mut())
            .take(self.used)
        {
            wipe(k);
            wipe(t);
        }
    }
}

/// Seals in lanes every job up to `max_len` bytes, the rest with `ring`
/// (tests pass `usize::MAX` to put every length through the lanes).
///
/// # Safety
/// The CPU must support AVX2 and the OS must have enabled YMM state.
#[target_feature(enable = "avx2")]
unsafe fn avx2_seal<L: Lane>(jobs: &mut [L], max_len: usize) -> Result<(), BurstError> {
    let lanes = lane_mask(jobs, max_len);
    if lanes == 0 {
        // No lane group (a burst of long packets, or fewer than four short
        // ones): all of it goes to `ring`, without the lanes' scratch.
        for j in jobs.iter_mut() {
            scalar_seal(j)?;
        }
        return Ok(());
    }
    let mut s = Scratch {
        poly_keys: [[0; 32]; MAX_BURST],
        tags: [[0; TAG_LEN]; MAX_BURST],
        used: jobs.len(),
    };
    chacha_avx2::apply(
        jobs,
        lanes,
        chacha_avx2::Blocks::All,
        &mut s.poly_keys,
        None,
    );
    poly1305_avx2::tags(jobs, lanes, &s.poly_keys, &mut s.tags);
    for (i, (j, t)) in jobs.iter_mut().zip(s.tags.iter()).enumerate() {
        if (lanes >> i) & 1 == 1 {
            *j.tag() = *t;
        } else {
            scalar_seal(j)?;
        }
    }
    Ok(())
}

/// Opens in lanes every job up to `max_len` bytes, the rest with `ring`.
///
/// # Safety
/// The CPU must support AVX2 and the OS must have enabled YMM state.
#[target_feature(enable = "avx2")]
unsafe fn avx2_open<L: Lane>(jobs: &mut [L], max_len: usize) -> u32 {
    let lanes = lane_mask(jobs, max_len);
    if lanes == 0 {
        // As in `avx2_seal`: everything to `ring`, no lane set-up.
        let mut ok = 0u32;
        for (i, j) in jobs.iter_mut().enumerate() {
            ok |= u32::from(scalar_open(j)) << i;
        }
        return ok;
    }
    let mut s = Scratch {
        poly_keys: [[0; 32]; MAX_BURST],
        tags: [[0; TAG_LEN]; MAX_BURST],
        used: jobs.len(),
    };
    let mut held = chacha_avx2::Held::new();
    let keys_only = chacha_avx2::Blocks::KeyOnly;
    chacha_avx2::apply(jobs, lanes, keys_only, &mut s.poly_keys, Some(&mut held));
    poly1305_avx2::tags(jobs, lanes, &s.poly_keys, &mut s.tags);
    let mut ok = 0u32;
    let mut long = 0u32;
    for (i, (j, t)) in jobs.iter_mut().zip(s.tags.iter()).enumerate() {
        if (lanes >> i) & 1 == 1 {
            ok |= tags_equal(t, j.tag()) << i;
        } else {
            long |= u32::from(scalar_open(j)) << i;
        }
    }
    // Decrypt only what verified: a forged packet keeps its ciphertext and
    // never disturbs another lane. The verdict is public (it is returned).
    chacha_avx2::apply(
        jobs,
        ok,
        chacha_avx2::Blocks::DataOnly,
        &mut s.poly_keys,
        Some(&mut held),
    );
    ok | long
}
