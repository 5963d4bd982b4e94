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
