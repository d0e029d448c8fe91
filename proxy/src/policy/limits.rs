//! Rate and connection limits of a route (docs/architecture.md, "Rate and connection limits"):
//! ingress-nginx's `limit-rps`, `limit-rpm` (nginx `limit_req … nodelay`) and
//! `limit-connections` (nginx `limit_conn`), per client address, per replica.
//!
//! - The client is the address the forwarding headers carry upstream
//!   ([`forwarding::client`]: trusted proxies and PROXY protocol applied), as for the
//!   source-address lists. A client in the Ingress's `limit-allowlist` is not counted at all.
//! - The rates are checked first (nginx's `limit_req` runs before `limit_conn`): `limit-rps`,
//!   then `limit-rpm`; a request over either gets `--limit-req-status-code` (503) and is
//!   counted in neither. Then `limit-connections`: a client with that many requests in flight
//!   gets `--limit-conn-status-code` (503). A request that passes holds a [`Slot`] until its
//!   response body is done or dropped (the client went away), or, for an upgrade, until the
//!   tunnel closes: nginx counts a connection while its request is being processed.
//! - The state is per Ingress (every route of it shares one budget per client, as
//!   ingress-nginx's zones are named after the Ingress), shared by every worker, and kept
//!   outside the table ([`crate::zones`]), so publishing a table resets nothing.
//! - Rejections are counted in `strait_limit_rejections_total{namespace,ingress,limit}`.

use http::HeaderMap;
use strait_shared::ObjectKey;
use strait_shared::table::Limits;

use crate::error::{LimitKind, ProxyError};
use crate::forwarding;
use crate::proxy::ConnCtx;
use crate::zones::Slot;

/// Checks a routed request against its route's limits (see the module doc).
pub(crate) fn check(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    ingress: &ObjectKey,
    limits: &Limits,
) -> Result<Option<Slot>, ProxyError> {
    let proxy = &ctx.proxy;
    let client = forwarding::client(headers, ctx.peer.ip(), &proxy.config.trusted_proxies);
    proxy
        .limits
        .admit(ingress, limits, client, &proxy.metrics)
        .map_err(|limit| ProxyError::Limited {
            limit,
            status: match limit {
                LimitKind::Rps | LimitKind::Rpm => proxy.config.limit_req_status,
                LimitKind::Connections => proxy.config.limit_conn_status,
            },
        })
}
