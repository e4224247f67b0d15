//! Host tests of the gateway wiring: two fake NICs (LAN, WAN) under [`Net`]
//! with a [`GatewayPlane`] started, frames laid out by hand from RFC 826
//! (ARP) and RFC 791/792 (IPv4, echo), and the WireGuard initiation checked
//! against the whitepaper's message layout (type 1, 148 bytes).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr::NonNull;

use drivers::buf::{Burst, PacketBuf, PacketPool, BUF_SIZE};
use drivers::hal::DmaRegion;
use drivers::netdev::{NetDevice, NicStats};
use netfn::gateway::checksum::checksum;

use super::*;
use crate::net::{Addressing, Net, NetConsole, Port};
use crate::poll::Dataplane;

const LAN_MAC: [u8; 6] = [0x52, 0x54, 0, 0x0a, 0, 1];
const WAN_MAC: [u8; 6] = [0x52, 0x54, 0, 0x64, 0, 1];
const HOST_MAC: [u8; 6] = [0x52, 0x54, 0, 0xee, 0, 2];
const PEER_MAC: [u8; 6] = [0x52, 0x54, 0, 0xee, 0, 3];

/// The gw-bench configuration (its test keys, `tools/gw-bench/build/keys.toml`).
const CONFIG: &str = "[Interface]
PrivateKey = sBjn4IR3qcw1Zy35OVLsp0FHqkllxMnxTfnWasQMuFo=
ListenPort = 51820
Address = 10.99.0.1/24
[LAN]
Address = 192.168.10.1/24
[WAN]
Address = 198.51.100.1/24
[Peer]
PublicKey = Y4/oSwZp6FRxYnVYD5JDMRx9lKIug2NGtcwPXUFTjBk=
Endpoint = 198.51.100.2:51820
AllowedIPs = 10.20.0.0/16
";

struct Fake {
    mac: [u8; 6],
    inbox: Vec<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    stats: NicStats,
}

impl NetDevice for Fake {
    fn driver_name(&self) -> &'static str {
        "fake"
    }
    fn mac(&self) -> [u8; 6] {
        self.mac
    }
    fn link_up(&mut self) -> bool {
        true
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
        n
    }
    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize {
        let n = bufs.len();
        let sent = &mut self.sent;
        bufs.drain_front(n, |b| {
            sent.push(b.data().to_vec());
            pool.free(b);
        });
        n
    }
    fn maintain(&mut self, _pool: &mut PacketPool) {}
    fn stats(&self) -> &NicStats {
        &self.stats
    }
    fn reset_stats(&mut self) {}
}

impl PortDevice for Fake {}

fn fake(mac: [u8; 6]) -> Fake {
    Fake {
        mac,
        inbox: Vec::new(),
        sent: Vec::new(),
        stats: NicStats::default(),
    }
}

/// Deterministic bytes for the engine (a test needs no real entropy).
fn counter_rng(buf: &mut [u8]) -> bool {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    true
}

fn net(ports: usize) -> (Net<Fake>, Vec<u8>) {
    let mut mem = vec![0u8; BUF_SIZE * 256];
    let region = DmaRegion {
        virt: NonNull::new(mem.as_mut_ptr()).unwrap(),
        phys: 0x10_0000,
        len: mem.len(),
    };
    let pool = PacketPool::new(region);
    let all = [("lan", LAN_MAC), ("wan", WAN_MAC)];
    let list = all[..ports]
        .iter()
        .map(|&(n, m)| Port::new(n, None, fake(m), Addressing::None, None))
        .collect();
    (Net::new(list, pool), mem)
}

fn plane() -> GatewayPlane {
    let config = netfn::config::parse(CONFIG).unwrap();
    GatewayPlane::new(
        &config,
        LAN_MAC,
        WAN_MAC,
        GatewayRng::new(&[7; 32], counter_rng),
        1_000,
        Some(5),
    )
    .unwrap()
}

fn arp(op: u16, smac: [u8; 6], sip: [u8; 4], dmac: [u8; 6], tip: [u8; 4]) -> Vec<u8> {
    let mut f = if op == 1 {
        vec![0xff; 6]
    } else {
        dmac.to_vec()
    };
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, op as u8]);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&sip);
    f.extend_from_slice(&if op == 1 { [0; 6] } else { dmac });
    f.extend_from_slice(&tip);
    f
}

