//! Fuzz targets (bolero) for the pure parsers of this crate: annotation values and the
//! registry review, host patterns and request-host normalisation, path lookup in a table.
//!
//! Each `check!()` is an ordinary `#[test]`: on stable it replays the committed corpus
//! (`src/__fuzz__/<target>/corpus`) and then random inputs for `STRAIT_FUZZ_SECONDS` (default
//! 5 s); `cargo bolero test -p strait-shared fuzz::<target>` runs it under libFuzzer (nightly).
//! Inputs are bytes decoded here, so corpus files stay human-readable.

use std::collections::BTreeMap;
use std::time::Duration;

use bolero::check;
use serde_json::json;

use crate::annotations;
use crate::host::{HostPattern, normalise_request_host};
use crate::{CompileConfig, Index, Object, RouteTable};

/// How long each target's random phase runs: `STRAIT_FUZZ_SECONDS` (fractions allowed), else
/// 5 s, so the default `cargo test` stays short. `BOLERO_RANDOM_TEST_TIME_MS` overrides both.
pub(crate) fn budget() -> Duration {
    std::env::var("STRAIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(5))
}

const PREFIX: &str = crate::config::DEFAULT_ANNOTATIONS_PREFIX;

/// Values worth trying under every registry key: booleans, numbers, units, lists, CIDRs, URLs,
/// and the awkward ones (empty, whitespace, signs, huge numbers, non-ASCII).
const SAMPLE_VALUES: &[&str] = &[
    "",
    " ",
    "true",
    "false",
    "True",
    "0",
    "1",
    "-1",
    "off",
    "on",
    "10",
    "10s",
    "1m",
    "5k",
    "1.5",
    "18446744073709551616",
    "http",
    "HTTPS",
    "GRPC",
    "/",
    "/$1",
    "/app(/|$)(.*)",
    "10.0.0.0/8, 192.0.2.1",
    "::1/128",
    "https://auth.example.com/check",
    "$host$request_uri",
    "a,b,,c",
    "é",
    "\u{0}",
];

/// An Ingress of our class with `annotations`, routing `example.com/` to `svc:80`, and its
/// Service.
fn objects(annotations: BTreeMap<String, String>) -> [Object; 2] {
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "fuzz", "namespace": "default", "annotations": annotations},
        "spec": {"ingressClassName": "strait", "rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "svc", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]}
    });
    [ingress, service].map(|v| Object::from_value(v).expect("fixture").expect("kind"))
}

/// `key=value` lines; a key without `/` is an ingress-nginx key under the default prefix.
fn annotation_map(input: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(input)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            let key = if k.contains('/') {
                k.to_owned()
            } else {
                format!("{PREFIX}/{k}")
            };
            (key, v.to_owned())
        })
        .collect()
}

/// Review and compile an Ingress with these annotations: nothing panics, `parse_bool` ignores
/// surrounding whitespace, the review has one finding per key, and compiling is deterministic.
fn annotations_hold(annotations: BTreeMap<String, String>) {
    for value in annotations.values() {
        assert_eq!(
            annotations::parse_bool(value),
            annotations::parse_bool(value.trim())
        );
    }
    let [ingress, service] = objects(annotations.clone());
    let Object::Ingress(ingress_obj) = &ingress else {
        unreachable!("objects() returns the Ingress first")
    };
    let review = annotations::review(ingress_obj, PREFIX);
    assert!(review.findings.len() <= annotations.len());
    let mut index = Index::new();
    index.apply(ingress);
    index.apply(service);
    let config = CompileConfig::default();
    let first = index.compile(&config);
    let second = index.compile(&config);
    assert_eq!(first.table, second.table);
    assert_eq!(first.diagnostics, second.diagnostics);
    for (host, path) in [
        ("example.com", "/"),
        ("EXAMPLE.com:80", "/x"),
        ("other", ""),
    ] {
        let _ = first.table.lookup(host, path);
    }
}

#[test]
fn annotations_review_and_compile() {
    // The fixture is not vacuous: without annotations it routes.
    let [ingress, service] = objects(BTreeMap::new());
    let mut index = Index::new();
    index.apply(ingress);
    index.apply(service);
    let table = index.compile(&CompileConfig::default()).table;
    assert!(table.lookup("example.com", "/").is_some());

    // Seeds from the registry: every key with every sample value.
    for spec in annotations::keys() {
        let key = spec.full_name(PREFIX);
        for value in SAMPLE_VALUES {
            annotations_hold(BTreeMap::from([(key.clone(), (*value).to_owned())]));
        }
    }
    check!()
        .with_test_time(budget())
        .for_each(|input: &[u8]| annotations_hold(annotation_map(input)));
}

