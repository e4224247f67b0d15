//! `peer add PUBKEY allowed-ips A[,B...] [endpoint IP:PORT] [keepalive N]
//! [preshared-key KEY]` and `peer remove PUBKEY`: the words of a run-time
//! peer change, turned into the same [`PeerConfig`] the configuration file
//! produces.
//!
//! Every value goes through [`PeerFields::set`], the setter the file parser
//! uses, so the console accepts exactly the spellings and ranges the file
//! does and refuses the rest with the file's own messages. Cross-peer checks
//! (a duplicate key, overlapping allowed IPs, our own key) need the running
//! configuration and are left to `validate_new_peer` where the command runs.

use core::fmt;

use netfn::config::{ErrorKind, PeerConfig, PeerFields};
use netfn::keys::{decode_key, KeyError};

/// The usage line of `peer`.
pub const USAGE: &str = "add PUBKEY allowed-ips A[,B...] [endpoint IP:PORT] [keepalive N] [preshared-key KEY] | remove PUBKEY";

/// A parsed `peer` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCommand {
    /// Add this peer.
    Add(PeerConfig),
    /// Remove the peer with this public key.
    Remove([u8; 32]),
}

/// Why a `peer` line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerArgError {
    /// Neither `add` nor `remove`.
    UnknownSubcommand,
    /// No public key after `add`/`remove`.
    MissingKey,
    /// The public key of `remove` is not a key.
    BadKey(KeyError),
    /// `add` without `allowed-ips`: the peer would carry nothing.
    MissingAllowedIps,
    /// An option name without its value.
    MissingValue,
    /// An option `peer add` does not know.
    UnknownOption,
    /// Words after `remove PUBKEY`.
    TooManyArguments,
    /// A value the configuration file would refuse too.
    Field(ErrorKind),
}

impl fmt::Display for PeerArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerArgError::UnknownSubcommand => f.write_str("expected 'add' or 'remove'"),
            PeerArgError::MissingKey => f.write_str("missing the peer's public key"),
            PeerArgError::BadKey(e) => write!(f, "bad public key: {e}"),
            PeerArgError::MissingAllowedIps => f.write_str("allowed-ips is required"),
            PeerArgError::MissingValue => f.write_str("an option is missing its value"),
            PeerArgError::UnknownOption => {
                f.write_str("options are allowed-ips, endpoint, keepalive, preshared-key")
            }
            PeerArgError::TooManyArguments => f.write_str("too many arguments"),
            PeerArgError::Field(e) => write!(f, "{e}"),
        }
    }
}

/// The option names `peer add` takes (wg set's spelling).
const OPTIONS: [&str; 5] = [
    "allowed-ips",
    "endpoint",
    "keepalive",
    "persistent-keepalive",
    "preshared-key",
];

/// Parses the words after `peer`.
pub fn parse_args(args: &[&str]) -> Result<PeerCommand, PeerArgError> {
    match args {
        ["add", rest @ ..] => parse_add(rest).map(PeerCommand::Add),
        ["remove" | "rm" | "del", key] => decode_key(key)
            .map(PeerCommand::Remove)
            .map_err(PeerArgError::BadKey),
        ["remove" | "rm" | "del"] => Err(PeerArgError::MissingKey),
        ["remove" | "rm" | "del", ..] => Err(PeerArgError::TooManyArguments),
        _ => Err(PeerArgError::UnknownSubcommand),
    }
}

