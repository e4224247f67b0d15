//! The machine the shell runs against, and the console side of the poll loop.
//!
//! [`Kernel`] holds what bring-up found (CPU, memory, PCI functions, the DMA
//! region still to be handed to drivers) and implements the shell's
//! [`Machine`] trait over the real hardware. [`ConsoleLoop`] is called once
//! per poll-loop iteration: it drains the bytes waiting in the UART into the
//! line editor, runs a command when a line is complete, advances a running
//! command, and returns without ever waiting for input.

use alloc::vec::Vec;
use core::fmt::Write;

use drivers::hal::DmaRegion;
use log::LevelFilter;
use ringwall_kernel::console::capture::CaptureArgs;
use ringwall_kernel::console::commands::{commands, Machine};
use ringwall_kernel::console::gateway::GatewayConsole;
use ringwall_kernel::console::job::JobSlot;
use ringwall_kernel::console::line::{Event, LineEditor};
use ringwall_kernel::console::logfilter::LogFilter;
use ringwall_kernel::console::ping::{PingArgs, Progress};
use ringwall_kernel::console::shell::{CmdError, Outcome, Shell};
use ringwall_kernel::cpu::CpuInfo;
use ringwall_kernel::mem::{MemInfo, MemoryMap};
use ringwall_kernel::net::gw::NetJob;
use ringwall_kernel::net::{Net, NetConsole};
use ringwall_kernel::pci::PciFunction;
use ringwall_kernel::PROMPT;

use super::nic::Nic;
use super::serial::{self, Console, RawConsole};
use super::{heap, memory};
use crate::arch::x86_64::{boot, power, rtc, tsc};

/// Everything bring-up found, and the hardware behind the shell's commands.
pub struct Kernel {
    /// CPU identification.
    pub cpu: CpuInfo,
    /// XCR0 in effect.
    pub xcr0: u64,
    /// The firmware memory map.
    pub map: MemoryMap,
    /// The DMA region as reserved (start, length).
    pub dma: (u64, usize),
    /// The DMA region, until the NIC drivers take it.
    #[allow(dead_code)] // what NIC bring-up left: nothing today
    pub dma_region: Option<DmaRegion>,
    /// PCI functions found at boot; drivers set `driver` when they bind.
    pub pci: Vec<PciFunction>,
    /// The NIC ports and their pool (none without DMA memory).
    pub net: Option<Net<Nic>>,
    /// The console's running `ping` or `capture`.
    pub jobs: JobSlot,
}

impl Machine for Kernel {
    fn now_ns(&self) -> u64 {
        tsc::now_ns()
    }

    fn unix_time_ns(&self) -> Option<u64> {
        rtc::unix_time_ns()
    }

