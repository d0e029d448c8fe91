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

use http::header::{
    HOST, HeaderName, HeaderValue, SET_COOKIE, STRICT_TRANSPORT_SECURITY, USER_AGENT,
};
use http::uri::PathAndQuery;
use http::{Extensions, Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use strait_shared::paths::MatchRank;
use strait_shared::table::Timeouts;
use strait_shared::table::rewrite::{Rewrite, Rewritten};
use tokio::time::Instant;

use crate::balancer::affinity;
use crate::body::ResponseBody;
use crate::config::Scheme;
use crate::error::ProxyError;
use crate::exchange::Exchange;
use crate::forwarding::{self, Forwarding};
use crate::policy::external_auth::{Asking, Cookies, Scope};
use crate::pool::{Payload, Sent, Via};
use crate::proxy::ConnCtx;
use crate::upload::RequestBody;
use crate::upstream::{self, NO_ENDPOINTS};
use crate::zones::Slot;
use crate::{error_pages, grpc, headers, policy, redirect, request_id, upgrade, validate};

mod keyed;
mod respond;
mod via;

use keyed::{Keyed, choose, to_canary};
use via::{grpc_timeouts, via};

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
    // A gRPC call gets the proxy's own errors as gRPC statuses (`crate::grpc`).
    let grpc_call = grpc::is_grpc(request.headers());
    let mut cors = None;
    let mut cookies = None;
    let mut pages = None;
    let after = After {
        cors: &mut cors,
        cookies: &mut cookies,
        pages: &mut pages,
    };
    let mut response = match forward(&ctx, request, &mut exchange, after).await {
        Ok(response) => response,
        Err(error) => {
            exchange.failed(&error);
            let page = match &pages {
                Some(pages) if pages.catches(&error) => {
                    // Boxed, as below: only an error page pays for its exchange's future.
                    Box::pin(pages.answer(&ctx, error.status())).await.ok()
                }
                _ => None,
            };
            let mut response = page.unwrap_or_else(|| {
                let response = respond::respond(&error, ctx.peer);
                if grpc_call {
                    grpc::trailers_only(&error, response)
                } else {
                    response
                }
            });
            // nginx's `more_set_headers` sets the CORS headers on every status, so a browser
            // can read the proxy's own 401, 403, 413 or 502 too.
            if let Some(allowed) = &cors {
                allowed.apply(response.headers_mut());
            }
            response
        }
    };
    if let Some(cookies) = cookies {
        cookies.add_to(&mut response);
    }
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

/// What [`forward`] leaves for the answer, whatever it turns out to be: the CORS the request
/// is granted, set as soon as its route is known, so that an error answered for it carries
/// the CORS headers too; an external auth answer's `Set-Cookie`s; the route's error pages.
struct After<'a> {
    cors: &'a mut Option<policy::cors::Allowed>,
    cookies: &'a mut Option<Cookies>,
    pages: &'a mut Option<error_pages::Pending>,
}

