//! The line-level parser: sections, keys, values, and the per-section drafts
//! that remember which line said what, so cross-checks can name lines too.
//!
//! Every line is looked at, whatever went wrong before it: a bad value leaves
//! its field unset (and suppresses the matching "missing" error), an unknown or
//! duplicate section is skipped to its end so one typo gives one error.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::error::{ConfigError, ErrorKind};
use super::peer::PeerFields;
use super::setting::{Section, Setting, HOST_KEYS};
use super::validate::{check_peer, check_ports, PortLines};
use super::value::*;
use super::{
    Config, DeviceSelector, InterfaceConfig, MssClamp, PeerConfig, PortAddress, PortConfig, Secret,
    DEFAULT_LISTEN_PORT, DEFAULT_MTU,
};
use crate::prefix::IpPrefix;

/// Which keys a section has seen, and on which line (for duplicate and
/// missing-key errors).
#[derive(Default)]
struct Seen(Vec<(Setting, usize)>);

impl Seen {
    fn line_of(&self, key: Setting) -> Option<usize> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
    }
}

#[derive(Default)]
struct IfaceDraft {
    header: usize,
    seen: Seen,
    private_key: Option<Secret>,
    listen_port: Option<u16>,
    addresses: Vec<(IpPrefix, usize)>,
    mtu: Option<u16>,
    mss: Option<MssClamp>,
}

#[derive(Default)]
struct PortDraft {
    header: usize,
    seen: Seen,
    address: Option<PortAddress>,
    gateway: Option<Ipv4Addr>,
    device: Option<DeviceSelector>,
}

#[derive(Default)]
struct PeerDraft {
    header: usize,
    seen: Seen,
    fields: PeerFields,
    ip_lines: Vec<usize>,
}

#[derive(Default)]
struct Parser {
    errors: Vec<ConfigError>,
    /// `None` before any header; `Some(None)` inside a section being skipped.
    current: Option<Option<Section>>,
    iface: Option<IfaceDraft>,
    lan: Option<PortDraft>,
    wan: Option<PortDraft>,
    peers: Vec<PeerDraft>,
}

/// Parses a configuration delivered as raw bytes (a multiboot module):
/// trailing NUL padding and a UTF-8 byte-order mark are ignored.
pub fn parse_bytes(bytes: &[u8]) -> Result<Config, Vec<ConfigError>> {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let bytes = &bytes[..end];
    match core::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            Err(alloc::vec![ConfigError {
                line,
                kind: ErrorKind::NotUtf8
            }])
        }
    }
}

/// Parses a configuration file, returning every error found.
pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        p.line(i + 1, raw);
    }
    p.finish()
}

impl Parser {
    fn err(&mut self, line: usize, kind: ErrorKind) {
        self.errors.push(ConfigError { line, kind });
    }

