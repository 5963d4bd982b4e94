//! Decoding: raw frame bytes → borrowed views of the layers siphon analyses.
//!
//! Parsers take `&[u8]` and return views that borrow from it; nothing here allocates or keeps
//! state. Decoding is lax: a frame cut by the snaplen decodes as far as it goes, and every
//! malformation is counted by layer and kind in [`Anomalies`], because malformation is itself a
//! signal. Nothing on packet data may panic.

pub(crate) mod app;
pub(crate) mod dns;
pub(crate) mod entropy;
pub(crate) mod fast;
pub(crate) mod http;
pub(crate) mod icmp;
mod icmp_data;
mod link;
pub(crate) mod packet;
pub(crate) mod suffix;
pub(crate) mod tls;
pub(crate) mod tunnel;

#[cfg(test)]
mod encap_tests;
#[cfg(test)]
mod fast_tests;
#[cfg(test)]
pub(crate) mod testutil;

pub(crate) use packet::Decoded;
pub use packet::L4;
pub use packet::LinkType;
pub use packet::decode;

use serde::Serialize;

/// Kinds of decode anomaly, counted per kind. Names are the stats keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Anomaly {
    /// Frame shorter than its link-layer header.
    LinkTruncated,
    /// Frame is not IP (ARP, LLDP, ...): counted, not analysed.
    NotIp,
    /// IP header cut or invalid.
    IpMalformed,
    /// IP payload shorter than the header says (snaplen cut or damaged frame).
    IpTruncated,
    /// TCP/UDP/ICMP header cut or invalid.
    TransportMalformed,
    /// Non-first IP fragment: its transport header is in another packet.
    IpFragment,
    /// A tunnel (GRE, ERSPAN, VXLAN) header that does not parse.
    TunnelMalformed,
    /// A valid GRE/ERSPAN header carrying something siphon does not follow (PPTP, MPLS, GRE
    /// source routing): the packet is analysed as it is.
    TunnelUnsupported,
    /// More nested encapsulation than `general.max_tunnel_depth`.
    TunnelTooDeep,
    /// A message on a DNS flow that does not parse as DNS.
    DnsMalformed,
    /// A TLS handshake record that does not parse as a ClientHello.
    TlsMalformed,
    /// A link type siphon cannot decode.
    UnsupportedLinkType,
    /// More stacked 802.1Q/802.1ad tags than `decode.max_vlan_depth`: not analysed.
    VlanTooDeep,
    /// An IPv4 fragment covering bytes already received (`flow::defrag`, first wins).
    FragOverlap,
    /// An overlapping IPv4 fragment whose bytes differ from those received first (kept).
    FragOverlapConflict,
    /// A first IPv4 fragment shorter than its transport header (RFC 1858's tiny fragment).
    FragTiny,
    /// An IPv4 datagram in more fragments than `flow.max_fragments_per_datagram`: dropped.
    FragTooMany,
}

impl Anomaly {
    /// Every kind, in stats order.
    pub const ALL: [Anomaly; 17] = [
        Anomaly::LinkTruncated,
        Anomaly::NotIp,
        Anomaly::IpMalformed,
        Anomaly::IpTruncated,
        Anomaly::TransportMalformed,
        Anomaly::IpFragment,
        Anomaly::TunnelMalformed,
        Anomaly::TunnelUnsupported,
        Anomaly::TunnelTooDeep,
        Anomaly::DnsMalformed,
        Anomaly::TlsMalformed,
        Anomaly::UnsupportedLinkType,
        Anomaly::VlanTooDeep,
        Anomaly::FragOverlap,
        Anomaly::FragOverlapConflict,
        Anomaly::FragTiny,
        Anomaly::FragTooMany,
    ];

    /// The stats key.
    pub fn name(self) -> &'static str {
        match self {
            Anomaly::LinkTruncated => "link_truncated",
            Anomaly::NotIp => "not_ip",
            Anomaly::IpMalformed => "ip_malformed",
            Anomaly::IpTruncated => "ip_truncated",
            Anomaly::TransportMalformed => "transport_malformed",
            Anomaly::IpFragment => "ip_fragment",
            Anomaly::TunnelMalformed => "tunnel_malformed",
            Anomaly::TunnelUnsupported => "tunnel_unsupported",
            Anomaly::TunnelTooDeep => "tunnel_too_deep",
            Anomaly::DnsMalformed => "dns_malformed",
            Anomaly::TlsMalformed => "tls_malformed",
            Anomaly::UnsupportedLinkType => "unsupported_link_type",
            Anomaly::VlanTooDeep => "vlan_too_deep",
            Anomaly::FragOverlap => "frag_overlap",
            Anomaly::FragOverlapConflict => "frag_overlap_conflict",
            Anomaly::FragTiny => "frag_tiny",
            Anomaly::FragTooMany => "frag_too_many",
        }
    }
}

/// Counters of decode anomalies, one per [`Anomaly`] kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anomalies {
    counts: [u64; Anomaly::ALL.len()],
}

impl Anomalies {
    /// Counts one anomaly.
    #[inline]
    pub fn add(&mut self, a: Anomaly) {
        self.counts[a as usize] += 1;
    }
    /// How many of kind `a`.
    pub fn get(&self, a: Anomaly) -> u64 {
        self.counts[a as usize]
    }
    /// Adds another set of counters (merging workers).
    pub fn merge(&mut self, other: &Anomalies) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
    /// Total of every kind.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Serialize for Anomalies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for a in Anomaly::ALL {
            m.serialize_entry(a.name(), &self.get(a))?;
        }
        m.end()
    }
}
