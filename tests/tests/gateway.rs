//! Gateway tests: the appliance joins a LAN host to a remote WireGuard peer
//! (boringtun) through its two NICs, under QEMU, no root.
//!
//! One boot per WAN model (virtio-net, e1000e; the LAN is virtio-net) runs
//! every step in sequence, since a TCG boot is the expensive part: the
//! appliance initiates when the LAN host pings a remote address; the peer
//! initiates after a restart (a fresh boringtun `Tunn`) when it sends
//! first; 500 pings each way; UDP payloads of every size from 0 to the
//! tunnel MTU both ways, byte for byte; a rekey under traffic with no loss;
//! the peer roaming to a new source port; replayed and bit-flipped packets
//! dropped and counted while traffic continues; ICMP fragmentation-needed
//! for a DF packet over the MTU; MSS clamping of SYN and SYN-ACK. Two short
//! boots check that a config with errors is reported by line and nothing is
//! forwarded, and that without any entropy source the gateway refuses to
//! start and says why.
//!
//! The rekey: WireGuard rekeys after 120 s, too long for TCG, so the peer
//! forces a new handshake mid-traffic with boringtun's
//! `format_handshake_initiation(.., force_resend = true)`; the appliance
//! answers as responder and switches keys while pings keep flowing.

#[path = "gateway/world.rs"]
mod world;

use std::time::{Duration, Instant};

use ringwall_tests::frames::{checksum, Port};
use ringwall_tests::{QemuBuilder, BOOT_TIMEOUT};
use world::*;

/// Generous per-exchange timeout for TCG on a loaded machine.
const T: Duration = Duration::from_secs(10);

/// Writes `text` to a file for `-initrd`.
fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("ringwall-gw-{}-{name}.conf", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

/// A gateway counter from `stats` (the block after the `gateway` line).
fn gw_counter(stats: &str, name: &str) -> u64 {
    let mut inside = false;
    for line in stats.lines() {
        if !line.starts_with(' ') {
            inside = line.trim() == "gateway";
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        if inside && w.len() == 3 && w[0] == "drop" && w[1] == name {
            return w[2].parse().unwrap_or(0);
        }
    }
    0
}

/// The appliance initiates: the LAN host pings the remote host.
fn appliance_initiates(w: &mut World) {
    w.lan.link.socket.set_nonblocking(false).unwrap();
    w.lan
        .link
        .socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    w.lan.arp().unwrap();
    w.lan.link.socket.set_nonblocking(true).unwrap();
    let ping = echo(HOST, REMOTE, 8, 1, 1, b"first contact");
    let mut got = None;
    for _ in 0..5 {
        w.lan_send(&ping);
        got = w.wait_peer(T, |p| p.len() > 20 && p[16..20] == REMOTE && p[9] == 1);
        if got.is_some() {
            break;
        }
    }
    let p = got.expect("the ping never came out of the tunnel");
    assert!(w.initiations_seen >= 1, "the appliance did not initiate");
    assert_eq!(p[8], 63, "TTL after one hop");
    assert_eq!(checksum(&p[..20]), 0);
    assert_eq!(&p[28..], b"first contact");
    let reply = w
        .wait_lan(T, |p| {
            p.len() > 28 && p[9] == 1 && p[20] == 0 && p[12..16] == REMOTE
        })
        .expect("the remote's echo reply never reached the LAN");
    assert_eq!(reply[8], 63);
    assert_eq!(&reply[28..], b"first contact");
    assert_eq!(checksum(&reply[20..]), 0);
}

/// The peer restarts (new boringtun state) and sends first: it initiates.
fn peer_initiates(w: &mut World) {
    w.bt = tunn(1000);
    let before = w.responses_seen;
    let p = echo(REMOTE, HOST, 8, 2, 1, b"peer speaks first");
    w.peer_send(&p);
    let got = w.wait_lan(T, |p| p.len() > 28 && p[20] == 8 && p[12..16] == REMOTE);
    let got = got.expect("the peer's ping never reached the LAN");
    assert!(
        w.responses_seen > before,
        "the appliance sent no handshake response"
    );
    assert_eq!(&got[28..], b"peer speaks first");
    let reply = w.wait_peer(T, |p| p.len() > 28 && p[20] == 0 && p[16..20] == REMOTE);
    assert!(
        reply.is_some(),
        "the LAN host's reply never reached the peer"
    );
}

/// Every UDP payload size from 0 to what fits the tunnel MTU, one way.
fn sizes(w: &mut World, lan_side: bool) {
    let max = MTU - 28;
    let mut seen = vec![false; max + 1];
    let data = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 + n) as u8).collect() };
    let mut next = 0usize;
    let mut count = 0usize;
    let end = Instant::now() + Duration::from_secs(120);
    let dport = if lan_side { 9000 } else { 9001 };
    while count <= max && Instant::now() < end {
        while next <= max && next < count + 32 {
            let (src, dst) = if lan_side {
                (HOST, REMOTE)
            } else {
                (REMOTE, HOST)
            };
            let p = udp(src, dst, next as u16, dport, false, &data(next));
            if lan_side {
                w.lan_send(&p);
            } else {
                w.peer_send(&p);
            }
            next += 1;
        }
        let want =
            |p: &[u8]| p.len() >= 28 && p[9] == 17 && u16::from_be_bytes([p[22], p[23]]) == dport;
        let got = if lan_side {
            w.wait_peer(Duration::from_millis(500), want)
        } else {
            w.wait_lan(Duration::from_millis(500), want)
        };
        match got {
            Some(p) => {
                let n = usize::from(u16::from_be_bytes([p[20], p[21]]));
                assert!(n <= max, "size {n}");
                assert_eq!(p.len(), 28 + n, "size {n}: length");
                assert_eq!(p[28..], data(n)[..], "size {n}: payload");
                let (s, d) = (p[12..16].try_into().unwrap(), p[16..20].try_into().unwrap());
                assert_eq!(l4_checksum(s, d, 17, &p[20..]), 0, "size {n}: UDP checksum");
                if !seen[n] {
                    seen[n] = true;
                    count += 1;
                }
            }
            None => {
                // Resend what is missing (a slow machine may drop a frame
                // in QEMU's socket), then go on.
                for (n, s) in seen.iter().enumerate().take(next) {
                    if !s {
                        let (src, dst) = if lan_side {
                            (HOST, REMOTE)
                        } else {
                            (REMOTE, HOST)
                        };
                        let p = udp(src, dst, n as u16, dport, false, &data(n));
                        if lan_side {
                            w.lan_send(&p);
                        } else {
                            w.peer_send(&p);
                        }
                    }
                }
            }
        }
    }
    let missing: Vec<usize> = (0..=max).filter(|&n| !seen[n]).collect();
    assert!(
        missing.is_empty(),
        "sizes never delivered ({}): {missing:?}",
        if lan_side {
            "LAN to peer"
        } else {
            "peer to LAN"
        }
    );
}

