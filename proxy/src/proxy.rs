//! The [`Proxy`]: what every connection of every listener shares.

use std::sync::Arc;

use arc_swap::ArcSwap;
use strait_shared::RouteTable;

use crate::balancer::{Balancer, RoundRobin};
use crate::config::ProxyConfig;
use crate::pool::Pool;

/// The table handle shared by the publisher (writes) and every connection (reads).
pub type SharedTable = Arc<ArcSwap<RouteTable>>;

/// The proxy: configuration, the table handle, the balancer and the upstream pool.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) config: ProxyConfig,
    pub(crate) table: SharedTable,
    pub(crate) balancer: Box<dyn Balancer>,
    pub(crate) pool: Pool,
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
        Arc::new(Self {
            config,
            table,
            balancer,
            pool,
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

    /// Idle upstream connections currently pooled, over every address.
    pub fn idle_upstream_connections(&self) -> usize {
        self.pool.idle_count()
    }
}
