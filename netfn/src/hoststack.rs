//! The appliance's own host stack on one port: ARP, ICMP echo, DHCPv4.
//!
//! Traffic addressed to the appliance itself is rare and small (ARP, pings,
//! DHCP), so it takes a slow path: the poll loop copies such frames into a
//! small fixed queue here, smoltcp's `Interface` answers them, and replies are
//! copied back out into packet buffers. Nothing on this path allocates after
//! construction, and the forwarding data path never comes through here.
//!
//! Each port gets its own `HostStack`, so addresses, neighbour caches and DHCP
//! state never mix between LAN and WAN.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::{dhcpv4, icmp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, Ipv4Cidr,
};

/// Largest frame the slow path carries (Ethernet header + 1500).
pub const FRAME_MAX: usize = 1514;
/// Frames queued in each direction.
const QUEUE_LEN: usize = 8;
/// ICMP identifier used by the appliance's own `ping`.
pub const PING_IDENT: u16 = 0x5257;

/// A fixed ring of frames, copied in and out.
struct FrameRing {
    frames: Vec<[u8; FRAME_MAX]>,
    lens: [usize; QUEUE_LEN],
    head: usize,
    count: usize,
}

impl FrameRing {
    fn new() -> FrameRing {
        FrameRing {
            frames: vec![[0u8; FRAME_MAX]; QUEUE_LEN],
            lens: [0; QUEUE_LEN],
            head: 0,
            count: 0,
        }
    }
    fn push(&mut self, frame: &[u8]) -> bool {
        if self.count == QUEUE_LEN || frame.len() > FRAME_MAX {
            return false;
        }
        let slot = (self.head + self.count) % QUEUE_LEN;
        self.frames[slot][..frame.len()].copy_from_slice(frame);
        self.lens[slot] = frame.len();
        self.count += 1;
        true
    }
    /// Reserves the next slot for writing `len` bytes, if free.
    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.count == QUEUE_LEN || len > FRAME_MAX {
            return None;
        }
        let slot = (self.head + self.count) % QUEUE_LEN;
        self.lens[slot] = len;
        self.count += 1;
        Some(&mut self.frames[slot][..len])
    }
    fn front(&self) -> Option<&[u8]> {
        (self.count > 0).then(|| &self.frames[self.head][..self.lens[self.head]])
    }
    fn pop(&mut self) {
        if self.count > 0 {
            self.head = (self.head + 1) % QUEUE_LEN;
            self.count -= 1;
        }
    }
}

/// The smoltcp device: frames in from the poll loop, frames out to it.
struct SlowPathDevice {
    rx: FrameRing,
    tx: FrameRing,
    tx_dropped: u64,
}

struct Rx<'a>(&'a mut FrameRing);
struct Tx<'a>(&'a mut FrameRing, &'a mut u64);

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(self.0.front().unwrap_or(&[]));
        self.0.pop();
        r
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        match self.0.reserve(len) {
            Some(buf) => f(buf),
            None => {
                // The tx ring is full: let smoltcp write into scratch and count the loss.
                *self.1 += 1;
                let mut scratch = [0u8; FRAME_MAX];
                let n = len.min(FRAME_MAX);
                f(&mut scratch[..n])
            }
        }
    }
}

impl phy::Device for SlowPathDevice {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _t: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        if self.rx.count == 0 {
            return None;
        }
        Some((Rx(&mut self.rx), Tx(&mut self.tx, &mut self.tx_dropped)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        if self.tx.count < QUEUE_LEN {
            Some(Tx(&mut self.tx, &mut self.tx_dropped))
        } else {
            None
        }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MAX;
        caps.max_burst_size = Some(1);
        // Frames come from the wire: verify every checksum, compute every checksum.
        let mut ck = ChecksumCapabilities::default();
        ck.ipv4 = Checksum::Both;
        ck.udp = Checksum::Both;
        ck.icmpv4 = Checksum::Both;
        caps.checksum = ck;
        caps
    }
}

/// Why a host stack could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStackError {
    /// The port's MAC address is not a unicast address.
    BadMac,
}

/// A DHCPv4 lease change on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpEvent {
    /// A lease was obtained: address/prefix and optional router.
    Configured {
        /// The leased address and prefix length.
        address: Ipv4Addr,
        /// Prefix length.
        prefix_len: u8,
        /// The default router offered, if any.
        router: Option<Ipv4Addr>,
    },
    /// The lease was lost.
    Deconfigured,
}

/// An echo reply received for the appliance's own ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    /// Who answered.
    pub from: Ipv4Addr,
    /// Sequence number.
    pub seq: u16,
    /// Payload length.
    pub len: usize,
}

/// The slow-path host stack of one port.
pub struct HostStack {
    iface: Interface,
    dev: SlowPathDevice,
    sockets: SocketSet<'static>,
    icmp: SocketHandle,
    dhcp: Option<SocketHandle>,
    rx_dropped: u64,
}

