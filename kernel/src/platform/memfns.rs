//! The C memory functions `core` and `compiler_builtins` call.
//!
//! On the host target `compiler_builtins` expects libc to provide them; the
//! freestanding kernel has no libc, so they are defined here, only in the
//! binary. Copies and fills move eight bytes per step (`rep movsq`/`rep
//! stosq`) and finish the last 0–7 with `rep movsb`/`rep stosb`: hardware
//! runs either form at full speed, but QEMU's TCG, where the appliance is
//! tested and benchmarked, executes a `rep` string instruction one element
//! per step, so byte steps made every large struct move of the data path
//! eight times dearer there. The comparisons read through `read_volatile`
//! so LLVM cannot recognise the loop and turn it back into a call to itself.

use core::arch::asm;

/// `memcpy`: copies `n` bytes, regions must not overlap.
///
/// # Safety
/// The C contract: both ranges valid for `n` bytes and disjoint.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // Safety: the caller guarantees both ranges; DF is clear (ABI). The
    // quadword steps cover n & !7 bytes, the byte steps the remaining n & 7.
    unsafe {
        asm!("rep movsq", "mov rcx, {tail}", "rep movsb",
             tail = in(reg) n & 7,
             inout("rcx") n >> 3 => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dest
}

/// `memmove`: copies `n` bytes, regions may overlap.
///
/// # Safety
/// The C contract: both ranges valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) || (dest as usize) >= (src as usize).wrapping_add(n) {
        // Forward copy is safe: dest is below src or past its end.
        // Safety: as memcpy; forward order never reads a byte already written.
        return unsafe { memcpy(dest, src, n) };
    }
    // Overlap with dest above src: copy backwards with DF set, then clear it.
    // Safety: the caller guarantees both ranges; DF is restored before return.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _,
             inout("rdi") dest.wrapping_add(n).wrapping_sub(1) => _,
             inout("rsi") src.wrapping_add(n).wrapping_sub(1) => _,
             options(nostack));
    }
    dest
}

/// `memset`: fills `n` bytes with `c`.
///
/// # Safety
/// The C contract: the range is valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // The byte in all eight lanes of RAX (its low byte serves the tail).
    let fill = u64::from(c as u8).wrapping_mul(0x0101_0101_0101_0101);
    // Safety: the caller guarantees the range; DF is clear (ABI). Quadword
    // steps cover n & !7 bytes, byte steps the remaining n & 7.
    unsafe {
        asm!("rep stosq", "mov rcx, {tail}", "rep stosb",
             tail = in(reg) n & 7,
             inout("rcx") n >> 3 => _, inout("rdi") dest => _, in("rax") fill,
             options(nostack, preserves_flags));
    }
    dest
}

/// `memcmp`: compares `n` bytes.
///
/// # Safety
/// The C contract: both ranges valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // Safety: i < n and the caller guarantees n readable bytes in each.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// `bcmp`: zero when the `n` bytes are equal.
///
/// # Safety
/// As [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // Safety: same contract.
    unsafe { memcmp(a, b, n) }
}

/// `strlen`, which some `core` formatting paths reference.
///
/// # Safety
/// `s` must point to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // Safety: the caller guarantees a terminator within the allocation.
    while unsafe { s.add(n).read_volatile() } != 0 {
        n += 1;
    }
    n
}
