use strait_shared::CompileConfig;

use crate::support::*;

const OURS: &str = "strait.dev/ingress-controller";

fn routed(world: &World) -> bool {
    owner(&world.table(), "a.example.com", "/").is_some()
}

fn classless() -> serde_json::Value {
    Ing::new("default", "app")
        .class(None)
        .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
        .build()
}

#[test]
fn class_by_field_with_matching_controller() {
    let mut world = World::new();
    world.apply(ingress_class("edge", OURS, false));
    world.apply(
        Ing::new("default", "app")
            .class(Some("edge"))
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    assert!(routed(&world));
}

#[test]
fn class_field_naming_other_controller_is_ignored() {
    let mut world = World::new();
    // Even a class named like ours belongs to whoever its controller field names.
    world.apply(ingress_class("strait", "k8s.io/ingress-nginx", false));
    world.apply(simple("default", "app", "a.example.com"));
    let compiled = world.compile();
    assert_eq!(compiled.table.route_count(), 0);
    assert!(compiled.diagnostics.is_empty(), "not ours: no diagnostics");
}

#[test]
fn class_default_annotation_takes_classless_ingress() {
    let mut world = World::new();
    world.apply(classless());
    world.apply(ingress_class("edge", OURS, false));
    assert!(!routed(&world), "no default class yet");
    world.apply(ingress_class("edge", OURS, true));
    assert!(routed(&world));
    // Another controller's default class does not make classless Ingresses ours.
    world.apply(ingress_class("edge", "example.com/other", true));
    assert!(!routed(&world));
}

#[test]
fn class_legacy_annotation_honoured_when_field_empty() {
    let mut world = World::new();
    let legacy = |class: &str| {
        Ing::new("default", "app")
            .class(None)
            .annotation("kubernetes.io/ingress.class", class)
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .build()
    };
    world.apply(legacy("strait"));
    assert!(routed(&world));
    world.apply(legacy("nginx"));
    assert!(!routed(&world));
    // The field wins over the annotation.
    world.apply(
        Ing::new("default", "app")
            .class(Some("nginx"))
            .annotation("kubernetes.io/ingress.class", "strait")
            .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    assert!(!routed(&world));
}

#[test]
fn class_name_without_ingressclass_object_matches_flag() {
    let mut world = World::new();
    world.apply(simple("default", "app", "a.example.com"));
    assert!(
        routed(&world),
        "ingressClassName: strait with no IngressClass object"
    );
    world.config = CompileConfig {
        ingress_class: "edge".to_owned(),
        ..CompileConfig::default()
    };
    assert!(!routed(&world), "the name must equal --ingress-class");
}

#[test]
fn watch_without_class_flag() {
    let mut world = World::new();
    world.apply(classless());
    assert!(!routed(&world));
    world.config.watch_ingress_without_class = true;
    assert!(routed(&world));
}
