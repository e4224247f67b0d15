//! Console diagnostics under QEMU, on the gateway tests' set-up (a LAN host
//! and a boringtun peer around the appliance, `tests/tests/gateway/world.rs`).
//!
//! One boot runs every step, since a TCG boot is the expensive part: after a
//! handshake `wg` shows the peer's endpoint and a non-zero transfer; `stats`
//! counts exactly the pings the test exchanged, and its stage profile has
//! rx and crypto cycles both ways; `cpu` names the burst AEAD path (AVX2
//! under `-cpu max`); the appliance's own `ping`
//! reaches the LAN host and the remote host through the tunnel while the
//! test keeps both links pumped (the job runs from the poll loop, so the
//! data path keeps moving); `capture` output goes through `text2pcap` and
//! `tshark -r` reads the frames back; `peer add`/`peer remove` change what
//! the LAN can reach, and `config` follows.
//!
//! `ping` and `capture` keep the console busy until they finish, so those
//! steps type the command and pump the links until the console prints the
//! job's last line, instead of `Console::command`, which would block.

#[path = "gateway/world.rs"]
#[allow(dead_code)] // shared with gateway.rs, which uses the rest
mod world;

use std::process::Command;
use std::time::{Duration, Instant};

use ringwall_tests::frames::PEER_MAC;
use world::*;

/// Generous per-exchange timeout for TCG on a loaded machine.
const T: Duration = Duration::from_secs(10);

/// Types `cmd` and pumps both links until the console has printed `until`;
/// returns what was printed after the command line.
fn run_pumping(w: &mut World, cmd: &str, until: &str, timeout: Duration) -> String {
    w.vm.console().skip_pending();
    let start = w.vm.console().log().len();
    w.vm.console().send_line(cmd).unwrap();
    let end = Instant::now() + timeout;
    loop {
        // Pump for a moment (nothing matches: the packets stay queued).
        w.wait_lan(Duration::from_millis(20), |_| false);
        let log = w.vm.console().log();
        let text = log.get(start..).unwrap_or("").replace("\r\n", "\n");
        if text.contains(until) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "'{cmd}' never printed '{until}': {text}"
        );
    }
}

/// The `name value` pair in a `stats` line that starts with `key`.
fn stat(stats: &str, key: &str, name: &str) -> u64 {
    let line = stats
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no '{key}' in {stats}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    let i = w
        .iter()
        .position(|x| *x == name)
        .unwrap_or_else(|| panic!("no '{name}' in {line}"));
    w[i + 1].parse().unwrap()
}

/// The first handshake (the LAN host pings the remote) and `wg` after it.
fn wg_after_handshake(w: &mut World) {
    let before = w.vm.console().command("wg").unwrap();
    assert!(before.starts_with("interface: wg0\n"), "{before}");
    assert!(before.contains("  private key: (hidden)\n"), "{before}");
    assert!(!before.contains("latest handshake"), "{before}");
    let ping = echo(HOST, REMOTE, 8, 1, 1, b"handshake");
    let mut got = None;
    for _ in 0..5 {
        w.lan_send(&ping);
        got = w.wait_lan(T, |p| p.len() > 28 && p[20] == 0 && p[12..16] == REMOTE);
        if got.is_some() {
            break;
        }
    }
    assert!(got.is_some(), "no reply through the tunnel");
    let wg = w.vm.console().command("wg show").unwrap();
    assert!(wg.contains("  endpoint: 198.51.100.2:51820\n"), "{wg}");
    assert!(wg.contains("  allowed ips: 10.20.0.0/16\n"), "{wg}");
    assert!(wg.contains("  latest handshake: "), "{wg}");
    let transfer = wg
        .lines()
        .find(|l| l.starts_with("  transfer: "))
        .unwrap_or_else(|| panic!("no transfer line: {wg}"));
    assert!(
        transfer.ends_with(" sent") && !transfer.contains(" 0 B"),
        "{transfer}"
    );
}

