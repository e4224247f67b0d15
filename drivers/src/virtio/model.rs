//! Test-only virtio device models on rust-vmm's `virtio-queue` and `vm-memory`.
//!
//! The guest side (the driver under test) and the device side share one
//! `GuestMemoryMmap`: the driver's [`DmaRegion`]s have the mmap's host address
//! as `virt` and the guest address as `phys`, exactly as the kernel has CPU and
//! bus addresses. The device model implements [`Regs`] for the register
//! windows of both transports (the modern BAR with common, ISR, device and
//! notify structures, and the legacy I/O block), and when the driver enables a
//! queue it configures a device-side `virtio_queue::Queue` with the addresses
//! the driver wrote. Tests then play the device by hand: take what the driver
//! transmitted, inject received frames, report odd lengths, fail.

use super::{status, LegacyTransport, ModernTransport};
use crate::buf::PacketPool;
use crate::hal::{DmaRegion, Regs};
use crate::pci::fake::{FakeConfig, FakeFunction};
use crate::pci::{Bdf, CAP_VENDOR};
use core::ptr::NonNull;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// Guest address of the shared memory.
pub const GUEST_BASE: u64 = 0x10_0000;
/// Bytes reserved for rings and small DMA buffers.
const RING_MEM: usize = 256 * 1024;
/// Where the model's fake function sits.
pub const BDF: Bdf = Bdf {
    bus: 0,
    dev: 3,
    func: 0,
};

/// Memory shared by driver and device model.
pub struct Guest {
    /// The device's view.
    pub mem: GuestMemoryMmap,
    /// Bump allocator for rings (`DmaAlloc`).
    pub dma: DmaRegion,
    pool_region: DmaRegion,
}

impl Guest {
    /// Guest memory with `pool_bytes` for packet buffers after the ring area.
    pub fn new(pool_bytes: usize) -> Guest {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(
            GuestAddress(GUEST_BASE),
            RING_MEM + pool_bytes,
        )])
        .unwrap();
        let region = |gpa: u64, len: usize| DmaRegion {
            virt: NonNull::new(mem.get_host_address(GuestAddress(gpa)).unwrap()).unwrap(),
            phys: gpa,
            len,
        };
        Guest {
            dma: region(GUEST_BASE, RING_MEM),
            pool_region: region(GUEST_BASE + RING_MEM as u64, pool_bytes),
            mem,
        }
    }
    /// A packet pool over the buffer area.
    pub fn pool(&self) -> PacketPool {
        PacketPool::new(self.pool_region)
    }
}

/// Modern BAR layout of the model (the one QEMU uses, in BAR 4).
mod bar {
    pub const COMMON: usize = 0x0000;
    pub const ISR: usize = 0x1000;
    pub const DEVICE: usize = 0x2000;
    pub const NOTIFY: usize = 0x3000;
    pub const NOTIFY_MULT: u32 = 4;
}

/// A virtio device as seen from its side of the rings.
pub struct Device {
    mem: GuestMemoryMmap,
    /// Legacy register block instead of the modern BAR.
    pub legacy: bool,
    /// Features the device offers.
    pub offered: u64,
    /// Features the driver wrote.
    pub driver_features: u64,
    dfsel: u32,
    gfsel: u32,
    /// Device status.
    pub status: u8,
    /// Every status value the driver wrote.
    pub status_writes: Vec<u8>,
    /// Clear FEATURES_OK when the driver sets it.
    pub refuse_features: bool,
    qsel: u16,
    /// Device-side queues.
    pub queues: Vec<Queue>,
    /// Device configuration bytes.
    pub config: [u8; 16],
    /// Configuration generation.
    pub generation: u8,
    /// Doorbells per queue.
    pub notifies: Vec<u32>,
    /// Serve entropy requests as soon as they are notified.
    pub rng: bool,
    /// Leave entropy requests unanswered.
    pub rng_silent: bool,
}

