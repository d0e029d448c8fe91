//! Settings that change how objects translate into a table.

use crate::table::BackendMode;

/// Translation settings, parsed once from flags by the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileConfig {
    /// Our IngressClass name (`--ingress-class`, default `strait`). Matched by the legacy
    /// `kubernetes.io/ingress.class` annotation, and by `spec.ingressClassName` when no
    /// IngressClass object of that name exists (standalone folders often omit one).
    pub ingress_class: String,
    /// `spec.controller` value that marks an IngressClass as ours (`--controller-name`).
    pub controller_name: String,
    /// Also take Ingresses that name no class at all (`--watch-ingress-without-class`).
    pub watch_ingress_without_class: bool,
    /// Backend mode when an Ingress does not override it (`--backend-mode`).
    pub backend_mode: BackendMode,
}

impl Default for CompileConfig {
    fn default() -> Self {
        Self {
            ingress_class: "strait".to_owned(),
            controller_name: "strait.dev/ingress-controller".to_owned(),
            watch_ingress_without_class: false,
            backend_mode: BackendMode::Pod,
        }
    }
}
