use serde_json::json;

use crate::config::CompileConfig;
use crate::model::{Diagnostic, Reason, Severity};
use crate::table::RouteOptions;
use crate::{Index, Object};

const P: &str = crate::config::DEFAULT_ANNOTATIONS_PREFIX;

/// The diagnostics of an Ingress with `annotations` (routing `example.com` ImplementationSpecific
/// `/app/(.*)`), and the options of its route for `/app/x`, if served.
fn compile(annotations: &[(&str, &str)]) -> (Vec<Diagnostic>, Option<RouteOptions>) {
    let annotations: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| (format!("{P}/{k}"), json!(v)))
        .collect();
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "i", "namespace": "default", "annotations": annotations},
        "spec": {"ingressClassName": "strait", "rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/app/(.*)", "pathType": "ImplementationSpecific",
             "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}
    });
    let mut index = Index::new();
    index.apply(Object::from_value(ingress).unwrap().unwrap());
    let compiled = index.compile(&CompileConfig::default());
    let options = compiled
        .table
        .lookup("example.com", "/app/x")
        .map(|m| m.route.options.clone());
    let diagnostics = compiled
        .diagnostics
        .into_iter()
        .filter(|d| d.reason == Reason::InvalidAnnotation)
        .collect();
    (diagnostics, options)
}

/// rewrite/main.go: a `rewrite-target` the validator refuses is ignored ("defaulting to
/// empty"), with a warning here; the path then is a literal string prefix.
#[test]
fn a_target_ingress_nginx_refuses_is_ignored_with_a_warning() {
    for value in ["/a?b=c", " /x", "/${1}"] {
        let (diagnostics, options) = compile(&[("rewrite-target", value)]);
        assert_eq!(diagnostics.len(), 1, "{value:?}: {diagnostics:?}");
        assert_eq!(diagnostics[0].severity, Severity::Warning);
        assert!(
            options.is_none(),
            "{value:?}: not a regex host, so a literal prefix"
        );
    }
}

/// A target ingress-nginx accepts but Strait cannot apply (nginx variables, `$0`, an absolute
/// URL nginx would answer with a redirect) is an error, and the rewritten path is not served.
#[test]
fn a_target_strait_cannot_apply_is_an_error_and_quarantines_the_path() {
    for value in ["/$host/$1", "/$0", "http://example.org/$1", "/a$"] {
        let (diagnostics, options) = compile(&[("rewrite-target", value)]);
        assert_eq!(diagnostics.len(), 1, "{value:?}: {diagnostics:?}");
        assert_eq!(diagnostics[0].severity, Severity::Error);
        assert!(options.is_none(), "{value:?}: not served");
    }
    let (diagnostics, options) = compile(&[("rewrite-target", "/$1")]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let rewrite = options.and_then(|o| o.rewrite).expect("rewritten");
    assert_eq!(rewrite.apply("/app/x").path, "/x");
}

/// `use-regex`, `x-forwarded-prefix` and `app-root` values that do not parse are reported and
/// ignored, as ingress-nginx ignores them.
#[test]
fn invalid_values_are_reported_and_ignored() {
    let (diagnostics, options) = compile(&[("use-regex", "yes")]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(options.is_none(), "use-regex off: a literal prefix");

    let (diagnostics, options) = compile(&[
        ("use-regex", "true"),
        ("rewrite-target", "/$1"),
        ("x-forwarded-prefix", "/$host"),
        ("app-root", "app"),
    ]);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    let options = options.expect("served");
    assert_eq!(options.app_root, None);
    let rewrite = options.rewrite.expect("rewritten");
    assert_eq!(rewrite.apply("/app/x").forwarded_prefix, None);

    let (diagnostics, options) = compile(&[
        ("use-regex", "true"),
        ("app-root", "/home"),
        ("x-forwarded-prefix", " /a b "),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let options = options.expect("served");
    assert_eq!(options.app_root.as_deref(), Some("/home"));
    assert!(
        options.rewrite.is_none(),
        "x-forwarded-prefix alone rewrites nothing"
    );
}
