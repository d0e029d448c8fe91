use serde_json::json;
use strait_shared::{Kind, Object, ObjectError, ObjectKey};

use crate::support::*;

fn populated() -> World {
    let mut world = World::new();
    web_service(&mut world, "default");
    world.apply(simple("default", "app", "a.example.com"));
    world.apply(
        Ing::new("default", "broken")
            .rule(
                "b.example.com",
                vec![
                    path("Prefix", "/", "missing", 80),
                    path("Regex", "/x", "web", 80),
                ],
            )
            .build(),
    );
    world
}

#[test]
fn identical_inputs_give_equal_tables() {
    let a = populated().compile();
    let b = populated().compile();
    assert_eq!(a.table, b.table);
    assert_eq!(a.diagnostics, b.diagnostics);
    assert!(!a.diagnostics.is_empty());
    let mut sorted = a.diagnostics.clone();
    sorted.sort();
    assert_eq!(a.diagnostics, sorted, "diagnostics come sorted");
}

#[test]
fn apply_then_delete_returns_previous_table() {
    let mut world = populated();
    let before = world.compile();
    world.apply(simple("default", "extra", "c.example.com"));
    world.apply(slice(
        "default",
        "web-2",
        "web",
        "IPv4",
        &[(Some("http"), 8080)],
        vec![ready("10.0.0.9")],
    ));
    let during = world.compile();
    assert_ne!(during.table, before.table);
    assert!(
        world
            .index
            .delete(Kind::Ingress, &ObjectKey::new("default", "extra"))
    );
    assert!(
        world
            .index
            .delete(Kind::EndpointSlice, &ObjectKey::new("default", "web-2"))
    );
    assert!(
        !world
            .index
            .delete(Kind::EndpointSlice, &ObjectKey::new("default", "web-2"))
    );
    let after = world.compile();
    assert_eq!(after.table, before.table);
    assert_eq!(after.diagnostics, before.diagnostics);
}

#[test]
fn unknown_kind_is_ignored() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
    assert!(matches!(Object::from_value(pod), Ok(None)));
    let old =
        json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"}});
    assert!(matches!(Object::from_value(old), Ok(None)));
}

#[test]
fn missing_type_meta_or_name_is_an_error() {
    let no_kind = json!({"metadata": {"name": "x"}});
    assert!(matches!(
        Object::from_value(no_kind),
        Err(ObjectError::MissingTypeMeta)
    ));
    let no_name = json!({"apiVersion": "v1", "kind": "Service", "metadata": {}});
    assert!(matches!(
        Object::from_value(no_name),
        Err(ObjectError::MissingName {
            kind: Kind::Service
        })
    ));
    let bad = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": 5});
    assert!(matches!(
        Object::from_value(bad),
        Err(ObjectError::Decode {
            kind: Kind::Service,
            ..
        })
    ));
}

#[test]
fn namespaced_kinds_default_to_default_namespace() {
    let svc = object(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}));
    assert_eq!(svc.kind(), Kind::Service);
    assert_eq!(svc.key(), ObjectKey::new("default", "web"));
    let node = object(json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "oops"},
    }));
    assert_eq!(node.key(), ObjectKey::cluster("n1"));
}

#[test]
fn apply_strips_managed_fields() {
    let mut world = World::new();
    world.apply(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
    }));
    let svc = &world.index.services()[&ObjectKey::new("default", "web")];
    assert_eq!(svc.metadata.managed_fields, None);
    assert_eq!(svc.metadata.annotations, None);
    assert_eq!(world.index.len(), 1);
}

#[test]
fn endpoint_slices_are_found_per_service_by_label() {
    let mut world = World::new();
    let eps = |svc: &str, name: &str| {
        slice(
            "default",
            name,
            svc,
            "IPv4",
            &[(None, 80)],
            vec![ready("10.0.0.1")],
        )
    };
    world.apply(eps("web", "s1"));
    world.apply(eps("web", "s2"));
    world.apply(eps("api", "s3"));
    let names = |world: &World, svc: &str| -> Vec<String> {
        world
            .index
            .endpoint_slices_of(&ObjectKey::new("default", svc))
            .filter_map(|s| s.metadata.name.clone())
            .collect()
    };
    assert_eq!(names(&world, "web"), ["s1", "s2"]);
    // Relabelling moves a slice to its new Service.
    world.apply(eps("api", "s2"));
    assert_eq!(names(&world, "web"), ["s1"]);
    assert_eq!(names(&world, "api"), ["s2", "s3"]);
    assert!(names(&world, "other").is_empty());
    assert_eq!(world.index.len(), 3);
}