impl Device {
    fn new(mem: &GuestMemoryMmap, legacy: bool, offered: u64, queues: usize, max: u16) -> Device {
        Device {
            mem: mem.clone(),
            legacy,
            offered,
            driver_features: 0,
            dfsel: 0,
            gfsel: 0,
            status: 0,
            status_writes: Vec::new(),
            refuse_features: false,
            qsel: 0,
            queues: (0..queues).map(|_| Queue::new(max).unwrap()).collect(),
            config: [0; 16],
            generation: 0,
            notifies: vec![0; queues],
            rng: false,
            rng_silent: false,
        }
    }

    fn q(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.qsel as usize)
    }

    fn set_status(&mut self, v: u8) {
        self.status_writes.push(v);
        if v == 0 {
            self.status = 0;
            self.driver_features = 0;
            self.queues.iter_mut().for_each(|q| q.reset());
            return;
        }
        self.status = if self.refuse_features {
            v & !status::FEATURES_OK
        } else {
            v
        };
    }

    fn config_read(&self, off: usize, width: usize) -> u32 {
        (0..width).fold(0, |acc, i| {
            acc | (*self.config.get(off + i).unwrap_or(&0) as u32) << (8 * i)
        })
    }

    fn notify(&mut self, q: u32) {
        assert_ne!(
            self.status & status::DRIVER_OK,
            0,
            "no notifications before DRIVER_OK (3.1.1)"
        );
        if let Some(n) = self.notifies.get_mut(q as usize) {
            *n += 1;
        }
        if self.rng && !self.rng_silent {
            self.serve_rng();
        }
    }

    fn read(&mut self, off: usize, width: usize) -> u32 {
        if self.legacy {
            return match off {
                0x00 => self.offered as u32,
                0x04 => self.driver_features as u32,
                0x08 => self.q().map_or(0, |q| (q.desc_table() >> 12) as u32),
                0x0c => self.q().map_or(0, |q| q.max_size() as u32),
                0x0e => self.qsel as u32,
                0x12 => self.status as u32,
                0x13 => 0,
                o if o >= 0x14 => self.config_read(o - 0x14, width),
                _ => 0,
            };
        }
        match off {
            0x00 => self.dfsel,
            0x04 if self.dfsel < 2 => (self.offered >> (32 * self.dfsel)) as u32,
            0x08 => self.gfsel,
            0x0c if self.gfsel < 2 => (self.driver_features >> (32 * self.gfsel)) as u32,
            0x12 => self.queues.len() as u32,
            0x14 => self.status as u32,
            0x15 => self.generation as u32,
            0x16 => self.qsel as u32,
            0x18 => self.q().map_or(0, |q| q.size() as u32),
            0x1c => self.q().map_or(0, |q| q.ready() as u32),
            0x1e => self.qsel as u32,
            0x20 | 0x24 => self
                .q()
                .map_or(0, |q| (q.desc_table() >> (8 * (off - 0x20))) as u32),
            0x28 | 0x2c => self
                .q()
                .map_or(0, |q| (q.avail_ring() >> (8 * (off - 0x28))) as u32),
            0x30 | 0x34 => self
                .q()
                .map_or(0, |q| (q.used_ring() >> (8 * (off - 0x30))) as u32),
            bar::ISR => 0,
            o if (bar::DEVICE..bar::NOTIFY).contains(&o) => {
                self.config_read(o - bar::DEVICE, width)
            }
            _ => 0,
        }
    }

    fn write(&mut self, off: usize, v: u32) {
        if self.legacy {
            match off {
                0x04 => self.driver_features = v as u64,
                0x08 => {
                    let Some(q) = self.q() else { return };
                    if v == 0 {
                        q.reset();
                        return;
                    }
                    let n = q.max_size() as u64;
                    let desc = (v as u64) << 12;
                    let avail = desc + 16 * n;
                    let used = (avail + 6 + 2 * n).next_multiple_of(4096);
                    q.set_desc_table_address(Some(desc as u32), Some((desc >> 32) as u32));
                    q.set_avail_ring_address(Some(avail as u32), Some((avail >> 32) as u32));
                    q.set_used_ring_address(Some(used as u32), Some((used >> 32) as u32));
                    q.set_ready(true);
                }
                0x0e => self.qsel = v as u16,
                0x10 => self.notify(v),
                0x12 => self.set_status(v as u8),
                _ => {}
            }
            return;
        }
        match off {
            0x00 => self.dfsel = v,
            0x08 => self.gfsel = v,
            0x0c if self.gfsel < 2 => {
                let shift = 32 * self.gfsel;
                self.driver_features =
                    (self.driver_features & !(0xffff_ffffu64 << shift)) | (v as u64) << shift;
            }
            0x14 => self.set_status(v as u8),
            0x16 => self.qsel = v as u16,
            0x18 => self.q().into_iter().for_each(|q| q.set_size(v as u16)),
            0x1c => self.q().into_iter().for_each(|q| q.set_ready(v == 1)),
            0x20 => self
                .q()
                .into_iter()
                .for_each(|q| q.set_desc_table_address(Some(v), None)),
            0x24 => self
                .q()
                .into_iter()
                .for_each(|q| q.set_desc_table_address(None, Some(v))),
            0x28 => self
                .q()
                .into_iter()
                .for_each(|q| q.set_avail_ring_address(Some(v), None)),
            0x2c => self
                .q()
                .into_iter()
                .for_each(|q| q.set_avail_ring_address(None, Some(v))),
            0x30 => self
                .q()
                .into_iter()
                .for_each(|q| q.set_used_ring_address(Some(v), None)),
            0x34 => self
                .q()
                .into_iter()
                .for_each(|q| q.set_used_ring_address(None, Some(v))),
            o if o >= bar::NOTIFY => {
                let q = ((o - bar::NOTIFY) as u32) / bar::NOTIFY_MULT;
                assert_eq!(q, v, "notify value must be the queue index");
                self.notify(q)
            }
            _ => {}
        }
    }

    /// True when the driver must put the header in its own descriptor.
    fn header_apart(&self) -> bool {
        self.legacy && self.driver_features & super::feature::ANY_LAYOUT == 0
    }

    /// The virtio_net_hdr length the driver should be using.
    pub fn net_hdr_len(&self) -> usize {
        if self.legacy {
            10
        } else {
            12
        }
    }

    /// Takes every frame the driver made available on the tx queue, checking
    /// the header is all zeroes and stripping it, and completes them.
    pub fn take_tx(&mut self) -> Vec<Vec<u8>> {
        let hdr = self.net_hdr_len();
        let apart = self.header_apart();
        let mut frames = Vec::new();
        let mem = self.mem.clone();
        let q = &mut self.queues[1];
        assert!(q.is_valid(&mem));
        while let Some(chain) = q.pop_descriptor_chain(&mem) {
            let head = chain.head_index();
            let mut bytes = Vec::new();
            for (i, d) in chain.enumerate() {
                assert!(!d.is_write_only(), "tx descriptors are device-readable");
                assert!(!apart || i > 0 || d.len() as usize == hdr, "header apart");
                let mut b = vec![0u8; d.len() as usize];
                mem.read_slice(&mut b, d.addr()).unwrap();
                bytes.extend_from_slice(&b);
            }
            assert!(bytes.len() >= hdr);
            assert!(
                bytes[..hdr].iter().all(|&b| b == 0),
                "tx header must be zero"
            );
            frames.push(bytes[hdr..].to_vec());
            q.add_used(&mem, head, 0).unwrap();
        }
        frames
    }

    /// Receive buffers the driver has made available and the device not used.
    pub fn rx_posted(&self) -> u16 {
        let q = &self.queues[0];
        q.avail_idx(&self.mem, std::sync::atomic::Ordering::Acquire)
            .map_or(0, |a| (a - std::num::Wrapping(q.next_avail())).0)
    }

    /// Delivers `frame` into the next rx buffer, reporting `reported` bytes
    /// used (header included) or the true length when `None`. False when the
    /// driver left no buffer.
    pub fn inject_rx_len(&mut self, frame: &[u8], reported: Option<u32>) -> bool {
        let hdr = self.net_hdr_len();
        let legacy = self.legacy;
        let apart = self.header_apart();
        let mem = self.mem.clone();
        let q = &mut self.queues[0];
        let Some(chain) = q.pop_descriptor_chain(&mem) else {
            return false;
        };
        let head = chain.head_index();
        let mut bytes = vec![0u8; hdr];
        if !legacy {
            // num_buffers = 1 (5.1.6.4).
            bytes[10] = 1;
        }
        bytes.extend_from_slice(frame);
        let mut done = 0;
        let mut n = 0;
        for d in chain {
            assert!(d.is_write_only(), "rx descriptors are device-writable");
            assert!(!apart || n > 0 || d.len() as usize == hdr, "header apart");
            let fit = (bytes.len() - done).min(d.len() as usize);
            mem.write_slice(&bytes[done..done + fit], d.addr()).unwrap();
            done += fit;
            n += 1;
        }
        assert_eq!(n, if apart { 2 } else { 1 }, "descriptors per rx buffer");
        q.add_used(&mem, head, reported.unwrap_or(done as u32))
            .unwrap();
        true
    }

    /// Delivers `frame` into the next rx buffer.
    pub fn inject_rx(&mut self, frame: &[u8]) -> bool {
        self.inject_rx_len(frame, None)
    }

    /// Answers one entropy request with bytes `i ^ 0xa5`.
    pub fn serve_rng(&mut self) {
        let mem = self.mem.clone();
        let q = &mut self.queues[0];
        while let Some(mut chain) = q.pop_descriptor_chain(&mem) {
            let head = chain.head_index();
            let d = chain.next().unwrap();
            assert!(d.is_write_only());
            let bytes: Vec<u8> = (0..d.len()).map(|i| i as u8 ^ 0xa5).collect();
            mem.write_slice(&bytes, d.addr()).unwrap();
            q.add_used(&mem, head, d.len()).unwrap();
        }
    }

    /// Sets or clears `VIRTQ_USED_F_NO_NOTIFY` on queue `qi`.
    pub fn suppress_notify(&mut self, qi: usize, on: bool) {
        let mem = self.mem.clone();
        if on {
            self.queues[qi].disable_notification(&mem).unwrap();
        } else {
            self.queues[qi].enable_notification(&mem).unwrap();
        }
    }

    /// Drains the avail iterator once to check the driver's avail flags.
    pub fn avail_flags(&self, qi: usize) -> u16 {
        let q = &self.queues[qi];
        self.mem
            .read_obj::<u16>(GuestAddress(q.avail_ring()))
            .unwrap()
    }
}

