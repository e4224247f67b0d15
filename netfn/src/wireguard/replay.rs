//! The receive-side replay window (RFC 6479 style ring bitmap).
//!
//! 8192 bits in 128 words, like Linux and wireguard-go. The newest counter
//! seen decides the window; moving it forward clears whole words, never bit
//! by bit, so a jump costs at most 128 word writes. One word is always being
//! recycled, which leaves 8192 - 64 = 8128 counters usable behind the
//! newest. `check` is a read-only pre-filter used before decryption (cheap
//! refusal of obvious replays); `update` runs only after the tag verified,
//! because an unauthenticated counter must never move the window.

use super::REJECT_AFTER_MESSAGES;

const WORDS: usize = 128;
const BITS: u64 = 64;
/// Number of counters behind the newest that are still accepted.
pub const WINDOW: u64 = (WORDS as u64 - 1) * BITS;

/// Why a counter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// This counter was already received.
    Duplicate,
    /// The counter is further behind the newest than the window reaches.
    TooOld,
    /// The counter reached REJECT_AFTER_MESSAGES.
    Exhausted,
}

/// The sliding window of received counters of one keypair.
#[derive(Clone)]
pub struct ReplayWindow {
    bitmap: [u64; WORDS],
    /// The newest counter accepted (valid when `any`).
    last: u64,
    any: bool,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            bitmap: [0; WORDS],
            last: 0,
            any: false,
        }
    }
}

impl ReplayWindow {
    /// Would `counter` be accepted? Changes nothing.
    #[inline]
    pub fn check(&self, counter: u64) -> Result<(), ReplayError> {
        if counter >= REJECT_AFTER_MESSAGES {
            return Err(ReplayError::Exhausted);
        }
        if !self.any || counter > self.last {
            return Ok(());
        }
        if self.last - counter >= WINDOW {
            return Err(ReplayError::TooOld);
        }
        let word = self.bitmap[((counter / BITS) as usize) % WORDS];
        if word & (1 << (counter % BITS)) != 0 {
            return Err(ReplayError::Duplicate);
        }
        Ok(())
    }

    /// Accepts `counter` (after its tag verified) or refuses it.
    #[inline]
    pub fn update(&mut self, counter: u64) -> Result<(), ReplayError> {
        self.check(counter)?;
        self.mark(counter);
        Ok(())
    }

    /// Records `counter`, which `check` accepted with no update since
    /// (the data path checks before decrypting and marks after, so it need
    /// not check twice).
    #[inline]
    pub fn mark(&mut self, counter: u64) {
        let index = counter / BITS;
        if !self.any || counter > self.last {
            let current = if self.any {
                self.last / BITS
            } else {
                // Nothing seen: the window starts empty, clear from scratch.
                index.wrapping_sub(WORDS as u64)
            };
            let diff = index.wrapping_sub(current).min(WORDS as u64);
            for i in 1..=diff {
                self.bitmap[(current.wrapping_add(i) as usize) % WORDS] = 0;
            }
            self.last = counter;
            self.any = true;
        }
        self.bitmap[(index as usize) % WORDS] |= 1 << (counter % BITS);
    }

    /// The newest counter accepted so far.
    pub fn newest(&self) -> Option<u64> {
        self.any.then_some(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_out_of_order_duplicates() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.update(0), Ok(()));
        assert_eq!(w.update(0), Err(ReplayError::Duplicate));
        assert_eq!(w.update(2), Ok(()));
        assert_eq!(w.update(1), Ok(()));
        assert_eq!(w.update(1), Err(ReplayError::Duplicate));
        assert_eq!(w.check(3), Ok(()));
        assert_eq!(w.newest(), Some(2));
    }

    #[test]
    fn window_edge_is_8128() {
        let mut w = ReplayWindow::default();
        w.update(10_000).unwrap();
        // 10_000 - 8128 = 1872 is just outside; 1873 inside.
        assert_eq!(w.check(10_000 - WINDOW), Err(ReplayError::TooOld));
        assert_eq!(w.update(10_000 - WINDOW + 1), Ok(()));
        assert_eq!(w.update(10_000 - WINDOW + 1), Err(ReplayError::Duplicate));
        assert_eq!(WINDOW, 8128);
    }

    #[test]
    fn big_jump_clears_old_bits() {
        let mut w = ReplayWindow::default();
        for c in 0..200 {
            w.update(c).unwrap();
        }
        // Jump by exactly the bitmap size: the word holding counter 8192+5
        // is the one that held 5, and it must have been cleared.
        w.update(8192 + 5).unwrap();
        assert_eq!(w.update(8192 + 6), Ok(()));
        assert_eq!(w.check(5), Err(ReplayError::TooOld));
        assert_eq!(w.update(8192 + 4), Ok(()));
        w.update(1 << 40).unwrap();
        assert_eq!(w.update((1 << 40) - 1), Ok(()));
        assert_eq!(w.update(1 << 40), Err(ReplayError::Duplicate));
    }

    #[test]
    fn first_counter_far_away_and_exhaustion() {
        let mut w = ReplayWindow::default();
        w.update(5000).unwrap();
        assert_eq!(w.update(4999), Ok(()));
        assert_eq!(w.update(5000), Err(ReplayError::Duplicate));
        assert_eq!(w.check(REJECT_AFTER_MESSAGES), Err(ReplayError::Exhausted));
        assert_eq!(w.update(REJECT_AFTER_MESSAGES - 1), Ok(()));
    }

    #[test]
    fn matches_a_naive_model() {
        // A set-based model over a pseudo-random walk of counters.
        let mut w = ReplayWindow::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut newest: Option<u64> = None;
        let mut x: u64 = 0x1234_5678;
        let mut base: u64 = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            base += x % 7;
            let c = (base + x % 9000).saturating_sub(4500);
            let expect = match newest {
                Some(n) if c <= n && n - c >= WINDOW => Err(ReplayError::TooOld),
                _ if seen.contains(&c) => Err(ReplayError::Duplicate),
                _ => Ok(()),
            };
            assert_eq!(w.update(c), expect, "counter {c}");
            if expect.is_ok() {
                seen.insert(c);
                newest = Some(newest.map_or(c, |n| n.max(c)));
            }
        }
    }
}
