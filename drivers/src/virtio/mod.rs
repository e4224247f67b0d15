//! Virtio over PCI: transports, the split virtqueue, and the net and rng drivers.
//!
//! The layering follows the spec (Virtual I/O Device 1.2): a [`Transport`]
//! hides whether the device is reached through the modern capability-based
//! registers (4.1.4) or the legacy I/O BAR (4.1.4.8); [`queue::SplitQueue`] is
//! the driver side of a split virtqueue (2.7) in DMA memory; the device drivers
//! ([`net::VirtioNet`], [`rng::VirtioRng`]) run the initialisation sequence of
//! 3.1.1 through [`init_device`] and then only touch their queues. Everything
//! is polled: no interrupts are requested, and no MSI-X vector is configured.

pub mod any;
pub mod legacy;
pub mod net;
pub mod queue;
pub mod rng;
pub mod transport;

#[cfg(test)]
mod model;

pub use any::{open, AnyTransport};
pub use legacy::LegacyTransport;
pub use transport::{ModernTransport, Transport, TransportError};

use crate::pci::{self, Bdf, ConfigSpace};

/// PCI vendor ID of every virtio device (4.1.2).
pub const VENDOR_ID: u16 = 0x1af4;

/// Device status bits (2.1).
pub mod status {
    /// The guest noticed the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest knows how to drive it.
    pub const DRIVER: u8 = 2;
    /// The driver is set up and ready to drive the device.
    pub const DRIVER_OK: u8 = 4;
    /// Feature negotiation is complete (modern only).
    pub const FEATURES_OK: u8 = 8;
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    /// The driver gave up on the device.
    pub const FAILED: u8 = 128;
}

/// Feature bits the drivers here know about (5.1.3, 6).
pub mod feature {
    /// virtio-net: the device has a MAC address in its config space.
    pub const NET_MAC: u64 = 1 << 5;
    /// virtio-net: the config space has a link status field.
    pub const NET_STATUS: u64 = 1 << 16;
    /// Legacy: the device accepts any descriptor layout, so the virtio-net
    /// header may share a descriptor with the frame (2.6.4.1; implied by VERSION_1).
    pub const ANY_LAYOUT: u64 = 1 << 27;
    /// The device complies with virtio 1.x (modern interface, little-endian).
    pub const VERSION_1: u64 = 1 << 32;
}

/// Which virtio device a PCI function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Network card (device type 1).
    Net,
    /// Entropy source (device type 4).
    Rng,
}

/// How to talk to a virtio PCI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Virtio 1.x registers found through vendor capabilities.
    Modern,
    /// The legacy (0.9.5) register block in I/O BAR 0.
    Legacy,
}

/// What [`probe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioFunction {
    /// Where it is.
    pub bdf: Bdf,
    /// Net or rng.
    pub device: DeviceType,
    /// The transport to use: modern whenever the function offers it
    /// (transitional devices offer both; 4.1.2.1 asks drivers to prefer it).
    pub transport: TransportKind,
}

/// Tells whether `bdf` is a virtio-net or virtio-rng function and which
/// transport it should be driven through (4.1.2: device IDs 0x1040 + type for
/// modern-only functions, 0x1000/0x1005 for transitional ones).
pub fn probe<C: ConfigSpace + ?Sized>(cfg: &C, bdf: Bdf) -> Option<VirtioFunction> {
    let f = pci::read_function(cfg, bdf)?;
    if f.vendor_id != VENDOR_ID {
        return None;
    }
    let (device, transitional) = match f.device_id {
        0x1041 => (DeviceType::Net, false),
        0x1044 => (DeviceType::Rng, false),
        0x1000 => (DeviceType::Net, true),
        0x1005 => (DeviceType::Rng, true),
        _ => return None,
    };
    let modern = transport::has_common_cfg(cfg, bdf);
    let transport = match (modern, transitional) {
        (true, _) => TransportKind::Modern,
        (false, true) => TransportKind::Legacy,
        // A modern-only ID without the capabilities is unusable.
        (false, false) => return None,
    };
    Some(VirtioFunction {
        bdf,
        device,
        transport,
    })
}