fn parse_add(words: &[&str]) -> Result<PeerConfig, PeerArgError> {
    let (key, mut rest) = words.split_first().ok_or(PeerArgError::MissingKey)?;
    let mut fields = PeerFields::default();
    fields.set("public-key", key).map_err(PeerArgError::Field)?;
    let mut allowed = false;
    while let [name, tail @ ..] = rest {
        if !OPTIONS.contains(name) {
            return Err(PeerArgError::UnknownOption);
        }
        let [value, tail @ ..] = tail else {
            return Err(PeerArgError::MissingValue);
        };
        fields.set(name, value).map_err(PeerArgError::Field)?;
        allowed |= *name == "allowed-ips";
        rest = tail;
    }
    if !allowed || fields.allowed_ips.is_empty() {
        return Err(PeerArgError::MissingAllowedIps);
    }
    fields.finish().map_err(PeerArgError::Field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use netfn::keys::encode_key;
    use netfn::prefix::IpPrefix;

    /// A public key as `wg pubkey` prints one (any 32 bytes encode to a key).
    fn key(b: u8) -> String {
        encode_key(&[b; 32]).as_str().to_string()
    }

    fn v4(a: [u8; 4], len: u8) -> IpPrefix {
        IpPrefix::new(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap()
    }

    #[test]
    fn add_takes_every_option_in_any_order() {
        let k = key(5);
        let psk = key(6);
        let args = [
            "add",
            &k,
            "keepalive",
            "25",
            "allowed-ips",
            "10.20.0.0/16,10.99.0.2/32",
            "endpoint",
            "203.0.113.5:51820",
            "preshared-key",
            &psk,
        ];
        let PeerCommand::Add(p) = parse_args(&args).unwrap() else {
            panic!("not an add");
        };
        assert_eq!(p.public_key, [5; 32]);
        assert_eq!(
            p.allowed_ips,
            [v4([10, 20, 0, 0], 16), v4([10, 99, 0, 2], 32)]
        );
        assert_eq!(p.endpoint, Some("203.0.113.5:51820".parse().unwrap()));
        assert_eq!(p.persistent_keepalive, Some(25));
        assert_eq!(p.preshared_key.map(|s| *s.expose()), Some([6; 32]));
    }

    #[test]
    fn add_with_allowed_ips_only() {
        let k = key(1);
        let PeerCommand::Add(p) = parse_args(&["add", &k, "allowed-ips", "10.30.0.0/24"]).unwrap()
        else {
            panic!("not an add");
        };
        assert_eq!((p.endpoint, p.persistent_keepalive), (None, None));
        assert!(p.preshared_key.is_none());
    }

    #[test]
    fn remove_takes_one_key() {
        let k = key(9);
        assert_eq!(
            parse_args(&["remove", &k]),
            Ok(PeerCommand::Remove([9; 32]))
        );
        assert_eq!(parse_args(&["remove"]), Err(PeerArgError::MissingKey));
        assert_eq!(
            parse_args(&["remove", &k, "now"]),
            Err(PeerArgError::TooManyArguments)
        );
        assert_eq!(
            parse_args(&["remove", "short"]),
            Err(PeerArgError::BadKey(KeyError::BadLength(5)))
        );
    }

    #[test]
    fn bad_add_arguments_say_why() {
        let k = key(2);
        assert_eq!(parse_args(&[]), Err(PeerArgError::UnknownSubcommand));
        assert_eq!(
            parse_args(&["set", &k]),
            Err(PeerArgError::UnknownSubcommand)
        );
        assert_eq!(parse_args(&["add"]), Err(PeerArgError::MissingKey));
        assert_eq!(
            parse_args(&["add", &k]),
            Err(PeerArgError::MissingAllowedIps)
        );
        assert_eq!(
            parse_args(&["add", &k, "allowed-ips"]),
            Err(PeerArgError::MissingValue)
        );
        assert_eq!(
            parse_args(&["add", &k, "listen-port", "1"]),
            Err(PeerArgError::UnknownOption)
        );
        assert!(matches!(
            parse_args(&["add", "notakey", "allowed-ips", "10.0.0.0/8"]),
            Err(PeerArgError::Field(ErrorKind::BadKey { .. }))
        ));
        assert!(matches!(
            parse_args(&["add", &k, "allowed-ips", "10.0.0.0/33"]),
            Err(PeerArgError::Field(ErrorKind::BadPrefix { .. }))
        ));
        assert!(matches!(
            parse_args(&[
                "add",
                &k,
                "allowed-ips",
                "10.0.0.0/8",
                "endpoint",
                "vpn.example:51820"
            ]),
            Err(PeerArgError::Field(_))
        ));
        assert!(matches!(
            parse_args(&["add", &k, "allowed-ips", "10.0.0.0/8", "keepalive", "lots"]),
            Err(PeerArgError::Field(ErrorKind::BadKeepalive(_)))
        ));
        // The file's messages come through unchanged.
        let e =
            parse_args(&["add", &k, "allowed-ips", "10.0.0.0/8", "keepalive", "lots"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad PersistentKeepalive `lots` (expected off or seconds 0..=65535)"
        );
    }
}
