//! Per-route metric handles, cached so a request does not build label strings.
//!
//! A route's labels are its Ingress (namespace, name) and Service name. The handles of the
//! families whose labels are only those (bytes in and out, upstream header time) are looked up
//! once per route and kept, with the shared label values, in a small direct-mapped cache: one
//! slot per hash of the three names, each an `ArcSwapOption` (lock-free reads, no lock at
//! all). A miss — a route's first request, or two hot routes sharing a slot — builds the
//! handles again; families keep their series, so a rebuilt handle counts into the same one.
//! The cache outlives table swaps: endpoint changes do not invalidate it.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;

use super::labels::{MethodLabel, Name, StatusClass};
use super::{Counter, Histogram};

/// Methods times status classes: the `requests_total` series one route can have.
const REQUEST_SERIES: usize = MethodLabel::COUNT * StatusClass::COUNT;

/// Slots of the cache; a power of two.
const SLOTS: usize = 1024;

/// What a request needs to count itself against its route.
#[derive(Debug)]
pub(crate) struct RouteHandles {
    pub namespace: Name,
    pub ingress: Name,
    pub service: Name,
    /// `request_bytes_total{namespace, ingress}`.
    pub request_bytes: Counter,
    /// `response_bytes_total{namespace, ingress}`.
    pub response_bytes: Counter,
    /// `upstream_response_header_duration_seconds{namespace, service}`.
    pub upstream_headers: Histogram,
    /// `requests_total` by method and status class, looked up on first use.
    pub requests: [OnceLock<Counter>; REQUEST_SERIES],
    /// `request_duration_seconds` by status class, looked up on first use.
    pub durations: [OnceLock<Histogram>; StatusClass::COUNT],
}

impl RouteHandles {
    /// The `requests_total` series of `method` and `status`, made by `make` the first time.
    pub(crate) fn requests(
        &self,
        method: MethodLabel,
        status: StatusClass,
        make: impl FnOnce() -> Counter,
    ) -> &Counter {
        self.requests[method as usize * StatusClass::COUNT + status as usize].get_or_init(make)
    }

    /// The `request_duration_seconds` series of `status`, made by `make` the first time.
    pub(crate) fn duration(
        &self,
        status: StatusClass,
        make: impl FnOnce() -> Histogram,
    ) -> &Histogram {
        self.durations[status as usize].get_or_init(make)
    }

    fn is(&self, namespace: &str, ingress: &str, service: &str) -> bool {
        self.namespace.as_str() == namespace
            && self.ingress.as_str() == ingress
            && self.service.as_str() == service
    }
}

/// The direct-mapped cache of [`RouteHandles`].
pub(crate) struct RouteCache {
    slots: Box<[ArcSwapOption<RouteHandles>]>,
}

impl RouteCache {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| ArcSwapOption::empty()).collect(),
        }
    }

    /// The handles of a route, from the cache or made by `make` (and then cached).
    pub(crate) fn get(
        &self,
        namespace: &str,
        ingress: &str,
        service: &str,
        make: impl FnOnce() -> RouteHandles,
    ) -> Arc<RouteHandles> {
        let slot = &self.slots[slot_of(namespace, ingress, service)];
        if let Some(handles) = slot.load_full()
            && handles.is(namespace, ingress, service)
        {
            return handles;
        }
        let handles = Arc::new(make());
        slot.store(Some(Arc::clone(&handles)));
        handles
    }
}

impl fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteCache")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

fn slot_of(namespace: &str, ingress: &str, service: &str) -> usize {
    // Names come from the cluster's objects, never from a request, and a collision only costs
    // a cache miss: a fast unkeyed hash will do.
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    (namespace, ingress, service).hash(&mut hasher);
    // Truncation is the point: only the low bits pick the slot.
    (hasher.finish() as usize) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(namespace: &str, ingress: &str, service: &str) -> RouteHandles {
        RouteHandles {
            namespace: Name::new(namespace),
            ingress: Name::new(ingress),
            service: Name::new(service),
            request_bytes: Counter::default(),
            response_bytes: Counter::default(),
            upstream_headers: Histogram::new([1.0]),
            requests: std::array::from_fn(|_| OnceLock::new()),
            durations: Default::default(),
        }
    }

    #[test]
    fn a_route_is_built_once_then_served_from_the_cache() {
        let cache = RouteCache::new();
        let mut made = 0;
        for _ in 0..3 {
            let h = cache.get("ns", "ing", "svc", || {
                made += 1;
                handles("ns", "ing", "svc")
            });
            assert_eq!(h.ingress.as_str(), "ing");
        }
        assert_eq!(made, 1);
    }

    #[test]
    fn names_that_share_a_slot_are_told_apart() {
        let cache = RouteCache::new();
        let a = cache.get("ns", "a", "svc", || handles("ns", "a", "svc"));
        // Find another route that lands in the same slot.
        let slot = slot_of("ns", "a", "svc");
        let other = (0..100_000)
            .map(|i| format!("b{i}"))
            .find(|name| slot_of("ns", name, "svc") == slot)
            .expect("a colliding name among 100k");
        let b = cache.get("ns", &other, "svc", || handles("ns", &other, "svc"));
        assert_eq!(b.ingress.as_str(), other);
        let again = cache.get("ns", "a", "svc", || handles("ns", "a", "svc"));
        assert_eq!(again.ingress.as_str(), "a");
        assert!(
            !Arc::ptr_eq(&a, &again),
            "evicted by the collision, rebuilt"
        );
    }
}
