//! gRPC end to end through the real proxy (docs/architecture.md, "Upstream protocols";
//! annotations.md "Backend Protocol", test/e2e/annotations/grpc.go): a gRPC server and client
//! speaking the gRPC wire format (length-prefixed messages, `grpc-status` trailers, gRPC's
//! PROTOCOL-HTTP2.md) over HTTP/2 — the client to Strait in cleartext (prior knowledge), Strait
//! to the server with `backend-protocol: GRPC` — for unary, server-, client- and
//! bidirectional-streaming calls, and the proxy's own errors as gRPC statuses.
//!
//! The messages are opaque bytes: the proxy never reads them, so a protobuf codec would test
//! nothing more of it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::stream;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Manifests, start};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "grpc.test";
const WAIT: Duration = Duration::from_secs(10);

type Body = StreamBody<futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

/// A body fed from a channel (`None` in the channel ends nothing: dropping the sender does).
fn channel_body() -> (mpsc::Sender<Frame<Bytes>>, Body) {
    let (tx, rx) = mpsc::channel::<Frame<Bytes>>(16);
    let frames = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok(frame), rx))
    });
    (tx, StreamBody::new(Box::pin(frames) as _))
}

/// A gRPC message: compressed flag 0, 4-byte length, the bytes.
fn message(bytes: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + bytes.len());
    out.put_u8(0);
    out.put_u32(u32::try_from(bytes.len()).expect("small"));
    out.put_slice(bytes);
    out.freeze()
}

/// Splits whole messages off `buf`.
fn messages(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut out = Vec::new();
    while buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            break;
        }
        buf.advance(5);
        out.push(buf.split_to(len).freeze());
    }
    out
}

fn ok_trailers() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().expect("value"));
    trailers
}

/// The server: `/Unary` answers the message, `/ServerStream` answers it three times 50 ms
/// apart, `/ClientStream` answers the count of messages received once the request ends,
/// `/Bidi` answers each message as it arrives, `/Slow` waits 3 s before its response headers.
async fn grpc_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                Ok::<_, Infallible>(call(request).await)
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    addr
}

async fn call(request: Request<Incoming>) -> Response<Body> {
    let method = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned();
    if method == "Slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let mut body = request.into_body();
    let (tx, response_body) = channel_body();
    tokio::spawn(async move {
        let mut buf = BytesMut::new();
        let mut count = 0u32;
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            for m in messages(&mut buf) {
                count += 1;
                match method.as_str() {
                    "Unary" | "Bidi" | "Slow" => {
                        let _ = tx.send(Frame::data(message(&m))).await;
                    }
                    "ServerStream" => {
                        for _ in 0..3 {
                            let _ = tx.send(Frame::data(message(&m))).await;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    _ => {}
                }
            }
        }
        if method == "ClientStream" {
            let _ = tx
                .send(Frame::data(message(count.to_string().as_bytes())))
                .await;
        }
        let _ = tx.send(Frame::trailers(ok_trailers())).await;
    });
    Response::builder()
        .header("content-type", "application/grpc")
        .body(response_body)
        .expect("response")
}

struct Scene {
    running: Running,
    _manifests: Manifests,
}

async fn scene(upstream: SocketAddr, annotations: &[(&str, &str)]) -> Scene {
    let mut ingress = IngressB::new("default", "grpc").rule(HOST, "/", "Prefix", "grpc", 80);
    for (key, value) in annotations {
        ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
    }
    let mut items = vec![our_class(), ingress.build()];
    items.extend(backend("default", "grpc", &[upstream]));
    let manifests = Manifests::new();
    manifests.write_list("grpc.json", &items);
    let running = start(manifests.path()).await;
    Scene {
        running,
        _manifests: manifests,
    }
}

/// An open call: the request's message sender and the response.
struct Call {
    send: mpsc::Sender<Frame<Bytes>>,
    response: Response<Incoming>,
    buf: BytesMut,
}

/// Opens an HTTP/2 connection to Strait (prior knowledge) and starts a call of `method`
/// with `headers`.
async fn open(strait: SocketAddr, method: &str, headers: &[(&str, &str)]) -> Call {
    start_call(strait, method, headers, None).await
}

/// As [`open`], with the whole request (one message) sent before the response is awaited.
async fn open_sent(strait: SocketAddr, method: &str, headers: &[(&str, &str)], m: &[u8]) -> Call {
    start_call(strait, method, headers, Some(m)).await
}

async fn start_call(
    strait: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    whole: Option<&[u8]>,
) -> Call {
    let tcp = TcpStream::connect(strait).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Body>(TokioIo::new(tcp))
        .await
        .expect("h2 handshake");
    tokio::spawn(conn);
    let (mut send, body) = channel_body();
    if let Some(m) = whole {
        send.send(Frame::data(message(m))).await.expect("queued");
        send = mpsc::channel(1).0;
    }
    let mut request = Request::post(format!("http://{HOST}/echo.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(body).expect("request");
    // The headers go out at once; the response comes when the server answers.
    let response = tokio::spawn(async move { sender.send_request(request).await });
    let response = timeout(WAIT, response)
        .await
        .expect("response in time")
        .expect("task")
        .expect("response");
    Call {
        send,
        response,
        buf: BytesMut::new(),
    }
}

impl Call {
    /// Ends the request stream (its only sender is dropped).
    fn finish(&mut self) {
        self.send = mpsc::channel(1).0;
    }

    async fn send(&self, bytes: &[u8]) {
        self.send
            .send(Frame::data(message(bytes)))
            .await
            .expect("send");
    }

    /// The next message, or the trailers' `grpc-status` when the call ends.
    async fn next(&mut self) -> Result<Bytes, String> {
        loop {
            if let Some(m) = messages(&mut self.buf).into_iter().next() {
                return Ok(m);
            }
            let frame = timeout(WAIT, self.response.body_mut().frame())
                .await
                .expect("a frame in time");
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buf.extend_from_slice(&data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().expect("trailers");
                        return Err(status(&trailers));
                    }
                },
                Some(Err(e)) => panic!("response body failed: {e}"),
                None => return Err(status(self.response.headers())),
            }
        }
    }
}

fn status(headers: &HeaderMap) -> String {
    headers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap_or("?").to_owned())
        .unwrap_or_else(|| "none".to_owned())
}

