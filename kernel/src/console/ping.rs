//! `ping [-c N] [-s SIZE] [-i INTERVAL] ADDR`: the appliance's own ICMP echo,
//! printed the way iputils' ping prints it.
//!
//! [`Ping`] is a state machine the shell polls from the main loop: each poll
//! sends the echo that is due, collects replies that arrived and prints one
//! line per reply, so the data path keeps running while a ping waits. The
//! packets themselves go through [`EchoIo`], which the kernel implements
//! over the gateway's host stacks and the tests implement over a script.
//! Send times sit in a small ring indexed by sequence number, so no reply
//! allocates. Output follows iputils: the `PING` header, `64 bytes from
//! 10.99.0.2: icmp_seq=1 ttl=64 time=1.23 ms` (time with 3, 2, 1 or 0
//! decimals as it grows past 1, 10, 100 ms), and the statistics block with
//! min/avg/max/mdev to the microsecond.

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

/// The usage line of `ping`.
pub const USAGE: &str = "[-c COUNT] [-s SIZE] [-i INTERVAL] ADDR";

/// ICMP payload bytes when `-s` is not given (iputils' default).
pub const DEFAULT_SIZE: usize = 56;
/// Largest payload that fits one 1500-byte IPv4 packet (no fragmentation).
pub const MAX_SIZE: usize = 1472;
/// Shortest interval accepted, in ms (iputils' limit for unprivileged users;
/// a flood from the console would only compete with the data path).
pub const MIN_INTERVAL_MS: u64 = 200;
/// Longest wait for late replies after the last echo when none has come.
const MAX_LINGER_NS: u64 = 10_000_000_000;
/// Outstanding echoes whose send time is remembered.
const WINDOW: usize = 64;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingArgs {
    /// Where to.
    pub dest: Ipv4Addr,
    /// How many echoes (`None`: until Ctrl-C).
    pub count: Option<u32>,
    /// ICMP payload bytes.
    pub size: usize,
    /// Time between echoes in ms.
    pub interval_ms: u64,
}

/// Why a `ping` line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingArgError {
    /// No destination.
    MissingAddress,
    /// More than one destination.
    TooManyAddresses,
    /// The destination is not an IPv4 address.
    BadAddress,
    /// An option without its value.
    MissingValue(char),
    /// `-c` not a number from 1.
    BadCount,
    /// `-s` not a number up to [`MAX_SIZE`].
    BadSize,
    /// `-i` not a number of seconds from 0.2.
    BadInterval,
    /// An option ping does not know.
    UnknownOption,
}

impl fmt::Display for PingArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PingArgError::MissingAddress => f.write_str("missing destination address"),
            PingArgError::TooManyAddresses => f.write_str("only one destination"),
            PingArgError::BadAddress => f.write_str("destination must be an IPv4 address"),
            PingArgError::MissingValue(c) => write!(f, "option -{c} needs a value"),
            PingArgError::BadCount => f.write_str("count must be a number from 1"),
            PingArgError::BadSize => write!(f, "size must be a number from 0 to {MAX_SIZE}"),
            PingArgError::BadInterval => f.write_str("interval must be seconds, at least 0.2"),
            PingArgError::UnknownOption => f.write_str("options are -c, -s, -i"),
        }
    }
}

/// Parses seconds with up to three decimals (`1`, `0.5`, `.25`) into ms.
fn parse_seconds_ms(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.len() > 3 {
        return None;
    }
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let w: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..3 {
        f *= 10;
    }
    w.checked_mul(1000)?.checked_add(f)
}

