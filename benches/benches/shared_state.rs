//! What one request touches in state shared by the proxy's workers, from 1 to 16 threads at
//! once (issue 17: "must not serialise on any shared lock, atomic or refcount per request").
//!
//! - `per_worker`: what the data path does now — `ArcSwap::load` of the table (no reference
//!   count written), the route lookup, and a round-robin ticket from the thread's own cursor
//!   (`Endpoints::next_ticket`).
//! - `shared_counts`: the same work the way it was done before the per-core rework —
//!   `load_full` (an `Arc` clone and drop of the one table: two writes to one cache line every
//!   thread shares) and a ticket from one atomic cursor all threads advance.
//!
//! Reported: core time per request (wall time × the cores in use ÷ requests made). Flat across
//! thread counts means nothing serialises; a shared cache line written per request makes it
//! grow as soon as two cores run. On the 2-core standard machine threads beyond 2 share the
//! cores, so only the 1 → 2 step can show contention; run it on a bigger, quiet machine for
//! the rest.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strait_benches::{hit, table_with_routes};
use strait_shared::RouteTable;

const THREADS: [usize; 5] = [1, 2, 4, 8, 16];

/// Runs `op` `iters` times on each of `threads` threads at once; returns the core time of
/// `iters` calls (criterion divides by `iters`).
fn per_thread(threads: usize, iters: u64, op: &(impl Fn() + Sync)) -> Duration {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let busy = u32::try_from(threads.min(cores)).unwrap_or(u32::MAX);
    let threads_u32 = u32::try_from(threads).unwrap_or(u32::MAX);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..iters {
                    op();
                }
            });
        }
    });
    started.elapsed() * busy / threads_u32
}

fn shared_state(c: &mut Criterion) {
    let table: Arc<ArcSwap<RouteTable>> = Arc::new(ArcSwap::from_pointee(table_with_routes(1_000)));
    let request = hit(0, 1);
    let shared_cursor = AtomicUsize::new(0);
    let mut group = c.benchmark_group("request_shared_state");
    for threads in THREADS {
        group.bench_with_input(
            BenchmarkId::new("per_worker", threads),
            &threads,
            |b, &n| {
                let op = || {
                    let guard = table.load();
                    let found = guard.lookup(black_box(&request.host), black_box(&request.path));
                    if let Some(Ok(endpoints)) = found.map(|m| m.backend.state.as_ref()) {
                        black_box(endpoints.next_ticket());
                    }
                };
                b.iter_custom(|iters| per_thread(n, iters, &op));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("shared_counts", threads),
            &threads,
            |b, &n| {
                let op = || {
                    let full = table.load_full();
                    let found = full.lookup(black_box(&request.host), black_box(&request.path));
                    if found.is_some_and(|m| m.backend.state.is_ok()) {
                        black_box(shared_cursor.fetch_add(1, Ordering::Relaxed));
                    }
                };
                b.iter_custom(|iters| per_thread(n, iters, &op));
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = shared_state
}
criterion_main!(benches);
