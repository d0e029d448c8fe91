//! The data path's Prometheus metrics (STYLE item 16: bounded, typed labels; names in one
//! module; the registry is passed in). Every name is listed in [`NAMES`] and in the README.
//!
//! | exposed name | type | labels |
//! | --- | --- | --- |
//! | `strait_requests_total` | counter | namespace, ingress, service, path, method, status |
//! | `strait_request_duration_seconds` | histogram | namespace, ingress, path, status |
//! | `strait_request_bytes_total` | counter | namespace, ingress |
//! | `strait_response_bytes_total` | counter | namespace, ingress |
//! | `strait_response_size_bytes` | histogram | namespace, ingress |
//! | `strait_upstream_response_header_duration_seconds` | histogram | namespace, ingress, service |
//! | `strait_upstream_connect_duration_seconds` | histogram | — |
//! | `strait_upstream_errors_total` | counter | kind |
//! | `strait_upstream_retries_total` | counter | — |
//! | `strait_upstream_ejections_total` | counter | — |
//! | `strait_auth_requests_total` | counter | result |
//! | `strait_passthrough_connections_total` | counter | result |
//! | `strait_client_connections_active` | gauge | listener |
//! | `strait_client_connections_total` | counter | listener |
//! | `strait_client_connections_rejected_total` | counter | listener |
//! | `strait_tls_handshakes_total` | counter | listener |
//! | `strait_tls_handshake_failures_total` | counter | listener, reason |
//! | `strait_proxy_protocol_rejected_total` | counter | listener, reason |
//! | `strait_access_log_dropped_total` | counter | — |
//! | `strait_limit_rejections_total` | counter | namespace, ingress, limit |
//!
//! Label values: `namespace`/`ingress` name the Ingress that owns the matched rule and
//! `service` its backend Service (left out, not empty, when no rule matched); `path` is the
//! matched rule's path as the table holds it (Prefix paths without their trailing slash, on a
//! regex host the regex path that matched as written, `/` for a catch-all and the default
//! backend): bounded by the table, never a request's own
//! path; `method` is GET,
//! HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT or `other`; `status` is the exact code for
//! 101, 200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 413, 429, 431,
//! 499 (client gone before the response), 500, 502, 503 and 504, else `other_1xx` …
//! `other_5xx`; `listener` is `http` or `https` (TLS series only for `https`); `limit` is
//! rps, rpm or connections; `kind` is refused, timeout (connect), response_timeout,
//! send_timeout, reset, unreachable, protocol, tls (reserved: upstream TLS is not supported
//! yet), no_endpoint or other; an external-auth `result` is allowed, denied, cached, error or
//! timeout; a TLS failure `reason` is timeout, closed, alert, incompatible, protocol or other;
//! a PROXY header `reason` is invalid or timeout. Series of the bounded enums are created at
//! zero up front; per-route series appear with their first count (see [`routes`]), and a
//! limit's with its Ingress's first rejection.
//!
//! A request is counted once, when its response body is done or dropped; its duration runs
//! from its arrival until then. The open-connection gauge is named `..._active` because a
//! gauge `client_connections` would share its family name with the counter
//! `client_connections_total` and break the exposition.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Metric, Registry};
use strait_shared::ObjectKey;

use crate::config::Scheme;
use crate::error::{LimitKind, UpstreamErrorKind};

mod labels;
mod listener;
mod routes;
mod shard;

pub(crate) use shard::{set_worker, worker};

/// A counter in per-worker shards (see [`shard`]).
pub(crate) type Counter = prometheus_client::metrics::counter::Counter<u64, shard::ShardedU64>;
/// A histogram in per-worker shards.
pub(crate) type Histogram = shard::ShardedHistogram;

use labels::{
    AuthLabels, DurationLabels, IngressLabels, LimitLabels, Name, PassthroughLabels, RequestLabels,
    UpstreamErrorLabels, UpstreamLabels,
};
pub(crate) use labels::{
    AuthResult, MethodLabel, PassthroughResult, ProxyHeaderRejection, StatusLabel, TlsFailure,
};
use listener::ListenerFamilies;
pub(crate) use listener::ListenerHandles;
use routes::RouteCache;
pub(crate) use routes::RouteHandles;

