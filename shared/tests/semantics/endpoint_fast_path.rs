//! The endpoint fast path (`Index::refresh_endpoints`): after EndpointSlice and Node changes
//! it gives the table a full compile gives, while sharing the routers, certificates and every
//! backend it did not change with the table it started from.

use std::sync::Arc;

use serde_json::json;
use strait_shared::table::Unavailable;
use strait_shared::{BackendMode, EndpointChanges, Kind, ObjectKey, RouteTable};

use crate::support::*;

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

/// Slices of these Services (in `default`) changed.
fn slices_of(services: &[&str]) -> EndpointChanges {
    EndpointChanges {
        services: services.iter().map(|s| key(s)).collect(),
        nodes: false,
    }
}

pub(crate) fn nodes_changed() -> EndpointChanges {
    EndpointChanges {
        nodes: true,
        ..EndpointChanges::default()
    }
}

/// Runs the fast path from `before` over `world` and checks it against a full compile: equal
/// content, routers shared with `before`, backends at the same ids. Returns the new table.
pub(crate) fn refresh(world: &World, before: &RouteTable, changes: &EndpointChanges) -> RouteTable {
    let fast = world
        .index
        .refresh_endpoints(before, changes, &world.config);
    let full = world.table();
    assert_eq!(fast, full, "fast path equals a full compile");
    assert!(
        fast.shares_routes(before),
        "routers are shared, not rebuilt"
    );
    assert!(!full.shares_routes(before), "a full compile builds its own");
    assert_eq!(fast.backends().len(), before.backends().len());
    fast
}

/// Whether the backend serving `host/` is the same allocation in both tables.
fn same_backend(a: &RouteTable, b: &RouteTable, host: &str) -> bool {
    let id = |t: &RouteTable| {
        t.lookup(host, "/")
            .unwrap_or_else(|| panic!("{host}/ matches"))
            .route
            .backend
    };
    Arc::ptr_eq(
        &a.backends()[id(a).0 as usize],
        &b.backends()[id(b).0 as usize],
    )
}

/// Ingress `name` routing `host` Prefix `/` to `service:80`.
fn ingress(name: &str, host: &str, service: &str) -> serde_json::Value {
    Ing::new("default", name)
        .rule(host, vec![path("Prefix", "/", service, 80)])
        .build()
}

/// Services `web` and `api` (port 80 named `http`), each with one ready pod, routed from
/// `web.example.com` and `api.example.com`.
fn pod_world() -> World {
    let mut world = World::new();
    for (service, ip) in [("web", "10.0.0.1"), ("api", "10.0.1.1")] {
        world.apply(Svc::new("default", service).port(Some("http"), 80).build());
        world.apply(http_slice(
            &format!("{service}-1"),
            service,
            vec![ready(ip)],
        ));
        world.apply(ingress(service, &format!("{service}.example.com"), service));
    }
    world
}

/// An IPv4 slice for `service` with port `http` → 8080.
fn http_slice(name: &str, service: &str, endpoints: Vec<serde_json::Value>) -> serde_json::Value {
    slice(
        "default",
        name,
        service,
        "IPv4",
        &[(Some("http"), 8080)],
        endpoints,
    )
}

// ---- pod mode ------------------------------------------------------------------------------

#[test]
fn pod_slice_added_fills_an_empty_backend() {
    let mut world = pod_world();
    world.apply(Svc::new("default", "new").port(Some("http"), 80).build());
    world.apply(ingress("new", "new.example.com", "new"));
    let before = world.table();
    assert_eq!(
        served(&before, "new.example.com", "/"),
        Err(Unavailable::NoReadyEndpoints)
    );
    world.apply(http_slice("new-1", "new", vec![ready("10.0.2.1")]));
    let after = refresh(&world, &before, &slices_of(&["new"]));
    assert_eq!(
        served(&after, "new.example.com", "/"),
        ok(&[("10.0.2.1:8080", 1)])
    );
    assert!(same_backend(&before, &after, "web.example.com"));
    assert!(same_backend(&before, &after, "api.example.com"));
    assert!(!same_backend(&before, &after, "new.example.com"));
}

