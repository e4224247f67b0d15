//! The words of `ip` and the text of `ip route` / `ip neigh` in iproute2's
//! format, so an operator reads them as on any Linux router.
//!
//! The gateway describes its forwarding rules as [`Route`]s and its
//! neighbour tables as [`NeighInfo`]s; this file only turns those into
//! iproute2's lines (`192.168.10.0/24 dev lan proto kernel scope link src
//! 192.168.10.1`, `default via 198.51.100.254 dev wan`, `10.20.0.0/16 dev
//! wg0 scope link`, `192.168.10.2 dev lan lladdr 52:54:00:12:34:56
//! REACHABLE`). iproute2 accepts any prefix of an object name (`ip r`,
//! `ip neigh`, `ip a`), and so does [`parse_args`].

use core::fmt::{self, Write};

use netfn::gateway::neigh::{NeighInfo, NeighState};
use netfn::gateway::pipeline::{Port, Route, RouteDev};

use super::wg::INTERFACE;
use crate::net::show::MacAddr;

/// What `ip` was asked to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpObject {
    /// `ip link`.
    Link,
    /// `ip addr`.
    Addr,
    /// `ip route`.
    Route,
    /// `ip neigh`.
    Neigh,
}

/// The usage line of `ip`.
pub const USAGE: &str = "link|addr|route|neigh [show]";

/// Why an `ip` command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpArgError {
    /// No object named.
    MissingObject,
    /// The object is none of link, addr, route, neigh.
    UnknownObject,
    /// A command other than `show`/`list` after the object.
    UnknownCommand,
    /// Words after `show`.
    TooManyArguments,
}

impl fmt::Display for IpArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpArgError::MissingObject => "which object: link, addr, route or neigh",
            IpArgError::UnknownObject => "objects are link, addr, route, neigh",
            IpArgError::UnknownCommand => {
                "only 'show' is supported (the appliance is configured by its file and 'peer')"
            }
            IpArgError::TooManyArguments => "too many arguments",
        })
    }
}

/// True when `word` is a non-empty prefix of `full` (iproute2's abbreviations).
fn abbrev(word: &str, full: &str) -> bool {
    !word.is_empty() && full.starts_with(word)
}

/// Parses the words after `ip`.
pub fn parse_args(args: &[&str]) -> Result<IpObject, IpArgError> {
    let (obj, rest) = args.split_first().ok_or(IpArgError::MissingObject)?;
    // iproute2 resolves one-letter abbreviations in this order too: `a` is
    // address, `r` route, `l` link, `n` neigh.
    let object = if abbrev(obj, "address") {
        IpObject::Addr
    } else if abbrev(obj, "route") {
        IpObject::Route
    } else if abbrev(obj, "link") {
        IpObject::Link
    } else if abbrev(obj, "neighbour") || abbrev(obj, "neighbor") {
        IpObject::Neigh
    } else {
        return Err(IpArgError::UnknownObject);
    };
    match rest {
        [] => Ok(object),
        [cmd] if abbrev(cmd, "show") || abbrev(cmd, "list") => Ok(object),
        [cmd, ..] if abbrev(cmd, "show") || abbrev(cmd, "list") => {
            Err(IpArgError::TooManyArguments)
        }
        _ => Err(IpArgError::UnknownCommand),
    }
}

/// The console's name of a port, as `ip link` prints it.
pub fn port_name(p: Port) -> &'static str {
    match p {
        Port::Lan => "lan",
        Port::Wan => "wan",
    }
}

/// One route as `ip route` prints it.
#[derive(Debug, Clone, Copy)]
pub struct IpRoute<'a>(pub &'a Route);

impl fmt::Display for IpRoute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        if r.dest.len == 0 {
            f.write_str("default")?;
        } else {
            write!(f, "{}", r.dest)?;
        }
        if let Some(v) = r.via {
            write!(f, " via {v}")?;
        }
        match r.dev {
            RouteDev::Port(p) => write!(f, " dev {}", port_name(p))?,
            RouteDev::Peer(_) => write!(f, " dev {INTERFACE}")?,
        }
        // A route without a next hop is on-link; one with the port's own
        // source address is the connected subnet the kernel installed.
        if r.via.is_none() {
            if r.src.is_some() && matches!(r.dev, RouteDev::Port(_)) {
                f.write_str(" proto kernel")?;
            }
            f.write_str(" scope link")?;
        }
        if let Some(s) = r.src {
            write!(f, " src {s}")?;
        }
        Ok(())
    }
}

/// `ip route`: the default routes first, then by destination, as the
/// kernel's main table lists them.
pub fn ip_route(routes: &mut [Route], out: &mut dyn Write) -> fmt::Result {
    routes.sort_by_key(|r| (r.dest.len != 0, r.dest.addr, r.dest.len));
    for r in routes.iter() {
        writeln!(out, "{}", IpRoute(r))?;
    }
    Ok(())
}

