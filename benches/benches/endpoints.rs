//! The cost of endpoint churn at scale: a full `compile` against the endpoint fast path
//! (`Index::apply` of one EndpointSlice or Node, then `Index::refresh_endpoints`).
//!
//! The cluster: N Ingresses (1k and 10k), each with its own host, three paths and its own
//! Service whose EndpointSlice lists 5 ready pods (50k endpoints at 10k); pod mode, and for
//! the Node case nodeport mode over 20 nodes.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use k8s_openapi::serde_json::{Value, json};
use strait_shared::{BackendMode, CompileConfig, EndpointChanges, Index, Object, ObjectKey};

const SIZES: [(usize, &str); 2] = [(1_000, "1k"), (10_000, "10k")];
const NAMESPACES: usize = 10;
const PODS_PER_SERVICE: usize = 5;
const NODES: usize = 20;

fn namespace(i: usize) -> String {
    format!("ns{}", i % NAMESPACES)
}

fn service_key(i: usize) -> ObjectKey {
    ObjectKey::new(namespace(i), format!("svc{i}"))
}

/// A unique pod address: the `n`th in 10.0.0.0/8.
fn pod_ip(n: usize) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

fn ingress(i: usize) -> Value {
    let backend = json!({"service": {"name": format!("svc{i}"), "port": {"number": 80}}});
    let paths: Vec<Value> = [("Prefix", "/"), ("Prefix", "/api"), ("Exact", "/healthz")]
        .iter()
        .map(|(kind, path)| json!({"path": path, "pathType": kind, "backend": backend}))
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"namespace": namespace(i), "name": format!("ing{i}")},
        "spec": {
            "ingressClassName": "strait",
            "rules": [{"host": format!("h{i}.example.com"), "http": {"paths": paths}}],
        },
    })
}

/// Service `svc{i}`: port 80 named `http`, with a nodePort.
fn service(i: usize) -> Value {
    let node_port = 30_000 + i % 2_000;
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": namespace(i), "name": format!("svc{i}")},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "nodePort": node_port}],
        },
    })
}

/// The EndpointSlice of `svc{i}`: 5 ready pods, the first address shifted by `version` so
/// successive versions differ.
fn slice(i: usize, version: usize) -> Value {
    let endpoints: Vec<Value> = (0..PODS_PER_SERVICE)
        .map(|k| {
            let n = i * PODS_PER_SERVICE + k + if k == 0 { version * 1_000_000 } else { 0 };
            json!({
                "addresses": [pod_ip(n)],
                "conditions": {"ready": true},
                "nodeName": format!("n{}", (i + k) % NODES),
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace(i),
            "name": format!("svc{i}-abcde"),
            "labels": {"kubernetes.io/service-name": format!("svc{i}")},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": endpoints,
    })
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

fn cluster(ingresses: usize) -> Index {
    let mut index = Index::new();
    for n in 0..NODES {
        index.apply(decode(node(n, true)));
    }
    for i in 0..ingresses {
        index.apply(decode(service(i)));
        index.apply(decode(slice(i, 0)));
        index.apply(decode(ingress(i)));
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
    for (size, label) in SIZES {
        let index = cluster(size);
        let table = index.compile(&config).table;
        assert_eq!(table.route_count(), size * 3);
        assert_eq!(table.backends().len(), size);
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
        let world = (cluster(size), config(BackendMode::Pod));
        let versions = [slice(i, 0), slice(i, 1)];
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
    let world = (cluster(10_000), config(BackendMode::NodePort));
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
