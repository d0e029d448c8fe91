//! `strait check` on hand-built indexes: verdicts, class explanations, the ConfigMap table,
//! rendering and exit status; the inputs, flags and cluster path are in [`sources`].

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strait_shared::config::UnsupportedSecurity;
use strait_shared::{CompileConfig, Index, Object, ObjectKey, Reason, Refusal};

use super::*;

const PREFIX: &str = "nginx.ingress.kubernetes.io";

fn object(value: Value) -> Object {
    Object::from_value(value)
        .expect("decodes")
        .expect("a kind Strait reads")
}

fn ingress(
    namespace: &str,
    name: &str,
    class: Option<&str>,
    annotations: &[(&str, &str)],
) -> Value {
    let annotations: BTreeMap<String, String> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut value = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"rules": [{"host": format!("{name}.example.com"), "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    });
    if let Some(class) = class {
        value["spec"]["ingressClassName"] = json!(class);
    }
    value
}

fn service(namespace: &str) -> [Value; 2] {
    [
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": namespace},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-1", "namespace": namespace,
                            "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}],
               "ports": [{"name": "http", "port": 8080}]}),
    ]
}

fn ingress_class(name: &str, controller: &str, default: bool) -> Value {
    let mut value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                           "metadata": {"name": name}, "spec": {"controller": controller}});
    if default {
        value["metadata"]["annotations"] =
            json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    value
}

fn loaded(values: impl IntoIterator<Item = Value>) -> Loaded {
    let mut index = Index::new();
    for value in values {
        index.apply(object(value));
    }
    Loaded {
        index,
        ..Loaded::default()
    }
}

fn with_service(ingresses: impl IntoIterator<Item = Value>) -> Loaded {
    loaded(ingresses.into_iter().chain(service("default")))
}

fn configmap_key() -> ObjectKey {
    ObjectKey::new("ingress-nginx", "ingress-nginx-controller")
}

fn build(loaded: &Loaded, config: &CompileConfig) -> Report {
    Report::build(loaded, config, &configmap_key())
}

fn report(loaded: &Loaded) -> Report {
    build(loaded, &CompileConfig::default())
}

fn nginx(name: &str) -> String {
    format!("{PREFIX}/{name}")
}

fn only(report: &Report) -> &IngressCheck {
    assert_eq!(report.ingresses.len(), 1, "{report:#?}");
    &report.ingresses[0]
}

fn parsed_json(report: &Report) -> Value {
    serde_json::from_str(&json(report)).expect("valid JSON")
}

#[test]
fn only_honoured_keys_and_no_diagnostic_exit_0() {
    let key = nginx("enable-access-log");
    let loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "false")],
    )]);
    let report = report(&loaded);
    let web = only(&report);
    assert_eq!(web.verdict(), Verdict::Ok);
    assert!(web.diagnostics.is_empty(), "{:?}", web.diagnostics);
    assert_eq!(report.exit_code(), 0);
    let summary = report.summary();
    assert_eq!(
        (summary.ours, summary.ok, summary.keys["honoured"]),
        (1, 1, 1)
    );
    let text = table(&report);
    assert!(text.contains("Ingress default/web: ok"), "{text}");
    assert!(text.contains("exit status 0"), "{text}");
}

