use strait_shared::Reason;
use strait_shared::paths::{MatchRank, PathKind};

use crate::support::*;

fn one_path(kind: &str, p: &str) -> World {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path(kind, p, "web", 80)])
            .build(),
    );
    world
}

fn matches(world: &World, request: &str) -> bool {
    owner(&world.table(), "a.example.com", request).is_some()
}

#[test]
fn exact_path_is_exact_and_case_sensitive() {
    let world = one_path("Exact", "/foo");
    assert!(matches(&world, "/foo"));
    assert!(!matches(&world, "/FOO"));
    assert!(!matches(&world, "/foo/"));
    assert!(!matches(&world, "/foo/bar"));
}

#[test]
fn prefix_matches_whole_segments() {
    let world = one_path("Prefix", "/foo");
    assert!(matches(&world, "/foo"));
    assert!(matches(&world, "/foo/"));
    assert!(matches(&world, "/foo/bar"));
    assert!(!matches(&world, "/foobar"));
}

#[test]
fn prefix_trailing_slash_ignored() {
    let world = one_path("Prefix", "/foo/");
    assert!(matches(&world, "/foo"));
    assert!(matches(&world, "/foo/"));
    assert!(matches(&world, "/foo/bar"));
    assert!(!matches(&world, "/foobar"));
}

#[test]
fn implementation_specific_is_string_prefix() {
    let world = one_path("ImplementationSpecific", "/foo");
    assert!(matches(&world, "/foobar"));
    assert!(matches(&world, "/foo/bar"));
    assert!(!matches(&world, "/fo"));
}

#[test]
fn empty_path_means_root_for_prefix() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![serde_json::json!({
                    "pathType": "Prefix",
                    "backend": backend("web", 80),
                })],
            )
            .build(),
    );
    assert!(matches(&world, "/anything"));
}

#[test]
fn longest_path_wins() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "short")
            .rule("a.example.com", vec![path("Prefix", "/a", "web", 80)])
            .build(),
    );
    world.apply(
        Ing::new("default", "long")
            .rule("a.example.com", vec![path("Prefix", "/a/b", "web", 80)])
            .build(),
    );
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/a/b/c").as_deref(),
        Some("default/long")
    );
    assert_eq!(
        owner(&table, "a.example.com", "/a/bc").as_deref(),
        Some("default/short")
    );
    let rank = table.lookup("a.example.com", "/a/b/c").and_then(|m| m.rank);
    assert_eq!(
        rank,
        Some(MatchRank {
            len: 4,
            kind: PathKind::Prefix
        })
    );
}

#[test]
fn exact_beats_prefix_on_tie() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "prefix")
            .rule("a.example.com", vec![path("Prefix", "/foo", "web", 80)])
            .build(),
    );
    world.apply(
        Ing::new("default", "exact")
            .rule("a.example.com", vec![path("Exact", "/foo", "web", 80)])
            .build(),
    );
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/foo").as_deref(),
        Some("default/exact")
    );
    assert_eq!(
        owner(&table, "a.example.com", "/foo/x").as_deref(),
        Some("default/prefix")
    );
}

#[test]
fn invalid_path_type_skipped_with_diagnostic() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![
                    path("Regex", "/bad", "web", 80),
                    serde_json::json!({"path": "/missing", "backend": backend("web", 80)}),
                    path("Prefix", "/good", "web", 80),
                ],
            )
            .build(),
    );
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::InvalidPathType);
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    assert!(invalid[0].contains("Ingress default/app"));
    let table = &compiled.table;
    assert_eq!(table.route_count(), 1);
    assert!(owner(table, "a.example.com", "/good").is_some());
    assert!(owner(table, "a.example.com", "/bad").is_none());
}

#[test]
fn path_without_leading_slash_skipped_with_diagnostic() {
    let world = one_path("Prefix", "foo");
    let compiled = world.compile();
    assert_eq!(with_reason(&compiled, Reason::InvalidPath).len(), 1);
    assert_eq!(compiled.table.route_count(), 0);
}

#[test]
fn rule_without_paths_serves_root_from_default_backend() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .bare_rule("a.example.com")
            .default_backend("web", 80)
            .build(),
    );
    let table = world.table();
    let m = table
        .lookup("a.example.com", "/x")
        .expect("host root is served");
    assert!(
        m.rank.is_some(),
        "served by a host route, not the table default"
    );
    assert_eq!(m.backend.service.service.name, "web");
}

/// `--strict-validate-path-type` (on by default): ingress-nginx's ConfigMap
/// `strict-validate-path-type` (configmap.md) and its admission e2e test "should return an
/// error if there is an invalid path and wrong pathType is set" (test/e2e/admission/
/// admission.go). ingress-nginx's webhook refuses the whole Ingress; Strait skips the
/// offending `Exact` / `Prefix` path with an `InvalidPath` error and serves the Ingress's other
/// paths: `ImplementationSpecific` ones whatever their characters, and an empty path (which
/// ingress-nginx skips before its check; a `Prefix` one is `/`). Off, the path is
/// served (as the plain prefix it is on a host without regex paths).
#[test]
fn strict_path_type_validation_skips_only_the_offending_path() {
    let ingress = || {
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![
                    path("Prefix", "/api", "web", 80),
                    path("Prefix", "/foo/bar/[a-z]{3}", "web", 80),
                    path("Exact", "/x+y", "web", 80),
                    path("ImplementationSpecific", "/any+thing", "web", 80),
                ],
            )
            .rule("b.example.com", vec![path("Prefix", "", "web", 80)])
            .build()
    };
    let mut world = World::new();
    world.apply(ingress());
    let compiled = world.compile();
    let errors = with_reason(&compiled, Reason::InvalidPath);
    assert_eq!(errors.len(), 2, "{errors:?}");
    for offending in ["Prefix path \"/foo/bar/[a-z]{3}\"", "Exact path \"/x+y\""] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(offending) && e.contains("--strict-validate-path-type")),
            "{offending}: {errors:?}"
        );
    }
    let table = &compiled.table;
    let app = Some("default/app");
    assert_eq!(owner(table, "a.example.com", "/api/v1").as_deref(), app);
    assert_eq!(
        owner(table, "a.example.com", "/any+thing/1").as_deref(),
        app
    );
    assert_eq!(owner(table, "a.example.com", "/foo/bar/[a-z]{3}"), None);
    assert_eq!(owner(table, "a.example.com", "/x+y"), None);
    assert_eq!(owner(table, "b.example.com", "/any").as_deref(), app);

    world.config.strict_validate_path_type = false;
    let compiled = world.compile();
    assert!(with_reason(&compiled, Reason::InvalidPath).is_empty());
    let table = &compiled.table;
    assert_eq!(
        owner(table, "a.example.com", "/foo/bar/[a-z]{3}/x").as_deref(),
        app
    );
    assert_eq!(owner(table, "a.example.com", "/x+y").as_deref(), app);
}
