//! Request-rate limits through the real proxy (docs/architecture.md, "Rate and connection
//! limits"): `limit-rps`, `limit-rpm`, `limit-burst-multiplier`, `limit-allowlist` /
//! `limit-whitelist`, `--limit-req-status-code`, the rejection metric, and state that
//! survives a table rebuild. ingress-nginx has no e2e test of its own for these keys (its
//! `test/e2e/annotations/limitrate.go` checks only the generated `limit_rate` text); the cases
//! cite annotations.md "Rate Limiting", `internal/ingress/annotations/ratelimit/main.go` and
//! the template's `buildRateLimit`.
//!
//! Distinct clients are distinct 127.0.0.x source addresses. Rates of one request per minute
//! make the counts exact whatever the machine's speed; the per-second case allows for the time
//! the test takes.

use std::net::IpAddr;

use strait_controller::cli::parse_cidr;
use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Conn, Echo, Manifests, Reply, config, eventually};
use tokio::time::Instant;

const NGINX: &str = "nginx.ingress.kubernetes.io";
/// The 503 body of a request over a rate limit.
const OVER_RATE: &str = "request rate limit exceeded";

/// Echo `a` behind Ingress `limited` (`limited.test` and `other.test`, with `annotations`)
/// and Ingress `open` (`open.test`, no annotations).
async fn scene(annotations: &[(&str, &str)]) -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    m.write_list("all.json", &items(&a, annotations));
    (m, a)
}

