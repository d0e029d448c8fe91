//! The cost of endpoint churn at scale: a full `compile` against the endpoint fast path
//! (`Index::apply` of one EndpointSlice or Node, then `Index::refresh_endpoints`).
//!
//! The cluster ([`strait_benches::scale_objects`]): N Ingresses (1k and 10k), each with its
//! own host, three paths and its own Service whose EndpointSlice lists 5 ready pods (50k
//! endpoints at 10k); pod mode, and for the Node case nodeport mode over 20 nodes. The full
//! compile also runs 1k Ingresses with 50 pods each (`1k_50k_endpoints`): 50k endpoints behind
//! a tenth of the routes.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use k8s_openapi::serde_json::{Value, json};
use strait_benches::{SCALE_NODES, scale_namespace, scale_objects, scale_slice};
use strait_shared::{BackendMode, CompileConfig, EndpointChanges, Index, Object, ObjectKey};

const SIZES: [(usize, &str); 2] = [(1_000, "1k"), (10_000, "10k")];
const PODS_PER_SERVICE: usize = 5;
/// The full-compile cases: Ingresses, pods per Service, and the case's name. The last one is
/// 50k endpoints behind only 1k Ingresses.
const FULL_COMPILE: [(usize, usize, &str); 3] = [
    (1_000, PODS_PER_SERVICE, "1k"),
    (10_000, PODS_PER_SERVICE, "10k"),
    (1_000, 50, "1k_50k_endpoints"),
];

fn service_key(i: usize) -> ObjectKey {
    ObjectKey::new(scale_namespace(i), format!("svc{i}"))
}

fn node(n: usize, ready: bool) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": format!("n{n}")},
        "status": {
            "addresses": [{"type": "InternalIP", "address": format!("192.168.{}.{}", n / 256, n % 256)}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        },
    })
}

fn decode(value: Value) -> Object {
    // Generated above from fixed templates: always a known kind with a name.
    Object::from_value(value)
        .expect("generated manifest decodes")
        .expect("generated manifest is a kind Strait reads")
}

fn cluster(ingresses: usize, pods: usize) -> Index {
    let mut index = Index::new();
    for n in 0..SCALE_NODES {
        index.apply(decode(node(n, true)));
    }
    for i in 0..ingresses {
        for object in scale_objects(i, pods) {
            index.apply(decode(object));
        }
    }
    index
}

fn config(mode: BackendMode) -> CompileConfig {
    CompileConfig {
        backend_mode: mode,
        ..CompileConfig::default()
    }
}

fn full_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("endpoints/full_compile");
    group.sample_size(10);
    let config = config(BackendMode::Pod);
    for (size, pods, label) in FULL_COMPILE {
        let index = cluster(size, pods);
        let table = index.compile(&config).table;
        assert_eq!(table.route_count(), size * 3);
        assert_eq!(table.backends().len(), size);
        let endpoints: usize = table
            .backends()
            .iter()
            .map(|backend| {
                backend
                    .state
                    .as_ref()
                    .map_or(0, |endpoints| endpoints.len())
            })
            .sum();
        assert_eq!(endpoints, size * pods);
        group.bench_with_input(BenchmarkId::from_parameter(label), &index, |b, index| {
            b.iter(|| index.compile(black_box(&config)))
        });
    }
    group.finish();
}

/// Applies one changed object and runs the fast path from the current table, alternating
/// between two versions of the object so every apply is a real change.
fn bench_change(
    c: &mut Criterion,
    group: &str,
    label: &str,
    (mut index, config): (Index, CompileConfig),
    changes: &EndpointChanges,
    versions: [Value; 2],
) {
    let mut table = index.compile(&config).table;
    // The fast path must give what a full compile gives, and share the routers.
    index.apply(decode(versions[1].clone()));
    let fast = index.refresh_endpoints(&table, changes, &config);
    assert!(fast.shares_routes(&table));
    assert_ne!(fast, table, "the change reaches the table");
    assert_eq!(fast, index.compile(&config).table);
    table = fast;

    let objects = versions.map(decode);
    // versions[1] is applied: the first iteration applies versions[0].
    let mut next = 1;
    c.benchmark_group(group)
        .bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter_batched(
                || {
                    next ^= 1;
                    objects[next].clone()
                },
                |object| {
                    index.apply(object);
                    table = index.refresh_endpoints(&table, changes, &config);
                },
                BatchSize::SmallInput,
            )
        });
}

fn slice_change(c: &mut Criterion) {
    for (size, label) in SIZES {
        let i = size / 2;
        let changes = EndpointChanges {
            services: BTreeSet::from([service_key(i)]),
            nodes: false,
        };
        let world = (cluster(size, PODS_PER_SERVICE), config(BackendMode::Pod));
        let versions = [
            scale_slice(i, PODS_PER_SERVICE, 0),
            scale_slice(i, PODS_PER_SERVICE, 1),
        ];
        bench_change(
            c,
            "endpoints/slice_change",
            label,
            world,
            &changes,
            versions,
        );
    }
}

fn node_change(c: &mut Criterion) {
    let changes = EndpointChanges {
        services: BTreeSet::new(),
        nodes: true,
    };
    let world = (
        cluster(10_000, PODS_PER_SERVICE),
        config(BackendMode::NodePort),
    );
    let versions = [node(0, true), node(0, false)];
    bench_change(
        c,
        "endpoints/node_change_nodeport",
        "10k",
        world,
        &changes,
        versions,
    );
}

criterion_group!(benches, full_compile, slice_change, node_change);
criterion_main!(benches);
