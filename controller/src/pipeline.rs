//! The one compile-and-publish loop. Every source (the manifests folder, the Kubernetes
//! watches) sends [`Change`]s on a channel; the loop applies them to the [`Store`], waits for
//! a burst to settle (about 100 ms of quiet, never more than `max_delay` after its first
//! change), then publishes: a full compile when anything but endpoint data changed, else the
//! endpoint fast path. Compiles run on the blocking pool, never on an async worker.
//!
//! Nothing is published until every expected kind has been listed once, so the first table
//! is complete (no 503s for Services that simply were not listed yet); readiness turns true
//! with that first publish.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use strait_shared::{BackendMode, Kind};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::admin::Readiness;
use crate::cluster::Published;
use crate::publish::{PublishOutcome, Publisher};
use crate::store::{Change, Store};
use crate::watch::WatchConfig;

/// The store, the publisher and what the loop tells the rest of the process.
#[derive(Debug)]
pub struct Pipeline {
    store: Store,
    publisher: Publisher,
    /// Kinds that must have synced before the first publish.
    expected: BTreeSet<Kind>,
    published_any: bool,
    readiness: Option<Arc<Readiness>>,
    /// After each full compile: the report for the status writer and the Event recorder.
    reports: Option<watch::Sender<Arc<Published>>>,
    /// Whether some backend runs in nodeport mode (the Node watch runs only then).
    nodes_wanted: Option<watch::Sender<bool>>,
}

impl Pipeline {
    /// A loop publishing through `publisher`, waiting for `expected` kinds before the first
    /// publish.
    pub fn new(publisher: Publisher, expected: impl IntoIterator<Item = Kind>) -> Self {
        Self {
            store: Store::new(),
            publisher,
            expected: expected.into_iter().collect(),
            published_any: false,
            readiness: None,
            reports: None,
            nodes_wanted: None,
        }
    }

    /// Turns `readiness` true with the first publish, and keeps its detail current.
    pub fn readiness(mut self, readiness: Arc<Readiness>) -> Self {
        self.readiness = Some(readiness);
        self
    }

    /// Sends a [`Published`] report after every full compile.
    pub fn reports(mut self, reports: watch::Sender<Arc<Published>>) -> Self {
        self.reports = Some(reports);
        self
    }

    /// Tells the Node watch whether it is needed (some backend in nodeport mode).
    pub fn nodes_wanted(mut self, wanted: watch::Sender<bool>) -> Self {
        self.nodes_wanted = Some(wanted);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Applies `changes`, then publishes what they dirtied once every expected kind has
    /// synced. Blocking (compilation): call it from the blocking pool.
    pub fn apply(&mut self, changes: Vec<Change>) -> Option<PublishOutcome> {
        for change in changes {
            self.store.apply(change);
        }
        let outcome = self.flush();
        self.update_readiness();
        outcome
    }

    /// [`apply`](Self::apply) on the blocking pool.
    pub async fn apply_blocking(
        mut self,
        changes: Vec<Change>,
    ) -> anyhow::Result<(Self, Option<PublishOutcome>)> {
        tokio::task::spawn_blocking(move || {
            let outcome = self.apply(changes);
            (self, outcome)
        })
        .await
        .context("compiling the routing table panicked")
    }

    /// Receives changes until `shutdown` resolves (or every sender is gone), publishing each
    /// settled burst. Errors only if a compile panics (a bug); the served table stays.
    pub async fn run(
        mut self,
        mut changes: mpsc::Receiver<Change>,
        config: WatchConfig,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let first = tokio::select! {
                () = &mut shutdown => break,
                change = changes.recv() => match change {
                    Some(change) => change,
                    None => break,
                },
            };
            let burst = tokio::select! {
                () = &mut shutdown => break,
                burst = settle(first, &mut changes, &config) => burst,
            };
            (self, _) = self.apply_blocking(burst).await?;
        }
        tracing::debug!("compile loop stopped");
        Ok(())
    }

    fn ready_to_publish(&self) -> bool {
        self.expected.is_subset(self.store.synced())
    }

    fn flush(&mut self) -> Option<PublishOutcome> {
        if !self.ready_to_publish() {
            return None;
        }
        let dirty = self.store.take_dirty();
        if self.published_any && dirty.is_clean() {
            return None;
        }
        let outcome = if dirty.full || !self.published_any {
            let outcome = self.publisher.publish(self.store.index());
            self.after_full_compile(outcome.generation);
            outcome
        } else {
            self.publisher
                .publish_endpoints(self.store.index(), &dirty.endpoints)
        };
        self.published_any = true;
        Some(outcome)
    }

    /// Reports the compile, and starts or stops the Node watch as nodeport backends come and
    /// go (their endpoints then arrive through the fast path).
    fn after_full_compile(&mut self, generation: u64) {
        if let Some(reports) = &self.reports {
            let report = Published::from_index(
                self.store.index(),
                self.publisher.config(),
                generation,
                self.publisher.diagnostics().to_vec(),
            );
            reports.send_replace(Arc::new(report));
        }
        if let Some(wanted) = &self.nodes_wanted {
            let table = self.publisher.table().load();
            let needs = table
                .backends()
                .iter()
                .any(|b| b.mode == BackendMode::NodePort);
            if *wanted.borrow() != needs {
                tracing::info!(
                    watching = needs,
                    "nodeport backends {}; Node watch {}",
                    if needs { "present" } else { "gone" },
                    if needs { "started" } else { "stopped" }
                );
                wanted.send_replace(needs);
            }
            if needs {
                self.expected.insert(Kind::Node);
            } else {
                self.expected.remove(&Kind::Node);
            }
        }
    }

    fn update_readiness(&self) {
        let Some(readiness) = &self.readiness else {
            return;
        };
        let waiting: Vec<&str> = self
            .expected
            .difference(self.store.synced())
            .map(|k| k.as_str())
            .collect();
        let generation = self.publisher.generation();
        let detail = if waiting.is_empty() {
            format!("table generation {generation}")
        } else {
            format!(
                "table generation {generation}; waiting for the first list of: {}",
                waiting.join(", ")
            )
        };
        readiness.set_detail(detail);
        if self.published_any && waiting.is_empty() {
            readiness.set_ready(true);
        }
    }
}

/// Collects changes until `debounce` passes without one, or `max_delay` after the first.
async fn settle(
    first: Change,
    changes: &mut mpsc::Receiver<Change>,
    config: &WatchConfig,
) -> Vec<Change> {
    let started = Instant::now();
    let mut burst = vec![first];
    loop {
        let deadline = (Instant::now() + config.debounce).min(started + config.max_delay);
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Some(change)) => burst.push(change),
            Ok(None) | Err(_) => return burst,
        }
    }
}
