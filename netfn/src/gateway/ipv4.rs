//! IPv4 header checks and in-place edits for the forwarding path.
//!
//! A forwarded packet is looked at once: [`validate`] checks what RFC 1812
//! section 5.2.2 asks a router to check (version, IHL ≥ 5, total length within
//! what arrived, header checksum) and returns the fields the gateway decides
//! on. Edits are in place with the checksum patched incrementally (RFC 1624),
//! so forwarding never walks the header twice.

use core::net::Ipv4Addr;

use super::checksum;
use super::counters::DropReason;

/// Fixed IPv4 header offsets (RFC 791 section 3.1).
mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const ID: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// The minimum IPv4 header length.
pub const HEADER_LEN: usize = 20;
/// Flags: Don't Fragment (RFC 791).
const FLAG_DF: u16 = 0x4000;
/// Flags: More Fragments.
const FLAG_MF: u16 = 0x2000;
/// IP protocol numbers used by the gateway.
pub const PROTO_ICMP: u8 = 1;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;

/// Why an IPv4 header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer than 20 bytes.
    TooShort,
    /// The version field is not 4.
    NotVersion4,
    /// IHL below 5 or past the end of the packet.
    BadHeaderLength,
    /// Total length shorter than the header or longer than what arrived.
    BadTotalLength,
    /// The header checksum does not verify.
    BadChecksum,
}

impl Ipv4Error {
    /// The counter this error is dropped under.
    pub fn drop_reason(self) -> DropReason {
        match self {
            Ipv4Error::BadChecksum => DropReason::BadIpv4Checksum,
            _ => DropReason::BadIpv4Header,
        }
    }
}

/// The fields of a validated header that forwarding decisions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    /// Header length in bytes (IHL × 4).
    pub header_len: usize,
    /// Total length from the header (≤ the bytes that arrived; the rest is
    /// Ethernet padding).
    pub total_len: usize,
    /// The protocol field.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Don't Fragment set.
    pub dont_fragment: bool,
    /// More Fragments set.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units.
    pub fragment_offset: u16,
}

impl Ipv4Info {
    /// True for any fragment (first or later): the packet is not whole.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }
}

fn be16(p: &[u8], r: core::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([p[r.start], p[r.start + 1]])
}

fn addr(p: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    Ipv4Addr::new(p[r.start], p[r.start + 1], p[r.start + 2], p[r.start + 3])
}

/// Checks the IPv4 header at the start of `packet` (which may carry Ethernet
/// padding after the datagram) and returns its fields.
pub fn validate(packet: &[u8]) -> Result<Ipv4Info, Ipv4Error> {
    if packet.len() < HEADER_LEN {
        return Err(Ipv4Error::TooShort);
    }
    let vi = packet[field::VER_IHL];
    if vi >> 4 != 4 {
        return Err(Ipv4Error::NotVersion4);
    }
    let header_len = (vi & 0x0f) as usize * 4;
    if header_len < HEADER_LEN || header_len > packet.len() {
        return Err(Ipv4Error::BadHeaderLength);
    }
    let total_len = be16(packet, field::TOTAL_LEN) as usize;
    if total_len < header_len || total_len > packet.len() {
        return Err(Ipv4Error::BadTotalLength);
    }
    if checksum::checksum(&packet[..header_len]) != 0 {
        return Err(Ipv4Error::BadChecksum);
    }
    let ff = be16(packet, field::FLAGS_FRAG);
    Ok(Ipv4Info {
        header_len,
        total_len,
        protocol: packet[field::PROTOCOL],
        ttl: packet[field::TTL],
        src: addr(packet, field::SRC),
        dst: addr(packet, field::DST),
        dont_fragment: ff & FLAG_DF != 0,
        more_fragments: ff & FLAG_MF != 0,
        fragment_offset: ff & 0x1fff,
    })
}

/// True when the Don't Fragment flag is set. `packet` must hold at least a
/// minimal header (as after [`validate`]); shorter input reads as "not set".
pub fn dont_fragment(packet: &[u8]) -> bool {
    packet.len() >= HEADER_LEN && be16(packet, field::FLAGS_FRAG) & FLAG_DF != 0
}

/// The TTL of a packet that may not be forwarded: it arrived with TTL 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlExpired;

