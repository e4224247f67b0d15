//! The test world: buffers and a pool shaped like `drivers::buf`, the fake
//! LAN host and WAN router, boringtun as the peer, and packet builders.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use std::sync::Arc;

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519;

use super::super::{BufPool, Gateway, PacketBuffer, Port, TxLists, HEADROOM};
use crate::gateway::arp::{arp_reply, ArpMessage, ArpOp};
use crate::gateway::checksum;
use crate::gateway::counters::DropReason;
use crate::gateway::ether::{self, Mac};
use crate::gateway::ipv4;
use crate::keys::encode_key;
use crate::wireguard::{Aead, RingAead, Rng, Time, NANOS_PER_SEC};

/// Slot size of `drivers::buf`.
pub const SLOT: usize = 2048;
/// Our LAN port (router R in the captures).
pub const LAN_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x01];
/// Our WAN port.
pub const WAN_MAC: Mac = [0x52, 0x54, 0, 0x63, 0, 0x01];
/// LAN host A of the captures.
pub const HOST_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x14];
/// The WAN router.
pub const ROUTER_MAC: Mac = [0x52, 0x54, 0, 0x63, 0, 0xfe];
/// LAN host A.
pub const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 20);
/// Our LAN address.
pub const LAN_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);
/// Our WAN address.
pub const WAN_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The WAN gateway.
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);
/// The peer's endpoint address.
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
/// Our tunnel address.
pub const TUNNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// Host B behind the peer.
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 5);
/// boringtun's static key.
const BT_KEY: [u8; 32] = [0x42; 32];
/// Our static key.
const OUR_KEY: [u8; 32] = [0x17; 32];

/// A packet buffer: a 2 KiB slot with a window, like `drivers::buf::PacketBuf`.
pub struct TestBuf {
    slot: Box<[u8; SLOT]>,
    start: usize,
    len: usize,
}

impl PacketBuffer for TestBuf {
    fn start(&self) -> usize {
        self.start
    }
    fn len(&self) -> usize {
        self.len
    }
    fn slot(&self) -> &[u8] {
        &self.slot[..]
    }
    fn slot_mut(&mut self) -> &mut [u8] {
        &mut self.slot[..]
    }
    fn set_window(&mut self, start: usize, len: usize) -> bool {
        if start.checked_add(len).is_none_or(|e| e > SLOT) {
            return false;
        }
        self.start = start;
        self.len = len;
        true
    }
}

/// A fixed pool; buffers come back with whatever the last user left in them.
pub struct TestPool {
    free: Vec<TestBuf>,
    capacity: usize,
}

impl TestPool {
    /// A pool of `n` buffers, filled with a pattern so stale bytes show.
    pub fn new(n: usize) -> TestPool {
        let free = (0..n)
            .map(|_| TestBuf {
                slot: Box::new([0xa5; SLOT]),
                start: HEADROOM,
                len: 0,
            })
            .collect();
        TestPool { free, capacity: n }
    }

    /// Buffers currently free.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// The pool's size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl BufPool<TestBuf> for TestPool {
    fn alloc(&mut self) -> Option<TestBuf> {
        let mut b = self.free.pop()?;
        b.start = HEADROOM;
        b.len = 0;
        Some(b)
    }
    fn free(&mut self, buf: TestBuf) {
        assert!(self.free.len() < self.capacity, "a buffer freed twice");
        self.free.push(buf);
    }
}

/// SplitMix64: deterministic, not cryptographic; fine for tests.
pub struct TestRng(u64);

impl Rng for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// The appliance's configuration file, with `extra` appended to `[Interface]`.
pub fn config_text(extra: &str) -> String {
    let bt_public = x25519::PublicKey::from(&x25519::StaticSecret::from(BT_KEY));
    format!(
        "[Interface]
PrivateKey = {}
ListenPort = 51820
Address = 10.99.0.1/24
{extra}

[LAN]
Address = 192.168.10.1/24

[WAN]
Address = 198.51.100.1/24
Gateway = 198.51.100.254

[Peer]
PublicKey = {}
AllowedIPs = 10.20.0.0/16, 10.99.0.2/32
Endpoint = 203.0.113.7:51820
",
        encode_key(&OUR_KEY).as_str(),
        encode_key(bt_public.as_bytes()).as_str(),
    )
}

/// Time `s` seconds after an arbitrary origin; the wall clock from 2026.
pub fn at(s: u64) -> Time {
    let mono = s * NANOS_PER_SEC;
    Time {
        mono_ns: mono,
        unix_ns: 1_780_000_000 * NANOS_PER_SEC + mono,
    }
}

