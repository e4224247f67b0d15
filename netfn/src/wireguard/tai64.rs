//! TAI64N timestamps, the replay protection of handshake initiations.
//!
//! Twelve bytes: big-endian seconds as TAI64 (2^62 + 10 + Unix seconds, the
//! 10 being the TAI-UTC offset of 1972 that every implementation uses), then
//! big-endian nanoseconds. Like the Linux implementation the nanoseconds are
//! rounded down to a multiple of 2^24 ns (~16.7 ms), so the timestamp does
//! not leak a precise clock. Byte order makes "newer" a plain lexicographic
//! comparison. The responder refuses a timestamp not greater than the last
//! one it accepted from that peer, so the sender must never go backwards:
//! [`Stamper`] keeps its output strictly increasing even if the wall clock
//! it is given steps back (an appliance whose RTC is not trustworthy).

/// TAI64 label of the Unix epoch: 2^62 + 10.
const TAI64_EPOCH: u64 = (1 << 62) + 10;
/// The granularity kept in the nanosecond field.
const GRANULE_NS: u32 = 1 << 24;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A TAI64N timestamp in its wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Tai64n(pub [u8; 12]);

impl Tai64n {
    /// The timestamp of a Unix time in nanoseconds, rounded down to 2^24 ns.
    pub fn from_unix_nanos(unix_ns: u64) -> Tai64n {
        let secs = TAI64_EPOCH + unix_ns / NANOS_PER_SEC;
        let nanos = (unix_ns % NANOS_PER_SEC) as u32 & !(GRANULE_NS - 1);
        Tai64n::from_parts(secs, nanos)
    }

    fn from_parts(secs: u64, nanos: u32) -> Tai64n {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&secs.to_be_bytes());
        b[8..].copy_from_slice(&nanos.to_be_bytes());
        Tai64n(b)
    }

    fn parts(&self) -> (u64, u32) {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.0[..8]);
        let mut n = [0u8; 4];
        n.copy_from_slice(&self.0[8..]);
        (u64::from_be_bytes(s), u32::from_be_bytes(n))
    }

    /// The next representable timestamp (one granule later).
    fn next(&self) -> Tai64n {
        let (s, n) = self.parts();
        let n = n.saturating_add(GRANULE_NS);
        if n as u64 >= NANOS_PER_SEC {
            Tai64n::from_parts(s.saturating_add(1), 0)
        } else {
            Tai64n::from_parts(s, n)
        }
    }
}

/// Hands out strictly increasing timestamps for initiations we send.
#[derive(Debug, Clone, Default)]
pub struct Stamper {
    last: Tai64n,
}

impl Stamper {
    /// A stamper that will never return a timestamp at or below `floor`
    /// (e.g. one persisted before a reboot).
    pub fn with_floor(floor: Tai64n) -> Stamper {
        Stamper { last: floor }
    }

    /// The timestamp for an initiation sent at `unix_ns`: the clock's value,
    /// or one granule past the previous one when the clock has not moved on.
    pub fn stamp(&mut self, unix_ns: u64) -> Tai64n {
        let t = Tai64n::from_unix_nanos(unix_ns);
        self.last = if t > self.last { t } else { self.last.next() };
        self.last
    }

    /// The last timestamp handed out.
    pub fn last(&self) -> Tai64n {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_of_a_known_time() {
        // 2020-01-01T00:00:00.5Z = 1577836800.5 s; 0.5 s rounds down to a
        // multiple of 2^24 ns: 0x1DCD6500 & !0xFFFFFF = 0x1D000000.
        let t = Tai64n::from_unix_nanos(1_577_836_800 * NANOS_PER_SEC + 500_000_000);
        assert_eq!(t.0, [0x40, 0, 0, 0, 0x5e, 0x0b, 0xe1, 0x0a, 0x1d, 0, 0, 0]);
    }

    #[test]
    fn ordering_follows_time() {
        let a = Tai64n::from_unix_nanos(10 * NANOS_PER_SEC);
        let b = Tai64n::from_unix_nanos(10 * NANOS_PER_SEC + 20_000_000);
        let c = Tai64n::from_unix_nanos(11 * NANOS_PER_SEC);
        assert!(a < b && b < c);
        // Within one granule: equal.
        assert_eq!(a, Tai64n::from_unix_nanos(10 * NANOS_PER_SEC + 1_000_000));
    }

    #[test]
    fn stamper_never_repeats_or_goes_back() {
        let mut s = Stamper::default();
        let t1 = s.stamp(100 * NANOS_PER_SEC);
        let t2 = s.stamp(100 * NANOS_PER_SEC); // same clock reading
        let t3 = s.stamp(50 * NANOS_PER_SEC); // clock stepped back
        assert!(t1 < t2 && t2 < t3);
        // Carry from the nanosecond field into the seconds.
        let mut s = Stamper::with_floor(Tai64n::from_unix_nanos(7 * NANOS_PER_SEC + 999_000_000));
        let t = s.stamp(0);
        assert_eq!(t, Tai64n::from_unix_nanos(8 * NANOS_PER_SEC));
    }
}
