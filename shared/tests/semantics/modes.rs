//! nodeport and service modes, and choosing a mode per Ingress.

use serde_json::json;
use strait_shared::table::Unavailable;
use strait_shared::{BackendMode, Reason, Severity};

use crate::support::*;

/// Nodes n1 (ready), n2 (ready), n3 (not ready), n4 (no conditions: counts as ready).
fn nodes(world: &mut World) {
    world.apply(node("n1", "192.168.0.1", Some(true)));
    world.apply(node("n2", "192.168.0.2", Some(true)));
    world.apply(node("n3", "192.168.0.3", Some(false)));
    world.apply(node("n4", "192.168.0.4", None));
}

#[test]
fn nodeport_cluster_policy_uses_every_ready_node() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    nodes(&mut world);
    world.apply(
        Svc::new("default", "web")
            .node_port(None, 80, 30080)
            .build(),
    );
    world.apply(app().build());
    assert_eq!(
        web_served(&world),
        ok(&[
            ("192.168.0.1:30080", 1),
            ("192.168.0.2:30080", 1),
            ("192.168.0.4:30080", 1)
        ])
    );
}

#[test]
fn nodeport_local_policy_weights_nodes_by_endpoint_count() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    nodes(&mut world);
    world.apply(
        Svc::new("default", "web")
            .node_port(None, 80, 30080)
            .local()
            .build(),
    );
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &[(None, 8080)],
        vec![
            ready_on("10.0.1.1", "n1", "p1"),
            ready_on("10.0.2.1", "n2", "p2"),
            ready_on("10.0.2.2", "n2", "p3"),
        ],
    ));
    // Dual-stack: p2 again in the IPv6 slice must not count twice; p4 is new.
    world.apply(slice(
        "default",
        "web-b",
        "web",
        "IPv6",
        &[(None, 8080)],
        vec![
            ready_on("fd00::21", "n2", "p2"),
            ready_on("fd00::23", "n2", "p4"),
        ],
    ));
    world.apply(app().build());
    let table = world.table();
    assert_eq!(
        served(&table, "a.example.com", "/"),
        ok(&[("192.168.0.1:30080", 1), ("192.168.0.2:30080", 3)])
    );
    let m = table.lookup("a.example.com", "/").expect("matched");
    let eps = m.backend.state.as_ref().expect("endpoints");
    let schedule = eps.schedule();
    let picks: Vec<u32> = (0..400)
        .map(|_| schedule[eps.next_ticket() % schedule.len()])
        .collect();
    let on_n1 = picks
        .iter()
        .filter(|&&i| eps.list()[i as usize].addr.to_string() == "192.168.0.1:30080")
        .count();
    assert_eq!((on_n1, 400 - on_n1), (100, 300), "25% / 75%");
}

#[test]
fn nodeport_local_skips_nodes_without_endpoints() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    nodes(&mut world);
    world.apply(
        Svc::new("default", "web")
            .node_port(None, 80, 30080)
            .local()
            .build(),
    );
    let unready_on_n2 = json!({
        "addresses": ["10.0.2.1"], "conditions": {"ready": false}, "nodeName": "n2",
    });
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &[(None, 8080)],
        vec![
            ready_on("10.0.1.1", "n1", "p1"),
            unready_on_n2,
            ready_on("10.0.3.1", "n3", "p3"),
        ],
    ));
    world.apply(app().build());
    // n2's endpoint is not ready; n3 hosts one but is not ready itself.
    assert_eq!(web_served(&world), ok(&[("192.168.0.1:30080", 1)]));
}

#[test]
fn nodeport_mode_without_node_port_is_unavailable() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    nodes(&mut world);
    web_service(&mut world, "default");
    world.apply(app().build());
    assert_eq!(web_served(&world), Err(Unavailable::NoNodePort));
    assert_eq!(
        with_reason(&world.compile(), Reason::BackendModeUnsupported).len(),
        1
    );
}

#[test]
fn service_mode_uses_cluster_ip() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::Service;
    web_service(&mut world, "default");
    world.apply(app().build());
    assert_eq!(web_served(&world), ok(&[("10.96.0.10:80", 1)]));
}

#[test]
fn service_mode_on_headless_service_is_unavailable() {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::Service;
    world.apply(
        Svc::new("default", "web")
            .port(None, 80)
            .cluster_ip("None")
            .build(),
    );
    world.apply(app().build());
    assert_eq!(web_served(&world), Err(Unavailable::NoClusterIp));
}

fn mode_of(world: &World) -> BackendMode {
    world
        .table()
        .lookup("a.example.com", "/")
        .expect("matched")
        .backend
        .mode
}

/// `web` with a pod endpoint, a nodePort, a ClusterIP, and two ready nodes.
fn every_mode_world() -> World {
    let mut world = World::new();
    nodes(&mut world);
    world.apply(
        Svc::new("default", "web")
            .node_port(Some("http"), 80, 30080)
            .build(),
    );
    world.apply(slice(
        "default",
        "web-a",
        "web",
        "IPv4",
        &[(Some("http"), 8080)],
        vec![ready("10.0.0.1")],
    ));
    world
}

#[test]
fn backend_mode_annotation_overrides_default() {
    let mut world = every_mode_world();
    world.apply(
        app()
            .annotation("strait.dev/backend-mode", "nodeport")
            .build(),
    );
    assert_eq!(mode_of(&world), BackendMode::NodePort);
    assert_eq!(web_served(&world).map(|e| e.len()), Ok(3));
    world.config.backend_mode = BackendMode::Service;
    world.apply(app().annotation("strait.dev/backend-mode", "pod").build());
    assert_eq!(mode_of(&world), BackendMode::Pod);
    assert_eq!(web_served(&world), ok(&[("10.0.0.1:8080", 1)]));
}

#[test]
fn service_upstream_annotation_means_service_mode() {
    let mut world = every_mode_world();
    world.apply(
        app()
            .annotation("nginx.ingress.kubernetes.io/service-upstream", "true")
            .build(),
    );
    assert_eq!(mode_of(&world), BackendMode::Service);
    assert_eq!(web_served(&world), ok(&[("10.96.0.10:80", 1)]));
    // The strait annotation wins when both are set.
    world.apply(
        app()
            .annotation("nginx.ingress.kubernetes.io/service-upstream", "true")
            .annotation("strait.dev/backend-mode", "pod")
            .build(),
    );
    assert_eq!(mode_of(&world), BackendMode::Pod);
}

#[test]
fn invalid_backend_mode_annotation_warns_and_default_applies() {
    let mut world = every_mode_world();
    world.config.backend_mode = BackendMode::NodePort;
    world.apply(
        app()
            .annotation("strait.dev/backend-mode", "teleport")
            .build(),
    );
    assert_eq!(mode_of(&world), BackendMode::NodePort);
    let compiled = world.compile();
    let warnings: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == Reason::InvalidAnnotation)
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert!(
        compiled.table.route_count() == 1,
        "the Ingress still routes"
    );
}