/// The gateway, its pool and transmit lists, and everything around it.
pub struct World<A: Aead = RingAead> {
    pub gw: Gateway<TestRng, TestBuf, A>,
    pub pool: TestPool,
    pub out: TxLists<TestBuf>,
    pub bt: Tunn,
    pub now: Time,
    /// boringtun's source port (changes when it "roams").
    pub peer_port: u16,
    /// Whether the LAN host and the router answer ARP.
    pub host_answers_arp: bool,
    pub router_answers_arp: bool,
    /// IPv4 packets (Ethernet stripped) delivered to the LAN host.
    pub lan_rx: Vec<Vec<u8>>,
    /// Inner packets boringtun decrypted.
    pub peer_rx: Vec<Vec<u8>>,
    /// Every WireGuard datagram the router carried to the peer, with its
    /// destination port.
    pub to_peer: Vec<(u16, Vec<u8>)>,
    /// ARP requests the appliance sent, by port.
    pub arp_requests: Vec<(Port, Ipv4Addr)>,
    /// Errors boringtun reported.
    pub bt_errors: Vec<String>,
}

impl World {
    /// The standard world with a pool of 256 buffers.
    pub fn new() -> World {
        World::with(&config_text(""), 256)
    }

    /// A world from a configuration file and a pool size.
    pub fn with(config: &str, pool: usize) -> World {
        World::with_aead(config, pool)
    }
}

impl<A: Aead> World<A> {
    /// A world on the AEAD back end `A`, from a configuration file and a
    /// pool size.
    pub fn with_aead(config: &str, pool: usize) -> World<A> {
        let cfg = crate::config::parse(config).unwrap();
        let now = at(1);
        let gw = Gateway::new(&cfg, LAN_MAC, WAN_MAC, TestRng(7), now).unwrap();
        let bt = Tunn::new(
            x25519::StaticSecret::from(BT_KEY),
            x25519::PublicKey::from(gw.engine().public_key()),
            None,
            None,
            9,
            None::<Arc<RateLimiter>>,
        );
        World {
            gw,
            pool: TestPool::new(pool),
            out: TxLists::with_capacity(128),
            bt,
            now,
            peer_port: 51820,
            host_answers_arp: true,
            router_answers_arp: true,
            lan_rx: Vec::new(),
            peer_rx: Vec::new(),
            to_peer: Vec::new(),
            arp_requests: Vec::new(),
            bt_errors: Vec::new(),
        }
    }

