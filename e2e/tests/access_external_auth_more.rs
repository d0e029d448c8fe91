//! External auth through the real proxy, continued (docs/architecture.md, "External auth"):
//! `auth-cache-key` / `auth-cache-duration`, the global auth (`--global-auth-url`,
//! `enable-global-auth`, `--no-auth-locations`), `satisfy`, an `https` auth URL reached by a
//! DNS name, and `$host` auth URLs routed through Strait's own table (the oauth2-proxy setup).

use std::sync::Arc;

use serde_json::{Value, json};
use strait_controller::serve::Running;
use strait_e2e::auth::{Answer, AuthServer};
use strait_e2e::client::{Conn, get_with};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Echo, Manifests, Reply, config};
use strait_shared::CompileConfig;
use strait_shared::table::external_auth::{AuthValues, ExternalAuth};

const NGINX: &str = "nginx.ingress.kubernetes.io";

fn ingress(name: &str, host: &str, paths: &[&str], annotations: &[(&str, &str)]) -> Value {
    let mut b = IngressB::new("default", name);
    for path in paths {
        b = b.rule(host, path, "Prefix", "a", 80);
    }
    for (k, v) in annotations {
        b = b.annotation(&format!("{NGINX}/{k}"), v);
    }
    b.build()
}

/// Strait over `ingresses` (and echo `a` as Service `a`), compiled with `compile`.
async fn start(
    ingresses: Vec<Value>,
    extra: Vec<Value>,
    compile: CompileConfig,
) -> (Running, Echo, Manifests) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut items = vec![our_class()];
    items.extend(ingresses);
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(extra);
    let m = Manifests::new();
    m.write_list("all.json", &items);
    let mut config = config(m.path());
    config.compile = compile;
    let s = strait_controller::serve::start(config)
        .await
        .expect("start");
    (s, a, m)
}

fn result(scrape: &Scrape, result: &str) -> f64 {
    scrape
        .get("strait_auth_requests_total", &[("result", result)])
        .unwrap_or(0.0)
}

/// test/e2e/annotations/auth.go "when external authentication with caching is configured"
/// (`auth-cache-key: fixed`, `auth-cache-duration: 200 201 401 30m`): once signed in, `/foo`
/// keeps answering 200 after the auth service fails ("should return status code 200 when
/// signed in after auth backend is deleted"), but `/bar` of the same host ("should deny login
/// for different location on same server") and `/foo` of another host ("should deny login for
/// different servers") are asked anew and get 500. The cache is per worker: one keep-alive
/// connection stays on one.
#[tokio::test]
async fn cached_answers_are_per_location_and_server() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    let url = format!("http://{}/basic-auth/user/password", auth.addr);
    let keys = [
        ("auth-url", url.as_str()),
        ("auth-cache-key", "fixed"),
        ("auth-cache-duration", "200 201 401 30m"),
    ];
    let ingresses = vec![
        ingress("this", "this.test", &["/foo", "/bar"], &keys),
        ingress("that", "that.test", &["/foo"], &keys),
    ];
    let (s, _a, _m) = start(ingresses, vec![], CompileConfig::default()).await;
    let mut conn = Conn::open(s.http_addr).await.expect("connect");
    let before = Scrape::of(&s).await;
    assert_eq!(
        conn.get("this.test", "/foo", &[]).await.unwrap().status,
        200
    );
    assert_eq!(auth.count(), 1);
    auth.script(|_| Answer::deny(500));
    let r = conn.get("this.test", "/foo", &[]).await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.echo_name().as_deref()),
        (200, Some("a"))
    );
    assert_eq!(auth.count(), 1, "answered from the cache");
    assert_eq!(
        conn.get("this.test", "/bar", &[]).await.unwrap().status,
        500
    );
    assert_eq!(
        conn.get("that.test", "/foo", &[]).await.unwrap().status,
        500
    );
    assert_eq!(auth.count(), 3);
    let after = Scrape::of(&s).await;
    assert_eq!(result(&after, "cached") - result(&before, "cached"), 1.0);
}

/// A key with variables separates users (`$http_authorization`); an answer that is not in
/// `auth-cache-duration` (403 here) is asked again every time.
#[tokio::test]
async fn the_cache_key_separates_users_and_uncached_statuses_are_asked_again() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|seen| match seen.header("authorization") {
        Some("Bearer good") => Answer::allow(),
        _ => Answer::deny(403),
    });
    let url = format!("http://{}/check", auth.addr);
    let keys = [
        ("auth-url", url.as_str()),
        ("auth-cache-key", "$http_authorization"),
    ];
    let (s, _a, _m) = start(
        vec![ingress("i", "app.test", &["/"], &keys)],
        vec![],
        CompileConfig::default(),
    )
    .await;
    let mut conn = Conn::open(s.http_addr).await.expect("connect");
    let good = [("authorization", "Bearer good")];
    let bad = [("authorization", "Bearer bad")];
    for _ in 0..3 {
        assert_eq!(conn.get("app.test", "/", &good).await.unwrap().status, 200);
        assert_eq!(conn.get("app.test", "/", &bad).await.unwrap().status, 403);
    }
    assert_eq!(auth.count(), 4, "good asked once, bad every time");
}

