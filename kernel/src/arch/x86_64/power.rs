//! Power off and reset.
//!
//! Power off, in order: QEMU's `isa-debug-exit` device (only under a
//! hypervisor, where port 0xf4 is that device or nothing; test boots add it so
//! QEMU ends with a known exit code), then ACPI S5 (ACPI 6.5, 7.4.2: write
//! SLP_TYPa|SLP_EN to PM1a_CNT and SLP_TYPb|SLP_EN to PM1b_CNT). Reset, in
//! order: the FADT reset register (4.8.3.6), the keyboard controller's pulse
//! reset line (command 0xFE), and finally a triple fault, which resets every
//! PC.

use core::arch::asm;

use ringwall_kernel::acpi::{pm1_sleep_value, AddressSpace, GenericAddress, PowerInfo};
use spin::Once;

use super::pio::{inb, outb, outw};

/// The `isa-debug-exit` port test boots configure (`iobase=0xf4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The value written there on power off; QEMU exits with `(v << 1) | 1` = 33.
pub const DEBUG_EXIT_POWEROFF: u8 = 0x10;

static POWER: Once<PowerInfo> = Once::new();

/// Remembers the ACPI power information found at boot.
pub fn init(info: PowerInfo) {
    POWER.call_once(|| info);
}

#[allow(dead_code)] // for a future `acpi` console command
/// The ACPI information in use, if any was found.
pub fn info() -> Option<&'static PowerInfo> {
    POWER.get()
}

fn write_gas(reg: &GenericAddress, value: u16) {
    match reg.space {
        AddressSpace::Io => {
            let Ok(port) = u16::try_from(reg.address) else {
                return;
            };
            // Safety: the FADT names this port as the PM1 control or reset
            // register; writing it is the documented way to sleep or reset.
            unsafe {
                if reg.bit_width == 8 {
                    outb(port, value as u8);
                } else {
                    outw(port, value);
                }
            }
        }
        AddressSpace::Memory => {
            // The address lies in firmware-reserved space below 4 GiB, which
            // the boot identity map covers.
            let p = reg.address as *mut u16;
            // Safety: as for the I/O case, the FADT names this register.
            unsafe {
                if reg.bit_width == 8 {
                    (p as *mut u8).write_volatile(value as u8);
                } else {
                    p.write_volatile(value);
                }
            }
        }
        AddressSpace::Other(_) => {}
    }
}

/// Tries every power-off method; returns why none worked.
pub fn poweroff() -> &'static str {
    if super::cpu::under_hypervisor() {
        // Safety: under a hypervisor port 0xf4 is QEMU's isa-debug-exit or
        // unassigned (writes are dropped); no real device answers there.
        unsafe { outb(DEBUG_EXIT_PORT, DEBUG_EXIT_POWEROFF) };
    }
    let Some(p) = POWER.get() else {
        return "no ACPI tables found";
    };
    let Some(s5) = p.s5 else {
        return "no \\_S5 object in the DSDT";
    };
    write_gas(&p.pm1a_cnt, pm1_sleep_value(s5.a));
    if let Some(b) = &p.pm1b_cnt {
        write_gas(b, pm1_sleep_value(s5.b));
    }
    super::tsc::delay_us(500_000);
    "the machine ignored ACPI S5"
}

/// Resets the machine; does not return.
pub fn reboot() -> ! {
    if let Some((reg, value)) = POWER.get().and_then(|p| p.reset) {
        write_gas(&reg, value.into());
        super::tsc::delay_us(100_000);
    }
    // Safety: port 0x64 is the 8042 keyboard controller's command port;
    // command 0xFE pulses the CPU reset line. Waiting (bounded) for the input
    // buffer to drain first is the documented protocol.
    unsafe {
        for _ in 0..100_000 {
            if inb(0x64) & 0x02 == 0 {
                break;
            }
        }
        outb(0x64, 0xfe);
    }
    super::tsc::delay_us(100_000);
    triple_fault()
}

/// Loads an empty IDT and raises an exception: the CPU cannot deliver it,
/// nor the double fault, and shuts down, which resets a PC.
fn triple_fault() -> ! {
    let empty: [u16; 5] = [0; 5];
    // Safety: deliberately unrecoverable; nothing runs after this.
    unsafe {
        asm!("lidt [{}]", "int3", in(reg) &empty, options(noreturn));
    }
}
