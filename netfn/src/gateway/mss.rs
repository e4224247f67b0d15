//! TCP MSS clamping on SYN and SYN-ACK segments that cross the tunnel.
//!
//! Site-to-site tunnels shrink the path MTU, and hosts behind firewalls that
//! drop ICMP never learn it (a PMTU black hole): connections open, then stall
//! on the first full-size segment. Lowering the MSS option of the handshake
//! to tunnel MTU − 40 makes both ends send segments that fit. The option is
//! only ever lowered, never raised or added (a SYN without one already
//! implies RFC 879's 536). The TCP checksum is patched incrementally
//! (RFC 1624), so a clamp touches four bytes, not the segment.
//!
//! The option walk follows RFC 9293 section 3.1: kind 0 ends the list, kind 1
//! is one byte of padding, every other kind carries a length ≥ 2 that must
//! stay inside the header; a list that breaks those rules is left untouched.

use super::checksum;
use super::ipv4::{Ipv4Info, PROTO_TCP};

/// TCP header offsets (RFC 9293 section 3.1).
mod field {
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const CHECKSUM: usize = 16;
    pub const OPTIONS: usize = 20;
}
const FLAG_SYN: u8 = 0x02;
const FLAG_RST: u8 = 0x04;
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// What clamping did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssOutcome {
    /// Not a TCP SYN (or a non-first fragment, which has no TCP header).
    NotSyn,
    /// A SYN without an MSS option: left alone.
    NoOption,
    /// The MSS was already at or below the limit.
    Unchanged(u16),
    /// The MSS was lowered.
    Clamped {
        /// The MSS the sender offered.
        from: u16,
        /// The MSS written.
        to: u16,
    },
}

/// Why a SYN's header could not be walked (the packet is left untouched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssError {
    /// The TCP header does not fit the datagram.
    Truncated,
    /// The option list breaks RFC 9293's layout rules.
    BadOptions,
}

/// Sum of the 16-bit words of `seg[start..end]` (`start` even), with bytes
/// past the segment read as the zero padding the checksum uses.
fn window_sum(seg: &[u8], start: usize, end: usize) -> u16 {
    let mut acc = 0u32;
    let mut i = start;
    while i < end {
        let hi = seg.get(i).copied().unwrap_or(0);
        let lo = seg.get(i + 1).copied().unwrap_or(0);
        acc += u16::from_be_bytes([hi, lo]) as u32;
        i += 2;
    }
    checksum::fold(acc)
}

