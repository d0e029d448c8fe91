//! The [`Proxy`]: what every connection of every listener shares.

use std::sync::Arc;

use arc_swap::ArcSwap;
use strait_shared::RouteTable;

use crate::balancer::{Balancer, RoundRobin};
use http::HeaderValue;

use crate::config::{Hsts, ProxyConfig, Scheme};
use crate::pool::Pool;
use crate::stats::{FrontCounts, FrontStats};

/// The table handle shared by the publisher (writes) and every connection (reads).
pub type SharedTable = Arc<ArcSwap<RouteTable>>;

/// The proxy: configuration, the table handle, the balancer and the upstream pool.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) config: ProxyConfig,
    pub(crate) table: SharedTable,
    pub(crate) balancer: Box<dyn Balancer>,
    pub(crate) pool: Pool,
    pub(crate) front_stats: FrontStats,
    /// `Strict-Transport-Security` for HTTPS responses, rendered once from the config.
    pub(crate) hsts: Option<HeaderValue>,
}

impl Proxy {
    /// A proxy balancing with [`RoundRobin`].
    pub fn new(config: ProxyConfig, table: SharedTable) -> Arc<Self> {
        Self::with_balancer(config, table, Box::new(RoundRobin))
    }

    /// A proxy choosing endpoints with `balancer`.
    pub fn with_balancer(
        config: ProxyConfig,
        table: SharedTable,
        balancer: Box<dyn Balancer>,
    ) -> Arc<Self> {
        let pool = Pool::new(&config);
        let hsts = config.hsts.as_ref().map(Hsts::header_value);
        Arc::new(Self {
            config,
            table,
            balancer,
            pool,
            front_stats: FrontStats::default(),
            hsts,
        })
    }

    /// The configuration the proxy was built with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The table handle the proxy reads (the publisher stores new tables into it).
    pub fn table(&self) -> &SharedTable {
        &self.table
    }

    /// Front-door counts (PROXY headers refused, TLS handshakes) of the listeners of `scheme`.
    pub fn front_counts(&self, scheme: Scheme) -> FrontCounts {
        self.front_stats.counts(scheme)
    }

    /// Idle upstream connections currently pooled, over every address.
    pub fn idle_upstream_connections(&self) -> usize {
        self.pool.idle_count()
    }
}
