//! The allowed-IPs table: longest-prefix match from an address to a peer.
//!
//! One ordered map per prefix length that is in use, kept longest first, for
//! each family. A lookup masks the address once per length present and does
//! one ordered-map probe, stopping at the first hit, so its cost depends on
//! how many distinct lengths are configured (a handful in practice), not on
//! how many prefixes: tens of thousands of /32s or /24s load in milliseconds
//! and look up in one probe. The same table routes outgoing packets (by
//! destination) and checks the source of decrypted ones. A prefix belongs to
//! one peer: adding it for another peer moves it, as `wg set` does.

use super::PeerId;
use crate::prefix::IpPrefix;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::IpAddr;

/// An address as the table keys it: the data path reads these straight
/// from packet headers without building an `IpAddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpKey {
    /// An IPv4 address as a big-endian number.
    V4(u32),
    /// An IPv6 address as a big-endian number.
    V6(u128),
}

impl From<IpAddr> for IpKey {
    fn from(a: IpAddr) -> IpKey {
        match a {
            IpAddr::V4(a) => IpKey::V4(u32::from(a)),
            IpAddr::V6(a) => IpKey::V6(u128::from(a)),
        }
    }
}

struct Level<K> {
    len: u8,
    map: BTreeMap<K, PeerId>,
}

/// Longest-prefix-match table for IPv4 and IPv6.
#[derive(Default)]
pub struct AllowedIps {
    v4: Vec<Level<u32>>,
    v6: Vec<Level<u128>>,
    /// The same prefixes as (network, mask, peer), longest first, while a
    /// family has at most [`FLAT_MAX`]: the usual appliance has a handful,
    /// and a linear scan of one array beats three dependent pointer loads.
    flat4: Option<Vec<(u32, u32, PeerId)>>,
    flat6: Option<Vec<(u128, u128, PeerId)>>,
}

/// Largest family size kept in the flat array as well.
const FLAT_MAX: usize = 8;

fn flatten<K: Copy + Ord>(
    levels: &[Level<K>],
    mask: impl Fn(u8) -> K,
) -> Option<Vec<(K, K, PeerId)>> {
    if levels.iter().map(|l| l.map.len()).sum::<usize>() > FLAT_MAX {
        return None;
    }
    Some(
        levels
            .iter()
            .flat_map(|l| l.map.iter().map(move |(k, p)| (*k, l.len, *p)))
            .map(|(k, len, p)| (k, mask(len), p))
            .collect(),
    )
}

fn mask4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

fn level<K: Ord>(levels: &mut Vec<Level<K>>, len: u8) -> &mut BTreeMap<K, PeerId> {
    // Levels are sorted longest first so the first hit is the longest match.
    let pos = match levels.binary_search_by(|l| len.cmp(&l.len)) {
        Ok(p) => p,
        Err(p) => {
            levels.insert(
                p,
                Level {
                    len,
                    map: BTreeMap::new(),
                },
            );
            p
        }
    };
    &mut levels[pos].map
}

impl AllowedIps {
    /// An empty table.
    pub fn new() -> AllowedIps {
        AllowedIps::default()
    }

    /// Routes `prefix` to `peer`; returns the peer that had it before.
    pub fn insert(&mut self, prefix: IpPrefix, peer: PeerId) -> Option<PeerId> {
        let old = match prefix.network().addr {
            IpAddr::V4(a) => level(&mut self.v4, prefix.len).insert(u32::from(a), peer),
            IpAddr::V6(a) => level(&mut self.v6, prefix.len).insert(u128::from(a), peer),
        };
        self.reflatten();
        old
    }

    fn reflatten(&mut self) {
        self.flat4 = flatten(&self.v4, mask4);
        self.flat6 = flatten(&self.v6, mask6);
    }

    /// Removes `prefix`; returns the peer it pointed to.
    pub fn remove(&mut self, prefix: IpPrefix) -> Option<PeerId> {
        let out = match prefix.network().addr {
            IpAddr::V4(a) => level(&mut self.v4, prefix.len).remove(&u32::from(a)),
            IpAddr::V6(a) => level(&mut self.v6, prefix.len).remove(&u128::from(a)),
        };
        self.v4.retain(|l| !l.map.is_empty());
        self.v6.retain(|l| !l.map.is_empty());
        self.reflatten();
        out
    }

