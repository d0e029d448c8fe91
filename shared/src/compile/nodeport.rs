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
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::{Node, ServicePort};

use super::backend::{Located, parse_ip};
use super::pod;
use crate::index::Index;
use crate::table::{Endpoint, Endpoints};

/// The Service port's nodePort, when it has a valid one.
pub(super) fn node_port(port: &ServicePort) -> Option<u16> {
    port.node_port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
}

pub(super) fn resolve(index: &Index, at: Located<'_>) -> Endpoints {
    let Some(port) = node_port(at.port) else {
        return Endpoints::default();
    };
    let local = at
        .service
        .spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
        == Some("Local");
    let weights = local.then(|| endpoints_per_node(index, at));
    let mut list = Vec::new();
    for (key, node) in index.nodes() {
        let weight = match &weights {
            Some(weights) => match weights.get(key.name.as_str()) {
                Some(&count) => count,
                None => continue,
            },
            None => 1,
        };
        if let Some(ip) = usable_ip(node) {
            list.push(Endpoint {
                addr: SocketAddr::new(ip, port),
                weight,
            });
        }
    }
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

/// The node's InternalIP when the node is ready.
fn usable_ip(node: &Node) -> Option<IpAddr> {
    let status = node.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    let ready = conditions.is_empty()
        || conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
    if !ready {
        return None;
    }
    status?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| parse_ip(&a.address))
}
