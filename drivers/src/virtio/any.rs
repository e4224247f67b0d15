//! One type for either transport.
//!
//! The kernel finds modern and legacy functions at run time; with
//! [`AnyTransport`] every virtio-net port is a `VirtioNet<AnyTransport<M, P>>`
//! (one concrete type for the poll loop) instead of two. [`open`] picks the
//! transport [`probe`](super::probe) chose and maps its BARs.

use super::transport::{Transport, TransportError};
use super::{LegacyTransport, ModernTransport, TransportKind, VirtioFunction};
use crate::hal::Regs;
use crate::pci::{Bar, ConfigSpace};

/// A modern transport over `M` (MMIO) or a legacy one over `P` (port I/O).
pub enum AnyTransport<M: Regs, P: Regs> {
    /// Virtio 1.x capabilities.
    Modern(ModernTransport<M>),
    /// The legacy I/O block.
    Legacy(LegacyTransport<P>),
}

/// Sets up the transport `f.transport` names, mapping memory BARs with
/// `map_mem` and the legacy I/O BAR with `map_io`.
pub fn open<C: ConfigSpace + ?Sized, M: Regs, P: Regs>(
    cfg: &C,
    f: &VirtioFunction,
    map_mem: impl FnMut(u8, Bar) -> Option<M>,
    map_io: impl FnMut(u8, Bar) -> Option<P>,
) -> Result<AnyTransport<M, P>, TransportError> {
    Ok(match f.transport {
        TransportKind::Modern => AnyTransport::Modern(ModernTransport::new(cfg, f.bdf, map_mem)?),
        TransportKind::Legacy => AnyTransport::Legacy(LegacyTransport::new(cfg, f.bdf, map_io)?),
    })
}

/// Forwards a call to whichever transport is inside.
macro_rules! either {
    ($self:ident, $t:ident => $e:expr) => {
        match $self {
            AnyTransport::Modern($t) => $e,
            AnyTransport::Legacy($t) => $e,
        }
    };
}

impl<M: Regs, P: Regs> Transport for AnyTransport<M, P> {
    fn kind(&self) -> TransportKind {
        either!(self, t => t.kind())
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        either!(self, t => t.reset())
    }
    fn status(&self) -> u8 {
        either!(self, t => t.status())
    }
    fn set_status(&mut self, status: u8) {
        either!(self, t => t.set_status(status))
    }
    fn device_features(&mut self) -> u64 {
        either!(self, t => t.device_features())
    }
    fn set_driver_features(&mut self, features: u64) {
        either!(self, t => t.set_driver_features(features))
    }
    fn queue_max_size(&mut self, queue: u16) -> u16 {
        either!(self, t => t.queue_max_size(queue))
    }
    fn fixed_queue_size(&self) -> bool {
        either!(self, t => t.fixed_queue_size())
    }
    fn activate_queue(
        &mut self,
        queue: u16,
        size: u16,
        desc: u64,
        avail: u64,
        used: u64,
    ) -> Result<(), TransportError> {
        either!(self, t => t.activate_queue(queue, size, desc, avail, used))
    }
    fn notify(&self, queue: u16) {
        either!(self, t => t.notify(queue))
    }
    fn config_generation(&self) -> u8 {
        either!(self, t => t.config_generation())
    }
    fn config_read8(&self, offset: usize) -> u8 {
        either!(self, t => t.config_read8(offset))
    }
    fn config_read16(&self, offset: usize) -> u16 {
        either!(self, t => t.config_read16(offset))
    }
}
