//! What the serial console changes or originates in a running gateway: peers
//! added and removed at run time (`peer add`/`peer remove`), and the
//! appliance's own pings into the tunnel (`ping` to a peer's address).
//!
//! These run on the console, between poll-loop turns, so they may allocate
//! (a new peer's queue, the configuration's peer list). The tunnel ping is a
//! plain ICMP echo from the tunnel address sealed like any LAN packet; its
//! replies come back decrypted to the tunnel address, where `wan` hands
//! those carrying [`OWN_ECHO_IDENT`] to [`OwnEcho`] instead of dropping
//! them, and the console collects them with [`Gateway::recv_tunnel_echo`].

use core::fmt;
use core::net::Ipv4Addr;

use super::{BufPool, Gateway, PacketBuffer, TxLists, HEADROOM};
use crate::config::{validate_new_peer, ErrorKind, PeerConfig};
use crate::gateway::checksum;
use crate::gateway::ipv4::{self, PROTO_ICMP};
use crate::gateway::neigh::PendingQueue;
use crate::hoststack::EchoReply;
use crate::wireguard::{self, Aead, PeerError, PeerId, Rng, Time};

/// The ICMP identifier of the appliance's own tunnel pings ("RW").
pub const OWN_ECHO_IDENT: u16 = 0x5257;
/// Replies kept until the console collects them.
const OWN_ECHO_REPLIES: usize = 8;
/// ICMP echo request / reply types (RFC 792).
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
/// TTL of the appliance's own packets.
const OWN_TTL: u8 = 64;

/// Echo replies to the appliance's own tunnel pings, oldest first.
#[derive(Debug, Default)]
pub struct OwnEcho {
    replies: [Option<EchoReply>; OWN_ECHO_REPLIES],
    head: usize,
}

impl OwnEcho {
    /// Keeps a reply; the oldest is overwritten when the console is slow.
    fn push(&mut self, r: EchoReply) {
        let free = (0..OWN_ECHO_REPLIES)
            .map(|i| (self.head + i) % OWN_ECHO_REPLIES)
            .find(|&i| self.replies[i].is_none());
        match free {
            Some(i) => self.replies[i] = Some(r),
            None => {
                self.replies[self.head] = Some(r);
                self.head = (self.head + 1) % OWN_ECHO_REPLIES;
            }
        }
    }

    fn pop(&mut self) -> Option<EchoReply> {
        for i in 0..OWN_ECHO_REPLIES {
            let at = (self.head + i) % OWN_ECHO_REPLIES;
            if let Some(r) = self.replies[at].take() {
                self.head = (at + 1) % OWN_ECHO_REPLIES;
                return Some(r);
            }
        }
        None
    }
}

/// Takes the decrypted IPv4 packet `pkt` (header `hl` bytes) when it is an
/// echo reply to one of the appliance's own tunnel pings.
pub(crate) fn own_echo_reply(pkt: &[u8], hl: usize) -> Option<EchoReply> {
    let icmp = pkt.get(hl..)?;
    let ident = u16::from_be_bytes([*icmp.get(4)?, *icmp.get(5)?]);
    if icmp.len() < 8 || icmp[0] != ECHO_REPLY || ident != OWN_ECHO_IDENT {
        return None;
    }
    Some(EchoReply {
        from: Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        len: icmp.len() - 8,
    })
}

/// Why a run-time peer change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerChangeError {
    /// The configuration file's rules refuse the peer (first reason).
    Invalid(ErrorKind),
    /// The engine refused the key.
    Engine(PeerError),
    /// No peer has this public key.
    NoSuchPeer,
}