/// `stats` counts exactly the pings exchanged since `stats reset`.
fn stats_match(w: &mut World) {
    w.vm.console().command("stats reset").unwrap();
    let n = w.ping_many(true, 60, 20, 4, Duration::from_secs(60));
    assert_eq!(n, 20);
    // Let the loop's current 100 ms bucket complete: the load counts
    // completed ones.
    w.wait_lan(Duration::from_millis(300), |_| false);
    let stats = w.vm.console().command("stats").unwrap();
    assert_eq!(stat(&stats, "lan-to-tunnel", "packets"), 20, "{stats}");
    assert_eq!(stat(&stats, "tunnel-to-lan", "packets"), 20, "{stats}");
    // The loop's load over the last 10 s saw those packets.
    let load = stats
        .lines()
        .find(|l| l.starts_with("loop busy "))
        .unwrap_or_else(|| panic!("no loop load: {stats}"));
    let pps_10s: u64 = load.split_whitespace().nth(9).unwrap().parse().unwrap();
    assert!(pps_10s > 0, "{load}");
    // 20 requests of 20 + 8 + 56 bytes.
    assert_eq!(stat(&stats, "lan-to-tunnel", "bytes"), 20 * 84, "{stats}");
    // The stage profile saw the same pings, sealed and opened.
    let profile = stats
        .find("cycles per packet by stage, since reset: ")
        .map(|i| &stats[i..])
        .unwrap_or_else(|| panic!("no stage profile: {stats}"));
    for (way, name) in [
        ("  encrypt (lan to tunnel): ", "encrypt"),
        ("  decrypt (tunnel to lan): ", "decrypt"),
    ] {
        let at = profile
            .find(way)
            .unwrap_or_else(|| panic!("no {name} block: {profile}"));
        let block = &profile[at + way.len()..];
        let packets: u64 = block.split_whitespace().next().unwrap().parse().unwrap();
        assert!(packets >= 20, "{name}: {profile}");
        for stage in ["rx", "crypto"] {
            let cycles = stage_cycles(block, stage);
            assert!(cycles > 0, "{name} {stage}: {profile}");
        }
    }
    assert!(profile.contains("\n  loop: "), "{profile}");
}

