//! The console's command table and the [`Machine`] trait commands run against.
//!
//! To add a command: write its `fn(&mut dyn Machine, &Args, &mut dyn Write)`
//! below, add one [`Command`] entry to `ALL` (keep `crash` last), and if it
//! needs the hardware, add a `Machine` method with a default body that returns
//! [`CmdError::Unsupported`] so fakes and older machines keep compiling.

use core::fmt::Write;

use log::LevelFilter;

use super::capture::CaptureArgs;
use super::gateway::GatewayConsole;
use super::logfilter::LogFilter;
use super::netcmds;
use super::ping::PingArgs;
use super::shell::{Args, CmdError, Command, Outcome};
use crate::cpu::{CpuInfo, FeatureList};
use crate::fmt::Duration;
use crate::mem::MemInfo;
use crate::net::NetConsole;
use crate::pci::{PciFunction, Row, TABLE_HEADER};
use crate::time::UtcTime;

/// What commands may ask of the machine. The kernel binary implements it over
/// the real hardware; tests implement it over a fake.
pub trait Machine {
    /// Nanoseconds since boot (monotonic).
    fn now_ns(&self) -> u64;
    /// Wall-clock time in Unix nanoseconds, when the RTC was readable.
    fn unix_time_ns(&self) -> Option<u64>;
    /// Memory figures and the firmware map.
    fn mem_info(&self) -> MemInfo<'_>;
    /// CPU identification and features.
    fn cpu_info(&self) -> &CpuInfo;
    /// The XCR0 value in effect (0 when XSAVE is off).
    fn xcr0(&self) -> u64;
    /// The TSC frequency and how it was found.
    fn tsc(&self) -> (u64, &'static str);
    /// The PCI functions found at boot.
    fn pci_functions(&self) -> &[PciFunction];
    /// The current log level.
    fn log_level(&self) -> LevelFilter;
    /// Sets the log level.
    fn set_log_level(&mut self, level: LevelFilter);
    /// Gives one module its own log level (`log LEVEL MODULE`).
    fn set_module_level(&mut self, _module: &str, _level: LevelFilter) -> Result<(), CmdError> {
        Err(CmdError::Unsupported("per-module levels"))
    }
    /// The log filter with its per-module level, when the machine has one.
    fn log_filter(&self) -> Option<LogFilter> {
        None
    }
    /// Reboots; returns only when every method failed.
    fn reboot(&mut self) -> CmdError;
    /// Powers off; returns only when every method failed.
    fn poweroff(&mut self) -> CmdError;
    /// Deliberately faults (debug builds) to exercise the crash path.
    fn crash(&mut self, _how: &str) -> CmdError {
        CmdError::Unsupported("only in debug builds")
    }
    /// The data plane's view for `ip` and `stats` (none before NICs are up).
    fn net(&mut self) -> Option<&mut dyn NetConsole> {
        None
    }
    /// `config` when no gateway runs the configuration: prints the one read
    /// at boot (keys redacted) and returns true, or returns false when there
    /// is none to show.
    fn show_boot_config(&mut self, _out: &mut dyn Write) -> Result<bool, core::fmt::Error> {
        Ok(false)
    }
    /// Advances a command that returned [`Outcome::Running`].
    fn poll_job(&mut self, _out: &mut dyn Write) -> Outcome {
        Outcome::Done
    }
    /// Abandons the running command (Ctrl-C).
    fn cancel_job(&mut self) {}
    /// Ctrl-C with somewhere to print the job's last words (ping's summary).
    fn interrupt_job(&mut self, _out: &mut dyn Write) {
        self.cancel_job()
    }
    /// Starts `ping` as a job.
    fn start_ping(&mut self, _args: PingArgs, _out: &mut dyn Write) -> Result<Outcome, CmdError> {
        Err(CmdError::Unsupported("no network ports"))
    }
    /// Starts `capture` as a job.
    fn start_capture(
        &mut self,
        _args: CaptureArgs,
        _out: &mut dyn Write,
    ) -> Result<Outcome, CmdError> {
        Err(CmdError::Unsupported("no network ports"))
    }
    /// The running gateway, for `ip route`, `ip neigh` and `peer`.
    fn gateway(&mut self) -> Option<&mut dyn GatewayConsole> {
        None
    }
}

/// Every command; `crash` is last so release builds can leave it out.
const ALL: &[Command] = &[
    Command {
        name: "help",
        usage: "[COMMAND]",
        help: "list the commands, or one command's usage",
        run: help,
    },
    Command {
        name: "version",
        usage: "",
        help: "kernel version and git commit",
        run: version,
    },
    Command {
        name: "uptime",
        usage: "",
        help: "time since boot and wall clock",
        run: uptime,
    },
    Command {
        name: "mem",
        usage: "",
        help: "memory totals, heap, DMA region and the map",
        run: mem,
    },
    Command {
        name: "cpu",
        usage: "",
        help: "processor, features and enabled state",
        run: cpu,
    },
    Command {
        name: "pci",
        usage: "",
        help: "PCI functions, BARs and their drivers",
        run: pci,
    },
    Command {
        name: "ip",
        usage: super::iproute::USAGE,
        help: "ports, addresses, routes, neighbours (iproute2 style)",
        run: netcmds::ip,
    },
    Command {
        name: "stats",
        usage: "[reset]",
        help: "per-port driver, drop and pool counters, loop load, cycles by stage",
        run: stats,
    },
    Command {
        name: "config",
        usage: "",
        help: "the running configuration, keys redacted",
        run: config,
    },
    Command {
        name: "wg",
        usage: super::wg::USAGE,
        help: "WireGuard interface and peers (as wg show)",
        run: netcmds::wg,
    },
    Command {
        name: "peer",
        usage: super::peer::USAGE,
        help: "add or remove a WireGuard peer at run time",
        run: netcmds::peer,
    },
    Command {
        name: "ping",
        usage: super::ping::USAGE,
        help: "ICMP echo from the appliance (LAN, WAN or tunnel by route)",
        run: netcmds::ping,
    },
    Command {
        name: "capture",
        usage: super::capture::USAGE,
        help: "print a port's frames as text2pcap input",
        run: netcmds::capture,
    },
    Command {
        name: "log",
        usage: "[off|error|warn|info|debug|trace [MODULE]]",
        help: "show or set the log level, for all or one module",
        run: log_level,
    },
    Command {
        name: "reboot",
        usage: "",
        help: "restart the machine",
        run: reboot,
    },
    Command {
        name: "poweroff",
        usage: "",
        help: "switch the machine off (ACPI S5)",
        run: poweroff,
    },
    Command {
        name: "crash",
        usage: "[pagefault|divide|panic]",
        help: "fault on purpose to test the crash path (debug builds)",
        run: crash,
    },
];

/// The command table of this build.
pub fn commands() -> &'static [Command] {
    if cfg!(debug_assertions) {
        ALL
    } else {
        &ALL[..ALL.len() - 1]
    }
}

