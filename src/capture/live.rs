//! Live capture from an interface: promiscuous, immediate mode, a large kernel buffer.
//!
//! The capture is non-blocking and siphon waits on its descriptor with `poll` itself: libpcap's
//! own read timeout is not honoured in immediate mode on every version (1.10.3 blocks until a
//! packet arrives), and a partly filled batch must reach the workers within
//! `capture.flush_interval` on a quiet link, whatever libpcap does.

use super::{CaptureStats, PacketSource, RawPacket};
use crate::decode::LinkType;
use crate::error::CaptureError;
use crate::time::Timestamp;
use pcap::{Active, Capture, Device, Precision};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Live capture settings.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name.
    pub iface: String,
    /// Bytes kept per packet.
    pub snaplen: i32,
    /// Kernel buffer in bytes. The default immediate-mode buffer holds ~16 frames and drops bursts.
    pub buffer_size: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// BPF filter.
    pub filter: Option<String>,
    /// A read returns at most this long after it started, with whatever arrived: the pipeline
    /// then hands partly filled batches to the workers (`capture.flush_interval`).
    pub flush_interval: Duration,
}

/// An open live capture.
pub struct LiveSource {
    cap: Capture<Active>,
    fd: std::os::fd::RawFd,
    flush_interval: Duration,
    link: LinkType,
    iface: String,
    addrs: Vec<IpAddr>,
}

/// Handle that stops a blocked live read from another thread.
pub(crate) type StopHandle = pcap::BreakLoop;

impl LiveSource {
    /// Opens the interface.
    pub fn open(o: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let iface = o.iface.clone();
        let classify = |e: pcap::Error| {
            let reason = e.to_string();
            let lower = reason.to_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                CaptureError::Permission { iface: iface.clone(), reason }
            } else if lower.contains("no such device") || lower.contains("doesn't exist") {
                CaptureError::NoSuchDevice { iface: iface.clone(), reason }
            } else {
                CaptureError::Live { iface: iface.clone(), reason }
            }
        };
        let mut cap = Capture::from_device(o.iface.as_str())
            .map_err(classify)?
            .promisc(o.promisc)
            .immediate_mode(true)
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .precision(Precision::Nano)
            .timeout(250)
            .open()
            .map_err(classify)?
            .setnonblock()
            .map_err(classify)?;
        if let Some(f) = &o.filter {
            cap.filter(f, true)
                .map_err(|e| CaptureError::Filter { filter: f.clone(), reason: e.to_string() })?;
        }
        let dlt = cap.get_datalink().0;
        let link = LinkType::from_dlt(dlt);
        if let LinkType::Unsupported(linktype) = link {
            return Err(CaptureError::LinkType { path: o.iface.clone().into(), linktype });
        }
        let fd = cap.as_raw_fd();
        Ok(LiveSource {
            cap,
            fd,
            flush_interval: o.flush_interval.max(Duration::from_millis(1)),
            link,
            iface: o.iface.clone(),
            addrs: device_addrs(&o.iface),
        })
    }

    /// Joins this socket to fanout group `group` with the home-host program for `workers`
    /// sockets ([`super::fanout`]).
    pub fn join_fanout(&self, group: u16, prog: &[super::fanout::Op]) -> Result<(), CaptureError> {
        super::fanout::join(self.fd, group, prog).map_err(|e| CaptureError::Live {
            iface: self.iface.clone(),
            reason: format!("PACKET_FANOUT: {e}"),
        })
    }

    /// A handle that makes a blocked read return.
    pub fn stop_handle(&mut self) -> StopHandle {
        self.cap.breakloop_handle()
    }

    /// Waits until the capture has a packet or `deadline` passes: `Ok(true)` when readable,
    /// `Ok(false)` on the deadline or a signal (the caller checks its stop flag).
    fn wait_readable(&self, deadline: Instant) -> Result<bool, CaptureError> {
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            return Ok(false);
        };
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the capture's open descriptor.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(CaptureError::Live { iface: self.iface.clone(), reason: format!("poll: {e}") });
        }
        Ok(r > 0)
    }
}

impl PacketSource for LiveSource {
    fn reads_may_wait(&self) -> bool {
        true
    }

    /// Returns after `max` packets, or `flush_interval` after it was called with what arrived
    /// by then (a short read: the pipeline hands partly filled batches over).
    fn read(&mut self, max: usize, f: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        let deadline = Instant::now() + self.flush_interval;
        let mut n = 0;
        while n < max {
            match self.cap.next_packet() {
                Ok(p) => {
                    n += 1;
                    let secs = u64::try_from(p.header.ts.tv_sec).unwrap_or(0);
                    let nanos = u64::try_from(p.header.ts.tv_usec).unwrap_or(0);
                    f(&RawPacket {
                        ts: Timestamp::from_parts(secs, nanos),
                        data: p.data,
                        wire_len: p.header.len,
                        link: self.link,
                    });
                }
                // Nothing ready (non-blocking): wait on the descriptor, up to the deadline.
                Err(pcap::Error::TimeoutExpired) => {
                    if !self.wait_readable(deadline)? {
                        return Ok(true);
                    }
                }
                // break-loop was called.
                Err(pcap::Error::NoMorePackets) => return Ok(false),
                Err(pcap::Error::PcapError(s)) if s.is_empty() || s.contains("break") => return Ok(false),
                Err(e) => {
                    return Err(CaptureError::Live { iface: self.iface.clone(), reason: e.to_string() });
                }
            }
        }
        Ok(true)
    }

    fn local_addrs(&self) -> Vec<IpAddr> {
        self.addrs.clone()
    }

    fn stats(&mut self) -> Option<CaptureStats> {
        self.cap.stats().ok().map(|s| CaptureStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}

/// The addresses libpcap lists for `iface` (for `any`, every interface's).
fn device_addrs(iface: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Device::list()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| iface == "any" || d.name == iface)
        .flat_map(|d| d.addresses.into_iter().map(|a| a.addr))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The user id and primary group id of `user`.
pub fn user_ids(user: &str) -> Result<(libc::uid_t, libc::gid_t), CaptureError> {
    let err = |reason: String| CaptureError::DropPrivileges { user: user.to_owned(), reason };
    let name = std::ffi::CString::new(user).map_err(|_| err("bad user name".into()))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; read before any other call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(err("no such user".into()));
    }
    // SAFETY: `pw` is non-null and points to a valid passwd entry.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// Drops root to `user` (tcpdump's `-Z`), after the capture is open.
pub fn drop_privileges(user: &str) -> Result<(), CaptureError> {
    let err = |reason: String| CaptureError::DropPrivileges { user: user.to_owned(), reason };
    let (uid, gid) = user_ids(user)?;
    // SAFETY: plain syscalls; order matters (groups and gid while still root, then uid).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(err(std::io::Error::last_os_error().to_string()));
        }
        if libc::setgid(gid) != 0 {
            return Err(err(std::io::Error::last_os_error().to_string()));
        }
        if libc::setuid(uid) != 0 {
            return Err(err(std::io::Error::last_os_error().to_string()));
        }
    }
    Ok(())
}
