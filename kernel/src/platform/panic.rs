//! The panic handler and the policy shared with fatal exceptions.
//!
//! A panic prints its message and location, a frame-pointer backtrace, and
//! then either reboots after a countdown (the default, so an unattended
//! appliance comes back) or halts when the command line says `panic=halt`
//! (`panic=N` sets the countdown to N seconds). Addresses are printed raw;
//! `addr2line -e <kernel ELF> <addr>` turns them into source lines.

use core::arch::asm;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::serial::PanicWriter;
use crate::arch::x86_64::{boot, gdt, power, tsc};

/// Seconds before the reboot; `u32::MAX` means halt.
static COUNTDOWN: AtomicU32 = AtomicU32::new(5);
static PANICKING: AtomicBool = AtomicBool::new(false);
const HALT: u32 = u32::MAX;
const MAX_FRAMES: usize = 32;

/// Applies the command line's `panic=` option (`halt`, `reboot` or seconds).
pub fn configure(option: Option<&str>) {
    let secs = match option {
        Some("halt") => HALT,
        Some("reboot") | None => 5,
        Some(n) => n.parse().unwrap_or(5),
    };
    COUNTDOWN.store(secs, Ordering::Relaxed);
}

/// True when `addr..addr+16` lies inside one of the kernel's stacks.
fn on_a_stack(addr: u64) -> bool {
    let (lo, hi) = boot::boot_stack();
    let in_range = |(lo, hi): (u64, u64)| addr >= lo && addr.saturating_add(16) <= hi;
    in_range((lo, hi)) || gdt::ist_ranges().into_iter().any(in_range)
}

fn in_text(addr: u64) -> bool {
    let (lo, hi) = boot::text_range();
    addr >= lo && addr < hi
}

/// Prints the call chain starting at `rip` with frame pointer `rbp`. Every
/// frame pointer is checked to lie on a kernel stack before it is read; when
/// the chain is broken early (code built without frame pointers), the stack
/// is scanned for words that point into the kernel's code instead.
pub fn backtrace(out: &mut dyn Write, rip: u64, mut rbp: u64) {
    let _ = writeln!(out, "backtrace (addr2line -e kernel <addr>):");
    let _ = writeln!(out, "   0: {rip:#018x}");
    let mut n = 1;
    while n < MAX_FRAMES && rbp.is_multiple_of(8) && on_a_stack(rbp) {
        // Safety: `rbp..rbp+16` is inside a kernel stack (checked above), which
        // is mapped and readable.
        let (next, ret) = unsafe {
            (
                (rbp as *const u64).read(),
                (rbp as *const u64).add(1).read(),
            )
        };
        if !in_text(ret) {
            break;
        }
        let _ = writeln!(out, "  {n:2}: {ret:#018x}");
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    if n <= 2 {
        scan_stack(out, rbp);
    }
}

/// Fallback: lists code addresses found on the stack above `from`.
fn scan_stack(out: &mut dyn Write, from: u64) {
    let sp: u64;
    // Safety: reading RSP has no side effects.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    let start = if on_a_stack(from) { from.min(sp) } else { sp };
    let (lo, hi) = boot::boot_stack();
    let top = if start >= lo && start < hi {
        hi
    } else {
        gdt::ist_ranges()
            .into_iter()
            .find(|&(l, h)| start >= l && start < h)
            .map_or(start, |(_, h)| h)
    };
    let _ = writeln!(
        out,
        "  (frame chain ends; code addresses found on the stack:)"
    );
    let mut shown = 0;
    let mut at = start & !7;
    while at + 8 <= top && shown < 16 {
        // Safety: `at` walks the current stack between RSP and its top.
        let w = unsafe { (at as *const u64).read() };
        if in_text(w) {
            let _ = writeln!(out, "   ? {w:#018x}");
            shown += 1;
        }
        at += 8;
    }
}

/// After a fatal error: halt or reboot per the command line. Never returns.
pub fn fatal_policy(out: &mut dyn Write) -> ! {
    let secs = COUNTDOWN.load(Ordering::Relaxed);
    if secs == HALT {
        let _ = writeln!(out, "halted (panic=halt)");
        halt_forever();
    }
    let _ = write!(out, "rebooting in {secs} s:");
    for left in (1..=secs).rev() {
        let _ = write!(out, " {left}");
        tsc::delay_us(1_000_000);
    }
    let _ = writeln!(out, " now");
    power::reboot()
}

fn halt_forever() -> ! {
    loop {
        // Safety: interrupts off and halt: the CPU stops until reset.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut out = PanicWriter::take();
    if PANICKING.swap(true, Ordering::Relaxed) {
        let _ = writeln!(out, "\npanic while panicking: {}", info.message());
        fatal_policy(&mut out);
    }
    let _ = write!(out, "\n!!! PANIC: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(out, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let _ = writeln!(out);
    let (rip, rbp): (u64, u64);
    // Safety: reading RIP (via LEA) and RBP has no side effects.
    unsafe {
        asm!("lea {}, [rip]", "mov {}, rbp", out(reg) rip, out(reg) rbp,
             options(nomem, nostack, preserves_flags));
    }
    backtrace(&mut out, rip, rbp);
    fatal_policy(&mut out)
}

/// `core` is precompiled with unwinding tables that name this symbol; with
/// `panic = "abort"` it is never called.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Landing pads in the precompiled `alloc` and in crates built for the host
/// target resume unwinding through this symbol; with `panic = "abort"` no
/// unwind ever starts, so reaching it is a bug: stop like a panic would.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    panic!("_Unwind_Resume called: unwinding is not supported")
}
