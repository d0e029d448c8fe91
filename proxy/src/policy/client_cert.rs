//! Client-certificate auth per request (`auth-tls-*`; docs/architecture.md, "Client
//! certificates").
//!
//! The handshake of a host with client auth asks for a certificate and accepts any (see
//! [`crate::tls::client_auth_config`]); right after it, [`ClientCert::of`] verifies the chain
//! once for the connection and prepares the upstream headers. Each request of a route with
//! client auth then only compares and reads ([`check`]), in nginx's order:
//!
//! 1. The request's host must be the handshake's: a route whose client auth is not the one
//!    the handshake was made for (another host's handshake, or a CA changed since) answers
//!    421, as nginx answers a Host that does not match an SNI with client verification.
//! 2. A missing certificate (`on`) or one that fails verification (`on`, `optional`) answers
//!    400 with nginx's texts, or 302 to `auth-tls-error-page` (`error_page 495 496 = URL`).
//! 3. `auth-tls-match-cn`: the subject DN must match, else 403 (the template's server-level
//!    `if ($ssl_client_s_dn !~ …) { return 403; }`).
//!
//! Upstream headers (nginx.tmpl's `proxy_set_header ssl-client-*`) replace whatever the client
//! sent under those names.

use std::sync::Arc;

use base64::Engine;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use rustls::pki_types::{CertificateDer, UnixTime};
use strait_shared::table::{ClientAuth, VerifyClient};

use crate::connection::ConnCtx;

const SSL_CLIENT_VERIFY: HeaderName = HeaderName::from_static("ssl-client-verify");
const SSL_CLIENT_SUBJECT_DN: HeaderName = HeaderName::from_static("ssl-client-subject-dn");
const SSL_CLIENT_ISSUER_DN: HeaderName = HeaderName::from_static("ssl-client-issuer-dn");
const SSL_CLIENT_CERT: HeaderName = HeaderName::from_static("ssl-client-cert");

const NONE: HeaderValue = HeaderValue::from_static("NONE");
const SUCCESS: HeaderValue = HeaderValue::from_static("SUCCESS");

/// What a connection's handshake established about the client's certificate, for the host
/// it named. Built once per connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientCert {
    /// The client auth of the handshake's host.
    auth: Arc<ClientAuth>,
    verdict: Verdict,
    /// `ssl-client-verify`: `NONE`, `SUCCESS` or `FAILED:<reason>`.
    verify_header: HeaderValue,
    /// RFC 2253 subject DN (empty without a certificate), for `auth-tls-match-cn`.
    subject: Box<str>,
    subject_header: Option<HeaderValue>,
    issuer_header: Option<HeaderValue>,
    /// `ssl-client-cert`: the URL-encoded PEM, when the host passes it on.
    cert_header: Option<HeaderValue>,
}

/// The outcome of verifying the client's chain against the host's CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// No certificate was sent (or none was asked for).
    None,
    Success,
    Failed,
}

/// Why a request was not let through; see the module doc for the statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
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

impl Refused {
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
    fn none(auth: &Arc<ClientAuth>) -> Self {
        Self::of(Arc::clone(auth), &[])
    }
}

/// What a passed request sends upstream: the connection's certificate facts, or those of no
/// certificate (plain HTTP).
pub(crate) enum Passed<'c> {
    Connection(&'c ClientCert),
    Plain(Box<ClientCert>),
}

/// Checks a request of a route with client auth `auth` (see the module doc).
pub(crate) fn check<'c>(ctx: &'c ConnCtx, auth: &Arc<ClientAuth>) -> Result<Passed<'c>, Refused> {
    let passed = match &ctx.tls {
        // Plain HTTP: no certificate can have been sent.
        None => Passed::Plain(Box::new(ClientCert::none(auth))),
        Some(tls) => match &tls.client_cert {
            Some(cert) if Arc::ptr_eq(&cert.auth, auth) || *cert.auth == **auth => {
                Passed::Connection(cert)
            }
            _ => return Err(Refused::Misdirected),
        },
    };
    let cert = passed.cert();
    let refused = match (cert.verdict, auth.verify) {
        (Verdict::None, VerifyClient::On) => Some(Refused::Missing),
        (Verdict::Failed, VerifyClient::On | VerifyClient::Optional) => Some(Refused::Failed),
        _ => None,
    };
    if let Some(refused) = refused {
        return Err(match &auth.error_page {
            Some(page) => Refused::ErrorPage(page.clone()),
            None => refused,
        });
    }
    if let Some(cn) = &auth.match_cn
        && !cn.matches(&cert.subject)
    {
        return Err(Refused::CommonName);
    }
    Ok(passed)
}

impl Passed<'_> {
    fn cert(&self) -> &ClientCert {
        match self {
            Self::Connection(cert) => cert,
            Self::Plain(cert) => cert,
        }
    }

    /// Sets the `ssl-client-*` headers of the upstream request, replacing the client's.
    pub(crate) fn forward_headers(&self, headers: &mut HeaderMap) {
        let cert = self.cert();
        headers.insert(SSL_CLIENT_VERIFY, cert.verify_header.clone());
        set_or_remove(headers, SSL_CLIENT_SUBJECT_DN, cert.subject_header.as_ref());
        set_or_remove(headers, SSL_CLIENT_ISSUER_DN, cert.issuer_header.as_ref());
        if cert.auth.pass_certificate {
            set_or_remove(headers, SSL_CLIENT_CERT, cert.cert_header.as_ref());
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
