//! [`Profiled`]: any AEAD back end with the TSC cycles of every seal and
//! open added to a counter the poll loop reads.
//!
//! The AEAD trait has no `self` (the engine calls `A::seal(key, ..)`), so
//! the cycles cannot live in an instance: they go to a static
//! [`CryptoMeter`] that the [`Meter`] type parameter names, together with
//! the clock. The kernel uses [`Tsc`] (RDTSC and one global meter); a host
//! test names its own meter type with its own static and a fake clock, so
//! concurrently running tests never see each other's counts.
//!
//! The gateway plane reads the meter before and after a burst's processing
//! and subtracts: the difference is that burst's crypto, the rest of the
//! processing is gateway work. Two clock reads per AEAD call is the price;
//! nothing else is added to the data path.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};

use netfn::wireguard::aead::{Aead, AeadError, BurstJob, TAG_LEN};

/// Cycles and packets spent in AEAD calls since boot.
#[derive(Debug, Default)]
pub struct CryptoMeter {
    cycles: AtomicU64,
    packets: AtomicU64,
}

/// A reading of a [`CryptoMeter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CryptoReading {
    /// Cycles inside seal/open calls.
    pub cycles: u64,
    /// Packets sealed or opened (a burst call counts its jobs).
    pub packets: u64,
}

impl CryptoMeter {
    /// A meter at zero.
    pub const fn new() -> CryptoMeter {
        CryptoMeter {
            cycles: AtomicU64::new(0),
            packets: AtomicU64::new(0),
        }
    }

    /// Adds one call's `cycles` for `packets` packets.
    pub fn add(&self, cycles: u64, packets: u64) {
        // Relaxed: only the totals matter, and one core runs the data path.
        self.cycles.fetch_add(cycles, Ordering::Relaxed);
        self.packets.fetch_add(packets, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn read(&self) -> CryptoReading {
        CryptoReading {
            cycles: self.cycles.load(Ordering::Relaxed),
            packets: self.packets.load(Ordering::Relaxed),
        }
    }
}

/// A cycle clock and the crypto meter that [`Profiled`] feeds.
pub trait Meter {
    /// The current cycle count.
    fn now() -> u64;
    /// Where AEAD cycles go.
    fn crypto() -> &'static CryptoMeter;
}

/// The kernel's meter: the time-stamp counter and one global crypto meter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tsc;

static TSC_CRYPTO: CryptoMeter = CryptoMeter::new();

impl Meter for Tsc {
    #[inline]
    fn now() -> u64 {
        // Safety: RDTSC has no side effects and exists on every x86_64 CPU;
        // the kernel leaves CR4.TSD clear, and a Linux host allows it too.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    fn crypto() -> &'static CryptoMeter {
        &TSC_CRYPTO
    }
}

/// The AEAD back end `A`, with the cycles of every seal and open counted
/// in `M`'s crypto meter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Profiled<A, M = Tsc>(PhantomData<(A, M)>);

/// Runs `f`, adding its cycles for `packets` packets to `M`'s meter.
#[inline]
fn timed<M: Meter, T>(packets: usize, f: impl FnOnce() -> T) -> T {
    let start = M::now();
    let r = f();
    M::crypto().add(M::now().wrapping_sub(start), packets as u64);
    r
}

impl<A: Aead, M: Meter> Aead for Profiled<A, M> {
    type Key = A::Key;

    fn prepare(key: &[u8; 32]) -> Result<A::Key, AeadError> {
        A::prepare(key)
    }

    #[inline]
    fn seal(
        key: &A::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        timed::<M, _>(1, || A::seal(key, counter, aad, buf, tag))
    }

    #[inline]
    fn open(
        key: &A::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        timed::<M, _>(1, || A::open(key, counter, aad, buf, tag))
    }

    fn burst_pays(lens: &[usize]) -> bool {
        A::burst_pays(lens)
    }

    fn seal_burst(jobs: &mut [BurstJob<'_, A::Key>]) -> Result<(), AeadError> {
        timed::<M, _>(jobs.len(), || A::seal_burst(jobs))
    }

    fn open_burst(jobs: &mut [BurstJob<'_, A::Key>]) -> Result<u32, AeadError> {
        timed::<M, _>(jobs.len(), || A::open_burst(jobs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU64;
    use netfn::wireguard::aead::RingAead;

    /// A clock that advances 100 cycles per read, with its own meter.
    struct Fake;
    static FAKE_NOW: AtomicU64 = AtomicU64::new(0);
    static FAKE_CRYPTO: CryptoMeter = CryptoMeter::new();
    impl Meter for Fake {
        fn now() -> u64 {
            FAKE_NOW.fetch_add(100, Ordering::Relaxed)
        }
        fn crypto() -> &'static CryptoMeter {
            &FAKE_CRYPTO
        }
    }

    type P = Profiled<RingAead, Fake>;

    #[test]
    fn calls_delegate_and_count_cycles_and_packets() {
        let raw = [7u8; 32];
        let key = P::prepare(&raw).unwrap();
        let mut buf = *b"sixteen byte msg";
        let mut tag = [0u8; TAG_LEN];
        P::seal(&key, 5, b"", &mut buf, &mut tag).unwrap();
        // Same bytes as the back end on its own.
        let mut want = *b"sixteen byte msg";
        let t = RingAead::seal_in_place(&raw, 5, b"", &mut want).unwrap();
        assert_eq!((buf, tag), (want, t));
        assert_eq!(
            FAKE_CRYPTO.read(),
            CryptoReading {
                cycles: 100,
                packets: 1
            }
        );
        P::open(&key, 5, b"", &mut buf, &tag).unwrap();
        assert_eq!(&buf, b"sixteen byte msg");
        // A burst of three counts three packets for one timed call.
        let mut bufs = [[1u8; 64]; 3];
        let mut jobs: Vec<_> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| BurstJob {
                key: &key,
                counter: i as u64,
                aad: b"",
                buf: b,
                tag: [0; TAG_LEN],
            })
            .collect();
        P::seal_burst(&mut jobs).unwrap();
        assert_eq!(P::open_burst(&mut jobs).unwrap(), 0b111);
        // A failed open is timed and counted like any other.
        tag[0] ^= 1;
        assert_eq!(
            P::open(&key, 5, b"", &mut buf, &tag),
            Err(AeadError::BadTag)
        );
        assert_eq!(
            FAKE_CRYPTO.read(),
            CryptoReading {
                cycles: 500,
                packets: 9
            }
        );
    }

    /// The wrapper passes on whether bursts pay: answering the trait's
    /// old default (never) turned the gateway's SIMD lanes off.
    #[test]
    fn bursts_pay_as_the_wrapped_back_end_says() {
        use netfn::simd::SimdAead;
        for lens in [&[64usize; 8][..], &[1420; 32], &[64, 64, 64], &[]] {
            assert_eq!(
                Profiled::<SimdAead, Fake>::burst_pays(lens),
                SimdAead::burst_pays(lens)
            );
            assert!(!P::burst_pays(lens));
        }
        if netfn::simd::Path::Avx2.is_available() {
            assert!(Profiled::<SimdAead, Fake>::burst_pays(&[64; 8]));
        }
    }

    #[test]
    fn the_tsc_meter_advances() {
        let a = Tsc::now();
        let b = Tsc::now();
        assert!(b >= a);
    }
}
