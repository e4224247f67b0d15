//! The WireGuard gateway in the poll loop: the LAN and WAN ports' bursts
//! through [`netfn::gateway::pipeline::Gateway`] and back out.
//!
//! Once a valid configuration names a LAN and a WAN port, [`GatewayPlane`]
//! takes over the data path from the ports' own host stacks (the gateway
//! runs its own per port). Each poll-loop turn it receives a burst on the
//! LAN, hands it to `process_lan_burst`, sends what the pipeline queued,
//! then the same for the WAN, then `tick`: the buffer the NIC wrote is the
//! one the other NIC sends, and nothing here allocates after construction.
//!
//! The pipeline's traits cannot be implemented on `drivers::buf` types from
//! here (orphan rule), hence the zero-cost newtypes [`Buf`] and [`Pool`].
//! Randomness comes from a [`GatewayRng`] (kernel/src/entropy.rs) over the
//! kernel's RDRAND/virtio-rng, or over a test source in host tests.
//!
//! The AEAD is the burst back end (`netfn::simd`) wrapped so its cycles are
//! counted, and a few TSC reads around the rx, processing, flush and tick
//! blocks of each turn feed [`Profile`] (`stats`: cycles per packet by
//! stage, net/profile).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use drivers::buf::{Burst, PacketBuf, PacketPool};
use netfn::config::Config;
use netfn::gateway::counters::{Direction, DropReason, GatewayCounters};
use netfn::gateway::pipeline::{
    BufPool, Gateway, GatewayError, PacketBuffer, Port as GwPort, TxLists,
};
use netfn::wireguard::Time;

use super::profile::{BurstCycles, Meter, PlaneAead, Profile, Tsc, Way};
use super::{Port, PortDevice};
use crate::console::capture::{CaptureRing, Direction as CaptureDir};
use crate::entropy::GatewayRng;

mod diag;
#[cfg(test)]
mod tests;

pub use diag::NetJob;

/// A `drivers` packet buffer as the pipeline sees it.
pub struct Buf(pub PacketBuf);

impl PacketBuffer for Buf {
    fn start(&self) -> usize {
        self.0.start()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn slot(&self) -> &[u8] {
        self.0.slot()
    }
    fn slot_mut(&mut self) -> &mut [u8] {
        self.0.slot_mut()
    }
    fn set_window(&mut self, start: usize, len: usize) -> bool {
        self.0.set_window(start, len)
    }
}

/// The `drivers` packet pool as the pipeline sees it.
pub struct Pool<'a>(pub &'a mut PacketPool);

impl BufPool<Buf> for Pool<'_> {
    fn alloc(&mut self) -> Option<Buf> {
        self.0.alloc().map(Buf)
    }
    fn free(&mut self, buf: Buf) {
        self.0.free(buf.0)
    }
}

/// Frames each transmit list holds: a LAN burst, a WAN burst and what
/// `tick` adds fit with room to spare.
const TX_LIST: usize = 4 * drivers::buf::BURST;

/// The gateway and the per-turn state of the poll loop around it.
pub struct GatewayPlane {
    /// The pipeline, sealing with the profiled burst AEAD.
    pub gw: Gateway<GatewayRng, Buf, PlaneAead>,
    /// Cycles per stage since `stats reset` (net/profile).
    pub profile: Profile,
    out: TxLists<Buf>,
    rx: Burst,
    tx: Burst,
    /// Unix time minus monotonic time, when the wall clock is known.
    unix_offset: Option<u64>,
    /// Counters at the last `stats reset`.
    base: GatewayCounters,
    /// The console's `capture` tap, while one runs (see `diag.rs`).
    capture: Option<Box<CaptureRing>>,
    /// The time of the current poll, for captured frames.
    now_ns: u64,
}

