//! What the appliance says for itself: ARP (learning, replies, requests,
//! announcements), ICMP echo replies to its own addresses, ICMP errors
//! about packets it will not forward, and the smoltcp host stacks.
//!
//! ARP requests for our address and echo requests to our addresses are
//! answered in place, in the buffer they arrived in (swap the addresses,
//! patch the checksums), so a ping flood costs no allocation and no copy,
//! and the host stacks only see what needs a real stack: DHCP, replies to
//! the appliance's own pings, and ARP replies (so those pings can resolve).
//! ICMP errors quote the offending packet as it arrived, so they are built
//! in a fresh buffer before the original is freed.

use core::net::Ipv4Addr;

use super::{push_tx, set_dst_mac, BufPool, Gateway, PacketBuffer, Port, TxLists, HEADROOM};
use crate::gateway::arp::{arp_reply, arp_request, gratuitous_arp, ArpMessage, ArpOp};
use crate::gateway::checksum;
use crate::gateway::counters::DropReason;
use crate::gateway::ether::{self, Mac};
use crate::gateway::forward::prepend_ethernet;
use crate::gateway::icmp::{build_error, IcmpError};
use crate::gateway::ipv4::{self, PROTO_ICMP};
use crate::hoststack::DhcpEvent;
use crate::wireguard::{Aead, Rng, Time};

/// ICMP echo request / reply types (RFC 792).
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
/// TTL of packets the appliance originates (as Linux's default).
const OWN_TTL: u8 = 64;

