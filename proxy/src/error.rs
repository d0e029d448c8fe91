//! Every way a request can fail, whose fault it is and the status it answers (STYLE item 13):
//! a bottom-layer type every stage returns. The one function that turns a failure into the
//! client's response is at the edge that answers, `service::respond`.

use std::io;
use std::net::SocketAddr;

use http::StatusCode;
use http::header::HeaderValue;
use strait_shared::Refusal;

mod upstream;

pub use upstream::UpstreamError;

/// Whose fault a failed request was; a bounded label for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The client sent something we cannot serve.
    Client,
    /// The backend is missing, unreachable, slow or broken.
    Upstream,
    /// Strait itself failed.
    Proxy,
    /// The route's configuration refuses the request (fail closed).
    Policy,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Proxy => "proxy",
            Self::Policy => "policy",
        }
    }
}

/// What went wrong with an upstream attempt; the `kind` label of `upstream_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UpstreamErrorKind {
    /// The connection was refused.
    Refused,
    /// The connect did not finish within the connect timeout.
    Timeout,
    /// No response headers within the response-header timeout.
    ResponseTimeout,
    /// A write to the upstream waited longer than the send timeout.
    SendTimeout,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// No route to the endpoint (host or network unreachable).
    Unreachable,
    /// The upstream spoke broken HTTP, or answered something a proxy cannot relay.
    Protocol,
    /// The TLS handshake with the upstream failed (a certificate that does not verify, no
    /// common version or protocol).
    Tls,
    /// The backend had no endpoint to try (the 503s).
    NoEndpoint,
    /// Anything else.
    Other,
}

impl UpstreamErrorKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub(crate) const ALL: [Self; 10] = [
        Self::Refused,
        Self::Timeout,
        Self::ResponseTimeout,
        Self::SendTimeout,
        Self::Reset,
        Self::Unreachable,
        Self::Protocol,
        Self::Tls,
        Self::NoEndpoint,
        Self::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::ResponseTimeout => "response_timeout",
            Self::SendTimeout => "send_timeout",
            Self::Reset => "reset",
            Self::Unreachable => "unreachable",
            Self::Protocol => "protocol",
            Self::Tls => "tls",
            Self::NoEndpoint => "no_endpoint",
            Self::Other => "other",
        }
    }

    /// The kind of a failed connect (or of a fresh connection that failed before the request
    /// was written).
    pub(crate) fn of_connect(error: &io::Error) -> Self {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return Self::Tls;
        }
        match error.kind() {
            io::ErrorKind::ConnectionRefused => Self::Refused,
            io::ErrorKind::TimedOut => Self::Timeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Self::Reset,
            io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable => Self::Unreachable,
            _ => Self::Other,
        }
    }

    /// The kind of an exchange that failed after the request may have been sent.
    fn of_exchange(error: &UpstreamError) -> Self {
        if error.is_invalid_header() {
            return Self::Protocol;
        }
        let io = match error {
            UpstreamError::Closed => return Self::Reset,
            UpstreamError::Http2(error)
                if error.is_incomplete_message() || error.is_closed() || error.is_canceled() =>
            {
                return Self::Reset;
            }
            UpstreamError::Http2(error) => {
                std::error::Error::source(error).and_then(|e| e.downcast_ref::<io::Error>())
            }
            UpstreamError::Io(error) => Some(error),
            _ => None,
        };
        match io {
            Some(io) => match Self::of_connect(io) {
                Self::Refused | Self::Timeout | Self::Unreachable => Self::Other,
                kind => kind,
            },
            None => Self::Other,
        }
    }
}

/// Which of a route's limits turned a request away; the `limit` label of
/// `limit_rejections_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `limit-rps`: requests per second per client address.
    Rps,
    /// `limit-rpm`: requests per minute per client address.
    Rpm,
    /// `limit-connections`: requests in flight per client address.
    Connections,
}

impl LimitKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [Self; 3] = [Self::Rps, Self::Rpm, Self::Connections];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rps => "rps",
            Self::Rpm => "rpm",
            Self::Connections => "connections",
        }
    }
}

