//! `[outputs.redis]` and `[outputs.kafka]`: where a fleet of sensors sends its events, named as
//! Suricata's `eve-log` Redis output and as librdkafka's producer settings name them.

use crate::validate::{Checker, MAX_CAP};
use serde::Deserialize;

/// The network outputs a config can turn on (`--syslog` is a flag of its own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputsConfig {
    /// Redis: a list, a pub/sub channel or a stream, as Suricata writes them.
    pub redis: RedisConfig,
    /// Kafka: one topic, keyed by `src_ip` (needs a build with `--features kafka`).
    pub kafka: KafkaConfig,
}

/// How events are written to Redis (Suricata's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RedisMode {
    /// `LPUSH key event` (Suricata's default; `list` is its alias): a consumer `BRPOP`s.
    #[serde(alias = "list")]
    #[serde(rename = "lpush")]
    Lpush,
    /// `RPUSH key event`.
    #[serde(rename = "rpush")]
    Rpush,
    /// `PUBLISH key event` (`channel` is its alias): only subscribers connected now get it.
    #[serde(alias = "channel")]
    #[serde(rename = "publish")]
    Publish,
    /// `XADD key [MAXLEN ~ n] * eve event` (`stream` is its alias): consumer groups, replay.
    #[serde(alias = "stream")]
    #[serde(rename = "xadd")]
    Xadd,
}

/// `[outputs.redis]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Send every event to Redis too (through a bounded queue: a Redis that is down or slow
    /// costs dropped events, counted, never a stalled sensor).
    pub enabled: bool,
    /// Host name or address; or a URL, `redis://[user:password@]host[:port][/db]`
    /// (`rediss://` is not supported), or `unix:/path/to/redis.sock`.
    pub server: String,
    /// Port, when `server` is a host (a URL carries its own).
    pub port: u16,
    /// The list, channel or stream written (Suricata's default, so consumers of Suricata's
    /// events read siphon's unchanged; set another to keep them apart).
    pub key: String,
    /// `list`/`lpush`, `rpush`, `channel`/`publish` or `stream`/`xadd`.
    pub mode: RedisMode,
    /// Stream mode: trim the stream to about this many entries at each `XADD` (`MAXLEN ~`);
    /// 0 keeps everything. Lower bounds Redis's memory; higher keeps more for late consumers.
    pub stream_maxlen: u64,
    /// ACL user (Redis 6+); empty: the default user.
    pub username: String,
    /// Password (`AUTH`); empty: none.
    pub password: String,
    /// Events sent per round trip (pipelined, 1..10000). Higher carries more events per second
    /// over a long link; each failed batch loses up to this many (counted).
    pub batch_size: usize,
    /// Events held while Redis is slow or away (1..10000000); beyond it the oldest is dropped
    /// (counted). Higher rides out a longer outage, costs ~2 KB an event.
    pub queue: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            enabled: false,
            server: "127.0.0.1".into(),
            port: 6379,
            key: "suricata".into(),
            mode: RedisMode::Lpush,
            stream_maxlen: 100_000,
            username: String::new(),
            password: String::new(),
            batch_size: 10,
            queue: 4096,
        }
    }
}

/// `[outputs.kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Send every event to Kafka too (needs a build with `--features kafka`).
    pub enabled: bool,
    /// Bootstrap brokers, `host:port,...`.
    pub brokers: String,
    /// Topic written (created beforehand, or by a broker that auto-creates).
    pub topic: String,
    /// Acknowledgements awaited per message: `0` (none, fastest, lost on a broker crash), `1`
    /// (the leader) or `all` (every in-sync replica, the safest).
    pub acks: String,
    /// `none`, `gzip`, `snappy` or `lz4`: less network for some CPU.
    pub compression: String,
    /// Most messages per produce request (librdkafka's `batch.num.messages`, 1..1000000).
    pub batch_size: usize,
    /// Events held while the brokers are slow or away (1..10000000); beyond it the oldest is
    /// dropped (counted).
    pub queue: usize,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            enabled: false,
            brokers: "127.0.0.1:9092".into(),
            topic: "siphon".into(),
            acks: "all".into(),
            compression: "none".into(),
            batch_size: 1000,
            queue: 4096,
        }
    }
}

impl OutputsConfig {
    /// Checks `[outputs.redis]` and `[outputs.kafka]`.
    pub fn validate(&self, ck: &mut Checker) {
        let r = &self.redis;
        ck.section("outputs.redis");
        if r.server.trim().is_empty() {
            ck.fail("server", "\"\"", "a host, redis://host:port URL or unix:/path is required");
        } else if r.server.starts_with("rediss://") {
            ck.fail("server", &r.server, "TLS (rediss://) is not supported; use redis:// or unix:");
        }
        if r.port == 0 {
            ck.fail("port", r.port, "must be between 1 and 65535");
        }
        if r.key.is_empty() {
            ck.fail("key", "\"\"", "a key (list, channel or stream name) is required");
        }
        ck.count("stream_maxlen", r.stream_maxlen, 0, MAX_CAP);
        ck.count("batch_size", r.batch_size, 1, 10_000);
        ck.count("queue", r.queue, 1, 10_000_000);
        let k = &self.kafka;
        ck.section("outputs.kafka");
        if k.enabled && !cfg!(feature = "kafka") {
            ck.fail(
                "enabled",
                k.enabled,
                "this siphon was built without Kafka: cargo build --release --features kafka",
            );
        }
        if k.brokers.trim().is_empty() {
            ck.fail("brokers", "\"\"", "at least one host:port is required");
        }
        if k.topic.is_empty() {
            ck.fail("topic", "\"\"", "a topic is required");
        }
        if !["0", "1", "all", "-1"].contains(&k.acks.as_str()) {
            ck.fail("acks", &k.acks, "must be 0, 1 or all");
        }
        if !["none", "gzip", "snappy", "lz4"].contains(&k.compression.as_str()) {
            ck.fail("compression", &k.compression, "must be none, gzip, snappy or lz4");
        }
        ck.count("batch_size", k.batch_size, 1, 1_000_000);
        ck.count("queue", k.queue, 1, 10_000_000);
    }
}
