//! External auth (docs/architecture.md, "External auth"): before a request of a route with
//! `auth-url` (or the global `--global-auth-url`) is forwarded, a subrequest without a body
//! asks the auth service ([`subrequest`]), through the upstream machinery ([`dial`]). Its
//! answer decides, as ingress-nginx's `auth_request` does:
//!
//! - 2xx: the request goes on; the `auth-response-headers` of the answer replace the
//!   client's headers of those names on the upstream request ([`forward_headers`]);
//! - 401 and 403 are answered to the client (a 401 with the service's `WWW-Authenticate`,
//!   or, with `auth-signin`, a 302 to the sign-in URL: [`signin_location`]);
//! - any other status, no connection, no answer within the connect and response timeouts:
//!   500, and nothing is forwarded (fail closed).
//!
//! The answer's `Set-Cookie`s reach the client's response ([`Cookies`]). Its body is never
//! read beyond what has already arrived: a connection whose answer body is complete goes back
//! to the pool, any other is closed. Answers may be cached per worker ([`cache`]). Every check
//! counts in `strait_auth_requests_total{result}`.

use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, SET_COOKIE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use strait_shared::ObjectKey;
use strait_shared::RouteTable;
use strait_shared::table::external_auth::{ExternalAuth, escape_component};

use crate::error::AuthFailure;
use crate::metrics::AuthResult;
use crate::pool::{Link, Payload, Sent};
use crate::proxy::Proxy;

mod cache;
mod dial;
mod subrequest;
#[cfg(test)]
mod tests;

pub(crate) use subrequest::Asking;

/// The route's keyspace in the auth cache: its Ingress and the rule's path (with the
/// request's host).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub ingress: &'a ObjectKey,
    pub rule_path: &'a str,
}

/// What the auth service said.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// 2xx: the answer's headers, for the upstream request.
    Allowed(Passed),
    /// 401 or 403.
    Denied {
        status: StatusCode,
        challenge: Option<HeaderValue>,
    },
    /// No verdict: 500.
    Failed(AuthFailure),
}

/// The headers of a 2xx answer.
#[derive(Debug, Default)]
pub(crate) struct Passed(HeaderMap);

/// The `Set-Cookie`s of an auth answer, for the client's response.
#[derive(Debug)]
pub(crate) struct Cookies {
    values: Vec<HeaderValue>,
    always: bool,
}

/// Statuses that get the cookies without `auth-always-set-cookie` (nginx's `add_header`
/// without `always`).
const COOKIE_STATUSES: [u16; 10] = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

impl Cookies {
    /// Adds the cookies to `response` when its status takes them.
    pub(crate) fn add_to<B>(self, response: &mut Response<B>) {
        if self.always || COOKIE_STATUSES.contains(&response.status().as_u16()) {
            let headers = response.headers_mut();
            for value in self.values {
                headers.append(SET_COOKIE, value);
            }
        }
    }
}

/// Asks `auth`'s service about the request described by `asking`; the answer's cookies go to
/// `cookies`.
pub(crate) async fn check(
    proxy: &Proxy,
    table: &RouteTable,
    auth: &ExternalAuth,
    asking: &Asking<'_>,
    scope: Scope<'_>,
    cookies: &mut Option<Cookies>,
) -> Verdict {
    let host_name = asking.host_name();
    let cache_key = auth.cache.as_ref().map(|cache| {
        let mut evaluated = Vec::with_capacity(64);
        cache.key.render(asking, &mut evaluated);
        let scope = [
            scope.ingress.namespace.as_bytes(),
            scope.ingress.name.as_bytes(),
            scope.rule_path.as_bytes(),
            host_name.as_bytes(),
        ];
        cache::key(&scope, &auth.url.text, &evaluated)
    });
    if let Some(kept) = cache_key.and_then(cache::get) {
        proxy.metrics.auth_request(AuthResult::Cached);
        return verdict(kept.status, kept.headers);
    }
    let host = match auth.url.host.name() {
        Some(name) => HeaderValue::from_str(name),
        None => HeaderValue::from_str(&host_name),
    };
    let Ok(host) = host else {
        return failed(proxy, AuthFailure::Target);
    };
    let request = match subrequest::build(auth, asking, host) {
        Ok(request) => request,
        Err(failure) => return failed(proxy, failure),
    };
    let Sent { response, link } = match dial::send(proxy, table, auth, &host_name, request).await {
        Ok(sent) => sent,
        Err(failure) => return failed(proxy, failure),
    };
    let (parts, body) = response.into_parts();
    settle(body, link);
    let status = parts.status;
    let values: Vec<HeaderValue> = parts.headers.get_all(SET_COOKIE).iter().cloned().collect();
    if !values.is_empty() {
        let always = auth.always_set_cookie;
        *cookies = Some(Cookies { values, always });
    }
    if let (Some(key), Some(cache)) = (cache_key, &auth.cache) {
        cache::put(key, auth, cache, status, &parts.headers);
    }
    let verdict = verdict(status, parts.headers);
    let result = match &verdict {
        Verdict::Allowed(_) => AuthResult::Allowed,
        Verdict::Denied { .. } => AuthResult::Denied,
        Verdict::Failed(_) => AuthResult::Error,
    };
    proxy.metrics.auth_request(result);
    verdict
}

