//! The burst entry points against the per-frame ones: two worlds built
//! alike, one fed frame by frame, one a whole burst at a time, must send the
//! same frames on each port in the same order and count the same. The
//! peer's (boringtun's) ephemeral keys are random, so WireGuard payloads
//! are compared after the peer decrypted them; everything else byte for
//! byte. Run on `ring` and on the SIMD back end.

use super::*;
use crate::gateway::arp::arp_request;
use crate::gateway::ether;
use crate::simd::SimdAead;
use crate::wireguard::{Aead, RingAead};
use boringtun::noise::TunnResult;

/// A WAN frame with the parts that depend on the peer's random keys cut
/// out: the UDP checksum, the receiver index and the ciphertext. What is
/// left: Ethernet, IPv4 (same IP ID on both sides), UDP ports and length,
/// the message type and, for data, the counter.
fn comparable_wan(f: &[u8]) -> Vec<u8> {
    let udp_wg = f.len() >= 46
        && ether::ethertype(f) == ether::ETHERTYPE_IPV4
        && f[23] == 17
        && u16::from_be_bytes([f[34], f[35]]) == 51820;
    if !udp_wg {
        return f.to_vec();
    }
    let mut v = f[..40].to_vec();
    v.extend_from_slice(&f[42..46]);
    if f[42] == 4 && f.len() >= 58 {
        v.extend_from_slice(&f[50..58]);
    }
    v
}

/// Feeds `frames` to `port` frame by frame (`burst` false) or as one burst,
/// then returns what came out on each port, comparable, and carries it on.
fn run<A: Aead>(
    w: &mut World<A>,
    port: Port,
    frames: &[Vec<u8>],
    burst: bool,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let bufs: Vec<TestBuf> = frames.iter().map(|f| w.rx_buffer(f).unwrap()).collect();
    let now = w.now;
    if burst {
        match port {
            Port::Lan => w.gw.process_lan_burst(now, bufs, &mut w.out, &mut w.pool),
            Port::Wan => w.gw.process_wan_burst(now, bufs, &mut w.out, &mut w.pool),
        }
    } else {
        for b in bufs {
            match port {
                Port::Lan => w.gw.process_lan(now, b, &mut w.out, &mut w.pool),
                Port::Wan => w.gw.process_wan(now, b, &mut w.out, &mut w.pool),
            }
        }
    }
    let (lan, wan) = w.take_out();
    let seen = (lan.clone(), wan.iter().map(|f| comparable_wan(f)).collect());
    w.carry(lan, wan);
    seen
}

fn lan_ip(p: &[u8]) -> Vec<u8> {
    frame(LAN_MAC, HOST_MAC, ether::ETHERTYPE_IPV4, p)
}

/// A LAN burst mixing ARP, the appliance's own address, forwarding, no
/// route, TTL expiry and broken frames; `n` forwarded packets in all.
fn lan_burst(n: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut arp = [0u8; 42];
    let len = arp_request(&mut arp, HOST_MAC, HOST, LAN_IP).unwrap();
    for i in 0..n {
        let payload = [i as u8; 100];
        v.push(lan_ip(&udp(
            HOST,
            REMOTE,
            4000 + i as u16,
            53,
            &payload[..i % 90 + 1],
        )));
        match i {
            3 => v.push(arp[..len].to_vec()),
            5 => v.push(lan_ip(&echo(HOST, LAN_IP, 64, true, 7, 1, b"me"))),
            7 => v.push(lan_ip(&echo(
                HOST,
                "172.16.0.1".parse().unwrap(),
                64,
                true,
                1,
                1,
                b"x",
            ))),
            9 => v.push(lan_ip(
                &udp(HOST, REMOTE, 1, 2, b"ttl")
                    .iter()
                    .enumerate()
                    .map(|(k, &b)| if k == 8 { 1 } else { b })
                    .collect::<Vec<u8>>(),
            )),
            11 => v.push(lan_ip(&[0x45, 0, 0])),
            13 => v.push(vec![0xff; 10]),
            _ => {}
        }
    }
    v
}

