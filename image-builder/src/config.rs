//! The appliance config as the host sees it: read from a file, validated by
//! the appliance's own parser (`netfn::config`, the very code the kernel runs
//! on the multiboot module), and wiped from memory when dropped because it
//! holds the private key.

use std::fs;
use std::path::Path;

use netfn::config::{parse_bytes, Config};
use zeroize::Zeroize;

use crate::error::Error;

/// The raw bytes of a config file; zeroed on drop.
pub struct ConfigBytes(Vec<u8>);

impl ConfigBytes {
    /// Takes ownership of config bytes so they are wiped when dropped.
    pub fn new(bytes: Vec<u8>) -> ConfigBytes {
        ConfigBytes(bytes)
    }

    /// The bytes, exactly as read (they go into the image unchanged).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ConfigBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> Result<(ConfigBytes, Config), Error> {
    let bytes = fs::read(path).map_err(|source| Error::ConfigUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = ConfigBytes(bytes);
    let config = check(bytes.as_bytes()).map_err(|errors| Error::ConfigInvalid {
        path: path.to_path_buf(),
        errors,
    })?;
    Ok((bytes, config))
}

/// Validates config bytes; every error as `line N: what`.
pub fn check(bytes: &[u8]) -> Result<Config, Vec<String>> {
    parse_bytes(bytes).map_err(|errs| errs.iter().map(ToString::to_string).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete config in the architecture brief's shape; keys made with
    /// `wg genkey` / `wg pubkey` (wireguard-tools v1.0.20210914).
    pub(crate) const GOOD: &str = "\
[Interface]
PrivateKey = 8Pg7kjIdnygMSjWpuTQcOt/TsZyxvgl65N1BRyGDwEY=
ListenPort = 51820
Address = 10.99.0.1/24

[LAN]
Address = 192.168.10.1/24

[WAN]
Address = 198.51.100.1/24
Gateway = 198.51.100.254

[Peer]
PublicKey = x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y=
AllowedIPs = 10.20.0.0/16, 10.99.0.2/32
Endpoint = 203.0.113.7:51820
";

    #[test]
    fn a_good_file_checks_and_prints_redacted() {
        let c = check(GOOD.as_bytes()).unwrap();
        assert_eq!(c.peers.len(), 1);
        let shown = c.to_string();
        assert!(!shown.contains("8Pg7kjIdnygMSjWpuTQcOt"), "{shown}");
        assert!(shown.contains("x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y="));
    }

    #[test]
    fn errors_carry_their_line_numbers() {
        let bad = GOOD.replace("ListenPort = 51820", "ListenPort = 70000");
        let errs = check(bad.as_bytes()).unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("line 3:")), "{errs:?}");
        let bad = GOOD.replace("Gateway", "Gatway");
        let errs = check(bad.as_bytes()).unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("line 11:")), "{errs:?}");
    }

    #[test]
    fn unreadable_file_is_its_own_error() {
        let e = load(Path::new("/nonexistent/ringwall.conf")).err().unwrap();
        assert!(matches!(e, Error::ConfigUnreadable { .. }));
        assert!(e.to_string().contains("/nonexistent/ringwall.conf"));
    }
}
