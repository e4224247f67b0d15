//! `capture PORT [-c N] [FILTER]`: frames seen on a port, both directions,
//! printed as an offset hexdump that Wireshark's `text2pcap` turns into a
//! pcap.
//!
//! Three parts, each shaped by where it runs:
//! - [`Filter`]: a tcpdump-like expression (`arp`, `icmp`, `udp`, `tcp`,
//!   `udp port 51820`, `port 53`, `host 10.0.0.1`, joined by `and`), parsed
//!   once on the console into a fixed array and matched against raw
//!   Ethernet bytes without allocating.
//! - [`CaptureRing`]: the tap the port poll path calls for every frame. Its
//!   slots are allocated when the capture starts, on the console; the data
//!   path only copies a matching frame into a free slot, or counts it as
//!   missed when the console has not drained the ring yet.
//! - [`write_frame`]: the text for one frame: a `#` comment line (direction,
//!   time, length: `text2pcap` skips lines that start with `#`), then
//!   `0000  ff ff ...` lines of 16 bytes, then a blank line.

use alloc::boxed::Box;
use alloc::vec;
use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use netfn::gateway::pipeline::Port;

use super::iproute::port_name;

/// The usage line of `capture`.
pub const USAGE: &str = "lan|wan [-c COUNT] [arp|icmp|udp|tcp|port N|host ADDR [and ...]]";

/// Most terms one filter holds.
pub const MAX_TERMS: usize = 4;
/// Frames the ring holds between two console polls.
pub const RING_SLOTS: usize = 32;
/// Bytes kept of each frame (a full Ethernet frame without FCS).
pub const SNAPLEN: usize = 1514;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// One condition on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    /// An ARP frame.
    Arp,
    /// An IPv4 ICMP packet.
    Icmp,
    /// A UDP datagram, optionally to or from a port.
    Udp(Option<u16>),
    /// A TCP segment, optionally to or from a port.
    Tcp(Option<u16>),
    /// UDP or TCP to or from a port.
    Port(u16),
    /// IPv4 (or ARP) to or from an address.
    Host(Ipv4Addr),
}

/// Every term must match (`and`); no terms matches every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filter {
    terms: [Option<Term>; MAX_TERMS],
}

/// Why a filter or a `capture` line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureArgError {
    /// No port named.
    MissingPort,
    /// The port is not `lan` or `wan`.
    UnknownPort,
    /// `-c` without a number from 1.
    BadCount,
    /// A word the filter language does not know.
    UnknownPrimitive,
    /// `port` or `host` without its value.
    MissingValue,
    /// A port that is not a number 0..=65535.
    BadPortNumber,
    /// `host` with something other than an IPv4 address.
    BadHost,
    /// Two terms without `and`, or `and` at an end.
    ExpectedAnd,
    /// More than [`MAX_TERMS`] terms.
    TooManyTerms,
}

impl fmt::Display for CaptureArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureArgError::MissingPort => f.write_str("which port: lan or wan"),
            CaptureArgError::UnknownPort => f.write_str("ports are lan and wan"),
            CaptureArgError::BadCount => f.write_str("count must be a number from 1"),
            CaptureArgError::UnknownPrimitive => {
                f.write_str("filters are arp, icmp, udp, tcp, port N, host ADDR")
            }
            CaptureArgError::MissingValue => f.write_str("port and host need a value"),
            CaptureArgError::BadPortNumber => f.write_str("port must be a number 0..65535"),
            CaptureArgError::BadHost => f.write_str("host must be an IPv4 address"),
            CaptureArgError::ExpectedAnd => f.write_str("join filter terms with 'and'"),
            CaptureArgError::TooManyTerms => write!(f, "at most {MAX_TERMS} filter terms"),
        }
    }
}

fn port_number(w: Option<&&str>) -> Result<u16, CaptureArgError> {
    w.ok_or(CaptureArgError::MissingValue)?
        .parse()
        .map_err(|_| CaptureArgError::BadPortNumber)
}