impl GatewayPlane {
    /// Builds the gateway for `config` at monotonic time `now_ns`, with the
    /// wall clock `unix_ns` when known.
    pub fn new(
        config: &Config,
        lan_mac: [u8; 6],
        wan_mac: [u8; 6],
        rng: GatewayRng,
        now_ns: u64,
        unix_ns: Option<u64>,
    ) -> Result<GatewayPlane, GatewayError> {
        let unix_offset = unix_ns.map(|u| u.wrapping_sub(now_ns));
        let now = time(now_ns, unix_offset);
        Ok(GatewayPlane {
            gw: Gateway::new(config, lan_mac, wan_mac, rng, now)?,
            out: TxLists::with_capacity(TX_LIST),
            rx: Burst::new(),
            tx: Burst::new(),
            unix_offset,
            base: GatewayCounters::default(),
            capture: None,
            now_ns,
            profile: Profile::new(Tsc::now()),
        })
    }

    /// The engine's clock for monotonic `now_ns`.
    pub fn time(&self, now_ns: u64) -> Time {
        time(now_ns, self.unix_offset)
    }

    /// One poll-loop turn: a burst from each port through the pipeline,
    /// the timers, and everything queued sent. Returns frames received.
    pub fn poll<D: PortDevice>(
        &mut self,
        lan: &mut Port<D>,
        wan: &mut Port<D>,
        pool: &mut PacketPool,
        now_ns: u64,
    ) -> usize {
        let now = self.time(now_ns);
        self.now_ns = now_ns;
        let mut work = 0;
        for side in [GwPort::Lan, GwPort::Wan] {
            let port = match side {
                GwPort::Lan => &mut *lan,
                GwPort::Wan => &mut *wan,
            };
            let t_start = Tsc::now();
            let n = port.dev.rx_burst(pool, &mut self.rx);
            let t_rx = Tsc::now();
            if n == 0 && self.rx.is_empty() {
                self.profile.empty_rx(t_rx.wrapping_sub(t_start));
                continue;
            }
            work += n;
            if let Some(c) = self.capture.as_deref_mut() {
                for b in self.rx.iter() {
                    c.tap(side, CaptureDir::In, now_ns, b.data());
                }
            }
            // The whole burst in one call: the pipeline seals or opens its
            // tunnel traffic with one engine (and AEAD) burst.
            let mut taken: [Option<PacketBuf>; drivers::buf::BURST] =
                [const { None }; drivers::buf::BURST];
            let mut slots = taken.iter_mut();
            let len = self.rx.len();
            let crypto = Tsc::crypto().read().cycles;
            self.rx.drain_front(len, |b| {
                match slots.next() {
                    Some(s) => *s = Some(b),
                    // A burst never holds more than BURST; freed all the same.
                    None => pool.free(b),
                }
            });
            let bufs = taken.into_iter().flatten().map(Buf);
            let (gw, out, mut p) = (&mut self.gw, &mut self.out, Pool(&mut *pool));
            match side {
                GwPort::Lan => gw.process_lan_burst(now, bufs, out, &mut p),
                GwPort::Wan => gw.process_wan_burst(now, bufs, out, &mut p),
            }
            let crypto = Tsc::crypto().read().cycles.wrapping_sub(crypto);
            let t_proc = Tsc::now();
            self.flush(lan, wan, pool);
            let way = match side {
                GwPort::Lan => Way::Encrypt,
                GwPort::Wan => Way::Decrypt,
            };
            self.profile.burst(
                way,
                BurstCycles {
                    packets: len as u64,
                    rx: t_rx.wrapping_sub(t_start),
                    process: t_proc.wrapping_sub(t_rx),
                    crypto,
                    tx: Tsc::now().wrapping_sub(t_proc),
                },
            );
        }
        let t_tick = Tsc::now();
        self.gw.tick(now, &mut self.out, &mut Pool(pool));
        self.flush(lan, wan, pool);
        self.profile
            .end_turn(Tsc::now().wrapping_sub(t_tick), work != 0);
        work
    }

    /// Gratuitous ARP on both ports (at start and when a link comes up).
    pub fn announce<D: PortDevice>(
        &mut self,
        lan: &mut Port<D>,
        wan: &mut Port<D>,
        pool: &mut PacketPool,
    ) {
        self.gw.announce(&mut self.out, &mut Pool(pool));
        self.flush(lan, wan, pool);
    }

