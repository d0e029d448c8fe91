//! gRPC through the proxy: the proxy's own errors as gRPC statuses, and `grpc-timeout`.
//!
//! A gRPC client reads the outcome of a call from `grpc-status`, not from the HTTP status: an
//! HTTP error it turns into a guess (the gRPC spec's "HTTP to gRPC status code mapping").
//! So a failed request that carries `content-type: application/grpc…` is answered HTTP 200
//! with a Trailers-Only response (`grpc-status`, `grpc-message` in the headers, no body) and
//! the status a gRPC client expects: no route → UNIMPLEMENTED, no endpoint or a failed
//! connection → UNAVAILABLE, a timeout → DEADLINE_EXCEEDED (docs/architecture.md, "Upstream
//! protocols"). ingress-nginx answers such requests with its HTML error pages.
//!
//! `grpc-timeout` (the client's deadline) caps the route's read timeout on GRPC and GRPCS
//! routes, so the proxy gives up when the client does; nginx ignores it.

use std::time::Duration;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use crate::body::ResponseBody;
use crate::error::ProxyError;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// gRPC status codes used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    Unknown = 2,
    DeadlineExceeded = 4,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// Whether a request is a gRPC call (`application/grpc`, `application/grpc+proto`, …).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= 16
            && v[..16].eq_ignore_ascii_case(b"application/grpc")
            && matches!(v.get(16), None | Some(b'+' | b';'))
    })
}

/// The gRPC status of a failure of the proxy's own. Kinds named here get what a gRPC client
/// expects of them; any other follows the gRPC spec's mapping of its HTTP status.
pub(crate) fn code(error: &ProxyError) -> Code {
    match error {
        ProxyError::NoRoute => Code::Unimplemented,
        ProxyError::UpstreamTimeout { .. } | ProxyError::UpstreamSendTimeout { .. } => {
            Code::DeadlineExceeded
        }
        ProxyError::BackendUnavailable(_)
        | ProxyError::UpstreamConnect { .. }
        | ProxyError::Upstream { .. }
        | ProxyError::UpstreamProtocol { .. } => Code::Unavailable,
        ProxyError::BodyTooLarge { .. } => Code::ResourceExhausted,
        other => of_status(other.status()),
    }
}

/// The gRPC spec's HTTP → gRPC mapping (a 302 to a sign-in page is UNAUTHENTICATED too).
fn of_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 | 302 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

fn message(code: Code) -> &'static str {
    match code {
        Code::Unknown => "request failed at the proxy",
        Code::DeadlineExceeded => "upstream timed out",
        Code::PermissionDenied => "forbidden",
        Code::ResourceExhausted => "request too large",
        Code::Unimplemented => "no route for this host and path",
        Code::Internal => "bad request",
        Code::Unavailable => "upstream unavailable",
        Code::Unauthenticated => "unauthorized",
    }
}

/// Turns the proxy's answer to a failed gRPC call (`response`, from
/// `service::respond`, which logged it) into a Trailers-Only gRPC response: HTTP 200,
/// `content-type: application/grpc`, the status and message, no body. Other headers of the
/// answer (a challenge, `Location`) stay.
pub(crate) fn trailers_only(
    error: &ProxyError,
    mut response: Response<ResponseBody>,
) -> Response<ResponseBody> {
    let code = code(error);
    *response.status_mut() = StatusCode::OK;
    *response.body_mut() = ResponseBody::text("");
    let headers = response.headers_mut();
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(GRPC_STATUS, HeaderValue::from(code as u16));
    headers.insert(GRPC_MESSAGE, HeaderValue::from_static(message(code)));
    response
}

/// The client's `grpc-timeout`: 1 to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`);
/// `None` when absent or malformed (the spec's "the server should treat it as infinite").
pub(crate) fn timeout(headers: &HeaderMap) -> Option<Duration> {
    parse_timeout(headers.get(GRPC_TIMEOUT)?.as_bytes())
}

fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n.checked_mul(3600)?),
        b'M' => Duration::from_secs(n.checked_mul(60)?),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gRPC spec's `grpc-timeout` grammar (PROTOCOL-HTTP2.md, "Requests").
    #[test]
    fn timeouts_follow_the_grammar() {
        assert_eq!(parse_timeout(b"1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(
            parse_timeout(b"99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_timeout(b"100u"), Some(Duration::from_micros(100)));
        assert_eq!(parse_timeout(b"123456789S"), None);
        assert_eq!(parse_timeout(b"S"), None);
        assert_eq!(parse_timeout(b"1s"), None);
        assert_eq!(parse_timeout(b"-1S"), None);
        assert_eq!(parse_timeout(b""), None);
    }

    #[test]
    fn grpc_content_types() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(v));
            is_grpc(&h)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("Application/GRPC;charset=utf-8"));
        assert!(!with("application/grpc-web"));
        assert!(!with("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    /// The statuses a gRPC client expects of the proxy's own failures (the gRPC spec's
    /// "HTTP to gRPC Status Code Mapping" for the rest).
    #[test]
    fn proxy_failures_map_to_grpc_statuses() {
        let addr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(code(&ProxyError::NoRoute), Code::Unimplemented);
        assert_eq!(
            code(&ProxyError::BackendUnavailable("x")),
            Code::Unavailable
        );
        assert_eq!(
            code(&ProxyError::UpstreamTimeout { addr }),
            Code::DeadlineExceeded
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let connect = ProxyError::UpstreamConnect {
            addr,
            source: refused,
        };
        assert_eq!(code(&connect), Code::Unavailable);
        assert_eq!(
            code(&ProxyError::Forbidden(addr.ip())),
            Code::PermissionDenied
        );
        assert_eq!(code(&ProxyError::BadRequest("x")), Code::Internal);
        let response = trailers_only(&ProxyError::NoRoute, Response::new(ResponseBody::text("x")));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[GRPC_STATUS], "12");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc");
    }
}
