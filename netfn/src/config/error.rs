//! Configuration errors: one variant per cause, each tied to the line it came from.
//!
//! The appliance has no editor and often no operator watching the boot, so an
//! error must say exactly where and what: "line 12: bad base64 in PublicKey:
//! invalid base64 character at position 7". Line 0 means "the file as a whole"
//! (a section or key that is missing altogether) or, for run-time changes made
//! on the console, "the running configuration".

use alloc::string::String;
use core::fmt;

use crate::keys::{KeyError, KeyText};
use crate::prefix::{IpPrefix, PrefixError};

/// One problem found in the configuration, with the line it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number; 0 when the problem is not on one line.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a configuration line or with the configuration as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A `[Section]` header other than Interface, LAN, WAN or Peer.
    UnknownSection(String),
    /// A line that is neither blank, a comment, a `[Section]` nor `Key = Value`.
    MalformedLine,
    /// A key this appliance does not know in this section.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The section it appeared in.
        section: &'static str,
    },
    /// A wg-quick key that only makes sense on a Linux host (DNS, PostUp, ...).
    UnsupportedKey(String),
    /// `Key = Value` before the first section header.
    KeyOutsideSection(String),
    /// A single-valued key given twice in one section.
    DuplicateKey {
        /// The key's canonical name.
        key: &'static str,
        /// Where it was first given.
        first_line: usize,
    },
    /// `[Interface]`, `[LAN]` or `[WAN]` given twice.
    DuplicateSection {
        /// The section name.
        section: &'static str,
        /// Where it was first given.
        first_line: usize,
    },
    /// `Key =` with nothing after it.
    EmptyValue(&'static str),
    /// A key that is not valid base64 of 32 bytes.
    BadKey {
        /// Which key (PrivateKey, PublicKey, PresharedKey).
        key: &'static str,
        /// Why the text was refused.
        cause: KeyError,
    },
    /// An address prefix that does not parse.
    BadPrefix {
        /// The offending text.
        text: String,
        /// Why it was refused.
        cause: PrefixError,
    },
    /// An address where this version only handles IPv4.
    NotIpv4(String),
    /// A bare address (no prefix) that does not parse.
    BadAddress(String),
    /// A port that is not a number in 1..=65535.
    BadPort(String),
    /// An Endpoint that is not `a.b.c.d:port` or `[v6]:port`.
    BadEndpoint(String),
    /// An Endpoint given as a host name: the appliance has no resolver.
    EndpointIsDnsName(String),
    /// An IPv6 Endpoint: the WAN port has an IPv4 address only in this version.
    EndpointNotIpv4(String),
    /// PersistentKeepalive that is not `off` or a number in 0..=65535.
    BadKeepalive(String),
    /// MTU that is not a number in [`super::MTU_RANGE`].
    MtuOutOfRange(String),
    /// MssClamp that is not `off`, `auto` or a number in 536..=MTU-40.
    BadMssClamp(String),
    /// `Device =` that is not a PCI address such as `00:03.0`.
    BadDevice(String),
    /// `MAC =` that is not six colon-separated hex bytes.
    BadMac(String),
    /// Both Device and MAC in one port section: the port is chosen one way.
    DeviceAndMac(&'static str),
    /// LAN and WAN pick the same NIC.
    SameDevice,
    /// `Address = dhcp` outside [WAN].
    DhcpOnlyOnWan,
    /// `Gateway` together with `Address = dhcp` (DHCP supplies the router).
    GatewayWithDhcp,
    /// The port's own address is the network or broadcast address of its subnet.
    AddressNotHost(IpPrefix),
    /// A required section is absent.
    MissingSection(&'static str),
    /// `[Interface]` without PrivateKey.
    MissingPrivateKey,
    /// `[LAN]` or `[WAN]` without Address.
    MissingAddress(&'static str),
    /// `[Peer]` without PublicKey.
    MissingPublicKey,
    /// Two peers with the same public key.
    DuplicatePeer {
        /// Where the first one was given (0: the running configuration).
        first_line: usize,
    },
    /// A peer whose public key is the appliance's own.
    PeerIsSelf,
    /// The same AllowedIPs prefix (host bits cleared) on two peers.
    AllowedIpTaken {
        /// The prefix, normalised.
        prefix: IpPrefix,
        /// The peer that already has it.
        other_peer: KeyText,
    },
    /// A port's Gateway lies outside that port's subnet.
    GatewayOutsideSubnet {
        /// The section.
        section: &'static str,
        /// The gateway address.
        gateway: core::net::Ipv4Addr,
    },
    /// Two of the LAN, WAN and tunnel subnets overlap, so routing is ambiguous.
    SubnetsOverlap {
        /// The first subnet's owner.
        a: &'static str,
        /// The second subnet's owner.
        b: &'static str,
    },
    /// The file is not UTF-8 text.
    NotUtf8,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match self {
            UnknownSection(s) => write!(
                f,
                "unknown section [{s}] (expected [Interface], [LAN], [WAN] or [Peer])"
            ),
            MalformedLine => f.write_str("expected `[Section]` or `Key = Value`"),
            UnknownKey { key, section } => write!(f, "unknown key `{key}` in [{section}]"),
            UnsupportedKey(k) => write!(f, "`{k}` is a wg-quick host setting, not supported on the appliance"),
            KeyOutsideSection(k) => write!(f, "key `{k}` before any [Section] header"),
            DuplicateKey { key, first_line } => {
                write!(f, "duplicate key {key} (first given on line {first_line})")
            }
            DuplicateSection {
                section,
                first_line,
            } => write!(
                f,
                "duplicate section [{section}] (first given on line {first_line})"
            ),
            EmptyValue(k) => write!(f, "{k} has no value"),
            BadKey { key, cause } => write!(f, "bad {key}: {cause}"),
            BadPrefix { text, cause } => write!(f, "bad prefix `{text}`: {cause}"),
            NotIpv4(t) => write!(f, "`{t}` is not IPv4 (this version forwards IPv4 only)"),
            BadAddress(t) => write!(f, "`{t}` is not an IPv4 address"),
            BadPort(t) => write!(f, "bad port `{t}` (expected 1..=65535)"),
            BadEndpoint(t) => write!(
                f,
                "bad endpoint `{t}` (expected a.b.c.d:port or [v6 address]:port)"
            ),
            EndpointIsDnsName(t) => write!(
                f,
                "endpoint `{t}` is a host name: the appliance has no DNS resolver, write the IP address"
            ),
            EndpointNotIpv4(t) => write!(
                f,
                "endpoint `{t}` is IPv6, but the WAN port is IPv4 only in this version"
            ),
            BadKeepalive(t) => write!(
                f,
                "bad PersistentKeepalive `{t}` (expected off or seconds 0..=65535)"
            ),
            MtuOutOfRange(t) => write!(
                f,
                "MTU `{t}` out of range ({}..={})",
                super::MTU_RANGE.start(),
                super::MTU_RANGE.end()
            ),
            BadMssClamp(t) => write!(
                f,
                "bad MssClamp `{t}` (expected off, auto, or {}..=MTU-40)",
                super::MIN_MSS
            ),
            BadDevice(t) => write!(f, "bad Device `{t}` (expected a PCI address such as 00:03.0)"),
            BadMac(t) => write!(f, "bad MAC `{t}` (expected six hex bytes such as 52:54:00:12:34:56)"),
            DeviceAndMac(s) => write!(f, "[{s}] has both Device and MAC; give one"),
            SameDevice => f.write_str("[LAN] and [WAN] select the same NIC"),
            DhcpOnlyOnWan => f.write_str("Address = dhcp is only supported in [WAN]"),
            GatewayWithDhcp => f.write_str("Gateway cannot be combined with Address = dhcp (DHCP supplies the router)"),
            AddressNotHost(p) => write!(f, "{p} is the network or broadcast address of its subnet"),
            MissingSection(s) => write!(f, "missing section [{s}]"),
            MissingPrivateKey => f.write_str("[Interface] has no PrivateKey"),
            MissingAddress(s) => write!(f, "[{s}] has no Address"),
            MissingPublicKey => f.write_str("[Peer] has no PublicKey"),
            DuplicatePeer { first_line: 0 } => {
                f.write_str("a peer with this PublicKey already exists")
            }
            DuplicatePeer { first_line } => write!(
                f,
                "duplicate peer: the same PublicKey is already given on line {first_line}"
            ),
            PeerIsSelf => f.write_str("peer PublicKey is the appliance's own public key"),
            AllowedIpTaken { prefix, other_peer } => write!(
                f,
                "AllowedIPs {prefix} already belongs to peer {other_peer}"
            ),
            GatewayOutsideSubnet { section, gateway } => {
                write!(f, "[{section}] Gateway {gateway} is outside the {section} subnet")
            }
            SubnetsOverlap { a, b } => write!(f, "the {a} and {b} subnets overlap"),
            NotUtf8 => f.write_str("not UTF-8 text"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "config: {}", self.kind)
        } else {
            write!(f, "line {}: {}", self.line, self.kind)
        }
    }
}
