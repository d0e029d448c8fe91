//! `strait echo`: a small HTTP backend that answers every request with JSON describing it.
//! Used by `strait demo`, the e2e tests and the benches.
//!
//! Serves HTTP/1.1 and h2c (prior knowledge) on one port. The answer is `application/json`:
//!
//! ```json
//! {"name": "apple", "method": "GET", "path": "/a?b=c", "host": "demo.local",
//!  "version": "HTTP/1.1", "peer": "127.0.0.1:50312", "body_bytes": 0,
//!  "headers": {"accept": "*/*", "x-twice": ["1", "2"]}}
//! ```
//!
//! - `path` is the request target as received: path and query (for HTTP/1.1 absolute-form,
//!   the whole URI). `host` is the `Host` header, else the URI authority, else `null`.
//! - `headers` maps each lower-case header name to its value as a string, or to an array of
//!   strings, in order, when the header was sent more than once. Non-UTF-8 bytes are replaced.
//! - `body_bytes` counts the request body, read as a stream (over 16 MiB: 413).
//!
//! Query knobs (other query parameters are ignored; a bad knob value is a 400):
//! `status=NNN` (200–599) sets the status; `delay_ms=N` waits before answering (at most 60 s);
//! `stream=N` answers with N newline-delimited JSON documents, each the description plus
//! `"chunk": i`, sent as separate chunks `interval_ms=N` apart (at most 10 s).
//!
//! A `GET` with `Upgrade: websocket` becomes a WebSocket that echoes every text and binary
//! message back unchanged.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version, header, request};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::admin::accept_until;

/// Largest request body the echo reads; a larger one is answered 413.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Cap of `delay_ms`.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// Cap of `interval_ms`.
const MAX_INTERVAL: Duration = Duration::from_secs(10);
/// Cap of `stream`.
const MAX_CHUNKS: u32 = 100_000;
/// How long in-flight requests may take to finish once shutdown is asked for.
const ECHO_GRACE: Duration = Duration::from_secs(10);

type EchoBody = UnsyncBoxBody<Bytes, Infallible>;

/// Serves the echo backend named `name` on `listener` until `shutdown` resolves; then stops
/// accepting, closes open WebSockets, lets in-flight requests finish (at most 10 s) and returns.
pub async fn serve_echo(
    listener: TcpListener,
    name: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let name: Arc<str> = name.into();
    let (stop_sockets, sockets_stopped) = watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_sockets.send(true);
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    accept_until(
        listener,
        shutdown,
        ECHO_GRACE,
        "echo",
        move |stream, peer| {
            let (name, stopped) = (name.clone(), sockets_stopped.clone());
            let service =
                service_fn(move |request| echo(request, name.clone(), peer, stopped.clone()));
            builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned()
        },
    )
    .await
}

/// The query knobs of one request.
#[derive(Debug, Default, PartialEq)]
struct Knobs {
    status: Option<StatusCode>,
    delay: Duration,
    stream: Option<u32>,
    interval: Duration,
}

impl Knobs {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut knobs = Self::default();
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter_map(|p| p.split_once('='));
        for (key, value) in pairs {
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{key}={value}: expected a number"))
            };
            match key {
                "status" => {
                    let status = StatusCode::from_u16(u16::try_from(number()?).unwrap_or(0))
                        .ok()
                        .filter(|s| (200..=599).contains(&s.as_u16()));
                    knobs.status = Some(status.ok_or(format!("status={value}: expected 200-599"))?);
                }
                "delay_ms" => knobs.delay = Duration::from_millis(number()?).min(MAX_DELAY),
                "interval_ms" => {
                    knobs.interval = Duration::from_millis(number()?).min(MAX_INTERVAL)
                }
                "stream" => knobs.stream = Some(number()?.min(MAX_CHUNKS.into()) as u32),
                _ => {}
            }
        }
        Ok(knobs)
    }
}

