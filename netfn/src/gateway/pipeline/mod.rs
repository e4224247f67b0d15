//! The gateway pipeline: LAN ⇄ WireGuard ⇄ WAN, one buffer at a time,
//! shaped for a burst-at-a-time poll loop.
//!
//! [`Gateway`] owns everything the data path decides with: the WireGuard
//! [`Engine`], the state of both ports (addresses, neighbour tables, the
//! smoltcp host stacks of the slow path), a bounded queue per peer for
//! packets waiting on a handshake, and the counters. The poll loop hands it
//! one received buffer at a time ([`Gateway::process_lan`],
//! [`Gateway::process_wan`]) or a whole burst ([`Gateway::process_lan_burst`],
//! [`Gateway::process_wan_burst`]: one engine call, and so one AEAD burst,
//! for all the burst's tunnel traffic) and calls [`Gateway::tick`] once per
//! loop turn;
//! the buffer then moves (never copied, never allocated) to exactly one of:
//! - a [`TxLists`] list: the same buffer, headers rewritten in place, goes
//!   out of the other port (or back out of the same port for ARP and echo
//!   replies);
//! - a neighbour table's pending queue (next hop not yet resolved) or a
//!   peer's queue (no session yet), to come out later through `tick` or an
//!   ARP reply or handshake;
//! - the pool, with a named drop counter, or after a copy into a host stack.
//!
//! Fresh buffers come from the pool only for what the appliance originates:
//! handshake messages and keepalives, ARP requests and ICMP errors, and host
//! stack frames. Every queue is allocated at construction and never grows.
//! Frame layout follows `drivers::buf`: frames start [`HEADROOM`] bytes into
//! a 2 KiB slot, so WireGuard's 16-byte header and the 42 outer bytes fit in
//! front of an inner packet and the tag fits behind it.
//!
//! The poll loop, in outline (`Buf` and `Pool` are the kernel's newtypes
//! over `drivers::buf`, see [`buf`]):
//! ```text
//! let mut gw = Gateway::new(&config, lan_mac, wan_mac, rng, now)?;
//! let mut out = TxLists::with_capacity(2 * BURST);
//! gw.announce(&mut out, &mut pool);                 // at link up
//! loop {
//!     let now = Time { mono_ns: tsc_ns(), unix_ns: rtc_ns() };
//!     gw.process_lan_burst(now, lan.rx_burst().map(Buf), &mut out, &mut pool);
//!     gw.process_wan_burst(now, wan.rx_burst().map(Buf), &mut out, &mut pool);
//!     gw.tick(now, &mut out, &mut pool);
//!     lan.tx_burst(out.drain(Port::Lan).map(|b| b.0)); // what a full ring
//!     wan.tx_burst(out.drain(Port::Wan).map(|b| b.0)); // refuses: free, count
//! }
//! ```
//!
//! One file per concern: [`buf`] (the traits the kernel implements), `lan`
//! (LAN receive: classify, route, forward into the tunnel), `wan` (WAN
//! receive: WireGuard, decrypted packets onto the LAN), `tunnel`
//! (encapsulation, peer queues, outer headers), `burst` (the burst entry
//! points and their stages), `local` (ARP, echo, ICMP
//! errors, the host stacks), `tick` (timers, announcements, teardown),
//! [`routes`] (the rules above as `ip route` shows them).

pub mod buf;
mod burst;
pub mod console;
mod lan;
mod local;
pub mod routes;
mod tick;
mod tunnel;
mod wan;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

pub use buf::{BufPool, PacketBuffer, Port, TxLists, HEADROOM};
pub use routes::{Route, RouteDev};

use super::counters::{DropReason, GatewayCounters};
use super::ether::{self, Mac};
use super::neigh::{NeighInfo, NeighTable, NeighTimers, PendingQueue, QueuePolicy, Resolve};
use super::outer::IpId;
use crate::config::{Config, PortAddress};
use crate::hoststack::{HostStack, HostStackError};
use crate::wireguard::{self, Aead, Engine, PeerError, PeerId, RingAead, Rng, Time};

/// Packets held per peer while its handshake runs (overflow drops the oldest).
pub const PEER_QUEUE: usize = 64;
/// Packets held per unresolved next hop.
pub const NEIGH_QUEUE: usize = 8;
/// Neighbour table entries per port.
pub const NEIGH_ENTRIES: usize = 128;
/// The LAN's MTU for decrypted packets (Ethernet).
pub const LAN_MTU: u16 = 1500;
/// LAN frames whose next hop never answered, held for one `tick` so each
/// can be answered with ICMP host unreachable into the tunnel.
const UNREACHABLE_STASH: usize = 32;
/// Timers are serviced at most this often (the engine's deadlines and ARP
/// retries are milliseconds to seconds apart), so an idle poll loop that
/// calls `tick` every turn does not walk every peer and neighbour each time.
pub const TICK_INTERVAL_NS: u64 = 1_000_000;
/// Room for one handshake message, cookie reply or keepalive (≤ 148 bytes).
const SCRATCH: usize = 256;