/// Register access to a model: what the kernel's MMIO/PIO `Regs` are to hardware.
pub struct ModelRegs(pub Rc<RefCell<Device>>);

impl Regs for ModelRegs {
    fn read8(&self, offset: usize) -> u8 {
        self.0.borrow_mut().read(offset, 1) as u8
    }
    fn read16(&self, offset: usize) -> u16 {
        self.0.borrow_mut().read(offset, 2) as u16
    }
    fn read32(&self, offset: usize) -> u32 {
        self.0.borrow_mut().read(offset, 4)
    }
    fn write8(&self, offset: usize, value: u8) {
        self.0.borrow_mut().write(offset, value as u32)
    }
    fn write16(&self, offset: usize, value: u16) {
        self.0.borrow_mut().write(offset, value as u32)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.0.borrow_mut().write(offset, value)
    }
}

/// Body of a `virtio_pci_cap` after id and next (4.1.4).
fn vcap(cfg_type: u8, offset: u32, length: u32, mult: Option<u32>) -> Vec<u8> {
    let mut b = vec![if mult.is_some() { 20 } else { 16 }, cfg_type, 4, 0, 0, 0];
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&length.to_le_bytes());
    if let Some(m) = mult {
        b.extend_from_slice(&m.to_le_bytes());
    }
    b
}

