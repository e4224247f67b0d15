//! PCI configuration space: enumeration, BARs, capabilities.
//!
//! Config space is reached through [`ConfigSpace`]; the kernel implements it
//! with configuration mechanism #1 (ports 0xCF8/0xCFC), host tests with a fake.

use core::fmt;

/// A PCI function address: bus, device, function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device number (0..32).
    pub dev: u8,
    /// Function number (0..8).
    pub func: u8,
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.dev, self.func)
    }
}

/// Access to PCI configuration space. Offsets are byte offsets, dword aligned.
pub trait ConfigSpace {
    /// Reads the dword at `offset` of function `bdf`.
    fn read32(&self, bdf: Bdf, offset: u8) -> u32;
    /// Writes the dword at `offset` of function `bdf`.
    fn write32(&self, bdf: Bdf, offset: u8, value: u32);
}

/// Offsets into the type 0/1 configuration header (PCI Local Bus 3.0, 6.1).
pub mod reg {
    /// Vendor ID (low 16 bits) and device ID (high 16 bits).
    pub const ID: u8 = 0x00;
    /// Command (low 16 bits) and status (high 16 bits).
    pub const COMMAND_STATUS: u8 = 0x04;
    /// Revision ID, programming interface, subclass, class code (low to high).
    pub const CLASS_REV: u8 = 0x08;
    /// Cache line size, latency timer, header type, BIST (low to high).
    pub const HEADER: u8 = 0x0c;
    /// First base address register; six for type 0, two for type 1 headers.
    pub const BAR0: u8 = 0x10;
    /// Subsystem vendor ID (low) and subsystem ID (high), type 0 only.
    pub const SUBSYSTEM: u8 = 0x2c;
    /// Capabilities pointer (low 8 bits).
    pub const CAP_PTR: u8 = 0x34;
    /// Primary, secondary and subordinate bus numbers (type 1 only).
    pub const BRIDGE_BUSES: u8 = 0x18;
}

/// Command register bits (PCI Local Bus 3.0, 6.2.2).
pub mod command {
    /// Respond to I/O space accesses.
    pub const IO_SPACE: u16 = 1 << 0;
    /// Respond to memory space accesses.
    pub const MEMORY_SPACE: u16 = 1 << 1;
    /// Allow the function to master the bus (needed for DMA).
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Keep the function from asserting INTx (poll mode wants silence).
    pub const INTERRUPT_DISABLE: u16 = 1 << 10;
}

/// Status register bit: a capability list is present (6.2.3).
const STATUS_CAP_LIST: u32 = 1 << 4;

/// Reads the 16-bit register at `offset` (2-byte aligned) through dword accesses.
pub fn read16<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf, offset: u8) -> u16 {
    (cfg.read32(bdf, offset & !3) >> ((offset & 2) * 8)) as u16
}

/// Reads the 8-bit register at `offset` through dword accesses.
pub fn read8<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf, offset: u8) -> u8 {
    (cfg.read32(bdf, offset & !3) >> ((offset & 3) * 8)) as u8
}

/// What identifies a PCI function: the fields enumeration reads once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Where it sits.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Base class code.
    pub class: u8,
    /// Subclass code.
    pub subclass: u8,
    /// Programming interface.
    pub prog_if: u8,
    /// Revision ID.
    pub revision: u8,
    /// Header layout (0 = endpoint, 1 = PCI-PCI bridge), multi-function bit removed.
    pub header_type: u8,
    /// Device 0 of this slot announces more than one function.
    pub multifunction: bool,
    /// Subsystem vendor ID (type 0 headers, else 0).
    pub subsystem_vendor_id: u16,
    /// Subsystem ID (type 0 headers, else 0).
    pub subsystem_id: u16,
}

