//! What the proxy learns about each endpoint as it serves (docs/architecture.md, "Latency-aware
//! balancing and outlier ejection"): the peak-EWMA latency estimate and in-flight count of
//! `load-balance: ewma`, and the consecutive-failure and ejection bookkeeping of passive outlier
//! ejection. The table only holds it; the proxy's balancer reads and writes it.
//!
//! The state is keyed by address and lives beside the endpoint in [`Endpoints`], behind an
//! `Arc`, so that a new table does not forget it: the endpoint fast path builds each refreshed
//! set from the backend's previous one (`Endpoints::new_after`: the states of the addresses
//! that stay are the same `Arc`s, only new addresses get a fresh one), and after a full
//! compile the publisher carries every address's state over from the served table
//! ([`RouteTable::carry_endpoint_state`]). Like the round-robin cursor it is not part of a
//! table's identity: equal tables compare equal whatever their endpoints have seen.
//!
//! Every field is an atomic written with relaxed ordering: each is a hint read on its own (a
//! stale value only shifts one pick), and nothing else is published through them. The struct
//! fills a cache line of its own so that two endpoints' counters never share one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::endpoints::Set;
use super::{Backend, Endpoint, Endpoints, RouteTable};

/// How a route's requests choose among its backend's endpoints (`load-balance`, else
/// `--load-balance`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LoadBalance {
    /// The weighted round-robin schedule (ingress-nginx's `round_robin`, the default).
    #[default]
    RoundRobin,
    /// Power of two choices over a peak-EWMA of response latency times in-flight requests.
    Ewma,
}

impl LoadBalance {
    /// ingress-nginx's spelling: `round_robin` or `ewma` (surrounding blanks ignored, exact
    /// case, as ingress-nginx's validator and Lua balancer compare them).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "round_robin" => Some(Self::RoundRobin),
            "ewma" => Some(Self::Ewma),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::Ewma => "ewma",
        }
    }
}

/// What the proxy knows of one endpoint address. Times are milliseconds on the proxy's own
/// monotonic clock; 0 means "never".
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct EndpointState {
    /// The latency estimate and when it was last updated, packed so that both change in one
    /// atomic step: the estimate in nanoseconds as `f32` bits in the high half, the update time
    /// (milliseconds, wrapping) in the low half; 0 until the first sample.
    pub ewma: AtomicU64,
    /// Requests of `ewma` routes in flight to this endpoint (attempts awaiting their response
    /// headers).
    pub inflight: AtomicU32,
    /// Gateway failures in a row (connect failures, 502, 503, 504); reset by a success.
    pub failures: AtomicU32,
    /// While ejected: until when; 0 when not ejected (the one value a pick reads).
    pub ejected_until: AtomicU64,
    /// Ejections so far, the multiplier of the next ejection's length; forgotten once the
    /// endpoint has stayed in for the longest ejection time.
    pub ejections: AtomicU32,
    /// When the last ejection ended (or is to end).
    pub last_ejection_end: AtomicU64,
}

impl EndpointState {
    /// Whether the endpoint is marked ejected: one relaxed load. An ejection whose time has
    /// passed still reads as ejected until a pick clears it (the proxy's balancer does, with
    /// the clock it reads only then).
    #[inline]
    pub fn maybe_ejected(&self) -> bool {
        self.ejected_until.load(Ordering::Relaxed) != 0
    }
}

/// The states of one endpoint set, by index in its list, plus the flag that lets one thread at
/// a time decide an ejection in this set (so the bound on ejected endpoints holds).
#[derive(Debug, Default)]
pub struct EndpointStates {
    states: Box<[Arc<EndpointState>]>,
    ejecting: AtomicBool,
}

impl EndpointStates {
    /// The states for `list` (sorted by address): for each address `previous` also holds, its
    /// state there (the same `Arc`: one merge walk, no map); a fresh one for the others.
    pub(super) fn carried(list: &[Endpoint], previous: Option<&Set>) -> Self {
        let (old, old_states) =
            previous.map_or((&[][..], &[][..]), |p| (&p.list[..], &p.states.states[..]));
        let mut j = 0;
        let states = list
            .iter()
            .map(|ep| {
                while j < old.len() && old[j].addr < ep.addr {
                    j += 1;
                }
                match old.get(j) {
                    Some(o) if o.addr == ep.addr => Arc::clone(&old_states[j]),
                    _ => Arc::default(),
                }
            })
            .collect();
        Self {
            states,
            ejecting: AtomicBool::new(false),
        }
    }

    /// The state of the endpoint at `index` of the set's list.
    pub fn get(&self, index: usize) -> Option<&EndpointState> {
        self.states.get(index).map(|s| &**s)
    }

    pub fn iter(&self) -> impl Iterator<Item = &EndpointState> {
        self.states.iter().map(|s| &**s)
    }

    /// Takes the set's ejection flag; `false` when another thread holds it (that thread's
    /// decision is in progress: this one skips its own, the next failure decides again).
    pub fn try_begin_ejection(&self) -> bool {
        !self.ejecting.swap(true, Ordering::Acquire)
    }

    pub fn end_ejection(&self) {
        self.ejecting.store(false, Ordering::Release);
    }
}

/// A clone shares every state (they are the endpoints', not the set's) with a flag of its own.
impl Clone for EndpointStates {
    fn clone(&self) -> Self {
        Self {
            states: self.states.clone(),
            ejecting: AtomicBool::new(false),
        }
    }
}