impl Filter {
    /// Parses filter words, tcpdump's spelling.
    pub fn parse(words: &[&str]) -> Result<Filter, CaptureArgError> {
        let mut filter = Filter::default();
        let mut n = 0;
        let mut i = 0;
        while i < words.len() {
            if n > 0 {
                if words[i] != "and" && words[i] != "&&" {
                    return Err(CaptureArgError::ExpectedAnd);
                }
                i += 1;
                if i == words.len() {
                    return Err(CaptureArgError::ExpectedAnd);
                }
            }
            let with_port = words.get(i + 1) == Some(&"port");
            let (term, used) = match words[i] {
                "arp" => (Term::Arp, 1),
                "icmp" => (Term::Icmp, 1),
                "udp" if with_port => (Term::Udp(Some(port_number(words.get(i + 2))?)), 3),
                "udp" => (Term::Udp(None), 1),
                "tcp" if with_port => (Term::Tcp(Some(port_number(words.get(i + 2))?)), 3),
                "tcp" => (Term::Tcp(None), 1),
                "port" => (Term::Port(port_number(words.get(i + 1))?), 2),
                "host" => {
                    let a = words.get(i + 1).ok_or(CaptureArgError::MissingValue)?;
                    (
                        Term::Host(a.parse().map_err(|_| CaptureArgError::BadHost)?),
                        2,
                    )
                }
                "and" | "&&" => return Err(CaptureArgError::ExpectedAnd),
                _ => return Err(CaptureArgError::UnknownPrimitive),
            };
            if n == MAX_TERMS {
                return Err(CaptureArgError::TooManyTerms);
            }
            filter.terms[n] = Some(term);
            n += 1;
            i += used;
        }
        Ok(filter)
    }

    /// True when every term matches the Ethernet frame.
    pub fn matches(&self, frame: &[u8]) -> bool {
        let view = FrameView::parse(frame);
        self.terms.iter().flatten().all(|t| view.matches(*t))
    }
}

/// The fields a filter looks at, read once per frame.
#[derive(Debug, Default)]
struct FrameView {
    arp: bool,
    proto: Option<u8>,
    addrs: Option<([u8; 4], [u8; 4])>,
    ports: Option<(u16, u16)>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn ip4(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at + 4)?.try_into().ok()
}

impl FrameView {
    fn parse(frame: &[u8]) -> FrameView {
        let mut v = FrameView::default();
        match be16(frame, 12) {
            // RFC 826: sender protocol address at 14+14, target at 14+24.
            Some(ETHERTYPE_ARP) => {
                v.arp = true;
                v.addrs = ip4(frame, 28).zip(ip4(frame, 38));
            }
            // RFC 791: IHL in the low nibble of byte 0, protocol at 9,
            // addresses at 12 and 16; ports (RFC 768/9293) lead the payload,
            // present only in the first fragment.
            Some(ETHERTYPE_IPV4) => {
                let ip = &frame[14..];
                let ihl = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
                v.proto = ip.get(9).copied();
                v.addrs = ip4(ip, 12).zip(ip4(ip, 16));
                let first_fragment = be16(ip, 6).is_some_and(|f| f & 0x1fff == 0);
                if ihl >= 20 && first_fragment {
                    v.ports = be16(ip, ihl).zip(be16(ip, ihl + 2));
                }
            }
            _ => {}
        }
        v
    }

    fn has_port(&self, p: u16) -> bool {
        self.ports.is_some_and(|(s, d)| s == p || d == p)
    }

    fn matches(&self, t: Term) -> bool {
        match t {
            Term::Arp => self.arp,
            Term::Icmp => self.proto == Some(PROTO_ICMP),
            Term::Udp(port) => {
                self.proto == Some(PROTO_UDP) && port.is_none_or(|p| self.has_port(p))
            }
            Term::Tcp(port) => {
                self.proto == Some(PROTO_TCP) && port.is_none_or(|p| self.has_port(p))
            }
            Term::Port(p) => matches!(self.proto, Some(PROTO_UDP | PROTO_TCP)) && self.has_port(p),
            Term::Host(a) => self
                .addrs
                .is_some_and(|(s, d)| s == a.octets() || d == a.octets()),
        }
    }
}

/// What `capture` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureArgs {
    /// Which port.
    pub port: Port,
    /// How many frames (`None`: until Ctrl-C).
    pub count: Option<u32>,
    /// Which frames.
    pub filter: Filter,
}

