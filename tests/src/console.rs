//! The kernel's serial console as QEMU exposes it on stdio.
//!
//! A reader thread appends everything QEMU prints to a shared buffer; the
//! test side searches it from a cursor with a deadline, so nothing blocks
//! forever and every failure can quote the whole log.

use std::fmt;
use std::io::{Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{COMMAND_TIMEOUT, PROMPT};

/// Why a harness operation failed. Console failures carry the full log.
#[derive(Debug, Clone)]
pub enum HarnessError {
    /// The kernel could not be found or built.
    Build(String),
    /// QEMU could not be started.
    Spawn(String),
    /// The expected text did not appear in time.
    Timeout {
        /// What was awaited.
        waiting_for: String,
        /// How long.
        after: Duration,
        /// Everything the console printed.
        log: String,
    },
    /// QEMU exited while text was awaited.
    Exited {
        /// What was awaited.
        waiting_for: String,
        /// Everything the console printed.
        log: String,
    },
    /// Writing to the console or the monitor failed.
    Io(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Build(e) => write!(f, "kernel build: {e}"),
            HarnessError::Spawn(e) => write!(f, "starting QEMU: {e}"),
            HarnessError::Timeout { waiting_for, after, log } => write!(
                f,
                "timed out after {after:?} waiting for {waiting_for:?}\n--- console log ---\n{log}\n--- end ---"
            ),
            HarnessError::Exited { waiting_for, log } => write!(
                f,
                "QEMU exited while waiting for {waiting_for:?}\n--- console log ---\n{log}\n--- end ---"
            ),
            HarnessError::Io(e) => write!(f, "i/o: {e}"),
        }
    }
}

impl std::error::Error for HarnessError {}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

type Shared = Arc<(Mutex<Buffer>, Condvar)>;

