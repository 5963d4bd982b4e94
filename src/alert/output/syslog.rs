//! Syslog output: each alert as an RFC 5424 message over UDP, or TCP with octet-counting framing
//! (RFC 6587), behind the bounded [`OutputQueue`] so a slow or absent collector drops (counted)
//! rather than blocks. The target is checked at start-up: a port is required and the host must
//! resolve.

use super::{OutputQueue, OutputStats, QueueOptions, Transport};
use crate::alert::Alert;
use crate::alert::sink::AlertSink;
use crate::error::OutputError;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// A write that makes no progress for this long fails (the message is dropped and counted, the
/// connection reopened): a collector that stops reading costs at most this per reconnect.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The TCP send buffer (the kernel doubles it). Messages in it count as sent but are lost if
/// the connection then breaks; Linux would otherwise let it grow to 4 MB (thousands of alerts)
/// in front of a collector that stopped reading. 32 KiB still carries ~500 alerts/s at 50 ms RTT.
const SEND_BUFFER: libc::c_int = 32 * 1024;

/// Where to send: `udp://host:port` or `tcp://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// Datagrams, one message each.
    Udp(String),
    /// A stream, octet-counted.
    Tcp(String),
}

impl SyslogTarget {
    /// Parses `udp://host:port` / `tcp://host:port`, requiring a port and a host that resolves.
    pub fn parse(s: &str) -> Result<SyslogTarget, String> {
        let (t, addr) = if let Some(a) = s.strip_prefix("udp://") {
            (SyslogTarget::Udp(a.to_owned()), a)
        } else if let Some(a) = s.strip_prefix("tcp://") {
            (SyslogTarget::Tcp(a.to_owned()), a)
        } else {
            return Err(format!("--syslog {s:?}: expected udp://HOST:PORT or tcp://HOST:PORT"));
        };
        let port_ok = addr
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty() && (!h.contains(':') || h.ends_with(']')))
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_some_and(|p| p != 0);
        if !port_ok {
            return Err(format!(
                "--syslog {s:?}: a port is required (udp://HOST:PORT, tcp://HOST:PORT; [ADDR]:PORT for IPv6)"
            ));
        }
        match addr.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(_)) => Ok(t),
            Ok(None) => Err(format!("--syslog {s:?}: host has no address")),
            Err(e) => Err(format!("--syslog {s:?}: host does not resolve: {e}")),
        }
    }
}

/// Formats one alert as an RFC 5424 message: facility local0, severity from the alert's.
pub(crate) fn format_rfc5424(a: &Alert, hostname: &str) -> String {
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

fn resolve(addr: &str) -> io::Result<Vec<SocketAddr>> {
    let v: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if v.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address")));
    }
    Ok(v)
}

/// TCP with octet-counting framing; resolved again at each reconnect.
struct Tcp {
    addr: String,
    conn: Option<TcpStream>,
    frame: Vec<u8>,
}

impl Transport for Tcp {
    fn connect(&mut self, timeout: Duration) -> io::Result<()> {
        let mut last = io::Error::other("no address");
        for a in resolve(&self.addr)? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(c) => {
                    c.set_write_timeout(Some(WRITE_TIMEOUT))?;
                    let _ = c.set_nodelay(true);
                    set_send_buffer(&c);
                    self.conn = Some(c);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let c = self.conn.as_mut().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        self.frame.clear();
        write!(self.frame, "{} ", msg.len())?;
        self.frame.extend_from_slice(msg);
        c.write_all(&self.frame)
    }
    fn disconnect(&mut self) {
        self.conn = None;
    }
}

fn set_send_buffer(c: &TcpStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on an open socket with a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&SEND_BUFFER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// UDP, one datagram per message, on a connected socket (so ICMP errors are seen).
struct Udp {
    addr: String,
    sock: Option<UdpSocket>,
}

impl Transport for Udp {
    fn connect(&mut self, _timeout: Duration) -> io::Result<()> {
        let a = resolve(&self.addr)?[0];
        let bind: SocketAddr =
            if a.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(io::Error::other)?;
        let s = UdpSocket::bind(bind)?;
        s.connect(a)?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))?;
        self.sock = Some(s);
        Ok(())
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let s = self.sock.as_ref().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        s.send(msg).map(|_| ())
    }
    fn disconnect(&mut self) {
        self.sock = None;
    }
}

/// Sends alerts to a syslog collector; the primary sink is wrapped and written first.
pub struct SyslogTee {
    primary: Box<dyn AlertSink>,
    queue: Arc<OutputQueue>,
    hostname: String,
}

impl SyslogTee {
    /// Starts the sender for `target` in front of `primary`.
    pub fn new(primary: Box<dyn AlertSink>, target: SyslogTarget) -> Result<SyslogTee, OutputError> {
        let o = QueueOptions::default();
        let queue = match target {
            SyslogTarget::Udp(addr) => OutputQueue::start("syslog", Udp { addr, sock: None }, o),
            SyslogTarget::Tcp(addr) => {
                OutputQueue::start("syslog", Tcp { addr, conn: None, frame: Vec::with_capacity(4096) }, o)
            }
        }
        .map_err(OutputError::Write)?;
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "-".to_owned());
        Ok(SyslogTee { primary, queue: Arc::new(queue), hostname })
    }

    /// The queue, to read its counters and close it at exit.
    pub fn queue(&self) -> Arc<OutputQueue> {
        self.queue.clone()
    }
}

impl AlertSink for SyslogTee {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.primary.write(alert)?;
        self.queue.push(format_rfc5424(alert, &self.hostname).into_bytes());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.primary.flush()
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.primary.write_event(event)
    }
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.primary.reopen()
    }
    fn close_outputs(&mut self, grace: Duration) -> Vec<(&'static str, OutputStats)> {
        // Side by side with the outputs behind it: each gets the whole grace.
        let q = self.queue.clone();
        let own = std::thread::spawn(move || (q.name(), q.close(grace)));
        let mut v = self.primary.close_outputs(grace);
        match own.join() {
            Ok(s) => v.push(s),
            Err(_) => v.push((self.queue.name(), self.queue.stats())),
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_needs_a_port_and_a_resolvable_host() {
        assert!(SyslogTarget::parse("tcp://127.0.0.1:514").is_ok());
        assert!(SyslogTarget::parse("udp://[::1]:514").is_ok());
        assert!(SyslogTarget::parse("tcp://localhost:6514").is_ok());
        for bad in
            ["tcp://127.0.0.1", "udp://[::1]", "tcp://:514", "tcp://127.0.0.1:0", "tcp://h:x", "x://h:1"]
        {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
        let e = SyslogTarget::parse("tcp://no-such-host.invalid:514").unwrap_err();
        assert!(e.contains("does not resolve"), "{e}");
    }
}
