//! Ringwall against Ringwall: handshake, data, timers, rekey, cookies, and
//! every drop reason followed by proof that the session still works.

use super::*;
use crate::wireguard::messages::{INITIATION_LEN, RESPONSE_LEN};
use crate::wireguard::{Decap, Encap, Error, PeerId};
use core::net::SocketAddr;

pub(crate) struct Net {
    pub a: Engine<TestRng>,
    pub b: Engine<TestRng>,
    /// B as a peer of A.
    pub pa: PeerId,
    /// A as a peer of B.
    pub pb: PeerId,
    pub ea: SocketAddr,
    pub eb: SocketAddr,
}

pub(crate) const A_LAN: [u8; 4] = [10, 1, 0, 5];
pub(crate) const B_LAN: [u8; 4] = [10, 2, 0, 9];

impl Net {
    pub fn new(psk: Option<[u8; 32]>) -> Net {
        let mut a = engine(1);
        let mut b = engine(2);
        let pa = a
            .add_peer(&config_of(
                &b,
                &["10.2.0.0/16"],
                Some("198.51.100.2:51820"),
                psk,
            ))
            .unwrap();
        let pb = b
            .add_peer(&config_of(&a, &["10.1.0.0/16"], None, psk))
            .unwrap();
        Net {
            a,
            b,
            pa,
            pb,
            ea: "192.0.2.1:51820".parse().unwrap(),
            eb: "198.51.100.2:51820".parse().unwrap(),
        }
    }

    /// A sends `pkt`; returns the datagram (None when it had no session,
    /// in which case the handshake runs to completion first and the packet
    /// is resubmitted, as the gateway would).
    pub fn a_seal(&mut self, now: Time, pkt: &[u8]) -> Vec<u8> {
        let mut buf = in_buffer(pkt);
        let mut out = [0u8; 256];
        match self
            .a
            .encapsulate(now, &mut buf, HEADROOM, pkt.len(), &mut out)
            .unwrap()
        {
            Encap::Sealed {
                start,
                len,
                endpoint,
                peer,
            } => {
                assert_eq!(endpoint, self.eb);
                assert_eq!(peer, self.pa);
                buf[start..start + len].to_vec()
            }
            Encap::NoSession { initiation, .. } => {
                let (n, ep) = initiation.expect("an initiation is due");
                assert_eq!(ep, self.eb);
                self.complete_from_a(now, &out[..n]);
                self.a_seal(now, pkt)
            }
        }
    }

