//! The state the request's stages share: the [`Proxy`], what every connection of a worker
//! shares (configuration, table, balancer, upstream pool, limit zones, metrics, access log),
//! and the [`ConnCtx`], what every request of one client connection shares. Defined below the
//! stages that read them (docs/architecture.md, "The proxy crate's layers"), so that the
//! stages name these types, not each other.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderValue;

use crate::access_log::AccessLog;
use crate::activity::Activity;
use crate::balancer::{Balancer, RoundRobin};
use crate::config::{Hsts, ListenerInfo, ProxyConfig, Scheme};
use crate::drain::Signal;
use crate::forwarding::ConnValues;
use crate::metrics::ProxyMetrics;
use crate::pool::Pool;
use crate::stats::FrontCounts;
use crate::table::{LocalTable, SharedTable};
use crate::tls::TlsFacts;
use crate::zones::LimitState;

/// What every request of one client connection shares (built by `connection::serve`).
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub proxy: Arc<Proxy>,
    pub peer: SocketAddr,
    pub listener: ListenerInfo,
    /// What the TLS handshake settled; `None` on plain HTTP.
    pub tls: Option<TlsFacts>,
    pub activity: Arc<Activity>,
    pub drain: Signal,
    /// The forwarding header values of this connection's peer and listener.
    pub forwarded: ConnValues,
}

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
