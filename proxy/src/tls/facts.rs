//! What a connection's TLS handshake settled: the protocol version and server name (for the
//! access log), and the client certificate of a host with client auth, verified once for the
//! connection right after the handshake (`auth-tls-*`; docs/architecture.md, "Client
//! certificates"). Each request of a route with client auth then only compares and reads
//! these facts (`policy::client_cert`). Kept with the TLS pieces, below the stages, because
//! the connection's context carries them to every stage of its requests.

use std::sync::Arc;

use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use rustls::ServerConnection;
use rustls::pki_types::{CertificateDer, UnixTime};
use strait_shared::table::ClientAuth;

const SSL_CLIENT_VERIFY: HeaderName = HeaderName::from_static("ssl-client-verify");
const SSL_CLIENT_SUBJECT_DN: HeaderName = HeaderName::from_static("ssl-client-subject-dn");
const SSL_CLIENT_ISSUER_DN: HeaderName = HeaderName::from_static("ssl-client-issuer-dn");
const SSL_CLIENT_CERT: HeaderName = HeaderName::from_static("ssl-client-cert");

const NONE: HeaderValue = HeaderValue::from_static("NONE");
const SUCCESS: HeaderValue = HeaderValue::from_static("SUCCESS");

/// What the TLS handshake settled, for the access log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsFacts {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: Option<&'static str>,
    /// The server name the client asked for (kept only when the access log is on).
    pub sni: Option<Box<str>>,
    /// The client certificate and its verdict, on a handshake for a host with client auth.
    pub client_cert: Option<Arc<ClientCert>>,
}

impl TlsFacts {
    pub(crate) fn of(conn: &ServerConnection, with_sni: bool) -> Self {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => Some("TLSv1.3"),
            Some(rustls::ProtocolVersion::TLSv1_2) => Some("TLSv1.2"),
            _ => None,
        };
        let sni = with_sni
            .then(|| conn.server_name().map(Box::from))
            .flatten();
        Self {
            version,
            sni,
            client_cert: None,
        }
    }
}

/// What a connection's handshake established about the client's certificate, for the host
/// it named. Built once per connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientCert {
    /// The client auth of the handshake's host.
    pub(crate) auth: Arc<ClientAuth>,
    pub(crate) verdict: Verdict,
    /// `ssl-client-verify`: `NONE`, `SUCCESS` or `FAILED:<reason>`.
    verify_header: HeaderValue,
    /// RFC 2253 subject DN (empty without a certificate), for `auth-tls-match-cn`.
    pub(crate) subject: Box<str>,
    subject_header: Option<HeaderValue>,
    issuer_header: Option<HeaderValue>,
    /// `ssl-client-cert`: the URL-encoded PEM, when the host passes it on.
    cert_header: Option<HeaderValue>,
}

/// The outcome of verifying the client's chain against the host's CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No certificate was sent (or none was asked for).
    None,
    Success,
    Failed,
}

impl ClientCert {
    /// Verifies `chain` (leaf first, as the client sent it; empty: none) for `auth`'s host.
    /// The path to a root may use the first `depth - 1` intermediates.
    pub(crate) fn of(auth: Arc<ClientAuth>, chain: &[CertificateDer<'static>]) -> Self {
        let Some(leaf) = chain.first().filter(|_| auth.verify.requests_certificate()) else {
            return Self {
                auth,
                verdict: Verdict::None,
                verify_header: NONE,
                subject: Box::from(""),
                subject_header: None,
                issuer_header: None,
                cert_header: None,
            };
        };
        let depth = usize::try_from(auth.depth).unwrap_or(1).max(1);
        let intermediates = &chain[1..chain.len().min(depth)];
        let verified = auth
            .ca
            .verifier()
            .verify_client_cert(leaf, intermediates, UnixTime::now());
        let (verdict, verify_header) = match verified {
            Ok(_) => (Verdict::Success, SUCCESS),
            Err(error) => {
                tracing::debug!(%error, "client certificate failed verification");
                let text = format!("FAILED:{error}");
                let header = HeaderValue::try_from(text)
                    .unwrap_or(HeaderValue::from_static("FAILED:invalid certificate"));
                (Verdict::Failed, header)
            }
        };
        let (subject, issuer) = strait_shared::tls::distinguished_names(leaf).unwrap_or_default();
        let cert_header = auth.pass_certificate.then(|| escaped_pem(leaf));
        Self {
            subject_header: HeaderValue::try_from(subject.as_str()).ok(),
            issuer_header: HeaderValue::try_from(issuer).ok(),
            subject: subject.into(),
            auth,
            verdict,
            verify_header,
            cert_header,
        }
    }

    /// The verdict nothing was sent for: a plain-HTTP request to a host with client auth.
    pub(crate) fn none(auth: &Arc<ClientAuth>) -> Self {
        Self::of(Arc::clone(auth), &[])
    }

    /// Sets the `ssl-client-*` headers of the upstream request, replacing the client's.
    pub(crate) fn forward_headers(&self, headers: &mut HeaderMap) {
        headers.insert(SSL_CLIENT_VERIFY, self.verify_header.clone());
        set_or_remove(headers, SSL_CLIENT_SUBJECT_DN, self.subject_header.as_ref());
        set_or_remove(headers, SSL_CLIENT_ISSUER_DN, self.issuer_header.as_ref());
        if self.auth.pass_certificate {
            set_or_remove(headers, SSL_CLIENT_CERT, self.cert_header.as_ref());
        } else {
            headers.remove(SSL_CLIENT_CERT);
        }
    }
}

/// nginx's `proxy_set_header` with an empty value sends no header at all.
fn set_or_remove(headers: &mut HeaderMap, name: HeaderName, value: Option<&HeaderValue>) {
    match value.filter(|v| !v.is_empty()) {
        Some(value) => {
            headers.insert(name, value.clone());
        }
        None => {
            headers.remove(name);
        }
    }
}

/// The leaf as PEM, percent-encoded as nginx's `$ssl_client_escaped_cert` (everything but
/// letters, digits and `-._~`), e.g. `-----BEGIN%20CERTIFICATE-----%0AMIIB...`.
fn escaped_pem(der: &CertificateDer<'_>) -> HeaderValue {
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let mut out = String::with_capacity(pem.len() * 3 / 2);
    for byte in pem.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    // Letters, digits, `-._~` and `%XX`: always a valid header value.
    HeaderValue::try_from(out).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx e2e `authtls.go`, "should pass URL-encoded certificate to upstream": the
    /// upstream sees `-----BEGIN%20CERTIFICATE-----%0A`.
    #[test]
    fn the_certificate_goes_up_url_encoded() {
        let der = CertificateDer::from(vec![0xfb_u8; 100]);
        let value = escaped_pem(&der);
        let text = value.to_str().unwrap();
        assert!(
            text.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
            "{text}"
        );
        assert!(text.ends_with("-----END%20CERTIFICATE-----%0A"), "{text}");
        assert!(text.contains("%2F") && !text.contains('/'), "{text}");
    }
}
