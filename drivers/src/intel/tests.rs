//! Driver tests against the register-level model in `model.rs`.
//!
//! Every test runs on all three chips where the behaviour is shared, and ends
//! with `finish`, which shuts the port down and checks that every pool buffer
//! came back. Frames are Ethernet frames: an ARP request captured from QEMU
//! (see `ARP_REQUEST`) and numbered IPv4/UDP frames built by `udp_frame`.

use super::model::{DeviceModel, Faults, NoDelay};
use super::regs::{self, rctl, stat, tctl};
use super::{InitError, IntelNic, Model, RING_SIZE};
use crate::buf::{Burst, PacketPool, BUF_SIZE, BURST, HEADROOM};
use crate::hal::DmaRegion;
use crate::netdev::NetDevice;
use core::ptr::NonNull;
use std::vec::Vec;

const CHIPS: [Model; 3] = [Model::I82540Em, Model::I82545Em, Model::I82574L];
/// QEMU's default NIC address.
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// Bus address of the shared block: above 4 GiB so RDBAH/TDBAH matter.
const PHYS: u64 = 0x1_2000_0000;

/// ARP request as received by this driver on QEMU 7.2's `e1000` from the
/// user-mode network (slirp) looking for the guest: who-has 10.0.2.15 tell
/// 10.0.2.2, from 52:55:0a:00:02:02, padded by QEMU to 60 bytes (no FCS).
/// Captured with a throwaway guest that hex-dumped the first received frame
/// after a UDP packet was sent to a `hostfwd` port.
#[rustfmt::skip]
const ARP_REQUEST: [u8; 60] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, // source: slirp
    0x08, 0x06, // ethertype ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00, 0x02, 0x02, // sender 10.0.2.2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x0f, // target 10.0.2.15
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // QEMU's padding to 60
];

type Nic<'a> = IntelNic<&'a DeviceModel, NoDelay>;

/// Host memory shared by driver and model: a pool region and a ring region.
struct Rig {
    chip: Model,
    _mem: Vec<u64>,
    dev: DeviceModel,
    pool: PacketPool,
    dma: DmaRegion,
}

fn rig(chip: Model, bufs: usize) -> Rig {
    let bytes = bufs * BUF_SIZE + 64 * 1024;
    let mut mem = vec![0u64; bytes / 8];
    let virt = NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    let mut all = DmaRegion {
        virt,
        phys: PHYS,
        len: bytes,
    };
    let pool_mem = all.take(bufs * BUF_SIZE, BUF_SIZE).unwrap();
    let dev = DeviceModel::new(chip, MAC, virt.as_ptr(), PHYS, bytes);
    Rig {
        chip,
        _mem: mem,
        dev,
        pool: PacketPool::new(pool_mem),
        dma: all,
    }
}

/// Brings a driver up on the rig; returns it with the model and the pool.
fn up(r: &mut Rig) -> (Nic<'_>, &DeviceModel, &mut PacketPool) {
    let nic = IntelNic::new(r.chip, &r.dev, NoDelay::default(), &mut r.dma, &mut r.pool).unwrap();
    (nic, &r.dev, &mut r.pool)
}

/// A broadcast IPv4/UDP frame of `len` bytes whose payload starts with `seq`.
fn udp_frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xFF; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[46..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    f
}

fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[42..46].try_into().unwrap())
}

/// A burst of frames from the pool, each holding `udp_frame(seq, len)`.
fn tx_burst_of(pool: &mut PacketPool, seqs: std::ops::Range<u32>, len: usize) -> Burst {
    let mut b = Burst::new();
    for s in seqs {
        let mut buf = pool.alloc().unwrap();
        assert!(buf.set_len(len));
        buf.data_mut().copy_from_slice(&udp_frame(s, len));
        b.push(buf).unwrap();
    }
    b
}

