//! Compile-and-publish: build a table from an [`Index`] and swap it into the proxy's
//! [`SharedTable`] — only when it differs from the table being served (STYLE item 9), so a
//! rescan that changes nothing costs no swap, no generation and no log noise. The first
//! compile is always stored, as generation 1, even when it is as empty as the placeholder.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_proxy::SharedTable;
use strait_shared::{
    CompileConfig, Compiled, Diagnostic, EndpointChanges, Index, IngressReport, RouteTable,
    Severity,
};

use crate::metrics::{ControllerMetrics, PublishResult};

/// Owns the write side of the shared table.
#[derive(Debug)]
pub struct Publisher {
    table: SharedTable,
    config: CompileConfig,
    /// Generation of the table currently in `table`.
    generation: u64,
    /// Whether this publisher has stored a table yet. The first publish always stores, even a
    /// table equal to the placeholder the proxy started with, so generation 0 always means
    /// "nothing published yet" (readiness waits for it).
    published: bool,
    /// Diagnostics of the last compile, to log only what is new or resolved.
    diagnostics: Vec<Diagnostic>,
    /// Per-Ingress reports of the last compile (annotation verdicts).
    reports: Vec<IngressReport>,
    metrics: ControllerMetrics,
}

/// What one [`Publisher::publish`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Generation being served after this call.
    pub generation: u64,
    /// A new table was stored (the compiled table differed from the served one).
    pub changed: bool,
    /// Size of the table being served.
    pub hosts: usize,
    pub routes: usize,
    pub backends: usize,
    /// Diagnostics of this compile, by severity.
    pub errors: usize,
    pub warnings: usize,
    /// Time spent in [`Index::compile`].
    pub compile_time: Duration,
}

impl Publisher {
    /// A publisher writing to `table`; the generation continues from the table's. Its metrics
    /// are registered nowhere until [`with_metrics`](Self::with_metrics).
    pub fn new(table: SharedTable, config: CompileConfig) -> Self {
        let generation = table.load().generation;
        Self {
            table,
            config,
            generation,
            published: false,
            diagnostics: Vec::new(),
            reports: Vec::new(),
            metrics: ControllerMetrics::default(),
        }
    }