/// An echo request 192.168.10.2 -> `dst`, TTL 64, to the appliance's LAN MAC.
fn echo(dst: [u8; 4]) -> Vec<u8> {
    let mut f = LAN_MAC.to_vec();
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 36, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0];
    ip.extend_from_slice(&[192, 168, 10, 2]);
    ip.extend_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0, 0xbe, 0xef, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8];
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

fn is_arp_request_for(f: &[u8], tip: [u8; 4]) -> bool {
    f.len() >= 42 && f[12..14] == [8, 6] && f[21] == 1 && f[38..42] == tip
}

fn run(n: &mut Net<Fake>, from_ns: u64) {
    for i in 0..50 {
        n.poll(from_ns + i * 2_000_000);
    }
}

#[test]
fn lan_ping_to_a_remote_resolves_the_endpoint_and_starts_a_handshake() {
    let (mut n, _mem) = net(2);
    assert!(n.start_gateway(plane()));
    // Start: a gratuitous ARP for each port's own address.
    assert!(n.ports[0]
        .dev
        .sent
        .iter()
        .any(|f| is_arp_request_for(f, [192, 168, 10, 1])));
    assert!(n.ports[1]
        .dev
        .sent
        .iter()
        .any(|f| is_arp_request_for(f, [198, 51, 100, 1])));
    n.ports[0].dev.sent.clear();
    n.ports[1].dev.sent.clear();

    // The LAN host resolves the appliance and pings a remote address.
    let who = arp(1, HOST_MAC, [192, 168, 10, 2], [0; 6], [192, 168, 10, 1]);
    n.ports[0].dev.inbox.push(who);
    n.ports[0].dev.inbox.push(echo([10, 20, 0, 5]));
    run(&mut n, 2_000_000);
    let lan = &n.ports[0].dev.sent;
    assert!(
        lan.iter()
            .any(|f| f.len() >= 42 && f[12..14] == [8, 6] && f[21] == 2 && f[0..6] == HOST_MAC),
        "no ARP reply on the LAN: {lan:?}"
    );
    // The endpoint is on-link: the WAN asks for it.
    let wan = core::mem::take(&mut n.ports[1].dev.sent);
    assert!(
        wan.iter().any(|f| is_arp_request_for(f, [198, 51, 100, 2])),
        "{wan:?}"
    );

    // The peer answers; the handshake initiation goes out to its MAC.
    let reply = arp(2, PEER_MAC, [198, 51, 100, 2], WAN_MAC, [198, 51, 100, 1]);
    n.ports[1].dev.inbox.push(reply);
    run(&mut n, 200_000_000);
    let wan = &n.ports[1].dev.sent;
    let init = wan
        .iter()
        .find(|f| f.len() == 42 + 148 && f[23] == 17)
        .unwrap_or_else(|| panic!("no initiation: {wan:?}"));
    assert_eq!(init[0..6], PEER_MAC);
    assert_eq!(init[30..34], [198, 51, 100, 2]);
    assert_eq!(u16::from_be_bytes([init[36], init[37]]), 51820);
    assert_eq!(init[42..46], [1, 0, 0, 0]);

    // The console sees the gateway.
    let mut s = String::new();
    n.stats(&mut s).unwrap();
    assert!(s.contains("gateway\n"), "{s}");
    // The stage profile: one LAN burst (ARP and ping), one WAN burst (the
    // peer's ARP reply), 100 turns of which the other 98 found nothing.
    let p = &n.gateway.as_ref().unwrap().profile;
    assert_eq!((p.encrypt.packets, p.encrypt.bursts), (2, 1), "{p:?}");
    assert_eq!((p.decrypt.packets, p.decrypt.bursts), (1, 1), "{p:?}");
    assert!(
        p.encrypt.rx > 0 && p.encrypt.gateway > 0 && p.encrypt.tx > 0,
        "{p:?}"
    );
    assert!(p.decrypt.rx > 0 && p.decrypt.gateway > 0, "{p:?}");
    assert_eq!((p.turns, p.idle_turns), (100, 98), "{p:?}");
    assert!(p.idle > 0 && p.timers > 0, "{p:?}");
    assert!(
        s.contains("cycles per packet by stage, since reset: ")
            && s.contains("  encrypt (lan to tunnel): 2 packets in 1 bursts, "),
        "{s}"
    );
    let mut c = String::new();
    n.config(&mut c).unwrap();
    assert!(c.contains("AllowedIPs = 10.20.0.0/16"), "{c}");
    assert!(!c.contains("sBjn4IR3"), "private key shown: {c}");
    let mut w = String::new();
    n.wg(300_000_000, &mut w).unwrap();
    assert!(w.contains("listening port: 51820"), "{w}");
    assert!(
        w.contains("peer: Y4/oSwZp6FRxYnVYD5JDMRx9lKIug2NGtcwPXUFTjBk="),
        "{w}"
    );
    assert!(w.contains("endpoint: 198.51.100.2:51820"), "{w}");
    // As wg show: no handshake line before the first handshake.
    assert!(!w.contains("latest handshake"), "{w}");
    assert!(w.contains("private key: (hidden)"), "{w}");
    let mut a = String::new();
    n.ip_addr(&mut a).unwrap();
    assert!(
        a.contains("wan   198.51.100.1/24") && a.contains("wg0   10.99.0.1/24"),
        "{a}"
    );

    // Every buffer comes back: the queued ping included.
    let cap = n.pool.capacity();
    assert!(
        n.pool.available() < cap,
        "the ping should wait for the handshake"
    );
    let mut g = n.gateway.take().unwrap();
    g.release_all(&mut n.pool);
    assert_eq!(n.pool.available(), cap);
}

