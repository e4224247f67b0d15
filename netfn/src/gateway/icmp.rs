//! ICMPv4 error messages the gateway sends about packets it cannot forward.
//!
//! Three errors, built into a fresh output buffer from the offending packet:
//! time exceeded (TTL ran out, RFC 792), destination unreachable /
//! fragmentation needed with the next-hop MTU (RFC 1191 section 4), and
//! destination unreachable / host unreachable (ARP for the next hop failed).
//!
//! The quote follows RFC 1812 section 4.3.2.3, as Linux does: as much of the
//! offending packet as fits in a 576-byte error, and at least its header plus
//! 8 bytes. The header uses precedence "internetwork control" (TOS 0xc0,
//! RFC 1812 section 4.3.2.5), TTL 64 and no DF, so the bytes match what a
//! Linux router sends, which the tests check against real captures.
//!
//! RFC 1122 section 3.2.2 (and RFC 1812 section 4.3.2.7) list when no error
//! may be sent; [`build_error`] refuses them: an ICMP error about an ICMP
//! error, a non-first fragment, a source that is not one host (0.0.0.0,
//! loopback, broadcast, multicast, class E), a multicast or limited-broadcast
//! destination. A subnet-directed broadcast destination or a frame that came
//! as a link-layer broadcast is only known to the caller, who must not ask.

use core::net::Ipv4Addr;

use super::checksum;
use super::ipv4::{self, Ipv4Error, PROTO_ICMP};

/// Largest error datagram (RFC 1812 section 4.3.2.3).
pub const MAX_ERROR_LEN: usize = 576;
/// IPv4 header + ICMP header in front of the quote.
pub const ERROR_HEADER_LEN: usize = ipv4::HEADER_LEN + 8;
/// TOS for ICMP errors: precedence 6, internetwork control.
const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;
/// TTL of the errors the appliance originates.
const TTL: u8 = 64;

/// Which error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Type 11 code 0: TTL exceeded in transit.
    TimeExceeded,
    /// Type 3 code 4: fragmentation needed and DF set, with the next-hop MTU.
    FragmentationNeeded {
        /// The MTU the packet must fit (RFC 1191).
        next_hop_mtu: u16,
    },
    /// Type 3 code 1: host unreachable.
    HostUnreachable,
}

impl IcmpError {
    fn type_code(self) -> (u8, u8) {
        match self {
            IcmpError::TimeExceeded => (11, 0),
            IcmpError::FragmentationNeeded { .. } => (3, 4),
            IcmpError::HostUnreachable => (3, 1),
        }
    }
}

/// Why no error was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoIcmp {
    /// The offending packet's header is not valid IPv4.
    Malformed(Ipv4Error),
    /// The offending packet is itself an ICMP error (or too short to tell).
    AboutIcmpError,
    /// The offending packet is a non-first fragment.
    NonFirstFragment,
    /// The source is not a single host.
    SourceNotAHost,
    /// The destination is multicast or the limited broadcast.
    MulticastOrBroadcast,
    /// `out` cannot hold the error.
    BufferTooSmall,
}

/// ICMP types that are errors (RFC 792, RFC 1812 section 4.3.2.7): never
/// answered with another error.
fn is_icmp_error_type(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

fn source_is_a_host(a: Ipv4Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_broadcast()
        || a.is_multicast()
        || a.octets()[0] >= 240)
}

