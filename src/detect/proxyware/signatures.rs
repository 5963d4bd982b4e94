//! The detector's signatures: one per behaviour, ids 9_100_300..9_100_399.

use crate::alert::Signature;

/// A proxyware service's name seen in DNS, TLS SNI or HTTP.
pub(crate) const SIG_NAME: Signature = Signature {
    id: 9_100_300,
    rev: 1,
    msg: "SIPHON Proxyware: host looks up or contacts a bandwidth-sharing (proxyware) service",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1496.002"],
};
/// A home host answers SOCKS or HTTP CONNECT for outside clients.
pub(crate) const SIG_PROXY_SERVED: Signature = Signature {
    id: 9_100_301,
    rev: 1,
    msg: "SIPHON Proxyware: home host serves a SOCKS or HTTP CONNECT proxy to outside clients",
    category: "Potentially Bad Traffic",
    severity: 1,
    mitre: &["T1496.002", "T1090"],
};
/// A home host tunnels through an outside proxy.
pub(crate) const SIG_PROXY_USED: Signature = Signature {
    id: 9_100_302,
    rev: 1,
    msg: "SIPHON Proxy: home host tunnels through an outside SOCKS or HTTP proxy",
    category: "Potential Corporate Privacy Violation",
    severity: 3,
    mitre: &["T1090.002", "T1090"],
};
/// Tor, from the relay list or the ClientHello shape.
pub(crate) const SIG_TOR: Signature = Signature {
    id: 9_100_303,
    rev: 1,
    msg: "SIPHON Tor: home host connects to or relays for the Tor network",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1090.003", "T1496.002"],
};
/// A Stratum mining login.
pub(crate) const SIG_STRATUM: Signature = Signature {
    id: 9_100_304,
    rev: 1,
    msg: "SIPHON Cryptocurrency mining: Stratum login to a mining pool",
    category: "Crypto Currency Mining Activity Detected",
    severity: 1,
    mitre: &["T1496.001", "T1496"],
};
/// Relay shape: many peers, bytes passed through, in ≈ out.
pub(crate) const SIG_RELAY: Signature = Signature {
    id: 9_100_305,
    rev: 1,
    msg: "SIPHON Proxyware: home host relays traffic (many concurrent peers, bytes in = bytes out)",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1496.002", "T1090"],
};
/// Outside clients hold sessions with a home host on a proxy port.
pub(crate) const SIG_PROXY_PORT: Signature = Signature {
    id: 9_100_306,
    rev: 1,
    msg: "SIPHON Proxyware: outside clients use a home host on a proxy port",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1496.002", "T1090"],
};
/// Sustained outbound throughput from a normally quiet host.
pub(crate) const SIG_RATE: Signature = Signature {
    id: 9_100_307,
    rev: 1,
    msg: "SIPHON Bandwidth hijacking: sustained outbound throughput from a normally quiet host",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1496.002"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] =
    &[SIG_NAME, SIG_PROXY_SERVED, SIG_PROXY_USED, SIG_TOR, SIG_STRATUM, SIG_RELAY, SIG_PROXY_PORT, SIG_RATE];
