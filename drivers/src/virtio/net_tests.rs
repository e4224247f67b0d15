//! Host tests of the virtio-net driver against the rust-vmm device model.

use super::super::model::{legacy_net, modern_net, pci_config, Device, Guest, BDF};
use super::super::queue::VIRTQ_AVAIL_F_NO_INTERRUPT;
use super::super::{feature, probe, status, DeviceType, TransportKind};
use super::*;
use crate::pci::command;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

/// An ARP request "who has 192.168.10.1? tell 192.168.10.2" from
/// 52:54:00:00:00:02, laid out per RFC 826 (the frame the QEMU test sends).
const ARP_REQUEST: [u8; 42] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x00, 0x00, 0x02, 0x08,
    0x06, // Ethernet
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00,
    0x01, // htype 1, ptype IPv4, hlen 6, plen 4, request
    0x52, 0x54, 0x00, 0x00, 0x00, 0x02, 192, 168, 10, 2, // sender
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 10, 1, // target
];

/// A frame whose bytes identify `seq` and whose length varies with it.
fn frame(seq: u32) -> Vec<u8> {
    let len = 60 + (seq as usize * 37) % (MAX_TX_FRAME - 59);
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i as u32 ^ seq.wrapping_mul(2_654_435_761)) as u8)
        .collect();
    f[..4].copy_from_slice(&seq.to_be_bytes());
    f
}

fn buf_with(pool: &mut PacketPool, bytes: &[u8]) -> PacketBuf {
    let mut b = pool.alloc().unwrap();
    assert!(b.set_len(bytes.len()));
    b.data_mut().copy_from_slice(bytes);
    b
}

fn burst_of(pool: &mut PacketPool, frames: &[Vec<u8>]) -> Burst {
    let mut burst = Burst::new();
    for f in frames {
        burst.push(buf_with(pool, f)).unwrap();
    }
    burst
}

/// Every buffer back in the pool once the driver lets go of its own.
fn assert_all_back<T: Transport>(net: &mut VirtioNet<T>, pool: &mut PacketPool) {
    net.release_all(pool);
    assert_eq!(pool.available(), pool.capacity());
}

