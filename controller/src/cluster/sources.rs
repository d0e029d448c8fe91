//! The Kubernetes API as a source: one kube-runtime watcher per kind (and per namespace with
//! `--watch-namespace`), turned into [`Change`]s for the compile loop.
//!
//! - A watch's list (first, or again after a lost watch) becomes one [`Change::Relist`], so
//!   objects deleted while the watch was down go away; later events are single changes.
//! - Objects are decoded through [`DeserializeGuard`]: one that does not decode is logged and
//!   skipped (its last good version stays), the watch goes on (STYLE item 5).
//! - Data never read is dropped before it is queued or cached: `managedFields`, annotations
//!   other than the ingress ones, Node images, volumes and node info, and everything of a
//!   ConfigMap but its name and its data read as headers (decoded into
//!   [`ConfigMapHeaders`](strait_shared::objects::ConfigMapHeaders)).
//! - Errors are retried with a back-off capped at 5 s and reset by any answer; a 410 Gone
//!   relists at once (see [`retry`]). They are counted and shown on `/readyz`, an outage of
//!   the API server is logged once each way, and nothing stops serving: the last table stays.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures_util::{Stream, StreamExt as _};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::DeserializeGuard;
use kube::core::NamespaceResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use strait_shared::objects::key_of;
use strait_shared::{Kind, Object, ObjectKey};
use tokio::sync::{mpsc, watch};

use crate::admin::Readiness;
use crate::metrics::{ApiOperation, ClusterMetrics, WatchEvent};
use crate::store::Change;

pub mod retry;

use retry::{ApiHealth, Backoff, Failure};

/// The field selector of the Secret watch: TLS Secrets and basic-auth htpasswd Secrets (any
/// type: `kubectl create secret generic` makes `Opaque` ones) are read, so every type is
/// watched except those that never hold either and can be many or large: Helm releases,
/// service-account and bootstrap tokens, image-pull credentials. The index keeps only what it
/// parsed (certificates, htpasswd hashes), never the raw data.
pub const WATCHED_SECRETS: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token,type!=bootstrap.kubernetes.io/token,type!=kubernetes.io/dockerconfigjson,type!=kubernetes.io/dockercfg";

/// The field selector of the ConfigMap watch: `kube-root-ca.crt`, which the API server puts in
/// every namespace, is the one ConfigMap every cluster has many of and that is never a header
/// map (its key is `ca.crt`). ConfigMaps support no other field than name and namespace.
pub const WATCHED_CONFIG_MAPS: &str = "metadata.name!=kube-root-ca.crt";

/// The label selector of the ConfigMap watch, as ingress-nginx's own informer has it: Helm 2
/// (Tiller) stores each release in a ConfigMap labelled `OWNER=TILLER`, large and possibly
/// many (its key, `release`, is header-like).
pub const UNWATCHED_CONFIG_MAP_LABELS: &str = "OWNER!=TILLER";

/// Annotation prefixes kept on Ingresses and IngressClasses besides `--annotations-prefix`
/// (whose keys the registry judges, unknown ones included); every other annotation is dropped
/// before caching.
const KEPT_ANNOTATIONS: &[&str] = &[
    "strait.dev/",
    "kubernetes.io/ingress.class",
    "ingressclass.kubernetes.io/",
];

/// What every watcher of one process shares.
#[derive(Clone)]
pub struct WatchContext {
    pub client: Client,
    pub changes: mpsc::Sender<Change>,
    pub metrics: ClusterMetrics,
    pub readiness: Arc<Readiness>,
    /// `--annotations-prefix`: ingress-nginx keys under it are kept on Ingresses.
    pub annotations_prefix: Arc<str>,
    /// Whether the API server answers, as all watches see it (outages logged once).
    pub health: Arc<ApiHealth>,
}

/// One watch: a kind in one namespace (or all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTarget {
    pub kind: Kind,
    /// `None`: all namespaces (and always for cluster-scoped kinds).
    pub namespace: Option<String>,
}

impl WatchTarget {
    /// Every watch for `namespaces` (empty: all): the namespaced kinds once per namespace
    /// (ConfigMaps included, for `auth-proxy-set-headers`), IngressClass once. Nodes are
    /// watched separately, only while wanted.
    pub fn all(namespaces: &[String]) -> Vec<Self> {
        let scopes: Vec<Option<String>> = if namespaces.is_empty() {
            vec![None]
        } else {
            namespaces.iter().cloned().map(Some).collect()
        };
        let mut targets = vec![Self {
            kind: Kind::IngressClass,
            namespace: None,
        }];
        for kind in [
            Kind::Ingress,
            Kind::Service,
            Kind::EndpointSlice,
            Kind::Secret,
            Kind::ConfigMap,
        ] {
            for namespace in &scopes {
                targets.push(Self {
                    kind,
                    namespace: namespace.clone(),
                });
            }
        }
        targets
    }

    /// A name for logs and task lists, e.g. `Ingress watch (namespace team-a)`.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} watch (namespace {ns})", self.kind.as_str()),
            None => format!("{} watch", self.kind.as_str()),
        }
    }
}

