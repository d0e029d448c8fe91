//! Error pages (docs/architecture.md, "Error pages"): a route's listed statuses answered by
//! its error backend, as ingress-nginx's `error_page <code> = @custom_…` locations do
//! (nginx.tmpl `CUSTOM_ERRORS`).
//!
//! - The upstream's response with a listed status (unless `disable-proxy-intercept-errors`) and
//!   the proxy's own error with a listed status (its 502, 503, 504, 413…) are replaced by the
//!   error backend's answer, whose status, headers and body the client gets (the `=` of
//!   `error_page`). The intercepted body is read only as far as it already arrived, so its
//!   connection goes back to the pool when it was complete and is closed otherwise.
//! - The error request: the client's method, target `/` (the location's `rewrite (.*) /
//!   break`), no body, and the headers the location sets: `X-Code`, `X-Format` (the client's
//!   `Accept`), `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`,
//!   `X-Service-Port`, `X-Request-ID`, `X-Forwarded-For` (the peer) and `Host` (the client's).
//! - A route whose backend has no endpoint is served by its `default-backend` instead, sent as
//!   the client's request with `X-Code: 503` and the naming headers (ingress-nginx's
//!   `custom-default-backend-` upstream).
//!
//! A route without error pages never reaches this module: one `Option` check in the service.

use std::sync::Arc;

use http::header::{ACCEPT, HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use strait_shared::table::error_pages::ErrorPages;
use strait_shared::{Backend, Endpoints};

use crate::body::ResponseBody;
use crate::error::ProxyError;
use crate::forwarding::{X_FORWARDED_FOR, X_REQUEST_ID};
use crate::pool::Sent;
use crate::proxy::ConnCtx;
use crate::table::WorkerTable;
use crate::upload::RequestBody;
use crate::{headers, upstream};

const X_CODE: HeaderName = HeaderName::from_static("x-code");
const X_FORMAT: HeaderName = HeaderName::from_static("x-format");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_NAMESPACE: HeaderName = HeaderName::from_static("x-namespace");
const X_INGRESS_NAME: HeaderName = HeaderName::from_static("x-ingress-name");
const X_SERVICE_NAME: HeaderName = HeaderName::from_static("x-service-name");
const X_SERVICE_PORT: HeaderName = HeaderName::from_static("x-service-port");

/// What an error request needs of the client's request, kept from the moment the route is
/// known (its parts are reference-counted: no copy of the bytes).
pub(crate) struct Pending {
    pages: Arc<ErrorPages>,
    table: Arc<WorkerTable>,
    method: Method,
    uri: Uri,
    host: HeaderValue,
    accept: Option<HeaderValue>,
    request_id: HeaderValue,
}

impl Pending {
    pub(crate) fn new(
        pages: &Arc<ErrorPages>,
        table: &Arc<WorkerTable>,
        request: &Request<Incoming>,
        host: &HeaderValue,
        request_id: &HeaderValue,
    ) -> Self {
        Self {
            pages: Arc::clone(pages),
            table: Arc::clone(table),
            method: request.method().clone(),
            uri: request.uri().clone(),
            host: host.clone(),
            accept: request.headers().get(ACCEPT).cloned(),
            request_id: request_id.clone(),
        }
    }

    /// Whether the proxy's own answer to `error` goes to the error backend: a listed status,
    /// except a refused route (Strait's fail-closed answer says why) and a client that broke
    /// or abandoned its body (no one is left to read a page).
    pub(crate) fn catches(&self, error: &ProxyError) -> bool {
        !matches!(
            error,
            ProxyError::Refused(_)
                | ProxyError::ClientBody { .. }
                | ProxyError::ClientBodyTimeout { .. }
        ) && self.pages.codes.contains(error.status().as_u16())
            && self.backend().is_some()
    }

    /// Whether the upstream's response with `status` is replaced (and something can answer).
    pub(crate) fn intercepts(&self, status: StatusCode) -> bool {
        self.pages.intercepts(status.as_u16()) && self.backend().is_some()
    }

    /// The error backend's endpoints: the Ingress's own when it has one ready, else the
    /// global one's.
    fn backend(&self) -> Option<&Endpoints> {
        let ready = |id| match &self.table.backend(id).state {
            Ok(endpoints) if !endpoints.is_empty() => Some(endpoints),
            _ => None,
        };
        self.pages
            .own
            .and_then(ready)
            .or_else(|| self.pages.global.and_then(ready))
    }

    /// The error backend's answer for `code`; `Err` when it could not be had (the caller
    /// answers that failure instead).
    pub(crate) async fn answer(
        &self,
        ctx: &ConnCtx,
        code: StatusCode,
    ) -> Result<Response<ResponseBody>, ProxyError> {
        let endpoints = self
            .backend()
            .ok_or(ProxyError::BackendUnavailable(upstream::NO_ENDPOINTS))?;
        let sent =
            upstream::send_to(&ctx.proxy, endpoints, None, self.request(ctx, code), None).await?;
        let Sent { mut response, link } = sent;
        headers::strip_hop_by_hop(response.headers_mut(), false);
        *response.version_mut() = Version::HTTP_11;
        let timeout = ctx.proxy.config.response_header_timeout;
        Ok(
            response
                .map(|body| ResponseBody::upstream(body, Some(link)).with_read_timeout(timeout)),
        )
    }

    fn request(&self, ctx: &ConnCtx, code: StatusCode) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::empty());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = Uri::from_static("/");
        *request.version_mut() = Version::HTTP_11;
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(X_CODE, HeaderValue::from(code.as_u16()));
        if let Some(accept) = &self.accept {
            headers.insert(X_FORMAT, accept.clone());
        }
        let target = self.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Ok(uri) = HeaderValue::from_str(target) {
            headers.insert(X_ORIGINAL_URI, uri);
        }
        name_route(headers, &self.pages);
        headers.insert(X_REQUEST_ID, self.request_id.clone());
        let peer = ctx.peer.ip().to_canonical().to_string();
        if let Ok(peer) = HeaderValue::from_str(&peer) {
            headers.insert(X_FORWARDED_FOR, peer);
        }
        request
    }
}

/// The backend that serves a route whose own backend has no endpoint: its `default-backend`,
/// when that has one (ingress-nginx switches only then).
pub(crate) fn stand_in<'t>(pages: &ErrorPages, table: &'t WorkerTable) -> Option<&'t Backend> {
    let backend = table.backend(pages.own.filter(|_| pages.unavailable)?);
    matches!(&backend.state, Ok(endpoints) if !endpoints.is_empty()).then_some(backend)
}

/// The headers of a request the stand-in serves (nginx.tmpl, the location's
/// `custom-default-backend-` block): `X-Code: 503`, `X-Format` and the route's names. The
/// request's own `X-Request-ID` is already set.
pub(crate) fn mark_stand_in(headers: &mut HeaderMap, pages: &ErrorPages) {
    headers.insert(X_CODE, HeaderValue::from_static("503"));
    if let Some(accept) = headers.get(ACCEPT).cloned() {
        headers.insert(X_FORMAT, accept);
    }
    name_route(headers, pages);
}

/// `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`, `X-Service-Port`; nginx sends no header
/// whose value is empty.
fn name_route(headers: &mut HeaderMap, pages: &ErrorPages) {
    let about = &pages.about;
    for (name, value) in [
        (X_NAMESPACE, &about.namespace),
        (X_INGRESS_NAME, &about.ingress),
        (X_SERVICE_NAME, &about.service),
        (X_SERVICE_PORT, &about.port),
    ] {
        if !value.is_empty() {
            headers.insert(name, value.clone());
        }
    }
}