/// Why a [`Gateway`] could not be built from a valid configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// `[LAN] Address = dhcp`: the LAN port must have a static address.
    LanNeedsStaticAddress,
    /// A port's MAC is a group address.
    BadMac(Port),
    /// The engine refused the peer at this index of `Config::peers`.
    Peer {
        /// Index in the configuration's peer list.
        index: usize,
        /// What the engine said.
        error: PeerError,
    },
    /// A host stack could not be created.
    HostStack(Port, HostStackError),
}

/// One port's state.
pub(crate) struct PortState<B> {
    /// The port's MAC.
    pub(crate) mac: Mac,
    /// Address and prefix length (`None` on a DHCP WAN until leased).
    pub(crate) addr: Option<(Ipv4Addr, u8)>,
    /// The default gateway reachable through this port.
    pub(crate) gateway: Option<Ipv4Addr>,
    /// IPv4 → MAC, with frames waiting for their next hop.
    pub(crate) neigh: NeighTable<B, NEIGH_QUEUE>,
    /// The slow path (smoltcp): DHCP, the appliance's own pings.
    pub(crate) host: HostStack,
}

impl<B> PortState<B> {
    /// The port's address.
    pub(crate) fn ip(&self) -> Option<Ipv4Addr> {
        self.addr.map(|(a, _)| a)
    }

    /// True when `dst` is in the port's subnet.
    pub(crate) fn on_link(&self, dst: Ipv4Addr) -> bool {
        self.addr.is_some_and(|(a, len)| {
            let mask = u32::MAX.checked_shl(32 - len.min(32) as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(dst) & mask
        })
    }

    /// The link-layer next hop for `dst`: itself when on-link, else the gateway.
    pub(crate) fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.on_link(dst) {
            Some(dst)
        } else {
            self.gateway
        }
    }
}

/// The appliance's data path: see the module documentation.
pub struct Gateway<R: Rng, B: PacketBuffer, A: Aead = RingAead> {
    pub(crate) engine: Engine<R, A>,
    pub(crate) lan: PortState<B>,
    pub(crate) wan: PortState<B>,
    /// The appliance's tunnel address (first IPv4 `[Interface] Address`).
    pub(crate) tunnel_addr: Option<(Ipv4Addr, u8)>,
    pub(crate) listen_port: u16,
    pub(crate) mtu: u16,
    pub(crate) mss: Option<u16>,
    /// Indexed by `PeerId.0`.
    pub(crate) queues: Vec<PendingQueue<B, PEER_QUEUE>>,
    pub(crate) counters: GatewayCounters,
    pub(crate) ip_id: IpId,
    /// Where the engine writes handshake messages and keepalives.
    pub(crate) scratch: [u8; SCRATCH],
    pub(crate) config: Config,
    /// See [`UNREACHABLE_STASH`]; empty between calls.
    pub(crate) unreachable: Vec<B>,
    /// When `tick` next does its work.
    pub(crate) next_tick_ns: u64,
    /// A host stack got a frame (or the console used one) since the last
    /// tick: run it on the next tick, whatever the time.
    pub(crate) host_pending: bool,
    /// Replies to the appliance's own tunnel pings, for the console.
    pub(crate) own_echo: console::OwnEcho,
    /// LAN packets staged for one engine burst (see `burst`); empty
    /// between calls.
    pub(crate) lan_stage: Vec<B>,
    /// WAN datagrams staged for one engine burst; empty between calls.
    pub(crate) wan_stage: Vec<burst::WanStaged<B>>,
}

