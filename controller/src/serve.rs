//! `strait serve`: wire a manifests folder, the compile-and-publish loop, the proxy listener and
//! the admin listener together.
//!
//! [`start`] opens the source (the folder must be listable; the kubeconfig must read) before
//! anything else, so a mistake there is the first and only thing printed; then it binds the
//! listeners, creates the metrics registry (prefix `strait`: the proxy's families and the
//! controller's), loads the folder and publishes the first table before it returns, and runs
//! its tasks — HTTP and HTTPS listeners, admin, folder watch — on one shutdown signal.
//! [`Running::shutdown`] fails readiness, fires the signal and waits for them.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use prometheus_client::registry::Registry;
use strait_proxy::{AccessLog, Proxy, ProxyConfig, ProxyMetrics, SharedTable};
use strait_shared::Kind;
use strait_shared::{CompileConfig, RouteTable};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::admin::{Admin, Readiness, serve_admin};
use crate::cluster::ClusterConfig;
use crate::logging::LogControl;
use crate::manifests::ManifestDir;
use crate::metrics::{ClusterMetrics, ControllerMetrics};
use crate::pipeline::{CHANGE_QUEUE, Pipeline};
use crate::publish::Publisher;
use crate::watch::{ManifestSource, WatchConfig};

/// Where objects come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A folder of Ingress/Service/EndpointSlice/... manifests (`strait serve --manifests`).
    Manifests(PathBuf),
    /// The Kubernetes API (`strait controller`).
    Cluster(Box<ClusterConfig>),
}

/// Everything `strait serve` and `strait controller` need, parsed once from flags.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where objects come from.
    pub source: Source,
    /// Plain-HTTP listener (`--http-addr`, default 0.0.0.0:8080; port 0 allowed).
    pub http_addr: SocketAddr,
    /// HTTPS listener (`--https-addr`, default 0.0.0.0:8443; port 0 allowed).
    pub https_addr: SocketAddr,
    /// Admin listener for /healthz, /readyz, /metrics and /log/level (`--admin-addr`,
    /// default 127.0.0.1:10254).
    pub admin_addr: SocketAddr,
    pub compile: CompileConfig,
    pub proxy: ProxyConfig,
    /// Quiet time after a file change before recompiling (about 100 ms); a change is live
    /// within 1 s whatever the burst.
    pub debounce: Duration,
    /// Data-path worker threads (`--workers`); 0: one per CPU this process may use.
    pub workers: usize,
    /// Where the access log goes (`--access-log`: stdout, or off).
    pub access_log: AccessLog,
    /// The installed log subscriber's filter, changed through `PUT /log/level`; `None` when
    /// the process did not install one (tests, library use): `/log/level` then answers 501.
    pub log_control: Option<LogControl>,
}

/// A running server. Dropping it does not stop it; call [`Running::shutdown`].
#[derive(Debug)]
pub struct Running {
    /// Bound address of the HTTP listener (the real port when 0 was asked for).
    pub http_addr: SocketAddr,
    /// Bound address of the HTTPS listener.
    pub https_addr: SocketAddr,
    /// Bound address of the admin listener.
    pub admin_addr: SocketAddr,
    /// The table handle the proxy reads (tests look at it).
    pub table: SharedTable,
    proxy: Arc<Proxy>,
    registry: Arc<Registry>,
    readiness: Arc<Readiness>,
    shutdown: watch::Sender<bool>,
    tasks: Tasks,
}

impl Running {
    /// The proxy both listeners serve (its counters, its table).
    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    /// What `/readyz` reports.
    pub fn readiness(&self) -> &Arc<Readiness> {
        &self.readiness
    }