    fn mem_info(&self) -> MemInfo<'_> {
        let (heap_used, heap_size) = heap::usage();
        MemInfo {
            map: &self.map,
            kernel: boot::kernel_range(),
            heap_used,
            heap_size,
            dma: self.dma,
            free: memory::free_bytes(),
        }
    }

    fn cpu_info(&self) -> &CpuInfo {
        &self.cpu
    }

    fn xcr0(&self) -> u64 {
        self.xcr0
    }

    fn tsc(&self) -> (u64, &'static str) {
        tsc::frequency()
    }

    fn pci_functions(&self) -> &[PciFunction] {
        &self.pci
    }

    fn net(&mut self) -> Option<&mut dyn NetConsole> {
        self.net.as_mut().map(|n| n as &mut dyn NetConsole)
    }

    fn show_boot_config(&mut self, out: &mut dyn Write) -> Result<bool, core::fmt::Error> {
        if self.net.as_ref().is_some_and(|n| n.gateway.is_some()) {
            return Ok(false);
        }
        match super::nic::BOOT_CONFIG.lock().as_deref() {
            Some(text) => {
                writeln!(
                    out,
                    "# gateway not running; the configuration read at boot:"
                )?;
                out.write_str(text)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn gateway(&mut self) -> Option<&mut dyn GatewayConsole> {
        self.net.as_mut().map(|n| n as &mut dyn GatewayConsole)
    }

    fn start_ping(&mut self, args: PingArgs, out: &mut dyn Write) -> Result<Outcome, CmdError> {
        if self.net.as_ref().is_none_or(|n| n.gateway.is_none()) {
            return Err(CmdError::Unsupported("the gateway is not running"));
        }
        self.jobs.start_ping(args, tsc::now_ns(), out)?;
        Ok(Outcome::Running)
    }

    fn start_capture(
        &mut self,
        args: CaptureArgs,
        out: &mut dyn Write,
    ) -> Result<Outcome, CmdError> {
        let Some(net) = self.net.as_mut().filter(|n| n.gateway.is_some()) else {
            return Err(CmdError::Unsupported("the gateway is not running"));
        };
        let mut job = NetJob {
            net,
            now_ns: tsc::now_ns(),
        };
        self.jobs.start_capture(args, &mut job, out)?;
        Ok(Outcome::Running)
    }

    fn poll_job(&mut self, out: &mut dyn Write) -> Outcome {
        let now_ns = tsc::now_ns();
        let progress = match self.net.as_mut() {
            Some(net) => self.jobs.poll(now_ns, &mut NetJob { net, now_ns }, out),
            None => Progress::Finished,
        };
        match progress {
            Progress::Running => Outcome::Running,
            Progress::Finished => Outcome::Done,
        }
    }

    fn interrupt_job(&mut self, out: &mut dyn Write) {
        let now_ns = tsc::now_ns();
        if let Some(net) = self.net.as_mut() {
            self.jobs
                .interrupt(now_ns, &mut NetJob { net, now_ns }, out);
        }
    }

    fn log_level(&self) -> LevelFilter {
        serial::log_filter().base()
    }

    fn set_log_level(&mut self, level: LevelFilter) {
        serial::set_log_level(level);
    }

    fn set_module_level(&mut self, module: &str, level: LevelFilter) -> Result<(), CmdError> {
        serial::set_module_level(module, level)
            .map_err(|_| CmdError::BadValue("a module is a Rust path such as nic or netfn"))
    }

    fn log_filter(&self) -> Option<LogFilter> {
        Some(serial::log_filter())
    }

    fn reboot(&mut self) -> CmdError {
        power::reboot()
    }

    fn poweroff(&mut self) -> CmdError {
        CmdError::Failed(power::poweroff())
    }

    #[cfg(debug_assertions)]
    fn crash(&mut self, how: &str) -> CmdError {
        match how {
            "divide" => {
                // Safety: deliberately raises #DE to test the exception path;
                // the handler never returns here.
                unsafe {
                    core::arch::asm!("xor edx, edx", "xor ecx, ecx", "div ecx",
                        out("eax") _, out("ecx") _, out("edx") _);
                }
                CmdError::Failed("the CPU did not fault")
            }
            "panic" => panic!("crash command"),
            _ => {
                // Safety: deliberately reads the unmapped null page to raise
                // #PF; the handler never returns here.
                unsafe {
                    core::arch::asm!("mov rax, [8]", out("rax") _);
                }
                CmdError::Failed("the CPU did not fault")
            }
        }
    }
}

/// The console half of the poll loop.
pub struct ConsoleLoop {
    editor: LineEditor,
    shell: Shell,
}

/// Bytes taken from the UART per loop iteration, so a paste cannot starve
/// the data path.
const BYTES_PER_POLL: usize = 64;

impl ConsoleLoop {
    /// A fresh console; prints the first prompt.
    pub fn new() -> Self {
        serial::write_bytes(PROMPT.as_bytes());
        ConsoleLoop {
            editor: LineEditor::new(),
            shell: Shell::new(),
        }
    }

    /// Handles whatever input is waiting; never blocks.
    pub fn poll(&mut self, k: &mut Kernel) {
        for _ in 0..BYTES_PER_POLL {
            let Some(b) = serial::try_read() else { break };
            match self.editor.feed(b, &mut RawConsole) {
                Event::None => {}
                Event::Interrupt => {
                    self.shell.interrupt_to(k, &mut Console);
                    serial::write_bytes(PROMPT.as_bytes());
                }
                Event::Submit => {
                    let line = self.editor.take_line();
                    if self.shell.busy() {
                        crate::kprintln!("busy: Ctrl-C stops the running command");
                        continue;
                    }
                    let done = self
                        .shell
                        .run_line(commands(), line.as_str(), k, &mut Console);
                    if done == Outcome::Done {
                        serial::write_bytes(PROMPT.as_bytes());
                    }
                }
            }
        }
        if self.shell.busy() && self.shell.poll(k, &mut Console) == Outcome::Done {
            serial::write_bytes(PROMPT.as_bytes());
        }
    }
}

impl Default for ConsoleLoop {
    fn default() -> Self {
        Self::new()
    }
}
