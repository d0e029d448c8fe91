//! The Ingress status writer (leader only, STYLE item 6): `status.loadBalancer.ingress` of
//! every Ingress that is ours carries the addresses clients reach Strait at.
//!
//! The addresses come from `--publish-service` (the LoadBalancer Service in front of Strait,
//! watched so a new load-balancer address is copied as soon as the cloud assigns it) or from
//! `--publish-status-address`. The compile loop hands over what the store holds as a
//! [`Published`] on a watch channel; [`plan`] turns it into the patches needed, a pure
//! function; [`run`] makes them while this replica leads, and counts each one.
//!
//! Rules kept here, and why:
//! - Only IP and host name are written (ports dropped): the Service's ports are those of the
//!   load balancer, not of the Ingress, and comparing without them keeps the check stable.
//! - An Ingress that stops being ours is cleared only while its status still equals our
//!   addresses: a status another controller wrote is never touched.
//! - With no address to publish (the Service has none yet, or no flag is given) nothing is
//!   written, not even a clear: an empty list is "not known yet", not "gone".
//! - Right after a patch the store still shows the old status until the watch event arrives;
//!   a patch is remembered with the `resourceVersion` the store showed, and not repeated while
//!   the store shows that same version.
//! - Leadership is checked before every patch and raced against each one in flight: a
//!   deposed leader stops at once, mid-batch. Gaining leadership plans everything afresh.
//! - A failed patch is retried on the next change or after [`RETRY_DELAY`]; a 404 (the
//!   Ingress was deleted meanwhile) is neither `ok` nor `error` and is not retried, as its
//!   delete event follows.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::json;
use strait_shared::ObjectKey;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Published;
use crate::metrics::{ApiOperation, ClusterMetrics, WriteResult};

/// Where the addresses written to Ingress status come from (`strait controller`'s
/// `--publish-service` and `--publish-status-address`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusConfig {
    /// `--publish-service`: copy this Service's `status.loadBalancer.ingress`. When set,
    /// `publish_addresses` is ignored (the Service wins; a warning says so at start).
    pub publish_service: Option<ObjectKey>,
    /// `--publish-status-address`: fixed addresses (an IP goes to `ip`, anything else to
    /// `hostname`; items may also hold comma-separated lists). Used when `publish_service` is
    /// `None`.
    pub publish_addresses: Vec<String>,
}

/// How long a failed patch waits before the next attempt when nothing else changes.
pub const RETRY_DELAY: Duration = Duration::from_secs(5);

/// One status change: `Some(list)` sets `status.loadBalancer.ingress`, `None` clears it.
pub type StatusChange = (ObjectKey, Option<Vec<IngressLoadBalancerIngress>>);

impl StatusConfig {
    /// The `--publish-status-address` entries as status entries, normalised (sorted,
    /// deduplicated, blanks skipped).
    pub fn fixed_addresses(&self) -> Vec<IngressLoadBalancerIngress> {
        let entries: Vec<_> = self
            .publish_addresses
            .iter()
            .flat_map(|item| item.split(','))
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(|address| match address.parse::<IpAddr>() {
                Ok(_) => address_entry(Some(address), None),
                Err(_) => address_entry(None, Some(address)),
            })
            .collect();
        normalise(&entries)
    }
}

/// Writes Ingress status while `leader` is `true`, until `shutdown` completes. Every
/// [`Published`] (and every change of the publish Service's addresses, or of leadership)
/// re-plans; each patch is counted in `metrics`. With neither flag set it only waits for
/// `shutdown`.
pub async fn run(
    client: Client,
    config: StatusConfig,
    published: watch::Receiver<Arc<Published>>,
    leader: watch::Receiver<bool>,
    metrics: ClusterMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let inputs = Inputs::new(published, leader);
    run_with_retry(client, config, inputs, metrics, shutdown, RETRY_DELAY).await;
}

/// The status changes that make `published` agree with `addresses` (pure): ours and
/// different → set; not ours and still showing exactly our addresses → clear. Lists are
/// compared normalised (IP and host name only, order-insensitive). Nothing at all when
/// `addresses` is empty.
pub fn plan(published: &Published, addresses: &[IngressLoadBalancerIngress]) -> Vec<StatusChange> {
    let desired = normalise(addresses);
    if desired.is_empty() {
        return Vec::new();
    }
    published
        .ingresses
        .iter()
        .filter_map(|(key, state)| {
            let current = normalise(&state.load_balancer);
            match (state.ours, current == desired) {
                (true, false) => Some((key.clone(), Some(desired.clone()))),
                (false, true) => Some((key.clone(), None)),
                _ => None,
            }
        })
        .collect()
}

