//! WireGuard protocol engine: Noise_IKpsk2 handshake, cookies, keypairs,
//! replay window, timers, peers and allowed IPs.
//!
//! Sans-I/O and allocation-free per data packet: the caller passes the time
//! ([`Time`]), the packet (a byte slice with an offset and a length, so the
//! packet stays in the driver's DMA buffer) and somewhere to write a reply;
//! the [`Engine`] answers with what to do ([`Encap`], [`Decap`],
//! [`TickAction`]) or why the packet was dropped ([`Error`], one variant per
//! reason so the gateway counts drops by name). Randomness comes in through
//! [`Rng`]. The module split follows the protocol's concerns: primitives
//! (`crypto`, `aead`), wire (`messages`, `tai64`), handshake (`handshake`,
//! `cookie`, `ratelimit`), data (`session`, `replay`), peers (`peer`,
//! `timers`, `allowed_ips`) and the engine that ties them (`device`,
//! `receive`, `send`, and `burst` for whole bursts per AEAD call).

pub mod aead;
pub mod allowed_ips;
mod burst;
pub mod cookie;
pub mod crypto;
pub mod device;
pub mod handshake;
pub mod messages;
pub mod peer;
pub mod ratelimit;
mod receive;
pub mod replay;
mod send;
pub mod session;
pub mod tai64;
pub mod timers;

#[cfg(test)]
mod tests;

pub use aead::{Aead, RingAead, RustCryptoAead};
pub use burst::{DecapPacket, EncapPacket};
pub use device::{Decap, Encap, Engine, InterfaceStatus, PeerError, TickAction};
pub use peer::{PeerConfig, PeerStatus};

use core::fmt;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Initiator starts a new handshake after this many messages on a keypair.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// A keypair never sends or accepts a counter at or above this (2^64 − 2^13 − 1).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// Initiator rekeys on send once its keypair is this old.
pub const REKEY_AFTER_TIME: u64 = 120 * NANOS_PER_SEC;
/// A keypair this old is not used any more.
pub const REJECT_AFTER_TIME: u64 = 180 * NANOS_PER_SEC;
/// Give up retrying an initiation after this long.
pub const REKEY_ATTEMPT_TIME: u64 = 90 * NANOS_PER_SEC;
/// Retransmit an unanswered initiation after this (plus jitter).
pub const REKEY_TIMEOUT: u64 = 5 * NANOS_PER_SEC;
/// Send a keepalive when data arrived and nothing was sent for this long.
pub const KEEPALIVE_TIMEOUT: u64 = 10 * NANOS_PER_SEC;
/// Cookie secrets rotate this often.
pub const COOKIE_SECRET_MAX_AGE: u64 = 120 * NANOS_PER_SEC;
/// A received cookie is used for MAC2 only while younger than max age minus this.
pub const COOKIE_LATENCY: u64 = 5 * NANOS_PER_SEC;
/// At most one initiation per peer is consumed per this interval (20 ms).
pub const INITIATION_MIN_INTERVAL: u64 = NANOS_PER_SEC / 50;
/// Default tunnel MTU: padding never goes beyond it.
pub const DEFAULT_MTU: usize = 1420;

/// The time, given by the caller on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Monotonic nanoseconds (any origin; never goes backwards).
    pub mono_ns: u64,
    /// Wall clock as Unix nanoseconds, for TAI64N timestamps of initiations.
    pub unix_ns: u64,
}

/// A source of cryptographic randomness (RDRAND, virtio-rng, a seeded
/// generator in tests).
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A peer's handle: its slot in the engine's peer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u32);

/// Why a packet was dropped or a call refused: one variant per reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The datagram is too short for any message, or the arguments do not
    /// describe a slice of the buffer.
    Malformed,
    /// The type field is not a WireGuard message type.
    UnknownType,
    /// The length does not fit the message type.
    BadLength,
    /// MAC1 of a handshake message is wrong (not for us).
    BadMac1,
    /// The initiation's static key is not one of our peers.
    UnknownPeer,
    /// A handshake message failed to decrypt.
    BadHandshake,
    /// A public key or DH result was low order (all-zero shared secret).
    LowOrderKey,
    /// The initiation's TAI64N timestamp is not newer than the last accepted.
    StaleTimestamp,
    /// A second initiation from the same peer within 20 ms.
    InitiationFlood,
    /// The source exceeded its handshake budget while we are under load.
    RateLimited,
    /// No session or handshake uses the receiver index.
    UnknownReceiver,
    /// A response arrived that no pending initiation of ours matches.
    UnexpectedResponse,
    /// A cookie reply arrived for no message we sent.
    UnexpectedCookie,
    /// A cookie reply failed to decrypt.
    BadCookieReply,
    /// The transport message's tag did not verify.
    BadTag,
    /// The counter was already received.
    Replay,
    /// The counter is behind the replay window.
    TooOld,
    /// The keypair is past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES.
    SessionExpired,
    /// The decrypted payload is not a whole IPv4 or IPv6 packet.
    BadInnerPacket,
    /// The inner source address is outside the peer's allowed IPs.
    AllowedIpsMismatch,
    /// No peer's allowed IPs hold the inner destination.
    NoPeerForDestination,
    /// The peer has no known endpoint to send to.
    NoEndpoint,
    /// The buffer lacks headroom or tailroom, or the reply buffer is too small.
    NoRoom,
    /// The peer handle names no peer.
    NoSuchPeer,
    /// The AEAD back end refused a derived key (cannot happen with 32-byte keys).
    BadKey,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<messages::MessageError> for Error {
    fn from(e: messages::MessageError) -> Error {
        match e {
            messages::MessageError::Truncated => Error::Malformed,
            messages::MessageError::UnknownType => Error::UnknownType,
            messages::MessageError::BadLength => Error::BadLength,
        }
    }
}
