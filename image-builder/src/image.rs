//! `build`: from a config file and a kernel to a raw disk image.
//!
//! The steps, in the order that fails fastest: validate the config (the
//! operator's most likely mistake), make sure the output can be created,
//! check the host tools, get the kernel, then assemble everything in a
//! private temporary directory and write the image under a temporary name
//! that is renamed into place only when complete. Nothing holding the private
//! key is left behind: the config copy lives in a 0700 directory as a 0600
//! file that is removed on every exit path, and the image itself is 0600.

use std::fs;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::BuildArgs;
use crate::config;
use crate::disk::{self, SECTOR};
use crate::error::Error;
use crate::files::{create_private, read, write_file, write_private, PartialOutput, WorkDir};
use crate::grubcfg::{self, CONFIG_PATH, GRUB_CFG_PATH, INFO_PATH, KERNEL_PATH};
use crate::host::{self, GRUB_BIOS_DIR, GRUB_EFI_DIR};
use crate::info::{self, BuildInfo};
use crate::kernel;
use crate::tools;

/// GRUB modules built into both core images; nothing is loaded from disk, so
/// the image carries no module directories at all. `normal` gives the menu
/// and its commands, `serial` the console, `part_msdos` + `fat` reach
/// `/boot`, `search` finds the volume by UUID, `multiboot2` (which pulls in `acpi` for the RSDP tag) loads the
/// kernel and its module.
const MODULES: &[&str] = &[
    "part_msdos",
    "fat",
    "search",
    "normal",
    "serial",
    "multiboot2",
    "boot",
];
/// BIOS disk access; UEFI's is in GRUB's EFI kernel already.
const BIOS_ONLY_MODULES: &[&str] = &["biosdisk"];
/// BIOS GRUB's prefix: the first partition of the boot disk. The MBR code
/// passes the BIOS drive on; GRUB calls the boot disk hd0.
const BIOS_PREFIX: &str = "(hd0,msdos1)/boot/grub";
/// UEFI GRUB's prefix: a path on the partition it was loaded from.
const EFI_PREFIX: &str = "/boot/grub";
/// The removable-media loader path (UEFI 2.x section 3.5.1.1).
const EFI_LOADER_PATH: &str = "/EFI/BOOT/BOOTX64.EFI";

/// What a finished build produced.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image path.
    pub out: PathBuf,
    /// Image size in bytes.
    pub size: u64,
    /// What was recorded in the image.
    pub info: BuildInfo,
    /// How many peers the baked config has.
    pub peers: usize,
}

/// Builds the image described by `args`; `note` receives progress lines.
pub fn build(args: &BuildArgs, note: &mut dyn FnMut(&str)) -> Result<Built, Error> {
    build_at(args, info::build_epoch(), note)
}

