//! Client-certificate trust from a Secret's `ca.crt` (and optional `ca.crl`), parsed once when
//! the Secret enters the [`Index`](crate::Index) (docs/architecture.md, "Client certificates").
//!
//! ingress-nginx reads `ca.crt` from any Secret type (an `Opaque` one, or a TLS one that also
//! carries it), so does Strait. What is kept is what a handshake and its verification need,
//! built once per Secret version and shared by every table that refers to it:
//!
//! - the webpki verifier (roots + CRLs), asked once per connection after the handshake;
//! - the CA subjects hinted in the CertificateRequest;
//! - a slot for the proxy's server configuration of this CA set, filled on first use, so a
//!   handshake never builds one and tables rebuilt for unrelated changes keep it (and with it
//!   the session cache and ticket keys of this CA's hosts).

use std::fmt;
use std::sync::{Arc, OnceLock};

use k8s_openapi::api::core::v1::Secret;
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

/// Data key of the PEM CA bundle client certificates must chain to.
pub const CA_CERT_KEY: &str = "ca.crt";
/// Data key of the optional PEM certificate revocation list(s).
pub const CA_CRL_KEY: &str = "ca.crl";

/// The trust a Secret's `ca.crt` (and `ca.crl`) defines for client certificates.
pub struct ClientCa {
    /// Every `CERTIFICATE` of `ca.crt`, for equality (the verifier is opaque).
    roots: Vec<CertificateDer<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    verifier: Arc<dyn ClientCertVerifier>,
    /// The proxy's server configuration that requests client certificates hinting at these
    /// roots; built by the proxy on the first handshake that needs it.
    server_config: OnceLock<Arc<ServerConfig>>,
}

/// Why a Secret's `ca.crt` / `ca.crl` cannot be used. Texts come from fixed phrases and X.509
/// parser messages only.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientCaError {
    #[error("ca.crt holds no PEM certificate")]
    NoCertificate,
    #[error("ca.crt: {0}")]
    BadCertificate(String),
    #[error("ca.crl: {0}")]
    BadCrl(String),
    #[error("ca.crt / ca.crl: {0}")]
    Verifier(String),
}

impl ClientCa {
    /// Parses a CA bundle (every `CERTIFICATE` block is a trust anchor) and optional CRLs.
    pub fn from_pem(ca: &[u8], crl: Option<&[u8]>) -> Result<Self, ClientCaError> {
        let roots = CertificateDer::pem_slice_iter(ca)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| match e {
                pem::Error::NoItemsFound => ClientCaError::NoCertificate,
                other => ClientCaError::BadCertificate(other.to_string()),
            })?;
        if roots.is_empty() {
            return Err(ClientCaError::NoCertificate);
        }
        let mut store = rustls::RootCertStore::empty();
        for (position, root) in roots.iter().enumerate() {
            store.add(root.clone()).map_err(|e| {
                ClientCaError::BadCertificate(format!("certificate #{}: {e}", position + 1))
            })?;
        }
        let crls = match crl {
            None => Vec::new(),
            Some(bytes) => CertificateRevocationListDer::pem_slice_iter(bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ClientCaError::BadCrl(e.to_string()))?,
        };
        if crl.is_some() && crls.is_empty() {
            return Err(ClientCaError::BadCrl("no PEM X509 CRL block".to_owned()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .with_crls(crls.iter().cloned())
            // The CRL set is the operator's: a certificate its issuer published no CRL for
            // is not refused for that (nginx's `ssl_crl` checks only what it has).
            .allow_unknown_revocation_status()
            .build()
            .map_err(|e| ClientCaError::Verifier(format!("{e:?}")))?;
        Ok(Self {
            roots,
            crls,
            verifier,
            server_config: OnceLock::new(),
        })
    }

    /// The client-certificate trust of a Secret: `None` when it has no `ca.crt` (it may still
    /// be a TLS or htpasswd Secret). `stringData` wins over `data`, as for certificates.
    pub fn from_secret(secret: &Secret) -> Option<Result<Self, ClientCaError>> {
        let ca = entry(secret, CA_CERT_KEY)?;
        Some(Self::from_pem(ca, entry(secret, CA_CRL_KEY)))
    }

    /// The webpki verifier over these roots and CRLs (unauthenticated clients allowed: the
    /// proxy decides what a missing certificate means).
    pub fn verifier(&self) -> &Arc<dyn ClientCertVerifier> {
        &self.verifier
    }

    /// The server configuration for hosts trusting this CA, built by `build` the first time.
    pub fn server_config(&self, build: impl FnOnce() -> Arc<ServerConfig>) -> Arc<ServerConfig> {
        Arc::clone(self.server_config.get_or_init(build))
    }

    /// Number of trust anchors.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

impl PartialEq for ClientCa {
    fn eq(&self, other: &Self) -> bool {
        self.roots == other.roots && self.crls == other.crls
    }
}

impl Eq for ClientCa {}

impl fmt::Debug for ClientCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCa")
            .field("roots", &self.roots.len())
            .field("crls", &self.crls.len())
            .finish_non_exhaustive()
    }
}

fn entry<'s>(secret: &'s Secret, name: &str) -> Option<&'s [u8]> {
    let from_string = secret.string_data.as_ref().and_then(|d| d.get(name));
    let from_data = secret.data.as_ref().and_then(|d| d.get(name));
    from_string
        .map(|s| s.as_bytes())
        .or(from_data.map(|b| b.0.as_slice()))
}