/// A WAN burst from the peer: `n` data packets, with a replay, a forged
/// tag, a datagram for our WAN address, ARP from the router, a frame not for
/// us and a fresh handshake initiation mixed in.
fn wan_burst<A: Aead>(w: &mut World<A>, n: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut dst = vec![0u8; SLOT];
    for i in 0..n {
        let p = udp(
            REMOTE,
            HOST,
            53,
            4000 + i as u16,
            &[i as u8; 64][..i % 60 + 1],
        );
        let d = match w.bt.encapsulate(&p, &mut dst) {
            TunnResult::WriteToNetwork(d) => d.to_vec(),
            other => panic!("{other:?}"),
        };
        v.push(udp_frame(w.peer_port, &d));
        match i {
            2 => v.push(udp_frame(w.peer_port, &d)), // replay inside the burst
            4 => {
                // A fresh counter, so the tag (not the replay window) refuses it.
                let p = udp(REMOTE, HOST, 53, 1, b"forged");
                let mut bad = match w.bt.encapsulate(&p, &mut dst) {
                    TunnResult::WriteToNetwork(d) => d.to_vec(),
                    other => panic!("{other:?}"),
                };
                let last = bad.len() - 1;
                bad[last] ^= 1;
                v.push(udp_frame(w.peer_port, &bad));
            }
            6 => {
                // For the appliance itself (its host stack).
                let own = udp(ROUTER_IP, WAN_IP, 7, 9999, b"wan");
                v.push(frame(WAN_MAC, ROUTER_MAC, ether::ETHERTYPE_IPV4, &own));
            }
            8 => {
                let mut arp = [0u8; 42];
                let len = arp_request(&mut arp, ROUTER_MAC, ROUTER_IP, WAN_IP).unwrap();
                v.push(arp[..len].to_vec());
            }
            10 => v.push(frame(
                [2; 6],
                ROUTER_MAC,
                ether::ETHERTYPE_IPV4,
                &[0x45; 40],
            )),
            12 => {
                let init = match w.bt.format_handshake_initiation(&mut dst, true) {
                    TunnResult::WriteToNetwork(d) => d.to_vec(),
                    other => panic!("{other:?}"),
                };
                v.push(udp_frame(w.peer_port, &init));
            }
            _ => {}
        }
    }
    v
}

fn same_frames_out<A: Aead>() {
    let mut one = World::<A>::with_aead(&config_text(""), 256);
    let mut all = World::<A>::with_aead(&config_text(""), 256);
    one.establish();
    all.establish();
    for n in [1, 20, 45] {
        let frames = lan_burst(n);
        let a = run(&mut one, Port::Lan, &frames, false);
        let b = run(&mut all, Port::Lan, &frames, true);
        assert_eq!(a, b, "LAN burst of {n}");
        assert!(b.1.len() >= n, "{n} packets into the tunnel");
        let fa = wan_burst(&mut one, n);
        let fb = wan_burst(&mut all, n);
        let a = run(&mut one, Port::Wan, &fa, false);
        let b = run(&mut all, Port::Wan, &fb, true);
        assert_eq!(a, b, "WAN burst of {n}");
        assert!(b.0.len() >= n, "{n} packets onto the LAN");
    }
    assert_eq!(one.lan_rx, all.lan_rx);
    assert_eq!(one.peer_rx, all.peer_rx);
    assert_eq!(one.gw.counters(), all.gw.counters());
    for r in [
        crate::gateway::counters::DropReason::Replay,
        crate::gateway::counters::DropReason::BadMac,
        crate::gateway::counters::DropReason::NoRoute,
        crate::gateway::counters::DropReason::NotForUs,
    ] {
        assert!(all.dropped(r) > 0, "{r:?} happened");
    }
    one.finish();
    all.finish();
}

#[test]
fn bursts_send_what_frames_one_by_one_send_with_ring() {
    same_frames_out::<RingAead>();
}

#[test]
fn bursts_send_what_frames_one_by_one_send_with_simd() {
    same_frames_out::<SimdAead>();
}