/// Runs the watch of `target` until the compile loop is gone. Never ends on an API error.
pub async fn run(context: WatchContext, target: WatchTarget) {
    let client = context.client.clone();
    let ns = target.namespace.as_deref();
    match target.kind {
        Kind::IngressClass => {
            let api = Api::<DeserializeGuard<IngressClass>>::all(client);
            watch_kind(&context, &target, api, config()).await;
        }
        Kind::Ingress => {
            let api = scoped::<Ingress>(client, ns);
            watch_kind(&context, &target, api, config()).await;
        }
        Kind::Service => {
            let api = scoped::<Service>(client, ns);
            watch_kind(&context, &target, api, config()).await;
        }
        Kind::EndpointSlice => {
            let api = scoped::<EndpointSlice>(client, ns);
            watch_kind(&context, &target, api, config()).await;
        }
        Kind::Secret => {
            let api = scoped::<Secret>(client, ns);
            watch_kind(&context, &target, api, config().fields(WATCHED_SECRETS)).await;
        }
        Kind::ConfigMap => {
            let api = scoped::<ConfigMap>(client, ns);
            let selected = config()
                .fields(WATCHED_CONFIG_MAPS)
                .labels(UNWATCHED_CONFIG_MAP_LABELS);
            watch_kind(&context, &target, api, selected).await;
        }
        Kind::Node => {
            let api = Api::<DeserializeGuard<Node>>::all(client);
            watch_kind(&context, &target, api, config()).await;
        }
    }
    tracing::debug!(watch = %target.describe(), "watch stopped");
}

/// A namespaced kind's API in one namespace, or across all.
fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<DeserializeGuard<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// Watches Nodes while `wanted` says some backend runs in nodeport mode; stops (and forgets
/// the Nodes) when none does.
pub async fn run_nodes(context: WatchContext, mut wanted: watch::Receiver<bool>) {
    let target = WatchTarget {
        kind: Kind::Node,
        namespace: None,
    };
    loop {
        if wanted.wait_for(|w| *w).await.is_err() {
            return;
        }
        tokio::select! {
            () = run(context.clone(), target.clone()) => return,
            stop = wanted.wait_for(|w| !*w) => if stop.is_err() { return },
        }
        let cleared = Change::Relist {
            kind: Kind::Node,
            namespace: None,
            objects: Vec::new(),
            keep: BTreeSet::new(),
        };
        if context.changes.send(cleared).await.is_err() {
            return;
        }
    }
}

fn config() -> watcher::Config {
    watcher::Config::default()
}

async fn watch_kind<K>(
    context: &WatchContext,
    target: &WatchTarget,
    api: Api<DeserializeGuard<K>>,
    config: watcher::Config,
) where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    Object: From<K>,
{
    let mut relay = Relay::new(context, target);
    let mut backoff = Backoff::default();
    // Each round is one watcher from an empty state, so it starts with a full list; a new
    // round begins only after a 410 Gone.
    loop {
        let stream = watcher::watcher(api.clone(), config.clone());
        if relay.forward(stream, &mut backoff).await == Ended::Closed {
            return;
        }
    }
}

/// Why [`Relay::forward`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The compile loop is gone (or the stream ended): stop watching.
    Closed,
    /// 410 Gone: start over with a fresh list.
    Gone,
}

/// Turns one watcher's events into changes.
struct Relay<'a> {
    context: &'a WatchContext,
    target: &'a WatchTarget,
    kind: &'static str,
    /// Objects of a list in progress, and the keys of those that did not decode.
    listing: Vec<Object>,
    unreadable: BTreeSet<ObjectKey>,
    /// Whether the last attempt failed (a refusal is warned about once, not every retry).
    failing: bool,
}

impl<'a> Relay<'a> {
    fn new(context: &'a WatchContext, target: &'a WatchTarget) -> Self {
        Self {
            context,
            target,
            kind: target.kind.as_str(),
            listing: Vec::new(),
            unreadable: BTreeSet::new(),
            failing: false,
        }
    }