/// Shuts the port down and checks that every buffer is back in the pool.
fn finish(mut nic: Nic<'_>, pool: &mut PacketPool) {
    nic.shutdown(pool);
    assert_eq!(nic.held_buffers(), 0);
    assert_eq!(pool.available(), pool.capacity(), "buffers leaked");
    let mut out = Burst::new();
    assert_eq!(nic.rx_burst(pool, &mut out), 0, "inert after shutdown");
}

/// Receives everything the model has delivered, in bursts, checking each
/// burst respects the limit. Returns the frames' bytes and frees the buffers.
fn drain_rx(nic: &mut Nic<'_>, pool: &mut PacketPool) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let mut out = Burst::new();
        let n = nic.rx_burst(pool, &mut out);
        assert_eq!(n, out.len());
        assert!(n <= BURST);
        for b in out.iter() {
            assert_eq!(b.start(), HEADROOM, "frame starts where the NIC wrote it");
            frames.push(b.data().to_vec());
        }
        out.free_all(pool);
        if n == 0 {
            return frames;
        }
    }
}

#[test]
fn bring_up_resets_masks_and_programs_both_rings() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (nic, dev, pool) = up(&mut r);
        assert_eq!(dev.resets(), 1, "{chip:?}: one global reset");
        assert_eq!(dev.peek(regs::IMS), 0, "poll mode: every interrupt masked");
        assert_eq!(nic.mac(), MAC);
        assert_eq!(nic.driver_name(), chip.driver_name());
        // Receive: ring above 4 GiB, 256 descriptors, 255 armed (head == tail means empty).
        let rdba = u64::from(dev.peek(regs::RDBAL)) | u64::from(dev.peek(regs::RDBAH)) << 32;
        assert!(rdba >= PHYS && rdba % 128 == 0);
        assert_eq!(dev.peek(regs::RDLEN) as usize, RING_SIZE * 16);
        assert_eq!(dev.peek(regs::RDH), 0);
        assert_eq!(dev.peek(regs::RDT) as usize, RING_SIZE - 1);
        assert_eq!(pool.available(), pool.capacity() - (RING_SIZE - 1));
        let rc = dev.peek(regs::RCTL);
        assert_eq!(
            rc & (rctl::EN | rctl::BAM | rctl::SECRC),
            rctl::EN | rctl::BAM | rctl::SECRC
        );
        assert_eq!(
            rc & (rctl::BSIZE_MASK | rctl::BSEX | rctl::LPE),
            0,
            "2048-byte buffers, no LPE"
        );
        assert_eq!(rc & (rctl::UPE | rctl::MPE | rctl::SBP), 0);
        // Transmit.
        let tdba = u64::from(dev.peek(regs::TDBAL)) | u64::from(dev.peek(regs::TDBAH)) << 32;
        assert!(tdba >= PHYS && tdba % 128 == 0 && tdba != rdba);
        assert_eq!(dev.peek(regs::TDLEN) as usize, RING_SIZE * 16);
        assert_eq!((dev.peek(regs::TDH), dev.peek(regs::TDT)), (0, 0));
        let tc = dev.peek(regs::TCTL);
        assert_eq!(tc & (tctl::EN | tctl::PSP), tctl::EN | tctl::PSP);
        assert_eq!((tc >> tctl::CT_SHIFT) & 0xFF, 0x0F);
        assert_eq!((tc >> tctl::COLD_SHIFT) & 0x3FF, 0x40);
        assert_eq!(dev.peek(regs::TIPG), chip.tipg());
        if chip.is_e1000e() {
            assert_ne!(dev.peek(regs::TXDCTL) & regs::txdctl::BIT22, 0);
            assert_eq!(
                dev.quiet_resets(),
                1,
                "PCIe mastering stopped before the reset"
            );
            assert_eq!(dev.peek(regs::CTRL) & regs::ctrl::GIO_MASTER_DISABLE, 0);
        }
        // Filters: multicast table cleared, our address valid in entry 0, link set up.
        for i in 0..regs::MTA_LEN {
            assert_eq!(dev.peek(regs::MTA + 4 * i), 0, "MTA[{i}]");
        }
        assert_ne!(dev.peek(regs::RAH0) & regs::RAH_AV, 0);
        assert_ne!(dev.peek(regs::CTRL) & regs::ctrl::SLU, 0);
        finish(nic, pool);
    }
}

