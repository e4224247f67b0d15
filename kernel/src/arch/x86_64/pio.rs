//! Port I/O primitives.
//!
//! Thin wrappers over `in`/`out`; every caller names the device whose port it
//! touches, which is the invariant that makes the access sound.

use core::arch::asm;

/// Reads a byte from `port`.
///
/// # Safety
/// `port` must belong to a device whose read has no side effect the caller
/// has not accounted for.
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // Safety: forwarded to the caller.
    unsafe {
        asm!("in al, dx", out("al") v, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Writes a byte to `port`.
///
/// # Safety
/// `port` must belong to a device the caller drives.
pub unsafe fn outb(port: u16, v: u8) {
    // Safety: forwarded to the caller.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

#[allow(dead_code)] // part of the port I/O set PortRegs offers drivers
/// Reads 16 bits from `port`.
///
/// # Safety
/// As [`inb`].
pub unsafe fn inw(port: u16) -> u16 {
    let v: u16;
    // Safety: forwarded to the caller.
    unsafe {
        asm!("in ax, dx", out("ax") v, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Writes 16 bits to `port`.
///
/// # Safety
/// As [`outb`].
pub unsafe fn outw(port: u16, v: u16) {
    // Safety: forwarded to the caller.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") v, options(nomem, nostack, preserves_flags))
    };
}

/// Reads 32 bits from `port`.
///
/// # Safety
/// As [`inb`].
pub unsafe fn inl(port: u16) -> u32 {
    let v: u32;
    // Safety: forwarded to the caller.
    unsafe {
        asm!("in eax, dx", out("eax") v, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Writes 32 bits to `port`.
///
/// # Safety
/// As [`outb`].
pub unsafe fn outl(port: u16, v: u32) {
    // Safety: forwarded to the caller.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags))
    };
}