impl<R: Rng, B: PacketBuffer, A: Aead> Gateway<R, B, A> {
    /// Builds the gateway for a validated `config`, the two ports' MACs, a
    /// random source (for the engine, the host stacks and IP IDs) and the
    /// current time. Allocates every queue now; nothing grows later.
    pub fn new(
        config: &Config,
        lan_mac: Mac,
        wan_mac: Mac,
        mut rng: R,
        now: Time,
    ) -> Result<Self, GatewayError> {
        let PortAddress::Static {
            addr: lan_ip,
            len: lan_len,
        } = config.lan.address
        else {
            return Err(GatewayError::LanNeedsStaticAddress);
        };
        for (port, mac) in [(Port::Lan, lan_mac), (Port::Wan, wan_mac)] {
            if ether::is_group(&mac) || mac == [0; 6] {
                return Err(GatewayError::BadMac(port));
            }
        }
        let mut seed = [0u8; 8];
        let now_ms = (now.mono_ns / 1_000_000) as i64;
        rng.fill(&mut seed);
        let lan_host = HostStack::new(
            lan_mac,
            Some((lan_ip, lan_len)),
            config.lan.gateway,
            false,
            u64::from_le_bytes(seed),
            now_ms,
        )
        .map_err(|e| GatewayError::HostStack(Port::Lan, e))?;
        let wan_addr = match config.wan.address {
            PortAddress::Static { addr, len } => Some((addr, len)),
            PortAddress::Dhcp => None,
        };
        rng.fill(&mut seed);
        let wan_host = HostStack::new(
            wan_mac,
            wan_addr,
            config.wan.gateway,
            wan_addr.is_none(),
            u64::from_le_bytes(seed),
            now_ms,
        )
        .map_err(|e| GatewayError::HostStack(Port::Wan, e))?;
        let mut id = [0u8; 2];
        rng.fill(&mut id);

        let iface = &config.interface;
        let mut engine = Engine::new(*iface.private_key.expose(), iface.listen_port, rng);
        engine.set_mtu(iface.mtu as usize);
        let mut max_id = 0usize;
        for (index, p) in config.peers.iter().enumerate() {
            let cfg = wireguard::PeerConfig {
                public_key: p.public_key,
                preshared_key: p.preshared_key.as_ref().map(|s| *s.expose()),
                endpoint: p.endpoint,
                allowed_ips: p.allowed_ips.clone(),
                persistent_keepalive: p.persistent_keepalive,
            };
            let id = engine
                .add_peer(&cfg)
                .map_err(|error| GatewayError::Peer { index, error })?;
            max_id = max_id.max(id.0 as usize + 1);
        }
        let mut queues = Vec::with_capacity(max_id);
        queues.resize_with(max_id, PendingQueue::new);
        let tunnel_addr = iface.addresses.iter().find_map(|p| match p.addr {
            IpAddr::V4(a) => Some((a, p.len)),
            IpAddr::V6(_) => None,
        });
        let table = || {
            NeighTable::new(
                NEIGH_ENTRIES,
                NeighTimers::default(),
                QueuePolicy::DropOldest,
            )
        };
        Ok(Gateway {
            engine,
            lan: PortState {
                mac: lan_mac,
                addr: Some((lan_ip, lan_len)),
                gateway: config.lan.gateway,
                neigh: table(),
                host: lan_host,
            },
            wan: PortState {
                mac: wan_mac,
                addr: wan_addr,
                gateway: config.wan.gateway,
                neigh: table(),
                host: wan_host,
            },
            tunnel_addr,
            listen_port: iface.listen_port,
            mtu: iface.mtu,
            mss: iface.mss_limit(),
            queues,
            counters: GatewayCounters::default(),
            ip_id: IpId::new(u16::from_le_bytes(id)),
            scratch: [0; SCRATCH],
            config: config.clone(),
            unreachable: Vec::with_capacity(UNREACHABLE_STASH),
            next_tick_ns: 0,
            host_pending: false,
            own_echo: console::OwnEcho::default(),
            lan_stage: Vec::with_capacity(wireguard::aead::MAX_BURST),
            wan_stage: Vec::with_capacity(wireguard::aead::MAX_BURST),
        })
    }

    /// The WireGuard engine (for `wg show`: `peer_ids`, `peer_status`, `status`).
    pub fn engine(&self) -> &Engine<R, A> {
        &self.engine
    }

    /// The engine, writable (run-time peer changes from the console).
    pub fn engine_mut(&mut self) -> &mut Engine<R, A> {
        &mut self.engine
    }

    /// Drop and traffic counters.
    pub fn counters(&self) -> &GatewayCounters {
        &self.counters
    }

    /// The configuration the gateway was built from (`Display` redacts keys).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A port's address and prefix length (`None`: DHCP has not answered yet).
    pub fn address(&self, port: Port) -> Option<(Ipv4Addr, u8)> {
        self.port(port).addr
    }

    /// A port's default gateway.
    pub fn default_gateway(&self, port: Port) -> Option<Ipv4Addr> {
        self.port(port).gateway
    }

    /// The appliance's tunnel address.
    pub fn tunnel_address(&self) -> Option<(Ipv4Addr, u8)> {
        self.tunnel_addr
    }

    /// The tunnel MTU.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The MSS that SYNs crossing the tunnel are clamped to, if clamping is on.
    pub fn mss_limit(&self) -> Option<u16> {
        self.mss
    }