async fn echo(
    request: Request<Incoming>,
    name: Arc<str>,
    peer: SocketAddr,
    stopped: watch::Receiver<bool>,
) -> Result<Response<EchoBody>, Infallible> {
    if is_websocket_upgrade(&request) {
        return Ok(accept_websocket(request, stopped));
    }
    let knobs = match Knobs::parse(request.uri().query()) {
        Ok(knobs) => knobs,
        Err(message) => return Ok(plain(StatusCode::BAD_REQUEST, message)),
    };
    let (parts, body) = request.into_parts();
    let mut description = describe(&parts, &name, peer);
    match count_body(body).await {
        Ok(count) => description["body_bytes"] = count.into(),
        Err(status) => return Ok(plain(status, "request body rejected\n".into())),
    }
    tokio::time::sleep(knobs.delay).await;
    let mut response = match knobs.stream {
        Some(chunks) => ndjson_stream(description, chunks, knobs.interval),
        None => json_response(&description),
    };
    *response.status_mut() = knobs.status.unwrap_or(StatusCode::OK);
    Ok(response)
}

/// The JSON description of a request head (see the module docs).
fn describe(parts: &request::Parts, name: &str, peer: SocketAddr) -> Value {
    let path = match parts.version {
        Version::HTTP_2 | Version::HTTP_3 => parts.uri.path_and_query().map(|p| p.to_string()),
        _ => Some(parts.uri.to_string()),
    };
    let host = match parts.headers.get(header::HOST) {
        Some(host) => Some(lossy(host)),
        None => parts.uri.authority().map(|a| a.to_string()),
    };
    json!({
        "name": name,
        "method": parts.method.as_str(),
        "path": path.unwrap_or_default(),
        "host": host,
        "version": format!("{:?}", parts.version),
        "peer": peer.to_string(),
        "headers": headers_json(&parts.headers),
        "body_bytes": 0,
    })
}

fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let mut values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|v| lossy(v).into())
            .collect();
        let value = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        map.insert(name.as_str().to_owned(), value);
    }
    Value::Object(map)
}

fn lossy(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Reads the body frame by frame, keeping only the count.
async fn count_body(mut body: Incoming) -> Result<u64, StatusCode> {
    let mut count: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Some(data) = frame.data_ref() {
            count += data.len() as u64;
            if count > MAX_BODY_BYTES {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
        }
    }
    Ok(count)
}

fn json_response(description: &Value) -> Response<EchoBody> {
    let mut text = description.to_string();
    text.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed_unsync());
    let json = HeaderValue::from_static("application/json");
    response.headers_mut().insert(header::CONTENT_TYPE, json);
    response
}

fn ndjson_stream(description: Value, chunks: u32, interval: Duration) -> Response<EchoBody> {
    let lines = futures_util::stream::unfold(0, move |chunk| {
        let mut line = description.clone();
        async move {
            if chunk >= chunks {
                return None;
            }
            if chunk > 0 {
                tokio::time::sleep(interval).await;
            }
            line["chunk"] = chunk.into();
            let frame = Frame::data(Bytes::from(format!("{line}\n")));
            Some((Ok::<_, Infallible>(frame), chunk + 1))
        }
    });
    let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(lines)));
    let ndjson = HeaderValue::from_static("application/x-ndjson");
    response.headers_mut().insert(header::CONTENT_TYPE, ndjson);
    response
}

fn plain(status: StatusCode, message: String) -> Response<EchoBody> {
    let mut response = Response::new(Full::new(Bytes::from(message)).boxed_unsync());
    *response.status_mut() = status;
    response
}

