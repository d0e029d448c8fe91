//! Where the leader Lease lives, against the mock API server: `--election-namespace`, else the
//! pod's namespace, and with neither no election at all (the instance serves but never leads,
//! so it never writes status or Events beside the installation's own leader).

use std::time::Duration;

use http::{Method, StatusCode};
use tokio::sync::watch;

use super::*;
use crate::cluster::mock::{self, ApiServer};
use crate::serve::Tasks;

const QUIET: Duration = Duration::from_millis(300);

fn config(election_namespace: Option<&str>, pod_namespace: Option<&str>) -> ClusterConfig {
    ClusterConfig {
        leader_election: true,
        election_id: "strait-leader".to_owned(),
        election_namespace: election_namespace.map(str::to_owned),
        pod_namespace: pod_namespace.map(str::to_owned),
        pod_name: Some("strait-0".to_owned()),
        ..ClusterConfig::default()
    }
}

/// Runs the election for `config`; returns the leader watch, the mock and the shutdown.
fn elect(
    config: &ClusterConfig,
) -> (
    watch::Receiver<bool>,
    ApiServer,
    watch::Sender<bool>,
    ClusterMetrics,
    Tasks,
) {
    let (client, api) = mock::pair();
    let (stop, signal) = watch::channel(false);
    let metrics = ClusterMetrics::default();
    let mut tasks = Tasks::new();
    let leading = spawn_election(client, config, &metrics, &mut tasks, &signal);
    (leading, api, stop, metrics, tasks)
}

/// The Lease is read in `namespace`, created there when missing, and this replica leads.
async fn leads_in(config: ClusterConfig, namespace: &str) {
    let (mut leading, mut api, stop, metrics, mut tasks) = elect(&config);
    let lease = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
    api.expect(Method::GET, &format!("{lease}/strait-leader"))
        .await
        .fail(StatusCode::NOT_FOUND, "NotFound", "not found");
    let create = api.expect(Method::POST, &lease).await;
    let body = create.body.clone();
    create.respond(StatusCode::CREATED, &body);
    tokio::time::timeout(mock::CALL_DEADLINE, leading.wait_for(|l| *l))
        .await
        .expect("leads within the deadline")
        .expect("election running");
    assert!(metrics.is_leader());
    stop.send_replace(true);
    // Releasing the Lease on shutdown: answered, so the task ends.
    if let Some(release) = api.try_next(mock::CALL_DEADLINE).await {
        let body = release.body.clone();
        release.ok(&body);
    }
    while tasks.join_next().await.is_some() {}
}

#[tokio::test]
async fn the_lease_lives_in_the_election_namespace_when_given() {
    leads_in(config(Some("strait"), Some("elsewhere")), "strait").await;
}

#[tokio::test]
async fn the_lease_lives_in_the_pods_namespace_by_default() {
    leads_in(config(None, Some("ingress")), "ingress").await;
}

#[tokio::test]
async fn without_an_election_namespace_the_instance_never_leads() {
    let (leading, mut api, stop, metrics, mut tasks) = elect(&config(None, None));
    api.expect_none(QUIET).await;
    assert!(!*leading.borrow(), "never leads");
    assert!(!metrics.is_leader());
    assert!(
        leading.has_changed().is_ok(),
        "the channel stays open until shutdown"
    );
    stop.send_replace(true);
    while tasks.join_next().await.is_some() {}
}
