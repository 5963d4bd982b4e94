//! siphon: a passive network sensor that catches hosts whose data or bandwidth is being
//! siphoned off — DNS and ICMP tunnels, proxyware, scanning, exfiltration and excessive egress.
//!
//! The data path, one module per stage:
//!
//! ```text
//! capture → (bounded channel, batches) → decode → mirror filter → flow / host state → detect → alert sinks
//! ```

#![warn(missing_docs, unreachable_pub)]

// The stages are private: the compiler sees every item the outside does not reach, so dead code
// is reported. What the binary, tests, benches, examples and fuzz targets use is the facade
// below (and `cli`, the binary's own front half; `harness` and `synth` behind `testing`).
mod alert;
mod capture;
pub mod cli;
mod config;
mod decode;
mod detect;
mod enrich;
mod error;
mod flow;
#[cfg(feature = "testing")]
pub mod harness;
mod metrics;
mod mirror;
mod pipeline;
mod policy;
mod progress;
mod report;
mod run_info;
mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod synth;
mod time;
mod units;
mod validate;
mod worker;

pub use alert::Alert;
pub use config::{Config, NetflowConfig};
pub use enrich::GeoIp;
pub use error::CaptureError;
pub use flow::HomeNet;
pub use pipeline::run_capture;
pub use time::Timestamp;

/// Reading packets and flow records: capture files, live interfaces, export captures.
pub mod input {
    pub use crate::capture::fanout::program as fanout_program;
    pub use crate::capture::file::FileSource;
    pub use crate::capture::live::{LiveOptions, LiveSource, drop_privileges, user_ids};
    pub use crate::capture::netflow::source::{ExportFiles, ExportSocket, RecordSource};
    pub use crate::capture::netflow::{Collector, FlowRecord};
    pub use crate::capture::write::PcapWriter;
    pub use crate::capture::{BATCH_PACKETS, Batch, PacketSource, RawPacket};
}

/// Where alerts and figures go: sinks, network outputs, the metrics endpoint.
pub mod output {
    pub use crate::alert::output::OutputQueue;
    #[cfg(feature = "kafka")]
    pub use crate::alert::output::kafka::start as kafka_start;
    pub use crate::alert::output::redis::start as redis_start;
    pub use crate::alert::output::syslog::SyslogTee;
    pub use crate::alert::output::tee::{NetOutput, Tee};
    pub use crate::alert::sink::{AlertSink, JsonLines, NoAlerts};
    pub use crate::alert::text::TextLines;
    pub use crate::metrics::Live;
    pub use crate::metrics::server::MetricsServer;
}

/// Decoding one frame, and the application parsers the fuzz targets and benches drive.
pub mod decoding {
    pub use crate::decode::packet::DecodeOptions;
    pub use crate::decode::{Anomalies, L4, LinkType, decode};
    /// DNS messages.
    pub mod dns {
        pub use crate::decode::dns::{parse, tcp_messages};
    }
    /// TLS ClientHellos.
    pub mod tls {
        pub use crate::decode::tls::parse_client_hello;
    }
}

/// Running the data path: the pipeline, one worker, progress and what a run covered.
pub mod running {
    pub use crate::pipeline::affinity::{allowed_cpus, pin_current_thread};
    pub use crate::pipeline::{LiveCounters, RunOptions, hint_batch, run, run_fanout, run_records, shard_of};
    pub use crate::progress::Progress;
    pub use crate::run_info::{InputInfo, RunInfo};
    pub use crate::worker::{Worker, decode_options, flow_hint};
}

/// The analyst's HTML report from EVE files.
pub mod reporting {
    pub use crate::report::command::ReportArgs;
    pub use crate::report::{Collector, MAX_ALERTS, Report, ReportError};
}

/// The detector table and what the beacon bench drives.
pub mod detectors {
    pub use crate::detect::ALL;
    pub use crate::detect::beacon::BeaconConfig;
    pub use crate::detect::beacon::score::score as beacon_score;
}
