//! Per-route metric handles, cached so a request does not build label strings.
//!
//! A route's labels are its Ingress (namespace, name), Service name and the rule's path (as the
//! table matched it: bounded by the table, never the request's own path). Its handles resolve
//! each series lazily, once per handle, and are kept, with the shared label values, in a small direct-mapped cache: one
//! slot per hash of the three names, each an `ArcSwapOption` (lock-free reads, no lock at
//! all). A miss — a route's first request, or two hot routes sharing a slot — builds the
//! handles again; families keep their series, so a rebuilt handle counts into the same one.
//! The cache outlives table swaps: endpoint changes do not invalidate it.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;

use super::labels::{
    DurationLabels, IngressLabels, MethodLabel, Name, RequestLabels, StatusLabel, UpstreamLabels,
};
use super::{Counter, Families, Histogram};

/// Methods times statuses: the `requests_total` series one route can have.
const REQUEST_SERIES: usize = MethodLabel::COUNT * StatusLabel::COUNT;

/// Slots of the cache; a power of two.
const SLOTS: usize = 1024;

/// What a request needs to count itself against its route. Every series is looked up in its
/// family the first time this handle uses it (a `OnceLock` per series, indexed by bounded
/// enums), so a request never does a family lookup after the first, and a series exists only
/// once something was counted in it: no empty-label or never-used series up front.
pub(crate) struct RouteHandles {
    pub namespace: Name,
    pub ingress: Name,
    pub service: Name,
    /// The matched rule's path (`/` for a catch-all or the default backend).
    pub path: Name,
    families: Arc<Families>,
    request_bytes: OnceLock<Counter>,
    response_bytes: OnceLock<Counter>,
    response_size: OnceLock<Histogram>,
    upstream_headers: OnceLock<Histogram>,
    requests: [OnceLock<Counter>; REQUEST_SERIES],
    durations: [OnceLock<Histogram>; StatusLabel::COUNT],
}

impl RouteHandles {
    pub(super) fn new(
        families: Arc<Families>,
        namespace: &str,
        ingress: &str,
        service: &str,
        path: &str,
    ) -> Self {
        Self {
            namespace: Name::new(namespace),
            ingress: Name::new(ingress),
            service: Name::new(service),
            path: Name::new(path),
            families,
            request_bytes: OnceLock::new(),
            response_bytes: OnceLock::new(),
            response_size: OnceLock::new(),
            upstream_headers: OnceLock::new(),
            requests: std::array::from_fn(|_| OnceLock::new()),
            durations: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    fn by_ingress(&self) -> IngressLabels {
        IngressLabels {
            namespace: self.namespace.clone(),
            ingress: self.ingress.clone(),
        }
    }

    /// `request_bytes_total{namespace, ingress}`.
    pub(crate) fn request_bytes(&self) -> &Counter {
        self.request_bytes.get_or_init(|| {
            self.families
                .route
                .request_bytes
                .get_or_create_owned(&self.by_ingress())
        })
    }

    /// `response_bytes_total{namespace, ingress}`.
    pub(crate) fn response_bytes(&self) -> &Counter {
        self.response_bytes.get_or_init(|| {
            self.families
                .route
                .response_bytes
                .get_or_create_owned(&self.by_ingress())
        })
    }

    /// `response_size_bytes{namespace, ingress}`.
    pub(crate) fn response_size(&self) -> &Histogram {
        self.response_size.get_or_init(|| {
            self.families
                .route
                .response_size
                .get_or_create_owned(&self.by_ingress())
        })
    }

    /// `upstream_response_header_duration_seconds{namespace, ingress, service}`.
    pub(crate) fn upstream_headers(&self) -> &Histogram {
        self.upstream_headers.get_or_init(|| {
            self.families
                .route
                .upstream_headers
                .get_or_create_owned(&UpstreamLabels {
                    namespace: self.namespace.clone(),
                    ingress: self.ingress.clone(),
                    service: self.service.clone(),
                })
        })
    }

    /// The `requests_total` series of `method` and `status`.
    pub(crate) fn requests(&self, method: MethodLabel, status: StatusLabel) -> &Counter {
        self.requests[method as usize * StatusLabel::COUNT + status.index()].get_or_init(|| {
            self.families.requests.get_or_create_owned(&RequestLabels {
                namespace: self.namespace.clone(),
                ingress: self.ingress.clone(),
                service: self.service.clone(),
                path: self.path.clone(),
                method,
                status,
            })
        })
    }

    /// The `request_duration_seconds` series of `status`.
    pub(crate) fn duration(&self, status: StatusLabel) -> &Histogram {
        self.durations[status.index()].get_or_init(|| {
            self.families
                .request_duration
                .get_or_create_owned(&DurationLabels {
                    namespace: self.namespace.clone(),
                    ingress: self.ingress.clone(),
                    path: self.path.clone(),
                    status,
                })
        })
    }

    fn is(&self, namespace: &str, ingress: &str, service: &str, path: &str) -> bool {
        self.namespace.as_str() == namespace
            && self.ingress.as_str() == ingress
            && self.service.as_str() == service
            && self.path.as_str() == path
    }
}

impl fmt::Debug for RouteHandles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteHandles")
            .field("namespace", &self.namespace)
            .field("ingress", &self.ingress)
            .field("service", &self.service)
            .field("path", &self.path)
            .finish_non_exhaustive()
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
        path: &str,
        make: impl FnOnce() -> RouteHandles,
    ) -> Arc<RouteHandles> {
        let slot = &self.slots[slot_of(namespace, ingress, service, path)];
        if let Some(handles) = slot.load_full()
            && handles.is(namespace, ingress, service, path)
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

fn slot_of(namespace: &str, ingress: &str, service: &str, path: &str) -> usize {
    // Names come from the cluster's objects, never from a request, and a collision only costs
    // a cache miss: a fast unkeyed hash will do.
    let hash =
        foldhash::fast::FixedState::with_seed(0).hash_one((namespace, ingress, service, path));
    // Truncation is the point: only the low bits pick the slot.
    (hash as usize) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(namespace: &str, ingress: &str, service: &str) -> RouteHandles {
        RouteHandles::new(Arc::default(), namespace, ingress, service, "/")
    }

    #[test]
    fn a_route_is_built_once_then_served_from_the_cache() {
        let cache = RouteCache::new();
        let mut made = 0;
        for _ in 0..3 {
            let h = cache.get("ns", "ing", "svc", "/", || {
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
        let a = cache.get("ns", "a", "svc", "/", || handles("ns", "a", "svc"));
        // Find another route that lands in the same slot.
        let slot = slot_of("ns", "a", "svc", "/");
        let other = (0..100_000)
            .map(|i| format!("b{i}"))
            .find(|name| slot_of("ns", name, "svc", "/") == slot)
            .expect("a colliding name among 100k");
        let b = cache.get("ns", &other, "svc", "/", || handles("ns", &other, "svc"));
        assert_eq!(b.ingress.as_str(), other);
        let again = cache.get("ns", "a", "svc", "/", || handles("ns", "a", "svc"));
        assert_eq!(again.ingress.as_str(), "a");
        assert!(
            !Arc::ptr_eq(&a, &again),
            "evicted by the collision, rebuilt"
        );
    }
}
