//! Per-Ingress settings read from annotations. An unparsable value is reported as a warning
//! and the setting's default applies; it never rejects the Ingress.

use k8s_openapi::api::networking::v1::Ingress;

use crate::model::{Diagnostic, ObjectRef, Reason};
use crate::table::BackendMode;

/// `pod`, `nodeport` or `service`: overrides `--backend-mode` for this Ingress.
pub(super) const BACKEND_MODE: &str = "strait.dev/backend-mode";
/// ingress-nginx's switch to the ClusterIP: `"true"` means service mode.
pub(super) const SERVICE_UPSTREAM: &str = "nginx.ingress.kubernetes.io/service-upstream";
/// Redirect plain HTTP to HTTPS for TLS hosts (default `true`); ours, then ingress-nginx's.
pub(super) const SSL_REDIRECT: [&str; 2] = [
    "strait.dev/ssl-redirect",
    "nginx.ingress.kubernetes.io/ssl-redirect",
];
/// Redirect plain HTTP to HTTPS even for hosts without TLS (default `false`).
pub(super) const FORCE_SSL_REDIRECT: [&str; 2] = [
    "strait.dev/force-ssl-redirect",
    "nginx.ingress.kubernetes.io/force-ssl-redirect",
];

/// Write this Ingress's requests to the access log (default `true`); ours, then
/// ingress-nginx's.
pub(super) const ENABLE_ACCESS_LOG: [&str; 2] = [
    "strait.dev/enable-access-log",
    "nginx.ingress.kubernetes.io/enable-access-log",
];

/// How an Ingress wants plain HTTP handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Redirects {
    /// Redirect hosts listed in some `spec.tls`.
    pub(super) ssl: bool,
    /// Redirect every host of this Ingress, TLS or not.
    pub(super) force: bool,
}

/// The redirect settings of an Ingress (DESIGN.md, "TLS").
pub(super) fn redirects(
    ingress: &Ingress,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> Redirects {
    Redirects {
        ssl: boolean(ingress, object, SSL_REDIRECT, diagnostics).unwrap_or(true),
        force: boolean(ingress, object, FORCE_SSL_REDIRECT, diagnostics).unwrap_or(false),
    }
}

/// Whether the proxy's access log records this Ingress's requests.
pub(super) fn access_log(
    ingress: &Ingress,
    object: &ObjectRef,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    boolean(ingress, object, ENABLE_ACCESS_LOG, diagnostics).unwrap_or(true)
}

/// The first of `names` (in order of authority) that is set to a boolean. An unparsable value
/// is reported and skipped, as if absent, so the next name or the default applies.
fn boolean(
    ingress: &Ingress,
    object: &ObjectRef,
    names: [&str; 2],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<bool> {
    for name in names {
        let Some(value) = annotation(ingress, name) else {
            continue;
        };
        match parse_bool(value) {
            Some(b) => return Some(b),
            None => diagnostics.push(Diagnostic::warning(
                object.clone(),
                Reason::InvalidAnnotation,
                format!("{name}: {value:?} is not true or false; ignored"),
            )),
        }
    }
    None
}

/// The backend mode for an Ingress: `strait.dev/backend-mode`, else
/// `nginx.ingress.kubernetes.io/service-upstream: "true"` (service), else `default`.
pub(super) fn backend_mode(
    ingress: &Ingress,
    object: &ObjectRef,
    default: BackendMode,
    diagnostics: &mut Vec<Diagnostic>,
) -> BackendMode {
    if let Some(value) = annotation(ingress, BACKEND_MODE) {
        match BackendMode::parse(value) {
            Some(mode) => return mode,
            None => diagnostics.push(Diagnostic::warning(
                object.clone(),
                Reason::InvalidAnnotation,
                format!("{BACKEND_MODE}: {value:?} is not one of pod, nodeport, service; ignored"),
            )),
        }
    }
    if let Some(value) = annotation(ingress, SERVICE_UPSTREAM) {
        match parse_bool(value) {
            Some(true) => return BackendMode::Service,
            Some(false) => {}
            None => diagnostics.push(Diagnostic::warning(
                object.clone(),
                Reason::InvalidAnnotation,
                format!("{SERVICE_UPSTREAM}: {value:?} is not true or false; ignored"),
            )),
        }
    }
    default
}

fn annotation<'i>(ingress: &'i Ingress, name: &str) -> Option<&'i str> {
    ingress
        .metadata
        .annotations
        .as_ref()?
        .get(name)
        .map(String::as_str)
}

/// Booleans as ingress-nginx reads them (Go's `strconv.ParseBool`).
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
