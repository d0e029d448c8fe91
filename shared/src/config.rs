//! Settings that change how objects translate into a table.

use std::sync::Arc;

use crate::model::ObjectKey;
use crate::table::error_pages::StatusSet;
use crate::table::{BackendMode, BodyLimit, DEFAULT_MAX_BODY_SIZE, ExternalAuth, SourcePolicy};

/// Translation settings, parsed once from flags by the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileConfig {
    /// Our IngressClass names (`--ingress-class`, comma-separated, default `strait`; several
    /// serve another controller's Ingresses side by side, e.g. `strait,nginx`). Each is
    /// matched by the legacy `kubernetes.io/ingress.class` annotation, and by
    /// `spec.ingressClassName` when no IngressClass object of that name exists: a standalone
    /// convenience, since manifest folders often omit the IngressClass. When an IngressClass
    /// of that name does exist, its `spec.controller` decides, as for any other class.
    pub ingress_classes: Vec<String>,
    /// `spec.controller` values that mark an IngressClass as ours (`--controller-name`,
    /// comma-separated, default `strait.dev/ingress-controller`; add `k8s.io/ingress-nginx`
    /// to take ingress-nginx's classes). The first one names Strait as the reporting
    /// controller of its Events.
    pub controller_names: Vec<String>,
    /// Also take Ingresses that name no class at all, neither by field nor by the legacy
    /// annotation (`--watch-ingress-without-class`). Without it such Ingresses are ours only
    /// when one of our IngressClasses is the cluster default.
    pub watch_ingress_without_class: bool,
    /// Backend mode when an Ingress does not override it (`--backend-mode`).
    pub backend_mode: BackendMode,
    /// A `kubernetes.io/tls` Secret served when no `spec.tls` host matches the SNI
    /// (`--default-ssl-certificate NAMESPACE/NAME`); without it, or when it is unusable, the
    /// proxy's generated self-signed certificate.
    pub default_ssl_certificate: Option<ObjectKey>,
    /// Prefix of ingress-nginx's annotations (`--annotations-prefix`, default
    /// `nginx.ingress.kubernetes.io`); `strait.dev/` keys are read whatever it is.
    pub annotations_prefix: String,
    /// What happens to the routes of an Ingress carrying a security-relevant annotation that
    /// Strait does not enforce (`--unsupported-security-annotations`, default `refuse`).
    pub unsupported_security: UnsupportedSecurity,
    /// Source-address lists of every route whose Ingress sets no list of that kind
    /// (`--denylist-source-range`, `--allowlist-source-range`; default none). An Ingress's
    /// `allowlist-source-range` replaces the global allow list and its `denylist-source-range`
    /// the global deny list, each on its own, as in ingress-nginx.
    pub source_ranges: SourcePolicy,
    /// Request body limit of every route whose Ingress does not set `proxy-body-size`
    /// (`--max-body-size`, default ingress-nginx's `1m`; `None`: unlimited).
    pub max_body_size: Option<BodyLimit>,
    /// External auth of every route whose Ingress sets no `auth-url` and does not opt out
    /// with `enable-global-auth: "false"` (`--global-auth-url` and its siblings, ingress-nginx's
    /// ConfigMap `global-auth-*`; default none).
    pub global_auth: Option<Arc<ExternalAuth>>,
    /// Rule paths that get neither external nor basic auth: a rule whose path starts with one
    /// of these (`--no-auth-locations`, ingress-nginx's ConfigMap `no-auth-locations`, default
    /// `/.well-known/acme-challenge`, so ACME HTTP-01 challenges pass a global auth).
    pub no_auth_locations: Vec<String>,
    /// On a host that matches by regex (some Ingress sets `use-regex` or `rewrite-target`),
    /// keep `Exact` paths exact and case-sensitive, tried before the regexes
    /// (`--regex-keep-exact-paths`). Default off: ingress-nginx makes them regexes too
    /// (docs/architecture.md, "Regex paths and rewrites").
    pub regex_keep_exact_paths: bool,
    /// The Service whose first port answers requests no rule matches, and the errors of
    /// routes without a `default-backend` of their own (`--default-backend-service
    /// NAMESPACE/NAME`, ingress-nginx's flag of the same name). `None`: Strait's own 404.
    pub default_backend_service: Option<ObjectKey>,
    /// Statuses the default backend answers for every route whose Ingress sets no
    /// `custom-http-errors` (`--custom-http-errors`, ingress-nginx's ConfigMap key; 300–599;
    /// default none). Without `--default-backend-service` they have no backend and no effect.
    pub custom_http_errors: StatusSet,
    /// Reject `Exact` and `Prefix` paths with characters outside ingress-nginx's
    /// `^/[A-Za-z0-9/_.-]*$`-like set (`--strict-validate-path-type`, ingress-nginx's ConfigMap
    /// `strict-validate-path-type`, default on since its 1.12).
    pub strict_validate_path_type: bool,
    /// `ssl-passthrough` is honoured (`--enable-ssl-passthrough`, off by default as in
    /// ingress-nginx); off, the annotation is reported and its hosts are terminated.
    pub enable_ssl_passthrough: bool,
}

/// ingress-nginx's default `no-auth-locations`.
pub const DEFAULT_NO_AUTH_LOCATIONS: &str = "/.well-known/acme-challenge";

/// `--unsupported-security-annotations`: refuse (fail closed) or serve (fail open, warned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnsupportedSecurity {
    /// The Ingress's routes answer 503 with the reason, and a diagnostic names the keys.
    #[default]
    Refuse,
    /// The routes are served without the control; a warning diagnostic names the keys.
    Serve,
}

impl UnsupportedSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Serve => "serve",
        }
    }
}

/// ingress-nginx's default annotation prefix.
pub const DEFAULT_ANNOTATIONS_PREFIX: &str = "nginx.ingress.kubernetes.io";

/// Our IngressClass name by default (`--ingress-class`).
pub const DEFAULT_INGRESS_CLASS: &str = "strait";

/// Our `spec.controller` value by default (`--controller-name`).
pub const DEFAULT_CONTROLLER_NAME: &str = "strait.dev/ingress-controller";

impl Default for CompileConfig {
    fn default() -> Self {
        Self {
            ingress_classes: vec![DEFAULT_INGRESS_CLASS.to_owned()],
            controller_names: vec![DEFAULT_CONTROLLER_NAME.to_owned()],
            watch_ingress_without_class: false,
            backend_mode: BackendMode::Pod,
            default_ssl_certificate: None,
            annotations_prefix: DEFAULT_ANNOTATIONS_PREFIX.to_owned(),
            unsupported_security: UnsupportedSecurity::Refuse,
            source_ranges: SourcePolicy::default(),
            max_body_size: Some(BodyLimit(DEFAULT_MAX_BODY_SIZE)),
            global_auth: None,
            no_auth_locations: vec![DEFAULT_NO_AUTH_LOCATIONS.to_owned()],
            regex_keep_exact_paths: false,
            default_backend_service: None,
            custom_http_errors: StatusSet::default(),
            strict_validate_path_type: true,
            enable_ssl_passthrough: false,
        }
    }
}
