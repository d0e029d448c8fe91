//! Ingress backends: from `IngressBackend` to a [`ServiceRef`], then to a backend of the table.
//!
//! The Service and its port are located on every reference (cheap map reads), so each Ingress
//! that names a missing Service or port gets its own diagnostic; the endpoints are resolved
//! once per Service port and mode by the mode's module. A backend that cannot serve is still
//! a backend: its route stays in the table and answers 503 rather than falling through.

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::networking::v1::IngressBackend;

use super::context::{Cluster, Compiler, Located};
use super::{cluster_ip, nodeport, pod};
use crate::index::Index;
use crate::model::{Diagnostic, ObjectKey, ObjectRef, Reason};
use crate::table::{Backend, BackendId, BackendMode, Endpoints, PortRef, ServiceRef, Unavailable};

impl Compiler<'_> {
    /// The table's backend for `service` in `mode`, reporting on `object` why it cannot serve
    /// when that is the user's to fix.
    pub(super) fn backend(
        &mut self,
        object: &ObjectRef,
        service: ServiceRef,
        mode: BackendMode,
    ) -> BackendId {
        let located = locate(self.index, &service, mode);
        if let Err(unavailable) = &located
            && let Some(diagnostic) = diagnostic(object, &service, mode, unavailable)
        {
            self.diagnostics.push(diagnostic);
        }
        let cluster = &self.cluster;
        self.builder
            .resolved_backend(service, mode, move |_, mode| {
                let cluster_node_port = match (&located, mode) {
                    (Ok(at), BackendMode::NodePort) => nodeport::cluster_policy_port(*at),
                    _ => None,
                };
                let state = located.and_then(|located| resolve(cluster, located, mode, None));
                (state, cluster_node_port)
            })
    }
}

/// The Service a backend names, in the Ingress's namespace. `Err` is the reason and detail of
/// an Error diagnostic: the path is skipped.
pub(super) fn service_ref(
    namespace: &str,
    backend: &IngressBackend,
) -> Result<ServiceRef, (Reason, String)> {
    let Some(service) = backend.service.as_ref() else {
        return Err(match &backend.resource {
            Some(resource) => (
                Reason::UnsupportedBackend,
                format!(
                    "resource backend {} {} is not supported; use a service backend",
                    resource.kind, resource.name
                ),
            ),
            None => (
                Reason::InvalidObject,
                "backend names neither a service nor a resource".to_owned(),
            ),
        });
    };
    if service.name.is_empty() {
        return Err((
            Reason::InvalidObject,
            "backend service has no name".to_owned(),
        ));
    }
    let port = service.port.as_ref();
    let number = port.and_then(|p| p.number);
    let name = port
        .and_then(|p| p.name.as_deref())
        .filter(|n| !n.is_empty());
    let port = match (number, name) {
        (Some(n), _) => match u16::try_from(n) {
            Ok(n) if n > 0 => PortRef::Number(n),
            _ => {
                let msg = format!("backend service {}: port {n} is out of range", service.name);
                return Err((Reason::InvalidObject, msg));
            }
        },
        (None, Some(name)) => PortRef::Name(name.to_owned()),
        (None, None) => {
            let msg = format!("backend service {} names no port", service.name);
            return Err((Reason::InvalidObject, msg));
        }
    };
    Ok(ServiceRef {
        service: ObjectKey::new(namespace, service.name.clone()),
        port,
    })
}

/// A backend's endpoint state again, for the endpoint fast path (`refresh.rs`): what a full
/// compile resolves it to, by the same functions, so both agree by construction. A
/// `Cluster`-policy nodeport backend is resolved from its nodePort alone ([`Backend`]'s
/// `cluster_node_port`): the Service it was located on has not changed. The backend's current
/// endpoints only decide which learned state the new set keeps, never its content.
pub(super) fn refreshed(
    cluster: &Cluster<'_>,
    backend: &Backend,
) -> Result<Endpoints, Unavailable> {
    let previous = backend.state.as_ref().ok();
    match backend.cluster_node_port {
        Some(port) => serving(nodeport::cluster_set(cluster, port, previous)),
        None => locate(cluster.index, &backend.service, backend.mode)
            .and_then(|located| resolve(cluster, located, backend.mode, previous)),
    }
}

