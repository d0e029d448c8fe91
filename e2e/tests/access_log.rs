//! What an operator sees end to end in the access log: the line each request writes (README
//! "Metrics and logs"), JSON by default or ingress-nginx's `upstreaminfo` text. Lines come from
//! `AccessLog::channel`, awaited with a deadline.

use std::net::IpAddr;

use serde_json::{Value, json};
use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::tls::{cert_for, connect, tls_secret};
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, Reply, config, eventually, get};
use strait_proxy::AccessLog;
use strait_proxy::access_log::FIELDS;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;

/// Echo `a` behind `logs/loud` (`loud.test`), `logs/secure` (`tls.test`, HTTPS) and
/// `logs/quiet` (`quiet.test`, access log turned off).
async fn log_scenario() -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("logs", "a", &[a.addr]));
    items.push(tls_secret("logs", "tls", &cert_for(&["tls.test"])));
    items.push(
        IngressB::new("logs", "loud")
            .rule("loud.test", "/", "Prefix", "a", 80)
            .build(),
    );
    items.push(
        IngressB::new("logs", "secure")
            .rule("tls.test", "/", "Prefix", "a", 80)
            .tls(&["tls.test"], Some("tls"))
            .build(),
    );
    items.push(
        IngressB::new("logs", "quiet")
            .annotation("nginx.ingress.kubernetes.io/enable-access-log", "false")
            .rule("quiet.test", "/", "Prefix", "a", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    (m, a)
}

/// The next access-log line, parsed, with exactly the documented fields in order.
async fn next_line(lines: &mut Receiver<String>) -> Value {
    let line = tokio::time::timeout(DEADLINE, lines.recv())
        .await
        .expect("an access-log line within the deadline")
        .expect("the access log is open");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let object = v.as_object().expect("a JSON object");
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut sorted = FIELDS.to_vec();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "exactly the documented fields: {line}");
    let mut from = 0;
    for field in FIELDS {
        let at = line[from..].find(&format!("\"{field}\":"));
        let at = at.unwrap_or_else(|| panic!("{field} in the documented order: {line}"));
        from += at;
    }
    v
}

fn ms(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is a number: {v}"))
}

#[tokio::test]
async fn access_log_lines_carry_every_field() {
    let (m, a) = log_scenario().await;
    let (log, mut lines) = AccessLog::channel(64);
    let mut cfg = config(m.path());
    cfg.access_log = log;
    let s = strait_controller::serve::start(cfg).await.expect("start");

    plain_line(&s, &a, &mut lines).await;
    post_line(&s, &mut lines).await;
    https_line(&s, &mut lines).await;

    let r = get(s.http_addr, "nowhere.test", "/x").await;
    assert_eq!(r.status, 404);
    let v = next_line(&mut lines).await;
    assert_eq!(
        (v["status"].clone(), v["host"].clone()),
        (json!(404), json!("nowhere.test"))
    );
    for field in [
        "namespace",
        "ingress",
        "service",
        "upstream",
        "upstream_status",
        "upstream_connect_ms",
        "upstream_duration_ms",
    ] {
        assert_eq!(v[field], Value::Null, "{field} of a 404: {v}");
    }
    assert_eq!(v["bytes_out"], json!(r.body.len()));

    quiet_ingress_writes_no_line(&s, &mut lines).await;
    s.shutdown().await.unwrap();
}

