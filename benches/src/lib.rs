//! Shared generators for Strait's benchmarks: synthetic clusters built through the same path as
//! production (`Object::from_value` → `Index::apply` → `Index::compile`).
#![forbid(unsafe_code)]

pub mod load;

use k8s_openapi::serde_json::{Value, json};
use strait_shared::{CompileConfig, Index, Object, RouteTable};

/// Paths per generated Ingress.
pub const PATHS_PER_INGRESS: usize = 10;
/// Namespaces the generated Ingresses and Services are spread over.
pub const NAMESPACES: usize = 10;

/// One request to look up: raw `Host` header and path.
#[derive(Clone, Debug)]
pub struct Request {
    pub host: String,
    pub path: String,
}

/// A cluster with `routes` host + path routes: one Ingress per [`PATHS_PER_INGRESS`] routes,
/// every fourth host a wildcard, paths a mix of Exact, short Prefix and deep Prefix.
pub fn index_with_routes(routes: usize) -> Index {
    let mut index = Index::new();
    for ns in 0..NAMESPACES {
        for value in web_service(&format!("ns{ns}")) {
            index.apply(decode(value));
        }
    }
    let ingresses = routes.div_ceil(PATHS_PER_INGRESS);
    for i in 0..ingresses {
        let paths = PATHS_PER_INGRESS.min(routes - i * PATHS_PER_INGRESS);
        index.apply(decode(ingress(i, paths)));
    }
    index
}

/// The compiled table for [`index_with_routes`].
pub fn table_with_routes(routes: usize) -> RouteTable {
    index_with_routes(routes)
        .compile(&CompileConfig::default())
        .table
}

/// Host of generated Ingress `i` as a request would carry it (wildcards get a first label).
pub fn request_host(i: usize) -> String {
    if is_wildcard(i) {
        format!("client.w{i}.example.com")
    } else {
        format!("h{i}.example.com")
    }
}

/// The path of route `j` of an Ingress, with its pathType.
pub fn route_path(j: usize) -> (&'static str, String) {
    match j % 3 {
        0 => ("Exact", format!("/api/v{j}/items")),
        1 => ("Prefix", format!("/svc{j}")),
        _ => ("Prefix", format!("/a/b/c/d/e{j}/f/g")),
    }
}

/// A request that hits route `j` of Ingress `i` (below a prefix, where the route is one).
pub fn hit(i: usize, j: usize) -> Request {
    let (kind, path) = route_path(j);
    let path = if kind == "Exact" {
        path
    } else {
        format!("{path}/deeper/still/index.html")
    };
    Request {
        host: format!("{}:443", request_host(i)),
        path,
    }
}

/// Whether generated Ingress `i` has a wildcard host.
pub fn is_wildcard(i: usize) -> bool {
    i % 4 == 3
}

fn ingress(i: usize, paths: usize) -> Value {
    let host = if is_wildcard(i) {
        format!("*.w{i}.example.com")
    } else {
        format!("h{i}.example.com")
    };
    let paths: Vec<Value> = (0..paths)
        .map(|j| {
            let (kind, path) = route_path(j);
            json!({
                "path": path,
                "pathType": kind,
                "backend": {"service": {"name": "web", "port": {"number": 80}}},
            })
        })
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"namespace": format!("ns{}", i % NAMESPACES), "name": format!("ing{i}")},
        "spec": {
            "ingressClassName": "strait",
            "rules": [{"host": host, "http": {"paths": paths}}],
        },
    })
}

fn web_service(namespace: &str) -> [Value; 2] {
    let endpoints: Vec<Value> = (1..=3)
        .map(|n| json!({"addresses": [format!("10.0.0.{n}")], "conditions": {"ready": true}}))
        .collect();
    [
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"namespace": namespace, "name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]},
        }),
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "namespace": namespace,
                "name": "web-1",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": endpoints,
        }),
    ]
}

fn decode(value: Value) -> Object {
    // Generated above from fixed templates: always a known kind with a name.
    Object::from_value(value)
        .expect("generated manifest decodes")
        .expect("generated manifest is a kind Strait reads")
}

/// Host of the regex benchmarks' single-host tables.
pub const REGEX_HOST: &str = "regex.example.com";

/// One Ingress with `use-regex` and `rewrite-target: /$1` on [`REGEX_HOST`], with `paths`
/// paths `/svc<i>/api/v[0-9]+/(.*)`.
pub fn regex_host_index(paths: usize) -> Index {
    let paths: Vec<Value> = (0..paths)
        .map(|i| {
            path_json(
                "ImplementationSpecific",
                &format!("/svc{i}/api/v[0-9]+/(.*)"),
            )
        })
        .collect();
    single_host_index(paths, &[("use-regex", "true"), ("rewrite-target", "/$1")])
}

