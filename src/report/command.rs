//! `siphon report EVE.json -o report.html`: the report from an EVE file written earlier (its
//! alerts, and the `stats` event `--stats-json` adds for the header and the blind spots).

use super::{Report, ReportError};
use clap::Parser;
use std::path::PathBuf;

/// `siphon report`: an HTML report from an EVE file.
#[derive(Debug, Parser)]
#[command(name = "siphon report", version, about = "Write the HTML report from an EVE JSON file")]
pub struct ReportArgs {
    /// EVE JSON lines written by siphon (with `--stats-json` for the header and blind spots).
    #[arg(value_name = "EVE.json")]
    pub eve: PathBuf,
    /// Where to write the HTML.
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
}

impl ReportArgs {
    /// Reads the EVE file and writes the report; returns the number of alerts shown.
    pub fn run(&self) -> Result<usize, ReportError> {
        let r = Report::from_eve_file(&self.eve)?;
        r.write(&self.output)?;
        Ok(r.alerts.len())
    }
}
