//! The watches against a mock API server (STYLE item 7): the initial list and the watch of
//! each kind, in the request order kube-runtime's watcher uses, and what reaches the compile
//! loop.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use strait_shared::{Kind, Object, ObjectKey};
use tokio::sync::mpsc;

use prometheus_client::registry::Registry;

use super::*;
use crate::cluster::mock::{self, ApiServer};
use crate::metrics::encode;

const DEADLINE: Duration = Duration::from_secs(10);

fn context(client: Client) -> (WatchContext, mpsc::Receiver<Change>, Registry) {
    let (changes, received) = mpsc::channel(64);
    let mut registry = Registry::with_prefix("strait");
    let metrics = ClusterMetrics::register(&mut registry);
    let context = WatchContext {
        client,
        changes,
        metrics,
        readiness: Readiness::new(),
        annotations_prefix: Arc::from("nginx.ingress.kubernetes.io"),
        health: Arc::default(),
    };
    (context, received, registry)
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": format!("{kind}List"),
           "metadata": {"resourceVersion": "100"}, "items": items})
}

fn ingress(name: &str, host: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                     "managedFields": [{"manager": "kubectl"}],
                     "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false",
                                     "team.example.com/owner": "payments"}},
        "spec": {"ingressClassName": "strait", "rules": [{"host": host}]}
    })
}

/// Answers the first list of `path` with `items`, then one watch with `events`; returns the
/// next (re-)watch request, unanswered, so the watcher waits on it.
async fn list_then_watch(
    api: &mut ApiServer,
    path: &str,
    kind: &str,
    items: Vec<Value>,
    events: &[(&str, Value)],
) -> mock::Call {
    let listing = api.expect(Method::GET, path).await;
    assert_eq!(listing.query_value("watch"), None, "a list first");
    listing.ok(&list(kind, items));
    let watching = api.expect(Method::GET, path).await;
    assert_eq!(watching.query_value("watch").as_deref(), Some("true"));
    assert_eq!(
        watching.query_value("resourceVersion").as_deref(),
        Some("100")
    );
    watching.ok_raw(mock::watch_events(events));
    api.expect(Method::GET, path).await
}

async fn next_change(received: &mut mpsc::Receiver<Change>) -> Change {
    tokio::time::timeout(DEADLINE, received.recv())
        .await
        .expect("a change within the deadline")
        .expect("the watch is running")
}

fn target(kind: Kind, namespace: Option<&str>) -> WatchTarget {
    WatchTarget {
        kind,
        namespace: namespace.map(str::to_owned),
    }
}

