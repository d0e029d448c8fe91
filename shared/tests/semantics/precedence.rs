use strait_shared::Reason;

use crate::support::*;

fn claim(namespace: &str, name: &str, created: Option<&str>) -> serde_json::Value {
    let ingress =
        Ing::new(namespace, name).rule("a.example.com", vec![path("Prefix", "/", "web", 80)]);
    match created {
        Some(at) => ingress.created(at).build(),
        None => ingress.build(),
    }
}

fn winner(world: &World) -> Option<String> {
    owner(&world.table(), "a.example.com", "/")
}

const OLD: &str = "2020-01-01T00:00:00Z";
const NEW: &str = "2024-06-01T12:00:00Z";

#[test]
fn rules_merge_across_ingresses_and_namespaces() {
    let mut world = World::new();
    web_service(&mut world, "team-a");
    world.apply(
        Ing::new("team-a", "one")
            .rule("a.example.com", vec![path("Prefix", "/a", "web", 80)])
            .build(),
    );
    world.apply(
        Ing::new("team-b", "two")
            .rule("a.example.com", vec![path("Exact", "/b", "web", 80)])
            .build(),
    );
    let compiled = world.compile();
    let table = &compiled.table;
    assert_eq!(
        owner(table, "a.example.com", "/a/x").as_deref(),
        Some("team-a/one")
    );
    assert_eq!(
        owner(table, "a.example.com", "/b").as_deref(),
        Some("team-b/two")
    );
    // Each backend resolves in its own Ingress's namespace.
    assert!(served(table, "a.example.com", "/a").is_ok());
    let b = table.lookup("a.example.com", "/b").expect("matched");
    assert_eq!(b.backend.service.service.namespace, "team-b");
    assert!(with_reason(&compiled, Reason::Conflict).is_empty());
}

#[test]
fn conflict_older_creation_timestamp_wins() {
    let mut world = World::new();
    world.apply(claim("default", "a", Some(NEW)));
    world.apply(claim("default", "b", Some(OLD)));
    assert_eq!(winner(&world).as_deref(), Some("default/b"));
    world.apply(claim("default", "a", Some(OLD)));
    world.apply(claim("default", "b", Some(NEW)));
    assert_eq!(winner(&world).as_deref(), Some("default/a"));
}

#[test]
fn conflict_tie_broken_by_namespace_then_name() {
    let mut world = World::new();
    world.apply(claim("beta", "a", Some(OLD)));
    world.apply(claim("alpha", "z", Some(OLD)));
    assert_eq!(
        winner(&world).as_deref(),
        Some("alpha/z"),
        "namespace first"
    );
    world.apply(claim("alpha", "b", Some(OLD)));
    assert_eq!(winner(&world).as_deref(), Some("alpha/b"), "then name");
}

#[test]
fn conflict_missing_timestamp_sorts_last() {
    let mut world = World::new();
    world.apply(claim("aaa", "aaa", None));
    world.apply(claim("zzz", "zzz", Some(NEW)));
    assert_eq!(winner(&world).as_deref(), Some("zzz/zzz"));
}

#[test]
fn conflict_loser_gets_diagnostic_and_keeps_other_rules() {
    let mut world = World::new();
    world.apply(claim("default", "winner", Some(OLD)));
    world.apply(
        Ing::new("default", "loser")
            .created(NEW)
            .rule(
                "a.example.com",
                vec![
                    path("Prefix", "/", "web", 80),
                    path("Exact", "/", "web", 80),
                    path("Prefix", "/mine", "web", 80),
                ],
            )
            .build(),
    );
    let compiled = world.compile();
    let table = &compiled.table;
    assert_eq!(
        owner(table, "a.example.com", "/x").as_deref(),
        Some("default/winner")
    );
    // Another pathType on the same path is not a conflict.
    assert_eq!(
        owner(table, "a.example.com", "/").as_deref(),
        Some("default/loser")
    );
    assert_eq!(
        owner(table, "a.example.com", "/mine/x").as_deref(),
        Some("default/loser")
    );
    let conflicts = with_reason(&compiled, Reason::Conflict);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert!(
        conflicts[0].starts_with("Ingress default/loser: "),
        "{}",
        conflicts[0]
    );
    assert!(
        conflicts[0].contains("conflict lost to default/winner"),
        "{}",
        conflicts[0]
    );
}

#[test]
fn default_backend_serves_unmatched() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path("Exact", "/only", "web", 80)])
            .default_backend("web", 80)
            .build(),
    );
    let table = world.table();
    for (host, p) in [("other.org", "/"), ("a.example.com", "/elsewhere")] {
        let m = table.lookup(host, p).expect("default backend answers");
        assert_eq!(m.rank, None, "{host}{p} is the default backend");
        assert_eq!(m.route.ingress.to_string(), "default/app");
        assert_eq!(endpoints(&m), Ok(vec![("10.0.0.1:8080".to_owned(), 1)]));
    }
}

#[test]
fn default_backend_conflict_older_wins() {
    let mut world = World::new();
    let with_default = |name: &str, created: &str| {
        Ing::new("default", name)
            .created(created)
            .default_backend(name, 80)
            .build()
    };
    world.apply(with_default("young", NEW));
    world.apply(with_default("old", OLD));
    let compiled = world.compile();
    let default = compiled.table.default_backend().expect("a default backend");
    assert_eq!(default.ingress.to_string(), "default/old");
    let conflicts = with_reason(&compiled, Reason::Conflict);
    assert_eq!(conflicts.len(), 1);
    assert!(
        conflicts[0]
            .starts_with("Ingress default/young: default backend: conflict lost to default/old")
    );
}

#[test]
fn no_match_without_default_backend_is_none() {
    let mut world = World::new();
    world.apply(simple("default", "app", "a.example.com"));
    let table = world.table();
    assert!(table.lookup("other.org", "/").is_none());
    assert!(table.default_backend().is_none());
}
