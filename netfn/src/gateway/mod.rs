//! The gateway packet path: classify, encapsulate, decapsulate, neighbours, counters.
//!
//! These are the allocation-free, in-place building blocks the poll loop's
//! pipeline is assembled from; each works on a byte slice (with headroom
//! before the frame where it writes headers) and returns what it decided,
//! never touching a device or a clock. One file per concern:
//! - [`checksum`]: RFC 1071 sums and RFC 1624 incremental updates.
//! - [`counters`]: one named drop reason per cause, traffic per direction.
//! - [`ipv4`]: header validation, TTL decrement, DF.
//! - [`mss`]: TCP MSS clamping on SYN segments crossing the tunnel.
//! - [`icmp`]: ICMPv4 errors (time exceeded, fragmentation needed, host unreachable).
//! - [`outer`]: outer Ethernet/IPv4/UDP headers for WireGuard datagrams, and
//!   the WAN receive classifier.
//! - [`classify`]: the LAN receive classifier.
//! - [`forward`]: TTL, MTU and MSS steps of forwarding, framing decrypted packets.
//! - [`ether`]: Ethernet offsets, EtherTypes, and the refusal reasons.
//! - [`neigh`]: the neighbour table with bounded pending queues.
//! - [`arp`]: ARP messages: parse, request, reply, gratuitous.
//! - [`pipeline`]: the [`pipeline::Gateway`] that puts these together for the poll loop.

pub mod arp;
pub mod checksum;
pub mod classify;
pub mod counters;
pub mod ether;
pub mod forward;
pub mod icmp;
pub mod ipv4;
pub mod mss;
pub mod neigh;
pub mod outer;
pub mod pipeline;

#[cfg(test)]
pub(crate) mod pcap;
#[cfg(test)]
mod pipeline_tests;
