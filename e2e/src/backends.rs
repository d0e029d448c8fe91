//! Backends that speak more than cleartext HTTP/1.1: an echo over TLS (a certificate from a
//! test CA, optionally requiring a client certificate; HTTP/1.1 and HTTP/2 by ALPN) and an
//! echo over HTTP/2 in cleartext (prior knowledge). Each answers JSON describing what it saw:
//! the HTTP version, the path, the `:authority`/`Host`, whether a client certificate came,
//! and the SNI name.
//!
//! A test CA issues the certificates: the CA (`ca.crt`), the server's leaf for given names,
//! and a client certificate. Generated with rcgen, never committed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::tls::TestCert;

/// A test certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("ca key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca certificate"),
        }
    }

    /// The CA certificate, PEM (a Secret's `ca.crt`).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A leaf for `names`, signed by this CA.
    pub fn issue(&self, names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// A Secret for `proxy-ssl-secret`: `ca.crt`, and a client certificate when given.
pub fn proxy_ssl_secret(
    ns: &str,
    name: &str,
    ca: Option<&str>,
    client: Option<&TestCert>,
) -> Value {
    let mut data = serde_json::Map::new();
    if let Some(ca) = ca {
        data.insert("ca.crt".into(), ca.into());
    }
    if let Some(client) = client {
        data.insert("tls.crt".into(), client.cert_pem.clone().into());
        data.insert("tls.key".into(), client.key_pem.clone().into());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": data,
    })
}

/// An echo over TLS on 127.0.0.2 with `cert`, offering `h2` and `http/1.1`; with
/// `client_ca`, a client certificate signed by it is required.
pub async fn https_echo(cert: &TestCert, client_ca: Option<CertificateDer<'static>>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca).expect("client ca");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("private key");
    let mut config = builder
        .with_single_cert(vec![cert.der.clone()], key)
        .expect("server cert");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (_, conn) = tls.get_ref();
                let seen = Seen {
                    sni: conn.server_name().map(str::to_owned),
                    client_cert: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
                    tls: true,
                };
                serve(TokioIo::new(tls), seen).await;
            });
        }
    });
    addr
}

/// An echo over HTTP/2 in cleartext (prior knowledge) on 127.0.0.2.
pub async fn h2c_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = Seen {
                sni: None,
                client_cert: false,
                tls: false,
            };
            tokio::spawn(serve(TokioIo::new(tcp), seen));
        }
    });
    addr
}

#[derive(Clone)]
struct Seen {
    sni: Option<String>,
    client_cert: bool,
    tls: bool,
}

async fn serve<I>(io: TokioIo<I>, seen: Seen)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let seen = seen.clone();
        async move {
            let version = format!("{:?}", request.version());
            let authority = request
                .uri()
                .authority()
                .map(|a| a.to_string())
                .or_else(|| {
                    let host = request.headers().get(http::header::HOST)?;
                    host.to_str().ok().map(str::to_owned)
                });
            let path = request.uri().path().to_owned();
            let body = request.into_body().collect().await.map(|b| b.to_bytes());
            let body = json!({
                "version": version,
                "authority": authority,
                "path": path,
                "tls": seen.tls,
                "sni": seen.sni,
                "client_cert": seen.client_cert,
                "body_len": body.map(|b| b.len()).unwrap_or(0),
            });
            let response = Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .expect("response");
            Ok::<_, Infallible>(response)
        }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
}