fn global(url: &str) -> CompileConfig {
    let values = AuthValues {
        url,
        response_headers: Some("x-user"),
        ..AuthValues::default()
    };
    CompileConfig {
        global_auth: Some(Arc::new(ExternalAuth::parse(&values).unwrap().0)),
        ..CompileConfig::default()
    }
}

/// annotations.md "Global External Authentication" and configmap.md "global-auth-url",
/// "no-auth-locations": every Ingress is guarded by the global auth unless it sets
/// `enable-global-auth: "false"`; an Ingress with its own `auth-url` uses that one; paths
/// under `/.well-known/acme-challenge` are never guarded.
#[tokio::test]
async fn global_auth_guards_every_ingress_that_does_not_opt_out() {
    let global_auth = AuthServer::start([127, 0, 0, 4]).await;
    global_auth.script(|_| Answer::allow().with("x-user", "global"));
    let own_auth = AuthServer::start([127, 0, 0, 5]).await;
    own_auth.script(|_| Answer::deny(403));
    let own_url = format!("http://{}/own", own_auth.addr);
    let ingresses = vec![
        ingress(
            "plain",
            "plain.test",
            &["/", "/.well-known/acme-challenge"],
            &[],
        ),
        ingress(
            "out",
            "out.test",
            &["/"],
            &[("enable-global-auth", "false")],
        ),
        ingress("own", "own.test", &["/"], &[("auth-url", &own_url)]),
    ];
    let config = global(&format!("http://{}/global", global_auth.addr));
    let (s, _a, _m) = start(ingresses, vec![], config).await;
    let r = get_with(s.http_addr, "plain.test", "/", &[("x-user", "forged")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed_header("x-user").as_deref(), Some("global"));
    assert_eq!(global_auth.count(), 1);
    let challenge = get_with(
        s.http_addr,
        "plain.test",
        "/.well-known/acme-challenge/tok",
        &[],
    )
    .await;
    assert_eq!(challenge.status, 200);
    let out = get_with(s.http_addr, "out.test", "/", &[("x-user", "forged")]).await;
    assert_eq!(out.status, 200);
    assert_eq!(
        out.echoed_header("x-user").as_deref(),
        Some("forged"),
        "no auth, nothing stripped"
    );
    assert_eq!(global_auth.count(), 1, "neither asked the global auth");
    assert_eq!(
        get_with(s.http_addr, "own.test", "/", &[]).await.status,
        403
    );
    assert_eq!((own_auth.count(), global_auth.count()), (1, 1));
}

/// `kubectl create secret generic basic-secret --from-file=auth` with `uname:pwd`
/// (`htpasswd -s`).
fn basic_secret() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"namespace": "default", "name": "basic-secret"},
        "stringData": {"auth": "uname:{SHA}N/omUzCtg+qoee+x4ttjgIls9jk=\n"},
    })
}

/// test/e2e/annotations/satisfy.go "should allow multiple auth with satisfy any": with basic
/// auth's credentials the request passes (the auth service is not asked); without them the
/// external auth's 401 redirects to the sign-in URL. With `satisfy: all` (the default) both
/// must pass.
#[tokio::test]
async fn satisfy_any_takes_one_passing_method() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|seen| match seen.header("x-token") {
        Some("ok") => Answer::allow(),
        _ => Answer::deny(401),
    });
    let url = format!("http://{}/basic-auth/user/password", auth.addr);
    let base = [
        ("auth-type", "basic"),
        ("auth-secret", "basic-secret"),
        ("auth-realm", "test basic auth"),
        ("auth-url", url.as_str()),
        ("auth-signin", "http://$host/auth/start"),
    ];
    let any: Vec<_> = base.iter().copied().chain([("satisfy", "any")]).collect();
    let ingresses = vec![
        ingress("any", "any.test", &["/"], &any),
        ingress("all", "all.test", &["/"], &base),
    ];
    let (s, _a, _m) = start(ingresses, vec![basic_secret()], CompileConfig::default()).await;
    let basic = ("authorization", "Basic dW5hbWU6cHdk");
    let get = |host: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let addr = s.http_addr;
        async move { get_with(addr, host, "/?a=b&c=d", &headers).await }
    };
    let r = get("any.test", vec![basic]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        auth.count(),
        0,
        "basic auth passed: the auth service is not asked"
    );
    let r = get("any.test", vec![]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.headers["location"],
        "http://any.test/auth/start?rd=http://any.test%2F%3Fa%3Db%26c%3Dd"
    );
    assert_eq!(
        get("any.test", vec![("x-token", "ok")]).await.status,
        200,
        "external alone"
    );
    // all: basic alone is not enough; both are.
    assert_eq!(get("all.test", vec![basic]).await.status, 302);
    assert_eq!(
        get("all.test", vec![basic, ("x-token", "ok")]).await.status,
        200
    );
    let r: Reply = get("all.test", vec![("x-token", "ok")]).await;
    assert_eq!(
        r.status, 302,
        "basic auth's 401 redirects too (error_page 401)"
    );
}

