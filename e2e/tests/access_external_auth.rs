//! External auth through the real proxy (docs/architecture.md, "External auth"): a scripted
//! auth service on 127.0.0.4 ([`AuthServer`]) sees the subrequest nginx sends and answers
//! allow, 401, 403, another status, or nothing at all; `auth-method`, `auth-response-headers`,
//! `auth-request-redirect`, `auth-signin` (+ `auth-signin-redirect-param`),
//! `auth-always-set-cookie`, and the metric `strait_auth_requests_total`. Caching, global
//! auth, `satisfy`, TLS and `$host` URLs are in `access_external_auth_more.rs`.

use std::time::Duration;

use strait_controller::serve::Running;
use strait_e2e::auth::{Answer, AuthServer};
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Echo, Manifests, Reply, config, dead_addr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const NGINX: &str = "nginx.ingress.kubernetes.io";

struct Scene {
    s: Running,
    a: Echo,
    _m: Manifests,
}

/// Echo `a` behind `guarded.test` (with `annotations`) and `open.test` (none), Strait with
/// `read_timeout` as its upstream response timeout.
async fn scene(annotations: &[(&str, &str)], read_timeout: Duration) -> Scene {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut guarded =
        IngressB::new("default", "guarded").rule("guarded.test", "/", "Prefix", "a", 80);
    for (k, v) in annotations {
        guarded = guarded.annotation(&format!("{NGINX}/{k}"), v);
    }
    let open = IngressB::new("default", "open").rule("open.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), guarded.build(), open.build()];
    items.extend(backend("default", "a", &[a.addr]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    let mut config = config(m.path());
    config.proxy.response_header_timeout = read_timeout;
    let s = strait_controller::serve::start(config)
        .await
        .expect("start");
    Scene { s, a, _m: m }
}

fn verify(auth: &AuthServer) -> String {
    format!("http://{}/verify?x=1", auth.addr)
}

async fn get(s: &Scene, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    get_with(s.s.http_addr, host, path, headers).await
}

fn auth_count(scrape: &Scrape, result: &str) -> f64 {
    scrape
        .get("strait_auth_requests_total", &[("result", result)])
        .unwrap_or(0.0)
}

/// A POST with a 5-byte body on a raw connection; returns the response head and body.
async fn post(s: &Scene, host: &str, path: &str, extra: &str) -> String {
    let mut stream = TcpStream::connect(s.s.http_addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nConnection: close\r\n{extra}\r\nhello"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.expect("read");
    String::from_utf8_lossy(&got).into_owned()
}

/// annotations.md "External Authentication" and nginx.tmpl's `location = /_external-auth-…`
/// block: the auth service gets a GET without a body, the client's own headers, `Host` of
/// the auth URL, `X-Original-URL` (scheme, host and target), `X-Original-Method`,
/// `X-Sent-From`, `X-Real-IP`, `X-Forwarded-For`, `X-Auth-Request-Redirect` and the
/// request's `X-Request-ID`; a 2xx lets the request through, its body intact.
#[tokio::test]
async fn the_auth_service_sees_the_subrequest_nginx_sends() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    let url = verify(&auth);
    let s = scene(&[("auth-url", &url)], Duration::from_secs(60)).await;
    let before = Scrape::of(&s.s).await;
    let extra = "Cookie: _oauth2_proxy=abc\r\nAuthorization: Bearer t\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\n";
    let got = post(&s, "guarded.test", "/app/page?a=b", extra).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let body = &got[got.find("\r\n\r\n").expect("a head") + 4..];
    let echoed: serde_json::Value = serde_json::from_str(body).expect("echo JSON");
    assert_eq!(echoed["name"], "a");
    assert_eq!(
        echoed["body_bytes"], 5,
        "the request body still goes upstream: {echoed}"
    );
    let seen = auth.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/verify?x=1");
    assert_eq!(seen.body_len, 0);
    assert_eq!(seen.header("content-length"), None);
    assert_eq!(seen.header("host"), Some("127.0.0.4"));
    assert_eq!(
        seen.header("x-original-url"),
        Some("http://guarded.test/app/page?a=b")
    );
    assert_eq!(seen.header("x-original-method"), Some("POST"));
    assert_eq!(seen.header("x-sent-from"), Some("nginx-ingress-controller"));
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        seen.header("x-auth-request-redirect"),
        Some("/app/page?a=b")
    );
    assert_eq!(seen.header("cookie"), Some("_oauth2_proxy=abc"));
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    assert_eq!(
        seen.header("x-forwarded-proto"),
        None,
        "cleared, as nginx does"
    );
    assert_eq!(
        seen.header("x-forwarded-host"),
        None,
        "an untrusted client's"
    );
    let upstream_id = echoed["headers"]["x-request-id"].as_str().expect("an id");
    assert_eq!(
        seen.header("x-request-id"),
        Some(upstream_id),
        "one id for both"
    );
    let open = get(&s, "open.test", "/", &[]).await;
    assert_eq!(open.echo_name().as_deref(), Some("a"));
    assert_eq!(auth.count(), 1, "the open Ingress asks no one");
    let after = Scrape::of(&s.s).await;
    assert_eq!(
        auth_count(&after, "allowed") - auth_count(&before, "allowed"),
        1.0
    );
}

/// test/e2e/annotations/auth.go: a 401 (with the service's `WWW-Authenticate`) and a 403
/// reach the client; nginx's `auth_request` turns any other status into 500, and nothing
/// reaches the upstream.
#[tokio::test]
async fn denials_are_returned_and_other_statuses_are_500() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|seen| {
        let status: u16 = seen
            .header("x-answer")
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        Answer::Status(status, Vec::new(), "body from auth")
            .with("www-authenticate", "Bearer realm=\"r\"")
            .with("location", "http://elsewhere/")
    });
    let s = scene(&[("auth-url", &verify(&auth))], Duration::from_secs(60)).await;
    let before = Scrape::of(&s.s).await;
    for (answer, expected) in [
        ("401", 401),
        ("403", 403),
        ("302", 500),
        ("404", 500),
        ("500", 500),
        ("503", 500),
    ] {
        let r = get(&s, "guarded.test", "/", &[("x-answer", answer)]).await;
        assert_eq!(r.status, expected, "auth said {answer}: {}", r.text());
        assert!(
            r.echo_name().is_none(),
            "{answer}: must not reach the backend"
        );
        assert!(
            !r.text().contains("body from auth"),
            "{answer}: the service's body stays out"
        );
        let challenge = r.headers.get("www-authenticate");
        assert_eq!(challenge.is_some(), expected == 401, "{answer}");
        assert_eq!(r.headers.get("location"), None, "{answer}");
    }
    let after = Scrape::of(&s.s).await;
    assert_eq!(
        auth_count(&after, "denied") - auth_count(&before, "denied"),
        2.0
    );
    assert_eq!(
        auth_count(&after, "error") - auth_count(&before, "error"),
        4.0
    );
    assert_eq!(
        get(&s, "guarded.test", "/", &[("x-answer", "204")])
            .await
            .echo_name()
            .as_deref(),
        Some("a")
    );
}

