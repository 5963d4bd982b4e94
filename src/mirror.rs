//! Mirror transport: what a SPAN, ERSPAN or VXLAN mirror puts on the wire besides the mirrored
//! traffic, recognised once per packet so that no detector ever sees it.
//!
//! A sensor behind an ERSPAN switch, an ESXi "Encapsulated Remote Mirroring (L3)" session or a
//! VXLAN overlay receives the mirrored frames inside tunnels. Decoding looks through them, and
//! flows and detectors see the inner packet. What is left is the mirror's own transport: the
//! sensor's ICMP port- or protocol-unreachable replies to the sender, GRE keepalives, tunnel
//! packets that are cut or garbled, and (for a configured source) anything else between the
//! source and the sensor. None of it is traffic of the monitored network: a sensor receiving
//! gigabytes of GRE is not exfiltrating anything. It is counted as `mirror_transport` by reason
//! and dropped here, in the worker, before flow accounting, so every detector (present and
//! future) is covered without knowing about mirrors.
//!
//! Automatic mode (`general.mirror_auto`, on by default) needs no configuration:
//! - a decapsulated packet teaches its outer address pair (both directions) as a mirror pair;
//! - a tunnel packet that does not decapsulate (malformed, unsupported, too deep) between a
//!   learned pair, or from or to one of the sensor's own addresses (live capture: the capture
//!   interface's addresses, every interface's for `-i any`), is transport;
//! - an ICMP/ICMPv6 error quoting a tunnel packet (GRE, IP-in-IP, UDP to a VXLAN port) is
//!   transport, whoever sent it;
//! - an inner packet between the tunnel's own two endpoints (a GRE keepalive) is transport.
//!
//! Alerts about tunnelled traffic carry EVE's `tunnel` object. The worker adds it to alerts
//! raised while a tunnelled packet or flow is handled; for alerts raised on a tick (a scan
//! resolved by timeout, a long session), each worker remembers the last tunnel every inner host
//! was seen in ([`MirrorFilter::tunnel_of`], bounded).
//!
//! Non-tunnel traffic between a learned pair is still analysed: learning is automatic, so it
//! must not be a way to hide traffic (a host that sends one valid GRE packet to a server would
//! otherwise blind siphon to everything else it sends there). Only `general.mirror_sources`,
//! which an operator writes, excludes a host's traffic wholesale.

use crate::config::GeneralConfig;
use crate::decode::tunnel::TunnelInfo;
use crate::decode::{Decoded, L4, icmp};
use crate::flow::hash::MixedHashMap;
use ipnet::IpNet;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots probed per lookup before the pair table counts as full for a pair.
const PROBES: usize = 8;
/// Inner hosts whose last tunnel one worker remembers (about 80 bytes each); when full, the
/// memory is cleared and refills from the next packets.
const MAX_REMEMBERED_HOSTS: usize = 16_384;

/// Why a packet is mirror transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// From or to a configured mirror source, and not a decapsulated packet.
    Configured,
    /// An ICMP error about a tunnel packet (the sensor's port-unreachable to a VTEP).
    IcmpError,
    /// An inner packet between the tunnel's own endpoints: a GRE keepalive.
    Keepalive,
    /// A tunnel packet that did not decapsulate, between a learned mirror pair or the sensor.
    Undecapsulated,
}

/// What the mirror filter counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MirrorStats {
    /// Packets analysed after removing at least one encapsulation.
    pub decapsulated: u64,
    /// Packets recognised as mirror transport and not analysed (sum of the four below).
    pub transport: u64,
    /// ... because they came from or went to a configured mirror source.
    pub transport_configured: u64,
    /// ... because they were ICMP errors about tunnel packets.
    pub transport_icmp_error: u64,
    /// ... because they were keepalives of a tunnel.
    pub transport_keepalive: u64,
    /// ... because they were tunnel packets of a mirror that did not decapsulate.
    pub transport_undecapsulated: u64,
    /// Mirror address pairs learned (shared by all workers).
    pub pairs_learned: u64,
    /// Decapsulated packets whose pair could not be learned because the table was full.
    pub pairs_refused: u64,
    /// Inner hosts forgotten because the per-worker memory of their tunnel was full.
    pub hosts_forgotten: u64,
}

impl MirrorStats {
    /// Adds another worker's figures (the pair table is shared: its figures are not summed).
    pub fn merge(&mut self, o: &MirrorStats) {
        self.decapsulated += o.decapsulated;
        self.transport += o.transport;
        self.transport_configured += o.transport_configured;
        self.transport_icmp_error += o.transport_icmp_error;
        self.transport_keepalive += o.transport_keepalive;
        self.transport_undecapsulated += o.transport_undecapsulated;
        self.pairs_learned = self.pairs_learned.max(o.pairs_learned);
        self.pairs_refused = self.pairs_refused.max(o.pairs_refused);
        self.hosts_forgotten += o.hosts_forgotten;
    }

