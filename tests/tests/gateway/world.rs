//! The test's side of the gateway: a LAN host and a remote WireGuard peer
//! (boringtun 0.7 `noise::Tunn`) behind the appliance's two NICs.
//!
//! Both NICs sit on `-netdev dgram` links whose other ends are this
//! process's sockets, one raw Ethernet frame per datagram. [`World::pump`]
//! serves both links from one thread: it answers ARP for the LAN host
//! (192.168.10.2) and the peer (198.51.100.2), decrypts what the appliance
//! sends the peer, answers pings on both sides when asked to (as real hosts
//! would), and keeps what arrives for the steps to check. Packets are laid
//! out byte by byte from RFC 791 (IPv4), RFC 768 (UDP), RFC 792 (ICMP),
//! RFC 793 (TCP) and RFC 826 (ARP).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use ringwall_tests::frames::{checksum, Port, PEER_MAC};
use ringwall_tests::{Qemu, QemuBuilder, BOOT_TIMEOUT};

/// The appliance's LAN NIC.
pub const LAN_MAC: [u8; 6] = [0x52, 0x54, 0, 0x0a, 0, 1];
/// The appliance's WAN NIC.
pub const WAN_MAC: [u8; 6] = [0x52, 0x54, 0, 0x64, 0, 1];
/// The LAN host (the test).
pub const HOST: [u8; 4] = [192, 168, 10, 2];
/// The appliance on the LAN.
pub const GW_LAN: [u8; 4] = [192, 168, 10, 1];
/// The appliance on the WAN.
pub const GW_WAN: [u8; 4] = [198, 51, 100, 1];
/// The peer's WAN address.
pub const PEER: [u8; 4] = [198, 51, 100, 2];
/// A host behind the peer (inside its AllowedIPs 10.20.0.0/16).
pub const REMOTE: [u8; 4] = [10, 20, 0, 5];
/// The appliance's tunnel address.
pub const GW_TUN: [u8; 4] = [10, 99, 0, 1];
/// The appliance's and the peer's WireGuard port.
pub const WG_PORT: u16 = 51820;
/// The tunnel MTU (the default).
pub const MTU: usize = 1420;
/// The appliance's static key: any 32 bytes (X25519 clamps them).
pub const GW_KEY: [u8; 32] = [0x11; 32];
/// The peer's static key.
pub const PEER_KEY: [u8; 32] = [0x22; 32];

/// Standard base64 (RFC 4648 section 4) of a key, for the config file.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The appliance's configuration for the tests.
pub fn config() -> String {
    let peer_pub = PublicKey::from(&StaticSecret::from(PEER_KEY));
    format!(
        "[Interface]\nPrivateKey = {}\nListenPort = {WG_PORT}\nAddress = 10.99.0.1/24\n\n\
         [LAN]\nAddress = 192.168.10.1/24\n\n[WAN]\nAddress = 198.51.100.1/24\n\n\
         [Peer]\nPublicKey = {}\nEndpoint = 198.51.100.2:{WG_PORT}\nAllowedIPs = 10.20.0.0/16\n",
        base64(&GW_KEY),
        base64(peer_pub.as_bytes())
    )
}

/// A fresh boringtun peer (as after a restart: no session).
pub fn tunn(index: u32) -> Tunn {
    let gw_pub = PublicKey::from(&StaticSecret::from(GW_KEY));
    Tunn::new(
        StaticSecret::from(PEER_KEY),
        gw_pub,
        None,
        None,
        index,
        None,
    )
}

/// An IPv4 packet (RFC 791) with the header checksum filled in.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, df: bool, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![
        0x45,
        0,
        0,
        0,
        0x4a,
        0x11,
        if df { 0x40 } else { 0 },
        0,
        ttl,
        proto,
        0,
        0,
    ];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The TCP/UDP checksum over the pseudo-header (RFC 793 section 3.1).
pub fn l4_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, seg: &[u8]) -> u16 {
    let mut b = Vec::with_capacity(12 + seg.len());
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    b.extend_from_slice(&[0, proto]);
    b.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    b.extend_from_slice(seg);
    checksum(&b)
}

/// A UDP datagram (RFC 768) in IPv4, checksum filled in.
pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, df: bool, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + data.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = match l4_checksum(src, dst, 17, &u) {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 17, 64, df, &u)
}

/// An ICMP echo request (type 8) or reply (type 0) in IPv4.
pub fn echo(src: [u8; 4], dst: [u8; 4], kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 1, 64, false, &m)
}

