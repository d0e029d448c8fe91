//! The object store as a pure index: `apply` and `delete` objects, then `compile` a table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::annotations::Finding;
use crate::model::{Diagnostic, Kind, ObjectKey};
use crate::objects::Object;
use crate::table::basic_auth::AuthSecret;
use crate::table::external_auth::{AUTH_PROXY_SET_HEADERS, HeaderData, config_map_ref};
use crate::table::{Refusal, RouteTable};
use crate::tls::upstream::UpstreamTlsSecret;
use crate::tls::{Certificate, CertificateError, ClientCa, ClientCaError};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `kubectl apply` keeps a full copy of the object here; Strait never reads it.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Every object Strait has seen, by kind and key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Index {
    // Objects are held by `Arc`: shared with the source that sent them (the manifests folder
    // keeps each file's objects), and one pointer per slot in the maps' nodes.
    ingress_classes: BTreeMap<ObjectKey, Arc<IngressClass>>,
    ingresses: BTreeMap<ObjectKey, Arc<Ingress>>,
    services: BTreeMap<ObjectKey, Arc<Service>>,
    endpoint_slices: BTreeMap<ObjectKey, Arc<EndpointSlice>>,
    /// Service key → keys of the EndpointSlices labelled with it.
    slices_by_service: BTreeMap<ObjectKey, BTreeSet<ObjectKey>>,
    /// TLS Secrets, parsed when applied; the raw Secret (key bytes included) is not kept.
    secrets: BTreeMap<ObjectKey, TlsSecret>,
    /// Other Secrets as basic auth reads them (htpasswd files and maps, parsed when applied).
    auth_secrets: BTreeMap<ObjectKey, Arc<AuthSecret>>,
    /// Secrets with `ca.crt` or `tls.crt`, as `proxy-ssl-secret` reads them (parsed when
    /// applied).
    upstream_tls_secrets: BTreeMap<ObjectKey, Arc<UpstreamTlsSecret>>,
    /// Secrets with a `ca.crt` as `auth-tls-secret` reads them (client-certificate trust,
    /// parsed when applied; an unchanged Secret keeps its `Arc`, and with it the proxy's
    /// server configuration for that CA).
    client_cas: BTreeMap<ObjectKey, ClientCaSecret>,
    /// ConfigMaps as `auth-proxy-set-headers` reads them: the header map, or why the data are
    /// not one (read when decoded; nothing else of the object is held).
    config_maps: BTreeMap<ObjectKey, HeaderData>,
    /// ConfigMaps some held Ingress names in `<any prefix>/auth-proxy-set-headers`, with how
    /// many name each: only a change of one of these can change a compiled table, so a change
    /// of any other ConfigMap costs no recompile.
    config_map_refs: BTreeMap<ObjectKey, usize>,
    nodes: BTreeMap<ObjectKey, Arc<Node>>,
}

/// A Secret as the index keeps it: its TLS material parsed and checked once, on apply.
pub type TlsSecret = Result<Arc<Certificate>, CertificateError>;

/// A Secret's `ca.crt` as the index keeps it: parsed into client-certificate trust, or why not.
pub type ClientCaSecret = Result<Arc<ClientCa>, ClientCaError>;

/// Endpoint data changed since a table was compiled: the EndpointSlices of these Services
/// (by the `kubernetes.io/service-name` label, before and after the change), and whether any
/// Node changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointChanges {
    pub services: BTreeSet<ObjectKey>,
    pub nodes: bool,
}

impl EndpointChanges {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && !self.nodes
    }
}

/// A table plus what was found while building it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compiled {
    pub table: RouteTable,
    /// Sorted, without duplicates: equal indexes give equal diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// One report per Ingress in the index (ours or not), in key order: the annotation
    /// verdicts that metrics, Events and `strait check` show.
    pub ingresses: Vec<IngressReport>,
}

