//! The `dns_tunnel` signatures (block 9_100_000–9_100_099).

use crate::alert::Signature;

/// A group of queries looks like a tunnel.
pub(crate) const SIG_TUNNEL: Signature = Signature {
    id: 9_100_001,
    rev: 1,
    msg: "SIPHON DNS tunnel or exfiltration: encoded subdomains to one domain",
    category: "Potentially Bad Traffic",
    severity: 1,
    mitre: &["T1071.004", "T1048", "T1572"],
};
/// Very many distinct subdomains under one domain.
pub(crate) const SIG_VOLUME: Signature = Signature {
    id: 9_100_002,
    rev: 1,
    msg: "SIPHON DNS exfiltration: unusual number of unique subdomains to one domain",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1048", "T1071.004"],
};
/// DNS on a port that is not 53.
pub(crate) const SIG_PORT: Signature = Signature {
    id: 9_100_003,
    rev: 1,
    msg: "SIPHON DNS on a non-standard port",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1572", "T1071.004"],
};
/// DNS sent to a server that is not a configured resolver.
pub(crate) const SIG_DIRECT: Signature = Signature {
    id: 9_100_004,
    rev: 1,
    msg: "SIPHON DNS query to a server that is not a configured resolver",
    category: "Potential Corporate Privacy Violation",
    severity: 3,
    mitre: &["T1071.004"],
};

/// Flow records: DNS traffic from one client to one server far above what lookups need.
pub(crate) const SIG_FLOW_VOLUME: Signature = Signature {
    id: 9_100_005,
    rev: 1,
    msg: "SIPHON DNS tunnel by flow volume: large queries from one client to one DNS server",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1071.004", "T1048", "T1572"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_TUNNEL, SIG_VOLUME, SIG_PORT, SIG_DIRECT, SIG_FLOW_VOLUME];
