//! Finding `\_S5` in AML without an interpreter.
//!
//! Firmware declares the S5 (soft-off) sleep type as
//! `Name (_S5, Package () { SLP_TYPa, SLP_TYPb, ... })`. In AML (ACPI 6.5,
//! 20.2) that is NameOp 0x08, a NameString (optionally `\` rooted), PackageOp
//! 0x12, a PkgLength (1-4 bytes, 20.2.4), NumElements, then the elements as
//! integer constants: ZeroOp 0x00, OneOp 0x01, BytePrefix 0x0A + byte,
//! WordPrefix 0x0B + u16, ... . Searching for the name and decoding just this
//! shape is what small kernels do; a `_S5` built any other way (a method, a
//! computed value) is reported as absent and the caller falls back.

/// The values to write into SLP_TYP of PM1a and PM1b for soft-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepType {
    /// For PM1a_CNT.
    pub a: u8,
    /// For PM1b_CNT.
    pub b: u8,
}

/// Reads one integer constant element; returns it and its encoded length.
fn int_const(b: &[u8]) -> Option<(u64, usize)> {
    match *b.first()? {
        0x00 => Some((0, 1)),
        0x01 => Some((1, 1)),
        0xff => Some((u64::MAX, 1)),
        0x0a => Some((u64::from(*b.get(1)?), 2)),
        0x0b => Some((
            u64::from(u16::from_le_bytes(b.get(1..3)?.try_into().ok()?)),
            3,
        )),
        0x0c => Some((
            u64::from(u32::from_le_bytes(b.get(1..5)?.try_into().ok()?)),
            5,
        )),
        0x0e => Some((u64::from_le_bytes(b.get(1..9)?.try_into().ok()?), 9)),
        _ => None,
    }
}

/// Length in bytes of the PkgLength encoding starting at `b[0]` (20.2.4).
fn pkg_length_size(b: &[u8]) -> Option<usize> {
    Some(1 + usize::from(*b.first()? >> 6))
}

/// Finds `Name(_S5, Package(){a, b, ...})` in a DSDT/SSDT body (the bytes after
/// the 36-byte table header).
pub fn find_s5(aml: &[u8]) -> Option<SleepType> {
    let mut from = 0;
    while let Some(pos) = aml.get(from..)?.windows(4).position(|w| w == b"_S5_") {
        let at = from + pos;
        from = at + 1;
        // The name must be the object of a NameOp, maybe with a root prefix.
        let name_op = match at.checked_sub(1).map(|i| aml[i]) {
            Some(b'\\') => at.checked_sub(2).map(|i| aml[i]),
            other => other,
        };
        if name_op != Some(0x08) {
            continue;
        }
        let rest = &aml[at + 4..];
        if rest.first() != Some(&0x12) {
            continue;
        }
        let after_len = 1 + pkg_length_size(&rest[1..])?;
        let count = *rest.get(after_len)?;
        if count < 2 {
            continue;
        }
        let elems = rest.get(after_len + 1..)?;
        let (a, used) = int_const(elems)?;
        let (b, _) = int_const(elems.get(used..)?)?;
        return Some(SleepType {
            a: a as u8,
            b: b as u8,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_s5_package_of_zeroes() {
        // QEMU's acpi-build.c emits `Name (_S5, Package (0x04) {Zero, Zero,
        // Zero, Zero})`; as compiled into its DSDT, after other objects.
        let aml = [
            0x10, 0x05, 0x5f, 0x47, 0x50, 0x45, // Scope (_GPE) (truncated body)
            0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(find_s5(&aml), Some(SleepType { a: 0, b: 0 }));
    }

    #[test]
    fn rooted_name_and_byte_prefixed_values() {
        // `Name (\_S5, Package (0x04) {0x07, 0x07, Zero, Zero})`, the shape of
        // many Intel chipset DSDTs (SLP_TYP 7 is S5 on ICH/PCH).
        let aml = [
            0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x0a, 0x04, 0x0a, 0x07, 0x0a, 0x07, 0x00,
            0x00,
        ];
        assert_eq!(find_s5(&aml), Some(SleepType { a: 7, b: 7 }));
    }

    #[test]
    fn names_that_are_not_a_package_are_skipped() {
        // A method called _S5_ (MethodOp 0x14) and a string mentioning it.
        let mut aml = vec![0x14, 0x06, b'_', b'S', b'5', b'_', 0x00, 0xa4, 0x00];
        aml.extend_from_slice(&[0x0d, b'_', b'S', b'5', b'_', 0x00]);
        assert_eq!(find_s5(&aml), None);
        // Truncated after the PackageOp: no panic, no value.
        assert_eq!(find_s5(&[0x08, b'_', b'S', b'5', b'_', 0x12, 0x46]), None);
        // Word- and multi-byte-length packages decode too.
        let aml = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x40, 0x00, 0x02, 0x0b, 0x05, 0x00, 0x01,
        ];
        assert_eq!(find_s5(&aml), Some(SleepType { a: 5, b: 1 }));
    }
}
