//! What an operator sees end to end: the `/metrics` series a request moves on the admin
//! listener, and the access-log line it writes (README "Metrics and logs").
//!
//! Metrics are read the way Prometheus reads them, by scraping `/metrics` before and after
//! and comparing one exact series (name and full label set) at a time. Access-log lines come
//! from `AccessLog::channel`, awaited with a deadline.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Value, json};
use strait_controller::serve::Running;
use strait_e2e::manifests::{Ep, IngressB, backend, endpoint_slice, our_class, service};
use strait_e2e::tls::{cert_for, connect, tls_secret};
use strait_e2e::{Conn, DEADLINE, Echo, Manifests, Reply, config, dead_addr, eventually, get};
use strait_proxy::AccessLog;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;

// ---- the Prometheus text format, as far as these tests need it ----

/// One scrape: every sample line as (name, labels, value).
struct Scrape(Vec<(String, Labels, f64)>);

impl Scrape {
    async fn of(s: &Running) -> Scrape {
        let r = get(s.admin_addr, "localhost", "/metrics").await;
        assert_eq!(r.status, 200, "/metrics: {}", r.text());
        Scrape(r.text().lines().filter_map(sample).collect())
    }

    /// The value of the series `name{labels}` (exactly that label set), if exposed.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.find(name, &labels)
    }

    fn find(&self, name: &str, labels: &Labels) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    }

    /// How much `name{labels}` grew since `before` (a series not exposed counting as 0).
    fn increase(&self, before: &Scrape, name: &str, labels: &Labels) -> f64 {
        self.find(name, labels).unwrap_or(0.0) - before.find(name, labels).unwrap_or(0.0)
    }
}

type Labels = BTreeMap<String, String>;

/// Parses `name{k="v",...} value` or `name value`; `None` for comments and blank lines.
fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), BTreeMap::new(), value));
    };
    let body = rest.strip_suffix('}')?;
    Some((name.to_owned(), label_pairs(body)?, value))
}

/// `k="v",k2="v2"` with `\"`, `\\` and `\n` escapes in values.
fn label_pairs(mut body: &str) -> Option<Labels> {
    let mut labels = BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        body = &rest[end + 1..];
    }
    Some(labels)
}

