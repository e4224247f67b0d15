//! The per-packet checks and edits of forwarding an inner IPv4 packet, in
//! either direction, and the framing of a decrypted packet for the LAN.
//!
//! The order follows Linux's `ip_forward` (and RFC 1812 section 5.3): TTL
//! first (a packet that may not live another hop gets time-exceeded, quoted
//! as it arrived), then the MTU of the way out (fragmentation-needed with DF,
//! a counted drop without, since the first version does not fragment), then
//! the TTL decrement, then MSS clamping of TCP SYNs. Encryption, routing and
//! neighbour resolution are the caller's; this file only decides and edits.

use super::counters::DropReason;
use super::ether::{self, Mac};
use super::icmp::IcmpError;
use super::ipv4::{self, Ipv4Error, Ipv4Info};
use super::mss::{self, MssOutcome};

/// Why a packet is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotForwarded {
    /// TTL 0 or 1: answer with ICMP time exceeded.
    TtlExpired,
    /// Over the MTU with DF set: answer with ICMP fragmentation needed.
    FragmentationNeeded {
        /// The MTU of the way out, for the ICMP message.
        mtu: u16,
    },
    /// Over the MTU without DF: dropped (no fragmentation in this version).
    TooBig,
}

impl NotForwarded {
    /// The counter to count the drop under.
    pub fn drop_reason(self) -> DropReason {
        match self {
            NotForwarded::TtlExpired => DropReason::TtlExpired,
            NotForwarded::FragmentationNeeded { .. } => DropReason::MtuExceeded,
            NotForwarded::TooBig => DropReason::TooBigNoDf,
        }
    }

    /// The ICMP error to send back, if any (build it before anything else
    /// touches the packet, so the quote is the packet as it arrived).
    pub fn icmp(self) -> Option<IcmpError> {
        match self {
            NotForwarded::TtlExpired => Some(IcmpError::TimeExceeded),
            NotForwarded::FragmentationNeeded { mtu } => {
                Some(IcmpError::FragmentationNeeded { next_hop_mtu: mtu })
            }
            NotForwarded::TooBig => None,
        }
    }
}

/// Checks and edits the validated IPv4 packet `packet` (described by `info`)
/// for forwarding out of a link with MTU `out_mtu`: TTL, MTU, TTL decrement,
/// and MSS clamping to `mss_limit` when given. On `Err` the packet is
/// unchanged. A SYN whose TCP options are malformed is forwarded untouched
/// (`MssOutcome::NotSyn` is returned for it): its end hosts will refuse it.
pub fn forward(
    packet: &mut [u8],
    info: &Ipv4Info,
    out_mtu: u16,
    mss_limit: Option<u16>,
) -> Result<MssOutcome, NotForwarded> {
    if info.ttl <= 1 {
        return Err(NotForwarded::TtlExpired);
    }
    if info.total_len > out_mtu as usize {
        return Err(if info.dont_fragment {
            NotForwarded::FragmentationNeeded { mtu: out_mtu }
        } else {
            NotForwarded::TooBig
        });
    }
    ipv4::decrement_ttl(packet).map_err(|_| NotForwarded::TtlExpired)?;
    Ok(match mss_limit {
        Some(limit) => mss::clamp(packet, info, limit).unwrap_or(MssOutcome::NotSyn),
        None => MssOutcome::NotSyn,
    })
}

/// Why a decrypted packet cannot go onto the LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecapError {
    /// Not IPv4 (version nibble shown); the first version forwards IPv4 only.
    NotIpv4(u8),
    /// The inner IPv4 header is invalid.
    Ipv4(Ipv4Error),
    /// No room for an Ethernet header before the packet.
    NoHeadroom,
}

impl DecapError {
    /// The counter to count the drop under.
    pub fn drop_reason(self) -> DropReason {
        match self {
            DecapError::NotIpv4(_) => DropReason::Unsupported,
            DecapError::Ipv4(e) => e.drop_reason(),
            DecapError::NoHeadroom => DropReason::NoBuffer,
        }
    }
}

/// Validates the decrypted packet at `buf[start..start + len]` (`len` counts
/// WireGuard's zero padding to 16 bytes, which the IPv4 total length strips)
/// and returns its header. An empty packet is a keepalive: the caller
/// handles it before asking.
pub fn inner_ipv4(buf: &[u8], start: usize, len: usize) -> Result<Ipv4Info, DecapError> {
    let p = buf.get(start..start.saturating_add(len)).unwrap_or(&[]);
    match p.first().map(|b| b >> 4) {
        Some(4) => ipv4::validate(p).map_err(DecapError::Ipv4),
        Some(v) => Err(DecapError::NotIpv4(v)),
        None => Err(DecapError::Ipv4(Ipv4Error::TooShort)),
    }
}

