//! `strait check` on hand-built indexes: verdicts, class explanations, the ConfigMap table,
//! rendering and exit status; the input readers; the flags; and the cluster path against the
//! mock API server (STYLE item 7).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use clap::Parser as _;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use strait_shared::config::UnsupportedSecurity;
use strait_shared::{CompileConfig, Index, Object, ObjectKey, Reason, Refusal};

use super::render::columns;
use super::*;
use crate::cli::{Cli, Command};
use crate::cluster::mock::{self, ApiServer};

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
    let key = nginx("ssl-redirect");
    let loaded = with_service([ingress("default", "web", Some("strait"), &[(&key, "true")])]);
    let report = report(&loaded);
    assert_eq!(only(&report).verdict(), Verdict::Attention);
    assert_eq!(report.summary().keys["honoured-with-difference"], 1);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn an_unenforced_security_key_refuses_the_routes() {
    let key = nginx("auth-url");
    let loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "https://auth.example.com/check")],
    )]);
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
    let key = nginx("whitelist-source-range");
    let loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "10.0.0.0/8")],
    )]);
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
fn a_canary_is_set_aside_and_its_mainline_is_checked() {
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
    assert_eq!(canary.verdict(), Verdict::Canary);
    assert_eq!(main.verdict(), Verdict::Ok);
    assert!(table(&report).contains("canary: set aside"));
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
    let report = report(&with_service([rewrite]));
    let check = only(&report);
    assert_eq!(check.regex_paths, ["/something(/|$)(.*)"]);
    assert_eq!(check.verdict(), Verdict::Attention);
    assert!(table(&report).contains("regex-looking paths, matched literally"));
    assert_eq!(
        parsed_json(&report)["ingresses"][0]["regex_paths"][0],
        "/something(/|$)(.*)"
    );
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
        ("proxy-body-size", "16m", OptionStatus::NotEnforced, None),
        ("proxy-body-size", "", OptionStatus::NoFlag, None),
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
        OptionCheck::new("proxy-body-size", "16m")
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

#[test]
fn the_json_has_its_documented_fields() {
    let key = nginx("auth-type");
    let mut loaded = with_service([ingress(
        "default",
        "web",
        Some("strait"),
        &[(&key, "basic")],
    )]);
    loaded.notes.push("a note".to_owned());
    loaded.configmap = Some(BTreeMap::from([("hsts".to_owned(), "true".to_owned())]));
    let value = parsed_json(&report(&loaded));
    let fields = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        fields(&value),
        ["configmap", "diagnostics", "ingresses", "notes", "summary"]
    );
    let web = &value["ingresses"][0];
    assert_eq!(
        fields(web),
        [
            "annotations",
            "canary",
            "class",
            "diagnostics",
            "name",
            "namespace",
            "ours",
            "refused",
            "regex_paths",
            "verdict"
        ]
    );
    assert_eq!(fields(&web["class"]), ["name", "reason", "source"]);
    assert_eq!(fields(&web["refused"]), ["message", "reason"]);
    assert_eq!(
        fields(&web["annotations"][0]),
        [
            "key",
            "note",
            "restricts",
            "security",
            "status",
            "suggestion",
            "value"
        ]
    );
    assert_eq!(web["annotations"][0]["value"], "basic");
    assert_eq!(
        fields(&web["diagnostics"][0]),
        ["message", "reason", "severity"]
    );
    assert_eq!(
        fields(&value["configmap"][0]),
        ["attention", "flag", "key", "note", "status", "value"]
    );
    assert_eq!(
        fields(&value["summary"]),
        [
            "attention",
            "canary",
            "configmap_attention",
            "diagnostics",
            "exit_code",
            "ingresses",
            "keys",
            "not_ours",
            "ok",
            "ours",
            "refused"
        ]
    );
    assert_eq!(
        fields(&value["summary"]["keys"]),
        [
            "honoured",
            "honoured-with-difference",
            "ignored",
            "not-yet",
            "refused",
            "unknown"
        ]
    );
    assert_eq!(value["notes"], json!(["a note"]));
    assert_eq!(value["summary"]["exit_code"], 1);
}

