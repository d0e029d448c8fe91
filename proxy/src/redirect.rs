//! Redirects (docs/architecture.md, "Redirects"): plain HTTP to HTTPS (`--http-redirect-code`,
//! 308 by default), decided per route when the table is built
//! ([`RouteOptions::https_redirect`](strait_shared::table::RouteOptions)), and an Ingress's
//! `permanent-redirect` / `temporal-redirect`, applied here.
//!
//! The HTTPS `Location` follows ingress-nginx's `lua_ingress.lua`: the request target as
//! received, less one trailing `/` (`/dir/` → `/dir`, `/` → nothing) unless
//! `preserve-trailing-slash`; the port named when `use-port-in-redirects` (or when the
//! redirect port is not 443).
//!
//! Not redirected: requests already on HTTPS, requests a trusted proxy says arrived over HTTPS
//! (`X-Forwarded-Proto: https`, so a TLS-terminating load balancer in front does not loop),
//! and ACME HTTP-01 challenges (`/.well-known/acme-challenge/`), which must stay on plain
//! HTTP for certificates to be issued — ingress-nginx exempts them too.

use std::net::IpAddr;

use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use http::{Response, StatusCode, Uri};
use ipnet::IpNet;
use strait_shared::host::normalise_request_host;

use strait_shared::table::redirect::{HttpsRedirectStyle, Redirect};

use crate::body::ResponseBody;
use crate::config::Scheme;
use crate::forwarding::{self, X_FORWARDED_PORT, X_FORWARDED_PROTO};

/// Path prefix of ACME HTTP-01 challenges.
const ACME_CHALLENGE: &str = "/.well-known/acme-challenge/";

/// What decides whether one request is redirected.
pub(crate) struct Check<'a> {
    pub scheme: Scheme,
    pub peer: IpAddr,
    pub trusted: &'a [IpNet],
    pub headers: &'a HeaderMap,
    pub path: &'a str,
}

/// Whether a request on a route that asks for HTTPS must be redirected.
pub(crate) fn needed(check: &Check<'_>) -> bool {
    check.scheme == Scheme::Http
        && !check.path.starts_with(ACME_CHALLENGE)
        && !forwarded_https(check)
}

/// A trusted peer says the client's scheme was already HTTPS.
fn forwarded_https(check: &Check<'_>) -> bool {
    forwarded(check, &X_FORWARDED_PROTO).is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// The first value of a forwarding header, when the peer is trusted to send it.
fn forwarded<'a>(check: &Check<'a>, name: &http::HeaderName) -> Option<&'a str> {
    let peer = check.peer.to_canonical();
    if !forwarding::is_trusted(check.trusted, peer) {
        return None;
    }
    let value = check.headers.get(name)?.to_str().ok()?;
    Some(value.split(',').next()?.trim())
}

/// `from-to-www-redirect` (ingress-nginx's `ngx_srv_redirect.lua`): `code` to
/// `scheme://to:port` + the request target less a trailing `/`. The scheme and port are the
/// connection's (`port`: the listener's), or what a trusted proxy forwarded. The port is
/// always named, as there.
pub(crate) fn to_host(
    check: &Check<'_>,
    port: u16,
    to: &HeaderValue,
    code: StatusCode,
    uri: &Uri,
) -> Response<ResponseBody> {
    let scheme = match forwarded(check, &X_FORWARDED_PROTO) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        Some(proto) if proto.eq_ignore_ascii_case("http") => "http",
        _ => check.scheme.as_str(),
    };
    let port = forwarded(check, &X_FORWARDED_PORT)
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(port);
    let mut target = origin_target(uri);
    if target.ends_with('/') {
        target.pop();
    }
    // `to` is a host name checked at table build; the target came from a request hyper took.
    let to = to.to_str().unwrap_or_default();
    let location = HeaderValue::from_str(&format!("{scheme}://{to}:{port}{target}")).ok();
    redirect(code, location, "redirecting")
}

/// The request target in origin form, as received; anything else (`*` of `OPTIONS *`, an
/// absent path) names the root, keeping the query.
fn origin_target(uri: &Uri) -> String {
    match uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_owned(),
        Some(pq) => pq
            .query()
            .map_or_else(|| "/".to_owned(), |q| format!("/?{q}")),
        None => "/".to_owned(),
    }
}

/// How one HTTPS redirect is written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Https {
    /// The port of the HTTPS listener as clients reach it (`--https-redirect-port`).
    pub port: u16,
    /// `--http-redirect-code` (308 by default, as ingress-nginx's `http-redirect-code`).
    pub code: StatusCode,
    pub style: HttpsRedirectStyle,
}

/// The redirect to `https://host[:port]/path?query`: the request's host without its port, the
/// port when the route asks for it or it is not 443, the target as received less a trailing
/// `/` unless the route preserves it.
pub(crate) fn response(raw_host: &str, https: &Https, uri: &Uri) -> Response<ResponseBody> {
    let host = normalise_request_host(raw_host);
    let mut target = origin_target(uri);
    // lua_ingress.lua looks at the last byte of `$request_uri`, query included.
    if !https.style.preserve_trailing_slash && target.ends_with('/') {
        target.pop();
    }
    let port = https.port;
    let location = if port == 443 && !https.style.port_in_redirect {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{port}{target}")
    };
    // Host and target come from a request hyper accepted: visible ASCII, valid in a header.
    let location = HeaderValue::from_str(&location).ok();
    redirect(https.code, location, "redirecting to HTTPS")
}

/// The route's own redirect (`permanent-redirect`, `temporal-redirect`).
pub(crate) fn to(target: &Redirect, scheme: Scheme, raw_host: &str) -> Response<ResponseBody> {
    let code = StatusCode::from_u16(target.code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    // Checked when the table was built: only characters valid in a header. A path is made
    // absolute as nginx's `absolute_redirect on` does, with `port_in_redirect off`: the
    // request's scheme and host without its port.
    let location = if let Some(sent) = &target.sent {
        Some(sent.clone())
    } else if target.location.starts_with('/') {
        let host = raw_host.rsplit_once(':').map_or(raw_host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') {
                h
            } else {
                raw_host
            }
        });
        let url = format!("{}://{host}{}", scheme.as_str(), target.location);
        HeaderValue::from_str(&url).ok()
    } else {
        None
    };
    redirect(code, location, "redirecting")
}

fn redirect(
    code: StatusCode,
    location: Option<HeaderValue>,
    body: &'static str,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::text(body));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(location) = location {
        headers.insert(LOCATION, location);
    }
    response
}

/// `302 Found` to the route's `app-root` for a request of `/` (docs/architecture.md, "Regex
/// paths and rewrites"), as ingress-nginx's server-level `return 302
/// $scheme://$http_host<app-root>;`: the listener's scheme, the host as the client sent it (its
/// port included) and the app-root, without the query (`return` does not carry it).
pub(crate) fn app_root(scheme: Scheme, raw_host: &str, app_root: &str) -> Response<ResponseBody> {
    let location = format!("{}://{raw_host}{app_root}", scheme.as_str());
    let mut response = Response::new(ResponseBody::text("redirecting to the application root"));
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The host passed request validation and the app-root was checked when the table was
    // built (letters, digits, `- . _ ~ / :`): valid in a header.
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests;
