//! Data-path settings ([`ProxyConfig`], parsed once from flags) and what a listener tells the
//! upstream about itself ([`ListenerInfo`]).

use std::time::Duration;

use strait_shared::table::NextUpstream;

mod balance;

pub use balance::{BalanceConfig, OutlierConfig};

/// hyper's HTTP/1 header-count limit when none is set: its parse buffer then lives on the stack.
pub const HYPER_MAX_HEADERS: usize = 100;

/// Data-path settings, parsed once from flags.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Peers whose `X-Forwarded-*` headers are believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Upstream TCP connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Time allowed for the upstream to send response headers once the whole request was sent
    /// (default 60 s; then 504), and the default read timeout of every route (nginx's
    /// `proxy_read_timeout`): the longest wait for the next bytes of a response body (then the
    /// body is cut) and the longest silence on an upgraded tunnel (then it is closed). A
    /// route's `proxy-read-timeout` replaces it.
    pub response_header_timeout: Duration,
    /// Longest wait for a write to the upstream (default 60 s, nginx's `proxy_send_timeout`,
    /// between two successive writes, not for the whole request): an upstream that stops
    /// reading a request body fails the exchange (504, or the connection cut once the
    /// response started) and a tunnel it stops reading is closed. Zero disables it. A route's
    /// `proxy-send-timeout` replaces it.
    pub send_timeout: Duration,
    /// When a failed request is passed to the next endpoint, for every route whose Ingress
    /// does not say otherwise (docs/architecture.md, "Retries").
    pub retries: RetryDefaults,
    /// How endpoints are chosen and when one is set aside (`--load-balance`, `--outlier-*`).
    pub balance: BalanceConfig,
    /// A client connection with no request in flight and no byte moved for this long is closed
    /// gracefully (default 75 s, nginx's `keepalive_timeout`). Zero disables the check. It is
    /// also the outer bound of hyper's HTTP/1 header read timeout.
    pub idle_timeout: Duration,
    /// Time a client has for a complete request header block, counted from the start of the
    /// connection (after the PROXY header and TLS handshake) and, on a keep-alive connection,
    /// from the first byte of the next request; then the connection is closed without an
    /// answer (default 30 s; zero disables it). An idle keep-alive connection is governed by
    /// `idle_timeout` until that first byte. (nginx's `client_header_timeout`.)
    pub client_header_timeout: Duration,
    /// Longest wait between two reads of a request body (default 60 s, nginx's
    /// `client_body_timeout`); then the upstream request is aborted and the client gets `408`
    /// (or, when the response has started, the connection is closed). Zero disables it.
    pub client_body_timeout: Duration,
    /// Most client connections open at once, over every listener (default 65,536); a connection
    /// accepted over it is closed at once and counted. Zero means no limit.
    pub max_client_connections: usize,
    /// Largest total size of a request's header block (default 64 KiB); over it: 431. HTTP/1
    /// cannot go below 8 KiB (hyper's smallest read buffer), so smaller values act as 8 KiB there.
    pub max_header_bytes: usize,
    /// Largest number of request headers (default 100, hyper's own limit, parsed on the stack;
    /// another value makes hyper allocate its header buffer per request); over it: 431.
    pub max_headers: usize,
    /// After shutdown is asked for, how long open connections get to finish their requests
    /// before they are dropped (default 30 s).
    pub drain_timeout: Duration,
    /// An idle pooled upstream connection is not reused after this long (default 90 s).
    pub pool_idle_timeout: Duration,
    /// Most idle pooled connections kept per upstream address (default 64); 0 disables pooling.
    pub pool_max_idle_per_host: usize,
    /// Time a new connection has to send its PROXY header (when enabled) and finish the TLS
    /// handshake (HTTPS); then it is closed, logged at debug and counted (default 10 s).
    pub handshake_timeout: Duration,
    /// Which listeners expect a PROXY protocol v1/v2 header on every connection
    /// (`--proxy-protocol http,https`; default neither).
    pub proxy_protocol: ProxyProtocol,
    /// `Strict-Transport-Security` added to HTTPS responses that carry none (default
    /// `max-age=31536000; includeSubDomains`, as ingress-nginx); `None` turns it off.
    pub hsts: Option<Hsts>,
    /// Port written into `308` redirects to HTTPS; 443 is left out of the URL. (The controller
    /// turns its flag value 0 into the HTTPS listener's bound port before building the proxy.)
    pub https_redirect_port: u16,
    /// Status of redirects to HTTPS (ingress-nginx's `http-redirect-code`: 301, 302, 307 or
    /// 308; default 308).
    pub http_redirect_code: http::StatusCode,
    /// Status of a request over a route's `limit-rps` or `limit-rpm` (nginx's
    /// `limit_req_status`; ingress-nginx's ConfigMap `limit-req-status-code`, default 503).
    pub limit_req_status: http::StatusCode,
    /// Status of a request over a route's `limit-connections` (nginx's `limit_conn_status`;
    /// ConfigMap `limit-conn-status-code`, default 503).
    pub limit_conn_status: http::StatusCode,
}

