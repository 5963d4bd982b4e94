//! Which addresses are "ours": the home network decides what is egress and which side of a
//! flow an alert is about.

use ipnet::IpNet;
use std::net::IpAddr;

/// The home network, a short list of CIDRs.
#[derive(Debug, Clone, Default)]
pub struct HomeNet {
    nets: Vec<IpNet>,
}

impl HomeNet {
    /// From CIDRs.
    pub fn new(nets: Vec<IpNet>) -> Self {
        HomeNet { nets }
    }
    /// Is `ip` inside the home network?
    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }
    /// The CIDRs.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// Is `ip` multicast or broadcast (no host "owns" it)?
pub fn is_group(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.octets()[3] == 255,
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A well-mixed 64-bit hash of an address, for keys and sketches: one-to-one for IPv4 (`mix` is a
/// bijection), colliding about once in 2^64 for IPv6.
pub fn hash_ip(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(u64::from(u32::from(*v4))),
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            mix((x as u64) ^ mix((x >> 64) as u64))
        }
    }
}
