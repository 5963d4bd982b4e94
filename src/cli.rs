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
    /// The -r files are captures of NetFlow v5/v9 or IPFIX export packets (UDP to
    /// netflow.ports): run the detectors on their flow records.
    #[arg(long = "netflow", conflicts_with = "interface")]
    pub netflow: bool,
    /// Collect NetFlow v5/v9 and IPFIX exports on this UDP address (e.g. 0.0.0.0:2055) and run
    /// the detectors on their flow records.
    #[arg(long = "netflow-listen", value_name = "ADDR:PORT", conflicts_with_all = ["interface", "read"])]
    pub netflow_listen: Option<std::net::SocketAddr>,
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
    /// Serve Prometheus metrics at http://ADDR/metrics while running (e.g. 127.0.0.1:9100).
    #[arg(long = "metrics-listen", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// With --metrics-listen and -r: keep serving the final figures this long after the input
    /// ends (e.g. 30s), so a scraper gets them; SIGINT/SIGTERM end it early.
    #[arg(long = "metrics-linger", value_name = "DURATION")]
    pub metrics_linger: Option<String>,
    /// EVE event types written: any of `alert`, `flow` (one per ended flow, Suricata's), `netflow`
    /// (one per direction of each ended flow) and `stats` (the run's stats event, as --stats-json).
    #[arg(long = "eve-types", value_name = "TYPE,...", default_value = "alert")]
    pub eve_types: String,
    /// Alert format: `eve` (EVE JSON lines) or `text` (one line per alert, as Suricata's fast.log).
    #[arg(long = "format", value_name = "FORMAT", default_value = "eve")]
    pub format: Format,
    /// Run only these detectors (comma-separated names, e.g. `dns_tunnel,scan`).
    #[arg(long = "detectors", value_name = "NAME,...")]
    pub detectors: Option<String>,
    /// Run every detector but these (comma-separated names).
    #[arg(long = "no-detectors", value_name = "NAME,...")]
    pub no_detectors: Option<String>,
    /// Write alerts to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: every core; the capture thread's share is small next to a
    /// worker's, so leaving it a core of its own left that core mostly idle).
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
    /// Also write the HTML report (timeline, ranked hosts, per-detector cases, blind spots) to
    /// FILE when the run ends. `siphon report eve.json -o FILE` makes one from an EVE file.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Do not print the summary on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print the effective config (the defaults, then -c FILE, then --set) and exit; with
    /// neither, the commented example with every key.
    #[arg(long = "print-config")]
    pub print_config: bool,
    /// Print the man page (roff) and exit.
    #[arg(long = "man", hide = true)]
    pub man: bool,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long = "completions", value_name = "SHELL", hide = true)]
    pub completions: Option<clap_complete::Shell>,
    /// BPF filter words, as tcpdump: options may come before, between or after them; `--` ends
    /// the options.
    #[arg(value_name = "FILTER")]
    pub filter_words: Vec<String>,
}

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// EVE JSON lines.
    Eve,
    /// One readable line per alert (fast.log).
    Text,
}

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// Capture files in order.
    Files(Vec<PathBuf>),
    /// A live interface.
    Live(String),
    /// Captures of NetFlow/IPFIX export packets (`--netflow -r`).
    NetflowFiles(Vec<PathBuf>),
    /// A UDP address to collect NetFlow/IPFIX exports on (`--netflow-listen`).
    NetflowListen(std::net::SocketAddr),
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
    pub syslog: Option<crate::alert::output::syslog::SyslogTarget>,
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
    /// HTML report to write at the end.
    pub report: Option<PathBuf>,
    /// Alert format.
    pub format: Format,
    /// Where to serve `/metrics`.
    pub metrics_listen: Option<String>,
    /// How long to keep serving metrics after a `-r` run's input ends.
    pub metrics_linger: std::time::Duration,
    /// Which EVE event types are written.
    pub eve_types: EveTypes,
}

