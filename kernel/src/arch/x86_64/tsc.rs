//! Monotonic time from the TSC, calibrated at boot.
//!
//! The TSC frequency comes from CPUID leaf 0x15 when the CPU states it exactly
//! (crystal clock × ratio); otherwise it is measured against PIT channel 2
//! (8254 data sheet, mode 0: OUT2 goes high when the count reaches zero),
//! which QEMU emulates faithfully, over 10 ms (best of three). Leaf 0x16's nominal base
//! frequency is the last resort. `now_ns` is what every timer in the kernel
//! reads.

use core::arch::x86_64::_rdtsc;
use core::sync::atomic::{AtomicU64, Ordering};

use ringwall_kernel::time::{calibrate_hz, ticks_to_ns};

use super::pio::{inb, outb};

const PIT_HZ: u64 = 1_193_182;
/// 10 ms of PIT ticks.
const PIT_COUNT: u16 = 11_932;

static HZ: AtomicU64 = AtomicU64::new(0);
static BASE: AtomicU64 = AtomicU64::new(0);
static SOURCE: spin::Once<&'static str> = spin::Once::new();

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // Safety: RDTSC has no side effects and is available on every x86_64 CPU
    // (CR4.TSD is clear, so it is allowed at CPL 0 anyway).
    unsafe { _rdtsc() }
}

/// Marks "now" as time zero (called first thing in `kmain`).
pub fn mark_boot() {
    BASE.store(rdtsc(), Ordering::Relaxed);
}

/// Measures TSC ticks over 10 ms of PIT channel 2. `None` if the PIT never
/// signals (no PIT, or broken emulation).
fn measure_with_pit() -> Option<u64> {
    // Safety: ports 0x61 (system control port B), 0x42 and 0x43 belong to the
    // PC speaker gate and the 8254 PIT, which nothing else in Ringwall uses.
    unsafe {
        let ctl = inb(0x61);
        // Gate channel 2 on, speaker output off.
        outb(0x61, (ctl & !0x02) | 0x01);
        // Channel 2, lobyte/hibyte, mode 0, binary.
        outb(0x43, 0xb0);
        outb(0x42, PIT_COUNT as u8);
        outb(0x42, (PIT_COUNT >> 8) as u8);
        let start = rdtsc();
        // Bounded: give up after ~10^10 TSC ticks (seconds on any machine).
        while inb(0x61) & 0x20 == 0 {
            if rdtsc().wrapping_sub(start) > 10_000_000_000 {
                outb(0x61, ctl);
                return None;
            }
        }
        let ticks = rdtsc().wrapping_sub(start);
        outb(0x61, ctl);
        Some(ticks)
    }
}

/// Calibrates the TSC; `cpuid_hz` is what CPUID leaf 0x15/0x16 said, if
/// anything, and `exact` whether that came from leaf 0x15.
pub fn calibrate(cpuid_hz: Option<u64>, exact: bool) -> u64 {
    let (hz, source) = match (cpuid_hz, exact) {
        (Some(hz), true) => (hz, "CPUID 0x15"),
        // Three runs, keep the shortest: a run can only be lengthened (the
        // host descheduling QEMU mid-measurement), never shortened.
        _ => match (0..3).filter_map(|_| measure_with_pit()).min() {
            Some(t) => (calibrate_hz(t, u64::from(PIT_COUNT), PIT_HZ), "PIT"),
            None => match cpuid_hz {
                Some(hz) => (hz, "CPUID 0x16"),
                // Nothing to measure against: assume 1 GHz and say so.
                None => (1_000_000_000, "assumed"),
            },
        },
    };
    HZ.store(hz.max(1), Ordering::Relaxed);
    SOURCE.call_once(|| source);
    hz
}

/// TSC frequency in Hz and its source.
pub fn frequency() -> (u64, &'static str) {
    (
        HZ.load(Ordering::Relaxed),
        SOURCE.get().copied().unwrap_or("uncalibrated"),
    )
}

/// Nanoseconds since boot (0 until calibrated).
pub fn now_ns() -> u64 {
    let hz = HZ.load(Ordering::Relaxed);
    ticks_to_ns(rdtsc().wrapping_sub(BASE.load(Ordering::Relaxed)), hz)
}

/// Spins for at least `us` microseconds.
pub fn delay_us(us: u64) {
    let hz = HZ.load(Ordering::Relaxed).max(1);
    let ticks = (u128::from(us) * u128::from(hz) / 1_000_000) as u64;
    let start = rdtsc();
    while rdtsc().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}

#[allow(dead_code)] // handed to the NIC drivers at bring-up
/// [`drivers::hal::Delay`] over the TSC.
#[derive(Debug, Clone, Copy, Default)]
pub struct TscDelay;

impl drivers::hal::Delay for TscDelay {
    fn delay_us(&self, us: u32) {
        delay_us(us.into());
    }
}