/// Builds the IPv4 datagram of an ICMP error about `offending` (an IPv4
/// packet as received, Ethernet header stripped) into `out`, from `src` (the
/// appliance's address on the port the error leaves by) with IP ID `id`.
/// Returns the datagram length.
pub fn build_error(
    kind: IcmpError,
    offending: &[u8],
    src: Ipv4Addr,
    id: u16,
    out: &mut [u8],
) -> Result<usize, NoIcmp> {
    let info = ipv4::validate(offending).map_err(NoIcmp::Malformed)?;
    if info.fragment_offset != 0 {
        return Err(NoIcmp::NonFirstFragment);
    }
    if !source_is_a_host(info.src) {
        return Err(NoIcmp::SourceNotAHost);
    }
    if info.dst.is_multicast() || info.dst.is_broadcast() {
        return Err(NoIcmp::MulticastOrBroadcast);
    }
    if info.protocol == PROTO_ICMP {
        match offending[..info.total_len].get(info.header_len) {
            Some(t) if !is_icmp_error_type(*t) => {}
            _ => return Err(NoIcmp::AboutIcmpError),
        }
    }
    let quote = info.total_len.min(MAX_ERROR_LEN - ERROR_HEADER_LEN);
    let total = ERROR_HEADER_LEN + quote;
    if out.len() < total {
        return Err(NoIcmp::BufferTooSmall);
    }
    ipv4::write_header(
        out,
        TOS_INTERNETWORK_CONTROL,
        total as u16,
        id,
        false,
        TTL,
        PROTO_ICMP,
        src,
        info.src,
    );
    let icmp = &mut out[ipv4::HEADER_LEN..total];
    let (t, c) = kind.type_code();
    let mtu = match kind {
        IcmpError::FragmentationNeeded { next_hop_mtu } => next_hop_mtu,
        _ => 0,
    };
    icmp[..8].copy_from_slice(&[t, c, 0, 0, 0, 0, (mtu >> 8) as u8, mtu as u8]);
    icmp[8..].copy_from_slice(&offending[..quote]);
    let sum = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::pcap;
    use smoltcp::wire::{Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded};

    const R: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);

    fn ip_of(frame: &[u8]) -> &[u8] {
        &frame[14..]
    }

    fn id_of(ip: &[u8]) -> u16 {
        u16::from_be_bytes([ip[4], ip[5]])
    }

    #[test]
    fn time_exceeded_matches_linux_byte_for_byte() {
        let f = pcap::router();
        let (offending, linux) = (ip_of(f[5]), ip_of(f[6]));
        let mut out = [0u8; 600];
        let n = build_error(
            IcmpError::TimeExceeded,
            offending,
            R,
            id_of(linux),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], linux);
        let icmp = Icmpv4Packet::new_checked(&out[20..n]).unwrap();
        let caps = smoltcp::phy::ChecksumCapabilities::default();
        let repr = Icmpv4Repr::parse(&icmp, &caps).unwrap();
        assert!(matches!(
            repr,
            Icmpv4Repr::TimeExceeded {
                reason: Icmpv4TimeExceeded::TtlExpired,
                ..
            }
        ));
    }

    #[test]
    fn frag_needed_quotes_up_to_576_like_linux() {
        let f = pcap::router();
        let (offending, linux) = (ip_of(f[7]), ip_of(f[8]));
        assert_eq!(offending.len(), 1500);
        let mut out = [0u8; 1500];
        let kind = IcmpError::FragmentationNeeded { next_hop_mtu: 1400 };
        let n = build_error(kind, offending, R, id_of(linux), &mut out).unwrap();
        assert_eq!(n, 576);
        assert_eq!(&out[..n], linux);
        let icmp = Icmpv4Packet::new_checked(&out[20..n]).unwrap();
        assert_eq!(icmp.msg_code(), 4);
        assert!(icmp.verify_checksum());
        assert_eq!(u16::from_be_bytes([out[26], out[27]]), 1400);
    }

    #[test]
    fn host_unreachable_quotes_the_forwarded_packet_like_linux() {
        let f = pcap::router();
        let mut offending = [0u8; 36];
        offending.copy_from_slice(ip_of(f[16]));
        // Linux had already forwarded (TTL 64 -> 63) when ARP failed.
        ipv4::decrement_ttl(&mut offending).unwrap();
        let linux = ip_of(f[18]);
        let mut out = [0u8; 100];
        let n = build_error(
            IcmpError::HostUnreachable,
            &offending,
            R,
            id_of(linux),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], linux);
        let icmp = Icmpv4Packet::new_checked(&out[20..n]).unwrap();
        let caps = smoltcp::phy::ChecksumCapabilities::default();
        assert!(matches!(
            Icmpv4Repr::parse(&icmp, &caps).unwrap(),
            Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::HostUnreachable,
                ..
            }
        ));
    }

    #[test]
    fn refuses_what_rfc1122_forbids() {
        let f = pcap::router();
        let echo = ip_of(f[5]);
        let mut out = [0u8; 600];
        let build = |p: &[u8], out: &mut [u8]| build_error(IcmpError::TimeExceeded, p, R, 1, out);
        // An error about an error (R's own time-exceeded).
        assert_eq!(build(ip_of(f[6]), &mut out), Err(NoIcmp::AboutIcmpError));
        // An echo reply is a query, not an error: answered.
        assert!(build(ip_of(f[4]), &mut out).is_ok());
        let edit = |mutate: &dyn Fn(&mut [u8])| {
            let mut p = [0u8; 36];
            p.copy_from_slice(echo);
            mutate(&mut p);
            p[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p
        };
        let frag = edit(&|p| p[6..8].copy_from_slice(&[0x00, 0x10]));
        assert_eq!(build(&frag, &mut out), Err(NoIcmp::NonFirstFragment));
        // A first fragment (MF set, offset 0) is answered.
        let first = edit(&|p| p[6..8].copy_from_slice(&[0x20, 0x00]));
        assert!(build(&first, &mut out).is_ok());
        for src in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [255, 255, 255, 255],
            [224, 0, 0, 5],
            [240, 0, 0, 1],
        ] {
            let p = edit(&|p| p[12..16].copy_from_slice(&src));
            assert_eq!(build(&p, &mut out), Err(NoIcmp::SourceNotAHost), "{src:?}");
        }
        for dst in [[255, 255, 255, 255], [239, 1, 2, 3]] {
            let p = edit(&|p| p[16..20].copy_from_slice(&dst));
            assert_eq!(build(&p, &mut out), Err(NoIcmp::MulticastOrBroadcast));
        }
        let truncated_icmp = edit(&|p| p[2..4].copy_from_slice(&[0, 20]));
        assert_eq!(
            build(&truncated_icmp, &mut out),
            Err(NoIcmp::AboutIcmpError)
        );
        assert_eq!(
            build(&echo[..10], &mut out),
            Err(NoIcmp::Malformed(Ipv4Error::TooShort))
        );
        assert_eq!(build(echo, &mut out[..60]), Err(NoIcmp::BufferTooSmall));
    }

    proptest::proptest! {
        #[test]
        fn random_packets_never_panic_and_errors_verify(p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700)) {
            let mut p = p;
            if p.len() >= 20 {
                p[0] = 0x45;
                let n = p.len() as u16;
                p[2..4].copy_from_slice(&n.to_be_bytes());
                p[10..12].copy_from_slice(&[0, 0]);
                let c = checksum::checksum(&p[..20]);
                p[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let mut out = [0u8; 600];
            if let Ok(n) = build_error(IcmpError::HostUnreachable, &p, R, 1, &mut out) {
                proptest::prop_assert!(n <= MAX_ERROR_LEN);
                proptest::prop_assert_eq!(checksum::checksum(&out[..20]), 0);
                proptest::prop_assert_eq!(checksum::checksum(&out[20..n]), 0);
            }
        }
    }
}
