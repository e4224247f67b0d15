//! The burst API against the single-packet API: two identical worlds (all
//! randomness is seeded), one fed packet by packet, one in bursts; every
//! result, every byte written and every peer's state must match. Run with
//! the three AEAD back ends and `Phased` (which forces the three passes),
//! over mixed bursts: several peers, packets with no session (initiations),
//! bad tags, replays inside one burst and from before it, a source outside
//! the allowed IPs, a handshake message in the middle, keepalives, a
//! session confirmed by the first packet of a burst; and random datagrams
//! (a property test), which both paths refuse alike.

use super::*;
use crate::simd::SimdAead;
use crate::wireguard::aead::{AeadError, RustCryptoAead, TAG_LEN};
use crate::wireguard::{Aead, Decap, DecapPacket, Encap, EncapPacket, Error, PeerId, RingAead};
use core::net::SocketAddr;

const A_EP: &str = "192.0.2.1:51820";
const B_EP: &str = "198.51.100.2:51820";
const C_EP: &str = "198.51.100.3:51820";
const D_EP: &str = "198.51.100.4:51820";
const A_LAN: [u8; 4] = [10, 1, 0, 5];
const B_LAN: [u8; 4] = [10, 2, 0, 9];
const C_LAN: [u8; 4] = [10, 3, 0, 7];
const D_LAN: [u8; 4] = [10, 4, 0, 1];

