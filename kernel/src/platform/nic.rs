//! NIC bring-up: PCI functions to running ports.
//!
//! Walks the functions enumeration found, in PCI order, and claims what the
//! drivers know: virtio-net (modern or legacy transport), Intel 8254x/82574,
//! and virtio-rng (kept as an entropy source). For each it enables decoding
//! and bus mastering, maps the register BARs (64-bit BARs above 4 GiB through
//! `paging::map_mmio`), starts the driver with memory from the DMA region,
//! and records the driver's name on the function for the `pci` command.
//! Ports are named lan, wan, eth2... in the order they come up and get their
//! address from the configuration module or the command line
//! (`ringwall_kernel::net::addr`).
//!
//! Every port is a [`Nic`]: one enum over the concrete driver types, so the
//! poll loop calls drivers without dynamic dispatch or allocation.

use alloc::vec::Vec;

use drivers::buf::{Burst, PacketPool, BUF_SIZE};
use drivers::hal::DmaRegion;
use drivers::intel::{self, IntelNic};
use drivers::netdev::{NetDevice, NicStats};
use drivers::pci::{self, command, Bar, Bdf};
use drivers::virtio::net::{Event, VirtioNet};
use drivers::virtio::rng::{EntropySource, VirtioRng};
use drivers::virtio::{self, AnyTransport, DeviceType};
use log::{error, info, warn};
use netfn::config::Config;
use netfn::hoststack::HostStack;
use ringwall_kernel::boot::Cmdline;
use ringwall_kernel::entropy::GatewayRng;
use ringwall_kernel::net::addr::{self, MAX_PORTS};
use ringwall_kernel::net::gw::GatewayPlane;
use ringwall_kernel::net::show::MacAddr;
use ringwall_kernel::net::{Addressing, Net, Port, PortDevice};
use ringwall_kernel::pci::PciFunction;
use spin::Mutex;
use zeroize::Zeroize;

use super::hal::{Mechanism1, MmioRegs, PortRegs};
use crate::arch::x86_64::tsc::TscDelay;
use crate::arch::x86_64::{paging, rand, rtc, tsc};

/// The virtio transport over the kernel's register blocks.
type Transport = AnyTransport<MmioRegs, PortRegs>;

/// Packet buffers at most (4 MiB of 2 KiB slots), and at most half the region.
const POOL_BUFFERS: usize = 2048;

/// A port's driver, whichever NIC it is.
pub enum Nic {
    /// virtio-net over either transport.
    Virtio(VirtioNet<Transport>),
    /// Intel e1000 / e1000e.
    Intel(IntelNic<MmioRegs, TscDelay>),
}

/// Forwards a call to the driver inside.
macro_rules! each {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            Nic::Virtio($d) => $e,
            Nic::Intel($d) => $e,
        }
    };
}

impl NetDevice for Nic {
    fn driver_name(&self) -> &'static str {
        each!(self, d => d.driver_name())
    }
    fn mac(&self) -> [u8; 6] {
        each!(self, d => d.mac())
    }
    fn link_up(&mut self) -> bool {
        each!(self, d => d.link_up())
    }
    fn mtu(&self) -> usize {
        each!(self, d => d.mtu())
    }
    fn rx_burst(&mut self, pool: &mut PacketPool, out: &mut Burst) -> usize {
        each!(self, d => d.rx_burst(pool, out))
    }
    fn tx_burst(&mut self, pool: &mut PacketPool, bufs: &mut Burst) -> usize {
        each!(self, d => d.tx_burst(pool, bufs))
    }
    fn maintain(&mut self, pool: &mut PacketPool) {
        match self {
            // `check` says why a reset happened and whether it worked; link
            // changes are logged by the port, which sees them for every model.
            Nic::Virtio(d) => match d.check(pool) {
                Some(e @ Event::RecoveryFailed(_)) => {
                    error!("virtio-net {}: {e}", MacAddr(d.mac()))
                }
                Some(e @ Event::Recovered) => warn!("virtio-net {}: {e}", MacAddr(d.mac())),
                Some(Event::LinkUp | Event::LinkDown) | None => {}
            },
            Nic::Intel(d) => d.maintain(pool),
        }
    }
    fn stats(&self) -> &NicStats {
        each!(self, d => d.stats())
    }
    fn reset_stats(&mut self) {
        each!(self, d => d.reset_stats())
    }
}

