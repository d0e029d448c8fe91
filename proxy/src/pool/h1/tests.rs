//! The codec against a scripted upstream on a real loopback socket: what goes on the wire, and
//! how each response framing of RFC 9112 §6.3 is read.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::upload::Kept;

const DEADLINE: Duration = Duration::from_secs(10);

/// A codec connection and the upstream's end of it.
async fn pair() -> (Box<H1>, TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (Box::new(H1::new(client)), server, addr)
}

fn get(path: &'static str) -> Request<RequestBody> {
    let mut request = Request::new(RequestBody::empty());
    *request.uri_mut() = http::Uri::from_static(path);
    request
        .headers_mut()
        .insert(HOST, http::HeaderValue::from_static("app.test"));
    request
}

fn post(frames: &[&'static [u8]]) -> Request<RequestBody> {
    let kept = Kept::of(frames.iter().map(|f| Bytes::from_static(f)).collect());
    let body = RequestBody::replay(Some(Arc::new(kept))).unwrap();
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static("/upload");
    request
}

/// The head, kept by the caller as the pool keeps it, and the body the exchange takes.
fn split(mut request: Request<RequestBody>) -> (Request<RequestBody>, RequestBody) {
    let body = std::mem::replace(request.body_mut(), RequestBody::empty());
    (request, body)
}

/// Reads the request head the upstream received (through its blank line), and `extra` bytes.
async fn received(server: &mut TcpStream, extra: usize) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(DEADLINE, async {
        while !got.ends_with(b"\r\n\r\n") {
            server.read_exact(&mut byte).await.unwrap();
            got.push(byte[0]);
        }
        let mut rest = vec![0; extra];
        server.read_exact(&mut rest).await.unwrap();
        got.extend_from_slice(&rest);
    })
    .await
    .expect("the request arrives");
    String::from_utf8(got).unwrap()
}

