//! How loaded the poll loop is: the fraction of time spent on turns that
//! moved packets, and packets per second, over the last 1 s and 10 s, for
//! `stats`.
//!
//! A run-to-completion loop never sleeps, so "CPU usage" is meaningless;
//! what tells an operator how close the box is to its limit is how much of
//! the time the loop found work. Each turn is recorded into 100 ms buckets
//! in a fixed ring covering 10 s; a report sums the completed buckets of the
//! window, so figures are exact for the window and nothing allocates.

use core::fmt;

/// Bucket width.
const BUCKET_NS: u64 = 100_000_000;
/// Buckets kept: 10 s of completed ones plus the one being filled.
const BUCKETS: usize = 101;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which 100 ms since boot this bucket holds.
    index: u64,
    busy_ns: u64,
    packets: u64,
}

/// The poll loop's load over recent windows.
#[derive(Debug, Clone)]
pub struct LoadMeter {
    buckets: [Bucket; BUCKETS],
    last_ns: u64,
}

impl Default for LoadMeter {
    fn default() -> Self {
        LoadMeter::new()
    }
}

/// Load over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Busy time in thousandths of the window.
    pub busy_permille: u64,
    /// Packets per second.
    pub pps: u64,
}

impl LoadMeter {
    /// A meter with no history.
    pub const fn new() -> Self {
        LoadMeter {
            buckets: [Bucket {
                index: u64::MAX,
                busy_ns: 0,
                packets: 0,
            }; BUCKETS],
            last_ns: 0,
        }
    }

    /// Records one loop turn from `start_ns` to `end_ns` that handled
    /// `packets` (a turn with none is idle time).
    pub fn record(&mut self, start_ns: u64, end_ns: u64, packets: usize) {
        self.last_ns = end_ns;
        let index = start_ns / BUCKET_NS;
        let b = &mut self.buckets[(index % BUCKETS as u64) as usize];
        if b.index != index {
            *b = Bucket {
                index,
                busy_ns: 0,
                packets: 0,
            };
        }
        if packets > 0 {
            b.busy_ns += end_ns.saturating_sub(start_ns);
            b.packets += packets as u64;
        }
    }

    /// The load over the `secs` (1..=10) seconds of completed buckets
    /// before the last recorded turn.
    pub fn window(&self, secs: u64) -> Load {
        let span = (secs.clamp(1, 10) * 1_000_000_000 / BUCKET_NS).min(BUCKETS as u64 - 1);
        let now = self.last_ns / BUCKET_NS;
        let first = now.saturating_sub(span);
        let (mut busy, mut packets) = (0u64, 0u64);
        for b in &self.buckets {
            if b.index >= first && b.index < now {
                busy += b.busy_ns;
                packets += b.packets;
            }
        }
        let window_ns = span * BUCKET_NS;
        Load {
            busy_permille: (u128::from(busy) * 1000 / u128::from(window_ns)).min(1000) as u64,
            pps: packets * 1_000_000_000 / window_ns,
        }
    }
}

impl fmt::Display for LoadMeter {
    /// The `stats` lines: `loop busy 12.3% 1s, 4.5% 10s  pps 1200 1s, 800 10s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = (self.window(1), self.window(10));
        writeln!(
            f,
            "loop busy {}.{}% (1s) {}.{}% (10s)  packets/s {} (1s) {} (10s)",
            a.busy_permille / 10,
            a.busy_permille % 10,
            b.busy_permille / 10,
            b.busy_permille % 10,
            a.pps,
            b.pps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn busy_fraction_and_rate_over_both_windows() {
        let mut m = LoadMeter::new();
        // 10 s of turns every 1 ms: each 100 ms bucket has 10 busy turns of
        // 0.5 ms with 4 packets, the rest idle.
        for t in 0..10_000u64 {
            let start = t * MS;
            let busy = t % 10 == 0;
            m.record(
                start,
                start + if busy { MS / 2 } else { MS / 10 },
                if busy { 4 } else { 0 },
            );
        }
        // Then 1 s of a saturated loop: every turn busy, 8 packets per ms.
        for t in 10_000..11_000u64 {
            m.record(t * MS, (t + 1) * MS, 8);
        }
        m.record(11_000 * MS, 11_000 * MS + 1, 0);
        let one = m.window(1);
        assert_eq!(
            one,
            Load {
                busy_permille: 1000,
                pps: 8000
            }
        );
        let ten = m.window(10);
        // 9 s at 5% and 400 pps, 1 s at 100% and 8000 pps.
        assert_eq!(ten.busy_permille, (9 * 50 + 1000) / 10);
        assert_eq!(ten.pps, (9 * 400 + 8000) / 10);
        assert_eq!(
            m.to_string(),
            "loop busy 100.0% (1s) 14.5% (10s)  packets/s 8000 (1s) 1160 (10s)\n"
        );
    }

    #[test]
    fn old_buckets_age_out_and_a_fresh_meter_reads_zero() {
        let mut m = LoadMeter::new();
        assert_eq!(
            m.window(1),
            Load {
                busy_permille: 0,
                pps: 0
            }
        );
        m.record(0, 50 * MS, 100);
        // 20 s later, idle: the old burst is outside both windows.
        m.record(20_000 * MS, 20_000 * MS + 1, 0);
        assert_eq!(
            m.window(10),
            Load {
                busy_permille: 0,
                pps: 0
            }
        );
    }
}