/// `list` reduced to what status comparison and writing use: IP and host name only (blank
/// values dropped, entries left empty skipped), sorted, deduplicated.
fn normalise(list: &[IngressLoadBalancerIngress]) -> Vec<IngressLoadBalancerIngress> {
    let mut out: Vec<_> = list
        .iter()
        .map(|entry| address_entry(entry.ip.as_deref(), entry.hostname.as_deref()))
        .filter(|entry| entry.ip.is_some() || entry.hostname.is_some())
        .collect();
    out.sort_by(|a, b| (&a.ip, &a.hostname).cmp(&(&b.ip, &b.hostname)));
    out.dedup();
    out
}

/// A status entry with only `ip` and `hostname`, blanks as `None`.
fn address_entry(ip: Option<&str>, hostname: Option<&str>) -> IngressLoadBalancerIngress {
    let present = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_owned);
    IngressLoadBalancerIngress {
        ip: present(ip),
        hostname: present(hostname),
        ports: None,
    }
}

/// Addresses for a log line: `203.0.113.7, lb.example.com`.
fn describe(list: &[IngressLoadBalancerIngress]) -> String {
    let names: Vec<&str> = list
        .iter()
        .filter_map(|entry| entry.ip.as_deref().or(entry.hostname.as_deref()))
        .collect();
    names.join(", ")
}

/// Whether this replica leads now: the last value sent, and the election still running (a
/// closed channel means nobody can vouch for leadership any more).
fn is_leader(leader: &watch::Receiver<bool>) -> bool {
    leader.has_changed().is_ok() && *leader.borrow()
}

/// The loop behind [`run`], with the retry delay as a parameter (tests shorten it).
async fn run_with_retry(
    client: Client,
    config: StatusConfig,
    mut inputs: Inputs,
    metrics: ClusterMetrics,
    shutdown: impl Future<Output = ()>,
    retry_delay: Duration,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut writer = Writer::new(client.clone(), metrics.clone(), retry_delay);
    match &config.publish_service {
        Some(key) => {
            if !config.publish_addresses.is_empty() {
                warn!(service = %key, "--publish-status-address ignored: --publish-service is set");
            }
            inputs.service = Some(ServiceWatch::new(client, key, metrics));
        }
        None => {
            writer.set_addresses(config.fixed_addresses());
        }
    }
    if writer.addresses.is_empty() && inputs.service.is_none() {
        info!("no --publish-service or --publish-status-address: Ingress status is not written");
    }
    let mut leading = is_leader(&inputs.leader);
    let mut replan = leading;
    loop {
        if replan && leading {
            let published = inputs.published.borrow_and_update().clone();
            tokio::select! {
                () = &mut shutdown => return,
                () = writer.sync(&published, &inputs.leader) => {}
            }
        }
        let wake = tokio::select! {
            () = &mut shutdown => return,
            wake = inputs.next(writer.retry_at) => wake,
        };
        replan = match wake {
            Wake::Plan => true,
            Wake::Leader(now) => writer.leadership(std::mem::replace(&mut leading, now), now),
            Wake::Addresses(list) => writer.set_addresses(list),
        };
    }
}

/// Why the loop woke up.
enum Wake {
    /// A new [`Published`], or a retry is due.
    Plan,
    /// Leadership is now this value.
    Leader(bool),
    /// The publish Service's addresses as now listed.
    Addresses(Vec<IngressLoadBalancerIngress>),
}

/// What the writer waits on.
struct Inputs {
    published: watch::Receiver<Arc<Published>>,
    leader: watch::Receiver<bool>,
    published_open: bool,
    leader_open: bool,
    service: Option<ServiceWatch>,
}

impl Inputs {
    fn new(published: watch::Receiver<Arc<Published>>, leader: watch::Receiver<bool>) -> Self {
        Self {
            published,
            leader,
            published_open: true,
            leader_open: true,
            service: None,
        }
    }

