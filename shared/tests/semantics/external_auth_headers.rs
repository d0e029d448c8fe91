//! `auth-proxy-set-headers` (docs/architecture.md, "Auth subrequest headers from a
//! ConfigMap"): the ConfigMap it names is resolved when the table is built, as ingress-nginx's
//! `internal/ingress/annotations/authreq/main.go` resolves it; its data become the headers of
//! the route's external auth, and a missing, cross-namespace or unusable ConfigMap refuses
//! the Ingress's routes (ingress-nginx denies the location), never serves them without the
//! headers.

use serde_json::{Value, json};
use strait_shared::table::external_auth::{ExternalAuth, SetValue};
use strait_shared::{Kind, ObjectKey, Reason, Refusal, RouteTable, Severity};

use crate::support::*;

const NGINX: &str = "nginx.ingress.kubernetes.io";

fn config_map(namespace: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// `default/app` on `a.example.com` behind `auth-url`, naming `reference` in
/// `auth-proxy-set-headers`, with its Service.
fn guarded(reference: &str) -> World {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/auth-url"), "http://auth.test/verify")
            .annotation(&format!("{NGINX}/auth-proxy-set-headers"), reference)
            .build(),
    );
    world.apply(simple("default", "open", "b.example.com"));
    web_service(&mut world, "default");
    world
}

fn auth(table: &RouteTable) -> Option<std::sync::Arc<ExternalAuth>> {
    let m = table.lookup("a.example.com", "/").expect("a route");
    m.route.options.external_auth.clone()
}

fn refused(table: &RouteTable) -> Option<Refusal> {
    let m = table.lookup("a.example.com", "/").expect("a route");
    m.route.options.refused
}

/// The one Error of the compile with `reason`, as `"object: message"`.
fn error(world: &World, reason: Reason) -> String {
    let compiled = world.compile();
    let found: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == reason && d.severity == Severity::Error)
        .collect();
    assert_eq!(found.len(), 1, "{reason}: {:?}", compiled.diagnostics);
    format!("{}: {}", found[0].object, found[0].message)
}

/// test/e2e/annotations/auth.go `should set "proxy_set_header "My-Custom-Header" "42";" when
/// auth-headers are set` (`auth-proxy-set-headers: <namespace>/auth-headers`): the ConfigMap's
/// data become the subrequest's headers, in key order; a value with a variable is kept as a
/// template to fill per request, as nginx expands it.
#[test]
fn the_config_map_s_data_become_the_subrequest_headers() {
    let mut world = guarded("default/auth-headers");
    world.apply(config_map(
        "default",
        "auth-headers",
        json!({"My-Custom-Header": "42", "X-Forwarded-Host": "$http_host", "A_b": ""}),
    ));
    let table = world.table();
    assert_eq!(refused(&table), None);
    let auth = auth(&table).expect("external auth");
    let headers = auth.proxy_set_headers.as_ref().expect("headers");
    let got: Vec<(String, String)> = headers
        .iter()
        .map(|h| {
            let value = match &h.value {
                SetValue::Fixed(v) => format!("{v:?}"),
                SetValue::Template(t) => format!("template of {} parts", t.parts().len()),
            };
            (h.name.to_string(), value)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a_b".to_owned(), "\"\"".to_owned()),
            ("my-custom-header".to_owned(), "\"42\"".to_owned()),
            (
                "x-forwarded-host".to_owned(),
                "template of 1 parts".to_owned()
            ),
        ]
    );
    let compiled = world.compile();
    assert!(
        compiled
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning),
        "{:?}",
        compiled.diagnostics
    );
}

/// annotations.md "External Authentication" names "the name of a ConfigMap": a bare name is
/// the Ingress's own namespace (ingress-nginx's check treats it so, but then looks the bare
/// name up as a key and denies the location: kubernetes/ingress-nginx#12996; Strait follows
/// the documentation).
#[test]
fn a_bare_name_is_in_the_ingress_s_namespace() {
    let mut world = guarded("auth-headers");
    world.apply(config_map(
        "default",
        "auth-headers",
        json!({"X-Tenant": "a"}),
    ));
    let table = world.table();
    assert_eq!(refused(&table), None);
    let auth = auth(&table).expect("external auth");
    assert_eq!(auth.proxy_set_headers.as_ref().map(|h| h.len()), Some(1));
}

/// authreq/main.go: `unable to find configMap` denies the location (ingress-nginx answers
/// 503 there, as Strait's refusal). Once the ConfigMap appears the routes serve with it, and
/// when it goes they are refused again: a change of a ConfigMap an Ingress names recompiles.
#[test]
fn a_missing_config_map_refuses_until_it_appears() {
    let mut world = guarded("default/auth-headers");
    let table = world.table();
    assert_eq!(refused(&table), Some(Refusal::AuthHeadersConfigMap));
    assert_eq!(
        table
            .lookup("b.example.com", "/")
            .expect("neighbour")
            .route
            .options
            .refused,
        None,
        "the neighbour serves"
    );
    let message = error(&world, Reason::ConfigMapMissing);
    assert!(
        message.starts_with("Ingress default/app: ")
            && message.contains("ConfigMap default/auth-headers not found"),
        "{message}"
    );
    let cm = object(config_map(
        "default",
        "auth-headers",
        json!({"X-Tenant": "a"}),
    ));
    assert!(
        world.index.apply(cm),
        "a named ConfigMap asks for a recompile"
    );
    assert_eq!(refused(&world.table()), None);
    let key = ObjectKey::new("default", "auth-headers");
    assert!(world.index.delete(Kind::ConfigMap, &key));
    assert_eq!(refused(&world.table()), Some(Refusal::AuthHeadersConfigMap));
}

