//! Endpoint choice. [`RoundRobin`] walks a backend's precomputed weighted schedule; the trait
//! leaves room for latency-aware balancing later.

use std::fmt::Debug;
use std::net::SocketAddr;

use strait_shared::Endpoints;

/// Chooses the endpoint for one upstream attempt.
pub trait Balancer: Send + Sync + Debug {
    /// An endpoint of `endpoints`, or `None` when there is none. `exclude` is an address that
    /// just failed; it is avoided when another endpoint exists.
    fn pick(&self, endpoints: &Endpoints, exclude: Option<SocketAddr>) -> Option<SocketAddr>;
}

/// Smooth weighted round-robin over [`Endpoints::schedule`], sharing the table's lock-free
/// cursor, so every connection and request spreads over the same schedule.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin;

impl Balancer for RoundRobin {
    fn pick(&self, endpoints: &Endpoints, exclude: Option<SocketAddr>) -> Option<SocketAddr> {
        let schedule = endpoints.schedule();
        let list = endpoints.list();
        if schedule.is_empty() {
            return None;
        }
        let start = endpoints.next_ticket();
        let at = |step: usize| {
            let slot = schedule[start.wrapping_add(step) % schedule.len()];
            // `schedule` holds indices into `list` by construction; `get` keeps a broken table
            // from panicking.
            list.get(slot as usize).map(|e| e.addr)
        };
        let first = at(0)?;
        match exclude {
            Some(bad) if bad == first && list.len() > 1 => (1..schedule.len())
                .filter_map(at)
                .find(|addr| *addr != bad)
                .or(Some(first)),
            _ => Some(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use strait_shared::Endpoint;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn endpoints(weights: &[(u16, u32)]) -> Endpoints {
        Endpoints::new(
            weights
                .iter()
                .map(|&(port, weight)| Endpoint {
                    addr: addr(port),
                    weight,
                })
                .collect(),
        )
    }

    fn counts(eps: &Endpoints, picks: usize, exclude: Option<SocketAddr>) -> HashMap<u16, usize> {
        let mut counts = HashMap::new();
        for _ in 0..picks {
            let picked = RoundRobin.pick(eps, exclude).expect("an endpoint");
            *counts.entry(picked.port()).or_default() += 1;
        }
        counts
    }

    #[test]
    fn weights_one_to_three_give_25_and_75_percent() {
        let eps = endpoints(&[(1, 1), (2, 3)]);
        let counts = counts(&eps, 400, None);
        assert_eq!(counts[&1], 100);
        assert_eq!(counts[&2], 300);
    }

    #[test]
    fn equal_weights_alternate() {
        let eps = endpoints(&[(1, 1), (2, 1)]);
        let picks: Vec<u16> = (0..4)
            .map(|_| RoundRobin.pick(&eps, None).unwrap().port())
            .collect();
        assert_eq!(picks, [1, 2, 1, 2]);
    }

    #[test]
    fn exclude_is_skipped_when_another_endpoint_exists() {
        let eps = endpoints(&[(1, 1), (2, 3)]);
        let counts = counts(&eps, 100, Some(addr(2)));
        assert_eq!(counts.get(&1), Some(&100));
        assert_eq!(counts.get(&2), None);
    }

    #[test]
    fn exclude_of_the_only_endpoint_still_returns_it() {
        let eps = endpoints(&[(1, 1)]);
        assert_eq!(RoundRobin.pick(&eps, Some(addr(1))), Some(addr(1)));
    }

    #[test]
    fn no_endpoints_pick_nothing() {
        let eps = Endpoints::new(Vec::new());
        assert_eq!(RoundRobin.pick(&eps, None), None);
    }
}
