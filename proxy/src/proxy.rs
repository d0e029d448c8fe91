//! The [`Proxy`]: what every connection of every listener shares.

use std::sync::Arc;

use arc_swap::ArcSwap;
use strait_shared::RouteTable;

use http::HeaderValue;

use crate::access_log::AccessLog;
use crate::balancer::{Balancer, RoundRobin};
use crate::config::{Hsts, ProxyConfig, Scheme};
use crate::metrics::ProxyMetrics;
use crate::policy::limits::LimitState;
use crate::pool::Pool;
use crate::stats::FrontCounts;

/// The table handle shared by the publisher (writes) and every connection (reads).
pub type SharedTable = Arc<ArcSwap<RouteTable>>;

/// The proxy: configuration, the table handle, the balancer, the upstream pool, the metrics
/// and the access log.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) config: ProxyConfig,
    pub(crate) table: LocalTable,
    pub(crate) balancer: Arc<dyn Balancer>,
    pub(crate) pool: Pool,
    /// `Strict-Transport-Security` for HTTPS responses, rendered once from the config.
    pub(crate) hsts: Option<HeaderValue>,
    /// Data-path metrics (registered by the caller, or nowhere).
    pub(crate) metrics: ProxyMetrics,
    /// Where request lines go; off by default.
    pub(crate) access_log: AccessLog,
    /// One permit per open client connection, over every listener; `None`: no limit.
    pub(crate) connection_slots: Option<Arc<tokio::sync::Semaphore>>,
    /// The per-client state of the routes' rate and connection limits: shared by every
    /// worker, outside the table so that a new table resets nothing; a cache per worker.
    pub(crate) limits: LimitState,
}

/// Builds a [`Proxy`] with optional parts: balancer (default [`RoundRobin`]), metrics
/// (default: families registered nowhere), access log (default: off).
#[derive(Debug)]
pub struct ProxyBuilder {
    config: ProxyConfig,
    table: SharedTable,
    balancer: Box<dyn Balancer>,
    metrics: ProxyMetrics,
    access_log: AccessLog,
}

impl ProxyBuilder {
    /// Chooses endpoints with `balancer` instead of [`RoundRobin`].
    pub fn balancer(mut self, balancer: Box<dyn Balancer>) -> Self {
        self.balancer = balancer;
        self
    }

    /// Counts into `metrics` (see [`ProxyMetrics::register`]).
    pub fn metrics(mut self, metrics: ProxyMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Writes one line per request to `access_log`.
    pub fn access_log(mut self, access_log: AccessLog) -> Self {
        self.access_log = access_log;
        self
    }

    pub fn build(self) -> Arc<Proxy> {
        let pool = Pool::new(&self.config, self.metrics.upstream_connect(), None);
        let hsts = self.config.hsts.as_ref().map(Hsts::header_value);
        let max = self.config.max_client_connections;
        let connection_slots = (max > 0).then(|| {
            Arc::new(tokio::sync::Semaphore::new(
                max.min(tokio::sync::Semaphore::MAX_PERMITS),
            ))
        });
        Arc::new(Proxy {
            config: self.config,
            table: LocalTable::new(self.table),
            balancer: Arc::from(self.balancer),
            pool,
            hsts,
            metrics: self.metrics,
            access_log: self.access_log,
            connection_slots,
            limits: LimitState::new(),
        })
    }
}

impl Proxy {
    /// A proxy balancing with [`RoundRobin`], without metrics registration or access log.
    pub fn new(config: ProxyConfig, table: SharedTable) -> Arc<Self> {
        Self::builder(config, table).build()
    }

    /// Starts building a proxy.
    pub fn builder(config: ProxyConfig, table: SharedTable) -> ProxyBuilder {
        ProxyBuilder {
            config,
            table,
            balancer: Box::new(RoundRobin),
            metrics: ProxyMetrics::default(),
            access_log: AccessLog::off(),
        }
    }

    /// A proxy choosing endpoints with `balancer`.
    pub fn with_balancer(
        config: ProxyConfig,
        table: SharedTable,
        balancer: Box<dyn Balancer>,
    ) -> Arc<Self> {
        Self::builder(config, table).balancer(balancer).build()
    }

    /// The configuration the proxy was built with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The table handle the proxy reads (the publisher stores new tables into it).
    pub fn table(&self) -> &SharedTable {
        self.table.shared()
    }

    /// Front-door counts (PROXY headers refused, TLS handshakes) of the listeners of `scheme`.
    pub fn front_counts(&self, scheme: Scheme) -> FrontCounts {
        FrontCounts::of(self.metrics.listener(scheme))
    }

    /// A sibling for one worker thread: everything shared with this proxy (configuration,
    /// table, balancer, metrics, access log, client-connection cap, limit state) except the
    /// upstream pool, which is the worker's own (and the worker's caches of metric handles
    /// and limit zones).
    pub fn worker(&self, index: usize) -> Arc<Proxy> {
        Arc::new(Proxy {
            config: self.config.clone(),
            table: self.table.for_worker(),
            balancer: Arc::clone(&self.balancer),
            pool: Pool::new(&self.config, self.metrics.upstream_connect(), Some(index)),
            hsts: self.hsts.clone(),
            metrics: self.metrics.for_worker(),
            access_log: self.access_log.clone(),
            connection_slots: self.connection_slots.clone(),
            limits: self.limits.for_worker(),
        })
    }

    /// Checkouts from and returns to this proxy's upstream pool made by a thread other than
    /// its worker's (always 0 for a proxy that is no worker's).
    pub fn foreign_pool_uses(&self) -> u64 {
        self.pool.foreign_uses()
    }

    /// Idle upstream connections currently pooled, over every address.
    pub fn idle_upstream_connections(&self) -> usize {
        self.pool.idle_count()
    }
}

/// A worker's view of the shared table. Requests hold the table they started on through an
/// `Arc` this worker alone clones: the shared table's own reference count is touched once per
/// published table and worker, not once per request.
#[derive(Debug)]
pub(crate) struct LocalTable {
    shared: SharedTable,
    current: ArcSwap<WorkerTable>,
}

/// One worker's hold on one published table: requests clone the `Arc` around it (a count only
/// this worker writes), not the table's own.
#[derive(Debug)]
pub(crate) struct WorkerTable(Arc<RouteTable>);

impl std::ops::Deref for WorkerTable {
    type Target = RouteTable;

    fn deref(&self) -> &RouteTable {
        &self.0
    }
}

impl LocalTable {
    fn new(shared: SharedTable) -> Self {
        let current = ArcSwap::from_pointee(WorkerTable(shared.load_full()));
        Self { shared, current }
    }

    fn for_worker(&self) -> Self {
        Self::new(Arc::clone(&self.shared))
    }

    fn shared(&self) -> &SharedTable {
        &self.shared
    }

    /// The table published last: this worker's handle on it, refreshed when a newer one was
    /// published since the last call.
    pub(crate) fn current(&self) -> Arc<WorkerTable> {
        let latest = self.shared.load();
        let mine = self.current.load_full();
        if Arc::ptr_eq(&latest, &mine.0) {
            return mine;
        }
        let fresh = Arc::new(WorkerTable(arc_swap::Guard::into_inner(latest)));
        self.current.store(Arc::clone(&fresh));
        fresh
    }
}