/// Why an external-auth check gave no verdict: the request answers 500 and is not forwarded
/// (fail closed, as ingress-nginx's `auth_request` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No connection or no answer within the connect or response timeout.
    #[error("the auth service did not answer in time")]
    Timeout,
    /// The connection was refused, reset or failed (TLS included).
    #[error("the auth service could not be reached")]
    Connect,
    /// The auth URL's host name did not resolve.
    #[error("the auth URL's host did not resolve")]
    Resolve,
    /// The service answered something other than 2xx, 401 or 403.
    #[error("the auth service answered {0}")]
    Status(u16),
    /// The exchange broke after the subrequest was sent.
    #[error("the exchange with the auth service failed")]
    Exchange,
    /// A `$host` auth URL matched no usable route (none, refused, no endpoints, or one that
    /// is itself behind external auth).
    #[error("the auth URL's host routes to no usable backend")]
    Route,
    /// The auth URL made from the request is not a valid request target, or a subrequest
    /// header made from it (`X-Original-URL`, an `auth-proxy-set-headers` value with
    /// variables) is not valid header text.
    #[error("the auth subrequest made from the request is invalid")]
    Target,
}

/// Why the proxy answered a request itself instead of relaying the upstream's response.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// 400: the request cannot be routed as sent (no `Host`, several `Host`s, …).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// 400: the client's request body failed while it was relayed (the client went away or
    /// broke the framing); the client will rarely see this answer.
    #[error("client request body failed: {source}")]
    ClientBody {
        #[source]
        source: hyper::Error,
    },
    /// 408: the client paused longer than the client body timeout while its request body was
    /// relayed; the upstream request was aborted and the connection is closed.
    #[error("client sent no request body data for {after:?}")]
    ClientBodyTimeout { after: std::time::Duration },
    /// 404: no rule and no default backend matches the host and path.
    #[error("no route for the request's host and path")]
    NoRoute,
    /// 403: the route's source-address lists refuse the client (the address named).
    #[error("client {0} refused by the route's source-address lists")]
    Forbidden(std::net::IpAddr),
    /// 401: the route has basic auth and the request has no matching user and password; the
    /// answer carries the route's `WWW-Authenticate` challenge.
    #[error("basic auth: no valid credentials")]
    Unauthorized { challenge: HeaderValue },
    /// 401 or 403: the route's external auth service refused the request; a 401 carries the
    /// service's `WWW-Authenticate`, if it sent one.
    #[error("external auth refused the request ({status})")]
    AuthDenied {
        status: StatusCode,
        challenge: Option<HeaderValue>,
    },
    /// 302: a 401 of a route with `auth-signin` sends the client to the sign-in URL.
    #[error("not signed in: redirected to the sign-in URL")]
    SignIn { location: HeaderValue },
    /// 500: the route's external auth gave no verdict; nothing is forwarded.
    #[error("external auth failed: {0}")]
    AuthFailed(AuthFailure),
    /// 413: the request body is larger than the route's limit (declared by `Content-Length`,
    /// or counted as it streamed); the connection is closed.
    #[error("request body over the route's limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// `--limit-req-status-code` or `--limit-conn-status-code` (503 by default, as nginx's
    /// `limit_req_status` / `limit_conn_status`): the client is over one of the route's
    /// limits. Nothing was sent upstream.
    #[error("client over the route's {} limit", .limit.as_str())]
    Limited {
        limit: LimitKind,
        status: StatusCode,
    },
    /// 503: the matched backend cannot serve; the reason is the response body.
    #[error("backend unavailable: {0}")]
    BackendUnavailable(&'static str),
    /// 503: the route is refused: its Ingress asks for something Strait will not serve open
    /// (a security annotation it does not enforce, a snippet). The reason is the body.
    #[error("route refused: {}", .0.as_str())]
    Refused(Refusal),
    /// 502: no connection to the upstream (after any retries).
    #[error("connecting to upstream {addr} failed: {source}")]
    UpstreamConnect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// 504: the upstream sent no response headers within the response-header timeout.
    #[error("upstream {addr} sent no response headers in time")]
    UpstreamTimeout { addr: SocketAddr },
    /// 504: a write of the request to the upstream waited longer than the send timeout (the
    /// upstream stopped reading); the rest of the client's body is never read.
    #[error("upstream {addr} read nothing of the request for {after:?}")]
    UpstreamSendTimeout {
        addr: SocketAddr,
        after: std::time::Duration,
    },
    /// 502: the upstream connection failed once the request may have been sent.
    #[error("upstream {addr} failed: {source}")]
    Upstream {
        addr: SocketAddr,
        #[source]
        source: UpstreamError,
    },
    /// 400, 403, 421 or a 302 to the error page: the route's client-certificate auth refused
    /// the request (see `policy::client_cert`).
    #[error("client certificate: {}", .0.as_str())]
    ClientCert(ClientCertRefused),
    /// 502: the upstream answered something a proxy cannot relay.
    #[error("upstream {addr} sent an invalid response: {detail}")]
    UpstreamProtocol {
        addr: SocketAddr,
        detail: &'static str,
    },
}

