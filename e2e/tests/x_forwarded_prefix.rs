//! `x-forwarded-prefix` through the real proxy (docs/architecture.md, "Regex paths and
//! rewrites"): the header goes upstream with rewritten requests only, with the rewrite's
//! captures — test/e2e/annotations/xforwardedprefix.go and template.go `buildProxyPass`.

use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, config};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// One host per Ingress: (host, path, rewrite-target, x-forwarded-prefix); `None`: not set.
const INGRESSES: &[(&str, &str, Option<&str>, &str)] = &[
    // xforwardedprefix.go, "should set the X-Forwarded-Prefix to the annotation value".
    ("xfp.baz.com", "/", Some("/foo"), "/test/value"),
    // xforwardedprefix.go, "should not add X-Forwarded-Prefix if the annotation value is empty".
    ("noxfp.baz.com", "/", Some("/foo"), ""),
    // annotations.md, "X-Forwarded-Prefix Header": captures as in rewrite-target.
    ("captures.baz.com", "/(app)/(.*)", Some("/$2"), "/$1"),
    // template.go `buildProxyPass`: without a rewrite there is no header.
    ("norewrite.baz.com", "/", None, "/ignored"),
];

/// Where from, host, request path, the header the client sends, the path and the header the
/// upstream receives.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn x_forwarded_prefix_goes_with_rewrites_only() {
    let echo = Echo::start("app", [127, 0, 0, 2], 0).await;
    let mut items = vec![our_class()];
    items.extend(backend("default", "app", &[echo.addr]));
    for (i, (host, path, target, prefix)) in INGRESSES.iter().enumerate() {
        let mut ingress = IngressB::new("default", &format!("xfp-{i}"))
            .annotation(&format!("{NGINX}/x-forwarded-prefix"), prefix)
            .rule(host, path, "ImplementationSpecific", "app", 80);
        if let Some(target) = target {
            ingress = ingress.annotation(&format!("{NGINX}/rewrite-target"), target);
        }
        items.push(ingress.build());
    }
    let manifests = Manifests::new();
    manifests.write_list("xfp.json", &items);
    let s = strait_controller::serve::start(config(manifests.path()))
        .await
        .expect("starts");

    let cases: &[Case] = &[
        (
            "xforwardedprefix.go: set",
            "xfp.baz.com",
            "/",
            None,
            "/foo",
            Some("/test/value"),
        ),
        (
            "xforwardedprefix.go: empty",
            "noxfp.baz.com",
            "/",
            None,
            "/foo",
            None,
        ),
        (
            "captures",
            "captures.baz.com",
            "/app/page?q=1",
            None,
            "/page?q=1",
            Some("/app"),
        ),
        (
            "no rewrite, no header",
            "norewrite.baz.com",
            "/x",
            None,
            "/x",
            None,
        ),
        // nginx's proxy_set_header replaces what the client sent.
        (
            "replaces the client's",
            "xfp.baz.com",
            "/",
            Some("/evil"),
            "/foo",
            Some("/test/value"),
        ),
        // Strait drops an untrusted client's X-Forwarded-* (docs/architecture.md, "Client IP").
        (
            "untrusted client's is dropped",
            "norewrite.baz.com",
            "/",
            Some("/evil"),
            "/",
            None,
        ),
    ];
    for (what, host, path, sent, upstream_path, upstream_header) in cases {
        let headers: Vec<(&str, &str)> = sent
            .map(|v| ("x-forwarded-prefix", v))
            .into_iter()
            .collect();
        let reply = get_with(s.http_addr, host, path, &headers).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        assert_eq!(reply.json()["path"], *upstream_path, "{what}");
        assert_eq!(
            reply.echoed_header("x-forwarded-prefix").as_deref(),
            *upstream_header,
            "{what}"
        );
    }
    s.shutdown().await.expect("shutdown");
}
