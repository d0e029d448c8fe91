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
