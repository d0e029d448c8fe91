//! The routing table: one immutable value that the proxy reads per request.
//!
//! Everything expensive (parsing, validation, weighting, indexing, compiling regex paths)
//! happens when the table is built; a lookup is a few hash probes (on a regex host, one walk of
//! its compiled paths). Routes, backends and endpoints that must agree live in
//! this one snapshot, published with one atomic pointer swap.

use std::collections::HashMap;
use std::sync::Arc;

use crate::host::{HostPattern, normalise_request_host, wildcard_suffix};
use crate::model::ObjectKey;
use crate::paths::regex::{RegexError, RegexPath, RegexRejected};
use crate::paths::{MatchRank, PathKind, PathRouter};
use crate::tls::{Certificate, TlsTable};

pub mod basic_auth;
mod body_size;
pub mod cors;
mod endpoints;
pub mod rewrite;
mod source;
pub mod timeouts;

pub use body_size::{BodyLimit, DEFAULT_MAX_BODY_SIZE, SizeError, parse_body_size};
pub use cors::Cors;
pub use endpoints::{Endpoint, Endpoints};
pub use source::{SourcePolicy, SourceRangeError, parse_source_ranges};
pub use timeouts::Timeouts;

/// Index of a [`Backend`] in its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendId(pub u32);

/// How the proxy reaches a Service's pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendMode {
    /// Straight to ready pod IPs from EndpointSlices (one hop).
    #[default]
    Pod,
    /// Node InternalIP × nodePort (two hops), `externalTrafficPolicy`-aware.
    NodePort,
    /// The Service's ClusterIP and port; kube-proxy balances.
    Service,
}

impl BackendMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pod" => Some(Self::Pod),
            "nodeport" => Some(Self::NodePort),
            "service" => Some(Self::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::NodePort => "nodeport",
            Self::Service => "service",
        }
    }
}

/// How a backend names its Service port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// A Service port as an Ingress backend names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRef {
    pub service: ObjectKey,
    pub port: PortRef,
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.port)
    }
}

/// Why a backend cannot serve; the proxy answers 503 with [`Unavailable::reason`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Unavailable {
    ServiceMissing,
    PortMissing,
    NoReadyEndpoints,
    /// nodeport mode on a Service without a nodePort (e.g. ClusterIP type).
    NoNodePort,
    /// service mode on a headless Service.
    NoClusterIp,
    /// The Service is of type ExternalName, which Strait does not proxy to.
    ExternalNameUnsupported,
}

impl Unavailable {
    /// Short plain-text reason for the 503 body.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ServiceMissing => "service not found",
            Self::PortMissing => "service port not found",
            Self::NoReadyEndpoints => "no ready endpoints",
            Self::NoNodePort => "service has no node port",
            Self::NoClusterIp => "service has no cluster IP",
            Self::ExternalNameUnsupported => "ExternalName services are not supported",
        }
    }
}

/// Where a route's traffic goes: a Service port resolved to endpoints, or the reason it can't.
#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    pub service: ServiceRef,
    pub mode: BackendMode,
    pub state: Result<Endpoints, Unavailable>,
}

/// Why a route answers 503 instead of being served: its Ingress asks for something Strait
/// will not serve open (docs/architecture.md, "Annotations").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A security-relevant annotation (auth, source ranges, limits, body size, WAF) that
    /// Strait does not enforce yet.
    UnsupportedSecurityAnnotation,
    /// A security-relevant annotation whose value does not parse.
    InvalidSecurityAnnotation,
    /// A snippet annotation: configuration text, never executed.
    SnippetAnnotation,
    /// Basic auth whose Secret is missing or holds no usable htpasswd data.
    BasicAuthSecret,
}