/// PCI config of a virtio function: modern caps in BAR 4, a legacy I/O BAR 0, or both.
pub fn pci_config(device_id: u16, modern: bool, legacy: bool) -> FakeConfig {
    let mut f = FakeFunction::new(0x1af4, device_id, 0x02, 0x00);
    if legacy {
        f = f.io_bar(0, 0xc000, 0x40);
    }
    if modern {
        f = f
            .mem64_bar(4, 0xfe00_0000, 0x4000, true)
            .cap(0x40, CAP_VENDOR, &vcap(1, bar::COMMON as u32, 0x38, None))
            .cap(0x54, CAP_VENDOR, &vcap(3, bar::ISR as u32, 4, None))
            .cap(0x68, CAP_VENDOR, &vcap(4, bar::DEVICE as u32, 0x100, None))
            .cap(
                0x7c,
                CAP_VENDOR,
                &vcap(2, bar::NOTIFY as u32, 0x1000, Some(bar::NOTIFY_MULT)),
            );
    }
    let cfg = FakeConfig::default();
    cfg.add(BDF, f);
    cfg
}

/// Net feature bits a QEMU device offers besides MAC/STATUS, which the driver
/// must decline: CSUM, GUEST_CSUM, MRG_RXBUF, CTRL_VQ, EVENT_IDX.
pub const NET_EXTRA: u64 = 1 | 1 << 1 | 1 << 15 | 1 << 17 | 1 << 29;

