//! Virtio PCI transports: the [`Transport`] trait and the modern
//! (virtio 1.x, capability-based) implementation.
//!
//! A modern function describes where its register structures live with
//! vendor-specific PCI capabilities (4.1.4): common configuration, notification,
//! ISR and device-specific configuration, each a window into one of the BARs.
//! The kernel decides how a BAR becomes a [`Regs`] (identity-mapped MMIO), so
//! the constructor takes a `map_bar` callback; this module only adds offsets.
//! The legacy I/O-port transport is in [`super::legacy`].

use super::TransportKind;
use crate::hal::Regs;
use crate::pci::{self, command, Bar, Bdf, ConfigSpace, CAP_VENDOR};

/// Why a transport could not be set up or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// No usable common configuration capability (cfg_type 1).
    NoCommonCfg,
    /// No usable notification capability (cfg_type 2).
    NoNotifyCfg,
    /// No usable device configuration capability (cfg_type 4).
    NoDeviceCfg,
    /// A capability points at a BAR that is missing or not a memory BAR.
    BadBar(u8),
    /// A capability's window does not fit inside its BAR.
    CapOutsideBar(u8),
    /// The kernel could not map BAR `n`.
    MapFailed(u8),
    /// Legacy transport: BAR 0 is not an I/O BAR.
    NoIoBar,
    /// The device did not read back status 0 after a reset (4.1.4.3.2).
    ResetTimeout,
    /// The driver asked for a queue index beyond what the transport tracks.
    QueueIndex(u16),
    /// The queue's notification address lies outside the notify window.
    NotifyOutOfRange(u16),
    /// Legacy transport: the rings are not laid out as 4.1.4.8 requires.
    LegacyLayout,
}

impl core::fmt::Display for TransportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TransportError::NoCommonCfg => f.write_str("no virtio common configuration capability"),
            TransportError::NoNotifyCfg => f.write_str("no virtio notification capability"),
            TransportError::NoDeviceCfg => f.write_str("no virtio device configuration capability"),
            TransportError::BadBar(b) => {
                write!(f, "capability names BAR {b}, which is not a memory BAR")
            }
            TransportError::CapOutsideBar(b) => write!(f, "capability window exceeds BAR {b}"),
            TransportError::MapFailed(b) => write!(f, "BAR {b} could not be mapped"),
            TransportError::NoIoBar => f.write_str("legacy device without an I/O BAR 0"),
            TransportError::ResetTimeout => f.write_str("device did not complete reset"),
            TransportError::QueueIndex(q) => {
                write!(f, "queue {q} beyond what the transport tracks")
            }
            TransportError::NotifyOutOfRange(q) => {
                write!(f, "queue {q} doorbell outside the notify window")
            }
            TransportError::LegacyLayout => f.write_str("rings not in the legacy layout"),
        }
    }
}

/// How many queues a transport keeps notification offsets for.
pub const MAX_QUEUES: usize = 4;

/// Status polls after a reset before giving up. Each poll is a register read
/// (a VM exit under virtualisation), so this bounds the wait to well under a
/// second while being far longer than any device needs.
const RESET_POLLS: u32 = 1_000_000;

/// What the device drivers need from a transport.
pub trait Transport {
    /// Modern or legacy.
    fn kind(&self) -> TransportKind;
    /// Writes 0 to the status register and waits until it reads back 0.
    fn reset(&mut self) -> Result<(), TransportError>;
    /// Reads the device status.
    fn status(&self) -> u8;
    /// Writes the device status.
    fn set_status(&mut self, status: u8);
    /// Reads the feature bits the device offers.
    fn device_features(&mut self) -> u64;
    /// Writes the feature bits the driver accepts.
    fn set_driver_features(&mut self, features: u64);
    /// Selects `queue` and returns its maximum size (0: no such queue).
    fn queue_max_size(&mut self, queue: u16) -> u16;
    /// True when the driver must use the maximum size as is (legacy).
    fn fixed_queue_size(&self) -> bool;
    /// Tells the device where queue `queue` of `size` entries lives and enables it.
    fn activate_queue(
        &mut self,
        queue: u16,
        size: u16,
        desc: u64,
        avail: u64,
        used: u64,
    ) -> Result<(), TransportError>;
    /// Rings the doorbell of `queue`.
    fn notify(&self, queue: u16);
    /// Configuration generation counter (constant on legacy devices).
    fn config_generation(&self) -> u8;
    /// Reads a byte of the device-specific configuration.
    fn config_read8(&self, offset: usize) -> u8;
    /// Reads a 16-bit little-endian field of the device-specific configuration.
    fn config_read16(&self, offset: usize) -> u16;
}

/// `virtio_pci_cap.cfg_type` values (4.1.4).
mod cfg_type {
    pub const COMMON: u8 = 1;
    pub const NOTIFY: u8 = 2;
    pub const DEVICE: u8 = 4;
}

