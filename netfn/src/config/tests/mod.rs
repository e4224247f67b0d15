//! Tests for the configuration parser: a full file, the dialect, one test per
//! error kind with its line, printing and reading back, run-time peer checks.
//!
//! Keys are real `wg genkey | wg pubkey` output (wireguard-tools 1.0.20210914),
//! the same pairs as `keys.rs`.

use super::*;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use proptest::prelude::*;

mod errors;

const OWN_PRIVATE: &str = "2Cj63wEYLV88FyzIf5+4IDm4qiwmfgvelFVcuChk0V4=";
const OWN_PUBLIC: &str = "KeoZoAZ9dPMfWbVSCo3qvXYRGHz2ur0ffqPjx6bqeDk=";
const PEER_A: &str = "nKdd23xjbLetfI/2B/muDbL36EplcAMXj/gq0mbf6lE=";
const PEER_B: &str = "jys+hetlvdnvK25DhIy1C64bSti+Azz4Vryx304JvDU=";
const PSK: &str = "eAI9cJ22AZy0Z1Y2cDsHoaRxeEV405nAzWZ349HNPGE=";

fn full() -> String {
    alloc::format!(
        "# Ringwall site A
[Interface]
PrivateKey = {OWN_PRIVATE}
ListenPort = 51999
Address = 10.99.0.1/24
MTU = 1400
MssClamp = 1300

[LAN]
Address = 192.168.10.1/24
Device = 00:03.0

[WAN]
Address = 198.51.100.1/24
Gateway = 198.51.100.254
MAC = 52:54:00:12:34:56

[Peer]
PublicKey = {PEER_A}
PresharedKey = {PSK}
AllowedIPs = 10.20.0.0/16, 10.99.0.2/32
AllowedIPs = fd00:20::/48
Endpoint = 203.0.113.7:51820
PersistentKeepalive = 25

[Peer]
PublicKey = {PEER_B}
AllowedIPs = 10.30.0.0/16
Endpoint = 192.0.2.77:4500
"
    )
}

/// A minimal valid file with `extra` inserted before its 0-based line
/// `insert_before`, so `extra` lands on line `insert_before + 1`.
fn minimal_with(insert_before: usize, extra: &str) -> String {
    let base = alloc::format!(
        "[Interface]
PrivateKey = {OWN_PRIVATE}
[LAN]
Address = 192.168.10.1/24
[WAN]
Address = 198.51.100.1/24
[Peer]
PublicKey = {PEER_A}
AllowedIPs = 10.20.0.0/16"
    );
    let mut lines: Vec<&str> = base.lines().collect();
    lines.insert(insert_before, extra);
    lines.join("\n")
}

fn minimal() -> String {
    let mut m = minimal_with(0, "");
    m.remove(0);
    m
}

fn errors(text: &str) -> Vec<(usize, ErrorKind)> {
    match parse(text) {
        Ok(c) => panic!("expected errors, parsed {c:?}"),
        Err(e) => e.into_iter().map(|e| (e.line, e.kind)).collect(),
    }
}

fn one_error(text: &str) -> (usize, ErrorKind) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

fn pfx(s: &str) -> IpPrefix {
    s.parse().unwrap()
}

#[test]
fn full_file_parses_every_field() {
    let c = parse(&full()).unwrap();
    assert_eq!(
        c.interface.private_key.expose(),
        &crate::keys::decode_key(OWN_PRIVATE).unwrap()
    );
    assert_eq!(encode_key(&c.interface.public_key()).as_str(), OWN_PUBLIC);
    assert_eq!(c.interface.listen_port, 51999);
    assert_eq!(c.interface.addresses, [pfx("10.99.0.1/24")]);
    assert_eq!(c.interface.mtu, 1400);
    assert_eq!(c.interface.mss_clamp, MssClamp::Fixed(1300));
    assert_eq!(c.interface.mss_limit(), Some(1300));
    assert_eq!(
        c.lan.address,
        PortAddress::Static {
            addr: Ipv4Addr::new(192, 168, 10, 1),
            len: 24
        }
    );
    assert_eq!(
        c.lan.device,
        Some(DeviceSelector::Pci(PciAddress {
            bus: 0,
            device: 3,
            function: 0
        }))
    );
    assert_eq!(c.wan.gateway, Some(Ipv4Addr::new(198, 51, 100, 254)));
    assert_eq!(
        c.wan.device,
        Some(DeviceSelector::Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]))
    );
    assert_eq!(c.peers.len(), 2);
    let a = &c.peers[0];
    assert_eq!(encode_key(&a.public_key).as_str(), PEER_A);
    assert_eq!(
        a.preshared_key.as_ref().map(|k| encode_key(k.expose())),
        Some(
            crate::keys::decode_key(PSK)
                .map(|k| encode_key(&k))
                .unwrap()
        )
    );
    assert_eq!(
        a.allowed_ips,
        [
            pfx("10.20.0.0/16"),
            pfx("10.99.0.2/32"),
            pfx("fd00:20::/48")
        ]
    );
    assert_eq!(a.endpoint, Some("203.0.113.7:51820".parse().unwrap()));
    assert_eq!(a.persistent_keepalive, Some(25));
    let b = &c.peers[1];
    assert_eq!(b.endpoint, Some("192.0.2.77:4500".parse().unwrap()));
    assert_eq!(b.preshared_key, None);
    assert_eq!(b.persistent_keepalive, None);
}

