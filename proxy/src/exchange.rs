//! What one request did — route, status, bytes, upstream, timings — recorded once, when its
//! response body is done or dropped: `requests_total` and its siblings, and the access-log
//! line. A request whose handler is dropped before it answered (the client went away, or the
//! drain's grace period ended) is recorded with status 499, as nginx does.
//!
//! With the access log off (globally, or by the route's Ingress) nothing here allocates: the
//! log's fields are boxed only when a line will be written.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::header::{HOST, HeaderMap, HeaderValue, REFERER, USER_AGENT};
use http::uri::PathAndQuery;
use http::{Method, Request, StatusCode, Version};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::access_log::{Entry, PassedOn};
use crate::error::ProxyError;
use crate::forwarding::{self, X_REQUEST_ID};
use crate::headers;
use crate::metrics::{Counter, MethodLabel, RouteHandles};
use crate::pool::Sent;
use crate::proxy::ConnCtx;

/// The status recorded for a request whose client went away before it was answered.
const CLIENT_CLOSED: u16 = 499;

/// One request's record, finished on drop.
pub(crate) struct Exchange {
    ctx: Arc<ConnCtx>,
    started: Instant,
    method: MethodLabel,
    route: Arc<RouteHandles>,
    routed: bool,
    status: Option<StatusCode>,
    upstream: Option<SocketAddr>,
    upstream_status: Option<StatusCode>,
    upstream_connect: Option<Duration>,
    upstream_duration: Option<Duration>,
    bytes_out: u64,
    log: Option<Box<LogFields>>,
}

/// What only the access log needs.
struct LogFields {
    time: SystemTime,
    client: IpAddr,
    method: Method,
    host: Option<HeaderValue>,
    target: Option<PathAndQuery>,
    version: Version,
    request_id: Option<HeaderValue>,
    bytes_in: Option<Arc<AtomicU64>>,
    user_agent: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    /// Request line and headers, as HTTP/1.1 would carry them.
    head_length: u64,
    /// Status line and headers of the response.
    response_head_length: u64,
    /// The matched backend's Service port.
    service_port: Option<String>,
    /// Upstream attempts passed on to the next endpoint, in order (empty, unallocated, for a
    /// request served by its first attempt).
    passed_on: Vec<PassedOn>,
}

impl Exchange {
    /// Starts the record of `request`, which arrived just now on `ctx`'s connection.
    pub(crate) fn start(ctx: Arc<ConnCtx>, request: &Request<Incoming>) -> Self {
        let started = Instant::now();
        let log = ctx
            .proxy
            .access_log
            .is_on()
            .then(|| Box::new(LogFields::of(&ctx, request)));
        Self {
            route: ctx.proxy.metrics.unrouted(),
            ctx,
            started,
            method: MethodLabel::of(request.method()),
            routed: false,
            status: None,
            upstream: None,
            upstream_status: None,
            upstream_connect: None,
            upstream_duration: None,
            bytes_out: 0,
            log,
        }
    }

    /// The request matched a rule whose backend is on Service port `port`; `access_log` is
    /// the rule's Ingress's switch.
    pub(crate) fn routed(
        &mut self,
        route: Arc<RouteHandles>,
        access_log: bool,
        port: &impl std::fmt::Display,
    ) {
        self.route = route;
        self.routed = true;
        if !access_log {
            self.log = None;
        }
        if let Some(log) = &mut self.log {
            log.service_port = Some(port.to_string());
        }
    }

    /// Where the request body's bytes are counted as they are relayed: the route's
    /// `request_bytes_total` counter, and the access log's tally when a line will be written (the
    /// relay, a layer above, builds the body with them).
    pub(crate) fn request_counts(&mut self) -> (Counter, Option<Arc<AtomicU64>>) {
        let tally = self
            .log
            .as_mut()
            .map(|log| Arc::clone(log.bytes_in.get_or_insert_with(Arc::default)));
        (self.route.request_bytes().clone(), tally)
    }

    /// The request is about to go upstream with `headers` (forwarding headers set).
    pub(crate) fn forwarding(&mut self, headers: &HeaderMap) {
        if let Some(log) = &mut self.log {
            log.request_id = headers.get(X_REQUEST_ID).cloned();
        }
    }

    /// The upstream exchange ended, `waited` after it started: response headers or a failure.
    pub(crate) fn upstream_done(&mut self, waited: Duration, result: &Result<Sent, ProxyError>) {
        self.upstream_duration = Some(waited);
        match result {
            Ok(sent) => {
                self.upstream = Some(sent.link.addr());
                self.upstream_status = Some(sent.response.status());
                self.upstream_connect = Some(sent.link.connect_time().unwrap_or_default());
                self.route.upstream_headers().observe(waited.as_secs_f64());
            }
            Err(error) => self.upstream = error.upstream_addr(),
        }
    }

