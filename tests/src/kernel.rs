//! Finding or building the kernel ELF, once per test process and profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::HarnessError;

/// Which kernel build to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: what ships.
    Release,
    /// The dev profile: has the `crash` command.
    Debug,
}

static RELEASE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static DEBUG: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The kernel ELF for `profile`: `RINGWALL_KERNEL` (release) or
/// `RINGWALL_KERNEL_DEBUG` (debug) when set, otherwise built once.
pub fn kernel_path(profile: Profile) -> Result<PathBuf, HarnessError> {
    let (cell, var) = match profile {
        Profile::Release => (&RELEASE, "RINGWALL_KERNEL"),
        Profile::Debug => (&DEBUG, "RINGWALL_KERNEL_DEBUG"),
    };
    cell.get_or_init(|| match std::env::var_os(var) {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("{var}={} is not a file", p.display()))
            }
        }
        None => build(profile),
    })
    .clone()
    .map_err(HarnessError::Build)
}

/// Builds the kernel into `<target>/kernel-build`, a target directory of its
/// own: the outer `cargo test` holds the lock on the normal one.
fn build(profile: Profile) -> Result<PathBuf, String> {
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("kernel-build");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "-p", "kernel", "--bin", "kernel"])
        .env("CARGO_TARGET_DIR", &target)
        // Frame pointers make the crash backtraces complete.
        .env("RUSTFLAGS", "-C force-frame-pointers=yes")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build the kernel: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the kernel failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let dir = if profile == Profile::Release {
        "release"
    } else {
        "debug"
    };
    Ok(target.join(dir).join("kernel"))
}