fn no_args(args: &Args<'_>) -> Result<(), CmdError> {
    if args.rest().is_empty() {
        Ok(())
    } else {
        Err(CmdError::Usage)
    }
}

fn help(_: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    match args.rest() {
        [] => {}
        [name] => {
            let c = super::shell::find(commands(), name)
                .ok_or(CmdError::BadValue("no such command (try 'help')"))?;
            writeln!(out, "usage: {} {}", c.name, c.usage)?;
            writeln!(out, "  {}", c.help)?;
            return Ok(Outcome::Done);
        }
        _ => return Err(CmdError::Usage),
    }
    for c in commands() {
        let name_usage_len = c.name.len()
            + if c.usage.is_empty() {
                0
            } else {
                c.usage.len() + 1
            };
        write!(out, "  {}", c.name)?;
        if !c.usage.is_empty() {
            write!(out, " {}", c.usage)?;
        }
        let pad = 44usize.saturating_sub(name_usage_len).max(2);
        writeln!(out, "{:pad$}{}", "", c.help)?;
    }
    Ok(Outcome::Done)
}

fn version(_: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(
        out,
        "ringwall {} (git {}, {profile})",
        crate::VERSION,
        crate::GIT_COMMIT
    )?;
    Ok(Outcome::Done)
}

fn uptime(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    write!(out, "up {}", Duration(m.now_ns()))?;
    match m.unix_time_ns() {
        Some(t) => writeln!(out, ", {}", UtcTime(t))?,
        None => writeln!(out, ", wall clock unknown")?,
    }
    Ok(Outcome::Done)
}

