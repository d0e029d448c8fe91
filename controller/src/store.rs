//! The object store both sources feed: the manifests folder and the Kubernetes watches send
//! [`Change`]s, the store applies them to one [`Index`] and remembers what kind of recompile
//! they call for ([`Dirty`]): a full compile, or only the endpoint fast path when nothing but
//! EndpointSlices and Nodes changed.

use std::collections::{BTreeMap, BTreeSet};

use strait_shared::index::owning_service;
use strait_shared::{EndpointChanges, Index, Kind, Object, ObjectKey};

/// One change from a source.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// An object was added or modified.
    Apply(Object),
    /// An object was deleted.
    Delete(Kind, ObjectKey),
    /// Every object of `kind` there is now (a watch's first list, or its relist after an
    /// error), in one namespace or (`None`) all: held objects of that kind and scope that
    /// are not listed are deleted, except those in `keep` (listed but unreadable: they keep
    /// their last good version). Marks `kind` as synced.
    Relist {
        kind: Kind,
        namespace: Option<String>,
        objects: Vec<Object>,
        keep: BTreeSet<ObjectKey>,
    },
    /// Every object there is now, of every kind (a manifests folder scan). Marks every kind
    /// as synced.
    Replace(Vec<Object>),
}

/// What the changes since the last compile call for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Something other than endpoint data changed: recompile everything.
    pub full: bool,
    /// Endpoint data that changed (used when `full` is false).
    pub endpoints: EndpointChanges,
}

impl Dirty {
    pub fn is_clean(&self) -> bool {
        !self.full && self.endpoints.is_empty()
    }
}

/// The index plus change tracking and per-kind sync state.
#[derive(Debug, Default)]
pub struct Store {
    index: Index,
    dirty: Dirty,
    synced: BTreeSet<Kind>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Kinds that have been listed at least once.
    pub fn synced(&self) -> &BTreeSet<Kind> {
        &self.synced
    }

