//! Where the poll loop's time goes: cycles per packet by stage, from the
//! TSC, for `stats` ("cycles per packet by stage, since reset").
//!
//! The gateway plane reads the cycle counter a few times per burst (never
//! per packet): around the driver's `rx_burst`, after the pipeline has
//! processed the burst, after `flush` has handed it to the other NIC. The
//! AEAD calls inside the pipeline are timed by [`Profiled`] (per call), so
//! the processing splits into `crypto` and `gateway` (the rest). Each stage
//! is kept per direction: a burst received on the LAN is an encrypt turn
//! (LAN to tunnel), one received on the WAN a decrypt turn. Per loop, the
//! timers (`tick` and its flush), the console, and `idle` (polls that found
//! no packet) are kept too; against the cycles elapsed since the reset
//! that gives the loop's busy fraction. Under TCG `rx` includes QEMU's
//! device emulation, which runs when the guest touches the NIC.
//!
//! [`Profile`] only adds up figures it is given, so host tests drive it
//! with made-up timestamps; the kernel feeds it RDTSC readings.

mod aead;
#[cfg(test)]
mod tests;

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

pub use aead::{CryptoMeter, CryptoReading, Meter, Profiled, Tsc};

/// The gateway's AEAD: the SIMD burst back end, profiled.
pub type PlaneAead = Profiled<netfn::simd::SimdAead, Tsc>;

/// TSC ticks per second, set by the kernel once calibrated (0: unknown).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Records the TSC frequency the report converts cycles to time with.
pub fn set_tsc_hz(hz: u64) {
    TSC_HZ.store(hz, Ordering::Relaxed);
}

/// The TSC frequency recorded by [`set_tsc_hz`] (0 when unknown).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Which way a burst went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Received on the LAN: sealed into the tunnel.
    Encrypt,
    /// Received on the WAN: opened out of the tunnel.
    Decrypt,
}

/// Cycles of one processed burst, by stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BurstCycles {
    /// Frames in the burst.
    pub packets: u64,
    /// The driver's `rx_burst`.
    pub rx: u64,
    /// The pipeline, crypto included (`crypto` is subtracted).
    pub process: u64,
    /// AEAD calls during the processing.
    pub crypto: u64,
    /// `flush`: the transmit bursts.
    pub tx: u64,
}

/// One direction's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stages {
    /// Frames received.
    pub packets: u64,
    /// Bursts received.
    pub bursts: u64,
    /// Cycles in `rx_burst`.
    pub rx: u64,
    /// Cycles in the pipeline outside the AEAD.
    pub gateway: u64,
    /// Cycles in the AEAD.
    pub crypto: u64,
    /// Cycles in `flush`.
    pub tx: u64,
}

impl Stages {
    /// All four stages' cycles.
    pub fn total(&self) -> u64 {
        self.rx + self.gateway + self.crypto + self.tx
    }

    /// The stages with their report names.
    fn named(&self) -> [(&'static str, u64); 4] {
        [
            ("rx", self.rx),
            ("gateway", self.gateway),
            ("crypto", self.crypto),
            ("tx", self.tx),
        ]
    }
}

/// The stage profile since the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Cycle count at the reset.
    pub since: u64,
    /// LAN to tunnel.
    pub encrypt: Stages,
    /// Tunnel to LAN.
    pub decrypt: Stages,
    /// Cycles in the timers (`tick` and the flush after it).
    pub timers: u64,
    /// Cycles in the console's poll.
    pub console: u64,
    /// Cycles in `rx_burst` calls that found nothing.
    pub idle: u64,
    /// Poll-loop turns.
    pub turns: u64,
    /// Turns in which neither port received anything.
    pub idle_turns: u64,
}

impl Profile {
    /// A profile starting at cycle `now`.
    pub fn new(now: u64) -> Profile {
        Profile {
            since: now,
            ..Profile::default()
        }
    }

    /// `stats reset`: start again at cycle `now`.
    pub fn reset(&mut self, now: u64) {
        *self = Profile::new(now);
    }

