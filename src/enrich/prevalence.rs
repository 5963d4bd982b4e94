//! Prevalence of a destination network among the home hosts, as RITA weighs it: the share of
//! the home hosts seen in the window that talked to that network. A network only one or two
//! hosts talk to is worth a closer look than the cloud provider everyone uses, so an alert
//! about a rare network is raised one severity level ([`Prevalence::judge`]).
//!
//! A network is the peer's autonomous system when a network (ASN) database is loaded, else its
//! /24 (IPv4) or /48 (IPv6). One table shared by every worker, touched once per new home ↔
//! external flow (a short lock) and read once per alert of the egress family and proxyware.
//! Two generations of one window each (prevalence covers the last one to two windows); hosts
//! per network are counted up to [`MAX_HOSTS_PER_NET`] and networks up to a cap, both counted.

use crate::time::Timestamp;
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;
use std::sync::Mutex;

/// Distinct home hosts remembered per network: enough to tell "rare" from "common" at any
/// sensible `rare_prevalence` (a network past this is common in all but giant home networks).
pub(crate) const MAX_HOSTS_PER_NET: usize = 256;

/// The prevalence knobs (from `[egress]`).
#[derive(Debug, Clone, Copy)]
pub struct PrevalenceConfig {
    /// Generation length, nanoseconds.
    pub window: u64,
    /// At most this share of home hosts: rare.
    pub rare: f64,
    /// Judged only once this many home hosts were seen.
    pub min_home_hosts: u32,
    /// Most networks per generation.
    pub max_networks: usize,
    /// Most home hosts per generation.
    pub max_home_hosts: usize,
}

/// A destination network: an AS number or an address prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Autonomous system.
    As(u32),
    /// IPv4 /24 (the address's top 24 bits).
    V4(u32),
    /// IPv6 /48 (the top 48 bits).
    V6(u64),
}

impl Network {
    /// The network of `ip`: its AS when `asn` is known (non-zero), else its prefix.
    pub fn of(ip: IpAddr, asn: u32) -> Network {
        match (asn, ip) {
            (n, _) if n != 0 => Network::As(n),
            (_, IpAddr::V4(a)) => Network::V4(u32::from(a) >> 8),
            (_, IpAddr::V6(a)) => Network::V6((u128::from(a) >> 80) as u64),
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Network::As(n) => write!(f, "AS{n}"),
            Network::V4(p) => write!(f, "{}/24", std::net::Ipv4Addr::from(p << 8)),
            Network::V6(p) => write!(f, "{}/48", std::net::Ipv6Addr::from(u128::from(*p) << 80)),
        }
    }
}

#[derive(Default)]
struct Generation {
    start: u64,
    hosts: FxHashSet<u64>,
    nets: FxHashMap<Network, FxHashSet<u64>>,
}

#[derive(Default)]
struct Tables {
    cur: Generation,
    prev: Generation,
    /// Networks or hosts not recorded because a generation was full.
    untracked: u64,
}

/// The shared table.
pub struct Prevalence {
    cfg: PrevalenceConfig,
    t: Mutex<Tables>,
}

/// What [`Prevalence::judge`] found, for the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The network.
    pub network: Network,
    /// Home hosts that talked to it in the window.
    pub network_hosts: usize,
    /// Home hosts seen talking to any external network in the window.
    pub home_hosts: usize,
    /// `network_hosts / home_hosts`, rounded to 4 places.
    pub prevalence: f64,
    /// Rare enough to raise the severity.
    pub rare: bool,
}

