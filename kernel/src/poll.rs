//! The shape of the kernel's main loop.
//!
//! Ringwall runs one core in one loop, run to completion: every iteration polls
//! the data path, and the console (never blocking) every
//! [`CONSOLE_POLL_NS`]; a few times per second
//! the data path also gets a `maintain` call for housekeeping (link state, tx
//! reclaim, timers). The NIC drivers and the WireGuard gateway plug in by
//! implementing [`Dataplane`]; until they do, [`Idle`] stands in.

/// What the poll loop drives besides the console.
pub trait Dataplane {
    /// Called on every loop iteration: move a burst of packets, return quickly.
    /// Returns how many packets were handled (0: idle).
    fn poll(&mut self, now_ns: u64) -> usize;
    /// Called every [`MAINTAIN_INTERVAL_NS`]: housekeeping outside the fast path.
    fn maintain(&mut self, now_ns: u64);
}

/// How often [`Dataplane::maintain`] runs (4 Hz).
pub const MAINTAIN_INTERVAL_NS: u64 = 250_000_000;

/// How often the loop looks at the console (2 kHz). Reading the UART's
/// status is an I/O access that QEMU serves under its global lock: on every
/// turn it took about a tenth of the loop at 64-byte packet rates (the stage
/// profile's `console` share), every 100 µs still 5 %. Every 500 µs is far
/// faster than a typist and than the UART fills its 16-byte receive FIFO at
/// 115200 baud (about 1.4 ms), so pasted input is not lost either.
pub const CONSOLE_POLL_NS: u64 = 500_000;

/// The data plane before any NIC is attached: nothing to do.
#[derive(Debug, Default)]
pub struct Idle;

impl Dataplane for Idle {
    fn poll(&mut self, _now_ns: u64) -> usize {
        0
    }
    fn maintain(&mut self, _now_ns: u64) {}
}

/// Decides when the periodic `maintain` is due.
#[derive(Debug, Clone, Copy)]
pub struct Ticker {
    next_ns: u64,
    interval_ns: u64,
}

impl Ticker {
    /// A ticker first due at `now_ns + interval_ns`.
    pub fn new(now_ns: u64, interval_ns: u64) -> Self {
        Ticker {
            next_ns: now_ns.saturating_add(interval_ns),
            interval_ns,
        }
    }

    /// True (once) when the next tick is due. Ticks missed while the loop was
    /// busy are not replayed: one call catches up.
    pub fn due(&mut self, now_ns: u64) -> bool {
        if now_ns < self.next_ns {
            return false;
        }
        self.next_ns = now_ns.saturating_add(self.interval_ns);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_fires_once_per_interval_without_backlog() {
        let mut t = Ticker::new(1_000, 100);
        assert!(!t.due(1_050));
        assert!(t.due(1_100));
        assert!(!t.due(1_150));
        // A long stall fires once, then waits a full interval again.
        assert!(t.due(5_000));
        assert!(!t.due(5_099));
        assert!(t.due(5_100));
    }

    #[test]
    fn idle_dataplane_reports_no_work() {
        let mut idle = Idle;
        assert_eq!(idle.poll(0), 0);
        idle.maintain(0);
    }
}