impl PortDevice for Nic {
    fn link_speed(&self) -> Option<(u32, bool)> {
        match self {
            // virtio-net's speed field needs VIRTIO_NET_F_SPEED_DUPLEX, which
            // the driver does not negotiate.
            Nic::Virtio(_) => None,
            Nic::Intel(d) => {
                let l = d.link_info();
                Some((l.speed_mbps, l.full_duplex))
            }
        }
    }
}

impl Nic {
    /// Stops the device and returns every buffer it holds to `pool`.
    fn release(&mut self, pool: &mut PacketPool) {
        match self {
            Nic::Virtio(d) => d.release_all(pool),
            Nic::Intel(d) => d.release_all(pool),
        }
    }
}

/// The virtio-rng device, once found: the entropy source behind
/// `rand::fill_random` when the CPU has no RDRAND/RDSEED.
static RNG: Mutex<Option<RngCell>> = Mutex::new(None);

/// The configuration read at boot, printed with keys redacted, for `config`
/// when no gateway runs it (no ports to run it on, say).
pub static BOOT_CONFIG: Mutex<Option<alloc::string::String>> = Mutex::new(None);

/// Lets the rng driver (which holds raw register pointers) live in a static.
struct RngCell(VirtioRng<Transport>);

// Safety: the kernel runs on one core with no interrupt handlers touching the
// rng; the mutex serialises every use, and the pointers are identity-mapped
// device registers valid for the kernel's lifetime.
unsafe impl Send for RngCell {}

/// Fills `buf` from virtio-rng; false when there is none or it gave too little.
fn virtio_random(buf: &mut [u8]) -> bool {
    let mut rng = RNG.lock();
    let Some(cell) = rng.as_mut() else {
        return false;
    };
    let mut done = 0;
    // Bounded: each `fill` spends a bounded poll budget.
    for _ in 0..16 {
        if done == buf.len() {
            return true;
        }
        done += cell.0.fill(&mut buf[done..]);
    }
    done == buf.len()
}

/// Maps a memory BAR uncached.
fn map_mem(_index: u8, bar: Bar) -> Option<MmioRegs> {
    match bar {
        Bar::Memory { addr, size, .. } => {
            let base = paging::map_mmio(addr, size).ok()?;
            Some(MmioRegs {
                base,
                len: usize::try_from(size).ok()?,
            })
        }
        Bar::Io { .. } => None,
    }
}

/// Wraps an I/O BAR.
fn map_io(_index: u8, bar: Bar) -> Option<PortRegs> {
    match bar {
        Bar::Io { port, .. } => Some(PortRegs {
            base: u16::try_from(port).ok()?,
        }),
        Bar::Memory { .. } => None,
    }
}

/// Parses the configuration module, printing every error with its line.
fn load_config(module: Option<&[u8]>) -> Option<Config> {
    let bytes = module?;
    match netfn::config::parse_bytes(bytes) {
        Ok(c) => {
            info!("config: parsed; port addresses from [LAN]/[WAN]");
            *BOOT_CONFIG.lock() = Some(alloc::format!("{c}"));
            Some(c)
        }
        Err(errors) => {
            for e in &errors {
                error!("config: {e}");
            }
            error!(
                "config: {} error(s); not used (addresses from the command line)",
                errors.len()
            );
            None
        }
    }
}

/// A random seed for a host stack (TCP/DHCP identifiers), zero without entropy.
fn seed() -> u64 {
    let mut b = [0u8; 8];
    match rand::fill_random(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => tsc::now_ns(),
    }
}

/// What a driver made of a PCI function.
#[allow(clippy::large_enum_variant)] // one per function, moved once at boot
enum Claim {
    /// A network port.
    Port(Nic),
    /// The virtio entropy source (kept in [`RNG`]).
    Entropy,
}