impl HostStack {
    /// A host stack for a port with `mac`, its address (if static), and DHCP on or off.
    pub fn new(
        mac: [u8; 6],
        address: Option<(Ipv4Addr, u8)>,
        gateway: Option<Ipv4Addr>,
        dhcp: bool,
        seed: u64,
        now_ms: i64,
    ) -> Result<HostStack, HostStackError> {
        let eth = EthernetAddress(mac);
        if !eth.is_unicast() {
            return Err(HostStackError::BadMac);
        }
        let mut dev = SlowPathDevice {
            rx: FrameRing::new(),
            tx: FrameRing::new(),
            tx_dropped: 0,
        };
        let mut config = Config::new(HardwareAddress::Ethernet(eth));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, Instant::from_millis(now_ms));
        if let Some((addr, len)) = address {
            iface.update_ip_addrs(|a| {
                let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(addr, len)));
            });
        }
        if let Some(gw) = gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(gw);
        }
        let mut sockets = SocketSet::new(Vec::new());
        let rx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1600]);
        let tx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1600]);
        let mut sock = icmp::Socket::new(rx, tx);
        let _ = sock.bind(icmp::Endpoint::Ident(PING_IDENT));
        let icmp = sockets.add(sock);
        let dhcp = dhcp.then(|| sockets.add(dhcpv4::Socket::new()));
        Ok(HostStack {
            iface,
            dev,
            sockets,
            icmp,
            dhcp,
            rx_dropped: 0,
        })
    }

    /// Hands a received frame to the stack. False (and counted) when the
    /// slow-path queue is full.
    pub fn push_rx(&mut self, frame: &[u8]) -> bool {
        let ok = self.dev.rx.push(frame);
        if !ok {
            self.rx_dropped += 1;
        }
        ok
    }

    /// Runs the stack: consumes queued frames, answers, runs timers.
    /// Returns a DHCP event when the lease changed.
    pub fn poll(&mut self, now_ms: i64) -> Option<DhcpEvent> {
        let now = Instant::from_millis(now_ms);
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        let handle = self.dhcp?;
        let event = self.sockets.get_mut::<dhcpv4::Socket>(handle).poll()?;
        Some(match event {
            dhcpv4::Event::Configured(cfg) => {
                self.iface.update_ip_addrs(|a| {
                    a.clear();
                    let _ = a.push(IpCidr::Ipv4(cfg.address));
                });
                match cfg.router {
                    Some(r) => {
                        let _ = self.iface.routes_mut().add_default_ipv4_route(r);
                    }
                    None => {
                        self.iface.routes_mut().remove_default_ipv4_route();
                    }
                }
                DhcpEvent::Configured {
                    address: cfg.address.address(),
                    prefix_len: cfg.address.prefix_len(),
                    router: cfg.router,
                }
            }
            dhcpv4::Event::Deconfigured => {
                self.iface.update_ip_addrs(|a| a.clear());
                self.iface.routes_mut().remove_default_ipv4_route();
                DhcpEvent::Deconfigured
            }
        })
    }

    /// Copies the next frame to send into `out`; returns its length.
    pub fn pop_tx(&mut self, out: &mut [u8]) -> Option<usize> {
        let frame = self.dev.tx.front()?;
        let n = frame.len();
        let copied = out.get_mut(..n).map(|o| o.copy_from_slice(frame)).is_some();
        self.dev.tx.pop();
        if copied {
            Some(n)
        } else {
            self.dev.tx_dropped += 1;
            None
        }
    }

    /// True when frames wait to be sent.
    pub fn has_tx(&self) -> bool {
        self.dev.tx.count > 0
    }

    /// Queues an echo request from the appliance to `dst`.
    /// False when the socket's queue is full or `dst` has no route.
    pub fn send_echo(&mut self, dst: Ipv4Addr, seq: u16, payload_len: usize) -> bool {
        let sock = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        let repr = Icmpv4Repr::EchoRequest {
            ident: PING_IDENT,
            seq_no: seq,
            data: &[],
        };
        let len = repr.buffer_len() + payload_len;
        let Ok(buf) = sock.send(len, IpAddress::Ipv4(dst)) else {
            return false;
        };
        let mut pkt = Icmpv4Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut pkt, &ChecksumCapabilities::ignored());
        for (i, b) in pkt.data_mut().iter_mut().enumerate() {
            *b = i as u8;
        }
        pkt.fill_checksum();
        true
    }

    /// Takes the next echo reply received for our ping.
    pub fn recv_echo(&mut self) -> Option<EchoReply> {
        let sock = self.sockets.get_mut::<icmp::Socket>(self.icmp);
        while sock.can_recv() {
            let Ok((data, from)) = sock.recv() else { break };
            let IpAddress::Ipv4(from) = from else {
                continue;
            };
            let pkt = Icmpv4Packet::new_checked(data);
            let Ok(pkt) = pkt else { continue };
            let Ok(Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            }) = Icmpv4Repr::parse(&pkt, &ChecksumCapabilities::default())
            else {
                continue;
            };
            if ident == PING_IDENT {
                return Some(EchoReply {
                    from,
                    seq: seq_no,
                    len: data.len(),
                });
            }
        }
        None
    }

    /// The port's IPv4 address, if it has one.
    pub fn ipv4(&self) -> Option<(Ipv4Addr, u8)> {
        self.iface.ip_addrs().iter().find_map(|c| match c {
            IpCidr::Ipv4(c) => Some((c.address(), c.prefix_len())),
            #[allow(unreachable_patterns)]
            _ => None,
        })
    }

    /// Frames dropped because a slow-path queue was full.
    pub fn dropped(&self) -> (u64, u64) {
        (self.rx_dropped, self.dev.tx_dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{
        ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr,
        IpProtocol, Ipv4Packet, Ipv4Repr,
    };

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x0a, 0, 1];
    const HOST: [u8; 6] = [0x52, 0x54, 0, 0x0a, 0, 2];

    fn stack() -> HostStack {
        HostStack::new(
            MAC,
            Some((Ipv4Addr::new(192, 168, 10, 1), 24)),
            None,
            false,
            1,
            0,
        )
        .unwrap()
    }

    fn arp_request() -> Vec<u8> {
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(HOST),
            source_protocol_addr: Ipv4Addr::new(192, 168, 10, 2),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(192, 168, 10, 1),
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(HOST),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let mut buf = vec![0u8; eth.buffer_len() + arp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut frame);
        arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        buf
    }

    fn echo_request(seq: u16, payload: &[u8]) -> Vec<u8> {
        let icmp = Icmpv4Repr::EchoRequest {
            ident: 7,
            seq_no: seq,
            data: payload,
        };
        let ip = Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 10, 2),
            dst_addr: Ipv4Addr::new(192, 168, 10, 1),
            next_header: IpProtocol::Icmp,
            payload_len: icmp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(HOST),
            dst_addr: EthernetAddress(MAC),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = vec![0u8; 14 + 20 + icmp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut frame);
        let caps = ChecksumCapabilities::default();
        let mut ipp = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut ipp, &caps);
        icmp.emit(&mut Icmpv4Packet::new_unchecked(ipp.payload_mut()), &caps);
        buf
    }

    #[test]
    fn answers_arp_for_its_address() {
        let mut s = stack();
        assert!(s.push_rx(&arp_request()));
        s.poll(1);
        let mut out = [0u8; FRAME_MAX];
        let n = s.pop_tx(&mut out).expect("an ARP reply");
        let frame = EthernetFrame::new_checked(&out[..n]).unwrap();
        assert_eq!(frame.dst_addr(), EthernetAddress(HOST));
        let arp = ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()).unwrap();
        match arp {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                ..
            } => {
                assert_eq!(operation, ArpOperation::Reply);
                assert_eq!(source_hardware_addr, EthernetAddress(MAC));
                assert_eq!(source_protocol_addr, Ipv4Addr::new(192, 168, 10, 1));
            }
            _ => panic!("not an Ethernet/IPv4 ARP reply"),
        }
    }

    #[test]
    fn answers_ping_with_the_same_payload() {
        let mut s = stack();
        s.push_rx(&arp_request());
        s.poll(1);
        let mut out = [0u8; FRAME_MAX];
        s.pop_tx(&mut out).unwrap();
        let payload: Vec<u8> = (0..56u8).collect();
        s.push_rx(&echo_request(3, &payload));
        s.poll(2);
        let n = s.pop_tx(&mut out).expect("an echo reply");
        let frame = EthernetFrame::new_checked(&out[..n]).unwrap();
        let ip = Ipv4Packet::new_checked(frame.payload()).unwrap();
        assert!(ip.verify_checksum());
        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        match Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).unwrap() {
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                assert_eq!((ident, seq_no), (7, 3));
                assert_eq!(data, &payload[..]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_and_overflow_are_counted_not_fatal() {
        let mut s = stack();
        for i in 0..20u8 {
            s.push_rx(&[i; 60]);
        }
        assert_eq!(s.dropped().0, 20 - QUEUE_LEN as u64);
        s.poll(1);
        let mut out = [0u8; FRAME_MAX];
        assert!(s.pop_tx(&mut out).is_none());
        assert!(!s.push_rx(&[0u8; FRAME_MAX + 1]));
    }

    #[test]
    fn refuses_a_multicast_mac() {
        assert!(HostStack::new([1, 0, 0x5e, 0, 0, 1], None, None, false, 0, 0).is_err());
    }
}
