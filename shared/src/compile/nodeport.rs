//! nodeport mode ("2 hops"): each usable node's InternalIP with the Service's nodePort.
//!
//! - A node is usable when its `Ready` condition is `True` and it has an `InternalIP`. A node
//!   with no conditions at all counts as ready: standalone manifests often omit `status`, and
//!   a real kubelet always reports conditions.
//! - `externalTrafficPolicy: Cluster` (the default): every usable node, weight 1; kube-proxy
//!   forwards to any pod.
//! - `externalTrafficPolicy: Local`: only nodes hosting an endpoint that pod mode would pick
//!   (ready, else serving and terminating) — any other node drops the traffic — each weighted
//!   by how many such endpoints it hosts, so 1 pod on A and 3 on B give 25% / 75%.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use k8s_openapi::api::core::v1::ServicePort;

use super::context::{Cluster, Located};
use super::pod;
use crate::index::Index;
use crate::table::{Endpoint, Endpoints};

/// The Service port's nodePort, when it has a valid one.
pub(super) fn node_port(port: &ServicePort) -> Option<u16> {
    port.node_port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
}

/// The usable nodes come from `cluster`, computed once for every backend of a compile or
/// refresh (a Node change re-resolves every nodeport backend).
pub(super) fn resolve(cluster: &Cluster<'_>, at: Located<'_>) -> Endpoints {
    let Some(port) = node_port(at.port) else {
        return Endpoints::default();
    };
    let local = at
        .service
        .spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
        == Some("Local");
    let nodes = cluster.usable_nodes();
    let list = match local.then(|| endpoints_per_node(cluster.index, at)) {
        None => nodes
            .iter()
            .map(|&(_, ip)| Endpoint {
                addr: SocketAddr::new(ip, port),
                weight: 1,
            })
            .collect(),
        Some(weights) => nodes
            .iter()
            .filter_map(|&(name, ip)| {
                Some(Endpoint {
                    addr: SocketAddr::new(ip, port),
                    weight: *weights.get(name)?,
                })
            })
            .collect(),
    };
    Endpoints::new(list)
}

/// Node name → number of distinct selected endpoints on it. A dual-stack pod appears in an
/// IPv4 and an IPv6 slice; it is counted once (by `targetRef`, else by address).
fn endpoints_per_node<'a>(index: &'a Index, at: Located<'_>) -> BTreeMap<&'a str, u32> {
    let mut seen = BTreeSet::new();
    let mut counts = BTreeMap::new();
    for selected in pod::select(index, at) {
        let Some(node) = selected.node else {
            continue;
        };
        let identity = match selected.target {
            Some(target) => Ok(target),
            None => Err(selected.addr.ip()),
        };
        if seen.insert((node, identity)) {
            let count: &mut u32 = counts.entry(node).or_default();
            *count = count.saturating_add(1);
        }
    }
    counts
}