#[test]
fn mac_comes_from_the_eeprom_when_ral_is_empty() {
    let eeprom_mac = [0x00, 0x1B, 0x21, 0xAB, 0xCD, 0xEF];
    for chip in CHIPS {
        let mut r = rig(chip, 300);
        r.dev.set_eeprom_mac(eeprom_mac);
        r.dev.set_faults(Faults {
            ral_empty: true,
            ..Faults::default()
        });
        let (nic, dev, pool) = up(&mut r);
        assert_eq!(nic.mac(), eeprom_mac, "{chip:?}");
        // Written back to RAL0/RAH0 so the unicast filter accepts our frames.
        assert_eq!(dev.peek(regs::RAL0), 0xAB21_1B00);
        assert_eq!(dev.peek(regs::RAH0), 0x8000_EFCD);
        let mut frame = udp_frame(1, 60);
        frame[..6].copy_from_slice(&eeprom_mac);
        assert!(dev.inject(&frame, 0));
        frame[5] ^= 1;
        assert!(!dev.inject(&frame, 0), "someone else's unicast is filtered");
        let mut nic = nic;
        assert_eq!(drain_rx(&mut nic, pool).len(), 1);
        finish(nic, pool);
    }
}

#[test]
fn bring_up_failures_are_reported_by_cause() {
    let cases = [
        (
            Faults {
                absent: true,
                ..Faults::default()
            },
            InitError::DeviceAbsent,
        ),
        (
            Faults {
                reset_stuck: true,
                ..Faults::default()
            },
            InitError::ResetTimeout,
        ),
        (
            Faults {
                ral_empty: true,
                eeprom_stuck: true,
                ..Faults::default()
            },
            InitError::EepromTimeout,
        ),
    ];
    for chip in CHIPS {
        for (faults, want) in cases {
            let mut r = rig(chip, 300);
            r.dev.set_faults(faults);
            let got = IntelNic::new(chip, &r.dev, NoDelay::default(), &mut r.dma, &mut r.pool);
            assert_eq!(got.err(), Some(want), "{chip:?} {faults:?}");
            assert_eq!(r.pool.available(), r.pool.capacity());
        }
        // An erased EEPROM (all ones) holds no usable address.
        let mut r = rig(chip, 300);
        r.dev.set_eeprom_mac([0xFF; 6]);
        r.dev.set_faults(Faults {
            ral_empty: true,
            ..Faults::default()
        });
        let got = IntelNic::new(chip, &r.dev, NoDelay::default(), &mut r.dma, &mut r.pool);
        assert_eq!(got.err(), Some(InitError::NoMacAddress));
    }
}

#[test]
fn rx_delivers_intact_frames_in_bursts_of_at_most_32() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (mut nic, dev, pool) = up(&mut r);
        assert!(dev.inject(&ARP_REQUEST, 0));
        let len = |s: u32| 60 + (s as usize * 37) % 1454;
        for s in 0..79 {
            assert!(dev.inject(&udp_frame(s, len(s)), 0));
        }
        let mut out = Burst::new();
        assert_eq!(nic.rx_burst(pool, &mut out), BURST);
        assert_eq!(out.get(0).unwrap().data(), &ARP_REQUEST[..]);
        for (i, b) in out.iter().enumerate().skip(1) {
            let s = i as u32 - 1;
            assert_eq!(b.data(), &udp_frame(s, len(s))[..]);
        }
        // A partly filled burst only gets what fits.
        out.drain_front(30, |b| pool.free(b));
        assert_eq!(nic.rx_burst(pool, &mut out), BURST - 2);
        assert_eq!(seq_of(out.get(2).unwrap().data()), 31);
        out.free_all(pool);
        let rest = drain_rx(&mut nic, pool);
        assert_eq!(rest.len(), 80 - BURST - (BURST - 2));
        assert_eq!(seq_of(&rest[0]), 61);
        assert_eq!(nic.stats().rx_packets, 80);
        let bytes: usize = ARP_REQUEST.len() + (0..79).map(len).sum::<usize>();
        assert_eq!(nic.stats().rx_bytes, bytes as u64);
        // Every harvested slot was re-armed: the ring is full again.
        assert_eq!(
            dev.peek(regs::RDT),
            (dev.peek(regs::RDH) + RING_SIZE as u32 - 1) % RING_SIZE as u32
        );
        finish(nic, pool);
    }
}