/// A forced handshake from the peer in the middle of a ping stream.
fn rekey_under_traffic(w: &mut World) {
    let before = w.responses_seen;
    let mut answered = w.ping_many(true, 30, 60, 8, Duration::from_secs(60));
    let mut dst = vec![0u8; 256];
    let init = match w.bt.format_handshake_initiation(&mut dst, true) {
        boringtun::noise::TunnResult::WriteToNetwork(d) => d.to_vec(),
        other => panic!("boringtun gave no initiation: {other:?}"),
    };
    w.wan_send_dgram(&init);
    answered += w.ping_many(true, 31, 140, 8, Duration::from_secs(60));
    assert!(
        w.responses_seen > before,
        "the appliance never answered the new handshake"
    );
    assert_eq!(answered, 200, "pings lost across the rekey");
    assert_eq!(w.decap_errors, 0);
}

/// The peer moves to another source port; the appliance follows.
fn roaming(w: &mut World) {
    w.peer_port = 51999;
    let p = echo(REMOTE, HOST, 8, 40, 1, b"from a new port");
    w.peer_send(&p);
    let r = w.wait_peer(T, |p| {
        p.len() > 28 && p[20] == 0 && u16::from_be_bytes([p[24], p[25]]) == 40
    });
    assert!(r.is_some(), "no reply after roaming");
    assert_eq!(w.last_dst_port, 51999, "the reply went to the old port");
    assert_eq!(w.ping_many(true, 41, 20, 4, Duration::from_secs(30)), 20);
    assert_eq!(w.last_dst_port, 51999);
    let wg = w.vm.console().command("wg").unwrap();
    assert!(wg.contains("endpoint: 198.51.100.2:51999"), "{wg}");
}

