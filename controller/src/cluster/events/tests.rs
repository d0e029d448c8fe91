use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::Value;
use strait_shared::{ObjectRef, Reason};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::cluster::IngressState;
use crate::cluster::mock::{self, ApiServer};

const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
/// How long "no call" is watched for.
const QUIET: Duration = Duration::from_millis(300);
const DEADLINE: Duration = Duration::from_secs(10);

fn ingress(uid: &str, generation: i64) -> IngressState {
    IngressState {
        ours: true,
        uid: Some(uid.to_owned()),
        generation: Some(generation),
        ..IngressState::default()
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

fn published(
    generation: u64,
    ingresses: &[(&str, IngressState)],
    diagnostics: &[Diagnostic],
) -> Published {
    let ingresses: BTreeMap<_, _> = ingresses
        .iter()
        .map(|(name, state)| (key(name), state.clone()))
        .collect();
    let mut diagnostics = diagnostics.to_vec();
    diagnostics.sort();
    Published {
        generation,
        diagnostics,
        ingresses,
    }
}

fn missing(ingress: &str, service: &str) -> Diagnostic {
    Diagnostic::error(
        ObjectRef::new(Kind::Ingress, key(ingress)),
        Reason::ServiceMissing,
        format!("service default/{service} does not exist"),
    )
}

/// A planner past its startup baseline of `web` (uid `u1`, generation 1) and no diagnostic.
fn started() -> EventPlanner {
    let mut planner = EventPlanner::default();
    assert!(
        planner
            .plan(&published(1, &[("web", ingress("u1", 1))], &[]))
            .is_empty()
    );
    planner
}

fn summary(events: &[PlannedEvent]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|p| {
            let note = p.event.note.clone().unwrap_or_default();
            (p.ingress.to_string(), p.event.reason.clone(), note)
        })
        .collect()
}

// --- planner ---

#[test]
fn the_first_plan_announces_nothing() {
    let mut planner = EventPlanner::default();
    let first = published(
        7,
        &[("web", ingress("u1", 3)), ("api", ingress("u2", 1))],
        &[missing("web", "gone")],
    );
    assert!(planner.plan(&first).is_empty());
    assert!(planner.plan(&first).is_empty(), "and it is remembered");
}

#[test]
fn an_empty_publish_is_not_the_startup_baseline() {
    let mut planner = EventPlanner::default();
    assert!(planner.plan(&Published::default()).is_empty());
    let first = published(1, &[("web", ingress("u1", 1))], &[missing("web", "gone")]);
    assert!(planner.plan(&first).is_empty());
}

#[test]
fn a_new_diagnostic_is_one_warning_naming_its_reason_and_message() {
    let mut planner = started();
    let events = planner.plan(&published(
        1,
        &[("web", ingress("u1", 1))],
        &[missing("web", "gone")],
    ));
    assert_eq!(events.len(), 1);
    let planned = &events[0];
    assert_eq!(planned.ingress, key("web"));
    assert_eq!(planned.event.type_, EventType::Warning);
    assert_eq!(planned.event.reason, "ServiceMissing");
    assert_eq!(planned.event.action, ACTION_COMPILE);
    assert_eq!(
        planned.event.note.as_deref(),
        Some("service default/gone does not exist")
    );
    let reference = &planned.reference;
    assert_eq!(
        reference.api_version.as_deref(),
        Some("networking.k8s.io/v1")
    );
    assert_eq!(reference.kind.as_deref(), Some("Ingress"));
    assert_eq!(reference.namespace.as_deref(), Some("default"));
    assert_eq!(reference.name.as_deref(), Some("web"));
    assert_eq!(reference.uid.as_deref(), Some("u1"));
}

#[test]
fn the_same_diagnostics_again_announce_nothing() {
    let mut planner = started();
    let broken = published(1, &[("web", ingress("u1", 1))], &[missing("web", "gone")]);
    assert_eq!(planner.plan(&broken).len(), 1);
    assert!(planner.plan(&broken).is_empty());
    let republished = published(2, &[("web", ingress("u1", 1))], &[missing("web", "gone")]);
    assert!(planner.plan(&republished).is_empty(), "a new table alone");
}

#[test]
fn a_resolved_diagnostic_that_comes_back_is_posted_again() {
    let mut planner = started();
    let broken = published(1, &[("web", ingress("u1", 1))], &[missing("web", "gone")]);
    assert_eq!(planner.plan(&broken).len(), 1);
    let fixed = planner.plan(&published(2, &[("web", ingress("u1", 1))], &[]));
    assert_eq!(
        summary(&fixed),
        [(
            "default/web".to_owned(),
            "Resolved".to_owned(),
            "resolved: service default/gone does not exist".to_owned()
        )]
    );
    assert_eq!(fixed[0].event.type_, EventType::Normal);
    assert_eq!(summary(&planner.plan(&broken)), summary_of_missing("gone"));
}

#[test]
fn a_fix_that_raises_another_problem_ends_on_the_warning() {
    let mut planner = started();
    let broken = published(1, &[("web", ingress("u1", 1))], &[missing("web", "a")]);
    assert_eq!(planner.plan(&broken).len(), 1);
    let other = published(2, &[("web", ingress("u1", 1))], &[missing("web", "b")]);
    let reasons: Vec<String> = summary(&planner.plan(&other))
        .into_iter()
        .map(|(_, reason, _)| reason)
        .collect();
    assert_eq!(reasons, ["Resolved", "ServiceMissing"]);
}

#[test]
fn a_deleted_or_recreated_ingress_gets_no_resolved() {
    let mut planner = started();
    let broken = published(1, &[("web", ingress("u1", 1))], &[missing("web", "gone")]);
    assert_eq!(planner.plan(&broken).len(), 1);
    let recreated = planner.plan(&published(2, &[("web", ingress("u2", 1))], &[]));
    assert!(
        summary(&recreated)
            .iter()
            .all(|(_, reason, _)| reason != "Resolved"),
        "{:?}",
        summary(&recreated)
    );
}

fn summary_of_missing(service: &str) -> Vec<(String, String, String)> {
    let note = format!("service default/{service} does not exist");
    vec![("default/web".to_owned(), "ServiceMissing".to_owned(), note)]
}

#[test]
fn only_the_new_one_of_several_diagnostics_is_posted() {
    let mut planner = started();
    let one = published(1, &[("web", ingress("u1", 1))], &[missing("web", "a")]);
    assert_eq!(planner.plan(&one).len(), 1);
    let two = published(
        1,
        &[("web", ingress("u1", 1))],
        &[missing("web", "a"), missing("web", "b")],
    );
    assert_eq!(summary(&planner.plan(&two)), summary_of_missing("b"));
}

#[test]
fn a_diagnostic_on_another_kind_is_skipped() {
    let mut planner = started();
    let secret = Diagnostic::error(
        ObjectRef::new(Kind::Secret, ObjectKey::new("strait", "default-cert")),
        Reason::TlsSecretInvalid,
        "not a TLS Secret",
    );
    let events = planner.plan(&published(1, &[("web", ingress("u1", 1))], &[secret]));
    assert!(events.is_empty());
}

#[test]
fn a_diagnostic_on_an_unknown_or_uidless_ingress_is_skipped() {
    let mut planner = started();
    let uidless = IngressState {
        uid: None,
        ..ingress("", 1)
    };
    let events = planner.plan(&published(
        1,
        &[("web", ingress("u1", 1)), ("nouid", uidless)],
        &[missing("nouid", "a"), missing("elsewhere", "b")],
    ));
    assert!(events.is_empty());
}

#[test]
fn a_generation_bump_is_one_programmed_naming_the_table_generation() {
    let mut planner = started();
    let events = planner.plan(&published(12, &[("web", ingress("u1", 2))], &[]));
    assert_eq!(events.len(), 1);
    let planned = &events[0];
    assert_eq!(planned.event.type_, EventType::Normal);
    assert_eq!(planned.event.reason, PROGRAMMED);
    assert_eq!(planned.event.action, ACTION_PUBLISH);
    assert_eq!(
        planned.event.note.as_deref(),
        Some("generation 2 is live in routing table generation 12")
    );
    assert_eq!(planned.reference.uid.as_deref(), Some("u1"));
    let again = planner.plan(&published(13, &[("web", ingress("u1", 2))], &[]));
    assert!(again.is_empty(), "announced once");
}

#[test]
fn a_new_ingress_and_a_recreated_one_are_programmed() {
    let mut planner = started();
    let events = planner.plan(&published(
        2,
        &[("web", ingress("u9", 1)), ("api", ingress("u2", 1))],
        &[],
    ));
    let names: Vec<_> = events.iter().map(|p| p.ingress.name.as_str()).collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(events[1].reference.uid.as_deref(), Some("u9"));
}

#[test]
fn an_ingress_not_ours_is_never_programmed() {
    let mut planner = started();
    let theirs = IngressState {
        ours: false,
        ..ingress("u2", 5)
    };
    let events = planner.plan(&published(
        2,
        &[("web", ingress("u1", 1)), ("other", theirs)],
        &[],
    ));
    assert!(events.is_empty());
}

#[test]
fn a_deleted_ingress_is_forgotten() {
    let mut planner = started();
    assert!(planner.plan(&published(2, &[], &[])).is_empty());
    let back = planner.plan(&published(3, &[("web", ingress("u1", 1))], &[]));
    assert_eq!(back.len(), 1, "announced again once it is back");
}

#[test]
fn an_ingress_with_rejected_rules_is_still_programmed() {
    let mut planner = started();
    let events = planner.plan(&published(
        4,
        &[("web", ingress("u1", 2))],
        &[missing("web", "gone")],
    ));
    let reasons: Vec<_> = events.iter().map(|p| p.event.reason.as_str()).collect();
    assert_eq!(reasons, ["ServiceMissing", PROGRAMMED], "Warnings first");
}

#[test]
fn a_long_message_is_cut_to_1_kib_on_a_char_boundary() {
    let mut planner = started();
    let long = Diagnostic::error(
        ObjectRef::new(Kind::Ingress, key("web")),
        Reason::InvalidPath,
        "é".repeat(600),
    );
    let events = planner.plan(&published(1, &[("web", ingress("u1", 1))], &[long]));
    let note = events[0].event.note.clone().unwrap_or_default();
    assert_eq!(note.len(), 1024);
    assert!(note.chars().all(|c| c == 'é'));
    assert_eq!(truncate("short", MAX_NOTE_BYTES), "short");
}

// --- the task, against a mock API server ---

/// A running [`run`] task and the handles that drive it.
struct Task {
    published: watch::Sender<Arc<Published>>,
    leader: watch::Sender<bool>,
    metrics: ClusterMetrics,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

fn reporter() -> Reporter {
    Reporter {
        controller: "strait".to_owned(),
        instance: Some("strait-0".to_owned()),
    }
}

/// Starts [`run`] with `baseline` as the channel's value, and lets it take that baseline
/// (on the current-thread test runtime the task runs to its first wait during the sleep).
async fn start(client: Client, leader: bool, baseline: Published) -> Task {
    let (published, published_rx) = watch::channel(Arc::new(baseline));
    let (leader, leader_rx) = watch::channel(leader);
    let (stop, stopped) = oneshot::channel::<()>();
    let metrics = ClusterMetrics::default();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let handle = tokio::spawn(run(
        client,
        reporter(),
        published_rx,
        leader_rx,
        metrics.clone(),
        shutdown,
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    Task {
        published,
        leader,
        metrics,
        stop,
        handle,
    }
}

impl Task {
    fn publish(&self, published: Published) {
        self.published.send_replace(Arc::new(published));
    }

    /// Signals shutdown and waits for the task to return.
    async fn stop(self) -> ClusterMetrics {
        let _ = self.stop.send(());
        let joined = tokio::time::timeout(DEADLINE, self.handle).await;
        assert!(matches!(joined, Ok(Ok(()))), "run returns on shutdown");
        self.metrics
    }
}

fn web_baseline() -> Published {
    published(1, &[("web", ingress("u1", 1))], &[])
}

/// The next call must create an Event; it is answered by echoing the Event back.
async fn expect_create(api: &mut ApiServer) -> Value {
    let call = api.expect(Method::POST, EVENTS).await;
    let body = call.body.clone();
    call.respond(StatusCode::CREATED, &body);
    body
}

fn text<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_leader_posts_a_warning_for_a_new_diagnostic() {
    let (client, mut api) = mock::pair();
    let task = start(client, true, web_baseline()).await;
    task.publish(published(
        2,
        &[("web", ingress("u1", 1))],
        &[missing("web", "gone")],
    ));
    let scenario = tokio::spawn(async move {
        let body = expect_create(&mut api).await;
        assert_eq!(text(&body, "/type"), "Warning");
        assert_eq!(text(&body, "/reason"), "ServiceMissing");
        assert_eq!(text(&body, "/action"), ACTION_COMPILE);
        assert_eq!(text(&body, "/note"), "service default/gone does not exist");
        assert_eq!(text(&body, "/regarding/kind"), "Ingress");
        assert_eq!(text(&body, "/regarding/apiVersion"), "networking.k8s.io/v1");
        assert_eq!(text(&body, "/regarding/name"), "web");
        assert_eq!(text(&body, "/regarding/uid"), "u1");
        assert_eq!(text(&body, "/reportingController"), "strait");
        assert_eq!(text(&body, "/reportingInstance"), "strait-0");
        assert_eq!(text(&body, "/metadata/namespace"), "default");
        api.expect_none(QUIET).await;
    });
    mock::verify(scenario, DEADLINE).await;
    let metrics = task.stop().await;
    assert_eq!(metrics.event_count(EventKind::Warning, WriteResult::Ok), 1);
}

#[tokio::test]
async fn a_leader_posts_programmed_once_a_change_is_live() {
    let (client, mut api) = mock::pair();
    let task = start(client, true, web_baseline()).await;
    task.publish(published(12, &[("web", ingress("u1", 2))], &[]));
    let scenario = tokio::spawn(async move {
        let body = expect_create(&mut api).await;
        assert_eq!(text(&body, "/type"), "Normal");
        assert_eq!(text(&body, "/reason"), PROGRAMMED);
        assert_eq!(
            text(&body, "/note"),
            "generation 2 is live in routing table generation 12"
        );
        api.expect_none(QUIET).await;
    });
    mock::verify(scenario, DEADLINE).await;
    let metrics = task.stop().await;
    assert_eq!(metrics.event_count(EventKind::Normal, WriteResult::Ok), 1);
}

#[tokio::test]
async fn a_follower_posts_nothing_then_what_is_pending_once_leader() {
    let (client, mut api) = mock::pair();
    let task = start(client, false, web_baseline()).await;
    let web = || ("web", ingress("u1", 1));
    task.publish(published(2, &[web()], &[missing("web", "a")]));
    api.expect_none(QUIET).await;

    task.leader.send_replace(true);
    task.publish(published(
        3,
        &[web()],
        &[missing("web", "a"), missing("web", "b")],
    ));
    let scenario = tokio::spawn(async move {
        let first = expect_create(&mut api).await;
        assert_eq!(text(&first, "/note"), "service default/a does not exist");
        let second = expect_create(&mut api).await;
        assert_eq!(text(&second, "/note"), "service default/b does not exist");
        api.expect_none(QUIET).await;
    });
    mock::verify(scenario, DEADLINE).await;
    let metrics = task.stop().await;
    assert_eq!(metrics.event_count(EventKind::Warning, WriteResult::Ok), 2);
}

/// An Ingress that went live while no replica led gets its `Programmed` from the replica
/// that takes the Lease, without any further publish.
#[tokio::test]
async fn programmed_planned_while_following_is_posted_on_taking_the_lease() {
    let (client, mut api) = mock::pair();
    let task = start(client, false, web_baseline()).await;
    task.publish(published(5, &[("web", ingress("u1", 2))], &[]));
    api.expect_none(QUIET).await;
    task.leader.send_replace(true);
    let scenario = tokio::spawn(async move {
        let body = expect_create(&mut api).await;
        assert_eq!(text(&body, "/reason"), PROGRAMMED);
        assert_eq!(
            text(&body, "/note"),
            "generation 2 is live in routing table generation 5"
        );
        api.expect_none(QUIET).await;
    });
    mock::verify(scenario, DEADLINE).await;
    let metrics = task.stop().await;
    assert_eq!(metrics.event_count(EventKind::Normal, WriteResult::Ok), 1);
}

/// Pending Events are bounded: older than the TTL when leadership comes, they are dropped
/// (the leader of that time posted them).
#[tokio::test(start_paused = true)]
async fn pending_events_older_than_the_ttl_are_dropped() {
    let (client, mut api) = mock::pair();
    let task = start(client, false, web_baseline()).await;
    task.publish(published(5, &[("web", ingress("u1", 2))], &[]));
    tokio::time::sleep(PENDING_TTL + Duration::from_secs(1)).await;
    task.leader.send_replace(true);
    api.expect_none(QUIET).await;
    let metrics = task.stop().await;
    assert_eq!(metrics.event_count(EventKind::Normal, WriteResult::Ok), 0);
}

/// The Recorder merges identical Events into a series; a different message with the same
/// reason is a new Event rather than a count on the first one's message.
#[tokio::test]
async fn a_repeat_is_a_series_and_another_message_a_new_event() {
    let (client, mut api) = mock::pair();
    let task = start(client, true, web_baseline()).await;
    let web = || ("web", ingress("u1", 1));
    task.publish(published(2, &[web()], &[missing("web", "a")]));
    let first = expect_create(&mut api).await;
    assert_eq!(text(&first, "/note"), "service default/a does not exist");

    task.publish(published(
        3,
        &[web()],
        &[missing("web", "a"), missing("web", "b")],
    ));
    let second = expect_create(&mut api).await;
    assert_eq!(text(&second, "/note"), "service default/b does not exist");

    task.publish(published(4, &[web()], &[]));
    let resolved = expect_create(&mut api).await;
    assert_eq!(text(&resolved, "/reason"), "Resolved");
    assert_eq!(text(&resolved, "/type"), "Normal");
    assert_eq!(
        text(&resolved, "/note"),
        "resolved: service default/a does not exist; service default/b does not exist"
    );
    api.expect_none(QUIET).await;
    task.publish(published(5, &[web()], &[missing("web", "a")]));
    let name = text(&first, "/metadata/name").to_owned();
    let call = api.expect(Method::PATCH, &format!("{EVENTS}/{name}")).await;
    assert_eq!(call.body.pointer("/series/count"), Some(&Value::from(2)));
    assert_eq!(
        text(&call.body, "/note"),
        "service default/a does not exist"
    );
    let body = call.body.clone();
    call.ok(&body);
    api.expect_none(QUIET).await;
    task.stop().await;
}

#[tokio::test]
async fn a_failed_post_is_counted_and_not_retried() {
    let (client, mut api) = mock::pair();
    let task = start(client, true, web_baseline()).await;
    task.publish(published(
        2,
        &[("web", ingress("u1", 1))],
        &[missing("web", "gone")],
    ));
    let scenario = tokio::spawn(async move {
        let call = api.expect(Method::POST, EVENTS).await;
        call.fail(StatusCode::FORBIDDEN, "Forbidden", "events is forbidden");
        api.expect_none(QUIET).await;
    });
    mock::verify(scenario, DEADLINE).await;
    let metrics = task.stop().await;
    assert_eq!(
        metrics.event_count(EventKind::Warning, WriteResult::Error),
        1
    );
    assert_eq!(metrics.event_count(EventKind::Warning, WriteResult::Ok), 0);
}
