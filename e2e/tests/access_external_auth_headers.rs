//! `auth-proxy-set-headers` through the real proxy (docs/architecture.md, "Auth subrequest
//! headers from a ConfigMap"): the scripted auth service on 127.0.0.4 ([`AuthServer`]) sees
//! the ConfigMap's headers on its subrequest; a missing ConfigMap answers 503 without asking
//! it or reaching the upstream, and the routes serve as soon as the ConfigMap appears in the
//! manifests folder (and follow its changes).

use std::net::SocketAddr;

use serde_json::{Value, json};
use strait_e2e::auth::AuthServer;
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, config, eventually};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// `default/guarded` on `guarded.test` behind `auth`, naming `config_map` in
/// `auth-proxy-set-headers`, and `default/open` on `open.test`, both to Service `a` at
/// `upstream`.
fn objects(auth: &AuthServer, config_map: &str, upstream: SocketAddr) -> Vec<Value> {
    let url = format!("http://{}/verify", auth.addr);
    let guarded = IngressB::new("default", "guarded")
        .rule("guarded.test", "/", "Prefix", "a", 80)
        .annotation(&format!("{NGINX}/auth-url"), &url)
        .annotation(&format!("{NGINX}/auth-proxy-set-headers"), config_map);
    let open = IngressB::new("default", "open").rule("open.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), guarded.build(), open.build()];
    items.extend(backend("default", "a", &[upstream]));
    items
}

fn headers_config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "auth-headers", "namespace": "default"}, "data": data})
}

/// test/e2e/annotations/auth.go `should set "proxy_set_header "My-Custom-Header" "42";" when
/// auth-headers are set` (there checked in nginx.conf; here on the subrequest itself): the
/// ConfigMap's headers reach the auth service, a value with a variable carries the request's
/// value (as nginx expands it), the client's own header of a listed name is not passed, and
/// `X-Original-URL` keeps nginx's value first. The upstream request is not changed by them.
#[tokio::test]
async fn the_subrequest_carries_the_config_map_s_headers() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut items = objects(&auth, "default/auth-headers", a.addr);
    items.push(headers_config_map(json!({
        "My-Custom-Header": "42",
        "X-Forwarded-Host": "$http_host",
        "X-Tenant": "team-a",
        "X-Original-URL": "from-configmap",
    })));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    let s = strait_controller::serve::start(config(m.path()))
        .await
        .expect("start");
    let r = get_with(
        s.http_addr,
        "guarded.test",
        "/page",
        &[("x-tenant", "forged")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    assert_eq!(
        r.echoed_header("x-tenant").as_deref(),
        Some("forged"),
        "the upstream request keeps the client's headers"
    );
    let seen = auth.last();
    let all = |name: &str| -> Vec<String> {
        seen.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("text").to_owned())
            .collect()
    };
    assert_eq!(all("my-custom-header"), ["42"]);
    assert_eq!(all("x-forwarded-host"), ["guarded.test"]);
    assert_eq!(all("x-tenant"), ["team-a"], "the client's is not passed");
    assert_eq!(
        all("x-original-url"),
        ["http://guarded.test/page", "from-configmap"]
    );
    s.shutdown().await.expect("shutdown");
}

/// authreq/main.go: `unable to find configMap` denies the location, so the request is
/// answered 503 and neither the auth service nor the upstream is asked; the neighbour serves.
/// A ConfigMap that then appears (ingress-nginx resyncs the Ingresses naming it: #14103,
/// "Respect changes to auth-proxy-set-headers") makes the route serve with its headers, a
/// change of it is followed, and its removal refuses the route again.
#[tokio::test]
async fn a_missing_config_map_answers_503_until_it_appears() {
    let auth = AuthServer::start([127, 0, 0, 4]).await;
    // The upstream is a bare listener first: nothing may connect to it while refused.
    let upstream = std::net::TcpListener::bind("127.0.0.2:0").expect("bind upstream");
    upstream.set_nonblocking(true).expect("nonblocking");
    let upstream_addr = upstream.local_addr().expect("addr");
    let m = Manifests::new();
    m.write_list("all.json", &objects(&auth, "auth-headers", upstream_addr));
    let s = strait_controller::serve::start(config(m.path()))
        .await
        .expect("start");

    let r = get_with(s.http_addr, "guarded.test", "/", &[]).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("auth-proxy-set-headers ConfigMap"),
        "{}",
        r.text()
    );
    assert_eq!(auth.count(), 0, "the auth service is not asked");
    let accepted = upstream.accept().map(|_| ());
    assert!(
        accepted
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing reached the upstream: {accepted:?}"
    );

    let _a = Echo::on(
        tokio::net::TcpListener::from_std(upstream).expect("tokio listener"),
        "a",
    );
    let open = get_with(s.http_addr, "open.test", "/", &[]).await;
    assert_eq!(
        open.echo_name().as_deref(),
        Some("a"),
        "the neighbour serves"
    );

    m.write_list(
        "cm.json",
        &[headers_config_map(json!({"My-Custom-Header": "42"}))],
    );
    let header = |value: &'static str| {
        let auth = &auth;
        let addr = s.http_addr;
        move || async move {
            let r = get_with(addr, "guarded.test", "/", &[]).await;
            let seen = (auth.count() > 0).then(|| auth.last())?;
            let sent = seen.header("my-custom-header") == Some(value);
            (r.status == 200 && sent && r.echo_name().as_deref() == Some("a")).then_some(())
        }
    };
    eventually(
        "the ConfigMap appears: served with its header",
        header("42"),
    )
    .await;

    m.write_list(
        "cm.json",
        &[headers_config_map(json!({"My-Custom-Header": "43"}))],
    );
    eventually("the ConfigMap's change is followed", header("43")).await;

    m.remove("cm.json");
    eventually("the ConfigMap is gone: refused again", || async {
        let r = get_with(s.http_addr, "guarded.test", "/", &[]).await;
        (r.status == 503).then_some(())
    })
    .await;
    s.shutdown().await.expect("shutdown");
}
