//! Ringwall against Ringwall over simulated time: keepalives, handshake
//! retransmission and give-up, rekeys by time and by message count with
//! traffic flowing, key confirmation, expiry, zeroing, and cookies.

use super::engine::{Net, A_LAN, B_LAN};
use super::*;
use crate::wireguard::messages::INITIATION_LEN;
use crate::wireguard::{Decap, Encap, Error, TickAction, REJECT_AFTER_TIME};

#[test]
fn keepalive_after_receiving_and_persistent_keepalive() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    let mut out = [0u8; 256];
    // B received data at t=1 and answered; A received B's answer at t=1
    // and has sent nothing since: at t=11 A's keepalive timer fires.
    assert_eq!(n.a.tick(at(10, 0), &mut out), None);
    let r = n.a.tick(at(11, 1), &mut out);
    let Some(TickAction::Send { len, endpoint, .. }) = r else {
        panic!("{r:?}")
    };
    assert_eq!((len, endpoint), (32, n.eb));
    assert_eq!(n.b_open(at(11, 1), &out[..32]).unwrap(), Vec::<u8>::new());
    assert_eq!(n.a.tick(at(12, 0), &mut out), None);
    // Persistent keepalive every 25 s from the last authenticated packet.
    n.a.set_persistent_keepalive(n.pa, Some(25)).unwrap();
    n.ping(at(20, 0), 1);
    let _ = n.a.tick(at(30, 1), &mut out); // the ordinary keepalive
    assert_eq!(n.a.tick(at(54, 0), &mut out), None);
    let r = n.a.tick(at(55, 2), &mut out);
    assert!(matches!(r, Some(TickAction::Send { len: 32, .. })), "{r:?}");
}

#[test]
fn retransmit_with_jitter_then_give_up_and_flush() {
    let mut n = Net::new(None);
    let p = ipv4(A_LAN, B_LAN, 60, 0);
    let mut buf = in_buffer(&p);
    let mut out = [0u8; 256];
    let r =
        n.a.encapsulate(at(0, 0), &mut buf, HEADROOM, p.len(), &mut out)
            .unwrap();
    assert!(matches!(
        r,
        Encap::NoSession {
            initiation: Some((148, _)),
            ..
        }
    ));
    // Within REKEY_TIMEOUT no second initiation.
    let r =
        n.a.encapsulate(at(1, 0), &mut buf, HEADROOM, p.len(), &mut out)
            .unwrap();
    assert!(matches!(
        r,
        Encap::NoSession {
            initiation: None,
            ..
        }
    ));
    // Retransmissions every 5 s + jitter (0..333 ms), until 90 s.
    let mut sends = Vec::new();
    let mut flushed = None;
    let mut ms = 0u64;
    while ms < 100_000 {
        ms += 10;
        let now = at(ms / 1000, (ms % 1000) * 1_000_000);
        while let Some(a) = n.a.tick(now, &mut out) {
            match a {
                TickAction::Send { len, .. } => {
                    assert_eq!(len, INITIATION_LEN);
                    sends.push(ms);
                }
                TickAction::FlushQueue { peer } => {
                    assert_eq!(peer, n.pa);
                    flushed = Some(ms);
                }
            }
        }
    }
    let mut prev = 0;
    for s in &sends {
        let gap = s - prev;
        // 10 ms tick steps on top of 5 s + 0..333 ms.
        assert!((5000..=5350).contains(&gap), "gap {gap}");
        prev = *s;
    }
    assert!((16..=18).contains(&sends.len()), "{}", sends.len());
    let f = flushed.expect("gave up");
    assert!((90_000..=95_400).contains(&f), "{f}");
}

#[test]
fn rekey_after_time_with_traffic_never_interrupted() {
    let mut n = Net::new(None);
    let mut out = [0u8; 256];
    let mut handshakes = 0;
    // Traffic every 500 ms for 400 s; A is the initiator.
    for step in 0..800u64 {
        let now = at(step / 2, (step % 2) * 500_000_000);
        n.ping(now, step as u8);
        while let Some(a) = n.a.tick(now, &mut out) {
            if let TickAction::Send {
                len: INITIATION_LEN,
                ..
            } = a
            {
                handshakes += 1;
                let init = out[..INITIATION_LEN].to_vec();
                n.complete_from_a(now, &init);
            }
        }
        while let Some(a) = n.b.tick(now, &mut out) {
            if let TickAction::Send { len, .. } = a {
                assert_eq!(len, 32, "B only sends keepalives");
                let _ = n.a_open(now, &out[..len]);
            }
        }
    }
    // 400 s / 120 s: three rekeys after the first handshake.
    assert_eq!(handshakes, 3);
}