/// Turns the IPv4 ICMP echo request `pkt` (exactly its total length,
/// header `hl` bytes) into its reply in place: addresses swapped, TTL reset,
/// type 0, both checksums patched. False (unchanged) for anything else,
/// including a request with a bad ICMP checksum.
pub(crate) fn echo_reply_in_place(pkt: &mut [u8], hl: usize) -> bool {
    let Some(icmp) = pkt.get(hl..) else {
        return false;
    };
    if icmp.len() < 8 || icmp[0] != ECHO_REQUEST || icmp[1] != 0 || checksum::checksum(icmp) != 0 {
        return false;
    }
    let mut src = [0u8; 4];
    src.copy_from_slice(&pkt[12..16]);
    pkt.copy_within(16..20, 12);
    pkt[16..20].copy_from_slice(&src);
    pkt[8] = OWN_TTL;
    pkt[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&pkt[..hl]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let old = u16::from_be_bytes([pkt[hl + 2], pkt[hl + 3]]);
    pkt[hl] = ECHO_REPLY;
    let c = checksum::update16(old, (ECHO_REQUEST as u16) << 8, (ECHO_REPLY as u16) << 8);
    pkt[hl + 2..hl + 4].copy_from_slice(&c.to_be_bytes());
    true
}

/// True for an ICMP echo reply (so it belongs to the host stack's pinger).
fn is_echo_reply(pkt: &[u8], hl: usize, protocol: u8) -> bool {
    protocol == PROTO_ICMP && pkt.get(hl) == Some(&ECHO_REPLY)
}

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// An ARP frame received on `port`: learn, release frames waiting for
    /// the sender, answer a request for our address in place.
    pub(crate) fn arp_in<P: BufPool<B>>(
        &mut self,
        port: Port,
        now: Time,
        mut buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let Some(msg) = ArpMessage::parse(buf.data()) else {
            return self.drop_buf(buf, DropReason::BadFrame, pool);
        };
        let st = self.port_mut(port);
        let mac = st.mac;
        let Some(our_ip) = st.ip() else {
            return self.drop_buf(buf, DropReason::NotForUs, pool);
        };
        if let Some(mut waiting) = st.neigh.learn_from_arp(&msg, our_ip, now.mono_ns) {
            while let Some(mut item) = waiting.pop() {
                set_dst_mac(&mut item, &msg.sender_mac);
                push_tx(out, port, item, pool, &mut self.counters);
            }
        }
        match msg.op {
            ArpOp::Request if msg.target_ip == our_ip => {
                let s = buf.start();
                let n = buf
                    .slot_mut()
                    .get_mut(s..)
                    .and_then(|o| arp_reply(o, mac, our_ip, &msg));
                match n {
                    Some(n) if buf.set_window(s, n) => {
                        push_tx(out, port, buf, pool, &mut self.counters)
                    }
                    _ => self.drop_buf(buf, DropReason::NoBuffer, pool),
                }
            }
            ArpOp::Reply => {
                // The host stack resolves its own pings' next hops from these.
                let st = self.port_mut(port);
                st.host.push_rx(buf.data());
                self.host_pending = true;
                pool.free(buf);
            }
            ArpOp::Request => pool.free(buf),
        }
    }

    /// Broadcasts an ARP request for `target` on `port`.
    pub(crate) fn arp_request<P: BufPool<B>>(
        &mut self,
        port: Port,
        target: Ipv4Addr,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let st = self.port(port);
        let (mac, ip) = (st.mac, st.ip());
        send_arp(
            |o| ip.and_then(|ip| arp_request(o, mac, ip, target)),
            port,
            out,
            pool,
            &mut self.counters,
        );
    }

    /// Gratuitous ARP on both ports (at link up), so neighbours that cached
    /// an older MAC for our addresses learn the new one.
    pub fn announce<P: BufPool<B>>(&mut self, out: &mut TxLists<B>, pool: &mut P) {
        for port in [Port::Lan, Port::Wan] {
            let st = self.port(port);
            let (mac, ip) = (st.mac, st.ip());
            if let Some(ip) = ip {
                send_arp(
                    |o| gratuitous_arp(o, mac, ip),
                    port,
                    out,
                    pool,
                    &mut self.counters,
                );
            }
        }
    }

    /// IPv4 addressed to the appliance on `port`: echo requests answered in
    /// place, echo replies and everything else (DHCP) to the host stack.
    pub(crate) fn local_in<P: BufPool<B>>(
        &mut self,
        port: Port,
        mut buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let ip_start = buf.start() + ether::HEADER_LEN;
        let Ok(info) = ipv4::validate(buf.data().get(ether::HEADER_LEN..).unwrap_or(&[])) else {
            return self.drop_buf(buf, DropReason::BadIpv4Header, pool);
        };
        let ours = match port {
            Port::Lan => self.is_own_address(info.dst),
            Port::Wan => self.wan.ip() == Some(info.dst),
        };
        let mac = self.port(port).mac;
        if ours && info.protocol == PROTO_ICMP && !info.is_fragment() {
            let frame_start = buf.start();
            let peer_mac = ether::src_mac(buf.data());
            let slot = buf.slot_mut();
            if let Some(pkt) = slot.get_mut(ip_start..ip_start + info.total_len) {
                if echo_reply_in_place(pkt, info.header_len) {
                    ether::write_header(
                        &mut slot[frame_start..ip_start],
                        &peer_mac,
                        &mac,
                        ether::ETHERTYPE_IPV4,
                    );
                    if buf.set_window(frame_start, ether::HEADER_LEN + info.total_len) {
                        push_tx(out, port, buf, pool, &mut self.counters);
                    } else {
                        self.drop_buf(buf, DropReason::BadFrame, pool);
                    }
                    return;
                }
            }
        }
        let to_host = match port {
            // On the LAN the host stack only runs the appliance's own pings.
            Port::Lan => is_echo_reply(
                buf.data().get(ether::HEADER_LEN..).unwrap_or(&[]),
                info.header_len,
                info.protocol,
            ),
            Port::Wan => true,
        };
        if !to_host {
            return self.drop_buf(buf, DropReason::Unsupported, pool);
        }
        if self.port_mut(port).host.push_rx(buf.data()) {
            self.host_pending = true;
            pool.free(buf);
        } else {
            self.drop_buf(buf, DropReason::HostQueueFull, pool);
        }
    }

    /// Answers the LAN packet in the frame `buf` with ICMP `kind`, sent back
    /// to the frame's source MAC from our LAN address. `buf` is untouched.
    pub(crate) fn icmp_to_lan<P: BufPool<B>>(
        &mut self,
        kind: IcmpError,
        buf: &B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let Some(src) = self.lan.ip() else { return };
        let dst_mac: Mac = ether::src_mac(buf.data());
        let offending = buf.data().get(ether::HEADER_LEN..).unwrap_or(&[]);
        let Some(mut reply) = pool.alloc() else {
            return self.counters.drop(DropReason::NoBuffer);
        };
        let at = HEADROOM + ether::HEADER_LEN;
        let id = self.ip_id.next_id();
        let built = reply
            .slot_mut()
            .get_mut(at..)
            .map(|o| build_error(kind, offending, src, id, o));
        let framed = match built {
            Some(Ok(n)) => prepend_ethernet(reply.slot_mut(), at, n, &dst_mac, &self.lan.mac).ok(),
            _ => None,
        };
        match framed {
            Some((s, l)) if reply.set_window(s, l) => {
                push_tx(out, Port::Lan, reply, pool, &mut self.counters)
            }
            _ => pool.free(reply),
        }
    }

    /// Answers the decrypted IPv4 packet `offending` with ICMP `kind`, sent
    /// back into the tunnel from our tunnel address (or LAN address without one).
    pub(crate) fn icmp_to_tunnel<P: BufPool<B>>(
        &mut self,
        kind: IcmpError,
        offending: &[u8],
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let Some(src) = self.tunnel_addr.map(|(a, _)| a).or(self.lan.ip()) else {
            return;
        };
        let Some(mut reply) = pool.alloc() else {
            return self.counters.drop(DropReason::NoBuffer);
        };
        let id = self.ip_id.next_id();
        let built = reply
            .slot_mut()
            .get_mut(HEADROOM..)
            .map(|o| build_error(kind, offending, src, id, o));
        match built {
            Some(Ok(n)) if reply.set_window(HEADROOM, n) => {
                self.send_into_tunnel(now, reply, out, pool)
            }
            _ => pool.free(reply),
        }
    }

    /// Runs both host stacks and sends what they produced; applies a DHCP
    /// lease to the WAN port.
    pub(crate) fn poll_hosts<P: BufPool<B>>(
        &mut self,
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let now_ms = (now.mono_ns / 1_000_000) as i64;
        for port in [Port::Lan, Port::Wan] {
            let st = self.port_mut(port);
            match st.host.poll(now_ms) {
                Some(DhcpEvent::Configured {
                    address,
                    prefix_len,
                    router,
                }) => {
                    st.addr = Some((address, prefix_len));
                    st.gateway = router;
                }
                Some(DhcpEvent::Deconfigured) => {
                    st.addr = None;
                    st.gateway = None;
                }
                None => {}
            }
            while self.port(port).host.has_tx() {
                // Left in the host stack's queue when the pool is dry: the
                // next tick sends it.
                let Some(mut b) = pool.alloc() else { break };
                let st = self.port_mut(port);
                let n = b
                    .slot_mut()
                    .get_mut(HEADROOM..)
                    .and_then(|o| st.host.pop_tx(o));
                match n {
                    Some(n) if b.set_window(HEADROOM, n) => {
                        push_tx(out, port, b, pool, &mut self.counters)
                    }
                    _ => pool.free(b),
                }
            }
        }
    }
}

