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
use crate::paths::{MatchRank, PathRouter};
use crate::tls::TlsTable;

pub mod affinity;
pub mod basic_auth;
mod body_size;
mod builder;
pub mod canary;
pub mod client_auth;
pub mod cors;
mod endpoint_state;
mod endpoints;
pub mod error_pages;
pub mod external_auth;
pub mod hash_by;
pub mod hash_ring;
pub mod limits;
pub mod redirect;
pub mod retries;
pub mod rewrite;
mod source;
pub mod timeouts;
pub mod upstream;
pub mod upstream_host;

pub use body_size::{BodyLimit, DEFAULT_MAX_BODY_SIZE, SizeError, parse_body_size};
pub use builder::TableBuilder;
pub use client_auth::{ClientAuth, VerifyClient};
pub use cors::Cors;
pub use endpoint_state::{EndpointState, EndpointStates, LoadBalance};
pub use endpoints::{Endpoint, Endpoints};
pub use external_auth::{ExternalAuth, Satisfy};
pub use limits::{Limits, RateLimit};
pub use retries::{NextUpstream, Retries};
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
    /// Behind an `Arc`: a backend the endpoint fast path replaces shares it instead of copying
    /// its names.
    pub service: Arc<ServiceRef>,
    pub mode: BackendMode,
    pub state: Result<Endpoints, Unavailable>,
    /// The ring and cookie tokens of its endpoints, for the routes that choose an endpoint
    /// by a request value (`affinity`, `upstream-hash-by`); `None` when no route does.
    pub keyed: Option<Arc<hash_ring::Keyed>>,
    /// nodeport mode in `externalTrafficPolicy: Cluster`: the nodePort. Such a backend's
    /// endpoints are every usable node with this port, whatever else its Service says, so the
    /// endpoint fast path resolves it again from the nodes alone, without looking the Service
    /// up (a refresh never follows a Service change: that is a full compile). `None` for every
    /// other backend.
    pub(crate) cluster_node_port: Option<u16>,
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
    /// External auth whose `auth-proxy-set-headers` ConfigMap is missing, in another
    /// namespace, or not a usable header map.
    AuthHeadersConfigMap,
    /// Upstream TLS that cannot be set up as asked (`proxy-ssl-secret` missing, unusable or
    /// in another namespace; `proxy-ssl-verify: on` without a CA), or a backend protocol
    /// Strait does not speak (`FCGI`).
    UpstreamProtocol,
    /// Client-certificate auth (`auth-tls-secret`) of the route's host whose Secret is
    /// missing, has no `ca.crt`, or whose `auth-tls-*` values do not parse: the whole host is
    /// refused (ingress-nginx serves it open when `ca.crt` is missing).
    ClientCertAuth,
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
            Self::AuthHeadersConfigMap => {
                "route refused: the auth-proxy-set-headers ConfigMap of its Ingress is missing or unusable (see the Ingress's events or strait check)"
            }
            Self::UpstreamProtocol => {
                "route refused: the backend protocol or upstream TLS settings of its Ingress cannot be used (see the Ingress's events or strait check)"
            }
            Self::ClientCertAuth => {
                "route refused: the client-certificate auth of its host has a missing or unusable Secret or value (see the Ingress's events or strait check)"
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
            Self::AuthHeadersConfigMap => "auth_headers_configmap",
            Self::UpstreamProtocol => "upstream_protocol",
            Self::ClientCertAuth => "client_cert_auth",
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
    /// When a failed request goes to the next endpoint (`proxy-next-upstream`, `-tries`,
    /// `-timeout`). `None`: the global defaults.
    pub retries: Option<Arc<Retries>>,
    /// HTTP basic auth (`auth-type: basic`, `auth-secret`): requests without a valid user and
    /// password get 401 with `WWW-Authenticate`. `None`: no basic auth.
    pub basic_auth: Option<Arc<basic_auth::BasicAuth>>,
    /// External auth (`auth-url` and its siblings, or `--global-auth-url`): a subrequest
    /// decides before the request is forwarded. `None`: no external auth.
    pub external_auth: Option<Arc<ExternalAuth>>,
    /// How source lists, basic auth and external auth combine (`satisfy`; default all).
    pub satisfy: Satisfy,
    /// Which client addresses the route serves (`allowlist-source-range`,
    /// `denylist-source-range`, or the global flags); others get 403. `None`: everyone.
    pub source: Option<Arc<SourcePolicy>>,
    /// The largest request body the route takes (`proxy-body-size`, else `--max-body-size`);
    /// a larger one gets 413. `None`: unlimited.
    pub max_body_size: Option<BodyLimit>,
    /// Every request gets this redirect instead of reaching the backend (`permanent-redirect`,
    /// `temporal-redirect`). `None`: no redirect.
    pub redirect: Option<Arc<redirect::Redirect>>,
    /// How the HTTPS redirect writes `Location` (`preserve-trailing-slash`,
    /// `use-port-in-redirects`).
    pub https_redirect_style: redirect::HttpsRedirectStyle,
    /// The `Host` sent upstream instead of the client's (`upstream-vhost`). `None`: the
    /// client's.
    pub upstream_host: Option<http::HeaderValue>,
    /// Every request is redirected to this host, same scheme, port and target
    /// (`from-to-www-redirect`: the route of the `www.` name of a host, or the other way).
    pub www_redirect: Option<http::HeaderValue>,
    /// The canary of this route (an Ingress with `canary: "true"` for the same host and
    /// path): some requests go to its backend instead. `None`: no canary.
    pub canary: Option<Arc<canary::Canary>>,
    /// Request-rate and connection limits per client address (`limit-rps`, `limit-rpm`,
    /// `limit-connections`), shared by every route of the Ingress; over them the proxy answers
    /// `--limit-req-status-code` / `--limit-conn-status-code`. `None`: no limit.
    pub limits: Option<Arc<Limits>>,
    /// The path sent upstream is rewritten (`rewrite-target`, with `x-forwarded-prefix`).
    /// `None`: the path goes as received.
    pub rewrite: Option<Arc<rewrite::Rewrite>>,
    /// How the route's requests choose an endpoint (`load-balance`). `None`: the global
    /// `--load-balance`.
    pub load_balance: Option<LoadBalance>,
    /// `/` of the route's host answers 302 to this path (`app-root`). `None`: no redirect.
    pub app_root: Option<Arc<str>>,
    /// Which errors an error backend answers (`custom-http-errors`, `default-backend`, or
    /// their global flags). `None`: the proxy's own answers and the upstream's pass as they are.
    pub error_pages: Option<Arc<error_pages::ErrorPages>>,
    /// The protocol and TLS settings spoken to the backend (`backend-protocol`,
    /// `proxy-ssl-*`). `None`: the backend's `appProtocol`, else cleartext HTTP/1.1.
    pub upstream: Option<Arc<upstream::Upstream>>,
    /// Client-certificate auth of the route's host (`auth-tls-*`): the same value the TLS
    /// table's SNI map holds for the host, so the proxy can tell a request that came over
    /// another host's handshake (421). `None`: none.
    pub client_auth: Option<Arc<ClientAuth>>,
    /// Cookie session affinity (`affinity: cookie`, `session-cookie-*`): the first attempt
    /// goes to the session's endpoint. `None`: no affinity. Wins over `hashing`.
    pub affinity: Option<Arc<affinity::Affinity>>,
    /// Consistent hashing (`upstream-hash-by`): the first attempt goes to the endpoint the
    /// request value hashes to. `None`: the proxy's balancer chooses.
    pub hashing: Option<Arc<hash_by::Hashing>>,
}

