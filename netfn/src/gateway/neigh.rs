//! The neighbour table (IPv4 → MAC) of one port and its bounded per-next-hop
//! queues (the ARP frames themselves are in [`super::arp`]).
//!
//! Fixed capacity, no allocation after construction: the entries live in a
//! vector allocated once and never grown past its capacity, kept sorted by
//! address so the per-packet lookup is a binary search (8 compares for 256
//! entries). Inserting and removing shift entries, but those happen per
//! neighbour, not per packet.
//!
//! States follow RFC 4861's model, simplified for ARP (RFC 826, RFC 1122
//! section 2.3.2.1): an **incomplete** entry is waiting for an answer and
//! holds the packets for that next hop in a [`PendingQueue`]; ARP requests
//! go out paced ([`NeighTimers::retry_ns`], 1 s) and after
//! [`NeighTimers::max_requests`] (3) unanswered ones the entry is dropped and
//! its packets handed back to be freed and counted (and answered with ICMP
//! host unreachable). A **reachable** entry was confirmed within
//! [`NeighTimers::reachable_ns`]; after that it is **stale**: still used, but
//! the next use asks for a refresh, and a stale entry unconfirmed for
//! [`NeighTimers::stale_ns`] more is removed.
//!
//! Learning follows RFC 826's merge rule: any ARP packet updates an existing
//! entry for its sender; only one addressed to us (a request for our address,
//! or a reply) creates one, so a LAN's gratuitous chatter does not fill the table.
//!
//! Time is an argument (`now_ns`, from the TSC); nothing here reads a clock.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::arp::ArpMessage;
use super::counters::DropReason;
use super::ether::{self, Mac};

const SECOND_NS: u64 = 1_000_000_000;

/// A bounded FIFO of items (packet buffer handles) waiting for one next hop.
#[derive(Debug)]
pub struct PendingQueue<T, const N: usize> {
    slots: [Option<T>; N],
    head: usize,
    len: usize,
}

impl<T, const N: usize> Default for PendingQueue<T, N> {
    fn default() -> Self {
        PendingQueue::new()
    }
}

impl<T, const N: usize> PendingQueue<T, N> {
    /// An empty queue.
    pub fn new() -> Self {
        PendingQueue {
            slots: core::array::from_fn(|_| None),
            head: 0,
            len: 0,
        }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `item`, or gives it back when full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.len == N {
            return Err(item);
        }
        self.slots[(self.head + self.len) % N] = Some(item);
        self.len += 1;
        Ok(())
    }

    /// Appends `item`; when full, the oldest item makes room and is returned.
    pub fn push_evicting(&mut self, item: T) -> Option<T> {
        let old = if self.len == N { self.pop() } else { None };
        match self.push(item) {
            Ok(()) => old,
            // Only when N == 0: nothing can be held.
            Err(item) => Some(item),
        }
    }

    /// Takes the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.slots[self.head].take();
        self.head = (self.head + 1) % N;
        self.len -= 1;
        item
    }
}

/// What to do with a new item when an incomplete entry's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePolicy {
    /// Keep the queue, drop the new item (the oldest are likely retransmitted anyway, but in order).
    DropNew,
    /// Drop the oldest item, keep the newest (fresher data, as Linux's `unres_qlen` does).
    DropOldest,
}

/// Timing of resolution and expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighTimers {
    /// How long a confirmed entry stays reachable.
    pub reachable_ns: u64,
    /// How long a stale entry is kept without confirmation.
    pub stale_ns: u64,
    /// Spacing between ARP requests for one address.
    pub retry_ns: u64,
    /// Requests sent before giving up on an address.
    pub max_requests: u8,
}

impl Default for NeighTimers {
    /// 30 s reachable (RFC 4861's REACHABLE_TIME), 60 s stale, 1 request per
    /// second, 3 requests (RFC 4861's MAX_MULTICAST_SOLICIT).
    fn default() -> Self {
        NeighTimers {
            reachable_ns: 30 * SECOND_NS,
            stale_ns: 60 * SECOND_NS,
            retry_ns: SECOND_NS,
            max_requests: 3,
        }
    }
}

/// The state of a neighbour entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighState {
    /// Resolution in progress; packets wait.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Not confirmed recently; still used, refreshed on use.
    Stale,
}

/// One entry as shown by `ip neigh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighInfo {
    /// The neighbour's address.
    pub ip: Ipv4Addr,
    /// Its MAC (zero while incomplete).
    pub mac: Mac,
    /// Its state.
    pub state: NeighState,
    /// Packets waiting.
    pub queued: usize,
}

