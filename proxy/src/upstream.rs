//! One request to a backend: pick an endpoint, send, and when the connection failed before any
//! byte was sent, retry once on another endpoint (docs/architecture.md, "Failure behaviour").

use std::sync::Arc;

use http::Request;
use strait_shared::Endpoints;
use strait_shared::table::Timeouts;

use crate::body::RequestBody;
use crate::error::{ProxyError, UpstreamErrorKind};
use crate::pool::{Dest, SendError, Sent};
use crate::proxy::Proxy;

/// Sends `request` to one of `endpoints`. A connect failure is retried once, on another
/// endpoint when there is one (on the same one otherwise: behind a Service's ClusterIP the
/// next connection may reach another pod). The retried failure and the retry are counted here;
/// the final failure, if any, where the error is answered.
pub(crate) async fn send(
    proxy: &Proxy,
    endpoints: &Endpoints,
    request: Request<RequestBody>,
    timeouts: Option<&Timeouts>,
) -> Result<Sent, ProxyError> {
    send_to(proxy, endpoints, None, request, timeouts).await
}

/// As [`send`], over TLS with server name `tls` when it is given (external auth's `https`
/// URLs).
pub(crate) async fn send_to(
    proxy: &Proxy,
    endpoints: &Endpoints,
    tls: Option<&Arc<str>>,
    request: Request<RequestBody>,
    timeouts: Option<&Timeouts>,
) -> Result<Sent, ProxyError> {
    let dest = |addr| Dest {
        addr,
        tls: tls.cloned(),
    };
    let first = proxy
        .balancer
        .pick(endpoints, None)
        .ok_or(ProxyError::BackendUnavailable(NO_ENDPOINTS))?;
    let request = match proxy.pool.send(&dest(first), request, timeouts).await {
        Ok(sent) => return Ok(sent),
        Err(SendError::Failed(error)) => return Err(error),
        Err(SendError::NotSent { request, error }) => {
            tracing::debug!(addr = %first, %error, "upstream connect failed; retrying once");
            let metrics = &proxy.metrics;
            metrics.upstream_error(UpstreamErrorKind::of_connect(&error));
            metrics.upstream_retry();
            request
        }
    };
    let second = proxy.balancer.pick(endpoints, Some(first)).unwrap_or(first);
    match proxy.pool.send(&dest(second), *request, timeouts).await {
        Ok(sent) => Ok(sent),
        Err(SendError::Failed(error)) => Err(error),
        Err(SendError::NotSent { error, .. }) => Err(ProxyError::UpstreamConnect {
            addr: second,
            source: error,
        }),
    }
}

/// The 503 reason when a backend resolved to an empty endpoint list.
pub(crate) const NO_ENDPOINTS: &str = "no ready endpoints";
