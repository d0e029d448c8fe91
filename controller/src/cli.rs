//! The `strait` command line: `serve`, `controller`, `check`, `demo` and `echo`.
//!
//! Every flag has an environment fallback named `STRAIT_<FLAG>` (for `demo` and `echo`:
//! `STRAIT_DEMO_<FLAG>` and `STRAIT_ECHO_<FLAG>`; `check`'s own flags: `STRAIT_CHECK_<FLAG>`). Values are parsed into typed data once,
//! here; [`ServeArgs::into_config`] turns the `serve` flags into a [`ServeConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use strait_proxy::access_log::Format as AccessLogFormat;
use strait_proxy::{AccessLog, Hsts, ProxyConfig, ProxyProtocol, RetryDefaults};
use strait_shared::config::UnsupportedSecurity;
use strait_shared::table::{BodyLimit, NextUpstream, SourcePolicy};
use strait_shared::{BackendMode, CompileConfig, ObjectKey};

use crate::cluster::ClusterConfig;
use crate::logging::LogFormat;
use crate::serve::{ServeConfig, Source};

/// Strait: a Kubernetes ingress controller and L7 proxy.
#[derive(Debug, Parser)]
#[command(name = "strait", version)]
pub struct Cli {
    /// Log filter in `RUST_LOG` syntax (e.g. `info`, `strait_proxy=debug`). When absent,
    /// `RUST_LOG` is used, else `info`.
    #[arg(long, global = true, env = "STRAIT_LOG")]
    pub log: Option<String>,
    /// Log line format on stderr: `text` (human-readable) or `json` (one object per line).
    #[arg(long, global = true, env = "STRAIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at startup; size does not matter"
)]
pub enum Command {
    /// Serve Ingresses from a folder of manifests.
    Serve(ServeArgs),
    /// Serve Ingresses from the Kubernetes API (the container's default command).
    Controller(ControllerArgs),
    /// Run a self-contained demo: two echo backends, example manifests, the proxy.
    Demo(DemoArgs),
    /// Run an HTTP/WebSocket echo backend that answers every request with JSON.
    Echo(EchoArgs),
    /// Report what Strait would do with existing Ingresses (a folder, a file, `-` for stdin,
    /// or a cluster, read-only): exit 0 when nothing changes, 1 when something needs a look,
    /// 2 when the check could not run.
    Check(crate::check::CheckArgs),
}

/// Flags of `strait serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Folder of Ingress, IngressClass, Service, EndpointSlice, Secret and Node manifests.
    #[arg(long, env = "STRAIT_MANIFESTS", value_name = "DIR")]
    pub manifests: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags of `strait controller`: the common ones, plus where the cluster is and what to write
