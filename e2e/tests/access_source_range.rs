//! Source-address lists through the real proxy (docs/architecture.md, "Access policies"):
//! `allowlist-source-range` / `whitelist-source-range`, `denylist-source-range`, the global
//! `--allowlist-source-range`, and the client address taken after trusted proxies. Distinct
//! clients are distinct 127.0.0.x source addresses.

use std::net::IpAddr;

use strait_controller::cli::parse_cidr;
use strait_controller::serve::{Running, ServeConfig};
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, Echo, Manifests, Reply, config};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// Echo `a` behind `open.test` (no annotations) and `guarded.test` (with `annotations`).
async fn scene(annotations: &[(&str, &str)]) -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut guarded =
        IngressB::new("default", "guarded").rule("guarded.test", "/", "Prefix", "a", 80);
    for (k, v) in annotations {
        guarded = guarded.annotation(&format!("{NGINX}/{k}"), v);
    }
    let mut items = vec![our_class(), guarded.build()];
    items.push(
        IngressB::new("default", "open")
            .rule("open.test", "/", "Prefix", "a", 80)
            .build(),
    );
    items.extend(backend("default", "a", &[a.addr]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    (m, a)
}

async fn start(m: &Manifests, tweak: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = config(m.path());
    tweak(&mut cfg);
    strait_controller::serve::start(cfg).await.expect("start")
}

async fn get_from(s: &Running, from: &str, host: &str, headers: &[(&str, &str)]) -> Reply {
    let ip: IpAddr = from.parse().unwrap();
    let mut c = Conn::open_from(ip, s.http_addr).await.expect("connect");
    c.get(host, "/", headers).await.expect("request")
}

fn assert_status(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    if status == 403 {
        assert_eq!(r.text(), "forbidden", "{what}: Strait's own 403");
    }
}

/// ingress-nginx test/e2e/annotations/ipallowlist.go (whitelist-source-range: only the listed
/// ranges reach the backend, others get 403) and annotations.md "Whitelist source range"
/// (bare addresses allowed), through the older name and the newer one.
#[tokio::test]
async fn an_allow_list_serves_only_its_clients() {
    for key in ["whitelist-source-range", "allowlist-source-range"] {
        let (m, _a) = scene(&[(key, "127.0.0.7, 127.0.1.0/24")]).await;
        let s = start(&m, |_| {}).await;
        assert_status(
            &get_from(&s, "127.0.0.7", "guarded.test", &[]).await,
            200,
            key,
        );
        assert_status(
            &get_from(&s, "127.0.1.9", "guarded.test", &[]).await,
            200,
            key,
        );
        assert_status(
            &get_from(&s, "127.0.0.8", "guarded.test", &[]).await,
            403,
            key,
        );
        assert_status(&get_from(&s, "127.0.0.8", "open.test", &[]).await, 200, key);
        s.shutdown().await.unwrap();
    }
}

/// ingress-nginx test/e2e/annotations/ipdenylist.go "only allow explicitly allowed IPs, deny
/// all others": the template writes deny before allow, so a denied address inside the allow
/// list is refused.
#[tokio::test]
async fn deny_wins_over_allow() {
    let (m, _a) = scene(&[
        ("denylist-source-range", "127.0.0.8"),
        ("allowlist-source-range", "127.0.0.0/24"),
    ])
    .await;
    let s = start(&m, |_| {}).await;
    assert_status(
        &get_from(&s, "127.0.0.7", "guarded.test", &[]).await,
        200,
        "allowed",
    );
    assert_status(
        &get_from(&s, "127.0.0.8", "guarded.test", &[]).await,
        403,
        "denied",
    );
    assert_status(
        &get_from(&s, "127.0.1.1", "guarded.test", &[]).await,
        403,
        "outside",
    );
    s.shutdown().await.unwrap();
}

/// ingress-nginx annotations.md "Whitelist source range": the ConfigMap's
/// `whitelist-source-range` applies to every Ingress rule, and "adding an annotation to an
/// Ingress rule overrides any global restriction".
#[tokio::test]
async fn the_global_allow_list_applies_unless_the_ingress_sets_its_own() {
    let (m, _a) = scene(&[("allowlist-source-range", "127.0.0.8")]).await;
    let s = start(&m, |c| {
        c.compile.source_ranges.allow = vec![parse_cidr("127.0.0.7").unwrap()].into();
    })
    .await;
    assert_status(
        &get_from(&s, "127.0.0.7", "open.test", &[]).await,
        200,
        "global",
    );
    assert_status(
        &get_from(&s, "127.0.0.8", "open.test", &[]).await,
        403,
        "global",
    );
    assert_status(
        &get_from(&s, "127.0.0.8", "guarded.test", &[]).await,
        200,
        "own",
    );
    assert_status(
        &get_from(&s, "127.0.0.7", "guarded.test", &[]).await,
        403,
        "own",
    );
    s.shutdown().await.unwrap();
}

/// The client is the address Strait forwards as `X-Real-IP` (docs/architecture.md, "Client
/// IP"): behind a trusted proxy, the `X-Forwarded-For` client; from an untrusted peer the
/// header is not believed (ingress-nginx matches `$remote_addr` after the realip module).
#[tokio::test]
async fn the_list_sees_the_client_behind_a_trusted_proxy() {
    let (m, _a) = scene(&[("allowlist-source-range", "203.0.113.0/24")]).await;
    let s = start(&m, |c| {
        c.proxy.trusted_proxies = vec![parse_cidr("127.0.0.5").unwrap()];
    })
    .await;
    let allowed = [("x-forwarded-for", "203.0.113.7")];
    let other = [("x-forwarded-for", "198.51.100.1")];
    assert_status(
        &get_from(&s, "127.0.0.5", "guarded.test", &allowed).await,
        200,
        "trusted",
    );
    assert_status(
        &get_from(&s, "127.0.0.5", "guarded.test", &other).await,
        403,
        "trusted, other",
    );
    assert_status(
        &get_from(&s, "127.0.0.9", "guarded.test", &allowed).await,
        403,
        "spoofed",
    );
    s.shutdown().await.unwrap();
}

/// ingress-nginx ipallowlist `Parse`: a list that does not parse denies the location; Strait
/// refuses the routes (503, fail closed) instead of serving them open.
#[tokio::test]
async fn an_invalid_list_refuses_the_routes() {
    let (m, _a) = scene(&[("allowlist-source-range", "127.0.0.0/8, not-an-address")]).await;
    let s = start(&m, |_| {}).await;
    let r = get_from(&s, "127.0.0.7", "guarded.test", &[]).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("invalid value"), "{}", r.text());
    assert_status(
        &get_from(&s, "127.0.0.7", "open.test", &[]).await,
        200,
        "neighbour",
    );
    s.shutdown().await.unwrap();
}