    /// Counter value for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.gw.counters().drops.get(reason)
    }

    /// The LAN NIC receives `frame`; false when the pool had no buffer.
    pub fn lan_frame(&mut self, frame: &[u8]) -> bool {
        let Some(b) = self.rx_buffer(frame) else {
            return false;
        };
        self.gw
            .process_lan(self.now, b, &mut self.out, &mut self.pool);
        true
    }

    /// The WAN NIC receives `frame`; false when the pool had no buffer.
    pub fn wan_frame(&mut self, frame: &[u8]) -> bool {
        let Some(b) = self.rx_buffer(frame) else {
            return false;
        };
        self.gw
            .process_wan(self.now, b, &mut self.out, &mut self.pool);
        true
    }

    /// A pool buffer holding `frame`, as the NIC would hand it over.
    pub fn rx_buffer(&mut self, frame: &[u8]) -> Option<TestBuf> {
        let mut b = self.pool.alloc()?;
        b.slot_mut()[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        assert!(b.set_window(HEADROOM, frame.len()));
        Some(b)
    }

    /// The LAN host sends the IPv4 packet `ip` to our LAN MAC; then the
    /// world runs until quiet.
    pub fn lan_send(&mut self, ip: &[u8]) {
        let f = frame(LAN_MAC, HOST_MAC, ether::ETHERTYPE_IPV4, ip);
        self.lan_frame(&f);
        self.pump();
    }

    /// boringtun seals `ip` and sends it from its endpoint; then the world
    /// runs until quiet. Returns the datagram (or the initiation it sent).
    pub fn peer_send(&mut self, ip: &[u8]) -> Vec<u8> {
        let mut dst = vec![0u8; SLOT];
        let dgram = match self.bt.encapsulate(ip, &mut dst) {
            TunnResult::WriteToNetwork(p) => p.to_vec(),
            TunnResult::Done => Vec::new(),
            other => panic!("boringtun encapsulate: {other:?}"),
        };
        if !dgram.is_empty() {
            self.peer_datagram(&dgram);
        }
        dgram
    }

    /// The router delivers a datagram from the peer's endpoint to our WAN port.
    pub fn peer_datagram(&mut self, dgram: &[u8]) {
        let f = udp_frame(self.peer_port, dgram);
        self.wan_frame(&f);
        self.pump();
    }

    /// Lets the gateway's timers run at the current time, then runs the world.
    pub fn tick(&mut self) {
        self.gw.tick(self.now, &mut self.out, &mut self.pool);
        self.pump();
    }

    /// Moves the clock forward by `s` seconds and ticks.
    pub fn advance(&mut self, s: u64) {
        self.now.mono_ns += s * NANOS_PER_SEC;
        self.now.unix_ns += s * NANOS_PER_SEC;
        self.tick();
    }

    /// Carries frames between the gateway and its neighbours until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..1000 {
            if self.out.is_empty() {
                return;
            }
            let lan: Vec<Vec<u8>> = self.take(Port::Lan);
            let wan: Vec<Vec<u8>> = self.take(Port::Wan);
            for f in lan {
                self.lan_host(&f);
            }
            for f in wan {
                self.router(&f);
            }
        }
        panic!("the world never went quiet");
    }

    /// Takes what the gateway queued on both ports (LAN, WAN), without
    /// carrying it anywhere yet; the buffers go back to the pool.
    pub fn take_out(&mut self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        (self.take(Port::Lan), self.take(Port::Wan))
    }

    /// Carries frames taken with `take_out` to the LAN host and the
    /// router, then runs the world until quiet.
    pub fn carry(&mut self, lan: Vec<Vec<u8>>, wan: Vec<Vec<u8>>) {
        for f in lan {
            self.lan_host(&f);
        }
        for f in wan {
            self.router(&f);
        }
        self.pump();
    }

    fn take(&mut self, port: Port) -> Vec<Vec<u8>> {
        let bufs: Vec<TestBuf> = self.out.drain(port).collect();
        bufs.into_iter()
            .map(|b| {
                let f = b.data().to_vec();
                self.pool.free(b);
                f
            })
            .collect()
    }

    /// The LAN host: answers ARP for its address, takes IPv4 to its MAC.
    fn lan_host(&mut self, f: &[u8]) {
        assert_eq!(
            ether::src_mac(f),
            LAN_MAC,
            "LAN frames come from our LAN MAC"
        );
        match ether::ethertype(f) {
            ether::ETHERTYPE_ARP => {
                let msg = ArpMessage::parse(f).expect("valid ARP");
                if msg.op == ArpOp::Request {
                    self.arp_requests.push((Port::Lan, msg.target_ip));
                    if msg.target_ip == HOST && self.host_answers_arp {
                        let mut r = [0u8; 42];
                        let n = arp_reply(&mut r, HOST_MAC, HOST, &msg).unwrap();
                        self.lan_frame(&r[..n]);
                    }
                }
            }
            ether::ETHERTYPE_IPV4 => {
                assert_eq!(ether::dst_mac(f), HOST_MAC);
                self.lan_rx.push(f[14..].to_vec());
            }
            t => panic!("unexpected ethertype {t:#x} on the LAN"),
        }
    }

    /// The router: answers ARP for its address, carries UDP to the peer.
    fn router(&mut self, f: &[u8]) {
        assert_eq!(
            ether::src_mac(f),
            WAN_MAC,
            "WAN frames come from our WAN MAC"
        );
        match ether::ethertype(f) {
            ether::ETHERTYPE_ARP => {
                let msg = ArpMessage::parse(f).expect("valid ARP");
                if msg.op == ArpOp::Request {
                    self.arp_requests.push((Port::Wan, msg.target_ip));
                    if msg.target_ip == ROUTER_IP && self.router_answers_arp {
                        let mut r = [0u8; 42];
                        let n = arp_reply(&mut r, ROUTER_MAC, ROUTER_IP, &msg).unwrap();
                        self.wan_frame(&r[..n]);
                    }
                }
            }
            ether::ETHERTYPE_IPV4 => {
                assert_eq!(
                    ether::dst_mac(f),
                    ROUTER_MAC,
                    "off-link peer: via the router"
                );
                let ip = &f[14..];
                let info = ipv4::validate(ip).expect("valid outer IPv4");
                assert_eq!((info.src, info.dst, info.protocol), (WAN_IP, PEER_IP, 17));
                let udp = &ip[20..info.total_len];
                assert_eq!(u16::from_be_bytes([udp[0], udp[1]]), 51820);
                let port = u16::from_be_bytes([udp[2], udp[3]]);
                let payload = udp[8..].to_vec();
                self.to_peer.push((port, payload.clone()));
                if port == self.peer_port {
                    self.bt_receive(&payload);
                }
            }
            t => panic!("unexpected ethertype {t:#x} on the WAN"),
        }
    }

    /// boringtun receives a datagram; what it sends back goes to our WAN.
    fn bt_receive(&mut self, dgram: &[u8]) {
        let mut dst = vec![0u8; SLOT];
        let mut input = dgram.to_vec();
        let mut replies = Vec::new();
        loop {
            match self.bt.decapsulate(Some(WAN_IP.into()), &input, &mut dst) {
                TunnResult::Done => break,
                TunnResult::Err(e) => {
                    self.bt_errors.push(format!("{e:?}"));
                    break;
                }
                TunnResult::WriteToNetwork(p) => {
                    replies.push(p.to_vec());
                    input.clear();
                }
                TunnResult::WriteToTunnelV4(p, _) | TunnResult::WriteToTunnelV6(p, _) => {
                    self.peer_rx.push(p.to_vec());
                    break;
                }
            }
        }
        for r in replies {
            let f = udp_frame(self.peer_port, &r);
            self.wan_frame(&f);
        }
    }

    /// Hands everything back and checks that no buffer leaked.
    pub fn finish(mut self) {
        self.pump();
        self.gw.release_all(&mut self.pool);
        assert!(self.out.is_empty());
        assert_eq!(
            self.pool.available(),
            self.pool.capacity(),
            "buffers leaked"
        );
        assert!(self.bt_errors.is_empty(), "boringtun: {:?}", self.bt_errors);
    }

    /// Runs the first handshake by pinging from the LAN; checks it worked.
    pub fn establish(&mut self) {
        self.lan_send(&echo(HOST, REMOTE, 64, true, 1, 0, b"hello"));
        assert_eq!(self.peer_rx.len(), 1, "the queued ping went through");
        self.peer_rx.clear();
    }
}