#[test]
fn pod_slice_changed_updates_only_its_service() {
    let mut world = pod_world();
    let before = world.table();
    world.apply(http_slice(
        "web-1",
        "web",
        vec![ready("10.0.0.1"), ready("10.0.0.2")],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1), ("10.0.0.2:8080", 1)])
    );
    assert!(!same_backend(&before, &after, "web.example.com"));
    assert!(same_backend(&before, &after, "api.example.com"));
}

#[test]
fn pod_second_slice_of_a_service_adds_to_it() {
    let mut world = pod_world();
    let before = world.table();
    world.apply(http_slice("web-2", "web", vec![ready("10.0.0.9")]));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1), ("10.0.0.9:8080", 1)])
    );
}

#[test]
fn pod_slice_removed_leaves_no_ready_endpoints() {
    let mut world = pod_world();
    let before = world.table();
    assert!(world.index.delete(Kind::EndpointSlice, &key("web-1")));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        Err(Unavailable::NoReadyEndpoints)
    );
    assert!(same_backend(&before, &after, "api.example.com"));
}

#[test]
fn pod_slice_relabelled_moves_endpoints_between_services() {
    let mut world = pod_world();
    let before = world.table();
    // web-1 now belongs to api: web loses its pod, api gains it.
    world.apply(http_slice("web-1", "api", vec![ready("10.0.0.1")]));
    let after = refresh(&world, &before, &slices_of(&["web", "api"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        Err(Unavailable::NoReadyEndpoints)
    );
    assert_eq!(
        served(&after, "api.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1), ("10.0.1.1:8080", 1)])
    );
}

#[test]
fn pod_endpoint_going_not_ready_is_dropped() {
    let mut world = pod_world();
    world.apply(http_slice(
        "web-1",
        "web",
        vec![ready("10.0.0.1"), ready("10.0.0.2")],
    ));
    let before = world.table();
    world.apply(http_slice(
        "web-1",
        "web",
        vec![ready("10.0.0.1"), endpoint("10.0.0.2", false, false, false)],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1)])
    );
}

#[test]
fn pod_terminating_only_endpoints_keep_draining() {
    let mut world = pod_world();
    let before = world.table();
    world.apply(http_slice(
        "web-1",
        "web",
        vec![
            endpoint("10.0.0.1", false, true, true),
            endpoint("10.0.0.2", false, false, true),
        ],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        ok(&[("10.0.0.1:8080", 1)])
    );
}

#[test]
fn service_on_two_ports_from_two_ingresses_updates_both_backends() {
    let mut world = pod_world();
    world.apply(
        Svc::new("default", "multi")
            .port(Some("http"), 80)
            .port(Some("admin"), 81)
            .build(),
    );
    let multi_slice = |ips: &[&str]| {
        slice(
            "default",
            "multi-1",
            "multi",
            "IPv4",
            &[(Some("http"), 8080), (Some("admin"), 9090)],
            ips.iter().map(|ip| ready(ip)).collect(),
        )
    };
    world.apply(multi_slice(&["10.0.3.1"]));
    world.apply(ingress("multi-http", "m.example.com", "multi"));
    world.apply(
        Ing::new("default", "multi-admin")
            .rule("admin.example.com", vec![path("Prefix", "/", "multi", 81)])
            .build(),
    );
    let before = world.table();
    world.apply(multi_slice(&["10.0.3.1", "10.0.3.2"]));
    let after = refresh(&world, &before, &slices_of(&["multi"]));
    assert_eq!(
        served(&after, "m.example.com", "/"),
        ok(&[("10.0.3.1:8080", 1), ("10.0.3.2:8080", 1)])
    );
    assert_eq!(
        served(&after, "admin.example.com", "/"),
        ok(&[("10.0.3.1:9090", 1), ("10.0.3.2:9090", 1)])
    );
    assert!(same_backend(&before, &after, "web.example.com"));
}

#[test]
fn slice_of_a_service_no_ingress_uses_changes_nothing() {
    let mut world = pod_world();
    let before = world.table();
    world.apply(http_slice("unused-1", "unused", vec![ready("10.0.9.1")]));
    let after = refresh(&world, &before, &slices_of(&["unused"]));
    assert!(
        before
            .backends()
            .iter()
            .zip(after.backends())
            .all(|(a, b)| Arc::ptr_eq(a, b)),
        "every backend shared"
    );
}

#[test]
fn touched_but_unchanged_backend_is_kept() {
    let mut world = pod_world();
    let before = world.table();
    // Same endpoints in another order: the slice changed, the backend did not.
    world.apply(http_slice(
        "web-1",
        "web",
        vec![endpoint("10.0.0.5", false, false, false), ready("10.0.0.1")],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert!(same_backend(&before, &after, "web.example.com"));
}

#[test]
fn untouched_backends_keep_their_round_robin_position() {
    let mut world = pod_world();
    world.apply(http_slice(
        "api-1",
        "api",
        vec![ready("10.0.1.1"), ready("10.0.1.2"), ready("10.0.1.3")],
    ));
    let before = world.table();
    let ticket = |t: &RouteTable| {
        let m = t.lookup("api.example.com", "/").expect("api matches");
        m.backend.state.as_ref().expect("endpoints").next_ticket()
    };
    let first = ticket(&before);
    assert_eq!(ticket(&before), first.wrapping_add(1));
    world.apply(http_slice("web-1", "web", vec![ready("10.0.0.2")]));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        ticket(&after),
        first.wrapping_add(2),
        "the cursor carries on"
    );
    assert_eq!(
        served(&after, "api.example.com", "/").map(|e| e.len()),
        Ok(3)
    );
}

#[test]
fn no_changes_share_everything() {
    let world = pod_world();
    let before = world.table();
    let after = refresh(&world, &before, &EndpointChanges::default());
    assert!(same_backend(&before, &after, "web.example.com"));
    assert!(same_backend(&before, &after, "api.example.com"));
}

// ---- service mode --------------------------------------------------------------------------

#[test]
fn service_mode_backends_ignore_slice_and_node_changes() {
    let mut world = pod_world();
    world.config.backend_mode = BackendMode::Service;
    let before = world.table();
    assert_eq!(
        served(&before, "web.example.com", "/"),
        ok(&[("10.96.0.10:80", 1)])
    );
    world.apply(http_slice("web-1", "web", vec![ready("10.0.0.7")]));
    world.apply(node("n1", "192.168.0.1", Some(true)));
    let changes = EndpointChanges {
        nodes: true,
        ..slices_of(&["web"])
    };
    let after = refresh(&world, &before, &changes);
    assert!(same_backend(&before, &after, "web.example.com"));
}

// ---- nodeport mode -------------------------------------------------------------------------

/// nodeport mode: nodes n1, n2 (ready); `web` (nodePort 30080, policy `Local` when asked) with
/// one pod on n1; `web.example.com` routes to it and `svc.example.com` routes to `api` in
/// service mode.
fn nodeport_world(local: bool) -> World {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    world.apply(node("n1", "192.168.0.1", Some(true)));
    world.apply(node("n2", "192.168.0.2", Some(true)));
    let web = Svc::new("default", "web").node_port(Some("http"), 80, 30080);
    world.apply(if local { web.local() } else { web }.build());
    world.apply(http_slice(
        "web-1",
        "web",
        vec![ready_on("10.0.0.1", "n1", "p1")],
    ));
    world.apply(ingress("web", "web.example.com", "web"));
    world.apply(Svc::new("default", "api").port(Some("http"), 80).build());
    world.apply(
        Ing::new("default", "api")
            .annotation("strait.dev/backend-mode", "service")
            .rule("svc.example.com", vec![path("Prefix", "/", "api", 80)])
            .build(),
    );
    world
}

#[test]
fn nodeport_cluster_node_added_removed_and_not_ready() {
    let mut world = nodeport_world(false);
    let before = world.table();
    assert_eq!(
        served(&before, "web.example.com", "/"),
        ok(&[("192.168.0.1:30080", 1), ("192.168.0.2:30080", 1)])
    );

    world.apply(node("n3", "192.168.0.3", None));
    let added = refresh(&world, &before, &nodes_changed());
    assert_eq!(
        served(&added, "web.example.com", "/").map(|e| e.len()),
        Ok(3)
    );
    assert!(same_backend(&before, &added, "svc.example.com"));

    assert!(world.index.delete(Kind::Node, &ObjectKey::cluster("n1")));
    let removed = refresh(&world, &added, &nodes_changed());
    assert_eq!(
        served(&removed, "web.example.com", "/"),
        ok(&[("192.168.0.2:30080", 1), ("192.168.0.3:30080", 1)])
    );

    world.apply(node("n2", "192.168.0.2", Some(false)));
    let not_ready = refresh(&world, &removed, &nodes_changed());
    assert_eq!(
        served(&not_ready, "web.example.com", "/"),
        ok(&[("192.168.0.3:30080", 1)])
    );
    assert!(not_ready.shares_routes(&before));
}

#[test]
fn nodeport_cluster_ignores_slice_changes() {
    let mut world = nodeport_world(false);
    let before = world.table();
    world.apply(http_slice(
        "web-1",
        "web",
        vec![ready_on("10.0.0.2", "n2", "p2")],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert!(same_backend(&before, &after, "web.example.com"));
}

#[test]
fn nodeport_local_slice_moved_to_another_node() {
    let mut world = nodeport_world(true);
    let before = world.table();
    assert_eq!(
        served(&before, "web.example.com", "/"),
        ok(&[("192.168.0.1:30080", 1)])
    );
    world.apply(http_slice(
        "web-1",
        "web",
        vec![
            ready_on("10.0.0.2", "n2", "p2"),
            ready_on("10.0.0.3", "n2", "p3"),
        ],
    ));
    let after = refresh(&world, &before, &slices_of(&["web"]));
    assert_eq!(
        served(&after, "web.example.com", "/"),
        ok(&[("192.168.0.2:30080", 2)])
    );
}

#[test]
fn nodeport_local_node_added_not_ready_and_removed() {
    let mut world = nodeport_world(true);
    world.apply(http_slice(
        "web-1",
        "web",
        vec![
            ready_on("10.0.0.1", "n1", "p1"),
            ready_on("10.0.0.3", "n3", "p3"),
        ],
    ));
    let before = world.table();
    // n3 hosts a pod but is not known yet.
    assert_eq!(
        served(&before, "web.example.com", "/"),
        ok(&[("192.168.0.1:30080", 1)])
    );

    world.apply(node("n3", "192.168.0.3", Some(true)));
    let added = refresh(&world, &before, &nodes_changed());
    assert_eq!(
        served(&added, "web.example.com", "/"),
        ok(&[("192.168.0.1:30080", 1), ("192.168.0.3:30080", 1)])
    );

    world.apply(node("n1", "192.168.0.1", Some(false)));
    let not_ready = refresh(&world, &added, &nodes_changed());
    assert_eq!(
        served(&not_ready, "web.example.com", "/"),
        ok(&[("192.168.0.3:30080", 1)])
    );

    assert!(world.index.delete(Kind::Node, &ObjectKey::cluster("n3")));
    let removed = refresh(&world, &not_ready, &nodes_changed());
    assert_eq!(
        served(&removed, "web.example.com", "/"),
        Err(Unavailable::NoReadyEndpoints)
    );
}

#[test]
fn node_change_leaves_pod_mode_backends_alone() {
    let mut world = nodeport_world(false);
    // The same Service in pod mode from another Ingress.
    world.apply(
        Ing::new("default", "web-pods")
            .annotation("strait.dev/backend-mode", "pod")
            .rule("pods.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    let before = world.table();
    world.apply(node("n2", "192.168.0.2", Some(false)));
    let after = refresh(&world, &before, &nodes_changed());
    assert!(same_backend(&before, &after, "pods.example.com"));
    assert!(!same_backend(&before, &after, "web.example.com"));

    // And a slice change reaches both modes of that Service.
    world.apply(http_slice(
        "web-1",
        "web",
        vec![json!({
            "addresses": ["10.0.0.1"], "conditions": {"ready": false}, "nodeName": "n1",
        })],
    ));
    let sliced = refresh(&world, &after, &slices_of(&["web"]));
    assert_eq!(
        served(&sliced, "pods.example.com", "/"),
        Err(Unavailable::NoReadyEndpoints)
    );
    assert!(
        same_backend(&after, &sliced, "web.example.com"),
        "Cluster policy"
    );
}
