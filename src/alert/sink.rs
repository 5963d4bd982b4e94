//! Where alerts go: JSON lines to a writer (stdout or `-o FILE`), or a `Vec` for tests.

use super::Alert;
use crate::error::OutputError;
use std::io::Write;

/// A destination for alerts.
pub trait AlertSink: Send {
    /// Writes one alert.
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError>;
    /// Flushes what is buffered.
    fn flush(&mut self) -> Result<(), OutputError>;
    /// Writes a non-alert EVE event (stats).
    fn write_event(&mut self, _event: &serde_json::Value) -> Result<(), OutputError> {
        Ok(())
    }
}

/// EVE JSON lines on any writer.
pub struct JsonLines<W: Write + Send> {
    out: std::io::BufWriter<W>,
    line: Vec<u8>,
}

impl<W: Write + Send> JsonLines<W> {
    /// Wraps a writer.
    pub fn new(w: W) -> Self {
        JsonLines { out: std::io::BufWriter::with_capacity(64 * 1024, w), line: Vec::with_capacity(2048) }
    }
}

impl<W: Write + Send> AlertSink for JsonLines<W> {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, alert).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        Ok(())
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }
}

/// Collects alerts in memory (tests, `run_capture`).
#[derive(Default)]
pub struct VecSink {
    /// What was written.
    pub alerts: Vec<Alert>,
}

impl AlertSink for VecSink {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.alerts.push(alert.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
