//! The slow path and the ports' addressing: gratuitous ARP, the appliance's
//! own ping through the LAN host stack, a WAN address leased by DHCP, and a
//! peer endpoint on the WAN link itself.

use smoltcp::wire::{DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress};

use super::*;
use crate::gateway::arp::{ArpMessage, ArpOp};
use crate::gateway::ether;
use crate::hoststack::PING_IDENT;

fn drain(w: &mut World, port: Port) -> Vec<Vec<u8>> {
    let bufs: Vec<TestBuf> = w.out.drain(port).collect();
    bufs.into_iter()
        .map(|b| {
            let f = b.data().to_vec();
            w.pool.free(b);
            f
        })
        .collect()
}

#[test]
fn link_up_announces_both_addresses() {
    let mut w = World::new();
    w.gw.announce(&mut w.out, &mut w.pool);
    for (port, mac, ip) in [(Port::Lan, LAN_MAC, LAN_IP), (Port::Wan, WAN_MAC, WAN_IP)] {
        let f = drain(&mut w, port);
        assert_eq!(f.len(), 1);
        assert_eq!(ether::dst_mac(&f[0]), ether::BROADCAST);
        let m = ArpMessage::parse(&f[0]).unwrap();
        assert_eq!(m.op, ArpOp::Request);
        assert_eq!((m.sender_mac, m.sender_ip, m.target_ip), (mac, ip, ip));
    }
    w.finish();
}

#[test]
fn the_appliance_pings_a_lan_host_through_its_host_stack() {
    let mut w = World::new();
    assert!(w.gw.host_stack_mut(Port::Lan).send_echo(HOST, 1, 8));
    w.tick(); // ARP for the host, answered by it
    w.tick(); // the echo request itself
    let req = w.lan_rx.pop().expect("an echo request to the host");
    assert_valid(&req);
    assert_eq!((req[20], &req[12..16]), (8, &LAN_IP.octets()[..]));
    assert_eq!(u16::from_be_bytes([req[24], req[25]]), PING_IDENT);
    // The host answers; the reply reaches the host stack, not the LAN.
    w.lan_send(&echo(HOST, LAN_IP, 64, false, PING_IDENT, 1, &req[28..]));
    w.tick();
    let r = w.gw.host_stack_mut(Port::Lan).recv_echo().expect("reply");
    assert_eq!((r.from, r.seq, r.len), (HOST, 1, 8));
    assert!(w.lan_rx.is_empty());
    w.finish();
}

/// A DHCP server's answer to the client message `msg`, as a frame to our WAN.
fn dhcp_answer(msg: &DhcpRepr<'_>, kind: DhcpMessageType) -> Vec<u8> {
    let repr = DhcpRepr {
        message_type: kind,
        transaction_id: msg.transaction_id,
        secs: 0,
        client_hardware_address: EthernetAddress(WAN_MAC),
        client_ip: Ipv4Addr::UNSPECIFIED,
        your_ip: WAN_IP,
        server_ip: ROUTER_IP,
        router: Some(ROUTER_IP),
        subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(ROUTER_IP),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: Some(3600),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut bytes[..]))
        .unwrap();
    let ip = udp(ROUTER_IP, Ipv4Addr::BROADCAST, 67, 68, &bytes);
    frame(WAN_MAC, ROUTER_MAC, ether::ETHERTYPE_IPV4, &ip)
}

#[test]
fn a_dhcp_lease_addresses_the_wan_port_and_the_tunnel_comes_up() {
    let text = config_text("").replace(
        "Address = 198.51.100.1/24\nGateway = 198.51.100.254",
        "Address = dhcp",
    );
    let mut w = World::with(&text, 256);
    assert_eq!(w.gw.address(Port::Wan), None);
    // Before the lease, a ping into the tunnel has no way out: counted.
    w.lan_frame(&frame(
        LAN_MAC,
        HOST_MAC,
        ether::ETHERTYPE_IPV4,
        &echo(HOST, REMOTE, 64, true, 1, 1, b"early"),
    ));
    assert_eq!(
        w.dropped(crate::gateway::counters::DropReason::NoRoute),
        1,
        "the initiation had no WAN address"
    );
    let mut seen = Vec::new();
    for _ in 0..20 {
        w.gw.tick(w.now, &mut w.out, &mut w.pool);
        drain(&mut w, Port::Lan);
        for f in drain(&mut w, Port::Wan) {
            let Ok(pkt) = DhcpPacket::new_checked(&f[42..]) else {
                continue;
            };
            let msg = DhcpRepr::parse(&pkt).unwrap();
            seen.push(msg.message_type);
            let answer = match msg.message_type {
                DhcpMessageType::Discover => DhcpMessageType::Offer,
                DhcpMessageType::Request => DhcpMessageType::Ack,
                _ => continue,
            };
            let a = dhcp_answer(&msg, answer);
            w.wan_frame(&a);
        }
        if w.gw.address(Port::Wan).is_some() {
            break;
        }
        w.now.mono_ns += 500_000_000;
        w.now.unix_ns += 500_000_000;
    }
    assert_eq!(seen, [DhcpMessageType::Discover, DhcpMessageType::Request]);
    assert_eq!(w.gw.address(Port::Wan), Some((WAN_IP, 24)));
    assert_eq!(w.gw.default_gateway(Port::Wan), Some(ROUTER_IP));
    // The queued ping goes once the engine retries its handshake.
    w.advance(6);
    assert_eq!(w.peer_rx.len(), 1);
    w.lan_send(&echo(HOST, REMOTE, 64, true, 1, 2, b"leased"));
    assert_eq!(w.peer_rx.len(), 2);
    w.finish();
}

#[test]
fn an_endpoint_on_the_wan_link_is_resolved_directly() {
    let text = config_text("").replace("203.0.113.7:51820", "198.51.100.7:51820");
    let mut w = World::with(&text, 64);
    w.lan_send(&echo(HOST, REMOTE, 64, true, 1, 1, b"x"));
    assert!(w
        .arp_requests
        .contains(&(Port::Wan, Ipv4Addr::new(198, 51, 100, 7))));
    assert!(!w.arp_requests.contains(&(Port::Wan, ROUTER_IP)));
    w.finish();
}
