//! An API-server outage against the mock API server, on paused time: the watch loses the
//! server for 50 s, gets 410 Gone when it comes back, and the change made meanwhile must be in
//! the published table within the capped back-off, with the outage logged once each way
//! (counted by [`ApiHealth::transitions`], which logs each transition).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::Method;
use serde_json::{Value, json};
use strait_shared::{CompileConfig, Kind, RouteTable};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::retry::MAX_DELAY;
use super::*;
use crate::cluster::mock;
use crate::pipeline::Pipeline;
use crate::publish::Publisher;
use crate::watch::WatchConfig;

const PATH: &str = "/apis/networking.k8s.io/v1/ingresses";
const OUTAGE: Duration = Duration::from_secs(50);
/// Longest wait for a call the watcher must make (simulated time).
const CALL_WAIT: Duration = Duration::from_secs(120);

fn ingress(name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "uid": name, "resourceVersion": "7"},
        "spec": {"ingressClassName": "strait", "rules": [{"host": format!("{name}.example.com"),
            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    })
}

fn list(version: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressList",
           "metadata": {"resourceVersion": version}, "items": items})
}

fn gone() -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 410,
           "reason": "Expired", "message": "too old resource version: 100 (4000)"})
}

/// Waits (in simulated time) until `host` routes in the served table; returns when.
async fn live(table: &strait_proxy::SharedTable, host: &str) -> Instant {
    let deadline = Instant::now() + CALL_WAIT;
    while table.load().lookup(host, "/").is_none() {
        assert!(Instant::now() < deadline, "{host} never went live");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Instant::now()
}

#[tokio::test(start_paused = true)]
async fn after_an_outage_and_410_a_change_is_live_within_the_capped_backoff() {
    let (client, mut api) = mock::pair();
    let (changes, received) = mpsc::channel(64);
    let health = Arc::new(ApiHealth::default());
    let context = WatchContext {
        client,
        changes,
        metrics: ClusterMetrics::default(),
        readiness: Readiness::new(),
        annotations_prefix: Arc::from("nginx.ingress.kubernetes.io"),
        health: health.clone(),
    };
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let pipeline = Pipeline::new(
        Publisher::new(table.clone(), CompileConfig::default()),
        [Kind::Ingress],
    );
    let config = WatchConfig::new(Duration::from_millis(100));
    let compile = tokio::spawn(pipeline.run(received, config, std::future::pending()));
    let target = WatchTarget {
        kind: Kind::Ingress,
        namespace: None,
    };
    let watch = tokio::spawn(run(context, target));

    // Up: the list, then the watch.
    let listing = api.expect(Method::GET, PATH).await;
    listing.ok(&list("100", vec![ingress("a")]));
    let watching = api.expect(Method::GET, PATH).await;
    live(&table, "a.example.com").await;

    // Down for 50 s: the open watch breaks and every attempt finds no server.
    let down = Instant::now();
    watching.unreachable();
    let mut attempts = 0;
    let back = loop {
        let call = api
            .try_next(CALL_WAIT)
            .await
            .expect("the watch keeps retrying");
        if down.elapsed() >= OUTAGE {
            break call;
        }
        attempts += 1;
        call.unreachable();
    };
    let api_back = down + OUTAGE;
    assert!(
        back.method == Method::GET && back.path == PATH,
        "{} {}",
        back.method,
        back.path
    );
    assert!(
        attempts >= 10,
        "retried {attempts} times in 50 s: the back-off is capped"
    );

    // Back: the resumed watch is told its resourceVersion is gone; the list comes at once,
    // with the Ingress created after the API came back.
    assert_eq!(back.query_value("watch").as_deref(), Some("true"));
    let answered = Instant::now();
    back.ok_raw(mock::watch_events(&[("ERROR", gone())]));
    let relist = api.try_next(CALL_WAIT).await.expect("a relist");
    assert_eq!(relist.query_value("watch"), None, "a list, not a watch");
    assert!(
        answered.elapsed() < Duration::from_millis(100),
        "relisted {:?} after the 410: at once",
        answered.elapsed()
    );
    relist.ok(&list("200", vec![ingress("a"), ingress("b")]));
    let _rewatch = api.try_next(CALL_WAIT).await.expect("watching again");

    let at = live(&table, "b.example.com").await;
    let bound = MAX_DELAY + Duration::from_secs(1);
    assert!(
        at - api_back <= bound,
        "the change was live {:?} after the API came back (bound {bound:?})",
        at - api_back
    );
    // The outage is logged where these are counted: once down, once back, for 20+ attempts.
    assert_eq!(health.transitions(), (1, 1), "one outage, one recovery");
    watch.abort();
    compile.abort();
}

#[tokio::test(start_paused = true)]
async fn a_watch_refused_with_410_starts_over_with_a_list_at_once() {
    let (client, mut api) = mock::pair();
    let (changes, mut received) = mpsc::channel(64);
    let context = WatchContext {
        client,
        changes,
        metrics: ClusterMetrics::default(),
        readiness: Readiness::new(),
        annotations_prefix: Arc::from("nginx.ingress.kubernetes.io"),
        health: Arc::default(),
    };
    let target = WatchTarget {
        kind: Kind::Ingress,
        namespace: None,
    };
    let watch = tokio::spawn(run(context, target));
    api.expect(Method::GET, PATH).await.ok(&list("100", vec![]));
    // The watch request itself answered 410 (not an event in the stream): kube-runtime alone
    // would retry the same resourceVersion forever.
    let watching = api.expect(Method::GET, PATH).await;
    let status = gone();
    watching.respond(http::StatusCode::GONE, &status);
    let answered = Instant::now();
    let relist = api.try_next(CALL_WAIT).await.expect("a relist");
    assert_eq!(relist.query_value("watch"), None, "a list, not a watch");
    assert!(answered.elapsed() < Duration::from_millis(100));
    relist.ok(&list("200", vec![ingress("b")]));
    let mut relists = 0;
    while relists < 2 {
        let change = tokio::time::timeout(CALL_WAIT, received.recv())
            .await
            .expect("a change")
            .expect("running");
        assert!(matches!(change, Change::Relist { .. }), "{change:?}");
        relists += 1;
    }
    watch.abort();
}

/// After an outage the watches relist one by one: each relist publishes on its own, without
/// waiting for the other kinds (only the first publish waits for every kind).
#[test]
fn a_relist_of_one_kind_publishes_without_waiting_for_the_others() {
    let object = |value: Value| Object::from_value(value).expect("decodes").expect("read");
    let relist = |kind: Kind, objects: Vec<Object>| Change::Relist {
        kind,
        namespace: None,
        objects,
        keep: BTreeSet::new(),
    };
    let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let mut pipeline = Pipeline::new(
        Publisher::new(table.clone(), CompileConfig::default()),
        [Kind::Ingress, Kind::Service],
    );
    assert!(
        pipeline
            .apply(vec![relist(Kind::Ingress, vec![object(ingress("a"))])])
            .is_none()
    );
    assert!(
        pipeline
            .apply(vec![relist(Kind::Service, vec![])])
            .is_some()
    );
    let ingresses = vec![object(ingress("a")), object(ingress("b"))];
    let outcome = pipeline.apply(vec![relist(Kind::Ingress, ingresses)]);
    assert!(outcome.is_some_and(|o| o.changed), "published alone");
    assert!(table.load().lookup("b.example.com", "/").is_some());
}
