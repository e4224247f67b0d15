//! Hardware statistics counters: read, accumulate, and fold into [`NicStats`].
//!
//! The MAC keeps its own per-cause counters (8254x SDM 13.7) and clears them on
//! read, so the driver reads each one exactly once per `maintain` and adds it to
//! a 64-bit running total here. With RCTL.SBP clear the MAC drops bad frames
//! itself, so these counters, not descriptor error bits, are where most receive
//! errors show up; [`HwStats::fold_into`] maps them onto the port counters.
//! (Descriptor error bits only appear with RCTL.SBP set, which the driver never
//! sets, so the two sources do not overlap.)

use super::regs::stat;
use crate::hal::Regs;
use crate::netdev::NicStats;

/// Running totals of the MAC's statistics registers since bring-up (or the
/// last `reset_stats`). One field per register, named after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HwStats {
    /// CRCERRS: frames with a bad CRC.
    pub crc_errors: u64,
    /// ALGNERRC: frames with an alignment error (MII, 10/100 only).
    pub alignment_errors: u64,
    /// SYMERRS: symbol errors (TBI/SerDes only).
    pub symbol_errors: u64,
    /// RXERRC: frames received with RX_ER from the PHY.
    pub rx_data_errors: u64,
    /// MPC: frames dropped because the ring or FIFO had no room.
    pub missed: u64,
    /// SEC: sequence errors.
    pub sequence_errors: u64,
    /// CEXTERR: carrier extension errors.
    pub carrier_ext_errors: u64,
    /// ECOL: frames abandoned after 16 collisions.
    pub excess_collisions: u64,
    /// LATECOL: late collisions.
    pub late_collisions: u64,
    /// COLC: collisions.
    pub collisions: u64,
    /// RNBC: times a frame arrived with no free descriptor.
    pub no_buffers: u64,
    /// RUC: undersized frames (valid CRC, under 64 bytes).
    pub undersize: u64,
    /// RFC: fragments (bad CRC, under 64 bytes).
    pub fragments: u64,
    /// ROC: oversized frames (valid CRC, over 1522 bytes with LPE clear).
    pub oversize: u64,
    /// RJC: jabbers (bad CRC, oversized).
    pub jabbers: u64,
    /// GPRC: good frames received.
    pub good_rx_packets: u64,
    /// GPTC: good frames sent.
    pub good_tx_packets: u64,
    /// GORC: good octets received.
    pub good_rx_octets: u64,
    /// GOTC: good octets sent.
    pub good_tx_octets: u64,
    /// TPR: all frames received.
    pub total_rx_packets: u64,
    /// TPT: all frames sent.
    pub total_tx_packets: u64,
}

impl HwStats {
    /// Reads every counter once (which clears it) and returns the values read.
    pub fn read(regs: &impl Regs) -> HwStats {
        let r = |off| u64::from(regs.read32(off));
        // 64-bit octet counters: the low dword first, then the high dword,
        // whose read clears the pair (SDM 13.7, GORCL/GORCH).
        let pair = |lo, hi| {
            let l = r(lo);
            l | (r(hi) << 32)
        };
        HwStats {
            crc_errors: r(stat::CRCERRS),
            alignment_errors: r(stat::ALGNERRC),
            symbol_errors: r(stat::SYMERRS),
            rx_data_errors: r(stat::RXERRC),
            missed: r(stat::MPC),
            sequence_errors: r(stat::SEC),
            carrier_ext_errors: r(stat::CEXTERR),
            excess_collisions: r(stat::ECOL),
            late_collisions: r(stat::LATECOL),
            collisions: r(stat::COLC),
            no_buffers: r(stat::RNBC),
            undersize: r(stat::RUC),
            fragments: r(stat::RFC),
            oversize: r(stat::ROC),
            jabbers: r(stat::RJC),
            good_rx_packets: r(stat::GPRC),
            good_tx_packets: r(stat::GPTC),
            good_rx_octets: pair(stat::GORCL, stat::GORCH),
            good_tx_octets: pair(stat::GOTCL, stat::GOTCH),
            total_rx_packets: r(stat::TPR),
            total_tx_packets: r(stat::TPT),
        }
    }

