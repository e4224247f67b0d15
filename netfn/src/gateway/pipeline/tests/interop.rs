//! Traffic through the whole pipeline with boringtun as the peer: who
//! initiates, many pings, every payload size, rekeying, roaming, replays,
//! forged sources, MSS clamping, and the appliance's own tunnel address.

use super::*;
use crate::gateway::counters::{Direction, DropReason};
use crate::gateway::ipv4;
use crate::gateway::pcap;
use crate::wireguard::PeerId;

#[test]
fn the_appliance_initiates_when_the_lan_host_pings() {
    let mut w = World::new();
    let ping = echo(HOST, REMOTE, 64, true, 7, 1, b"abcdefgh");
    w.lan_send(&ping);
    // The router was resolved first, then the handshake ran and the queued
    // ping came out with one hop taken off.
    assert_eq!(w.arp_requests[0], (Port::Wan, ROUTER_IP));
    assert_eq!(w.to_peer[0].1[0], 1, "an initiation went first");
    assert_eq!(w.peer_rx, [after_hops(&ping, 1)]);
    assert_eq!(w.peer_rx[0][8], 63);
    assert_valid(&w.peer_rx[0]);
    assert_eq!(w.gw.queued(PeerId(0)), 0);

    // The answer comes back, the LAN host is resolved, TTL 63 again.
    let reply = echo(REMOTE, HOST, 64, false, 7, 1, b"abcdefgh");
    w.peer_send(&reply);
    assert!(w.arp_requests.contains(&(Port::Lan, HOST)));
    assert_eq!(w.lan_rx, [after_hops(&reply, 1)]);
    assert_valid(&w.lan_rx[0]);
    let t = w.gw.counters().traffic(Direction::TunnelToLan);
    assert_eq!((t.packets, t.bytes), (1, reply.len() as u64));
    w.finish();
}

#[test]
fn the_peer_initiates_when_it_sends_first() {
    let mut w = World::new();
    let ping = echo(REMOTE, HOST, 64, true, 9, 1, b"from afar");
    let first = w.peer_send(&ping);
    assert_eq!(first[0], 1, "boringtun started with an initiation");
    // Our response went out, boringtun sent its queued ping with the new
    // session, and it reached the LAN host.
    assert_eq!(w.to_peer[0].1[0], 2, "a handshake response");
    assert_eq!(w.lan_rx, [after_hops(&ping, 1)]);
    let reply = echo(HOST, REMOTE, 64, false, 9, 1, b"from afar");
    w.lan_send(&reply);
    assert_eq!(w.peer_rx, [after_hops(&reply, 1)]);
    w.finish();
}

#[test]
fn five_hundred_pings_each_way() {
    let mut w = World::new();
    w.establish();
    for seq in 0..500u16 {
        let out = echo(HOST, REMOTE, 64, true, 1, seq, &seq.to_be_bytes());
        w.lan_send(&out);
        let back = echo(REMOTE, HOST, 64, false, 1, seq, &seq.to_be_bytes());
        w.peer_send(&back);
        let inb = echo(REMOTE, HOST, 64, true, 2, seq, b"in");
        w.peer_send(&inb);
        let inb_reply = echo(HOST, REMOTE, 64, false, 2, seq, b"in");
        w.lan_send(&inb_reply);
        if seq % 50 == 0 {
            w.advance(1);
        }
    }
    assert_eq!(w.peer_rx.len(), 1000);
    assert_eq!(w.lan_rx.len(), 1000);
    for p in w.peer_rx.iter().chain(&w.lan_rx) {
        assert_eq!(p[8], 63);
        assert_valid(p);
    }
    assert_eq!(w.gw.counters().drops.total(), 0, "{:?}", w.gw.counters());
    w.finish();
}

