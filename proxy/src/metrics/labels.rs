//! Label values and label sets of the data-path metrics: small enums and resource names,
//! never free text (STYLE item 16).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::config::Scheme;
use crate::error::UpstreamErrorKind;

/// A resource name as a label value: a namespace, an Ingress or a Service name (never a pod
/// address or a path). Shared, so a label set costs reference counts, not copies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Name(Arc<str>);

impl Name {
    pub(crate) fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl EncodeLabelValue for Name {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        encoder.write_str(&self.0)
    }
}

/// The request method, with the uncommon and extension methods folded into `other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MethodLabel {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Connect,
    Other,
}

impl MethodLabel {
    /// How many values there are.
    pub(crate) const COUNT: usize = 9;

    pub(crate) fn of(method: &http::Method) -> Self {
        match method.as_str() {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "PATCH" => Self::Patch,
            "OPTIONS" => Self::Options,
            "CONNECT" => Self::Connect,
            _ => Self::Other,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Patch => "PATCH",
            Self::Options => "OPTIONS",
            Self::Connect => "CONNECT",
            Self::Other => "other",
        }
    }
}

/// The class of a response status: `1xx` … `5xx`. (hyper accepts codes up to 999; anything
/// from 500 up counts as `5xx`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StatusClass {
    Informational,
    Success,
    Redirection,
    ClientError,
    ServerError,
}

impl StatusClass {
    /// How many values there are.
    pub(crate) const COUNT: usize = 5;

    pub(crate) fn of(status: u16) -> Self {
        match status {
            ..200 => Self::Informational,
            200..300 => Self::Success,
            300..400 => Self::Redirection,
            400..500 => Self::ClientError,
            500.. => Self::ServerError,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "1xx",
            Self::Success => "2xx",
            Self::Redirection => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
        }
    }
}

/// Why a TLS handshake failed, as far as rustls lets us tell without its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TlsFailure {
    /// Not done within the handshake timeout.
    Timeout,
    /// The client closed or reset the connection mid-handshake.
    Closed,
    /// The client sent a fatal alert (typically: it refused our certificate).
    Alert,
    /// No protocol version, cipher suite or other parameter in common.
    Incompatible,
    /// Not TLS, or TLS broken: garbage, malformed or out-of-order messages.
    Protocol,
    /// Anything else.
    Other,
}

impl TlsFailure {
    pub(crate) const ALL: [Self; 6] = [
        Self::Timeout,
        Self::Closed,
        Self::Alert,
        Self::Incompatible,
        Self::Protocol,
        Self::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Closed => "closed",
            Self::Alert => "alert",
            Self::Incompatible => "incompatible",
            Self::Protocol => "protocol",
            Self::Other => "other",
        }
    }
}

/// Why a connection's PROXY protocol header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ProxyHeaderRejection {
    /// Missing or malformed.
    Invalid,
    /// Not complete within the handshake timeout.
    Timeout,
}

impl ProxyHeaderRejection {
    pub(crate) const ALL: [Self; 2] = [Self::Invalid, Self::Timeout];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Timeout => "timeout",
        }
    }
}

macro_rules! label_value_from_as_str {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}

label_value_from_as_str!(
    MethodLabel,
    StatusClass,
    TlsFailure,
    ProxyHeaderRejection,
    UpstreamErrorKind,
    Scheme
);

/// `requests_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub service: Name,
    pub method: MethodLabel,
    pub status: StatusClass,
}

/// `request_duration_seconds`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct DurationLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub status: StatusClass,
}

/// `request_bytes_total`, `response_bytes_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct IngressLabels {
    pub namespace: Name,
    pub ingress: Name,
}

/// `upstream_response_header_duration_seconds`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ServiceLabels {
    pub namespace: Name,
    pub service: Name,
}

/// `upstream_errors_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct UpstreamErrorLabels {
    pub kind: UpstreamErrorKind,
}

/// The per-listener connection and handshake counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ListenerLabels {
    pub listener: Scheme,
}

/// `tls_handshake_failures_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TlsFailureLabels {
    pub listener: Scheme,
    pub reason: TlsFailure,
}

/// `proxy_protocol_rejected_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ProxyRejectLabels {
    pub listener: Scheme,
    pub reason: ProxyHeaderRejection,
}
