//! Faults against the model: error bits, hardware counters, a dry pool, link
//! flaps, a chip that loses its configuration, a re-initialisation that fails.

use super::*;

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
