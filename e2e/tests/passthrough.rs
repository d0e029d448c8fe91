//! TLS passthrough end to end (`ssl-passthrough` with `--enable-ssl-passthrough`;
//! docs/architecture.md, "TLS passthrough"): one HTTPS port where a passthrough host's TLS
//! reaches a backend that terminates it with its own certificate, beside hosts Strait
//! terminates.
//!
//! Semantics from ingress-nginx's docs tls.md "SSL Passthrough" (by SNI; other names go to
//! the usual HTTPS server) and annotations.md "SSL Passthrough", and its e2e
//! `test/e2e/settings/ssl_passthrough.go` ("should enable ssl-passthrough-proxy-port on a
//! different port", "should pass unknown traffic to default backend and handle known
//! traffic"): each test names the case it follows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use strait_controller::serve::Running;
use strait_e2e::backends::{TestCa, https_echo};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::mtls::connect_with;
use strait_e2e::scrape::{Labels, Scrape};
use strait_e2e::tls::{TestCert, cert_for, tls_secret};
use strait_e2e::{Conn, Echo, Manifests, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NGINX: &str = "nginx.ingress.kubernetes.io";

struct World {
    strait: Running,
    _m: Manifests,
    _echo: Echo,
    /// The passthrough backend's own certificate.
    backend_cert: TestCert,
    /// Strait's certificate for the terminated host.
    term_cert: TestCert,
}

/// `pass.test` is passed through to a TLS echo; `term.test` is terminated by Strait.
async fn world(handshake_timeout: Duration) -> World {
    let backend_cert = TestCa::new().issue(&["pass.test"]);
    let tls_backend = https_echo(&backend_cert, None).await;
    let term_cert = cert_for(&["term.test"]);
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let mut items = vec![our_class(), tls_secret("default", "term", &term_cert)];
    items.extend(backend("default", "a", &[echo.addr]));
    items.extend(backend("default", "tls", &[tls_backend]));
    items.push(
        IngressB::new("default", "pass")
            .annotation(&format!("{NGINX}/ssl-passthrough"), "true")
            .rule("pass.test", "/", "Prefix", "tls", 80)
            .build(),
    );
    items.push(
        IngressB::new("default", "term")
            .tls(&["term.test"], Some("term"))
            .rule("term.test", "/", "Prefix", "a", 80)
            .build(),
    );
    m.write_list("world.json", &items);
    let mut config = strait_e2e::config(m.path());
    config.compile.enable_ssl_passthrough = true;
    config.proxy.handshake_timeout = handshake_timeout;
    let strait = strait_controller::serve::start(config)
        .await
        .expect("strait starts");
    let addr = strait.https_addr;
    let want = backend_cert.der.clone();
    eventually("passthrough host served", || {
        let want = want.clone();
        async move {
            let hs = connect_with(addr, "pass.test", None).await.ok()?;
            let cert = hs.stream.get_ref().1.peer_certificates()?.first()?.clone();
            (cert == want).then_some(())
        }
    })
    .await;
    World {
        strait,
        _m: m,
        _echo: echo,
        backend_cert,
        term_cert,
    }
}

/// The leaf certificate the server presented for `sni` (an IP address sends no SNI).
async fn leaf_for(w: &World, sni: &str) -> (CertificateDer<'static>, Conn) {
    let hs = connect_with(w.strait.https_addr, sni, None)
        .await
        .unwrap_or_else(|e| panic!("handshake for {sni}: {e}"));
    let leaf = hs
        .stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("certificates")[0]
        .clone();
    let conn = Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS");
    (leaf, conn)
}

/// ssl_passthrough.go, "should pass unknown traffic to default backend and handle known
/// traffic": the passthrough host's handshake is the backend's own (its certificate, byte
/// for byte, so the same fingerprint), and its HTTP is the backend's; on the same port a
/// terminated host gets Strait's certificate and is routed.
#[tokio::test]
async fn passthrough_beside_a_terminated_host_on_one_port() {
    let w = world(Duration::from_secs(10)).await;
    let before = Scrape::of(&w.strait).await;
    let (leaf, mut conn) = leaf_for(&w, "pass.test").await;
    assert_eq!(leaf, w.backend_cert.der, "the backend's own certificate");
    let reply = conn.get("pass.test", "/x", &[]).await.expect("request");
    assert_eq!(reply.status, 200);
    let spliced = Labels::from([("result".to_owned(), "spliced".to_owned())]);
    let after = Scrape::of(&w.strait).await;
    assert_eq!(
        after.increase(&before, "strait_passthrough_connections_total", &spliced),
        1.0,
        "one connection spliced"
    );
    let seen = reply.json();
    assert_eq!(seen["tls"], true, "TLS terminated by the backend: {seen}");
    assert_eq!(seen["sni"], "pass.test", "{seen}");
    assert_eq!(seen["path"], "/x", "{seen}");

    let (leaf, mut conn) = leaf_for(&w, "term.test").await;
    assert_eq!(
        leaf, w.term_cert.der,
        "Strait's certificate for the terminated host"
    );
    let reply = conn.get("term.test", "/", &[]).await.expect("request");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.echo_name().as_deref(), Some("a"));
}

