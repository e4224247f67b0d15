//! Legacy receive and transmit descriptors and the rings that hold them.
//!
//! All three chips understand the legacy 16-byte formats (8254x SDM 3.2.3 and
//! 3.3.3; the 82574 uses them while RFCTL.EXSTEN is clear and the tx command has
//! DEXT clear, 82574 datasheet chapter 7), so the driver uses only these.
//! A [`DescRing`] is a typed view of a descriptor table in DMA memory; every
//! access is volatile because the NIC writes the table behind the CPU's back.
//! Fields are little-endian on the wire; Ringwall runs on x86_64 only, where
//! native order is little-endian (checked at compile time below).

use crate::hal::DmaRegion;
use core::marker::PhantomData;
use core::ptr::NonNull;

#[cfg(target_endian = "big")]
compile_error!("the Intel descriptor layouts assume a little-endian CPU");

/// Legacy receive descriptor (SDM 3.2.3, Figure 3-1 / Table 3-1).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RxDesc {
    /// Bus address of the receive buffer.
    pub addr: u64,
    /// Bytes written into the buffer (CRC stripped when RCTL.SECRC).
    pub length: u16,
    /// Packet checksum (unused: checksum offload stays off).
    pub checksum: u16,
    /// Status bits, [`rx_status`].
    pub status: u8,
    /// Error bits, [`rx_err`]; valid only with EOP set.
    pub errors: u8,
    /// VLAN tag (unused).
    pub special: u16,
}

/// Receive descriptor status bits (SDM 3.2.3.1, Table 3-2).
pub mod rx_status {
    /// Descriptor done: the NIC has written this descriptor back.
    pub const DD: u8 = 1 << 0;
    /// End of packet: last descriptor of a frame.
    pub const EOP: u8 = 1 << 1;
}

/// Receive descriptor error bits (SDM 3.2.3.2, Table 3-3).
pub mod rx_err {
    /// CRC or alignment error.
    pub const CE: u8 = 1 << 0;
    /// Symbol error (TBI mode).
    pub const SE: u8 = 1 << 1;
    /// Sequence error.
    pub const SEQ: u8 = 1 << 2;
    /// Carrier extension error.
    pub const CXE: u8 = 1 << 4;
    /// TCP/UDP checksum error (offload result, not a frame error).
    pub const TCPE: u8 = 1 << 5;
    /// IP checksum error (offload result, not a frame error).
    pub const IPE: u8 = 1 << 6;
    /// RX data error (RX_ER from the PHY).
    pub const RXE: u8 = 1 << 7;
    /// The bits that mean the frame itself is bad.
    pub const FRAME: u8 = CE | SE | SEQ | CXE | RXE;
}

/// Legacy transmit descriptor (SDM 3.3.3, Figure 3-3 / Table 3-8).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TxDesc {
    /// Bus address of the frame's first byte.
    pub addr: u64,
    /// Bytes to send from `addr`.
    pub length: u16,
    /// Checksum offset (unused).
    pub cso: u8,
    /// Command bits, [`tx_cmd`].
    pub cmd: u8,
    /// Status bits, [`tx_status`] (low nibble; the high nibble is reserved).
    pub status: u8,
    /// Checksum start (unused).
    pub css: u8,
    /// VLAN tag (unused).
    pub special: u16,
}

/// Transmit descriptor command bits (SDM 3.3.3.1, Table 3-10).
pub mod tx_cmd {
    /// End of packet.
    pub const EOP: u8 = 1 << 0;
    /// Insert FCS (Ethernet CRC).
    pub const IFCS: u8 = 1 << 1;
    /// Insert checksum (unused).
    pub const IC: u8 = 1 << 2;
    /// Report status: write DD back when done.
    pub const RS: u8 = 1 << 3;
    /// Descriptor extension; clear selects the legacy format.
    pub const DEXT: u8 = 1 << 5;
}

/// Transmit descriptor status bits (SDM 3.3.3.2, Table 3-11).
pub mod tx_status {
    /// Descriptor done.
    pub const DD: u8 = 1 << 0;
    /// Excess collisions: the frame was not sent.
    pub const EC: u8 = 1 << 1;
    /// Late collision: the frame was not sent.
    pub const LC: u8 = 1 << 2;
    /// Either failure.
    pub const FAILED: u8 = EC | LC;
}

/// A descriptor format a [`DescRing`] can hold.
pub trait Descriptor: Copy {
    /// Byte offset of the status byte the NIC writes last.
    const STATUS_OFFSET: usize;
}

impl Descriptor for RxDesc {
    const STATUS_OFFSET: usize = 12;
}

impl Descriptor for TxDesc {
    const STATUS_OFFSET: usize = 12;
}

/// Bytes per legacy descriptor.
pub const DESC_SIZE: usize = 16;
/// Descriptor table alignment: base 16-byte aligned and length a multiple of
/// 128 (SDM 13.4.25/13.4.27); 128 satisfies both and keeps cache lines whole.
pub const RING_ALIGN: usize = 128;

const _: () = assert!(core::mem::size_of::<RxDesc>() == DESC_SIZE);
const _: () = assert!(core::mem::size_of::<TxDesc>() == DESC_SIZE);
const _: () = assert!(core::mem::offset_of!(RxDesc, status) == RxDesc::STATUS_OFFSET);
const _: () = assert!(core::mem::offset_of!(TxDesc, status) == TxDesc::STATUS_OFFSET);