#[derive(Debug)]
struct Entry<T, const Q: usize> {
    ip: Ipv4Addr,
    mac: Mac,
    state: NeighState,
    /// When last confirmed (or created, while incomplete).
    confirmed_ns: u64,
    requests: u8,
    next_request_ns: u64,
    queue: PendingQueue<T, Q>,
}

/// The answer to "send this item to that next hop".
#[derive(Debug)]
pub enum Resolve<T> {
    /// The MAC is known: send now.
    Ready {
        /// The next hop's MAC.
        mac: Mac,
        /// The item, given back.
        item: T,
        /// The entry is stale: send an ARP request for it too.
        refresh: bool,
    },
    /// The item waits for resolution.
    Queued {
        /// Send an ARP request now (the first for this address).
        send_request: bool,
    },
    /// An item was dropped: free it and count `reason`. With
    /// [`QueuePolicy::DropOldest`] it is the oldest queued one and the new
    /// item was queued in its place.
    Dropped {
        /// The item to free.
        item: T,
        /// The counter.
        reason: DropReason,
    },
}

/// The neighbour table of one port; `T` is what waits (a packet buffer handle),
/// `Q` how many may wait per unresolved next hop.
#[derive(Debug)]
pub struct NeighTable<T, const Q: usize> {
    /// Sorted by address; never longer than `capacity`.
    entries: Vec<Entry<T, Q>>,
    capacity: usize,
    timers: NeighTimers,
    policy: QueuePolicy,
}

impl<T, const Q: usize> NeighTable<T, Q> {
    /// A table of `capacity` entries; the only allocation it ever makes.
    pub fn new(capacity: usize, timers: NeighTimers, policy: QueuePolicy) -> Self {
        NeighTable {
            entries: Vec::with_capacity(capacity),
            capacity,
            timers,
            policy,
        }
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        self.entries
            .binary_search_by_key(&u32::from(ip), |e| u32::from(e.ip))
            .ok()
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// Inserts an entry for an address not yet in the table, keeping the order.
    fn insert(&mut self, entry: Entry<T, Q>) {
        let key = u32::from(entry.ip);
        let at = self
            .entries
            .binary_search_by_key(&key, |e| u32::from(e.ip))
            .unwrap_or_else(|at| at);
        self.entries.insert(at, entry);
    }

    fn age(&mut self, i: usize, now_ns: u64) {
        let e = &mut self.entries[i];
        if e.state == NeighState::Reachable
            && now_ns.saturating_sub(e.confirmed_ns) >= self.timers.reachable_ns
        {
            e.state = NeighState::Stale;
        }
    }

    /// The MAC for `ip` if known (reachable or stale), without side effects.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<Mac> {
        self.find(ip)
            .map(|i| &self.entries[i])
            .filter(|e| e.state != NeighState::Incomplete)
            .map(|e| e.mac)
    }

    /// Resolves `ip` for `item`: ready to send, queued, or dropped.
    pub fn resolve(&mut self, ip: Ipv4Addr, item: T, now_ns: u64) -> Resolve<T> {
        if let Some(i) = self.find(ip) {
            self.age(i, now_ns);
            let timers = self.timers;
            let policy = self.policy;
            let e = &mut self.entries[i];
            return match e.state {
                NeighState::Reachable => Resolve::Ready {
                    mac: e.mac,
                    item,
                    refresh: false,
                },
                NeighState::Stale => {
                    let refresh = now_ns >= e.next_request_ns && e.requests < timers.max_requests;
                    if refresh {
                        e.requests += 1;
                        e.next_request_ns = now_ns.saturating_add(timers.retry_ns);
                    }
                    Resolve::Ready {
                        mac: e.mac,
                        item,
                        refresh,
                    }
                }
                NeighState::Incomplete => enqueue(&mut e.queue, item, policy),
            };
        }
        if self.is_full() && !self.evict() {
            return Resolve::Dropped {
                item,
                reason: DropReason::NeighTableFull,
            };
        }
        let mut queue = PendingQueue::new();
        if let Err(item) = queue.push(item) {
            // Q == 0: nothing may wait.
            return Resolve::Dropped {
                item,
                reason: DropReason::ArpQueueFull,
            };
        }
        self.insert(Entry {
            ip,
            mac: [0; 6],
            state: NeighState::Incomplete,
            confirmed_ns: now_ns,
            requests: 1,
            next_request_ns: now_ns.saturating_add(self.timers.retry_ns),
            queue,
        });
        Resolve::Queued { send_request: true }
    }