/// Reads the identity of `bdf`, or `None` when no function answers there.
pub fn read_function<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> Option<Function> {
    let id = cfg.read32(bdf, reg::ID);
    // An absent function reads all-ones (master abort), vendor 0xffff.
    if id as u16 == 0xffff || id as u16 == 0 {
        return None;
    }
    let class = cfg.read32(bdf, reg::CLASS_REV);
    let header = read8(cfg, bdf, reg::HEADER + 2);
    let (sv, sid) = if header & 0x7f == 0 {
        let s = cfg.read32(bdf, reg::SUBSYSTEM);
        (s as u16, (s >> 16) as u16)
    } else {
        (0, 0)
    };
    Some(Function {
        bdf,
        vendor_id: id as u16,
        device_id: (id >> 16) as u16,
        class: (class >> 24) as u8,
        subclass: (class >> 16) as u8,
        prog_if: (class >> 8) as u8,
        revision: class as u8,
        header_type: header & 0x7f,
        multifunction: header & 0x80 != 0,
        subsystem_vendor_id: sv,
        subsystem_id: sid,
    })
}

/// Calls `f` for every function on buses 0..=255, in bus/device/function order.
///
/// A brute-force scan rather than a walk through bridges: it costs a few
/// thousand config reads once at boot and finds functions behind bridges that
/// firmware numbered in any order.
pub fn enumerate<C: ConfigSpace + ?Sized>(cfg: &C, mut f: impl FnMut(Function)) {
    for bus in 0..=255u8 {
        for dev in 0..32u8 {
            let Some(f0) = read_function(cfg, Bdf { bus, dev, func: 0 }) else {
                continue;
            };
            f(f0);
            if !f0.multifunction {
                continue;
            }
            for func in 1..8u8 {
                if let Some(fx) = read_function(cfg, Bdf { bus, dev, func }) {
                    f(fx);
                }
            }
        }
    }
}

/// A decoded base address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bar {
    /// An I/O port range.
    Io {
        /// First port.
        port: u32,
        /// Number of ports.
        size: u32,
    },
    /// A memory range.
    Memory {
        /// Bus address of the first byte.
        addr: u64,
        /// Length in bytes.
        size: u64,
        /// Reads have no side effects (may be mapped write-combining).
        prefetchable: bool,
        /// A 64-bit BAR: it also occupies the next BAR slot.
        is64: bool,
    },
}

/// Why a BAR could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarError {
    /// The index is beyond the header's BAR count (6 for type 0, 2 for type 1).
    IndexOutOfRange,
    /// A 64-bit BAR in the last slot has no upper half.
    Missing64BitHalf,
    /// Memory type 0b01 (below 1 MiB, obsolete) or 0b11 (reserved).
    UnsupportedMemoryType,
}