/// Parses the words after `capture`.
pub fn parse_args(args: &[&str]) -> Result<CaptureArgs, CaptureArgError> {
    let (port, mut rest) = args.split_first().ok_or(CaptureArgError::MissingPort)?;
    let port = match *port {
        "lan" => Port::Lan,
        "wan" => Port::Wan,
        _ => return Err(CaptureArgError::UnknownPort),
    };
    let mut count = None;
    if let Some(c) = rest.first().and_then(|w| w.strip_prefix("-c")) {
        let (value, skip) = if c.is_empty() {
            (rest.get(1).ok_or(CaptureArgError::BadCount)?, 2)
        } else {
            (&c, 1)
        };
        count = Some(
            value
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(CaptureArgError::BadCount)?,
        );
        rest = &rest[skip..];
    }
    Ok(CaptureArgs {
        port,
        count,
        filter: Filter::parse(rest)?,
    })
}

/// Which way a frame crossed the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the wire.
    In,
    /// Sent to the wire.
    Out,
}

/// One captured frame.
#[derive(Clone)]
struct Slot {
    len: usize,
    orig_len: usize,
    time_ns: u64,
    dir: Direction,
    bytes: [u8; SNAPLEN],
}

/// A frame as the console reads it out of the ring.
#[derive(Debug, Clone, Copy)]
pub struct Captured<'a> {
    /// When it was seen (monotonic ns).
    pub time_ns: u64,
    /// Which way.
    pub dir: Direction,
    /// Its length on the wire.
    pub orig_len: usize,
    /// The bytes kept (at most [`SNAPLEN`]).
    pub bytes: &'a [u8],
}

/// The tap: filter plus a ring of preallocated slots the data path copies
/// matching frames into and the console drains.
pub struct CaptureRing {
    port: Port,
    filter: Filter,
    slots: Box<[Slot]>,
    head: usize,
    len: usize,
    missed: u64,
}

impl CaptureRing {
    /// A tap on `port` for frames matching `filter`; allocates its slots now,
    /// on the console, so [`CaptureRing::tap`] never does.
    pub fn new(port: Port, filter: Filter) -> CaptureRing {
        let empty = Slot {
            len: 0,
            orig_len: 0,
            time_ns: 0,
            dir: Direction::In,
            bytes: [0; SNAPLEN],
        };
        CaptureRing {
            port,
            filter,
            slots: vec![empty; RING_SLOTS].into_boxed_slice(),
            head: 0,
            len: 0,
            missed: 0,
        }
    }

    /// The port tapped.
    pub fn port(&self) -> Port {
        self.port
    }

    /// Frames that matched while the ring was full.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Called by the port poll path for every frame on `port`: copies it
    /// when it matches and there is room. Never allocates.
    pub fn tap(&mut self, port: Port, dir: Direction, time_ns: u64, frame: &[u8]) {
        if port != self.port || !self.filter.matches(frame) {
            return;
        }
        if self.len == self.slots.len() {
            self.missed += 1;
            return;
        }
        let at = (self.head + self.len) % self.slots.len();
        let slot = &mut self.slots[at];
        let n = frame.len().min(SNAPLEN);
        slot.bytes[..n].copy_from_slice(&frame[..n]);
        slot.len = n;
        slot.orig_len = frame.len();
        slot.time_ns = time_ns;
        slot.dir = dir;
        self.len += 1;
    }

