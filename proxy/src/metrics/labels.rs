//! Label values and label sets of the data-path metrics: small enums and resource names,
//! never free text (STYLE item 16).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use prometheus_client::encoding::{
    EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};

use crate::config::Scheme;
use crate::error::{LimitKind, UpstreamErrorKind};

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

/// A response status as a label value: the exact code for the codes ingress-nginx users
/// graph most ([`StatusLabel::CODES`]), else `other_1xx` … `other_5xx` for the rest of its
/// class (hyper accepts codes up to 999; anything from 600 up counts as `other_5xx`). So the
/// label has at most `CODES.len() + 5` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StatusLabel(u8);

impl StatusLabel {
    /// The codes that get a value of their own.
    pub(crate) const CODES: [u16; 23] = [
        101, 200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 413, 429, 431,
        499, 500, 502, 503, 504,
    ];
    const OTHER: [&'static str; 5] = [
        "other_1xx",
        "other_2xx",
        "other_3xx",
        "other_4xx",
        "other_5xx",
    ];
    const TEXT: [&'static str; 23] = [
        "101", "200", "201", "204", "301", "302", "304", "307", "308", "400", "401", "403", "404",
        "405", "408", "413", "429", "431", "499", "500", "502", "503", "504",
    ];
    /// How many values there are.
    pub(crate) const COUNT: usize = Self::CODES.len() + Self::OTHER.len();

    pub(crate) fn of(status: u16) -> Self {
        match Self::CODES.binary_search(&status) {
            // At most 23: fits a u8.
            Ok(i) => Self(i as u8),
            Err(_) => {
                let class = match status {
                    ..200 => 0,
                    200..300 => 1,
                    300..400 => 2,
                    400..500 => 3,
                    500.. => 4,
                };
                Self((Self::CODES.len() + class) as u8)
            }
        }
    }

    /// The index of this value, below [`Self::COUNT`].
    pub(crate) fn index(self) -> usize {
        usize::from(self.0)
    }

    pub(crate) fn as_str(self) -> &'static str {
        let i = self.index();
        match Self::TEXT.get(i) {
            Some(text) => text,
            None => Self::OTHER[i - Self::CODES.len()],
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

/// How an external-auth check ended: `strait_auth_requests_total`'s `result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AuthResult {
    /// The auth service answered 2xx.
    Allowed,
    /// The auth service answered 401 or 403.
    Denied,
    /// Answered from the worker's auth cache (either way).
    Cached,
    /// No usable answer: the service was unreachable or answered another status (500).
    Error,
    /// No answer within the connect or response timeout (500).
    Timeout,
}

impl AuthResult {
    pub(crate) const ALL: [Self; 5] = [
        Self::Allowed,
        Self::Denied,
        Self::Cached,
        Self::Error,
        Self::Timeout,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Cached => "cached",
            Self::Error => "error",
            Self::Timeout => "timeout",
        }
    }
}

/// How a passthrough connection ended up (`passthrough_connections_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PassthroughResult {
    /// Spliced to a backend endpoint.
    Spliced,
    /// No endpoint of the host's backend accepted the connection (or none was ready).
    Unreachable,
    /// The backend took the connection but the buffered ClientHello could not be replayed.
    Failed,
}

impl PassthroughResult {
    pub(crate) const ALL: [Self; 3] = [Self::Spliced, Self::Unreachable, Self::Failed];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Spliced => "spliced",
            Self::Unreachable => "unreachable",
            Self::Failed => "failed",
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
    PassthroughResult,
    MethodLabel,
    StatusLabel,
    TlsFailure,
    ProxyHeaderRejection,
    UpstreamErrorKind,
    LimitKind,
    Scheme,
    AuthResult
);

/// Writes `key="value"` unless the value is empty: the names of a request that matched no
/// rule are left out rather than written empty (Prometheus reads a missing label as an empty
/// one, so queries are the same, and the exposition has no empty-label series).
fn name_label(encoder: &mut LabelSetEncoder, key: &'static str, value: &Name) -> fmt::Result {
    if value.as_str().is_empty() {
        return Ok(());
    }
    (key, value.as_str()).encode(encoder.encode_label())
}

/// `requests_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RequestLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub service: Name,
    pub path: Name,
    pub method: MethodLabel,
    pub status: StatusLabel,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        name_label(encoder, "namespace", &self.namespace)?;
        name_label(encoder, "ingress", &self.ingress)?;
        name_label(encoder, "service", &self.service)?;
        name_label(encoder, "path", &self.path)?;
        ("method", self.method).encode(encoder.encode_label())?;
        ("status", self.status).encode(encoder.encode_label())
    }
}

/// `request_duration_seconds`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DurationLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub path: Name,
    pub status: StatusLabel,
}

impl EncodeLabelSet for DurationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        name_label(encoder, "namespace", &self.namespace)?;
        name_label(encoder, "ingress", &self.ingress)?;
        name_label(encoder, "path", &self.path)?;
        ("status", self.status).encode(encoder.encode_label())
    }
}

/// `request_bytes_total`, `response_bytes_total`, `response_size_bytes`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IngressLabels {
    pub namespace: Name,
    pub ingress: Name,
}

impl EncodeLabelSet for IngressLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        name_label(encoder, "namespace", &self.namespace)?;
        name_label(encoder, "ingress", &self.ingress)
    }
}

/// `upstream_response_header_duration_seconds`: upstream latency per Ingress and Service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct UpstreamLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub service: Name,
}

impl EncodeLabelSet for UpstreamLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        name_label(encoder, "namespace", &self.namespace)?;
        name_label(encoder, "ingress", &self.ingress)?;
        name_label(encoder, "service", &self.service)
    }
}

/// `auth_requests_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct AuthLabels {
    pub result: AuthResult,
}

/// `passthrough_connections_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct PassthroughLabels {
    pub result: PassthroughResult,
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

/// `limit_rejections_total`: requests turned away by an Ingress's limits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LimitLabels {
    pub namespace: Name,
    pub ingress: Name,
    pub limit: LimitKind,
}

impl EncodeLabelSet for LimitLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        name_label(encoder, "namespace", &self.namespace)?;
        name_label(encoder, "ingress", &self.ingress)?;
        ("limit", self.limit).encode(encoder.encode_label())
    }
}