fn modern(
    pool_bufs: usize,
) -> (
    Guest,
    PacketPool,
    Rc<RefCell<Device>>,
    VirtioNet<ModernTransport<ModelRegs>>,
) {
    let mut g = Guest::new(pool_bufs * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = modern_net(&g);
    let net = VirtioNet::new(t, &mut g.dma, &mut pool).unwrap();
    (g, pool, dev, net)
}

use super::super::model::ModelRegs;
use super::super::{ModernTransport, TransportError};
use crate::buf::BURST;

#[test]
fn bring_up_follows_3_1_1_and_negotiates_only_what_the_driver_implements() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let d = dev.borrow();
    assert_eq!(
        d.driver_features,
        feature::VERSION_1 | feature::NET_MAC | feature::NET_STATUS
    );
    let s = &d.status_writes;
    assert_eq!(s[0], 0, "reset first");
    assert_eq!(
        &s[1..],
        &[
            1,
            3,
            3 | status::FEATURES_OK,
            3 | status::FEATURES_OK | status::DRIVER_OK
        ]
    );
    assert_eq!(d.avail_flags(0), VIRTQ_AVAIL_F_NO_INTERRUPT);
    assert_eq!(d.avail_flags(1), VIRTQ_AVAIL_F_NO_INTERRUPT);
    drop(d);
    assert_eq!(net.mac(), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    assert_eq!(net.ring_sizes(), (MAX_QUEUE_SIZE, MAX_QUEUE_SIZE));
    assert_eq!(net.header_len(), 12);
    assert!(net.link_up());
    // The rx ring is full, one doorbell for the fill.
    assert_eq!(dev.borrow().rx_posted(), MAX_QUEUE_SIZE);
    assert_eq!(dev.borrow().notifies[0], 1);
    assert_eq!(pool.available(), 600 - 256);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn transport_setup_enables_decoding_and_bus_mastering_with_intx_off() {
    let g = Guest::new(BUF_SIZE * 4);
    let cfg = pci_config(0x1041, true, false);
    let dev = modern_net(&g).0;
    let t = ModernTransport::new(&cfg, BDF, |_, _| Some(ModelRegs(dev.clone())));
    assert!(t.is_ok());
    let cmd = crate::pci::read16(&cfg, BDF, crate::pci::reg::COMMAND_STATUS);
    assert_eq!(
        cmd,
        command::MEMORY_SPACE | command::BUS_MASTER | command::INTERRUPT_DISABLE
    );
    // No capabilities: the modern transport refuses.
    let cfg = pci_config(0x1000, false, true);
    assert!(matches!(
        ModernTransport::new(&cfg, BDF, |_, _| Some(ModelRegs(dev.clone()))),
        Err(TransportError::NoCommonCfg)
    ));
}

#[test]
fn probe_tells_device_type_and_transport() {
    let p = |id, m, l| probe(&pci_config(id, m, l), BDF).map(|f| (f.device, f.transport));
    assert_eq!(
        p(0x1041, true, false),
        Some((DeviceType::Net, TransportKind::Modern))
    );
    assert_eq!(
        p(0x1000, true, true),
        Some((DeviceType::Net, TransportKind::Modern))
    );
    assert_eq!(
        p(0x1000, false, true),
        Some((DeviceType::Net, TransportKind::Legacy))
    );
    assert_eq!(
        p(0x1044, true, false),
        Some((DeviceType::Rng, TransportKind::Modern))
    );
    assert_eq!(
        p(0x1005, false, true),
        Some((DeviceType::Rng, TransportKind::Legacy))
    );
    assert_eq!(p(0x1042, true, false), None, "virtio-blk is not ours");
    assert_eq!(p(0x1041, false, false), None, "modern id without caps");
}

#[test]
fn sent_frames_arrive_intact_with_one_doorbell_per_burst() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let frames: Vec<Vec<u8>> = core::iter::once(ARP_REQUEST.to_vec())
        .chain((1..20).map(frame))
        .collect();
    let mut burst = burst_of(&mut pool, &frames);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 20);
    assert!(burst.is_empty());
    assert_eq!(dev.borrow().notifies[1], 1);
    assert_eq!(dev.borrow_mut().take_tx(), frames);
    let s = net.stats();
    assert_eq!(s.tx_packets, 20);
    assert_eq!(
        s.tx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    // Completed buffers come back on the next call.
    net.maintain(&mut pool);
    assert_eq!(pool.available(), 600 - 256);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn a_device_that_is_polling_gets_no_doorbell() {
    let (_g, mut pool, dev, mut net) = modern(600);
    dev.borrow_mut().suppress_notify(1, true);
    let mut burst = burst_of(&mut pool, &[frame(1), frame(2)]);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 2);
    assert_eq!(dev.borrow().notifies[1], 0);
    dev.borrow_mut().suppress_notify(1, false);
    let mut burst = burst_of(&mut pool, &[frame(3)]);
    net.tx_burst(&mut pool, &mut burst);
    assert_eq!(dev.borrow().notifies[1], 1);
    assert_eq!(
        dev.borrow_mut().take_tx(),
        vec![frame(1), frame(2), frame(3)]
    );
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn received_frames_come_out_intact_and_the_ring_stays_full() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let frames: Vec<Vec<u8>> = core::iter::once(ARP_REQUEST.to_vec())
        .chain((1..40).map(frame))
        .collect();
    for f in &frames {
        assert!(dev.borrow_mut().inject_rx(f));
    }
    let mut got = Vec::new();
    let mut out = Burst::new();
    assert_eq!(net.rx_burst(&mut pool, &mut out), BURST);
    for b in out.iter() {
        assert_eq!(b.start(), HEADROOM);
        got.push(b.data().to_vec());
    }
    out.free_all(&mut pool);
    assert_eq!(net.rx_burst(&mut pool, &mut out), 8);
    got.extend(out.iter().map(|b| b.data().to_vec()));
    out.free_all(&mut pool);
    assert_eq!(got, frames);
    assert_eq!(net.stats().rx_packets, 40);
    assert_eq!(dev.borrow().rx_posted(), MAX_QUEUE_SIZE);
    assert_all_back(&mut net, &mut pool);
}

/// Pushes `n` frames each way through the driver in bursts, draining as the
/// poll loop would, and checks order and content.
fn wrap_around<T: Transport>(
    dev: &Rc<RefCell<Device>>,
    net: &mut VirtioNet<T>,
    pool: &mut PacketPool,
    n: u32,
) {
    let mut sent = 0u32;
    let mut seen_tx = 0u32;
    let mut seen_rx = 0u32;
    let mut out = Burst::new();
    let (rx_ring, tx_ring) = net.ring_sizes();
    let per_rx = (rx_ring as u32).min(20);
    while seen_tx < n || seen_rx < n {
        // Transmit a burst of up to 32 (or the ring) and let the device take it.
        let k = (n - sent).min(BURST as u32).min(tx_ring as u32);
        let frames: Vec<Vec<u8>> = (sent..sent + k).map(frame).collect();
        let mut burst = burst_of(pool, &frames);
        assert_eq!(net.tx_burst(pool, &mut burst), k as usize);
        sent += k;
        for f in dev.borrow_mut().take_tx() {
            assert_eq!(f, frame(seen_tx));
            seen_tx += 1;
        }
        // The device delivers up to 20 frames; the driver reads them back.
        let mut injected = 0;
        while injected < per_rx && seen_rx + injected < n {
            assert!(dev
                .borrow_mut()
                .inject_rx(&frame(seen_rx + injected + 100_000)));
            injected += 1;
        }
        let mut got = 0;
        while got < injected {
            let m = net.rx_burst(pool, &mut out) as u32;
            assert!(m > 0);
            for b in out.iter() {
                assert_eq!(b.data(), &frame(seen_rx + 100_000)[..]);
                seen_rx += 1;
            }
            out.free_all(pool);
            got += m;
        }
    }
    assert_eq!(net.stats().tx_packets, n as u64);
    assert_eq!(net.stats().rx_packets, n as u64);
    assert_eq!(net.stats().tx_ring_full + net.stats().rx_no_buffer, 0);
}

#[test]
fn rings_wrap_around_over_thousands_of_frames_modern() {
    let (_g, mut pool, dev, mut net) = modern(600);
    wrap_around(&dev, &mut net, &mut pool, 5000);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn rings_wrap_around_over_thousands_of_frames_legacy() {
    let mut g = Guest::new(300 * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = legacy_net(&g, 64, true);
    let mut net = VirtioNet::new(t, &mut g.dma, &mut pool).unwrap();
    assert_eq!(net.header_len(), 10);
    assert_eq!(net.ring_sizes(), (64, 64));
    assert_eq!(net.mac(), [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    assert_eq!(
        dev.borrow().driver_features,
        feature::NET_MAC | feature::NET_STATUS | feature::ANY_LAYOUT
    );
    // Legacy has no FEATURES_OK step.
    assert_eq!(&dev.borrow().status_writes[..], &[0, 1, 3, 7]);
    wrap_around(&dev, &mut net, &mut pool, 5000);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn the_16_bit_ring_indices_wrap_too() {
    let mut g = Guest::new(100 * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = legacy_net(&g, 16, true);
    let mut net = VirtioNet::new(t, &mut g.dma, &mut pool).unwrap();
    wrap_around(&dev, &mut net, &mut pool, 70_000);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn a_full_tx_ring_pushes_back_without_losing_or_duplicating() {
    let (_g, mut pool, dev, mut net) = modern(700);
    let mut next = 0u32;
    let mut queued = 0usize;
    // 8 bursts of 32 fill the 256-entry ring; the 9th only partly fits... not at all.
    for _ in 0..9 {
        let frames: Vec<Vec<u8>> = (next..next + 32).map(frame).collect();
        let mut burst = burst_of(&mut pool, &frames);
        let q = net.tx_burst(&mut pool, &mut burst);
        queued += q;
        next += q as u32;
        // What did not fit stays in the burst, in order; the caller drops it.
        let left: Vec<Vec<u8>> = burst.iter().map(|b| b.data().to_vec()).collect();
        assert_eq!(left, frames[q..]);
        burst.free_all(&mut pool);
    }
    assert_eq!(queued, 256);
    assert_eq!(net.stats().tx_ring_full, 32);
    // Half a burst fits after the device completes some: use a new offer of 32.
    let drained = dev.borrow_mut().take_tx();
    assert_eq!(drained, (0..256).map(frame).collect::<Vec<_>>());
    let frames: Vec<Vec<u8>> = (next..next + 32).map(frame).collect();
    let mut burst = burst_of(&mut pool, &frames);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 32);
    assert_eq!(dev.borrow_mut().take_tx(), frames);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn bad_rx_lengths_are_counted_and_the_buffer_recycled() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let posted = (BUF_SIZE - HEADROOM + 12) as u32;
    {
        let mut d = dev.borrow_mut();
        // A frame longer than the buffer: the device reports more than fits.
        assert!(d.inject_rx_len(&vec![0xee; 2000], Some(12 + 2000)));
        assert!(d.inject_rx_len(&[0; 4], Some(posted + 1)));
        // A runt: shorter than header + Ethernet header.
        assert!(d.inject_rx_len(&ARP_REQUEST[..13], None));
        assert!(d.inject_rx(&ARP_REQUEST));
    }
    let mut out = Burst::new();
    assert_eq!(net.rx_burst(&mut pool, &mut out), 1);
    assert_eq!(out.get(0).unwrap().data(), &ARP_REQUEST[..]);
    out.free_all(&mut pool);
    let s = *net.stats();
    assert_eq!((s.rx_too_long, s.rx_runts, s.rx_packets), (2, 1, 1));
    assert_eq!(dev.borrow().rx_posted(), MAX_QUEUE_SIZE);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn bad_tx_frames_are_dropped_and_counted() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let mut burst = Burst::new();
    burst.push(pool.alloc().unwrap()).unwrap(); // empty
    burst
        .push(buf_with(&mut pool, &vec![1; MAX_TX_FRAME + 1]))
        .unwrap();
    burst.push(buf_with(&mut pool, &ARP_REQUEST)).unwrap();
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 1);
    assert!(burst.is_empty());
    assert_eq!(net.stats().tx_bad_frame, 2);
    assert_eq!(dev.borrow_mut().take_tx(), vec![ARP_REQUEST.to_vec()]);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn an_empty_pool_is_a_counted_drop_and_the_ring_is_refilled_later() {
    let (_g, mut pool, dev, mut net) = modern(100);
    // 100 buffers for a 256-entry ring: 156 slots stay empty, counted once.
    assert_eq!(dev.borrow().rx_posted(), 100);
    assert_eq!(net.stats().rx_no_buffer, 156);
    net.maintain(&mut pool);
    assert_eq!(net.stats().rx_no_buffer, 156, "retries are not new drops");
    for i in 0..10 {
        assert!(dev.borrow_mut().inject_rx(&frame(i)));
    }
    let mut out = Burst::new();
    assert_eq!(net.rx_burst(&mut pool, &mut out), 10);
    // The caller holds all 10: the vacated slots cannot be refilled.
    assert_eq!(dev.borrow().rx_posted(), 90);
    assert_eq!(net.stats().rx_no_buffer, 166);
    out.free_all(&mut pool);
    net.maintain(&mut pool);
    assert_eq!(dev.borrow().rx_posted(), 100);
    assert_eq!(net.stats().rx_no_buffer, 166);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn a_device_refusing_the_features_is_an_error_not_a_panic() {
    let mut g = Guest::new(64 * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = modern_net(&g);
    dev.borrow_mut().refuse_features = true;
    let r = VirtioNet::new(t, &mut g.dma, &mut pool);
    assert_eq!(r.err(), Some(InitError::FeaturesRejected));
    assert_ne!(dev.borrow().status & status::FAILED, 0);
    assert_eq!(pool.available(), pool.capacity());

    let (dev, t) = modern_net(&g);
    dev.borrow_mut().offered &= !feature::NET_MAC;
    let r = VirtioNet::new(t, &mut g.dma, &mut pool);
    assert_eq!(r.err(), Some(InitError::MissingFeature(feature::NET_MAC)));

    let (dev, t) = modern_net(&g);
    dev.borrow_mut().offered &= !feature::VERSION_1;
    let r = VirtioNet::new(t, &mut g.dma, &mut pool);
    assert_eq!(r.err(), Some(InitError::NoVersion1));
}

#[test]
fn device_needs_reset_is_recovered_and_every_buffer_returned() {
    let (_g, mut pool, dev, mut net) = modern(600);
    let mut burst = burst_of(&mut pool, &[frame(1), frame(2), frame(3)]);
    net.tx_burst(&mut pool, &mut burst);
    dev.borrow_mut().status |= status::DEVICE_NEEDS_RESET;
    // Nothing happens on the data path; maintain notices.
    assert_eq!(net.check(&mut pool), Some(Event::Recovered));
    assert_eq!(net.stats().resets, 1);
    assert_eq!(dev.borrow().status & status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(
        pool.available(),
        600 - 256,
        "in-flight tx buffers came back"
    );
    // And it works again.
    assert_eq!(dev.borrow_mut().take_tx(), Vec::<Vec<u8>>::new());
    let mut burst = burst_of(&mut pool, &[frame(4)]);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 1);
    assert_eq!(dev.borrow_mut().take_tx(), vec![frame(4)]);
    assert!(dev.borrow_mut().inject_rx(&frame(5)));
    let mut out = Burst::new();
    assert_eq!(net.rx_burst(&mut pool, &mut out), 1);
    out.free_all(&mut pool);

    // A failed recovery leaves the port down and is retried.
    dev.borrow_mut().status |= status::DEVICE_NEEDS_RESET;
    dev.borrow_mut().refuse_features = true;
    let ev = net.check(&mut pool);
    assert_eq!(ev, Some(Event::RecoveryFailed(InitError::FeaturesRejected)));
    assert_eq!(
        ev.unwrap().to_string(),
        "device needed a reset; re-initialisation failed: device refused the features (FEATURES_OK cleared)"
    );
    assert!(!net.is_running());
    assert_eq!(pool.available(), pool.capacity());
    let mut burst = burst_of(&mut pool, &[frame(6)]);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 0);
    burst.free_all(&mut pool);
    dev.borrow_mut().refuse_features = false;
    assert_eq!(net.check(&mut pool), Some(Event::Recovered));
    assert_eq!(net.stats().resets, 3);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn link_changes_are_reported_and_counted() {
    let (_g, mut pool, dev, mut net) = modern(600);
    assert_eq!(net.check(&mut pool), None);
    dev.borrow_mut().config[6] = 0;
    assert_eq!(net.check(&mut pool), Some(Event::LinkDown));
    assert_eq!(net.stats().link_downs, 1);
    dev.borrow_mut().config[6] = 1;
    assert_eq!(net.check(&mut pool), Some(Event::LinkUp));
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn legacy_device_must_get_its_own_queue_size() {
    let mut g = Guest::new(600 * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = legacy_net(&g, 2048, true);
    // 2048 is above what the driver supports, and legacy cannot shrink it.
    let r = VirtioNet::new(t, &mut g.dma, &mut pool);
    assert_eq!(r.err(), Some(InitError::QueueTooLarge(0)));
    assert_ne!(dev.borrow().status & status::FAILED, 0);
    // 512 is the device's size and is used as is.
    let (_dev, t) = legacy_net(&g, 512, true);
    let mut net = VirtioNet::new(t, &mut g.dma, &mut pool).unwrap();
    assert_eq!(net.ring_sizes(), (512, 512));
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn a_released_driver_stays_down() {
    let (_g, mut pool, dev, mut net) = modern(600);
    net.release_all(&mut pool);
    assert_eq!(dev.borrow().status, 0, "device reset so it stops DMA");
    assert_eq!(net.check(&mut pool), None);
    assert!(!net.is_running());
    let mut out = Burst::new();
    assert_eq!(net.rx_burst(&mut pool, &mut out), 0);
    assert_eq!(pool.available(), pool.capacity());
}

#[test]
fn a_legacy_device_without_any_layout_gets_the_header_in_its_own_descriptor() {
    let mut g = Guest::new(300 * BUF_SIZE);
    let mut pool = g.pool();
    let (dev, t) = legacy_net(&g, 64, false);
    let mut net = VirtioNet::new(t, &mut g.dma, &mut pool).unwrap();
    assert_eq!(dev.borrow().driver_features & feature::ANY_LAYOUT, 0);
    // Two descriptors per rx buffer: 32 buffers fill the 64-entry ring.
    assert_eq!(dev.borrow().rx_posted(), 32);
    // A full tx ring holds 32 frames.
    let frames: Vec<Vec<u8>> = (0..33).map(frame).collect();
    let mut burst = burst_of(&mut pool, &frames[..32]);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 32);
    let mut burst = burst_of(&mut pool, &frames[32..]);
    assert_eq!(net.tx_burst(&mut pool, &mut burst), 0);
    burst.free_all(&mut pool);
    assert_eq!(dev.borrow_mut().take_tx(), frames[..32]);
    assert_eq!(net.stats().tx_ring_full, 1);
    // The model checks the framing on every frame of a long run.
    net.reset_stats();
    wrap_around(&dev, &mut net, &mut pool, 3000);
    assert_all_back(&mut net, &mut pool);
}

#[test]
fn one_driver_type_serves_both_transports_through_any_transport() {
    use super::super::model::{ModelRegs, BDF};
    use super::super::{open, AnyTransport};
    let mut g = Guest::new(600 * BUF_SIZE);
    let mut pool = g.pool();
    let mut ports: Vec<VirtioNet<AnyTransport<ModelRegs, ModelRegs>>> = Vec::new();
    let mut devs = Vec::new();
    for (id, modern, legacy) in [(0x1041, true, false), (0x1000, false, true)] {
        let cfg = pci_config(id, modern, legacy);
        let f = probe(&cfg, BDF).unwrap();
        let dev = if modern {
            modern_net(&g).0
        } else {
            legacy_net(&g, 64, true).0
        };
        let t = open(
            &cfg,
            &f,
            |_, _| Some(ModelRegs(dev.clone())),
            |_, _| Some(ModelRegs(dev.clone())),
        )
        .unwrap();
        ports.push(VirtioNet::new(t, &mut g.dma, &mut pool).unwrap());
        devs.push(dev);
    }
    assert_eq!(ports[0].transport_kind(), TransportKind::Modern);
    assert_eq!(ports[1].transport_kind(), TransportKind::Legacy);
    for (net, dev) in ports.iter_mut().zip(&devs) {
        let mut burst = burst_of(&mut pool, &[ARP_REQUEST.to_vec()]);
        assert_eq!(net.tx_burst(&mut pool, &mut burst), 1);
        assert_eq!(dev.borrow_mut().take_tx(), vec![ARP_REQUEST.to_vec()]);
    }
    for net in ports.iter_mut() {
        net.release_all(&mut pool);
    }
    assert_eq!(pool.available(), pool.capacity());
}
