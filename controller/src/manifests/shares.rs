//! The folder and the store hold the same objects, not copies (docs/architecture.md, "Data
//! flow": the store).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use strait_shared::{Object, ObjectKey};

use super::ManifestDir;
use crate::store::{Change, Store};

const MANIFESTS: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: applied
  namespace: default
  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{}', team: a}
spec: {ports: [{port: 80}]}
";

fn loaded() -> (tempfile::TempDir, ManifestDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.yaml"), MANIFESTS).expect("write manifest");
    let mut folder = ManifestDir::open(dir.path()).expect("open folder");
    assert!(folder.rescan().errors.is_empty());
    let mut store = Store::new();
    store.apply(Change::Replace(
        folder.objects().into_iter().cloned().collect(),
    ));
    (dir, folder, store)
}

fn folder_service<'a>(folder: &'a ManifestDir, name: &str) -> &'a Object {
    let key = ObjectKey::new("default", name);
    folder
        .objects()
        .into_iter()
        .find(|o| o.key() == key)
        .expect("the folder holds the Service")
}

#[test]
fn the_store_holds_the_folders_objects_not_copies() {
    let (_dir, folder, store) = loaded();
    let Object::Service(in_folder) = folder_service(&folder, "web") else {
        panic!("web is a Service");
    };
    let in_store = &store.index().services()[&ObjectKey::new("default", "web")];
    assert!(Arc::ptr_eq(in_folder, in_store));
}

#[test]
fn an_object_with_something_to_trim_is_copied_and_trimmed_in_the_store_only() {
    let (_dir, folder, store) = loaded();
    let Object::Service(in_folder) = folder_service(&folder, "applied") else {
        panic!("applied is a Service");
    };
    let in_store = &store.index().services()[&ObjectKey::new("default", "applied")];
    assert!(!Arc::ptr_eq(in_folder, in_store));
    // Destructured: only the annotation registry reads `.annotations` fields (a test there).
    let ObjectMeta {
        annotations: kept, ..
    } = &in_store.metadata;
    let kept: Vec<&String> = kept.iter().flat_map(|a| a.keys()).collect();
    assert_eq!(kept, ["team"]);
    let ObjectMeta {
        annotations: held, ..
    } = &in_folder.metadata;
    let held = held.as_ref().map(|a| a.len());
    assert_eq!(held, Some(2), "the folder's copy is untouched");
}
