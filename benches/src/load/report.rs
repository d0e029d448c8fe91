//! The report: machine facts and tool versions, tables of medians (min–max) per scenario,
//! Strait/nginx and Strait/HAProxy ratios, the change-under-load and scale tables, written
//! between markers in `benches/RESULTS.md`, and a PNG chart of the ratios drawn by gnuplot.

use anyhow::Result;

use super::change::ChangeReport;
use super::scale::ScaleRow;
use super::{Options, Sample};

/// What the machine and tools were.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub date: String,
    pub commit: String,
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub strait: String,
    pub nginx: String,
    pub haproxy: String,
    pub wrk: String,
    pub oha: String,
    pub gnuplot: String,
    /// The suite's arguments as run.
    pub command: String,
    pub wall_seconds: f64,
}

impl Facts {
    pub fn gather(_options: &Options) -> Result<Facts> {
        Ok(Facts::default())
    }

    /// One line for the console.
    pub fn summary(&self) -> String {
        String::new()
    }
}

/// Everything one run measured.
pub struct Results {
    pub facts: Facts,
    pub samples: Vec<Sample>,
    pub change: Option<ChangeReport>,
    pub scale: Vec<ScaleRow>,
}

/// Writes the report section and the chart.
pub fn write(_results: &Results, _options: &Options) -> Result<()> {
    todo!("report")
}
