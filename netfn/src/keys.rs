//! WireGuard keys: base64 text form, clamping, public key derivation.
