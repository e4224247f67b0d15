//! Command-line tokenizing and dispatch.
//!
//! A command is an entry in a static table ([`Command`]): a name, a usage
//! string, a one-line help text and a function that gets the machine (the
//! [`Machine`] trait, which the kernel binary implements over real hardware and
//! the tests implement over a fake), the parsed arguments and the output.
//! Adding a command is one table entry in `commands.rs` plus, when it needs the
//! hardware, one `Machine` method with a default body.
//!
//! Commands may outlive the line that started them (a `ping` that waits for
//! replies): they return [`Outcome::Running`] and the shell asks the machine to
//! advance the job from the poll loop until it reports completion, so the
//! console never blocks the data path.

use core::fmt::{self, Write};

use super::commands::Machine;

/// Most words (command name included) one line may hold.
pub const MAX_ARGS: usize = 16;

/// Why a line could not be split into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizeError {
    /// More than [`MAX_ARGS`] words.
    TooManyWords,
    /// A `"` was opened and never closed.
    UnterminatedQuote,
}

impl fmt::Display for TokenizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizeError::TooManyWords => write!(f, "too many words (at most {MAX_ARGS})"),
            TokenizeError::UnterminatedQuote => f.write_str("unterminated quote"),
        }
    }
}

/// The words of a command line, borrowed from it. Word 0 is the command.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    words: [&'a str; MAX_ARGS],
    len: usize,
}

impl<'a> Args<'a> {
    /// Splits `line` at whitespace; `"..."` keeps spaces inside one word.
    pub fn parse(line: &'a str) -> Result<Self, TokenizeError> {
        let mut args = Args {
            words: [""; MAX_ARGS],
            len: 0,
        };
        let mut rest = line.trim_start();
        while !rest.is_empty() {
            let (word, tail) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').ok_or(TokenizeError::UnterminatedQuote)?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if args.len == MAX_ARGS {
                return Err(TokenizeError::TooManyWords);
            }
            args.words[args.len] = word;
            args.len += 1;
            rest = tail.trim_start();
        }
        Ok(args)
    }

    /// The command name (empty for an empty line).
    pub fn command(&self) -> &'a str {
        self.get(0).unwrap_or("")
    }

    /// Word `i` (0 is the command).
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.words[..self.len].get(i).copied()
    }

    /// The arguments after the command name.
    pub fn rest(&self) -> &[&'a str] {
        self.words.get(1..self.len).unwrap_or(&[])
    }

    /// Number of words including the command name.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a blank line.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished: print the prompt.
    Done,
    /// Still running: the shell polls [`Machine::poll_job`] until it is done.
    Running,
}

/// Why a command failed; printed as one `error:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdError {
    /// Wrong number or shape of arguments: the usage line is printed.
    Usage,
    /// An argument had a value the command does not accept.
    BadValue(&'static str),
    /// This machine cannot do it (no such hardware, not in this build).
    Unsupported(&'static str),
    /// The hardware refused or failed.
    Failed(&'static str),
    /// Writing the output failed.
    Output,
}

impl From<fmt::Error> for CmdError {
    fn from(_: fmt::Error) -> Self {
        CmdError::Output
    }
}

/// A command's entry point.
pub type RunFn = fn(&mut dyn Machine, &Args<'_>, &mut dyn Write) -> Result<Outcome, CmdError>;

/// One entry of the command table.
#[derive(Clone, Copy)]
pub struct Command {
    /// What the user types.
    pub name: &'static str,
    /// The arguments, for the usage line (`""` when none).
    pub usage: &'static str,
    /// One line for `help`.
    pub help: &'static str,
    /// Runs the command.
    pub run: RunFn,
}

/// Looks `name` up in `table`.
pub fn find<'t>(table: &'t [Command], name: &str) -> Option<&'t Command> {
    table.iter().find(|c| c.name == name)
}

/// The shell: runs lines against a command table and tracks a running job.
#[derive(Debug, Default)]
pub struct Shell {
    job_running: bool,
}

impl Shell {
    /// A shell with nothing running.
    pub const fn new() -> Self {
        Shell { job_running: false }
    }

    /// True while a command that returned [`Outcome::Running`] is in progress.
    pub fn busy(&self) -> bool {
        self.job_running
    }

    /// Runs one command line; errors become one `error:` line on `out`.
    /// Returns whether the prompt should be printed now.
    pub fn run_line(
        &mut self,
        table: &[Command],
        line: &str,
        machine: &mut dyn Machine,
        out: &mut dyn Write,
    ) -> Outcome {
        let args = match Args::parse(line) {
            Ok(args) => args,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                return Outcome::Done;
            }
        };
        if args.is_empty() {
            return Outcome::Done;
        }
        let Some(cmd) = find(table, args.command()) else {
            let _ = writeln!(
                out,
                "error: unknown command '{}' (try 'help')",
                args.command()
            );
            return Outcome::Done;
        };
        match (cmd.run)(machine, &args, out) {
            Ok(Outcome::Running) => {
                self.job_running = true;
                Outcome::Running
            }
            Ok(Outcome::Done) => Outcome::Done,
            Err(e) => {
                report(cmd, e, out);
                Outcome::Done
            }
        }
    }

    /// Advances a running job (call from the poll loop). Returns
    /// [`Outcome::Done`] once, when the job has just finished.
    pub fn poll(&mut self, machine: &mut dyn Machine, out: &mut dyn Write) -> Outcome {
        if !self.job_running {
            return Outcome::Running;
        }
        match machine.poll_job(out) {
            Outcome::Done => {
                self.job_running = false;
                Outcome::Done
            }
            Outcome::Running => Outcome::Running,
        }
    }

    /// Ctrl-C: stops a running job, if any.
    pub fn interrupt(&mut self, machine: &mut dyn Machine) {
        if self.job_running {
            machine.cancel_job();
            self.job_running = false;
        }
    }

    /// Ctrl-C that lets the job print its last words (ping's statistics).
    pub fn interrupt_to(&mut self, machine: &mut dyn Machine, out: &mut dyn Write) {
        if self.job_running {
            machine.interrupt_job(out);
            self.job_running = false;
        }
    }
}

/// Prints a command's failure as one line.
fn report(cmd: &Command, e: CmdError, out: &mut dyn Write) {
    let _ = match e {
        CmdError::Usage => writeln!(out, "error: usage: {} {}", cmd.name, cmd.usage),
        CmdError::BadValue(why) => writeln!(out, "error: {}: {why}", cmd.name),
        CmdError::Unsupported(why) => writeln!(out, "error: {}: not supported: {why}", cmd.name),
        CmdError::Failed(why) => writeln!(out, "error: {}: failed: {why}", cmd.name),
        CmdError::Output => Ok(()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_whitespace_and_quotes() {
        let a = Args::parse("  log   debug ").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.command(), "log");
        assert_eq!(a.rest(), &["debug"]);
        let a = Args::parse("say \"two words\" x").unwrap();
        assert_eq!(a.rest(), &["two words", "x"]);
        let a = Args::parse("\t").unwrap();
        assert!(a.is_empty());
        assert_eq!(a.command(), "");
        assert_eq!(a.rest(), &[] as &[&str]);
    }

    #[test]
    fn tokenizer_refuses_what_it_cannot_hold() {
        assert_eq!(
            Args::parse("a \"b c").unwrap_err(),
            TokenizeError::UnterminatedQuote
        );
        let many = "w ".repeat(MAX_ARGS + 1);
        assert_eq!(Args::parse(&many).unwrap_err(), TokenizeError::TooManyWords);
        assert!(Args::parse(&"w ".repeat(MAX_ARGS)).is_ok());
    }
}