#[test]
fn defaults_when_optional_keys_are_absent() {
    let c = parse(&minimal()).unwrap();
    assert_eq!(c.interface.listen_port, DEFAULT_LISTEN_PORT);
    assert_eq!(c.interface.mtu, DEFAULT_MTU);
    assert_eq!(c.interface.mss_clamp, MssClamp::Auto);
    assert_eq!(c.interface.mss_limit(), Some(1380));
    assert!(c.interface.addresses.is_empty());
    assert_eq!(c.wan.gateway, None);
    assert_eq!(c.lan.device, None);
}

#[test]
fn dialect_is_wg_quick() {
    let text = alloc::format!(
        "\u{feff}  # leading comment\r\n[interface]\r\n  privatekey\t=\t{OWN_PRIVATE}   # mine\r\n\
         address = 10.99.0.1/24, 10.98.0.1/24\r\nAddress = 10.97.0.1/24\r\nMSSCLAMP = OFF\r\n\r\n\
         [ lan ]\nADDRESS=192.168.10.1/24\n[Wan]\naddress = DHCP\n[PEER]\npublickey={PEER_A}\n\
         allowedips = 10.20.0.0/16 , 10.21.0.0/16\nAllowedIPs = 10.22.0.0/16\nALLOWEDIPS = 10.20.0.0/16\n\
         persistentkeepalive = off\n"
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.interface.addresses.len(), 3);
    assert_eq!(c.interface.mss_limit(), None);
    assert_eq!(c.wan.address, PortAddress::Dhcp);
    // Repeated lines add up; a repeat of the same prefix is not a second copy.
    assert_eq!(
        c.peers[0].allowed_ips,
        [
            pfx("10.20.0.0/16"),
            pfx("10.21.0.0/16"),
            pfx("10.22.0.0/16")
        ]
    );
    assert_eq!(c.peers[0].persistent_keepalive, None);
}

#[test]
fn allowed_ips_are_normalised() {
    let c = parse(&minimal_with(9, "AllowedIPs = 10.40.1.2/16")).unwrap();
    assert!(c.peers[0].allowed_ips.contains(&pfx("10.40.0.0/16")));
}

#[test]
fn parse_bytes_handles_module_padding_and_bad_utf8() {
    let mut bytes = full().into_bytes();
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    assert!(parse_bytes(&bytes).is_ok());
    let e = parse_bytes(b"[Interface]\n\n# caf\xe9\n").unwrap_err();
    assert_eq!((e[0].line, &e[0].kind), (3, &ErrorKind::NotUtf8));
}

#[test]
fn display_hides_secrets_and_unredacted_round_trips() {
    let c = parse(&full()).unwrap();
    let shown = c.to_string();
    assert!(!shown.contains(OWN_PRIVATE));
    assert!(!shown.contains(PSK));
    assert!(shown.contains(PEER_A) && shown.contains(PEER_B));
    assert!(shown.contains(&alloc::format!("# PublicKey = {OWN_PUBLIC}")));
    assert_eq!(shown.matches("(hidden)").count(), 2);
    let full_text = c.unredacted().to_string();
    assert_eq!(parse(&full_text).unwrap(), c);
    // The redacted print is the full print with exactly the secrets replaced.
    let psk = encode_key(c.peers[0].preshared_key.as_ref().unwrap().expose());
    assert_eq!(
        full_text
            .replace(OWN_PRIVATE, "(hidden)")
            .replace(psk.as_str(), "(hidden)"),
        shown
    );
    // And the redacted text is refused as a config, naming the key lines.
    let e = errors(&shown);
    assert!(
        e.iter().all(|(_, k)| matches!(k, ErrorKind::BadKey { .. })),
        "{e:?}"
    );
}

