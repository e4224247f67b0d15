//! PCI configuration space: enumeration, BARs, capabilities.
//!
//! Config space is reached through [`ConfigSpace`]; the kernel implements it
//! with configuration mechanism #1 (ports 0xCF8/0xCFC), host tests with a fake.

use core::fmt;

/// A PCI function address: bus, device, function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device number (0..32).
    pub dev: u8,
    /// Function number (0..8).
    pub func: u8,
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.dev, self.func)
    }
}

/// Access to PCI configuration space. Offsets are byte offsets, dword aligned.
pub trait ConfigSpace {
    /// Reads the dword at `offset` of function `bdf`.
    fn read32(&self, bdf: Bdf, offset: u8) -> u32;
    /// Writes the dword at `offset` of function `bdf`.
    fn write32(&self, bdf: Bdf, offset: u8, value: u32);
}
