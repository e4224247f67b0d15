//! What the console's gateway commands (`ip route`, `ip neigh`, `peer`) ask
//! of a running gateway, as an object-safe trait so the shell needs no
//! knowledge of driver or buffer types. The kernel implements it over its
//! data plane (`net/gw/diag.rs`); tests implement it over a fake.

use core::fmt::{self, Write};

use netfn::config::PeerConfig;
use netfn::gateway::pipeline::console::PeerChangeError;

/// The gateway as the console sees it.
pub trait GatewayConsole {
    /// `ip route`.
    fn ip_route(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// `ip neigh`.
    fn ip_neigh(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// `peer add`: validated against the running configuration.
    fn peer_add(&mut self, peer: PeerConfig) -> Result<(), PeerChangeError>;
    /// `peer remove`.
    fn peer_remove(&mut self, public_key: &[u8; 32]) -> Result<(), PeerChangeError>;
}
