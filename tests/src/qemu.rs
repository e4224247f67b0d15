//! Starting QEMU for a test, and stopping it however the test ends.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::console::{Console, HarnessError};
use crate::kernel::{kernel_path, Profile};
use crate::net::DgramLink;

/// Firmware for disk-image boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// QEMU's default BIOS.
    SeaBios,
    /// UEFI from the `ovmf` package (`/usr/share/OVMF/OVMF_CODE.fd`).
    Ovmf,
}

/// Where OVMF lives on Debian.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";

/// Builds a QEMU command line for a test boot.
#[derive(Debug, Clone)]
pub struct QemuBuilder {
    memory: String,
    append: Option<String>,
    initrd: Option<PathBuf>,
    profile: Profile,
    kernel: Option<PathBuf>,
    disk: Option<PathBuf>,
    firmware: Firmware,
    reboot: bool,
    debug_exit: bool,
    monitor: bool,
    echo: bool,
    no_kernel: bool,
    extra: Vec<String>,
}

impl Default for QemuBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl QemuBuilder {
    /// 64 MiB, release kernel, SeaBIOS, `isa-debug-exit` present, a monitor
    /// socket, reboots allowed.
    pub fn new() -> Self {
        QemuBuilder {
            memory: "64M".into(),
            append: None,
            initrd: None,
            profile: Profile::Release,
            kernel: None,
            disk: None,
            firmware: Firmware::SeaBios,
            reboot: true,
            debug_exit: true,
            monitor: true,
            echo: std::env::var_os("RINGWALL_ECHO").is_some(),
            no_kernel: false,
            extra: Vec::new(),
        }
    }

    /// Guest memory (`-m`), e.g. `"32M"`.
    pub fn memory(mut self, m: &str) -> Self {
        self.memory = m.into();
        self
    }

    /// The kernel command line (`-append`).
    pub fn append(mut self, cmdline: &str) -> Self {
        self.append = Some(cmdline.into());
        self
    }

    /// A file passed as the first Multiboot module (`-initrd`), e.g. the config.
    pub fn initrd(mut self, path: impl AsRef<Path>) -> Self {
        self.initrd = Some(path.as_ref().into());
        self
    }

    /// Boots the debug build (which has the `crash` command).
    pub fn debug_kernel(mut self) -> Self {
        self.profile = Profile::Debug;
        self
    }

    /// Boots this kernel ELF instead of the built one.
    pub fn kernel(mut self, path: impl AsRef<Path>) -> Self {
        self.kernel = Some(path.as_ref().into());
        self
    }

    /// Boots without `-kernel` (the test supplies `-cdrom`, `-drive`, ...).
    pub fn kernel_none(mut self) -> Self {
        self.no_kernel = true;
        self
    }

    /// Boots a disk image (raw) instead of `-kernel`.
    pub fn disk(mut self, image: impl AsRef<Path>) -> Self {
        self.disk = Some(image.as_ref().into());
        self
    }

    /// Firmware for disk boots.
    pub fn firmware(mut self, fw: Firmware) -> Self {
        self.firmware = fw;
        self
    }

    /// `false`: pass `-no-reboot`, so a guest reset ends QEMU.
    pub fn allow_reboot(mut self, yes: bool) -> Self {
        self.reboot = yes;
        self
    }

    /// Whether to add `isa-debug-exit` at port 0xf4 (default on).
    pub fn debug_exit(mut self, yes: bool) -> Self {
        self.debug_exit = yes;
        self
    }

    /// Copies the console to stderr as it arrives (also `RINGWALL_ECHO=1`).
    pub fn echo(mut self, yes: bool) -> Self {
        self.echo = yes;
        self
    }

    /// Adds a `-device` argument.
    pub fn device(self, spec: &str) -> Self {
        self.arg("-device").arg(spec)
    }

    /// Adds a `-netdev dgram` whose other end is `link`.
    pub fn netdev_dgram(self, id: &str, link: &DgramLink) -> Self {
        let spec = link
            .netdev_arg(id)
            .unwrap_or_else(|e| format!("dgram,id={id},error={e}"));
        self.arg("-netdev").arg(&spec)
    }

