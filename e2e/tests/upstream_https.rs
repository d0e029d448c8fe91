//! Upstream protocols through the real proxy (docs/architecture.md, "Upstream protocols"):
//! `backend-protocol: HTTPS` with and without verification (annotations.md "Backend
//! Protocol" and "Backend Certificate Authentication"; test/e2e/annotations/backendprotocol.go
//! and proxyssl.go), client certificates, a CA that does not match (502), `GRPC`/`H2C` over
//! HTTP/2 cleartext, `AUTO_HTTP` on the HTTPS listener (ALPN), and a Service port's
//! `appProtocol: kubernetes.io/h2c` (Gateway API's reading).

use std::net::SocketAddr;

use http::StatusCode;
use serde_json::Value;
use strait_controller::serve::Running;
use strait_e2e::backends::{TestCa, h2c_echo, https_echo, proxy_ssl_secret};
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, Manifests, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "app.test";
/// The name the backend's certificate is issued for.
const BACKEND_NAME: &str = "backend.internal";

struct Scene {
    running: Running,
    _manifests: Manifests,
}

async fn scene(upstream: SocketAddr, annotations: &[(&str, &str)], extra: Vec<Value>) -> Scene {
    let mut ingress = IngressB::new("default", "app").rule(HOST, "/", "Prefix", "app", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "app", &[upstream]));
    items.extend(extra);
    let manifests = Manifests::new();
    manifests.write_list("app.json", &items);
    let running = start(manifests.path()).await;
    Scene {
        running,
        _manifests: manifests,
    }
}

async fn get(scene: &Scene) -> strait_e2e::Reply {
    get_with(scene.running.http_addr, HOST, "/x", &[]).await
}

/// "should use HTTPS as backend-protocol" (backendprotocol.go): the request reaches a TLS
/// backend; unverified and without SNI by default (nginx's `proxy_ssl_verify off`,
/// `proxy_ssl_server_name off`).
#[tokio::test]
async fn https_backend_unverified_without_sni() {
    let ca = TestCa::new();
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), None).await;
    let scene = scene(upstream, &[("backend-protocol", "HTTPS")], vec![]).await;
    let reply = get(&scene).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = reply.json();
    assert_eq!(seen["tls"], true);
    assert_eq!(seen["version"], "HTTP/1.1");
    assert_eq!(seen["sni"], Value::Null);
    assert_eq!(seen["path"], "/x");
}

/// "should set valid proxy-ssl-secret" / "proxy-ssl-verify on" (proxyssl.go): the backend's
/// certificate verifies against `ca.crt` for `proxy-ssl-name`, which SNI sends with
/// `proxy-ssl-server-name: on`.
#[tokio::test]
async fn https_backend_verified_with_the_secret_ca() {
    let ca = TestCa::new();
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), None).await;
    let secret = proxy_ssl_secret("default", "upstream-ca", Some(&ca.pem()), None);
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/upstream-ca"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-name", BACKEND_NAME),
        ("proxy-ssl-server-name", "on"),
    ];
    let scene = scene(upstream, &annotations, vec![secret]).await;
    let reply = get(&scene).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["sni"], BACKEND_NAME);
    assert_eq!(reply.json()["client_cert"], false);
}

/// A backend that requires a client certificate: the Secret's `tls.crt`/`tls.key` is
/// presented (proxyssl.go's client certificate case); without one the handshake fails: 502.
#[tokio::test]
async fn client_certificate_from_the_secret() {
    let ca = TestCa::new();
    let client = ca.issue(&["strait.client"]);
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), Some(ca.der())).await;
    let with = proxy_ssl_secret("default", "with-client", Some(&ca.pem()), Some(&client));
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/with-client"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-name", BACKEND_NAME),
    ];
    let scene = scene(upstream, &annotations, vec![with]).await;
    let reply = get(&scene).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["client_cert"], true);

    let without = proxy_ssl_secret("default", "ca-only", Some(&ca.pem()), None);
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/ca-only"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-name", BACKEND_NAME),
    ];
    let scene = self::scene(upstream, &annotations, vec![without]).await;
    assert_eq!(get(&scene).await.status, StatusCode::BAD_GATEWAY);
}

