//! The console's one long-running command (`ping`, `capture`) as a job the
//! poll loop advances a little each turn, so packets keep flowing while it
//! waits.
//!
//! [`JobSlot`] holds at most one [`Job`]. The kernel's `Machine` keeps a slot
//! and forwards the shell's start, poll and Ctrl-C calls to it, handing over
//! the data plane as a [`JobNet`]: the echo path for `ping` and the capture
//! tap for `capture`. The capture ring is installed in the data plane when
//! the job starts and taken out when it ends, so the port poll path copies
//! frames only while someone is reading them.

use alloc::boxed::Box;
use core::fmt::{self, Write};

use netfn::gateway::pipeline::Port;

use super::capture::{write_frame, CaptureArgs, CaptureRing};
use super::iproute::port_name;
use super::ping::{EchoIo, Ping, PingArgs, Progress};

/// Frames printed per poll-loop turn: a frame is a few KiB of text on a
/// serial line, so the loop gets back to the data path between frames.
const FRAMES_PER_POLL: usize = 1;

/// What a job needs from the data plane.
pub trait JobNet: EchoIo {
    /// Installs (`Some`) or removes (`None`) the capture tap; returns the one
    /// that was installed.
    fn set_capture(&mut self, ring: Option<Box<CaptureRing>>) -> Option<Box<CaptureRing>>;
    /// The installed tap, to drain.
    fn capture(&mut self) -> Option<&mut CaptureRing>;
}

/// A running `capture`.
#[derive(Debug)]
pub struct Capture {
    port: Port,
    count: Option<u32>,
    printed: u32,
}

/// The long-running command in progress.
#[derive(Debug)]
pub enum Job {
    /// `ping` (boxed: its send-time window is most of a KiB).
    Ping(Box<Ping>),
    /// `capture`.
    Capture(Capture),
}

/// Holds the running job, if any.
#[derive(Debug, Default)]
pub struct JobSlot {
    job: Option<Job>,
}

impl JobSlot {
    /// An empty slot.
    pub const fn new() -> Self {
        JobSlot { job: None }
    }

    /// True while a job runs.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Starts `ping` (prints its header).
    pub fn start_ping(&mut self, args: PingArgs, now_ns: u64, out: &mut dyn Write) -> fmt::Result {
        self.job = Some(Job::Ping(Box::new(Ping::start(args, now_ns, out)?)));
        Ok(())
    }

    /// Starts `capture`: installs a fresh tap in `net` (allocated here, on
    /// the console, never on the data path).
    pub fn start_capture(
        &mut self,
        args: CaptureArgs,
        net: &mut dyn JobNet,
        out: &mut dyn Write,
    ) -> fmt::Result {
        net.set_capture(Some(Box::new(CaptureRing::new(args.port, args.filter))));
        self.job = Some(Job::Capture(Capture {
            port: args.port,
            count: args.count,
            printed: 0,
        }));
        writeln!(
            out,
            "# capturing on {}; Ctrl-C stops (pipe the lines through text2pcap)",
            port_name(args.port)
        )
    }

    /// Advances the job; `Finished` once it has printed its last line (the
    /// slot is empty again).
    pub fn poll(&mut self, now_ns: u64, net: &mut dyn JobNet, out: &mut dyn Write) -> Progress {
        let progress = match &mut self.job {
            None => return Progress::Finished,
            Some(Job::Ping(p)) => p.poll(now_ns, net, out).unwrap_or(Progress::Finished),
            Some(Job::Capture(c)) => c.poll(net, out),
        };
        if progress == Progress::Finished {
            self.finish(net, out);
        }
        progress
    }

    /// Ctrl-C: prints what the job has to say at its end and empties the slot.
    pub fn interrupt(&mut self, now_ns: u64, net: &mut dyn JobNet, out: &mut dyn Write) {
        if let Some(Job::Ping(p)) = &mut self.job {
            let _ = p.interrupt(now_ns, out);
        }
        self.finish(net, out);
    }

    fn finish(&mut self, net: &mut dyn JobNet, out: &mut dyn Write) {
        if let Some(Job::Capture(c)) = self.job.take() {
            let missed = net.set_capture(None).map_or(0, |r| r.missed());
            let _ = writeln!(
                out,
                "# {} frames captured on {}, {missed} missed",
                c.printed,
                port_name(c.port)
            );
        }
    }
}

