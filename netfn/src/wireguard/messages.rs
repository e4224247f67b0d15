//! The four WireGuard messages (paper section 5.4) as zero-copy views.
//!
//! Shaped like smoltcp's `wire` module: each message is a `Packet` wrapper
//! over borrowed bytes, field offsets sit in a `field` module, and
//! `new_checked` refuses a buffer of the wrong length once so the accessors
//! need no checks. The type field is a little-endian `u32` compared whole:
//! its three "reserved" bytes must be zero. Handshake messages have fixed
//! lengths; a transport message is at least header + tag.

use core::ops::Range;

/// Message type of a handshake initiation.
pub const TYPE_INITIATION: u32 = 1;
/// Message type of a handshake response.
pub const TYPE_RESPONSE: u32 = 2;
/// Message type of a cookie reply.
pub const TYPE_COOKIE_REPLY: u32 = 3;
/// Message type of a transport data message.
pub const TYPE_TRANSPORT: u32 = 4;

/// Length of a handshake initiation.
pub const INITIATION_LEN: usize = 148;
/// Length of a handshake response.
pub const RESPONSE_LEN: usize = 92;
/// Length of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
/// Length of the transport header (type, receiver, counter).
pub const TRANSPORT_HEADER_LEN: usize = 16;
/// Shortest transport message: header and tag (a keepalive).
pub const TRANSPORT_MIN_LEN: usize = TRANSPORT_HEADER_LEN + 16;

/// Why bytes are not a WireGuard message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// Fewer than 4 bytes: no type field.
    Truncated,
    /// The type field is not 1..=4 with zero reserved bytes.
    UnknownType,
    /// The length does not fit the message type.
    BadLength,
}

/// Which message a datagram holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Handshake initiation (type 1).
    Initiation,
    /// Handshake response (type 2).
    Response,
    /// Cookie reply (type 3).
    CookieReply,
    /// Transport data (type 4).
    Transport,
}

/// Classifies a datagram by its type field and checks its length.
pub fn classify(bytes: &[u8]) -> Result<MessageKind, MessageError> {
    let Some(t) = bytes.get(0..4) else {
        return Err(MessageError::Truncated);
    };
    let t = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let (kind, ok) = match t {
        TYPE_INITIATION => (MessageKind::Initiation, bytes.len() == INITIATION_LEN),
        TYPE_RESPONSE => (MessageKind::Response, bytes.len() == RESPONSE_LEN),
        TYPE_COOKIE_REPLY => (MessageKind::CookieReply, bytes.len() == COOKIE_REPLY_LEN),
        TYPE_TRANSPORT => (MessageKind::Transport, bytes.len() >= TRANSPORT_MIN_LEN),
        _ => return Err(MessageError::UnknownType),
    };
    if ok {
        Ok(kind)
    } else {
        Err(MessageError::BadLength)
    }
}

