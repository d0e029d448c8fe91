//! TLS termination end to end (docs/architecture.md, "TLS" and "Client IP"): which
//! certificate each handshake gets, ALPN, what happens after the handshake (routing by `Host`,
//! HSTS, forwarding headers), certificate rotation and broken Secrets.
//!
//! The client accepts any certificate; the tests compare the served leaf's DER with the one
//! they generated. Hostile handshakes are in `tls_hostile.rs`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{TestCert, cert_for, connect, expired_cert_for, tls_secret, tls_secret_raw};
use strait_e2e::{Conn, Echo, Manifests, Reply, config, eventually, get, start};
use strait_shared::ObjectKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The HSTS value Strait adds by default (as ingress-nginx).
const HSTS: &str = "max-age=31536000; includeSubDomains";
/// The Common Name of the self-signed certificate Strait generates at start.
const FALLBACK_CN: &[u8] = b"Strait Default Certificate";

#[tokio::test]
async fn sni_picks_exact_then_one_label_wildcard_then_the_generated_fallback() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let addr = s.https_addr;

    assert_eq!(leaf(addr, Some("a.example.com")).await, certs.a.der);
    assert_eq!(
        leaf(addr, Some("A.Example.COM")).await,
        certs.a.der,
        "SNI is case-insensitive"
    );
    assert_eq!(leaf(addr, Some("x.wild.test")).await, certs.wild.der);
    assert_eq!(
        leaf(addr, Some("exact.wild.test")).await,
        certs.exact_wild.der,
        "an exact certificate beats a wildcard one"
    );
    let fallback = leaf(addr, None).await;
    assert_fallback(&fallback, "no SNI");
    for sni in [
        "x.y.wild.test",
        "wild.test",
        "unknown.test",
        "b.example.com",
    ] {
        let served = leaf(addr, Some(sni)).await;
        assert_eq!(served, fallback, "{sni}: the generated fallback");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn configured_default_certificate_serves_unknown_and_missing_sni() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let default = cert_for(&["default.example.net"]);
    m.write_list(
        "default-tls.json",
        &[tls_secret("ops", "default-tls", &default)],
    );
    let mut cfg = config(m.path());
    cfg.compile.default_ssl_certificate = Some(ObjectKey::new("ops", "default-tls"));
    let s = strait_controller::serve::start(cfg).await.expect("start");
    let addr = s.https_addr;

    assert_eq!(leaf(addr, None).await, default.der, "no SNI");
    assert_eq!(leaf(addr, Some("unknown.test")).await, default.der);
    assert_eq!(leaf(addr, Some("x.y.wild.test")).await, default.der);
    assert_eq!(leaf(addr, Some("a.example.com")).await, certs.a.der);
    assert_eq!(leaf(addr, Some("x.wild.test")).await, certs.wild.der);
    s.shutdown().await.unwrap();
}