/// Decodes BAR `index` of `bdf`, probing its size by writing all-ones and
/// restoring it (PCI 3.0, 6.2.5.1). Decoding is switched off in the command
/// register while the BAR holds the probe pattern so the function never
/// answers at a bogus address. `Ok(None)`: the BAR is not implemented.
pub fn read_bar<C: ConfigSpace + ?Sized>(
    cfg: &C,
    bdf: Bdf,
    index: u8,
) -> Result<Option<Bar>, BarError> {
    let count = if read8(cfg, bdf, reg::HEADER + 2) & 0x7f == 1 {
        2
    } else {
        6
    };
    if index >= count {
        return Err(BarError::IndexOutOfRange);
    }
    let off = reg::BAR0 + index * 4;
    let low = cfg.read32(bdf, off);
    let is_io = low & 1 != 0;
    let mem_type = (low >> 1) & 3;
    if !is_io && (mem_type == 1 || mem_type == 3) {
        return Err(BarError::UnsupportedMemoryType);
    }
    let is64 = !is_io && mem_type == 2;
    if is64 && index + 1 >= count {
        return Err(BarError::Missing64BitHalf);
    }
    let high = if is64 { cfg.read32(bdf, off + 4) } else { 0 };

    let cmd = read16(cfg, bdf, reg::COMMAND_STATUS);
    write_command(cfg, bdf, cmd & !(command::IO_SPACE | command::MEMORY_SPACE));
    cfg.write32(bdf, off, 0xffff_ffff);
    let size_low = cfg.read32(bdf, off);
    cfg.write32(bdf, off, low);
    let size_high = if is64 {
        cfg.write32(bdf, off + 4, 0xffff_ffff);
        let v = cfg.read32(bdf, off + 4);
        cfg.write32(bdf, off + 4, high);
        v
    } else {
        0
    };
    write_command(cfg, bdf, cmd);

    if is_io {
        // Bits 1:0 are flags; the upper 16 bits may read back as zero on
        // devices that decode only 16-bit ports.
        let mask = size_low & !0x3;
        if mask == 0 {
            return Ok(None);
        }
        let mask = if mask & 0xffff_0000 == 0 {
            mask | 0xffff_0000
        } else {
            mask
        };
        return Ok(Some(Bar::Io {
            port: low & !0x3,
            size: (!mask).wrapping_add(1),
        }));
    }
    let mask = ((size_high as u64) << 32) | (size_low & !0xf) as u64;
    let mask = if is64 {
        mask
    } else {
        mask | 0xffff_ffff_0000_0000
    };
    if mask & 0xffff_ffff_ffff_fff0 == 0 || mask == 0xffff_ffff_0000_0000 {
        return Ok(None);
    }
    Ok(Some(Bar::Memory {
        addr: ((high as u64) << 32) | (low & !0xf) as u64,
        size: (!mask).wrapping_add(1),
        prefetchable: low & 0x8 != 0,
        is64,
    }))
}

/// Decodes all BARs of a type 0 function; the upper half of a 64-bit BAR and
/// unimplemented or undecodable BARs are `None`.
pub fn read_bars<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> [Option<Bar>; 6] {
    let mut bars = [None; 6];
    let mut i = 0u8;
    while i < 6 {
        let bar = read_bar(cfg, bdf, i).ok().flatten();
        bars[i as usize] = bar;
        i += match bar {
            Some(Bar::Memory { is64: true, .. }) => 2,
            _ => 1,
        };
    }
    bars
}

/// Writes the command register, leaving the status register alone: its error
/// bits are write-one-to-clear, so the upper half of the dword is written as 0.
pub fn write_command<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf, value: u16) {
    cfg.write32(bdf, reg::COMMAND_STATUS, value as u32);
}

/// Sets `bits` (see [`command`]) in the command register, keeping the others.
pub fn enable<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf, bits: u16) {
    let cmd = read16(cfg, bdf, reg::COMMAND_STATUS);
    write_command(cfg, bdf, cmd | bits);
}

/// One entry of a function's capability list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Capability ID (0x09 = vendor specific, 0x11 = MSI-X, ...).
    pub id: u8,
    /// Config-space offset of the capability's first byte.
    pub offset: u8,
}

/// Capability ID of vendor-specific capabilities (virtio uses these).
pub const CAP_VENDOR: u8 = 0x09;

/// Iterator over a capability list (PCI 3.0, 6.7).
///
/// Bounded to the 48 dword slots above the header so a looping list from a
/// broken device ends instead of hanging the boot.
pub struct Capabilities<'a, C: ConfigSpace + ?Sized> {
    cfg: &'a C,
    bdf: Bdf,
    next: u8,
    budget: u8,
}

/// Walks the capability list of `bdf` (empty when the status register says
/// there is none).
pub fn capabilities<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> Capabilities<'_, C> {
    let has_list = cfg.read32(bdf, reg::COMMAND_STATUS) >> 16 & STATUS_CAP_LIST != 0;
    Capabilities {
        cfg,
        bdf,
        next: if has_list {
            read8(cfg, bdf, reg::CAP_PTR) & !3
        } else {
            0
        },
        budget: 48,
    }
}

