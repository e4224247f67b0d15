//! The lab test (issue 7): Ringwall between a LAN host and a `wireguard-go`
//! site on real Linux networking, once with a virtio-net WAN and once with an
//! e1000e WAN.
//!
//! Each run is `qemu/lab --check` (the script a newcomer runs first, so the
//! test and the main job cannot drift apart) with the heavier checks turned
//! on: 50 MB over TCP each way through the tunnel with the sha256 compared on
//! both ends, and wireguard-go restarted so the appliance has to handshake
//! again by itself. The script creates two namespaces, two taps, QEMU and
//! wireguard-go under names carrying a per-run id; [`LabRun`] makes sure all
//! of it is gone afterwards even when the test fails or times out: SIGTERM to
//! the script first (its trap tears the lab down), SIGKILL to its process
//! group if that hangs, then the namespaces and taps by name.
//!
//! Namespaces and taps need root. Not root: the test fails loudly, unless
//! `RINGWALL_SKIP_LAB=1` says to skip it (which is printed too).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use ringwall_tests::{kernel_path, Profile};

/// Megabytes sent each way; the issue asks for 50.
const TRANSFER_MB: u32 = 50;
/// One whole lab run (boot, handshake, pings, 2 x 50 MB, restart) under TCG
/// on a loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(480);
/// How long the script gets to clean up after SIGTERM.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// One lab at a time: two TCG appliances plus the transfers on a small
/// shared machine only slow each other past the timeouts.
static ONE_LAB: Mutex<()> = Mutex::new(());

/// Effective uid 0, read from `/proc/self/status` (no libc needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Whether this run may go ahead; panics (fails the test) when it cannot.
fn lab_allowed(name: &str) -> bool {
    if std::env::var("RINGWALL_SKIP_LAB").as_deref() == Ok("1") {
        eprintln!("lab test {name}: SKIPPED because RINGWALL_SKIP_LAB=1");
        return false;
    }
    assert!(
        is_root(),
        "\n\n*** lab test {name} needs root ***\n\
         It creates network namespaces and tap devices. Run the tests as root \
         (tests/run does), or set RINGWALL_SKIP_LAB=1 to skip the lab tests \
         on purpose.\n"
    );
    true
}

/// A running `qemu/lab`, torn down on drop whatever happened.
struct LabRun {
    child: Child,
    id: String,
    log: PathBuf,
}

impl LabRun {
    /// Starts `qemu/lab --check --id ID` plus `args`.
    fn start(args: &[&str], id: &str, kernel: &Path) -> LabRun {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let log = std::env::temp_dir().join(format!("ringwall-lab-{id}.log"));
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(root.join("qemu/lab"))
            .args(["--check", "--id", id])
            .args(args)
            .env("RINGWALL_KERNEL", kernel)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group, so a hung run can be killed whole.
            .process_group(0)
            .spawn()
            .unwrap();
        LabRun {
            child,
            id: id.to_string(),
            log,
        }
    }

    /// Waits for the script to finish, at most `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            sleep(Duration::from_millis(200));
        }
        None
    }

    /// Waits until the script has printed `text`, at most `timeout`.
    fn wait_for_output(&mut self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.output().contains(text) {
                return true;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            sleep(Duration::from_millis(200));
        }
        false
    }

    /// Everything the script printed so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What of run `id` still exists: namespaces, taps, the wireguard-go socket,
/// and QEMU or wireguard-go processes (found by their command lines, which
/// carry the run's interface names).
fn leftovers(id: &str) -> Vec<String> {
    let mut left = Vec::new();
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for line in String::from_utf8_lossy(&netns.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name == format!("rwlab-lan-{id}") || name == format!("rwlab-site-{id}") {
            left.push(format!("namespace {name}"));
        }
    }
    for tap in [format!("rwl{id}"), format!("rww{id}")] {
        if Path::new("/sys/class/net").join(&tap).exists() {
            left.push(format!("tap {tap}"));
        }
    }
    let sock = format!("/var/run/wireguard/rwg{id}.sock");
    if Path::new(&sock).exists() {
        left.push(sock);
    }
    let qemu = format!("ifname=rwl{id},");
    let wg = format!("wireguard-go\0rwg{id}\0");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains(&qemu) || cmdline.contains(&wg) {
            left.push(format!(
                "process {}: {}",
                entry.file_name().to_string_lossy(),
                cmdline.replace('\0', " ")
            ));
        }
    }
    left
}

