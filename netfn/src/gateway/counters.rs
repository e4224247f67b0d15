//! Drop reasons and traffic counters for the `stats` console command.
//!
//! Every packet the gateway does not deliver is dropped for exactly one
//! [`DropReason`], and each reason has a stable short name so the console,
//! tests and scripts can grep for it across versions. The counters are a
//! plain array indexed by the reason: one add on the data path, no branches.
//!
//! The WireGuard engine's errors map onto these reasons as follows (the
//! mapping lives with the integration, so the engine stays independent):
//! malformed / unknown type / bad length → `bad-wireguard`; bad MAC1 or
//! transport tag → `bad-mac`; unknown peer, failed handshake, low-order key,
//! stale timestamp, initiation flood, unexpected response or cookie →
//! `bad-handshake`; rate limited → `rate-limited`; unknown receiver index →
//! `no-session`; replayed or too old counter → `replay`; expired keypair →
//! `session-expired`; inner source outside AllowedIPs →
//! `allowed-ips-mismatch`; no peer for the destination → `no-route`; no
//! endpoint → `no-endpoint`; no room in the buffer → `no-buffer`.

use core::fmt;

/// Why a packet was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// The packet pool was empty.
    NoBuffer,
    /// The transmit ring had no free slot.
    RingFull,
    /// Too short for its Ethernet header, or otherwise not a frame.
    BadFrame,
    /// A malformed IPv4 header (version, IHL, total length).
    BadIpv4Header,
    /// An IPv4 header with a wrong checksum.
    BadIpv4Checksum,
    /// A malformed UDP header (length field).
    BadUdp,
    /// Unicast to another MAC or IP address: not for the appliance.
    NotForUs,
    /// No peer's AllowedIPs and no LAN route covers the destination.
    NoRoute,
    /// A transport packet for a session that does not exist (unknown index).
    NoSession,
    /// A transport packet whose counter the replay window refuses.
    Replay,
    /// A WireGuard message whose authentication (AEAD tag or MAC1) failed.
    BadMac,
    /// A WireGuard message of the wrong size or type.
    BadWireGuard,
    /// A handshake message that was refused (unknown peer, stale timestamp, ...).
    BadHandshake,
    /// Under load: the handshake was answered with a cookie instead.
    CookieRequired,
    /// Under load: the source exceeded its handshake budget.
    RateLimited,
    /// A transport packet for a keypair past its reject limits.
    SessionExpired,
    /// A packet for a peer with no known endpoint yet.
    NoEndpoint,
    /// A decrypted packet whose source is not in the sending peer's AllowedIPs.
    AllowedIpsMismatch,
    /// Larger than the tunnel MTU with DF set: ICMP fragmentation-needed sent.
    MtuExceeded,
    /// Larger than the tunnel MTU without DF: the first version does not fragment.
    TooBigNoDf,
    /// TTL reached zero on forwarding: ICMP time-exceeded sent.
    TtlExpired,
    /// IPv4 fragments the gateway does not handle here.
    Fragment,
    /// The per-peer queue awaiting a handshake was full.
    HandshakeQueueFull,
    /// The queue awaiting ARP resolution of a next hop was full.
    ArpQueueFull,
    /// The next hop did not answer ARP.
    ArpFailed,
    /// The neighbour table had no room for another unresolved next hop.
    NeighTableFull,
    /// The slow-path (host stack) queue was full.
    HostQueueFull,
    /// A protocol or EtherType the appliance does not handle (IPv6, VLAN, ...).
    Unsupported,
    /// Broadcast or multicast traffic, which is never forwarded.
    NotForwarded,
}

impl DropReason {
    /// How many reasons there are (the counters array length).
    pub const COUNT: usize = 29;

