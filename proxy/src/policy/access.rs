//! Source-address lists and the request body limit of a route (docs/architecture.md,
//! "Access policies").
//!
//! - The client address is the one the forwarding headers carry upstream
//!   ([`forwarding::client`]: trusted proxies and PROXY protocol applied); a client the
//!   route's [`SourcePolicy`] refuses gets 403.
//! - A declared `Content-Length` over the route's limit gets 413 before anything is sent
//!   upstream. A body without one (chunked, HTTP/2 without the header) is counted as it is
//!   relayed by [`RequestBody`](crate::upload::RequestBody), which fails the upstream request
//!   at the first frame that would cross the limit: the client gets 413, or, when the
//!   response has started, its connection is closed.

use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use strait_shared::table::{RouteOptions, SourcePolicy};

use crate::error::ProxyError;
use crate::forwarding;
use crate::proxy::ConnCtx;

/// Checks a routed request against its route's source lists and declared body size.
pub(crate) fn check(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    options: &RouteOptions,
) -> Result<(), ProxyError> {
    if let Some(policy) = &options.source {
        check_source(ctx, headers, policy)?;
    }
    check_body_size(headers, options)
}

/// Checks the request's client address against `policy`.
pub(crate) fn check_source(
    ctx: &ConnCtx,
    headers: &HeaderMap,
    policy: &SourcePolicy,
) -> Result<(), ProxyError> {
    let trusted = &ctx.proxy.config.trusted_proxies;
    let client = forwarding::client(headers, ctx.peer.ip(), trusted);
    if !policy.permits(client) {
        return Err(ProxyError::Forbidden(client));
    }
    Ok(())
}

/// Checks the request's declared body size against the route's limit.
pub(crate) fn check_body_size(
    headers: &HeaderMap,
    options: &RouteOptions,
) -> Result<(), ProxyError> {
    if let Some(limit) = options.max_body_size
        && declared_length(headers).is_some_and(|length| length > limit.0)
    {
        return Err(ProxyError::BodyTooLarge { limit: limit.0 });
    }
    Ok(())
}

/// The request's `Content-Length` (one number, maybe repeated: checked by `validate::check`
/// before routing).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}
