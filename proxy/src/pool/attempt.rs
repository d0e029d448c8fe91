//! One attempt's moving parts: the request's HTTP/2 form, the response-header wait, and whose
//! fault a failed HTTP/2 exchange was.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http::Request;
use tokio::sync::oneshot;

use super::send_timer;
use crate::error::ProxyError;
use crate::upload::{RequestBody, RequestBodyError};

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
        ProxyError::Upstream {
            addr,
            source: source.into(),
        }
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
