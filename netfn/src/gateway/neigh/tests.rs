//! Tests for the neighbour table; its ARP input is the real frames of
//! `testdata/linux-router.pcap` (see `testdata/README.md`).

use super::*;
use crate::gateway::arp::ArpMessage;
use crate::gateway::pcap;
use alloc::vec::Vec;

const A_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x14];
const A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 20);
const R_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x01];
const R_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);
const S: u64 = SECOND_NS;

fn table(cap: usize, policy: QueuePolicy) -> NeighTable<u32, 4> {
    NeighTable::new(cap, NeighTimers::default(), policy)
}

fn drain(mut q: PendingQueue<u32, 4>) -> Vec<u32> {
    let mut v = Vec::new();
    while let Some(x) = q.pop() {
        v.push(x);
    }
    v
}

#[test]
fn pending_queue_is_a_bounded_fifo() {
    let mut q: PendingQueue<u32, 3> = PendingQueue::new();
    assert!(q.is_empty());
    for i in 0..3 {
        assert_eq!(q.push(i), Ok(()));
    }
    assert_eq!(q.push(9), Err(9));
    assert_eq!(q.pop(), Some(0));
    assert_eq!(q.push(3), Ok(())); // wraps
    assert_eq!(q.push_evicting(4), Some(1));
    assert_eq!(q.len(), 3);
    assert_eq!(
        (q.pop(), q.pop(), q.pop(), q.pop()),
        (Some(2), Some(3), Some(4), None)
    );
    let mut none: PendingQueue<u32, 0> = PendingQueue::new();
    assert_eq!(none.push_evicting(7), Some(7));
}

#[test]
fn resolution_queues_then_releases_in_order() {
    let mut t = table(8, QueuePolicy::DropNew);
    assert!(matches!(
        t.resolve(A_IP, 1, 0),
        Resolve::Queued { send_request: true }
    ));
    assert!(matches!(
        t.resolve(A_IP, 2, 10),
        Resolve::Queued {
            send_request: false
        }
    ));
    assert_eq!(t.lookup(A_IP), None);
    let info: Vec<_> = t.entries().collect();
    assert_eq!((info[0].state, info[0].queued), (NeighState::Incomplete, 2));
    // The reply (a real one, from the capture) releases both.
    let reply = ArpMessage::parse(pcap::router()[2]).unwrap();
    // Seen from A's side: R answered A.
    let released = t.learn_from_arp(&reply, A_IP, 20);
    assert_eq!(
        released.map(drain),
        None,
        "the reply taught R's address, not A's"
    );
    let mut t2 = table(8, QueuePolicy::DropNew);
    assert!(matches!(t2.resolve(R_IP, 1, 0), Resolve::Queued { .. }));
    assert!(matches!(t2.resolve(R_IP, 2, 0), Resolve::Queued { .. }));
    let released = t2.learn_from_arp(&reply, A_IP, 20).map(drain);
    assert_eq!(released, Some(alloc::vec![1, 2]));
    assert_eq!(t2.lookup(R_IP), Some(R_MAC));
    assert!(matches!(
        t2.resolve(R_IP, 3, 30),
        Resolve::Ready {
            mac: R_MAC,
            item: 3,
            refresh: false
        }
    ));
}

#[test]
fn full_queue_drops_by_policy() {
    let mut t = table(8, QueuePolicy::DropNew);
    for i in 0..4 {
        assert!(matches!(t.resolve(A_IP, i, 0), Resolve::Queued { .. }));
    }
    assert!(matches!(
        t.resolve(A_IP, 4, 0),
        Resolve::Dropped {
            item: 4,
            reason: DropReason::ArpQueueFull
        }
    ));
    assert_eq!(
        t.learn(A_IP, A_MAC, 1, false).map(drain),
        Some(alloc::vec![0, 1, 2, 3])
    );

    let mut t = table(8, QueuePolicy::DropOldest);
    for i in 0..4 {
        assert!(matches!(t.resolve(A_IP, i, 0), Resolve::Queued { .. }));
    }
    assert!(matches!(
        t.resolve(A_IP, 4, 0),
        Resolve::Dropped {
            item: 0,
            reason: DropReason::ArpQueueFull
        }
    ));
    assert_eq!(
        t.learn(A_IP, A_MAC, 1, false).map(drain),
        Some(alloc::vec![1, 2, 3, 4])
    );
}

#[test]
fn requests_are_paced_and_resolution_gives_up() {
    let mut t = table(8, QueuePolicy::DropNew);
    assert!(matches!(
        t.resolve(A_IP, 7, 0),
        Resolve::Queued { send_request: true }
    ));
    assert!(matches!(t.resolve(A_IP, 8, 0), Resolve::Queued { .. }));
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for now in [S / 2, S, S + S / 2, 2 * S, 2 * S + 1] {
        t.poll(now, |ip| sent.push((now, ip)), |x| failed.push(x));
    }
    // The first request went out with the resolve; two more, one per second.
    assert_eq!(sent, [(S, A_IP), (2 * S, A_IP)]);
    assert!(failed.is_empty());
    t.poll(3 * S, |ip| sent.push((3 * S, ip)), |x| failed.push(x));
    assert_eq!(sent.len(), 2);
    assert_eq!(failed, [7, 8]);
    assert!(t.is_empty());
}