    /// The metrics registry `/metrics` serves ([`crate::metrics::encode`] renders it).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Stops accepting, lets in-flight requests finish, and waits for every task. Returns the
    /// first task error (the others are logged).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.readiness.set_ready(false);
        self.shutdown.send_replace(true);
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(err) = task_result(joined) {
                tracing::error!("{err:#}");
                first_error.get_or_insert(err);
            }
        }
        tracing::info!("stopped");
        first_error.map_or(Ok(()), Err)
    }

    /// Fails readiness, keeps serving for `drain` (so load balancers stop sending new
    /// connections), then shuts down.
    pub async fn shutdown_after(self, drain: Duration) -> anyhow::Result<()> {
        self.readiness.set_ready(false);
        if !drain.is_zero() {
            tracing::info!(?drain, "not ready; draining before shutdown");
            tokio::time::sleep(drain).await;
        }
        self.shutdown().await
    }

    /// Runs until `signal` resolves, then shuts down after `drain`. If a task stops on its own
    /// first (an error, or a panic in a reload), everything is shut down and that is the error.
    pub async fn run_until(
        mut self,
        signal: impl Future<Output = ()>,
        drain: Duration,
    ) -> anyhow::Result<()> {
        let early = tokio::select! {
            () = signal => None,
            Some(joined) = self.tasks.join_next() => Some(joined),
        };
        let Some(joined) = early else {
            return self.shutdown_after(drain).await;
        };
        let err = match task_result(joined) {
            Ok(name) => anyhow::anyhow!("the {name} task stopped unexpectedly"),
            Err(err) => err,
        };
        tracing::error!("{err:#}; shutting down");
        if let Err(other) = self.shutdown().await {
            tracing::debug!("{other:#}");
        }
        Err(err)
    }
}

impl Drop for Running {
    /// Leaves the tasks running (a `JoinSet` would abort them); after [`Running::shutdown`]
    /// there are none left.
    fn drop(&mut self) {
        self.tasks.detach_all();
    }
}

/// Binds the listeners and starts the source. From a manifests folder, the first table is
/// published before this returns; from the cluster, readiness turns true once every watched
/// kind has synced and the first table is published.
pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    start_with(config, None).await
}

/// [`start`], with the Kubernetes client given (tests pass one over a mock API server)
/// instead of made from the cluster source's kubeconfig.
pub(crate) async fn start_with(
    config: ServeConfig,
    client: Option<kube::Client>,
) -> anyhow::Result<Running> {
    let opened = open(&config.source, client).await?;
    let workers = match NonZeroUsize::new(config.workers) {
        Some(count) => count,
        None => strait_proxy::workers::default_count(),
    };
    let (http, http_addr) = bind_group(config.http_addr, workers, "HTTP")?;
    let (https, https_addr) = bind_group(config.https_addr, workers, "HTTPS")?;
    let (admin, admin_addr) = bind(config.admin_addr, "admin").await?;
    tracing::info!(%http_addr, %https_addr, %admin_addr, workers, "listening");

    let mut registry = Registry::with_prefix("strait");
    let proxy_metrics = ProxyMetrics::register(&mut registry);
    let controller_metrics = ControllerMetrics::register(&mut registry);
    let cluster_metrics = matches!(config.source, Source::Cluster(_))
        .then(|| ClusterMetrics::register(&mut registry));
    let registry = Arc::new(registry);

    let table: SharedTable = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let publisher = Publisher::new(table.clone(), config.compile.clone())
        .with_metrics(controller_metrics.clone());
    let readiness = Readiness::new();
    let (shutdown, signal) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let watch_config = WatchConfig::new(config.debounce);
    match opened {
        Opened::Manifests(dir) => {
            let (source, first) = ManifestSource::new(dir, controller_metrics)
                .scan_blocking(true)
                .await?;
            let (pipeline, _) = Pipeline::new(publisher, Kind::ALL)
                .readiness(readiness.clone())
                .apply_blocking(first.into_iter().collect())
                .await?;
            let (changes, received) = mpsc::channel(CHANGE_QUEUE);
            let done = stopped(signal.clone());
            let loop_config = watch_config.clone();
            tasks.spawn(async move {
                (
                    "compile loop",
                    pipeline.run(received, loop_config, done).await,
                )
            });
            let done = stopped(signal.clone());
            tasks.spawn(async move {
                let watched = crate::watch::watch(source, changes, watch_config, done).await;
                ("manifests watch", watched)
            });
        }
        Opened::Cluster(cluster, client) => {
            let metrics = cluster_metrics.unwrap_or_default();
            let parts = crate::cluster::Parts {
                config: cluster,
                compile: &config.compile,
                publisher,
                readiness: readiness.clone(),
                metrics,
                watch: watch_config,
            };
            crate::cluster::spawn_with(client, parts, &mut tasks, &signal);
        }
    }

    let mut proxy_config = config.proxy.clone();
    if proxy_config.https_redirect_port == 0 {
        proxy_config.https_redirect_port = https_addr.port();
    }
    let proxy = Proxy::builder(proxy_config, table.clone())
        .metrics(proxy_metrics)
        .access_log(config.access_log.clone())
        .build();
    let tls = tls_config(&table)?;
    let sockets = strait_proxy::workers::pair(http, https);
    let workers = strait_proxy::workers::start(&proxy, sockets, &tls, &signal)
        .context("starting the data-path workers")?;
    tasks.spawn(async move {
        let served = workers.wait().await;
        (
            "HTTP and HTTPS listeners",
            served.context("a listener failed"),
        )
    });
    let admin_done = stopped(signal.clone());
    let admin_state = Admin::new(readiness.clone())
        .metrics(Arc::clone(&registry))
        .log_control(config.log_control.clone());
    tasks.spawn(async move {
        let served = serve_admin(admin, admin_state, admin_done).await;
        ("admin listener", served.context("admin listener failed"))
    });
    Ok(Running {
        http_addr,
        https_addr,
        admin_addr,
        table,
        proxy,
        registry,
        readiness,
        shutdown,
        tasks,
    })
}

