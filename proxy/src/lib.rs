//! Strait's data path: accept connections, route each request through the current
//! [`RouteTable`](strait_shared::RouteTable), pick an endpoint, forward over a pooled upstream
//! connection, stream the response back.
//!
//! The table is read with one `ArcSwap` load per request and never built here.
//!
//! - [`serve_http`] and [`serve_https`] run a listener: accept loop, the front door (PROXY
//!   protocol header, TLS with the certificate chosen by SNI from the table — [`tls`]), then a
//!   per-connection hyper server (HTTP/1.1, h2c, h2 over TLS), idle keep-alive timeout,
//!   graceful drain on shutdown.
//! - [`workers`] runs the data path on per-core workers: one single-threaded runtime per CPU,
//!   each with its own `SO_REUSEPORT` sockets, its own [`Proxy`] sibling (upstream pool,
//!   metric-handle cache, table handle); a request and its upstream connection never leave
//!   the worker's thread.
//! - [`Proxy`] is what connections share: [`ProxyConfig`], the [`SharedTable`], a
//!   [`Balancer`] and the upstream connection pool.
//! - A request: host from `:authority`/absolute-form or `Host`, table lookup, backend state (503
//!   with the reason when unavailable), hop-by-hop headers stripped, forwarding headers rebuilt
//!   (docs/architecture.md, "Client IP"), upstream HTTP/1.1 over a keep-alive pool, a failed
//!   attempt passed to the next endpoint as `proxy-next-upstream` says — the upstream
//!   connection driven in the request's own task, back in the pool when the response body
//!   ends — the response streamed back; `Upgrade` handshakes become tunnels.
//! - Failures are [`ProxyError`]s, each with a [`Fault`] and a status, turned into a short
//!   plain-text response in one place.
//! - Each request is recorded once, when its response body is done: [`metrics`] (Prometheus
//!   families registered in the caller's registry) and the JSON [`access_log`], written off
//!   the request path.
#![forbid(unsafe_code)]

pub mod access_log;
mod activity;
mod balancer;
mod body;
mod config;
mod connection;
mod drain;
mod error;
mod error_pages;
mod exchange;
mod forwarding;
mod front;
#[cfg(test)]
mod fuzz;
mod grpc;
mod headers;
mod listener;
pub mod metrics;
mod policy;
mod pool;
mod proxy;
mod proxy_protocol;
mod redirect;
mod request_id;
mod service;
mod stats;
pub mod tls;
mod upgrade;
mod upstream;
pub mod validate;
pub mod workers;

pub use access_log::AccessLog;
pub use balancer::{BalanceConfig, Balancer, OutlierConfig, RoundRobin, Tried};
pub use config::{
    HYPER_MAX_HEADERS, Hsts, ListenerInfo, ProxyConfig, ProxyProtocol, RetryDefaults, Scheme,
};
pub use error::{Fault, LimitKind, ProxyError};
pub use listener::{serve_http, serve_https};
pub use metrics::ProxyMetrics;
pub use proxy::{Proxy, ProxyBuilder, SharedTable};
pub use stats::FrontCounts;