/// One metric: the name it is registered under (the registry adds the `strait_` prefix, and
/// `_total` to counters), the name it is exposed as, and its help text.
struct Def {
    name: &'static str,
    exposed: &'static str,
    help: &'static str,
}

const REQUESTS: Def = Def {
    name: "requests",
    exposed: "strait_requests_total",
    help: "Requests answered, by Ingress, Service, method and status code (other_4xx etc. \
           for uncommon codes); requests that matched no rule have no namespace, ingress and \
           service labels",
};
const REQUEST_DURATION: Def = Def {
    name: "request_duration_seconds",
    exposed: "strait_request_duration_seconds",
    help: "Time from a request's arrival to the end of its response body, by Ingress and \
           status code",
};
const REQUEST_BYTES: Def = Def {
    name: "request_bytes",
    exposed: "strait_request_bytes_total",
    help: "Request body bytes relayed from clients, by Ingress",
};
const RESPONSE_BYTES: Def = Def {
    name: "response_bytes",
    exposed: "strait_response_bytes_total",
    help: "Response body bytes sent to clients, by Ingress",
};
const RESPONSE_SIZE: Def = Def {
    name: "response_size_bytes",
    exposed: "strait_response_size_bytes",
    help: "Response body bytes sent per request, by Ingress",
};
const UPSTREAM_HEADERS: Def = Def {
    name: "upstream_response_header_duration_seconds",
    exposed: "strait_upstream_response_header_duration_seconds",
    help: "Time from the start of a request's upstream exchange (connect and retry included) \
           to the upstream's response headers, by Ingress and Service",
};
const UPSTREAM_CONNECT: Def = Def {
    name: "upstream_connect_duration_seconds",
    exposed: "strait_upstream_connect_duration_seconds",
    help: "Time to open an upstream connection (successful connects)",
};
const UPSTREAM_ERRORS: Def = Def {
    name: "upstream_errors",
    exposed: "strait_upstream_errors_total",
    help: "Failed upstream attempts (retried ones included), by kind",
};
const UPSTREAM_RETRIES: Def = Def {
    name: "upstream_retries",
    exposed: "strait_upstream_retries_total",
    help: "Upstream requests retried after a connect failure",
};
const UPSTREAM_EJECTIONS: Def = Def {
    name: "upstream_ejections",
    exposed: "strait_upstream_ejections_total",
    help: "Endpoints set aside by passive outlier ejection after consecutive gateway failures",
};
const AUTH_REQUESTS: Def = Def {
    name: "auth_requests",
    exposed: "strait_auth_requests_total",
    help: "External-auth checks, by result: allowed, denied (401/403), cached (answered from \
           the worker's auth cache), error and timeout (both answered 500)",
};
const PASSTHROUGH: Def = Def {
    name: "passthrough_connections",
    exposed: "strait_passthrough_connections_total",
    help: "TLS passthrough connections (ssl-passthrough), by result: spliced to a backend, \
           unreachable (no endpoint accepted) or failed (the ClientHello could not be replayed)",
};
const CONNECTIONS_ACTIVE: Def = Def {
    name: "client_connections_active",
    exposed: "strait_client_connections_active",
    help: "Client connections open now, by listener",
};
const CONNECTIONS: Def = Def {
    name: "client_connections",
    exposed: "strait_client_connections_total",
    help: "Client connections accepted, by listener",
};
const CONNECTIONS_REJECTED: Def = Def {
    name: "client_connections_rejected",
    exposed: "strait_client_connections_rejected_total",
    help: "Client connections closed at once because --max-client-connections were open, by \
           listener",
};
const TLS_HANDSHAKES: Def = Def {
    name: "tls_handshakes",
    exposed: "strait_tls_handshakes_total",
    help: "TLS handshakes completed, by listener",
};
const TLS_FAILURES: Def = Def {
    name: "tls_handshake_failures",
    exposed: "strait_tls_handshake_failures_total",
    help: "TLS handshakes failed, by listener and reason",
};
const PROXY_REJECTED: Def = Def {
    name: "proxy_protocol_rejected",
    exposed: "strait_proxy_protocol_rejected_total",
    help: "Connections closed for a missing, invalid or late PROXY protocol header, by \
           listener and reason",
};
const ACCESS_LOG_DROPPED: Def = Def {
    name: "access_log_dropped",
    exposed: "strait_access_log_dropped_total",
    help: "Access-log lines dropped because the writer fell behind",
};