fn ep(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg<A: Aead>(e: &Engine<TestRng, A>, ips: &str, endpoint: Option<&str>) -> PeerConfig {
    PeerConfig {
        public_key: e.public_key(),
        preshared_key: None,
        endpoint: endpoint.map(ep),
        allowed_ips: vec![ips.parse().unwrap()],
        persistent_keepalive: None,
    }
}

/// A (the engine under test) with three peers: B (session, A initiated),
/// C (C initiated; A's keypair still waits for confirmation in `next`) and
/// D (no session yet).
struct World<A: Aead> {
    a: Engine<TestRng, A>,
    b: Engine<TestRng, A>,
    c: Engine<TestRng, A>,
    d: Engine<TestRng, A>,
    /// A as a peer of D.
    da: PeerId,
}

fn new_engine<A: Aead>(seed: u8) -> Engine<TestRng, A> {
    Engine::new([seed; 32], 51820, TestRng::new(seed as u64 * 1000 + 7))
}

/// `init` starts a handshake with its peer `p`; `resp` answers. The final
/// keepalive reaches `resp` only when `confirm`.
fn handshake<A: Aead>(
    now: Time,
    init: &mut Engine<TestRng, A>,
    p: PeerId,
    init_ep: &str,
    resp: &mut Engine<TestRng, A>,
    resp_ep: &str,
    confirm: bool,
) {
    let mut out = [0u8; 256];
    let (n, _) = init.initiate_handshake(now, p, &mut out).unwrap().unwrap();
    let mut m = out[..n].to_vec();
    let Ok(Decap::Reply { len, .. }) = resp.decapsulate(now, ep(init_ep), &mut m, 0, n, &mut out)
    else {
        panic!("no reply")
    };
    let mut r = out[..len].to_vec();
    let Ok(Decap::HandshakeComplete { len, .. }) =
        init.decapsulate(now, ep(resp_ep), &mut r, 0, len, &mut out)
    else {
        panic!("no completion")
    };
    if confirm {
        let mut k = out[..len].to_vec();
        let r = resp.decapsulate(now, ep(init_ep), &mut k, 0, len, &mut out);
        assert!(matches!(
            r,
            Ok(Decap::Keepalive {
                new_session: true,
                ..
            })
        ));
    }
}

impl<A: Aead> World<A> {
    fn new() -> World<A> {
        let now = at(1, 0);
        let mut a = new_engine::<A>(1);
        let mut b = new_engine::<A>(2);
        let mut c = new_engine::<A>(3);
        let mut d = new_engine::<A>(4);
        let ab = a.add_peer(&cfg(&b, "10.2.0.0/16", Some(B_EP))).unwrap();
        a.add_peer(&cfg(&c, "10.3.0.0/16", Some(C_EP))).unwrap();
        a.add_peer(&cfg(&d, "10.4.0.0/16", Some(D_EP))).unwrap();
        b.add_peer(&cfg(&a, "10.1.0.0/16", Some(A_EP))).unwrap();
        let ca = c.add_peer(&cfg(&a, "10.1.0.0/16", Some(A_EP))).unwrap();
        let da = d.add_peer(&cfg(&a, "10.1.0.0/16", Some(A_EP))).unwrap();
        handshake(now, &mut a, ab, A_EP, &mut b, B_EP, true);
        handshake(now, &mut c, ca, C_EP, &mut a, A_EP, false);
        World { a, b, c, d, da }
    }

    /// Everything observable about A's peers, timers included.
    fn state(&self) -> Vec<String> {
        self.a
            .peers
            .iter()
            .flatten()
            .map(|p| {
                format!(
                    "{:?} {:?} {:?}",
                    p.status(),
                    p.timers,
                    p.slot_of(p.current.as_ref().map_or(0, |k| k.local_index))
                )
            })
            .collect()
    }
}

/// `e` seals `pkt`; it must have a session.
fn seal<A: Aead>(now: Time, e: &mut Engine<TestRng, A>, pkt: &[u8]) -> Vec<u8> {
    let mut buf = in_buffer(pkt);
    let mut out = [0u8; 256];
    match e.encapsulate(now, &mut buf, HEADROOM, pkt.len(), &mut out) {
        Ok(Encap::Sealed { start, len, .. }) => buf[start..start + len].to_vec(),
        other => panic!("{other:?}"),
    }
}

/// What one packet left behind: the result, its buffer, and the message
/// written to `out` for it (if any).
type Outcome<T> = (Result<T, Error>, Vec<u8>, Vec<u8>);

fn out_len_encap(r: &Result<Encap, Error>) -> usize {
    match r {
        Ok(Encap::NoSession {
            initiation: Some((n, _)),
            ..
        }) => *n,
        _ => 0,
    }
}

fn out_len_decap(r: &Result<Decap, Error>) -> usize {
    match r {
        Ok(Decap::Reply { len, .. })
        | Ok(Decap::CookieReply { len, .. })
        | Ok(Decap::HandshakeComplete { len, .. }) => *len,
        _ => 0,
    }
}

/// (start, len) pairs of inner packets: buffers, one by one and in bursts.
fn encap_both<A: Aead>(now: Time, pkts: &[(Vec<u8>, usize, usize)]) -> (World<A>, World<A>) {
    let mut w1 = World::<A>::new();
    let mut w2 = World::<A>::new();
    assert_eq!(w1.state(), w2.state());
    let mut one: Vec<Outcome<Encap>> = Vec::new();
    for (b, s, l) in pkts {
        let mut buf = b.clone();
        let mut out = [0u8; 256];
        let r = w1.a.encapsulate(now, &mut buf, *s, *l, &mut out);
        let o = out[..out_len_encap(&r)].to_vec();
        one.push((r, buf, o));
    }
    let mut bufs: Vec<Vec<u8>> = pkts.iter().map(|p| p.0.clone()).collect();
    let mut results: Vec<Result<Encap, Error>> = vec![Err(Error::Malformed); pkts.len()];
    let mut outs = vec![Vec::new(); pkts.len()];
    let mut done = 0;
    while done < pkts.len() {
        let mut batch: Vec<EncapPacket<'_>> = bufs[done..]
            .iter_mut()
            .zip(&pkts[done..])
            .map(|(buf, p)| EncapPacket {
                buf,
                start: p.1,
                len: p.2,
            })
            .collect();
        let mut out = [0u8; 256];
        let n =
            w2.a.encapsulate_burst(now, &mut batch, &mut results[done..], &mut out);
        assert!(n > 0);
        outs[done + n - 1] = out[..out_len_encap(&results[done + n - 1])].to_vec();
        done += n;
    }
    for (i, (r, b, o)) in one.into_iter().enumerate() {
        assert_eq!(results[i], r, "result of packet {i}");
        assert_eq!(bufs[i], b, "bytes of packet {i}");
        assert_eq!(outs[i], o, "message for packet {i}");
    }
    assert_eq!(w1.state(), w2.state());
    (w1, w2)
}

fn decap_both<A: Aead>(
    now: Time,
    w1: &mut World<A>,
    w2: &mut World<A>,
    dgrams: &[(Vec<u8>, &str)],
) -> Vec<Result<Decap, Error>> {
    let mut one: Vec<Outcome<Decap>> = Vec::new();
    for (d, src) in dgrams {
        let mut buf = in_buffer(d);
        let mut out = [0u8; 256];
        let r =
            w1.a.decapsulate(now, ep(src), &mut buf, HEADROOM, d.len(), &mut out);
        let o = out[..out_len_decap(&r)].to_vec();
        one.push((r, buf, o));
    }
    let mut bufs: Vec<Vec<u8>> = dgrams.iter().map(|d| in_buffer(&d.0)).collect();
    let mut results: Vec<Result<Decap, Error>> = vec![Err(Error::Malformed); dgrams.len()];
    let mut outs = vec![Vec::new(); dgrams.len()];
    let mut done = 0;
    while done < dgrams.len() {
        let mut batch: Vec<DecapPacket<'_>> = bufs[done..]
            .iter_mut()
            .zip(&dgrams[done..])
            .map(|(buf, d)| DecapPacket {
                buf,
                start: HEADROOM,
                len: d.0.len(),
                src: ep(d.1),
            })
            .collect();
        let mut out = [0u8; 256];
        let n =
            w2.a.decapsulate_burst(now, &mut batch, &mut results[done..], &mut out);
        assert!(n > 0);
        outs[done + n - 1] = out[..out_len_decap(&results[done + n - 1])].to_vec();
        done += n;
    }
    for (i, (r, b, o)) in one.into_iter().enumerate() {
        assert_eq!(results[i], r, "result of datagram {i}");
        // Opened bytes must match (a failed open leaves them unspecified).
        if let Ok(Decap::Data { start, len, .. }) = r {
            assert_eq!(
                bufs[i][start..start + len],
                b[start..start + len],
                "datagram {i}"
            );
        }
        assert_eq!(outs[i], o, "message for datagram {i}");
    }
    assert_eq!(w1.state(), w2.state());
    results
}

/// A mixed burst of inner packets from A's LAN.
fn mixed_encap(size: usize) -> Vec<(Vec<u8>, usize, usize)> {
    let p = |dst: [u8; 4], seed| {
        let pkt = ipv4(A_LAN, dst, size, seed);
        (in_buffer(&pkt), HEADROOM, pkt.len())
    };
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(p(B_LAN, i));
    }
    v.push(p([10, 9, 0, 1], 50)); // no peer routes it
    v.push(p(C_LAN, 51)); // C's session is not confirmed yet: initiation
    v.push(p(B_LAN, 52));
    v.push(p(D_LAN, 53)); // no session: initiation
    v.push(p(D_LAN, 54)); // still none: rate limited, no second one
    v.push((in_buffer(&[0x70; 40]), HEADROOM, 40)); // not IP
    let pkt = ipv4(A_LAN, B_LAN, size, 55);
    v.push((in_buffer(&pkt), 8, pkt.len())); // no headroom
    v.push((in_buffer(&pkt), 2000, 200)); // outside the buffer
    for i in 0..8 {
        v.push(p(B_LAN, 60 + i));
    }
    let v6 = ipv6([0xfd; 16], [0xfe; 16], 80, 3);
    v.push((in_buffer(&v6), HEADROOM, v6.len()));
    for i in 0..20 {
        v.push(p(B_LAN, 70 + i)); // past 32: a second call
    }
    v
}