#[test]
fn columns_are_aligned_without_trailing_spaces() {
    let rows = vec![
        vec!["a".to_owned(), "".to_owned(), "x".to_owned()],
        vec!["long key".to_owned(), "".to_owned(), "y".to_owned()],
        vec!["b".to_owned(), "v".to_owned(), "".to_owned()],
    ];
    assert_eq!(
        columns(&rows, 2),
        "  a            x\n  long key     y\n  b         v\n"
    );
}

#[test]
fn the_configmap_is_found_in_documents_and_lists() {
    let key = configmap_key();
    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
        "data": {"hsts": "false", "use-gzip": true, "empty": null}});
    let mut elsewhere = configmap.clone();
    elsewhere["metadata"]["namespace"] = json!("other");
    elsewhere["data"] = json!({"wrong": "one"});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [elsewhere, configmap]});
    let data = input::find_configmap(vec![list], &key).expect("found in the List");
    let expected = BTreeMap::from([
        ("empty".to_owned(), String::new()),
        ("hsts".to_owned(), "false".to_owned()),
        ("use-gzip".to_owned(), "true".to_owned()),
    ]);
    assert_eq!(data, expected);
    assert_eq!(
        input::find_configmap(vec![json!({"kind": "Service"})], &key),
        None
    );
}

#[test]
fn one_file_is_read_with_its_configmap_and_the_first_copy_wins() {
    let contents = "
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: web, namespace: default}
  spec: {ingressClassName: first}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
  data: {hsts: 'true'}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default}
spec: {ingressClassName: second}
";
    let loaded = read_contents(Path::new("<stdin>"), contents, &configmap_key()).expect("reads");
    let web = &loaded.index.ingresses()[&ObjectKey::new("default", "web")];
    assert_eq!(
        web.spec.as_ref().unwrap().ingress_class_name.as_deref(),
        Some("first")
    );
    assert_eq!(loaded.configmap.unwrap()["hsts"], "true");
    assert!(loaded.notes.is_empty());

    let without = read_contents(
        Path::new("x.yaml"),
        "apiVersion: v1\nkind: Other\n",
        &configmap_key(),
    )
    .unwrap();
    assert!(
        without.notes[0]
            .contains("ConfigMap ingress-nginx/ingress-nginx-controller is not in the input")
    );
    let broken = read_contents(Path::new("x.yaml"), "a: [\n", &configmap_key()).unwrap_err();
    assert!(broken.to_string().contains("x.yaml"), "{broken}");
}

#[test]
fn a_folder_that_does_not_parse_fails_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/bad.yaml"), "a: [\n").unwrap();
    let error = read_path(dir.path(), &configmap_key()).unwrap_err();
    assert!(error.to_string().contains("bad.yaml"), "{error}");
    let missing = read_path(&dir.path().join("missing"), &configmap_key()).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}

fn check(args: &[&str]) -> Result<CheckArgs, clap::Error> {
    let argv = ["strait", "check"].iter().chain(args);
    match Cli::try_parse_from(argv)?.command {
        Command::Check(check) => Ok(check),
        other => panic!("expected check, got {other:?}"),
    }
}

