//! Client-certificate authentication end to end (`auth-tls-*`; docs/architecture.md, "Client
//! certificates"): real TLS handshakes with generated CAs and client certificates against
//! one Strait whose hosts use each `auth-tls-verify-client` mode.
//!
//! Semantics from ingress-nginx's annotations.md, "Client Certificate Authentication", and
//! its e2e `test/e2e/annotations/authtls.go`; each test names the case it follows.

use std::net::SocketAddr;

use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::mtls::{ClientHandshake, TestCa, ca_secret, connect_with};
use strait_e2e::tls::TestCert;
use strait_e2e::{Conn, Echo, Manifests, Reply, eventually, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";

struct World {
    strait: Running,
    _m: Manifests,
    _echo: Echo,
    /// Issued by the CA the hosts trust.
    alice: TestCert,
    /// Issued by the trusted CA, a Common Name `auth-tls-match-cn` refuses.
    carol: TestCert,
    /// Issued by a CA nobody trusts.
    mallory: TestCert,
}

/// One host per mode; `plain.test` has no client auth.
async fn world() -> World {
    let trusted = TestCa::new("Test CA");
    let other = TestCa::new("Other CA");
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let mut items = vec![
        our_class(),
        ca_secret("default", "client-ca", &trusted.cert_pem),
    ];
    items.push(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "no-ca", "namespace": "default"},
        "type": "Opaque", "stringData": {"other": "x"}
    }));
    items.extend(backend("default", "a", &[echo.addr]));
    let hosts: &[(&str, &[(&str, &str)])] = &[
        ("on.test", &[("auth-tls-secret", "default/client-ca")]),
        (
            "opt.test",
            &[
                ("auth-tls-secret", "client-ca"),
                ("auth-tls-verify-client", "optional"),
            ],
        ),
        (
            "noca.test",
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-verify-client", "optional_no_ca"),
                ("auth-tls-pass-certificate-to-upstream", "true"),
            ],
        ),
        (
            "off.test",
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-verify-client", "off"),
            ],
        ),
        (
            "cn.test",
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-match-cn", "CN=(alice|bob)"),
            ],
        ),
        (
            "page.test",
            &[
                ("auth-tls-secret", "default/client-ca"),
                ("auth-tls-error-page", "http://errors.test/cert"),
            ],
        ),
        ("missing.test", &[("auth-tls-secret", "default/nothing")]),
        ("noca-secret.test", &[("auth-tls-secret", "default/no-ca")]),
        ("plain.test", &[]),
    ];
    for (host, annotations) in hosts {
        let mut ingress = IngressB::new("default", &host.replace('.', "-"));
        for (k, v) in *annotations {
            ingress = ingress.annotation(&format!("{NGINX}/{k}"), v);
        }
        items.push(ingress.rule(host, "/", "Prefix", "a", 80).build());
    }
    m.write_list("world.json", &items);
    let strait = start(m.path()).await;
    let addr = strait.http_addr;
    eventually("routes served", || async move {
        let r = strait_e2e::get(addr, "plain.test", "/").await;
        (r.status == 200).then_some(())
    })
    .await;
    World {
        strait,
        _m: m,
        _echo: echo,
        alice: trusted.issue("alice"),
        carol: trusted.issue("carol"),
        mallory: other.issue("alice"),
    }
}

impl World {
    fn https(&self) -> SocketAddr {
        self.strait.https_addr
    }

    /// A handshake for `sni` presenting `cert`, then one GET with `Host: host`.
    async fn get(&self, sni: &str, cert: Option<&TestCert>, host: &str) -> (Reply, bool) {
        let hs = self.handshake(sni, cert).await;
        let asked = hs.asked;
        (request(hs, host, &[]).await, asked)
    }

    async fn handshake(&self, sni: &str, cert: Option<&TestCert>) -> ClientHandshake {
        connect_with(self.https(), sni, cert)
            .await
            .unwrap_or_else(|e| panic!("handshake for {sni}: {e}"))
    }
}

async fn request(hs: ClientHandshake, host: &str, headers: &[(&str, &str)]) -> Reply {
    let mut conn = Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS");
    conn.get(host, "/", headers).await.expect("request")
}

/// authtls.go, "should set sslClientCertificate, sslVerifyClient and sslVerifyDepth with
/// auth-tls-secret" (400 without a certificate, 200 with one) and annotations.md (`on`: a
/// certificate not signed by `ca.crt` is 400). The handshake completes either way: the
/// answer is HTTP, which the client can read.
#[tokio::test]
async fn verify_on_requires_a_certificate_of_the_ca() {
    let w = world().await;
    let (r, asked) = w.get("on.test", None, "on.test").await;
    assert!(asked, "a CertificateRequest was sent");
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "No required SSL certificate was sent");

    let (r, _) = w.get("on.test", Some(&w.mallory), "on.test").await;
    assert_eq!(r.status, 400, "another CA's certificate");
    assert_eq!(r.text(), "The SSL certificate error");

    let (r, _) = w.get("on.test", Some(&w.alice), "on.test").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(
        r.echoed_header("ssl-client-subject-dn").as_deref(),
        Some("CN=alice")
    );
    assert_eq!(
        r.echoed_header("ssl-client-issuer-dn").as_deref(),
        Some("CN=Test CA")
    );
    assert_eq!(
        r.echoed_header("ssl-client-cert"),
        None,
        "not passed unless asked"
    );
    w.strait.shutdown().await.unwrap();
}

