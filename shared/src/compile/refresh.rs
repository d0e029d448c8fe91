//! The endpoint fast path: when only EndpointSlices or Nodes changed, recompute the endpoint
//! sets of the backends they touch and keep every router, certificate and other backend of
//! the table as it is.
//!
//! What each mode reads besides the Service (which has not changed):
//! - pod: the Service's EndpointSlices;
//! - nodeport: the Nodes, and with `externalTrafficPolicy: Local` also the Service's
//!   EndpointSlices (which nodes host a ready endpoint);
//! - service: nothing else (the ClusterIP is on the Service).
//!
//! A touched backend is resolved by [`backend::refreshed`], with the functions a full compile
//! uses, so the result equals a full compile's. Every `Cluster`-policy nodeport backend of one
//! nodePort gets the one set [`Cluster`] builds for that port: a Node change costs a set per
//! nodePort and, per backend, a map read and the new backend's allocation, with no Service
//! lookup. Endpoint state raises no diagnostic, so the previous diagnostics stay valid.

use super::backend;
use super::context::Cluster;
use crate::config::CompileConfig;
use crate::index::{EndpointChanges, Index};
use crate::table::{Backend, BackendMode, RouteTable};

/// `table` with the backends `changes` touch resolved again against `index`.
pub(crate) fn refresh_endpoints(
    index: &Index,
    table: &RouteTable,
    changes: &EndpointChanges,
    _config: &CompileConfig,
) -> RouteTable {
    let cluster = Cluster::new(index);
    table.refresh_backends(|b| touched(b, changes).then(|| backend::refreshed(&cluster, b)))
}

/// Whether `changes` may change what `backend` resolves to. A nodeport backend in `Cluster`
/// policy reads no slice, only the nodes.
fn touched(backend: &Backend, changes: &EndpointChanges) -> bool {
    let slices = || changes.services.contains(&backend.service.service);
    match backend.mode {
        BackendMode::Pod => slices(),
        BackendMode::NodePort if backend.cluster_node_port.is_some() => changes.nodes,
        BackendMode::NodePort => changes.nodes || slices(),
        BackendMode::Service => false,
    }
}