    /// Adds any other QEMU argument.
    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.into());
        self
    }

    /// The full QEMU argument list (for logs and `qemu/run`-style reuse).
    pub fn args(&self, kernel: Option<&Path>, monitor: Option<&Path>) -> Vec<String> {
        // -nodefaults: no default NIC, VGA or drives; tests add what they need.
        let mut a: Vec<String> = [
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-m",
            &self.memory,
            "-nodefaults",
            "-display",
            "none",
            "-chardev",
            "stdio,id=con0,signal=off",
            "-serial",
            "chardev:con0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match monitor {
            Some(m) => a.extend([
                "-monitor".into(),
                format!("unix:{},server=on,wait=off", m.display()),
            ]),
            None => a.extend(["-monitor".into(), "none".into()]),
        }
        if !self.reboot {
            a.push("-no-reboot".into());
        }
        if self.debug_exit {
            a.extend([
                "-device".into(),
                "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
            ]);
        }
        match (&self.disk, kernel) {
            (Some(disk), _) => {
                if self.firmware == Firmware::Ovmf {
                    a.extend([
                        "-drive".into(),
                        format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"),
                    ]);
                }
                a.extend([
                    "-drive".into(),
                    format!("file={},format=raw,if=ide", disk.display()),
                ]);
            }
            (None, Some(k)) => {
                a.extend(["-kernel".into(), k.display().to_string()]);
                if let Some(c) = &self.append {
                    a.extend(["-append".into(), c.clone()]);
                }
                if let Some(i) = &self.initrd {
                    a.extend(["-initrd".into(), i.display().to_string()]);
                }
            }
            (None, None) => {}
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Starts QEMU (waiting for a free slot when too many already run).
    pub fn spawn(self) -> Result<Qemu, HarnessError> {
        let kernel = match (&self.disk, &self.kernel) {
            _ if self.no_kernel => None,
            (Some(_), _) => None,
            (None, Some(k)) => Some(k.clone()),
            (None, None) => Some(kernel_path(self.profile)?),
        };
        let slot = Slot::acquire();
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let monitor_path = self.monitor.then(|| {
            std::env::temp_dir().join(format!(
                "ringwall-qemu-{}-{}.mon",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ))
        });
        let args = self.args(kernel.as_deref(), monitor_path.as_deref());
        let mut child = Command::new("qemu-system-x86_64")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                HarnessError::Spawn(format!(
                    "qemu-system-x86_64: {e} (is qemu-system-x86 installed? tests/run installs it)"
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(HarnessError::Spawn("no stdio pipes".into()));
        };
        Ok(Qemu {
            console: Console::new(stdin, stdout, self.echo),
            child,
            monitor_path,
            monitor: None,
            started: Instant::now(),
            args,
            _slot: slot,
        })
    }
}

/// A running QEMU. Killed on drop.
pub struct Qemu {
    console: Console,
    child: Child,
    monitor_path: Option<PathBuf>,
    monitor: Option<BufReader<UnixStream>>,
    started: Instant,
    args: Vec<String>,
    _slot: Slot,
}

impl Qemu {
    /// The serial console.
    pub fn console(&mut self) -> &mut Console {
        &mut self.console
    }

    /// When QEMU was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The QEMU arguments used.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Waits (bounded) for QEMU to exit; returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    return Err(HarnessError::Timeout {
                        waiting_for: "QEMU to exit".into(),
                        after: timeout,
                        log: self.console.log(),
                    })
                }
                Err(e) => return Err(HarnessError::Io(format!("waiting for QEMU: {e}"))),
            }
        }
    }

    /// Runs a QEMU monitor command (e.g. `set_link n0 off`) and returns its output.
    pub fn monitor(&mut self, cmd: &str) -> Result<String, HarnessError> {
        let io = |e: std::io::Error| HarnessError::Io(format!("monitor: {e}"));
        if self.monitor.is_none() {
            let path = self
                .monitor_path
                .clone()
                .ok_or_else(|| HarnessError::Io("no monitor configured".into()))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            let stream = loop {
                match UnixStream::connect(&path) {
                    Ok(s) => break s,
                    Err(e) if Instant::now() > deadline => return Err(io(e)),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io)?;
            let mut r = BufReader::new(stream);
            read_until_prompt(&mut r).map_err(io)?;
            self.monitor = Some(r);
        }
        let Some(r) = self.monitor.as_mut() else {
            return Err(HarnessError::Io("monitor: not connected".into()));
        };
        r.get_mut()
            .write_all(format!("{cmd}\n").as_bytes())
            .map_err(io)?;
        let out = read_until_prompt(r).map_err(io)?;
        // The monitor echoes the command line first.
        Ok(out
            .split_once('\n')
            .map_or(String::new(), |(_, rest)| rest.to_string()))
    }
}

