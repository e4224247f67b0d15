//! The Ringwall kernel binary: machine bring-up, then the poll loop.
//!
//! Built for the host target (`x86_64-unknown-linux-gnu`) as a freestanding
//! image: `build.rs` links it with our own `linker.ld`, no C runtime and no
//! libc; `platform/memfns.rs` supplies the C memory functions `core` calls.
//! Boot goes `_start32` (arch/x86_64/boot.rs) → `kmain` below, which brings
//! the machine up in dependency order and then runs the loop forever:
//!
//! ```text
//! loop { every 500 µs: console.poll(); dataplane.poll(now); every 250 ms: dataplane.maintain(now) }
//! ```
//!
//! The data path is `platform::nic`'s ports, brought up before the loop;
//! with a valid configuration the WireGuard gateway runs over the LAN and
//! WAN ports (`ringwall_kernel::net::gw`).
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod platform;

use alloc::vec::Vec;

use arch::x86_64::{boot, cpu, gdt, idt, paging, pio, power, rand, rtc, tsc};
use log::{error, info, warn, LevelFilter};
use platform::hal::{IdentityMem, Mechanism1};
use platform::machine::{ConsoleLoop, Kernel};
use platform::{memory, panic, serial};
use ringwall_kernel::acpi::{self, scan_for_rsdp, Rsdp};
use ringwall_kernel::boot::{multiboot, BootInfo, PhysMem};
use ringwall_kernel::console::commands::parse_level;
use ringwall_kernel::console::job::JobSlot;
use ringwall_kernel::fmt::{Duration, Size};
use ringwall_kernel::poll::{Dataplane, Idle, Ticker, CONSOLE_POLL_NS, MAINTAIN_INTERVAL_NS};
use ringwall_kernel::time::UtcTime;
use ringwall_kernel::{GIT_COMMIT, VERSION};

/// The 64-bit entry point, called by the boot trampoline with the Multiboot
/// magic and the physical address of the boot information.
#[unsafe(no_mangle)]
pub extern "C" fn kmain(magic: u32, info_addr: u32) -> ! {
    tsc::mark_boot();
    serial::init();
    kprintln!("\nRingwall {VERSION} (git {GIT_COMMIT}) booting");
    gdt::init();
    idt::init();
    mask_legacy_pics();

    let (cpu, xcr0) = cpu::init();
    rand::init(cpu.features.rdrand, cpu.features.rdseed);
    // Calibrate before anything logs, so every log line has a real timestamp.
    let exact = !cpu::under_hypervisor() && cpu.tsc_hz_cpuid.is_some() && cpuid_15_exact();
    let hz = tsc::calibrate(cpu.tsc_hz_cpuid, exact);
    ringwall_kernel::net::profile::set_tsc_hz(hz);

    let boot_info = multiboot::parse(&IdentityMem, magic, info_addr.into());
    let bi = match boot_info {
        Ok(bi) => bi,
        Err(e) => panic!("cannot read the boot information: {e:?}"),
    };
    let opts = bi.options();
    panic::configure(opts.get("panic"));
    let level = opts
        .get("log")
        .and_then(parse_level)
        .unwrap_or(LevelFilter::Info);
    serial::init_log(level);
    info!(
        "booted by {:?} ({}), command line: {:?}",
        bi.protocol, bi.loader, bi.cmdline
    );

    let text = boot::text_range();
    let (_, image_end) = boot::kernel_range();
    if let Err(e) = paging::init(text, image_end, cpu.features.nx, &bi.memory) {
        panic!("cannot build the page tables: {e:?}");
    }
    info!(
        "paging: identity map, NX {}, {} table pages",
        on(cpu.features.nx),
        paging::tables_used()
    );

    info!(
        "cpu: {} {}, xcr0={xcr0:#x}, tsc {}.{:03} MHz ({})",
        cpu.vendor_str(),
        cpu.brand_str(),
        hz / 1_000_000,
        hz / 1000 % 1000,
        tsc::frequency().1
    );
    // The burst AEAD's path, now that XCR0 says which vector state is on.
    let path = netfn::simd::detect();
    match netfn::simd::set_path(path) {
        Ok(()) => info!("burst aead: {}", path.name()),
        Err(e) => warn!("burst aead: {} refused ({e:?})", path.name()),
    }

    let mem = match memory::init(&bi) {
        Ok(m) => m,
        Err(e) => panic!("cannot set up memory: {e:?}"),
    };
    let (heap_used, heap_size) = platform::heap::usage();
    info!(
        "memory: {} usable, heap {} ({} used), dma {} at {:#x}",
        Size(bi.memory.usable_bytes()),
        Size(heap_size as u64),
        Size(heap_used as u64),
        Size(mem.dma.1 as u64),
        mem.dma.0
    );

    let century = init_acpi(&bi);
    match rtc::init(century) {
        Ok(secs) => info!("clock: {}", UtcTime(secs * 1_000_000_000)),
        Err(e) => warn!("clock: RTC unreadable ({e:?}); wall clock unknown"),
    }
    let mut probe = [0u8; 8];
    if rand::fill_random(&mut probe).is_err() {
        warn!("entropy: no RDSEED/RDRAND; keys and handshakes will be refused");
    }

    let mut pci = Vec::new();
    ringwall_kernel::pci::enumerate(&Mechanism1, &mut |f| pci.push(f));
    info!("pci: {} functions", pci.len());

    match bi.modules().next() {
        Some(m) => info!("config: {} bytes from module {:?}", m.bytes.len(), m.name),
        None => info!("config: no configuration module; console only"),
    }
    let mut dma_region = mem.dma_region;
    let config = bi.modules().next().map(|m| m.bytes);
    let net = platform::nic::bring_up(&mut pci, dma_region.take(), &opts, config);

    let mut kernel = Kernel {
        cpu,
        xcr0,
        map: mem.map,
        dma: mem.dma,
        dma_region,
        pci,
        net,
        jobs: JobSlot::new(),
    };
    info!("ready in {}", Duration(tsc::now_ns()));
    run(&mut kernel)
}

