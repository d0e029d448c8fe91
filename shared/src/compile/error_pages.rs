//! Error pages (docs/architecture.md, "Error pages"): the error backend of an Ingress
//! (`default-backend`) and the global one (`--default-backend-service`), resolved like any
//! backend (so the endpoint fast path keeps them current), and the [`ErrorPages`] each route
//! carries.
//!
//! - An error backend is the named Service's first port, as ingress-nginx takes it
//!   (annotations.md, "Default Backend"; controller.go uses `Spec.Ports[0]`). A Service that
//!   does not exist, or has no port, is reported; the route then keeps Strait's own answers
//!   (or the global backend's, when there is one).
//! - Without `--default-backend-service`, a request no rule matches gets Strait's 404; with
//!   it, and no Ingress's `spec.defaultBackend`, that Service answers it (as ingress-nginx's
//!   `upstream-default-backend`), carrying the global `--custom-http-errors`.

use std::sync::Arc;

use super::annotations::ErrorSettings;
use super::context::Compiler;
use crate::model::{Diagnostic, Kind, ObjectKey, ObjectRef, Reason};
use crate::table::error_pages::{ErrorPages, RouteHeaders};
use crate::table::{BackendId, PortRef, Route, RouteOptions, ServiceRef};

impl Compiler<'_> {
    /// The error backend named by an Ingress's `default-backend` (reported on `object` when it
    /// cannot be used).
    pub(super) fn own_error_backend(
        &mut self,
        object: &ObjectRef,
        settings: &ErrorSettings,
        mode: crate::table::BackendMode,
    ) -> Option<BackendId> {
        let name = settings.service.as_deref()?;
        let key = ObjectKey::new(&object.key.namespace, name);
        self.error_backend(object, key, mode, "default-backend")
    }

    /// `--default-backend-service`'s backend, resolved once per compile.
    pub(super) fn global_error_backend(&mut self) -> Option<BackendId> {
        if let Some(resolved) = self.global_error_backend {
            return resolved;
        }
        let resolved = self.config.default_backend_service.clone().and_then(|key| {
            let object = ObjectRef::new(Kind::Service, key.clone());
            let mode = self.config.backend_mode;
            self.error_backend(&object, key, mode, "--default-backend-service")
        });
        self.global_error_backend = Some(resolved);
        resolved
    }

    fn error_backend(
        &mut self,
        object: &ObjectRef,
        key: ObjectKey,
        mode: crate::table::BackendMode,
        what: &str,
    ) -> Option<BackendId> {
        let first_port = self.index.services().get(&key).map(|svc| {
            svc.spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .and_then(|ports| ports.first())
                .and_then(|p| u16::try_from(p.port).ok())
        });
        let port = match first_port {
            Some(Some(port)) => port,
            found => {
                let (reason, detail) = match found {
                    None => (Reason::ServiceMissing, "not found"),
                    Some(_) => (Reason::ServicePortMissing, "has no port"),
                };
                let message =
                    format!("{what}: Service {key} {detail}; its errors are answered without it");
                self.diagnostics
                    .push(Diagnostic::warning(object.clone(), reason, message));
                return None;
            }
        };
        let service = ServiceRef {
            service: key,
            port: PortRef::Number(port),
        };
        Some(self.backend(object, service, mode))
    }

    /// The error pages of a route of `ingress` to `service`; `None` when nothing would answer
    /// them (no error backend) or nothing is asked of one.
    pub(super) fn error_pages(
        &mut self,
        settings: &ErrorSettings,
        own: Option<BackendId>,
        ingress: &ObjectKey,
        service: &ServiceRef,
    ) -> Option<Arc<ErrorPages>> {
        let codes = settings.codes.unwrap_or(self.config.custom_http_errors);
        if own.is_none() && codes.is_empty() {
            return None;
        }
        let global = self.global_error_backend();
        if own.is_none() && global.is_none() {
            return None;
        }
        let port = service.port.to_string();
        Some(Arc::new(ErrorPages {
            codes,
            intercept: settings.intercept,
            own,
            global,
            unavailable: own.is_some(),
            about: RouteHeaders::new(
                &ingress.namespace,
                &ingress.name,
                &service.service.name,
                &port,
            ),
        }))
    }

    /// Makes `--default-backend-service` the table's default backend when no Ingress's
    /// `spec.defaultBackend` claimed it. Its requests are labelled with the Service's key.
    pub(super) fn install_global_default_backend(&mut self) {
        if self.builder.current_default_backend().is_some() {
            return;
        }
        let Some(backend) = self.global_error_backend() else {
            return;
        };
        let Some(key) = self.config.default_backend_service.clone() else {
            return;
        };
        let codes = self.config.custom_http_errors;
        let error_pages = (!codes.is_empty()).then(|| {
            Arc::new(ErrorPages {
                codes,
                intercept: true,
                own: None,
                global: Some(backend),
                unavailable: false,
                about: RouteHeaders::new("", "", "", ""),
            })
        });
        let route = Route {
            ingress: key,
            backend,
            options: RouteOptions {
                error_pages,
                ..RouteOptions::default()
            },
        };
        // Checked just above: no default backend is set.
        let _ = self.builder.default_backend(route);
    }
}