/// iproute2's name of a neighbour state.
pub fn state_name(s: NeighState) -> &'static str {
    match s {
        NeighState::Incomplete => "INCOMPLETE",
        NeighState::Reachable => "REACHABLE",
        NeighState::Stale => "STALE",
    }
}

/// One neighbour entry as `ip neigh` prints it.
#[derive(Debug, Clone, Copy)]
pub struct IpNeigh(pub Port, pub NeighInfo);

impl fmt::Display for IpNeigh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let IpNeigh(port, n) = *self;
        write!(f, "{} dev {}", n.ip, port_name(port))?;
        if n.state != NeighState::Incomplete {
            write!(f, " lladdr {}", MacAddr(n.mac))?;
        }
        write!(f, " {}", state_name(n.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use netfn::prefix::IpPrefix;
    use netfn::wireguard::PeerId;

    fn route(dest: [u8; 4], len: u8, via: Option<[u8; 4]>, dev: RouteDev) -> Route {
        Route {
            dest: IpPrefix::new(IpAddr::V4(Ipv4Addr::from(dest)), len).unwrap(),
            via: via.map(Ipv4Addr::from),
            dev,
            src: None,
            tunnel_only: false,
        }
    }

    #[test]
    fn routes_print_as_iproute2() {
        let mut connected = route([192, 168, 10, 0], 24, None, RouteDev::Port(Port::Lan));
        connected.src = Some(Ipv4Addr::new(192, 168, 10, 1));
        let mut default = route(
            [0; 4],
            0,
            Some([198, 51, 100, 254]),
            RouteDev::Port(Port::Wan),
        );
        default.tunnel_only = true;
        let peer = route([10, 20, 0, 0], 16, None, RouteDev::Peer(PeerId(0)));
        let mut routes = vec![peer, connected, default];
        let mut out = String::new();
        ip_route(&mut routes, &mut out).unwrap();
        assert_eq!(
            out,
            "default via 198.51.100.254 dev wan\n\
             10.20.0.0/16 dev wg0 scope link\n\
             192.168.10.0/24 dev lan proto kernel scope link src 192.168.10.1\n"
        );
    }

    #[test]
    fn on_link_route_without_source_has_no_proto() {
        let r = route([203, 0, 113, 0], 24, None, RouteDev::Port(Port::Wan));
        assert_eq!(IpRoute(&r).to_string(), "203.0.113.0/24 dev wan scope link");
    }

    #[test]
    fn neighbours_print_as_iproute2() {
        let n = NeighInfo {
            ip: Ipv4Addr::new(192, 168, 10, 2),
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            state: NeighState::Reachable,
            queued: 0,
        };
        assert_eq!(
            IpNeigh(Port::Lan, n).to_string(),
            "192.168.10.2 dev lan lladdr 52:54:00:12:34:56 REACHABLE"
        );
        let stale = NeighInfo {
            state: NeighState::Stale,
            ..n
        };
        assert!(IpNeigh(Port::Wan, stale)
            .to_string()
            .ends_with(" dev wan lladdr 52:54:00:12:34:56 STALE"));
        let waiting = NeighInfo {
            mac: [0; 6],
            state: NeighState::Incomplete,
            queued: 3,
            ..n
        };
        assert_eq!(
            IpNeigh(Port::Lan, waiting).to_string(),
            "192.168.10.2 dev lan INCOMPLETE"
        );
    }

    #[test]
    fn objects_accept_iproute2_abbreviations() {
        assert_eq!(parse_args(&["r"]), Ok(IpObject::Route));
        assert_eq!(parse_args(&["route", "show"]), Ok(IpObject::Route));
        assert_eq!(parse_args(&["neigh"]), Ok(IpObject::Neigh));
        assert_eq!(parse_args(&["neighbor", "list"]), Ok(IpObject::Neigh));
        assert_eq!(parse_args(&["n"]), Ok(IpObject::Neigh));
        assert_eq!(parse_args(&["a"]), Ok(IpObject::Addr));
        assert_eq!(parse_args(&["address", "s"]), Ok(IpObject::Addr));
        assert_eq!(parse_args(&["l"]), Ok(IpObject::Link));
        assert_eq!(parse_args(&["link"]), Ok(IpObject::Link));
    }

    #[test]
    fn bad_ip_arguments_say_why() {
        assert_eq!(parse_args(&[]), Err(IpArgError::MissingObject));
        assert_eq!(parse_args(&["rule"]), Err(IpArgError::UnknownObject));
        assert_eq!(parse_args(&[""]), Err(IpArgError::UnknownObject));
        assert_eq!(
            parse_args(&["route", "add", "10.0.0.0/8"]),
            Err(IpArgError::UnknownCommand)
        );
        assert_eq!(
            parse_args(&["route", "show", "dev"]),
            Err(IpArgError::TooManyArguments)
        );
        assert_eq!(
            IpArgError::UnknownObject.to_string(),
            "objects are link, addr, route, neigh"
        );
    }
}