    /// Removes every prefix of `peer`.
    pub fn remove_peer(&mut self, peer: PeerId) {
        for l in self.v4.iter_mut() {
            l.map.retain(|_, p| *p != peer);
        }
        for l in self.v6.iter_mut() {
            l.map.retain(|_, p| *p != peer);
        }
        self.v4.retain(|l| !l.map.is_empty());
        self.v6.retain(|l| !l.map.is_empty());
        self.reflatten();
    }

    /// The peer of the longest prefix holding an IPv4 address.
    #[inline(always)]
    pub fn lookup_v4(&self, addr: u32) -> Option<PeerId> {
        match &self.flat4 {
            Some(f) => f.iter().find(|e| addr & e.1 == e.0).map(|e| e.2),
            None => self.lookup_v4_levels(addr),
        }
    }

    /// The peer of the longest prefix holding an IPv6 address.
    #[inline(always)]
    pub fn lookup_v6(&self, addr: u128) -> Option<PeerId> {
        match &self.flat6 {
            Some(f) => f.iter().find(|e| addr & e.1 == e.0).map(|e| e.2),
            None => self.lookup_v6_levels(addr),
        }
    }

    // The large tables' probes stay out of line, so the data path that
    // inlines a lookup carries only the flat scan.
    #[inline(never)]
    fn lookup_v4_levels(&self, addr: u32) -> Option<PeerId> {
        self.v4
            .iter()
            .find_map(|l| l.map.get(&(addr & mask4(l.len))).copied())
    }

    #[inline(never)]
    fn lookup_v6_levels(&self, addr: u128) -> Option<PeerId> {
        self.v6
            .iter()
            .find_map(|l| l.map.get(&(addr & mask6(l.len))).copied())
    }