/// Offsets inside `virtio_pci_cap` (4.1.4), from the capability's first byte.
mod cap {
    pub const CFG_TYPE: u8 = 3;
    pub const BAR: u8 = 4;
    pub const OFFSET: u8 = 8;
    pub const LENGTH: u8 = 12;
    /// `virtio_pci_notify_cap.notify_off_multiplier` (4.1.4.4).
    pub const NOTIFY_MULTIPLIER: u8 = 16;
}

/// `virtio_pci_common_cfg` field offsets (4.1.4.3).
mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    /// Size of the structure up to queue_device included.
    pub const LEN: u32 = 0x38;
}

/// One register structure: a BAR mapping plus the structure's offset in it.
struct Window<R> {
    regs: R,
    base: usize,
    len: u32,
}

/// A capability as read from config space.
#[derive(Clone, Copy)]
struct VirtioCap {
    bar: u8,
    offset: u32,
    length: u32,
    multiplier: u32,
}

/// Iterates the virtio vendor capabilities of `bdf` as (cfg_type, cap).
fn virtio_caps<C: ConfigSpace + ?Sized>(
    cfg: &C,
    bdf: Bdf,
) -> impl Iterator<Item = (u8, VirtioCap)> + '_ {
    pci::capabilities(cfg, bdf)
        .filter(|c| c.id == CAP_VENDOR)
        .map(move |c| {
            let t = pci::read8(cfg, bdf, c.offset + cap::CFG_TYPE);
            let vc = VirtioCap {
                bar: pci::read8(cfg, bdf, c.offset + cap::BAR),
                offset: cfg.read32(bdf, c.offset + cap::OFFSET),
                length: cfg.read32(bdf, c.offset + cap::LENGTH),
                multiplier: if t == cfg_type::NOTIFY {
                    cfg.read32(bdf, c.offset + cap::NOTIFY_MULTIPLIER)
                } else {
                    0
                },
            };
            (t, vc)
        })
        // BAR values above 5 are reserved and must be ignored (4.1.4).
        .filter(|(_, c)| c.bar <= 5)
}

/// True when `bdf` has a virtio common configuration capability.
pub(crate) fn has_common_cfg<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> bool {
    virtio_caps(cfg, bdf).any(|(t, _)| t == cfg_type::COMMON)
}

/// The virtio 1.x PCI transport.
pub struct ModernTransport<R: Regs> {
    common: Window<R>,
    notify: Window<R>,
    device: Window<R>,
    notify_multiplier: u32,
    /// Per-queue offset of the doorbell inside the notify window.
    notify_off: [usize; MAX_QUEUES],
}

impl<R: Regs> ModernTransport<R> {
    /// Finds the common, notify and device configuration structures of
    /// `bdf`, maps their BARs through `map_bar(index, bar)`, and enables
    /// memory decoding and bus mastering (with INTx disabled: poll mode).
    pub fn new<C: ConfigSpace + ?Sized>(
        cfg: &C,
        bdf: Bdf,
        map_bar: impl FnMut(u8, Bar) -> Option<R>,
    ) -> Result<Self, TransportError> {
        Self::with_bars(cfg, bdf, &pci::read_bars(cfg, bdf), map_bar)
    }

    /// As [`new`](Self::new), with BARs the kernel already decoded at
    /// enumeration (size probing is only safe before the device is in use).
    pub fn with_bars<C: ConfigSpace + ?Sized>(
        cfg: &C,
        bdf: Bdf,
        bars: &[Option<Bar>; 6],
        mut map_bar: impl FnMut(u8, Bar) -> Option<R>,
    ) -> Result<Self, TransportError> {
        // The driver SHOULD use the first instance of each type it can support (4.1.4).
        let first = |want: u8| {
            virtio_caps(cfg, bdf)
                .find(|(t, _)| *t == want)
                .map(|(_, c)| c)
        };
        let common = first(cfg_type::COMMON).ok_or(TransportError::NoCommonCfg)?;
        let notify = first(cfg_type::NOTIFY).ok_or(TransportError::NoNotifyCfg)?;
        let device = first(cfg_type::DEVICE).ok_or(TransportError::NoDeviceCfg)?;
        if common.length < common::LEN {
            return Err(TransportError::CapOutsideBar(common.bar));
        }
        let mut window = |c: VirtioCap| -> Result<Window<R>, TransportError> {
            let bar = bars[c.bar as usize].ok_or(TransportError::BadBar(c.bar))?;
            let Bar::Memory { size, .. } = bar else {
                return Err(TransportError::BadBar(c.bar));
            };
            if c.offset as u64 + c.length as u64 > size {
                return Err(TransportError::CapOutsideBar(c.bar));
            }
            let regs = map_bar(c.bar, bar).ok_or(TransportError::MapFailed(c.bar))?;
            Ok(Window {
                regs,
                base: c.offset as usize,
                len: c.length,
            })
        };
        let t = ModernTransport {
            common: window(common)?,
            notify: window(notify)?,
            device: window(device)?,
            notify_multiplier: notify.multiplier,
            notify_off: [0; MAX_QUEUES],
        };
        pci::enable(
            cfg,
            bdf,
            command::MEMORY_SPACE | command::BUS_MASTER | command::INTERRUPT_DISABLE,
        );
        Ok(t)
    }