/// Finds the Service and port, and checks that the Service has what `mode` needs.
fn locate<'a>(
    index: &'a Index,
    service: &ServiceRef,
    mode: BackendMode,
) -> Result<Located<'a>, Unavailable> {
    let (key, svc) = index
        .services()
        .get_key_value(&service.service)
        .ok_or(Unavailable::ServiceMissing)?;
    let spec = svc.spec.as_ref();
    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return Err(Unavailable::ExternalNameUnsupported);
    }
    let port = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .find(|p| is_tcp(p) && port_matches(p, &service.port))
        .ok_or(Unavailable::PortMissing)?;
    match mode {
        BackendMode::Pod => {}
        BackendMode::NodePort if nodeport::node_port(port).is_none() => {
            return Err(Unavailable::NoNodePort);
        }
        BackendMode::NodePort => {}
        BackendMode::Service if cluster_ip::cluster_ip(svc).is_none() => {
            return Err(Unavailable::NoClusterIp);
        }
        BackendMode::Service => {}
    }
    Ok(Located {
        key,
        service: svc,
        port,
    })
}

fn resolve(
    cluster: &Cluster<'_>,
    at: Located<'_>,
    mode: BackendMode,
    previous: Option<&Endpoints>,
) -> Result<Endpoints, Unavailable> {
    serving(match mode {
        BackendMode::Pod => pod::resolve(cluster.index, at, previous),
        BackendMode::NodePort => nodeport::resolve(cluster, at, previous),
        BackendMode::Service => cluster_ip::resolve(at, previous),
    })
}

/// A set with no endpoint cannot serve.
fn serving(endpoints: Endpoints) -> Result<Endpoints, Unavailable> {
    if endpoints.is_empty() {
        Err(Unavailable::NoReadyEndpoints)
    } else {
        Ok(endpoints)
    }
}

/// The `appProtocol` of the Service port `service` names, if it has one.
pub(super) fn app_protocol<'a>(index: &'a Index, service: &ServiceRef) -> Option<&'a str> {
    let svc = index.services().get(&service.service)?;
    svc.spec
        .as_ref()?
        .ports
        .as_ref()?
        .iter()
        .find(|p| is_tcp(p) && port_matches(p, &service.port))?
        .app_protocol
        .as_deref()
}

/// Ingress backends are HTTP: only TCP Service ports (no protocol means TCP) qualify.
fn is_tcp(port: &ServicePort) -> bool {
    port.protocol.as_deref().is_none_or(|p| p == "TCP")
}

fn port_matches(port: &ServicePort, by: &PortRef) -> bool {
    match by {
        PortRef::Number(n) => port.port == i32::from(*n),
        PortRef::Name(name) => port.name.as_deref() == Some(name.as_str()),
    }
}

/// A diagnostic for reasons the user can fix. A lack of ready endpoints is state, not a
/// mistake (pods start and stop), so it is not reported here.
fn diagnostic(
    object: &ObjectRef,
    service: &ServiceRef,
    mode: BackendMode,
    unavailable: &Unavailable,
) -> Option<Diagnostic> {
    let key = &service.service;
    let (reason, detail) = match unavailable {
        Unavailable::ServiceMissing => (Reason::ServiceMissing, format!("Service {key} not found")),
        Unavailable::PortMissing => (
            Reason::ServicePortMissing,
            format!("Service {key} has no TCP port {}", service.port),
        ),
        Unavailable::ExternalNameUnsupported => (
            Reason::UnsupportedBackend,
            format!("Service {key} is of type ExternalName, which is not supported"),
        ),
        Unavailable::NoNodePort => (
            Reason::BackendModeUnsupported,
            format!("nodeport mode needs a nodePort, and Service {key} has none on this port"),
        ),
        Unavailable::NoClusterIp => (
            Reason::BackendModeUnsupported,
            format!("service mode needs a ClusterIP, and Service {key} has none"),
        ),
        Unavailable::NoReadyEndpoints => return None,
    };
    let message = format!("backend {service} ({} mode): {detail}", mode.as_str());
    Some(Diagnostic::error(object.clone(), reason, message))
}

/// The secret a backend's ring and affinity cookies are keyed with (docs/architecture.md,
/// "Session affinity and consistent hashing"): the Service's UID, which every replica reads
/// alike, which survives table rebuilds and which clients never see, with the port. A Service
/// without a UID (a manifest folder that sets none) falls back to its namespace and name, as
/// public as ingress-nginx's salt.
pub(super) fn secret(index: &Index, service: &ServiceRef) -> std::sync::Arc<[u8]> {
    let uid = index
        .services()
        .get(&service.service)
        .and_then(|svc| svc.metadata.uid.as_deref())
        .filter(|uid| !uid.is_empty());
    let text = match uid {
        Some(uid) => format!("uid {uid} {}", service.port),
        None => format!("name {service}"),
    };
    std::sync::Arc::from(text.into_bytes())
}