fn failed(proxy: &Proxy, failure: AuthFailure) -> Verdict {
    let result = match failure {
        AuthFailure::Timeout => AuthResult::Timeout,
        _ => AuthResult::Error,
    };
    proxy.metrics.auth_request(result);
    Verdict::Failed(failure)
}

/// The verdict of an answer with `status` and `headers`.
fn verdict(status: StatusCode, mut headers: HeaderMap) -> Verdict {
    if status.is_success() {
        return Verdict::Allowed(Passed(headers));
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let challenge = match status {
            StatusCode::UNAUTHORIZED => headers.remove(WWW_AUTHENTICATE),
            _ => None,
        };
        return Verdict::Denied { status, challenge };
    }
    Verdict::Failed(AuthFailure::Status(status.as_u16()))
}

/// Most answer-body bytes read to return a connection to the pool.
const SETTLE_BYTES: usize = 64 * 1024;

/// Reads what of the answer's body has already arrived, without waiting: when that is all of
/// it, the connection goes back to the pool; otherwise it is dropped (closed). Also used for
/// an upstream response an error page replaces.
pub(crate) fn settle(mut body: Payload, mut link: Link) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut read = 0;
    loop {
        if body.is_end_stream() {
            return link.release();
        }
        match body.poll_frame(Some(&mut link), &mut cx) {
            Poll::Ready(None) => return link.release(),
            Poll::Ready(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > SETTLE_BYTES {
                    return;
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => return,
        }
    }
}

/// Sets the route's `auth-response-headers` on the upstream request: every listed header the
/// client sent is removed, then the 2xx answer's values of those headers (if the check ran:
/// under `satisfy any` another control may have let the request through) are added. nginx
/// does the same (`proxy_set_header '<name>' $authHeaderN`, empty when not set, drops it).
pub(crate) fn forward_headers(
    auth: &ExternalAuth,
    passed: Option<Passed>,
    upstream: &mut HeaderMap,
) {
    if auth.response_headers.is_empty() {
        return;
    }
    for name in &auth.response_headers {
        upstream.remove(&**name);
    }
    let Some(Passed(answer)) = passed else {
        return;
    };
    let mut current = None;
    for (name, value) in answer {
        if name.is_some() {
            current = name;
        }
        if let Some(name) = &current
            && auth.response_headers.iter().any(|n| **n == *name.as_str())
        {
            upstream.append(name.clone(), value);
        }
    }
}

/// Where a 401 is redirected (`auth-signin`): the sign-in URL with the original URL
/// (`<scheme>://<host><escaped request target>`) in its redirect parameter, as
/// ingress-nginx's `buildAuthSignURL` writes it. `None` without `auth-signin`, or when the URL
/// made from the request is not a valid header value.
pub(crate) fn signin_location(auth: &ExternalAuth, asking: &Asking<'_>) -> Option<HeaderValue> {
    let signin = auth.signin.as_ref()?;
    let mut url = Vec::with_capacity(128);
    signin.url.render(asking, &mut url);
    if let Some((separator, param)) = &signin.redirect {
        url.push(*separator);
        url.extend_from_slice(param.as_bytes());
        url.push(b'=');
        url.extend_from_slice(asking.scheme.as_str().as_bytes());
        url.extend_from_slice(b"://");
        url.extend_from_slice(asking.host.as_bytes());
        escape_component(asking.request_uri().as_bytes(), &mut url);
    }
    HeaderValue::from_maybe_shared(Bytes::from(url)).ok()
}
