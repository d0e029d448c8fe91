//! Slow, idle and hostile clients (issue 18): the client header timeout, the client body
//! timeout, the connection limit, and requests refused at the front door before routing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use strait_proxy::{ProxyConfig, Scheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const HEADER: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_secs(2);
/// Scheduling slack on a loaded CI machine; well under `IDLE - HEADER`.
const SLACK: Duration = Duration::from_millis(700);

fn short_timeouts() -> ProxyConfig {
    ProxyConfig {
        client_header_timeout: HEADER,
        idle_timeout: IDLE,
        client_body_timeout: HEADER,
        ..ProxyConfig::default()
    }
}

/// Reads until the server closes the connection (EOF or reset), failing after [`DEADLINE`].
async fn closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = within("the server to close", stream.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn a_header_dribbled_past_the_header_timeout_is_cut() {
    let a = named("a").await;
    let proxy = Harness::start(short_timeouts(), table(vec![rule("app.test", &[a.addr])])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let started = Instant::now();
    let header = b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for byte in header {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        // Pacing: one byte every 50 ms, the slow client under test.
        let mut probe = [0u8; 1];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut probe)).await
        {
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "no answer expected: {read:?}"
            );
            cut = true;
            break;
        }
    }
    assert!(cut, "the dribbling client was never cut off");
    let elapsed = started.elapsed();
    assert!(elapsed >= HEADER, "cut after {elapsed:?}");
    assert!(elapsed < HEADER + SLACK, "cut only after {elapsed:?}");
    assert_eq!(a.accepts(), 0);
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    let a = named("a").await;
    let proxy = Harness::start(short_timeouts(), table(vec![rule("app.test", &[a.addr])])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let started = Instant::now();
    let out = closed(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(out.is_empty(), "no answer expected: {out:?}");
    assert!(
        elapsed >= HEADER - Duration::from_millis(20),
        "closed after {elapsed:?}"
    );
    assert!(elapsed < HEADER + SLACK, "closed only after {elapsed:?}");
}

#[tokio::test]
async fn a_keep_alive_connection_outlives_the_header_timeout() {
    let a = named("a").await;
    let proxy = Harness::start(short_timeouts(), table(vec![rule("app.test", &[a.addr])])).await;
    let (mut sender, conn) = h1_with_conn(proxy.addr).await;
    assert_eq!(
        send(&mut sender, get_request("app.test", "/")).await.status,
        StatusCode::OK
    );
    // Pacing: idle for three header timeouts, well inside the idle timeout.
    tokio::time::sleep(HEADER * 3).await;
    assert!(
        !conn.is_finished(),
        "the idle keep-alive connection was closed"
    );
    assert_eq!(
        send(&mut sender, get_request("app.test", "/")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.accepts(),
        1,
        "both requests went over one upstream connection"
    );
}

#[tokio::test]
async fn the_header_timeout_restarts_at_the_first_byte_of_the_next_request() {
    let a = named("a").await;
    let proxy = Harness::start(short_timeouts(), table(vec![rule("app.test", &[a.addr])])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = within("the first response", stream.read(&mut buf))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Pacing: idle past the header timeout, then half a request that never ends.
    tokio::time::sleep(HEADER * 2).await;
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let started = Instant::now();
    // The rest of the first response may still be in the buffer: read to the close.
    closed(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(elapsed < HEADER + SLACK, "closed only after {elapsed:?}");
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_with_408() {
    let bodies = Arc::new(AtomicUsize::new(0));
    let done = Arc::clone(&bodies);
    let up = upstream(move |req: Request<Incoming>| {
        let done = Arc::clone(&done);
        async move {
            if req.into_body().collect().await.is_ok() {
                done.fetch_add(1, Ordering::SeqCst);
            }
            http::Response::new(full("read"))
        }
    })
    .await;
    let proxy = Harness::start(short_timeouts(), table(vec![rule("app.test", &[up.addr])])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let started = Instant::now();
    let out = closed(&mut stream).await;
    let elapsed = started.elapsed();
    let out = String::from_utf8_lossy(&out);
    assert_eq!(raw_status(&out), 408, "{out}");
    assert!(elapsed < HEADER + SLACK, "cut only after {elapsed:?}");
    assert_eq!(up.accepts(), 1, "the upload had started upstream");
    assert_eq!(
        bodies.load(Ordering::SeqCst),
        0,
        "the upstream never got a whole body"
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_at_once_and_counted() {
    let a = named("a").await;
    let config = ProxyConfig {
        max_client_connections: 2,
        ..ProxyConfig::default()
    };
    let proxy = Harness::start(config, table(vec![rule("app.test", &[a.addr])])).await;
    let (mut first, first_conn) = h1_with_conn(proxy.addr).await;
    let mut second = h1(proxy.addr).await;
    assert_eq!(
        send(&mut first, get_request("app.test", "/")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&mut second, get_request("app.test", "/")).await.status,
        StatusCode::OK
    );

    let mut third = TcpStream::connect(proxy.addr).await.unwrap();
    let _ = third
        .write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await;
    let out = closed(&mut third).await;
    assert!(
        out.is_empty(),
        "the connection over the limit got an answer: {out:?}"
    );
    assert_eq!(
        proxy.proxy.front_counts(Scheme::Http).connections_rejected,
        1
    );

    drop(first);
    within("the first connection to close", first_conn)
        .await
        .unwrap();
    eventually("a slot to free up", || {
        proxy.proxy.front_counts(Scheme::Http).connections_rejected == 1
    })
    .await;
    let reply = within("a connection once a slot is free", async {
        loop {
            let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let out = closed(&mut stream).await;
            if !out.is_empty() {
                return String::from_utf8_lossy(&out).into_owned();
            }
        }
    })
    .await;
    assert_eq!(raw_status(&reply), 200);
}

#[tokio::test]
async fn invalid_hosts_and_targets_get_400_and_never_reach_the_upstream() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("", &[a.addr]), rule("app.test", &[a.addr])]),
    )
    .await;
    let cases: &[&[u8]] = &[
        b"GET abc HTTP/1.1\r\nHost: app.test\r\n",
        b"GET app.test:80 HTTP/1.1\r\nHost: app.test\r\n",
        b"GET * HTTP/1.1\r\nHost: app.test\r\n",
        b"GET / HTTP/1.1\r\nHost: app.test, b.test\r\n",
        b"GET / HTTP/1.1\r\nHost: user@app.test\r\n",
        b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: app.test\r\n",
        b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: b.test\r\n",
        b"GET / HTTP/1.1\r\nHost:\r\n",
        b"GET http://b.test/ HTTP/1.1\r\nHost: app.test\r\n",
        b"GET http://user@app.test/ HTTP/1.1\r\n",
    ];
    for case in cases {
        let mut request = case.to_vec();
        request.extend_from_slice(b"Connection: close\r\n\r\n");
        let out = raw(proxy.addr, &request).await;
        assert_eq!(
            raw_status(&out),
            400,
            "{}\n{out}",
            String::from_utf8_lossy(case)
        );
    }
    assert_eq!(a.accepts(), 0, "a refused request reached the upstream");
}

#[tokio::test]
async fn valid_forms_are_served_with_a_clean_upstream_request() {
    let a = named("a").await;
    let proxy = Harness::start(
        ProxyConfig::default(),
        table(vec![rule("app.test", &[a.addr])]),
    )
    .await;

    let out = raw(
        proxy.addr,
        b"GET http://app.test/abs HTTP/1.1\r\nHost: APP.test:80\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&out), 200, "{out}");
    assert!(out.contains("GET /abs\n"), "{out}");

    let out = raw(
        proxy.addr,
        b"OPTIONS * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_ne!(raw_status(&out), 400, "{out}");

    // h2c upgrade (h2c smuggling): served as HTTP/1.1, the upgrade never relayed.
    let out = raw(
        proxy.addr,
        b"GET /h2c HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&out), 200, "{out}");
    let body = out.to_ascii_lowercase();
    assert!(!body.contains("upgrade: h2c"), "{out}");
    assert!(!body.contains("http2-settings:"), "{out}");
    assert!(!body.contains("\nconnection: upgrade"), "{out}");

    // An Upgrade the client did not list in Connection is not relayed.
    let out = raw(
        proxy.addr,
        b"GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&out), 200, "{out}");
    assert!(
        !out.to_ascii_lowercase().contains("upgrade: websocket"),
        "{out}"
    );

    // Content-Length goes upstream in its canonical form.
    let out = raw(
        proxy.addr,
        b"POST /cl HTTP/1.1\r\nHost: app.test\r\nContent-Length: 003\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    assert_eq!(raw_status(&out), 200, "{out}");
    assert!(out.contains("content-length: 3\n"), "{out}");
}
