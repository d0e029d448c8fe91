use strait_shared::CompileConfig;

use crate::support::*;

const OURS: &str = "strait.dev/ingress-controller";
const NGINX: &str = "k8s.io/ingress-nginx";

/// `--ingress-class strait,nginx --controller-name strait.dev/ingress-controller,k8s.io/ingress-nginx`:
/// serving ingress-nginx's Ingresses side by side with it.
fn side_by_side() -> CompileConfig {
    CompileConfig {
        ingress_classes: vec!["strait".to_owned(), "nginx".to_owned()],
        controller_names: vec![OURS.to_owned(), NGINX.to_owned()],
        ..CompileConfig::default()
    }
}

fn by_field(class: &str) -> serde_json::Value {
    Ing::new("default", "app")
        .class(Some(class))
        .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
        .build()
}

fn by_legacy_annotation(class: &str) -> serde_json::Value {
    Ing::new("default", "app")
        .class(None)
        .annotation("kubernetes.io/ingress.class", class)
        .rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
        .build()
}

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
        ingress_classes: vec!["edge".to_owned()],
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

#[test]
fn class_by_field_with_any_of_our_controllers() {
    let mut world = World::new();
    world.apply(ingress_class("nginx", NGINX, false));
    world.apply(by_field("nginx"));
    assert!(
        !routed(&world),
        "ingress-nginx's class is not ours by default"
    );
    world.config = side_by_side();
    assert!(routed(&world), "its controller is one of --controller-name");
    // Our own controller name still counts.
    world.apply(ingress_class("nginx", OURS, false));
    assert!(routed(&world));
    world.apply(ingress_class("nginx", "example.com/other", false));
    assert!(!routed(&world), "a controller in none of the names");
}

#[test]
fn class_name_without_ingressclass_object_matches_any_class_flag() {
    let mut world = World::new();
    world.config = side_by_side();
    world.apply(by_field("nginx"));
    assert!(routed(&world), "nginx is one of --ingress-class");
    world.apply(by_field("strait"));
    assert!(routed(&world), "so is strait");
    world.apply(by_field("edge"));
    assert!(!routed(&world), "edge is not");
    // Once an IngressClass of that name exists, its controller decides.
    world.apply(by_field("nginx"));
    world.apply(ingress_class("nginx", "example.com/other", false));
    assert!(!routed(&world));
}

#[test]
fn class_legacy_annotation_matches_any_class_flag_or_our_class() {
    let mut world = World::new();
    world.apply(by_legacy_annotation("nginx"));
    assert!(
        !routed(&world),
        "nginx is not one of the default class names"
    );
    world.config = side_by_side();
    assert!(routed(&world), "nginx is one of --ingress-class");
    world.apply(by_legacy_annotation("strait"));
    assert!(routed(&world), "so is strait");
    // A class name not in the flag, naming an IngressClass of one of our controllers.
    world.apply(by_legacy_annotation("edge"));
    assert!(!routed(&world));
    world.apply(ingress_class("edge", NGINX, false));
    assert!(routed(&world));
}

#[test]
fn class_default_of_any_of_our_controllers_takes_classless_ingress() {
    let mut world = World::new();
    world.config = side_by_side();
    world.apply(classless());
    world.apply(ingress_class("nginx", NGINX, false));
    assert!(!routed(&world), "no default class");
    world.apply(ingress_class("nginx", NGINX, true));
    assert!(
        routed(&world),
        "ingress-nginx's default class is one of ours"
    );
}

#[test]
fn side_by_side_with_ingress_nginx_serves_its_three_kinds_of_ingress() {
    let mut world = World::new();
    world.config = side_by_side();
    let host = |name: &str| format!("{name}.example.com");
    let serving = |world: &World, name: &str| owner(&world.table(), &host(name), "/");
    // ingressClassName nginx, naming ingress-nginx's IngressClass.
    world.apply(ingress_class("nginx", NGINX, false));
    world.apply(
        Ing::new("shop", "by-class")
            .class(Some("nginx"))
            .rule(&host("by-class"), vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    // The legacy annotation.
    world.apply(
        Ing::new("shop", "legacy")
            .class(None)
            .annotation("kubernetes.io/ingress.class", "nginx")
            .rule(&host("legacy"), vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    // Our own class still works beside them; another controller's does not.
    world.apply(simple("shop", "ours", &host("ours")));
    world.apply(ingress_class("other", "example.com/other", false));
    world.apply(
        Ing::new("shop", "theirs")
            .class(Some("other"))
            .rule(&host("theirs"), vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    assert_eq!(
        serving(&world, "by-class").as_deref(),
        Some("shop/by-class")
    );
    assert_eq!(serving(&world, "legacy").as_deref(), Some("shop/legacy"));
    assert_eq!(serving(&world, "ours").as_deref(), Some("shop/ours"));
    assert_eq!(serving(&world, "theirs"), None);

    // ingressClassName nginx with no IngressClass object at all (e.g. a manifests folder).
    let mut folder = World::new();
    folder.config = side_by_side();
    folder.apply(
        Ing::new("shop", "by-name")
            .class(Some("nginx"))
            .rule(&host("by-name"), vec![path("Prefix", "/", "web", 80)])
            .build(),
    );
    assert_eq!(serving(&folder, "by-name").as_deref(), Some("shop/by-name"));
}
