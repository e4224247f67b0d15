//! The kernel's platform services on top of the architecture code: the
//! serial console and logger, the heap, memory set-up, the driver HAL
//! implementations, the panic path and the [`machine::Kernel`] the shell runs
//! against.

pub mod hal;
pub mod heap;
pub mod machine;
pub mod memfns;
pub mod memory;
pub mod nic;
pub mod panic;
pub mod serial;
