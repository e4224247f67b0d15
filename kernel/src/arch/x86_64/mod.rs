//! x86_64 machine bring-up: boot entry, descriptor tables, paging, CPU
//! features, time sources, entropy, ACPI power control and port I/O.

pub mod boot;
pub mod cpu;
pub mod gdt;
pub mod idt;
pub mod paging;
pub mod pio;
pub mod power;
pub mod rand;
pub mod rtc;
pub mod tsc;
