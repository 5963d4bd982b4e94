//! The configuration: thresholds and allow-lists, one section per stage and per detector.
//!
//! Loaded from a TOML file (`-c siphon.toml`), then overridden key by key with `--set KEY=VALUE`
//! as Suricata does. Every section rejects unknown keys, so a typo is an error that names the key
//! and its line, never a silently ignored setting. `config/siphon.toml` is the commented example
//! that `siphon --print-config` prints; a test checks it equals the built-in defaults.

use crate::detect::{Sections, Spec};
use crate::error::ConfigError;
use crate::policy::EgressPolicyConfig;
use crate::units::{Dur, de_list, de_nets, de_ports};
use ipnet::IpNet;
use serde::Deserialize;
use std::path::Path;

/// The commented example config, printed by `--print-config`.
pub(crate) const EXAMPLE_CONFIG: &str = include_str!("../config/siphon.toml");

/// The whole configuration: the core sections, the egress policy, and one section per detector
/// of the table ([`crate::detect::ALL`]), which this module never names one by one.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Home network, mirror sources.
    pub general: GeneralConfig,
    /// Live capture: how soon packets reach the workers.
    pub capture: CaptureConfig,
    /// Link-layer decoding limits.
    pub decode: DecodeConfig,
    /// Flow table limits and timeouts.
    pub flow: FlowConfig,
    /// The one memory budget.
    pub memory: MemoryConfig,
    /// Alert suppression and rate limits.
    pub alerts: AlertConfig,
    /// The egress family's shared policy (`[egress]`): external ranges, allow-lists, hours.
    pub egress: EgressPolicyConfig,
    /// Flow-record input (NetFlow v5/v9, IPFIX).
    pub netflow: NetflowConfig,
    /// Network outputs for a fleet (`[outputs.redis]`, `[outputs.kafka]`).
    pub outputs: crate::alert::output::config::OutputsConfig,
    /// One section per detector (`[dns_tunnel]`, `[scan]`...), read through the detector table.
    pub detectors: Sections,
    /// The GeoIP databases of `general.geoip_country_db` / `geoip_asn_db`, opened when the
    /// config is read, with the prevalence table every worker built from this config shares.
    pub geoip: Option<std::sync::Arc<crate::enrich::Enrichment>>,
}

/// The sections that are not a detector's.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Core {
    general: GeneralConfig,
    capture: CaptureConfig,
    decode: DecodeConfig,
    flow: FlowConfig,
    memory: MemoryConfig,
    alerts: AlertConfig,
    egress: EgressPolicyConfig,
    netflow: NetflowConfig,
    outputs: crate::alert::output::config::OutputsConfig,
}

/// Names of the sections that are not a detector's.
pub(crate) const CORE_SECTIONS: [&str; 9] =
    ["general", "capture", "decode", "flow", "memory", "alerts", "egress", "netflow", "outputs"];

impl Config {
    /// Reads a TOML document: the core sections, then each detector's section by its name in
    /// [`crate::detect::ALL`]. A section no one reads is an error that names it.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        Config::from_toml_with(text, crate::detect::ALL)
    }

    /// [`Config::from_toml`] for another detector table (tests).
    pub fn from_toml_with(text: &str, specs: &'static [Spec]) -> Result<Config, toml::de::Error> {
        let table: toml::Table = text.parse()?;
        for k in table.keys() {
            if !CORE_SECTIONS.contains(&k.as_str()) && !specs.iter().any(|s| s.name == k) {
                let known: Vec<&str> =
                    CORE_SECTIONS.iter().copied().chain(specs.iter().map(|s| s.name)).collect();
                return Err(serde::de::Error::custom(format!(
                    "unknown section `{k}`, expected one of: {}",
                    known.join(", ")
                )));
            }
        }
        let core: Core = toml::from_str(text)?;
        let geoip = crate::enrich::Enrichment::open(&core.general, &core.egress)
            .map_err(|e| <toml::de::Error as serde::de::Error>::custom(e.to_string()))?
            .map(std::sync::Arc::new);
        Ok(Config {
            geoip,
            general: core.general,
            capture: core.capture,
            decode: core.decode,
            flow: core.flow,
            memory: core.memory,
            alerts: core.alerts,
            egress: core.egress,
            netflow: core.netflow,
            outputs: core.outputs,
            detectors: Sections::parse(specs, text)?,
        })
    }
}