/// A mixed burst of datagrams to A, made by B, C and D.
fn mixed_decap<A: Aead>(now: Time, w: &mut World<A>, size: usize) -> Vec<(Vec<u8>, &'static str)> {
    let mut v: Vec<(Vec<u8>, &str)> = Vec::new();
    // One packet A has already seen before the burst.
    let seen = seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 1));
    let mut buf = in_buffer(&seen);
    let mut out = [0u8; 256];
    let r =
        w.a.decapsulate(now, ep(B_EP), &mut buf, HEADROOM, seen.len(), &mut out);
    assert!(matches!(r, Ok(Decap::Data { .. })), "{r:?}");
    // C's first data confirms A's `next` keypair; more follow on it.
    for i in 0..3 {
        v.push((seal(now, &mut w.c, &ipv4(C_LAN, A_LAN, size, i)), C_EP));
    }
    for i in 0..5 {
        v.push((seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 10 + i)), B_EP));
    }
    let dup = seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 20));
    v.push((dup.clone(), B_EP));
    v.push((dup.clone(), "203.0.113.9:4000")); // same counter again, roamed
    let mut bad = seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 21));
    let last = bad.len() - 1;
    bad[last] ^= 1; // tag
    v.push((bad, B_EP));
    v.push((seen.clone(), B_EP)); // replay from before the burst
                                  // B may seal any source; A must refuse one outside B's allowed IPs.
    v.push((seal(now, &mut w.b, &ipv4(C_LAN, A_LAN, size, 22)), B_EP));
    // A keepalive from B.
    v.push((keepalive(now, &mut w.b), B_EP));
    // D's initiation in the middle: answered through the single path.
    let mut init = [0u8; 256];
    let (n, _) =
        w.d.initiate_handshake(now, w.da, &mut init)
            .unwrap()
            .unwrap();
    v.push((init[..n].to_vec(), D_EP));
    for i in 0..4 {
        v.push((seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 30 + i)), B_EP));
    }
    // An unknown receiver, a truncated message, an unknown type.
    let mut unknown = seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 40));
    unknown[4] ^= 0x55;
    v.push((unknown, B_EP));
    v.push((vec![4, 0, 0, 0, 1, 2], B_EP));
    v.push((vec![9; 40], B_EP));
    for i in 0..3 {
        v.push((seal(now, &mut w.c, &ipv4(C_LAN, A_LAN, size, 50 + i)), C_EP));
    }
    for i in 0..16 {
        v.push((seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, size, 60 + i)), B_EP));
    }
    v
}