    /// An upstream attempt at `addr` failed with `status` (nginx's status for the failure)
    /// after `took`, and the request went to the next endpoint.
    pub(crate) fn upstream_attempt(&mut self, addr: SocketAddr, status: u16, took: Duration) {
        if let Some(log) = &mut self.log {
            log.passed_on.push(PassedOn { addr, status, took });
        }
    }

    /// The request failed with `error` (answered by the proxy itself).
    pub(crate) fn failed(&mut self, error: &ProxyError) {
        if let Some(kind) = error.upstream_error() {
            self.ctx.proxy.metrics.upstream_error(kind);
        }
    }

    /// The response going to the client has `status` and `headers`.
    pub(crate) fn responded(&mut self, status: StatusCode, headers: &HeaderMap) {
        self.status = Some(status);
        if let Some(log) = &mut self.log {
            // "HTTP/1.1 200 OK\r\n", the headers, the blank line.
            let reason = status.canonical_reason().map_or(0, str::len);
            log.response_head_length = (15 + reason) as u64 + headers_length(headers);
        }
    }

    /// `len` more response body bytes went to the client.
    pub(crate) fn sent_bytes(&mut self, len: usize) {
        self.bytes_out += len as u64;
    }

    fn entry<'a>(&'a self, log: &'a LogFields, status: u16, elapsed: Duration) -> Entry<'a> {
        let route = self.routed.then(|| {
            let r = &self.route;
            (r.namespace.as_str(), r.ingress.as_str(), r.service.as_str())
        });
        let tls = self.ctx.tls.as_ref();
        let bytes_in = log
            .bytes_in
            .as_ref()
            .map_or(0, |n| n.load(Ordering::Relaxed));
        let (path, query) = match &log.target {
            Some(target) => (target.path(), target.query()),
            None => ("", None),
        };
        Entry {
            time: log.time,
            client: log.client,
            method: log.method.as_str(),
            host: log.host.as_ref().map(HeaderValue::as_bytes),
            path,
            query,
            protocol: log.version,
            status,
            bytes_in,
            bytes_out: self.bytes_out,
            request_length: log.head_length + bytes_in,
            bytes_sent: log.response_head_length + self.bytes_out,
            duration: elapsed,
            upstream: self.upstream,
            upstream_status: self.upstream_status.map(|s| s.as_u16()),
            upstream_connect: self.upstream_connect,
            upstream_duration: self.upstream_duration,
            passed_on: &log.passed_on,
            route,
            service_port: log.service_port.as_deref(),
            request_id: log.request_id.as_ref().map(HeaderValue::as_bytes),
            user_agent: log.user_agent.as_ref().map(HeaderValue::as_bytes),
            referer: log.referer.as_ref().map(HeaderValue::as_bytes),
            tls_version: tls.and_then(|t| t.version),
            sni: tls.and_then(|t| t.sni.as_deref()),
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let status = self.status.map_or(CLIENT_CLOSED, |s| s.as_u16());
        let elapsed = self.started.elapsed();
        let proxy = &self.ctx.proxy;
        proxy
            .metrics
            .request_done(&self.route, self.method, status, elapsed, self.bytes_out);
        if let Some(log) = self.log.take() {
            let line = self
                .entry(&log, status, elapsed)
                .render(proxy.access_log.format());
            if !proxy.access_log.send(line) {
                proxy.metrics.access_log_dropped();
            }
        }
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("method", &self.method)
            .field("status", &self.status)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl LogFields {
    fn of(ctx: &ConnCtx, request: &Request<Incoming>) -> Self {
        let uri = request.uri();
        let host = match uri.authority() {
            Some(authority) => HeaderValue::from_str(headers::authority_host(authority)).ok(),
            None => request.headers().get(HOST).cloned(),
        };
        Self {
            time: SystemTime::now(),
            client: forwarding::client(
                request.headers(),
                ctx.peer.ip(),
                &ctx.proxy.config.trusted_proxies,
            ),
            method: request.method().clone(),
            host,
            target: uri.path_and_query().cloned(),
            version: request.version(),
            request_id: None,
            bytes_in: None,
            user_agent: request.headers().get(USER_AGENT).cloned(),
            referer: request.headers().get(REFERER).cloned(),
            head_length: head_length(request),
            response_head_length: 0,
            service_port: None,
            passed_on: Vec::new(),
        }
    }
}

/// The request line and headers of `request` as HTTP/1.1 would carry them:
/// `METHOD target HTTP/1.1\r\n`, each `name: value\r\n`, the blank line.
fn head_length<B>(request: &Request<B>) -> u64 {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |t| t.as_str().len());
    (request.method().as_str().len() + 1 + target + 11) as u64 + headers_length(request.headers())
}

/// `name: value\r\n` per header, and the blank line after them.
fn headers_length(headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (fields + 2) as u64
}