/// A descriptor table in DMA memory, shared with the NIC.
pub struct DescRing<T: Descriptor> {
    base: NonNull<T>,
    phys: u64,
    len: usize,
    _t: PhantomData<T>,
}

// Safety: the ring is the only CPU-side handle to its table; moving it moves
// the right to access that memory.
unsafe impl<T: Descriptor> Send for DescRing<T> {}

impl<T: Descriptor> DescRing<T> {
    /// Views `region` as a table of `len` descriptors, zeroed. `None` when the
    /// region is too small or misaligned, or `len` is not a multiple of 8
    /// (RDLEN/TDLEN must be multiples of 128 bytes).
    pub fn new(region: DmaRegion, len: usize) -> Option<DescRing<T>> {
        let bytes = len.checked_mul(DESC_SIZE)?;
        let aligned = region.phys.is_multiple_of(RING_ALIGN as u64)
            && (region.virt.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>());
        if len == 0 || !len.is_multiple_of(8) || region.len < bytes || !aligned {
            return None;
        }
        region.zero();
        Some(DescRing {
            base: region.virt.cast(),
            phys: region.phys,
            len,
            _t: PhantomData,
        })
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a ring has at least 8 descriptors.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bus address of the table.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Table size in bytes (the RDLEN/TDLEN value).
    pub fn bytes(&self) -> usize {
        self.len * DESC_SIZE
    }

    /// Reads the status byte of descriptor `i` (the byte the NIC writes back last).
    pub fn status(&self, i: usize) -> u8 {
        let i = i % self.len;
        // Safety: i < len and the table holds len descriptors of DESC_SIZE
        // bytes, so the status byte lies inside it.
        unsafe {
            let p = self.base.as_ptr().add(i).cast::<u8>().add(T::STATUS_OFFSET);
            core::ptr::read_volatile(p)
        }
    }

    /// Reads descriptor `i`.
    pub fn read(&self, i: usize) -> T {
        let i = i % self.len;
        // Safety: i < len, the table is aligned for T (checked in `new`).
        unsafe { core::ptr::read_volatile(self.base.as_ptr().add(i)) }
    }

    /// Writes descriptor `i`.
    pub fn write(&mut self, i: usize, d: T) {
        let i = i % self.len;
        // Safety: as in `read`; `&mut self` keeps CPU-side writes exclusive.
        unsafe { core::ptr::write_volatile(self.base.as_ptr().add(i), d) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(mem: &mut [u64]) -> DmaRegion {
        DmaRegion {
            virt: NonNull::new(mem.as_mut_ptr().cast()).unwrap(),
            phys: 0x4000,
            len: mem.len() * 8,
        }
    }

    #[test]
    fn rx_descriptor_fields_sit_at_the_datasheet_offsets() {
        // A written-back descriptor as the SDM lays it out (Figure 3-1): buffer
        // address 0x0000_0001_2345_6780, length 60, checksum 0xBEEF, status
        // DD|EOP, errors CE, special 0.
        let bytes: [u8; 16] = [
            0x80, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 60, 0, 0xEF, 0xBE, 0x03, 0x01, 0, 0,
        ];
        let mut mem = [0u64; 16];
        mem[0] = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        mem[1] = u64::from_le_bytes(bytes[8..].try_into().unwrap());
        let r = region(&mut mem);
        // `new` zeroes the table, so write the bytes back through a second view.
        let ring = DescRing::<RxDesc>::new(r, 8).unwrap();
        // Safety (test): the region is `mem`, still alive and 16-byte aligned.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), r.virt.as_ptr(), 16) };
        let d = ring.read(0);
        assert_eq!(d.addr, 0x1_2345_6780);
        assert_eq!(d.length, 60);
        assert_eq!(d.checksum, 0xBEEF);
        assert_eq!(d.status, rx_status::DD | rx_status::EOP);
        assert_eq!(d.errors, rx_err::CE);
        assert_eq!(ring.status(0), 0x03);
        assert_eq!(ring.status(8), 0x03, "indices wrap");
    }

    #[test]
    fn tx_descriptor_serialises_to_the_datasheet_layout() {
        let mut mem = [0u64; 16];
        let r = region(&mut mem);
        let mut ring = DescRing::<TxDesc>::new(r, 8).unwrap();
        ring.write(
            1,
            TxDesc {
                addr: 0xAABB_CCDD_0011,
                length: 1514,
                cmd: tx_cmd::EOP | tx_cmd::IFCS | tx_cmd::RS,
                ..TxDesc::default()
            },
        );
        let lo = mem[2].to_le_bytes();
        let hi = mem[3].to_le_bytes();
        assert_eq!(lo, [0x11, 0x00, 0xDD, 0xCC, 0xBB, 0xAA, 0, 0]);
        // length 1514 = 0x05EA, CSO 0, CMD 0x0B, STA 0, CSS 0, special 0.
        assert_eq!(hi, [0xEA, 0x05, 0x00, 0x0B, 0, 0, 0, 0]);
    }

    #[test]
    fn ring_refuses_bad_geometry() {
        let mut mem = [0u64; 32];
        let r = region(&mut mem);
        assert!(
            DescRing::<RxDesc>::new(r, 12).is_none(),
            "not a multiple of 8"
        );
        assert!(DescRing::<RxDesc>::new(r, 24).is_none(), "too small");
        let mut odd = r;
        odd.phys += 16;
        assert!(DescRing::<RxDesc>::new(odd, 8).is_none(), "misaligned");
        assert!(DescRing::<RxDesc>::new(r, 16).is_some());
    }
}