/// Replayed and bit-flipped datagrams are dropped and counted.
fn replay_and_bit_flips(w: &mut World) {
    w.vm.console().command("stats reset").unwrap();
    let marker = |tag: u16| udp(REMOTE, HOST, 7000, tag, false, b"marker");
    let is = |tag: u16| {
        move |p: &[u8]| p.len() >= 28 && p[9] == 17 && u16::from_be_bytes([p[22], p[23]]) == tag
    };
    let a = w.seal(&marker(7001)).unwrap();
    w.wan_send_dgram(&a);
    assert!(
        w.wait_lan(T, is(7001)).is_some(),
        "the first copy is delivered"
    );
    for _ in 0..5 {
        w.wan_send_dgram(&a);
    }
    for i in 0..5 {
        let mut b = w.seal(&marker(7002)).unwrap();
        let at = b.len() - 1 - i;
        b[at] ^= 0x10;
        w.wan_send_dgram(&b);
    }
    let c = w.seal(&marker(7003)).unwrap();
    w.wan_send_dgram(&c);
    assert!(
        w.wait_lan(T, is(7003)).is_some(),
        "traffic stopped after the bad packets"
    );
    assert!(
        w.wait_lan(Duration::from_millis(300), is(7001)).is_none(),
        "a replay was delivered"
    );
    assert!(
        w.wait_lan(Duration::from_millis(10), is(7002)).is_none(),
        "a forgery was delivered"
    );
    let stats = w.vm.console().command("stats").unwrap();
    assert_eq!(gw_counter(&stats, "replay"), 5, "{stats}");
    assert_eq!(gw_counter(&stats, "bad-mac"), 5, "{stats}");
}

/// A DF packet over the tunnel MTU gets fragmentation-needed; without DF
/// it is dropped and counted.
fn too_big(w: &mut World) {
    let big = udp(HOST, REMOTE, 5000, 5001, true, &vec![0xab; MTU - 28 + 1]);
    w.lan_send(&big);
    let icmp = w
        .wait_lan(T, |p| {
            p.len() >= 28 && p[9] == 1 && p[20] == 3 && p[21] == 4
        })
        .expect("no ICMP fragmentation-needed");
    assert_eq!(
        u16::from_be_bytes([icmp[26], icmp[27]]),
        MTU as u16,
        "next-hop MTU"
    );
    assert_eq!(icmp[16..20], HOST);
    assert_eq!(checksum(&icmp[20..]), 0);
    // The quoted header is the offending packet's.
    assert_eq!(icmp[28..48], big[..20]);
    let nodf = udp(HOST, REMOTE, 5000, 5002, false, &vec![0xab; MTU - 28 + 1]);
    w.lan_send(&nodf);
    let out = w.wait_peer(Duration::from_secs(1), |p| {
        p.len() > 24 && u16::from_be_bytes([p[22], p[23]]) == 5002
    });
    assert!(out.is_none(), "an oversized packet entered the tunnel");
    let stats = w.vm.console().command("stats").unwrap();
    assert!(gw_counter(&stats, "too-big-no-df") >= 1, "{stats}");
}

/// SYN and SYN-ACK with MSS 1460 cross the tunnel clamped to 1380.
fn mss_clamp(w: &mut World) {
    let syn = tcp_syn(HOST, REMOTE, 40001, 80, false, 1460);
    w.lan_send(&syn);
    let p = w
        .wait_peer(T, |p| p.len() > 40 && p[9] == 6 && p[33] == 0x02)
        .expect("the SYN never came out of the tunnel");
    assert_eq!(tcp_mss(&p), Some((1380, true)), "SYN after the tunnel");
    let synack = tcp_syn(REMOTE, HOST, 80, 40001, true, 1460);
    w.peer_send(&synack);
    let p = w
        .wait_lan(T, |p| p.len() > 40 && p[9] == 6 && p[33] == 0x12)
        .expect("the SYN-ACK never reached the LAN");
    assert_eq!(tcp_mss(&p), Some((1380, true)), "SYN-ACK after the tunnel");
}

/// The appliance answers pings to its own tunnel address from the peer,
/// and to its LAN address from the LAN host.
fn own_addresses(w: &mut World) {
    let p = echo(REMOTE, GW_TUN, 8, 50, 1, b"to the tunnel address");
    w.peer_send(&p);
    let r = w
        .wait_peer(T, |p| p.len() > 28 && p[20] == 0 && p[12..16] == GW_TUN)
        .expect("no echo reply from the tunnel address");
    assert_eq!(&r[28..], b"to the tunnel address");
    assert_eq!(checksum(&r[20..]), 0);
    w.lan_send(&echo(HOST, GW_LAN, 8, 51, 1, b"to the LAN address"));
    let r = w
        .wait_lan(T, |p| p.len() > 28 && p[20] == 0 && p[12..16] == GW_LAN)
        .expect("no echo reply from the LAN address");
    assert_eq!(&r[28..], b"to the LAN address");
}