fn keepalive<A: Aead>(now: Time, e: &mut Engine<TestRng, A>) -> Vec<u8> {
    let mut out = [0u8; 64];
    let p = e.peer_ids().next().unwrap();
    let (n, _) = e.keepalive(now, p, &mut out).unwrap().unwrap();
    out[..n].to_vec()
}

fn burst_equals_single<A: Aead>() {
    let now = at(2, 0);
    for size in [64, 200, 1420] {
        encap_both::<A>(now, &mixed_encap(size));
        let mut w1 = World::<A>::new();
        let mut w2 = World::<A>::new();
        let dgrams = mixed_decap(now, &mut w1, size);
        // w2's A must have seen the same "before the burst" packet.
        let seen = seal(now, &mut w2.b, &ipv4(B_LAN, A_LAN, size, 1));
        let mut buf = in_buffer(&seen);
        let mut out = [0u8; 256];
        w2.a.decapsulate(now, ep(B_EP), &mut buf, HEADROOM, seen.len(), &mut out)
            .unwrap();
        let results = decap_both(now, &mut w1, &mut w2, &dgrams);
        // The burst really holds what it claims to test.
        let count =
            |f: &dyn Fn(&Result<Decap, Error>) -> bool| results.iter().filter(|r| f(r)).count();
        assert_eq!(count(&|r| matches!(r, Err(Error::Replay))), 2);
        assert_eq!(count(&|r| matches!(r, Err(Error::BadTag))), 1);
        assert_eq!(count(&|r| matches!(r, Err(Error::AllowedIpsMismatch))), 1);
        assert_eq!(count(&|r| matches!(r, Ok(Decap::Keepalive { .. }))), 1);
        assert_eq!(count(&|r| matches!(r, Ok(Decap::Reply { .. }))), 1);
        assert_eq!(
            count(&|r| matches!(
                r,
                Ok(Decap::Data {
                    new_session: true,
                    ..
                })
            )),
            1
        );
        assert_eq!(
            count(&|r| matches!(r, Ok(Decap::Data { .. }))),
            3 + 5 + 1 + 4 + 3 + 16
        );
    }
}

#[test]
fn burst_equals_single_with_ring() {
    burst_equals_single::<RingAead>();
}

#[test]
fn burst_equals_single_with_rustcrypto() {
    burst_equals_single::<RustCryptoAead>();
}

#[test]
fn burst_equals_single_with_simd() {
    burst_equals_single::<SimdAead>();
}

/// `ring` one job at a time, but claiming that bursts pay: the engine's
/// burst calls then always take their three-pass path, whatever the CPU
/// (the back ends above send most bursts packet by packet).
struct Phased;

