//! NIC tests: the appliance answers ARP and ping on every NIC model it
//! drives, survives garbage and link flaps, and shows it all on the console.
//!
//! Each model gets one boot (TCG is slow on a shared machine) that runs the
//! whole sequence: ARP, ping with payload check, 1,000 pings, 1,000 malformed
//! frames, counters through `stats`, `ip link`/`ip addr`/`pci`, link down and
//! up through the QEMU monitor. The NIC sits on `-netdev dgram` whose other end
//! is this process: frames are written and read as raw bytes, laid out by
//! `ringwall_tests::frames` from the wire formats.

use std::time::{Duration, Instant};

use ringwall_tests::frames::{Port, PEER_MAC};
use ringwall_tests::{Qemu, QemuBuilder, BOOT_TIMEOUT};

/// Reads counter `name` from the `stats` block of port `port` (0 when absent).
fn counter(stats: &str, port: &str, name: &str) -> u64 {
    let mut inside = false;
    let mut total = 0;
    for line in stats.lines() {
        if !line.starts_with(' ') {
            inside = line.split_whitespace().next() == Some(port);
            continue;
        }
        if !inside {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            if w[0] == name {
                total += w[1].parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// The garbage the appliance must survive: runts, broken IPv4 headers, bad
/// header checksums and giant frames, 250 of each.
fn garbage(p: &Port) -> Vec<Vec<u8>> {
    let good = p.echo_request(7, &[0x5a; 32]);
    let mut out = Vec::new();
    for i in 0..250usize {
        // Runt: shorter than an Ethernet header.
        out.push(good[..(i % 13) + 1].to_vec());
        // IHL below 5 (a header shorter than any IPv4 header).
        let mut f = good.clone();
        f[14] = 0x40 | (i % 5) as u8;
        out.push(f);
        // Header checksum wrong.
        let mut f = good.clone();
        f[24] ^= 0x5a;
        f[25] ^= (i as u8) | 1;
        out.push(f);
        // Giant: beyond the 1514-byte maximum, up to 2 KiB and past a
        // 2 KiB receive buffer.
        let mut f = good.clone();
        f.resize(1515 + i * 3, 0xee);
        out.push(f);
    }
    out
}

/// The `ip link` line of port `name`.
fn link_line(vm: &mut Qemu, name: &str) -> String {
    let out = vm.console().command("ip link").unwrap();
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in ip link:\n{out}"))
        .to_string()
}

/// Waits until `ip link` shows `name` in `state` (maintain runs at 4 Hz).
fn wait_link(vm: &mut Qemu, name: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = link_line(vm, name);
        if line.split_whitespace().any(|w| w == state) {
            return;
        }
        assert!(Instant::now() < deadline, "link never {state}: {line}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Boots with `devices` (one `-device` per port, `netdev=n<i>`) on `ports`.
fn boot(devices: &[String], ports: &[&Port], append: &str) -> Qemu {
    let mut b = QemuBuilder::new().memory("128M").append(append);
    for (i, (d, p)) in devices.iter().zip(ports).enumerate() {
        b = b.netdev_dgram(&format!("n{i}"), &p.link).device(d);
    }
    let mut vm = b.spawn().unwrap();
    vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    vm
}

/// The whole sequence for one NIC model: `device` is the `-device` driver
/// (with options), `driver` the name `ip link` must show.
fn exercise(device: &str, driver: &str, mac: [u8; 6]) {
    let lan = Port::new(mac, [192, 168, 10, 1], [192, 168, 10, 2]);
    let dev = format!("{device},netdev=n0,mac={}", lan.mac_text());
    let mut vm = boot(&[dev], &[&lan], "lan=192.168.10.1/24");
    let log = vm.console().log();
    assert!(log.contains("lan: "), "no port in the boot log:\n{log}");

    // ARP: a reply from the pinned MAC, for the asked address, to us.
    let r = lan.arp().unwrap();
    assert_eq!(&r[0..6], &PEER_MAC, "reply to our MAC");
    assert_eq!(&r[22..28], &lan.mac, "sender MAC");
    assert_eq!(&r[28..32], &lan.ip, "sender IP");
    assert_eq!(&r[32..38], &PEER_MAC, "target MAC");
    assert_eq!(&r[38..42], &lan.peer_ip, "target IP");

    // Pings with distinct payloads, including a full-size one.
    lan.ping(1, b"ringwall").unwrap();
    lan.ping(2, &[0u8; 0]).unwrap();
    let big: Vec<u8> = (0..1472).map(|i| (i * 7) as u8).collect();
    lan.ping(3, &big).unwrap();

    // 1,000 pings, 1,000 replies.
    let took = lan.ping_many(1000, 8).unwrap();
    eprintln!("{driver}: 1000 pings answered in {took:?}");

    // Console views.
    let line = link_line(&mut vm, "lan");
    for part in [driver, &lan.mac_text(), "up", "mtu 1500"] {
        assert!(line.contains(part), "{part:?} not in {line:?}");
    }
    if driver != "virtio-net" {
        // STATUS.SPEED/FD as QEMU's models report them.
        assert!(line.ends_with("1000Mb/s full"), "{line:?}");
    }
    let addr = vm.console().command("ip addr").unwrap();
    assert!(addr.contains("lan   192.168.10.1/24"), "{addr}");
    let pci = vm.console().command("pci").unwrap();
    let bdf = line.split_whitespace().nth(2).unwrap_or("");
    let row = pci.lines().find(|l| l.starts_with(bdf)).unwrap_or("");
    assert!(
        row.contains(driver),
        "pci row of {bdf} lacks {driver}:\n{pci}"
    );

    // Garbage, counted by cause; the appliance keeps answering.
    vm.console().command("stats reset").unwrap();
    let junk = garbage(&lan);
    for (i, f) in junk.iter().enumerate() {
        lan.send(f);
        if i % 16 == 15 {
            // Pace the flood so the rx ring, not the test, decides drops.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    lan.ping(4, b"still here").unwrap();
    let stats = vm.console().command("stats").unwrap();
    eprintln!("{driver} stats after garbage:\n{stats}");
    let header = counter(&stats, "lan", "bad-ipv4-header");
    let sum = counter(&stats, "lan", "bad-ipv4-checksum");
    let runts = counter(&stats, "lan", "rx-runts");
    let giants = counter(&stats, "lan", "rx-too-long") + counter(&stats, "lan", "bad-frame");
    let missed = counter(&stats, "lan", "rx-missed") + counter(&stats, "lan", "rx-no-buffer");
    // Padded runts that keep the IPv4 ethertype add bad headers on Intel.
    assert!(header >= 250, "bad IPv4 headers counted:\n{stats}");
    assert_eq!(sum, 250, "bad checksums counted:\n{stats}");
    assert_eq!(missed, 0, "paced garbage overran the ring:\n{stats}");
    // Every frame the port received went to the host stack or was dropped
    // under a named reason.
    let rx = counter(&stats, "lan", "rx-packets");
    let to_host = counter(&stats, "lan", "to-host");
    let dropped = counter(&stats, "lan", "dropped");
    assert_eq!(rx, to_host + dropped, "unaccounted frames:\n{stats}");
    // QEMU pads short frames for the Intel models (they then arrive as
    // 60-byte frames for another MAC or ethertype) and drops frames larger
    // than the receive buffers before the guest sees them, so runts and
    // giants are counted where they can be seen: exactly for virtio-net.
    if driver == "virtio-net" {
        assert_eq!(runts, 250, "runts counted:\n{stats}");
        assert_eq!(header, 250, "bad IPv4 headers counted:\n{stats}");
    }
    eprintln!("{driver}: runts counted {runts}, giants counted {giants}");

    // Link down, then up: survived without a reboot.
    vm.monitor("set_link n0 off").unwrap();
    wait_link(&mut vm, "lan", "down");
    vm.monitor("set_link n0 on").unwrap();
    wait_link(&mut vm, "lan", "up");
    lan.ping_eventually(100).unwrap();
    let stats = vm.console().command("stats").unwrap();
    assert!(counter(&stats, "lan", "link-downs") >= 1, "{stats}");
}

#[test]
fn virtio_net_modern_answers_arp_ping_and_survives_garbage() {
    exercise(
        "virtio-net-pci,disable-legacy=on",
        "virtio-net",
        [0x52, 0x54, 0, 0x12, 0x34, 0x01],
    );
}

#[test]
fn virtio_net_transitional_answers_arp_ping_and_survives_garbage() {
    exercise(
        "virtio-net-pci",
        "virtio-net",
        [0x52, 0x54, 0, 0x12, 0x34, 0x02],
    );
}

#[test]
fn virtio_net_legacy_answers_arp_ping_and_survives_garbage() {
    exercise(
        "virtio-net-pci,disable-modern=on",
        "virtio-net",
        [0x52, 0x54, 0, 0x12, 0x34, 0x03],
    );
}

#[test]
fn e1000_answers_arp_ping_and_survives_garbage() {
    exercise("e1000", "e1000", [0x52, 0x54, 0, 0x12, 0x34, 0x04]);
}

#[test]
fn e1000_82545em_answers_arp_ping_and_survives_garbage() {
    exercise("e1000-82545em", "e1000", [0x52, 0x54, 0, 0x12, 0x34, 0x05]);
}

#[test]
fn e1000e_answers_arp_ping_and_survives_garbage() {
    exercise("e1000e", "e1000e", [0x52, 0x54, 0, 0x12, 0x34, 0x06]);
}

#[test]
fn two_nics_of_different_models_both_answer_with_their_own_address() {
    let lan = Port::new(
        [0x52, 0x54, 0, 0x12, 0x35, 0x01],
        [192, 168, 10, 1],
        [192, 168, 10, 2],
    );
    let wan = Port::new(
        [0x52, 0x54, 0, 0x12, 0x35, 0x02],
        [198, 51, 100, 1],
        [198, 51, 100, 2],
    );
    let devices = [
        format!("virtio-net-pci,netdev=n0,mac={}", lan.mac_text()),
        format!("e1000e,netdev=n1,mac={}", wan.mac_text()),
    ];
    let mut vm = boot(
        &devices,
        &[&lan, &wan],
        "lan=192.168.10.1/24 wan=198.51.100.1/24",
    );
    for p in [&lan, &wan] {
        let r = p.arp().unwrap();
        assert_eq!(&r[22..28], &p.mac, "sender MAC");
        assert_eq!(&r[28..32], &p.ip, "sender IP");
        p.ping(1, b"two ports").unwrap();
        p.ping_many(100, 8).unwrap();
    }
    // ARP for the other port's address on this link is not answered.
    let mut cross = lan.arp_request();
    cross[38..42].copy_from_slice(&wan.ip);
    lan.send(&cross);
    assert!(
        lan.recv(Duration::from_secs(2), |f| f.len() >= 42
            && f[12..14] == [0x08, 0x06]
            && f[20..22] == [0, 2])
            .is_none(),
        "lan answered ARP for the wan address"
    );
    let links = vm.console().command("ip link").unwrap();
    let l = links.lines().find(|l| l.starts_with("lan")).unwrap_or("");
    let w = links.lines().find(|l| l.starts_with("wan")).unwrap_or("");
    assert!(
        l.contains("virtio-net") && l.contains(&lan.mac_text()),
        "{links}"
    );
    assert!(
        w.contains("e1000e") && w.contains(&wan.mac_text()),
        "{links}"
    );
    let addr = vm.console().command("ip addr").unwrap();
    assert!(addr.contains("lan   192.168.10.1/24"), "{addr}");
    assert!(addr.contains("wan   198.51.100.1/24"), "{addr}");
}

/// Writes a configuration module for `-initrd` and returns its path.
fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("ringwall-nic-{}-{name}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A valid appliance file whose `[LAN]` is the NIC with `lan_mac`; the
/// private and public keys are `wg genkey | wg pubkey` output
/// (wireguard-tools 1.0.20210914), as in netfn's config tests.
fn good_config(lan_mac: &str) -> String {
    format!(
        "[Interface]
PrivateKey = 2Cj63wEYLV88FyzIf5+4IDm4qiwmfgvelFVcuChk0V4=
[LAN]
Address = 10.1.0.1/16
MAC = {lan_mac}
[WAN]
Address = 198.51.100.1/24
[Peer]
PublicKey = nKdd23xjbLetfI/2B/muDbL36EplcAMXj/gq0mbf6lE=
AllowedIPs = 10.20.0.0/16
"
    )
}

#[test]
fn config_module_picks_ports_and_addresses_and_virtio_rng_stands_in_for_rdrand() {
    // PCI order is virtio-net then e1000; the file makes the e1000 the LAN.
    let wan = Port::new(
        [0x52, 0x54, 0, 0x12, 0x36, 0x01],
        [198, 51, 100, 1],
        [198, 51, 100, 2],
    );
    let lan = Port::new(
        [0x52, 0x54, 0, 0x12, 0x36, 0x02],
        [10, 1, 0, 1],
        [10, 1, 0, 2],
    );
    let path = config_file("good", &good_config(&lan.mac_text()));
    let mut vm = QemuBuilder::new()
        .memory("128M")
        .append("lan=192.168.10.1/24")
        .initrd(&path)
        .netdev_dgram("n0", &wan.link)
        .device(&format!("virtio-net-pci,netdev=n0,mac={}", wan.mac_text()))
        .netdev_dgram("n1", &lan.link)
        .device(&format!("e1000,netdev=n1,mac={}", lan.mac_text()))
        .device("virtio-rng-pci")
        // A CPU without RDRAND/RDSEED: virtio-rng is the only entropy.
        .arg("-cpu")
        .arg("qemu64")
        .spawn()
        .unwrap();
    let log = vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(log.contains("config: parsed"), "{log}");
    assert!(log.contains("no RDSEED/RDRAND"), "{log}");
    assert!(
        log.contains("virtio-rng: entropy source (answering); kernel entropy available"),
        "{log}"
    );
    for p in [&lan, &wan] {
        let r = p.arp().unwrap();
        assert_eq!(&r[22..28], &p.mac, "sender MAC");
        assert_eq!(&r[28..32], &p.ip, "address from the file");
        p.ping(1, b"configured").unwrap();
    }
    let addr = vm.console().command("ip addr").unwrap();
    assert!(addr.contains("lan   10.1.0.1/16"), "{addr}");
    assert!(addr.contains("wan   198.51.100.1/24"), "{addr}");
    let links = vm.console().command("ip link").unwrap();
    assert!(links.starts_with("lan   e1000"), "{links}");
    let pci = vm.console().command("pci").unwrap();
    assert!(
        pci.lines()
            .any(|l| l.contains("1af4:1005") && l.contains("virtio-rng")),
        "{pci}"
    );
}

#[test]
fn a_broken_config_is_reported_by_line_and_the_command_line_address_is_used() {
    let lan = Port::new(
        [0x52, 0x54, 0, 0x12, 0x37, 0x01],
        [192, 168, 10, 1],
        [192, 168, 10, 2],
    );
    let path = config_file(
        "bad",
        "[Interface]\nPrivateKey = not-a-key\n[LAN]\nAddress = 300.1.1.1/24\n",
    );
    let mut vm = QemuBuilder::new()
        .memory("128M")
        .append("lan=192.168.10.1/24")
        .initrd(&path)
        .netdev_dgram("n0", &lan.link)
        .device(&format!("e1000,netdev=n0,mac={}", lan.mac_text()))
        .spawn()
        .unwrap();
    let log = vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(log.contains("config: line 2:"), "{log}");
    assert!(log.contains("config: line 4:"), "{log}");
    lan.arp().unwrap();
    lan.ping(1, b"fallback").unwrap();
}
