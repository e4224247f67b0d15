//! The stage accounting with made-up timestamps (a fake clock).

use super::*;

/// A clock the tests move by hand, standing in for RDTSC.
struct Clock(u64);

impl Clock {
    fn tick(&mut self, cycles: u64) -> u64 {
        self.0 += cycles;
        self.0
    }
}

/// One burst as the gateway plane records it: rx, processing (with
/// `crypto` of it in the AEAD), flush.
fn burst(p: &mut Profile, c: &mut Clock, way: Way, n: u64, cost: [u64; 4]) {
    let [rx, gw, crypto, tx] = cost;
    let t0 = c.0;
    let t_rx = c.tick(rx);
    let t_proc = c.tick(gw + crypto);
    let t_tx = c.tick(tx);
    p.burst(
        way,
        BurstCycles {
            packets: n,
            rx: t_rx - t0,
            process: t_proc - t_rx,
            crypto,
            tx: t_tx - t_proc,
        },
    );
}

#[test]
fn stages_split_per_direction_and_loop_shares_add_up() {
    let mut c = Clock(1_000_000);
    let mut p = Profile::new(c.0);
    // Turn 1: 32 frames from the LAN, 16 from the WAN, timers 100.
    burst(
        &mut p,
        &mut c,
        Way::Encrypt,
        32,
        [3_200, 6_400, 16_000, 6_400],
    );
    burst(
        &mut p,
        &mut c,
        Way::Decrypt,
        16,
        [1_600, 1_600, 9_600, 3_200],
    );
    c.tick(100);
    p.end_turn(100, true);
    // Turn 2: nothing on either port; the console took 500 before it.
    c.tick(500 + 40 + 60 + 50);
    p.console(500);
    p.empty_rx(40);
    p.empty_rx(60);
    p.end_turn(50, false);
    // Loop overhead nobody claims.
    c.tick(1_000);

    assert_eq!(
        p.encrypt,
        Stages {
            packets: 32,
            bursts: 1,
            rx: 3_200,
            gateway: 6_400,
            crypto: 16_000,
            tx: 6_400
        }
    );
    assert_eq!(p.decrypt.total(), 16_000);
    assert_eq!((p.timers, p.console, p.idle), (150, 500, 100));
    assert_eq!((p.turns, p.idle_turns), (2, 1));

    let mut out = String::new();
    // 2 GHz: one cycle is half a nanosecond.
    p.report(c.0, 2_000_000_000, &mut out).unwrap();
    let elapsed = c.0 - 1_000_000;
    assert_eq!(elapsed, 32_000 + 16_000 + 150 + 500 + 100 + 1_000);
    let want = "\
cycles per packet by stage, since reset: 0 ms at 2000.000 MHz
  encrypt (lan to tunnel): 32 packets in 1 bursts, 1000 cycles/packet (500.0 ns), 64.3% of the time
    stage      cycles/pkt  share     ns/pkt
    rx                100   10.0%       50.0
    gateway           200   20.0%      100.0
    crypto            500   50.0%      250.0
    tx                200   20.0%      100.0
  decrypt (tunnel to lan): 16 packets in 1 bursts, 1000 cycles/packet (500.0 ns), 32.1% of the time
    stage      cycles/pkt  share     ns/pkt
    rx                100   10.0%       50.0
    gateway           100   10.0%       50.0
    crypto            600   60.0%      300.0
    tx                200   20.0%      100.0
  loop: 2 turns (1 without packets), busy 96.4%; timers 0.3%, console 1.0%, idle 0.2%, other 2.0%
";
    assert_eq!(out, want);
}

#[test]
fn reset_starts_over_and_an_empty_profile_reports_zeros() {
    let mut p = Profile::new(10);
    p.burst(
        Way::Encrypt,
        BurstCycles {
            packets: 4,
            rx: 1,
            process: 2,
            crypto: 1,
            tx: 1,
        },
    );
    p.console(7);
    p.reset(500);
    assert_eq!(p, Profile::new(500));
    let mut out = String::new();
    p.report(500, 0, &mut out).unwrap();
    assert!(
        out.starts_with("cycles per packet by stage, since reset: 1 cycles, TSC rate unknown\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  encrypt (lan to tunnel): 0 packets in 0 bursts, 0 cycles/packet, 0.0% of the time\n"
        ),
        "{out}"
    );
    assert!(out.contains("    crypto              0    0.0%\n"), "{out}");
}

#[test]
fn crypto_beyond_the_processing_is_capped_not_wrapped() {
    let mut p = Profile::new(0);
    p.burst(
        Way::Decrypt,
        BurstCycles {
            packets: 1,
            rx: 0,
            process: 10,
            crypto: 12,
            tx: 0,
        },
    );
    assert_eq!((p.decrypt.gateway, p.decrypt.crypto), (0, 10));
}