impl Refusal {
    /// Short plain-text reason for the 503 body (the diagnostic names the keys).
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnsupportedSecurityAnnotation => {
                "route refused: its Ingress has a security annotation that Strait does not enforce yet (see the Ingress's events or strait check)"
            }
            Self::InvalidSecurityAnnotation => {
                "route refused: a security annotation on its Ingress has an invalid value (see the Ingress's events or strait check)"
            }
            Self::SnippetAnnotation => {
                "route refused: its Ingress carries a snippet annotation, which Strait never executes (see the Ingress's events or strait check)"
            }
            Self::BasicAuthSecret => {
                "route refused: the basic-auth Secret of its Ingress is missing or unusable (see the Ingress's events or strait check)"
            }
        }
    }

    /// Bounded label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedSecurityAnnotation => "unsupported_security_annotation",
            Self::InvalidSecurityAnnotation => "invalid_security_annotation",
            Self::SnippetAnnotation => "snippet_annotation",
            Self::BasicAuthSecret => "basic_auth_secret",
        }
    }
}

/// Per-route settings that come from the owning Ingress (its annotations and `spec.tls`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteOptions {
    /// Plain-HTTP requests get `308` to `https://` (docs/architecture.md, "Redirects"): the rule's
    /// host is listed in some Ingress's `spec.tls` and the owning Ingress does not set
    /// `ssl-redirect: "false"`, or the owning Ingress sets `force-ssl-redirect: "true"`.
    pub https_redirect: bool,
    /// Requests of this route are written to the access log (when the proxy has one); the
    /// owning Ingress turns it off with `enable-access-log: "false"`. Default `true`.
    pub access_log: bool,
    /// The route answers 503 with this reason and is never forwarded (fail closed).
    pub refused: Option<Refusal>,
    /// CORS (`enable-cors`, `cors-*`): preflights answered by the proxy, headers added to
    /// responses. `None`: no CORS.
    pub cors: Option<Arc<Cors>>,
    /// Upstream timeouts (`proxy-connect-timeout`, `proxy-read-timeout`,
    /// `proxy-send-timeout`). `None`: the global defaults.
    pub timeouts: Option<Arc<Timeouts>>,
    /// HTTP basic auth (`auth-type: basic`, `auth-secret`): requests without a valid user and
    /// password get 401 with `WWW-Authenticate`. `None`: no basic auth.
    pub basic_auth: Option<Arc<basic_auth::BasicAuth>>,
    /// Which client addresses the route serves (`allowlist-source-range`,
    /// `denylist-source-range`, or the global flags); others get 403. `None`: everyone.
    pub source: Option<Arc<SourcePolicy>>,
    /// The largest request body the route takes (`proxy-body-size`, else `--max-body-size`);
    /// a larger one gets 413. `None`: unlimited.
    pub max_body_size: Option<BodyLimit>,
    /// The path sent upstream is rewritten (`rewrite-target`, with `x-forwarded-prefix`).
    /// `None`: the path goes as received.
    pub rewrite: Option<Arc<rewrite::Rewrite>>,
    /// `/` of the route's host answers 302 to this path (`app-root`). `None`: no redirect.
    pub app_root: Option<Arc<str>>,
}

impl Default for RouteOptions {
    fn default() -> Self {
        Self {
            https_redirect: false,
            access_log: true,
            refused: None,
            cors: None,
            timeouts: None,
            basic_auth: None,
            source: None,
            max_body_size: None,
            rewrite: None,
            app_root: None,
        }
    }
}

/// The target of a matched rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The Ingress that owns the rule.
    pub ingress: ObjectKey,
    pub backend: BackendId,
    pub options: RouteOptions,
}

/// Paths of one host.
pub type HostRoutes = PathRouter<Route>;

/// What a request matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteMatch<'t> {
    pub route: &'t Route,
    pub backend: &'t Backend,
    /// `None` when the match is the default backend.
    pub rank: Option<MatchRank>,
    /// On a regex host, the path of the regex location that matched (docs/architecture.md,
    /// "Regex paths and rewrites").
    pub pattern: Option<&'t str>,
}