/// Decrements the TTL of a validated header in place, patching the header
/// checksum incrementally (RFC 1624); refuses, unchanged, when the result
/// would be 0 (RFC 1812 section 5.3.1: send time-exceeded instead).
pub fn decrement_ttl(packet: &mut [u8]) -> Result<u8, TtlExpired> {
    if packet.len() < HEADER_LEN || packet[field::TTL] <= 1 {
        return Err(TtlExpired);
    }
    // TTL shares its 16-bit word with the protocol byte.
    let old = u16::from_be_bytes([packet[field::TTL], packet[field::PROTOCOL]]);
    packet[field::TTL] -= 1;
    let new = u16::from_be_bytes([packet[field::TTL], packet[field::PROTOCOL]]);
    let c = checksum::update16(be16(packet, field::CHECKSUM), old, new);
    packet[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Ok(packet[field::TTL])
}

/// Writes a 20-byte IPv4 header (no options) with its checksum into `out`.
/// The caller guarantees `out.len() >= HEADER_LEN`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_header(
    out: &mut [u8],
    tos: u8,
    total_len: u16,
    id: u16,
    dont_fragment: bool,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) {
    let h = &mut out[..HEADER_LEN];
    h[field::VER_IHL] = 0x45;
    h[1] = tos;
    h[field::TOTAL_LEN].copy_from_slice(&total_len.to_be_bytes());
    h[field::ID].copy_from_slice(&id.to_be_bytes());
    let ff = if dont_fragment { FLAG_DF } else { 0 };
    h[field::FLAGS_FRAG].copy_from_slice(&ff.to_be_bytes());
    h[field::TTL] = ttl;
    h[field::PROTOCOL] = protocol;
    h[field::CHECKSUM].copy_from_slice(&[0, 0]);
    h[field::SRC].copy_from_slice(&src.octets());
    h[field::DST].copy_from_slice(&dst.octets());
    let c = checksum::checksum(h);
    h[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A's echo request to R, 36 bytes (frame 3 of `testdata/linux-router.pcap`).
    fn ping() -> [u8; 36] {
        let mut p = [0u8; 36];
        p.copy_from_slice(&crate::gateway::pcap::router()[3][14..]);
        p
    }

    #[test]
    fn validates_a_real_header() {
        let i = validate(&ping()).unwrap();
        assert_eq!(i.header_len, 20);
        assert_eq!(i.total_len, 36);
        assert_eq!(i.protocol, PROTO_ICMP);
        assert_eq!(i.ttl, 64);
        assert_eq!(i.src, Ipv4Addr::new(192, 168, 10, 20));
        assert_eq!(i.dst, Ipv4Addr::new(192, 168, 10, 1));
        assert!(i.dont_fragment && !i.is_fragment());
        assert!(dont_fragment(&ping()));
        // Ethernet padding after the datagram is fine.
        let mut padded = [0u8; 46];
        padded[..36].copy_from_slice(&ping());
        assert_eq!(validate(&padded).unwrap().total_len, 36);
    }

    #[test]
    fn refuses_each_defect() {
        assert_eq!(validate(&ping()[..19]), Err(Ipv4Error::TooShort));
        let mut p = ping();
        p[0] = 0x65;
        assert_eq!(validate(&p), Err(Ipv4Error::NotVersion4));
        let mut p = ping();
        p[0] = 0x44;
        assert_eq!(validate(&p), Err(Ipv4Error::BadHeaderLength));
        let mut p = ping();
        p[0] = 0x4f; // 60-byte header in a 36-byte packet
        assert_eq!(validate(&p), Err(Ipv4Error::BadHeaderLength));
        assert_eq!(validate(&ping()[..35]), Err(Ipv4Error::BadTotalLength));
        let mut p = ping();
        p[3] = 0x10; // 16 < header length
        assert_eq!(validate(&p), Err(Ipv4Error::BadTotalLength));
        let mut p = ping();
        p[15] ^= 1;
        assert_eq!(validate(&p), Err(Ipv4Error::BadChecksum));
        assert_eq!(
            Ipv4Error::BadChecksum.drop_reason(),
            DropReason::BadIpv4Checksum
        );
    }

    #[test]
    fn ttl_decrement_keeps_the_checksum_valid() {
        let mut p = ping();
        for expect in (1..64).rev() {
            assert_eq!(decrement_ttl(&mut p), Ok(expect));
            assert_eq!(checksum::checksum(&p[..20]), 0);
            assert!(validate(&p).is_ok());
        }
        let before = p;
        assert_eq!(decrement_ttl(&mut p), Err(TtlExpired));
        assert_eq!(p, before, "an expired packet is left untouched");
    }

    #[test]
    fn smoltcp_agrees_with_our_header_writer() {
        let mut h = [0u8; 20];
        let (s, d) = (
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(203, 0, 113, 7),
        );
        write_header(&mut h, 0, 148, 0x1234, true, 64, PROTO_UDP, s, d);
        let pkt = smoltcp::wire::Ipv4Packet::new_checked(&h[..]);
        // new_checked refuses: total length 148 > 20 bytes, so parse only the header.
        assert!(pkt.is_err());
        let pkt = smoltcp::wire::Ipv4Packet::new_unchecked(&h[..]);
        assert!(pkt.verify_checksum());
        assert!(pkt.dont_frag());
        assert_eq!(pkt.ident(), 0x1234);
        assert_eq!(pkt.src_addr(), s);
        assert_eq!(pkt.dst_addr(), d);
    }
}
