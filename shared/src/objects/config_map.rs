//! ConfigMaps as Strait holds them: only what the compile reads, decided when the object is
//! decoded, so neither source queues nor caches data it will never use (docs/architecture.md,
//! "Auth subrequest headers from a ConfigMap").
//!
//! A cluster's ConfigMaps are mostly not Strait's business (`kube-root-ca.crt` in every
//! namespace, dashboards, scripts, application settings), and only `auth-proxy-set-headers`
//! reads any. So a ConfigMap is kept as its name and namespace plus its `data` read as a
//! header map ([`SetHeaders`]) when they are one — every key a header name, every value valid
//! header text, [`MAX_BYTES`](crate::table::external_auth::set_headers::MAX_BYTES) at most —
//! and otherwise as the reason it is not one ([`SetHeadersError`], a few bytes). The rest of
//! the object (labels, annotations, `binaryData`, which ingress-nginx does not read either) is
//! dropped.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::table::external_auth::{HeaderData, SetHeaders, SetHeadersError};

/// A ConfigMap reduced to what Strait reads of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigMapHeaders {
    /// Name and namespace only: the index compares held values to skip recompiles, so nothing
    /// that changes on every write (`resourceVersion`, `managedFields`) is kept.
    pub metadata: ObjectMeta,
    /// The data read as headers, or why they are not headers.
    pub headers: HeaderData,
}

impl ConfigMapHeaders {
    /// From a ConfigMap received from the API server.
    pub fn from_config_map(config_map: ConfigMap) -> Self {
        let headers = match &config_map.data {
            None => Ok(SetHeaders::default()),
            Some(data) => SetHeaders::parse(data.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        };
        Self {
            metadata: meta(config_map.metadata.name, config_map.metadata.namespace),
            headers: headers.map(Arc::new),
        }
    }

    /// From a manifest document with `metadata.name` `name`. Read leniently: a value that is
    /// not a string (an unquoted `true` in a hand-written file, which the API server would
    /// refuse) makes the data unusable as headers rather than failing the whole file, which
    /// may hold the ingress-nginx ConfigMap `strait check` reads on its own. A `null` value is
    /// empty, as the API server reads it.
    pub(crate) fn from_value(name: &str, value: &Value) -> Self {
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let headers = match value.get("data") {
            None | Some(Value::Null) => Ok(SetHeaders::default()),
            Some(Value::Object(data)) => {
                let text: Option<Vec<(&str, &str)>> = data
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Some((k.as_str(), s.as_str())),
                        Value::Null => Some((k.as_str(), "")),
                        _ => None,
                    })
                    .collect();
                match text {
                    Some(mut pairs) => {
                        // Key order, as the API server's map gives it (and nginx sends it).
                        pairs.sort_unstable();
                        SetHeaders::parse(pairs)
                    }
                    None => Err(SetHeadersError::NotText),
                }
            }
            Some(_) => Err(SetHeadersError::NotText),
        };
        Self {
            metadata: meta(Some(name.to_owned()), namespace),
            headers: headers.map(Arc::new),
        }
    }
}

fn meta(name: Option<String>, namespace: Option<String>) -> ObjectMeta {
    ObjectMeta {
        name,
        namespace,
        ..ObjectMeta::default()
    }
}
