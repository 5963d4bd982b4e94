//! Redis output, as Suricata's eve-log `filetype: redis`: each event, one EVE JSON document, is
//! `LPUSH`ed/`RPUSH`ed to a list, `PUBLISH`ed on a channel or `XADD`ed to a stream under
//! `key`, pipelined `batch_size` at a time, so a Logstash `redis` input or a consumer written
//! for Suricata's keys reads siphon's events unchanged. Stream entries carry the event in one
//! field, `eve` (`XADD key MAXLEN ~ n * eve {...}`).
//!
//! It sits behind the bounded [`OutputQueue`]: connection and writes time out, failures
//! reconnect with backoff, and what is lost (queue full, failed batch, left at exit) is counted.

use super::config::{RedisConfig, RedisMode};
use super::{OutputQueue, QueueOptions, Transport};
use std::io;
use std::time::Duration;

/// A write or reply that takes longer fails the batch (dropped, counted, reconnected).
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The URL the `redis` crate opens for `server`/`port`: `redis://` URLs as given, `unix:/path`
/// as `redis+unix:///path`, a bare host as `redis://host:port/` (IPv6 in brackets).
pub(crate) fn connection_url(c: &RedisConfig) -> String {
    let s = c.server.trim();
    if s.starts_with("redis://") || s.starts_with("redis+unix://") {
        return s.to_owned();
    }
    if let Some(path) = s.strip_prefix("unix://").or_else(|| s.strip_prefix("unix:")) {
        return format!("redis+unix://{path}");
    }
    if s.contains(':') && !s.starts_with('[') {
        return format!("redis://[{s}]:{}/", c.port);
    }
    format!("redis://{s}:{}/", c.port)
}

/// One Redis connection, re-opened after a failure.
struct Redis {
    client: redis::Client,
    conn: Option<redis::Connection>,
    key: String,
    mode: RedisMode,
    maxlen: u64,
    username: String,
    password: String,
    batch: usize,
}

fn io_err(e: redis::RedisError) -> io::Error {
    io::Error::other(e.to_string())
}

impl Transport for Redis {
    fn connect(&mut self, timeout: Duration) -> io::Result<()> {
        let mut c = self.client.get_connection_with_timeout(timeout).map_err(io_err)?;
        c.set_write_timeout(Some(IO_TIMEOUT)).map_err(io_err)?;
        c.set_read_timeout(Some(IO_TIMEOUT)).map_err(io_err)?;
        if !self.password.is_empty() {
            let mut auth = redis::cmd("AUTH");
            if !self.username.is_empty() {
                auth.arg(&self.username);
            }
            auth.arg(&self.password).query::<()>(&mut c).map_err(io_err)?;
        }
        self.conn = Some(c);
        Ok(())
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.send_batch(std::slice::from_ref(&msg.to_vec()))
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn send_batch(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        let c = self.conn.as_mut().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        let mut p = redis::pipe();
        for m in msgs {
            match self.mode {
                RedisMode::Lpush => p.cmd("LPUSH").arg(&self.key).arg(m.as_slice()),
                RedisMode::Rpush => p.cmd("RPUSH").arg(&self.key).arg(m.as_slice()),
                RedisMode::Publish => p.cmd("PUBLISH").arg(&self.key).arg(m.as_slice()),
                RedisMode::Xadd => {
                    let x = p.cmd("XADD").arg(&self.key);
                    if self.maxlen > 0 {
                        x.arg("MAXLEN").arg("~").arg(self.maxlen);
                    }
                    x.arg("*").arg("eve").arg(m.as_slice())
                }
            }
            .ignore();
        }
        p.query::<()>(c).map_err(io_err)
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }
}

/// Starts the Redis output's queue and thread. The URL is checked here (a bad one is an error
/// at start); the server need not be up: events wait in the queue, bounded.
pub fn start(c: &RedisConfig) -> Result<OutputQueue, String> {
    let url = connection_url(c);
    let client =
        redis::Client::open(url.as_str()).map_err(|e| format!("outputs.redis.server {:?}: {e}", c.server))?;
    let t = Redis {
        client,
        conn: None,
        key: c.key.clone(),
        mode: c.mode,
        maxlen: c.stream_maxlen,
        username: c.username.clone(),
        password: c.password.clone(),
        batch: c.batch_size.max(1),
    };
    let o = QueueOptions { capacity: c.queue.max(1), ..QueueOptions::default() };
    OutputQueue::start("redis", t, o).map_err(|e| format!("outputs.redis: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms_become_urls() {
        let mut c = RedisConfig::default();
        assert_eq!(connection_url(&c), "redis://127.0.0.1:6379/");
        c.server = "::1".into();
        c.port = 7000;
        assert_eq!(connection_url(&c), "redis://[::1]:7000/");
        c.server = "unix:/run/redis/redis.sock".into();
        assert_eq!(connection_url(&c), "redis+unix:///run/redis/redis.sock");
        c.server = "redis://u:p@h:6380/2".into();
        assert_eq!(connection_url(&c), "redis://u:p@h:6380/2");
        for s in ["127.0.0.1", "redis://h:1/", "unix:/x.sock", "::1"] {
            c.server = s.into();
            assert!(redis::Client::open(connection_url(&c).as_str()).is_ok(), "{s}");
        }
    }
}
