//! Passive ejection as Envoy's outlier detection defines it (consecutive gateway failures,
//! base ejection time × ejections, max ejection percent, at least one host), with our rule of
//! never ejecting the last endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use strait_shared::Endpoint;

use super::*;
use crate::balancer::{Balancer, RoundRobin, Tried};

fn endpoints(n: u16) -> Endpoints {
    Endpoints::new(
        (1..=n)
            .map(|port| Endpoint {
                addr: SocketAddr::from(([10, 0, 0, 1], port)),
                weight: 1,
            })
            .collect(),
    )
}

fn config() -> OutlierConfig {
    OutlierConfig {
        consecutive_failures: 3,
        base_ejection_time: Duration::from_secs(10),
        max_ejection_time: Duration::from_secs(25),
        max_ejection_percent: 10,
    }
}

/// Reports `n` failures of endpoint `i` at `now`, each after the look a pick takes; whether
/// the last ejected it.
fn fail(eps: &Endpoints, i: usize, n: u32, now: u64) -> bool {
    let state = eps.states().get(i).unwrap();
    (0..n)
        .map(|_| {
            still_ejected(state, now);
            failed(&config(), eps, state, || now)
        })
        .last()
        .unwrap_or(false)
}

fn until(eps: &Endpoints, i: usize) -> u64 {
    eps.states()
        .get(i)
        .unwrap()
        .ejected_until
        .load(Ordering::Relaxed)
}

#[test]
fn the_threshold_in_a_row_ejects_for_the_base_time() {
    let eps = endpoints(3);
    assert!(!fail(&eps, 0, 2, 1000));
    assert_eq!(until(&eps, 0), 0);
    assert!(fail(&eps, 0, 1, 1000));
    assert_eq!(until(&eps, 0), 11_000);
    let state = eps.states().get(0).unwrap();
    assert!(still_ejected(state, 10_999));
    assert!(!still_ejected(state, 11_000), "back after the time");
    assert_eq!(
        until(&eps, 0),
        0,
        "the first look after it ends the ejection"
    );
}

#[test]
fn a_success_resets_the_count() {
    let eps = endpoints(3);
    fail(&eps, 0, 2, 1000);
    assert!(!report(&config(), &eps, 0, Outcome::Success));
    assert!(!fail(&eps, 0, 2, 1000), "two in a row again: not yet");
    assert!(!report(&config(), &eps, 0, Outcome::Neither));
    assert!(fail(&eps, 0, 1, 1000), "neither outcome does not reset");
}

/// Envoy: ejection time = base × times ejected, capped at the max; an endpoint that stays in
/// for the max ejection time starts over.
#[test]
fn each_recent_ejection_lasts_longer_up_to_the_max() {
    let eps = endpoints(3);
    assert!(fail(&eps, 0, 3, 1000));
    assert_eq!(until(&eps, 0), 11_000);
    assert!(fail(&eps, 0, 3, 11_000));
    assert_eq!(until(&eps, 0), 31_000, "2 × 10 s");
    assert!(fail(&eps, 0, 3, 31_000));
    assert_eq!(until(&eps, 0), 56_000, "3 × 10 s, capped at 25 s");
    assert!(fail(&eps, 0, 3, 56_000 + 25_000));
    assert_eq!(
        until(&eps, 0),
        91_000,
        "in for the max time: back to the base"
    );
}

/// 10 % of 3 rounds down to none, but one may always be out; never two of three, never the
/// only endpoint.
#[test]
fn the_share_of_ejected_endpoints_is_bounded() {
    let eps = endpoints(3);
    assert!(fail(&eps, 0, 3, 1000));
    assert!(!fail(&eps, 1, 3, 1000), "a second one of three stays in");
    assert_eq!(until(&eps, 1), 0);
    // Once the first is back, the second may go.
    assert!(fail(&eps, 1, 1, 11_000));
    let one = endpoints(1);
    assert!(
        !fail(&one, 0, 10, 1000),
        "the last endpoint is never ejected"
    );
    assert_eq!(config().max_ejected(20), 2);
    assert_eq!(config().max_ejected(2), 1);
    assert_eq!(config().max_ejected(1), 0);
    let all = OutlierConfig {
        max_ejection_percent: 100,
        ..config()
    };
    assert_eq!(all.max_ejected(4), 3, "never all");
}

#[test]
fn zero_failures_turns_ejection_off() {
    let eps = endpoints(3);
    let off = OutlierConfig {
        consecutive_failures: 0,
        ..config()
    };
    let state = eps.states().get(0).unwrap();
    for _ in 0..100 {
        assert!(!failed(&off, &eps, state, || 1000));
    }
}

/// Round robin passes over an ejected endpoint, and falls back to it only when every other one
/// was tried.
#[test]
fn round_robin_skips_an_ejected_endpoint() {
    let eps = endpoints(3);
    // Far in the future: the test's clock cannot reach it.
    eps.states()
        .get(1)
        .unwrap()
        .ejected_until
        .store(u64::MAX, Ordering::Relaxed);
    for _ in 0..30 {
        assert_ne!(RoundRobin.pick(&eps, &mut Tried::new()), Some(1));
    }
    let mut tried = Tried::new();
    tried.insert(0);
    tried.insert(2);
    assert_eq!(RoundRobin.pick(&eps, &mut tried), Some(1));
}

#[test]
fn statuses_502_to_504_are_gateway_failures() {
    for (status, outcome) in [
        (200, Outcome::Success),
        (500, Outcome::Success),
        (502, Outcome::GatewayFailure),
        (503, Outcome::GatewayFailure),
        (504, Outcome::GatewayFailure),
        (404, Outcome::Success),
    ] {
        let status = http::StatusCode::from_u16(status).unwrap();
        assert_eq!(Outcome::of_status(status), outcome, "{status}");
    }
}
