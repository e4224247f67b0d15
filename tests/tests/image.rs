//! Appliance disk images (issue 8): an image made by `ringwall-image build`
//! boots from the disk alone (no `-kernel`, no `-initrd`) under SeaBIOS and
//! under OVMF, reaches the prompt with the baked config, and `poweroff`
//! switches the machine off through ACPI, so QEMU exits by itself: these
//! boots have no `isa-debug-exit` device to lean on. And a config with an
//! error never becomes an image.
//!
//! The image is built in-process with the `ringwall_image` library, the code
//! the CLI runs, around the harness's release kernel (`RINGWALL_KERNEL` or
//! its own build); QEMU and the console are the harness's.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use ringwall_image::{BuildArgs, Error, SerialPort};
use ringwall_tests::{kernel_path, Firmware, Profile, QemuBuilder, BOOT_TIMEOUT};

/// OVMF's variable store template; each boot gets a writable copy.
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
/// Firmware + GRUB's one-second menu come on top of the kernel's boot.
const DISK_BOOT_TIMEOUT: Duration = Duration::from_secs(BOOT_TIMEOUT.as_secs() * 2);
const POWEROFF_TIMEOUT: Duration = Duration::from_secs(60);

/// The baked config. Keys made with wireguard-tools v1.0.20210914
/// (`wg genkey`, `wg pubkey`); the peers are what `config` must show.
const CONFIG: &str = "\
[Interface]
PrivateKey = 8Pg7kjIdnygMSjWpuTQcOt/TsZyxvgl65N1BRyGDwEY=
ListenPort = 51820
Address = 10.99.0.1/24

[LAN]
Address = 192.168.10.1/24

[WAN]
Address = 198.51.100.1/24
Gateway = 198.51.100.254

[Peer]
PublicKey = x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y=
AllowedIPs = 10.20.0.0/16, 10.99.0.2/32
Endpoint = 203.0.113.7:51820

[Peer]
PublicKey = VK0UCLhsjK7+AFqkgU8aIakU/ESfvhvnm0B91sxB01A=
AllowedIPs = 10.30.0.0/16
";
const PRIVATE_KEY: &str = "8Pg7kjIdnygMSjWpuTQcOt/TsZyxvgl65N1BRyGDwEY=";
const PEER_KEYS: [&str; 2] = [
    "x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y=",
    "VK0UCLhsjK7+AFqkgU8aIakU/ESfvhvnm0B91sxB01A=",
];

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("image-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds the test image once per test process (both firmwares boot copies).
fn image() -> PathBuf {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let dir = scratch("built");
            let config = dir.join("gw.conf");
            fs::write(&config, CONFIG).unwrap();
            let args = BuildArgs {
                config,
                out: dir.join("ringwall.img"),
                kernel: Some(kernel_path(Profile::Release).unwrap_or_else(|e| panic!("{e}"))),
                serial: SerialPort::default(),
            };
            let built = ringwall_image::build(&args, &mut |l| eprintln!("build: {l}"))
                .unwrap_or_else(|e| panic!("ringwall-image build failed: {e}"));
            eprintln!("image: {} bytes", built.size);
            built.out
        })
        .clone()
}