/// The compiled, immutable routing table.
///
/// Routers and certificates sit behind one `Arc`, and each backend behind its own, so the
/// endpoint fast path ([`Index::refresh_endpoints`](crate::Index::refresh_endpoints)) makes a
/// new table by sharing them and replacing only the backends whose endpoints changed; a shared
/// backend keeps its round-robin cursor.
///
/// Equality compares content only (not round-robin cursors and not `generation`), so the
/// publisher can skip publishing a table equal to the current one.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    /// Set by the publisher: 0 for the empty startup table, then 1, 2, … per published table.
    pub generation: u64,
    routes: Arc<Routes>,
    /// Indexed by [`BackendId`].
    backends: Arc<[Arc<Backend>]>,
}

/// Everything of a table but its backends: host and path routers, the default backend and
/// the certificates. Built once per full compile.
#[derive(Debug, Default, PartialEq)]
struct Routes {
    exact: HashMap<Box<str>, HostRoutes>,
    wildcard: HashMap<Box<str>, HostRoutes>,
    any_host: HostRoutes,
    default_backend: Option<Route>,
    tls: TlsTable,
}

impl PartialEq for RouteTable {
    fn eq(&self, other: &Self) -> bool {
        let same_backends = Arc::ptr_eq(&self.backends, &other.backends)
            || (self.backends.len() == other.backends.len()
                && self
                    .backends
                    .iter()
                    .zip(other.backends.iter())
                    .all(|(a, b)| Arc::ptr_eq(a, b) || **a == **b));
        (self.shares_routes(other) || *self.routes == *other.routes) && same_backends
    }
}

impl RouteTable {
    /// Finds the route for a request's host (raw `Host`/`:authority`, port and case ignored) and
    /// path (undecoded). A host that matches a rule is matched only against that host's paths;
    /// with no path match there, or no host match at all, the default backend answers, if any.
    pub fn lookup(&self, raw_host: &str, path: &str) -> Option<RouteMatch<'_>> {
        let host = normalise_request_host(raw_host);
        let routes = &*self.routes;
        let paths = routes
            .exact
            .get(host.as_ref())
            .or_else(|| wildcard_suffix(&host).and_then(|s| routes.wildcard.get(s)))
            .unwrap_or(&routes.any_host);
        match paths.lookup(path) {
            Some(m) => Some(self.resolve(m.value, Some(m.rank), m.pattern)),
            None => routes
                .default_backend
                .as_ref()
                .map(|route| self.resolve(route, None, None)),
        }
    }

    fn resolve<'t>(
        &'t self,
        route: &'t Route,
        rank: Option<MatchRank>,
        pattern: Option<&'t str>,
    ) -> RouteMatch<'t> {
        RouteMatch {
            route,
            backend: self.backend(route.backend),
            rank,
            pattern,
        }
    }

    /// The backend behind an id handed out by this table's builder.
    pub fn backend(&self, id: BackendId) -> &Backend {
        // Ids are only created by `TableBuilder::backend`, which pushes the backend first.
        &self.backends[id.0 as usize]
    }

    /// Every backend, indexed by [`BackendId`]. Each sits behind its own `Arc`: a table made by
    /// the endpoint fast path shares the ones it did not change with the table it came from.
    pub fn backends(&self) -> &[Arc<Backend>] {
        &self.backends
    }

    pub fn default_backend(&self) -> Option<&Route> {
        self.routes.default_backend.as_ref()
    }

    /// Number of host entries (exact, wildcard, and the no-host rules when present).
    pub fn host_count(&self) -> usize {
        let routes = &self.routes;
        routes.exact.len() + routes.wildcard.len() + usize::from(!routes.any_host.is_empty())
    }

    /// Number of host + path routes.
    pub fn route_count(&self) -> usize {
        let routes = &self.routes;
        routes.exact.values().map(PathRouter::len).sum::<usize>()
            + routes.wildcard.values().map(PathRouter::len).sum::<usize>()
            + routes.any_host.len()
    }

    /// Certificates by server name, read by the proxy's SNI resolver.
    pub fn tls(&self) -> &TlsTable {
        &self.routes.tls
    }

    /// The paths of one host pattern, if the table has any.
    pub fn host_routes(&self, host: &HostPattern) -> Option<&HostRoutes> {
        let routes = &self.routes;
        match host {
            HostPattern::Exact(h) => routes.exact.get(h.as_str()),
            HostPattern::Wildcard(s) => routes.wildcard.get(s.as_str()),
            HostPattern::Any => (!routes.any_host.is_empty()).then_some(&routes.any_host),
        }
    }

    /// Whether both tables share one set of routers, default backend and certificates (the
    /// same allocation, not merely equal content): true of a table and the ones the endpoint
    /// fast path made from it.
    pub fn shares_routes(&self, other: &RouteTable) -> bool {
        Arc::ptr_eq(&self.routes, &other.routes)
    }

    /// This table with new endpoint states for the backends `refresh` returns one for (`None`
    /// leaves a backend alone). Routers, certificates and every backend whose state did not
    /// change are shared, `Arc` and round-robin cursor included; ids stay valid.
    pub(crate) fn refresh_backends(
        &self,
        mut refresh: impl FnMut(&Backend) -> Option<Result<Endpoints, Unavailable>>,
    ) -> RouteTable {
        let mut changed: Option<Vec<Arc<Backend>>> = None;
        for (i, backend) in self.backends.iter().enumerate() {
            let Some(state) = refresh(backend).filter(|state| *state != backend.state) else {
                continue;
            };
            let backends = changed.get_or_insert_with(|| self.backends.to_vec());
            backends[i] = Arc::new(Backend {
                service: backend.service.clone(),
                mode: backend.mode,
                state,
            });
        }
        RouteTable {
            generation: self.generation,
            routes: Arc::clone(&self.routes),
            backends: changed.map_or_else(|| Arc::clone(&self.backends), Arc::from),
        }
    }
}