/// Sends `request` while the upstream reads it and answers `answer` (written in pieces of
/// `step` bytes); returns what it received, the response head and the whole body.
async fn round(
    request: Request<RequestBody>,
    extra: usize,
    answer: &'static [u8],
    step: usize,
) -> (
    String,
    Result<(Response<()>, Vec<u8>, Option<http::HeaderMap>), String>,
    Box<H1>,
) {
    let (mut conn, mut server, addr) = pair().await;
    let upstream = tokio::spawn(async move {
        let got = received(&mut server, extra).await;
        for piece in answer.chunks(step) {
            server.write_all(piece).await.unwrap();
            server.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
        // The end of a body read until close; the others are read before it.
        server.shutdown().await.unwrap();
        (got, server)
    });
    let result = tokio::time::timeout(DEADLINE, async {
        let (request, body) = split(request);
        let (response, mut framing) = match conn.exchange(addr, &request, body).await {
            Ok(head) => head,
            Err(Failure::Failed(error)) => return Err(error.to_string()),
            Err(Failure::Unsent(_, error)) => return Err(format!("unsent: {error}")),
        };
        let (mut body, mut trailers) = (Vec::new(), None);
        while let Some(frame) = poll_fn(|cx| conn.poll_body(&mut framing, cx)).await {
            let frame = frame.map_err(|e| e.to_string())?;
            match frame.into_data() {
                Ok(data) => body.extend_from_slice(&data),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        Ok((response, body, trailers))
    })
    .await
    .expect("the exchange ends");
    let (got, _server) = upstream.await.unwrap();
    (got, result, conn)
}

#[tokio::test]
async fn a_get_goes_out_in_origin_form_and_a_sized_body_comes_back_whole() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello";
    let (got, result, conn) = round(get("/a?b=c"), 0, answer, answer.len()).await;
    assert_eq!(got, "GET /a?b=c HTTP/1.1\r\nhost: app.test\r\n\r\n");
    let (response, body, _) = result.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-a"], "1");
    assert_eq!(body, b"hello");
    assert!(conn.may_continue());
}

#[tokio::test]
async fn a_response_read_a_byte_at_a_time_is_the_same_response() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-check: yes\r\n\r\n";
    let (_, result, conn) = round(get("/"), 0, answer, 1).await;
    let (_, body, trailers) = result.unwrap();
    assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
    assert_eq!(trailers.unwrap()["x-check"], "yes");
    assert!(conn.may_continue());
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
        HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok";
    let (_, result, _) = round(get("/"), 0, answer, answer.len()).await;
    let (response, body, _) = result.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(body, b"ok");
}

/// RFC 9112 §9.3 and §6.3: what ends the connection after the response.
#[tokio::test]
async fn connection_close_http_1_0_and_unframed_bodies_end_the_connection() {
    let cases: [(&'static [u8], &[u8], bool); 5] = [
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\na", b"a", false),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\na", b"a", false),
        (b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\na", b"a", true),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil close", b"until close", false),
        // Both framings: the coding wins, and the connection is not trusted again.
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
            b"z",
            false,
        ),
    ];
    for (answer, want, reusable) in cases {
        let (_, result, conn) = round(get("/"), 0, answer, answer.len()).await;
        let (_, body, _) = result.unwrap();
        assert_eq!(body, want, "{}", String::from_utf8_lossy(answer));
        assert_eq!(
            conn.may_continue(),
            reusable,
            "{}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[tokio::test]
async fn bodiless_responses_have_no_body_whatever_their_length_says() {
    let (_, result, conn) = round(
        {
            let mut head = get("/");
            *head.method_mut() = Method::HEAD;
            head
        },
        0,
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
        64,
    )
    .await;
    let (response, body, _) = result.unwrap();
    assert_eq!(response.headers()[CONTENT_LENGTH], "5");
    assert!(body.is_empty());
    assert!(conn.may_continue());
    let (_, result, _) = round(get("/"), 0, b"HTTP/1.1 204 No Content\r\n\r\n", 64).await;
    assert!(result.unwrap().1.is_empty());
}

#[tokio::test]
async fn broken_responses_are_errors_not_guesses() {
    let cases: [&'static [u8]; 7] = [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\nz\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nzX\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n11111111111111111\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
        b"NOT HTTP\r\n\r\n",
    ];
    for answer in cases {
        let (_, result, conn) = round(get("/"), 0, answer, answer.len()).await;
        assert!(result.is_err(), "{}", String::from_utf8_lossy(answer));
        assert!(!conn.may_continue());
    }
}

#[tokio::test]
async fn a_known_length_body_goes_with_its_content_length() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    let (got, result, conn) = round(post(&[b"abc", b"defg"]), 7, answer, 64).await;
    assert!(got.starts_with("POST /upload HTTP/1.1\r\n"), "{got}");
    assert!(got.contains("content-length: 7\r\n"), "{got}");
    assert!(!got.contains(TRANSFER_ENCODING.as_str()), "{got}");
    assert!(got.ends_with("\r\n\r\nabcdefg"), "{got}");
    result.unwrap();
    assert!(conn.may_continue());
}

#[tokio::test]
async fn the_upstream_closing_before_answering_fails_the_exchange() {
    let (mut conn, mut server, addr) = pair().await;
    let upstream = tokio::spawn(async move {
        received(&mut server, 0).await;
    });
    let (request, body) = split(get("/"));
    let result = tokio::time::timeout(DEADLINE, conn.exchange(addr, &request, body))
        .await
        .unwrap();
    upstream.await.unwrap();
    match result {
        Err(Failure::Failed(ProxyError::Upstream {
            source: UpstreamError::Closed | UpstreamError::Io(_),
            ..
        })) => {}
        other => panic!("expected a failed exchange, got {other:?}"),
    }
}

/// A 101 hands the connection over, with the bytes the server sent right behind its head.
#[tokio::test]
async fn a_101_gives_the_connection_with_what_followed_the_head() {
    let (mut conn, mut server, addr) = pair().await;
    let upstream = tokio::spawn(async move {
        received(&mut server, 0).await;
        server
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\nearly")
            .await
            .unwrap();
        let mut echo = [0u8; 4];
        server.read_exact(&mut echo).await.unwrap();
        server.write_all(&echo).await.unwrap();
    });
    let (request, body) = split(get("/ws"));
    let (response, framing) = tokio::time::timeout(DEADLINE, conn.exchange(addr, &request, body))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(framing, Framing::Empty);
    let mut tunnel = conn.into_upgraded();
    let mut early = [0u8; 5];
    tunnel.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"early");
    tunnel.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(DEADLINE, tunnel.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping");
    upstream.await.unwrap();
}

/// An idle pooled connection the upstream closed, or wrote to, is not used again.
#[tokio::test]
async fn an_idle_connection_closed_or_written_to_by_the_upstream_is_not_reusable() {
    for unexpected in [None, Some(&b"HTTP/1.1 408 Request Timeout\r\n\r\n"[..])] {
        let (mut conn, mut server, _) = pair().await;
        assert!(conn.reusable());
        match unexpected {
            Some(bytes) => server.write_all(bytes).await.unwrap(),
            None => drop(server),
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while conn.reusable() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the change is never seen"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Property: a chunked body cut into reads anywhere decodes to the same bytes, and no input
/// makes the decoder panic or loop.
#[test]
fn chunked_decoding_does_not_depend_on_where_reads_end() {
    bolero::check!()
        .with_test_time(crate::fuzz::budget())
        .with_type::<(Vec<u8>, Vec<u8>, u8)>()
        .for_each(|(data, noise, cut)| {
            let mut wire = Vec::new();
            for piece in data.chunks(usize::from(*cut).max(1)) {
                wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                wire.extend_from_slice(piece);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let (decoded, ended) = decode_in_reads(&wire, usize::from(*cut) % 7 + 1);
            assert!(ended);
            assert_eq!(&decoded, data);
            // Arbitrary bytes: an answer or an error, never a panic.
            let _ = decode_in_reads(noise, 3);
        });
}

fn decode_in_reads(wire: &[u8], read: usize) -> (Vec<u8>, bool) {
    let mut decoder = chunked::Decoder::default();
    let (mut buffer, mut out) = (BytesMut::new(), Vec::new());
    let mut pieces = wire.chunks(read);
    loop {
        match decoder.step(&mut buffer) {
            Ok(chunked::Step::Data(data)) => out.extend_from_slice(&data),
            Ok(chunked::Step::Trailers(_)) => {}
            Ok(chunked::Step::End) => return (out, true),
            Ok(chunked::Step::More) => match pieces.next() {
                Some(piece) => buffer.extend_from_slice(piece),
                None => return (out, false),
            },
            Err(_) => return (out, false),
        }
    }
}
