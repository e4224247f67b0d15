//! Handshake flood defence: a per-source token bucket and load detection.
//!
//! Handshake messages cost two X25519 operations each, so a flood of them is
//! the cheapest way to burn the single core. The cookie mechanism proves the
//! source address; the token bucket then caps how many handshakes each
//! proven source may cost us: 20 per second with a burst of 5, keyed by the
//! IPv4 address or the IPv6 /64 (one host usually owns a whole /64), like
//! the Linux ratelimiter. The table is bounded; idle entries are swept once
//! a second, and a full table refuses new sources rather than growing.
//!
//! Load: we call ourselves under load when more than
//! [`UNDER_LOAD_HANDSHAKES`] handshake messages arrived within one second,
//! and stay so for a second after. The caller can also force it.

use super::NANOS_PER_SEC;
use alloc::collections::BTreeMap;
use core::net::IpAddr;

/// Handshakes per second each source may cost.
const PER_SECOND: u64 = 20;
/// Burst allowance.
const BURST: u64 = 5;
/// Cost of one handshake in nanoseconds of credit.
const COST: u64 = NANOS_PER_SEC / PER_SECOND;
/// Most sources tracked at once.
const MAX_ENTRIES: usize = 8192;
/// Handshake messages per second above which we ask for cookies.
pub const UNDER_LOAD_HANDSHAKES: u32 = 128;

#[derive(Clone, Copy)]
struct Bucket {
    credit: u64,
    last: u64,
}

/// The per-source token buckets.
#[derive(Default)]
pub struct RateLimiter {
    buckets: BTreeMap<(u8, u64), Bucket>,
    last_sweep: u64,
}

fn key(ip: IpAddr) -> (u8, u64) {
    match ip {
        IpAddr::V4(a) => (4, u32::from(a) as u64),
        IpAddr::V6(a) => (6, (u128::from(a) >> 64) as u64),
    }
}

impl RateLimiter {
    /// May a handshake from `ip` be processed at `now`?
    pub fn allow(&mut self, now: u64, ip: IpAddr) -> bool {
        if now.saturating_sub(self.last_sweep) >= NANOS_PER_SEC {
            // An entry idle for a second has refilled completely: forget it.
            self.buckets
                .retain(|_, b| now.saturating_sub(b.last) < NANOS_PER_SEC);
            self.last_sweep = now;
        }
        let k = key(ip);
        let full = self.buckets.len() >= MAX_ENTRIES;
        let b = match self.buckets.get_mut(&k) {
            Some(b) => b,
            None if full => return false,
            None => self.buckets.entry(k).or_insert(Bucket {
                credit: COST * BURST,
                last: now,
            }),
        };
        b.credit = b
            .credit
            .saturating_add(now.saturating_sub(b.last))
            .min(COST * BURST);
        b.last = now;
        if b.credit >= COST {
            b.credit -= COST;
            true
        } else {
            false
        }
    }
}

/// Counts handshake messages to decide whether we are under load.
#[derive(Default)]
pub struct LoadMeter {
    window_start: u64,
    count: u32,
    loaded_until: u64,
    forced: bool,
}

impl LoadMeter {
    /// Records one handshake message at `now`; returns whether we are under load.
    pub fn record(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.window_start) >= NANOS_PER_SEC {
            self.window_start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.count > UNDER_LOAD_HANDSHAKES {
            self.loaded_until = now.saturating_add(NANOS_PER_SEC);
        }
        self.forced || now < self.loaded_until
    }

    /// Forces the under-load state on or back to automatic.
    pub fn force(&mut self, on: bool) {
        self.forced = on;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut r = RateLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = 10 * NANOS_PER_SEC;
        for _ in 0..5 {
            assert!(r.allow(t0, a));
        }
        assert!(!r.allow(t0, a));
        assert!(r.allow(t0, b)); // another source has its own bucket
        assert!(!r.allow(t0 + COST - 1, a));
        assert!(r.allow(t0 + COST, a));
        // Over one second a source gets burst + 20.
        let mut n = 0;
        for i in 0..1000 {
            if r.allow(t0 + 2 * NANOS_PER_SEC + i * NANOS_PER_SEC / 1000, a) {
                n += 1;
            }
        }
        assert!((20..=26).contains(&n), "{n}");
    }

    #[test]
    fn ipv6_shares_a_bucket_per_64() {
        let mut r = RateLimiter::default();
        for i in 0..5u16 {
            let ip: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            assert!(r.allow(0, ip));
        }
        assert!(!r.allow(0, "2001:db8::ffff".parse().unwrap()));
        assert!(r.allow(0, "2001:db8:0:1::1".parse().unwrap()));
    }

    #[test]
    fn load_meter_trips_and_recovers() {
        let mut m = LoadMeter::default();
        for _ in 0..UNDER_LOAD_HANDSHAKES {
            assert!(!m.record(5));
        }
        assert!(m.record(6));
        assert!(m.record(NANOS_PER_SEC / 2));
        assert!(!m.record(3 * NANOS_PER_SEC));
        m.force(true);
        assert!(m.record(10 * NANOS_PER_SEC));
    }
}
