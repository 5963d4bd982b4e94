//! The analyst's report: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) with the run's header, a timeline of alerts over the traffic, the hosts ranked by
//! severity and evidence, a section per detector that fired, and the blind spots.
//!
//! It is built from the EVE form of the alerts and the run's `stats` event only, so
//! `siphon -r big.pcap --report r.html` (alerts collected by [`Collector`] as they are written)
//! and `siphon report eve.json -o r.html` (read back by [`Report::from_eve_file`]) give the same
//! page. Layout: [`model`] (alerts and host ranking), [`svg`] (pictures), [`sections`] (per
//! detector), [`page`] (the document).

pub(crate) mod command;
pub(crate) mod model;
pub(crate) mod page;
pub(crate) mod sections;
pub(crate) mod svg;

use crate::alert::Alert;
use crate::alert::sink::AlertSink;
use crate::error::OutputError;
use crate::run_info::RunInfo;
use model::AlertRow;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Most alerts a report holds (suppression keeps real runs far below; past it alerts are counted
/// and named in the report, not silently left out).
pub const MAX_ALERTS: usize = 200_000;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The EVE file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The report could not be written.
    #[error("cannot write the report {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What a report shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Alerts in capture-time order.
    pub alerts: Vec<AlertRow>,
    /// The run's EVE `stats` event, if there was one.
    pub stats: Option<Value>,
    /// Where the data came from (`siphon -r ...` or the EVE file).
    pub source: String,
    /// Warnings shown at the top (lines not understood, alerts past the cap).
    pub notes: Vec<String>,
}

impl Report {
    /// A report from alerts in EVE form and a stats event.
    pub fn new(alerts: Vec<AlertRow>, stats: Option<Value>, source: String) -> Report {
        let notes = stats
            .as_ref()
            .and_then(|s| s.pointer("/siphon/input_warnings"))
            .and_then(Value::as_array)
            .map(|w| w.iter().filter_map(Value::as_str).map(|w| format!("Input: {w}")).collect())
            .unwrap_or_default();
        let mut r = Report { alerts, stats, source, notes };
        r.alerts.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        r
    }

    /// Reads an EVE JSON-lines file: its alerts and its last `stats` event. Lines that are not
    /// JSON are counted and named in the report's notes, never fatal.
    pub fn from_eve_file(path: &Path) -> Result<Report, ReportError> {
        let err = |source| ReportError::Read { path: path.to_path_buf(), source };
        let f = std::fs::File::open(path).map_err(err)?;
        let (mut alerts, mut stats, mut stats_events, mut bad, mut first_bad, mut over) =
            (Vec::new(), None, 0u64, 0u64, None, 0u64);
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(err)?;
            if line.trim().is_empty() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                bad += 1;
                first_bad.get_or_insert(i + 1);
                continue;
            };
            match v.get("event_type").and_then(Value::as_str) {
                Some("stats") => {
                    stats_events += 1;
                    stats = Some(v);
                }
                Some("alert") if alerts.len() >= MAX_ALERTS => over += 1,
                Some("alert") => match AlertRow::from_eve(&v) {
                    Some(a) => alerts.push(a),
                    None => {
                        bad += 1;
                        first_bad.get_or_insert(i + 1);
                    }
                },
                _ => {}
            }
        }
        let mut r = Report::new(alerts, stats, path.display().to_string());
        if let Some(l) = first_bad {
            r.notes.push(format!(
                "{bad} lines of {} were not EVE alerts siphon understands (first: line {l}).",
                path.display()
            ));
        }
        if over > 0 {
            r.notes.push(format!("{over} alerts past the first {MAX_ALERTS} are not shown."));
        }
        if stats_events > 1 {
            r.notes.push(format!(
                "{stats_events} stats events (several runs appended?): the header shows the last."
            ));
        }
        Ok(r)
    }

    /// The run information from the stats event.
    pub fn run(&self) -> Option<RunInfo> {
        self.stats.as_ref()?.pointer("/siphon/run").and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// The time axis: the first and last packet when known, else the alerts' span.
    pub fn span(&self) -> (f64, f64) {
        let run = self.run();
        let t = |s: Option<&String>| s.and_then(|s| model::parse_time(s));
        if let Some(run) = &run
            && let (Some(a), Some(b)) = (t(run.first_packet.as_ref()), t(run.last_packet.as_ref()))
        {
            return (
                a.min(self.alerts.first().map_or(a, |x| x.ts)),
                b.max(self.alerts.last().map_or(b, |x| x.ts)),
            );
        }
        match (self.alerts.first(), self.alerts.last()) {
            (Some(a), Some(b)) => (a.ts, b.ts),
            _ => (0.0, 1.0),
        }
    }

    /// The HTML.
    pub fn render(&self) -> String {
        page::render(self).into_string()
    }

    /// Writes the HTML to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        std::fs::write(path, self.render())
            .map_err(|source| ReportError::Write { path: path.to_path_buf(), source })
    }
}