/// Which addresses are "ours", and where mirrored traffic comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneralConfig {
    /// Networks that are "home": traffic leaving them is egress. `--home-net` overrides it.
    #[serde(deserialize_with = "de_list")]
    pub home_net: Vec<IpNet>,
    /// Mirror sources (ERSPAN switches, ESXi hosts, VTEPs), as addresses or CIDRs.
    /// `--mirror-source` overrides it. What they encapsulate is analysed; every other packet from
    /// or to them (their tunnel transport, keepalives, malformed tunnels, the sensor's ICMP
    /// errors, their own management traffic) is counted as `mirror_transport` and never reaches
    /// flows or detectors. Listing a host trusts it: its own traffic is no longer analysed.
    #[serde(deserialize_with = "de_nets")]
    pub mirror_sources: Vec<IpNet>,
    /// Recognise mirror transport without configuration: ICMP errors about a tunnel packet,
    /// GRE keepalives, and tunnel packets that do not decapsulate between an outer address pair
    /// that already delivered a decapsulated packet or to/from the sensor's own addresses (live
    /// capture). Off: only `mirror_sources` is excluded, and a broken mirror shows up as flows.
    pub mirror_auto: bool,
    /// Most mirror address pairs learned (shared by all workers, about 8 bytes each). Pairs
    /// beyond it are not learned (counted as `pairs_full`): their malformed packets are then
    /// analysed as ordinary traffic.
    pub max_mirror_pairs: usize,
    /// UDP destination ports decoded as VXLAN. 4789 is IANA's; Linux's default without
    /// `dstport` is 8472. A port listed here is never analysed as ordinary UDP.
    #[serde(deserialize_with = "de_ports")]
    pub vxlan_ports: Vec<u16>,
    /// Deepest encapsulation siphon looks through (GRE, ERSPAN, VXLAN, IP-in-IP; at most 16).
    /// Deeper layers count a `tunnel_too_deep` anomaly: a nesting bomb cannot make decoding loop.
    pub max_tunnel_depth: u8,
    /// A MaxMind-format country database (GeoLite2-Country, GeoLite2-City or DB-IP's
    /// dbip-country-lite `.mmdb`), memory-mapped: alerts get the external side's country and
    /// `[egress]` can set policy by country. Empty: none (siphon ships and fetches none). A
    /// missing or corrupt file is an error at start.
    pub geoip_country_db: std::path::PathBuf,
    /// A MaxMind-format network database (GeoLite2-ASN or dbip-asn-lite): alerts get the AS
    /// number and organisation, `[egress]` can set policy by AS, and prevalence counts per AS
    /// instead of per /24. Empty: none.
    pub geoip_asn_db: std::path::PathBuf,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        let nets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"];
        GeneralConfig {
            home_net: nets.iter().filter_map(|n| n.parse().ok()).collect(),
            mirror_sources: Vec::new(),
            mirror_auto: true,
            max_mirror_pairs: 1024,
            vxlan_ports: vec![4789],
            max_tunnel_depth: 4,
            geoip_country_db: std::path::PathBuf::new(),
            geoip_asn_db: std::path::PathBuf::new(),
        }
    }
}

/// Live capture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Longest a captured packet waits (wall time) before its partly filled batch goes to the
    /// workers; a full batch (256 packets) goes at once. Shorter lowers alert latency on a quiet
    /// link; longer makes fewer, fuller batches (1ms..10s).
    pub flush_interval: Dur,
    /// Live capture with `--workers` above 1: one socket per worker in a `PACKET_FANOUT` group
    /// whose BPF program sends each home host's packets to one worker, so the kernel shards
    /// and the capture thread is no longer a limit. Off: one socket, and the capture thread
    /// shards (one core's worth of reading and decoding for all workers).
    pub fanout: bool,
    /// Each worker thread pinned to its own CPU (the slot-th of those siphon may run on) when
    /// there are two workers or more and at least as many CPUs, so the scheduler never stacks two
    /// workers on one CPU. Off: the kernel places them (other busy processes on the machine).
    pub pin_workers: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            flush_interval: Dur(std::time::Duration::from_millis(100)),
            fanout: true,
            pin_workers: true,
        }
    }
}

/// Link-layer decoding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Most stacked 802.1Q/802.1ad/QinQ tags looked through (0-255). Deeper frames are counted
    /// as `vlan_too_deep` and not analysed. Real provider networks stack two or three; a higher
    /// value costs nothing but a few bytes read per tag.
    pub max_vlan_depth: u8,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig { max_vlan_depth: 8 }
    }
}