impl Aead for Phased {
    type Key = <RingAead as Aead>::Key;

    fn prepare(key: &[u8; 32]) -> Result<Self::Key, AeadError> {
        RingAead::prepare(key)
    }

    fn seal(
        key: &Self::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        RingAead::seal(key, counter, aad, buf, tag)
    }

    fn open(
        key: &Self::Key,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        RingAead::open(key, counter, aad, buf, tag)
    }

    fn burst_pays(_: &[usize]) -> bool {
        true
    }
}

#[test]
fn burst_equals_single_in_three_passes() {
    burst_equals_single::<Phased>();
}

#[test]
fn sealed_burst_opens_at_the_peer() {
    let now = at(2, 0);
    // A seals six packets for B in one burst, B opens them in one burst.
    let pkts = mixed_encap(64);
    let mut w2 = World::<SimdAead>::new();
    let mut bufs: Vec<Vec<u8>> = pkts.iter().map(|p| p.0.clone()).collect();
    let mut batch: Vec<EncapPacket<'_>> = bufs
        .iter_mut()
        .zip(&pkts)
        .take(6)
        .map(|(buf, p)| EncapPacket {
            buf,
            start: p.1,
            len: p.2,
        })
        .collect();
    let mut results = vec![Err(Error::Malformed); 6];
    let mut out = [0u8; 256];
    assert_eq!(
        w2.a.encapsulate_burst(now, &mut batch, &mut results, &mut out),
        6
    );
    let mut sealed: Vec<Vec<u8>> = Vec::new();
    for (r, b) in results.iter().zip(&bufs) {
        let Ok(Encap::Sealed { start, len, .. }) = *r else {
            panic!("{r:?}")
        };
        sealed.push(b[start..start + len].to_vec());
    }
    let mut rbufs: Vec<Vec<u8>> = sealed.iter().map(|d| in_buffer(d)).collect();
    let mut batch: Vec<DecapPacket<'_>> = rbufs
        .iter_mut()
        .zip(&sealed)
        .map(|(buf, d)| DecapPacket {
            buf,
            start: HEADROOM,
            len: d.len(),
            src: ep(A_EP),
        })
        .collect();
    let mut dres = vec![Err(Error::Malformed); 6];
    assert_eq!(
        w2.b.decapsulate_burst(now, &mut batch, &mut dres, &mut out),
        6
    );
    for (i, r) in dres.iter().enumerate() {
        let Ok(Decap::Data { start, len, .. }) = *r else {
            panic!("{r:?}")
        };
        assert_eq!(
            rbufs[i][start..start + len],
            pkts[i].0[HEADROOM..HEADROOM + 64]
        );
    }
}

/// Random datagrams through the burst path and one by one, some starting
/// like a real transport message of B's session (the first `keep` bytes:
/// type, receiver index, counter): the same answers both ways, none of
/// them accepted, and the session still carries data afterwards.
fn random_burst<A: Aead>(bodies: &[(Vec<u8>, usize)]) {
    let now = at(2, 0);
    let mut w1 = World::<A>::new();
    let mut w2 = World::<A>::new();
    let real = seal(now, &mut w1.b, &ipv4(B_LAN, A_LAN, 64, 1));
    let dgrams: Vec<(Vec<u8>, &str)> = bodies
        .iter()
        .map(|(body, keep)| {
            let mut d = real[..(*keep).min(16)].to_vec();
            d.extend_from_slice(body);
            (d, B_EP)
        })
        .collect();
    let results = decap_both(now, &mut w1, &mut w2, &dgrams);
    assert!(results.iter().all(|r| r.is_err()), "{results:?}");
    for w in [&mut w1, &mut w2] {
        let d = seal(now, &mut w.b, &ipv4(B_LAN, A_LAN, 100, 2));
        let mut buf = in_buffer(&d);
        let mut out = [0u8; 256];
        let r =
            w.a.decapsulate(now, ep(B_EP), &mut buf, HEADROOM, d.len(), &mut out);
        assert!(matches!(r, Ok(Decap::Data { .. })), "{r:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn random_bursts_are_refused_as_one_by_one(
        bodies in proptest::collection::vec(
            (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500), 0usize..=16),
            1..40,
        ),
    ) {
        random_burst::<Phased>(&bodies);
        random_burst::<SimdAead>(&bodies);
    }
}
