//! The outer headers of the tunnel: writing Ethernet + IPv4 + UDP in front of
//! a WireGuard datagram, and taking a WAN frame apart on receive.
//!
//! Transmit is in place: the WireGuard message already sits in the packet
//! buffer, and its 42 bytes of outer headers go into the headroom in front
//! of it, so the buffer the LAN NIC filled is the one the WAN NIC sends.
//! The UDP checksum is zero, which RFC 768 allows over IPv4: WireGuard's
//! AEAD tag already authenticates every byte that matters, and skipping the
//! checksum saves a pass over the payload. DF is set (RFC 6864 then lets
//! the ID be anything; it still comes from a counter), TTL 64.
//!
//! Receive sorts a WAN frame into: ARP, a WireGuard datagram for the engine
//! (UDP to our address and listen port), other IPv4 for the appliance's own
//! host stack, not for us, or refused with a reason. The UDP checksum of
//! incoming WireGuard traffic is not verified, for the same reason: a
//! corrupted datagram fails its AEAD tag and is counted there.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::ether::{self, FrameError, Mac};
use super::ipv4::{self, PROTO_UDP};

/// Ethernet + IPv4 + UDP.
pub const OUTER_LEN: usize = ether::HEADER_LEN + ipv4::HEADER_LEN + UDP_HEADER_LEN;
/// The UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// TTL of outer packets.
const TTL: u8 = 64;

/// Where an encapsulated datagram goes: link-layer next hop and UDP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterPath {
    /// The WAN port's MAC.
    pub src_mac: Mac,
    /// The next hop's MAC (the WAN gateway, or the endpoint when on-link).
    pub dst_mac: Mac,
    /// The appliance's WAN address and listen port.
    pub src: SocketAddrV4,
    /// The peer's endpoint.
    pub dst: SocketAddrV4,
}

/// IPv4 identification values for outer packets: a wrapping counter.
#[derive(Debug, Default, Clone, Copy)]
pub struct IpId(u16);

impl IpId {
    /// A counter starting at `seed` (from the entropy source, so IDs are not
    /// predictable across reboots).
    pub fn new(seed: u16) -> IpId {
        IpId(seed)
    }

    /// The next ID.
    #[inline]
    pub fn next_id(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// Why outer headers could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncapError {
    /// Fewer than [`OUTER_LEN`] bytes of headroom before `start`.
    NoHeadroom,
    /// `start + len` lies past the end of the buffer.
    OutOfBounds,
    /// The datagram would exceed IPv4's 65535-byte total length.
    TooLong,
}

/// Writes outer Ethernet, IPv4 and UDP headers in front of the WireGuard
/// datagram at `buf[start..start + len]`; returns the frame's new `(start, len)`.
pub fn write_outer(
    buf: &mut [u8],
    start: usize,
    len: usize,
    path: &OuterPath,
    id: u16,
) -> Result<(usize, usize), EncapError> {
    if start.checked_add(len).is_none_or(|end| end > buf.len()) {
        return Err(EncapError::OutOfBounds);
    }
    let new_start = start.checked_sub(OUTER_LEN).ok_or(EncapError::NoHeadroom)?;
    let udp_len = len + UDP_HEADER_LEN;
    let ip_len = udp_len + ipv4::HEADER_LEN;
    if ip_len > u16::MAX as usize {
        return Err(EncapError::TooLong);
    }
    let h = &mut buf[new_start..start];
    ether::write_header(h, &path.dst_mac, &path.src_mac, ether::ETHERTYPE_IPV4);
    let ip = &mut h[ether::HEADER_LEN..];
    ipv4::write_header(
        ip,
        0,
        ip_len as u16,
        id,
        true,
        TTL,
        PROTO_UDP,
        *path.src.ip(),
        *path.dst.ip(),
    );
    let udp = &mut ip[ipv4::HEADER_LEN..];
    udp[0..2].copy_from_slice(&path.src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&path.dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]); // RFC 768: no checksum.
    Ok((new_start, len + OUTER_LEN))
}