impl Prevalence {
    /// An empty table.
    pub fn new(cfg: PrevalenceConfig) -> Prevalence {
        Prevalence { cfg, t: Mutex::new(Tables::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.t.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that home host `home` (its hash) opened a flow to `net` at `ts`.
    pub fn record(&self, ts: Timestamp, home: u64, net: Network) {
        let mut t = self.lock();
        if t.cur.start == 0 {
            t.cur.start = ts.0.max(1);
        } else if ts.0.saturating_sub(t.cur.start) >= self.cfg.window {
            let fresh = Generation { start: ts.0.max(1), ..Generation::default() };
            t.prev = std::mem::replace(&mut t.cur, fresh);
        }
        let Tables { cur, untracked, .. } = &mut *t;
        if cur.hosts.len() < self.cfg.max_home_hosts || cur.hosts.contains(&home) {
            cur.hosts.insert(home);
        } else {
            *untracked += 1;
        }
        let full = cur.nets.len() >= self.cfg.max_networks;
        match cur.nets.get_mut(&net) {
            Some(h) if h.len() < MAX_HOSTS_PER_NET => {
                h.insert(home);
            }
            Some(_) => {}
            None if !full => {
                cur.nets.entry(net).or_default().insert(home);
            }
            None => *untracked += 1,
        }
    }

    /// How prevalent `net` is; `None` when the network was never recorded.
    pub fn judge(&self, net: Network) -> Option<Verdict> {
        let t = self.lock();
        let (a, b) = (t.cur.nets.get(&net), t.prev.nets.get(&net));
        if a.is_none() && b.is_none() {
            return None;
        }
        let union = |x: Option<&FxHashSet<u64>>, y: Option<&FxHashSet<u64>>| match (x, y) {
            (Some(x), Some(y)) => x.len() + y.iter().filter(|h| !x.contains(h)).count(),
            (Some(x), None) | (None, Some(x)) => x.len(),
            (None, None) => 0,
        };
        let network_hosts = union(a, b);
        let home_hosts = t.cur.hosts.len() + t.prev.hosts.iter().filter(|h| !t.cur.hosts.contains(h)).count();
        let prevalence = if home_hosts == 0 { 1.0 } else { network_hosts as f64 / home_hosts as f64 };
        let rare = home_hosts >= self.cfg.min_home_hosts as usize && prevalence <= self.cfg.rare;
        Some(Verdict {
            network: net,
            network_hosts,
            home_hosts,
            prevalence: (prevalence * 1e4).round() / 1e4,
            rare,
        })
    }

    /// The `rare_prevalence` share.
    pub fn rare(&self) -> f64 {
        self.cfg.rare
    }

    /// Networks or hosts not recorded because a generation was full.
    pub fn untracked(&self) -> u64 {
        self.lock().untracked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PrevalenceConfig {
        PrevalenceConfig {
            window: 3_600_000_000_000,
            rare: 0.1,
            min_home_hosts: 10,
            max_networks: 4,
            max_home_hosts: 100,
        }
    }

    #[test]
    fn a_network_one_host_of_twenty_talks_to_is_rare() {
        let p = Prevalence::new(cfg());
        let ts = Timestamp::from_secs(1000);
        for h in 0..20 {
            p.record(ts, h, Network::As(64_496));
        }
        p.record(ts, 3, Network::As(64_511));
        let common = p.judge(Network::As(64_496)).unwrap();
        assert_eq!((common.network_hosts, common.home_hosts, common.rare), (20, 20, false));
        let rare = p.judge(Network::As(64_511)).unwrap();
        assert_eq!((rare.network_hosts, rare.prevalence, rare.rare), (1, 0.05, true));
        assert!(p.judge(Network::As(1)).is_none());
    }

    #[test]
    fn few_home_hosts_are_never_judged_rare_and_windows_roll() {
        let p = Prevalence::new(cfg());
        p.record(Timestamp::from_secs(1000), 1, Network::V4(0x00C0_0002));
        p.record(Timestamp::from_secs(1000), 2, Network::V4(0x00C6_3364));
        assert!(!p.judge(Network::V4(0x00C0_0002)).unwrap().rare);
        // Two windows later both generations have rolled past the first record.
        p.record(Timestamp::from_secs(1000 + 3600), 5, Network::As(7));
        p.record(Timestamp::from_secs(1000 + 7200), 5, Network::As(7));
        assert!(p.judge(Network::V4(0x00C0_0002)).is_none());
        assert_eq!(Network::V4(0x00C0_0002).to_string(), "192.0.2.0/24");
        assert_eq!(Network::of("2001:db8:1::5".parse().unwrap(), 0).to_string(), "2001:db8:1::/48");
    }

    #[test]
    fn full_tables_count_what_they_drop() {
        let p = Prevalence::new(cfg());
        for n in 0..6 {
            p.record(Timestamp::from_secs(10), 1, Network::As(n + 1));
        }
        assert_eq!(p.untracked(), 2);
    }
}
