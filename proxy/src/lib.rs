//! Strait's data path: accept connections, route each request through the current
//! [`RouteTable`], pick an endpoint, forward over a pooled upstream connection, stream the
//! response back.
//!
//! The table is read with one `ArcSwap` load per request and never built here.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use strait_shared::RouteTable;
use tokio::net::TcpListener;

/// The table handle shared by the publisher (writes) and every connection (reads).
pub type SharedTable = Arc<ArcSwap<RouteTable>>;

/// Data-path settings, parsed once from flags.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Peers whose `X-Forwarded-*` headers are believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Upstream TCP connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Time allowed for the upstream to send response headers (default 60 s); then 504.
    pub response_header_timeout: Duration,
    /// An idle client keep-alive connection is closed after this (default 75 s).
    pub idle_timeout: Duration,
    /// Largest total size of a request's header block (default 64 KiB); over it: 431.
    pub max_header_bytes: usize,
    /// Largest number of request headers (default 200); over it: 431.
    pub max_headers: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 64 * 1024,
            max_headers: 200,
        }
    }
}

/// The proxy: configuration, the table handle and the upstream pool, shared by connections.
#[derive(Debug)]
pub struct Proxy {}

impl Proxy {
    pub fn new(config: ProxyConfig, table: SharedTable) -> Arc<Self> {
        let _ = (config, table);
        todo!("helper B")
    }
}

/// Serves plain HTTP (HTTP/1.1 and h2c prior knowledge) on `listener` until `shutdown`
/// resolves; then stops accepting, lets in-flight requests finish, and returns.
pub async fn serve_http(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = (listener, proxy, shutdown);
    let _: Option<SocketAddr> = None;
    todo!("helper B")
}
