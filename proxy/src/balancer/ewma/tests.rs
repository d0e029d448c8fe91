//! The peak-EWMA maths (tower's `load/peak_ewma.rs` and Finagle's `PeakEwma` define it:
//! peak on a higher sample, time-weighted blend on a lower one, decay towards zero between
//! updates) and the power-of-two-choices pick over it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use strait_shared::Endpoint;

use super::*;

const MS: f64 = 1e6;

fn ewma(decay: Duration) -> Ewma {
    Ewma::new(&BalanceConfig {
        ewma_decay: decay,
        ..BalanceConfig::default()
    })
}

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

fn state(eps: &Endpoints, i: usize) -> &EndpointState {
    eps.states().get(i).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 1e-3
}

#[test]
fn the_first_sample_is_the_estimate() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(1);
    assert_eq!(e.estimate(state(&eps, 0), 1000), None);
    e.observe_at(state(&eps, 0), 20.0 * MS, false, 1000);
    assert!(close(e.estimate(state(&eps, 0), 1000).unwrap(), 20.0 * MS));
}

/// Between updates the estimate decays as e^(-Δt/τ): after τ it is 1/e of itself.
#[test]
fn the_estimate_decays_with_the_time_constant() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(1);
    e.observe_at(state(&eps, 0), 20.0 * MS, false, 1000);
    let later = e.estimate(state(&eps, 0), 11_000).unwrap();
    assert!(close(later, 20.0 * MS / std::f64::consts::E), "{later}");
    let much_later = e.estimate(state(&eps, 0), 101_000).unwrap();
    assert!(much_later < 0.001 * MS, "{much_later}");
}

/// A sample above the (decayed) estimate replaces it at once: the peak.
#[test]
fn a_higher_sample_is_taken_whole() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(1);
    e.observe_at(state(&eps, 0), 2.0 * MS, false, 1000);
    e.observe_at(state(&eps, 0), 50.0 * MS, false, 1001);
    assert!(close(e.estimate(state(&eps, 0), 1001).unwrap(), 50.0 * MS));
}

/// A lower sample is blended with the weight 1 - e^(-Δt/τ): one τ after a 50 ms estimate, a
/// 10 ms sample gives 50/e + 10 (1 - 1/e) ms.
#[test]
fn a_lower_sample_is_blended_by_elapsed_time() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(1);
    e.observe_at(state(&eps, 0), 50.0 * MS, false, 1000);
    e.observe_at(state(&eps, 0), 10.0 * MS, false, 11_000);
    let d = 1.0 / std::f64::consts::E;
    let want = 50.0 * MS * d + 10.0 * MS * (1.0 - d);
    assert!(close(e.estimate(state(&eps, 0), 11_000).unwrap(), want));
    // Right after an update a lower sample barely moves it: the decay is in wall time.
    e.observe_at(state(&eps, 0), 1.0 * MS, false, 11_001);
    assert!(e.estimate(state(&eps, 0), 11_001).unwrap() > 0.99 * want);
}

/// A failure's time only counts when it raises the estimate: a refused connect, fast as it
/// is, must not make the endpoint look fast.
#[test]
fn a_fast_failure_never_lowers_the_estimate() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(1);
    e.observe_at(state(&eps, 0), 40.0 * MS, false, 1000);
    e.observe_at(state(&eps, 0), 0.1 * MS, true, 6000);
    let decayed = 40.0 * MS * (-0.5f64).exp();
    assert!(close(e.estimate(state(&eps, 0), 6000).unwrap(), decayed));
    e.observe_at(state(&eps, 0), 500.0 * MS, true, 6000);
    assert!(close(e.estimate(state(&eps, 0), 6000).unwrap(), 500.0 * MS));
}

/// Cost = estimate × (in flight + 1) ÷ weight.
#[test]
fn in_flight_requests_multiply_the_cost() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(2);
    e.observe_at(state(&eps, 0), 10.0 * MS, false, 1000);
    assert!(close(e.cost(&eps, 0, None, 1000), 10.0 * MS));
    let _a = InFlight::new(state(&eps, 0));
    let b = InFlight::new(state(&eps, 0));
    assert!(close(e.cost(&eps, 0, None, 1000), 30.0 * MS));
    drop(b);
    assert_eq!(state(&eps, 0).inflight.load(Ordering::Relaxed), 1);
}

/// Of two endpoints P2C always draws both: the cheaper one wins every pick.
#[test]
fn of_two_the_cheaper_always_wins() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(2);
    e.observe_at(state(&eps, 0), 20.0 * MS, false, 1000);
    e.observe_at(state(&eps, 1), 2.0 * MS, false, 1000);
    for _ in 0..100 {
        assert_eq!(e.pick_at(&eps, &Tried::new(), 1000), Some(1));
    }
    // Ten requests in flight on the fast one make it the dearer (2 × 11 > 20).
    let _busy: Vec<_> = (0..10).map(|_| InFlight::new(state(&eps, 1))).collect();
    assert_eq!(e.pick_at(&eps, &Tried::new(), 1000), Some(0));
}

/// Of n endpoints P2C draws a uniform pair: the dearest is never chosen, and the cheapest
/// wins every pair it is in, 2/n of the picks.
#[test]
fn p2c_never_picks_the_dearest_and_favours_the_cheapest() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(4);
    for (i, ms) in [5.0, 10.0, 20.0, 40.0].into_iter().enumerate() {
        e.observe_at(state(&eps, i), ms * MS, false, 1000);
    }
    let mut counts = [0u32; 4];
    for _ in 0..8000 {
        counts[e.pick_at(&eps, &Tried::new(), 1000).unwrap()] += 1;
    }
    assert_eq!(counts[3], 0, "{counts:?}");
    // Expected 4000 (pairs with the cheapest: 3 of 6); 5 sigma is about 220.
    assert!((3700..=4300).contains(&counts[0]), "{counts:?}");
    assert!(counts[0] > counts[1] && counts[1] > counts[2], "{counts:?}");
}

#[test]
fn tried_endpoints_are_never_picked_again() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(3);
    e.observe_at(state(&eps, 0), 1.0 * MS, false, 1000);
    let mut tried = Tried::new();
    tried.insert(0);
    for _ in 0..100 {
        assert_ne!(e.pick_at(&eps, &tried, 1000), Some(0));
    }
    tried.insert(1);
    tried.insert(2);
    assert_eq!(e.pick_at(&eps, &tried, 1000), None);
    assert_eq!(e.pick_at(&endpoints(0), &Tried::new(), 1000), None);
}

/// A new endpoint starts at the estimate of the one it is first compared with (ingress-nginx's
/// slow start), not at zero: it does not take a burst.
#[test]
fn a_new_endpoint_starts_at_its_rivals_estimate() {
    let e = ewma(Duration::from_secs(10));
    let eps = endpoints(2);
    e.observe_at(state(&eps, 0), 8.0 * MS, false, 1000);
    e.pick_at(&eps, &Tried::new(), 1000);
    assert!(close(e.estimate(state(&eps, 1), 1000).unwrap(), 8.0 * MS));
}
