//! Every Kubernetes API call the controller makes, as RBAC would name it. The deploy test
//! (`controller/tests/deploy/rbac.rs`) checks that every overlay of `deploy/` grants each of
//! these and nothing the controller does not use; code that adds a call adds it here.

/// Where a permission must be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In every watched namespace: a ClusterRole bound with a ClusterRoleBinding.
    Cluster,
    /// Only in Strait's own namespace: a Role (the leader Lease).
    OwnNamespace,
}

/// One resource and the verbs used on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiUse {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resource, with `/subresource` where one is used.
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub scope: Scope,
}

/// The calls made by watchers, the status writer, the Event recorder and leader election.
pub const API_USE: &[ApiUse] = &[
    ApiUse {
        group: "networking.k8s.io",
        resource: "ingressclasses",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "networking.k8s.io",
        resource: "ingresses",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "networking.k8s.io",
        resource: "ingresses/status",
        verbs: &["patch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "",
        resource: "services",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "discovery.k8s.io",
        resource: "endpointslices",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "",
        resource: "secrets",
        // Watched by field selector; never fetched by name.
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "",
        resource: "configmaps",
        // Watched (by field and label selector, for `auth-proxy-set-headers`); never fetched
        // by name.
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "",
        resource: "nodes",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        scope: Scope::Cluster,
    },
    ApiUse {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::OwnNamespace,
    },
];
