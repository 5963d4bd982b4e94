//! The `egress_volume` signatures (block 9_100_400–9_100_449).

use crate::alert::Signature;

/// One home host sent more than a window's threshold to one external destination.
pub(crate) const SIG_PAIR: Signature = Signature {
    id: 9_100_400,
    rev: 1,
    msg: "SIPHON Excessive egress: volume to one external destination over threshold",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041", "T1030"],
};
/// One home host sent more than a window's threshold to external destinations together.
pub(crate) const SIG_HOST: Signature = Signature {
    id: 9_100_401,
    rev: 1,
    msg: "SIPHON Excessive egress: total volume from one host to external destinations over threshold",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041"],
};

/// One home host sent more than a watched country's or network's threshold to it
/// (`egress.alert_countries`, `alert_asns`, `country_volume`, `asn_volume`).
pub(crate) const SIG_GEO: Signature = Signature {
    id: 9_100_402,
    rev: 1,
    msg: "SIPHON Excessive egress: volume to a watched country or network over its threshold",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_PAIR, SIG_HOST, SIG_GEO];
