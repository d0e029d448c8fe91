//! docs/architecture.md, "TLS": certificates chosen by SNI from `spec.tls`, and the default
//! certificate. Certificates are generated per test (see `certs`); redirects are in `redirects`.

use strait_shared::{Kind, ObjectKey, Reason, Severity};

use crate::certs::*;
use crate::support::*;

/// Service `web`, and Ingress `default/app` serving `hosts` with `spec.tls` for them from
/// Secret `app-tls`.
fn world_with(hosts: &[&str], cert: &TestCert) -> World {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_secret("default", "app-tls", cert));
    world.apply(tls_ingress("app", hosts, Some("app-tls")).build());
    world
}

#[test]
fn tls_exact_host_gets_its_certificate() {
    let a = cert(&["a.example.com"]);
    let world = world_with(&["a.example.com"], &a);
    let compiled = world.compile();
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let table = &compiled.table;
    assert_eq!(
        served_cert(table, Some("a.example.com")),
        Some(a.der.clone())
    );
    assert_eq!(served_cert(table, Some("A.EXAMPLE.COM")), Some(a.der));
    // Nothing else is claimed, and there is no default: the proxy's own certificate.
    assert_eq!(served_cert(table, Some("b.example.com")), None);
    assert_eq!(served_cert(table, None), None);
}

#[test]
fn tls_wildcard_certificate_covers_one_label() {
    let wild = cert(&["*.example.com"]);
    let world = world_with(&["*.example.com", "a.b.example.com"], &wild);
    let compiled = world.compile();
    let table = &compiled.table;
    assert_eq!(
        served_cert(table, Some("a.example.com")),
        Some(wild.der.clone())
    );
    assert_eq!(served_cert(table, Some("example.com")), None);
    assert_eq!(served_cert(table, Some("a.b.example.com")), None);
    let not_covered = with_reason(&compiled, Reason::TlsHostNotCovered);
    assert_eq!(not_covered.len(), 1, "{not_covered:?}");
    assert!(
        not_covered[0].contains("a.b.example.com"),
        "{not_covered:?}"
    );
}

#[test]
fn tls_default_certificate_from_flag() {
    let a = cert(&["a.example.com"]);
    let fallback = cert(&["fallback.example.net"]);
    let mut world = world_with(&["a.example.com"], &a);
    world.apply(tls_secret("ingress", "default-cert", &fallback));
    world.config.default_ssl_certificate = Some(ObjectKey::new("ingress", "default-cert"));
    let compiled = world.compile();
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let table = &compiled.table;
    assert_eq!(served_cert(table, Some("a.example.com")), Some(a.der));
    assert_eq!(
        served_cert(table, Some("other.org")),
        Some(fallback.der.clone())
    );
    assert_eq!(served_cert(table, None), Some(fallback.der));
}

#[test]
fn tls_default_certificate_unusable_reported_on_secret() {
    let mut world = World::new();
    world.config.default_ssl_certificate = Some(ObjectKey::new("ingress", "default-cert"));
    let compiled = world.compile();
    assert_eq!(
        with_reason(&compiled, Reason::TlsSecretMissing),
        [
            "Secret ingress/default-cert: --default-ssl-certificate ingress/default-cert: not \
          found; the generated self-signed certificate is served instead"
        ]
    );
    world.apply(tls_secret_raw("ingress", "default-cert", "junk", "junk"));
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::TlsSecretInvalid);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert!(
        invalid[0].starts_with("Secret ingress/default-cert: "),
        "{invalid:?}"
    );
    assert_eq!(compiled.table.tls().default_certificate(), None);
}

#[test]
fn tls_missing_secret_falls_back_with_diagnostic() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_ingress("app", &["a.example.com"], Some("app-tls")).build());
    let compiled = world.compile();
    assert_eq!(
        with_reason(&compiled, Reason::TlsSecretMissing),
        [
            "Ingress default/app: TLS Secret default/app-tls: not found; the default certificate \
          is served for a.example.com"
        ]
    );
    assert_eq!(served_cert(&compiled.table, Some("a.example.com")), None);
    // Routing is unaffected, and the host still counts as TLS.
    assert!(redirects(&compiled.table, "a.example.com", "/"));
}