/// Builds a [`RouteTable`]. Callers insert in precedence order (older Ingress first): the first
/// claim on a host + path + pathType, or on the default backend, wins; later claims get the
/// winner back to report the conflict.
#[derive(Debug, Default)]
pub struct TableBuilder {
    routes: Routes,
    backends: Vec<Arc<Backend>>,
    backend_ids: HashMap<(ServiceRef, BackendMode), BackendId>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for a Service port in a mode, computing its endpoints with `resolve` the first
    /// time it is seen. Routes to the same Service port and mode share one backend (and so one
    /// round-robin cursor).
    pub fn backend(
        &mut self,
        service: ServiceRef,
        mode: BackendMode,
        resolve: impl FnOnce(&ServiceRef, BackendMode) -> Result<Endpoints, Unavailable>,
    ) -> BackendId {
        if let Some(id) = self.backend_ids.get(&(service.clone(), mode)) {
            return *id;
        }
        let state = resolve(&service, mode);
        // One backend per distinct Service port and mode in the cluster: far below 2^32.
        let id = BackendId(u32::try_from(self.backends.len()).expect("fewer than 2^32 backends"));
        self.backends.push(Arc::new(Backend {
            service: service.clone(),
            mode,
            state,
        }));
        self.backend_ids.insert((service, mode), id);
        id
    }

    /// Adds a rule. `Err` carries the route that already owns the same host + kind + path.
    pub fn insert(
        &mut self,
        host: &HostPattern,
        kind: PathKind,
        path: &str,
        route: Route,
    ) -> Result<(), &Route> {
        self.paths_mut(host).insert(kind, path, route)
    }

    fn paths_mut(&mut self, host: &HostPattern) -> &mut HostRoutes {
        match host {
            HostPattern::Exact(h) => self.routes.exact.entry(h.as_str().into()).or_default(),
            HostPattern::Wildcard(s) => self.routes.wildcard.entry(s.as_str().into()).or_default(),
            HostPattern::Any => &mut self.routes.any_host,
        }
    }