/// back to it.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// kubeconfig file; without it (and without `KUBECONFIG`) the in-cluster service account.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (repeatable); default: all namespaces.
    #[arg(
        long,
        env = "STRAIT_WATCH_NAMESPACE",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub watch_namespace: Vec<String>,
    /// The LoadBalancer Service in front of Strait: its `status.loadBalancer.ingress` is copied
    /// to the status of every Ingress that is ours.
    #[arg(long, env = "STRAIT_PUBLISH_SERVICE", value_name = "NAMESPACE/NAME", value_parser = parse_object_key)]
    pub publish_service: Option<ObjectKey>,
    /// Addresses written to Ingress status instead (IPs or host names); ignored when
    /// `--publish-service` is given.
    #[arg(
        long,
        env = "STRAIT_PUBLISH_STATUS_ADDRESS",
        value_name = "ADDR,...",
        value_delimiter = ','
    )]
    pub publish_status_address: Vec<String>,
    /// Elect one replica to write status and Events (`--leader-election=false`: this replica
    /// always writes; for a single replica outside the cluster).
    #[arg(long, env = "STRAIT_LEADER_ELECTION", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub leader_election: bool,
    /// Write `status.loadBalancer.ingress` of our Ingresses (`--update-status=false`: never
    /// touch Ingress status, e.g. while ingress-nginx still owns it during a side-by-side
    /// migration; Events are still posted). Default: true, but false when a kubeconfig is
    /// given (`--kubeconfig` or `KUBECONFIG`): an instance run from a workstation does not
    /// write status unless told to.
    #[arg(long, env = "STRAIT_UPDATE_STATUS", action = ArgAction::Set, value_name = "BOOL")]
    pub update_status: Option<bool>,
    /// Name of the leader Lease, in the election namespace.
    #[arg(long, env = "STRAIT_ELECTION_ID", default_value = "strait-leader")]
    pub election_id: String,
    /// Namespace of the leader Lease; the same for every instance of one installation.
    /// Default: the pod's namespace. Without either, status and Events are never written.
    #[arg(long, env = "STRAIT_ELECTION_NAMESPACE", value_name = "NS")]
    pub election_namespace: Option<String>,
    /// This replica's namespace (the Lease lives there); set from the downward API.
    #[arg(long, env = "POD_NAMESPACE", value_name = "NS")]
    pub pod_namespace: Option<String>,
    /// This replica's name (the Lease holder and the Events' reporting instance); set from the
    /// downward API, else the host name.
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pub pod_name: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags shared by `strait serve` and `strait controller`: listeners, translation, proxy
/// behaviour, drain and logging.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Address of the plain-HTTP listener (`:8080` is every interface; port 0 picks a free
    /// port).
    #[arg(long, env = "STRAIT_HTTP_ADDR", default_value = "0.0.0.0:8080", value_parser = parse_listen_addr)]
    pub http_addr: SocketAddr,
    /// Address of the HTTPS listener (`:8443` is every interface; port 0 picks a free port).
    #[arg(long, env = "STRAIT_HTTPS_ADDR", default_value = "0.0.0.0:8443", value_parser = parse_listen_addr)]
    pub https_addr: SocketAddr,
    /// Address of the admin listener serving /healthz, /readyz, /metrics and /log/level.
    #[arg(long, env = "STRAIT_ADMIN_ADDR", default_value = "127.0.0.1:10254", value_parser = parse_listen_addr)]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub translation: TranslationArgs,
    /// Comma-separated CIDRs whose X-Forwarded-* headers are believed; a bare IP is one host.
    #[arg(
        long,
        env = "STRAIT_TRUSTED_PROXIES",
        value_name = "CIDR,...",
        value_delimiter = ',',
        value_parser = parse_cidr
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Listeners whose connections must start with a PROXY protocol v1/v2 header:
    /// `http`, `https` or `http,https`.
    #[arg(
        long,
        env = "STRAIT_PROXY_PROTOCOL",
        value_name = "LISTENER,...",
        value_enum,
        value_delimiter = ','
    )]
    pub proxy_protocol: Vec<ListenerArg>,
    /// Time a new connection gets for its PROXY header and TLS handshake.
    #[arg(long, env = "STRAIT_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// Add `Strict-Transport-Security` to HTTPS responses (`--hsts=false` turns it off).
    #[arg(long, env = "STRAIT_HSTS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub hsts: bool,
    /// HSTS `max-age` (e.g. `365d`, `1h`).
    #[arg(long, env = "STRAIT_HSTS_MAX_AGE", default_value = "365d", value_parser = parse_duration)]
    pub hsts_max_age: Duration,
    /// Add `includeSubDomains` to the HSTS header.
    #[arg(long, env = "STRAIT_HSTS_INCLUDE_SUBDOMAINS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub hsts_include_subdomains: bool,
    /// Add `preload` to the HSTS header.
    #[arg(long, env = "STRAIT_HSTS_PRELOAD", default_value_t = false, action = ArgAction::Set, value_name = "BOOL")]
    pub hsts_preload: bool,
    /// Port named in HTTP→HTTPS redirects (443 is left out of the URL); 0 means the HTTPS
    /// listener's own port.
    #[arg(long, env = "STRAIT_HTTPS_REDIRECT_PORT", default_value_t = 443)]
    pub https_redirect_port: u16,
    /// Status of HTTP→HTTPS redirects: 301, 302, 307 or 308 (ingress-nginx's
    /// `http-redirect-code`).
    #[arg(long, env = "STRAIT_HTTP_REDIRECT_CODE", default_value_t = 308, value_parser = parse_redirect_code)]
    pub http_redirect_code: u16,
    /// Upstream TCP connect timeout (e.g. `5s`, `250ms`).
    #[arg(long, env = "STRAIT_UPSTREAM_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,
    /// Time an upstream has to send response headers before the client gets 504; also the
    /// longest wait between two reads of a response body (then it is cut) and the longest
    /// silence on a WebSocket tunnel (then it is closed). Per Ingress: `proxy-read-timeout`.
    #[arg(long, env = "STRAIT_UPSTREAM_RESPONSE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub upstream_response_timeout: Duration,
    /// Longest wait for a write to an upstream that reads nothing (between two writes, as
    /// nginx's `proxy_send_timeout`): then 504, or the connection cut once the response
    /// started; a WebSocket tunnel it stops reading is closed. 0 disables it. Per Ingress:
    /// `proxy-send-timeout`.
    #[arg(long, env = "STRAIT_UPSTREAM_SEND_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub upstream_send_timeout: Duration,
    /// Failures that pass a request to the next endpoint (ingress-nginx's
    /// `proxy-next-upstream`): error, timeout, invalid_header, http_500, http_502, http_503,
    /// http_504, http_403, http_404, http_429, non_idempotent, or off; space- or
    /// comma-separated. Per Ingress: `proxy-next-upstream`.
    #[arg(long, env = "STRAIT_NEXT_UPSTREAM", default_value = "error timeout", value_parser = parse_next_upstream)]
    pub next_upstream: NextUpstream,
    /// Attempts per request in all, the first included; 0: no limit. Per Ingress:
    /// `proxy-next-upstream-tries`.
    #[arg(long, env = "STRAIT_NEXT_UPSTREAM_TRIES", default_value_t = 3)]
    pub next_upstream_tries: u32,
    /// No further endpoint is tried once this long has passed since the first attempt; 0: no
    /// limit. Per Ingress: `proxy-next-upstream-timeout`.
    #[arg(long, env = "STRAIT_NEXT_UPSTREAM_TIMEOUT", default_value = "0", value_parser = parse_duration)]
    pub next_upstream_timeout: Duration,
    /// Pass POST, LOCK and PATCH requests to the next endpoint even once they were sent
    /// (ingress-nginx's ConfigMap `retry-non-idempotent`).
    #[arg(long, env = "STRAIT_RETRY_NON_IDEMPOTENT", default_value_t = false, action = ArgAction::Set, value_name = "BOOL")]
    pub retry_non_idempotent: bool,
    #[command(flatten)]
    pub balance: BalanceArgs,
    /// An idle client keep-alive connection is closed after this.
    #[arg(long, env = "STRAIT_CLIENT_IDLE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub client_idle_timeout: Duration,
    /// Time a client has to send a complete request header block (from connection start, or
    /// from the first byte of the next request on a keep-alive connection); then the
    /// connection is closed. 0 disables it.
    #[arg(long, env = "STRAIT_CLIENT_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub client_header_timeout: Duration,
    /// Longest pause between two reads of a request body; then the upstream request is
    /// aborted and the client gets 408. 0 disables it.
    #[arg(long, env = "STRAIT_CLIENT_BODY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub client_body_timeout: Duration,
    /// Most client connections open at once over all listeners; more are closed at once and
    /// counted. 0 means no limit.
    #[arg(long, env = "STRAIT_MAX_CLIENT_CONNECTIONS", default_value_t = 65_536)]
    pub max_client_connections: usize,
    /// Status of a request over its Ingress's `limit-rps` or `limit-rpm` (ingress-nginx's
    /// ConfigMap `limit-req-status-code`), 400 to 599.
    #[arg(long, env = "STRAIT_LIMIT_REQ_STATUS_CODE", default_value_t = 503, value_name = "CODE", value_parser = clap::value_parser!(u16).range(400..=599))]
    pub limit_req_status_code: u16,
    /// Status of a request over its Ingress's `limit-connections` (ingress-nginx's ConfigMap
    /// `limit-conn-status-code`), 400 to 599.
    #[arg(long, env = "STRAIT_LIMIT_CONN_STATUS_CODE", default_value_t = 503, value_name = "CODE", value_parser = clap::value_parser!(u16).range(400..=599))]
    pub limit_conn_status_code: u16,
    /// Largest request header block in bytes; larger requests get 431.
    #[arg(long, env = "STRAIT_MAX_HEADER_BYTES", default_value_t = 65536)]
    pub max_header_bytes: usize,
    /// Largest number of request headers; more get 431.
    #[arg(long, env = "STRAIT_MAX_HEADERS", default_value_t = strait_proxy::HYPER_MAX_HEADERS)]
    pub max_headers: usize,
    /// On SIGTERM/SIGINT: time to keep serving with /readyz failing, so load balancers stop
    /// sending new connections, before the listener closes.
    #[arg(long, env = "STRAIT_SHUTDOWN_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// After the drain delay: time open connections get to finish their requests before they
    /// are dropped.
    #[arg(long, env = "STRAIT_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// An idle pooled upstream connection is not reused after this long.
    #[arg(long, env = "STRAIT_UPSTREAM_POOL_IDLE_TIMEOUT", default_value = "90s", value_parser = parse_duration)]
    pub upstream_pool_idle_timeout: Duration,
    /// Most idle pooled connections kept per upstream address; 0 disables pooling.
    #[arg(long, env = "STRAIT_UPSTREAM_POOL_MAX_IDLE", default_value_t = 64)]
    pub upstream_pool_max_idle: usize,
    /// Quiet time after a change (a manifest file, a watched object) before recompiling; a
    /// change never waits more than 1 s.
    #[arg(long, env = "STRAIT_DEBOUNCE", default_value = "50ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Data-path worker threads, each a single-threaded runtime with its own listening
    /// sockets (SO_REUSEPORT) and upstream pool; 0: one per CPU this process may use
    /// (affinity and cgroup quota).
    #[arg(long, env = "STRAIT_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Write one JSON line per request to stdout (`--access-log=false` turns it off).
    #[arg(long, env = "STRAIT_ACCESS_LOG", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub access_log: bool,
    /// Access-log line format: `json` (one object per line) or `nginx` (ingress-nginx's
    /// default `upstreaminfo` text line, for pipelines that parse it).
    #[arg(long, env = "STRAIT_ACCESS_LOG_FORMAT", value_enum, default_value_t = AccessLogFormatArg::Json)]
    pub access_log_format: AccessLogFormatArg,
}

