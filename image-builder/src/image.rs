//! `build`: from a config file and a kernel to a raw disk image.
//!
//! The steps, in the order that fails fastest: validate the config (the
//! operator's most likely mistake), make sure the output can be created,
//! check the host tools, get the kernel, then assemble everything in a
//! private temporary directory and write the image under a temporary name
//! that is renamed into place only when complete. Nothing holding the private
//! key is left behind: the config copy lives in a 0700 directory as a 0600
//! file that is removed on every exit path, and the image itself is 0600.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::BuildArgs;
use crate::config;
use crate::disk::{self, SECTOR};
use crate::error::Error;
use crate::grubcfg::{self, CONFIG_PATH, GRUB_CFG_PATH, INFO_PATH, KERNEL_PATH};
use crate::host::{self, GRUB_BIOS_DIR, GRUB_EFI_DIR};
use crate::info::{self, BuildInfo};
use crate::kernel;
use crate::tools;

/// GRUB modules built into both core images; nothing is loaded from disk, so
/// the image carries no module directories at all. `normal` gives the menu
/// and its commands, `serial` the console, `part_msdos` + `fat` reach
/// `/boot`, `multiboot2` (which pulls in `acpi` for the RSDP tag) loads the
/// kernel and its module.
const MODULES: &[&str] = &[
    "part_msdos",
    "fat",
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
    let (config_bytes, config) = config::load(&args.config)?;
    let mut partial = PartialOutput::create(&args.out)?;

    let missing = host::missing(host::FOR_BUILD);
    if !missing.is_empty() {
        return Err(Error::MissingHostTools(missing));
    }

    let (kernel_path, version, commit, source) = match &args.kernel {
        Some(k) => {
            if !k.is_file() {
                return Err(Error::KernelMissing(k.clone()));
            }
            let unknown = || "unknown (prebuilt kernel)".to_string();
            (k.clone(), unknown(), unknown(), k.display().to_string())
        }
        None => {
            let root = kernel::workspace_root().ok_or(Error::NoWorkspace)?;
            note("building the release kernel (cargo build --release -p kernel)");
            kernel::build_release(&root).map_err(Error::KernelBuild)?;
            let k = kernel::release_kernel(&kernel::target_dir(&root));
            if !k.is_file() {
                return Err(Error::KernelMissing(k));
            }
            let version = kernel::workspace_version(&root).unwrap_or_else(|| "unknown".into());
            let commit = kernel::git_commit(&root).unwrap_or_else(|| "unknown".into());
            (k, version, commit, "workspace release build".to_string())
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
    drop(elf);

    let info = BuildInfo {
        kernel_version: version,
        commit,
        kernel_source: source,
        built: info::build_time(),
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
    write_file(&early_cfg, grubcfg::early_config(args.serial).as_bytes())?;

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
    tools::mformat(&part_img, part_len / SECTOR as u64, start)?;
    tools::mmd(&part_img, &["/EFI", "/EFI/BOOT", "/boot", "/boot/grub"])?;
    for (src, dest) in files {
        tools::mcopy_in(&part_img, src, dest)?;
    }

    let boot = read(&Path::new(GRUB_BIOS_DIR).join("boot.img"))?;
    let part = read(&part_img)?;
    let image = disk::assemble(&boot, &core, &part)?;
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

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn create_private(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::write(path, e))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    create_private(path)?
        .write_all(bytes)
        .map_err(|e| Error::write(path, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    fs::write(path, bytes).map_err(|e| Error::write(path, e))
}

/// A private temporary directory, removed with everything in it on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<WorkDir, Error> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("ringwall-image.{}.{nanos:09}", std::process::id()));
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::write(&path, e))?;
        Ok(WorkDir(path))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The image being written: a 0600 file next to the destination, renamed
/// over it when complete and removed if anything fails before that.
struct PartialOutput {
    file: Option<File>,
    temp: PathBuf,
    out: PathBuf,
}

impl PartialOutput {
    fn create(out: &Path) -> Result<PartialOutput, Error> {
        let unwritable = |source| Error::OutputUnwritable {
            path: out.to_path_buf(),
            source,
        };
        if let Ok(meta) = fs::symlink_metadata(out) {
            if !meta.is_file() {
                return Err(unwritable(std::io::Error::other(
                    "not a regular file (build to a file, then write it to the device with dd)",
                )));
            }
        }
        let name = out
            .file_name()
            .ok_or_else(|| unwritable(std::io::Error::other("no file name")))?;
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = dir.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(unwritable)?;
        Ok(PartialOutput {
            file: Some(file),
            temp,
            out: out.to_path_buf(),
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::write(&self.out, e))
    }

    fn commit(mut self) -> Result<(), Error> {
        self.file = None;
        fs::rename(&self.temp, &self.out).map_err(|source| Error::OutputUnwritable {
            path: self.out.clone(),
            source,
        })?;
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
