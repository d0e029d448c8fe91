//! The hyper service: route one request through the current table, forward it upstream, relay
//! the response.
//!
//! The table is loaded once per request; the request finishes on that table whatever is
//! published meanwhile. The request target goes upstream byte for byte as received, unless the
//! route rewrites its path (`rewrite-target`). Each
//! request's [`Exchange`] follows it and is recorded (metrics, access log) when the response
//! body is done.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HOST, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY};
use http::uri::PathAndQuery;
use http::{Extensions, Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use strait_shared::paths::MatchRank;
use strait_shared::table::Timeouts;
use strait_shared::table::rewrite::{Rewrite, Rewritten};
use tokio::time::Instant;

use crate::body::ResponseBody;
use crate::config::Scheme;
use crate::connection::ConnCtx;
use crate::error::{self, ProxyError};
use crate::exchange::Exchange;
use crate::forwarding::{self, Forwarding};
use crate::pool::Sent;
use crate::upstream::{self, NO_ENDPOINTS};
use crate::{headers, policy, redirect, request_id, upgrade, validate};

/// Sent with rewritten requests when the route sets `x-forwarded-prefix`.
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// Serves one request of a client connection. Never fails: errors become responses.
pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let in_flight = ctx.activity.request_started();
    if request.version() == Version::HTTP_2 {
        ctx.activity.multiplexed();
    }
    let mut exchange = Exchange::start(Arc::clone(&ctx), &request);
    let mut cors = None;
    let mut response = match forward(&ctx, request, &mut exchange, &mut cors).await {
        Ok(response) => response,
        Err(error) => {
            exchange.failed(&error);
            let mut response = error::respond(&error, ctx.peer);
            // nginx's `more_set_headers` sets the CORS headers on every status, so a browser
            // can read the proxy's own 401, 403, 413 or 502 too.
            if let Some(allowed) = &cors {
                allowed.apply(response.headers_mut());
            }
            response
        }
    };
    if ctx.listener.scheme == Scheme::Https
        && let Some(hsts) = &ctx.proxy.hsts
    {
        response
            .headers_mut()
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| hsts.clone());
    }
    exchange.responded(response.status(), response.headers());
    Ok(response.map(|body| body.hold(in_flight, exchange)))
}

