//! The text of `wg` / `wg show`: wireguard-tools' layout, field names,
//! units and peer order, so an operator's eyes and scripts carry over.
//!
//! The formatter works on the engine's plain status structs
//! ([`InterfaceStatus`], [`PeerStatus`]) and a "now", so it is tested here
//! without a gateway. Following `wg show` (wireguard-tools `src/show.c`):
//! peers are sorted by latest handshake, most recent first, those that never
//! shook hands last; a line is left out when its value is absent (no
//! endpoint, no handshake, nothing transferred, keepalive off); times are
//! `1 minute, 3 seconds` with each unit pluralised on its own; byte counts
//! are `B` below 1 KiB and otherwise KiB/MiB/GiB/TiB with two decimals.
//! Private and preshared keys are never printed, only `(hidden)`.

use core::fmt::{self, Write};

use netfn::keys::encode_key;
use netfn::wireguard::{InterfaceStatus, PeerStatus};

/// The interface name `wg` shows: the appliance has one tunnel.
pub const INTERFACE: &str = "wg0";

/// What `wg` was asked to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgRequest {
    /// The whole interface and every peer.
    Show,
}

/// Why a `wg` command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgArgError {
    /// A subcommand other than `show`.
    UnknownSubcommand,
    /// An interface other than `wg0`.
    NoSuchInterface,
    /// Words after the interface.
    TooManyArguments,
}

impl fmt::Display for WgArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WgArgError::UnknownSubcommand => "only 'show' is supported",
            WgArgError::NoSuchInterface => "no such interface (the tunnel is wg0)",
            WgArgError::TooManyArguments => "too many arguments",
        })
    }
}

/// The usage line of `wg`.
pub const USAGE: &str = "[show [wg0|all]]";

/// Parses the words after `wg`: nothing, `show`, `show wg0`, `show all`.
pub fn parse_args(args: &[&str]) -> Result<WgRequest, WgArgError> {
    match args {
        [] | ["show"] => Ok(WgRequest::Show),
        ["show", iface] if *iface == INTERFACE || *iface == "all" || *iface == "interfaces" => {
            Ok(WgRequest::Show)
        }
        ["show", _] => Err(WgArgError::NoSuchInterface),
        ["show", ..] => Err(WgArgError::TooManyArguments),
        _ => Err(WgArgError::UnknownSubcommand),
    }
}

/// A span of whole seconds as `wg` prints it: `1 year, 2 days, 1 minute, 3
/// seconds`, zero units left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrettyTime(pub u64);

impl fmt::Display for PrettyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 5] = [
            (365 * 24 * 60 * 60, "year"),
            (24 * 60 * 60, "day"),
            (60 * 60, "hour"),
            (60, "minute"),
            (1, "second"),
        ];
        let mut left = self.0;
        let mut first = true;
        for (size, name) in UNITS {
            let n = left / size;
            left %= size;
            if n == 0 {
                continue;
            }
            let sep = if first { "" } else { ", " };
            let plural = if n == 1 { "" } else { "s" };
            write!(f, "{sep}{n} {name}{plural}")?;
            first = false;
        }
        Ok(())
    }
}

/// How long ago something happened, `wg`'s way: `Now` within the same second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ago(pub u64);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("Now")
        } else {
            write!(f, "{} ago", PrettyTime(self.0))
        }
    }
}

/// A byte count as `wg` prints transfer: `512 B`, `1.21 MiB` (rounded to
/// two decimals, as printf's `%.2f` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        let n = u128::from(self.0);
        if n < 1024 {
            return write!(f, "{n} B");
        }
        let mut unit = 0;
        let mut scale: u128 = 1024;
        while unit + 1 < UNITS.len() && n >= scale * 1024 {
            unit += 1;
            scale *= 1024;
        }
        // Integer hundredths, rounded half up: no floating point in the kernel.
        let hundredths = (n * 100 + scale / 2) / scale;
        write!(
            f,
            "{}.{:02} {}",
            hundredths / 100,
            hundredths % 100,
            UNITS[unit]
        )
    }
}

