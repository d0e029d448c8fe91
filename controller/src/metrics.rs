//! The control path's Prometheus metrics (STYLE item 16: bounded, typed labels; names in one
//! module; the registry is passed in, no globals). Every exposed name is in [`NAMES`] and in the
//! README; a test checks that the two agree with what the registry encodes.
//!
//! Families are registered without the `strait_` prefix: the registry carries it
//! (`Registry::with_prefix("strait")`). Counters get `_total` from the encoder. Units are part
//! of the names (`_seconds`), as in the proxy's module, so no `# UNIT` lines are written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use strait_shared::index::TlsSecret;
use strait_shared::{Diagnostic, IngressReport, ObjectKey, Reason, RouteTable, Severity};

mod cluster;
mod process;

pub use cluster::{
    ApiOperation, CLUSTER_NAMES, ClusterMetrics, EventKind, WatchEvent, WriteResult,
};
pub use process::PROCESS_NAMES;

/// One metric: the name it is registered under (the registry adds the `strait_` prefix, and
/// `_total` to counters), the name it is exposed as, and its help text.
struct Def {
    name: &'static str,
    exposed: &'static str,
    help: &'static str,
}

const TABLE_GENERATION: Def = Def {
    name: "table_generation",
    exposed: "strait_table_generation",
    help: "Generation of the routing table being served (0 before the first publish)",
};
const LAST_PUBLISH: Def = Def {
    name: "last_publish_timestamp_seconds",
    exposed: "strait_last_publish_timestamp_seconds",
    help: "Unix time at which the table being served was published",
};
const PUBLISH_DURATION: Def = Def {
    name: "publish_duration_seconds",
    exposed: "strait_publish_duration_seconds",
    help: "Time to compile a table and swap it in (or find it unchanged)",
};
const PUBLISHES: Def = Def {
    name: "publishes",
    exposed: "strait_publishes_total",
    help: "Compiles, by result: published (a new table was swapped in) or unchanged",
};
const REJECTED: Def = Def {
    name: "rejected_objects",
    exposed: "strait_rejected_objects",
    help: "Objects with a current diagnostic, by reason and severity (error: its routes are \
           left out; warning: accepted with a problem)",
};
const TABLE_HOSTS: Def = Def {
    name: "table_hosts",
    exposed: "strait_table_hosts",
    help: "Host entries in the served table",
};
const TABLE_ROUTES: Def = Def {
    name: "table_routes",
    exposed: "strait_table_routes",
    help: "Host and path routes in the served table",
};
const TABLE_BACKENDS: Def = Def {
    name: "table_backends",
    exposed: "strait_table_backends",
    help: "Backends (Service port and mode) in the served table",
};
const TABLE_ENDPOINTS: Def = Def {
    name: "table_endpoints",
    exposed: "strait_table_endpoints",
    help: "Endpoints over all backends in the served table",
};
const MANIFEST_ERRORS: Def = Def {
    name: "manifest_errors",
    exposed: "strait_manifest_errors",
    help: "Manifest files (or the folder itself) that cannot be read or parsed; their last \
           good objects are still served",
};
const RELOADS: Def = Def {
    name: "reloads",
    exposed: "strait_reloads_total",
    help: "Rescans of the manifests folder after the first load, by trigger: watch (a file \
           event) or resync (periodic)",
};

const INGRESS_ANNOTATIONS: Def = Def {
    name: "ingress_annotations",
    exposed: "strait_ingress_annotations",
    help: "Annotation keys on each Ingress of ours, by status in the registry: honoured, \
           honoured-with-difference, ignored, not-yet, refused, unknown (only non-zero series)",
};

const BUILD_INFO: Def = Def {
    name: "build_info",
    exposed: "strait_build_info",
    help: "Always 1, labelled with the version and the git commit Strait was built from",
};

const CERTIFICATE_EXPIRY: Def = Def {
    name: "ssl_certificate_expiry_timestamp_seconds",
    exposed: "strait_ssl_certificate_expiry_timestamp_seconds",
    help: "Unix time at which the leaf certificate of each usable kubernetes.io/tls Secret \
           expires, by namespace and Secret (set when a table is compiled)",
};

/// The commit Strait was built from (`controller/build.rs`), `unknown` without git.
pub const COMMIT: &str = env!("STRAIT_COMMIT");