/// A slow auth service fails closed: 500 once the response timeout (here 1 s) has passed,
/// never the request forwarded; a dead one (nothing listening) is a 500 at once.
#[tokio::test]
async fn a_slow_or_dead_auth_service_gives_500_within_its_timeout() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|_| Answer::Hang);
    let s = scene(&[("auth-url", &verify(&auth))], Duration::from_secs(1)).await;
    let before = Scrape::of(&s.s).await;
    let started = Instant::now();
    let r = get(&s, "guarded.test", "/", &[]).await;
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.echo_name().is_none());
    assert!(took >= Duration::from_millis(900), "too early: {took:?}");
    assert!(took < Duration::from_secs(5), "too late: {took:?}");
    let after = Scrape::of(&s.s).await;
    assert_eq!(
        auth_count(&after, "timeout") - auth_count(&before, "timeout"),
        1.0
    );

    let dead = dead_addr([127, 0, 0, 4]).await;
    let url = format!("http://{dead}/verify");
    let s = scene(&[("auth-url", &url)], Duration::from_secs(60)).await;
    let started = Instant::now();
    let r = get(&s, "guarded.test", "/", &[]).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.echo_name().is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(auth_count(&Scrape::of(&s.s).await, "error"), 1.0);
}

/// annotations.md `auth-method`; nginx.tmpl adds `X-Original-URI` and `X-Scheme` with it.
/// `auth-request-redirect` replaces `X-Auth-Request-Redirect` (main_test.go "valid URL -
/// request redirect").
#[tokio::test]
async fn auth_method_and_request_redirect() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    let url = verify(&auth);
    let keys = [
        ("auth-url", url.as_str()),
        ("auth-method", "POST"),
        ("auth-request-redirect", "http://foo.com/redirect-me"),
    ];
    let s = scene(&keys, Duration::from_secs(60)).await;
    assert_eq!(get(&s, "guarded.test", "/x?y", &[]).await.status, 200);
    let seen = auth.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, 0);
    assert_eq!(seen.header("x-original-uri"), Some("/x?y"));
    assert_eq!(seen.header("x-scheme"), Some("http"));
    assert_eq!(
        seen.header("x-auth-request-redirect"),
        Some("http://foo.com/redirect-me")
    );
}

