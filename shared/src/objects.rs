//! The Kubernetes objects Strait reads, decoded from JSON values (the manifests source) or
//! received from watches (the cluster source).

use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::model::{Kind, ObjectKey};

mod config_map;

pub use config_map::ConfigMapHeaders;

/// One object of a kind Strait reads. Shared, not copied: the manifests folder keeps each
/// file's objects and the store's index holds the same ones, so a clone is a reference count.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    IngressClass(Arc<IngressClass>),
    Ingress(Arc<Ingress>),
    Service(Arc<Service>),
    EndpointSlice(Arc<EndpointSlice>),
    Secret(Arc<Secret>),
    /// Reduced when decoded to what `auth-proxy-set-headers` reads ([`ConfigMapHeaders`]).
    ConfigMap(Arc<ConfigMapHeaders>),
    Node(Arc<Node>),
}

/// Why a JSON value could not become an [`Object`].
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("document has no `kind` or `apiVersion`")]
    MissingTypeMeta,
    #[error("{kind} has no metadata.name")]
    MissingName { kind: Kind },
    #[error("{kind} {name}: {source}")]
    Decode {
        kind: Kind,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Namespace given to namespaced objects whose manifest names none, as `kubectl apply` does.
pub const DEFAULT_NAMESPACE: &str = "default";

impl Object {
    /// Decodes one manifest document. `Ok(None)` for kinds Strait does not read (the caller
    /// logs them at debug); `kind: List` is the caller's to unpack.
    ///
    /// Namespaced kinds without `metadata.namespace` get [`DEFAULT_NAMESPACE`]; cluster-scoped
    /// kinds (IngressClass, Node) have any namespace removed. Required fields that are absent
    /// decode to their defaults (k8s-openapi's behaviour), so e.g. a path without `pathType`
    /// reaches the translation and is reported there rather than rejecting the whole object.
    pub fn from_value(value: serde_json::Value) -> Result<Option<Self>, ObjectError> {
        let api_version = value.get("apiVersion").and_then(serde_json::Value::as_str);
        let kind = value.get("kind").and_then(serde_json::Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return Err(ObjectError::MissingTypeMeta);
        };
        let Some(kind) = Kind::from_type_meta(api_version, kind) else {
            return Ok(None);
        };
        let name = value
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(ObjectError::MissingName { kind })?
            .to_owned();
        let mut object = match kind {
            Kind::IngressClass => Self::IngressClass(decode(kind, &name, value)?),
            Kind::Ingress => Self::Ingress(decode(kind, &name, value)?),
            Kind::Service => Self::Service(decode(kind, &name, value)?),
            Kind::EndpointSlice => Self::EndpointSlice(decode(kind, &name, value)?),
            Kind::Secret => Self::Secret(decode(kind, &name, value)?),
            Kind::ConfigMap => {
                Self::ConfigMap(Arc::new(ConfigMapHeaders::from_value(&name, &value)))
            }
            Kind::Node => Self::Node(decode(kind, &name, value)?),
        };
        let namespaced = kind.is_namespaced();
        let meta = object.metadata_mut();
        if !namespaced {
            meta.namespace = None;
        } else if meta.namespace.as_deref().is_none_or(str::is_empty) {
            meta.namespace = Some(DEFAULT_NAMESPACE.to_owned());
        }
        Ok(Some(object))
    }

    pub fn kind(&self) -> Kind {
        match self {
            Self::IngressClass(_) => Kind::IngressClass,
            Self::Ingress(_) => Kind::Ingress,
            Self::Service(_) => Kind::Service,
            Self::EndpointSlice(_) => Kind::EndpointSlice,
            Self::Secret(_) => Kind::Secret,
            Self::ConfigMap(_) => Kind::ConfigMap,
            Self::Node(_) => Kind::Node,
        }
    }

    /// Namespace and name; cluster-scoped kinds always get an empty namespace.
    pub fn key(&self) -> ObjectKey {
        key_of(self.kind(), self.metadata())
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::IngressClass(o) => &o.metadata,
            Self::Ingress(o) => &o.metadata,
            Self::Service(o) => &o.metadata,
            Self::EndpointSlice(o) => &o.metadata,
            Self::Secret(o) => &o.metadata,
            Self::ConfigMap(o) => &o.metadata,
            Self::Node(o) => &o.metadata,
        }
    }

    /// The metadata to change; the object is copied first if it is shared
    /// ([`Arc::make_mut`]), so check that there is something to change before calling this on
    /// an object that may be held elsewhere.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::IngressClass(o) => &mut Arc::make_mut(o).metadata,
            Self::Ingress(o) => &mut Arc::make_mut(o).metadata,
            Self::Service(o) => &mut Arc::make_mut(o).metadata,
            Self::EndpointSlice(o) => &mut Arc::make_mut(o).metadata,
            Self::Secret(o) => &mut Arc::make_mut(o).metadata,
            Self::ConfigMap(o) => &mut Arc::make_mut(o).metadata,
            Self::Node(o) => &mut Arc::make_mut(o).metadata,
        }
    }
}

/// The key of an object of `kind` with metadata `meta` (also for objects that did not decode):
/// cluster-scoped kinds always get an empty namespace.
pub fn key_of(kind: Kind, meta: &ObjectMeta) -> ObjectKey {
    let name = meta.name.clone().unwrap_or_default();
    if kind.is_namespaced() {
        ObjectKey::new(meta.namespace.clone().unwrap_or_default(), name)
    } else {
        ObjectKey::cluster(name)
    }
}

fn decode<T: DeserializeOwned>(
    kind: Kind,
    name: &str,
    value: serde_json::Value,
) -> Result<Arc<T>, ObjectError> {
    serde_json::from_value(value)
        .map(Arc::new)
        .map_err(|source| ObjectError::Decode {
            kind,
            name: name.to_owned(),
            source,
        })
}

macro_rules! from_k8s {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Object {
            fn from(object: $variant) -> Self {
                Self::$variant(Arc::new(object))
            }
        }
    )*};
}

from_k8s!(IngressClass, Ingress, Service, EndpointSlice, Secret, Node);

impl From<ConfigMap> for Object {
    /// Reduced at once: only its name, namespace and header data are kept.
    fn from(object: ConfigMap) -> Self {
        Self::ConfigMap(Arc::new(ConfigMapHeaders::from_config_map(object)))
    }
}
