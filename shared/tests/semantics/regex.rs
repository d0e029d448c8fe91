//! Regex paths and rewrites (docs/architecture.md, "Regex paths and rewrites"), as ingress-nginx
//! builds them: docs/user-guide/ingress-path-matching.md, annotations.md "Use Regex" and
//! "Rewrite", internal/ingress/controller/template/template.go (`enforceRegexModifier`,
//! `buildLocation`, `needsRewrite`) and internal/ingress/controller/location.go
//! (`updateServerLocations`).

use strait_shared::{CompileConfig, Reason};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";
const HOST: &str = "test.com";

fn regex(ing: Ing) -> Ing {
    ing.annotation(&format!("{NGINX}/use-regex"), "true")
}

fn rewrite(ing: Ing, target: &str) -> Ing {
    ing.annotation(&format!("{NGINX}/rewrite-target"), target)
}

/// The Service that serves `HOST` + `request`, if any.
fn service(world: &World, request: &str) -> Option<String> {
    world
        .table()
        .lookup(HOST, request)
        .map(|m| m.backend.service.service.name.clone())
}

fn world(ingresses: Vec<Ing>) -> World {
    let mut world = World::new();
    for (i, ing) in ingresses.into_iter().enumerate() {
        world.apply(
            ing.created(&format!("2024-01-0{}T00:00:00Z", i + 1))
                .build(),
        );
    }
    world
}

/// annotations.md, "Use Regex": once an Ingress for a host sets `use-regex`, every path of
/// that host, from every Ingress, is a case-insensitive regex anchored at the start only — a
/// plain `Prefix /foo` then matches `/FOOBAR`. Other hosts keep Kubernetes semantics.
#[test]
fn use_regex_on_one_ingress_makes_every_path_of_its_host_a_regex() {
    let plain = Ing::new("default", "plain")
        .rule(HOST, vec![path("Prefix", "/foo", "plain", 80)])
        .rule("other.com", vec![path("Prefix", "/foo", "plain", 80)]);
    let regexed = regex(Ing::new("default", "regex")).rule(
        HOST,
        vec![path("ImplementationSpecific", "/bar/[0-9]+", "rx", 80)],
    );
    let w = world(vec![plain, regexed]);
    assert_eq!(service(&w, "/FOOBAR").as_deref(), Some("plain"));
    assert_eq!(service(&w, "/Bar/42/x").as_deref(), Some("rx"));
    assert_eq!(service(&w, "/bar/x"), None);
    assert!(owner(&w.table(), "other.com", "/FOOBAR").is_none());
    assert!(owner(&w.table(), "other.com", "/foobar").is_none());
    assert!(owner(&w.table(), "other.com", "/foo/x").is_some());
}

/// annotations.md, "Use Regex": `rewrite-target` alone turns regex on for the host (the
/// census in NGINX-COMPAT.md found 9 Ingresses relying on it); a target equal to the path is
/// no rewrite and turns nothing on (template.go `needsRewrite`).
#[test]
fn rewrite_target_alone_turns_regex_on_unless_it_equals_the_path() {
    let w = world(vec![rewrite(Ing::new("default", "rw"), "/$1").rule(
        HOST,
        vec![path("ImplementationSpecific", "/api/(.*)", "api", 80)],
    )]);
    assert_eq!(service(&w, "/API/users").as_deref(), Some("api"));
    let m = w.table();
    let found = m.lookup(HOST, "/api/users").expect("matches");
    assert!(found.route.options.rewrite.is_some());
    assert_eq!(found.pattern, Some("/api/(.*)"));

    let same = world(vec![
        rewrite(Ing::new("default", "same"), "/api")
            .rule(HOST, vec![path("Prefix", "/api", "api", 80)]),
    ]);
    assert_eq!(service(&same, "/API"), None, "plain Prefix, case-sensitive");
    let found = same.table();
    let found = found.lookup(HOST, "/api/x").expect("matches");
    assert!(found.route.options.rewrite.is_none());
    assert_eq!(found.pattern, None);
}

