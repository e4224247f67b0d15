//! Property tests: whatever arrives on either port, the pipeline neither
//! panics nor loses a buffer, with or without a session, with the pool
//! full or nearly dry.

use proptest::prelude::*;

use super::*;
use crate::gateway::checksum;
use crate::gateway::ether;

/// Steers random bytes towards the deeper paths: our MAC, an EtherType the
/// classifiers accept, and (for IPv4) a header with a valid checksum.
fn steer(mut f: Vec<u8>, mac: Mac, kind: u8, dst: Ipv4Addr, proto: u8) -> Vec<u8> {
    if f.len() < 14 {
        return f;
    }
    f[0..6].copy_from_slice(&mac);
    match kind % 3 {
        0 => f[12..14].copy_from_slice(&ether::ETHERTYPE_ARP.to_be_bytes()),
        1 if f.len() >= 34 => {
            f[12..14].copy_from_slice(&ether::ETHERTYPE_IPV4.to_be_bytes());
            f[14] = 0x45;
            let total = (f.len() - 14) as u16;
            f[16..18].copy_from_slice(&total.to_be_bytes());
            f[23] = proto;
            f[30..34].copy_from_slice(&dst.octets());
            f[24..26].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    f
}

fn any_dst() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        Just(REMOTE),
        Just(LAN_IP),
        Just(TUNNEL_IP),
        Just(WAN_IP),
        Just(HOST),
        Just(Ipv4Addr::BROADCAST),
        any::<u32>().prop_map(Ipv4Addr::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_frames_never_panic_or_leak(
        frames in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..1600), any::<u8>(), any_dst(),
             prop_oneof![Just(1u8), Just(6u8), Just(17u8), any::<u8>()], any::<bool>()),
            1..24),
        session in any::<bool>(),
        pool in prop_oneof![Just(4usize), Just(64usize)],
    ) {
        let mut w = World::with(&config_text(""), pool);
        if session && pool > 4 {
            w.establish();
        }
        for (bytes, kind, dst, proto, lan) in frames {
            let mac = if lan { LAN_MAC } else { WAN_MAC };
            let f = steer(bytes, mac, kind, dst, proto);
            if lan {
                w.lan_frame(&f);
            } else {
                w.wan_frame(&f);
            }
            // Drain without replying: the neighbours stay silent, so what
            // waits keeps waiting until `finish` hands it back.
            for port in [Port::Lan, Port::Wan] {
                let sent: Vec<TestBuf> = w.out.drain(port).collect();
                for b in sent {
                    w.pool.free(b);
                }
            }
        }
        w.advance(1);
        w.bt_errors.clear();
        w.finish();
    }

    #[test]
    fn random_datagrams_from_the_peer_never_panic_or_leak(
        dgrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..16),
        types in proptest::collection::vec(1u8..=4, 16),
    ) {
        let mut w = World::new();
        w.establish();
        for (i, mut d) in dgrams.into_iter().enumerate() {
            if d.len() >= 4 {
                // A valid message type with zero reserved bytes reaches the
                // parsers behind the type check.
                d[0] = types[i % types.len()];
                d[1..4].fill(0);
            }
            w.peer_datagram(&d);
        }
        w.bt_errors.clear();
        w.finish();
    }
}
