//! siphon: a passive network sensor that catches hosts whose data or bandwidth is being
//! siphoned off — DNS and ICMP tunnels, proxyware, scanning, exfiltration and excessive egress.
//!
//! The data path, one module per stage:
//!
//! ```text
//! capture → (bounded channel, batches) → decode → mirror filter → flow / host state → detect → alert sinks
//! ```

pub mod alert;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod error;
pub mod flow;
pub mod harness;
pub mod mirror;
pub mod pipeline;
pub mod policy;
pub mod stats;
pub mod synth;
pub mod time;
pub mod units;
pub mod worker;

pub use pipeline::run_capture;
