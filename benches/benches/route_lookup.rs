//! `RouteTable::lookup` over tables of 10, 1k and 100k routes (exact and wildcard hosts, Exact
//! and Prefix paths, deep prefixes), plus compiling the 1k table.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strait_benches::{Request, hit, index_with_routes, is_wildcard, table_with_routes};
use strait_shared::{CompileConfig, RouteTable};

const SIZES: [(usize, &str); 3] = [(10, "10"), (1_000, "1k"), (100_000, "100k")];

/// Requests of one shape against a table of `routes` routes.
fn cases(routes: usize) -> [(&'static str, Request); 5] {
    let ingresses = routes.div_ceil(strait_benches::PATHS_PER_INGRESS);
    // The last exact-host Ingress, and the last wildcard one (with 10 routes there is only
    // Ingress 0, an exact host).
    let exact = (0..ingresses).rev().find(|&i| !is_wildcard(i)).unwrap_or(0);
    let wild = (0..ingresses).rev().find(|&i| is_wildcard(i)).unwrap_or(0);
    [
        ("exact_host_exact_path", hit(exact, 0)),
        ("exact_host_prefix", hit(exact, 1)),
        ("wildcard_host_deep_prefix", hit(wild, 8)),
        (
            "host_hit_path_miss",
            Request {
                host: hit(exact, 0).host,
                path: "/nothing/here".to_owned(),
            },
        ),
        (
            "host_miss",
            Request {
                host: "unknown.example.org".to_owned(),
                path: "/api/v0/items".to_owned(),
            },
        ),
    ]
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for (routes, label) in SIZES {
        let table: RouteTable = table_with_routes(routes);
        assert_eq!(
            table.route_count(),
            routes,
            "generator makes {routes} routes"
        );
        for (name, request) in cases(routes) {
            let expect_hit = !name.contains("miss");
            let found = table.lookup(&request.host, &request.path).is_some();
            assert_eq!(found, expect_hit, "{name} at {label}: {request:?}");
            group.bench_with_input(BenchmarkId::new(name, label), &request, |b, r| {
                b.iter(|| {
                    table
                        .lookup(black_box(&r.host), black_box(&r.path))
                        .map(|m| m.route.backend)
                })
            });
        }
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let index = index_with_routes(1_000);
    let config = CompileConfig::default();
    c.bench_function("compile/1k", |b| {
        b.iter(|| index.compile(black_box(&config)))
    });
}

criterion_group!(benches, lookup, compile);
criterion_main!(benches);
