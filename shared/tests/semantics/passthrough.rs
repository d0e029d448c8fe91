//! TLS passthrough (`ssl-passthrough`) in the compiled table: per host, to the backend of the
//! host's `/` route, decided by the Ingress that owns that route, only with
//! `--enable-ssl-passthrough` (ingress-nginx annotations.md, "SSL Passthrough"; docs tls.md,
//! "SSL Passthrough"; `getBackendServers` in `internal/ingress/controller/controller.go`:
//! only the `/` location is passed through, other locations are warned about).

use strait_shared::{Reason, Refusal};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";

fn world(enabled: bool, annotations: &[(&str, &str)]) -> World {
    let mut world = World::new();
    world.config.enable_ssl_passthrough = enabled;
    let mut ing = Ing::new("default", "pass")
        .created("2024-01-01T00:00:00Z")
        .rule("pass.example.com", vec![path("Prefix", "/", "web", 80)])
        .rule("*.wild.example.com", vec![path("Prefix", "/", "web", 80)]);
    for (k, v) in annotations {
        ing = ing.annotation(&format!("{NGINX}/{k}"), v);
    }
    world.apply(ing.build());
    world.apply(simple("default", "plain", "plain.example.com"));
    // An exact host under the passthrough wildcard with a rule of its own: terminated.
    world.apply(simple("default", "own", "own.wild.example.com"));
    web_service(&mut world, "default");
    world
}

fn passthrough_addrs(world: &World, name: &str) -> Option<Vec<String>> {
    let table = world.table();
    let backend = table.passthrough(name)?;
    let eps = backend.state.as_ref().ok()?;
    Some(eps.list().iter().map(|e| e.addr.to_string()).collect())
}

/// annotations.md "SSL Passthrough": the host's TLS goes to the backend of its `/` location.
#[test]
fn a_passthrough_host_goes_to_its_root_backend_by_server_name() {
    let world = world(true, &[("ssl-passthrough", "true")]);
    let table = world.table();
    assert!(table.tls().has_passthrough());
    let want = Some(vec!["10.0.0.1:8080".to_owned()]);
    assert_eq!(passthrough_addrs(&world, "pass.example.com"), want);
    assert_eq!(
        passthrough_addrs(&world, "PASS.example.com."),
        want,
        "case, dot"
    );
    assert_eq!(
        passthrough_addrs(&world, "x.wild.example.com"),
        want,
        "wildcard"
    );
    assert_eq!(passthrough_addrs(&world, "own.wild.example.com"), None);
    assert_eq!(passthrough_addrs(&world, "plain.example.com"), None);
    assert_eq!(passthrough_addrs(&world, "nope.example.com"), None);
    let compiled = world.compile();
    assert!(with_reason(&compiled, Reason::UnsupportedAnnotation).is_empty());
}

/// tls.md "SSL Passthrough": disabled by default, needs `--enable-ssl-passthrough`; without
/// it the annotation has no effect (reported here).
#[test]
fn without_the_flag_hosts_are_terminated_and_the_annotation_reported() {
    let world = world(false, &[("ssl-passthrough", "true")]);
    assert!(!world.table().tls().has_passthrough());
    let ignored = with_reason(&world.compile(), Reason::IgnoredAnnotation);
    assert!(
        ignored
            .iter()
            .any(|d| d.contains("--enable-ssl-passthrough")),
        "{ignored:?}"
    );
    assert_eq!(
        served(&world.table(), "pass.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1)])
    );
}

#[test]
fn false_or_invalid_values_are_no_passthrough() {
    assert!(
        !world(true, &[("ssl-passthrough", "false")])
            .table()
            .tls()
            .has_passthrough()
    );
    let invalid = world(true, &[("ssl-passthrough", "yes please")]);
    assert!(!invalid.table().tls().has_passthrough());
    let d = with_reason(&invalid.compile(), Reason::InvalidAnnotation);
    assert!(d.iter().any(|d| d.contains("not a boolean")), "{d:?}");
}

/// Oldest wins: a younger Ingress cannot turn the host of an older one's `/` into a tunnel.
#[test]
fn the_owner_of_the_root_route_decides() {
    let mut world = world(true, &[]);
    world.apply(
        Ing::new("default", "late")
            .created("2024-06-01T00:00:00Z")
            .annotation(&format!("{NGINX}/ssl-passthrough"), "true")
            .rule("pass.example.com", vec![path("Prefix", "/late", "web", 80)])
            .build(),
    );
    assert!(!world.table().tls().has_passthrough());
    let conflicts = with_reason(&world.compile(), Reason::Conflict);
    assert!(
        conflicts
            .iter()
            .any(|d| d.contains("default/pass") && d.contains("late")),
        "{conflicts:?}"
    );
}

/// A rule without a host has no server name to match: reported, served terminated.
#[test]
fn rules_without_a_host_are_not_passed_through() {
    let mut world = World::new();
    world.config.enable_ssl_passthrough = true;
    world.apply(
        Ing::new("default", "any")
            .annotation(&format!("{NGINX}/ssl-passthrough"), "true")
            .rule("", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    web_service(&mut world, "default");
    assert!(!world.table().tls().has_passthrough());
    let d = with_reason(&world.compile(), Reason::InvalidAnnotation);
    assert!(d.iter().any(|d| d.contains("without a host")), "{d:?}");
}

/// A refused `/` route (fail closed) stays refused over HTTPS: no tunnel around it.
#[test]
fn a_refused_root_route_is_not_passed_through() {
    let world = world(
        true,
        &[
            ("ssl-passthrough", "true"),
            ("auth-type", "basic"),
            ("auth-secret", "missing"),
        ],
    );
    let table = world.table();
    assert!(table.passthrough("pass.example.com").is_none());
    let refused = table
        .lookup("pass.example.com", "/")
        .unwrap()
        .route
        .options
        .refused;
    assert_eq!(refused, Some(Refusal::BasicAuthSecret));
}

/// A host whose `/` is not routed has nothing to pass through to (ingress-nginx: "has no
/// default backend, ignoring SSL Passthrough").
#[test]
fn a_host_without_a_root_route_is_not_passed_through() {
    let mut world = World::new();
    world.config.enable_ssl_passthrough = true;
    world.apply(
        Ing::new("default", "sub")
            .annotation(&format!("{NGINX}/ssl-passthrough"), "true")
            .rule("sub.example.com", vec![path("Prefix", "/api", "web", 80)])
            .build(),
    );
    web_service(&mut world, "default");
    assert!(!world.table().tls().has_passthrough());
    let d = with_reason(&world.compile(), Reason::InvalidAnnotation);
    assert!(d.iter().any(|d| d.contains("no route for `/`")), "{d:?}");
}