impl<C: ConfigSpace + ?Sized> Iterator for Capabilities<'_, C> {
    type Item = Capability;

    fn next(&mut self) -> Option<Capability> {
        // Pointers into the standard header (< 0x40) are invalid; 0 ends the list.
        if self.next < 0x40 || self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        let offset = self.next;
        let dw = self.cfg.read32(self.bdf, offset);
        self.next = (dw >> 8) as u8 & !3;
        Some(Capability {
            id: dw as u8,
            offset,
        })
    }
}

/// Test-only fake configuration space.
#[cfg(test)]
pub mod fake;

#[cfg(test)]
mod tests {
    use super::fake::{FakeConfig, FakeFunction};
    use super::*;
    use alloc::vec::Vec;

    fn bdf(bus: u8, dev: u8, func: u8) -> Bdf {
        Bdf { bus, dev, func }
    }

    #[test]
    fn enumeration_finds_functions_on_every_bus_and_honours_multifunction() {
        let cfg = FakeConfig::default();
        // Host bridge, a multi-function device with functions 0 and 2, a NIC on bus 3.
        cfg.add(bdf(0, 0, 0), FakeFunction::new(0x8086, 0x29c0, 0x06, 0x00));
        cfg.add(
            bdf(0, 0x1f, 0),
            FakeFunction::new(0x8086, 0x2918, 0x06, 0x01).header_type(0x80),
        );
        cfg.add(
            bdf(0, 0x1f, 2),
            FakeFunction::new(0x8086, 0x2922, 0x01, 0x06),
        );
        cfg.add(bdf(3, 4, 0), FakeFunction::new(0x1af4, 0x1041, 0x02, 0x00));
        // Function 1 of a single-function device must not be reported even if it answers.
        cfg.add(bdf(0, 2, 0), FakeFunction::new(0x1234, 0x1111, 0x03, 0x00));
        cfg.add(bdf(0, 2, 1), FakeFunction::new(0x1234, 0x2222, 0x03, 0x00));
        let mut found = Vec::new();
        enumerate(&cfg, |f| found.push((f.bdf, f.vendor_id, f.device_id)));
        assert_eq!(
            found,
            [
                (bdf(0, 0, 0), 0x8086, 0x29c0),
                (bdf(0, 2, 0), 0x1234, 0x1111),
                (bdf(0, 0x1f, 0), 0x8086, 0x2918),
                (bdf(0, 0x1f, 2), 0x8086, 0x2922),
                (bdf(3, 4, 0), 0x1af4, 0x1041),
            ]
        );
        let f = read_function(&cfg, bdf(3, 4, 0)).unwrap();
        assert_eq!(
            (f.class, f.subclass, f.revision, f.header_type),
            (2, 0, 1, 0)
        );
        assert!(read_function(&cfg, bdf(9, 9, 0)).is_none());
    }

    #[test]
    fn bars_decode_io_mem32_mem64_and_restore_the_original_values() {
        let cfg = FakeConfig::default();
        let b = bdf(0, 3, 0);
        let func = FakeFunction::new(0x1af4, 0x1000, 0x02, 0x00)
            .io_bar(0, 0xc040, 0x20)
            .mem32_bar(1, 0xfebd_1000, 0x1000, false)
            .mem64_bar(4, 0x0000_0080_fe00_0000, 0x4000, true);
        cfg.add(b, func);
        let before: Vec<u32> = (0..6).map(|i| cfg.get(b, 0x10 + i * 4)).collect();
        enable(&cfg, b, command::IO_SPACE | command::MEMORY_SPACE);
        let bars = read_bars(&cfg, b);
        assert_eq!(
            bars[0],
            Some(Bar::Io {
                port: 0xc040,
                size: 0x20
            })
        );
        assert_eq!(
            bars[1],
            Some(Bar::Memory {
                addr: 0xfebd_1000,
                size: 0x1000,
                prefetchable: false,
                is64: false
            })
        );
        assert_eq!(bars[2], None);
        assert_eq!(
            bars[4],
            Some(Bar::Memory {
                addr: 0x80_fe00_0000,
                size: 0x4000,
                prefetchable: true,
                is64: true
            })
        );
        assert_eq!(bars[5], None);
        let after: Vec<u32> = (0..6).map(|i| cfg.get(b, 0x10 + i * 4)).collect();
        assert_eq!(before, after);
        // Decoding was off while the probe pattern was in the BAR, and is back on.
        let cmd_writes: Vec<u32> = cfg
            .writes
            .borrow()
            .iter()
            .filter(|w| w.1 == reg::COMMAND_STATUS)
            .map(|w| w.2)
            .collect();
        assert!(cmd_writes.contains(&0));
        assert_eq!(read16(&cfg, b, reg::COMMAND_STATUS), 3);
        assert_eq!(read_bar(&cfg, b, 6), Err(BarError::IndexOutOfRange));
    }

