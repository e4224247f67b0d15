//! The GDT and the TSS with one IST stack per class of exception.
//!
//! The host target keeps the System V red zone (128 bytes below RSP that leaf
//! functions use without moving RSP), so an exception must never push its
//! frame onto the interrupted stack: every IDT gate switches to an IST stack
//! (SDM vol. 3A, 6.14.5). Double faults get their own, so a stack overflow in
//! another handler still reports.

use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot for ordinary exceptions.
pub const IST_EXCEPTION: u16 = 0;
/// IST slot for double faults.
pub const IST_DOUBLE_FAULT: u16 = 1;
/// IST slot for NMI and machine checks.
pub const IST_NMI: u16 = 2;

const IST_STACK: usize = 32 * 1024;

/// An IST stack, 16-byte aligned.
#[repr(C, align(16))]
struct Stack([u8; IST_STACK]);

static mut STACKS: [Stack; 3] = [const { Stack([0; IST_STACK]) }; 3];

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(
    GlobalDescriptorTable,
    SegmentSelector,
    SegmentSelector,
    SegmentSelector,
)> = Once::new();

/// The bounds of every IST stack, for the backtrace's sanity checks.
pub fn ist_ranges() -> [(u64, u64); 3] {
    let base = &raw const STACKS as u64;
    core::array::from_fn(|i| {
        let lo = base + (i * IST_STACK) as u64;
        (lo, lo + IST_STACK as u64)
    })
}

/// Builds and loads the GDT and TSS (once, at boot).
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        for (slot, (_, top)) in ist_ranges().iter().enumerate() {
            tss.interrupt_stack_table[slot] = VirtAddr::new(*top);
        }
        tss
    });
    let (gdt, code, data, tss_sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(tss));
        (gdt, code, data, tss_sel)
    });
    gdt.load();
    // Safety: the selectors index descriptors of the GDT just loaded, which
    // lives in a static for the rest of the kernel's life.
    unsafe {
        CS::set_reg(*code);
        DS::set_reg(*data);
        ES::set_reg(*data);
        SS::set_reg(*data);
        load_tss(*tss_sel);
    }
}