/// What the compile made of one Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressReport {
    pub key: ObjectKey,
    /// The class it names (`spec.ingressClassName`, else the legacy annotation), if any.
    pub class: Option<String>,
    /// Selected by our class rules.
    pub ours: bool,
    /// `canary: "true"`: set aside (canary releases are not implemented yet).
    pub canary: bool,
    /// Its routes answer 503 for this reason.
    pub refusal: Option<Refusal>,
    /// Every annotation under our prefixes, classified.
    pub findings: Vec<Finding>,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces an object; `false` when that cannot change a compiled table (so the
    /// caller can skip a recompile): an equal object was already held, or it is a ConfigMap no
    /// Ingress names. `metadata.managedFields` and the `kubectl apply` last-applied annotation
    /// are dropped first: they are large and never read.
    pub fn apply(&mut self, mut object: Object) -> bool {
        if needs_trim(object.metadata()) {
            trim(object.metadata_mut());
        }
        let key = object.key();
        match object {
            Object::IngressClass(o) => replace(&mut self.ingress_classes, key, o),
            Object::Ingress(o) => {
                if self.ingresses.get(&key) == Some(&o) {
                    return false;
                }
                self.relink(&key, Some(&o));
                self.ingresses.insert(key, o);
                true
            }
            Object::Service(o) => replace(&mut self.services, key, o),
            Object::EndpointSlice(o) => {
                if self.endpoint_slices.get(&key) == Some(&o) {
                    return false;
                }
                self.apply_slice(key, o);
                true
            }
            Object::Secret(o) => {
                let parsed = Certificate::from_secret(&o).map(Arc::new);
                let auth_changed = match AuthSecret::from_secret(&o).map(Arc::new) {
                    Some(auth) => replace(&mut self.auth_secrets, key.clone(), auth),
                    None => self.auth_secrets.remove(&key).is_some(),
                };
                let upstream_changed = match UpstreamTlsSecret::from_secret(&o).map(Arc::new) {
                    Some(upstream) => {
                        replace(&mut self.upstream_tls_secrets, key.clone(), upstream)
                    }
                    None => self.upstream_tls_secrets.remove(&key).is_some(),
                };
                let ca_changed = match ClientCa::from_secret(&o) {
                    Some(ca) => {
                        let ca = ca.map(Arc::new);
                        replace(&mut self.client_cas, key.clone(), ca)
                    }
                    None => self.client_cas.remove(&key).is_some(),
                };
                replace(&mut self.secrets, key, parsed)
                    | auth_changed
                    | upstream_changed
                    | ca_changed
            }
            Object::ConfigMap(o) => {
                let changed = replace(&mut self.config_maps, key.clone(), o.headers.clone());
                changed && self.config_map_refs.contains_key(&key)
            }
            Object::Node(o) => replace(&mut self.nodes, key, o),
        }
    }

    /// Keys of every held object of `kind`.
    pub fn keys(&self, kind: Kind) -> Vec<ObjectKey> {
        fn keys<V>(map: &BTreeMap<ObjectKey, V>) -> Vec<ObjectKey> {
            map.keys().cloned().collect()
        }
        match kind {
            Kind::IngressClass => keys(&self.ingress_classes),
            Kind::Ingress => keys(&self.ingresses),
            Kind::Service => keys(&self.services),
            Kind::EndpointSlice => keys(&self.endpoint_slices),
            Kind::Secret => keys(&self.secrets),
            Kind::ConfigMap => keys(&self.config_maps),
            Kind::Node => keys(&self.nodes),
        }
    }

    /// Removes an object; `false` when it was not there, or (as [`apply`](Self::apply)) is a
    /// ConfigMap no Ingress names.
    pub fn delete(&mut self, kind: Kind, key: &ObjectKey) -> bool {
        match kind {
            Kind::IngressClass => self.ingress_classes.remove(key).is_some(),
            Kind::Ingress => {
                if !self.ingresses.contains_key(key) {
                    return false;
                }
                self.relink(key, None);
                self.ingresses.remove(key);
                true
            }
            Kind::Service => self.services.remove(key).is_some(),
            Kind::EndpointSlice => self.delete_slice(key),
            Kind::Secret => {
                self.auth_secrets.remove(key);
                self.upstream_tls_secrets.remove(key);
                self.client_cas.remove(key);
                self.secrets.remove(key).is_some()
            }
            Kind::ConfigMap => {
                self.config_maps.remove(key).is_some() && self.config_map_refs.contains_key(key)
            }
            Kind::Node => self.nodes.remove(key).is_some(),
        }
    }

    /// Number of objects held.
    pub fn len(&self) -> usize {
        self.ingress_classes.len()
            + self.ingresses.len()
            + self.services.len()
            + self.endpoint_slices.len()
            + self.secrets.len()
            + self.config_maps.len()
            + self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Service an EndpointSlice belongs to, by its `kubernetes.io/service-name` label.
    pub fn slice_service(&self, key: &ObjectKey) -> Option<ObjectKey> {
        owning_service(key, self.endpoint_slices.get(key)?)
    }

    /// Whether an object of `kind` with `key` is held.
    pub fn contains(&self, kind: Kind, key: &ObjectKey) -> bool {
        match kind {
            Kind::IngressClass => self.ingress_classes.contains_key(key),
            Kind::Ingress => self.ingresses.contains_key(key),
            Kind::Service => self.services.contains_key(key),
            Kind::EndpointSlice => self.endpoint_slices.contains_key(key),
            Kind::Secret => self.secrets.contains_key(key),
            Kind::ConfigMap => self.config_maps.contains_key(key),
            Kind::Node => self.nodes.contains_key(key),
        }
    }

    /// IngressClasses by name.
    pub fn ingress_classes(&self) -> &BTreeMap<ObjectKey, Arc<IngressClass>> {
        &self.ingress_classes
    }

    pub fn ingresses(&self) -> &BTreeMap<ObjectKey, Arc<Ingress>> {
        &self.ingresses
    }

    pub fn services(&self) -> &BTreeMap<ObjectKey, Arc<Service>> {
        &self.services
    }

    /// Secrets by key, each parsed into a certificate or the reason it is unusable.
    pub fn secrets(&self) -> &BTreeMap<ObjectKey, TlsSecret> {
        &self.secrets
    }

    /// Non-TLS Secrets as basic auth reads them, by key.
    pub fn auth_secrets(&self) -> &BTreeMap<ObjectKey, Arc<AuthSecret>> {
        &self.auth_secrets
    }

    /// Secrets as `proxy-ssl-secret` reads them (`ca.crt`, client key pair), by key.
    pub fn upstream_tls_secrets(&self) -> &BTreeMap<ObjectKey, Arc<UpstreamTlsSecret>> {
        &self.upstream_tls_secrets
    }

    /// Secrets with a `ca.crt`, as client-certificate trust (`auth-tls-secret`), by key.
    pub fn client_cas(&self) -> &BTreeMap<ObjectKey, ClientCaSecret> {
        &self.client_cas
    }

    /// ConfigMaps read as header maps (`auth-proxy-set-headers`), by key.
    pub fn config_maps(&self) -> &BTreeMap<ObjectKey, HeaderData> {
        &self.config_maps
    }

    /// Nodes by name.
    pub fn nodes(&self) -> &BTreeMap<ObjectKey, Arc<Node>> {
        &self.nodes
    }

    /// The EndpointSlices labelled with a Service (in the Service's namespace), in key order.
    pub fn endpoint_slices_of<'a>(
        &'a self,
        service: &ObjectKey,
    ) -> impl Iterator<Item = &'a EndpointSlice> + 'a {
        self.slices_by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|key| self.endpoint_slices.get(key).map(|slice| &**slice))
    }

    /// Moves the ConfigMap references of the Ingress `key` from its held version to `new`
    /// (`None`: it is being deleted).
    fn relink(&mut self, key: &ObjectKey, new: Option<&Ingress>) {
        let old: Vec<ObjectKey> = self
            .ingresses
            .get(key)
            .map(|ingress| config_map_refs(key, ingress))
            .unwrap_or_default();
        let new = new.map(|ingress| config_map_refs(key, ingress));
        if new.as_ref() == Some(&old) {
            return;
        }
        for gone in old {
            if let Some(count) = self.config_map_refs.get_mut(&gone) {
                *count -= 1;
                if *count == 0 {
                    self.config_map_refs.remove(&gone);
                }
            }
        }
        for named in new.into_iter().flatten() {
            *self.config_map_refs.entry(named).or_default() += 1;
        }
    }

    fn apply_slice(&mut self, key: ObjectKey, slice: Arc<EndpointSlice>) {
        let service = owning_service(&key, &slice);
        if let Some(old) = self.endpoint_slices.insert(key.clone(), slice) {
            self.unlink_slice(&key, &old);
        }
        if let Some(service) = service {
            self.slices_by_service
                .entry(service)
                .or_default()
                .insert(key);
        }
    }

    fn delete_slice(&mut self, key: &ObjectKey) -> bool {
        match self.endpoint_slices.remove(key) {
            Some(old) => {
                self.unlink_slice(key, &old);
                true
            }
            None => false,
        }
    }

    fn unlink_slice(&mut self, key: &ObjectKey, slice: &EndpointSlice) {
        let Some(service) = owning_service(key, slice) else {
            return;
        };
        if let Some(keys) = self.slices_by_service.get_mut(&service) {
            keys.remove(key);
            if keys.is_empty() {
                self.slices_by_service.remove(&service);
            }
        }
    }
}