    /// Records every publish in `metrics`.
    pub fn with_metrics(mut self, metrics: ControllerMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics this publisher records into.
    pub fn metrics(&self) -> &ControllerMetrics {
        &self.metrics
    }

    /// The table handle this publisher writes.
    pub fn table(&self) -> &SharedTable {
        &self.table
    }

    /// Generation of the table being served.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether a compiled table has been stored: the table being served is no longer the
    /// placeholder from before the first compile.
    pub fn has_published(&self) -> bool {
        self.published
    }

    /// Diagnostics of the last compile.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Per-Ingress reports of the last full compile.
    pub fn reports(&self) -> &[IngressReport] {
        &self.reports
    }

    /// Compiles `index` and publishes the result if it differs from the served table.
    /// Runs on the control path (the caller keeps it off the async workers).
    pub fn publish(&mut self, index: &Index) -> PublishOutcome {
        let started = Instant::now();
        let Compiled {
            mut table,
            diagnostics,
            ingresses,
        } = index.compile(&self.config);
        // What the proxy learned of each endpoint (latency, ejections) outlives the compile.
        table.carry_endpoint_state(&self.table.load());
        let compile_time = started.elapsed();
        self.metrics
            .set_ingress_annotations(&ingresses, &self.reports);
        self.metrics.set_certificates(index.secrets());
        log_nginx_class_skipped(&ingresses, &self.reports);
        self.reports = ingresses;
        let previous = self.log_diagnostics(diagnostics);
        self.store(table, started, compile_time, &previous)
    }

    /// The endpoint fast path: refreshes only the endpoint sets that `changes` touch in the
    /// served table, and publishes if they differ. Diagnostics are kept (endpoint state
    /// raises none). The caller must have published a full compile of this index first.
    pub fn publish_endpoints(
        &mut self,
        index: &Index,
        changes: &EndpointChanges,
    ) -> PublishOutcome {
        let started = Instant::now();
        let current = self.table.load_full();
        let table = index.refresh_endpoints(&current, changes, &self.config);
        let compile_time = started.elapsed();
        let previous = self.diagnostics.clone();
        self.store(table, started, compile_time, &previous)
    }

    /// The compile settings in force.
    pub fn config(&self) -> &CompileConfig {
        &self.config
    }

    /// Stores `table` when it differs from the served one, or when it is the first; records
    /// metrics and logs.
    fn store(
        &mut self,
        mut table: RouteTable,
        started: Instant,
        compile_time: Duration,
        previous: &[Diagnostic],
    ) -> PublishOutcome {
        let current = self.table.load_full();
        let changed = !self.published || *current != table;
        let served = if changed {
            self.generation = current.generation.max(self.generation) + 1;
            table.generation = self.generation;
            let table = Arc::new(table);
            self.table.store(Arc::clone(&table));
            self.published = true;
            table
        } else {
            current
        };
        let result = if changed {
            PublishResult::Published
        } else {
            PublishResult::Unchanged
        };
        let (diagnostics, elapsed) = (&self.diagnostics, started.elapsed());
        self.metrics
            .published(result, elapsed, &served, diagnostics, previous);
        let outcome = PublishOutcome {
            generation: served.generation,
            changed,
            hosts: served.host_count(),
            routes: served.route_count(),
            backends: served.backends().len(),
            errors: self.count(Severity::Error),
            warnings: self.count(Severity::Warning),
            compile_time,
        };
        if changed {
            tracing::info!(
                generation = outcome.generation,
                hosts = outcome.hosts,
                routes = outcome.routes,
                backends = outcome.backends,
                errors = outcome.errors,
                warnings = outcome.warnings,
                compile_time = ?compile_time,
                "published routing table"
            );
        } else {
            tracing::debug!(
                generation = outcome.generation,
                "compiled table unchanged; not republished"
            );
        }
        outcome
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Logs diagnostics that are new since the last compile (errors and warnings at warn: each
    /// is something an operator should look at) and those that went away (at info), then
    /// remembers the new set and returns the old one.
    fn log_diagnostics(&mut self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let before: HashSet<&Diagnostic> = self.diagnostics.iter().collect();
        let after: HashSet<&Diagnostic> = diagnostics.iter().collect();
        for diagnostic in diagnostics.iter().filter(|d| !before.contains(d)) {
            match diagnostic.severity {
                Severity::Error => tracing::warn!(
                    object = %diagnostic.object,
                    reason = %diagnostic.reason,
                    "rejected: {}",
                    diagnostic.message
                ),
                Severity::Warning => tracing::warn!(
                    object = %diagnostic.object,
                    reason = %diagnostic.reason,
                    "{}",
                    diagnostic.message
                ),
            }
        }
        for diagnostic in self.diagnostics.iter().filter(|d| !after.contains(d)) {
            tracing::info!(object = %diagnostic.object, reason = %diagnostic.reason, "resolved: {}", diagnostic.message);
        }
        std::mem::replace(&mut self.diagnostics, diagnostics)
    }
}

/// ingress-nginx's IngressClass name.
const NGINX_CLASS: &str = "nginx";

/// Says once, whenever their number changes, that Ingresses of ingress-nginx's class are not
/// ours (so not served), and how to serve them: a migrating user must not see them skipped
/// without a word. Not a diagnostic: those Ingresses may rightly belong to an ingress-nginx
/// still running, and Events on them would be noise. Returns the count logged.
fn log_nginx_class_skipped(reports: &[IngressReport], previous: &[IngressReport]) -> Option<usize> {
    let skipped = |reports: &[IngressReport]| {
        reports
            .iter()
            .filter(|r| !r.ours && r.class.as_deref() == Some(NGINX_CLASS))
            .count()
    };
    let count = skipped(reports);
    if count == 0 || count == skipped(previous) {
        return None;
    }
    tracing::info!(
        count,
        "Ingresses of class nginx (ingress-nginx's) are not ours and not served; to serve them \
         beside or instead of ingress-nginx: --ingress-class strait,nginx --controller-name \
         strait.dev/ingress-controller,k8s.io/ingress-nginx (README: Migrating from \
         ingress-nginx)"
    );
    Some(count)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arc_swap::ArcSwap;
    use serde_json::json;
    use strait_shared::Object;

    use super::*;

    fn object(value: serde_json::Value) -> Object {
        Object::from_value(value)
            .expect("decodes")
            .expect("a kind we read")
    }

    fn ingress(host: &str) -> Object {
        object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ingressClassName": "strait", "rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        }))
    }

    fn publisher() -> Publisher {
        let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        Publisher::new(table, CompileConfig::default())
    }