#[test]
fn entries_go_stale_refresh_and_expire() {
    let mut t = table(8, QueuePolicy::DropNew);
    let req = ArpMessage::parse(pcap::router()[1]).unwrap();
    // A's request for R, seen by R: R learns A.
    assert!(t.learn_from_arp(&req, R_IP, 0).is_none());
    assert!(matches!(
        t.resolve(A_IP, 1, 29 * S),
        Resolve::Ready { refresh: false, .. }
    ));
    assert!(matches!(
        t.resolve(A_IP, 2, 30 * S),
        Resolve::Ready { refresh: true, .. }
    ));
    assert!(matches!(
        t.resolve(A_IP, 3, 30 * S + 1),
        Resolve::Ready { refresh: false, .. }
    ));
    assert!(matches!(
        t.resolve(A_IP, 4, 31 * S),
        Resolve::Ready { refresh: true, .. }
    ));
    assert_eq!(t.entries().next().map(|e| e.state), Some(NeighState::Stale));
    // A confirmation makes it reachable again.
    assert!(t.learn(A_IP, A_MAC, 40 * S, false).is_none());
    assert_eq!(
        t.entries().next().map(|e| e.state),
        Some(NeighState::Reachable)
    );
    let mut noop = |_| {};
    t.poll(40 * S + 89 * S, &mut noop, |_: u32| {});
    assert_eq!(t.len(), 1);
    t.poll(40 * S + 90 * S, &mut noop, |_: u32| {});
    assert!(t.is_empty(), "stale for 60 s after 30 s reachable: removed");
}

#[test]
fn only_arp_addressed_to_us_creates_entries() {
    let mut t = table(8, QueuePolicy::DropNew);
    let req = ArpMessage::parse(pcap::router()[1]).unwrap();
    assert!(t
        .learn_from_arp(&req, Ipv4Addr::new(192, 168, 10, 2), 0)
        .is_none());
    assert!(t.is_empty());
    // Never learn group or unspecified addresses.
    assert!(t.learn(Ipv4Addr::UNSPECIFIED, A_MAC, 0, true).is_none());
    assert!(t.learn(A_IP, ether::BROADCAST, 0, true).is_none());
    assert!(t.is_empty());
}

#[test]
fn capacity_is_fixed_and_evicts_the_oldest_resolved_entry() {
    let mut t = table(2, QueuePolicy::DropNew);
    let ip = |n| Ipv4Addr::new(10, 0, 0, n);
    t.learn(ip(1), [2, 0, 0, 0, 0, 1], 0, true);
    t.learn(ip(2), [2, 0, 0, 0, 0, 2], 5, true);
    assert!(matches!(t.resolve(ip(3), 1, 10), Resolve::Queued { .. }));
    assert_eq!(t.lookup(ip(1)), None, "oldest reachable evicted");
    assert!(t.lookup(ip(2)).is_some());
    assert!(matches!(t.resolve(ip(4), 2, 11), Resolve::Queued { .. }));
    // Both slots now hold waiting packets: a third next hop cannot get one.
    assert!(matches!(
        t.resolve(ip(5), 3, 12),
        Resolve::Dropped {
            item: 3,
            reason: DropReason::NeighTableFull
        }
    ));
    assert_eq!(t.len(), 2);
}

#[test]
fn lookups_find_every_entry_whatever_the_insertion_order() {
    let mut t = table(64, QueuePolicy::DropNew);
    let mut n: u32 = 12345;
    let mut ips = Vec::new();
    for _ in 0..64 {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let ip = Ipv4Addr::from(0x0a00_0000 | (n >> 8));
        let mac = [
            2,
            0,
            (n >> 24) as u8,
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ];
        t.learn(ip, mac, 0, true);
        ips.push((ip, mac));
    }
    for (ip, mac) in &ips {
        assert_eq!(t.lookup(*ip), Some(*mac));
    }
    let order: Vec<u32> = t.entries().map(|e| u32::from(e.ip)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Resolve(u8),
        Learn(u8, bool),
        Poll(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12).prop_map(Op::Resolve),
            (0u8..12, any::<bool>()).prop_map(|(h, c)| Op::Learn(h, c)),
            (0u16..3000).prop_map(Op::Poll),
        ]
    }

    proptest! {
        /// Every item handed to the table comes back exactly once (sent,
        /// released, dropped or failed), the table never outgrows its
        /// capacity, and it stays sorted.
        #[test]
        fn items_are_conserved(ops in proptest::collection::vec(op(), 0..200), oldest in any::<bool>()) {
            let policy = if oldest { QueuePolicy::DropOldest } else { QueuePolicy::DropNew };
            let mut t = table(5, policy);
            let mut now = 0u64;
            let mut next = 0u32;
            let mut back: Vec<u32> = Vec::new();
            let ip = |h: u8| Ipv4Addr::new(10, 0, 0, h + 1);
            for op in ops {
                match op {
                    Op::Resolve(h) => {
                        next += 1;
                        match t.resolve(ip(h), next, now) {
                            Resolve::Ready { item, .. } | Resolve::Dropped { item, .. } => back.push(item),
                            Resolve::Queued { .. } => {}
                        }
                    }
                    Op::Learn(h, create) => {
                        if let Some(q) = t.learn(ip(h), [2, 0, 0, 0, 0, h], now, create) {
                            back.extend(drain(q));
                        }
                    }
                    Op::Poll(ms) => {
                        now += ms as u64 * 1_000_000;
                        t.poll(now, |_| {}, |x| back.push(x));
                    }
                }
                prop_assert!(t.len() <= 5);
                let order: Vec<u32> = t.entries().map(|e| u32::from(e.ip)).collect();
                prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
            }
            // Give up on everything still waiting.
            for _ in 0..4 {
                now += 10 * S;
                t.poll(now, |_| {}, |x| back.push(x));
            }
            back.sort_unstable();
            let expect: Vec<u32> = (1..=next).collect();
            prop_assert_eq!(back, expect);
        }
    }
}
