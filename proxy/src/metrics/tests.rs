use std::collections::BTreeMap;

use prometheus_client::encoding::text::encode;

use super::*;
use crate::stats::FrontCounts;

/// A registry with the controller's prefix and the families in it.
fn registered() -> (Registry, ProxyMetrics) {
    let mut registry = Registry::with_prefix("strait");
    let metrics = ProxyMetrics::register(&mut registry);
    (registry, metrics)
}

fn text(registry: &Registry) -> String {
    let mut out = String::new();
    encode(&mut out, registry).expect("encodes");
    out
}

/// Records one of everything, so every family has a series to show.
fn touch_everything(metrics: &ProxyMetrics) {
    let route = metrics.route(&ObjectKey::new("ns", "ing"), "svc", "/api");
    metrics.request_done(&route, MethodLabel::Get, 200, Duration::from_millis(5), 10);
    route.request_bytes().inc_by(3);
    route.upstream_headers().observe(0.001);
    metrics.upstream_connect().observe(0.001);
    metrics.upstream_error(UpstreamErrorKind::Refused);
    metrics.upstream_retry();
    drop(metrics.listener(Scheme::Http).opened());
    metrics.access_log_dropped();
    metrics
        .limit_rejections(&ObjectKey::new("ns", "ing"), LimitKind::Rps)
        .inc();
    metrics
        .listener(Scheme::Https)
        .proxy_header_rejected(ProxyHeaderRejection::Invalid);
}

/// `# TYPE` lines: family name → type.
fn families(text: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and type");
            let previous = types.insert(name.to_owned(), kind.to_owned());
            assert!(previous.is_none(), "family {name} declared twice:\n{text}");
        }
    }
    types
}

#[test]
fn names_list_matches_what_is_registered() {
    let (registry, metrics) = registered();
    touch_everything(&metrics);
    let text = text(&registry);
    let exposed: BTreeMap<String, String> = families(&text)
        .into_iter()
        .map(|(family, kind)| {
            let name = if kind == "counter" {
                format!("{family}_total")
            } else {
                family.clone()
            };
            (name, family)
        })
        .collect();
    let listed: Vec<&str> = NAMES.iter().map(|(name, _)| *name).collect();
    let found: Vec<&str> = exposed.keys().map(String::as_str).collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert_eq!(found, listed_sorted, "NAMES and the registry differ");
    for (name, help) in NAMES {
        assert!(name.starts_with("strait_"), "{name}");
        let family = &exposed[*name];
        let help_line = format!("# HELP {family} {help}.");
        assert!(text.contains(&help_line), "missing {help_line:?}");
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "no sample of {name}:\n{text}"
        );
    }
}

