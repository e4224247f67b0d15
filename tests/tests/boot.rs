//! Boot tests: the real kernel under QEMU TCG, driven over its serial console.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringwall_tests::{Qemu, QemuBuilder, BOOT_TIMEOUT, POWEROFF_EXIT_CODE, PROMPT};

/// Boots the release kernel with `mem` and waits for the first prompt.
fn boot(mem: &str) -> Qemu {
    let mut vm = QemuBuilder::new().memory(mem).spawn().unwrap();
    vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    vm
}

#[test]
fn boots_to_the_prompt_with_32_mib_and_says_who_it_is() {
    let mut vm = QemuBuilder::new().memory("32M").spawn().unwrap();
    let c = vm.console();
    let banner = c.wait_for("booting", BOOT_TIMEOUT).unwrap();
    assert!(banner.contains("Ringwall 0."), "{banner}");
    let start = vm.started();
    let log = vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    eprintln!("QEMU start to prompt: {:?}", start.elapsed());
    for step in [
        "paging:", "cpu:", "memory:", "acpi:", "clock:", "pci:", "ready in",
    ] {
        assert!(log.contains(step), "no {step:?} in the boot log:\n{log}");
    }
    assert!(log.contains("config: no configuration module"), "{log}");
}

#[test]
fn help_lists_every_command_with_a_line_each() {
    let mut vm = boot("64M");
    let out = vm.console().command("help").unwrap();
    for cmd in [
        "help", "version", "uptime", "mem", "cpu", "pci", "log", "reboot", "poweroff",
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(cmd));
        let line = line.unwrap_or_else(|| panic!("{cmd} missing from help:\n{out}"));
        assert!(
            line.split_whitespace().count() > 1,
            "{cmd} has no help text: {line}"
        );
    }
    assert!(
        !out.contains("crash"),
        "crash exists only in debug builds:\n{out}"
    );
}

