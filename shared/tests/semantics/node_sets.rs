//! nodeport backends and Node changes (docs/architecture.md, "Backends" and "Nodeport
//! endpoint sets"): every backend of one nodePort in `externalTrafficPolicy: Cluster` shares
//! one endpoint set, built once per compile or endpoint refresh, so a Node change rebuilds a
//! set per nodePort and swaps a pointer per backend; `Local` backends keep sets of their own,
//! weighted by their own pods. The policies are Kubernetes's (Service concept, "Traffic
//! policies", `externalTrafficPolicy`: `Cluster` routes to all ready endpoints, `Local` only to
//! node-local ones); ingress-nginx has no nodeport mode, so there is no e2e test of its to
//! follow.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use strait_shared::{BackendMode, Endpoints, Kind, ObjectKey, RouteTable};

use crate::endpoint_fast_path::{nodes_changed, refresh};
use crate::support::*;

/// The endpoint set serving `host/`.
fn set<'t>(table: &'t RouteTable, host: &str) -> &'t Endpoints {
    let m = table
        .lookup(host, "/")
        .unwrap_or_else(|| panic!("{host}/ matches"));
    m.backend.state.as_ref().expect("endpoints")
}

/// nodeport mode over ready nodes n1 and n2, with Services in `Cluster` policy: `web`
/// (nodePort 30080, port 80 named `http`), routed from `num.example.com` by port number and
/// from `name.example.com` by port name (two backends, one nodePort), and `api` (nodePort
/// 30081) routed from `api.example.com`.
fn cluster_world() -> World {
    let mut world = World::new();
    world.config.backend_mode = BackendMode::NodePort;
    world.apply(node("n1", "192.168.0.1", Some(true)));
    world.apply(node("n2", "192.168.0.2", Some(true)));
    for (service, node_port) in [("web", 30080), ("api", 30081)] {
        world.apply(
            Svc::new("default", service)
                .node_port(Some("http"), 80, node_port)
                .build(),
        );
    }
    world.apply(
        Ing::new("default", "by-number")
            .rule("num.example.com", vec![path("Prefix", "/", "web", 80)])
            .rule("api.example.com", vec![path("Prefix", "/", "api", 80)])
            .build(),
    );
    world.apply(
        Ing::new("default", "by-name")
            .rule(
                "name.example.com",
                vec![path_to_port_name("Prefix", "/", "web", "http")],
            )
            .build(),
    );
    world
}

/// Every `Cluster` backend follows a Node change (added, not ready, removed), the fast path
/// gives what a full compile gives, and the backends of one nodePort share one set in both.
#[test]
fn node_change_updates_every_cluster_nodeport_backend_and_one_set_per_node_port() {
    let mut world = cluster_world();
    let before = world.table();
    let two_nodes = |port: u16| {
        ok(&[
            (&*format!("192.168.0.1:{port}"), 1),
            (&*format!("192.168.0.2:{port}"), 1),
        ])
    };
    assert_eq!(served(&before, "num.example.com", "/"), two_nodes(30080));
    assert_eq!(served(&before, "name.example.com", "/"), two_nodes(30080));
    assert_eq!(served(&before, "api.example.com", "/"), two_nodes(30081));

    world.apply(node("n3", "192.168.0.3", Some(true)));
    let added = refresh(&world, &before, &nodes_changed());
    for (host, port) in [
        ("num.example.com", 30080),
        ("name.example.com", 30080),
        ("api.example.com", 30081),
    ] {
        let list = served(&added, host, "/").expect("serves");
        assert_eq!(list.len(), 3, "{host}");
        assert!(list.contains(&(format!("192.168.0.3:{port}"), 1)), "{host}");
    }

    world.apply(node("n1", "192.168.0.1", Some(false)));
    let not_ready = refresh(&world, &added, &nodes_changed());
    assert!(world.index.delete(Kind::Node, &ObjectKey::cluster("n2")));
    let removed = refresh(&world, &not_ready, &nodes_changed());
    for host in ["num.example.com", "name.example.com"] {
        assert_eq!(
            served(&removed, host, "/"),
            ok(&[("192.168.0.3:30080", 1)]),
            "{host}"
        );
    }
    assert_eq!(
        served(&removed, "api.example.com", "/"),
        ok(&[("192.168.0.3:30081", 1)])
    );

    for table in [&before, &added, &not_ready, &removed, &world.table()] {
        let (num, name) = (
            set(table, "num.example.com"),
            set(table, "name.example.com"),
        );
        assert!(num.shares_set(name), "one set per nodePort");
        assert!(!num.shares_set(set(table, "api.example.com")));
    }
}

/// Backends sharing a set still rotate on their own: each has its own round-robin cursor.
#[test]
fn backends_sharing_a_set_keep_their_own_round_robin() {
    let world = cluster_world();
    let table = world.table();
    let (num, name) = (
        set(&table, "num.example.com"),
        set(&table, "name.example.com"),
    );
    assert!(num.shares_set(name));
    let first = num.next_ticket();
    let other = name.next_ticket();
    assert_eq!(num.next_ticket(), first.wrapping_add(1));
    assert_eq!(
        name.next_ticket(),
        other.wrapping_add(1),
        "not moved by num"
    );
}