impl ProxyError {
    pub fn fault(&self) -> Fault {
        match self {
            Self::BadRequest(_)
            | Self::ClientBody { .. }
            | Self::ClientBodyTimeout { .. }
            | Self::BodyTooLarge { .. }
            | Self::NoRoute => Fault::Client,
            Self::Refused(_)
            | Self::Forbidden(_)
            | Self::Unauthorized { .. }
            | Self::Limited { .. }
            | Self::AuthDenied { .. }
            | Self::SignIn { .. }
            | Self::ClientCert(_) => Fault::Policy,
            Self::AuthFailed(_)
            | Self::BackendUnavailable(_)
            | Self::UpstreamConnect { .. }
            | Self::UpstreamTimeout { .. }
            | Self::UpstreamSendTimeout { .. }
            | Self::Upstream { .. }
            | Self::UpstreamProtocol { .. } => Fault::Upstream,
        }
    }

    /// The `upstream_errors_total` kind of this failure; `None` when the upstream is not to
    /// blame (the client's fault, or no route).
    pub(crate) fn upstream_error(&self) -> Option<UpstreamErrorKind> {
        match self {
            Self::BadRequest(_)
            | Self::ClientBody { .. }
            | Self::ClientBodyTimeout { .. }
            | Self::NoRoute
            | Self::Forbidden(_)
            | Self::Unauthorized { .. }
            | Self::AuthDenied { .. }
            | Self::SignIn { .. }
            | Self::AuthFailed(_)
            | Self::BodyTooLarge { .. }
            | Self::Limited { .. }
            | Self::Refused(_)
            | Self::ClientCert(_) => None,
            Self::BackendUnavailable(_) => Some(UpstreamErrorKind::NoEndpoint),
            Self::UpstreamConnect { source, .. } => Some(UpstreamErrorKind::of_connect(source)),
            Self::UpstreamTimeout { .. } => Some(UpstreamErrorKind::ResponseTimeout),
            Self::UpstreamSendTimeout { .. } => Some(UpstreamErrorKind::SendTimeout),
            Self::Upstream { source, .. } => Some(UpstreamErrorKind::of_exchange(source)),
            Self::UpstreamProtocol { .. } => Some(UpstreamErrorKind::Protocol),
        }
    }