/// A TCP segment with SYN (and ACK when `ack`) and an MSS option.
pub fn tcp_syn(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, ack: bool, mss: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    t.extend_from_slice(&(if ack { 0x0a0b_0c0du32 } else { 0 }).to_be_bytes());
    // Data offset 6 words (20 + 4 bytes of options), flags SYN (| ACK).
    t.extend_from_slice(&[0x60, if ack { 0x12 } else { 0x02 }, 0xfa, 0xf0, 0, 0, 0, 0]);
    t.extend_from_slice(&[2, 4]);
    t.extend_from_slice(&mss.to_be_bytes());
    let c = l4_checksum(src, dst, 6, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 6, 64, true, &t)
}

/// The MSS option of the TCP segment in IPv4 packet `p`, and whether the
/// segment's checksum verifies.
pub fn tcp_mss(p: &[u8]) -> Option<(u16, bool)> {
    let ihl = usize::from(p.first()? & 15) * 4;
    let seg = p.get(ihl..)?;
    let off = usize::from(seg.get(12)? >> 4) * 4;
    let opts = seg.get(20..off)?;
    let src = p[12..16].try_into().ok()?;
    let dst = p[16..20].try_into().ok()?;
    let ok = l4_checksum(src, dst, 6, seg) == 0;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            2 => return Some((u16::from_be_bytes([opts[i + 2], opts[i + 3]]), ok)),
            _ => i += usize::from(*opts.get(i + 1)?).max(2),
        }
    }
    None
}

/// The appliance with its two NICs, the LAN host and the peer.
pub struct World {
    /// The appliance.
    pub vm: Qemu,
    /// The LAN link (the appliance's LAN NIC and the host).
    pub lan: Port,
    /// The WAN link (the appliance's WAN NIC and the peer).
    pub wan: Port,
    /// The peer.
    pub bt: Tunn,
    /// The peer's UDP source port (changes when it roams).
    pub peer_port: u16,
    /// IPv4 packets the appliance sent the LAN host (Ethernet stripped).
    pub to_lan: VecDeque<Vec<u8>>,
    /// Packets the peer decrypted.
    pub to_peer: VecDeque<Vec<u8>>,
    /// The LAN host answers echo requests addressed to it.
    pub host_answers_ping: bool,
    /// The remote host answers echo requests to 10.20.0.5.
    pub remote_answers_ping: bool,
    /// Handshake responses (type 2) the appliance sent.
    pub responses_seen: u32,
    /// Handshake initiations (type 1) the appliance sent.
    pub initiations_seen: u32,
    /// The UDP destination port of the appliance's last WireGuard datagram.
    pub last_dst_port: u16,
    /// Datagrams boringtun could not decapsulate.
    pub decap_errors: u32,
    last_timers: Instant,
}

impl World {
    /// The world around a booted appliance.
    pub fn new(vm: Qemu, lan: Port, wan: Port) -> World {
        lan.link.socket.set_nonblocking(true).unwrap();
        wan.link.socket.set_nonblocking(true).unwrap();
        World {
            vm,
            lan,
            wan,
            bt: tunn(7),
            peer_port: WG_PORT,
            to_lan: VecDeque::new(),
            to_peer: VecDeque::new(),
            host_answers_ping: true,
            remote_answers_ping: true,
            responses_seen: 0,
            initiations_seen: 0,
            last_dst_port: 0,
            decap_errors: 0,
            last_timers: Instant::now(),
        }
    }

    /// Sends an IPv4 packet from the LAN host to the appliance's LAN MAC.
    pub fn lan_send(&self, ip: &[u8]) {
        let mut f = LAN_MAC.to_vec();
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(ip);
        self.lan.send(&f);
    }