/// An Ethernet frame.
pub fn frame(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload.len()];
    ether::write_header(&mut f[..14], &dst, &src, ethertype);
    f[14..].copy_from_slice(payload);
    f
}

/// A WireGuard datagram from the peer's endpoint port `sport`, as the router
/// delivers it to our WAN port (UDP checksum 0, allowed over IPv4).
pub fn udp_frame(sport: u16, dgram: &[u8]) -> Vec<u8> {
    let mut udp = vec![0u8; 8 + dgram.len()];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&51820u16.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + dgram.len()) as u16).to_be_bytes());
    udp[8..].copy_from_slice(dgram);
    let ip = ip_packet(PEER_IP, WAN_IP, 17, 57, false, &udp);
    frame(WAN_MAC, ROUTER_MAC, ether::ETHERTYPE_IPV4, &ip)
}

/// An IPv4 packet with a valid header checksum.
pub fn ip_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ttl: u8,
    df: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    let n = p.len() as u16;
    ipv4::write_header(&mut p, 0, n, 0x1234, df, ttl, protocol, src, dst);
    p[20..].copy_from_slice(payload);
    p
}

/// An ICMP echo request (or reply) with `payload`.
pub fn echo(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    request: bool,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut icmp = vec![0u8; 8 + payload.len()];
    icmp[0] = if request { 8 } else { 0 };
    icmp[4..6].copy_from_slice(&ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&seq.to_be_bytes());
    icmp[8..].copy_from_slice(payload);
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ip_packet(src, dst, 1, ttl, true, &icmp)
}

/// A UDP packet with a valid checksum.
pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8 + payload.len()];
    let n = u.len() as u16;
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&n.to_be_bytes());
    u[8..].copy_from_slice(payload);
    let ph = checksum::pseudo_header_v4(src.octets(), dst.octets(), 17, n);
    let c = !checksum::fold(checksum::sum(&u, ph));
    let c = if c == 0 { 0xffff } else { c };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ip_packet(src, dst, 17, 64, true, &u)
}

/// `p` as it should arrive after `hops` routers: TTL lowered, header
/// checksum recomputed, the rest untouched.
pub fn after_hops(p: &[u8], hops: u8) -> Vec<u8> {
    let mut q = p.to_vec();
    q[8] -= hops;
    q[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&q[..20]);
    q[10..12].copy_from_slice(&c.to_be_bytes());
    q
}

/// Checks the IPv4 header and the transport checksum (UDP, TCP, ICMP).
pub fn assert_valid(p: &[u8]) {
    use smoltcp::wire::{Icmpv4Packet, IpAddress, Ipv4Packet, TcpPacket, UdpPacket};
    let ip = Ipv4Packet::new_checked(p).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    let (s, d) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    match ip.next_header() {
        smoltcp::wire::IpProtocol::Udp => {
            assert!(UdpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&s, &d))
        }
        smoltcp::wire::IpProtocol::Tcp => {
            assert!(TcpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&s, &d))
        }
        smoltcp::wire::IpProtocol::Icmp => {
            assert!(Icmpv4Packet::new_checked(ip.payload())
                .unwrap()
                .verify_checksum())
        }
        other => panic!("unexpected protocol {other}"),
    }
}
