//! Cluster mode (`strait controller`): the Kubernetes API as a source of objects, and the
//! writers that only the leader runs.
//!
//! - [`sources`]: kube-runtime watchers per kind feeding the same [`Store`](crate::store)
//!   and compile-and-publish loop as the manifests folder.
//! - [`leader`]: leader election on a `coordination.k8s.io/v1` Lease.
//! - [`status`]: `status.loadBalancer.ingress` of our Ingresses (leader only; not started
//!   with `--update-status=false`).
//! - [`events`]: Warning and `Programmed` Events on Ingresses (leader only).
//! - [`api`]: every API call made, as RBAC names it (checked against `deploy/`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::networking::v1::IngressLoadBalancerIngress;
use strait_shared::{CompileConfig, Diagnostic, Index, ObjectKey};

pub mod api;
pub mod events;
pub mod leader;
mod run;
pub mod sources;
pub mod status;

pub use run::{Parts, connect, spawn_with};

#[cfg(test)]
pub(crate) mod mock;

/// Where the cluster is and what to write back to it (`strait controller`'s own flags).
/// [`Default`] writes status but does not elect a leader (a single replica, as in tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `--kubeconfig`; `None`: `KUBECONFIG`, else the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// `--watch-namespace`; empty: all namespaces.
    pub namespaces: Vec<String>,
    /// `--publish-service`: the LoadBalancer Service whose addresses go to Ingress status.
    pub publish_service: Option<ObjectKey>,
    /// `--publish-status-address`: fixed addresses for Ingress status.
    pub publish_addresses: Vec<String>,
    /// `--leader-election`: elect one writer (else this replica always writes).
    pub leader_election: bool,
    /// `--update-status`: write `status.loadBalancer.ingress` of our Ingresses. `false`
    /// leaves Ingress status alone entirely (the status writer is not started), for running
    /// beside ingress-nginx while it still owns status; Events are still posted.
    pub update_status: bool,
    /// `--election-id`: the Lease's name.
    pub election_id: String,
    /// `--election-namespace`: where the Lease lives; `None`: the pod's namespace. With
    /// neither, leader election cannot be shared by every instance, so this one never leads
    /// (it serves, and writes no status and no Events).
    pub election_namespace: Option<String>,
    /// The pod's namespace (`POD_NAMESPACE`), else the service account's, else `default`.
    pub pod_namespace: Option<String>,
    /// The pod's name (`POD_NAME`), else the host name.
    pub pod_name: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            namespaces: Vec::new(),
            publish_service: None,
            publish_addresses: Vec::new(),
            leader_election: false,
            update_status: true,
            election_id: String::new(),
            election_namespace: None,
            pod_namespace: None,
            pod_name: None,
        }
    }
}

/// What the compile loop hands the status writer and the Event recorder after each publish
/// that may have changed an Ingress (a full compile; the endpoint fast path sends none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Published {
    /// Generation of the table now served.
    pub generation: u64,
    /// Diagnostics of the compile that produced it (sorted, deduplicated).
    pub diagnostics: Vec<Diagnostic>,
    /// Every Ingress in the store, ours or not.
    pub ingresses: BTreeMap<ObjectKey, IngressState>,
}

/// The facts about one Ingress that status and Events need.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngressState {
    /// Selected by our class rules: Strait serves it.
    pub ours: bool,
    pub uid: Option<String>,
    /// `metadata.generation`: bumped by the API server on every spec change.
    pub generation: Option<i64>,
    pub resource_version: Option<String>,
    /// `status.loadBalancer.ingress` as last seen in the store.
    pub load_balancer: Vec<IngressLoadBalancerIngress>,
}

impl Published {
    /// The report for `index` compiled with `config` into table `generation`.
    pub fn from_index(
        index: &Index,
        config: &CompileConfig,
        generation: u64,
        diagnostics: Vec<Diagnostic>,
    ) -> Self {
        let ours = index.our_ingresses(config);
        let ingresses = index
            .ingresses()
            .iter()
            .map(|(key, ingress)| {
                let meta = &ingress.metadata;
                let state = IngressState {
                    ours: ours.contains(key),
                    uid: meta.uid.clone(),
                    generation: meta.generation,
                    resource_version: meta.resource_version.clone(),
                    load_balancer: ingress
                        .status
                        .as_ref()
                        .and_then(|s| s.load_balancer.as_ref())
                        .and_then(|lb| lb.ingress.clone())
                        .unwrap_or_default(),
                };
                (key.clone(), state)
            })
            .collect();
        Self {
            generation,
            diagnostics,
            ingresses,
        }
    }
}