/// `--access-log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessLogFormatArg {
    /// One JSON object per line.
    Json,
    /// ingress-nginx's `upstreaminfo` text format.
    Nginx,
}

impl From<AccessLogFormatArg> for AccessLogFormat {
    fn from(arg: AccessLogFormatArg) -> Self {
        match arg {
            AccessLogFormatArg::Json => Self::Json,
            AccessLogFormatArg::Nginx => Self::Nginx,
        }
    }
}

/// The flags that change how objects translate into a table: shared by `serve`,
/// `controller` and `check` (which must compile exactly as the controller would).
#[derive(Debug, Clone, Args)]
pub struct TranslationArgs {
    /// IngressClass names this controller answers to, comma-separated (`strait,nginx` also
    /// serves ingress-nginx's Ingresses, side by side).
    #[arg(
        long,
        env = "STRAIT_INGRESS_CLASS",
        value_name = "NAME,...",
        value_delimiter = ',',
        default_value = strait_shared::config::DEFAULT_INGRESS_CLASS,
        value_parser = parse_name
    )]
    pub ingress_class: Vec<String>,
    /// `spec.controller` values that mark an IngressClass as ours, comma-separated (add
    /// `k8s.io/ingress-nginx` to take ingress-nginx's IngressClasses).
    #[arg(
        long,
        env = "STRAIT_CONTROLLER_NAME",
        value_name = "NAME,...",
        value_delimiter = ',',
        default_value = strait_shared::config::DEFAULT_CONTROLLER_NAME,
        value_parser = parse_name
    )]
    pub controller_name: Vec<String>,
    /// Prefix of ingress-nginx annotations read from Ingresses (some fleets use
    /// `ingress.kubernetes.io`); `strait.dev/` keys are read whatever it is.
    #[arg(
        long,
        env = "STRAIT_ANNOTATIONS_PREFIX",
        default_value = strait_shared::config::DEFAULT_ANNOTATIONS_PREFIX,
        value_parser = parse_annotations_prefix
    )]
    pub annotations_prefix: String,
    /// Routes of an Ingress with a security annotation Strait does not enforce yet (auth,
    /// source ranges, limits, body size, WAF): `refuse` answers them 503 (fail closed),
    /// `serve` serves them without the control and warns.
    #[arg(long, env = "STRAIT_UNSUPPORTED_SECURITY_ANNOTATIONS", value_enum, default_value_t = UnsupportedSecurityArg::Refuse)]
    pub unsupported_security_annotations: UnsupportedSecurityArg,
    /// How upstreams are reached unless an Ingress overrides it.
    #[arg(long, env = "STRAIT_BACKEND_MODE", value_enum, default_value_t = BackendModeArg::Pod)]
    pub backend_mode: BackendModeArg,
    /// Also serve Ingresses that name no IngressClass.
    #[arg(long, env = "STRAIT_WATCH_INGRESS_WITHOUT_CLASS")]
    pub watch_ingress_without_class: bool,
    /// `kubernetes.io/tls` Secret served when no `spec.tls` host matches the SNI; without it a
    /// self-signed certificate generated at start.
    #[arg(long, env = "STRAIT_DEFAULT_SSL_CERTIFICATE", value_name = "NAMESPACE/NAME", value_parser = parse_object_key)]
    pub default_ssl_certificate: Option<ObjectKey>,
    /// Client addresses every route serves, comma-separated CIDRs or IPs, unless its Ingress
    /// sets `allowlist-source-range` (ingress-nginx's ConfigMap `whitelist-source-range`);
    /// others get 403. Default: everyone.
    #[arg(
        long,
        env = "STRAIT_ALLOWLIST_SOURCE_RANGE",
        value_name = "CIDR,...",
        value_delimiter = ',',
        value_parser = parse_cidr
    )]
    pub allowlist_source_range: Vec<IpNet>,
    /// Client addresses every route refuses (403), checked before the allow list, unless its
    /// Ingress sets `denylist-source-range` (ConfigMap `denylist-source-range`).
    #[arg(
        long,
        env = "STRAIT_DENYLIST_SOURCE_RANGE",
        value_name = "CIDR,...",
        value_delimiter = ',',
        value_parser = parse_cidr
    )]
    pub denylist_source_range: Vec<IpNet>,
    /// Largest request body of a route whose Ingress sets no `proxy-body-size` (ConfigMap
    /// `proxy-body-size`): bytes, or with unit `k`, `m`, `g`; `0` is unlimited. Larger bodies
    /// get 413.
    #[arg(long, env = "STRAIT_MAX_BODY_SIZE", default_value = "1m", value_name = "SIZE", value_parser = parse_size)]
    pub max_body_size: u64,
    #[command(flatten)]
    pub global_auth: GlobalAuthArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

