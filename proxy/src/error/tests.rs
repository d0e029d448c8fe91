use super::*;

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1))
}

#[test]
fn each_error_maps_to_its_status_and_fault() {
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    let cases = [
        (ProxyError::BadRequest("x"), 400, Fault::Client),
        (ProxyError::NoRoute, 404, Fault::Client),
        (ProxyError::Forbidden(addr().ip()), 403, Fault::Policy),
        (
            ProxyError::Unauthorized {
                challenge: HeaderValue::from_static("Basic realm=\"r\""),
            },
            401,
            Fault::Policy,
        ),
        (ProxyError::BodyTooLarge { limit: 1 }, 413, Fault::Client),
        (
            ProxyError::Limited {
                limit: LimitKind::Rps,
                status: StatusCode::SERVICE_UNAVAILABLE,
            },
            503,
            Fault::Policy,
        ),
        (
            ProxyError::Limited {
                limit: LimitKind::Connections,
                status: StatusCode::TOO_MANY_REQUESTS,
            },
            429,
            Fault::Policy,
        ),
        (
            ProxyError::AuthDenied {
                status: StatusCode::FORBIDDEN,
                challenge: None,
            },
            403,
            Fault::Policy,
        ),
        (
            ProxyError::AuthFailed(AuthFailure::Timeout),
            500,
            Fault::Upstream,
        ),
        (ProxyError::BackendUnavailable("r"), 503, Fault::Upstream),
        (
            ProxyError::UpstreamConnect {
                addr: addr(),
                source: refused,
            },
            502,
            Fault::Upstream,
        ),
        (
            ProxyError::UpstreamTimeout { addr: addr() },
            504,
            Fault::Upstream,
        ),
        (
            ProxyError::UpstreamSendTimeout {
                addr: addr(),
                after: std::time::Duration::from_secs(1),
            },
            504,
            Fault::Upstream,
        ),
    ];
    for (error, status, fault) in cases {
        assert_eq!(error.status().as_u16(), status, "{error}");
        assert_eq!(error.fault(), fault, "{error}");
    }
}

#[test]
fn upstream_failures_have_a_kind_and_client_faults_none() {
    let connect = |kind: io::ErrorKind| ProxyError::UpstreamConnect {
        addr: addr(),
        source: io::Error::from(kind),
    };
    let cases = [
        (ProxyError::BadRequest("x"), None),
        (ProxyError::NoRoute, None),
        (
            ProxyError::BackendUnavailable("r"),
            Some(UpstreamErrorKind::NoEndpoint),
        ),
        (
            connect(io::ErrorKind::ConnectionRefused),
            Some(UpstreamErrorKind::Refused),
        ),
        (
            connect(io::ErrorKind::TimedOut),
            Some(UpstreamErrorKind::Timeout),
        ),
        (
            connect(io::ErrorKind::ConnectionReset),
            Some(UpstreamErrorKind::Reset),
        ),
        (
            connect(io::ErrorKind::HostUnreachable),
            Some(UpstreamErrorKind::Unreachable),
        ),
        (
            connect(io::ErrorKind::PermissionDenied),
            Some(UpstreamErrorKind::Other),
        ),
        (
            ProxyError::UpstreamTimeout { addr: addr() },
            Some(UpstreamErrorKind::ResponseTimeout),
        ),
        (
            ProxyError::UpstreamSendTimeout {
                addr: addr(),
                after: std::time::Duration::from_secs(1),
            },
            Some(UpstreamErrorKind::SendTimeout),
        ),
        (
            ProxyError::UpstreamProtocol {
                addr: addr(),
                detail: "d",
            },
            Some(UpstreamErrorKind::Protocol),
        ),
    ];
    for (error, kind) in cases {
        assert_eq!(error.upstream_error(), kind, "{error}");
    }
}

#[test]
fn upstream_error_kinds_index_their_list() {
    for (i, kind) in UpstreamErrorKind::ALL.iter().enumerate() {
        assert_eq!(*kind as usize, i, "{kind:?}");
    }
    for (i, kind) in LimitKind::ALL.iter().enumerate() {
        assert_eq!(*kind as usize, i, "{kind:?}");
    }
}
