//! Metrics and the access log over real sockets: what one request leaves behind.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde_json::Value;
use strait_proxy::{AccessLog, ProxyConfig, ProxyMetrics};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::*;

/// A proxy over `rules` with registered metrics and a channel access log.
struct Observed {
    proxy: Harness,
    registry: Registry,
    lines: mpsc::Receiver<String>,
}

impl Observed {
    async fn start(config: ProxyConfig, rules: Vec<Rule>) -> Self {
        let mut registry = Registry::with_prefix("strait");
        let metrics = ProxyMetrics::register(&mut registry);
        let (log, lines) = AccessLog::channel(64);
        let proxy =
            Harness::start_with(config, table(rules), |b| b.metrics(metrics).access_log(log)).await;
        Self {
            proxy,
            registry,
            lines,
        }
    }

    fn metrics(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).unwrap();
        out
    }

    /// Waits until the exposition has `sample` (a whole line).
    async fn has_sample(&self, sample: &str) {
        within(sample, async {
            while !self.metrics().lines().any(|l| l == sample) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }

    async fn line(&mut self) -> Value {
        let line = within("an access-log line", self.lines.recv())
            .await
            .expect("log open");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }
}

#[tokio::test]
async fn a_request_moves_requests_total_and_the_byte_counters() {
    let a = named("a").await;
    let o = Observed::start(ProxyConfig::default(), vec![rule("app.test", &[a.addr])]).await;
    let mut sender = h1(o.proxy.addr).await;
    let req = Request::post("/upload")
        .header("host", "app.test")
        .body(full("12345"))
        .unwrap();
    let reply = send(&mut sender, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    o.has_sample(r#"strait_requests_total{namespace="default",ingress="ing-0",service="svc-0",path="/",method="POST",status="200"} 1"#).await;
    let text = o.metrics();
    let out = format!(
        r#"strait_response_bytes_total{{namespace="default",ingress="ing-0"}} {}"#,
        reply.body.len()
    );
    for expected in [
        r#"strait_request_bytes_total{namespace="default",ingress="ing-0"} 5"#,
        out.as_str(),
        r#"strait_request_duration_seconds_count{namespace="default",ingress="ing-0",path="/",status="200"} 1"#,
        r#"strait_upstream_response_header_duration_seconds_count{namespace="default",ingress="ing-0",service="svc-0"} 1"#,
        "strait_upstream_connect_duration_seconds_count 1",
        r#"strait_client_connections_total{listener="http"} 1"#,
        r#"strait_client_connections_active{listener="http"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected}\n{text}"
        );
    }
}

#[tokio::test]
async fn each_request_gets_one_json_line_after_its_body() {
    let a = named("a").await;
    let mut o = Observed::start(ProxyConfig::default(), vec![rule("app.test", &[a.addr])]).await;
    let mut sender = h1(o.proxy.addr).await;
    let req = Request::post("/upload?x=1")
        .header("host", "app.test")
        .body(full("12345"))
        .unwrap();
    let reply = send(&mut sender, req).await;
    let sent_id = reply.header_line("x-request-id").expect("id sent upstream");
    let line = o.line().await;
    assert_eq!(line["client"], "127.0.0.1");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["host"], "app.test");
    assert_eq!(line["path"], "/upload");
    assert_eq!(line["query"], "x=1");
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes_in"], 5);
    assert_eq!(line["bytes_out"], reply.body.len());
    assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(line["upstream"], a.addr.to_string());
    assert_eq!(line["upstream_status"], 200);
    assert!(line["upstream_duration_ms"].as_f64().is_some());
    let connect = line["upstream_connect_ms"]
        .as_f64()
        .expect("a fresh connection");
    assert!(
        connect > 0.0,
        "the connection was opened for this request: {line}"
    );
    assert_eq!(line["namespace"], "default");
    assert_eq!(line["ingress"], "ing-0");
    assert_eq!(line["service"], "svc-0");
    assert_eq!(line["request_id"], sent_id);
    assert!(line["tls_version"].is_null());
    assert!(line["sni"].is_null());
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_unmatched_request_is_logged_and_counted_without_a_route() {
    let mut o = Observed::start(ProxyConfig::default(), vec![]).await;
    let reply = get(o.proxy.addr, "nowhere.test", "/x").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let line = o.line().await;
    assert_eq!(line["status"], 404);
    for field in [
        "upstream",
        "upstream_status",
        "namespace",
        "ingress",
        "service",
        "request_id",
    ] {
        assert!(line[field].is_null(), "{field}: {line}");
    }
    o.has_sample(r#"strait_requests_total{method="GET",status="404"} 1"#)
        .await;
}

#[tokio::test]
async fn an_ingress_that_turned_its_log_off_is_counted_but_not_logged() {
    let a = named("a").await;
    let rules = vec![
        rule("quiet.test", &[a.addr]).quiet(),
        rule("loud.test", &[a.addr]),
    ];
    let mut o = Observed::start(ProxyConfig::default(), rules).await;
    let mut sender = h1(o.proxy.addr).await;
    send(&mut sender, get_request("quiet.test", "/")).await;
    o.has_sample(r#"strait_requests_total{namespace="default",ingress="ing-0",service="svc-0",path="/",method="GET",status="200"} 1"#).await;
    send(&mut sender, get_request("loud.test", "/")).await;
    let line = o.line().await;
    assert_eq!(line["host"], "loud.test", "the quiet request wrote nothing");
}

/// Two dead endpoints: the first refusal is passed on to the other endpoint (one retry), the
/// second is the answer; the log names the endpoint of the last attempt.
#[tokio::test]
async fn a_retried_connect_failure_is_counted_and_the_last_endpoint_logged() {
    // Both bound before either is released, so the two ports differ.
    let (a, b) = (bind_local().await, bind_local().await);
    let dead = [a.local_addr().unwrap(), b.local_addr().unwrap()];
    drop((a, b));
    let mut o = Observed::start(ProxyConfig::default(), vec![rule("app.test", &dead)]).await;
    let reply = get(o.proxy.addr, "app.test", "/").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    let line = o.line().await;
    assert_eq!(line["status"], 502);
    let last = line["upstream"].as_str().unwrap().to_owned();
    assert!(dead.iter().any(|d| d.to_string() == last), "{last}");
    assert!(line["upstream_status"].is_null());
    let text = o.metrics();
    for expected in [
        r#"strait_upstream_errors_total{kind="refused"} 2"#,
        "strait_upstream_retries_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected}\n{text}"
        );
    }
}

#[tokio::test]
async fn a_client_gone_before_the_answer_is_logged_as_499() {
    let slow = upstream(|_req: Request<Incoming>| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Response::new(empty())
    })
    .await;
    let mut o = Observed::start(ProxyConfig::default(), vec![rule("app.test", &[slow.addr])]).await;
    let (mut sender, conn) = h2(o.proxy.addr).await;
    let pending = tokio::spawn(async move {
        let _ = sender.send_request(get_request("app.test", "/")).await;
    });
    eventually("the upstream got the request", || slow.accepts() == 1).await;
    pending.abort();
    conn.abort();
    let line = o.line().await;
    assert_eq!(line["status"], 499);
    assert_eq!(line["protocol"], "HTTP/2");
    assert!(line["upstream_status"].is_null());
}

#[tokio::test]
async fn a_garbage_request_line_is_not_a_request() {
    let mut o = Observed::start(ProxyConfig::default(), vec![]).await;
    let mut stream = TcpStream::connect(o.proxy.addr).await.unwrap();
    stream.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    drop(stream);
    let reply = get(o.proxy.addr, "after.test", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        o.line().await["host"],
        "after.test",
        "hyper answered the garbage itself"
    );
}

/// An HTTPS listener over the generated fallback certificate (for `strait.invalid`), with
/// registered metrics and a channel access log; returns its address.
async fn https(
    rules: Vec<Rule>,
) -> (
    SocketAddr,
    Registry,
    mpsc::Receiver<String>,
    rustls::pki_types::CertificateDer<'static>,
) {
    use std::sync::Arc;
    let mut registry = Registry::with_prefix("strait");
    let metrics = ProxyMetrics::register(&mut registry);
    let (log, lines) = AccessLog::channel(64);
    let shared: strait_proxy::SharedTable = Arc::new(arc_swap::ArcSwap::from_pointee(table(rules)));
    let proxy = strait_proxy::Proxy::builder(ProxyConfig::default(), Arc::clone(&shared))
        .metrics(metrics)
        .access_log(log)
        .build();
    let fallback = strait_proxy::tls::self_signed_certificate().unwrap();
    let cert = fallback.cert[0].clone();
    let config = strait_proxy::tls::server_config(shared, fallback).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(strait_proxy::serve_https(
        listener,
        proxy,
        config,
        std::future::pending(),
    ));
    (addr, registry, lines, cert)
}

#[tokio::test]
async fn https_requests_log_the_tls_version_and_sni_and_bad_handshakes_are_classed() {
    use std::sync::Arc;
    let a = named("a").await;
    let (addr, registry, mut lines, cert) = https(vec![rule("", &[a.addr])]).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("strait.invalid").unwrap();
    let tls = within("handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let reply = send(&mut sender, get_request("app.test", "/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let line = within("line", lines.recv()).await.unwrap();
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["tls_version"], "TLSv1.3");
    assert_eq!(line["sni"], "strait.invalid");

    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let expected = r#"strait_tls_handshake_failures_total{listener="https",reason="protocol"} 1"#;
    within(expected, async {
        loop {
            let mut text = String::new();
            encode(&mut text, &registry).unwrap();
            if text.lines().any(|l| l == expected) {
                assert!(text.contains(r#"strait_tls_handshakes_total{listener="https"} 1"#));
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}
