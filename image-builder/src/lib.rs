//! `ringwall-image`: the host tool that turns a config file and the kernel
//! into one raw disk image that boots on legacy BIOS and on UEFI, plus the
//! key and config helpers an operator needs around it.
//!
//! Everything lives in this library so the QEMU integration tests (`tests/`)
//! build images in-process with exactly the code the CLI runs; `main.rs` only
//! parses arguments, prints and picks the exit status. The image is laid out
//! by hand (see [`disk`]): GRUB's BIOS core image in the MBR gap and one FAT
//! partition that is also the UEFI system partition, about 1 MB plus the
//! kernel. GRUB itself comes from the host's Debian packages; [`host`] says
//! which are missing and how to install them.

pub mod cli;
pub mod config;
pub mod disk;
pub mod error;
pub mod files;
pub mod grubcfg;
pub mod host;
pub mod image;
pub mod info;
pub mod inspect;
pub mod kernel;
pub mod keys;
pub mod tools;

pub use cli::BuildArgs;
pub use error::Error;
pub use grubcfg::SerialPort;
pub use image::{build, build_at, Built};
pub use inspect::inspect;
