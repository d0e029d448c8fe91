//! TLS for the tests: certificates generated with rcgen (never committed), `kubernetes.io/tls`
//! Secret manifests holding them, and a rustls client that reports what the server served.
//!
//! The client accepts any certificate on purpose: the tests check the served leaf by comparing
//! its DER with the one they generated, which is stricter than chain validation for the
//! question they ask ("which certificate did SNI pick?").

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A generated certificate and its key, PEM and DER.
#[derive(Clone, Debug)]
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// The leaf as the server should send it.
    pub der: CertificateDer<'static>,
}

/// A self-signed ECDSA P-256 certificate for `names` (DNS names, wildcards allowed).
pub fn cert_for(names: &[&str]) -> TestCert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("rcgen certificate");
    TestCert {
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
        der: certified.cert.der().clone(),
    }
}

/// A certificate for `names` that expired in 2020.
pub fn expired_cert_for(names: &[&str]) -> TestCert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("rcgen params");
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let key = rcgen::KeyPair::generate().expect("rcgen key");
    let cert = params.self_signed(&key).expect("rcgen certificate");
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
    }
}

/// A `kubernetes.io/tls` Secret with `tls.crt` and `tls.key` in `stringData` (PEM as written
/// by hand in a manifests folder).
pub fn tls_secret(ns: &str, name: &str, cert: &TestCert) -> Value {
    tls_secret_raw(ns, name, &cert.cert_pem, &cert.key_pem)
}

/// A `kubernetes.io/tls` Secret with arbitrary `tls.crt` / `tls.key` text (broken material).
pub fn tls_secret_raw(ns: &str, name: &str, cert_pem: &str, key_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert_pem, "tls.key": key_pem}
    })
}

/// A finished TLS handshake with Strait.
pub struct Handshake {
    pub stream: TlsStream<TcpStream>,
}

impl Handshake {
    /// The leaf certificate the server sent.
    pub fn leaf(&self) -> CertificateDer<'static> {
        let (_, conn) = self.stream.get_ref();
        let chain = conn.peer_certificates().expect("server sent certificates");
        chain
            .first()
            .expect("a leaf certificate")
            .clone()
            .into_owned()
    }

    /// The ALPN protocol agreed, if any.
    pub fn alpn(&self) -> Option<String> {
        let (_, conn) = self.stream.get_ref();
        conn.alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }
}

/// Connects and completes a TLS handshake, sending `sni` (none: no SNI extension at all) and
/// offering `alpn` (e.g. `["h2", "http/1.1"]`; empty: no ALPN).
pub async fn connect(
    addr: SocketAddr,
    sni: Option<&str>,
    alpn: &[&str],
) -> std::io::Result<Handshake> {
    let tcp = TcpStream::connect(addr).await?;
    connect_over(tcp, sni, alpn).await
}

/// As [`connect`], over an already open socket (one that sent a PROXY header, say).
pub async fn connect_over(
    tcp: TcpStream,
    sni: Option<&str>,
    alpn: &[&str],
) -> std::io::Result<Handshake> {
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.enable_sni = sni.is_some();
    let name = ServerName::try_from(sni.unwrap_or("strait.invalid").to_owned())
        .map_err(std::io::Error::other)?;
    let connect = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let stream = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(std::io::Error::other)??;
    Ok(Handshake { stream })
}

/// Accepts every server certificate (signatures are still checked); the tests compare the leaf
/// themselves, and the handshake benchmark measures the server, not path building.
#[derive(Debug)]
pub struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
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
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
