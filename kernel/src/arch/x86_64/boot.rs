//! The boot headers and the 32-bit trampoline into long mode.
//!
//! Both loaders enter `_start32` in 32-bit protected mode with paging off
//! (Multiboot spec 3.2; Multiboot2 spec 3.3): EAX holds the magic, EBX the
//! physical address of the boot information. The trampoline zeroes .bss,
//! identity-maps the low 4 GiB with 2 MiB pages (enough to reach the kernel,
//! the boot information and the firmware tables), enables PAE, long mode, NX
//! and SSE, and jumps to 64-bit code that calls `kmain(magic, info)`. The
//! final page tables (NX on data, uncached MMIO) are built in Rust afterwards
//! (`paging.rs`).

use core::arch::global_asm;

global_asm!(
    r#"
/* Multiboot v1 header (Multiboot spec 3.1). Flags: bit 0 page-align modules,
 * bit 1 memory map wanted, bit 16 the address fields below are valid (the
 * "a.out kludge", the only way QEMU's -kernel loads a 64-bit ELF). */
.section .multiboot1, "a"
.balign 4
mb1_header:
    .long 0x1BADB002
    .long 0x00010003
    .long -(0x1BADB002 + 0x00010003)
    .long mb1_header            /* header_addr */
    .long __kernel_start        /* load_addr */
    .long __data_end            /* load_end_addr */
    .long __bss_end             /* bss_end_addr */
    .long _start32              /* entry_addr */

/* Multiboot2 header (Multiboot2 spec 3.1): architecture 0 (i386 protected
 * mode), an entry address tag, page-aligned modules, end tag. */
.section .multiboot2, "a"
.balign 8
mb2_header:
    .long 0xE85250D6
    .long 0
    .long mb2_end - mb2_header
    .long 0x100000000 - (0xE85250D6 + 0 + (mb2_end - mb2_header))
    .balign 8
    .short 3, 0                 /* entry address tag */
    .long 12
    .long _start32
    .balign 8
    .short 6, 0                 /* module alignment tag */
    .long 8
    .balign 8
    .short 0, 0                 /* end tag */
    .long 8
mb2_end:

.section .boot.text, "ax"
.code32
.global _start32
_start32:
    cli
    cld
    mov ebp, eax                /* Multiboot magic */
    mov esi, ebx                /* boot information address */

    /* Zero .bss (the loaders may or may not have). */
    mov edi, offset __bss_start
    mov ecx, offset __bss_end
    sub ecx, edi
    xor eax, eax
    rep stosb
    mov esp, offset boot_stack_top

    /* Long mode available? (CPUID 0x8000_0001 EDX bit 29) */
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb 90f
    mov eax, 0x80000001
    cpuid
    test edx, 0x20000000
    jz 90f
    mov edi, edx                /* keep the extended features: NX is bit 20 */

    /* PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 2 MiB pages. */
    mov eax, offset boot_pdpt
    or eax, 3
    mov [boot_pml4], eax
    mov eax, offset boot_pd
    or eax, 3
    mov ecx, 0
1:
    mov [boot_pdpt + ecx * 8], eax
    add eax, 4096
    inc ecx
    cmp ecx, 4
    jne 1b
    mov ecx, 0
2:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                /* present, writable, 2 MiB */
    mov [boot_pd + ecx * 8], eax
    mov eax, ecx
    shr eax, 11
    mov [boot_pd + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 2048
    jne 2b

    mov eax, offset boot_pml4
    mov cr3, eax

    /* CR4: PAE (5), OSFXSR (9), OSXMMEXCPT (10). */
    mov eax, cr4
    or eax, 0x620
    mov cr4, eax

    /* EFER: LME (8), and NXE (11) when the CPU has NX. */
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100
    test edi, 0x100000
    jz 3f
    or eax, 0x800
3:
    wrmsr

    /* CR0: PG (31), WP (16), MP (1), PE (0); clear EM (2) for SSE. */
    mov eax, cr0
    and eax, 0xFFFFFFFB
    or eax, 0x80010003
    mov cr0, eax

    lgdt [boot_gdt_ptr]
    /* Far return into the 64-bit code segment. */
    mov eax, offset start64
    push 0x08
    push eax
    retf

90:
    /* No long mode: say so on COM1 and stop. */
    mov esi, offset no_lm_msg
91:
    lodsb
    test al, al
    jz 92f
    mov dx, 0x3F8
    out dx, al
    jmp 91b
92:
    hlt
    jmp 92b

.code64
start64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, offset boot_stack_top
    mov edi, ebp                /* arg 1: magic (zero-extended) */
    mov esi, esi                /* arg 2: info address (zero-extended) */
    xor ebp, ebp                /* end of the frame-pointer chain */
    call kmain
93:
    hlt
    jmp 93b

.section .rodata.boot, "a"
.balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00CF92000000FFFF    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
no_lm_msg:
    .asciz "ringwall: this CPU has no 64-bit long mode\r\n"

.section .bss.boot, "aw", @nobits
.balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
.global boot_stack_bottom
boot_stack_bottom:
    .skip 64 * 1024
.global boot_stack_top
boot_stack_top:
.text
"#
);

unsafe extern "C" {
    /// Lowest address of the boot (and main loop) stack.
    pub static boot_stack_bottom: u8;
    /// One past the top of the boot stack.
    pub static boot_stack_top: u8;
    /// First byte of the kernel image.
    pub static __kernel_start: u8;
    /// First byte of the executable part.
    pub static __text_start: u8;
    /// One past the executable part.
    pub static __text_end: u8;
    /// One past the image's .bss.
    pub static __kernel_end: u8;
}

/// Physical range of the kernel image (identity mapped, so also virtual).
pub fn kernel_range() -> (u64, u64) {
    // Only the addresses of the linker symbols are taken, never their values.
    (
        &raw const __kernel_start as u64,
        &raw const __kernel_end as u64,
    )
}

/// The executable part of the image.
pub fn text_range() -> (u64, u64) {
    (&raw const __text_start as u64, &raw const __text_end as u64)
}

/// The boot stack's bounds.
pub fn boot_stack() -> (u64, u64) {
    (
        &raw const boot_stack_bottom as u64,
        &raw const boot_stack_top as u64,
    )
}
