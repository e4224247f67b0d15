//! Finding the kernel to put in the image: the one given with `--kernel`, or
//! the workspace's release build, which this module runs.
//!
//! The workspace is found from where this tool was compiled
//! (`CARGO_MANIFEST_DIR`), falling back to the current directory and its
//! parents, so `ringwall-image` works both through `cargo run` and as an
//! installed binary run from a checkout. `CARGO_TARGET_DIR` is honoured the
//! way cargo does (a relative one is relative to the workspace root, where
//! cargo is started).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Multiboot2 header magic (Multiboot2 specification section 3.1.1).
const MULTIBOOT2_MAGIC: u32 = 0xE852_50D6;
/// The header must sit 8-aligned in the first 32768 bytes (section 3.1.1).
const MULTIBOOT2_SEARCH: usize = 32_768;

/// The workspace root: it has a Cargo.toml with `[workspace]` and a `kernel/`.
pub fn workspace_root() -> Option<PathBuf> {
    let compiled_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let cwd = env::current_dir().ok();
    let from_cwd = cwd
        .iter()
        .flat_map(|d| d.ancestors())
        .map(Path::to_path_buf)
        .collect::<Vec<_>>();
    compiled_in
        .into_iter()
        .chain(from_cwd)
        .find(|d| is_workspace(d))
}

fn is_workspace(dir: &Path) -> bool {
    dir.join("kernel/Cargo.toml").is_file()
        && fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
}

/// Where cargo puts build output for the workspace at `root`.
pub fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// Where `cargo build --release -p kernel` leaves the kernel ELF. The kernel
/// is built for the host triple (see kernel/build.rs), so there is no
/// `<triple>/` level unless a `--target` is forced; both are looked at.
pub fn release_kernel(target: &Path) -> PathBuf {
    let plain = target.join("release/kernel");
    let triple = target.join("x86_64-unknown-linux-gnu/release/kernel");
    if !plain.is_file() && triple.is_file() {
        triple
    } else {
        plain
    }
}

/// Runs `cargo build --release -p kernel` in `root`; its output goes to the
/// user's terminal (stderr), since a kernel build takes a while.
pub fn build_release(root: &Path) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "kernel"])
        .current_dir(root)
        .stdout(std::process::Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`cargo build --release -p kernel` failed ({status})"
        ))
    }
}

/// The workspace version (`[workspace.package] version`), read from the root
/// manifest so it is the kernel's even when this tool was built elsewhere.
pub fn workspace_version(root: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "version" {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The commit checked out in `root`, in the same short form the kernel's
/// `version` command prints (kernel/build.rs).
pub fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (out.status.success() && !s.is_empty()).then(|| s.to_string())
}

/// Whether `elf` holds the text of `commit` (at least 7 hex digits), as a
/// kernel built from that commit does.
pub fn carries_commit(elf: &[u8], commit: &str) -> bool {
    let c = commit.as_bytes();
    c.len() >= 7 && c.iter().all(u8::is_ascii_hexdigit) && elf.windows(c.len()).any(|w| w == c)
}

/// Why a file is not a kernel GRUB can boot with `multiboot2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFormatError {
    /// Does not start with the ELF magic.
    NotElf,
    /// No valid Multiboot2 header in the first 32 KiB.
    NoMultiboot2Header,
}

impl std::fmt::Display for KernelFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KernelFormatError::NotElf => "not an ELF file",
            KernelFormatError::NoMultiboot2Header => {
                "no Multiboot2 header in its first 32 KiB (GRUB's multiboot2 cannot load it)"
            }
        })
    }
}

/// Checks that `elf` is an ELF with a Multiboot2 header whose checksum holds.
pub fn check_multiboot2(elf: &[u8]) -> Result<(), KernelFormatError> {
    if !elf.starts_with(b"\x7fELF") {
        return Err(KernelFormatError::NotElf);
    }
    let window = &elf[..elf.len().min(MULTIBOOT2_SEARCH)];
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let found = window
        .chunks_exact(8)
        .enumerate()
        .filter(|(_, c)| word(c) == MULTIBOOT2_MAGIC)
        .any(|(i, _)| {
            let Some(h) = window.get(i * 8..i * 8 + 16) else {
                return false;
            };
            // magic + architecture + header_length + checksum == 0 (mod 2^32)
            let sum = word(&h[0..])
                .wrapping_add(word(&h[4..]))
                .wrapping_add(word(&h[8..]))
                .wrapping_add(word(&h[12..]));
            sum == 0 && word(&h[4..]) == 0
        });
    if found {
        Ok(())
    } else {
        Err(KernelFormatError::NoMultiboot2Header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF-looking file with a Multiboot2 header (i386 architecture,
    /// 24 bytes: fixed part plus the end tag) at `offset`.
    fn with_header(offset: usize, checksum_delta: u32) -> Vec<u8> {
        let mut f = vec![0u8; offset + 64];
        f[..4].copy_from_slice(b"\x7fELF");
        let len = 24u32;
        let sum = 0u32
            .wrapping_sub(MULTIBOOT2_MAGIC)
            .wrapping_sub(len)
            .wrapping_add(checksum_delta);
        for (i, w) in [MULTIBOOT2_MAGIC, 0, len, sum, 0, 8].iter().enumerate() {
            f[offset + 4 * i..offset + 4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        f
    }

    #[test]
    fn finds_an_aligned_header_with_a_good_checksum() {
        assert_eq!(check_multiboot2(&with_header(0x1000, 0)), Ok(()));
        assert!(check_multiboot2(&with_header(32_760, 0)).is_err());
        assert_eq!(check_multiboot2(&with_header(32_752, 0)), Ok(()));
    }

    #[test]
    fn refuses_bad_checksum_misalignment_beyond_32k_and_non_elf() {
        assert_eq!(
            check_multiboot2(&with_header(0x1000, 1)),
            Err(KernelFormatError::NoMultiboot2Header)
        );
        assert_eq!(
            check_multiboot2(&with_header(0x1004, 0)),
            Err(KernelFormatError::NoMultiboot2Header)
        );
        assert_eq!(
            check_multiboot2(&with_header(40_000, 0)),
            Err(KernelFormatError::NoMultiboot2Header)
        );
        let mut f = with_header(0x1000, 0);
        f[0] = 0;
        assert_eq!(check_multiboot2(&f), Err(KernelFormatError::NotElf));
    }

    #[test]
    fn commit_text_is_found_only_when_present_and_plausible() {
        let mut elf = with_header(0x1000, 0);
        elf.extend_from_slice(b"\0ringwall\x003b8f67f0a1b2\0");
        assert!(carries_commit(&elf, "3b8f67f0a1b2"));
        assert!(!carries_commit(&elf, "3b8f67f0a1b3"));
        assert!(!carries_commit(&elf, "3b8f6"), "too short to mean anything");
        assert!(!carries_commit(&elf, "unknown"), "not a commit");
    }

    #[test]
    fn this_workspace_is_found_with_its_version() {
        let root = workspace_root().unwrap();
        assert!(root.join("image-builder").is_dir());
        assert_eq!(
            workspace_version(&root).as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
}
