//! TLS to a pooled destination: HTTPS and GRPCS backends (`backend-protocol`, `proxy-ssl-*`)
//! and external auth's `https` URLs. rustls with the tree's crypto provider
//! ([`crate::tls::crypto_provider`]).
//!
//! The settings come from the table ([`UpstreamTls`]); the rustls client configuration is
//! built from them on first use, once per table build and ALPN offer, and kept beside them
//! ([`UpstreamTls::client_configs`]), so a request pays an `Arc` clone for it.
//!
//! - Not verified unless `proxy-ssl-verify: on` (nginx's default): the handshake's signatures
//!   are still checked (the peer holds the key of the certificate it shows), its chain and
//!   name are not. External auth never verifies (the registry note of `auth-url` says so).
//! - Verified: the chain must lead to a `ca.crt` certificate using at most
//!   `proxy-ssl-verify-depth` − 1 of the intermediates the backend sends (OpenSSL's depth
//!   counts the certificates above the leaf), and name the server name.
//! - SNI only with `proxy-ssl-server-name: on` (nginx's default is off); external auth sends
//!   the URL's host.
//! - A client certificate when the Secret has one.

use std::io;
use std::sync::{Arc, LazyLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use strait_shared::table::upstream::{ClientConfigs, TlsVersions, UpstreamTls};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Wire;

/// A TLS destination: the settings and the server name (checked against the certificate
/// when verifying, and sent in SNI when asked).
#[derive(Clone, Debug)]
pub(crate) struct TlsDest {
    pub name: Arc<str>,
    pub settings: Arc<UpstreamTls>,
}

/// Same name and same settings: the same allocation (the common case), else equal content
/// (links opened under an earlier table with the same settings stay usable).
impl PartialEq for TlsDest {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && (Arc::ptr_eq(&self.settings, &other.settings) || self.settings == other.settings)
    }
}

impl Eq for TlsDest {}

/// The name only: settings that differ for one name and address are rare, and equality
/// tells them apart.
impl std::hash::Hash for TlsDest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// TLS as nginx's `proxy_ssl_*` defaults have it: not verified, no SNI, no client
/// certificate (an HTTPS backend without `proxy-ssl-secret`).
pub(crate) fn defaults() -> &'static Arc<UpstreamTls> {
    static DEFAULTS: LazyLock<Arc<UpstreamTls>> = LazyLock::new(|| unverified(false));
    &DEFAULTS
}

/// External auth's TLS: not verified, SNI = the URL's host.
pub(crate) fn auth() -> &'static Arc<UpstreamTls> {
    static AUTH: LazyLock<Arc<UpstreamTls>> = LazyLock::new(|| unverified(true));
    &AUTH
}

/// The server name of a destination whose name is never looked at (no verification, no
/// SNI): one shared value, no allocation per request.
pub(crate) fn unnamed() -> &'static Arc<str> {
    static UNNAMED: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("upstream.invalid"));
    &UNNAMED
}

fn unverified(sni: bool) -> Arc<UpstreamTls> {
    Arc::new(UpstreamTls {
        secret: None,
        verify: None,
        client: None,
        name: None,
        sni,
        versions: TlsVersions::ALL,
        client_configs: ClientConfigs::default(),
    })
}

/// The TLS handshake with `dest` over `stream`, offering the ALPN protocols of `wire`.
pub(super) async fn connect<S>(dest: &TlsDest, wire: Wire, stream: S) -> io::Result<TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let server = ServerName::try_from(dest.name.to_string()).map_err(io::Error::other)?;
    let config = dest
        .settings
        .client_configs
        .get_or_init(wire as usize, || build(&dest.settings, wire));
    TlsConnector::from(config).connect(server, stream).await
}

/// Whether the server chose `h2` by ALPN.
pub(super) fn negotiated_h2<S>(stream: &TlsStream<S>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(b"h2")
}

/// The client configuration for `settings` and `wire`. Settings the provider cannot take
/// (no version it supports, a CA bundle without a usable certificate) give a configuration
/// that fails every handshake, with an error logged: never one that verifies less.
fn build(settings: &UpstreamTls, wire: Wire) -> Arc<ClientConfig> {
    let provider = crate::tls::crypto_provider();
    let mut versions = Vec::with_capacity(2);
    if settings.versions.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if settings.versions.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .or_else(|_| {
            ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
        })
        // The ring provider supports TLS 1.2 and 1.3: building cannot fail.
        .expect("the crypto provider supports TLS 1.2 and 1.3");
    let verifier: Arc<dyn ServerCertVerifier> = match &settings.verify {
        None => Arc::new(Unverified(Arc::clone(&provider))),
        Some(verify) => match verified(&provider, &verify.roots, verify.depth) {
            Ok(verifier) => verifier,
            Err(error) => {
                tracing::error!(secret = ?settings.secret, %error, "upstream TLS: the CA bundle is unusable; every handshake to these backends fails");
                Arc::new(Refuse)
            }
        },
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &settings.client {
        Some(client) => {
            let resolver = ClientCert(Arc::clone(client.certified_key()));
            builder.with_client_cert_resolver(Arc::new(resolver))
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = settings.sni;
    config.alpn_protocols = wire.alpn().iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// webpki's verifier over the `ca.crt` roots, given at most `depth - 1` intermediates.
fn verified(
    provider: &Arc<CryptoProvider>,
    roots: &[CertificateDer<'static>],
    depth: u32,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(roots.iter().cloned());
    if added == 0 {
        return Err("ca.crt holds no certificate usable as a trust anchor".to_owned());
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map_err(|e| e.to_string())?;
    let intermediates = usize::try_from(depth.saturating_sub(1)).unwrap_or(usize::MAX);
    Ok(Arc::new(Depth {
        inner,
        intermediates,
    }))
}

/// Verification with a depth limit: the chain is built from the first `intermediates`
/// certificates the backend sent after its own.
#[derive(Debug)]
struct Depth {
    inner: Arc<WebPkiServerVerifier>,
    intermediates: usize,
}

impl ServerCertVerifier for Depth {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let allowed = &intermediates[..intermediates.len().min(self.intermediates)];
        self.inner
            .verify_server_cert(end_entity, allowed, server_name, ocsp_response, now)
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

/// Presents the Secret's certificate whatever the server hints.
#[derive(Debug)]
struct ClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Rejects every certificate: the fail-closed stand-in for a verifier that could not be built.
#[derive(Debug)]
struct Refuse;

impl ServerCertVerifier for Refuse {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "no usable CA to verify the backend with".to_owned(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no usable CA".to_owned()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no usable CA".to_owned()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        crate::tls::crypto_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts any certificate chain and name; checks the handshake signatures.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