/// Starts a driver for `f` if one knows it.
fn claim(f: &PciFunction, dma: &mut DmaRegion, pool: &mut PacketPool) -> Option<Claim> {
    let cfg = Mechanism1;
    if let Some(v) = virtio::probe(&cfg, f.bdf) {
        let t = match virtio::open(&cfg, &v, map_mem, map_io) {
            Ok(t) => t,
            Err(e) => {
                error!("{}: virtio transport: {e}", f.bdf);
                return None;
            }
        };
        return match v.device {
            DeviceType::Net => match VirtioNet::new(t, dma, pool) {
                Ok(n) => Some(Claim::Port(Nic::Virtio(n))),
                Err(e) => {
                    error!("{}: virtio-net: {e}", f.bdf);
                    None
                }
            },
            DeviceType::Rng => match VirtioRng::new(t, dma) {
                Ok(r) => {
                    *RNG.lock() = Some(RngCell(r));
                    rand::set_fallback(virtio_random);
                    let mut probe = [0u8; 16];
                    let answers = virtio_random(&mut probe);
                    let usable = rand::fill_random(&mut probe).is_ok();
                    info!(
                        "{}: virtio-rng: entropy source ({}); kernel entropy {}",
                        f.bdf,
                        if answers { "answering" } else { "silent" },
                        if usable { "available" } else { "unavailable" }
                    );
                    Some(Claim::Entropy)
                }
                Err(e) => {
                    error!("{}: virtio-rng: {e}", f.bdf);
                    None
                }
            },
        };
    }
    let model = intel::probe(f.vendor, f.device)?;
    // BAR0 as sized at enumeration (sizing again would briefly move it).
    let regs = f.bars[0].and_then(|bar| map_mem(0, bar));
    let Some(mut regs) = regs else {
        error!(
            "{}: {}: BAR0 is not a memory BAR",
            f.bdf,
            model.driver_name()
        );
        return None;
    };
    regs.len = regs.len.min(intel::MMIO_BAR_LEN);
    pci::enable(
        &cfg,
        f.bdf,
        command::MEMORY_SPACE | command::BUS_MASTER | command::INTERRUPT_DISABLE,
    );
    match IntelNic::new(model, regs, TscDelay, dma, pool) {
        Ok(n) => Some(Claim::Port(Nic::Intel(n))),
        Err(e) => {
            error!("{}: {}: {e:?}", f.bdf, model.driver_name());
            None
        }
    }
}