/// Field offsets, paper section 5.4.2 to 5.4.7.
mod field {
    use super::Range;
    pub const TYPE: Range<usize> = 0..4;
    pub const SENDER: Range<usize> = 4..8;
    // Initiation.
    pub const I_EPHEMERAL: Range<usize> = 8..40;
    pub const I_STATIC: Range<usize> = 40..88;
    pub const I_TIMESTAMP: Range<usize> = 88..116;
    pub const I_MAC1: Range<usize> = 116..132;
    pub const I_MAC2: Range<usize> = 132..148;
    // Response.
    pub const R_RECEIVER: Range<usize> = 8..12;
    pub const R_EPHEMERAL: Range<usize> = 12..44;
    pub const R_EMPTY: Range<usize> = 44..60;
    pub const R_MAC1: Range<usize> = 60..76;
    pub const R_MAC2: Range<usize> = 76..92;
    // Cookie reply: the receiver sits where the others have the sender.
    pub const C_RECEIVER: Range<usize> = 4..8;
    pub const C_NONCE: Range<usize> = 8..32;
    pub const C_COOKIE: Range<usize> = 32..64;
    // Transport.
    pub const T_RECEIVER: Range<usize> = 4..8;
    pub const T_COUNTER: Range<usize> = 8..16;
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

macro_rules! view {
    ($name:ident, $len_ok:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name<T: AsRef<[u8]>> {
            buf: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buf` without checks (for emitting into a buffer of the right length).
            pub fn new_unchecked(buf: T) -> Self {
                $name { buf }
            }

            /// Wraps `buf` after checking its length.
            pub fn new_checked(buf: T) -> Result<Self, MessageError> {
                let n = buf.as_ref().len();
                let ok: fn(usize) -> bool = $len_ok;
                if ok(n) {
                    Ok($name { buf })
                } else {
                    Err(MessageError::BadLength)
                }
            }

            /// The whole message.
            pub fn as_bytes(&self) -> &[u8] {
                self.buf.as_ref()
            }

            /// The 32-bit message type (with the reserved bytes).
            pub fn msg_type(&self) -> u32 {
                le32(&self.buf.as_ref()[field::TYPE])
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Sets the type field (reserved bytes zero).
            pub fn set_msg_type(&mut self, t: u32) {
                self.buf.as_mut()[field::TYPE].copy_from_slice(&t.to_le_bytes());
            }

            /// Mutable access to the whole message.
            pub fn as_bytes_mut(&mut self) -> &mut [u8] {
                self.buf.as_mut()
            }
        }
    };
}

view!(
    Initiation,
    |n| n == INITIATION_LEN,
    "A handshake initiation (148 bytes)."
);
view!(
    Response,
    |n| n == RESPONSE_LEN,
    "A handshake response (92 bytes)."
);
view!(
    CookieReply,
    |n| n == COOKIE_REPLY_LEN,
    "A cookie reply (64 bytes)."
);
view!(
    Transport,
    |n| n >= TRANSPORT_MIN_LEN,
    "A transport data message (header, ciphertext, tag)."
);

macro_rules! getset {
    ($ty:ident, $get:ident, $set:ident, $f:expr, $n:literal, $doc:literal) => {
        impl<T: AsRef<[u8]>> $ty<T> {
            #[doc = $doc]
            pub fn $get(&self) -> [u8; $n] {
                arr(&self.buf.as_ref()[$f])
            }
        }
        impl<T: AsRef<[u8]> + AsMut<[u8]>> $ty<T> {
            #[doc = $doc]
            pub fn $set(&mut self) -> &mut [u8] {
                &mut self.buf.as_mut()[$f]
            }
        }
    };
}

getset!(
    Initiation,
    ephemeral,
    ephemeral_mut,
    field::I_EPHEMERAL,
    32,
    "The unencrypted ephemeral public key."
);
getset!(
    Initiation,
    encrypted_static,
    encrypted_static_mut,
    field::I_STATIC,
    48,
    "The sealed static public key."
);
getset!(
    Initiation,
    encrypted_timestamp,
    encrypted_timestamp_mut,
    field::I_TIMESTAMP,
    28,
    "The sealed TAI64N timestamp."
);
getset!(Initiation, mac1, mac1_mut, field::I_MAC1, 16, "MAC1.");
getset!(Initiation, mac2, mac2_mut, field::I_MAC2, 16, "MAC2.");
getset!(
    Response,
    ephemeral,
    ephemeral_mut,
    field::R_EPHEMERAL,
    32,
    "The unencrypted ephemeral public key."
);
getset!(
    Response,
    encrypted_nothing,
    encrypted_nothing_mut,
    field::R_EMPTY,
    16,
    "The sealed empty payload (a bare tag)."
);
getset!(Response, mac1, mac1_mut, field::R_MAC1, 16, "MAC1.");
getset!(Response, mac2, mac2_mut, field::R_MAC2, 16, "MAC2.");
getset!(
    CookieReply,
    nonce,
    nonce_mut,
    field::C_NONCE,
    24,
    "The XChaCha20 nonce."
);
getset!(
    CookieReply,
    encrypted_cookie,
    encrypted_cookie_mut,
    field::C_COOKIE,
    32,
    "The sealed cookie and its tag."
);

macro_rules! index_field {
    ($ty:ident, $get:ident, $set:ident, $f:expr, $doc:literal) => {
        impl<T: AsRef<[u8]>> $ty<T> {
            #[doc = $doc]
            pub fn $get(&self) -> u32 {
                le32(&self.buf.as_ref()[$f])
            }
        }
        impl<T: AsRef<[u8]> + AsMut<[u8]>> $ty<T> {
            #[doc = $doc]
            pub fn $set(&mut self, v: u32) {
                self.buf.as_mut()[$f].copy_from_slice(&v.to_le_bytes());
            }
        }
    };
}

index_field!(
    Initiation,
    sender,
    set_sender,
    field::SENDER,
    "The initiator's index."
);
index_field!(
    Response,
    sender,
    set_sender,
    field::SENDER,
    "The responder's index."
);
index_field!(
    Response,
    receiver,
    set_receiver,
    field::R_RECEIVER,
    "The initiator's index."
);
index_field!(
    CookieReply,
    receiver,
    set_receiver,
    field::C_RECEIVER,
    "The index of the message that asked for the cookie."
);
index_field!(
    Transport,
    receiver,
    set_receiver,
    field::T_RECEIVER,
    "The receiver's index."
);

impl<T: AsRef<[u8]>> Transport<T> {
    /// The 64-bit nonce counter.
    pub fn counter(&self) -> u64 {
        u64::from_le_bytes(arr(&self.buf.as_ref()[field::T_COUNTER]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Transport<T> {
    /// Sets the counter.
    pub fn set_counter(&mut self, c: u64) {
        self.buf.as_mut()[field::T_COUNTER].copy_from_slice(&c.to_le_bytes());
    }
}

/// Where MAC1 sits in a handshake message of length `len` (the last 32 bytes are MAC1, MAC2).
pub fn mac1_offset(len: usize) -> usize {
    len - 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_checks_type_reserved_bytes_and_length() {
        let mut init = [0u8; INITIATION_LEN];
        init[0] = 1;
        assert_eq!(classify(&init), Ok(MessageKind::Initiation));
        init[1] = 1; // a reserved byte set: not a WireGuard type
        assert_eq!(classify(&init), Err(MessageError::UnknownType));
        assert_eq!(classify(&init[..3]), Err(MessageError::Truncated));
        let mut short = [0u8; 147];
        short[0] = 1;
        assert_eq!(classify(&short), Err(MessageError::BadLength));
        let mut t = [0u8; 31];
        t[0] = 4;
        assert_eq!(classify(&t), Err(MessageError::BadLength));
        let mut t = [0u8; 32];
        t[0] = 4;
        assert_eq!(classify(&t), Ok(MessageKind::Transport));
        let mut r = [0u8; RESPONSE_LEN];
        r[0] = 2;
        assert_eq!(classify(&r), Ok(MessageKind::Response));
        let mut c = [0u8; COOKIE_REPLY_LEN];
        c[0] = 3;
        assert_eq!(classify(&c), Ok(MessageKind::CookieReply));
        c[0] = 5;
        assert_eq!(classify(&c), Err(MessageError::UnknownType));
    }

    #[test]
    fn transport_header_fields() {
        // A keepalive header laid out by hand from the paper's section
        // 5.4.6 (receiver 0x8f1c2d3e, counter 1), followed by a zero tag.
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&[
            0x04, 0, 0, 0, 0x3e, 0x2d, 0x1c, 0x8f, 1, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let t = Transport::new_checked(&b[..]).unwrap();
        assert_eq!(t.msg_type(), TYPE_TRANSPORT);
        assert_eq!(t.receiver(), 0x8f1c2d3e);
        assert_eq!(t.counter(), 1);
        let mut e = [0u8; 32];
        let mut t = Transport::new_unchecked(&mut e[..]);
        t.set_msg_type(TYPE_TRANSPORT);
        t.set_receiver(0x8f1c2d3e);
        t.set_counter(1);
        assert_eq!(e[..16], b[..16]);
    }

    #[test]
    fn handshake_field_offsets() {
        let mut b = [0u8; INITIATION_LEN];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        let v = Initiation::new_checked(&b[..]).unwrap();
        assert_eq!(v.sender(), u32::from_le_bytes([4, 5, 6, 7]));
        assert_eq!(v.ephemeral()[0], 8);
        assert_eq!(v.encrypted_static()[0], 40);
        assert_eq!(v.encrypted_timestamp()[0], 88);
        assert_eq!(v.mac1()[0], 116);
        assert_eq!(v.mac2()[15], 147);
        assert_eq!(mac1_offset(INITIATION_LEN), 116);
        assert!(Initiation::new_checked(&b[..100]).is_err());
        let r = Response::new_checked(&b[..RESPONSE_LEN]).unwrap();
        assert_eq!(r.receiver(), u32::from_le_bytes([8, 9, 10, 11]));
        assert_eq!(r.encrypted_nothing()[0], 44);
        assert_eq!(r.mac2()[0], 76);
        let c = CookieReply::new_checked(&b[..COOKIE_REPLY_LEN]).unwrap();
        assert_eq!(c.nonce()[0], 8);
        assert_eq!(c.encrypted_cookie()[0], 32);
    }
}
