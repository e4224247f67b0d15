//! The host-testable half of the Ringwall kernel.
//!
//! Everything here is plain logic over byte slices and traits: the console's
//! line editor and command shell, the parsers for what the boot loader and the
//! firmware hand over (Multiboot v1/v2 information, ACPI tables and the `\_S5`
//! AML object), the physical memory bookkeeping, PCI listing and the formatting
//! helpers. The binary (`src/main.rs`) owns every port, register and page table
//! and plugs them in through the traits defined here, so `cargo test -p kernel`
//! exercises all of this on the host without a machine.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod acpi;
pub mod boot;
mod bytes;
pub mod console;
pub mod cpu;
pub mod entropy;
pub mod fmt;
pub mod mem;
pub mod net;
pub mod pci;
pub mod poll;
pub mod time;

/// The crate version, baked in at build time.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the kernel was built from (`unknown` outside a checkout).
pub const GIT_COMMIT: &str = env!("RINGWALL_GIT_COMMIT");

/// The prompt the console prints when it is ready for a command.
pub const PROMPT: &str = "ringwall> ";