/// The EVE event types a run writes (`--eve-types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EveTypes {
    /// Alerts (on unless `--eve-types` leaves them out).
    pub alert: bool,
    /// One `flow` event per ended flow.
    pub flow: bool,
    /// Two `netflow` events (one per direction) per ended flow.
    pub netflow: bool,
    /// The stats event at the end.
    pub stats: bool,
}

impl Default for EveTypes {
    fn default() -> Self {
        EveTypes { alert: true, flow: false, netflow: false, stats: false }
    }
}

impl EveTypes {
    /// Parses `alert,flow,netflow,stats` (any subset, at least one).
    pub fn parse(s: &str) -> Result<EveTypes, String> {
        let mut t = EveTypes { alert: false, flow: false, netflow: false, stats: false };
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w {
                "alert" => t.alert = true,
                "flow" => t.flow = true,
                "netflow" => t.netflow = true,
                "stats" => t.stats = true,
                other => {
                    return Err(format!(
                        "--eve-types: unknown event type `{other}`; valid: alert, flow, netflow, stats"
                    ));
                }
            }
        }
        if t == (EveTypes { alert: false, flow: false, netflow: false, stats: false }) {
            return Err("--eve-types: give at least one of alert, flow, netflow, stats".into());
        }
        Ok(t)
    }

    /// Flow or netflow events are wanted.
    pub fn flows(&self) -> bool {
        self.flow || self.netflow
    }
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
    /// The config overrides, in order: `--home-net`, `--mirror-source`, `--detectors` and
    /// `--no-detectors`, then each `--set` (an unknown detector name is an error).
    fn overrides(&self) -> Result<Vec<String>, UsageError> {
        let mut overrides = Vec::new();
        if let Some(h) = &self.home_net {
            overrides.push(format!("general.home_net={}", toml_string(h)));
        }
        if let Some(m) = &self.mirror_source {
            overrides.push(format!("general.mirror_sources={}", toml_string(m)));
        }
        overrides.extend(detector_switches(self.detectors.as_deref(), self.no_detectors.as_deref())?);
        overrides.extend(self.set.iter().cloned());
        Ok(overrides)
    }

    /// `--print-config`: the commented example when neither `-c` nor an override is given,
    /// else the effective config (checked as a run would check it).
    pub fn effective_config(&self) -> Result<String, UsageError> {
        let overrides = self.overrides()?;
        if self.config.is_none() && overrides.is_empty() {
            return Ok(crate::config::EXAMPLE_CONFIG.to_owned());
        }
        Ok(crate::config::effective_toml(self.config.as_deref(), &overrides)?)
    }

    /// Validates and builds the settings.
    pub fn build(self) -> Result<Settings, UsageError> {
        let overrides = self.overrides()?;
        let config = Config::load(self.config.as_deref(), &overrides)?;
        check_filter_words(&self.filter_words, self.filter.is_some())?;
        if self.netflow && self.read.is_empty() {
            return Err(UsageError::Bad(
                "--netflow reads export captures given with -r FILE (use --netflow-listen ADDR:PORT to collect live)".into(),
            ));
        }
        if (self.netflow || self.netflow_listen.is_some())
            && (self.filter.is_some() || !self.filter_words.is_empty())
        {
            return Err(UsageError::Bad(
                "a BPF filter applies to packets, not to flow records (--netflow)".into(),
            ));
        }
        let input = match (self.interface, self.read.is_empty(), self.netflow_listen) {
            (_, _, Some(a)) => Input::NetflowListen(a),
            (Some(i), _, None) => Input::Live(i),
            (None, false, None) if self.netflow => Input::NetflowFiles(self.read),
            (None, false, None) => Input::Files(self.read),
            (None, true, None) => return Err(UsageError::NoInput),
        };
        if let (Input::Files(inputs) | Input::NetflowFiles(inputs), Some(out)) = (&input, &self.output) {
            check_output_is_not_an_input(inputs, out)?;
        }
        let filter = match (self.filter, self.filter_words.is_empty()) {
            (Some(f), _) => Some(f),
            (None, false) => Some(self.filter_words.join(" ")),
            (None, true) => None,
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let workers = self.workers.unwrap_or(cores).max(1);
        let buffer_size = crate::units::Size::parse(&self.buffer_size).map_err(UsageError::Bad)?.0;
        let metrics_linger = match &self.metrics_linger {
            None => std::time::Duration::ZERO,
            Some(d) if self.metrics_listen.is_none() => {
                return Err(UsageError::Bad(format!("--metrics-linger {d}: needs --metrics-listen")));
            }
            Some(d) => humantime::parse_duration(d)
                .map_err(|e| UsageError::Bad(format!("--metrics-linger {d:?}: {e}")))?,
        };
        let eve_types = EveTypes::parse(&self.eve_types).map_err(UsageError::Bad)?;
        Ok(Settings {
            input,
            filter,
            config,
            output: self.output,
            syslog: self
                .syslog
                .as_deref()
                .map(crate::alert::output::syslog::SyslogTarget::parse)
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
            report: self.report,
            format: self.format,
            metrics_listen: self.metrics_listen,
            metrics_linger,
            eve_types,
        })
    }
}

