//! Running the host tools (`grub-mkimage`, mtools) with their error output
//! captured, so a failure is reported with the exact command and its message.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::Error;

/// Runs `program args...`; success or an [`Error::Tool`] with its stderr.
pub fn run<I, S>(program: &str, args: I) -> Result<Vec<u8>, Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_env(program, args, &[])
}

/// [`run`] with extra environment variables for the child.
pub fn run_env<I, S>(program: &str, args: I, env: &[(&str, String)]) -> Result<Vec<u8>, Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = std::iter::once(program.to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(&args)
        // mtools refuses FAT geometries it finds odd unless told not to check;
        // ours are made by mformat itself.
        .env("MTOOLS_SKIP_CHECK", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Tool {
            command: shown.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(Error::Tool {
            command: shown,
            detail: format!("{} {}", out.status, stderr.trim()),
        })
    }
}

/// The mtools image argument for a FAT file system at `offset` in `file`.
pub fn mtools_image(file: &Path, offset: u64) -> String {
    if offset == 0 {
        file.display().to_string()
    } else {
        format!("{}@@{offset}", file.display())
    }
}

/// File times on the FAT: mtools takes them from `SOURCE_DATE_EPOCH`, so an
/// image built twice from the same inputs at the same epoch is identical.
fn mtools_env(epoch: u64) -> [(&'static str, String); 1] {
    [("SOURCE_DATE_EPOCH", epoch.to_string())]
}

/// Formats `file` (already sized) as FAT with volume label RINGWALL and the
/// given volume serial (not a random one: GRUB finds the volume by it, and a
/// rebuild stays byte-identical).
pub fn mformat(
    file: &Path,
    sectors: u64,
    hidden: u64,
    volume_serial: u32,
    epoch: u64,
) -> Result<(), Error> {
    // 2 heads × 32 sectors: mformat wants whole cylinders; the hidden-sector
    // count is the partition's LBA, which the FAT boot sector records.
    let (t, h) = (sectors.to_string(), hidden.to_string());
    let serial = format!("{volume_serial:08x}");
    let img = file.display().to_string();
    let args = [
        "-i", &img, "-T", &t, "-h", "2", "-s", "32", "-H", &h, "-N", &serial, "-v", "RINGWALL",
        "::",
    ];
    run_env("mformat", args, &mtools_env(epoch)).map(drop)
}

/// Makes directories (parents first) on the FAT image.
pub fn mmd(file: &Path, dirs: &[&str], epoch: u64) -> Result<(), Error> {
    let img = file.display().to_string();
    let mut args = vec!["-i".to_string(), img];
    args.extend(dirs.iter().map(|d| format!("::{d}")));
    run_env("mmd", &args, &mtools_env(epoch)).map(drop)
}

/// Copies a host file onto the FAT image at `dest` (absolute, `/`-separated).
pub fn mcopy_in(file: &Path, src: &Path, dest: &str, epoch: u64) -> Result<(), Error> {
    let img = file.display().to_string();
    let src = src.display().to_string();
    let args = ["-i", &img, &src, &format!("::{dest}")];
    run_env("mcopy", args, &mtools_env(epoch)).map(drop)
}

/// Reads a file off the FAT file system at `offset` in `image`.
pub fn mcopy_out(image: &Path, offset: u64, path: &str) -> Result<Vec<u8>, Error> {
    let img = mtools_image(image, offset);
    run("mcopy", ["-n", "-i", &img, &format!("::{path}"), "-"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_syntax_is_mtools_double_at() {
        assert_eq!(mtools_image(Path::new("/a/r.img"), 0), "/a/r.img");
        assert_eq!(mtools_image(Path::new("r.img"), 196_608), "r.img@@196608");
    }

    #[test]
    fn failures_name_the_command_and_carry_stderr() {
        let e = run("sh", ["-c", "echo broken >&2; exit 3"]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("`sh -c echo broken >&2; exit 3` failed"),
            "{text}"
        );
        assert!(text.contains("broken"), "{text}");
        let e = run("ringwall-no-such-tool", ["x"]).unwrap_err();
        assert!(e.to_string().contains("ringwall-no-such-tool x"));
    }
}