/// Unary and server streaming: trailers pass through (`grpc-status: 0`).
#[tokio::test]
async fn unary_and_server_streaming_calls() {
    let scene = scene(grpc_server().await, &[("backend-protocol", "GRPC")]).await;
    let strait = scene.running.http_addr;
    let mut unary = open(strait, "Unary", &[]).await;
    unary.send(b"hello").await;
    unary.finish();
    assert_eq!(unary.response.status(), StatusCode::OK);
    assert_eq!(&unary.next().await.expect("reply")[..], b"hello");
    assert_eq!(unary.next().await, Err("0".to_owned()));

    let mut stream = open(strait, "ServerStream", &[]).await;
    stream.send(b"tick").await;
    stream.finish();
    for _ in 0..3 {
        assert_eq!(&stream.next().await.expect("message")[..], b"tick");
    }
    assert_eq!(stream.next().await, Err("0".to_owned()));
}

/// Client streaming: the server answers once the request stream ends.
#[tokio::test]
async fn client_streaming_call() {
    let scene = scene(grpc_server().await, &[("backend-protocol", "GRPC")]).await;
    let mut call = open(scene.running.http_addr, "ClientStream", &[]).await;
    for m in [&b"a"[..], b"b", b"c", b"d"] {
        call.send(m).await;
    }
    call.finish();
    assert_eq!(&call.next().await.expect("count")[..], b"4");
    assert_eq!(call.next().await, Err("0".to_owned()));
}

/// Bidirectional streaming: each message's answer comes back before the next is sent, so
/// the proxy relays both directions at once, not the request first.
#[tokio::test]
async fn bidi_streaming_call() {
    let scene = scene(grpc_server().await, &[("backend-protocol", "GRPC")]).await;
    let mut call = open(scene.running.http_addr, "Bidi", &[]).await;
    for m in [&b"one"[..], b"two", b"three"] {
        call.send(m).await;
        assert_eq!(&call.next().await.expect("echo")[..], m);
    }
    call.finish();
    assert_eq!(call.next().await, Err("0".to_owned()));
}

/// The proxy's own errors as a gRPC client expects them: HTTP 200 with `grpc-status` —
/// no route → UNIMPLEMENTED (12), no endpoint → UNAVAILABLE (14), `grpc-timeout` passed
/// before the backend answers → DEADLINE_EXCEEDED (4).
#[tokio::test]
async fn proxy_errors_are_grpc_statuses() {
    let dead = strait_e2e::dead_addr([127, 0, 0, 2]).await;
    let scene = scene(dead, &[("backend-protocol", "GRPC")]).await;
    let strait = scene.running.http_addr;
    let call = open(strait, "Unary", &[]).await;
    assert_eq!(call.response.status(), StatusCode::OK);
    assert_eq!(status(call.response.headers()), "14");

    let tcp = TcpStream::connect(strait).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Body>(TokioIo::new(tcp))
        .await
        .expect("h2 handshake");
    tokio::spawn(conn);
    let request = Request::post("http://nowhere.test/echo.Echo/Unary")
        .header("content-type", "application/grpc")
        .body(channel_body().1)
        .expect("request");
    let response = timeout(WAIT, sender.send_request(request))
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(status(response.headers()), "12");

    let scene = self::scene(grpc_server().await, &[("backend-protocol", "GRPC")]).await;
    let started = tokio::time::Instant::now();
    let headers = [("grpc-timeout", "300m")];
    let call = open_sent(scene.running.http_addr, "Slow", &headers, b"late").await;
    assert_eq!(status(call.response.headers()), "4");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut at the client's deadline"
    );
}