#[test]
fn tx_frames_arrive_intact_with_eop_ifcs_rs() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (mut nic, dev, pool) = up(&mut r);
        let mut b = Burst::new();
        let mut arp = pool.alloc().unwrap();
        assert!(arp.set_len(ARP_REQUEST.len()));
        arp.data_mut().copy_from_slice(&ARP_REQUEST);
        b.push(arp).unwrap();
        for s in 0..10u32 {
            let len = [60, 61, 1000, 1514][s as usize % 4];
            let mut buf = pool.alloc().unwrap();
            assert!(buf.set_len(len));
            buf.data_mut().copy_from_slice(&udp_frame(s, len));
            b.push(buf).unwrap();
        }
        assert_eq!(nic.tx_burst(pool, &mut b), 11);
        assert!(b.is_empty());
        let sent = dev.take_sent();
        assert_eq!(sent.len(), 11);
        assert_eq!(sent[0].bytes, ARP_REQUEST);
        for (s, f) in sent[1..].iter().enumerate() {
            let len = [60, 61, 1000, 1514][s % 4];
            assert_eq!(f.bytes, udp_frame(s as u32, len));
            assert_eq!(f.cmd, 0x0B, "EOP | IFCS | RS, legacy");
        }
        assert_eq!(nic.stats().tx_packets, 11);
        // Completed buffers come back on the next call.
        nic.maintain(pool);
        assert_eq!(pool.available(), pool.capacity() - (RING_SIZE - 1));
        finish(nic, pool);
    }
}

#[test]
fn rings_wrap_over_thousands_of_frames_both_ways() {
    for chip in CHIPS {
        let mut r = rig(chip, 600);
        let (mut nic, dev, pool) = up(&mut r);
        let mut next_rx = 0u32;
        let mut want_rx = 0u32;
        let mut next_tx = 0u32;
        let mut want_tx = 0u32;
        let mut round = 0usize;
        while want_rx < 5000 || want_tx < 5000 {
            round += 1;
            // Uneven batch sizes so the ring indices land everywhere.
            for _ in 0..(round * 7) % 61 {
                assert!(dev.inject(&udp_frame(next_rx, 64 + next_rx as usize % 1400), 0));
                next_rx += 1;
            }
            for f in drain_rx(&mut nic, pool) {
                assert_eq!(seq_of(&f), want_rx, "rx order");
                assert_eq!(f, udp_frame(want_rx, 64 + want_rx as usize % 1400));
                want_rx += 1;
            }
            let k = ((round * 13) % 33) as u32;
            let mut b = tx_burst_of(pool, next_tx..next_tx + k, 60 + next_tx as usize % 1454);
            assert_eq!(nic.tx_burst(pool, &mut b), k as usize);
            next_tx += k;
            for f in dev.take_sent() {
                assert_eq!(seq_of(&f.bytes), want_tx, "tx order");
                want_tx += 1;
            }
        }
        assert_eq!(want_rx, next_rx);
        assert_eq!(want_tx, next_tx);
        let (rx_wraps, tx_wraps) = dev.wraps();
        assert!(rx_wraps >= 19 && tx_wraps >= 19, "{rx_wraps} {tx_wraps}");
        assert_eq!(nic.stats().rx_packets, u64::from(next_rx));
        assert_eq!(nic.stats().tx_packets, u64::from(next_tx));
        assert_eq!(nic.stats().rx_no_buffer, 0);
        finish(nic, pool);
    }
}

