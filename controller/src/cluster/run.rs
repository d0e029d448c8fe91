//! Wiring for `strait controller`: connect to the API server, then spawn the watches, the
//! compile loop, leader election, the status writer and the Event recorder on the server's
//! shutdown signal.

use std::sync::Arc;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::runtime::events::Reporter;
use kube::{Client, Config};
use strait_shared::{BackendMode, CompileConfig, Kind};
use tokio::sync::{mpsc, watch};
use tracing::info;

use super::leader::{self, LeaseConfig};
use super::sources::{self, WatchContext, WatchTarget};
use super::status::{self, StatusConfig};
use super::{ClusterConfig, Published, events};
use crate::admin::Readiness;
use crate::metrics::ClusterMetrics;
use crate::pipeline::{CHANGE_QUEUE, Pipeline};
use crate::publish::Publisher;
use crate::serve::{Tasks, stopped};
use crate::watch::WatchConfig;

/// What [`spawn`] needs from `serve::start`.
#[derive(Debug)]
pub struct Parts<'a> {
    pub config: &'a ClusterConfig,
    pub compile: &'a CompileConfig,
    pub publisher: Publisher,
    pub readiness: Arc<Readiness>,
    pub metrics: ClusterMetrics,
    pub watch: WatchConfig,
}

/// A client from `--kubeconfig` (or `KUBECONFIG`), else the in-cluster service account.
/// Makes no request: a kubeconfig that cannot be read fails here, before anything listens.
pub async fn connect(config: &ClusterConfig) -> anyhow::Result<Client> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|err| kubeconfig_error(path, err))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?
        }
        None => Config::infer().await.context(
            "no cluster to talk to: not running in a pod and no --kubeconfig or KUBECONFIG",
        )?,
    };
    Client::try_from(kube_config).context("creating the Kubernetes client")
}

/// A kubeconfig that cannot be read, said once: kube's own messages repeat the path (debug
/// quoted) and the I/O error, and a YAML error comes with a multi-line snippet.
fn kubeconfig_error(path: &std::path::Path, err: KubeconfigError) -> anyhow::Error {
    let what = format!("cannot read the kubeconfig {}", path.display());
    match err {
        KubeconfigError::ReadConfig(io, _) => anyhow::Error::new(io).context(what),
        KubeconfigError::Parse(yaml) => {
            let options = serde_saphyr::render_options! {
                formatter: &serde_saphyr::UserMessageFormatter,
                snippets: serde_saphyr::SnippetMode::Off,
            };
            anyhow::anyhow!(
                "{what}: not valid YAML: {}",
                yaml.render_with_options(options)
            )
        }
        other => anyhow::Error::new(other).context(what),
    }
}

/// Spawns every cluster-mode task over `client` (tests pass a mock).
pub fn spawn_with(
    client: Client,
    parts: Parts<'_>,
    tasks: &mut Tasks,
    signal: &watch::Receiver<bool>,
) {
    let Parts {
        config,
        compile,
        publisher,
        readiness,
        metrics,
        watch: watch_config,
    } = parts;
    let (changes, received) = mpsc::channel(CHANGE_QUEUE);
    let (reports, reported) = watch::channel(Arc::new(Published::default()));
    let nodeport = compile.backend_mode == BackendMode::NodePort;
    let (nodes_wanted, nodes) = watch::channel(nodeport);
    let mut expected = vec![
        Kind::IngressClass,
        Kind::Ingress,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Secret,
        Kind::ConfigMap,
    ];
    if nodeport {
        expected.push(Kind::Node);
    }
    readiness.set_detail("waiting for the first list of every watched kind");
    let pipeline = Pipeline::new(publisher, expected)
        .readiness(readiness.clone())
        .reports(reports)
        .nodes_wanted(nodes_wanted);
    let done = stopped(signal.clone());
    tasks.spawn(async move {
        let ran = pipeline.run(received, watch_config, done).await;
        ("compile loop", ran)
    });

    let context = WatchContext {
        client: client.clone(),
        changes,
        metrics: metrics.clone(),
        readiness,
        annotations_prefix: Arc::from(compile.annotations_prefix.as_str()),
        health: Arc::default(),
    };
    for target in WatchTarget::all(&config.namespaces) {
        tasks.spawn(until(
            signal,
            sources::run(context.clone(), target),
            "watch",
        ));
    }
    tasks.spawn(until(
        signal,
        sources::run_nodes(context, nodes),
        "Node watch",
    ));

    let leader = spawn_election(client.clone(), config, &metrics, tasks, signal);
    if config.update_status {
        let status_config = StatusConfig {
            publish_service: config.publish_service.clone(),
            publish_addresses: config.publish_addresses.clone(),
        };
        let writer = status::run(
            client.clone(),
            status_config,
            reported.clone(),
            leader.clone(),
            metrics.clone(),
            stopped(signal.clone()),
        );
        tasks.spawn(async move {
            writer.await;
            ("status writer", Ok(()))
        });
    } else {
        info!("--update-status=false: Ingress status is never written");
    }
    let reporter = Reporter {
        controller: reporting_controller(compile),
        instance: Some(identity(config)),
    };
    let recorder = events::run(
        client,
        reporter,
        reported,
        leader,
        metrics,
        stopped(signal.clone()),
    );
    tasks.spawn(async move {
        recorder.await;
        ("event recorder", Ok(()))
    });
}