impl TranslationArgs {
    /// The settings the controller compiles with.
    pub fn compile_config(&self) -> CompileConfig {
        self.routing.apply(CompileConfig {
            ingress_classes: self.ingress_class.clone(),
            controller_names: self.controller_name.clone(),
            watch_ingress_without_class: self.watch_ingress_without_class,
            backend_mode: self.backend_mode.into(),
            default_ssl_certificate: self.default_ssl_certificate.clone(),
            annotations_prefix: self.annotations_prefix.clone(),
            unsupported_security: self.unsupported_security_annotations.into(),
            source_ranges: SourcePolicy {
                deny: self
                    .denylist_source_range
                    .iter()
                    .map(IpNet::trunc)
                    .collect(),
                allow: self
                    .allowlist_source_range
                    .iter()
                    .map(IpNet::trunc)
                    .collect(),
            },
            max_body_size: (self.max_body_size > 0).then_some(BodyLimit(self.max_body_size)),
            global_auth: self.global_auth.global_auth(),
            no_auth_locations: self.global_auth.no_auth_locations(),
            ..CompileConfig::default()
        })
    }
}

/// `--backend-mode` values; see `docs/architecture.md`, "Backends".
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendModeArg {
    /// Straight to ready pod IPs from EndpointSlices (one hop).
    Pod,
    /// Each node's InternalIP and the Service's nodePort (two hops).
    #[value(name = "nodeport")]
    NodePort,
    /// The Service's ClusterIP; kube-proxy balances.
    Service,
}