/// Why a device could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// The transport could not be set up.
    Transport(TransportError),
    /// A modern device does not offer VIRTIO_F_VERSION_1.
    NoVersion1,
    /// The device lacks a feature the driver cannot do without.
    MissingFeature(u64),
    /// The device cleared FEATURES_OK: it refused the feature subset (3.1.1 step 6).
    FeaturesRejected,
    /// A queue the driver needs does not exist (size 0).
    QueueUnavailable(u16),
    /// Not enough DMA memory for a queue or buffer.
    OutOfDmaMemory,
    /// The device's queue size does not fit memory allocated at first bring-up.
    QueueSizeChanged(u16),
    /// A legacy device's fixed queue size is larger than the driver supports.
    QueueTooLarge(u16),
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InitError::Transport(e) => write!(f, "transport: {e}"),
            InitError::NoVersion1 => f.write_str("modern device without VIRTIO_F_VERSION_1"),
            InitError::MissingFeature(b) => write!(f, "device lacks required features {b:#x}"),
            InitError::FeaturesRejected => {
                f.write_str("device refused the features (FEATURES_OK cleared)")
            }
            InitError::QueueUnavailable(q) => write!(f, "queue {q} does not exist"),
            InitError::OutOfDmaMemory => f.write_str("out of DMA memory for rings"),
            InitError::QueueSizeChanged(q) => write!(f, "queue {q} size changed since bring-up"),
            InitError::QueueTooLarge(q) => {
                write!(f, "queue {q} is larger than the driver supports")
            }
        }
    }
}

impl From<TransportError> for InitError {
    fn from(e: TransportError) -> Self {
        InitError::Transport(e)
    }
}

/// Runs steps 1 to 6 of the device initialisation (3.1.1) and returns the
/// negotiated features. The caller then sets up its queues (step 7) and
/// calls [`Transport::set_status`] with DRIVER_OK (step 8).
///
/// `wanted` is every feature the driver can use, `required` the subset it
/// cannot do without. VERSION_1 is added for modern transports.
pub fn init_device<T: Transport>(t: &mut T, wanted: u64, required: u64) -> Result<u64, InitError> {
    // 1. Reset the device.
    t.reset()?;
    // 2. Set the ACKNOWLEDGE status bit: the guest OS has noticed the device.
    let mut s = status::ACKNOWLEDGE;
    t.set_status(s);
    // 3. Set the DRIVER status bit: the guest OS knows how to drive the device.
    s |= status::DRIVER;
    t.set_status(s);
    // 4. Read device feature bits, and write the subset of feature bits
    //    understood by the OS and driver to the device.
    let offered = t.device_features();
    let modern = t.kind() == TransportKind::Modern;
    let (wanted, required) = if modern {
        (wanted | feature::VERSION_1, required | feature::VERSION_1)
    } else {
        // The legacy interface has 32 feature bits and no VERSION_1.
        (wanted & 0xffff_ffff, required & 0xffff_ffff)
    };
    if modern && offered & feature::VERSION_1 == 0 {
        t.set_status(s | status::FAILED);
        return Err(InitError::NoVersion1);
    }
    let missing = required & !offered;
    if missing != 0 {
        t.set_status(s | status::FAILED);
        return Err(InitError::MissingFeature(missing));
    }
    let accepted = offered & wanted;
    t.set_driver_features(accepted);
    if modern {
        // 5. Set the FEATURES_OK status bit. The driver MUST NOT accept new
        //    feature bits after this step.
        s |= status::FEATURES_OK;
        t.set_status(s);
        // 6. Re-read device status to ensure the FEATURES_OK bit is still
        //    set: otherwise, the device does not support our subset of
        //    features and the device is unusable.
        if t.status() & status::FEATURES_OK == 0 {
            t.set_status(s | status::FAILED);
            return Err(InitError::FeaturesRejected);
        }
    }
    // (Legacy devices have no FEATURES_OK: 3.1.2 skips steps 5 and 6.)
    Ok(accepted)
}

/// Step 8 of 3.1.1: set DRIVER_OK, the device is "live".
pub fn driver_ok<T: Transport>(t: &mut T) {
    let s = t.status();
    t.set_status(s | status::DRIVER_OK);
}
