//! `use-regex` through the real proxy (docs/architecture.md, "Regex paths and rewrites"): once
//! an Ingress for a host uses regex (or rewrites), every path of that host is a
//! case-insensitive regex anchored at the start, tried longest first, the first match winning
//! — docs/user-guide/ingress-path-matching.md and test/e2e/annotations/rewrite.go.
//!
//! Each case names the host it runs on, the request path, and which echo backend answers
//! (with the path it received) or the status; every host's Ingresses are in one manifests
//! folder served by one Strait.

use std::time::{Duration, Instant};

use strait_controller::serve::Running;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::scrape::Scrape;
use strait_e2e::{Echo, Manifests, Reply, config, eventually, get};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// Echo backends, one per Service of the cases.
const SERVICES: [&str; 9] = [
    "foo", "service1", "service2", "service3", "literal", "pattern", "plain", "regex", "exact",
];

struct Scene {
    running: Running,
    _manifests: Manifests,
    _echoes: Vec<Echo>,
}

/// Every host of the cases, its Ingresses created in list order (older first).
fn ingresses() -> Vec<IngressB> {
    let regex = |ing: IngressB| ing.annotation(&format!("{NGINX}/use-regex"), "true");
    let rewrite =
        |ing: IngressB, target: &str| ing.annotation(&format!("{NGINX}/rewrite-target"), target);
    let ing = |name: &str, minute: u32| {
        IngressB::new("default", name).created(&format!("2026-01-01T00:{minute:02}:00Z"))
    };
    vec![
        // ingress-path-matching.md, "Regular Expression Support".
        regex(ing("test-ingress", 0)).rule(
            "test.com",
            "/foo/.*",
            "ImplementationSpecific",
            "foo",
            80,
        ),
        // ingress-path-matching.md, "Path Priority".
        ing("test-ingress-1", 1)
            .rule("priority.test", "/foo/bar", "Prefix", "service1", 80)
            .rule("priority.test", "/foo/bar/", "Prefix", "service2", 80),
        rewrite(ing("test-ingress-2", 2), "/$1").rule(
            "priority.test",
            "/foo/bar/(.+)",
            "ImplementationSpecific",
            "service3",
            80,
        ),
        // ingress-path-matching.md, "Warning".
        regex(ing("test-ingress-3", 3))
            .rule("warning.test", "/foo/bar/bar", "Prefix", "literal", 80)
            .rule(
                "warning.test",
                "/foo/bar/[A-Z0-9]{3}",
                "ImplementationSpecific",
                "pattern",
                80,
            ),
        // rewrite.go, "should use ~* location modifier if regex annotation is present".
        ing("foo", 4).rule("modifier.test", "/foo", "Prefix", "plain", 80),
        rewrite(regex(ing("regex", 5)), "/new/backend").rule(
            "modifier.test",
            "/foo.+",
            "ImplementationSpecific",
            "regex",
            80,
        ),
        // rewrite.go, "should use correct longest path match".
        ing("kube-lego", 6).rule(
            "longest.test",
            "/.well-known/acme/challenge",
            "Prefix",
            "plain",
            80,
        ),
        rewrite(ing("rewrite-index", 7), "/new/backend").rule(
            "longest.test",
            "/",
            "Prefix",
            "regex",
            80,
        ),
        // ingress-path-matching.md, "Important notes": Exact paths become regexes too.
        ing("exact", 8).rule("exact.test", "/exact", "Exact", "exact", 80),
        regex(ing("exact-neighbour", 9))
            .rule(
                "exact.test",
                "/other/[0-9]+",
                "ImplementationSpecific",
                "regex",
                80,
            )
            .rule(
                "exact.test",
                "/bad(?=lookahead)",
                "ImplementationSpecific",
                "regex",
                80,
            )
            .rule(
                "exact.test",
                "/(a+)+$",
                "ImplementationSpecific",
                "regex",
                80,
            ),
        // ingress-nginx PR #3182 (issues #3155, #3579): braces in a regex path reach PCRE,
        // which reads a `{` that is not a repetition as a literal.
        regex(ing("braces", 10))
            .rule(
                "braces.test",
                "/users/{id}",
                "ImplementationSpecific",
                "literal",
                80,
            )
            .rule(
                "braces.test",
                "/users/[0-9]{2}$",
                "ImplementationSpecific",
                "pattern",
                80,
            ),
    ]
}

async fn scene(keep_exact: bool) -> Scene {
    let mut echoes = Vec::new();
    let mut items = vec![our_class()];
    for (i, name) in SERVICES.iter().enumerate() {
        let last = u8::try_from(i + 2).expect("few services");
        let echo = Echo::start(name, [127, 0, 0, last], 0).await;
        items.extend(backend("default", name, &[echo.addr]));
        echoes.push(echo);
    }
    items.extend(ingresses().into_iter().map(IngressB::build));
    let manifests = Manifests::new();
    manifests.write_list("regex.json", &items);
    let mut cfg = config(manifests.path());
    cfg.compile.regex_keep_exact_paths = keep_exact;
    let running = strait_controller::serve::start(cfg).await.expect("starts");
    Scene {
        running,
        _manifests: manifests,
        _echoes: echoes,
    }
}

/// What a case expects.
#[derive(Debug)]
enum Expect {
    /// Echo `name` answers, having received `path`.
    Echo(&'static str, &'static str),
    Status(u16),
}

fn check(reply: &Reply, expect: &Expect, what: &str) {
    match expect {
        Expect::Echo(name, path) => {
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            assert_eq!(reply.echo_name().as_deref(), Some(*name), "{what}");
            assert_eq!(reply.json()["path"], *path, "{what}: path received");
        }
        Expect::Status(status) => {
            assert_eq!(reply.status, *status, "{what}: {}", reply.text());
            assert!(
                reply.echo_name().is_none(),
                "{what}: must not reach a backend"
            );
        }
    }
}