/// The serial console of one QEMU.
pub struct Console {
    input: ChildStdin,
    shared: Shared,
    /// Bytes of the log already consumed by `wait_for`.
    cursor: usize,
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Buffer> {
    // A panic in the reader thread leaves plain bytes behind: still usable.
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

impl Console {
    pub(crate) fn new(input: ChildStdin, mut output: ChildStdout, echo: bool) -> Console {
        let shared: Shared = Arc::default();
        let writer = Arc::clone(&shared);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                let n = output.read(&mut chunk).unwrap_or(0);
                let mut b = lock(&writer);
                if n == 0 {
                    b.closed = true;
                    writer.1.notify_all();
                    return;
                }
                if echo {
                    let _ = std::io::stderr().write_all(&chunk[..n]);
                }
                b.bytes.extend_from_slice(&chunk[..n]);
                writer.1.notify_all();
            }
        });
        Console {
            input,
            shared,
            cursor: 0,
        }
    }

    /// Everything the console printed so far (lossy UTF-8).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&lock(&self.shared).bytes).into_owned()
    }

    /// Sends raw bytes to the console.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), HarnessError> {
        self.input
            .write_all(bytes)
            .and_then(|()| self.input.flush())
            .map_err(|e| HarnessError::Io(format!("console write: {e}")))
    }

    /// Types `line` and Enter.
    pub fn send_line(&mut self, line: &str) -> Result<(), HarnessError> {
        let mut b = line.as_bytes().to_vec();
        b.push(b'\r');
        self.send(&b)
    }

    /// Waits until `pattern` appears after the cursor; returns the text from
    /// the cursor through the match and moves the cursor past it.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<String, HarnessError> {
        let deadline = Instant::now() + timeout;
        let needle = pattern.as_bytes();
        let mut b = lock(&self.shared);
        loop {
            let hay = &b.bytes[self.cursor.min(b.bytes.len())..];
            if let Some(i) = hay.windows(needle.len().max(1)).position(|w| w == needle) {
                let end = self.cursor + i + needle.len();
                let text = String::from_utf8_lossy(&b.bytes[self.cursor..end]).into_owned();
                self.cursor = end;
                return Ok(text);
            }
            let log = || String::from_utf8_lossy(&b.bytes).into_owned();
            if b.closed {
                return Err(HarnessError::Exited {
                    waiting_for: pattern.into(),
                    log: log(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    waiting_for: pattern.into(),
                    after: timeout,
                    log: log(),
                });
            }
            b = self
                .shared
                .1
                .wait_timeout(b, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for the next prompt.
    pub fn wait_for_prompt(&mut self, timeout: Duration) -> Result<String, HarnessError> {
        self.wait_for(PROMPT, timeout)
    }

    /// Skips everything printed so far (the next `wait_for` sees only new text).
    pub fn skip_pending(&mut self) {
        self.cursor = lock(&self.shared).bytes.len();
    }

    /// Runs a command: skips pending output, types `cmd`, waits for the next
    /// prompt and returns what the command printed (echo and prompt removed,
    /// `\r\n` turned into `\n`).
    pub fn command(&mut self, cmd: &str) -> Result<String, HarnessError> {
        self.command_timeout(cmd, COMMAND_TIMEOUT)
    }

    /// [`Console::command`] with an explicit timeout.
    pub fn command_timeout(
        &mut self,
        cmd: &str,
        timeout: Duration,
    ) -> Result<String, HarnessError> {
        self.skip_pending();
        self.send_line(cmd)?;
        let prompt_line = format!("\n{PROMPT}");
        let text = self.wait_for(&prompt_line, timeout)?;
        let text = text.replace("\r\n", "\n");
        // Drop the echoed command line and the trailing prompt.
        let body = text.split_once('\n').map_or("", |(_, rest)| rest);
        Ok(body.strip_suffix(PROMPT).unwrap_or(body).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// A stand-in for the kernel: echoes each line (ended by CR, as the
    /// harness types it), answers `you said ...`, then prints the prompt.
    const FAKE_SHELL: &str = r#"printf 'booting\r\nringwall> '
while IFS= read -r -d $'\r' l; do
  printf '%s\r\n' "$l"
  [ "$l" = quit ] && exit 3
  printf 'you said %s\r\nringwall> ' "$l"
done"#;

    fn spawn(script: &str) -> (Child, Console) {
        let mut child = Command::new("bash")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (i, o) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        (child, Console::new(i, o, false))
    }

    #[test]
    fn command_returns_output_without_echo_or_prompt() {
        let (mut child, mut c) = spawn(FAKE_SHELL);
        let boot = c.wait_for_prompt(Duration::from_secs(10)).unwrap();
        assert_eq!(boot, "booting\r\nringwall> ");
        assert_eq!(c.command("hello world").unwrap(), "you said hello world\n");
        assert_eq!(c.command("again").unwrap(), "you said again\n");
        assert!(c.log().contains("you said hello world\r\nringwall> again"));
        let _ = child.kill();
    }

    #[test]
    fn timeouts_quote_the_whole_console_log() {
        let (mut child, mut c) = spawn(FAKE_SHELL);
        c.wait_for_prompt(Duration::from_secs(10)).unwrap();
        let err = c
            .wait_for("never printed", Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(err, HarnessError::Timeout { .. }));
        let text = err.to_string();
        assert!(text.contains("\"never printed\""), "{text}");
        assert!(
            text.contains("--- console log ---\nbooting\r\nringwall> "),
            "{text}"
        );
        let _ = child.kill();
    }

    #[test]
    fn an_exiting_guest_is_reported_not_waited_for() {
        let (mut child, mut c) = spawn(FAKE_SHELL);
        c.wait_for_prompt(Duration::from_secs(10)).unwrap();
        c.send_line("quit").unwrap();
        let t = Instant::now();
        let err = c
            .wait_for("you said quit", Duration::from_secs(30))
            .unwrap_err();
        assert!(matches!(err, HarnessError::Exited { .. }), "{err}");
        assert!(t.elapsed() < Duration::from_secs(10));
        assert_eq!(child.wait().unwrap().code(), Some(3));
    }
}
