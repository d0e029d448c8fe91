//! Files of the size a real cluster dump has, and files built to exhaust the parser.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use strait_shared::{CompileConfig, RouteTable};

use super::*;
use crate::publish::Publisher;

/// `count` Ingresses, one document each, as `kubectl get ingress -o yaml` splits them.
fn ingresses(count: usize) -> String {
    let mut yaml = String::with_capacity(count * 400);
    for i in 0..count {
        write!(
            yaml,
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web-{i}\n  \
             namespace: default\nspec:\n  ingressClassName: strait\n  rules:\n  - host: \
             h{i}.example.com\n    http:\n      paths:\n      - path: /\n        pathType: \
             Prefix\n        backend:\n          service:\n            name: web\n            \
             port:\n              number: 80\n"
        )
        .expect("write to a String");
    }
    yaml
}

#[test]
fn twenty_thousand_documents_in_one_file_parse_and_go_live() {
    const COUNT: usize = 20_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("dump.yaml"), ingresses(COUNT)).expect("write");
    let started = Instant::now();
    let mut dir = ManifestDir::open(tmp.path()).expect("open");
    let report = dir.rescan();
    let parsed = started.elapsed();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(dir.object_count(), COUNT);

    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let mut publisher = Publisher::new(table.clone(), CompileConfig::default());
    publisher.publish(&dir.index());
    let table = table.load();
    for i in [0, COUNT / 2, COUNT - 1] {
        assert!(table.lookup(&format!("h{i}.example.com"), "/").is_some());
    }
    eprintln!(
        "{COUNT} documents: parsed in {parsed:?}, live in {:?}",
        started.elapsed()
    );
}

#[test]
fn a_billion_laughs_file_is_still_rejected_with_a_clear_error() {
    let mut yaml = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let row = [previous.as_str(); 10].join(", ");
        writeln!(yaml, "a{level}: &a{level} [{row}]").expect("write to a String");
    }
    let started = Instant::now();
    let err = parse_file(Path::new("laughs.yaml"), &yaml).expect_err("an alias bomb");
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    let message = err.to_string();
    assert!(message.starts_with("laughs.yaml"), "{message}");
    assert!(message.contains("too large or too complex"), "{message}");
}

#[test]
fn many_empty_documents_are_bounded_by_the_file_size() {
    // 200k document separators: more than the floor of 100k documents, and still accepted
    // (each costs its four bytes), with no object in them.
    let yaml = "---\n".repeat(200_000);
    let objects = parse_file(Path::new("empty.yaml"), &yaml).expect("parses");
    assert!(objects.is_empty());
}
