//! The `long_session` signatures (block 9_100_450–9_100_499).

use crate::alert::Signature;

/// A flow to an external host has been open longer than `long_session.min_duration`.
pub(crate) const SIG_LONG: Signature = Signature {
    id: 9_100_450,
    rev: 1,
    msg: "SIPHON Long session to an external host",
    category: "Potentially Bad Traffic",
    severity: 3,
    mitre: &["T1048", "T1041", "T1071"],
};
/// Outbound throughput to one external host stayed above the rate threshold.
pub(crate) const SIG_SUSTAINED: Signature = Signature {
    id: 9_100_451,
    rev: 1,
    msg: "SIPHON Sustained outbound throughput to an external host",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041", "T1030"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_LONG, SIG_SUSTAINED];