#[test]
fn full_tx_ring_pushes_back_without_losing_or_duplicating() {
    for chip in CHIPS {
        let mut r = rig(chip, 800);
        let (mut nic, dev, pool) = up(&mut r);
        dev.pause_tx(true);
        let mut seq = 0u32;
        let mut queued = 0usize;
        let mut refused = Vec::new();
        // Offer 10 bursts of 32 (320 frames) to a ring that holds 255.
        for _ in 0..10 {
            let mut b = tx_burst_of(pool, seq..seq + 32, 100);
            seq += 32;
            queued += nic.tx_burst(pool, &mut b);
            // What did not fit stays in the burst, in order; the caller drops it.
            for x in b.iter() {
                refused.push(seq_of(x.data()));
            }
            b.free_all(pool);
        }
        assert_eq!(queued, RING_SIZE - 1);
        assert_eq!(nic.stats().tx_ring_full, 320 - queued as u64);
        assert_eq!(refused.len(), 320 - queued);
        assert_eq!(
            refused[0], queued as u32,
            "the refused frames are the later ones"
        );
        assert!(dev.take_sent().is_empty());
        // The device catches up; everything queued goes out exactly once, in order.
        dev.pause_tx(false);
        let sent: Vec<u32> = dev.take_sent().iter().map(|f| seq_of(&f.bytes)).collect();
        assert_eq!(sent, (0..queued as u32).collect::<Vec<_>>());
        // And the ring takes frames again once completions are reclaimed.
        let mut b = tx_burst_of(pool, 1000..1032, 100);
        assert_eq!(nic.tx_burst(pool, &mut b), 32);
        assert_eq!(dev.take_sent().len(), 32);
        finish(nic, pool);
    }
}

#[test]
fn bad_tx_frames_are_dropped_and_counted_in_place() {
    let mut r = rig(Model::I82540Em, 300);
    let (mut nic, dev, pool) = up(&mut r);
    let mut b = tx_burst_of(pool, 0..4, 100);
    assert!(b.get_mut(1).unwrap().set_len(0));
    assert!(b.get_mut(2).unwrap().set_len(1519));
    assert_eq!(nic.tx_burst(pool, &mut b), 2);
    assert!(b.is_empty());
    assert_eq!(nic.stats().tx_bad_frame, 2);
    let sent: Vec<u32> = dev.take_sent().iter().map(|f| seq_of(&f.bytes)).collect();
    assert_eq!(sent, [0, 3]);
    finish(nic, pool);
}

#[test]
fn descriptor_errors_are_counted_by_cause_and_dropped() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (mut nic, dev, pool) = up(&mut r);
        // CRC, symbol, sequence, carrier extension, RX data error (SDM Table 3-3).
        for (i, err) in [0x01u8, 0x02, 0x04, 0x10, 0x80].into_iter().enumerate() {
            assert!(dev.inject(&udp_frame(100 + i as u32, 80), err));
        }
        // Checksum offload results are not frame errors.
        assert!(dev.inject(&udp_frame(1, 80), 0x20 | 0x40));
        // A frame split over three descriptors (no EOP on the first two).
        assert!(dev.inject_split(&udp_frame(200, 1500), 600));
        // A runt: shorter than an Ethernet header.
        assert!(dev.inject(&[0xFF; 10], 0));
        assert!(dev.inject(&udp_frame(2, 80), 0));
        let got: Vec<u32> = drain_rx(&mut nic, pool).iter().map(|f| seq_of(f)).collect();
        assert_eq!(got, [1, 2]);
        let s = *nic.stats();
        assert_eq!(s.rx_errors, 5);
        assert_eq!(s.rx_too_long, 1);
        assert_eq!(s.rx_runts, 1);
        assert_eq!(s.rx_packets, 2);
        // Dropped frames' buffers were re-armed in place: nothing taken from the pool.
        assert_eq!(pool.available(), pool.capacity() - (RING_SIZE - 1));
        // Transmit failures reported in the descriptor (excess collisions).
        dev.fail_next_tx(2);
        let mut b = tx_burst_of(pool, 0..3, 60);
        assert_eq!(nic.tx_burst(pool, &mut b), 3);
        nic.maintain(pool);
        assert_eq!(dev.take_sent().len(), 1);
        // Counted once, from the descriptor; the ECOL register agrees.
        assert_eq!(nic.hw_stats().excess_collisions, 2);
        assert_eq!(nic.stats().tx_errors, 2);
        finish(nic, pool);
    }
}

