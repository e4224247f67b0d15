//! Register offsets and bits of the 8254x / 82574 MAC, as used by this driver.
//!
//! Offsets are bytes into BAR0 (memory-mapped). Each group names the section of
//! the 8254x Software Developer's Manual (SDM, rev. 4.0, chapter 13 "Register
//! Descriptions") it comes from; the 82574 keeps the same offsets and bits for
//! everything here except where noted (82574 datasheet, chapter 10 "Driver
//! Programming Interface"). Only what the driver touches is listed.

/// Device Control (SDM 13.4.1, 0x0000).
pub const CTRL: usize = 0x0000;
/// Device Status, read-only (SDM 13.4.2, 0x0008).
pub const STATUS: usize = 0x0008;
/// EEPROM/Flash Control (SDM 13.4.3, 0x0010).
pub const EECD: usize = 0x0010;
/// EEPROM Read (SDM 13.4.4, 0x0014; 82574: different field layout).
pub const EERD: usize = 0x0014;
/// Flow Control Address Low (SDM 13.4.6, 0x0028).
pub const FCAL: usize = 0x0028;
/// Flow Control Address High (SDM 13.4.7, 0x002C).
pub const FCAH: usize = 0x002C;
/// Flow Control Type (SDM 13.4.8, 0x0030).
pub const FCT: usize = 0x0030;
/// Flow Control Transmit Timer Value (SDM 13.4.12, 0x0170).
pub const FCTTV: usize = 0x0170;
/// Interrupt Cause Read, clear on read (SDM 13.4.17, 0x00C0).
pub const ICR: usize = 0x00C0;
/// Interrupt Mask Set/Read (SDM 13.4.20, 0x00D0).
pub const IMS: usize = 0x00D0;
/// Interrupt Mask Clear (SDM 13.4.21, 0x00D8).
pub const IMC: usize = 0x00D8;
/// Receive Control (SDM 13.4.22, 0x0100).
pub const RCTL: usize = 0x0100;
/// Transmit Control (SDM 13.4.33, 0x0400).
pub const TCTL: usize = 0x0400;
/// Transmit Inter Packet Gap (SDM 13.4.34, 0x0410).
pub const TIPG: usize = 0x0410;
/// Receive Descriptor Base Address Low (SDM 13.4.25, 0x2800).
pub const RDBAL: usize = 0x2800;
/// Receive Descriptor Base Address High (SDM 13.4.26, 0x2804).
pub const RDBAH: usize = 0x2804;
/// Receive Descriptor Length in bytes, multiple of 128 (SDM 13.4.27, 0x2808).
pub const RDLEN: usize = 0x2808;
/// Receive Descriptor Head (SDM 13.4.28, 0x2810).
pub const RDH: usize = 0x2810;
/// Receive Descriptor Tail (SDM 13.4.29, 0x2818).
pub const RDT: usize = 0x2818;
/// Receive Delay Timer (SDM 13.4.30, 0x2820).
pub const RDTR: usize = 0x2820;
/// Transmit Descriptor Base Address Low (SDM 13.4.35, 0x3800).
pub const TDBAL: usize = 0x3800;
/// Transmit Descriptor Base Address High (SDM 13.4.36, 0x3804).
pub const TDBAH: usize = 0x3804;
/// Transmit Descriptor Length in bytes, multiple of 128 (SDM 13.4.37, 0x3808).
pub const TDLEN: usize = 0x3808;
/// Transmit Descriptor Head (SDM 13.4.38, 0x3810).
pub const TDH: usize = 0x3810;
/// Transmit Descriptor Tail (SDM 13.4.39, 0x3818).
pub const TDT: usize = 0x3818;
/// Transmit Interrupt Delay Value (SDM 13.4.40, 0x3820).
pub const TIDV: usize = 0x3820;
/// Transmit Descriptor Control (SDM 13.4.42, 0x3828; 82574: bit 22 must be set).
pub const TXDCTL: usize = 0x3828;
/// Multicast Table Array, 128 dwords (SDM 13.4.46, 0x5200-0x53FC).
pub const MTA: usize = 0x5200;
/// Number of dwords in the MTA.
pub const MTA_LEN: usize = 128;
/// Receive Address Low, entry 0 (SDM 13.4.47, 0x5400).
pub const RAL0: usize = 0x5400;
/// Receive Address High, entry 0 (SDM 13.4.48, 0x5404).
pub const RAH0: usize = 0x5404;

/// CTRL bits (SDM 13.4.1, Table 13-3).
pub mod ctrl {
    /// Full duplex.
    pub const FD: u32 = 1 << 0;
    /// 82574 only: stop issuing PCIe master requests (82574 datasheet, CTRL bit 2).
    pub const GIO_MASTER_DISABLE: u32 = 1 << 2;
    /// Link reset (82540/82545: cleared for auto-negotiation).
    pub const LRST: u32 = 1 << 3;
    /// Auto-speed detection enable.
    pub const ASDE: u32 = 1 << 5;
    /// Set link up.
    pub const SLU: u32 = 1 << 6;
    /// Invert loss-of-signal.
    pub const ILOS: u32 = 1 << 7;
    /// Force speed.
    pub const FRCSPD: u32 = 1 << 11;
    /// Force duplex.
    pub const FRCDPLX: u32 = 1 << 12;
    /// Device (global) reset; self-clearing.
    pub const RST: u32 = 1 << 26;
    /// VLAN mode enable.
    pub const VME: u32 = 1 << 30;
    /// PHY reset.
    pub const PHY_RST: u32 = 1 << 31;
}