/// ingress-path-matching.md, "Important notes": `Exact` paths become regexes too (`^/exact`
/// matches `/exact/more`), unless `--regex-keep-exact-paths` keeps them exact, tried before the
/// regexes as nginx's `location =` is.
#[test]
fn exact_paths_become_regexes_unless_kept_exact() {
    let ingresses = || {
        vec![
            Ing::new("default", "exact").rule(HOST, vec![path("Exact", "/exact", "exact", 80)]),
            regex(Ing::new("default", "regex")).rule(
                HOST,
                vec![path("ImplementationSpecific", "/exact.*", "rx", 80)],
            ),
        ]
    };
    let w = world(ingresses());
    assert_eq!(
        service(&w, "/exact").as_deref(),
        Some("rx"),
        "longer regex first"
    );
    assert_eq!(service(&w, "/exactly").as_deref(), Some("rx"));

    let mut kept = world(ingresses());
    kept.config = CompileConfig {
        regex_keep_exact_paths: true,
        ..CompileConfig::default()
    };
    assert_eq!(service(&kept, "/exact").as_deref(), Some("exact"));
    assert_eq!(service(&kept, "/EXACT").as_deref(), Some("rx"));
    assert_eq!(service(&kept, "/exact/more").as_deref(), Some("rx"));
}

/// ingress-path-matching.md, "Path Priority": `/foo/bar/1` goes to the capture-group path of the
/// rewriting Ingress, `/foo/bar` to service1. The page says `/foo/bar/` goes to service2; that
/// text predates ingress-nginx's Prefix refactor (2020, location.go `updateServerLocations`),
/// which turns a plain `Prefix /foo/bar` into `/foo/bar/` and `= /foo/bar`, so service1's
/// `^/foo/bar/` comes first and takes it, as ingress-nginx does today.
#[test]
fn the_path_priority_example() {
    let first = Ing::new("default", "test-ingress-1").rule(
        HOST,
        vec![
            path("Prefix", "/foo/bar", "service1", 80),
            path("Prefix", "/foo/bar/", "service2", 80),
        ],
    );
    let second = rewrite(Ing::new("default", "test-ingress-2"), "/$1").rule(
        HOST,
        vec![path(
            "ImplementationSpecific",
            "/foo/bar/(.+)",
            "service3",
            80,
        )],
    );
    let w = world(vec![first, second]);
    assert_eq!(service(&w, "/foo/bar/1").as_deref(), Some("service3"));
    assert_eq!(service(&w, "/foo/bar").as_deref(), Some("service1"));
    assert_eq!(service(&w, "/foo/bar/").as_deref(), Some("service1"));
    assert!(
        with_reason(&w.compile(), Reason::Conflict).is_empty(),
        "/foo/bar and /foo/bar/ are two locations on a regex host"
    );
    let table = w.table();
    let label = table.lookup(HOST, "/foo/bar").and_then(|m| m.pattern);
    assert_eq!(label, Some("/foo/bar"), "the exact copy's location");
}

/// ingress-path-matching.md, "Warning": `/foo/bar/bar` goes to `^/foo/bar/[A-Z0-9]{3}`, the
/// first location that matches, not to the longest literal path.
#[test]
fn the_warning_example() {
    let w = world(vec![regex(Ing::new("default", "test-ingress-3")).rule(
        HOST,
        vec![
            path("Prefix", "/foo/bar/bar", "literal", 80),
            path(
                "ImplementationSpecific",
                "/foo/bar/[A-Z0-9]{3}",
                "pattern",
                80,
            ),
        ],
    )]);
    assert_eq!(service(&w, "/foo/bar/bar").as_deref(), Some("pattern"));
    assert_eq!(service(&w, "/foo/bar/ba").as_deref(), None);
}

