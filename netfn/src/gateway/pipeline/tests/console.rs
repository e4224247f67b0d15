//! The console's hooks into a running gateway: the appliance's own ping
//! through the tunnel (answered by boringtun's side), and peers added and
//! removed at run time changing what the LAN can reach.

use super::*;
use crate::config::{ErrorKind, PeerFields};
use crate::gateway::counters::DropReason;
use crate::gateway::pipeline::console::{PeerChangeError, OWN_ECHO_IDENT};
use crate::keys::encode_key;

const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

#[test]
fn the_appliance_pings_the_peer_through_the_tunnel() {
    let mut w = World::new();
    w.establish();
    let now = w.now;
    assert!(w
        .gw
        .send_tunnel_echo(now, PEER_ADDR, 3, 16, &mut w.out, &mut w.pool));
    w.pump();
    let req = w
        .peer_rx
        .pop()
        .expect("boringtun decrypted our echo request");
    let info = crate::gateway::ipv4::validate(&req).unwrap();
    assert_eq!(
        (info.src, info.dst, info.protocol),
        (TUNNEL_IP, PEER_ADDR, 1)
    );
    assert_eq!(crate::gateway::checksum::checksum(&req[20..]), 0);
    assert_eq!(
        (req[20], u16::from_be_bytes([req[24], req[25]])),
        (8, OWN_ECHO_IDENT)
    );
    // The peer answers; the reply goes to the console, not the LAN.
    w.peer_send(&echo(
        PEER_ADDR,
        TUNNEL_IP,
        64,
        false,
        OWN_ECHO_IDENT,
        3,
        &req[28..],
    ));
    let r = w.gw.recv_tunnel_echo().expect("the reply");
    assert_eq!((r.from, r.seq, r.len), (PEER_ADDR, 3, 16));
    assert!(w.gw.recv_tunnel_echo().is_none());
    assert!(w.lan_rx.is_empty());
    // Someone else's echo reply to the tunnel address is not ours.
    w.peer_send(&echo(PEER_ADDR, TUNNEL_IP, 64, false, 0x1234, 3, b"x"));
    assert!(w.gw.recv_tunnel_echo().is_none());
    assert_eq!(w.dropped(DropReason::Unsupported), 1);
    w.finish();
}

#[test]
fn a_tunnel_ping_beyond_every_peer_or_the_mtu_is_refused_or_dropped() {
    let mut w = World::new();
    let now = w.now;
    assert!(!w
        .gw
        .send_tunnel_echo(now, PEER_ADDR, 1, 5000, &mut w.out, &mut w.pool));
    assert!(w.gw.send_tunnel_echo(
        now,
        Ipv4Addr::new(10, 77, 0, 1),
        1,
        8,
        &mut w.out,
        &mut w.pool
    ));
    w.pump();
    assert!(w.peer_rx.is_empty());
    assert_eq!(w.dropped(DropReason::NoRoute), 1);
    w.finish();
}

fn new_peer(key: u8, allowed: &str) -> crate::config::PeerConfig {
    let mut f = PeerFields::default();
    f.set("public-key", encode_key(&[key; 32]).as_str())
        .unwrap();
    f.set("allowed-ips", allowed).unwrap();
    f.finish().unwrap()
}

#[test]
fn peers_added_and_removed_at_run_time_change_the_routes() {
    let mut w = World::new();
    let far = Ipv4Addr::new(10, 30, 0, 5);
    assert!(!w.gw.routes_to_tunnel(far));
    let id = w.gw.add_peer(new_peer(9, "10.30.0.0/16")).unwrap();
    assert!(w.gw.routes_to_tunnel(far));
    assert_eq!(w.gw.config().peers.len(), 2);
    assert!(w.gw.engine().peer_status(id).is_some());
    // A LAN packet for the new peer goes to it (no endpoint yet, so it
    // cannot leave), where before the peer it got host unreachable.
    w.lan_send(&echo(HOST, far, 64, true, 1, 1, b"hi"));
    assert_eq!(w.dropped(DropReason::NoRoute), 0);
    assert!(w.lan_rx.is_empty());
    // The same key twice, or a prefix another peer has (exactly), is refused.
    assert!(matches!(
        w.gw.add_peer(new_peer(9, "10.31.0.0/16")),
        Err(PeerChangeError::Invalid(ErrorKind::DuplicatePeer { .. }))
    ));
    assert!(matches!(
        w.gw.add_peer(new_peer(10, "10.20.0.0/16")),
        Err(PeerChangeError::Invalid(ErrorKind::AllowedIpTaken { .. }))
    ));
    w.gw.remove_peer(&[9; 32], &mut w.pool).unwrap();
    assert!(!w.gw.routes_to_tunnel(far));
    assert_eq!(w.gw.config().peers.len(), 1);
    assert_eq!(w.gw.queued(id), 0, "nothing left queued");
    w.lan_send(&echo(HOST, far, 64, true, 1, 2, b"hi"));
    assert_eq!(w.dropped(DropReason::NoRoute), 1);
    assert_eq!(w.lan_rx.len(), 1, "host unreachable again");
    w.lan_rx.clear();
    assert_eq!(
        w.gw.remove_peer(&[9; 32], &mut w.pool),
        Err(PeerChangeError::NoSuchPeer)
    );
    // The original peer still works.
    w.establish();
    w.finish();
}
