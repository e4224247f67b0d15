//! The building blocks put together the way the poll loop will: a captured
//! LAN frame goes through classification, forwarding, a stand-in for the
//! WireGuard engine and the outer headers, then back out of the tunnel onto
//! the LAN, all inside one 2 KiB buffer with the frame at offset 128 (the
//! `drivers::buf` layout), never copied. The stand-in only writes the
//! 16-byte transport header, pads to 16 and appends a 16-byte "tag": the
//! real engine's in-place seal and open have the same shape.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::classify::{classify_lan, LanFrame, LanIdentity};
use super::ether::Mac;
use super::forward::{forward, inner_ipv4, prepend_ethernet};
use super::ipv4;
use super::mss::MssOutcome;
use super::outer::{classify_wan, write_outer, OuterPath, WanFrame, WanIdentity};
use super::pcap;

const HEADROOM: usize = 128;
const WG_HEADER: usize = 16;
const TAG: usize = 16;

const LAN_MAC: Mac = [0x52, 0x54, 0, 0x0a, 0, 0x01];
const WAN_MAC: Mac = [0x52, 0x54, 0, 0, 0, 0x02];
const PEER_MAC: Mac = [0x52, 0x54, 0, 0, 0, 0xfe];

fn lan() -> LanIdentity<'static> {
    LanIdentity {
        mac: LAN_MAC,
        ip: Ipv4Addr::new(192, 168, 10, 1),
        prefix_len: 24,
        other_ips: &[],
    }
}

/// Seals in place: header in front, zero padding to 16, tag behind.
/// Returns the WireGuard message's (start, len).
fn fake_seal(buf: &mut [u8], start: usize, len: usize) -> (usize, usize) {
    let padded = len.div_ceil(16) * 16;
    buf[start + len..start + padded].fill(0);
    buf[start + padded..start + padded + TAG].fill(0xaa);
    let h = start - WG_HEADER;
    buf[h..start].copy_from_slice(&[4, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    (h, WG_HEADER + padded + TAG)
}

/// Opens in place: the plaintext's (start, padded len).
fn fake_open(start: usize, len: usize) -> (usize, usize) {
    (start + WG_HEADER, len - WG_HEADER - TAG)
}

/// LAN frame in, LAN frame out: returns the frame that reaches the far LAN.
fn through_the_tunnel(frame: &[u8], mss: Option<u16>) -> (alloc::vec::Vec<u8>, MssOutcome) {
    let mut buf = [0u8; 2048];
    buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
    let info = match classify_lan(&buf[HEADROOM..HEADROOM + frame.len()], &lan()) {
        LanFrame::Forward(info) => info,
        other => panic!("{other:?}"),
    };
    let ip_start = HEADROOM + 14;
    let out = forward(
        &mut buf[ip_start..ip_start + info.total_len],
        &info,
        1420,
        mss,
    )
    .unwrap();
    let (wg_start, wg_len) = fake_seal(&mut buf, ip_start, info.total_len);
    let path = OuterPath {
        src_mac: WAN_MAC,
        dst_mac: PEER_MAC,
        src: SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 51820),
        dst: SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 51820),
    };
    let (s, l) = write_outer(&mut buf, wg_start, wg_len, &path, 1).unwrap();
    assert!(s >= 14, "headroom left for the far side's rewrite");

    // The far gateway: same buffer, as its WAN NIC would have received it.
    let far = WanIdentity {
        mac: PEER_MAC,
        ip: Some(Ipv4Addr::new(203, 0, 113, 7)),
        listen_port: 51820,
    };
    let (offset, len) = match classify_wan(&buf[s..s + l], &far) {
        WanFrame::WireGuard { from, offset, len } => {
            assert_eq!(from, path.src);
            (offset, len)
        }
        other => panic!("{other:?}"),
    };
    let (p_start, p_len) = fake_open(s + offset, len);
    let inner = inner_ipv4(&buf, p_start, p_len).unwrap();
    forward(
        &mut buf[p_start..p_start + inner.total_len],
        &inner,
        1500,
        mss,
    )
    .unwrap();
    let (fs, fl) = prepend_ethernet(
        &mut buf,
        p_start,
        inner.total_len,
        &[2, 0, 0, 0, 0, 5],
        &LAN_MAC,
    )
    .unwrap();
    (buf[fs..fs + fl].to_vec(), out)
}

#[test]
fn ttl_one_stays_home_and_an_ack_crosses_losing_two_hops() {
    let echo = pcap::router()[5]; // TTL 1: must not cross
    let mut buf = [0u8; 128];
    buf[..echo.len()].copy_from_slice(echo);
    let info = ipv4::validate(&buf[14..echo.len()]).unwrap();
    assert!(forward(&mut buf[14..echo.len()], &info, 1420, None).is_err());

    let tcp = pcap::tcp();
    // The handshake's ACK, 192.168.10.20 -> 10.20.0.5: one hop per gateway.
    let (out, mss) = through_the_tunnel(tcp[2], Some(1380));
    assert_eq!(mss, MssOutcome::NotSyn);
    let sent = ipv4::validate(&tcp[2][14..]).unwrap();
    let got = ipv4::validate(&out[14..]).unwrap();
    assert_eq!(got.ttl, sent.ttl - 2);
    assert_eq!(&out[14 + 20..], &tcp[2][14 + 20..], "payload untouched");
}

#[test]
fn a_syn_crosses_clamped_with_valid_checksums() {
    let syn = pcap::tcp()[0];
    let (out, mss) = through_the_tunnel(syn, Some(1380));
    assert_eq!(
        mss,
        MssOutcome::Clamped {
            from: 1460,
            to: 1380
        }
    );
    let ip = smoltcp::wire::Ipv4Packet::new_checked(&out[14..]).unwrap();
    assert!(ip.verify_checksum());
    let tcp = smoltcp::wire::TcpPacket::new_checked(ip.payload()).unwrap();
    let (s, d) = (ip.src_addr().into(), ip.dst_addr().into());
    assert!(tcp.verify_checksum(&s, &d));
    assert_eq!(
        u16::from_be_bytes([out[14 + 20 + 22], out[14 + 20 + 23]]),
        1380
    );
}
