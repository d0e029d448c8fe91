//! TLS termination: the rustls server configuration and the SNI resolver over the current
//! table (docs/architecture.md, "TLS"; STYLE item 12: the resolver is a map read).
//!
//! Each handshake loads the table once and asks its [`TlsTable`](strait_shared::TlsTable):
//! exact name, then one-label wildcard, then the configured default certificate; without any,
//! the fallback generated at start. A new table therefore serves new handshakes at once, and
//! open connections keep the certificate they were established with.
//!
//! Also what a handshake settled (`TlsFacts`, with the client certificate verified once per
//! connection), which the connection's context carries to its requests.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme, version};
use strait_shared::ClientCa;

use crate::table::SharedTable;

mod facts;

pub(crate) use facts::{ClientCert, TlsFacts, Verdict};

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

/// The configuration of hosts whose client certificates `ca` verifies: `base`'s (the HTTPS
/// listener's) with a CertificateRequest hinting at `ca`'s subjects. Built once per CA Secret
/// (see [`ClientCa::server_config`]), never per connection.
///
/// The handshake accepts any certificate, or none, and only checks that the client holds its
/// key; whether the certificate verifies is decided after the handshake (`ClientCert`,
/// `policy::client_cert`), so that a failure is an HTTP 400 the client can read (as
/// nginx answers) rather than an alert. Its own session cache and ticket keys keep sessions
/// of hosts without client auth from resuming here.
pub fn client_auth_config(
    base: &ServerConfig,
    ca: &ClientCa,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let verifier = Arc::new(DeferredClientVerifier {
        inner: Arc::clone(ca.verifier()),
    });
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::clone(&base.cert_resolver));
    config.alpn_protocols.clone_from(&base.alpn_protocols);
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// Asks for a client certificate without requiring one and defers its verification: the
/// signature proving the client holds the key is checked here (by webpki, as a full verifier
/// would), the chain after the handshake.
#[derive(Debug)]
struct DeferredClientVerifier {
    /// The CA's webpki verifier: its hints and signature checks.
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for DeferredClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
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
