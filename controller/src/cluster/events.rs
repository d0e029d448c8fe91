//! Kubernetes Events on Ingresses (leader only): a `Warning` for each new diagnostic about an
//! Ingress (a rule rejected for a missing Service or port, an invalid path, a conflict lost, a
//! broken TLS Secret, annotations not enforced, ignored or unknown, ...), a `Normal`
//! `Resolved` when diagnostics go away, and a `Normal` `Programmed` once a change to an
//! Ingress is live.
//!
//! Two layers, so the decisions are testable without an API server:
//! - [`EventPlanner`] is pure: it diffs each [`Published`] against the previous one and says
//!   which Events are due.
//! - [`run`] plans every publish on every replica, and posts only while this replica leads,
//!   through kube-runtime's [`Recorder`] (`events.k8s.io/v1`, in the Ingress's namespace).
//!
//! Identical Events are not repeated in a loop: the planner only emits what changed since the
//! previous plan, and the Recorder turns a repeat of an identical Event within 6 minutes into
//! a series patch (`x2 over 3m` in `kubectl describe`) instead of a new object.
//!
//! Events are best-effort: a failed post is counted and logged at debug level, never retried.
//! The same diagnostics are logged by the publisher (`crate::publish`), so nothing is lost.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use strait_shared::{Diagnostic, Kind, ObjectKey};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Published;
use crate::metrics::{ApiOperation, ClusterMetrics, EventKind, WriteResult};

/// Reason of the Normal Event posted once a change to an Ingress is live.
pub const PROGRAMMED: &str = "Programmed";
/// Reason of the Normal Event posted when an Ingress's diagnostics go away (the problem was
/// fixed): it lists what was resolved.
pub const RESOLVED: &str = "Resolved";
/// Action of the Warning Events: the compile rejected or flagged part of the Ingress.
pub const ACTION_COMPILE: &str = "Compile";
/// Action of the `Programmed` Events: the routing table carrying the change was published.
pub const ACTION_PUBLISH: &str = "Publish";
/// The API server rejects a longer `note`.
pub const MAX_NOTE_BYTES: usize = 1024;
/// Pause between two posts, so a burst (a Service used by a thousand Ingresses deleted) is
/// spread at 50 Events a second instead of hitting the API server at once.
const POST_INTERVAL: Duration = Duration::from_millis(20);
/// How long the Recorder merges identical Events into a series (kube-runtime's cache TTL).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// Events planned while this replica does not lead, kept for when it does: at most this many
/// (the oldest are dropped first)...
pub const MAX_PENDING: usize = 1024;
/// ...and none older than this when leadership is gained. A healthy leader posted what was
/// planned while it led; the gap without any leader (a leader gone until its Lease expires,
/// 15 s, plus a retry) is well inside this. Older Events would only repeat the old leader's.
pub const PENDING_TTL: Duration = Duration::from_secs(60);

/// Decides which Events a publish calls for, by diffing it against the previous one.
///
/// The first plan with any content is the startup baseline: every diagnostic and every
/// Ingress generation in it is remembered without being announced, because the previous
/// controller instance already posted them; announcing them again would post thousands of
/// Events at every restart or rollout. A [`Published`] with no Ingress and no diagnostic (the
/// placeholder a channel starts with) is not taken as that baseline.
#[derive(Debug, Default)]
pub struct EventPlanner {
    /// Ingress diagnostics of the previous plan, with the uid of the Ingress they were about
    /// (an Ingress deleted and re-created with the same problem gets its Warning again).
    diagnostics: HashSet<(String, Diagnostic)>,
    /// Per Ingress of ours: the (uid, `metadata.generation`) last announced or baselined.
    announced: HashMap<ObjectKey, (String, Option<i64>)>,
    /// Whether the startup baseline has been taken.
    started: bool,
}

