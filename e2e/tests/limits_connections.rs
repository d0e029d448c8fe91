//! `limit-connections` through the real proxy (docs/architecture.md, "Rate and connection
//! limits"): ingress-nginx's `test/e2e/annotations/limitconnections.go` ("should
//! limit-connections": 20 concurrent slow requests, limit 8, so 8 × 200 and 12 × 503), and
//! nginx's `limit_conn`, which counts a connection while it has a request being processed and,
//! over HTTP/2, each concurrent request. A place is given back when the response ends, when
//! the client goes away, and, for a WebSocket, when the tunnel closes.
//!
//! The upstream holds `/hold` requests until the test opens its gate and answers anything
//! else at once, so "in flight" is decided by the test, not by timing. Distinct clients are
//! distinct 127.0.0.x source addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, Reply, config, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "conn.test";
/// The 503 body of a request over the connection limit.
const OVER: &str = "too many requests in flight from this client";

/// An upstream that holds `/hold` requests until [`Gate::open`], answers others at once.
struct Gate {
    addr: SocketAddr,
    held: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

impl Gate {
    async fn start() -> Gate {
        let listener = TcpListener::bind(("127.0.0.2", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let held = Arc::new(AtomicUsize::new(0));
        let (open, opened) = watch::channel(false);
        let counter = Arc::clone(&held);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, Arc::clone(&counter), opened.clone()));
            }
        });
        Gate { addr, held, open }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    async fn holding(&self, n: usize) {
        let what = format!("the upstream to hold {n} requests");
        eventually(&what, || async { (self.held() >= n).then_some(()) }).await;
        assert_eq!(self.held(), n, "no more than {n} reached the upstream");
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

/// One upstream connection: each request head, then its answer (after the gate for `/hold`).
async fn answer(mut stream: TcpStream, held: Arc<AtomicUsize>, mut opened: watch::Receiver<bool>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let reply_head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n";
    if head.starts_with(b"GET /hold-body") {
        // The head now, the body once the gate opens.
        if stream.write_all(reply_head).await.is_err() {
            return;
        }
        held.fetch_add(1, Ordering::SeqCst);
        if opened.wait_for(|open| *open).await.is_ok() {
            let _ = stream.write_all(b"ok").await;
        }
        return;
    }
    if head.starts_with(b"GET /hold") {
        held.fetch_add(1, Ordering::SeqCst);
        if opened.wait_for(|open| *open).await.is_err() {
            return;
        }
    }
    let _ = stream.write_all(reply_head).await;
    let _ = stream.write_all(b"ok").await;
}

async fn scene(upstream: SocketAddr, limit: &str) -> Manifests {
    let ingress = IngressB::new("default", "conn")
        .rule(HOST, "/", "Prefix", "up", 80)
        .annotation(&format!("{NGINX}/limit-connections"), limit);
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "up", &[upstream]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    m
}

async fn start(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A TCP connection to Strait from source address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(ip(from), 0)).expect("bind");
    socket.connect(to).await.expect("connect")
}

/// GET `path` on a fresh connection to Strait's `http` listener from source address `from`.
async fn get_from(http: SocketAddr, from: &str, path: &str) -> Reply {
    let mut c = Conn::open_from(ip(from), http).await.expect("connect");
    c.get(HOST, path, &[]).await.expect("request")
}

fn rejections(scrape: &Scrape) -> f64 {
    let labels = [
        ("namespace", "default"),
        ("ingress", "conn"),
        ("limit", "connections"),
    ];
    scrape
        .get("strait_limit_rejections_total", &labels)
        .unwrap_or(0.0)
}

/// test/e2e/annotations/limitconnections.go "should limit-connections": 20 concurrent
/// requests, `limit-connections: 8`: the 8 that reach the upstream get 200, the 12 others 503
/// (and no other status). A second client has its own 8.
#[tokio::test]
async fn a_client_gets_as_many_requests_in_flight_as_the_limit() {
    let gate = Gate::start().await;
    let m = scene(gate.addr, "8").await;
    let s = start(&m, |_| {}).await;
    let http = s.http_addr;
    let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..20 {
        let done = done.clone();
        tokio::spawn(async move {
            let r = get_from(http, "127.0.0.11", "/hold").await;
            let _ = done.send((r.status.as_u16(), r.text()));
        });
    }
    gate.holding(8).await;
    for _ in 0..12 {
        let (status, text) = tokio::time::timeout(DEADLINE, results.recv())
            .await
            .expect("the 12 over the limit are answered while 8 are held")
            .expect("a result");
        assert_eq!((status, text.as_str()), (503, OVER));
    }
    let other = get_from(s.http_addr, "127.0.0.12", "/fast").await;
    assert_eq!(other.status, 200, "another client: {}", other.text());
    gate.open();
    for _ in 0..8 {
        let (status, _) = results.recv().await.expect("a result");
        assert_eq!(status, 200);
    }
    assert_eq!(rejections(&Scrape::of(&s).await), 12.0);
    // Every place was given back with its response.
    for _ in 0..3 {
        assert_eq!(
            get_from(s.http_addr, "127.0.0.11", "/fast").await.status,
            200
        );
    }
    s.shutdown().await.unwrap();
}

