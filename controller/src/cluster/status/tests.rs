//! `plan` tested directly with hand-built [`Published`] values; the writer tested against the
//! mock API server (STYLE item 7), every expected call awaited with a deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressPortStatus};
use serde_json::{Value, json};
use strait_shared::ObjectKey;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{Inputs, StatusConfig, plan, run, run_with_retry};
use crate::cluster::mock::{self, ApiServer, Call};
use crate::cluster::{IngressState, Published};
use crate::metrics::{ClusterMetrics, WriteResult};

const WEB_STATUS: &str = "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status";
const SERVICES: &str = "/api/v1/namespaces/strait/services";
const MERGE_PATCH: &str = "application/merge-patch+json";
/// How long "no call" is waited for.
const QUIET: Duration = Duration::from_millis(300);
/// Deadline for a whole scenario.
const SCENARIO: Duration = Duration::from_secs(20);
/// The retry delay the mock tests use (the real one is 5 s).
const RETRY: Duration = Duration::from_millis(200);

fn ip(address: &str) -> IngressLoadBalancerIngress {
    IngressLoadBalancerIngress {
        ip: Some(address.to_owned()),
        ..Default::default()
    }
}

fn host(name: &str) -> IngressLoadBalancerIngress {
    IngressLoadBalancerIngress {
        hostname: Some(name.to_owned()),
        ..Default::default()
    }
}

fn state(
    ours: bool,
    version: &str,
    load_balancer: Vec<IngressLoadBalancerIngress>,
) -> IngressState {
    IngressState {
        ours,
        resource_version: Some(version.to_owned()),
        load_balancer,
        ..Default::default()
    }
}

