//! A small line editor for the serial console.
//!
//! It is fed one byte at a time from the UART (never blocking) and echoes what
//! the terminal should show. It understands printable ASCII, backspace/DEL,
//! Ctrl-C (drop the line), Ctrl-U (erase the line), Enter (CR, LF or CR LF) and
//! the up/down arrows for a short history. Anything else (other control bytes,
//! non-ASCII bytes, unknown escape sequences) is ignored, so garbage typed at
//! the prompt can never reach the shell as anything but a bad command.

use core::fmt::{self, Write};

/// Longest command line accepted; further printable input is ignored.
pub const MAX_LINE: usize = 160;
/// Number of earlier lines kept for the up arrow.
pub const HISTORY: usize = 8;

/// What a byte did to the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Nothing for the caller to do.
    None,
    /// Enter: the line is complete, fetch it with [`LineEditor::take_line`].
    Submit,
    /// Ctrl-C: the line was dropped (the caller may also cancel a running job).
    Interrupt,
}

/// Where the editor is inside an ANSI escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    /// Not in a sequence.
    Idle,
    /// Saw ESC.
    Escape,
    /// Saw ESC `[` (CSI) and maybe parameter bytes.
    Csi,
}

/// A fixed-size line (no allocation), as handed to the shell.
#[derive(Clone, Copy)]
pub struct Line {
    bytes: [u8; MAX_LINE],
    len: usize,
}

impl Line {
    const EMPTY: Line = Line {
        bytes: [0; MAX_LINE],
        len: 0,
    };

