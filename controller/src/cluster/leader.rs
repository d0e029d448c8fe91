//! Leader election on a `coordination.k8s.io/v1` Lease, after client-go's `leaderelection`
//! with a Lease lock. One replica holds the Lease and so writes Ingress status and Events; the
//! others wait for it to stop renewing. Proxying never depends on the outcome.
//!
//! Two rules keep two leaders from writing at once:
//! - a candidate judges the holder's term by its OWN monotonic clock, counted from when it
//!   last saw the record change (client-go's `observedTime`), never from `renewTime`, which
//!   another node's clock wrote;
//! - the holder stops writing (flips the `leader` watch) once `renew_deadline` has passed since
//!   its last successful write was sent, which is before any candidate can count
//!   `lease_duration` from seeing that write.
//!
//! Every write is a PUT carrying the `resourceVersion` just read, so two candidates racing for
//! an expired Lease cannot both win: the loser gets 409 Conflict. The RBAC granted is exactly
//! get, create and update on Leases in our namespace (see [`super::api`]).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::{ApiOperation, ClusterMetrics};

/// The kind named in the `api_errors` metric.
const KIND: &str = "Lease";

/// Timing and identity of the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Name of the Lease (`--election-id`).
    pub name: String,
    /// The pod's namespace, where the Lease lives.
    pub namespace: String,
    /// This replica (the pod name), written to `holderIdentity`.
    pub identity: String,
    /// How long candidates wait, from seeing the last change, before taking the Lease over.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renew; shorter than
    /// `lease_duration` so it has stopped writing before anyone may take over.
    pub renew_deadline: Duration,
    /// Pause between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's defaults: leases of 15 s, renewed every 2 s, given up after 10 s without
    /// a successful renew.
    pub const LEASE_DURATION: Duration = Duration::from_secs(15);
    pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
    pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

    /// The Lease `name` in `namespace`, held as `identity`, with the default timings.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Self::LEASE_DURATION,
            renew_deadline: Self::RENEW_DEADLINE,
            retry_period: Self::RETRY_PERIOD,
        }
    }
}

/// Runs the election until `shutdown` resolves. `leader` is set to true while this replica
/// holds the Lease and false otherwise (and `metrics.set_leader` mirrors it). On shutdown a
/// held Lease is released — `leader` set false first, then the Lease written with no holder
/// and a 1 s duration, as client-go's `ReleaseOnCancel` — so another replica takes over at its
/// next retry instead of waiting out the lease.
pub async fn run(
    client: kube::Client,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    metrics: ClusterMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let api = Api::namespaced(client, &config.namespace);
    let mut elector = Elector::new(api, config, leader, metrics);
    let election = async {
        loop {
            elector.tick().await;
            tokio::time::sleep_until(elector.next_tick()).await;
        }
    };
    tokio::select! {
        () = shutdown => {}
        _ = election => {}
    }
    elector.release().await;
}

/// What the Lease as read allows us to do.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// We hold it: renew.
    Renew,
    /// Nobody holds it, or the holder's term ran out by our clock: take it.
    TakeOver,
    /// Someone else holds it and is within its term.
    HeldBy(String),
}

/// The election's state between attempts.
struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    metrics: ClusterMetrics,
    /// The record as last read or written: its `resourceVersion` guards our next write.
    lease: Option<Lease>,
    /// When we last saw `lease` change, by our monotonic clock (client-go's `observedTime`).
    observed_at: Instant,
    /// While we lead: when the last successful write was sent. Counting from the send, not
    /// the answer, errs on the side of stepping down early.
    renewed_at: Option<Instant>,
}

impl Elector {
    fn new(
        api: Api<Lease>,
        config: LeaseConfig,
        leader: watch::Sender<bool>,
        metrics: ClusterMetrics,
    ) -> Self {
        // Nothing is held yet, whatever the channel started with.
        leader.send_if_modified(|value| std::mem::replace(value, false));
        metrics.set_leader(false);
        Self {
            api,
            config,
            leader,
            metrics,
            lease: None,
            observed_at: Instant::now(),
            renewed_at: None,
        }
    }

    /// When leadership lapses unless a renew succeeds (`None` while following).
    fn renew_deadline(&self) -> Option<Instant> {
        self.renewed_at.map(|at| at + self.config.renew_deadline)
    }