/// A GET from an untrusted peer that spoofs `X-Forwarded-For`.
async fn plain_line(s: &Running, a: &Echo, lines: &mut Receiver<String>) {
    let peer: IpAddr = "127.0.0.9".parse().unwrap();
    let mut c = Conn::open_from(peer, s.http_addr).await.unwrap();
    let headers = [
        ("x-forwarded-for", "6.6.6.6"),
        ("user-agent", "curl/8.5.0"),
        ("referer", "https://loud.test/from"),
    ];
    let query = "x=1&status=201&delay_ms=20";
    let path = format!("/p/q?{query}");
    let r = c.get("loud.test", &path, &headers).await.unwrap();
    assert_eq!(r.status, 201);
    let v = next_line(lines).await;
    let time = v["time"].as_str().expect("time");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    assert_eq!(
        v["client"],
        json!("127.0.0.9"),
        "the peer, not the spoofed header"
    );
    assert_eq!(v["method"], json!("GET"));
    assert_eq!(v["host"], json!("loud.test"));
    assert_eq!(v["path"], json!("/p/q"));
    assert_eq!(v["query"], json!(query));
    assert_eq!(v["protocol"], json!("HTTP/1.1"));
    assert_eq!(v["status"], json!(201));
    assert_eq!(v["bytes_in"], json!(0));
    assert_eq!(v["bytes_out"], json!(r.body.len()));
    assert_eq!(v["user_agent"], json!("curl/8.5.0"));
    assert_eq!(v["referer"], json!("https://loud.test/from"));
    let head = v["request_length"].as_u64().expect("request_length");
    assert!(
        head > path.len() as u64 + 40,
        "request line and headers: {v}"
    );
    let sent = v["bytes_sent"].as_u64().expect("bytes_sent");
    assert!(
        sent > r.body.len() as u64 + 17,
        "status line, headers, body: {v}"
    );
    let connect = ms(&v, "upstream_connect_ms");
    assert!(connect <= ms(&v, "upstream_duration_ms"), "{v}");
    assert!(
        ms(&v, "upstream_duration_ms") >= 20.0,
        "the echo waited 20 ms: {v}"
    );
    assert!(
        ms(&v, "duration_ms") >= ms(&v, "upstream_duration_ms"),
        "{v}"
    );
    assert_eq!(v["upstream"], json!(a.addr.to_string()));
    assert_eq!(v["upstream_status"], json!(201));
    assert_route(&v, "loud");
    let id = echoed(&r, "x-request-id");
    assert_eq!(v["request_id"], json!(id), "the id sent upstream");
    assert_eq!(v["tls_version"], Value::Null);
    assert_eq!(v["sni"], Value::Null);
}

fn assert_route(v: &Value, ingress: &str) {
    assert_eq!(v["namespace"], json!("logs"), "{v}");
    assert_eq!(v["ingress"], json!(ingress), "{v}");
    assert_eq!(v["service"], json!("a"), "{v}");
}

fn echoed(r: &Reply, header: &str) -> String {
    r.echoed_header(header)
        .unwrap_or_else(|| panic!("echo saw {header}"))
}

/// A POST with a 5-byte body, written by hand (the test client sends empty bodies only).
async fn post_line(s: &Running, lines: &mut Receiver<String>) {
    let mut tcp = TcpStream::connect(s.http_addr).await.unwrap();
    let request = "POST /upload HTTP/1.1\r\nHost: loud.test\r\nContent-Length: 5\r\n\
                   Connection: close\r\n\r\nhello";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut answer))
        .await
        .expect("answer within the deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\"body_bytes\":5"),
        "the echo read the body: {answer}"
    );
    let v = next_line(lines).await;
    assert_eq!(v["method"], json!("POST"));
    assert_eq!(v["path"], json!("/upload"));
    assert_eq!(v["query"], Value::Null);
    assert_eq!(v["bytes_in"], json!(5));
    // The request as written above, byte for byte: line, headers, blank line, body.
    assert_eq!(v["request_length"], json!(request.len()), "{v}");
    assert_eq!(v["user_agent"], Value::Null);
    assert_route(&v, "loud");
}

async fn https_line(s: &Running, lines: &mut Receiver<String>) {
    let handshake = connect(s.https_addr, Some("tls.test"), &["http/1.1"])
        .await
        .unwrap();
    let mut c = Conn::over(handshake.stream).await.unwrap();
    let r = c.get("tls.test", "/secure", &[]).await.unwrap();
    assert_eq!(r.status, 200);
    let v = next_line(lines).await;
    assert_eq!(v["tls_version"], json!("TLSv1.3"));
    assert_eq!(v["sni"], json!("tls.test"));
    assert_eq!(v["protocol"], json!("HTTP/1.1"));
    assert_eq!(v["path"], json!("/secure"));
    assert_eq!(v["request_id"], json!(echoed(&r, "x-request-id")));
    assert_route(&v, "secure");
}