    /// The upstream address the failure happened at, when one was tried.
    pub(crate) fn upstream_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::UpstreamConnect { addr, .. }
            | Self::UpstreamTimeout { addr }
            | Self::UpstreamSendTimeout { addr, .. }
            | Self::Upstream { addr, .. }
            | Self::UpstreamProtocol { addr, .. } => Some(*addr),
            Self::BadRequest(_)
            | Self::ClientBody { .. }
            | Self::ClientBodyTimeout { .. }
            | Self::NoRoute
            | Self::Forbidden(_)
            | Self::Unauthorized { .. }
            | Self::AuthDenied { .. }
            | Self::SignIn { .. }
            | Self::AuthFailed(_)
            | Self::BodyTooLarge { .. }
            | Self::Limited { .. }
            | Self::Refused(_)
            | Self::ClientCert(_)
            | Self::BackendUnavailable(_) => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::ClientBody { .. } => StatusCode::BAD_REQUEST,
            Self::ClientBodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::AuthDenied { status, .. } => *status,
            Self::SignIn { .. } => StatusCode::FOUND,
            Self::AuthFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Limited { status, .. } => *status,
            Self::ClientCert(refused) => refused.status(),
            Self::BackendUnavailable(_) | Self::Refused(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout { .. } | Self::UpstreamSendTimeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::UpstreamConnect { .. }
            | Self::Upstream { .. }
            | Self::UpstreamProtocol { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The short plain-text body of the response.
    pub(crate) fn body(&self) -> &'static str {
        match self {
            Self::BadRequest(detail) => detail,
            Self::ClientBody { .. } => "request body failed",
            Self::ClientBodyTimeout { .. } => "request body timed out",
            Self::NoRoute => "no route for this host and path",
            Self::Forbidden(_) => "forbidden",
            Self::Unauthorized { .. } => "unauthorized",
            Self::AuthDenied { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                "unauthorized"
            }
            Self::AuthDenied { .. } => "forbidden",
            Self::SignIn { .. } => "",
            Self::AuthFailed(_) => "external auth failed",
            Self::BodyTooLarge { .. } => "request body too large",
            Self::Limited {
                limit: LimitKind::Connections,
                ..
            } => "too many requests in flight from this client",
            Self::Limited { .. } => "request rate limit exceeded",
            Self::BackendUnavailable(reason) => reason,
            Self::Refused(refusal) => refusal.reason(),
            Self::ClientCert(refused) => refused.body(),
            Self::UpstreamConnect { .. } => "upstream connect failed",
            Self::UpstreamTimeout { .. } | Self::UpstreamSendTimeout { .. } => "upstream timed out",
            Self::Upstream { .. } | Self::UpstreamProtocol { .. } => "bad gateway",
        }
    }
}

/// Why a request of a route with client-certificate auth was not let through (see
/// `policy::client_cert` for the statuses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCertRefused {
    /// 421: the request names a host with client auth over another host's handshake.
    Misdirected,
    /// 400 "No required SSL certificate was sent" (nginx's 496).
    Missing,
    /// 400 "The SSL certificate error" (nginx's 495).
    Failed,
    /// 302 to `auth-tls-error-page` instead of either 400.
    ErrorPage(HeaderValue),
    /// 403: the subject DN does not match `auth-tls-match-cn`.
    CommonName,
}

impl ClientCertRefused {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            Self::Missing | Self::Failed => StatusCode::BAD_REQUEST,
            Self::ErrorPage(_) => StatusCode::FOUND,
            Self::CommonName => StatusCode::FORBIDDEN,
        }
    }

    /// The response body: nginx's texts for its 495, 496 and the template's 403.
    pub(crate) fn body(&self) -> &'static str {
        match self {
            Self::Misdirected => "misdirected request: this host needs its own TLS connection",
            Self::Missing => "No required SSL certificate was sent",
            Self::Failed => "The SSL certificate error",
            Self::ErrorPage(_) => "",
            Self::CommonName => "client certificate unauthorized",
        }
    }

    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Self::Misdirected => "misdirected",
            Self::Missing => "certificate missing",
            Self::Failed => "certificate failed verification",
            Self::ErrorPage(_) => "certificate missing or failed (error page)",
            Self::CommonName => "certificate subject does not match",
        }
    }

    /// The `Location` of an error-page redirect.
    pub(crate) fn location(&self) -> Option<&HeaderValue> {
        match self {
            Self::ErrorPage(location) => Some(location),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
