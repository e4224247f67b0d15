//! One test per error kind, each checking the line the error names.

use super::*;

#[test]
fn structural_errors_name_their_line() {
    assert_eq!(
        one_error(&minimal_with(0, "[Tunnel]")),
        (1, ErrorKind::UnknownSection("Tunnel".into()))
    );
    assert_eq!(
        one_error(&minimal_with(2, "ListenPort 51820")),
        (3, ErrorKind::MalformedLine)
    );
    assert_eq!(
        one_error(&minimal_with(2, "[LAN")),
        (3, ErrorKind::MalformedLine)
    );
    assert_eq!(
        one_error(&minimal_with(0, "ListenPort = 1")),
        (1, ErrorKind::KeyOutsideSection("ListenPort".into()))
    );
    assert_eq!(
        one_error(&minimal_with(4, "Colour = blue")),
        (
            5,
            ErrorKind::UnknownKey {
                key: "Colour".into(),
                section: "LAN"
            }
        )
    );
    // A key from another section is unknown here.
    assert_eq!(
        one_error(&minimal_with(4, "ListenPort = 5")),
        (
            5,
            ErrorKind::UnknownKey {
                key: "ListenPort".into(),
                section: "LAN"
            }
        )
    );
    assert_eq!(
        one_error(&minimal_with(2, "PostUp = iptables -A FORWARD")),
        (3, ErrorKind::UnsupportedKey("PostUp".into()))
    );
    assert_eq!(
        one_error(&minimal_with(2, "ListenPort =")),
        (3, ErrorKind::EmptyValue("ListenPort"))
    );
}

#[test]
fn duplicates_name_both_lines() {
    assert_eq!(
        one_error(&minimal_with(
            2,
            &alloc::format!("privatekey = {OWN_PRIVATE}")
        )),
        (
            3,
            ErrorKind::DuplicateKey {
                key: "PrivateKey",
                first_line: 2
            }
        )
    );
    // Keys inside a duplicate section are skipped: one error, not several.
    assert_eq!(
        one_error(&minimal_with(6, "[lan]\nAddress = 192.168.20.1/24")),
        (
            7,
            ErrorKind::DuplicateSection {
                section: "LAN",
                first_line: 3
            }
        )
    );
}

#[test]
fn bad_values_name_their_line() {
    let cases: Vec<(&str, ErrorKind)> = alloc::vec![
        ("ListenPort = 0", ErrorKind::BadPort("0".into())),
        ("ListenPort = 70000", ErrorKind::BadPort("70000".into())),
        ("ListenPort = +5", ErrorKind::BadPort("+5".into())),
        ("MTU = 1500", ErrorKind::MtuOutOfRange("1500".into())),
        ("MTU = 575", ErrorKind::MtuOutOfRange("575".into())),
        (
            "MssClamp = sometimes",
            ErrorKind::BadMssClamp("sometimes".into())
        ),
        ("MssClamp = 100", ErrorKind::BadMssClamp("100".into())),
        ("MssClamp = 1381", ErrorKind::BadMssClamp("1381".into())),
        (
            "Address = 10.99.0.1/40",
            ErrorKind::BadPrefix {
                text: "10.99.0.1/40".into(),
                cause: crate::prefix::PrefixError::BadLength
            }
        ),
        (
            "Address = fd00::1/64",
            ErrorKind::NotIpv4("fd00::1/64".into())
        ),
    ];
    for (line, kind) in cases {
        assert_eq!(one_error(&minimal_with(2, line)), (3, kind), "{line}");
    }
}

#[test]
fn bad_keys_say_why() {
    let (line, kind) = one_error(&minimal_with(8, "PresharedKey = abc"));
    assert_eq!(line, 9);
    assert_eq!(
        kind,
        ErrorKind::BadKey {
            key: "PresharedKey",
            cause: crate::keys::KeyError::BadLength(3)
        }
    );
    // Bad base64 in the only PrivateKey: reported once, no "missing" on top.
    let text = minimal().replace(OWN_PRIVATE, "2Cj63wEYLV88FyzIf5+4IDm4qiwmfgvelFVcuChk0V!=");
    assert_eq!(
        one_error(&text),
        (
            2,
            ErrorKind::BadKey {
                key: "PrivateKey",
                cause: crate::keys::KeyError::BadCharacter(42)
            }
        )
    );
    // A 33-byte key is refused by length.
    let long = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    let (_, kind) = one_error(&minimal().replace(PEER_A, long));
    assert!(matches!(
        kind,
        ErrorKind::BadKey {
            key: "PublicKey",
            cause: crate::keys::KeyError::BadLength(48)
        }
    ));
}

