//! The client address (docs/architecture.md, "Client IP"), one test per row of the truth table
//! {trusted, untrusted peer} × {incoming forwarding headers, none} × {PROXY protocol off, on},
//! plus the PROXY protocol front door: a missing header, a header before a TLS handshake, and
//! v2 `LOCAL`.
//!
//! Trusted: 127.0.0.5 and 192.0.2.10. With PROXY protocol on, the TCP peer is deliberately of
//! the other kind than the header's source, so only the header can decide the outcome.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::connect_over;
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, Reply, config, eventually};
use strait_proxy::{ProxyProtocol, Scheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Incoming forwarding headers a client or an upstream proxy might send.
const INCOMING: [(&str, &str); 3] = [
    ("x-forwarded-for", "203.0.113.7"),
    ("x-real-ip", "6.6.6.6"),
    ("x-forwarded-proto", "https"),
];

#[tokio::test]
async fn trusted_peer_with_headers_without_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_OFF).await;
    let mut c = Conn::open_from(ip("127.0.0.5"), s.http_addr).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "203.0.113.7, 127.0.0.5", "203.0.113.7", "https");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn trusted_peer_without_headers_without_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_OFF).await;
    let mut c = Conn::open_from(ip("127.0.0.5"), s.http_addr).await.unwrap();
    let r = c.get("ip.test", "/", &[]).await.unwrap();
    assert_forwarded(&r, "127.0.0.5", "127.0.0.5", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn untrusted_peer_with_headers_without_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_OFF).await;
    let mut c = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "127.0.0.9", "127.0.0.9", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn untrusted_peer_without_headers_without_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_OFF).await;
    let mut c = Conn::open_from(ip("127.0.0.9"), s.http_addr).await.unwrap();
    let r = c.get("ip.test", "/", &[]).await.unwrap();
    assert_forwarded(&r, "127.0.0.9", "127.0.0.9", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn trusted_peer_with_headers_with_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = tcp_from("127.0.0.9", s.http_addr).await;
    tcp.write_all(&proxy_v2(PROXY, "192.0.2.10:5555", s.http_addr))
        .await
        .unwrap();
    let mut c = Conn::over(tcp).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "203.0.113.7, 192.0.2.10", "203.0.113.7", "https");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn trusted_peer_without_headers_with_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = tcp_from("127.0.0.9", s.http_addr).await;
    tcp.write_all(&proxy_v1("192.0.2.10:5555", s.http_addr))
        .await
        .unwrap();
    let mut c = Conn::over(tcp).await.unwrap();
    let r = c.get("ip.test", "/", &[]).await.unwrap();
    assert_forwarded(&r, "192.0.2.10", "192.0.2.10", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn untrusted_peer_with_headers_with_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = tcp_from("127.0.0.5", s.http_addr).await;
    tcp.write_all(&proxy_v1("198.51.100.20:5555", s.http_addr))
        .await
        .unwrap();
    let mut c = Conn::over(tcp).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "198.51.100.20", "198.51.100.20", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn untrusted_peer_without_headers_with_proxy_protocol() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = tcp_from("127.0.0.5", s.http_addr).await;
    tcp.write_all(&proxy_v2(PROXY, "198.51.100.20:5555", s.http_addr))
        .await
        .unwrap();
    let mut c = Conn::over(tcp).await.unwrap();
    let r = c.get("ip.test", "/", &[]).await.unwrap();
    assert_forwarded(&r, "198.51.100.20", "198.51.100.20", "http");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_proxy_header_closes_the_connection_and_is_counted() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = TcpStream::connect(s.http_addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: ip.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was left open");
    assert_eq!(String::from_utf8_lossy(&answer), "", "no response expected");
    let proxy = s.proxy().clone();
    eventually("proxy_header_rejected counted", || {
        let counts = proxy.front_counts(Scheme::Http);
        async move { (counts.proxy_header_rejected == 1).then_some(()) }
    })
    .await;
    assert_eq!(
        s.proxy().front_counts(Scheme::Https).proxy_header_rejected,
        0
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn proxy_header_on_the_https_listener_precedes_the_tls_handshake() {
    let (m, _a) = folder().await;
    let proxy_https = ProxyProtocol {
        http: false,
        https: true,
    };
    let s = start_with(&m, proxy_https).await;
    let mut tcp = tcp_from("127.0.0.5", s.https_addr).await;
    tcp.write_all(&proxy_v2(PROXY, "198.51.100.20:5555", s.https_addr))
        .await
        .unwrap();
    let tls = connect_over(tcp, Some("ip.test"), &["http/1.1"])
        .await
        .expect("TLS handshake after the PROXY header");
    let mut c = Conn::over(tls.stream).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "198.51.100.20", "198.51.100.20", "https");
    assert_eq!(s.proxy().front_counts(Scheme::Https).tls_handshakes, 1);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn proxy_v2_local_keeps_the_real_peer() {
    let (m, _a) = folder().await;
    let s = start_with(&m, PROXY_HTTP).await;
    let mut tcp = TcpStream::connect(s.http_addr).await.unwrap();
    // LOCAL still carries addresses here (a trusted source): they must be ignored.
    tcp.write_all(&proxy_v2(LOCAL, "192.0.2.10:5555", s.http_addr))
        .await
        .unwrap();
    let mut c = Conn::over(tcp).await.unwrap();
    let r = c.get("ip.test", "/", &INCOMING).await.unwrap();
    assert_forwarded(&r, "127.0.0.1", "127.0.0.1", "http");
    s.shutdown().await.unwrap();
}

const PROXY_OFF: ProxyProtocol = ProxyProtocol {
    http: false,
    https: false,
};
const PROXY_HTTP: ProxyProtocol = ProxyProtocol {
    http: true,
    https: false,
};

/// v2 version/command bytes.
const PROXY: u8 = 0x21;
const LOCAL: u8 = 0x20;

/// Echo `a` behind `ip.test/`.
async fn folder() -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.push(
        IngressB::new("default", "ip")
            .rule("ip.test", "/", "Prefix", "a", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    (m, a)
}

/// Strait trusting 127.0.0.5 and 192.0.2.10 (not 127.0.0.1), PROXY protocol as given.
async fn start_with(m: &Manifests, proxy_protocol: ProxyProtocol) -> Running {
    let mut cfg: ServeConfig = config(m.path());
    cfg.proxy.trusted_proxies = vec![
        strait_controller::cli::parse_cidr("127.0.0.5/32").unwrap(),
        strait_controller::cli::parse_cidr("192.0.2.10").unwrap(),
    ];
    cfg.proxy.proxy_protocol = proxy_protocol;
    strait_controller::serve::start(cfg).await.expect("start")
}

fn assert_forwarded(r: &Reply, xff: &str, real_ip: &str, proto: &str) {
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(r.echoed_header("x-forwarded-for").as_deref(), Some(xff));
    assert_eq!(r.echoed_header("x-real-ip").as_deref(), Some(real_ip));
    assert_eq!(r.echoed_header("x-forwarded-proto").as_deref(), Some(proto));
}

/// A TCP connection to `to` from the loopback address `from`.
async fn tcp_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip(from), 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// A PROXY protocol v1 line for a TCP4 connection from `source` to `dest`.
fn proxy_v1(source: &str, dest: SocketAddr) -> Vec<u8> {
    let source: SocketAddr = source.parse().unwrap();
    let (s, d) = (source.ip(), dest.ip());
    let (sp, dp) = (source.port(), dest.port());
    format!("PROXY TCP4 {s} {d} {sp} {dp}\r\n").into_bytes()
}

/// A PROXY protocol v2 header (`command`: [`PROXY`] or [`LOCAL`]) for TCP over IPv4 from
/// `source` to `dest`.
fn proxy_v2(command: u8, source: &str, dest: SocketAddr) -> Vec<u8> {
    let source: SocketAddr = source.parse().unwrap();
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[command, 0x11, 0, 12]);
    h.extend_from_slice(&v4(source.ip()).octets());
    h.extend_from_slice(&v4(dest.ip()).octets());
    h.extend_from_slice(&source.port().to_be_bytes());
    h.extend_from_slice(&dest.port().to_be_bytes());
    h
}

fn v4(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => panic!("an IPv4 address expected"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}