    /// The next reason to act. Cancel-safe: every state change happens after an await.
    async fn next(&mut self, retry_at: Option<Instant>) -> Wake {
        loop {
            tokio::select! {
                changed = self.published.changed(), if self.published_open => match changed {
                    Ok(()) => return Wake::Plan,
                    Err(_) => {
                        // The compile loop is gone (shutting down): nothing more to write.
                        debug!("published channel closed");
                        self.published_open = false;
                    }
                },
                changed = self.leader.changed(), if self.leader_open => {
                    self.leader_open = changed.is_ok();
                    return Wake::Leader(is_leader(&self.leader));
                }
                list = next_addresses(&mut self.service) => return Wake::Addresses(list),
                () = sleep_until(retry_at) => return Wake::Plan,
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The publish Service's next address list, or never without a Service to watch.
async fn next_addresses(service: &mut Option<ServiceWatch>) -> Vec<IngressLoadBalancerIngress> {
    match service {
        Some(service) => service.next().await,
        None => std::future::pending().await,
    }
}

/// What was last written to one Ingress, and the `resourceVersion` the store showed then.
#[derive(Debug, PartialEq)]
struct Written {
    resource_version: String,
    value: Option<Vec<IngressLoadBalancerIngress>>,
}

/// How one patch went.
enum Outcome {
    Written,
    /// 404: the Ingress was deleted meanwhile.
    Gone,
    Failed,
    /// Leadership was lost while the patch was in flight (it was abandoned).
    Deposed,
}

/// The writer's state between plans.
struct Writer {
    client: Client,
    metrics: ClusterMetrics,
    /// Our addresses, normalised; empty: write nothing.
    addresses: Vec<IngressLoadBalancerIngress>,
    written: BTreeMap<ObjectKey, Written>,
    /// Ingresses whose last patch failed (warned once, until one succeeds).
    failing: BTreeSet<ObjectKey>,
    retry_at: Option<Instant>,
    retry_delay: Duration,
}

impl Writer {
    fn new(client: Client, metrics: ClusterMetrics, retry_delay: Duration) -> Self {
        Self {
            client,
            metrics,
            addresses: Vec::new(),
            written: BTreeMap::new(),
            failing: BTreeSet::new(),
            retry_at: None,
            retry_delay,
        }
    }

    /// Takes a new address list; whether it differs (and so needs a plan).
    fn set_addresses(&mut self, list: Vec<IngressLoadBalancerIngress>) -> bool {
        let list = normalise(&list);
        if list == self.addresses {
            return false;
        }
        info!(addresses = %describe(&list), "Ingress status addresses set");
        self.addresses = list;
        true
    }

    /// Leadership went from `was` to `now`; whether to plan. A new term forgets what was
    /// written before: another leader may have written since.
    fn leadership(&mut self, was: bool, now: bool) -> bool {
        match (was, now) {
            (false, true) => {
                info!("leading: writing Ingress status");
                self.written.clear();
                true
            }
            (true, false) => {
                info!("no longer leading: Ingress status writes stopped");
                self.retry_at = None;
                false
            }
            _ => false,
        }
    }

    /// Makes the patches [`plan`] asks for, skipping those already made at the store's
    /// current `resourceVersion`; stops as soon as leadership is lost.
    async fn sync(&mut self, published: &Published, leader: &watch::Receiver<bool>) {
        self.retry_at = None;
        if self.addresses.is_empty() {
            debug!("no Ingress status address known: status left as it is");
            return;
        }
        let changes = plan(published, &self.addresses);
        self.forget_settled(&changes);
        for (key, value) in changes {
            let version = published
                .ingresses
                .get(&key)
                .and_then(|state| state.resource_version.clone());
            if self.already_written(&key, version.as_deref(), &value) {
                continue;
            }
            if !is_leader(leader) {
                debug!("leadership lost: remaining status patches dropped");
                return;
            }
            match self.patch_while_leader(&key, &value, leader).await {
                Outcome::Written => self.remember(key, version, value),
                Outcome::Gone => {}
                Outcome::Failed => self.retry_at = Some(Instant::now() + self.retry_delay),
                Outcome::Deposed => return,
            }
        }
    }

    /// Drops memory of Ingresses that need nothing any more.
    fn forget_settled(&mut self, changes: &[StatusChange]) {
        let pending: BTreeSet<&ObjectKey> = changes.iter().map(|(key, _)| key).collect();
        self.written.retain(|key, _| pending.contains(key));
        self.failing.retain(|key| pending.contains(key));
    }

    /// Whether `value` was written while the store showed `version` (which it still shows).
    fn already_written(
        &self,
        key: &ObjectKey,
        version: Option<&str>,
        value: &Option<Vec<IngressLoadBalancerIngress>>,
    ) -> bool {
        self.written.get(key).is_some_and(|written| {
            Some(written.resource_version.as_str()) == version && &written.value == value
        })
    }

    fn remember(
        &mut self,
        key: ObjectKey,
        version: Option<String>,
        value: Option<Vec<IngressLoadBalancerIngress>>,
    ) {
        match version {
            Some(resource_version) => {
                let written = Written {
                    resource_version,
                    value,
                };
                self.written.insert(key, written);
            }
            None => {
                self.written.remove(&key);
            }
        }
    }

    /// One patch, abandoned the moment leadership is lost; counted and logged.
    async fn patch_while_leader(
        &mut self,
        key: &ObjectKey,
        value: &Option<Vec<IngressLoadBalancerIngress>>,
        leader: &watch::Receiver<bool>,
    ) -> Outcome {
        let mut deposed = leader.clone();
        let result = tokio::select! {
            biased;
            _ = deposed.wait_for(|leading| !*leading) => return Outcome::Deposed,
            result = self.patch(key, value) => result,
        };
        self.record(key, value, result)
    }

    /// Counts and logs one patch result.
    fn record(
        &mut self,
        key: &ObjectKey,
        value: &Option<Vec<IngressLoadBalancerIngress>>,
        result: Result<(), kube::Error>,
    ) -> Outcome {
        match result {
            Ok(()) => {
                self.metrics.status_patch(WriteResult::Ok);
                self.failing.remove(key);
                let addresses = value.as_deref().map(describe);
                debug!(ingress = %key, ?addresses, "Ingress status patched");
                Outcome::Written
            }
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                debug!(ingress = %key, "Ingress gone before its status patch");
                Outcome::Gone
            }
            Err(error) => {
                self.metrics.status_patch(WriteResult::Error);
                self.metrics.api_error(ApiOperation::Status, "Ingress");
                if self.failing.insert(key.clone()) {
                    warn!(ingress = %key, %error, "Ingress status patch failed; will retry");
                } else {
                    debug!(ingress = %key, %error, "Ingress status patch failed again");
                }
                Outcome::Failed
            }
        }
    }

    /// A merge patch of `status.loadBalancer.ingress` (`null` clears it).
    async fn patch(
        &self,
        key: &ObjectKey,
        value: &Option<Vec<IngressLoadBalancerIngress>>,
    ) -> Result<(), kube::Error> {
        let api = Api::<Ingress>::namespaced(self.client.clone(), &key.namespace);
        let body = json!({"status": {"loadBalancer": {"ingress": value}}});
        api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map(drop)
    }
}

/// The watch of the `--publish-service` Service (list and watch only: RBAC grants no get).
struct ServiceWatch {
    stream: BoxStream<'static, Result<watcher::Event<Service>, watcher::Error>>,
    /// Addresses listed since the last `Init`, reported at `InitDone`.
    listing: Vec<IngressLoadBalancerIngress>,
    /// Whether the last poll failed (warn once per outage, not per retry).
    failing: bool,
    metrics: ClusterMetrics,
}

impl ServiceWatch {
    fn new(client: Client, key: &ObjectKey, metrics: ClusterMetrics) -> Self {
        let api = Api::<Service>::namespaced(client, &key.namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
        Self {
            stream: watcher(api, config).default_backoff().boxed(),
            listing: Vec::new(),
            failing: false,
            metrics,
        }
    }

    /// The Service's addresses after the next event that settles them (empty when it is
    /// gone or has none). Cancel-safe: state lives in `self`, the only await is the stream.
    async fn next(&mut self) -> Vec<IngressLoadBalancerIngress> {
        loop {
            match self.stream.next().await {
                Some(Ok(event)) => {
                    self.failing = false;
                    if let Some(list) = self.apply(event) {
                        return list;
                    }
                }
                Some(Err(error)) => self.failed(&error),
                // The watcher restarts itself and never ends; if it did, keep the last list.
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Folds one watch event; `Some` when the addresses are known.
    fn apply(&mut self, event: watcher::Event<Service>) -> Option<Vec<IngressLoadBalancerIngress>> {
        match event {
            watcher::Event::Apply(service) => Some(service_addresses(&service)),
            watcher::Event::Delete(_) => Some(Vec::new()),
            watcher::Event::Init => {
                self.listing.clear();
                None
            }
            watcher::Event::InitApply(service) => {
                self.listing = service_addresses(&service);
                None
            }
            watcher::Event::InitDone => Some(std::mem::take(&mut self.listing)),
        }
    }

    fn failed(&mut self, error: &watcher::Error) {
        self.metrics.api_error(ApiOperation::Watch, "Service");
        if std::mem::replace(&mut self.failing, true) {
            debug!(%error, "publish Service watch failed again");
        } else {
            warn!(%error, "publish Service watch failed; retrying with back-off");
        }
    }
}

/// `status.loadBalancer.ingress` of `service`, as Ingress status entries (IP and host name).
fn service_addresses(service: &Service) -> Vec<IngressLoadBalancerIngress> {
    let entries: Vec<_> = service
        .status
        .as_ref()
        .and_then(|status| status.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .map(|entry| address_entry(entry.ip.as_deref(), entry.hostname.as_deref()))
        .collect();
    normalise(&entries)
}

#[cfg(test)]
mod tests;
