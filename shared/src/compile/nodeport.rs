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

/// The nodePort whose node set a backend at `at` serves when the Service's
/// `externalTrafficPolicy` is `Cluster` (the default); `None` under `Local` or without a valid
/// nodePort. Such a backend's endpoints depend on nothing else ([`cluster_set`]).
pub(super) fn cluster_policy_port(at: Located<'_>) -> Option<u16> {
    let local = at
        .service
        .spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
        == Some("Local");
    node_port(at.port).filter(|_| !local)
}

/// The usable nodes come from `cluster`, computed once for every backend of a compile or
/// refresh. `previous`: the backend's set in the table being refreshed, whose learned state
/// the new set keeps (and which it is, when nothing changed).
pub(super) fn resolve(
    cluster: &Cluster<'_>,
    at: Located<'_>,
    previous: Option<&Endpoints>,
) -> Endpoints {
    if let Some(port) = cluster_policy_port(at) {
        return cluster_set(cluster, port, previous);
    }
    let Some(port) = node_port(at.port) else {
        return Endpoints::default();
    };
    // `Local`: each backend its own set, weighted by its own pods.
    let weights = endpoints_per_node(cluster.index, at);
    let list = cluster
        .usable_nodes()
        .iter()
        .filter_map(|&(name, ip)| {
            Some(Endpoint {
                addr: SocketAddr::new(ip, port),
                weight: *weights.get(name)?,
            })
        })
        .collect();
    Endpoints::new_after(list, previous)
}

/// `Cluster` policy: every usable node with `port`, weight 1. The set depends on nothing but
/// the port, so it is built once per nodePort per compile or refresh and shared by every
/// backend on that port; a Node change builds each nodePort's set once. `previous` is the
/// first such backend's set in the table being refreshed (the others held the same one).
pub(super) fn cluster_set(
    cluster: &Cluster<'_>,
    port: u16,
    previous: Option<&Endpoints>,
) -> Endpoints {
    cluster.node_port_set(port, || {
        let list = cluster
            .usable_nodes()
            .iter()
            .map(|&(_, ip)| Endpoint {
                addr: SocketAddr::new(ip, port),
                weight: 1,
            })
            .collect();
        Endpoints::new_after(list, previous)
    })
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