#[test]
fn udp_payloads_of_every_size_cross_byte_for_byte_both_ways() {
    let mut w = World::new();
    w.establish();
    let max = w.gw.mtu() as usize - 28;
    for n in 0..=max {
        let payload: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        let p = udp(HOST, REMOTE, 4000, 5000, &payload);
        w.lan_send(&p);
        assert_eq!(w.peer_rx.last(), Some(&after_hops(&p, 1)), "size {n} out");
        let q = udp(REMOTE, HOST, 5000, 4000, &payload);
        w.peer_send(&q);
        assert_eq!(w.lan_rx.last(), Some(&after_hops(&q, 1)), "size {n} in");
    }
    assert_eq!(w.peer_rx.len(), max + 1);
    assert_eq!(w.lan_rx.len(), max + 1);
    w.finish();
}

#[test]
fn rekey_under_traffic_loses_nothing() {
    let mut w = World::new();
    w.establish();
    let first = w.gw.engine().peer_status(PeerId(0)).unwrap();
    let mut sent = 0;
    // 20 s steps well past REKEY_AFTER_TIME (120 s), traffic both ways in each.
    for step in 0..10u16 {
        for i in 0..5u16 {
            let seq = step * 5 + i;
            w.lan_send(&echo(HOST, REMOTE, 64, true, 3, seq, b"rekey"));
            w.peer_send(&echo(REMOTE, HOST, 64, false, 3, seq, b"rekey"));
            sent += 1;
        }
        w.advance(20);
    }
    assert_eq!(w.peer_rx.len(), sent);
    assert_eq!(w.lan_rx.len(), sent);
    let now = w.gw.engine().peer_status(PeerId(0)).unwrap();
    assert!(
        now.latest_handshake_mono > first.latest_handshake_mono,
        "a new handshake ran"
    );
    let initiations = w.to_peer.iter().filter(|(_, d)| d[0] == 1).count();
    assert!(initiations >= 2, "we initiated the rekey");
    w.finish();
}

#[test]
fn traffic_follows_the_peer_to_a_new_port() {
    let mut w = World::new();
    w.establish();
    w.peer_port = 40000;
    w.peer_send(&echo(REMOTE, HOST, 64, true, 4, 1, b"roam"));
    assert_eq!(w.lan_rx.len(), 1);
    w.lan_send(&echo(HOST, REMOTE, 64, false, 4, 1, b"roam"));
    assert_eq!(w.to_peer.last().unwrap().0, 40000);
    assert_eq!(w.peer_rx.len(), 1);
    w.finish();
}

#[test]
fn replayed_and_bit_flipped_packets_are_dropped_and_counted() {
    let mut w = World::new();
    w.establish();
    let p = echo(REMOTE, HOST, 64, true, 5, 1, b"once");
    let dgram = w.peer_send(&p);
    assert_eq!(w.lan_rx.len(), 1);
    w.peer_datagram(&dgram);
    assert_eq!(w.dropped(DropReason::Replay), 1);
    assert_eq!(w.lan_rx.len(), 1);

    let mut dst = vec![0u8; 2048];
    let next = match w
        .bt
        .encapsulate(&echo(REMOTE, HOST, 64, true, 5, 2, b"twice"), &mut dst)
    {
        boringtun::noise::TunnResult::WriteToNetwork(d) => d.to_vec(),
        other => panic!("{other:?}"),
    };
    let mut flipped = next.clone();
    flipped[40] ^= 0x10;
    w.peer_datagram(&flipped);
    assert_eq!(w.dropped(DropReason::BadMac), 1);
    assert_eq!(w.lan_rx.len(), 1);
    // The genuine one still gets through: the forgery moved nothing.
    w.peer_datagram(&next);
    assert_eq!(w.lan_rx.len(), 2);
    w.lan_send(&echo(HOST, REMOTE, 64, false, 5, 2, b"twice"));
    assert_eq!(w.peer_rx.len(), 1);
    w.finish();
}

