//! The auth subrequest, as ingress-nginx's `location = /_external-auth-…` block builds it
//! (`rootfs/etc/nginx/template/nginx.tmpl`): the client's headers without a body, plus
//!
//! - `Host`: the auth URL's host without its port (the request's own host for `$host`);
//! - `X-Original-URL`: `<scheme>://<Host as received><request target>`;
//! - `X-Original-Method`, `X-Sent-From: nginx-ingress-controller`;
//! - `X-Real-IP` and `X-Forwarded-For`: the client address;
//! - `X-Auth-Request-Redirect`: `auth-request-redirect`, else the request target;
//! - `X-Request-ID`: the request's own id (the upstream request carries the same);
//! - with `auth-method`: `X-Original-URI` (the target) and `X-Scheme`;
//! - no `X-Forwarded-Proto` (nginx clears it), no `Content-Length`, no hop-by-hop headers;
//! - last, the headers of `auth-proxy-set-headers` ([`set_headers`]).
//!
//! A client that is not a trusted proxy gets its own `X-Forwarded-*`, `X-Real-IP` and
//! `Forwarded` dropped, as on the way upstream ([`crate::forwarding`]); nginx would pass
//! them to the auth service.
//!
//! [`Asking`] also gives the templates' variables their values ([`Values`]).

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, COOKIE, EXPECT, HOST, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Uri, Version};
use strait_shared::host::normalise_request_host;
use strait_shared::table::external_auth::{
    ExternalAuth, SetHeaders, SetValue, Values, Variable, escape_component,
};

use crate::config::Scheme;
use crate::error::AuthFailure;
use crate::forwarding::{self, X_FORWARDED_FOR, X_FORWARDED_PROTO, X_REAL_IP, X_REQUEST_ID};
use crate::headers;
use crate::upload::RequestBody;

const X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_SENT_FROM: HeaderName = HeaderName::from_static("x-sent-from");
const X_AUTH_REQUEST_REDIRECT: HeaderName = HeaderName::from_static("x-auth-request-redirect");
const X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");

/// What external auth reads of the client's request.
#[derive(Debug)]
pub(crate) struct Asking<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// `Host` (or `:authority`) as received.
    pub host: &'a HeaderValue,
    /// The client address (trusted proxies and PROXY protocol applied).
    pub client: IpAddr,
    /// Whether the connecting peer is a trusted proxy.
    pub trusted_peer: bool,
    /// The scheme the client used.
    pub scheme: Scheme,
    /// The request's `X-Request-ID`.
    pub request_id: &'a HeaderValue,
}

impl Asking<'_> {
    /// The request target as received (`$request_uri`).
    pub(crate) fn request_uri(&self) -> &str {
        self.uri.path_and_query().map_or("/", PathAndQuery::as_str)
    }

    /// The request's host, lowercase, without a port (`$host`).
    pub(crate) fn host_name(&self) -> std::borrow::Cow<'_, str> {
        normalise_request_host(self.host.to_str().unwrap_or(""))
    }
}

impl Values for Asking<'_> {
    fn write(&self, variable: &Variable, out: &mut Vec<u8>) {
        match variable {
            Variable::Host => out.extend_from_slice(self.host_name().as_bytes()),
            Variable::HttpHost => out.extend_from_slice(self.host.as_bytes()),
            Variable::Scheme => out.extend_from_slice(self.scheme.as_str().as_bytes()),
            Variable::RequestUri => out.extend_from_slice(self.request_uri().as_bytes()),
            Variable::EscapedRequestUri => escape_component(self.request_uri().as_bytes(), out),
            Variable::Uri => out.extend_from_slice(self.uri.path().as_bytes()),
            Variable::Args => out.extend_from_slice(self.uri.query().unwrap_or("").as_bytes()),
            Variable::Arg(name) => {
                let query = self.uri.query().unwrap_or("");
                let value = query.split('&').find_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    key.eq_ignore_ascii_case(name).then_some(value)
                });
                out.extend_from_slice(value.unwrap_or("").as_bytes());
            }
            Variable::RequestMethod => out.extend_from_slice(self.method.as_str().as_bytes()),
            Variable::RemoteAddr => out.extend_from_slice(self.client.to_string().as_bytes()),
            Variable::RemoteUser => {
                let user = super::super::basic_auth::user(self.headers);
                out.extend_from_slice(user.unwrap_or_default().as_bytes());
            }
            Variable::Header(name) => {
                for (i, value) in self.headers.get_all(&**name).iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(value.as_bytes());
                }
            }
            Variable::Cookie(name) => {
                if let Some(value) = cookie(self.headers, name) {
                    out.extend_from_slice(value);
                }
            }
        }
    }
}

/// The value of cookie `name` (matched case-insensitively, as nginx does) in the `Cookie`
/// headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|b| *b == b'=')?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            key.trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| value.trim_ascii())
        })
}

