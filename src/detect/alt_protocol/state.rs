//! What the detector tracks: uploads being measured, FTP control sessions, the data
//! connections they announced; each in a capped map with sampled eviction.

use super::config::Kind;
use crate::flow::FlowKey;
use crate::flow::bounded::Bounded;
use crate::time::Timestamp;
use std::net::IpAddr;

/// An upload being measured on one flow.
pub(super) struct Upload {
    pub(super) kind: Kind,
    /// Home-side payload bytes of the flow when the upload started (`None`: SMTP before DATA).
    pub(super) base: Option<u64>,
    pub(super) started: Timestamp,
    pub(super) last: Timestamp,
    pub(super) alerted: bool,
    /// FTP: the control connection (for the command and file name).
    pub(super) ctl: Option<FlowKey>,
    /// HTTP: method, target, Host and Content-Length.
    pub(super) method: String,
    pub(super) target: String,
    pub(super) host: Option<String>,
    pub(super) declared: Option<u64>,
    /// SMTP: sender, first recipient, recipients, messages.
    pub(super) mail_from: String,
    pub(super) rcpt: String,
    pub(super) rcpts: u32,
    pub(super) messages: u32,
}

impl Upload {
    pub(super) fn new(kind: Kind, base: Option<u64>, ts: Timestamp) -> Upload {
        Upload {
            kind,
            base,
            started: ts,
            last: ts,
            alerted: false,
            ctl: None,
            method: String::new(),
            target: String::new(),
            host: None,
            declared: None,
            mail_from: String::new(),
            rcpt: String::new(),
            rcpts: 0,
            messages: 0,
        }
    }
}

/// An FTP control session.
pub(super) struct FtpCtl {
    pub(super) verb: &'static str,
    pub(super) file: String,
}

/// A data connection an FTP session announced: who connects, and to which address and port.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expect {
    pub(super) from: IpAddr,
    pub(super) ctl: FlowKey,
    pub(super) at: Timestamp,
}
/// Inserts into a capped map, evicting its least recently used entry (O(1)) when full.
pub(super) fn insert_capped<K: std::hash::Hash + Eq + Copy, V>(
    m: &mut Bounded<K, V>,
    k: K,
    v: V,
    evicted: &mut u64,
) {
    if m.insert(k, v).is_some() {
        *evicted += 1;
    }
}
