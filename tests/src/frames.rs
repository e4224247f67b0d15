//! Frames for NIC tests: the test's side of an appliance port.
//!
//! A NIC on `-netdev dgram` exchanges raw Ethernet frames with the test
//! through a [`DgramLink`]; [`Port`] lays out ARP requests (RFC 826) and ICMP
//! echo requests (RFC 791 IPv4, RFC 792 ICMP) byte by byte, recognises the
//! appliance's replies, and runs the exchanges the NIC tests repeat (ARP,
//! ping with payload check, many pings with a window). The gateway tests can
//! reuse it for the LAN and WAN sides.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::DgramLink;

/// The test's own MAC on every link.
pub const PEER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xee, 0x00, 0x02];
/// How long one reply may take under TCG on a loaded machine.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// ICMP identifier of the test's pings.
pub const IDENT: u16 = 0x7e57;

/// One appliance port as the test sees it: the link to its NIC, the NIC's
/// pinned MAC and address, and the test's address beside it.
pub struct Port {
    /// The test's end of the NIC's `-netdev dgram`.
    pub link: DgramLink,
    /// The MAC QEMU gives the NIC (pinned with `mac=`).
    pub mac: [u8; 6],
    /// The appliance's address on the port.
    pub ip: [u8; 4],
    /// The test's address on the same subnet.
    pub peer_ip: [u8; 4],
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Port {
    /// A link for a NIC with `mac` at `ip`, the test at `peer_ip`.
    pub fn new(mac: [u8; 6], ip: [u8; 4], peer_ip: [u8; 4]) -> Port {
        let link = DgramLink::new().unwrap();
        link.socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Port {
            link,
            mac,
            ip,
            peer_ip,
        }
    }

    /// The NIC's MAC as QEMU's `mac=` and `ip link` write it.
    pub fn mac_text(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// A broadcast ARP request (RFC 826) for the appliance's address.
    pub fn arp_request(&self) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&self.peer_ip);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&self.ip);
        f
    }

    /// An IPv4 header (20 bytes, checksum filled in) for `payload_len` bytes.
    pub fn ipv4_header(&self, proto: u8, payload_len: usize) -> Vec<u8> {
        let total = (20 + payload_len) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&self.peer_ip);
        ip.extend_from_slice(&self.ip);
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip
    }

    /// An ICMP echo request (RFC 792) from the test to the appliance.
    pub fn echo_request(&self, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = self.mac.to_vec();
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        let mut icmp = vec![8, 0, 0, 0];
        icmp.extend_from_slice(&IDENT.to_be_bytes());
        icmp.extend_from_slice(&seq.to_be_bytes());
        icmp.extend_from_slice(payload);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&self.ipv4_header(1, icmp.len()));
        f.extend_from_slice(&icmp);
        f
    }

    /// Sends one frame into the NIC.
    pub fn send(&self, frame: &[u8]) {
        self.link.send_frame(frame).unwrap();
    }

    /// The next frame from the appliance that `want` accepts, skipping others.
    pub fn recv(&self, timeout: Duration, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            match self.link.socket.recv(&mut buf) {
                Ok(n) if want(&buf[..n]) => return Some(buf[..n].to_vec()),
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("dgram socket: {e}"),
            }
        }
        None
    }

    /// The sequence number of an echo reply to one of our pings, if `f` is one.
    pub fn echo_reply_seq(&self, f: &[u8]) -> Option<u16> {
        let ok = f.len() >= 42
            && f[0..6] == PEER_MAC
            && f[6..12] == self.mac
            && f[12..14] == [0x08, 0x00]
            && f[23] == 1
            && f[26..30] == self.ip
            && f[30..34] == self.peer_ip
            && f[34] == 0
            && f[38..40] == IDENT.to_be_bytes();
        ok.then(|| u16::from_be_bytes([f[40], f[41]]))
    }

    /// Sends ARP requests for the appliance's address until one is answered.
    pub fn arp(&self) -> Result<Vec<u8>, String> {
        for _ in 0..5 {
            self.send(&self.arp_request());
            let reply = self.recv(Duration::from_secs(4), |f| {
                f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 2]
            });
            if let Some(r) = reply {
                return Ok(r);
            }
        }
        Err(format!("no ARP reply from {:?}", self.ip))
    }

    /// One ping; the reply must carry the same payload.
    pub fn ping(&self, seq: u16, payload: &[u8]) -> Result<(), String> {
        self.send(&self.echo_request(seq, payload));
        let reply = self
            .recv(REPLY_TIMEOUT, |f| self.echo_reply_seq(f) == Some(seq))
            .ok_or_else(|| format!("no echo reply for seq {seq}"))?;
        if &reply[42..] != payload {
            return Err(format!("seq {seq}: payload differs: {:02x?}", &reply[42..]));
        }
        let icmp = &reply[34..];
        if checksum(icmp) != 0 {
            return Err(format!("seq {seq}: bad ICMP checksum"));
        }
        Ok(())
    }

    /// Pings until one is answered (after a link flap the first may be lost).
    pub fn ping_eventually(&self, seq: u16) -> Result<(), String> {
        let mut last = String::new();
        for i in 0..10 {
            match self.ping(seq.wrapping_add(i), b"after the flap") {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(format!("ping never answered: {last}"))
    }

    /// `count` pings with up to `window` outstanding; every one must be answered.
    pub fn ping_many(&self, count: u16, window: u16) -> Result<Duration, String> {
        let start = Instant::now();
        let mut answered = HashSet::new();
        let mut sent = 0u16;
        while answered.len() < count as usize {
            while sent < count && sent - (answered.len() as u16) < window {
                let payload = sent.to_be_bytes().repeat(28);
                self.send(&self.echo_request(1000 + sent, &payload));
                sent += 1;
            }
            let reply = self.recv(REPLY_TIMEOUT, |f| self.echo_reply_seq(f).is_some());
            let Some(f) = reply else {
                return Err(format!(
                    "{} of {count} pings answered, then silence",
                    answered.len()
                ));
            };
            let seq = self.echo_reply_seq(&f).unwrap_or(0);
            if !(1000..1000 + count).contains(&seq) {
                return Err(format!("reply to a ping never sent: {seq}"));
            }
            let n = seq - 1000;
            if f[42..] != n.to_be_bytes().repeat(28)[..] {
                return Err(format!("seq {seq}: payload differs"));
            }
            if !answered.insert(seq) {
                return Err(format!("duplicate reply {seq}"));
            }
        }
        Ok(start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc_1071_and_verifies_to_zero() {
        // RFC 1071, 3: the example words 0001 f203 f4f5 f6f7 sum to ddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        let p = Port::new(
            [0x52, 0x54, 0, 1, 2, 3],
            [192, 168, 10, 1],
            [192, 168, 10, 2],
        );
        let f = p.echo_request(5, b"abc");
        assert_eq!(checksum(&f[14..34]), 0, "IPv4 header");
        assert_eq!(checksum(&f[34..]), 0, "ICMP message");
    }

    #[test]
    fn an_echo_reply_is_recognised_by_addresses_ident_and_type() {
        let p = Port::new(
            [0x52, 0x54, 0, 1, 2, 3],
            [192, 168, 10, 1],
            [192, 168, 10, 2],
        );
        let req = p.echo_request(77, b"payload");
        // Turn the request into the reply the appliance would send.
        let mut reply = req.clone();
        reply[0..6].copy_from_slice(&PEER_MAC);
        reply[6..12].copy_from_slice(&p.mac);
        reply[26..30].copy_from_slice(&p.ip);
        reply[30..34].copy_from_slice(&p.peer_ip);
        reply[34] = 0;
        assert_eq!(p.echo_reply_seq(&reply), Some(77));
        assert_eq!(p.echo_reply_seq(&req), None, "a request is not a reply");
        assert_eq!(p.echo_reply_seq(&reply[..40]), None, "too short");
        let arp = p.arp_request();
        assert_eq!(arp.len(), 42);
        assert_eq!(&arp[38..42], &p.ip, "asks for the appliance");
    }
}
