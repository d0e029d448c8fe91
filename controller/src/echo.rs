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
mod tests;