#[test]
fn tls_hosts_without_secret_name_get_default_certificate() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_ingress("app", &["a.example.com"], None).build());
    let compiled = world.compile();
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    assert!(compiled.table.tls().is_empty());
    assert!(redirects(&compiled.table, "a.example.com", "/"));
}

#[test]
fn tls_broken_key_rejected_names_ingress_and_secret() {
    let a = cert(&["a.example.com"]);
    let other = cert(&["a.example.com"]);
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_secret_raw("default", "app-tls", &a.chain, &other.key));
    world.apply(tls_ingress("app", &["a.example.com"], Some("app-tls")).build());
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::TlsSecretInvalid);
    assert_eq!(
        invalid,
        [
            "Ingress default/app: TLS Secret default/app-tls: tls.key does not match the \
          certificate in tls.crt; the default certificate is served for a.example.com"
        ]
    );
    assert!(!invalid[0].contains("PRIVATE KEY"));
    assert_eq!(served_cert(&compiled.table, Some("a.example.com")), None);
    assert!(compiled.table.lookup("a.example.com", "/").is_some());
}

#[test]
fn tls_broken_certificate_rejected() {
    let a = cert(&["a.example.com"]);
    let broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    let mut world = World::new();
    world.apply(tls_secret_raw("default", "app-tls", broken, &a.key));
    world.apply(tls_ingress("app", &["a.example.com"], Some("app-tls")).build());
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::TlsSecretInvalid);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert!(
        invalid[0].starts_with("Ingress default/app: TLS Secret default/app-tls: tls.crt: "),
        "{invalid:?}"
    );
    assert!(compiled.table.tls().is_empty());
}

#[test]
fn tls_host_not_covered_falls_back_others_kept() {
    let a = cert(&["a.example.com"]);
    let world = world_with(&["a.example.com", "b.example.com"], &a);
    let compiled = world.compile();
    assert_eq!(
        with_reason(&compiled, Reason::TlsHostNotCovered),
        [
            "Ingress default/app: TLS host b.example.com is not among the names of Secret \
          default/app-tls's certificate (a.example.com); it gets the default certificate"
        ]
    );
    let table = &compiled.table;
    assert_eq!(served_cert(table, Some("a.example.com")), Some(a.der));
    assert_eq!(served_cert(table, Some("b.example.com")), None);
    assert!(redirects(table, "b.example.com", "/"));
}

#[test]
fn tls_expired_certificate_served_with_warning() {
    let old = expired_cert(&["a.example.com"]);
    let world = world_with(&["a.example.com"], &old);
    let compiled = world.compile();
    let expired: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == Reason::TlsCertificateExpired)
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].severity, Severity::Warning);
    assert_eq!(
        expired[0].message,
        "certificate of Secret default/app-tls expired at 2020-01-01T00:00:00Z; served anyway"
    );
    assert_eq!(
        served_cert(&compiled.table, Some("a.example.com")),
        Some(old.der)
    );
}

#[test]
fn tls_older_ingress_wins_host_certificate() {
    let first = cert(&["a.example.com"]);
    let second = cert(&["a.example.com"]);
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_secret("default", "old-tls", &first));
    world.apply(tls_secret("default", "new-tls", &second));
    let old = Ing::new("default", "old")
        .created("2020-01-01T00:00:00Z")
        .tls(&["a.example.com"], Some("old-tls"));
    let new =
        tls_ingress("new", &["a.example.com"], Some("new-tls")).created("2024-01-01T00:00:00Z");
    world.apply(new.build());
    world.apply(old.build());
    let compiled = world.compile();
    assert_eq!(
        served_cert(&compiled.table, Some("a.example.com")),
        Some(first.der)
    );
    assert_eq!(
        with_reason(&compiled, Reason::Conflict),
        [
            "Ingress default/new: TLS host a.example.com: certificate already provided by Secret \
          default/old-tls of Ingress default/old; Secret default/new-tls not used for it"
        ]
    );
}

