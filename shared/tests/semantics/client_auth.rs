//! Client-certificate auth (`auth-tls-*`) in the compiled table: per host, the oldest
//! Ingress deciding, fail closed on unusable Secrets (ingress-nginx annotations.md, "Client
//! Certificate Authentication": "applied per host"; `internal/ingress/annotations/authtls`).

use serde_json::json;
use strait_shared::table::VerifyClient;
use strait_shared::{Reason, Refusal, RouteTable};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn ca_secret(name: &str, data: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "Opaque", "stringData": data
    })
}

fn world_with(annotations: &[(&str, &str)]) -> World {
    let mut world = World::new();
    world.apply(ca_secret("ca", json!({"ca.crt": ca_pem()})));
    world.apply(ca_secret("not-ca", json!({"auth": "user:x"})));
    let mut ing = Ing::new("default", "app")
        .created("2024-01-01T00:00:00Z")
        .rule("a.example.com", vec![path("Prefix", "/", "web", 80)]);
    for (k, v) in annotations {
        ing = ing.annotation(&format!("{NGINX}/{k}"), v);
    }
    world.apply(ing.build());
    // A younger Ingress with another path of the same host, and no annotation of its own.
    world.apply(
        Ing::new("default", "other")
            .created("2024-06-01T00:00:00Z")
            .rule("a.example.com", vec![path("Prefix", "/other", "web", 80)])
            .build(),
    );
    world.apply(simple("default", "open", "b.example.com"));
    web_service(&mut world, "default");
    world
}

fn refused(table: &RouteTable, host: &str, path: &str) -> Option<Refusal> {
    table.lookup(host, path).unwrap().route.options.refused
}

#[test]
fn client_auth_covers_every_route_of_the_host_and_its_sni() {
    let world = world_with(&[
        ("auth-tls-secret", "default/ca"),
        ("auth-tls-verify-client", "optional"),
        ("auth-tls-verify-depth", "2"),
        ("auth-tls-match-cn", "CN=alice"),
    ]);
    let table = world.table();
    let own = table
        .lookup("a.example.com", "/")
        .unwrap()
        .route
        .options
        .clone();
    let other = table
        .lookup("a.example.com", "/other")
        .unwrap()
        .route
        .options
        .clone();
    let auth = own.client_auth.expect("own route");
    assert_eq!(
        other.client_auth.as_ref(),
        Some(&auth),
        "the younger Ingress's route too"
    );
    assert_eq!(auth.verify, VerifyClient::Optional);
    assert_eq!(auth.depth, 2);
    assert_eq!(auth.match_cn.as_ref().unwrap().as_str(), "CN=alice");
    assert_eq!(table.tls().client_auth(Some("A.Example.com")), Some(&auth));
    assert_eq!(table.tls().client_auth(Some("b.example.com")), None);
    assert_eq!(table.tls().client_auth(None), None);
    assert!(
        table
            .lookup("b.example.com", "/")
            .unwrap()
            .route
            .options
            .client_auth
            .is_none()
    );
    assert_eq!(refused(&table, "a.example.com", "/"), None);
}

#[test]
fn unusable_secrets_and_values_refuse_the_whole_host() {
    for (annotations, reason) in [
        (
            &[("auth-tls-secret", "default/missing")][..],
            Reason::TlsSecretMissing,
        ),
        (
            &[("auth-tls-secret", "default/not-ca")][..],
            Reason::TlsSecretInvalid,
        ),
        (
            &[("auth-tls-secret", "elsewhere/ca")][..],
            Reason::InvalidAnnotation,
        ),
        (
            &[("auth-tls-secret", "ca"), ("auth-tls-match-cn", "alice")][..],
            Reason::InvalidAnnotation,
        ),
        (
            &[("auth-tls-secret", "ca"), ("auth-tls-error-page", "@named")][..],
            Reason::InvalidAnnotation,
        ),
        (
            &[
                ("auth-tls-secret", "ca"),
                ("auth-tls-pass-certificate-to-upstream", "yes"),
            ][..],
            Reason::InvalidAnnotation,
        ),
    ] {
        let compiled = world_with(annotations).compile();
        let table = &compiled.table;
        for path in ["/", "/other"] {
            assert_eq!(
                refused(table, "a.example.com", path),
                Some(Refusal::ClientCertAuth),
                "{annotations:?} {path}"
            );
        }
        assert_eq!(refused(table, "b.example.com", "/"), None);
        assert_eq!(table.tls().client_auth(Some("a.example.com")), None);
        let found = with_reason(&compiled, reason);
        assert!(
            found.iter().any(|m| m.contains("answers 503")),
            "{annotations:?}: {found:?}"
        );
    }
}

#[test]
fn lenient_values_fall_back_as_ingress_nginx_does() {
    let compiled = world_with(&[
        ("auth-tls-secret", "ca"),
        ("auth-tls-verify-client", "maybe"),
        ("auth-tls-verify-depth", "deep"),
    ])
    .compile();
    let route = compiled
        .table
        .lookup("a.example.com", "/")
        .unwrap()
        .route
        .clone();
    let auth = route.options.client_auth.expect("served");
    assert_eq!((auth.verify, auth.depth), (VerifyClient::On, 1));
    assert_eq!(with_reason(&compiled, Reason::InvalidAnnotation).len(), 2);
}