    /// Delivers A's initiation to B and runs the handshake to the end.
    pub fn complete_from_a(&mut self, now: Time, init: &[u8]) {
        let mut d = init.to_vec();
        let mut out = [0u8; 256];
        let r = self
            .b
            .decapsulate(now, self.ea, &mut d, 0, init.len(), &mut out)
            .unwrap();
        let Decap::Reply {
            len,
            endpoint,
            peer,
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!((endpoint, peer, len), (self.ea, self.pb, RESPONSE_LEN));
        let mut resp = out[..len].to_vec();
        let r = self
            .a
            .decapsulate(now, self.eb, &mut resp, 0, len, &mut out)
            .unwrap();
        let Decap::HandshakeComplete { len, peer, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(peer, self.pa);
        let mut ka = out[..len].to_vec();
        let r = self
            .b
            .decapsulate(now, self.ea, &mut ka, 0, len, &mut out)
            .unwrap();
        assert_eq!(
            r,
            Decap::Keepalive {
                peer: self.pb,
                new_session: true
            }
        );
    }

    /// B opens a datagram from A; returns the inner packet.
    pub fn b_open(&mut self, now: Time, dgram: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; 2048];
        buf[64..64 + dgram.len()].copy_from_slice(dgram);
        let mut out = [0u8; 256];
        match self
            .b
            .decapsulate(now, self.ea, &mut buf, 64, dgram.len(), &mut out)?
        {
            Decap::Data {
                start, len, peer, ..
            } => {
                assert_eq!(peer, self.pb);
                Ok(buf[start..start + len].to_vec())
            }
            Decap::Keepalive { .. } => Ok(Vec::new()),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// B sends `pkt` to A (B must have a session); returns the datagram.
    pub fn b_seal(&mut self, now: Time, pkt: &[u8]) -> Vec<u8> {
        let mut buf = in_buffer(pkt);
        let mut out = [0u8; 256];
        match self
            .b
            .encapsulate(now, &mut buf, HEADROOM, pkt.len(), &mut out)
            .unwrap()
        {
            Encap::Sealed { start, len, .. } => buf[start..start + len].to_vec(),
            other => panic!("{other:?}"),
        }
    }

    pub fn a_open(&mut self, now: Time, dgram: &[u8]) -> Result<Decap, Error> {
        let mut buf = dgram.to_vec();
        let mut out = [0u8; 256];
        self.a
            .decapsulate(now, self.eb, &mut buf, 0, dgram.len(), &mut out)
    }

    /// A round trip of one packet each way; both must arrive intact.
    pub fn ping(&mut self, now: Time, seed: u8) {
        let p = ipv4(A_LAN, B_LAN, 84, seed);
        let d = self.a_seal(now, &p);
        assert_eq!(self.b_open(now, &d).unwrap(), p);
        let q = ipv4(B_LAN, A_LAN, 84, seed);
        let d = self.b_seal(now, &q);
        assert!(matches!(self.a_open(now, &d).unwrap(), Decap::Data { .. }));
    }
}

#[test]
fn handshake_and_data_both_ways_with_and_without_psk() {
    for psk in [None, Some([0x33; 32])] {
        let mut n = Net::new(psk);
        let t = at(1, 0);
        for i in 0..50u8 {
            n.ping(t, i);
        }
        let v6 = ipv6([0xfd; 16], [0xfe; 16], 200, 1);
        // No IPv6 route on A: refused, counted by name.
        let mut buf = in_buffer(&v6);
        assert_eq!(
            n.a.encapsulate(t, &mut buf, HEADROOM, v6.len(), &mut [0; 256]),
            Err(Error::NoPeerForDestination)
        );
    }
}

#[test]
fn byte_counters_match_wg() {
    // Ten 84-byte pings from A: each is padded to 96, plus 32 bytes of
    // header and tag = 128 per message (the Linux selftest's numbers).
    let mut n = Net::new(None);
    let t = at(1, 0);
    for i in 0..10 {
        let p = ipv4(A_LAN, B_LAN, 84, i);
        let d = n.a_seal(t, &p);
        assert_eq!(d.len(), 128);
        n.b_open(t, &d).unwrap();
    }
    let a = n.a.peer_status(n.pa).unwrap();
    let b = n.b.peer_status(n.pb).unwrap();
    // A sent: initiation 148, keepalive 32, ten data 1280.
    assert_eq!(a.tx_bytes, 148 + 32 + 1280);
    // A received: the 92-byte response.
    assert_eq!(a.rx_bytes, 92);
    assert_eq!(b.rx_bytes, 148 + 32 + 1280);
    assert_eq!(b.tx_bytes, 92);
    assert_eq!(a.latest_handshake_mono, Some(t.mono_ns));
    assert_eq!(b.endpoint, Some(n.ea));
}

#[test]
fn replay_too_old_bitflips_truncation_and_wrong_index_are_dropped() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    n.ping(t, 0);
    let p = ipv4(A_LAN, B_LAN, 100, 7);
    let d = n.a_seal(t, &p);
    assert_eq!(n.b_open(t, &d).unwrap(), p);
    // Replay.
    assert_eq!(n.b_open(t, &d), Err(Error::Replay));
    // Every single bit flip anywhere is refused with its reason.
    let d2 = n.a_seal(t, &p);
    for i in 0..d2.len() {
        let mut m = d2.clone();
        m[i] ^= 0x01;
        let e = n.b_open(t, &m).unwrap_err();
        let expect: &[Error] = match i {
            0..=3 => &[Error::UnknownType],
            4..=7 => &[Error::UnknownReceiver],
            // A counter flipped to one already seen is caught before the tag.
            8..=15 => &[Error::BadTag, Error::Replay],
            _ => &[Error::BadTag],
        };
        assert!(expect.contains(&e), "byte {i}: {e:?}");
    }
    // Truncated (shorter than header + tag, and cut in the ciphertext).
    assert_eq!(n.b_open(t, &d2[..31]), Err(Error::BadLength));
    assert_eq!(n.b_open(t, &d2[..d2.len() - 1]), Err(Error::BadTag));
    assert_eq!(n.b_open(t, &d2[..3]), Err(Error::Malformed));
    // The untouched message still opens after all that.
    assert_eq!(n.b_open(t, &d2).unwrap(), p);
    // Too old: move the window on by more than 8128.
    let old = n.a_seal(t, &p);
    let mut last = Vec::new();
    for _ in 0..8200 {
        last = n.a_seal(t, &p);
    }
    assert_eq!(n.b_open(t, &last).unwrap(), p);
    assert_eq!(n.b_open(t, &old), Err(Error::TooOld));
    n.ping(t, 1);
}

#[test]
fn wrong_key_and_unknown_peer_get_no_reply() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    // A stranger who knows B's public key but is not B's peer: MAC1 is
    // right, the static key is unknown: dropped without a reply.
    let mut x = engine(9);
    let px = x
        .add_peer(&config_of(
            &n.b,
            &["0.0.0.0/0"],
            Some("198.51.100.2:51820"),
            None,
        ))
        .unwrap();
    let mut out = [0u8; 256];
    let init = x.initiate_handshake(t, px, &mut out).unwrap().unwrap();
    let mut m = out[..init.0].to_vec();
    let mut reply = [0u8; 256];
    let r = n.b.decapsulate(
        t,
        "203.0.113.9:4000".parse().unwrap(),
        &mut m,
        0,
        INITIATION_LEN,
        &mut reply,
    );
    assert_eq!(r, Err(Error::UnknownPeer));
    assert_eq!(reply, [0u8; 256]);
    // Sent to someone else's public key: MAC1 fails.
    let mut y = engine(10);
    let z = engine(11);
    let pz = y
        .add_peer(&config_of(&z, &["0.0.0.0/0"], Some("10.9.9.9:1"), None))
        .unwrap();
    let n1 = y.initiate_handshake(t, pz, &mut out).unwrap().unwrap().0;
    let mut m = out[..n1].to_vec();
    let r = n.b.decapsulate(t, n.ea, &mut m, 0, n1, &mut reply);
    assert_eq!(r, Err(Error::BadMac1));
    // Garbage of every type: silence.
    for (ty, len) in [
        (1u8, 148usize),
        (2, 92),
        (3, 64),
        (4, 32),
        (4, 200),
        (5, 100),
    ] {
        let mut g = vec![0xa5u8; len];
        g[..4].copy_from_slice(&[ty, 0, 0, 0]);
        assert!(n
            .b
            .decapsulate(t, n.ea, &mut g, 0, len, &mut reply)
            .is_err());
    }
    assert_eq!(reply, [0u8; 256]);
    n.ping(t, 3);
}

#[test]
fn stale_timestamp_and_initiation_flood() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    let mut out = [0u8; 256];
    let (len, _) = n.a.initiate_handshake(t, n.pa, &mut out).unwrap().unwrap();
    let init = out[..len].to_vec();
    n.complete_from_a(t, &init);
    // The same initiation again later: its timestamp is not newer.
    let mut m = init.clone();
    let r = n.b.decapsulate(at(2, 0), n.ea, &mut m, 0, len, &mut out);
    assert_eq!(r, Err(Error::StaleTimestamp));
    // Two fresh initiations 10 ms apart: the second is refused (20 ms rule).
    let t1 = at(10, 0);
    let (l1, _) = n.a.initiate_handshake(t1, n.pa, &mut out).unwrap().unwrap();
    let mut m1 = out[..l1].to_vec();
    let t2 = at(16, 0);
    let (l2, _) = n.a.initiate_handshake(t2, n.pa, &mut out).unwrap().unwrap();
    let mut m2 = out[..l2].to_vec();
    let mut reply = [0u8; 256];
    assert!(matches!(
        n.b.decapsulate(at(20, 0), n.ea, &mut m1, 0, l1, &mut reply),
        Ok(Decap::Reply { .. })
    ));
    let r =
        n.b.decapsulate(at(20, 10_000_000), n.ea, &mut m2, 0, l2, &mut reply);
    assert_eq!(r, Err(Error::InitiationFlood));
    // The session made before is still in use.
    n.ping(at(20, 20_000_000), 4);
}

