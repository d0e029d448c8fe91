//! The election against the mock API server (STYLE item 7), with paused time: each scenario
//! answers the expected Lease calls in order, and a call that never comes (or an unexpected
//! one, such as a PUT where only a GET may come) fails the test. The default timings
//! (15 s / 10 s / 2 s) are used as they are; paused time makes them instant.

use std::time::Duration;

use http::{Method, StatusCode};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{LeaseConfig, run};
use crate::cluster::mock::{self, ApiServer, Call};
use crate::metrics::ClusterMetrics;

const NS: &str = "strait-system";
const NAME: &str = "strait-leader";
const US: &str = "strait-0";
const PEER: &str = "strait-1";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/strait-system/leases/strait-leader";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/strait-system/leases";

/// Virtual time a whole scenario may take.
const SCENARIO: Duration = Duration::from_secs(300);
const LEASE_DURATION: Duration = LeaseConfig::LEASE_DURATION;
const RENEW_DEADLINE: Duration = LeaseConfig::RENEW_DEADLINE;
const RETRY: Duration = LeaseConfig::RETRY_PERIOD;

/// The elector under test, running as [`US`] with the default timings.
struct Replica {
    leader: watch::Receiver<bool>,
    metrics: ClusterMetrics,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

fn start() -> (ApiServer, Replica) {
    let (client, server) = mock::pair();
    let (tx, leader) = watch::channel(false);
    let metrics = ClusterMetrics::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = LeaseConfig::new(NAME, NS, US);
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(run(client, config, tx, metrics.clone(), shutdown));
    let replica = Replica {
        leader,
        metrics,
        stop: Some(stop),
        task,
    };
    (server, replica)
}

/// A Lease as the API server returns it; `version` is its resourceVersion and moves its
/// `renewTime` on. The timestamps are years old on purpose: expiry must be judged by our
/// clock from seeing a change, not from `renewTime`.
fn lease(holder: Option<&str>, version: u32, transitions: i32) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME, "namespace": NS, "resourceVersion": version.to_string()},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": "2020-01-01T00:00:00.000000Z",
            "renewTime": format!("2020-01-01T00:{:02}:{:02}.000000Z", version / 60 % 60, version % 60),
            "leaseTransitions": transitions,
        },
    })
}

/// Answers a write with what was written, stored as `version`; returns that.
fn accept(call: Call, version: u32) -> Value {
    let mut body = call.body.clone();
    body["metadata"]["resourceVersion"] = json!(version.to_string());
    call.ok(&body);
    body
}

fn time(value: &Value) -> Timestamp {
    let text = value.as_str().expect("a timestamp string");
    text.parse().expect("an RFC 3339 timestamp")
}

fn version(body: &Value) -> &str {
    body["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
}

/// Scenario prelude: the Lease does not exist, and our create is accepted as version 1.
/// Returns the stored Lease and when the create was sent.
async fn acquire(server: &mut ApiServer) -> (Value, Instant) {
    server.expect(Method::GET, LEASE).await.fail(
        StatusCode::NOT_FOUND,
        "NotFound",
        "leases.coordination.k8s.io \"strait-leader\" not found",
    );
    let create = server.expect(Method::POST, LEASES).await;
    let sent = Instant::now();
    assert_eq!(create.body["metadata"]["name"], NAME);
    let spec = &create.body["spec"];
    assert_eq!(spec["holderIdentity"], US);
    assert_eq!(spec["leaseDurationSeconds"], 15);
    assert_eq!(spec["leaseTransitions"], 0);
    assert_eq!(time(&spec["acquireTime"]), time(&spec["renewTime"]));
    (accept(create, 1), sent)
}

/// Waits (up to a minute of virtual time) for the watch to say `want`.
async fn until(leader: &mut watch::Receiver<bool>, want: bool) {
    let wait = tokio::time::timeout(Duration::from_secs(60), leader.wait_for(|&v| v == want));
    match wait.await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => panic!("the elector ended while waiting for leader == {want}"),
        Err(_) => panic!("leader never became {want}"),
    }
}

#[tokio::test(start_paused = true)]
async fn acquires_when_the_lease_does_not_exist() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let metrics = replica.metrics.clone();
    let scenario = tokio::spawn(async move {
        assert!(!*leader.borrow());
        acquire(&mut server).await;
        until(&mut leader, true).await;
        assert!(metrics.is_leader());
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test(start_paused = true)]
async fn renews_with_a_later_renew_time_and_the_same_holder() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        let (mut stored, mut last) = acquire(&mut server).await;
        until(&mut leader, true).await;
        for next in 2..=4 {
            let get = server.expect(Method::GET, LEASE).await;
            assert!(
                Instant::now() >= last + RETRY,
                "renewed before the retry period"
            );
            get.ok(&stored);
            let put = server.expect(Method::PUT, LEASE).await;
            last = Instant::now();
            let (spec, before) = (&put.body["spec"], &stored["spec"]);
            assert_eq!(
                version(&put.body),
                version(&stored),
                "PUT carries the version read"
            );
            assert_eq!(spec["holderIdentity"], US);
            assert_eq!(spec["leaseDurationSeconds"], 15);
            assert_eq!(spec["leaseTransitions"], 0);
            assert_eq!(spec["acquireTime"], before["acquireTime"]);
            assert!(time(&spec["renewTime"]) > time(&before["renewTime"]));
            stored = accept(put, next);
            assert!(*leader.borrow());
        }
    });
    mock::verify(scenario, SCENARIO).await;
    assert!(replica.metrics.is_leader());
}