/// Trailing filter words are refused when `-f` gave the filter too, or when one names an
/// existing file (`siphon -r a.pcap b.pcap`: the shell expanded a glob; tcpdump users mean `-r`).
fn check_filter_words(words: &[String], have_f: bool) -> Result<(), UsageError> {
    if have_f && !words.is_empty() {
        return Err(UsageError::Bad(format!(
            "both -f and filter words {:?}: give the filter one way (-f EXPR, or words after the options)",
            words.join(" ")
        )));
    }
    if let Some(w) = words.iter().find(|w| std::path::Path::new(w.as_str()).is_file()) {
        return Err(UsageError::Bad(format!(
            "{w:?} is a file, not a filter word: read several captures with -r for each (-r a.pcap -r b.pcap)"
        )));
    }
    Ok(())
}

/// `-o` must not name one of the input captures (same file, by device and inode): opening it
/// for writing would destroy the capture being read.
fn check_output_is_not_an_input(inputs: &[PathBuf], out: &std::path::Path) -> Result<(), UsageError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(o) = std::fs::metadata(out) else { return Ok(()) };
    for i in inputs.iter().filter(|i| i.as_os_str() != "-") {
        if let Ok(m) = std::fs::metadata(i)
            && m.dev() == o.dev()
            && m.ino() == o.ino()
        {
            return Err(UsageError::Bad(format!(
                "-o {}: is the input capture {}; refusing to overwrite it",
                out.display(),
                i.display()
            )));
        }
    }
    Ok(())
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `--detectors` / `--no-detectors` as `NAME.enabled=...` overrides, from the detector table
/// ([`crate::detect::ALL`]). An unknown name is an error naming it and the valid ones.
fn detector_switches(only: Option<&str>, without: Option<&str>) -> Result<Vec<String>, UsageError> {
    let valid: Vec<&str> = crate::detect::ALL.iter().map(|s| s.name).collect();
    let parse = |flag: &str, list: &str| -> Result<Vec<String>, UsageError> {
        let names: Vec<String> =
            list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect();
        match names.iter().find(|n| !valid.contains(&n.as_str())) {
            Some(bad) => Err(UsageError::Bad(format!(
                "{flag}: unknown detector `{bad}`; valid detectors: {}",
                valid.join(", ")
            ))),
            None => Ok(names),
        }
    };
    let mut out = Vec::new();
    if let Some(list) = only {
        let names = parse("--detectors", list)?;
        out.extend(valid.iter().map(|v| format!("{v}.enabled={}", names.iter().any(|n| n == v))));
    }
    if let Some(list) = without {
        out.extend(parse("--no-detectors", list)?.iter().map(|n| format!("{n}.enabled=false")));
    }
    Ok(out)
}
