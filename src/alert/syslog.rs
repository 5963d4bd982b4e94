//! A second output: each alert as an RFC 5424 syslog message over UDP, or TCP with octet-counting
//! framing (RFC 6587). Runs on a small tokio runtime off the packet path; when the collector is
//! slow or away, messages beyond a bounded queue are dropped and counted, never blocking alerts
//! to the primary output.

use super::Alert;
use super::sink::AlertSink;
use crate::error::OutputError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages queued for the collector at most.
const QUEUE: usize = 4096;

/// Where to send: `udp://host:port` or `tcp://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// Datagrams, one message each.
    Udp(String),
    /// A stream, octet-counted.
    Tcp(String),
}

impl SyslogTarget {
    /// Parses `udp://host:port` / `tcp://host:port`.
    pub fn parse(s: &str) -> Result<SyslogTarget, String> {
        if let Some(a) = s.strip_prefix("udp://") {
            Ok(SyslogTarget::Udp(a.to_owned()))
        } else if let Some(a) = s.strip_prefix("tcp://") {
            Ok(SyslogTarget::Tcp(a.to_owned()))
        } else {
            Err(format!("--syslog {s:?}: expected udp://HOST:PORT or tcp://HOST:PORT"))
        }
    }
}

/// Formats one alert as an RFC 5424 message: facility local0, severity from the alert's.
pub fn format_rfc5424(a: &Alert, hostname: &str) -> String {
    let sev = match a.alert.severity {
        1 => 2, // critical
        2 => 3, // error
        _ => 4, // warning
    };
    let pri = 16 * 8 + sev;
    let ts = a.timestamp.replacen("+0000", "Z", 1);
    let json = serde_json::to_string(a).unwrap_or_default();
    format!("<{pri}>1 {ts} {hostname} siphon - {} - {json}", a.alert.signature_id)
}

/// Sends alerts to a syslog collector; the primary sink is wrapped and written first.
pub struct SyslogTee {
    primary: Box<dyn AlertSink>,
    tx: tokio::sync::mpsc::Sender<String>,
    hostname: String,
    /// Messages dropped because the queue was full or the collector unreachable.
    pub dropped: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SyslogTee {
    /// Starts the sender for `target` in front of `primary`.
    pub fn new(primary: Box<dyn AlertSink>, target: SyslogTarget) -> Result<SyslogTee, OutputError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(OutputError::Write)?;
        let thread = std::thread::Builder::new()
            .name("siphon-syslog".into())
            .spawn(move || {
                rt.block_on(async move {
                    use tokio::io::AsyncWriteExt;
                    match target {
                        SyslogTarget::Udp(addr) => {
                            let Ok(sock) = tokio::net::UdpSocket::bind("0.0.0.0:0").await else { return };
                            while let Some(m) = rx.recv().await {
                                if sock.send_to(m.as_bytes(), &addr).await.is_err() {
                                    d.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        SyslogTarget::Tcp(addr) => {
                            let mut conn: Option<tokio::net::TcpStream> = None;
                            while let Some(m) = rx.recv().await {
                                if conn.is_none() {
                                    conn = tokio::net::TcpStream::connect(&addr).await.ok();
                                }
                                let framed = format!("{} {m}", m.len());
                                let sent = match conn.as_mut() {
                                    Some(c) => c.write_all(framed.as_bytes()).await.is_ok(),
                                    None => false,
                                };
                                if !sent {
                                    conn = None;
                                    d.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            if let Some(mut c) = conn {
                                let _ = c.shutdown().await;
                            }
                        }
                    }
                });
            })
            .map_err(OutputError::Write)?;
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "-".to_owned());
        Ok(SyslogTee { primary, tx, hostname, dropped, thread: Some(thread) })
    }
}

impl AlertSink for SyslogTee {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.primary.write(alert)?;
        if self.tx.try_send(format_rfc5424(alert, &self.hostname)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.primary.flush()
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.primary.write_event(event)
    }
}

impl Drop for SyslogTee {
    fn drop(&mut self) {
        // Closing the channel lets the sender drain what is queued, then stop.
        let (tx, _) = tokio::sync::mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
