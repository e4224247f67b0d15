//! ARP for Ethernet and IPv4 (RFC 826): parsing a received message and
//! building requests, replies and gratuitous announcements.
//!
//! The frames are byte-for-byte what Linux sends (the tests compare against
//! captures), 42 bytes long: padding to Ethernet's 60-byte minimum is left to
//! the NIC (e1000's TCTL.PSP) or its driver, as Linux leaves it.

use core::net::Ipv4Addr;

use smoltcp::wire::{
    ArpHardware, ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr,
};

use super::ether::{self, Mac};

/// Length of an ARP frame (Ethernet header + 28-byte ARP for IPv4).
pub const ARP_FRAME_LEN: usize = ether::HEADER_LEN + 28;

/// The operation of an ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    /// Who has `target_ip`?
    Request,
    /// `sender_ip` is at `sender_mac`.
    Reply,
}

/// An Ethernet/IPv4 ARP message (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpMessage {
    /// Request or reply.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_mac: Mac,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (zero in requests).
    pub target_mac: Mac,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpMessage {
    /// Parses the ARP message of a frame (Ethernet header included).
    pub fn parse(frame: &[u8]) -> Option<ArpMessage> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.ethertype() != EthernetProtocol::Arp {
            return None;
        }
        let arp = ArpPacket::new_checked(eth.payload()).ok()?;
        match ArpRepr::parse(&arp).ok()? {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } => {
                let op = match operation {
                    ArpOperation::Request => ArpOp::Request,
                    ArpOperation::Reply => ArpOp::Reply,
                    _ => return None,
                };
                Some(ArpMessage {
                    op,
                    sender_mac: source_hardware_addr.0,
                    sender_ip: source_protocol_addr,
                    target_mac: target_hardware_addr.0,
                    target_ip: target_protocol_addr,
                })
            }
            _ => None,
        }
    }

    /// Writes this message as a frame to `eth_dst` into `out`; returns its
    /// length, or `None` when `out` is shorter than [`ARP_FRAME_LEN`].
    pub fn emit(&self, eth_dst: Mac, out: &mut [u8]) -> Option<usize> {
        let out = out.get_mut(..ARP_FRAME_LEN)?;
        let mut eth = EthernetFrame::new_unchecked(&mut *out);
        EthernetRepr {
            src_addr: EthernetAddress(self.sender_mac),
            dst_addr: EthernetAddress(eth_dst),
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut eth);
        let mut arp = ArpPacket::new_unchecked(eth.payload_mut());
        ArpRepr::EthernetIpv4 {
            operation: match self.op {
                ArpOp::Request => ArpOperation::Request,
                ArpOp::Reply => ArpOperation::Reply,
            },
            source_hardware_addr: EthernetAddress(self.sender_mac),
            source_protocol_addr: self.sender_ip,
            target_hardware_addr: EthernetAddress(self.target_mac),
            target_protocol_addr: self.target_ip,
        }
        .emit(&mut arp);
        debug_assert_eq!(arp.hardware_type(), ArpHardware::Ethernet);
        Some(ARP_FRAME_LEN)
    }
}

/// Builds a broadcast ARP request for `target_ip` into `out`.
pub fn arp_request(
    out: &mut [u8],
    our_mac: Mac,
    our_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> Option<usize> {
    ArpMessage {
        op: ArpOp::Request,
        sender_mac: our_mac,
        sender_ip: our_ip,
        target_mac: [0; 6],
        target_ip,
    }
    .emit(ether::BROADCAST, out)
}

/// Builds the reply to `request` (which asked for `our_ip`) into `out`.
pub fn arp_reply(
    out: &mut [u8],
    our_mac: Mac,
    our_ip: Ipv4Addr,
    request: &ArpMessage,
) -> Option<usize> {
    ArpMessage {
        op: ArpOp::Reply,
        sender_mac: our_mac,
        sender_ip: our_ip,
        target_mac: request.sender_mac,
        target_ip: request.sender_ip,
    }
    .emit(request.sender_mac, out)
}

/// Builds a gratuitous ARP (an RFC 5227 announcement: a broadcast request
/// with sender and target both our address) into `out`, sent on link up so
/// neighbours update stale entries for our address.
pub fn gratuitous_arp(out: &mut [u8], our_mac: Mac, our_ip: Ipv4Addr) -> Option<usize> {
    arp_request(out, our_mac, our_ip, our_ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::neigh::{NeighTable, NeighTimers, QueuePolicy};
    use crate::gateway::pcap;

    const A_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x14];
    const A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 20);
    const R_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x01];
    const R_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);

    #[test]
    fn arp_frames_match_linux_byte_for_byte() {
        let f = pcap::router();
        let mut out = [0u8; 64];
        let n = arp_request(&mut out, A_MAC, A_IP, R_IP).unwrap();
        assert_eq!(&out[..n], f[1]);
        let req = ArpMessage::parse(f[1]).unwrap();
        assert_eq!(
            req,
            ArpMessage {
                op: ArpOp::Request,
                sender_mac: A_MAC,
                sender_ip: A_IP,
                target_mac: [0; 6],
                target_ip: R_IP
            }
        );
        let n = arp_reply(&mut out, R_MAC, R_IP, &req).unwrap();
        assert_eq!(&out[..n], f[2]);
        assert_eq!(ArpMessage::parse(f[2]).unwrap().op, ArpOp::Reply);
        assert_eq!(arp_request(&mut out[..41], A_MAC, A_IP, R_IP), None);
        assert_eq!(ArpMessage::parse(f[3]), None, "an ICMP frame is not ARP");
        assert_eq!(ArpMessage::parse(&f[1][..30]), None, "truncated");
    }

    #[test]
    fn gratuitous_arp_announces_our_address() {
        let mut out = [0u8; 42];
        let n = gratuitous_arp(&mut out, R_MAC, R_IP).unwrap();
        assert_eq!(ether::dst_mac(&out[..n]), ether::BROADCAST);
        let m = ArpMessage::parse(&out).unwrap();
        assert_eq!(
            (m.op, m.sender_ip, m.target_ip, m.sender_mac),
            (ArpOp::Request, R_IP, R_IP, R_MAC)
        );
        // A neighbour that knew us updates; one that did not, does not learn.
        let mut t: NeighTable<u32, 4> =
            NeighTable::new(4, NeighTimers::default(), QueuePolicy::DropNew);
        assert!(t.learn_from_arp(&m, A_IP, 0).is_none());
        assert_eq!(t.lookup(R_IP), None);
    }
}
