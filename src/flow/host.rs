//! Which addresses are "ours": the home network decides what is egress and which side of a
//! flow an alert is about.

use ipnet::IpNet;
use std::net::IpAddr;

/// The home network, a short list of CIDRs.
#[derive(Debug, Clone, Default)]
pub struct HomeNet {
    nets: Vec<IpNet>,
    /// The IPv4 nets as (network, mask): every new flow asks twice, and a masked compare is a
    /// few instructions where `IpNet::contains` took ~70 (3 % of a SYN flood).
    v4: Vec<(u32, u32)>,
    /// The IPv6 nets likewise.
    v6: Vec<(u128, u128)>,
}

impl HomeNet {
    /// From CIDRs.
    pub fn new(nets: Vec<IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in &nets {
            match n {
                IpNet::V4(n) => {
                    let mask = u32::from(n.netmask());
                    v4.push((u32::from(n.network()) & mask, mask));
                }
                IpNet::V6(n) => {
                    let mask = u128::from(n.netmask());
                    v6.push((u128::from(n.network()) & mask, mask));
                }
            }
        }
        HomeNet { nets, v4, v6 }
    }
    /// Is `ip` inside the home network?
    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(*a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(*a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
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
    }
}
