//! Host tests of the data plane: a fake NIC feeds frames to [`Net`] and
//! collects what it sends.
//!
//! Frames are laid out by hand from the wire formats (RFC 826 ARP over
//! Ethernet II, RFC 791 IPv4, RFC 792 echo) with the addresses the QEMU tests
//! use, so the same exchanges are checked here and against real devices.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use core::ptr::NonNull;

use drivers::buf::{Burst, PacketBuf, PacketPool, BUF_SIZE};
use drivers::hal::DmaRegion;
use drivers::netdev::{NetDevice, NicStats};
use netfn::gateway::checksum::checksum;
use netfn::gateway::counters::DropReason;
use netfn::hoststack::HostStack;

use super::*;
use crate::poll::Dataplane;

const OUR_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const PEER_MAC: [u8; 6] = [0x52, 0x54, 0, 0xaa, 0, 2];
const OUR_IP: [u8; 4] = [192, 168, 10, 1];
const PEER_IP: [u8; 4] = [192, 168, 10, 2];

/// A NIC that hands out queued frames and collects what is sent.
struct FakeNic {
    inbox: Vec<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    link: bool,
    stats: NicStats,
}

impl NetDevice for FakeNic {
    fn driver_name(&self) -> &'static str {
        "fake"
    }
    fn mac(&self) -> [u8; 6] {
        OUR_MAC
    }
    fn link_up(&mut self) -> bool {
        self.link
    }
    fn rx_burst(&mut self, pool: &mut PacketPool, out: &mut Burst) -> usize {
        let mut n = 0;
        while !out.is_full() && !self.inbox.is_empty() {
            let frame = self.inbox.remove(0);
            let mut b: PacketBuf = pool.alloc().unwrap();
            assert!(b.set_len(frame.len()));
            b.data_mut().copy_from_slice(&frame);
            out.push(b).unwrap();
            n += 1;
        }
        self.stats.rx_packets += n as u64;
        n
    }
    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize {
        let n = bufs.len();
        let sent = &mut self.sent;
        bufs.drain_front(n, |b| {
            sent.push(b.data().to_vec());
            pool.free(b);
        });
        self.stats.tx_packets += n as u64;
        n
    }
    fn maintain(&mut self, _pool: &mut PacketPool) {}
    fn stats(&self) -> &NicStats {
        &self.stats
    }
    fn reset_stats(&mut self) {
        self.stats = NicStats::default();
    }
}

impl PortDevice for FakeNic {
    fn link_speed(&self) -> Option<(u32, bool)> {
        Some((1000, true))
    }
}

/// A data plane with one fake port at 192.168.10.1/24, and its pool memory.
fn net() -> (Net<FakeNic>, Vec<u8>) {
    let mut mem = vec![0u8; BUF_SIZE * 128];
    let region = DmaRegion {
        virt: NonNull::new(mem.as_mut_ptr()).unwrap(),
        phys: 0x10_0000,
        len: mem.len(),
    };
    let pool = PacketPool::new(region);
    let nic = FakeNic {
        inbox: Vec::new(),
        sent: Vec::new(),
        link: true,
        stats: NicStats::default(),
    };
    let ip = Ipv4Addr::from(OUR_IP);
    let host = HostStack::new(OUR_MAC, Some((ip, 24)), None, false, 1, 0).unwrap();
    let port = Port::new("lan", None, nic, Addressing::Static(ip, 24), Some(host));
    (Net::new(vec![port], pool), mem)
}

fn arp_request(target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&PEER_IP);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

fn echo_request(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = OUR_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&PEER_IP);
    ip.extend_from_slice(&OUR_IP);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0, 0xbe, 0xef];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

fn port(n: &mut Net<FakeNic>) -> &mut Port<FakeNic> {
    &mut n.ports[0]
}

#[test]
fn answers_arp_for_its_address_only() {
    let (mut n, _mem) = net();
    port(&mut n).dev.inbox.push(arp_request(OUR_IP));
    port(&mut n).dev.inbox.push(arp_request([192, 168, 10, 9]));
    n.poll(1_000_000);
    let sent = &port(&mut n).dev.sent;
    assert_eq!(sent.len(), 1, "one ARP reply");
    let r = &sent[0];
    assert_eq!(&r[0..6], &PEER_MAC);
    assert_eq!(&r[12..14], &[0x08, 0x06]);
    assert_eq!(&r[20..22], &[0, 2], "op: reply");
    assert_eq!(&r[22..28], &OUR_MAC, "sender MAC");
    assert_eq!(&r[28..32], &OUR_IP, "sender IP");
}

#[test]
fn echo_replies_carry_the_request_payload_even_for_a_full_burst() {
    let (mut n, _mem) = net();
    let total = n.pool.available();
    n.ports[0].dev.inbox.push(arp_request(OUR_IP));
    for seq in 0..40u16 {
        let payload: Vec<u8> = (0..56).map(|i| (i as u16 + seq) as u8).collect();
        n.ports[0].dev.inbox.push(echo_request(seq, &payload));
    }
    // Two polls: a burst is 32 frames, more than the host stack's queue.
    n.poll(1_000_000);
    n.poll(2_000_000);
    let replies: Vec<&Vec<u8>> = n.ports[0]
        .dev
        .sent
        .iter()
        .filter(|f| f.len() > 34 && f[23] == 1)
        .collect();
    assert_eq!(replies.len(), 40, "every echo answered");
    for (seq, r) in replies.iter().enumerate() {
        assert_eq!(r[34], 0, "echo reply type");
        assert_eq!(u16::from_be_bytes([r[40], r[41]]), seq as u16);
        let want: Vec<u8> = (0..56).map(|i| (i as u16 + seq as u16) as u8).collect();
        assert_eq!(&r[42..], &want[..]);
    }
    assert_eq!(n.ports[0].counters.to_host, 41);
    assert_eq!(n.pool.available(), total, "every buffer back in the pool");
}

