//! The sections and keys of the configuration dialect, and where each key
//! may appear. Names match case-insensitively, as in wg-quick.

/// The keys this dialect knows; which sections take them is in [`Setting::allowed_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Setting {
    PrivateKey,
    ListenPort,
    Address,
    Mtu,
    MssClamp,
    Gateway,
    Device,
    Mac,
    PublicKey,
    PresharedKey,
    AllowedIps,
    Endpoint,
    PersistentKeepalive,
}

const KEYS: [Setting; 13] = [
    Setting::PrivateKey,
    Setting::ListenPort,
    Setting::Address,
    Setting::Mtu,
    Setting::MssClamp,
    Setting::Gateway,
    Setting::Device,
    Setting::Mac,
    Setting::PublicKey,
    Setting::PresharedKey,
    Setting::AllowedIps,
    Setting::Endpoint,
    Setting::PersistentKeepalive,
];

/// wg-quick settings that configure a Linux host, not a tunnel: refused with
/// their own message so the operator knows the key was understood.
pub(super) const HOST_KEYS: [&str; 8] = [
    "DNS",
    "Table",
    "PreUp",
    "PostUp",
    "PreDown",
    "PostDown",
    "SaveConfig",
    "FwMark",
];

impl Setting {
    pub(super) fn name(self) -> &'static str {
        match self {
            Setting::PrivateKey => "PrivateKey",
            Setting::ListenPort => "ListenPort",
            Setting::Address => "Address",
            Setting::Mtu => "MTU",
            Setting::MssClamp => "MssClamp",
            Setting::Gateway => "Gateway",
            Setting::Device => "Device",
            Setting::Mac => "MAC",
            Setting::PublicKey => "PublicKey",
            Setting::PresharedKey => "PresharedKey",
            Setting::AllowedIps => "AllowedIPs",
            Setting::Endpoint => "Endpoint",
            Setting::PersistentKeepalive => "PersistentKeepalive",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Setting> {
        KEYS.into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    pub(super) fn allowed_in(self, s: Section) -> bool {
        use Setting::*;
        match s {
            Section::Interface => {
                matches!(self, PrivateKey | ListenPort | Address | Mtu | MssClamp)
            }
            Section::Lan | Section::Wan => matches!(self, Address | Gateway | Device | Mac),
            Section::Peer => matches!(
                self,
                PublicKey | PresharedKey | AllowedIps | Endpoint | PersistentKeepalive
            ),
        }
    }

    /// Keys whose repeated lines add up instead of clashing.
    pub(super) fn repeatable_in(self, s: Section) -> bool {
        matches!(
            (self, s),
            (Setting::AllowedIps, Section::Peer) | (Setting::Address, Section::Interface)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Interface,
    Lan,
    Wan,
    Peer,
}

impl Section {
    pub(super) fn name(self) -> &'static str {
        match self {
            Section::Interface => "Interface",
            Section::Lan => "LAN",
            Section::Wan => "WAN",
            Section::Peer => "Peer",
        }
    }
}
