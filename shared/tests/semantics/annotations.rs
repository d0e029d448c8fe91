//! Annotations through the registry (docs/architecture.md, "Annotations"): never fail open,
//! never silent. ingress-nginx refuses an Ingress carrying a Critical-risk key (snippets) at
//! its default `annotations-risk-level: High` (annotations-risk.md; cli-arguments/configmap
//! `allow-snippet-annotations: false`); Strait does the same, and also refuses the routes of
//! an Ingress whose security annotation it does not enforce.

use strait_shared::config::UnsupportedSecurity;
use strait_shared::{Reason, Refusal, RouteTable, Severity};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// The refusal of the route for `host` + `path`; panics when nothing matches.
fn refusal(table: &RouteTable, host: &str, path: &str) -> Option<Refusal> {
    table
        .lookup(host, path)
        .unwrap_or_else(|| panic!("{host}{path} matches a route"))
        .route
        .options
        .refused
}

/// `default/guarded` on `a.example.com` with `key: value`, and a neighbour `default/open` on
/// `b.example.com`.
fn guarded_world(key: &str, value: &str) -> World {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/{key}"), value)
            .default_backend("web", 80)
            .build(),
    );
    world.apply(simple("default", "open", "b.example.com"));
    web_service(&mut world, "default");
    world
}

#[test]
fn every_unenforced_security_key_refuses_its_ingress_routes_and_only_those() {
    // docs/architecture.md, "Annotations": WAF and the removed global rate limit (source
    // lists, basic and external auth with auth-proxy-set-headers, satisfy, body size, client
    // certificates and the limit-* keys are enforced: access_*, external_auth_headers,
    // client_auth and limits tests).
    for (key, value) in [
        ("enable-owasp-core-rules", "true"),
        ("enable-modsecurity", "true"),
        ("global-rate-limit", "100"),
    ] {
        let world = guarded_world(key, value);
        let compiled = world.compile();
        let table = &compiled.table;
        assert_eq!(
            refusal(table, "a.example.com", "/"),
            Some(Refusal::UnsupportedSecurityAnnotation),
            "{key}"
        );
        assert_eq!(
            table.default_backend().expect("set").options.refused,
            Some(Refusal::UnsupportedSecurityAnnotation),
            "{key}: the default backend of the Ingress is refused too"
        );
        assert_eq!(
            refusal(table, "b.example.com", "/"),
            None,
            "{key}: neighbour"
        );
        let found = with_reason(&compiled, Reason::UnsupportedAnnotation);
        assert_eq!(found.len(), 1, "{key}: {found:?}");
        assert!(
            found[0].starts_with(&format!("Ingress default/app: {NGINX}/{key}: security")),
            "{key}: {found:?}"
        );
        let d = compiled
            .diagnostics
            .iter()
            .find(|d| d.reason == Reason::UnsupportedAnnotation)
            .expect("diagnostic");
        assert_eq!(d.severity, Severity::Error);
    }
}

#[test]
fn inert_security_values_restrict_nothing_and_serve() {
    // `0` is no limit for limit-rps and proxy-body-size in nginx; `off` turns client
    // certificates off; `false` turns ModSecurity off.
    for (key, value) in [
        ("limit-rps", "0"),
        ("proxy-body-size", "0"),
        ("proxy-body-size", "0m"),
        ("auth-tls-verify-client", "off"),
        ("enable-modsecurity", "false"),
    ] {
        let world = guarded_world(key, value);
        let compiled = world.compile();
        assert_eq!(
            refusal(&compiled.table, "a.example.com", "/"),
            None,
            "{key}: {value}"
        );
    }
}

#[test]
fn an_unparsable_security_value_refuses_like_a_missing_control() {
    for (key, value) in [
        ("enable-owasp-core-rules", "maybe"),
        ("enable-modsecurity", "maybe"),
    ] {
        let world = guarded_world(key, value);
        assert_eq!(
            refusal(&world.table(), "a.example.com", "/"),
            Some(Refusal::UnsupportedSecurityAnnotation),
            "{key}: {value:?}"
        );
    }
    // An enforced key whose value does not parse refuses too, for its own reason.
    for (key, value) in [
        ("proxy-body-size", ""),
        ("whitelist-source-range", "10.0.0.0/33"),
        ("limit-rps", "ten"),
        ("limit-connections", "-1"),
    ] {
        let world = guarded_world(key, value);
        assert_eq!(
            refusal(&world.table(), "a.example.com", "/"),
            Some(Refusal::InvalidSecurityAnnotation),
            "{key}: {value:?}"
        );
    }
}

