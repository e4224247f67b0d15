//! LAN receive: classify a frame, then ARP, the appliance itself, or
//! forwarding into the tunnel.
//!
//! Forwarding follows Linux's order (see `gateway::forward`): the route
//! first (a destination no peer's AllowedIPs cover gets ICMP host
//! unreachable, as the conformance notes ask), then TTL, MTU/DF, the TTL
//! decrement and MSS clamping, all on the packet where the NIC wrote it.
//! The window then shrinks to the IPv4 packet (dropping the Ethernet header
//! and any Ethernet padding) and the engine seals it in place.

use core::net::{IpAddr, Ipv4Addr};

use super::{BufPool, Gateway, PacketBuffer, Port, TxLists};
use crate::gateway::classify::{classify_lan, LanFrame, LanIdentity};
use crate::gateway::counters::DropReason;
use crate::gateway::ether;
use crate::gateway::forward::forward;
use crate::gateway::icmp::IcmpError;
use crate::gateway::ipv4::Ipv4Info;
use crate::wireguard::{Aead, Rng, Time};

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Processes one frame received on the LAN port. The buffer ends up in
    /// `out`, in a queue of the gateway, or back in `pool` with a counter.
    pub fn process_lan<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        self.lan_in(now, buf, out, pool, false)
    }

    /// One LAN frame; with `burst`, a packet for the tunnel is staged for
    /// the burst's one engine call instead of sealed alone, and the stage
    /// is flushed before any frame that answers locally, so frames leave
    /// in the order per-frame processing would send them.
    pub(super) fn lan_in<P: BufPool<B>>(
        &mut self,
        now: Time,
        buf: B,
        out: &mut TxLists<B>,
        pool: &mut P,
        burst: bool,
    ) {
        let Some((ip, prefix_len)) = self.lan.addr else {
            return self.drop_buf(buf, DropReason::NotForUs, pool);
        };
        let mut others = [Ipv4Addr::UNSPECIFIED; 2];
        let mut n = 0;
        for a in [self.tunnel_addr.map(|(a, _)| a), self.wan.ip()]
            .into_iter()
            .flatten()
        {
            others[n] = a;
            n += 1;
        }
        let us = LanIdentity {
            mac: self.lan.mac,
            ip,
            prefix_len,
            other_ips: &others[..n],
        };
        match classify_lan(buf.data(), &us) {
            LanFrame::Arp => {
                if burst {
                    self.flush_lan_stage(now, out, pool);
                }
                self.arp_in(Port::Lan, now, buf, out, pool)
            }
            LanFrame::Local => {
                if burst {
                    self.flush_lan_stage(now, out, pool);
                }
                self.local_in(Port::Lan, buf, out, pool)
            }
            LanFrame::Forward(info) => self.lan_forward(now, buf, info, out, pool, burst),
            LanFrame::Ipv6 => self.drop_buf(buf, DropReason::Unsupported, pool),
            LanFrame::NotForUs => self.drop_buf(buf, DropReason::NotForUs, pool),
            LanFrame::Refused(e) => self.drop_buf(buf, e.drop_reason(), pool),
        }
    }

    /// Forwards the LAN packet described by `info` into the tunnel.
    fn lan_forward<P: BufPool<B>>(
        &mut self,
        now: Time,
        mut buf: B,
        info: Ipv4Info,
        out: &mut TxLists<B>,
        pool: &mut P,
        burst: bool,
    ) {
        if self.engine.route(IpAddr::V4(info.dst)).is_none() {
            if burst {
                // The ICMP error takes an IP ID: the staged packets first.
                self.flush_lan_stage(now, out, pool);
            }
            self.icmp_to_lan(IcmpError::HostUnreachable, &buf, out, pool);
            return self.drop_buf(buf, DropReason::NoRoute, pool);
        }
        let s = buf.start() + ether::HEADER_LEN;
        let (mtu, mss) = (self.mtu, self.mss);
        let r = match buf.slot_mut().get_mut(s..s + info.total_len) {
            Some(p) => forward(p, &info, mtu, mss),
            None => return self.drop_buf(buf, DropReason::BadFrame, pool),
        };
        match r {
            Ok(_) if buf.set_window(s, info.total_len) => {
                if burst {
                    self.stage_lan(now, buf, out, pool)
                } else {
                    self.send_into_tunnel(now, buf, out, pool)
                }
            }
            Ok(_) => self.drop_buf(buf, DropReason::BadFrame, pool),
            Err(nf) => {
                if let Some(kind) = nf.icmp() {
                    if burst {
                        self.flush_lan_stage(now, out, pool);
                    }
                    self.icmp_to_lan(kind, &buf, out, pool);
                }
                self.drop_buf(buf, nf.drop_reason(), pool);
            }
        }
    }
}