/// The cases: (where they come from, host, request path, expectation).
#[tokio::test]
async fn use_regex_matches_every_path_of_the_host_as_ingress_nginx_does() {
    use Expect::{Echo as E, Status};
    let cases: &[(&str, &str, &str, Expect)] = &[
        (
            "path-matching: regex support",
            "test.com",
            "/foo/bar",
            E("foo", "/foo/bar"),
        ),
        (
            "path-matching: case-insensitive",
            "test.com",
            "/FOO/Bar",
            E("foo", "/FOO/Bar"),
        ),
        (
            "path-matching: ^/foo/.* needs the slash",
            "test.com",
            "/foo",
            Status(404),
        ),
        (
            "path-matching: anchored at the start",
            "test.com",
            "/x/foo/bar",
            Status(404),
        ),
        (
            "path priority: capture group",
            "priority.test",
            "/foo/bar/1",
            E("service3", "/1"),
        ),
        (
            "path priority: /foo/bar",
            "priority.test",
            "/foo/bar",
            E("service1", "/foo/bar"),
        ),
        // The page says service2; since ingress-nginx's 2020 Prefix refactor
        // (updateServerLocations) Prefix /foo/bar is also `^/foo/bar/`, listed first.
        (
            "path priority: /foo/bar/",
            "priority.test",
            "/foo/bar/",
            E("service1", "/foo/bar/"),
        ),
        (
            "warning: first match, not longest literal",
            "warning.test",
            "/foo/bar/bar",
            E("pattern", "/foo/bar/bar"),
        ),
        (
            "rewrite.go: /foo matches ~* ^/foo",
            "modifier.test",
            "/foo",
            E("plain", "/foo"),
        ),
        (
            "rewrite.go: /foo/bar matches ~* ^/foo.+",
            "modifier.test",
            "/foo/bar",
            E("regex", "/new/backend"),
        ),
        (
            "rewrite.go: Prefix /foo is a string prefix now",
            "modifier.test",
            "/FOO",
            E("plain", "/FOO"),
        ),
        (
            "rewrite.go: longest path match",
            "longest.test",
            "/.well-known/acme/challenge",
            E("plain", "/.well-known/acme/challenge"),
        ),
        (
            "rewrite.go: / rewrites everything else",
            "longest.test",
            "/x?q=1",
            E("regex", "/new/backend?q=1"),
        ),
        (
            "path-matching notes: Exact is a regex too",
            "exact.test",
            "/exact/more",
            E("exact", "/exact/more"),
        ),
        (
            "path-matching notes: Exact is case-insensitive",
            "exact.test",
            "/EXACT",
            E("exact", "/EXACT"),
        ),
        (
            "regex path beside it",
            "exact.test",
            "/other/42",
            E("regex", "/other/42"),
        ),
        (
            "look-ahead is quarantined",
            "exact.test",
            "/badlookahead",
            Status(404),
        ),
        (
            "PCRE: a `{` that is not a repetition is a literal",
            "braces.test",
            "/USERS/{id}/x",
            E("literal", "/USERS/{id}/x"),
        ),
        (
            "PCRE: `{id}` is not a placeholder",
            "braces.test",
            "/users/abc",
            Status(404),
        ),
        (
            "PCRE: `{2}` beside it still repeats",
            "braces.test",
            "/users/42",
            E("pattern", "/users/42"),
        ),
        (
            "PCRE: `{2}` means exactly two",
            "braces.test",
            "/users/4",
            Status(404),
        ),
    ];
    let s = scene(false).await;
    for (what, host, path, expect) in cases {
        let reply = get(s.running.http_addr, host, path).await;
        check(&reply, expect, &format!("{what} ({host}{path})"));
    }
    // The `path` label of a regex route is the location that matched, as written.
    let labels = [
        ("namespace", "default"),
        ("ingress", "test-ingress"),
        ("service", "foo"),
        ("path", "/foo/.*"),
        ("method", "GET"),
        ("status", "200"),
    ];
    eventually("the regex route's requests to be counted", || async {
        let scrape = Scrape::of(&s.running).await;
        (scrape.get("strait_requests_total", &labels) == Some(2.0)).then_some(())
    })
    .await;
    s.running.shutdown().await.expect("shutdown");
}

/// `--regex-keep-exact-paths`: `Exact` stays exact (and case-sensitive) on a regex host, tried
/// before the regexes as nginx's `location =`; a pattern that is catastrophic for a
/// backtracking engine answers at once.
#[tokio::test]
async fn keep_exact_paths_and_no_catastrophic_backtracking() {
    let s = scene(true).await;
    let addr = s.running.http_addr;
    check(
        &get(addr, "exact.test", "/exact").await,
        &Expect::Echo("exact", "/exact"),
        "exact",
    );
    for path in ["/exact/more", "/EXACT"] {
        check(
            &get(addr, "exact.test", path).await,
            &Expect::Status(404),
            path,
        );
    }
    // `^/(a+)+$` against /aaa…ab: exponential for PCRE, linear here.
    let long = format!("/{}b", "a".repeat(4000));
    let started = Instant::now();
    check(
        &get(addr, "exact.test", &long).await,
        &Expect::Status(404),
        "(a+)+$",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let matching = format!("/{}", "a".repeat(4000));
    check(
        &get(addr, "exact.test", &matching).await,
        &Expect::Echo("regex", matching.clone().leak()),
        "(a+)+$ matching",
    );
    s.running.shutdown().await.expect("shutdown");
}