/// The poll loop. Never returns.
fn run(kernel: &mut Kernel) -> ! {
    // The NIC ports (platform/nic.rs) when any came up, with the gateway
    // over LAN and WAN when configured. The console and the data plane take
    // turns on `kernel`.
    let mut idle = Idle;
    let mut console = ConsoleLoop::new();
    let mut ticker = Ticker::new(tsc::now_ns(), MAINTAIN_INTERVAL_NS);
    let mut console_due = Ticker::new(tsc::now_ns(), CONSOLE_POLL_NS);
    loop {
        if console_due.due(tsc::now_ns()) {
            let start = tsc::rdtsc();
            console.poll(kernel);
            if let Some(n) = kernel.net.as_mut() {
                n.record_console(tsc::rdtsc().wrapping_sub(start));
            }
        }
        let now = tsc::now_ns();
        let dataplane: &mut dyn Dataplane = match kernel.net.as_mut() {
            Some(n) => n,
            None => &mut idle,
        };
        let work = dataplane.poll(now);
        if ticker.due(now) {
            dataplane.maintain(now);
        }
        if let Some(n) = kernel.net.as_mut() {
            n.load.record(now, tsc::now_ns(), work);
        }
        if work == 0 {
            core::hint::spin_loop();
        }
    }
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// True when CPUID leaf 0x15 states the TSC frequency exactly.
fn cpuid_15_exact() -> bool {
    use ringwall_kernel::cpu::Cpuid;
    let max = cpu::HwCpuid.cpuid(0, 0)[0];
    max >= 0x15 && {
        let [a, b, c, _] = cpu::HwCpuid.cpuid(0x15, 0);
        a != 0 && b != 0 && c != 0
    }
}

/// Finds the RSDP (Multiboot2 copy, else the EBDA and BIOS area), reads the
/// power-off and reset information, and returns the RTC century register.
fn init_acpi(bi: &BootInfo<'_>) -> u8 {
    let mem = IdentityMem;
    let rsdp = bi.rsdp.map(Rsdp::parse).or_else(|| {
        // ACPI 6.5, 5.2.5.1: the first KiB of the EBDA, then 0xE0000..0xFFFFF.
        let ebda = mem
            .read(0x40e, 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])) << 4)
            .filter(|a| (0x8_0000..0xa_0000).contains(a));
        let areas = [(ebda.unwrap_or(0), 1024), (0xe_0000, 0x2_0000)];
        areas.iter().filter(|a| a.0 != 0).find_map(|&(base, len)| {
            let at = scan_for_rsdp(mem.read(base, len)?, base)?;
            Some(Rsdp::parse(mem.read(at, 36).or_else(|| mem.read(at, 20))?))
        })
    });
    let rsdp = match rsdp {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            error!("acpi: bad RSDP ({e:?}); poweroff falls back to QEMU's exit device");
            return 0;
        }
        None => {
            warn!("acpi: no RSDP; poweroff falls back to QEMU's exit device");
            return 0;
        }
    };
    match acpi::power_info(&mem, &rsdp) {
        Ok(p) => {
            info!(
                "acpi: rev {}, PM1a_CNT {:#x}, S5 {}, reset {}",
                rsdp.revision,
                p.pm1a_cnt.address,
                if p.s5.is_some() { "found" } else { "missing" },
                if p.reset.is_some() {
                    "register"
                } else {
                    "keyboard controller"
                }
            );
            let century = p.century;
            power::init(p);
            century
        }
        Err(e) => {
            error!("acpi: {e:?}; poweroff falls back to QEMU's exit device");
            0
        }
    }
}

/// Masks both 8259 PICs: Ringwall polls and never takes device interrupts,
/// and the PICs' BIOS vectors (8..15) would collide with exceptions.
fn mask_legacy_pics() {
    // Safety: ports 0x21/0xA1 are the PICs' interrupt mask registers.
    unsafe {
        pio::outb(0x21, 0xff);
        pio::outb(0xa1, 0xff);
    }
}