/// The whole appliance story on one firmware: boot from the disk alone,
/// prompt, the baked peers, ACPI power-off ending QEMU by itself.
fn boot_show_config_and_power_off(firmware: Firmware) {
    let dir = scratch(&format!("{firmware:?}").to_lowercase());
    let disk = dir.join("disk.img");
    fs::copy(image(), &disk).unwrap();
    let mut qemu = QemuBuilder::new()
        .memory("256M")
        .disk(&disk)
        .firmware(firmware.clone())
        .debug_exit(false)
        .allow_reboot(false);
    if firmware == Firmware::Ovmf {
        // OVMF wants its variable store as the second flash device.
        let vars = dir.join("OVMF_VARS.fd");
        fs::copy(OVMF_VARS, &vars).unwrap();
        qemu = qemu
            .arg("-drive")
            .arg(&format!("if=pflash,format=raw,file={}", vars.display()));
    }
    let mut vm = qemu.spawn().unwrap_or_else(|e| panic!("{e}"));
    let con = vm.console();
    // GRUB speaks on the serial port before the kernel does.
    con.wait_for("Ringwall", DISK_BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{firmware:?}: {e}"));
    let boot_log = con
        .wait_for_prompt(DISK_BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{firmware:?}: {e}"));
    assert!(
        !boot_log.contains(PRIVATE_KEY),
        "private key in the boot log"
    );

    let help = con.command("help").unwrap_or_else(|e| panic!("{e}"));
    if help.lines().any(|l| l.trim_start().starts_with("config")) {
        let shown = con.command("config").unwrap_or_else(|e| panic!("{e}"));
        for key in PEER_KEYS {
            assert!(
                shown.contains(key),
                "{firmware:?}: `config` lacks peer {key}:\n{shown}"
            );
        }
        assert!(
            !shown.contains(PRIVATE_KEY),
            "`config` printed the private key"
        );
    } else {
        // Until the console has `config`, the boot log must at least show the
        // whole module arrived under its name.
        let size = format!("{} bytes", CONFIG.len());
        assert!(
            boot_log.contains(&size) && boot_log.contains("ringwall.conf"),
            "{firmware:?}: boot log does not report the {size} module ringwall.conf:\n{boot_log}"
        );
        eprintln!("{firmware:?}: no `config` command yet; checked the boot log only");
    }

    con.send_line("poweroff").unwrap();
    let status = vm
        .wait_exit(POWEROFF_TIMEOUT)
        .unwrap_or_else(|e| panic!("{firmware:?}: no ACPI power-off: {e}"));
    assert!(status.success(), "{firmware:?}: QEMU exit status {status}");
}

#[test]
fn image_boots_from_disk_under_seabios_and_powers_off() {
    boot_show_config_and_power_off(Firmware::SeaBios);
}

#[test]
fn image_boots_from_disk_under_ovmf_and_powers_off() {
    assert!(
        Path::new(OVMF_CODE).is_file(),
        "{OVMF_CODE} missing: apt-get install ovmf"
    );
    boot_show_config_and_power_off(Firmware::Ovmf);
}

#[test]
fn inspect_reports_the_build_and_the_config_without_keys() {
    let report = ringwall_image::inspect(&image()).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.contains("kernel version: "), "{report}");
    assert!(report.contains("build commit: "), "{report}");
    assert!(report.contains("PrivateKey = (hidden)"), "{report}");
    for key in PEER_KEYS {
        assert!(report.contains(key), "{report}");
    }
    assert!(!report.contains(PRIVATE_KEY), "{report}");
}

#[test]
fn build_refuses_a_config_with_an_error_naming_the_line() {
    let dir = scratch("refused");
    let config = dir.join("bad.conf");
    fs::write(&config, CONFIG.replace(PEER_KEYS[0], "not-a-key")).unwrap();
    // The first peer's PublicKey line, counted from 1.
    let line = 1 + CONFIG
        .lines()
        .position(|l| l.contains(PEER_KEYS[0]))
        .unwrap();
    let prefix = format!("line {line}:");
    let out = dir.join("never.img");
    let args = BuildArgs {
        config,
        out: out.clone(),
        kernel: None,
        serial: SerialPort::default(),
    };
    match ringwall_image::build(&args, &mut |_| {}) {
        Err(Error::ConfigInvalid { errors, .. }) => {
            assert!(errors.iter().any(|e| e.starts_with(&prefix)), "{errors:?}");
            let shown = Error::ConfigInvalid {
                path: "bad.conf".into(),
                errors,
            }
            .to_string();
            assert!(shown.contains(&format!("bad.conf: {prefix}")), "{shown}");
        }
        other => panic!("expected the config to be refused, got {other:?}"),
    }
    assert!(!out.exists());
}