#[test]
fn source_outside_allowed_ips_is_dropped_and_counted() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    n.ping(t, 0);
    // B sends a packet claiming a source that is not in A's allowed IPs for B.
    let q = ipv4([10, 1, 0, 99], A_LAN, 60, 1);
    let d = n.b_seal(t, &q);
    assert_eq!(n.a_open(t, &d), Err(Error::AllowedIpsMismatch));
    n.ping(t, 1);
}

#[test]
fn roaming_endpoint_follows_authenticated_packets_only() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    n.ping(t, 0);
    let q = ipv4(B_LAN, A_LAN, 60, 1);
    let d = n.b_seal(t, &q);
    // A forged copy from elsewhere (bad tag) does not move the endpoint.
    let mut f = d.clone();
    f[20] ^= 1;
    let roam: SocketAddr = "203.0.113.50:40000".parse().unwrap();
    let mut out = [0u8; 256];
    assert_eq!(
        n.a.decapsulate(t, roam, &mut f, 0, d.len(), &mut out),
        Err(Error::BadTag)
    );
    assert_eq!(n.a.peer_status(n.pa).unwrap().endpoint, Some(n.eb));
    let mut g = d.clone();
    assert!(n
        .a
        .decapsulate(t, roam, &mut g, 0, d.len(), &mut out)
        .is_ok());
    assert_eq!(n.a.peer_status(n.pa).unwrap().endpoint, Some(roam));
    let p = ipv4(A_LAN, B_LAN, 60, 2);
    let mut buf = in_buffer(&p);
    let r =
        n.a.encapsulate(t, &mut buf, HEADROOM, p.len(), &mut out)
            .unwrap();
    assert!(matches!(r, Encap::Sealed { endpoint, .. } if endpoint == roam));
}