    /// Makes `host` match by regex (docs/architecture.md, "Regex paths and rewrites"), before
    /// any of its paths is inserted; `keep_exact`: its `Exact` paths stay exact.
    pub fn regex_host(&mut self, host: &HostPattern, keep_exact: bool) {
        self.paths_mut(host).use_regex(keep_exact);
    }

    /// Adds a rule on a regex host, matched by `locations`; see [`PathRouter::insert_regex`].
    pub fn insert_regex(
        &mut self,
        host: &HostPattern,
        kind: PathKind,
        path: &str,
        locations: Vec<RegexPath>,
        route: Route,
    ) -> Result<(), RegexRejected<'_, Route>> {
        self.paths_mut(host)
            .insert_regex(kind, path, locations, route)
    }

    /// Compiles the regex hosts' paths. Returns the hosts whose paths could not be compiled
    /// together (none of them matches), with the Ingresses that have paths there.
    pub fn seal_regex(&mut self) -> Vec<(HostPattern, RegexError, Vec<ObjectKey>)> {
        let routes = &mut self.routes;
        let mut failed = Vec::new();
        let mut seal = |host: &dyn Fn() -> HostPattern, paths: &mut HostRoutes| {
            if let Err(e) = paths.seal() {
                let mut ingresses: Vec<ObjectKey> =
                    paths.values().map(|r| r.ingress.clone()).collect();
                ingresses.sort();
                ingresses.dedup();
                failed.push((host(), e, ingresses));
            }
        };
        for (h, paths) in routes.exact.iter_mut().filter(|(_, p)| p.is_regex()) {
            seal(&|| HostPattern::Exact(h.to_string()), paths);
        }
        for (s, paths) in routes.wildcard.iter_mut().filter(|(_, p)| p.is_regex()) {
            seal(&|| HostPattern::Wildcard(s.to_string()), paths);
        }
        seal(&|| HostPattern::Any, &mut routes.any_host);
        failed
    }

    /// The route that already owns host + kind + path, if any: lets the caller report a conflict
    /// before resolving a backend it would not use.
    pub fn claim(&self, host: &HostPattern, kind: PathKind, path: &str) -> Option<&Route> {
        let paths = match host {
            HostPattern::Exact(h) => self.routes.exact.get(h.as_str())?,
            HostPattern::Wildcard(s) => self.routes.wildcard.get(s.as_str())?,
            HostPattern::Any => &self.routes.any_host,
        };
        paths.get(kind, path)
    }

    /// The default backend set so far, if any.
    pub fn current_default_backend(&self) -> Option<&Route> {
        self.routes.default_backend.as_ref()
    }

    /// Sets the default backend unless one is set already (then `Err` carries the winner).
    pub fn default_backend(&mut self, route: Route) -> Result<(), &Route> {
        match self.routes.default_backend {
            Some(ref existing) => Err(existing),
            None => {
                self.routes.default_backend = Some(route);
                Ok(())
            }
        }
    }

    /// Claims `host`'s certificate unless it is claimed already (then `Err` carries the
    /// holder). Callers claim in precedence order, as for routes.
    pub fn tls_certificate(
        &mut self,
        host: &HostPattern,
        cert: Arc<Certificate>,
    ) -> Result<(), &Arc<Certificate>> {
        self.routes.tls.insert(host, cert)
    }

    /// The certificate served when no host name matches (`--default-ssl-certificate`).
    pub fn default_certificate(&mut self, cert: Arc<Certificate>) {
        self.routes.tls.set_default(cert);
    }

    pub fn build(mut self) -> RouteTable {
        // Reported by the compile, which seals first; sealing again is a no-op.
        let _ = self.seal_regex();
        RouteTable {
            generation: 0,
            routes: Arc::new(self.routes),
            backends: self.backends.into(),
        }
    }
}

#[cfg(test)]
mod tests;