/// Writes an Ethernet header in front of the IPv4 packet at `buf[start..]`
/// of length `ip_len`; returns the frame's `(start, len)`.
pub fn prepend_ethernet(
    buf: &mut [u8],
    start: usize,
    ip_len: usize,
    dst: &Mac,
    src: &Mac,
) -> Result<(usize, usize), DecapError> {
    let s = start
        .checked_sub(ether::HEADER_LEN)
        .filter(|_| start.saturating_add(ip_len) <= buf.len())
        .ok_or(DecapError::NoHeadroom)?;
    ether::write_header(&mut buf[s..start], dst, src, ether::ETHERTYPE_IPV4);
    Ok((s, ip_len + ether::HEADER_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{checksum, icmp, pcap};
    use alloc::vec::Vec;
    use core::net::Ipv4Addr;

    fn ip(frame: &[u8]) -> Vec<u8> {
        frame[14..].to_vec()
    }

    #[test]
    fn ttl_one_is_refused_untouched_and_answered_like_linux() {
        let f = pcap::router();
        let mut p = ip(f[5]);
        let info = ipv4::validate(&p).unwrap();
        let before = p.clone();
        let e = forward(&mut p, &info, 1420, Some(1380)).unwrap_err();
        assert_eq!(e, NotForwarded::TtlExpired);
        assert_eq!(e.drop_reason(), DropReason::TtlExpired);
        assert_eq!(p, before);
        let mut out = [0u8; 128];
        let linux = &f[6][14..];
        let id = u16::from_be_bytes([linux[4], linux[5]]);
        let r = Ipv4Addr::new(192, 168, 10, 1);
        let n = icmp::build_error(e.icmp().unwrap(), &p, r, id, &mut out).unwrap();
        assert_eq!(&out[..n], linux);
    }

    #[test]
    fn over_the_mtu_with_df_asks_for_fragmentation_needed() {
        let f = pcap::router();
        let mut p = ip(f[7]);
        let info = ipv4::validate(&p).unwrap();
        let before = p.clone();
        let e = forward(&mut p, &info, 1400, None).unwrap_err();
        assert_eq!(e, NotForwarded::FragmentationNeeded { mtu: 1400 });
        assert_eq!(
            e.icmp(),
            Some(IcmpError::FragmentationNeeded { next_hop_mtu: 1400 })
        );
        assert_eq!(p, before);
        // Exactly at the MTU it goes through.
        assert!(forward(&mut p, &info, 1500, None).is_ok());
        // Without DF it is a counted drop with no ICMP.
        let mut p = before.clone();
        p[6] = 0;
        p[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let info = ipv4::validate(&p).unwrap();
        let e = forward(&mut p, &info, 1420, None).unwrap_err();
        assert_eq!(
            (e, e.icmp(), e.drop_reason()),
            (NotForwarded::TooBig, None, DropReason::TooBigNoDf)
        );
    }

    #[test]
    fn forwarding_decrements_ttl_and_clamps_syns() {
        let t = pcap::tcp();
        let mut p = ip(t[0]);
        let info = ipv4::validate(&p).unwrap();
        let out = forward(&mut p, &info, 1420, Some(1380)).unwrap();
        assert_eq!(
            out,
            MssOutcome::Clamped {
                from: 1460,
                to: 1380
            }
        );
        let after = ipv4::validate(&p).unwrap();
        assert_eq!(after.ttl, info.ttl - 1);
        // Clamping off: only the TTL changes.
        let mut p = ip(t[1]);
        let info = ipv4::validate(&p).unwrap();
        assert_eq!(forward(&mut p, &info, 1420, None), Ok(MssOutcome::NotSyn));
        let mut q = ip(t[1]);
        ipv4::decrement_ttl(&mut q).unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn decrypted_packets_lose_their_padding_and_gain_a_header() {
        // The echo request, as the engine leaves it: at offset 128 of a
        // buffer, padded with zeros to a multiple of 16 (36 -> 48).
        let echo = &pcap::router()[3][14..];
        let mut buf = [0u8; 2048];
        buf[128..164].copy_from_slice(echo);
        let info = inner_ipv4(&buf, 128, 48).unwrap();
        assert_eq!(info.total_len, 36);
        let lan_host: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x01];
        let us: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x14];
        let (s, l) = prepend_ethernet(&mut buf, 128, info.total_len, &lan_host, &us).unwrap();
        assert_eq!(
            &buf[s..s + l],
            pcap::router()[3],
            "the frame A sent, rebuilt"
        );
        assert_eq!(
            prepend_ethernet(&mut buf, 13, 36, &lan_host, &us),
            Err(DecapError::NoHeadroom)
        );
        assert_eq!(
            prepend_ethernet(&mut buf, 2040, 36, &lan_host, &us),
            Err(DecapError::NoHeadroom)
        );
    }

    #[test]
    fn decrypted_junk_is_refused() {
        let mut buf = [0u8; 64];
        assert_eq!(
            inner_ipv4(&buf, 0, 0),
            Err(DecapError::Ipv4(Ipv4Error::TooShort))
        );
        buf[0] = 0x60;
        assert_eq!(inner_ipv4(&buf, 0, 40), Err(DecapError::NotIpv4(6)));
        assert_eq!(
            DecapError::NotIpv4(6).drop_reason(),
            DropReason::Unsupported
        );
        buf[0] = 0x45;
        assert!(matches!(inner_ipv4(&buf, 0, 40), Err(DecapError::Ipv4(_))));
        assert_eq!(
            inner_ipv4(&buf, 60, 40),
            Err(DecapError::Ipv4(Ipv4Error::TooShort))
        );
    }
}