#[test]
fn the_sample_parser_reads_names_labels_and_values() {
    let (n, l, v) = sample(r#"strait_x_total{a="1",b="q\"x"} 2.5"#).unwrap();
    assert_eq!((n.as_str(), v), ("strait_x_total", 2.5));
    assert_eq!(l.get("b").map(String::as_str), Some("q\"x"));
    assert_eq!(sample("strait_y 7").unwrap().2, 7.0);
    assert_eq!(sample(r#"h_bucket{le="+Inf"} 3"#).unwrap().1["le"], "+Inf");
    assert!(sample("# HELP strait_y help").is_none());
}

// ---- metrics ----

/// `obs/shop` routes `ok.test` to a healthy echo and `dead.test` to a port nobody listens
/// on; `obs/spare` routes `gone.test` to a Service whose only endpoint is not ready.
async fn metrics_scenario() -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let dead = dead_addr([127, 0, 0, 4]).await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("obs", "ok", &[a.addr]));
    items.extend(backend("obs", "dead", &[dead]));
    items.push(service("obs", "empty", 80, "http"));
    let unready = Ep::ready(a.addr).not_ready();
    items.push(endpoint_slice(
        "obs",
        "empty-1",
        "empty",
        "http",
        a.addr.port(),
        &[unready],
    ));
    items.push(
        IngressB::new("obs", "shop")
            .rule("ok.test", "/", "Prefix", "ok", 80)
            .rule("dead.test", "/", "Prefix", "dead", 80)
            .build(),
    );
    items.push(
        IngressB::new("obs", "spare")
            .rule("gone.test", "/", "Prefix", "empty", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    (m, a)
}

/// Sends `n` GETs, each on a fresh connection, expecting `status`; returns the body bytes.
async fn send(s: &Running, n: usize, host: &str, path: &str, status: u16) -> u64 {
    let mut bytes = 0;
    for _ in 0..n {
        let r = get(s.http_addr, host, path).await;
        assert_eq!(r.status, status, "{host}{path}: {}", r.text());
        bytes += r.body.len() as u64;
    }
    bytes
}

/// The increase each series must show, in the exposition format. The dead endpoint refuses
/// twice (the retried attempt and the final one); `no_endpoint` is the unready Service.
fn expected_increases(shop_bytes: u64, spare_bytes: u64) -> Vec<(String, Labels, f64)> {
    let text = format!(
        r#"
strait_requests_total{{namespace="obs",ingress="shop",service="ok",method="GET",status="200"}} 3
strait_requests_total{{namespace="obs",ingress="shop",service="ok",method="GET",status="404"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="ok",method="GET",status="other_4xx"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="ok",method="GET",status="504"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="dead",method="GET",status="502"}} 1
strait_requests_total{{namespace="obs",ingress="spare",service="empty",method="GET",status="503"}} 2
strait_requests_total{{method="GET",status="404"}} 2
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",status="200"}} 3
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",status="404"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",status="502"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",status="504"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="spare",status="503"}} 2
strait_request_duration_seconds_count{{status="404"}} 2
strait_response_size_bytes_count{{namespace="obs",ingress="shop"}} 7
strait_upstream_errors_total{{kind="refused"}} 2
strait_upstream_retries_total 1
strait_upstream_errors_total{{kind="no_endpoint"}} 2
strait_upstream_errors_total{{kind="timeout"}} 0
strait_upstream_errors_total{{kind="response_timeout"}} 1
strait_upstream_errors_total{{kind="reset"}} 0
strait_upstream_errors_total{{kind="unreachable"}} 0
strait_upstream_errors_total{{kind="protocol"}} 0
strait_upstream_errors_total{{kind="other"}} 0
strait_upstream_response_header_duration_seconds_count{{namespace="obs",ingress="shop",service="ok"}} 5
strait_response_bytes_total{{namespace="obs",ingress="shop"}} {shop_bytes}
strait_response_bytes_total{{namespace="obs",ingress="spare"}} {spare_bytes}
strait_client_connections_total{{listener="http"}} 11
"#
    );
    let expected: Vec<_> = text.lines().filter_map(sample).collect();
    assert_eq!(expected.len(), 27, "every expectation parses");
    expected
}

/// Scrapes until every series has grown at least as expected, or the deadline passes; the
/// caller then compares exactly, naming any series that is off. (A request is counted when
/// its response body is done, which may be a moment after the client has read it.)
async fn settled(s: &Running, before: &Scrape, expected: &[(String, Labels, f64)]) -> Scrape {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let after = Scrape::of(s).await;
        let reached = expected
            .iter()
            .all(|(name, labels, want)| after.increase(before, name, labels) >= *want);
        if reached || tokio::time::Instant::now() >= deadline {
            return after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_count_200_404_502_503_and_504_as_distinct_series() {
    let (m, _a) = metrics_scenario().await;
    let mut cfg = config(m.path());
    // Short, so a slow upstream gives 504 quickly.
    cfg.proxy.response_header_timeout = std::time::Duration::from_millis(300);
    let s = strait_controller::serve::start(cfg).await.expect("start");
    let before = Scrape::of(&s).await;

    let mut shop_bytes = send(&s, 3, "ok.test", "/", 200).await;
    shop_bytes += send(&s, 1, "ok.test", "/?status=404", 404).await;
    shop_bytes += send(&s, 1, "ok.test", "/?status=418", 418).await;
    shop_bytes += send(&s, 1, "ok.test", "/?delay_ms=2000", 504).await;
    shop_bytes += send(&s, 1, "dead.test", "/", 502).await;
    let spare_bytes = send(&s, 2, "gone.test", "/", 503).await;
    send(&s, 2, "nowhere.test", "/", 404).await;

    let expected = expected_increases(shop_bytes, spare_bytes);
    let after = settled(&s, &before, &expected).await;
    for (name, labels, want) in &expected {
        let got = after.increase(&before, name, labels);
        assert_eq!(got, *want, "increase of {name}{labels:?}");
    }
    assert_table_gauges(&s, &after);
    assert_exposition_hygiene(&s).await;
    let http = [("listener", "http")];
    eventually("closed connections to leave the open gauge", || async {
        let now = Scrape::of(&s).await;
        (now.get("strait_client_connections_active", &http) == Some(0.0)).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

/// What the exposition must and must not have: `process_*` and `strait_build_info`; no TLS
/// series on the plain listener; no label with an empty value.
async fn assert_exposition_hygiene(s: &Running) {
    let text = get(s.admin_addr, "localhost", "/metrics").await.text();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{text}"
        );
    }
    let build = Scrape(text.lines().filter_map(sample).collect());
    let info = build
        .0
        .iter()
        .find(|(n, _, _)| n == "strait_build_info")
        .unwrap_or_else(|| panic!("strait_build_info missing:\n{text}"));
    assert_eq!(info.2, 1.0);
    assert!(info.1.contains_key("version") && info.1.contains_key("commit"));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(!line.contains(r#"="""#), "empty label: {line}");
        if line.starts_with("strait_tls_") {
            assert!(!line.contains(r#"listener="http""#), "TLS on plain: {line}");
        }
    }
    assert!(text.contains(r#"strait_tls_handshakes_total{listener="https"}"#));
}

/// The table gauges describe the table being served: three host routes, three backends, two
/// ready endpoints (`ok`'s echo and `dead`'s port; the unready one is not counted), and its
/// generation.
fn assert_table_gauges(s: &Running, scrape: &Scrape) {
    let table = s.table.load();
    assert!(table.generation >= 1, "a table was published");
    let gauge = |name: &str| {
        scrape
            .get(name, &[])
            .unwrap_or_else(|| panic!("{name} exposed"))
    };
    assert_eq!(gauge("strait_table_generation"), table.generation as f64);
    assert_eq!(gauge("strait_table_routes"), 3.0);
    assert_eq!(gauge("strait_table_routes"), table.route_count() as f64);
    assert_eq!(gauge("strait_table_hosts"), 3.0);
    assert_eq!(gauge("strait_table_backends"), 3.0);
    assert_eq!(
        gauge("strait_table_endpoints"),
        2.0,
        "ok's echo and dead's port"
    );
    assert!(gauge("strait_last_publish_timestamp_seconds") > 1.7e9);
    assert_eq!(gauge("strait_manifest_errors"), 0.0);
    let published = scrape.get("strait_publishes_total", &[("result", "published")]);
    assert!(published >= Some(1.0), "published: {published:?}");
}

// ---- the access log ----

/// The fields of every line, in order (README "Metrics and logs").
const FIELDS: [&str; 25] = [
    "time",
    "client",
    "method",
    "host",
    "path",
    "query",
    "protocol",
    "status",
    "bytes_in",
    "bytes_out",
    "request_length",
    "bytes_sent",
    "duration_ms",
    "upstream",
    "upstream_status",
    "upstream_connect_ms",
    "upstream_duration_ms",
    "namespace",
    "ingress",
    "service",
    "request_id",
    "user_agent",
    "referer",
    "tls_version",
    "sni",
];

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
