//! Intel PRO/1000 poll-mode drivers: e1000 (82540EM, 82545EM) and e1000e (82574L).
//!
//! The three chips share one register map and one legacy descriptor format, so
//! there is one driver core ([`IntelNic`]) and a [`Model`] that carries the few
//! per-chip differences (EEPROM read register layout, TIPG values, the 82574's
//! extra bring-up bits). Sources: the *PCI/PCI-X Family of Gigabit Ethernet
//! Controllers Software Developer's Manual* (8254x SDM, rev. 4.0) for the
//! 82540EM/82545EM, and the *Intel 82574 GbE Controller Family Datasheet* for
//! the 82574L. Register offsets and bits live in [`regs`], descriptor layouts in
//! [`desc`].
//!
//! The driver sees the device only through [`Regs`](crate::hal::Regs) (BAR0
//! MMIO, mapped by the kernel) and the shared [`PacketPool`](crate::buf::PacketPool),
//! so host tests run it against the register-level device model in `model.rs`.
//! The kernel is expected to have enabled memory decoding and bus mastering in
//! the PCI command register before calling [`IntelNic::new`].

pub mod desc;
mod nic;
pub mod regs;
mod stats;

pub use nic::{InitError, IntelNic, LinkInfo, RING_SIZE};
pub use stats::HwStats;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

/// Bytes of BAR0 (the memory-mapped register space) the kernel must map
/// (8254x SDM chapter 4, PCI configuration space: the memory BAR spans
/// 128 KB; the 82574's BAR0 is the same size).
pub const MMIO_BAR_LEN: usize = 128 * 1024;

/// Intel's PCI vendor ID.
pub const VENDOR_INTEL: u16 = 0x8086;

/// The Intel NIC models this module drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// 82540EM desktop controller (QEMU `e1000`).
    I82540Em,
    /// 82545EM copper controller (QEMU `e1000-82545em`).
    I82545Em,
    /// 82574L PCIe controller (QEMU `e1000e`).
    I82574L,
}

/// One row of the PCI ID table: which device ID is which model, and where it is documented.
#[derive(Debug, Clone, Copy)]
pub struct PciId {
    /// PCI vendor ID.
    pub vendor: u16,
    /// PCI device ID.
    pub device: u16,
    /// The model the ID identifies.
    pub model: Model,
    /// Where the ID is listed.
    pub source: &'static str,
}

/// Every PCI ID this module claims. One table so `lspci` output can be checked
/// against it line by line.
pub const PCI_IDS: &[PciId] = &[
    PciId {
        vendor: VENDOR_INTEL,
        device: 0x100E,
        model: Model::I82540Em,
        source: "8254x SDM 5.2, device identification (82540EM desktop, copper)",
    },
    PciId {
        vendor: VENDOR_INTEL,
        device: 0x100F,
        model: Model::I82545Em,
        source: "8254x SDM 5.2, device identification (82545EM, copper)",
    },
    PciId {
        vendor: VENDOR_INTEL,
        device: 0x10D3,
        model: Model::I82574L,
        source: "82574 datasheet, PCIe configuration: Device ID (82574L)",
    },
];

/// Looks a PCI vendor/device pair up in [`PCI_IDS`].
pub fn probe(vendor: u16, device: u16) -> Option<Model> {
    PCI_IDS
        .iter()
        .find(|id| id.vendor == vendor && id.device == device)
        .map(|id| id.model)
}

impl Model {
    /// Driver name shown by `ip link`.
    pub fn driver_name(self) -> &'static str {
        match self {
            Model::I82540Em | Model::I82545Em => "e1000",
            Model::I82574L => "e1000e",
        }
    }

    /// True for the PCIe 82574 (e1000e family).
    pub fn is_e1000e(self) -> bool {
        matches!(self, Model::I82574L)
    }

    /// How this chip's EERD register lays out the word address and the done bit.
    ///
    /// 8254x SDM 13.4.4: address in bits 15:8, DONE is bit 4. The 82574 moved
    /// the address to bits 15:2 and DONE to bit 1 (82574 datasheet, EERD).
    pub fn eerd_layout(self) -> regs::EerdLayout {
        match self {
            Model::I82540Em | Model::I82545Em => regs::EerdLayout {
                addr_shift: 8,
                done: 1 << 4,
            },
            Model::I82574L => regs::EerdLayout {
                addr_shift: 2,
                done: 1 << 1,
            },
        }
    }

    /// The TIPG value for copper ports.
    ///
    /// 8254x SDM 13.4.34, Table 13-77: IPGT 10, IPGR1 8, IPGR2 6 for the
    /// 82540/82545 on copper. The 82574 adds the MAC overhead itself, so its
    /// recommended IPGT is 8 (82574 datasheet, TIPG initial values).
    pub fn tipg(self) -> u32 {
        let (ipgt, ipgr1, ipgr2) = match self {
            Model::I82540Em | Model::I82545Em => (10, 8, 6),
            Model::I82574L => (8, 8, 6),
        };
        ipgt | (ipgr1 << regs::TIPG_IPGR1_SHIFT) | (ipgr2 << regs::TIPG_IPGR2_SHIFT)
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn probe_finds_each_qemu_model_and_nothing_else() {
        assert_eq!(probe(0x8086, 0x100E), Some(Model::I82540Em));
        assert_eq!(probe(0x8086, 0x100F), Some(Model::I82545Em));
        assert_eq!(probe(0x8086, 0x10D3), Some(Model::I82574L));
        // virtio-net (transitional) and an Intel ID we do not drive (82579LM).
        assert_eq!(probe(0x1AF4, 0x1000), None);
        assert_eq!(probe(0x8086, 0x1502), None);
        assert_eq!(probe(0x10EC, 0x100E), None);
    }

    #[test]
    fn tipg_fields_land_in_their_bit_ranges() {
        // 10 | 8 << 10 | 6 << 20, as written by hand from Table 13-77.
        assert_eq!(Model::I82540Em.tipg(), 0x0060_200A);
        assert_eq!(Model::I82574L.tipg(), 0x0060_2008);
    }
}