fn items(a: &Echo, annotations: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut limited = IngressB::new("default", "limited")
        .rule("limited.test", "/", "Prefix", "a", 80)
        .rule("other.test", "/x", "Prefix", "a", 80);
    for (k, v) in annotations {
        limited = limited.annotation(&format!("{NGINX}/{k}"), v);
    }
    let open = IngressB::new("default", "open").rule("open.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), limited.build(), open.build()];
    items.extend(backend("default", "a", &[a.addr]));
    items
}

async fn start(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

/// GET `host` + `path` on a fresh connection from source address `from`.
async fn get_from(
    s: &Running,
    from: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let ip: IpAddr = from.parse().unwrap();
    let mut c = Conn::open_from(ip, s.http_addr).await.expect("connect");
    c.get(host, path, headers).await.expect("request")
}

/// The statuses of `n` requests to `limited.test` from `from`, sent one after another.
async fn statuses(s: &Running, from: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let r = get_from(s, from, "limited.test", "/", &[]).await;
        if r.status == 503 {
            assert_eq!(
                r.text(),
                OVER_RATE,
                "Strait's own answer, not the upstream's"
            );
        }
        out.push(r.status.as_u16());
    }
    out
}

fn rejections(scrape: &Scrape, limit: &str) -> f64 {
    let labels = [
        ("namespace", "default"),
        ("ingress", "limited"),
        ("limit", limit),
    ];
    scrape
        .get("strait_limit_rejections_total", &labels)
        .unwrap_or(0.0)
}

/// annotations.md "Rate Limiting", limit-rps: "The burst limit is set to this limit multiplied
/// by the burst multiplier, the default multiplier is 5. When clients exceed this limit,
/// limit-req-status-code default: 503 is returned." With nodelay (template `buildRateLimit`)
/// the burst passes at once: 1 + 5 requests, then one a second; each rejection is counted.
#[tokio::test]
async fn limit_rps_passes_the_burst_at_once_then_one_a_second() {
    let (m, _a) = scene(&[("limit-rps", "1")]).await;
    let s = start(&m, |_| {}).await;
    let started = Instant::now();
    let got = statuses(&s, "127.0.0.11", 12).await;
    let elapsed = started.elapsed().as_secs();
    let passed = got.iter().filter(|s| **s == 200).count();
    assert!(got[..6].iter().all(|s| *s == 200), "{got:?}");
    // Each second the test took may have let one more through.
    assert!(passed <= 6 + elapsed as usize + 1, "{got:?} in {elapsed} s");
    assert!(got.contains(&503), "{got:?}");
    let refused = got.iter().filter(|s| **s == 503).count();
    let scrape = Scrape::of(&s).await;
    assert_eq!(rejections(&scrape, "rps"), refused as f64);
    // The bucket drains at the rate: a request passes again within about a second.
    eventually("a request passes after the bucket drained", || async {
        let r = get_from(&s, "127.0.0.11", "limited.test", "/", &[]).await;
        (r.status == 200).then_some(())
    })
    .await;
    s.shutdown().await.unwrap();
}

/// annotations.md "Rate Limiting": limits are "from a given IP" (the zone key is the client
/// address, `$binary_remote_addr`); `limit-burst-multiplier: 0` leaves no burst. Another
/// Ingress on the same client is not limited.
#[tokio::test]
async fn each_client_address_has_its_own_budget() {
    let (m, _a) = scene(&[("limit-rpm", "1"), ("limit-burst-multiplier", "0")]).await;
    let s = start(&m, |_| {}).await;
    for client in ["127.0.0.21", "127.0.0.22", "127.0.0.23"] {
        assert_eq!(statuses(&s, client, 3).await, [200, 503, 503], "{client}");
    }
    let r = get_from(&s, "127.0.0.21", "open.test", "/", &[]).await;
    assert_eq!(r.status, 200, "an Ingress without limits");
    let scrape = Scrape::of(&s).await;
    assert_eq!(rejections(&scrape, "rpm"), 6.0);
    assert_eq!(rejections(&scrape, "rps"), 0.0);
    s.shutdown().await.unwrap();
}

/// ingress-nginx's ratelimit `Parse` names the zones after the Ingress
/// (`<namespace>_<name>_<uid>_rps`), so every host and path of one Ingress draw on one budget
/// per client.
#[tokio::test]
async fn the_budget_is_the_ingress_s_shared_by_its_hosts_and_paths() {
    let (m, _a) = scene(&[("limit-rpm", "2"), ("limit-burst-multiplier", "0")]).await;
    let s = start(&m, |_| {}).await;
    let from = "127.0.0.31";
    assert_eq!(
        get_from(&s, from, "limited.test", "/", &[]).await.status,
        200
    );
    let r = get_from(&s, from, "other.test", "/x", &[]).await;
    assert_eq!(r.status, 503, "same Ingress, other host: {}", r.text());
    s.shutdown().await.unwrap();
}

/// The template's `buildRateLimit` writes one `limit_req` per zone, so with `limit-rps` and
/// `limit-rpm` both apply; the metric tells which refused.
#[tokio::test]
async fn with_rps_and_rpm_both_apply() {
    let (m, _a) = scene(&[
        ("limit-rps", "100"),
        ("limit-rpm", "2"),
        ("limit-burst-multiplier", "1"),
    ])
    .await;
    let s = start(&m, |_| {}).await;
    // rpm 2 with burst 2: three at once; rps 100 with burst 100 would pass all.
    assert_eq!(
        statuses(&s, "127.0.0.41", 5).await,
        [200, 200, 200, 503, 503]
    );
    let scrape = Scrape::of(&s).await;
    assert_eq!(rejections(&scrape, "rpm"), 2.0);
    assert_eq!(rejections(&scrape, "rps"), 0.0);
    s.shutdown().await.unwrap();
}

/// annotations.md "Rate Limiting": "limit-whitelist: client IP source ranges to be excluded
/// from rate-limiting" (limit-allowlist is its newer name; the template maps them to an empty
/// key, which nginx does not count).
#[tokio::test]
async fn allowlisted_clients_are_not_limited() {
    for key in ["limit-whitelist", "limit-allowlist"] {
        let (m, _a) = scene(&[
            ("limit-rpm", "1"),
            ("limit-burst-multiplier", "0"),
            (key, "127.0.0.51, 127.0.1.0/24"),
        ])
        .await;
        let s = start(&m, |_| {}).await;
        assert_eq!(statuses(&s, "127.0.0.51", 4).await, [200; 4], "{key}");
        assert_eq!(statuses(&s, "127.0.1.9", 4).await, [200; 4], "{key}");
        assert_eq!(statuses(&s, "127.0.0.52", 2).await, [200, 503], "{key}");
        s.shutdown().await.unwrap();
    }
}

/// annotations.md "Rate Limiting": "The client IP address will be set based on the use of
/// PROXY protocol or from the X-Forwarded-For header value when use-forwarded-headers is
/// enabled" — here `--trusted-proxies`. An untrusted peer cannot buy a fresh budget with a
/// made-up `X-Forwarded-For`.
#[tokio::test]
async fn the_client_is_the_address_behind_a_trusted_proxy() {
    let (m, _a) = scene(&[("limit-rpm", "1"), ("limit-burst-multiplier", "0")]).await;
    let s = start(&m, |c| {
        c.proxy.trusted_proxies = vec![parse_cidr("127.0.0.5").unwrap()];
    })
    .await;
    let proxy = "127.0.0.5";
    assert_eq!(status_with_xff(&s, proxy, "203.0.113.1").await, 200);
    assert_eq!(status_with_xff(&s, proxy, "203.0.113.1").await, 503);
    assert_eq!(
        status_with_xff(&s, proxy, "203.0.113.2").await,
        200,
        "another client behind the proxy"
    );
    let untrusted = "127.0.0.61";
    assert_eq!(status_with_xff(&s, untrusted, "198.51.100.1").await, 200);
    assert_eq!(
        status_with_xff(&s, untrusted, "198.51.100.2").await,
        503,
        "the peer is the client"
    );
    s.shutdown().await.unwrap();
}

async fn status_with_xff(s: &Running, peer: &str, client: &str) -> u16 {
    let xff = [("x-forwarded-for", client)];
    let r = get_from(s, peer, "limited.test", "/", &xff).await;
    r.status.as_u16()
}

/// ingress-nginx ConfigMap `limit-req-status-code` (nginx `limit_req_status`): here
/// `--limit-req-status-code`.
#[tokio::test]
async fn the_status_comes_from_the_flag() {
    let (m, _a) = scene(&[("limit-rpm", "1"), ("limit-burst-multiplier", "0")]).await;
    let s = start(&m, |c| {
        c.proxy.limit_req_status = http::StatusCode::TOO_MANY_REQUESTS
    })
    .await;
    let from = "127.0.0.71";
    assert_eq!(
        get_from(&s, from, "limited.test", "/", &[]).await.status,
        200
    );
    let r = get_from(&s, from, "limited.test", "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.text(), OVER_RATE);
    s.shutdown().await.unwrap();
}

/// ingress-nginx keeps a zone's state in shared memory across reloads; Strait keeps it
/// outside the table, so a new table (here: a new Ingress and new endpoints) resets nothing.
#[tokio::test]
async fn a_new_table_resets_no_budget() {
    let annotations = [("limit-rpm", "1"), ("limit-burst-multiplier", "0")];
    let (m, a) = scene(&annotations).await;
    let s = start(&m, |_| {}).await;
    let from = "127.0.0.81";
    assert_eq!(statuses(&s, from, 2).await, [200, 503]);
    let b = Echo::start("b", [127, 0, 0, 3], 0).await;
    let mut next = items(&a, &annotations);
    next.extend(backend("default", "b", &[b.addr]));
    next.push(
        IngressB::new("default", "new")
            .rule("new.test", "/", "Prefix", "b", 80)
            .build(),
    );
    m.write_list("all.json", &next);
    eventually("the new table is served", || async {
        let r = get_from(&s, "127.0.0.82", "new.test", "/", &[]).await;
        (r.status == 200).then_some(())
    })
    .await;
    assert_eq!(statuses(&s, from, 1).await, [503], "the budget survived");
    s.shutdown().await.unwrap();
}

/// ingress-nginx rejects an Ingress whose limit is not an integer (`parser.ValidateInt`);
/// Strait refuses its routes (503, fail closed) and serves its neighbours.
#[tokio::test]
async fn an_invalid_value_refuses_the_routes() {
    for (key, value) in [
        ("limit-rps", "ten"),
        ("limit-rpm", "-1"),
        ("limit-burst-multiplier", "5x"),
    ] {
        let (m, _a) = scene(&[("limit-rps", "5"), (key, value)]).await;
        let s = start(&m, |_| {}).await;
        let r = get_from(&s, "127.0.0.91", "limited.test", "/", &[]).await;
        assert_eq!(r.status, 503, "{key}: {}", r.text());
        assert!(r.text().contains("invalid value"), "{key}: {}", r.text());
        let r = get_from(&s, "127.0.0.91", "open.test", "/", &[]).await;
        assert_eq!(r.status, 200, "{key}: neighbour");
        s.shutdown().await.unwrap();
    }
}
