//! Fuzz target (bolero) for a manifest file: arbitrary bytes as YAML or JSON through
//! [`parse_file`], then into an [`Index`] and through the compile. Nothing may panic; a file
//! that parses parses the same twice, compiles the same twice, and deleting every object it
//! held empties the index again.
//!
//! An ordinary `#[test]`: on stable it replays the committed corpus
//! (`src/manifests/__fuzz__/<target>/corpus`) and then random inputs for
//! `STRAIT_FUZZ_SECONDS` (default 5 s); `cargo bolero test -p strait-controller
//! manifests::fuzz::manifest_parse_compile` runs it under libFuzzer (nightly).

use std::path::Path;
use std::time::Duration;

use bolero::check;
use strait_shared::{CompileConfig, Index};

use super::parse_file;

/// How long the random phase runs: `STRAIT_FUZZ_SECONDS` (fractions allowed), else 5 s.
/// `BOLERO_RANDOM_TEST_TIME_MS` overrides both.
fn budget() -> Duration {
    std::env::var("STRAIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(5))
}

/// The demo's manifests, cut down, and the shapes the parser tests use: every kind, a list,
/// a JSON stream, anchors, YAML 1.1 booleans, a document cut short.
const SEEDS: &[&str] = &[
    "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: strait\n\
     spec:\n  controller: strait.dev/ingress-controller\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: apple\n  namespace: default\nspec:\n\
     \x20 ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n---\n\
     apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: apple-1\n\
     \x20 namespace: default\n  labels:\n    kubernetes.io/service-name: apple\n\
     addressType: IPv4\nendpoints:\n  - addresses: [127.0.0.1]\n    conditions: {ready: true}\n\
     ports:\n  - {name: http, port: 8080, protocol: TCP}\n",
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: demo\n\
     \x20 namespace: default\n  annotations:\n    nginx.ingress.kubernetes.io/ssl-redirect: \"false\"\n\
     spec:\n  ingressClassName: strait\n  tls:\n    - hosts: [secure.demo.local]\n      secretName: tls\n\
     \x20 rules:\n    - host: demo.local\n      http:\n        paths:\n          - path: /\n\
     \x20           pathType: Prefix\n            backend:\n              service:\n\
     \x20               name: apple\n                port: {number: 80}\n\
     \x20   - host: \"*.demo.local\"\n      http:\n        paths:\n          - path: /b\n\
     \x20           pathType: Exact\n            backend: {service: {name: b, port: {name: http}}}\n",
    "apiVersion: v1\nkind: Secret\nmetadata: {name: tls, namespace: default}\n\
     type: kubernetes.io/tls\ndata: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}\n",
    "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n\
     \x20   - {type: InternalIP, address: 10.0.0.1}\n",
    "apiVersion: v1\nkind: List\nitems:\n\
     - {apiVersion: v1, kind: Service, metadata: {name: a, namespace: default}}\n\
     ---\napiVersion: v1\nkind: ServiceList\nitems: []\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: y\n  namespace: on\n  labels: {a: yes, b: n}\n",
    "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n---\n# nothing\n---\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: cut\n  namespa",
    "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"j\"}}\n\
     {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"k\"}}",
];

/// `input[0]` picks the file name (its extension decides the format), the rest is the file.
fn file_holds(input: &[u8]) {
    let Some((&format, contents)) = input.split_first() else {
        return;
    };
    let path = Path::new(if format % 2 == 0 { "f.yaml" } else { "f.json" });
    let contents = String::from_utf8_lossy(contents);
    let Ok(objects) = parse_file(path, &contents) else {
        return;
    };
    assert_eq!(
        parse_file(path, &contents).ok().as_ref(),
        Some(&objects),
        "parsing is deterministic"
    );
    let mut index = Index::new();
    for object in &objects {
        index.apply(object.clone());
    }
    let config = CompileConfig::default();
    let first = index.compile(&config);
    let second = index.compile(&config);
    assert_eq!(first.table, second.table, "compiling is deterministic");
    assert_eq!(first.diagnostics, second.diagnostics);
    for ingress in index.ingresses().values() {
        let rules = ingress.spec.iter().flat_map(|s| s.rules.iter().flatten());
        for host in rules.filter_map(|r| r.host.as_deref()) {
            let _ = first.table.lookup(host, "/");
        }
    }
    for object in &objects {
        index.delete(object.kind(), &object.key());
    }
    assert!(index.is_empty(), "deleting every object empties the index");
}

#[test]
fn manifest_parse_compile() {
    for seed in SEEDS {
        for format in [0, 1] {
            file_holds(&[&[format][..], seed.as_bytes()].concat());
        }
    }
    check!()
        .with_test_time(budget())
        .for_each(|input: &[u8]| file_holds(input));
}