fn mem(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    write!(out, "{}", m.mem_info())?;
    Ok(Outcome::Done)
}

fn cpu(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    let c = m.cpu_info();
    writeln!(out, "cpu:      {} {}", c.vendor_str(), c.brand_str())?;
    writeln!(
        out,
        "family:   {:#x} model {:#x} stepping {}",
        c.family, c.model, c.stepping
    )?;
    writeln!(out, "features: {}", FeatureList(&c.features))?;
    let (simd, xcr0) = (c.features, m.xcr0());
    let state = |on: bool| if on { "enabled" } else { "absent" };
    writeln!(
        out,
        "state:    xcr0={xcr0:#x} sse enabled, avx {}, avx2 {}, avx512 {}",
        state(simd.avx && xcr0 & crate::cpu::xcr0::AVX != 0),
        state(simd.avx2 && xcr0 & crate::cpu::xcr0::AVX != 0),
        state(simd.avx512f && xcr0 & crate::cpu::xcr0::AVX512 == crate::cpu::xcr0::AVX512),
    )?;
    let (hz, source) = m.tsc();
    writeln!(
        out,
        "tsc:      {}.{:03} MHz ({source}){}",
        hz / 1_000_000,
        hz / 1_000 % 1_000,
        if simd.invariant_tsc {
            ", invariant"
        } else {
            ", not invariant"
        }
    )?;
    writeln!(
        out,
        "entropy:  rdrand {}, rdseed {}",
        if simd.rdrand { "yes" } else { "no" },
        if simd.rdseed { "yes" } else { "no" }
    )?;
    writeln!(out, "burst aead: {}", netfn::simd::path().name())?;
    Ok(Outcome::Done)
}

fn pci(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    writeln!(out, "{TABLE_HEADER}")?;
    for f in m.pci_functions() {
        writeln!(out, "{}", Row(f))?;
    }
    Ok(Outcome::Done)
}

fn stats(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    let reset = match args.rest() {
        [] => false,
        ["reset"] => true,
        _ => return Err(CmdError::Usage),
    };
    let net = m.net().ok_or(CmdError::Unsupported("no network ports"))?;
    if reset {
        net.reset_stats();
        writeln!(out, "counters reset")?;
    } else {
        net.stats(out)?;
    }
    Ok(Outcome::Done)
}

fn config(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    if m.show_boot_config(out)? {
        return Ok(Outcome::Done);
    }
    let net = m.net().ok_or(CmdError::Unsupported("no network ports"))?;
    net.config(out)?;
    Ok(Outcome::Done)
}

/// Parses a log level name.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    let all = [
        LevelFilter::Off,
        LevelFilter::Error,
        LevelFilter::Warn,
        LevelFilter::Info,
        LevelFilter::Debug,
        LevelFilter::Trace,
    ];
    all.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s))
}

fn log_level(
    m: &mut dyn Machine,
    args: &Args<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    match args.rest() {
        [] => {
            writeln!(out, "log level: {}", level_name(m.log_level()))?;
            if let Some(f) = m.log_filter() {
                if let Some((module, l)) = f.module() {
                    writeln!(out, "log level: {} for {module}", level_name(l))?;
                }
            }
        }
        [level, module] => {
            let l = parse_level(level).ok_or(CmdError::BadValue(
                "levels are off, error, warn, info, debug, trace",
            ))?;
            m.set_module_level(module, l)?;
            writeln!(out, "log level: {} for {module}", level_name(l))?;
        }
        [level] => {
            let l = parse_level(level).ok_or(CmdError::BadValue(
                "levels are off, error, warn, info, debug, trace",
            ))?;
            m.set_log_level(l);
            writeln!(out, "log level: {}", level_name(l))?;
        }
        _ => return Err(CmdError::Usage),
    }
    Ok(Outcome::Done)
}

