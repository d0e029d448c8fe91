//! `308` from plain HTTP to HTTPS (docs/architecture.md, "Redirects"): decided per route when the
//! table is built ([`RouteOptions::https_redirect`](strait_shared::table::RouteOptions)), applied
//! here.
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

use crate::body::ResponseBody;
use crate::config::Scheme;
use crate::forwarding::{self, X_FORWARDED_PROTO};

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
    let peer = check.peer.to_canonical();
    if !forwarding::is_trusted(check.trusted, peer) {
        return false;
    }
    check
        .headers
        .get(X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// `308 Permanent Redirect` to `https://host[:port]/path?query`: the request's host without
/// its port, `port` unless it is 443, the target as received.
pub(crate) fn response(raw_host: &str, port: u16, uri: &Uri) -> Response<ResponseBody> {
    let host = normalise_request_host(raw_host);
    // An origin-form target goes as received; anything else (`*` of `OPTIONS *`, an absent
    // path) names the root, keeping the query.
    let target = match uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_owned(),
        Some(pq) => pq
            .query()
            .map_or_else(|| "/".to_owned(), |q| format!("/?{q}")),
        None => "/".to_owned(),
    };
    let location = if port == 443 {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{port}{target}")
    };
    let mut response = Response::new(ResponseBody::text("redirecting to HTTPS"));
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // Host and target come from a request hyper accepted: visible ASCII, valid in a header.
    if let Ok(location) = HeaderValue::from_str(&location) {
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