/// Flow-record input: NetFlow v5/v9 and IPFIX export packets (`--netflow -r`,
/// `--netflow-listen`), turned into flows the detectors judge like packets (docs/netflow.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetflowConfig {
    /// UDP destination ports whose packets in a capture read with `--netflow -r` are export
    /// packets (2055 and 9995/9996 are NetFlow's usual ones, 4739 IPFIX's). Other packets in the
    /// capture are skipped.
    #[serde(deserialize_with = "de_ports")]
    pub ports: Vec<u16>,
    /// Sampling interval assumed for exporters that announce none (1: unsampled). Counters are
    /// multiplied by the exporter's own interval (v5 header, options data) when it sends one,
    /// else by this: a wrong value scales every volume threshold by the same error.
    pub sampling: u32,
    /// Templates held per exporter and observation domain (least recently used go). Real
    /// exporters use a handful; a lower cap bounds what a template flood can hold.
    pub max_templates: usize,
    /// Data sets held per exporter while their template has not arrived (replayed when it
    /// comes). Higher loses fewer records after a collector restart; each may hold up to 64 KiB.
    pub max_pending: usize,
    /// Exporters (address, observation domain) tracked at once; past it the least recently
    /// heard loses its templates. Bounds what spoofed exporters can make siphon hold.
    pub max_exporters: usize,
    /// A flow built from records ends this long after its last record's end, when no record
    /// with FIN or RST closed it: longer than the exporters' active timeout, or a long session
    /// exported in pieces is judged as several shorter ones; shorter frees memory sooner.
    pub flow_timeout: Dur,
    /// Records held to be handed on in start-time order (`--netflow -r`): exporters send a
    /// flow when it ends, so a long flow's record comes after shorter ones that started later.
    /// Higher reorders over longer spans of export, at about 100 bytes a record.
    pub reorder_records: usize,
}

impl Default for NetflowConfig {
    fn default() -> Self {
        NetflowConfig {
            ports: vec![2055, 4739, 9995, 9996],
            sampling: 1,
            max_templates: 64,
            max_pending: 256,
            max_exporters: 1024,
            flow_timeout: Dur(std::time::Duration::from_secs(1860)),
            reorder_records: 100_000,
        }
    }
}

/// The one memory budget of a run (`crate::flow::budget`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Bytes every worker's tables may hold together (flows, reassembly, TLS hellos, each
    /// detector's state, charged by what they hold). Over it, the least recently used quarter of
    /// the detectors' state is shed at the next tick (counted). Lower bounds the process under a
    /// flood, whatever `--workers`; too low forgets slow tunnels and scans sooner.
    pub cap: crate::units::Size,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { cap: crate::units::Size(256 << 20) }
    }
}

/// The flow table: bounded, expired on packet time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowConfig {
    /// Hard cap on tracked flows per worker. Higher holds more concurrent flows under a flood;
    /// lower bounds memory (about 200 bytes a flow). Evictions are counted in the stats. A flow
    /// opened from outside to a home host waits apart until its second packet, in
    /// `max_flows / 16` places (1,024 to 16,384; `flow::probes`), so a flood of new keys from
    /// outside never pushes an answered flow out of the table.
    pub max_flows: usize,
    /// A flow with no packet for this long ends. Shorter frees memory sooner but splits slow
    /// sessions (a trickle exfiltration with long gaps) into pieces.
    pub idle_timeout: Dur,
    /// A TCP flow that saw FIN or RST in both directions (or RST in one) ends after this long.
    pub closed_timeout: Dur,
    /// How often (packet time) detectors get a tick to report open long sessions and expire state.
    pub tick_interval: Dur,
    /// Flows that may hold a partial TLS ClientHello at once (each up to 16 KiB).
    pub max_tls_reassembly: usize,
    /// IPv4 packets in fragment reassembly at once per worker (each up to 64 KiB); the oldest
    /// is evicted (counted) when full. Higher survives fragment floods longer, costs memory.
    pub max_fragmented: usize,
    /// An unfinished reassembly is dropped after this long (counted).
    pub fragment_timeout: Dur,
    /// Fragments one IPv4 datagram may arrive in; past it the datagram is dropped and counted
    /// `frag_too_many`. 256 carries a 64 KiB datagram over a 296-byte MTU (FreeBSD allows 16);
    /// lower bounds what one hostile datagram costs, too low drops real jumbo datagrams.
    pub max_fragments_per_datagram: u16,
    /// Bytes the reassembly pool of one worker may hold (payloads and bitmaps, as Suricata's
    /// `defrag.memcap`); over it the oldest datagrams are evicted (counted). Lower bounds memory
    /// under a fragment flood; higher keeps more slow, large datagrams.
    pub fragment_memcap: crate::units::Size,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 262_144,
            idle_timeout: Dur::secs(120),
            closed_timeout: Dur::secs(10),
            tick_interval: Dur::secs(1),
            max_tls_reassembly: 4096,
            max_fragmented: 1024,
            fragment_timeout: Dur::secs(30),
            max_fragments_per_datagram: 256,
            fragment_memcap: crate::units::Size(16 << 20),
        }
    }
}

