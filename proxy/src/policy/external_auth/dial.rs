//! Where the auth subrequest goes, and sending it through the upstream machinery
//! ([`upstream::send_to`]: the worker's pool, connect and response timeouts, one retry on
//! another address when a connect fails).
//!
//! - An IPv4 host is dialled as is.
//! - A DNS name (an in-cluster `svc.ns.svc.cluster.local` name included) is resolved with the
//!   system resolver, off the I/O thread (tokio's `lookup_host`), within the connect
//!   timeout, and the addresses are kept per worker for 30 s (ingress-nginx's `resolver …
//!   valid=30s`); a failed lookup is kept for 5 s, so an outage does not queue one lookup
//!   per request. At most [`MAX_NAMES`] names per worker.
//! - `$host` is the request's own host: the subrequest is routed through the request's own
//!   table (host and the auth URL's path) to that route's backend, in cleartext like every
//!   upstream, instead of going out through the load balancer and back in. A route that is
//!   refused, has no endpoints, or is itself behind external auth (a loop) is a failure.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use strait_shared::table::external_auth::{AuthHost, ExternalAuth};
use strait_shared::{Endpoint, Endpoints, RouteTable};
use tokio::time::Instant;

use crate::error::{AuthFailure, ProxyError};
use crate::pool::Sent;
use crate::proxy::Proxy;
use crate::upload::RequestBody;
use crate::upstream;

/// How long resolved addresses are used (ingress-nginx's resolver `valid=30s`).
pub(crate) const RESOLVED_TTL: Duration = Duration::from_secs(30);
/// How long a failed lookup is remembered.
pub(crate) const FAILED_TTL: Duration = Duration::from_secs(5);
/// Names (with port) kept per worker; when full, expired ones go, then the cache starts over.
pub(crate) const MAX_NAMES: usize = 1024;

struct Resolved {
    /// `None`: the lookup failed.
    endpoints: Option<Arc<Endpoints>>,
    until: Instant,
}

thread_local! {
    static RESOLVED: RefCell<HashMap<(Arc<str>, u16), Resolved>> = RefCell::new(HashMap::new());
}

/// Sends the subrequest for `auth`; `request_host` is the request's host (for `$host`).
pub(super) async fn send(
    proxy: &Proxy,
    table: &RouteTable,
    auth: &ExternalAuth,
    request_host: &str,
    request: Request<RequestBody>,
) -> Result<Sent, AuthFailure> {
    let url = &auth.url;
    let sent = match &url.host {
        AuthHost::Request => {
            let route = table
                .lookup(request_host, request.uri().path())
                .ok_or(AuthFailure::Route)?;
            let options = &route.route.options;
            let endpoints = match &route.backend.state {
                Ok(endpoints) if options.refused.is_none() && options.external_auth.is_none() => {
                    endpoints
                }
                _ => return Err(AuthFailure::Route),
            };
            upstream::send_to(proxy, endpoints, None, request, None).await
        }
        AuthHost::Ip(ip, text) => {
            let endpoints = cached(text, url.port, || {
                let addr = (std::net::IpAddr::V4(*ip), url.port).into();
                Some(Arc::new(Endpoints::new(vec![Endpoint { addr, weight: 1 }])))
            })?;
            let tls = url.tls.then_some(text);
            upstream::send_to(proxy, &endpoints, tls, request, None).await
        }
        AuthHost::Name(name) => {
            let endpoints = resolve(name, url.port, proxy.config.connect_timeout).await?;
            let tls = url.tls.then_some(name);
            upstream::send_to(proxy, &endpoints, tls, request, None).await
        }
    };
    sent.map_err(failure)
}

/// The addresses of `name:port`: from this worker's cache, else `fill` (a literal address).
fn cached(
    name: &Arc<str>,
    port: u16,
    fill: impl FnOnce() -> Option<Arc<Endpoints>>,
) -> Result<Arc<Endpoints>, AuthFailure> {
    let now = Instant::now();
    let key = (Arc::clone(name), port);
    if let Some(hit) = lookup(&key, now) {
        return hit;
    }
    let endpoints = fill();
    remember(key, endpoints.clone(), now + Duration::from_secs(86_400));
    endpoints.ok_or(AuthFailure::Resolve)
}

/// The addresses of `name:port`: from this worker's cache, else from the system resolver.
async fn resolve(
    name: &Arc<str>,
    port: u16,
    timeout: Duration,
) -> Result<Arc<Endpoints>, AuthFailure> {
    let key = (Arc::clone(name), port);
    if let Some(hit) = lookup(&key, Instant::now()) {
        return hit;
    }
    let looked_up = tokio::time::timeout(timeout, tokio::net::lookup_host((&**name, port))).await;
    let endpoints = match looked_up {
        Err(_elapsed) => return Err(AuthFailure::Timeout),
        Ok(Err(error)) => {
            tracing::debug!(%name, %error, "external auth host did not resolve");
            None
        }
        Ok(Ok(addrs)) => {
            let list: Vec<Endpoint> = addrs.map(|addr| Endpoint { addr, weight: 1 }).collect();
            (!list.is_empty()).then(|| Arc::new(Endpoints::new(list)))
        }
    };
    let ttl = if endpoints.is_some() {
        RESOLVED_TTL
    } else {
        FAILED_TTL
    };
    remember(key, endpoints.clone(), Instant::now() + ttl);
    endpoints.ok_or(AuthFailure::Resolve)
}

fn lookup(key: &(Arc<str>, u16), now: Instant) -> Option<Result<Arc<Endpoints>, AuthFailure>> {
    RESOLVED.with_borrow(|cache| {
        let hit = cache.get(key).filter(|r| r.until > now)?;
        Some(hit.endpoints.clone().ok_or(AuthFailure::Resolve))
    })
}

fn remember(key: (Arc<str>, u16), endpoints: Option<Arc<Endpoints>>, until: Instant) {
    RESOLVED.with_borrow_mut(|cache| {
        if cache.len() >= MAX_NAMES && !cache.contains_key(&key) {
            let now = Instant::now();
            cache.retain(|_, r| r.until > now);
            if cache.len() >= MAX_NAMES {
                cache.clear();
            }
        }
        cache.insert(key, Resolved { endpoints, until });
    });
}

/// The auth failure behind an upstream error.
fn failure(error: ProxyError) -> AuthFailure {
    match error {
        ProxyError::UpstreamConnect { source, .. } if source.kind() == io::ErrorKind::TimedOut => {
            AuthFailure::Timeout
        }
        ProxyError::UpstreamConnect { .. } => AuthFailure::Connect,
        ProxyError::UpstreamTimeout { .. } => AuthFailure::Timeout,
        ProxyError::BackendUnavailable(_) => AuthFailure::Route,
        _ => AuthFailure::Exchange,
    }
}
