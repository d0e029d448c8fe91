//! `strait check`'s inputs: documents and files, the flags, and the cluster path against the
//! mock API server (STYLE item 7).

use std::path::Path;
use std::time::Duration;

use clap::Parser as _;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::cli::{Cli, Command};
use crate::cluster::mock::{self, ApiServer};

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
        let mut verbs = use_.verbs.to_vec();
        if use_.resource == "configmaps" {
            assert_eq!(verbs.pop(), Some("get"), "ingress-nginx's ConfigMap");
        }
        let granted = crate::cluster::api::API_USE
            .iter()
            .find(|c| c.group == use_.group && c.resource == use_.resource)
            .unwrap_or_else(|| panic!("{} is not read by the controller", use_.resource));
        assert!(
            verbs.iter().all(|v| granted.verbs.contains(v)),
            "{}: {:?} not within {:?}",
            use_.resource,
            verbs,
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
    let auth = nginx("enable-modsecurity");
    let guarded = ingress("default", "guarded", Some("nginx"), &[(&auth, "true")]);
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
            Some(crate::cluster::sources::WATCHED_SECRETS),
            "the Secrets the controller watches"
        );
        secrets.fail(StatusCode::FORBIDDEN, "Forbidden", "secrets is forbidden");
        let config_maps = api.expect(Method::GET, "/api/v1/configmaps").await;
        assert_eq!(
            config_maps.query_value("fieldSelector").as_deref(),
            Some(crate::cluster::sources::WATCHED_CONFIG_MAPS),
            "the ConfigMaps the controller watches"
        );
        assert_eq!(
            config_maps.query_value("labelSelector").as_deref(),
            Some(crate::cluster::sources::UNWATCHED_CONFIG_MAP_LABELS)
        );
        config_maps.ok(&list(
            "ConfigMap",
            vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "auth-headers", "namespace": "default"},
            "data": {"X-Tenant": "a"}})],
        ));
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
    let header_map = loaded
        .index
        .config_maps()
        .get(&ObjectKey::new("default", "auth-headers"));
    assert!(
        matches!(header_map, Some(Ok(h)) if h.len() == 1),
        "{header_map:?}"
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
            ("whitelist-source-range", OptionStatus::Flag)
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
            ("/api/v1/configmaps", "ConfigMap"),
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