/// The global retry settings (ingress-nginx's ConfigMap `proxy-next-upstream*` and
/// `retry-non-idempotent`), each replaced by an Ingress's annotation of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryDefaults {
    /// Failures that pass a request to the next endpoint (`--next-upstream`, default
    /// `error timeout`).
    pub next_upstream: NextUpstream,
    /// Attempts in all, the first included; 0: no limit (`--next-upstream-tries`, default 3).
    pub tries: u32,
    /// No further endpoint is tried once this long has passed since the first attempt
    /// started; zero: no limit (`--next-upstream-timeout`, the default).
    pub timeout: Duration,
    /// Non-idempotent requests (POST, LOCK, PATCH) may be passed on even once sent, on every
    /// route (`--retry-non-idempotent`, default false), as if each route listed
    /// `non_idempotent`.
    pub non_idempotent: bool,
}

impl Default for RetryDefaults {
    fn default() -> Self {
        Self {
            next_upstream: NextUpstream::DEFAULT,
            tries: 3,
            timeout: Duration::ZERO,
            non_idempotent: false,
        }
    }
}

/// Listeners that require a PROXY protocol header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyProtocol {
    pub http: bool,
    pub https: bool,
}

impl ProxyProtocol {
    /// Whether the listener of `scheme` requires the header.
    pub fn on(self, scheme: Scheme) -> bool {
        match scheme {
            Scheme::Http => self.http,
            Scheme::Https => self.https,
        }
    }
}

/// The `Strict-Transport-Security` policy of HTTPS responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hsts {
    pub max_age: Duration,
    pub include_subdomains: bool,
    pub preload: bool,
}

impl Default for Hsts {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(31_536_000),
            include_subdomains: true,
            preload: false,
        }
    }
}

impl Hsts {
    /// The header value: `max-age=N[; includeSubDomains][; preload]`.
    pub fn header_value(&self) -> http::HeaderValue {
        let mut value = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if self.preload {
            value.push_str("; preload");
        }
        // Digits, letters, '=', ';' and spaces only.
        http::HeaderValue::from_str(&value).expect("an HSTS value is a valid header value")
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            retries: RetryDefaults::default(),
            balance: BalanceConfig::default(),
            idle_timeout: Duration::from_secs(75),
            client_header_timeout: Duration::from_secs(30),
            client_body_timeout: Duration::from_secs(60),
            max_client_connections: 65_536,
            max_header_bytes: 64 * 1024,
            max_headers: HYPER_MAX_HEADERS,
            drain_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
            handshake_timeout: Duration::from_secs(10),
            proxy_protocol: ProxyProtocol::default(),
            hsts: Some(Hsts::default()),
            https_redirect_port: 443,
            http_redirect_code: http::StatusCode::PERMANENT_REDIRECT,
            limit_req_status: http::StatusCode::SERVICE_UNAVAILABLE,
            limit_conn_status: http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The scheme a listener speaks to clients; becomes `X-Forwarded-Proto` for untrusted peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// What upstream requests learn about the listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerInfo {
    /// `X-Forwarded-Proto` for requests from untrusted peers.
    pub scheme: Scheme,
    /// The listener's local port: `X-Forwarded-Port` for requests from untrusted peers.
    pub port: u16,
}
