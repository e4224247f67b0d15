//! The network engineer's commands: `ip`, `wg`, `ping`, `capture`, `peer`.
//!
//! Each parses its words with the parser beside its formatter (`iproute.rs`,
//! `wg.rs`, `ping.rs`, `capture.rs`, `peer.rs`) and reports a refused line
//! as one `error:` line saying why, then the usage line. Kept apart from
//! `commands.rs` so the machine-level commands stay short.

use core::fmt::{Display, Write};

use netfn::keys::encode_key;

use super::commands::Machine;
use super::iproute::{self, IpObject};
use super::shell::{Args, CmdError, Outcome};
use super::{capture, peer, ping, wg};

/// Prints why a line was refused and the usage.
fn refused(
    cmd: &str,
    usage: &str,
    why: impl Display,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    writeln!(out, "error: {cmd}: {why}")?;
    writeln!(out, "usage: {cmd} {usage}")?;
    Ok(Outcome::Done)
}

const NO_PORTS: CmdError = CmdError::Unsupported("no network ports");
const NO_GATEWAY: CmdError = CmdError::Unsupported("the gateway is not running");

/// `ip link|addr|route|neigh [show]`.
pub fn ip(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    let object = match iproute::parse_args(args.rest()) {
        Ok(o) => o,
        Err(e) => return refused("ip", iproute::USAGE, e, out),
    };
    match object {
        IpObject::Link => m.net().ok_or(NO_PORTS)?.ip_link(out)?,
        IpObject::Addr => m.net().ok_or(NO_PORTS)?.ip_addr(out)?,
        IpObject::Route => m.gateway().ok_or(NO_GATEWAY)?.ip_route(out)?,
        IpObject::Neigh => m.gateway().ok_or(NO_GATEWAY)?.ip_neigh(out)?,
    }
    Ok(Outcome::Done)
}

/// `wg [show [wg0]]`.
pub fn wg(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    if let Err(e) = wg::parse_args(args.rest()) {
        return refused("wg", wg::USAGE, e, out);
    }
    let now = m.now_ns();
    m.net().ok_or(NO_PORTS)?.wg(now, out)?;
    Ok(Outcome::Done)
}

/// `ping [-c N] [-s SIZE] [-i INTERVAL] ADDR`: runs as a job.
pub fn ping(
    m: &mut dyn Machine,
    args: &Args<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    match ping::parse_args(args.rest()) {
        Ok(a) => m.start_ping(a, out),
        Err(e) => refused("ping", ping::USAGE, e, out),
    }
}

/// `capture PORT [-c N] [FILTER]`: runs as a job.
pub fn capture(
    m: &mut dyn Machine,
    args: &Args<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    match capture::parse_args(args.rest()) {
        Ok(a) => m.start_capture(a, out),
        Err(e) => refused("capture", capture::USAGE, e, out),
    }
}

/// `peer add ...` / `peer remove KEY`.
pub fn peer(
    m: &mut dyn Machine,
    args: &Args<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    let cmd = match peer::parse_args(args.rest()) {
        Ok(c) => c,
        Err(e) => return refused("peer", peer::USAGE, e, out),
    };
    let g = m.gateway().ok_or(NO_GATEWAY)?;
    let (verb, key, result) = match cmd {
        peer::PeerCommand::Add(p) => {
            let key = p.public_key;
            ("added", key, g.peer_add(p))
        }
        peer::PeerCommand::Remove(key) => ("removed", key, g.peer_remove(&key)),
    };
    match result {
        Ok(()) => writeln!(out, "peer {verb}: {}", encode_key(&key))?,
        Err(e) => writeln!(out, "error: peer: {e}")?,
    }
    Ok(Outcome::Done)
}