    #[test]
    fn the_first_table_is_published_even_when_empty() {
        let mut publisher = publisher();
        assert!(!publisher.has_published());
        let outcome = publisher.publish(&Index::new());
        assert!(
            outcome.changed,
            "generation 0 is the placeholder, not a table"
        );
        assert_eq!(outcome.generation, 1);
        assert_eq!(publisher.table().load().generation, 1);
        assert!(publisher.has_published());
    }

    fn report(name: &str, class: Option<&str>, ours: bool) -> IngressReport {
        IngressReport {
            key: strait_shared::ObjectKey::new("default", name),
            class: class.map(str::to_owned),
            ours,
            ..IngressReport::default()
        }
    }

    #[test]
    fn ingresses_of_ingress_nginx_class_skipped_are_said_once_per_change() {
        let two = [
            report("a", Some("nginx"), false),
            report("b", Some("nginx"), false),
            report("c", Some("nginx"), true),
            report("d", Some("traefik"), false),
        ];
        assert_eq!(log_nginx_class_skipped(&two, &[]), Some(2));
        assert_eq!(
            log_nginx_class_skipped(&two, &two),
            None,
            "unchanged: quiet"
        );
        assert_eq!(log_nginx_class_skipped(&two[..1], &two), Some(1));
        assert_eq!(log_nginx_class_skipped(&two[2..], &two), None, "none left");
    }

    #[test]
    fn an_unchanged_table_is_not_republished() {
        let mut publisher = publisher();
        publisher.publish(&Index::new());
        let before = publisher.table().load_full();
        let outcome = publisher.publish(&Index::new());
        assert!(!outcome.changed);
        assert_eq!(outcome.generation, 1);
        assert!(Arc::ptr_eq(&before, &publisher.table().load_full()));
    }

    #[test]
    fn a_change_bumps_the_generation_once() {
        let mut publisher = publisher();
        let mut index = Index::new();
        index.apply(ingress("a.example.com"));
        let first = publisher.publish(&index);
        assert!(first.changed);
        assert_eq!((first.generation, first.hosts, first.routes), (1, 1, 1));
        assert_eq!(publisher.table().load().generation, 1);

        let stored = publisher.table().load_full();
        let again = publisher.publish(&index);
        assert!(!again.changed);
        assert_eq!(again.generation, 1);
        assert!(Arc::ptr_eq(&stored, &publisher.table().load_full()));

        index.apply(ingress("b.example.com"));
        let second = publisher.publish(&index);
        assert!(second.changed);
        assert_eq!(second.generation, 2);
        assert_eq!(publisher.table().load().generation, 2);
    }

    #[test]
    fn metrics_follow_each_publish() {
        let mut registry = prometheus_client::registry::Registry::with_prefix("strait");
        let metrics = ControllerMetrics::register(&mut registry);
        let mut publisher = publisher().with_metrics(metrics);
        let mut index = Index::new();
        index.apply(ingress("a.example.com")); // Its Service is missing.
        publisher.publish(&index);
        let text = crate::metrics::encode(&registry);
        for expected in [
            "strait_table_generation 1\n",
            "strait_table_hosts 1\n",
            "strait_table_routes 1\n",
            "strait_table_backends 1\n",
            "strait_table_endpoints 0\n",
            r#"strait_rejected_objects{reason="ServiceMissing",severity="error"} 1"#,
            r#"strait_publishes_total{result="published"} 1"#,
            "strait_publish_duration_seconds_count 1\n",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }

        publisher.publish(&Index::new());
        publisher.publish(&Index::new());
        let text = crate::metrics::encode(&registry);
        for expected in [
            "strait_table_generation 2\n",
            "strait_table_hosts 0\n",
            r#"strait_rejected_objects{reason="ServiceMissing",severity="error"} 0"#,
            r#"strait_publishes_total{result="published"} 2"#,
            r#"strait_publishes_total{result="unchanged"} 1"#,
            "strait_publish_duration_seconds_count 3\n",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
    }

    #[test]
    fn diagnostics_are_remembered_between_compiles() {
        let mut publisher = publisher();
        let mut index = Index::new();
        index.apply(ingress("a.example.com")); // Its Service is missing: a diagnostic.
        let outcome = publisher.publish(&index);
        assert_eq!(
            publisher.diagnostics().len(),
            outcome.errors + outcome.warnings
        );
        assert!(!publisher.diagnostics().is_empty());
        publisher.publish(&Index::new());
        assert!(publisher.diagnostics().is_empty());
    }
}