/// `satisfy any` with a source allow-list (nginx's `allow`/`deny` are one of the access
/// methods it combines): a listed client passes unasked; another is asked.
#[tokio::test]
async fn satisfy_any_lets_an_allowed_address_through_unasked() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|_| Answer::deny(403));
    let url = format!("http://{}/check", auth.addr);
    let keys = [
        ("auth-url", url.as_str()),
        ("satisfy", "any"),
        ("allowlist-source-range", "127.0.0.9/32"),
    ];
    let (s, _a, _m) = start(
        vec![ingress("i", "app.test", &["/"], &keys)],
        vec![],
        CompileConfig::default(),
    )
    .await;
    let from = |ip: [u8; 4]| std::net::IpAddr::from(ip);
    let mut listed = Conn::open_from(from([127, 0, 0, 9]), s.http_addr)
        .await
        .expect("connect");
    assert_eq!(listed.get("app.test", "/", &[]).await.unwrap().status, 200);
    assert_eq!(auth.count(), 0);
    let mut other = Conn::open_from(from([127, 0, 0, 10]), s.http_addr)
        .await
        .expect("connect");
    assert_eq!(other.get("app.test", "/", &[]).await.unwrap().status, 403);
    assert_eq!(auth.count(), 1);
}

/// An `https` auth URL with a DNS name: resolved by the system resolver (`localhost`), TLS
/// with SNI and no certificate verification (nginx's `proxy_ssl_verify off` default); the
/// subrequest's `Host` is the URL's host.
#[tokio::test]
async fn an_https_auth_url_is_reached_over_tls_by_name() {
    let auth = AuthServer::start_tls([127, 0, 0, 1], "localhost").await;
    let url = format!("https://localhost:{}/verify", auth.addr.port());
    let keys = [("auth-url", url.as_str())];
    let (s, _a, _m) = start(
        vec![ingress("i", "app.test", &["/"], &keys)],
        vec![],
        CompileConfig::default(),
    )
    .await;
    let r = get_with(s.http_addr, "app.test", "/", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(auth.last().header("host"), Some("localhost"));
    auth.script(|_| Answer::deny(401));
    assert_eq!(
        get_with(s.http_addr, "app.test", "/", &[]).await.status,
        401
    );
}

/// ingress-nginx docs/examples/auth/oauth-external-auth (`auth-url:
/// https://$host/oauth2/auth`, `auth-signin: https://$host/oauth2/start?rd=$escaped_request_uri`,
/// and oauth2-proxy's own Ingress on `/oauth2` of the same host): the subrequest goes to the
/// route of the request's own host through Strait's table, with that host as `Host`.
#[tokio::test]
async fn a_host_auth_url_is_routed_through_the_table() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    auth.script(|seen| match seen.header("cookie") {
        Some("_oauth2_proxy=ok") => Answer::allow().with("x-auth-request-user", "ann"),
        _ => Answer::deny(401),
    });
    let keys = [
        ("auth-url", "https://$host/oauth2/auth"),
        (
            "auth-signin",
            "https://$host/oauth2/start?rd=$escaped_request_uri",
        ),
        ("auth-response-headers", "X-Auth-Request-User"),
    ];
    let proxy_ingress = IngressB::new("default", "oauth2-proxy")
        .rule("dash.test", "/oauth2", "Prefix", "oauth2-proxy", 80)
        .build();
    let mut extra = vec![proxy_ingress];
    extra.extend(backend("default", "oauth2-proxy", &[auth.addr]));
    let (s, _a, _m) = start(
        vec![ingress("dash", "dash.test", &["/"], &keys)],
        extra,
        CompileConfig::default(),
    )
    .await;
    let r = get_with(
        s.http_addr,
        "dash.test",
        "/ui?x=1",
        &[("cookie", "_oauth2_proxy=ok")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.echoed_header("x-auth-request-user").as_deref(),
        Some("ann")
    );
    let seen = auth.last();
    assert_eq!(seen.target, "/oauth2/auth");
    assert_eq!(seen.header("host"), Some("dash.test"));
    let r = get_with(s.http_addr, "dash.test", "/ui?x=1", &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.headers["location"],
        "https://dash.test/oauth2/start?rd=%2Fui%3Fx%3D1"
    );
}