/// A ConfigMap no Ingress names changes no table, so its changes cost no recompile; once an
/// Ingress names it they do, and no longer once that Ingress is gone.
#[test]
fn only_a_named_config_map_asks_for_a_recompile() {
    let mut world = World::new();
    web_service(&mut world, "default");
    let version = |v: &str| object(config_map("default", "h", json!({"X-Tenant": v})));
    assert!(!world.index.apply(version("1")), "named by no Ingress");
    assert!(
        world
            .index
            .contains(Kind::ConfigMap, &ObjectKey::new("default", "h"))
    );
    let ingress = object(
        app()
            .annotation(&format!("{NGINX}/auth-url"), "http://auth.test/")
            .annotation(&format!("{NGINX}/auth-proxy-set-headers"), "h")
            .build(),
    );
    assert!(world.index.apply(ingress));
    assert!(world.index.apply(version("2")), "named now");
    assert!(!world.index.apply(version("2")), "unchanged");
    assert!(
        world
            .index
            .delete(Kind::Ingress, &ObjectKey::new("default", "app"))
    );
    assert!(
        !world.index.apply(version("3")),
        "named by no Ingress again"
    );
}

/// authreq/main.go: a key that is not a header name (`ValidHeader`) denies the location
/// ("invalid proxy-set-headers in configmap"). Strait also refuses a value nginx could not
/// send as one header (a control character), a variable outside the set `auth-url` may use
/// (nginx would refuse its whole configuration), a connection or framing header, and data
/// over 4 KiB; the diagnostic names the ConfigMap and the problem.
#[test]
fn an_unusable_config_map_refuses_with_an_error_naming_it() {
    for (data, problem) in [
        (json!({"My Header": "42"}), "not a header name"),
        (
            json!({"X-A": "line\nbreak"}),
            "x-a is not valid header text",
        ),
        (json!({"X-A": "$hostname_of_pod"}), "unknown variable"),
        (json!({"Connection": "close"}), "connection describes"),
        (json!({"Content-Length": "5"}), "content-length describes"),
        (json!({"X-A": "a".repeat(5000)}), "more than 4096 bytes"),
        (json!({"X-A": 42}), "not a string"),
    ] {
        let mut world = guarded("auth-headers");
        world.apply(config_map("default", "auth-headers", data.clone()));
        assert_eq!(
            refused(&world.table()),
            Some(Refusal::AuthHeadersConfigMap),
            "{data}"
        );
        let message = error(&world, Reason::ConfigMapInvalid);
        assert!(
            message.contains("ConfigMap default/auth-headers: ") && message.contains(problem),
            "{data}: {message}"
        );
    }
}

/// configmap.md "allow-cross-namespace-resources" (default false) lists
/// `auth-proxy-set-header` among the annotations it governs: a ConfigMap in another namespace
/// is refused even when it exists ("cross namespace usage of secrets is not allowed"), and a
/// value that is not `name` or `namespace/name` (client-go's `SplitMetaNamespaceKey` fails)
/// denies the location too.
#[test]
fn another_namespace_or_a_malformed_name_refuses() {
    for reference in ["other/auth-headers", "a/b/c", "default/", "bad name"] {
        let mut world = guarded(reference);
        world.apply(config_map("other", "auth-headers", json!({"X-A": "1"})));
        world.apply(config_map("default", "auth-headers", json!({"X-A": "1"})));
        assert_eq!(
            refused(&world.table()),
            Some(Refusal::InvalidSecurityAnnotation),
            "{reference}"
        );
        let message = error(&world, Reason::InvalidAnnotation);
        assert!(
            message.contains(&format!("{NGINX}/auth-proxy-set-headers")),
            "{reference}: {message}"
        );
    }
    let world = guarded("other/auth-headers");
    let message = error(&world, Reason::InvalidAnnotation);
    assert!(message.contains("cross-namespace"), "{message}");
}

/// ingress-nginx reads `auth-proxy-set-headers` only with `auth-url` (the global auth has no
/// such setting): alone it does nothing, with a warning, and refuses nothing.
#[test]
fn without_auth_url_it_is_warned_and_inert() {
    let mut world = World::new();
    world.apply(
        app()
            .annotation(&format!("{NGINX}/auth-proxy-set-headers"), "missing")
            .build(),
    );
    web_service(&mut world, "default");
    let compiled = world.compile();
    assert_eq!(refused(&compiled.table), None);
    assert_eq!(auth(&compiled.table), None);
    let warned = with_reason(&compiled, Reason::InvalidAnnotation);
    assert!(warned.iter().any(|w| w.contains("without")), "{warned:?}");
    assert!(
        compiled
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning),
        "{:?}",
        compiled.diagnostics
    );
}