/// `Local` backends keep sets of their own through a Node change, each weighted by the ready
/// pods of its own Service on each usable node, never the nodePort's `Cluster` set.
#[test]
fn local_policy_backends_stay_distinct_through_a_node_change() {
    let mut world = cluster_world();
    world.apply(node("n3", "192.168.0.3", Some(true)));
    for (service, node_port) in [("one", 30090), ("two", 30091)] {
        world.apply(
            Svc::new("default", service)
                .node_port(Some("http"), 80, node_port)
                .local()
                .build(),
        );
    }
    let http = [(Some("http"), 8080)];
    world.apply(slice(
        "default",
        "one-1",
        "one",
        "IPv4",
        &http,
        vec![ready_on("10.0.1.1", "n1", "p1")],
    ));
    world.apply(slice(
        "default",
        "two-1",
        "two",
        "IPv4",
        &http,
        vec![
            ready_on("10.0.2.1", "n1", "q1"),
            ready_on("10.0.2.2", "n2", "q2"),
            ready_on("10.0.2.3", "n2", "q3"),
        ],
    ));
    world.apply(
        Ing::new("default", "locals")
            .rule("one.example.com", vec![path("Prefix", "/", "one", 80)])
            .rule("two.example.com", vec![path("Prefix", "/", "two", 80)])
            .build(),
    );
    let before = world.table();
    assert_eq!(
        served(&before, "one.example.com", "/"),
        ok(&[("192.168.0.1:30090", 1)])
    );
    assert_eq!(
        served(&before, "two.example.com", "/"),
        ok(&[("192.168.0.1:30091", 1), ("192.168.0.2:30091", 2)])
    );

    world.apply(node("n1", "192.168.0.1", Some(false)));
    let after = refresh(&world, &before, &nodes_changed());
    assert_eq!(
        served(&after, "one.example.com", "/"),
        Err(strait_shared::table::Unavailable::NoReadyEndpoints)
    );
    assert_eq!(
        served(&after, "two.example.com", "/"),
        ok(&[("192.168.0.2:30091", 2)])
    );
    assert_eq!(
        served(&after, "num.example.com", "/").map(|l| l.len()),
        Ok(2),
        "Cluster: n2 and n3"
    );

    world.apply(node("n1", "192.168.0.1", Some(true)));
    let back = refresh(&world, &after, &nodes_changed());
    let two = set(&back, "two.example.com");
    assert!(!two.shares_set(set(&back, "one.example.com")));
    assert!(!two.shares_set(set(&back, "num.example.com")));
    assert_eq!(
        served(&back, "one.example.com", "/"),
        ok(&[("192.168.0.1:30090", 1)])
    );
}

/// What the proxy learned of a nodeport endpoint (EWMA, failures, ejection) survives a Node
/// change through the fast path and a full compile (`RouteTable::carry_endpoint_state`), one
/// state per address, seen alike by every backend of the nodePort.
#[test]
fn node_change_keeps_what_the_proxy_learned_of_nodeport_endpoints() {
    let mut world = cluster_world();
    let before = world.table();
    let failures = |table: &RouteTable, host: &str, addr: &str| {
        let eps = set(table, host);
        let i = eps
            .list()
            .iter()
            .position(|e| e.addr.to_string() == addr)
            .unwrap_or_else(|| panic!("{addr} serves {host}"));
        eps.states()
            .get(i)
            .expect("a state per endpoint")
            .failures
            .load(Ordering::Relaxed)
    };
    let num = set(&before, "num.example.com");
    num.states()
        .get(0)
        .expect("192.168.0.1:30080")
        .failures
        .store(3, Ordering::Relaxed);
    assert_eq!(
        failures(&before, "name.example.com", "192.168.0.1:30080"),
        3
    );

    world.apply(node("n3", "192.168.0.3", Some(true)));
    let added = refresh(&world, &before, &nodes_changed());
    for host in ["num.example.com", "name.example.com"] {
        assert_eq!(failures(&added, host, "192.168.0.1:30080"), 3, "{host}");
        assert_eq!(failures(&added, host, "192.168.0.3:30080"), 0, "{host}");
    }

    let mut compiled = world.table();
    compiled.carry_endpoint_state(&added);
    assert!(set(&compiled, "num.example.com").shares_set(set(&compiled, "name.example.com")));
    for host in ["num.example.com", "name.example.com"] {
        assert_eq!(failures(&compiled, host, "192.168.0.1:30080"), 3, "{host}");
    }
}

/// A Node change that leaves the usable nodes as they were (here: a new ExternalIP) changes no
/// backend: the table shares every one, and with them their cursors and states.
#[test]
fn node_change_that_keeps_the_usable_nodes_shares_every_backend() {
    let mut world = cluster_world();
    let before = world.table();
    let mut n2 = node("n2", "192.168.0.2", Some(true));
    n2["status"]["addresses"]
        .as_array_mut()
        .expect("addresses")
        .push(serde_json::json!({"type": "ExternalIP", "address": "203.0.113.2"}));
    world.apply(n2);
    let after = refresh(&world, &before, &nodes_changed());
    assert!(
        before
            .backends()
            .iter()
            .zip(after.backends())
            .all(|(a, b)| Arc::ptr_eq(a, b)),
        "every backend shared"
    );
}
