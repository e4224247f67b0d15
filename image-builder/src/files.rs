//! Files a build writes: a private work directory that disappears with
//! everything in it, 0600 files for anything holding the private key, and the
//! image itself written under a temporary name and renamed into place only
//! when complete, so a failed or interrupted build never leaves a half image
//! where a `dd` might pick it up.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates a new file only its owner can read (for the config copy).
pub fn create_private(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::write(path, e))
}

/// Writes a new owner-only file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    create_private(path)?
        .write_all(bytes)
        .map_err(|e| Error::write(path, e))
}

/// Writes a file that holds nothing secret.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    fs::write(path, bytes).map_err(|e| Error::write(path, e))
}

/// A private temporary directory, removed with everything in it on drop.
pub struct WorkDir(PathBuf);

impl WorkDir {
    /// Makes a fresh 0700 directory under the system temp directory.
    pub fn create() -> Result<WorkDir, Error> {
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

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
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
pub struct PartialOutput {
    file: Option<File>,
    temp: PathBuf,
    out: PathBuf,
}

impl PartialOutput {
    /// Checks `out` can be written and opens the temporary file beside it.
    pub fn create(out: &Path) -> Result<PartialOutput, Error> {
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

    /// Writes the image and flushes it to the device (ENOSPC shows here).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::write(&self.out, e))
    }

    /// Renames the finished image over `out`.
    pub fn commit(mut self) -> Result<(), Error> {
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
