//! Passing a failed request to the next endpoint, through the real proxy
//! (docs/architecture.md, "Retries"): `proxy-next-upstream`, `-tries`, `-timeout` and
//! `--retry-non-idempotent`, with ingress-nginx's defaults (configmap.md: `proxy-next-upstream`
//! "error timeout", `proxy-next-upstream-tries` 3; annotations.md, "Custom timeouts";
//! test/e2e/annotations/proxy.go "should build proxy next upstream" and
//! test/e2e/settings/proxy_next_upstream.go set the values used here) and nginx's semantics
//! (ngx_http_proxy_module, `proxy_next_upstream`).
//!
//! Each backend has two or three endpoints on distinct 127.x addresses sharing one port (each
//! test its own addresses): a live echo, and scripted ones that refuse, answer 502, close
//! after reading the request or never answer.
//! Strait runs one worker, so consecutive requests alternate over the endpoints: of two
//! requests, exactly one starts on each endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{DEADLINE, Echo, Manifests, config};
use strait_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "retry.test";

/// What a scripted endpoint does with each request, once it has read it whole.
#[derive(Clone, Copy)]
enum Script {
    /// Answers 502 with the body `bad upstream`.
    BadGateway,
    /// Closes the connection without a word.
    Close,
    /// Keeps the connection open without a word.
    Silent,
}

/// A scripted endpoint and the requests it has read.
struct Scripted {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(ip: [u8; 4], port: u16, script: Script) -> Scripted {
        let listener = TcpListener::bind((std::net::Ipv4Addr::from(ip), port))
            .await
            .expect("bind scripted endpoint");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let hits = Arc::clone(&counted);
                tokio::spawn(async move {
                    while read_request(&mut stream).await {
                        hits.fetch_add(1, Ordering::SeqCst);
                        match script {
                            Script::BadGateway => {
                                let reply = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 12\r\n\r\nbad upstream";
                                if stream.write_all(reply.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            Script::Close => return,
                            Script::Silent => {
                                let mut buf = [0u8; 1024];
                                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                                return;
                            }
                        }
                    }
                });
            }
        });
        Scripted { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads one request (head, and a `Content-Length` body); `false` when the peer closed.
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// A running Strait and the manifests it serves.
struct Scene {
    running: Running,
    _manifests: Manifests,
}

/// Strait with one worker, routing `retry.test` to a Service whose endpoints are `addrs`
/// (one port), through an Ingress with `annotations`.
async fn scene(
    addrs: &[SocketAddr],
    annotations: &[(&str, &str)],
    tweak: fn(&mut ProxyConfig),
) -> Scene {
    let mut ingress = IngressB::new("default", "retry").rule(HOST, "/", "Prefix", "svc", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "svc", addrs));
    let manifests = Manifests::new();
    manifests.write_list("retry.json", &items);
    let mut cfg = config(manifests.path());
    cfg.workers = 1;
    tweak(&mut cfg.proxy);
    let running = strait_controller::serve::start(cfg)
        .await
        .expect("strait starts");
    Scene {
        running,
        _manifests: manifests,
    }
}

fn defaults(_: &mut ProxyConfig) {}

/// The address `host` of test number `test`: each test has loopback addresses of its own, so a
/// port one test releases (a dead endpoint) is never bound by another running beside it.
fn at(test: u8, host: u8) -> [u8; 4] {
    [127, 31, test, host]
}

/// A bound-then-released port on `ip`: connections to it are refused.
async fn dead(ip: [u8; 4], port: u16) -> SocketAddr {
    let l = TcpListener::bind((std::net::Ipv4Addr::from(ip), port))
        .await
        .expect("bind");
    l.local_addr().expect("addr")
}

/// An answer read off a raw connection (`Connection: close`).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// Sends `method` with `body` (and its `Content-Length`) and reads the whole answer.
async fn send(s: &Scene, method: &str, body: &[u8]) -> Answer {
    let exchange = async {
        let mut stream = TcpStream::connect(s.running.http_addr)
            .await
            .expect("connect to strait");
        let head = format!(
            "{method} /r HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(body).await.expect("body");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.expect("answer");
        got
    };
    let got = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("an answer within the deadline");
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Answer { status, body }
}

async fn retries(s: &Scene) -> f64 {
    let scrape = Scrape::of(&s.running).await;
    scrape
        .get("strait_upstream_retries_total", &[])
        .unwrap_or(0.0)
}

/// Sends `method` twice: one request starts on each of two endpoints.
async fn twice(s: &Scene, method: &str, body: &[u8]) -> Vec<Answer> {
    vec![send(s, method, body).await, send(s, method, body).await]
}

fn statuses(answers: &[Answer]) -> Vec<u16> {
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    statuses
}

/// The default `error timeout` (configmap.md, "proxy-next-upstream"): a refused connect goes
/// to the other endpoint, so both requests are served, and exactly one was passed on.
#[tokio::test]
async fn a_dead_endpoint_is_passed_over_with_one_retry() {
    let live = Echo::start("live", at(1, 2), 0).await;
    let dead = dead(at(1, 3), live.addr.port()).await;
    let s = scene(&[live.addr, dead], &[], defaults).await;
    let before = retries(&s).await;
    let answers = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&answers), [200, 200], "{answers:?}");
    assert!(
        answers.iter().all(|a| a.body.contains("\"live\"")),
        "{answers:?}"
    );
    assert_eq!(retries(&s).await - before, 1.0);
}

