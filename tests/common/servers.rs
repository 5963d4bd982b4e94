//! Real servers the output tests start on free loopback ports (never a mock): `redis-server`
//! and `prometheus` from Debian (`scripts/setup.sh` installs them). Each is killed when its
//! handle drops.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Panics with what to install when `prog` is missing: a missing server fails the test, it is
/// never skipped.
pub fn require(prog: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{prog} is not installed: run scripts/setup.sh as root");
}

/// A `redis-server` on 127.0.0.1:`port`, persistence off, killed on drop.
pub struct Redis {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// Starts one on `port` with extra config arguments (`--user ...`), and waits until it
    /// answers.
    pub fn start(port: u16, extra: &[&str]) -> Redis {
        require("redis-server");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = Redis { child, port };
        let t = Instant::now();
        // Up when it answers a PING, with PONG or an authentication error.
        let answers = || -> Option<()> {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
            s.write_all(b"PING\r\n").ok()?;
            let mut b = [0u8; 64];
            (s.read(&mut b).ok()? > 0).then_some(())
        };
        while answers().is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "redis-server did not come up on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// Its URL (the default user).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection as `user`/`password` (or the default user when `None`).
    pub fn conn_as(&self, auth: Option<(&str, &str)>) -> redis::Connection {
        let url = match auth {
            Some((u, p)) => format!("redis://{u}:{p}@127.0.0.1:{}/", self.port),
            None => self.url(),
        };
        let c = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// Kills it at once (SIGKILL): what is in memory is lost.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `prometheus` server scraping `targets` every second, its data in `dir`, killed on drop.
pub struct Prometheus {
    child: Child,
    /// Its HTTP port.
    pub port: u16,
}

impl Prometheus {
    /// Starts it and waits until its API answers.
    pub fn start(dir: &Path, targets: &[String]) -> Prometheus {
        require("prometheus");
        let port = free_port();
        let cfg = dir.join("prometheus.yml");
        let list = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: siphon\n    static_configs:\n      - targets: [{list}]\n"
            ),
        )
        .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let p = Prometheus { child, port };
        let t = Instant::now();
        while http_get(port, "/-/ready").is_none_or(|b| !b.contains("Ready")) {
            assert!(t.elapsed() < Duration::from_secs(30), "prometheus did not come up on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// Runs an instant query through the HTTP API; the JSON answer.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let enc: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = http_get(self.port, &format!("/api/v1/query?query={enc}")).unwrap_or_default();
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, whole body); `None` on any failure.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_owned())
}
