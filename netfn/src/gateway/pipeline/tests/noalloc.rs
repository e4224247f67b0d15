//! The data path never allocates: a counting global allocator (per thread,
//! so tests running in parallel do not disturb each other) watches the
//! gateway forward packets both ways once the session and the neighbours
//! are up.

use core::cell::Cell;
use std::alloc::{GlobalAlloc, Layout, System};

use super::*;
use crate::simd::SimdAead;
use crate::wireguard::{Aead, RingAead};

/// Counts allocations made by the current thread, then defers to `System`.
struct Counting;

std::thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: during thread teardown the counter may be gone already.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// Safety (for the impl): every call is forwarded unchanged to `System`,
// which upholds `GlobalAlloc`'s contract; counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // Safety: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // Safety: the caller's contract for `alloc_zeroed` is passed on as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // Safety: `ptr` came from `System`; the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

#[test]
fn forwarding_both_ways_allocates_nothing() {
    let mut w = World::new();
    w.establish();
    w.peer_send(&echo(REMOTE, HOST, 64, false, 1, 1, b"resolve the host"));
    assert_eq!(w.lan_rx.len(), 1);
    let n = 1000;
    let out = frame(
        LAN_MAC,
        HOST_MAC,
        crate::gateway::ether::ETHERTYPE_IPV4,
        &udp(HOST, REMOTE, 1, 2, &[0x5a; 1000]),
    );
    let inner = udp(REMOTE, HOST, 2, 1, &[0xa5; 1000]);
    let mut dst = vec![0u8; 2048];
    let back: Vec<Vec<u8>> = (0..n)
        .map(|_| match w.bt.encapsulate(&inner, &mut dst) {
            boringtun::noise::TunnResult::WriteToNetwork(d) => udp_frame(51820, d),
            other => panic!("{other:?}"),
        })
        .collect();

    let before = allocations();
    let (mut sent, mut got) = (0, 0);
    for f in &back {
        w.lan_frame(&out);
        w.wan_frame(f);
        w.gw.tick(w.now, &mut w.out, &mut w.pool);
        let World { out, pool, .. } = &mut w;
        for b in out.drain(Port::Wan) {
            sent += 1;
            pool.free(b);
        }
        for b in out.drain(Port::Lan) {
            got += 1;
            pool.free(b);
        }
    }
    let during = allocations() - before;
    assert_eq!((sent, got), (n, n));
    assert_eq!(during, 0, "allocations on the data path");
    w.finish();
}

/// Both burst paths: `RingAead` sends every burst packet by packet,
/// `SimdAead` (on a CPU with AVX2) through its three passes and the lanes.
#[test]
fn bursts_both_ways_allocate_nothing() {
    bursts_allocate_nothing::<RingAead>();
    bursts_allocate_nothing::<SimdAead>();
}

fn bursts_allocate_nothing<A: Aead>() {
    let mut w = World::<A>::with_aead(&config_text(""), 256);
    w.establish();
    w.peer_send(&echo(REMOTE, HOST, 64, false, 1, 1, b"resolve the host"));
    assert_eq!(w.lan_rx.len(), 1);
    let rounds = 20;
    const BURST: usize = 32;
    let out = frame(
        LAN_MAC,
        HOST_MAC,
        crate::gateway::ether::ETHERTYPE_IPV4,
        &udp(HOST, REMOTE, 1, 2, &[0x5a; 100]),
    );
    let inner = udp(REMOTE, HOST, 2, 1, &[0xa5; 100]);
    let mut dst = vec![0u8; 2048];
    let back: Vec<Vec<u8>> = (0..rounds * BURST)
        .map(|_| match w.bt.encapsulate(&inner, &mut dst) {
            boringtun::noise::TunnResult::WriteToNetwork(d) => udp_frame(51820, d),
            other => panic!("{other:?}"),
        })
        .collect();

    let before = allocations();
    let (mut sent, mut got) = (0, 0);
    for chunk in back.chunks(BURST) {
        let lan: [Option<TestBuf>; BURST] = core::array::from_fn(|_| w.rx_buffer(&out));
        let now = w.now;
        w.gw.process_lan_burst(now, lan.into_iter().flatten(), &mut w.out, &mut w.pool);
        let mut frames = chunk.iter();
        let wan: [Option<TestBuf>; BURST] =
            core::array::from_fn(|_| frames.next().and_then(|f| w.rx_buffer(f)));
        w.gw.process_wan_burst(now, wan.into_iter().flatten(), &mut w.out, &mut w.pool);
        w.gw.tick(now, &mut w.out, &mut w.pool);
        let World { out, pool, .. } = &mut w;
        for b in out.drain(Port::Wan) {
            sent += 1;
            pool.free(b);
        }
        for b in out.drain(Port::Lan) {
            got += 1;
            pool.free(b);
        }
    }
    let during = allocations() - before;
    assert_eq!((sent, got), (rounds * BURST, rounds * BURST));
    assert_eq!(during, 0, "allocations on the burst data path");
    w.finish();
}
