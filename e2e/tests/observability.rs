//! What an operator sees end to end on the admin listener: the `/metrics` series a request
//! moves (README "Metrics and logs"; the access log is `access_log.rs`).
//!
//! Metrics are read the way Prometheus reads them, by scraping `/metrics` before and after
//! and comparing one exact series (name and full label set) at a time.

use strait_controller::serve::Running;
use strait_e2e::manifests::{Ep, IngressB, backend, endpoint_slice, our_class, service};
use strait_e2e::scrape::{Labels, Scrape, sample};
use strait_e2e::{DEADLINE, Echo, Manifests, config, dead_addr, eventually, get};

// ---- metrics ----

/// `obs/shop` routes `ok.test` to a healthy echo and `dead.test/api` to a port nobody listens
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
            .rule("dead.test", "/api", "Prefix", "dead", 80)
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

/// The increase each series must show, in the exposition format. The dead backend's one
/// endpoint refuses once: with no other endpoint to try, nothing is passed on (no retry);
/// `no_endpoint` is the unready Service.
fn expected_increases(shop_bytes: u64, spare_bytes: u64) -> Vec<(String, Labels, f64)> {
    let text = format!(
        r#"
strait_requests_total{{namespace="obs",ingress="shop",service="ok",path="/",method="GET",status="200"}} 3
strait_requests_total{{namespace="obs",ingress="shop",service="ok",path="/",method="GET",status="404"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="ok",path="/",method="GET",status="other_4xx"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="ok",path="/",method="GET",status="504"}} 1
strait_requests_total{{namespace="obs",ingress="shop",service="dead",path="/api",method="GET",status="502"}} 1
strait_requests_total{{namespace="obs",ingress="spare",service="empty",path="/",method="GET",status="503"}} 2
strait_requests_total{{method="GET",status="404"}} 2
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",path="/",status="200"}} 3
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",path="/",status="404"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",path="/api",status="502"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="shop",path="/",status="504"}} 1
strait_request_duration_seconds_count{{namespace="obs",ingress="spare",path="/",status="503"}} 2
strait_request_duration_seconds_count{{status="404"}} 2
strait_response_size_bytes_count{{namespace="obs",ingress="shop"}} 7
strait_upstream_errors_total{{kind="refused"}} 1
strait_upstream_retries_total 0
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
    shop_bytes += send(&s, 1, "dead.test", "/api/items", 502).await;
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