/// The Service an EndpointSlice (with key `key`) belongs to, by its
/// `kubernetes.io/service-name` label.
pub fn owning_service(key: &ObjectKey, slice: &EndpointSlice) -> Option<ObjectKey> {
    let name = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    (!name.is_empty()).then(|| ObjectKey::new(key.namespace.clone(), name.clone()))
}

/// The ConfigMaps the Ingress `key` names in `auth-proxy-set-headers`, under any annotation
/// prefix (more than the compile reads is harmless: it only costs a recompile), without
/// repeats.
fn config_map_refs(key: &ObjectKey, ingress: &Ingress) -> Vec<ObjectKey> {
    let Some(annotations) = ingress.metadata.annotations.as_ref() else {
        return Vec::new();
    };
    let mut refs: Vec<ObjectKey> = annotations
        .iter()
        .filter(|(k, _)| {
            k.rsplit_once('/')
                .is_some_and(|(_, name)| name == AUTH_PROXY_SET_HEADERS)
        })
        .filter_map(|(_, value)| config_map_ref(&key.namespace, value).ok())
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// Inserts `value`; `false` when an equal value was already there.
fn replace<V: PartialEq>(map: &mut BTreeMap<ObjectKey, V>, key: ObjectKey, value: V) -> bool {
    match map.get(&key) {
        Some(held) if *held == value => false,
        _ => {
            map.insert(key, value);
            true
        }
    }
}

/// Whether [`trim`] has anything to drop (checked first: trimming copies a shared object).
fn needs_trim(meta: &ObjectMeta) -> bool {
    meta.managed_fields.is_some()
        || meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.is_empty() || a.contains_key(LAST_APPLIED_ANNOTATION))
}

fn trim(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}