#[test]
fn an_inner_source_outside_the_peers_allowed_ips_is_dropped() {
    let mut w = World::new();
    w.establish();
    let forged = echo(
        core::net::Ipv4Addr::new(10, 30, 0, 1),
        HOST,
        64,
        true,
        6,
        1,
        b"forged",
    );
    w.peer_send(&forged);
    assert_eq!(w.dropped(DropReason::AllowedIpsMismatch), 1);
    assert!(w.lan_rx.is_empty());
    w.finish();
}

#[test]
fn syn_and_syn_ack_leave_the_tunnel_clamped_with_valid_checksums() {
    let mut w = World::new();
    w.establish();
    let tcp = pcap::tcp();
    // Linux's SYN (MSS 1460) from A to B: 1420 - 40 = 1380 on the way in.
    w.lan_frame(tcp[0]);
    w.pump();
    let syn = w.peer_rx.pop().unwrap();
    assert_valid(&syn);
    assert_eq!(u16::from_be_bytes([syn[20 + 22], syn[20 + 23]]), 1380);
    // B's SYN-ACK (MSS 1460) comes back through the tunnel: clamped too.
    w.peer_send(&tcp[1][14..]);
    let syn_ack = w.lan_rx.pop().unwrap();
    assert_valid(&syn_ack);
    assert_eq!(
        u16::from_be_bytes([syn_ack[20 + 22], syn_ack[20 + 23]]),
        1380
    );
    let sent = ipv4::validate(&tcp[1][14..]).unwrap();
    assert_eq!(syn_ack[8], sent.ttl - 1);
    w.finish();
}

#[test]
fn mss_clamp_off_leaves_syns_alone() {
    let mut w = World::with(&config_text("MssClamp = off"), 64);
    w.establish();
    w.lan_frame(pcap::tcp()[0]);
    w.pump();
    let syn = w.peer_rx.pop().unwrap();
    assert_eq!(syn, after_hops(&pcap::tcp()[0][14..], 1));
    w.finish();
}

#[test]
fn a_ping_to_the_tunnel_address_through_the_tunnel_is_answered() {
    let mut w = World::new();
    w.establish();
    let ping = echo(REMOTE, TUNNEL_IP, 64, true, 8, 3, b"are you there");
    w.peer_send(&ping);
    let reply = w.peer_rx.pop().expect("an echo reply");
    assert_valid(&reply);
    assert_eq!(&reply[12..16], &TUNNEL_IP.octets());
    assert_eq!(&reply[16..20], &REMOTE.octets());
    assert_eq!(reply[20], 0, "echo reply");
    assert_eq!(&reply[24..], &ping[24..], "ident, sequence and data echoed");
    assert!(w.lan_rx.is_empty());
    w.finish();
}

#[test]
fn ttl_expiry_is_answered_with_time_exceeded_both_ways() {
    let mut w = World::new();
    w.establish();
    // Linux's TTL-1 ping from A (capture frame 5).
    let f = pcap::router();
    w.lan_frame(f[5]);
    w.pump();
    let te = w.lan_rx.pop().expect("time exceeded to A");
    assert_valid(&te);
    assert_eq!((te[20], te[21]), (11, 0));
    assert_eq!(&te[12..16], &LAN_IP.octets());
    assert_eq!(w.dropped(DropReason::TtlExpired), 1);
    // From the far side with TTL 1: answered into the tunnel.
    w.peer_send(&echo(REMOTE, HOST, 1, true, 9, 1, b"ttl"));
    let te = w.peer_rx.pop().expect("time exceeded to B");
    assert_valid(&te);
    assert_eq!((te[20], te[21]), (11, 0));
    assert_eq!(&te[12..16], &TUNNEL_IP.octets());
    assert_eq!(w.dropped(DropReason::TtlExpired), 2);
    assert!(w.lan_rx.is_empty());
    w.finish();
}

