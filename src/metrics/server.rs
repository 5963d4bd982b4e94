//! The `/metrics` endpoint: a small HTTP server (`tiny_http`) on its own thread, off the packet
//! path. Each scrape takes a [`super::Live::snapshot`] and encodes it; nothing else is served.

use super::Live;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A running endpoint; dropping it stops the server.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    scrapes: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (port 0: any free one) and serves `live`'s figures at `/metrics`.
    pub fn start(
        addr: &str,
        live: Arc<Live>,
        version: String,
        digest: String,
    ) -> std::io::Result<MetricsServer> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| std::io::Error::other(format!("--metrics-listen {addr}: {e}")))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other(format!("--metrics-listen {addr}: not an IP address")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(AtomicU64::new(0));
        let (st, sc) = (stop.clone(), scrapes.clone());
        let thread = std::thread::Builder::new().name("siphon-metrics".into()).spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                let path = req.url().split('?').next().unwrap_or("");
                let resp = if path == "/metrics" && *req.method() == tiny_http::Method::Get {
                    match super::encode::encode(&live.snapshot(), &version, &digest) {
                        Ok(body) => {
                            sc.fetch_add(1, Ordering::Relaxed);
                            let r = tiny_http::Response::from_string(body);
                            match tiny_http::Header::from_bytes(
                                &b"Content-Type"[..],
                                super::encode::CONTENT_TYPE.as_bytes(),
                            ) {
                                Ok(h) => r.with_header(h),
                                Err(()) => r,
                            }
                        }
                        Err(_) => tiny_http::Response::from_string("encoding failed\n").with_status_code(500),
                    }
                } else {
                    tiny_http::Response::from_string("siphon: metrics are at /metrics\n")
                        .with_status_code(404)
                };
                let _ = req.respond(resp);
            }
        })?;
        Ok(MetricsServer { addr: bound, stop, scrapes, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Scrapes served so far.
    pub fn scrapes(&self) -> u64 {
        self.scrapes.load(Ordering::Relaxed)
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