/// Every control-path metric as (exposed name, help text).
pub const NAMES: &[(&str, &str)] = &[
    (TABLE_GENERATION.exposed, TABLE_GENERATION.help),
    (LAST_PUBLISH.exposed, LAST_PUBLISH.help),
    (PUBLISH_DURATION.exposed, PUBLISH_DURATION.help),
    (PUBLISHES.exposed, PUBLISHES.help),
    (REJECTED.exposed, REJECTED.help),
    (TABLE_HOSTS.exposed, TABLE_HOSTS.help),
    (TABLE_ROUTES.exposed, TABLE_ROUTES.help),
    (TABLE_BACKENDS.exposed, TABLE_BACKENDS.help),
    (TABLE_ENDPOINTS.exposed, TABLE_ENDPOINTS.help),
    (MANIFEST_ERRORS.exposed, MANIFEST_ERRORS.help),
    (RELOADS.exposed, RELOADS.help),
    (INGRESS_ANNOTATIONS.exposed, INGRESS_ANNOTATIONS.help),
    (BUILD_INFO.exposed, BUILD_INFO.help),
    (CERTIFICATE_EXPIRY.exposed, CERTIFICATE_EXPIRY.help),
];

/// Control-path metric families. Cheap to clone (every family is an `Arc` inside); the
/// [`Default`] value is registered nowhere (for tests and library use).
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    table_generation: Gauge,
    last_publish_timestamp: Gauge<f64, AtomicU64>,
    publish_duration: Histogram,
    publishes: Family<ResultLabels, Counter>,
    rejected_objects: Family<RejectedLabels, Gauge>,
    table_hosts: Gauge,
    table_routes: Gauge,
    table_backends: Gauge,
    table_endpoints: Gauge,
    manifest_errors: Gauge,
    reloads: Family<TriggerLabels, Counter>,
    ingress_annotations: Family<AnnotationLabels, Gauge>,
    build_info: Family<BuildLabels, Gauge>,
    certificate_expiry: Family<SecretLabels, Gauge>,
    /// The Secrets with a `certificate_expiry` series, so those that go away are removed.
    certificates: Arc<Mutex<BTreeSet<SecretLabels>>>,
}

/// What a publish did: `result="published"` (a new table was swapped in) or `"unchanged"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublishResult {
    Published,
    Unchanged,
}

/// Why the manifests folder was rescanned: `trigger="watch"` (a file-system event) or
/// `"resync"` (the periodic safety-net rescan, or polling when no watcher could be started).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    Watch,
    Resync,
}

impl Default for ControllerMetrics {
    /// Every family, the bounded `result` and `trigger` series created at zero (so `rate()`
    /// sees them from the start); `rejected_objects` series appear with their first diagnostic.
    fn default() -> Self {
        let metrics = Self {
            table_generation: Gauge::default(),
            last_publish_timestamp: Gauge::default(),
            publish_duration: Histogram::new(publish_buckets()),
            publishes: Family::default(),
            rejected_objects: Family::default(),
            table_hosts: Gauge::default(),
            table_routes: Gauge::default(),
            table_backends: Gauge::default(),
            table_endpoints: Gauge::default(),
            manifest_errors: Gauge::default(),
            reloads: Family::default(),
            ingress_annotations: Family::default(),
            build_info: Family::default(),
            certificate_expiry: Family::default(),
            certificates: Arc::default(),
        };
        metrics
            .build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: COMMIT,
            })
            .set(1);
        for result in [PublishResult::Published, PublishResult::Unchanged] {
            metrics
                .publishes
                .get_or_create_owned(&ResultLabels { result });
        }
        for trigger in [Trigger::Watch, Trigger::Resync] {
            metrics
                .reloads
                .get_or_create_owned(&TriggerLabels { trigger });
        }
        metrics
    }
}