/// Alert suppression and rate limiting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// An episode (same detector, signature and subject) ends after this long without a new
    /// trigger; repeats inside it are suppressed. Longer means fewer repeats for slow tunnels.
    pub episode_timeout: Dur,
    /// Re-alert inside an episode when its main figure has grown by this factor (10 = an order of
    /// magnitude). 0 disables re-alerting.
    pub escalation_factor: f64,
    /// Most alerts one detector may emit per minute of packet time; the rest are counted as
    /// suppressed in the stats. Protects the SIEM from an alert storm under a flood.
    pub max_per_minute: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig { episode_timeout: Dur::secs(1800), escalation_factor: 10.0, max_per_minute: 120 }
    }
}

impl Config {
    /// Loads `path` (or the defaults) and applies `--set` overrides in order.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let (origin, text) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|source| ConfigError::Read { path: p.to_path_buf(), source })?;
                (p.display().to_string(), text)
            }
            None => ("defaults".to_owned(), String::new()),
        };
        // Parse the file alone first so its errors carry line numbers.
        let parse_err = |origin: &str, e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim().to_owned(),
        };
        let config = Config::from_toml(&text).map_err(|e| parse_err(&origin, e))?;
        let config = if overrides.is_empty() {
            config
        } else {
            let mut table: toml::Table = text.parse().map_err(|e| parse_err(&origin, e))?;
            for o in overrides {
                apply_override(&mut table, o)?;
            }
            let merged = toml::to_string(&table)
                .map_err(|e| ConfigError::Parse { origin: "--set".to_owned(), message: e.to_string() })?;
            Config::from_toml(&merged).map_err(|e| ConfigError::Parse {
                origin: format!("--set {}", overrides.join(" --set ")),
                message: e.message().to_owned(),
            })?
        };
        let problems = config.problems();
        if problems.is_empty() {
            return Ok(config);
        }
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                let at = where_set(&p.key, path.map(|_| (origin.as_str(), text.as_str())), overrides);
                format!("{at}: {} = {}: {}", p.key, p.value, p.reason)
            })
            .collect();
        Err(ConfigError::Invalid(lines.join("\nsiphon: ")))
    }
}

/// Where `key` got its value: the last `--set` naming it, else the config file's line, else the
/// defaults.
fn where_set(key: &str, file: Option<(&str, &str)>, overrides: &[String]) -> String {
    let named = |o: &&String| {
        let k = o.split_once('=').map_or("", |(k, _)| k.trim());
        k == key
            || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.'))
            || k.strip_prefix(key).is_some_and(|rest| rest.starts_with('.'))
    };
    if let Some(o) = overrides.iter().rev().find(named) {
        return format!("--set {o}");
    }
    if let Some((origin, text)) = file {
        let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
        let mut current = String::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                current = h.trim().to_owned();
            } else if current == section
                && l.split_once('=').is_some_and(|(k, _)| k.trim().trim_matches('"') == name)
            {
                return format!("{origin} line {}", i + 1);
            }
        }
        return format!("{origin} ({key} in [{section}])");
    }
    "defaults".to_owned()
}

