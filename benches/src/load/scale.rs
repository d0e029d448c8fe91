//! Scale: Strait started on a manifests folder of 1k, 10k and 50k Ingresses (each with its
//! own Service and a five-pod EndpointSlice): time to ready, table-build time, peak RSS.

use anyhow::Result;

use super::targets::Env;

/// One size of the scale part.
#[derive(Clone, Debug)]
pub struct ScaleRow {
    pub ingresses: usize,
    /// Endpoints in the generated EndpointSlices (5 per Service).
    pub endpoints: usize,
    /// Bytes of generated manifests on disk.
    pub manifest_bytes: u64,
    /// From spawning `strait serve` to `/readyz` answering 200.
    pub ready_seconds: f64,
    /// The first compile-and-publish (`strait_publish_duration_seconds` sum, count 1).
    pub build_seconds: f64,
    /// `VmHWM` of the process once ready.
    pub peak_rss_mib: f64,
    /// `VmRSS` once ready.
    pub rss_mib: f64,
}

/// Runs every size in `sizes`, one Strait process each, stopped before the next.
pub fn run(_env: &Env, _sizes: &[usize]) -> Result<Vec<ScaleRow>> {
    todo!("scale part")
}
