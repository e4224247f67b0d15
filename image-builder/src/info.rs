//! `ringwall.info`: the build metadata stored next to the kernel in the image,
//! so `inspect` can say what an image holds without booting it.
//!
//! Plain `key = value` lines (the config file's own dialect) rather than a
//! binary header: readable with `mtype` on any host, and a later field is
//! simply another line that older readers skip.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The build facts recorded in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The kernel crate version (`unknown` unless the ELF carries the workspace commit).
    pub kernel_version: String,
    /// The git commit the kernel was built from (`unknown` if not known).
    pub commit: String,
    /// Where the kernel came from: the workspace build or a given path.
    pub kernel_source: String,
    /// Build time, UTC, RFC 3339.
    pub built: String,
    /// The serial console GRUB and the kernel were told to use.
    pub serial: String,
    /// The tool that made the image.
    pub builder: String,
}

const KEYS: [&str; 6] = [
    "kernel_version",
    "commit",
    "kernel_source",
    "built",
    "serial",
    "builder",
];

impl BuildInfo {
    fn fields(&self) -> [&String; 6] {
        [
            &self.kernel_version,
            &self.commit,
            &self.kernel_source,
            &self.built,
            &self.serial,
            &self.builder,
        ]
    }

    /// Reads the text form; unknown keys and comments are skipped, missing
    /// keys read as `unknown`. `None` if no known key is present at all.
    pub fn parse(text: &str) -> Option<BuildInfo> {
        let mut values: [Option<String>; 6] = Default::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if let Some(i) = KEYS.iter().position(|key| *key == k.trim()) {
                values[i] = Some(v.trim().to_string());
            }
        }
        if values.iter().all(Option::is_none) {
            return None;
        }
        let [kernel_version, commit, kernel_source, built, serial, builder] =
            values.map(|v| v.unwrap_or_else(|| "unknown".into()));
        Some(BuildInfo {
            kernel_version,
            commit,
            kernel_source,
            built,
            serial,
            builder,
        })
    }
}

impl fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# Ringwall image build information (ringwall-image inspect)"
        )?;
        for (k, v) in KEYS.iter().zip(self.fields()) {
            // One line per value, whatever a path or a git string contains.
            let v = v.replace(['\n', '\r'], " ");
            writeln!(f, "{k} = {v}")?;
        }
        Ok(())
    }
}

/// The build time in Unix seconds: `SOURCE_DATE_EPOCH` when set
/// (reproducible builds), else now.
pub fn build_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// Seconds since the Unix epoch as `YYYY-MM-DDThh:mm:ssZ`.
pub fn rfc3339_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), by
/// counting 400-year eras that start on March 1st (leap day last in a year).
fn civil_date(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    // 1970-01-01 is 719468 days after 0000-03-01.
    let z = days + 719_468;
    let era = z / DAYS_PER_ERA;
    let doe = z % DAYS_PER_ERA;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = era * 400 + yoe + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BuildInfo {
        BuildInfo {
            kernel_version: "0.1.0".into(),
            commit: "3b8f67f0a1b2".into(),
            kernel_source: "workspace release build".into(),
            built: "2026-11-25T12:00:00Z".into(),
            serial: "ttyS0,115200".into(),
            builder: "ringwall-image 0.1.0".into(),
        }
    }

    #[test]
    fn text_round_trips() {
        let text = sample().to_string();
        assert!(text.contains("\ncommit = 3b8f67f0a1b2\n"));
        assert_eq!(BuildInfo::parse(&text), Some(sample()));
    }

    #[test]
    fn values_stay_on_one_line() {
        let mut i = sample();
        i.kernel_source = "/tmp/odd\nname".into();
        let back = BuildInfo::parse(&i.to_string()).unwrap();
        assert_eq!(back.kernel_source, "/tmp/odd name");
        assert_eq!(back.commit, "3b8f67f0a1b2");
    }

    #[test]
    fn missing_and_unknown_keys() {
        let i = BuildInfo::parse("# x\ncommit = abc\nfuture_key = 1\n").unwrap();
        assert_eq!(i.commit, "abc");
        assert_eq!(i.kernel_version, "unknown");
        assert_eq!(BuildInfo::parse("not an info file"), None);
        assert_eq!(BuildInfo::parse(""), None);
    }

    #[test]
    fn dates_match_known_instants() {
        // `date -u -d @N +%FT%TZ` for each N.
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(1_798_761_600), "2027-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}