const LIMIT_REJECTIONS: Def = Def {
    name: "limit_rejections",
    exposed: "strait_limit_rejections_total",
    help: "Requests turned away by an Ingress's limit-rps, limit-rpm or limit-connections, by \
           Ingress and limit",
};

/// Every data-path metric as (exposed name, help text).
pub const NAMES: &[(&str, &str)] = &[
    (REQUESTS.exposed, REQUESTS.help),
    (REQUEST_DURATION.exposed, REQUEST_DURATION.help),
    (REQUEST_BYTES.exposed, REQUEST_BYTES.help),
    (RESPONSE_BYTES.exposed, RESPONSE_BYTES.help),
    (RESPONSE_SIZE.exposed, RESPONSE_SIZE.help),
    (UPSTREAM_HEADERS.exposed, UPSTREAM_HEADERS.help),
    (UPSTREAM_CONNECT.exposed, UPSTREAM_CONNECT.help),
    (UPSTREAM_ERRORS.exposed, UPSTREAM_ERRORS.help),
    (UPSTREAM_RETRIES.exposed, UPSTREAM_RETRIES.help),
    (UPSTREAM_EJECTIONS.exposed, UPSTREAM_EJECTIONS.help),
    (AUTH_REQUESTS.exposed, AUTH_REQUESTS.help),
    (PASSTHROUGH.exposed, PASSTHROUGH.help),
    (CONNECTIONS_ACTIVE.exposed, CONNECTIONS_ACTIVE.help),
    (CONNECTIONS.exposed, CONNECTIONS.help),
    (CONNECTIONS_REJECTED.exposed, CONNECTIONS_REJECTED.help),
    (TLS_HANDSHAKES.exposed, TLS_HANDSHAKES.help),
    (TLS_FAILURES.exposed, TLS_FAILURES.help),
    (PROXY_REJECTED.exposed, PROXY_REJECTED.help),
    (ACCESS_LOG_DROPPED.exposed, ACCESS_LOG_DROPPED.help),
    (LIMIT_REJECTIONS.exposed, LIMIT_REJECTIONS.help),
];

/// Buckets of request and upstream-header times, in seconds.
const REQUEST_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of upstream connect times, in seconds.
const CONNECT_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of response sizes, in bytes: ingress-nginx's (10 B to 10 MB, powers of ten).
const SIZE_BUCKETS: [f64; 7] = [10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn size_histogram() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// Data-path metric families, and a worker's cache of per-route handles. Cheap to clone
/// (clones share the cache; [`ProxyMetrics::for_worker`] gives a worker its own).
/// [`Default`] gives families registered nowhere (library use, tests).
#[derive(Clone, Debug)]
pub struct ProxyMetrics {
    inner: Arc<Families>,
    routes: Arc<RouteCache>,
    unrouted: Arc<RouteHandles>,
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::over(Arc::default())
    }
}

#[derive(Debug)]
struct Families {
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<DurationLabels>,
    route: RouteFamilies,
    upstream_connect: Histogram,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    upstream_retries: Counter,
    upstream_ejections: Counter,
    auth_requests: Family<AuthLabels, Counter>,
    passthrough: Family<PassthroughLabels, Counter>,
    listener: ListenerFamilies,
    access_log_dropped: Counter,
    limit_rejections: Family<LimitLabels, Counter>,
    // Handles of bounded series, created up front: no lookup when they count.
    upstream_error_kinds: [Counter; UpstreamErrorKind::ALL.len()],
    auth_results: [Counter; AuthResult::ALL.len()],
    passthrough_results: [Counter; PassthroughResult::ALL.len()],
    http: ListenerHandles,
    https: ListenerHandles,
}

