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
    /// For `-o FILE`: the path and inode written to, checked at each flush so a removed or
    /// replaced output file is an error, not alerts silently written into an unlinked inode.
    watch: Option<(std::path::PathBuf, u64)>,
}

impl<W: Write + Send> JsonLines<W> {
    /// Wraps a writer.
    pub fn new(w: W) -> Self {
        JsonLines {
            out: std::io::BufWriter::with_capacity(64 * 1024, w),
            line: Vec::with_capacity(2048),
            watch: None,
        }
    }

    fn check_still_there(&self) -> Result<(), OutputError> {
        use std::os::unix::fs::MetadataExt;
        if let Some((path, ino)) = &self.watch {
            let same = std::fs::metadata(path).map(|m| m.ino() == *ino).unwrap_or(false);
            if !same {
                return Err(OutputError::Write(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "output file {} was removed or replaced while siphon was writing it",
                        path.display()
                    ),
                )));
            }
        }
        Ok(())
    }
}

impl JsonLines<std::fs::File> {
    /// Creates (truncates) `path` and writes to it, watching that it stays in place.
    pub fn create(path: &std::path::Path) -> Result<Self, OutputError> {
        use std::os::unix::fs::MetadataExt;
        let f = std::fs::File::create(path)
            .map_err(|source| OutputError::Create { path: path.to_path_buf(), source })?;
        let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
        let is_file = f.metadata().map(|m| m.is_file()).unwrap_or(false);
        let mut s = JsonLines::new(f);
        if is_file {
            s.watch = Some((path.to_path_buf(), ino));
        }
        Ok(s)
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
        self.check_still_there()
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
