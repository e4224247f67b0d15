//! What the boot loader hands over, in one shape whichever protocol was used.
//!
//! QEMU's `-kernel` boots Ringwall through Multiboot v1 (the a.out kludge);
//! the GRUB disk images use Multiboot2, which is the only way to receive the
//! ACPI RSDP under UEFI. [`multiboot::parse`] reads either into a [`BootInfo`]:
//! memory map, command line, modules (the configuration file arrives as one)
//! and, with Multiboot2, a copy of the RSDP. Physical memory is reached through
//! [`PhysMem`], so the parsers are tested against byte arrays.

pub mod cmdline;
pub mod multiboot;

pub use cmdline::Cmdline;
pub use multiboot::{parse, BootError, BootInfo, Module, Protocol};

/// Read access to physical memory (identity mapped in the kernel).
pub trait PhysMem {
    /// The `len` bytes at `phys`, or `None` when that range is not readable.
    fn read(&self, phys: u64, len: usize) -> Option<&[u8]>;

    /// A NUL-terminated string at `phys` of at most `max` bytes (invalid UTF-8
    /// yields `None`).
    fn read_cstr(&self, phys: u64, max: usize) -> Option<&str> {
        let mut len = 0;
        while len < max {
            if *self.read(phys + len as u64, 1)?.first()? == 0 {
                break;
            }
            len += 1;
        }
        core::str::from_utf8(self.read(phys, len)?).ok()
    }
}

#[cfg(test)]
pub(crate) mod testmem {
    //! A fake physical memory for the parsers' tests.
    use super::PhysMem;

    /// Bytes that live at physical address `base`.
    pub struct FakeMem {
        pub base: u64,
        pub bytes: Vec<u8>,
    }

    impl FakeMem {
        pub fn new(base: u64, size: usize) -> Self {
            FakeMem {
                base,
                bytes: vec![0; size],
            }
        }
        pub fn put(&mut self, phys: u64, data: &[u8]) {
            let at = (phys - self.base) as usize;
            self.bytes[at..at + data.len()].copy_from_slice(data);
        }
    }

    impl PhysMem for FakeMem {
        fn read(&self, phys: u64, len: usize) -> Option<&[u8]> {
            let at = usize::try_from(phys.checked_sub(self.base)?).ok()?;
            self.bytes.get(at..at.checked_add(len)?)
        }
    }
}