/// [`build`] stamped with `epoch` (Unix seconds) as its build time: the
/// same inputs and epoch give the same image, byte for byte.
pub fn build_at(args: &BuildArgs, epoch: u64, note: &mut dyn FnMut(&str)) -> Result<Built, Error> {
    let (config_bytes, config) = config::load(&args.config)?;
    let mut partial = PartialOutput::create(&args.out)?;

    let missing = host::missing(host::FOR_BUILD);
    if !missing.is_empty() {
        return Err(Error::MissingHostTools(missing));
    }

    let root = kernel::workspace_root();
    let (kernel_path, source) = match &args.kernel {
        Some(k) => {
            if !k.is_file() {
                return Err(Error::KernelMissing(k.clone()));
            }
            (k.clone(), k.display().to_string())
        }
        None => {
            let root = root.as_deref().ok_or(Error::NoWorkspace)?;
            note("building the release kernel (cargo build --release -p kernel)");
            kernel::build_release(root).map_err(Error::KernelBuild)?;
            let k = kernel::release_kernel(&kernel::target_dir(root));
            if !k.is_file() {
                return Err(Error::KernelMissing(k));
            }
            (k, "workspace release build".to_string())
        }
    };
    let elf = fs::read(&kernel_path).map_err(|source| Error::KernelUnreadable {
        path: kernel_path.clone(),
        source,
    })?;
    kernel::check_multiboot2(&elf).map_err(|reason| Error::KernelFormat {
        path: kernel_path.clone(),
        reason,
    })?;
    // The kernel bakes its commit in as text (kernel/build.rs). Version and
    // commit are recorded only when the ELF really carries the workspace's
    // commit: a prebuilt kernel from elsewhere reads "unknown", not a guess.
    let (version, commit) = root
        .as_deref()
        .and_then(|r| Some((r, kernel::git_commit(r)?)))
        .filter(|(_, c)| kernel::carries_commit(&elf, c))
        .map(|(r, c)| {
            let v = kernel::workspace_version(r).unwrap_or_else(|| "unknown".into());
            (v, c)
        })
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
    drop(elf);

    let info = BuildInfo {
        kernel_version: version,
        commit,
        kernel_source: source,
        built: info::rfc3339_utc(epoch),
        serial: args.serial.to_string(),
        builder: format!("ringwall-image {}", env!("CARGO_PKG_VERSION")),
    };

    let work = WorkDir::create()?;
    let kernel_file = work.path("ringwall.elf");
    strip_debug(&kernel_path, &kernel_file, note)?;
    let config_file = work.path("ringwall.conf");
    write_private(&config_file, config_bytes.as_bytes())?;
    let info_file = work.path("ringwall.info");
    write_file(&info_file, info.to_string().as_bytes())?;
    let grub_cfg = work.path("grub.cfg");
    write_file(&grub_cfg, grubcfg::menu_config(args.serial).as_bytes())?;
    let early_cfg = work.path("early.cfg");
    // The FAT volume serial doubles as the UUID GRUB searches for.
    let volume_serial = epoch as u32;
    write_file(
        &early_cfg,
        grubcfg::early_config(args.serial, volume_serial).as_bytes(),
    )?;

    note("making GRUB core images (BIOS core.img, UEFI BOOTX64.EFI)");
    let core_img = work.path("core.img");
    grub_mkimage(
        "i386-pc",
        GRUB_BIOS_DIR,
        BIOS_PREFIX,
        &early_cfg,
        &core_img,
        true,
    )?;
    let efi_img = work.path("bootx64.efi");
    grub_mkimage(
        "x86_64-efi",
        GRUB_EFI_DIR,
        EFI_PREFIX,
        &early_cfg,
        &efi_img,
        false,
    )?;

    let core = read(&core_img)?;
    let start = disk::partition_start(core.len());
    let files: [(&Path, &str); 5] = [
        (&efi_img, EFI_LOADER_PATH),
        (&grub_cfg, GRUB_CFG_PATH),
        (&kernel_file, KERNEL_PATH),
        (&config_file, CONFIG_PATH),
        (&info_file, INFO_PATH),
    ];
    let lens = files
        .iter()
        .map(|(p, _)| {
            fs::metadata(p)
                .map(|m| m.len())
                .map_err(|e| Error::write(*p, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let part_len = disk::partition_len(&lens);

    note("formatting the FAT system partition");
    let part_img = work.path("part.img");
    let part_file = create_private(&part_img)?;
    part_file
        .set_len(part_len)
        .map_err(|e| Error::write(&part_img, e))?;
    drop(part_file);
    tools::mformat(
        &part_img,
        part_len / SECTOR as u64,
        start,
        volume_serial,
        epoch,
    )?;
    tools::mmd(
        &part_img,
        &["/EFI", "/EFI/BOOT", "/boot", "/boot/grub"],
        epoch,
    )?;
    for (src, dest) in files {
        tools::mcopy_in(&part_img, src, dest, epoch)?;
    }

    let boot = read(&Path::new(GRUB_BIOS_DIR).join("boot.img"))?;
    // Both buffers hold the config, private key included: wiped after use.
    let part = Zeroizing::new(read(&part_img)?);
    let image = Zeroizing::new(disk::assemble(&boot, &core, &part)?);
    drop(part);
    partial.write_all(&image)?;
    let size = image.len() as u64;
    drop(image);
    partial.commit()?;
    Ok(Built {
        out: args.out.clone(),
        size,
        info,
        peers: config.peers.len(),
    })
}

fn grub_mkimage(
    format: &str,
    dir: &str,
    prefix: &str,
    early: &Path,
    out: &Path,
    bios: bool,
) -> Result<(), Error> {
    let mut args: Vec<String> = vec![
        "-O".into(),
        format.into(),
        "-d".into(),
        dir.into(),
        "-p".into(),
        prefix.into(),
        "-c".into(),
        early.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    if bios {
        args.extend(BIOS_ONLY_MODULES.iter().map(|m| m.to_string()));
    }
    args.extend(MODULES.iter().map(|m| m.to_string()));
    tools::run("grub-mkimage", &args).map(drop)
}

/// Copies the kernel without its DWARF sections (`objcopy --strip-debug`):
/// the frame-pointer backtraces the kernel prints do not use them, and they
/// are most of a release ELF's size. Without binutils the ELF goes in whole.
fn strip_debug(src: &Path, dest: &Path, note: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let (s, d) = (src.display().to_string(), dest.display().to_string());
    match tools::run("objcopy", ["--strip-debug", &s, &d]) {
        Ok(_) => {
            // Stripping must not have moved the boot headers.
            let elf = read(dest)?;
            kernel::check_multiboot2(&elf).map_err(|reason| Error::KernelFormat {
                path: dest.to_path_buf(),
                reason,
            })
        }
        Err(_) => {
            note("objcopy (binutils) not usable: the kernel goes in with its debug info");
            fs::copy(src, dest)
                .map(drop)
                .map_err(|e| Error::write(dest, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grubcfg::SerialPort;
    use std::os::unix::fs::PermissionsExt;

    /// The config-check tests' complete file, reused as the image's config.
    use crate::config::tests::GOOD as CONFIG;
    const PRIVATE: &str = "8Pg7kjIdnygMSjWpuTQcOt/TsZyxvgl65N1BRyGDwEY=";

    /// A scratch directory per test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir()
                .join(format!("ringwall-image-test.{}.{name}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            fs::write(&p, bytes).unwrap();
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Bytes that pass `check_multiboot2`: ELF magic and a Multiboot2
    /// header (fixed part + end tag) at 0x1000. Not runnable; enough for
    /// everything up to booting.
    fn fake_kernel() -> Vec<u8> {
        let mut f = vec![0u8; 0x2000];
        f[..4].copy_from_slice(b"\x7fELF");
        let magic = 0xE852_50D6u32;
        let sum = 0u32.wrapping_sub(magic).wrapping_sub(24);
        for (i, w) in [magic, 0, 24, sum, 0, 8].iter().enumerate() {
            f[0x1000 + 4 * i..0x1004 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        f
    }

    fn args(s: &Scratch, config: PathBuf, kernel: Option<PathBuf>) -> BuildArgs {
        BuildArgs {
            config,
            out: s.0.join("ringwall.img"),
            kernel,
            serial: SerialPort::default(),
        }
    }

    fn leftovers(s: &Scratch) -> Vec<String> {
        fs::read_dir(&s.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("partial"))
            .collect()
    }

    #[test]
    fn config_errors_refuse_the_build_with_line_numbers() {
        let s = Scratch::new("badconf");
        let conf = s.file("gw.conf", CONFIG.replace("51820", "0").as_bytes());
        let kernel = s.file("k.elf", &fake_kernel());
        let e = build(&args(&s, conf, Some(kernel)), &mut |_| {}).unwrap_err();
        let Error::ConfigInvalid { errors, .. } = &e else {
            panic!("{e}");
        };
        assert!(
            errors.iter().any(|m| m.starts_with("line 3:")),
            "{errors:?}"
        );
        assert!(!s.0.join("ringwall.img").exists());
        assert!(leftovers(&s).is_empty());
    }

    #[test]
    fn unreadable_config_missing_kernel_and_non_kernel_are_named() {
        let s = Scratch::new("errors");
        let conf = s.file("gw.conf", CONFIG.as_bytes());
        let e = build(&args(&s, s.0.join("nope.conf"), None), &mut |_| {}).unwrap_err();
        assert!(matches!(e, Error::ConfigUnreadable { .. }), "{e}");

        let missing = s.0.join("missing.elf");
        let e = build(&args(&s, conf.clone(), Some(missing)), &mut |_| {}).unwrap_err();
        assert!(
            matches!(e, Error::KernelMissing(_) | Error::MissingHostTools(_)),
            "{e}"
        );

        let not_elf = s.file("notes.txt", b"hello");
        let e = build(&args(&s, conf, Some(not_elf)), &mut |_| {}).unwrap_err();
        assert!(
            matches!(e, Error::KernelFormat { .. } | Error::MissingHostTools(_)),
            "{e}"
        );
        assert!(leftovers(&s).is_empty());
    }

    #[test]
    fn unwritable_output_is_reported_before_any_work() {
        let s = Scratch::new("unwritable");
        let conf = s.file("gw.conf", CONFIG.as_bytes());
        let mut a = args(&s, conf, Some(s.0.join("missing.elf")));
        a.out = s.0.join("no/such/dir/ringwall.img");
        let e = build(&a, &mut |_| {}).unwrap_err();
        assert!(matches!(e, Error::OutputUnwritable { .. }), "{e}");
        a.out = s.0.clone();
        let e = build(&a, &mut |_| {}).unwrap_err();
        assert!(matches!(e, Error::OutputUnwritable { .. }), "{e}");
    }

    #[test]
    fn same_inputs_and_epoch_give_the_same_bytes() {
        if !host::missing(host::FOR_BUILD).is_empty() {
            eprintln!("GRUB/mtools not installed: build not exercised");
            return;
        }
        let s = Scratch::new("repro");
        let conf = s.file("gw.conf", CONFIG.as_bytes());
        let kernel = s.file("k.elf", &fake_kernel());
        let mut a = args(&s, conf, Some(kernel));
        let epoch = 1_764_072_000; // 2025-11-25T12:00:00Z
        let first = build_at(&a, epoch, &mut |_| {}).unwrap();
        let first = fs::read(first.out).unwrap();
        a.out = s.0.join("again.img");
        let second = build_at(&a, epoch, &mut |_| {}).unwrap();
        assert_eq!(second.info.built, "2025-11-25T12:00:00Z");
        assert!(first == fs::read(&second.out).unwrap(), "images differ");
        // The FAT12/16 boot sector's volume serial (offset 0x27) is the UUID
        // the embedded GRUB config searches for.
        let part = disk::find_efi_partition(&first[..512], first.len() as u64).unwrap();
        let at = part.offset as usize + 0x27;
        assert_eq!(first[at..at + 4], (epoch as u32).to_le_bytes());
        let later = build_at(&a, epoch + 1, &mut |_| {}).unwrap();
        assert!(
            first != fs::read(later.out).unwrap(),
            "the epoch is not in the image"
        );
    }

    #[test]
    fn builds_an_image_that_inspect_reads_back_without_the_private_key() {
        if !host::missing(host::FOR_BUILD).is_empty() {
            eprintln!("GRUB/mtools not installed: build not exercised");
            return;
        }
        let s = Scratch::new("full");
        let conf = s.file("gw.conf", CONFIG.as_bytes());
        let kernel = s.file("k.elf", &fake_kernel());
        let built = build(&args(&s, conf, Some(kernel)), &mut |_| {}).unwrap();
        let img = fs::read(&built.out).unwrap();
        assert_eq!(img.len() as u64, built.size);
        assert!(built.size < 2 * 1024 * 1024, "{} bytes", built.size);
        assert_eq!(built.peers, 1);
        let mode = fs::metadata(&built.out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(leftovers(&s).is_empty());

        // The MBR carries GRUB's boot code and the ESP; core.img follows it.
        assert_eq!(&img[510..512], &[0x55, 0xAA]);
        let boot = fs::read(Path::new(GRUB_BIOS_DIR).join("boot.img")).unwrap();
        assert_eq!(&img[..440], &boot[..440]);
        assert_eq!(img[446 + 4], disk::TYPE_EFI_SYSTEM);

        let report = crate::inspect(&built.out).unwrap();
        assert!(report.contains("kernel version: unknown"), "{report}");
        assert!(report.contains("PrivateKey = (hidden)"), "{report}");
        assert!(report.contains("PublicKey = x5Eak6Z2WPJoaiT82jd3IzuAlrk2Q5XEUKf0rpM8y2Y="));
        assert!(!report.contains(PRIVATE), "{report}");

        // The config goes in byte for byte; the work directory is gone.
        let part = disk::find_efi_partition(&img[..512], img.len() as u64).unwrap();
        let baked = tools::mcopy_out(&built.out, part.offset, CONFIG_PATH).unwrap();
        assert_eq!(baked, CONFIG.as_bytes());
        let cfg = tools::mcopy_out(&built.out, part.offset, GRUB_CFG_PATH).unwrap();
        assert!(String::from_utf8_lossy(&cfg).contains("module2 /boot/ringwall.conf"));
        let efi = tools::mcopy_out(&built.out, part.offset, EFI_LOADER_PATH).unwrap();
        assert_eq!(&efi[..2], b"MZ");
    }
}
