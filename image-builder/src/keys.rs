//! `genkey` and `pubkey`: the same text as `wg genkey` / `wg pubkey`.
//!
//! The arithmetic is netfn's (`netfn::keys`), the code the appliance itself
//! runs, so a key made here is one the appliance accepts. What lives here is
//! the host side: entropy from the kernel, stdin handling the way `wg` does it
//! (surrounding whitespace ignored), and wiping the private bytes afterwards.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use netfn::keys::{clamp, decode_key, encode_key, public_key, KeyError, KeyText};
use zeroize::Zeroize;

/// Why a key command failed.
#[derive(Debug)]
pub enum KeyCmdError {
    /// The host's random source could not be read.
    Entropy(io::Error),
    /// Standard input could not be read.
    Stdin(io::Error),
    /// The input is not a base64 key of 32 bytes.
    BadKey(KeyError),
}

impl fmt::Display for KeyCmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyCmdError::Entropy(e) => write!(f, "cannot read /dev/urandom: {e}"),
            KeyCmdError::Stdin(e) => write!(f, "cannot read the private key from stdin: {e}"),
            KeyCmdError::BadKey(e) => write!(f, "the private key on stdin is not valid: {e}"),
        }
    }
}

/// Longest stdin `pubkey` reads: a key plus generous whitespace. Longer input
/// is certainly not a key, and refusing it early avoids buffering a stray pipe.
const MAX_INPUT: u64 = 1024;

/// A new private key: 32 bytes from the kernel's CSPRNG, clamped.
pub fn genkey() -> Result<KeyText, KeyCmdError> {
    let mut raw = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(KeyCmdError::Entropy)?;
    let text = private_text(raw);
    raw.zeroize();
    Ok(text)
}

/// Whether stdout is a regular file that others (not owner, not group) may access,
/// the case in which `wg genkey` warns before writing a private key there.
pub fn stdout_world_accessible() -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata("/dev/stdout")
        .map(|m| m.is_file() && m.permissions().mode() & 0o007 != 0)
        .unwrap_or(false)
}

/// The text of a clamped private key; the bytes are wiped before returning.
fn private_text(raw: [u8; 32]) -> KeyText {
    let mut key = clamp(raw);
    let text = encode_key(&key);
    key.zeroize();
    text
}

/// The public key for the private key text in `input` (whitespace around it
/// ignored, as `wg pubkey` does).
pub fn pubkey_of(input: &str) -> Result<KeyText, KeyCmdError> {
    let mut private = decode_key(input.trim()).map_err(KeyCmdError::BadKey)?;
    let public = public_key(&private);
    private.zeroize();
    Ok(encode_key(&public))
}

/// `pubkey` on a reader (stdin in the binary).
pub fn pubkey_from(reader: impl Read) -> Result<KeyText, KeyCmdError> {
    let mut input = String::new();
    reader
        .take(MAX_INPUT)
        .read_to_string(&mut input)
        .map_err(KeyCmdError::Stdin)?;
    let result = pubkey_of(&input);
    input.zeroize();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    // Made with wireguard-tools v1.0.20210914 on this project's build host:
    // `k=$(wg genkey); echo "$k $(echo $k | wg pubkey)"`. The last one is the
    // all-zero (unclamped) private key, which `wg pubkey` clamps first.
    const VECTORS: &[(&str, &str)] = &[
        (
            "8Pg7kjIdnygMSjWpuTQcOt/TsZyxvgl65N1BRyGDwEY=",
            "7f5O0oeNPspvt95wM5jCUvQUxKg4ACy7f74yKPwiJgI=",
        ),
        (
            "+GUpCJ/Z9PnMwNi3OZyf5xSaKGjVNFZhbmeRNMVxT20=",
            "x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y=",
        ),
        (
            "KJDXm9JQ3YAvzREkiyfptrPOBYrHW5ZtJ2mghDy8wlg=",
            "VK0UCLhsjK7+AFqkgU8aIakU/ESfvhvnm0B91sxB01A=",
        ),
        (
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "L+V9o0fNYkMVKNqsX7spBzD/9oSvxM/C7ZCZX1jLO3Q=",
        ),
    ];

    #[test]
    fn pubkey_matches_fixed_wg_vectors() {
        for (private, public) in VECTORS {
            assert_eq!(pubkey_of(private).unwrap().as_str(), *public);
            // With the newline `echo` adds and stray spaces.
            let padded = format!("  {private}\n");
            assert_eq!(pubkey_from(padded.as_bytes()).unwrap().as_str(), *public);
        }
    }

    #[test]
    fn pubkey_refuses_what_wg_refuses() {
        for bad in [
            "",
            "bad",
            "AAAA",
            &VECTORS[0].0[..43],
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
        ] {
            assert!(
                matches!(pubkey_of(bad), Err(KeyCmdError::BadKey(_))),
                "{bad:?}"
            );
        }
        let long = "A".repeat(5000);
        assert!(pubkey_from(long.as_bytes()).is_err());
    }

    #[test]
    fn genkey_is_44_chars_decodes_and_is_clamped() {
        let a = genkey().unwrap();
        let b = genkey().unwrap();
        assert_ne!(a, b);
        for k in [a, b] {
            assert_eq!(k.as_str().len(), 44);
            let raw = decode_key(k.as_str()).unwrap();
            assert_eq!(raw[0] & 7, 0);
            assert_eq!(raw[31] & 0x80, 0);
            assert_eq!(raw[31] & 0x40, 0x40);
        }
        // Clamping is applied to whatever the random source gave.
        let t = private_text([0xFF; 32]);
        assert_eq!(t.as_str(), "+P///////////////////////////////////////38=");
    }

    /// Runs `wg` with `input` on stdin; `None` when wireguard-tools is absent.
    fn wg(args: &[&str], input: &str) -> Option<String> {
        let mut child = Command::new("wg")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(input.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn pubkey_and_genkey_agree_with_the_real_wg_when_installed() {
        let Some(probe) = wg(&["pubkey"], VECTORS[0].0) else {
            eprintln!("wg not installed: fixed vectors only");
            return;
        };
        assert_eq!(probe.trim_end(), VECTORS[0].1);
        for _ in 0..8 {
            // Our private keys through wg's pubkey...
            let ours = genkey().unwrap();
            let theirs = wg(&["pubkey"], &format!("{ours}\n")).unwrap();
            assert_eq!(format!("{}\n", pubkey_of(ours.as_str()).unwrap()), theirs);
            // ...and wg's private keys through ours.
            let private = wg(&["genkey"], "").unwrap();
            let public = wg(&["pubkey"], &private).unwrap();
            assert_eq!(format!("{}\n", pubkey_of(&private).unwrap()), public);
        }
    }
}
