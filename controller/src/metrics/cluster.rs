//! Cluster-mode metric families (`strait controller` only): watch events per kind, watch
//! sync state, API errors, leader state, status patches and Events posted. Labels are bounded
//! enums and kind names (STYLE item 16); never an object name or an error string.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Def;

const WATCH_EVENTS: Def = Def {
    name: "watch_events",
    exposed: "strait_watch_events_total",
    help: "Objects received from Kubernetes watches, by kind and event (apply, delete, relist)",
};
const WATCH_SYNCED: Def = Def {
    name: "watch_synced",
    exposed: "strait_watch_synced",
    help: "1 while the watch of a kind is in sync with the API server, 0 while (re)listing or failing",
};
const API_ERRORS: Def = Def {
    name: "api_errors",
    exposed: "strait_api_errors_total",
    help: "Failed Kubernetes API calls, by operation (watch, status, lease, event) and kind",
};
const LEADER: Def = Def {
    name: "leader",
    exposed: "strait_leader",
    help: "1 while this replica holds the leader Lease (and so writes status and Events)",
};
const STATUS_PATCHES: Def = Def {
    name: "status_patches",
    exposed: "strait_status_patches_total",
    help: "Ingress status patches, by result (ok, error)",
};
const EVENTS_POSTED: Def = Def {
    name: "events_posted",
    exposed: "strait_events_posted_total",
    help: "Kubernetes Events posted on Ingresses, by type (Normal, Warning) and result (ok, error)",
};

/// Every cluster-mode metric as exposed, with its help text (the README lists them).
pub const CLUSTER_NAMES: &[(&str, &str)] = &[
    (WATCH_EVENTS.exposed, WATCH_EVENTS.help),
    (WATCH_SYNCED.exposed, WATCH_SYNCED.help),
    (API_ERRORS.exposed, API_ERRORS.help),
    (LEADER.exposed, LEADER.help),
    (STATUS_PATCHES.exposed, STATUS_PATCHES.help),
    (EVENTS_POSTED.exposed, EVENTS_POSTED.help),
];

/// What a watch delivered: `apply` (added or modified), `delete`, or `relist` (one object of
/// an initial or restarted list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    Apply,
    Delete,
    Relist,
}

/// Which API call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiOperation {
    /// A list or watch (the watcher retries with back-off).
    Watch,
    /// An Ingress status patch.
    Status,
    /// Getting, creating or updating the leader Lease.
    Lease,
    /// Posting an Event.
    Event,
}

/// Outcome of a write: `ok` or `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteResult {
    Ok,
    Error,
}

/// Event type: `Normal` or `Warning` (Kubernetes' own spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Normal,
    Warning,
}

/// Cluster-mode families. Cheap to clone; [`Default`] is registered nowhere (tests).
#[derive(Clone, Debug, Default)]
pub struct ClusterMetrics {
    watch_events: Family<WatchLabels, Counter>,
    watch_synced: Family<KindLabels, Gauge>,
    api_errors: Family<ApiErrorLabels, Counter>,
    leader: Gauge,
    status_patches: Family<WriteLabels, Counter>,
    events_posted: Family<EventLabels, Counter>,
}

impl ClusterMetrics {
    /// Families registered in `registry` (which carries the `strait` prefix).
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        for result in [WriteResult::Ok, WriteResult::Error] {
            m.status_patches
                .get_or_create_owned(&WriteLabels { result });
        }
        registry.register(WATCH_EVENTS.name, WATCH_EVENTS.help, m.watch_events.clone());
        registry.register(WATCH_SYNCED.name, WATCH_SYNCED.help, m.watch_synced.clone());
        registry.register(API_ERRORS.name, API_ERRORS.help, m.api_errors.clone());
        registry.register(LEADER.name, LEADER.help, m.leader.clone());
        registry.register(
            STATUS_PATCHES.name,
            STATUS_PATCHES.help,
            m.status_patches.clone(),
        );
        registry.register(
            EVENTS_POSTED.name,
            EVENTS_POSTED.help,
            m.events_posted.clone(),
        );
        m
    }

    /// One object received from the watch of `kind` (a Kubernetes kind name, e.g. `Ingress`).
    pub fn watch_event(&self, kind: &'static str, event: WatchEvent) {
        self.watch_events
            .get_or_create(&WatchLabels { kind, event })
            .inc();
    }

    /// The watch of `kind` is in sync (`true`) or (re)listing after an error (`false`).
    pub fn set_synced(&self, kind: &'static str, synced: bool) {
        self.watch_synced
            .get_or_create(&KindLabels { kind })
            .set(i64::from(synced));
    }

    /// A failed API call of `operation` on `kind`.
    pub fn api_error(&self, operation: ApiOperation, kind: &'static str) {
        self.api_errors
            .get_or_create(&ApiErrorLabels { operation, kind })
            .inc();
    }

    /// This replica gained (`true`) or lost the leader Lease.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Whether the leader gauge says this replica leads (tests).
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// One Ingress status patch and how it went.
    pub fn status_patch(&self, result: WriteResult) {
        self.status_patches
            .get_or_create(&WriteLabels { result })
            .inc();
    }

    /// Number of status patches with `result` so far (tests).
    pub fn status_patch_count(&self, result: WriteResult) -> u64 {
        self.status_patches
            .get_or_create(&WriteLabels { result })
            .get()
    }

    /// One Event posted and how it went.
    pub fn event_posted(&self, kind: EventKind, result: WriteResult) {
        self.events_posted
            .get_or_create(&EventLabels {
                r#type: kind,
                result,
            })
            .inc();
    }

    /// Number of Events of `kind` posted with `result` so far (tests).
    pub fn event_count(&self, kind: EventKind, result: WriteResult) -> u64 {
        self.events_posted
            .get_or_create(&EventLabels {
                r#type: kind,
                result,
            })
            .get()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WatchLabels {
    kind: &'static str,
    event: WatchEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ApiErrorLabels {
    operation: ApiOperation,
    kind: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WriteLabels {
    result: WriteResult,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EventLabels {
    r#type: EventKind,
    result: WriteResult,
}

fn label(encoder: &mut LabelValueEncoder, value: &str) -> std::fmt::Result {
    std::fmt::Write::write_str(encoder, value)
}

impl EncodeLabelValue for WatchEvent {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        label(
            encoder,
            match self {
                Self::Apply => "apply",
                Self::Delete => "delete",
                Self::Relist => "relist",
            },
        )
    }
}

impl EncodeLabelValue for ApiOperation {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        label(
            encoder,
            match self {
                Self::Watch => "watch",
                Self::Status => "status",
                Self::Lease => "lease",
                Self::Event => "event",
            },
        )
    }
}

impl EncodeLabelValue for WriteResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        label(
            encoder,
            match self {
                Self::Ok => "ok",
                Self::Error => "error",
            },
        )
    }
}

impl EncodeLabelValue for EventKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        label(
            encoder,
            match self {
                Self::Normal => "Normal",
                Self::Warning => "Warning",
            },
        )
    }
}
