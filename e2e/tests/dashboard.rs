//! The Grafana dashboard (`deploy/grafana/strait-dashboard.json`) against the metrics Strait
//! really exposes: a dashboard must not query a metric that does not exist, nor `rate()` a
//! gauge, and every panel must show something.
//!
//! Metric names come from the two `NAMES` lists; metric types from a running Strait's
//! registry, with every family given a series first (empty families are not exposed).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::tls::{cert_for, tls_secret};
use strait_e2e::{Echo, Manifests, eventually, get};

const DASHBOARD: &str = include_str!("../../deploy/grafana/strait-dashboard.json");

/// The variables Grafana defines itself.
const BUILTIN_VARIABLES: [&str; 4] = ["__rate_interval", "__interval", "__range", "__all"];

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("the dashboard is valid JSON")
}

/// Every panel, rows' nested panels (collapsed rows) included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

/// Every PromQL text: panel target `expr`s and template variable queries.
fn queries(dashboard: &Value) -> Vec<String> {
    let mut out: Vec<String> = panels(dashboard)
        .into_iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for var in variables(dashboard) {
        if var["type"] == "query" {
            let q = var["query"]["query"].as_str().or(var["query"].as_str());
            out.push(q.expect("a query variable has a query").to_owned());
        }
    }
    out
}

fn variables(dashboard: &Value) -> &Vec<Value> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
}

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The `strait_…` and `process_…` identifiers in `expr`, with their byte offsets, in order.
fn metric_tokens(expr: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for prefix in ["strait_", "process_"] {
        let mut start = 0;
        while let Some(at) = expr[start..].find(prefix).map(|i| start + i) {
            let end = expr[at..]
                .find(|c| !ident(c))
                .map_or(expr.len(), |i| at + i);
            let boundary = expr[..at].chars().next_back().is_none_or(|c| !ident(c));
            if boundary {
                out.push((at, &expr[at..end]));
            }
            start = end;
        }
    }
    out.sort_unstable();
    out
}

/// The metric a sample name belongs to (`_bucket`, `_count`, `_sum` stripped from histogram
/// series).
fn family_of(token: &str) -> &str {
    ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|suffix| token.strip_suffix(suffix))
        .unwrap_or(token)
}

fn known_names() -> BTreeSet<&'static str> {
    let proxy = strait_proxy::metrics::NAMES.iter();
    let controller = strait_controller::metrics::NAMES.iter();
    let process = strait_controller::metrics::PROCESS_NAMES.iter();
    proxy
        .chain(controller)
        .chain(process)
        .map(|(name, _)| *name)
        .collect()
}

#[test]
fn tokens_are_found_at_identifier_boundaries() {
    let expr = r#"sum(rate(strait_a_total{x="strait_b"}[5m])) / xstrait_c + strait_d_bucket"#;
    let tokens: Vec<&str> = metric_tokens(expr).into_iter().map(|(_, t)| t).collect();
    assert_eq!(tokens, ["strait_a_total", "strait_b", "strait_d_bucket"]);
    assert_eq!(family_of("strait_d_bucket"), "strait_d");
}

#[test]
fn dashboard_references_only_metrics_that_exist() {
    let known = known_names();
    let d = dashboard();
    let mut used = BTreeSet::new();
    for expr in queries(&d) {
        for (_, token) in metric_tokens(&expr) {
            let name = known.get(token).or_else(|| known.get(family_of(token)));
            let name = name.unwrap_or_else(|| {
                panic!(
                    "{token} (in `{expr}`) is not in strait_proxy::metrics::NAMES or \
                     strait_controller::metrics::NAMES"
                )
            });
            used.insert(*name);
        }
    }
    let unused: Vec<_> = known.difference(&used).collect();
    assert!(unused.is_empty(), "metrics on no panel: {unused:?}");
}

#[test]
fn every_panel_has_a_title_a_place_and_a_query() {
    let d = dashboard();
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [i64; 4])> = Vec::new();
    for panel in panels(&d) {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.trim().is_empty(), "a panel without a title: {panel}");
        let id = panel["id"].as_i64().expect("a numeric id");
        assert!(ids.insert(id), "{title}: id {id} used twice");
        let g = &panel["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| {
            g[k].as_i64()
                .unwrap_or_else(|| panic!("{title}: gridPos.{k}"))
        });
        assert!(
            w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= 24,
            "{title}: {g}"
        );
        if let Some((other, _)) = boxes
            .iter()
            .find(|(_, [ox, oy, ow, oh])| x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h)
        {
            panic!("{title} overlaps {other}");
        }
        boxes.push((title.to_owned(), [x, y, w, h]));
        if !is_row(panel) {
            assert_targets(title, panel);
        }
    }
    assert!(boxes.len() > 10, "a dashboard with {} panels", boxes.len());
}

