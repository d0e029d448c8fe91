//! The admin listener: `/healthz` (the process is alive), `/readyz` (a table is published and
//! the sources have synced), `/metrics` (Prometheus text) and `/log/level` (read or change the
//! log filter at runtime). Plain hyper; no second HTTP framework.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};

use crate::logging::{LogControl, LogControlError};

/// Readiness as the admin listener reports it: a flag, and a line of detail (what the
/// sources are waiting for, the table generation, watch trouble) shown under it.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: AtomicBool,
    detail: Mutex<String>,
    /// Trouble reported by sources (a watch retrying), by source name.
    problems: Mutex<BTreeMap<String, String>>,
}

impl Readiness {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Replaces the detail line `/readyz` shows.
    pub fn set_detail(&self, detail: impl Into<String>) {
        *self.detail.lock().unwrap_or_else(PoisonError::into_inner) = detail.into();
    }

    /// The detail line (empty when none was set).
    pub fn detail(&self) -> String {
        self.detail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets (`Some`) or clears the problem line of one source. Problems are shown on
    /// `/readyz` but do not fail it: serving goes on with the last table.
    pub fn set_problem(&self, source: &str, problem: Option<String>) {
        let mut problems = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
        match problem {
            Some(problem) => problems.insert(source.to_owned(), problem),
            None => problems.remove(source),
        };
    }

    /// The `/readyz` body: `ready` or `not ready`, then the detail line and problems, if any.
    pub fn report(&self) -> String {
        let ready = self.is_ready();
        let mut body = String::from(if ready { "ready\n" } else { "not ready\n" });
        let detail = self.detail();
        if !detail.is_empty() {
            body.push_str(&detail);
            body.push('\n');
        }
        let problems = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
        for problem in problems.values() {
            body.push_str(problem);
            body.push('\n');
        }
        body
    }
}

/// What the admin listener serves. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Admin {
    readiness: Arc<Readiness>,
    metrics: Option<Arc<Registry>>,
    log: Option<LogControl>,
}

/// How long in-flight admin requests may take to finish once shutdown is asked for.
const ADMIN_GRACE: Duration = Duration::from_secs(5);

/// Largest `PUT /log/level` body; a filter is a line of directives.
const MAX_FILTER_BYTES: usize = 4096;

/// `/metrics` content types. prometheus-client has one text encoder, which writes OpenMetrics
/// text; it is labelled as such when the scraper asks for OpenMetrics, else as the classic
/// Prometheus text format, whose parser reads the same body (the `# EOF` and `# UNIT` lines
/// are comments to it, and no family here uses a type it lacks, such as `info`).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

impl Admin {
    /// Serves `/healthz` and `/readyz`; `/metrics` and `/log/level` once given.
    pub fn new(readiness: Arc<Readiness>) -> Self {
        Self {
            readiness,
            metrics: None,
            log: None,
        }
    }

    /// Serves `registry` on `/metrics` (else `/metrics` is 404).
    pub fn metrics(mut self, registry: Arc<Registry>) -> Self {
        self.metrics = Some(registry);
        self
    }

    /// Serves the log filter on `/log/level` (else `/log/level` is 501).
    pub fn log_control(mut self, log: Option<LogControl>) -> Self {
        self.log = log;
        self
    }

