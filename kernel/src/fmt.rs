//! Formatting helpers for the console: byte sizes, durations and hexdumps.
//!
//! They are `Display` adapters rather than functions returning strings, so the
//! kernel can print them without allocating, and the exact text is pinned by the
//! tests below (the `capture` command's hexdump must stay `text2pcap` readable).

use core::fmt;

/// Prints a byte count with a binary unit: `512 B`, `4 KiB`, `31.6 MiB`.
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let n = self.0;
        if n < 1024 {
            return write!(f, "{n} B");
        }
        let mut unit = 0;
        let mut scale = 1024u64;
        while unit + 1 < UNITS.len() && n / scale >= 1024 {
            unit += 1;
            scale *= 1024;
        }
        let whole = n / scale;
        // One decimal, truncated, and only when it is not zero: "4 KiB", "1.5 KiB".
        let tenth = (n % scale) * 10 / scale;
        if tenth == 0 {
            write!(f, "{whole} {}", UNITS[unit])
        } else {
            write!(f, "{whole}.{tenth} {}", UNITS[unit])
        }
    }
}

/// Prints a duration given in nanoseconds as `1d 02:03:04.567` or `2.345 s`.
#[derive(Debug, Clone, Copy)]
pub struct Duration(pub u64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms_total = self.0 / 1_000_000;
        let ms = ms_total % 1000;
        let s_total = ms_total / 1000;
        if s_total < 60 {
            return write!(f, "{s_total}.{ms:03} s");
        }
        let (s, m_total) = (s_total % 60, s_total / 60);
        let (m, h_total) = (m_total % 60, m_total / 60);
        let (h, d) = (h_total % 24, h_total / 24);
        if d > 0 {
            write!(f, "{d}d ")?;
        }
        write!(f, "{h:02}:{m:02}:{s:02}.{ms:03}")
    }
}

/// Prints bytes as a hexdump, 16 per line, each line starting with a 6-digit
/// hex offset: the layout `text2pcap` reads.
#[derive(Debug, Clone, Copy)]
pub struct HexDump<'a>(pub &'a [u8]);

impl fmt::Display for HexDump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.chunks(16).enumerate() {
            write!(f, "{:06x} ", i * 16)?;
            for b in line {
                write!(f, " {b:02x}")?;
            }
            // Pad short lines so the ASCII column lines up.
            for _ in line.len()..16 {
                f.write_str("   ")?;
            }
            f.write_str("  ")?;
            for &b in line {
                let c = if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                };
                write!(f, "{c}")?;
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}

/// A `fmt::Write` into a fixed byte buffer; output that does not fit is cut off
/// and remembered in `truncated` instead of failing the whole write.
#[derive(Debug)]
pub struct BufWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Set when some output did not fit.
    pub truncated: bool,
}

impl<'a> BufWriter<'a> {
    /// Wraps `buf`, starting empty.
    pub fn new(buf: &'a mut [u8]) -> Self {
        BufWriter {
            buf,
            len: 0,
            truncated: false,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s or their char-boundary prefixes are ever copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for BufWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_pick_the_largest_whole_unit() {
        assert_eq!(Size(0).to_string(), "0 B");
        assert_eq!(Size(1023).to_string(), "1023 B");
        assert_eq!(Size(4096).to_string(), "4 KiB");
        assert_eq!(Size(1536).to_string(), "1.5 KiB");
        assert_eq!(Size(32 * 1024 * 1024).to_string(), "32 MiB");
        assert_eq!(Size(3 * (1 << 30) + (1 << 29)).to_string(), "3.5 GiB");
    }

    #[test]
    fn durations_switch_to_clock_form_after_a_minute() {
        assert_eq!(Duration(0).to_string(), "0.000 s");
        assert_eq!(Duration(2_345_678_901).to_string(), "2.345 s");
        assert_eq!(Duration(61_000_000_000).to_string(), "00:01:01.000");
        let d = ((26 * 60 + 3) * 60 + 4) * 1_000_000_000 + 567_000_000;
        assert_eq!(Duration(d).to_string(), "1d 02:03:04.567");
    }

    #[test]
    fn hexdump_matches_text2pcap_layout() {
        let bytes: Vec<u8> = (0x3e..0x3e + 18).collect();
        let text = HexDump(&bytes).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "000000  3e 3f 40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d  >?@ABCDEFGHIJKLM"
        );
        assert!(lines[1].starts_with("000010  4e 4f   "));
        assert!(lines[1].ends_with("  NO"));
    }

    #[test]
    fn buf_writer_truncates_on_char_boundaries() {
        use core::fmt::Write;
        let mut buf = [0u8; 5];
        let mut w = BufWriter::new(&mut buf);
        write!(w, "ab\u{e9}\u{e9}").unwrap();
        assert_eq!(w.as_str(), "ab\u{e9}");
        assert!(w.truncated);
    }
}