#[tokio::test]
async fn ingresses_are_listed_then_watched_and_slimmed() {
    let (client, mut api) = mock::pair();
    let (context, mut received, metrics) = context(client);
    let (done, release) = tokio::sync::oneshot::channel::<()>();
    let scenario = tokio::spawn(async move {
        let path = "/apis/networking.k8s.io/v1/ingresses";
        let mut modified = ingress("a", "a2.example.com");
        modified["metadata"]["resourceVersion"] = json!("101");
        let mut deleted = ingress("b", "b.example.com");
        deleted["metadata"]["resourceVersion"] = json!("102");
        let events = [("MODIFIED", modified), ("DELETED", deleted)];
        let items = vec![ingress("a", "a.example.com"), ingress("b", "b.example.com")];
        let rewatch = list_then_watch(&mut api, path, "Ingress", items, &events).await;
        assert_eq!(
            rewatch.query_value("resourceVersion").as_deref(),
            Some("102")
        );
        let _ = release.await;
    });
    let watch = tokio::spawn(run(context, target(Kind::Ingress, None)));

    let Change::Relist {
        kind,
        namespace,
        objects,
        keep,
    } = next_change(&mut received).await
    else {
        panic!("the list comes first as one relist");
    };
    assert_eq!((kind, namespace, keep.len()), (Kind::Ingress, None, 0));
    assert_eq!(objects.len(), 2);
    let meta = objects[0].metadata();
    assert_eq!(meta.managed_fields, None, "managedFields are dropped");
    let annotations = meta.annotations.as_ref().expect("ingress annotations kept");
    assert_eq!(
        annotations.keys().collect::<Vec<_>>(),
        ["nginx.ingress.kubernetes.io/ssl-redirect"],
        "only the annotations Strait reads are kept"
    );
    let Change::Apply(Object::Ingress(modified)) = next_change(&mut received).await else {
        panic!("then the modification");
    };
    assert_eq!(modified.metadata.resource_version.as_deref(), Some("101"));
    assert_eq!(
        next_change(&mut received).await,
        Change::Delete(Kind::Ingress, ObjectKey::new("default", "b"))
    );
    let text = encode(&metrics);
    let _ = done.send(());
    mock::verify(scenario, DEADLINE).await;
    watch.abort();
    for expected in [
        r#"strait_watch_events_total{kind="Ingress",event="relist"} 2"#,
        r#"strait_watch_events_total{kind="Ingress",event="apply"} 1"#,
        r#"strait_watch_events_total{kind="Ingress",event="delete"} 1"#,
        r#"strait_watch_synced{kind="Ingress"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}

#[tokio::test]
async fn an_object_that_does_not_decode_is_skipped_and_kept() {
    let (client, mut api) = mock::pair();
    let (context, mut received, _) = context(client);
    let scenario = tokio::spawn(async move {
        let path = "/api/v1/namespaces/team-a/services";
        let broken = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "broken", "namespace": "team-a"},
            "spec": {"ports": "not a list"}});
        let good = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "team-a",
                         "annotations": {"anything": "dropped"}},
            "spec": {"ports": [{"port": 80}]}});
        let events = [("MODIFIED", broken.clone())];
        list_then_watch(&mut api, path, "Service", vec![broken, good], &events).await;
    });
    let watch = tokio::spawn(run(context, target(Kind::Service, Some("team-a"))));
    let Change::Relist {
        namespace,
        objects,
        keep,
        ..
    } = next_change(&mut received).await
    else {
        panic!("a relist");
    };
    assert_eq!(namespace.as_deref(), Some("team-a"));
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].metadata().annotations, None);
    assert_eq!(
        keep.into_iter().collect::<Vec<_>>(),
        [ObjectKey::new("team-a", "broken")]
    );
    // The broken modification was skipped: the watch goes on and nothing else arrives.
    mock::verify(scenario, DEADLINE).await;
    assert!(
        received.try_recv().is_err(),
        "nothing sent for the broken object"
    );
    watch.abort();
}

#[tokio::test]
async fn secrets_are_watched_except_types_that_never_hold_tls_or_htpasswd() {
    let (client, mut api) = mock::pair();
    let (context, mut received, _) = context(client);
    let scenario = tokio::spawn(async move {
        let listing = api.expect(Method::GET, "/api/v1/secrets").await;
        assert_eq!(
            listing.query_value("fieldSelector").as_deref(),
            Some(WATCHED_SECRETS)
        );
        listing.ok(&list("Secret", vec![]));
        let watching = api.expect(Method::GET, "/api/v1/secrets").await;
        assert_eq!(
            watching.query_value("fieldSelector").as_deref(),
            Some(WATCHED_SECRETS)
        );
        api.expect_none(Duration::from_millis(100)).await;
        drop(watching);
    });
    let watch = tokio::spawn(run(context, target(Kind::Secret, None)));
    let change = next_change(&mut received).await;
    assert!(
        matches!(change, Change::Relist { kind: Kind::Secret, ref objects, .. } if objects.is_empty())
    );
    mock::verify(scenario, DEADLINE).await;
    watch.abort();
}

