//! Heap cost of the control plane per Ingress, measured with dhat (docs in
//! `benches/RESULTS.md`, "Control plane at scale"): the scale part's cluster (each Ingress with
//! its own Service and a five-pod EndpointSlice) written to a folder, then loaded the way
//! `strait serve --manifests` loads it — the folder's objects (`ManifestDir`), the store
//! (`Store`, one `Index`), the compiled table with its diagnostics and reports — and the heap
//! in use after each step.
//!
//! ```text
//! cargo run --release -p strait-benches --example heap -- 10000
//! ```
//!
//! Also writes `dhat-heap.json` (allocation sites; open it in dhat's viewer) unless `--no-file`.

use std::time::Instant;

use anyhow::{Context, Result};
use strait_controller::manifests::ManifestDir;
use strait_controller::store::{Change, Store};
use strait_shared::CompileConfig;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() -> Result<()> {
    let mut ingresses = 10_000;
    let mut file = true;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-file" => file = false,
            n => ingresses = n.parse().with_context(|| format!("not a count: {n}"))?,
        }
    }
    let dir = tempfile::tempdir()?;
    strait_benches::load::scale::write_manifests(dir.path(), ingresses)?;

    let profiler = if file {
        dhat::Profiler::builder().build()
    } else {
        dhat::Profiler::builder().testing().build()
    };
    let mut steps = Steps::new(ingresses);

    let mut folder = ManifestDir::open(dir.path())?;
    let scan = folder.rescan();
    anyhow::ensure!(scan.errors.is_empty(), "manifests: {:?}", scan.errors);
    steps.record("folder's objects (ManifestDir)");

    let mut store = Store::new();
    store.apply(Change::Replace(
        folder.objects().into_iter().cloned().collect(),
    ));
    steps.record("store (Index)");

    let compiled = store.index().compile(&CompileConfig::default());
    anyhow::ensure!(compiled.table.route_count() == ingresses * 3);
    steps.record("compiled table, diagnostics, reports");

    drop(compiled);
    steps.record("(compiled dropped)");
    drop(folder);
    steps.record("(folder dropped)");
    let peak = dhat::HeapStats::get().max_bytes;
    println!(
        "peak heap {:.1} MiB = {:.2} KiB per Ingress",
        mib(peak),
        kib(peak) / ingresses as f64
    );
    drop(store);
    drop(profiler);
    Ok(())
}

/// The heap in use after each step, and what each step added.
struct Steps {
    ingresses: usize,
    last: usize,
    started: Instant,
}

impl Steps {
    fn new(ingresses: usize) -> Self {
        println!("{ingresses} Ingresses; heap in use after each step, and its change");
        Self {
            ingresses,
            last: dhat::HeapStats::get().curr_bytes,
            started: Instant::now(),
        }
    }

    fn record(&mut self, step: &str) {
        let now = dhat::HeapStats::get().curr_bytes;
        let delta = now as f64 - self.last as f64;
        println!(
            "{step:<40} {:>8.1} MiB  {:>+9.1} MiB  {:>+7.2} KiB per Ingress  ({:.2} s)",
            mib(now),
            delta / (1024.0 * 1024.0),
            delta / 1024.0 / self.ingresses as f64,
            self.started.elapsed().as_secs_f64(),
        );
        self.last = now;
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}
