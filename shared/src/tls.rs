//! TLS material in the table: certificates parsed and checked from `kubernetes.io/tls`
//! Secrets, and the map the SNI resolver reads (docs/architecture.md, "TLS").
//!
//! A Secret is parsed once, when it enters the [`Index`](crate::Index): PEM chain (leaf
//! first) and a PKCS#1, PKCS#8 or SEC1 key, checked to belong together. What a table needs
//! per host (names covered, expiry) is then a cheap check at compile time, and the proxy's
//! SNI lookup is a map read: exact name, then one-label wildcard, then the default.
//!
//! The crypto provider is ring, the one the whole tree uses (kube-rs's default too).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;

use crate::host::{HostPattern, normalise_request_host, wildcard_suffix};
use crate::table::{BackendId, ClientAuth};

/// `type` of the Secrets Strait reads certificates from.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// Data key of the PEM certificate chain, leaf first.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// Data key of the PEM private key.
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";

/// A certificate chain with its private key, parsed and checked: the key matches the leaf.
///
/// Equality compares the chain (DER): since the key is checked to match the leaf, an equal
/// chain means an equal key pair, so tables stay comparable without holding key bytes twice.
#[derive(Clone)]
pub struct Certificate {
    certified: Arc<CertifiedKey>,
    /// DNS names of the leaf's subjectAltName (lower-case; `*.example.com` kept as written).
    names: Vec<String>,
    not_before: SystemTime,
    not_after: SystemTime,
}

/// Why a Secret's TLS material was refused. Messages are for diagnostics: they never carry
/// key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("Secret type is {0:?}, expected kubernetes.io/tls")]
    WrongType(String),
    #[error("Secret has no {0} entry")]
    Missing(&'static str),
    #[error("tls.crt holds no PEM certificate")]
    NoCertificate,
    #[error("tls.crt: {0}")]
    BadCertificate(String),
    #[error("tls.key holds no PEM private key (PKCS#1, PKCS#8 or SEC1)")]
    NoKey,
    #[error("tls.key: {0}")]
    BadKey(String),
    #[error("tls.key does not match the certificate in tls.crt")]
    KeyMismatch,
}

impl Certificate {
    /// Parses and checks a PEM chain (leaf first) and a PEM private key.
    ///
    /// Every `CERTIFICATE` block of `chain` is kept, in order, and must be X.509 DER; the first
    /// private key block of `key` is used. ring loads the key (RSA, ECDSA P-256/P-384,
    /// Ed25519) and rustls checks that its public half is the leaf's.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, CertificateError> {
        let chain = parse::chain(chain)?;
        let key = parse::key(key)?;
        // `parse::chain` returns at least one certificate.
        let facts = parse::leaf_facts(&chain[0])?;
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => CertificateError::KeyMismatch,
            rustls::Error::InvalidCertificate(e) => {
                CertificateError::BadCertificate(format!("leaf: {e}"))
            }
            // ring's key loader reports every refusal as `General`; its text is not echoed.
            _ => CertificateError::BadKey(
                "not a usable RSA, ECDSA (P-256, P-384) or Ed25519 private key".to_owned(),
            ),
        })?;
        Ok(Self {
            certified: Arc::new(certified),
            names: facts.names,
            not_before: facts.not_before,
            not_after: facts.not_after,
        })
    }

    /// Parses the TLS material of a Secret: type `kubernetes.io/tls`, `tls.crt` and `tls.key`
    /// from `stringData`, else from `data`. Manifests may use either; the API server merges
    /// `stringData` into `data` with `stringData` winning, so a manifest gets what the cluster
    /// would store. A Secret without `type` is `Opaque`, as the API server defaults it.
    pub fn from_secret(secret: &Secret) -> Result<Self, CertificateError> {
        let kind = secret.type_.as_deref().filter(|t| !t.is_empty());
        let kind = kind.unwrap_or("Opaque");
        if kind != TLS_SECRET_TYPE {
            return Err(CertificateError::WrongType(kind.to_owned()));
        }
        let chain = secret_entry(secret, TLS_CERT_KEY)?;
        let key = secret_entry(secret, TLS_PRIVATE_KEY_KEY)?;
        Self::from_pem(chain, key)
    }

    /// What rustls serves: the chain and the signing key.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified
    }

    /// The end-entity certificate (DER).
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // `from_pem` refuses an empty chain.
        &self.certified.cert[0]
    }

    /// The leaf's subjectAltName DNS names, lower-case.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the leaf is valid for `host`: an exact SAN, or a `*.suffix` SAN one label above
    /// it. A wildcard host is covered only by the same wildcard SAN. `Any` is never covered.
    pub fn covers(&self, host: &HostPattern) -> bool {
        match host {
            HostPattern::Exact(h) => {
                // `None` for a single-label host: no wildcard can cover it.
                let suffix = wildcard_suffix(h);
                self.names
                    .iter()
                    .any(|name| name == h || (suffix.is_some() && wildcard_of(name) == suffix))
            }
            HostPattern::Wildcard(s) => self
                .names
                .iter()
                .any(|name| wildcard_of(name) == Some(s.as_str())),
            HostPattern::Any => false,
        }
    }

    /// Whether `now` is before the leaf's notBefore.
    pub fn is_not_yet_valid_at(&self, now: SystemTime) -> bool {
        now < self.not_before
    }

    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Whether `now` is past the leaf's notAfter.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now > self.not_after
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.certified.cert == other.certified.cert
    }
}

