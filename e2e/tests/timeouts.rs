//! Per-Ingress upstream timeouts through the real proxy (docs/architecture.md, "Timeouts"):
//! `proxy-read-timeout` with nginx's "between two successive read operations" meaning
//! (annotations.md, "Custom timeouts"; test/e2e/annotations/proxy.go "should set timeout
//! values using annotations"; nginx's `proxy_read_timeout` doc, and its WebSocket proxying
//! page for tunnels).
//!
//! The upstreams are raw TCP scripts on 127.0.0.2 that answer partly and then go silent.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Manifests, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "slow.test";
/// Long enough for any cut the test expects to have happened (the read timeout is 1 s; the
/// global default, 60 s, would never fire within it).
const WAIT: Duration = Duration::from_secs(5);

/// A backend that reads each request head, writes `reply`, then keeps the connection open
/// without a word.
async fn silent_after(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.2", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if stream.write_all(reply).await.is_err() {
                    return;
                }
                // Silent, until the peer closes.
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

struct Scene {
    running: Running,
    _manifests: Manifests,
}

async fn scene(upstream: SocketAddr, annotations: &[(&str, &str)]) -> Scene {
    let mut ingress = IngressB::new("default", "slow").rule(HOST, "/", "Prefix", "slow", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "slow", &[upstream]));
    let manifests = Manifests::new();
    manifests.write_list("slow.json", &items);
    let running = start(manifests.path()).await;
    Scene {
        running,
        _manifests: manifests,
    }
}

/// Sends `head` on a raw connection and reads until the proxy closes it or `wait` passes;
/// returns what arrived and whether (and when) the connection ended.
async fn exchange(addr: SocketAddr, head: &str, wait: Duration) -> (String, Option<Duration>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to strait");
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ended = timeout(wait, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (
        String::from_utf8_lossy(&got).into_owned(),
        ended.then(|| started.elapsed()),
    )
}

fn get_head() -> String {
    format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n")
}

/// A response body that stops mid-way is cut after the read timeout: the client's
/// connection closes without the final chunk (so the truncation is visible), instead of
/// hanging for ever.
#[tokio::test]
async fn a_stalled_response_body_is_cut_after_the_read_timeout() {
    let upstream =
        silent_after(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").await;
    let s = scene(upstream, &[("proxy-read-timeout", "1")]).await;
    let (got, ended) = exchange(s.running.http_addr, &get_head(), WAIT).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    assert!(got.contains("hello"), "{got:?}");
    assert!(
        !got.ends_with("0\r\n\r\n"),
        "the cut body must not look complete: {got:?}"
    );
    let ended = ended.expect("the stalled body is cut within the wait");
    assert!(
        ended >= Duration::from_millis(900),
        "cut too early: {ended:?}"
    );
}

/// No response headers within the read timeout once the request is sent: 504 after about
/// the route's timeout, not the global 60 s.
#[tokio::test]
async fn response_headers_wait_for_the_read_timeout() {
    let upstream = silent_after(b"").await;
    let s = scene(upstream, &[("proxy-read-timeout", "1")]).await;
    let started = Instant::now();
    let head = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n");
    let (got, _) = exchange(s.running.http_addr, &head, WAIT).await;
    let status = StatusCode::GATEWAY_TIMEOUT.as_u16();
    assert!(got.starts_with(&format!("HTTP/1.1 {status}")), "{got:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < WAIT,
        "{took:?}"
    );
}

/// A WebSocket tunnel in which nothing moves for the read timeout is closed.
#[tokio::test]
async fn an_idle_tunnel_closes_after_the_read_timeout() {
    let upstream = silent_after(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let s = scene(upstream, &[("proxy-read-timeout", "1")]).await;
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    );
    let (got, ended) = exchange(s.running.http_addr, &head, WAIT).await;
    assert!(got.starts_with("HTTP/1.1 101"), "{got:?}");
    let ended = ended.expect("the idle tunnel is closed within the wait");
    assert!(
        ended >= Duration::from_millis(900),
        "closed too early: {ended:?}"
    );
}

/// An invalid value (`60s`: ingress-nginx reads whole seconds with Atoi) leaves the global
/// default in force: the stalled body is not cut within the wait.
#[tokio::test]
async fn an_invalid_value_keeps_the_default() {
    let upstream =
        silent_after(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").await;
    let s = scene(upstream, &[("proxy-read-timeout", "1s")]).await;
    let wait = Duration::from_secs(2);
    let (got, ended) = exchange(s.running.http_addr, &get_head(), wait).await;
    assert!(got.contains("hello"), "{got:?}");
    assert_eq!(ended, None, "the default (60 s) applies");
}