#[test]
fn flags_build_the_controllers_compile_config() {
    let args = check(&["-"]).unwrap();
    assert_eq!(args.translation.compile_config(), CompileConfig::default());
    assert_eq!(args.nginx_configmap, configmap_key());
    assert_eq!(args.output, OutputFormat::Table);

    let args = check(&[
        "--ingress-class=nginx,strait",
        "--controller-name",
        "k8s.io/ingress-nginx",
        "--watch-ingress-without-class",
        "--annotations-prefix=ingress.kubernetes.io",
        "--unsupported-security-annotations=serve",
        "--backend-mode=service",
        "--nginx-configmap=kube-system/nginx",
        "-o",
        "json",
        "./manifests",
    ])
    .unwrap();
    let config = args.translation.compile_config();
    assert_eq!(config.ingress_classes, ["nginx", "strait"]);
    assert_eq!(config.controller_names, ["k8s.io/ingress-nginx"]);
    assert!(config.watch_ingress_without_class);
    assert_eq!(config.annotations_prefix, "ingress.kubernetes.io");
    assert_eq!(config.unsupported_security, UnsupportedSecurity::Serve);
    assert_eq!(config.backend_mode, strait_shared::BackendMode::Service);
    assert_eq!(args.nginx_configmap, ObjectKey::new("kube-system", "nginx"));
    assert_eq!(args.output, OutputFormat::Json);
    assert_eq!(args.input.as_deref(), Some(Path::new("./manifests")));

    assert!(check(&[]).is_err(), "an input is required");
    assert!(check(&["--cluster", "./m"]).is_err(), "one input only");
    assert!(
        check(&["--kubeconfig", "k", "--cluster"]).is_err(),
        "one input only"
    );
    assert!(check(&["--cluster"]).unwrap().cluster);
    assert!(check(&["--nginx-configmap=nope", "-"]).is_err());
}

#[test]
fn the_cluster_reads_are_the_controllers_lists_plus_one_configmap_get() {
    for use_ in API_USE {
        if use_.resource == "configmaps" {
            assert_eq!(use_.verbs, ["get"]);
            continue;
        }
        let granted = crate::cluster::api::API_USE
            .iter()
            .find(|c| c.group == use_.group && c.resource == use_.resource)
            .unwrap_or_else(|| panic!("{} is not read by the controller", use_.resource));
        assert!(
            use_.verbs.iter().all(|v| granted.verbs.contains(v)),
            "{}: {:?} not within {:?}",
            use_.resource,
            use_.verbs,
            granted.verbs
        );
    }
}

const DEADLINE: Duration = Duration::from_secs(10);

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": format!("{kind}List"),
           "metadata": {"resourceVersion": "100"}, "items": items})
}

/// Answers one list of `path`, checking it is a plain (paged) list, not a watch.
async fn answer_list(api: &mut ApiServer, path: &str, kind: &str, items: Vec<Value>) {
    let call = api.expect(Method::GET, path).await;
    assert_eq!(call.query_value("watch"), None, "a list, not a watch");
    assert_eq!(call.query_value("limit").as_deref(), Some("500"));
    call.ok(&list(kind, items));
}