/// Routes and forwards one request (see [`After`] for what it leaves behind).
async fn forward(
    ctx: &ConnCtx,
    mut request: Request<Incoming>,
    exchange: &mut Exchange,
    after: After<'_>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let After {
        cors,
        cookies,
        pages,
    } = after;
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
    let options = &route.route.options;
    // The canary decision comes first: metrics and logs name the backend that serves.
    let (backend, ingress, affinity) = match &options.canary {
        Some(canary) if to_canary(canary, route.backend, &table, options, request.headers()) => {
            let affinity = options.affinity.as_deref().filter(|_| canary.sticky);
            (table.backend(canary.backend), &canary.ingress, affinity)
        }
        _ => (
            route.backend,
            &route.route.ingress,
            options.affinity.as_deref(),
        ),
    };
    let keyed = match (affinity, &options.hashing, &backend.keyed) {
        (None, None, _) | (_, _, None) => None,
        (_, _, Some(keyed)) => Some(Keyed {
            keyed,
            choice: choose(ctx, &request, raw_host, affinity, options, keyed, backend),
        }),
    };
    let service = &backend.service.service.name;
    let path = rule_path(request.uri().path(), route.rank, route.pattern);
    let handles = ctx.proxy.metrics.route(ingress, service, path);
    exchange.routed(handles, options.access_log, &backend.service.port);
    if let Some(refusal) = options.refused {
        return Err(ProxyError::Refused(refusal));
    }
    // nginx checks the client certificate as the request is read, before any phase.
    let client_cert = match &options.client_auth {
        Some(auth) => Some(policy::client_cert::check(ctx, auth).map_err(ProxyError::ClientCert)?),
        None => None,
    };
    // ingress-nginx answers `app-root` in the server's rewrite phase, before anything of the
    // location (its HTTPS redirect, CORS, access checks) runs.
    if let Some(root) = &options.app_root
        && request.uri().path() == "/"
    {
        return Ok(redirect::app_root(ctx.listener.scheme, raw_host, root));
    }
    *cors = policy::cors::allowed(options.cors.as_ref(), request.method(), request.headers());
    if let Some(preflight) = cors.as_ref().and_then(policy::cors::Allowed::preflight) {
        return Ok(preflight);
    }
    // The template's order, all in nginx's rewrite phase: the CORS block, then `return CODE
    // URL`, then the HTTPS redirect (`rewrite_by_lua`, which runs last in the phase); access
    // checks come after.
    if let Some(target) = &options.redirect {
        return policy::cors::respond(
            cors.as_ref(),
            Ok(redirect::to(target, ctx.listener.scheme, raw_host)),
        );
    }
    if let Some(to) = &options.www_redirect {
        let code = ctx.proxy.config.http_redirect_code;
        let check = redirect_check(ctx, &request);
        let port = ctx.listener.port;
        return Ok(redirect::to_host(&check, port, to, code, request.uri()));
    }
    if options.https_redirect && redirect::needed(&redirect_check(ctx, &request)) {
        let https = redirect::Https {
            port: ctx.proxy.config.https_redirect_port,
            code: ctx.proxy.config.http_redirect_code,
            style: options.https_redirect_style,
        };
        return Ok(redirect::response(raw_host, &https, request.uri()));
    }
    // Decided here when external auth or an error page may send it before the upstream does.
    let request_id = (options.external_auth.is_some() || options.error_pages.is_some())
        .then(|| forwarding::request_id(request.headers()));
    if let (Some(error_pages), Some(id)) = (&options.error_pages, &request_id) {
        *pages = Some(error_pages::Pending::new(
            error_pages,
            &table,
            &request,
            &host,
            id,
        ));
    }
    // nginx's preaccess phase (`limit_req`, `limit_conn`) runs before its access phase
    // (`allow`/`deny`, `auth_basic`, `auth_request`, combined by `satisfy`).
    let limit_slot = match &options.limits {
        Some(limits) => {
            policy::limits::check(ctx, request.headers(), &route.route.ingress, limits)?
        }
        None => None,
    };
    let passed = match (&options.external_auth, &request_id) {
        (Some(auth), Some(id)) => {
            let external = policy::External {
                auth,
                asking: asking(ctx, &request, &host, id),
                table: &table,
                scope: Scope {
                    ingress: &route.route.ingress,
                    rule_path: path,
                },
            };
            policy::guard(ctx, request.headers(), options, Some(&external), cookies).await?
        }
        _ => policy::guard(ctx, request.headers(), options, None, cookies).await?,
    };
    let stand_in = match (&backend.state, &options.error_pages) {
        (Ok(endpoints), _) if !endpoints.is_empty() => None,
        (_, Some(error_pages)) => error_pages::stand_in(error_pages, &table),
        _ => None,
    };
    let (endpoints, mode) = match (&backend.state, stand_in) {
        (_, Some(stand_in)) => match &stand_in.state {
            Ok(endpoints) => (endpoints, stand_in.mode),
            Err(unavailable) => return Err(ProxyError::BackendUnavailable(unavailable.reason())),
        },
        (Ok(endpoints), None) if !endpoints.is_empty() => (endpoints, backend.mode),
        (Ok(_), None) => return Err(ProxyError::BackendUnavailable(NO_ENDPOINTS)),
        (Err(unavailable), None) => {
            return Err(ProxyError::BackendUnavailable(unavailable.reason()));
        }
    };
    // A stand-in default backend is balanced as any backend: the route's session or hash
    // names endpoints of the route's own backend.
    let keyed = keyed.filter(|_| stand_in.is_none());
    // The rule's path, kept only for a cookie that may be set without `session-cookie-path`.
    let cookie_path: Option<Box<str>> = match (affinity, &keyed) {
        (Some(a), Some(k)) if a.path.is_none() && (k.choice.issue || a.change_on_failure) => {
            Some(path.into())
        }
        _ => None,
    };
    // Read only for a cookie that may leave out `SameSite=None` (a reference count, no copy).
    let user_agent = affinity
        .filter(|a| a.conditional_same_site_none)
        .and_then(|_| request.headers().get(USER_AGENT).cloned());
    let upstream_host = options.upstream_host.as_ref();
    let rewrite = options.rewrite.as_deref();
    let client_upgrade =
        prepare_upstream(&mut request, host, upstream_host, ctx, request_id, rewrite)?;
    if options.basic_auth.is_some() {
        // nginx.tmpl's `proxy_set_header Authorization ""` on a basic-auth location: the
        // password stays here.
        request.headers_mut().remove(http::header::AUTHORIZATION);
    }
    if let Some(auth) = &options.external_auth {
        policy::external_auth::forward_headers(auth, passed, request.headers_mut());
    }
    if let (Some(error_pages), Some(_)) = (&options.error_pages, stand_in) {
        error_pages::mark_stand_in(request.headers_mut(), error_pages);
    }
    if let Some(cert) = &client_cert {
        cert.forward_headers(request.headers_mut());
    }
    exchange.forwarding(request.headers());
    // A stand-in default backend is spoken to as any Service is: the route's protocol and TLS
    // settings are its own backend's.
    let upstream = options.upstream.as_ref().filter(|_| stand_in.is_none());
    let (via, grpc_timeouts) = match upstream {
        None => (None, None),
        Some(upstream) => {
            let deadline = upstream
                .protocol
                .is_grpc()
                .then(|| grpc::timeout(request.headers()));
            let timeouts = deadline
                .flatten()
                .map(|deadline| grpc_timeouts(ctx, options.timeouts.as_deref(), deadline));
            (Some(via(upstream, ctx, request.headers())), timeouts)
        }
    };
    let timeouts = grpc_timeouts.as_ref().or(options.timeouts.as_deref());
    let body_timeout = ctx.proxy.config.client_body_timeout;
    let max_body = options.max_body_size;
    let request = request.map(|body| {
        let (counter, tally) = exchange.request_counts();
        let body = RequestBody::new(body, counter, tally).with_timeout(body_timeout);
        body.with_limit(max_body)
    });
    let started = Instant::now();
    let target = upstream::Target {
        mode,
        via: via.as_ref().unwrap_or(&Via::H1),
        timeouts,
    };
    let proxy = &ctx.proxy;
    let first = keyed.as_ref().and_then(|k| k.choice.index);
    let sent = upstream::send(
        proxy, endpoints, target, request, options, started, exchange, first,
    )
    .await;
    exchange.upstream_done(started.elapsed(), &sent);
    let sent = sent?;
    if let Some(pages) = pages.as_ref()
        && pages.intercepts(sent.response.status())
    {
        let status = sent.response.status();
        let Sent { response, link } = sent;
        policy::external_auth::settle(response.into_body(), link);
        // Boxed: only an intercepted answer pays for the error page's exchange future.
        let page = Box::pin(pages.answer(ctx, status)).await;
        return policy::cors::respond(cors.as_ref(), page);
    }
    let session_cookie = match (affinity, &keyed) {
        (Some(affinity), Some(k)) => {
            let https = ctx.listener.scheme == Scheme::Https;
            let served = sent.link.addr();
            endpoints
                .list()
                .binary_search_by(|e| e.addr.cmp(&served))
                .ok()
                .and_then(|served| {
                    let keyed = k.keyed;
                    let choice = k.choice;
                    let path = cookie_path.as_deref().unwrap_or("/");
                    affinity::set_cookie(
                        affinity,
                        keyed,
                        choice,
                        served,
                        path,
                        https,
                        user_agent.as_ref(),
                    )
                })
        }
        _ => None,
    };
    let read_timeout = read_timeout(ctx, timeouts);
    let mut response = relay_response(ctx, sent, client_upgrade, read_timeout, limit_slot);
    if let (Some(cookie), Ok(response)) = (session_cookie, response.as_mut()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
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

/// What external auth reads of the request.
fn asking<'a>(
    ctx: &ConnCtx,
    request: &'a Request<Incoming>,
    host: &'a HeaderValue,
    request_id: &'a HeaderValue,
) -> Asking<'a> {
    let headers = request.headers();
    let peer = ctx.peer.ip();
    let trusted = &ctx.proxy.config.trusted_proxies;
    Asking {
        method: request.method(),
        uri: request.uri(),
        headers,
        host,
        client: forwarding::client(headers, peer, trusted),
        trusted_peer: forwarding::is_trusted(trusted, peer.to_canonical()),
        scheme: forwarding::scheme(headers, peer, trusted, ctx.listener.scheme),
        request_id,
    }
}