/// The effective configuration as TOML: each section's defaults (the example config), with the
/// keys the file and the `--set` overrides give replacing them, as [`Config::load`] reads them
/// (which checks it first).
pub(crate) fn effective_toml(path: Option<&Path>, overrides: &[String]) -> Result<String, ConfigError> {
    Config::load(path, overrides)?;
    let bad = |origin: &str, e: toml::de::Error| ConfigError::Parse {
        origin: origin.to_owned(),
        message: e.to_string().trim().to_owned(),
    };
    let mut user = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|source| ConfigError::Read { path: p.to_path_buf(), source })?;
            text.parse::<toml::Table>().map_err(|e| bad(&p.display().to_string(), e))?
        }
        None => toml::Table::new(),
    };
    for o in overrides {
        apply_override(&mut user, o)?;
    }
    let mut merged: toml::Table = EXAMPLE_CONFIG.parse().map_err(|e| bad("example config", e))?;
    merge_tables(&mut merged, user);
    toml::to_string(&merged)
        .map_err(|e| ConfigError::Parse { origin: "config".to_owned(), message: e.to_string() })
}

/// `over`'s keys replace `base`'s, table by table (`[outputs.redis]` keeps its other defaults).
fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Sets `a.b.c=value` in a TOML table; the value is read as TOML if it parses, else as a string.
fn apply_override(table: &mut toml::Table, o: &str) -> Result<(), ConfigError> {
    let (key, raw) = o.split_once('=').ok_or_else(|| ConfigError::BadOverride(o.to_owned()))?;
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::BadOverride(o.to_owned()));
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let mut cur = table;
    let (last, parents) = parts.split_last().ok_or_else(|| ConfigError::BadOverride(o.to_owned()))?;
    for p in parents {
        let entry = cur.entry((*p).to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| ConfigError::BadOverride(o.to_owned()))?;
    }
    cur.insert((*last).to_owned(), value);
    Ok(())
}

/// Built here, not in `detect`: the config reads the detector table, and `detect` never reads
/// the config (no import cycle; `detect::table_tests` checks it).
impl crate::detect::Env {
    /// From the config.
    pub fn from_config(c: &Config) -> Self {
        crate::detect::Env {
            home: crate::flow::HomeNet::new(c.general.home_net.clone()),
            egress: crate::policy::Policy::new(&c.egress),
            escalation: crate::alert::suppress::Escalation(c.alerts.escalation_factor),
            geoip: c.geoip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_equals_defaults() {
        let parsed = Config::from_toml(EXAMPLE_CONFIG).expect("example config parses");
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn overrides_accept_units_and_lists() {
        let c = Config::load(
            None,
            &["flow.idle_timeout=5m".into(), "general.home_net=10.1.0.0/16,192.0.2.0/24".into()],
        )
        .unwrap();
        assert_eq!(c.flow.idle_timeout, Dur::secs(300));
        assert_eq!(c.general.home_net.len(), 2);
    }

    #[test]
    fn mirror_sources_take_addresses_or_networks_and_ports_take_any_form() {
        let c = Config::load(
            None,
            &[
                "general.mirror_sources=192.0.2.7,198.51.100.0/28,2001:db8::1".into(),
                "general.vxlan_ports=4789,8472".into(),
            ],
        )
        .unwrap();
        let want: Vec<IpNet> = ["192.0.2.7/32", "198.51.100.0/28", "2001:db8::1/128"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(c.general.mirror_sources, want);
        assert_eq!(c.general.vxlan_ports, [4789, 8472]);
        let c = Config::load(None, &["general.vxlan_ports=[4789, 4790]".into()]).unwrap();
        assert_eq!(c.general.vxlan_ports, [4789, 4790]);
        let c = Config::load(None, &["general.vxlan_ports=8472".into()]).unwrap();
        assert_eq!(c.general.vxlan_ports, [8472]);
        assert!(Config::load(None, &["general.vxlan_ports=70000".into()]).is_err());
        assert!(Config::load(None, &["general.mirror_sources=not-an-address".into()]).is_err());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "[flow]\nmax_flows = 10\nidle_timout = \"5m\"\n").unwrap();
        let e = Config::load(Some(&p), &[]).unwrap_err().to_string();
        assert!(e.contains("idle_timout") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn unknown_override_key_is_named() {
        let e = Config::load(None, &["flow.nope=1".into()]).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}

#[cfg(test)]
mod readme_tests {
    /// The configuration reference (docs/configuration.md) is the example config, whole.
    #[test]
    fn configuration_reference_documents_every_key() {
        let doc = include_str!("../docs/configuration.md");
        assert!(
            doc.contains(super::EXAMPLE_CONFIG),
            "docs/configuration.md must contain config/siphon.toml verbatim: python3 scripts/sync-readme-config.py"
        );
    }
}
