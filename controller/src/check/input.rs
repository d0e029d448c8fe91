//! Reading `strait check`'s input from files: a manifests folder (the same reader as
//! `strait serve --manifests`), one file, or standard input; and the ingress-nginx ConfigMap
//! from the raw documents, since the manifests parser decodes only the kinds Strait serves.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;
use strait_shared::{Index, ObjectKey};

use crate::manifests::{ManifestDir, ManifestError, documents, parse_file};

/// What the check read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// The objects Strait reads (Ingress, IngressClass, Service, EndpointSlice, Secret,
    /// ConfigMap as a header map, Node).
    pub index: Index,
    /// The `data` of the ingress-nginx ConfigMap, when the input holds it.
    pub configmap: Option<BTreeMap<String, String>>,
    /// What could not be read (forbidden lists, objects that do not decode), as sentences.
    pub notes: Vec<String>,
}

/// Reads a folder (recursively, like `strait serve --manifests`) or one file. Any file that
/// does not parse fails the check: a partial report would say less than it seems to.
pub fn read_path(path: &Path, configmap: &ObjectKey) -> anyhow::Result<Loaded> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_dir() {
        let contents = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return read_contents(path, &contents, configmap);
    }
    let mut dir = ManifestDir::open(path)?;
    let errors = dir.rescan().errors;
    if !errors.is_empty() {
        anyhow::bail!("{}", join(&errors));
    }
    let mut found = None;
    for file in dir.files() {
        let contents = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        found = found.or(find_configmap(documents(file, &contents)?, configmap));
    }
    Ok(loaded(dir.index(), found, configmap))
}

/// Reads standard input as one YAML (or JSON) stream.
pub fn read_stdin(configmap: &ObjectKey) -> anyhow::Result<Loaded> {
    let mut contents = String::new();
    std::io::stdin()
        .read_to_string(&mut contents)
        .context("cannot read standard input")?;
    read_contents(Path::new("<stdin>"), &contents, configmap)
}

/// Reads one file's contents (`path` names it in errors and picks the format: `.json` is
/// JSON, anything else YAML, which reads JSON too). When an object appears twice the first
/// wins, as in a folder.
pub fn read_contents(path: &Path, contents: &str, configmap: &ObjectKey) -> anyhow::Result<Loaded> {
    let mut index = Index::new();
    for object in parse_file(path, contents)? {
        if !index.contains(object.kind(), &object.key()) {
            index.apply(object);
        }
    }
    let found = find_configmap(documents(path, contents)?, configmap);
    Ok(loaded(index, found, configmap))
}

fn loaded(index: Index, found: Option<BTreeMap<String, String>>, key: &ObjectKey) -> Loaded {
    let notes = match found {
        Some(_) => Vec::new(),
        None => vec![format!(
            "ConfigMap {key} is not in the input: no ingress-nginx options checked (--nginx-configmap names another)"
        )],
    };
    Loaded {
        index,
        configmap: found,
        notes,
    }
}

/// The `data` of the ConfigMap `key` among `documents` (`kind: List` and `*List` unpacked).
/// Values that are not strings (an unquoted `true` in a hand-written file) are kept as
/// written.
pub fn find_configmap(documents: Vec<Value>, key: &ObjectKey) -> Option<BTreeMap<String, String>> {
    documents
        .into_iter()
        .flat_map(unpack)
        .find(|doc| is_configmap(doc, key))
        .map(|doc| configmap_data(&doc))
}

fn unpack(document: Value) -> Vec<Value> {
    let is_list = document
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"));
    match document {
        Value::Object(mut list) if is_list => match list.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        other => vec![other],
    }
}

fn is_configmap(doc: &Value, key: &ObjectKey) -> bool {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or_default().to_owned();
    let metadata = doc.get("metadata");
    text(doc.get("apiVersion")) == "v1"
        && text(doc.get("kind")) == "ConfigMap"
        && text(metadata.and_then(|m| m.get("namespace"))) == key.namespace
        && text(metadata.and_then(|m| m.get("name"))) == key.name
}

/// A ConfigMap's `data`, from a JSON value (`binaryData` is not options).
pub fn configmap_data(doc: &Value) -> BTreeMap<String, String> {
    let Some(data) = doc.get("data").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    data.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (key.clone(), value)
        })
        .collect()
}

fn join(errors: &[ManifestError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