/// A `ca.crt` that did not sign the backend's certificate, or a name it does not cover: the
/// backend is not trusted, 502 (nginx's "upstream SSL certificate verify error").
#[tokio::test]
async fn wrong_ca_or_name_is_a_bad_gateway() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), None).await;
    let secret = proxy_ssl_secret("default", "other-ca", Some(&other.pem()), None);
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/other-ca"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-name", BACKEND_NAME),
    ];
    let scene = scene(upstream, &annotations, vec![secret]).await;
    let reply = get(&scene).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());

    let secret = proxy_ssl_secret("default", "right-ca", Some(&ca.pem()), None);
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/right-ca"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-name", "someone.else"),
    ];
    let scene = self::scene(upstream, &annotations, vec![secret]).await;
    assert_eq!(get(&scene).await.status, StatusCode::BAD_GATEWAY);
}

/// Fail closed: `proxy-ssl-verify: on` with a missing Secret, or with none at all, refuses
/// the routes (503) rather than talking to an unverified backend.
#[tokio::test]
async fn verification_without_a_usable_secret_refuses_the_routes() {
    let ca = TestCa::new();
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), None).await;
    let annotations = [
        ("backend-protocol", "HTTPS"),
        ("proxy-ssl-secret", "default/missing"),
        ("proxy-ssl-verify", "on"),
    ];
    let scene = scene(upstream, &annotations, vec![]).await;
    assert_eq!(get(&scene).await.status, StatusCode::SERVICE_UNAVAILABLE);
    let annotations = [("backend-protocol", "HTTPS"), ("proxy-ssl-verify", "on")];
    let scene = self::scene(upstream, &annotations, vec![]).await;
    assert_eq!(get(&scene).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// `FCGI` is not spoken: the routes are refused (503), never sent as HTTP.
#[tokio::test]
async fn fcgi_is_refused() {
    let upstream = h2c_echo().await;
    let scene = scene(upstream, &[("backend-protocol", "FCGI")], vec![]).await;
    assert_eq!(get(&scene).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// `GRPC` and `H2C` speak HTTP/2 with prior knowledge, with the client's `Host` as
/// `:authority`; requests share the connection (several in a row on one client connection).
#[tokio::test]
async fn grpc_and_h2c_speak_http2_in_cleartext() {
    for protocol in ["GRPC", "H2C"] {
        let upstream = h2c_echo().await;
        let scene = scene(upstream, &[("backend-protocol", protocol)], vec![]).await;
        let mut conn = Conn::open(scene.running.http_addr).await.expect("connect");
        for _ in 0..3 {
            let reply = conn.get(HOST, "/h2", &[]).await.expect("reply");
            assert_eq!(reply.status, StatusCode::OK, "{protocol}: {}", reply.text());
            let seen = reply.json();
            assert_eq!(seen["version"], "HTTP/2.0", "{protocol}");
            assert_eq!(seen["authority"], HOST, "{protocol}");
            assert_eq!(seen["path"], "/h2");
        }
    }
}

/// A Service port with `appProtocol: kubernetes.io/h2c` and no `backend-protocol`: HTTP/2 in
/// cleartext (Gateway API's GEP-1911 reading, as Contour does).
#[tokio::test]
async fn app_protocol_h2c_is_honoured() {
    let upstream = h2c_echo().await;
    let mut items = vec![
        our_class(),
        IngressB::new("default", "app")
            .rule(HOST, "/", "Prefix", "app", 80)
            .build(),
    ];
    let mut service = backend("default", "app", &[upstream]);
    service[0]["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/h2c".into();
    items.extend(service);
    let manifests = Manifests::new();
    manifests.write_list("app.json", &items);
    let running = start(manifests.path()).await;
    let reply = get_with(running.http_addr, HOST, "/", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["version"], "HTTP/2.0");
}

/// `AUTO_HTTP` follows the client's scheme (ingress-nginx's `$scheme://`): on the HTTPS
/// listener the backend is reached over TLS, where ALPN picks `h2`.
#[tokio::test]
async fn auto_http_on_the_https_listener_uses_tls_and_alpn() {
    let ca = TestCa::new();
    let upstream = https_echo(&ca.issue(&[BACKEND_NAME]), None).await;
    let scene = scene(upstream, &[("backend-protocol", "AUTO_HTTP")], vec![]).await;
    let handshake = strait_e2e::tls::connect(scene.running.https_addr, Some(HOST), &["http/1.1"])
        .await
        .expect("tls to strait");
    let mut conn = Conn::over(handshake.stream).await.expect("http over tls");
    let reply = conn.get(HOST, "/auto", &[]).await.expect("reply");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = reply.json();
    assert_eq!(seen["tls"], true);
    assert_eq!(seen["version"], "HTTP/2.0");
}
