//! The `beacon` signatures (block 9_100_600–9_100_699).

use crate::alert::Signature;

/// A home host checks in with one external destination (address or name) at a regular
/// interval: new connections, or bursts inside one long connection.
pub(crate) const SIG_BEACON: Signature = Signature {
    id: 9_100_600,
    rev: 1,
    msg: "SIPHON Periodic check-ins to an external destination (beacon)",
    category: "A Network Trojan was detected",
    severity: 2,
    mitre: &["T1071", "T1573", "T1029"],
};
/// A home host queries names under one registered domain at a regular interval.
pub(crate) const SIG_DNS_BEACON: Signature = Signature {
    id: 9_100_601,
    rev: 1,
    msg: "SIPHON Periodic DNS queries under one domain (DNS beacon)",
    category: "A Network Trojan was detected",
    severity: 2,
    mitre: &["T1071.004", "T1029"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_BEACON, SIG_DNS_BEACON];