/// `logs/quiet` is served and counted but writes no line. A request to a logged route on the
/// same connection afterwards is the barrier: its line arrives after any line of the quiet one.
async fn quiet_ingress_writes_no_line(s: &Running, lines: &mut Receiver<String>) {
    let mut c = Conn::open(s.http_addr).await.unwrap();
    let r = c.get("quiet.test", "/hush", &[]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.echo_name().as_deref(), Some("a"));
    let r = c.get("loud.test", "/barrier", &[]).await.unwrap();
    assert_eq!(r.status, 200);
    let v = next_line(lines).await;
    assert_eq!(
        v["host"],
        json!("loud.test"),
        "no line for the quiet Ingress: {v}"
    );
    assert_eq!(v["path"], json!("/barrier"));
    assert!(lines.try_recv().is_err(), "nothing after the barrier");
    let quiet = [
        ("namespace", "logs"),
        ("ingress", "quiet"),
        ("service", "a"),
        ("path", "/"),
        ("method", "GET"),
        ("status", "200"),
    ];
    eventually("the quiet request to be counted all the same", || async {
        let scrape = Scrape::of(s).await;
        let counted = scrape.get("strait_requests_total", &quiet);
        (counted == Some(1.0)).then_some(())
    })
    .await;
}

/// `--access-log-format nginx`: each line parses with a regex built from ingress-nginx's
/// documented default `log-format-upstream` (`upstreaminfo`).
#[tokio::test]
async fn nginx_access_log_lines_parse_as_upstreaminfo() {
    let (m, a) = log_scenario().await;
    let (log, mut lines) = AccessLog::channel(64);
    let mut cfg = config(m.path());
    cfg.access_log = log.with_format(strait_proxy::access_log::Format::Nginx);
    let s = strait_controller::serve::start(cfg).await.expect("start");
    let mut c = Conn::open(s.http_addr).await.unwrap();
    let ua = [("user-agent", "Mozilla/5.0 (X11) \"quoted\"")];
    let r = c.get("loud.test", "/p?status=203", &ua).await.unwrap();
    assert_eq!(r.status, 203);
    let line = tokio::time::timeout(DEADLINE, lines.recv())
        .await
        .expect("a line within the deadline")
        .expect("open");
    let re = regex::Regex::new(UPSTREAMINFO).expect("regex");
    let caps = re
        .captures(&line)
        .unwrap_or_else(|| panic!("not upstreaminfo: {line}"));
    assert_eq!(&caps["remote_addr"], "127.0.0.1");
    assert_eq!(&caps["request"], "GET /p?status=203 HTTP/1.1");
    assert_eq!(&caps["status"], "203");
    assert_eq!(&caps["body_bytes_sent"], r.body.len().to_string());
    assert_eq!(&caps["http_referer"], "-");
    assert_eq!(
        &caps["http_user_agent"],
        "Mozilla/5.0 (X11) \\x22quoted\\x22"
    );
    assert_eq!(&caps["proxy_upstream_name"], "logs-a-80");
    assert_eq!(&caps["upstream_addr"], a.addr.to_string());
    assert_eq!(&caps["upstream_status"], "203");
    assert_eq!(&caps["req_id"], echoed(&r, "x-request-id"));
    s.shutdown().await.unwrap();
}

/// ingress-nginx's default `upstreaminfo` format (docs/user-guide/nginx-configuration/
/// log-format.md) as a regex, one group per variable.
const UPSTREAMINFO: &str = concat!(
    r#"^(?P<remote_addr>\S+) - (?P<remote_user>\S+) \[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "#,
    r#""(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body_bytes_sent>\d+) "#,
    r#""(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)" "#,
    r#"(?P<request_length>\d+) (?P<request_time>\d+\.\d{3}) "#,
    r#"\[(?P<proxy_upstream_name>[^\]]*)\] \[(?P<proxy_alternative_upstream_name>[^\]]*)\] "#,
    r#"(?P<upstream_addr>\S+) (?P<upstream_response_length>\S+) (?P<upstream_response_time>\S+) "#,
    r#"(?P<upstream_status>\S+) (?P<req_id>\S+)$"#,
);
