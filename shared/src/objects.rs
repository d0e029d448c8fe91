//! The Kubernetes objects Strait reads, decoded from JSON values (the manifests source) or
//! received from watches (the cluster source).

use k8s_openapi::api::core::v1::{Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::model::{Kind, ObjectKey};

/// One object of a kind Strait reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    IngressClass(Box<IngressClass>),
    Ingress(Box<Ingress>),
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Secret(Box<Secret>),
    Node(Box<Node>),
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

impl Object {
    /// Decodes one manifest document. `Ok(None)` for kinds Strait does not read (the caller
    /// logs them at debug); `kind: List` is the caller's to unpack.
    pub fn from_value(value: serde_json::Value) -> Result<Option<Self>, ObjectError> {
        let _ = value;
        todo!("helper A")
    }

    pub fn kind(&self) -> Kind {
        todo!("helper A")
    }

    pub fn key(&self) -> ObjectKey {
        todo!("helper A")
    }
}