#[test]
fn requests_are_counted_by_route_method_and_status_code() {
    let (registry, metrics) = registered();
    let route = metrics.route(&ObjectKey::new("shop", "web"), "frontend", "/cart");
    for status in [200, 200, 404, 502, 503, 504, 418] {
        metrics.request_done(&route, MethodLabel::Get, status, Duration::ZERO, 5);
    }
    metrics.request_done(&route, MethodLabel::Post, 503, Duration::ZERO, 0);
    let text = text(&registry);
    let series =
        r#"strait_requests_total{namespace="shop",ingress="web",service="frontend",path="/cart""#;
    for expected in [
        format!(r#"{series},method="GET",status="200"}} 2"#),
        format!(r#"{series},method="GET",status="404"}} 1"#),
        format!(r#"{series},method="GET",status="502"}} 1"#),
        format!(r#"{series},method="GET",status="503"}} 1"#),
        format!(r#"{series},method="GET",status="504"}} 1"#),
        format!(r#"{series},method="GET",status="other_4xx"}} 1"#),
        format!(r#"{series},method="POST",status="503"}} 1"#),
        r#"strait_request_duration_seconds_count{namespace="shop",ingress="web",path="/cart",status="200"} 2"#
            .to_owned(),
        r#"strait_request_duration_seconds_count{namespace="shop",ingress="web",path="/cart",status="503"} 2"#
            .to_owned(),
        r#"strait_response_bytes_total{namespace="shop",ingress="web"} 35"#.to_owned(),
        r#"strait_response_size_bytes_count{namespace="shop",ingress="web"} 8"#.to_owned(),
        r#"strait_response_size_bytes_bucket{le="10.0",namespace="shop",ingress="web"} 8"#
            .to_owned(),
    ] {
        assert!(text.contains(&expected), "missing {expected}\n{text}");
    }
}

#[test]
fn upstream_latency_is_per_ingress_and_service() {
    let (registry, metrics) = registered();
    let route = metrics.route(&ObjectKey::new("shop", "web"), "frontend", "/");
    route.upstream_headers().observe(0.002);
    let expected = r#"strait_upstream_response_header_duration_seconds_count{namespace="shop",ingress="web",service="frontend"} 1"#;
    assert!(text(&registry).contains(expected));
}

#[test]
fn unmatched_requests_have_no_name_labels_and_no_series_before_they_happen() {
    let (registry, metrics) = registered();
    let before = text(&registry);
    assert!(
        !before.contains(r#"="""#),
        "an empty-label series:\n{before}"
    );
    assert!(
        !before.contains("strait_response_bytes_total{"),
        "route series before any request:\n{before}"
    );
    metrics.request_done(
        &metrics.unrouted(),
        MethodLabel::Other,
        404,
        Duration::ZERO,
        9,
    );
    let text = text(&registry);
    for expected in [
        r#"strait_requests_total{method="other",status="404"} 1"#,
        r#"strait_response_bytes_total{} 9"#,
    ] {
        assert!(text.contains(expected), "missing {expected}\n{text}");
    }
    assert!(!text.contains(r#"="""#), "an empty-label series:\n{text}");
}

#[test]
fn a_route_rebuilt_after_eviction_counts_into_the_same_series() {
    let metrics = ProxyMetrics::default();
    let key = ObjectKey::new("ns", "ing");
    let a = metrics.route(&key, "svc", "/");
    let b = RouteHandles::new(Arc::clone(&metrics.inner), "ns", "ing", "svc", "/");
    a.request_bytes().inc_by(2);
    b.request_bytes().inc_by(3);
    assert_eq!(a.request_bytes().get(), 5);
}

#[test]
fn method_classes() {
    use http::Method;
    let cases = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "other"),
        (Method::from_bytes(b"PROPFIND").unwrap(), "other"),
        (Method::from_bytes(b"get").unwrap(), "other"),
    ];
    for (method, label) in cases {
        assert_eq!(MethodLabel::of(&method).as_str(), label, "{method}");
    }
}

#[test]
fn status_labels_are_exact_codes_or_other_per_class() {
    let cases = [
        (100, "other_1xx"),
        (101, "101"),
        (200, "200"),
        (206, "other_2xx"),
        (299, "other_2xx"),
        (308, "308"),
        (400, "400"),
        (418, "other_4xx"),
        (499, "499"),
        (500, "500"),
        (501, "other_5xx"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
        (999, "other_5xx"),
        (0, "other_1xx"),
    ];
    for (status, label) in cases {
        assert_eq!(StatusLabel::of(status).as_str(), label, "{status}");
    }
    for code in StatusLabel::CODES {
        assert_eq!(StatusLabel::of(code).as_str(), code.to_string());
        assert!(StatusLabel::of(code).index() < StatusLabel::COUNT);
    }
    assert!(
        StatusLabel::CODES.is_sorted(),
        "binary search needs them sorted"
    );
}

#[test]
fn bounded_label_lists_index_their_enums() {
    for (i, r) in TlsFailure::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i, "{r:?}");
    }
    for (i, r) in ProxyHeaderRejection::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i, "{r:?}");
    }
}

#[test]
fn proxy_header_rejections_show_only_once_one_happened() {
    let (registry, metrics) = registered();
    assert!(!text(&registry).contains("strait_proxy_protocol_rejected_total{"));
    let https = metrics.listener(Scheme::Https);
    https.proxy_header_rejected(ProxyHeaderRejection::Timeout);
    let text = text(&registry);
    assert!(
        text.contains(
            r#"strait_proxy_protocol_rejected_total{listener="https",reason="timeout"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains(r#"listener="http",reason"#), "{text}");
    assert_eq!(
        https.proxy_headers_rejected(ProxyHeaderRejection::Timeout),
        1
    );
    assert_eq!(
        https.proxy_headers_rejected(ProxyHeaderRejection::Invalid),
        0
    );
}

#[test]
fn bounded_series_exist_at_zero_from_the_start() {
    let (registry, _metrics) = registered();
    let text = text(&registry);
    for expected in [
        r#"strait_upstream_errors_total{kind="no_endpoint"} 0"#,
        r#"strait_upstream_errors_total{kind="tls"} 0"#,
        r#"strait_tls_handshake_failures_total{listener="https",reason="alert"} 0"#,
        r#"strait_client_connections_active{listener="https"} 0"#,
    ] {
        assert!(text.contains(expected), "missing {expected}\n{text}");
    }
}

#[test]
fn the_plain_listener_has_no_tls_series() {
    let (registry, metrics) = registered();
    let http = metrics.listener(Scheme::Http);
    http.tls_handshake();
    http.tls_failed(TlsFailure::Alert);
    let text = text(&registry);
    for line in text.lines().filter(|l| l.starts_with("strait_tls_")) {
        assert!(!line.contains(r#"listener="http""#), "{line}\n{text}");
    }
    assert!(text.contains(r#"strait_tls_handshakes_total{listener="https"} 0"#));
}

#[test]
fn open_connections_are_counted_until_dropped() {
    let (registry, metrics) = registered();
    let listener = metrics.listener(Scheme::Https);
    let (a, b) = (listener.opened(), listener.opened());
    drop(a);
    let text = text(&registry);
    assert!(text.contains(r#"strait_client_connections_active{listener="https"} 1"#));
    assert!(text.contains(r#"strait_client_connections_total{listener="https"} 2"#));
    drop(b);
}

#[test]
fn front_counts_fold_timeouts_of_both_stages_and_other_failures() {
    let metrics = ProxyMetrics::default();
    let https = metrics.listener(Scheme::Https);
    https.tls_handshake();
    https.tls_failed(TlsFailure::Protocol);
    https.tls_failed(TlsFailure::Closed);
    https.tls_failed(TlsFailure::Timeout);
    https.proxy_header_rejected(ProxyHeaderRejection::Timeout);
    https.proxy_header_rejected(ProxyHeaderRejection::Invalid);
    assert_eq!(
        FrontCounts::of(https),
        FrontCounts {
            proxy_header_rejected: 1,
            handshake_timeouts: 2,
            tls_handshakes: 1,
            tls_handshake_failures: 2,
            connections_rejected: 0,
        }
    );
    assert_eq!(
        FrontCounts::of(metrics.listener(Scheme::Http)),
        FrontCounts::default()
    );
}
