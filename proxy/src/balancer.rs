//! Endpoint choice. [`RoundRobin`] walks a backend's precomputed weighted schedule, skipping
//! the endpoints a request has already tried ([`Tried`]); [`ewma`] balances by latency
//! (`load-balance: ewma`). Both pass over endpoints that passive outlier ejection ([`eject`])
//! has set aside; [`attempt`] reports each attempt's outcome to its endpoint's state.

use std::fmt::Debug;

use strait_shared::Endpoints;

// Session affinity and consistent hashing: the first attempt's endpoint chosen from the
// request (docs/architecture.md, "Session affinity and consistent hashing").
pub(crate) mod affinity;
mod attempt;
pub(crate) mod eject;
pub(crate) mod ewma;

pub(crate) use attempt::Attempt;
pub use ewma::Ewma;

/// Chooses the endpoint for one upstream attempt.
pub trait Balancer: Send + Sync + Debug {
    /// The index in `endpoints.list()` of an endpoint not in `tried`, or `None` when there is
    /// none (no endpoint at all, or every one was tried). `tried` also keeps where the
    /// request's first pick was, for a balancer that walks on from there.
    fn pick(&self, endpoints: &Endpoints, tried: &mut Tried) -> Option<usize>;
}

/// The endpoints one request has tried, by index in its backend's list: a bitset on the stack
/// for the first 64, on the heap past them (only a retry on a backend that large pays it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tried {
    first: u64,
    rest: Vec<u64>,
    /// The round-robin ticket of the request's first pick.
    ticket: Option<usize>,
}

impl Tried {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, index: usize) {
        if index < 64 {
            self.first |= 1 << index;
            return;
        }
        let (word, bit) = (index / 64 - 1, index % 64);
        if self.rest.len() <= word {
            self.rest.resize(word + 1, 0);
        }
        self.rest[word] |= 1 << bit;
    }

    pub fn contains(&self, index: usize) -> bool {
        if index < 64 {
            return self.first & (1 << index) != 0;
        }
        let (word, bit) = (index / 64 - 1, index % 64);
        self.rest.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.first == 0 && self.rest.iter().all(|w| *w == 0)
    }
}

/// Smooth weighted round-robin over [`Endpoints::schedule`], sharing the table's lock-free
/// cursor, so every connection and request spreads over the same schedule. Each request takes
/// one ticket: a retry walks on from the request's place in the schedule to the first
/// endpoint not tried yet, so retries do not shift where the next requests start.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin;

impl Balancer for RoundRobin {
    fn pick(&self, endpoints: &Endpoints, tried: &mut Tried) -> Option<usize> {
        let schedule = endpoints.schedule();
        let list = endpoints.list();
        if schedule.is_empty() {
            return None;
        }
        let start = *tried.ticket.get_or_insert_with(|| endpoints.next_ticket());
        // `schedule` holds indices into `list` by construction; the bound check keeps a broken
        // table from panicking.
        let at = |step: usize| {
            let slot = schedule[start.wrapping_add(step) % schedule.len()] as usize;
            (slot < list.len()).then_some(slot)
        };
        if tried.is_empty()
            && let Some(slot) = at(0)
            && !eject::skip(endpoints, slot)
        {
            return Some(slot);
        }
        // On from the ticket to the first endpoint neither tried nor ejected; an ejected one
        // only when nothing else is left.
        let mut ejected = None;
        for slot in (0..schedule.len()).filter_map(at) {
            if tried.contains(slot) {
                continue;
            }
            if !eject::skip(endpoints, slot) {
                return Some(slot);
            }
            ejected.get_or_insert(slot);
        }
        ejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::SocketAddr;
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

    fn port(eps: &Endpoints, index: usize) -> u16 {
        eps.list()[index].addr.port()
    }

    /// `picks` requests' picks with `tried` as their tried set.
    fn counts(eps: &Endpoints, picks: usize, tried: &Tried) -> HashMap<u16, usize> {
        let mut counts = HashMap::new();
        for _ in 0..picks {
            let picked = RoundRobin
                .pick(eps, &mut tried.clone())
                .expect("an endpoint");
            *counts.entry(port(eps, picked)).or_default() += 1;
        }
        counts
    }

    #[test]
    fn weights_one_to_three_give_25_and_75_percent() {
        let eps = endpoints(&[(1, 1), (2, 3)]);
        let counts = counts(&eps, 400, &Tried::new());
        assert_eq!(counts[&1], 100);
        assert_eq!(counts[&2], 300);
    }

    #[test]
    fn equal_weights_alternate() {
        let eps = endpoints(&[(1, 1), (2, 1)]);
        let picks: Vec<u16> = (0..4)
            .map(|_| port(&eps, RoundRobin.pick(&eps, &mut Tried::new()).unwrap()))
            .collect();
        // Each thread starts a set at an offset of its own (the cursor's id, which depends on
        // how many sets other tests made first): alternation is what holds.
        assert!(picks == [1, 2, 1, 2] || picks == [2, 1, 2, 1], "{picks:?}");
    }

    #[test]
    fn tried_endpoints_are_skipped() {
        let eps = endpoints(&[(1, 1), (2, 3), (3, 1)]);
        let mut tried = Tried::new();
        tried.insert(1);
        let counts = counts(&eps, 100, &tried);
        assert_eq!(counts.get(&2), None);
        assert_eq!(counts[&1] + counts[&3], 100);
        tried.insert(0);
        assert_eq!(counts_of_one(&eps, &tried), 3);
    }

    fn counts_of_one(eps: &Endpoints, tried: &Tried) -> u16 {
        let picks = counts(eps, 10, tried);
        assert_eq!(picks.len(), 1, "{picks:?}");
        *picks.keys().next().unwrap()
    }

    #[test]
    fn nothing_is_picked_once_every_endpoint_was_tried() {
        let eps = endpoints(&[(1, 1)]);
        let mut tried = Tried::new();
        tried.insert(0);
        assert_eq!(RoundRobin.pick(&eps, &mut tried), None);
    }

    #[test]
    fn no_endpoints_pick_nothing() {
        let eps = Endpoints::new(Vec::new());
        assert_eq!(RoundRobin.pick(&eps, &mut Tried::new()), None);
    }

    /// A retry walks on from the request's own ticket: the next request still starts where
    /// the rotation says, whatever the retries did.
    #[test]
    fn retries_take_no_ticket_of_their_own() {
        let eps = endpoints(&[(1, 1), (2, 1), (3, 1)]);
        let mut request = Tried::new();
        let first = RoundRobin.pick(&eps, &mut request).unwrap();
        request.insert(first);
        let second = RoundRobin.pick(&eps, &mut request).unwrap();
        assert_eq!(second, (first + 1) % 3, "the next in the schedule");
        request.insert(second);
        assert_eq!(RoundRobin.pick(&eps, &mut request), Some((first + 2) % 3));
        let next = RoundRobin.pick(&eps, &mut Tried::new()).unwrap();
        assert_eq!(next, (first + 1) % 3, "the next request's own turn");
    }

    #[test]
    fn the_tried_set_holds_indices_past_the_first_word() {
        let mut tried = Tried::new();
        assert!(tried.is_empty());
        for i in [0, 63, 64, 200] {
            assert!(!tried.contains(i));
            tried.insert(i);
            assert!(tried.contains(i), "{i}");
        }
        assert!(!tried.contains(65) && !tried.contains(1) && !tried.contains(1000));
        assert!(!tried.is_empty());
    }
}
