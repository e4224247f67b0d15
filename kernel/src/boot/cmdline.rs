//! The kernel command line: space-separated words, `key=value` or bare flags.
//!
//! QEMU (`-append`) and GRUB put the kernel's path in front of the arguments;
//! that first word is a path, not an option, so it is skipped when it contains
//! a `/`. Later options override earlier ones, as on Linux.

/// A borrowed command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cmdline<'a>(pub &'a str);

impl<'a> Cmdline<'a> {
    /// The option words (without a leading kernel path).
    pub fn words(&self) -> impl Iterator<Item = &'a str> {
        let mut it = self.0.split_ascii_whitespace().peekable();
        if it
            .peek()
            .is_some_and(|w| w.contains('/') && !w.contains('='))
        {
            it.next();
        }
        it
    }

    /// The value of the last `key=value` word for `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words()
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }

    /// True when a bare `flag` word is present.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.words().any(|w| w == flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_and_flags() {
        let c = Cmdline("/boot/ringwall panic=halt lan=192.168.10.1/24 quiet panic=reboot");
        assert_eq!(c.get("panic"), Some("reboot"), "the last one wins");
        assert_eq!(c.get("lan"), Some("192.168.10.1/24"));
        assert_eq!(c.get("wan"), None);
        assert!(c.has_flag("quiet"));
        assert!(
            !c.has_flag("/boot/ringwall"),
            "the kernel path is not an option"
        );
        assert_eq!(c.words().count(), 4);
    }

    #[test]
    fn empty_and_path_less_lines() {
        assert_eq!(Cmdline("").words().count(), 0);
        let c = Cmdline("panic=halt");
        assert_eq!(c.get("panic"), Some("halt"));
        let c = Cmdline("kernel panic=halt");
        assert_eq!(c.words().count(), 2);
    }
}