    /// Sends both transmit lists; what a full ring refuses is freed and
    /// counted as `ring-full` on that port.
    fn flush<D: PortDevice>(
        &mut self,
        lan: &mut Port<D>,
        wan: &mut Port<D>,
        pool: &mut PacketPool,
    ) {
        if self.out.is_empty() {
            return;
        }
        for (side, port) in [(GwPort::Lan, &mut *lan), (GwPort::Wan, &mut *wan)] {
            for b in self.out.drain(side) {
                if let Some(c) = self.capture.as_deref_mut() {
                    c.tap(side, CaptureDir::Out, self.now_ns, b.0.data());
                }
                if let Err(b) = self.tx.push(b.0) {
                    port.dev.tx_burst(pool, &mut self.tx);
                    if let Err(b) = self.tx.push(b) {
                        port.counters.drops.count(DropReason::RingFull);
                        pool.free(b);
                    }
                }
            }
            if !self.tx.is_empty() {
                port.dev.tx_burst(pool, &mut self.tx);
            }
            if !self.tx.is_empty() {
                port.counters
                    .drops
                    .add(DropReason::RingFull, self.tx.len() as u64);
                self.tx.free_all(pool);
            }
        }
    }

    /// Returns every buffer the gateway holds to `pool`.
    pub fn release_all(&mut self, pool: &mut PacketPool) {
        self.gw.release_all(&mut Pool(&mut *pool));
        for side in [GwPort::Lan, GwPort::Wan] {
            for b in self.out.drain(side) {
                pool.free(b.0);
            }
        }
        self.rx.free_all(pool);
        self.tx.free_all(pool);
    }

    /// `ip addr` while the gateway runs: its LAN, WAN and tunnel addresses.
    pub fn ip_addr(&self, out: &mut dyn Write) -> fmt::Result {
        for (name, a) in [
            ("lan", self.gw.address(GwPort::Lan)),
            ("wan", self.gw.address(GwPort::Wan)),
            ("wg0", self.gw.tunnel_address()),
        ] {
            match a {
                Some((a, l)) => writeln!(out, "{name:<5} {a}/{l}")?,
                None => writeln!(out, "{name:<5} no address")?,
            }
        }
        Ok(())
    }

    /// `stats reset`: later reports count from now.
    pub fn reset_stats(&mut self) {
        self.base = self.gw.counters().clone();
    }

    /// The gateway part of `stats`: traffic each way and drops by reason
    /// since the last reset.
    pub fn stats(&self, out: &mut dyn Write) -> fmt::Result {
        let c = self.gw.counters();
        writeln!(out, "gateway")?;
        for (name, dir) in [
            ("lan-to-tunnel", Direction::LanToTunnel),
            ("tunnel-to-lan", Direction::TunnelToLan),
        ] {
            let (t, b) = (c.traffic(dir), self.base.traffic(dir));
            writeln!(
                out,
                "  {name} packets {}  bytes {}",
                t.packets.wrapping_sub(b.packets),
                t.bytes.wrapping_sub(b.bytes)
            )?;
        }
        let total = c.drops.total().wrapping_sub(self.base.drops.total());
        writeln!(out, "  dropped {total}")?;
        for r in DropReason::ALL {
            let n = c.drops.get(r).wrapping_sub(self.base.drops.get(r));
            if n != 0 {
                writeln!(out, "  drop {r} {n}")?;
            }
        }
        Ok(())
    }

    /// `wg`: the interface and every peer as wireguard-tools' `wg show`
    /// prints them (console/wg.rs).
    pub fn wg(&self, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        let e = self.gw.engine();
        let mut peers: Vec<_> = e.peer_ids().filter_map(|id| e.peer_status(id)).collect();
        crate::console::wg::show(&e.status(), &mut peers, now_ns, out)
    }
}

fn time(now_ns: u64, unix_offset: Option<u64>) -> Time {
    Time {
        mono_ns: now_ns,
        unix_ns: unix_offset.map_or(0, |o| o.wrapping_add(now_ns)),
    }
}