/// The subrequest for `auth`, to the host named by `host` (the `Host` header).
pub(super) fn build(
    auth: &ExternalAuth,
    asking: &Asking<'_>,
    host: HeaderValue,
) -> Result<Request<RequestBody>, AuthFailure> {
    let mut target = Vec::with_capacity(64);
    auth.url.target.render(asking, &mut target);
    let target =
        PathAndQuery::from_maybe_shared(Bytes::from(target)).map_err(|_| AuthFailure::Target)?;
    let mut headers = asking.headers.clone();
    headers::strip_hop_by_hop(&mut headers, false);
    for name in [CONTENT_LENGTH, EXPECT, X_FORWARDED_PROTO] {
        headers.remove(name);
    }
    if !asking.trusted_peer {
        forwarding::discard_incoming(&mut headers);
    }
    let client = HeaderValue::from_str(&asking.client.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("0.0.0.0"));
    let request_uri = HeaderValue::from_str(asking.request_uri())
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    headers.insert(HOST, host);
    headers.insert(X_ORIGINAL_URL, original_url(asking)?);
    headers.insert(
        X_ORIGINAL_METHOD,
        HeaderValue::from_str(asking.method.as_str()).map_err(|_| AuthFailure::Target)?,
    );
    headers.insert(
        X_SENT_FROM,
        HeaderValue::from_static("nginx-ingress-controller"),
    );
    headers.insert(X_REAL_IP, client.clone());
    headers.insert(X_FORWARDED_FOR, client);
    let redirect = match &auth.request_redirect {
        // Checked when the table was built: letters, digits and URL punctuation.
        Some(value) => HeaderValue::from_str(value).unwrap_or_else(|_| request_uri.clone()),
        None => request_uri.clone(),
    };
    headers.insert(X_AUTH_REQUEST_REDIRECT, redirect);
    headers.insert(X_REQUEST_ID, asking.request_id.clone());
    let method = match auth.method {
        Some(method) => {
            headers.insert(X_ORIGINAL_URI, request_uri);
            let scheme = HeaderValue::from_static(asking.scheme.as_str());
            headers.insert(X_SCHEME, scheme);
            // The registry's methods are standard tokens.
            Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET)
        }
        None => Method::GET,
    };
    if let Some(set) = &auth.proxy_set_headers {
        set_headers(&mut headers, set, asking, auth.method.is_some())?;
    }
    let mut request = Request::new(RequestBody::empty());
    *request.method_mut() = method;
    *request.uri_mut() = Uri::from(target);
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Headers the subrequest sets itself with a value (nginx.tmpl's `proxy_set_header` lines of
/// the auth location); `X-Original-URI` and `X-Scheme` only with `auth-method`.
const OWN: [HeaderName; 7] = [
    X_ORIGINAL_URL,
    X_ORIGINAL_METHOD,
    X_SENT_FROM,
    X_REAL_IP,
    X_FORWARDED_FOR,
    X_AUTH_REQUEST_REDIRECT,
    X_REQUEST_ID,
];

fn is_own(name: &HeaderName, with_method: bool) -> bool {
    OWN.contains(name) || (with_method && (*name == X_ORIGINAL_URI || *name == X_SCHEME))
}

/// Adds the headers of `auth-proxy-set-headers` as nginx does with the `proxy_set_header`
/// lines ingress-nginx writes after its own: the client's header of each name is not passed,
/// each non-empty value is sent, and a header the subrequest sets itself (`X-Original-URL`…)
/// keeps its own value first, the ConfigMap's following it (nginx 1.27, ingress-nginx's, sends
/// both lines; an auth service reading one value reads nginx's). `Host` is the exception: the
/// ConfigMap's replaces it, as nginx does from 1.31.4 on, where two `Host` lines would be
/// refused by the auth service. A value with variables made from the request that is not
/// valid header text fails the check (fail closed; nginx would send the bytes as they are).
fn set_headers(
    headers: &mut HeaderMap,
    set: &SetHeaders,
    asking: &Asking<'_>,
    with_method: bool,
) -> Result<(), AuthFailure> {
    for header in set {
        if header.name != HOST && !is_own(&header.name, with_method) {
            headers.remove(&header.name);
        }
    }
    for header in set {
        let value = match &header.value {
            SetValue::Fixed(value) => value.clone(),
            SetValue::Template(template) => {
                let mut text = Vec::with_capacity(64);
                template.render(asking, &mut text);
                HeaderValue::from_maybe_shared(Bytes::from(text))
                    .map_err(|_| AuthFailure::Target)?
            }
        };
        if value.is_empty() {
            continue;
        }
        if header.name == HOST {
            headers.insert(HOST, value);
        } else {
            headers.append(header.name.clone(), value);
        }
    }
    Ok(())
}

/// `X-Original-URL`: `<scheme>://<Host as received><request target>`.
fn original_url(asking: &Asking<'_>) -> Result<HeaderValue, AuthFailure> {
    let scheme = asking.scheme.as_str();
    let host = asking.host.as_bytes();
    let target = asking.request_uri();
    let mut url = Vec::with_capacity(scheme.len() + 3 + host.len() + target.len());
    url.extend_from_slice(scheme.as_bytes());
    url.extend_from_slice(b"://");
    url.extend_from_slice(host);
    url.extend_from_slice(target.as_bytes());
    HeaderValue::from_maybe_shared(Bytes::from(url)).map_err(|_| AuthFailure::Target)
}