    /// The peer of the longest prefix holding `addr`.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<PeerId> {
        self.lookup_key(IpKey::from(addr))
    }

    /// The same, for an address read straight out of a packet header.
    #[inline(always)]
    pub fn lookup_key(&self, addr: IpKey) -> Option<PeerId> {
        match addr {
            IpKey::V4(a) => self.lookup_v4(a),
            IpKey::V6(a) => self.lookup_v6(a),
        }
    }

    /// Number of prefixes in the table.
    pub fn len(&self) -> usize {
        self.v4.iter().map(|l| l.map.len()).sum::<usize>()
            + self.v6.iter().map(|l| l.map.len()).sum::<usize>()
    }

    /// True when no prefix is routed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_match_wins_over_default_route() {
        let mut t = AllowedIps::new();
        t.insert(p("0.0.0.0/0"), PeerId(1));
        t.insert(p("10.20.0.0/16"), PeerId(2));
        t.insert(p("10.20.30.0/24"), PeerId(3));
        t.insert(p("10.20.30.40/32"), PeerId(4));
        assert_eq!(t.lookup(ip("8.8.8.8")), Some(PeerId(1)));
        assert_eq!(t.lookup(ip("10.20.1.1")), Some(PeerId(2)));
        assert_eq!(t.lookup(ip("10.20.30.1")), Some(PeerId(3)));
        assert_eq!(t.lookup(ip("10.20.30.40")), Some(PeerId(4)));
        assert_eq!(t.lookup(ip("::1")), None);
        t.remove(p("10.20.30.0/24"));
        assert_eq!(t.lookup(ip("10.20.30.1")), Some(PeerId(2)));
    }

    #[test]
    fn ipv6_and_host_bits_ignored() {
        let mut t = AllowedIps::new();
        t.insert(p("fd00::1/64"), PeerId(7)); // host bits set, as users write it
        t.insert(p("fd00::/16"), PeerId(8));
        t.insert(p("::/0"), PeerId(9));
        assert_eq!(t.lookup(ip("fd00::abcd")), Some(PeerId(7)));
        assert_eq!(t.lookup(ip("fd00:1::1")), Some(PeerId(8)));
        assert_eq!(t.lookup(ip("2001:db8::1")), Some(PeerId(9)));
        assert_eq!(t.lookup(ip("10.0.0.1")), None);
    }

    #[test]
    fn moving_and_removing_a_peer() {
        let mut t = AllowedIps::new();
        assert_eq!(t.insert(p("10.0.0.0/8"), PeerId(1)), None);
        assert_eq!(t.insert(p("10.0.0.0/8"), PeerId(2)), Some(PeerId(1)));
        t.insert(p("192.168.0.0/16"), PeerId(2));
        t.insert(p("172.16.0.0/12"), PeerId(3));
        t.remove_peer(PeerId(2));
        assert_eq!(t.lookup(ip("10.1.1.1")), None);
        assert_eq!(t.lookup(ip("172.16.1.1")), Some(PeerId(3)));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn flat_and_level_paths_agree_across_the_threshold() {
        // Grow a table prefix by prefix past FLAT_MAX and shrink it again;
        // every lookup is compared with a linear scan of the model.
        let prefixes = [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "0.0.0.0/0",
            "10.1.2.3/32",
            "192.168.0.0/16",
            "192.168.7.0/24",
            "172.16.0.0/12",
            "10.128.0.0/9",
            "10.1.2.128/25",
            "fd00::/8",
            "fd00:1::/32",
            "::/0",
        ];
        let probes = [
            "10.1.2.3",
            "10.1.2.200",
            "10.1.3.1",
            "10.200.0.1",
            "8.8.8.8",
            "192.168.7.7",
            "192.168.8.8",
            "172.20.0.1",
            "fd00:1::5",
            "fd01::1",
            "2001:db8::1",
        ];
        let mut t = AllowedIps::new();
        let mut model: std::vec::Vec<(IpPrefix, PeerId)> = std::vec::Vec::new();
        let check = |t: &AllowedIps, model: &[(IpPrefix, PeerId)]| {
            for a in probes {
                let a = ip(a);
                let want = model
                    .iter()
                    .filter(|(q, _)| q.contains(a))
                    .max_by_key(|(q, _)| q.len)
                    .map(|(_, p)| *p);
                assert_eq!(t.lookup(a), want, "{a} with {} prefixes", model.len());
            }
        };
        for (i, s) in prefixes.iter().enumerate() {
            t.insert(p(s), PeerId(i as u32));
            model.push((p(s), PeerId(i as u32)));
            check(&t, &model);
        }
        for s in prefixes.iter().rev() {
            t.remove(p(s));
            model.retain(|(q, _)| *q != p(s));
            check(&t, &model);
        }
        assert!(t.is_empty());
    }

    #[test]
    fn tens_of_thousands_of_prefixes() {
        // 40 000 /32s and 20 000 /24s under a default route, against a
        // linear scan as the model.
        let mut t = AllowedIps::new();
        let mut all = std::vec::Vec::new();
        let d = p("0.0.0.0/0");
        t.insert(d, PeerId(0));
        all.push((d, PeerId(0)));
        for i in 0..40_000u32 {
            let a = 0x0a00_0000 | (i * 7919 % (1 << 24));
            let pr = IpPrefix::new(IpAddr::V4(a.into()), 32).unwrap();
            t.insert(pr, PeerId(1 + i % 500));
            all.retain(|(q, _)| *q != pr);
            all.push((pr, PeerId(1 + i % 500)));
        }
        for i in 0..20_000u32 {
            let a = 0xac00_0000 | (i << 8);
            let pr = IpPrefix::new(IpAddr::V4(a.into()), 24).unwrap();
            t.insert(pr, PeerId(600 + i % 100));
            all.push((pr, PeerId(600 + i % 100)));
        }
        let model = |a: IpAddr| {
            all.iter()
                .filter(|(q, _)| q.contains(a))
                .max_by_key(|(q, _)| q.len)
                .map(|(_, p)| *p)
        };
        let mut x: u32 = 99;
        for _ in 0..300 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            for a in [0x0a00_0000 | (x >> 8), 0xac00_0000 | (x >> 12), x] {
                let a = IpAddr::V4(a.into());
                assert_eq!(t.lookup(a), model(a), "{a}");
            }
        }
    }
}
