//! Command-line parsing for `ringwall-image`.
//!
//! Hand-written rather than a parser crate: five subcommands with a handful of
//! options do not justify a dependency, and keeping the grammar in one small
//! function makes every accepted spelling visible (and unit-testable) here.

use std::fmt;
use std::path::PathBuf;

use crate::grubcfg::SerialPort;

/// One parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `build`: make a bootable disk image.
    Build(BuildArgs),
    /// `check`: validate a config file.
    Check {
        /// The config file to validate.
        config: PathBuf,
    },
    /// `genkey`: print a new private key.
    Genkey,
    /// `pubkey`: private key on stdin, public key on stdout.
    Pubkey,
    /// `inspect`: print what an image holds.
    Inspect {
        /// The image to read.
        image: PathBuf,
    },
    /// `--help` (overall or for one subcommand).
    Help(Option<&'static str>),
    /// `--version`.
    Version,
}

/// Options of `build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildArgs {
    /// The appliance config to bake in.
    pub config: PathBuf,
    /// Where the raw disk image goes.
    pub out: PathBuf,
    /// A prebuilt kernel ELF; `None` builds the release kernel.
    pub kernel: Option<PathBuf>,
    /// GRUB's (and the kernel's) serial console.
    pub serial: SerialPort,
}

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// No subcommand given.
    NoCommand,
    /// A subcommand this tool does not have.
    UnknownCommand(String),
    /// An option the subcommand does not take.
    UnknownOption {
        /// The subcommand.
        command: &'static str,
        /// The offending word.
        option: String,
    },
    /// An option given without its value.
    MissingValue(&'static str),
    /// A required option left out.
    MissingOption {
        /// The subcommand.
        command: &'static str,
        /// The option it needs.
        option: &'static str,
    },
    /// The same option twice.
    Repeated(&'static str),
    /// A positional argument where none (or no more) fits.
    UnexpectedArgument {
        /// The subcommand.
        command: &'static str,
        /// The offending word.
        argument: String,
    },
    /// `--serial` value not of the form `ttyS<N>,<baud>`.
    BadSerial(String),
}

impl UsageError {
    /// The subcommand whose usage text should follow the error, if any.
    pub fn command(&self) -> Option<&'static str> {
        match self {
            UsageError::UnknownOption { command, .. }
            | UsageError::MissingOption { command, .. }
            | UsageError::UnexpectedArgument { command, .. } => Some(command),
            UsageError::MissingValue(_) | UsageError::Repeated(_) | UsageError::BadSerial(_) => {
                Some("build")
            }
            UsageError::NoCommand | UsageError::UnknownCommand(_) => None,
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoCommand => write!(f, "no command given"),
            UsageError::UnknownCommand(c) => write!(f, "unknown command `{c}`"),
            UsageError::UnknownOption { command, option } => {
                write!(f, "`{command}` does not take the option `{option}`")
            }
            UsageError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            UsageError::MissingOption { command, option } => {
                write!(f, "`{command}` needs `{option}`")
            }
            UsageError::Repeated(o) => write!(f, "option `{o}` given twice"),
            UsageError::UnexpectedArgument { command, argument } => {
                write!(f, "`{command}` does not take the argument `{argument}`")
            }
            UsageError::BadSerial(s) => write!(
                f,
                "bad --serial `{s}`: expected ttyS<0-3>,<baud>, for example ttyS0,115200"
            ),
        }
    }
}

/// The overall help text.
pub const USAGE: &str = "\
ringwall-image: build and inspect Ringwall appliance disk images

Usage:
  ringwall-image build --config FILE --out IMAGE [--kernel ELF] [--serial ttyS0,115200]
  ringwall-image check --config FILE
  ringwall-image genkey
  ringwall-image pubkey < private.key
  ringwall-image inspect IMAGE
  ringwall-image help [COMMAND] | --help | --version

`ringwall-image COMMAND --help` describes one command.
";