/// `off` (nginx's `proxy_next_upstream off`, a value ingress-nginx's validator accepts):
/// nothing is passed on; the request that started on the dead endpoint gets 502.
#[tokio::test]
async fn off_passes_nothing_on() {
    let live = Echo::start("live", at(2, 2), 0).await;
    let dead = dead(at(2, 3), live.addr.port()).await;
    let s = scene(
        &[live.addr, dead],
        &[("proxy-next-upstream", "off")],
        defaults,
    )
    .await;
    let answers = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&answers), [200, 502], "{answers:?}");
    assert_eq!(retries(&s).await, 0.0);
}

/// `http_502` listed (test/e2e/annotations/proxy.go "should build proxy next upstream" sets
/// `error timeout http_502`): a 502 goes to the next endpoint and its body is never relayed.
#[tokio::test]
async fn a_502_goes_to_the_next_endpoint_when_http_502_is_listed() {
    let bad = Scripted::start(at(3, 3), 0, Script::BadGateway).await;
    let live = Echo::start("live", at(3, 2), bad.addr.port()).await;
    let next = [("proxy-next-upstream", "error timeout http_502")];
    let s = scene(&[live.addr, bad.addr], &next, defaults).await;
    let answers = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&answers), [200, 200], "{answers:?}");
    assert!(answers.iter().all(|a| !a.body.contains("bad upstream")));
    assert_eq!(bad.hits(), 1);
    assert_eq!(retries(&s).await, 1.0);
}

/// Without `http_502` (the default list, configmap.md) the upstream's 502 is the answer, body
/// and all: nginx passes a response it may not retry on unchanged.
#[tokio::test]
async fn without_http_502_the_upstreams_502_passes() {
    let bad = Scripted::start(at(4, 3), 0, Script::BadGateway).await;
    let live = Echo::start("live", at(4, 2), bad.addr.port()).await;
    let s = scene(&[live.addr, bad.addr], &[], defaults).await;
    let answers = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&answers), [200, 502], "{answers:?}");
    let passed = answers.iter().find(|a| a.status == 502).unwrap();
    assert_eq!(passed.body, "bad upstream");
    assert_eq!(retries(&s).await, 0.0);
}

/// `proxy-next-upstream-tries` (nginx's `proxy_next_upstream_tries`: "the number of possible
/// tries", 0 turning the limit off) counts every attempt, the first included: with 2, a
/// request meets two of three failing endpoints and gets the last one's own 502 (nginx passes
/// the response on when no try is left); with 0 it meets each endpoint once and stops, as
/// nginx does when every server was tried.
#[tokio::test]
async fn tries_bound_the_attempts_and_each_endpoint_is_tried_once() {
    let a = Scripted::start(at(5, 2), 0, Script::BadGateway).await;
    let port = a.addr.port();
    let b = Scripted::start(at(5, 3), port, Script::BadGateway).await;
    let c = Scripted::start(at(5, 4), port, Script::BadGateway).await;
    let addrs = [a.addr, b.addr, c.addr];
    let hits = || a.hits() + b.hits() + c.hits();

    let limited = [
        ("proxy-next-upstream", "http_502"),
        ("proxy-next-upstream-tries", "2"),
    ];
    let s = scene(&addrs, &limited, defaults).await;
    let answer = send(&s, "GET", b"").await;
    assert_eq!((answer.status, answer.body.as_str()), (502, "bad upstream"));
    assert_eq!(hits(), 2);
    assert_eq!(retries(&s).await, 1.0);
    s.running.shutdown().await.expect("shutdown");

    let unlimited = [
        ("proxy-next-upstream", "http_502"),
        ("proxy-next-upstream-tries", "0"),
    ];
    let s = scene(&addrs, &unlimited, defaults).await;
    let answer = send(&s, "GET", b"").await;
    assert_eq!(answer.status, 502);
    assert_eq!(hits(), 2 + 3);
    // Two distinct endpoints the first time, all three the second: never one twice.
    let mut each = [a.hits(), b.hits(), c.hits()];
    each.sort_unstable();
    assert_eq!(each, [1, 2, 2]);
    assert_eq!(retries(&s).await, 2.0);
}

