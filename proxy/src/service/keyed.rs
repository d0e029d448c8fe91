//! The first endpoint of a route with cookie affinity or consistent hashing, and the canary
//! decision that a sticky session overrides (docs/architecture.md, "Session affinity and
//! consistent hashing").

use http::Request;
use hyper::body::Incoming;
use strait_shared::table::affinity::Affinity;
use strait_shared::table::canary::Canary;
use strait_shared::table::hash_by::KeyRequest;
use strait_shared::table::{Backend, RouteOptions, RouteTable, hash_ring};

use crate::balancer::affinity;
use crate::config::Scheme;
use crate::forwarding;
use crate::proxy::ConnCtx;

/// A route's keyed choice (affinity or hashing) for this request.
pub(super) struct Keyed<'t> {
    pub(super) keyed: &'t hash_ring::Keyed,
    pub(super) choice: affinity::Choice,
}

/// Whether the request goes to `canary`: a sticky session stays with its backend
/// (`affinity::canary_by_cookie`), else the canary rules decide.
pub(super) fn to_canary(
    canary: &Canary,
    main: &Backend,
    table: &RouteTable,
    options: &RouteOptions,
    headers: &http::HeaderMap,
) -> bool {
    let session = options
        .affinity
        .as_deref()
        .and_then(|a| affinity::session(a, headers));
    let alternative = table.backend(canary.backend).keyed.as_deref();
    affinity::canary_by_cookie(session.as_ref(), canary, main.keyed.as_deref(), alternative)
        .unwrap_or_else(|| canary.chooses_canary(headers, crate::random::roll))
}

/// The first endpoint of an affinity or hashing route (docs/architecture.md, "Session
/// affinity and consistent hashing"); affinity wins, as in ingress-nginx.
pub(super) fn choose(
    ctx: &ConnCtx,
    request: &Request<Incoming>,
    raw_host: &str,
    affinity: Option<&Affinity>,
    options: &RouteOptions,
    keyed: &hash_ring::Keyed,
    backend: &Backend,
) -> affinity::Choice {
    let headers = request.headers();
    if let Some(affinity) = affinity {
        let session = affinity::session(affinity, headers);
        return affinity::choose_session(affinity.mode, keyed, session.as_ref());
    }
    let (Some(hashing), Ok(endpoints)) = (&options.hashing, &backend.state) else {
        return affinity::Choice::default();
    };
    let trusted = &ctx.proxy.config.trusted_proxies;
    let key = KeyRequest {
        uri: request.uri(),
        headers,
        host: raw_host,
        client: forwarding::client(headers, ctx.peer.ip(), trusted),
        https: ctx.listener.scheme == Scheme::Https,
    };
    affinity::Choice::hashed(affinity::choose_hashed(hashing, keyed, endpoints, &key))
}