#[test]
fn no_room_is_an_error_not_a_panic() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    n.ping(t, 0);
    let p = ipv4(A_LAN, B_LAN, 100, 1);
    let mut out = [0u8; 256];
    // No headroom.
    let mut b = p.clone();
    b.resize(200, 0);
    assert_eq!(
        n.a.encapsulate(t, &mut b, 0, 100, &mut out),
        Err(Error::NoRoom)
    );
    // No tailroom for padding and tag.
    let mut b = vec![0u8; 16 + 100];
    b[16..].copy_from_slice(&p);
    assert_eq!(
        n.a.encapsulate(t, &mut b, 16, 100, &mut out),
        Err(Error::NoRoom)
    );
    // Arguments outside the buffer.
    assert_eq!(
        n.a.encapsulate(t, &mut b, 100, 100, &mut out),
        Err(Error::Malformed)
    );
    assert_eq!(
        n.a.decapsulate(t, n.eb, &mut b, usize::MAX, 2, &mut out),
        Err(Error::Malformed)
    );
    // A reply buffer too small for a response.
    let (len, _) =
        n.a.initiate_handshake(at(9, 0), n.pa, &mut out)
            .unwrap()
            .unwrap();
    let mut m = out[..len].to_vec();
    let mut small = [0u8; 40];
    assert_eq!(
        n.b.decapsulate(at(9, 0), n.ea, &mut m, 0, len, &mut small),
        Err(Error::NoRoom)
    );
    n.ping(at(9, 0), 2);
}

#[test]
fn private_key_change_then_immediate_handshake() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    n.a.set_private_key([77; 32]);
    assert!(!n.a.has_session(n.pa, at(1, 0).mono_ns));
    // B learns A's new key (config change on B's side).
    n.b.remove_peer(n.pb).unwrap();
    n.pb =
        n.b.add_peer(&config_of(&n.a, &["10.1.0.0/16"], None, None))
            .unwrap();
    n.ping(at(2, 0), 1);
}

