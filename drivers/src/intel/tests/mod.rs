//! Driver tests against the register-level model in `model.rs`: shared rig and helpers.
//!
//! Every test runs on all three chips where the behaviour is shared, and ends
//! with `finish`, which shuts the port down and checks that every pool buffer
//! came back. Frames are Ethernet frames: an ARP request captured from QEMU
//! (see `ARP_REQUEST`) and numbered IPv4/UDP frames built by `udp_frame`.

use super::model::{DeviceModel, Faults, NoDelay};
use super::regs::{self, rctl, stat, tctl};
use super::{InitError, IntelNic, Model, RING_SIZE};
use crate::buf::{Burst, PacketPool, BUF_SIZE, BURST, HEADROOM};
use crate::hal::DmaRegion;
use crate::netdev::NetDevice;
use core::ptr::NonNull;
use std::vec::Vec;

const CHIPS: [Model; 3] = [Model::I82540Em, Model::I82545Em, Model::I82574L];
/// QEMU's default NIC address.
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// Bus address of the shared block: above 4 GiB so RDBAH/TDBAH matter.
const PHYS: u64 = 0x1_2000_0000;

/// ARP request as received by this driver on QEMU 7.2's `e1000` from the
/// user-mode network (slirp) looking for the guest: who-has 10.0.2.15 tell
/// 10.0.2.2, from 52:55:0a:00:02:02, padded by QEMU to 60 bytes (no FCS).
/// Captured with a throwaway guest that hex-dumped the first received frame
/// after a UDP packet was sent to a `hostfwd` port.
#[rustfmt::skip]
const ARP_REQUEST: [u8; 60] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, // source: slirp
    0x08, 0x06, // ethertype ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00, 0x02, 0x02, // sender 10.0.2.2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x0f, // target 10.0.2.15
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // QEMU's padding to 60
];

type Nic<'a> = IntelNic<&'a DeviceModel, NoDelay>;

/// Host memory shared by driver and model: a pool region and a ring region.
struct Rig {
    chip: Model,
    _mem: Vec<u64>,
    dev: DeviceModel,
    pool: PacketPool,
    dma: DmaRegion,
}

fn rig(chip: Model, bufs: usize) -> Rig {
    let bytes = bufs * BUF_SIZE + 64 * 1024;
    let mut mem = vec![0u64; bytes / 8];
    let virt = NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    let mut all = DmaRegion {
        virt,
        phys: PHYS,
        len: bytes,
    };
    let pool_mem = all.take(bufs * BUF_SIZE, BUF_SIZE).unwrap();
    let dev = DeviceModel::new(chip, MAC, virt.as_ptr(), PHYS, bytes);
    Rig {
        chip,
        _mem: mem,
        dev,
        pool: PacketPool::new(pool_mem),
        dma: all,
    }
}

/// Brings a driver up on the rig; returns it with the model and the pool.
fn up(r: &mut Rig) -> (Nic<'_>, &DeviceModel, &mut PacketPool) {
    let nic = IntelNic::new(r.chip, &r.dev, NoDelay::default(), &mut r.dma, &mut r.pool).unwrap();
    (nic, &r.dev, &mut r.pool)
}

/// A broadcast IPv4/UDP frame of `len` bytes whose payload starts with `seq`.
fn udp_frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xFF; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[46..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    f
}

fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[42..46].try_into().unwrap())
}

/// A burst of frames from the pool, each holding `udp_frame(seq, len)`.
fn tx_burst_of(pool: &mut PacketPool, seqs: std::ops::Range<u32>, len: usize) -> Burst {
    let mut b = Burst::new();
    for s in seqs {
        let mut buf = pool.alloc().unwrap();
        assert!(buf.set_len(len));
        buf.data_mut().copy_from_slice(&udp_frame(s, len));
        b.push(buf).unwrap();
    }
    b
}

/// Shuts the port down and checks that every buffer is back in the pool.
fn finish(mut nic: Nic<'_>, pool: &mut PacketPool) {
    nic.shutdown(pool);
    assert_eq!(nic.held_buffers(), 0);
    assert_eq!(pool.available(), pool.capacity(), "buffers leaked");
    let mut out = Burst::new();
    assert_eq!(nic.rx_burst(pool, &mut out), 0, "inert after shutdown");
}

/// Receives everything the model has delivered, in bursts, checking each
/// burst respects the limit. Returns the frames' bytes and frees the buffers.
fn drain_rx(nic: &mut Nic<'_>, pool: &mut PacketPool) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let mut out = Burst::new();
        let n = nic.rx_burst(pool, &mut out);
        assert_eq!(n, out.len());
        assert!(n <= BURST);
        for b in out.iter() {
            assert_eq!(b.start(), HEADROOM, "frame starts where the NIC wrote it");
            frames.push(b.data().to_vec());
        }
        out.free_all(pool);
        if n == 0 {
            return frames;
        }
    }
}

mod datapath;
mod faults;
