//! The legacy virtio PCI transport: one register block in I/O BAR 0.
//!
//! Transitional devices (PCI IDs 0x1000..0x103f) still offer this 0.9.5-era
//! interface (spec 4.1.4.8). It differs from the modern one in ways the driver
//! must respect: 32 feature bits, no FEATURES_OK step, the queue size is the
//! device's and cannot be changed, and the three rings sit at fixed places in
//! one page-aligned block whose page frame number is the only address the
//! device is given (2.7.2, "Legacy Interfaces: A Note on Virtqueue Layout").

use super::transport::{Transport, TransportError};
use super::TransportKind;
use crate::hal::Regs;
use crate::pci::{self, command, Bar, Bdf, ConfigSpace};

/// Register offsets in the legacy block (4.1.4.8), MSI-X disabled.
mod reg {
    pub const DEVICE_FEATURES: usize = 0x00;
    pub const GUEST_FEATURES: usize = 0x04;
    pub const QUEUE_ADDRESS: usize = 0x08;
    pub const QUEUE_SIZE: usize = 0x0c;
    pub const QUEUE_SELECT: usize = 0x0e;
    pub const QUEUE_NOTIFY: usize = 0x10;
    pub const DEVICE_STATUS: usize = 0x12;
    /// Device-specific configuration starts here while MSI-X is off (4.1.4.8).
    pub const CONFIG: usize = 0x14;
}

/// Page size the legacy queue address is expressed in, and ring alignment.
pub const LEGACY_PAGE: u64 = 4096;

/// The legacy (I/O port) virtio PCI transport.
pub struct LegacyTransport<R: Regs> {
    regs: R,
}

impl<R: Regs> LegacyTransport<R> {
    /// Maps I/O BAR 0 of `bdf` through `map_bar` and enables I/O decoding and
    /// bus mastering (INTx disabled: poll mode).
    pub fn new<C: ConfigSpace + ?Sized>(
        cfg: &C,
        bdf: Bdf,
        map_bar: impl FnMut(u8, Bar) -> Option<R>,
    ) -> Result<Self, TransportError> {
        let bar0 = pci::read_bar(cfg, bdf, 0).ok().flatten();
        Self::with_bar0(cfg, bdf, bar0, map_bar)
    }

    /// As [`new`](Self::new), with BAR 0 as the kernel already decoded it.
    pub fn with_bar0<C: ConfigSpace + ?Sized>(
        cfg: &C,
        bdf: Bdf,
        bar0: Option<Bar>,
        mut map_bar: impl FnMut(u8, Bar) -> Option<R>,
    ) -> Result<Self, TransportError> {
        let bar = match bar0 {
            Some(b @ Bar::Io { size, .. }) if size as usize > reg::CONFIG => b,
            _ => return Err(TransportError::NoIoBar),
        };
        let regs = map_bar(0, bar).ok_or(TransportError::MapFailed(0))?;
        pci::enable(
            cfg,
            bdf,
            command::IO_SPACE | command::BUS_MASTER | command::INTERRUPT_DISABLE,
        );
        Ok(LegacyTransport { regs })
    }

    /// Wraps an already mapped legacy register block.
    pub fn from_regs(regs: R) -> Self {
        LegacyTransport { regs }
    }
}

impl<R: Regs> Transport for LegacyTransport<R> {
    fn kind(&self) -> TransportKind {
        TransportKind::Legacy
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        // Writing 0 resets a legacy device synchronously; reading status back
        // confirms the device is there at all.
        self.regs.write8(reg::DEVICE_STATUS, 0);
        if self.regs.read8(reg::DEVICE_STATUS) == 0 {
            Ok(())
        } else {
            Err(TransportError::ResetTimeout)
        }
    }

    fn status(&self) -> u8 {
        self.regs.read8(reg::DEVICE_STATUS)
    }

    fn set_status(&mut self, status: u8) {
        self.regs.write8(reg::DEVICE_STATUS, status)
    }

    fn device_features(&mut self) -> u64 {
        self.regs.read32(reg::DEVICE_FEATURES) as u64
    }

    fn set_driver_features(&mut self, features: u64) {
        self.regs.write32(reg::GUEST_FEATURES, features as u32)
    }

    fn queue_max_size(&mut self, queue: u16) -> u16 {
        self.regs.write16(reg::QUEUE_SELECT, queue);
        self.regs.read16(reg::QUEUE_SIZE)
    }

    fn fixed_queue_size(&self) -> bool {
        true
    }

    fn activate_queue(
        &mut self,
        queue: u16,
        size: u16,
        desc: u64,
        avail: u64,
        used: u64,
    ) -> Result<(), TransportError> {
        let n = size as u64;
        let expect_used = (avail + 6 + 2 * n).next_multiple_of(LEGACY_PAGE);
        let pfn = desc / LEGACY_PAGE;
        if desc & (LEGACY_PAGE - 1) != 0
            || avail != desc + 16 * n
            || used != expect_used
            || pfn > u32::MAX as u64
        {
            return Err(TransportError::LegacyLayout);
        }
        self.regs.write16(reg::QUEUE_SELECT, queue);
        if self.regs.read16(reg::QUEUE_SIZE) != size {
            return Err(TransportError::LegacyLayout);
        }
        self.regs.write32(reg::QUEUE_ADDRESS, pfn as u32);
        Ok(())
    }

    fn notify(&self, queue: u16) {
        self.regs.write16(reg::QUEUE_NOTIFY, queue)
    }

    fn config_generation(&self) -> u8 {
        0
    }

    fn config_read8(&self, offset: usize) -> u8 {
        self.regs.read8(reg::CONFIG + offset)
    }

    fn config_read16(&self, offset: usize) -> u16 {
        self.regs.read16(reg::CONFIG + offset)
    }
}