/// The families whose labels are a route's names only; their handles are cached per route.
#[derive(Debug)]
struct RouteFamilies {
    request_bytes: Family<IngressLabels, Counter>,
    response_bytes: Family<IngressLabels, Counter>,
    response_size: HistogramFamily<IngressLabels>,
    upstream_headers: HistogramFamily<UpstreamLabels>,
}

impl ProxyMetrics {
    /// Families registered in `registry` (the caller's registry carries the `strait` prefix).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        metrics.inner.register(registry);
        metrics
    }

    fn over(inner: Arc<Families>) -> Self {
        let unrouted = Arc::new(RouteHandles::new(Arc::clone(&inner), "", "", "", ""));
        Self {
            inner,
            routes: Arc::new(RouteCache::new()),
            unrouted,
        }
    }

    /// The same families with a route-handle cache of its own, for one worker: the handles a
    /// worker's requests clone and count into are that worker's alone.
    pub fn for_worker(&self) -> Self {
        Self::over(Arc::clone(&self.inner))
    }

    /// The handles of the route owned by Ingress `ingress` with backend Service `service`, for
    /// the rule whose path is `path` (from the table, never the request).
    pub(crate) fn route(
        &self,
        ingress: &ObjectKey,
        service: &str,
        path: &str,
    ) -> Arc<RouteHandles> {
        let (namespace, name) = (ingress.namespace.as_str(), ingress.name.as_str());
        self.routes.get(namespace, name, service, path, || {
            RouteHandles::new(Arc::clone(&self.inner), namespace, name, service, path)
        })
    }

    /// The handles of requests that matched no rule (empty names).
    pub(crate) fn unrouted(&self) -> Arc<RouteHandles> {
        Arc::clone(&self.unrouted)
    }

    /// Counts a finished request: `requests_total`, `request_duration_seconds`, the response
    /// bytes and size, through the route's handles (a family lookup only the first time a
    /// route handle sees a method and status).
    pub(crate) fn request_done(
        &self,
        route: &RouteHandles,
        method: MethodLabel,
        status: u16,
        elapsed: Duration,
        bytes_out: u64,
    ) {
        let status = StatusLabel::of(status);
        route.requests(method, status).inc();
        route.duration(status).observe(elapsed.as_secs_f64());
        route.response_size().observe(bytes_out as f64);
        if bytes_out > 0 {
            route.response_bytes().inc_by(bytes_out);
        }
    }

    pub(crate) fn upstream_error(&self, kind: UpstreamErrorKind) {
        self.inner.upstream_error_kinds[kind as usize].inc();
    }

    pub(crate) fn upstream_retry(&self) {
        self.inner.upstream_retries.inc();
    }

    pub(crate) fn upstream_ejection(&self) {
        self.inner.upstream_ejections.inc();
    }

    pub(crate) fn passthrough(&self, result: PassthroughResult) {
        self.inner.passthrough_results[result as usize].inc();
    }

    pub(crate) fn auth_request(&self, result: AuthResult) {
        self.inner.auth_results[result as usize].inc();
    }

    /// The connect-time histogram, for the upstream pool.
    pub(crate) fn upstream_connect(&self) -> Histogram {
        self.inner.upstream_connect.clone()
    }

    /// The connection and handshake counters of the listeners of `scheme`.
    pub(crate) fn listener(&self, scheme: Scheme) -> &ListenerHandles {
        match scheme {
            Scheme::Http => &self.inner.http,
            Scheme::Https => &self.inner.https,
        }
    }

    pub(crate) fn access_log_dropped(&self) {
        self.inner.access_log_dropped.inc();
    }

    /// The `limit_rejections_total` series of Ingress `ingress` and `limit` (a family lookup:
    /// callers keep the handle).
    pub(crate) fn limit_rejections(&self, ingress: &ObjectKey, limit: LimitKind) -> Counter {
        self.inner
            .limit_rejections
            .get_or_create_owned(&LimitLabels {
                namespace: Name::new(&ingress.namespace),
                ingress: Name::new(&ingress.name),
                limit,
            })
    }
}

