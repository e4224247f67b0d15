//! Sorting frames received on the LAN port.
//!
//! One look at each frame decides where it goes: ARP to the neighbour table
//! and host stack, IPv4 addressed to the appliance to its host stack, IPv4
//! for elsewhere to the forwarding path (with its validated header, so the
//! forwarder does not parse it again), IPv6 set apart (the first version does
//! not forward it), everything else refused with a reason to count.
//!
//! Broadcast and multicast: WireGuard carries unicast IP, and a gateway must
//! not flood a LAN's broadcasts into the tunnel. So IPv4 to 255.255.255.255
//! or to the LAN's subnet broadcast goes to the host stack (which drops what
//! it does not want), IPv4 multicast is refused as not forwarded, and a
//! unicast IP packet that arrived in a link-layer broadcast or multicast
//! frame is refused too (RFC 1812 section 5.3.4: a router should not forward
//! it). Frames to another unicast MAC (a NIC in promiscuous mode) are not
//! for us.

use core::net::Ipv4Addr;

use super::ether::{self, FrameError, Mac};
use super::ipv4::{self, Ipv4Info};

/// The appliance's identity on the LAN port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanIdentity<'a> {
    /// The LAN port's MAC.
    pub mac: Mac,
    /// The LAN address.
    pub ip: Ipv4Addr,
    /// The LAN subnet's prefix length (for its broadcast address).
    pub prefix_len: u8,
    /// The appliance's other addresses a LAN host may talk to (tunnel, WAN).
    pub other_ips: &'a [Ipv4Addr],
}

impl LanIdentity<'_> {
    /// The LAN subnet's directed broadcast address (none for /31 and /32).
    pub fn subnet_broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        let host = u32::MAX >> self.prefix_len.min(32);
        Some(Ipv4Addr::from(u32::from(self.ip) | host))
    }

    fn is_ours(&self, dst: Ipv4Addr) -> bool {
        dst == self.ip
            || self.other_ips.contains(&dst)
            || dst.is_broadcast()
            || self.subnet_broadcast() == Some(dst)
    }
}

/// What a frame received on the LAN port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanFrame {
    /// ARP.
    Arp,
    /// IPv4 for the appliance itself (or broadcast): host stack.
    Local,
    /// IPv4 to be forwarded; the header at offset 14 is valid.
    Forward(Ipv4Info),
    /// IPv6 (not forwarded by the first version; the host stack may want it).
    Ipv6,
    /// Unicast to another MAC.
    NotForUs,
    /// Refused, with the reason to count.
    Refused(FrameError),
}

