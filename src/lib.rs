//! siphon: a passive network sensor that catches hosts whose data or bandwidth is being
//! siphoned off — DNS and ICMP tunnels, proxyware, scanning, exfiltration and excessive egress.
//!
//! The data path, one module per stage:
//!
//! ```text
//! capture → (bounded channel, batches) → decode → mirror filter → flow / host state → detect → alert sinks
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod alert;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod error;
pub mod flow;
#[cfg(feature = "testing")]
pub mod harness;
pub mod metrics;
pub mod mirror;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod report;
pub mod run_info;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod synth;
pub mod time;
pub mod units;
pub mod validate;
pub mod worker;

pub use pipeline::run_capture;
