//! Typed errors of the library, one enum per concern. The binary adds context with `anyhow`.

use std::path::PathBuf;

/// Opening or reading a packet source.
// Variant fields are documented by the variant and its message.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The capture file does not exist or cannot be opened.
    #[error("{path}: cannot open capture file: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The file exists but is not a pcap or pcapng capture libpcap can read.
    #[error(
        "{path}: not a capture file libpcap can read ({reason}); note: libpcap reads pcapng only when every interface in it has the same link type"
    )]
    NotACapture { path: PathBuf, reason: String },
    /// The capture ends in the middle of a record; everything before the cut was analysed.
    #[error("{path}: capture truncated after {packets} packets (about byte offset {offset}): {reason}")]
    Truncated { path: PathBuf, packets: u64, offset: u64, reason: String },
    /// Reading failed for another reason.
    #[error("{path}: read error after {packets} packets: {reason}")]
    Read { path: PathBuf, packets: u64, reason: String },
    /// The live interface does not exist.
    #[error("interface {iface}: no such device ({reason})")]
    NoSuchDevice { iface: String, reason: String },
    /// Live capture needs privileges the process lacks.
    #[error(
        "interface {iface}: permission denied ({reason}); capturing needs root or CAP_NET_RAW (setcap cap_net_raw,cap_net_admin+eip on the binary)"
    )]
    Permission { iface: String, reason: String },
    /// Opening the live interface failed for another reason.
    #[error("interface {iface}: cannot capture: {reason}")]
    Live { iface: String, reason: String },
    /// The BPF filter does not compile.
    #[error("bad BPF filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    /// Files given with several -r use link types this build cannot decode.
    #[error("{path}: unsupported link type {linktype}")]
    LinkType { path: PathBuf, linktype: i32 },
    /// Several files of a `-r` list were not read in full; every other file was.
    #[error("{} of {total} capture files not read in full:{}", failures.len(), list(failures))]
    Files { total: usize, failures: Vec<CaptureError> },
    /// Dropping privileges after opening the capture failed.
    #[error("cannot drop privileges to user {user}: {reason}")]
    DropPrivileges { user: String, reason: String },
}

/// One failure per line, indented.
fn list(failures: &[CaptureError]) -> String {
    failures.iter().map(|e| format!("\n  {e}")).collect()
}

/// Loading or overriding the configuration.
// Variant fields are documented by the variant and its message.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("{path}: cannot read config: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The config file is not valid TOML or has a bad key or value (the message names the line).
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    /// Values out of range or lists with a bad entry: one line per problem, each naming where
    /// the value came from (file and line, or `--set`), the key, the value and the rule.
    #[error("{0}")]
    Invalid(String),
    /// A `--set KEY=VALUE` override is malformed.
    #[error("--set {0:?}: expected KEY=VALUE with a dotted key such as long_session.min_duration=2m")]
    BadOverride(String),
}

/// Writing alerts or stats.
// Variant fields are documented by the variant and its message.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output file cannot be created.
    #[error("{path}: cannot create output: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    /// Writing failed (disk full, file removed, pipe closed).
    #[error("writing alerts failed: {0}")]
    Write(#[from] std::io::Error),
}

/// Opening a MaxMind-format database (`general.geoip_country_db`, `general.geoip_asn_db`).
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file is missing, unreadable, not a MaxMind DB, corrupt, or of the wrong kind.
    #[error("{key} = {path:?}: {reason}")]
    Open {
        /// The config key that names the database.
        key: &'static str,
        /// The database file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}
