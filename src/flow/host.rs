//! Which addresses are "ours": the home network decides what is egress and which side of a
//! flow an alert is about.

use ipnet::IpNet;
use std::net::IpAddr;

/// The home network, a short list of CIDRs.
#[derive(Debug, Clone)]
pub struct HomeNet {
    nets: Vec<IpNet>,
    /// The IPv4 nets as (network, mask): every new flow asks twice, and a masked compare is a
    /// few instructions where `IpNet::contains` took ~70 (3 % of a SYN flood).
    v4: Vec<(u32, u32)>,
    /// The IPv6 nets likewise.
    v6: Vec<(u128, u128)>,
    /// What an IPv4 address's first byte says, so most asks are one load: sharding asks twice
    /// a packet, and walking the list (three private ranges, an outside address matching none)
    /// took ~70 instructions of the reading worker's ~540 a packet on the day profile.
    v4_first: [ByFirstByte; 256],
    /// The same for IPv6.
    v6_first: [ByFirstByte; 256],
}

/// What the first byte of an address says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByFirstByte {
    /// No home net holds an address with this first byte.
    Never,
    /// A home net of 8 bits or fewer holds every address with this first byte.
    Always,
    /// A longer net starts with this byte: look through the nets.
    Check,
}

impl Default for HomeNet {
    fn default() -> Self {
        HomeNet::new(Vec::new())
    }
}

/// The [`ByFirstByte`] table of nets given as (first byte of the network, prefix length).
fn first_byte_table(nets: &[(u8, u8)]) -> [ByFirstByte; 256] {
    let mut t = [ByFirstByte::Never; 256];
    for &(first, len) in nets {
        if len > 8 {
            continue;
        }
        // (A /0 masks nothing: every byte.)
        let mask = u8::MAX.checked_shl(u32::from(8 - len)).unwrap_or(0);
        for (b, v) in (0..=u8::MAX).zip(t.iter_mut()) {
            if b & mask == first & mask {
                *v = ByFirstByte::Always;
            }
        }
    }
    for &(first, len) in nets {
        if len > 8 && t[usize::from(first)] == ByFirstByte::Never {
            t[usize::from(first)] = ByFirstByte::Check;
        }
    }
    t
}

impl HomeNet {
    /// From CIDRs.
    pub fn new(nets: Vec<IpNet>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        // Each net's first byte and prefix length, per family, for the first-byte tables.
        let (mut heads4, mut heads6) = (Vec::new(), Vec::new());
        for n in &nets {
            match n {
                IpNet::V4(n) => {
                    let mask = u32::from(n.netmask());
                    v4.push((u32::from(n.network()) & mask, mask));
                    heads4.push((n.network().octets()[0], n.prefix_len()));
                }
                IpNet::V6(n) => {
                    let mask = u128::from(n.netmask());
                    v6.push((u128::from(n.network()) & mask, mask));
                    heads6.push((n.network().octets()[0], n.prefix_len()));
                }
            }
        }
        let (v4_first, v6_first) = (first_byte_table(&heads4), first_byte_table(&heads6));
        HomeNet { nets, v4, v6, v4_first, v6_first }
    }
    /// Is `ip` inside the home network?
    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => match self.v4_first[usize::from(a.octets()[0])] {
                ByFirstByte::Never => false,
                ByFirstByte::Always => true,
                ByFirstByte::Check => {
                    let a = u32::from(*a);
                    self.v4.iter().any(|&(net, mask)| a & mask == net)
                }
            },
            IpAddr::V6(a) => match self.v6_first[usize::from(a.octets()[0])] {
                ByFirstByte::Never => false,
                ByFirstByte::Always => true,
                ByFirstByte::Check => {
                    let a = u128::from(*a);
                    self.v6.iter().any(|&(net, mask)| a & mask == net)
                }
            },
        }
    }
    /// The CIDRs.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// Is `ip` multicast or broadcast (no host "owns" it)?
pub(crate) fn is_group(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.octets()[3] == 255,
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A well-mixed 64-bit hash of an address, for keys and sketches: one-to-one for IPv4 (`mix` is a
/// bijection), colliding about once in 2^64 for IPv6.
pub(crate) fn hash_ip(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(u64::from(u32::from(*v4))),
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            mix((x as u64) ^ mix((x >> 64) as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_compare_agrees_with_ipnet() {
        let nets: Vec<IpNet> =
            ["10.0.0.0/8", "192.168.1.0/24", "198.51.100.7/32", "2001:db8:1::/48", "fd00::/8"]
                .iter()
                .map(|n| n.parse().unwrap())
                .collect();
        let home = HomeNet::new(nets.clone());
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut addrs: Vec<IpAddr> = [
            "10.1.2.3",
            "11.0.0.1",
            "192.168.1.255",
            "192.168.2.1",
            "198.51.100.7",
            "198.51.100.8",
            "2001:db8:1::5",
            "2001:db8:2::5",
            "fd12::1",
            "fe80::1",
            "0.0.0.0",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for _ in 0..2000 {
            x = mix(x);
            addrs.push(IpAddr::from((x as u32).to_be_bytes()));
            addrs.push(IpAddr::from(((x as u32) & 0x00ff_ffff | 0x0a00_0000).to_be_bytes()));
            addrs.push(IpAddr::from(std::net::Ipv6Addr::from(u128::from(x) << 32 | 0xfd00u128 << 112)));
            addrs.push(IpAddr::from(std::net::Ipv6Addr::from(u128::from(x) | 0x2001_0db8_0001u128 << 80)));
        }
        for a in &addrs {
            assert_eq!(home.contains(a), nets.iter().any(|n| n.contains(a)), "{a}");
        }
        assert!(!HomeNet::default().contains(&addrs[0]));
        // Nets of every length around the first byte's 8 bits, /0 included: the first-byte
        // table agrees with the nets on every first byte and around every boundary.
        for list in [
            &["0.0.0.0/0", "::/0"][..],
            &["10.0.0.0/7", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10"],
            &["128.0.0.0/1", "64.0.0.0/3", "11.0.0.0/8", "12.34.0.0/9", "2000::/3", "fd00::/9"],
            &["203.0.113.9/32", "2001:db8::1/128", "4.0.0.0/6"],
        ] {
            let nets: Vec<IpNet> = list.iter().map(|n| n.parse().unwrap()).collect();
            let home = HomeNet::new(nets.clone());
            for first in 0..=255u8 {
                for rest in [0u32, 1, 0x0080_0000, 0x00ff_ffff, 0x0040_0000, 0x0022_0000] {
                    x = mix(x);
                    let v4 = u32::from(first) << 24 | (rest ^ (x as u32 & 0xff));
                    let v6 = u128::from(first) << 120 | u128::from(rest) << 96 | u128::from(x);
                    for a in [IpAddr::from(v4.to_be_bytes()), IpAddr::from(std::net::Ipv6Addr::from(v6))] {
                        assert_eq!(home.contains(&a), nets.iter().any(|n| n.contains(&a)), "{a} in {list:?}");
                    }
                }
            }
        }
    }
}
