//! The TLS material of a `proxy-ssl-secret` (ingress-nginx's `GetAuthCertificate`): trusted
//! CA certificates in `ca.crt` to verify an HTTPS backend with, and optionally a client
//! certificate (`tls.crt`, `tls.key`) to present to it. Any Secret type: ingress-nginx reads
//! these keys from generic Secrets too.
//!
//! Parsed once when the Secret enters the index, like server certificates; a table build then
//! only looks the result up. Errors never echo key material.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::pki_types::CertificateDer;

use super::{
    Certificate, CertificateError, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY, parse, secret_entry,
};

/// Data key of the PEM bundle of trusted CA certificates.
pub const CA_CERT_KEY: &str = "ca.crt";

/// What a Secret offers upstream TLS; `None` fields: the key is absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTlsSecret {
    /// The CA certificates of `ca.crt`, each checked to be X.509 DER.
    pub ca: Option<Result<Arc<[CertificateDer<'static>]>, CertificateError>>,
    /// The client certificate and key of `tls.crt` and `tls.key`.
    pub client: Option<Result<Arc<Certificate>, CertificateError>>,
}

impl UpstreamTlsSecret {
    /// The Secret's `ca.crt` and client key pair; `None` when it has neither `ca.crt` nor
    /// `tls.crt` (not a Secret upstream TLS can use).
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let ca = secret_entry(secret, CA_CERT_KEY)
            .ok()
            .map(|pem| parse::chain(pem).map(Arc::from));
        let client = secret_entry(secret, TLS_CERT_KEY).ok().map(|chain| {
            let key = secret_entry(secret, TLS_PRIVATE_KEY_KEY)?;
            Certificate::from_pem(chain, key).map(Arc::new)
        });
        (ca.is_some() || client.is_some()).then_some(Self { ca, client })
    }
}