/// Starts leader election (or, with `--leader-election=false`, leads at once); the receiver
/// says whether this replica may write.
fn spawn_election(
    client: Client,
    config: &ClusterConfig,
    metrics: &ClusterMetrics,
    tasks: &mut Tasks,
    signal: &watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (leader, leading) = watch::channel(!config.leader_election);
    if !config.leader_election {
        metrics.set_leader(true);
        // Keep the sender alive until shutdown: a closed channel reads as "not leading".
        let done = stopped(signal.clone());
        tasks.spawn(async move {
            done.await;
            drop(leader);
            ("leader election (off)", Ok(()))
        });
        return leading;
    }
    let Some(namespace) = election_namespace(config) else {
        // Said once: this instance serves, but never leads.
        tracing::warn!(
            "no election namespace (--election-namespace, STRAIT_ELECTION_NAMESPACE or \
             POD_NAMESPACE): this instance serves traffic but never writes Ingress status or \
             Events, so it cannot become a second leader beside the installation's own"
        );
        metrics.set_leader(false);
        leader.send_replace(false);
        let done = stopped(signal.clone());
        tasks.spawn(async move {
            done.await;
            drop(leader);
            ("leader election (no namespace)", Ok(()))
        });
        return leading;
    };
    let lease = LeaseConfig::new(config.election_id.clone(), namespace, identity(config));
    let elect = leader::run(
        client,
        lease,
        leader,
        metrics.clone(),
        stopped(signal.clone()),
    );
    tasks.spawn(async move {
        elect.await;
        ("leader election", Ok(()))
    });
    leading
}

/// The controller named in our Events: the first `--controller-name` that is not
/// ingress-nginx's (beside ingress-nginx, Events must say which controller wrote them), else
/// Strait's own name.
fn reporting_controller(compile: &CompileConfig) -> String {
    compile
        .controller_names
        .iter()
        .find(|name| name.as_str() != INGRESS_NGINX_CONTROLLER)
        .cloned()
        .unwrap_or_else(|| strait_shared::config::DEFAULT_CONTROLLER_NAME.to_owned())
}

/// ingress-nginx's IngressClass `spec.controller`.
const INGRESS_NGINX_CONTROLLER: &str = "k8s.io/ingress-nginx";

/// Runs `task` until the shutdown signal.
fn until(
    signal: &watch::Receiver<bool>,
    task: impl std::future::Future<Output = ()> + Send + 'static,
    name: &'static str,
) -> impl std::future::Future<Output = (&'static str, anyhow::Result<()>)> + Send + 'static {
    let done = stopped(signal.clone());
    async move {
        tokio::select! {
            () = done => {}
            () = task => {}
        }
        (name, Ok(()))
    }
}

/// Where the Lease lives: `--election-namespace`, else the pod's namespace (`POD_NAMESPACE`,
/// else the in-cluster service account's, which is the pod's). Never the kubeconfig's
/// namespace nor `default`: every instance of one installation must meet at the same Lease,
/// and one run from a workstation would otherwise lead a Lease of its own.
fn election_namespace(config: &ClusterConfig) -> Option<String> {
    const SERVICE_ACCOUNT_NAMESPACE: &str =
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    let given = |ns: &Option<String>| ns.clone().filter(|ns| !ns.trim().is_empty());
    given(&config.election_namespace)
        .or_else(|| given(&config.pod_namespace))
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|ns| ns.trim().to_owned())
                .filter(|ns| !ns.is_empty())
        })
}

/// This replica's name: `POD_NAME`, else the host name, else a fixed fallback.
fn identity(config: &ClusterConfig) -> String {
    config
        .pod_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "strait".to_owned())
}

#[cfg(test)]
mod election_tests;
#[cfg(test)]
mod tests;