    /// The line's text (always ASCII).
    pub fn as_str(&self) -> &str {
        // Only printable ASCII is ever stored, so this cannot fail.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    fn push(&mut self, b: u8) -> bool {
        if self.len == MAX_LINE {
            return false;
        }
        self.bytes[self.len] = b;
        self.len += 1;
        true
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The line editor state: the line being typed and the history ring.
pub struct LineEditor {
    line: Line,
    esc: Esc,
    /// The previous byte was CR, so a following LF is the same Enter.
    after_cr: bool,
    history: [Line; HISTORY],
    /// Number of valid entries in `history` (newest at index 0).
    history_len: usize,
    /// Which history entry is shown (`None`: the line being typed).
    browsing: Option<usize>,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    /// An empty editor.
    pub const fn new() -> Self {
        LineEditor {
            line: Line::EMPTY,
            esc: Esc::Idle,
            after_cr: false,
            history: [Line::EMPTY; HISTORY],
            history_len: 0,
            browsing: None,
        }
    }

    /// The text typed so far.
    pub fn current(&self) -> &str {
        self.line.as_str()
    }

    /// Feeds one received byte; the terminal echo goes to `echo`.
    pub fn feed(&mut self, b: u8, echo: &mut dyn Write) -> Event {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        // A control byte always aborts an escape sequence and then acts as
        // itself, so Ctrl-C and Enter work even after a stray ESC.
        if b < 0x20 {
            self.esc = Esc::Idle;
        }
        match self.esc {
            Esc::Escape => {
                self.esc = if b == b'[' { Esc::Csi } else { Esc::Idle };
                return Event::None;
            }
            Esc::Csi => {
                match b {
                    // Parameter and intermediate bytes: keep reading.
                    0x20..=0x3f => {}
                    b'A' => {
                        self.esc = Esc::Idle;
                        self.history_step(true, echo);
                    }
                    b'B' => {
                        self.esc = Esc::Idle;
                        self.history_step(false, echo);
                    }
                    // Any other final byte ends the sequence.
                    _ => self.esc = Esc::Idle,
                }
                return Event::None;
            }
            Esc::Idle => {}
        }
        match b {
            b'\r' | b'\n' => {
                if b == b'\n' && after_cr {
                    return Event::None;
                }
                self.after_cr = b == b'\r';
                let _ = echo.write_str("\r\n");
                Event::Submit
            }
            0x1b => {
                self.esc = Esc::Escape;
                Event::None
            }
            0x03 => {
                let _ = echo.write_str("^C\r\n");
                self.line.len = 0;
                self.browsing = None;
                Event::Interrupt
            }
            0x15 => {
                self.erase_shown(echo);
                self.line.len = 0;
                self.browsing = None;
                Event::None
            }
            0x08 | 0x7f => {
                if self.line.len > 0 {
                    self.line.len -= 1;
                    let _ = echo.write_str("\x08 \x08");
                }
                Event::None
            }
            0x20..=0x7e => {
                if self.line.push(b) {
                    let _ = echo.write_char(b as char);
                }
                Event::None
            }
            _ => Event::None,
        }
    }

    /// Takes the completed line, remembers it in the history (when not empty
    /// and not a repeat of the newest entry) and starts a fresh one.
    pub fn take_line(&mut self) -> Line {
        let line = core::mem::replace(&mut self.line, Line::EMPTY);
        self.browsing = None;
        let text = line.as_str().trim();
        let repeat = self.history_len > 0 && self.history[0].as_str().trim() == text;
        if !text.is_empty() && !repeat {
            self.history.copy_within(0..HISTORY - 1, 1);
            self.history[0] = line;
            self.history_len = (self.history_len + 1).min(HISTORY);
        }
        line
    }

    /// Erases what the terminal shows of the current line.
    fn erase_shown(&self, echo: &mut dyn Write) {
        for _ in 0..self.line.len {
            let _ = echo.write_str("\x08 \x08");
        }
    }

    /// Up (`older`) or down arrow: replaces the line with a history entry.
    fn history_step(&mut self, older: bool, echo: &mut dyn Write) {
        let next = match (self.browsing, older) {
            (None, true) if self.history_len > 0 => Some(0),
            (None, _) => return,
            (Some(i), true) if i + 1 < self.history_len => Some(i + 1),
            (Some(i), true) => Some(i),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
        };
        self.erase_shown(echo);
        self.browsing = next;
        self.line = match next {
            Some(i) => self.history[i],
            None => Line::EMPTY,
        };
        let _ = echo.write_str(self.line.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_all(ed: &mut LineEditor, input: &[u8]) -> (Vec<Event>, String) {
        let mut echo = String::new();
        let events = input.iter().map(|&b| ed.feed(b, &mut echo)).collect();
        (events, echo)
    }

    #[test]
    fn printable_input_is_echoed_and_submitted() {
        let mut ed = LineEditor::new();
        let (events, echo) = type_all(&mut ed, b"help\r");
        assert_eq!(events.last(), Some(&Event::Submit));
        assert_eq!(echo, "help\r\n");
        assert_eq!(ed.take_line().as_str(), "help");
        assert_eq!(ed.current(), "");
    }

    #[test]
    fn crlf_is_one_enter_but_lf_alone_is_one_too() {
        let mut ed = LineEditor::new();
        let (events, _) = type_all(&mut ed, b"a\r\nb\n");
        let submits = events.iter().filter(|e| **e == Event::Submit).count();
        assert_eq!(submits, 2);
    }

    #[test]
    fn backspace_ctrl_u_and_ctrl_c_edit_the_line() {
        let mut ed = LineEditor::new();
        type_all(&mut ed, b"memx\x7f");
        assert_eq!(ed.current(), "mem");
        type_all(&mut ed, b"\x08\x08\x08\x08");
        assert_eq!(ed.current(), "");
        type_all(&mut ed, b"junk\x15");
        assert_eq!(ed.current(), "");
        let (events, echo) = type_all(&mut ed, b"more\x03");
        assert_eq!(events.last(), Some(&Event::Interrupt));
        assert!(echo.ends_with("^C\r\n"));
        assert_eq!(ed.current(), "");
    }

    #[test]
    fn arrows_walk_the_history() {
        let mut ed = LineEditor::new();
        for cmd in [&b"mem\r"[..], b"pci\r", b"pci\r", b"cpu\r"] {
            type_all(&mut ed, cmd);
            ed.take_line();
        }
        type_all(&mut ed, b"\x1b[A");
        assert_eq!(ed.current(), "cpu");
        type_all(&mut ed, b"\x1b[A\x1b[A");
        assert_eq!(ed.current(), "mem", "the repeated pci is stored once");
        type_all(&mut ed, b"\x1b[A");
        assert_eq!(ed.current(), "mem", "stops at the oldest");
        type_all(&mut ed, b"\x1b[B");
        assert_eq!(ed.current(), "pci");
        type_all(&mut ed, b"\x1b[B\x1b[B");
        assert_eq!(ed.current(), "");
    }

    #[test]
    fn unknown_escapes_and_control_bytes_are_ignored() {
        let mut ed = LineEditor::new();
        type_all(&mut ed, b"a\x1b[1;5Cb\x1bOc\x00\x07\xff\xc3\xa9d");
        // ESC O is a two-byte sequence here: the `O` is swallowed, `c` is kept.
        assert_eq!(ed.current(), "abcd");
    }

    #[test]
    fn control_bytes_abort_escape_sequences_and_still_act() {
        let mut ed = LineEditor::new();
        type_all(&mut ed, b"junk\x1b[1");
        let (events, _) = type_all(&mut ed, b"\x03");
        assert_eq!(events, [Event::Interrupt]);
        let (events, _) = type_all(&mut ed, b"ok\x1b\r");
        assert_eq!(events.last(), Some(&Event::Submit));
        assert_eq!(ed.take_line().as_str(), "ok");
    }

    #[test]
    fn overlong_lines_are_cut_not_overflowed() {
        let mut ed = LineEditor::new();
        let long = vec![b'x'; MAX_LINE + 50];
        type_all(&mut ed, &long);
        assert_eq!(ed.current().len(), MAX_LINE);
    }

    #[test]
    fn garbage_never_yields_non_ascii_lines() {
        // A fixed pseudo-random byte stream (xorshift), 4 KiB of it.
        let mut x: u32 = 0x2545_f491;
        let mut ed = LineEditor::new();
        let mut echo = String::new();
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if ed.feed(x as u8, &mut echo) == Event::Submit {
                let line = ed.take_line();
                assert!(line.as_str().bytes().all(|b| (0x20..0x7f).contains(&b)));
            }
        }
    }
}
