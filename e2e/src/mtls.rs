//! Client certificates for the tests: a generated CA that issues client certificates, the
//! `ca.crt` Secret that trusts it, and a TLS client that presents one (or none) and reports
//! whether the server asked for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tls::{AcceptAnyCertificate, TestCert};

/// A generated certificate authority.
pub struct TestCa {
    pub cert_pem: String,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl TestCa {
    /// A self-signed CA with Common Name `cn`.
    pub fn new(cn: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert_pem: cert.pem(),
            params,
            key,
        }
    }

    /// A client certificate with Common Name `cn`, issued by this CA.
    pub fn issue(&self, cn: &str) -> TestCert {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().expect("key");
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("client certificate");
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// An `Opaque` Secret with `ca.crt` (as `kubectl create secret generic --from-file=ca.crt`).
pub fn ca_secret(ns: &str, name: &str, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": {"ca.crt": ca_pem}
    })
}

/// A TLS connection to Strait that may have presented a client certificate.
pub struct ClientHandshake {
    pub stream: TlsStream<TcpStream>,
    /// Whether the server sent a CertificateRequest.
    pub asked: bool,
}

/// Connects with SNI `sni`, presenting `client` when the server asks for a certificate.
pub async fn connect_with(
    addr: SocketAddr,
    sni: &str,
    client: Option<&TestCert>,
) -> std::io::Result<ClientHandshake> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = match client {
        Some(c) => {
            let der = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())
                .map_err(std::io::Error::other)?;
            let ck = CertifiedKey::from_der(vec![c.der.clone()], der, &provider)
                .map_err(std::io::Error::other)?;
            Some(Arc::new(ck))
        }
        None => None,
    };
    let asked = Arc::new(AtomicBool::new(false));
    let resolver = Arc::new(Presenter {
        key,
        asked: Arc::clone(&asked),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
        .with_client_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr).await?;
    let connect = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let stream = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(std::io::Error::other)??;
    Ok(ClientHandshake {
        stream,
        asked: asked.load(Ordering::SeqCst),
    })
}

use rustls::pki_types::pem::PemObject;

/// Presents its certificate (if any) and records that the server asked.
#[derive(Debug)]
struct Presenter {
    key: Option<Arc<CertifiedKey>>,
    asked: Arc<AtomicBool>,
}

impl ResolvesClientCert for Presenter {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::SeqCst);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}