/// Equality by chain bytes is an equivalence; being `Eq` also lets `Arc<Certificate>`
/// comparisons (table equality) short-cut on the same allocation.
impl Eq for Certificate {}

/// Hashes what equality compares: the chain's DER.
impl std::hash::Hash for Certificate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.certified.cert.hash(state);
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("names", &self.names)
            .field("chain_len", &self.certified.cert.len())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Certificates by server name, for the SNI resolver.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsTable {
    exact: HashMap<Box<str>, Arc<Certificate>>,
    /// Keyed by the suffix after `*.`, as [`HostPattern::Wildcard`] is.
    wildcard: HashMap<Box<str>, Arc<Certificate>>,
    /// `--default-ssl-certificate`, when it names a usable Secret.
    default: Option<Arc<Certificate>>,
    /// Client-certificate auth by host, for choosing the handshake's configuration by SNI.
    client_auth: ClientAuthMap,
    /// Hosts whose TLS connections are passed through to a backend (`ssl-passthrough`).
    passthrough: PassthroughMap,
}

/// TLS passthrough hosts (docs/architecture.md, "TLS passthrough"), keyed as the
/// certificates are, each with the backend of its `/` route.
#[derive(Clone, Debug, Default, PartialEq)]
struct PassthroughMap {
    exact: HashMap<Box<str>, BackendId>,
    wildcard: HashMap<Box<str>, BackendId>,
}

/// Hosts with client-certificate auth, keyed as the certificates are. Exact hosts without it
/// are listed too (as `None`) so that an exact host under an mTLS wildcard is not asked for a
/// certificate: the SNI lookup follows the route lookup (exact host, then wildcard).
#[derive(Clone, Debug, Default, PartialEq)]
struct ClientAuthMap {
    exact: HashMap<Box<str>, Option<Arc<ClientAuth>>>,
    wildcard: HashMap<Box<str>, Arc<ClientAuth>>,
}

impl TlsTable {
    /// The certificate for a ClientHello's SNI (case and one trailing dot ignored): exact name,
    /// then a one-label wildcard, then the configured default. `None` means the proxy's
    /// generated fallback certificate.
    pub fn resolve(&self, server_name: Option<&str>) -> Option<&Arc<Certificate>> {
        let by_name = server_name.and_then(|raw| {
            let name = normalise_request_host(raw);
            self.exact
                .get(name.as_ref())
                .or_else(|| wildcard_suffix(&name).and_then(|s| self.wildcard.get(s)))
        });
        by_name.or(self.default.as_ref())
    }

    /// The certificate claimed for one host pattern, if any.
    pub fn get(&self, host: &HostPattern) -> Option<&Arc<Certificate>> {
        match host {
            HostPattern::Exact(h) => self.exact.get(h.as_str()),
            HostPattern::Wildcard(s) => self.wildcard.get(s.as_str()),
            HostPattern::Any => None,
        }
    }

    /// The client-certificate auth of the host a ClientHello's SNI names (exact host, then
    /// one-label wildcard, as routes are looked up); `None` without SNI or for hosts without.
    pub fn client_auth(&self, server_name: Option<&str>) -> Option<&Arc<ClientAuth>> {
        let map = &self.client_auth;
        if map.exact.is_empty() && map.wildcard.is_empty() {
            return None;
        }
        let name = normalise_request_host(server_name?);
        match map.exact.get(name.as_ref()) {
            Some(exact) => exact.as_ref(),
            None => wildcard_suffix(&name).and_then(|s| map.wildcard.get(s)),
        }
    }