    fn count(&mut self, t: Transport) {
        self.transport += 1;
        match t {
            Transport::Configured => self.transport_configured += 1,
            Transport::IcmpError => self.transport_icmp_error += 1,
            Transport::Keepalive => self.transport_keepalive += 1,
            Transport::Undecapsulated => self.transport_undecapsulated += 1,
        }
    }
}

/// Mirror address pairs learned from decapsulated packets, shared by every worker without a
/// lock. Workers shard by the inner host, so one mirror's packets are spread over all of them:
/// what one worker learns, the others must know. An open-addressed table of 64-bit
/// fingerprints of the unordered pair, written once per new pair and otherwise only read.
pub struct MirrorPairs {
    slots: Box<[AtomicU64]>,
    mask: usize,
    max: u64,
    len: AtomicU64,
    refused: AtomicU64,
}

impl MirrorPairs {
    /// A table holding up to `max` pairs (at most half full, so probes stay short).
    pub fn new(max: usize) -> MirrorPairs {
        let cap = (max.max(1) * 2).next_power_of_two();
        MirrorPairs {
            slots: (0..cap).map(|_| AtomicU64::new(0)).collect(),
            mask: cap - 1,
            max: max as u64,
            len: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Fingerprint of the unordered pair; never 0 (the empty slot).
    fn fingerprint(a: IpAddr, b: IpAddr) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        (a.min(b), a.max(b)).hash(&mut h);
        // splitmix64's finaliser: Fx leaves the low bits (the slot index) poorly mixed.
        let mut z = h.finish();
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) | 1
    }

