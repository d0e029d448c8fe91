//! service mode: the Service's ClusterIP and port, one endpoint; kube-proxy balances.
//! A headless Service (`clusterIP: None`) has nothing to send to.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Service;

use super::context::{Located, parse_ip, port_number};
use crate::table::{Endpoint, Endpoints};

/// `spec.clusterIP` when it is an address (not empty, not `None`).
pub(super) fn cluster_ip(service: &Service) -> Option<IpAddr> {
    service
        .spec
        .as_ref()?
        .cluster_ip
        .as_deref()
        .and_then(parse_ip)
}

/// `previous`: the backend's set in the table being refreshed (kept when the same).
pub(super) fn resolve(at: Located<'_>, previous: Option<&Endpoints>) -> Endpoints {
    let (Some(ip), Some(port)) = (cluster_ip(at.service), port_number(at.port)) else {
        return Endpoints::default();
    };
    let list = vec![Endpoint {
        addr: SocketAddr::new(ip, port),
        weight: 1,
    }];
    Endpoints::new_after(list, previous)
}
