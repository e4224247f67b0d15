//! `log LEVEL [MODULE]`: one log level for everything, optionally a
//! different one for one module, so an operator can turn on `debug` for the
//! NIC driver without drowning the console in everything else.
//!
//! The logger asks [`LogFilter::allows`] for each record; the `log` crate's
//! global maximum must be the higher of the two levels so the macros do not
//! throw records away before the filter sees them ([`LogFilter::max`]).
//! A module matches whole `::`-separated segments anywhere in the record's
//! target: `nic` matches `kernel::platform::nic`, `netfn` matches
//! `netfn::gateway::pipeline`, `net` does not match `netfn`. The name is
//! kept in a fixed buffer: the filter lives in a static and never allocates.

use log::{Level, LevelFilter};

/// Longest module name accepted.
pub const MAX_MODULE: usize = 48;

/// Why `log LEVEL MODULE` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleError {
    /// Empty, longer than [`MAX_MODULE`], or not `[a-z0-9_:]`.
    BadName,
}

/// The base level and an optional per-module level.
#[derive(Debug, Clone, Copy)]
pub struct LogFilter {
    base: LevelFilter,
    module: [u8; MAX_MODULE],
    module_len: usize,
    module_level: LevelFilter,
}

impl LogFilter {
    /// Everything at `base`, no module override.
    pub const fn new(base: LevelFilter) -> Self {
        LogFilter {
            base,
            module: [0; MAX_MODULE],
            module_len: 0,
            module_level: LevelFilter::Off,
        }
    }

    /// The level for everything else.
    pub fn base(&self) -> LevelFilter {
        self.base
    }

    /// Sets the base level and drops any module override (`log LEVEL`).
    pub fn set_base(&mut self, level: LevelFilter) {
        self.base = level;
        self.module_len = 0;
    }

    /// Gives `module` its own level (`log LEVEL MODULE`).
    pub fn set_module(&mut self, module: &str, level: LevelFilter) -> Result<(), ModuleError> {
        let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':';
        if module.is_empty() || module.len() > MAX_MODULE || !module.bytes().all(ok) {
            return Err(ModuleError::BadName);
        }
        self.module[..module.len()].copy_from_slice(module.as_bytes());
        self.module_len = module.len();
        self.module_level = level;
        Ok(())
    }

    /// The module with its own level, if any.
    pub fn module(&self) -> Option<(&str, LevelFilter)> {
        let name = core::str::from_utf8(&self.module[..self.module_len]).ok()?;
        (!name.is_empty()).then_some((name, self.module_level))
    }

    /// The level `log::set_max_level` needs so no wanted record is lost early.
    pub fn max(&self) -> LevelFilter {
        match self.module() {
            Some((_, l)) => l.max(self.base),
            None => self.base,
        }
    }

    /// Whether a record from `target` at `level` is printed.
    pub fn allows(&self, target: &str, level: Level) -> bool {
        match self.module() {
            Some((m, l)) if matches_module(target, m) => level <= l,
            _ => level <= self.base,
        }
    }
}

/// True when `module` is a run of whole segments of `target`.
fn matches_module(target: &str, module: &str) -> bool {
    let mut start = 0;
    loop {
        let rest = &target[start..];
        if let Some(after) = rest.strip_prefix(module) {
            if after.is_empty() || after.starts_with("::") {
                return true;
            }
        }
        match rest.find("::") {
            Some(i) => start += i + 2,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_match_whole_segments() {
        assert!(matches_module("kernel::platform::nic", "nic"));
        assert!(matches_module("kernel::platform::nic", "platform::nic"));
        assert!(matches_module("kernel::platform::nic", "platform"));
        assert!(matches_module("netfn::gateway::pipeline", "netfn"));
        assert!(!matches_module("netfn::gateway", "net"));
        assert!(!matches_module("kernel::platform::nic", "ic"));
        assert!(!matches_module("kernel::platform::nic", "nic::x"));
    }

    #[test]
    fn a_module_gets_its_own_level() {
        let mut f = LogFilter::new(LevelFilter::Info);
        assert!(f.allows("kernel::platform::nic", Level::Info));
        assert!(!f.allows("kernel::platform::nic", Level::Debug));
        f.set_module("nic", LevelFilter::Debug).unwrap();
        assert_eq!(f.max(), LevelFilter::Debug);
        assert!(f.allows("kernel::platform::nic", Level::Debug));
        assert!(!f.allows("kernel::platform::nic", Level::Trace));
        assert!(!f.allows("netfn::gateway", Level::Debug));
        assert!(f.allows("netfn::gateway", Level::Warn));
        assert_eq!(f.module(), Some(("nic", LevelFilter::Debug)));
        // Quieter than the base works too.
        f.set_module("netfn", LevelFilter::Error).unwrap();
        assert!(!f.allows("netfn::gateway", Level::Warn));
        assert!(f.allows("kernel::boot", Level::Info));
        assert_eq!(f.max(), LevelFilter::Info);
        // A plain level drops the override.
        f.set_base(LevelFilter::Warn);
        assert_eq!(f.module(), None);
        assert!(f.allows("netfn::gateway", Level::Warn));
    }

    #[test]
    fn bad_module_names_are_refused() {
        let mut f = LogFilter::new(LevelFilter::Info);
        for bad in ["", "Nic", "a b", "x-y", &"m".repeat(MAX_MODULE + 1)] {
            assert_eq!(
                f.set_module(bad, LevelFilter::Debug),
                Err(ModuleError::BadName),
                "{bad}"
            );
        }
        assert_eq!(f.module(), None);
    }
}