#[test]
fn a_key_honoured_with_a_difference_needs_attention() {
    let key = nginx("server-alias");
    let loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "www.example.com")],
    )]);
    let report = report(&loaded);
    assert_eq!(only(&report).verdict(), Verdict::Attention);
    assert_eq!(report.summary().keys["honoured-with-difference"], 1);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn an_unenforced_security_key_refuses_the_routes() {
    let key = nginx("enable-modsecurity");
    let loaded = with_service([ingress("default", "web", Some("strait"), &[(&key, "true")])]);
    let report = report(&loaded);
    let web = only(&report);
    assert_eq!(web.verdict(), Verdict::Refused);
    assert_eq!(web.refusal, Some(Refusal::UnsupportedSecurityAnnotation));
    assert!(web.annotations[0].finding.restricts);
    assert!(
        web.diagnostics
            .iter()
            .any(|d| d.reason == Reason::UnsupportedAnnotation && d.message.contains(&key))
    );
    assert_eq!(report.exit_code(), 1);
    let text = table(&report);
    assert!(text.contains("Ingress default/web: REFUSED"), "{text}");
    assert!(
        text.contains("  route refused: its Ingress has a security annotation"),
        "{text}"
    );
    let value = parsed_json(&report);
    let web = &value["ingresses"][0];
    assert_eq!(web["verdict"], "refused");
    assert_eq!(web["refused"]["reason"], "unsupported_security_annotation");
    assert_eq!(web["annotations"][0]["status"], "not-yet");
    assert_eq!(web["annotations"][0]["security"], true);
    assert_eq!(value["summary"]["refused"], 1);
}