/// The subject and issuer of a DER certificate as nginx's `$ssl_client_s_dn` and
/// `$ssl_client_i_dn` write them (RFC 2253: last RDN first, `,` between RDNs, `+` inside
/// one, special characters escaped, values that are not strings as `#` and DER hex). `None`
/// when the certificate does not parse.
pub fn distinguished_names(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some((rfc2253(cert.subject()), rfc2253(cert.issuer())))
}

fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            out.push_str(short_name(&oid).unwrap_or(&oid));
            out.push('=');
            match attr.as_str() {
                Ok(value) => escape_value(value, &mut out),
                Err(_) => {
                    out.push('#');
                    for byte in attr.attr_value().data.iter() {
                        out.push_str(&format!("{byte:02X}"));
                    }
                }
            }
        }
    }
    out
}

/// The attribute names OpenSSL prints in RFC 2253 mode for the usual attributes.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.4" => "SN",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// RFC 2253 section 2.4 escaping; control characters as `\XX` so the result is a valid
/// header value.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_and_client() -> (rcgen::CertifiedKey<rcgen::KeyPair>, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Strait, Inc");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = cert.pem();
        (
            rcgen::CertifiedKey {
                cert,
                signing_key: key,
            },
            pem,
        )
    }

    /// nginx's `$ssl_client_s_dn` / `$ssl_client_i_dn` (RFC 2253), which ingress-nginx sends
    /// as `ssl-client-subject-dn` / `ssl-client-issuer-dn` (annotations.md, "Client
    /// Certificate Authentication": `CN=My Client`).
    #[test]
    fn names_are_written_as_rfc2253() {
        let (ca, _) = ca_and_client();
        let (subject, issuer) = distinguished_names(ca.cert.der()).unwrap();
        assert_eq!(subject, "O=Strait\\, Inc,CN=Test CA");
        assert_eq!(issuer, subject);
        assert_eq!(distinguished_names(b"not a certificate"), None);
        let mut out = String::new();
        escape_value(" #a+b\u{1}", &mut out);
        assert_eq!(out, "\\ #a\\+b\\01");
    }

    #[test]
    fn ca_bundles_parse_or_say_why() {
        let (_, pem) = ca_and_client();
        let ca = ClientCa::from_pem(pem.as_bytes(), None).unwrap();
        assert_eq!(ca.len(), 1);
        assert_eq!(ca, ClientCa::from_pem(pem.as_bytes(), None).unwrap());
        assert_eq!(
            ClientCa::from_pem(b"nothing", None).unwrap_err(),
            ClientCaError::NoCertificate
        );
        assert!(matches!(
            ClientCa::from_pem(pem.as_bytes(), Some(b"no crl here")),
            Err(ClientCaError::BadCrl(_))
        ));
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            ClientCa::from_pem(garbage.as_bytes(), None),
            Err(ClientCaError::BadCertificate(_))
        ));
    }
}
