//! One request to a backend: pick an endpoint, send, and pass a failed attempt to the next
//! endpoint as the route's retry policy says — nginx's `proxy_next_upstream`, `_tries`,
//! `_timeout` (docs/architecture.md, "Retries"; the decisions are in [`retry`]).
//!
//! With the defaults (`error timeout`, 3 tries) a connect failure goes to another endpoint, as
//! does an idempotent request whose connection failed or timed out before the response
//! headers. The retry state lives on this function's stack: the policy, the tried endpoints (a
//! bitset), and a copy of the request head (and of a small body) only when the request could
//! be sent again after it was sent.

use std::sync::Arc;

use http::Request;
use strait_shared::table::{LoadBalance, RouteOptions, Timeouts};
use strait_shared::{BackendMode, Endpoints};
use tokio::time::Instant;

use crate::balancer::{Attempt, Balancer, Ewma};
use crate::error::{ProxyError, UpstreamErrorKind};
use crate::exchange::Exchange;
use crate::pool::{Dest, SendError, Sent, TlsDest, Via, Wire};
use crate::proxy::Proxy;
use crate::upload::RequestBody;

mod retry;

use retry::{Back, Failure, Policy, Replay, Retry, Step};

/// How a request goes to its backend.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    /// The backend's mode.
    pub mode: BackendMode,
    /// The wire protocol and TLS.
    pub via: &'a Via,
    /// The route's timeouts, or those capped by a gRPC deadline.
    pub timeouts: Option<&'a Timeouts>,
}

/// Sends `request` to one of `endpoints` as `target` says, with the route's `options`;
/// `started` is when the upstream exchange began. Each attempt passed on is
/// counted here and noted in `exchange`; the final failure, if any, where the error is
/// answered. `first`: the first attempt's endpoint when session affinity or consistent
/// hashing chose it (retries still go through the balancer, to endpoints not tried yet).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    proxy: &Proxy,
    endpoints: &Endpoints,
    target: Target<'_>,
    mut request: Request<RequestBody>,
    options: &RouteOptions,
    started: Instant,
    exchange: &mut Exchange,
    first: Option<usize>,
) -> Result<Sent, ProxyError> {
    let policy = Policy::of(
        &proxy.config.retries,
        options.retries.as_deref(),
        request.method(),
        started,
    );
    // Behind a ClusterIP kube-proxy picks the pod per connection: the one address is tried
    // again rather than counted as exhausted.
    let Target {
        mode,
        via,
        timeouts,
    } = target;
    let reuse = mode == BackendMode::Service;
    let in_place = via.wire == Wire::H1;
    let replay = Replay::prepare(
        &mut request,
        &policy,
        endpoints.len() > 1 || reuse,
        in_place,
    );
    let mut retry = Retry::new(policy, replay, reuse);
    // Latency-aware balancing (docs/architecture.md, "Latency-aware balancing and outlier
    // ejection"); round robin otherwise.
    let balance = &proxy.config.balance;
    let ewma = (options.load_balance.unwrap_or(balance.load_balance) == LoadBalance::Ewma)
        .then(|| Ewma::new(balance));
    let balancer: &dyn Balancer = match &ewma {
        Some(ewma) => ewma,
        None => &*proxy.balancer,
    };
    let first = first.filter(|i| *i < endpoints.len());
    let mut index = first
        .or_else(|| retry.first(balancer, endpoints))
        .ok_or(ProxyError::BackendUnavailable(NO_ENDPOINTS))?;
    let mut fresh = false;
    // When the current attempt began (a clock read per retry, none for the first attempt).
    let mut attempt = started;
    loop {
        let addr = endpoints.list()[index].addr;
        let dest = Dest {
            addr,
            via: via.clone(),
        };
        let tracked = Attempt::begin(ewma.as_ref(), endpoints, index);
        let result = proxy.pool.send(&dest, &mut request, timeouts, fresh).await;
        if tracked.end(&result, attempt, &balance.outlier) {
            proxy.metrics.upstream_ejection();
        }
        let (failure, back) = match result {
            Ok(sent) => match Failure::of_status(sent.response.status()) {
                Some(failure) => (failure, Back::Response(Box::new(sent))),
                None => return Ok(sent),
            },
            Err(SendError::NotSent { error }) => {
                let failure = Failure::not_sent(&error);
                let error = ProxyError::UpstreamConnect {
                    addr,
                    source: error,
                };
                (failure, Back::Unsent(error))
            }
            Err(SendError::Failed { error, reused }) => match Failure::of_error(&error, reused) {
                Some(failure) => (failure, Back::Failed(error)),
                None => return Err(error),
            },
        };
        let next = match retry.next(balancer, endpoints, failure, index, back, &mut request) {
            Step::Next(next) => next,
            Step::Answer(answer) => return answer,
        };
        if let Some(kind) = next.error {
            proxy.metrics.upstream_error(kind);
        }
        proxy.metrics.upstream_retry();
        let now = Instant::now();
        exchange.upstream_attempt(addr, failure.status(), now - attempt);
        attempt = now;
        index = next.index;
        fresh = next.fresh;
    }
}

/// A request to a service of the proxy's own (external auth), over TLS with server name `tls`
/// when it is given: a connect failure is tried once more, on another endpoint when there is
/// one. No route retry policy applies.
pub(crate) async fn send_to(
    proxy: &Proxy,
    endpoints: &Endpoints,
    tls: Option<&Arc<str>>,
    mut request: Request<RequestBody>,
    timeouts: Option<&Timeouts>,
) -> Result<Sent, ProxyError> {
    let mut tried = crate::balancer::Tried::new();
    let first = proxy
        .balancer
        .pick(endpoints, &mut tried)
        .ok_or(ProxyError::BackendUnavailable(NO_ENDPOINTS))?;
    tried.insert(first);
    let via = Via {
        wire: Wire::H1,
        tls: tls.map(|name| TlsDest {
            name: Arc::clone(name),
            settings: Arc::clone(crate::pool::tls::auth()),
        }),
    };
    let dest = |index: usize| Dest {
        addr: endpoints.list()[index].addr,
        via: via.clone(),
    };
    match proxy
        .pool
        .send(&dest(first), &mut request, timeouts, false)
        .await
    {
        Ok(sent) => return Ok(sent),
        Err(SendError::Failed { error, .. }) => return Err(error),
        Err(SendError::NotSent { error }) => {
            let metrics = &proxy.metrics;
            metrics.upstream_error(UpstreamErrorKind::of_connect(&error));
            metrics.upstream_retry();
        }
    }
    let second = proxy.balancer.pick(endpoints, &mut tried).unwrap_or(first);
    let dest = dest(second);
    match proxy.pool.send(&dest, &mut request, timeouts, false).await {
        Ok(sent) => Ok(sent),
        Err(SendError::Failed { error, .. }) => Err(error),
        Err(SendError::NotSent { error, .. }) => Err(ProxyError::UpstreamConnect {
            addr: dest.addr,
            source: error,
        }),
    }
}

/// The 503 reason when a backend resolved to an empty endpoint list.
pub(crate) const NO_ENDPOINTS: &str = "no ready endpoints";