/// test/e2e/annotations/auth.go "should overwrite Foo header with auth response": the
/// listed headers of a 2xx answer replace the client's on the upstream request; a listed
/// header the answer lacks is dropped (nginx sends an empty `proxy_set_header` value as
/// nothing), so a client cannot send it itself.
#[tokio::test]
async fn response_headers_replace_the_client_s() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|_| Answer::allow().with("foo", "bar").with("x-not-listed", "1"));
    let keys = [
        ("auth-url", verify(&auth)),
        (
            "auth-response-headers",
            "Foo, X-Auth-Request-Email".to_owned(),
        ),
    ];
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = scene(&keys, Duration::from_secs(60)).await;
    let r = get(
        &s,
        "guarded.test",
        "/",
        &[("foo", "forged"), ("x-auth-request-email", "root@forged")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("foo").as_deref(), Some("bar"));
    assert_eq!(r.echoed_header("x-auth-request-email"), None);
    assert_eq!(r.echoed_header("x-not-listed"), None);
}

/// test/e2e/annotations/auth.go "should redirect to signin url when not signed in" (default
/// `rd`, and `orig` under "a custom redirect param"): a 401 becomes a 302 to the sign-in URL
/// with the original URL, its target escaped; a 403 stays a 403 (only a 401 redirects).
#[tokio::test]
async fn a_401_redirects_to_the_signin_url_with_the_original_url() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|seen| match seen.header("authorization") {
        Some("Basic dXNlcjpwYXNzd29yZA==") => Answer::allow(),
        Some(_) => Answer::deny(403),
        None => Answer::deny(401).with("set-cookie", "_oauth2_proxy_csrf=x; Path=/"),
    });
    let url = verify(&auth);
    for (param, expected) in [(None, "rd"), (Some("orig"), "orig")] {
        let mut keys = vec![
            ("auth-url", url.as_str()),
            ("auth-signin", "http://$host/auth/start"),
        ];
        if let Some(param) = param {
            keys.push(("auth-signin-redirect-param", param));
        }
        let s = scene(&keys, Duration::from_secs(60)).await;
        let r = get(&s, "guarded.test", "/?a=b&c=d", &[]).await;
        assert_eq!(r.status, 302, "{}", r.text());
        let location = r.headers["location"].to_str().unwrap();
        assert_eq!(
            location,
            format!(
                "http://guarded.test/auth/start?{expected}=http://guarded.test%2F%3Fa%3Db%26c%3Dd"
            )
        );
        assert_eq!(
            r.headers["set-cookie"], "_oauth2_proxy_csrf=x; Path=/",
            "302 takes the cookie"
        );
        let signed_in = [("authorization", "Basic dXNlcjpwYXNzd29yZA==")];
        assert_eq!(get(&s, "guarded.test", "/", &signed_in).await.status, 200);
        let r = get(&s, "guarded.test", "/", &[("authorization", "Basic eDp5")]).await;
        assert_eq!(r.status, 403);
    }
}

/// test/e2e/annotations/auth.go "cookie set by external authentication server": the auth
/// answer's cookie reaches the client with a 200 ("user retains cookie by default"), not
/// with an upstream 503 ("user does not retain cookie if upstream returns error status
/// code"), unless `auth-always-set-cookie` ("user with annotated ingress retains cookie").
#[tokio::test]
async fn auth_cookies_follow_the_upstream_status_unless_always() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|_| Answer::allow().with("set-cookie", "alma=armud"));
    let url = verify(&auth);
    let cookie = |r: &Reply| {
        r.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let s = scene(&[("auth-url", &url)], Duration::from_secs(60)).await;
    let ok = get(&s, "guarded.test", "/?a=b&c=d", &[]).await;
    assert_eq!(
        (ok.status.as_u16(), cookie(&ok).as_deref()),
        (200, Some("alma=armud"))
    );
    let error = get(&s, "guarded.test", "/?status=503", &[]).await;
    assert_eq!((error.status.as_u16(), cookie(&error)), (503, None));
    drop(s);
    let s = scene(
        &[("auth-url", &url), ("auth-always-set-cookie", "true")],
        Duration::from_secs(60),
    )
    .await;
    let error = get(&s, "guarded.test", "/?status=503", &[]).await;
    assert_eq!(
        (error.status.as_u16(), cookie(&error).as_deref()),
        (503, Some("alma=armud"))
    );
    assert_eq!(s.a.name, "a");
}

/// test/e2e/annotations/auth.go "with invalid auth-url should deny whole location": 503;
/// the other Ingress keeps serving ("keeps processing new ingresses even if one of the
/// existing ingresses is misconfigured").
#[tokio::test]
async fn an_invalid_auth_url_refuses_the_routes() {
    let s = scene(
        &[("auth-url", "https://invalid..auth.url")],
        Duration::from_secs(60),
    )
    .await;
    let r = get(&s, "guarded.test", "/denied-auth", &[]).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().starts_with("route refused"), "{}", r.text());
    assert_eq!(get(&s, "open.test", "/", &[]).await.status, 200);
}