/// A name made readable: non-printable bytes are already `\xNN` in EVE; a name longer than
/// `max` characters is cut in the middle (never inside an escape) and its length given, e.g.
/// `abc…xyz (253 bytes)`. A name siphon already cut (it holds `…`) is left as it is.
pub(crate) fn short_name(name: &str, max: usize) -> String {
    if name.chars().count() <= max || name.contains('…') {
        return name.to_owned();
    }
    let (cut, bytes) = crate::alert::cut_escaped(name, max * 2 / 5, max * 3 / 5);
    format!("{cut} ({bytes} bytes)")
}

/// A sink that passes alerts on and keeps their EVE form for the report (at most
/// [`MAX_ALERTS`]; the rest are counted).
pub struct Collector {
    inner: Box<dyn AlertSink>,
    kept: Arc<Mutex<(Vec<AlertRow>, u64)>>,
}

impl Collector {
    /// Wraps `inner`; the handle gives the alerts after the run.
    #[allow(clippy::type_complexity)]
    pub fn new(inner: Box<dyn AlertSink>) -> (Collector, Arc<Mutex<(Vec<AlertRow>, u64)>>) {
        let kept = Arc::new(Mutex::new((Vec::new(), 0)));
        (Collector { inner, kept: kept.clone() }, kept)
    }
}

impl AlertSink for Collector {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        if let Ok(mut k) = self.kept.lock() {
            if k.0.len() >= MAX_ALERTS {
                k.1 += 1;
            } else if let Some(row) = serde_json::to_value(alert).ok().as_ref().and_then(AlertRow::from_eve) {
                k.0.push(row);
            }
        }
        self.inner.write(alert)
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.inner.flush()
    }
    fn write_event(&mut self, event: &Value) -> Result<(), OutputError> {
        self.inner.write_event(event)
    }
    fn reopen(&mut self) -> Result<(), OutputError> {
        self.inner.reopen()
    }
    fn close_outputs(
        &mut self,
        grace: std::time::Duration,
    ) -> Vec<(&'static str, crate::alert::output::OutputStats)> {
        self.inner.close_outputs(grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_their_length() {
        assert_eq!(short_name("short.example", 20), "short.example");
        let long = format!("{}.t.exfil-test.net", "a".repeat(200));
        let s = short_name(&long, 30);
        assert!(s.ends_with("(217 bytes)"), "{s}");
        let bin = format!("{}.t.exfil-test.net", "\\xd1".repeat(50));
        let cut = short_name(&bin, 30);
        assert!(cut.starts_with("\\xd1") && cut.contains("\\xd1…") && cut.ends_with("(67 bytes)"), "{cut}");
        assert!(s.starts_with("aaaa") && s.contains("…"));
    }

    #[test]
    fn eve_file_with_junk_lines_still_reports() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json");
        std::fs::write(
            &p,
            "not json\n{\"event_type\":\"alert\",\"timestamp\":\"2026-11-23T22:26:10.0+0000\",\"src_ip\":\"10.0.0.1\",\
             \"dest_ip\":\"203.0.113.1\",\"alert\":{\"signature_id\":1,\"signature\":\"s\",\"severity\":1},\
             \"siphon\":{\"detector\":\"scan\",\"score\":1,\"evidence\":{}}}\n",
        )
        .unwrap();
        let r = Report::from_eve_file(&p).unwrap();
        assert_eq!(r.alerts.len(), 1);
        assert!(r.notes[0].contains("line 1"), "{:?}", r.notes);
        let html = r.render();
        assert!(html.contains("id=\"timeline\"") && html.contains("No stats event"));
    }
}