#[test]
fn run_time_peer_checks_match_the_file() {
    let c = parse(&full()).unwrap();
    let mut f = PeerFields::default();
    f.set("public-key", PEER_A).unwrap();
    f.set("allowed-ips", "10.70.0.0/16").unwrap();
    let p = f.finish().unwrap();
    assert_eq!(
        validate_new_peer(&c, &p),
        Err(alloc::vec![ErrorKind::DuplicatePeer { first_line: 0 }])
    );
    let mut f = PeerFields::default();
    let fresh = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=";
    f.set("PublicKey", fresh).unwrap();
    f.set("allowed-ips", "10.30.0.0/16, 10.71.0.0/16").unwrap();
    f.set("endpoint", "192.0.2.1:51820").unwrap();
    f.set("keepalive", "15").unwrap();
    let p = f.clone().finish().unwrap();
    assert_eq!(p.persistent_keepalive, Some(15));
    let e = validate_new_peer(&c, &p).unwrap_err();
    assert!(
        matches!(e[..], [ErrorKind::AllowedIpTaken { prefix, .. }] if prefix == pfx("10.30.0.0/16"))
    );
    let mut ok = p.clone();
    ok.allowed_ips.retain(|x| *x != pfx("10.30.0.0/16"));
    assert_eq!(validate_new_peer(&c, &ok), Ok(()));
    let mut me = ok;
    me.public_key = c.interface.public_key();
    assert_eq!(
        validate_new_peer(&c, &me),
        Err(alloc::vec![ErrorKind::PeerIsSelf])
    );
    assert!(matches!(
        f.set("colour", "x"),
        Err(ErrorKind::UnknownKey { .. })
    ));
    assert!(matches!(
        f.set("endpoint", "host:1"),
        Err(ErrorKind::EndpointIsDnsName(_))
    ));
    assert_eq!(
        PeerFields::default().finish(),
        Err(ErrorKind::MissingPublicKey)
    );
}

#[test]
fn value_parsers() {
    assert_eq!(
        value::parse_pci("0000:00:1f.7"),
        Ok(PciAddress {
            bus: 0,
            device: 31,
            function: 7
        })
    );
    assert!(value::parse_pci("00:03.8").is_err());
    assert!(value::parse_pci("0001:00:03.0").is_err());
    assert!(value::parse_pci("003.0").is_err());
    assert_eq!(
        value::parse_mac("52-54-00-AB-cd-EF"),
        Ok([0x52, 0x54, 0, 0xab, 0xcd, 0xef])
    );
    assert!(value::parse_mac("52:54:00:ab:cd:ef:01").is_err());
    assert!(value::parse_mac("5:54:00:ab:cd:ef").is_err());
    // The value parser reads v6 endpoints; the peer fields refuse them for now.
    assert_eq!(
        value::parse_endpoint("[2001:db8::7]:4500"),
        Ok("[2001:db8::7]:4500".parse().unwrap())
    );
    assert_eq!(value::parse_keepalive("0"), Ok(None));
    assert_eq!(value::parse_keepalive("65535"), Ok(Some(65535)));
    let mut v = Vec::new();
    assert!(value::parse_allowed_ips("10.0.0.0/8,", &mut v).is_err());
}

#[test]
fn printed_config_shows_every_setting() {
    let text = minimal()
        .replace("Address = 198.51.100.1/24", "Address = dhcp")
        .replace("[LAN]", "[LAN]\nMAC = 02:00:00:00:00:01");
    let c = parse(&text).unwrap();
    let shown = c.to_string();
    assert!(shown.contains("[WAN]\nAddress = dhcp\n"), "{shown}");
    assert!(shown.contains("MAC = 02:00:00:00:00:01"));
    assert!(shown.contains("MssClamp = auto"));
    assert!(shown.contains("MTU = 1420"));
    assert_eq!(parse(&c.unredacted().to_string()).unwrap(), c);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse(&text);
    }

    #[test]
    fn plausible_lines_never_panic(lines in proptest::collection::vec(
        prop_oneof![
            Just("[Interface]".to_string()), Just("[LAN]".to_string()), Just("[WAN]".to_string()),
            Just("[Peer]".to_string()), Just("[".to_string()), Just("=".to_string()),
            "(PrivateKey|PublicKey|PresharedKey|ListenPort|Address|MTU|MssClamp|Gateway|Device|MAC|AllowedIPs|Endpoint|PersistentKeepalive) ?= ?[0-9a-zA-Z:/.,\\[\\]+=-]{0,48}",
        ],
        0..24,
    )) {
        let _ = parse(&lines.join("\n"));
    }
}