    #[test]
    fn a_64_bit_bar_in_the_last_slot_and_reserved_types_are_errors() {
        let cfg = FakeConfig::default();
        let b = bdf(0, 4, 0);
        let mut func = FakeFunction::new(0x8086, 0x100e, 0x02, 0x00);
        func.regs[4 + 5] = 0x4; // 64-bit type in BAR5
        func.regs[4] = 0x2; // type 0b01 (below 1 MiB)
        cfg.add(b, func);
        assert_eq!(read_bar(&cfg, b, 5), Err(BarError::Missing64BitHalf));
        assert_eq!(read_bar(&cfg, b, 0), Err(BarError::UnsupportedMemoryType));
    }

    #[test]
    fn capability_walk_follows_the_list_and_stops_on_a_loop() {
        let cfg = FakeConfig::default();
        let b = bdf(0, 5, 0);
        cfg.add(
            b,
            FakeFunction::new(0x1af4, 0x1041, 0x02, 0x00)
                .cap(0x98, 0x11, &[0; 10])
                .cap(0x84, CAP_VENDOR, &[16, 1, 4, 0])
                .cap(0x70, CAP_VENDOR, &[16, 2, 4, 0]),
        );
        let caps: Vec<Capability> = capabilities(&cfg, b).collect();
        assert_eq!(
            caps,
            [
                Capability {
                    id: 0x11,
                    offset: 0x98
                },
                Capability {
                    id: CAP_VENDOR,
                    offset: 0x84
                },
                Capability {
                    id: CAP_VENDOR,
                    offset: 0x70
                },
            ]
        );
        assert_eq!(read8(&cfg, b, 0x84 + 3), 1);
        // Make the last entry point back at the first: the walk must still end.
        cfg.funcs.borrow_mut().get_mut(&b).unwrap().regs[0x70 / 4] |= 0x98 << 8;
        assert_eq!(capabilities(&cfg, b).count(), 48);
        // No capability list bit: nothing, even with a pointer present.
        cfg.funcs.borrow_mut().get_mut(&b).unwrap().regs[1] &= !(1 << 20);
        assert_eq!(capabilities(&cfg, b).count(), 0);
    }

    #[test]
    fn enable_sets_bits_without_writing_status_back() {
        let cfg = FakeConfig::default();
        let b = bdf(0, 6, 0);
        let mut func = FakeFunction::new(0x8086, 0x10d3, 0x02, 0x00);
        func.regs[1] = 0x0010_0000 | 0x2000_0000 | 0x0001; // cap list + error bit, IO on
        cfg.add(b, func);
        enable(&cfg, b, command::BUS_MASTER | command::INTERRUPT_DISABLE);
        let last = *cfg.writes.borrow().last().unwrap();
        assert_eq!(last, (b, reg::COMMAND_STATUS, 0x0405));
        assert_eq!(read16(&cfg, b, reg::COMMAND_STATUS), 0x0405);
    }
}
