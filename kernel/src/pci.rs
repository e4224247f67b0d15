//! PCI enumeration for the `pci` command and for driver probing.
//!
//! One enumeration for the whole kernel: [`drivers::pci`] walks every
//! bus/device/function through [`ConfigSpace`] (mechanism #1 in the kernel, a
//! fake in the tests), reads each function's identity and sizes its BARs
//! (PCI Local Bus spec 3.0, 6.2.5.1: write all ones, read back the mask,
//! restore). Sizing is only safe before a driver has enabled the device, so
//! the kernel enumerates once at boot and keeps the list; this module adds
//! what the console shows (class names, the claiming driver) and the table.

use core::fmt;

pub use drivers::pci::Bar;
use drivers::pci::{self, Bdf, ConfigSpace};

/// Interrupt line register (PCI Local Bus spec 3.0, 6.2.4).
const INTERRUPT_LINE: u8 = 0x3c;

/// One PCI function as found at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciFunction {
    /// Where it sits.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Base class code.
    pub class: u8,
    /// Subclass code.
    pub subclass: u8,
    /// Programming interface.
    pub prog_if: u8,
    /// Revision ID.
    pub revision: u8,
    /// Header type without the multi-function bit (0: device, 1: bridge).
    pub header_type: u8,
    /// Legacy interrupt line (as set by the firmware).
    pub irq_line: u8,
    /// The six BARs (`None`: not implemented, or the upper half of a 64-bit
    /// BAR; only the first two exist for bridges).
    pub bars: [Option<Bar>; 6],
    /// Name of the driver that claimed it (`None`: unclaimed). The kernel
    /// fills this in when a driver binds.
    pub driver: Option<&'static str>,
}

impl PciFunction {
    /// A short human name for the class (`host bridge`, `ethernet`, ...).
    pub fn class_name(&self) -> &'static str {
        match (self.class, self.subclass) {
            (0x01, 0x01) => "IDE controller",
            (0x01, 0x06) => "SATA controller",
            (0x01, _) => "storage",
            (0x02, 0x00) => "ethernet",
            (0x02, _) => "network",
            (0x03, _) => "display",
            (0x06, 0x00) => "host bridge",
            (0x06, 0x01) => "ISA bridge",
            (0x06, 0x04) => "PCI bridge",
            (0x06, _) => "bridge",
            (0x08, _) => "system peripheral",
            (0x0c, 0x03) => "USB controller",
            (0x0c, 0x05) => "SMBus",
            (0x00, _) | (0xff, _) => "unclassified",
            _ => "other",
        }
    }
}

/// Reads one function's header and BARs, or `None` when nothing answers there.
pub fn probe<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> Option<PciFunction> {
    let f = pci::read_function(cfg, bdf)?;
    let bars = match f.header_type {
        0 | 1 => pci::read_bars(cfg, bdf),
        _ => [None; 6],
    };
    Some(PciFunction {
        bdf,
        vendor: f.vendor_id,
        device: f.device_id,
        class: f.class,
        subclass: f.subclass,
        prog_if: f.prog_if,
        revision: f.revision,
        header_type: f.header_type,
        irq_line: pci::read8(cfg, bdf, INTERRUPT_LINE),
        bars,
        driver: None,
    })
}

/// Calls `found` for every function on every bus (0..=255), in B:D.F order.
pub fn enumerate<C: ConfigSpace + ?Sized>(cfg: &C, found: &mut dyn FnMut(PciFunction)) {
    pci::enumerate(cfg, |f| {
        if let Some(p) = probe(cfg, f.bdf) {
            found(p);
        }
    });
}

/// The `pci` table's header line.
pub const TABLE_HEADER: &str = "B:D.F    vendor:device  class           driver        BARs";

/// Prints one function as a row of the `pci` table.
pub struct Row<'a>(pub &'a PciFunction);