#[test]
fn malformed_frames_are_counted_by_reason_and_never_answered() {
    let (mut n, _mem) = net();
    let total = n.pool.available();
    let good = echo_request(1, &[0xab; 32]);
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44; // IHL 16 bytes: shorter than any IPv4 header
    let mut bad_sum = good.clone();
    bad_sum[24] ^= 0xff;
    let mut v6 = good.clone();
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut other = good.clone();
    other[30..34].copy_from_slice(&[10, 0, 0, 1]);
    let c = checksum(&{
        let mut h = other[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    other[24..26].copy_from_slice(&c.to_be_bytes());
    let mut giant = good.clone();
    giant.resize(1515, 0xee);
    let inbox = &mut n.ports[0].dev.inbox;
    inbox.push(giant);
    inbox.push(vec![0; 10]);
    inbox.push(bad_ihl);
    inbox.push(bad_sum);
    inbox.push(v6);
    inbox.push(other);
    n.poll(1_000_000);
    let p = &n.ports[0];
    assert!(p.dev.sent.is_empty(), "{:?}", p.dev.sent);
    let d = &p.counters.drops;
    assert_eq!(d.get(DropReason::BadFrame), 2, "runt and giant");
    assert_eq!(d.get(DropReason::BadIpv4Header), 1);
    assert_eq!(d.get(DropReason::BadIpv4Checksum), 1);
    assert_eq!(d.get(DropReason::Unsupported), 1);
    assert_eq!(d.get(DropReason::NoRoute), 1);
    assert_eq!(n.pool.available(), total);
    let mut text = String::new();
    n.stats(&mut text).unwrap();
    for name in [
        "drop bad-frame 2",
        "drop bad-ipv4-header 1",
        "drop bad-ipv4-checksum 1",
        "rx-packets 6",
        "pool: buffers",
    ] {
        assert!(text.contains(name), "{name:?} missing:\n{text}");
    }
    n.reset_stats();
    let mut text = String::new();
    n.stats(&mut text).unwrap();
    assert!(text.contains("rx-packets 0"), "{text}");
    assert!(!text.contains("drop "), "{text}");
}

#[test]
fn maintain_reports_link_changes_once() {
    let (mut n, _mem) = net();
    let mut seen = Vec::new();
    let mut pool = n.pool;
    let p = &mut n.ports[0];
    p.dev.link = false;
    p.maintain(&mut pool, 0, &mut |e| seen.push(e));
    p.maintain(&mut pool, 1, &mut |e| seen.push(e));
    p.dev.link = true;
    p.maintain(&mut pool, 2, &mut |e| seen.push(e));
    assert_eq!(seen, [PortEvent::LinkDown, PortEvent::LinkUp]);
}

#[test]
fn ip_link_and_ip_addr_show_each_port() {
    let (mut n, _mem) = net();
    let mut link = String::new();
    n.ip_link(&mut link).unwrap();
    assert!(link.starts_with("lan   fake"), "{link}");
    assert!(link.contains("52:54:00:12:34:56  up"), "{link}");
    assert!(link.contains("mtu 1500  1000Mb/s full"), "{link}");
    let mut addr = String::new();
    n.ip_addr(&mut addr).unwrap();
    assert_eq!(addr, "lan   192.168.10.1/24\n");
}

/// xorshift64*: a small deterministic generator, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_frames_never_panic_and_every_one_is_accounted_for() {
    let (mut n, _mem) = net();
    let total = n.pool.available();
    let seeds = [
        arp_request(OUR_IP),
        echo_request(9, &[0x33; 64]),
        echo_request(10, &[]),
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut offered = 0u64;
    for round in 0..300 {
        for _ in 0..32 {
            let mut f = seeds[rng.below(seeds.len())].clone();
            // Flip a few bytes, then maybe cut or grow the frame.
            for _ in 0..rng.below(6) {
                let i = rng.below(f.len());
                f[i] = rng.next() as u8;
            }
            match rng.below(4) {
                0 => f.truncate(rng.below(f.len() + 1)),
                1 => f.resize(f.len() + rng.below(1600), rng.next() as u8),
                _ => {}
            }
            if f.len() > BUF_SIZE - 128 {
                f.truncate(BUF_SIZE - 128);
            }
            n.ports[0].dev.inbox.push(f);
            offered += 1;
        }
        n.poll(round * 1_000_000);
        if round % 10 == 0 {
            n.maintain(round * 1_000_000);
        }
    }
    let p = &n.ports[0];
    assert!(p.dev.inbox.is_empty());
    assert_eq!(
        p.counters.to_host + p.counters.drops.total(),
        offered,
        "every frame went to the host stack or a named drop counter"
    );
    assert!(p.counters.to_host > 0 && p.counters.drops.total() > 0);
    assert_eq!(n.pool.available(), total, "no buffer lost");
}