/// Routes and forwards one request. `cors` is set to the CORS the request is granted as soon
/// as its route is known, so that an error answered for it carries the CORS headers too.
async fn forward(
    ctx: &ConnCtx,
    mut request: Request<Incoming>,
    exchange: &mut Exchange,
    cors: &mut Option<policy::cors::Allowed>,
) -> Result<Response<ResponseBody>, ProxyError> {
    if request.method() == Method::CONNECT {
        return Err(ProxyError::BadRequest("CONNECT is not supported"));
    }
    validate::check(request.method(), request.uri(), request.headers())
        .map_err(ProxyError::BadRequest)?;
    let table = ctx.proxy.table.current();
    let host = request_host(&request)?;
    let raw_host = host
        .to_str()
        .map_err(|_| ProxyError::BadRequest("invalid Host header"))?;
    let route = table
        .lookup(raw_host, request.uri().path())
        .ok_or(ProxyError::NoRoute)?;
    let service = &route.backend.service.service.name;
    let path = rule_path(request.uri().path(), route.rank, route.pattern);
    let handles = ctx.proxy.metrics.route(&route.route.ingress, service, path);
    exchange.routed(
        handles,
        route.route.options.access_log,
        &route.backend.service.port,
    );
    if let Some(refusal) = route.route.options.refused {
        return Err(ProxyError::Refused(refusal));
    }
    // ingress-nginx answers `app-root` in the server's rewrite phase, before anything of the
    // location (its HTTPS redirect, CORS, access checks) runs.
    if let Some(root) = &route.route.options.app_root
        && request.uri().path() == "/"
    {
        return Ok(redirect::app_root(ctx.listener.scheme, raw_host, root));
    }
    if route.route.options.https_redirect && redirect::needed(&redirect_check(ctx, &request)) {
        return Ok(redirect::response(
            raw_host,
            ctx.proxy.config.https_redirect_port,
            request.uri(),
        ));
    }
    *cors = policy::cors::allowed(
        route.route.options.cors.as_ref(),
        request.method(),
        request.headers(),
    );
    if let Some(preflight) = cors.as_ref().and_then(policy::cors::Allowed::preflight) {
        return Ok(preflight);
    }
    policy::access::check(ctx, request.headers(), &route.route.options)?;
    if let Some(auth) = &route.route.options.basic_auth {
        policy::basic_auth::check(auth, request.headers()).await?;
    }
    let endpoints = match &route.backend.state {
        Ok(endpoints) if !endpoints.is_empty() => endpoints,
        Ok(_) => return Err(ProxyError::BackendUnavailable(NO_ENDPOINTS)),
        Err(unavailable) => return Err(ProxyError::BackendUnavailable(unavailable.reason())),
    };
    let rewrite = route.route.options.rewrite.as_deref();
    let client_upgrade = prepare_upstream(&mut request, host, ctx, rewrite)?;
    exchange.forwarding(request.headers());
    let body_timeout = ctx.proxy.config.client_body_timeout;
    let max_body = route.route.options.max_body_size;
    let request = request.map(|body| {
        let body = exchange.request_body(body).with_timeout(body_timeout);
        body.with_limit(max_body)
    });
    let started = Instant::now();
    let timeouts = route.route.options.timeouts.as_deref();
    let sent = upstream::send(&ctx.proxy, endpoints, request, timeouts).await;
    exchange.upstream_done(started.elapsed(), &sent);
    let read_timeout = read_timeout(ctx, timeouts);
    let response = relay_response(ctx, sent?, client_upgrade, read_timeout);
    policy::cors::respond(cors.as_ref(), response)
}

/// The matched rule's path for the `path` metric label: the part of the request path the rule
/// matched, which equals a key of the table (so the label's values are bounded by the table);
/// on a regex host the regex location that matched, as written; `/` for a catch-all and for
/// the default backend.
fn rule_path<'a>(
    request_path: &'a str,
    rank: Option<MatchRank>,
    pattern: Option<&'a str>,
) -> &'a str {
    if let Some(pattern) = pattern {
        return pattern;
    }
    match rank {
        Some(rank) if rank.len > 0 => request_path.get(..rank.len).unwrap_or("/"),
        _ => "/",
    }
}

fn redirect_check<'a>(ctx: &'a ConnCtx, request: &'a Request<Incoming>) -> redirect::Check<'a> {
    redirect::Check {
        scheme: ctx.listener.scheme,
        peer: ctx.peer.ip(),
        trusted: &ctx.proxy.config.trusted_proxies,
        headers: request.headers(),
        path: request.uri().path(),
    }
}

/// The host a request is for, as received: the URI's authority (HTTP/2, absolute-form) or the
/// one `Host` header. HTTP/1.0 may omit it (routes as an empty host); later versions may not.
fn request_host(request: &Request<Incoming>) -> Result<HeaderValue, ProxyError> {
    if let Some(authority) = request.uri().authority() {
        return HeaderValue::from_str(headers::authority_host(authority))
            .map_err(|_| ProxyError::BadRequest("invalid authority"));
    }
    let mut hosts = request.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => Ok(host.clone()),
        (Some(_), Some(_)) => Err(ProxyError::BadRequest("more than one Host header")),
        (None, _)
            if request.version() == Version::HTTP_10 || request.version() == Version::HTTP_09 =>
        {
            Ok(HeaderValue::from_static(""))
        }
        (None, _) => Err(ProxyError::BadRequest("missing Host header")),
    }
}