impl From<BackendModeArg> for BackendMode {
    fn from(arg: BackendModeArg) -> Self {
        match arg {
            BackendModeArg::Pod => Self::Pod,
            BackendModeArg::NodePort => Self::NodePort,
            BackendModeArg::Service => Self::Service,
        }
    }
}

/// `--unsupported-security-annotations` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnsupportedSecurityArg {
    /// Answer the Ingress's routes 503 with the reason (fail closed).
    Refuse,
    /// Serve them without the control, with a warning per Ingress (fail open).
    Serve,
}

impl From<UnsupportedSecurityArg> for UnsupportedSecurity {
    fn from(arg: UnsupportedSecurityArg) -> Self {
        match arg {
            UnsupportedSecurityArg::Refuse => Self::Refuse,
            UnsupportedSecurityArg::Serve => Self::Serve,
        }
    }
}

/// A listener, as `--proxy-protocol` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListenerArg {
    Http,
    Https,
}

/// Flags of `strait demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of the demo proxy; when the port is taken a free one is used instead.
    #[arg(long, env = "STRAIT_DEMO_HTTP_ADDR", default_value = "127.0.0.1:8080", value_parser = parse_listen_addr)]
    pub http_addr: SocketAddr,
    /// Address of the demo's HTTPS listener; when the port is taken a free one is used instead.
    #[arg(long, env = "STRAIT_DEMO_HTTPS_ADDR", default_value = "127.0.0.1:8443", value_parser = parse_listen_addr)]
    pub https_addr: SocketAddr,
}