/// Parses the words after `ping`. Options may come before or after the
/// address, with the value attached (`-c3`) or as the next word.
pub fn parse_args(args: &[&str]) -> Result<PingArgs, PingArgError> {
    let mut dest = None;
    let mut count = None;
    let mut size = DEFAULT_SIZE;
    let mut interval_ms = 1000;
    let mut words = args.iter();
    while let Some(&w) = words.next() {
        let Some(opt) = w.strip_prefix('-') else {
            if dest.is_some() {
                return Err(PingArgError::TooManyAddresses);
            }
            dest = Some(
                w.parse::<Ipv4Addr>()
                    .map_err(|_| PingArgError::BadAddress)?,
            );
            continue;
        };
        let mut chars = opt.chars();
        let flag = chars.next().ok_or(PingArgError::UnknownOption)?;
        if !matches!(flag, 'c' | 's' | 'i') {
            return Err(PingArgError::UnknownOption);
        }
        let value = match chars.as_str() {
            "" => *words.next().ok_or(PingArgError::MissingValue(flag))?,
            attached => attached,
        };
        match flag {
            'c' => {
                let n = value.parse::<u32>().map_err(|_| PingArgError::BadCount)?;
                count = Some(n).filter(|n| *n > 0);
                if count.is_none() {
                    return Err(PingArgError::BadCount);
                }
            }
            's' => {
                size = value.parse::<usize>().map_err(|_| PingArgError::BadSize)?;
                if size > MAX_SIZE {
                    return Err(PingArgError::BadSize);
                }
            }
            _ => {
                interval_ms = parse_seconds_ms(value)
                    .filter(|ms| *ms >= MIN_INTERVAL_MS)
                    .ok_or(PingArgError::BadInterval)?;
            }
        }
    }
    Ok(PingArgs {
        dest: dest.ok_or(PingArgError::MissingAddress)?,
        count,
        size,
        interval_ms,
    })
}

/// One echo reply as the host stack hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Who answered.
    pub from: Ipv4Addr,
    /// The sequence number it echoes.
    pub seq: u16,
    /// ICMP payload bytes.
    pub len: usize,
    /// The IP TTL, when the stack reports it.
    pub ttl: Option<u8>,
}

/// How the ping reaches the network.
pub trait EchoIo {
    /// Queues one echo request; false when it could not be sent (no route,
    /// no address yet, queue full).
    fn send(&mut self, dest: Ipv4Addr, seq: u16, size: usize) -> bool;
    /// The next echo reply that arrived, if any.
    fn recv(&mut self) -> Option<Reply>;
}

/// Whether the ping goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Poll again.
    Running,
    /// The summary has been printed.
    Finished,
}

/// A running ping.
#[derive(Debug)]
pub struct Ping {
    args: PingArgs,
    start_ns: u64,
    next_send_ns: u64,
    last_send_ns: u64,
    transmitted: u32,
    received: u32,
    send_errors: u32,
    sent_at: [Option<(u16, u64)>; WINDOW],
    rtt_min: u64,
    rtt_max: u64,
    rtt_sum: u128,
    rtt_sum_sq: u128,
}

/// Prints an rtt in ns as iputils does after `time=`.
#[derive(Debug, Clone, Copy)]
struct Rtt(u64);

impl fmt::Display for Rtt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0 / 1000;
        match us {
            0..=999 => write!(f, "{}.{:03}", us / 1000, us % 1000),
            1000..=9_999 => write!(f, "{}.{:02}", us / 1000, us % 1000 / 10),
            10_000..=99_999 => write!(f, "{}.{}", us / 1000, us % 1000 / 100),
            _ => write!(f, "{}", us / 1000),
        }
    }
}

/// Prints ns as ms with three decimals (the summary's precision).
#[derive(Debug, Clone, Copy)]
struct Ms3(u64);

impl fmt::Display for Ms3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0 / 1000;
        write!(f, "{}.{:03}", us / 1000, us % 1000)
    }
}

/// Packet loss as printf's `%g` writes a percentage: up to six significant
/// digits, trailing zeros dropped (`0`, `100`, `33.3333`).
#[derive(Debug, Clone, Copy)]
struct Loss(u32, u32);

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Loss(lost, sent) = *self;
        if sent == 0 {
            return f.write_str("0");
        }
        let whole = u64::from(lost) * 100 / u64::from(sent);
        let digits = if whole >= 100 {
            3
        } else if whole >= 10 {
            2
        } else {
            1
        };
        let decimals = 6 - digits;
        let scale = 10u64.pow(decimals);
        let scaled = (u64::from(lost) * 100 * scale * 2 + u64::from(sent)) / (2 * u64::from(sent));
        let (w, mut frac, mut width) = (scaled / scale, scaled % scale, decimals as usize);
        if frac == 0 {
            return write!(f, "{w}");
        }
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{w}.{frac:0width$}")
    }
}

fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

impl Ping {
    /// Starts a ping at `now_ns` and prints iputils' header line.
    pub fn start(args: PingArgs, now_ns: u64, out: &mut dyn Write) -> Result<Ping, fmt::Error> {
        writeln!(
            out,
            "PING {0} ({0}) {1}({2}) bytes of data.",
            args.dest,
            args.size,
            args.size + 28
        )?;
        Ok(Ping {
            args,
            start_ns: now_ns,
            next_send_ns: now_ns,
            last_send_ns: now_ns,
            transmitted: 0,
            received: 0,
            send_errors: 0,
            sent_at: [None; WINDOW],
            rtt_min: u64::MAX,
            rtt_max: 0,
            rtt_sum: 0,
            rtt_sum_sq: 0,
        })
    }

    fn all_sent(&self) -> bool {
        self.args.count.is_some_and(|c| self.transmitted >= c)
    }

    /// Sends what is due, prints the replies that came, and finishes (with the
    /// summary) once the count is sent and answered or the linger time is over.
    pub fn poll(
        &mut self,
        now_ns: u64,
        io: &mut dyn EchoIo,
        out: &mut dyn Write,
    ) -> Result<Progress, fmt::Error> {
        while let Some(r) = io.recv() {
            self.reply(r, now_ns, out)?;
        }
        if !self.all_sent() && now_ns >= self.next_send_ns {
            // iputils numbers echoes from 1; the sequence wraps at 16 bits.
            let seq = (self.transmitted.wrapping_add(1) & 0xffff) as u16;
            if io.send(self.args.dest, seq, self.args.size) {
                self.sent_at[usize::from(seq) % WINDOW] = Some((seq, now_ns));
            } else {
                self.send_errors += 1;
            }
            self.transmitted += 1;
            self.last_send_ns = now_ns;
            self.next_send_ns = now_ns + self.args.interval_ms * 1_000_000;
        }
        if self.all_sent() {
            let answered = self.received >= self.transmitted;
            let linger = if self.received == 0 {
                MAX_LINGER_NS
            } else {
                (2 * self.rtt_max).max(self.args.interval_ms * 1_000_000)
            };
            if answered || now_ns >= self.last_send_ns.saturating_add(linger) {
                self.summary(now_ns, out)?;
                return Ok(Progress::Finished);
            }
        }
        Ok(Progress::Running)
    }

    fn reply(&mut self, r: Reply, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        let slot = &mut self.sent_at[usize::from(r.seq) % WINDOW];
        // A reply to another ping, a duplicate, or one older than the window.
        let Some((seq, sent)) = slot.filter(|(s, _)| *s == r.seq) else {
            return Ok(());
        };
        if r.from != self.args.dest {
            return Ok(());
        }
        *slot = None;
        let rtt = now_ns.saturating_sub(sent);
        self.received += 1;
        self.rtt_min = self.rtt_min.min(rtt);
        self.rtt_max = self.rtt_max.max(rtt);
        self.rtt_sum += u128::from(rtt);
        self.rtt_sum_sq += u128::from(rtt) * u128::from(rtt);
        write!(out, "{} bytes from {}: icmp_seq={seq}", r.len + 8, r.from)?;
        if let Some(ttl) = r.ttl {
            write!(out, " ttl={ttl}")?;
        }
        writeln!(out, " time={} ms", Rtt(rtt))
    }

    /// Ctrl-C (the line editor has echoed `^C`): prints the summary of what
    /// was done so far.
    pub fn interrupt(&mut self, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        self.summary(now_ns, out)
    }