#[tokio::test(start_paused = true)]
async fn follows_a_live_holder_then_takes_over_once_it_stops_renewing() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        // The peer renews between our reads: every read shows a change, so only GETs come,
        // for longer than a lease duration.
        for next in 1..=11 {
            let get = server.expect(Method::GET, LEASE).await;
            assert!(!*leader.borrow());
            get.ok(&lease(Some(PEER), next, 3));
        }
        // The peer is gone: the same record from now on.
        let last_change = Instant::now();
        let current = lease(Some(PEER), 11, 3);
        let put = loop {
            let call = server.next("GET or PUT of the lease").await;
            assert_eq!(call.path, LEASE);
            if call.method != Method::GET {
                break call;
            }
            // The takeover follows the first read at or after expiry.
            let expiry = last_change + LEASE_DURATION;
            assert!(Instant::now() < expiry + RETRY, "no takeover");
            call.ok(&current);
        };
        assert_eq!(put.method, Method::PUT);
        let now = Instant::now();
        assert!(
            now >= last_change + LEASE_DURATION,
            "took over a live lease"
        );
        assert!(
            now <= last_change + LEASE_DURATION + RETRY,
            "took over late"
        );
        assert_eq!(version(&put.body), "11", "PUT carries the version read");
        let spec = &put.body["spec"];
        assert_eq!(spec["holderIdentity"], US);
        assert_eq!(spec["leaseTransitions"], 4);
        assert_eq!(spec["leaseDurationSeconds"], 15);
        assert_eq!(time(&spec["acquireTime"]), time(&spec["renewTime"]));
        assert!(!*leader.borrow(), "leader before the takeover succeeded");
        accept(put, 12);
        until(&mut leader, true).await;
    });
    mock::verify(scenario, SCENARIO).await;
    assert!(replica.metrics.is_leader());
}

#[tokio::test(start_paused = true)]
async fn steps_down_by_the_renew_deadline_when_renews_fail() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let metrics = replica.metrics.clone();
    let scenario = tokio::spawn(async move {
        let (stored, acquired) = acquire(&mut server).await;
        until(&mut leader, true).await;
        let mut watcher = leader.clone();
        let lost = tokio::spawn(async move {
            until(&mut watcher, false).await;
            Instant::now()
        });
        let get = loop {
            let get = server.expect(Method::GET, LEASE).await;
            if Instant::now() >= acquired + RENEW_DEADLINE {
                break get;
            }
            assert!(
                *leader.borrow(),
                "a failed renew within the deadline is no loss"
            );
            get.ok(&stored);
            let put = server.expect(Method::PUT, LEASE).await;
            put.fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "etcd timed out",
            );
        };
        // The first call after the deadline: leadership already gone, before any write.
        assert!(!*leader.borrow());
        assert!(!metrics.is_leader());
        let lost_at = lost.await.expect("watcher");
        assert!(lost_at <= acquired + RENEW_DEADLINE, "stepped down late");
        assert!(
            lost_at > acquired + RENEW_DEADLINE - RETRY,
            "stepped down early"
        );
        // The Lease still names us: a successful write makes us leader again.
        get.ok(&stored);
        accept(server.expect(Method::PUT, LEASE).await, 2);
        until(&mut leader, true).await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test(start_paused = true)]
async fn steps_down_at_once_when_a_renew_conflicts() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        let (stored, _) = acquire(&mut server).await;
        until(&mut leader, true).await;
        server.expect(Method::GET, LEASE).await.ok(&stored);
        let put = server.expect(Method::PUT, LEASE).await;
        let at = Instant::now();
        put.fail(
            StatusCode::CONFLICT,
            "Conflict",
            "the object has been modified",
        );
        until(&mut leader, false).await;
        assert_eq!(Instant::now(), at, "stepped down only later");
        // The peer that wrote it holds it now: only reads follow.
        for next in 3..=5 {
            server
                .expect(Method::GET, LEASE)
                .await
                .ok(&lease(Some(PEER), next, 1));
            assert!(!*leader.borrow());
        }
        server.expect(Method::GET, LEASE).await;
    });
    mock::verify(scenario, SCENARIO).await;
    assert!(!replica.metrics.is_leader());
}

#[tokio::test(start_paused = true)]
async fn a_renew_still_pending_at_the_deadline_is_abandoned() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        let (stored, acquired) = acquire(&mut server).await;
        until(&mut leader, true).await;
        server.expect(Method::GET, LEASE).await.ok(&stored);
        let hung = server.expect(Method::PUT, LEASE).await;
        until(&mut leader, false).await;
        assert_eq!(Instant::now(), acquired + RENEW_DEADLINE);
        drop(hung);
        server.expect(Method::GET, LEASE).await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test(start_paused = true)]