    /// Sets a host's client-certificate auth (`None`: an exact host known to have none).
    pub(crate) fn set_client_auth(&mut self, host: &HostPattern, auth: Option<Arc<ClientAuth>>) {
        match (host, auth) {
            (HostPattern::Exact(h), auth) => {
                self.client_auth.exact.insert(h.as_str().into(), auth);
            }
            (HostPattern::Wildcard(s), Some(auth)) => {
                self.client_auth.wildcard.insert(s.as_str().into(), auth);
            }
            _ => {}
        }
    }

    /// The client-certificate auth set for one host pattern.
    pub(crate) fn client_auth_of(&self, host: &HostPattern) -> Option<&Arc<ClientAuth>> {
        match host {
            HostPattern::Exact(h) => self.client_auth.exact.get(h.as_str())?.as_ref(),
            HostPattern::Wildcard(s) => self.client_auth.wildcard.get(s.as_str()),
            HostPattern::Any => None,
        }
    }

    /// Once every host is known: with any wildcard host under client auth, each exact host
    /// (of `exact`) without an entry gets `None`, so its handshakes are not asked for a
    /// certificate its routes never check.
    pub(crate) fn seal_client_auth<'a>(&mut self, exact: impl Iterator<Item = &'a Box<str>>) {
        if self.client_auth.wildcard.is_empty() {
            return;
        }
        for host in exact {
            self.client_auth.exact.entry(host.clone()).or_insert(None);
        }
    }

    /// Whether any host is passed through: when none is, the listener does not look at the
    /// ClientHello before rustls does (the usual path stays as it was).
    pub fn has_passthrough(&self) -> bool {
        !(self.passthrough.exact.is_empty() && self.passthrough.wildcard.is_empty())
    }

    /// The passthrough backend of a server name already normalised: exact host, then — when
    /// `exact_has_routes` is false — a one-label wildcard, as routes are looked up (an exact host
    /// with routes of its own is terminated even under a passthrough wildcard).
    pub(crate) fn passthrough(&self, name: &str, exact_has_routes: bool) -> Option<BackendId> {
        let map = &self.passthrough;
        if let Some(id) = map.exact.get(name) {
            return Some(*id);
        }
        if exact_has_routes {
            return None;
        }
        wildcard_suffix(name).and_then(|s| map.wildcard.get(s).copied())
    }

    /// Passes `host`'s TLS connections through to `backend`. `Any` has no server name and is
    /// ignored (the compile refuses it before).
    pub(crate) fn set_passthrough(&mut self, host: &HostPattern, backend: BackendId) {
        match host {
            HostPattern::Exact(h) => {
                self.passthrough.exact.insert(h.as_str().into(), backend);
            }
            HostPattern::Wildcard(s) => {
                self.passthrough.wildcard.insert(s.as_str().into(), backend);
            }
            HostPattern::Any => {}
        }
    }

    pub fn default_certificate(&self) -> Option<&Arc<Certificate>> {
        self.default.as_ref()
    }

    /// Number of host names with a certificate (the default not counted).
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims `host` for `cert` unless it is claimed already (then `Err` carries the holder).
    /// `Any` cannot hold a certificate and is ignored.
    pub(crate) fn insert(
        &mut self,
        host: &HostPattern,
        cert: Arc<Certificate>,
    ) -> Result<(), &Arc<Certificate>> {
        let map = match host {
            HostPattern::Exact(h) => (&mut self.exact, h.as_str()),
            HostPattern::Wildcard(s) => (&mut self.wildcard, s.as_str()),
            HostPattern::Any => return Ok(()),
        };
        match map.0.entry(map.1.into()) {
            std::collections::hash_map::Entry::Occupied(held) => Err(held.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(cert);
                Ok(())
            }
        }
    }

    pub(crate) fn set_default(&mut self, cert: Arc<Certificate>) {
        self.default = Some(cert);
    }
}

/// The suffix a `*.suffix` certificate name covers one label under.
fn wildcard_of(name: &str) -> Option<&str> {
    name.strip_prefix("*.")
}

/// A Secret entry's bytes: `stringData` first (see [`Certificate::from_secret`]), then `data`.
fn secret_entry<'s>(secret: &'s Secret, name: &'static str) -> Result<&'s [u8], CertificateError> {
    let from_string = secret.string_data.as_ref().and_then(|d| d.get(name));
    let from_data = secret.data.as_ref().and_then(|d| d.get(name));
    from_string
        .map(|s| s.as_bytes())
        .or(from_data.map(|b| b.0.as_slice()))
        .ok_or(CertificateError::Missing(name))
}

mod client_ca;
mod parse;
pub mod upstream;

pub use client_ca::{CA_CERT_KEY, CA_CRL_KEY, ClientCa, ClientCaError, distinguished_names};

#[cfg(test)]
mod tests;
