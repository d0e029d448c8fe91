//! Hostile clients at the HTTPS listener's front door: garbage instead of a ClientHello, a
//! client that says nothing, one that stalls mid-ClientHello. Each is closed (at once, or at
//! the handshake timeout), counted, and holds nothing other clients need.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{cert_for, connect, tls_secret};
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, config, eventually};
use strait_proxy::{FrontCounts, Scheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The handshake timeout of the tests that wait for it.
const SHORT: Duration = Duration::from_millis(300);
/// A handshake timeout no test waits for: closing before it proves the close was not a timeout.
const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn garbage_instead_of_a_client_hello_is_closed_at_once_and_counted() {
    let (m, _a) = folder().await;
    let s = start_with_handshake_timeout(&m, LONG).await;
    let plain_http = b"GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n".to_vec();
    // A handshake record whose message is nonsense.
    let bad_record = vec![0x16, 0x03, 0x01, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff];
    for garbage in [plain_http, bad_record] {
        let started = Instant::now();
        let mut tcp = TcpStream::connect(s.https_addr).await.expect("connect");
        tcp.write_all(&garbage).await.expect("write garbage");
        let took = closed_within(tcp, started, DEADLINE).await;
        eprintln!("garbage {:?}…: closed after {took:?}", &garbage[..5]);
    }
    let counts = counted(&s, "both failures counted", |c| {
        c.tls_handshake_failures == 2
    })
    .await;
    assert_eq!(
        counts.handshake_timeouts, 0,
        "closed by the timeout, not at once"
    );
    assert_eq!(counts.tls_handshakes, 0);
    assert_normal_request_works(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn silent_client_is_closed_at_the_handshake_timeout_and_counted() {
    let (m, _a) = folder().await;
    let s = start_with_handshake_timeout(&m, SHORT).await;
    let started = Instant::now();
    let tcp = TcpStream::connect(s.https_addr).await.expect("connect");
    let took = closed_within(tcp, started, DEADLINE).await;
    assert!(took >= SHORT, "closed after {took:?}, before the timeout");
    let counts = counted(&s, "the timeout counted", |c| c.handshake_timeouts == 1).await;
    assert_eq!(counts.tls_handshake_failures, 0);
    assert_normal_request_works(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn partial_client_hello_then_stall_is_closed_at_the_handshake_timeout() {
    let (m, _a) = folder().await;
    let s = start_with_handshake_timeout(&m, SHORT).await;
    let hello = client_hello("a.example.com");
    let started = Instant::now();
    let mut tcp = TcpStream::connect(s.https_addr).await.expect("connect");
    tcp.write_all(&hello[..hello.len() / 3])
        .await
        .expect("write");
    let took = closed_within(tcp, started, DEADLINE).await;
    assert!(took >= SHORT, "closed after {took:?}, before the timeout");
    let counts = counted(&s, "the timeout counted", |c| c.handshake_timeouts == 1).await;
    assert_eq!(counts.tls_handshake_failures, 0);
    assert_normal_request_works(&s).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn stalled_handshakes_hold_nothing_other_clients_need_and_shutdown_closes_them() {
    let (m, _a) = folder().await;
    let s = start_with_handshake_timeout(&m, LONG).await;
    let hello = client_hello("a.example.com");
    let mut stalled = Vec::new();
    for i in 0..64 {
        let mut tcp = TcpStream::connect(s.https_addr).await.expect("connect");
        if i % 2 == 1 {
            tcp.write_all(&hello[..hello.len() / 2])
                .await
                .expect("write");
        }
        stalled.push(tcp);
    }
    // Were handshakes done one at a time, this one would wait behind the stalled ones for
    // the 30 s timeout, past the client's own 10 s handshake deadline.
    assert_normal_request_works(&s).await;

    tokio::time::timeout(DEADLINE, s.shutdown())
        .await
        .expect("shutdown does not wait for stalled handshakes")
        .expect("clean shutdown");
    let now = Instant::now();
    for tcp in stalled {
        closed_within(tcp, now, DEADLINE).await;
    }
}

// ---- helpers ----------------------------------------------------------------------------

/// Echo `a` behind `a.example.com`, with a certificate for it.
async fn folder() -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let cert = cert_for(&["a.example.com"]);
    let m = Manifests::new();
    let mut items = vec![our_class(), tls_secret("default", "a-tls", &cert)];
    items.extend(backend("default", "a", &[a.addr]));
    items.push(
        IngressB::new("default", "a")
            .rule("a.example.com", "/", "Prefix", "a", 80)
            .tls(&["a.example.com"], Some("a-tls"))
            .build(),
    );
    m.write_list("all.json", &items);
    (m, a)
}

async fn start_with_handshake_timeout(m: &Manifests, timeout: Duration) -> Running {
    let mut cfg = config(m.path());
    cfg.proxy.handshake_timeout = timeout;
    strait_controller::serve::start(cfg).await.expect("start")
}

/// Reads (and drops) whatever the server sends until it closes; fails after `limit`. Returns
/// the time since `started`.
async fn closed_within(mut tcp: TcpStream, started: Instant, limit: Duration) -> Duration {
    let mut buf = [0u8; 4096];
    let until_closed = async { while let Ok(1..) = tcp.read(&mut buf).await {} };
    tokio::time::timeout(limit, until_closed)
        .await
        .expect("the server closes the connection");
    started.elapsed()
}

/// Waits until the HTTPS front-door counters satisfy `ok`, and returns them.
async fn counted(s: &Running, what: &str, ok: impl Fn(&FrontCounts) -> bool) -> FrontCounts {
    let proxy = Arc::clone(s.proxy());
    eventually(what, || {
        let counts = proxy.front_counts(Scheme::Https);
        let done = ok(&counts);
        async move { done.then_some(counts) }
    })
    .await
}

/// A full TLS handshake and a request, on a fresh connection.
async fn assert_normal_request_works(s: &Running) {
    let addr: SocketAddr = s.https_addr;
    let hs = connect(addr, Some("a.example.com"), &["http/1.1"])
        .await
        .expect("a normal handshake still works");
    let mut conn = Conn::over(hs.stream).await.expect("HTTP/1.1 over TLS");
    let r = conn.get("a.example.com", "/", &[]).await.expect("request");
    assert_eq!(r.echo_name().as_deref(), Some("a"), "{}", r.text());
}

/// The bytes of a real ClientHello for `sni`, as rustls sends it.
fn client_hello(sni: &str) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_owned()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("write ClientHello");
    }
    assert_eq!(hello.first(), Some(&0x16), "a TLS handshake record");
    hello
}
