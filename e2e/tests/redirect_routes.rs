//! An Ingress's own redirect (docs/architecture.md, "Redirects"): `permanent-redirect`,
//! `temporal-redirect` and their `-code` keys as ingress-nginx applies them
//! (test/e2e/annotations/redirect.go; annotations.md, "Permanent Redirect", "Temporal
//! Redirect"): every request of the Ingress gets the code and `Location` as written, before
//! any access check, and nothing reaches the upstream.

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, Reply, get, start};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// Strait with Ingress `redirect` on `redirect.test` (carrying `annotations`) and Ingress
/// `plain` on `plain.test`, both to one echo.
async fn scene(
    annotations: &[(&str, &str)],
) -> (strait_controller::serve::Running, Manifests, Echo) {
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut redirect =
        IngressB::new("default", "redirect").rule("redirect.test", "/", "Prefix", "a", 80);
    for (key, value) in annotations {
        redirect = redirect.annotation(&format!("{NGINX}/{key}"), value);
    }
    let plain = IngressB::new("default", "plain").rule("plain.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), redirect.build(), plain.build()];
    items.extend(backend("default", "a", &[echo.addr]));
    let m = Manifests::new();
    m.write_list("all.json", &items);
    (start(m.path()).await, m, echo)
}

fn location(r: &Reply) -> Option<&str> {
    r.headers.get("location").map(|v| v.to_str().unwrap())
}

/// One case: annotations, then the expected status and `Location` (`None`: proxied, 200).
struct Case {
    cite: &'static str,
    annotations: &'static [(&'static str, &'static str)],
    expect: Option<(u16, &'static str)>,
}

#[tokio::test]
async fn route_redirects_as_ingress_nginx() {
    let cases = [
        Case {
            cite: "redirect.go: should respond with a standard redirect code",
            annotations: &[("permanent-redirect", "http://redirect.example.com")],
            expect: Some((301, "http://redirect.example.com")),
        },
        Case {
            cite: "redirect.go: should respond with a custom redirect code",
            annotations: &[
                ("permanent-redirect", "http://redirect.example.com"),
                ("permanent-redirect-code", "308"),
            ],
            expect: Some((308, "http://redirect.example.com")),
        },
        Case {
            cite: "redirect.go: a permanent code outside 300-308 falls back to 301",
            annotations: &[
                ("permanent-redirect", "https://new.example/a?b=1&c=2"),
                ("permanent-redirect-code", "200"),
            ],
            expect: Some((301, "https://new.example/a?b=1&c=2")),
        },
        Case {
            cite: "annotations.md Temporal Redirect: 302 by default",
            annotations: &[("temporal-redirect", "https://www.google.com")],
            expect: Some((302, "https://www.google.com")),
        },
        Case {
            cite: "redirect.go Parse: temporal-redirect is read first; its code 300-307",
            annotations: &[
                ("permanent-redirect", "https://permanent.example"),
                ("temporal-redirect", "https://temporal.example"),
                ("temporal-redirect-code", "307"),
            ],
            expect: Some((307, "https://temporal.example")),
        },
        Case {
            cite: "validators.go URLIsValidRegex: no `$`, so no variables; the Ingress is served",
            annotations: &[("permanent-redirect", "https://new.example$request_uri")],
            expect: None,
        },
        Case {
            cite: "relativeredirects.go: should respond with absolute URL in Location",
            annotations: &[
                ("permanent-redirect", "/new-location"),
                ("relative-redirects", "false"),
            ],
            expect: Some((301, "http://redirect.test/new-location")),
        },
        Case {
            cite: "relativeredirects.go: should respond with relative URL in Location",
            annotations: &[
                ("permanent-redirect", "/new-location"),
                ("relative-redirects", "true"),
            ],
            expect: Some((301, "/new-location")),
        },
        Case {
            cite: "redirect.go: temporal-redirect must be an http(s) URL (isValidURL)",
            annotations: &[("temporal-redirect", "/new-location")],
            expect: None,
        },
        Case {
            cite: "redirect.go isValidURL: only http and https",
            annotations: &[("permanent-redirect", "ftp://files.example/")],
            expect: None,
        },
    ];
    for case in cases {
        let (s, _m, _echo) = scene(case.annotations).await;
        let r = get(s.http_addr, "redirect.test", "/some/path?x=1").await;
        match case.expect {
            Some((status, target)) => {
                assert_eq!(r.status, status, "{}", case.cite);
                assert_eq!(location(&r), Some(target), "{}", case.cite);
                assert_eq!(r.echo_name(), None, "{}: never proxied", case.cite);
            }
            None => {
                assert_eq!(r.status, 200, "{}", case.cite);
                assert_eq!(r.echo_name().as_deref(), Some("a"), "{}", case.cite);
            }
        }
        // Another Ingress is untouched.
        let other = get(s.http_addr, "plain.test", "/").await;
        assert_eq!(other.status, 200, "{}", case.cite);
        s.shutdown().await.unwrap();
    }
}

/// nginx's `return` runs in the rewrite phase, before `allow`/`deny` and auth: a client outside
/// the allow-list still gets the redirect.
#[tokio::test]
async fn the_redirect_comes_before_access_checks() {
    let (s, _m, _echo) = scene(&[
        ("permanent-redirect", "https://moved.example"),
        ("allowlist-source-range", "10.0.0.0/8"),
    ])
    .await;
    let r = get(s.http_addr, "redirect.test", "/").await;
    assert_eq!(r.status, 301);
    assert_eq!(location(&r), Some("https://moved.example"));
    s.shutdown().await.unwrap();
}