    /// Sends a WireGuard datagram from the peer to the appliance.
    pub fn wan_send_dgram(&self, dgram: &[u8]) {
        let mut u = Vec::new();
        u.extend_from_slice(&self.peer_port.to_be_bytes());
        u.extend_from_slice(&WG_PORT.to_be_bytes());
        u.extend_from_slice(&((8 + dgram.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(dgram);
        let ip = ipv4(PEER, GW_WAN, 17, 64, false, &u);
        let mut f = WAN_MAC.to_vec();
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        self.wan.send(&f);
    }

    /// Encrypts `inner` with the peer's session and returns the datagram
    /// (None when boringtun queued it behind a handshake it sent instead).
    pub fn seal(&mut self, inner: &[u8]) -> Option<Vec<u8>> {
        let mut dst = vec![0u8; inner.len() + 256];
        match self.bt.encapsulate(inner, &mut dst) {
            TunnResult::WriteToNetwork(d) => {
                let d = d.to_vec();
                // A handshake initiation (type 1) means the packet waits.
                if d.first() == Some(&1) {
                    self.wan_send_dgram(&d);
                    return None;
                }
                Some(d)
            }
            TunnResult::Err(e) => panic!("boringtun encapsulate: {e:?}"),
            _ => None,
        }
    }

    /// The peer sends `inner` through the tunnel.
    pub fn peer_send(&mut self, inner: &[u8]) {
        if let Some(d) = self.seal(inner) {
            self.wan_send_dgram(&d);
        }
    }

    /// Pumps until a LAN packet matches `want` (taken out) or `timeout`.
    pub fn wait_lan(&mut self, timeout: Duration, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        self.wait(timeout, true, want)
    }

    /// Pumps until a packet the peer decrypted matches `want` or `timeout`.
    pub fn wait_peer(
        &mut self,
        timeout: Duration,
        want: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        self.wait(timeout, false, want)
    }

    fn wait(
        &mut self,
        timeout: Duration,
        lan: bool,
        want: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        let end = Instant::now() + timeout;
        loop {
            let q = if lan {
                &mut self.to_lan
            } else {
                &mut self.to_peer
            };
            if let Some(i) = q.iter().position(|p| want(p)) {
                return q.remove(i);
            }
            if Instant::now() >= end {
                return None;
            }
            if !self.step() {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    }

    /// One round over both sockets and boringtun's timers; true if any
    /// frame came in.
    fn step(&mut self) -> bool {
        let mut busy = false;
        let mut buf = vec![0u8; 65536];
        for _ in 0..64 {
            match self.lan.link.socket.recv(&mut buf) {
                Ok(n) => {
                    busy = true;
                    let f = buf[..n].to_vec();
                    self.on_lan(&f);
                }
                Err(_) => break,
            }
        }
        for _ in 0..64 {
            match self.wan.link.socket.recv(&mut buf) {
                Ok(n) => {
                    busy = true;
                    let f = buf[..n].to_vec();
                    self.on_wan(&f);
                }
                Err(_) => break,
            }
        }
        if self.last_timers.elapsed() > Duration::from_millis(100) {
            self.last_timers = Instant::now();
            let mut dst = vec![0u8; 2048];
            if let TunnResult::WriteToNetwork(d) = self.bt.update_timers(&mut dst) {
                let d = d.to_vec();
                self.wan_send_dgram(&d);
            }
        }
        busy
    }

    fn on_lan(&mut self, f: &[u8]) {
        if let Some(reply) = arp_reply_for(f, HOST, LAN_MAC) {
            self.lan.send(&reply);
            return;
        }
        if f.len() < 34 || f[12..14] != [8, 0] || f[0..6] != PEER_MAC {
            return;
        }
        let ip = f[14..].to_vec();
        // An echo request to the host: answer it like a host would.
        if self.host_answers_ping && ip[9] == 1 && ip[16..20] == HOST && ip.get(20) == Some(&8) {
            let src: [u8; 4] = ip[12..16].try_into().unwrap();
            let id = u16::from_be_bytes([ip[24], ip[25]]);
            let seq = u16::from_be_bytes([ip[26], ip[27]]);
            self.lan_send(&echo(HOST, src, 0, id, seq, &ip[28..]));
        }
        self.to_lan.push_back(ip);
    }

    fn on_wan(&mut self, f: &[u8]) {
        if let Some(reply) = arp_reply_for(f, PEER, WAN_MAC) {
            self.wan.send(&reply);
            return;
        }
        // IPv4 UDP from the appliance to the peer's WireGuard port.
        if f.len() < 42 || f[12..14] != [8, 0] || f[23] != 17 || f[30..34] != PEER {
            return;
        }
        let ihl = usize::from(f[14] & 15) * 4;
        let udp = &f[14 + ihl..];
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let payload = udp[8..].to_vec();
        self.last_dst_port = dport;
        match payload.first() {
            Some(1) => self.initiations_seen += 1,
            Some(2) => self.responses_seen += 1,
            _ => {}
        }
        let mut dst = vec![0u8; 65536];
        let mut input = payload;
        loop {
            let r = self
                .bt
                .decapsulate(Some(IpAddr::V4(Ipv4Addr::from(GW_WAN))), &input, &mut dst);
            match r {
                TunnResult::Done => break,
                TunnResult::Err(_) => {
                    self.decap_errors += 1;
                    break;
                }
                TunnResult::WriteToNetwork(d) => {
                    let d = d.to_vec();
                    self.wan_send_dgram(&d);
                    // boringtun may have more queued: ask again with nothing.
                    input = Vec::new();
                }
                TunnResult::WriteToTunnelV4(p, _) => {
                    let p = p.to_vec();
                    self.on_peer_packet(p);
                    break;
                }
                TunnResult::WriteToTunnelV6(..) => break,
            }
        }
    }

    fn on_peer_packet(&mut self, p: Vec<u8>) {
        // An echo request to the remote host: it answers through the tunnel.
        if self.remote_answers_ping
            && p.len() >= 28
            && p[9] == 1
            && p[16..20] == REMOTE
            && p[20] == 8
        {
            let src: [u8; 4] = p[12..16].try_into().unwrap();
            let id = u16::from_be_bytes([p[24], p[25]]);
            let seq = u16::from_be_bytes([p[26], p[27]]);
            let reply = echo(REMOTE, src, 0, id, seq, &p[28..]);
            self.peer_send(&reply);
        }
        self.to_peer.push_back(p);
    }

    /// Sends `count` pings from `from` side with up to `window` in flight;
    /// returns how many were answered. `lan_side`: the LAN host pings the
    /// remote host; otherwise the remote host pings the LAN host.
    pub fn ping_many(
        &mut self,
        lan_side: bool,
        id: u16,
        count: u16,
        window: u16,
        timeout: Duration,
    ) -> usize {
        let mut answered = std::collections::HashSet::new();
        let mut sent = 0u16;
        let end = Instant::now() + timeout;
        while answered.len() < count as usize && Instant::now() < end {
            while sent < count && usize::from(sent) < answered.len() + usize::from(window) {
                let data = [sent as u8; 56];
                if lan_side {
                    self.lan_send(&echo(HOST, REMOTE, 8, id, sent, &data));
                } else {
                    let p = echo(REMOTE, HOST, 8, id, sent, &data);
                    self.peer_send(&p);
                }
                sent += 1;
            }
            let is_reply = |p: &[u8]| {
                p.len() >= 28 && p[9] == 1 && p[20] == 0 && u16::from_be_bytes([p[24], p[25]]) == id
            };
            let got = if lan_side {
                self.wait_lan(Duration::from_millis(50), is_reply)
            } else {
                self.wait_peer(Duration::from_millis(50), is_reply)
            };
            if let Some(p) = got {
                let seq = u16::from_be_bytes([p[26], p[27]]);
                let ok_payload = p[28..] == [seq as u8; 56];
                let ok_sum = checksum(&p[20..]) == 0 && checksum(&p[..20]) == 0;
                if ok_payload && ok_sum {
                    answered.insert(seq);
                }
            }
        }
        answered.len()
    }
}

/// An ARP reply from `ip` (the test, MAC `PEER_MAC`) when `f` asks for it.
fn arp_reply_for(f: &[u8], ip: [u8; 4], to_mac: [u8; 6]) -> Option<Vec<u8>> {
    if f.len() < 42 || f[12..14] != [8, 6] || f[20..22] != [0, 1] || f[38..42] != ip {
        return None;
    }
    let mut r = to_mac.to_vec();
    r.extend_from_slice(&PEER_MAC);
    r.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    r.extend_from_slice(&PEER_MAC);
    r.extend_from_slice(&ip);
    r.extend_from_slice(&f[22..28]);
    r.extend_from_slice(&f[28..32]);
    Some(r)
}

/// Boots the appliance with [`config`] as its module, LAN on virtio-net and
/// WAN on `wan_device`, and waits for `gateway: up` and the prompt. `tag`
/// keeps the config files of concurrently running test binaries apart.
pub fn boot(tag: &str, wan_device: &str) -> World {
    let lan = Port::new(LAN_MAC, GW_LAN, HOST);
    let wan = Port::new(WAN_MAC, GW_WAN, PEER);
    let path = std::env::temp_dir().join(format!(
        "ringwall-{tag}-{}-{wan_device}.conf",
        std::process::id()
    ));
    std::fs::write(&path, config()).unwrap();
    let mut vm: Qemu = QemuBuilder::new()
        .memory("128M")
        .initrd(&path)
        .netdev_dgram("n0", &lan.link)
        .device(&format!("virtio-net-pci,netdev=n0,mac={}", lan.mac_text()))
        .netdev_dgram("n1", &wan.link)
        .device(&format!("{wan_device},netdev=n1,mac={}", wan.mac_text()))
        .spawn()
        .unwrap();
    vm.console().wait_for("gateway: up", BOOT_TIMEOUT).unwrap();
    vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let _ = std::fs::remove_file(path);
    World::new(vm, lan, wan)
}