impl ControllerMetrics {
    /// Families registered in `registry` (which carries the `strait` prefix).
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            TABLE_GENERATION.name,
            TABLE_GENERATION.help,
            m.table_generation.clone(),
        );
        registry.register(
            LAST_PUBLISH.name,
            LAST_PUBLISH.help,
            m.last_publish_timestamp.clone(),
        );
        registry.register(
            PUBLISH_DURATION.name,
            PUBLISH_DURATION.help,
            m.publish_duration.clone(),
        );
        registry.register(PUBLISHES.name, PUBLISHES.help, m.publishes.clone());
        registry.register(REJECTED.name, REJECTED.help, m.rejected_objects.clone());
        registry.register(TABLE_HOSTS.name, TABLE_HOSTS.help, m.table_hosts.clone());
        registry.register(TABLE_ROUTES.name, TABLE_ROUTES.help, m.table_routes.clone());
        registry.register(
            TABLE_BACKENDS.name,
            TABLE_BACKENDS.help,
            m.table_backends.clone(),
        );
        registry.register(
            TABLE_ENDPOINTS.name,
            TABLE_ENDPOINTS.help,
            m.table_endpoints.clone(),
        );
        registry.register(
            MANIFEST_ERRORS.name,
            MANIFEST_ERRORS.help,
            m.manifest_errors.clone(),
        );
        registry.register(RELOADS.name, RELOADS.help, m.reloads.clone());
        registry.register(
            INGRESS_ANNOTATIONS.name,
            INGRESS_ANNOTATIONS.help,
            m.ingress_annotations.clone(),
        );
        registry.register(BUILD_INFO.name, BUILD_INFO.help, m.build_info.clone());
        registry.register(
            CERTIFICATE_EXPIRY.name,
            CERTIFICATE_EXPIRY.help,
            m.certificate_expiry.clone(),
        );
        m
    }

    /// Sets `ssl_certificate_expiry_timestamp_seconds` from the Secrets of a full compile:
    /// one series per usable TLS Secret; Secrets gone (deleted, or now unusable) lose theirs.
    pub(crate) fn set_certificates(&self, secrets: &BTreeMap<ObjectKey, TlsSecret>) {
        let current: BTreeMap<SecretLabels, i64> = secrets
            .iter()
            .filter_map(|(key, secret)| {
                let cert = secret.as_ref().ok()?;
                let expiry = match cert.not_after().duration_since(UNIX_EPOCH) {
                    Ok(since) => gauge_value(since.as_secs()),
                    Err(before) => -gauge_value(before.duration().as_secs()),
                };
                let labels = SecretLabels {
                    namespace: key.namespace.clone(),
                    secret: key.name.clone(),
                };
                Some((labels, expiry))
            })
            .collect();
        let mut known = self
            .certificates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for gone in known.iter().filter(|l| !current.contains_key(*l)) {
            self.certificate_expiry.remove(gone);
        }
        for (labels, expiry) in &current {
            self.certificate_expiry.get_or_create(labels).set(*expiry);
        }
        *known = current.into_keys().collect();
    }

    /// Records one compile-and-publish: its result and duration, the served table, and the
    /// current diagnostics. `previous` are the diagnostics of the compile before, so reasons
    /// that went away drop to 0.
    pub(crate) fn published(
        &self,
        result: PublishResult,
        duration: Duration,
        served: &RouteTable,
        diagnostics: &[Diagnostic],
        previous: &[Diagnostic],
    ) {
        self.publishes.get_or_create(&ResultLabels { result }).inc();
        self.publish_duration.observe(duration.as_secs_f64());
        if result == PublishResult::Published {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            self.last_publish_timestamp.set(now.as_secs_f64());
        }
        self.table_generation.set(gauge_value(served.generation));
        self.table_hosts.set(gauge_value(served.host_count()));
        self.table_routes.set(gauge_value(served.route_count()));
        self.table_backends
            .set(gauge_value(served.backends().len()));
        let endpoints: usize = served
            .backends()
            .iter()
            .filter_map(|backend| backend.state.as_ref().ok())
            .map(|endpoints| endpoints.len())
            .sum();
        self.table_endpoints.set(gauge_value(endpoints));
        self.set_rejected(diagnostics, previous);
    }

    /// Sets `ingress_annotations` from a full compile's reports (our Ingresses only): one
    /// series per Ingress and status with a non-zero count; series of `previous` that are gone
    /// (an Ingress deleted, a key removed) are removed, so the family stays bounded by the
    /// Ingresses that carry annotations.
    pub(crate) fn set_ingress_annotations(
        &self,
        reports: &[IngressReport],
        previous: &[IngressReport],
    ) {
        let current = annotation_counts(reports);
        for gone in annotation_counts(previous).keys() {
            if !current.contains_key(gone) {
                self.ingress_annotations.remove(gone);
            }
        }
        for (labels, count) in &current {
            self.ingress_annotations
                .get_or_create(labels)
                .set(gauge_value(*count));
        }
    }

    /// Counts one rescan of the manifests folder after the first load.
    pub(crate) fn reloaded(&self, trigger: Trigger) {
        self.reloads.get_or_create(&TriggerLabels { trigger }).inc();
    }

    /// The number of manifest files (or the folder) failing after a rescan.
    pub(crate) fn set_manifest_errors(&self, errors: usize) {
        self.manifest_errors.set(gauge_value(errors));
    }

    /// Distinct objects per (reason, severity); label sets of `previous` that are gone now are
    /// set to 0 rather than removed, so alerts on `> 0` resolve instead of going stale.
    fn set_rejected(&self, diagnostics: &[Diagnostic], previous: &[Diagnostic]) {
        let mut objects: BTreeMap<RejectedLabels, BTreeSet<_>> = BTreeMap::new();
        for diagnostic in diagnostics {
            objects
                .entry(RejectedLabels::of(diagnostic))
                .or_default()
                .insert(&diagnostic.object);
        }
        for gone in previous.iter().map(RejectedLabels::of) {
            if !objects.contains_key(&gone) {
                self.rejected_objects.get_or_create(&gone).set(0);
            }
        }
        for (labels, objects) in &objects {
            self.rejected_objects
                .get_or_create(labels)
                .set(gauge_value(objects.len()));
        }
    }
}

