//! WAN receive: WireGuard datagrams to the engine, decrypted packets onto
//! the LAN, ARP and the appliance's own traffic.
//!
//! A datagram is opened in place; the engine has already checked the tag,
//! the replay window and the inner source against the peer's AllowedIPs
//! before it says `Data`, and it has trimmed the padding. The packet then
//! goes the same forwarding steps as the other way (TTL, MTU, MSS) and gets
//! a new Ethernet header in front, in the same buffer. Handshake answers
//! (responses, cookie replies, the keepalive after our handshake) are
//! written into the received buffer too, so a handshake allocates nothing.

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::{BufPool, Gateway, PacketBuffer, Port, TxLists, LAN_MTU};
use crate::gateway::counters::{Direction, DropReason};
use crate::gateway::forward::{forward, inner_ipv4, prepend_ethernet};
use crate::gateway::icmp::IcmpError;
use crate::gateway::ipv4::PROTO_ICMP;
use crate::gateway::outer::{classify_wan, WanFrame, WanIdentity};
use crate::wireguard::{self, Aead, Decap, PeerId, Rng, Time};

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Processes one frame received on the WAN port. The buffer ends up in
    /// `out`, in a queue of the gateway, or back in `pool` with a counter.
    pub fn process_wan<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        self.wan_in(now, buf, out, pool, false)
    }

    /// One WAN frame; with `burst`, a WireGuard datagram is staged for the
    /// burst's one engine call instead of opened alone, and the stage is
    /// flushed before any frame that answers locally (ARP may resolve the
    /// next hop the staged packets' answers go to).
    pub(super) fn wan_in<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
        burst: bool,
    ) {
        let us = WanIdentity {
            mac: self.wan.mac,
            ip: self.wan.ip(),
            listen_port: self.listen_port,
        };
        match classify_wan(buf.data(), &us) {
            WanFrame::Arp => {
                if burst {
                    self.flush_wan_stage(now, out, pool);
                }
                self.arp_in(Port::Wan, now, buf, out, pool)
            }
            WanFrame::WireGuard { from, offset, len } if burst => {
                self.stage_wan(now, buf, from, offset, len, out, pool)
            }
            WanFrame::WireGuard { from, offset, len } => {
                self.wireguard_in(now, buf, from, offset, len, out, pool)
            }
            WanFrame::Local => {
                if burst {
                    self.flush_wan_stage(now, out, pool);
                }
                self.local_in(Port::Wan, buf, out, pool)
            }
            WanFrame::NotForUs => self.drop_buf(buf, DropReason::NotForUs, pool),
            WanFrame::Refused(e) => self.drop_buf(buf, e.drop_reason(), pool),
        }
    }

    /// A datagram for the engine at `offset` of the frame, `len` bytes.
    #[allow(clippy::too_many_arguments)] // one datagram's whole context
    pub(super) fn wireguard_in<P: BufPool<B>>(
        &mut self,
        now: Time,
        mut buf: B,
        from: SocketAddrV4,
        offset: usize,
        len: usize,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let s = buf.start() + offset;
        let r = self.engine.decapsulate(
            now,
            SocketAddr::V4(from),
            buf.slot_mut(),
            s,
            len,
            &mut self.scratch,
        );
        self.wireguard_result(now, buf, r, out, pool)
    }

    /// Acts on what the engine said about the datagram in `buf`: deliver,
    /// answer (from `scratch`), resubmit queued packets, or drop.
    pub(super) fn wireguard_result<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        r: Result<Decap, wireguard::Error>,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        match r {
            Ok(Decap::Data {
                peer,
                start,
                len,
                new_session,
            }) => {
                if new_session {
                    self.flush_peer(now, peer, out, pool);
                }
                self.deliver_from_tunnel(now, buf, start, len, out, pool);
            }
            Ok(Decap::Keepalive { peer, new_session }) => {
                pool.free(buf);
                if new_session {
                    self.flush_peer(now, peer, out, pool);
                }
            }
            Ok(Decap::Reply { endpoint, len, .. }) | Ok(Decap::CookieReply { endpoint, len }) => {
                self.send_message(now, len, endpoint, Some(buf), out, pool)
            }
            Ok(Decap::HandshakeComplete {
                peer,
                endpoint,
                len,
            }) => {
                self.send_message(now, len, endpoint, Some(buf), out, pool);
                self.flush_peer(now, peer, out, pool);
            }
            Ok(Decap::CookieStored { .. }) => pool.free(buf),
            Err(e) => self.drop_buf(buf, super::engine_drop_reason(e), pool),
        }
    }

    /// The decrypted packet at `buf.slot()[start..start + len]`: to the
    /// appliance itself, or forwarded onto the LAN.
    fn deliver_from_tunnel<P: BufPool<B>>(
        &mut self,
        now: Time,
        mut buf: B,
        start: usize,
        len: usize,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let info = match inner_ipv4(buf.slot(), start, len) {
            Ok(i) => i,
            Err(e) => return self.drop_buf(buf, e.drop_reason(), pool),
        };
        if !buf.set_window(start, info.total_len) {
            return self.drop_buf(buf, DropReason::BadFrame, pool);
        }
        if self.is_own_address(info.dst) {
            let hl = info.header_len;
            // A reply to the console's own ping through the tunnel.
            let own = (info.protocol == PROTO_ICMP && !info.is_fragment())
                .then(|| buf.slot().get(start..start + info.total_len))
                .flatten()
                .and_then(|p| super::console::own_echo_reply(p, hl));
            if let Some(reply) = own {
                self.keep_own_echo(reply);
                return pool.free(buf);
            }
            // A ping to the tunnel (or LAN) address through the tunnel:
            // answered in place and sent back the way it came.
            let answered = info.protocol == PROTO_ICMP
                && !info.is_fragment()
                && buf
                    .slot_mut()
                    .get_mut(start..start + info.total_len)
                    .is_some_and(|p| super::local::echo_reply_in_place(p, hl));
            return if answered {
                self.send_into_tunnel(now, buf, out, pool)
            } else {
                self.drop_buf(buf, DropReason::Unsupported, pool)
            };
        }
        if self.is_lan_group_address(info.dst) {
            // No directed broadcasts (RFC 2644) or multicast from the tunnel.
            return self.drop_buf(buf, DropReason::NotForwarded, pool);
        }
        let Some(hop) = self.lan.next_hop(info.dst) else {
            self.icmp_to_tunnel(IcmpError::HostUnreachable, buf.data(), now, out, pool);
            return self.drop_buf(buf, DropReason::NoRoute, pool);
        };
        let mss = self.mss;
        let r = match buf.slot_mut().get_mut(start..start + info.total_len) {
            Some(p) => forward(p, &info, LAN_MTU, mss),
            None => return self.drop_buf(buf, DropReason::BadFrame, pool),
        };
        if let Err(nf) = r {
            if let Some(kind) = nf.icmp() {
                self.icmp_to_tunnel(kind, buf.data(), now, out, pool);
            }
            return self.drop_buf(buf, nf.drop_reason(), pool);
        }
        let framed = prepend_ethernet(
            buf.slot_mut(),
            start,
            info.total_len,
            &[0; 6], // filled by the neighbour table
            &self.lan.mac,
        );
        match framed {
            Ok((s, l)) if buf.set_window(s, l) => {
                self.counters
                    .delivered(Direction::TunnelToLan, info.total_len);
                self.emit(Port::Lan, hop, buf, now, out, pool);
            }
            _ => self.drop_buf(buf, DropReason::NoBuffer, pool),
        }
    }

    /// True for a broadcast, multicast or unspecified address, or the LAN
    /// subnet's broadcast address: nothing the tunnel may send to.
    fn is_lan_group_address(&self, dst: Ipv4Addr) -> bool {
        let subnet_broadcast = self.lan.addr.and_then(|(a, len)| {
            (len < 31).then(|| Ipv4Addr::from(u32::from(a) | (u32::MAX >> len)))
        });
        dst.is_broadcast()
            || dst.is_multicast()
            || dst.is_unspecified()
            || subnet_broadcast == Some(dst)
    }

    /// True when `peer` has packets waiting and a session to send them with.
    pub(crate) fn ready_to_flush(&self, peer: PeerId, now: Time) -> bool {
        self.queued(peer) > 0 && self.engine.has_session(peer, now.mono_ns)
    }

    /// True when the engine routes `dst` to some peer.
    pub fn routes_to_tunnel(&self, dst: core::net::Ipv4Addr) -> bool {
        self.engine.route(IpAddr::V4(dst)).is_some()
    }
}
