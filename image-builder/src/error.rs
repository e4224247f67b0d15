//! Every way `ringwall-image` can fail, one variant per cause, each with the
//! message an operator needs to fix it and the exit status scripts can test.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::cli::UsageError;
use crate::disk::{DiskError, LayoutError};
use crate::host::{install_line, Requirement};
use crate::kernel::KernelFormatError;
use crate::keys::KeyCmdError;

/// A failed command.
#[derive(Debug)]
pub enum Error {
    /// The command line was wrong.
    Usage(UsageError),
    /// The config file could not be read.
    ConfigUnreadable {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The config file has errors: one line per error, each naming its line.
    ConfigInvalid {
        /// The path given.
        path: PathBuf,
        /// The parser's messages (`line N: ...`).
        errors: Vec<String>,
    },
    /// The kernel ELF does not exist (given, or after the build).
    KernelMissing(PathBuf),
    /// The kernel exists but cannot be read.
    KernelUnreadable {
        /// The kernel path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The kernel is not something GRUB's multiboot2 loads.
    KernelFormat {
        /// The kernel path.
        path: PathBuf,
        /// What is wrong with it.
        reason: KernelFormatError,
    },
    /// No workspace to build the kernel in, and no `--kernel`.
    NoWorkspace,
    /// `cargo build --release -p kernel` failed.
    KernelBuild(String),
    /// Host packages are missing.
    MissingHostTools(Vec<Requirement>),
    /// An external tool (grub-mkimage, mformat, ...) failed.
    Tool {
        /// The command line that ran.
        command: String,
        /// Its exit status and error output.
        detail: String,
    },
    /// The GRUB files do not have the layout the disk needs.
    Layout(DiskError),
    /// The output file cannot be created there.
    OutputUnwritable {
        /// The output path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file system ran out of space while writing.
    DiskFull(PathBuf),
    /// Another I/O error on a named file.
    Io {
        /// The file involved.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The image to inspect cannot be read.
    ImageUnreadable {
        /// The image path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a Ringwall image.
    NotAnImage {
        /// The image path.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The image's partition layout is not ours.
    ImageLayout {
        /// The image path.
        path: PathBuf,
        /// What is wrong.
        reason: LayoutError,
    },
    /// `genkey`/`pubkey` failed.
    Key(KeyCmdError),
}

impl Error {
    /// The process exit status: 2 for a wrong command line, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    /// Maps a write error on `path`, telling a full disk apart.
    pub fn write(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        if is_disk_full(&source) {
            Error::DiskFull(path)
        } else {
            Error::Io { path, source }
        }
    }
}

/// ENOSPC (no space) or EDQUOT (quota) on Linux.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull) || matches!(e.raw_os_error(), Some(28 | 122))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(u) => write!(f, "{u}"),
            Error::ConfigUnreadable { path, source } => {
                write!(f, "cannot read config {}: {source}", path.display())
            }
            Error::ConfigInvalid { path, errors } => {
                let n = errors.len();
                write!(f, "{}: {n} error{}", path.display(), if n == 1 { "" } else { "s" })?;
                for e in errors {
                    write!(f, "\n  {}: {e}", path.display())?;
                }
                Ok(())
            }
            Error::KernelMissing(p) => write!(f, "kernel not found: {}", p.display()),
            Error::KernelUnreadable { path, source } => {
                write!(f, "cannot read kernel {}: {source}", path.display())
            }
            Error::KernelFormat { path, reason } => {
                write!(f, "{} is not a Ringwall kernel: {reason}", path.display())
            }
            Error::NoWorkspace => write!(
                f,
                "no Ringwall workspace found to build the kernel in: run from the checkout or pass --kernel PATH"
            ),
            Error::KernelBuild(m) => write!(f, "kernel build failed: {m}"),
            Error::MissingHostTools(missing) => {
                write!(f, "missing host tools:")?;
                for r in missing {
                    write!(f, "\n  {} (package {})", r.what, r.package)?;
                }
                write!(f, "\ninstall them with:\n  {}", install_line(missing))
            }
            Error::Tool { command, detail } => write!(f, "`{command}` failed: {detail}"),
            Error::Layout(e) => write!(f, "cannot lay out the disk: {e}"),
            Error::OutputUnwritable { path, source } => {
                write!(f, "cannot write the image to {}: {source}", path.display())
            }
            Error::DiskFull(p) => write!(
                f,
                "no space left on the device while writing {}: free some space or choose another --out",
                p.display()
            ),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::ImageUnreadable { path, source } => {
                write!(f, "cannot read image {}: {source}", path.display())
            }
            Error::NotAnImage { path, reason } => {
                write!(f, "{} is not a Ringwall image: {reason}", path.display())
            }
            Error::ImageLayout { path, reason } => {
                write!(f, "{} is not a Ringwall image: {reason}", path.display())
            }
            Error::Key(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<KeyCmdError> for Error {
    fn from(e: KeyCmdError) -> Self {
        Error::Key(e)
    }
}

impl From<DiskError> for Error {
    fn from(e: DiskError) -> Self {
        Error::Layout(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_are_disk_full() {
        for code in [28, 122] {
            let e = Error::write("/x/r.img", io::Error::from_raw_os_error(code));
            assert!(matches!(e, Error::DiskFull(_)));
            assert!(e.to_string().contains("no space left"));
        }
        let e = Error::write("/x/r.img", io::Error::from_raw_os_error(13));
        assert!(matches!(e, Error::Io { .. }));
    }

    #[test]
    fn config_errors_list_each_line_and_exit_1() {
        let e = Error::ConfigInvalid {
            path: "gw.conf".into(),
            errors: vec![
                "line 3: unknown key `Foo`".into(),
                "line 9: bad port".into(),
            ],
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "gw.conf: 2 errors\n  gw.conf: line 3: unknown key `Foo`\n  gw.conf: line 9: bad port"
        );
        assert_eq!(Error::Usage(UsageError::NoCommand).exit_code(), 2);
    }
}