    fn line(&mut self, n: usize, raw: &str) {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            return;
        }
        if let Some(rest) = line.strip_prefix('[') {
            match rest.strip_suffix(']') {
                Some(name) => self.header(n, name.trim()),
                None => self.err(n, ErrorKind::MalformedLine),
            }
            return;
        }
        let Some((key, value)) = line.split_once('=') else {
            self.err(n, ErrorKind::MalformedLine);
            return;
        };
        let (key, value) = (key.trim(), value.trim());
        match self.current {
            None => self.err(n, ErrorKind::KeyOutsideSection(key.into())),
            Some(None) => {}
            Some(Some(section)) => self.key(n, section, key, value),
        }
    }

    fn header(&mut self, n: usize, name: &str) {
        let section = [
            Section::Interface,
            Section::Lan,
            Section::Wan,
            Section::Peer,
        ]
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name));
        let Some(section) = section else {
            self.err(n, ErrorKind::UnknownSection(name.into()));
            self.current = Some(None);
            return;
        };
        let first = match section {
            Section::Interface => self.iface.as_ref().map(|d| d.header),
            Section::Lan => self.lan.as_ref().map(|d| d.header),
            Section::Wan => self.wan.as_ref().map(|d| d.header),
            Section::Peer => None,
        };
        if let Some(first_line) = first {
            self.err(
                n,
                ErrorKind::DuplicateSection {
                    section: section.name(),
                    first_line,
                },
            );
            self.current = Some(None);
            return;
        }
        match section {
            Section::Interface => {
                self.iface = Some(IfaceDraft {
                    header: n,
                    ..IfaceDraft::default()
                })
            }
            Section::Lan | Section::Wan => {
                let d = Some(PortDraft {
                    header: n,
                    ..PortDraft::default()
                });
                if section == Section::Lan {
                    self.lan = d;
                } else {
                    self.wan = d;
                }
            }
            Section::Peer => self.peers.push(PeerDraft {
                header: n,
                ..PeerDraft::default()
            }),
        }
        self.current = Some(Some(section));
    }

    fn key(&mut self, n: usize, section: Section, name: &str, v: &str) {
        let Some(key) = Setting::from_name(name).filter(|k| k.allowed_in(section)) else {
            let kind = if HOST_KEYS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                ErrorKind::UnsupportedKey(name.into())
            } else {
                ErrorKind::UnknownKey {
                    key: name.into(),
                    section: section.name(),
                }
            };
            self.err(n, kind);
            return;
        };
        let seen = match section {
            Section::Interface => self.iface.as_mut().map(|d| &mut d.seen),
            Section::Lan => self.lan.as_mut().map(|d| &mut d.seen),
            Section::Wan => self.wan.as_mut().map(|d| &mut d.seen),
            Section::Peer => self.peers.last_mut().map(|d| &mut d.seen),
        };
        let Some(seen) = seen else { return };
        let first = seen.line_of(key);
        if first.is_none() {
            seen.0.push((key, n));
        }
        if let (Some(first_line), false) = (first, key.repeatable_in(section)) {
            let key = key.name();
            self.err(n, ErrorKind::DuplicateKey { key, first_line });
            return;
        }
        if v.is_empty() && key != Setting::AllowedIps {
            self.err(n, ErrorKind::EmptyValue(key.name()));
            return;
        }
        let result = match section {
            Section::Interface => self.iface_key(n, key, v),
            Section::Lan | Section::Wan => self.port_key(section, key, v),
            Section::Peer => self.peer_key(n, key, v),
        };
        if let Err(kind) = result {
            self.err(n, kind);
        }
    }

    fn iface_key(&mut self, n: usize, key: Setting, v: &str) -> Result<(), ErrorKind> {
        let Some(d) = self.iface.as_mut() else {
            return Ok(());
        };
        match key {
            Setting::PrivateKey => d.private_key = Some(parse_secret("PrivateKey", v)?),
            Setting::ListenPort => d.listen_port = Some(parse_port(v)?),
            Setting::Address => {
                let mut found = Vec::new();
                for item in v.split(',') {
                    let (addr, len) = parse_ipv4_prefix(item.trim())?;
                    found.push((
                        IpPrefix {
                            addr: addr.into(),
                            len,
                        },
                        n,
                    ));
                }
                d.addresses.extend(found);
            }
            Setting::Mtu => d.mtu = Some(parse_mtu(v)?),
            Setting::MssClamp => d.mss = Some(parse_mss_clamp(v)?),
            _ => {}
        }
        Ok(())
    }

    fn port_key(&mut self, section: Section, key: Setting, v: &str) -> Result<(), ErrorKind> {
        let d = if section == Section::Lan {
            self.lan.as_mut()
        } else {
            self.wan.as_mut()
        };
        let Some(d) = d else { return Ok(()) };
        match key {
            Setting::Address => {
                let a = parse_port_address(v)?;
                if a == PortAddress::Dhcp && section == Section::Lan {
                    return Err(ErrorKind::DhcpOnlyOnWan);
                }
                d.address = Some(a);
            }
            Setting::Gateway => d.gateway = Some(parse_ipv4(v)?),
            Setting::Device | Setting::Mac => {
                let other = if key == Setting::Mac {
                    Setting::Device
                } else {
                    Setting::Mac
                };
                if d.seen.line_of(other).is_some() {
                    return Err(ErrorKind::DeviceAndMac(section.name()));
                }
                d.device = Some(parse_selector(key == Setting::Mac, v)?);
            }
            _ => {}
        }
        Ok(())
    }

    fn peer_key(&mut self, n: usize, key: Setting, v: &str) -> Result<(), ErrorKind> {
        let Some(d) = self.peers.last_mut() else {
            return Ok(());
        };
        d.fields.set_key(key, v)?;
        d.ip_lines.resize(d.fields.allowed_ips.len(), n);
        Ok(())
    }

    fn finish(mut self) -> Result<Config, Vec<ConfigError>> {
        let interface = self.finish_interface();
        let lan = self.finish_port(Section::Lan);
        let wan = self.finish_port(Section::Wan);
        if let (Some((lan, lan_lines)), Some((wan, wan_lines))) = (&lan, &wan) {
            let tunnel: Vec<(IpPrefix, usize)> = self
                .iface
                .as_ref()
                .map(|d| d.addresses.clone())
                .unwrap_or_default();
            let mut found = Vec::new();
            check_ports(lan, lan_lines, wan, wan_lines, &tunnel, &mut found);
            self.errors.extend(found);
        }
        let own = interface.as_ref().map(InterfaceConfig::public_key);
        let mut peers: Vec<PeerConfig> = Vec::new();
        let mut peer_lines: Vec<usize> = Vec::new();
        for d in core::mem::take(&mut self.peers) {
            let key_seen = d.seen.line_of(Setting::PublicKey);
            match d.fields.finish() {
                Ok(peer) => {
                    let line = key_seen.unwrap_or(d.header);
                    let mut found = Vec::new();
                    check_peer(
                        own,
                        &peers,
                        &peer_lines,
                        &peer,
                        line,
                        &d.ip_lines,
                        &mut found,
                    );
                    self.errors.extend(found);
                    peers.push(peer);
                    peer_lines.push(line);
                }
                Err(kind) if key_seen.is_none() => self.err(d.header, kind),
                Err(_) => {}
            }
        }
        match (interface, lan, wan) {
            (Some(interface), Some((lan, _)), Some((wan, _))) if self.errors.is_empty() => {
                Ok(Config {
                    interface,
                    lan,
                    wan,
                    peers,
                })
            }
            _ => {
                self.errors.sort_by_key(|e| e.line);
                Err(self.errors)
            }
        }
    }

    fn finish_interface(&mut self) -> Option<InterfaceConfig> {
        let Some(d) = self.iface.take() else {
            self.err(0, ErrorKind::MissingSection("Interface"));
            return None;
        };
        let mtu = d.mtu.unwrap_or(DEFAULT_MTU);
        let mss_clamp = d.mss.unwrap_or(MssClamp::Auto);
        if let MssClamp::Fixed(m) = mss_clamp {
            if m > mtu - 40 {
                let line = d.seen.line_of(Setting::MssClamp).unwrap_or(d.header);
                self.err(line, ErrorKind::BadMssClamp(alloc::format!("{m}")));
            }
        }
        let Some(private_key) = d.private_key.clone() else {
            if d.seen.line_of(Setting::PrivateKey).is_none() {
                self.err(d.header, ErrorKind::MissingPrivateKey);
            }
            self.iface = Some(d);
            return None;
        };
        let config = InterfaceConfig {
            private_key,
            listen_port: d.listen_port.unwrap_or(DEFAULT_LISTEN_PORT),
            addresses: d.addresses.iter().map(|(p, _)| *p).collect(),
            mtu,
            mss_clamp,
        };
        self.iface = Some(d);
        Some(config)
    }

    fn finish_port(&mut self, section: Section) -> Option<(PortConfig, PortLines)> {
        let draft = if section == Section::Lan {
            self.lan.as_ref()
        } else {
            self.wan.as_ref()
        };
        let Some(d) = draft else {
            self.err(0, ErrorKind::MissingSection(section.name()));
            return None;
        };
        let lines = PortLines {
            name: section.name(),
            address: d.seen.line_of(Setting::Address).unwrap_or(d.header),
            gateway: d.seen.line_of(Setting::Gateway).unwrap_or(d.header),
            device: d
                .seen
                .line_of(Setting::Device)
                .or(d.seen.line_of(Setting::Mac))
                .unwrap_or(d.header),
        };
        let Some(address) = d.address else {
            if d.seen.line_of(Setting::Address).is_none() {
                let header = d.header;
                self.err(header, ErrorKind::MissingAddress(section.name()));
            }
            return None;
        };
        let port = PortConfig {
            address,
            gateway: d.gateway,
            device: d.device,
        };
        Some((port, lines))
    }
}