/// A source checked and ready to start: what the user pointed at exists.
enum Opened<'a> {
    Manifests(ManifestDir),
    Cluster(&'a ClusterConfig, kube::Client),
}

/// Opens the source: lists the manifests folder, or makes the Kubernetes client (from
/// `client` when given, else from the kubeconfig). Errors name the folder or the file once.
async fn open(source: &Source, client: Option<kube::Client>) -> anyhow::Result<Opened<'_>> {
    match source {
        Source::Manifests(folder) => {
            tracing::info!(manifests = %folder.display(), "serving from a manifests folder");
            // The error names the folder and the reason; no context that would repeat it.
            Ok(Opened::Manifests(ManifestDir::open(folder)?))
        }
        Source::Cluster(cluster) => {
            let client = match client {
                Some(client) => client,
                None => crate::cluster::connect(cluster).await?,
            };
            Ok(Opened::Cluster(cluster, client))
        }
    }
}

/// The HTTPS listener's TLS settings, with a self-signed fallback certificate generated now.
fn tls_config(table: &SharedTable) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let fallback = strait_proxy::tls::self_signed_certificate()?;
    strait_proxy::tls::server_config(table.clone(), fallback).context("building the TLS settings")
}

/// One listening socket per worker on `addr` (SO_REUSEPORT), and the address they got.
fn bind_group(
    addr: SocketAddr,
    workers: NonZeroUsize,
    what: &str,
) -> anyhow::Result<(Vec<std::net::TcpListener>, SocketAddr)> {
    let sockets = strait_proxy::workers::bind(addr, workers)
        .with_context(|| format!("binding the {what} listener on {addr}"))?;
    let bound = sockets[0]
        .local_addr()
        .with_context(|| format!("reading the address of the {what} listener"))?;
    Ok((sockets, bound))
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} listener on {addr}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("reading the address of the {what} listener"))?;
    Ok((listener, bound))
}

