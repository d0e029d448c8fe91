//! Upstream behaviour: failures and retries, timeouts, pooling, streaming, upgrades.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use strait_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn refused_connect_gets_502() {
    let dead = dead_addr().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[dead])]),
    )
    .await;
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.body, "upstream connect failed");
}

#[tokio::test]
async fn a_connect_failure_is_retried_once_on_another_endpoint() {
    let live = named("live").await;
    let dead = dead_addr().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[live.addr, dead])]),
    )
    .await;
    for i in 0..10 {
        let reply = get(proxy.addr, "app.test", "/").await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}: {}", reply.body);
        assert!(reply.body.starts_with("live\n"));
    }
}

#[tokio::test]
async fn no_response_headers_in_time_gets_504() {
    let slow = upstream(|_req: Request<Incoming>| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Response::new(empty())
    })
    .await;
    let config = ProxyConfig {
        response_header_timeout: Duration::from_millis(200),
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("app.test", &[slow.addr])])).await;
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.body, "upstream timed out");
}

#[tokio::test]
async fn a_slow_upload_is_not_a_slow_upstream() {
    let collector = upstream(|req: Request<Incoming>| async {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(full(body))
    })
    .await;
    let config = ProxyConfig {
        response_header_timeout: Duration::from_millis(300),
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("app.test", &[collector.addr])])).await;
    let (mut tx, body) = Channel::<Bytes, BoxError>::new(1);
    let req = Request::post("/")
        .header("host", "app.test")
        .body(body.boxed())
        .unwrap();
    let mut sender = h1(proxy.addr).await;
    let response = tokio::spawn(async move { sender.send_request(req).await });
    tx.send_data(Bytes::from_static(b"slow ")).await.unwrap();
    // Pacing, not synchronisation: the upload outlasts the response-header timeout.
    tokio::time::sleep(Duration::from_millis(600)).await;
    tx.send_data(Bytes::from_static(b"upload")).await.unwrap();
    drop(tx);
    let reply = collect(within("response", response).await.unwrap().unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slow upload");
}

#[tokio::test]
async fn upstream_connections_are_kept_alive_and_reused() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[a.addr])]),
    )
    .await;
    for _ in 0..5 {
        let reply = get(proxy.addr, "app.test", "/").await;
        assert_eq!(reply.status, StatusCode::OK);
        eventually("the connection back in the pool", || {
            proxy.proxy.idle_upstream_connections() == 1
        })
        .await;
    }
    assert_eq!(a.accepts(), 1);
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let echo =
        upstream(|req: Request<Incoming>| async { Response::new(boxed(req.into_body())) }).await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[echo.addr])]),
    )
    .await;
    let (mut tx, body) = Channel::<Bytes, BoxError>::new(1);
    let req = Request::post("/echo")
        .header("host", "app.test")
        .body(body.boxed())
        .unwrap();
    let mut sender = h1(proxy.addr).await;
    let response = tokio::spawn(async move { sender.send_request(req).await });

    tx.send_data(Bytes::from_static(b"ping-1")).await.unwrap();
    let response = within("response headers", response).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    for chunk in ["ping-1", "ping-2", "ping-3"] {
        if chunk != "ping-1" {
            tx.send_data(Bytes::from(chunk)).await.unwrap();
        }
        // The echo of each chunk arrives while the request is still open: nothing collects.
        let frame = within("echoed chunk", body.frame()).await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), chunk.as_bytes());
    }
    drop(tx);
    assert!(within("end of body", body.frame()).await.is_none());
}

#[tokio::test]
async fn an_upgrade_becomes_a_tunnel() {
    let echo = upstream(|mut req: Request<Incoming>| async move {
        if req.headers().get("upgrade").is_none_or(|v| v != "echo") {
            return Response::builder().status(400).body(empty()).unwrap();
        }
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "echo")
            .header("connection", "upgrade")
            .body(empty())
            .unwrap()
    })
    .await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[echo.addr])]),
    )
    .await;

    let mut stream = within("connect", TcpStream::connect(proxy.addr))
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: echo\r\n"), "{head}");
    assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");

    for message in [&b"hello"[..], b"tunnel"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        within("echo", stream.read_exact(&mut echoed))
            .await
            .unwrap();
        assert_eq!(echoed, message);
    }
    assert_eq!(proxy.proxy.idle_upstream_connections(), 0);
}

/// Reads a response head byte by byte, so nothing after it is consumed.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    within("response head", async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
    })
    .await;
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn pooled_connections_the_upstream_closed_are_not_reused() {
    // An upstream that answers one request per connection, keep-alive style, then hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[addr])]),
    )
    .await;
    for i in 0..5 {
        let reply = get(proxy.addr, "app.test", "/").await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}: {}", reply.body);
        assert_eq!(reply.body, "ok");
    }
}

/// The upstream closes a kept-alive connection just as the next request arrives (it reads
/// that request, then hangs up without an answer): nginx gives such a failed cached
/// connection its try back and goes on (`ngx_http_upstream_next`), so an idempotent request
/// is sent again once, on a fresh connection to the same endpoint, while a POST is not
/// (`proxy_next_upstream`: not for non-idempotent requests once sent).
#[tokio::test]
async fn a_pooled_connection_closed_under_a_request_is_retried_fresh_for_a_get_only() {
    // Each connection answers its first request, keep-alive, and drops after reading the next.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&accepts);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                for answer in [true, false] {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    if answer {
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        let _ = stream.write_all(ok).await;
                    }
                }
            });
        }
    });
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[addr])]),
    )
    .await;
    let accepted = || accepts.load(std::sync::atomic::Ordering::SeqCst);
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "ok"));
    eventually("the connection back in the pool", || {
        proxy.proxy.idle_upstream_connections() == 1
    })
    .await;
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(accepted(), 2, "the GET went again on a fresh connection");
    eventually("the fresh connection back in the pool", || {
        proxy.proxy.idle_upstream_connections() == 1
    })
    .await;
    let mut sender = h1(proxy.addr).await;
    let post = Request::post("/")
        .header("host", "app.test")
        .body(full("form"))
        .unwrap();
    let reply = send(&mut sender, post).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert_eq!(accepted(), 2, "the POST was not sent again");
}