/// Turns the client's request into the upstream's, in place: origin-form target as received
/// (its path rewritten when the route has a `rewrite`), HTTP/1.1, hop-by-hop headers stripped,
/// forwarding headers set, `Host` preserved (from `:authority` for HTTP/2). Returns the client
/// side of an upgrade the request asks for.
fn prepare_upstream(
    request: &mut Request<Incoming>,
    host: HeaderValue,
    ctx: &ConnCtx,
    rewrite: Option<&Rewrite>,
) -> Result<Option<OnUpgrade>, ProxyError> {
    let upgrade = headers::is_upgrade_request(request.version(), request.headers());
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut *request));
    *request.extensions_mut() = Extensions::new();
    let (target, forwarded_prefix) = match rewrite.map(|r| r.apply(request.uri().path())) {
        Some(Rewritten {
            path,
            forwarded_prefix,
        }) => (
            rewritten_target(path, request.uri().query())?,
            forwarded_prefix,
        ),
        None => (origin_form(request.uri()), None),
    };
    *request.uri_mut() = Uri::from(target);
    *request.version_mut() = Version::HTTP_11;
    let headers = request.headers_mut();
    headers::strip_hop_by_hop(headers, upgrade);
    // Checked by `validate::check` before routing: cannot fail here.
    let _ = validate::normalise_content_length(headers);
    let fwd = Forwarding {
        peer: ctx.peer.ip(),
        trusted: &ctx.proxy.config.trusted_proxies,
        listener: ctx.listener,
        host: &host,
    };
    forwarding::apply(headers, &fwd, request_id::generate);
    headers.insert(HOST, host);
    if let Some(prefix) = forwarded_prefix {
        // Checked characters and captures of an accepted path: a valid value.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(prefix)) {
            headers.insert(X_FORWARDED_PREFIX, value);
        }
    }
    Ok(on_upgrade)
}

/// The rewritten path with the request's query string, which nginx's `rewrite … break` keeps.
fn rewritten_target(mut target: String, query: Option<&str>) -> Result<PathAndQuery, ProxyError> {
    if let Some(query) = query {
        target.reserve_exact(query.len() + 1);
        target.push('?');
        target.push_str(query);
    }
    // The template's characters and pieces of the accepted request path: always valid.
    PathAndQuery::from_maybe_shared(bytes::Bytes::from(target))
        .map_err(|_| ProxyError::BadRequest("the rewritten request target is invalid"))
}

/// The request target in origin form, as received. (hyper writes an empty path as `/`, so an
/// absolute-form `http://host?q` goes upstream as `/?q`.)
fn origin_form(uri: &Uri) -> PathAndQuery {
    uri.path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"))
}

/// The upstream's response for the client: hop-by-hop headers stripped, body streamed. A 101
/// to an upgrade request starts the tunnel; any other response carries its connection, which
/// goes back to the pool when the body has been read.
fn relay_response(
    ctx: &ConnCtx,
    sent: Sent,
    client_upgrade: Option<OnUpgrade>,
    read_timeout: Duration,
) -> Result<Response<ResponseBody>, ProxyError> {
    let Sent { mut response, link } = sent;
    let addr = link.addr();
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        let Some(client) = client_upgrade else {
            return Err(ProxyError::UpstreamProtocol {
                addr,
                detail: "101 Switching Protocols to a request that asked for no upgrade",
            });
        };
        let upstream = hyper::upgrade::on(&mut response);
        let sender = link.into_upgrade();
        let drain = ctx.drain.clone();
        upgrade::spawn_tunnel(client, upstream, sender, drain, addr, read_timeout);
        headers::strip_hop_by_hop(response.headers_mut(), switching);
        *response.version_mut() = Version::HTTP_11;
        return Ok(response.map(|body| ResponseBody::upstream(body, None)));
    }
    headers::strip_hop_by_hop(response.headers_mut(), switching);
    *response.version_mut() = Version::HTTP_11;
    let body = |body| ResponseBody::upstream(body, Some(link)).with_read_timeout(read_timeout);
    Ok(response.map(body))
}

/// The route's read timeout (nginx `proxy_read_timeout`), else the global response timeout.
fn read_timeout(ctx: &ConnCtx, timeouts: Option<&Timeouts>) -> Duration {
    timeouts
        .and_then(|t| t.read)
        .unwrap_or(ctx.proxy.config.response_header_timeout)
}
