//! Upstream links driven in the request's own task (proxy/src/pool.rs): the connection moves
//! only while its request's task polls it, and goes back to the pool the moment the response
//! body ends — including bodies hyper never polls and bodies abandoned midway.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use hyper::body::Incoming;
use strait_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// An upstream answering by path: `/204` No Content, `/empty` 200 with `Content-Length: 0`,
/// `/big` 8 MiB, `/endless` one chunk and then nothing for a minute, else `ok`.
async fn shapes() -> Upstream {
    upstream(|req: Request<Incoming>| async move {
        match req.uri().path() {
            "/204" => {
                let mut res = Response::new(empty());
                *res.status_mut() = StatusCode::NO_CONTENT;
                res
            }
            "/empty" => Response::new(full(Bytes::new())),
            "/big" => Response::new(full(vec![b'x'; 8 << 20])),
            "/endless" => {
                let (mut tx, body) = Channel::<Bytes, BoxError>::new(1);
                tokio::spawn(async move {
                    let _ = tx.send_data(Bytes::from_static(b"first chunk")).await;
                    // Held open, sending nothing more, until the test is long over.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(tx);
                });
                Response::new(body.boxed())
            }
            _ => Response::new(full("ok")),
        }
    })
    .await
}

#[tokio::test]
async fn responses_without_a_body_return_their_connection_at_once() {
    let up = shapes().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    let mut client = h1(proxy.addr).await;
    for (method, path, status) in [
        (Method::GET, "/204", StatusCode::NO_CONTENT),
        (Method::HEAD, "/", StatusCode::OK),
        (Method::GET, "/empty", StatusCode::OK),
        (Method::GET, "/204", StatusCode::NO_CONTENT),
    ] {
        let mut request = get_request("app.test", path);
        *request.method_mut() = method.clone();
        let reply = send(&mut client, request).await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert!(reply.body.is_empty(), "{method} {path}: {}", reply.body);
        eventually("the connection back in the pool", || {
            proxy.proxy.idle_upstream_connections() == 1
        })
        .await;
    }
    assert_eq!(
        up.accepts(),
        1,
        "one upstream connection served every request"
    );
}

#[tokio::test]
async fn a_large_body_streams_and_then_its_connection_is_reused() {
    let up = shapes().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    for _ in 0..2 {
        let reply = get(proxy.addr, "app.test", "/big").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body.len(), 8 << 20);
        eventually("the connection back in the pool", || {
            proxy.proxy.idle_upstream_connections() == 1
        })
        .await;
    }
    assert_eq!(up.accepts(), 1);
}

#[tokio::test]
async fn a_response_abandoned_midway_closes_its_upstream_connection() {
    let up = shapes().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    let mut stream = within("connect", TcpStream::connect(proxy.addr))
        .await
        .unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("first chunk") {
        let n = within("the first chunk", stream.read(&mut buf))
            .await
            .unwrap();
        assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stream);
    // The half-read response cannot carry another request: its link is dropped, not pooled,
    // and the next request opens a new upstream connection.
    let reply = get(proxy.addr, "app.test", "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ok");
    assert_eq!(up.accepts(), 2);
    eventually("only the second connection pooled", || {
        proxy.proxy.idle_upstream_connections() == 1
    })
    .await;
}

#[tokio::test]
async fn http2_streams_share_pooled_http1_upstream_connections() {
    let up = shapes().await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[up.addr])]),
    )
    .await;
    let (client, _conn) = h2(proxy.addr).await;
    for _ in 0..5 {
        let mut client = client.clone();
        let response = within("h2 response", client.send_request(h2_get("/")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
    }
    assert_eq!(up.accepts(), 1, "sequential streams reuse one connection");
    let concurrent: Vec<_> = (0..8)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let response = client.send_request(h2_get("/big")).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                response
                    .into_body()
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes()
                    .len()
            })
        })
        .collect();
    for stream in concurrent {
        assert_eq!(within("a stream", stream).await.unwrap(), 8 << 20);
    }
    assert!(up.accepts() <= 9, "{} connections", up.accepts());
    eventually("every connection back in the pool", || {
        proxy.proxy.idle_upstream_connections() == up.accepts()
    })
    .await;
}

fn h2_get(path: &str) -> Request<UpBody> {
    Request::builder()
        .uri(format!("http://app.test{path}"))
        .body(empty())
        .unwrap()
}