/// Flags of `strait echo`.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, env = "STRAIT_ECHO_ADDR", default_value = "127.0.0.1:9090", value_parser = parse_listen_addr)]
    pub addr: SocketAddr,
    /// Name reported in every response, to tell backends apart.
    #[arg(long, env = "STRAIT_ECHO_NAME", default_value = "echo")]
    pub name: String,
}

impl ServeArgs {
    /// The typed configuration `serve::start` takes (the drain delay is passed to
    /// `Running::run_until` separately; the log control, which only exists once tracing is
    /// installed, is set by the binary).
    pub fn into_config(self) -> ServeConfig {
        self.common.into_config(Source::Manifests(self.manifests))
    }
}

impl ControllerArgs {
    /// The typed configuration, cluster source included. The kube client itself is made by
    /// [`crate::cluster::connect`] from `kubeconfig`.
    pub fn into_config(self) -> ServeConfig {
        // An explicit kubeconfig means a workstation (or a second installation): it writes
        // status only when told to.
        let update_status = self.update_status.unwrap_or(self.kubeconfig.is_none());
        let cluster = ClusterConfig {
            kubeconfig: self.kubeconfig,
            namespaces: self.watch_namespace,
            publish_service: self.publish_service,
            publish_addresses: self.publish_status_address,
            leader_election: self.leader_election,
            update_status,
            election_id: self.election_id,
            election_namespace: self.election_namespace,
            pod_namespace: self.pod_namespace,
            pod_name: self.pod_name,
        };
        self.common.into_config(Source::Cluster(Box::new(cluster)))
    }
}

impl CommonArgs {
    fn into_config(self, source: Source) -> ServeConfig {
        ServeConfig {
            source,
            http_addr: self.http_addr,
            https_addr: self.https_addr,
            admin_addr: self.admin_addr,
            compile: self.translation.compile_config(),
            proxy: ProxyConfig {
                trusted_proxies: self.trusted_proxies,
                connect_timeout: self.upstream_connect_timeout,
                response_header_timeout: self.upstream_response_timeout,
                send_timeout: self.upstream_send_timeout,
                retries: RetryDefaults {
                    next_upstream: self.next_upstream,
                    tries: self.next_upstream_tries,
                    timeout: self.next_upstream_timeout,
                    non_idempotent: self.retry_non_idempotent,
                },
                balance: self.balance.config(),
                idle_timeout: self.client_idle_timeout,
                client_header_timeout: self.client_header_timeout,
                client_body_timeout: self.client_body_timeout,
                max_client_connections: self.max_client_connections,
                max_header_bytes: self.max_header_bytes,
                max_headers: self.max_headers,
                drain_timeout: self.shutdown_grace,
                pool_idle_timeout: self.upstream_pool_idle_timeout,
                pool_max_idle_per_host: self.upstream_pool_max_idle,
                handshake_timeout: self.handshake_timeout,
                proxy_protocol: ProxyProtocol {
                    http: self.proxy_protocol.contains(&ListenerArg::Http),
                    https: self.proxy_protocol.contains(&ListenerArg::Https),
                },
                hsts: self.hsts.then_some(Hsts {
                    max_age: self.hsts_max_age,
                    include_subdomains: self.hsts_include_subdomains,
                    preload: self.hsts_preload,
                }),
                https_redirect_port: self.https_redirect_port,
                http_redirect_code: http::StatusCode::from_u16(self.http_redirect_code)
                    .unwrap_or(http::StatusCode::PERMANENT_REDIRECT),
                limit_req_status: limit_status(self.limit_req_status_code),
                limit_conn_status: limit_status(self.limit_conn_status_code),
            },
            debounce: self.debounce,
            workers: self.workers,
            access_log: if self.access_log {
                AccessLog::stdout().with_format(self.access_log_format.into())
            } else {
                AccessLog::off()
            },
            log_control: None,
        }
    }
}

mod balance;
mod global_auth;
mod parse;
mod routing;
pub use balance::BalanceArgs;
pub use global_auth::GlobalAuthArgs;
use parse::limit_status;
pub use parse::{
    parse_annotations_prefix, parse_cidr, parse_duration, parse_listen_addr, parse_name,
    parse_next_upstream, parse_object_key, parse_redirect_code, parse_size,
};
pub use routing::RoutingArgs;

#[cfg(test)]
mod tests;