/// Builds an ARP frame with `build` in a fresh buffer and queues it on `port`.
fn send_arp<B: PacketBuffer, P: BufPool<B>>(
    build: impl FnOnce(&mut [u8]) -> Option<usize>,
    port: Port,
    out: &mut TxLists<B>,
    pool: &mut P,
    counters: &mut crate::gateway::counters::GatewayCounters,
) {
    let Some(mut b) = pool.alloc() else {
        return counters.drop(DropReason::NoBuffer);
    };
    match b.slot_mut().get_mut(HEADROOM..).and_then(build) {
        Some(n) if b.set_window(HEADROOM, n) => push_tx(out, port, b, pool, counters),
        _ => pool.free(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::pcap;

    #[test]
    fn echo_reply_in_place_matches_linux() {
        // Frames 3 and 4 of the router capture: A pings R, R answers.
        let f = pcap::router();
        let mut req = f[3][14..].to_vec();
        let info = ipv4::validate(&req).unwrap();
        assert!(echo_reply_in_place(&mut req[..info.total_len], 20));
        let linux = &f[4][14..];
        // Linux keeps the request's ID and sets its own; compare the rest.
        assert_eq!(&req[12..20], &linux[12..20]);
        assert_eq!(&req[20..], &linux[20..], "ICMP reply identical");
        assert!(ipv4::validate(&req).is_ok());
        // Not an echo request any more: refused the second time.
        assert!(!echo_reply_in_place(&mut req[..info.total_len], 20));
    }

    #[test]
    fn echo_with_a_bad_checksum_is_not_answered() {
        let f = pcap::router();
        let mut req = f[3][14..].to_vec();
        let n = req.len();
        req[n - 1] ^= 0xff;
        assert!(!echo_reply_in_place(&mut req, 20));
        assert!(!echo_reply_in_place(&mut req[..25], 20));
    }
}