/// Reads monitor output up to its `(qemu) ` prompt.
fn read_until_prompt(r: &mut BufReader<UnixStream>) -> std::io::Result<String> {
    let mut out = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let n = buf.len();
        out.extend_from_slice(buf);
        r.consume(n);
        if out.ends_with(b"(qemu) ") {
            out.truncate(out.len() - 7);
            // Strip the terminal escape sequences the monitor emits.
            let text = String::from_utf8_lossy(&out)
                .replace("\x1b[K", "")
                .replace('\r', "");
            return Ok(text);
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(p) = &self.monitor_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A permit to run one QEMU; at most `RINGWALL_QEMU_JOBS` (default 2) exist.
struct Slot;

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

impl Slot {
    fn acquire() -> Slot {
        let max = std::env::var("RINGWALL_QEMU_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2usize)
            .max(1);
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= max {
            n = FREED.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        FREED.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(b: &QemuBuilder, kernel: Option<&Path>) -> String {
        b.args(kernel, None).join(" ")
    }

    #[test]
    fn kernel_boots_get_tcg_max_cpu_serial_and_exit_device() {
        let b = QemuBuilder::new()
            .memory("32M")
            .append("panic=halt")
            .initrd("/tmp/c.conf");
        let a = joined(&b, Some(Path::new("/k")));
        assert!(
            a.starts_with("-accel tcg -cpu max -m 32M -nodefaults"),
            "{a}"
        );
        assert!(a.contains("-serial chardev:con0 -monitor none"), "{a}");
        assert!(
            a.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"),
            "{a}"
        );
        assert!(
            a.ends_with("-kernel /k -append panic=halt -initrd /tmp/c.conf"),
            "{a}"
        );
        assert!(!a.contains("kvm") && !a.contains("-no-reboot"), "{a}");
    }

    #[test]
    fn options_change_the_command_line() {
        let b = QemuBuilder::new()
            .allow_reboot(false)
            .debug_exit(false)
            .disk("/img")
            .firmware(Firmware::Ovmf)
            .device("e1000,netdev=n0");
        let a = joined(&b, None);
        assert!(a.contains("-no-reboot"), "{a}");
        assert!(!a.contains("isa-debug-exit"), "{a}");
        assert!(
            a.contains(&format!(
                "if=pflash,format=raw,readonly=on,file={OVMF_CODE}"
            )),
            "{a}"
        );
        assert!(
            a.ends_with("-drive file=/img,format=raw,if=ide -device e1000,netdev=n0"),
            "{a}"
        );
        let m = b.args(None, Some(Path::new("/tmp/m.sock"))).join(" ");
        assert!(
            m.contains("-monitor unix:/tmp/m.sock,server=on,wait=off"),
            "{m}"
        );
    }

    #[test]
    fn dgram_links_point_qemu_at_the_test_socket() {
        let link = DgramLink::new().unwrap();
        let arg = link.netdev_arg("n0").unwrap();
        let test_port = link.test_port().unwrap();
        assert!(
            arg.starts_with("dgram,id=n0,local.type=inet,local.host=127.0.0.1,"),
            "{arg}"
        );
        assert!(
            arg.contains(&format!("local.port={},", link.qemu_port)),
            "{arg}"
        );
        assert!(arg.ends_with(&format!("remote.port={test_port}")), "{arg}");
        assert_ne!(link.qemu_port, test_port);
        // A frame sent "into the guest" really leaves for QEMU's port.
        let qemu_side = std::net::UdpSocket::bind(("127.0.0.1", link.qemu_port)).unwrap();
        link.send_frame(b"frame").unwrap();
        let mut buf = [0u8; 16];
        qemu_side
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (n, from) = qemu_side.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.port()), (&b"frame"[..], test_port));
    }
}
