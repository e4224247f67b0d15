//! Ringwall's device drivers: PCI, packet buffers and poll-mode NICs.
//!
//! Everything here is `no_std` and sees hardware only through the small traits
//! in [`hal`] (register access, DMA memory, delays) and [`pci::ConfigSpace`], so
//! host tests can put device models on the other side. The kernel supplies the
//! real implementations (port I/O, identity-mapped MMIO, DMA frames).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod buf;
pub mod hal;
pub mod intel;
pub mod netdev;
pub mod pci;
pub mod virtio;