/// A path the engine cannot compile (here PCRE's look-ahead) is quarantined alone, with an
/// Error naming it; the Ingress's other paths are served.
#[test]
fn an_invalid_regex_quarantines_only_its_path() {
    let w = world(vec![regex(Ing::new("default", "rx")).rule(
        HOST,
        vec![
            path("ImplementationSpecific", "/ok/.*", "ok", 80),
            path("ImplementationSpecific", "/bad(?=x)", "bad", 80),
        ],
    )]);
    let compiled = w.compile();
    let errors = with_reason(&compiled, Reason::InvalidPath);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("/bad(?=x)") && errors[0].contains("look-around"),
        "{errors:?}"
    );
    assert_eq!(service(&w, "/ok/1").as_deref(), Some("ok"));
    assert_eq!(service(&w, "/badx"), None);
}

/// A rewrite target with an nginx variable is an Error; the paths it would rewrite are not
/// served, the host still matches by regex.
#[test]
fn an_unsupported_rewrite_target_quarantines_the_rewritten_paths() {
    let w = world(vec![
        rewrite(Ing::new("default", "vars"), "/$host/$1").rule(
            HOST,
            vec![path("ImplementationSpecific", "/v/(.*)", "vars", 80)],
        ),
        Ing::new("default", "plain").rule(HOST, vec![path("Prefix", "/p", "plain", 80)]),
    ]);
    let compiled = w.compile();
    let errors = with_reason(&compiled, Reason::InvalidAnnotation);
    assert!(
        errors.iter().any(|e| e.contains("nginx variable")),
        "{errors:?}"
    );
    assert_eq!(service(&w, "/v/x"), None);
    assert_eq!(service(&w, "/P/x").as_deref(), Some("plain"), "regex host");
}

/// annotations.md, "Rewrite" (app-root): `/` of the Ingress's hosts redirects; a different
/// app-root from a younger Ingress for the same host is reported and not used.
#[test]
fn app_root_belongs_to_the_host_and_the_oldest_ingress_wins() {
    let root = |ing: Ing, value: &str| ing.annotation(&format!("{NGINX}/app-root"), value);
    let w = world(vec![
        root(Ing::new("default", "first"), "/app1")
            .rule(HOST, vec![path("Prefix", "/", "web", 80)]),
        root(Ing::new("default", "second"), "/app2")
            .rule(HOST, vec![path("Prefix", "/other", "other", 80)]),
        Ing::new("default", "third").rule("plain.com", vec![path("Prefix", "/", "web", 80)]),
    ]);
    let table = w.table();
    for request in ["/", "/other"] {
        let m = table.lookup(HOST, request).expect("matches");
        assert_eq!(
            m.route.options.app_root.as_deref(),
            Some("/app1"),
            "{request}"
        );
    }
    let plain = table.lookup("plain.com", "/").expect("matches");
    assert_eq!(plain.route.options.app_root, None);
    let conflicts = with_reason(&w.compile(), Reason::Conflict);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert!(conflicts[0].contains("default/second") && conflicts[0].contains("/app1"));
}

/// `x-forwarded-prefix` rides with the rewrite only (template.go `buildProxyPass`).
#[test]
fn the_forwarded_prefix_needs_a_rewrite() {
    let prefix = |ing: Ing| ing.annotation(&format!("{NGINX}/x-forwarded-prefix"), "/$1");
    let w = world(vec![
        prefix(rewrite(Ing::new("default", "rw"), "/$2")).rule(
            HOST,
            vec![path("ImplementationSpecific", "/(app)/(.*)", "rw", 80)],
        ),
        prefix(Ing::new("default", "plain"))
            .rule("plain.com", vec![path("Prefix", "/", "web", 80)]),
    ]);
    let table = w.table();
    let m = table.lookup(HOST, "/app/x").expect("matches");
    let applied = m
        .route
        .options
        .rewrite
        .as_ref()
        .expect("rewrite")
        .apply("/app/x");
    assert_eq!(applied.path, "/x");
    assert_eq!(applied.forwarded_prefix.as_deref(), Some("/app"));
    let plain = table.lookup("plain.com", "/x").expect("matches");
    assert!(plain.route.options.rewrite.is_none());
}