impl Default for Families {
    fn default() -> Self {
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        let upstream_error_kinds = std::array::from_fn(|i| {
            upstream_errors.get_or_create_owned(&UpstreamErrorLabels {
                kind: UpstreamErrorKind::ALL[i],
            })
        });
        let auth_requests = Family::<AuthLabels, Counter>::default();
        let auth_results = std::array::from_fn(|i| {
            auth_requests.get_or_create_owned(&AuthLabels {
                result: AuthResult::ALL[i],
            })
        });
        let passthrough = Family::<PassthroughLabels, Counter>::default();
        let passthrough_results = std::array::from_fn(|i| {
            passthrough.get_or_create_owned(&PassthroughLabels {
                result: PassthroughResult::ALL[i],
            })
        });
        let route = RouteFamilies {
            request_bytes: Family::default(),
            response_bytes: Family::default(),
            response_size: Family::new_with_constructor(size_histogram),
            upstream_headers: Family::new_with_constructor(request_histogram),
        };
        let listener = ListenerFamilies::default();
        Self {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(request_histogram),
            route,
            upstream_connect: Histogram::new(CONNECT_BUCKETS),
            upstream_errors,
            upstream_retries: Counter::default(),
            upstream_ejections: Counter::default(),
            auth_requests,
            passthrough,
            passthrough_results,
            auth_results,
            http: listener.handles(Scheme::Http),
            https: listener.handles(Scheme::Https),
            listener,
            access_log_dropped: Counter::default(),
            limit_rejections: Family::default(),
            upstream_error_kinds,
        }
    }
}

impl Families {
    fn register(&self, registry: &mut Registry) {
        fn add(registry: &mut Registry, def: &Def, metric: impl Metric) {
            registry.register(def.name, def.help, metric);
        }
        let r = registry;
        let (route, listener) = (&self.route, &self.listener);
        add(r, &REQUESTS, self.requests.clone());
        add(r, &REQUEST_DURATION, self.request_duration.clone());
        add(r, &REQUEST_BYTES, route.request_bytes.clone());
        add(r, &RESPONSE_BYTES, route.response_bytes.clone());
        add(r, &RESPONSE_SIZE, route.response_size.clone());
        add(r, &UPSTREAM_HEADERS, route.upstream_headers.clone());
        add(r, &UPSTREAM_CONNECT, self.upstream_connect.clone());
        add(r, &UPSTREAM_ERRORS, self.upstream_errors.clone());
        add(r, &UPSTREAM_RETRIES, self.upstream_retries.clone());
        add(r, &UPSTREAM_EJECTIONS, self.upstream_ejections.clone());
        add(r, &AUTH_REQUESTS, self.auth_requests.clone());
        add(r, &PASSTHROUGH, self.passthrough.clone());
        add(r, &CONNECTIONS_ACTIVE, listener.connections_active.clone());
        add(r, &CONNECTIONS, listener.connections.clone());
        add(
            r,
            &CONNECTIONS_REJECTED,
            listener.connections_rejected.clone(),
        );
        add(r, &TLS_HANDSHAKES, listener.tls_handshakes.clone());
        add(r, &TLS_FAILURES, listener.tls_failures.clone());
        add(r, &PROXY_REJECTED, listener.proxy_rejected.clone());
        add(r, &ACCESS_LOG_DROPPED, self.access_log_dropped.clone());
        add(r, &LIMIT_REJECTIONS, self.limit_rejections.clone());
    }
}

#[cfg(test)]
mod tests;