/// The lower-case name of a level, as typed at the console.
pub fn level_name(l: LevelFilter) -> &'static str {
    match l {
        LevelFilter::Off => "off",
        LevelFilter::Error => "error",
        LevelFilter::Warn => "warn",
        LevelFilter::Info => "info",
        LevelFilter::Debug => "debug",
        LevelFilter::Trace => "trace",
    }
}

fn reboot(m: &mut dyn Machine, args: &Args<'_>, out: &mut dyn Write) -> Result<Outcome, CmdError> {
    no_args(args)?;
    writeln!(out, "rebooting")?;
    Err(m.reboot())
}

fn poweroff(
    m: &mut dyn Machine,
    args: &Args<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, CmdError> {
    no_args(args)?;
    writeln!(out, "powering off")?;
    Err(m.poweroff())
}

fn crash(m: &mut dyn Machine, args: &Args<'_>, _out: &mut dyn Write) -> Result<Outcome, CmdError> {
    let how = match args.rest() {
        [] => "pagefault",
        [h @ ("pagefault" | "divide" | "panic")] => h,
        [_] => return Err(CmdError::BadValue("one of pagefault, divide, panic")),
        _ => return Err(CmdError::Usage),
    };
    Err(m.crash(how))
}

#[cfg(test)]
mod tests {
    use super::super::shell::Shell;
    use super::*;
    use crate::mem::{MemoryMap, MemoryRegion, RegionKind};

    struct Fake {
        map: MemoryMap,
        cpu: CpuInfo,
        pci: Vec<PciFunction>,
        level: LevelFilter,
        calls: Vec<String>,
        job_polls: usize,
    }

    impl Fake {
        fn new() -> Self {
            let mut map = MemoryMap::new();
            map.push(MemoryRegion {
                start: 0x10_0000,
                len: 0x1ee_0000,
                kind: RegionKind::Usable,
            });
            let mut cpu = CpuInfo::default();
            cpu.vendor.copy_from_slice(b"AuthenticAMD");
            cpu.features.rdrand = true;
            cpu.features.avx = true;
            Fake {
                map,
                cpu,
                pci: Vec::new(),
                level: LevelFilter::Info,
                calls: vec![],
                job_polls: 0,
            }
        }
    }

    impl Machine for Fake {
        fn now_ns(&self) -> u64 {
            75_500_000_000
        }
        fn unix_time_ns(&self) -> Option<u64> {
            Some(1_000_000_000 * 1_000_000_000)
        }
        fn mem_info(&self) -> MemInfo<'_> {
            MemInfo {
                map: &self.map,
                kernel: (0x10_0000, 0x18_0000),
                heap_used: 2048,
                heap_size: 8 << 20,
                dma: (0x100_0000, 8 << 20),
                free: 12 << 20,
            }
        }
        fn cpu_info(&self) -> &CpuInfo {
            &self.cpu
        }
        fn xcr0(&self) -> u64 {
            7
        }
        fn tsc(&self) -> (u64, &'static str) {
            (2_112_345_678, "PIT")
        }
        fn pci_functions(&self) -> &[PciFunction] {
            &self.pci
        }
        fn log_level(&self) -> LevelFilter {
            self.level
        }
        fn set_log_level(&mut self, level: LevelFilter) {
            self.level = level;
        }
        fn reboot(&mut self) -> CmdError {
            self.calls.push("reboot".into());
            CmdError::Failed("no reset method worked")
        }
        fn poweroff(&mut self) -> CmdError {
            self.calls.push("poweroff".into());
            CmdError::Failed("no ACPI")
        }
        fn crash(&mut self, how: &str) -> CmdError {
            self.calls.push(format!("crash {how}"));
            CmdError::Failed("survived")
        }
        fn poll_job(&mut self, out: &mut dyn Write) -> Outcome {
            self.job_polls += 1;
            let _ = writeln!(out, "tick");
            if self.job_polls < 3 {
                Outcome::Running
            } else {
                Outcome::Done
            }
        }
    }

    fn run(m: &mut Fake, line: &str) -> String {
        let mut out = String::new();
        Shell::new().run_line(commands(), line, m, &mut out);
        out
    }

    #[test]
    fn help_lists_every_command_once_with_text() {
        let out = run(&mut Fake::new(), "help");
        assert_eq!(out.lines().count(), commands().len());
        for c in commands() {
            let line = out
                .lines()
                .find(|l| l.trim_start().starts_with(c.name))
                .unwrap();
            assert!(line.ends_with(c.help), "{line}");
        }
        assert_eq!(
            run(&mut Fake::new(), "help me"),
            "error: help: no such command (try 'help')\n"
        );
        assert_eq!(
            run(&mut Fake::new(), "help ping"),
            format!(
                "usage: ping {}\n  ICMP echo from the appliance (LAN, WAN or tunnel by route)\n",
                super::super::ping::USAGE
            )
        );
        for c in commands() {
            let out = run(&mut Fake::new(), &format!("help {}", c.name));
            assert!(out.starts_with("usage: "), "{out}");
        }
        assert_eq!(
            run(&mut Fake::new(), "help a b"),
            "error: usage: help [COMMAND]\n"
        );
    }

    #[test]
    fn network_commands_check_usage_then_need_ports() {
        let mut m = Fake::new();
        assert_eq!(
            run(&mut m, "ip"),
            "error: ip: which object: link, addr, route or neigh\n\
             usage: ip link|addr|route|neigh [show]\n"
        );
        assert_eq!(run(&mut m, "stats now"), "error: usage: stats [reset]\n");
        let out = run(&mut m, "ip link");
        assert!(
            out.starts_with("error:") && out.contains("no network ports"),
            "{out}"
        );
        let out = run(&mut m, "stats reset");
        assert!(out.contains("no network ports"), "{out}");
        assert_eq!(run(&mut m, "config x"), "error: usage: config \n");
        assert_eq!(
            run(&mut m, "wg up"),
            "error: wg: only 'show' is supported\nusage: wg [show [wg0|all]]\n"
        );
        for line in [
            "config",
            "wg",
            "wg show",
            "ping 10.0.0.1",
            "capture lan -c 1",
        ] {
            let out = run(&mut m, line);
            assert!(out.contains("no network ports"), "{line}: {out}");
        }
        for line in [
            "ip route",
            "ip neigh",
            "peer remove AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let out = run(&mut m, line);
            assert!(out.contains("the gateway is not running"), "{line}: {out}");
        }
        // Bad arguments: why, then the usage line.
        for (line, why) in [
            ("ping -c 0 10.0.0.1", "error: ping: count must be a number from 1\n"),
            ("ping", "error: ping: missing destination address\n"),
            ("capture eth0", "error: capture: ports are lan and wan\n"),
            ("capture lan udp port x", "error: capture: port must be a number 0..65535\n"),
            ("peer add", "error: peer: missing the peer's public key\n"),
            ("peer remove nokey", "error: peer: bad public key: key must be 44 base64 characters (32 bytes), got 5 characters\n"),
            ("ip rule", "error: ip: objects are link, addr, route, neigh\n"),
        ] {
            let out = run(&mut m, line);
            let cmd = line.split(' ').next().unwrap();
            assert!(out.starts_with(why), "{line}: {out}");
            assert_eq!(out.lines().count(), 2, "{line}: {out}");
            assert!(out.lines().nth(1).unwrap().starts_with(&format!("usage: {cmd} ")));
        }
    }

    #[test]
    fn unknown_and_blank_lines() {
        let mut m = Fake::new();
        assert_eq!(
            run(&mut m, "frobnicate now"),
            "error: unknown command 'frobnicate' (try 'help')\n"
        );
        assert_eq!(run(&mut m, "   "), "");
        assert_eq!(run(&mut m, "\"open"), "error: unterminated quote\n");
    }

    #[test]
    fn version_uptime_mem_cpu_report() {
        let mut m = Fake::new();
        let v = run(&mut m, "version");
        assert!(
            v.starts_with(&format!("ringwall {} (git ", crate::VERSION)),
            "{v}"
        );
        assert_eq!(
            run(&mut m, "uptime"),
            "up 00:01:15.500, 2001-09-09 01:46:40 UTC\n"
        );
        let mem = run(&mut m, "mem");
        assert!(mem.contains("heap:   2 KiB used of 8 MiB"), "{mem}");
        assert!(mem.contains("dma:    0x1000000-0x17fffff (8 MiB)"), "{mem}");
        assert!(mem.contains("memory map (1 entries):"), "{mem}");
        let cpu = run(&mut m, "cpu");
        assert!(cpu.contains("cpu:      AuthenticAMD"), "{cpu}");
        assert!(
            cpu.contains("avx enabled, avx2 absent, avx512 absent"),
            "{cpu}"
        );
        assert!(
            cpu.contains("tsc:      2112.345 MHz (PIT), not invariant"),
            "{cpu}"
        );
        assert!(cpu.contains("rdrand yes, rdseed no"), "{cpu}");
        // The path the burst AEAD really uses on this host, not the fake's.
        let burst = format!("burst aead: {}\n", netfn::simd::path().name());
        assert!(cpu.ends_with(&burst), "{cpu}");
    }

    #[test]
    fn pci_prints_header_and_rows() {
        let mut m = Fake::new();
        m.pci.push(PciFunction {
            bdf: drivers::pci::Bdf {
                bus: 0,
                dev: 0,
                func: 0,
            },
            vendor: 0x8086,
            device: 0x1237,
            class: 6,
            subclass: 0,
            prog_if: 0,
            revision: 2,
            header_type: 0,
            irq_line: 0,
            bars: [None; 6],
            driver: None,
        });
        let out = run(&mut m, "pci");
        assert!(out.starts_with(TABLE_HEADER));
        assert!(out.contains("00:00.0  8086:1237      host bridge"), "{out}");
    }

    #[test]
    fn log_level_shows_sets_and_refuses() {
        let mut m = Fake::new();
        assert_eq!(run(&mut m, "log"), "log level: info\n");
        assert_eq!(run(&mut m, "log DEBUG"), "log level: debug\n");
        assert_eq!(m.level, LevelFilter::Debug);
        let bad = run(&mut m, "log loud");
        assert!(bad.starts_with("error: log: levels are"), "{bad}");
        assert_eq!(m.level, LevelFilter::Debug);
        assert!(run(&mut m, "log a b c").starts_with("error: usage: log ["));
        assert!(run(&mut m, "log loud nic").starts_with("error: log: levels are"));
        assert_eq!(
            run(&mut m, "log debug nic"),
            "error: log: not supported: per-module levels\n"
        );
    }

    #[test]
    fn power_and_crash_reach_the_machine_and_report_failure() {
        let mut m = Fake::new();
        assert_eq!(
            run(&mut m, "reboot"),
            "rebooting\nerror: reboot: failed: no reset method worked\n"
        );
        assert_eq!(
            run(&mut m, "poweroff"),
            "powering off\nerror: poweroff: failed: no ACPI\n"
        );
        run(&mut m, "crash");
        run(&mut m, "crash divide");
        assert!(run(&mut m, "crash softly").contains("one of pagefault"));
        assert_eq!(
            m.calls,
            ["reboot", "poweroff", "crash pagefault", "crash divide"]
        );
    }

    #[test]
    fn running_jobs_are_polled_until_done_or_interrupted() {
        fn job(_: &mut dyn Machine, _: &Args<'_>, _: &mut dyn Write) -> Result<Outcome, CmdError> {
            Ok(Outcome::Running)
        }
        let table = [Command {
            name: "wait",
            usage: "",
            help: "",
            run: job,
        }];
        let mut m = Fake::new();
        let mut sh = Shell::new();
        let mut out = String::new();
        assert_eq!(
            sh.run_line(&table, "wait", &mut m, &mut out),
            Outcome::Running
        );
        assert!(sh.busy());
        assert_eq!(sh.poll(&mut m, &mut out), Outcome::Running);
        assert_eq!(sh.poll(&mut m, &mut out), Outcome::Running);
        assert_eq!(sh.poll(&mut m, &mut out), Outcome::Done);
        assert!(!sh.busy());
        assert_eq!(out, "tick\ntick\ntick\n");
        sh.run_line(&table, "wait", &mut m, &mut out);
        sh.interrupt(&mut m);
        assert!(!sh.busy());
    }

    #[test]
    fn level_names_parse_case_insensitively() {
        assert_eq!(parse_level("warn"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("TRACE"), Some(LevelFilter::Trace));
        assert_eq!(parse_level("verbose"), None);
    }
}
