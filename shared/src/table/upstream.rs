//! How a route talks to its backend: `backend-protocol` (or the Service port's
//! `appProtocol`) and, for TLS, the `proxy-ssl-*` keys (docs/architecture.md, "Upstream
//! protocols"). Parsed and checked when the table is built; the proxy turns a [`UpstreamTls`]
//! into a TLS client configuration once per distinct value, never per request.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

use crate::model::ObjectKey;
use crate::tls::Certificate;

/// The protocol spoken to a backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.1 in cleartext (the default).
    #[default]
    Http,
    /// HTTP/1.1 over TLS.
    Https,
    /// gRPC: HTTP/2 in cleartext with prior knowledge.
    Grpc,
    /// gRPC over TLS (ALPN `h2`).
    Grpcs,
    /// HTTP/2 in cleartext with prior knowledge (Strait's own value; `kubernetes.io/h2c`).
    H2c,
    /// The client's scheme, as ingress-nginx's `$scheme://`: cleartext HTTP/1.1 for a request
    /// that came in on the HTTP listener, TLS for one on the HTTPS listener, where ALPN picks
    /// `h2` or `http/1.1`.
    AutoHttp,
}

/// Why a `backend-protocol` value was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// FastCGI: Strait does not speak it; the routes are refused.
    #[error("FCGI is not spoken by Strait")]
    Fcgi,
    /// Not one of the values ingress-nginx accepts (it then uses HTTP).
    #[error("is not one of HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP, H2C, FCGI")]
    Unknown,
}

impl Protocol {
    /// A `backend-protocol` value, case-insensitive as ingress-nginx's validator reads it.
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let value = value.trim();
        let is = |name: &str| value.eq_ignore_ascii_case(name);
        Ok(if is("HTTP") {
            Self::Http
        } else if is("HTTPS") {
            Self::Https
        } else if is("GRPC") {
            Self::Grpc
        } else if is("GRPCS") {
            Self::Grpcs
        } else if is("H2C") {
            Self::H2c
        } else if is("AUTO_HTTP") {
            Self::AutoHttp
        } else if is("FCGI") {
            return Err(ProtocolError::Fcgi);
        } else {
            return Err(ProtocolError::Unknown);
        })
    }

    /// A Service port's `appProtocol`, as Gateway API and Contour read it: `kubernetes.io/h2c`
    /// (Contour also `h2c`) is HTTP/2 in cleartext; `kubernetes.io/ws` is HTTP/1.1, upgrades
    /// included; `https`, `kubernetes.io/wss` (Contour also `tls`) are HTTP/1.1 over TLS.
    /// `None`: a value Strait does not read, HTTP applies.
    pub fn of_app_protocol(value: &str) -> Option<Self> {
        let value = value.trim();
        let is = |name: &str| value.eq_ignore_ascii_case(name);
        if is("kubernetes.io/h2c") || is("h2c") {
            Some(Self::H2c)
        } else if is("kubernetes.io/ws") || is("http") {
            Some(Self::Http)
        } else if is("https") || is("kubernetes.io/wss") || is("tls") {
            Some(Self::Https)
        } else {
            None
        }
    }

    /// Whether the connection is TLS, for a request that came in on the HTTPS listener
    /// (`https`) or not.
    pub fn is_tls(self, https: bool) -> bool {
        match self {
            Self::Https | Self::Grpcs => true,
            Self::AutoHttp => https,
            Self::Http | Self::Grpc | Self::H2c => false,
        }
    }

    /// Whether the backend speaks gRPC (`grpc-timeout` is read, errors are gRPC statuses).
    pub fn is_grpc(self) -> bool {
        matches!(self, Self::Grpc | Self::Grpcs)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
            Self::Grpc => "GRPC",
            Self::Grpcs => "GRPCS",
            Self::H2c => "H2C",
            Self::AutoHttp => "AUTO_HTTP",
        }
    }
}

/// A route's upstream protocol and TLS settings; a route without one speaks cleartext
/// HTTP/1.1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upstream {
    pub protocol: Protocol,
    /// `proxy-ssl-secret` and its siblings; `None`: unverified TLS, no client certificate,
    /// no SNI, TLS 1.2 and 1.3 (nginx's defaults without the Secret).
    pub tls: Option<Arc<UpstreamTls>>,
}