/// tls.md "SSL Passthrough": "If there is no hostname matching the requested host name, the
/// request is handed over to NGINX": no SNI and an unknown SNI are terminated as before.
#[tokio::test]
async fn no_or_unknown_sni_is_terminated_as_before() {
    let w = world(Duration::from_secs(10)).await;
    for sni in ["127.0.0.1", "other.test"] {
        let (leaf, mut conn) = leaf_for(&w, sni).await;
        assert_ne!(leaf, w.backend_cert.der, "{sni}: not passed through");
        assert_ne!(leaf, w.term_cert.der, "{sni}: the fallback certificate");
        let reply = conn.get("term.test", "/", &[]).await.expect("request");
        assert_eq!(reply.status, 200, "{sni}: routed by Host");
        assert_eq!(reply.echo_name().as_deref(), Some("a"), "{sni}");
    }
}

/// A rustls ClientHello for `sni`, as raw bytes.
fn client_hello(sni: &str) -> Vec<u8> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write");
    }
    out
}

/// Waits (at most `within`) for Strait to close `stream`; how long it took.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("connection still open after {within:?}"),
        }
    }
}

/// The ClientHello is read within the handshake timeout as a whole: a client dribbling it a
/// byte at a time is closed when the timeout ends, not kept alive by each byte.
#[tokio::test]
async fn a_dribbled_client_hello_is_bounded_by_the_handshake_timeout() {
    let timeout = Duration::from_millis(800);
    let w = world(timeout).await;
    let hello = client_hello("pass.test");
    let stream = TcpStream::connect(w.strait.https_addr)
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let dribble = tokio::spawn(async move {
        for byte in hello {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            // Pacing, not synchronisation: the hello would take minutes at this rate.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let outcome = tokio::time::timeout(Duration::from_secs(5), read.read(&mut buf)).await;
    assert!(
        matches!(outcome, Ok(Ok(0) | Err(_))),
        "closed, not answered: {outcome:?}"
    );
    let took = start.elapsed();
    assert!(took >= timeout - Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    dribble.abort();
}

/// A record longer than TLS allows (2^14 bytes) is refused from its header, at once, not
/// buffered until the timeout.
#[tokio::test]
async fn an_oversized_record_is_refused() {
    let w = world(Duration::from_secs(30)).await;
    let mut stream = TcpStream::connect(w.strait.https_addr)
        .await
        .expect("connect");
    stream
        .write_all(b"\x16\x03\x01\x40\x01")
        .await
        .expect("write");
    stream.write_all(&[0u8; 1024]).await.expect("write");
    let took = closed_within(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A hello announcing more than 16 KiB across records: refused as soon as it says so.
    let mut stream = TcpStream::connect(w.strait.https_addr)
        .await
        .expect("connect");
    stream
        .write_all(b"\x16\x03\x01\x00\x04\x01\x01\x00\x00")
        .await
        .expect("write");
    let took = closed_within(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}