/// A small table: exact, wildcard and host-less rules with Prefix, Exact and
/// ImplementationSpecific paths, and a regex host (`use-regex`, `rewrite-target`).
fn small_table() -> RouteTable {
    let path = |p: &str, kind: &str| {
        json!({"path": p, "pathType": kind,
               "backend": {"service": {"name": "svc", "port": {"number": 80}}}})
    };
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "table", "namespace": "default"},
        "spec": {"ingressClassName": "strait", "rules": [
            {"host": "example.com", "http": {"paths": [
                path("/", "Prefix"), path("/api", "Prefix"), path("/api/v1/", "Prefix"),
                path("/exact", "Exact"), path("/é/ü", "Prefix")]}},
            {"host": "*.example.com", "http": {"paths": [
                path("/", "Prefix"), path("/static", "ImplementationSpecific")]}},
            {"http": {"paths": [path("/any", "Prefix")]}}]}
    });
    let annotations = BTreeMap::from([
        (format!("{PREFIX}/use-regex"), "true"),
        (format!("{PREFIX}/rewrite-target"), "/$1"),
    ]);
    let regex = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "regex", "namespace": "default", "annotations": annotations},
        "spec": {"ingressClassName": "strait", "rules": [
            {"host": "rx.example.com", "http": {"paths": [
                path("/api/(.*)", "ImplementationSpecific"), path("/x|/b", "Prefix"),
                path("/exact", "Exact"), path("/", "Prefix")]}}]}
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "svc", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]}
    });
    let mut index = Index::new();
    for value in [ingress, regex, service] {
        index.apply(Object::from_value(value).expect("fixture").expect("kind"));
    }
    let table = index.compile(&CompileConfig::default()).table;
    assert!(table.lookup("a.example.com", "/static/x").is_some());
    let rewritten = table
        .lookup("rx.example.com", "/API/v1")
        .expect("regex host");
    assert!(rewritten.route.options.rewrite.is_some());
    table
}

/// Host pattern and request host: a pattern that parses matches its own name and round-trips
/// through `Display`; a request host that normalises to a routable name normalises to itself
/// again and routes like that name; lookup never panics.
fn hosts_hold(table: &RouteTable, host: &str, path: &str) {
    match HostPattern::parse(host) {
        Ok(pattern @ HostPattern::Exact(_)) => {
            assert!(pattern.matches(&normalise_request_host(host)), "{host:?}");
            assert_eq!(HostPattern::parse(&pattern.to_string()), Ok(pattern));
        }
        Ok(pattern @ HostPattern::Wildcard(_)) => {
            let HostPattern::Wildcard(suffix) = &pattern else {
                unreachable!("matched above")
            };
            assert!(pattern.matches(&format!("a.{suffix}")), "{host:?}");
            assert_eq!(HostPattern::parse(&pattern.to_string()), Ok(pattern));
        }
        Ok(HostPattern::Any) => assert!(host.is_empty()),
        Err(_) => {}
    }
    let normal = normalise_request_host(host);
    if let Ok(HostPattern::Exact(name)) = HostPattern::parse(&normal) {
        assert_eq!(name, normal, "{host:?} normalises to a lower-case name");
        assert_eq!(normalise_request_host(&normal), normal, "{host:?}");
        let raw = table.lookup(host, path).map(|m| m.route);
        let normalised = table.lookup(&normal, path).map(|m| m.route);
        assert_eq!(raw, normalised, "{host:?} {path:?}");
    }
    if let Some(m) = table.lookup(host, path)
        && let Some(rewrite) = &m.route.options.rewrite
        && path.starts_with('/')
    {
        assert!(
            rewrite.apply(path).path.starts_with('/'),
            "{host:?} {path:?}"
        );
    }
}

/// Seeds: hosts and paths from the host and path tests.
const HOST_SEEDS: &[(&str, &str)] = &[
    ("example.com", "/"),
    ("Example.COM:8080", "/api/v1"),
    ("example.com.", "/api/"),
    ("a.example.com", "/static/x"),
    ("*.example.com", "/exact"),
    ("[::1]:80", "/any"),
    ("::1", "//"),
    ("10.0.0.1:443", "/é/ü/"),
    ("a.b.example.com", "/apix"),
    ("", ""),
    ("-bad-.com", "*"),
    ("rx.example.com", "/q/b"),
    ("RX.example.com:80", "/api/%2F../x"),
];

#[test]
fn host_and_path_lookup() {
    // The table is only read; a panic fails the test before anything observes it again.
    let table = std::panic::AssertUnwindSafe(small_table());
    for (host, path) in HOST_SEEDS {
        hosts_hold(&table, host, path);
    }
    // Input: host, a newline, path (the path is the rest, newlines included).
    check!().with_test_time(budget()).for_each(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        let (host, path) = text.split_once('\n').unwrap_or((&text, "/"));
        hosts_hold(&table, host, path);
    });
}