/// One Event to post, attached to one Ingress.
pub struct PlannedEvent {
    pub ingress: ObjectKey,
    /// The Ingress as the Event's `regarding`.
    pub reference: ObjectReference,
    pub event: Event,
}

impl EventPlanner {
    /// The Events due since the previous plan: Warnings for new Ingress diagnostics, then
    /// `Programmed` for Ingresses of ours whose uid or generation changed.
    ///
    /// An Ingress with rejected rules is still `Programmed`: its other rules went live, and
    /// the rejected ones have their own Warnings.
    pub fn plan(&mut self, published: &Published) -> Vec<PlannedEvent> {
        if !self.started && published.ingresses.is_empty() && published.diagnostics.is_empty() {
            return Vec::new();
        }
        let announce = self.started;
        self.started = true;
        let mut events = self.warnings(published, announce);
        events.extend(self.programmed(published, announce));
        events
    }

    /// Warnings for Ingress diagnostics absent from the previous plan (a set difference, as
    /// the publisher's logs do). Diagnostics about other kinds (the default certificate's
    /// Secret) have no Ingress to attach to, nor do those about an Ingress without a uid.
    fn warnings(&mut self, published: &Published, announce: bool) -> Vec<PlannedEvent> {
        let mut current = HashSet::new();
        let mut events = Vec::new();
        let about_ingresses = published
            .diagnostics
            .iter()
            .filter(|d| d.object.kind == Kind::Ingress);
        for diagnostic in about_ingresses {
            let key = &diagnostic.object.key;
            let Some(uid) = published.ingresses.get(key).and_then(|s| s.uid.clone()) else {
                continue;
            };
            let entry = (uid, diagnostic.clone());
            if announce && !self.diagnostics.contains(&entry) && !current.contains(&entry) {
                events.push(PlannedEvent {
                    ingress: key.clone(),
                    reference: reference(key, &entry.0),
                    event: warning(diagnostic),
                });
            }
            current.insert(entry);
        }
        if announce {
            let mut resolved = self.resolved(published, &current);
            resolved.append(&mut events);
            events = resolved;
        }
        self.diagnostics = current;
        events
    }

    /// One `Resolved` per Ingress (same uid, still ours) whose diagnostics of the previous plan
    /// are gone, listing them: without it `kubectl describe` keeps showing the last Warning as
    /// the Ingress's latest news after the problem is fixed. Posted before new Warnings, so a
    /// fix that raises another problem ends on that Warning.
    fn resolved(
        &self,
        published: &Published,
        current: &HashSet<(String, Diagnostic)>,
    ) -> Vec<PlannedEvent> {
        let mut gone: BTreeMap<&ObjectKey, (&str, Vec<&str>)> = BTreeMap::new();
        for entry @ (uid, diagnostic) in &self.diagnostics {
            let key = &diagnostic.object.key;
            let same = published
                .ingresses
                .get(key)
                .is_some_and(|s| s.ours && s.uid.as_deref() == Some(uid.as_str()));
            if same && !current.contains(entry) {
                let (_, messages) = gone.entry(key).or_insert((uid.as_str(), Vec::new()));
                messages.push(diagnostic.message.as_str());
            }
        }
        gone.into_iter()
            .map(|(key, (uid, mut messages))| {
                messages.sort_unstable();
                PlannedEvent {
                    ingress: key.clone(),
                    reference: reference(key, uid),
                    event: resolved(&messages),
                }
            })
            .collect()
    }

    /// `Programmed` for each Ingress of ours whose (uid, generation) is not the one last
    /// announced. Ingresses deleted or no longer ours are forgotten, so one that becomes ours
    /// again (an IngressClass change) is announced again.
    fn programmed(&mut self, published: &Published, announce: bool) -> Vec<PlannedEvent> {
        let mut announced = HashMap::with_capacity(self.announced.len());
        let mut events = Vec::new();
        for (key, state) in &published.ingresses {
            let Some(uid) = state.uid.as_ref().filter(|_| state.ours) else {
                continue;
            };
            let seen = (uid.clone(), state.generation);
            if announce && self.announced.get(key) != Some(&seen) {
                events.push(PlannedEvent {
                    ingress: key.clone(),
                    reference: reference(key, uid),
                    event: programmed(state.generation, published.generation),
                });
            }
            announced.insert(key.clone(), seen);
        }
        self.announced = announced;
        events
    }
}

