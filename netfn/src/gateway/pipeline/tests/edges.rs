//! The edges: MTU, no route, the appliance's own addresses, queues that
//! overflow, next hops that never answer, handshakes that give up, and a
//! pool that runs dry.

use super::*;
use crate::gateway::counters::DropReason;
use crate::gateway::pcap;
use crate::wireguard::PeerId;

#[test]
fn over_the_mtu_with_df_gets_fragmentation_needed_with_the_tunnel_mtu() {
    let mut w = World::new();
    // Linux's 1500-byte ping with DF from A (capture frame 7).
    w.lan_frame(pcap::router()[7]);
    w.pump();
    let icmp = w.lan_rx.pop().expect("fragmentation needed");
    assert_valid(&icmp);
    assert_eq!((icmp[20], icmp[21]), (3, 4));
    assert_eq!(u16::from_be_bytes([icmp[26], icmp[27]]), 1420);
    assert_eq!(&icmp[12..16], &LAN_IP.octets());
    assert_eq!(
        &icmp[28..48],
        &pcap::router()[7][14..34],
        "quotes the header"
    );
    assert_eq!(w.dropped(DropReason::MtuExceeded), 1);
    assert!(w.to_peer.is_empty(), "no handshake for a refused packet");

    // Without DF: dropped, counted, no answer.
    let big = ip_packet(HOST, REMOTE, 17, 64, false, &[0u8; 1480]);
    w.lan_send(&big);
    assert_eq!(w.dropped(DropReason::TooBigNoDf), 1);
    assert!(w.lan_rx.is_empty());
    // Exactly the MTU goes through.
    let fits = ip_packet(HOST, REMOTE, 17, 64, true, &[0u8; 1400]);
    w.lan_send(&fits);
    assert_eq!(w.peer_rx, [after_hops(&fits, 1)]);
    w.finish();
}

#[test]
fn a_configured_mtu_is_the_one_reported() {
    let mut w = World::with(&config_text("MTU = 1280"), 64);
    w.lan_send(&ip_packet(HOST, REMOTE, 17, 64, true, &[0u8; 1300]));
    let icmp = w.lan_rx.pop().expect("fragmentation needed");
    assert_eq!(u16::from_be_bytes([icmp[26], icmp[27]]), 1280);
    w.finish();
}

#[test]
fn no_peer_for_the_destination_gets_host_unreachable() {
    let mut w = World::new();
    let ping = echo(HOST, "172.16.0.1".parse().unwrap(), 64, true, 1, 1, b"x");
    w.lan_send(&ping);
    let icmp = w.lan_rx.pop().expect("host unreachable");
    assert_valid(&icmp);
    assert_eq!((icmp[20], icmp[21]), (3, 1));
    assert_eq!(&icmp[16..20], &HOST.octets());
    assert_eq!(w.dropped(DropReason::NoRoute), 1);
    assert!(w.to_peer.is_empty());
    w.finish();
}

#[test]
fn the_lan_host_resolves_and_pings_our_addresses() {
    let mut w = World::new();
    let f = pcap::router();
    // Linux's ARP request for 192.168.10.1 (frame 1) gets Linux's reply (frame 2).
    w.lan_frame(f[1]);
    let reply: Vec<TestBuf> = w.out.drain(Port::Lan).collect();
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0].data(), &f[2][..42]);
    for b in reply {
        w.pool.free(b);
    }
    // Linux's ping (frame 3) is answered like Linux did (frame 4).
    w.lan_frame(f[3]);
    w.pump();
    let r = w.lan_rx.pop().expect("echo reply");
    assert_valid(&r);
    assert_eq!(&r[12..20], &f[4][14 + 12..14 + 20]);
    assert_eq!(&r[20..], &f[4][14 + 20..14 + r.len()]);
    // Our tunnel and WAN addresses answer from the LAN too.
    for dst in [TUNNEL_IP, WAN_IP] {
        w.lan_send(&echo(HOST, dst, 64, true, 2, 2, b"me?"));
        let r = w.lan_rx.pop().expect("echo reply");
        assert_valid(&r);
        assert_eq!(&r[12..16], &dst.octets());
        assert_eq!(r[20], 0);
    }
    assert!(w.to_peer.is_empty());
    w.finish();
}

#[test]
fn a_full_peer_queue_drops_the_oldest_and_counts() {
    let mut w = World::new();
    w.router_answers_arp = false; // the handshake cannot leave
    for seq in 0..70u16 {
        w.lan_send(&echo(HOST, REMOTE, 64, true, 1, seq, b"q"));
    }
    assert_eq!(w.gw.queued(PeerId(0)), 64);
    assert_eq!(w.dropped(DropReason::HandshakeQueueFull), 6);
    // The router wakes up: the handshake runs and the 64 newest go out.
    w.router_answers_arp = true;
    w.advance(1);
    w.advance(5);
    assert_eq!(w.peer_rx.len(), 64);
    let first_seq = u16::from_be_bytes([w.peer_rx[0][26], w.peer_rx[0][27]]);
    assert_eq!(first_seq, 6, "the oldest six were dropped");
    w.finish();
}