    /// A port's neighbour table (`ip neigh`).
    pub fn neighbours(&self, port: Port) -> impl Iterator<Item = NeighInfo> + '_ {
        self.port(port).neigh.entries()
    }

    /// Packets waiting for `peer`'s handshake.
    pub fn queued(&self, peer: PeerId) -> usize {
        self.queues.get(peer.0 as usize).map_or(0, |q| q.len())
    }

    /// A port's host stack (the console's `ping` sends through it; replies
    /// and its frames travel through `process_*` and `tick`).
    pub fn host_stack_mut(&mut self, port: Port) -> &mut HostStack {
        self.host_pending = true;
        &mut self.port_mut(port).host
    }

    pub(crate) fn port(&self, port: Port) -> &PortState<B> {
        match port {
            Port::Lan => &self.lan,
            Port::Wan => &self.wan,
        }
    }

    pub(crate) fn port_mut(&mut self, port: Port) -> &mut PortState<B> {
        match port {
            Port::Lan => &mut self.lan,
            Port::Wan => &mut self.wan,
        }
    }

    /// True for a unicast address of the appliance itself.
    pub(crate) fn is_own_address(&self, ip: Ipv4Addr) -> bool {
        self.lan.ip() == Some(ip)
            || self.wan.ip() == Some(ip)
            || self.tunnel_addr.map(|(a, _)| a) == Some(ip)
    }

    /// Frees `buf` and counts the drop.
    pub(crate) fn drop_buf<P: BufPool<B>>(&mut self, buf: B, reason: DropReason, pool: &mut P) {
        pool.free(buf);
        self.counters.drop(reason);
    }

    /// Sends the Ethernet frame in `buf` (destination MAC still to fill) to
    /// the next hop `hop` on `port`, through the neighbour table.
    pub(crate) fn emit<P: BufPool<B>>(
        &mut self,
        port: Port,
        hop: Ipv4Addr,
        buf: B,
        now: Time,
        out: &mut TxLists<B>,
        pool: &mut P,
    ) {
        let st = self.port_mut(port);
        match st.neigh.resolve(hop, buf, now.mono_ns) {
            Resolve::Ready {
                mac,
                mut item,
                refresh,
            } => {
                set_dst_mac(&mut item, &mac);
                push_tx(out, port, item, pool, &mut self.counters);
                if refresh {
                    self.arp_request(port, hop, out, pool);
                }
            }
            Resolve::Queued { send_request } => {
                if send_request {
                    self.arp_request(port, hop, out, pool);
                }
            }
            Resolve::Dropped { item, reason } => self.drop_buf(item, reason, pool),
        }
    }
}

/// Writes the destination MAC of the Ethernet frame in `buf`.
pub(crate) fn set_dst_mac<B: PacketBuffer>(buf: &mut B, mac: &Mac) {
    let s = buf.start();
    if let Some(d) = buf.slot_mut().get_mut(s..s + 6) {
        d.copy_from_slice(mac);
    }
}

/// Queues `buf` on `port`'s transmit list; a full list frees and counts it.
pub(crate) fn push_tx<B, P: BufPool<B>>(
    out: &mut TxLists<B>,
    port: Port,
    buf: B,
    pool: &mut P,
    counters: &mut GatewayCounters,
) {
    if let Err(buf) = out.push(port, buf) {
        pool.free(buf);
        counters.drop(DropReason::RingFull);
    }
}

/// The counter for a packet the engine refused.
pub fn engine_drop_reason(e: wireguard::Error) -> DropReason {
    use wireguard::Error as E;
    match e {
        E::Malformed | E::UnknownType | E::BadLength | E::UnknownReceiver => {
            DropReason::BadWireGuard
        }
        E::BadMac1 | E::BadTag => DropReason::BadMac,
        E::UnknownPeer
        | E::BadHandshake
        | E::LowOrderKey
        | E::StaleTimestamp
        | E::InitiationFlood
        | E::UnexpectedResponse
        | E::UnexpectedCookie
        | E::BadCookieReply => DropReason::BadHandshake,
        E::RateLimited => DropReason::RateLimited,
        E::Replay | E::TooOld => DropReason::Replay,
        E::SessionExpired => DropReason::SessionExpired,
        E::BadInnerPacket => DropReason::BadIpv4Header,
        E::AllowedIpsMismatch => DropReason::AllowedIpsMismatch,
        E::NoPeerForDestination | E::NoSuchPeer => DropReason::NoRoute,
        E::NoEndpoint => DropReason::NoEndpoint,
        E::NoRoom => DropReason::NoBuffer,
        // Causes added to the engine later (and a derived key the AEAD
        // refuses) count as a failed handshake until they get their own name.
        #[allow(unreachable_patterns)]
        _ => DropReason::BadHandshake,
    }
}
