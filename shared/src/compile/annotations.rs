//! Per-Ingress settings read from annotations. An unparsable value is reported as a warning
//! and the setting's default applies; it never rejects the Ingress.

use k8s_openapi::api::networking::v1::Ingress;

use crate::model::{Diagnostic, ObjectRef, Reason};
use crate::table::BackendMode;

/// `pod`, `nodeport` or `service`: overrides `--backend-mode` for this Ingress.
pub(super) const BACKEND_MODE: &str = "strait.dev/backend-mode";
/// ingress-nginx's switch to the ClusterIP: `"true"` means service mode.
pub(super) const SERVICE_UPSTREAM: &str = "nginx.ingress.kubernetes.io/service-upstream";

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
