//! The host tools and GRUB files `build` and `inspect` rely on, found up
//! front so a missing package is reported by name with the line that installs
//! it, instead of as an obscure failure halfway through a build.

use std::env;
use std::path::{Path, PathBuf};

/// Where Debian's `grub-pc-bin` puts the BIOS GRUB modules and images.
pub const GRUB_BIOS_DIR: &str = "/usr/lib/grub/i386-pc";
/// Where Debian's `grub-efi-amd64-bin` puts the UEFI GRUB modules.
pub const GRUB_EFI_DIR: &str = "/usr/lib/grub/x86_64-efi";

/// One thing the tool needs from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// A command looked up on `PATH`, or an absolute file path.
    pub what: Need,
    /// The Debian package that provides it.
    pub package: &'static str,
}

/// The kind of thing needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// An executable on `PATH`.
    Command(&'static str),
    /// A file at a fixed path.
    File(&'static str),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Command(c) => write!(f, "command `{c}`"),
            Need::File(p) => write!(f, "file {p}"),
        }
    }
}

/// What `build` needs: both GRUB platforms, grub-mkimage, mtools.
pub const FOR_BUILD: &[Requirement] = &[
    Requirement {
        what: Need::Command("grub-mkimage"),
        package: "grub-common",
    },
    Requirement {
        what: Need::File("/usr/lib/grub/i386-pc/boot.img"),
        package: "grub-pc-bin",
    },
    Requirement {
        what: Need::File("/usr/lib/grub/i386-pc/multiboot2.mod"),
        package: "grub-pc-bin",
    },
    Requirement {
        what: Need::File("/usr/lib/grub/x86_64-efi/multiboot2.mod"),
        package: "grub-efi-amd64-bin",
    },
    Requirement {
        what: Need::Command("mformat"),
        package: "mtools",
    },
    Requirement {
        what: Need::Command("mcopy"),
        package: "mtools",
    },
    Requirement {
        what: Need::Command("mmd"),
        package: "mtools",
    },
];

/// What `inspect` needs: reading files off the FAT partition.
pub const FOR_INSPECT: &[Requirement] = &[Requirement {
    what: Need::Command("mcopy"),
    package: "mtools",
}];

/// The requirements not met on this host, using `PATH` from the environment.
pub fn missing(reqs: &[Requirement]) -> Vec<Requirement> {
    let path = env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    missing_in(reqs, &dirs)
}

/// The requirements not met, looking up commands in `dirs`.
pub fn missing_in(reqs: &[Requirement], dirs: &[PathBuf]) -> Vec<Requirement> {
    reqs.iter()
        .filter(|r| match r.what {
            Need::Command(c) => find_in(c, dirs).is_none(),
            Need::File(p) => !Path::new(p).is_file(),
        })
        .copied()
        .collect()
}

/// The full path of a command, searching `dirs` in order.
pub fn find_in(command: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(command)).find(|p| p.is_file())
}

/// The `apt-get` line that installs the packages behind `missing`, each once,
/// in the order first needed.
pub fn install_line(missing: &[Requirement]) -> String {
    let mut packages: Vec<&str> = Vec::new();
    for r in missing {
        if !packages.contains(&r.package) {
            packages.push(r.package);
        }
    }
    format!("apt-get install {}", packages.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_on_path_means_every_command_missing() {
        let m = missing_in(FOR_BUILD, &[]);
        assert!(m.contains(&FOR_BUILD[0]));
        assert!(m.iter().any(|r| r.what == Need::Command("mformat")));
        let line = install_line(&m);
        assert!(line.starts_with("apt-get install grub-common "));
        assert_eq!(line.matches("mtools").count(), 1, "{line}");
    }

    #[test]
    fn commands_are_found_in_the_given_directories() {
        let dir = std::env::temp_dir().join(format!("ringwall-host-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mformat"), b"").unwrap();
        let reqs = [FOR_BUILD[4]];
        assert!(missing_in(&reqs, std::slice::from_ref(&dir)).is_empty());
        assert_eq!(missing_in(&reqs, &[]), reqs.to_vec());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn install_line_lists_each_package_once_in_order() {
        let m = [FOR_BUILD[3], FOR_BUILD[4], FOR_BUILD[5], FOR_BUILD[1]];
        assert_eq!(
            install_line(&m),
            "apt-get install grub-efi-amd64-bin mtools grub-pc-bin"
        );
    }
}
