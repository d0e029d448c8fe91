//! Per-Ingress upstream timeouts through the real proxy (docs/architecture.md, "Timeouts"):
//! `proxy-read-timeout` and `proxy-send-timeout` with nginx's "between two successive read
//! (write) operations" meaning (annotations.md, "Custom timeouts"; configmap.md,
//! "proxy-send-timeout"; test/e2e/annotations/proxy.go "should set valid proxy timeouts";
//! nginx's `proxy_read_timeout` and `proxy_send_timeout` docs, and its WebSocket proxying page
//! for tunnels).
//!
//! The upstreams are raw TCP scripts on 127.0.0.2 that answer partly and then go silent, or
//! never read at all.

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

/// A backend that accepts connections and never reads from them; with `reply`, it first
/// writes that (without reading the request).
async fn deaf(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.2", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            if !reply.is_empty() {
                // The request head is small: it waits in the socket buffer, unread.
                let _ = stream.write_all(reply).await;
            }
            held.push(stream);
        }
    });
    addr
}

/// Writes `head` then `body` on a fresh connection while reading what comes back; returns
/// what arrived once the proxy closed the connection (or `wait` passed), and when.
async fn upload(
    addr: SocketAddr,
    head: String,
    body: Vec<u8>,
    wait: Duration,
) -> (String, Option<Duration>) {
    let stream = TcpStream::connect(addr).await.expect("connect to strait");
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        // Fails once the proxy gives up on the body and closes: expected.
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&body).await;
        write
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ended = timeout(wait, async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    writer.abort();
    (
        String::from_utf8_lossy(&got).into_owned(),
        ended.then(|| started.elapsed()),
    )
}

/// Far more than the loopback socket buffers between Strait and the upstream can hold.
const LARGE: usize = 64 << 20;

/// An upstream that reads nothing of a large request body: once a write to it has waited for
/// the send timeout (configmap.md, "proxy-send-timeout": between two successive write
/// operations), the client gets 504, after about the route's 1 s, not the global 60 s.
#[tokio::test]
async fn a_body_the_upstream_does_not_read_gets_504_after_the_send_timeout() {
    let upstream = deaf(b"").await;
    let annotations = [("proxy-send-timeout", "1"), ("proxy-body-size", "0")];
    let s = scene(upstream, &annotations).await;
    let head = format!("PUT /upload HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {LARGE}\r\n\r\n");
    let (got, ended) = upload(s.running.http_addr, head, vec![0u8; LARGE], WAIT).await;
    let status = StatusCode::GATEWAY_TIMEOUT.as_u16();
    assert!(got.starts_with(&format!("HTTP/1.1 {status}")), "{got:?}");
    let took = ended.expect("answered and closed within the wait");
    assert!(
        took >= Duration::from_millis(900),
        "cut too early: {took:?}"
    );
}

/// A WebSocket tunnel whose upstream stops reading is closed once a write to it has waited
/// for the send timeout (nginx's upgraded-connection handler times a pending write to the
/// upstream with `proxy_send_timeout`), though the client keeps sending (so the read timeout
/// never fires).
#[tokio::test]
async fn a_tunnel_the_upstream_does_not_read_closes_after_the_send_timeout() {
    let upstream = deaf(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let s = scene(upstream, &[("proxy-send-timeout", "1")]).await;
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    );
    let (got, ended) = upload(s.running.http_addr, head, vec![0u8; LARGE], WAIT).await;
    assert!(got.starts_with("HTTP/1.1 101"), "{got:?}");
    let took = ended.expect("the tunnel is closed within the wait");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
}