#[test]
fn mem_shows_totals_heap_dma_and_the_map() {
    let mut vm = boot("32M");
    let out = vm.console().command("mem").unwrap();
    for part in [
        "ram:",
        "kernel:",
        "heap:",
        "dma:",
        "memory map",
        "usable",
        "reserved",
    ] {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
}

#[test]
fn pci_lists_the_qemu_host_bridge() {
    let mut vm = boot("64M");
    let out = vm.console().command("pci").unwrap();
    let bridge = out.lines().find(|l| l.starts_with("00:00.0")).unwrap_or("");
    assert!(
        bridge.contains("8086:1237") && bridge.contains("host bridge"),
        "{out}"
    );
}

#[test]
fn version_uptime_cpu_and_log_answer() {
    let mut vm = boot("64M");
    let c = vm.console();
    let v = c.command("version").unwrap();
    assert!(v.starts_with("ringwall 0.") && v.contains("release"), "{v}");
    let up = c.command("uptime").unwrap();
    assert!(up.starts_with("up ") && up.contains("UTC"), "{up}");
    let cpu = c.command("cpu").unwrap();
    // QEMU's `-cpu max` under TCG has AVX2 and RDRAND.
    assert!(
        cpu.contains("avx2 enabled") && cpu.contains("rdrand yes"),
        "{cpu}"
    );
    assert_eq!(c.command("log debug").unwrap(), "log level: debug\n");
    assert_eq!(c.command("log").unwrap(), "log level: debug\n");
    assert!(c.command("log loud").unwrap().starts_with("error: log:"));
}

#[test]
fn unknown_command_prints_one_error_line_and_the_prompt() {
    let mut vm = boot("64M");
    let out = vm.console().command("frobnicate --now").unwrap();
    assert_eq!(out, "error: unknown command 'frobnicate' (try 'help')\n");
}

#[test]
fn garbage_at_the_prompt_does_not_hurt() {
    let mut vm = boot("64M");
    // 200 pseudo-random bytes (xorshift seeded from the clock; the seed is
    // printed so a failure can be replayed).
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x2545_f491, |d| d.as_nanos() as u32)
        | 1;
    eprintln!("garbage seed: {x:#x}");
    let garbage: Vec<u8> = (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let c = vm.console();
    c.send(&garbage).unwrap();
    // Ctrl-C drops whatever half line the garbage left behind; a marker line
    // then tells when the kernel has worked through all of it.
    c.send(b"\x03").unwrap();
    let marker = format!("marker-{x:08x}");
    c.send_line(&marker).unwrap();
    c.wait_for(&format!("unknown command '{marker}'"), BOOT_TIMEOUT)
        .unwrap();
    c.wait_for_prompt(BOOT_TIMEOUT).unwrap();
    let out = c.command("version").unwrap();
    assert!(out.contains("ringwall 0."), "{out}");
}

#[test]
fn poweroff_ends_qemu_with_the_debug_exit_code() {
    let mut vm = boot("64M");
    vm.console().send_line("poweroff").unwrap();
    let status = vm.wait_exit(Duration::from_secs(60)).unwrap();
    assert_eq!(
        status.code(),
        Some(POWEROFF_EXIT_CODE),
        "{}",
        vm.console().log()
    );
}

#[test]
fn poweroff_without_the_exit_device_uses_acpi() {
    let mut vm = QemuBuilder::new().debug_exit(false).spawn().unwrap();
    vm.console().wait_for_prompt(BOOT_TIMEOUT).unwrap();
    vm.console().send_line("poweroff").unwrap();
    // ACPI S5 makes QEMU exit cleanly.
    let status = vm.wait_exit(Duration::from_secs(60)).unwrap();
    assert_eq!(status.code(), Some(0), "{}", vm.console().log());
}

#[test]
fn reboot_command_restarts_the_machine() {
    let mut vm = boot("64M");
    let c = vm.console();
    c.send_line("reboot").unwrap();
    c.wait_for("rebooting", Duration::from_secs(30)).unwrap();
    c.wait_for("Ringwall 0.", Duration::from_secs(60)).unwrap();
    c.wait_for_prompt(BOOT_TIMEOUT).unwrap();
    assert_eq!(c.log().matches("Ringwall 0.").count(), 2, "{}", c.log());
}

#[test]
fn debug_build_crash_prints_a_backtrace_and_reboots() {
    let mut vm = QemuBuilder::new().debug_kernel().spawn().unwrap();
    let c = vm.console();
    c.wait_for_prompt(BOOT_TIMEOUT).unwrap();
    c.send_line("crash").unwrap();
    let dump = c
        .wait_for("rebooting in 5 s", Duration::from_secs(60))
        .unwrap();
    for part in [
        "EXCEPTION 14 (page fault)",
        "cr2 0x0000000000000008",
        "rip ",
        "r15 ",
        "backtrace",
    ] {
        assert!(dump.contains(part), "no {part:?} in:\n{dump}");
    }
    // The frame-pointer chain reaches past the faulting function.
    assert!(dump.contains("   1: 0x"), "{dump}");
    // The countdown ends in a reset: the kernel boots again to a prompt.
    let t = Instant::now();
    c.wait_for("Ringwall 0.", Duration::from_secs(60)).unwrap();
    c.wait_for(PROMPT, BOOT_TIMEOUT).unwrap();
    assert!(
        t.elapsed() >= Duration::from_secs(4),
        "rebooted before the countdown"
    );
}

#[test]
fn panic_halt_on_the_command_line_keeps_it_halted() {
    let mut vm = QemuBuilder::new()
        .debug_kernel()
        .append("panic=halt")
        .spawn()
        .unwrap();
    let c = vm.console();
    c.wait_for_prompt(BOOT_TIMEOUT).unwrap();
    c.send_line("crash panic").unwrap();
    let dump = c
        .wait_for("halted (panic=halt)", Duration::from_secs(60))
        .unwrap();
    assert!(
        dump.contains("PANIC: crash command at kernel/src/"),
        "{dump}"
    );
    // Still halted (no new banner) a few seconds later.
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(c.log().matches("Ringwall 0.").count(), 1, "{}", c.log());
}

/// Builds a GRUB rescue ISO (BIOS and UEFI) that boots the kernel through
/// Multiboot2 with a command line and a module, the way the disk images do.
fn grub_iso(dir: &std::path::Path) -> std::path::PathBuf {
    let kernel = ringwall_tests::kernel_path(ringwall_tests::Profile::Release).unwrap();
    let root = dir.join("iso");
    std::fs::create_dir_all(root.join("boot/grub")).unwrap();
    std::fs::copy(&kernel, root.join("boot/kernel")).unwrap();
    std::fs::write(
        root.join("boot/ringwall.conf"),
        "[Interface]\nListenPort = 51820\n",
    )
    .unwrap();
    std::fs::write(
        root.join("boot/grub/grub.cfg"),
        "set timeout=0\nserial --unit=0 --speed=115200\nterminal_input serial\n\
         terminal_output serial\nmenuentry ringwall {\n  multiboot2 /boot/kernel log=info lan=192.168.10.1/24\n\
         \x20 module2 /boot/ringwall.conf config\n  boot\n}\n",
    )
    .unwrap();
    let iso = dir.join("ringwall.iso");
    let out = std::process::Command::new("grub-mkrescue")
        .arg("-o")
        .arg(&iso)
        .arg(&root)
        .output()
        .expect("grub-mkrescue (grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools; tests/run installs them)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    iso
}

#[test]
fn grub_multiboot2_under_uefi_hands_over_cmdline_module_and_rsdp() {
    let dir = std::env::temp_dir().join(format!("ringwall-grub-{}", std::process::id()));
    let iso = grub_iso(&dir);
    let mut vm = QemuBuilder::new()
        .memory("128M")
        .arg("-drive")
        .arg(&format!(
            "if=pflash,format=raw,readonly=on,file={}",
            ringwall_tests::OVMF_CODE
        ))
        .arg("-cdrom")
        .arg(&iso.display().to_string())
        .kernel_none()
        .spawn()
        .unwrap();
    let log = vm
        .console()
        .wait_for_prompt(Duration::from_secs(240))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(log.contains("booted by V2 (GRUB"), "{log}");
    assert!(
        log.contains("command line: \"log=info lan=192.168.10.1/24\""),
        "{log}"
    );
    assert!(
        log.contains("config: 31 bytes from module \"config\""),
        "{log}"
    );
    // Under UEFI the RSDP only arrives through the Multiboot2 tag.
    assert!(log.contains("acpi: rev 2"), "{log}");
    vm.console().send_line("poweroff").unwrap();
    assert_eq!(
        vm.wait_exit(Duration::from_secs(60)).unwrap().code(),
        Some(POWEROFF_EXIT_CODE)
    );
}