#[test]
fn serve_mode_serves_an_unenforced_key_but_still_exits_1() {
    let key = nginx("enable-modsecurity");
    let loaded = with_service([ingress("default", "web", Some("strait"), &[(&key, "true")])]);
    let config = CompileConfig {
        unsupported_security: UnsupportedSecurity::Serve,
        ..CompileConfig::default()
    };
    let report = build(&loaded, &config);
    let web = only(&report);
    assert_eq!(web.refusal, None);
    assert_eq!(web.verdict(), Verdict::Attention);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn a_snippet_refuses_and_a_typo_gets_a_suggestion() {
    let snippet = nginx("configuration-snippet");
    let typo = nginx("server-snippets");
    let loaded = with_service([
        ingress(
            "default",
            "a",
            Some("strait"),
            &[(&snippet, "more_set_headers x;")],
        ),
        ingress("default", "b", Some("strait"), &[(&typo, "return 200;")]),
    ]);
    let report = report(&loaded);
    assert_eq!(
        report.ingresses[0].refusal,
        Some(Refusal::SnippetAnnotation)
    );
    let b = &report.ingresses[1];
    assert_eq!(b.verdict(), Verdict::Attention);
    assert_eq!(
        b.annotations[0].finding.suggestion.as_deref(),
        Some("nginx.ingress.kubernetes.io/server-snippet")
    );
    let text = table(&report);
    assert!(
        text.contains("did you mean nginx.ingress.kubernetes.io/server-snippet?"),
        "{text}"
    );
    let summary = report.summary();
    assert_eq!((summary.keys["refused"], summary.keys["unknown"]), (1, 1));
    assert_eq!(summary.refused, 1);
}

#[test]
fn a_canary_joins_its_mainline_and_both_are_checked() {
    let canary = nginx("canary");
    let weight = nginx("canary-weight");
    let mut canary_ingress = ingress(
        "default",
        "canary",
        Some("strait"),
        &[(&canary, "true"), (&weight, "50")],
    );
    canary_ingress["spec"]["rules"][0]["host"] = json!("main.example.com");
    let loaded = with_service([
        ingress("default", "main", Some("strait"), &[]),
        canary_ingress,
    ]);
    let report = report(&loaded);
    let [canary, main] = &report.ingresses[..] else {
        panic!("two Ingresses: {report:#?}");
    };
    // `canary` is honoured with a difference (a canary joins only the routes it names).
    assert_eq!(canary.verdict(), Verdict::Attention);
    assert_eq!(main.verdict(), Verdict::Ok);
    assert!(table(&report).contains("canary: joins the routes of its main Ingress"));
    assert_eq!(report.summary().canary, 1);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn a_missing_service_is_a_diagnostic_of_its_ingress() {
    let report = report(&loaded([ingress("default", "web", Some("strait"), &[])]));
    let web = only(&report);
    assert_eq!(web.verdict(), Verdict::Attention);
    assert_eq!(web.diagnostics[0].reason, Reason::ServiceMissing);
    assert!(table(&report).contains("ServiceMissing"));
    assert_eq!(
        parsed_json(&report)["ingresses"][0]["diagnostics"][0]["reason"],
        "ServiceMissing"
    );
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn ingresses_are_sorted_by_namespace_then_name() {
    let report = report(&loaded([
        ingress("b", "a", Some("strait"), &[]),
        ingress("a", "z", Some("strait"), &[]),
        ingress("a", "b", Some("strait"), &[]),
    ]));
    let keys: Vec<String> = report.ingresses.iter().map(|i| i.key.to_string()).collect();
    assert_eq!(keys, ["a/b", "a/z", "b/a"]);
}

#[test]
fn class_explanations_follow_the_class_rules() {
    let legacy = [("kubernetes.io/ingress.class", "nginx")];
    let loaded = with_service([
        ingress_class("nginx", "k8s.io/ingress-nginx", false),
        ingress("default", "by-class-object", Some("nginx"), &[]),
        ingress("default", "by-name", Some("strait"), &[]),
        ingress("default", "other", Some("traefik"), &[]),
        ingress("default", "legacy", None, &legacy),
        ingress("default", "none", None, &[]),
    ]);
    let config = CompileConfig {
        ingress_classes: vec!["strait".to_owned(), "nginx".to_owned()],
        controller_names: vec!["k8s.io/ingress-nginx".to_owned()],
        ..CompileConfig::default()
    };
    let report = build(&loaded, &config);
    let class = |name: &str| {
        let check = report
            .ingresses
            .iter()
            .find(|i| i.key.name == name)
            .expect(name);
        (check.ours, check.class.source, check.class.reason.clone())
    };
    let (ours, source, reason) = class("by-class-object");
    assert!(ours && source == ClassSource::Field, "{reason}");
    assert!(
        reason.contains("IngressClass nginx has controller k8s.io/ingress-nginx"),
        "{reason}"
    );
    let (ours, _, reason) = class("by-name");
    assert!(
        ours && reason
            .contains("no IngressClass of that name, and strait is one of --ingress-class"),
        "{reason}"
    );
    let (ours, _, reason) = class("other");
    assert!(
        !ours && reason.contains("traefik is not one of --ingress-class strait,nginx"),
        "{reason}"
    );
    let (ours, source, reason) = class("legacy");
    assert!(ours && source == ClassSource::Annotation, "{reason}");
    assert!(
        reason.contains("annotation kubernetes.io/ingress.class: nginx"),
        "{reason}"
    );
    let (ours, source, reason) = class("none");
    assert!(!ours && source == ClassSource::None, "{reason}");
    assert!(reason.contains("--watch-ingress-without-class"), "{reason}");

    let text = table(&report);
    assert!(
        text.contains("Not ours (another controller's; nothing checked):"),
        "{text}"
    );
    assert!(
        text.contains("default/other  ingressClassName traefik"),
        "{text}"
    );
    assert!(
        !text.contains("Ingress default/other"),
        "not ours, listed briefly: {text}"
    );
    let value = parsed_json(&report);
    let other = &value["ingresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "other")
        .unwrap()
        .clone();
    assert_eq!(other["verdict"], "not-ours");
    assert_eq!(other["class"]["source"], "ingressClassName");
    assert_eq!(other["class"]["name"], "traefik");
}

#[test]
fn no_class_is_ours_by_flag_or_by_a_default_class() {
    let loaded = with_service([ingress("default", "none", None, &[])]);
    let watch = CompileConfig {
        watch_ingress_without_class: true,
        ..CompileConfig::default()
    };
    let report = build(&loaded, &watch);
    assert!(
        only(&report)
            .class
            .reason
            .contains("taken with --watch-ingress-without-class")
    );

    let mut with_default = with_service([ingress("default", "none", None, &[])]);
    with_default.index.apply(object(ingress_class(
        "strait",
        "strait.dev/ingress-controller",
        true,
    )));
    let report = build(&with_default, &CompileConfig::default());
    let none = only(&report);
    assert!(none.ours);
    assert!(
        none.class
            .reason
            .contains("the default IngressClass strait is ours"),
        "{}",
        none.class.reason
    );
}

#[test]
fn when_no_ingress_is_ours_the_check_says_so_and_exits_1() {
    let report = report(&with_service([ingress(
        "default",
        "web",
        Some("nginx"),
        &[],
    )]));
    assert_eq!(report.summary().ours, 0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("no Ingress is ours")),
        "{:?}",
        report.notes
    );
    assert_eq!(report.exit_code(), 1);

    let empty = report_of_nothing();
    assert!(
        empty
            .notes
            .iter()
            .any(|n| n == "the input holds no Ingress")
    );
    assert_eq!(empty.exit_code(), 0);
}

fn report_of_nothing() -> Report {
    report(&Loaded::default())
}

#[test]
fn regex_looking_paths_are_named() {
    let mut rewrite = ingress("default", "rewrite", Some("strait"), &[]);
    rewrite["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/something(/|$)(.*)");
    rewrite["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("ImplementationSpecific");
    let literal = report(&with_service([rewrite.clone()]));
    let check = only(&literal);
    assert_eq!(check.regex_paths, ["/something(/|$)(.*)"]);
    assert_eq!(check.verdict(), Verdict::Attention);
    assert!(table(&literal).contains("regex-looking paths, matched literally"));
    assert_eq!(
        parsed_json(&literal)["ingresses"][0]["regex_paths"][0],
        "/something(/|$)(.*)"
    );
    // With use-regex (or a rewrite-target) the Ingress's paths are regexes: nothing to name.
    rewrite["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/use-regex": "true"});
    let regex_on = report(&with_service([rewrite]));
    assert!(only(&regex_on).regex_paths.is_empty());
}

#[test]
fn configmap_options_map_to_flags_or_need_attention() {
    let cases = [
        (
            "use-forwarded-headers",
            "true",
            OptionStatus::Flag,
            Some("--trusted-proxies"),
        ),
        (
            "proxy-body-size",
            "16m",
            OptionStatus::Flag,
            Some("--max-body-size"),
        ),
        ("block-cidrs", "10.0.0.0/8", OptionStatus::NotEnforced, None),
        ("block-cidrs", "", OptionStatus::NoFlag, None),
        (
            "allow-snippet-annotations",
            "true",
            OptionStatus::NoFlag,
            None,
        ),
        ("worker-connections", "16384", OptionStatus::Unlisted, None),
    ];
    for (key, value, status, flag) in cases {
        let option = OptionCheck::new(key, value);
        assert_eq!(option.status, status, "{key}: {value:?}");
        assert_eq!(option.flag, flag, "{key}");
        assert_eq!(option.attention(), status != OptionStatus::Flag, "{key}");
    }
    assert!(
        OptionCheck::new("block-cidrs", "10.0.0.0/8")
            .note
            .starts_with("NOT ENFORCED")
    );
    assert_eq!(
        OptionCheck::new("worker-connections", "1").note,
        strait_shared::annotations::configmap::UNLISTED
    );
}

#[test]
fn a_configmap_option_needing_attention_alone_exits_1() {
    let clean = with_service([ingress("default", "web", Some("strait"), &[])]);
    let mut with_flag = clean.clone();
    with_flag.configmap = Some(BTreeMap::from([("hsts".to_owned(), "true".to_owned())]));
    let flagged = report(&with_flag);
    assert_eq!(flagged.exit_code(), 0, "a flag replaces it");
    let text = table(&flagged);
    assert!(
        text.contains("ingress-nginx ConfigMap ingress-nginx/ingress-nginx-controller:"),
        "{text}"
    );
    assert!(text.contains("--hsts: same default (on)"), "{text}");

    let mut unlisted = clean;
    unlisted.configmap = Some(BTreeMap::from([(
        "worker-connections".to_owned(),
        "1".to_owned(),
    )]));
    let report = report(&unlisted);
    assert_eq!(report.summary().configmap_attention, 1);
    assert_eq!(report.exit_code(), 1);
    let value = parsed_json(&report);
    assert_eq!(value["configmap"][0]["status"], "unlisted");
    assert_eq!(value["configmap"][0]["attention"], true);
}

mod render;
mod sources;
