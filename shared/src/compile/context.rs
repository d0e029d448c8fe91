//! The bottom layer of the compile: the state one compilation threads through its steps, and
//! the small types the backend modes share. It imports nothing from its sibling modules, so
//! every other module of `compile` can use it without forming a cycle.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service, ServicePort};

use crate::config::CompileConfig;
use crate::host::{HostPattern, wildcard_suffix};
use crate::index::Index;
use crate::model::{Diagnostic, ObjectKey};
use crate::table::{Endpoints, TableBuilder};

/// State threaded through one compilation.
pub(super) struct Compiler<'a> {
    pub(super) index: &'a Index,
    pub(super) config: &'a CompileConfig,
    pub(super) builder: TableBuilder,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Hosts of every `spec.tls` entry of our Ingresses, filled before the rules are compiled.
    pub(super) tls_hosts: TlsHosts,
    /// What backends resolve against (the index, and the usable nodes computed once).
    pub(super) cluster: Cluster<'a>,
    /// Regex hosts and app roots, filled before the rules are compiled.
    pub(super) regex: RegexPlan,
    /// `--default-backend-service`'s backend once resolved (`Some(None)`: it cannot serve).
    pub(super) global_error_backend: Option<Option<crate::table::BackendId>>,
    /// Each host's client-certificate auth (or refusal), filled before the rules.
    pub(super) client_auth:
        BTreeMap<HostPattern, Result<Arc<crate::table::ClientAuth>, crate::table::Refusal>>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(index: &'a Index, config: &'a CompileConfig) -> Self {
        Self {
            index,
            config,
            builder: TableBuilder::new(),
            diagnostics: Vec::new(),
            tls_hosts: TlsHosts::default(),
            cluster: Cluster::new(index),
            regex: RegexPlan::default(),
            global_error_backend: None,
            client_auth: BTreeMap::new(),
        }
    }
}

/// Hosts listed in (or served by) some `spec.tls` entry of our Ingresses: plain HTTP to them
/// redirects unless the owning Ingress opts out.
#[derive(Debug, Default)]
pub(super) struct TlsHosts(pub(super) BTreeSet<HostPattern>);

impl TlsHosts {
    /// Whether a rule's host is served over TLS: an exact host by its own entry or by a
    /// one-label wildcard entry above it; a wildcard host only by the same wildcard.
    pub(super) fn contains(&self, host: &HostPattern) -> bool {
        match host {
            HostPattern::Exact(h) => {
                self.0.contains(host)
                    || wildcard_suffix(h)
                        .is_some_and(|s| self.0.contains(&HostPattern::Wildcard(s.to_owned())))
            }
            HostPattern::Wildcard(_) => self.0.contains(host),
            HostPattern::Any => false,
        }
    }
}

/// What the paths of all our Ingresses decide per host before any is claimed
/// (docs/architecture.md, "Regex paths and rewrites").
#[derive(Debug, Default)]
pub(super) struct RegexPlan {
    /// Hosts that match every path by regex.
    pub(super) hosts: BTreeSet<HostPattern>,
    /// The `Exact` paths of each regex host, from every Ingress.
    pub(super) exact: BTreeMap<HostPattern, BTreeSet<String>>,
    /// Each host's `app-root`.
    pub(super) app_roots: BTreeMap<HostPattern, Arc<str>>,
}

/// The objects backends resolve against, with what is the same for every backend computed once
/// per compile or endpoint refresh rather than once per backend.
pub(super) struct Cluster<'a> {
    pub(super) index: &'a Index,
    /// The usable nodes (name and InternalIP, in address order), computed on first use: only
    /// nodeport backends read them.
    nodes: OnceCell<Vec<(&'a str, IpAddr)>>,
    /// The endpoints of each nodePort in `Cluster` policy (every usable node, weight 1), built
    /// on first use and shared by every backend on that nodePort.
    node_port_sets: RefCell<HashMap<u16, Endpoints, foldhash::fast::FixedState>>,
}

impl<'a> Cluster<'a> {
    pub(super) fn new(index: &'a Index) -> Self {
        Self {
            index,
            nodes: OnceCell::new(),
            node_port_sets: RefCell::default(),
        }
    }

    /// The endpoints of `node_port` in `Cluster` policy: built by `build` the first time this
    /// compile or refresh asks, then the same set (with a cursor of its own) for every other
    /// backend on that nodePort.
    pub(super) fn node_port_set(
        &self,
        node_port: u16,
        build: impl FnOnce() -> Endpoints,
    ) -> Endpoints {
        // `build` reads the nodes, never this map: the borrow cannot be taken twice.
        self.node_port_sets
            .borrow_mut()
            .entry(node_port)
            .or_insert_with(build)
            .clone()
    }

    /// Every usable node: name and InternalIP, in address order (then name), so that the
    /// endpoint list each nodePort builds from them is sorted already.
    pub(super) fn usable_nodes(&self) -> &[(&'a str, IpAddr)] {
        self.nodes.get_or_init(|| {
            let mut nodes: Vec<_> = self
                .index
                .nodes()
                .iter()
                .filter_map(|(key, node)| Some((key.name.as_str(), usable_ip(node)?)))
                .collect();
            nodes.sort_unstable_by_key(|&(name, ip)| (ip, name));
            nodes
        })
    }
}

/// The node's InternalIP when the node is usable: its `Ready` condition is `True`, or it has
/// no conditions at all (standalone manifests often omit `status`; a real kubelet always
/// reports conditions).
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

/// A Service port that exists and suits the backend mode.
#[derive(Clone, Copy)]
pub(super) struct Located<'a> {
    pub(super) key: &'a ObjectKey,
    pub(super) service: &'a Service,
    pub(super) port: &'a ServicePort,
}

/// The service port as a number, when it is a valid one.
pub(super) fn port_number(port: &ServicePort) -> Option<u16> {
    u16::try_from(port.port).ok().filter(|&p| p > 0)
}

/// Parses an address string from an object; `None` for anything that is not an IP.
pub(super) fn parse_ip(address: &str) -> Option<IpAddr> {
    address.parse().ok()
}
