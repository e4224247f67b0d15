//! The QEMU test harness: boots the real Ringwall kernel and drives its
//! serial console.
//!
//! Every QEMU integration test goes through [`QemuBuilder`]: it finds or builds
//! the kernel once per test process (`RINGWALL_KERNEL` / `RINGWALL_KERNEL_DEBUG`
//! name prebuilt ELFs; otherwise `cargo build -p kernel` into
//! `<target>/kernel-build` with frame pointers on, so backtraces are complete
//! and the outer cargo's lock is never waited on), starts QEMU under TCG with
//! `-cpu max` (never KVM), and hands back a [`Qemu`] whose [`Console`] sends
//! lines and waits for output with timeouts. Every failure carries the whole
//! console log. QEMU is killed when the [`Qemu`] is dropped, and at most
//! `RINGWALL_QEMU_JOBS` (default 2) machines run at once, since TCG is slow on
//! a small shared machine.
//!
//! ```no_run
//! use std::time::Duration;
//! use ringwall_tests::QemuBuilder;
//!
//! let link = ringwall_tests::DgramLink::new().unwrap();
//! let mut vm = QemuBuilder::new()
//!     .memory("64M")
//!     .append("panic=halt")
//!     .netdev_dgram("n0", &link)
//!     .device("virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56")
//!     .spawn()
//!     .unwrap();
//! vm.console().wait_for_prompt(Duration::from_secs(60)).unwrap();
//! let out = vm.console().command("pci").unwrap();
//! assert!(out.contains("1af4:1000"), "{out}");
//! ```

mod console;
pub mod frames;
mod kernel;
mod net;
mod qemu;

pub use console::{Console, HarnessError};
pub use kernel::{kernel_path, Profile};
pub use net::DgramLink;
pub use qemu::{Firmware, Qemu, QemuBuilder, OVMF_CODE};

/// The console prompt (as the kernel prints it).
pub const PROMPT: &str = "ringwall> ";
/// Generous timeout for a boot to the prompt under TCG on a loaded machine.
pub const BOOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);
/// Timeout for one console command.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The exit status QEMU returns when the kernel powers off through
/// `isa-debug-exit` (value 0x10 written to port 0xf4: `(0x10 << 1) | 1`).
pub const POWEROFF_EXIT_CODE: i32 = 33;
