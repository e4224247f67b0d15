//! Entropy from the CPU's RDSEED/RDRAND.
//!
//! RDSEED draws from the conditioned entropy source itself and is preferred
//! for key material; RDRAND (a DRBG reseeded from it) is the fallback. Both
//! may transiently fail (CF=0), so each word is retried a bounded number of
//! times as Intel's DRNG guide recommends. Without either instruction a
//! device source registered with [`set_fallback`] (virtio-rng) is used; with
//! neither there is no entropy and callers must refuse to make keys.

use core::arch::x86_64::{_rdrand64_step, _rdseed64_step};
use core::sync::atomic::{AtomicU8, Ordering};

/// No entropy source answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoEntropy;

const HAS_RDRAND: u8 = 1;
const HAS_RDSEED: u8 = 2;
static SOURCES: AtomicU8 = AtomicU8::new(0);
const RETRIES: usize = 100;
/// Fills a buffer from a device; true only when all of it was filled.
type Fill = fn(&mut [u8]) -> bool;
/// A device entropy source for CPUs without RDRAND/RDSEED (virtio-rng).
static FALLBACK: spin::Mutex<Option<Fill>> = spin::Mutex::new(None);

/// Registers a device source used when the CPU has no RDRAND/RDSEED; it
/// returns true only when it filled the whole buffer.
pub fn set_fallback(fill: Fill) {
    *FALLBACK.lock() = Some(fill);
}

/// Records which instructions the CPU has (from CPUID, at boot).
pub fn init(rdrand: bool, rdseed: bool) {
    let mut s = 0;
    if rdrand {
        s |= HAS_RDRAND;
    }
    if rdseed {
        s |= HAS_RDSEED;
    }
    SOURCES.store(s, Ordering::Relaxed);
}

fn word(sources: u8) -> Option<u64> {
    let mut v = 0u64;
    if sources & HAS_RDSEED != 0 {
        for _ in 0..RETRIES {
            // Safety: CPUID reported RDSEED.
            if unsafe { _rdseed64_step(&mut v) } == 1 {
                return Some(v);
            }
            core::hint::spin_loop();
        }
    }
    if sources & HAS_RDRAND != 0 {
        for _ in 0..RETRIES {
            // Safety: CPUID reported RDRAND.
            if unsafe { _rdrand64_step(&mut v) } == 1 {
                return Some(v);
            }
        }
    }
    None
}

/// Fills `buf` with random bytes, or fails when no source works.
pub fn fill_random(buf: &mut [u8]) -> Result<(), NoEntropy> {
    let sources = SOURCES.load(Ordering::Relaxed);
    if sources == 0 {
        let fill = *FALLBACK.lock();
        return match fill {
            Some(fill) if fill(buf) => Ok(()),
            _ => Err(NoEntropy),
        };
    }
    for chunk in buf.chunks_mut(8) {
        let w = word(sources).ok_or(NoEntropy)?;
        chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
    }
    Ok(())
}