    /// Hands the oldest captured frame to `f` and frees its slot.
    pub fn pop_with<T>(&mut self, f: impl FnOnce(Captured<'_>) -> T) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let slot = &self.slots[self.head];
        let out = f(Captured {
            time_ns: slot.time_ns,
            dir: slot.dir,
            orig_len: slot.orig_len,
            bytes: &slot.bytes[..slot.len],
        });
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(out)
    }
}

/// Writes one frame: a `#` comment line, the offset hexdump, a blank line.
pub fn write_frame(n: u32, port: Port, c: &Captured<'_>, out: &mut dyn Write) -> fmt::Result {
    let us = c.time_ns / 1000;
    writeln!(
        out,
        "# {n} {}.{:06} {} {} {} bytes",
        us / 1_000_000,
        us % 1_000_000,
        port_name(port),
        match c.dir {
            Direction::In => "in",
            Direction::Out => "out",
        },
        c.orig_len
    )?;
    for (i, line) in c.bytes.chunks(16).enumerate() {
        write!(out, "{:04x} ", i * 16)?;
        for b in line {
            write!(out, " {b:02x}")?;
        }
        writeln!(out)?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ARP request from 192.168.10.2 for 192.168.10.1 (the bytes a Linux
    /// host sends; Wireshark's "Who has 192.168.10.1? Tell 192.168.10.2").
    const ARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x02, 192, 168, 10,
        2, 0, 0, 0, 0, 0, 0, 192, 168, 10, 1,
    ];

    /// A frame carrying an IPv4 header (RFC 791, no options) from `src` to
    /// `dst` with `proto` and, for UDP/TCP, the ports.
    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&ports.0.to_be_bytes());
        f[36..38].copy_from_slice(&ports.1.to_be_bytes());
        f
    }

    #[test]
    fn filters_parse_tcpdump_spellings() {
        let f = Filter::parse(&["udp", "port", "51820", "and", "host", "203.0.113.5"]).unwrap();
        assert_eq!(
            f.terms[..2],
            [
                Some(Term::Udp(Some(51820))),
                Some(Term::Host(Ipv4Addr::new(203, 0, 113, 5)))
            ]
        );
        assert_eq!(Filter::parse(&[]).unwrap(), Filter::default());
        assert_eq!(Filter::parse(&["arp"]).unwrap().terms[0], Some(Term::Arp));
        assert_eq!(
            Filter::parse(&["port", "53"]).unwrap().terms[0],
            Some(Term::Port(53))
        );
    }

    #[test]
    fn bad_filters_say_why() {
        use CaptureArgError::*;
        let cases: &[(&[&str], CaptureArgError)] = &[
            (&["ip6"], UnknownPrimitive),
            (&["udp", "port"], MissingValue),
            (&["udp", "port", "70000"], BadPortNumber),
            (&["host"], MissingValue),
            (&["host", "gateway"], BadHost),
            (&["arp", "icmp"], ExpectedAnd),
            (&["arp", "and"], ExpectedAnd),
            (&["and", "arp"], ExpectedAnd),
            (
                &[
                    "arp", "and", "arp", "and", "arp", "and", "arp", "and", "arp",
                ],
                TooManyTerms,
            ),
        ];
        for (words, want) in cases {
            assert_eq!(Filter::parse(words), Err(*want), "{words:?}");
        }
    }

    #[test]
    fn filters_match_frames() {
        let udp = ipv4(
            PROTO_UDP,
            [198, 51, 100, 1],
            [203, 0, 113, 5],
            (40000, 51820),
        );
        let tcp = ipv4(PROTO_TCP, [192, 168, 10, 2], [10, 20, 0, 9], (50000, 22));
        let icmp = ipv4(
            PROTO_ICMP,
            [192, 168, 10, 2],
            [192, 168, 10, 1],
            (0x0800, 0),
        );
        let m = |w: &[&str], f: &[u8]| Filter::parse(w).unwrap().matches(f);
        assert!(m(&["arp"], &ARP));
        assert!(!m(&["arp"], &udp));
        assert!(m(&["host", "192.168.10.1"], &ARP));
        assert!(m(&["icmp"], &icmp));
        assert!(!m(&["icmp"], &tcp));
        assert!(m(&["udp", "port", "51820"], &udp));
        assert!(!m(&["udp", "port", "51821"], &udp));
        assert!(!m(&["tcp", "port", "51820"], &udp));
        assert!(m(&["tcp", "port", "22"], &tcp));
        assert!(m(&["port", "22"], &tcp));
        assert!(!m(&["port", "2048"], &icmp), "ICMP has no ports");
        assert!(m(&["udp", "and", "host", "203.0.113.5"], &udp));
        assert!(!m(&["udp", "and", "host", "203.0.113.6"], &udp));
        assert!(m(&[], &[0u8; 3]), "an empty filter takes even a runt");
        // Truncated frames never match a field they do not carry, nor panic.
        // (The ports end at byte 38: 14 Ethernet + 20 IP + 4.)
        for cut in 0..udp.len() {
            assert_eq!(
                m(&["udp", "port", "51820"], &udp[..cut]),
                cut >= 38,
                "{cut}"
            );
        }
        // A later fragment has no ports to match.
        let mut frag = udp.clone();
        frag[14 + 7] = 0x10;
        assert!(!m(&["udp", "port", "51820"], &frag));
        assert!(m(&["udp"], &frag));
    }

