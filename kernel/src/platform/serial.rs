//! COM1 at 115200 8N1: console output, non-blocking input and the logger.
//!
//! Output goes through one spin-locked port. The fatal paths (panic,
//! exceptions) do not take that lock, since the code that faulted may hold it;
//! they use [`PanicWriter`], a second handle on the same UART, accepting that
//! a half-written line may interleave with the dump.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use log::{LevelFilter, Log, Metadata, Record};
use ringwall_kernel::console::logfilter::{LogFilter, ModuleError};
use spin::Mutex;
use uart_16550::SerialPort;

use crate::arch::x86_64::pio::outb;
use crate::arch::x86_64::tsc;

const COM1: u16 = 0x3f8;

// Safety: 0x3f8 is COM1, which Ringwall owns; `init` programs it before use.
static PORT: Mutex<SerialPort> = Mutex::new(unsafe { SerialPort::new(COM1) });
static READY: AtomicBool = AtomicBool::new(false);

/// Programs COM1: 115200 baud, 8 data bits, no parity, 1 stop bit, FIFOs on,
/// interrupts off (the console is polled).
pub fn init() {
    PORT.lock().init();
    // uart_16550 programs 38400 baud; set divisor 1 (115200) and turn its
    // receive interrupt off again. 16550 registers: LCR +3 (bit 7 DLAB),
    // DLL +0, DLM +1, IER +1 (with DLAB clear).
    // Safety: COM1's registers, programmed while nothing else uses the port.
    unsafe {
        outb(COM1 + 3, 0x80);
        outb(COM1, 0x01);
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03);
        outb(COM1 + 1, 0x00);
    }
    READY.store(true, Ordering::Release);
}

/// Writes raw bytes (no newline translation) to the console.
pub fn write_bytes(b: &[u8]) {
    let mut p = PORT.lock();
    for &c in b {
        p.send_raw(c);
    }
}

/// A byte typed at the console, if one is waiting.
pub fn try_read() -> Option<u8> {
    PORT.lock().try_receive().ok()
}

/// Console output with `\n` turned into `\r\n` for terminals.
#[derive(Debug, Default, Clone, Copy)]
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut p = PORT.lock();
        for c in s.bytes() {
            if c == b'\n' {
                p.send_raw(b'\r');
            }
            p.send_raw(c);
        }
        Ok(())
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::platform::serial::Console, $($arg)*);
    }};
}

/// Prints a line to the console.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::platform::serial::Console, $($arg)*);
    }};
}

/// Console output exactly as given (the line editor's echo already says
/// `\r\n` where it means it).
#[derive(Debug, Default, Clone, Copy)]
pub struct RawConsole;

impl Write for RawConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Lock-free console output for the fatal paths.
pub struct PanicWriter(SerialPort);

impl PanicWriter {
    /// A handle on COM1 that ignores the console lock.
    pub fn take() -> Self {
        // Safety: COM1 exists on every PC and QEMU machine; if it was never
        // programmed, the bytes still reach QEMU's chardev at the power-on rate.
        PanicWriter(unsafe { SerialPort::new(COM1) })
    }
}

impl Write for PanicWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.bytes() {
            if c == b'\n' {
                self.0.send_raw(b'\r');
            }
            self.0.send_raw(c);
        }
        Ok(())
    }
}

/// The `log` backend: `[   12.345678] LEVEL target: message` on the console.
struct Logger;

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        if m.level() > log::max_level() {
            return false;
        }
        // A record logged while the console holds the filter (an exception
        // mid-update) is judged by the global level alone.
        match LOG_FILTER.try_lock() {
            Some(f) => f.allows(m.target(), m.level()),
            None => true,
        }
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) || !READY.load(Ordering::Acquire) {
            return;
        }
        let ns = tsc::now_ns();
        let target = r.target().strip_prefix("kernel::").unwrap_or(r.target());
        crate::kprintln!(
            "[{:5}.{:06}] {:<5} {}: {}",
            ns / 1_000_000_000,
            ns / 1_000 % 1_000_000,
            r.level(),
            target,
            r.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// The console's `log LEVEL [MODULE]` setting.
static LOG_FILTER: Mutex<LogFilter> = Mutex::new(LogFilter::new(LevelFilter::Info));

/// `log LEVEL`: everything at `level`, any module override dropped.
pub fn set_log_level(level: LevelFilter) {
    let mut f = LOG_FILTER.lock();
    f.set_base(level);
    log::set_max_level(f.max());
}

/// `log LEVEL MODULE`: `module` at `level`, everything else unchanged.
pub fn set_module_level(module: &str, level: LevelFilter) -> Result<(), ModuleError> {
    let mut f = LOG_FILTER.lock();
    f.set_module(module, level)?;
    log::set_max_level(f.max());
    Ok(())
}

/// The base level and the module override, for `log` without arguments.
pub fn log_filter() -> LogFilter {
    *LOG_FILTER.lock()
}

/// Installs the logger at `level`.
pub fn init_log(level: LevelFilter) {
    // Only fails if a logger is already set, which would be this one.
    let _ = log::set_logger(&LOGGER);
    set_log_level(level);
}
