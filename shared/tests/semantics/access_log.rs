//! Access log per Ingress: every route is logged unless its owning Ingress sets
//! `enable-access-log: "false"` (ingress-nginx's annotation, or ours, which wins).

use strait_shared::{Reason, RouteTable};

use crate::support::*;

/// Whether requests to `host` + `path` are access-logged; panics when nothing matches.
fn logged(table: &RouteTable, host: &str, path: &str) -> bool {
    table
        .lookup(host, path)
        .unwrap_or_else(|| panic!("{host}{path} matches a route"))
        .route
        .options
        .access_log
}

#[test]
fn access_log_on_by_default() {
    let mut world = World::new();
    world.apply(app().default_backend("web", 80).build());
    let table = world.table();
    assert!(logged(&table, "a.example.com", "/"));
    assert!(table.default_backend().expect("set").options.access_log);
}

#[test]
fn enable_access_log_false_turns_it_off_for_that_ingress_only() {
    let mut world = World::new();
    world.apply(simple("default", "a", "a.example.com"));
    world.apply(
        Ing::new("default", "quiet")
            .rule("a.example.com", vec![path("Prefix", "/health", "web", 80)])
            .default_backend("web", 80)
            .annotation("nginx.ingress.kubernetes.io/enable-access-log", "false")
            .build(),
    );
    let table = world.table();
    assert!(logged(&table, "a.example.com", "/"));
    assert!(!logged(&table, "a.example.com", "/health"));
    assert!(!table.default_backend().expect("set").options.access_log);
}

#[test]
fn strait_enable_access_log_annotation_wins() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation("nginx.ingress.kubernetes.io/enable-access-log", "true")
            .annotation("strait.dev/enable-access-log", "false")
            .build(),
    );
    assert!(!logged(&world.table(), "a.example.com", "/"));
    world.apply(
        app()
            .annotation("nginx.ingress.kubernetes.io/enable-access-log", "false")
            .annotation("strait.dev/enable-access-log", "true")
            .build(),
    );
    assert!(logged(&world.table(), "a.example.com", "/"));
}

#[test]
fn invalid_enable_access_log_warns_and_defaults_on() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation("nginx.ingress.kubernetes.io/enable-access-log", "off")
            .build(),
    );
    let compiled = world.compile();
    let warnings = with_reason(&compiled, Reason::InvalidAnnotation);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("enable-access-log"), "{warnings:?}");
    assert!(logged(&compiled.table, "a.example.com", "/"));
}
