//! External auth and `satisfy` of one Ingress, as ingress-nginx's `authreq`, `authreqglobal`
//! and `satisfy` parsers read them (docs/architecture.md, "External auth"):
//!
//! - `auth-url` present: its value and its siblings' are parsed by [`ExternalAuth::parse`]. A
//!   value that does not parse refuses the Ingress's routes with an Error diagnostic naming
//!   the key (ingress-nginx denies the location, or for some keys drops the auth and serves
//!   it open, which Strait never does); an ignored value (a bad `auth-signin`,
//!   `auth-cache-key`) is a warning.
//! - No `auth-url`: the global auth (`--global-auth-url`) applies unless
//!   `enable-global-auth: "false"` (a value that does not parse keeps it on, as there). Other
//!   `auth-*` keys without `auth-url` do nothing, as in ingress-nginx: warned.
//! - `satisfy`: `all` (default) or `any`; anything else is `all`, warned.
//! - `auth-proxy-set-headers` (with `auth-url`): the ConfigMap it names is resolved against
//!   the index ([`proxy_set_headers`]); missing, in another namespace, or not a usable
//!   header map refuses the routes with an Error naming the ConfigMap, as ingress-nginx
//!   denies the location.

use std::sync::Arc;

use crate::annotations::{Annotations, parse_bool};
use crate::config::CompileConfig;
use crate::index::Index;
use crate::model::{Diagnostic, ObjectKey, ObjectRef, Reason};
use crate::table::Refusal;
use crate::table::external_auth::{
    AUTH_PROXY_SET_HEADERS, AuthValues, ExternalAuth, Satisfy, SetHeaders, config_map_ref,
};

/// The keys [`ExternalAuth::parse`] and [`proxy_set_headers`] read, besides `auth-url`.
const SIBLINGS: [&str; 9] = [
    "auth-method",
    "auth-signin",
    "auth-signin-redirect-param",
    "auth-response-headers",
    "auth-request-redirect",
    "auth-always-set-cookie",
    "auth-cache-key",
    "auth-cache-duration",
    AUTH_PROXY_SET_HEADERS,
];

/// Where the external auth of one Ingress is read: its annotations, the compile's settings
/// and the index (for the ConfigMap of `auth-proxy-set-headers`).
pub(super) struct Reading<'a> {
    pub(super) keys: Annotations<'a>,
    pub(super) config: &'a CompileConfig,
    pub(super) index: &'a Index,
    /// The Ingress: a bare ConfigMap name is in its namespace.
    pub(super) ingress: &'a ObjectKey,
    pub(super) object: &'a ObjectRef,
}

/// The external auth of the Ingress's routes (`Ok(None)`: none) and how they combine their
/// controls; `Err` when the routes must be refused (the diagnostic is pushed).
pub(super) fn read(
    at: &Reading<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Result<Option<Arc<ExternalAuth>>, Refusal>, Satisfy) {
    let Reading {
        keys,
        config,
        object,
        ..
    } = *at;
    let mut warn = |message: String| {
        let d = Diagnostic::warning(object.clone(), Reason::InvalidAnnotation, message);
        diagnostics.push(d);
    };
    let satisfy = match keys.nginx("satisfy") {
        None => Satisfy::All,
        Some((_, v)) if v.trim() == "all" => Satisfy::All,
        Some((_, v)) if v.trim() == "any" => Satisfy::Any,
        Some((key, v)) => {
            warn(format!("{key}: {v:?} is not any or all; all applies"));
            Satisfy::All
        }
    };
    let Some((url_key, url)) = keys.nginx("auth-url") else {
        return (Ok(global(keys, config, &mut warn)), satisfy);
    };
    let value = |name| keys.nginx(name).map(|(_, v)| v);
    let values = AuthValues {
        url,
        method: value("auth-method"),
        signin: value("auth-signin"),
        signin_redirect_param: value("auth-signin-redirect-param"),
        response_headers: value("auth-response-headers"),
        request_redirect: value("auth-request-redirect"),
        always_set_cookie: value("auth-always-set-cookie"),
        cache_key: value("auth-cache-key"),
        cache_duration: value("auth-cache-duration"),
    };
    let full = |name: &str| format!("{}/{name}", keys.prefix());
    match ExternalAuth::parse(&values) {
        Ok((mut auth, warnings)) => {
            for w in warnings {
                warn(format!("{}: {}", full(w.key), w.problem));
            }
            match proxy_set_headers(at, diagnostics) {
                Ok(headers) => auth.proxy_set_headers = headers,
                Err(refusal) => return (Err(refusal), satisfy),
            }
            (Ok(Some(Arc::new(auth))), satisfy)
        }
        Err(e) => {
            let key = if e.key == "auth-url" {
                url_key
            } else {
                full(e.key)
            };
            let message = format!(
                "{key}: {}; this Ingress's routes answer 503 (fail closed)",
                e.problem
            );
            diagnostics.push(Diagnostic::error(
                object.clone(),
                Reason::InvalidAnnotation,
                message,
            ));
            (Err(Refusal::InvalidSecurityAnnotation), satisfy)
        }
    }
}

