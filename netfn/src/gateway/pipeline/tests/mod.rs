//! End-to-end tests of the pipeline in memory: a fake LAN host, a fake WAN
//! router and boringtun 0.7 (`noise::Tunn`, an independent WireGuard
//! implementation) as the remote peer behind it, with every frame the
//! gateway sends travelling through them and back.
//!
//! The topology is the one the Linux captures in `gateway/testdata` were
//! taken on, so captured frames can be fed in unchanged: LAN host A
//! 192.168.10.20 (52:54:00:0a:00:14) behind our LAN port 192.168.10.1
//! (52:54:00:0a:00:01); the far side's host 10.20.0.5 sits behind the peer.
//! Our WAN port is 198.51.100.1/24 with gateway 198.51.100.254; the peer's
//! endpoint 203.0.113.7:51820 is off-link, so everything to it goes through
//! the router's MAC. Every test ends with [`World::finish`], which checks
//! that every buffer came back to the pool.

mod burst;
mod console;
mod edges;
mod fuzz;
mod harness;
mod interop;
mod noalloc;
mod slowpath;

pub(super) use super::{BufPool, PacketBuffer, Port};
pub(super) use crate::gateway::ether::Mac;
pub(super) use alloc::vec::Vec;
pub(super) use core::net::Ipv4Addr;
pub(super) use harness::*;