#[test]
fn hardware_counters_fold_into_the_port_counters() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (mut nic, dev, pool) = up(&mut r);
        // Overrun the ring: 255 armed slots, 300 frames, nobody polling.
        let mut accepted = 0;
        for s in 0..300 {
            accepted += usize::from(dev.inject(&udp_frame(s, 60), 0));
        }
        assert_eq!(accepted, RING_SIZE - 1);
        dev.bump_stat(stat::CRCERRS, 3);
        dev.bump_stat(stat::RUC, 2);
        dev.bump_stat(stat::ROC, 1);
        nic.maintain(pool);
        let s = *nic.stats();
        assert_eq!(s.rx_missed, 300 - accepted as u64);
        assert_eq!(s.rx_errors, 3);
        assert_eq!(s.rx_runts, 0, "RUC stays in the raw counters");
        assert_eq!(nic.hw_stats().undersize, 2);
        assert_eq!(s.rx_too_long, 1);
        assert_eq!(nic.hw_stats().good_rx_packets, accepted as u64);
        assert_eq!(nic.hw_stats().good_rx_octets, accepted as u64 * 64);
        // Clear on read: a second pass adds nothing.
        nic.maintain(pool);
        assert_eq!(nic.stats().rx_missed, s.rx_missed);
        assert_eq!(drain_rx(&mut nic, pool).len(), accepted);
        nic.reset_stats();
        assert_eq!(*nic.stats(), Default::default());
        finish(nic, pool);
    }
}

#[test]
fn a_dry_pool_is_counted_and_the_ring_recovers() {
    for chip in CHIPS {
        // 255 armed + 10 spare buffers.
        let mut r = rig(chip, RING_SIZE - 1 + 10);
        let (mut nic, dev, pool) = up(&mut r);
        for s in 0..40 {
            assert!(dev.inject(&udp_frame(s, 60), 0));
        }
        // Hold on to what we receive: the pool runs dry after 10 refills.
        let mut held = Burst::new();
        assert_eq!(nic.rx_burst(pool, &mut held), BURST);
        assert_eq!(nic.stats().rx_no_buffer, (BURST - 10) as u64);
        assert_eq!(pool.available(), 0);
        // The ring still works with fewer armed slots, and each slot is counted once.
        let mut more = Burst::new();
        assert_eq!(nic.rx_burst(pool, &mut more), 8);
        assert_eq!(nic.stats().rx_no_buffer, (BURST - 10 + 8) as u64);
        held.free_all(pool);
        more.free_all(pool);
        // With buffers back, the next poll re-arms the whole ring.
        let mut out = Burst::new();
        assert_eq!(nic.rx_burst(pool, &mut out), 0);
        assert_eq!(
            dev.peek(regs::RDT),
            (dev.peek(regs::RDH) + RING_SIZE as u32 - 1) % RING_SIZE as u32
        );
        assert!(dev.inject(&udp_frame(77, 60), 0));
        assert_eq!(drain_rx(&mut nic, pool).len(), 1);
        assert_eq!(nic.stats().rx_no_buffer, (BURST - 10 + 8) as u64);
        finish(nic, pool);
    }
}