/// Intended (docs/architecture.md, "TLS": "Routing after the handshake still goes by `Host`"): SNI
/// only picks the certificate; as in ingress-nginx, a client may reuse one connection for every
/// host its certificate covers.
#[tokio::test]
async fn routing_after_the_handshake_goes_by_host_not_sni() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let mut conn = https(&s, "a.example.com").await;
    let r = conn.get("b.example.com", "/", &[]).await.unwrap();
    assert_eq!(r.echo_name().as_deref(), Some("b"), "{}", r.text());
    let r = conn.get("a.example.com", "/", &[]).await.unwrap();
    assert_eq!(r.echo_name().as_deref(), Some("a"), "{}", r.text());
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn alpn_offering_h2_negotiates_h2_and_serves_http2() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let hs = connect(s.https_addr, Some("a.example.com"), &["h2", "http/1.1"])
        .await
        .expect("handshake");
    assert_eq!(hs.alpn().as_deref(), Some("h2"));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(hs.stream))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let request = Request::get("https://a.example.com/over-h2")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("HTTP/2 response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    let r = Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    };
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    assert_eq!(r.json()["path"], "/over-h2");
    assert_eq!(
        r.echoed_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(hsts(&r).as_deref(), Some(HSTS));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn alpn_offering_only_http11_or_nothing_serves_http1() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    for (offer, agreed) in [(&["http/1.1"][..], Some("http/1.1")), (&[][..], None)] {
        let hs = connect(s.https_addr, Some("a.example.com"), offer)
            .await
            .expect("handshake");
        assert_eq!(hs.alpn().as_deref(), agreed, "offered {offer:?}");
        let mut conn = Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS");
        let r = conn.get("a.example.com", "/", &[]).await.expect("request");
        assert_eq!(r.echo_name().as_deref(), Some("a"), "offered {offer:?}");
        assert_eq!(r.json()["version"], "HTTP/1.1");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls12_and_tls13_both_negotiate_and_the_served_chain_verifies_for_its_host() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let stream = verified_connect(&s, "a.example.com", &certs.a, version).await;
        let negotiated = stream.get_ref().1.protocol_version();
        assert_eq!(negotiated, Some(version.version));
        let mut conn = Conn::over(stream).await.expect("HTTP/1.1 over TLS");
        let r = conn.get("a.example.com", "/", &[]).await.expect("request");
        assert_eq!(r.echo_name().as_deref(), Some("a"), "{:?}", version.version);
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn hsts_is_added_to_https_responses_including_our_own_404_and_never_to_plain_http() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let mut conn = https(&s, "a.example.com").await;
    let proxied = conn.get("a.example.com", "/", &[]).await.unwrap();
    assert_eq!(proxied.echo_name().as_deref(), Some("a"));
    assert_eq!(hsts(&proxied).as_deref(), Some(HSTS));
    let own_404 = conn.get("nothing.test", "/", &[]).await.unwrap();
    assert_eq!(own_404.status, 404);
    assert_eq!(hsts(&own_404).as_deref(), Some(HSTS), "Strait's own 404");

    let plain = get(s.http_addr, "b.example.com", "/").await;
    assert_eq!(plain.echo_name().as_deref(), Some("b"));
    assert_eq!(hsts(&plain), None, "plain HTTP must not carry HSTS");
    let plain_404 = get(s.http_addr, "nothing.test", "/").await;
    assert_eq!(plain_404.status, 404);
    assert_eq!(hsts(&plain_404), None);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn hsts_from_the_upstream_is_kept_and_none_turns_ours_off() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let sts = fixed_backend("strict-transport-security: max-age=60").await;
    let mut items = backend("default", "sts", &[sts]);
    items.push(
        IngressB::new("default", "sts")
            .rule("sts.test", "/", "Prefix", "sts", 80)
            .build(),
    );
    m.write_list("sts.json", &items);
    let s = start(m.path()).await;
    let r = with(https(&s, "a.example.com").await, "sts.test").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(hsts(&r).as_deref(), Some("max-age=60"), "upstream's wins");
    assert_eq!(
        r.headers
            .get_all("strict-transport-security")
            .iter()
            .count(),
        1
    );
    s.shutdown().await.unwrap();

    let mut cfg = config(m.path());
    cfg.proxy.hsts = None;
    let s = strait_controller::serve::start(cfg).await.expect("start");
    let r = with(https(&s, "a.example.com").await, "a.example.com").await;
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    assert_eq!(hsts(&r), None, "hsts: None turns it off");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn upstream_sees_forwarded_proto_https_and_the_https_listener_port() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let spoof = [("x-forwarded-proto", "http"), ("x-forwarded-port", "1")];
    let r = with_headers(https(&s, "a.example.com").await, "a.example.com", &spoof).await;
    assert_eq!(
        r.echoed_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    let port = s.https_addr.port().to_string();
    assert_eq!(r.echoed_header("x-forwarded-port"), Some(port));
    assert_eq!(r.json()["host"], "a.example.com", "Host preserved");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn rotated_secret_serves_new_handshakes_while_open_connections_keep_theirs() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let hs = connect(s.https_addr, Some("a.example.com"), &["http/1.1"])
        .await
        .expect("handshake");
    let old_leaf = hs.leaf();
    assert_eq!(old_leaf, certs.a.der);
    let mut old = Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS");
    let r = old.get("a.example.com", "/", &[]).await.unwrap();
    assert_eq!(r.echo_name().as_deref(), Some("a"));

    let rotated = cert_for(&["a.example.com"]);
    let written = Instant::now();
    m.write_list("a-tls.json", &[tls_secret("default", "a-tls", &rotated)]);
    let addr = s.https_addr;
    eventually("new handshakes get the rotated certificate", || async {
        (leaf(addr, Some("a.example.com")).await == rotated.der).then_some(())
    })
    .await;
    eprintln!(
        "rotated certificate served {:?} after the write",
        written.elapsed()
    );

    // TLS has no renegotiation: a connection that still answers on the same session is still
    // on the certificate it was established with.
    let r = old
        .get("a.example.com", "/again", &[])
        .await
        .expect("keep-alive");
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    assert!(!old.is_closed(), "rotation closed an open connection");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn removed_secret_falls_back_to_the_generated_certificate() {
    let certs = Certs::new();
    let (m, _e) = scenario(&certs).await;
    let s = start(m.path()).await;
    let addr = s.https_addr;
    assert_eq!(leaf(addr, Some("a.example.com")).await, certs.a.der);
    m.remove("a-tls.json");
    let served = eventually("the removed Secret's host gets the fallback", || async {
        let served = leaf(addr, Some("a.example.com")).await;
        (served != certs.a.der).then_some(served)
    })
    .await;
    assert_fallback(&served, "a.example.com after its Secret was removed");
    assert_eq!(leaf(addr, Some("x.wild.test")).await, certs.wild.der);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn broken_secrets_get_the_fallback_while_valid_neighbours_keep_their_own() {
    let (a, _b) = strait_e2e::echoes_ab().await;
    let good = cert_for(&["good.example.com"]);
    let other = cert_for(&["mismatch.example.com"]);
    let elsewhere = cert_for(&["elsewhere.example.com"]);
    let bad_pem = "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n";
    let bad_key = "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n";
    // host → Secret (all in one file, with the valid one among them).
    let cases: [(&str, Value); 6] = [
        ("good.example.com", tls_secret("default", "good", &good)),
        (
            "mismatch.example.com",
            tls_secret_raw("default", "mismatch", &other.cert_pem, &good.key_pem),
        ),
        (
            "badcert.example.com",
            tls_secret_raw("default", "badcert", bad_pem, &good.key_pem),
        ),
        (
            "nopem.example.com",
            tls_secret_raw("default", "nopem", "not a certificate", &good.key_pem),
        ),
        (
            "badkey.example.com",
            tls_secret_raw("default", "badkey", &good.cert_pem, bad_key),
        ),
        (
            "uncovered.example.com",
            tls_secret("default", "uncovered", &elsewhere),
        ),
    ];
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    let mut ingress = IngressB::new("default", "broken");
    for (host, secret) in &cases {
        let name = secret["metadata"]["name"].as_str().expect("name");
        ingress = ingress
            .rule(host, "/", "Prefix", "a", 80)
            .tls(&[*host], Some(name));
    }
    // Entries naming a Secret that is not there: none at all, and one that exists only in
    // another namespace (an Ingress uses Secrets of its own namespace only).
    let foreign = cert_for(&["foreign.example.com"]);
    items.push(tls_secret("other", "foreign", &foreign));
    let absent = [
        ("missing.example.com", "no-such-secret"),
        ("foreign.example.com", "foreign"),
    ];
    for (host, secret) in absent {
        ingress = ingress
            .rule(host, "/", "Prefix", "a", 80)
            .tls(&[host], Some(secret));
    }
    items.push(ingress.build());
    items.extend(cases.iter().map(|(_, secret)| secret.clone()));
    m.write_list("all.json", &items);
    let s = start(m.path()).await;
    let addr = s.https_addr;

    assert_eq!(leaf(addr, Some("good.example.com")).await, good.der);
    let fallback = leaf(addr, None).await;
    assert_fallback(&fallback, "no SNI");
    let broken = cases.iter().map(|(h, _)| *h).skip(1);
    for host in broken.chain(absent.map(|(h, _)| h)) {
        assert_eq!(leaf(addr, Some(host)).await, fallback, "{host}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_certificate_is_still_served() {
    let (a, _b) = strait_e2e::echoes_ab().await;
    let expired = expired_cert_for(&["old.example.com"]);
    let m = Manifests::new();
    let mut items = vec![our_class(), tls_secret("default", "old", &expired)];
    items.extend(backend("default", "a", &[a.addr]));
    items.push(
        IngressB::new("default", "old")
            .rule("old.example.com", "/", "Prefix", "a", 80)
            .tls(&["old.example.com"], Some("old"))
            .build(),
    );
    m.write_list("all.json", &items);
    let s = start(m.path()).await;
    let hs = connect(s.https_addr, Some("old.example.com"), &[])
        .await
        .expect("handshake");
    assert_eq!(hs.leaf(), expired.der);
    let r = with(Conn::over(hs.stream).await.unwrap(), "old.example.com").await;
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    s.shutdown().await.unwrap();
}

// ---- helpers ----------------------------------------------------------------------------

/// The certificates of [`scenario`].
struct Certs {
    a: TestCert,
    wild: TestCert,
    exact_wild: TestCert,
}

impl Certs {
    fn new() -> Self {
        Self {
            a: cert_for(&["a.example.com"]),
            wild: cert_for(&["*.wild.test"]),
            exact_wild: cert_for(&["exact.wild.test"]),
        }
    }
}

/// Echo `a` behind `a.example.com` (Secret `a-tls`, in its own file `a-tls.json`), echo `b`
/// behind `b.example.com` (no TLS entry) and `*.wild.test` (Secret `wild-tls`, but
/// `exact.wild.test` has its own, `exact-wild-tls`).
async fn scenario(certs: &Certs) -> (Manifests, [Echo; 2]) {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    let mut items = vec![
        our_class(),
        tls_secret("default", "wild-tls", &certs.wild),
        tls_secret("default", "exact-wild-tls", &certs.exact_wild),
    ];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "b", &[b.addr]));
    items.push(
        IngressB::new("default", "web")
            .rule("a.example.com", "/", "Prefix", "a", 80)
            .rule("b.example.com", "/", "Prefix", "b", 80)
            .rule("*.wild.test", "/", "Prefix", "b", 80)
            .tls(&["a.example.com"], Some("a-tls"))
            .tls(&["*.wild.test"], Some("wild-tls"))
            .tls(&["exact.wild.test"], Some("exact-wild-tls"))
            .build(),
    );
    m.write_list("scenario.json", &items);
    m.write_list("a-tls.json", &[tls_secret("default", "a-tls", &certs.a)]);
    (m, [a, b])
}

/// The leaf served to a fresh handshake with `sni`.
async fn leaf(addr: std::net::SocketAddr, sni: Option<&str>) -> CertificateDer<'static> {
    let hs = connect(addr, sni, &[]).await;
    hs.unwrap_or_else(|e| panic!("handshake with SNI {sni:?}: {e}"))
        .leaf()
}

fn assert_fallback(der: &CertificateDer<'_>, what: &str) {
    let found = der.windows(FALLBACK_CN.len()).any(|w| w == FALLBACK_CN);
    assert!(found, "{what}: expected the generated fallback certificate");
}

/// An HTTP/1.1 connection over TLS with `sni` (no ALPN offered).
async fn https(s: &Running, sni: &str) -> Conn {
    let hs = connect(s.https_addr, Some(sni), &[])
        .await
        .expect("handshake");
    Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS")
}

async fn with(conn: Conn, host: &str) -> Reply {
    with_headers(conn, host, &[]).await
}

async fn with_headers(mut conn: Conn, host: &str, headers: &[(&str, &str)]) -> Reply {
    conn.get(host, "/", headers).await.expect("request")
}

fn hsts(r: &Reply) -> Option<String> {
    let value = r.headers.get("strict-transport-security")?;
    Some(value.to_str().expect("ASCII").to_owned())
}

/// A TLS connection that only `version` and a real verifier (trusting `cert` alone) accept.
async fn verified_connect(
    s: &Running,
    host: &str,
    cert: &TestCert,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).expect("trust the test cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("version")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(s.https_addr).await.expect("connect");
    let name = ServerName::try_from(host.to_owned()).expect("name");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = connector.connect(name, tcp);
    tokio::time::timeout(strait_e2e::DEADLINE, connect)
        .await
        .expect("handshake in time")
        .unwrap_or_else(|e| {
            panic!(
                "{:?} handshake with a verifying client: {e}",
                version.version
            )
        })
}

/// A backend on 127.0.0.4 that answers every request `200 ok` with `header` added.
async fn fixed_backend(header: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.4:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let reply =
                            format!("HTTP/1.1 200 OK\r\n{header}\r\ncontent-length: 2\r\n\r\nok");
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}
