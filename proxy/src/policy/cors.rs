//! CORS of a route (docs/architecture.md, "CORS"), as ingress-nginx's `CORS` template block
//! does it:
//!
//! - An allowed request is one whose `Origin` matches the route's list, or any request when
//!   the route allows `*`. Others get no CORS header at all (the browser then refuses the
//!   cross-origin read) and are served as usual.
//! - An allowed preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
//!   answered here with `204` and never reaches the upstream.
//! - Every other allowed response (the proxy's own errors included) gets `Access-Control-Allow-Origin` (the request's origin
//!   echoed, or `*`), `-Allow-Credentials` (when on), `-Allow-Methods`, `-Allow-Headers`,
//!   `-Expose-Headers` (when set) and `-Max-Age`, replacing any the upstream sent (nginx's
//!   `more_set_headers`), and `Vary: Origin` when the origin was echoed, so a shared cache
//!   does not serve one origin's answer to another.
//!
//! A route without CORS costs one `Option` test.

use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, ORIGIN,
    VARY,
};
use http::{Method, Response, StatusCode};
use strait_shared::table::Cors;
use strait_shared::table::cors::AllowOrigin;

use crate::body::ResponseBody;

/// CORS granted to one request.
#[derive(Debug)]
pub(crate) struct Allowed {
    cors: Arc<Cors>,
    /// The request's `Origin`, echoed; `None`: `*`.
    origin: Option<HeaderValue>,
    preflight: bool,
}

/// The CORS a request gets on a route with `cors` (`None`: no CORS, or an origin the route
/// does not allow).
pub(crate) fn allowed(
    cors: Option<&Arc<Cors>>,
    method: &Method,
    headers: &HeaderMap,
) -> Option<Allowed> {
    let cors = cors?;
    let request_origin = headers.get(ORIGIN);
    let origin = match &cors.origins {
        AllowOrigin::Any => None,
        origins => {
            let origin = request_origin?;
            if !origins.allows(origin.as_bytes()) {
                return None;
            }
            Some(origin.clone())
        }
    };
    let preflight = method == Method::OPTIONS
        && request_origin.is_some()
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    Some(Allowed {
        cors: Arc::clone(cors),
        origin,
        preflight,
    })
}

impl Allowed {
    /// The proxy's own `204` when the request is a preflight.
    pub(crate) fn preflight(&self) -> Option<Response<ResponseBody>> {
        if !self.preflight {
            return None;
        }
        let mut response = Response::new(ResponseBody::text(""));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        self.apply(headers);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain charset=UTF-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        Some(response)
    }

    /// Sets the CORS headers on a response, replacing the upstream's.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        let cors = &*self.cors;
        match &self.origin {
            Some(origin) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                headers.append(VARY, HeaderValue::from_static("Origin"));
            }
            None => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
        }
        if cors.allow_credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, cors.allow_methods.clone());
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, cors.allow_headers.clone());
        if let Some(expose) = &cors.expose_headers {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
        headers.insert(ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
    }
}

/// Adds `allowed`'s headers to a response, if any.
pub(crate) fn respond<E>(
    allowed: Option<&Allowed>,
    response: Result<Response<ResponseBody>, E>,
) -> Result<Response<ResponseBody>, E> {
    response.map(|mut response| {
        if let Some(allowed) = allowed {
            allowed.apply(response.headers_mut());
        }
        response
    })
}
