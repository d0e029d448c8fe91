//! Change under load: keep-alive load runs while the configuration is rewritten ten times a
//! second (a route added and one removed, the endpoint moved between two addresses). Strait
//! picks up its manifests folder by itself; nginx gets `nginx -s reload` after each write.
//! A prober measures from each write until the new route answers.

use anyhow::Result;

use super::Options;
use super::clients::Errors;
use super::targets::{Env, Target};

/// One target's churn run.
#[derive(Clone, Debug)]
pub struct ChurnRun {
    pub target: Target,
    /// Configuration writes (each followed by a reload for nginx).
    pub writes: usize,
    pub seconds: f64,
    /// Requests the load completed, and its failures by kind.
    pub requests: u64,
    pub errors: Errors,
    /// Milliseconds from each write to its new route's first 200, for the routes that answered.
    pub route_ms: Vec<f64>,
    /// New routes that never answered within the prober's deadline.
    pub missed: usize,
    /// Process count of the target's tree: before the churn and at its peak.
    pub processes_before: usize,
    pub processes_peak: usize,
    /// Sum of RSS over the tree, before the churn and at its peak (sampled every 100 ms).
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
}

/// Strait's and nginx's churn runs.
#[derive(Clone, Debug)]
pub struct ChangeReport {
    pub strait: ChurnRun,
    pub nginx: ChurnRun,
}

pub fn run(_env: &Env, _options: &Options) -> Result<ChangeReport> {
    todo!("change under load")
}
