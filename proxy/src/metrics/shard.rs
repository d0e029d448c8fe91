//! Per-worker shards of counters and histograms: each worker thread adds into its own cache
//! line, and `/metrics` sums the shards when it encodes. No lock, and no cache line two cores
//! write, on the request path (issue 17: "metrics recorded into per-worker shards").
//!
//! The shard a thread writes is its worker index ([`set_worker`]) modulo the shard count; a
//! thread that is no worker (the control plane, tests) writes shard 0. There are as many shards
//! as CPUs the process may use (at most [`MAX_SHARDS`]), the default worker count.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Atomic;
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bound of the shard count: past it, workers share shards (still correct).
pub(crate) const MAX_SHARDS: usize = 64;

/// `u64`s per cache line.
const LINE: usize = 8;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Marks the calling thread as worker `index`: its metrics go to shard `index % shards`.
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|w| w.set(index));
}

/// The calling thread's worker index (0 for threads that are no worker).
pub(crate) fn worker() -> usize {
    WORKER.with(Cell::get)
}

fn shards() -> usize {
    static SHARDS: OnceLock<usize> = OnceLock::new();
    *SHARDS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_SHARDS)
    })
}

fn shard() -> usize {
    worker() % shards()
}

/// One `u64` alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// A counter value in per-worker shards; the `Atomic` behind [`Counter`](super::Counter).
#[derive(Debug)]
pub(crate) struct ShardedU64 {
    shards: Box<[Padded]>,
}

impl Default for ShardedU64 {
    fn default() -> Self {
        Self {
            shards: (0..shards()).map(|_| Padded::default()).collect(),
        }
    }
}

impl Atomic<u64> for ShardedU64 {
    fn inc(&self) -> u64 {
        self.inc_by(1)
    }

    /// Returns the shard's previous value (the sum would read every shard).
    fn inc_by(&self, v: u64) -> u64 {
        self.shards[shard()].0.fetch_add(v, Ordering::Relaxed)
    }

    fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// A histogram in per-worker shards, encoded as prometheus-client's own `Histogram` is.
///
/// Each shard is a run of whole cache lines: count, sum (`f64` bits), then one count per
/// bucket (the last one `+Inf`).
#[derive(Debug, Clone)]
pub(crate) struct ShardedHistogram {
    inner: std::sync::Arc<HistogramInner>,
}

#[derive(Debug)]
struct HistogramInner {
    bounds: Box<[f64]>,
    /// `u64`s per shard, a multiple of [`LINE`].
    stride: usize,
    cells: Box<[AtomicU64]>,
}

/// Keeps the cells of one shard off the lines of the next: the allocation itself may start
/// mid-line, so shard 0 and shard 1 share none only with one line of slack between them.
const SLACK: usize = LINE;

impl ShardedHistogram {
    /// Buckets with these upper bounds, plus `+Inf`.
    pub(crate) fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Box<[f64]> = bounds.into_iter().chain([f64::MAX]).collect();
        let used = 2 + bounds.len();
        let stride = used.div_ceil(LINE) * LINE + SLACK;
        let cells = (0..stride * shards()).map(|_| AtomicU64::new(0)).collect();
        Self {
            inner: std::sync::Arc::new(HistogramInner {
                bounds,
                stride,
                cells,
            }),
        }
    }

    /// Adds one observation `v` to the calling worker's shard.
    pub(crate) fn observe(&self, v: f64) {
        let inner = &*self.inner;
        let base = shard() * inner.stride;
        let cells = &inner.cells[base..base + 2 + inner.bounds.len()];
        cells[0].fetch_add(1, Ordering::Relaxed);
        // Uncontended within a worker: the exchange succeeds at once. (Threads that are no
        // worker share shard 0 and may retry.)
        let _ = cells[1].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + v).to_bits())
        });
        if let Some(bucket) = inner.bounds.iter().position(|bound| v <= *bound) {
            cells[2 + bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sum, count and per-bucket counts (not cumulative) over every shard.
    pub(crate) fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let mut buckets: Vec<(f64, u64)> = inner.bounds.iter().map(|b| (*b, 0)).collect();
        let (mut sum, mut count) = (0.0, 0);
        for shard in inner.cells.chunks(inner.stride) {
            count += shard[0].load(Ordering::Relaxed);
            sum += f64::from_bits(shard[1].load(Ordering::Relaxed));
            for (bucket, cell) in buckets.iter_mut().zip(&shard[2..]) {
                bucket.1 += cell.load(Ordering::Relaxed);
            }
        }
        (sum, count, buckets)
    }
}

impl TypedMetric for ShardedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for ShardedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn shards_of_a_counter_add_up() {
        let counter: Counter<u64, ShardedU64> = Counter::default();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    set_worker(i);
                    for _ in 0..1000 {
                        counter.inc();
                    }
                    counter.inc_by(10);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.get(), 4 * 1010);
    }

    #[test]
    fn a_histogram_counts_each_value_in_its_first_bucket_over_every_shard() {
        let histogram = ShardedHistogram::new([1.0, 10.0]);
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let histogram = histogram.clone();
                std::thread::spawn(move || {
                    set_worker(i);
                    histogram.observe(0.5);
                    histogram.observe(10.0);
                    histogram.observe(100.0);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (sum, count, buckets) = histogram.snapshot();
        assert_eq!(count, 9);
        assert!((sum - 3.0 * 110.5).abs() < 1e-9, "{sum}");
        assert_eq!(buckets, vec![(1.0, 3), (10.0, 3), (f64::MAX, 3)]);
    }

    #[test]
    fn shards_sit_on_separate_cache_lines() {
        let histogram = ShardedHistogram::new([1.0; 13]);
        assert_eq!(histogram.inner.stride % LINE, 0);
        assert!(histogram.inner.stride >= 2 + 14 + SLACK);
        assert_eq!(std::mem::align_of::<Padded>(), 64);
    }
}