fn is_websocket_upgrade(request: &Request<Incoming>) -> bool {
    let upgrade = request.headers().get_all(header::UPGRADE).iter();
    request.method() == http::Method::GET
        && request.version() == Version::HTTP_11
        && upgrade
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Answers 101 and echoes on the upgraded connection from a task of its own.
fn accept_websocket(
    request: Request<Incoming>,
    stopped: watch::Receiver<bool>,
) -> Response<EchoBody> {
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "missing Sec-WebSocket-Key\n".into(),
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => echo_websocket(upgraded, stopped).await,
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut response = plain(StatusCode::SWITCHING_PROTOCOLS, String::new());
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    // The accept key is base64, always a valid header value.
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

async fn echo_websocket(upgraded: Upgraded, mut stopped: watch::Receiver<bool>) {
    let io = TokioIo::new(upgraded);
    let mut socket = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    loop {
        let next = tokio::select! {
            message = socket.next() => Some(message),
            _ = stopped.wait_for(|stop| *stop) => None,
        };
        let Some(message) = next else {
            let _ = socket.close(None).await;
            return;
        };
        let message = match message {
            None => return,
            Some(Err(error)) => return tracing::debug!(%error, "websocket ended with an error"),
            Some(Ok(message)) => message,
        };
        // Pings and the close handshake are answered by tungstenite itself.
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use hyper::client::conn::{http1, http2};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    async fn start() -> (SocketAddr, oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        tokio::spawn(serve_echo(listener, "apple".into(), shutdown));
        (addr, stop)
    }

    async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> (StatusCode, Bytes) {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let response = if request.version() == Version::HTTP_2 {
            let (mut sender, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        } else {
            let (mut sender, conn) = http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        };
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    fn get(target: &str) -> Request<Full<Bytes>> {
        let request = Request::get(target).header(header::HOST, "demo.local");
        request.body(Full::default()).unwrap()
    }

    #[tokio::test]
    async fn json_describes_the_request() {
        let (addr, _stop) = start().await;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/a/b%20c?x=1&y=%2F")
            .header(header::HOST, "Demo.Local:8080")
            .header("x-twice", "1")
            .header("x-twice", "2")
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap();
        let (status, body) = send(addr, request).await;
        assert_eq!(status, StatusCode::OK);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["name"], "apple");
        assert_eq!(json["method"], "POST");
        assert_eq!(json["path"], "/a/b%20c?x=1&y=%2F");
        assert_eq!(json["host"], "Demo.Local:8080");
        assert_eq!(json["version"], "HTTP/1.1");
        assert!(json["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_eq!(json["headers"]["x-twice"], json!(["1", "2"]));
        assert_eq!(json["headers"]["content-length"], "5");
        assert_eq!(json["body_bytes"], 5);
    }

    #[tokio::test]
    async fn h2c_prior_knowledge_is_served() {
        let (addr, _stop) = start().await;
        let mut request = get("http://demo.local/h2?q=1");
        *request.version_mut() = Version::HTTP_2;
        request.headers_mut().remove(header::HOST);
        let (status, body) = send(addr, request).await;
        assert_eq!(status, StatusCode::OK);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (&json["version"], &json["path"]),
            (&json!("HTTP/2.0"), &json!("/h2?q=1"))
        );
        assert_eq!(json["host"], "demo.local");
    }

    #[tokio::test]
    async fn status_and_delay_knobs() {
        let (addr, _stop) = start().await;
        let started = std::time::Instant::now();
        let (status, body) = send(addr, get("/?status=418&delay_ms=50")).await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["name"],
            "apple"
        );
        for bad in [
            "/?status=abc",
            "/?status=99",
            "/?status=600",
            "/?delay_ms=-1",
        ] {
            assert_eq!(
                send(addr, get(bad)).await.0,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn stream_knob_sends_numbered_lines() {
        let (addr, _stop) = start().await;
        let (status, body) = send(addr, get("/s?stream=3&interval_ms=1")).await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<Value> = body
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        let chunks: Vec<&Value> = lines.iter().map(|line| &line["chunk"]).collect();
        assert_eq!(chunks, [&json!(0), &json!(1), &json!(2)]);
        assert!(
            lines
                .iter()
                .all(|line| line["path"] == "/s?stream=3&interval_ms=1")
        );
    }

    #[tokio::test]
    async fn websocket_messages_are_echoed() {
        let (addr, stop) = start().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}/ws");
        let (mut socket, response) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        for message in [
            Message::text("hello"),
            Message::binary(vec![0u8, 1, 2, 255]),
        ] {
            socket.send(message.clone()).await.unwrap();
            assert_eq!(socket.next().await.unwrap().unwrap(), message);
        }
        stop.send(()).unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
        match closed.expect("shutdown closes the socket") {
            None | Some(Ok(Message::Close(_))) | Some(Err(_)) => {}
            Some(Ok(other)) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn knobs_parse() {
        let knobs = Knobs::parse(Some("a=b&stream=2&delay_ms=999999&flag&status=201")).unwrap();
        assert_eq!(knobs.stream, Some(2));
        assert_eq!(knobs.delay, MAX_DELAY);
        assert_eq!(knobs.status, Some(StatusCode::CREATED));
        assert_eq!(Knobs::parse(None).unwrap(), Knobs::default());
    }
}