    /// Frees a slot by removing the least recently confirmed stale entry, or
    /// failing that reachable one; incomplete entries (holding packets) stay.
    fn evict(&mut self) -> bool {
        let victim = [NeighState::Stale, NeighState::Reachable]
            .into_iter()
            .find_map(|state| {
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.state == state)
                    .min_by_key(|(_, e)| e.confirmed_ns)
                    .map(|(i, _)| i)
            });
        match victim {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// Records that `ip` is at `mac`. Updates an existing entry; creates one
    /// only when `create` (the ARP packet was addressed to us). Returns the
    /// items that were waiting for `ip`, now ready to send to `mac`.
    pub fn learn(
        &mut self,
        ip: Ipv4Addr,
        mac: Mac,
        now_ns: u64,
        create: bool,
    ) -> Option<PendingQueue<T, Q>> {
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ether::is_group(&mac) {
            return None;
        }
        let i = match self.find(ip) {
            Some(i) => i,
            None if create => {
                if self.is_full() && !self.evict() {
                    return None;
                }
                self.insert(Entry {
                    ip,
                    mac,
                    state: NeighState::Reachable,
                    confirmed_ns: now_ns,
                    requests: 0,
                    next_request_ns: now_ns,
                    queue: PendingQueue::new(),
                });
                return None;
            }
            None => return None,
        };
        let e = &mut self.entries[i];
        e.mac = mac;
        e.state = NeighState::Reachable;
        e.confirmed_ns = now_ns;
        e.requests = 0;
        e.next_request_ns = now_ns;
        if e.queue.is_empty() {
            None
        } else {
            Some(core::mem::take(&mut e.queue))
        }
    }

    /// Learns from a parsed ARP message received on this port (see
    /// [`NeighTable::learn`]); probes (sender 0.0.0.0) teach nothing.
    pub fn learn_from_arp(
        &mut self,
        msg: &ArpMessage,
        our_ip: Ipv4Addr,
        now_ns: u64,
    ) -> Option<PendingQueue<T, Q>> {
        let for_us = msg.target_ip == our_ip;
        self.learn(msg.sender_ip, msg.sender_mac, now_ns, for_us)
    }

    /// Timer work, called from the poll loop (every few milliseconds is
    /// plenty; it scans the table). Calls `request(ip)` for each ARP request
    /// due, and `failed(item)` for each item whose next hop gave up.
    pub fn poll(
        &mut self,
        now_ns: u64,
        mut request: impl FnMut(Ipv4Addr),
        mut failed: impl FnMut(T),
    ) {
        let t = self.timers;
        let mut i = 0;
        while i < self.entries.len() {
            self.age(i, now_ns);
            let e = &mut self.entries[i];
            let remove = match e.state {
                NeighState::Incomplete if now_ns >= e.next_request_ns => {
                    if e.requests < t.max_requests {
                        e.requests += 1;
                        e.next_request_ns = now_ns.saturating_add(t.retry_ns);
                        request(e.ip);
                        false
                    } else {
                        true
                    }
                }
                NeighState::Stale => {
                    now_ns.saturating_sub(e.confirmed_ns)
                        >= t.reachable_ns.saturating_add(t.stale_ns)
                }
                _ => false,
            };
            if remove {
                let mut gone = self.entries.remove(i);
                while let Some(item) = gone.queue.pop() {
                    failed(item);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Every entry, for `ip neigh`.
    pub fn entries(&self) -> impl Iterator<Item = NeighInfo> + '_ {
        self.entries.iter().map(|e| NeighInfo {
            ip: e.ip,
            mac: e.mac,
            state: e.state,
            queued: e.queue.len(),
        })
    }
}

fn enqueue<T, const Q: usize>(
    q: &mut PendingQueue<T, Q>,
    item: T,
    policy: QueuePolicy,
) -> Resolve<T> {
    let dropped = match policy {
        QueuePolicy::DropNew => q.push(item).err(),
        QueuePolicy::DropOldest => q.push_evicting(item),
    };
    match dropped {
        None => Resolve::Queued {
            send_request: false,
        },
        Some(item) => Resolve::Dropped {
            item,
            reason: DropReason::ArpQueueFull,
        },
    }
}

#[cfg(test)]
mod tests;
