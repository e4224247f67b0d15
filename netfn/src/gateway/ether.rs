//! Ethernet II framing shared by the LAN and WAN classifiers and the header
//! writers: offsets, EtherTypes, and the refusal reasons both sides share.
//!
//! smoltcp's `EthernetFrame` covers the same ground; the hot path here only
//! needs three fields at fixed offsets, so they are read directly and the
//! smoltcp types are used where a whole header is built or checked in tests.

use super::counters::DropReason;
use super::ipv4::Ipv4Error;

/// Destination MAC, source MAC, EtherType (IEEE 802.3 clause 3.2).
pub const HEADER_LEN: usize = 14;
/// EtherType IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The all-ones broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A MAC address.
pub type Mac = [u8; 6];

/// The destination MAC of a frame at least [`HEADER_LEN`] long.
pub fn dst_mac(frame: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[0..6]);
    m
}

/// The source MAC of a frame at least [`HEADER_LEN`] long.
pub fn src_mac(frame: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[6..12]);
    m
}

/// The EtherType of a frame at least [`HEADER_LEN`] long.
pub fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}

/// True for broadcast and multicast (group bit set) addresses.
pub fn is_group(mac: &Mac) -> bool {
    mac[0] & 1 != 0
}

/// Writes an Ethernet header at the start of `out` (at least [`HEADER_LEN`] long).
pub fn write_header(out: &mut [u8], dst: &Mac, src: &Mac, ethertype: u16) {
    out[0..6].copy_from_slice(dst);
    out[6..12].copy_from_slice(src);
    out[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// Why a received frame was refused by a classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than an Ethernet header.
    TooShort,
    /// The IPv4 header is invalid.
    Ipv4(Ipv4Error),
    /// A UDP header that does not fit its IPv4 datagram.
    BadUdp,
    /// An IPv4 fragment where a whole datagram is needed.
    Fragment,
    /// An EtherType the appliance does not handle.
    UnsupportedEthertype(u16),
    /// Broadcast or multicast traffic that must not be forwarded.
    NotForwarded,
}

impl FrameError {
    /// The counter this refusal is dropped under.
    pub fn drop_reason(self) -> DropReason {
        match self {
            FrameError::TooShort => DropReason::BadFrame,
            FrameError::Ipv4(e) => e.drop_reason(),
            FrameError::BadUdp => DropReason::BadUdp,
            FrameError::Fragment => DropReason::Fragment,
            FrameError::UnsupportedEthertype(_) => DropReason::Unsupported,
            FrameError::NotForwarded => DropReason::NotForwarded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_arp_broadcast() {
        let f = crate::gateway::pcap::router();
        let arp = f[1];
        assert_eq!(dst_mac(arp), BROADCAST);
        assert!(is_group(&dst_mac(arp)));
        assert_eq!(src_mac(arp), [0x52, 0x54, 0, 0x0a, 0, 0x14]);
        assert!(!is_group(&src_mac(arp)));
        assert_eq!(ethertype(arp), ETHERTYPE_ARP);
        let mut out = [0u8; 14];
        write_header(&mut out, &dst_mac(arp), &src_mac(arp), ETHERTYPE_ARP);
        assert_eq!(&out, &arp[..14]);
        assert_eq!(
            FrameError::Ipv4(Ipv4Error::BadChecksum).drop_reason(),
            DropReason::BadIpv4Checksum
        );
    }
}