#[test]
fn serve_mode_serves_unenforced_security_keys_with_a_warning() {
    let mut world = guarded_world("enable-modsecurity", "true");
    world.config.unsupported_security = UnsupportedSecurity::Serve;
    let compiled = world.compile();
    assert_eq!(refusal(&compiled.table, "a.example.com", "/"), None);
    let d = compiled
        .diagnostics
        .iter()
        .find(|d| d.reason == Reason::UnsupportedAnnotation)
        .expect("still reported");
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("served WITHOUT them"), "{}", d.message);
}

#[test]
fn a_snippet_refuses_the_whole_ingress_in_either_mode() {
    for mode in [UnsupportedSecurity::Refuse, UnsupportedSecurity::Serve] {
        let mut world = guarded_world("configuration-snippet", "deny all;");
        world.config.unsupported_security = mode;
        let compiled = world.compile();
        assert_eq!(
            refusal(&compiled.table, "a.example.com", "/"),
            Some(Refusal::SnippetAnnotation)
        );
        assert_eq!(refusal(&compiled.table, "b.example.com", "/"), None);
        let found = with_reason(&compiled, Reason::RefusedAnnotation);
        assert_eq!(
            found,
            [format!(
                "Ingress default/app: {NGINX}/configuration-snippet: snippet annotations are nginx configuration text, which Strait never executes; every route of this Ingress answers 503"
            )]
        );
    }
}

#[test]
fn a_refused_ingress_still_holds_its_claims() {
    // The refused route answers 503; it does not fall through to a younger Ingress's claim of
    // the same host and path (that would serve what the snippet or auth guarded).
    let mut world = World::new();
    world.apply(
        app()
            .created("2024-01-01T00:00:00Z")
            .annotation(&format!("{NGINX}/enable-modsecurity"), "true")
            .build(),
    );
    world.apply(
        Ing::new("default", "younger")
            .created("2024-06-01T00:00:00Z")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    let table = world.table();
    assert_eq!(
        owner(&table, "a.example.com", "/").as_deref(),
        Some("default/app")
    );
    assert_eq!(
        refusal(&table, "a.example.com", "/"),
        Some(Refusal::UnsupportedSecurityAnnotation)
    );
}

#[test]
fn canary_false_is_an_ordinary_ingress() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/canary"), "false")
            .build(),
    );
    assert_eq!(
        owner(&world.table(), "a.example.com", "/").as_deref(),
        Some("default/app")
    );
}

#[test]
fn non_security_keys_not_enforced_are_reported_per_ingress_and_served() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/proxy-cookie-path"), "/one /two")
            .annotation(&format!("{NGINX}/proxy-cookie-domain"), "a.test b.test")
            .annotation(&format!("{NGINX}/proxy-buffering"), "on")
            .annotation(&format!("{NGINX}/server-snipets"), "x")
            .annotation(&format!("{NGINX}/use-forwarded-headers"), "true")
            .build(),
    );
    web_service(&mut world, "default");
    let compiled = world.compile();
    assert_eq!(refusal(&compiled.table, "a.example.com", "/"), None);
    assert_eq!(
        with_reason(&compiled, Reason::UnsupportedAnnotation),
        [format!(
            "Ingress default/app: {NGINX}/proxy-cookie-domain, {NGINX}/proxy-cookie-path: not implemented yet; no effect"
        )]
    );
    assert_eq!(
        with_reason(&compiled, Reason::IgnoredAnnotation),
        [format!(
            "Ingress default/app: {NGINX}/proxy-buffering: ignored (no effect on traffic)"
        )]
    );
    assert_eq!(
        with_reason(&compiled, Reason::UnknownAnnotation),
        [format!(
            "Ingress default/app: unknown annotations, no effect: {NGINX}/server-snipets (did you mean {NGINX}/server-snippet?); {NGINX}/use-forwarded-headers"
        )]
    );
    assert!(
        compiled
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
}

#[test]
fn honoured_keys_raise_no_diagnostic() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/ssl-redirect"), "false")
            .annotation(&format!("{NGINX}/enable-access-log"), "true")
            .annotation("strait.dev/backend-mode", "pod")
            .annotation("example.com/owner", "team-a")
            .build(),
    );
    web_service(&mut world, "default");
    let compiled = world.compile();
    assert_eq!(compiled.diagnostics, []);
    let report = &compiled.ingresses[0];
    assert_eq!(
        report.findings.len(),
        3,
        "other prefixes are not ours to judge"
    );
}

