//! Canary Ingresses (docs/architecture.md, "Canary"): a canary joins the routes it names
//! (ingress-nginx's `mergeAlternativeBackends`; annotations.md "Canary"), never claims them.

use strait_shared::{Reason, RouteTable};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// Service `name` with one ready pod `ip`:8080 in `namespace`.
fn service(world: &mut World, namespace: &str, name: &str, ip: &str) {
    world.apply(Svc::new(namespace, name).port(Some("http"), 80).build());
    world.apply(slice(
        namespace,
        &format!("{name}-1"),
        name,
        "IPv4",
        &[(Some("http"), 8080)],
        vec![ready(ip)],
    ));
}

fn canary(namespace: &str, name: &str, host: &str, service: &str) -> Ing {
    Ing::new(namespace, name)
        .annotation(&format!("{NGINX}/canary"), "true")
        .annotation(&format!("{NGINX}/canary-weight"), "30")
        .rule(host, vec![path("Prefix", "/", service, 80)])
}

/// The canary's Service name and Ingress on the route for `host` + `path`.
fn canary_of(table: &RouteTable, host: &str, path: &str) -> Option<(String, String)> {
    let m = table.lookup(host, path)?;
    let canary = m.route.options.canary.as_ref()?;
    let backend = table.backend(canary.backend);
    Some((
        backend.service.service.name.clone(),
        canary.ingress.to_string(),
    ))
}

/// canary.go "should route requests to the correct upstream if mainline ingress is created
/// after the canary ingress": the main Ingress owns the route whatever the ages; the canary
/// (from another namespace too) joins it with its weight, and claims nothing itself.
#[test]
fn a_canary_joins_the_route_it_names_and_never_owns_it() {
    let mut world = World::new();
    web_service(&mut world, "default");
    service(&mut world, "other", "web-canary", "10.0.0.9");
    world.apply(
        canary("other", "canary", "a.example.com", "web-canary")
            .created("2024-01-01T00:00:00Z")
            .build(),
    );
    world.apply(app().created("2024-06-01T00:00:00Z").build());
    let compiled = world.compile();
    assert_eq!(
        owner(&compiled.table, "a.example.com", "/").as_deref(),
        Some("default/app")
    );
    assert_eq!(
        canary_of(&compiled.table, "a.example.com", "/"),
        Some(("web-canary".into(), "other/canary".into()))
    );
    let m = compiled.table.lookup("a.example.com", "/").unwrap();
    let canary = m.route.options.canary.as_ref().unwrap();
    assert_eq!((canary.weight, canary.weight_total), (30, 100));
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
}

/// The trap of kubernetes/ingress-nginx#9458 avoided: another route to the main Service does
/// not get the canary; a path no Ingress serves, a second canary and a canary on the main
/// Service are reported and change nothing.
#[test]
fn a_canary_reaches_only_its_routes_and_mistakes_are_reported() {
    let mut world = World::new();
    web_service(&mut world, "default");
    service(&mut world, "default", "web-canary", "10.0.0.9");
    service(&mut world, "default", "web-canary-2", "10.0.0.10");
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .rule("b.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    world.apply(
        canary("default", "first", "a.example.com", "web-canary")
            .created("2024-01-01T00:00:00Z")
            .rule(
                "nowhere.example.com",
                vec![path("Prefix", "/", "web-canary", 80)],
            )
            .build(),
    );
    world.apply(
        canary("default", "second", "a.example.com", "web-canary-2")
            .created("2024-02-01T00:00:00Z")
            .build(),
    );
    world.apply(canary("default", "same", "b.example.com", "web").build());
    let compiled = world.compile();
    assert_eq!(
        canary_of(&compiled.table, "a.example.com", "/"),
        Some(("web-canary".into(), "default/first".into()))
    );
    assert_eq!(canary_of(&compiled.table, "b.example.com", "/"), None);
    assert_eq!(compiled.table.lookup("nowhere.example.com", "/"), None);
    let conflicts = with_reason(&compiled, Reason::Conflict);
    assert_eq!(conflicts.len(), 3, "{conflicts:?}");
    assert!(
        conflicts
            .iter()
            .any(|m| m.contains("default/second") && m.contains("one canary per rule"))
    );
    assert!(conflicts.iter().any(|m| m.contains("nowhere.example.com")));
    assert!(
        conflicts
            .iter()
            .any(|m| m.contains("main route's own Service"))
    );
}

/// annotations.md "Canary": other annotations on a canary Ingress are not applied; the
/// Ingress says so. Invalid canary values take ingress-nginx's defaults.
#[test]
fn other_keys_on_a_canary_are_reported_as_ignored() {
    let mut world = World::new();
    web_service(&mut world, "default");
    service(&mut world, "default", "web-canary", "10.0.0.9");
    world.apply(app().build());
    world.apply(
        canary("default", "canary", "a.example.com", "web-canary")
            .annotation(&format!("{NGINX}/canary-weight"), "half")
            .annotation(&format!("{NGINX}/canary-by-header-pattern"), "(?<=x)y")
            .annotation(&format!("{NGINX}/canary-by-header"), "X-Canary")
            .annotation(&format!("{NGINX}/auth-url"), "http://auth.example/")
            .annotation(&format!("{NGINX}/rewrite-target"), "/")
            .build(),
    );
    let compiled = world.compile();
    let ignored = with_reason(&compiled, Reason::IgnoredAnnotation);
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert!(ignored[0].contains("auth-url") && ignored[0].contains("rewrite-target"));
    assert!(!ignored[0].contains("canary-weight"));
    let invalid = with_reason(&compiled, Reason::InvalidAnnotation);
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    let m = compiled.table.lookup("a.example.com", "/").unwrap();
    let canary = m.route.options.canary.as_ref().unwrap();
    assert_eq!(canary.weight, 0);
    assert_eq!(m.route.options.refused, None, "the main route is served");
}

/// A canary joins a route of a regex host too (its path is the main Ingress's, as written).
#[test]
fn a_canary_joins_a_regex_route() {
    let mut world = World::new();
    web_service(&mut world, "default");
    service(&mut world, "default", "web-canary", "10.0.0.9");
    world.apply(
        Ing::new("default", "app")
            .annotation(&format!("{NGINX}/use-regex"), "true")
            .rule(
                "a.example.com",
                vec![path("ImplementationSpecific", "/api/v[0-9]+/", "web", 80)],
            )
            .build(),
    );
    world.apply(
        Ing::new("default", "canary")
            .annotation(&format!("{NGINX}/canary"), "true")
            .annotation(&format!("{NGINX}/canary-weight"), "10")
            .rule(
                "a.example.com",
                vec![path(
                    "ImplementationSpecific",
                    "/api/v[0-9]+/",
                    "web-canary",
                    80,
                )],
            )
            .build(),
    );
    let compiled = world.compile();
    assert_eq!(
        canary_of(&compiled.table, "a.example.com", "/api/v2/items"),
        Some(("web-canary".into(), "default/canary".into())),
        "{:?}",
        compiled.diagnostics
    );
}
