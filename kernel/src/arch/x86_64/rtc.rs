//! The CMOS real-time clock, read once at boot as the wall clock.
//!
//! Registers are read twice until two reads agree, after waiting for the
//! update-in-progress flag (status A bit 7) to clear, the usual way to get a
//! consistent snapshot from an MC146818-compatible RTC. `unix_time_ns` then
//! advances that snapshot with the TSC; WireGuard's TAI64N timestamps need a
//! wall clock that only moves forward.

use core::sync::atomic::{AtomicU64, Ordering};

use ringwall_kernel::time::{RtcError, RtcRaw};

use super::pio::{inb, outb};
use super::tsc;

/// Unix time (ns) at the moment `BOOT_NS` was taken; 0 when unknown.
static UNIX_AT: AtomicU64 = AtomicU64::new(0);
static BOOT_NS: AtomicU64 = AtomicU64::new(0);

fn cmos(reg: u8) -> u8 {
    // Safety: ports 0x70/0x71 are the CMOS index/data pair, used only here;
    // bit 7 of the index is kept set so NMIs stay disabled as firmware left them.
    unsafe {
        outb(0x70, 0x80 | reg);
        inb(0x71)
    }
}

fn snapshot(century_reg: u8) -> RtcRaw {
    // Wait (bounded) for an update cycle to finish.
    for _ in 0..100_000 {
        if cmos(0x0a) & 0x80 == 0 {
            break;
        }
    }
    RtcRaw {
        second: cmos(0x00),
        minute: cmos(0x02),
        hour: cmos(0x04),
        day: cmos(0x07),
        month: cmos(0x08),
        year: cmos(0x09),
        century: (century_reg != 0).then(|| cmos(century_reg)),
        status_b: cmos(0x0b),
    }
}

/// Reads the RTC (using the FADT's century register when non-zero) and fixes
/// the wall clock. Returns Unix seconds.
pub fn init(century_reg: u8) -> Result<u64, RtcError> {
    let mut raw = snapshot(century_reg);
    for _ in 0..8 {
        let again = snapshot(century_reg);
        if again == raw {
            break;
        }
        raw = again;
    }
    let secs = raw.unix_seconds()?;
    BOOT_NS.store(tsc::now_ns(), Ordering::Relaxed);
    UNIX_AT.store(secs * 1_000_000_000, Ordering::Relaxed);
    Ok(secs)
}

/// Wall-clock time in Unix nanoseconds, `None` when the RTC was unreadable.
pub fn unix_time_ns() -> Option<u64> {
    let at = UNIX_AT.load(Ordering::Relaxed);
    (at != 0).then(|| at + tsc::now_ns().saturating_sub(BOOT_NS.load(Ordering::Relaxed)))
}