fn assert_targets(title: &str, panel: &Value) {
    let targets = panel["targets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert!(!targets.is_empty(), "{title}: no target");
    let mut ref_ids = BTreeSet::new();
    for t in targets {
        let expr = t["expr"].as_str().unwrap_or_default();
        assert!(!expr.trim().is_empty(), "{title}: a target without expr");
        assert!(
            t["legendFormat"].is_string(),
            "{title}: `{expr}` has no legendFormat"
        );
        assert!(
            ref_ids.insert(t["refId"].as_str().expect("refId")),
            "{title}: refIds"
        );
        assert_eq!(
            t["datasource"]["uid"], "${datasource}",
            "{title}: datasource"
        );
    }
    assert_eq!(
        panel["datasource"]["uid"], "${datasource}",
        "{title}: datasource"
    );
}

#[test]
fn dashboard_has_its_datasource_namespace_and_ingress_variables() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_i64() >= Some(36), "schemaVersion");
    assert!(d["uid"].is_string() && d["title"].is_string());
    let vars: BTreeMap<&str, &Value> = variables(&d)
        .iter()
        .map(|v| (v["name"].as_str().expect("variable name"), v))
        .collect();
    assert_eq!(vars["datasource"]["type"], "datasource");
    assert_eq!(vars["datasource"]["query"], "prometheus");
    for (name, label) in [("namespace", "namespace"), ("ingress", "ingress")] {
        let q = vars[name]["query"]["query"].as_str().expect("query");
        assert!(q.starts_with("label_values(strait_requests_total"), "{q}");
        assert!(q.ends_with(&format!(", {label})")), "{q}");
    }
    for expr in queries(&d) {
        for (at, _) in expr.match_indices('$') {
            let name: String = expr[at + 1..]
                .trim_start_matches('{')
                .chars()
                .take_while(|c| ident(*c))
                .collect();
            let defined = vars.contains_key(name.as_str()) || BUILTIN_VARIABLES.contains(&&*name);
            assert!(defined, "${name} in `{expr}` is not a variable");
        }
    }
}

/// Exposed metric names and their types (`# TYPE` lines; counters gain `_total`) once every
/// family has a series: a routed and an unrouted request, a request answered upstream, a
/// rejected Ingress with an annotation, a TLS Secret, a connection without the PROXY header
/// the HTTPS listener expects, and a request over an Ingress's rate limit.
async fn exposed_types() -> BTreeMap<String, String> {
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let broken = IngressB::new("default", "broken")
        .rule("x.test", "/", "Prefix", "nope", 80)
        .annotation("nginx.ingress.kubernetes.io/use-regex", "true");
    let ok = IngressB::new("default", "ok").rule("ok.test", "/", "Prefix", "a", 80);
    let limited = IngressB::new("default", "limited")
        .rule("limited.test", "/", "Prefix", "a", 80)
        .annotation("nginx.ingress.kubernetes.io/limit-rpm", "1")
        .annotation("nginx.ingress.kubernetes.io/limit-burst-multiplier", "0");
    let mut items = vec![our_class(), broken.build(), ok.build(), limited.build()];
    items.extend(backend("default", "a", &[echo.addr]));
    items.push(tls_secret("default", "tls", &cert_for(&["ok.test"])));
    m.write_list("all.json", &items);
    let mut cfg = strait_e2e::config(m.path());
    cfg.proxy.proxy_protocol.https = true;
    let s = strait_controller::serve::start(cfg).await.expect("starts");
    let mut no_header = tokio::net::TcpStream::connect(s.https_addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut no_header, b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(get(s.http_addr, "x.test", "/").await.status, 503);
    assert_eq!(get(s.http_addr, "unknown.test", "/").await.status, 404);
    assert_eq!(get(s.http_addr, "ok.test", "/").await.status, 200);
    assert_eq!(get(s.http_addr, "limited.test", "/").await.status, 200);
    assert_eq!(get(s.http_addr, "limited.test", "/").await.status, 503);
    let text = eventually("every family to have a series", || async {
        let text = get(s.admin_addr, "localhost", "/metrics").await.text();
        let late = [
            "strait_requests_total{",
            "strait_request_duration_seconds_count{",
            "strait_rejected_objects{",
            "strait_ingress_annotations{",
            "strait_upstream_response_header_duration_seconds_count{",
            "strait_ssl_certificate_expiry_timestamp_seconds{",
            "strait_proxy_protocol_rejected_total{",
        ];
        late.iter()
            .all(|series| text.contains(series))
            .then_some(text)
    })
    .await;
    s.shutdown().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| match kind {
            "counter" => (format!("{name}_total"), kind.to_owned()),
            _ => (name.to_owned(), kind.to_owned()),
        })
        .collect()
}

#[tokio::test]
async fn queries_use_counters_with_rate_and_histograms_by_their_series() {
    let types = exposed_types().await;
    let exposed: BTreeSet<&str> = types.keys().map(String::as_str).collect();
    assert_eq!(
        exposed,
        known_names(),
        "NAMES lists what the registry exposes"
    );
    for expr in queries(&dashboard()) {
        let tokens = metric_tokens(&expr);
        for (_, token) in &tokens {
            let kind = match types.get(*token) {
                Some(kind) => kind.as_str(),
                None => match types.get(family_of(token)).map(String::as_str) {
                    Some("histogram") => "histogram series",
                    _ => panic!("{token} in `{expr}`: no such series"),
                },
            };
            assert_ne!(
                kind, "histogram",
                "`{expr}`: {token} has no series of its own"
            );
        }
        for (call, _) in ["rate(", "increase("]
            .iter()
            .flat_map(|f| expr.match_indices(f))
        {
            let (_, arg) = tokens.iter().find(|(at, _)| *at > call).expect("a metric");
            let counter = types.get(*arg).is_some_and(|k| k == "counter");
            let histogram = !types.contains_key(*arg);
            assert!(
                counter || histogram,
                "`{expr}`: rate() over the gauge {arg}"
            );
        }
    }
}