/// Sorts peers as `wg show` does: latest handshake first, never last, and
/// otherwise in their configured order (a stable sort).
pub fn sort_peers(peers: &mut [PeerStatus]) {
    peers.sort_by_key(|p| core::cmp::Reverse(p.latest_handshake_mono));
}

/// Writes `wg show` for the interface and its peers (sorted in place) as of
/// `now_ns` on the monotonic clock.
pub fn show(
    iface: &InterfaceStatus,
    peers: &mut [PeerStatus],
    now_ns: u64,
    out: &mut dyn Write,
) -> fmt::Result {
    writeln!(out, "interface: {INTERFACE}")?;
    writeln!(out, "  public key: {}", encode_key(&iface.public_key))?;
    writeln!(out, "  private key: (hidden)")?;
    if iface.listen_port != 0 {
        writeln!(out, "  listening port: {}", iface.listen_port)?;
    }
    sort_peers(peers);
    for p in peers.iter() {
        writeln!(out)?;
        peer(p, now_ns, out)?;
    }
    Ok(())
}

fn peer(p: &PeerStatus, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
    writeln!(out, "peer: {}", encode_key(&p.public_key))?;
    if p.has_preshared_key {
        writeln!(out, "  preshared key: (hidden)")?;
    }
    if let Some(e) = p.endpoint {
        writeln!(out, "  endpoint: {e}")?;
    }
    write!(out, "  allowed ips: ")?;
    if p.allowed_ips.is_empty() {
        write!(out, "(none)")?;
    }
    for (i, a) in p.allowed_ips.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        write!(out, "{sep}{a}")?;
    }
    writeln!(out)?;
    if let Some(t) = p.latest_handshake_mono {
        let secs = now_ns.saturating_sub(t) / 1_000_000_000;
        writeln!(out, "  latest handshake: {}", Ago(secs))?;
    }
    if p.rx_bytes != 0 || p.tx_bytes != 0 {
        writeln!(
            out,
            "  transfer: {} received, {} sent",
            Bytes(p.rx_bytes),
            Bytes(p.tx_bytes)
        )?;
    }
    if let Some(k) = p.persistent_keepalive.filter(|k| *k != 0) {
        writeln!(
            out,
            "  persistent keepalive: every {}",
            PrettyTime(k.into())
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use netfn::prefix::IpPrefix;

    const SEC: u64 = 1_000_000_000;

    fn prefix(a: [u8; 4], len: u8) -> IpPrefix {
        IpPrefix::new(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap()
    }

    fn status(key: u8, handshake: Option<u64>) -> PeerStatus {
        PeerStatus {
            public_key: [key; 32],
            has_preshared_key: false,
            endpoint: None,
            allowed_ips: vec![],
            latest_handshake_mono: handshake,
            latest_handshake_unix: None,
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: None,
        }
    }

    #[test]
    fn times_pluralise_each_unit_and_skip_zeros() {
        assert_eq!(PrettyTime(1).to_string(), "1 second");
        assert_eq!(PrettyTime(63).to_string(), "1 minute, 3 seconds");
        assert_eq!(PrettyTime(3600).to_string(), "1 hour");
        assert_eq!(
            PrettyTime(2 * 86400 + 7201).to_string(),
            "2 days, 2 hours, 1 second"
        );
        assert_eq!(
            PrettyTime(365 * 86400 + 120).to_string(),
            "1 year, 2 minutes"
        );
        assert_eq!(Ago(0).to_string(), "Now");
        assert_eq!(Ago(25).to_string(), "25 seconds ago");
    }

    #[test]
    fn bytes_use_binary_units_with_two_decimals() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1023).to_string(), "1023 B");
        assert_eq!(Bytes(1024).to_string(), "1.00 KiB");
        assert_eq!(Bytes(1536).to_string(), "1.50 KiB");
        // 1.21 MiB and 3.40 MiB: the example, as printf("%.2f") rounds.
        assert_eq!(Bytes(1_268_777).to_string(), "1.21 MiB");
        assert_eq!(Bytes(3_565_158).to_string(), "3.40 MiB");
        assert_eq!(Bytes(1 << 30).to_string(), "1.00 GiB");
        assert_eq!(Bytes(5 << 40).to_string(), "5.00 TiB");
        assert_eq!(Bytes(u64::MAX).to_string(), "16777216.00 TiB");
        // Just below a unit rounds up within the smaller unit, as wg does.
        assert_eq!(Bytes(1024 * 1024 - 1).to_string(), "1024.00 KiB");
    }

    #[test]
    fn show_matches_wireguard_tools_layout() {
        let iface = InterfaceStatus {
            public_key: [1; 32],
            listen_port: 51820,
            peers: 2,
        };
        let mut never = status(2, None);
        never.allowed_ips = vec![prefix([10, 30, 0, 0], 16)];
        let mut busy = status(3, Some(10 * SEC));
        busy.has_preshared_key = true;
        busy.endpoint = Some("203.0.113.5:51820".parse().unwrap());
        busy.allowed_ips = vec![prefix([10, 20, 0, 0], 16), prefix([10, 99, 0, 2], 32)];
        busy.rx_bytes = 1_268_777;
        busy.tx_bytes = 3_565_158;
        busy.persistent_keepalive = Some(25);
        let mut peers = vec![never, busy];
        let mut out = String::new();
        show(&iface, &mut peers, 73 * SEC + 500_000_000, &mut out).unwrap();
        let k1 = encode_key(&[1; 32]);
        let k2 = encode_key(&[2; 32]);
        let k3 = encode_key(&[3; 32]);
        let want = format!(
            "interface: wg0\n\
             \x20 public key: {k1}\n\
             \x20 private key: (hidden)\n\
             \x20 listening port: 51820\n\
             \n\
             peer: {k3}\n\
             \x20 preshared key: (hidden)\n\
             \x20 endpoint: 203.0.113.5:51820\n\
             \x20 allowed ips: 10.20.0.0/16, 10.99.0.2/32\n\
             \x20 latest handshake: 1 minute, 3 seconds ago\n\
             \x20 transfer: 1.21 MiB received, 3.40 MiB sent\n\
             \x20 persistent keepalive: every 25 seconds\n\
             \n\
             peer: {k2}\n\
             \x20 allowed ips: 10.30.0.0/16\n"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn no_peers_no_blank_line_and_none_for_empty_allowed_ips() {
        let iface = InterfaceStatus {
            public_key: [7; 32],
            listen_port: 0,
            peers: 0,
        };
        let mut out = String::new();
        show(&iface, &mut [], 0, &mut out).unwrap();
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(!out.contains("listening port"));
        let mut peers = vec![status(9, None)];
        out.clear();
        show(&iface, &mut peers, 0, &mut out).unwrap();
        assert!(out.ends_with("  allowed ips: (none)\n"), "{out}");
    }

    #[test]
    fn peers_sort_by_latest_handshake_stably() {
        let mut peers = vec![
            status(1, None),
            status(2, Some(5)),
            status(3, Some(9)),
            status(4, None),
            status(5, Some(5)),
        ];
        sort_peers(&mut peers);
        let order: Vec<u8> = peers.iter().map(|p| p.public_key[0]).collect();
        assert_eq!(order, [3, 2, 5, 1, 4]);
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&[]), Ok(WgRequest::Show));
        assert_eq!(parse_args(&["show"]), Ok(WgRequest::Show));
        assert_eq!(parse_args(&["show", "wg0"]), Ok(WgRequest::Show));
        assert_eq!(parse_args(&["show", "all"]), Ok(WgRequest::Show));
        assert_eq!(
            parse_args(&["show", "wg1"]),
            Err(WgArgError::NoSuchInterface)
        );
        assert_eq!(
            parse_args(&["show", "wg0", "dump"]),
            Err(WgArgError::TooManyArguments)
        );
        assert_eq!(parse_args(&["set"]), Err(WgArgError::UnknownSubcommand));
        assert_eq!(
            WgArgError::NoSuchInterface.to_string(),
            "no such interface (the tunnel is wg0)"
        );
    }
}