/// TLS to the backend as `proxy-ssl-*` asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamTls {
    /// The `proxy-ssl-secret` the material comes from (for messages); `None` for Strait's
    /// own defaults.
    pub secret: Option<ObjectKey>,
    /// `proxy-ssl-verify: on`: the CA certificates the backend's chain must lead to, with
    /// `proxy-ssl-verify-depth`. `None`: not verified.
    pub verify: Option<Verify>,
    /// The client certificate (`tls.crt`, `tls.key` of the Secret), when it has one.
    pub client: Option<Arc<Certificate>>,
    /// `proxy-ssl-name`: the name the certificate is checked against and SNI sends; `None`:
    /// the `Host` sent upstream.
    pub name: Option<Arc<str>>,
    /// `proxy-ssl-server-name: on`: the name goes in SNI (nginx's default is off).
    pub sni: bool,
    /// `proxy-ssl-protocols`.
    pub versions: TlsVersions,
    /// The TLS client configurations the proxy builds from the fields above, on first use:
    /// once per table build and link kind, never per request. Not part of equality.
    pub client_configs: ClientConfigs,
}

/// One lazily built rustls client configuration per ALPN offer (`http/1.1`, `h2`, both).
#[derive(Default)]
pub struct ClientConfigs([OnceLock<Arc<rustls::ClientConfig>>; 3]);

impl ClientConfigs {
    /// The configuration for ALPN offer `slot` (0 to 2), built by `build` the first time.
    pub fn get_or_init(
        &self,
        slot: usize,
        build: impl FnOnce() -> Arc<rustls::ClientConfig>,
    ) -> Arc<rustls::ClientConfig> {
        Arc::clone(self.0[slot.min(2)].get_or_init(build))
    }
}

/// A cache, not content: every value compares equal.
impl PartialEq for ClientConfigs {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ClientConfigs {}

impl std::hash::Hash for ClientConfigs {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// A copy starts empty: the configurations are rebuilt from the copied settings.
impl Clone for ClientConfigs {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for ClientConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientConfigs")
    }
}

/// `proxy-ssl-verify: on` with its CA bundle.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Verify {
    pub roots: Arc<[CertificateDer<'static>]>,
    /// `proxy-ssl-verify-depth` (default 1): how many certificates above the backend's may
    /// make its chain, the trust anchor included, as OpenSSL counts.
    pub depth: u32,
}

/// The TLS versions offered to a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlsVersions {
    pub tls12: bool,
    pub tls13: bool,
}

impl TlsVersions {
    /// Both (nginx's `proxy_ssl_protocols` default without a `proxy-ssl-secret`).
    pub const ALL: Self = Self {
        tls12: true,
        tls13: true,
    };
    /// ingress-nginx's `proxy-ssl-protocols` default once `proxy-ssl-secret` is set.
    pub const DEFAULT_WITH_SECRET: Self = Self {
        tls12: true,
        tls13: false,
    };

    /// A `proxy-ssl-protocols` value: `TLSv1.2` and `TLSv1.3`, space-separated, as
    /// ingress-nginx's validator allows; `None` for anything else (its default then applies)
    /// or for no version at all. Older versions are not offered by rustls.
    pub fn parse(value: &str) -> Option<Self> {
        let mut versions = Self {
            tls12: false,
            tls13: false,
        };
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            match token {
                "TLSv1.2" => versions.tls12 = true,
                "TLSv1.3" => versions.tls13 = true,
                _ => return None,
            }
        }
        (versions.tls12 || versions.tls13).then_some(versions)
    }
}

/// `on` or `off`, exactly, as ingress-nginx's validator reads `proxy-ssl-verify` and
/// `proxy-ssl-server-name`.
pub fn parse_on_off(value: &str) -> Option<bool> {
    match value {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// `proxy-ssl-verify-depth`: a positive whole number (ingress-nginx turns 0 or an invalid
/// value into 1).
pub fn parse_verify_depth(value: &str) -> Option<u32> {
    value.trim().parse::<u32>().ok().filter(|d| *d > 0)
}

/// `proxy-ssl-name`: a DNS name or an IP address, as a TLS server name; `None` otherwise.
pub fn parse_server_name(value: &str) -> Option<Arc<str>> {
    let value = value.trim();
    if value.is_empty() || value.contains('$') {
        return None;
    }
    rustls::pki_types::ServerName::try_from(value).ok()?;
    Some(Arc::from(value))
}

#[cfg(test)]
mod tests;