    /// Every reason, in counter order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::NoBuffer,
        DropReason::RingFull,
        DropReason::BadFrame,
        DropReason::BadIpv4Header,
        DropReason::BadIpv4Checksum,
        DropReason::BadUdp,
        DropReason::NotForUs,
        DropReason::NoRoute,
        DropReason::NoSession,
        DropReason::Replay,
        DropReason::BadMac,
        DropReason::BadWireGuard,
        DropReason::BadHandshake,
        DropReason::CookieRequired,
        DropReason::RateLimited,
        DropReason::SessionExpired,
        DropReason::NoEndpoint,
        DropReason::AllowedIpsMismatch,
        DropReason::MtuExceeded,
        DropReason::TooBigNoDf,
        DropReason::TtlExpired,
        DropReason::Fragment,
        DropReason::HandshakeQueueFull,
        DropReason::ArpQueueFull,
        DropReason::ArpFailed,
        DropReason::NeighTableFull,
        DropReason::HostQueueFull,
        DropReason::Unsupported,
        DropReason::NotForwarded,
    ];

    /// The stable short name shown by `stats` (never change one: scripts grep them).
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::NoBuffer => "no-buffer",
            DropReason::RingFull => "ring-full",
            DropReason::BadFrame => "bad-frame",
            DropReason::BadIpv4Header => "bad-ipv4-header",
            DropReason::BadIpv4Checksum => "bad-ipv4-checksum",
            DropReason::BadUdp => "bad-udp",
            DropReason::NotForUs => "not-for-us",
            DropReason::NoRoute => "no-route",
            DropReason::NoSession => "no-session",
            DropReason::Replay => "replay",
            DropReason::BadMac => "bad-mac",
            DropReason::BadWireGuard => "bad-wireguard",
            DropReason::BadHandshake => "bad-handshake",
            DropReason::CookieRequired => "cookie-required",
            DropReason::RateLimited => "rate-limited",
            DropReason::SessionExpired => "session-expired",
            DropReason::NoEndpoint => "no-endpoint",
            DropReason::AllowedIpsMismatch => "allowed-ips-mismatch",
            DropReason::MtuExceeded => "mtu-exceeded",
            DropReason::TooBigNoDf => "too-big-no-df",
            DropReason::TtlExpired => "ttl-expired",
            DropReason::Fragment => "fragment",
            DropReason::HandshakeQueueFull => "handshake-queue-full",
            DropReason::ArpQueueFull => "arp-queue-full",
            DropReason::ArpFailed => "arp-failed",
            DropReason::NeighTableFull => "neigh-table-full",
            DropReason::HostQueueFull => "host-queue-full",
            DropReason::Unsupported => "unsupported",
            DropReason::NotForwarded => "not-forwarded",
        }
    }

    /// The reason with this stable name, for scripts and tests.
    pub fn from_name(name: &str) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One counter per [`DropReason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropCounters([u64; DropReason::COUNT]);

impl Default for DropCounters {
    fn default() -> DropCounters {
        DropCounters([0; DropReason::COUNT])
    }
}

impl DropCounters {
    /// Counts one drop.
    #[inline]
    pub fn count(&mut self, reason: DropReason) {
        self.add(reason, 1);
    }

    /// Counts `n` drops (a whole burst at once).
    #[inline]
    pub fn add(&mut self, reason: DropReason, n: u64) {
        let c = &mut self.0[reason as usize];
        *c = c.wrapping_add(n);
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// All drops together.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.wrapping_add(*b))
    }

    /// Reasons with a non-zero count, in counter order (what `stats` prints).
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|(_, n)| *n != 0)
    }
}

/// Which way a packet crosses the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the LAN, encrypted into the tunnel.
    LanToTunnel = 0,
    /// From the tunnel, decrypted onto the LAN.
    TunnelToLan = 1,
}

/// Packets and bytes delivered in one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// Packets delivered.
    pub packets: u64,
    /// Inner (plaintext IP) bytes delivered.
    pub bytes: u64,
}

/// The gateway's counters: drops by reason, traffic by direction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GatewayCounters {
    /// Drops by reason.
    pub drops: DropCounters,
    traffic: [Traffic; 2],
}

impl GatewayCounters {
    /// Counts one delivered packet of `bytes` bytes.
    #[inline]
    pub fn delivered(&mut self, dir: Direction, bytes: usize) {
        let t = &mut self.traffic[dir as usize];
        t.packets = t.packets.wrapping_add(1);
        t.bytes = t.bytes.wrapping_add(bytes as u64);
    }

    /// Counts one drop.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops.count(reason);
    }

    /// Traffic delivered in one direction.
    pub fn traffic(&self, dir: Direction) -> Traffic {
        self.traffic[dir as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_in_discriminant_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r}");
        }
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for r in DropReason::ALL {
            assert_eq!(DropReason::from_name(r.name()), Some(r));
            assert!(r
                .name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()));
        }
        assert_eq!(DropReason::from_name("nope"), None);
    }

    #[test]
    fn counters_count_by_reason_and_direction() {
        let mut c = GatewayCounters::default();
        c.drop(DropReason::Replay);
        c.drop(DropReason::Replay);
        c.drops.add(DropReason::NoBuffer, 5);
        c.delivered(Direction::LanToTunnel, 84);
        c.delivered(Direction::LanToTunnel, 16);
        assert_eq!(c.drops.get(DropReason::Replay), 2);
        assert_eq!(c.drops.total(), 7);
        let nz: alloc::vec::Vec<_> = c.drops.nonzero().collect();
        assert_eq!(nz, [(DropReason::NoBuffer, 5), (DropReason::Replay, 2)]);
        assert_eq!(
            c.traffic(Direction::LanToTunnel),
            Traffic {
                packets: 2,
                bytes: 100
            }
        );
        assert_eq!(c.traffic(Direction::TunnelToLan), Traffic::default());
    }
}