    /// Forwards until the stream ends, the compile loop is gone, or a 410 Gone calls for a
    /// fresh list; pauses after each other error as `backoff` says.
    async fn forward<K>(
        &mut self,
        stream: impl Stream<Item = Result<Event<DeserializeGuard<K>>, watcher::Error>>,
        backoff: &mut Backoff,
    ) -> Ended
    where
        K: Resource<DynamicType = ()>,
        Object: From<K>,
    {
        futures_util::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            let change = match event {
                Ok(event) => {
                    backoff.reset();
                    self.answered();
                    self.event(event)
                }
                Err(error) => {
                    let failure = self.error(&error);
                    let delay = backoff.delay(failure);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if failure == Failure::Gone {
                        return Ended::Gone;
                    }
                    None
                }
            };
            if let Some(change) = change
                && self.context.changes.send(change).await.is_err()
            {
                return Ended::Closed;
            }
        }
        Ended::Closed
    }

    /// The API server answered this watch.
    fn answered(&mut self) {
        self.failing = false;
        self.context.health.answered(&self.target.describe());
    }

    fn event<K>(&mut self, event: Event<DeserializeGuard<K>>) -> Option<Change>
    where
        K: Resource<DynamicType = ()>,
        Object: From<K>,
    {
        let metrics = &self.context.metrics;
        match event {
            Event::Init => {
                self.listing.clear();
                self.unreadable.clear();
                None
            }
            Event::InitApply(object) => {
                metrics.watch_event(self.kind, WatchEvent::Relist);
                match self.decode(object) {
                    Ok(object) => self.listing.push(object),
                    Err(key) => {
                        self.unreadable.insert(key);
                    }
                }
                None
            }
            Event::InitDone => Some(self.synced()),
            Event::Apply(object) => {
                metrics.watch_event(self.kind, WatchEvent::Apply);
                self.decode(object).ok().map(Change::Apply)
            }
            Event::Delete(object) => {
                metrics.watch_event(self.kind, WatchEvent::Delete);
                let key = key_of(self.target.kind, object_meta(&object));
                Some(Change::Delete(self.target.kind, key))
            }
        }
    }

    /// The list is complete: hand it over as one relist and report the watch healthy.
    fn synced(&mut self) -> Change {
        let objects = std::mem::take(&mut self.listing);
        tracing::info!(
            watch = %self.target.describe(),
            objects = objects.len(),
            unreadable = self.unreadable.len(),
            "listed"
        );
        self.context.metrics.set_synced(self.kind, true);
        self.context
            .readiness
            .set_problem(&self.target.describe(), None);
        Change::Relist {
            kind: self.target.kind,
            namespace: self.target.namespace.clone(),
            objects,
            keep: std::mem::take(&mut self.unreadable),
        }
    }

    /// Counts, reports and logs an error; says what it means. An outage is logged once for
    /// all watches ([`ApiHealth`]); a refusal once per watch until it recovers.
    fn error(&mut self, error: &watcher::Error) -> Failure {
        let name = self.target.describe();
        let failure = Failure::of(error);
        match failure {
            Failure::Unavailable => {
                self.context.health.unavailable(&name, error);
                tracing::debug!(watch = %name, %error, "API server unavailable; retrying");
            }
            Failure::Gone => {
                self.context.health.answered(&name);
                tracing::info!(watch = %name, "watch expired (410 Gone); listing again");
            }
            Failure::Refused => {
                self.context.health.answered(&name);
                if self.failing {
                    tracing::debug!(watch = %name, %error, "watch failed again; retrying");
                } else {
                    tracing::warn!(watch = %name, %error, "watch failed; retrying with back-off, serving the last table");
                }
            }
        }
        self.failing = true;
        self.context
            .metrics
            .api_error(ApiOperation::Watch, self.kind);
        self.context.metrics.set_synced(self.kind, false);
        let problem = format!("{name}: retrying after error: {error}");
        self.context.readiness.set_problem(&name, Some(problem));
        failure
    }

    /// The object, slimmed, or the key of one that did not decode (logged).
    fn decode<K>(&self, guard: DeserializeGuard<K>) -> Result<Object, ObjectKey>
    where
        K: Resource<DynamicType = ()>,
        Object: From<K>,
    {
        match guard.0 {
            Ok(object) => {
                let mut object = Object::from(object);
                slim(&mut object, &self.context.annotations_prefix);
                Ok(object)
            }
            Err(invalid) => {
                let key = key_of(self.target.kind, &invalid.metadata);
                tracing::warn!(kind = self.kind, object = %key, error = %invalid.error, "skipping an object that does not decode; its last good version stays");
                Err(key)
            }
        }
    }
}

fn object_meta<K: Resource>(guard: &DeserializeGuard<K>) -> &ObjectMeta {
    match &guard.0 {
        Ok(object) => object.meta(),
        Err(invalid) => &invalid.metadata,
    }
}

/// Drops what Strait never reads, before the object is queued and cached. Annotations are kept
/// on Ingresses and IngressClasses under `prefix/` (ingress-nginx's keys) and the prefixes in
/// [`KEPT_ANNOTATIONS`].
pub fn slim(object: &mut Object, prefix: &str) {
    let keeps_annotations = matches!(object, Object::Ingress(_) | Object::IngressClass(_));
    let meta = object.metadata_mut();
    meta.managed_fields = None;
    if keeps_annotations {
        if let Some(annotations) = meta.annotations.as_mut() {
            annotations.retain(|k, _| {
                let ours = k
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
                ours || KEPT_ANNOTATIONS.iter().any(|p| k.starts_with(p))
            });
        }
    } else {
        meta.annotations = None;
    }
    if let Object::Node(node) = object {
        // Just decoded from the watch, so not shared: `make_mut` copies nothing.
        let node = std::sync::Arc::make_mut(node);
        node.metadata.labels = None;
        if let Some(status) = node.status.as_mut() {
            status.images = None;
            status.node_info = None;
            status.volumes_attached = None;
            status.volumes_in_use = None;
            status.capacity = None;
            status.allocatable = None;
            if let Some(conditions) = status.conditions.as_mut() {
                conditions.retain(|c| c.type_ == "Ready");
            }
        }
    }
}

#[cfg(test)]
mod outage_tests;
#[cfg(test)]
mod tests;
