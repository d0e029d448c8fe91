//! One attempt's moving parts: the response future of either HTTP version, the request's
//! HTTP/2 form, the response-header wait, and whose fault a failure was.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use tokio::sync::oneshot;

use super::{Link, send_timer};
use crate::body::{RequestBody, RequestBodyError};
use crate::error::ProxyError;

/// The response future of an HTTP/1.1 or an HTTP/2 request, each pinned in the caller's
/// frame (one of them is there): no box per request.
pub(super) struct Either<'a, A, B> {
    pub(super) h1: Pin<&'a mut Option<A>>,
    pub(super) h2: Pin<&'a mut Option<B>>,
}

impl<A: Future, B: Future<Output = A::Output>> Future for Either<'_, A, B> {
    type Output = A::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<A::Output> {
        let this = self.get_mut();
        if let Some(h1) = this.h1.as_mut().as_pin_mut() {
            return h1.poll(cx);
        }
        match this.h2.as_mut().as_pin_mut() {
            Some(h2) => h2.poll(cx),
            // Not reached: `attempt` always sets one.
            None => Poll::Pending,
        }
    }
}

/// A request for an HTTP/2 connection: an absolute URI, so that h2 sends `:scheme` and
/// `:authority` (from `Host`, which is then dropped: HTTP/2 carries it as `:authority`). A
/// `Host` that is not a valid authority stays a header, with `:scheme` alone.
pub(super) fn prepare_h2(request: &mut Request<RequestBody>, tls: bool) {
    let Some(host) = request.headers().get(http::header::HOST) else {
        return;
    };
    let Ok(authority) = http::uri::Authority::try_from(host.as_bytes()) else {
        return;
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(if tls {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    parts.authority = Some(authority);
    parts.path_and_query = request.uri().path_and_query().cloned();
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
        request.headers_mut().remove(http::header::HOST);
    }
}

/// The read and send timeouts of one attempt.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) read: Duration,
    pub(super) send: Duration,
}

/// The response future of one request, with the connection it travels on: each poll moves the
/// connection's bytes first, then looks for the response.
pub(super) struct Exchange<'a, F> {
    pub(super) response: Pin<&'a mut F>,
    pub(super) link: &'a mut Link,
}

impl<F: Future> Future for Exchange<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.link.drive(cx);
        this.response.as_mut().poll(cx)
    }
}

/// Whose fault a failed exchange was: hyper reports an error of the request body — the client's
/// body, relayed — as a "user" error; anything else is the upstream's.
pub(super) fn failed(addr: SocketAddr, source: hyper::Error) -> ProxyError {
    let cause = std::error::Error::source(&source);
    let body_error = cause.and_then(|e| e.downcast_ref());
    if let Some(RequestBodyError::Timeout(after)) = body_error {
        ProxyError::ClientBodyTimeout { after: *after }
    } else if let Some(RequestBodyError::TooLarge(limit)) = body_error {
        ProxyError::BodyTooLarge { limit: *limit }
    } else if source.is_user() {
        ProxyError::ClientBody { source }
    } else if let Some(after) = send_timer::is_send_timeout(&source) {
        ProxyError::UpstreamSendTimeout { addr, after }
    } else {
        ProxyError::Upstream { addr, source }
    }
}

/// Waits for response headers: without limit while the request body is still being sent (a
/// slow upload is not a slow upstream), then at most `limit`.
pub(super) async fn headers_within<F: Future>(
    response: F,
    body_sent: Option<oneshot::Receiver<()>>,
    limit: Duration,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::pin!(response);
    if let Some(body_sent) = body_sent {
        tokio::select! {
            output = &mut response => return Ok(output),
            _ = body_sent => {}
        }
    }
    tokio::time::timeout(limit, response).await
}
