//! Test-owned ends of QEMU NICs.
//!
//! A NIC on `-netdev dgram` sends every Ethernet frame as one UDP datagram to
//! `remote` and receives datagrams on `local`. [`DgramLink`] binds the test's
//! socket first (so its port is really ours) and picks a free port for QEMU's
//! side; the test then reads and writes raw frames on [`DgramLink::socket`].

use std::io;
use std::net::UdpSocket;

/// One NIC's other end: the test's socket and QEMU's port.
#[derive(Debug)]
pub struct DgramLink {
    /// The test's end, bound to 127.0.0.1 (frames from QEMU arrive here).
    pub socket: UdpSocket,
    /// The port QEMU binds (frames sent there go into the guest).
    pub qemu_port: u16,
}

impl DgramLink {
    /// Binds the test's socket and picks a free port for QEMU.
    pub fn new() -> io::Result<DgramLink> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        // Bind and release to learn a port that is free right now; QEMU binds
        // it moments later.
        let qemu_port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(DgramLink { socket, qemu_port })
    }

    /// The test socket's port.
    pub fn test_port(&self) -> io::Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Sends one frame into the guest.
    pub fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        self.socket
            .send_to(frame, ("127.0.0.1", self.qemu_port))
            .map(|_| ())
    }

    /// The `-netdev` argument for this link with id `id`.
    pub fn netdev_arg(&self, id: &str) -> io::Result<String> {
        Ok(format!(
            "dgram,id={id},local.type=inet,local.host=127.0.0.1,local.port={},\
             remote.type=inet,remote.host=127.0.0.1,remote.port={}",
            self.qemu_port,
            self.test_port()?
        ))
    }
}