#[test]
fn peer_management_and_status() {
    let mut a = engine(1);
    let b = engine(2);
    let c = engine(3);
    let pb = a
        .add_peer(&config_of(&b, &["10.0.0.0/8", "fd00::/64"], None, None))
        .unwrap();
    assert_eq!(
        a.add_peer(&config_of(&b, &[], None, None)),
        Err(crate::wireguard::PeerError::DuplicateKey)
    );
    assert_eq!(
        a.add_peer(&config_of(&a, &[], None, None)),
        Err(crate::wireguard::PeerError::OwnKey)
    );
    let mut low = config_of(&b, &[], None, None);
    low.public_key = [0; 32];
    assert_eq!(
        a.add_peer(&low),
        Err(crate::wireguard::PeerError::LowOrderKey)
    );
    // A more specific prefix to C; the /8 stays with B.
    let pc = a
        .add_peer(&config_of(&c, &["10.3.0.0/16", "0.0.0.0/0"], None, None))
        .unwrap();
    assert_eq!(a.route("10.3.1.1".parse().unwrap()), Some(pc));
    assert_eq!(a.route("10.4.1.1".parse().unwrap()), Some(pb));
    assert_eq!(a.route("8.8.8.8".parse().unwrap()), Some(pc));
    // Moving a prefix takes it from the old owner's list.
    a.set_allowed_ips(pc, &["10.0.0.0/8".parse().unwrap()])
        .unwrap();
    assert_eq!(
        a.peer_status(pb).unwrap().allowed_ips,
        vec!["fd00::/64".parse().unwrap()]
    );
    a.remove_peer(pc).unwrap();
    assert_eq!(a.route("10.4.1.1".parse().unwrap()), None);
    assert_eq!(a.peer_ids().collect::<Vec<_>>(), vec![pb]);
    let s = a.status();
    assert_eq!((s.listen_port, s.peers), (51820, 1));
    assert_eq!(a.peer_by_key(&b.public_key()), Some(pb));
}

#[test]
fn no_endpoint_means_no_initiation() {
    let mut a = engine(1);
    let b = engine(2);
    a.add_peer(&config_of(&b, &["10.2.0.0/16"], None, None))
        .unwrap();
    let p = ipv4(A_LAN, B_LAN, 60, 0);
    let mut buf = in_buffer(&p);
    let mut out = [0u8; 256];
    assert_eq!(
        a.encapsulate(at(1, 0), &mut buf, HEADROOM, p.len(), &mut out),
        Err(Error::NoEndpoint)
    );
}

#[test]
fn many_peers_route_by_longest_prefix_and_handshake() {
    // 1000 peers with a /24 each inside 10.100.0.0/14, plus one peer owning
    // 0.0.0.0/0 and 10.100.0.0/14 as a whole: the most specific prefix wins.
    let mut a = engine(1);
    let b = engine(2);
    let default = a
        .add_peer(&config_of(&b, &["0.0.0.0/0", "10.100.0.0/14"], None, None))
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..1000u32 {
        let mut cfg = config_of(&b, &[], Some("198.51.100.7:51820"), None);
        // Byte 0 of a private key loses its low bits to clamping: vary 1 and 2.
        let mut sk = [9u8; 32];
        sk[1..3].copy_from_slice(&(i as u16).to_le_bytes());
        cfg.public_key = crate::wireguard::crypto::public_of(&x25519_dalek::StaticSecret::from(sk));
        let net = 0x0a64_0000u32 + (i << 8);
        cfg.allowed_ips =
            vec![crate::prefix::IpPrefix::new(core::net::Ipv4Addr::from(net).into(), 24).unwrap()];
        ids.push(a.add_peer(&cfg).unwrap());
    }
    assert_eq!(a.status().peers, 1001);
    for (i, id) in ids.iter().enumerate() {
        let host = 0x0a64_0000u32 + ((i as u32) << 8) + 77;
        assert_eq!(a.route(core::net::Ipv4Addr::from(host).into()), Some(*id));
    }
    // Inside the /14 but past the 1000 /24s: the /14 owner.
    assert_eq!(a.route("10.103.250.1".parse().unwrap()), Some(default));
    assert_eq!(a.route("1.1.1.1".parse().unwrap()), Some(default));
    // Removing peers in the middle keeps the rest routed.
    for id in ids.iter().step_by(2) {
        a.remove_peer(*id).unwrap();
    }
    assert_eq!(a.route("10.100.0.5".parse().unwrap()), Some(default));
    assert_eq!(a.route("10.100.1.5".parse().unwrap()), Some(ids[1]));
    // And a handshake with the default peer still works from B's side.
    let mut b = b;
    let pb = b
        .add_peer(&config_of(
            &a,
            &["10.0.0.0/8"],
            Some("192.0.2.1:51820"),
            None,
        ))
        .unwrap();
    let mut out = [0u8; 256];
    let (len, _) = b
        .initiate_handshake(at(1, 0), pb, &mut out)
        .unwrap()
        .unwrap();
    let mut m = out[..len].to_vec();
    let r = a.decapsulate(
        at(1, 0),
        "198.51.100.2:1".parse().unwrap(),
        &mut m,
        0,
        len,
        &mut out,
    );
    assert!(
        matches!(r, Ok(Decap::Reply { peer, .. }) if peer == default),
        "{r:?}"
    );
}

