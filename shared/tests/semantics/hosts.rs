use strait_shared::Reason;

use crate::support::*;

#[test]
fn host_match_ignores_port() {
    let mut world = World::new();
    world.apply(simple("default", "app", "a.example.com"));
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com:8080", "/").as_deref(),
        Some("default/app")
    );
    assert_eq!(
        owner(&table, "a.example.com:443", "/").as_deref(),
        Some("default/app")
    );
}

#[test]
fn host_match_is_case_insensitive() {
    let mut world = World::new();
    world.apply(simple("default", "app", "A.Example.COM"));
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/").as_deref(),
        Some("default/app")
    );
    assert_eq!(
        owner(&table, "A.EXAMPLE.com", "/").as_deref(),
        Some("default/app")
    );
}

#[test]
fn wildcard_matches_exactly_one_label() {
    let mut world = World::new();
    world.apply(simple("default", "wild", "*.example.com"));
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/").as_deref(),
        Some("default/wild")
    );
    assert_eq!(owner(&table, "example.com", "/"), None);
    assert_eq!(owner(&table, "a.b.example.com", "/"), None);
}

#[test]
fn exact_host_beats_wildcard() {
    let mut world = World::new();
    world.apply(simple("default", "wild", "*.example.com"));
    world.apply(simple("default", "exact", "a.example.com"));
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/x").as_deref(),
        Some("default/exact")
    );
    assert_eq!(
        owner(&table, "b.example.com", "/x").as_deref(),
        Some("default/wild")
    );
}

#[test]
fn host_match_limits_paths_to_that_host() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "api")
            .rule("a.example.com", vec![path("Prefix", "/api", "web", 80)])
            .build(),
    );
    world.apply(simple("default", "catchall", ""));
    world.apply(simple("default", "wild", "*.example.com"));
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/api/v1").as_deref(),
        Some("default/api")
    );
    // The host matched a rule: no fall-through to the wildcard or host-less rules.
    assert_eq!(owner(&table, "a.example.com", "/other"), None);
}

#[test]
fn hostless_rules_serve_unmatched_hosts() {
    let mut world = World::new();
    world.apply(simple("default", "catchall", ""));
    world.apply(simple("default", "app", "a.example.com"));
    let table = world.table();
    assert_eq!(
        owner(&table, "other.org", "/x").as_deref(),
        Some("default/catchall")
    );
    assert_eq!(
        owner(&table, "10.1.2.3:80", "/").as_deref(),
        Some("default/catchall")
    );
    assert_eq!(
        owner(&table, "a.example.com", "/").as_deref(),
        Some("default/app")
    );
}

#[test]
fn invalid_host_skipped_with_diagnostic() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule(
                "bad_host!.example.com",
                vec![path("Prefix", "/", "web", 80)],
            )
            .rule("a.*.example.com", vec![path("Prefix", "/", "web", 80)])
            .rule("good.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::InvalidHost);
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    assert!(
        invalid
            .iter()
            .all(|d| d.starts_with("Ingress default/app: "))
    );
    assert_eq!(compiled.table.route_count(), 1);
    assert!(owner(&compiled.table, "good.example.com", "/").is_some());
}
