//! The IDT: all 32 exception vectors, each on an IST stack.
//!
//! The stubs are plain assembly (no `x86-interrupt` ABI on stable): each pushes
//! a zero when the CPU pushes no error code (SDM vol. 3A, table 6-1 lists which
//! do), then its vector number, saves every general register and calls
//! [`exception`] with a pointer to the resulting [`Frame`]. Every exception is
//! fatal for an appliance that has no user space to blame: the handler dumps
//! the state and follows the panic policy (reboot after a countdown, or halt).

use core::arch::global_asm;
use core::fmt::Write;

use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS};
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

use super::gdt::{IST_DOUBLE_FAULT, IST_EXCEPTION, IST_NMI};

/// Registers as the stubs leave them on the stack, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct Frame {
    /// General registers, pushed by the common stub.
    pub r15: u64,
    /// R14.
    pub r14: u64,
    /// R13.
    pub r13: u64,
    /// R12.
    pub r12: u64,
    /// R11.
    pub r11: u64,
    /// R10.
    pub r10: u64,
    /// R9.
    pub r9: u64,
    /// R8.
    pub r8: u64,
    /// RDI.
    pub rdi: u64,
    /// RSI.
    pub rsi: u64,
    /// RBP.
    pub rbp: u64,
    /// RDX.
    pub rdx: u64,
    /// RCX.
    pub rcx: u64,
    /// RBX.
    pub rbx: u64,
    /// RAX.
    pub rax: u64,
    /// Vector number, pushed by the per-vector stub.
    pub vector: u64,
    /// Error code (CPU-pushed, or 0 from the stub).
    pub error: u64,
    /// The interrupt frame the CPU pushed (SDM vol. 3A, 6.14.2).
    pub rip: u64,
    /// CS.
    pub cs: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// RSP at the fault.
    pub rsp: u64,
    /// SS.
    pub ss: u64,
}

global_asm!(
    r#"
.section .text.exceptions, "ax"
/* Vectors for which the CPU pushes no error code: push a zero so every
 * frame has the same shape. */
.irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
exc_stub_\v:
    push 0
    push \v
    jmp exc_common
.endr
/* Vectors with a CPU-pushed error code (SDM vol. 3A, table 6-1). */
.irp v, 8,10,11,12,13,14,17,21,29,30
exc_stub_\v:
    push \v
    jmp exc_common
.endr

exc_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rbp
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    and rsp, -16
    call {handler}
1:
    cli
    hlt
    jmp 1b

.section .rodata.exc_stub_table, "a"
.balign 8
.global exc_stub_table
exc_stub_table:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_stub_\v
.endr
.text
"#,
    handler = sym exception,
);

unsafe extern "C" {
    /// Entry addresses of the 32 stubs, by vector.
    static exc_stub_table: [u64; 32];
}

/// Names from SDM vol. 3A, table 6-1.
const NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "BOUND range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved",
];

/// One 64-bit IDT gate descriptor (SDM vol. 3A, 6.14.1, figure 6-8).
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    /// Bits 0..2: IST index (1-based; 0 = no stack switch).
    ist: u8,
    /// Present, DPL, gate type.
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, DPL 0, 64-bit interrupt gate (type 0xE: IF cleared on entry).
const INTERRUPT_GATE: u8 = 0x8e;

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn new(handler: u64, selector: u16, ist_slot: u16) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            ist: (ist_slot + 1) as u8,
            attributes: INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

/// The exception part of the IDT (vectors 0..31); device interrupts are
/// never enabled, so the table ends there (its limit makes higher vectors
/// fault, which ends in the double-fault report).
#[repr(C, align(16))]
struct Idt([Gate; 32]);

static IDT: Once<Idt> = Once::new();

/// Builds and loads the IDT (once, at boot, after the GDT and TSS).
pub fn init() {
    // Safety: the table is constant data emitted by the assembly above.
    let stubs = unsafe { exc_stub_table };
    let cs = CS::get_reg().0;
    let idt = IDT.call_once(|| {
        Idt(core::array::from_fn(|v| {
            let ist = match v {
                8 => IST_DOUBLE_FAULT,
                2 | 18 => IST_NMI,
                _ => IST_EXCEPTION,
            };
            match stubs.get(v) {
                Some(&stub) => Gate::new(stub, cs, ist),
                None => Gate::MISSING,
            }
        }))
    });
    let ptr = DescriptorTablePointer {
        limit: (size_of::<Idt>() - 1) as u16,
        base: VirtAddr::new(&raw const idt.0 as u64),
    };
    // Safety: the table lives in a static for the kernel's lifetime, every
    // gate points at a stub that saves all state and never returns, and each
    // IST slot was filled by `gdt::init`.
    unsafe { lidt(&ptr) };
}

/// The common exception handler: dump, then the panic policy.
extern "C" fn exception(frame: &Frame) -> ! {
    let v = frame.vector as usize;
    let name = NAMES.get(v).copied().unwrap_or("unknown");
    let mut out = crate::platform::serial::PanicWriter::take();
    let _ = writeln!(
        out,
        "\r\n!!! EXCEPTION {v} ({name}), error code {:#x}",
        frame.error
    );
    let _ = writeln!(
        out,
        "    rip {:#018x}  cs {:#x}  rflags {:#x}",
        frame.rip, frame.cs, frame.rflags
    );
    if v == 14 {
        let cr2 = x86_64::registers::control::Cr2::read_raw();
        let e = frame.error;
        let cause = if e & 1 != 0 {
            "protection violation"
        } else {
            "not present"
        };
        let access = match (e & 16 != 0, e & 2 != 0) {
            (true, _) => "on instruction fetch",
            (false, true) => "on write",
            (false, false) => "on read",
        };
        let _ = writeln!(out, "    cr2 {cr2:#018x} ({cause} {access})");
    }
    let regs = [
        ("rax", frame.rax),
        ("rbx", frame.rbx),
        ("rcx", frame.rcx),
        ("rdx", frame.rdx),
        ("rsi", frame.rsi),
        ("rdi", frame.rdi),
        ("rbp", frame.rbp),
        ("rsp", frame.rsp),
        ("r8", frame.r8),
        ("r9", frame.r9),
        ("r10", frame.r10),
        ("r11", frame.r11),
        ("r12", frame.r12),
        ("r13", frame.r13),
        ("r14", frame.r14),
        ("r15", frame.r15),
    ];
    for row in regs.chunks(4) {
        let _ = write!(out, "   ");
        for (n, val) in row {
            let _ = write!(out, " {n:>3} {val:#018x}");
        }
        let _ = writeln!(out);
    }
    crate::platform::panic::backtrace(&mut out, frame.rip, frame.rbp);
    crate::platform::panic::fatal_policy(&mut out)
}
