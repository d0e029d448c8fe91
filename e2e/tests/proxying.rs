//! The proxy's behaviour end to end: forwarding headers and client-IP trust, upstream
//! failures (502, 503, 504), WebSocket tunnelling, h2c, and hostile requests.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, config, dead_addr, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Echo `a` behind `/` of host `p.test`, plus a route to a dead port under `/dead`.
async fn folder() -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let dead = dead_addr([127, 0, 0, 4]).await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "dead", &[dead]));
    items.push(
        IngressB::new("default", "p")
            .rule("p.test", "/", "Prefix", "a", 80)
            .rule("p.test", "/dead", "Prefix", "dead", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    (m, a)
}

async fn start_with(
    m: &Manifests,
    tweak: impl FnOnce(&mut strait_controller::serve::ServeConfig),
) -> strait_controller::serve::Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[tokio::test]
async fn untrusted_peer_gets_forwarding_headers_rebuilt() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |_| {}).await;
    let mut c = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let spoof = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-real-ip", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.test"),
        ("x-original-forwarded-for", "6.6.6.6"),
        ("proxy", "http://evil.test:3128"),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "must-not-pass"),
    ];
    let r = c.get("P.test:1234", "/h", &spoof).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed_header("x-forwarded-for").as_deref(),
        Some("127.0.0.9")
    );
    assert_eq!(r.echoed_header("x-real-ip").as_deref(), Some("127.0.0.9"));
    assert_eq!(
        r.echoed_header("x-forwarded-proto").as_deref(),
        Some("http")
    );
    assert_eq!(
        r.echoed_header("x-forwarded-host").as_deref(),
        Some("P.test:1234")
    );
    assert_eq!(
        r.echoed_header("x-forwarded-port"),
        Some(s.http_addr.port().to_string())
    );
    assert_eq!(
        r.echoed_header("host").as_deref(),
        Some("P.test:1234"),
        "Host kept"
    );
    // The template's `X-Forwarded-Scheme`/`X-Scheme`, and `Proxy ""` (httpoxy).
    for name in ["x-forwarded-scheme", "x-scheme"] {
        assert_eq!(r.echoed_header(name).as_deref(), Some("http"), "{name}");
    }
    assert_eq!(r.echoed_header("proxy"), None);
    assert_eq!(r.echoed_header("x-original-forwarded-for"), None);
    // No X-Request-ID came in: a new one goes up.
    let id = r.echoed_header("x-request-id").expect("request id");
    assert_eq!(id.len(), 32);
    assert_eq!(
        r.echoed_header("x-hop"),
        None,
        "Connection-listed header removed"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn trusted_peer_keeps_chain_and_client_is_rightmost_untrusted() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |c| {
        c.proxy.trusted_proxies = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
    })
    .await;
    let mut c = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let hdrs = [
        ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "abc123"),
    ];
    let r = c.get("p.test", "/h", &hdrs).await.unwrap();
    assert_eq!(
        r.echoed_header("x-forwarded-for").as_deref(),
        Some("6.6.6.6, 203.0.113.7, 10.1.2.3, 127.0.0.9")
    );
    assert_eq!(r.echoed_header("x-real-ip").as_deref(), Some("203.0.113.7"));
    assert_eq!(
        r.echoed_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(r.echoed_header("x-request-id").as_deref(), Some("abc123"));
    assert_eq!(
        r.echoed_header("x-original-forwarded-for").as_deref(),
        Some("6.6.6.6, 203.0.113.7, 10.1.2.3")
    );
    s.shutdown().await.unwrap();
}

