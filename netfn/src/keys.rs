//! WireGuard keys: the base64 text form, clamping, public key derivation.
//!
//! Byte-compatible with `wg genkey` / `wg pubkey`: keys are 32 bytes written
//! as standard base64 with padding (44 characters).

use core::fmt;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

/// Why a key string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not 44 characters of base64 ending in one `=`.
    BadLength(usize),
    /// A character outside the base64 alphabet (position given).
    BadCharacter(usize),
    /// The last character carries bits that a 32-byte key cannot have.
    NonCanonical,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::BadLength(n) => {
                write!(
                    f,
                    "key must be 44 base64 characters (32 bytes), got {n} characters"
                )
            }
            KeyError::BadCharacter(i) => {
                write!(f, "invalid base64 character at position {}", i + 1)
            }
            KeyError::NonCanonical => write!(f, "key is not canonical base64 of 32 bytes"),
        }
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes the 44-character base64 form of a 32-byte key.
pub fn decode_key(text: &str) -> Result<[u8; 32], KeyError> {
    let s = text.as_bytes();
    if s.len() != 44 || s[43] != b'=' {
        return Err(KeyError::BadLength(s.len()));
    }
    let mut out = [0u8; 32];
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut n = 0usize;
    for (i, &c) in s[..43].iter().enumerate() {
        let v = sextet(c).ok_or(KeyError::BadCharacter(i))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < 32 {
                out[n] = (acc >> bits) as u8;
            }
            n += 1;
            acc &= (1 << bits) - 1;
        }
    }
    // 43 sextets = 258 bits = 32 bytes + 2 leftover bits that must be zero.
    if acc != 0 || n != 32 {
        out.zeroize();
        return Err(KeyError::NonCanonical);
    }
    Ok(out)
}

/// The 44-character base64 form of a key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyText([u8; 44]);

impl KeyText {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ALPHABET characters and '=' are ever stored.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyText({})", self.as_str())
    }
}

/// Encodes a 32-byte key as base64.
pub fn encode_key(key: &[u8; 32]) -> KeyText {
    let mut out = [b'='; 44];
    let mut o = 0;
    for chunk in key.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let emit = chunk.len() + 1;
        for k in 0..emit {
            out[o + k] = ALPHABET[((v >> (18 - 6 * k)) & 63) as usize];
        }
        o += 4;
    }
    KeyText(out)
}

/// Clamps 32 random bytes into an X25519 private key, as `wg genkey` does.
pub fn clamp(mut key: [u8; 32]) -> [u8; 32] {
    key[0] &= 248;
    key[31] &= 127;
    key[31] |= 64;
    key
}

/// The public key for a private key (`wg pubkey`).
pub fn public_key(private: &[u8; 32]) -> [u8; 32] {
    let secret = StaticSecret::from(*private);
    PublicKey::from(&secret).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Private/public pairs produced by wireguard-tools 1.0.20210914: `wg genkey | tee k | wg pubkey`.
    const PAIRS: &[(&str, &str)] = &[
        (
            "2Cj63wEYLV88FyzIf5+4IDm4qiwmfgvelFVcuChk0V4=",
            "KeoZoAZ9dPMfWbVSCo3qvXYRGHz2ur0ffqPjx6bqeDk=",
        ),
        (
            "eAI9cJ22AZy0Z1Y2cDsHoaRxeEV405nAzWZ349HNPGE=",
            "nKdd23xjbLetfI/2B/muDbL36EplcAMXj/gq0mbf6lE=",
        ),
        (
            "iF/3KMi43l+WAYIRI1ojNQBmXRRBnrYMqLhUQF4dykw=",
            "jys+hetlvdnvK25DhIy1C64bSti+Azz4Vryx304JvDU=",
        ),
    ];

    #[test]
    fn base64_round_trips_every_byte_value() {
        for start in 0..=255u8 {
            let mut key = [0u8; 32];
            for (i, b) in key.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8 * 7);
            }
            let text = encode_key(&key);
            assert_eq!(decode_key(text.as_str()), Ok(key));
        }
    }

    #[test]
    fn refuses_malformed_keys() {
        assert_eq!(decode_key(""), Err(KeyError::BadLength(0)));
        assert_eq!(decode_key("abc="), Err(KeyError::BadLength(4)));
        let mut bad = String::from(PAIRS[0].0);
        bad.replace_range(3..4, "!");
        assert_eq!(decode_key(&bad), Err(KeyError::BadCharacter(3)));
        // Last sextet with its low two bits set cannot come from 32 bytes.
        let mut nc = String::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=");
        assert_eq!(decode_key(&nc), Err(KeyError::NonCanonical));
        nc.replace_range(42..43, "E");
        assert!(decode_key(&nc).is_ok());
    }

    #[test]
    fn known_private_keys_give_wg_pubkey_output() {
        for (private, public) in PAIRS {
            let k = decode_key(private).unwrap();
            assert_eq!(encode_key(&public_key(&k)).as_str(), *public);
        }
    }

    #[test]
    fn clamping_matches_curve25519() {
        let k = clamp([0xff; 32]);
        assert_eq!(k[0], 0xf8);
        assert_eq!(k[31], 0x7f);
        let k = clamp([0; 32]);
        assert_eq!(k[31], 0x40);
    }
}