/// Plans every [`Published`] and posts the Events while `leader` is true, until `shutdown`.
///
/// Every replica plans every publish, so a replica that becomes leader later does not replay
/// history from before it started. A follower keeps what it planned ([`Pending`]: at most
/// [`MAX_PENDING`], none older than [`PENDING_TTL`]) and posts it on becoming leader: an
/// Ingress that went live while no replica led still gets its `Programmed`. Posts are paced ([`POST_INTERVAL`]) and best-effort: a failure is counted
/// (`events_posted{result="error"}`, `api_errors{operation="event"}`) and not retried.
pub async fn run(
    client: Client,
    reporter: Reporter,
    mut published: watch::Receiver<Arc<Published>>,
    leader: watch::Receiver<bool>,
    metrics: ClusterMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut leader = leader;
    let mut planner = EventPlanner::default();
    let mut poster = Poster::new(client, reporter, metrics);
    let mut pending = Pending::default();
    let mut current = Some(Arc::clone(&published.borrow_and_update()));
    leader.borrow_and_update();
    loop {
        if let Some(report) = current.take() {
            pending.extend(planner.plan(&report));
        }
        if *leader.borrow() && !pending.is_empty() {
            let events = pending.take();
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                unposted = poster.post_all(events, &leader) => pending.extend(unposted),
            }
        }
        tokio::select! {
            biased;
            () = &mut shutdown => return,
            changed = published.changed() => {
                if changed.is_err() {
                    // The compile loop is gone: nothing more to announce.
                    shutdown.await;
                    return;
                }
                current = Some(Arc::clone(&published.borrow_and_update()));
            }
            changed = leader.changed() => {
                if changed.is_err() {
                    // Leader election is gone (shutting down): never leads again.
                    shutdown.await;
                    return;
                }
                leader.borrow_and_update();
            }
        }
    }
}

/// Planned Events not yet posted because this replica did not lead, oldest first.
#[derive(Default)]
struct Pending {
    events: VecDeque<(Instant, PlannedEvent)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Keeps `events`, dropping the oldest beyond [`MAX_PENDING`].
    fn extend(&mut self, events: Vec<PlannedEvent>) {
        let now = Instant::now();
        self.events.extend(events.into_iter().map(|e| (now, e)));
        let excess = self.events.len().saturating_sub(MAX_PENDING);
        if excess > 0 {
            self.events.drain(..excess);
            tracing::debug!(
                dropped = excess,
                "too many Events pending while not leading; dropped the oldest"
            );
        }
    }

    /// Everything pending and still within [`PENDING_TTL`], oldest first.
    fn take(&mut self) -> Vec<PlannedEvent> {
        let now = Instant::now();
        self.events
            .drain(..)
            .filter(|(at, _)| now.duration_since(*at) <= PENDING_TTL)
            .map(|(_, event)| event)
            .collect()
    }
}

/// Posts planned Events and counts the outcome.
struct Poster {
    client: Client,
    reporter: Reporter,
    metrics: ClusterMetrics,
    /// One Recorder per distinct note, with when it was last used. kube-runtime's Recorder
    /// (like client-go's) merges Events of the same type, reason, action and object into a
    /// series whatever their note, and the series keeps the first note: a second missing
    /// Service on the same Ingress would show as "x2" of the first one's message, and a
    /// `Programmed` would keep naming an old table generation. Keying by note makes only
    /// identical Events merge.
    recorders: HashMap<String, (Recorder, Instant)>,
    pace: Interval,
    /// Whether the last post failed: the first failure is logged at info, repeats at debug.
    failing: bool,
}