    /// Adds `d` (one round of reads) to these totals.
    pub fn add(&mut self, d: &HwStats) {
        macro_rules! add {
            ($($f:ident),*) => { $( self.$f = self.$f.wrapping_add(d.$f); )* };
        }
        add!(
            crc_errors,
            alignment_errors,
            symbol_errors,
            rx_data_errors,
            missed,
            sequence_errors,
            carrier_ext_errors,
            excess_collisions,
            late_collisions,
            collisions,
            no_buffers,
            undersize,
            fragments,
            oversize,
            jabbers,
            good_rx_packets,
            good_tx_packets,
            good_rx_octets,
            good_tx_octets,
            total_rx_packets,
            total_tx_packets
        );
    }

    /// Adds the drops in `d` (one round of reads) to the port counters.
    ///
    /// Frames the MAC threw away never reach a descriptor, so they are counted
    /// here: bad frames (CRC, alignment, symbol, RX_ER, sequence, carrier
    /// extension) as `rx_errors`, oversized ones (dropped because LPE is
    /// clear) as `rx_too_long`, frames that found no room as `rx_missed`.
    /// Left out on purpose, to count each frame once: RUC (QEMU pads and still
    /// delivers short frames, counting them there), RFC and RJC (bad CRC, so
    /// already in CRCERRS), and ECOL/LATECOL (the tx descriptor status already
    /// reports each failed frame). The raw values stay in [`HwStats`].
    pub fn fold_into(d: &HwStats, s: &mut NicStats) {
        s.rx_errors += d.crc_errors
            + d.alignment_errors
            + d.symbol_errors
            + d.rx_data_errors
            + d.sequence_errors
            + d.carrier_ext_errors;
        s.rx_too_long += d.oversize;
        s.rx_missed += d.missed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;

    /// A bank of clear-on-read registers holding fixed values.
    struct Bank(RefCell<[u32; 0x40]>);

    impl Regs for Bank {
        fn read8(&self, _: usize) -> u8 {
            0
        }
        fn read16(&self, _: usize) -> u16 {
            0
        }
        fn read32(&self, off: usize) -> u32 {
            let i = (off - 0x4000) / 4;
            core::mem::take(&mut self.0.borrow_mut()[i])
        }
        fn write8(&self, _: usize, _: u8) {}
        fn write16(&self, _: usize, _: u16) {}
        fn write32(&self, _: usize, _: u32) {}
    }

    #[test]
    fn reads_each_counter_from_its_register_and_folds_drops_by_cause() {
        let mut bank = [0u32; 0x40];
        let mut set = |off: usize, v: u32| bank[(off - 0x4000) / 4] = v;
        set(stat::CRCERRS, 3);
        set(stat::RXERRC, 1);
        set(stat::MPC, 7);
        set(stat::RUC, 2);
        set(stat::ROC, 5);
        set(stat::ECOL, 4);
        set(stat::GPRC, 100);
        set(stat::GORCL, 0xFFFF_FFFF);
        set(stat::GORCH, 1);
        let bank = Bank(RefCell::new(bank));
        let d = HwStats::read(&bank);
        assert_eq!(d.crc_errors, 3);
        assert_eq!(d.missed, 7);
        assert_eq!(d.good_rx_packets, 100);
        assert_eq!(d.good_rx_octets, 0x1_FFFF_FFFF);
        let mut s = NicStats::default();
        HwStats::fold_into(&d, &mut s);
        assert_eq!(s.rx_errors, 4);
        assert_eq!(s.rx_missed, 7);
        assert_eq!(s.rx_too_long, 5);
        // Counted elsewhere (descriptors) or delivered anyway (QEMU's RUC).
        assert_eq!((s.rx_runts, s.tx_errors), (0, 0));
        assert_eq!((d.undersize, d.excess_collisions), (2, 4));
        // Clear on read: a second round reads zeroes.
        assert_eq!(HwStats::read(&bank), HwStats::default());
        let mut total = HwStats::default();
        total.add(&d);
        total.add(&d);
        assert_eq!(total.missed, 14);
    }
}