/// A POST that reached an endpoint which then failed is not passed on (configmap.md,
/// "retry-non-idempotent": since nginx 1.9.13 POST, LOCK and PATCH are not retried); the same
/// failure on a GET is. The endpoint reads the whole request and closes the connection
/// without an answer.
#[tokio::test]
async fn a_sent_post_is_not_passed_on_but_a_get_is() {
    let closer = Scripted::start(at(6, 3), 0, Script::Close).await;
    let live = Echo::start("live", at(6, 2), closer.addr.port()).await;
    let s = scene(&[live.addr, closer.addr], &[], defaults).await;
    let posts = twice(&s, "POST", b"hello").await;
    assert_eq!(statuses(&posts), [200, 502], "{posts:?}");
    assert_eq!(closer.hits(), 1);
    assert_eq!(retries(&s).await, 0.0);
    let gets = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&gets), [200, 200], "{gets:?}");
    assert_eq!(closer.hits(), 2);
    assert_eq!(retries(&s).await, 1.0);
}

/// `non_idempotent` (nginx's `proxy_next_upstream`), and `--retry-non-idempotent` (the
/// ConfigMap's `retry-non-idempotent: "true"`, which ingress-nginx turns into that word on
/// every location), let a sent POST go on: the next endpoint gets the whole body again (kept
/// while it streamed).
#[tokio::test]
async fn non_idempotent_sends_a_post_again_with_its_body() {
    let closer = Scripted::start(at(7, 3), 0, Script::Close).await;
    let live = Echo::start("live", at(7, 2), closer.addr.port()).await;
    let next = [("proxy-next-upstream", "error timeout non_idempotent")];
    let s = scene(&[live.addr, closer.addr], &next, defaults).await;
    let posts = twice(&s, "POST", b"hello").await;
    assert_eq!(statuses(&posts), [200, 200], "{posts:?}");
    assert!(
        posts.iter().all(|a| a.body.contains("\"body_bytes\":5")),
        "{posts:?}"
    );
    assert_eq!(closer.hits(), 1);
    s.running.shutdown().await.expect("shutdown");

    let flag = |proxy: &mut ProxyConfig| proxy.retries.non_idempotent = true;
    let s = scene(&[live.addr, closer.addr], &[], flag).await;
    let posts = twice(&s, "POST", b"hello").await;
    assert_eq!(statuses(&posts), [200, 200], "{posts:?}");
    assert_eq!(closer.hits(), 2);
}

/// Strait streams request bodies: one of at most 64 KiB is kept while it streams and sent
/// again; a larger one is not kept, so a request carrying it is not passed on once sent
/// (nginx, which buffers bodies, would; the registry states the difference).
#[tokio::test]
async fn only_a_body_of_at_most_64_kib_is_sent_again() {
    let closer = Scripted::start(at(8, 3), 0, Script::Close).await;
    let live = Echo::start("live", at(8, 2), closer.addr.port()).await;
    let s = scene(&[live.addr, closer.addr], &[], defaults).await;
    let small = vec![b'x'; 64 * 1024];
    let puts = twice(&s, "PUT", &small).await;
    assert_eq!(statuses(&puts), [200, 200], "{puts:?}");
    assert!(
        puts.iter().all(|a| a.body.contains("\"body_bytes\":65536")),
        "{puts:?}"
    );
    let large = vec![b'x'; 64 * 1024 + 1];
    let puts = twice(&s, "PUT", &large).await;
    assert_eq!(statuses(&puts), [200, 502], "{puts:?}");
    assert_eq!(closer.hits(), 2);
}

/// `proxy-next-upstream-timeout` (nginx's `proxy_next_upstream_timeout`: "limits the time
/// during which a request can be passed to the next server"): once it has passed since the
/// first attempt, a failure is the answer. The first endpoint takes 2 s to fail (no response
/// headers within the read timeout); with a 1 s window its failure is not passed on.
#[tokio::test]
async fn nothing_goes_on_after_the_next_upstream_timeout() {
    let silent = Scripted::start(at(9, 3), 0, Script::Silent).await;
    let live = Echo::start("live", at(9, 2), silent.addr.port()).await;
    let window = [
        ("proxy-read-timeout", "2"),
        ("proxy-next-upstream-timeout", "1"),
    ];
    let s = scene(&[live.addr, silent.addr], &window, defaults).await;
    let answers = twice(&s, "GET", b"").await;
    assert_eq!(statuses(&answers), [200, 504], "{answers:?}");
    assert_eq!(retries(&s).await, 0.0);
}