/// Throughput of the pipeline alone (no NIC), for the report: run with
/// `cargo test -p netfn --release -- --ignored --nocapture pipeline_rate`.
#[test]
#[ignore]
fn pipeline_rate() {
    let mut w = World::new();
    w.establish();
    w.peer_send(&echo(REMOTE, HOST, 64, false, 1, 1, b"resolve the host"));
    let n = 200_000u32;
    for size in [64usize, 1420] {
        let out = udp(HOST, REMOTE, 1, 2, &vec![0x5a; size - 28]);
        let out = frame(
            LAN_MAC,
            HOST_MAC,
            crate::gateway::ether::ETHERTYPE_IPV4,
            &out,
        );
        let t = std::time::Instant::now();
        let mut sent = 0u32;
        for _ in 0..n {
            w.lan_frame(&out);
            let done: Vec<TestBuf> = w.out.drain(Port::Wan).collect();
            sent += done.len() as u32;
            for b in done {
                w.pool.free(b);
            }
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(sent, n);
        std::println!(
            "LAN -> tunnel, {size}-byte packets: {:.2} Mpps, {:.2} Gbit/s",
            n as f64 / dt / 1e6,
            n as f64 * size as f64 * 8.0 / dt / 1e9
        );
        // The other way: boringtun's datagrams, sealed beforehand.
        let inner = udp(REMOTE, HOST, 2, 1, &vec![0xa5; size - 28]);
        let mut dst = vec![0u8; 2048];
        let frames: Vec<Vec<u8>> = (0..n / 4)
            .map(|_| match w.bt.encapsulate(&inner, &mut dst) {
                boringtun::noise::TunnResult::WriteToNetwork(d) => udp_frame(51820, d),
                other => panic!("{other:?}"),
            })
            .collect();
        let t = std::time::Instant::now();
        let mut got = 0usize;
        for f in &frames {
            w.wan_frame(f);
            let done: Vec<TestBuf> = w.out.drain(Port::Lan).collect();
            got += done.len();
            for b in done {
                w.pool.free(b);
            }
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(got, frames.len());
        std::println!(
            "tunnel -> LAN, {size}-byte packets: {:.2} Mpps, {:.2} Gbit/s",
            frames.len() as f64 / dt / 1e6,
            frames.len() as f64 * size as f64 * 8.0 / dt / 1e9
        );
    }
    w.finish();
}

#[test]
fn under_load_the_peer_gets_a_cookie_first_and_then_a_session() {
    let mut w = World::new();
    w.gw.engine_mut().force_under_load(true);
    let ping = echo(REMOTE, HOST, 64, true, 11, 1, b"cookie");
    w.peer_send(&ping);
    assert_eq!(w.to_peer.last().unwrap().1[0], 3, "a cookie reply");
    assert!(w.lan_rx.is_empty());
    // boringtun's retry carries MAC2 now; its queued ping follows.
    let mut dst = vec![0u8; 2048];
    let retry = match w.bt.format_handshake_initiation(&mut dst, true) {
        boringtun::noise::TunnResult::WriteToNetwork(d) => d.to_vec(),
        other => panic!("{other:?}"),
    };
    w.peer_datagram(&retry);
    assert_eq!(w.to_peer.last().unwrap().1[0], 2, "a handshake response");
    assert_eq!(w.lan_rx, [after_hops(&ping, 1)]);
    w.finish();
}

#[test]
fn without_a_configured_endpoint_the_peer_must_call_first() {
    let text = config_text("").replace("Endpoint = 203.0.113.7:51820\n", "");
    let mut w = World::with(&text, 64);
    w.lan_send(&echo(HOST, REMOTE, 64, true, 12, 1, b"where?"));
    assert_eq!(w.dropped(DropReason::NoEndpoint), 1);
    assert!(w.to_peer.is_empty());
    let ping = echo(REMOTE, HOST, 64, true, 12, 2, b"here");
    w.peer_send(&ping);
    assert_eq!(w.lan_rx, [after_hops(&ping, 1)]);
    w.lan_send(&echo(HOST, REMOTE, 64, false, 12, 2, b"here"));
    assert_eq!(w.peer_rx.len(), 1);
    w.finish();
}
