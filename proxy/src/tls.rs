//! TLS termination: the rustls server configuration and the SNI resolver over the current
//! table (docs/architecture.md, "TLS"; STYLE item 12: the resolver is a map read).
//!
//! Each handshake loads the table once and asks its [`TlsTable`](strait_shared::TlsTable):
//! exact name, then one-label wildcard, then the configured default certificate; without any,
//! the fallback generated at start. A new table therefore serves new handshakes at once, and
//! open connections keep the certificate they were established with.

use std::fmt;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};

use crate::proxy::SharedTable;

/// ALPN protocols offered to clients, preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// TLS sessions remembered for stateful resumption (TLS 1.2 session ids).
const SESSION_CACHE_SIZE: usize = 4096;

/// The crypto provider of the whole tree: ring, which kube-rs uses too.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration of the HTTPS listener: TLS 1.2 and 1.3 only, ALPN `h2` and
/// `http/1.1`, certificates chosen per handshake from `table`, `fallback` when the table has
/// none for the name (and no default). Session resumption by id (TLS 1.2) and by stateless
/// tickets (TLS 1.3).
pub fn server_config(
    table: SharedTable,
    fallback: Arc<CertifiedKey>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { table, fallback }));
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// A self-signed certificate for when no default certificate is configured, as ingress-nginx's
/// "fake certificate": clients that reach a host without a certificate of its own get a
/// handshake (and a name mismatch) rather than a reset.
pub fn self_signed_certificate() -> Result<Arc<CertifiedKey>, SelfSignedError> {
    let mut params = rcgen::CertificateParams::new(vec!["strait.invalid".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Strait Default Certificate");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let certified = CertifiedKey::from_der(vec![cert.der().clone()], der_key, &crypto_provider())?;
    Ok(Arc::new(certified))
}

/// Why the fallback certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SelfSignedError {
    #[error("generating the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("loading the self-signed certificate: {0}")]
    Load(#[from] rustls::Error),
}

/// Picks the certificate for a ClientHello from the current table.
struct SniResolver {
    table: SharedTable,
    fallback: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let table = self.table.load();
        let chosen = table
            .tls()
            .resolve(hello.server_name())
            .map(|cert| Arc::clone(cert.certified_key()));
        Some(chosen.unwrap_or_else(|| Arc::clone(&self.fallback)))
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver").finish_non_exhaustive()
    }
}