#[tokio::test]
async fn a_cluster_is_listed_once_per_kind_and_checked_like_a_folder() {
    let (client, mut api) = mock::pair();
    let auth = nginx("auth-url");
    let guarded = ingress(
        "default",
        "guarded",
        Some("nginx"),
        &[(&auth, "https://auth/check")],
    );
    let scenario = tokio::spawn(async move {
        let class = ingress_class("nginx", "k8s.io/ingress-nginx", false);
        answer_list(
            &mut api,
            "/apis/networking.k8s.io/v1/ingressclasses",
            "IngressClass",
            vec![class],
        )
        .await;
        let ingresses = vec![guarded, ingress("default", "plain", Some("nginx"), &[])];
        answer_list(
            &mut api,
            "/apis/networking.k8s.io/v1/ingresses",
            "Ingress",
            ingresses,
        )
        .await;
        let [svc, slice] = service("default");
        // Two pages: the continue token is followed.
        let call = api.expect(Method::GET, "/api/v1/services").await;
        let mut first = list("Service", vec![]);
        first["metadata"]["continue"] = json!("page-2");
        call.ok(&first);
        let call = api.expect(Method::GET, "/api/v1/services").await;
        assert_eq!(call.query_value("continue").as_deref(), Some("page-2"));
        call.ok(&list("Service", vec![svc]));
        answer_list(
            &mut api,
            "/apis/discovery.k8s.io/v1/endpointslices",
            "EndpointSlice",
            vec![slice],
        )
        .await;
        let secrets = api.expect(Method::GET, "/api/v1/secrets").await;
        assert_eq!(
            secrets.query_value("fieldSelector").as_deref(),
            Some("type=kubernetes.io/tls"),
            "only TLS Secrets, as the controller"
        );
        secrets.fail(StatusCode::FORBIDDEN, "Forbidden", "secrets is forbidden");
        answer_list(&mut api, "/api/v1/nodes", "Node", vec![]).await;
        let get = api
            .expect(
                Method::GET,
                "/api/v1/namespaces/ingress-nginx/configmaps/ingress-nginx-controller",
            )
            .await;
        get.ok(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
            "data": {"use-forwarded-headers": "true", "whitelist-source-range": "10.0.0.0/8"}}));
        api.expect_none(Duration::from_millis(100)).await;
    });
    let loaded = read_cluster(client, &configmap_key())
        .await
        .expect("reads the cluster");
    mock::verify(scenario, DEADLINE).await;

    assert!(
        loaded
            .notes
            .iter()
            .any(|n| n.starts_with("Secrets could not be listed (forbidden)")),
        "{:?}",
        loaded.notes
    );
    let config = CompileConfig {
        ingress_classes: vec!["nginx".to_owned()],
        controller_names: vec!["k8s.io/ingress-nginx".to_owned()],
        ..CompileConfig::default()
    };
    let report = build(&loaded, &config);
    let verdicts: Vec<(&str, Verdict)> = report
        .ingresses
        .iter()
        .map(|i| (i.key.name.as_str(), i.verdict()))
        .collect();
    assert_eq!(
        verdicts,
        [("guarded", Verdict::Refused), ("plain", Verdict::Ok)]
    );
    assert_eq!(
        report.ingresses[0].refusal,
        Some(Refusal::UnsupportedSecurityAnnotation)
    );
    let options: Vec<(&str, OptionStatus)> = report
        .configmap
        .iter()
        .map(|o| (o.key.as_str(), o.status))
        .collect();
    assert_eq!(
        options,
        [
            ("use-forwarded-headers", OptionStatus::Flag),
            ("whitelist-source-range", OptionStatus::NotEnforced)
        ]
    );
    assert_eq!(report.exit_code(), 1);
    assert!(table(&report).contains("Secrets could not be listed (forbidden)"));
}

#[tokio::test]
async fn a_forbidden_ingress_list_fails_the_check_and_a_missing_configmap_is_a_note() {
    let (client, mut api) = mock::pair();
    let scenario = tokio::spawn(async move {
        answer_list(
            &mut api,
            "/apis/networking.k8s.io/v1/ingressclasses",
            "IngressClass",
            vec![],
        )
        .await;
        let call = api
            .expect(Method::GET, "/apis/networking.k8s.io/v1/ingresses")
            .await;
        call.fail(StatusCode::FORBIDDEN, "Forbidden", "ingresses is forbidden");
    });
    let error = read_cluster(client, &configmap_key()).await.unwrap_err();
    mock::verify(scenario, DEADLINE).await;
    assert!(
        format!("{error:#}").contains("cannot list Ingresses"),
        "{error:#}"
    );

    let (client, mut api) = mock::pair();
    let scenario = tokio::spawn(async move {
        for (path, kind) in [
            ("/apis/networking.k8s.io/v1/ingressclasses", "IngressClass"),
            ("/apis/networking.k8s.io/v1/ingresses", "Ingress"),
            ("/api/v1/services", "Service"),
            ("/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlice"),
            ("/api/v1/secrets", "Secret"),
            ("/api/v1/nodes", "Node"),
        ] {
            answer_list(&mut api, path, kind, vec![]).await;
        }
        let get = api
            .expect(
                Method::GET,
                "/api/v1/namespaces/ingress-nginx/configmaps/ingress-nginx-controller",
            )
            .await;
        get.fail(StatusCode::NOT_FOUND, "NotFound", "configmaps not found");
    });
    let loaded = read_cluster(client, &configmap_key()).await.expect("reads");
    mock::verify(scenario, DEADLINE).await;
    assert_eq!(loaded.configmap, None);
    assert!(
        loaded.notes[0].contains("is not in the cluster"),
        "{:?}",
        loaded.notes
    );
}
