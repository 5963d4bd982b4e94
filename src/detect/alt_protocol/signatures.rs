//! The `alt_protocol` signatures (block 9_100_500–9_100_599).

use crate::alert::Signature;

/// A file uploaded over FTP to an external server.
pub(crate) const SIG_FTP: Signature = Signature {
    id: 9_100_500,
    rev: 1,
    msg: "SIPHON Exfiltration over FTP: upload to an external server",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048.003", "T1048"],
};
/// A large message sent over SMTP to an external server.
pub(crate) const SIG_SMTP: Signature = Signature {
    id: 9_100_501,
    rev: 1,
    msg: "SIPHON Exfiltration over SMTP: large message to an external server",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048.003", "T1048"],
};
/// A large cleartext HTTP request body sent to an external server.
pub(crate) const SIG_HTTP: Signature = Signature {
    id: 9_100_502,
    rev: 1,
    msg: "SIPHON Exfiltration over HTTP: large POST/PUT body to an external server",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048.003", "T1048"],
};
/// Payload that is not the protocol of its well-known port.
pub(crate) const SIG_MISMATCH: Signature = Signature {
    id: 9_100_503,
    rev: 1,
    msg: "SIPHON Protocol does not match its well-known port",
    category: "Detection of a Non-Standard Protocol or Event",
    severity: 2,
    mitre: &["T1048", "T1571"],
};
/// SSH to an external host on a port that is not SSH's.
pub(crate) const SIG_SSH: Signature = Signature {
    id: 9_100_504,
    rev: 1,
    msg: "SIPHON SSH on a non-standard port to an external host",
    category: "Detection of a Non-Standard Protocol or Event",
    severity: 2,
    mitre: &["T1048.002", "T1571"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_FTP, SIG_SMTP, SIG_HTTP, SIG_MISMATCH, SIG_SSH];