#[test]
fn bad_frames_are_counted_as_gateway_drops_and_reset() {
    let (mut n, _mem) = net(2);
    assert!(n.start_gateway(plane()));
    // A UDP datagram to the listen port that is no WireGuard message.
    let mut f = WAN_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&[198, 51, 100, 2, 198, 51, 100, 1]);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0xca, 0x6c, 0xca, 0x6c, 0, 12, 0, 0, 9, 9, 9, 9]);
    n.ports[1].dev.inbox.push(f);
    run(&mut n, 2_000_000);
    let mut s = String::new();
    n.stats(&mut s).unwrap();
    let g = &s[s.find("gateway\n").unwrap()..];
    assert!(
        g.contains("  dropped 1\n") && g.contains("drop bad-wireguard 1"),
        "{s}"
    );
    n.reset_stats();
    let mut s = String::new();
    n.stats(&mut s).unwrap();
    assert!(
        s.contains("  dropped 0\n") && !s.contains("bad-wireguard"),
        "{s}"
    );
    // The reset zeroed the stage profile too.
    assert!(
        s.contains("  decrypt (tunnel to lan): 0 packets in 0 bursts, 0 cycles/packet"),
        "{s}"
    );
}

#[test]
fn one_port_is_not_enough() {
    let (mut n, _mem) = net(1);
    assert!(!n.start_gateway(plane()));
    assert!(n.gateway.is_none());
    let mut w = String::new();
    n.wg(0, &mut w).unwrap();
    assert_eq!(w, "gateway not running\n");
}

#[test]
fn a_third_port_keeps_its_host_stack_while_the_gateway_runs() {
    let (mut n, _mem) = net(2);
    let mac = [0x52, 0x54, 0, 0x33, 0, 1];
    let ip = core::net::Ipv4Addr::new(172, 16, 0, 1);
    let host = netfn::hoststack::HostStack::new(mac, Some((ip, 24)), None, false, 3, 0).unwrap();
    let eth2 = Port::new(
        "eth2",
        None,
        fake(mac),
        Addressing::Static(ip, 24),
        Some(host),
    );
    n.ports.push(eth2);
    assert!(n.start_gateway(plane()));
    assert!(n.ports[2].host.is_some(), "only LAN and WAN hand over");
    let who = arp(1, HOST_MAC, [172, 16, 0, 2], [0; 6], [172, 16, 0, 1]);
    n.ports[2].dev.inbox.push(who);
    run(&mut n, 2_000_000);
    let sent = &n.ports[2].dev.sent;
    assert!(
        sent.iter()
            .any(|f| f.len() >= 42 && f[21] == 2 && f[28..32] == [172, 16, 0, 1]),
        "eth2 did not answer ARP: {sent:?}"
    );
    assert!(n.ports[0]
        .dev
        .sent
        .iter()
        .all(|f| f[28..32] != [172, 16, 0, 1]));
}