#[test]
fn wrong_preshared_key_is_refused_then_fixed() {
    let mut n = Net::new(Some([1; 32]));
    n.b.set_preshared_key(n.pb, Some([2; 32])).unwrap();
    let mut out = [0u8; 256];
    let (len, _) =
        n.a.initiate_handshake(at(1, 0), n.pa, &mut out)
            .unwrap()
            .unwrap();
    let mut m = out[..len].to_vec();
    // B cannot tell (the PSK enters after the static keys): it answers.
    let r =
        n.b.decapsulate(at(1, 0), n.ea, &mut m, 0, len, &mut out)
            .unwrap();
    let Decap::Reply { len, .. } = r else {
        panic!("{r:?}")
    };
    let mut resp = out[..len].to_vec();
    let mut ka = [0u8; 256];
    assert_eq!(
        n.a.decapsulate(at(1, 0), n.eb, &mut resp, 0, len, &mut ka),
        Err(Error::BadHandshake)
    );
    assert_eq!(ka, [0u8; 256]);
    assert!(!n.a.has_session(n.pa, at(1, 0).mono_ns));
    // Same key on both sides: the next handshake works.
    n.b.set_preshared_key(n.pb, Some([1; 32])).unwrap();
    n.ping(at(7, 0), 1);
}

#[test]
fn ring_and_rustcrypto_engines_interoperate() {
    use crate::wireguard::RustCryptoAead;
    let mut a = engine(1);
    let mut b: Engine<TestRng, RustCryptoAead> = Engine::new([2; 32], 51820, TestRng::new(5));
    let pa = a
        .add_peer(&config_of(
            &engine(2),
            &["10.2.0.0/16"],
            Some("198.51.100.2:51820"),
            None,
        ))
        .unwrap();
    b.add_peer(&config_of(&a, &["10.1.0.0/16"], None, None))
        .unwrap();
    let (ea, t) = ("192.0.2.1:51820".parse().unwrap(), at(1, 0));
    let mut out = [0u8; 256];
    let (len, eb) = a.initiate_handshake(t, pa, &mut out).unwrap().unwrap();
    let mut m = out[..len].to_vec();
    let Ok(Decap::Reply { len, .. }) = b.decapsulate(t, ea, &mut m, 0, len, &mut out) else {
        panic!()
    };
    let mut r = out[..len].to_vec();
    let Ok(Decap::HandshakeComplete { len, .. }) = a.decapsulate(t, eb, &mut r, 0, len, &mut out)
    else {
        panic!()
    };
    let mut k = out[..len].to_vec();
    assert!(matches!(
        b.decapsulate(t, ea, &mut k, 0, len, &mut out),
        Ok(Decap::Keepalive { .. })
    ));
    for (i, size) in [20usize, 100, 1420].into_iter().enumerate() {
        let p = ipv4(A_LAN, B_LAN, size, i as u8);
        let mut buf = in_buffer(&p);
        let Ok(Encap::Sealed { start, len, .. }) =
            a.encapsulate(t, &mut buf, HEADROOM, p.len(), &mut out)
        else {
            panic!()
        };
        let r = b.decapsulate(t, ea, &mut buf, start, len, &mut out);
        let Ok(Decap::Data { start, len, .. }) = r else {
            panic!("{r:?}")
        };
        assert_eq!(&buf[start..start + len], &p[..]);
    }
}