    /// When to try next: a retry period from now, or the renew deadline if that comes first,
    /// so that leadership ends at the deadline and not up to a retry period later.
    fn next_tick(&self) -> Instant {
        let next = Instant::now() + self.config.retry_period;
        self.renew_deadline()
            .map_or(next, |deadline| next.min(deadline))
    }

    /// One attempt to acquire or renew. While leading, a deadline already passed steps down
    /// before any call, and a call still pending at the deadline is abandoned; a follower's
    /// attempt is bounded by the renew deadline too, so a hung call cannot stall it forever.
    async fn tick(&mut self) {
        let deadline = self
            .renew_deadline()
            .unwrap_or_else(|| Instant::now() + self.config.renew_deadline);
        if self.leading() && Instant::now() >= deadline {
            return self.step_down("no successful renew within the renew deadline");
        }
        if tokio::time::timeout_at(deadline, self.try_acquire_or_renew())
            .await
            .is_err()
        {
            self.metrics.api_error(ApiOperation::Lease, KIND);
            tracing::debug!(lease = %self.config.name, "lease call timed out");
            self.step_down("a lease call was still pending at the renew deadline");
        }
    }

    /// client-go's `tryAcquireOrRenew`: read the Lease, then create, renew or take it over,
    /// or leave it to its holder.
    async fn try_acquire_or_renew(&mut self) {
        let current = match self.api.get_opt(&self.config.name).await {
            Ok(Some(current)) => current,
            Ok(None) => return self.create().await,
            Err(error) => return self.api_failed("get", &error),
        };
        self.observe(&current);
        match self.claim(&current) {
            Claim::HeldBy(holder) if self.leading() => {
                self.step_down(&format!("the lease is now held by {holder}"));
            }
            Claim::HeldBy(holder) => {
                tracing::debug!(lease = %self.config.name, %holder, "lease held by another replica");
            }
            Claim::Renew => {
                let spec = self.renewed_spec(&current);
                self.write(current, spec).await;
            }
            Claim::TakeOver => {
                let spec = self.taken_over_spec(&current);
                self.write(current, spec).await;
            }
        }
    }

    /// Creates the missing Lease with us as its first holder.
    async fn create(&mut self) {
        let now = micro_now(None);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(seconds(self.config.lease_duration)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        let sent = Instant::now();
        let result = self.api.create(&PostParams::default(), &lease).await;
        self.written(sent, "create", result);
    }

    /// Replaces the Lease read as `current` (so with its `resourceVersion`) with `spec`.
    async fn write(&mut self, mut current: Lease, spec: LeaseSpec) {
        current.spec = Some(spec);
        let sent = Instant::now();
        let result = self
            .api
            .replace(&self.config.name, &PostParams::default(), &current)
            .await;
        self.written(sent, "update", result);
    }

    /// Leads after a successful write; follows after a conflict (someone else wrote first);
    /// keeps the current role after any other failure until the renew deadline decides.
    fn written(&mut self, sent: Instant, verb: &'static str, result: kube::Result<Lease>) {
        match result {
            Ok(lease) => {
                self.observe(&lease);
                self.renewed_at = Some(sent);
                self.publish(true);
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.metrics.api_error(ApiOperation::Lease, KIND);
                tracing::debug!(lease = %self.config.name, verb, "lost a race for the lease");
                self.step_down("another replica wrote the lease first (409 Conflict)");
            }
            Err(error) => self.api_failed(verb, &error),
        }
    }

    /// Counts and logs a failed call that says nothing about who holds the Lease.
    fn api_failed(&self, verb: &'static str, error: &kube::Error) {
        self.metrics.api_error(ApiOperation::Lease, KIND);
        if self.leading() {
            tracing::info!(lease = %self.config.name, verb, %error, "lease renew failed; retrying");
        } else {
            tracing::debug!(lease = %self.config.name, verb, %error, "lease call failed");
        }
    }

    /// Remembers `lease`, restarting the holder's term by our clock if the record changed.
    fn observe(&mut self, lease: &Lease) {
        let changed = self.lease.as_ref().is_none_or(|seen| {
            seen.spec != lease.spec
                || seen.metadata.resource_version != lease.metadata.resource_version
        });
        if changed {
            self.observed_at = Instant::now();
        }
        self.lease = Some(lease.clone());
    }

    /// Who may write the Lease as read. An empty holder is nobody (a released Lease).
    fn claim(&self, current: &Lease) -> Claim {
        let spec = current.spec.as_ref();
        let holder = spec
            .and_then(|spec| spec.holder_identity.as_deref())
            .filter(|holder| !holder.is_empty());
        match holder {
            Some(holder) if holder == self.config.identity => Claim::Renew,
            Some(holder) if !self.expired(current) => Claim::HeldBy(holder.to_owned()),
            _ => Claim::TakeOver,
        }
    }

    /// Whether the holder's term, as the record states it, has run out since we last saw the
    /// record change.
    fn expired(&self, current: &Lease) -> bool {
        let stated = current
            .spec
            .as_ref()
            .and_then(|spec| spec.lease_duration_seconds)
            .and_then(|secs| u64::try_from(secs).ok())
            .filter(|&secs| secs > 0);
        let term = stated.map_or(self.config.lease_duration, Duration::from_secs);
        self.observed_at
            .checked_add(term)
            .is_some_and(|end| Instant::now() >= end)
    }

    /// Our renew: same holder, acquire time and transitions, a later `renewTime`.
    fn renewed_spec(&self, current: &Lease) -> LeaseSpec {
        let mut spec = current.spec.clone().unwrap_or_default();
        spec.renew_time = Some(micro_now(spec.renew_time.as_ref()));
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(seconds(self.config.lease_duration));
        spec.acquire_time = spec.acquire_time.or_else(|| spec.renew_time.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0));
        spec
    }