/// ConfigMaps are watched for `auth-proxy-set-headers` (test/e2e/annotations/auth.go "should
/// set proxy_set_header \"My-Custom-Header\" \"42\"; when auth-headers are set"), without the
/// ones no cluster lacks and none reads (every namespace's `kube-root-ca.crt`, Helm 2 releases:
/// the field and label selectors), and each arrives reduced to its name and its data read as
/// headers: a header map, or why not, never the data themselves.
#[tokio::test]
async fn config_maps_are_watched_by_selector_and_reduced_to_header_maps() {
    let (client, mut api) = mock::pair();
    let (context, mut received, _) = context(client);
    let (done, release) = tokio::sync::oneshot::channel::<()>();
    let scenario = tokio::spawn(async move {
        let path = "/api/v1/namespaces/team-a/configmaps";
        let headers = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "auth-headers", "namespace": "team-a", "resourceVersion": "7",
                         "labels": {"app": "x"}, "annotations": {"note": "dropped"},
                         "managedFields": [{"manager": "kubectl"}]},
            "data": {"My-Custom-Header": "42", "X-Forwarded-Host": "$http_host"}});
        let dashboard = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "dashboard", "namespace": "team-a"},
            "data": {"dashboard.json": "x".repeat(64 * 1024)}});
        let mut changed = headers.clone();
        changed["metadata"]["resourceVersion"] = json!("101");
        changed["data"]["My-Custom-Header"] = json!("43");
        let listing = api.expect(Method::GET, path).await;
        for (selector, expected) in [
            ("fieldSelector", WATCHED_CONFIG_MAPS),
            ("labelSelector", UNWATCHED_CONFIG_MAP_LABELS),
        ] {
            assert_eq!(listing.query_value(selector).as_deref(), Some(expected));
        }
        listing.ok(&list("ConfigMap", vec![headers, dashboard]));
        let watching = api.expect(Method::GET, path).await;
        assert_eq!(watching.query_value("watch").as_deref(), Some("true"));
        assert_eq!(
            watching.query_value("fieldSelector").as_deref(),
            Some(WATCHED_CONFIG_MAPS)
        );
        watching.ok_raw(mock::watch_events(&[("MODIFIED", changed)]));
        let _rewatch = api.expect(Method::GET, path).await;
        let _ = release.await;
    });
    let watch = tokio::spawn(run(context, target(Kind::ConfigMap, Some("team-a"))));
    let Change::Relist { kind, objects, .. } = next_change(&mut received).await else {
        panic!("the list comes first as one relist");
    };
    assert_eq!((kind, objects.len()), (Kind::ConfigMap, 2));
    let reduced = |object: &Object| match object {
        Object::ConfigMap(cm) => (**cm).clone(),
        other => panic!("not a ConfigMap: {other:?}"),
    };
    let headers = reduced(&objects[0]);
    assert_eq!(
        headers.metadata,
        ObjectMeta {
            name: Some("auth-headers".to_owned()),
            namespace: Some("team-a".to_owned()),
            ..ObjectMeta::default()
        },
        "name and namespace only"
    );
    let names: Vec<String> = headers
        .headers
        .as_ref()
        .expect("a header map")
        .iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(names, ["my-custom-header", "x-forwarded-host"]);
    assert_eq!(
        reduced(&objects[1]).headers,
        Err(strait_shared::table::external_auth::SetHeadersError::TooLarge),
        "the 64 KiB of data are not held"
    );
    let Change::Apply(modified) = next_change(&mut received).await else {
        panic!("then the modification");
    };
    assert_ne!(reduced(&modified).headers, headers.headers, "the new value");
    let _ = done.send(());
    mock::verify(scenario, DEADLINE).await;
    watch.abort();
}