impl fmt::Display for PeerChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerChangeError::Invalid(e) => write!(f, "{e}"),
            PeerChangeError::Engine(PeerError::DuplicateKey) => {
                f.write_str("a peer with this public key exists")
            }
            PeerChangeError::Engine(PeerError::OwnKey) => {
                f.write_str("the key is the appliance's own public key")
            }
            PeerChangeError::Engine(PeerError::LowOrderKey) => {
                f.write_str("the key is a low-order point (never secure)")
            }
            PeerChangeError::Engine(PeerError::NoSuchPeer) | PeerChangeError::NoSuchPeer => {
                f.write_str("no peer has this public key")
            }
        }
    }
}

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Adds `peer` at run time, checked by the configuration file's rules
    /// against the running configuration; `config()` shows it afterwards.
    pub fn add_peer(&mut self, peer: PeerConfig) -> Result<PeerId, PeerChangeError> {
        if let Err(errors) = validate_new_peer(&self.config, &peer) {
            if let Some(first) = errors.into_iter().next() {
                return Err(PeerChangeError::Invalid(first));
            }
        }
        let cfg = wireguard::PeerConfig {
            public_key: peer.public_key,
            preshared_key: peer.preshared_key.as_ref().map(|s| *s.expose()),
            endpoint: peer.endpoint,
            allowed_ips: peer.allowed_ips.clone(),
            persistent_keepalive: peer.persistent_keepalive,
        };
        let id = self
            .engine
            .add_peer(&cfg)
            .map_err(PeerChangeError::Engine)?;
        let need = id.0 as usize + 1;
        if self.queues.len() < need {
            self.queues.resize_with(need, PendingQueue::new);
        }
        self.config.peers.push(peer);
        Ok(id)
    }

    /// Removes the peer with `public_key`: its queued packets are freed, its
    /// sessions and routes go, and `config()` no longer lists it.
    pub fn remove_peer<P: BufPool<B>>(
        &mut self,
        public_key: &[u8; 32],
        pool: &mut P,
    ) -> Result<(), PeerChangeError> {
        let id = self
            .engine
            .peer_by_key(public_key)
            .ok_or(PeerChangeError::NoSuchPeer)?;
        self.drop_queue(id, pool);
        self.engine
            .remove_peer(id)
            .map_err(PeerChangeError::Engine)?;
        self.config.peers.retain(|p| p.public_key != *public_key);
        Ok(())
    }

    /// Sends the appliance's own echo request (`payload_len` bytes, sequence
    /// `seq`) from its tunnel address to `dst` into the tunnel. False when
    /// there is no tunnel address, no buffer, or the packet would not fit.
    #[allow(clippy::too_many_arguments)]
    pub fn send_tunnel_echo<P: BufPool<B>>(
        &mut self,
        now: Time,
        dst: Ipv4Addr,
        seq: u16,
        payload_len: usize,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) -> bool {
        let Some((src, _)) = self.tunnel_addr else {
            return false;
        };
        let total = ipv4::HEADER_LEN + 8 + payload_len;
        if total > usize::from(self.mtu) {
            return false;
        }
        let Some(mut buf) = pool.alloc() else {
            return false;
        };
        let id = self.ip_id.next_id();
        let Some(pkt) = buf.slot_mut().get_mut(HEADROOM..HEADROOM + total) else {
            pool.free(buf);
            return false;
        };
        // RFC 792 echo: type, code, checksum, identifier, sequence, data.
        let (header, icmp) = pkt.split_at_mut(ipv4::HEADER_LEN);
        ipv4::write_header(
            header,
            0,
            total as u16,
            id,
            true,
            OWN_TTL,
            PROTO_ICMP,
            src,
            dst,
        );
        icmp[..8].copy_from_slice(&[ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 0]);
        icmp[4..6].copy_from_slice(&OWN_ECHO_IDENT.to_be_bytes());
        icmp[6..8].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in icmp[8..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let c = checksum::checksum(icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        if !buf.set_window(HEADROOM, total) {
            pool.free(buf);
            return false;
        }
        self.send_into_tunnel(now, buf, out, pool);
        true
    }

    /// The next echo reply to the appliance's own tunnel pings.
    pub fn recv_tunnel_echo(&mut self) -> Option<EchoReply> {
        self.own_echo.pop()
    }

    /// Keeps a reply `wan` recognised (see [`own_echo_reply`]).
    pub(crate) fn keep_own_echo(&mut self, r: EchoReply) {
        self.own_echo.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(seq: u16) -> EchoReply {
        EchoReply {
            from: Ipv4Addr::new(10, 99, 0, 2),
            seq,
            len: 56,
        }
    }

    #[test]
    fn own_echo_keeps_order_and_the_newest_when_full() {
        let mut o = OwnEcho::default();
        assert_eq!(o.pop(), None);
        for s in 0..3 {
            o.push(reply(s));
        }
        assert_eq!(o.pop().map(|r| r.seq), Some(0));
        for s in 3..12 {
            o.push(reply(s));
        }
        let seqs: Vec<u16> = core::iter::from_fn(|| o.pop()).map(|r| r.seq).collect();
        assert_eq!(seqs, (4..12).collect::<Vec<u16>>());
    }

    #[test]
    fn recognises_only_replies_with_our_ident() {
        // 20-byte IPv4 header from 10.99.0.2, then an echo reply, ident "RW", seq 7.
        let mut pkt = vec![0u8; 20 + 8 + 4];
        pkt[0] = 0x45;
        pkt[12..16].copy_from_slice(&[10, 99, 0, 2]);
        pkt[20] = ECHO_REPLY;
        pkt[24..26].copy_from_slice(&OWN_ECHO_IDENT.to_be_bytes());
        pkt[26..28].copy_from_slice(&7u16.to_be_bytes());
        let r = own_echo_reply(&pkt, 20).unwrap();
        assert_eq!((r.from, r.seq, r.len), (Ipv4Addr::new(10, 99, 0, 2), 7, 4));
        let mut other = pkt.clone();
        other[24] = 0;
        assert_eq!(own_echo_reply(&other, 20), None);
        let mut request = pkt.clone();
        request[20] = ECHO_REQUEST;
        assert_eq!(own_echo_reply(&request, 20), None);
        assert_eq!(own_echo_reply(&pkt[..25], 20), None);
    }
}
