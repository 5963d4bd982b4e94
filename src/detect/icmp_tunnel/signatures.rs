//! The `icmp_tunnel` signatures (block 9_100_100–9_100_199).

use crate::alert::Signature;

/// Echo payloads carry data both ways, or a tunnel tool's header.
pub(crate) const SIG_TUNNEL: Signature = Signature {
    id: 9_100_100,
    rev: 1,
    msg: "SIPHON ICMP tunnel: data carried in echo requests and replies",
    category: "Potentially Bad Traffic",
    severity: 1,
    mitre: &["T1095", "T1572"],
};
/// Changing non-default data pushed out in echo requests that are merely echoed back.
pub(crate) const SIG_EXFIL: Signature = Signature {
    id: 9_100_101,
    rev: 1,
    msg: "SIPHON ICMP exfiltration: changing non-default data in echo payloads",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048.003", "T1048"],
};
/// Data in an ICMP type that carries none.
pub(crate) const SIG_ODD_TYPE: Signature = Signature {
    id: 9_100_102,
    rev: 1,
    msg: "SIPHON ICMP data carried in an unusual ICMP type",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1095", "T1048"],
};

/// Every signature of the detector, for the table.
pub(super) const ALL: &[Signature] = &[SIG_TUNNEL, SIG_EXFIL, SIG_ODD_TYPE];