/// The registry in the Prometheus text format (what `/metrics` serves), followed by the
/// unprefixed `process_*` metrics read from `/proc/self` now (see [`process`]).
pub fn encode(registry: &Registry) -> String {
    use prometheus_client::encoding::text::{encode_eof, encode_registry};
    let mut text = String::new();
    let process = process::registry();
    let encoded = encode_registry(&mut text, registry)
        .and_then(|()| encode_registry(&mut text, &process))
        .and_then(|()| encode_eof(&mut text));
    // Writing to a `String` cannot fail; an encoder error would be a bug in a metric type.
    if let Err(error) = encoded {
        tracing::error!(%error, "encoding metrics failed");
        let _ = writeln!(text, "# encoding failed");
    }
    text
}

/// Histogram buckets for a compile-and-publish: 100 µs to about 6.5 s.
fn publish_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 17)
}

/// A count as a gauge value, saturating (no real table comes near `i64::MAX`).
fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Keys per (namespace, Ingress, status) over our Ingresses.
fn annotation_counts(reports: &[IngressReport]) -> BTreeMap<AnnotationLabels, usize> {
    let mut counts = BTreeMap::new();
    for report in reports.iter().filter(|r| r.ours) {
        for finding in &report.findings {
            let labels = AnnotationLabels {
                namespace: report.key.namespace.clone(),
                ingress: report.key.name.clone(),
                status: finding.status.as_str(),
            };
            *counts.entry(labels).or_default() += 1;
        }
    }
    counts
}

/// An Ingress (a resource reference: bounded by the cluster's objects) and a registry status
/// (six values).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct AnnotationLabels {
    namespace: String,
    ingress: String,
    status: &'static str,
}

/// `build_info`: the crate version and the commit (both fixed at build time).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

/// A Secret (a resource reference: bounded by the cluster's objects).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct SecretLabels {
    namespace: String,
    secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: PublishResult,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TriggerLabels {
    trigger: Trigger,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EncodeLabelSet)]
struct RejectedLabels {
    reason: ReasonLabel,
    severity: SeverityLabel,
}

impl RejectedLabels {
    fn of(diagnostic: &Diagnostic) -> Self {
        Self {
            reason: ReasonLabel(diagnostic.reason),
            severity: SeverityLabel(diagnostic.severity),
        }
    }
}

/// [`Reason`] as a label value: its `as_str` (`ServiceMissing`, `Conflict`, …), a bounded set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ReasonLabel(Reason);

/// [`Severity`] as a label value: `error` or `warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeverityLabel(Severity);

impl EncodeLabelValue for ReasonLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.0.as_str())
    }
}

impl EncodeLabelValue for SeverityLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self.0 {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

impl EncodeLabelValue for PublishResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Published => "published",
            Self::Unchanged => "unchanged",
        })
    }
}

impl EncodeLabelValue for Trigger {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Watch => "watch",
            Self::Resync => "resync",
        })
    }
}

#[cfg(test)]
mod tests;