impl Default for RouteOptions {
    fn default() -> Self {
        Self {
            https_redirect: false,
            access_log: true,
            refused: None,
            cors: None,
            timeouts: None,
            retries: None,
            basic_auth: None,
            external_auth: None,
            satisfy: Satisfy::All,
            source: None,
            max_body_size: None,
            redirect: None,
            https_redirect_style: redirect::HttpsRedirectStyle::default(),
            upstream_host: None,
            www_redirect: None,
            canary: None,
            limits: None,
            rewrite: None,
            app_root: None,
            error_pages: None,
            upstream: None,
            client_auth: None,
            affinity: None,
            hashing: None,
            load_balance: None,
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
    /// The backend a TLS connection naming `server_name` (its ClientHello's SNI, case and one
    /// trailing dot ignored) is passed through to, if that host is a passthrough host
    /// (docs/architecture.md, "TLS passthrough").
    pub fn passthrough(&self, server_name: &str) -> Option<&Backend> {
        let tls = &self.routes.tls;
        if !tls.has_passthrough() {
            return None;
        }
        let name = normalise_request_host(server_name);
        let exact_has_routes = self.routes.exact.contains_key(name.as_ref());
        tls.passthrough(&name, exact_has_routes)
            .map(|id| self.backend(id))
    }

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
    /// leaves a backend alone). `refresh` is handed the backend as it is, and builds the new
    /// set from its old one (`Endpoints::new_after`), so what the proxy learned of the
    /// addresses that stay is kept. Routers, certificates and every backend whose state did
    /// not change are shared, `Arc` and round-robin cursor included; ids stay valid.
    pub(crate) fn refresh_backends(
        &self,
        mut refresh: impl FnMut(&Backend) -> Option<Result<Endpoints, Unavailable>>,
    ) -> RouteTable {
        let mut replace = |backend: &Backend| {
            let state = refresh(backend).filter(|state| *state != backend.state)?;
            // The ring follows the endpoints: rebuilt with the same secret and subset sizes.
            let keyed = backend.keyed.as_ref().map(|keyed| {
                let list = state.as_ref().map_or(&[][..], |eps| eps.list());
                Arc::new(keyed.rebuild(list))
            });
            Some(Arc::new(Backend {
                service: Arc::clone(&backend.service),
                mode: backend.mode,
                state,
                keyed,
                cluster_node_port: backend.cluster_node_port,
            }))
        };
        // Up to the first changed backend nothing is copied; from there the new list is
        // collected straight into its `Arc` (one allocation, no intermediate vector).
        let first = self
            .backends
            .iter()
            .enumerate()
            .find_map(|(i, backend)| Some((i, replace(backend)?)));
        let backends = match first {
            None => Arc::clone(&self.backends),
            Some((at, first)) => {
                let mut first = Some(first);
                self.backends
                    .iter()
                    .enumerate()
                    .map(|(i, backend)| match i.cmp(&at) {
                        std::cmp::Ordering::Less => Arc::clone(backend),
                        std::cmp::Ordering::Equal => {
                            first.take().unwrap_or_else(|| Arc::clone(backend))
                        }
                        std::cmp::Ordering::Greater => {
                            replace(backend).unwrap_or_else(|| Arc::clone(backend))
                        }
                    })
                    .collect()
            }
        };
        RouteTable {
            generation: self.generation,
            routes: Arc::clone(&self.routes),
            backends,
        }
    }
}

#[cfg(test)]
mod tests;