    fn learn_fp(&self, fp: u64) -> bool {
        let start = fp as usize & self.mask;
        for i in 0..PROBES {
            let slot = &self.slots[(start + i) & self.mask];
            match slot.load(Ordering::Relaxed) {
                v if v == fp => return false,
                0 => {
                    if self.len.load(Ordering::Relaxed) >= self.max {
                        break;
                    }
                    match slot.compare_exchange(0, fp, Ordering::Relaxed, Ordering::Relaxed) {
                        Ok(_) => {
                            self.len.fetch_add(1, Ordering::Relaxed);
                            return true;
                        }
                        Err(v) if v == fp => return false,
                        Err(_) => {}
                    }
                }
                _ => {}
            }
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Learns the pair; `true` if it was new (the worker learns fingerprints it already has).
    #[cfg(test)]
    pub(crate) fn learn(&self, a: IpAddr, b: IpAddr) -> bool {
        self.learn_fp(Self::fingerprint(a, b))
    }

    /// Was the pair learned (either direction)?
    pub fn contains(&self, a: IpAddr, b: IpAddr) -> bool {
        let fp = Self::fingerprint(a, b);
        let start = fp as usize & self.mask;
        for i in 0..PROBES {
            match self.slots[(start + i) & self.mask].load(Ordering::Relaxed) {
                v if v == fp => return true,
                0 => return false,
                _ => {}
            }
        }
        false
    }

    /// Pairs learned.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    /// No pair learned yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What all workers share: the learned pairs and the sensor's own addresses.
pub struct MirrorShared {
    /// Learned mirror pairs.
    pub pairs: MirrorPairs,
    /// The sensor's own addresses (live capture; empty when reading files).
    pub sensor: Vec<IpAddr>,
}

impl MirrorShared {
    /// From the config and the capture source's own addresses.
    pub fn new(g: &GeneralConfig, sensor: Vec<IpAddr>) -> MirrorShared {
        MirrorShared { pairs: MirrorPairs::new(g.max_mirror_pairs), sensor }
    }
}

/// One worker's mirror filter.
pub(crate) struct MirrorFilter {
    configured: Vec<IpNet>,
    auto: bool,
    vxlan_ports: Vec<u16>,
    shared: std::sync::Arc<MirrorShared>,
    /// Fingerprint of the pair this worker learned or confirmed last: a mirror's packets come
    /// in long runs, so the shared table is read once per run, not once per packet.
    last_pair: u64,
    /// The last tunnel each inner host was seen in.
    hosts: MixedHashMap<IpAddr, TunnelInfo>,
    /// Counters.
    pub stats: MirrorStats,
}

impl MirrorFilter {
    /// A filter for one worker.
    pub(crate) fn new(g: &GeneralConfig, shared: std::sync::Arc<MirrorShared>) -> MirrorFilter {
        MirrorFilter {
            configured: g.mirror_sources.clone(),
            auto: g.mirror_auto,
            vxlan_ports: g.vxlan_ports.clone(),
            shared,
            last_pair: 0,
            hosts: MixedHashMap::default(),
            stats: MirrorStats::default(),
        }
    }

    /// Should this decoded packet be analysed? Mirror transport is counted and refused.
    #[inline]
    pub(crate) fn admit(&mut self, d: &Decoded<'_>) -> bool {
        // Most packets: not tunnelled, not an ICMP error, no mirror source listed — nothing
        // to classify or remember (what `classify` would conclude, in four loads).
        if d.tunnel.is_none()
            && d.undecapsulated.is_none()
            && self.configured.is_empty()
            && !matches!(d.l4, L4::Icmp(i) if icmp::is_error(i.v6, i.icmp_type))
        {
            return true;
        }
        self.admit_other(d)
    }

    /// [`MirrorFilter::admit`] of a packet that may be mirror transport.
    #[inline(never)]
    fn admit_other(&mut self, d: &Decoded<'_>) -> bool {
        match self.classify(d) {
            Some(t) => {
                self.stats.count(t);
                false
            }
            None => {
                if let Some(t) = d.tunnel {
                    self.stats.decapsulated += 1;
                    self.remember(d.src, t);
                    self.remember(d.dst, t);
                }
                true
            }
        }
    }

    fn remember(&mut self, host: IpAddr, t: TunnelInfo) {
        if let Some(known) = self.hosts.get_mut(&host) {
            *known = t;
            return;
        }
        if self.hosts.len() >= MAX_REMEMBERED_HOSTS {
            self.stats.hosts_forgotten += self.hosts.len() as u64;
            self.hosts.clear();
        }
        self.hosts.insert(host, t);
    }

    /// The tunnel `host` was last seen in (for alerts raised away from a packet).
    pub(crate) fn tunnel_of(&self, host: IpAddr) -> Option<&TunnelInfo> {
        self.hosts.get(&host)
    }

    /// `Some(reason)` when `d` is mirror transport.
    pub(crate) fn classify(&mut self, d: &Decoded<'_>) -> Option<Transport> {
        if let Some(t) = &d.tunnel {
            if !self.auto {
                return None;
            }
            let fp = MirrorPairs::fingerprint(t.outer_src, t.outer_dst);
            if fp != self.last_pair {
                self.shared.pairs.learn_fp(fp);
                self.last_pair = fp;
            }
            let same = (d.src == t.outer_src && d.dst == t.outer_dst)
                || (d.src == t.outer_dst && d.dst == t.outer_src);
            return same.then_some(Transport::Keepalive);
        }
        if !self.configured.is_empty()
            && self.configured.iter().any(|n| n.contains(&d.src) || n.contains(&d.dst))
        {
            return Some(Transport::Configured);
        }
        if !self.auto {
            return None;
        }
        if d.undecapsulated.is_some() {
            let sensor = &self.shared.sensor;
            if sensor.contains(&d.src) || sensor.contains(&d.dst) || self.shared.pairs.contains(d.src, d.dst)
            {
                return Some(Transport::Undecapsulated);
            }
            return None;
        }
        match d.l4 {
            L4::Icmp(i) if icmp::is_error(i.v6, i.icmp_type) && self.quotes_tunnel(d.payload) => {
                Some(Transport::IcmpError)
            }
            _ => None,
        }
    }

    /// Does an ICMP error's quoted packet (its IP header and at least 8 bytes more) carry a
    /// tunnel?
    fn quotes_tunnel(&self, q: &[u8]) -> bool {
        let (proto, l4) = match q.first().map(|b| b >> 4) {
            Some(4) => {
                let ihl = usize::from(q[0] & 0x0f) * 4;
                (q.get(9).copied(), ihl)
            }
            Some(6) => (q.get(6).copied(), 40),
            _ => return false,
        };
        match proto {
            Some(47 | 4 | 41) => true,
            Some(17) => match (q.get(l4 + 2), q.get(l4 + 3)) {
                (Some(&hi), Some(&lo)) => self.vxlan_ports.contains(&u16::from_be_bytes([hi, lo])),
                _ => false,
            },
            _ => false,
        }
    }

    /// Pairs learned and refused, from the shared table.
    pub(crate) fn refresh_stats(&mut self) {
        self.stats.pairs_learned = self.shared.pairs.len();
        self.stats.pairs_refused = self.shared.pairs.refused.load(Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
