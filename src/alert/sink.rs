//! Where alerts go: JSON lines to a writer (stdout or `-o FILE`), or a `Vec` for tests.
//!
//! `-o FILE` is opened for appending (`O_APPEND`), so logrotate's `copytruncate` leaves no hole
//! of NUL bytes, and is reopened by path on [`AlertSink::reopen`] (SIGHUP), so rename-and-HUP
//! rotation loses and tears nothing: the writer flushes whole lines, then switches files.

use super::Alert;
use super::output::OutputStats;
use crate::error::OutputError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Flushes, then reopens the output file by its path (log rotation); a no-op for streams.
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.flush()
    }
    /// Closes the network outputs behind this sink, giving them at most `grace` to drain, and
    /// returns their final counters (name, counts).
    fn close_outputs(&mut self, _grace: Duration) -> Vec<(&'static str, OutputStats)> {
        Vec::new()
    }
}

/// EVE JSON lines on any writer.
pub struct JsonLines<W: Write + Send> {
    out: std::io::BufWriter<W>,
    line: Vec<u8>,
    /// For `-o FILE`: the path, to reopen it on SIGHUP and to name it in errors.
    path: Option<PathBuf>,
    /// For `-o FILE`: a handle on the file written to, checked at each flush so a removed output
    /// file is an error, not alerts silently written into an unlinked inode.
    watch: Option<std::fs::File>,
}

impl<W: Write + Send> JsonLines<W> {
    /// Wraps a writer.
    pub fn new(w: W) -> Self {
        JsonLines {
            out: std::io::BufWriter::with_capacity(64 * 1024, w),
            line: Vec::with_capacity(2048),
            path: None,
            watch: None,
        }
    }

    fn check_still_there(&self) -> Result<(), OutputError> {
        use std::os::unix::fs::MetadataExt;
        if let (Some(path), Some(f)) = (&self.path, &self.watch) {
            let gone = f.metadata().map(|m| m.nlink() == 0).unwrap_or(false);
            if gone {
                return Err(OutputError::Write(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "output file {} was removed while siphon was writing it (to rotate, rename it and send SIGHUP)",
                        path.display()
                    ),
                )));
            }
        }
        Ok(())
    }
}

/// Opens `path` for appending, creating it (mode 0640 less the umask) if needed.
fn open_append(path: &Path) -> Result<std::fs::File, OutputError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map_err(|source| OutputError::Create { path: path.to_path_buf(), source })
}

impl JsonLines<std::fs::File> {
    /// Opens `path` for appending (created if missing) and writes to it.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let f = open_append(path)?;
        let is_file = f.metadata().map(|m| m.is_file()).unwrap_or(false);
        let watch = if is_file { f.try_clone().ok() } else { None };
        let mut s = JsonLines::new(f);
        s.path = Some(path.to_path_buf());
        s.watch = watch;
        Ok(s)
    }
}

impl<W: Write + Send> JsonLines<W> {
    fn write_value(&mut self, v: &impl serde::Serialize) -> Result<(), OutputError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, v).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }
}

impl AlertSink for JsonLines<std::fs::File> {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.write_value(alert)
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        self.check_still_there()
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.write_value(event)
    }
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        let Some(path) = self.path.clone() else { return Ok(()) };
        let f = open_append(&path)?;
        self.watch = f.try_clone().ok();
        // The buffer is empty after the flush: swapping the writer loses nothing.
        self.out = std::io::BufWriter::with_capacity(64 * 1024, f);
        Ok(())
    }
}

impl AlertSink for JsonLines<std::io::Stdout> {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.write_value(alert)
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        Ok(())
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.write_value(event)
    }
}

/// Collects alerts in memory (tests, `run_capture`).
#[derive(Default)]
pub(crate) struct VecSink {
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

/// Passes every event but alerts to the sink it wraps (`--eve-types` without `alert`).
pub struct NoAlerts(pub Box<dyn AlertSink>);

impl AlertSink for NoAlerts {
    fn write(&mut self, _alert: &Alert) -> Result<(), OutputError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.0.flush()
    }
    fn write_event(&mut self, event: &serde_json::Value) -> Result<(), OutputError> {
        self.0.write_event(event)
    }
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.0.reopen()
    }
    fn close_outputs(&mut self, grace: Duration) -> Vec<(&'static str, OutputStats)> {
        self.0.close_outputs(grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_appended_and_reopened_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json");
        std::fs::write(&p, "{\"old\":1}\n").unwrap();
        let mut s = JsonLines::create(&p).unwrap();
        s.write_event(&serde_json::json!({"a": 1})).unwrap();
        s.flush().unwrap();
        // Rotation: rename, then reopen; the next line goes to a new file at the old path.
        let rotated = dir.path().join("eve.json.1");
        std::fs::rename(&p, &rotated).unwrap();
        s.write_event(&serde_json::json!({"b": 2})).unwrap();
        s.reopen().unwrap();
        s.write_event(&serde_json::json!({"c": 3})).unwrap();
        s.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "{\"old\":1}\n{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"c\":3}\n");
        // copytruncate: appending writes land at the new end, no hole of NULs.
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(0).unwrap();
        s.write_event(&serde_json::json!({"d": 4})).unwrap();
        s.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"d\":4}\n");
    }
}
