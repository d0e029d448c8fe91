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

/// Whether `resource` (a plural, or `plural/subresource`) is cluster-scoped, by k8s-openapi's
/// types of the kinds `API_USE` names.
fn cluster_scoped(resource: &str) -> bool {
    fn scope<T: Resource<Scope: 'static>>() -> (&'static str, bool) {
        let cluster = TypeId::of::<T::Scope>() == TypeId::of::<ClusterResourceScope>();
        (T::URL_PATH_SEGMENT, cluster)
    }
    let kinds = [
        scope::<IngressClass>(),
        scope::<Ingress>(),
        scope::<Service>(),
        scope::<EndpointSlice>(),
        scope::<Secret>(),
        scope::<ConfigMap>(),
        scope::<Node>(),
        scope::<Event>(),
        scope::<Lease>(),
    ];
    let plural = resource.split('/').next().unwrap_or(resource);
    let found = kinds.iter().find(|(segment, _)| *segment == plural);
    let found = found.unwrap_or_else(|| panic!("rbac.rs: add the type of {resource} to `kinds`"));
    found.1
}

/// Where a grant applies: cluster-wide (`None`) or in one namespace.
type Grants = BTreeMap<Option<String>, BTreeSet<Grant>>;

/// What the controller started with `args` needs, and where: `API_USE`, with the namespaced
/// kinds in each `--watch-namespace` (everywhere without one), plus list/watch of the
/// `--publish-service` Service in its namespace (`cluster::status`'s Service watch).
fn required(args: &ControllerArgs) -> Grants {
    let mut out = Grants::new();
    let watched = &args.watch_namespace;
    for api in API_USE {
        let places: Vec<Option<String>> = match api.scope {
            Scope::OwnNamespace => vec![Some(NAMESPACE.to_owned())],
            Scope::Cluster if watched.is_empty() || cluster_scoped(api.resource) => vec![None],
            Scope::Cluster => watched.iter().cloned().map(Some).collect(),
        };
        for place in places {
            for verb in api.verbs {
                let grant = (api.group.into(), api.resource.into(), (*verb).into());
                out.entry(place.clone()).or_default().insert(grant);
            }
        }
    }
    if let Some(service) = &args.publish_service {
        let place = out.entry(Some(service.namespace.clone())).or_default();
        for verb in ["list", "watch"] {
            place.insert((String::new(), "services".into(), verb.into()));
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

/// What strait/strait may do cluster-wide and per namespace; fails on a Role or ClusterRole
/// that is bound to nothing of ours.
fn bound_grants(deploy: &Deploy) -> Grants {
    let mut out = Grants::new();
    let mut used = BTreeSet::new();
    for Found { file, object } in &deploy.cluster_role_bindings {
        if binds_us(object.subjects.as_ref()) {
            let kind = object.role_ref.kind.as_str();
            same(file, "roleRef.kind", kind, "ClusterRole");
            let grants = role_grants(deploy, file, "", &object.role_ref);
            out.entry(None).or_default().extend(grants);
            used.insert((kind.to_owned(), String::new(), object.role_ref.name.clone()));
        }
    }
    for Found { file, object } in &deploy.role_bindings {
        let namespace = key(&object.metadata).0;
        if binds_us(object.subjects.as_ref()) {
            let grants = role_grants(deploy, file, namespace, &object.role_ref);
            out.entry(Some(namespace.to_owned()))
                .or_default()
                .extend(grants);
            let role_ns = if object.role_ref.kind == "Role" {
                namespace
            } else {
                ""
            };
            let role = (
                object.role_ref.kind.clone(),
                role_ns.to_owned(),
                object.role_ref.name.clone(),
            );
            used.insert(role);
        }
    }
    let roles = deploy
        .cluster_roles
        .iter()
        .map(|r| ("ClusterRole", &r.file, &r.object.metadata));
    let roles = roles.chain(
        deploy
            .roles
            .iter()
            .map(|r| ("Role", &r.file, &r.object.metadata)),
    );
    for (kind, file, meta) in roles {
        let (namespace, name) = key(meta);
        let bound = used.contains(&(kind.to_owned(), namespace.to_owned(), name.to_owned()));
        check(
            file,
            bound,
            &format!("{kind} {namespace}/{name} is bound to nothing of ours"),
        );
    }
    out
}

#[test]
fn rbac_grants_exactly_the_api_calls_the_controller_makes() {
    for (deploy, _, args) in setup() {
        grants_exactly(&deploy, &args);
    }
}

fn grants_exactly(deploy: &Deploy, args: &ControllerArgs) {
    let file = &deploy.deployment().0.file;
    let (bound, required) = (bound_grants(deploy), required(args));
    let cluster_wide = bound.get(&None).cloned().unwrap_or_default();
    let place = |at: &Option<String>| at.as_deref().unwrap_or("cluster-wide").to_owned();
    for (at, needed) in &required {
        let mut effective = cluster_wide.clone();
        effective.extend(bound.get(at).into_iter().flatten().cloned());
        if let Some((group, resource, verb)) = needed.difference(&effective).next() {
            panic!(
                "{file}: nothing bound to ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT} grants \
                 `{verb}` on {group:?} {resource} ({}), which the controller uses",
                place(at)
            );
        }
    }
    for (at, granted) in &bound {
        let needed = required.get(at).cloned().unwrap_or_default();
        let extra = granted.difference(&needed).next();
        let what = format!("a grant ({}) the controller does not use", place(at));
        same(file, &what, extra, None);
    }
}