    fn summary(&self, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        let (tx, rx) = (self.transmitted, self.received);
        writeln!(out)?;
        writeln!(out, "--- {} ping statistics ---", self.args.dest)?;
        let elapsed_ms = now_ns.saturating_sub(self.start_ns) / 1_000_000;
        write!(out, "{tx} packets transmitted, {rx} received")?;
        if self.send_errors > 0 {
            write!(out, ", +{} errors", self.send_errors)?;
        }
        writeln!(
            out,
            ", {}% packet loss, time {elapsed_ms}ms",
            Loss(tx.saturating_sub(rx), tx)
        )?;
        if rx > 0 {
            let n = u128::from(rx);
            let avg = self.rtt_sum / n;
            let var = (self.rtt_sum_sq / n).saturating_sub(avg * avg);
            let mdev = isqrt(var) as u64;
            writeln!(
                out,
                "rtt min/avg/max/mdev = {}/{}/{}/{} ms",
                Ms3(self.rtt_min),
                Ms3(avg as u64),
                Ms3(self.rtt_max),
                Ms3(mdev)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const MS: u64 = 1_000_000;

    #[derive(Default)]
    struct Script {
        sent: Vec<(Ipv4Addr, u16, usize)>,
        replies: VecDeque<Reply>,
        refuse: bool,
    }

    impl EchoIo for Script {
        fn send(&mut self, dest: Ipv4Addr, seq: u16, size: usize) -> bool {
            self.sent.push((dest, seq, size));
            !self.refuse
        }
        fn recv(&mut self) -> Option<Reply> {
            self.replies.pop_front()
        }
    }

    fn reply(seq: u16) -> Reply {
        Reply {
            from: Ipv4Addr::new(10, 99, 0, 2),
            seq,
            len: 56,
            ttl: Some(64),
        }
    }

    #[test]
    fn arguments_parse_like_iputils() {
        let a = parse_args(&["-c", "3", "-s", "100", "10.99.0.2"]).unwrap();
        assert_eq!(a.dest, Ipv4Addr::new(10, 99, 0, 2));
        assert_eq!((a.count, a.size, a.interval_ms), (Some(3), 100, 1000));
        let a = parse_args(&["192.168.10.2", "-c2", "-i", "0.5"]).unwrap();
        assert_eq!((a.count, a.interval_ms), (Some(2), 500));
        let a = parse_args(&["-i", ".25", "1.2.3.4"]).unwrap();
        assert_eq!((a.count, a.size, a.interval_ms), (None, 56, 250));
    }

    #[test]
    fn bad_arguments_say_why() {
        use PingArgError::*;
        let cases: &[(&[&str], PingArgError)] = &[
            (&[], MissingAddress),
            (&["-c", "3"], MissingAddress),
            (&["1.2.3.4", "5.6.7.8"], TooManyAddresses),
            (&["example.com"], BadAddress),
            (&["::1"], BadAddress),
            (&["1.2.3.4", "-c"], MissingValue('c')),
            (&["-c", "0", "1.2.3.4"], BadCount),
            (&["-c", "x", "1.2.3.4"], BadCount),
            (&["-s", "1473", "1.2.3.4"], BadSize),
            (&["-i", "0.1", "1.2.3.4"], BadInterval),
            (&["-i", "0.0005", "1.2.3.4"], BadInterval),
            (&["-i", "1s", "1.2.3.4"], BadInterval),
            (&["-f", "1.2.3.4"], UnknownOption),
            (&["-", "1.2.3.4"], UnknownOption),
        ];
        for (args, want) in cases {
            assert_eq!(parse_args(args), Err(*want), "{args:?}");
        }
        assert_eq!(MissingValue('s').to_string(), "option -s needs a value");
    }

    #[test]
    fn times_and_loss_print_like_iputils() {
        assert_eq!(Rtt(45_678).to_string(), "0.045");
        assert_eq!(Rtt(1_234_567).to_string(), "1.23");
        assert_eq!(Rtt(12_345_678).to_string(), "12.3");
        assert_eq!(Rtt(123_456_789).to_string(), "123");
        assert_eq!(Loss(0, 5).to_string(), "0");
        assert_eq!(Loss(5, 5).to_string(), "100");
        assert_eq!(Loss(1, 4).to_string(), "25");
        assert_eq!(Loss(1, 3).to_string(), "33.3333");
        assert_eq!(Loss(2, 3).to_string(), "66.6667");
        assert_eq!(Loss(1, 7).to_string(), "14.2857");
        assert_eq!(Loss(1, 1000).to_string(), "0.1");
        assert_eq!(isqrt(0), 0);
        assert_eq!(isqrt(15), 3);
        assert_eq!(isqrt(16), 4);
    }

    #[test]
    fn ping_sends_per_interval_prints_replies_and_summary() {
        let args = parse_args(&["-c", "3", "10.99.0.2"]).unwrap();
        let mut io = Script::default();
        let mut out = String::new();
        let mut p = Ping::start(args, 0, &mut out).unwrap();
        assert_eq!(p.poll(0, &mut io, &mut out), Ok(Progress::Running));
        assert_eq!(io.sent, [(args.dest, 1, 56)]);
        // Nothing more until the interval has passed.
        assert_eq!(p.poll(500 * MS, &mut io, &mut out), Ok(Progress::Running));
        assert_eq!(io.sent.len(), 1);
        io.replies.push_back(reply(1));
        assert_eq!(
            p.poll(1000 * MS + 1_000_000, &mut io, &mut out),
            Ok(Progress::Running)
        );
        assert_eq!(io.sent.len(), 2);
        io.replies.push_back(reply(2));
        p.poll(1000 * MS + 3_000_000, &mut io, &mut out).unwrap();
        assert_eq!(p.poll(2001 * MS, &mut io, &mut out), Ok(Progress::Running));
        io.replies.push_back(reply(3));
        assert_eq!(p.poll(2003 * MS, &mut io, &mut out), Ok(Progress::Finished));
        assert_eq!(
            out,
            "PING 10.99.0.2 (10.99.0.2) 56(84) bytes of data.\n\
             64 bytes from 10.99.0.2: icmp_seq=1 ttl=64 time=1001 ms\n\
             64 bytes from 10.99.0.2: icmp_seq=2 ttl=64 time=2.00 ms\n\
             64 bytes from 10.99.0.2: icmp_seq=3 ttl=64 time=2.00 ms\n\
             \n\
             --- 10.99.0.2 ping statistics ---\n\
             3 packets transmitted, 3 received, 0% packet loss, time 2003ms\n\
             rtt min/avg/max/mdev = 2.000/335.000/1001.000/470.933 ms\n"
        );
    }

    #[test]
    fn unanswered_ping_lingers_then_reports_full_loss() {
        let args = parse_args(&["-c", "1", "192.168.10.9"]).unwrap();
        let mut io = Script::default();
        let mut out = String::new();
        let mut p = Ping::start(args, 0, &mut out).unwrap();
        p.poll(0, &mut io, &mut out).unwrap();
        // Stray and duplicate replies are not counted.
        io.replies.push_back(reply(7));
        io.replies.push_back(Reply { seq: 1, ..reply(1) });
        assert_eq!(p.poll(9_000 * MS, &mut io, &mut out), Ok(Progress::Running));
        assert_eq!(
            p.poll(10_000 * MS, &mut io, &mut out),
            Ok(Progress::Finished)
        );
        assert!(
            out.ends_with("1 packets transmitted, 0 received, 100% packet loss, time 10000ms\n"),
            "{out}"
        );
        assert!(!out.contains("rtt"));
        assert!(!out.contains("bytes from"));
    }

    #[test]
    fn ctrl_c_prints_what_was_done_and_send_errors_count() {
        let args = parse_args(&["10.0.0.1"]).unwrap();
        let mut io = Script {
            refuse: true,
            ..Script::default()
        };
        let mut out = String::new();
        let mut p = Ping::start(args, 0, &mut out).unwrap();
        for t in 0..3 {
            assert_eq!(
                p.poll(t * 1000 * MS, &mut io, &mut out),
                Ok(Progress::Running)
            );
        }
        p.interrupt(2500 * MS, &mut out).unwrap();
        assert!(
            out.contains("data.\n\n--- 10.0.0.1 ping statistics ---\n"),
            "{out}"
        );
        assert!(out.contains(
            "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2500ms\n"
        ));
    }
}