/// Classifies a frame received on the LAN port.
pub fn classify_lan(frame: &[u8], us: &LanIdentity<'_>) -> LanFrame {
    if frame.len() < ether::HEADER_LEN {
        return LanFrame::Refused(FrameError::TooShort);
    }
    let dst_mac = ether::dst_mac(frame);
    let group = ether::is_group(&dst_mac);
    if dst_mac != us.mac && !group {
        return LanFrame::NotForUs;
    }
    match ether::ethertype(frame) {
        ether::ETHERTYPE_ARP => return LanFrame::Arp,
        ether::ETHERTYPE_IPV6 => return LanFrame::Ipv6,
        ether::ETHERTYPE_IPV4 => {}
        other => return LanFrame::Refused(FrameError::UnsupportedEthertype(other)),
    }
    let info = match ipv4::validate(&frame[ether::HEADER_LEN..]) {
        Ok(i) => i,
        Err(e) => return LanFrame::Refused(FrameError::Ipv4(e)),
    };
    if us.is_ours(info.dst) {
        LanFrame::Local
    } else if info.dst.is_multicast() || group {
        LanFrame::Refused(FrameError::NotForwarded)
    } else {
        LanFrame::Forward(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::ipv4::Ipv4Error;
    use crate::gateway::pcap;

    const TUNNEL: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(198, 51, 100, 1)];

    /// Router R of the captures (see testdata/README.md) as the appliance.
    fn r() -> LanIdentity<'static> {
        LanIdentity {
            mac: [0x52, 0x54, 0, 0x0a, 0, 0x01],
            ip: Ipv4Addr::new(192, 168, 10, 1),
            prefix_len: 24,
            other_ips: &TUNNEL,
        }
    }

    fn with_dst(frame: &[u8], dst: [u8; 4], dst_mac: Option<Mac>) -> alloc::vec::Vec<u8> {
        let mut f = frame.to_vec();
        f[30..34].copy_from_slice(&dst);
        f[24..26].copy_from_slice(&[0, 0]);
        let c = crate::gateway::checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        if let Some(m) = dst_mac {
            f[0..6].copy_from_slice(&m);
        }
        f
    }

    #[test]
    fn real_frames_from_a_lan_host() {
        let f = pcap::router();
        assert_eq!(classify_lan(f[1], &r()), LanFrame::Arp);
        assert_eq!(classify_lan(f[2], &r()), LanFrame::NotForUs); // R's reply, to A's MAC
        assert_eq!(classify_lan(f[3], &r()), LanFrame::Local); // ping to R
        match classify_lan(f[5], &r()) {
            LanFrame::Forward(info) => {
                assert_eq!(info.dst, Ipv4Addr::new(10, 20, 0, 5));
                assert_eq!(info.ttl, 1);
            }
            other => panic!("{other:?}"),
        }
        match classify_lan(f[7], &r()) {
            LanFrame::Forward(info) => assert!(info.dont_fragment && info.total_len == 1500),
            other => panic!("{other:?}"),
        }
        // Frame 0 is A's IPv6 router solicitation.
        assert_eq!(classify_lan(f[0], &r()), LanFrame::Ipv6);
    }

    #[test]
    fn own_addresses_and_broadcasts_are_local() {
        let echo = pcap::router()[3];
        for dst in [
            [10, 99, 0, 1],
            [198, 51, 100, 1],
            [255, 255, 255, 255],
            [192, 168, 10, 255],
        ] {
            let f = with_dst(echo, dst, Some(ether::BROADCAST));
            assert_eq!(classify_lan(&f, &r()), LanFrame::Local, "{dst:?}");
        }
        assert_eq!(
            r().subnet_broadcast(),
            Some(Ipv4Addr::new(192, 168, 10, 255))
        );
        let p2p = LanIdentity {
            prefix_len: 31,
            ..r()
        };
        assert_eq!(p2p.subnet_broadcast(), None);
    }

    #[test]
    fn broadcast_and_multicast_are_not_forwarded() {
        let echo = pcap::router()[3];
        let mcast = with_dst(echo, [239, 1, 1, 1], Some([0x01, 0x00, 0x5e, 1, 1, 1]));
        assert_eq!(
            classify_lan(&mcast, &r()),
            LanFrame::Refused(FrameError::NotForwarded)
        );
        let l2_bcast = with_dst(echo, [10, 20, 0, 5], Some(ether::BROADCAST));
        assert_eq!(
            classify_lan(&l2_bcast, &r()),
            LanFrame::Refused(FrameError::NotForwarded)
        );
    }

    #[test]
    fn refuses_broken_frames() {
        let echo = pcap::router()[3];
        assert_eq!(
            classify_lan(&echo[..10], &r()),
            LanFrame::Refused(FrameError::TooShort)
        );
        let mut f = echo.to_vec();
        f[14 + 8] = 0; // TTL changed without the checksum
        assert_eq!(
            classify_lan(&f, &r()),
            LanFrame::Refused(FrameError::Ipv4(Ipv4Error::BadChecksum))
        );
        let mut f = echo.to_vec();
        f[12..14].copy_from_slice(&[0x81, 0x00]); // VLAN tag
        assert_eq!(
            classify_lan(&f, &r()),
            LanFrame::Refused(FrameError::UnsupportedEthertype(0x8100))
        );
    }

    proptest::proptest! {
        #[test]
        fn random_frames_never_panic(frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = classify_lan(&frame, &r());
            let mut f = frame.clone();
            if f.len() >= 14 {
                // Steer half the cases into the IPv4 path.
                f[0..6].copy_from_slice(&r().mac);
                f[12..14].copy_from_slice(&[0x08, 0x00]);
            }
            let _ = classify_lan(&f, &r());
        }
    }
}