#[test]
fn endpoint_errors() {
    let at = |v: &str| one_error(&minimal_with(9, &alloc::format!("Endpoint = {v}")));
    assert_eq!(
        at("vpn.example.com:51820"),
        (
            10,
            ErrorKind::EndpointIsDnsName("vpn.example.com:51820".into())
        )
    );
    assert_eq!(
        at("203.0.113.7"),
        (10, ErrorKind::BadEndpoint("203.0.113.7".into()))
    );
    assert_eq!(
        at("203.0.113.7:0"),
        (10, ErrorKind::BadEndpoint("203.0.113.7:0".into()))
    );
    assert_eq!(
        at("2001:db8::7:51820"),
        (10, ErrorKind::BadEndpoint("2001:db8::7:51820".into()))
    );
    assert_eq!(
        at("[2001:db8::7]:51820"),
        (10, ErrorKind::EndpointNotIpv4("[2001:db8::7]:51820".into()))
    );
    assert_eq!(
        at("[2001:db8::7]"),
        (10, ErrorKind::BadEndpoint("[2001:db8::7]".into()))
    );
    assert_eq!(
        at("300.1.1.1:5"),
        (10, ErrorKind::BadEndpoint("300.1.1.1:5".into()))
    );
    assert_eq!(
        one_error(&minimal_with(9, "PersistentKeepalive = soon")),
        (10, ErrorKind::BadKeepalive("soon".into()))
    );
}

#[test]
fn port_section_errors() {
    assert_eq!(
        one_error(&minimal_with(4, "Device = 00:20.0")),
        (5, ErrorKind::BadDevice("00:20.0".into()))
    );
    assert_eq!(
        one_error(&minimal_with(4, "MAC = 52:54:00:12:34")),
        (5, ErrorKind::BadMac("52:54:00:12:34".into()))
    );
    assert_eq!(
        one_error(&minimal_with(
            4,
            "Device = 00:03.0\nMAC = 52:54:00:12:34:56"
        )),
        (6, ErrorKind::DeviceAndMac("LAN"))
    );
    let same = minimal_with(6, "Device = 0000:00:04.0").replace(
        "Address = 192.168.10.1/24",
        "Address = 192.168.10.1/24\nDevice = 00:04.0",
    );
    assert_eq!(one_error(&same), (8, ErrorKind::SameDevice));
    let dhcp_lan = minimal().replace("Address = 192.168.10.1/24", "Address = dhcp");
    assert_eq!(one_error(&dhcp_lan), (4, ErrorKind::DhcpOnlyOnWan));
    let dhcp_gw = minimal_with(6, "Gateway = 198.51.100.254")
        .replace("Address = 198.51.100.1/24", "Address = dhcp");
    assert_eq!(one_error(&dhcp_gw), (7, ErrorKind::GatewayWithDhcp));
    assert_eq!(
        one_error(&minimal_with(6, "Gateway = 198.51.101.254")),
        (
            7,
            ErrorKind::GatewayOutsideSubnet {
                section: "WAN",
                gateway: Ipv4Addr::new(198, 51, 101, 254)
            }
        )
    );
    assert_eq!(
        one_error(&minimal_with(6, "Gateway = fe80::1")),
        (7, ErrorKind::NotIpv4("fe80::1".into()))
    );
    let net = minimal().replace("192.168.10.1/24", "192.168.10.0/24");
    assert_eq!(
        one_error(&net),
        (4, ErrorKind::AddressNotHost(pfx("192.168.10.0/24")))
    );
}

#[test]
fn overlapping_subnets_are_refused() {
    let t = minimal().replace("198.51.100.1/24", "192.168.10.200/16");
    assert_eq!(
        one_error(&t),
        (6, ErrorKind::SubnetsOverlap { a: "LAN", b: "WAN" })
    );
    assert_eq!(
        one_error(&minimal_with(2, "Address = 192.168.10.9/32")),
        (
            3,
            ErrorKind::SubnetsOverlap {
                a: "tunnel",
                b: "LAN"
            }
        )
    );
}