    /// Applies one change, noting what it dirtied. Changes that leave the index as it was
    /// (an object re-sent unchanged) dirty nothing.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Apply(object) => self.apply_object(object),
            Change::Delete(kind, key) => self.delete(kind, &key),
            Change::Relist {
                kind,
                namespace,
                objects,
                keep,
            } => self.relist(kind, namespace.as_deref(), objects, &keep),
            Change::Replace(objects) => {
                let mut by_kind: BTreeMap<Kind, Vec<Object>> =
                    Kind::ALL.into_iter().map(|k| (k, Vec::new())).collect();
                for object in objects {
                    by_kind.entry(object.kind()).or_default().push(object);
                }
                for (kind, objects) in by_kind {
                    self.relist(kind, None, objects, &BTreeSet::new());
                }
            }
        }
    }

    /// What changed since the last call, resetting it.
    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    /// Marks everything dirty (the first compile, or a forced one).
    pub fn mark_full(&mut self) {
        self.dirty.full = true;
    }

    fn apply_object(&mut self, object: Object) {
        let kind = object.kind();
        let before = self.slice_service(kind, &object.key());
        let after = match &object {
            Object::EndpointSlice(slice) => owning_service(&object.key(), slice),
            _ => None,
        };
        if self.index.apply(object) {
            self.note(kind, before.into_iter().chain(after));
        }
    }

    fn delete(&mut self, kind: Kind, key: &ObjectKey) {
        let service = self.slice_service(kind, key);
        if self.index.delete(kind, key) {
            self.note(kind, service);
        }
    }

    fn relist(
        &mut self,
        kind: Kind,
        namespace: Option<&str>,
        objects: Vec<Object>,
        keep: &BTreeSet<ObjectKey>,
    ) {
        let listed: BTreeSet<ObjectKey> = objects.iter().map(Object::key).collect();
        for key in self.index.keys(kind) {
            let in_scope = namespace.is_none_or(|ns| key.namespace == ns);
            if in_scope && !listed.contains(&key) && !keep.contains(&key) {
                self.delete(kind, &key);
            }
        }
        for object in objects {
            self.apply_object(object);
        }
        self.synced.insert(kind);
    }

    fn slice_service(&self, kind: Kind, key: &ObjectKey) -> Option<ObjectKey> {
        (kind == Kind::EndpointSlice)
            .then(|| self.index.slice_service(key))
            .flatten()
    }

    /// Records a change of `kind`; for EndpointSlices, `services` are the owners before and
    /// after.
    fn note(&mut self, kind: Kind, services: impl IntoIterator<Item = ObjectKey>) {
        match kind {
            Kind::EndpointSlice => self.dirty.endpoints.services.extend(services),
            Kind::Node => self.dirty.endpoints.nodes = true,
            _ => self.dirty.full = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: serde_json::Value) -> Object {
        Object::from_value(value).expect("decodes").expect("read")
    }

    fn slice(name: &str, service: &str, ip: &str) -> Object {
        object(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 8080}]
        }))
    }

    fn service(name: &str) -> Object {
        object(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80}]}
        }))
    }

    fn node(name: &str) -> Object {
        object(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("default", name)
    }

    #[test]
    fn a_slice_change_dirties_only_its_service_endpoints() {
        let mut store = Store::new();
        store.apply(Change::Apply(slice("web-1", "web", "10.0.0.1")));
        let dirty = store.take_dirty();
        assert!(!dirty.full);
        assert_eq!(dirty.endpoints.services, BTreeSet::from([key("web")]));
        assert!(store.take_dirty().is_clean());
    }

    #[test]
    fn a_relabelled_slice_dirties_the_old_and_the_new_service() {
        let mut store = Store::new();
        store.apply(Change::Apply(slice("s", "a", "10.0.0.1")));
        store.take_dirty();
        store.apply(Change::Apply(slice("s", "b", "10.0.0.1")));
        let dirty = store.take_dirty();
        assert_eq!(
            dirty.endpoints.services,
            BTreeSet::from([key("a"), key("b")])
        );
        store.apply(Change::Delete(Kind::EndpointSlice, key("s")));
        assert_eq!(
            store.take_dirty().endpoints.services,
            BTreeSet::from([key("b")])
        );
    }

    #[test]
    fn an_unchanged_object_dirties_nothing() {
        let mut store = Store::new();
        store.apply(Change::Apply(service("web")));
        assert!(store.take_dirty().full);
        store.apply(Change::Apply(service("web")));
        store.apply(Change::Apply(node("n1")));
        store.take_dirty();
        store.apply(Change::Apply(node("n1")));
        store.apply(Change::Delete(Kind::Service, key("missing")));
        assert!(store.take_dirty().is_clean());
    }

    #[test]
    fn nodes_take_the_fast_path_and_services_the_full_one() {
        let mut store = Store::new();
        store.apply(Change::Apply(node("n1")));
        let dirty = store.take_dirty();
        assert!(dirty.endpoints.nodes && !dirty.full);
        store.apply(Change::Apply(service("web")));
        assert!(store.take_dirty().full);
    }

    #[test]
    fn a_relist_deletes_what_it_no_longer_lists_and_marks_the_kind_synced() {
        let mut store = Store::new();
        store.apply(Change::Apply(service("a")));
        store.apply(Change::Apply(service("b")));
        store.take_dirty();
        assert!(store.synced().is_empty());
        store.apply(relist(None, vec![service("b")], &[]));
        assert!(store.take_dirty().full);
        assert_eq!(store.index().keys(Kind::Service), vec![key("b")]);
        assert_eq!(store.synced(), &BTreeSet::from([Kind::Service]));
        store.apply(relist(None, vec![service("b")], &[]));
        assert!(
            store.take_dirty().is_clean(),
            "an identical relist is no change"
        );
    }

    fn relist(namespace: Option<&str>, objects: Vec<Object>, keep: &[ObjectKey]) -> Change {
        Change::Relist {
            kind: Kind::Service,
            namespace: namespace.map(str::to_owned),
            objects,
            keep: keep.iter().cloned().collect(),
        }
    }

    #[test]
    fn a_relist_keeps_unreadable_objects_and_other_namespaces() {
        let mut store = Store::new();
        let other = object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "x", "namespace": "other"}, "spec": {}}));
        store.apply(Change::Apply(service("a")));
        store.apply(Change::Apply(service("b")));
        store.apply(Change::Apply(other));
        store.apply(relist(Some("default"), vec![], &[key("a")]));
        let keys = store.index().keys(Kind::Service);
        assert_eq!(keys, vec![key("a"), ObjectKey::new("other", "x")]);
    }

    #[test]
    fn a_replace_relists_every_kind() {
        let mut store = Store::new();
        store.apply(Change::Apply(service("a")));
        store.apply(Change::Apply(slice("a-1", "a", "10.0.0.1")));
        store.take_dirty();
        store.apply(Change::Replace(vec![
            slice("a-1", "a", "10.0.0.2"),
            service("a"),
        ]));
        let dirty = store.take_dirty();
        assert!(!dirty.full, "only the slice changed: {dirty:?}");
        assert_eq!(dirty.endpoints.services, BTreeSet::from([key("a")]));
        assert_eq!(store.synced().len(), Kind::ALL.len());
        store.apply(Change::Replace(vec![]));
        assert!(store.take_dirty().full);
        assert!(store.index().is_empty());
    }
}