impl Poster {
    fn new(client: Client, reporter: Reporter, metrics: ClusterMetrics) -> Self {
        let mut pace = tokio::time::interval(POST_INTERVAL);
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            client,
            reporter,
            metrics,
            recorders: HashMap::new(),
            pace,
            failing: false,
        }
    }

    /// Posts `events` one at a time while this replica leads; returns those it could not
    /// post because it stopped leading.
    async fn post_all(
        &mut self,
        events: Vec<PlannedEvent>,
        leader: &watch::Receiver<bool>,
    ) -> Vec<PlannedEvent> {
        let now = Instant::now();
        self.recorders
            .retain(|_, (_, used)| now.duration_since(*used) < SERIES_WINDOW);
        let mut events = events.into_iter();
        while *leader.borrow() {
            let Some(planned) = events.next() else {
                break;
            };
            self.pace.tick().await;
            self.post(&planned).await;
        }
        events.collect()
    }

    async fn post(&mut self, planned: &PlannedEvent) {
        let kind = match planned.event.type_ {
            EventType::Normal => EventKind::Normal,
            EventType::Warning => EventKind::Warning,
        };
        let recorder = self.recorder(planned.event.note.as_deref().unwrap_or_default());
        match recorder.publish(&planned.event, &planned.reference).await {
            Ok(()) => {
                self.metrics.event_posted(kind, WriteResult::Ok);
                self.failing = false;
            }
            Err(error) => {
                self.metrics.event_posted(kind, WriteResult::Error);
                self.metrics.api_error(ApiOperation::Event, "Event");
                let (ingress, reason) = (&planned.ingress, &planned.event.reason);
                if self.failing {
                    tracing::debug!(%ingress, %reason, %error, "Event not posted");
                } else {
                    tracing::info!(%ingress, %reason, %error, "Event not posted (best effort)");
                }
                self.failing = true;
            }
        }
    }

    /// The Recorder for Events with this `note` (see [`Poster::recorders`]).
    fn recorder(&mut self, note: &str) -> Recorder {
        let now = Instant::now();
        let (recorder, used) = self.recorders.entry(note.to_owned()).or_insert_with(|| {
            let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
            (recorder, now)
        });
        *used = now;
        recorder.clone()
    }
}

/// The Ingress as an Event's `regarding` object.
fn reference(key: &ObjectKey, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("networking.k8s.io/v1".to_owned()),
        kind: Some(Kind::Ingress.as_str().to_owned()),
        namespace: Some(key.namespace.clone()),
        name: Some(key.name.clone()),
        uid: Some(uid.to_owned()),
        ..ObjectReference::default()
    }
}

fn warning(diagnostic: &Diagnostic) -> Event {
    Event {
        type_: EventType::Warning,
        reason: diagnostic.reason.as_str().to_owned(),
        note: Some(truncate(&diagnostic.message, MAX_NOTE_BYTES)),
        action: ACTION_COMPILE.to_owned(),
        secondary: None,
    }
}

fn resolved(messages: &[&str]) -> Event {
    let note = format!("resolved: {}", messages.join("; "));
    Event {
        type_: EventType::Normal,
        reason: RESOLVED.to_owned(),
        note: Some(truncate(&note, MAX_NOTE_BYTES)),
        action: ACTION_COMPILE.to_owned(),
        secondary: None,
    }
}

fn programmed(ingress_generation: Option<i64>, table_generation: u64) -> Event {
    let note = match ingress_generation {
        Some(g) => format!("generation {g} is live in routing table generation {table_generation}"),
        None => format!("configuration live in routing table generation {table_generation}"),
    };
    Event {
        type_: EventType::Normal,
        reason: PROGRAMMED.to_owned(),
        note: Some(note),
        action: ACTION_PUBLISH.to_owned(),
        secondary: None,
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests;