#[test]
fn responder_uses_new_keypair_only_after_confirmation() {
    let mut n = Net::new(None);
    let t = at(1, 0);
    n.ping(t, 0);
    // A new handshake; B holds the new keypair as "next" and keeps sending
    // with the old one until A's data arrives on the new one.
    let mut out = [0u8; 256];
    let (len, _) =
        n.a.initiate_handshake(at(7, 0), n.pa, &mut out)
            .unwrap()
            .unwrap();
    let mut m = out[..len].to_vec();
    let Decap::Reply { len, .. } =
        n.b.decapsulate(at(7, 0), n.ea, &mut m, 0, len, &mut out)
            .unwrap()
    else {
        panic!()
    };
    let resp = out[..len].to_vec();
    let old = n.b.session_keys(n.pb).map(|(s, _)| *s).unwrap();
    let q = ipv4(B_LAN, A_LAN, 40, 1);
    let d = n.b_seal(at(7, 0), &q);
    assert!(matches!(n.a_open(at(7, 0), &d), Ok(Decap::Data { .. })));
    assert_eq!(n.b.session_keys(n.pb).map(|(s, _)| *s).unwrap(), old);
    let mut r = resp.clone();
    let Ok(Decap::HandshakeComplete { len, .. }) =
        n.a.decapsulate(at(7, 0), n.eb, &mut r, 0, resp.len(), &mut out)
    else {
        panic!()
    };
    let ka = out[..len].to_vec();
    assert_eq!(
        n.b.decapsulate(at(7, 0), n.ea, &mut ka.clone(), 0, len, &mut out),
        Ok(Decap::Keepalive {
            peer: n.pb,
            new_session: true
        })
    );
    assert_ne!(n.b.session_keys(n.pb).map(|(s, _)| *s).unwrap(), old);
    n.ping(at(8, 0), 2);
}

#[test]
fn rekey_after_messages() {
    let mut n = Net::new(None);
    n.a.set_rekey_after_messages(100);
    let mut out = [0u8; 256];
    let mut handshakes = 0;
    // One packet every 100 ms; a rekey is due every 100 messages (10 s,
    // more than REKEY_TIMEOUT, so the initiation rate limit never bites).
    for i in 0..350u64 {
        let now = at(0, i * 100_000_000);
        let p = ipv4(A_LAN, B_LAN, 64, i as u8);
        let d = n.a_seal(now, &p);
        assert_eq!(n.b_open(now, &d).unwrap(), p);
        while let Some(a) = n.a.tick(now, &mut out) {
            if let TickAction::Send {
                len: INITIATION_LEN,
                ..
            } = a
            {
                handshakes += 1;
                let init = out[..INITIATION_LEN].to_vec();
                n.complete_from_a(now, &init);
            }
        }
    }
    assert_eq!(handshakes, 3);
}

#[test]
fn keys_zeroed_after_540_seconds() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    let mut out = [0u8; 256];
    while n.a.tick(at(100, 0), &mut out).is_some() {}
    assert!(n.a.session_keys(n.pa).is_some());
    while n.a.tick(at(541, 0), &mut out).is_some() {}
    assert!(n.a.session_keys(n.pa).is_none());
    assert!(!n.a.has_session(n.pa, 541 * NANOS_PER_SEC));
    // And a fresh handshake works.
    n.ping(at(600, 0), 1);
}

#[test]
fn sessions_expire_after_reject_after_time() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    let q = ipv4(B_LAN, A_LAN, 40, 1);
    let d = n.b_seal(at(2, 0), &q);
    let late = at(1 + REJECT_AFTER_TIME / NANOS_PER_SEC, 1);
    assert_eq!(n.a_open(late, &d), Err(Error::SessionExpired));
    assert!(!n.a.has_session(n.pa, late.mono_ns));
}