/// Brings up every NIC in `pci` and returns the data plane, or `None`
/// without DMA memory.
pub fn bring_up(
    pci: &mut [PciFunction],
    dma: Option<DmaRegion>,
    opts: &Cmdline<'_>,
    config_module: Option<&[u8]>,
) -> Option<Net<Nic>> {
    let Some(mut dma) = dma else {
        warn!("net: no DMA region; no ports");
        return None;
    };
    let config = load_config(config_module);
    let buffers = POOL_BUFFERS.min(dma.len / 2 / BUF_SIZE);
    let Some(pool_mem) = dma.take(buffers * BUF_SIZE, 4096) else {
        warn!("net: DMA region too small for packet buffers; no ports");
        return None;
    };
    let mut pool = PacketPool::new(pool_mem);
    let mut nics: Vec<(Bdf, Nic)> = Vec::new();
    for f in pci.iter_mut() {
        match claim(f, &mut dma, &mut pool) {
            Some(Claim::Port(nic)) => {
                f.driver = Some(nic.driver_name());
                nics.push((f.bdf, nic));
            }
            Some(Claim::Entropy) => f.driver = Some("virtio-rng"),
            None => {}
        }
    }
    let ids: Vec<(Bdf, [u8; 6])> = nics.iter().map(|(b, n)| (*b, n.mac())).collect();
    let roles = addr::assign_roles(&ids, config.as_ref(), &mut |e| error!("config: {e}"));
    let mut by_role: Vec<(usize, Bdf, Nic)> = roles
        .into_iter()
        .zip(nics)
        .map(|(r, (b, n))| (r, b, n))
        .collect();
    by_role.sort_by_key(|(r, _, _)| *r);
    let mut ports = Vec::new();
    for (role, bdf, mut nic) in by_role {
        let Some(name) = addr::port_name(role) else {
            warn!("{bdf}: more than {MAX_PORTS} ports; left unused");
            nic.release(&mut pool);
            continue;
        };
        let addressing = match addr::choose(role, config.as_ref(), |k| opts.get(k)) {
            Ok(a) => a,
            Err(e) => {
                error!("{name}: address: {e}");
                Addressing::None
            }
        };
        let gateway = addr::gateway(role, config.as_ref());
        let mac = nic.mac();
        let now_ms = (tsc::now_ns() / 1_000_000) as i64;
        let host = match addressing {
            Addressing::None => None,
            Addressing::Static(a, l) => {
                HostStack::new(mac, Some((a, l)), gateway, false, seed(), now_ms).ok()
            }
            Addressing::Dhcp => HostStack::new(mac, None, None, true, seed(), now_ms).ok(),
        };
        let mut port = Port::new(name, Some(bdf), nic, addressing, host);
        info!(
            "{name}: {} at {bdf}, mac {}, link {}, address {}",
            port.dev.driver_name(),
            MacAddr(port.mac()),
            if port.dev.link_up() { "up" } else { "down" },
            Shown(addressing)
        );
        ports.push(port);
    }
    info!(
        "net: {} port(s), {} packet buffers, {} KiB DMA left",
        ports.len(),
        pool.capacity(),
        dma.len / 1024
    );
    let mut net = Net::new(ports, pool);
    match config {
        Some(c) => start_gateway(&mut net, &c),
        None => warn!("gateway: no valid configuration; forwarding nothing"),
    }
    Some(net)
}

/// Builds the WireGuard gateway over the LAN and WAN ports, or says on the
/// console why it cannot run.
fn start_gateway(net: &mut Net<Nic>, config: &Config) {
    let mut probe = [0u8; 32];
    if rand::fill_random(&mut probe).is_err() {
        error!("gateway: no entropy source (neither RDRAND/RDSEED nor virtio-rng); not started");
        return;
    }
    let [lan, wan, ..] = net.ports.as_slice() else {
        error!(
            "gateway: needs a LAN and a WAN port, found {}; not started",
            net.ports.len()
        );
        return;
    };
    let (lan_mac, wan_mac) = (lan.mac(), wan.mac());
    let now = tsc::now_ns();
    let unix = rtc::unix_time_ns();
    if unix.is_none() {
        // Handshake timestamps (TAI64N) then count from boot: a peer that
        // saw a later one before this boot refuses ours until it restarts.
        warn!("gateway: wall clock unknown; peers may refuse handshakes after a reboot");
    }
    // The probe's bytes seed the generator, then are wiped.
    let rng = GatewayRng::new(&probe, hardware_random);
    probe.zeroize();
    match GatewayPlane::new(config, lan_mac, wan_mac, rng, now, unix) {
        Ok(g) => {
            if net.start_gateway(g) {
                info!(
                    "gateway: up ({} peer(s), listen port {}, mtu {})",
                    config.peers.len(),
                    config.interface.listen_port,
                    config.interface.mtu
                );
            }
        }
        Err(e) => error!("gateway: {e:?}; not started"),
    }
}

/// The hardware entropy source behind the gateway's generator: RDSEED/
/// RDRAND, or virtio-rng without them.
fn hardware_random(buf: &mut [u8]) -> bool {
    rand::fill_random(buf).is_ok()
}

/// Prints an [`Addressing`] for the boot log.
struct Shown(Addressing);

impl core::fmt::Display for Shown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Addressing::None => f.write_str("none"),
            Addressing::Static(a, l) => write!(f, "{a}/{l}"),
            Addressing::Dhcp => f.write_str("dhcp"),
        }
    }
}
