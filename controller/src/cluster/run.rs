//! Wiring for `strait controller`: connect to the API server, then spawn the watches, the
//! compile loop, leader election, the status writer and the Event recorder on the server's
//! shutdown signal.

use std::sync::Arc;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::events::Reporter;
use kube::{Client, Config};
use strait_shared::{BackendMode, CompileConfig, Kind};
use tokio::sync::{mpsc, watch};

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
pub async fn connect(config: &ClusterConfig) -> anyhow::Result<Client> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("using the kubeconfig {}", path.display()))?
        }
        None => Config::infer().await.context(
            "no cluster to talk to: not running in a pod and no --kubeconfig or KUBECONFIG",
        )?,
    };
    Client::try_from(kube_config).context("creating the Kubernetes client")
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
    let reporter = Reporter {
        controller: compile.controller_name.clone(),
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
    let lease = LeaseConfig::new(
        config.election_id.clone(),
        namespace(config),
        identity(config),
    );
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

/// Where the Lease lives: `POD_NAMESPACE`, else the service account's namespace, else
/// `default`.
fn namespace(config: &ClusterConfig) -> String {
    const SERVICE_ACCOUNT_NAMESPACE: &str =
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    config
        .pod_namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|ns| ns.trim().to_owned())
                .filter(|ns| !ns.is_empty())
        })
        .unwrap_or_else(|| "default".to_owned())
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
mod tests;
