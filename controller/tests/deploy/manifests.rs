//! Every overlay of `deploy/`, as `kubectl kustomize` renders it, decoded by apiVersion/kind
//! into k8s-openapi types (and the Prometheus Operator's monitors, which k8s-openapi lacks, as
//! YAML values).

use super::*;

/// An object and the file it came from.
pub(crate) struct Found<T> {
    pub(crate) file: String,
    pub(crate) object: T,
}

#[derive(Default)]
pub(crate) struct Deploy {
    /// The overlay, e.g. `cloud`.
    pub(crate) overlay: &'static str,
    pub(crate) namespaces: Vec<Found<Namespace>>,
    pub(crate) service_accounts: Vec<Found<ServiceAccount>>,
    pub(crate) cluster_roles: Vec<Found<ClusterRole>>,
    pub(crate) cluster_role_bindings: Vec<Found<ClusterRoleBinding>>,
    pub(crate) roles: Vec<Found<Role>>,
    pub(crate) role_bindings: Vec<Found<RoleBinding>>,
    pub(crate) ingress_classes: Vec<Found<IngressClass>>,
    pub(crate) deployments: Vec<Found<Deployment>>,
    pub(crate) services: Vec<Found<Service>>,
    pub(crate) pdbs: Vec<Found<PodDisruptionBudget>>,
    /// `monitoring.coreos.com/v1` ServiceMonitors and PodMonitors.
    pub(crate) monitors: Vec<Found<Value>>,
}

impl Deploy {
    /// Every overlay in `deploy/overlays/`, rendered.
    pub(crate) fn all() -> Vec<Self> {
        rendered().iter().map(Self::decode).collect()
    }

    /// One overlay's rendering; each object's `file` names the overlay.
    fn decode(rendered: &Rendered) -> Self {
        let file = format!("deploy/overlays/{}", rendered.overlay);
        let mut deploy = Self {
            overlay: rendered.overlay,
            ..Self::default()
        };
        let documents = documents(&file, &rendered.yaml);
        assert!(!documents.is_empty(), "{file} renders no object");
        documents.iter().for_each(|doc| deploy.add(&file, doc));
        deploy
    }

    pub(crate) fn add(&mut self, file: &str, doc: &Value) {
        let known = take(&mut self.namespaces, file, doc)
            || take(&mut self.service_accounts, file, doc)
            || take(&mut self.cluster_roles, file, doc)
            || take(&mut self.cluster_role_bindings, file, doc)
            || take(&mut self.roles, file, doc)
            || take(&mut self.role_bindings, file, doc)
            || take(&mut self.ingress_classes, file, doc)
            || take(&mut self.deployments, file, doc)
            || take(&mut self.services, file, doc)
            || take(&mut self.pdbs, file, doc)
            || monitor(&mut self.monitors, file, doc);
        let (version, kind) = (&doc["apiVersion"], &doc["kind"]);
        assert!(known, "{file}: unexpected object {version} {kind}");
    }

    /// The one Deployment, its pod spec and its `strait` container.
    pub(crate) fn deployment(&self) -> (&Found<Deployment>, &PodSpec, &Container) {
        let [found] = &self.deployments[..] else {
            let count = self.deployments.len();
            panic!(
                "deploy/overlays/{}: {count} Deployments, expected 1",
                self.overlay
            );
        };
        let file = &found.file;
        let spec = found.object.spec.template.spec.as_ref();
        let spec = spec.unwrap_or_else(|| panic!("{file}: no pod spec"));
        let container = spec.containers.iter().find(|c| c.name == "strait");
        let container = container.unwrap_or_else(|| panic!("{file}: no container strait"));
        (found, spec, container)
    }
}

/// A Prometheus Operator monitor, kept as YAML: k8s-openapi has no type for it.
fn monitor(into: &mut Vec<Found<Value>>, file: &str, doc: &Value) -> bool {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let ours = doc["apiVersion"] == "monitoring.coreos.com/v1"
        && matches!(kind, "ServiceMonitor" | "PodMonitor");
    if ours {
        let file = file.to_owned();
        into.push(Found {
            file,
            object: doc.clone(),
        });
    }
    ours
}

/// Decodes `doc` into `T` when its apiVersion/kind are `T`'s. Encoding the object again must
/// give the document back: k8s-openapi skips unknown fields, so a misspelt one would vanish.
pub(crate) fn take<T>(into: &mut Vec<Found<T>>, file: &str, doc: &Value) -> bool
where
    T: Resource + DeserializeOwned + Serialize,
{
    if doc["apiVersion"] != T::API_VERSION || doc["kind"] != T::KIND {
        return false;
    }
    let what = format!("{file}: {} {}", T::KIND, doc["metadata"]["name"]);
    let object = T::deserialize(doc).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&object).expect("k8s-openapi objects serialize");
    if let Some(path) = lost(doc, &back, String::new()) {
        panic!("{what}: `{path}` is not a field Kubernetes knows, or its value is invalid");
    }
    let file = file.to_owned();
    into.push(Found { file, object });
    true
}

/// The first path where `doc` holds something that `back` does not.
pub(crate) fn lost(doc: &Value, back: &Value, path: String) -> Option<String> {
    match (doc, back) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(key, value)| {
            let here = format!("{path}.{key}");
            let Some(other) = b.get(key) else {
                return Some(here);
            };
            lost(value, other, here)
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            let mut pairs = a.iter().zip(b).enumerate();
            pairs.find_map(|(i, (x, y))| lost(x, y, format!("{path}[{i}]")))
        }
        _ => (doc != back).then_some(path),
    }
}

/// The object named `namespace/name` (`""` for cluster-scoped objects).
pub(crate) fn find<'a, T>(
    items: &'a [Found<T>],
    namespace: &str,
    name: &str,
) -> Option<&'a Found<T>>
where
    T: Metadata<Ty = ObjectMeta>,
{
    let wanted = (namespace, name);
    items.iter().find(|i| key(i.object.metadata()) == wanted)
}

pub(crate) fn key(meta: &ObjectMeta) -> (&str, &str) {
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    (namespace, meta.name.as_deref().unwrap_or_default())
}

/// Fails unless `ok`, naming the file and what was wrong.
#[track_caller]
pub(crate) fn check(file: &str, ok: bool, what: &str) {
    assert!(ok, "{file}: {what}");
}

/// Fails unless `found == expected`, naming the file and what was compared.
#[track_caller]
pub(crate) fn same<T: PartialEq + Debug>(file: &str, what: &str, found: T, expected: T) {
    let message = format!("{file}: {what}: {found:?}, expected {expected:?}");
    assert!(found == expected, "{message}");
}

#[test]
pub(crate) fn every_manifest_decodes_into_its_kubernetes_type() {
    for deploy in Deploy::all() {
        let (found, spec, _) = deploy.deployment();
        let file = &found.file;
        let namespace = find(&deploy.namespaces, "", NAMESPACE);
        check(file, namespace.is_some(), "no Namespace strait");
        let account = find(&deploy.service_accounts, NAMESPACE, SERVICE_ACCOUNT);
        check(file, account.is_some(), "no ServiceAccount strait");
        same(file, "namespace", key(&found.object.metadata).0, NAMESPACE);
        let account = spec.service_account_name.as_deref();
        same(file, "serviceAccountName", account, Some(SERVICE_ACCOUNT));
    }
}
