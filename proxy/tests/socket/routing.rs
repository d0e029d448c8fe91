//! Routing, Strait's own answers, and what the upstream sees of a request.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use strait_proxy::ProxyConfig;
use strait_shared::table::Unavailable;

use crate::support::*;

#[tokio::test]
async fn requests_route_by_host_to_their_backend() {
    let a = named("a").await;
    let b = named("b").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("a.test", &[a.addr]), rule("b.test", &[b.addr])]),
    )
    .await;

    let reply = get(proxy.addr, "a.test", "/x").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.starts_with("a\n"), "{}", reply.body);

    let reply = get(proxy.addr, "B.Test:8080", "/").await;
    assert!(reply.body.starts_with("b\n"), "{}", reply.body);
}

#[tokio::test]
async fn unknown_host_gets_404() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("a.test", &[a.addr])]),
    )
    .await;
    let reply = get(proxy.addr, "nope.test", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.headers["content-type"], "text/plain; charset=utf-8");
    assert!(reply.headers.get("server").is_none());
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn unavailable_backend_gets_503_with_its_reason() {
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![Rule {
            host: "down.test",
            path: "/",
            backend: Err(Unavailable::NoReadyEndpoints),
            access_log: true,
        }]),
    )
    .await;
    let reply = get(proxy.addr, "down.test", "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body, Unavailable::NoReadyEndpoints.reason());
    assert_eq!(reply.headers["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test]
async fn a_published_table_serves_the_next_request() {
    let a = named("a").await;
    let b = named("b").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[a.addr])]),
    )
    .await;
    assert!(
        get(proxy.addr, "app.test", "/")
            .await
            .body
            .starts_with("a\n")
    );
    proxy
        .table
        .store(Arc::new(table(vec![rule("app.test", &[b.addr])])));
    assert!(
        get(proxy.addr, "app.test", "/")
            .await
            .body
            .starts_with("b\n")
    );
}

#[tokio::test]
async fn the_upstream_gets_the_target_byte_for_byte_host_and_rebuilt_forwarding_headers() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[a.addr])]),
    )
    .await;
    let target = "/a/%2e%2E/b//c?q=%20x&y=%2F";
    let req = Request::get(target)
        .header("host", "App.test:80")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("x-real-ip", "203.0.113.9")
        .header("x-request-id", "mine")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("x-end-to-end", "kept")
        .body(empty())
        .unwrap();
    let reply = send(&mut h1(proxy.addr).await, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut lines = reply.body.lines();
    assert_eq!(lines.nth(1), Some(format!("GET {target}").as_str()));
    assert_eq!(reply.header_line("host"), Some("App.test:80"));
    assert_eq!(reply.header_line("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(reply.header_line("x-forwarded-proto"), Some("http"));
    assert_eq!(reply.header_line("x-forwarded-host"), Some("App.test:80"));
    assert_eq!(
        reply.header_line("x-forwarded-port"),
        Some(proxy.addr.port().to_string().as_str())
    );
    assert_eq!(reply.header_line("x-real-ip"), Some("127.0.0.1"));
    // ingress-nginx's `$req_id`: the client's own request id goes through.
    assert_eq!(reply.header_line("x-request-id"), Some("mine"));
    assert_eq!(reply.header_line("x-hop"), None);
    assert_eq!(reply.header_line("connection"), None);
    assert_eq!(reply.header_line("x-end-to-end"), Some("kept"));
}

#[tokio::test]
async fn a_trusted_peer_keeps_its_forwarding_headers() {
    let a = named("a").await;
    let config = ProxyConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("app.test", &[a.addr])])).await;
    let req = Request::get("/")
        .header("host", "app.test")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("x-request-id", "mine")
        .body(empty())
        .unwrap();
    let reply = send(&mut h1(proxy.addr).await, req).await;
    assert_eq!(
        reply.header_line("x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(reply.header_line("x-forwarded-proto"), Some("https"));
    assert_eq!(reply.header_line("x-real-ip"), Some("203.0.113.9"));
    assert_eq!(reply.header_line("x-request-id"), Some("mine"));
}

#[tokio::test]
async fn response_hop_by_hop_headers_are_stripped_and_the_rest_passes_unchanged() {
    let up = upstream(|_req: Request<Incoming>| async {
        Response::builder()
            .header("connection", "x-up-hop")
            .header("x-up-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("server", "tiny-upstream")
            .header("date", "Tue, 15 Nov 1994 08:12:31 GMT")
            .header("content-length", "2")
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ok");
    assert_eq!(reply.headers["server"], "tiny-upstream");
    assert_eq!(reply.headers["date"], "Tue, 15 Nov 1994 08:12:31 GMT");
    assert_eq!(reply.headers["content-length"], "2");
    assert!(reply.headers.get("x-up-hop").is_none());
    assert!(reply.headers.get("keep-alive").is_none());
}

#[tokio::test]
async fn http11_request_without_host_gets_400() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let response = raw(proxy.addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&response), 400, "{response}");
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn http10_request_without_host_routes_to_hostless_rules() {
    let a = named("a").await;
    let proxy = Harness::start(ProxyConfig::default(), table(vec![rule("", &[a.addr])])).await;
    let response = raw(proxy.addr, b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(raw_status(&response), 200, "{response}");
    assert!(response.contains("\r\n\r\na\nGET /x\n"), "{response}");
}

#[tokio::test]
async fn absolute_form_routes_by_its_authority_and_goes_upstream_in_origin_form() {
    let a = named("a").await;
    let b = named("b").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("a.test", &[a.addr]), rule("b.test", &[b.addr])]),
    )
    .await;
    let response = raw(
        proxy.addr,
        // The Host must agree with the authority (a mismatch is 400: see hostile.rs).
        b"GET http://a.test/p?x=1 HTTP/1.1\r\nHost: A.test:80\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.contains("\r\n\r\na\nGET /p?x=1\n"), "{response}");
    assert!(response.contains("\nhost: a.test\n"), "{response}");

    let response = raw(
        proxy.addr,
        b"GET http://a.test?x=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.contains("\r\n\r\na\nGET /?x=1\n"), "{response}");
}
