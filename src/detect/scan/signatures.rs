//! The `scan` signatures (block 9_100_200–9_100_299), chosen by direction.

use crate::alert::Signature;

/// A home host scans hosts outside: a compromised or hijacked machine.
pub(crate) const SIG_OUTBOUND: Signature = Signature {
    id: 9_100_200,
    rev: 1,
    msg: "SIPHON scan: home host scanning external hosts",
    category: "Detection of a Network Scan",
    severity: 1,
    mitre: &["T1046", "T1595", "T1496.002"],
};
/// A home host scans the home network: discovery before lateral movement.
pub(crate) const SIG_INTERNAL: Signature = Signature {
    id: 9_100_201,
    rev: 1,
    msg: "SIPHON scan: home host scanning the home network",
    category: "Detection of a Network Scan",
    severity: 1,
    mitre: &["T1046", "T1018"],
};
/// An outside host scans the home network.
pub(crate) const SIG_INBOUND: Signature = Signature {
    id: 9_100_202,
    rev: 1,
    msg: "SIPHON scan: external host scanning the home network",
    category: "Detection of a Network Scan",
    severity: 3,
    mitre: &["T1595.001", "T1046"],
};

/// Neither side is in the home network (a SPAN carrying transit traffic, or a family the
/// home network does not cover, such as IPv6 with only IPv4 home nets): no direction is claimed.
pub(crate) const SIG_EXTERNAL: Signature = Signature {
    id: 9_100_203,
    rev: 1,
    msg: "SIPHON scan: scan between hosts outside the home network",
    category: "Detection of a Network Scan",
    severity: 3,
    mitre: &["T1046", "T1595"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_OUTBOUND, SIG_INTERNAL, SIG_INBOUND, SIG_EXTERNAL];