/// Turns the client's request into the upstream's, in place: origin-form target as received
/// (its path rewritten when the route has a `rewrite`), HTTP/1.1, hop-by-hop headers stripped, forwarding headers set, `Host` preserved (from
/// `:authority` for HTTP/2) unless the route names its own (`upstream_host`). `request_id`
/// is the `X-Request-ID` decided already (external auth sent it), if any. Returns the client
/// side of an upgrade the request asks for.
fn prepare_upstream(
    request: &mut Request<Incoming>,
    host: HeaderValue,
    upstream_host: Option<&HeaderValue>,
    ctx: &ConnCtx,
    request_id: Option<HeaderValue>,
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
        values: Some(&ctx.forwarded),
    };
    forwarding::apply(headers, &fwd, || {
        request_id.unwrap_or_else(request_id::generate)
    });
    headers.insert(HOST, upstream_host.cloned().unwrap_or(host));
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
/// goes back to the pool when the body has been read. The request's connection-limit slot,
/// if any, is held by the body, or by the tunnel, until it ends.
fn relay_response(
    ctx: &ConnCtx,
    sent: Sent,
    client_upgrade: Option<OnUpgrade>,
    read_timeout: Duration,
    limit_slot: Option<Slot>,
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
        let Some(upstream) = link.into_upgraded() else {
            return Err(ProxyError::UpstreamProtocol {
                addr,
                detail: "101 Switching Protocols over HTTP/2",
            });
        };
        let drain = ctx.drain.clone();
        let tunnel = upgrade::Tunnel {
            addr,
            idle_timeout: read_timeout,
            limit_slot,
        };
        upgrade::spawn_tunnel(client, upstream, drain, tunnel);
        headers::strip_hop_by_hop(response.headers_mut(), switching);
        *response.version_mut() = Version::HTTP_11;
        return Ok(response.map(|_| ResponseBody::upstream(Payload::EMPTY, None)));
    }
    headers::strip_hop_by_hop(response.headers_mut(), switching);
    *response.version_mut() = Version::HTTP_11;
    let body = |body| {
        ResponseBody::upstream(body, Some(link))
            .with_read_timeout(read_timeout)
            .with_limit_slot(limit_slot)
    };
    Ok(response.map(body))
}
/// The route's read timeout (nginx `proxy_read_timeout`), else the global response timeout.
fn read_timeout(ctx: &ConnCtx, timeouts: Option<&Timeouts>) -> Duration {
    timeouts
        .and_then(|t| t.read)
        .unwrap_or(ctx.proxy.config.response_header_timeout)
}

#[cfg(test)]
mod future_size {
    /// The size of the future an `async fn` of two arguments returns, without calling it.
    fn future_of<A, B, F: std::future::Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// hyper boxes each request's future and moves it there, per request on a keep-alive
    /// connection and with every new connection: the rare paths (a new upstream connection,
    /// HTTP/2, external auth, error pages) are boxed where they start, so the common one
    /// stays small. It was 13.5 KiB (debug build) before they were; the budget leaves room.
    #[test]
    fn a_request_future_stays_small() {
        let size = future_of(super::handle);
        assert!(size <= 8 * 1024, "service::handle's future is {size} bytes");
    }
}