#[test]
fn tls_same_certificate_from_two_ingresses_is_no_conflict() {
    let a = cert(&["a.example.com"]);
    let mut world = world_with(&["a.example.com"], &a);
    world.apply(tls_ingress("more", &["a.example.com"], Some("app-tls")).build());
    let compiled = world.compile();
    assert!(
        with_reason(&compiled, Reason::Conflict)
            .iter()
            .all(|d| !d.contains("TLS"))
    );
    assert_eq!(
        served_cert(&compiled.table, Some("a.example.com")),
        Some(a.der)
    );
}

#[test]
fn tls_entry_without_hosts_applies_to_covered_rule_hosts() {
    let wild = cert(&["*.example.com"]);
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(tls_secret("default", "wild-tls", &wild));
    world.apply(
        Ing::new("default", "app")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .rule("other.org", vec![path("Prefix", "/", "web", 80)])
            .tls(&[], Some("wild-tls"))
            .build(),
    );
    let compiled = world.compile();
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let table = &compiled.table;
    assert_eq!(served_cert(table, Some("a.example.com")), Some(wild.der));
    assert_eq!(served_cert(table, Some("b.example.com")), None);
    assert_eq!(served_cert(table, Some("other.org")), None);
    assert!(redirects(table, "a.example.com", "/"));
    assert!(!redirects(table, "other.org", "/"));
}

#[test]
fn tls_listed_entry_beats_entry_without_hosts_in_same_ingress() {
    let wild = cert(&["*.example.com"]);
    let a = cert(&["a.example.com"]);
    let mut world = World::new();
    world.apply(tls_secret("default", "wild-tls", &wild));
    world.apply(tls_secret("default", "a-tls", &a));
    world.apply(
        tls_ingress("app", &["a.example.com"], None)
            .tls(&[], Some("wild-tls"))
            .tls(&["a.example.com"], Some("a-tls"))
            .build(),
    );
    let compiled = world.compile();
    assert!(with_reason(&compiled, Reason::Conflict).is_empty());
    assert_eq!(
        served_cert(&compiled.table, Some("a.example.com")),
        Some(a.der)
    );
}

#[test]
fn tls_invalid_host_reported_and_skipped() {
    let a = cert(&["a.example.com"]);
    let mut world = world_with(&["a.example.com"], &a);
    world.apply(
        tls_ingress("app", &["a.example.com"], Some("app-tls"))
            .tls(&["bad_host!"], Some("app-tls"))
            .build(),
    );
    let compiled = world.compile();
    let invalid = with_reason(&compiled, Reason::InvalidHost);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert!(
        invalid[0].starts_with("Ingress default/app: spec.tls: "),
        "{invalid:?}"
    );
    assert_eq!(
        served_cert(&compiled.table, Some("a.example.com")),
        Some(a.der)
    );
}

#[test]
fn tls_removed_secret_falls_back() {
    let a = cert(&["a.example.com"]);
    let mut world = world_with(&["a.example.com"], &a);
    assert_eq!(
        served_cert(&world.table(), Some("a.example.com")),
        Some(a.der)
    );
    assert!(
        world
            .index
            .delete(Kind::Secret, &ObjectKey::new("default", "app-tls"))
    );
    let compiled = world.compile();
    assert_eq!(served_cert(&compiled.table, Some("a.example.com")), None);
    assert_eq!(with_reason(&compiled, Reason::TlsSecretMissing).len(), 1);
}

#[test]
fn tls_apply_then_delete_returns_previous_table() {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(simple("default", "plain", "plain.example.com"));
    let before = world.compile();
    let a = cert(&["a.example.com"]);
    world.apply(tls_secret("default", "app-tls", &a));
    world.apply(tls_ingress("app", &["a.example.com"], Some("app-tls")).build());
    let during = world.compile();
    assert_ne!(during.table, before.table);
    assert!(
        world
            .index
            .delete(Kind::Secret, &ObjectKey::new("default", "app-tls"))
    );
    assert!(
        world
            .index
            .delete(Kind::Ingress, &ObjectKey::new("default", "app"))
    );
    let after = world.compile();
    assert_eq!(after.table, before.table);
    assert_eq!(after.diagnostics, before.diagnostics);
}