#[test]
fn cookie_under_load_both_ways() {
    let mut n = Net::new(None);
    n.b.force_under_load(true);
    let t = at(1, 0);
    let mut out = [0u8; 256];
    let (len, _) = n.a.initiate_handshake(t, n.pa, &mut out).unwrap().unwrap();
    let mut m = out[..len].to_vec();
    let r = n.b.decapsulate(t, n.ea, &mut m, 0, len, &mut out).unwrap();
    let Decap::CookieReply { len, endpoint } = r else {
        panic!("{r:?}")
    };
    assert_eq!((len, endpoint), (64, n.ea));
    let mut c = out[..64].to_vec();
    assert_eq!(
        n.a_open(t, &c.clone()),
        Ok(Decap::CookieStored { peer: n.pa })
    );
    // The same reply twice: refused.
    assert_eq!(
        n.a.decapsulate(t, n.eb, &mut c, 0, 64, &mut out),
        Err(Error::UnexpectedCookie)
    );
    // The retransmission (after REKEY_TIMEOUT) carries MAC2 and is accepted.
    let t2 = at(7, 0);
    let r = n.a.tick(t2, &mut out);
    assert!(
        matches!(
            r,
            Some(TickAction::Send {
                len: INITIATION_LEN,
                ..
            })
        ),
        "{r:?}"
    );
    let init = out[..INITIATION_LEN].to_vec();
    n.complete_from_a(t2, &init);
    n.ping(t2, 1);
    // From a different source address the same MAC2 is wrong: cookie again.
    let (len, _) =
        n.a.initiate_handshake(at(20, 0), n.pa, &mut out)
            .unwrap()
            .unwrap();
    let mut m = out[..len].to_vec();
    let r = n.b.decapsulate(
        at(20, 0),
        "192.0.2.1:9999".parse().unwrap(),
        &mut m,
        0,
        len,
        &mut out,
    );
    assert!(matches!(r, Ok(Decap::CookieReply { .. })));
    // The other way: A under load answers B's response with a cookie.
    let mut n = Net::new(None);
    n.a.force_under_load(true);
    let t = at(1, 0);
    let (len, _) = n.a.initiate_handshake(t, n.pa, &mut out).unwrap().unwrap();
    let mut m = out[..len].to_vec();
    let Decap::Reply { len, .. } = n.b.decapsulate(t, n.ea, &mut m, 0, len, &mut out).unwrap()
    else {
        panic!()
    };
    let mut resp = out[..len].to_vec();
    let r =
        n.a.decapsulate(t, n.eb, &mut resp, 0, len, &mut out)
            .unwrap();
    let Decap::CookieReply { len, .. } = r else {
        panic!("{r:?}")
    };
    let mut c = out[..len].to_vec();
    let mut out2 = [0u8; 256];
    assert_eq!(
        n.b.decapsulate(t, n.ea, &mut c, 0, len, &mut out2),
        Ok(Decap::CookieStored { peer: n.pb })
    );
}

#[test]
fn initiator_rekeys_once_on_receive_near_reject_after_time() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    let mut out = [0u8; 256];
    // Only B sends from now on; A (the initiator) hears it at 100 s: no
    // rekey yet; at 170 s its keypair is past 165 s: one initiation.
    let q = ipv4(B_LAN, A_LAN, 40, 1);
    let d = n.b_seal(at(100, 0), &q);
    assert!(matches!(n.a_open(at(100, 0), &d), Ok(Decap::Data { .. })));
    while let Some(a) = n.a.tick(at(100, 0), &mut out) {
        assert!(!matches!(
            a,
            TickAction::Send {
                len: INITIATION_LEN,
                ..
            }
        ));
    }
    let d = n.b_seal(at(170, 0), &q);
    assert!(matches!(n.a_open(at(170, 0), &d), Ok(Decap::Data { .. })));
    let r = n.a.tick(at(170, 0), &mut out);
    assert!(
        matches!(
            r,
            Some(TickAction::Send {
                len: INITIATION_LEN,
                ..
            })
        ),
        "{r:?}"
    );
    // Only once: more data at 171 s does not ask again.
    let d = n.b_seal(at(171, 0), &q);
    assert!(matches!(n.a_open(at(171, 0), &d), Ok(Decap::Data { .. })));
    while let Some(a) = n.a.tick(at(171, 0), &mut out) {
        assert!(!matches!(
            a,
            TickAction::Send {
                len: INITIATION_LEN,
                ..
            }
        ));
    }
}

#[test]
fn silence_after_sending_starts_a_new_handshake() {
    let mut n = Net::new(None);
    n.ping(at(1, 0), 0);
    let mut out = [0u8; 256];
    // A sends at 2 s and hears nothing back: after 10 + 5 s (+ jitter up
    // to 333 ms) it starts a handshake.
    let p = ipv4(A_LAN, B_LAN, 60, 1);
    let _ = n.a_seal(at(2, 0), &p);
    while let Some(a) = n.a.tick(at(11, 0), &mut out) {
        // The keepalive for B's earlier data may go out; no initiation yet.
        assert!(!matches!(
            a,
            TickAction::Send {
                len: INITIATION_LEN,
                ..
            }
        ));
    }
    assert_eq!(n.a.tick(at(16, 999_999_999), &mut out), None);
    let r = n.a.tick(at(17, 333_000_001), &mut out);
    assert!(
        matches!(
            r,
            Some(TickAction::Send {
                len: INITIATION_LEN,
                ..
            })
        ),
        "{r:?}"
    );
}
