//! Regex hosts (`use-regex`, `rewrite-target`; docs/architecture.md, "Regex paths and
//! rewrites"): `RouteTable::lookup` on a host with 1, 100 and 1k regex paths, a plain host of a
//! table that also has regex hosts, the rewrite of a matched path, a pattern that is
//! catastrophic for a backtracking engine, and compiling 10k Ingresses of which 10 % use regex.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strait_benches::{
    REGEX_HOST, Request, hit, index_with_regex_hosts, regex_host_index, regex_host_table,
};
use strait_shared::{CompileConfig, RouteTable};

/// What a lookup on the ReDoS host may take, whatever the path: a millisecond-scale budget
/// (the path regex `^/(a+)+$` against `/aaa…ab` takes exponential time in a backtracking
/// engine such as nginx's PCRE).
const REDOS_BUDGET: Duration = Duration::from_millis(1);

fn regex_host(c: &mut Criterion) {
    let mut group = c.benchmark_group("regex_lookup");
    for (paths, label) in [(1, "1"), (100, "100"), (1_000, "1k")] {
        let table = regex_host_table(paths);
        assert_eq!(table.route_count(), paths);
        let cases = [
            ("first_path", format!("/svc0/api/v2/items/{}", 42)),
            ("last_path", format!("/svc{}/api/v2/items/42", paths - 1)),
            ("miss", "/nothing/here/at/all".to_owned()),
        ];
        for (name, path) in cases {
            let found = table.lookup(REGEX_HOST, &path);
            assert_eq!(found.is_some(), name != "miss", "{name} at {label}");
            group.bench_with_input(BenchmarkId::new(name, label), &path, |b, p| {
                b.iter(|| {
                    table
                        .lookup(black_box(REGEX_HOST), black_box(p))
                        .map(|m| m.route.backend)
                })
            });
        }
        let path = format!("/svc{}/api/v2/items/42?q=1", paths - 1);
        let (plain, _) = path.split_once('?').unwrap_or((&path, ""));
        let m = table.lookup(REGEX_HOST, plain).expect("matches");
        let rewrite = m.route.options.rewrite.clone().expect("rewrites");
        assert_eq!(rewrite.apply(plain).path, "/items/42");
        group.bench_with_input(
            BenchmarkId::new("lookup_and_rewrite", label),
            plain,
            |b, p| {
                b.iter(|| {
                    let m = table.lookup(black_box(REGEX_HOST), black_box(p));
                    m.and_then(|m| m.route.options.rewrite.as_ref().map(|r| r.apply(p)))
                })
            },
        );
    }
    group.finish();
}

/// A plain host's lookup in a table that also has regex hosts costs what it costs in a table
/// without them (compare with `lookup/exact_host_prefix/1k` of the route_lookup bench).
fn plain_beside_regex(c: &mut Criterion) {
    let table: RouteTable = index_with_regex_hosts(1_000, 10)
        .compile(&CompileConfig::default())
        .table;
    let mut group = c.benchmark_group("regex_lookup/mixed_1k");
    let plain: Request = hit(98, 1);
    let regex: Request = hit(90, 1);
    for (name, request) in [("plain_host_prefix", plain), ("regex_host", regex)] {
        assert!(
            table.lookup(&request.host, &request.path).is_some(),
            "{name}: {request:?}"
        );
        group.bench_with_input(BenchmarkId::from_parameter(name), &request, |b, r| {
            b.iter(|| {
                table
                    .lookup(black_box(&r.host), black_box(&r.path))
                    .map(|m| m.route.backend)
            })
        });
    }
    group.finish();
}

/// `^/(a+)+$` against `/aaa…ab` of growing length: linear, within [`REDOS_BUDGET`] even at
/// 64 KiB (over any request line a client can send: `--max-header-bytes`).
fn redos(c: &mut Criterion) {
    let table = strait_benches::redos_table();
    let mut group = c.benchmark_group("regex_lookup/redos");
    for len in [1_024, 8_192, 65_536] {
        let path = format!("/{}b", "a".repeat(len - 2));
        assert!(table.lookup(REGEX_HOST, &path).is_none());
        // Warm the engine's caches, then take the slowest of a few single lookups.
        let _ = table.lookup(REGEX_HOST, &path);
        let slowest = (0..20)
            .map(|_| {
                let started = Instant::now();
                black_box(table.lookup(REGEX_HOST, black_box(&path)));
                started.elapsed()
            })
            .max()
            .unwrap_or_default();
        assert!(
            slowest < REDOS_BUDGET,
            "^/(a+)+$ on {len} bytes took {slowest:?}, over {REDOS_BUDGET:?}"
        );
        group.bench_with_input(BenchmarkId::from_parameter(len), &path, |b, p| {
            b.iter(|| table.lookup(black_box(REGEX_HOST), black_box(p)).is_some())
        });
    }
    group.finish();
}

/// The whole compile of 10k Ingresses (100k routes), every tenth one a regex host with
/// rewrites, beside the same 10k without regex.
fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("regex_lookup/compile_10k");
    group.sample_size(10);
    let config = CompileConfig::default();
    for (name, every) in [("no_regex", 0), ("regex_10pct", 10)] {
        let index = index_with_regex_hosts(100_000, every);
        group.bench_function(name, |b| b.iter(|| index.compile(black_box(&config))));
    }
    let index = regex_host_index(1_000);
    group.bench_function("one_host_1k_regex_paths", |b| {
        b.iter(|| index.compile(black_box(&config)))
    });
    group.finish();
}

criterion_group!(benches, regex_host, plain_beside_regex, redos, compile);
criterion_main!(benches);