#[test]
fn the_annotations_prefix_flag_moves_the_nginx_keys() {
    // ingress-nginx's --annotations-prefix (cli-arguments.md).
    let mut world = World::new();
    world.config.annotations_prefix = "ingress.kubernetes.io".to_owned();
    world.apply(
        app()
            .annotation("ingress.kubernetes.io/enable-modsecurity", "true")
            .annotation(&format!("{NGINX}/configuration-snippet"), "deny all;")
            .build(),
    );
    let compiled = world.compile();
    assert_eq!(
        refusal(&compiled.table, "a.example.com", "/"),
        Some(Refusal::UnsupportedSecurityAnnotation),
        "keys under another prefix are not ours: only enable-modsecurity counts"
    );
    assert!(with_reason(&compiled, Reason::RefusedAnnotation).is_empty());
}

#[test]
fn ingresses_of_other_classes_are_reported_but_not_judged() {
    let mut world = World::new();
    world.apply(
        app()
            .class(Some("other"))
            .annotation(&format!("{NGINX}/auth-type"), "basic")
            .build(),
    );
    let compiled = world.compile();
    assert_eq!(compiled.diagnostics, []);
    assert_eq!(compiled.ingresses.len(), 1);
    assert!(!compiled.ingresses[0].ours);
    assert_eq!(compiled.ingresses[0].findings.len(), 1);
}

/// The timeout and retry keys of "Custom timeouts" (annotations.md), read as ingress-nginx's
/// e2e tests set them (test/e2e/annotations/proxy.go "should set valid proxy timeouts",
/// "should build proxy next upstream").
#[test]
fn upstream_timeouts_and_retries_are_read_per_ingress() {
    use std::time::Duration;
    use strait_shared::table::{NextUpstream, Retries};
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/proxy-send-timeout"), "5")
            .annotation(
                &format!("{NGINX}/proxy-next-upstream"),
                "error timeout http_502",
            )
            .annotation(&format!("{NGINX}/proxy-next-upstream-timeout"), "999999")
            .annotation(&format!("{NGINX}/proxy-next-upstream-tries"), "888888")
            .build(),
    );
    web_service(&mut world, "default");
    let compiled = world.compile();
    assert_eq!(compiled.diagnostics, []);
    let options = &compiled
        .table
        .lookup("a.example.com", "/")
        .unwrap()
        .route
        .options;
    let timeouts = options.timeouts.as_deref().expect("set");
    assert_eq!(timeouts.send, Some(Duration::from_secs(5)));
    assert_eq!(
        options.retries.as_deref(),
        Some(&Retries {
            next_upstream: NextUpstream::parse("error timeout http_502"),
            tries: Some(888_888),
            timeout: Some(Duration::from_secs(999_999)),
        })
    );
}

/// An invalid value is reported and the global default applies (ingress-nginx's
/// "should not set invalid proxy timeouts"): none of these keys restricts access, so the
/// route is served.
#[test]
fn invalid_timeout_and_retry_values_keep_the_defaults_with_a_warning() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/proxy-send-timeout"), "5s")
            .annotation(&format!("{NGINX}/proxy-next-upstream"), "error,timeout")
            .annotation(&format!("{NGINX}/proxy-next-upstream-timeout"), "1m")
            .annotation(&format!("{NGINX}/proxy-next-upstream-tries"), "-1")
            .build(),
    );
    web_service(&mut world, "default");
    let compiled = world.compile();
    let options = &compiled
        .table
        .lookup("a.example.com", "/")
        .unwrap()
        .route
        .options;
    assert_eq!(options.refused, None);
    assert_eq!(options.timeouts, None);
    assert_eq!(options.retries, None);
    let invalid = with_reason(&compiled, Reason::InvalidAnnotation);
    assert_eq!(invalid.len(), 4, "{invalid:?}");
    for key in [
        "proxy-send-timeout",
        "proxy-next-upstream",
        "proxy-next-upstream-timeout",
        "proxy-next-upstream-tries",
    ] {
        let prefix = format!("Ingress default/app: {NGINX}/{key}: ");
        assert!(
            invalid.iter().any(|m| m.starts_with(&prefix)),
            "{key}: {invalid:?}"
        );
    }
    assert!(
        compiled
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
}
