//! The `ringwall-image` command: argument parsing, output and exit status
//! around the library (see `lib.rs` for what each command does).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use ringwall_image::cli::{self, Command};
use ringwall_image::{config, image, inspect, keys, Error};

fn main() -> ExitCode {
    let args = std::env::args().skip(1);
    match run(cli::parse(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringwall-image: {e}");
            if let Error::Usage(u) = &e {
                let usage = u
                    .command()
                    .and_then(cli::command_usage)
                    .unwrap_or(cli::USAGE);
                eprintln!("\n{usage}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(command: Result<Command, cli::UsageError>) -> Result<(), Error> {
    match command? {
        Command::Help(None) => print(cli::USAGE),
        Command::Help(Some(c)) => print(cli::command_usage(c).unwrap_or(cli::USAGE)),
        Command::Version => print(&format!("ringwall-image {}\n", env!("CARGO_PKG_VERSION"))),
        Command::Genkey => {
            if keys::stdout_world_accessible() {
                // What `wg genkey` says too: the key is about to sit in a file others can read.
                eprintln!("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.");
            }
            print(&format!("{}\n", keys::genkey()?))
        }
        Command::Pubkey => print(&format!("{}\n", keys::pubkey_from(io::stdin().lock())?)),
        Command::Check { config } => {
            let (_, parsed) = config::load(&config)?;
            print(&format!(
                "{}: OK ({} peer{})\n",
                config.display(),
                parsed.peers.len(),
                if parsed.peers.len() == 1 { "" } else { "s" }
            ))
        }
        Command::Inspect { image } => print(&inspect(&image)?),
        Command::Build(args) => {
            let built = image::build(&args, &mut |line| eprintln!("ringwall-image: {line}"))?;
            print(&format!(
                "{}: {} bytes ({:.2} MiB), kernel {} ({}), {} peer{}, serial {}\nwrite it with: dd if={} of=/dev/sdX bs=4M conv=fsync\n",
                built.out.display(),
                built.size,
                built.size as f64 / (1024.0 * 1024.0),
                built.info.kernel_version,
                built.info.commit,
                built.peers,
                if built.peers == 1 { "" } else { "s" },
                built.info.serial,
                Path::new(&built.out).display(),
            ))
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
fn print(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::write("<stdout>", e)),
        _ => Ok(()),
    }
}