    /// Our takeover: us as holder from now, one more transition.
    fn taken_over_spec(&self, current: &Lease) -> LeaseSpec {
        let mut spec = current.spec.clone().unwrap_or_default();
        let now = micro_now(None);
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(seconds(self.config.lease_duration));
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        spec
    }

    fn leading(&self) -> bool {
        self.renewed_at.is_some()
    }

    /// Stops leading at once, if leading: the watch flips before any further API call, so the
    /// status and Event writers stop before anyone else may take over.
    fn step_down(&mut self, reason: &str) {
        if self.renewed_at.take().is_some() {
            self.publish(false);
            tracing::warn!(
                identity = %self.config.identity,
                lease = %self.config.name,
                reason,
                "lost leadership; status and Event writes stop",
            );
        }
    }

    /// Sets the watch and the gauge; logs a gain (losses are logged by their cause).
    fn publish(&self, leading: bool) {
        self.metrics.set_leader(leading);
        let changed = self
            .leader
            .send_if_modified(|value| std::mem::replace(value, leading) != leading);
        if changed && leading {
            tracing::info!(
                identity = %self.config.identity,
                lease = %self.config.name,
                "became leader; writing status and Events",
            );
        }
    }

    /// On shutdown: if leading, stop at once, then hand the Lease back (no holder, 1 s term)
    /// so a peer need not wait out our term. Bounded by the renew deadline: an unreachable
    /// API server must not hold up shutdown, and the Lease expires by itself anyway.
    async fn release(mut self) {
        if self.renewed_at.take().is_none() {
            return;
        }
        self.publish(false);
        tracing::info!(identity = %self.config.identity, lease = %self.config.name, "shutting down; releasing leadership");
        let Some(mut lease) = self.lease.take() else {
            return;
        };
        let now = micro_now(None);
        let mut spec = lease.spec.take().unwrap_or_default();
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        lease.spec = Some(spec);
        let params = PostParams::default();
        let put = self.api.replace(&self.config.name, &params, &lease);
        match tokio::time::timeout(self.config.renew_deadline, put).await {
            Ok(Ok(_)) => tracing::info!(lease = %self.config.name, "released the lease"),
            Ok(Err(error)) => {
                self.metrics.api_error(ApiOperation::Lease, KIND);
                tracing::info!(lease = %self.config.name, %error, "could not release the lease; it will expire");
            }
            Err(_) => {
                self.metrics.api_error(ApiOperation::Lease, KIND);
                tracing::info!(lease = %self.config.name, "releasing the lease timed out; it will expire");
            }
        }
    }
}

/// `duration` as `leaseDurationSeconds`: whole seconds, rounded up (the API rejects 0).
fn seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// The wall clock at the microsecond precision the API server keeps, and strictly after
/// `after`: each renew visibly moves `renewTime` on, even if the wall clock stepped back.
fn micro_now(after: Option<&MicroTime>) -> MicroTime {
    let now = Timestamp::now();
    let now = Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now);
    let floor = after.and_then(|prev| prev.0.checked_add(SignedDuration::from_micros(1)).ok());
    MicroTime(floor.map_or(now, |floor| now.max(floor)))
}

#[cfg(test)]
mod tests;