#[test]
fn missing_pieces() {
    let e = errors("");
    assert_eq!(
        e,
        [
            (0, ErrorKind::MissingSection("Interface")),
            (0, ErrorKind::MissingSection("LAN")),
            (0, ErrorKind::MissingSection("WAN")),
        ]
    );
    let no_key = minimal().replace(
        &alloc::format!("PrivateKey = {OWN_PRIVATE}"),
        "ListenPort = 5",
    );
    assert_eq!(one_error(&no_key), (1, ErrorKind::MissingPrivateKey));
    let no_addr = minimal().replace("Address = 198.51.100.1/24", "");
    assert_eq!(one_error(&no_addr), (5, ErrorKind::MissingAddress("WAN")));
    let no_pub = minimal().replace(&alloc::format!("PublicKey = {PEER_A}"), "");
    assert_eq!(one_error(&no_pub), (7, ErrorKind::MissingPublicKey));
}

#[test]
fn peer_conflicts() {
    let dup = minimal_with(
        9,
        &alloc::format!("[Peer]\nPublicKey = {PEER_A}\nAllowedIPs = 10.50.0.0/16"),
    );
    assert_eq!(
        one_error(&dup),
        (11, ErrorKind::DuplicatePeer { first_line: 8 })
    );
    let myself = minimal().replace(PEER_A, OWN_PUBLIC);
    assert_eq!(one_error(&myself), (8, ErrorKind::PeerIsSelf));
    // Same prefix after normalisation: refused, on the line that repeats it.
    let taken = minimal_with(
        9,
        &alloc::format!(
            "[Peer]\nPublicKey = {PEER_B}\nAllowedIPs = 10.60.0.0/16\nAllowedIPs = 10.20.9.9/16"
        ),
    );
    assert_eq!(
        one_error(&taken),
        (
            13,
            ErrorKind::AllowedIpTaken {
                prefix: pfx("10.20.0.0/16"),
                other_peer: crate::keys::encode_key(&crate::keys::decode_key(PEER_A).unwrap()),
            }
        )
    );
    // Nested prefixes are legal: longest match decides.
    let nested = minimal_with(
        9,
        &alloc::format!("[Peer]\nPublicKey = {PEER_B}\nAllowedIPs = 10.20.5.0/24, 10.0.0.0/8"),
    );
    assert_eq!(parse(&nested).unwrap().peers.len(), 2);
}

#[test]
fn all_errors_are_collected_in_line_order() {
    let text = "[Interface]\nPrivateKey = nope\nListenPort = x\n[Bogus]\nFoo = 1\n[LAN]\nAddress = 1.2.3\n[WAN]\n";
    let lines: Vec<usize> = errors(text).into_iter().map(|(l, _)| l).collect();
    assert_eq!(lines, [2, 3, 4, 7, 8]);
    let msg: Vec<String> = parse(text)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(msg[4], "line 8: [WAN] has no Address");
    assert!(
        msg[0].starts_with("line 2: bad PrivateKey: key must be 44 base64"),
        "{}",
        msg[0]
    );
}

#[test]
fn bad_addresses_and_prefixes_in_every_place() {
    assert_eq!(
        one_error(&minimal_with(6, "Gateway = 198.51.100")),
        (7, ErrorKind::BadAddress("198.51.100".into()))
    );
    assert_eq!(
        one_error(&minimal_with(9, "AllowedIPs = 10.30.0.0/16, 10.31.0.0/33")),
        (
            10,
            ErrorKind::BadPrefix {
                text: "10.31.0.0/33".into(),
                cause: crate::prefix::PrefixError::BadLength
            }
        )
    );
    // A bad AllowedIPs line adds nothing, not even its good entries.
    let t = minimal_with(9, "AllowedIPs = 10.30.0.0/16, nope");
    assert_eq!(errors(&t).len(), 1);
    assert_eq!(
        one_error(&minimal_with(2, "Address = 10.99.0.255/24")),
        (3, ErrorKind::AddressNotHost(pfx("10.99.0.255/24")))
    );
}

#[test]
fn messages_name_the_line_or_the_file() {
    let e = parse("").unwrap_err();
    assert_eq!(e[0].to_string(), "config: missing section [Interface]");
    let e = parse(&minimal_with(9, "Endpoint = vpn.example.com:51820")).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "line 10: endpoint `vpn.example.com:51820` is a host name: the appliance has no DNS resolver, write the IP address"
    );
    let e = parse(&minimal_with(2, "MTU = 9000")).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "line 3: MTU `9000` out of range (576..=1440)"
    );
}