/// Ingresses in namespace `default`.
fn published(generation: u64, ingresses: Vec<(&str, IngressState)>) -> Published {
    Published {
        generation,
        diagnostics: Vec::new(),
        ingresses: ingresses
            .into_iter()
            .map(|(name, state)| (ObjectKey::new("default", name), state))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

fn fixed(addresses: &[&str]) -> StatusConfig {
    StatusConfig {
        publish_service: None,
        publish_addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn status_body(ingress: Value) -> Value {
    json!({"status": {"loadBalancer": {"ingress": ingress}}})
}

/// What the API server answers to a status patch (the patched Ingress).
fn ingress_json(name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "99"},
    })
}

/// Expects a merge patch of `path` carrying exactly `body`, and answers it.
async fn expect_patch(server: &mut ApiServer, path: &str, body: &Value) {
    let call = server.expect(Method::PATCH, path).await;
    check_patch(call, body);
}

fn check_patch(call: Call, body: &Value) {
    assert_eq!(call.content_type.as_deref(), Some(MERGE_PATCH));
    assert_eq!(&call.body, body);
    let name = call
        .path
        .split('/')
        .nth_back(1)
        .unwrap_or_default()
        .to_owned();
    call.ok(&ingress_json(&name));
}

/// The writer under test, with the channels and shutdown it is driven by.
struct Harness {
    published: watch::Sender<Arc<Published>>,
    leader: watch::Sender<bool>,
    metrics: ClusterMetrics,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Harness {
    fn start(config: StatusConfig, leading: bool, first: Published) -> (Self, ApiServer) {
        let (client, server) = mock::pair();
        let (published, published_rx) = watch::channel(Arc::new(first));
        let (leader, leader_rx) = watch::channel(leading);
        let (stop, stopped) = oneshot::channel();
        let metrics = ClusterMetrics::default();
        let inputs = Inputs::new(published_rx, leader_rx);
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run_with_retry(
            client,
            config,
            inputs,
            metrics.clone(),
            shutdown,
            RETRY,
        ));
        let harness = Self {
            published,
            leader,
            metrics,
            stop,
            task,
        };
        (harness, server)
    }

    fn publish(&self, published: Published) {
        self.published.send_replace(Arc::new(published));
    }

    fn count(&self, result: WriteResult) -> u64 {
        self.metrics.status_patch_count(result)
    }

    /// Shuts the writer down and checks that it returns promptly.
    async fn stop(self) {
        let _ = self.stop.send(());
        let ended = tokio::time::timeout(Duration::from_secs(2), self.task).await;
        assert!(
            matches!(ended, Ok(Ok(()))),
            "writer did not return on shutdown"
        );
    }
}

// ---- plan ----

#[test]
fn plan_sets_ours_when_different() {
    let store = published(1, vec![("web", state(true, "1", vec![ip("198.51.100.9")]))]);
    let changes = plan(&store, &[ip("192.0.2.10")]);
    assert_eq!(changes, vec![(key("web"), Some(vec![ip("192.0.2.10")]))]);
}

#[test]
fn plan_leaves_ours_when_equal_in_another_order() {
    let mut with_ports = ip("192.0.2.10");
    with_ports.ports = Some(vec![IngressPortStatus {
        port: 80,
        protocol: "TCP".to_owned(),
        error: None,
    }]);
    let current = vec![host("lb.example.com"), with_ports];
    let store = published(1, vec![("web", state(true, "1", current))]);
    assert_eq!(
        plan(&store, &[ip("192.0.2.10"), host("lb.example.com")]),
        vec![]
    );
}

#[test]
fn plan_clears_not_ours_showing_our_addresses() {
    let store = published(1, vec![("old", state(false, "1", vec![ip("192.0.2.10")]))]);
    assert_eq!(plan(&store, &[ip("192.0.2.10")]), vec![(key("old"), None)]);
}

#[test]
fn plan_leaves_status_another_controller_wrote() {
    let store = published(
        1,
        vec![
            ("theirs", state(false, "1", vec![ip("198.51.100.1")])),
            ("unset", state(false, "1", vec![])),
        ],
    );
    assert_eq!(plan(&store, &[ip("192.0.2.10")]), vec![]);
}

#[test]
fn plan_writes_nothing_without_addresses() {
    let store = published(
        1,
        vec![
            ("web", state(true, "1", vec![])),
            ("ours-set", state(true, "1", vec![ip("192.0.2.10")])),
            ("old", state(false, "1", vec![])),
        ],
    );
    assert_eq!(plan(&store, &[]), vec![]);
    assert_eq!(plan(&store, &[ip("")]), vec![]);
}

#[test]
fn fixed_addresses_put_ips_in_ip_and_names_in_hostname() {
    let config = fixed(&[
        "192.0.2.10",
        "lb.example.com, 2001:db8::1",
        " ",
        "192.0.2.10",
    ]);
    assert_eq!(
        config.fixed_addresses(),
        vec![host("lb.example.com"), ip("192.0.2.10"), ip("2001:db8::1")]
    );
}

// ---- writer against the mock API server ----

#[tokio::test]
async fn leader_patches_ours_with_fixed_addresses() {
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) =
        Harness::start(fixed(&["192.0.2.10", "lb.example.com"]), true, store);
    let scenario = tokio::spawn(async move {
        let body = status_body(json!([{"hostname": "lb.example.com"}, {"ip": "192.0.2.10"}]));
        expect_patch(&mut server, WEB_STATUS, &body).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Ok), 1);
        assert_eq!(harness.count(WriteResult::Error), 0);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn same_resource_version_is_not_patched_twice() {
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), true, store);
    let scenario = tokio::spawn(async move {
        let body = status_body(json!([{"ip": "192.0.2.10"}]));
        expect_patch(&mut server, WEB_STATUS, &body).await;
        // The store has not seen our write yet: same resourceVersion, old status.
        harness.publish(published(2, vec![("web", state(true, "1", vec![]))]));
        server.expect_none(QUIET).await;
        // Our write arrives in the store.
        let written = vec![ip("192.0.2.10")];
        harness.publish(published(3, vec![("web", state(true, "2", written))]));
        server.expect_none(QUIET).await;
        // Someone resets it: a new resourceVersion, so it is compared and written again.
        harness.publish(published(4, vec![("web", state(true, "3", vec![]))]));
        expect_patch(&mut server, WEB_STATUS, &body).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Ok), 2);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn ingress_no_longer_ours_is_cleared() {
    let store = published(
        1,
        vec![
            ("theirs", state(false, "1", vec![ip("198.51.100.1")])),
            ("web", state(false, "5", vec![ip("192.0.2.10")])),
        ],
    );
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), true, store);
    let scenario = tokio::spawn(async move {
        expect_patch(&mut server, WEB_STATUS, &status_body(Value::Null)).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Ok), 1);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn follower_writes_nothing_until_it_leads() {
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), false, store);
    let scenario = tokio::spawn(async move {
        server.expect_none(QUIET).await;
        harness.publish(published(2, vec![("web", state(true, "2", vec![]))]));
        server.expect_none(QUIET).await;
        harness.leader.send_replace(true);
        let body = status_body(json!([{"ip": "192.0.2.10"}]));
        expect_patch(&mut server, WEB_STATUS, &body).await;
        server.expect_none(QUIET).await;
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn losing_leadership_stops_writes_mid_batch() {
    let store = published(
        1,
        vec![
            ("a", state(true, "1", vec![])),
            ("b", state(true, "1", vec![])),
        ],
    );
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), true, store);
    let a = "/apis/networking.k8s.io/v1/namespaces/default/ingresses/a/status";
    let b = "/apis/networking.k8s.io/v1/namespaces/default/ingresses/b/status";
    let scenario = tokio::spawn(async move {
        let body = status_body(json!([{"ip": "192.0.2.10"}]));
        let call = server.expect(Method::PATCH, a).await;
        harness.leader.send_replace(false);
        check_patch(call, &body);
        server.expect_none(QUIET).await;
        assert_eq!(
            harness.count(WriteResult::Ok),
            0,
            "abandoned patch not counted"
        );
        // A new term plans everything again (the store still shows no status).
        harness.leader.send_replace(true);
        expect_patch(&mut server, a, &body).await;
        expect_patch(&mut server, b, &body).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Ok), 2);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn failed_patch_is_counted_and_retried_after_back_off() {
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), true, store);
    let scenario = tokio::spawn(async move {
        let call = server.expect(Method::PATCH, WEB_STATUS).await;
        call.fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "etcd timeout",
        );
        // No new Published: the retry timer brings the patch back.
        let body = status_body(json!([{"ip": "192.0.2.10"}]));
        expect_patch(&mut server, WEB_STATUS, &body).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Error), 1);
        assert_eq!(harness.count(WriteResult::Ok), 1);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn deleted_ingress_is_neither_ok_nor_error_and_not_retried() {
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) = Harness::start(fixed(&["192.0.2.10"]), true, store);
    let scenario = tokio::spawn(async move {
        let call = server.expect(Method::PATCH, WEB_STATUS).await;
        call.fail(
            StatusCode::NOT_FOUND,
            "NotFound",
            "ingresses \"web\" not found",
        );
        server.expect_none(RETRY * 3).await;
        assert_eq!(harness.count(WriteResult::Ok), 0);
        assert_eq!(harness.count(WriteResult::Error), 0);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

/// The publish Service as the API server lists or watches it.
fn service_json(address: &str, version: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "strait", "namespace": "strait", "resourceVersion": version},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}},
    })
}