impl fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        write!(
            f,
            "{}  {:04x}:{:04x}      {:<15} {:<13}",
            p.bdf,
            p.vendor,
            p.device,
            p.class_name(),
            p.driver.unwrap_or("-")
        )?;
        let mut any = false;
        for (i, bar) in p.bars.iter().enumerate() {
            match *bar {
                None => continue,
                Some(Bar::Io { port, size }) => write!(f, " {i}:io {port:#x}+{size:#x}")?,
                Some(Bar::Memory {
                    addr,
                    size,
                    is64,
                    prefetchable,
                }) => {
                    write!(
                        f,
                        " {i}:mem{} {addr:#x}+{size:#x}",
                        if is64 { "64" } else { "32" }
                    )?;
                    if prefetchable {
                        f.write_str(" pf")?;
                    }
                }
            }
            any = true;
        }
        if !any {
            f.write_str(" -")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A fake config space: functions with register files and BAR size masks,
    /// behaving like real hardware on the all-ones probe.
    #[derive(Default)]
    struct FakeCfg {
        regs: RefCell<HashMap<(Bdf, u8), u32>>,
        bar_masks: HashMap<(Bdf, u8), u32>,
    }

    impl ConfigSpace for FakeCfg {
        fn read32(&self, bdf: Bdf, offset: u8) -> u32 {
            let v = self.regs.borrow().get(&(bdf, offset)).copied();
            v.unwrap_or(if offset == 0 { 0xffff_ffff } else { 0 })
        }
        fn write32(&self, bdf: Bdf, offset: u8, value: u32) {
            let v = match self.bar_masks.get(&(bdf, offset)) {
                // Size bits read back as zero; type bits are read-only.
                Some(&mask) => {
                    let ro = self.read32(bdf, offset) & !mask & 0xf;
                    (value & mask) | ro
                }
                // Unimplemented BARs are hardwired to zero.
                None if (0x10..0x28).contains(&offset) => return,
                None => value,
            };
            self.regs.borrow_mut().insert((bdf, offset), v);
        }
    }

    fn bdf(bus: u8, dev: u8, func: u8) -> Bdf {
        Bdf { bus, dev, func }
    }

    /// The devices of `qemu-system-x86_64 -M pc` with a virtio-net NIC, with
    /// IDs and classes from QEMU's device models and BARs laid out the way
    /// SeaBIOS assigns them (I/O from 0xc000, MMIO below 0xfec00000).
    fn qemu_pc() -> FakeCfg {
        let mut c = FakeCfg::default();
        let set = |b: Bdf, off: u8, v: u32| {
            c.regs.borrow_mut().insert((b, off), v);
        };
        // 00:00.0 i440FX host bridge.
        set(bdf(0, 0, 0), 0x00, 0x1237_8086);
        set(bdf(0, 0, 0), 0x08, 0x0600_0002);
        // 00:01.0 PIIX3 ISA bridge, multi-function; 00:01.1 IDE.
        set(bdf(0, 1, 0), 0x00, 0x7000_8086);
        set(bdf(0, 1, 0), 0x08, 0x0601_0000);
        set(bdf(0, 1, 0), 0x0c, 0x0080_0000);
        set(bdf(0, 1, 1), 0x00, 0x7010_8086);
        set(bdf(0, 1, 1), 0x08, 0x0101_8000);
        set(bdf(0, 1, 1), 0x20, 0xc041);
        // 00:03.0 virtio-net (transitional): I/O BAR0, MMIO BAR1, 64-bit BAR4.
        let nic = bdf(0, 3, 0);
        set(nic, 0x00, 0x1000_1af4);
        set(nic, 0x08, 0x0200_0000);
        set(nic, 0x04, 0x0000_0007);
        set(nic, 0x10, 0xc001);
        set(nic, 0x14, 0xfebd_1000);
        set(nic, 0x20, 0xfe00_000c);
        set(nic, 0x24, 0x0000_0000);
        set(nic, 0x3c, 0x0000_010b);
        c.bar_masks.insert((bdf(0, 1, 1), 0x20), 0xffff_fff0);
        c.bar_masks.insert((nic, 0x10), 0xffff_ffe0);
        c.bar_masks.insert((nic, 0x14), 0xffff_f000);
        c.bar_masks.insert((nic, 0x20), 0xffff_c000);
        c.bar_masks.insert((nic, 0x24), 0xffff_ffff);
        c
    }

    #[test]
    fn enumeration_finds_functions_in_order_including_multifunction() {
        let cfg = qemu_pc();
        let mut found = Vec::new();
        enumerate(&cfg, &mut |f| found.push(f));
        let bdfs: Vec<String> = found.iter().map(|f| f.bdf.to_string()).collect();
        assert_eq!(bdfs, ["00:00.0", "00:01.0", "00:01.1", "00:03.0"]);
        assert_eq!(found[0].class_name(), "host bridge");
        assert_eq!(found[3].class_name(), "ethernet");
        assert_eq!(found[3].irq_line, 11);
    }

    #[test]
    fn bars_are_sized_and_decoded_then_restored() {
        let cfg = qemu_pc();
        let nic = probe(&cfg, bdf(0, 3, 0)).unwrap();
        assert_eq!(
            nic.bars[0],
            Some(Bar::Io {
                port: 0xc000,
                size: 0x20
            })
        );
        assert_eq!(
            nic.bars[1],
            Some(Bar::Memory {
                addr: 0xfebd_1000,
                size: 0x1000,
                is64: false,
                prefetchable: false
            })
        );
        assert_eq!(
            nic.bars[4],
            Some(Bar::Memory {
                addr: 0xfe00_0000,
                size: 0x4000,
                is64: true,
                prefetchable: true
            })
        );
        assert_eq!(nic.bars[5], None, "upper half of the 64-bit BAR");
        // The probe leaves the registers and the command register as found.
        assert_eq!(cfg.read32(bdf(0, 3, 0), 0x14), 0xfebd_1000);
        assert_eq!(cfg.read32(bdf(0, 3, 0), 0x04), 0x7);
    }

    #[test]
    fn rows_show_ids_class_driver_and_bars() {
        let cfg = qemu_pc();
        let mut nic = probe(&cfg, bdf(0, 3, 0)).unwrap();
        let row = Row(&nic).to_string();
        assert!(
            row.starts_with("00:03.0  1af4:1000      ethernet        -    "),
            "{row}"
        );
        assert!(row.contains(" 0:io 0xc000+0x20"), "{row}");
        assert!(row.contains(" 4:mem64 0xfe000000+0x4000 pf"), "{row}");
        nic.driver = Some("virtio-net");
        assert!(Row(&nic).to_string().contains("virtio-net"));
        let host = probe(&cfg, bdf(0, 0, 0)).unwrap();
        assert!(Row(&host).to_string().ends_with(" -"));
    }
}
