//! docs/architecture.md, "Redirects": plain HTTP to a TLS host redirects to HTTPS unless the owning
//! Ingress opts out; `force-ssl-redirect` redirects any host of its Ingress.

use strait_shared::Reason;

use crate::certs::*;
use crate::support::*;

#[test]
fn redirect_for_tls_host_by_default() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_ingress("app", &["a.example.com"], None).build());
    world.apply(
        tls_ingress("wild", &["*.example.com"], None)
            .rule("b.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    let table = world.table();
    assert!(redirects(&table, "a.example.com", "/"));
    assert!(redirects(&table, "c.example.com", "/"));
    // An exact host under a one-label wildcard TLS entry is a TLS host too.
    assert!(redirects(&table, "b.example.com", "/"));
}

#[test]
fn redirect_opt_out_ssl_redirect_false() {
    let mut world = World::new();
    world.apply(
        tls_ingress("app", &["a.example.com"], None)
            .annotation("nginx.ingress.kubernetes.io/ssl-redirect", "false")
            .build(),
    );
    assert!(!redirects(&world.table(), "a.example.com", "/"));
}

#[test]
fn strait_ssl_redirect_annotation_wins() {
    let mut world = World::new();
    world.apply(
        tls_ingress("app", &["a.example.com"], None)
            .annotation("nginx.ingress.kubernetes.io/ssl-redirect", "true")
            .annotation("strait.dev/ssl-redirect", "false")
            .build(),
    );
    assert!(!redirects(&world.table(), "a.example.com", "/"));
    world.apply(
        tls_ingress("app", &["a.example.com"], None)
            .annotation("nginx.ingress.kubernetes.io/ssl-redirect", "false")
            .annotation("strait.dev/ssl-redirect", "true")
            .build(),
    );
    assert!(redirects(&world.table(), "a.example.com", "/"));
}

#[test]
fn invalid_redirect_annotation_warns_and_defaults() {
    let mut world = World::new();
    world.apply(
        tls_ingress("app", &["a.example.com"], None)
            .annotation("nginx.ingress.kubernetes.io/ssl-redirect", "nope")
            .annotation("strait.dev/force-ssl-redirect", "yes")
            .build(),
    );
    let compiled = world.compile();
    assert_eq!(with_reason(&compiled, Reason::InvalidAnnotation).len(), 2);
    assert!(redirects(&compiled.table, "a.example.com", "/"));
}

#[test]
fn force_ssl_redirect_without_tls() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .annotation("nginx.ingress.kubernetes.io/force-ssl-redirect", "true")
            .build(),
    );
    assert!(redirects(&world.table(), "a.example.com", "/"));
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .annotation("nginx.ingress.kubernetes.io/force-ssl-redirect", "true")
            .annotation("strait.dev/force-ssl-redirect", "false")
            .build(),
    );
    assert!(!redirects(&world.table(), "a.example.com", "/"));
}

#[test]
fn no_redirect_for_hosts_without_tls() {
    let mut world = World::new();
    world.apply(tls_ingress("app", &["a.example.com"], None).build());
    world.apply(simple("default", "plain", "b.example.com"));
    world.apply(simple("default", "deep", "x.a.example.com"));
    let table = world.table();
    assert!(!redirects(&table, "b.example.com", "/"));
    assert!(!redirects(&table, "x.a.example.com", "/"));
}

#[test]
fn redirect_decided_by_owning_ingress_annotation() {
    let mut world = World::new();
    world.apply(tls_ingress("a", &["a.example.com"], None).build());
    world.apply(
        Ing::new("default", "b")
            .rule("a.example.com", vec![path("Prefix", "/b", "web", 80)])
            .annotation("nginx.ingress.kubernetes.io/ssl-redirect", "false")
            .build(),
    );
    let table = world.table();
    assert!(redirects(&table, "a.example.com", "/"));
    assert!(!redirects(&table, "a.example.com", "/b/x"));
}

#[test]
fn hostless_rules_redirect_only_when_forced() {
    let mut world = World::new();
    world.apply(
        Ing::new("default", "catchall")
            .rule("", vec![path("Prefix", "/", "web", 80)])
            .tls(&[], None)
            .build(),
    );
    world.apply(
        Ing::new("default", "fallback")
            .default_backend("web", 80)
            .tls(&["a.example.com"], None)
            .build(),
    );
    let table = world.table();
    assert!(!redirects(&table, "other.org", "/"));
    assert!(!table.default_backend().expect("set").options.https_redirect);

    world.apply(
        Ing::new("default", "catchall")
            .rule("", vec![path("Prefix", "/", "web", 80)])
            .annotation("strait.dev/force-ssl-redirect", "true")
            .build(),
    );
    assert!(redirects(&world.table(), "other.org", "/"));
}

/// A redirect URL or upstream vhost that ingress-nginx's validators reject (a `$` variable, a
/// non-http scheme) is reported once per key and has no effect; valid ones land on every route
/// of the Ingress.
#[test]
fn route_redirects_and_upstream_hosts_are_checked_at_build() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(
        Ing::new("default", "bad")
            .rule("bad.example.com", vec![path("Prefix", "/", "web", 80)])
            .annotation(
                "nginx.ingress.kubernetes.io/permanent-redirect",
                "https://x.example$request_uri",
            )
            .annotation(
                "nginx.ingress.kubernetes.io/temporal-redirect",
                "ftp://x.example",
            )
            .annotation("nginx.ingress.kubernetes.io/upstream-vhost", "$host")
            .build(),
    );
    world.apply(
        Ing::new("default", "good")
            .rule(
                "good.example.com",
                vec![
                    path("Prefix", "/", "web", 80),
                    path("Exact", "/x", "web", 80),
                ],
            )
            .annotation(
                "nginx.ingress.kubernetes.io/permanent-redirect",
                "https://new.example/",
            )
            .annotation("nginx.ingress.kubernetes.io/permanent-redirect-code", "x")
            .annotation(
                "nginx.ingress.kubernetes.io/upstream-vhost",
                "internal.example:8080",
            )
            .build(),
    );
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::InvalidAnnotation);
    assert_eq!(invalid.len(), 4, "{invalid:?}");
    for key in [
        "permanent-redirect",
        "temporal-redirect",
        "upstream-vhost",
        "permanent-redirect-code",
    ] {
        assert!(
            invalid.iter().any(|m| m.contains(key)),
            "{key}: {invalid:?}"
        );
    }
    let bad = compiled.table.lookup("bad.example.com", "/").unwrap().route;
    assert_eq!(bad.options.redirect, None);
    assert_eq!(bad.options.upstream_host, None);
    for p in ["/", "/x"] {
        let good = compiled.table.lookup("good.example.com", p).unwrap().route;
        let redirect = good.options.redirect.as_deref().expect("redirect");
        assert_eq!(
            (&*redirect.location, redirect.code),
            ("https://new.example/", 301)
        );
        assert_eq!(
            good.options.upstream_host.as_ref().unwrap(),
            "internal.example:8080"
        );
    }
}