/// The headers of `auth-proxy-set-headers` (`Ok(None)`: not set, or empty), as ingress-nginx's
/// `authreq` parser resolves them: `namespace/name`, or a bare name in the Ingress's
/// namespace; another namespace is refused (its `allow-cross-namespace-resources` defaults to
/// false), as are a missing ConfigMap and data that are not a header map (it denies the
/// location). A value that names nothing refuses too, where ingress-nginx would drop the
/// headers and still ask the auth service: the service may depend on them.
fn proxy_set_headers(
    at: &Reading<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<Arc<SetHeaders>>, Refusal> {
    let Some((key, value)) = at.keys.nginx(AUTH_PROXY_SET_HEADERS) else {
        return Ok(None);
    };
    let mut refuse = |reason: Reason, refusal: Refusal, problem: String| {
        let message = format!("{problem}; this Ingress's routes answer 503 (fail closed)");
        diagnostics.push(Diagnostic::error(at.object.clone(), reason, message));
        Err(refusal)
    };
    if value.trim().is_empty() {
        let message = format!("{key}: empty; no headers are added to the auth subrequest");
        diagnostics.push(Diagnostic::warning(
            at.object.clone(),
            Reason::InvalidAnnotation,
            message,
        ));
        return Ok(None);
    }
    let invalid = Refusal::InvalidSecurityAnnotation;
    let shown: String = value.chars().take(128).collect();
    let config_map = match config_map_ref(&at.ingress.namespace, value) {
        Ok(config_map) => config_map,
        Err(e) => {
            return refuse(
                Reason::InvalidAnnotation,
                invalid,
                format!("{key}: {shown:?} {e}"),
            );
        }
    };
    if config_map.namespace != at.ingress.namespace {
        let problem = format!(
            "{key}: ConfigMap {config_map} is in another namespace: cross-namespace ConfigMaps are not allowed"
        );
        return refuse(Reason::InvalidAnnotation, invalid, problem);
    }
    let unusable = Refusal::AuthHeadersConfigMap;
    match at.index.config_maps().get(&config_map) {
        Some(Ok(headers)) if headers.is_empty() => Ok(None),
        Some(Ok(headers)) => Ok(Some(headers.clone())),
        Some(Err(e)) => refuse(
            Reason::ConfigMapInvalid,
            unusable,
            format!("{key}: ConfigMap {config_map}: {e}"),
        ),
        None => refuse(
            Reason::ConfigMapMissing,
            unusable,
            format!("{key}: ConfigMap {config_map} not found"),
        ),
    }
}

/// An Ingress without `auth-url`: the global auth unless it opts out; its other `auth-*`
/// keys do nothing (warned).
fn global(
    keys: Annotations<'_>,
    config: &CompileConfig,
    warn: &mut impl FnMut(String),
) -> Option<Arc<ExternalAuth>> {
    let stray: Vec<String> = SIBLINGS
        .iter()
        .filter_map(|name| keys.nginx(name).map(|(key, _)| key))
        .collect();
    if !stray.is_empty() {
        let prefix = keys.prefix();
        warn(format!(
            "{} without {prefix}/auth-url: no effect, as in ingress-nginx",
            stray.join(", ")
        ));
    }
    let enabled = match keys.nginx("enable-global-auth") {
        None => true,
        Some((key, v)) => parse_bool(v).unwrap_or_else(|| {
            warn(format!(
                "{key}: {v:?} is not true or false; global auth applies"
            ));
            true
        }),
    };
    config.global_auth.clone().filter(|_| enabled)
}

/// Whether a rule at `path` gets no auth at all: its path starts with one of
/// `--no-auth-locations` (ingress-nginx's `isLocationInLocationList`, which guards both
/// `auth_request` and `auth_basic`).
pub(super) fn exempt(config: &CompileConfig, path: &str) -> bool {
    config
        .no_auth_locations
        .iter()
        .any(|location| !location.is_empty() && path.starts_with(location.as_str()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::config::CompileConfig;
    use crate::model::Reason;
    use crate::table::external_auth::{AuthValues, ExternalAuth, Satisfy};
    use crate::table::{Refusal, RouteOptions};
    use crate::{Compiled, Index, Object};

    const P: &str = crate::config::DEFAULT_ANNOTATIONS_PREFIX;

    /// Compiles an Ingress with `annotations` and rules `example.com` at `paths`.
    fn compile(annotations: &[(&str, &str)], paths: &[&str], config: &CompileConfig) -> Compiled {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (format!("{P}/{k}"), json!(v)))
            .collect();
        let paths: Vec<serde_json::Value> = paths
            .iter()
            .map(|p| {
                json!({"path": p, "pathType": "Prefix",
                 "backend": {"service": {"name": "svc", "port": {"number": 80}}}})
            })
            .collect();
        let ingress = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "default", "annotations": annotations},
            "spec": {"ingressClassName": "strait",
                     "rules": [{"host": "example.com", "http": {"paths": paths}}]}
        });
        let mut index = Index::new();
        index.apply(Object::from_value(ingress).unwrap().unwrap());
        index.compile(config)
    }

    fn options(compiled: &Compiled, path: &str) -> RouteOptions {
        let route = compiled.table.lookup("example.com", path).expect("route");
        route.route.options.clone()
    }

    fn global(url: &str) -> CompileConfig {
        let values = AuthValues {
            url,
            ..AuthValues::default()
        };
        CompileConfig {
            global_auth: Some(Arc::new(ExternalAuth::parse(&values).unwrap().0)),
            ..CompileConfig::default()
        }
    }

    /// annotations.md "External Authentication": `auth-url` puts every route of the Ingress
    /// behind the auth service; `satisfy` (annotations.md "Satisfy") is carried with it.
    #[test]
    fn auth_url_guards_every_route_of_the_ingress() {
        let keys = [
            ("auth-url", "http://auth.test/verify"),
            ("auth-response-headers", "X-User"),
            ("satisfy", "any"),
        ];
        let compiled = compile(&keys, &["/", "/api"], &CompileConfig::default());
        for path in ["/", "/api"] {
            let o = options(&compiled, path);
            let auth = o.external_auth.expect("external auth");
            assert_eq!(&*auth.url.text, "http://auth.test/verify");
            assert_eq!(&*auth.response_headers, [Box::from("x-user")]);
            assert_eq!(o.satisfy, Satisfy::Any);
            assert_eq!(o.refused, None);
        }
    }

    /// test/e2e/annotations/auth.go "with invalid auth-url should deny whole location" (503),
    /// and main.go's denied values (method, headers, cache duration); a bad `satisfy` is
    /// `all` with a warning (satisfy/main.go).
    #[test]
    fn an_invalid_value_refuses_the_routes_with_an_error_naming_the_key() {
        for (key, value) in [
            ("auth-url", "https://invalid..auth.url"),
            ("auth-method", "FETCH"),
            ("auth-response-headers", "a b"),
            ("auth-cache-duration", "5m 200"),
            ("auth-request-redirect", "$request_uri"),
        ] {
            let mut keys = vec![(key, value)];
            if key != "auth-url" {
                keys.push(("auth-url", "http://auth.test/verify"));
            }
            let compiled = compile(&keys, &["/"], &CompileConfig::default());
            let o = options(&compiled, "/");
            assert_eq!(o.refused, Some(Refusal::InvalidSecurityAnnotation), "{key}");
            assert!(
                compiled
                    .diagnostics
                    .iter()
                    .any(|d| d.reason == Reason::InvalidAnnotation
                        && d.message.contains(&format!("{P}/{key}"))),
                "{key}: {:?}",
                compiled.diagnostics
            );
        }
        let compiled = compile(&[("satisfy", "some")], &["/"], &CompileConfig::default());
        assert_eq!(options(&compiled, "/").satisfy, Satisfy::All);
        assert_eq!(options(&compiled, "/").refused, None);
    }

    /// annotations.md "Global External Authentication" and configmap.md "global-auth-url":
    /// every Ingress is guarded unless it sets `enable-global-auth: "false"` or has its own
    /// `auth-url` (template.go `shouldApplyGlobalAuth`).
    #[test]
    fn global_auth_applies_unless_opted_out_or_replaced() {
        let config = global("http://global.test/auth");
        let url = |keys: &[(&str, &str)]| {
            let compiled = compile(keys, &["/"], &config);
            options(&compiled, "/")
                .external_auth
                .map(|a| a.url.text.to_string())
        };
        assert_eq!(url(&[]).as_deref(), Some("http://global.test/auth"));
        assert_eq!(url(&[("enable-global-auth", "false")]), None);
        assert_eq!(
            url(&[("enable-global-auth", "nope")]).as_deref(),
            Some("http://global.test/auth"),
            "an invalid value keeps it on (authreqglobal/main.go)"
        );
        assert_eq!(
            url(&[("auth-url", "http://own.test/")]).as_deref(),
            Some("http://own.test/")
        );
        assert_eq!(
            url(&[
                ("auth-url", "http://own.test/"),
                ("enable-global-auth", "false")
            ])
            .as_deref(),
            Some("http://own.test/"),
            "enable-global-auth only turns the global auth off"
        );
        assert_eq!(
            compile(&[], &["/"], &CompileConfig::default())
                .table
                .lookup("example.com", "/")
                .unwrap()
                .route
                .options
                .external_auth,
            None
        );
    }

    /// configmap.md "no-auth-locations" (default `/.well-known/acme-challenge`): rules under it
    /// get neither external nor basic auth (nginx.tmpl wraps both in
    /// `isLocationInLocationList`); the other rules of the Ingress keep it.
    #[test]
    fn no_auth_locations_exempt_their_rules() {
        let config = global("http://global.test/auth");
        let compiled = compile(&[], &["/", "/.well-known/acme-challenge/x1"], &config);
        assert!(options(&compiled, "/").external_auth.is_some());
        assert!(
            options(&compiled, "/.well-known/acme-challenge/x1")
                .external_auth
                .is_none()
        );
        let none = CompileConfig {
            no_auth_locations: Vec::new(),
            ..config
        };
        let compiled = compile(&[], &["/.well-known/acme-challenge/x1"], &none);
        assert!(
            options(&compiled, "/.well-known/acme-challenge/x1")
                .external_auth
                .is_some()
        );
    }

    /// ingress-nginx reads the other `auth-*` keys only with `auth-url`: alone they do
    /// nothing (warned), and they do not refuse.
    #[test]
    fn siblings_without_auth_url_are_warned() {
        let compiled = compile(
            &[("auth-signin", "https://x/start")],
            &["/"],
            &CompileConfig::default(),
        );
        let o = options(&compiled, "/");
        assert_eq!((o.external_auth, o.refused), (None, None));
        assert!(
            compiled
                .diagnostics
                .iter()
                .any(|d| d.message.contains("without"))
        );
    }
}
