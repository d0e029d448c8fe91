//! `rewrite-target` through the real proxy (docs/architecture.md, "Regex paths and rewrites"):
//! the path goes upstream rewritten with the path regex's captures, the query string kept —
//! docs/examples/rewrite/README.md and test/e2e/annotations/rewrite.go.

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, config, get};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// One host per rewrite: (host, path, pathType, rewrite-target).
const REWRITES: &[(&str, &str, &str, &str)] = &[
    // docs/examples/rewrite/README.md, "Rewrite Target".
    (
        "rewrite.bar.com",
        "/something(/|$)(.*)",
        "ImplementationSpecific",
        "/$2",
    ),
    // rewrite.go, "should allow for custom rewrite parameters".
    (
        "custom.bar.com",
        "/foo/bar/(.+)",
        "ImplementationSpecific",
        "/new/backend/$1",
    ),
    // rewrite.go, "should write rewrite logs": a target without captures.
    ("log.bar.com", "/something", "Prefix", "/"),
    // template.go `needsRewrite`: a target equal to the path is no rewrite.
    ("same.bar.com", "/same", "Prefix", "/same"),
    // Captures beyond the groups of the path are empty; one digit is read after `$`.
    (
        "groups.bar.com",
        "/(a)/(b)?",
        "ImplementationSpecific",
        "/$2-$1-$3-$10",
    ),
];

#[tokio::test]
async fn rewrite_target_rewrites_the_path_and_keeps_the_query() {
    let echo = Echo::start("app", [127, 0, 0, 2], 0).await;
    let mut items = vec![our_class()];
    items.extend(backend("default", "app", &[echo.addr]));
    for (i, (host, path, kind, target)) in REWRITES.iter().enumerate() {
        let ingress = IngressB::new("default", &format!("rewrite-{i}"))
            .annotation(&format!("{NGINX}/rewrite-target"), target)
            .rule(host, path, kind, "app", 80);
        items.push(ingress.build());
    }
    let manifests = Manifests::new();
    manifests.write_list("rewrite.json", &items);
    let s = strait_controller::serve::start(config(manifests.path()))
        .await
        .expect("starts");

    // (where from, host, request target, target the upstream receives)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("README: /something", "rewrite.bar.com", "/something", "/"),
        ("README: /something/", "rewrite.bar.com", "/something/", "/"),
        (
            "README: /something/new",
            "rewrite.bar.com",
            "/something/new",
            "/new",
        ),
        (
            "case-insensitive, as (?i)",
            "rewrite.bar.com",
            "/SomeThing/New",
            "/New",
        ),
        (
            "the query string is kept",
            "rewrite.bar.com",
            "/something/new?a=1&b=%20",
            "/new?a=1&b=%20",
        ),
        (
            "percent-encoding goes as received",
            "rewrite.bar.com",
            "/something/a%20b",
            "/a%20b",
        ),
        (
            "rewrite.go: custom parameters",
            "custom.bar.com",
            "/foo/bar/bar",
            "/new/backend/bar",
        ),
        ("rewrite.go: rewrite logs", "log.bar.com", "/something", "/"),
        (
            "a plain target replaces the whole path",
            "log.bar.com",
            "/something/else?x=y",
            "/?x=y",
        ),
        (
            "target equal to the path: no rewrite",
            "same.bar.com",
            "/same/x",
            "/same/x",
        ),
        (
            "missing groups are empty, $10 is $1 then 0",
            "groups.bar.com",
            "/a/",
            "/-a--a0",
        ),
    ];
    for (what, host, target, upstream) in cases {
        let reply = get(s.http_addr, host, target).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        assert_eq!(reply.json()["path"], *upstream, "{what} ({host}{target})");
    }
    // Routing is unchanged by a rewrite: what the path regex does not match is not served.
    assert_eq!(
        get(s.http_addr, "custom.bar.com", "/foo/bar/").await.status,
        404
    );
    s.shutdown().await.expect("shutdown");
}
