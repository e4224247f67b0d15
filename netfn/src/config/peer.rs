//! A peer's fields as they are given, one `key = value` at a time: shared by
//! the file parser and the console's `peer add`, so both accept the same
//! spellings and refuse the same values.

use alloc::vec::Vec;
use core::net::SocketAddr;

use super::error::ErrorKind;
use super::setting::{Section, Setting};
use super::value::*;
use super::{PeerConfig, Secret};
use crate::prefix::IpPrefix;

/// A peer's fields as they are being given, in the file or on the console.
#[derive(Debug, Default, Clone)]
pub struct PeerFields {
    /// PublicKey, once given.
    pub public_key: Option<[u8; 32]>,
    /// PresharedKey.
    pub preshared_key: Option<Secret>,
    /// AllowedIPs so far (normalised, no duplicates).
    pub allowed_ips: Vec<IpPrefix>,
    /// Endpoint.
    pub endpoint: Option<SocketAddr>,
    /// PersistentKeepalive (`None`: off).
    pub persistent_keepalive: Option<u16>,
}

impl PeerFields {
    /// Sets one field by name: the file's names (`AllowedIPs`, any case) or
    /// the console's `wg set` style (`allowed-ips`, `persistent-keepalive`,
    /// `keepalive`, `preshared-key`, `public-key`, `endpoint`). AllowedIPs add up.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ErrorKind> {
        let mut folded = [0u8; 24];
        let mut n = 0;
        for b in name.bytes().filter(|b| *b != b'-' && *b != b'_') {
            if n == folded.len() {
                return Err(unknown_peer_key(name));
            }
            folded[n] = b;
            n += 1;
        }
        let folded = core::str::from_utf8(&folded[..n]).unwrap_or("");
        let key = if folded.eq_ignore_ascii_case("keepalive") {
            Some(Setting::PersistentKeepalive)
        } else {
            Setting::from_name(folded)
        };
        match key {
            Some(k) if k.allowed_in(Section::Peer) => self.set_key(k, value.trim()),
            _ => Err(unknown_peer_key(name)),
        }
    }

    pub(super) fn set_key(&mut self, key: Setting, v: &str) -> Result<(), ErrorKind> {
        match key {
            Setting::PublicKey => self.public_key = Some(parse_key("PublicKey", v)?),
            Setting::PresharedKey => self.preshared_key = Some(parse_secret("PresharedKey", v)?),
            Setting::AllowedIps if v.is_empty() => {}
            Setting::AllowedIps => {
                // All or nothing per line, so a bad entry leaves no half-list behind.
                let mut more = self.allowed_ips.clone();
                parse_allowed_ips(v, &mut more)?;
                self.allowed_ips = more;
            }
            Setting::Endpoint => {
                let e = parse_endpoint(v)?;
                // The WAN port has an IPv4 address only: a v6 endpoint is unreachable.
                if e.is_ipv6() {
                    return Err(ErrorKind::EndpointNotIpv4(v.into()));
                }
                self.endpoint = Some(e);
            }
            Setting::PersistentKeepalive => self.persistent_keepalive = parse_keepalive(v)?,
            _ => return Err(unknown_peer_key(key.name())),
        }
        Ok(())
    }

    /// The finished peer, or [`ErrorKind::MissingPublicKey`].
    pub fn finish(self) -> Result<PeerConfig, ErrorKind> {
        Ok(PeerConfig {
            public_key: self.public_key.ok_or(ErrorKind::MissingPublicKey)?,
            preshared_key: self.preshared_key,
            allowed_ips: self.allowed_ips,
            endpoint: self.endpoint,
            persistent_keepalive: self.persistent_keepalive,
        })
    }
}

fn unknown_peer_key(name: &str) -> ErrorKind {
    ErrorKind::UnknownKey {
        key: name.into(),
        section: "Peer",
    }
}