/// The help text of one subcommand (`None` for an unknown name).
pub fn command_usage(command: &str) -> Option<&'static str> {
    Some(match command {
        "build" => {
            "\
Usage: ringwall-image build --config FILE --out IMAGE [--kernel ELF] [--serial ttyS0,115200]

Checks FILE, builds the release kernel (unless --kernel names a prebuilt ELF)
and writes a raw disk image that boots on legacy BIOS and on UEFI: GRUB on the
serial console loads the kernel with multiboot2 and FILE with module2.
Write it to the appliance's disk or a USB stick with dd. The image holds the
private key: it is created readable by its owner only.
"
        }
        "check" => {
            "\
Usage: ringwall-image check --config FILE

Validates FILE with the appliance's own parser. Prints every error with its
line number and exits with status 1 if there is any.
"
        }
        "genkey" => {
            "\
Usage: ringwall-image genkey

Prints a new clamped X25519 private key in base64 (same format as `wg genkey`).
"
        }
        "pubkey" => {
            "\
Usage: ringwall-image pubkey < private.key

Reads a base64 private key on stdin and prints its public key (same as `wg pubkey`).
"
        }
        "inspect" => {
            "\
Usage: ringwall-image inspect IMAGE

Prints the kernel version, the build commit and the baked config (keys redacted).
"
        }
        _ => return None,
    })
}

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let Some(first) = args.next() else {
        return Err(UsageError::NoCommand);
    };
    let rest: Vec<String> = args.collect();
    let name: &'static str = match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(None)),
        "-V" | "--version" => return Ok(Command::Version),
        "help" => {
            return match rest.first() {
                None => Ok(Command::Help(None)),
                Some(c) => static_name(c)
                    .map(|n| Command::Help(Some(n)))
                    .ok_or_else(|| UsageError::UnknownCommand(c.clone())),
            }
        }
        other => static_name(other).ok_or_else(|| UsageError::UnknownCommand(other.into()))?,
    };
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help(Some(name)));
    }
    let mut opts = Options::new(name, rest);
    let command = match name {
        "build" => {
            let config = opts.value("--config")?;
            let out = opts.value("--out")?;
            let kernel = opts.value("--kernel")?;
            let serial = opts.value("--serial")?;
            opts.finish()?;
            let serial = match serial {
                Some(s) => SerialPort::parse(&s).ok_or(UsageError::BadSerial(s))?,
                None => SerialPort::default(),
            };
            Command::Build(BuildArgs {
                config: required(name, "--config", config)?.into(),
                out: required(name, "--out", out)?.into(),
                kernel: kernel.map(PathBuf::from),
                serial,
            })
        }
        "check" => {
            let config = opts.value("--config")?;
            opts.finish()?;
            Command::Check {
                config: required(name, "--config", config)?.into(),
            }
        }
        "genkey" => {
            opts.finish()?;
            Command::Genkey
        }
        "pubkey" => {
            opts.finish()?;
            Command::Pubkey
        }
        _ => {
            let image = opts.positional();
            opts.finish()?;
            Command::Inspect {
                image: required(name, "IMAGE", image)?.into(),
            }
        }
    };
    Ok(command)
}

fn static_name(word: &str) -> Option<&'static str> {
    ["build", "check", "genkey", "pubkey", "inspect"]
        .into_iter()
        .find(|n| *n == word)
}

fn required(
    command: &'static str,
    option: &'static str,
    value: Option<String>,
) -> Result<String, UsageError> {
    value.ok_or(UsageError::MissingOption { command, option })
}

/// The words after a subcommand, consumed option by option; whatever is left
/// at `finish` is an error, so a misspelt option never passes silently.
struct Options {
    command: &'static str,
    words: Vec<Option<String>>,
}

impl Options {
    fn new(command: &'static str, words: Vec<String>) -> Self {
        Options {
            command,
            words: words.into_iter().map(Some).collect(),
        }
    }