    #[test]
    fn arguments() {
        let a = parse_args(&["wan", "-c", "5", "udp", "port", "51820"]).unwrap();
        assert_eq!((a.port, a.count), (Port::Wan, Some(5)));
        assert!(a
            .filter
            .matches(&ipv4(PROTO_UDP, [1; 4], [2; 4], (51820, 1))));
        let a = parse_args(&["lan", "-c2"]).unwrap();
        assert_eq!(
            (a.port, a.count, a.filter),
            (Port::Lan, Some(2), Filter::default())
        );
        let a = parse_args(&["lan", "arp"]).unwrap();
        assert_eq!(a.count, None);
        assert_eq!(parse_args(&[]), Err(CaptureArgError::MissingPort));
        assert_eq!(parse_args(&["eth0"]), Err(CaptureArgError::UnknownPort));
        assert_eq!(parse_args(&["lan", "-c"]), Err(CaptureArgError::BadCount));
        assert_eq!(
            parse_args(&["lan", "-c", "0"]),
            Err(CaptureArgError::BadCount)
        );
        assert_eq!(
            parse_args(&["lan", "-c", "arp"]),
            Err(CaptureArgError::BadCount)
        );
        assert_eq!(
            parse_args(&["lan", "bogus"]),
            Err(CaptureArgError::UnknownPrimitive)
        );
    }

    #[test]
    fn ring_copies_matching_frames_and_counts_overflow() {
        let mut ring = CaptureRing::new(Port::Lan, Filter::parse(&["arp"]).unwrap());
        let udp = ipv4(PROTO_UDP, [1; 4], [2; 4], (1, 2));
        ring.tap(Port::Lan, Direction::In, 5, &udp);
        ring.tap(Port::Wan, Direction::In, 5, &ARP);
        assert!(
            ring.pop_with(|_| ()).is_none(),
            "other frames and ports pass by"
        );
        for t in 0..RING_SLOTS as u64 + 3 {
            ring.tap(Port::Lan, Direction::Out, t, &ARP);
        }
        assert_eq!(ring.missed(), 3);
        let first = ring
            .pop_with(|c| (c.time_ns, c.dir, c.bytes.to_vec()))
            .unwrap();
        assert_eq!(first, (0, Direction::Out, ARP.to_vec()));
        let mut left = 0;
        while ring.pop_with(|_| ()).is_some() {
            left += 1;
        }
        assert_eq!(left, RING_SLOTS - 1);
        // Room again after draining; a jumbo frame is cut to the snap length.
        let big = [0xabu8; SNAPLEN + 100];
        let mut any = CaptureRing::new(Port::Lan, Filter::default());
        any.tap(Port::Lan, Direction::In, 1, &big);
        let (len, orig) = any.pop_with(|c| (c.bytes.len(), c.orig_len)).unwrap();
        assert_eq!((len, orig), (SNAPLEN, SNAPLEN + 100));
    }

    #[test]
    fn frames_print_as_text2pcap_input() {
        let c = Captured {
            time_ns: 12_345_678_901,
            dir: Direction::In,
            orig_len: ARP.len(),
            bytes: &ARP,
        };
        let mut out = String::new();
        write_frame(1, Port::Lan, &c, &mut out).unwrap();
        assert_eq!(
            out,
            "# 1 12.345678 lan in 42 bytes\n\
             0000  ff ff ff ff ff ff 52 54 00 12 34 02 08 06 00 01\n\
             0010  08 00 06 04 00 01 52 54 00 12 34 02 c0 a8 0a 02\n\
             0020  00 00 00 00 00 00 c0 a8 0a 01\n\
             \n"
        );
    }
}
