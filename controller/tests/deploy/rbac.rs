//! RBAC against the API calls the controller makes.

use super::*;

/// (API group, resource, verb).
type Grant = (String, String, String);

fn grants(file: &str, rules: Option<&Vec<PolicyRule>>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules.into_iter().flatten() {
        let urls = rule.non_resource_urls.is_some();
        check(file, !urls, "nonResourceURLs are not used");
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    let wild = [group, resource, verb].iter().any(|s| s.contains('*'));
                    assert!(!wild, "{file}: wildcard in {group:?} {resource} {verb}");
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

/// What `API_USE` asks for in `scope`.
fn used(scope: Scope) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for api in API_USE.iter().filter(|api| api.scope == scope) {
        for verb in api.verbs {
            out.insert((api.group.into(), api.resource.into(), (*verb).into()));
        }
    }
    out
}

fn binds_us(subjects: Option<&Vec<Subject>>) -> bool {
    subjects.into_iter().flatten().any(|s| {
        let namespace = s.namespace.as_deref();
        s.kind == "ServiceAccount" && s.name == SERVICE_ACCOUNT && namespace == Some(NAMESPACE)
    })
}

/// The grants of the role a binding in `namespace` refers to.
fn role_grants(deploy: &Deploy, file: &str, namespace: &str, role: &RoleRef) -> BTreeSet<Grant> {
    let name = role.name.as_str();
    let rules = match role.kind.as_str() {
        "ClusterRole" => find(&deploy.cluster_roles, "", name).map(|r| (&r.file, &r.object.rules)),
        "Role" => find(&deploy.roles, namespace, name).map(|r| (&r.file, &r.object.rules)),
        _ => None,
    };
    let (file, rules) = rules.unwrap_or_else(|| panic!("{file}: no {} {name}", role.kind));
    grants(file, rules.as_ref())
}

/// What strait/strait may do cluster-wide, and in its own namespace.
fn bound_grants(deploy: &Deploy) -> (BTreeSet<Grant>, BTreeSet<Grant>) {
    let mut cluster = BTreeSet::new();
    for Found { file, object } in &deploy.cluster_role_bindings {
        if binds_us(object.subjects.as_ref()) {
            let kind = object.role_ref.kind.as_str();
            same(file, "roleRef.kind", kind, "ClusterRole");
            cluster.extend(role_grants(deploy, file, "", &object.role_ref));
        }
    }
    let mut own = BTreeSet::new();
    for Found { file, object } in &deploy.role_bindings {
        let namespace = key(&object.metadata).0;
        same(file, "RoleBinding namespace", namespace, NAMESPACE);
        if binds_us(object.subjects.as_ref()) {
            own.extend(role_grants(deploy, file, namespace, &object.role_ref));
        }
    }
    (cluster, own)
}

#[test]
fn rbac_grants_exactly_the_api_calls_the_controller_makes() {
    let deploy = Deploy::load();
    let (cluster, own) = bound_grants(&deploy);
    let scopes = [(Scope::Cluster, cluster), (Scope::OwnNamespace, own)];
    for (scope, bound) in &scopes {
        if let Some((group, resource, verb)) = used(*scope).difference(bound).next() {
            panic!(
                "deploy/: nothing bound to ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT} grants \
                 `{verb}` on {group:?} {resource} ({scope:?}), which API_USE lists"
            );
        }
    }
    let extra = |file, rules, scope| grants(file, rules).difference(&used(scope)).next().cloned();
    for Found { file, object } in &deploy.cluster_roles {
        let extra = extra(file, object.rules.as_ref(), Scope::Cluster);
        same(file, "a grant API_USE does not list", extra, None);
    }
    for Found { file, object } in &deploy.roles {
        same(file, "Role namespace", key(&object.metadata).0, NAMESPACE);
        let extra = extra(file, object.rules.as_ref(), Scope::OwnNamespace);
        same(file, "a grant API_USE does not list", extra, None);
    }
}