/// nginx's `limit_conn` counts a connection only while its request is processed: a client
/// that goes away mid-request gives its place back. `--limit-conn-status-code` (ConfigMap
/// `limit-conn-status-code`) sets the status.
#[tokio::test]
async fn a_client_that_goes_away_gives_its_place_back() {
    let gate = Gate::start().await;
    let m = scene(gate.addr, "1").await;
    let s = start(&m, |c| {
        c.proxy.limit_conn_status = http::StatusCode::TOO_MANY_REQUESTS;
    })
    .await;
    let from = "127.0.0.21";
    let mut held = connect_from(from, s.http_addr).await;
    let head = format!("GET /hold HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
    held.write_all(head.as_bytes()).await.expect("write");
    gate.holding(1).await;
    let r = get_from(s.http_addr, from, "/fast").await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (429, OVER));
    drop(held);
    eventually("the place to be given back", || async {
        (get_from(s.http_addr, from, "/fast").await.status == 200).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

/// nginx's `limit_conn` counts the connection until the request is finalized, the response
/// sent: a response whose body is still streaming keeps its place.
#[tokio::test]
async fn a_streaming_response_holds_its_place_until_the_body_ends() {
    let gate = Gate::start().await;
    let m = scene(gate.addr, "1").await;
    let s = start(&m, |_| {}).await;
    let from = "127.0.0.51";
    let mut streaming = connect_from(from, s.http_addr).await;
    let head = format!("GET /hold-body HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
    streaming.write_all(head.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, streaming.read(&mut buf))
            .await
            .expect("the response head in time")
            .expect("read");
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let r = get_from(s.http_addr, from, "/fast").await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (503, OVER),
        "the body is in flight"
    );
    gate.open();
    while !got.ends_with(b"ok") {
        let n = tokio::time::timeout(DEADLINE, streaming.read(&mut buf))
            .await
            .expect("the body in time")
            .expect("read");
        assert!(n > 0, "closed before the body ended");
        got.extend_from_slice(&buf[..n]);
    }
    eventually("the place to be given back with the body", || async {
        (get_from(s.http_addr, from, "/fast").await.status == 200).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

/// nginx's `limit_conn` doc: "In HTTP/2 … each concurrent request is considered a separate
/// connection": streams of one connection count one by one.
#[tokio::test]
async fn over_http2_each_stream_counts() {
    let gate = Gate::start().await;
    let m = scene(gate.addr, "2").await;
    let s = start(&m, |_| {}).await;
    let stream = connect_from("127.0.0.31", s.http_addr).await;
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..3 {
        let (mut sender, done) = (sender.clone(), done.clone());
        tokio::spawn(async move {
            let request = http::Request::get(format!("http://{HOST}/hold"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.expect("h2 response");
            let _ = done.send(response.status().as_u16());
        });
    }
    gate.holding(2).await;
    let third = tokio::time::timeout(DEADLINE, results.recv()).await;
    assert_eq!(third.expect("answered while two are held"), Some(503));
    gate.open();
    for _ in 0..2 {
        assert_eq!(results.recv().await, Some(200));
    }
    s.shutdown().await.unwrap();
}

/// nginx counts a WebSocket as a request being processed until it closes; so does Strait:
/// the tunnel holds the place.
#[tokio::test]
async fn a_websocket_holds_its_place_until_the_tunnel_closes() {
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = scene(echo.addr, "1").await;
    let s = start(&m, |_| {}).await;
    let from = "127.0.0.41";
    let stream = connect_from(from, s.http_addr).await;
    let (mut ws, response) = tokio_tungstenite::client_async(format!("ws://{HOST}/chat"), stream)
        .await
        .expect("websocket handshake through strait");
    assert_eq!(response.status(), 101);
    ws.send(Message::text("ping")).await.expect("send");
    let back = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("echo in time");
    assert_eq!(
        back.expect("a frame")
            .expect("valid")
            .into_text()
            .unwrap()
            .as_str(),
        "ping"
    );
    let r = get_from(s.http_addr, from, "/").await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (503, OVER),
        "the tunnel is in flight"
    );
    assert_eq!(
        get_from(s.http_addr, "127.0.0.42", "/").await.status,
        200,
        "another client"
    );
    ws.close(None).await.expect("close");
    while let Ok(Some(Ok(_))) = tokio::time::timeout(DEADLINE, ws.next()).await {}
    drop(ws);
    eventually("the tunnel's place to be given back", || async {
        (get_from(s.http_addr, from, "/").await.status == 200).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}