/// Resolves once shutdown is asked for. Never, if the [`Running`] handle is dropped instead:
/// dropping it does not stop the server.
pub(crate) async fn stopped(mut signal: watch::Receiver<bool>) {
    if signal.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The server's tasks: each ends with its name and how it went.
pub(crate) type Tasks = JoinSet<(&'static str, anyhow::Result<()>)>;

/// A finished task's name on success, else its error (a panic included) with context.
fn task_result(
    joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> anyhow::Result<&'static str> {
    match joined {
        Ok((name, Ok(()))) => Ok(name),
        Ok((_, Err(err))) => Err(err),
        Err(err) => Err(anyhow::Error::new(err).context("a server task panicked")),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn config(manifests: PathBuf) -> ServeConfig {
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        ServeConfig {
            source: Source::Manifests(manifests),
            http_addr: local,
            https_addr: local,
            admin_addr: local,
            compile: CompileConfig::default(),
            proxy: ProxyConfig::default(),
            debounce: Duration::from_millis(100),
            workers: 0,
            access_log: AccessLog::off(),
            log_control: None,
        }
    }

    #[tokio::test]
    async fn start_fails_with_a_clear_message_when_the_folder_is_missing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("missing");
        let err = start(config(missing.clone())).await.expect_err("no folder");
        let message = format!("{err:#}");
        assert!(message.contains("manifests folder"), "{message}");
        let path = missing.display().to_string();
        assert_eq!(message.matches(&path).count(), 1, "{message}");
        assert_eq!(message.matches("manifests folder").count(), 1, "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn start_publishes_before_returning_and_shutdown_stops_every_task() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\n\
                       metadata: {name: web, namespace: default}\n\
                       spec:\n  ingressClassName: strait\n  rules:\n  - host: a.example.com\n    \
                       http: {paths: [{path: /, pathType: Prefix, \
                       backend: {service: {name: web, port: {number: 80}}}}]}\n";
        std::fs::write(tmp.path().join("web.yaml"), ingress).expect("write");
        let running = start(config(tmp.path().to_owned())).await.expect("start");
        assert_eq!(running.table.load().generation, 1);
        assert!(running.readiness().is_ready());
        assert_ne!(running.http_addr.port(), 0);
        let http_addr = running.http_addr;
        let readiness = running.readiness().clone();
        tokio::time::timeout(Duration::from_secs(5), running.shutdown())
            .await
            .expect("shutdown within 5 s")
            .expect("clean shutdown");
        assert!(!readiness.is_ready());
        assert!(tokio::net::TcpStream::connect(http_addr).await.is_err());
    }

    /// A raw `GET path` with `Connection: close`; the whole answer.
    async fn raw_get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metrics_are_served_on_the_admin_listener() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let running = start(config(tmp.path().to_owned())).await.expect("start");
        let answer = raw_get(running.admin_addr, "/metrics").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // An empty folder still publishes a first (empty) table.
        assert!(answer.contains("\nstrait_table_generation 1\n"), "{answer}");
        assert!(answer.contains("strait_table_routes 0"), "{answer}");
        let encoded = crate::metrics::encode(running.registry());
        assert!(encoded.contains(r#"strait_publishes_total{result="published"} 1"#));
        let answer = raw_get(running.admin_addr, "/log/level").await;
        assert!(answer.starts_with("HTTP/1.1 501"), "{answer}");
        running.shutdown().await.expect("clean shutdown");
    }

    /// SIGTERM path: readiness fails at once, both listeners keep serving through the drain
    /// delay, then they close.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_the_signal_readiness_fails_at_once_and_serving_goes_on_for_the_drain() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let running = start(config(tmp.path().to_owned())).await.expect("start");
        let (http_addr, admin_addr) = (running.http_addr, running.admin_addr);
        let readiness = running.readiness().clone();
        let drain = Duration::from_millis(800);
        let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(running.run_until(
            async {
                let _ = signalled.await;
            },
            drain,
        ));
        assert!(
            raw_get(admin_addr, "/readyz")
                .await
                .starts_with("HTTP/1.1 200")
        );

        let signalled_at = std::time::Instant::now();
        signal.send(()).expect("still running");
        while readiness.is_ready() {
            assert!(
                signalled_at.elapsed() < Duration::from_millis(200),
                "still ready"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let answer = raw_get(admin_addr, "/readyz").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        let answer = raw_get(http_addr, "/").await;
        assert!(
            answer.starts_with("HTTP/1.1 404"),
            "still proxying: {answer}"
        );
        assert!(
            signalled_at.elapsed() < drain,
            "checks ran inside the drain"
        );

        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("stops after the drain")
            .expect("join")
            .expect("clean shutdown");
        assert!(signalled_at.elapsed() >= drain);
        assert!(tokio::net::TcpStream::connect(http_addr).await.is_err());
    }
}
