use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::paths::PathKind;

fn ep(last: u8, weight: u32) -> Endpoint {
    Endpoint {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), 80),
        weight,
    }
}

/// Picks `n` endpoints the way the proxy does: ticket modulo schedule length.
fn picks(endpoints: &Endpoints, n: usize) -> Vec<u32> {
    let schedule = endpoints.schedule();
    (0..n)
        .map(|_| schedule[endpoints.next_ticket() % schedule.len()])
        .collect()
}

#[test]
fn weights_one_and_three_give_exact_shares_interleaved() {
    let endpoints = Endpoints::new(vec![ep(1, 1), ep(2, 3)]);
    let picked = picks(&endpoints, 400);
    let first = picked.iter().filter(|&&i| i == 0).count();
    assert_eq!(first, 100);
    assert_eq!(picked.len() - first, 300);
    // Interleaved: the light endpoint never gets two picks in a row, the heavy one never
    // more than three.
    assert!(picked.windows(2).all(|w| !(w[0] == 0 && w[1] == 0)));
    assert!(picked.windows(4).all(|w| w.contains(&0)));
    assert_eq!(endpoints.schedule(), &[1, 0, 1, 1]);
}

#[test]
fn schedule_is_reduced_by_common_divisor() {
    let endpoints = Endpoints::new(vec![ep(1, 2), ep(2, 6)]);
    assert_eq!(endpoints.schedule().len(), 4);
    let equal = Endpoints::new(vec![ep(1, 5), ep(2, 5), ep(3, 5)]);
    assert_eq!(equal.schedule(), &[0, 1, 2]);
}

/// Equal weights give `0, 1, …, n-1` whatever the size: small sets read it from a shared
/// table, larger ones get their own.
#[test]
fn equal_weights_schedule_every_endpoint_once_in_order() {
    for n in [1usize, 3, 4096, 4097, 5000] {
        let list = (0..n)
            .map(|i| Endpoint {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32)), 80),
                weight: 2,
            })
            .collect();
        let endpoints = Endpoints::new(list);
        let expected: Vec<u32> = (0..n as u32).collect();
        assert_eq!(endpoints.schedule(), &expected[..], "{n} endpoints");
    }
}

#[test]
fn smooth_schedule_spreads_heavy_weights() {
    let endpoints = Endpoints::new(vec![ep(1, 5), ep(2, 1), ep(3, 1)]);
    assert_eq!(endpoints.schedule(), &[0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn endpoints_are_sorted_deduplicated_and_zero_weights_dropped() {
    let endpoints = Endpoints::new(vec![ep(2, 1), ep(1, 1), ep(2, 2), ep(3, 0)]);
    assert_eq!(endpoints.list(), &[ep(1, 1), ep(2, 3)]);
    assert!(Endpoints::new(vec![ep(1, 0)]).is_empty());
    assert!(Endpoints::new(vec![]).schedule().is_empty());
}

#[test]
fn equal_endpoints_compare_equal_whatever_the_cursor() {
    let a = Endpoints::new(vec![ep(1, 1), ep(2, 1)]);
    let b = Endpoints::new(vec![ep(2, 1), ep(1, 1)]);
    a.next_ticket();
    assert_eq!(a, b);
}

#[test]
fn a_clone_and_another_thread_walk_their_own_cursors() {
    let a = Endpoints::new(vec![ep(1, 1), ep(2, 1)]);
    let first = a.next_ticket();
    assert_eq!(
        a.next_ticket(),
        first.wrapping_add(1),
        "one thread's tickets follow"
    );
    let clone = a.clone();
    let c = clone.next_ticket();
    assert_eq!(clone.next_ticket(), c.wrapping_add(1));
    assert_eq!(
        a.next_ticket(),
        first.wrapping_add(2),
        "the clone moved nothing of a's"
    );
    let elsewhere = std::thread::scope(|s| {
        s.spawn(|| (a.next_ticket(), a.next_ticket()))
            .join()
            .unwrap()
    });
    assert_eq!(elsewhere.1, elsewhere.0.wrapping_add(1));
    assert_eq!(
        a.next_ticket(),
        first.wrapping_add(3),
        "the other thread moved nothing here"
    );
}

fn route(name: &str, backend: BackendId) -> Route {
    Route {
        ingress: ObjectKey::new("ns", name),
        backend,
        options: RouteOptions::default(),
    }
}

fn service(name: &str) -> ServiceRef {
    ServiceRef {
        service: ObjectKey::new("ns", name),
        port: PortRef::Number(80),
    }
}

#[test]
fn builder_shares_backends_per_service_port_and_mode() {
    let mut b = TableBuilder::new();
    let mut calls = 0;
    let mut resolve = |_: &ServiceRef, _: BackendMode| {
        calls += 1;
        Err(Unavailable::NoReadyEndpoints)
    };
    let one = b.backend(service("a"), BackendMode::Pod, &mut resolve);
    let again = b.backend(service("a"), BackendMode::Pod, &mut resolve);
    let other_mode = b.backend(service("a"), BackendMode::Service, &mut resolve);
    assert_eq!(one, again);
    assert_ne!(one, other_mode);
    assert_eq!(calls, 2);
}

#[test]
fn builder_first_claim_wins_and_claim_reports_it() {
    let mut b = TableBuilder::new();
    let id = b.backend(service("a"), BackendMode::Pod, |_, _| {
        Ok(Endpoints::new(vec![ep(1, 1)]))
    });
    let host = HostPattern::Exact("example.com".into());
    assert!(
        b.insert(&host, PathKind::Prefix, "/", route("first", id))
            .is_ok()
    );
    let winner = b.insert(&host, PathKind::Prefix, "/", route("second", id));
    assert_eq!(
        winner.map_err(|r| r.ingress.name.clone()),
        Err("first".to_owned())
    );
    let claimed = b
        .claim(&host, PathKind::Prefix, "/")
        .map(|r| r.ingress.name.as_str());
    assert_eq!(claimed, Some("first"));
    assert!(b.claim(&host, PathKind::Exact, "/").is_none());
    assert!(b.default_backend(route("d1", id)).is_ok());
    assert!(b.default_backend(route("d2", id)).is_err());
    assert_eq!(
        b.current_default_backend().map(|r| r.ingress.name.as_str()),
        Some("d1")
    );
}

#[test]
fn lookup_prefers_exact_host_then_wildcard_then_any() {
    let mut b = TableBuilder::new();
    let id = b.backend(service("a"), BackendMode::Pod, |_, _| {
        Ok(Endpoints::new(vec![ep(1, 1)]))
    });
    let hosts = [
        (HostPattern::Exact("a.example.com".into()), "exact"),
        (HostPattern::Wildcard("example.com".into()), "wild"),
        (HostPattern::Any, "any"),
    ];
    for (host, name) in &hosts {
        b.insert(host, PathKind::Prefix, "/", route(name, id))
            .expect("distinct hosts");
    }
    let table = b.build();
    let owner = |host: &str| {
        table
            .lookup(host, "/x")
            .map(|m| m.route.ingress.name.clone())
    };
    assert_eq!(owner("A.example.com:80").as_deref(), Some("exact"));
    assert_eq!(owner("b.example.com").as_deref(), Some("wild"));
    assert_eq!(owner("other.org").as_deref(), Some("any"));
    assert_eq!(table.route_count(), 3);
    assert_eq!(table.host_count(), 3);
}
