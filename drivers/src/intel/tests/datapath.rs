//! Bring-up, receive, transmit, ring wrap and back-pressure against the model.

use super::*;

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
fn frames_at_the_size_limits() {
    for chip in CHIPS {
        let mut r = rig(chip, 512);
        let (mut nic, dev, pool) = up(&mut r);
        // 1518 bytes (a VLAN-tagged full frame) is the largest LPE-less receive.
        assert!(dev.inject(&udp_frame(1, 1518), 0));
        // One byte more and the MAC drops it, counting ROC (LPE is clear).
        assert!(!dev.inject(&udp_frame(2, 1519), 0));
        let got = drain_rx(&mut nic, pool);
        assert_eq!(got, [udp_frame(1, 1518)]);
        nic.maintain(pool);
        assert_eq!(nic.stats().rx_too_long, 1);
        // Transmit: 1518 goes out, 1519 is refused as a bad frame.
        let mut b = tx_burst_of(pool, 3..4, 1518);
        let mut big = pool.alloc().unwrap();
        assert!(big.set_len(1519));
        b.push(big).unwrap();
        assert_eq!(nic.tx_burst(pool, &mut b), 1);
        assert_eq!(nic.stats().tx_bad_frame, 1);
        let sent = dev.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].bytes, udp_frame(3, 1518));
        finish(nic, pool);
    }
}
