//! Request body limits through the real proxy (docs/architecture.md, "Access policies"):
//! `proxy-body-size` and the global `--max-body-size` (default 1m), on `Content-Length` before
//! anything goes upstream and on chunked bodies as they stream.

use std::time::Duration;

use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{DEADLINE, Echo, Manifests, dead_addr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// `body.test` to `upstream` (an echo, or a dead address), with `annotations`.
fn folder(upstream: std::net::SocketAddr, annotations: &[(&str, &str)]) -> Manifests {
    let mut ingress = IngressB::new("default", "body").rule("body.test", "/", "Prefix", "a", 80);
    for (k, v) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{k}"), v);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "a", &[upstream]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    m
}

async fn start(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = strait_e2e::config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

/// Sends `head` then `body` while reading the answer (an early answer is seen); returns the
/// status and the whole answer text.
async fn exchange(s: &Running, head: String, body: Vec<u8>) -> (u16, String) {
    let stream = TcpStream::connect(s.http_addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(16 * 1024) {
            write.write_all(chunk).await?;
        }
        Ok::<_, std::io::Error>(write)
    });
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, read.read_to_end(&mut raw))
        .await
        .expect("an answer within the deadline");
    let _ = writer.await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {text:?}"));
    (status, text)
}

async fn post(s: &Running, len: usize) -> (u16, String) {
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: body.test\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    exchange(s, head, vec![b'x'; len]).await
}

/// A chunked POST of `len` bytes in 8 KiB chunks.
async fn post_chunked(s: &Running, len: usize) -> (u16, String) {
    let head = "POST /up HTTP/1.1\r\nHost: body.test\r\nTransfer-Encoding: chunked\r\n\
                Connection: close\r\n\r\n"
        .to_owned();
    let mut body = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(8 * 1024);
        body.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'x', n));
        body.extend_from_slice(b"\r\n");
        left -= n;
    }
    body.extend_from_slice(b"0\r\n\r\n");
    exchange(s, head, body).await
}

/// ingress-nginx annotations.md "Custom max body size" (`proxy-body-size`) and nginx's
/// `client_max_body_size`: a declared length over the limit is answered 413 before anything
/// is sent upstream — the upstream here is a dead address, which would answer 502.
#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_the_upstream() {
    let m = folder(
        dead_addr([127, 0, 0, 2]).await,
        &[("proxy-body-size", "1k")],
    );
    let s = start(&m, |_| {}).await;
    let (status, text) = post(&s, 1025).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let (status, _) = post(&s, 1024).await;
    assert_eq!(status, 502, "at the limit the request goes upstream");
    s.shutdown().await.unwrap();
}

/// ingress-nginx's default `proxy-body-size: 1m` (configmap.md) applies to every route
/// without the annotation; `0` disables the check (nginx `client_max_body_size 0`).
#[tokio::test]
async fn the_global_default_is_one_mebibyte_and_zero_is_unlimited() {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = folder(a.addr, &[]);
    let s = start(&m, |_| {}).await;
    assert_eq!(post(&s, 1 << 20).await.0, 200);
    assert_eq!(post(&s, (1 << 20) + 1).await.0, 413);
    s.shutdown().await.unwrap();
    let m = folder(a.addr, &[("proxy-body-size", "0")]);
    let s = start(&m, |_| {}).await;
    assert_eq!(post(&s, 3 << 20).await.0, 200);
    s.shutdown().await.unwrap();
    let m = folder(a.addr, &[]);
    let s = start(&m, |c| c.compile.max_body_size = None).await;
    assert_eq!(post(&s, 3 << 20).await.0, 200, "--max-body-size 0");
    s.shutdown().await.unwrap();
}

/// ingress-nginx test/e2e/annotations/proxy.go "should set proxy client-max-body-size to 8m"
/// (nginx's `client_max_body_size` also counts chunked bodies): a chunked
/// body has no length to check up front; it is counted as it streams and cut at the limit
/// (413: the echo answers only after the whole body, so no response has started).
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_with_413() {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = folder(a.addr, &[("proxy-body-size", "64k")]);
    let s = start(&m, |c| c.proxy.client_body_timeout = Duration::from_secs(5)).await;
    let (status, text) = post_chunked(&s, 64 * 1024).await;
    assert_eq!(status, 200, "at the limit: {text}");
    assert!(text.contains("\"body_bytes\":65536"), "{text}");
    let (status, text) = post_chunked(&s, 200 * 1024).await;
    assert_eq!(status, 413, "{text}");
    s.shutdown().await.unwrap();
}
