//! Canary releases through the real proxy (docs/architecture.md, "Canary";
//! test/e2e/annotations/canary.go; annotations.md "Canary"): header, then cookie, then weight.

use strait_controller::serve::Running;
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "foo.com";

/// Main Ingress `main` (echo `a`) and a canary Ingress in namespace `canary-ns` (echo `b`)
/// with `annotations`, on `foo.com/`.
async fn scene(annotations: &[(&str, &str)]) -> (Running, Manifests, [Echo; 2]) {
    let (a, b) = strait_e2e::echoes_ab().await;
    let main = IngressB::new("default", "main").rule(HOST, "/", "Prefix", "a", 80);
    let mut canary = IngressB::new("canary-ns", "canary")
        .annotation(&format!("{NGINX}/canary"), "true")
        .rule(HOST, "/", "Prefix", "b", 80);
    for (k, v) in annotations {
        canary = canary.annotation(&format!("{NGINX}/{k}"), v);
    }
    let mut items = vec![our_class(), main.build(), canary.build()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(backend("canary-ns", "b", &[b.addr]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    (start(m.path()).await, m, [a, b])
}

async fn served_by(s: &Running, headers: &[(&str, &str)]) -> String {
    let r = get_with(s.http_addr, HOST, "/", headers).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.echo_name().expect("an echo answered")
}

/// canary.go "should route requests to the correct upstream if the header is set to
/// 'always'" / "'never'" / "any other value", and the cookie cases.
#[tokio::test]
async fn header_then_cookie_then_weight() {
    let (s, _m, _e) = scene(&[
        ("canary-by-header", "CanaryByHeader"),
        ("canary-by-cookie", "CanaryByCookie"),
        ("canary-weight", "0"),
    ])
    .await;
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("CanaryByHeader", "always")], "b"),
        (&[("CanaryByHeader", "never")], "a"),
        (&[("CanaryByHeader", "badval")], "a"),
        (&[("Cookie", "CanaryByCookie=always")], "b"),
        (
            &[
                ("CanaryByHeader", "never"),
                ("Cookie", "CanaryByCookie=always"),
            ],
            "a",
        ),
        (&[], "a"),
    ];
    for (headers, expected) in cases {
        assert_eq!(served_by(&s, headers).await, expected, "{headers:?}");
    }
    s.shutdown().await.unwrap();
}

/// canary.go "should route requests to the correct upstream if the header value is
/// 'DoCanary'" and "header pattern" cases.
#[tokio::test]
async fn header_value_and_pattern() {
    let (s, _m, _e) = scene(&[
        ("canary-by-header", "CanaryByHeader"),
        ("canary-by-header-value", "DoCanary"),
    ])
    .await;
    assert_eq!(served_by(&s, &[("CanaryByHeader", "DoCanary")]).await, "b");
    assert_eq!(served_by(&s, &[("CanaryByHeader", "always")]).await, "a");
    s.shutdown().await.unwrap();
    let (s, _m, _e) = scene(&[
        ("canary-by-header", "CanaryByHeader"),
        ("canary-by-header-pattern", "^Do[A-Z][a-z]+y$"),
    ])
    .await;
    assert_eq!(served_by(&s, &[("CanaryByHeader", "DoCanary")]).await, "b");
    assert_eq!(served_by(&s, &[("CanaryByHeader", "docanary")]).await, "a");
    s.shutdown().await.unwrap();
}

/// canary.go "should route requests only to mainline if canary weight is 0" / "to canary if
/// weight is 100" / "split requests between mainline and canary if canary weight is 50"
/// (and weight-total 1000 with weight 500).
#[tokio::test]
async fn weights_split_the_traffic() {
    for (weight, total, low, high) in [
        ("0", None, 0, 0),
        ("100", None, 200, 200),
        ("50", None, 60, 140),
        ("500", Some("1000"), 60, 140),
    ] {
        let mut annotations = vec![("canary-weight", weight)];
        if let Some(total) = total {
            annotations.push(("canary-weight-total", total));
        }
        let (s, _m, _e) = scene(&annotations).await;
        let mut canary = 0;
        for _ in 0..200 {
            if served_by(&s, &[]).await == "b" {
                canary += 1;
            }
        }
        assert!(
            (low..=high).contains(&canary),
            "weight {weight}: {canary} of 200"
        );
        s.shutdown().await.unwrap();
    }
}
