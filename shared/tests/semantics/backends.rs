//! Backends: Service and port resolution, and pod mode.

use serde_json::json;
use strait_shared::table::Unavailable;
use strait_shared::{Reason, Severity};

use crate::support::*;

#[test]
fn missing_service_yields_unavailable_not_fallthrough() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(
        app()
            .rule("a.example.com", vec![path("Prefix", "/api", "gone", 80)])
            .default_backend("web", 80)
            .build(),
    );
    let compiled = world.compile();
    let m = compiled
        .table
        .lookup("a.example.com", "/api/v1")
        .expect("the /api rule matches");
    assert_eq!(m.backend.service.service.name, "gone");
    assert_eq!(endpoints(&m), Err(Unavailable::ServiceMissing));
    let missing: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == Reason::ServiceMissing)
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].severity, Severity::Error);
    assert_eq!(missing[0].object.key.to_string(), "default/app");
}

#[test]
fn missing_port_yields_unavailable() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![
                    path("Prefix", "/num", "web", 81),
                    path_to_port_name("Prefix", "/name", "web", "grpc"),
                ],
            )
            .build(),
    );
    let compiled = world.compile();
    for p in ["/num", "/name"] {
        assert_eq!(
            served(&compiled.table, "a.example.com", p),
            Err(Unavailable::PortMissing),
            "{p}"
        );
    }
    assert_eq!(with_reason(&compiled, Reason::ServicePortMissing).len(), 2);
}

#[test]
fn pod_mode_uses_ready_endpoints_across_slices() {
    let mut world = World::new();
    world.apply(Svc::new("default", "web").port(Some("http"), 80).build());
    let port = [(Some("http"), 8080)];
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &port,
        vec![ready("10.0.0.1"), endpoint("10.0.0.2", false, false, false)],
    ));
    world.apply(slice(
        "default",
        "web-b",
        "web",
        "IPv4",
        &port,
        vec![json!({"addresses": ["10.0.0.3"]}), ready("10.0.0.1")],
    ));
    world.apply(slice(
        "default",
        "other",
        "api",
        "IPv4",
        &port,
        vec![ready("10.0.0.7")],
    ));
    world.apply(app().build());
    assert_eq!(
        web_served(&world),
        ok(&[("10.0.0.1:8080", 1), ("10.0.0.3:8080", 1)])
    );
}

#[test]
fn pod_mode_skips_fqdn_slices() {
    let mut world = World::new();
    world.apply(Svc::new("default", "web").port(Some("http"), 80).build());
    let port = [(Some("http"), 8080)];
    world.apply(slice(
        "default",
        "web-v6",
        "web",
        "IPv6",
        &port,
        vec![ready("fd00::1")],
    ));
    world.apply(slice(
        "default",
        "web-dns",
        "web",
        "FQDN",
        &port,
        vec![ready("db.example.com")],
    ));
    world.apply(app().build());
    assert_eq!(web_served(&world), ok(&[("[fd00::1]:8080", 1)]));
}

#[test]
fn pod_mode_port_resolved_by_name() {
    let mut world = World::new();
    world.apply(
        Svc::new("default", "web")
            .port(Some("http"), 80)
            .port(Some("admin"), 9090)
            .build(),
    );
    let ports_a = [(Some("http"), 8080), (Some("admin"), 9100)];
    let ports_b = [(Some("http"), 8081), (Some("admin"), 9101)];
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &ports_a,
        vec![ready("10.0.0.1")],
    ));
    world.apply(slice(
        "default",
        "web-b",
        "web",
        "IPv4",
        &ports_b,
        vec![ready("10.0.0.2")],
    ));
    world.apply(
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![path_to_port_name("Prefix", "/", "web", "admin")],
            )
            .build(),
    );
    // Each slice gives its own number for the `admin` port.
    assert_eq!(
        web_served(&world),
        ok(&[("10.0.0.1:9100", 1), ("10.0.0.2:9101", 1)])
    );
}

#[test]
fn pod_mode_port_resolved_by_number() {
    let mut world = World::new();
    world.apply(
        Svc::new("default", "web")
            .port(Some("admin"), 9090)
            .port(Some("http"), 80)
            .build(),
    );
    let ports = [(Some("admin"), 9100), (Some("http"), 8080)];
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &ports,
        vec![ready("10.0.0.1")],
    ));
    world.apply(app().build());
    assert_eq!(web_served(&world), ok(&[("10.0.0.1:8080", 1)]));

    // A single unnamed port: absent name in the Service and in the slice are the same.
    let mut world = World::new();
    world.apply(Svc::new("default", "web").port(None, 80).build());
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &[(None, 3000)],
        vec![ready("10.0.0.1")],
    ));
    world.apply(app().build());
    assert_eq!(web_served(&world), ok(&[("10.0.0.1:3000", 1)]));
}

#[test]
fn pod_mode_terminating_serving_used_only_without_ready() {
    let mut world = World::new();
    world.apply(Svc::new("default", "web").port(None, 80).build());
    world.apply(app().build());
    let set = |world: &mut World, eps: Vec<serde_json::Value>| {
        world.apply(slice(
            "default",
            "web-a",
            "web",
            "IPv4",
            &[(None, 8080)],
            eps,
        ));
    };
    let draining = endpoint("10.0.0.2", false, true, true);
    let stopping = endpoint("10.0.0.3", false, false, true);
    set(
        &mut world,
        vec![ready("10.0.0.1"), draining.clone(), stopping.clone()],
    );
    assert_eq!(web_served(&world), ok(&[("10.0.0.1:8080", 1)]));
    set(
        &mut world,
        vec![
            endpoint("10.0.0.1", false, false, false),
            draining,
            stopping.clone(),
        ],
    );
    assert_eq!(web_served(&world), ok(&[("10.0.0.2:8080", 1)]));
    set(&mut world, vec![stopping]);
    assert_eq!(web_served(&world), Err(Unavailable::NoReadyEndpoints));
}

#[test]
fn external_name_service_is_unavailable_with_diagnostic() {
    let mut world = World::new();
    world.apply(
        Svc::new("default", "web")
            .external_name("db.example.com")
            .build(),
    );
    world.apply(app().build());
    assert_eq!(
        web_served(&world),
        Err(Unavailable::ExternalNameUnsupported)
    );
    assert_eq!(
        with_reason(&world.compile(), Reason::UnsupportedBackend).len(),
        1
    );
}

#[test]
fn resource_backend_is_unsupported() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule(
                "a.example.com",
                vec![json!({
                    "path": "/", "pathType": "Prefix",
                    "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}},
                })],
            )
            .build(),
    );
    let compiled = world.compile();
    assert_eq!(with_reason(&compiled, Reason::UnsupportedBackend).len(), 1);
    assert_eq!(compiled.table.route_count(), 0);
}
