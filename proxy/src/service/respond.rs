//! The edge where a failed request becomes the client's answer (STYLE item 13): one function,
//! for every [`ProxyError`] of every stage, which also logs the failure once.

use std::net::SocketAddr;

use http::Response;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue};

use crate::body::ResponseBody;
use crate::error::ProxyError;

/// The response for a failed request, logged once: client faults and unavailable backends (a
/// state the controller already reports) at debug, upstream failures at warn.
pub(super) fn respond(error: &ProxyError, peer: SocketAddr) -> Response<ResponseBody> {
    let status = error.status();
    match error {
        ProxyError::BadRequest(_)
        | ProxyError::ClientBody { .. }
        | ProxyError::ClientBodyTimeout { .. }
        | ProxyError::NoRoute
        | ProxyError::Forbidden(_)
        | ProxyError::Unauthorized { .. }
        | ProxyError::AuthDenied { .. }
        | ProxyError::SignIn { .. }
        | ProxyError::BodyTooLarge { .. }
        | ProxyError::Limited { .. }
        | ProxyError::Refused(_)
        | ProxyError::ClientCert(_)
        | ProxyError::BackendUnavailable(_) => {
            tracing::debug!(%peer, status = status.as_u16(), fault = error.fault().as_str(), %error, "request failed");
        }
        _ => {
            tracing::warn!(%peer, status = status.as_u16(), fault = error.fault().as_str(), %error, "request failed");
        }
    }
    let mut response = Response::new(ResponseBody::text(error.body()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let challenge = match error {
        ProxyError::Unauthorized { challenge } => Some(challenge),
        ProxyError::AuthDenied { challenge, .. } => challenge.as_ref(),
        _ => None,
    };
    if let Some(challenge) = challenge {
        response
            .headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, challenge.clone());
    }
    let location = match error {
        ProxyError::SignIn { location } => Some(location),
        ProxyError::ClientCert(refused) => refused.location(),
        _ => None,
    };
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location.clone());
    }
    if matches!(
        error,
        ProxyError::ClientBodyTimeout { .. }
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::UpstreamSendTimeout { .. }
    ) {
        // The rest of the body is never read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use hyper::body::Body;

    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    #[test]
    fn unavailable_backend_answers_503_with_the_reason_as_plain_text() {
        let response = respond(
            &ProxyError::BackendUnavailable("no ready endpoints"),
            addr(),
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.headers().len(), 1, "no server or other headers");
        assert_eq!(
            response.body().size_hint().exact(),
            Some("no ready endpoints".len() as u64)
        );
    }
}