/// authtls.go, "should validate auth-tls-verify-client" and annotations.md: `optional` lets
/// a client without a certificate through (verdict `NONE` upstream) but refuses one that
/// fails; `optional_no_ca` refuses nothing and sends the verdict; `off` asks for nothing.
/// What the client sends as `ssl-client-*` never reaches the upstream of such a host.
#[tokio::test]
async fn optional_optional_no_ca_and_off() {
    let w = world().await;
    let spoof = [
        ("ssl-client-verify", "SUCCESS"),
        ("ssl-client-subject-dn", "CN=alice"),
    ];
    let hs = w.handshake("opt.test", None).await;
    let r = request(hs, "opt.test", &spoof).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("NONE")
    );
    assert_eq!(
        r.echoed_header("ssl-client-subject-dn"),
        None,
        "spoofed DN removed"
    );
    let (r, _) = w.get("opt.test", Some(&w.mallory), "opt.test").await;
    assert_eq!(
        r.status, 400,
        "optional still refuses a failing certificate"
    );
    let (r, _) = w.get("opt.test", Some(&w.alice), "opt.test").await;
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("SUCCESS")
    );

    let (r, asked) = w.get("noca.test", Some(&w.mallory), "noca.test").await;
    assert!(asked);
    assert_eq!(r.status, 200, "optional_no_ca refuses nothing");
    let verdict = r.echoed_header("ssl-client-verify").unwrap_or_default();
    assert!(verdict.starts_with("FAILED:"), "{verdict}");
    assert_eq!(
        r.echoed_header("ssl-client-issuer-dn").as_deref(),
        Some("CN=Other CA")
    );
    // authtls.go, "should pass URL-encoded certificate to upstream".
    let cert = r.echoed_header("ssl-client-cert").unwrap_or_default();
    assert!(
        cert.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
        "{cert}"
    );
    let (r, _) = w.get("noca.test", None, "noca.test").await;
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("NONE")
    );
    assert_eq!(r.echoed_header("ssl-client-cert"), None);

    // authtls.go, "should set valid auth-tls-secret, sslVerify to off".
    let (r, asked) = w.get("off.test", Some(&w.alice), "off.test").await;
    assert!(!asked, "off sends no CertificateRequest");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("NONE")
    );

    let hs = w.handshake("plain.test", Some(&w.alice)).await;
    assert!(
        !hs.asked,
        "a host without client auth is not asked for a certificate"
    );
    let r = request(hs, "plain.test", &spoof).await;
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("SUCCESS"),
        "a host without client auth passes the header on, as nginx does"
    );
    w.strait.shutdown().await.unwrap();
}

/// authtls.go, "should return 403 using auth-tls-match-cn with no matching CN from client"
/// and "... where atleast one of the regex options matches"; "should 302 redirect to error
/// page instead of 400 when auth-tls-error-page is set".
#[tokio::test]
async fn match_cn_and_error_page() {
    let w = world().await;
    let (r, _) = w.get("cn.test", Some(&w.alice), "cn.test").await;
    assert_eq!(r.status, 200);
    let (r, _) = w.get("cn.test", Some(&w.carol), "cn.test").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "client certificate unauthorized");
    let (r, _) = w.get("cn.test", None, "cn.test").await;
    assert_eq!(r.status, 400, "verification comes first");

    for cert in [None, Some(&w.mallory)] {
        let (r, _) = w.get("page.test", cert, "page.test").await;
        assert_eq!(r.status, 302);
        assert_eq!(r.headers["location"], "http://errors.test/cert");
    }
    let (r, _) = w.get("page.test", Some(&w.alice), "page.test").await;
    assert_eq!(r.status, 200);
    w.strait.shutdown().await.unwrap();
}

/// Client auth is per host: a request naming a host with client auth over a handshake made
/// for another host is 421 (nginx: "421 Misdirected Request" when the Host's server verifies
/// clients and the SNI's did not), whether that handshake had no client auth or another's.
/// Plain HTTP to such a host is a request without a certificate.
#[tokio::test]
async fn another_hosts_handshake_is_misdirected() {
    let w = world().await;
    let (r, _) = w.get("plain.test", Some(&w.alice), "on.test").await;
    assert_eq!(r.status, 421);
    let (r, _) = w.get("opt.test", Some(&w.alice), "on.test").await;
    assert_eq!(r.status, 421, "another host's client auth");
    let (r, _) = w.get("on.test", Some(&w.alice), "plain.test").await;
    assert_eq!(
        r.status, 200,
        "a host without client auth over an mTLS handshake"
    );

    let r = strait_e2e::get(w.strait.http_addr, "on.test", "/").await;
    assert_eq!(r.status, 400, "plain HTTP sends no certificate");
    let r = strait_e2e::get(w.strait.http_addr, "opt.test", "/").await;
    assert_eq!(
        r.echoed_header("ssl-client-verify").as_deref(),
        Some("NONE")
    );
    w.strait.shutdown().await.unwrap();
}

/// Where ingress-nginx fails open or half-open, Strait refuses the host: a missing Secret
/// (ingress-nginx: 403) and a Secret without `ca.crt` (ingress-nginx: served without client
/// auth) both answer 503 on every route of the host.
#[tokio::test]
async fn unusable_secrets_refuse_the_host() {
    let w = world().await;
    for host in ["missing.test", "noca-secret.test"] {
        let (r, _) = w.get(host, Some(&w.alice), host).await;
        assert_eq!(r.status, 503, "{host}: {}", r.text());
        assert!(r.text().contains("client-certificate"), "{}", r.text());
    }
    w.strait.shutdown().await.unwrap();
}
