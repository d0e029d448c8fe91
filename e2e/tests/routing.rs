//! Each Ingress semantic rule of docs/architecture.md ("Ingress semantics"), end to end: manifests
//! folder → Strait → echo backend, over real loopback sockets.

use strait_e2e::manifests::{IngressB, backend, ingress_class, our_class};
use strait_e2e::{Echo, Manifests, get, start};

/// Two echo backends `a` and `b` behind Services `a` and `b` in namespace `default`, the
/// IngressClass, and the given Ingresses, all in one file.
async fn scenario(ingresses: Vec<serde_json::Value>) -> (Manifests, [Echo; 2]) {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("default", "b", &[b.addr]));
    items.extend(ingresses);
    m.write_list("scenario.json", &items);
    (m, [a, b])
}

async fn who(addr: std::net::SocketAddr, host: &str, path: &str) -> String {
    let r = get(addr, host, path).await;
    match r.echo_name() {
        Some(name) => name,
        None => r.status.as_u16().to_string(),
    }
}

#[tokio::test]
async fn class_selection_field_legacy_annotation_and_foreign_class() {
    let ours = IngressB::new("default", "ours").rule("field.test", "/", "Prefix", "a", 80);
    let legacy = IngressB::new("default", "legacy")
        .class(None)
        .annotation("kubernetes.io/ingress.class", "strait")
        .rule("legacy.test", "/", "Prefix", "a", 80);
    let foreign = IngressB::new("default", "foreign")
        .class(Some("nginx"))
        .rule("foreign.test", "/", "Prefix", "a", 80);
    let classless = IngressB::new("default", "classless").class(None).rule(
        "classless.test",
        "/",
        "Prefix",
        "a",
        80,
    );
    let (m, _e) = scenario(vec![
        ours.build(),
        legacy.build(),
        foreign.build(),
        classless.build(),
    ])
    .await;
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "field.test", "/").await, "a");
    assert_eq!(who(s.http_addr, "legacy.test", "/").await, "a");
    assert_eq!(who(s.http_addr, "foreign.test", "/").await, "404");
    assert_eq!(who(s.http_addr, "classless.test", "/").await, "404");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn default_ingress_class_takes_classless_ingresses() {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let mut items = vec![ingress_class(
        "strait",
        "strait.dev/ingress-controller",
        true,
    )];
    items.extend(backend("default", "a", &[a.addr]));
    items.push(
        IngressB::new("default", "classless")
            .class(None)
            .rule("classless.test", "/", "Prefix", "a", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "classless.test", "/").await, "a");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn hosts_ignore_port_and_case_and_wildcards_match_one_label() {
    let ing = IngressB::new("default", "hosts")
        .rule("exact.example.com", "/", "Prefix", "a", 80)
        .rule("*.example.com", "/", "Prefix", "b", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    let addr = s.http_addr;
    assert_eq!(who(addr, "EXACT.Example.COM:8080", "/").await, "a");
    assert_eq!(
        who(addr, "exact.example.com", "/").await,
        "a",
        "exact beats wildcard"
    );
    assert_eq!(who(addr, "x.example.com", "/").await, "b");
    assert_eq!(who(addr, "X.EXAMPLE.com:443", "/").await, "b");
    assert_eq!(
        who(addr, "example.com", "/").await,
        "404",
        "wildcard needs a label"
    );
    assert_eq!(
        who(addr, "a.b.example.com", "/").await,
        "404",
        "only one label"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn host_match_limits_paths_to_that_host_and_hostless_rules_take_the_rest() {
    let ing = IngressB::new("default", "hosts")
        .rule("only.test", "/api", "Prefix", "a", 80)
        .rule("", "/", "Prefix", "b", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "only.test", "/api/x").await, "a");
    // The host matched a rule: its paths only, no fall-through to the host-less rule.
    assert_eq!(who(s.http_addr, "only.test", "/other").await, "404");
    assert_eq!(who(s.http_addr, "anything.test", "/other").await, "b");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn path_types_exact_prefix_and_implementation_specific() {
    let ing = IngressB::new("default", "paths")
        .rule("p.test", "/exact", "Exact", "a", 80)
        .rule("p.test", "/foo", "Prefix", "b", 80)
        .rule("p.test", "/slash/", "Prefix", "a", 80)
        .rule("p.test", "/str", "ImplementationSpecific", "b", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    let addr = s.http_addr;
    assert_eq!(who(addr, "p.test", "/exact").await, "a");
    assert_eq!(who(addr, "p.test", "/exact/").await, "404");
    assert_eq!(who(addr, "p.test", "/EXACT").await, "404", "case-sensitive");
    for ok in ["/foo", "/foo/", "/foo/bar", "/foo?q=1"] {
        assert_eq!(who(addr, "p.test", ok).await, "b", "{ok}");
    }
    assert_eq!(who(addr, "p.test", "/foobar").await, "404");
    assert_eq!(
        who(addr, "p.test", "/slash").await,
        "a",
        "trailing slash ignored"
    );
    assert_eq!(who(addr, "p.test", "/string").await, "b", "string prefix");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn longest_path_wins_and_exact_beats_prefix_on_tie() {
    let ing = IngressB::new("default", "prec")
        .rule("p.test", "/", "Prefix", "a", 80)
        .rule("p.test", "/api", "Prefix", "b", 80)
        .rule("p.test", "/api/v1", "Prefix", "a", 80)
        .rule("p.test", "/api/v1/x", "Exact", "b", 80)
        .rule("p.test", "/api/v1/x", "Prefix", "a", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    let addr = s.http_addr;
    assert_eq!(who(addr, "p.test", "/").await, "a");
    assert_eq!(who(addr, "p.test", "/api/v2").await, "b");
    assert_eq!(who(addr, "p.test", "/api/v1/y").await, "a");
    assert_eq!(
        who(addr, "p.test", "/api/v1/x").await,
        "b",
        "Exact wins the tie"
    );
    assert_eq!(who(addr, "p.test", "/api/v1/x/z").await, "a");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn rules_merge_across_ingresses_and_namespaces() {
    let (a, b) = strait_e2e::echoes_ab().await;
    let m = Manifests::new();
    let mut items = vec![our_class()];
    items.extend(backend("team-a", "svc", &[a.addr]));
    items.extend(backend("team-b", "svc", &[b.addr]));
    items.push(
        IngressB::new("team-a", "one")
            .rule("shared.test", "/a", "Prefix", "svc", 80)
            .build(),
    );
    items.push(
        IngressB::new("team-b", "two")
            .rule("shared.test", "/b", "Prefix", "svc", 80)
            .build(),
    );
    m.write_list("all.json", &items);
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "shared.test", "/a").await, "a");
    assert_eq!(who(s.http_addr, "shared.test", "/b").await, "b");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn conflict_older_ingress_wins_then_namespace_name() {
    let newer = IngressB::new("default", "aaa-newer")
        .created("2026-03-01T00:00:00Z")
        .rule("c.test", "/", "Prefix", "a", 80)
        .rule("c.test", "/newer-only", "Prefix", "a", 80);
    let older = IngressB::new("default", "zzz-older")
        .created("2026-02-01T00:00:00Z")
        .rule("c.test", "/", "Prefix", "b", 80);
    let tie_x = IngressB::new("default", "tie-x")
        .created("2026-02-01T00:00:00Z")
        .rule("t.test", "/", "Prefix", "a", 80);
    let tie_y = IngressB::new("default", "tie-y")
        .created("2026-02-01T00:00:00Z")
        .rule("t.test", "/", "Prefix", "b", 80);
    let (m, _e) = scenario(vec![
        newer.build(),
        older.build(),
        tie_y.build(),
        tie_x.build(),
    ])
    .await;
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "c.test", "/").await, "b", "older wins");
    // The loser's other rules still apply.
    assert_eq!(who(s.http_addr, "c.test", "/newer-only").await, "a");
    assert_eq!(
        who(s.http_addr, "t.test", "/").await,
        "a",
        "tie: lexical name"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn default_backend_serves_unmatched_requests_else_404() {
    let ing = IngressB::new("default", "with-default")
        .default_backend("b", 80)
        .rule("d.test", "/app", "Prefix", "a", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    assert_eq!(who(s.http_addr, "d.test", "/app").await, "a");
    assert_eq!(who(s.http_addr, "d.test", "/nothing").await, "b");
    assert_eq!(who(s.http_addr, "unknown.test", "/").await, "b");
    s.shutdown().await.unwrap();

    let ing = IngressB::new("default", "no-default").rule("d.test", "/app", "Prefix", "a", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    let r = get(s.http_addr, "unknown.test", "/").await;
    assert_eq!(r.status, 404);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_service_or_no_ready_endpoint_is_503_never_fallthrough() {
    let ing = IngressB::new("default", "broken")
        .rule("s.test", "/", "Prefix", "a", 80)
        .rule("s.test", "/missing", "Prefix", "nope", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    let r = get(s.http_addr, "s.test", "/missing/x").await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("service"), "reason in body: {}", r.text());
    assert_eq!(who(s.http_addr, "s.test", "/ok").await, "a");
    s.shutdown().await.unwrap();

    // A Service whose only endpoint is not ready.
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let m = Manifests::new();
    let ep = strait_e2e::manifests::Ep::ready(a.addr).not_ready();
    m.write_list(
        "all.json",
        &[
            our_class(),
            strait_e2e::manifests::service("default", "a", 80, "http"),
            strait_e2e::manifests::endpoint_slice(
                "default",
                "a-1",
                "a",
                "http",
                a.addr.port(),
                &[ep],
            ),
            IngressB::new("default", "i")
                .rule("s.test", "/", "Prefix", "a", 80)
                .build(),
        ],
    );
    let s = start(m.path()).await;
    let r = get(s.http_addr, "s.test", "/").await;
    assert_eq!(r.status, 503);
    assert!(
        r.text().contains("endpoint"),
        "reason in body: {}",
        r.text()
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn request_target_goes_upstream_byte_for_byte() {
    let ing = IngressB::new("default", "raw").rule("raw.test", "/", "Prefix", "a", 80);
    let (m, _e) = scenario(vec![ing.build()]).await;
    let s = start(m.path()).await;
    for target in [
        "/a%2Fb/../c/./d?x=%20y&z=%2F",
        "/%7Euser//double",
        "/caf%C3%A9?q=a+b",
    ] {
        let r = get(s.http_addr, "raw.test", target).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["path"], target, "target changed on the way");
    }
    s.shutdown().await.unwrap();
}
