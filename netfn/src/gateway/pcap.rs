//! A minimal reader for the classic pcap files in `testdata/` (tests only).
//!
//! The fixtures are real captures (see `testdata/README.md`); reading them
//! here keeps the bytes in the form Wireshark opens, rather than as hex
//! copied into the source.

use alloc::vec::Vec;

/// The frames of a little-endian, microsecond pcap file, in capture order.
pub(crate) fn frames(file: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= file.len() {
        let incl =
            u32::from_le_bytes([file[off + 8], file[off + 9], file[off + 10], file[off + 11]]);
        off += 16;
        out.push(&file[off..off + incl as usize]);
        off += incl as usize;
    }
    out
}

/// `testdata/linux-router.pcap`, frame by frame.
pub(crate) fn router() -> Vec<&'static [u8]> {
    frames(include_bytes!("testdata/linux-router.pcap"))
}

/// `testdata/linux-tcp.pcap`, frame by frame.
pub(crate) fn tcp() -> Vec<&'static [u8]> {
    frames(include_bytes!("testdata/linux-tcp.pcap"))
}