#[test]
fn link_down_and_up_is_survived() {
    for chip in CHIPS {
        let mut r = rig(chip, 600);
        let (mut nic, dev, pool) = up(&mut r);
        assert!(nic.link_up());
        let info = nic.link_info();
        assert!(info.up && info.full_duplex);
        assert_eq!(info.speed_mbps, 1000);
        dev.set_cable(false);
        nic.maintain(pool);
        assert!(!nic.link_up());
        assert!(!nic.link_info().up);
        assert_eq!(nic.stats().link_downs, 1);
        // Nothing arrives; frames queued meanwhile wait in the ring.
        assert!(!dev.inject(&udp_frame(0, 60), 0));
        let mut b = tx_burst_of(pool, 0..20, 60);
        assert_eq!(nic.tx_burst(pool, &mut b), 20);
        assert!(dev.take_sent().is_empty());
        dev.set_cable(true);
        nic.maintain(pool);
        assert!(nic.link_up());
        assert_eq!(nic.stats().link_downs, 1);
        assert_eq!(
            nic.stats().resets,
            0,
            "a plain flap needs no re-initialisation"
        );
        assert_eq!(dev.take_sent().len(), 20);
        assert!(dev.inject(&udp_frame(1, 60), 0));
        assert_eq!(drain_rx(&mut nic, pool).len(), 1);
        finish(nic, pool);
    }
}

#[test]
fn a_chip_that_lost_its_configuration_is_reprogrammed() {
    for chip in CHIPS {
        let mut r = rig(chip, 600);
        let (mut nic, dev, pool) = up(&mut r);
        // Frames in flight in both directions when the chip resets itself.
        dev.pause_tx(true);
        let mut b = tx_burst_of(pool, 0..5, 60);
        assert_eq!(nic.tx_burst(pool, &mut b), 5);
        assert!(dev.inject(&udp_frame(9, 60), 0));
        dev.spontaneous_reset();
        dev.pause_tx(false);
        nic.maintain(pool);
        assert_eq!(nic.stats().resets, 1);
        assert_eq!(
            nic.stats().tx_errors,
            5,
            "queued frames were lost with the reset"
        );
        assert_eq!(dev.peek(regs::RCTL) & rctl::EN, rctl::EN);
        assert_eq!(dev.peek(regs::IMS), 0);
        assert_eq!(pool.available(), pool.capacity() - (RING_SIZE - 1));
        // Traffic flows again both ways.
        assert!(dev.inject(&udp_frame(10, 60), 0));
        let got: Vec<u32> = drain_rx(&mut nic, pool).iter().map(|f| seq_of(f)).collect();
        assert_eq!(got, [10]);
        let mut b = tx_burst_of(pool, 20..23, 60);
        assert_eq!(nic.tx_burst(pool, &mut b), 3);
        let sent: Vec<u32> = dev.take_sent().iter().map(|f| seq_of(&f.bytes)).collect();
        assert_eq!(sent, [20, 21, 22]);
        finish(nic, pool);
    }
}

#[test]
fn a_failed_re_initialisation_is_retried_by_maintain() {
    for chip in CHIPS {
        let mut r = rig(chip, 600);
        let (mut nic, dev, pool) = up(&mut r);
        dev.spontaneous_reset();
        dev.set_faults(Faults {
            reset_stuck: true,
            ..Faults::default()
        });
        nic.maintain(pool);
        assert!(!nic.is_running());
        assert_eq!(nic.stats().resets, 1);
        let mut out = Burst::new();
        assert_eq!(nic.rx_burst(pool, &mut out), 0);
        let mut b = tx_burst_of(pool, 0..2, 60);
        assert_eq!(
            nic.tx_burst(pool, &mut b),
            0,
            "nothing queued on a failed port"
        );
        b.free_all(pool);
        // The chip comes back; the next maintain re-programs it.
        dev.set_faults(Faults::default());
        nic.maintain(pool);
        assert!(nic.is_running());
        assert_eq!(nic.stats().resets, 2);
        assert!(dev.inject(&ARP_REQUEST, 0));
        assert_eq!(drain_rx(&mut nic, pool), [ARP_REQUEST.to_vec()]);
        // release_all is shutdown by another name: the port stays down.
        nic.release_all(pool);
        nic.maintain(pool);
        assert!(!nic.is_running());
        finish(nic, pool);
    }
}