/// Learned state is not part of a table's identity.
impl PartialEq for EndpointStates {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Endpoints {
    /// This set with the state of every address that `previous` also holds (sets are sorted by
    /// address: one merge walk, no map). When the addresses are the same, `previous`'s set
    /// itself.
    pub fn with_states_of(self, previous: &Endpoints) -> Self {
        Self::new_after(self.list().to_vec(), Some(previous))
    }
}

impl Set {
    /// A copy of this set with, for each address, the state `known` holds for it, else its own
    /// (which `known` then learns, so two sets of one table holding an address share its
    /// state).
    fn with_known_states(
        &self,
        known: &mut HashMap<SocketAddr, Arc<EndpointState>, foldhash::fast::FixedState>,
    ) -> Self {
        let states = self
            .list
            .iter()
            .zip(self.states.states.iter())
            .map(|(ep, own)| Arc::clone(known.entry(ep.addr).or_insert_with(|| Arc::clone(own))))
            .collect();
        Self {
            list: self.list.clone(),
            schedule: self.schedule.clone(),
            states: EndpointStates {
                states,
                ejecting: AtomicBool::new(false),
            },
        }
    }
}

impl RouteTable {
    /// Carries every endpoint state of `previous` (the served table) over to this freshly
    /// compiled one, by address, so a full compile does not reset what the proxy learned.
    /// Costs one map of the previous table's addresses; the routers are not touched.
    pub fn carry_endpoint_state(&mut self, previous: &RouteTable) {
        let mut known = HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0));
        for backend in previous.backends.iter() {
            if let Ok(endpoints) = &backend.state {
                for (ep, state) in endpoints
                    .list()
                    .iter()
                    .zip(endpoints.set.states.states.iter())
                {
                    known.entry(ep.addr).or_insert_with(|| Arc::clone(state));
                }
            }
        }
        // A set shared by several backends (a nodePort's nodes) is carried once and stays
        // shared. Keyed by address of the compiled set, which this table keeps alive.
        let mut sets: HashMap<*const Set, Arc<Set>, foldhash::fast::FixedState> =
            HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0));
        let backends: Vec<Arc<Backend>> = self
            .backends
            .iter()
            .map(|backend| match &backend.state {
                Ok(endpoints) if !endpoints.is_empty() => {
                    let set = sets
                        .entry(Arc::as_ptr(&endpoints.set))
                        .or_insert_with(|| Arc::new(endpoints.set.with_known_states(&mut known)));
                    Arc::new(Backend {
                        service: Arc::clone(&backend.service),
                        mode: backend.mode,
                        state: Ok(Endpoints::from_shared(Arc::clone(set))),
                        // The same endpoints: the ring stands.
                        keyed: backend.keyed.clone(),
                        cluster_node_port: backend.cluster_node_port,
                    })
                }
                _ => Arc::clone(backend),
            })
            .collect();
        self.backends = backends.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Endpoint;

    fn set(ports: &[u16]) -> Endpoints {
        Endpoints::new(
            ports
                .iter()
                .map(|&p| Endpoint {
                    addr: SocketAddr::from(([10, 0, 0, 1], p)),
                    weight: 1,
                })
                .collect(),
        )
    }

    fn mark(eps: &Endpoints, index: usize, value: u32) {
        eps.states()
            .get(index)
            .unwrap()
            .failures
            .store(value, Ordering::Relaxed);
    }

    fn failures(eps: &Endpoints) -> Vec<u32> {
        eps.states()
            .iter()
            .map(|s| s.failures.load(Ordering::Relaxed))
            .collect()
    }

    /// An endpoint-only update keeps the state of the addresses that stay; new ones start
    /// fresh.
    #[test]
    fn a_refreshed_set_keeps_the_state_of_addresses_that_stay() {
        let old = set(&[1, 2, 3]);
        mark(&old, 0, 7);
        mark(&old, 2, 9);
        let new = set(&[0, 3, 4, 1]).with_states_of(&old);
        // Sorted: 0, 1, 3, 4.
        assert_eq!(failures(&new), [0, 7, 9, 0]);
        mark(&new, 1, 8);
        assert_eq!(failures(&old)[0], 8, "one state, shared");
    }

    /// A set rebuilt with the same endpoints (a refresh that changed nothing for it) is the
    /// previous set itself: nothing is allocated, and the backend is kept as it was.
    #[test]
    fn a_set_rebuilt_with_the_same_endpoints_is_the_previous_one() {
        let old = set(&[1, 2]);
        let same = Endpoints::new_after(set(&[2, 1]).list().to_vec(), Some(&old));
        assert!(same.shares_set(&old));
        let other = Endpoints::new_after(set(&[1, 3]).list().to_vec(), Some(&old));
        assert!(!other.shares_set(&old));
        mark(&old, 0, 4);
        assert_eq!(failures(&other), [4, 0], "port 1 carried, port 3 fresh");
    }

    #[test]
    fn states_do_not_change_equality_and_clones_share_them() {
        let a = set(&[1, 2]);
        mark(&a, 1, 3);
        assert_eq!(a, set(&[1, 2]));
        assert_eq!(failures(&a.clone()), [0, 3]);
        assert_ne!(a, set(&[1, 3]));
    }

    #[test]
    fn one_thread_at_a_time_decides_an_ejection() {
        let a = set(&[1]);
        assert!(a.states().try_begin_ejection());
        assert!(!a.states().try_begin_ejection());
        a.states().end_ejection();
        assert!(a.states().try_begin_ejection());
    }

    #[test]
    fn load_balance_reads_ingress_nginx_spellings() {
        assert_eq!(LoadBalance::parse("ewma"), Some(LoadBalance::Ewma));
        assert_eq!(
            LoadBalance::parse(" round_robin "),
            Some(LoadBalance::RoundRobin)
        );
        for bad in ["EWMA", "chash", "", "round-robin"] {
            assert_eq!(LoadBalance::parse(bad), None, "{bad}");
        }
        assert_eq!(LoadBalance::Ewma.as_str(), "ewma");
    }
}