impl Capture {
    fn poll(&mut self, net: &mut dyn JobNet, out: &mut dyn Write) -> Progress {
        let Some(ring) = net.capture() else {
            // The data plane lost the tap (the gateway restarted): stop.
            return Progress::Finished;
        };
        for _ in 0..FRAMES_PER_POLL {
            if self.count.is_some_and(|c| self.printed >= c) {
                break;
            }
            let n = self.printed + 1;
            let port = self.port;
            let wrote = ring.pop_with(|f| write_frame(n, port, &f, out));
            match wrote {
                Some(Ok(())) => self.printed = n,
                Some(Err(_)) => return Progress::Finished,
                None => break,
            }
        }
        if self.count.is_some_and(|c| self.printed >= c) {
            Progress::Finished
        } else {
            Progress::Running
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::capture::{self, Direction};
    use super::super::ping::{self, Reply};
    use super::*;
    use core::net::Ipv4Addr;

    #[derive(Default)]
    struct FakeNet {
        ring: Option<Box<CaptureRing>>,
        replies: Vec<Reply>,
        sent: usize,
    }

    impl EchoIo for FakeNet {
        fn send(&mut self, dest: Ipv4Addr, seq: u16, size: usize) -> bool {
            self.sent += 1;
            self.replies.push(Reply {
                from: dest,
                seq,
                len: size,
                ttl: None,
            });
            true
        }
        fn recv(&mut self) -> Option<Reply> {
            self.replies.pop()
        }
    }

    impl JobNet for FakeNet {
        fn set_capture(&mut self, ring: Option<Box<CaptureRing>>) -> Option<Box<CaptureRing>> {
            core::mem::replace(&mut self.ring, ring)
        }
        fn capture(&mut self) -> Option<&mut CaptureRing> {
            self.ring.as_deref_mut()
        }
    }

    /// The ARP request of `capture`'s tests (a Linux host asking for .1).
    const ARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x02, 192, 168, 10,
        2, 0, 0, 0, 0, 0, 0, 192, 168, 10, 1,
    ];

    #[test]
    fn capture_job_prints_count_frames_then_removes_the_tap() {
        let mut net = FakeNet::default();
        let mut slot = JobSlot::new();
        let mut out = String::new();
        let args = capture::parse_args(&["lan", "-c", "2", "arp"]).unwrap();
        slot.start_capture(args, &mut net, &mut out).unwrap();
        assert!(net.ring.is_some() && slot.busy());
        assert_eq!(slot.poll(0, &mut net, &mut out), Progress::Running);
        for t in 0..3 {
            net.ring
                .as_mut()
                .unwrap()
                .tap(Port::Lan, Direction::In, t, &ARP);
        }
        assert_eq!(slot.poll(0, &mut net, &mut out), Progress::Running);
        assert_eq!(slot.poll(0, &mut net, &mut out), Progress::Finished);
        assert!(net.ring.is_none() && !slot.busy());
        assert_eq!(out.matches("\n0000  ff ff").count(), 2, "{out}");
        assert!(out.contains("# 2 0.000000 lan in 42 bytes\n"), "{out}");
        assert!(
            out.ends_with("# 2 frames captured on lan, 0 missed\n"),
            "{out}"
        );
    }

    #[test]
    fn ctrl_c_ends_capture_and_ping() {
        let mut net = FakeNet::default();
        let mut slot = JobSlot::new();
        let mut out = String::new();
        let args = capture::parse_args(&["wan"]).unwrap();
        slot.start_capture(args, &mut net, &mut out).unwrap();
        slot.interrupt(0, &mut net, &mut out);
        assert!(net.ring.is_none() && !slot.busy());
        assert!(
            out.ends_with("# 0 frames captured on wan, 0 missed\n"),
            "{out}"
        );

        out.clear();
        let args = ping::parse_args(&["10.99.0.2"]).unwrap();
        slot.start_ping(args, 0, &mut out).unwrap();
        assert_eq!(slot.poll(0, &mut net, &mut out), Progress::Running);
        assert_eq!(slot.poll(1_000_000, &mut net, &mut out), Progress::Running);
        slot.interrupt(1_500_000_000, &mut net, &mut out);
        assert!(!slot.busy());
        assert!(out.contains("icmp_seq=1 time=1.00 ms"), "{out}");
        assert!(
            out.contains("1 packets transmitted, 1 received, 0% packet loss, time 1500ms"),
            "{out}"
        );
        assert_eq!(net.sent, 1);
        // An idle slot reports finished and prints nothing.
        out.clear();
        assert_eq!(slot.poll(0, &mut net, &mut out), Progress::Finished);
        assert!(out.is_empty());
    }
}