/// The compiled table for [`regex_host_index`].
pub fn regex_host_table(paths: usize) -> RouteTable {
    regex_host_index(paths)
        .compile(&CompileConfig::default())
        .table
}

/// [`REGEX_HOST`] with the one path `/(a+)+$`: exponential time for a backtracking engine
/// on `/aaa…ab`.
pub fn redos_table() -> RouteTable {
    let paths = vec![path_json("ImplementationSpecific", "/(a+)+$")];
    single_host_index(paths, &[("use-regex", "true")])
        .compile(&CompileConfig::default())
        .table
}

/// [`index_with_routes`], with every `every`-th Ingress (0, `every`, 2·`every`, …; none when
/// `every` is 0) setting `use-regex` and `rewrite-target: /$1`, which makes its host a regex
/// host with a rewrite on each path.
pub fn index_with_regex_hosts(routes: usize, every: usize) -> Index {
    let mut index = index_with_routes(routes);
    if every == 0 {
        return index;
    }
    let ingresses = routes.div_ceil(PATHS_PER_INGRESS);
    for i in (0..ingresses).step_by(every) {
        let paths = PATHS_PER_INGRESS.min(routes - i * PATHS_PER_INGRESS);
        let mut value = ingress(i, paths);
        value["metadata"]["annotations"] = json!({
            "nginx.ingress.kubernetes.io/use-regex": "true",
            "nginx.ingress.kubernetes.io/rewrite-target": "/$1",
        });
        index.apply(decode(value));
    }
    index
}

fn path_json(kind: &str, path: &str) -> Value {
    json!({
        "path": path,
        "pathType": kind,
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    })
}

fn single_host_index(paths: Vec<Value>, annotations: &[(&str, &str)]) -> Index {
    let mut index = Index::new();
    for value in web_service("ns0") {
        index.apply(decode(value));
    }
    let annotations: k8s_openapi::serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), json!(v)))
        .collect();
    index.apply(decode(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"namespace": "ns0", "name": "regex", "annotations": annotations},
        "spec": {
            "ingressClassName": "strait",
            "rules": [{"host": REGEX_HOST, "http": {"paths": paths}}],
        },
    })));
    index
}

/// Nodes the pods of the scale cluster run on (`n0`, `n1`, …), for nodeport mode.
pub const SCALE_NODES: usize = 20;

/// Namespace of Ingress `i` of the scale cluster, its Service and its EndpointSlice.
pub fn scale_namespace(i: usize) -> String {
    format!("ns{}", i % NAMESPACES)
}

/// Ingress `i` of the scale cluster, its own Service and that Service's EndpointSlice of
/// `pods` ready pods. The Ingress `ing{i}` (class `strait`) routes `h{i}.scale.test` with two
/// Prefix paths and one Exact path to the NodePort Service `svc{i}`.
pub fn scale_objects(i: usize, pods: usize) -> [Value; 3] {
    let backend = json!({"service": {"name": format!("svc{i}"), "port": {"number": 80}}});
    let paths: Vec<Value> = [("Prefix", "/"), ("Prefix", "/api"), ("Exact", "/healthz")]
        .iter()
        .map(|(kind, path)| json!({"path": path, "pathType": kind, "backend": backend}))
        .collect();
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"namespace": scale_namespace(i), "name": format!("ing{i}")},
        "spec": {
            "ingressClassName": "strait",
            "rules": [{"host": format!("h{i}.scale.test"), "http": {"paths": paths}}],
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": scale_namespace(i), "name": format!("svc{i}")},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "nodePort": 30_000 + i % 2_000}],
        },
    });
    [ingress, service, scale_slice(i, pods, 0)]
}

/// The EndpointSlice of `svc{i}`: `pods` ready pods spread over [`SCALE_NODES`] nodes, each
/// with its own address in 10.0.0.0/8 (never contacted), the first one shifted by `version`
/// so successive versions differ.
pub fn scale_slice(i: usize, pods: usize, version: usize) -> Value {
    let endpoints: Vec<Value> = (0..pods)
        .map(|k| {
            let n = i * pods + k + if k == 0 { version * 1_000_000 } else { 0 };
            let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
            json!({
                "addresses": [ip],
                "conditions": {"ready": true},
                "nodeName": format!("n{}", (i + k) % SCALE_NODES),
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": scale_namespace(i),
            "name": format!("svc{i}-abcde"),
            "labels": {"kubernetes.io/service-name": format!("svc{i}")},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": endpoints,
    })
}