    /// Takes `--name VALUE` or `--name=VALUE`.
    fn value(&mut self, name: &'static str) -> Result<Option<String>, UsageError> {
        let mut found = None;
        let mut i = 0;
        while i < self.words.len() {
            let Some(word) = self.words[i].as_deref() else {
                i += 1;
                continue;
            };
            let value = if word == name {
                self.words[i] = None;
                match self.words.get_mut(i + 1).and_then(Option::take) {
                    Some(v) => {
                        i += 1;
                        v
                    }
                    None => return Err(UsageError::MissingValue(name)),
                }
            } else if let Some(v) = word
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                let v = v.to_string();
                self.words[i] = None;
                v
            } else {
                i += 1;
                continue;
            };
            if found.is_some() {
                return Err(UsageError::Repeated(name));
            }
            found = Some(value);
            i += 1;
        }
        Ok(found)
    }

    /// Takes the first word that is not an option.
    fn positional(&mut self) -> Option<String> {
        let slot = self.words.iter_mut().find(|w| {
            w.as_deref()
                .is_some_and(|w| !w.starts_with('-') || w == "-")
        })?;
        slot.take()
    }

    fn finish(self) -> Result<(), UsageError> {
        match self.words.into_iter().flatten().next() {
            None => Ok(()),
            Some(w) if w.starts_with('-') && w.len() > 1 => Err(UsageError::UnknownOption {
                command: self.command,
                option: w,
            }),
            Some(w) => Err(UsageError::UnexpectedArgument {
                command: self.command,
                argument: w,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().copied())
    }

    #[test]
    fn build_with_every_option_in_both_spellings() {
        let c = p(&[
            "build",
            "--out=r.img",
            "--config",
            "gw.conf",
            "--kernel",
            "k.elf",
            "--serial",
            "ttyS1,9600",
        ])
        .unwrap();
        assert_eq!(
            c,
            Command::Build(BuildArgs {
                config: "gw.conf".into(),
                out: "r.img".into(),
                kernel: Some("k.elf".into()),
                serial: SerialPort {
                    unit: 1,
                    baud: 9600
                },
            })
        );
    }

    #[test]
    fn build_defaults_to_ttys0_115200_and_own_kernel() {
        let Command::Build(b) = p(&["build", "--config", "a", "--out", "b"]).unwrap() else {
            panic!("not a build");
        };
        assert_eq!(b.kernel, None);
        assert_eq!(
            b.serial,
            SerialPort {
                unit: 0,
                baud: 115200
            }
        );
    }

    #[test]
    fn build_refuses_missing_repeated_and_unknown_options() {
        assert_eq!(
            p(&["build", "--out", "x"]),
            Err(UsageError::MissingOption {
                command: "build",
                option: "--config"
            })
        );
        assert_eq!(
            p(&["build", "--config", "a", "--out"]),
            Err(UsageError::MissingValue("--out"))
        );
        assert_eq!(
            p(&["build", "--config", "a", "--config=b", "--out", "c"]),
            Err(UsageError::Repeated("--config"))
        );
        assert_eq!(
            p(&["build", "--config", "a", "--out", "c", "--verbose"]),
            Err(UsageError::UnknownOption {
                command: "build",
                option: "--verbose".into()
            })
        );
        assert_eq!(
            p(&["build", "--config", "a", "--out", "c", "extra"]),
            Err(UsageError::UnexpectedArgument {
                command: "build",
                argument: "extra".into()
            })
        );
        assert_eq!(
            p(&["build", "--config", "a", "--out", "c", "--serial", "com1"]),
            Err(UsageError::BadSerial("com1".into()))
        );
    }

    #[test]
    fn check_inspect_and_key_commands() {
        assert_eq!(
            p(&["check", "--config", "gw.conf"]),
            Ok(Command::Check {
                config: "gw.conf".into()
            })
        );
        assert_eq!(
            p(&["inspect", "r.img"]),
            Ok(Command::Inspect {
                image: "r.img".into()
            })
        );
        assert_eq!(p(&["genkey"]), Ok(Command::Genkey));
        assert_eq!(p(&["pubkey"]), Ok(Command::Pubkey));
        assert!(matches!(
            p(&["genkey", "x"]),
            Err(UsageError::UnexpectedArgument { .. })
        ));
        assert_eq!(
            p(&["inspect"]),
            Err(UsageError::MissingOption {
                command: "inspect",
                option: "IMAGE"
            })
        );
    }

    #[test]
    fn help_and_version_forms() {
        assert_eq!(p(&[]), Err(UsageError::NoCommand));
        assert_eq!(p(&["--help"]), Ok(Command::Help(None)));
        assert_eq!(p(&["help"]), Ok(Command::Help(None)));
        assert_eq!(p(&["help", "build"]), Ok(Command::Help(Some("build"))));
        assert_eq!(p(&["check", "--help"]), Ok(Command::Help(Some("check"))));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(
            p(&["flash"]),
            Err(UsageError::UnknownCommand("flash".into()))
        );
        for name in ["build", "check", "genkey", "pubkey", "inspect"] {
            assert!(command_usage(name).unwrap().starts_with("Usage:"));
        }
    }
}
