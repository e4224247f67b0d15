//! The GRUB configuration baked into the image.
//!
//! Two pieces, because GRUB reads configuration at two moments. The *early*
//! config is embedded in GRUB's core image (BIOS `core.img` and UEFI
//! `BOOTX64.EFI` alike) and runs before anything is printed, so the serial
//! terminal is on from the bootloader's first line. The *menu* config
//! (`/boot/grub/grub.cfg` on the image's FAT partition) loads the kernel with
//! `multiboot2` and the appliance config with `module2`.
//!
//! `set gfxpayload=text` matters under UEFI: without it GRUB's multiboot2
//! loader looks for a graphics mode for the kernel and stops with
//! `no suitable video mode found` on a serial-only machine.

use std::fmt::Write as _;

/// Where the kernel sits on the image's file system.
pub const KERNEL_PATH: &str = "/boot/ringwall.elf";
/// Where the appliance config sits on the image's file system.
pub const CONFIG_PATH: &str = "/boot/ringwall.conf";
/// Where the build metadata sits (read back by `inspect`).
pub const INFO_PATH: &str = "/boot/ringwall.info";
/// GRUB's menu config, relative to its prefix directory.
pub const GRUB_CFG_PATH: &str = "/boot/grub/grub.cfg";
/// The name the kernel sees on the multiboot2 module (its command line).
pub const MODULE_NAME: &str = "ringwall.conf";

/// A PC serial port and its speed (`ttyS0,115200`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialPort {
    /// COM port number from 0 (ttyS0 = COM1).
    pub unit: u8,
    /// Bits per second.
    pub baud: u32,
}

impl Default for SerialPort {
    fn default() -> Self {
        SerialPort {
            unit: 0,
            baud: 115_200,
        }
    }
}

/// Speeds a 16550 reaches with an integer divisor of 115200 that GRUB accepts.
const BAUDS: [u32; 9] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 0];

impl SerialPort {
    /// Parses `ttyS<0-3>,<baud>` (the Linux console spelling).
    pub fn parse(text: &str) -> Option<SerialPort> {
        let (dev, baud) = text.split_once(',')?;
        let unit: u8 = dev.strip_prefix("ttyS")?.parse().ok()?;
        let baud: u32 = baud.parse().ok()?;
        (unit <= 3 && baud != 0 && BAUDS.contains(&baud)).then_some(SerialPort { unit, baud })
    }
}

impl std::fmt::Display for SerialPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ttyS{},{}", self.unit, self.baud)
    }
}

/// The serial terminal commands, first in both configs.
fn serial_terminal(serial: SerialPort) -> String {
    format!(
        "serial --unit={} --speed={}\nterminal_input serial\nterminal_output serial\n",
        serial.unit, serial.baud
    )
}

/// How GRUB spells a FAT volume serial as a file-system UUID (`xxxx-xxxx`).
pub fn fat_uuid(volume_serial: u32) -> String {
    format!("{:04x}-{:04x}", volume_serial >> 16, volume_serial & 0xffff)
}

/// The config embedded in GRUB's core images: serial terminal first, then
/// find this image's own FAT volume by its UUID. The built-in prefix already
/// points at it in the usual case (BIOS boot disk = hd0, UEFI = the ESP
/// GRUB was loaded from); the search covers a BIOS that numbers the boot disk
/// otherwise (a stick in USB-FDD emulation, a boot-menu override). Only plain
/// commands: GRUB runs this with its rescue parser, before `normal` exists.
pub fn early_config(serial: SerialPort, volume_serial: u32) -> String {
    let mut s = serial_terminal(serial);
    let _ = writeln!(s, "search --fs-uuid --set=root {}", fat_uuid(volume_serial));
    s.push_str("set prefix=($root)/boot/grub\n");
    s
}

/// The menu config: one entry, one second, kernel plus config module.
pub fn menu_config(serial: SerialPort) -> String {
    let mut s = String::new();
    // Repeated here so a GRUB booted without our early config (a foreign
    // core image chainloading this partition) still talks on the serial port.
    s.push_str(&serial_terminal(serial));
    s.push_str("set timeout=1\n");
    s.push_str("set default=0\n");
    s.push_str("set gfxpayload=text\n");
    s.push_str("menuentry \"Ringwall\" {\n");
    let _ = writeln!(s, "  multiboot2 {KERNEL_PATH} console={serial}");
    let _ = writeln!(s, "  module2 {CONFIG_PATH} {MODULE_NAME}");
    s.push_str("  boot\n");
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_spec_parses_linux_spelling() {
        assert_eq!(
            SerialPort::parse("ttyS0,115200"),
            Some(SerialPort {
                unit: 0,
                baud: 115200
            })
        );
        assert_eq!(
            SerialPort::parse("ttyS3,9600"),
            Some(SerialPort {
                unit: 3,
                baud: 9600
            })
        );
        for bad in [
            "ttyS4,115200",
            "ttyS0,115201",
            "ttyS0,0",
            "ttyS0",
            "com1,115200",
            "ttyUSB0,115200",
            "ttyS-1,9600",
            "",
        ] {
            assert_eq!(SerialPort::parse(bad), None, "{bad}");
        }
        assert_eq!(SerialPort::default().to_string(), "ttyS0,115200");
    }

    #[test]
    fn early_config_turns_serial_on_then_finds_its_volume() {
        let c = early_config(
            SerialPort {
                unit: 1,
                baud: 57600,
            },
            0x6925_9A40,
        );
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(
            lines,
            [
                "serial --unit=1 --speed=57600",
                "terminal_input serial",
                "terminal_output serial",
                "search --fs-uuid --set=root 6925-9a40",
                "set prefix=($root)/boot/grub",
            ]
        );
    }

    #[test]
    fn fat_uuid_is_two_lowercase_halves() {
        assert_eq!(fat_uuid(0), "0000-0000");
        assert_eq!(fat_uuid(0xDEAD_BEEF), "dead-beef");
        assert_eq!(fat_uuid(0x0001_000A), "0001-000a");
    }

    #[test]
    fn menu_config_boots_kernel_with_config_module_in_one_second() {
        let c = menu_config(SerialPort::default());
        let lines: Vec<&str> = c.lines().map(str::trim).collect();
        let pos = |l: &str| lines.iter().position(|x| *x == l).unwrap();
        assert!(pos("serial --unit=0 --speed=115200") < pos("terminal_output serial"));
        assert!(lines.contains(&"set timeout=1"));
        assert!(lines.contains(&"set gfxpayload=text"));
        let mb = pos("multiboot2 /boot/ringwall.elf console=ttyS0,115200");
        let module = pos("module2 /boot/ringwall.conf ringwall.conf");
        let boot = pos("boot");
        assert!(mb < module && module < boot);
        assert!(pos("set gfxpayload=text") < mb);
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