/// A modern virtio-net model (queues of up to 1024) and its transport.
pub fn modern_net(g: &Guest) -> (Rc<RefCell<Device>>, ModernTransport<ModelRegs>) {
    let offered = super::feature::VERSION_1
        | super::feature::NET_MAC
        | super::feature::NET_STATUS
        | NET_EXTRA;
    let mut d = Device::new(&g.mem, false, offered, 2, 1024);
    d.config[..6].copy_from_slice(&[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    d.config[6] = 1;
    let dev = Rc::new(RefCell::new(d));
    let cfg = pci_config(0x1041, true, false);
    let t =
        ModernTransport::new(&cfg, BDF, |i, _| (i == 4).then(|| ModelRegs(dev.clone()))).unwrap();
    (dev, t)
}

/// A legacy virtio-net model with `size`-entry queues and its transport;
/// `any_layout`: offer VIRTIO_F_ANY_LAYOUT as QEMU does.
pub fn legacy_net(
    g: &Guest,
    size: u16,
    any_layout: bool,
) -> (Rc<RefCell<Device>>, LegacyTransport<ModelRegs>) {
    let mut offered = super::feature::NET_MAC | super::feature::NET_STATUS | NET_EXTRA;
    if any_layout {
        offered |= super::feature::ANY_LAYOUT;
    }
    let mut d = Device::new(&g.mem, true, offered, 2, size);
    d.config[..6].copy_from_slice(&[0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    d.config[6] = 1;
    let dev = Rc::new(RefCell::new(d));
    let cfg = pci_config(0x1000, false, true);
    let t =
        LegacyTransport::new(&cfg, BDF, |i, _| (i == 0).then(|| ModelRegs(dev.clone()))).unwrap();
    (dev, t)
}

/// A modern virtio-rng model that answers requests when notified.
pub fn modern_rng(g: &Guest) -> (Rc<RefCell<Device>>, ModernTransport<ModelRegs>) {
    let mut d = Device::new(&g.mem, false, super::feature::VERSION_1, 1, 8);
    d.rng = true;
    let dev = Rc::new(RefCell::new(d));
    let cfg = pci_config(0x1044, true, false);
    let t =
        ModernTransport::new(&cfg, BDF, |i, _| (i == 4).then(|| ModelRegs(dev.clone()))).unwrap();
    (dev, t)
}