#[tokio::test]
async fn every_kind_lists_and_watches_its_own_path() {
    let cases = [
        (
            Kind::IngressClass,
            None,
            "/apis/networking.k8s.io/v1/ingressclasses",
        ),
        (
            Kind::Ingress,
            Some("a"),
            "/apis/networking.k8s.io/v1/namespaces/a/ingresses",
        ),
        (Kind::Service, None, "/api/v1/services"),
        (
            Kind::EndpointSlice,
            None,
            "/apis/discovery.k8s.io/v1/endpointslices",
        ),
        (
            Kind::EndpointSlice,
            Some("b"),
            "/apis/discovery.k8s.io/v1/namespaces/b/endpointslices",
        ),
        (Kind::ConfigMap, None, "/api/v1/configmaps"),
        (Kind::Node, None, "/api/v1/nodes"),
    ];
    for (kind, namespace, path) in cases {
        let (client, mut api) = mock::pair();
        let (context, mut received, metrics) = context(client);
        let (done, release) = tokio::sync::oneshot::channel::<()>();
        let scenario = tokio::spawn(async move {
            let listing = api.expect(Method::GET, path).await;
            listing.ok(&list(kind.as_str(), vec![]));
            let watching = api.expect(Method::GET, path).await;
            assert_eq!(watching.query_value("watch").as_deref(), Some("true"));
            let _ = release.await;
        });
        let watch = tokio::spawn(run(context, target(kind, namespace)));
        let change = next_change(&mut received).await;
        assert!(
            matches!(change, Change::Relist { kind: k, .. } if k == kind),
            "{path}: {change:?}"
        );
        let synced = format!(r#"strait_watch_synced{{kind="{}"}} 1"#, kind.as_str());
        assert!(encode(&metrics).contains(&synced), "{path}");
        let _ = done.send(());
        mock::verify(scenario, DEADLINE).await;
        watch.abort();
    }
}

#[tokio::test]
async fn a_failing_list_is_retried_and_reported_on_readyz() {
    let (client, mut api) = mock::pair();
    let (context, mut received, metrics) = context(client);
    let readiness = context.readiness.clone();
    let (done, release) = tokio::sync::oneshot::channel::<()>();
    let scenario = tokio::spawn(async move {
        let path = "/apis/networking.k8s.io/v1/ingressclasses";
        let failing = api.expect(Method::GET, path).await;
        failing.fail(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "etcd down",
        );
        let retry = api.expect(Method::GET, path).await;
        assert_eq!(retry.query_value("watch"), None, "the list is retried");
        retry.ok(&list("IngressClass", vec![]));
        let _watching = api.expect(Method::GET, path).await;
        let _ = release.await;
    });
    let watch = tokio::spawn(run(context, target(Kind::IngressClass, None)));
    let change = next_change(&mut received).await;
    assert!(matches!(
        change,
        Change::Relist {
            kind: Kind::IngressClass,
            ..
        }
    ));
    let text = encode(&metrics);
    let report = readiness.report();
    let _ = done.send(());
    mock::verify(scenario, DEADLINE).await;
    watch.abort();
    let errors = r#"strait_api_errors_total{operation="watch",kind="IngressClass"} 1"#;
    assert!(text.contains(errors), "{text}");
    assert!(
        !report.contains("retrying"),
        "the problem is cleared once listed: {report}"
    );
}

#[tokio::test]
async fn a_failing_watch_shows_on_readyz_until_it_recovers() {
    let (client, mut api) = mock::pair();
    let (context, _received, _metrics) = context(client);
    let readiness = context.readiness.clone();
    let (failed_tx, failed) = tokio::sync::oneshot::channel();
    let scenario = tokio::spawn(async move {
        let path = "/apis/networking.k8s.io/v1/ingressclasses";
        let failing = api.expect(Method::GET, path).await;
        failing.fail(http::StatusCode::FORBIDDEN, "Forbidden", "no RBAC");
        failed_tx.send(()).expect("test waiting");
        // Hold the retry unanswered while the test looks at readiness.
        let retry = api.expect(Method::GET, path).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(retry);
    });
    let watch = tokio::spawn(run(context, target(Kind::IngressClass, None)));
    failed.await.expect("failed once");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !readiness
        .report()
        .contains("IngressClass watch: retrying after error")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            readiness.report()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    mock::verify(scenario, DEADLINE).await;
    watch.abort();
}

#[test]
fn slimming_keeps_every_key_under_the_annotations_prefix_and_no_other() {
    // Unknown keys under the prefix are kept: the registry reports them (typos).
    let mut object = Object::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default", "annotations": {
            "ingress.kubernetes.io/rewrite-target": "/",
            "ingress.kubernetes.io/server-snipets": "x",
            "ingress.kubernetes.io.evil/rewrite-target": "/",
            "nginx.ingress.kubernetes.io/rewrite-target": "/",
            "strait.dev/backend-mode": "pod",
            "kubernetes.io/ingress.class": "nginx",
            "example.com/owner": "team"}},
        "spec": {}
    }))
    .expect("decodes")
    .expect("an Ingress");
    slim(&mut object, "ingress.kubernetes.io");
    let kept: Vec<&String> = object
        .metadata()
        .annotations
        .as_ref()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        kept,
        [
            "ingress.kubernetes.io/rewrite-target",
            "ingress.kubernetes.io/server-snipets",
            "kubernetes.io/ingress.class",
            "strait.dev/backend-mode"
        ]
    );
}