    fn c8(&self, off: usize) -> u8 {
        self.common.regs.read8(self.common.base + off)
    }
    fn c16(&self, off: usize) -> u16 {
        self.common.regs.read16(self.common.base + off)
    }
    fn c32(&self, off: usize) -> u32 {
        self.common.regs.read32(self.common.base + off)
    }
    fn w8(&self, off: usize, v: u8) {
        self.common.regs.write8(self.common.base + off, v)
    }
    fn w16(&self, off: usize, v: u16) {
        self.common.regs.write16(self.common.base + off, v)
    }
    fn w32(&self, off: usize, v: u32) {
        self.common.regs.write32(self.common.base + off, v)
    }
    /// 64-bit fields are written as two 32-bit halves, low first (4.1.3.1).
    fn w64(&self, off: usize, v: u64) {
        self.w32(off, v as u32);
        self.w32(off + 4, (v >> 32) as u32);
    }
}

impl<R: Regs> Transport for ModernTransport<R> {
    fn kind(&self) -> TransportKind {
        TransportKind::Modern
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.w8(common::DEVICE_STATUS, 0);
        // The driver MUST wait for a read of device_status to return 0
        // before reinitializing the device (4.1.4.3.2).
        for _ in 0..RESET_POLLS {
            if self.c8(common::DEVICE_STATUS) == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(TransportError::ResetTimeout)
    }

    fn status(&self) -> u8 {
        self.c8(common::DEVICE_STATUS)
    }

    fn set_status(&mut self, status: u8) {
        self.w8(common::DEVICE_STATUS, status)
    }

    fn device_features(&mut self) -> u64 {
        self.w32(common::DEVICE_FEATURE_SELECT, 0);
        let lo = self.c32(common::DEVICE_FEATURE);
        self.w32(common::DEVICE_FEATURE_SELECT, 1);
        let hi = self.c32(common::DEVICE_FEATURE);
        (hi as u64) << 32 | lo as u64
    }

    fn set_driver_features(&mut self, features: u64) {
        self.w32(common::DRIVER_FEATURE_SELECT, 0);
        self.w32(common::DRIVER_FEATURE, features as u32);
        self.w32(common::DRIVER_FEATURE_SELECT, 1);
        self.w32(common::DRIVER_FEATURE, (features >> 32) as u32);
    }

    fn queue_max_size(&mut self, queue: u16) -> u16 {
        self.w16(common::QUEUE_SELECT, queue);
        self.c16(common::QUEUE_SIZE)
    }

    fn fixed_queue_size(&self) -> bool {
        false
    }

    fn activate_queue(
        &mut self,
        queue: u16,
        size: u16,
        desc: u64,
        avail: u64,
        used: u64,
    ) -> Result<(), TransportError> {
        let slot = self
            .notify_off
            .get_mut(queue as usize)
            .ok_or(TransportError::QueueIndex(queue))?;
        // 4.1.5.1.3: select the queue, read its notify offset, write the size
        // and the three ring addresses, then enable it.
        self.common
            .regs
            .write16(self.common.base + common::QUEUE_SELECT, queue);
        let off = self
            .common
            .regs
            .read16(self.common.base + common::QUEUE_NOTIFY_OFF) as usize
            * self.notify_multiplier as usize;
        if off + 2 > self.notify.len as usize {
            return Err(TransportError::NotifyOutOfRange(queue));
        }
        *slot = off;
        self.w16(common::QUEUE_SIZE, size);
        self.w64(common::QUEUE_DESC, desc);
        self.w64(common::QUEUE_DRIVER, avail);
        self.w64(common::QUEUE_DEVICE, used);
        self.w16(common::QUEUE_ENABLE, 1);
        Ok(())
    }

    fn notify(&self, queue: u16) {
        if let Some(off) = self.notify_off.get(queue as usize) {
            // Without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue index (4.1.5.2).
            self.notify.regs.write16(self.notify.base + off, queue);
        }
    }

    fn config_generation(&self) -> u8 {
        self.c8(common::CONFIG_GENERATION)
    }

    fn config_read8(&self, offset: usize) -> u8 {
        self.device.regs.read8(self.device.base + offset)
    }

    fn config_read16(&self, offset: usize) -> u16 {
        self.device.regs.read16(self.device.base + offset)
    }
}