/// Writes `value` at `seg[at..at + 2]` and patches the TCP checksum for it,
/// whatever the alignment of `at` relative to the segment start.
fn patch16(seg: &mut [u8], at: usize, value: u16) {
    let start = at & !1;
    let end = (at + 3) & !1;
    let old = window_sum(seg, start, end);
    seg[at..at + 2].copy_from_slice(&value.to_be_bytes());
    let new = window_sum(seg, start, end);
    let c = u16::from_be_bytes([seg[field::CHECKSUM], seg[field::CHECKSUM + 1]]);
    let c = checksum::update16(c, old, new);
    seg[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
}

/// Clamps the MSS option of a TCP SYN or SYN-ACK in the IPv4 datagram
/// `packet` (whose header `info` came from [`super::ipv4::validate`]) to `limit`.
pub fn clamp(packet: &mut [u8], info: &Ipv4Info, limit: u16) -> Result<MssOutcome, MssError> {
    if info.protocol != PROTO_TCP || info.fragment_offset != 0 {
        return Ok(MssOutcome::NotSyn);
    }
    let seg = packet
        .get_mut(info.header_len..info.total_len)
        .ok_or(MssError::Truncated)?;
    if seg.len() < field::OPTIONS {
        return Err(MssError::Truncated);
    }
    let flags = seg[field::FLAGS];
    if flags & FLAG_SYN == 0 || flags & FLAG_RST != 0 {
        return Ok(MssOutcome::NotSyn);
    }
    let hlen = (seg[field::DATA_OFFSET] >> 4) as usize * 4;
    if hlen < field::OPTIONS || hlen > seg.len() {
        return Err(MssError::Truncated);
    }
    // Walk once to find the MSS option and check the whole list before writing.
    let mut at = None;
    let mut i = field::OPTIONS;
    while i < hlen {
        match seg[i] {
            OPT_END => break,
            OPT_NOP => i += 1,
            kind => {
                let len = *seg
                    .get(i + 1)
                    .filter(|_| i + 1 < hlen)
                    .ok_or(MssError::BadOptions)? as usize;
                if len < 2 || i + len > hlen || (kind == OPT_MSS && len != 4) {
                    return Err(MssError::BadOptions);
                }
                if kind == OPT_MSS && at.is_none() {
                    at = Some(i + 2);
                }
                i += len;
            }
        }
    }
    let Some(at) = at else {
        return Ok(MssOutcome::NoOption);
    };
    let mss = u16::from_be_bytes([seg[at], seg[at + 1]]);
    if mss <= limit {
        return Ok(MssOutcome::Unchanged(mss));
    }
    patch16(seg, at, limit);
    Ok(MssOutcome::Clamped {
        from: mss,
        to: limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{ipv4, pcap};
    use alloc::vec::Vec;
    use core::net::Ipv4Addr;
    use proptest::prelude::*;
    use smoltcp::wire::{IpAddress, Ipv4Packet, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};

    /// The datagram of a captured frame, as an owned buffer.
    fn datagram(frame: &[u8]) -> Vec<u8> {
        frame[14..].to_vec()
    }

    /// Recomputes the TCP checksum from scratch: the reference the
    /// incremental update must agree with.
    fn full_tcp_checksum(p: &[u8]) -> u16 {
        let info = ipv4::validate(p).unwrap();
        let mut seg = p[info.header_len..info.total_len].to_vec();
        seg[16] = 0;
        seg[17] = 0;
        let ph = checksum::pseudo_header_v4(
            info.src.octets(),
            info.dst.octets(),
            PROTO_TCP,
            seg.len() as u16,
        );
        !checksum::fold(checksum::sum(&seg, ph))
    }

    fn tcp_ok(p: &[u8]) -> bool {
        let ip = Ipv4Packet::new_checked(p).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        tcp.verify_checksum(
            &IpAddress::Ipv4(ip.src_addr()),
            &IpAddress::Ipv4(ip.dst_addr()),
        )
    }

    fn clamp_and_check(mut p: Vec<u8>, limit: u16) -> (MssOutcome, Vec<u8>) {
        let before = p.clone();
        let info = ipv4::validate(&p).unwrap();
        let out = clamp(&mut p, &info, limit).unwrap();
        assert!(tcp_ok(&p), "checksum after {out:?}");
        let stored = u16::from_be_bytes([p[info.header_len + 16], p[info.header_len + 17]]);
        assert_eq!(stored, full_tcp_checksum(&p));
        let changed = before.iter().zip(&p).filter(|(a, b)| a != b).count();
        match out {
            MssOutcome::Clamped { .. } => assert!(changed <= 4),
            _ => assert_eq!(changed, 0),
        }
        (out, p)
    }

    #[test]
    fn clamps_a_real_linux_syn_and_syn_ack() {
        let t = pcap::tcp();
        for frame in [t[0], t[1]] {
            let p = datagram(frame);
            assert!(tcp_ok(&p));
            let (out, p) = clamp_and_check(p, 1380);
            assert_eq!(
                out,
                MssOutcome::Clamped {
                    from: 1460,
                    to: 1380
                }
            );
            let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let src = IpAddress::Ipv4(ip.src_addr());
            let dst = IpAddress::Ipv4(ip.dst_addr());
            let caps = smoltcp::phy::ChecksumCapabilities::default();
            let repr = TcpRepr::parse(&tcp, &src, &dst, &caps).unwrap();
            assert_eq!(repr.max_seg_size, Some(1380));
            assert_eq!(repr.window_scale, Some(10));
            assert!(repr.sack_permitted);
        }
    }

    #[test]
    fn never_raises_and_ignores_non_syn() {
        let t = pcap::tcp();
        let (out, _) = clamp_and_check(datagram(t[0]), 1460);
        assert_eq!(out, MssOutcome::Unchanged(1460));
        let (out, _) = clamp_and_check(datagram(t[0]), 9000);
        assert_eq!(out, MssOutcome::Unchanged(1460));
        // The handshake's third segment is a plain ACK.
        let (out, _) = clamp_and_check(datagram(t[2]), 500);
        assert_eq!(out, MssOutcome::NotSyn);
        // ICMP is not TCP.
        let mut echo = datagram(pcap::router()[3]);
        let info = ipv4::validate(&echo).unwrap();
        assert_eq!(clamp(&mut echo, &info, 500), Ok(MssOutcome::NotSyn));
    }

    /// The Linux SYN with its options reordered so the MSS value starts at
    /// an odd offset: NOP, MSS, SACK-permitted, timestamps, window scale.
    fn odd_aligned_syn() -> Vec<u8> {
        let mut p = datagram(pcap::tcp()[0]);
        let o = 20 + 20;
        let old: Vec<u8> = p[o..o + 20].to_vec();
        let mut opts = Vec::new();
        opts.push(OPT_NOP);
        opts.extend_from_slice(&old[0..4]); // MSS
        opts.extend_from_slice(&old[4..16]); // SACK-permitted + timestamps
        opts.extend_from_slice(&old[17..20]); // window scale (its NOP moved first)
        p[o..o + 20].copy_from_slice(&opts);
        let c = full_tcp_checksum(&p);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn odd_aligned_option_keeps_the_checksum_right() {
        for limit in [1380, 1000, 536, 1] {
            let (out, _) = clamp_and_check(odd_aligned_syn(), limit);
            assert_eq!(
                out,
                MssOutcome::Clamped {
                    from: 1460,
                    to: limit
                }
            );
        }
    }

    #[test]
    fn smoltcp_built_syn_agrees_with_full_recompute() {
        let src = Ipv4Addr::new(192, 168, 10, 20);
        let dst = Ipv4Addr::new(10, 20, 0, 5);
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 443,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(0x1234_5678),
            ack_number: None,
            window_len: 64240,
            window_scale: Some(7),
            max_seg_size: Some(8960),
            sack_permitted: true,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let tcp_len = repr.buffer_len();
        let mut p = alloc::vec![0u8; 20 + tcp_len];
        ipv4::write_header(
            &mut p,
            0,
            (20 + tcp_len) as u16,
            1,
            true,
            64,
            PROTO_TCP,
            src,
            dst,
        );
        let mut tcp = TcpPacket::new_unchecked(&mut p[20..]);
        let caps = smoltcp::phy::ChecksumCapabilities::default();
        repr.emit(
            &mut tcp,
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &caps,
        );
        assert!(tcp_ok(&p));
        let (out, _) = clamp_and_check(p, 1380);
        assert_eq!(
            out,
            MssOutcome::Clamped {
                from: 8960,
                to: 1380
            }
        );
    }

    #[test]
    fn refuses_broken_option_lists_untouched() {
        let base = datagram(pcap::tcp()[0]);
        let info = ipv4::validate(&base).unwrap();
        let try_opts = |opts: &[u8]| {
            let mut p = base.clone();
            p[40..40 + opts.len()].copy_from_slice(opts);
            let before = p.clone();
            let r = clamp(&mut p, &info, 1000);
            assert_eq!(p, before);
            r
        };
        assert_eq!(try_opts(&[0x08, 0x00]), Err(MssError::BadOptions)); // length 0
        assert_eq!(try_opts(&[0x02, 0x03, 0x05]), Err(MssError::BadOptions)); // MSS length 3
                                                                              // 19 NOPs, then the capture's last byte (10) as a kind with no room for a length.
        assert_eq!(try_opts(&[0x01; 19]), Err(MssError::BadOptions));
        let mut p = base.clone();
        p[32] = 0xf0; // data offset 60 > 40-byte segment
        assert_eq!(clamp(&mut p, &info, 1000), Err(MssError::Truncated));
        // A list ending early (kind 0) before the MSS: no option found.
        assert_eq!(try_opts(&[0x00, 0x04]), Ok(MssOutcome::NoOption));
    }

    proptest! {
        #[test]
        fn random_options_never_panic_and_keep_checksums(opts in proptest::collection::vec(any::<u8>(), 20), limit in 0u16..2000) {
            let mut p = datagram(pcap::tcp()[0]);
            p[40..60].copy_from_slice(&opts);
            let c = full_tcp_checksum(&p);
            p[36..38].copy_from_slice(&c.to_be_bytes());
            let info = ipv4::validate(&p).unwrap();
            let before = p.clone();
            match clamp(&mut p, &info, limit) {
                Ok(MssOutcome::Clamped { .. }) => prop_assert!(tcp_ok(&p)),
                _ => prop_assert_eq!(&p, &before),
            }
        }
    }
}
