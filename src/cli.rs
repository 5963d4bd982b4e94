//! The command line, as tcpdump, Suricata and Zeek users expect it. Raw flags are turned into
//! built [`Settings`] once; nothing downstream sees flags.

use crate::config::Config;
use crate::error::ConfigError;
use clap::Parser;
use std::path::PathBuf;

/// Exit codes (documented in the README).
pub mod exit {
    /// Success, including a reader closing the output pipe.
    pub const OK: i32 = 0;
    /// Bad command line or configuration.
    pub const USAGE: i32 = 1;
    /// The input could not be read (missing, not a capture, truncated); alerts found before
    /// the failure were written.
    pub const INPUT: i32 = 2;
    /// Alerts could not be written (output removed, disk full).
    pub const OUTPUT: i32 = 3;
    /// Live capture failed (no such interface, no permission, bad filter).
    pub const LIVE: i32 = 4;
}

/// siphon: passive sensor for DNS/ICMP tunnels, proxyware, scans and exfiltration.
#[derive(Debug, Parser)]
#[command(
    name = "siphon",
    version,
    about,
    after_help = "Alerts are EVE JSON lines (Suricata's format). Exit codes: 0 ok, 1 usage/config, 2 input, 3 output, 4 live capture."
)]
pub struct Args {
    /// Read packets from a pcap/pcapng file (`-` for stdin); repeat to read several in order.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// Capture live from an interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", conflicts_with = "read")]
    pub interface: Option<String>,
    /// BPF filter expression (or give it as trailing words, as tcpdump).
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// TOML config with thresholds and allow-lists (see --print-config).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. --set long_session.min_duration=2m (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Home networks, comma-separated CIDRs (default: RFC 1918, 100.64.0.0/10, fc00::/7).
    #[arg(long = "home-net", value_name = "CIDR,...")]
    pub home_net: Option<String>,
    /// Mirror sources (ERSPAN switches, ESXi hosts, VTEPs), addresses or CIDRs, comma-separated:
    /// only what they encapsulate is analysed (see also general.mirror_auto).
    #[arg(long = "mirror-source", value_name = "ADDR,...")]
    pub mirror_source: Option<String>,
    /// Also send each alert as RFC 5424 syslog to udp://HOST:PORT or tcp://HOST:PORT.
    #[arg(long = "syslog", value_name = "URL")]
    pub syslog: Option<String>,
    /// Write alerts to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: cores - 1, at least 1).
    #[arg(long = "workers", value_name = "N")]
    pub workers: Option<usize>,
    /// Bytes captured per packet (live).
    #[arg(short = 's', long = "snaplen", default_value_t = 65535)]
    pub snaplen: i32,
    /// Kernel capture buffer (live), with units.
    #[arg(short = 'B', long = "buffer-size", default_value = "64MiB")]
    pub buffer_size: String,
    /// Do not put the interface into promiscuous mode.
    #[arg(short = 'p', long = "no-promisc")]
    pub no_promisc: bool,
    /// Drop root privileges to USER once the capture is open (as tcpdump -Z).
    #[arg(short = 'Z', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Print stats on stderr every N seconds while capturing live (0: only at the end).
    #[arg(long = "stats-interval", value_name = "SECS", default_value_t = 60)]
    pub stats_interval: u64,
    /// Also write the stats as an EVE `stats` event to the alert output.
    #[arg(long = "stats-json")]
    pub stats_json: bool,
    /// Do not print the summary on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print the commented example config (every key, with its default) and exit.
    #[arg(long = "print-config")]
    pub print_config: bool,
    /// BPF filter as trailing words.
    #[arg(trailing_var_arg = true, value_name = "FILTER")]
    pub filter_words: Vec<String>,
}

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// Capture files in order.
    Files(Vec<PathBuf>),
    /// A live interface.
    Live(String),
}

/// Built settings: everything the run needs, validated.
#[derive(Debug)]
pub struct Settings {
    /// Input.
    pub input: Input,
    /// BPF filter.
    pub filter: Option<String>,
    /// Config with overrides applied.
    pub config: Config,
    /// Output file (stdout if none).
    pub output: Option<PathBuf>,
    /// Second output: a syslog collector.
    pub syslog: Option<crate::alert::syslog::SyslogTarget>,
    /// Worker threads.
    pub workers: usize,
    /// Live snaplen.
    pub snaplen: i32,
    /// Live kernel buffer bytes.
    pub buffer_size: i32,
    /// Promiscuous.
    pub promisc: bool,
    /// User to drop to.
    pub user: Option<String>,
    /// Periodic stats seconds (0 = off).
    pub stats_interval: u64,
    /// EVE stats event.
    pub stats_json: bool,
    /// No stderr summary.
    pub quiet: bool,
}

/// Why the command line cannot run.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// Config problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Neither -r nor -i.
    #[error("nothing to read: give -r FILE (or -r - for stdin) or -i IFACE")]
    NoInput,
    /// Bad value.
    #[error("{0}")]
    Bad(String),
}

impl Args {
    /// Validates and builds the settings.
    pub fn build(self) -> Result<Settings, UsageError> {
        let mut overrides = Vec::new();
        if let Some(h) = &self.home_net {
            overrides.push(format!("general.home_net={}", toml_string(h)));
        }
        if let Some(m) = &self.mirror_source {
            overrides.push(format!("general.mirror_sources={}", toml_string(m)));
        }
        overrides.extend(self.set.iter().cloned());
        let config = Config::load(self.config.as_deref(), &overrides)?;
        let input = match (self.interface, self.read.is_empty()) {
            (Some(i), _) => Input::Live(i),
            (None, false) => Input::Files(self.read),
            (None, true) => return Err(UsageError::NoInput),
        };
        let filter = match (self.filter, self.filter_words.is_empty()) {
            (Some(f), _) => Some(f),
            (None, false) => Some(self.filter_words.join(" ")),
            (None, true) => None,
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let workers = self.workers.unwrap_or(cores.saturating_sub(1)).max(1);
        let buffer_size = crate::units::Size::parse(&self.buffer_size).map_err(UsageError::Bad)?.0;
        Ok(Settings {
            input,
            filter,
            config,
            output: self.output,
            syslog: self
                .syslog
                .as_deref()
                .map(crate::alert::syslog::SyslogTarget::parse)
                .transpose()
                .map_err(UsageError::Bad)?,
            workers,
            snaplen: self.snaplen,
            buffer_size: i32::try_from(buffer_size).unwrap_or(i32::MAX),
            promisc: !self.no_promisc,
            user: self.user,
            stats_interval: self.stats_interval,
            stats_json: self.stats_json,
            quiet: self.quiet,
        })
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
