//! Plain HTTP to HTTPS redirects (docs/architecture.md, "Redirects"), one test per rule: which
//! routes redirect, which requests are exempt, and the exact `Location`.

use std::net::IpAddr;

use serde_json::Value;
use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{cert_for, connect, tls_secret};
use strait_e2e::{Conn, Echo, Manifests, Reply, config, get};

const NGINX_SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/ssl-redirect";
const NGINX_FORCE_SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/force-ssl-redirect";
const STRAIT_SSL_REDIRECT: &str = "strait.dev/ssl-redirect";
const STRAIT_FORCE_SSL_REDIRECT: &str = "strait.dev/force-ssl-redirect";
const NGINX_PRESERVE_SLASH: &str = "nginx.ingress.kubernetes.io/preserve-trailing-slash";
const NGINX_PORT_IN_REDIRECTS: &str = "nginx.ingress.kubernetes.io/use-port-in-redirects";

#[tokio::test]
async fn tls_host_redirects_with_308_and_exact_location() {
    let (m, _e) = scenario(vec![secure_ingress().build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let r = get(s.http_addr, "secure.test", "/app/x?q=1&r=a%20b").await;
    assert_redirect(&r, &format!("https://secure.test:{port}/app/x?q=1&r=a%20b"));
    // forcesslredirect.go "should redirect to https": `/` goes to the bare origin.
    let r = get(s.http_addr, "Secure.TEST:8080", "/").await;
    assert_redirect(&r, &format!("https://secure.test:{port}"));
    s.shutdown().await.unwrap();
}

/// lua_ingress.lua drops one trailing `/` of `$request_uri` unless `preserve-trailing-slash`
/// (preservetrailingslash.go "should allow preservation of trailing slashes").
#[tokio::test]
async fn the_trailing_slash_is_dropped_unless_preserved() {
    let keep = tls_ingress("on", "on.test", "a").annotation(NGINX_PRESERVE_SLASH, "true");
    let (m, _e) = scenario(vec![secure_ingress().build(), keep.build()]).await;
    let s = start_with(&m, |c| c.proxy.https_redirect_port = 443).await;
    for (path, location) in [
        ("/", "https://secure.test"),
        ("/dir/", "https://secure.test/dir"),
        ("/dir/?q=1", "https://secure.test/dir/?q=1"),
    ] {
        assert_redirect(&get(s.http_addr, "secure.test", path).await, location);
    }
    for (path, location) in [("/", "https://on.test/"), ("/dir/", "https://on.test/dir/")] {
        assert_redirect(&get(s.http_addr, "on.test", path).await, location);
    }
    s.shutdown().await.unwrap();
}

/// annotations.md "use-port-in-redirects" names the port even when it is 443, and
/// configmap.md `http-redirect-code` (here `--http-redirect-code 301`) sets the status.
#[tokio::test]
async fn port_in_redirects_and_the_redirect_code() {
    let port = tls_ingress("on", "on.test", "a").annotation(NGINX_PORT_IN_REDIRECTS, "true");
    let (m, _e) = scenario(vec![secure_ingress().build(), port.build()]).await;
    let s = start_with(&m, |c| {
        c.proxy.https_redirect_port = 443;
        c.proxy.http_redirect_code = http::StatusCode::MOVED_PERMANENTLY;
    })
    .await;
    let r = get(s.http_addr, "on.test", "/a").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.headers["location"], "https://on.test:443/a");
    let r = get(s.http_addr, "secure.test", "/a").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.headers["location"], "https://secure.test/a");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_host_is_proxied_over_https() {
    let (m, _e) = scenario(vec![secure_ingress().build()]).await;
    let s = start_with(&m, |_| {}).await;
    let tls = connect(s.https_addr, Some("secure.test"), &["http/1.1"])
        .await
        .expect("TLS handshake");
    let mut c = Conn::over(tls.stream).await.unwrap();
    let r = c.get("secure.test", "/app?q=1", &[]).await.unwrap();
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    assert_eq!(
        r.echoed_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn ssl_redirect_false_opts_out() {
    let ing = secure_ingress().annotation(NGINX_SSL_REDIRECT, "false");
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start_with(&m, |_| {}).await;
    assert_proxied(&get(s.http_addr, "secure.test", "/app").await, "a");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn strait_ssl_redirect_wins_over_the_nginx_annotation() {
    let off = tls_ingress("off", "off.test", "a")
        .annotation(STRAIT_SSL_REDIRECT, "false")
        .annotation(NGINX_SSL_REDIRECT, "true");
    let on = tls_ingress("on", "on.test", "a")
        .annotation(STRAIT_SSL_REDIRECT, "true")
        .annotation(NGINX_SSL_REDIRECT, "false");
    let (m, _e) = scenario(vec![off.build(), on.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    assert_proxied(&get(s.http_addr, "off.test", "/").await, "a");
    let r = get(s.http_addr, "on.test", "/").await;
    assert_redirect(&r, &format!("https://on.test:{port}"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn force_ssl_redirect_redirects_without_tls() {
    let nginx = IngressB::new("default", "nginx")
        .annotation(NGINX_FORCE_SSL_REDIRECT, "true")
        .rule("nginx.test", "/", "Prefix", "a", 80);
    let strait = IngressB::new("default", "strait")
        .annotation(STRAIT_FORCE_SSL_REDIRECT, "true")
        .rule("strait.test", "/", "Prefix", "a", 80);
    let (m, _e) = scenario(vec![nginx.build(), strait.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let r = get(s.http_addr, "nginx.test", "/x?y=z").await;
    assert_redirect(&r, &format!("https://nginx.test:{port}/x?y=z"));
    let r = get(s.http_addr, "strait.test", "/x").await;
    assert_redirect(&r, &format!("https://strait.test:{port}/x"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn host_not_in_any_tls_is_proxied() {
    let ing = secure_ingress().rule("open.test", "/", "Prefix", "b", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start_with(&m, |_| {}).await;
    assert_proxied(&get(s.http_addr, "open.test", "/app").await, "b");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn another_ingress_path_on_a_tls_host_redirects_unless_it_opts_out() {
    let other = IngressB::new("default", "other").rule("secure.test", "/other", "Prefix", "b", 80);
    let opted_out = IngressB::new("default", "opted-out")
        .annotation(NGINX_SSL_REDIRECT, "false")
        .rule("secure.test", "/optout", "Prefix", "b", 80);
    let items = vec![secure_ingress().build(), other.build(), opted_out.build()];
    let (m, _e) = scenario(items).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let r = get(s.http_addr, "secure.test", "/other/page").await;
    assert_redirect(&r, &format!("https://secure.test:{port}/other/page"));
    assert_proxied(&get(s.http_addr, "secure.test", "/optout/page").await, "b");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn wildcard_tls_host_redirects_the_hosts_it_covers() {
    let ing = IngressB::new("default", "wild")
        .rule("a.wild.test", "/", "Prefix", "a", 80)
        .rule("wild.test", "/", "Prefix", "b", 80)
        .rule("a.b.wild.test", "/", "Prefix", "b", 80)
        .tls(&["*.wild.test"], Some("wild-tls"));
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let r = get(s.http_addr, "a.wild.test", "/x").await;
    assert_redirect(&r, &format!("https://a.wild.test:{port}/x"));
    assert_proxied(&get(s.http_addr, "wild.test", "/x").await, "b");
    assert_proxied(&get(s.http_addr, "a.b.wild.test", "/x").await, "b");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostless_rules_redirect_only_when_forced() {
    let unforced = secure_ingress().rule("", "/open", "Prefix", "b", 80);
    let forced = IngressB::new("default", "forced")
        .annotation(NGINX_FORCE_SSL_REDIRECT, "true")
        .rule("", "/forced", "Prefix", "b", 80);
    let (m, _e) = scenario(vec![unforced.build(), forced.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    assert_proxied(&get(s.http_addr, "any.test", "/open").await, "b");
    let r = get(s.http_addr, "any.test", "/forced").await;
    assert_redirect(&r, &format!("https://any.test:{port}/forced"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn default_backend_redirects_only_when_forced() {
    let unforced = secure_ingress().default_backend("b", 80);
    let (m, _e) = scenario(vec![unforced.build()]).await;
    let s = start_with(&m, |_| {}).await;
    assert_proxied(&get(s.http_addr, "any.test", "/x").await, "b");
    s.shutdown().await.unwrap();

    let forced = IngressB::new("default", "forced")
        .annotation(NGINX_FORCE_SSL_REDIRECT, "true")
        .default_backend("b", 80);
    let (m, _e) = scenario(vec![forced.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let r = get(s.http_addr, "any.test", "/x").await;
    assert_redirect(&r, &format!("https://any.test:{port}/x"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn acme_challenge_path_is_not_redirected() {
    let (m, _e) = scenario(vec![secure_ingress().build()]).await;
    let s = start_with(&m, |_| {}).await;
    let port = s.https_addr.port();
    let challenge = "/.well-known/acme-challenge/abc123";
    assert_proxied(&get(s.http_addr, "secure.test", challenge).await, "a");
    let r = get(s.http_addr, "secure.test", "/.well-known/other").await;
    assert_redirect(&r, &format!("https://secure.test:{port}/.well-known/other"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn forwarded_https_is_believed_only_from_a_trusted_peer() {
    let (m, _e) = scenario(vec![secure_ingress().build()]).await;
    let s = start_with(&m, |c| {
        c.proxy.trusted_proxies = vec!["127.0.0.5/32".parse().unwrap()];
    })
    .await;
    let port = s.https_addr.port();
    let https = [("x-forwarded-proto", "https")];
    let mut trusted = Conn::open_from(ip("127.0.0.5"), s.http_addr).await.unwrap();
    let r = trusted.get("secure.test", "/app", &https).await.unwrap();
    assert_proxied(&r, "a");
    let r = trusted.get("secure.test", "/app", &[]).await.unwrap();
    assert_redirect(&r, &format!("https://secure.test:{port}/app"));
    let mut untrusted = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let r = untrusted.get("secure.test", "/app", &https).await.unwrap();
    assert_redirect(&r, &format!("https://secure.test:{port}/app"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn redirect_port_443_is_left_out_of_the_location() {
    let (m, _e) = scenario(vec![secure_ingress().build()]).await;
    let s = start_with(&m, |c| c.proxy.https_redirect_port = 443).await;
    let r = get_with(s.http_addr, "secure.test:8080", "/app?q=1", &[]).await;
    assert_redirect(&r, "https://secure.test/app?q=1");
    s.shutdown().await.unwrap();
}

/// Echo `a` and `b` behind Services `a` and `b`, the class, Secrets `secure-tls` (for
/// `secure.test`), `wild-tls` (`*.wild.test`), `off-tls` and `on-tls`, and `ingresses`.
async fn scenario(ingresses: Vec<Value>) -> (Manifests, [Echo; 2]) {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "b", &[b.addr]));
    for (secret, host) in [
        ("secure-tls", "secure.test"),
        ("wild-tls", "*.wild.test"),
        ("off-tls", "off.test"),
        ("on-tls", "on.test"),
    ] {
        items.push(tls_secret("default", secret, &cert_for(&[host])));
    }
    items.extend(ingresses);
    m.write_list("scenario.json", &items);
    (m, [a, b])
}

/// Ingress `secure`: `secure.test/` to `a`, listed in its `spec.tls`.
fn secure_ingress() -> IngressB {
    tls_ingress("secure", "secure.test", "a")
}

/// Ingress `name`: `host/` to `svc`, with `host` in its `spec.tls` (Secret `{name}-tls`).
fn tls_ingress(name: &str, host: &str, svc: &str) -> IngressB {
    IngressB::new("default", name)
        .rule(host, "/", "Prefix", svc, 80)
        .tls(&[host], Some(&format!("{name}-tls")))
}

async fn start_with(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

fn assert_redirect(r: &Reply, location: &str) {
    assert_eq!(r.status, 308, "expected a redirect; body: {}", r.text());
    let got = r.headers.get("location").map(|v| v.to_str().unwrap());
    assert_eq!(got, Some(location));
}

fn assert_proxied(r: &Reply, echo: &str) {
    assert_eq!(r.status, 200, "expected the echo; body: {}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some(echo));
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// The template's `return CODE URL` runs in nginx's rewrite phase before `rewrite_by_lua`
/// (the HTTPS redirect): on a TLS host an Ingress's own redirect wins, on plain HTTP too.
#[tokio::test]
async fn an_ingress_redirect_comes_before_the_https_redirect() {
    let moved = tls_ingress("on", "on.test", "a").annotation(
        "nginx.ingress.kubernetes.io/permanent-redirect",
        "https://moved.example/x",
    );
    let (m, _e) = scenario(vec![moved.build()]).await;
    let s = start_with(&m, |_| {}).await;
    let r = get(s.http_addr, "on.test", "/a").await;
    assert_eq!(r.status, 301, "body: {}", r.text());
    assert_eq!(r.headers["location"], "https://moved.example/x");
    s.shutdown().await.unwrap();
}