/// Serves the status PATCH (checking `body`) and a watch of the Service, in whichever order
/// they come; returns the watch call, unanswered (an open watch).
async fn serve_patch_and_watch(server: &mut ApiServer, body: &Value) -> Call {
    let mut watch = None;
    let mut patched = false;
    while watch.is_none() || !patched {
        let call = server.next("status PATCH and Service watch").await;
        if call.method == Method::PATCH {
            assert_eq!(call.path, WEB_STATUS);
            check_patch(call, body);
            patched = true;
        } else {
            assert_eq!((&call.method, call.path.as_str()), (&Method::GET, SERVICES));
            assert!(call.has_query("watch", "true"), "a watch: {}", call.query);
            let selector = call.query_value("fieldSelector");
            assert_eq!(selector.as_deref(), Some("metadata.name=strait"));
            watch = Some(call);
        }
    }
    watch.unwrap_or_else(|| unreachable!("loop ends with a watch"))
}

#[tokio::test]
async fn publish_service_addresses_are_copied() {
    let config = StatusConfig {
        publish_service: Some(ObjectKey::new("strait", "strait")),
        publish_addresses: vec!["192.0.2.10".to_owned()],
    };
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (harness, mut server) = Harness::start(config, true, store);
    let scenario = tokio::spawn(async move {
        let list = server.expect(Method::GET, SERVICES).await;
        let selector = list.query_value("fieldSelector");
        assert_eq!(selector.as_deref(), Some("metadata.name=strait"));
        list.ok(&json!({
            "apiVersion": "v1", "kind": "ServiceList",
            "metadata": {"resourceVersion": "10"},
            "items": [service_json("203.0.113.7", "10")],
        }));
        let body = status_body(json!([{"ip": "203.0.113.7"}]));
        let watch = serve_patch_and_watch(&mut server, &body).await;
        // The load balancer gets a new address: copied at once, though the store is unchanged.
        let events = [("MODIFIED", service_json("203.0.113.8", "11"))];
        watch.ok_raw(mock::watch_events(&events));
        let body = status_body(json!([{"ip": "203.0.113.8"}]));
        let _open_watch = serve_patch_and_watch(&mut server, &body).await;
        server.expect_none(QUIET).await;
        assert_eq!(harness.count(WriteResult::Ok), 2);
        harness.stop().await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test]
async fn without_addresses_nothing_is_written_and_shutdown_returns() {
    let (client, mut server) = mock::pair();
    let store = published(1, vec![("web", state(true, "1", vec![]))]);
    let (published_tx, published_rx) = watch::channel(Arc::new(store));
    let (_leader_tx, leader_rx) = watch::channel(true);
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let config = StatusConfig::default();
    let metrics = ClusterMetrics::default();
    let task = tokio::spawn(run(
        client,
        config,
        published_rx,
        leader_rx,
        metrics,
        shutdown,
    ));
    let scenario = tokio::spawn(async move {
        server.expect_none(QUIET).await;
        let next = published(2, vec![("web", state(true, "2", vec![]))]);
        published_tx.send_replace(Arc::new(next));
        server.expect_none(QUIET).await;
        let _ = stop.send(());
        let ended = tokio::time::timeout(Duration::from_secs(2), task).await;
        assert!(
            matches!(ended, Ok(Ok(()))),
            "writer did not return on shutdown"
        );
    });
    mock::verify(scenario, SCENARIO).await;
}