fn exercise(wan_device: &str) {
    let start = Instant::now();
    let mut w = boot("gw", wan_device);
    appliance_initiates(&mut w);
    peer_initiates(&mut w);
    let lan = w.ping_many(true, 10, 500, 16, Duration::from_secs(120));
    assert_eq!(lan, 500, "LAN to remote pings answered");
    let remote = w.ping_many(false, 11, 500, 16, Duration::from_secs(120));
    assert_eq!(remote, 500, "remote to LAN pings answered");
    sizes(&mut w, true);
    sizes(&mut w, false);
    rekey_under_traffic(&mut w);
    roaming(&mut w);
    replay_and_bit_flips(&mut w);
    too_big(&mut w);
    mss_clamp(&mut w);
    own_addresses(&mut w);
    let cfg = w.vm.console().command("config").unwrap();
    assert!(cfg.contains("AllowedIPs = 10.20.0.0/16"), "{cfg}");
    assert!(
        !cfg.contains(&base64(&GW_KEY)),
        "private key on the console: {cfg}"
    );
    let stats = w.vm.console().command("stats").unwrap();
    assert!(stats.contains("gateway"), "{stats}");
    eprintln!("{wan_device}: all steps in {:?}", start.elapsed());
}

#[test]
fn gateway_wan_virtio_net() {
    exercise("virtio-net-pci");
}

#[test]
fn gateway_wan_e1000e() {
    exercise("e1000e");
}

#[test]
fn config_with_errors_boots_and_reports_them() {
    let lan = Port::new(LAN_MAC, GW_LAN, HOST);
    let wan = Port::new(WAN_MAC, GW_WAN, PEER);
    let bad = "[Interface]\nPrivateKey = not*base64\nListenPort = 51820\nColour = blue\n\
               [LAN]\nAddress = 192.168.10.1/24\n[WAN]\nAddress = 198.51.100.1/24\n";
    let path = config_file("bad", bad);
    let mut vm = QemuBuilder::new()
        .memory("128M")
        .initrd(&path)
        .netdev_dgram("n0", &lan.link)
        .device(&format!("virtio-net-pci,netdev=n0,mac={}", lan.mac_text()))
        .netdev_dgram("n1", &wan.link)
        .device(&format!("virtio-net-pci,netdev=n1,mac={}", wan.mac_text()))
        .spawn()
        .unwrap();
    let log = vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let _ = std::fs::remove_file(path);
    assert!(
        log.contains("line 2:"),
        "bad key not reported by line: {log}"
    );
    assert!(
        log.contains("line 4:") && log.contains("Colour"),
        "unknown key not reported: {log}"
    );
    assert!(!log.contains("gateway: up"), "{log}");
    let cfg = vm.console().command("config").unwrap();
    assert!(cfg.contains("no configuration in use"), "{cfg}");
    let wg = vm.console().command("wg").unwrap();
    assert!(wg.contains("gateway not running"), "{wg}");
}

#[test]
fn without_entropy_the_gateway_refuses_to_start_and_says_why() {
    let lan = Port::new(LAN_MAC, GW_LAN, HOST);
    let wan = Port::new(WAN_MAC, GW_WAN, PEER);
    let path = config_file("noentropy", &config());
    let mut vm = QemuBuilder::new()
        .memory("128M")
        .initrd(&path)
        .netdev_dgram("n0", &lan.link)
        .device(&format!("virtio-net-pci,netdev=n0,mac={}", lan.mac_text()))
        .netdev_dgram("n1", &wan.link)
        .device(&format!("virtio-net-pci,netdev=n1,mac={}", wan.mac_text()))
        // A CPU without RDRAND/RDSEED and no virtio-rng: no entropy at all.
        .arg("-cpu")
        .arg("qemu64")
        .spawn()
        .unwrap();
    let log = vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let _ = std::fs::remove_file(path);
    assert!(log.contains("config: parsed"), "{log}");
    assert!(log.contains("gateway: no entropy source"), "{log}");
    assert!(!log.contains("gateway: up"), "{log}");
    // `config` shows the file read at boot, saying the gateway is not
    // running it, and never the private key.
    let cfg = vm.console().command("config").unwrap();
    assert!(cfg.contains("gateway not running"), "{cfg}");
    assert!(
        !cfg.contains(&base64(&GW_KEY)),
        "private key on the console: {cfg}"
    );
}
