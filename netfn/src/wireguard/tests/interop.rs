//! Interoperability in memory against boringtun 0.7 (`noise::Tunn`), an
//! independent implementation: handshakes in both roles with and without a
//! preshared key, data both ways compared byte for byte, keepalives, rekeys
//! with traffic flowing, and the cookie path under load in both directions.
//!
//! boringtun reads the real clock for its own timers, so tests where time
//! must pass are driven from the Ringwall side (whose time is simulated);
//! boringtun's "rekey" is asked for explicitly with a forced initiation.

use super::*;
use crate::simd::SimdAead;
use crate::wireguard::messages::INITIATION_LEN;
use crate::wireguard::{Aead, Decap, Encap, PeerId, RingAead, TickAction};
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519;
use core::net::{IpAddr, SocketAddr};
use std::sync::Arc;

const R_LAN: [u8; 4] = [10, 1, 0, 5];
const B_LAN: [u8; 4] = [10, 2, 0, 9];
const R_LAN6: [u8; 16] = [0xfd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
const B_LAN6: [u8; 16] = [0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
const BT_KEY: [u8; 32] = [0x42; 32];

struct Pair<A: Aead = RingAead> {
    r: Engine<TestRng, A>,
    bt: Tunn,
    peer: PeerId,
    er: SocketAddr,
    eb: SocketAddr,
    rng: TestRng,
}

/// What boringtun produced for one input (following its "call again with
/// an empty datagram until Done" rule).
#[derive(Default, Debug)]
struct BtOut {
    network: Vec<Vec<u8>>,
    tunnel: Vec<Vec<u8>>,
    error: Option<String>,
}

impl Pair {
    fn new(psk: Option<[u8; 32]>, bt_limiter: Option<u64>) -> Pair {
        Pair::with_aead(psk, bt_limiter)
    }
}

impl<A: Aead> Pair<A> {
    /// Ringwall on the AEAD back end `A`.
    fn with_aead(psk: Option<[u8; 32]>, bt_limiter: Option<u64>) -> Pair<A> {
        let mut r = Engine::<TestRng, A>::new([1; 32], 51820, TestRng::new(1007));
        let bt_secret = x25519::StaticSecret::from(BT_KEY);
        let bt_public = x25519::PublicKey::from(&bt_secret);
        let limiter = bt_limiter.map(|n| Arc::new(RateLimiter::new(&bt_public, n)));
        let bt = Tunn::new(
            bt_secret,
            x25519::PublicKey::from(r.public_key()),
            psk,
            None,
            7,
            limiter,
        );
        let peer = r
            .add_peer(&crate::wireguard::PeerConfig {
                public_key: bt_public.to_bytes(),
                preshared_key: psk,
                endpoint: Some("198.51.100.2:51820".parse().unwrap()),
                allowed_ips: vec!["10.2.0.0/16".parse().unwrap(), "fd02::/64".parse().unwrap()],
                persistent_keepalive: None,
            })
            .unwrap();
        Pair {
            r,
            bt,
            peer,
            er: "192.0.2.1:51820".parse().unwrap(),
            eb: "198.51.100.2:51820".parse().unwrap(),
            rng: TestRng::new(99),
        }
    }

    fn bt_decap(&mut self, dgram: &[u8]) -> BtOut {
        let mut out = BtOut::default();
        let mut dst = vec![0u8; 2048];
        let mut input = dgram.to_vec();
        loop {
            match self.bt.decapsulate(Some(self.er.ip()), &input, &mut dst) {
                TunnResult::Done => break,
                TunnResult::Err(e) => {
                    out.error = Some(format!("{e:?}"));
                    break;
                }
                TunnResult::WriteToNetwork(p) => {
                    out.network.push(p.to_vec());
                    input.clear();
                }
                TunnResult::WriteToTunnelV4(p, _) | TunnResult::WriteToTunnelV6(p, _) => {
                    out.tunnel.push(p.to_vec());
                    break;
                }
            }
        }
        out
    }

    fn bt_encap(&mut self, pkt: &[u8]) -> Vec<u8> {
        let mut dst = vec![0u8; 2048];
        match self.bt.encapsulate(pkt, &mut dst) {
            TunnResult::WriteToNetwork(p) => p.to_vec(),
            other => panic!("boringtun encapsulate: {other:?}"),
        }
    }

    fn bt_initiation(&mut self, force: bool) -> Vec<u8> {
        let mut dst = vec![0u8; 2048];
        match self.bt.format_handshake_initiation(&mut dst, force) {
            TunnResult::WriteToNetwork(p) => p.to_vec(),
            other => panic!("boringtun initiation: {other:?}"),
        }
    }

    fn r_decap(&mut self, now: Time, dgram: &[u8], out: &mut [u8]) -> (Decap, Vec<u8>) {
        let mut buf = vec![0u8; 2048];
        buf[100..100 + dgram.len()].copy_from_slice(dgram);
        let d = self
            .r
            .decapsulate(now, self.eb, &mut buf, 100, dgram.len(), out)
            .unwrap_or_else(|e| panic!("ringwall decapsulate: {e:?}"));
        let inner = match d {
            Decap::Data { start, len, .. } => buf[start..start + len].to_vec(),
            _ => Vec::new(),
        };
        (d, inner)
    }

    /// Ringwall seals `pkt`; a session must exist.
    fn r_seal(&mut self, now: Time, pkt: &[u8]) -> Vec<u8> {
        let mut buf = in_buffer(pkt);
        let mut out = [0u8; 256];
        match self
            .r
            .encapsulate(now, &mut buf, HEADROOM, pkt.len(), &mut out)
            .unwrap()
        {
            Encap::Sealed {
                start,
                len,
                endpoint,
                ..
            } => {
                assert_eq!(endpoint, self.eb);
                buf[start..start + len].to_vec()
            }
            other => panic!("{other:?}"),
        }
    }

    /// Handshake with Ringwall as initiator.
    fn handshake_from_ringwall(&mut self, now: Time) {
        let mut out = [0u8; 256];
        let (len, ep) = self
            .r
            .initiate_handshake(now, self.peer, &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(ep, self.eb);
        self.finish_ringwall_initiation(now, &out[..len]);
    }

    fn finish_ringwall_initiation(&mut self, now: Time, init: &[u8]) {
        let o = self.bt_decap(init);
        assert_eq!(o.error, None);
        assert_eq!(o.network.len(), 1, "one response");
        let mut out = [0u8; 256];
        let (d, _) = self.r_decap(now, &o.network[0], &mut out);
        let Decap::HandshakeComplete { len, .. } = d else {
            panic!("{d:?}")
        };
        let ka = out[..len].to_vec();
        let o = self.bt_decap(&ka);
        assert_eq!(o.error, None);
        assert!(o.network.is_empty() && o.tunnel.is_empty());
    }

    /// Handshake with boringtun as initiator.
    fn handshake_from_boringtun(&mut self, now: Time, force: bool) {
        let init = self.bt_initiation(force);
        assert_eq!(init.len(), INITIATION_LEN);
        let mut out = [0u8; 256];
        let (d, _) = self.r_decap(now, &init, &mut out);
        let Decap::Reply { len, endpoint, .. } = d else {
            panic!("{d:?}")
        };
        assert_eq!(endpoint, self.eb);
        let resp = out[..len].to_vec();
        let o = self.bt_decap(&resp);
        assert_eq!(o.error, None);
        assert_eq!(o.network.len(), 1, "boringtun answers with a keepalive");
        let (d, _) = self.r_decap(now, &o.network[0], &mut out);
        assert_eq!(
            d,
            Decap::Keepalive {
                peer: self.peer,
                new_session: true
            }
        );
    }

    fn random_packet(&mut self, from_ringwall: bool) -> Vec<u8> {
        let v6 = self.rng.next_u64().is_multiple_of(4);
        let len = 40 + (self.rng.next_u64() % 1381) as usize; // 40..=1420
        let seed = self.rng.next_u64() as u8;
        match (v6, from_ringwall) {
            (false, true) => ipv4(R_LAN, B_LAN, len, seed),
            (false, false) => ipv4(B_LAN, R_LAN, len, seed),
            (true, true) => ipv6(R_LAN6, B_LAN6, len, seed),
            (true, false) => ipv6(B_LAN6, R_LAN6, len, seed),
        }
    }

    /// `n` random packets each way, compared byte for byte.
    fn traffic(&mut self, now: Time, n: usize) {
        let mut out = [0u8; 256];
        for _ in 0..n {
            let p = self.random_packet(true);
            let d = self.r_seal(now, &p);
            let o = self.bt_decap(&d);
            assert_eq!(o.error, None);
            assert_eq!(o.tunnel, vec![p]);
            let q = self.random_packet(false);
            let d = self.bt_encap(&q);
            let (dec, inner) = self.r_decap(now, &d, &mut out);
            assert!(matches!(dec, Decap::Data { peer, .. } if peer == self.peer));
            assert_eq!(inner, q);
        }
    }
}

#[test]
fn ringwall_initiates_with_and_without_psk() {
    for psk in [None, Some([0x5a; 32])] {
        let mut p = Pair::new(psk, None);
        p.handshake_from_ringwall(at(1, 0));
        p.traffic(at(1, 0), 100);
    }
}

#[test]
fn boringtun_initiates_with_and_without_psk() {
    for psk in [None, Some([0x5a; 32])] {
        let mut p = Pair::new(psk, None);
        p.handshake_from_boringtun(at(1, 0), false);
        p.traffic(at(1, 0), 100);
    }
}

#[test]
fn psk_mismatch_fails_quietly() {
    let mut p = Pair::new(Some([1; 32]), None);
    p.r.set_preshared_key(p.peer, Some([2; 32])).unwrap();
    let init = p.bt_initiation(false);
    let mut out = [0u8; 256];
    let mut buf = init.clone();
    let d =
        p.r.decapsulate(at(1, 0), p.eb, &mut buf, 0, init.len(), &mut out);
    // Ringwall cannot tell a PSK mismatch at this point: it answers, and
    // boringtun refuses the response.
    let Ok(Decap::Reply { len, .. }) = d else {
        panic!("{d:?}")
    };
    let o = p.bt_decap(&out[..len]);
    assert!(o.error.is_some());
    assert!(o.network.is_empty());
}

#[test]
fn keepalives_both_ways() {
    let mut p = Pair::new(None, None);
    p.handshake_from_ringwall(at(1, 0));
    // boringtun sends data; Ringwall, with nothing to send back, answers
    // with a keepalive 10 s later, which boringtun accepts silently.
    let q = p.random_packet(false);
    let d = p.bt_encap(&q);
    let mut out = [0u8; 256];
    p.r_decap(at(2, 0), &d, &mut out);
    assert_eq!(p.r.tick(at(11, 0), &mut out), None);
    let Some(TickAction::Send { len, .. }) = p.r.tick(at(12, 1), &mut out) else {
        panic!()
    };
    assert_eq!(len, 32);
    let o = p.bt_decap(&out[..len]);
    assert_eq!(o.error, None);
    assert!(o.tunnel.is_empty() && o.network.is_empty());
    // boringtun's own keepalive (an empty encapsulation) reaches Ringwall as one.
    let ka = p.bt_encap(&[]);
    assert_eq!(ka.len(), 32);
    let (d, _) = p.r_decap(at(13, 0), &ka, &mut out);
    assert_eq!(
        d,
        Decap::Keepalive {
            peer: p.peer,
            new_session: false
        }
    );
}

#[test]
fn rekey_after_time_with_traffic_flowing() {
    let mut p = Pair::new(None, None);
    p.handshake_from_ringwall(at(0, 0));
    let mut out = [0u8; 256];
    let mut rekeys = 0;
    let first = *p.r.session_keys(p.peer).unwrap().0;
    // A packet each way every second for 300 s of Ringwall time.
    for s in 1..=300u64 {
        let now = at(s, 0);
        p.traffic(now, 1);
        while let Some(a) = p.r.tick(now, &mut out) {
            if let TickAction::Send {
                len: INITIATION_LEN,
                ..
            } = a
            {
                rekeys += 1;
                let init = out[..INITIATION_LEN].to_vec();
                p.finish_ringwall_initiation(now, &init);
            }
        }
    }
    assert_eq!(rekeys, 2); // at 120 s and 240 s
    assert_ne!(*p.r.session_keys(p.peer).unwrap().0, first);
}

#[test]
fn rekey_after_messages_with_traffic_flowing() {
    let mut p = Pair::new(None, None);
    p.r.set_rekey_after_messages(40);
    p.handshake_from_ringwall(at(0, 0));
    let mut out = [0u8; 256];
    let mut rekeys = 0;
    for i in 1..=130u64 {
        let now = at(0, i * 200_000_000);
        p.traffic(now, 1);
        while let Some(a) = p.r.tick(now, &mut out) {
            if let TickAction::Send {
                len: INITIATION_LEN,
                ..
            } = a
            {
                rekeys += 1;
                let init = out[..INITIATION_LEN].to_vec();
                p.finish_ringwall_initiation(now, &init);
            }
        }
    }
    assert_eq!(rekeys, 3);
}

#[test]
fn boringtun_rekeys_and_ringwall_switches_after_confirmation() {
    let mut p = Pair::new(None, None);
    p.handshake_from_boringtun(at(1, 0), false);
    p.traffic(at(1, 0), 20);
    // boringtun starts a new handshake (as its REKEY_AFTER_TIME would);
    // traffic continues through and after it.
    p.handshake_from_boringtun(at(2, 0), true);
    p.traffic(at(2, 0), 20);
    p.handshake_from_ringwall(at(8, 0));
    p.traffic(at(8, 0), 20);
}

#[test]
fn replayed_boringtun_packet_is_dropped() {
    let mut p = Pair::new(None, None);
    p.handshake_from_ringwall(at(1, 0));
    let q = p.random_packet(false);
    let d = p.bt_encap(&q);
    let mut out = [0u8; 256];
    p.r_decap(at(1, 0), &d, &mut out);
    let mut buf = d.clone();
    assert_eq!(
        p.r.decapsulate(at(1, 0), p.eb, &mut buf, 0, d.len(), &mut out),
        Err(crate::wireguard::Error::Replay)
    );
    p.traffic(at(1, 0), 5);
}

#[test]
fn boringtun_under_load_sends_ringwall_a_cookie() {
    // A limit of 0 handshakes makes boringtun demand MAC2 on everything.
    let mut p = Pair::new(None, Some(0));
    let mut out = [0u8; 256];
    let (len, _) =
        p.r.initiate_handshake(at(1, 0), p.peer, &mut out)
            .unwrap()
            .unwrap();
    let o = p.bt_decap(&out[..len]);
    assert_eq!(o.network.len(), 1);
    assert_eq!(o.network[0].len(), 64, "a cookie reply");
    let (d, _) = p.r_decap(at(1, 0), &o.network[0], &mut out);
    assert_eq!(d, Decap::CookieStored { peer: p.peer });
    // Ringwall retries after REKEY_TIMEOUT + jitter, now with MAC2.
    assert_eq!(p.r.tick(at(5, 0), &mut out), None);
    let now = at(6, 400_000_000);
    let Some(TickAction::Send { len, .. }) = p.r.tick(now, &mut out) else {
        panic!()
    };
    let init = out[..len].to_vec();
    p.finish_ringwall_initiation(now, &init);
    p.traffic(now, 10);
}

#[test]
fn ringwall_under_load_sends_boringtun_a_cookie() {
    let mut p = Pair::new(None, None);
    p.r.force_under_load(true);
    let init = p.bt_initiation(false);
    let mut out = [0u8; 256];
    let (d, _) = p.r_decap(at(1, 0), &init, &mut out);
    let Decap::CookieReply { len, endpoint } = d else {
        panic!("{d:?}")
    };
    assert_eq!((len, endpoint), (64, p.eb));
    let o = p.bt_decap(&out[..len]);
    assert_eq!(o.error, None);
    assert!(o.network.is_empty());
    // boringtun retries with MAC2 from the cookie: accepted.
    p.handshake_from_boringtun(at(2, 0), true);
    p.traffic(at(2, 0), 10);
    // And a source address the cookie was not made for gets another cookie.
    let init = p.bt_initiation(true);
    let mut buf = init.clone();
    let other: SocketAddr = (IpAddr::from([203, 0, 113, 1]), 1).into();
    let d =
        p.r.decapsulate(at(3, 0), other, &mut buf, 0, init.len(), &mut out);
    assert!(matches!(d, Ok(Decap::CookieReply { .. })), "{d:?}");
}

/// On `RingAead` the burst calls go packet by packet; on `SimdAead` (with
/// AVX2) through the three passes and the lanes.
#[test]
fn data_through_the_burst_api_both_ways() {
    bursts_both_ways::<RingAead>();
    bursts_both_ways::<SimdAead>();
}

fn bursts_both_ways<A: Aead>() {
    use crate::wireguard::{DecapPacket, EncapPacket, Error};
    let now = at(1, 0);
    let mut p = Pair::<A>::with_aead(None, None);
    p.handshake_from_ringwall(now);
    for round in 0..3 {
        // Ringwall seals a burst of 32 (and a few more: two calls).
        let pkts: Vec<Vec<u8>> = (0..37).map(|_| p.random_packet(true)).collect();
        let mut bufs: Vec<Vec<u8>> = pkts.iter().map(|q| in_buffer(q)).collect();
        let mut results = vec![Err(Error::Malformed); pkts.len()];
        let mut out = [0u8; 256];
        let mut done = 0;
        while done < pkts.len() {
            let mut batch: Vec<EncapPacket<'_>> = bufs[done..]
                .iter_mut()
                .zip(&pkts[done..])
                .map(|(buf, q)| EncapPacket {
                    buf,
                    start: HEADROOM,
                    len: q.len(),
                })
                .collect();
            done +=
                p.r.encapsulate_burst(now, &mut batch, &mut results[done..], &mut out);
        }
        for ((r, b), q) in results.iter().zip(&bufs).zip(&pkts) {
            let Ok(Encap::Sealed { start, len, .. }) = *r else {
                panic!("round {round}: {r:?}")
            };
            let o = p.bt_decap(&b[start..start + len]);
            assert_eq!(o.error, None);
            assert_eq!(o.tunnel, vec![q.clone()]);
        }
        // boringtun seals, Ringwall opens the lot in bursts.
        let pkts: Vec<Vec<u8>> = (0..37).map(|_| p.random_packet(false)).collect();
        let dgrams: Vec<Vec<u8>> = pkts.iter().map(|q| p.bt_encap(q)).collect();
        let mut bufs: Vec<Vec<u8>> = dgrams.iter().map(|d| in_buffer(d)).collect();
        let mut results = vec![Err(Error::Malformed); dgrams.len()];
        let mut done = 0;
        while done < dgrams.len() {
            let mut batch: Vec<DecapPacket<'_>> = bufs[done..]
                .iter_mut()
                .zip(&dgrams[done..])
                .map(|(buf, d)| DecapPacket {
                    buf,
                    start: HEADROOM,
                    len: d.len(),
                    src: p.eb,
                })
                .collect();
            done +=
                p.r.decapsulate_burst(now, &mut batch, &mut results[done..], &mut out);
        }
        for ((r, b), q) in results.iter().zip(&bufs).zip(&pkts) {
            let Ok(Decap::Data {
                start, len, peer, ..
            }) = *r
            else {
                panic!("round {round}: {r:?}")
            };
            assert_eq!(peer, p.peer);
            assert_eq!(&b[start..start + len], &q[..]);
        }
    }
}