    /// Answers one admin request from `peer`.
    ///
    /// - `GET /healthz`: 200 `ok`.
    /// - `GET /readyz`: 200 `ready` or 503 `not ready`.
    /// - `GET /metrics`: the registry in text format (OpenMetrics when `Accept` asks for it).
    /// - `GET /log/level`: the log filter in force. `PUT /log/level` with new directives as
    ///   the body (`debug`, `info,strait_proxy=debug`) applies them: 200 and the filter now in
    ///   force, 400 with the parse error (nothing changes), 403 unless the peer is a loopback
    ///   address (`kubectl port-forward` and `kubectl exec` are), 501 without a log control.
    /// - Anything else: 404, or 405 for another method on a known path.
    pub async fn handle<B>(&self, peer: SocketAddr, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path();
        let read = matches!(*request.method(), Method::GET | Method::HEAD);
        match path {
            "/healthz" if read => text(StatusCode::OK, "ok\n"),
            "/readyz" if read => {
                let body = self.readiness.report();
                let status = if body.starts_with("ready") {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                text(status, body)
            }
            "/metrics" if self.metrics.is_none() => text(StatusCode::NOT_FOUND, "not found\n"),
            "/metrics" if read => self.metrics_response(&request),
            "/log/level" => self.log_level(peer, request).await,
            "/healthz" | "/readyz" | "/metrics" => method_not_allowed("GET, HEAD"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn metrics_response<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let Some(registry) = &self.metrics else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        let openmetrics = request
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|accept| accept.contains("application/openmetrics-text"));
        let content_type = if openmetrics {
            OPENMETRICS
        } else {
            PROMETHEUS_TEXT
        };
        let body = crate::metrics::encode(registry);
        response(StatusCode::OK, content_type, Bytes::from(body))
    }

    async fn log_level<B>(&self, peer: SocketAddr, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(log) = &self.log else {
            let why = "runtime log level changes are not available in this process\n";
            return text(StatusCode::NOT_IMPLEMENTED, why);
        };
        match *request.method() {
            Method::GET | Method::HEAD => match log.current() {
                Ok(filter) => text(StatusCode::OK, format!("{filter}\n")),
                Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
            },
            Method::PUT if !peer.ip().to_canonical().is_loopback() => text(
                StatusCode::FORBIDDEN,
                "the log level can only be changed from a loopback address\n",
            ),
            Method::PUT => {
                let body = match Limited::new(request.into_body(), MAX_FILTER_BYTES)
                    .collect()
                    .await
                {
                    Ok(body) => body.to_bytes(),
                    Err(err) => return text(StatusCode::BAD_REQUEST, format!("{err}\n")),
                };
                let Ok(directives) = std::str::from_utf8(&body) else {
                    return text(StatusCode::BAD_REQUEST, "the filter is not UTF-8\n");
                };
                match log.set(directives) {
                    Ok(now) => text(StatusCode::OK, format!("{now}\n")),
                    Err(err @ LogControlError::Gone(_)) => {
                        text(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n"))
                    }
                    Err(err) => text(StatusCode::BAD_REQUEST, format!("{err}\n")),
                }
            }
            _ => method_not_allowed("GET, HEAD, PUT"),
        }
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    response(status, PLAIN_TEXT, body.into())
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Serves the admin endpoints until `shutdown` resolves, then lets in-flight requests finish
/// (for at most a few seconds) and returns. See [`Admin::handle`] for the endpoints.
pub async fn serve_admin(
    listener: TcpListener,
    admin: Admin,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = http1::Builder::new();
    accept_until(
        listener,
        shutdown,
        ADMIN_GRACE,
        "admin",
        move |stream, peer| {
            let admin = admin.clone();
            let service = service_fn(move |request| {
                let admin = admin.clone();
                async move { Ok::<_, Infallible>(admin.handle(peer, request).await) }
            });
            builder.serve_connection(TokioIo::new(stream), service)
        },
    )
    .await
}

/// Accepts connections on `listener` and drives each one returned by `serve` on its own task
/// until `shutdown` resolves; then stops accepting, asks every connection to finish its
/// in-flight requests, and waits for them for at most `grace`.
///
/// Shared by the admin and echo listeners. An accept error (for example too many open files)
/// is logged and retried after a short pause rather than ending the listener.
pub(crate) async fn accept_until<C>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    what: &'static str,
    mut serve: impl FnMut(TcpStream, SocketAddr) -> C,
) -> std::io::Result<()>
where
    C: GracefulConnection + Send + 'static,
    C::Error: Display,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, listener = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = graceful.watch(serve(stream, peer));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, listener = what, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            listener = what,
            "grace period over; abandoning open connections"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