/// Runs a command for cleanup, ignoring failures (the thing may be gone).
fn quietly(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for LabRun {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        if matches!(self.child.try_wait(), Ok(None)) {
            quietly("kill", &["-TERM", &pid]);
            if self.wait(CLEANUP_TIMEOUT).is_none() {
                quietly("kill", &["-KILL", "--", &format!("-{pid}")]);
                let _ = self.child.wait();
            }
        }
        // Whatever outlived the script: processes inside our namespaces by
        // pid, then the namespaces, taps and the wireguard-go socket by name.
        for ns in [
            format!("rwlab-lan-{}", self.id),
            format!("rwlab-site-{}", self.id),
        ] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for p in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    quietly("kill", &["-KILL", p]);
                }
            }
            quietly("ip", &["netns", "del", &ns]);
        }
        quietly("ip", &["link", "del", &format!("rwl{}", self.id)]);
        quietly("ip", &["link", "del", &format!("rww{}", self.id)]);
        let _ = std::fs::remove_file(format!("/var/run/wireguard/rwg{}.sock", self.id));
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The whole lab with `wan` as the WAN NIC model.
fn lab(wan: &str, tag: char) {
    let name = format!("wan={wan}");
    if !lab_allowed(&name) {
        return;
    }
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let kernel = kernel_path(Profile::Release).unwrap_or_else(|e| panic!("lab {name}: {e}"));
    // Unique per test process and model; short enough for interface names.
    let id = format!("{}{tag}", std::process::id() % 1_000_000);
    let started = Instant::now();
    let mb = TRANSFER_MB.to_string();
    let args = ["--restart-site", "--wan", wan, "--transfer", &mb];
    let mut run = LabRun::start(&args, &id, &kernel);
    let status = run.wait(RUN_TIMEOUT);
    let output = run.output();
    println!("{output}");
    match status {
        None => panic!("lab {name}: no result within {RUN_TIMEOUT:?}\n{output}"),
        Some(s) => assert!(
            s.success(),
            "lab {name}: qemu/lab --check failed ({s})\n{output}"
        ),
    }
    // The script's own cleanup, before the guard's second sweep.
    assert_eq!(leftovers(&id), Vec::<String>::new(), "after a passing run");
    assert!(output.contains("all checks passed"), "{output}");
    assert_eq!(
        output.matches("sha256 matches").count(),
        2,
        "both transfers checked: {output}"
    );
    println!("lab {name}: passed in {:?}", started.elapsed());
}

#[test]
fn lab_wan_virtio_net() {
    lab("virtio", 'v');
}

#[test]
fn lab_wan_e1000e() {
    lab("e1000e", 'e');
}

/// Interrupted while the lab is up (as Ctrl-C or a killed test would), the
/// script removes everything it made.
#[test]
fn lab_interrupted_leaves_nothing_behind() {
    if !lab_allowed("interrupted") {
        return;
    }
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let kernel = kernel_path(Profile::Release).unwrap_or_else(|e| panic!("lab interrupted: {e}"));
    let id = format!("{}i", std::process::id() % 1_000_000);
    let mut run = LabRun::start(&[], &id, &kernel);
    // wireguard-go runs from here on: namespaces, taps and QEMU all exist.
    let up = run.wait_for_output("pings the appliance's LAN address", RUN_TIMEOUT);
    assert!(up, "the lab did not come up:\n{}", run.output());
    assert!(leftovers(&id).len() >= 5, "{:?}", leftovers(&id));
    let pid = run.child.id().to_string();
    quietly("kill", &["-TERM", &pid]);
    let status = run.wait(CLEANUP_TIMEOUT);
    let output = run.output();
    assert!(status.is_some(), "no exit after SIGTERM:\n{output}");
    assert_eq!(leftovers(&id), Vec::<String>::new(), "{output}");
}

/// The root check the lab tests rely on agrees with `id -u`.
#[test]
fn root_check_agrees_with_id() {
    let out = Command::new("id").arg("-u").output().unwrap();
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(is_root(), uid == "0");
}
