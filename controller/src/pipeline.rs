//! The one compile-and-publish loop. Every source (the manifests folder, the Kubernetes
//! watches) sends [`Change`]s on a channel; the loop applies them to the [`Store`] and
//! publishes: a full compile when anything but endpoint data changed, else the endpoint fast
//! path. Each change is debounced once (see the `burst` module): endpoint data and folder scans
//! (already settled by the folder watch) are published at once, other watched objects once
//! their burst has settled (`--debounce` of quiet, never more than `max_delay` after its first
//! change). Compiles run on the blocking pool, never on an async worker.
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
use crate::burst::{Pending, until};
use crate::cluster::Published;
use crate::publish::{PublishOutcome, Publisher};
use crate::store::{Change, Store};
use crate::watch::WatchConfig;

/// Changes queued between the sources and the compile loop; a full queue makes the sources
/// wait (their watches buffer), it never drops a change.
pub const CHANGE_QUEUE: usize = 1024;

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
    /// as the `burst` module sorts it: at once, or once its burst has settled. Errors only if a
    /// compile panics (a bug); the served table stays.
    pub async fn run(
        mut self,
        mut changes: mpsc::Receiver<Change>,
        config: WatchConfig,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        let mut pending = Pending::default();
        loop {
            let mut ready = Vec::new();
            let mut closed = false;
            tokio::select! {
                () = &mut shutdown => break,
                () = until(pending.deadline(&config)) => ready = pending.take(),
                change = changes.recv() => match change {
                    Some(change) => {
                        let now = Instant::now();
                        pending.sort(change, now, &mut ready);
                        // What queued up meanwhile (during the last compile) joins this round.
                        while let Ok(change) = changes.try_recv() {
                            pending.sort(change, now, &mut ready);
                        }
                    }
                    None => {
                        ready = pending.take();
                        closed = true;
                    }
                },
            }
            if !ready.is_empty() {
                (self, _) = self.apply_blocking(ready).await?;
            }
            if closed {
                break;
            }
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
        // Ready only once a compiled table is being served: the generation-0 placeholder the
        // proxy starts with is not one, even when it looks the same as an empty table.
        if self.publisher.has_published() && waiting.is_empty() {
            readiness.set_ready(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arc_swap::ArcSwap;
    use serde_json::json;
    use strait_shared::{CompileConfig, Object, RouteTable};

    use super::*;

    fn object(value: serde_json::Value) -> Object {
        Object::from_value(value).expect("decodes").expect("read")
    }

    fn ingress(mode: Option<&str>) -> Object {
        let annotations = mode.map(|m| json!({"strait.dev/backend-mode": m}));
        object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "generation": 1,
                         "annotations": annotations},
            "spec": {"ingressClassName": "strait", "rules": [{"host": "a.example.com",
                "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        }))
    }

    fn service() -> Object {
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 30080,
                                                     "targetPort": 8080}]}}))
    }

    fn slice(ip: &str) -> Object {
        object(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 8080}]
        }))
    }

    fn relist(kind: Kind, objects: Vec<Object>) -> Change {
        Change::Relist {
            kind,
            namespace: None,
            objects,
            keep: BTreeSet::new(),
        }
    }

    fn pipeline(expected: &[Kind]) -> (Pipeline, strait_proxy::SharedTable) {
        let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        let publisher = Publisher::new(table.clone(), CompileConfig::default());
        (Pipeline::new(publisher, expected.iter().copied()), table)
    }

    fn endpoint_count(table: &strait_proxy::SharedTable) -> usize {
        let table = table.load();
        let found = table.lookup("a.example.com", "/").expect("route");
        found.backend.state.as_ref().map_or(0, |e| e.len())
    }

    #[test]
    fn nothing_is_published_until_every_expected_kind_has_synced() {
        let (mut pipeline, table) = pipeline(&[Kind::Ingress, Kind::Service, Kind::EndpointSlice]);
        let readiness = Readiness::new();
        pipeline = pipeline.readiness(readiness.clone());
        assert!(
            pipeline
                .apply(vec![relist(Kind::Ingress, vec![ingress(None)])])
                .is_none()
        );
        assert!(
            pipeline
                .apply(vec![relist(Kind::Service, vec![service()])])
                .is_none()
        );
        assert_eq!(table.load().generation, 0);
        assert!(!readiness.is_ready());
        assert!(
            readiness.report().contains("EndpointSlice"),
            "{}",
            readiness.report()
        );
        let outcome = pipeline
            .apply(vec![relist(Kind::EndpointSlice, vec![slice("10.0.0.1")])])
            .expect("published");
        assert_eq!(outcome.generation, 1);
        assert!(readiness.is_ready());
        assert_eq!(endpoint_count(&table), 1, "the first table is complete");
    }

    #[test]
    fn readiness_waits_for_a_published_table_even_an_empty_one() {
        let (mut pipeline, table) = pipeline(&[Kind::Ingress, Kind::Service]);
        let readiness = Readiness::new();
        pipeline = pipeline.readiness(readiness.clone());
        pipeline.apply(vec![relist(Kind::Ingress, vec![])]);
        assert!(!readiness.is_ready(), "{}", readiness.report());
        assert_eq!(table.load().generation, 0);
        // Nothing at all to serve: still a table, and the first one.
        let outcome = pipeline
            .apply(vec![relist(Kind::Service, vec![])])
            .expect("published");
        assert_eq!(outcome.generation, 1);
        assert_eq!(table.load().generation, 1);
        assert!(readiness.is_ready());
        assert_eq!(readiness.report(), "ready\ntable generation 1\n");
    }

    #[test]
    fn an_endpoint_change_takes_the_fast_path_and_keeps_diagnostics() {
        let (mut pipeline, table) = pipeline(&[Kind::Ingress]);
        let (reports, mut reported) = watch::channel(Arc::new(Published::default()));
        pipeline = pipeline.reports(reports);
        // No Service yet: a diagnostic, and a report.
        pipeline.apply(vec![relist(Kind::Ingress, vec![ingress(None)])]);
        assert!(reported.has_changed().expect("open"));
        let first = reported.borrow_and_update().clone();
        assert_eq!((first.generation, first.diagnostics.len()), (1, 1));
        assert!(first.ingresses.values().all(|i| i.ours));

        pipeline.apply(vec![Change::Apply(service())]);
        reported.borrow_and_update();
        let routers = table.load_full();
        let outcome = pipeline
            .apply(vec![Change::Apply(slice("10.0.0.2"))])
            .expect("published");
        assert!(outcome.changed);
        assert_eq!(endpoint_count(&table), 1);
        assert!(
            !reported.has_changed().expect("open"),
            "the fast path sends no report: no Ingress changed"
        );
        assert_eq!(pipeline.publisher().diagnostics().len(), 0);
        assert_ne!(routers.generation, table.load().generation);
    }

    #[test]
    fn the_node_watch_is_wanted_only_while_a_nodeport_backend_exists() {
        let (mut pipeline, _table) = pipeline(&[Kind::Ingress]);
        let (wanted, wanted_rx) = watch::channel(false);
        let readiness = Readiness::new();
        pipeline = pipeline.nodes_wanted(wanted).readiness(readiness.clone());
        pipeline.apply(vec![
            relist(Kind::Ingress, vec![ingress(Some("nodeport"))]),
            Change::Apply(service()),
        ]);
        assert!(*wanted_rx.borrow());
        assert!(!readiness.is_ready(), "waits for the Node list");
        pipeline.apply(vec![relist(Kind::Node, vec![])]);
        assert!(readiness.is_ready());
        pipeline.apply(vec![Change::Apply(ingress(None))]);
        assert!(!*wanted_rx.borrow(), "no nodeport backend left");
    }

    #[tokio::test]
    async fn a_burst_is_published_once_within_the_max_delay() {
        let (pipeline, table) = pipeline(&[]);
        let (tx, rx) = mpsc::channel(64);
        let config = WatchConfig {
            debounce: Duration::from_millis(50),
            max_delay: Duration::from_millis(300),
            ..WatchConfig::new(Duration::from_millis(50))
        };
        let run = tokio::spawn(pipeline.run(rx, config, std::future::pending()));
        tx.send(Change::Apply(ingress(None))).await.expect("open");
        tx.send(Change::Apply(service())).await.expect("open");
        let sent = std::time::Instant::now();
        while table.load().generation == 0 {
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "published within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(table.load().generation, 1, "one publish for the burst");
        // A steady stream still publishes within the max delay.
        let feeder = tokio::spawn({
            let tx = tx.clone();
            async move {
                for i in 0..100u8 {
                    let _ = tx.send(Change::Apply(slice(&format!("10.0.1.{i}")))).await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        let started = std::time::Instant::now();
        while table.load().generation == 1 {
            assert!(
                started.elapsed() < Duration::from_millis(900),
                "starved by the stream"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        feeder.abort();
        drop(tx);
        run.await
            .expect("join")
            .expect("ends when the sources are gone");
    }
}