/// The appliance's identity on the WAN port, for receive classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WanIdentity {
    /// The WAN port's MAC.
    pub mac: Mac,
    /// The WAN address; `None` while DHCP has not yet supplied one.
    pub ip: Option<Ipv4Addr>,
    /// The WireGuard listen port.
    pub listen_port: u16,
}

/// What a frame received on the WAN port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WanFrame {
    /// ARP: for the neighbour table and the host stack.
    Arp,
    /// A UDP datagram to our address and listen port: for the WireGuard engine.
    WireGuard {
        /// Where it came from (the peer's current endpoint).
        from: SocketAddrV4,
        /// Offset of the UDP payload in the frame.
        offset: usize,
        /// Length of the UDP payload.
        len: usize,
    },
    /// Other IPv4 for the appliance itself (ICMP echo, DHCP, ...): host stack.
    Local,
    /// Unicast to another MAC or IPv4 address.
    NotForUs,
    /// Refused, with the reason to count.
    Refused(FrameError),
}

/// Classifies a frame received on the WAN port.
pub fn classify_wan(frame: &[u8], us: &WanIdentity) -> WanFrame {
    if frame.len() < ether::HEADER_LEN {
        return WanFrame::Refused(FrameError::TooShort);
    }
    let dst_mac = ether::dst_mac(frame);
    if dst_mac != us.mac && !ether::is_group(&dst_mac) {
        return WanFrame::NotForUs;
    }
    match ether::ethertype(frame) {
        ether::ETHERTYPE_ARP => return WanFrame::Arp,
        ether::ETHERTYPE_IPV4 => {}
        other => return WanFrame::Refused(FrameError::UnsupportedEthertype(other)),
    }
    let ip = &frame[ether::HEADER_LEN..];
    let info = match ipv4::validate(ip) {
        Ok(i) => i,
        Err(e) => return WanFrame::Refused(FrameError::Ipv4(e)),
    };
    let Some(our_ip) = us.ip else {
        // Before DHCP has run, everything IPv4 to our MAC or broadcast is
        // the host stack's (DHCP offers may go to the offered address).
        return WanFrame::Local;
    };
    if info.dst != our_ip {
        return if info.dst.is_broadcast() {
            WanFrame::Local
        } else {
            WanFrame::NotForUs
        };
    }
    if info.protocol != PROTO_UDP {
        return WanFrame::Local;
    }
    if info.is_fragment() {
        return WanFrame::Refused(FrameError::Fragment);
    }
    let udp = &ip[info.header_len..info.total_len];
    if udp.len() < UDP_HEADER_LEN {
        return WanFrame::Refused(FrameError::BadUdp);
    }
    let udp_len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
    if udp_len < UDP_HEADER_LEN || udp_len > udp.len() {
        return WanFrame::Refused(FrameError::BadUdp);
    }
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    if dst_port != us.listen_port {
        return WanFrame::Local;
    }
    let src_port = u16::from_be_bytes([udp[0], udp[1]]);
    WanFrame::WireGuard {
        from: SocketAddrV4::new(info.src, src_port),
        offset: ether::HEADER_LEN + info.header_len + UDP_HEADER_LEN,
        len: udp_len - UDP_HEADER_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::ipv4::Ipv4Error;
    use crate::gateway::pcap;
    use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpAddress, Ipv4Packet, UdpPacket};

    const WAN_MAC: Mac = [0x52, 0x54, 0, 0, 0, 0x02];
    const GW_MAC: Mac = [0x52, 0x54, 0, 0, 0, 0xfe];

    fn path() -> OuterPath {
        OuterPath {
            src_mac: WAN_MAC,
            dst_mac: GW_MAC,
            src: "198.51.100.1:51820".parse().unwrap(),
            dst: "203.0.113.7:41414".parse().unwrap(),
        }
    }

    fn us() -> WanIdentity {
        WanIdentity {
            mac: WAN_MAC,
            ip: Some(Ipv4Addr::new(198, 51, 100, 1)),
            listen_port: 51820,
        }
    }

    /// A 2 KiB buffer with a WireGuard keepalive-sized message (32 bytes,
    /// type 4) at offset 128, as the engine would leave it.
    fn buffer_with_message() -> ([u8; 2048], usize, usize) {
        let mut buf = [0u8; 2048];
        let msg: [u8; 32] = core::array::from_fn(|i| if i == 0 { 4 } else { i as u8 });
        buf[128..160].copy_from_slice(&msg);
        (buf, 128, 32)
    }

    #[test]
    fn writes_headers_smoltcp_accepts() {
        let (mut buf, start, len) = buffer_with_message();
        let (s, l) = write_outer(&mut buf, start, len, &path(), 0x4242).unwrap();
        assert_eq!((s, l), (128 - 42, 32 + 42));
        let frame = EthernetFrame::new_checked(&buf[s..s + l]).unwrap();
        assert_eq!(frame.dst_addr().0, GW_MAC);
        assert_eq!(frame.src_addr().0, WAN_MAC);
        assert_eq!(frame.ethertype(), EthernetProtocol::Ipv4);
        let ip = Ipv4Packet::new_checked(frame.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert!(ip.dont_frag());
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(ip.ident(), 0x4242);
        assert_eq!(ip.total_len(), 60);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((udp.src_port(), udp.dst_port()), (51820, 41414));
        assert_eq!(udp.checksum(), 0);
        // A zero UDP checksum counts as valid (RFC 768).
        let (src, dst) = (
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
        );
        assert!(udp.verify_checksum(&src, &dst));
        assert_eq!(udp.payload(), &buffer_with_message().0[128..160]);
    }

    #[test]
    fn refuses_without_room() {
        let (mut buf, _, len) = buffer_with_message();
        assert_eq!(
            write_outer(&mut buf, 41, len, &path(), 1),
            Err(EncapError::NoHeadroom)
        );
        assert_eq!(
            write_outer(&mut buf, 2040, 9, &path(), 1),
            Err(EncapError::OutOfBounds)
        );
        assert_eq!(
            write_outer(&mut buf, 42, usize::MAX, &path(), 1),
            Err(EncapError::OutOfBounds)
        );
        let mut big = alloc::vec![0u8; 70_000];
        assert_eq!(
            write_outer(&mut big, 100, 65_510, &path(), 1),
            Err(EncapError::TooLong)
        );
    }

    #[test]
    fn ids_count_and_wrap() {
        let mut id = IpId::new(u16::MAX - 1);
        assert_eq!(id.next_id(), u16::MAX);
        assert_eq!(id.next_id(), 0);
    }

    #[test]
    fn what_we_send_the_peer_classifies_back() {
        // Swap the roles: the frame we built, as the peer would send it to us.
        let (mut buf, start, len) = buffer_with_message();
        let p = path();
        let back = OuterPath {
            src_mac: p.dst_mac,
            dst_mac: p.src_mac,
            src: p.dst,
            dst: p.src,
        };
        let (s, l) = write_outer(&mut buf, start, len, &back, 7).unwrap();
        let frame = &buf[s..s + l];
        assert_eq!(
            classify_wan(frame, &us()),
            WanFrame::WireGuard {
                from: "203.0.113.7:41414".parse().unwrap(),
                offset: 42,
                len: 32
            }
        );
        // Another listen port: the host stack's business.
        let other = WanIdentity {
            listen_port: 51821,
            ..us()
        };
        assert_eq!(classify_wan(frame, &other), WanFrame::Local);
        // Another unicast MAC: not for us.
        let mac = WanIdentity {
            mac: [2, 0, 0, 0, 0, 9],
            ..us()
        };
        assert_eq!(classify_wan(frame, &mac), WanFrame::NotForUs);
        // Another IP: not for us.
        let ip = WanIdentity {
            ip: Some(Ipv4Addr::new(198, 51, 100, 2)),
            ..us()
        };
        assert_eq!(classify_wan(frame, &ip), WanFrame::NotForUs);
        // Before DHCP: host stack.
        assert_eq!(
            classify_wan(frame, &WanIdentity { ip: None, ..us() }),
            WanFrame::Local
        );
    }

    #[test]
    fn refuses_broken_frames() {
        let (mut buf, start, len) = buffer_with_message();
        let back = OuterPath {
            src_mac: GW_MAC,
            dst_mac: WAN_MAC,
            src: "203.0.113.7:41414".parse().unwrap(),
            dst: "198.51.100.1:51820".parse().unwrap(),
        };
        let (s, l) = write_outer(&mut buf, start, len, &back, 7).unwrap();
        let good = buf[s..s + l].to_vec();
        let refused = |f: &[u8]| classify_wan(f, &us());
        assert_eq!(
            refused(&good[..13]),
            WanFrame::Refused(FrameError::TooShort)
        );
        let mut f = good.clone();
        f[14 + 15] ^= 1; // corrupt the source address: bad header checksum
        assert_eq!(
            refused(&f),
            WanFrame::Refused(FrameError::Ipv4(Ipv4Error::BadChecksum))
        );
        let mut f = good.clone();
        f[14 + 20 + 5] = 80; // UDP length beyond the datagram
        assert_eq!(refused(&f), WanFrame::Refused(FrameError::BadUdp));
        let mut f = good.clone();
        f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&[0, 4]); // UDP length < 8
        assert_eq!(refused(&f), WanFrame::Refused(FrameError::BadUdp));
        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(
            refused(&f),
            WanFrame::Refused(FrameError::UnsupportedEthertype(0x86dd))
        );
        // A first fragment to our port: refused, counted as a fragment.
        let mut f = good.clone();
        f[14 + 6] = 0x20; // MF
        f[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
        let c = crate::gateway::checksum::checksum(&f[14..34]);
        f[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(refused(&f), WanFrame::Refused(FrameError::Fragment));
    }

    #[test]
    fn real_arp_and_icmp_frames() {
        let r = pcap::router();
        // R's view: its LAN port plays the WAN port here.
        let me = WanIdentity {
            mac: [0x52, 0x54, 0, 0x0a, 0, 0x01],
            ip: Some(Ipv4Addr::new(192, 168, 10, 1)),
            listen_port: 51820,
        };
        assert_eq!(classify_wan(r[1], &me), WanFrame::Arp);
        assert_eq!(classify_wan(r[3], &me), WanFrame::Local);
        // The TTL-1 echo is routed through R, not addressed to it.
        assert_eq!(classify_wan(r[5], &me), WanFrame::NotForUs);
        // R's own reply goes to A's MAC.
        assert_eq!(classify_wan(r[4], &me), WanFrame::NotForUs);
    }

    proptest::proptest! {
        #[test]
        fn random_frames_never_panic(frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = classify_wan(&frame, &us());
            let mut f = frame.clone();
            if f.len() >= 34 {
                // Steer into the UDP path with a valid IPv4 header checksum.
                f[0..6].copy_from_slice(&WAN_MAC);
                f[12..14].copy_from_slice(&[0x08, 0x00]);
                f[14] = 0x45;
                f[23] = 17;
                f[30..34].copy_from_slice(&[198, 51, 100, 1]);
                f[24..26].copy_from_slice(&[0, 0]);
                let c = crate::gateway::checksum::checksum(&f[14..34]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
            }
            if let WanFrame::WireGuard { offset, len, .. } = classify_wan(&f, &us()) {
                proptest::prop_assert!(offset + len <= f.len());
            }
        }
    }
}
