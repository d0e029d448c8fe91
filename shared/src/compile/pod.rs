//! pod mode ("1 hop"): the ready endpoint addresses of a Service's EndpointSlices.
//!
//! - Slices are found by the `kubernetes.io/service-name` label; only `IPv4` and `IPv6` slices
//!   are read (`FQDN` slices are skipped).
//! - The Service port's `name` (absent and empty are the same) picks the slice port of the
//!   same name; each slice gives its own port number, so slices may differ.
//! - An endpoint is ready unless `conditions.ready` is `false`. Ready endpoints are used;
//!   only when there is none are `serving && terminating` endpoints used (`serving` absent
//!   means the value of `ready`), so a rollout's last pods keep draining traffic.
//! - Each endpoint's first address is used (the addresses of one endpoint are fungible), with
//!   weight 1; an address listed twice counts once.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointConditions};

use super::context::{Located, parse_ip};
use crate::index::Index;
use crate::table::{Endpoint, Endpoints};

/// One endpoint chosen for a Service port.
#[derive(Clone, Copy, Debug)]
pub(super) struct Selected<'a> {
    pub(super) addr: SocketAddr,
    /// `nodeName`: where the endpoint runs, for nodeport mode's `Local` policy.
    pub(super) node: Option<&'a str>,
    /// `targetRef.name` (usually the Pod), to count a dual-stack pod once.
    pub(super) target: Option<&'a str>,
}

/// `previous`: the backend's set in the table being refreshed, whose learned state the new set
/// keeps (and which it is, when nothing changed).
pub(super) fn resolve(index: &Index, at: Located<'_>, previous: Option<&Endpoints>) -> Endpoints {
    let mut list: Vec<Endpoint> = select(index, at)
        .into_iter()
        .map(|s| Endpoint {
            addr: s.addr,
            weight: 1,
        })
        .collect();
    // An address listed by two slices (briefly, while the EndpointSlice controller moves it)
    // is still one pod: weight 1, not the sum `Endpoints::new` would give duplicates.
    list.sort_unstable();
    list.dedup();
    Endpoints::new_after(list, previous)
}

/// The endpoints that should take traffic: the ready ones, or when none is ready, the serving
/// and terminating ones.
pub(super) fn select<'a>(index: &'a Index, at: Located<'_>) -> Vec<Selected<'a>> {
    let port_name = at.port.name.as_deref().unwrap_or("");
    let mut ready = Vec::new();
    let mut draining = Vec::new();
    for slice in index.endpoint_slices_of(at.key) {
        let Some(port) = slice_port(slice, port_name) else {
            continue;
        };
        for endpoint in slice.endpoints.iter().flatten() {
            let Some(ip) = first_ip(endpoint) else {
                continue;
            };
            let selected = Selected {
                addr: SocketAddr::new(ip, port),
                node: endpoint.node_name.as_deref(),
                target: endpoint.target_ref.as_ref().and_then(|t| t.name.as_deref()),
            };
            match readiness(endpoint.conditions.as_ref()) {
                Readiness::Ready => ready.push(selected),
                Readiness::Draining => draining.push(selected),
                Readiness::Unready => {}
            }
        }
    }
    if ready.is_empty() { draining } else { ready }
}

/// The port number this slice gives the named Service port, if the slice is an IP slice that
/// carries it.
fn slice_port(slice: &EndpointSlice, port_name: &str) -> Option<u16> {
    if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
        return None;
    }
    slice
        .ports
        .as_ref()?
        .iter()
        .find(|p| p.name.as_deref().unwrap_or("") == port_name)
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
}

fn first_ip(endpoint: &SliceEndpoint) -> Option<IpAddr> {
    endpoint.addresses.first().and_then(|a| parse_ip(a))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Readiness {
    Ready,
    /// Serving while terminating: used only when nothing is ready.
    Draining,
    Unready,
}

fn readiness(conditions: Option<&EndpointConditions>) -> Readiness {
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
    let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
    if ready {
        Readiness::Ready
    } else if serving && terminating {
        Readiness::Draining
    } else {
        Readiness::Unready
    }
}