/// STATUS bits (SDM 13.4.2, Table 13-5).
pub mod status {
    /// Full duplex.
    pub const FD: u32 = 1 << 0;
    /// Link up.
    pub const LU: u32 = 1 << 1;
    /// Resolved speed field shift (bits 7:6: 00b 10, 01b 100, 1xb 1000 Mb/s).
    pub const SPEED_SHIFT: u32 = 6;
    /// 82574 only: PCIe master requests still pending (82574 datasheet, STATUS bit 19).
    pub const GIO_MASTER_ENABLE: u32 = 1 << 19;
}

/// EERD start bit, same on all three chips (SDM 13.4.4).
pub const EERD_START: u32 = 1 << 0;
/// EERD data field shift, same on all three chips (SDM 13.4.4).
pub const EERD_DATA_SHIFT: u32 = 16;

/// Where a chip's EERD keeps the word address and the done flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EerdLayout {
    /// Shift of the word address field.
    pub addr_shift: u32,
    /// The read-done bit.
    pub done: u32,
}

/// RCTL bits (SDM 13.4.22, Table 13-67).
pub mod rctl {
    /// Receiver enable.
    pub const EN: u32 = 1 << 1;
    /// Store bad packets.
    pub const SBP: u32 = 1 << 2;
    /// Unicast promiscuous.
    pub const UPE: u32 = 1 << 3;
    /// Multicast promiscuous.
    pub const MPE: u32 = 1 << 4;
    /// Long packet enable. Never set by this driver: see the RCTL comment in nic.rs.
    pub const LPE: u32 = 1 << 5;
    /// Broadcast accept mode.
    pub const BAM: u32 = 1 << 15;
    /// Buffer size field mask (bits 17:16); 00b = 2048 bytes when BSEX is 0.
    pub const BSIZE_MASK: u32 = 0b11 << 16;
    /// Buffer size 2048 bytes (BSIZE 00b, BSEX 0).
    pub const BSIZE_2048: u32 = 0b00 << 16;
    /// Buffer size extension (multiplies BSIZE by 16).
    pub const BSEX: u32 = 1 << 25;
    /// Strip Ethernet CRC from incoming packets.
    pub const SECRC: u32 = 1 << 26;
}

/// TCTL bits (SDM 13.4.33, Table 13-76).
pub mod tctl {
    /// Transmit enable.
    pub const EN: u32 = 1 << 1;
    /// Pad short packets to 64 bytes.
    pub const PSP: u32 = 1 << 3;
    /// Collision threshold shift (bits 11:4); recommended 0x0F.
    pub const CT_SHIFT: u32 = 4;
    /// Collision distance shift (bits 21:12); 0x40 for full duplex.
    pub const COLD_SHIFT: u32 = 12;
    /// Re-transmit on late collision.
    pub const RTLC: u32 = 1 << 24;
}

/// TIPG IPGR1 field shift (SDM 13.4.34, Table 13-77, bits 19:10).
pub const TIPG_IPGR1_SHIFT: u32 = 10;
/// TIPG IPGR2 field shift (SDM 13.4.34, Table 13-77, bits 29:20).
pub const TIPG_IPGR2_SHIFT: u32 = 20;

/// TXDCTL bits needed on the 82574 (82574 datasheet, TXDCTL).
pub mod txdctl {
    /// Thresholds count descriptors, not cache lines.
    pub const GRAN: u32 = 1 << 24;
    /// Reserved bit the 82574 datasheet says must be written as 1.
    pub const BIT22: u32 = 1 << 22;
}

/// RAH0 "address valid" bit (SDM 13.4.48).
pub const RAH_AV: u32 = 1 << 31;

/// All interrupt causes, for IMC (SDM 13.4.21: writing 1 clears the mask bit).
pub const IMC_ALL: u32 = 0xFFFF_FFFF;

/// Statistics registers (SDM 13.7, all clear on read).
pub mod stat {
    /// CRC Error Count.
    pub const CRCERRS: usize = 0x4000;
    /// Alignment Error Count.
    pub const ALGNERRC: usize = 0x4004;
    /// Symbol Error Count.
    pub const SYMERRS: usize = 0x4008;
    /// RX Error Count.
    pub const RXERRC: usize = 0x400C;
    /// Missed Packets Count (no room in the receive FIFO/ring).
    pub const MPC: usize = 0x4010;
    /// Excessive Collisions Count (frames dropped on transmit).
    pub const ECOL: usize = 0x4018;
    /// Late Collisions Count.
    pub const LATECOL: usize = 0x4020;
    /// Collision Count.
    pub const COLC: usize = 0x4028;
    /// Sequence Error Count.
    pub const SEC: usize = 0x4038;
    /// Carrier Extension Error Count.
    pub const CEXTERR: usize = 0x403C;
    /// Good Packets Received Count.
    pub const GPRC: usize = 0x4074;
    /// Good Packets Transmitted Count.
    pub const GPTC: usize = 0x4080;
    /// Good Octets Received Count, low dword (read before the high dword).
    pub const GORCL: usize = 0x4088;
    /// Good Octets Received Count, high dword.
    pub const GORCH: usize = 0x408C;
    /// Good Octets Transmitted Count, low dword.
    pub const GOTCL: usize = 0x4090;
    /// Good Octets Transmitted Count, high dword.
    pub const GOTCH: usize = 0x4094;
    /// Receive No Buffers Count (ring empty when a frame arrived).
    pub const RNBC: usize = 0x40A0;
    /// Receive Undersize Count.
    pub const RUC: usize = 0x40A4;
    /// Receive Fragment Count.
    pub const RFC: usize = 0x40A8;
    /// Receive Oversize Count.
    pub const ROC: usize = 0x40AC;
    /// Receive Jabber Count.
    pub const RJC: usize = 0x40B0;
    /// Total Packets Received.
    pub const TPR: usize = 0x40D0;
    /// Total Packets Transmitted.
    pub const TPT: usize = 0x40D4;
}
