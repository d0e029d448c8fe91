//! Reading a Secret's PEM: the chain, the key, and the leaf's facts (names, validity).
//!
//! Error texts are built here from fixed phrases and X.509 parser messages only: nothing read
//! from `tls.key` is ever echoed, so a diagnostic cannot leak key material into logs or Events.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

use super::CertificateError;
use crate::host::HostPattern;

/// Every `CERTIFICATE` block of `tls.crt`, in order (leaf first), each checked to be X.509
/// DER. Other PEM blocks are skipped, as rustls and ingress-nginx do.
pub(super) fn chain(pem_bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let chain = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            pem::Error::NoItemsFound => CertificateError::NoCertificate,
            other => CertificateError::BadCertificate(pem_problem(&other).to_owned()),
        })?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate);
    }
    for (position, der) in chain.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(der) {
            return Err(CertificateError::BadCertificate(format!(
                "certificate #{} is not valid X.509: {e}",
                position + 1
            )));
        }
    }
    Ok(chain)
}

/// The first private key block of `tls.key`: `RSA PRIVATE KEY` (PKCS#1), `PRIVATE KEY`
/// (PKCS#8) or `EC PRIVATE KEY` (SEC1). Whether ring can use it is checked later, with the
/// chain.
pub(super) fn key(pem_bytes: &[u8]) -> Result<PrivateKeyDer<'static>, CertificateError> {
    PrivateKeyDer::from_pem_slice(pem_bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => CertificateError::NoKey,
        other => CertificateError::BadKey(pem_problem(&other).to_owned()),
    })
}

/// What the table needs from the leaf, read once.
pub(super) struct LeafFacts {
    pub(super) names: Vec<String>,
    pub(super) not_before: SystemTime,
    pub(super) not_after: SystemTime,
}

/// Names and validity of the leaf (already checked to parse by [`chain`]).
pub(super) fn leaf_facts(leaf: &[u8]) -> Result<LeafFacts, CertificateError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| CertificateError::BadCertificate(format!("leaf: {e}")))?;
    let validity = cert.validity();
    Ok(LeafFacts {
        names: names(&cert)?,
        not_before: system_time(validity.not_before),
        not_after: system_time(validity.not_after),
    })
}

/// The leaf's subjectAltName DNS names, lower-cased, in certificate order without repeats.
///
/// A certificate with no SAN DNS name falls back to its subject commonName, but only when that
/// parses as a host name or one-label wildcard: old self-made certificates often carry the
/// host only there, while a CN such as "My Company CA" must not become a name. Browsers ignore
/// the CN, so such a certificate may still be refused by clients; it is served as chosen.
fn names(cert: &X509Certificate<'_>) -> Result<Vec<String>, CertificateError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertificateError::BadCertificate(format!("leaf subjectAltName: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    for general_name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
        if let GeneralName::DNSName(dns) = general_name {
            let name = dns.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        let cn = cert
            .subject()
            .iter_common_name()
            .filter_map(|attr| attr.as_str().ok())
            .filter_map(|cn| match HostPattern::parse(cn) {
                Ok(HostPattern::Any) | Err(_) => None,
                Ok(host) => Some(host.to_string()),
            })
            .next();
        names.extend(cn);
    }
    Ok(names)
}

/// X.509 times as `SystemTime`; a time the platform cannot represent saturates to the epoch
/// or far future (only reachable with absurd certificates, and only moves an expiry warning).
fn system_time(time: ASN1Time) -> SystemTime {
    let seconds = time.timestamp();
    let magnitude = Duration::from_secs(seconds.unsigned_abs());
    let shifted = if seconds >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    shifted.unwrap_or(if seconds >= 0 {
        far_future()
    } else {
        UNIX_EPOCH
    })
}

/// About year 10000: representable on every platform Rust supports.
fn far_future() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(253_402_300_799)
}

/// A short description of a PEM syntax problem, without the offending bytes.
fn pem_problem(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => "PEM block has no END line",
        pem::Error::IllegalSectionStart { .. } => "malformed PEM BEGIN line",
        pem::Error::Base64Decode(_) => "PEM block is not valid base64",
        pem::Error::SectionTooLarge => "PEM block is too large",
        _ => "malformed PEM",
    }
}
