//! The fleet outputs (Redis, Kafka) beside the primary sink: every alert and every other event
//! (`flow`, `netflow`, `stats`) is written to the primary first, then serialized once as EVE
//! JSON and pushed to each output's bounded queue, which never blocks.

use super::{OutputQueue, OutputStats};
use crate::alert::Alert;
use crate::alert::sink::AlertSink;
use crate::error::OutputError;
use std::sync::Arc;
use std::time::Duration;

/// One queue behind the tee.
pub struct NetOutput {
    /// The queue.
    pub queue: Arc<OutputQueue>,
    /// Messages carry a key (Kafka: the event's `src_ip`), framed by [`frame_keyed`].
    pub keyed: bool,
}

/// `key` and `payload` as one queue message: the key's length (one byte, keys are cut at 255),
/// the key, the payload. [`split_keyed`] undoes it.
pub(crate) fn frame_keyed(key: &str, payload: &[u8]) -> Vec<u8> {
    let k = &key.as_bytes()[..key.len().min(255)];
    let mut m = Vec::with_capacity(1 + k.len() + payload.len());
    m.push(k.len() as u8);
    m.extend_from_slice(k);
    m.extend_from_slice(payload);
    m
}

/// The key and payload of a message made by [`frame_keyed`].
#[cfg(any(test, feature = "kafka"))]
pub(crate) fn split_keyed(m: &[u8]) -> (&[u8], &[u8]) {
    let n = m.first().map_or(0, |&n| usize::from(n));
    let k = m.get(1..1 + n).unwrap_or_default();
    let p = m.get(1 + n..).unwrap_or_default();
    (k, p)
}

/// Writes to `primary`, then to every network output.
pub struct Tee {
    primary: Box<dyn AlertSink>,
    outputs: Vec<NetOutput>,
    buf: Vec<u8>,
}

impl Tee {
    /// The tee in front of `primary`.
    pub fn new(primary: Box<dyn AlertSink>, outputs: Vec<NetOutput>) -> Tee {
        Tee { primary, outputs, buf: Vec::with_capacity(2048) }
    }

    fn push(&mut self, key: &str) {
        for o in &self.outputs {
            o.queue.push(if o.keyed { frame_keyed(key, &self.buf) } else { self.buf.clone() });
        }
    }
}

impl AlertSink for Tee {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.primary.write(alert)?;
        self.buf.clear();
        if serde_json::to_writer(&mut self.buf, alert).is_ok() {
            self.push(&alert.src_ip.to_string());
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.primary.flush()
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.primary.write_event(event)?;
        self.buf.clear();
        if serde_json::to_writer(&mut self.buf, event).is_ok() {
            let key = event.get("src_ip").and_then(|v| v.as_str()).unwrap_or("").to_owned();
            self.push(&key);
        }
        Ok(())
    }
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.primary.reopen()
    }
    fn close_outputs(&mut self, grace: Duration) -> Vec<(&'static str, OutputStats)> {
        let mut v = self.primary.close_outputs(grace);
        // The queues drain side by side: each gets the whole grace, not a share of it.
        let handles: Vec<_> = self
            .outputs
            .iter()
            .map(|o| {
                let q = o.queue.clone();
                std::thread::spawn(move || (q.name(), q.close(grace)))
            })
            .collect();
        v.extend(handles.into_iter().filter_map(|h| h.join().ok()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_frames_round_trip() {
        let m = frame_keyed("10.0.0.1", b"{\"a\":1}");
        assert_eq!(split_keyed(&m), (&b"10.0.0.1"[..], &b"{\"a\":1}"[..]));
        let m = frame_keyed("", b"x");
        assert_eq!(split_keyed(&m), (&b""[..], &b"x"[..]));
        assert_eq!(split_keyed(&[]), (&b""[..], &b""[..]));
    }
}