/// ingress-nginx's template maps `$http_x_request_id` to `$req_id`: a client's own
/// `X-Request-ID` goes upstream whoever sent it, so one id follows a request across services.
#[tokio::test]
async fn a_clients_request_id_goes_upstream() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |_| {}).await;
    let mut c = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let r = c
        .get("p.test", "/h", &[("x-request-id", "trace-42")])
        .await
        .unwrap();
    assert_eq!(r.echoed_header("x-request-id").as_deref(), Some("trace-42"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn dead_upstream_is_502_and_slow_upstream_is_504() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |c| {
        c.proxy.response_header_timeout = Duration::from_millis(300)
    })
    .await;
    let r = get(s.http_addr, "p.test", "/dead").await;
    assert_eq!(r.status, 502);
    let r = get(s.http_addr, "p.test", "/slow?delay_ms=3000").await;
    assert_eq!(r.status, 504);
    let r = get(s.http_addr, "p.test", "/fast?delay_ms=10").await;
    assert_eq!(r.status, 200);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn connect_failure_is_retried_once_on_another_endpoint() {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let dead = dead_addr([127, 0, 0, 4]).await;
    // Same port on both addresses is not needed: each endpoint carries its own port through
    // its own slice.
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.push(strait_e2e::manifests::service(
        "default", "mixed", 80, "http",
    ));
    items.push(strait_e2e::manifests::endpoint_slice(
        "default",
        "mixed-live",
        "mixed",
        "http",
        a.addr.port(),
        &[strait_e2e::manifests::Ep::ready(a.addr)],
    ));
    items.push(strait_e2e::manifests::endpoint_slice(
        "default",
        "mixed-dead",
        "mixed",
        "http",
        dead.port(),
        &[strait_e2e::manifests::Ep::ready(dead)],
    ));
    items.push(
        IngressB::new("default", "m")
            .rule("m.test", "/", "Prefix", "mixed", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    let s = start_with(&m, |_| {}).await;
    for i in 0..20 {
        let r = get(s.http_addr, "m.test", "/").await;
        assert_eq!(
            r.status, 200,
            "request {i} was not retried on the live endpoint"
        );
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |_| {}).await;
    let stream = TcpStream::connect(s.http_addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async("ws://p.test/chat", stream)
        .await
        .expect("websocket handshake through strait");
    assert_eq!(resp.status(), 101);
    for msg in ["hello", "strait"] {
        ws.send(Message::text(msg)).await.unwrap();
        let back = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("echo in time")
            .expect("a frame")
            .expect("valid frame");
        assert_eq!(back.into_text().unwrap().as_str(), msg);
    }
    ws.close(None).await.unwrap();
    // The server answers the close handshake; then the tunnel ends.
    let end = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    assert!(
        end.is_ok(),
        "close handshake did not complete through the tunnel"
    );
    drop(ws);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn h2c_prior_knowledge_clients_are_served() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |_| {}).await;
    let stream = TcpStream::connect(s.http_addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = http::Request::get("http://p.test/h2")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.expect("h2 response");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["name"], "a");
    assert_eq!(v["path"], "/h2");
    s.shutdown().await.unwrap();
}

/// Sends raw bytes and returns the status line of the answer (never hangs: deadline).
async fn raw_status(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 1024];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(2).any(|w| w == b"\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "server hung on a malformed request");
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn malformed_requests_get_4xx_and_the_server_keeps_serving() {
    let (m, _a) = folder().await;
    let s = start_with(&m, |_| {}).await;
    let addr = s.http_addr;
    let bad_byte = b"GET / HTTP/1.1\r\nHost: p.test\r\nX-Bad: a\x01b\r\n\r\n";
    assert!(raw_status(addr, bad_byte).await.starts_with("HTTP/1.1 400"));
    let bad_name = b"GET / HTTP/1.1\r\nHost: p.test\r\nBad Header: v\r\n\r\n";
    assert!(raw_status(addr, bad_name).await.starts_with("HTTP/1.1 400"));
    let cl =
        b"POST / HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert!(raw_status(addr, cl).await.starts_with("HTTP/1.1 400"));
    let mut big = b"GET / HTTP/1.1\r\nHost: p.test\r\n".to_vec();
    for i in 0..80 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    assert!(raw_status(addr, &big).await.starts_with("HTTP/1.1 431"));
    // Just under the 64 KiB limit is fine.
    let mut fits = b"GET / HTTP/1.1\r\nHost: p.test\r\n".to_vec();
    for i in 0..60 {
        fits.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    fits.extend_from_slice(b"\r\n");
    assert!(raw_status(addr, &fits).await.starts_with("HTTP/1.1 200"));
    let no_host = b"GET / HTTP/1.1\r\n\r\n";
    assert!(raw_status(addr, no_host).await.starts_with("HTTP/1.1 400"));
    // Still serving.
    assert_eq!(get(addr, "p.test", "/").await.status, 200);
    s.shutdown().await.unwrap();
}