/// Cycles per packet of `stage` in the first stage table of `block`.
fn stage_cycles(block: &str, stage: &str) -> u64 {
    let line = block
        .lines()
        .find(|l| l.starts_with("    ") && l.split_whitespace().next() == Some(stage))
        .unwrap_or_else(|| panic!("no {stage} row: {block}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `cpu` names the burst AEAD path; QEMU's `-cpu max` has AVX2.
fn cpu_burst_path(w: &mut World) {
    let cpu = w.vm.console().command("cpu").unwrap();
    assert!(cpu.contains("\nburst aead: avx2\n"), "{cpu}");
    let log = w.vm.console().log();
    assert!(log.contains("burst aead: avx2"), "no boot line: {log}");
}

/// The appliance's own ping: to the LAN host, and through the tunnel.
fn own_ping(w: &mut World) {
    let out = run_pumping(
        w,
        "ping -c 3 -i 0.2 192.168.10.2",
        "rtt min/avg/max/mdev",
        T * 3,
    );
    assert!(
        out.contains("PING 192.168.10.2 (192.168.10.2) 56(84) bytes of data.\n"),
        "{out}"
    );
    assert!(
        out.contains("64 bytes from 192.168.10.2: icmp_seq=1 "),
        "{out}"
    );
    assert!(
        out.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{out}"
    );
    let out = run_pumping(
        w,
        "ping -c 2 -s 100 -i 0.2 10.20.0.5",
        "rtt min/avg/max/mdev",
        T * 3,
    );
    assert!(
        out.contains("108 bytes from 10.20.0.5: icmp_seq=2 "),
        "{out}"
    );
    assert!(
        out.contains("2 packets transmitted, 2 received, 0% packet loss"),
        "{out}"
    );
    // Ctrl-C ends an endless ping with its statistics and a prompt.
    let out = run_pumping(w, "ping 192.168.10.2", "icmp_seq=1 ", T);
    assert!(out.contains("PING"), "{out}");
    w.vm.console().send(&[3]).unwrap();
    w.vm.console().wait_for("packet loss", T).unwrap();
    w.vm.console().wait_for_prompt(T).unwrap();
    // Bad arguments: why, then the usage.
    let out = w.vm.console().command("ping -c 0 1.2.3.4").unwrap();
    assert!(
        out.starts_with("error: ping: count must be a number from 1\nusage: ping "),
        "{out}"
    );
}

/// An ARP reply from `ip` (MAC `PEER_MAC`) when frame `f` asks for it.
fn arp_answer(f: &[u8], ip: [u8; 4], to_mac: [u8; 6]) -> Option<Vec<u8>> {
    // RFC 826 request (op 1) whose target protocol address is `ip`.
    if f.len() < 42 || f[12..14] != [8, 6] || f[20..22] != [0, 1] || f[38..42] != ip {
        return None;
    }
    let mut r = to_mac.to_vec();
    r.extend_from_slice(&PEER_MAC);
    r.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    r.extend_from_slice(&PEER_MAC);
    r.extend_from_slice(&ip);
    r.extend_from_slice(&f[22..32]);
    Some(r)
}

/// The appliance's own ping out of the WAN port (neither the LAN subnet nor
/// a peer's allowed IPs): the test answers as the WAN neighbour.
fn own_ping_over_wan(w: &mut World) {
    w.vm.console().skip_pending();
    let start = w.vm.console().log().len();
    w.vm.console()
        .send_line("ping -c 2 -i 0.2 198.51.100.2")
        .unwrap();
    let end = Instant::now() + T * 3;
    let mut buf = vec![0u8; 65536];
    let text = loop {
        while let Ok(n) = w.wan.link.socket.recv(&mut buf) {
            let f = &buf[..n];
            if let Some(r) = arp_answer(f, PEER, WAN_MAC) {
                w.wan.send(&r);
                continue;
            }
            // An ICMP echo request (RFC 792) from the WAN address to us.
            if f.len() >= 42 && f[12..14] == [8, 0] && f[23] == 1 && f[30..34] == PEER {
                let ip = &f[14..];
                let ihl = usize::from(ip[0] & 15) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                let icmp = &ip[ihl..total];
                if icmp[0] == 8 {
                    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
                    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
                    let reply = echo(PEER, GW_WAN, 0, id, seq, &icmp[8..]);
                    let mut fr = WAN_MAC.to_vec();
                    fr.extend_from_slice(&PEER_MAC);
                    fr.extend_from_slice(&[0x08, 0x00]);
                    fr.extend_from_slice(&reply);
                    w.wan.send(&fr);
                }
            }
        }
        let log = w.vm.console().log();
        let text = log.get(start..).unwrap_or("").replace("\r\n", "\n");
        if text.contains("rtt min/avg/max/mdev") {
            break text;
        }
        assert!(Instant::now() < end, "WAN ping never finished: {text}");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(
        text.contains("64 bytes from 198.51.100.2: icmp_seq=2 "),
        "{text}"
    );
    assert!(
        text.contains("2 packets transmitted, 2 received, 0% packet loss"),
        "{text}"
    );
}

/// `capture` while the LAN host pings the appliance: text2pcap and tshark
/// read the two frames back.
fn capture(w: &mut World) {
    w.vm.console().skip_pending();
    let start = w.vm.console().log().len();
    w.vm.console().send_line("capture lan -c 2 icmp").unwrap();
    w.vm.console().wait_for("# capturing on lan", T).unwrap();
    w.lan_send(&echo(HOST, GW_LAN, 8, 77, 1, b"captured"));
    let end = Instant::now() + T;
    let text = loop {
        w.wait_lan(Duration::from_millis(20), |_| false);
        let log =
            w.vm.console()
                .log()
                .get(start..)
                .unwrap_or("")
                .replace("\r\n", "\n");
        if log.contains("frames captured on lan") {
            break log;
        }
        assert!(Instant::now() < end, "capture never ended: {log}");
    };
    assert!(
        text.contains("# 2 frames captured on lan, 0 missed"),
        "{text}"
    );
    let dir = std::env::temp_dir();
    let txt = dir.join(format!("ringwall-capture-{}.txt", std::process::id()));
    let pcap = txt.with_extension("pcap");
    std::fs::write(&txt, &text).unwrap();
    let t2p = Command::new("text2pcap")
        .arg("-q")
        .arg(&txt)
        .arg(&pcap)
        .status();
    let t2p = t2p.expect("text2pcap (Debian: wireshark-common)");
    assert!(t2p.success(), "text2pcap failed on: {text}");
    let shark = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "icmp.type",
        ])
        .output()
        .expect("tshark (Debian: tshark)");
    let fields = String::from_utf8_lossy(&shark.stdout).into_owned();
    let _ = std::fs::remove_file(&txt);
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(
        fields.lines().collect::<Vec<_>>(),
        [
            "192.168.10.2\t192.168.10.1\t8",
            "192.168.10.1\t192.168.10.2\t0"
        ],
        "tshark: {fields} {}",
        String::from_utf8_lossy(&shark.stderr)
    );
}

/// True when a packet from the LAN host to `dst` comes back as ICMP host
/// unreachable (no peer routes it).
fn unreachable(w: &mut World, dst: [u8; 4], seq: u16) -> bool {
    w.lan_send(&echo(HOST, dst, 8, 90, seq, b"anyone?"));
    w.wait_lan(Duration::from_secs(2), |p| {
        p.len() >= 48 && p[9] == 1 && p[20] == 3 && p[21] == 1 && p[44..48] == dst
    })
    .is_some()
}

/// `peer add` / `peer remove` change what is forwarded; `config` follows.
fn peers_at_run_time(w: &mut World) {
    let far = [10, 30, 0, 5];
    assert!(
        unreachable(w, far, 1),
        "10.30.0.5 routed before any peer has it"
    );
    let key = base64(&[0x33; 32]);
    let out =
        w.vm.console()
            .command(&format!(
                "peer add {key} allowed-ips 10.30.0.0/16 keepalive 25"
            ))
            .unwrap();
    assert_eq!(out, format!("peer added: {key}\n"));
    assert!(
        !unreachable(w, far, 2),
        "the new peer does not route 10.30.0.5"
    );
    let cfg = w.vm.console().command("config").unwrap();
    assert!(cfg.contains(&format!("PublicKey = {key}")), "{cfg}");
    let routes = w.vm.console().command("ip route").unwrap();
    assert!(
        routes.contains("10.30.0.0/16 dev wg0 scope link src 10.99.0.1\n"),
        "{routes}"
    );
    let out =
        w.vm.console()
            .command(&format!("peer add {key} allowed-ips 10.31.0.0/16"))
            .unwrap();
    assert!(out.starts_with("error: peer: "), "{out}");
    let out =
        w.vm.console()
            .command(&format!("peer remove {key}"))
            .unwrap();
    assert_eq!(out, format!("peer removed: {key}\n"));
    assert!(
        unreachable(w, far, 3),
        "10.30.0.5 still routed after removal"
    );
    let cfg = w.vm.console().command("config").unwrap();
    assert!(!cfg.contains(&key), "{cfg}");
    // The original peer still carries traffic.
    assert_eq!(w.ping_many(true, 95, 5, 1, Duration::from_secs(30)), 5);
}

/// `ip route` and `ip neigh` in iproute2's words.
fn ip_tables(w: &mut World) {
    let routes = w.vm.console().command("ip route").unwrap();
    assert!(
        routes.contains("192.168.10.0/24 dev lan proto kernel scope link src 192.168.10.1\n"),
        "{routes}"
    );
    assert!(
        routes.contains("10.20.0.0/16 dev wg0 scope link src 10.99.0.1\n"),
        "{routes}"
    );
    let neigh = w.vm.console().command("ip neigh").unwrap();
    assert!(neigh.contains("192.168.10.2 dev lan lladdr "), "{neigh}");
    assert!(neigh.contains("198.51.100.2 dev wan lladdr "), "{neigh}");
}

#[test]
fn console_diagnostics_on_a_running_gateway() {
    let mut w = boot("console", "virtio-net-pci");
    wg_after_handshake(&mut w);
    stats_match(&mut w);
    cpu_burst_path(&mut w);
    ip_tables(&mut w);
    own_ping(&mut w);
    own_ping_over_wan(&mut w);
    capture(&mut w);
    peers_at_run_time(&mut w);
    let log = w.vm.console().command("log debug nic").unwrap();
    assert_eq!(log, "log level: debug for nic\n");
    let log = w.vm.console().command("log").unwrap();
    assert_eq!(log, "log level: info\nlog level: debug for nic\n");
    let log = w.vm.console().command("log info").unwrap();
    assert_eq!(log, "log level: info\n");
    assert_eq!(w.vm.console().command("log").unwrap(), "log level: info\n");
    let help = w.vm.console().command("help capture").unwrap();
    assert!(help.starts_with("usage: capture lan|wan "), "{help}");
}