#[test]
fn a_next_hop_that_never_answers_frees_its_frames() {
    let mut w = World::new();
    w.router_answers_arp = false;
    w.lan_send(&echo(HOST, REMOTE, 64, true, 1, 1, b"q"));
    for _ in 0..4 {
        w.advance(1);
    }
    let asked = w
        .arp_requests
        .iter()
        .filter(|r| **r == (Port::Wan, ROUTER_IP))
        .count();
    assert_eq!(asked, 3, "three requests, one a second");
    assert!(
        w.dropped(DropReason::ArpFailed) >= 1,
        "the initiation was freed"
    );
    w.finish();
}

#[test]
fn a_handshake_that_gives_up_flushes_the_queue() {
    let mut w = World::new();
    w.router_answers_arp = false;
    for seq in 0..3u16 {
        w.lan_send(&echo(HOST, REMOTE, 64, true, 1, seq, b"q"));
    }
    assert_eq!(w.gw.queued(PeerId(0)), 3);
    for _ in 0..20 {
        w.advance(5);
    }
    assert_eq!(w.gw.queued(PeerId(0)), 0);
    assert_eq!(w.dropped(DropReason::NoSession), 3);
    w.finish();
}

#[test]
fn an_exhausted_pool_is_counted_never_a_panic() {
    let mut w = World::with(&config_text(""), 3);
    // One buffer for the received frame, none for the ICMP answer.
    let hold = [w.pool.alloc().unwrap(), w.pool.alloc().unwrap()];
    w.lan_send(&echo(
        HOST,
        "172.16.0.1".parse().unwrap(),
        64,
        true,
        1,
        1,
        b"x",
    ));
    assert_eq!(w.dropped(DropReason::NoBuffer), 1);
    assert_eq!(w.dropped(DropReason::NoRoute), 1);
    assert!(w.lan_rx.is_empty());
    // A ping into the tunnel with no buffer for the initiation: queued,
    // the initiation counted; the retry after REKEY_TIMEOUT gets through.
    w.lan_send(&echo(HOST, REMOTE, 64, true, 1, 2, b"y"));
    assert_eq!(w.dropped(DropReason::NoBuffer), 2);
    assert_eq!(w.gw.queued(PeerId(0)), 1);
    for b in hold {
        w.pool.free(b);
    }
    w.advance(6);
    assert_eq!(
        w.peer_rx.len(),
        1,
        "the queued ping after the retried handshake"
    );
    w.finish();
}

#[test]
fn an_absent_lan_host_is_reported_unreachable_through_the_tunnel() {
    let mut w = World::new();
    w.establish();
    let absent = Ipv4Addr::new(192, 168, 10, 99);
    let ping = echo(REMOTE, absent, 64, true, 1, 1, b"anyone?");
    w.peer_send(&ping);
    assert!(w.arp_requests.contains(&(Port::Lan, absent)));
    assert!(w.peer_rx.is_empty());
    for _ in 0..4 {
        w.advance(1);
    }
    assert_eq!(w.dropped(DropReason::ArpFailed), 1);
    let icmp = w.peer_rx.pop().expect("host unreachable");
    assert_valid(&icmp);
    assert_eq!((icmp[20], icmp[21]), (3, 1));
    assert_eq!(&icmp[12..16], &TUNNEL_IP.octets());
    assert_eq!(&icmp[16..20], &REMOTE.octets());
    // The quote is the packet as forwarded (one hop taken off).
    assert_eq!(&icmp[28..48], &after_hops(&ping, 1)[..20]);
    w.finish();
}

#[test]
fn decrypted_packets_beyond_the_lan_subnet_need_a_lan_gateway() {
    let beyond = Ipv4Addr::new(172, 16, 5, 5);
    // Without a LAN gateway: host unreachable back through the tunnel.
    let mut w = World::new();
    w.establish();
    w.peer_send(&echo(REMOTE, beyond, 64, true, 1, 1, b"far"));
    let icmp = w.peer_rx.pop().expect("host unreachable");
    assert_eq!((icmp[20], icmp[21]), (3, 1));
    assert_eq!(w.dropped(DropReason::NoRoute), 1);
    w.finish();
    // With one: sent to its MAC (it is resolved, like any next hop).
    let text = config_text("").replace(
        "Address = 192.168.10.1/24",
        "Address = 192.168.10.1/24\nGateway = 192.168.10.254",
    );
    let mut w = World::with(&text, 64);
    w.establish();
    w.peer_send(&echo(REMOTE, beyond, 64, true, 1, 1, b"far"));
    let gw = Ipv4Addr::new(192, 168, 10, 254);
    assert!(w.arp_requests.contains(&(Port::Lan, gw)));
    assert!(!w.arp_requests.contains(&(Port::Lan, beyond)));
    assert!(w.peer_rx.is_empty());
    w.finish();
}

#[test]
fn the_tunnel_cannot_broadcast_or_multicast_onto_the_lan() {
    let mut w = World::new();
    w.establish();
    for dst in [
        Ipv4Addr::new(192, 168, 10, 255),
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(239, 1, 2, 3),
    ] {
        w.peer_send(&udp(REMOTE, dst, 1, 2, b"everyone"));
    }
    assert_eq!(w.dropped(DropReason::NotForwarded), 3);
    assert!(w.lan_rx.is_empty());
    assert_eq!(
        w.arp_requests.iter().filter(|r| r.0 == Port::Lan).count(),
        0
    );
    w.finish();
}