async fn steps_down_at_once_when_a_read_shows_another_holder() {
    let (mut server, replica) = start();
    let mut leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        acquire(&mut server).await;
        until(&mut leader, true).await;
        let get = server.expect(Method::GET, LEASE).await;
        let at = Instant::now();
        get.ok(&lease(Some(PEER), 7, 1));
        until(&mut leader, false).await;
        assert_eq!(Instant::now(), at, "stepped down only later");
        // No PUT: the next call is a read.
        server
            .expect(Method::GET, LEASE)
            .await
            .ok(&lease(Some(PEER), 8, 1));
        server.expect(Method::GET, LEASE).await;
    });
    mock::verify(scenario, SCENARIO).await;
}

#[tokio::test(start_paused = true)]
async fn conflict_on_create_leaves_a_follower() {
    let (mut server, replica) = start();
    let leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        server.expect(Method::GET, LEASE).await.fail(
            StatusCode::NOT_FOUND,
            "NotFound",
            "leases.coordination.k8s.io \"strait-leader\" not found",
        );
        let create = server.expect(Method::POST, LEASES).await;
        create.fail(StatusCode::CONFLICT, "AlreadyExists", "already exists");
        for next in 1..=3 {
            let get = server.expect(Method::GET, LEASE).await;
            assert!(!*leader.borrow());
            get.ok(&lease(Some(PEER), next, 0));
        }
        server.expect(Method::GET, LEASE).await;
    });
    mock::verify(scenario, SCENARIO).await;
    assert!(!*replica.leader.borrow());
    assert!(!replica.metrics.is_leader());
}

#[tokio::test(start_paused = true)]
async fn conflict_on_takeover_leaves_a_follower() {
    let (mut server, replica) = start();
    let leader = replica.leader.clone();
    let scenario = tokio::spawn(async move {
        // Released by its last holder: anyone may take it at once.
        let released = lease(None, 3, 2);
        server.expect(Method::GET, LEASE).await.ok(&released);
        let put = server.expect(Method::PUT, LEASE).await;
        assert_eq!(version(&put.body), "3");
        assert_eq!(put.body["spec"]["holderIdentity"], US);
        assert_eq!(put.body["spec"]["leaseTransitions"], 3);
        put.fail(
            StatusCode::CONFLICT,
            "Conflict",
            "the object has been modified",
        );
        for next in 4..=6 {
            let get = server.expect(Method::GET, LEASE).await;
            assert!(!*leader.borrow());
            get.ok(&lease(Some(PEER), next, 3));
        }
        server.expect(Method::GET, LEASE).await;
    });
    mock::verify(scenario, SCENARIO).await;
    assert!(!*replica.leader.borrow());
}

#[tokio::test(start_paused = true)]
async fn releases_the_lease_on_shutdown() {
    let (mut server, mut replica) = start();
    let mut leader = replica.leader.clone();
    let stop = replica.stop.take().expect("stop");
    let scenario = tokio::spawn(async move {
        acquire(&mut server).await;
        until(&mut leader, true).await;
        stop.send(()).expect("elector running");
        let put = server.expect(Method::PUT, LEASE).await;
        assert!(!*leader.borrow(), "still leader while releasing");
        assert_eq!(version(&put.body), "1");
        let spec = &put.body["spec"];
        assert!(spec["holderIdentity"].is_null(), "holder kept: {spec}");
        assert_eq!(spec["leaseDurationSeconds"], 1);
        assert_eq!(spec["leaseTransitions"], 0);
        accept(put, 2);
        server.expect_none(Duration::from_secs(30)).await;
    });
    mock::verify(scenario, SCENARIO).await;
    tokio::time::timeout(Duration::from_secs(1), replica.task)
        .await
        .expect("elector stops after releasing")
        .expect("elector did not panic");
    assert!(!replica.metrics.is_leader());
}

#[tokio::test(start_paused = true)]
async fn a_follower_writes_nothing_on_shutdown() {
    let (mut server, mut replica) = start();
    let stop = replica.stop.take().expect("stop");
    let scenario = tokio::spawn(async move {
        server
            .expect(Method::GET, LEASE)
            .await
            .ok(&lease(Some(PEER), 1, 0));
        stop.send(()).expect("elector running");
        server.expect_none(Duration::from_secs(30)).await;
    });
    mock::verify(scenario, SCENARIO).await;
    tokio::time::timeout(Duration::from_secs(1), replica.task)
        .await
        .expect("elector stops")
        .expect("elector did not panic");
}

#[test]
fn defaults_are_client_go_s() {
    let config = LeaseConfig::new("strait-leader", "ns", "pod-0");
    assert_eq!(config.lease_duration, Duration::from_secs(15));
    assert_eq!(config.renew_deadline, Duration::from_secs(10));
    assert_eq!(config.retry_period, Duration::from_secs(2));
    assert_eq!(super::seconds(Duration::from_millis(1500)), 2);
    assert_eq!(super::seconds(Duration::ZERO), 1);
}