    /// Adds a processed burst received on the `way` side.
    pub fn burst(&mut self, way: Way, c: BurstCycles) {
        let s = match way {
            Way::Encrypt => &mut self.encrypt,
            Way::Decrypt => &mut self.decrypt,
        };
        s.packets += c.packets;
        s.bursts += 1;
        s.rx += c.rx;
        // The AEAD runs inside the processing; a clock step between the two
        // readings must not wrap the difference.
        let crypto = c.crypto.min(c.process);
        s.gateway += c.process - crypto;
        s.crypto += crypto;
        s.tx += c.tx;
    }

    /// Adds an `rx_burst` that returned nothing.
    pub fn empty_rx(&mut self, cycles: u64) {
        self.idle += cycles;
    }

    /// Adds the timers' cycles and ends a turn (`busy`: packets moved).
    pub fn end_turn(&mut self, timers: u64, busy: bool) {
        self.timers += timers;
        self.turns += 1;
        if !busy {
            self.idle_turns += 1;
        }
    }

    /// Adds a console poll.
    pub fn console(&mut self, cycles: u64) {
        self.console += cycles;
    }

    /// The `stats` section at cycle `now`, with times at `hz` TSC ticks per
    /// second (0: cycles only).
    pub fn report(&self, now: u64, hz: u64, out: &mut dyn Write) -> fmt::Result {
        let elapsed = now.wrapping_sub(self.since).max(1);
        write!(out, "cycles per packet by stage, since reset: ")?;
        match hz {
            0 => writeln!(out, "{elapsed} cycles, TSC rate unknown")?,
            hz => writeln!(
                out,
                "{} ms at {}.{:03} MHz",
                u128::from(elapsed) * 1000 / u128::from(hz),
                hz / 1_000_000,
                hz / 1_000 % 1_000
            )?,
        }
        for (name, s) in [
            ("encrypt (lan to tunnel)", &self.encrypt),
            ("decrypt (tunnel to lan)", &self.decrypt),
        ] {
            let per = s.total() / s.packets.max(1);
            write!(
                out,
                "  {name}: {} packets in {} bursts, {per} cycles/packet",
                s.packets, s.bursts
            )?;
            if hz != 0 {
                write!(out, " ({} ns)", Ns(per, hz))?;
            }
            writeln!(out, ", {} of the time", Pct(s.total(), elapsed))?;
            writeln!(out, "    stage      cycles/pkt  share     ns/pkt")?;
            for (stage, cycles) in s.named() {
                let per = cycles / s.packets.max(1);
                write!(
                    out,
                    "    {stage:<10} {per:>10}  {:>6}",
                    Pct(cycles, s.total().max(1))
                )?;
                match hz {
                    0 => writeln!(out)?,
                    hz => writeln!(out, "  {:>9}", Ns(per, hz))?,
                }
            }
        }
        let accounted =
            self.encrypt.total() + self.decrypt.total() + self.timers + self.console + self.idle;
        writeln!(
            out,
            "  loop: {} turns ({} without packets), busy {}; timers {}, console {}, idle {}, other {}",
            self.turns,
            self.idle_turns,
            Pct(self.encrypt.total() + self.decrypt.total(), elapsed),
            Pct(self.timers, elapsed),
            Pct(self.console, elapsed),
            Pct(self.idle, elapsed),
            Pct(elapsed.saturating_sub(accounted), elapsed),
        )
    }
}

/// `part` of `whole` as a percentage with one decimal.
struct Pct(u64, u64);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let permille = u128::from(self.0) * 1000 / u128::from(self.1.max(1));
        f.pad(&alloc::format!("{}.{}%", permille / 10, permille % 10))
    }
}

/// `cycles` at `hz` as nanoseconds with one decimal.
struct Ns(u64, u64);

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = u128::from(self.0) * 10_000_000_000 / u128::from(self.1.max(1));
        f.pad(&alloc::format!("{}.{}", tenths / 10, tenths % 10))
    }
}
